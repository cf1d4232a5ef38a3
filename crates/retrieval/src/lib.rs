//! The knowledge base: a brand's tone guidelines and past approved replies, embedded locally
//! and searched in Qdrant.
//!
//! [`SentenceEmbedder`] runs all-MiniLM-L6-v2 on candle (mean pooled, unit length, 384
//! dimensions). [`guidelines`] splits Markdown into citable clauses and [`replies`] reads past
//! replies from CSV or JSONL, reporting bad rows by line. Two [`VectorStore`](tact_core::VectorStore)
//! backends hold the vectors: [`EmbeddedStore`] (qdrant-edge, in this process, under a
//! directory) and [`ClusterStore`] (a Qdrant server over gRPC). [`KnowledgeBase`] ties an
//! embedder, a [`KeywordEncoder`] and a store together: idempotent ingest and dense or hybrid
//! (dense + BM25, reciprocal rank fusion) search, always filtered by brand.

mod embedder;
mod encoder;
mod error;
pub mod guidelines;
mod ingest;
mod keywords;
mod knowledge_base;
pub mod replies;
pub mod retriever;
mod store;
mod writer;

pub use embedder::{BATCH_SIZE, MAX_TOKENS, SentenceEmbedder};
pub use error::{Error, Result};
pub use ingest::{GuidelineDocument, read_guideline_documents};
pub use keywords::KeywordEncoder;
pub use knowledge_base::{
    IngestSummary, KnowledgeBase, PendingEntry, RetrievalMode, Search, guideline_entries, point_id,
    reply_entries,
};
pub use store::{ClusterConfig, ClusterStore, EmbeddedStore, IndexStatus};
