//! Getting approved replies out: the [`DeliveryConnector`] seam and the [`OutboxWorker`] that
//! claims due outbox rows, hands them to a connector, and records the outcome (delivered,
//! retry later with backoff, or dead letter). Any number of workers may share one outbox.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::watch;
use tracing::Instrument;

use crate::error::Result;
use crate::outbox::{Claim, OutboxEntry, RetryPolicy};
use crate::policy::ConnectorKind;
use crate::workflow::{Workflow, now};

/// Why a delivery attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DeliveryError {
    /// Whether trying again may help (network errors, 5xx, 429) or not (other 4xx).
    pub retryable: bool,
    pub message: String,
}

/// Sends one approved reply somewhere. Every attempt for an outbox row carries the row's
/// idempotency key, so a receiver can drop repeats after a crash mid-delivery.
#[async_trait]
pub trait DeliveryConnector: Send + Sync {
    fn kind(&self) -> ConnectorKind;
    async fn deliver(&self, entry: &OutboxEntry) -> Result<(), DeliveryError>;
}

/// What one pass over the outbox did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryRound {
    pub delivered: usize,
    pub retrying: usize,
    pub dead: usize,
}

impl DeliveryRound {
    pub fn claimed(&self) -> usize {
        self.delivered + self.retrying + self.dead
    }
}

/// Claims due rows of its connector's kind and delivers them.
pub struct OutboxWorker {
    workflow: Workflow,
    connector: Arc<dyn DeliveryConnector>,
    name: String,
    retry: RetryPolicy,
    lease: Duration,
    batch: u32,
}

impl std::fmt::Debug for OutboxWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxWorker")
            .field("name", &self.name)
            .field("retry", &self.retry)
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

impl OutboxWorker {
    /// A worker named `name` (unique among the workers sharing the outbox) with the default
    /// retry policy, a one-minute lease and batches of 16.
    pub fn new(workflow: Workflow, connector: Arc<dyn DeliveryConnector>, name: &str) -> Self {
        Self {
            workflow,
            connector,
            name: name.to_owned(),
            retry: RetryPolicy::default(),
            lease: Duration::from_secs(60),
            batch: 16,
        }
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// How long a claimed row stays this worker's: longer than a delivery takes, short enough
    /// that a crashed worker's rows are soon delivered by another.
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    pub fn with_batch(mut self, batch: u32) -> Self {
        self.batch = batch.max(1);
        self
    }

    /// Claims one batch of due rows and delivers them.
    pub async fn run_once(&self) -> Result<DeliveryRound> {
        let claim = Claim {
            connector: self.connector.kind(),
            worker: self.name.clone(),
            limit: self.batch,
            now: now(),
            lease: self.lease,
        };
        let entries = self.workflow.store().claim_deliveries(&claim).await?;
        let mut round = DeliveryRound::default();
        for entry in entries {
            let span = tracing::info_span!(
                "deliver",
                outbox = entry.id,
                message = %entry.message_id,
                attempt = entry.attempts
            );
            self.deliver(&entry, &mut round).instrument(span).await?;
        }
        Ok(round)
    }

    async fn deliver(&self, entry: &OutboxEntry, round: &mut DeliveryRound) -> Result<()> {
        let actor = format!("connector:{}", self.connector.kind().as_str());
        match self.connector.deliver(entry).await {
            Ok(()) => {
                self.workflow.record_delivery(entry, &actor).await?;
                round.delivered += 1;
            }
            Err(error) => match self.retry.delay_after(entry.attempts) {
                Some(delay) if error.retryable => {
                    tracing::warn!(%error, ?delay, "delivery failed, will retry");
                    let at = now() + chrono::Duration::from_std(delay).unwrap_or_default();
                    self.workflow
                        .store()
                        .retry_delivery(entry.id, &self.name, &error.message, at)
                        .await?;
                    round.retrying += 1;
                }
                Some(_) | None => {
                    tracing::warn!(%error, "delivery failed for good: dead letter");
                    self.workflow
                        .dead_letter(entry, &actor, &error.message)
                        .await?;
                    round.dead += 1;
                }
            },
        }
        Ok(())
    }

    /// Delivers until `shutdown` turns true, pausing `idle` whenever the outbox has nothing
    /// due. A round in progress finishes first; rows it did not reach stay claimed until their
    /// lease ends and are then delivered by whichever worker runs.
    pub async fn run(&self, mut shutdown: watch::Receiver<bool>, idle: Duration) -> Result<()> {
        while !*shutdown.borrow() {
            let round = self.run_once().await?;
            if round.claimed() == 0 {
                tokio::select! {
                    _ = tokio::time::sleep(idle) => {}
                    _ = shutdown.changed() => {}
                }
            }
        }
        Ok(())
    }
}
