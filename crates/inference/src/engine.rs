//! The engine: the model on its own thread, fed by a bounded queue.
//!
//! Requests are tokenized on the caller's thread (so a prompt that is too long fails at once),
//! then queued. The engine thread keeps up to `max_active` sequences, each with its own KV
//! cache: each pass processes one chunk of every prompt in progress, then decodes one token
//! of every other sequence in a single batched forward pass, streaming each its own text. A full
//! queue is [`GenerateError::QueueFull`]; a dropped stream cancels its sequence at the next step.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError, TrySendError};
use std::thread::JoinHandle;
use std::time::Instant;

use tact_core::{GenerateError, GenerateRequest, GenerationEvent, GenerationStream, TextGenerator};
use tokio::sync::mpsc::{UnboundedSender, unbounded_channel};

use crate::chat_template::ChatTemplate;
use crate::error::{Error, Result};
use crate::model::ChatModel;
use crate::prefix::{PrefixCache, PrefixStats};
use crate::sequence::{Sequence, Step};
use crate::tokenizer::GgufTokenizer;

/// Engine sizing.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Requests that may wait for a slot before `generate` answers `QueueFull`.
    pub queue_capacity: usize,
    /// Sequences in flight at once (decoded together, one batched step per token).
    pub max_active: usize,
    /// Tokens reserved for the reply when checking a prompt against the context.
    pub min_reply_tokens: usize,
    /// Recent prompts whose attention state is kept, so that the same prompt (the candidates
    /// of one draft) is processed once and a prompt sharing a beginning with a kept one (the
    /// brand part of the system prompt) processes only the rest (0: off).
    pub prefix_cache_entries: usize,
    /// Bytes of attention state the kept prompts may hold together (oldest leave first). A
    /// token costs 46 KB with SmolLM2-135M, 24 KB with Qwen 0.5B, 56 KB with Qwen 1.5B.
    pub prefix_cache_bytes: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            queue_capacity: 32,
            max_active: 8,
            min_reply_tokens: 16,
            prefix_cache_entries: 16,
            prefix_cache_bytes: 256 << 20,
        }
    }
}

struct Job {
    prompt: Vec<u32>,
    request: GenerateRequest,
    max_new_tokens: usize,
    events: UnboundedSender<GenerationEvent>,
    enqueued: Instant,
}

/// A running engine. Cheap to share behind an `Arc`; dropping it lets the thread finish the
/// queued work and exit.
pub struct Engine {
    jobs: SyncSender<Job>,
    tokenizer: GgufTokenizer,
    template: ChatTemplate,
    context_length: usize,
    config: EngineConfig,
    cancelled: Arc<AtomicUsize>,
    prefix_stats: Arc<std::sync::Mutex<PrefixStats>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("context_length", &self.context_length)
            .field("config", &self.config)
            .finish()
    }
}

impl Engine {
    pub fn start(model: ChatModel, config: EngineConfig) -> Result<Self> {
        let (jobs, queue) = mpsc::sync_channel(config.queue_capacity.max(1));
        let tokenizer = model.tokenizer.clone();
        let template = model.template.clone();
        let context_length = model.context_length;
        let max_active = config.max_active.max(1);
        let prefixes = PrefixCache::new(config.prefix_cache_entries, config.prefix_cache_bytes);
        let prefix_stats = prefixes.shared_stats();
        let cancelled = Arc::new(AtomicUsize::new(0));
        let counter = cancelled.clone();
        let thread = std::thread::Builder::new()
            .name("tact-engine".into())
            .spawn(move || run(model, queue, max_active, prefixes, &counter))
            .map_err(|e| Error::Io {
                path: "engine thread".into(),
                source: e,
            })?;
        Ok(Self {
            jobs,
            tokenizer,
            template,
            context_length,
            config,
            cancelled,
            prefix_stats,
            thread: Some(thread),
        })
    }

