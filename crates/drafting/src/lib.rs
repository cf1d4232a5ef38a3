//! Everything about a reply that does not need a model or a vector store: a brand's profile and
//! guidelines ([`BrandProfile`], [`Guidelines`]), the deterministic guideline checks run on
//! every draft and on the human's edit ([`check`], [`Violation`]), post-processing of generated
//! text ([`postprocess`]), and triage of inbound messages: escalation topics, abuse flags and a
//! small classifier over sentence embeddings ([`triage`]); and the crisis radar, which spots
//! spikes of complaints in a message stream and summarises them ([`crisis`]).
//!
//! The grounded drafting pipeline sits on top: [`Drafter`] triages a message, retrieves the
//! brand's clauses and past replies, assembles the prompt ([`prompt`]), generates candidates and
//! adds the closest past reply adapted ([`adapt`]), then checks, cites, scores and ranks them
//! ([`candidates`]).
//!
//! The crate depends on `tact-core` alone: generation and retrieval reach it through core's
//! seam traits, never as concrete backends.

pub mod adapt;
pub mod candidates;
pub mod channels;
pub mod checks;
pub mod crisis;
mod drafter;
mod error;
pub mod grounding;
pub mod guidelines;
pub mod language;
pub mod links;
pub mod postprocess;
pub mod profile;
pub mod prompt;
pub mod rules;
mod text;
pub mod triage;

#[cfg(test)]
mod fixture;

pub use candidates::{Candidate, Citation, Citations, Origin, Score};
pub use checks::{ApprovedEvidence, CheckContext, Violation, blocks, check};
pub use crisis::{CrisisConfig, CrisisRadar, CrisisSummary};
pub use drafter::{
    DraftOptions, DraftSet, DraftTimings, Drafter, DrafterParts, Triage, train_triage,
};
pub use error::{Error, Result};
pub use guidelines::{Clause, Guidelines};
pub use postprocess::{PostProcessed, postprocess};
pub use profile::{BrandProfile, Channel, SignOffRule};
pub use prompt::{ExamplePlacement, GuidelineClause, PastExample, Prompt, ThreadTurn};
pub use rules::{Rule, Severity};
