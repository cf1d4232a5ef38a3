//! Sentence vectors kept across drafts. The grounding guard embeds every sentence of a draft's
//! sources (the fact sheet, the clauses and replies it was drafted with), and the same sources
//! come back draft after draft: the fact sheet every time, a brand's best replies often. An
//! [`Embedder`] in front of the real one embeds only the texts it has not seen, so a source
//! sentence is embedded once per process, not once per draft.

use std::sync::Arc;

use quick_cache::sync::Cache;
use tact_core::{Embedder, KnowledgeError};

/// Sentences kept by default: about 6 MB of 384-dimension vectors.
pub const DEFAULT_CAPACITY: usize = 4096;

/// An embedder that remembers the vectors of the last `capacity` or so texts it embedded.
pub struct CachedEmbedder {
    inner: Arc<dyn Embedder>,
    cache: Cache<String, Vec<f32>>,
}

impl CachedEmbedder {
    pub fn new(inner: Arc<dyn Embedder>, capacity: usize) -> Self {
        Self {
            inner,
            cache: Cache::new(capacity.max(1)),
        }
    }
}

impl std::fmt::Debug for CachedEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedEmbedder")
            .field("kept", &self.cache.len())
            .finish_non_exhaustive()
    }
}

impl Embedder for CachedEmbedder {
    fn dimension(&self) -> usize {
        self.inner.dimension()
    }

    /// The kept vector of each text, and one batch through the real embedder for the rest
    /// (each distinct text once).
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, KnowledgeError> {
        let mut out: Vec<Option<Vec<f32>>> = texts.iter().map(|t| self.cache.get(*t)).collect();
        let mut missing: Vec<&str> = Vec::new();
        for (text, vector) in texts.iter().zip(&out) {
            if vector.is_none() && !missing.contains(text) {
                missing.push(text);
            }
        }
        if !missing.is_empty() {
            let vectors = self.inner.embed(&missing)?;
            if vectors.len() != missing.len() {
                return Err(KnowledgeError::Embedding(format!(
                    "{} vectors for {} texts",
                    vectors.len(),
                    missing.len()
                )));
            }
            for (text, vector) in missing.iter().zip(vectors) {
                self.cache.insert((*text).to_owned(), vector);
            }
            for (text, slot) in texts.iter().zip(out.iter_mut()) {
                if slot.is_none() {
                    *slot = self.cache.get(*text);
                }
            }
        }
        // A text evicted between its insert and its read (a batch larger than the cache) is
        // embedded on its own.
        out.into_iter()
            .zip(texts)
            .map(|(vector, text)| match vector {
                Some(v) => Ok(v),
                None => self
                    .inner
                    .embed(&[text])?
                    .pop()
                    .ok_or_else(|| KnowledgeError::Embedding("no vector for a text".into())),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// Vectors from text lengths; records every batch.
    #[derive(Default)]
    struct Counting(Mutex<Vec<Vec<String>>>);

    impl Embedder for Counting {
        fn dimension(&self) -> usize {
            2
        }

        fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, KnowledgeError> {
            self.0
                .lock()
                .unwrap()
                .push(texts.iter().map(|t| t.to_string()).collect());
            Ok(texts.iter().map(|t| vec![t.len() as f32, 1.0]).collect())
        }
    }

    #[test]
    fn embeds_each_text_once_and_answers_in_order() {
        let inner = Arc::new(Counting::default());
        let cached = CachedEmbedder::new(inner.clone(), 16);
        let first = cached.embed(&["a", "bb", "a"]).unwrap();
        assert_eq!(first, [vec![1.0, 1.0], vec![2.0, 1.0], vec![1.0, 1.0]]);
        let second = cached.embed(&["bb", "ccc"]).unwrap();
        assert_eq!(second, [vec![2.0, 1.0], vec![3.0, 1.0]]);
        assert_eq!(cached.embed(&["ccc", "a"]).unwrap().len(), 2);
        assert_eq!(
            *inner.0.lock().unwrap(),
            [
                vec!["a".to_owned(), "bb".to_owned()],
                vec!["ccc".to_owned()]
            ]
        );
    }

    #[test]
    fn a_batch_larger_than_the_cache_still_gets_every_vector() {
        let inner = Arc::new(Counting::default());
        let cached = CachedEmbedder::new(inner, 1);
        let texts: Vec<String> = (1..=20).map(|n| "x".repeat(n)).collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let vectors = cached.embed(&refs).unwrap();
        for (n, v) in vectors.iter().enumerate() {
            assert_eq!(v[0], (n + 1) as f32);
        }
    }
}
