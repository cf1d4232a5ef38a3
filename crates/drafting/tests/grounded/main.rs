//! The grounded drafting pipeline on its real parts: the bundled SmolLM2 GGUF through
//! tact-inference's engine, the all-MiniLM-L6-v2 embedder, and embedded Qdrant in a temporary
//! directory holding the demo brand (`brands/demo`), ingested as `tact draft` does.
//!
//! Golden files of rendered prompts live in `tests/golden/`; regenerate them with
//! `TACT_UPDATE_GOLDEN=1 cargo test --workspace -- golden`.

mod claim_support;
mod common;
mod embedding;
mod golden;
mod grounding_cases;
mod injection;
mod pipeline;
mod triage_accuracy;