    /// What the prompt cache holds and how often it was used.
    pub fn prefix_stats(&self) -> PrefixStats {
        *self.prefix_stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Generations abandoned because their stream was dropped, since the engine started.
    pub fn cancelled(&self) -> usize {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// Tokenizes a conversation as the engine will see it.
    pub fn encode_chat(&self, messages: &[tact_core::ChatMessage]) -> Result<Vec<u32>> {
        self.template.encode(messages, &self.tokenizer)
    }

    pub fn tokenizer(&self) -> &GgufTokenizer {
        &self.tokenizer
    }

    /// Closes the queue and waits for the thread to finish what it holds.
    pub fn shutdown(mut self) {
        let thread = self.thread.take();
        drop(self);
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }

    fn prepare(&self, request: &GenerateRequest) -> Result<(Vec<u32>, usize)> {
        let prompt = self.encode_chat(&request.messages)?;
        let reserved = self
            .config
            .min_reply_tokens
            .min(request.sampling.max_new_tokens)
            .max(1);
        if prompt.len() + reserved > self.context_length {
            return Err(Error::PromptTooLong {
                tokens: prompt.len(),
                context: self.context_length,
                reserved,
            });
        }
        // Documented policy: the reply gets whatever context the prompt leaves, up to
        // `max_new_tokens`; prompts are never silently cut.
        let max_new_tokens = request
            .sampling
            .max_new_tokens
            .min(self.context_length - prompt.len());
        Ok((prompt, max_new_tokens))
    }
}

impl TextGenerator for Engine {
    fn generate(&self, request: GenerateRequest) -> Result<GenerationStream, GenerateError> {
        if request.sampling.max_new_tokens == 0 {
            return Err(GenerateError::InvalidRequest(
                "max_new_tokens must be at least 1".into(),
            ));
        }
        let (prompt, max_new_tokens) = self
            .prepare(&request)
            .map_err(|e| GenerateError::InvalidRequest(e.to_string()))?;
        let (events, stream) = unbounded_channel();
        let job = Job {
            prompt,
            request,
            max_new_tokens,
            events,
            enqueued: Instant::now(),
        };
        match self.jobs.try_send(job) {
            Ok(()) => Ok(GenerationStream::new(stream)),
            Err(TrySendError::Full(_)) => Err(GenerateError::QueueFull {
                capacity: self.config.queue_capacity,
            }),
            Err(TrySendError::Disconnected(_)) => Err(GenerateError::EngineStopped),
        }
    }

    fn count_tokens(&self, text: &str) -> Result<usize, GenerateError> {
        self.tokenizer
            .encode_plain(text)
            .map(|ids| ids.len())
            .map_err(|e| GenerateError::InvalidRequest(e.to_string()))
    }

    fn context_length(&self) -> usize {
        self.context_length
    }
}

fn run(
    model: ChatModel,
    queue: Receiver<Job>,
    max_active: usize,
    mut prefixes: PrefixCache,
    cancelled: &AtomicUsize,
) {
    let mut active: Vec<Sequence> = Vec::with_capacity(max_active);
    let mut open = true;
    loop {
        // Admit waiting jobs into free slots; block only when there is nothing to do.
        while open && active.len() < max_active {
            let job = if active.is_empty() {
                queue.recv().map_err(|_| TryRecvError::Disconnected)
            } else {
                queue.try_recv()
            };
            match job {
                Ok(job) => {
                    if job.events.is_closed() {
                        cancelled.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    let span = tracing::debug_span!("generate", prompt_tokens = job.prompt.len());
                    let _enter = span.enter();
                    let queued = job.enqueued.elapsed();
                    active.push(Sequence::new(
                        &model,
                        job.prompt,
                        job.request.sampling,
                        job.max_new_tokens,
                        job.events,
                        queued,
                    ));
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => open = false,
            }
        }
        if active.is_empty() {
            if open {
                continue;
            }
            return;
        }
        // Prompts: one chunk each (a decoding sequence waits for at most one chunk per
        // prompt in progress).
        let mut i = 0;
        while i < active.len() {
            if active[i].is_cancelled() {
                cancelled.fetch_add(1, Ordering::Relaxed);
                active.remove(i);
                continue;
            }
            if active[i].is_decoding() {
                i += 1;
                continue;
            }
            // A sequence whose prompt shares its beginning with one being processed waits
            // for it and then reuses that work (the candidates of one draft arrive together).
            let wait = active[i].is_waiting()
                && active.iter().enumerate().any(|(j, other)| {
                    j != i
                        && other.is_prefilling()
                        && prefixes.worth_waiting(active[i].prompt(), other.prompt())
                });
            if wait {
                i += 1;
                continue;
            }
            match active[i].step(&model, &mut prefixes) {
                Step::Continue => i += 1,
                Step::Finished => {
                    active.remove(i);
                }
            }
        }
        decode_step(&model, &mut active);
    }
}

/// One token for every decoding sequence, in one forward pass over all of them (continuous
/// batching: sequences join when their prompt is done and leave when they finish).
fn decode_step(model: &ChatModel, active: &mut Vec<Sequence>) {
    let (tokens, positions): (Vec<u32>, Vec<usize>) = active
        .iter()
        .filter(|s| s.is_decoding())
        .map(Sequence::decode_input)
        .unzip();
    if tokens.is_empty() {
        return;
    }
    let started = Instant::now();
    let mut caches: Vec<_> = active
        .iter_mut()
        .filter(|s| s.is_decoding())
        .map(Sequence::cache_mut)
        .collect();
    let logits = model
        .weights
        .forward_batch(&mut caches, &tokens, &positions)
        .map_err(|e| e.to_string());
    let elapsed = started.elapsed();
    let mut row = 0;
    active.retain_mut(|s| {
        if !s.is_decoding() {
            return true;
        }
        let logits = logits
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|l| l.get(row).map_err(|e| e.to_string()));
        row += 1;
        matches!(
            s.accept(model, logits, tokens.len(), elapsed),
            Step::Continue
        )
    });
}
