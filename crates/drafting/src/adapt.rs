//! Light adaptation of an approved past reply to a new message: the greeting names the new
//! customer, mentions of the old customer's handle and order numbers are taken out, and the
//! channel's sign-off rule is applied. Nothing else is touched: the point of this candidate is
//! that a person already approved its words.

use std::sync::LazyLock;

use regex::Regex;

use crate::profile::{BrandProfile, Channel, SignOffRule};

/// `Hi Ken,` / `Hello Maria!` / `Dear Tom` at the very start.
static GREETING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?P<word>Hi|Hello|Hey|Dear)\s+(?P<name>[\p{Lu}][\p{L}'\-]*)(?P<punct>\s*[,!])")
        .unwrap()
});
/// `@someone` mentions at the very start of a public reply.
static LEADING_MENTIONS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(?:@\w+[\s,]*)+").unwrap());

/// The adapted text and a note per change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adapted {
    pub text: String,
    pub adaptations: Vec<String>,
}

/// Adapts `reply` (approved for another customer) to a message from `author` on `channel`.
pub fn adapt(reply: &str, author: &str, profile: &BrandProfile, channel: &Channel) -> Adapted {
    let mut text = reply.trim().to_owned();
    let mut adaptations = Vec::new();

    if let Some(m) = LEADING_MENTIONS.find(&text) {
        let old = m.as_str().trim().to_owned();
        let rest = text[m.end()..].to_owned();
        text = match public_handle(author, profile) {
            Some(handle) => format!("{handle} {rest}"),
            None => rest,
        };
        adaptations.push(format!(
            "mention: {old:?} → {:?}",
            public_handle(author, profile).unwrap_or_default()
        ));
    }

    if let Some(caps) = GREETING.captures(&text) {
        let old = caps[0].to_owned();
        let new = format!(
            "{} {}{}",
            &caps["word"],
            first_name(author).unwrap_or_else(|| "there".into()),
            &caps["punct"]
        );
        if new != old {
            text = format!("{new}{}", &text[old.len()..]);
            adaptations.push(format!("greeting: {old:?} → {new:?}"));
        }
    }

    // An order number in an approved reply belongs to the customer it was written for.
    let mut replaced = Vec::new();
    if let Some(order_number) = &profile.order_number {
        let text_without_orders = order_number
            .replace_all(&text, |caps: &regex::Captures<'_>| {
                replaced.push(caps[0].to_owned());
                "your order".to_owned()
            })
            .into_owned();
        text = text_without_orders;
    }
    if !replaced.is_empty() {
        adaptations.push(format!(
            "order number {} → \"your order\"",
            replaced.join(", ")
        ));
    }

    match channel.sign_off {
        SignOffRule::Required => {
            if let Some(sign_off) = profile.sign_offs.first()
                && !profile
                    .sign_offs
                    .iter()
                    .any(|s| text.trim_end().ends_with(s.as_str()))
            {
                text = format!("{}\n\n{sign_off}", text.trim_end());
                adaptations.push(format!("sign-off added: {sign_off:?}"));
            }
        }
        SignOffRule::Forbidden => {
            for sign_off in &profile.sign_offs {
                if let Some(body) = text.trim_end().strip_suffix(sign_off.as_str()) {
                    text = body.trim_end().to_owned();
                    adaptations.push(format!("sign-off removed: {sign_off:?}"));
                    break;
                }
            }
        }
        SignOffRule::Optional => {}
    }
    Adapted { text, adaptations }
}

/// The customer's handle, when they have one that is not the brand's own.
fn public_handle(author: &str, profile: &BrandProfile) -> Option<String> {
    let author = author.trim();
    (author.starts_with('@')
        && author.len() > 1
        && !profile
            .handles
            .iter()
            .any(|h| h.eq_ignore_ascii_case(author)))
    .then(|| author.to_owned())
}

/// A first name from an author such as `Sam Lee`; none for handles and addresses.
fn first_name(author: &str) -> Option<String> {
    let first = author.split_whitespace().next()?;
    let looks_like_name = first.chars().next().is_some_and(char::is_uppercase)
        && first
            .chars()
            .all(|c| c.is_alphabetic() || c == '\'' || c == '-');
    looks_like_name.then(|| first.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;

    fn run(reply: &str, author: &str, channel: &str) -> Adapted {
        let profile = fixture::profile();
        let channel = profile.channel(channel).unwrap().clone();
        adapt(reply, author, &profile, &channel)
    }

    #[test]
    fn the_greeting_names_the_new_customer() {
        let out = run(
            "Hi Ken,\n\nSorry about the beans.\n\nThe Northwind Coffee team",
            "Sam Lee",
            "email",
        );
        assert_eq!(
            out.text,
            "Hi Sam,\n\nSorry about the beans.\n\nThe Northwind Coffee team"
        );
        assert_eq!(out.adaptations, ["greeting: \"Hi Ken,\" → \"Hi Sam,\""]);
        let out = run(
            "Hi Ken,\n\nSorry.\n\nThe Northwind Coffee team",
            "@sam_k",
            "email",
        );
        assert!(out.text.starts_with("Hi there,"), "{}", out.text);
    }

    #[test]
    fn old_mentions_and_order_numbers_go_and_the_sign_off_follows_the_channel() {
        let out = run("@ken_r Sorry! We'll check NW-448120 today.", "@sam_k", "x");
        assert_eq!(out.text, "@sam_k Sorry! We'll check your order today.");
        assert_eq!(out.adaptations.len(), 2);
        let out = run("Sorry about that.", "Sam", "email");
        assert_eq!(out.text, "Sorry about that.\n\nThe Northwind Coffee team");
        let out = run("Sorry about that.\n\nThe Northwind Coffee team", "Sam", "x");
        assert_eq!(out.text, "Sorry about that.");
        let out = run("Sorry about that.", "@northwindcoffee", "x");
        assert!(out.adaptations.is_empty());
    }
}
