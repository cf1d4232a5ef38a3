//! The language of a message and of a reply, with `whatlang` (trigram models, no network).
//!
//! Detection is asked only what it can answer: links, handles, emoji and numbers are removed
//! first, a text needs [`MIN_LETTERS`] letters, and only a detection whatlang calls reliable
//! counts. "ok thx" or a lone emoji has no language, and a reply to it is never flagged.

use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;
use whatlang::{Detector, Lang};

/// Letters a text needs before its language is trusted.
pub const MIN_LETTERS: usize = 18;

/// A detected language.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Language {
    /// ISO 639-3, e.g. `eng`.
    pub code: &'static str,
    /// English name, e.g. `English`.
    pub name: &'static str,
    pub confidence: f64,
}

static NOISE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)https?://\S+|\bwww\.\S+|\b[\w.-]+\.(?:com|org|net|io|eu|fit|co)\S*|[@#]\w+|\^\w+|\d+",
    )
    .unwrap()
});

/// Languages a brand's community writes in: restricting the detector to them avoids
/// confusing English with Scots or Spanish with Galician on short texts.
static DETECTOR: LazyLock<Detector> = LazyLock::new(|| {
    Detector::with_allowlist(vec![
        Lang::Eng,
        Lang::Spa,
        Lang::Fra,
        Lang::Deu,
        Lang::Ita,
        Lang::Por,
        Lang::Nld,
        Lang::Swe,
        Lang::Dan,
        Lang::Pol,
        Lang::Tur,
        Lang::Rus,
        Lang::Ukr,
        Lang::Ara,
        Lang::Heb,
        Lang::Hin,
        Lang::Jpn,
        Lang::Kor,
        Lang::Cmn,
        Lang::Vie,
        Lang::Ind,
    ])
});

/// The commonest function words of the Latin-script languages whatlang confuses most on
/// short texts ("Do you ship your Ethiopian roast to Canada?" is Portuguese to its trigrams).
const FUNCTION_WORDS: &[(Lang, &[&str])] = &[
    (
        Lang::Eng,
        &[
            "the", "you", "your", "and", "is", "are", "we", "our", "to", "it", "for", "of", "my",
            "with", "this", "that", "have", "do", "can", "what", "where", "how", "was", "not",
            "i'm", "it's", "we're", "thanks", "sorry", "please", "yes", "will", "just", "so",
        ],
    ),
    (
        Lang::Spa,
        &[
            "el", "la", "los", "las", "que", "y", "es", "en", "por", "para", "con", "una", "un",
            "mi", "su", "lo", "del", "pero", "muy", "gracias", "hola", "sí", "está", "estoy",
            "hacen", "tienen", "solo", "también", "usted", "nuestro",
        ],
    ),
    (
        Lang::Por,
        &[
            "o", "os", "as", "que", "e", "é", "em", "para", "com", "uma", "um", "meu", "seu",
            "não", "do", "da", "dos", "obrigado", "obrigada", "olá", "vocês", "está", "também",
            "muito", "nosso",
        ],
    ),
    (
        Lang::Fra,
        &[
            "le", "la", "les", "et", "est", "vous", "nous", "en", "pour", "avec", "une", "un",
            "mon", "votre", "ne", "pas", "du", "des", "merci", "bonjour", "je", "c'est", "au",
            "sur", "très",
        ],
    ),
    (
        Lang::Deu,
        &[
            "der", "die", "das", "und", "ist", "sie", "wir", "ich", "nicht", "mit", "für", "ein",
            "eine", "mein", "ihr", "auch", "nach", "danke", "hallo", "bitte", "es", "zu", "den",
            "dem",
        ],
    ),
    (
        Lang::Ita,
        &[
            "il", "lo", "gli", "che", "e", "è", "per", "con", "una", "un", "mio", "suo", "non",
            "del", "della", "grazie", "ciao", "sono", "anche", "molto", "voi", "noi",
        ],
    ),
    (
        Lang::Nld,
        &[
            "de", "het", "een", "en", "is", "niet", "ik", "wij", "jullie", "u", "mijn", "voor",
            "met", "van", "dank", "bedankt", "hallo", "ook", "naar", "zijn",
        ],
    ),
];

