//! The storage seam. The workflow decides; a store only records, atomically. Each state change
//! arrives as one [`Change`] that the store applies in a single transaction, guarded by the
//! message's version, so a change computed from a stale read is refused and nothing of it is
//! written.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tact_core::InboundMessage;

use crate::audit::{AuditEntry, NewAuditEntry};
use crate::draft::Drafts;
use crate::drafting_queue::{DraftingClaim, DraftingLease, DraftingQueueDepth, Lease};
use crate::error::Result;
use crate::outbox::{Claim, NewOutboxEntry, OutboxEntry};
use crate::policy::BrandPolicy;
use crate::state::{MessageState, Status};
use crate::token::{ApiToken, BrandScope};

/// A message with where it stands.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageRecord {
    pub inbound: InboundMessage,
    pub state: MessageState,
    /// Bumped by every change; a change must name the version it was computed from.
    pub version: i64,
    pub received_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Who is drafting the message and until when, while it is in `drafting` under a lease.
    pub drafting: Option<DraftingLease>,
}

impl MessageRecord {
    /// Where the message stands in a listing, to resume the listing after it.
    pub fn position(&self) -> QueuePosition {
        QueuePosition {
            received_at: self.received_at,
            id: self.inbound.id.clone(),
        }
    }
}

/// Which messages to list, in `order` of `received_at` and then id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageFilter {
    pub brand: Option<String>,
    pub status: Option<Status>,
    pub channel: Option<String>,
    /// Only messages received at or after this time.
    pub received_since: Option<DateTime<Utc>>,
    /// Only messages that come after this one in `order`: the next page of a listing.
    pub after: Option<QueuePosition>,
    pub order: QueueOrder,
    pub limit: Option<u32>,
}

/// The direction of a message listing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum QueueOrder {
    /// The review queue's order.
    #[default]
    OldestFirst,
    /// Recent activity first, so a `limit` keeps the newest messages.
    NewestFirst,
}

/// A message's place in a listing (see [`MessageRecord::position`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuePosition {
    pub received_at: DateTime<Utc>,
    pub id: String,
}

/// A human's verdict on a message, kept apart from the audit log so the review history of a
/// message reads without parsing notes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Edit,
    Approve,
    Reject,
    Escalate,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Edit => "edit",
            Verdict::Approve => "approve",
            Verdict::Reject => "reject",
            Verdict::Escalate => "escalate",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            Verdict::Edit,
            Verdict::Approve,
            Verdict::Reject,
            Verdict::Escalate,
        ]
        .into_iter()
        .find(|v| v.as_str() == text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    pub reviewer: String,
    pub verdict: Verdict,
    /// The message version the reviewer acted on.
    pub message_version: i64,
    pub text: Option<String>,
    /// Rejection or escalation reason, or the override reason of an approval.
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

/// An approved reply for the knowledge base: the learning loop's record. `edited` replies are
/// also (draft, final) pairs for evals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinalReply {
    /// Increases with every approval, so a consumer can resume after the last one it took.
    pub seq: i64,
    pub message_id: String,
    pub brand: String,
    pub channel: String,
    /// The inbound message the reply answers.
    pub inbound_text: String,
    /// The candidate as drafted.
    pub draft_text: String,
    pub final_text: String,
    pub edited: bool,
    pub approved_by: Vec<String>,
    pub approved_at: DateTime<Utc>,
}

/// A [`FinalReply`] before it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFinalReply {
    pub draft_text: String,
    pub final_text: String,
    pub approved_by: Vec<String>,
}

/// What happened to an outbox row along with a state change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryUpdate {
    /// A worker delivered it. The row must be in flight (or already delivered by a worker that
    /// took over an expired claim: the receiver saw the same idempotency key twice).
    Delivered {
        outbox_id: i64,
        at: DateTime<Utc>,
    },
    /// A person posted it (manual connector).
    Posted {
        outbox_id: i64,
        at: DateTime<Utc>,
    },
    DeadLettered {
        outbox_id: i64,
        error: String,
    },
}

/// One atomic step of a message: its new state, the audit entry saying why, and whatever
/// rows the step creates or updates.
#[derive(Debug, Clone)]
pub struct Change {
    pub message_id: String,
    pub expected_version: i64,
    pub state: MessageState,
    pub audit: NewAuditEntry,
    pub draft_set: Option<Drafts>,
    pub review: Option<Review>,
    pub outbox: Option<NewOutboxEntry>,
    pub final_reply: Option<NewFinalReply>,
    pub delivery: Option<DeliveryUpdate>,
    /// The drafting lease the message holds after the change; `None` releases any lease.
    pub lease: Option<Lease>,
}

