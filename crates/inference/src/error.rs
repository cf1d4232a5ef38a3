use std::path::PathBuf;

/// Errors of loading and running a chat model.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("model file {path} not found")]
    NotFound { path: PathBuf },
    #[error("{path} is not a GGUF model file ({reason})")]
    NotGguf { path: PathBuf, reason: String },
    #[error("model file {path} is truncated: {reason}")]
    Truncated { path: PathBuf, reason: String },
    #[error(
        "{path}: model architecture `{architecture}` is not supported (supported: llama, qwen2)"
    )]
    UnsupportedArchitecture { path: PathBuf, architecture: String },
    #[error("{path}: {reason}")]
    BadMetadata { path: PathBuf, reason: String },
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("chat template: {0}")]
    Template(String),
    #[error(
        "the prompt is {tokens} tokens but the model's context holds {context} (minus {reserved} reserved for the reply)"
    )]
    PromptTooLong {
        tokens: usize,
        context: usize,
        reserved: usize,
    },
    #[error("the conversation has no messages")]
    EmptyConversation,
    #[error("model: {0}")]
    Candle(#[from] candle_core::Error),
    /// A batched decoding step failed for every sequence in it.
    #[error("decoding step: {0}")]
    Decode(String),
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
