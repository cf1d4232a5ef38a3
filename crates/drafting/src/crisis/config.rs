//! The crisis radar's thresholds, with defaults tuned on the synthetic streams of the crate's
//! tests (a few dozen messages a day per brand, outages of tens of messages an hour).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How topics are formed and when a topic counts as a spike. Every key may be left out of a
/// TOML file (`[crisis]` in the CLI, or `brands/<b>/crisis.toml`); missing keys take the
/// defaults documented here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CrisisConfig {
    /// Cosine similarity to a topic's centroid a message needs to join that topic (default
    /// 0.5). Higher splits topics finer; lower merges unrelated complaints.
    pub topic_similarity: f32,
    /// Length of the sliding window, in minutes (default 60).
    pub window_minutes: u32,
    /// How far before the window the brand's baseline reaches, in hours (default 168: a week).
    pub baseline_hours: u32,
    /// Fewest messages of one topic inside a window for a spike (default 10).
    pub min_messages: usize,
    /// The window's count must be at least this many times the topic's baseline count for a
    /// window of the same length (default 5).
    pub volume_ratio: f64,
    /// The expected count per window is never taken below this, so that a topic never seen
    /// before needs `volume_ratio × min_expected` messages too (default 1).
    pub min_expected: f64,
    /// Share of the window's messages the sentiment classifier calls negative, at least
    /// (default 0.5).
    pub min_negative_share: f64,
    /// ... and at least this much above the brand's negative share in the baseline (default
    /// 0.15), so a brand whose inbox is always unhappy is measured against itself. The required
    /// share is capped at 1.
    pub negative_share_margin: f64,
    /// Representative quotes per summary, 3 to 5 (default 5).
    pub quotes: usize,
    /// Topic keywords per summary (default 5).
    pub keywords: usize,
    /// Names of the brand's products and services ("app", "subscription", "cold brew"),
    /// matched as whole words. When one is named in a spike it is the affected product;
    /// otherwise the most frequent noun phrase after a determiner ("the mobile app") is, if
    /// enough of the spike's messages share it.
    pub products: Vec<String>,
    /// Share of a spike's messages that must contain the same noun phrase for it to be
    /// reported as the affected product when no catalogue product is named (default 0.2).
    pub min_product_share: f64,
}

impl Default for CrisisConfig {
    fn default() -> Self {
        Self {
            topic_similarity: 0.5,
            window_minutes: 60,
            baseline_hours: 168,
            min_messages: 10,
            volume_ratio: 5.0,
            min_expected: 1.0,
            min_negative_share: 0.5,
            negative_share_margin: 0.15,
            quotes: 5,
            keywords: 5,
            products: Vec::new(),
            min_product_share: 0.2,
        }
    }
}

impl CrisisConfig {
    /// Parses a TOML document (`file` names it in errors) and validates it.
    pub fn from_toml(file: &str, text: &str) -> Result<Self> {
        let config: Self = toml::from_str(text).map_err(|e| Error::Syntax {
            file: file.to_owned(),
            message: e.message().to_owned(),
        })?;
        config.validate(file)?;
        Ok(config)
    }

    /// Checks every threshold is usable; errors name the key.
    pub fn validate(&self, file: &str) -> Result<()> {
        let invalid = |field: &str, problem: &str| {
            Err(Error::Invalid {
                file: file.to_owned(),
                field: field.to_owned(),
                problem: problem.to_owned(),
            })
        };
        if !(self.topic_similarity > 0.0 && self.topic_similarity < 1.0) {
            return invalid("topic_similarity", "must be between 0 and 1 (exclusive)");
        }
        if self.window_minutes == 0 {
            return invalid("window_minutes", "must be > 0");
        }
        if u64::from(self.baseline_hours) * 60 < u64::from(self.window_minutes) {
            return invalid("baseline_hours", "must cover at least one window");
        }
        if self.min_messages < 3 {
            return invalid("min_messages", "must be at least 3 (a summary quotes 3)");
        }
        if !(self.volume_ratio.is_finite() && self.volume_ratio >= 1.0) {
            return invalid("volume_ratio", "must be at least 1");
        }
        if !(self.min_expected.is_finite() && self.min_expected > 0.0) {
            return invalid("min_expected", "must be > 0");
        }
        for (field, share) in [
            ("min_negative_share", self.min_negative_share),
            ("negative_share_margin", self.negative_share_margin),
            ("min_product_share", self.min_product_share),
        ] {
            if !(0.0..=1.0).contains(&share) {
                return invalid(field, "must be between 0 and 1");
            }
        }
        if !(3..=5).contains(&self.quotes) {
            return invalid("quotes", "must be between 3 and 5");
        }
        if self.keywords == 0 {
            return invalid("keywords", "must be > 0");
        }
        if let Some(i) = self.products.iter().position(|p| p.trim().is_empty()) {
            return invalid(&format!("products[{i}]"), "must not be empty");
        }
        Ok(())
    }

    pub(crate) fn window_ms(&self) -> i64 {
        i64::from(self.window_minutes) * 60_000
    }

    pub(crate) fn baseline_ms(&self) -> i64 {
        i64::from(self.baseline_hours) * 3_600_000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_keys_take_defaults_and_bad_ones_are_named() {
        let config = CrisisConfig::from_toml("crisis.toml", "min_messages = 12\n").unwrap();
        assert_eq!(config.min_messages, 12);
        assert_eq!(config.window_minutes, 60);
        CrisisConfig::default().validate("default").unwrap();

        let err = CrisisConfig::from_toml("crisis.toml", "quotes = 7").unwrap_err();
        assert_eq!(
            err.to_string(),
            "crisis.toml: quotes must be between 3 and 5"
        );
        let err = CrisisConfig::from_toml("crisis.toml", "window_minute = 5").unwrap_err();
        assert!(err.to_string().contains("window_minute"), "{err}");
        let err = CrisisConfig::from_toml("crisis.toml", "products = ['app', ' ']").unwrap_err();
        assert!(err.to_string().contains("products[1]"), "{err}");
        let err =
            CrisisConfig::from_toml("c", "baseline_hours = 1\nwindow_minutes = 90").unwrap_err();
        assert!(err.to_string().contains("baseline_hours"), "{err}");
    }
}
