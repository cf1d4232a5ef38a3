//! The decoder-only transformer shared by the llama and qwen2 architectures, written for
//! serving small models on CPU. What differs between the families (metadata keys, rotary
//! layout, attention biases) is a [`Hyper`] read by `llama.rs` and `qwen2.rs`.
//!
//! Differences from `candle_transformers::models::quantized_llama` / `quantized_qwen2`, each
//! measured on the bundled models (see the README's benchmark table):
//! - Weights are shared (`Arc`) and each sequence owns only a [`Cache`], so concurrent
//!   generations need no copy of the model.
//! - Q/K/V and gate/up projections are fused into one matrix each where their formats agree
//!   (the stored bytes are concatenated, no requantization): fewer, larger products, which
//!   matters when each op costs as much as its arithmetic (decode, m = 1).
//! - The KV cache is preallocated and appended in place; attention groups query heads by
//!   their KV head instead of copying K and V per query head.
//! - Token embeddings stay quantized and are dequantized a row at a time (a 150k-token
//!   vocabulary in f32 would be 0.5-0.9 GB of the Qwen models' memory).
//! - Prompt processing (many rows at once) can multiply by dense f32 copies of the weights
//!   with a blocked GEMM, while decoding (one row) uses the quantized weights, whose smaller
//!   size is what decode speed depends on.

use std::sync::Arc;

use candle_core::quantized::{GgmlDType, QMatMul, QTensor, ggml_file};
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::kv_cache::KvCache;

use crate::error::{Error, Result};
use crate::gguf::GgufFile;

/// Rows at or above which a matrix product uses the dense weights.
const DENSE_MIN_ROWS: usize = 8;
/// Dense prefill weights are kept only up to this size: ~430 MB for the 135M model and
/// ~1.4 GB for Qwen 0.5B, each several times faster prefill than the quantized kernels;
/// a 1.5B model's would be 5 GB, so it prefills with the quantized weights.
const DENSE_PREFILL_MAX_BYTES: usize = 2 << 30;
/// Positions with precomputed rotary tables.
pub(crate) const MAX_POSITIONS: usize = 8192;

/// How rotary embeddings pair the dimensions of a head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RopeStyle {
    /// Adjacent pairs (x0, x1), (x2, x3), ...: llama files, whose converter permutes Q and K.
    Interleaved,
    /// Halves (x0, x_{d/2}), ...: GPT-NeoX style, used by qwen2.
    Halves,
}

/// What a family's GGUF metadata says about its shape.
#[derive(Debug, Clone)]
pub(crate) struct Hyper {
    pub(crate) n_head: usize,
    pub(crate) n_kv_head: usize,
    pub(crate) n_layer: usize,
    pub(crate) embedding_length: usize,
    pub(crate) eps: f64,
    pub(crate) rope_theta: f32,
    pub(crate) rope: RopeStyle,
    /// Q, K and V projections carry biases (`attn_{q,k,v}.bias`).
    pub(crate) qkv_bias: bool,
}

impl Hyper {
    /// Reads the keys every family names `<arch>.<key>`.
    pub(crate) fn read(
        gguf: &GgufFile,
        arch: &str,
        rope: RopeStyle,
        qkv_bias: bool,
    ) -> Result<Self> {
        let key = |k: &str| format!("{arch}.{k}");
        let float = |k: &str| gguf.metadata(&key(k)).and_then(|v| v.to_f32().ok());
        let n_head = gguf.u32(&key("attention.head_count"))? as usize;
        let n_kv_head = gguf.u32(&key("attention.head_count_kv"))? as usize;
        let embedding_length = gguf.u32(&key("embedding_length"))? as usize;
        let head_dim = embedding_length / n_head.max(1);
        let rope_dim = gguf
            .u32(&key("rope.dimension_count"))
            .map(|d| d as usize)
            .unwrap_or(head_dim);
        if n_head == 0
            || n_kv_head == 0
            || rope_dim != head_dim
            || !n_head.is_multiple_of(n_kv_head)
            || !embedding_length.is_multiple_of(n_head)
        {
            return Err(gguf.bad(format!("unsupported {arch} shape: embedding length {embedding_length}, rope dimension {rope_dim}, {n_head} heads over {n_kv_head} KV heads")));
        }
        Ok(Self {
            n_head,
            n_kv_head,
            n_layer: gguf.u32(&key("block_count"))? as usize,
            embedding_length,
            eps: float("attention.layer_norm_rms_epsilon").unwrap_or(1e-5) as f64,
            rope_theta: float("rope.freq_base").unwrap_or(10_000.0),
            rope,
            qkv_bias,
        })
    }

