use std::path::PathBuf;

use tact_core::KnowledgeError;

/// Errors of the knowledge base.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot load the embedding model from {path}: {reason}")]
    ModelLoad { path: PathBuf, reason: String },
    #[error(transparent)]
    Knowledge(#[from] KnowledgeError),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A file that cannot be ingested at all (as opposed to one bad row in it).
    #[error("{path}: {reason}")]
    BadFile { path: PathBuf, reason: String },
    /// A strict ingest found bad rows; nothing was written. `rows` names every one.
    #[error("{count} bad row(s), nothing written: {rows}")]
    Rejected { count: usize, rows: String },
    #[error("invalid store configuration: {0}")]
    Config(String),
}

pub type Result<T> = std::result::Result<T, Error>;
