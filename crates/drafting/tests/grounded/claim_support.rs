//! The grounding guard's precision and recall on the committed labelled set
//! (`tests/data/claim_support.json`: seven domains, each with its sources and sentences a
//! drafting model might write, labelled supported or not), with the real sentence embedder.
//!
//! "Positive" means flagged as unsupported: precision is the share of flagged sentences that
//! are really unsupported, recall the share of unsupported sentences that are flagged.
//! `cargo test -p tact-drafting --test grounded -- claim_support --nocapture` prints the
//! figures and every miss.

use serde::Deserialize;
use tact_core::{Embedder, InboundMessage};
use tact_drafting::grounding::{self, Source, SourceKind, SupportIndex};
use tact_drafting::{ApprovedEvidence, BrandProfile, Guidelines};

use crate::common::{approved, demo_dir, embedder, profile};

#[derive(Deserialize)]
struct Set {
    domains: Vec<Domain>,
}

#[derive(Deserialize)]
struct Domain {
    name: String,
    /// Fact sheet clauses; empty: the demo brand's own `facts.md`.
    facts: Vec<String>,
    replies: Vec<String>,
    inbound: String,
    claims: Vec<Labelled>,
}

#[derive(Deserialize)]
struct Labelled {
    text: String,
    supported: bool,
}

/// The demo profile with another domain's fact sheet in place of its own.
fn profile_with_facts(facts: &[String]) -> BrandProfile {
    if facts.is_empty() {
        return profile();
    }
    let markdown = format!(
        "# Facts\n\n{}\n",
        facts
            .iter()
            .enumerate()
            .map(|(i, f)| format!("{}. {f}", i + 1))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let demo = profile();
    let mut clauses: Vec<_> = demo
        .guidelines
        .clauses()
        .iter()
        .filter(|c| !c.id.starts_with("facts.md"))
        .cloned()
        .collect();
    clauses.extend(tact_drafting::guidelines::parse("facts.md", &markdown));
    let toml = std::fs::read_to_string(demo_dir().join("brand.toml")).unwrap();
    BrandProfile::parse(&toml, Guidelines::from_clauses(clauses)).unwrap()
}

#[derive(Default, Debug)]
struct Counts {
    tp: usize,
    fp: usize,
    fn_: usize,
    tn: usize,
}

impl Counts {
    fn precision(&self) -> f64 {
        self.tp as f64 / (self.tp + self.fp).max(1) as f64
    }
    fn recall(&self) -> f64 {
        self.tp as f64 / (self.tp + self.fn_).max(1) as f64
    }
}

#[test]
fn claim_support_precision_and_recall_on_the_labelled_set() {
    let text = std::fs::read_to_string(
        demo_dir().join("../../crates/drafting/tests/data/claim_support.json"),
    )
    .unwrap();
    let set: Set = serde_json::from_str(&text).unwrap();
    let embedder = embedder();
    let mut total = Counts::default();
    let mut claims = 0;
    let mut misses = Vec::new();
    for domain in &set.domains {
        let profile = profile_with_facts(&domain.facts);
        let evidence = if domain.facts.is_empty() {
            approved()
        } else {
            ApprovedEvidence::from_replies(domain.replies.iter().map(String::as_str))
        };
        let inbound = InboundMessage::from_json(serde_json::json!({
            "id": "in-1", "brand": "northwind", "channel": "x", "author": "@sam_k",
            "text": domain.inbound, "created_at": "2026-03-01T09:00:00Z",
        }))
        .unwrap();
        let replies: Vec<(String, String)> = domain
            .replies
            .iter()
            .enumerate()
            .map(|(i, r)| (format!("reply-{i}"), r.clone()))
            .collect();
        let sources: Vec<Source> = grounding::sources(
            &profile,
            [],
            replies.iter().map(|(id, r)| (id.as_str(), r.as_str())),
            Some(&inbound),
        );
        assert!(
            sources.iter().any(|s| s.kind == SourceKind::Fact),
            "{}: no fact sheet",
            domain.name
        );
        let index = SupportIndex::build(
            sources,
            &evidence,
            &profile,
            embedder.as_ref() as &dyn Embedder,
        )
        .unwrap();
        let mut counts = Counts::default();
        for claim in &domain.claims {
            claims += 1;
            let findings =
                grounding::unsupported(&claim.text, &index, &profile, embedder.as_ref()).unwrap();
            let flagged = !findings.is_empty();
            match (flagged, claim.supported) {
                (true, false) => counts.tp += 1,
                (true, true) => counts.fp += 1,
                (false, false) => counts.fn_ += 1,
                (false, true) => counts.tn += 1,
            }
            if flagged == claim.supported {
                let why: Vec<String> = findings.iter().map(|f| f.reason()).collect();
                misses.push(format!(
                    "[{}] {} {:?}: {}",
                    domain.name,
                    if flagged { "FALSE FLAG" } else { "MISSED" },
                    claim.text,
                    why.join("; ")
                ));
            }
        }
        eprintln!(
            "{:<45} precision {:.3} recall {:.3} ({counts:?})",
            domain.name,
            counts.precision(),
            counts.recall()
        );
        total.tp += counts.tp;
        total.fp += counts.fp;
        total.fn_ += counts.fn_;
        total.tn += counts.tn;
    }
    for m in &misses {
        eprintln!("{m}");
    }
    eprintln!(
        "all {claims} claims ({} unsupported): precision {:.3} recall {:.3} ({total:?})",
        total.tp + total.fn_,
        total.precision(),
        total.recall()
    );
    assert!(claims >= 150, "the set has {claims} claims");
    assert!(
        total.recall() >= 0.9,
        "recall on unsupported claims {:.3} < 0.9",
        total.recall()
    );
    assert!(
        total.precision() >= 0.8,
        "precision {:.3} < 0.8",
        total.precision()
    );
}
