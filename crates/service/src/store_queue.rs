//! The drafting queue kept in the workflow store, which `tact serve` and `tact worker` share:
//! every stored message waiting for drafts is a job, claimed under a lease by a
//! [`DraftingWorker`] in whichever process has room, renewed while it drafts, and taken over
//! by another process when its drafter dies (SIGKILL, OOM, a lost machine). Nothing is lost
//! when a process dies, and several processes on one PostgreSQL store share the work.
//!
//! [`StoreQueue`] is the admission side ([`DraftDispatch`]): it refuses submissions while the
//! store holds `service.drafting_queue` jobs or more (the count is re-read from the store every
//! poll, so it covers what other processes queued) and wakes the local worker when a message
//! is stored. [`ServerDrafter`] drafts through [`drafting::draft_message`]. This is the only
//! drafting queue: `tact serve`, `tact worker` and the API tests all drain it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tact_workflow::{DraftError, DraftProducer, Drafted, DraftingWorker, MessageRecord};
use tokio::sync::{Notify, watch};

use crate::drafting::{self, DraftDispatch, QueueFull, Reservation};
use crate::state::Service;

/// Admission to the store-kept drafting queue; see the module documentation.
#[derive(Debug)]
pub struct StoreQueue {
    capacity: usize,
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    /// Jobs in the store at the last refresh, plus places reserved in this process since.
    depth: AtomicUsize,
    wake: Arc<Notify>,
    drain: Mutex<DrainRate>,
}

/// When the last drafts of this process finished: the rate a full queue drains at, for
/// `Retry-After`. Other processes sharing the store drain it too, so this errs long.
#[derive(Debug, Default)]
struct DrainRate {
    finished: VecDeque<Instant>,
}

impl DrainRate {
    /// Finishes remembered; enough to follow a change of load within a minute or so.
    const WINDOW: usize = 16;

    fn record(&mut self, at: Instant) {
        if self.finished.len() == Self::WINDOW {
            self.finished.pop_front();
        }
        self.finished.push_back(at);
    }

    /// Time for `places` more drafts to finish at the recent rate, counted from the last
    /// finish; `None` with fewer than two finishes.
    fn wait_for(&self, places: usize, now: Instant) -> Option<Duration> {
        let (first, last) = (self.finished.front()?, self.finished.back()?);
        let intervals = u32::try_from(self.finished.len() - 1)
            .ok()
            .filter(|&n| n > 0)?;
        let per_draft = last.duration_since(*first) / intervals;
        let places = u32::try_from(places).unwrap_or(u32::MAX);
        let due = *last + per_draft.saturating_mul(places);
        Some(due.saturating_duration_since(now))
    }
}

struct StoreReservation {
    shared: Arc<Shared>,
    count: usize,
}

impl Reservation for StoreReservation {
    fn dispatch(mut self: Box<Self>, message_ids: Vec<String>) {
        // The messages are stored: they are jobs now, counted by the next refresh.
        let unused = self.count.saturating_sub(message_ids.len());
        self.shared.depth.fetch_sub(unused, Ordering::Relaxed);
        self.count = 0;
        if !message_ids.is_empty() {
            self.shared.wake.notify_one();
        }
    }
}

impl Drop for StoreReservation {
    fn drop(&mut self) {
        self.shared.depth.fetch_sub(self.count, Ordering::Relaxed);
    }
}

impl StoreQueue {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            shared: Arc::default(),
        }
    }

    /// Re-reads the number of jobs (waiting and in progress) from the store.
    pub async fn refresh(&self, state: &Service) -> tact_workflow::Result<()> {
        let depth = state.workflow().drafting_queue().await?;
        let jobs = depth.waiting.saturating_add(depth.drafting);
        self.shared.depth.store(
            usize::try_from(jobs).unwrap_or(usize::MAX),
            Ordering::Relaxed,
        );
        Ok(())
    }

    fn waker(&self) -> Arc<Notify> {
        Arc::clone(&self.shared.wake)
    }
}

