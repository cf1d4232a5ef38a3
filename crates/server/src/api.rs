//! The JSON shapes of the API (see `CONTRACT.md`), as the OpenAPI document describes them,
//! and their conversion from the workflow's records.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tact_workflow::{
    ApiToken, AuditEntry, BrandPolicy, BrandScope, Candidate, ConnectorKind, MessageRecord,
    MessageState, OutboxEntry, Review, TriageSummary, Violation,
};
use utoipa::ToSchema;

/// A message's triage, as drafting produced it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TriageView {
    pub sentiment: String,
    pub intent: String,
    pub urgency: String,
    pub language: String,
    /// Insults, profanity at people or threats.
    pub toxic: bool,
    /// Escalation topics found; non-empty means the message went to a person undrafted.
    pub escalation: Vec<String>,
}

/// The labels as their snake_case keys: the wire keeps plain strings.
impl From<&TriageSummary> for TriageView {
    fn from(t: &TriageSummary) -> Self {
        let key = |value: serde_json::Result<serde_json::Value>| {
            value
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        };
        Self {
            sentiment: key(serde_json::to_value(t.sentiment)),
            intent: key(serde_json::to_value(t.intent)),
            urgency: key(serde_json::to_value(t.urgency)),
            language: t.language.clone(),
            toxic: t.toxic,
            escalation: t.escalation.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MessageSummary {
    pub id: String,
    pub brand: String,
    pub channel: String,
    pub author: String,
    pub text: String,
    /// `received|drafting|awaiting_review|approved|sent|rejected|escalated|failed`
    pub status: String,
    /// Send it back with every review action (optimistic concurrency).
    pub version: i64,
    pub received_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub triage: Option<TriageView>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MessageList {
    pub messages: Vec<MessageSummary>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CitationView {
    pub id: String,
    /// `guideline` or `reply`.
    pub kind: String,
    pub similarity: f32,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ViolationView {
    pub rule: String,
    /// `warn` or `block`.
    pub severity: String,
    pub clause: String,
    pub message: String,
    pub excerpt: String,
    /// Byte offsets of `excerpt` in the checked text, when it occurs there.
    pub start: Option<usize>,
    pub end: Option<usize>,
}

impl ViolationView {
    pub fn new(violation: &Violation, text: &str) -> Self {
        // A check may report a term as its rule lists it ("unfortunately") where the text
        // has "Unfortunately": locate it regardless of case and show the text's own words.
        let span = (!violation.excerpt.is_empty())
            .then(|| locate(text, &violation.excerpt))
            .flatten();
        Self {
            rule: violation.rule.clone(),
            severity: violation.severity.key().to_owned(),
            clause: violation.clause.clone(),
            message: violation.message.clone(),
            excerpt: span.map_or_else(|| violation.excerpt.clone(), |(s, e)| text[s..e].to_owned()),
            start: span.map(|(s, _)| s),
            end: span.map(|(_, e)| e),
        }
    }
}

/// Byte span of the first occurrence of `needle` in `text`: exact, else ignoring case.
fn locate(text: &str, needle: &str) -> Option<(usize, usize)> {
    if let Some(start) = text.find(needle) {
        return Some((start, start + needle.len()));
    }
    text.char_indices().find_map(|(start, _)| {
        let rest = &text[start..];
        let mut chars = rest.char_indices();
        for wanted in needle.chars() {
            let (_, got) = chars.next()?;
            if !got.to_lowercase().eq(wanted.to_lowercase()) {
                return None;
            }
        }
        let len = chars.next().map_or(rest.len(), |(end, _)| end);
        Some((start, start + len))
    })
}

#[cfg(test)]
mod locate_tests {
    use super::locate;

    #[test]
    fn finds_excerpts_exactly_first_then_ignoring_case() {
        let text = "Unfortunately, unfortunately the café is closed.";
        assert_eq!(locate(text, "unfortunately"), Some((15, 28)));
        assert_eq!(
            locate("Unfortunately it broke", "unfortunately"),
            Some((0, 13))
        );
        assert_eq!(locate(text, "CAFÉ"), Some((33, 38)));
        assert_eq!(&text[33..38], "café");
        assert_eq!(locate(text, "open"), None);
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScoreView {
    pub total: f32,
    /// `checks`, `relevance`, `closeness`.
    pub parts: BTreeMap<String, f32>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CandidateView {
    pub index: usize,
    pub text: String,
    /// `generated` or `adapted_past_reply`.
    pub origin: String,
    pub citations: Vec<CitationView>,
    pub violations: Vec<ViolationView>,
    pub score: ScoreView,
}

/// The `index`-th candidate of a message: the stored candidate with its violations located
/// in its text and its score parts by name.
impl From<(usize, &Candidate)> for CandidateView {
    fn from((index, candidate): (usize, &Candidate)) -> Self {
        let score = &candidate.score;
        let parts: BTreeMap<String, f32> = [
            ("checks", score.checks),
            ("relevance", score.relevance),
            ("closeness", score.closeness),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
        Self {
            index,
            text: candidate.text.clone(),
            origin: candidate.origin.key().to_owned(),
            citations: candidate
                .citations
                .iter()
                .map(|(kind, c)| CitationView {
                    id: c.id.clone(),
                    kind: kind.key().to_owned(),
                    similarity: c.similarity,
                })
                .collect(),
            violations: candidate
                .violations
                .iter()
                .map(|v| ViolationView::new(v, &candidate.text))
                .collect(),
            score: ScoreView {
                total: score.total,
                parts,
            },
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReviewView {
    pub reviewer: String,
    /// `edit|approve|reject|escalate`
    pub verdict: String,
    pub message_version: i64,
    pub text: Option<String>,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

impl From<Review> for ReviewView {
    fn from(r: Review) -> Self {
        Self {
            reviewer: r.reviewer,
            verdict: r.verdict.as_str().to_owned(),
            message_version: r.message_version,
            text: r.text,
            reason: r.reason,
            at: r.at,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryView {
    /// `webhook` or `manual`.
    pub connector: String,
    /// `pending|in_flight|awaiting_manual|delivered|dead`
    pub status: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
}

impl From<OutboxEntry> for DeliveryView {
    fn from(e: OutboxEntry) -> Self {
        Self {
            connector: e.connector.as_str().to_owned(),
            status: e.status.as_str().to_owned(),
            attempts: e.attempts,
            last_error: e.last_error,
            delivered_at: e.delivered_at,
        }
    }
}

/// The text up for approval and who approved it so far.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProposalView {
    pub text: String,
    pub candidate: usize,
    pub edited_by: Option<String>,
    pub approved_by: Vec<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MessageDetail {
    #[serde(flatten)]
    pub summary: MessageSummary,
    pub candidates: Vec<CandidateView>,
    pub reviews: Vec<ReviewView>,
    /// Approvals the brand's policy requires now.
    pub approvals_needed: u32,
    pub proposal: Option<ProposalView>,
    /// The approved (or sent) text.
    pub final_text: Option<String>,
    /// Why the message was rejected, escalated or failed.
    pub reason: Option<String>,
    pub delivery: Option<DeliveryView>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditEntryView {
    pub seq: i64,
    pub message_id: String,
    pub brand: String,
    pub actor: String,
    pub action: String,
    pub from: Option<String>,
    pub to: String,
    pub at: DateTime<Utc>,
    pub draft_text: Option<String>,
    pub final_text: Option<String>,
    /// Word diff from `draft_text` to `final_text`: `[-removed-]`, `{+added+}`.
    pub diff: Option<String>,
    pub note: Option<String>,
}

impl From<AuditEntry> for AuditEntryView {
    fn from(e: AuditEntry) -> Self {
        Self {
            seq: e.seq,
            message_id: e.message_id,
            brand: e.brand,
            actor: e.actor,
            action: e.action.as_str().to_owned(),
            from: e.from.map(|s| s.as_str().to_owned()),
            to: e.to.as_str().to_owned(),
            at: e.at,
            draft_text: e.draft_text,
            final_text: e.final_text,
            diff: e.diff,
            note: e.note,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditList {
    pub entries: Vec<AuditEntryView>,
}

/// One inbound message (fields beyond these are kept).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InboundMessageBody {
    pub id: String,
    pub brand: String,
    pub channel: String,
    pub author: String,
    pub text: String,
    /// RFC 3339.
    pub created_at: String,
}

/// One message, or `{"messages": [...]}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum SubmitRequest {
    Batch { messages: Vec<InboundMessageBody> },
    One(InboundMessageBody),
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveRequest {
    pub version: i64,
    /// Index of the candidate approved (or edited). Default 0.
    #[serde(default)]
    pub candidate: usize,
    /// The reviewer's edit of the candidate; the guideline checks run again on it.
    pub text: Option<String>,
    /// Needed when the text has block-severity violations.
    pub override_reason: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposeRequest {
    pub version: i64,
    /// Index of the candidate proposed (or edited). Default 0.
    #[serde(default)]
    pub candidate: usize,
    /// The agent's edit of the candidate; the guideline checks run again on it.
    pub text: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonRequest {
    pub version: i64,
    pub reason: String,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VersionRequest {
    pub version: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DraftContext {
    pub url: Option<String>,
    pub title: Option<String>,
}

/// An ad-hoc draft request (the browser extension).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DraftRequest {
    pub brand: String,
    pub channel: String,
    pub text: String,
    pub author: Option<String>,
    pub context: Option<DraftContext>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    pub brand: String,
    pub channel: String,
    pub text: String,
    /// The message the text answers (the review page's editor): the text is checked as a
    /// reply to it, its grounding against the sources a draft of it is written from.
    #[serde(default)]
    pub message_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CheckResponse {
    pub violations: Vec<ViolationView>,
    pub blocks: u32,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChannelView {
    pub id: String,
    pub label: String,
    pub max_chars: usize,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BrandView {
    pub id: String,
    pub name: String,
    pub default_channel: String,
    pub channels: Vec<ChannelView>,
    pub crisis_mode: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BrandList {
    pub brands: Vec<BrandView>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BrandDetail {
    #[serde(flatten)]
    pub brand: BrandView,
    pub policy: PolicyView,
    /// Guideline documents, by file name.
    pub guidelines: Vec<String>,
}

/// A brand's approval policy.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyView {
    /// Distinct approvals a reply needs in normal times (at least 1).
    pub approvals: u32,
    /// Distinct approvals while the brand is in crisis mode.
    pub crisis_approvals: u32,
    pub crisis_mode: bool,
    pub author_may_approve_own_edit: bool,
    /// `webhook` or `manual`.
    pub delivery: String,
}

impl From<BrandPolicy> for PolicyView {
    fn from(p: BrandPolicy) -> Self {
        Self {
            approvals: p.approvals,
            crisis_approvals: p.crisis_approvals,
            crisis_mode: p.crisis_mode,
            author_may_approve_own_edit: p.author_may_approve_own_edit,
            delivery: p.delivery.as_str().to_owned(),
        }
    }
}

impl PolicyView {
    pub fn into_policy(self) -> Result<BrandPolicy, String> {
        let delivery = ConnectorKind::parse(&self.delivery).ok_or_else(|| {
            format!(
                "invalid field `delivery`: expected `webhook` or `manual`, got {:?}",
                self.delivery
            )
        })?;
        Ok(BrandPolicy {
            approvals: self.approvals,
            crisis_approvals: self.crisis_approvals,
            crisis_mode: self.crisis_mode,
            author_may_approve_own_edit: self.author_may_approve_own_edit,
            delivery,
        })
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ClauseView {
    pub id: String,
    pub text: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GuidelineDocumentView {
    pub document: String,
    pub clauses: Vec<ClauseView>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GuidelinesView {
    pub documents: Vec<GuidelineDocumentView>,
}

/// Replaces one guideline document (one of the files `brand.toml` lists).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GuidelinesUpdate {
    pub document: String,
    pub markdown: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CrisisView {
    /// Whether the brand is in crisis mode (its policy).
    pub active: bool,
    /// Spikes of complaints found in the brand's recent messages.
    #[schema(value_type = Vec<Object>)]
    pub summaries: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TokenView {
    pub id: String,
    pub label: String,
    /// `agent`, `approver` or `admin`.
    pub role: String,
    /// Brand ids, or `["*"]` for all.
    pub brands: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

pub fn scope_list(scope: &BrandScope) -> Vec<String> {
    match scope {
        BrandScope::All => vec!["*".to_owned()],
        BrandScope::Only(brands) => brands.clone(),
    }
}

impl From<ApiToken> for TokenView {
    fn from(t: ApiToken) -> Self {
        Self {
            brands: scope_list(&t.brands),
            id: t.id,
            label: t.label,
            role: t.role.as_str().to_owned(),
            created_at: t.created_at,
            revoked_at: t.revoked_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TokenList {
    pub tokens: Vec<TokenView>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    pub role: String,
    /// Brand ids, or `["*"]` for all.
    pub brands: Vec<String>,
    pub label: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IssuedTokenView {
    pub token: TokenView,
    /// Shown once; only its hash is stored.
    pub secret: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MeView {
    pub token_id: String,
    pub label: String,
    pub role: String,
    pub brands: Vec<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Health {
    pub status: String,
}

/// `{"candidate": i, "text": "..."}`: a piece of a candidate being generated (SSE `delta`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeltaEvent {
    pub candidate: usize,
    pub text: String,
}

/// The summary of a stored message, with triage when drafting produced it.
pub fn summary(record: &MessageRecord, triage: Option<TriageView>) -> MessageSummary {
    MessageSummary {
        id: record.inbound.id.clone(),
        brand: record.inbound.brand.clone(),
        channel: record.inbound.channel.clone(),
        author: record.inbound.author.clone(),
        text: record.inbound.text.clone(),
        status: record.state.status().as_str().to_owned(),
        version: record.version,
        received_at: record.received_at,
        updated_at: record.updated_at,
        triage,
    }
}

/// The proposal under review, the approved text and the reason of an end state.
pub fn state_parts(state: &MessageState) -> (Option<ProposalView>, Option<String>, Option<String>) {
    let proposal = |p: &tact_workflow::state::Proposal,
                    approvals: &[tact_workflow::state::Approval]| {
        ProposalView {
            text: p.text.clone(),
            candidate: p.candidate,
            edited_by: p.edited_by.clone(),
            approved_by: approvals.iter().map(|a| a.reviewer.clone()).collect(),
        }
    };
    match state {
        MessageState::AwaitingReview(round) => (
            round
                .proposal
                .as_ref()
                .map(|p| proposal(p, &round.approvals)),
            None,
            None,
        ),
        MessageState::Approved(reply) | MessageState::Sent(reply) => (
            Some(proposal(&reply.proposal, &reply.approvals)),
            Some(reply.proposal.text.clone()),
            None,
        ),
        MessageState::Rejected { reason, .. }
        | MessageState::Escalated { reason, .. }
        | MessageState::Failed { reason } => (None, None, Some(reason.clone())),
        MessageState::Received | MessageState::Drafting => (None, None, None),
    }
}
