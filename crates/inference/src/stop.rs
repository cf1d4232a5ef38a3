//! Stop strings over streamed text: text is released only once it can no longer turn out to be
//! the start of a stop string, so a streamed reply never shows part of one.

/// Finds the first stop string in a growing text and holds back possible prefixes of one.
#[derive(Debug, Clone)]
pub struct StopMatcher {
    stops: Vec<String>,
    text: String,
    released: usize,
    stopped: bool,
}

/// What [`StopMatcher::push`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopOutcome {
    /// Text that is now safe to show (may be empty).
    Continue(String),
    /// A stop string was found: the last text to show, and the reply ends.
    Stopped(String),
}

impl StopMatcher {
    pub fn new(stops: impl IntoIterator<Item = String>) -> Self {
        let stops = stops.into_iter().filter(|s| !s.is_empty()).collect();
        Self {
            stops,
            text: String::new(),
            released: 0,
            stopped: false,
        }
    }

    pub fn push(&mut self, delta: &str) -> StopOutcome {
        debug_assert!(!self.stopped, "push after a stop string was found");
        self.text.push_str(delta);
        // Only a stop string that overlaps the unreleased text can be new.
        let longest = self.stops.iter().map(String::len).max().unwrap_or(0);
        let mut from = self.released.saturating_sub(longest);
        while !self.text.is_char_boundary(from) {
            from -= 1;
        }
        let found = self
            .stops
            .iter()
            .filter_map(|s| self.text[from..].find(s.as_str()).map(|at| from + at))
            .min();
        if let Some(at) = found {
            self.stopped = true;
            self.text.truncate(at.max(self.released));
            return StopOutcome::Stopped(self.release_to(self.text.len()));
        }
        let hold = self.held_back();
        StopOutcome::Continue(self.release_to(self.text.len() - hold))
    }

    /// Releases whatever is still held back (the reply ended for another reason).
    pub fn finish(&mut self) -> String {
        self.release_to(self.text.len())
    }

    /// All text released so far.
    pub fn text(&self) -> &str {
        &self.text[..self.released]
    }

    /// Length of the longest suffix of the text that is a proper prefix of a stop string.
    fn held_back(&self) -> usize {
        let unreleased = &self.text[self.released..];
        let mut hold = 0;
        for stop in &self.stops {
            for (len, _) in stop.char_indices().skip(1) {
                if len > hold && unreleased.ends_with(&stop[..len]) {
                    hold = len;
                }
            }
        }
        hold
    }

    fn release_to(&mut self, end: usize) -> String {
        let out = self.text[self.released..end].to_owned();
        self.released = end;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(stops: &[&str], deltas: &[&str]) -> (Vec<String>, bool) {
        let mut m = StopMatcher::new(stops.iter().map(|s| s.to_string()));
        let mut out = Vec::new();
        for d in deltas {
            match m.push(d) {
                StopOutcome::Continue(t) => out.push(t),
                StopOutcome::Stopped(t) => {
                    out.push(t);
                    return (out, true);
                }
            }
        }
        out.push(m.finish());
        (out, false)
    }

    #[test]
    fn holds_back_a_possible_prefix_and_releases_it_when_it_is_not_a_stop() {
        let (out, stopped) = run(&["\nUser:"], &["Hi", "\nUs", "ually fine"]);
        assert_eq!(out, vec!["Hi", "", "\nUsually fine", ""]);
        assert!(!stopped);
    }

    #[test]
    fn stops_across_deltas_and_never_shows_the_stop_string() {
        let (out, stopped) = run(&["\nUser:"], &["Thanks!", "\nUse", "r: more"]);
        assert!(stopped);
        assert_eq!(out.concat(), "Thanks!");
    }

    #[test]
    fn earliest_stop_wins_and_multibyte_text_is_safe() {
        let (out, stopped) = run(&["ÿ", "<|im_end|>"], &["naïve ☕ <|im_", "end|> ÿ"]);
        assert!(stopped);
        assert_eq!(out.concat(), "naïve ☕ ");
    }
}
