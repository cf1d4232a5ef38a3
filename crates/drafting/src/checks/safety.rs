//! Checks that protect people and the brand: links outside the allowlist, other people's
//! personal data, and promises a draft may not make on its own.

use std::sync::LazyLock;

use regex::Regex;

use super::{CheckContext, Violation};
use crate::links;
use crate::rules::Rule;
use crate::text;

static EMAIL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+").unwrap());
static PHONE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\+?\(?\d[\d\s().-]{7,}\d").unwrap());
static CARD: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b\d(?:[ -]?\d){12,18}\b").unwrap());
/// Words that make a sentence a promise from the brand rather than a description.
static PROMISE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:(?:we|i)(?:'ll|’ll|'ve|’ve| will| would| can| could| are going to|'re going to| am going to|'m going to| have| promise| guarantee| offer| owe)|you(?:'ll|’ll| will) (?:get|receive|have|be)|guaranteed?|promised?|let me|approved|issued|processed|credited|refunded)\b",
    )
    .unwrap()
});
static REFUSAL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:can't|can’t|cannot|can not|won't|won’t|unable to|not able to|aren't able|isn't something)\b").unwrap()
});

pub(super) fn check(text: &str, ctx: &CheckContext<'_>, out: &mut Vec<Violation>) {
    links_outside_allowlist(text, ctx, out);
    personal_data(text, ctx, out);
    commitments(text, ctx, out);
}

fn links_outside_allowlist(text: &str, ctx: &CheckContext<'_>, out: &mut Vec<Violation>) {
    for link in links::find(text) {
        if !link.is_on(&ctx.profile.link_domains) {
            out.push(ctx.violation(
                Rule::Link,
                format!("{} is not on the link allowlist", link.host),
                &link.url,
            ));
        }
    }
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// The Luhn checksum that every payment card number passes.
pub(crate) fn luhn(number: &str) -> bool {
    let ds: Vec<u32> = number.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&ds.len()) {
        return false;
    }
    let sum: u32 = ds
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| match (i % 2, d * 2) {
            (1, doubled) if doubled > 9 => doubled - 9,
            (1, doubled) => doubled,
            _ => d,
        })
        .sum();
    sum.is_multiple_of(10)
}

fn personal_data(text: &str, ctx: &CheckContext<'_>, out: &mut Vec<Violation>) {
    let profile = ctx.profile;
    // The author's own details (their handle, or what they wrote to us) may be referred to.
    let own_text = ctx
        .inbound
        .map(|m| format!("{} {}", m.author, m.text).to_lowercase())
        .unwrap_or_default();
    let own_digits: Vec<String> = PHONE
        .find_iter(&own_text)
        .chain(CARD.find_iter(&own_text))
        .map(|m| digits(m.as_str()))
        .collect();
    let brand_contact = |s: &str| {
        profile
            .brand_contacts
            .iter()
            .any(|c| c.eq_ignore_ascii_case(s) || (!digits(c).is_empty() && digits(c) == digits(s)))
    };
    let mut others: Vec<(&str, String)> = Vec::new();

    for m in EMAIL.find_iter(text) {
        let email = m.as_str().trim_end_matches('.');
        let domain = email.rsplit('@').next().unwrap_or_default().to_lowercase();
        let brand_owned = profile
            .link_domains
            .iter()
            .any(|d| domain == *d || domain.ends_with(&format!(".{d}")));
        if !brand_owned && !brand_contact(email) && !own_text.contains(&email.to_lowercase()) {
            others.push(("an email address", email.to_owned()));
        }
    }
    // Card numbers are reported even when they are the customer's own: a reply never repeats one.
    let mut card_spans = Vec::new();
    for m in CARD.find_iter(text) {
        if luhn(m.as_str()) {
            card_spans.push(m.range());
            out.push(ctx.violation(
                Rule::PersonalData,
                "a payment card number".into(),
                m.as_str(),
            ));
        }
    }
    for m in PHONE.find_iter(text) {
        let n = digits(m.as_str());
        let in_card = card_spans.iter().any(|r| r.contains(&m.start()));
        if !(9..=15).contains(&n.len())
            || in_card
            || profile
                .order_number
                .as_ref()
                .is_some_and(|o| o.is_match(m.as_str()))
        {
            continue;
        }
        if !brand_contact(m.as_str()) && !own_digits.contains(&n) {
            others.push(("a phone number", m.as_str().trim().to_owned()));
        }
    }
    for m in profile.order_number.iter().flat_map(|o| o.find_iter(text)) {
        if !own_text.contains(&m.as_str().to_lowercase()) {
            others.push(("an order number", m.as_str().to_owned()));
        }
    }
    for (what, found) in others {
        out.push(ctx.violation(
            Rule::PersonalData,
            format!("{what} that is not the customer's own"),
            &found,
        ));
    }
}

