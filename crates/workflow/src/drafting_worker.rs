//! [`DraftingWorker`]: the loop that drains the drafting queue. It claims jobs from the store
//! up to its concurrency, has a [`DraftProducer`] draft each one, records the outcome, renews
//! its leases while it works, abandons a job whose lease another worker took over, and on
//! shutdown gives unfinished jobs back to the queue. Any number of workers, in any number of
//! processes, may share one store.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::task::{AbortHandle, JoinError, JoinSet};
use tokio::time::Instant;
use tracing::Instrument;

use crate::drafting_queue::{DraftError, DraftProducer, Drafted};
use crate::error::{Error, Result};
use crate::store::MessageRecord;
use crate::workflow::Workflow;

/// What a worker did until it stopped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DraftingReport {
    /// Jobs whose drafts are stored.
    pub drafted: usize,
    /// Jobs that triage sent to a person.
    pub escalated: usize,
    /// Jobs that ended with the message failed.
    pub failed: usize,
    /// Jobs given back to the queue (producer busy, or the worker shutting down).
    pub requeued: usize,
    /// Jobs abandoned because another worker took them over.
    pub lost: usize,
}

enum Outcome {
    Drafted,
    Escalated,
    Failed,
    Busy,
}

/// Drains the drafting queue; see the module documentation.
pub struct DraftingWorker {
    workflow: Workflow,
    producer: Arc<dyn DraftProducer>,
    name: String,
    lease: Duration,
    concurrency: u32,
    poll: Duration,
    grace: Duration,
    max_attempts: u32,
    wake: Arc<Notify>,
}

impl std::fmt::Debug for DraftingWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DraftingWorker")
            .field("name", &self.name)
            .field("lease", &self.lease)
            .field("concurrency", &self.concurrency)
            .field("poll", &self.poll)
            .field("grace", &self.grace)
            .field("max_attempts", &self.max_attempts)
            .finish_non_exhaustive()
    }
}

impl DraftingWorker {
    /// A worker named `name` (unique among the workers sharing the store) drafting one job at
    /// a time under 30-second leases, polling every second, with no grace period on shutdown
    /// and three attempts per message.
    pub fn new(workflow: Workflow, producer: Arc<dyn DraftProducer>, name: &str) -> Self {
        Self {
            workflow,
            producer,
            name: name.to_owned(),
            lease: Duration::from_secs(30),
            concurrency: 1,
            poll: Duration::from_secs(1),
            grace: Duration::ZERO,
            max_attempts: 3,
            wake: Arc::new(Notify::new()),
        }
    }

