//! Why the service could not start, or a brand could not be changed.

/// A failure of the service itself; the HTTP layer decides what a client is told.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid service configuration: {0}")]
    Config(String),
    /// A change to a brand that was refused; nothing was changed.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Workflow(#[from] tact_workflow::Error),
    #[error(transparent)]
    Drafting(#[from] tact_drafting::Error),
    #[error(transparent)]
    Knowledge(#[from] tact_core::KnowledgeError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let what = what.into();
        move |source| Error::Io { what, source }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
