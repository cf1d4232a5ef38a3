//! Claims in a reply: the links, contact details, numbers, dates, ids, handles, names and
//! statements a reader would take as the brand's word.
//!
//! Literal claims are found by pattern and compared by a normalised key ([`Claim::key`]); the
//! same extraction runs on the sources, so "30 days" in a draft and "within 30 days" in a fact
//! sheet share the key `30 day`. Statements are whole sentences about the brand's policies or
//! promises; they are compared by meaning in [`super::support`].

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use crate::links;
use crate::profile::BrandProfile;
use crate::text;

/// What kind of fact a claim states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimKind {
    Link,
    Email,
    Phone,
    Money,
    Percentage,
    Quantity,
    Date,
    Duration,
    Identifier,
    Handle,
    Name,
    ProperName,
    Statement,
    Commitment,
}

impl ClaimKind {
    /// What the reviewer reads: "the price", "the link".
    pub fn noun(self) -> &'static str {
        match self {
            ClaimKind::Link => "link",
            ClaimKind::Email => "email address",
            ClaimKind::Phone => "phone number",
            ClaimKind::Money => "price or amount",
            ClaimKind::Percentage => "percentage",
            ClaimKind::Quantity => "number",
            ClaimKind::Date => "date or time",
            ClaimKind::Duration => "duration",
            ClaimKind::Identifier => "order or ticket id",
            ClaimKind::Handle => "handle",
            ClaimKind::Name => "name",
            ClaimKind::ProperName => "product or place name",
            ClaimKind::Statement => "statement",
            ClaimKind::Commitment => "commitment",
        }
    }

    /// Claims compared by meaning rather than by their normalised text.
    pub fn is_statement(self) -> bool {
        matches!(self, ClaimKind::Statement | ClaimKind::Commitment)
    }
}

/// One claim: its kind, where it is and its comparison key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Claim {
    pub kind: ClaimKind,
    /// The claim as written.
    pub text: String,
    /// Byte range of `text` in the reply.
    pub span: Range<usize>,
    /// Normalised form compared with the sources (the sentence itself for statements).
    pub key: String,
}

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}\b").unwrap()
});
static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)[\s.-]?)?\d{2,4}[\s.-]\d{3,4}(?:[\s.-]\d{2,4})+\b",
    )
    .unwrap()
});
static MONEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:[$€£¥]\s?\d[\d,]*(?:\.\d+)?|\b\d[\d,]*(?:\.\d+)?\s?(?:dollars|usd|eur|euros?|gbp|pounds|cents)\b)").unwrap()
});
static PERCENT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\b\d+(?:\.\d+)?\s?(?:%|percent\b)").unwrap());
const NUMBER_WORDS: &str = "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|sixty|ninety|a hundred|a few|a couple of|a|an";
static DURATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?i)\b(?:\d+(?:\.\d+)?|{NUMBER_WORDS})(?:\s*(?:-|to)\s*\d+)?[\s-]+(?:business[\s-]+|working[\s-]+)?(?:minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?)\b"
    ))
    .unwrap()
});
static DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i)\b(?:(?:january|february|march|april|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)\.?\s+\d{1,2}(?:st|nd|rd|th)?(?:,?\s+\d{4})?",
        r"|\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:january|february|march|april|may|june|july|august|september|october|november|december)",
        r"|(?:the\s+)?\d{1,2}(?:st|nd|rd|th)\b",
        r"|\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}(?:/\d{2,4})?",
        r"|(?:mondays?|tuesdays?|wednesdays?|thursdays?|fridays?|saturdays?|sundays?|weekends?|weekdays?)",
        r"|tomorrow|tonight|today|next week|next month|end of (?:the )?(?:day|week|month)",
        r"|\d{1,2}(?::\d{2})?\s?(?:am|pm)|\d{1,2}:\d{2}|noon|midnight",
        r"|christmas(?: day| eve)?|new year'?s?(?: day| eve)?|thanksgiving|easter",
        r"|(?:19|20)\d{2})\b",
    ))
    .unwrap()
});
static QUANTITY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b\d+(?:[.,]\d+)?\s?(?:mg|kg|g|ml|l|oz|lbs?|ppm|°\s?[cf]|degrees|cups?|bags?|cans?|shots?|x)?\b|\b1:\d+(?:\.\d+)?\b").unwrap()
});
static IDENTIFIER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:\b[A-Z]{2,5}-?\d{4,}\b|#\d{3,}\b|\b[A-Z0-9]{2,}\d[A-Z0-9]*-\d{3,}\b)").unwrap()
});
static HANDLE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:^|[^\w@.])(@[A-Za-z0-9_]{1,30})\b").unwrap());
static GREETING_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)(?:^|[.!?]\s+)(?i:hi|hey|hello|dear|thanks|thank you|sorry|welcome|morning|evening)[,\s]+([A-Z][a-z]+)\b").unwrap()
});
static PROPER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b[A-Z][a-zA-Z'’]+(?:\s+(?:[A-Z][a-zA-Z'’]+|AA|SE|NE|NW|SW))*\b").unwrap()
});

