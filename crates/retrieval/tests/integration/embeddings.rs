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
