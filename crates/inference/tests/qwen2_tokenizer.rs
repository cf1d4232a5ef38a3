//! tact's tokenizer for Qwen2 files (`tokenizer.ggml.pre = qwen2`) against llama.cpp's on the
//! same GGUF: token ids of a fixed set of strings (ASCII, digits, emoji with modifiers, CJK,
//! CRLF, contractions, accents, a special-token string a customer typed) were taken once from
//! llama.cpp and committed in `data/qwen2_tokens.json` (written by `data/qwen2_tokens.py`,
//! which names its source).

use tact_inference::{GgufFile, GgufTokenizer};

#[test]
fn qwen2_token_ids_match_llama_cpps() {
    let reference: serde_json::Value =
        serde_json::from_str(include_str!("data/qwen2_tokens.json")).unwrap();
    let cases = reference["cases"].as_array().unwrap();
    assert!(cases.len() >= 10);
    for id in ["qwen2.5-coder-0.5b-instruct", "qwen2.5-coder-1.5b-instruct"] {
        let gguf = GgufFile::open(&tact_e2e::model_file(id)).unwrap();
        let tokenizer = GgufTokenizer::from_gguf(&gguf).unwrap();
        for case in cases {
            let text = case["text"].as_str().unwrap();
            let expected: Vec<u32> = case["ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as u32)
                .collect();
            let ids = tokenizer.encode_plain(text).unwrap();
            assert_eq!(ids, expected, "{id}: {text:?}");
            assert_eq!(tokenizer.decode(&ids).unwrap(), text, "{id}: round trip");
        }
        // Template text: the control tokens are single tokens.
        let im_end = tokenizer.token_id("<|im_end|>").unwrap();
        assert_eq!(tokenizer.encode_template("<|im_end|>").unwrap(), [im_end]);
        assert!(tokenizer.is_special(im_end));
        assert_eq!(tokenizer.eos_id(), im_end);
    }
}
