//! Domain types and the seam traits shared by tact's crates.
//!
//! This crate knows nothing of candle, Qdrant, SQL or HTTP. It owns the shapes that cross crate
//! boundaries: chat turns and sampling settings ([`chat`]), the generation seam that drafting
//! code calls without knowing which engine runs the model ([`generate`]), the inbound
//! message that every part of tact reads ([`message`]), and the knowledge seams: embedding,
//! vector stores and the retrieval drafting calls ([`knowledge`], [`retriever`]); and the
//! review vocabulary that drafting produces, the workflow stores and the service serves
//! ([`review`]: violations, candidates, citations, triage labels).

pub mod chat;
pub mod generate;
pub mod guidelines;
pub mod knowledge;
pub mod message;
pub mod retriever;
pub mod review;

pub use chat::{ChatMessage, Role, SamplingParams};
pub use generate::{
    FinishReason, GenerateError, GenerateRequest, GenerationEvent, GenerationStats,
    GenerationStream, TextGenerator,
};
pub use knowledge::{
    Embedder, KnowledgeEntry, KnowledgeError, KnowledgeFilter, KnowledgeHit, KnowledgeKind,
    KnowledgePoint, KnowledgeQuery, KnowledgeWrite, KnowledgeWriter, LearnedReply, SparseVector,
    VectorStore,
};
pub use message::{InboundMessage, InboundMessageError};
pub use retriever::Retriever;
