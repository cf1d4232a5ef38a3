//! The embedder against sentence-transformers' own vectors for the same model.

use tact_core::Embedder;

use crate::common::{data, embedder};

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b))
}

#[derive(serde::Deserialize)]
struct Reference {
    sentences: Vec<String>,
    vectors: Vec<Vec<f32>>,
}

#[test]
fn embeddings_match_sentence_transformers() {
    let text = std::fs::read_to_string(data("reference-embeddings.json")).unwrap();
    let reference: Reference = serde_json::from_str(&text).unwrap();
    assert!(reference.sentences.len() >= 4);
    let sentences: Vec<&str> = reference.sentences.iter().map(String::as_str).collect();
    // Once as one batch (padded to the longest) and once one by one (no padding at all).
    let batched = embedder().embed(&sentences).unwrap();
    for (i, sentence) in sentences.iter().enumerate() {
        let single = embedder().embed(&[sentence]).unwrap().remove(0);
        assert_eq!(single.len(), 384);
        let similarity = cosine(&batched[i], &reference.vectors[i]);
        assert!(similarity >= 0.99, "{sentence:?}: cosine {similarity}");
        let similarity = cosine(&single, &reference.vectors[i]);
        assert!(
            similarity >= 0.99,
            "{sentence:?} alone: cosine {similarity}"
        );
        let norm = single.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "norm {norm}");
    }
}

#[test]
fn related_sentences_are_closer_than_unrelated_ones() {
    let v = embedder()
        .embed(&[
            "Where is my order?",
            "My package has not arrived yet.",
            "I love the taste of this roast.",
        ])
        .unwrap();
    assert!(cosine(&v[0], &v[1]) > cosine(&v[0], &v[2]) + 0.2);
}

#[test]
fn text_past_256_word_pieces_is_ignored() {
    let long = "coffee ".repeat(300);
    let longer = format!("{long} this tail is past the limit and changes nothing");
    let v = embedder().embed(&[&long, &longer, "coffee"]).unwrap();
    assert!(cosine(&v[0], &v[1]) > 0.99999, "{}", cosine(&v[0], &v[1]));
    assert!(cosine(&v[0], &v[2]) < 0.99999);
}

#[test]
fn an_empty_batch_is_empty() {
    assert!(embedder().embed(&[]).unwrap().is_empty());
}

/// The embedder's own BERT (weights laid out for the CPU, fused projections, rational-erf
/// GELU) against candle-transformers' `BertModel` on the same weights, tokens and pooling: the
/// same vectors to within float rounding, for a batch with padding and for single texts.
#[test]
fn the_encoder_matches_candle_transformers_bert() {
    use candle_core::{DType, Device, Tensor};
    use candle_transformers::models::bert::{BertModel, Config};

    let dir = crate::common::model_dir();
    let config: Config =
        serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
    let weights = candle_nn::VarBuilder::from_buffered_safetensors(
        std::fs::read(dir.join("model.safetensors")).unwrap(),
        DType::F32,
        &Device::Cpu,
    )
    .unwrap();
    let reference = BertModel::load(weights, &config).unwrap();
    let mut tokenizer = tokenizers::Tokenizer::from_file(dir.join("tokenizer.json")).unwrap();
    tokenizer.with_padding(Some(tokenizers::PaddingParams {
        strategy: tokenizers::PaddingStrategy::BatchLongest,
        ..Default::default()
    }));
    tokenizer
        .with_truncation(Some(tokenizers::TruncationParams {
            max_length: tact_retrieval::MAX_TOKENS,
            ..Default::default()
        }))
        .unwrap();
    let pooled = |texts: &[&str]| -> Vec<Vec<f32>> {
        let encodings = tokenizer.encode_batch(texts.to_vec(), true).unwrap();
        let width = encodings[0].len();
        let ids: Vec<u32> = encodings
            .iter()
            .flat_map(|e| e.get_ids().to_vec())
            .collect();
        let mask: Vec<u32> = encodings
            .iter()
            .flat_map(|e| e.get_attention_mask().to_vec())
            .collect();
        let ids = Tensor::from_vec(ids, (texts.len(), width), &Device::Cpu).unwrap();
        let mask = Tensor::from_vec(mask, (texts.len(), width), &Device::Cpu).unwrap();
        let hidden = reference
            .forward(&ids, &ids.zeros_like().unwrap(), Some(&mask))
            .unwrap();
        let mask = mask.to_dtype(DType::F32).unwrap().unsqueeze(2).unwrap();
        let mean = hidden
            .broadcast_mul(&mask)
            .unwrap()
            .sum(1)
            .unwrap()
            .broadcast_div(&mask.sum(1).unwrap())
            .unwrap();
        mean.to_vec2::<f32>()
            .unwrap()
            .into_iter()
            .map(|v| {
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                v.into_iter().map(|x| x / norm).collect()
            })
            .collect()
    };

    let texts = [
        "Where is my order?",
        "My Kettle Pro arrived broken and the box was soaked. Do I need to send it back or can \
         you just replace it? I have been a customer for years.",
        "¡Hola! El pedido no ha llegado 😕",
        "ok",
    ];
    let ours = embedder().embed(&texts).unwrap();
    let theirs = pooled(&texts);
    for (i, text) in texts.iter().enumerate() {
        let single = pooled(&[text]).remove(0);
        for (name, reference) in [("batched", &theirs[i]), ("alone", &single)] {
            let largest = ours[i]
                .iter()
                .zip(reference.iter())
                .map(|(a, b)| (a - b).abs())
                .fold(0.0_f32, f32::max);
            assert!(
                largest < 1e-4,
                "{text:?} ({name}): largest difference {largest}, cosine {}",
                cosine(&ours[i], reference)
            );
        }
    }
}
