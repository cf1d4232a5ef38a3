//! A BERT encoder for sentence embeddings, laid out for the CPU.
//!
//! Same weights and same arithmetic as `candle_transformers::models::bert::BertModel` (the
//! integration tests hold the two to each other), arranged for throughput:
//!
//! - every projection's weight is transposed once at load, so a matmul reads it contiguously
//!   (candle's `Linear` multiplies by a transposed view on every call, about twice as slow for
//!   the 384 × 384 projections here);
//! - the query, key and value projections are one matmul;
//! - GELU uses a vectorisable rational approximation of erf (max error under 1e-6, tested)
//!   instead of libm's branchy scalar `erff`, which took a fifth of the embedding time;
//! - the last layer's output is returned as is: pooling happens in the caller.
//!
//! Absolute position embeddings and token type 0 only, which is what sentence-transformers
//! models like all-MiniLM-L6-v2 use.

use candle_core::{CpuStorage, CustomOp1, DType, Layout, Module, Result, Shape, Tensor};
use candle_nn::{Embedding, VarBuilder};
use candle_transformers::models::bert::{Config, HiddenAct};

/// A projection whose weight is stored transposed: `(in, out)`, contiguous.
struct Projection {
    weight: Tensor,
    bias: Tensor,
}

impl Projection {
    fn load(vb: &VarBuilder, inputs: usize, outputs: usize) -> Result<Self> {
        let weight = vb.get((outputs, inputs), "weight")?;
        let bias = vb.get(outputs, "bias")?;
        Ok(Self {
            weight: weight.t()?.contiguous()?,
            bias,
        })
    }

    /// Several projections of the same input as one: their outputs side by side.
    fn fused(parts: &[Projection]) -> Result<Self> {
        let weights: Vec<&Tensor> = parts.iter().map(|p| &p.weight).collect();
        let biases: Vec<&Tensor> = parts.iter().map(|p| &p.bias).collect();
        Ok(Self {
            weight: Tensor::cat(&weights, 1)?.contiguous()?,
            bias: Tensor::cat(&biases, 0)?,
        })
    }

    /// `x`: `(rows, in)`.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.matmul(&self.weight)?.broadcast_add(&self.bias)
    }
}

struct Norm {
    weight: Tensor,
    bias: Tensor,
    eps: f32,
}

