//! The qwen2 architecture (Qwen2.5 and its coder models) on the shared [`Transformer`]:
//! biases on the Q, K and V projections, GPT-NeoX rotary layout (halves, not adjacent
//! pairs), rope theta and RMSNorm epsilon from the file (1e6 and 1e-6 for Qwen2.5), and an
//! output head that is tied to the embeddings unless the file carries `output.weight`.

use std::sync::Arc;

use candle_core::{DType, Device};

use crate::error::Result;
use crate::gguf::GgufFile;
use crate::transformer::{Hyper, RopeStyle, Transformer};

pub(crate) fn hyper(gguf: &GgufFile) -> Result<Hyper> {
    Hyper::read(gguf, "qwen2", RopeStyle::Halves, true)
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
    use candle_transformers::models::quantized_qwen2::ModelWeights;

    use super::*;
    use crate::transformer::tests::assert_close;

    /// The smaller Qwen file: its formats (Q5_0, Q8_0, Q4_K, Q6_K, unfusable Q/K/V) cover
    /// more paths than the 1.5B file's (Q4_K, Q6_K).
    fn open() -> GgufFile {
        GgufFile::open(&tact_e2e::model_file("qwen2.5-coder-0.5b-instruct")).unwrap()
    }

    /// Ours against candle's `quantized_qwen2` on the real file, as shipped (no
    /// requantization): a prompt, then a decode step on top of its cache.
    #[test]
    fn matches_candles_reference_qwen2() {
        let device = Device::Cpu;
        let ours = load(&mut open(), None, &device).unwrap();
        let GgufFile {
            content,
            mut reader,
            ..
        } = open();
        let mut reference = ModelWeights::from_gguf(content, &mut reader, &device).unwrap();
        // "<|im_start|>user\nDo you ship to Canada?<|im_end|>\n<|im_start|>assistant\n"
        let prompt: Vec<u32> = vec![
            151644, 872, 198, 5404, 498, 8284, 311, 6864, 30, 151645, 198, 151644, 77091, 198,
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

        // Greedy decoding for a few steps, each on top of the cache the previous one wrote.
        let mut token = a.argmax(0).unwrap().to_scalar::<u32>().unwrap();
        for i in 0..4 {
            let pos = prompt.len() + i;
            let a = ours.forward(&mut cache, &[token], pos).unwrap();
            let b = reference
                .forward(
                    &Tensor::new(&[token], &device)
                        .unwrap()
                        .unsqueeze(0)
                        .unwrap(),
                    pos,
                )
                .unwrap()
                .squeeze(0)
                .unwrap();
            assert_close(&a, &b, &format!("decode step {i}"));
            token = b.argmax(0).unwrap().to_scalar::<u32>().unwrap();
        }
    }

    #[test]
    fn reads_the_shape_from_the_file() {
        let h = hyper(&open()).unwrap();
        assert_eq!((h.n_head, h.n_kv_head, h.n_layer), (14, 2, 24));
        assert_eq!(h.rope_theta, 1_000_000.0);
        assert!((h.eps - 1e-6).abs() < 1e-9, "{}", h.eps);
        assert!(h.qkv_bias);
    }
}