/// Words that open a statement about the brand, what it offers or what will happen.
const POLICY_WORDS: &[&str] = &[
    "ship",
    "ships",
    "shipping",
    "shipped",
    "deliver",
    "delivers",
    "delivery",
    "free",
    "open",
    "opens",
    "closed",
    "close",
    "closes",
    "hours",
    "offer",
    "offers",
    "sell",
    "sells",
    "carry",
    "stock",
    "accept",
    "accepts",
    "refund",
    "refunds",
    "refunded",
    "return",
    "returns",
    "exchange",
    "discount",
    "discounts",
    "price",
    "prices",
    "cost",
    "costs",
    "charge",
    "charges",
    "available",
    "include",
    "includes",
    "included",
    "guarantee",
    "warranty",
    "compostable",
    "recyclable",
    "organic",
    "fairtrade",
    "certified",
    "vegan",
    "gluten",
    "contain",
    "contains",
    "caffeine",
    "expire",
    "expires",
    "valid",
    "pause",
    "cancel",
    "subscription",
    "subscriptions",
    "store",
    "stores",
    "shop",
    "shops",
    "credit",
    "voucher",
    "code",
    "replacement",
    "replace",
    "compensate",
    "compensation",
    "reimburse",
    "waive",
    "waived",
    "match",
    "allow",
    "allows",
    "support",
    "supports",
    "international",
    "internationally",
    "worldwide",
    "abroad",
    "arrive",
    "arrives",
];
/// Words of sentences that greet, thank or sympathise; without a policy word such a sentence
/// states no fact.
const SOCIAL_WORDS: &[&str] = &[
    "sorry",
    "thanks",
    "thank",
    "glad",
    "hope",
    "enjoy",
    "love",
    "welcome",
    "frustrating",
    "annoying",
    "worrying",
    "congratulations",
    "congrats",
    "happy",
    "lovely",
    "great",
    "best",
    "fair",
    "question",
    "day",
    "week",
    "cup",
    "mess",
    "wait",
    "fun",
    "awesome",
    "shame",
    "hear",
    "sounds",
    "understand",
    "apologies",
    "trip",
    "birthday",
    "luck",
    // "Unfortunately that went wrong.": owning the customer's bad experience, no brand fact.
    "wrong",
];
/// Phrases that hand a question to a person or promise only to look, not an outcome.
const HANDOVER: &[&str] = &[
    "look into",
    "looking into",
    "on it",
    "get back to you",
    "come back to you",
    "keep you posted",
    "pass this on",
    "passed this",
    "passed your",
    "a teammate",
    "the team will",
    "our team will",
    "let you know",
    "find out",
    "check with",
    "take a look",
];
/// Openings of sentences that only point to a contact or a page.
const CONTACT_OPENINGS: &[&str] = &[
    "call", "call us", "ring us", "email", "email us", "write to", "see", "visit", "check",
    "book at", "order at", "text us",
];
/// Openings of sentences that ask or hand over rather than state.
const NON_CLAIM_OPENINGS: &[&str] = &[
    "hi",
    "hey",
    "hello",
    "dear",
    "good question",
    "welcome",
    "could you",
    "can you",
    "would you",
    "please",
    "if you",
    "let me",
    "let us",
    "let's",
    "i'll check",
    "we'll check",
    "i will check",
    "we will check",
    "dm us",
    "send us",
    "reply with",
    "sorry",
    "thanks",
    "thank you",
    "i'm not sure",
    "i don't know",
    "we're not sure",
    "i'll ask",
    "we'll ask",
    "i'll find out",
    "we'll find out",
    "i've passed",
    "we've passed",
    "i'll pass",
    "we'll pass",
    "hope",
    "enjoy",
];
/// Words that make a sentence a promise of something a person decides.
const COMMITMENT_WORDS: &[&str] = &[
    "refund",
    "refunded",
    "reimburse",
    "compensate",
    "compensation",
    "credit",
    "voucher",
    "free",
    "replacement",
    "replace",
    "call you",
    "ring you",
    "call back",
    "on the house",
    "money back",
];