    fn head_dim(&self) -> usize {
        self.embedding_length / self.n_head
    }
}

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

    /// `x`: (rows, in) → (rows, out). `prompt`: the rows are positions of one prompt, which
    /// may use the dense weights; the rows of a decoding batch always use the quantized ones
    /// (reading 4 bytes per weight for a few rows would cost more than it saves).
    fn forward(&self, x: &Tensor, prompt: bool) -> Result<Tensor> {
        let rows = x.dim(0)?;
        match &self.dense {
            Some(w) if prompt && rows >= DENSE_MIN_ROWS => {
                Ok(x.to_dtype(w.dtype())?.matmul(w)?.to_dtype(DType::F32)?)
            }
            Some(_) | None => Ok(self.quantized.forward(x)?),
        }
    }
}

/// Several projections of the same input whose outputs are concatenated (Q/K/V, gate/up):
/// runs of parts stored in the same format are fused into one matrix, the rest stay apart
/// (e.g. qwen2 files with Q and K in Q4_K and V in Q6_K), plus an optional bias.
#[derive(Debug)]
struct Projection {
    groups: Vec<Linear>,
    bias: Option<Tensor>,
    out_features: usize,
}

impl Projection {
    fn new(
        parts: Vec<QTensor>,
        bias: Option<Tensor>,
        dense_dtype: Option<DType>,
        device: &Device,
    ) -> Result<Self> {
        let mut runs: Vec<Vec<QTensor>> = Vec::new();
        for part in parts {
            match runs.last_mut() {
                Some(run) if run[0].dtype() == part.dtype() => run.push(part),
                _ => runs.push(vec![part]),
            }
        }
        let groups = runs
            .into_iter()
            .map(|run| {
                let weight = if run.len() == 1 {
                    run.into_iter().next().expect("a run has a part")
                } else {
                    fuse(&run, device)?
                };
                Linear::new(weight, dense_dtype, device)
            })
            .collect::<Result<Vec<_>>>()?;
        let out_features = groups.iter().map(|g| g.out_features).sum();
        Ok(Self {
            groups,
            bias,
            out_features,
        })
    }

    fn forward(&self, x: &Tensor, prompt: bool) -> Result<Tensor> {
        let out = match self.groups.as_slice() {
            [one] => one.forward(x, prompt)?,
            many => {
                let outs = many
                    .iter()
                    .map(|g| g.forward(x, prompt))
                    .collect::<Result<Vec<_>>>()?;
                Tensor::cat(&outs, 1)?
            }
        };
        Ok(match &self.bias {
            Some(b) => out.broadcast_add(b)?,
            None => out,
        })
    }
}

/// Token embeddings kept in the file's format; rows are dequantized when looked up.
#[derive(Debug)]
struct Embeddings {
    dtype: GgmlDType,
    bytes: Vec<u8>,
    row_bytes: usize,
    cols: usize,
    vocab: usize,
}

impl Embeddings {
    fn new(weight: &QTensor) -> Result<Self> {
        let (vocab, cols) = weight.shape().dims2()?;
        let dtype = weight.dtype();
        let bytes = weight.data()?.into_owned();
        Ok(Self {
            dtype,
            row_bytes: cols / dtype.block_size() * dtype.type_size(),
            bytes,
            cols,
            vocab,
        })
    }

    /// (tokens.len(), cols) f32 rows.
    fn lookup(&self, tokens: &[u32], device: &Device) -> Result<Tensor> {
        let mut rows = Vec::with_capacity(tokens.len() * self.row_bytes);
        for &t in tokens {
            let t = t as usize;
            if t >= self.vocab {
                return Err(candle_core::Error::Msg(format!(
                    "token id {t} is outside the vocabulary of {}",
                    self.vocab
                ))
                .into());
            }
            rows.extend_from_slice(&self.bytes[t * self.row_bytes..(t + 1) * self.row_bytes]);
        }
        let q =
            ggml_file::qtensor_from_ggml(self.dtype, &rows, vec![tokens.len(), self.cols], device)?;
        Ok(q.dequantize(device)?)
    }
}

