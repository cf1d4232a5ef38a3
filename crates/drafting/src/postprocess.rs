//! Post-processing of a generated draft before any check or human sees it: role text and
//! special tokens out, links outside the allowlist dropped, and the reply trimmed to the
//! channel's limit at a sentence boundary. Each change is recorded so the reviewer can see it.

use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;
use unicode_segmentation::UnicodeSegmentation;

use crate::links;
use crate::profile::{BrandProfile, Channel};
use crate::text;

/// Tokens after which the model has stopped writing this reply.
const END_TOKENS: [&str; 5] = [
    "<|im_end|>",
    "<|endoftext|>",
    "<|eot_id|>",
    "</s>",
    "[/INST]",
];

static SPECIAL_TOKEN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"<\|[^|>\s]{1,40}\|>|</?s>|\[/?INST\]").unwrap());
/// A role header at the start of the text: `Assistant:`, `assistant\n`, `Reply:`.
static LEADING_ROLE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(?:<\|im_start\|>\s*)?(?:assistant|reply|response|answer)\s*(?::|\n)\s*")
        .unwrap()
});
/// A later line where the model starts writing another turn.
static NEXT_TURN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?im)^\s*(?:<\|im_start\|>\s*)?(?:user|customer|system|human)\s*(?::|$)|<\|im_start\|>",
    )
    .unwrap()
});

pub use tact_core::review::Change;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PostProcessed {
    pub text: String,
    pub changes: Vec<Change>,
}

/// Cleans one generated draft for `channel` of `profile`.
pub fn postprocess(raw: &str, profile: &BrandProfile, channel: &Channel) -> PostProcessed {
    let mut changes = Vec::new();
    let mut text = strip_role_text(raw);
    if text != raw.trim() {
        changes.push(Change::RoleTextRemoved);
    }
    text = drop_foreign_links(&text, &profile.link_domains, &mut changes);
    let before = text::char_count(&text);
    if before > channel.max_chars {
        text = trim_to(&text, channel.max_chars, &profile.sign_offs);
        changes.push(Change::Trimmed {
            from_chars: before,
            to_chars: text::char_count(&text),
        });
    }
    PostProcessed { text, changes }
}

fn strip_role_text(raw: &str) -> String {
    let mut text = raw;
    while let Some(m) = LEADING_ROLE.find(text) {
        text = &text[m.end()..];
    }
    let end = END_TOKENS
        .iter()
        .filter_map(|t| text.find(t))
        .chain(NEXT_TURN.find(text).map(|m| m.start()))
        .min()
        .unwrap_or(text.len());
    let text = SPECIAL_TOKEN.replace_all(&text[..end], "");
    text.trim().to_owned()
}

