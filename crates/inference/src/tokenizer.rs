//! A byte-level BPE tokenizer built from a GGUF file's own metadata, so no `tokenizer.json`
//! (and no network) is needed.

use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::BPE;
use tokenizers::normalizers::unicode::NFC;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{AddedToken, PreTokenizerWrapper, SplitDelimiterBehavior, Tokenizer};

use crate::error::{Error, Result};
use crate::gguf::GgufFile;

/// GGUF `tokenizer.ggml.token_type` values (llama.cpp's `llama_token_type`).
const TOKEN_TYPE_CONTROL: i32 = 3;
const TOKEN_TYPE_USER_DEFINED: i32 = 4;

/// Qwen2's pre-tokenizer split (the `tokenizer.json` of the Qwen2 models; llama.cpp's
/// `LLAMA_VOCAB_PRE_TYPE_QWEN2` spells the contractions out case by case, the same set):
/// contractions, letter runs with one leading non-letter, single digits, punctuation runs,
/// newlines, then other whitespace.
const QWEN2_SPLIT: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// The pre-tokenizers tact knows, by GGUF `tokenizer.ggml.pre` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PreTokenizer {
    /// GPT-2's byte-level regex.
    Gpt2,
    /// GPT-2's, with every digit split off first (SmolLM).
    Smollm,
    /// Qwen2's regex over NFC-normalised text, then byte-level without GPT-2's regex.
    Qwen2,
}

/// The model's tokenizer, with its special (control) tokens.
#[derive(Clone)]
pub struct GgufTokenizer {
    /// Matches special-token strings in the text: for templates tact itself writes.
    with_specials: Tokenizer,
    /// Treats special-token strings as plain text: for anything a customer or user wrote, so
    /// a message that contains `<|im_end|>` cannot close its own turn.
    plain: Tokenizer,
    special_ids: Vec<u32>,
    eos_id: u32,
    bos_token: Option<String>,
    eos_token: String,
}

impl std::fmt::Debug for GgufTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GgufTokenizer")
            .field("vocab", &self.vocab_size())
            .field("eos_id", &self.eos_id)
            .finish()
    }
}

