//! What can go wrong loading a suite, running it or reading a baseline.

use std::path::PathBuf;

/// Errors of the eval crate. Each names the file (and line, for cases) that is wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("suite {path}: {message}")]
    Suite { path: PathBuf, message: String },
    #[error("{path}:{line}: {message}")]
    Case {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("baseline {path}: {message}")]
    Baseline { path: PathBuf, message: String },
    #[error("case {case}: {source}")]
    Drafting {
        case: String,
        source: tact_drafting::Error,
    },
    #[error("case {case}: {source}")]
    Knowledge {
        case: String,
        source: tact_core::KnowledgeError,
    },
    #[error("judge: {0}")]
    Judge(#[from] tact_core::GenerateError),
    #[error("an evaluation task failed: {0}")]
    Task(String),
}

pub type Result<T> = std::result::Result<T, Error>;
