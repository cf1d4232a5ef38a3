//! One generation in progress: its own KV cache, sampler, detokenizer and stop matcher.
//!
//! The engine advances each active sequence one step at a time: a chunk of its prompt
//! ([`Sequence::step`]), or one token decoded together with every other decoding sequence
//! ([`Sequence::accept`] takes its row of the batch's logits). Sequences never share state.

use std::time::{Duration, Instant};

use candle_core::{DType, Tensor};
use candle_transformers::generation::{LogitsProcessor, Sampling};
use tact_core::{FinishReason, GenerateError, GenerationEvent, GenerationStats, SamplingParams};
use tokio::sync::mpsc::UnboundedSender;

use crate::error::Result;
use crate::model::{ChatModel, SequenceCache};
use crate::prefix::PrefixCache;
use crate::stop::{StopMatcher, StopOutcome};
use crate::tokenizer::GgufTokenizer;

/// Prompt tokens fed to the model per step; bounds attention memory for long prompts and
/// lets other requests' decoding interleave with a long prefill.
pub(crate) const PREFILL_CHUNK: usize = 256;

/// Stop strings every reply gets: the start of a next turn in plain text. (Control tokens such
/// as `<|im_end|>` end the reply at the token level.)
pub const ROLE_STOPS: [&str; 6] = [
    "<|im_start|>",
    "<|im_end|>",
    "\nuser\n",
    "\nUser:",
    "\nuser:",
    "\nAssistant:",
];

pub(crate) struct Sequence {
    cache: SequenceCache,
    prompt: Vec<u32>,
    prefilled: usize,
    /// Prompt tokens taken from the prefix cache.
    reused: usize,
    /// Whether the prefix cache was consulted (at the first step, so that a sequence admitted
    /// together with others sharing its prompt can wait for the first one's prefill).
    looked_up: bool,
    generated: Vec<u32>,
    max_new_tokens: usize,
    sampler: LogitsProcessor,
    params: SamplingParams,
    /// Bytes of `decoded` already passed to the stop matcher.
    decoded_len: usize,
    stop: StopMatcher,
    events: UnboundedSender<GenerationEvent>,
    queued: Duration,
    started: Instant,
    prefill: Duration,
    decode: Duration,
    first_token: Option<Duration>,
    max_batch: usize,
}

/// What one step did.
pub(crate) enum Step {
    Continue,
    Finished,
}

impl Sequence {
    pub(crate) fn new(
        model: &ChatModel,
        prompt: Vec<u32>,
        params: SamplingParams,
        max_new_tokens: usize,
        events: UnboundedSender<GenerationEvent>,
        queued: Duration,
    ) -> Self {
        let sampling = if params.is_greedy() {
            Sampling::ArgMax
        } else {
            let temperature = params.temperature;
            match (params.top_k, params.top_p) {
                (None, None) => Sampling::All { temperature },
                (Some(k), None) => Sampling::TopK { k, temperature },
                (None, Some(p)) => Sampling::TopP { p, temperature },
                (Some(k), Some(p)) => Sampling::TopKThenTopP { k, p, temperature },
            }
        };
        let stops = ROLE_STOPS
            .iter()
            .map(|s| s.to_string())
            .chain(params.stop.iter().cloned());
        Self {
            cache: model.weights.new_cache(),
            prompt,
            prefilled: 0,
            reused: 0,
            looked_up: false,
            generated: Vec::new(),
            max_new_tokens,
            sampler: LogitsProcessor::from_sampling(params.seed, sampling),
            stop: StopMatcher::new(stops),
            params,
            decoded_len: 0,
            events,
            queued,
            started: Instant::now(),
            prefill: Duration::ZERO,
            decode: Duration::ZERO,
            first_token: None,
            max_batch: 1,
        }
    }

    /// The client dropped its stream: stop spending time on it.
    pub(crate) fn is_cancelled(&self) -> bool {
        self.events.is_closed()
    }

    /// Processes the next chunk of the prompt (or takes it from `prefixes`); once the prompt is
    /// done, samples the first token.
    pub(crate) fn step(&mut self, model: &ChatModel, prefixes: &mut PrefixCache) -> Step {
        let outcome = self.try_step(model, prefixes);
        self.settle(outcome)
    }

    fn settle(&mut self, outcome: Result<Step>) -> Step {
        match outcome {
            Ok(step) => step,
            Err(err) => {
                tracing::error!(%err, "generation failed");
                let _ = self
                    .events
                    .send(GenerationEvent::Failed(GenerateError::Model(
                        err.to_string(),
                    )));
                Step::Finished
            }
        }
    }

    /// Has not started processing its prompt yet.
    pub(crate) fn is_waiting(&self) -> bool {
        !self.looked_up
    }

    /// Is processing its prompt.
    pub(crate) fn is_prefilling(&self) -> bool {
        self.looked_up && self.prefilled < self.prompt.len()
    }

    /// Has sampled a token that the model has not seen yet: ready for a decoding step.
    pub(crate) fn is_decoding(&self) -> bool {
        !self.generated.is_empty()
    }

    /// The token to feed next and its position.
    pub(crate) fn decode_input(&self) -> (u32, usize) {
        let last = *self
            .generated
            .last()
            .expect("decoding starts after the first sampled token");
        (last, self.prompt.len() + self.generated.len() - 1)
    }

    pub(crate) fn cache_mut(&mut self) -> &mut SequenceCache {
        &mut self.cache
    }