impl DraftDispatch for StoreQueue {
    fn reserve(&self, count: usize) -> Result<Box<dyn Reservation>, QueueFull> {
        let reserved =
            self.shared
                .depth
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |depth| {
                    depth
                        .checked_add(count)
                        .filter(|total| *total <= self.capacity)
                });
        match reserved {
            Ok(_) => Ok(Box::new(StoreReservation {
                shared: Arc::clone(&self.shared),
                count,
            })),
            Err(depth) => Err(QueueFull {
                capacity: self.capacity,
                depth,
            }),
        }
    }

    fn depth(&self) -> usize {
        self.shared.depth.load(Ordering::Relaxed)
    }

    fn capacity(&self) -> usize {
        self.capacity
    }

    fn settled(&self) {
        lock(&self.shared.drain).record(Instant::now());
    }

    fn wait_for(&self, places: usize) -> Option<Duration> {
        lock(&self.shared.drain).wait_for(places, Instant::now())
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Drafts for a [`DraftingWorker`] with the server's brands and models.
pub struct ServerDrafter {
    state: Service,
}

#[async_trait]
impl DraftProducer for ServerDrafter {
    async fn draft(&self, message: &MessageRecord) -> Result<Drafted, DraftError> {
        drafting::draft_message(&self.state, message).await
    }

    fn settled(&self, message_id: &str) {
        self.state.dispatch.settled();
        self.state.events.finish(message_id);
    }
}

/// How this process takes part in the store-kept queue.
#[derive(Debug, Clone)]
pub struct StoreDrafting {
    pub queue: Arc<StoreQueue>,
    /// Unique among the processes sharing the store.
    pub worker: String,
    pub lease: Duration,
    pub poll: Duration,
    /// How long a shutdown waits for drafts in progress before giving them back.
    pub grace: Duration,
}

/// A worker name unique across machines and restarts: host, process id, random suffix.
pub fn worker_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".to_owned());
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}-{}-{}", std::process::id(), &suffix[..8])
}

impl StoreDrafting {
    /// Drafts jobs from the store until `shutdown`, refreshing the admission count every poll;
    /// at shutdown drafts in progress get the grace period, then go back to the queue.
    pub async fn run(self, state: Service, shutdown: watch::Receiver<bool>) {
        let producer = Arc::new(ServerDrafter {
            state: state.clone(),
        });
        let worker = DraftingWorker::new(state.workflow().clone(), producer, &self.worker)
            .with_waker(self.queue.waker())
            .with_concurrency(u32::try_from(state.config().drafting_workers).unwrap_or(u32::MAX))
            .with_lease(self.lease)
            .with_poll_interval(self.poll)
            .with_grace(self.grace);
        tracing::info!(worker = %self.worker, lease = ?self.lease, "drafting from the store's queue");
        let mut stopped = shutdown.clone();
        let refresh = async {
            while !*stopped.borrow() {
                if let Err(error) = self.queue.refresh(&state).await {
                    tracing::error!(%error, "cannot read the drafting queue's depth");
                }
                tokio::select! {
                    () = tokio::time::sleep(self.poll) => {}
                    _ = stopped.changed() => {}
                }
            }
        };
        let (report, ()) = tokio::join!(worker.run(shutdown), refresh);
        if let Err(error) = report {
            tracing::error!(%error, "drafts in progress could not be given back; their leases will run out");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_are_bounded_and_released() {
        let queue = StoreQueue::new(3);
        let two = queue.reserve(2).unwrap();
        assert_eq!(queue.depth(), 2);
        assert_eq!(
            queue.reserve(2).err(),
            Some(QueueFull {
                capacity: 3,
                depth: 2
            })
        );
        // One of the two places was used: the stored message stays counted.
        two.dispatch(vec!["a".into()]);
        assert_eq!(queue.depth(), 1);
        drop(queue.reserve(2).unwrap());
        assert_eq!(
            queue.depth(),
            1,
            "an unused reservation gives its places back"
        );
    }

    #[test]
    fn the_wait_follows_the_rate_drafts_finish_at() {
        let start = Instant::now();
        let mut rate = DrainRate::default();
        assert_eq!(rate.wait_for(3, start), None);
        rate.record(start);
        assert_eq!(rate.wait_for(3, start), None, "one finish is no rate");
        // A draft every 4 s.
        for i in 1..=20 {
            rate.record(start + Duration::from_secs(4 * i));
        }
        assert_eq!(rate.finished.len(), DrainRate::WINDOW);
        let last = start + Duration::from_secs(80);
        assert_eq!(rate.wait_for(3, last), Some(Duration::from_secs(12)));
        assert_eq!(
            rate.wait_for(3, last + Duration::from_secs(5)),
            Some(Duration::from_secs(7)),
            "time since the last finish counts"
        );
        assert_eq!(
            rate.wait_for(1, last + Duration::from_secs(60)),
            Some(Duration::ZERO)
        );
    }
}
