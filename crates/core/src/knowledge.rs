//! The knowledge-base seams: turning text into vectors ([`Embedder`]) and keeping a brand's
//! guideline clauses and past replies where they can be searched ([`VectorStore`]).
//!
//! Implemented by `tact-retrieval` (a local BERT embedder; embedded Qdrant or a Qdrant cluster);
//! consumed by drafting code, which never learns which store holds the vectors.

use std::fmt;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// What a knowledge entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KnowledgeKind {
    /// A clause of a brand's tone guidelines.
    Guideline,
    /// A past approved reply to an inbound message.
    Reply,
}

impl KnowledgeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            KnowledgeKind::Guideline => "guideline",
            KnowledgeKind::Reply => "reply",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "guideline" => Some(KnowledgeKind::Guideline),
            "reply" => Some(KnowledgeKind::Reply),
            _ => None,
        }
    }
}

impl fmt::Display for KnowledgeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One searchable entry, as stored in a point's payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KnowledgeEntry {
    pub brand: String,
    pub kind: KnowledgeKind,
    /// What a draft cites: `"voice-and-tone.md > Be human > 2"` for a guideline clause, the
    /// record id (or `"<file>:<line>"`) for a past reply.
    pub cite: String,
    /// Where the entry came from (the guideline file name, the replies file name); re-ingesting
    /// a guideline file removes that file's clauses that are gone.
    pub source: String,
    /// The embedded text: the clause, or the inbound message a reply answered.
    pub text: String,
    /// The approved reply (replies only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// RFC 3339 (replies only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// Hash of everything above: equal hashes mean re-ingesting changes nothing.
    pub content_hash: String,
}

/// A keyword vector: term ids and weights, ids strictly increasing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SparseVector {
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
}

/// An entry with its vectors, ready to store. `id` is stable for the entry's identity (brand,
/// kind, cite), so an edited entry replaces its old version.
#[derive(Debug, Clone, PartialEq)]
pub struct KnowledgePoint {
    pub id: u64,
    pub entry: KnowledgeEntry,
    /// The embedding of the entry's text (what searches match).
    pub dense: Vec<f32>,
    pub sparse: SparseVector,
    /// For a past reply, the embedding of the reply itself: drafting compares candidates with
    /// the brand's words, and reads this back instead of embedding the reply again. A store
    /// created before reply vectors existed leaves it out.
    pub reply_dense: Option<Vec<f32>>,
}

/// Which entries a search or count may see. The brand is not optional: brands never see each
/// other's data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnowledgeFilter {
    pub brand: String,
    pub kind: Option<KnowledgeKind>,
    pub channel: Option<String>,
    pub source: Option<String>,
}

impl KnowledgeFilter {
    pub fn brand(brand: impl Into<String>) -> Self {
        Self {
            brand: brand.into(),
            kind: None,
            channel: None,
            source: None,
        }
    }

    pub fn kind(mut self, kind: KnowledgeKind) -> Self {
        self.kind = Some(kind);
        self
    }

    pub fn channel(mut self, channel: impl Into<String>) -> Self {
        self.channel = Some(channel.into());
        self
    }

    pub fn source(mut self, source: impl Into<String>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Whether `entry` passes this filter (what every store must agree with).
    pub fn matches(&self, entry: &KnowledgeEntry) -> bool {
        entry.brand == self.brand
            && self.kind.is_none_or(|k| k == entry.kind)
            && self
                .channel
                .as_ref()
                .is_none_or(|c| entry.channel.as_ref() == Some(c))
            && self.source.as_ref().is_none_or(|s| &entry.source == s)
    }
}

/// A search: a dense query vector, optionally a keyword vector to fuse with it.
#[derive(Debug, Clone, PartialEq)]
pub struct KnowledgeQuery {
    pub dense: Vec<f32>,
    /// When present, dense and keyword rankings are fused by reciprocal rank fusion.
    pub sparse: Option<SparseVector>,
    pub filter: KnowledgeFilter,
    pub limit: usize,
    /// Return each hit's stored vectors ([`KnowledgeHit::dense`], [`KnowledgeHit::reply_dense`]).
    pub with_vectors: bool,
}

/// One search result, best first. `score` is cosine similarity for dense-only searches and the
/// fused rank score for hybrid ones.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KnowledgeHit {
    pub id: u64,
    pub score: f32,
    pub entry: KnowledgeEntry,
    /// The stored embedding of the entry's text, when the query asked for vectors.
    #[serde(skip)]
    pub dense: Option<Vec<f32>>,
    /// The stored embedding of a past reply's text, when the query asked for vectors and the
    /// store keeps them.
    #[serde(skip)]
    pub reply_dense: Option<Vec<f32>>,
}

