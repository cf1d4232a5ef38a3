//! The append-only audit log: who did what to which message when, with the draft text, the
//! final text and the difference between them. The stores refuse updates and deletes of
//! audit rows at the database level (triggers in the migrations).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use similar::{ChangeTag, TextDiff};

use crate::state::Status;

/// What happened, one per workflow verb.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    Received,
    DraftingStarted,
    DraftsReady,
    DraftingFailed,
    /// A drafting worker gave the message back unfinished.
    Requeued,
    Proposed,
    Approved,
    Rejected,
    Escalated,
    ReturnedToReview,
    Redrafted,
    Delivered,
    MarkedPosted,
    DeliveryFailed,
}

impl AuditAction {
    pub const ALL: [AuditAction; 14] = [
        AuditAction::Received,
        AuditAction::DraftingStarted,
        AuditAction::DraftsReady,
        AuditAction::DraftingFailed,
        AuditAction::Requeued,
        AuditAction::Proposed,
        AuditAction::Approved,
        AuditAction::Rejected,
        AuditAction::Escalated,
        AuditAction::ReturnedToReview,
        AuditAction::Redrafted,
        AuditAction::Delivered,
        AuditAction::MarkedPosted,
        AuditAction::DeliveryFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Received => "received",
            AuditAction::DraftingStarted => "drafting_started",
            AuditAction::DraftsReady => "drafts_ready",
            AuditAction::DraftingFailed => "drafting_failed",
            AuditAction::Requeued => "requeued",
            AuditAction::Proposed => "proposed",
            AuditAction::Approved => "approved",
            AuditAction::Rejected => "rejected",
            AuditAction::Escalated => "escalated",
            AuditAction::ReturnedToReview => "returned_to_review",
            AuditAction::Redrafted => "redrafted",
            AuditAction::Delivered => "delivered",
            AuditAction::MarkedPosted => "marked_posted",
            AuditAction::DeliveryFailed => "delivery_failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == text)
    }
}

/// An audit entry before it is stored (the store assigns `seq` and keeps `at`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEntry {
    pub actor: String,
    pub action: AuditAction,
    pub from: Option<Status>,
    pub to: Status,
    pub at: DateTime<Utc>,
    /// The draft candidate's text, when the action concerns one.
    pub draft_text: Option<String>,
    /// The text approved, proposed or sent.
    pub final_text: Option<String>,
    /// A reason, an error, an override: free text for the reader.
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Increases with every entry across the whole log.
    pub seq: i64,
    pub message_id: String,
    pub brand: String,
    pub actor: String,
    pub action: AuditAction,
    pub from: Option<Status>,
    pub to: Status,
    pub at: DateTime<Utc>,
    pub draft_text: Option<String>,
    pub final_text: Option<String>,
    /// Word diff (see [`word_diff`]) from `draft_text` to `final_text`, when both exist and differ.
    pub diff: Option<String>,
    pub note: Option<String>,
}

/// A word-level diff a reviewer can read: unchanged words as they are, removed ones as
/// `[-word-]`, added ones as `{+word+}`. `None` when the texts are equal.
pub fn word_diff(draft: &str, final_text: &str) -> Option<String> {
    if draft == final_text {
        return None;
    }
    let diff = TextDiff::from_words(draft, final_text);
    let mut out = String::new();
    // Consecutive changes of one kind are marked as one run: `{+so much +}`, not word by word.
    let mut run: Option<(ChangeTag, String)> = None;
    for change in diff.iter_all_changes() {
        match &mut run {
            Some((tag, text)) if *tag == change.tag() => text.push_str(change.value()),
            _ => {
                if let Some((tag, text)) = run.take() {
                    push_run(&mut out, tag, &text);
                }
                run = Some((change.tag(), change.value().to_owned()));
            }
        }
    }
    if let Some((tag, text)) = run {
        push_run(&mut out, tag, &text);
    }
    Some(out)
}

fn push_run(out: &mut String, tag: ChangeTag, text: &str) {
    let (open, close) = match tag {
        ChangeTag::Equal => ("", ""),
        ChangeTag::Delete => ("[-", "-]"),
        ChangeTag::Insert => ("{+", "+}"),
    };
    out.push_str(open);
    out.push_str(text);
    out.push_str(close);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_diff_marks_removed_and_added_words() {
        assert_eq!(
            word_diff("Thanks for waiting", "Thanks so much for waiting").as_deref(),
            Some("Thanks {+so much +}for waiting")
        );
        assert_eq!(
            word_diff("Sorry about that", "Sorry").as_deref(),
            Some("Sorry[- about that-]")
        );
        assert_eq!(word_diff("same", "same"), None);
    }

    #[test]
    fn actions_round_trip_through_their_names() {
        for action in AuditAction::ALL {
            assert_eq!(AuditAction::parse(action.as_str()), Some(action));
        }
    }
}
