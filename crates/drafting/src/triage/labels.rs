//! Triage labels and the labelled set they are learned from (`data/triage.jsonl`).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub use tact_core::review::{Intent, Sentiment, Urgency};

/// What a person decided about one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriageLabels {
    pub sentiment: Sentiment,
    pub intent: Intent,
    pub urgency: Urgency,
    /// ISO 639-1 code, e.g. `en`, `es`.
    pub language: String,
}

/// One line of the labelled set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelledMessage {
    pub text: String,
    #[serde(flatten)]
    pub labels: TriageLabels,
    /// Whether the message is abusive or threatening (insults, profanity at people, threats);
    /// the keyword flag in [`super::screening::abuse`] is measured against it.
    #[serde(default)]
    pub abusive: bool,
}

/// The labelled set shipped with the crate.
pub const TRIAGE_JSONL: &str = include_str!("../../data/triage.jsonl");

/// Parses a JSONL labelled set; `file` names it in errors, which give the line.
pub fn parse_labelled(file: &str, jsonl: &str) -> Result<Vec<LabelledMessage>> {
    let mut out = Vec::new();
    for (i, line) in jsonl.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let record = |problem: String| Error::Record {
            file: file.to_owned(),
            line: i + 1,
            problem,
        };
        let m: LabelledMessage = serde_json::from_str(line).map_err(|e| record(e.to_string()))?;
        if m.text.trim().is_empty() {
            return Err(record("field `text` must not be empty".into()));
        }
        let lang = &m.labels.language;
        if lang.len() != 2 || !lang.bytes().all(|b| b.is_ascii_lowercase()) {
            return Err(record(format!(
                "field `language` must be an ISO 639-1 code such as \"en\", not {lang:?}"
            )));
        }
        out.push(m);
    }
    Ok(out)
}

/// The shipped labelled set.
pub fn labelled_set() -> Result<Vec<LabelledMessage>> {
    parse_labelled("triage.jsonl", TRIAGE_JSONL)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_records_name_their_line_and_field() {
        let good = r#"{"text":"hi","sentiment":"neutral","intent":"other","urgency":"low","language":"en"}"#;
        let bad_intent = good.replace("\"other\"", "\"rant\"");
        let err = parse_labelled("t.jsonl", &format!("{good}\n{bad_intent}\n")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("t.jsonl line 2: unknown variant `rant`"),
            "{err}"
        );
        let bad_lang = good.replace("\"en\"", "\"english\"");
        let err = parse_labelled("t.jsonl", &bad_lang).unwrap_err();
        assert!(err.to_string().contains("line 1") && err.to_string().contains("language"));
        let missing = good.replace(r#","urgency":"low""#, "");
        let err = parse_labelled("t.jsonl", &missing).unwrap_err();
        assert!(err.to_string().contains("urgency"), "{err}");
    }
}
