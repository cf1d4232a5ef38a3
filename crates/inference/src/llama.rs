//! The llama architecture, written for serving small models on CPU.
//!
//! Differences from `candle_transformers::models::quantized_llama`, each measured on the
//! bundled SmolLM2-135M (see the README's benchmark table):
//! - Weights are shared (`Arc`) and each sequence owns only a [`LlamaCache`], so concurrent
//!   generations need no copy of the model.
//! - Q/K/V and gate/up projections are fused into one matrix each: 4 matrix products per layer
//!   instead of 7, which matters when each op costs as much as its arithmetic (decode, m = 1).
//! - The KV cache is preallocated and appended in place; attention groups query heads by
//!   their KV head instead of copying K and V per query head.
//! - Prompt processing (many rows at once) multiplies by dense f32 copies of the weights with a
//!   blocked GEMM, while decoding (one row) uses the quantized weights, whose smaller size is
//!   what decode speed depends on.

use std::sync::Arc;

use candle_core::quantized::{QMatMul, QTensor, ggml_file};
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::kv_cache::KvCache;

use crate::error::Result;
use crate::gguf::GgufFile;

/// Rows at or above which a matrix product uses the dense weights.
const DENSE_MIN_ROWS: usize = 8;
/// Positions with precomputed rotary tables.
pub(crate) const MAX_POSITIONS: usize = 8192;

/// A weight matrix in its quantized form, and optionally dense for many-row products.
#[derive(Debug)]
struct Linear {
    quantized: QMatMul,
    dense: Option<Tensor>,
    out_features: usize,
}

impl Linear {
    fn new(weight: QTensor, dense_dtype: Option<DType>, device: &Device) -> Result<Self> {
        let out_features = weight.shape().dims()[0];
        let dense = match dense_dtype {
            Some(dtype) => Some(
                weight
                    .dequantize(device)?
                    .to_dtype(dtype)?
                    .t()?
                    .contiguous()?,
            ),
            None => None,
        };
        Ok(Self {
            quantized: QMatMul::from_qtensor(weight)?,
            dense,
            out_features,
        })
    }

    /// `x`: (rows, in) → (rows, out).
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let rows = x.dim(0)?;
        match &self.dense {
            Some(w) if rows >= DENSE_MIN_ROWS => {
                Ok(x.to_dtype(w.dtype())?.matmul(w)?.to_dtype(DType::F32)?)
            }
            Some(_) | None => Ok(self.quantized.forward(x)?),
        }
    }
}

#[derive(Debug)]
struct Layer {
    attn_norm: Tensor,
    qkv: Linear,
    wo: Linear,
    ffn_norm: Tensor,
    gate_up: Linear,
    down: Linear,
}

/// Shared llama weights.
#[derive(Debug)]
pub(crate) struct Llama {
    embeddings: Tensor,
    layers: Vec<Layer>,
    norm: Tensor,
    output: Linear,
    cos: Tensor,
    sin: Tensor,
    n_head: usize,
    n_kv_head: usize,
    head_dim: usize,
    eps: f64,
}

/// One sequence's attention state.
#[derive(Debug, Clone)]
pub(crate) struct LlamaCache {
    layers: Vec<KvCache>,
}

impl LlamaCache {
    /// Positions held.
    pub(crate) fn len(&self) -> usize {
        self.layers.first().map_or(0, KvCache::current_seq_len)
    }

    /// A copy of the first `len` positions that shares no storage with `self`. (A plain
    /// `clone` would share it, and the cache writes new positions in place.)
    pub(crate) fn prefix(&self, len: usize) -> Result<Self> {
        let len = len.min(self.len());
        let layers = self
            .layers
            .iter()
            .map(|kv| -> Result<KvCache> {
                let mut copy = KvCache::new(1, len.next_multiple_of(256).max(256));
                if let (Some(k), Some(v)) = (kv.k()?, kv.v()?)
                    && len > 0
                {
                    copy.append(
                        &k.narrow(1, 0, len)?.contiguous()?,
                        &v.narrow(1, 0, len)?.contiguous()?,
                    )?;
                }
                Ok(copy)
            })
            .collect::<Result<_>>()?;
        Ok(Self { layers })
    }
}

