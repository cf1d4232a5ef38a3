//! From drafting's values to what the workflow stores and the API shows: draft sets,
//! candidates, violations and triage.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::json;
use tact_core::InboundMessage;
use tact_drafting::triage::Route;
use tact_drafting::{CheckContext, Origin, check};
use tact_workflow::{Candidate, Citation, DraftSet, Severity, Violation};

use crate::api::{CandidateView, CitationView, ScoreView, TriageView, ViolationView};
use crate::error::ApiError;
use crate::state::BrandSetup;

/// The snake_case name serde gives a label.
fn label<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

pub fn violation(v: &tact_drafting::Violation) -> Violation {
    Violation {
        rule: v.rule.to_string(),
        severity: match v.severity {
            tact_drafting::Severity::Warn => Severity::Warn,
            tact_drafting::Severity::Block => Severity::Block,
        },
        clause: v.clause.clone(),
        message: v.message.clone(),
        excerpt: v.excerpt.clone(),
    }
}

pub fn triage(triage: &tact_drafting::Triage) -> TriageView {
    let labels = &triage.labels;
    TriageView {
        sentiment: label(&labels.sentiment.label),
        intent: label(&labels.intent.label),
        urgency: label(&labels.urgency.label),
        language: labels.language.label.clone(),
        toxic: triage.screening.abuse.is_some(),
        escalation: triage
            .screening
            .escalations
            .iter()
            .map(|e| e.topic.clone())
            .collect(),
    }
}

/// The draft set as the workflow keeps it. Origin, score and citation kinds ride in
/// `detail` so the API can show them without the store knowing drafting's types.
pub fn stored_drafts(set: &tact_drafting::DraftSet) -> DraftSet {
    let candidates = set
        .candidates
        .iter()
        .map(|c| {
            let cited = |kind: &str, list: &[tact_drafting::Citation]| {
                list.iter()
                    .map(|x| json!({"id": x.id, "kind": kind, "similarity": x.similarity}))
                    .collect::<Vec<_>>()
            };
            let mut citations = cited("guideline", &c.citations.clauses);
            citations.extend(cited("reply", &c.citations.replies));
            let origin = match &c.origin {
                Origin::Generated { .. } => "generated",
                Origin::AdaptedPastReply { .. } => "adapted_past_reply",
            };
            Candidate {
                text: c.text.clone(),
                citations: c
                    .citations
                    .clauses
                    .iter()
                    .chain(&c.citations.replies)
                    .map(|x| Citation {
                        id: x.id.clone(),
                        similarity: x.similarity,
                    })
                    .collect(),
                violations: c.violations.iter().map(violation).collect(),
                detail: json!({
                    "origin": origin,
                    "source": c.origin,
                    "score": c.score,
                    "citations": citations,
                    "rank": c.rank,
                }),
            }
        })
        .collect();
    DraftSet {
        candidates,
        triage: serde_json::to_value(triage(&set.triage)).unwrap_or_default(),
    }
}

/// Why triage sent the message to a person.
pub fn escalation_reason(set: &tact_drafting::DraftSet) -> String {
    let screening = &set.triage.screening;
    debug_assert_eq!(screening.route, Route::Escalate);
    let topics: Vec<String> = screening
        .escalations
        .iter()
        .map(|e| format!("{} (\"{}\", {})", e.topic, e.trigger, e.clause))
        .collect();
    if topics.is_empty() {
        "triage: the message reads as a threat; a person must answer it".to_owned()
    } else {
        format!(
            "triage: escalation topic {}; a person must answer it",
            topics.join(", ")
        )
    }
}

pub fn stored_triage(drafts: Option<&DraftSet>) -> Option<TriageView> {
    drafts.and_then(|d| serde_json::from_value(d.triage.clone()).ok())
}

pub fn candidate_view(index: usize, candidate: &Candidate) -> CandidateView {
    let detail = &candidate.detail;
    let citations = detail
        .get("citations")
        .and_then(|c| c.as_array())
        .map(|list| {
            list.iter()
                .filter_map(|c| {
                    Some(CitationView {
                        id: c.get("id")?.as_str()?.to_owned(),
                        kind: c.get("kind")?.as_str()?.to_owned(),
                        similarity: c.get("similarity")?.as_f64()? as f32,
                    })
                })
                .collect()
        })
        .unwrap_or_else(|| {
            candidate
                .citations
                .iter()
                .map(|c| CitationView {
                    id: c.id.clone(),
                    kind: if c.id.contains(" > ") {
                        "guideline"
                    } else {
                        "reply"
                    }
                    .to_owned(),
                    similarity: c.similarity,
                })
                .collect()
        });
    let score = detail.get("score");
    let part = |name: &str| {
        score
            .and_then(|s| s.get(name))
            .and_then(|v| v.as_f64())
            .unwrap_or(0.0) as f32
    };
    let parts: BTreeMap<String, f32> = ["checks", "relevance", "closeness"]
        .into_iter()
        .map(|p| (p.to_owned(), part(p)))
        .collect();
    CandidateView {
        index,
        text: candidate.text.clone(),
        origin: detail
            .get("origin")
            .and_then(|o| o.as_str())
            .unwrap_or("generated")
            .to_owned(),
        citations,
        violations: candidate
            .violations
            .iter()
            .map(|v| ViolationView::new(v, &candidate.text))
            .collect(),
        score: ScoreView {
            total: part("total"),
            parts,
        },
    }
}

/// The brand's guideline checks on `text`, as a reply on `channel` to `inbound` (when known).
pub fn check_text(
    brand: &BrandSetup,
    channel: &str,
    inbound: Option<&InboundMessage>,
    text: &str,
) -> Result<Vec<Violation>, ApiError> {
    let ctx = CheckContext::new(&brand.profile, channel, inbound, &brand.approved)?;
    Ok(check(text, &ctx).iter().map(violation).collect())
}