#[derive(Debug)]
struct Layer {
    attn_norm: Tensor,
    qkv: Projection,
    wo: Linear,
    ffn_norm: Tensor,
    gate_up: Projection,
    down: Linear,
}

/// Shared transformer weights.
#[derive(Debug)]
pub(crate) struct Transformer {
    embeddings: Embeddings,
    layers: Vec<Layer>,
    norm: Tensor,
    output: Linear,
    cos: Tensor,
    sin: Tensor,
    hyper: Hyper,
    head_dim: usize,
}

/// One sequence's attention state.
#[derive(Debug, Clone)]
pub(crate) struct Cache {
    layers: Vec<KvCache>,
}

impl Cache {
    /// Positions held.
    pub(crate) fn len(&self) -> usize {
        self.layers.first().map_or(0, KvCache::current_seq_len)
    }

    /// Bytes of attention state held (K and V of every layer).
    pub(crate) fn bytes(&self) -> usize {
        self.layers
            .iter()
            .map(|kv| match (kv.k(), kv.v()) {
                (Ok(Some(k)), Ok(Some(v))) => {
                    (k.elem_count() * k.dtype().size_in_bytes())
                        + (v.elem_count() * v.dtype().size_in_bytes())
                }
                _ => 0,
            })
            .sum()
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

impl Transformer {
    /// Loads the weights of a model whose shape `hyper` describes. `dense_dtype` keeps dense
    /// copies of the layer weights for prompt processing (`None`: quantized only, least
    /// memory).
    pub(crate) fn load(
        gguf: &mut GgufFile,
        hyper: Hyper,
        dense_dtype: Option<DType>,
        device: &Device,
    ) -> Result<Arc<Self>> {
        let layer_params: usize = gguf
            .content
            .tensor_infos
            .iter()
            .filter(|(name, info)| name.starts_with("blk.") && info.shape.rank() == 2)
            .map(|(_, info)| info.shape.elem_count())
            .sum();
        let dense_dtype = match dense_dtype {
            Some(dtype) if layer_params * dtype.size_in_bytes() > DENSE_PREFILL_MAX_BYTES => {
                tracing::info!(
                    dense_mib = (layer_params * dtype.size_in_bytes()) >> 20,
                    "dense prefill weights would exceed their budget: prefill uses the quantized weights"
                );
                None
            }
            other => other,
        };
        let GgufFile {
            content,
            reader,
            path,
        } = gguf;
        let mut tensor = |name: &str| -> Result<QTensor> {
            content
                .tensor(reader, name, device)
                .map_err(|e| Error::BadMetadata {
                    path: path.clone(),
                    reason: format!("tensor {name}: {e}"),
                })
        };
        let embeddings_q = tensor("token_embd.weight")?;
        let embeddings = Embeddings::new(&embeddings_q)?;
        // A file without `output.weight` ties the output head to the embeddings.
        let output = match tensor("output.weight") {
            Ok(t) => t,
            Err(_) => embeddings_q,
        };
        let norm = tensor("output_norm.weight")?.dequantize(device)?;
        let mut layers = Vec::with_capacity(hyper.n_layer);
        for i in 0..hyper.n_layer {
            let p = format!("blk.{i}");
            let mut weight = |name: &str| tensor(&format!("{p}.{name}.weight"));
            let qkv = vec![weight("attn_q")?, weight("attn_k")?, weight("attn_v")?];
            let gate_up = vec![weight("ffn_gate")?, weight("ffn_up")?];
            let wo = weight("attn_output")?;
            let down = weight("ffn_down")?;
            let mut vector = |name: &str| -> Result<Tensor> {
                Ok(tensor(&format!("{p}.{name}"))?.dequantize(device)?)
            };
            let qkv_bias = if hyper.qkv_bias {
                Some(Tensor::cat(
                    &[
                        vector("attn_q.bias")?,
                        vector("attn_k.bias")?,
                        vector("attn_v.bias")?,
                    ],
                    0,
                )?)
            } else {
                None
            };
            layers.push(Layer {
                attn_norm: vector("attn_norm.weight")?,
                qkv: Projection::new(qkv, qkv_bias, dense_dtype, device)?,
                wo: Linear::new(wo, dense_dtype, device)?,
                ffn_norm: vector("ffn_norm.weight")?,
                gate_up: Projection::new(gate_up, None, dense_dtype, device)?,
                down: Linear::new(down, dense_dtype, device)?,
            });
        }
        // The output head only ever sees one row (the last position): keep it quantized.
        let output = Linear::new(output, None, device)?;
        let head_dim = hyper.head_dim();
        let (cos, sin) = rotary_tables(head_dim, hyper.rope_theta, device)?;
        Ok(Arc::new(Self {
            embeddings,
            layers,
            norm,
            output,
            cos,
            sin,
            hyper,
            head_dim,
        }))
    }

    pub(crate) fn new_cache(&self) -> Cache {
        Cache {
            layers: (0..self.layers.len())
                .map(|_| KvCache::new(1, 256))
                .collect(),
        }
    }

    /// Logits for the last of `tokens`, which occupy positions `pos..pos + tokens.len()`.
    pub(crate) fn forward(&self, cache: &mut Cache, tokens: &[u32], pos: usize) -> Result<Tensor> {
        let device = self.norm.device();
        let t = tokens.len();
        let mut x = self.embeddings.lookup(tokens, device)?;
        let mask = if t > 1 {
            Some(causal_mask(t, pos, device)?)
        } else {
            None
        };
        let cos = self.cos.narrow(0, pos, t)?;
        let sin = self.sin.narrow(0, pos, t)?;
        let eps = self.hyper.eps as f32;
        for (layer, kv) in self.layers.iter().zip(cache.layers.iter_mut()) {
            let h = candle_nn::ops::rms_norm(&x, &layer.attn_norm, eps)?;
            let qkv = layer.qkv.forward(&h, true)?;
            let attn = self.attend(&qkv, kv, &cos, &sin, mask.as_ref())?;
            x = (x + layer.wo.forward(&attn, true)?)?;
            x = (&x + self.feed_forward(layer, &x, true)?)?;
        }
        let last = x.narrow(0, t - 1, 1)?;
        let last = candle_nn::ops::rms_norm(&last, &self.norm, eps)?;
        Ok(self.output.forward(&last, false)?.squeeze(0)?)
    }

    /// One decoding step of several sequences together: sequence `i` feeds `tokens[i]` at
    /// `positions[i]` into `caches[i]`. The matrix products take all rows at once, so each
    /// weight is read once per step for the whole batch; rotary embeddings and attention run
    /// per sequence on its own cache. Row `i` of the result is what [`Self::forward`] gives
    /// for that sequence alone (the same kernels see the same rows).
    pub(crate) fn forward_batch(
        &self,
        caches: &mut [&mut Cache],
        tokens: &[u32],
        positions: &[usize],
    ) -> Result<Tensor> {
        let device = self.norm.device();
        let b = tokens.len();
        debug_assert!(caches.len() == b && positions.len() == b);
        let mut x = self.embeddings.lookup(tokens, device)?;
        let rotary = positions
            .iter()
            .map(|&p| Ok((self.cos.narrow(0, p, 1)?, self.sin.narrow(0, p, 1)?)))
            .collect::<Result<Vec<_>>>()?;
        let eps = self.hyper.eps as f32;
        for (l, layer) in self.layers.iter().enumerate() {
            let h = candle_nn::ops::rms_norm(&x, &layer.attn_norm, eps)?;
            let qkv = layer.qkv.forward(&h, false)?;
            let rows = caches
                .iter_mut()
                .zip(&rotary)
                .enumerate()
                .map(|(i, (cache, (cos, sin)))| {
                    self.attend(&qkv.narrow(0, i, 1)?, &mut cache.layers[l], cos, sin, None)
                })
                .collect::<Result<Vec<_>>>()?;
            let attn = match rows.len() {
                1 => rows.into_iter().next().expect("one row"),
                _ => Tensor::cat(&rows, 0)?,
            };
            x = (x + layer.wo.forward(&attn, false)?)?;
            x = (&x + self.feed_forward(layer, &x, false)?)?;
        }
        let x = candle_nn::ops::rms_norm(&x, &self.norm, eps)?;
        self.output.forward(&x, false)
    }

    /// Self-attention of `t` positions given their fused Q/K/V rows `(t, q + 2 kv)`: rotary
    /// embeddings, appending K and V to `kv`, grouped-query attention. Returns (t, q).
    fn attend(
        &self,
        qkv: &Tensor,
        kv: &mut KvCache,
        cos: &Tensor,
        sin: &Tensor,
        mask: Option<&Tensor>,
    ) -> Result<Tensor> {
        let t = qkv.dim(0)?;
        let (n_head, n_kv_head) = (self.hyper.n_head, self.hyper.n_kv_head);
        let (q_dim, kv_dim) = (n_head * self.head_dim, n_kv_head * self.head_dim);
        let heads = |start: usize, len: usize, n: usize| -> Result<Tensor> {
            Ok(qkv
                .narrow(1, start, len)?
                .reshape((t, n, self.head_dim))?
                .transpose(0, 1)?
                .contiguous()?)
        };
        let q = self.rope(&heads(0, q_dim, n_head)?, cos, sin)?;
        let k = self.rope(&heads(q_dim, kv_dim, n_kv_head)?, cos, sin)?;
        let v = heads(q_dim + kv_dim, kv_dim, n_kv_head)?;
        let (k, v) = kv.append(&k, &v)?;
        self.attention(&q, &k, &v, mask, t)
    }

    /// The gated feed-forward block of `layer` on the residual stream `x`.
    fn feed_forward(&self, layer: &Layer, x: &Tensor, prompt: bool) -> Result<Tensor> {
        let h = candle_nn::ops::rms_norm(x, &layer.ffn_norm, self.hyper.eps as f32)?;
        let gate_up = layer.gate_up.forward(&h, prompt)?;
        let ffn = layer.gate_up.out_features / 2;
        let act =
            (candle_nn::ops::silu(&gate_up.narrow(1, 0, ffn)?)? * gate_up.narrow(1, ffn, ffn)?)?;
        layer.down.forward(&act, prompt)
    }

    fn rope(&self, x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
        let x = x.unsqueeze(0)?;
        let y = match self.hyper.rope {
            RopeStyle::Interleaved => candle_nn::rotary_emb::rope_i(&x, cos, sin)?,
            RopeStyle::Halves => candle_nn::rotary_emb::rope(&x, cos, sin)?,
        };
        Ok(y.squeeze(0)?)
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
        let (n_head, n_kv_head) = (self.hyper.n_head, self.hyper.n_kv_head);
        let group = n_head / n_kv_head;
        let kv_len = k.dim(1)?;
        let q = q.reshape((n_kv_head, group * t, self.head_dim))?;
        let scale = 1.0 / (self.head_dim as f64).sqrt();
        let scores = (q.matmul(&k.t()?)? * scale)?;
        let scores = match mask {
            Some(mask) => scores
                .reshape((n_kv_head, group, t, kv_len))?
                .broadcast_add(mask)?
                .reshape((n_kv_head, group * t, kv_len))?,
            None => scores,
        };
        let probs = candle_nn::ops::softmax_last_dim(&scores)?;
        let out = probs.matmul(&v.contiguous()?)?;
        Ok(out
            .reshape((n_head, t, self.head_dim))?
            .transpose(0, 1)?
            .reshape((t, n_head * self.head_dim))?)
    }
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

/// Stacks the rows of several weight matrices of one format into one. Quantized rows are
/// independent runs of blocks, so this concatenates the stored bytes: no requantization, no
/// loss.
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
pub(crate) mod tests {
    use super::*;

    pub(crate) fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    }

    /// Logits close to a reference's (a small fraction of the logit scale) and the same next
    /// token.
    pub(crate) fn assert_close(a: &Tensor, b: &Tensor, what: &str) {
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
}