impl Llama {
    /// Loads from a GGUF file. `dense_dtype` keeps dense copies of the layer weights for
    /// prompt processing (`None`: quantized only, least memory).
    pub(crate) fn load(
        gguf: &mut GgufFile,
        dense_dtype: Option<DType>,
        device: &Device,
    ) -> Result<Arc<Self>> {
        let head_count = gguf.u32("llama.attention.head_count")? as usize;
        let head_count_kv = gguf.u32("llama.attention.head_count_kv")? as usize;
        let block_count = gguf.u32("llama.block_count")? as usize;
        let embedding_length = gguf.u32("llama.embedding_length")? as usize;
        let eps = gguf
            .metadata("llama.attention.layer_norm_rms_epsilon")
            .and_then(|v| v.to_f32().ok())
            .unwrap_or(1e-5) as f64;
        let freq_base = gguf
            .metadata("llama.rope.freq_base")
            .and_then(|v| v.to_f32().ok())
            .unwrap_or(10_000.0);
        let head_dim = embedding_length / head_count;
        let rope_dim = gguf
            .u32("llama.rope.dimension_count")
            .map(|d| d as usize)
            .unwrap_or(head_dim);
        if rope_dim != head_dim || head_count % head_count_kv != 0 {
            return Err(gguf.bad(format!("unsupported llama shape: rope dimension {rope_dim}, head dim {head_dim}, {head_count} heads over {head_count_kv} KV heads")));
        }

        let GgufFile {
            content,
            reader,
            path,
        } = gguf;
        let mut tensor = |name: &str| -> Result<QTensor> {
            content
                .tensor(reader, name, device)
                .map_err(|e| crate::error::Error::BadMetadata {
                    path: path.clone(),
                    reason: format!("tensor {name}: {e}"),
                })
        };
        let embeddings_q = tensor("token_embd.weight")?;
        let embeddings = embeddings_q.dequantize(device)?;
        let output = match tensor("output.weight") {
            Ok(t) => t,
            Err(_) => embeddings_q,
        };
        let norm = tensor("output_norm.weight")?.dequantize(device)?;
        let mut layers = Vec::with_capacity(block_count);
        for i in 0..block_count {
            let p = format!("blk.{i}");
            let q = tensor(&format!("{p}.attn_q.weight"))?;
            let k = tensor(&format!("{p}.attn_k.weight"))?;
            let v = tensor(&format!("{p}.attn_v.weight"))?;
            let gate = tensor(&format!("{p}.ffn_gate.weight"))?;
            let up = tensor(&format!("{p}.ffn_up.weight"))?;
            layers.push(Layer {
                attn_norm: tensor(&format!("{p}.attn_norm.weight"))?.dequantize(device)?,
                qkv: Linear::new(fuse(&[q, k, v], device)?, dense_dtype, device)?,
                wo: Linear::new(
                    tensor(&format!("{p}.attn_output.weight"))?,
                    dense_dtype,
                    device,
                )?,
                ffn_norm: tensor(&format!("{p}.ffn_norm.weight"))?.dequantize(device)?,
                gate_up: Linear::new(fuse(&[gate, up], device)?, dense_dtype, device)?,
                down: Linear::new(
                    tensor(&format!("{p}.ffn_down.weight"))?,
                    dense_dtype,
                    device,
                )?,
            });
        }
        // The output head only ever sees one row (the last position): keep it quantized.
        let output = Linear::new(output, None, device)?;
        let (cos, sin) = rotary_tables(head_dim, freq_base, device)?;
        Ok(Arc::new(Self {
            embeddings,
            layers,
            norm,
            output,
            cos,
            sin,
            n_head: head_count,
            n_kv_head: head_count_kv,
            head_dim,
            eps,
        }))
    }

    pub(crate) fn new_cache(&self) -> LlamaCache {
        LlamaCache {
            layers: (0..self.layers.len())
                .map(|_| KvCache::new(1, 256))
                .collect(),
        }
    }