/// Every claim in `text`, in order of position. `profile` supplies the brand's own handles
/// and name (not claims) and its order-number pattern.
pub fn extract(text: &str, profile: &BrandProfile) -> Vec<Claim> {
    let mut claims = Vec::new();
    let mut taken: Vec<Range<usize>> = Vec::new();
    let mut push = |claims: &mut Vec<Claim>, kind: ClaimKind, span: Range<usize>, key: String| {
        if taken
            .iter()
            .any(|t| t.start < span.end && span.start < t.end)
            || key.is_empty()
        {
            return;
        }
        taken.push(span.clone());
        claims.push(Claim {
            kind,
            text: text[span.clone()].to_owned(),
            span,
            key,
        });
    };
    for link in links::find(text) {
        push(
            &mut claims,
            ClaimKind::Link,
            link.start..link.end,
            link.normalized(),
        );
    }
    let own: Vec<String> = profile.handles.iter().map(|h| h.to_lowercase()).collect();
    for c in HANDLE.captures_iter(text) {
        let m = c.get(1).expect("group 1");
        if !own.contains(&m.as_str().to_lowercase()) {
            push(
                &mut claims,
                ClaimKind::Handle,
                m.range(),
                m.as_str().to_lowercase(),
            );
        }
    }
    for c in GREETING_NAME.captures_iter(text) {
        let m = c.get(1).expect("group 1");
        if !is_common_word(m.as_str()) {
            push(
                &mut claims,
                ClaimKind::Name,
                m.range(),
                m.as_str().to_lowercase(),
            );
        }
    }
    for m in EMAIL.find_iter(text) {
        push(
            &mut claims,
            ClaimKind::Email,
            m.range(),
            m.as_str().to_lowercase(),
        );
    }
    for m in profile
        .order_number
        .iter()
        .flat_map(|o| o.find_iter(text))
        .chain(IDENTIFIER.find_iter(text))
    {
        push(
            &mut claims,
            ClaimKind::Identifier,
            m.range(),
            alphanumeric(m.as_str()),
        );
    }
    for m in PHONE.find_iter(text) {
        let digits = digits(m.as_str());
        if digits.len() >= 7 {
            push(
                &mut claims,
                ClaimKind::Phone,
                m.range(),
                last_digits(&digits, 10),
            );
        }
    }
    for m in MONEY.find_iter(text) {
        push(
            &mut claims,
            ClaimKind::Money,
            m.range(),
            money_key(m.as_str()),
        );
    }
    for m in PERCENT.find_iter(text) {
        push(
            &mut claims,
            ClaimKind::Percentage,
            m.range(),
            format!("{}%", number(m.as_str())),
        );
    }
    for m in DURATION.find_iter(text) {
        push(
            &mut claims,
            ClaimKind::Duration,
            m.range(),
            duration_key(m.as_str()),
        );
    }
    for m in DATE.find_iter(text) {
        push(
            &mut claims,
            ClaimKind::Date,
            m.range(),
            date_key(m.as_str()),
        );
    }
    for m in QUANTITY.find_iter(text) {
        if m.as_str().chars().any(|c| c.is_ascii_digit()) {
            push(
                &mut claims,
                ClaimKind::Quantity,
                m.range(),
                quantity_key(m.as_str()),
            );
        }
    }
    let brand_words = text::words(&profile.name);
    for sentence in sentence_spans(text) {
        let s = &text[sentence.clone()];
        for m in PROPER.find_iter(s) {
            // "The Riverside gym": a capitalised common word opening the phrase is not part
            // of the name, and without it the name no longer opens the sentence.
            let mut start = m.start();
            let mut phrase = m.as_str();
            if let Some((first, rest)) = phrase.split_once(char::is_whitespace)
                && is_common_word(first)
            {
                start = m.end() - rest.len();
                phrase = rest;
            }
            let at_start = s[..start].trim().is_empty()
                || s[..start].trim_end().ends_with([':', '"', '(', '—', '-']);
            let words = text::words(phrase);
            let is_brand = words.iter().all(|w| brand_words.contains(w));
            let common = words.len() == 1 && is_common_word(phrase);
            let acronym = profile.acronyms.iter().any(|a| a == phrase);
            if at_start || is_brand || common || acronym {
                continue;
            }
            let span = sentence.start + start..sentence.start + m.end();
            push(&mut claims, ClaimKind::ProperName, span, words.join(" "));
        }
    }
    for span in sentence_spans(text) {
        if let Some(kind) = statement_kind(&text[span.clone()]) {
            // Statements overlap the literal claims inside them by design.
            claims.push(Claim {
                kind,
                text: text[span.clone()].to_owned(),
                span: span.clone(),
                key: text::normalized(&text[span]),
            });
        }
    }
    claims.sort_by_key(|c| (c.span.start, c.kind));
    claims
}

