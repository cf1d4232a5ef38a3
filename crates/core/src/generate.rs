//! The text-generation seam: a request goes in, a stream of text deltas comes back.
//!
//! Implemented by `tact-inference`'s engine; consumed by the CLI now and by drafting and the
//! server later, none of which need to know that candle runs the model.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::chat::{ChatMessage, SamplingParams};

/// One generation: the conversation so far and how to sample the reply.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GenerateRequest {
    pub messages: Vec<ChatMessage>,
    pub sampling: SamplingParams,
}

/// Why a generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// The model ended its turn.
    EndOfTurn,
    /// A stop string (or the start of a next turn) appeared.
    Stop,
    /// `max_new_tokens` was reached.
    Length,
}

/// Timings and counts of one generation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationStats {
    pub prompt_tokens: usize,
    /// Prompt tokens whose attention state was reused from an earlier prompt with the same
    /// beginning instead of being processed again (counted in `prompt_tokens` too).
    #[serde(default)]
    pub reused_prompt_tokens: usize,
    pub generated_tokens: usize,
    /// Time the request waited in the queue before the engine took it.
    pub queued: Duration,
    /// Prompt processing (prefill) time.
    pub prefill: Duration,
    /// Time from the engine taking the request to the first text delta.
    pub time_to_first_token: Option<Duration>,
    /// Token-by-token generation time, after prefill.
    pub decode: Duration,
    /// The most sequences this one was decoded together with in one step, itself included
    /// (1: it was decoded alone).
    #[serde(default)]
    pub max_batch: usize,
}

impl GenerationStats {
    /// Prompt tokens processed per second; 0 when the whole prompt was reused.
    pub fn prefill_tokens_per_s(&self) -> f64 {
        let processed = self.prompt_tokens.saturating_sub(self.reused_prompt_tokens);
        if processed == 0 {
            return 0.0;
        }
        per_second(processed, self.prefill)
    }
    pub fn decode_tokens_per_s(&self) -> f64 {
        per_second(self.generated_tokens, self.decode)
    }
}

fn per_second(count: usize, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 { count as f64 / secs } else { 0.0 }
}

/// What a generation stream yields.
#[derive(Debug, Clone, PartialEq)]
pub enum GenerationEvent {
    /// New reply text. Deltas are whole UTF-8 characters; concatenated they equal the
    /// `text` of [`GenerationEvent::Done`].
    Delta(String),
    /// The end: the whole reply, the ids of the tokens generated for it, why it ended, and
    /// timings.
    Done {
        text: String,
        tokens: Vec<u32>,
        finish: FinishReason,
        stats: GenerationStats,
    },
    /// The generation failed after it was accepted.
    Failed(GenerateError),
}

/// Errors a caller of [`TextGenerator`] must handle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenerateError {
    /// The engine's queue is full; try again later (HTTP 503 with `Retry-After`).
    #[error("the generation queue is full ({capacity} waiting); try again shortly")]
    QueueFull { capacity: usize },
    /// The engine has stopped (its thread ended or the model failed to load).
    #[error("the generation engine has stopped")]
    EngineStopped,
    /// The request itself is unusable (empty conversation, prompt too long, ...).
    #[error("invalid generation request: {0}")]
    InvalidRequest(String),
    /// The model failed while generating.
    #[error("generation failed: {0}")]
    Model(String),
}

/// The receiving end of one generation. Dropping it cancels the generation.
#[derive(Debug)]
pub struct GenerationStream {
    events: mpsc::UnboundedReceiver<GenerationEvent>,
}

impl GenerationStream {
    pub fn new(events: mpsc::UnboundedReceiver<GenerationEvent>) -> Self {
        Self { events }
    }

    /// Next event, waiting asynchronously; `None` after the final event.
    pub async fn next(&mut self) -> Option<GenerationEvent> {
        self.events.recv().await
    }

    /// Next event, blocking the calling thread; never call this on an async executor.
    pub fn next_blocking(&mut self) -> Option<GenerationEvent> {
        self.events.blocking_recv()
    }

    /// Blocks until the generation ends, calling `on_delta` for each piece of text.
    pub fn wait_blocking(
        mut self,
        mut on_delta: impl FnMut(&str),
    ) -> Result<(String, FinishReason, GenerationStats), GenerateError> {
        while let Some(event) = self.next_blocking() {
            match event {
                GenerationEvent::Delta(text) => on_delta(&text),
                GenerationEvent::Done {
                    text,
                    finish,
                    stats,
                    ..
                } => return Ok((text, finish, stats)),
                GenerationEvent::Failed(err) => return Err(err),
            }
        }
        Err(GenerateError::EngineStopped)
    }
}

/// Something that turns a conversation into a streamed reply.
pub trait TextGenerator: Send + Sync {
    /// Queues a generation and returns its stream at once; fails fast when the queue is full.
    fn generate(&self, request: GenerateRequest) -> Result<GenerationStream, GenerateError>;

    /// Number of tokens `text` takes in this model's vocabulary (for prompt budgeting).
    fn count_tokens(&self, text: &str) -> Result<usize, GenerateError>;

    /// The model's context window in tokens.
    fn context_length(&self) -> usize;
}
