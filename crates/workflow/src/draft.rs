//! Drafts as the workflow stores them: tact-core's review vocabulary ([`Drafts`],
//! [`Candidate`], [`Violation`], ...), kept as JSON in `draft_sets.drafts`.
//!
//! Rows written before the vocabulary was typed held each candidate as
//! `{text, citations: [{id, similarity}], violations, detail: {origin, source, score,
//! citations: [{id, kind, similarity}], rank}}` and the triage as free JSON. [`parse_stored`]
//! reads both shapes, so such rows are served as the typed values without being rewritten.

use serde::Deserialize;
pub use tact_core::review::{
    Candidate, Citation, CitationKind, Citations, Drafts, Origin, Score, Severity, TriageSummary,
    Violation, count_blocks,
};

/// A stored draft set, in today's shape or the untyped one (see the module documentation).
pub fn parse_stored(json: &str) -> Result<Drafts, String> {
    let current = match serde_json::from_str::<Drafts>(json) {
        Ok(drafts) => return Ok(drafts),
        Err(e) => e,
    };
    match serde_json::from_str::<LegacyDrafts>(json) {
        Ok(legacy) => Ok(legacy.into()),
        // Report the error against today's shape: that is what new rows are written in.
        Err(_) => Err(current.to_string()),
    }
}

#[derive(Deserialize)]
struct LegacyDrafts {
    candidates: Vec<LegacyCandidate>,
    #[serde(default)]
    triage: serde_json::Value,
}

#[derive(Deserialize)]
struct LegacyCandidate {
    text: String,
    #[serde(default)]
    citations: Vec<Citation>,
    #[serde(default)]
    violations: Vec<Violation>,
    #[serde(default)]
    detail: LegacyDetail,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct LegacyDetail {
    origin: Option<String>,
    source: Option<Origin>,
    score: Option<Score>,
    citations: Option<Vec<LegacyCitation>>,
    rank: Option<usize>,
}

#[derive(Deserialize)]
struct LegacyCitation {
    id: String,
    kind: CitationKind,
    similarity: f32,
}

impl From<LegacyDrafts> for Drafts {
    fn from(legacy: LegacyDrafts) -> Self {
        let candidates = legacy
            .candidates
            .into_iter()
            .enumerate()
            .map(|(i, c)| c.into_candidate(i + 1))
            .collect();
        Drafts {
            candidates,
            // A triage that does not read as today's labels is dropped, as the API did.
            triage: serde_json::from_value(legacy.triage).ok(),
        }
    }
}

impl LegacyCandidate {
    fn into_candidate(self, position: usize) -> Candidate {
        let detail = self.detail;
        let citations = match detail.citations {
            Some(list) => {
                let mut citations = Citations::default();
                for c in list {
                    let citation = Citation {
                        id: c.id,
                        similarity: c.similarity,
                    };
                    match c.kind {
                        CitationKind::Guideline => citations.clauses.push(citation),
                        CitationKind::Reply => citations.replies.push(citation),
                    }
                }
                citations
            }
            // Rows without kinds: clause ids are `file > heading > n`.
            None => {
                let (clauses, replies) = self
                    .citations
                    .into_iter()
                    .partition(|c| c.id.contains(" > "));
                Citations { clauses, replies }
            }
        };
        let origin = detail
            .source
            .unwrap_or_else(|| match detail.origin.as_deref() {
                Some("adapted_past_reply") => Origin::AdaptedPastReply {
                    reply_id: String::new(),
                    adaptations: Vec::new(),
                },
                _ => Origin::Generated {
                    seed: 0,
                    temperature: 0.0,
                },
            });
        Candidate {
            rank: detail.rank.unwrap_or(position),
            origin,
            text: self.text,
            changes: Vec::new(),
            violations: self.violations,
            citations,
            score: detail.score.unwrap_or_default(),
            generation: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A row as `tact serve` stored it before the typed vocabulary.
    const LEGACY_ROW: &str = r#"{"candidates":[{"text":"Sorry! DM us.","citations":[{"id":"voice.md > Tone > 1","similarity":0.4},{"id":"nw-r-001","similarity":0.7}],"violations":[{"rule":"emoji","severity":"warn","clause":"voice.md > Tone > 2","message":"emoji","excerpt":"!"}],"detail":{"origin":"adapted_past_reply","source":{"kind":"adapted_past_reply","reply_id":"nw-r-001","adaptations":["greeting"]},"score":{"checks":0.9,"relevance":0.5,"closeness":0.8,"total":0.775},"citations":[{"id":"voice.md > Tone > 1","kind":"guideline","similarity":0.4},{"id":"nw-r-001","kind":"reply","similarity":0.7}],"rank":1}}],"triage":{"sentiment":"negative","intent":"delivery","urgency":"high","language":"en","toxic":false,"escalation":[]}}"#;

    #[test]
    fn rows_stored_untyped_read_as_the_typed_vocabulary() {
        let drafts = parse_stored(LEGACY_ROW).unwrap();
        let c = &drafts.candidates[0];
        assert_eq!(c.rank, 1);
        assert_eq!(
            c.origin,
            Origin::AdaptedPastReply {
                reply_id: "nw-r-001".into(),
                adaptations: vec!["greeting".into()]
            }
        );
        assert_eq!(c.citations.clauses[0].id, "voice.md > Tone > 1");
        assert_eq!(c.citations.replies[0].id, "nw-r-001");
        assert!((c.score.total - 0.775).abs() < 1e-6);
        assert_eq!(c.violations[0].severity, Severity::Warn);
        let triage = drafts.triage.unwrap();
        assert_eq!(triage.urgency, tact_core::review::Urgency::High);
        // Written back, the row is in today's shape and reads the same.
        let rewritten = serde_json::to_string(&parse_stored(LEGACY_ROW).unwrap()).unwrap();
        assert_eq!(
            parse_stored(&rewritten).unwrap(),
            parse_stored(LEGACY_ROW).unwrap()
        );
    }

    #[test]
    fn hand_written_rows_without_detail_still_read() {
        let row = r#"{"candidates":[{"text":"Hi","citations":[{"id":"a.md > B > 1","similarity":0.2}],"violations":[]}]}"#;
        let drafts = parse_stored(row).unwrap();
        assert_eq!(drafts.candidates[0].citations.clauses.len(), 1);
        assert_eq!(drafts.candidates[0].rank, 1);
        assert!(drafts.triage.is_none());
    }

    #[test]
    fn a_row_of_neither_shape_is_an_error() {
        let err = parse_stored(r#"{"candidates":[{"txt":"Hi"}]}"#).unwrap_err();
        assert!(err.contains("missing field"), "{err}");
    }
}
