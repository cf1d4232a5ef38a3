//! What a brand gets without saying: tact's channels, and its safety lists (escalation topics,
//! commitments a draft may not make, blame phrases), which a brand extends or replaces.
//!
//! Safety is on by default: a brand that lists nothing still hands legal threats, safety
//! issues, data breaches, self-harm and the press to a person, and still flags a draft that
//! promises a refund, compensation or a date, or blames the customer. An entry of the brand's
//! own with a default's topic (or kind) takes its place; `[defaults] escalation = "replace"`
//! (and `commitments`, `blame_phrases`) keeps only the brand's own, and every default it drops
//! is a load warning.

use std::collections::BTreeMap;

use regex::Regex;
use serde::Deserialize;

use super::{Channel, Commitment, EscalationTopic, SignOffRule, VOICE_CLAUSE};
use crate::rules::Rule;

/// How a brand's own list relates to tact's default list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Merge {
    /// tact's defaults plus the brand's own; an own entry with a default's name replaces it.
    #[default]
    Extend,
    /// Only the brand's own entries.
    Replace,
}

/// `[defaults]` in `brand.toml`.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefaultsPolicy {
    #[serde(default)]
    pub escalation: Merge,
    #[serde(default)]
    pub commitments: Merge,
    #[serde(default)]
    pub blame_phrases: Merge,
}

const ESCALATION: [(&str, &[&str]); 5] = [
    (
        "legal_threat",
        &[
            "lawyer",
            "attorney",
            "solicitor",
            "sue",
            "suing",
            "lawsuit",
            "legal action",
            "small claims",
            "chargeback",
            "trading standards",
            "abogado",
            "avocat",
            "anwalt",
        ],
    ),
    (
        "safety",
        &[
            "burn",
            "burned",
            "burnt",
            "injured",
            "injury",
            "hospital",
            "food poisoning",
            "allergic reaction",
            "anaphylaxis",
            "sparked",
            "sparks",
            "caught fire",
            "smoke came",
            "choked",
        ],
    ),
    (
        "data_breach",
        &[
            "data breach",
            "breach",
            "hacked",
            "leaked",
            "my details were stolen",
            "fraudulent charge",
            "someone else logged in",
            "phishing",
        ],
    ),
    (
        "self_harm",
        &[
            "kill myself",
            "end my life",
            "suicide",
            "suicidal",
            "self harm",
            "hurt myself",
            "don't want to be here anymore",
        ],
    ),
    (
        "press",
        &[
            "journalist",
            "reporter",
            "for comment",
            "press inquiry",
            "writing a story",
        ],
    ),
];

const COMMITMENT_TRIGGERS: [(&str, &[&str]); 2] = [
    (
        "a refund",
        &[
            "refund",
            "refunded",
            "money back",
            "reimburse",
            "reimbursed",
            "full refund",
        ],
    ),
    (
        "compensation",
        &[
            "compensation",
            "compensate",
            "on the house",
            "store credit",
            "credit your account",
            "discount code",
            "voucher",
            "for free",
        ],
    ),
];

const DATE_KIND: &str = "a date";
const DATE_PATTERNS: [&str; 4] = [
    r"(?i)\b(?:by|before|on|until|this|next)\s+(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|weekend)\b",
    r"(?i)\bwithin\s+(?:\d+|one|two|three|a few|24|48)\s+(?:business\s+|working\s+)?(?:hours?|days?|weeks?)\b",
    r"(?i)\b(?:tomorrow|next week|end of (?:the )?(?:day|week))\b",
    r"(?i)\b(?:january|february|march|april|may|june|july|august|september|october|november|december)\s+\d{1,2}(?:st|nd|rd|th)?\b",
];

/// Phrases that put the blame on the customer.
pub const BLAME_PHRASES: [&str; 6] = [
    "you should have",
    "your fault",
    "you failed to",
    "as we already said",
    "you need to read",
    "user error",
];

