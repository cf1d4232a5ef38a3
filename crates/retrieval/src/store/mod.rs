//! The two [`VectorStore`](tact_core::VectorStore) backends and what they share: vector names,
//! the payload fields filtered on, and how a query is checked and fused.

mod cluster;
mod embedded;

pub use cluster::{ClusterConfig, ClusterStore};
pub use embedded::{EmbeddedStore, IndexStatus};

use tact_core::{KnowledgeError, KnowledgeFilter, KnowledgeQuery};

/// Name of the dense (semantic) vector of every point.
pub(crate) const DENSE: &str = "dense";
/// Name of the dense vector of a past reply's own text (replies only; never searched, so not
/// indexed): drafting compares candidates with it instead of embedding retrieved replies.
pub(crate) const REPLY: &str = "reply";
/// Name of the sparse keyword vector; the store applies inverse document frequency to it.
pub(crate) const KEYWORDS: &str = "keywords";
/// Payload fields with a keyword index, so that filtered searches stay fast.
pub(crate) const INDEXED_FIELDS: [&str; 4] = ["brand", "kind", "channel", "source"];
/// The usual reciprocal-rank-fusion constant: a hit's fused score is the sum of
/// `1 / (RRF_K + rank)` over the rankings it appears in.
pub(crate) const RRF_K: usize = 60;

/// How many candidates each ranking contributes to a fused search.
pub(crate) fn prefetch_limit(limit: usize) -> usize {
    (limit * 4).max(20)
}

pub(crate) fn check_query(query: &KnowledgeQuery, dimension: usize) -> Result<(), KnowledgeError> {
    if query.dense.len() != dimension {
        return Err(KnowledgeError::InvalidRequest(format!(
            "query vector of {} dimensions for a store of {dimension}",
            query.dense.len()
        )));
    }
    if query.limit == 0 {
        return Err(KnowledgeError::InvalidRequest(
            "limit must be at least 1".into(),
        ));
    }
    Ok(())
}

/// The filter as `(payload field, required value)` pairs, all of which must hold.
pub(crate) fn filter_conditions(
    filter: &KnowledgeFilter,
) -> Result<Vec<(&'static str, String)>, KnowledgeError> {
    if filter.brand.trim().is_empty() {
        return Err(KnowledgeError::InvalidRequest(
            "the brand must not be empty".into(),
        ));
    }
    let mut conditions = vec![("brand", filter.brand.clone())];
    if let Some(kind) = filter.kind {
        conditions.push(("kind", kind.as_str().to_owned()));
    }
    if let Some(channel) = &filter.channel {
        conditions.push(("channel", channel.clone()));
    }
    if let Some(source) = &filter.source {
        conditions.push(("source", source.clone()));
    }
    Ok(conditions)
}
