//! The retrieval seam drafting code calls: "the entries of this brand's knowledge nearest to
//! this text". Implemented by `tact-retrieval`'s knowledge base, which owns the embedder, the
//! keyword encoder and the store; the caller never learns which store holds the vectors or
//! how the search ranks.

use async_trait::async_trait;

use crate::knowledge::{KnowledgeError, KnowledgeFilter, KnowledgeHit};

/// Searches a brand's knowledge by text.
#[async_trait]
pub trait Retriever: Send + Sync {
    /// The `limit` entries that pass `filter` (always one brand, usually one kind) nearest to
    /// `text`, best first. An empty `text` is an [`KnowledgeError::InvalidRequest`].
    async fn retrieve(
        &self,
        filter: &KnowledgeFilter,
        text: &str,
        limit: usize,
    ) -> Result<Vec<KnowledgeHit>, KnowledgeError>;
}
