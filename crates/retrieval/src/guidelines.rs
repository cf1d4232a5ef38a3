//! Splitting a Markdown guideline document into citable clauses: the scheme lives in
//! [`tact_core::guidelines`], shared with the guideline checks so both cite the same ids.

pub use tact_core::guidelines::{GuidelineClause, split_clauses};
