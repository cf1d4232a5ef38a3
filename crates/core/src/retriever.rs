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

    /// As [`Retriever::retrieve`], for a caller that has embedded `text` already (`vector`,
    /// from the same embedder): searches with that vector instead of embedding the text again
    /// (the text still feeds keyword search), and returns each hit with its stored vectors,
    /// so nothing retrieved needs embedding either. A draft embeds its message once this way.
    async fn retrieve_embedded(
        &self,
        filter: &KnowledgeFilter,
        text: &str,
        vector: &[f32],
        limit: usize,
    ) -> Result<Vec<KnowledgeHit>, KnowledgeError>;
}
