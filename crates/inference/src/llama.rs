//! The llama architecture (SmolLM2 and friends) on the shared [`Transformer`].

use std::sync::Arc;

use candle_core::{DType, Device};

use crate::error::Result;
use crate::gguf::GgufFile;
use crate::transformer::{Hyper, RopeStyle, Transformer};

/// Reads a llama file's shape. llama.cpp's converter permutes Q and K so that rotary pairs
/// are adjacent; there are no attention biases.
pub(crate) fn hyper(gguf: &GgufFile) -> Result<Hyper> {
    Hyper::read(gguf, "llama", RopeStyle::Interleaved, false)
}

pub(crate) fn load(
    gguf: &mut GgufFile,
    dense_dtype: Option<DType>,
    device: &Device,
) -> Result<Arc<Transformer>> {
    let hyper = hyper(gguf)?;
    Transformer::load(gguf, hyper, dense_dtype, device)
}

#[cfg(test)]
mod tests {
    use candle_core::Tensor;
    use candle_transformers::models::quantized_llama::ModelWeights;

    use super::*;
    use crate::transformer::tests::{assert_close, max_abs_diff};

    fn open() -> GgufFile {
        GgufFile::open(&tact_e2e::chat_model_path()).unwrap()
    }

    fn reference_logits(prompt: &[u32], device: &Device) -> Tensor {
        let GgufFile {
            content,
            mut reader,
            ..
        } = open();
        let mut fresh = ModelWeights::from_gguf(content, &mut reader, device).unwrap();
        fresh
            .forward(
                &Tensor::new(prompt, device).unwrap().unsqueeze(0).unwrap(),
                0,
            )
            .unwrap()
            .squeeze(0)
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
        let ours = load(&mut open(), None, &device).unwrap();
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
                &reference_logits(&prompt[..4], &device)
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

    /// Dense f32 prefill and quantized prefill agree closely (the dense weights are the exact
    /// dequantized values; the quantized path also quantizes activations to 8 bits).
    #[test]
    fn dense_prefill_agrees_with_quantized_prefill() {
        let device = Device::Cpu;
        let dense = load(&mut open(), Some(DType::F32), &device).unwrap();
        let quantized = load(&mut open(), None, &device).unwrap();
        let prompt: Vec<u32> = (100..140).collect();
        let a = dense.forward(&mut dense.new_cache(), &prompt, 0).unwrap();
        let b = quantized
            .forward(&mut quantized.new_cache(), &prompt, 0)
            .unwrap();
        assert_close(&a, &b, "dense vs quantized prefill");
    }
}
