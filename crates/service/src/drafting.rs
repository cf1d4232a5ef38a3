//! Drafting submitted messages: admission to the drafting queue, the drafting of one message
//! ([`draft_message`]), and the hub that streams a draft's text to SSE subscribers while it is
//! generated.
//!
//! Handlers talk to a [`DraftDispatch`] (reserve room, then hand over stored message ids).
//! There is one queue and one loop: the queue kept in the workflow store
//! ([`crate::store_queue`]), drained by the workflow's `DraftingWorker` in `tact serve` and
//! `tact worker` alike, and in the API tests.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tact_core::{
    GenerateError, GenerateRequest, GenerationEvent, GenerationStream, InboundMessage,
    TextGenerator,
};
use tact_drafting::triage::Route;
use tact_drafting::{Drafter, DrafterParts};
use tact_workflow::{DraftError, Drafted, MessageRecord, Violation};
use tokio::sync::{broadcast, mpsc};

use crate::state::{BrandSetup, Service};

/// The drafting queue has no room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueFull {
    pub capacity: usize,
    pub depth: usize,
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
    /// A message's drafting ended here (drafts stored, escalated or failed).
    fn settled(&self) {}
    /// How long until `places` more places are free, at the rate drafts have been finishing;
    /// `None` before there is a rate to go by.
    fn wait_for(&self, places: usize) -> Option<std::time::Duration> {
        let _ = places;
        None
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
    state: Service,
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

/// Drafts `record` with its brand's drafter, streaming the text to the message's SSE
/// subscribers, and counts the outcome: drafts for review, or triage's escalation. The
/// store-backed [`crate::store_queue`] worker drafts through this.
pub async fn draft_message(state: &Service, record: &MessageRecord) -> Result<Drafted, DraftError> {
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
    let drafter = state.drafter(&brand, generator);
    match drafter
        .draft(&record.inbound, &state.models.draft_options)
        .await
    {
        Ok(set) if set.escalated() => {
            state.metrics().escalated.fetch_add(1, Ordering::Relaxed);
            Ok(Drafted::Escalate {
                reason: escalation_reason(&set),
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

impl Service {
    /// A drafter for `brand` generating with `generator`, with the service's triage and its
    /// cache of source-sentence vectors.
    fn drafter(&self, brand: &BrandSetup, generator: Arc<dyn TextGenerator>) -> Drafter {
        Drafter::sharing(
            DrafterParts {
                generator,
                embedder: self.models.embedder.clone(),
                retriever: self.models.retriever.clone(),
                profile: brand.profile.clone(),
                approved: brand.approved.clone(),
            },
            self.triage.clone(),
            self.sentences.clone(),
        )
    }

    /// The checks a candidate gets, on a reply a reviewer wrote or edited: the brand's
    /// guideline checks and the grounding guard against the sources a draft of `inbound` is
    /// written from ([`Drafter::check_reply`]); located by the caller.
    pub async fn check_reply(
        &self,
        brand: &BrandSetup,
        channel: &str,
        inbound: Option<&InboundMessage>,
        text: &str,
    ) -> Result<Vec<Violation>, tact_drafting::Error> {
        let drafter = self.drafter(brand, self.models.generator.clone());
        let violations = drafter
            .check_reply(inbound, channel, text, &self.models.draft_options)
            .await?;
        Ok(violations
            .iter()
            .map(tact_drafting::Violation::keyed)
            .collect())
    }
}

/// Why triage sent the message to a person.
pub fn escalation_reason(set: &tact_drafting::DraftSet) -> String {
    let screening = &set.triage.screening;
    debug_assert_eq!(screening.route, Route::Escalate);
    let topics: Vec<String> = screening
        .escalations
        .iter()
        .map(|e| format!("{} (\"{}\", {})", e.topic, e.trigger, e.clause))
        .collect();
    if topics.is_empty() {
        "triage: the message reads as a threat; a person must answer it".to_owned()
    } else {
        format!(
            "triage: escalation topic {}; a person must answer it",
            topics.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