    /// How long a job stays this worker's without a renewal; renewed every third of it. A
    /// crashed worker's jobs are drafted by another one after at most this long.
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease.max(Duration::from_millis(30));
        self
    }

    /// Jobs drafted at once.
    pub fn with_concurrency(mut self, concurrency: u32) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// How often an idle worker looks for jobs that [`DraftingWorker::waker`] did not announce
    /// (submitted through another process, or left by a crashed worker).
    pub fn with_poll_interval(mut self, poll: Duration) -> Self {
        self.poll = poll.max(Duration::from_millis(1));
        self
    }

    /// How long a shutdown waits for jobs in progress before giving them back to the queue.
    pub fn with_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Claims of one message (each a worker that died while drafting it) after which the
    /// message fails instead of taking down yet another worker.
    pub fn with_max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = max_attempts.max(1);
        self
    }

    /// Wakes the worker through `wake` (e.g. one the submitting side already holds).
    pub fn with_waker(mut self, wake: Arc<Notify>) -> Self {
        self.wake = wake;
        self
    }

    /// Notify it after submitting a message and the worker looks for jobs at once.
    pub fn waker(&self) -> Arc<Notify> {
        Arc::clone(&self.wake)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Drafts until `shutdown` turns true, then waits up to the grace period for the jobs in
    /// progress and gives the rest back to the queue. Store errors while working are logged
    /// and retried at the next poll (the leases keep jobs safe meanwhile); only a failure to
    /// give jobs back at the end is returned.
    pub async fn run(&self, mut shutdown: watch::Receiver<bool>) -> Result<DraftingReport> {
        let mut report = DraftingReport::default();
        let mut running = JoinSet::new();
        let mut jobs: HashMap<String, AbortHandle> = HashMap::new();
        let mut renewal = tokio::time::interval((self.lease / 3).max(Duration::from_millis(10)));
        renewal.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        renewal.reset();
        let mut paused_until = Instant::now();
        while !*shutdown.borrow() {
            let free = self.concurrency as usize - running.len();
            if free > 0 && Instant::now() >= paused_until {
                match self.claim(free).await {
                    Ok(claimed) => {
                        for record in claimed {
                            let id = record.inbound.id.clone();
                            let handle = running.spawn(self.job(record));
                            jobs.insert(id, handle);
                        }
                    }
                    Err(error) => tracing::error!(%error, "claiming drafting jobs failed"),
                }
            }
            tokio::select! {
                Some(done) = running.join_next(), if !running.is_empty() => {
                    if self.finished(done, &mut jobs, &mut report).await {
                        paused_until = Instant::now() + self.poll;
                    }
                }
                _ = renewal.tick() => self.renew(&mut jobs, &mut report).await,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.poll) => {}
                _ = shutdown.changed() => {}
            }
        }
        let deadline = Instant::now() + self.grace;
        while !running.is_empty() {
            match tokio::time::timeout_at(deadline, running.join_next()).await {
                Ok(Some(done)) => {
                    self.finished(done, &mut jobs, &mut report).await;
                }
                Ok(None) => break,
                Err(_) => {
                    // Dropping the producer's futures cancels their generations.
                    running.abort_all();
                    while let Some(done) = running.join_next().await {
                        self.finished(done, &mut jobs, &mut report).await;
                    }
                }
            }
        }
        let requeued = self
            .workflow
            .requeue_claims(&self.name, "the drafting worker shut down")
            .await?;
        report.requeued += requeued.len();
        for id in &requeued {
            self.producer.settled(id);
        }
        tracing::info!(worker = %self.name, ?report, "drafting worker stopped");
        Ok(report)
    }

    async fn claim(&self, free: usize) -> Result<Vec<MessageRecord>> {
        let limit = u32::try_from(free).unwrap_or(u32::MAX);
        self.workflow
            .claim_drafting(&self.name, limit, self.lease)
            .await
    }

    /// The task drafting one job: what it came to, or why recording it failed.
    fn job(
        &self,
        record: MessageRecord,
    ) -> impl Future<Output = (String, Result<Outcome>)> + use<> {
        let workflow = self.workflow.clone();
        let producer = Arc::clone(&self.producer);
        let worker = self.name.clone();
        let max_attempts = self.max_attempts;
        let attempt = record.drafting.as_ref().map_or(1, |l| l.attempt);
        let span = tracing::info_span!(
            "draft",
            message = %record.inbound.id,
            brand = %record.inbound.brand,
            attempt
        );
        async move {
            let id = record.inbound.id.clone();
            let version = record.version;
            let result = if attempt > max_attempts {
                let reason = format!(
                    "drafting was interrupted {} times (the drafting process stopped each time)",
                    attempt - 1
                );
                tracing::warn!(%reason, "giving up on the message");
                workflow
                    .drafting_failed(&id, version, &worker, &reason)
                    .await
                    .map(|_| Outcome::Failed)
            } else {
                match producer.draft(&record).await {
                    Ok(Drafted::Escalate { reason }) => workflow
                        .drafting_escalated(&id, version, &worker, &reason)
                        .await
                        .map(|_| Outcome::Escalated),
                    Ok(Drafted::Ready(drafts)) if drafts.candidates.is_empty() => workflow
                        .drafting_failed(&id, version, &worker, "drafting produced no candidates")
                        .await
                        .map(|_| Outcome::Failed),
                    Ok(Drafted::Ready(drafts)) => workflow
                        .drafts_ready(&id, version, &worker, drafts)
                        .await
                        .map(|_| Outcome::Drafted),
                    Err(DraftError::Failed(reason)) => {
                        tracing::warn!(%reason, "drafting failed");
                        workflow
                            .drafting_failed(&id, version, &worker, &reason)
                            .await
                            .map(|_| Outcome::Failed)
                    }
                    Err(DraftError::Busy(reason)) => workflow
                        .requeue(
                            &id,
                            version,
                            &worker,
                            &format!("drafting is busy: {reason}"),
                        )
                        .await
                        .map(|_| Outcome::Busy),
                }
            };
            (id, result)
        }
        .instrument(span)
    }

    /// Books a finished task; true when the producer was busy and claiming should pause.
    async fn finished(
        &self,
        done: Result<(String, Result<Outcome>), JoinError>,
        jobs: &mut HashMap<String, AbortHandle>,
        report: &mut DraftingReport,
    ) -> bool {
        let (id, result) = match done {
            Ok(done) => done,
            Err(error) => {
                let Some(id) = jobs
                    .iter()
                    .find(|(_, h)| h.id() == error.id())
                    .map(|(id, _)| id.clone())
                else {
                    // Aborted after its lease was taken over: already booked as lost.
                    return false;
                };
                jobs.remove(&id);
                if error.is_cancelled() {
                    // Shutting down: `requeue_claims` gives it back.
                    return false;
                }
                tracing::error!(message = %id, %error, "drafting task panicked");
                let reason = "the drafting task panicked";
                self.fail_held(&id, reason, report).await;
                self.producer.settled(&id);
                return false;
            }
        };
        jobs.remove(&id);
        let busy = matches!(result, Ok(Outcome::Busy));
        match result {
            Ok(Outcome::Drafted) => report.drafted += 1,
            Ok(Outcome::Escalated) => report.escalated += 1,
            Ok(Outcome::Failed) => report.failed += 1,
            Ok(Outcome::Busy) => report.requeued += 1,
            Err(error @ (Error::DraftingTakenOver { .. } | Error::StaleVersion { .. })) => {
                tracing::warn!(message = %id, %error, "drafts discarded: the job was taken over");
                report.lost += 1;
            }
            // The job stays claimed; the next renewal finds it orphaned and requeues it.
            Err(error) => tracing::error!(message = %id, %error, "recording the drafts failed"),
        }
        self.producer.settled(&id);
        busy
    }

    async fn fail_held(&self, id: &str, reason: &str, report: &mut DraftingReport) {
        let result = match self.workflow.message(id).await {
            Ok(record) => {
                self.workflow
                    .drafting_failed(id, record.version, &self.name, reason)
                    .await
            }
            Err(e) => Err(e),
        };
        match result {
            Ok(_) => report.failed += 1,
            Err(error) => tracing::error!(message = %id, %error, "failing the message failed"),
        }
    }

    /// Renews this worker's leases, abandons jobs taken over by others and gives back jobs
    /// the store says are ours but no task works on (their outcome could not be recorded).
    async fn renew(&self, jobs: &mut HashMap<String, AbortHandle>, report: &mut DraftingReport) {
        let held = match self.workflow.renew_drafting(&self.name, self.lease).await {
            Ok(held) => held.into_iter().collect::<HashSet<_>>(),
            Err(error) => {
                tracing::error!(%error, "renewing drafting leases failed");
                return;
            }
        };
        let missing: Vec<String> = jobs
            .iter()
            .filter(|(id, handle)| !held.contains(*id) && !handle.is_finished())
            .map(|(id, _)| id.clone())
            .collect();
        for id in missing {
            // Not ours any more: either our task just recorded its outcome, or another worker
            // took the job over after our lease ran out. Only the latter is abandoned.
            let holder = match self.workflow.message(&id).await {
                Ok(record) => record.drafting.map(|l| l.worker),
                Err(error) => {
                    tracing::error!(message = %id, %error, "reading a drafting job failed");
                    continue;
                }
            };
            if let Some(holder) = holder.filter(|h| *h != self.name) {
                tracing::warn!(message = %id, %holder, "lease taken over: abandoning the job");
                if let Some(handle) = jobs.remove(&id) {
                    handle.abort();
                }
                report.lost += 1;
                self.producer.settled(&id);
            }
        }
        for id in held.iter().filter(|id| !jobs.contains_key(*id)) {
            let result = match self.workflow.message(id).await {
                Ok(record) => {
                    self.workflow
                        .requeue(
                            id,
                            record.version,
                            &self.name,
                            "its outcome was not recorded",
                        )
                        .await
                }
                Err(e) => Err(e),
            };
            match result {
                Ok(_) => report.requeued += 1,
                Err(error) => tracing::error!(message = %id, %error, "requeueing failed"),
            }
        }
    }
}
