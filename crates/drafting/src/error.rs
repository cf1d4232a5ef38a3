//! The drafting crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong while loading a brand or its data, or training a classifier.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The TOML does not parse or does not have the expected shape.
    #[error("{file}: {message}")]
    Syntax { file: String, message: String },
    /// A field parsed but its value is not acceptable; `field` is its dotted path.
    #[error("{file}: {field} {problem}")]
    Invalid {
        file: String,
        field: String,
        problem: String,
    },
    /// A brand profile has problems: every one found, each with its line where it has one.
    #[error("{file}: {}", describe(problems))]
    Profile {
        file: String,
        problems: Vec<Problem>,
    },
    /// A JSONL record is wrong; `line` counts from 1.
    #[error("{file} line {line}: {problem}")]
    Record {
        file: String,
        line: usize,
        problem: String,
    },
    #[error("brand {brand:?} has no channel {channel:?} (it has: {known})")]
    UnknownChannel {
        brand: String,
        channel: String,
        known: String,
    },
    /// A classifier was given inputs it cannot learn from or predict with.
    #[error("classifier: {0}")]
    Classifier(String),
    /// A message was given to the drafter of another brand.
    #[error("message {message:?} is for brand {message_brand:?}; this drafter serves {brand:?}")]
    WrongBrand {
        message: String,
        message_brand: String,
        brand: String,
    },
    /// Draft options that cannot be honoured; the message says which and why.
    #[error("invalid draft options: {0}")]
    InvalidOptions(String),
    /// The instructions and the message alone exceed the prompt's token budget.
    #[error(
        "the prompt needs {tokens} tokens before any evidence, over the budget of {budget} tokens; shorten the message"
    )]
    PromptTooLong { tokens: usize, budget: usize },
    /// A prompt template failed to parse or render.
    #[error("prompt template: {0}")]
    Template(String),
    /// The embedder behind the `Embedder` seam failed.
    #[error(transparent)]
    Knowledge(#[from] tact_core::KnowledgeError),
    /// The text generator behind the `TextGenerator` seam refused or failed a generation.
    #[error(transparent)]
    Generate(#[from] tact_core::GenerateError),
}

/// One problem in a file: the key it is about (dotted path, `channels.x.max_chars`), what is
/// wrong, and the line (from 1) when the key is in the file (a missing key has none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: Option<usize>,
    pub key: String,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        if self.key.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{} {}", self.key, self.message)
        }
    }
}

fn describe(problems: &[Problem]) -> String {
    let listed = problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    match problems.len() {
        1 => listed,
        n => format!("{n} problems: {listed}"),
    }
}

pub type Result<T> = std::result::Result<T, Error>;
