//! [`Workflow`]: the verbs of the review process. Each verb reads the message, asks the pure
//! [`transition`] function whether the event applies under the brand's policy, and hands the
//! store one [`Change`] with the new state, the audit entry and whatever rows go with it.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use tact_core::InboundMessage;

use crate::audit::{AuditAction, NewAuditEntry};
use crate::draft::{Drafts, Violation, count_blocks};
use crate::drafting_queue::{DraftingClaim, DraftingQueueDepth, Lease};
use crate::error::{Error, Result};
use crate::outbox::{DeliveryPayload, NewOutboxEntry, OutboxEntry};
use crate::policy::BrandPolicy;
use crate::state::{Event, MessageState, Proposal, transition};
use crate::store::{
    Change, DeliveryUpdate, FinalReply, MessageFilter, MessageRecord, NewFinalReply, Review,
    Verdict, WorkflowStore,
};
use crate::token::{ApiToken, BrandScope, IssuedToken, Role, hash_secret, new_secret};

/// The lease [`Workflow::start_drafting`] grants: drafting one message takes seconds, so a
/// caller that died is noticed within minutes.
pub const DEFAULT_DRAFTING_LEASE: Duration = Duration::from_secs(300);

/// The text a reviewer settles on: a candidate as drafted, or their edit of one.
#[derive(Debug, Clone, PartialEq)]
pub enum ReplyChoice {
    Candidate(usize),
    Edited {
        candidate: usize,
        text: String,
        /// The guideline checks re-run on `text` by the caller.
        violations: Vec<Violation>,
    },
}

/// The review process over a [`WorkflowStore`].
#[derive(Clone)]
pub struct Workflow {
    store: Arc<dyn WorkflowStore>,
}

impl std::fmt::Debug for Workflow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workflow").finish_non_exhaustive()
    }
}

/// Now, to the millisecond the stores keep, so what is returned equals what is read back.
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(3)
}

impl Workflow {
    pub fn new(store: Arc<dyn WorkflowStore>) -> Self {
        Self { store }
    }

    pub fn store(&self) -> &dyn WorkflowStore {
        self.store.as_ref()
    }

    /// Records an inbound message, which then waits for drafting.
    #[tracing::instrument(name = "submit", skip_all, fields(message = %inbound.id, brand = %inbound.brand))]
    pub async fn submit(&self, inbound: &InboundMessage, actor: &str) -> Result<MessageRecord> {
        let audit = NewAuditEntry {
            actor: actor.to_owned(),
            action: AuditAction::Received,
            from: None,
            to: MessageState::Received.status(),
            at: now(),
            draft_text: None,
            final_text: None,
            note: None,
        };
        self.store.insert_message(inbound, audit).await
    }

    pub async fn message(&self, id: &str) -> Result<MessageRecord> {
        self.store.message(id).await
    }

    pub async fn queue(&self, filter: &MessageFilter) -> Result<Vec<MessageRecord>> {
        self.store.messages(filter).await
    }

    /// Takes a received message for drafting outside the queue, under a lease of
    /// [`DEFAULT_DRAFTING_LEASE`] for `actor`: if `actor` dies, a queue worker drafts the
    /// message once the lease runs out. Two drafting workers racing for one message cannot
    /// both win: the loser gets [`Error::StaleVersion`].
    pub async fn start_drafting(
        &self,
        id: &str,
        version: i64,
        actor: &str,
    ) -> Result<MessageRecord> {
        let record = self.load(id, version).await?;
        let next = self.next(&record, &Event::StartDrafting).await?;
        let mut change = change(&record, next, actor, AuditAction::DraftingStarted);
        change.lease = Some(Lease::starting(
            actor,
            change.audit.at,
            DEFAULT_DRAFTING_LEASE,
        ));
        self.store.apply(change).await
    }

    /// Claims up to `limit` drafting jobs, oldest first, for `worker` under a lease of
    /// `lease`. See [`WorkflowStore::claim_drafting`].
    #[tracing::instrument(name = "claim_drafting", skip_all, fields(worker, limit))]
    pub async fn claim_drafting(
        &self,
        worker: &str,
        limit: u32,
        lease: Duration,
    ) -> Result<Vec<MessageRecord>> {
        if worker.trim().is_empty() {
            return Err(Error::Empty { field: "worker" });
        }
        let claim = DraftingClaim {
            worker: worker.to_owned(),
            limit,
            now: now(),
            lease,
        };
        let jobs = self.store.claim_drafting(&claim).await?;
        tracing::debug!(claimed = jobs.len(), "drafting jobs claimed");
        Ok(jobs)
    }