/// Whether a sentence states a policy or makes a promise, and which. Every declarative
/// sentence is a statement unless it asks, hands over, or only greets, thanks or sympathises.
pub fn statement_kind(sentence: &str) -> Option<ClaimKind> {
    let trimmed = sentence.trim();
    let words = text::words(trimmed);
    if trimmed.ends_with('?') || words.len() < 3 {
        return None;
    }
    let norm = text::normalized(trimmed);
    let opens = |list: &[&str]| {
        list.iter().any(|o| {
            norm == text::normalized(o) || norm.starts_with(&format!("{} ", text::normalized(o)))
        })
    };
    if opens(NON_CLAIM_OPENINGS) || HANDOVER.iter().any(|h| text::contains_phrase(&norm, h)) {
        return None;
    }
    let future = words.iter().any(|w| {
        matches!(
            w.as_str(),
            "we'll" | "i'll" | "you'll" | "will" | "sending" | "gonna" | "can"
        )
    });
    if future
        && COMMITMENT_WORDS
            .iter()
            .any(|w| text::contains_phrase(&norm, w))
    {
        return Some(ClaimKind::Commitment);
    }
    // "Call us on …", "Email …": the contact detail is the claim, checked literally.
    if opens(CONTACT_OPENINGS) {
        return None;
    }
    let policy = words.iter().any(|w| POLICY_WORDS.contains(&w.as_str()));
    let social = words.iter().any(|w| SOCIAL_WORDS.contains(&w.as_str()));
    if policy || !social {
        Some(ClaimKind::Statement)
    } else {
        None
    }
}

/// Byte ranges of the sentences of `text`.
pub fn sentence_spans(text: &str) -> Vec<Range<usize>> {
    text::sentences(text)
        .into_iter()
        .map(|s| {
            let start = s.as_ptr() as usize - text.as_ptr() as usize;
            start..start + s.len()
        })
        .collect()
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

fn last_digits(d: &str, n: usize) -> String {
    d[d.len().saturating_sub(n)..].to_owned()
}

fn alphanumeric(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_lowercase()
}

/// The first number in `s`, without thousands separators or a trailing `.0`.
fn number(s: &str) -> String {
    let n: String = s
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ',')
        .filter(|c| *c != ',')
        .collect();
    let n = n.trim_end_matches('.');
    match n.split_once('.') {
        Some((whole, frac)) if frac.chars().all(|c| c == '0') => whole.to_owned(),
        _ => n.to_owned(),
    }
}