impl GgufTokenizer {
    pub fn from_gguf(gguf: &GgufFile) -> Result<Self> {
        let model = gguf.string("tokenizer.ggml.model")?;
        if model != "gpt2" {
            return Err(gguf.bad(format!(
                "tokenizer model `{model}` is not supported (supported: gpt2 byte-level BPE)"
            )));
        }
        // `tokenizer.ggml.pre` names the pre-tokenizer regex (llama.cpp's vocab pre types).
        let pre = gguf.string("tokenizer.ggml.pre").unwrap_or("default");
        let pre = match pre {
            "smollm" => PreTokenizer::Smollm,
            "gpt2" | "default" => PreTokenizer::Gpt2,
            "qwen2" => PreTokenizer::Qwen2,
            other => {
                return Err(gguf.bad(format!(
                "tokenizer pre-tokenizer `{other}` is not supported (supported: gpt2, smollm, qwen2)"
            )));
            }
        };
        let tokens = gguf.string_array("tokenizer.ggml.tokens")?;
        let merges = gguf.string_array("tokenizer.ggml.merges")?;
        let types = gguf
            .i32_array("tokenizer.ggml.token_type")
            .unwrap_or_default();
        let eos_id = gguf.u32("tokenizer.ggml.eos_token_id")?;
        let bos_id = gguf.u32("tokenizer.ggml.bos_token_id").ok();

        let vocab: tokenizers::models::bpe::Vocab = tokens
            .iter()
            .enumerate()
            .map(|(id, t)| (t.clone(), id as u32))
            .collect();
        let merges: Vec<(String, String)> = merges
            .iter()
            .map(|m| {
                m.split_once(' ')
                    .map(|(a, b)| (a.to_owned(), b.to_owned()))
                    .ok_or_else(|| gguf.bad(format!("malformed merge `{m}`")))
            })
            .collect::<Result<_>>()?;
        let bpe = BPE::builder()
            .vocab_and_merges(vocab, merges)
            .build()
            .map_err(|e| Error::Tokenizer(e.to_string()))?;

        let mut tokenizer = Tokenizer::new(bpe);
        let byte_level = ByteLevel::new(false, true, true);
        let pre_tokenizer: PreTokenizerWrapper = match pre {
            PreTokenizer::Gpt2 => byte_level.into(),
            PreTokenizer::Smollm => {
                Sequence::new(vec![Digits::new(true).into(), byte_level.into()]).into()
            }
            PreTokenizer::Qwen2 => {
                let split = Split::new(
                    SplitPattern::Regex(QWEN2_SPLIT.to_owned()),
                    SplitDelimiterBehavior::Isolated,
                    false,
                )
                .map_err(|e| Error::Tokenizer(e.to_string()))?;
                tokenizer.with_normalizer(Some(NFC));
                Sequence::new(vec![
                    split.into(),
                    ByteLevel::new(false, false, false).into(),
                ])
                .into()
            }
        };
        tokenizer.with_pre_tokenizer(Some(pre_tokenizer));
        tokenizer.with_decoder(Some(ByteLevelDecoder::default()));

        let mut special_ids: Vec<u32> = types
            .iter()
            .enumerate()
            .filter(|(_, t)| matches!(**t, TOKEN_TYPE_CONTROL | TOKEN_TYPE_USER_DEFINED))
            .map(|(id, _)| id as u32)
            .collect();
        special_ids.push(eos_id);
        special_ids.sort_unstable();
        special_ids.dedup();
        let specials: Vec<AddedToken> = special_ids
            .iter()
            .map(|&id| AddedToken::from(tokens[id as usize].clone(), true))
            .collect();
        tokenizer.add_special_tokens(&specials);

        let mut plain = tokenizer.clone();
        plain.set_encode_special_tokens(true);
        let token_text = |id: u32| tokens.get(id as usize).cloned();
        Ok(Self {
            with_specials: tokenizer,
            plain,
            special_ids,
            eos_id,
            bos_token: bos_id.and_then(token_text),
            eos_token: token_text(eos_id).ok_or_else(|| {
                gguf.bad(format!("eos token id {eos_id} is outside the vocabulary"))
            })?,
        })
    }

    /// Encodes text tact wrote (templates): special-token strings become special tokens.
    pub fn encode_template(&self, text: &str) -> Result<Vec<u32>> {
        encode(&self.with_specials, text)
    }

    /// Encodes text someone else wrote: special-token strings stay plain text.
    pub fn encode_plain(&self, text: &str) -> Result<Vec<u32>> {
        encode(&self.plain, text)
    }

    /// Decodes ids to text, leaving out special tokens.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.with_specials
            .decode(ids, true)
            .map_err(|e| Error::Tokenizer(e.to_string()))
    }

    /// Decodes ids to text, special tokens included (for inspecting prompts).
    pub fn decode_with_specials(&self, ids: &[u32]) -> Result<String> {
        self.with_specials
            .decode(ids, false)
            .map_err(|e| Error::Tokenizer(e.to_string()))
    }

    /// Whether `id` is a control token (end of turn, start of turn, ...): generating one ends
    /// the reply.
    pub fn is_special(&self, id: u32) -> bool {
        id == self.eos_id || self.special_ids.binary_search(&id).is_ok()
    }

    /// Ids of the control tokens, sorted.
    pub fn special_ids(&self) -> &[u32] {
        &self.special_ids
    }

    pub fn eos_id(&self) -> u32 {
        self.eos_id
    }

    pub fn eos_token(&self) -> &str {
        &self.eos_token
    }

    pub fn bos_token(&self) -> Option<&str> {
        self.bos_token.as_deref()
    }

    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.with_specials.token_to_id(token)
    }

    pub fn vocab_size(&self) -> usize {
        self.with_specials.get_vocab_size(true)
    }
}

fn encode(tokenizer: &Tokenizer, text: &str) -> Result<Vec<u32>> {
    let encoding = tokenizer
        .encode_fast(text, false)
        .map_err(|e| Error::Tokenizer(e.to_string()))?;
    Ok(encoding.get_ids().to_vec())
}