/// The language whose function words clearly dominate `text`, if one does.
fn by_function_words(text: &str) -> Option<(Lang, usize)> {
    let words = crate::text::words(text);
    let mut hits: Vec<(Lang, usize)> = FUNCTION_WORDS
        .iter()
        .map(|(lang, list)| {
            (
                *lang,
                words.iter().filter(|w| list.contains(&w.as_str())).count(),
            )
        })
        .collect();
    hits.sort_by_key(|h| std::cmp::Reverse(h.1));
    let (best, runner_up) = (hits[0], hits[1]);
    (best.1 >= 2 && best.1 >= runner_up.1 + 2).then_some(best)
}

/// The language of `text`, when there is enough text to tell reliably: by function words when
/// they clearly point to one language, otherwise by whatlang when it calls itself reliable.
pub fn detect(text: &str) -> Option<Language> {
    let cleaned = NOISE.replace_all(text, " ");
    let letters = cleaned.chars().filter(|c| c.is_alphabetic()).count();
    // Scripts without spaces (Japanese, Chinese) carry more per letter.
    let cjk = cleaned
        .chars()
        .any(|c| matches!(c as u32, 0x3040..=0x30ff | 0x4e00..=0x9fff | 0xac00..=0xd7af));
    if letters < if cjk { 6 } else { MIN_LETTERS } {
        return None;
    }
    if let Some((lang, hits)) = by_function_words(&cleaned) {
        return Some(Language {
            code: lang.code(),
            name: lang.eng_name(),
            confidence: (hits as f64 / 4.0).min(1.0),
        });
    }
    let info = DETECTOR.detect(&cleaned)?;
    if !info.is_reliable() {
        return None;
    }
    Some(Language {
        code: info.lang().code(),
        name: info.lang().eng_name(),
        confidence: info.confidence(),
    })
}

/// Whether `reply` is written in another language than `message`: both must be detected.
pub fn mismatch(message: &str, reply: &str) -> Option<(Language, Language)> {
    let theirs = detect(message)?;
    let ours = detect(reply)?;
    (theirs.code != ours.code).then_some((theirs, ours))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_languages_are_detected() {
        for (text, code) in [
            ("Do you ship your Ethiopian roast to Canada?", "eng"),
            (
                "¿Hacen envíos a Canadá? Quiero pedir café para mi hermana.",
                "spa",
            ),
            (
                "Bonjour, est-ce que vous livrez au Canada ? Merci beaucoup",
                "fra",
            ),
            (
                "Hallo, liefern Sie auch nach Deutschland? Danke schön",
                "deu",
            ),
            ("注文した豆がまだ届いていません", "jpn"),
        ] {
            assert_eq!(detect(text).map(|l| l.code), Some(code), "{text}");
        }
    }

    #[test]
    fn too_little_text_has_no_language() {
        for text in [
            "ok thx",
            "☕☕☕",
            "@northwindcoffee NW-448120",
            "https://northwindcoffee.com/help",
        ] {
            assert_eq!(detect(text), None, "{text}");
        }
    }

    #[test]
    fn a_reply_in_another_language_is_a_mismatch() {
        let message = "¿Hacen envíos a Canadá? Quiero pedir café para mi hermana.";
        let english =
            "Not yet, sorry. We ship within the US for now, and Canada is high on the list.";
        let spanish = "Todavía no, lo sentimos. Por ahora solo enviamos dentro de Estados Unidos.";
        let (theirs, ours) = mismatch(message, english).unwrap();
        assert_eq!((theirs.code, ours.code), ("spa", "eng"));
        assert_eq!(mismatch(message, spanish), None);
        assert_eq!(mismatch("ok thx", english), None);
    }
}
