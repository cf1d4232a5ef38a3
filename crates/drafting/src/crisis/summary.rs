//! What a crisis summary says about a spike, all of it read off the messages: the topic's
//! keywords, the affected product or service, and representative quotes.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::topics::{centroid, cosine};
use crate::text;

/// Words that say nothing about a topic.
const STOPWORDS: &[&str] = &[
    "a", "about", "after", "again", "all", "also", "am", "an", "and", "any", "anyone", "are", "as",
    "at", "be", "been", "before", "being", "but", "by", "can", "can't", "cannot", "could", "did",
    "do", "does", "doing", "don't", "for", "from", "get", "got", "had", "has", "have", "hello",
    "hey", "hi", "how", "i", "i'm", "i've", "if", "in", "into", "is", "isn't", "it", "it's", "its",
    "just", "me", "my", "no", "not", "now", "of", "on", "or", "our", "out", "so", "still", "than",
    "that", "the", "their", "them", "then", "there", "this", "to", "too", "up", "us", "very",
    "was", "we", "were", "what", "when", "where", "which", "who", "why", "will", "with", "won't",
    "would", "you", "your", "you're", "guys", "please", "thanks", "today", "anybody", "else",
    "one", "any", "again", "really", "since", "keep", "keeps",
];

/// Words after which a noun phrase starts.
const DETERMINERS: &[&str] = &[
    "the", "my", "your", "our", "this", "their", "his", "her", "its", "a", "an",
];

fn is_content(word: &str) -> bool {
    word.chars().count() >= 3 && word.chars().any(char::is_alphabetic) && !STOPWORDS.contains(&word)
}

/// The words of `text` without @mentions and links, which name who is addressed, not what
/// is reported.
fn words(text: &str) -> Vec<String> {
    let kept: Vec<&str> = text
        .split_whitespace()
        .filter(|w| !w.starts_with('@') && !w.contains("://"))
        .collect();
    text::words(&kept.join(" "))
}

/// The distinct content words and pairs of adjacent content words of `text`.
fn terms(text: &str) -> BTreeSet<String> {
    let words: Vec<String> = words(text)
        .into_iter()
        .map(|w| w.trim_end_matches("'s").to_owned())
        .collect();
    let mut out = BTreeSet::new();
    for (i, w) in words.iter().enumerate() {
        if !is_content(w) {
            continue;
        }
        out.insert(w.clone());
        if let Some(next) = words.get(i + 1).filter(|n| is_content(n)) {
            out.insert(format!("{w} {next}"));
        }
    }
    out
}

/// Terms that set the spike's messages apart from the brand's other messages: ranked by the
/// share of spike messages containing them minus their share elsewhere, present in at least
/// two spike messages and 15 % of them. A term sharing a word with a better one is skipped,
/// so "app" and "app crashes" do not both take a place.
pub(crate) fn keywords(spike: &[&str], background: &[&str], limit: usize) -> Vec<String> {
    let df = |texts: &[&str]| {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for t in texts {
            for term in terms(t) {
                *counts.entry(term).or_default() += 1;
            }
        }
        counts
    };
    let inside = df(spike);
    let outside = df(background);
    let n_in = spike.len().max(1) as f64;
    let n_out = background.len().max(1) as f64;
    let floor = 2.max((0.15 * spike.len() as f64).ceil() as usize);
    let mut scored: Vec<(f64, &String)> = inside
        .iter()
        .filter(|&(_, &n)| n >= floor)
        .map(|(term, &n)| {
            let elsewhere = outside.get(term).copied().unwrap_or(0) as f64;
            (n as f64 / n_in - elsewhere / n_out, term)
        })
        .filter(|(score, _)| *score > 0.0)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    let mut picked: Vec<String> = Vec::new();
    for (_, term) in scored {
        let shares_a_word = picked
            .iter()
            .any(|p| p.split(' ').any(|w| term.split(' ').any(|t| t == w)));
        if !shares_a_word {
            picked.push(term.clone());
        }
        if picked.len() == limit {
            break;
        }
    }
    picked
}

/// Where the affected product's name came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProductSource {
    /// A name from the configured product list.
    Catalogue,
    /// The most frequent noun phrase after a determiner in the spike's messages.
    NounPhrase,
}

/// The product or service a spike is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AffectedProduct {
    pub name: String,
    /// Spike messages that name it.
    pub mentions: usize,
    pub source: ProductSource,
}

/// The catalogue product named by the most spike messages (ties: catalogue order), else the
/// most frequent noun phrase shared by at least `min_share` of them.
pub(crate) fn affected_product(
    spike: &[&str],
    products: &[String],
    min_share: f64,
) -> Option<AffectedProduct> {
    let named = products
        .iter()
        .map(|p| {
            let n = spike.iter().filter(|t| text::contains_phrase(t, p)).count();
            (n, p)
        })
        .filter(|(n, _)| *n > 0)
        .fold(None, |best: Option<(usize, &String)>, x| match best {
            Some(b) if b.0 >= x.0 => Some(b),
            _ => Some(x),
        });
    if let Some((mentions, name)) = named {
        return Some(AffectedProduct {
            name: name.clone(),
            mentions,
            source: ProductSource::Catalogue,
        });
    }
    noun_phrase(spike, min_share)
}