fn money_key(s: &str) -> String {
    let lower = s.to_lowercase();
    let currency = if lower.contains('€') || lower.contains("eur") {
        "eur"
    } else if lower.contains('£') || lower.contains("pound") || lower.contains("gbp") {
        "gbp"
    } else if lower.contains("cent") {
        return format!("usd 0.{:0>2}", number(s));
    } else {
        "usd"
    };
    format!("{currency} {}", number(s))
}

fn word_number(w: &str) -> Option<&'static str> {
    Some(match w {
        "a" | "an" | "one" => "1",
        "two" => "2",
        "three" => "3",
        "four" => "4",
        "five" => "5",
        "six" => "6",
        "seven" => "7",
        "eight" => "8",
        "nine" => "9",
        "ten" => "10",
        "eleven" => "11",
        "twelve" => "12",
        "fifteen" => "15",
        "twenty" => "20",
        "thirty" => "30",
        "forty" => "40",
        "fifty" => "50",
        "sixty" => "60",
        "ninety" => "90",
        "hundred" => "100",
        "few" => "few",
        "couple" => "2",
        _ => return None,
    })
}

fn unit_stem(w: &str) -> Option<&'static str> {
    Some(match w {
        "minute" | "minutes" | "min" | "mins" => "minute",
        "hour" | "hours" | "hr" | "hrs" => "hour",
        "day" | "days" => "day",
        "week" | "weeks" => "week",
        "month" | "months" => "month",
        "year" | "years" => "year",
        _ => return None,
    })
}

/// `two-year` → `2 year`, `3-5 business days` → `3 5 business day`.
fn duration_key(s: &str) -> String {
    let lower = s.to_lowercase().replace('-', " ");
    let mut out = Vec::new();
    for w in lower.split_whitespace() {
        if w == "of" || w == "to" {
            continue;
        }
        if let Some(unit) = unit_stem(w) {
            out.push(unit.to_owned());
        } else if let Some(n) = word_number(w) {
            out.push(n.to_owned());
        } else if w == "working" {
            out.push("business".to_owned());
        } else {
            out.push(w.to_owned());
        }
    }
    out.join(" ")
}

fn date_key(s: &str) -> String {
    let lower = text::normalized(s).replace("the ", "");
    let lower = lower.trim_end_matches('s');
    lower
        .replace("00 ", " ")
        .replace(" am", "am")
        .replace(" pm", "pm")
        .replace(":00", "")
}

fn quantity_key(s: &str) -> String {
    let unit: String = s
        .chars()
        .skip_while(|c| c.is_ascii_digit() || matches!(c, '.' | ',' | ' ' | ':'))
        .collect::<String>()
        .to_lowercase();
    let unit = unit.trim_end_matches('s').replace(['°', ' '], "");
    if s.contains(':') {
        return s.replace(' ', "");
    }
    format!("{} {unit}", number(s)).trim().to_owned()
}

