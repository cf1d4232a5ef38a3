//! Deterministic screening of an inbound message: escalation topics from the brand profile and
//! a keyword flag for abusive or threatening language.

use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use crate::profile::BrandProfile;
use crate::text;

/// An escalation topic found in a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EscalationHit {
    pub topic: String,
    /// The trigger phrase that matched.
    pub trigger: String,
    pub clause: String,
}

/// Every escalation topic of `profile` whose trigger phrases occur in `text`.
pub fn escalations(text: &str, profile: &BrandProfile) -> Vec<EscalationHit> {
    profile
        .escalation
        .iter()
        .filter_map(|topic| {
            let trigger = topic
                .triggers
                .iter()
                .find(|t| text::contains_phrase(text, t))?;
            Some(EscalationHit {
                topic: topic.topic.clone(),
                trigger: trigger.clone(),
                clause: topic.clause.clone(),
            })
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AbuseKind {
    Profanity,
    Insult,
    Threat,
}

/// Why a message was flagged as abusive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AbuseFlag {
    pub kinds: Vec<AbuseKind>,
    /// The words that matched, as written.
    pub terms: Vec<String>,
}

/// Patterns run on lower-cased text with common character swaps undone (`1d10t` → `idiot`).
/// Letters may repeat (`fuuuck`) and `*` may mask a vowel (`f*ck`). Covers English, Spanish,
/// French, German, Portuguese and Italian, the languages of the labelled set.
const LEXICON: [(AbuseKind, &str); 3] = [
    (
        AbuseKind::Profanity,
        r"f+[u*]+c+k+\w*|s+h+[i*]+t+(?:ty|s)?|b+[i*]+t+c+h+\w*|a+s+s+h+o+l+e+s?|wtf|stfu|bullshit|mierda|joder|puta|put[ai]n|merde|schei(?:ss|ß)e|arschloch|porra|caralho|merda|cazzo|vaffanculo",
    ),
    (
        AbuseKind::Insult,
        r"idiots?|morons?|imbeciles?|clowns?|losers?|scum(?:bags?)?|dumbass\w*|pendejos?|cabr[oó]n\w*|connards?|stronz[oi]|idiotas?|idioten",
    ),
    (
        AbuseKind::Threat,
        r"(?:kill|hurt|find|beat|punch|stab|shoot)\s+(?:you|your|all of you)|burn\s+(?:down\s+)?(?:your|the)\s+\w+|watch your back|you(?:'ll| will) regret|know where you (?:live|work)",
    ),
];

static PATTERNS: LazyLock<Vec<(AbuseKind, Regex)>> = LazyLock::new(|| {
    LEXICON
        .iter()
        .map(|(kind, p)| (*kind, Regex::new(&format!(r"\b(?:{p})\b")).unwrap()))
        .collect()
});

fn undo_swaps(text: &str) -> String {
    text.to_lowercase()
        .chars()
        .map(|c| match c {
            '0' => 'o',
            '1' | '!' => 'i',
            '3' => 'e',
            '4' | '@' => 'a',
            '5' | '$' => 's',
            '7' => 't',
            '’' => '\'',
            c => c,
        })
        .collect()
}

/// Flags abusive or threatening language, or `None` for a civil message (angry is fine).
pub fn abuse(text: &str) -> Option<AbuseFlag> {
    // Run on both forms: swaps help with `1d10t` but would turn "£50!" into noise.
    let plain = text.to_lowercase().replace('’', "'");
    let swapped = undo_swaps(text);
    let mut kinds = Vec::new();
    let mut terms = Vec::new();
    for (kind, pattern) in PATTERNS.iter() {
        for form in [&plain, &swapped] {
            for m in pattern.find_iter(form) {
                if !kinds.contains(kind) {
                    kinds.push(*kind);
                }
                let term = m.as_str().to_owned();
                if !terms.contains(&term) {
                    terms.push(term);
                }
            }
        }
    }
    kinds.sort();
    (!kinds.is_empty()).then_some(AbuseFlag { kinds, terms })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;

    #[test]
    fn escalation_topics_fire_on_their_triggers_only() {
        let profile = fixture::profile();
        let hits = escalations("Refund me or I'll SUE. My lawyer agrees.", &profile);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].topic, "legal_threat");
        assert_eq!(hits[0].trigger, "lawyer");
        assert_eq!(hits[0].clause, "voice.md > Safety > 4");
        assert!(escalations("This is a known issue, pursue it please", &profile).is_empty());
    }

    #[test]
    fn abuse_is_flagged_with_its_kind() {
        let flag = abuse("You absolute 1d10ts, where is my coffee").unwrap();
        assert_eq!(flag.kinds, [AbuseKind::Insult]);
        let flag = abuse("f*ck this, I know where you live").unwrap();
        assert_eq!(flag.kinds, [AbuseKind::Profanity, AbuseKind::Threat]);
        assert!(abuse("Sois des connards, vraiment").is_some());
        assert!(abuse("Qué mierda de servicio").is_some());
    }

    #[test]
    fn angry_but_civil_messages_are_not_flagged() {
        for text in [
            "This is the third time my order is late. Really disappointed.",
            "Your app is useless since the update and I want answers!!!",
            "I paid £50! Where is it?",
            "Class action? No, just a classic mix-up, I think.",
            "Scunthorpe branch was lovely",
        ] {
            assert_eq!(abuse(text), None, "{text}");
        }
    }
}
