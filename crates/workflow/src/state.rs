//! The life of one inbound message as a state machine, and the pure [`transition`] function
//! that is the only way to move it. Every rule about approvals lives here, so the property test
//! below covers every path to the outbox.

use serde::{Deserialize, Serialize};

use crate::policy::{BrandPolicy, ConnectorKind};

/// Where a message is. `Approved` means "in the outbox"; `Sent` means delivered or posted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum MessageState {
    Received,
    Drafting,
    AwaitingReview(ReviewRound),
    Approved(ApprovedReply),
    Sent(ApprovedReply),
    Rejected { by: String, reason: String },
    Escalated { by: String, reason: String },
    Failed { reason: String },
}

/// The state's name alone, for filtering and for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Received,
    Drafting,
    AwaitingReview,
    Approved,
    Sent,
    Rejected,
    Escalated,
    Failed,
}

impl Status {
    pub const ALL: [Status; 8] = [
        Status::Received,
        Status::Drafting,
        Status::AwaitingReview,
        Status::Approved,
        Status::Sent,
        Status::Rejected,
        Status::Escalated,
        Status::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Received => "received",
            Status::Drafting => "drafting",
            Status::AwaitingReview => "awaiting_review",
            Status::Approved => "approved",
            Status::Sent => "sent",
            Status::Rejected => "rejected",
            Status::Escalated => "escalated",
            Status::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl MessageState {
    pub fn status(&self) -> Status {
        match self {
            MessageState::Received => Status::Received,
            MessageState::Drafting => Status::Drafting,
            MessageState::AwaitingReview(_) => Status::AwaitingReview,
            MessageState::Approved(_) => Status::Approved,
            MessageState::Sent(_) => Status::Sent,
            MessageState::Rejected { .. } => Status::Rejected,
            MessageState::Escalated { .. } => Status::Escalated,
            MessageState::Failed { .. } => Status::Failed,
        }
    }
}

/// The reply text under review and who has approved exactly this text so far.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewRound {
    pub proposal: Option<Proposal>,
    pub approvals: Vec<Approval>,
}

/// A reply text put up for approval: a draft candidate as generated, or a person's edit of one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    pub text: String,
    /// Index into the message's draft candidates this text is, or was edited from.
    pub candidate: usize,
    /// Who edited the candidate; `None` when it is the candidate as generated.
    pub edited_by: Option<String>,
    /// Block-severity guideline violations in `text`.
    pub block_violations: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub reviewer: String,
    /// Why the reviewer approves despite block-severity violations.
    pub override_reason: Option<String>,
}

/// A reply with all the approvals it needed, and how it is to be delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovedReply {
    pub proposal: Proposal,
    pub approvals: Vec<Approval>,
    pub connector: ConnectorKind,
}

/// Something that happens to a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    StartDrafting,
    DraftsReady,
    DraftingFailed {
        reason: String,
    },
    /// A drafting worker gives the message back unfinished (it is shutting down, or its engine
    /// is full): the message waits for drafting again.
    Requeue,
    /// Put a text up for approval; a different text than before voids earlier approvals.
    Propose(Proposal),
    Approve {
        reviewer: String,
        override_reason: Option<String>,
    },
    Reject {
        reviewer: String,
        reason: String,
    },
    Escalate {
        actor: String,
        reason: String,
    },
    /// An escalated message goes back to the review queue.
    ReturnToReview,
    /// Throw away the drafts and generate again.
    Redraft,
    /// The webhook receiver accepted the reply.
    Delivered,
    /// A person posted the reply themselves.
    MarkedPosted {
        actor: String,
    },
    /// Delivery gave up (dead letter).
    DeliveryFailed {
        reason: String,
    },
}

impl Event {
    pub fn name(&self) -> &'static str {
        match self {
            Event::StartDrafting => "start_drafting",
            Event::DraftsReady => "drafts_ready",
            Event::DraftingFailed { .. } => "drafting_failed",
            Event::Requeue => "requeue",
            Event::Propose(_) => "propose",
            Event::Approve { .. } => "approve",
            Event::Reject { .. } => "reject",
            Event::Escalate { .. } => "escalate",
            Event::ReturnToReview => "return_to_review",
            Event::Redraft => "redraft",
            Event::Delivered => "delivered",
            Event::MarkedPosted { .. } => "marked_posted",
            Event::DeliveryFailed { .. } => "delivery_failed",
        }
    }
}