fn commitments(text: &str, ctx: &CheckContext<'_>, out: &mut Vec<Violation>) {
    for sentence in text::sentences(text) {
        let promising = PROMISE.is_match(sentence) && !REFUSAL.is_match(sentence);
        for c in &ctx.profile.commitments {
            // Patterns (a date, "within 3 days") are commitments wherever they stand; trigger
            // words ("refund") only when the sentence promises something.
            let hit = c
                .patterns
                .iter()
                .find_map(|p| p.find(sentence).map(|m| m.as_str().to_owned()))
                .or_else(|| {
                    promising
                        .then(|| {
                            c.triggers
                                .iter()
                                .find(|t| text::contains_phrase(sentence, t))
                        })
                        .flatten()
                        .cloned()
                });
            if let Some(hit) = hit {
                out.push(Violation {
                    rule: Rule::Commitment,
                    severity: c.severity,
                    clause: c.clause.clone(),
                    message: format!(
                        "promises {} (\"{hit}\"); only a person may commit to that",
                        c.kind
                    ),
                    excerpt: sentence.to_owned(),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{fires, rules_on};
    use super::luhn;
    use crate::rules::Rule;

    #[test]
    fn luhn_accepts_card_numbers_only() {
        assert!(luhn("4111 1111 1111 1111"));
        assert!(luhn("5500-0000-0000-0004"));
        assert!(!luhn("4111 1111 1111 1112"));
        assert!(!luhn("1234"));
    }

    #[test]
    fn links_outside_the_allowlist() {
        assert!(fires(
            Rule::Link,
            "Track it at https://parcel-tracker.example.net/x"
        ));
        assert!(fires(Rule::Link, "Details: bit.ly/nw-refund"));
        assert!(!fires(
            Rule::Link,
            "Details: https://help.northwindcoffee.com/shipping"
        ));
        assert!(!fires(Rule::Link, "Write to hello@northwindcoffee.com"));
    }

    #[test]
    fn other_peoples_personal_data() {
        assert!(fires(
            Rule::PersonalData,
            "We emailed jane.doe@gmail.com about it."
        ));
        assert!(fires(Rule::PersonalData, "Call Jane on +44 7700 900123."));
        assert!(fires(Rule::PersonalData, "Order NW-583920 shipped."));
        assert!(fires(
            Rule::PersonalData,
            "Card 4111 1111 1111 1111 was declined."
        ));
        assert!(!fires(
            Rule::PersonalData,
            "Write to hello@northwindcoffee.com or call 1-800-555-0142."
        ));
        assert!(!fires(Rule::PersonalData, "We roasted 1200 bags in 2024."));
    }

    #[test]
    fn the_authors_own_details_may_be_mentioned() {
        let inbound = Some("Order NW-583920 never came, reach me at sam@example.com");
        let reply = "Sorry Sam, we've found NW-583920 and will write to sam@example.com.";
        assert!(!rules_on("x", inbound, reply).contains(&Rule::PersonalData));
        // A card number is never repeated, even the customer's own.
        let inbound = Some("charged twice on 4111 1111 1111 1111");
        let reply = "Sorry about the charge on 4111 1111 1111 1111.";
        assert!(rules_on("x", inbound, reply).contains(&Rule::PersonalData));
    }

    #[test]
    fn promises_of_refunds_compensation_and_dates() {
        assert!(fires(Rule::Commitment, "We'll refund you in full."));
        assert!(fires(
            Rule::Commitment,
            "You will get a free bag as compensation."
        ));
        assert!(fires(Rule::Commitment, "It will arrive by Friday."));
        assert!(fires(Rule::Commitment, "Expect it within 3 days."));
        // Done deeds are promises too: what a prompt injection asks the model to write.
        assert!(fires(
            Rule::Commitment,
            "Of course! We've issued you a full refund."
        ));
        assert!(fires(
            Rule::Commitment,
            "Refund approved, $500 credited to your account."
        ));
        assert!(!fires(
            Rule::Commitment,
            "Refunds are handled by our billing team."
        ));
        assert!(!fires(
            Rule::Commitment,
            "We can't promise a refund here, sorry."
        ));
        assert!(!fires(
            Rule::Commitment,
            "Could you DM us your order number?"
        ));
    }
}