/// Errors of the knowledge seams.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KnowledgeError {
    /// Another process holds the store (an embedded store opens in one process only).
    #[error("the knowledge store at {path} is in use by another process{hint}")]
    StoreInUse { path: String, hint: String },
    /// The request is unusable (wrong vector size, empty brand, ...).
    #[error("invalid knowledge request: {0}")]
    InvalidRequest(String),
    /// The store failed (I/O, server error, corrupt data).
    #[error("knowledge store failed: {0}")]
    Store(String),
    /// The embedding model failed.
    #[error("embedding failed: {0}")]
    Embedding(String),
}

/// Turns texts into unit-length dense vectors. CPU-heavy and synchronous: call it off the async
/// executor.
pub trait Embedder: Send + Sync {
    /// Length of every vector returned.
    fn dimension(&self) -> usize;
    /// One vector per text, in order.
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, KnowledgeError>;
}

/// Where knowledge points live.
#[async_trait]
pub trait VectorStore: Send + Sync {
    /// Inserts or replaces points by id.
    async fn upsert(&self, points: Vec<KnowledgePoint>) -> Result<(), KnowledgeError>;
    /// The stored content hash of each id that exists, in no particular order.
    async fn content_hashes(&self, ids: &[u64]) -> Result<Vec<(u64, String)>, KnowledgeError>;
    /// Ids of every point that passes `filter`.
    async fn ids(&self, filter: &KnowledgeFilter) -> Result<Vec<u64>, KnowledgeError>;
    /// Removes points; missing ids are ignored.
    async fn delete(&self, ids: &[u64]) -> Result<(), KnowledgeError>;
    /// The nearest points that pass the query's filter, best first.
    async fn search(&self, query: &KnowledgeQuery) -> Result<Vec<KnowledgeHit>, KnowledgeError>;
    /// Exact number of points that pass `filter`.
    async fn count(&self, filter: &KnowledgeFilter) -> Result<usize, KnowledgeError>;
    /// Waits until the store's search indexes cover every write so far. Stores index new
    /// points in the background (searches stay correct meanwhile, only slower), so this is
    /// for the end of a bulk ingest, not for every write. The default does nothing: a Qdrant
    /// server optimises on its own schedule.
    async fn optimize(&self) -> Result<(), KnowledgeError> {
        Ok(())
    }
}

/// An approved reply for a brand's knowledge base to learn from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LearnedReply {
    pub brand: String,
    /// How drafts cite it (`approved-<message id>`); adding the same cite again with the same
    /// content changes nothing.
    pub cite: String,
    pub channel: String,
    /// The customer's message it answered (what retrieval matches on).
    pub inbound: String,
    pub reply: String,
    /// RFC 3339.
    pub created_at: String,
}

/// What a write to the knowledge base did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KnowledgeWrite {
    pub added: usize,
    pub unchanged: usize,
    pub replaced: usize,
    /// Entries retired (clauses gone from a replaced document, replies withdrawn).
    pub removed: usize,
}

/// The write seam beside [`crate::Retriever`]: what the service adds to and retires from a
/// brand's knowledge, without knowing the embedder or the vector store behind it.
#[async_trait]
pub trait KnowledgeWriter: Send + Sync {
    /// Adds approved replies from `source` (their provenance, e.g. `workflow:approved`);
    /// replies already stored with the same content are not embedded again.
    async fn add_replies(
        &self,
        source: &str,
        replies: &[LearnedReply],
    ) -> Result<KnowledgeWrite, KnowledgeError>;

    /// Retires the past replies of `brand` cited as `cites`; unknown cites are ignored.
    async fn retire_replies(
        &self,
        brand: &str,
        cites: &[String],
    ) -> Result<KnowledgeWrite, KnowledgeError>;

    /// Replaces the clauses of one guideline document of `brand` with those of `markdown`:
    /// new and changed clauses are stored, clauses no longer in it are retired.
    async fn replace_guidelines(
        &self,
        brand: &str,
        document: &str,
        markdown: &str,
    ) -> Result<KnowledgeWrite, KnowledgeError>;
}
