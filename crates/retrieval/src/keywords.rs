//! The keyword signal of hybrid search: BM25 term weights as sparse vectors.
//!
//! Documents get BM25's saturated, length-normalised term frequency; queries get weight 1 per
//! term. The stores apply inverse document frequency at search time (the sparse vector is
//! configured with the IDF modifier), so the dot product of the two is BM25. Tokenising,
//! English stop words and stemming are qdrant-edge's, the same as a Qdrant server's.

use qdrant_edge::bm25_embed::{EdgeBm25, EdgeBm25Config};
use qdrant_edge::external::ordered_float::NotNan;
use tact_core::{KnowledgeError, SparseVector};

/// Typical length, in terms, of a guideline clause or an inbound message: BM25 normalises
/// term frequency against it.
const AVERAGE_TERMS: f64 = 24.0;

pub struct KeywordEncoder {
    bm25: EdgeBm25,
}

impl std::fmt::Debug for KeywordEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeywordEncoder").finish_non_exhaustive()
    }
}

impl KeywordEncoder {
    pub fn new() -> Result<Self, KnowledgeError> {
        let config = EdgeBm25Config {
            avg_len: NotNan::new(AVERAGE_TERMS).expect("a constant that is not NaN"),
            language: Some("english".into()),
            ..EdgeBm25Config::default()
        };
        let bm25 = EdgeBm25::new(config)
            .map_err(|e| KnowledgeError::InvalidRequest(format!("BM25 configuration: {e}")))?;
        Ok(Self { bm25 })
    }

    pub fn document(&self, text: &str) -> SparseVector {
        convert(self.bm25.embed_document(text))
    }

    pub fn query(&self, text: &str) -> SparseVector {
        convert(self.bm25.embed_query(text))
    }
}

fn convert(vector: qdrant_edge::SparseVector) -> SparseVector {
    SparseVector {
        indices: vector.indices,
        values: vector.values,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stemmed_terms_match_and_stop_words_do_not_count() {
        let encoder = KeywordEncoder::new().unwrap();
        let doc = encoder.document("Refunds are processed within five days");
        let query = encoder.query("refund processing");
        let shared = query
            .indices
            .iter()
            .filter(|i| doc.indices.contains(i))
            .count();
        assert_eq!(
            shared, 2,
            "refund/refunds and processing/processed share stems"
        );
        assert!(encoder.query("the and of").indices.is_empty());
    }
}
