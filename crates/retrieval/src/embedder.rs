//! all-MiniLM-L6-v2 on candle: BERT ([`Encoder`], checked against candle-transformers'
//! `BertModel` in the tests), attention-masked mean pooling, L2 normalisation.
//!
//! Texts are tokenised with the model's `tokenizer.json`, truncated at
//! [`MAX_TOKENS`] word pieces (as sentence-transformers does for this model: everything past
//! the 256th piece is ignored) and padded to the longest text of their batch. The bundled
//! tokenizer pads every text to 128 pieces, which makes short texts many times slower, so its
//! padding and truncation settings are replaced.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::Config;
use tact_core::{Embedder, KnowledgeError};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use crate::encoder::Encoder;
use crate::error::{Error, Result};

/// Word pieces kept per text, `[CLS]` and `[SEP]` included.
pub const MAX_TOKENS: usize = 256;
/// Texts per forward pass.
pub const BATCH_SIZE: usize = 32;

/// A sentence embedder loaded from a directory holding `model.safetensors`, `config.json` and
/// `tokenizer.json`.
pub struct SentenceEmbedder {
    model: Encoder,
    tokenizer: Tokenizer,
    dimension: usize,
    device: Device,
}

impl std::fmt::Debug for SentenceEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentenceEmbedder")
            .field("dimension", &self.dimension)
            .finish_non_exhaustive()
    }
}

impl SentenceEmbedder {
    /// Loads the model from `dir` on the CPU.
    pub fn load(dir: &Path) -> Result<Self> {
        let fail = |reason: String| Error::ModelLoad {
            path: dir.to_path_buf(),
            reason,
        };
        let read = |name: &str| -> Result<Vec<u8>> {
            let path: PathBuf = dir.join(name);
            std::fs::read(&path).map_err(|source| Error::Read { path, source })
        };
        let config: Config = serde_json::from_slice(&read("config.json")?)
            .map_err(|e| fail(format!("config.json: {e}")))?;
        let mut tokenizer = Tokenizer::from_bytes(read("tokenizer.json")?)
            .map_err(|e| fail(format!("tokenizer.json: {e}")))?;
        let pad_id = tokenizer.token_to_id("[PAD]").unwrap_or(0);
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            pad_id,
            pad_token: "[PAD]".into(),
            ..PaddingParams::default()
        }));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..TruncationParams::default()
            }))
            .map_err(|e| fail(format!("tokenizer truncation: {e}")))?;
        let device = Device::Cpu;
        let weights =
            VarBuilder::from_buffered_safetensors(read("model.safetensors")?, DType::F32, &device)
                .map_err(|e| fail(format!("model.safetensors: {e}")))?;
        let model = Encoder::load(weights, &config).map_err(|e| fail(e.to_string()))?;
        Ok(Self {
            model,
            tokenizer,
            dimension: config.hidden_size,
            device,
        })
    }

    fn embed_batch(&self, texts: &[&str]) -> candle_core::Result<Vec<Vec<f32>>> {
        let encodings = self
            .tokenizer
            .encode_batch_fast(texts.to_vec(), true)
            .map_err(candle_core::Error::wrap)?;
        let rows = encodings.len();
        let width = encodings.first().map_or(0, |e| e.len());
        let mut ids = Vec::with_capacity(rows * width);
        let mut mask = Vec::with_capacity(rows * width);
        for encoding in &encodings {
            ids.extend_from_slice(encoding.get_ids());
            mask.extend_from_slice(encoding.get_attention_mask());
        }
        let ids = Tensor::from_vec(ids, (rows, width), &self.device)?;
        let mask = Tensor::from_vec(mask, (rows, width), &self.device)?;
        let hidden = self.model.forward(&ids, &mask)?;
        // Mean over the real tokens only: padding must not pull the average.
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
        let counts = mask.sum(1)?.clamp(1e-9, f32::MAX)?;
        let mean = summed.broadcast_div(&counts)?;
        let norms = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f32::MAX)?;
        mean.broadcast_div(&norms)?.to_vec2()
    }
}

impl Embedder for SentenceEmbedder {
    fn dimension(&self) -> usize {
        self.dimension
    }

    fn embed(&self, texts: &[&str]) -> std::result::Result<Vec<Vec<f32>>, KnowledgeError> {
        let _span = tracing::debug_span!("embed", texts = texts.len()).entered();
        // Batches of similar lengths waste less work on padding.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let mut vectors = vec![Vec::new(); texts.len()];
        for chunk in order.chunks(BATCH_SIZE) {
            let batch: Vec<&str> = chunk.iter().map(|&i| texts[i]).collect();
            let embedded = self
                .embed_batch(&batch)
                .map_err(|e| KnowledgeError::Embedding(e.to_string()))?;
            for (&i, vector) in chunk.iter().zip(embedded) {
                vectors[i] = vector;
            }
        }
        Ok(vectors)
    }
}