impl Norm {
    fn load(vb: &VarBuilder, size: usize, eps: f64) -> Result<Self> {
        Ok(Self {
            weight: vb.get(size, "weight")?,
            bias: vb.get(size, "bias")?,
            eps: eps as f32,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        candle_nn::ops::layer_norm(x, &self.weight, &self.bias, self.eps)
    }
}

struct Layer {
    qkv: Projection,
    attention_out: Projection,
    attention_norm: Norm,
    up: Projection,
    down: Projection,
    output_norm: Norm,
}

/// The encoder: embeddings and transformer layers.
pub struct Encoder {
    words: Embedding,
    positions: Tensor,
    token_type: Tensor,
    embedding_norm: Norm,
    layers: Vec<Layer>,
    heads: usize,
    head_size: usize,
}

impl Encoder {
    /// Loads BERT weights as named in a `BertModel` checkpoint (with or without the `bert.`
    /// prefix).
    pub fn load(vb: VarBuilder, config: &Config) -> Result<Self> {
        if config.hidden_act != HiddenAct::Gelu {
            candle_core::bail!(
                "this encoder implements the exact (erf) GELU only, the model asks for {:?}",
                config.hidden_act
            );
        }
        let vb = if vb.contains_tensor("embeddings.word_embeddings.weight") {
            vb
        } else {
            vb.pp("bert")
        };
        let hidden = config.hidden_size;
        if !hidden.is_multiple_of(config.num_attention_heads) {
            candle_core::bail!(
                "hidden size {hidden} is not a multiple of {} heads",
                config.num_attention_heads
            );
        }
        let embeddings = vb.pp("embeddings");
        let words =
            candle_nn::embedding(config.vocab_size, hidden, embeddings.pp("word_embeddings"))?;
        let positions = embeddings.get(
            (config.max_position_embeddings, hidden),
            "position_embeddings.weight",
        )?;
        let token_type = embeddings
            .get(
                (config.type_vocab_size, hidden),
                "token_type_embeddings.weight",
            )?
            .get(0)?;
        let embedding_norm =
            Norm::load(&embeddings.pp("LayerNorm"), hidden, config.layer_norm_eps)?;
        let layers = (0..config.num_hidden_layers)
            .map(|i| {
                let vb = vb.pp(format!("encoder.layer.{i}"));
                let attention = vb.pp("attention");
                let projection = |name: &str| Projection::load(&attention.pp(name), hidden, hidden);
                Ok(Layer {
                    qkv: Projection::fused(&[
                        projection("self.query")?,
                        projection("self.key")?,
                        projection("self.value")?,
                    ])?,
                    attention_out: projection("output.dense")?,
                    attention_norm: Norm::load(
                        &attention.pp("output.LayerNorm"),
                        hidden,
                        config.layer_norm_eps,
                    )?,
                    up: Projection::load(
                        &vb.pp("intermediate.dense"),
                        hidden,
                        config.intermediate_size,
                    )?,
                    down: Projection::load(
                        &vb.pp("output.dense"),
                        config.intermediate_size,
                        hidden,
                    )?,
                    output_norm: Norm::load(
                        &vb.pp("output.LayerNorm"),
                        hidden,
                        config.layer_norm_eps,
                    )?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            words,
            positions,
            token_type,
            embedding_norm,
            layers,
            heads: config.num_attention_heads,
            head_size: hidden / config.num_attention_heads,
        })
    }

    /// The last hidden states, `(batch, tokens, hidden)`. `ids` and `mask` are
    /// `(batch, tokens)`, u32; padding has mask 0 and is attended by nothing.
    pub fn forward(&self, ids: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let (batch, tokens) = ids.dims2()?;
        if tokens > self.positions.dim(0)? {
            candle_core::bail!(
                "{tokens} tokens, past the model's {} positions",
                self.positions.dim(0)?
            );
        }
        let hidden = self.heads * self.head_size;
        let x = self
            .words
            .forward(ids)?
            .broadcast_add(&self.positions.narrow(0, 0, tokens)?)?
            .broadcast_add(&self.token_type)?;
        let mut x = self
            .embedding_norm
            .forward(&x)?
            .reshape((batch * tokens, hidden))?;
        // 0 where attended, the lowest f32 where padding: added to the scores before softmax.
        let bias = ((mask.to_dtype(DType::F32)? - 1.0)? * f64::from(f32::MAX))?
            .reshape((batch, 1, 1, tokens))?;
        let scale = 1.0 / (self.head_size as f64).sqrt();
        for layer in &self.layers {
            let qkv = layer
                .qkv
                .forward(&x)?
                .reshape((batch, tokens, 3, self.heads, self.head_size))?
                .permute((2, 0, 3, 1, 4))?
                .contiguous()?;
            let (q, k, v) = (qkv.get(0)?, qkv.get(1)?, qkv.get(2)?);
            let scores = (q.matmul(&k.t()?)? * scale)?.broadcast_add(&bias)?;
            let probs = candle_nn::ops::softmax_last_dim(&scores)?;
            let context = probs
                .matmul(&v)?
                .transpose(1, 2)?
                .contiguous()?
                .reshape((batch * tokens, hidden))?;
            let attended = layer
                .attention_norm
                .forward(&(layer.attention_out.forward(&context)? + &x)?)?;
            let inner = layer.up.forward(&attended)?.apply_op1_no_bwd(&Gelu)?;
            x = layer
                .output_norm
                .forward(&(layer.down.forward(&inner)? + &attended)?)?;
        }
        x.reshape((batch, tokens, hidden))
    }
}

/// `0.5 x (1 + erf(x / √2))`, on f32 CPU tensors.
struct Gelu;

impl CustomOp1 for Gelu {
    fn name(&self) -> &'static str {
        "gelu-erf-rational"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let CpuStorage::F32(data) = storage else {
            candle_core::bail!("{}: f32 tensors only", self.name());
        };
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("{}: contiguous input only", self.name());
        };
        let mut out = data[start..end].to_vec();
        gelu_in_place(&mut out);
        Ok((CpuStorage::F32(out), layout.shape().clone()))
    }
}

fn gelu_in_place(values: &mut [f32]) {
    for v in values.iter_mut() {
        *v = 0.5 * *v * (1.0 + erf(*v * std::f32::consts::FRAC_1_SQRT_2));
    }
}

/// erf as a rational function of x on [-4, 4] (outside it erf is ±1 in f32): the
/// approximation Eigen and XLA use. Branch-free and without `mul_add` (a library call where
/// the build does not assume FMA), so the loop above vectorises.
#[inline(always)]
pub(crate) fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = -2.726_142_3e-10_f32;
    p = p * x2 + 2.770_681_4e-8;
    p = p * x2 - 2.101_024e-6;
    p = p * x2 - 5.692_506_4e-5;
    p = p * x2 - 7.349_906_3e-4;
    p = p * x2 - 2.954_600_5e-3;
    p = p * x2 - 1.609_603_3e-2;
    let mut q = -1.456_607_2e-5_f32;
    q = q * x2 - 2.133_740_6e-4;
    q = q * x2 - 1.682_827e-3;
    q = q * x2 - 7.373_329_5e-3;
    q = q * x2 - 1.426_474e-2;
    x * p / q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_matches_libm_within_1e6() {
        let mut worst = 0.0_f64;
        for i in -60_000..=60_000 {
            let x = i as f64 / 10_000.0;
            let exact = libm_erf(x);
            let error = (f64::from(erf(x as f32)) - exact).abs();
            worst = worst.max(error);
        }
        assert!(worst < 1e-6, "worst error {worst}");
    }

    #[test]
    fn gelu_matches_its_definition() {
        let xs: Vec<f32> = (-800..=800).map(|i| i as f32 / 100.0).collect();
        let mut fast = xs.clone();
        gelu_in_place(&mut fast);
        for (x, f) in xs.iter().zip(&fast) {
            let exact = 0.5 * f64::from(*x) * (1.0 + libm_erf(f64::from(*x) / 2f64.sqrt()));
            assert!(
                (f64::from(*f) - exact).abs() < 1e-5,
                "gelu({x}) = {f}, not {exact}"
            );
        }
    }

    /// erf to double precision (Abramowitz and Stegun 7.1.26 is not enough; this is the
    /// series for |x| < 3 and the continued fraction beyond).
    fn libm_erf(x: f64) -> f64 {
        let a = x.abs();
        let value = if a < 3.0 {
            // erf(x) = 2/√π Σ (-1)^n x^(2n+1) / (n! (2n+1))
            let mut term = a;
            let mut sum = a;
            let mut n = 0.0;
            while term.abs() > 1e-17 * sum.abs() {
                n += 1.0;
                term *= -a * a / n;
                sum += term / (2.0 * n + 1.0);
            }
            sum * 2.0 / std::f64::consts::PI.sqrt()
        } else {
            // erfc(x) = e^(-x²)/(x√π) · 1/(1 + 1/(2x²)/(1 + 2/(2x²)/(1 + ...)))
            let mut fraction = 0.0;
            for k in (1..60).rev() {
                fraction = (k as f64 / 2.0) / (a + fraction);
            }
            1.0 - (-a * a).exp() / std::f64::consts::PI.sqrt() / (a + fraction)
        };
        value.copysign(x)
    }
}
