//! Drafting submitted messages: the bounded queue, the loop that drafts, and the hub that
//! streams a draft's text to SSE subscribers while it is generated.
//!
//! The seam: handlers talk to a [`DraftDispatch`] (reserve room, then hand over stored
//! message ids) and the loop ([`run_drafting`]) takes [`DraftJob`]s from a [`JobSource`].
//! [`in_process_queue`] implements both over a semaphore and a channel; a queue kept in the
//! workflow store (jobs claimed with a lease, so `tact worker` processes can share them)
//! implements the same two traits and the loop does not change.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use tact_core::{GenerateError, GenerateRequest, GenerationEvent, GenerationStream, TextGenerator};
use tact_drafting::{Drafter, DrafterParts};
use tact_workflow::{DraftError, Drafted, MessageFilter, MessageRecord, Status};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast, mpsc, watch};
use tokio::task::JoinSet;

use crate::convert;
use crate::state::AppState;

/// The drafting queue has no room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueFull {
    pub capacity: usize,
    pub depth: usize,
}

/// A message to draft. Holding it holds its place in the queue; drop it when done.
pub struct DraftJob {
    pub message_id: String,
    _slot: Option<Box<dyn Send + Sync>>,
}

impl std::fmt::Debug for DraftJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DraftJob")
            .field("message_id", &self.message_id)
            .finish_non_exhaustive()
    }
}

/// Room reserved for messages about to be stored; [`Reservation::dispatch`] hands them over.
/// Dropping it unused gives the room back.
pub trait Reservation: Send {
    fn dispatch(self: Box<Self>, message_ids: Vec<String>);
}

/// Where handlers put stored messages for drafting. Room is reserved *before* a message is
/// stored, so a full queue refuses the request without storing anything.
pub trait DraftDispatch: Send + Sync {
    fn reserve(&self, count: usize) -> Result<Box<dyn Reservation>, QueueFull>;
    /// Messages waiting for or in drafting.
    fn depth(&self) -> usize;
    fn capacity(&self) -> usize;
}

/// Where the drafting loop takes its next job from; `None` when there will be no more.
#[async_trait]
pub trait JobSource: Send {
    async fn next_job(&mut self) -> Option<DraftJob>;
}

/// The in-process queue: a semaphore of `capacity` places (held from reservation until the
/// message is drafted) in front of a channel.
pub fn in_process_queue(capacity: usize) -> (Arc<InProcessQueue>, InProcessJobs) {
    let (sender, receiver) = mpsc::unbounded_channel();
    let queue = InProcessQueue {
        places: Arc::new(Semaphore::new(capacity)),
        sender,
        capacity,
    };
    (Arc::new(queue), InProcessJobs { receiver })
}

#[derive(Debug)]
pub struct InProcessQueue {
    places: Arc<Semaphore>,
    sender: mpsc::UnboundedSender<DraftJob>,
    capacity: usize,
}

#[derive(Debug)]
pub struct InProcessJobs {
    receiver: mpsc::UnboundedReceiver<DraftJob>,
}

struct InProcessReservation {
    permit: OwnedSemaphorePermit,
    sender: mpsc::UnboundedSender<DraftJob>,
}

impl Reservation for InProcessReservation {
    fn dispatch(mut self: Box<Self>, message_ids: Vec<String>) {
        for message_id in message_ids {
            let slot = self.permit.split(1);
            let job = DraftJob {
                message_id,
                _slot: slot.map(|s| Box::new(s) as Box<dyn Send + Sync>),
            };
            if self.sender.send(job).is_err() {
                tracing::warn!("the drafting loop has stopped; the message stays received");
            }
        }
    }
}

impl DraftDispatch for InProcessQueue {
    fn reserve(&self, count: usize) -> Result<Box<dyn Reservation>, QueueFull> {
        let full = || QueueFull {
            capacity: self.capacity,
            depth: self.depth(),
        };
        let count = u32::try_from(count).map_err(|_| full())?;
        let permit = self
            .places
            .clone()
            .try_acquire_many_owned(count)
            .map_err(|_| full())?;
        Ok(Box::new(InProcessReservation {
            permit,
            sender: self.sender.clone(),
        }))
    }

    fn depth(&self) -> usize {
        self.capacity
            .saturating_sub(self.places.available_permits())
    }

    fn capacity(&self) -> usize {
        self.capacity
    }
}

#[async_trait]
impl JobSource for InProcessJobs {
    async fn next_job(&mut self) -> Option<DraftJob> {
        self.receiver.recv().await
    }
}

/// What SSE subscribers of a message hear.
#[derive(Debug, Clone, PartialEq)]
pub enum DraftEvent {
    Delta {
        candidate: usize,
        text: String,
    },
    /// Drafting ended (drafts stored, message escalated or failed): read the message.
    Finished,
}

/// Broadcast channels of the messages being drafted, by message id.
#[derive(Debug, Default)]
pub struct EventHub {
    channels: Mutex<HashMap<String, broadcast::Sender<DraftEvent>>>,
}

