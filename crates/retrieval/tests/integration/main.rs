//! Integration tests of the knowledge base on its real parts: the all-MiniLM-L6-v2 model from
//! the model cache (fetched on first use, as `tact models fetch` does) and embedded Qdrant in a
//! temporary directory. The Qdrant-server run of the conformance suite needs
//! `TACT_TEST_QDRANT_URL` and says so when it is skipped.

mod common;
mod conformance;
mod embeddings;
mod indexing;
mod ingest;
mod recall;
mod writer;