/// tact's escalation topics; each cites the brand's voice.
pub fn escalation() -> Vec<EscalationTopic> {
    ESCALATION
        .iter()
        .map(|(topic, triggers)| EscalationTopic {
            topic: (*topic).to_owned(),
            triggers: triggers.iter().map(|t| (*t).to_owned()).collect(),
            clause: VOICE_CLAUSE.to_owned(),
        })
        .collect()
}

/// tact's commitments a draft may not make on its own: a refund, compensation, a date.
pub fn commitments() -> Vec<Commitment> {
    let mut all: Vec<Commitment> = COMMITMENT_TRIGGERS
        .iter()
        .map(|(kind, triggers)| Commitment {
            kind: (*kind).to_owned(),
            triggers: triggers.iter().map(|t| (*t).to_owned()).collect(),
            patterns: Vec::new(),
            clause: VOICE_CLAUSE.to_owned(),
            severity: Rule::Commitment.default_severity(),
        })
        .collect();
    all.push(Commitment {
        kind: DATE_KIND.to_owned(),
        triggers: Vec::new(),
        patterns: DATE_PATTERNS
            .iter()
            .map(|p| Regex::new(p).expect("a valid built-in pattern"))
            .collect(),
        clause: VOICE_CLAUSE.to_owned(),
        severity: Rule::Commitment.default_severity(),
    });
    all
}

/// The channels of a brand whose `brand.toml` has no `[channels]`, with each platform's own
/// limits; none requires a sign-off, since such a brand may have none.
pub fn channels() -> BTreeMap<String, Channel> {
    [
        ("x", "X public reply", 280, SignOffRule::Forbidden, 1),
        ("bluesky", "Bluesky reply", 300, SignOffRule::Forbidden, 1),
        ("mastodon", "Mastodon reply", 500, SignOffRule::Forbidden, 1),
        (
            "instagram",
            "Instagram comment",
            2200,
            SignOffRule::Optional,
            2,
        ),
        ("email", "Email", 2000, SignOffRule::Optional, 0),
        (
            "forum",
            "Community forum post",
            2000,
            SignOffRule::Optional,
            1,
        ),
    ]
    .into_iter()
    .map(|(name, label, max_chars, sign_off, max_emoji)| {
        (
            name.to_owned(),
            Channel {
                label: label.to_owned(),
                max_chars,
                sign_off,
                max_emoji,
                platform: None,
            },
        )
    })
    .collect()
}

/// The channel replies go to when `default_channel` is not given.
pub const CHANNEL: &str = "x";

/// The brand's own entries merged with the defaults by name (`name` of each entry); the
/// second list holds the names of the defaults that `Replace` dropped.
pub fn merge<T>(
    own: Vec<T>,
    defaults: Vec<T>,
    merge: Merge,
    name: impl Fn(&T) -> String,
) -> (Vec<T>, Vec<String>) {
    let own_names: Vec<String> = own.iter().map(|e| name(e).to_lowercase()).collect();
    let missing = defaults
        .into_iter()
        .filter(|d| !own_names.contains(&name(d).to_lowercase()));
    let mut merged = own;
    let mut dropped = Vec::new();
    match merge {
        Merge::Extend => merged.extend(missing),
        Merge::Replace => dropped.extend(missing.map(|d| name(&d))),
    }
    (merged, dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_entries_replace_defaults_of_the_same_name_and_replace_drops_the_rest() {
        let own = vec!["Press".to_owned(), "recalls".to_owned()];
        let defaults = vec!["legal".to_owned(), "press".to_owned()];
        let (merged, dropped) = merge(own.clone(), defaults.clone(), Merge::Extend, Clone::clone);
        assert_eq!(merged, ["Press", "recalls", "legal"]);
        assert!(dropped.is_empty());
        let (merged, dropped) = merge(own, defaults, Merge::Replace, Clone::clone);
        assert_eq!(merged, ["Press", "recalls"]);
        assert_eq!(dropped, ["legal"]);
    }

    #[test]
    fn the_built_in_patterns_compile_and_find_dates() {
        let date = commitments().pop().unwrap();
        assert_eq!(date.kind, DATE_KIND);
        assert!(
            date.patterns
                .iter()
                .any(|p| p.is_match("fixed by tomorrow"))
        );
    }
}