/// Deltas a slow subscriber may fall behind by before it skips ahead.
const EVENT_BUFFER: usize = 1024;

impl EventHub {
    fn channels(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, broadcast::Sender<DraftEvent>>> {
        self.channels.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn sender(&self, message_id: &str) -> broadcast::Sender<DraftEvent> {
        self.channels()
            .entry(message_id.to_owned())
            .or_insert_with(|| broadcast::channel(EVENT_BUFFER).0)
            .clone()
    }

    /// Subscribes before the caller reads the message's state, so nothing is missed between.
    pub fn subscribe(&self, message_id: &str) -> broadcast::Receiver<DraftEvent> {
        self.sender(message_id).subscribe()
    }

    /// Drops the channel of a message nobody drafts or listens to any more.
    pub fn release(&self, message_id: &str) {
        let mut channels = self.channels();
        if channels
            .get(message_id)
            .is_some_and(|s| s.receiver_count() == 0)
        {
            channels.remove(message_id);
        }
    }

    pub(crate) fn finish(&self, message_id: &str) {
        if let Some(sender) = self.channels().remove(message_id) {
            let _ = sender.send(DraftEvent::Finished);
        }
    }
}

/// A generator that copies each generation's text deltas to the message's subscribers
/// (candidate `i` is the `i`-th generation the drafter starts) and times the first token.
struct TeeGenerator {
    inner: Arc<dyn TextGenerator>,
    events: broadcast::Sender<DraftEvent>,
    next_index: AtomicUsize,
    state: AppState,
}

impl TextGenerator for TeeGenerator {
    fn generate(&self, request: GenerateRequest) -> Result<GenerationStream, GenerateError> {
        let candidate = self.next_index.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let mut stream = self.inner.generate(request)?;
        let (sender, receiver) = mpsc::unbounded_channel();
        let events = self.events.clone();
        let state = self.state.clone();
        tokio::spawn(async move {
            let mut first = true;
            while let Some(event) = stream.next().await {
                let last = match &event {
                    GenerationEvent::Delta(text) => {
                        if first {
                            first = false;
                            state
                                .metrics()
                                .time_to_first_token
                                .observe(started.elapsed());
                        }
                        let _ = events.send(DraftEvent::Delta {
                            candidate,
                            text: text.clone(),
                        });
                        false
                    }
                    GenerationEvent::Done { .. } | GenerationEvent::Failed(_) => true,
                };
                // The drafter dropped its stream: dropping ours cancels the generation.
                if sender.send(event).is_err() || last {
                    break;
                }
            }
        });
        Ok(GenerationStream::new(receiver))
    }

    fn count_tokens(&self, text: &str) -> Result<usize, GenerateError> {
        self.inner.count_tokens(text)
    }

    fn context_length(&self) -> usize {
        self.inner.context_length()
    }
}

/// Who the audit log names for drafting steps.
pub const DRAFTER: &str = "drafter";
pub const TRIAGE: &str = "triage";

/// Takes jobs from `source` and drafts up to `server.drafting_workers` of them at once until
/// `shutdown` turns true or the source ends; drafts in progress are finished first. Jobs
/// still queued stay `received` in the store and are queued again at the next start.
pub async fn run_drafting(
    state: AppState,
    mut source: Box<dyn JobSource>,
    mut shutdown: watch::Receiver<bool>,
) {
    let workers = Arc::new(Semaphore::new(state.config().drafting_workers));
    let mut tasks = JoinSet::new();
    loop {
        if *shutdown.borrow() {
            break;
        }
        let permit = tokio::select! {
            permit = workers.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = shutdown.changed() => break,
        };
        let job = tokio::select! {
            job = source.next_job() => match job {
                Some(job) => job,
                None => break,
            },
            _ = shutdown.changed() => break,
        };
        let state = state.clone();
        tasks.spawn(async move {
            draft_one(&state, &job.message_id).await;
            drop(job);
            drop(permit);
        });
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
}

/// Drafts one received message: triage, then drafts stored for review, or escalation to a
/// person, or the failure on record. A message another worker already took is left alone.
async fn draft_one(state: &AppState, message_id: &str) {
    let workflow = state.workflow();
    let record = match workflow.message(message_id).await {
        Ok(r) if r.state.status() == Status::Received => r,
        Ok(_) => return,
        Err(e) => {
            tracing::error!(message = message_id, error = %e, "cannot read a queued message");
            return;
        }
    };
    let record = match workflow
        .start_drafting(message_id, record.version, DRAFTER)
        .await
    {
        Ok(r) => r,
        Err(tact_workflow::Error::StaleVersion { .. }) => return,
        Err(e) => {
            tracing::error!(message = message_id, error = %e, "cannot start drafting");
            return;
        }
    };
    let version = record.version;
    let stored = match draft_message(state, &record).await {
        Ok(Drafted::Escalate { reason }) => {
            workflow
                .escalate(message_id, version, TRIAGE, &reason)
                .await
        }
        Ok(Drafted::Ready(drafts)) => {
            workflow
                .drafts_ready(message_id, version, DRAFTER, drafts)
                .await
        }
        Err(e) => {
            workflow
                .drafting_failed(message_id, version, DRAFTER, &e.to_string())
                .await
        }
    };
    if let Err(e) = stored {
        tracing::error!(message = message_id, error = %e, "cannot record the drafting outcome");
    }
    state.events.finish(message_id);
}

/// Drafts `record` with its brand's drafter, streaming the text to the message's SSE
/// subscribers, and counts the outcome: drafts for review, or triage's escalation. Both the
/// in-process loop and the store-backed [`crate::store_queue`] worker draft through this.
pub async fn draft_message(
    state: &AppState,
    record: &MessageRecord,
) -> Result<Drafted, DraftError> {
    let message_id = record.inbound.id.as_str();
    let Some(brand) = state.brand(&record.inbound.brand) else {
        return Err(DraftError::Failed(format!(
            "this server does not serve brand {:?}",
            record.inbound.brand
        )));
    };
    let generator = Arc::new(TeeGenerator {
        inner: state.models.generator.clone(),
        events: state.events.sender(message_id),
        next_index: AtomicUsize::new(0),
        state: state.clone(),
    });
    let drafter = Drafter::with_triage(
        DrafterParts {
            generator,
            embedder: state.models.embedder.clone(),
            retriever: state.models.retriever.clone(),
            profile: brand.profile.clone(),
            approved: brand.approved.clone(),
        },
        state.triage.clone(),
    );
    match drafter
        .draft(&record.inbound, &state.models.draft_options)
        .await
    {
        Ok(set) if set.escalated() => {
            state.metrics().escalated.fetch_add(1, Ordering::Relaxed);
            Ok(Drafted::Escalate {
                reason: convert::escalation_reason(&set),
            })
        }
        Ok(set) => {
            state.metrics().drafts.fetch_add(1, Ordering::Relaxed);
            Ok(Drafted::Ready(set.drafts()))
        }
        // The engine is full or gone in this process: another try (here or in another
        // process) may succeed, so the message is not failed for it.
        Err(tact_drafting::Error::Generate(
            e @ (GenerateError::QueueFull { .. } | GenerateError::EngineStopped),
        )) => Err(DraftError::Busy(e.to_string())),
        Err(e) => {
            tracing::warn!(message = message_id, reason = %e, "drafting failed");
            state
                .metrics()
                .drafting_failures
                .fetch_add(1, Ordering::Relaxed);
            Err(DraftError::Failed(e.to_string()))
        }
    }
}

/// Queues the messages a previous run stored but did not draft (as many as fit).
pub async fn requeue_received(state: &AppState) -> Result<usize, tact_workflow::Error> {
    let room = state
        .dispatch
        .capacity()
        .saturating_sub(state.dispatch.depth());
    if room == 0 {
        return Ok(0);
    }
    let waiting = state
        .workflow()
        .queue(&MessageFilter {
            status: Some(Status::Received),
            limit: Some(u32::try_from(room).unwrap_or(u32::MAX)),
            ..MessageFilter::default()
        })
        .await?;
    let ids: Vec<String> = waiting.into_iter().map(|r| r.inbound.id).collect();
    let count = ids.len();
    if count > 0
        && let Ok(reservation) = state.dispatch.reserve(count)
    {
        reservation.dispatch(ids);
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_queue_refuses_and_frees_room_as_jobs_finish() {
        let (queue, mut jobs) = in_process_queue(3);
        let two = queue.reserve(2).unwrap();
        assert_eq!(queue.depth(), 2);
        assert_eq!(
            queue.reserve(2).err(),
            Some(QueueFull {
                capacity: 3,
                depth: 2
            })
        );
        two.dispatch(vec!["a".into(), "b".into()]);
        let a = jobs.next_job().await.unwrap();
        assert_eq!(a.message_id, "a");
        assert_eq!(queue.depth(), 2);
        drop(a);
        assert_eq!(queue.depth(), 1);
        // A reservation dropped unused gives its room back.
        drop(queue.reserve(2).unwrap());
        assert_eq!(queue.depth(), 1);
    }

    #[tokio::test]
    async fn subscribers_hear_deltas_then_the_end() {
        let hub = EventHub::default();
        let mut rx = hub.subscribe("m1");
        let tx = hub.sender("m1");
        tx.send(DraftEvent::Delta {
            candidate: 0,
            text: "Hi".into(),
        })
        .unwrap();
        hub.finish("m1");
        assert_eq!(
            rx.recv().await.unwrap(),
            DraftEvent::Delta {
                candidate: 0,
                text: "Hi".into()
            }
        );
        assert_eq!(rx.recv().await.unwrap(), DraftEvent::Finished);
        assert!(hub.channels().is_empty());
    }
}