    /// Extends `worker`'s leases by `lease` from now; returns the ids of the jobs it still
    /// holds.
    pub async fn renew_drafting(&self, worker: &str, lease: Duration) -> Result<Vec<String>> {
        let until = Lease::starting(worker, now(), lease).until;
        self.store.renew_drafting(worker, until).await
    }

    /// Gives a job `worker` holds back to the queue unfinished.
    pub async fn requeue(
        &self,
        id: &str,
        version: i64,
        worker: &str,
        reason: &str,
    ) -> Result<MessageRecord> {
        let record = self.load_held(id, version, worker).await?;
        let next = self.next(&record, &Event::Requeue).await?;
        let mut change = change(&record, next, worker, AuditAction::Requeued);
        change.audit.note = Some(reason.to_owned());
        self.store.apply(change).await
    }

    /// Gives every job `worker` holds back to the queue (a worker shutting down); returns
    /// their ids. A job taken over meanwhile is left to its new holder.
    pub async fn requeue_claims(&self, worker: &str, reason: &str) -> Result<Vec<String>> {
        let mut requeued = Vec::new();
        for record in self.store.drafting_claims(worker).await? {
            let id = record.inbound.id.as_str();
            match self.requeue(id, record.version, worker, reason).await {
                Ok(_) => requeued.push(id.to_owned()),
                Err(Error::StaleVersion { .. } | Error::DraftingTakenOver { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(requeued)
    }

    /// Drafting jobs waiting and in progress now.
    pub async fn drafting_queue(&self) -> Result<DraftingQueueDepth> {
        self.store.drafting_queue(now()).await
    }

    /// Stores the drafts and puts the message in the review queue. Refused with
    /// [`Error::DraftingTakenOver`] when another worker holds the message's drafting lease.
    pub async fn drafts_ready(
        &self,
        id: &str,
        version: i64,
        actor: &str,
        drafts: Drafts,
    ) -> Result<MessageRecord> {
        if drafts.candidates.is_empty() {
            return Err(Error::NoDrafts(id.to_owned()));
        }
        let record = self.load_held(id, version, actor).await?;
        let next = self.next(&record, &Event::DraftsReady).await?;
        let mut change = change(&record, next, actor, AuditAction::DraftsReady);
        change.audit.note = Some(format!("{} candidate(s)", drafts.candidates.len()));
        change.draft_set = Some(drafts);
        self.store.apply(change).await
    }

    /// Triage sent the message to a person instead of drafting it. Refused like
    /// [`Workflow::drafts_ready`] when another worker holds the lease.
    pub async fn drafting_escalated(
        &self,
        id: &str,
        version: i64,
        worker: &str,
        reason: &str,
    ) -> Result<MessageRecord> {
        let record = self.load_held(id, version, worker).await?;
        let event = Event::Escalate {
            actor: worker.to_owned(),
            reason: reason.to_owned(),
        };
        let next = self.next(&record, &event).await?;
        let mut change = change(&record, next, worker, AuditAction::Escalated);
        change.audit.note = Some(reason.to_owned());
        self.store.apply(change).await
    }

    /// Refused like [`Workflow::drafts_ready`] when another worker holds the lease.
    pub async fn drafting_failed(
        &self,
        id: &str,
        version: i64,
        actor: &str,
        reason: &str,
    ) -> Result<MessageRecord> {
        let record = self.load_held(id, version, actor).await?;
        let event = Event::DraftingFailed {
            reason: reason.to_owned(),
        };
        let next = self.next(&record, &event).await?;
        let mut change = change(&record, next, actor, AuditAction::DraftingFailed);
        change.audit.note = Some(reason.to_owned());
        self.store.apply(change).await
    }

    /// Puts `choice` up for approval without approving it (e.g. an edit its author may not
    /// approve).
    pub async fn propose(
        &self,
        id: &str,
        version: i64,
        editor: &str,
        choice: ReplyChoice,
    ) -> Result<MessageRecord> {
        let record = self.load(id, version).await?;
        let (proposal, draft_text) = self.proposal(&record, editor, choice).await?;
        let next = self
            .next(&record, &Event::Propose(proposal.clone()))
            .await?;
        let mut change = change(&record, next, editor, AuditAction::Proposed);
        change.audit.draft_text = Some(draft_text);
        change.audit.final_text = Some(proposal.text.clone());
        change.review = Some(review(
            &record,
            editor,
            Verdict::Edit,
            Some(proposal.text),
            None,
        ));
        self.store.apply(change).await
    }

    /// Approves the message's proposed text, or `choice` when given (which proposes it first).
    /// When this is the last approval the brand's policy requires, the reply enters the outbox
    /// and the knowledge base's record of approved replies.
    #[tracing::instrument(name = "approve", skip_all, fields(message = %id, version))]
    pub async fn approve(
        &self,
        id: &str,
        version: i64,
        reviewer: &str,
        choice: Option<ReplyChoice>,
        override_reason: Option<String>,
    ) -> Result<MessageRecord> {
        let record = self.load(id, version).await?;
        let policy = self.store.policy(&record.inbound.brand).await?;
        let mut state = record.state.clone();
        if let Some(choice) = choice {
            let (proposal, _) = self.proposal(&record, reviewer, choice).await?;
            state = transition(&state, &Event::Propose(proposal), &policy)?;
        }
        let event = Event::Approve {
            reviewer: reviewer.to_owned(),
            override_reason: override_reason.clone(),
        };
        let next = transition(&state, &event, &policy)?;
        let proposal = match &next {
            MessageState::AwaitingReview(round) => round.proposal.clone(),
            MessageState::Approved(reply) => Some(reply.proposal.clone()),
            MessageState::Received
            | MessageState::Drafting
            | MessageState::Sent(_)
            | MessageState::Rejected { .. }
            | MessageState::Escalated { .. }
            | MessageState::Failed { .. } => None,
        }
        .ok_or(crate::state::TransitionError::NothingProposed)?;
        let draft_text = self.candidate_text(&record, proposal.candidate).await?;
        let mut change = change(&record, next.clone(), reviewer, AuditAction::Approved);
        change.audit.draft_text = Some(draft_text.clone());
        change.audit.final_text = Some(proposal.text.clone());
        change.audit.note = override_reason.as_ref().map(|r| format!("override: {r}"));
        change.review = Some(review(
            &record,
            reviewer,
            Verdict::Approve,
            Some(proposal.text.clone()),
            override_reason,
        ));
        if let MessageState::Approved(reply) = &next {
            let approved_by: Vec<String> =
                reply.approvals.iter().map(|a| a.reviewer.clone()).collect();
            change.outbox = Some(NewOutboxEntry {
                connector: reply.connector,
                payload: DeliveryPayload {
                    idempotency_key: uuid::Uuid::new_v4().to_string(),
                    message_id: record.inbound.id.clone(),
                    brand: record.inbound.brand.clone(),
                    channel: record.inbound.channel.clone(),
                    in_reply_to: record.inbound.author.clone(),
                    text: reply.proposal.text.clone(),
                    approved_by: approved_by.clone(),
                    approved_at: change.audit.at,
                },
            });
            change.final_reply = Some(NewFinalReply {
                draft_text,
                final_text: reply.proposal.text.clone(),
                approved_by,
            });
        }
        self.store.apply(change).await
    }

    pub async fn reject(
        &self,
        id: &str,
        version: i64,
        reviewer: &str,
        reason: &str,
    ) -> Result<MessageRecord> {
        let record = self.load(id, version).await?;
        let event = Event::Reject {
            reviewer: reviewer.to_owned(),
            reason: reason.to_owned(),
        };
        let next = self.next(&record, &event).await?;
        let mut change = change(&record, next, reviewer, AuditAction::Rejected);
        change.audit.note = Some(reason.to_owned());
        change.review = Some(review(
            &record,
            reviewer,
            Verdict::Reject,
            None,
            Some(reason.into()),
        ));
        self.store.apply(change).await
    }

    pub async fn escalate(
        &self,
        id: &str,
        version: i64,
        actor: &str,
        reason: &str,
    ) -> Result<MessageRecord> {
        let record = self.load(id, version).await?;
        let event = Event::Escalate {
            actor: actor.to_owned(),
            reason: reason.to_owned(),
        };
        let next = self.next(&record, &event).await?;
        let mut change = change(&record, next, actor, AuditAction::Escalated);
        change.audit.note = Some(reason.to_owned());
        change.review = Some(review(
            &record,
            actor,
            Verdict::Escalate,
            None,
            Some(reason.into()),
        ));
        self.store.apply(change).await
    }

    pub async fn return_to_review(
        &self,
        id: &str,
        version: i64,
        actor: &str,
    ) -> Result<MessageRecord> {
        let record = self.load(id, version).await?;
        let next = self.next(&record, &Event::ReturnToReview).await?;
        let change = change(&record, next, actor, AuditAction::ReturnedToReview);
        self.store.apply(change).await
    }

    pub async fn redraft(&self, id: &str, version: i64, actor: &str) -> Result<MessageRecord> {
        let record = self.load(id, version).await?;
        let next = self.next(&record, &Event::Redraft).await?;
        let change = change(&record, next, actor, AuditAction::Redrafted);
        self.store.apply(change).await
    }

    /// A person posted an approved reply themselves (manual connector).
    pub async fn mark_posted(&self, id: &str, version: i64, actor: &str) -> Result<MessageRecord> {
        let record = self.load(id, version).await?;
        let event = Event::MarkedPosted {
            actor: actor.to_owned(),
        };
        let next = self.next(&record, &event).await?;
        let entry = self.open_delivery(&record).await?;
        let mut change = change(&record, next, actor, AuditAction::MarkedPosted);
        change.audit.final_text = Some(entry.payload.text.clone());
        change.delivery = Some(DeliveryUpdate::Posted {
            outbox_id: entry.id,
            at: change.audit.at,
        });
        self.store.apply(change).await
    }

    /// A connector delivered `entry`. Recording it twice (two workers delivered the same
    /// key after a lease ran out) is not an error.
    pub async fn record_delivery(&self, entry: &OutboxEntry, actor: &str) -> Result<()> {
        let record = self.store.message(&entry.message_id).await?;
        if let MessageState::Sent(_) = record.state {
            let current = self.store.outbox_entry(entry.id).await?;
            if current.delivered_at.is_some() {
                return Ok(());
            }
        }
        let next = self.next(&record, &Event::Delivered).await?;
        let mut change = change(&record, next, actor, AuditAction::Delivered);
        change.audit.final_text = Some(entry.payload.text.clone());
        change.audit.note = Some(format!(
            "idempotency key {}, attempt {}",
            entry.idempotency_key, entry.attempts
        ));
        change.delivery = Some(DeliveryUpdate::Delivered {
            outbox_id: entry.id,
            at: change.audit.at,
        });
        self.store.apply(change).await.map(drop)
    }

    /// Delivery of `entry` is given up: it goes to the dead letters and the message fails.
    pub async fn dead_letter(&self, entry: &OutboxEntry, actor: &str, error: &str) -> Result<()> {
        let record = self.store.message(&entry.message_id).await?;
        let event = Event::DeliveryFailed {
            reason: format!(
                "delivery failed after {} attempt(s): {error}",
                entry.attempts
            ),
        };
        let next = self.next(&record, &event).await?;
        let mut change = change(&record, next, actor, AuditAction::DeliveryFailed);
        change.audit.note = Some(error.to_owned());
        change.delivery = Some(DeliveryUpdate::DeadLettered {
            outbox_id: entry.id,
            error: error.to_owned(),
        });
        self.store.apply(change).await.map(drop)
    }

    pub async fn policy(&self, brand: &str) -> Result<BrandPolicy> {
        self.store.policy(brand).await
    }

    pub async fn set_policy(&self, brand: &str, policy: &BrandPolicy) -> Result<()> {
        self.store.set_policy(brand, policy).await
    }

    /// Approved replies of `brand` after `after` (a [`FinalReply::seq`]), for the knowledge
    /// base.
    pub async fn approved_replies(
        &self,
        brand: &str,
        after: i64,
        limit: u32,
    ) -> Result<Vec<FinalReply>> {
        self.store.final_replies(brand, after, limit).await
    }

    /// (draft, final) pairs of `brand`'s edited replies, for evals.
    pub async fn edit_pairs(&self, brand: &str) -> Result<Vec<FinalReply>> {
        self.store.edit_pairs(brand).await
    }

    /// Creates a token; its secret is in the result and nowhere else.
    pub async fn create_token(
        &self,
        label: &str,
        role: Role,
        brands: BrandScope,
    ) -> Result<IssuedToken> {
        if label.trim().is_empty() {
            return Err(Error::Empty { field: "label" });
        }
        let secret = new_secret()?;
        let token = ApiToken {
            id: uuid::Uuid::new_v4().to_string(),
            label: label.to_owned(),
            role,
            brands,
            created_at: now(),
            revoked_at: None,
        };
        self.store
            .insert_token(&token, &hash_secret(&secret))
            .await?;
        Ok(IssuedToken { token, secret })
    }

    /// The live token `secret` belongs to, or [`Error::Unauthorized`].
    pub async fn authenticate(&self, secret: &str) -> Result<ApiToken> {
        match self.store.token_by_hash(&hash_secret(secret)).await? {
            Some(token) if token.revoked_at.is_none() => Ok(token),
            Some(_) | None => Err(Error::Unauthorized),
        }
    }

    pub async fn revoke_token(&self, id: &str) -> Result<()> {
        self.store.revoke_token(id, now()).await
    }

    /// The message, if it is still at `version` and no worker but `worker` holds its drafting
    /// lease. The store's version guard makes this hold at the moment of writing too: taking a
    /// job over bumps the version.
    async fn load_held(&self, id: &str, version: i64, worker: &str) -> Result<MessageRecord> {
        let record = self.store.message(id).await?;
        if let Some(lease) = &record.drafting
            && lease.worker != worker
        {
            return Err(Error::DraftingTakenOver {
                id: id.to_owned(),
                worker: worker.to_owned(),
                holder: lease.worker.clone(),
            });
        }
        if record.version != version {
            return Err(Error::StaleVersion {
                id: id.to_owned(),
                expected: version,
                current: record.version,
            });
        }
        Ok(record)
    }

    /// The message, if it is still at `version`.
    async fn load(&self, id: &str, version: i64) -> Result<MessageRecord> {
        let record = self.store.message(id).await?;
        if record.version != version {
            return Err(Error::StaleVersion {
                id: id.to_owned(),
                expected: version,
                current: record.version,
            });
        }
        Ok(record)
    }

    async fn next(&self, record: &MessageRecord, event: &Event) -> Result<MessageState> {
        let policy = self.store.policy(&record.inbound.brand).await?;
        Ok(transition(&record.state, event, &policy)?)
    }

    async fn drafts(&self, record: &MessageRecord) -> Result<Drafts> {
        self.store
            .draft_set(&record.inbound.id)
            .await?
            .ok_or_else(|| Error::NoDrafts(record.inbound.id.clone()))
    }

    async fn candidate_text(&self, record: &MessageRecord, index: usize) -> Result<String> {
        let drafts = self.drafts(record).await?;
        let count = drafts.candidates.len();
        drafts
            .candidates
            .into_iter()
            .nth(index)
            .map(|c| c.text)
            .ok_or_else(|| Error::UnknownCandidate {
                message: record.inbound.id.clone(),
                index,
                count,
            })
    }

    /// The proposal `choice` makes, and the candidate text it starts from.
    async fn proposal(
        &self,
        record: &MessageRecord,
        actor: &str,
        choice: ReplyChoice,
    ) -> Result<(Proposal, String)> {
        let drafts = self.drafts(record).await?;
        let index = match &choice {
            ReplyChoice::Candidate(index)
            | ReplyChoice::Edited {
                candidate: index, ..
            } => *index,
        };
        let candidate = drafts
            .candidates
            .get(index)
            .ok_or_else(|| Error::UnknownCandidate {
                message: record.inbound.id.clone(),
                index,
                count: drafts.candidates.len(),
            })?;
        let proposal = match choice {
            ReplyChoice::Candidate(_) => Proposal {
                text: candidate.text.clone(),
                candidate: index,
                edited_by: None,
                block_violations: candidate.block_violations(),
            },
            ReplyChoice::Edited {
                text, violations, ..
            } if text == candidate.text => Proposal {
                text,
                candidate: index,
                edited_by: None,
                block_violations: count_blocks(&violations),
            },
            ReplyChoice::Edited {
                text, violations, ..
            } => Proposal {
                text,
                candidate: index,
                edited_by: Some(actor.to_owned()),
                block_violations: count_blocks(&violations),
            },
        };
        Ok((proposal, candidate.text.clone()))
    }

    /// The outbox row still waiting for the message's approved reply.
    async fn open_delivery(&self, record: &MessageRecord) -> Result<OutboxEntry> {
        let entries = self.store.outbox_for_message(&record.inbound.id).await?;
        entries
            .into_iter()
            .rev()
            .find(|e| e.delivered_at.is_none())
            .ok_or_else(|| Error::NothingToDeliver(record.inbound.id.clone()))
    }
}

fn change(record: &MessageRecord, next: MessageState, actor: &str, action: AuditAction) -> Change {
    Change {
        message_id: record.inbound.id.clone(),
        expected_version: record.version,
        audit: NewAuditEntry {
            actor: actor.to_owned(),
            action,
            from: Some(record.state.status()),
            to: next.status(),
            at: now(),
            draft_text: None,
            final_text: None,
            note: None,
        },
        state: next,
        draft_set: None,
        review: None,
        outbox: None,
        final_reply: None,
        delivery: None,
        lease: None,
    }
}

fn review(
    record: &MessageRecord,
    reviewer: &str,
    verdict: Verdict,
    text: Option<String>,
    reason: Option<String>,
) -> Review {
    Review {
        reviewer: reviewer.to_owned(),
        verdict,
        message_version: record.version,
        text,
        reason,
        at: now(),
    }
}
