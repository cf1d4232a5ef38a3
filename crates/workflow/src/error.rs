//! The workflow crate's error type.

use crate::state::TransitionError;

/// Everything a workflow operation can refuse or fail with. Client mistakes (unknown ids, stale
/// versions, forbidden transitions) are their own variants so the server can answer 4xx with
/// what was wrong; `Database` and `Corrupt` are server faults.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no message with id {0:?}")]
    UnknownMessage(String),
    #[error("a message with id {0:?} already exists")]
    DuplicateMessage(String),
    /// Optimistic concurrency: someone else changed the message since `expected` was read.
    #[error("message {id:?} is at version {current}, not {expected}: reload and try again")]
    StaleVersion {
        id: String,
        expected: i64,
        current: i64,
    },
    /// A drafting worker completed a job whose lease had run out and was taken over.
    #[error(
        "message {id:?} is being drafted by {holder:?}, not {worker:?}: the lease ran out and \
         the job was taken over"
    )]
    DraftingTakenOver {
        id: String,
        worker: String,
        holder: String,
    },
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error("message {message:?} has no draft candidate {index} (it has {count})")]
    UnknownCandidate {
        message: String,
        index: usize,
        count: usize,
    },
    #[error("message {0:?} has no drafts to review")]
    NoDrafts(String),
    #[error("message {0:?} has no reply waiting for delivery")]
    NothingToDeliver(String),
    #[error("no outbox entry {0}")]
    UnknownDelivery(i64),
    /// The outbox entry is not in the state the caller assumed (e.g. another worker took it
    /// over after this worker's lease ran out).
    #[error("outbox entry {id} is {status}, not {expected}")]
    DeliveryConflict {
        id: i64,
        status: String,
        expected: &'static str,
    },
    #[error("invalid policy: {0}")]
    InvalidPolicy(String),
    #[error("invalid store configuration: {0}")]
    InvalidConfig(String),
    #[error("{field} must not be empty")]
    Empty { field: &'static str },
    #[error("unknown or revoked API token")]
    Unauthorized,
    #[error("no API token with id {0:?}")]
    UnknownToken(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// A stored value does not decode: the database was edited by hand or by a newer tact.
    #[error("stored {what} does not decode: {problem}")]
    Corrupt { what: &'static str, problem: String },
    #[error("no randomness from the operating system: {0}")]
    Randomness(String),
    #[error("cannot create store directory {path}: {source}")]
    StoreDirectory {
        path: String,
        source: std::io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