/// Drops each sentence that links outside the allowlist; when that would leave nothing, drops
/// only the link.
fn drop_foreign_links(text: &str, domains: &[String], changes: &mut Vec<Change>) -> String {
    let foreign: Vec<links::Link> = links::find(text)
        .into_iter()
        .filter(|l| !l.is_on(domains))
        .collect();
    if foreign.is_empty() {
        return text.to_owned();
    }
    changes.extend(
        foreign
            .iter()
            .map(|l| Change::LinkDropped { url: l.url.clone() }),
    );
    let mut kept = String::new();
    let mut offset = 0;
    for piece in text.split_sentence_bounds() {
        let range = offset..offset + piece.len();
        offset = range.end;
        if !foreign.iter().any(|l| range.contains(&l.start)) {
            kept.push_str(piece);
        }
    }
    let kept = kept.trim();
    if !kept.is_empty() {
        return kept.to_owned();
    }
    let mut bare = text.to_owned();
    for link in foreign.iter().rev() {
        bare.replace_range(link.start..link.end, "");
    }
    bare.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Keeps whole sentences up to `max` characters, and a trailing brand sign-off whole. When not
/// even the first sentence fits, cuts at a word boundary and adds an ellipsis.
fn trim_to(text: &str, max: usize, sign_offs: &[String]) -> String {
    let (body, sign_off) = split_sign_off(text, sign_offs);
    let tail = sign_off.map(|s| format!("\n\n{s}")).unwrap_or_default();
    let budget = max.saturating_sub(text::char_count(&tail));
    let mut kept = String::new();
    for piece in body.split_sentence_bounds() {
        let candidate = format!("{kept}{piece}");
        if text::char_count(candidate.trim_end()) > budget {
            break;
        }
        kept = candidate;
    }
    let mut kept = kept.trim_end().to_owned();
    if kept.is_empty() {
        for word in body.split_word_bounds() {
            if text::char_count(&kept) + text::char_count(word) + 1 > budget {
                break;
            }
            kept.push_str(word);
        }
        kept = format!("{}…", kept.trim_end().trim_end_matches([',', ';', ':']));
    }
    format!("{kept}{tail}")
}

fn split_sign_off<'a>(text: &'a str, sign_offs: &'a [String]) -> (&'a str, Option<&'a str>) {
    let trimmed = text.trim_end();
    for s in sign_offs {
        if let Some(body) = trimmed.strip_suffix(s.as_str()) {
            return (body.trim_end(), Some(s));
        }
    }
    (trimmed, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;

    fn run(raw: &str, channel: &str) -> PostProcessed {
        let profile = fixture::profile();
        let channel = profile.channel(channel).unwrap().clone();
        postprocess(raw, &profile, &channel)
    }

    #[test]
    fn role_headers_and_special_tokens_are_removed() {
        let out = run(
            "Assistant: Sorry about that, Sam!<|im_end|>\n<|im_start|>user\nthanks",
            "x",
        );
        assert_eq!(out.text, "Sorry about that, Sam!");
        assert_eq!(out.changes, [Change::RoleTextRemoved]);
        let out = run("assistant\nWe're on it.\nUser: ok great", "x");
        assert_eq!(out.text, "We're on it.");
        let out = run("We're on it.</s>", "x");
        assert_eq!(out.text, "We're on it.");
    }

    #[test]
    fn clean_text_is_left_alone() {
        let text =
            "Sorry about the delay, Sam. The user guide is at https://northwindcoffee.com/help";
        let out = run(text, "x");
        assert_eq!(out.text, text);
        assert!(out.changes.is_empty());
    }

    #[test]
    fn trims_at_a_sentence_boundary_within_the_limit() {
        let text = "Thanks for your patience. ".repeat(20);
        let out = run(&text, "x");
        assert!(text::char_count(&out.text) <= 280);
        assert!(out.text.ends_with("patience."), "{}", out.text);
        assert!(matches!(out.changes[..], [Change::Trimmed { to_chars, .. }] if to_chars <= 280));
    }

    #[test]
    fn a_single_long_sentence_is_cut_at_a_word_with_an_ellipsis() {
        let text = format!("We {} sorry", "really ".repeat(60));
        let out = run(&text, "x");
        assert!(out.text.ends_with("really…"), "{}", out.text);
        assert!(text::char_count(&out.text) <= 280);
    }

    #[test]
    fn trimming_keeps_the_email_sign_off() {
        let body = "We have looked into your order carefully. ".repeat(50);
        let out = run(&format!("{body}\n\nThe Northwind Coffee team"), "email");
        assert!(
            out.text
                .ends_with("carefully.\n\nThe Northwind Coffee team")
        );
        assert!(text::char_count(&out.text) <= 1500);
    }

    #[test]
    fn links_outside_the_allowlist_are_dropped() {
        let out = run(
            "Sorry! Track it at https://fast-parcels.example.net/track. Our guide: https://northwindcoffee.com/help",
            "x",
        );
        assert_eq!(
            out.text,
            "Sorry! Our guide: https://northwindcoffee.com/help"
        );
        assert_eq!(
            out.changes,
            [Change::LinkDropped {
                url: "https://fast-parcels.example.net/track".into()
            }]
        );
        let out = run("bit.ly/abc", "x");
        assert_eq!(out.text, "");
    }
}
