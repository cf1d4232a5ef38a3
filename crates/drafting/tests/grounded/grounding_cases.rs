//! The grounding guard on the demo pack's `grounding` cases (`evals/demo/cases.jsonl`), with
//! the demo brand's fact sheet and the real embedder: the reply a person would send states no
//! invented link, number or date, and the same reply with its numbers changed and a made-up
//! link added is caught at every invented span.

use serde::Deserialize;
use tact_core::InboundMessage;
use tact_drafting::grounding::{self, ClaimKind, SupportIndex};

use crate::common::{approved, demo_dir, embedder, profile};

#[derive(Deserialize)]
struct Case {
    id: String,
    text: String,
    #[serde(default)]
    tags: Vec<String>,
    expect: Expect,
}

#[derive(Deserialize)]
struct Expect {
    reference: Option<String>,
}

/// Literal kinds whose invention the guard must always catch.
fn literal(kind: ClaimKind) -> bool {
    matches!(
        kind,
        ClaimKind::Link
            | ClaimKind::Money
            | ClaimKind::Percentage
            | ClaimKind::Quantity
            | ClaimKind::Date
            | ClaimKind::Duration
            | ClaimKind::Phone
    )
}

/// Every number in `text` plus 7, and a made-up page appended.
fn invent(text: &str) -> String {
    let re = regex::Regex::new(r"\d+").unwrap();
    let changed = re.replace_all(text, |c: &regex::Captures<'_>| {
        (c[0].parse::<u64>().unwrap_or(0) + 7).to_string()
    });
    format!("{changed} More at https://northwindcoffee.com/help/offers-2026")
}

#[test]
fn the_guard_catches_every_invented_link_number_and_date_in_the_grounding_cases() {
    let jsonl = std::fs::read_to_string(demo_dir().join("../../evals/demo/cases.jsonl")).unwrap();
    let cases: Vec<Case> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|c: &Case| c.tags.iter().any(|t| t == "grounding"))
        .collect();
    assert!(cases.len() >= 25);
    let profile = profile();
    let evidence = approved();
    let embedder = embedder();
    let mut invented = 0;
    for case in &cases {
        let reference = case.expect.reference.as_deref().unwrap();
        let inbound = InboundMessage::from_json(serde_json::json!({
            "id": case.id, "brand": "northwind", "channel": "x", "author": "@customer",
            "text": case.text, "created_at": "2026-03-01T09:00:00Z",
        }))
        .unwrap();
        let sources = grounding::sources(&profile, [], [], Some(&inbound));
        let index = SupportIndex::build(sources, &evidence, &profile, embedder.as_ref()).unwrap();

        let found = grounding::unsupported(reference, &index, &profile, embedder.as_ref()).unwrap();
        let literal_flags: Vec<String> = found
            .iter()
            .filter(|f| literal(f.claim.kind))
            .map(|f| f.reason())
            .collect();
        assert!(
            literal_flags.is_empty(),
            "{}: the reference is flagged: {literal_flags:?}",
            case.id
        );

        let bad = invent(reference);
        let claims = grounding::extract::extract(&bad, &profile);
        let found = grounding::unsupported(&bad, &index, &profile, embedder.as_ref()).unwrap();
        for claim in claims.iter().filter(|c| literal(c.kind)) {
            let changed = claim.text.chars().any(|c| c.is_ascii_digit())
                || claim.text.contains("offers-2026");
            if !changed {
                continue;
            }
            invented += 1;
            assert!(
                found.iter().any(|f| f.claim.span == claim.span),
                "{}: invented {:?} {:?} was not caught in {bad:?}",
                case.id,
                claim.kind,
                claim.text
            );
        }
    }
    eprintln!(
        "{} grounding cases, {invented} invented literals, all caught",
        cases.len()
    );
    assert!(invented >= cases.len(), "only {invented} invented literals");
}