/// Where messages, drafts, reviews, the audit log, the outbox and API tokens are kept.
/// Implementations: [`crate::SqlStore`] over SQLite and over PostgreSQL.
#[async_trait]
pub trait WorkflowStore: Send + Sync {
    /// Stores a new message in state `Received` with its first audit entry.
    /// [`crate::Error::DuplicateMessage`] if the id is taken.
    async fn insert_message(
        &self,
        inbound: &InboundMessage,
        audit: NewAuditEntry,
    ) -> Result<MessageRecord>;

    /// [`crate::Error::UnknownMessage`] if there is none.
    async fn message(&self, id: &str) -> Result<MessageRecord>;

    async fn messages(&self, filter: &MessageFilter) -> Result<Vec<MessageRecord>>;

    /// Applies `change` atomically and returns the message at its new version.
    /// [`crate::Error::StaleVersion`] (nothing written) if the message moved on.
    async fn apply(&self, change: Change) -> Result<MessageRecord>;

    /// Atomically moves up to `claim.limit` drafting jobs, oldest first, into `drafting` under
    /// a lease for `claim.worker`, with an audit entry each, and returns them at their new
    /// versions. A job is a message in `received`, or in `drafting` whose lease ran out (or
    /// that has none). Concurrent claims never get the same message.
    async fn claim_drafting(&self, claim: &DraftingClaim) -> Result<Vec<MessageRecord>>;

    /// Extends every lease `worker` still holds to `until`, without changing the messages'
    /// versions, and returns those messages' ids: a job missing from them was taken over.
    async fn renew_drafting(&self, worker: &str, until: DateTime<Utc>) -> Result<Vec<String>>;

    /// The messages `worker` holds in `drafting`, oldest first.
    async fn drafting_claims(&self, worker: &str) -> Result<Vec<MessageRecord>>;

    /// How many drafting jobs wait and how many are being drafted at `now`.
    async fn drafting_queue(&self, now: DateTime<Utc>) -> Result<DraftingQueueDepth>;

    /// The newest draft set of a message.
    async fn draft_set(&self, message_id: &str) -> Result<Option<Drafts>>;

    /// The newest draft set of each of `message_ids` that has one, by message id: a page of
    /// a listing in one round trip instead of one per message. Unknown ids are left out.
    async fn latest_draft_sets(&self, message_ids: &[String]) -> Result<HashMap<String, Drafts>>;

    async fn reviews(&self, message_id: &str) -> Result<Vec<Review>>;

    /// A message's audit entries, oldest first.
    async fn audit_log(&self, message_id: &str) -> Result<Vec<AuditEntry>>;

    /// The newest `limit` audit entries of the messages of `brands`, newest first.
    async fn recent_audit(&self, brands: &BrandScope, limit: u32) -> Result<Vec<AuditEntry>>;

    /// The stored policy, or the default one.
    async fn policy(&self, brand: &str) -> Result<BrandPolicy>;

    async fn set_policy(&self, brand: &str, policy: &BrandPolicy) -> Result<()>;

    /// Atomically takes up to `claim.limit` rows of `claim.connector` that are due (pending
    /// and past `next_attempt_at`, or in flight with an expired lease), marks them in flight
    /// for `claim.worker` and counts an attempt. Concurrent claims never get the same row.
    async fn claim_deliveries(&self, claim: &Claim) -> Result<Vec<OutboxEntry>>;

    /// Gives a claimed row back for another try at `retry_at`.
    async fn retry_delivery(
        &self,
        outbox_id: i64,
        worker: &str,
        error: &str,
        retry_at: DateTime<Utc>,
    ) -> Result<()>;

    async fn outbox_entry(&self, outbox_id: i64) -> Result<OutboxEntry>;

    /// A message's outbox rows, oldest first.
    async fn outbox_for_message(&self, message_id: &str) -> Result<Vec<OutboxEntry>>;

    /// Approved replies of `brand` with `seq > after`, oldest first.
    async fn final_replies(&self, brand: &str, after: i64, limit: u32) -> Result<Vec<FinalReply>>;

    /// The approved replies of `brand` that a person edited: (draft, final) pairs for evals.
    async fn edit_pairs(&self, brand: &str) -> Result<Vec<FinalReply>>;

    /// Stores a token under the hash of its secret.
    async fn insert_token(&self, token: &ApiToken, secret_hash: &str) -> Result<()>;

    /// The token whose secret hashes to `secret_hash`, revoked or not.
    async fn token_by_hash(&self, secret_hash: &str) -> Result<Option<ApiToken>>;

    async fn tokens(&self) -> Result<Vec<ApiToken>>;

    /// [`crate::Error::UnknownToken`] if there is none.
    async fn revoke_token(&self, id: &str, at: DateTime<Utc>) -> Result<()>;
}
