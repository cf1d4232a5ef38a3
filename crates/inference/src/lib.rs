//! Local chat-model inference with candle, on CPU, with no network.
//!
//! [`ChatModel::load`] opens a GGUF file, checks it (magic, truncation, architecture), builds
//! the tokenizer from the file's own metadata ([`GgufTokenizer`]) and its chat template
//! ([`ChatTemplate`]). Slow quantisation formats are rewritten once to a format with fast CPU
//! kernels ([`requantize`]). [`Engine`] owns the model on its own thread, fed by a bounded
//! queue, and implements `tact_core::TextGenerator`: each request streams UTF-8-safe text
//! deltas back, a dropped stream cancels its generation, and a full queue is an error.

mod chat_template;
mod engine;
mod error;
mod gguf;
mod llama;
mod model;
mod prefix;
mod qwen2;
mod requantize;
mod sequence;
mod stop;
mod tokenizer;
mod transformer;

pub use chat_template::ChatTemplate;
pub use engine::{Engine, EngineConfig};
pub use error::{Error, Result};
pub use gguf::GgufFile;
pub use model::{Architecture, ChatModel, LoadOptions, QuantFormat};
pub use prefix::PrefixStats;
pub use requantize::requantized_path;
pub use sequence::ROLE_STOPS;
pub use stop::StopMatcher;
pub use tokenizer::GgufTokenizer;
