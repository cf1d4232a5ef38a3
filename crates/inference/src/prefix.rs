//! Prompt reuse. The candidates of one draft are generated from the same prompt with
//! different sampling seeds; the first to process it keeps its attention state and the logits
//! of its last position, and the others start from a copy instead of processing the prompt
//! again. Only whole prompts are reused, so a reused prompt gives exactly the logits and cache
//! that processing it would (partial reuse would run the rest of the prompt in different
//! chunks, through different kernels, and change results in the last bits).

use std::collections::VecDeque;

use candle_core::Tensor;

use crate::model::SequenceCache;

/// Recently processed prompts with their attention state, most recently used first.
pub(crate) struct PrefixCache {
    entries: VecDeque<Entry>,
    capacity: usize,
}

struct Entry {
    tokens: Vec<u32>,
    cache: SequenceCache,
    logits: Tensor,
}

/// Prompts shorter than this are cheaper to process than to keep.
const MIN_TOKENS: usize = 32;

impl PrefixCache {
    /// Keeps at most `capacity` prompts (0 turns reuse off).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            entries: VecDeque::with_capacity(capacity),
            capacity,
        }
    }

    pub(crate) fn enabled(&self) -> bool {
        self.capacity > 0
    }

    /// Whether a sequence with `prompt` should wait for one that is processing `other`, to
    /// reuse its work.
    pub(crate) fn worth_waiting(&self, prompt: &[u32], other: &[u32]) -> bool {
        self.enabled() && prompt.len() >= MIN_TOKENS && prompt == other
    }

    /// The state after `prompt`, when it was processed recently: an independent copy of the
    /// cache and the logits of its last position.
    pub(crate) fn lookup(&mut self, prompt: &[u32]) -> Option<(SequenceCache, Tensor)> {
        let index = self.entries.iter().position(|e| e.tokens == prompt)?;
        let entry = self.entries.remove(index)?;
        let found = match entry.cache.prefix(prompt.len()) {
            Ok(cache) => Some((cache, entry.logits.clone())),
            Err(err) => {
                tracing::warn!(%err, "could not copy a processed prompt; processing it again");
                None
            }
        };
        self.entries.push_front(entry);
        found
    }

    /// Remembers the state after `tokens`: `cache` must hold exactly their positions and
    /// `logits` be those of the last one.
    pub(crate) fn insert(&mut self, tokens: &[u32], cache: &SequenceCache, logits: &Tensor) {
        if !self.enabled() || tokens.len() < MIN_TOKENS || cache.len() != tokens.len() {
            return;
        }
        if self.entries.iter().any(|e| e.tokens == tokens) {
            return;
        }
        let copy = match cache.prefix(tokens.len()) {
            Ok(copy) => copy,
            Err(err) => {
                tracing::warn!(%err, "could not keep a processed prompt");
                return;
            }
        };
        self.entries.push_front(Entry {
            tokens: tokens.to_vec(),
            cache: copy,
            logits: logits.clone(),
        });
        self.entries.truncate(self.capacity);
    }
}
