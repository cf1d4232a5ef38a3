//! The review workflow: everything between an inbound message and a reply that may leave.
//!
//! A message moves through [`MessageState`]s only by the pure [`transition`] function, which
//! enforces the brand's [`BrandPolicy`] (approvals needed, crisis mode, self-approval of edits,
//! overrides of block-severity violations). [`Workflow`] turns each verb (submit, approve,
//! reject, ...) into one atomic [`Change`] for a [`WorkflowStore`]: [`SqlStore`] over SQLite
//! (embedded default) or PostgreSQL, with optimistic concurrency on message versions and an
//! append-only audit log. Approved replies wait in the outbox until an [`OutboxWorker`] hands
//! them to a [`DeliveryConnector`] such as the signed [`WebhookConnector`], or a person posts
//! them and marks them posted. Approved replies and (draft, final) edit pairs are kept for the
//! knowledge base and evals ([`FinalReply`]).

pub mod audit;
pub mod delivery;
pub mod draft;
pub mod drafting_queue;
mod drafting_worker;
mod error;
pub mod outbox;
pub mod policy;
pub mod sql;
pub mod state;
pub mod store;
pub mod token;
pub mod webhook;
mod workflow;

pub use audit::{AuditAction, AuditEntry, word_diff};
pub use delivery::{DeliveryConnector, DeliveryError, DeliveryRound, OutboxWorker};
pub use draft::{
    Candidate, Citation, Citations, Drafts, Origin, Score, Severity, TriageSummary, Violation,
};
pub use drafting_queue::{
    DraftError, DraftProducer, Drafted, DraftingClaim, DraftingLease, DraftingQueueDepth, Lease,
};
pub use drafting_worker::{DraftingReport, DraftingWorker};
pub use error::{Error, Result};
pub use outbox::{OutboxEntry, OutboxStatus, RetryPolicy};
pub use policy::{BrandPolicy, ConnectorKind};
pub use sql::{PostgresStore, SqlStore, SqliteStore};
pub use state::{Event, MessageState, Status, TransitionError, transition};
pub use store::{
    Change, FinalReply, MessageFilter, MessageRecord, QueueOrder, QueuePosition, Review, Verdict,
    WorkflowStore,
};
pub use token::{ApiToken, BrandScope, IssuedToken, Role};
pub use webhook::{WebhookConfig, WebhookConnector};
pub use workflow::{DEFAULT_DRAFTING_LEASE, ReplyChoice, Workflow};