    /// Takes the logits of a decoding step that ran for this sequence in a batch of `batch`
    /// sequences (which took `elapsed`) and samples the next token.
    pub(crate) fn accept(
        &mut self,
        model: &ChatModel,
        logits: std::result::Result<Tensor, String>,
        batch: usize,
        elapsed: Duration,
    ) -> Step {
        self.decode += elapsed;
        self.max_batch = self.max_batch.max(batch);
        let outcome = match logits {
            Ok(logits) => self.after_logits(model, &logits),
            Err(err) => Err(crate::error::Error::Decode(err)),
        };
        self.settle(outcome)
    }

    pub(crate) fn prompt(&self) -> &[u32] {
        &self.prompt
    }

    fn try_step(&mut self, model: &ChatModel, prefixes: &mut PrefixCache) -> Result<Step> {
        let started = Instant::now();
        if !self.looked_up {
            self.looked_up = true;
            if let Some(reused) = prefixes.lookup(&self.prompt) {
                self.cache = reused.cache;
                self.prefilled = reused.len;
                self.reused = reused.len;
                if let Some(logits) = reused.logits {
                    self.prefill += started.elapsed();
                    return self.after_logits(model, &logits);
                }
            }
        }
        let end = (self.prefilled + PREFILL_CHUNK).min(self.prompt.len());
        let logits = model.weights.forward(
            &mut self.cache,
            &self.prompt[self.prefilled..end],
            self.prefilled,
        )?;
        self.prefilled = end;
        self.prefill += started.elapsed();
        if self.prefilled < self.prompt.len() {
            return Ok(Step::Continue);
        }
        prefixes.insert(&self.prompt, &self.cache, &logits);
        self.after_logits(model, &logits)
    }

    /// Samples a token from `logits`, streams its text and decides whether the reply is over.
    fn after_logits(&mut self, model: &ChatModel, logits: &Tensor) -> Result<Step> {
        let sample_started = Instant::now();
        let token = self.sample(logits, model.tokenizer.special_ids())?;
        self.decode += sample_started.elapsed();
        if model.tokenizer.is_special(token) {
            return self.finish(&model.tokenizer, FinishReason::EndOfTurn);
        }
        self.generated.push(token);
        let delta = self.new_text(&model.tokenizer, false)?;
        match self.stop.push(&delta) {
            StopOutcome::Stopped(text) => {
                self.emit(text);
                Ok(self.done(FinishReason::Stop))
            }
            StopOutcome::Continue(text) => {
                self.emit(text);
                if self.generated.len() >= self.max_new_tokens {
                    return self.finish(&model.tokenizer, FinishReason::Length);
                }
                Ok(Step::Continue)
            }
        }
    }

    fn sample(&mut self, logits: &Tensor, special_ids: &[u32]) -> Result<u32> {
        let mut logits = logits.to_dtype(DType::F32)?;
        if self.params.ignore_eos {
            let mut values = logits.to_vec1::<f32>()?;
            for id in special_ids {
                if let Some(v) = values.get_mut(*id as usize) {
                    *v = f32::NEG_INFINITY;
                }
            }
            logits = Tensor::new(values, logits.device())?;
        }
        let logits = if self.params.repeat_penalty == 1.0 || self.generated.is_empty() {
            logits
        } else {
            let start = self
                .generated
                .len()
                .saturating_sub(self.params.repeat_last_n);
            candle_transformers::utils::apply_repeat_penalty(
                &logits,
                self.params.repeat_penalty,
                &self.generated[start..],
            )?
        };
        Ok(self.sampler.sample(&logits)?)
    }

    /// Text decoded since the last call. Byte-level BPE can split a UTF-8 character across
    /// tokens; until the character is complete the decoder yields U+FFFD, so text ending in one
    /// is held back (unless `flush`).
    fn new_text(&mut self, tokenizer: &GgufTokenizer, flush: bool) -> Result<String> {
        let decoded = tokenizer.decode(&self.generated)?;
        if !flush && decoded.ends_with('\u{FFFD}') {
            return Ok(String::new());
        }
        match decoded.get(self.decoded_len..) {
            Some(delta) => {
                let delta = delta.to_owned();
                self.decoded_len = decoded.len();
                Ok(delta)
            }
            None => Ok(String::new()),
        }
    }

    fn emit(&mut self, text: String) {
        if text.is_empty() {
            return;
        }
        if self.first_token.is_none() {
            self.first_token = Some(self.started.elapsed());
        }
        let _ = self.events.send(GenerationEvent::Delta(text));
    }

    /// Ends the reply for a reason other than a stop string: flushes any text still held back
    /// (an incomplete character, a possible stop-string prefix), which may itself complete a
    /// stop string.
    fn finish(&mut self, tokenizer: &GgufTokenizer, reason: FinishReason) -> Result<Step> {
        let rest = self.new_text(tokenizer, true)?;
        match self.stop.push(&rest) {
            StopOutcome::Stopped(text) => {
                self.emit(text);
                return Ok(self.done(FinishReason::Stop));
            }
            StopOutcome::Continue(text) => self.emit(text),
        }
        let held = self.stop.finish();
        self.emit(held);
        Ok(self.done(reason))
    }

    fn done(&mut self, finish: FinishReason) -> Step {
        let stats = GenerationStats {
            prompt_tokens: self.prompt.len(),
            reused_prompt_tokens: self.reused,
            generated_tokens: self.generated.len(),
            queued: self.queued,
            prefill: self.prefill,
            time_to_first_token: self.first_token,
            decode: self.decode,
            max_batch: self.max_batch,
        };
        let text = self.stop.text().to_owned();
        let tokens = std::mem::take(&mut self.generated);
        let _ = self.events.send(GenerationEvent::Done {
            text,
            tokens,
            finish,
            stats,
        });
        Step::Finished
    }
}