/// Why an event does not apply to a state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("cannot {event} a message that is {status}")]
    NotAllowed { status: Status, event: &'static str },
    #[error("nothing has been proposed for approval yet")]
    NothingProposed,
    #[error("{0} has already approved this text")]
    AlreadyApproved(String),
    #[error(
        "{0} edited this text and the brand's policy does not let an editor approve their own edit"
    )]
    OwnEdit(String),
    #[error("the text has {0} block-severity violation(s): approving it needs an override reason")]
    OverrideReasonRequired(u32),
    #[error("{0} must not be empty")]
    Empty(&'static str),
    #[error("this reply is delivered by the {0} connector, not the {1} one")]
    WrongConnector(&'static str, &'static str),
}

/// The next state of a message in `state` after `event`, under `policy` as it is now.
pub fn transition(
    state: &MessageState,
    event: &Event,
    policy: &BrandPolicy,
) -> Result<MessageState, TransitionError> {
    use MessageState as S;
    let not_allowed = || TransitionError::NotAllowed {
        status: state.status(),
        event: event.name(),
    };
    match event {
        Event::StartDrafting => match state {
            S::Received => Ok(S::Drafting),
            S::Drafting
            | S::AwaitingReview(_)
            | S::Approved(_)
            | S::Sent(_)
            | S::Rejected { .. }
            | S::Escalated { .. }
            | S::Failed { .. } => Err(not_allowed()),
        },
        Event::DraftsReady => match state {
            S::Drafting => Ok(S::AwaitingReview(ReviewRound::default())),
            S::Received
            | S::AwaitingReview(_)
            | S::Approved(_)
            | S::Sent(_)
            | S::Rejected { .. }
            | S::Escalated { .. }
            | S::Failed { .. } => Err(not_allowed()),
        },
        Event::DraftingFailed { reason } => match state {
            S::Drafting => Ok(S::Failed {
                reason: non_empty(reason, "reason")?,
            }),
            S::Received
            | S::AwaitingReview(_)
            | S::Approved(_)
            | S::Sent(_)
            | S::Rejected { .. }
            | S::Escalated { .. }
            | S::Failed { .. } => Err(not_allowed()),
        },
        Event::Requeue => match state {
            S::Drafting => Ok(S::Received),
            S::Received
            | S::AwaitingReview(_)
            | S::Approved(_)
            | S::Sent(_)
            | S::Rejected { .. }
            | S::Escalated { .. }
            | S::Failed { .. } => Err(not_allowed()),
        },
        Event::Propose(proposal) => match state {
            S::AwaitingReview(round) => {
                non_empty(&proposal.text, "text")?;
                if let Some(edited_by) = &proposal.edited_by {
                    non_empty(edited_by, "editor")?;
                }
                if round.proposal.as_ref().map(|p| &p.text) == Some(&proposal.text) {
                    // Same words: approvals given so far still stand, and whoever "edited" it to
                    // the same text did not author anything new.
                    return Ok(state.clone());
                }
                Ok(S::AwaitingReview(ReviewRound {
                    proposal: Some(proposal.clone()),
                    approvals: Vec::new(),
                }))
            }
            S::Received
            | S::Drafting
            | S::Approved(_)
            | S::Sent(_)
            | S::Rejected { .. }
            | S::Escalated { .. }
            | S::Failed { .. } => Err(not_allowed()),
        },
        Event::Approve {
            reviewer,
            override_reason,
        } => match state {
            S::AwaitingReview(round) => approve(round, reviewer, override_reason, policy),
            S::Received
            | S::Drafting
            | S::Approved(_)
            | S::Sent(_)
            | S::Rejected { .. }
            | S::Escalated { .. }
            | S::Failed { .. } => Err(not_allowed()),
        },
        Event::Reject { reviewer, reason } => match state {
            S::AwaitingReview(_) => Ok(S::Rejected {
                by: non_empty(reviewer, "reviewer")?,
                reason: non_empty(reason, "reason")?,
            }),
            S::Received
            | S::Drafting
            | S::Approved(_)
            | S::Sent(_)
            | S::Rejected { .. }
            | S::Escalated { .. }
            | S::Failed { .. } => Err(not_allowed()),
        },
        Event::Escalate { actor, reason } => match state {
            S::Received | S::Drafting | S::AwaitingReview(_) | S::Failed { .. } => {
                Ok(S::Escalated {
                    by: non_empty(actor, "actor")?,
                    reason: non_empty(reason, "reason")?,
                })
            }
            S::Approved(_) | S::Sent(_) | S::Rejected { .. } | S::Escalated { .. } => {
                Err(not_allowed())
            }
        },
        Event::ReturnToReview => match state {
            S::Escalated { .. } => Ok(S::AwaitingReview(ReviewRound::default())),
            S::Received
            | S::Drafting
            | S::AwaitingReview(_)
            | S::Approved(_)
            | S::Sent(_)
            | S::Rejected { .. }
            | S::Failed { .. } => Err(not_allowed()),
        },
        Event::Redraft => match state {
            S::AwaitingReview(_) | S::Escalated { .. } | S::Failed { .. } => Ok(S::Drafting),
            S::Received | S::Drafting | S::Approved(_) | S::Sent(_) | S::Rejected { .. } => {
                Err(not_allowed())
            }
        },
        Event::Delivered => match state {
            S::Approved(reply) => match reply.connector {
                ConnectorKind::Webhook => Ok(S::Sent(reply.clone())),
                ConnectorKind::Manual => Err(TransitionError::WrongConnector(
                    ConnectorKind::Manual.as_str(),
                    ConnectorKind::Webhook.as_str(),
                )),
            },
            S::Received
            | S::Drafting
            | S::AwaitingReview(_)
            | S::Sent(_)
            | S::Rejected { .. }
            | S::Escalated { .. }
            | S::Failed { .. } => Err(not_allowed()),
        },
        Event::MarkedPosted { actor } => match state {
            S::Approved(reply) => {
                non_empty(actor, "actor")?;
                match reply.connector {
                    ConnectorKind::Manual => Ok(S::Sent(reply.clone())),
                    // A webhook delivery may be in flight: a person posting too would send twice.
                    ConnectorKind::Webhook => Err(TransitionError::WrongConnector(
                        ConnectorKind::Webhook.as_str(),
                        ConnectorKind::Manual.as_str(),
                    )),
                }
            }
            S::Received
            | S::Drafting
            | S::AwaitingReview(_)
            | S::Sent(_)
            | S::Rejected { .. }
            | S::Escalated { .. }
            | S::Failed { .. } => Err(not_allowed()),
        },
        Event::DeliveryFailed { reason } => match state {
            S::Approved(_) => Ok(S::Failed {
                reason: non_empty(reason, "reason")?,
            }),
            S::Received
            | S::Drafting
            | S::AwaitingReview(_)
            | S::Sent(_)
            | S::Rejected { .. }
            | S::Escalated { .. }
            | S::Failed { .. } => Err(not_allowed()),
        },
    }
}

