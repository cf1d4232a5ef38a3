//! Small text helpers shared by the checks, post-processing and triage: sentence and word
//! splitting, normalisation for comparisons, and whole-word phrase search.

use unicode_segmentation::UnicodeSegmentation;

/// Sentences as written (with their trailing space trimmed), empty ones dropped.
pub fn sentences(text: &str) -> Vec<&str> {
    text.split_sentence_bounds()
        .flat_map(|s| s.split('\n'))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

/// Lower-cased words (letters, digits and apostrophes), for comparisons that should ignore
/// punctuation, case and spacing.
pub fn words(text: &str) -> Vec<String> {
    text.unicode_words()
        .map(|w| w.to_lowercase().replace('\u{2019}', "'"))
        .collect()
}

/// The text's words joined by single spaces, so that phrase search works on normalised text.
pub fn normalized(text: &str) -> String {
    words(text).join(" ")
}

/// Whether `phrase` occurs in `text` as whole words, ignoring case and punctuation.
/// "e-mail" matches "E-mail" and "e mail"; "sue" does not match "issue".
pub fn contains_phrase(text: &str, phrase: &str) -> bool {
    let haystack = format!(" {} ", normalized(text));
    let needle = normalized(phrase);
    !needle.is_empty() && haystack.contains(&format!(" {needle} "))
}

/// Number of user-perceived characters, which is what channel limits count.
pub fn char_count(text: &str) -> usize {
    text.graphemes(true).count()
}

/// The longest run of consecutive words that `a` and `b` share.
pub fn longest_common_run(a: &[String], b: &[String]) -> usize {
    let mut best = 0;
    let mut prev = vec![0usize; b.len() + 1];
    for x in a {
        let mut row = vec![0usize; b.len() + 1];
        for (j, y) in b.iter().enumerate() {
            if x == y {
                row[j + 1] = prev[j] + 1;
                best = best.max(row[j + 1]);
            }
        }
        prev = row;
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phrases_match_whole_words_only() {
        assert!(contains_phrase("Please E-mail us", "e-mail"));
        assert!(contains_phrase("I will SUE you.", "sue"));
        assert!(!contains_phrase("That is a known issue", "sue"));
        assert!(!contains_phrase("anything", ""));
    }

    #[test]
    fn sentences_split_on_punctuation_and_lines() {
        assert_eq!(
            sentences("Hi there! How are you?\nThanks"),
            vec!["Hi there!", "How are you?", "Thanks"]
        );
    }

    #[test]
    fn common_run_counts_consecutive_words() {
        let a = words("my parcel never arrived at the door");
        let b = words("sorry your parcel never arrived at all");
        assert_eq!(longest_common_run(&a, &b), 4);
    }

    #[test]
    fn graphemes_count_emoji_once() {
        assert_eq!(char_count("hi ☕"), 4);
        assert_eq!(char_count("👍🏽"), 1);
    }
}
