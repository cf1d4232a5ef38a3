//! Prompt reuse across requests. Every processed prompt's attention state is kept (newest
//! first, within a byte budget); a new prompt starts from the longest beginning it shares with
//! one of them instead of processing it again:
//!
//! - the same prompt again (the candidates of one draft, drawn with different seeds) reuses
//!   all of it, with the logits of its last position: exactly what processing it would give;
//! - a prompt of the same brand and channel shares the system prompt's brand part (voice,
//!   channel rules, the grounding rules) with the last one: those positions are copied and only
//!   the rest (clauses, examples, the message) is processed. Positions depend only on the
//!   tokens before them, so this is the same computation; the rest is processed in different
//!   chunks than a cold prompt would be, which can change the last bits of a logit.
//!
//! Nothing needs invalidating: entries are keyed by their tokens, so when a brand's profile or
//! guidelines change, its prompts change, and the old state matches only as far as the old
//! and new text agree. Stale entries age out of the budget.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use candle_core::Tensor;

use crate::model::SequenceCache;

/// Recently processed prompts with their attention state, most recently used first.
pub(crate) struct PrefixCache {
    entries: VecDeque<Entry>,
    capacity: usize,
    budget_bytes: usize,
    stats: PrefixStats,
    /// `stats` as last published, for readers on other threads. Published on every change,
    /// before the sequence that caused it can finish.
    shared: Arc<Mutex<PrefixStats>>,
}

struct Entry {
    tokens: Vec<u32>,
    cache: SequenceCache,
    logits: Tensor,
    bytes: usize,
}

/// What the cache holds and how often it helped, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PrefixStats {
    pub entries: usize,
    pub bytes: usize,
    /// Lookups that reused a whole prompt.
    pub whole_hits: u64,
    /// Lookups that reused a beginning of the prompt.
    pub prefix_hits: u64,
    pub misses: u64,
    /// Prompt tokens that were not processed thanks to reuse.
    pub reused_tokens: u64,
}

/// A prompt's reusable state.
pub(crate) struct Reused {
    pub(crate) cache: SequenceCache,
    /// Positions `0..len` are in `cache`.
    pub(crate) len: usize,
    /// The last position's logits, when the whole prompt was found.
    pub(crate) logits: Option<Tensor>,
}

/// Prompts (and shared beginnings) shorter than this are cheaper to process than to copy.
const MIN_TOKENS: usize = 32;

impl PrefixCache {
    /// Keeps at most `capacity` prompts within `budget_bytes` of attention state (0 turns
    /// reuse off).
    pub(crate) fn new(capacity: usize, budget_bytes: usize) -> Self {
        Self {
            entries: VecDeque::with_capacity(capacity),
            capacity,
            budget_bytes,
            stats: PrefixStats::default(),
            shared: Arc::default(),
        }
    }

    /// A handle other threads read the statistics through.
    pub(crate) fn shared_stats(&self) -> Arc<Mutex<PrefixStats>> {
        self.shared.clone()
    }

    fn publish(&self) {
        *self.shared.lock().unwrap_or_else(|e| e.into_inner()) = self.stats;
    }

    pub(crate) fn enabled(&self) -> bool {
        self.capacity > 0 && self.budget_bytes > 0
    }

    /// Whether a sequence with `prompt` should wait for one that is processing `other`, to
    /// reuse all of its work.
    pub(crate) fn worth_waiting(&self, prompt: &[u32], other: &[u32]) -> bool {
        self.enabled() && prompt.len() >= MIN_TOKENS && prompt == other
    }

    /// The state after the longest beginning of `prompt` held here (at least [`MIN_TOKENS`]),
    /// as an independent copy.
    pub(crate) fn lookup(&mut self, prompt: &[u32]) -> Option<Reused> {
        if !self.enabled() || prompt.len() < MIN_TOKENS {
            return None;
        }
        let Some((index, shared)) = self
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| (i, common_prefix(&e.tokens, prompt)))
            .max_by_key(|&(i, shared)| (shared, std::cmp::Reverse(i)))
        else {
            self.stats.misses += 1;
            self.publish();
            return None;
        };
        let whole = shared == prompt.len() && self.entries[index].tokens.len() == prompt.len();
        // A prompt that is a strict beginning of a kept one still needs its last position's
        // logits: process at least that position.
        let len = if whole {
            shared
        } else {
            shared.min(prompt.len() - 1)
        };
        if len < MIN_TOKENS {
            self.stats.misses += 1;
            self.publish();
            return None;
        }
        let entry = self.entries.remove(index)?;
        let found = match entry.cache.prefix(len) {
            Ok(cache) => Some(Reused {
                cache,
                len,
                logits: whole.then(|| entry.logits.clone()),
            }),
            Err(err) => {
                tracing::warn!(%err, "could not copy a processed prompt; processing it again");
                None
            }
        };
        self.entries.push_front(entry);
        match (&found, whole) {
            (None, _) => self.stats.misses += 1,
            (Some(_), true) => self.stats.whole_hits += 1,
            (Some(_), false) => self.stats.prefix_hits += 1,
        }
        if found.is_some() {
            self.stats.reused_tokens += len as u64;
        }
        self.publish();
        found
    }

    /// Remembers the state after `tokens`: `cache` must hold exactly their positions and
    /// `logits` be those of the last one. The oldest entries leave to stay within the budget.
    pub(crate) fn insert(&mut self, tokens: &[u32], cache: &SequenceCache, logits: &Tensor) {
        if !self.enabled() || tokens.len() < MIN_TOKENS || cache.len() != tokens.len() {
            return;
        }
        if let Some(i) = self.entries.iter().position(|e| e.tokens == tokens) {
            let entry = self.entries.remove(i).expect("found above");
            self.entries.push_front(entry);
            return;
        }
        let bytes = cache.bytes();
        if bytes > self.budget_bytes {
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
            bytes,
        });
        while self.entries.len() > self.capacity
            || self.entries.iter().map(|e| e.bytes).sum::<usize>() > self.budget_bytes
        {
            self.entries.pop_back();
        }
        self.stats.entries = self.entries.len();
        self.stats.bytes = self.entries.iter().map(|e| e.bytes).sum();
        self.publish();
    }
}

fn common_prefix(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}