fn approve(
    round: &ReviewRound,
    reviewer: &str,
    override_reason: &Option<String>,
    policy: &BrandPolicy,
) -> Result<MessageState, TransitionError> {
    let reviewer = non_empty(reviewer, "reviewer")?;
    let Some(proposal) = &round.proposal else {
        return Err(TransitionError::NothingProposed);
    };
    if round.approvals.iter().any(|a| a.reviewer == reviewer) {
        return Err(TransitionError::AlreadyApproved(reviewer));
    }
    if proposal.edited_by.as_deref() == Some(reviewer.as_str())
        && !policy.author_may_approve_own_edit
    {
        return Err(TransitionError::OwnEdit(reviewer));
    }
    let override_reason = override_reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned);
    if proposal.block_violations > 0 && override_reason.is_none() {
        return Err(TransitionError::OverrideReasonRequired(
            proposal.block_violations,
        ));
    }
    let mut approvals = round.approvals.clone();
    approvals.push(Approval {
        reviewer,
        override_reason,
    });
    if approvals.len() as u64 >= u64::from(policy.required_approvals()) {
        Ok(MessageState::Approved(ApprovedReply {
            proposal: proposal.clone(),
            approvals,
            connector: policy.delivery,
        }))
    } else {
        Ok(MessageState::AwaitingReview(ReviewRound {
            proposal: Some(proposal.clone()),
            approvals,
        }))
    }
}

fn non_empty(text: &str, what: &'static str) -> Result<String, TransitionError> {
    if text.trim().is_empty() {
        Err(TransitionError::Empty(what))
    } else {
        Ok(text.to_owned())
    }
}

#[cfg(test)]
mod tests;