    /// Logits for the last of `tokens`, which occupy positions `pos..pos + tokens.len()`.
    pub(crate) fn forward(
        &self,
        cache: &mut LlamaCache,
        tokens: &[u32],
        pos: usize,
    ) -> Result<Tensor> {
        let device = self.embeddings.device();
        let t = tokens.len();
        let ids = Tensor::new(tokens, device)?;
        let mut x = self.embeddings.index_select(&ids, 0)?;
        let mask = if t > 1 {
            Some(causal_mask(t, pos, device)?)
        } else {
            None
        };
        let cos = self.cos.narrow(0, pos, t)?;
        let sin = self.sin.narrow(0, pos, t)?;
        let (q_dim, kv_dim) = (self.n_head * self.head_dim, self.n_kv_head * self.head_dim);
        for (layer, kv) in self.layers.iter().zip(cache.layers.iter_mut()) {
            let h = candle_nn::ops::rms_norm(&x, &layer.attn_norm, self.eps as f32)?;
            let qkv = layer.qkv.forward(&h)?;
            let heads = |start: usize, len: usize, n: usize| -> Result<Tensor> {
                Ok(qkv
                    .narrow(1, start, len)?
                    .reshape((t, n, self.head_dim))?
                    .transpose(0, 1)?
                    .contiguous()?)
            };
            let q = rope(&heads(0, q_dim, self.n_head)?, &cos, &sin)?;
            let k = rope(&heads(q_dim, kv_dim, self.n_kv_head)?, &cos, &sin)?;
            let v = heads(q_dim + kv_dim, kv_dim, self.n_kv_head)?;
            let (k, v) = kv.append(&k, &v)?;
            let attn = self.attention(&q, &k, &v, mask.as_ref(), t)?;
            x = (x + layer.wo.forward(&attn)?)?;

            let h = candle_nn::ops::rms_norm(&x, &layer.ffn_norm, self.eps as f32)?;
            let gate_up = layer.gate_up.forward(&h)?;
            let ffn = layer.gate_up.out_features / 2;
            let act = (candle_nn::ops::silu(&gate_up.narrow(1, 0, ffn)?)?
                * gate_up.narrow(1, ffn, ffn)?)?;
            x = (x + layer.down.forward(&act)?)?;
        }
        let last = x.narrow(0, t - 1, 1)?;
        let last = candle_nn::ops::rms_norm(&last, &self.norm, self.eps as f32)?;
        Ok(self.output.forward(&last)?.squeeze(0)?)
    }

    /// Grouped-query attention without copying K/V per query head: the query heads that share
    /// a KV head are stacked as rows of one product. `q`: (n_head, t, d); `k`, `v`:
    /// (n_kv_head, kv_len, d). Returns (t, n_head * d).
    fn attention(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        mask: Option<&Tensor>,
        t: usize,
    ) -> Result<Tensor> {
        let group = self.n_head / self.n_kv_head;
        let kv_len = k.dim(1)?;
        let q = q.reshape((self.n_kv_head, group * t, self.head_dim))?;
        let scale = 1.0 / (self.head_dim as f64).sqrt();
        let scores = (q.matmul(&k.t()?)? * scale)?;
        let scores = match mask {
            Some(mask) => scores
                .reshape((self.n_kv_head, group, t, kv_len))?
                .broadcast_add(mask)?
                .reshape((self.n_kv_head, group * t, kv_len))?,
            None => scores,
        };
        let probs = candle_nn::ops::softmax_last_dim(&scores)?;
        let out = probs.matmul(&v.contiguous()?)?;
        Ok(out
            .reshape((self.n_head, t, self.head_dim))?
            .transpose(0, 1)?
            .reshape((t, self.n_head * self.head_dim))?)
    }
}

fn rope(x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
    Ok(candle_nn::rotary_emb::rope_i(&x.unsqueeze(0)?, cos, sin)?.squeeze(0)?)
}

/// Additive mask (t, pos + t): 0 where a query may attend, -inf above the diagonal.
fn causal_mask(t: usize, pos: usize, device: &Device) -> Result<Tensor> {
    let kv_len = pos + t;
    let values: Vec<f32> = (0..t)
        .flat_map(|i| (0..kv_len).map(move |j| if j > pos + i { f32::NEG_INFINITY } else { 0.0 }))
        .collect();
    Ok(Tensor::from_vec(values, (t, kv_len), device)?)
}

fn rotary_tables(head_dim: usize, freq_base: f32, device: &Device) -> Result<(Tensor, Tensor)> {
    let theta: Vec<f32> = (0..head_dim)
        .step_by(2)
        .map(|i| 1.0 / freq_base.powf(i as f32 / head_dim as f32))
        .collect();
    let theta = Tensor::new(theta.as_slice(), device)?;
    let positions = Tensor::arange(0, MAX_POSITIONS as u32, device)?
        .to_dtype(DType::F32)?
        .reshape((MAX_POSITIONS, 1))?;
    let angles = positions.matmul(&theta.reshape((1, head_dim / 2))?)?;
    Ok((angles.cos()?, angles.sin()?))
}

