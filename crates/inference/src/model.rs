//! Loading a GGUF chat model: architecture dispatch, tokenizer, template, weights.

use std::path::{Path, PathBuf};

use std::sync::Arc;

use candle_core::quantized::GgmlDType;
use candle_core::{DType, Device, Tensor};

use crate::chat_template::ChatTemplate;
use crate::error::{Error, Result};
use crate::gguf::GgufFile;
use crate::tokenizer::GgufTokenizer;
use crate::transformer::{self, Cache, Transformer};
use crate::{llama, qwen2, requantize};

/// Architectures tact can run. Dispatch is on the GGUF's `general.architecture`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    Llama,
    Qwen2,
}

impl Architecture {
    /// The GGUF name, which prefixes the architecture's metadata keys.
    pub fn name(self) -> &'static str {
        match self {
            Architecture::Llama => "llama",
            Architecture::Qwen2 => "qwen2",
        }
    }

    fn parse(gguf: &GgufFile) -> Result<Self> {
        let name = gguf.string("general.architecture")?;
        match name {
            "llama" => Ok(Self::Llama),
            "qwen2" => Ok(Self::Qwen2),
            other => Err(Error::UnsupportedArchitecture {
                path: gguf.path.clone(),
                architecture: other.to_owned(),
            }),
        }
    }
}

/// Weight formats a slow file can be rewritten to (all have SIMD kernels in candle on x86).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuantFormat {
    Q8_0,
    Q4_0,
    Q4K,
}

impl QuantFormat {
    pub(crate) fn dtype(self) -> GgmlDType {
        match self {
            QuantFormat::Q8_0 => GgmlDType::Q8_0,
            QuantFormat::Q4_0 => GgmlDType::Q4_0,
            QuantFormat::Q4K => GgmlDType::Q4K,
        }
    }
}

/// How to load a model.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Rewrite weights stored in a format without fast CPU kernels (Q4_1, ...) to this one.
    /// `None` keeps the file's formats.
    pub requantize_to: Option<QuantFormat>,
    /// Keep dense f32 copies of the layer weights for prompt processing: several times faster
    /// prefill for about 4 bytes per parameter of extra memory.
    pub dense_prefill: bool,
    /// Where a requantized copy is cached (next to the source file when `None`). If that
    /// directory is not writable the copy goes to the system's temporary directory.
    pub derived_dir: Option<PathBuf>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            requantize_to: Some(QuantFormat::Q8_0),
            dense_prefill: true,
            derived_dir: None,
        }
    }
}

/// Weights of one of the supported architectures, shared by every sequence. Every
/// architecture tact runs is a variant of the shared [`Transformer`].
#[derive(Debug, Clone)]
pub(crate) struct Weights(Arc<Transformer>);

/// One sequence's attention state.
pub(crate) type SequenceCache = Cache;

impl Weights {
    pub(crate) fn new_cache(&self) -> SequenceCache {
        self.0.new_cache()
    }

    /// Logits of the last of `tokens`, which start at position `index_pos`.
    pub(crate) fn forward(
        &self,
        cache: &mut SequenceCache,
        tokens: &[u32],
        index_pos: usize,
    ) -> Result<Tensor> {
        self.0.forward(cache, tokens, index_pos)
    }

    /// One decoding step of several sequences: logits (B, vocab), row `i` for `tokens[i]` at
    /// `positions[i]` in `caches[i]`.
    pub(crate) fn forward_batch(
        &self,
        caches: &mut [&mut SequenceCache],
        tokens: &[u32],
        positions: &[usize],
    ) -> Result<Tensor> {
        self.0.forward_batch(caches, tokens, positions)
    }
}

/// A loaded chat model: weights, tokenizer and chat template.
#[derive(Debug, Clone)]
pub struct ChatModel {
    pub(crate) weights: Weights,
    pub tokenizer: GgufTokenizer,
    pub template: ChatTemplate,
    pub architecture: Architecture,
    pub context_length: usize,
    pub path: PathBuf,
}

impl ChatModel {
    pub fn load(path: &Path, options: &LoadOptions) -> Result<Self> {
        let source = GgufFile::open(path)?;
        let architecture = Architecture::parse(&source)?;
        let tokenizer = GgufTokenizer::from_gguf(&source)?;
        let template = ChatTemplate::new(
            source
                .string("tokenizer.chat_template")
                .ok()
                .map(str::to_owned),
        )?;
        let declared_context = source
            .u32(&format!("{}.context_length", architecture.name()))
            .map(|c| c as usize)
            .unwrap_or(transformer::MAX_POSITIONS);
        // Rotary tables are precomputed for MAX_POSITIONS positions.
        let context_length = declared_context.min(transformer::MAX_POSITIONS);

        let mut gguf = match options.requantize_to {
            Some(format) => requantize::load_requantized(
                source,
                format.dtype(),
                options.derived_dir.as_deref(),
            )?,
            None => source,
        };
        let device = Device::Cpu;
        let dense = options.dense_prefill.then_some(DType::F32);
        let weights = Weights(match architecture {
            Architecture::Llama => llama::load(&mut gguf, dense, &device)?,
            Architecture::Qwen2 => qwen2::load(&mut gguf, dense, &device)?,
        });
        tracing::info!(path = %path.display(), ?architecture, context_length, "chat model loaded");
        Ok(Self {
            weights,
            tokenizer,
            template,
            architecture,
            context_length,
            path: path.to_owned(),
        })
    }

    /// The prompt tokens for a conversation, with the assistant's turn opened.
    pub fn encode_chat(&self, messages: &[tact_core::ChatMessage]) -> Result<Vec<u32>> {
        self.template.encode(messages, &self.tokenizer)
    }
}
