//! The drafting queue kept in the workflow store. Every message that needs drafts is a job:
//! one in `received`, or one in `drafting` whose lease ran out because the worker drafting it
//! died. Workers in any number of processes claim jobs from the store under a lease
//! ([`DraftingClaim`]), renew the lease while they draft, and complete a job through
//! [`crate::Workflow::drafts_ready`] or [`crate::Workflow::drafting_failed`]. A claim bumps the
//! message's version, so a worker whose job was taken over cannot complete it any more.
//! [`DraftProducer`] is the seam to whatever produces the drafts.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::draft::Drafts;
use crate::store::MessageRecord;

/// A drafting lease to grant along with a state change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub worker: String,
    pub until: DateTime<Utc>,
}

impl Lease {
    /// `worker`'s lease from `now` for `length` (saturating far in the future).
    pub fn starting(worker: &str, now: DateTime<Utc>, length: Duration) -> Self {
        let length = chrono::Duration::from_std(length).unwrap_or(chrono::Duration::MAX);
        Self {
            worker: worker.to_owned(),
            until: now
                .checked_add_signed(length)
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        }
    }
}

/// Who is drafting a message, until when, and the how-manieth attempt this is since the message
/// entered the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DraftingLease {
    pub worker: String,
    pub until: DateTime<Utc>,
    /// 1 for the first claim; a higher number means earlier workers died while drafting it.
    pub attempt: u32,
}

impl DraftingLease {
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.until > now
    }
}

/// A worker's request for drafting jobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DraftingClaim {
    /// Unique among the workers sharing the store (e.g. host, process id and a random part).
    pub worker: String,
    pub limit: u32,
    pub now: DateTime<Utc>,
    /// How long the jobs are the worker's unless it renews the lease. Workers on different
    /// machines compare leases with their own clocks, so keep this well above clock skew.
    pub lease: Duration,
}

/// The drafting queue at a moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DraftingQueueDepth {
    /// Jobs no live worker holds.
    pub waiting: u64,
    /// Jobs under a live lease.
    pub drafting: u64,
}

/// Why drafts could not be produced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DraftError {
    /// The producer is overloaded (e.g. the engine's queue is full): the job goes back to the
    /// queue and the worker slows down.
    #[error("drafting is busy: {0}")]
    Busy(String),
    /// Drafting this message failed; the message fails with this reason.
    #[error("{0}")]
    Failed(String),
}

/// What drafting a message came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Drafted {
    /// Candidates for review.
    Ready(Drafts),
    /// Triage decided a person must handle the message, without drafts.
    Escalate { reason: String },
}

/// Produces the draft candidates of a message: the seam between the queue and the models.
/// Dropping the future cancels the work (a worker shutting down or losing its lease does).
#[async_trait]
pub trait DraftProducer: Send + Sync {
    async fn draft(&self, message: &MessageRecord) -> Result<Drafted, DraftError>;

    /// Called once the worker is done with a job: its outcome is stored, or the job went back to the queue or to another worker. (For
    /// example to tell listeners to read the message again.)
    fn settled(&self, _message_id: &str) {}
}