/// Capitalised words that are not names of a product, place or person.
fn is_common_word(w: &str) -> bool {
    const COMMON: &[&str] = &[
        "i",
        "im",
        "i'm",
        "i'll",
        "i've",
        "i'd",
        "we",
        "our",
        "you",
        "your",
        "the",
        "a",
        "an",
        "it",
        "its",
        "this",
        "that",
        "there",
        "they",
        "thanks",
        "thank",
        "sorry",
        "hi",
        "hey",
        "hello",
        "dear",
        "please",
        "yes",
        "no",
        "not",
        "so",
        "oh",
        "ok",
        "okay",
        "welcome",
        "good",
        "great",
        "happy",
        "glad",
        "team",
        "support",
        "everyone",
        "all",
        "there",
        "again",
        "for",
        "and",
        "but",
        "if",
        "when",
        "once",
        "best",
        "cheers",
        "regards",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "today",
        "tomorrow",
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "christmas",
        "dm",
        "faq",
        "enjoy",
        "customer",
        "friend",
        "folks",
        "both",
        "pick",
        "up",
        "in",
        "store",
        "choose",
        "skip",
        "cancel",
        "subscription",
        "gifts",
        "payment",
        "profile",
        "orders",
        "invoice",
        "addresses",
        "settings",
        "notifications",
        "espresso",
        "grind",
        "decaf",
        "more",
    ];
    COMMON.contains(&w.to_lowercase().replace('’', "'").as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;

    fn kinds(text: &str) -> Vec<(ClaimKind, String)> {
        extract(text, &fixture::profile())
            .into_iter()
            .map(|c| (c.kind, c.text))
            .collect()
    }

    fn keys(text: &str, kind: ClaimKind) -> Vec<String> {
        extract(text, &fixture::profile())
            .into_iter()
            .filter(|c| c.kind == kind)
            .map(|c| c.key)
            .collect()
    }

    #[test]
    fn literal_claims_are_found_with_their_spans() {
        let text = "Hi Sam, see https://northwindcoffee.com/help/shipping or write to help@nw.com. \
                    Call +1 800 555 0142. It's $18.50 and 20% off, 150mg a can.";
        let claims = extract(text, &fixture::profile());
        for c in &claims {
            assert_eq!(&text[c.span.clone()], c.text);
        }
        let found = kinds(text);
        for (kind, what) in [
            (ClaimKind::Name, "Sam"),
            (ClaimKind::Link, "https://northwindcoffee.com/help/shipping"),
            (ClaimKind::Email, "help@nw.com"),
            (ClaimKind::Phone, "+1 800 555 0142"),
            (ClaimKind::Money, "$18.50"),
            (ClaimKind::Percentage, "20%"),
            (ClaimKind::Quantity, "150mg"),
        ] {
            assert!(
                found.iter().any(|(k, t)| *k == kind && t == what),
                "{kind:?} {what:?} in {found:?}"
            );
        }
    }

    #[test]
    fn keys_normalise_what_the_sources_write_differently() {
        assert_eq!(keys("a two-year warranty", ClaimKind::Duration), ["2 year"]);
        assert_eq!(keys("within 2 years", ClaimKind::Duration), ["2 year"]);
        assert_eq!(
            keys("3-5 working days", ClaimKind::Duration),
            ["3 5 business day"]
        );
        assert_eq!(keys("only $40.00", ClaimKind::Money), ["usd 40"]);
        assert_eq!(keys("over 40 dollars", ClaimKind::Money), ["usd 40"]);
        assert_eq!(
            keys("open 10am to 2pm on Sundays", ClaimKind::Date),
            ["10am", "2pm", "sunday"]
        );
        assert_eq!(keys("order NW-448120", ClaimKind::Identifier), ["nw448120"]);
        assert_eq!(keys("ticket #48213", ClaimKind::Identifier), ["48213"]);
    }

    #[test]
    fn handles_and_names_but_not_the_brands_own() {
        let found = kinds("@120487 thanks for the note! Hi Ana, @northwindcoffee is us.");
        assert!(found.contains(&(ClaimKind::Handle, "@120487".into())));
        assert!(found.contains(&(ClaimKind::Name, "Ana".into())));
        assert!(!found.iter().any(|(_, t)| t == "@northwindcoffee"));
        let names = kinds("We ship the Ethiopia Yirgacheffe to Canada from Portland.");
        for n in ["Ethiopia Yirgacheffe", "Canada", "Portland"] {
            assert!(
                names.contains(&(ClaimKind::ProperName, n.into())),
                "{n} in {names:?}"
            );
        }
    }

    #[test]
    fn statements_and_commitments_but_not_questions_or_requests() {
        assert_eq!(
            statement_kind("We ship to Canada now."),
            Some(ClaimKind::Statement)
        );
        assert_eq!(
            statement_kind("It's free for members."),
            Some(ClaimKind::Statement)
        );
        assert_eq!(
            statement_kind("We don't sell gift cards."),
            Some(ClaimKind::Statement)
        );
        assert_eq!(
            statement_kind("We'll refund you today."),
            Some(ClaimKind::Commitment)
        );
        assert_eq!(statement_kind("Do you want us to ship it?"), None);
        assert_eq!(
            statement_kind("Could you DM us your order number for the refund."),
            None
        );
        assert_eq!(statement_kind("Sorry about the delivery."), None);
        assert_eq!(statement_kind("Unfortunately that went wrong."), None);
        assert_eq!(
            statement_kind("Unfortunately we do not ship to Canada."),
            Some(ClaimKind::Statement)
        );
        assert_eq!(statement_kind("That first whiff is the best bit."), None);
    }
}
