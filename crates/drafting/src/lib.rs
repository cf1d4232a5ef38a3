//! Everything about a reply that does not need a model or a vector store: a brand's profile and
//! guidelines ([`BrandProfile`], [`Guidelines`]), the deterministic guideline checks run on
//! every draft and on the human's edit ([`check`], [`Violation`]), post-processing of generated
//! text ([`postprocess`]), and triage of inbound messages: escalation topics, abuse flags and a
//! small classifier over sentence embeddings ([`triage`]).
//!
//! The crate depends on `tact-core` alone: generation and retrieval reach it through core's
//! seam traits, never as concrete backends.

pub mod checks;
mod error;
pub mod guidelines;
pub mod links;
pub mod postprocess;
pub mod profile;
pub mod rules;
mod text;
pub mod triage;

#[cfg(test)]
mod fixture;

pub use checks::{ApprovedEvidence, CheckContext, Violation, blocks, check};
pub use error::{Error, Result};
pub use guidelines::{Clause, Guidelines};
pub use postprocess::{PostProcessed, postprocess};
pub use profile::{BrandProfile, Channel, SignOffRule};
pub use rules::{Rule, Severity};
