//! Eval suites: teams test drafts against their tone guidelines, locally and in CI.
//!
//! A [`Suite`] (TOML) names a brand, a chat model, the sampling (greedy with a fixed seed by
//! default) and a JSONL file of [`Case`]s with expectations. [`EvalPipeline`] runs every case
//! through the same [`tact_drafting::Drafter`] the CLI and the service use; the [`score`]
//! module turns each expectation into a pass/fail and a value (guideline checks, contains and
//! regexes, length, similarity to a reference, triage, escalation, retrieval recall@k and MRR,
//! latency, and the optional rubric [`judge`]). A [`Report`] gathers the results, compares them
//! with a baseline, applies the suite's gate and is written as `report.json`, `junit.xml` and a
//! self-contained `report.html`. [`import`] turns approved drafts that a person edited into
//! cases.
//!
//! Like drafting, the crate sees models and stores only through `tact-core`'s seams.

mod error;
pub mod html;
pub mod import;
pub mod judge;
pub mod junit;
pub mod report;
pub mod runner;
pub mod score;
pub mod suite;

pub use error::{Error, Result};
pub use import::{EditedReply, ImportSummary, append_cases, case_from_edit};
pub use judge::RubricJudge;
pub use report::{Comparison, GateOutcome, Report, RunInfo, Summary};
pub use runner::{CaseResult, EvalPipeline, Progress, Silent};
pub use score::{CheckName, CheckResult};
pub use suite::{Case, DraftChoice, Gate, Suite, SuiteFile};