/// Stacks the rows of several weight matrices into one. Quantized rows are independent runs
/// of blocks, so this concatenates the stored bytes: no requantization, no loss.
fn fuse(parts: &[QTensor], device: &Device) -> Result<QTensor> {
    let dtype = parts[0].dtype();
    let cols = parts[0].shape().dims()[1];
    let mut rows = 0;
    let mut bytes = Vec::new();
    for part in parts {
        let dims = part.shape().dims();
        if part.dtype() != dtype || dims.len() != 2 || dims[1] != cols {
            return Err(candle_core::Error::Msg(
                "cannot fuse weights of different formats or widths".into(),
            )
            .into());
        }
        rows += dims[0];
        bytes.extend_from_slice(&part.data()?);
    }
    Ok(ggml_file::qtensor_from_ggml(
        dtype,
        &bytes,
        vec![rows, cols],
        device,
    )?)
}

#[cfg(test)]
mod tests {
    use candle_transformers::models::quantized_llama::ModelWeights;

    use super::*;

    fn open() -> GgufFile {
        GgufFile::open(&tact_e2e::chat_model_path()).unwrap()
    }

    fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    }

    /// This implementation must compute what candle's reference llama computes, on the real
    /// model file as shipped, prompt and decode alike. Short prompts give bit-identical logits;
    /// from 16 rows on, the f32 attention products are blocked differently, and rounding
    /// differences flip some 8-bit activation roundings in later layers, so the bound is a small
    /// fraction of the logit scale and the same next token.
    #[test]
    fn matches_candles_reference_llama() {
        let device = Device::Cpu;
        let ours = Llama::load(&mut open(), None, &device).unwrap();
        let GgufFile {
            content,
            mut reader,
            ..
        } = open();
        let mut reference = ModelWeights::from_gguf(content, &mut reader, &device).unwrap();

        let prompt: Vec<u32> = vec![
            1, 4093, 198, 6004, 28, 638, 314, 253, 1345, 30, 2, 198, 1, 520, 9531, 198,
        ];
        let mut cache = ours.new_cache();
        let a = ours.forward(&mut cache, &prompt, 0).unwrap();
        let b = reference
            .forward(
                &Tensor::new(prompt.as_slice(), &device)
                    .unwrap()
                    .unsqueeze(0)
                    .unwrap(),
                0,
            )
            .unwrap()
            .squeeze(0)
            .unwrap();
        assert_close(&a, &b, "prefill");
        assert_eq!(
            max_abs_diff(
                &ours
                    .forward(&mut ours.new_cache(), &prompt[..4], 0)
                    .unwrap(),
                &{
                    let GgufFile {
                        content,
                        mut reader,
                        ..
                    } = open();
                    let mut fresh = ModelWeights::from_gguf(content, &mut reader, &device).unwrap();
                    fresh
                        .forward(
                            &Tensor::new(&prompt[..4], &device)
                                .unwrap()
                                .unsqueeze(0)
                                .unwrap(),
                            0,
                        )
                        .unwrap()
                        .squeeze(0)
                        .unwrap()
                }
            ),
            0.0
        );

        let next = a.argmax(0).unwrap().to_scalar::<u32>().unwrap();
        let a = ours.forward(&mut cache, &[next], prompt.len()).unwrap();
        let b = reference
            .forward(
                &Tensor::new(&[next], &device).unwrap().unsqueeze(0).unwrap(),
                prompt.len(),
            )
            .unwrap()
            .squeeze(0)
            .unwrap();
        assert_close(&a, &b, "decode");
    }

    fn assert_close(a: &Tensor, b: &Tensor, what: &str) {
        let diff = max_abs_diff(a, b);
        let scale = b.abs().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap();
        assert!(
            diff < 0.05 * scale,
            "{what} logits differ by {diff} (logit scale {scale})"
        );
        assert_eq!(
            a.argmax(0).unwrap().to_scalar::<u32>().unwrap(),
            b.argmax(0).unwrap().to_scalar::<u32>().unwrap(),
            "{what}: next token differs"
        );
    }

    /// Dense f32 prefill and quantized prefill agree closely (the dense weights are the exact
    /// dequantized values; the quantized path also quantizes activations to 8 bits).
    #[test]
    fn dense_prefill_agrees_with_quantized_prefill() {
        let device = Device::Cpu;
        let dense = Llama::load(&mut open(), Some(DType::F32), &device).unwrap();
        let quantized = Llama::load(&mut open(), None, &device).unwrap();
        let prompt: Vec<u32> = (100..140).collect();
        let a = dense.forward(&mut dense.new_cache(), &prompt, 0).unwrap();
        let b = quantized
            .forward(&mut quantized.new_cache(), &prompt, 0)
            .unwrap();
        assert_close(&a, &b, "dense vs quantized prefill");
    }
}
