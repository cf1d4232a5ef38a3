//! Loading a GGUF chat model: architecture dispatch, tokenizer, template, weights.

use std::path::{Path, PathBuf};

use candle_core::quantized::GgmlDType;
use candle_core::{Device, Tensor};
use candle_transformers::models::quantized_llama;

use crate::chat_template::ChatTemplate;
use crate::error::{Error, Result};
use crate::gguf::GgufFile;
use crate::requantize;
use crate::tokenizer::GgufTokenizer;

/// Architectures tact can run. Dispatch is on the GGUF's `general.architecture`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    Llama,
}

impl Architecture {
    fn parse(gguf: &GgufFile) -> Result<Self> {
        let name = gguf.string("general.architecture")?;
        match name {
            "llama" => Ok(Self::Llama),
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
    /// Where a requantized copy is cached (next to the source file when `None`). If that
    /// directory is not writable the copy goes to the system's temporary directory.
    pub derived_dir: Option<PathBuf>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            requantize_to: Some(QuantFormat::Q8_0),
            derived_dir: None,
        }
    }
}

/// Weights of one of the supported architectures.
#[derive(Debug, Clone)]
pub(crate) enum Weights {
    Llama(quantized_llama::ModelWeights),
}

impl Weights {
    /// Logits of the last position of `tokens`, which start at position `index_pos`.
    pub(crate) fn forward(
        &mut self,
        tokens: &[u32],
        index_pos: usize,
        device: &Device,
    ) -> Result<Tensor> {
        let input = Tensor::new(tokens, device)?.unsqueeze(0)?;
        let logits = match self {
            Weights::Llama(m) => m.forward(&input, index_pos)?,
        };
        Ok(logits.squeeze(0)?)
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
    pub(crate) device: Device,
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
        let declared_context = match architecture {
            Architecture::Llama => source
                .u32("llama.context_length")
                .map(|c| c as usize)
                .unwrap_or(quantized_llama::MAX_SEQ_LEN),
        };
        // candle's llama precomputes rotary tables for MAX_SEQ_LEN positions.
        let context_length = declared_context.min(quantized_llama::MAX_SEQ_LEN);

        let mut gguf = match options.requantize_to {
            Some(format) => requantize::load_requantized(
                source,
                format.dtype(),
                options.derived_dir.as_deref(),
            )?,
            None => source,
        };
        let device = Device::Cpu;
        let weights = match architecture {
            Architecture::Llama => {
                let GgufFile {
                    content, reader, ..
                } = &mut gguf;
                let content = std::mem::replace(content, empty_content());
                Weights::Llama(quantized_llama::ModelWeights::from_gguf(
                    content, reader, &device,
                )?)
            }
        };
        tracing::info!(path = %path.display(), ?architecture, context_length, "chat model loaded");
        Ok(Self {
            weights,
            tokenizer,
            template,
            architecture,
            context_length,
            path: path.to_owned(),
            device,
        })
    }

    /// The prompt tokens for a conversation, with the assistant's turn opened.
    pub fn encode_chat(&self, messages: &[tact_core::ChatMessage]) -> Result<Vec<u32>> {
        self.template.encode(messages, &self.tokenizer)
    }
}

fn empty_content() -> candle_core::quantized::gguf_file::Content {
    candle_core::quantized::gguf_file::Content {
        magic: candle_core::quantized::gguf_file::VersionedMagic::GgufV3,
        metadata: Default::default(),
        tensor_infos: Default::default(),
        tensor_data_offset: 0,
    }
}
