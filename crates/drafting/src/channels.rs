//! Reply lengths counted the way each platform counts them.
//!
//! - **X**: the weighted length of twitter-text (version 3): code points in the Latin, general
//!   punctuation and similar ranges weigh 1, others (CJK, most symbols) 2, every emoji sequence
//!   2, and every link 23 however long it is written; at most 280.
//! - **Bluesky**: 300 graphemes (user-perceived characters).
//! - **Mastodon**: 500 graphemes, every link counting as 23 and a remote mention
//!   `@name@server` as `@name`.
//! - **Instagram** comments: 2,200 graphemes.
//! - **Graphemes**: email, forums and anything else: graphemes against the brand's own limit.
//!
//! A channel's `platform` in `brand.toml` picks the counting (by default inferred from the
//! channel's name); the brand's `max_chars` is the limit, never above the platform's own.

use std::sync::LazyLock;

use regex::Regex;
use serde::Deserialize;
use unicode_segmentation::UnicodeSegmentation;

use crate::links;

/// How a platform counts a post's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    X,
    Bluesky,
    Mastodon,
    Instagram,
    /// Email, forums and other channels without a platform limit.
    Graphemes,
}

/// What a link counts on X and Mastodon.
pub const LINK_LENGTH: usize = 23;

impl Platform {
    /// The platform a channel of this name is on, for profiles that do not say.
    pub fn for_channel(name: &str) -> Self {
        match name.to_ascii_lowercase().as_str() {
            "x" | "twitter" => Platform::X,
            "bluesky" | "bsky" => Platform::Bluesky,
            "mastodon" => Platform::Mastodon,
            "instagram" => Platform::Instagram,
            _ => Platform::Graphemes,
        }
    }

    /// The platform's own limit; `None` where only the brand sets one.
    pub fn max(self) -> Option<usize> {
        match self {
            Platform::X => Some(280),
            Platform::Bluesky => Some(300),
            Platform::Mastodon => Some(500),
            Platform::Instagram => Some(2200),
            Platform::Graphemes => None,
        }
    }

    /// The length of `text` as this platform counts it.
    pub fn length(self, text: &str) -> usize {
        match self {
            Platform::X => x_length(text),
            Platform::Mastodon => mastodon_length(text),
            Platform::Bluesky | Platform::Instagram | Platform::Graphemes => {
                text.graphemes(true).count()
            }
        }
    }

    /// The limit a reply must keep: the brand's, capped at the platform's.
    pub fn limit(self, brand_max: usize) -> usize {
        self.max().map_or(brand_max, |m| m.min(brand_max))
    }
}

fn x_length(text: &str) -> usize {
    let mut weight = 0usize;
    let mut rest = 0;
    for link in links::find(text) {
        weight += x_weight(&text[rest..link.start]);
        weight += LINK_LENGTH * 100;
        rest = link.end;
    }
    weight += x_weight(&text[rest..]);
    weight.div_ceil(100)
}

/// twitter-text v3 weights, in hundredths of a character.
fn x_weight(text: &str) -> usize {
    text.graphemes(true)
        .map(|g| {
            if is_emoji(g) {
                200
            } else {
                g.chars()
                    .map(|c| match c as u32 {
                        0..=4351 | 8192..=8205 | 8208..=8223 | 8242..=8247 => 100,
                        _ => 200,
                    })
                    .sum()
            }
        })
        .sum()
}

fn is_emoji(grapheme: &str) -> bool {
    grapheme.chars().any(|c| {
        matches!(c as u32,
            0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2B00..=0x2BFF)
    }) || grapheme.contains('\u{FE0F}')
}

static REMOTE_MENTION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(@[A-Za-z0-9_]+)@[A-Za-z0-9.-]+\.[A-Za-z]{2,}").unwrap());

fn mastodon_length(text: &str) -> usize {
    let mentions = REMOTE_MENTION.replace_all(text, "$1");
    let mut n = 0;
    let mut rest = 0;
    for link in links::find(&mentions) {
        n += mentions[rest..link.start].graphemes(true).count() + LINK_LENGTH;
        rest = link.end;
    }
    n + mentions[rest..].graphemes(true).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG_LINK: &str =
        "https://northwindcoffee.com/help/shipping/international-orders-and-customs";

    #[test]
    fn x_counts_every_link_as_23() {
        let text = format!("See {LONG_LINK}");
        assert_eq!(Platform::X.length(&text), 4 + 23);
        assert_eq!(Platform::X.length("northwindcoffee.com/help"), 23);
        // Bluesky and email count what is written.
        assert_eq!(
            Platform::Bluesky.length(&text),
            4 + LONG_LINK.chars().count()
        );
        assert_eq!(Platform::Mastodon.length(&text), 4 + 23);
    }

    #[test]
    fn x_counts_emoji_sequences_as_two_and_cjk_as_two() {
        // A family (four people joined by zero-width joiners) and a flag are one emoji each.
        assert_eq!(Platform::X.length("👨‍👩‍👧‍👦"), 2);
        assert_eq!(Platform::X.length("🇨🇦"), 2);
        assert_eq!(Platform::X.length("☕"), 2);
        assert_eq!(Platform::X.length("👍🏽"), 2);
        assert_eq!(Platform::X.length("コーヒー"), 8);
        assert_eq!(Platform::X.length("café"), 4);
        // Graphemes: one user-perceived character each.
        assert_eq!(Platform::Bluesky.length("👨‍👩‍👧‍👦🇨🇦"), 2);
    }

    #[test]
    fn combining_marks_belong_to_their_letter() {
        // "e" + combining acute, "n" + combining tilde: two graphemes, four code points.
        let decomposed = "e\u{301}n\u{303}";
        assert_eq!(decomposed.chars().count(), 4);
        assert_eq!(Platform::Bluesky.length(decomposed), 2);
        assert_eq!(Platform::Instagram.length(decomposed), 2);
        assert_eq!(Platform::Mastodon.length(decomposed), 2);
        // X weighs code points: both combining marks are in the weight-1 range.
        assert_eq!(Platform::X.length(decomposed), 4);
    }

    #[test]
    fn limits_per_platform() {
        let x280 = "a".repeat(257) + " " + LONG_LINK; // 257 + 1 + 23 = 281
        assert_eq!(Platform::X.length(&x280), 281);
        assert!(Platform::X.length(&x280) > Platform::X.limit(280));
        assert_eq!(
            Platform::X.length(&("a".repeat(256) + " " + LONG_LINK)),
            280
        );
        assert_eq!(Platform::Bluesky.limit(1000), 300);
        assert_eq!(Platform::Bluesky.length(&"☕".repeat(300)), 300);
        assert_eq!(Platform::Instagram.limit(5000), 2200);
        assert_eq!(Platform::Graphemes.limit(1500), 1500);
        assert_eq!(
            Platform::Mastodon.length("@sam@mastodon.social hi"),
            "@sam hi".len()
        );
        assert_eq!(Platform::for_channel("x"), Platform::X);
        assert_eq!(Platform::for_channel("email"), Platform::Graphemes);
    }
}