/// Phrases of one to three content words right after a determiner ("the mobile app",
/// "my subscription"), counted once per message. The most frequent one-word phrase is
/// extended by a word while the longer phrase keeps at least 80 % of its messages, so
/// "the mobile app" wins over "mobile" but "the app keeps crashing" stays "app".
fn noun_phrase(spike: &[&str], min_share: f64) -> Option<AffectedProduct> {
    let mut counts: BTreeMap<Vec<String>, usize> = BTreeMap::new();
    for t in spike {
        let words = words(t);
        let mut seen = BTreeSet::new();
        for (i, w) in words.iter().enumerate() {
            if !DETERMINERS.contains(&w.as_str()) {
                continue;
            }
            let phrase: Vec<String> = words[i + 1..]
                .iter()
                .take(3)
                .take_while(|w| is_content(w) && w.chars().all(char::is_alphabetic))
                .cloned()
                .collect();
            for len in 1..=phrase.len() {
                seen.insert(phrase[..len].to_vec());
            }
        }
        for p in seen {
            *counts.entry(p).or_default() += 1;
        }
    }
    let floor = 2.max((min_share * spike.len() as f64).ceil() as usize);
    let most = |len: usize, prefix: &[String]| {
        counts
            .iter()
            .filter(|(p, _)| p.len() == len && p.starts_with(prefix))
            // Ties go to the alphabetically first phrase: the map iterates in order.
            .fold(
                None,
                |best: Option<(&Vec<String>, usize)>, (p, &n)| match best {
                    Some((_, b)) if b >= n => best,
                    _ => Some((p, n)),
                },
            )
    };
    let (mut phrase, mut mentions) = most(1, &[]).filter(|(_, n)| *n >= floor)?;
    while let Some((longer, n)) = most(phrase.len() + 1, phrase) {
        if (n as f64) < 0.8 * mentions as f64 {
            break;
        }
        (phrase, mentions) = (longer, n);
    }
    Some(AffectedProduct {
        name: phrase.join(" "),
        mentions,
        source: ProductSource::NounPhrase,
    })
}

/// Picks `limit` representative messages: the ones closest to the spike's centroid, skipping
/// near-duplicates (the same words, or cosine above 0.97 to one already picked) while enough
/// others remain. Returns indices into `texts`.
pub(crate) fn representative(texts: &[&str], embeddings: &[Vec<f32>], limit: usize) -> Vec<usize> {
    let center = centroid(embeddings);
    let mut order: Vec<(f32, usize)> = embeddings
        .iter()
        .enumerate()
        .map(|(i, e)| (cosine(e, &center), i))
        .collect();
    order.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut picked: Vec<usize> = Vec::new();
    let mut skipped: Vec<usize> = Vec::new();
    for &(_, i) in &order {
        let duplicate = picked.iter().any(|&p| {
            text::normalized(texts[p]) == text::normalized(texts[i])
                || cosine(&embeddings[p], &embeddings[i]) > 0.97
        });
        if duplicate {
            skipped.push(i);
        } else {
            picked.push(i);
        }
        if picked.len() == limit {
            return picked;
        }
    }
    picked.extend(skipped.into_iter().take(limit - picked.len()));
    picked
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUTAGE: &[&str] = &[
        "The app keeps crashing when I open it",
        "App crashing again, can't order anything",
        "Is the app down? It crashes on launch",
        "Your app crashes every time I try to pay",
        "the app is crashing nonstop",
    ];
    const EVERYDAY: &[&str] = &[
        "Do you ship to Canada?",
        "Loved the Ethiopian roast this morning",
        "Where is my order? It's been a week",
        "Can I pause my subscription?",
        "I ordered through the app and it was easy",
    ];

    #[test]
    fn keywords_are_what_sets_the_spike_apart() {
        let k = keywords(OUTAGE, EVERYDAY, 3);
        assert_eq!(k[0], "app", "{k:?}");
        assert!(k.iter().any(|w| w.starts_with("crash")), "{k:?}");
        assert!(!k.iter().any(|w| w == "order" || w == "time"), "{k:?}");
        assert_eq!(keywords(EVERYDAY, OUTAGE, 3), Vec::<String>::new());
        // Who is addressed is not what is reported.
        let addressed: Vec<String> = OUTAGE.iter().map(|t| format!("@northwind {t}")).collect();
        let addressed: Vec<&str> = addressed.iter().map(String::as_str).collect();
        assert_eq!(keywords(&addressed, EVERYDAY, 3), k);
    }

    #[test]
    fn the_catalogue_wins_over_noun_phrases() {
        let products = vec!["subscription".to_owned(), "app".to_owned()];
        let p = affected_product(OUTAGE, &products, 0.2).unwrap();
        assert_eq!(
            p,
            AffectedProduct {
                name: "app".into(),
                mentions: 5,
                source: ProductSource::Catalogue
            }
        );
        let p = affected_product(OUTAGE, &[], 0.2).unwrap();
        assert_eq!(
            (p.name.as_str(), p.source),
            ("app", ProductSource::NounPhrase)
        );
        assert_eq!(p.mentions, 4);
    }

    #[test]
    fn noun_phrases_extend_only_when_the_longer_phrase_holds() {
        let texts = [
            "the mobile app will not load",
            "my mobile app shows an error",
            "Your mobile app is broken",
            "ordering from the mobile app fails",
        ];
        assert_eq!(noun_phrase(&texts, 0.2).unwrap().name, "mobile app");
        // Nothing shared by two messages: no phrase.
        assert_eq!(noun_phrase(&EVERYDAY[..3], 0.2), None);
    }

    #[test]
    fn representatives_are_central_and_not_duplicates() {
        let texts = ["a", "a", "b", "c", "d"];
        let e = |x: f32, y: f32| super::super::topics::unit(&[x, y]);
        let embeddings = vec![
            e(1.0, 0.1),
            e(1.0, 0.1),
            e(1.0, 0.5),
            e(1.0, -0.4),
            e(0.2, 1.0),
        ];
        let picked = representative(&texts, &embeddings, 3);
        assert_eq!(picked, [2, 0, 3]);
        // When only duplicates remain, they fill the places left.
        assert_eq!(representative(&texts, &embeddings, 5).len(), 5);
    }
}
