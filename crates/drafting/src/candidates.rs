//! Candidates of a draft set: where each came from, its checks, its citations, its score, and
//! the ranking that puts the best first.
//!
//! The score has three parts, each in `[0, 1]` and shown to the reviewer:
//!
//! - **checks**: 0 when a block-severity violation fires, otherwise 1 less 0.1 per warning
//!   (at least 0.5);
//! - **relevance**: cosine similarity of the candidate to the inbound message;
//! - **closeness**: the highest cosine similarity of the candidate to an approved reply that
//!   was in the prompt (for the adapted past reply, to the *other* approved replies, so it does
//!   not score itself).
//!
//! `total = 0.5 · checks + 0.25 · relevance + 0.25 · closeness`. Ranking: a generated candidate
//! ranks above the adapted past reply only when it beats it on both the checks and the total;
//! otherwise it ranks below it (the bundled model writes fluent but often generic or invented
//! text, so free generation must earn its place above an approved reply). A candidate with an
//! `unsupported_claim` ranks below every unblocked one without (one that asks or hands over
//! beats one that invents a price, however close its words are to the sources).

use std::cmp::Ordering;

pub use tact_core::review::{
    CHECKS_WEIGHT, CLOSENESS_WEIGHT, Citation, Citations, GenerationInfo, Origin, RELEVANCE_WEIGHT,
    Score,
};

use crate::grounding::states_unsupported;
use crate::rules::Rule;

/// Citations of each kind a candidate carries.
pub const CITATIONS_PER_KIND: usize = 2;

/// One suggested reply, naming its violations' typed [`Rule`]s (tact-core's review
/// vocabulary; [`tact_core::review::Candidate::keyed`] gives the stored form).
pub type Candidate = tact_core::review::Candidate<Rule>;

/// Orders candidates best first and numbers their ranks (see the module documentation).
pub fn rank(candidates: &mut Vec<Candidate>) {
    candidates.sort_by(by_merit);
    let adapted = candidates
        .iter()
        .find(|c| c.origin.is_adapted())
        .map(|c| c.score);
    if let Some(adapted) = adapted {
        let adapted_unsupported = candidates
            .iter()
            .find(|c| c.origin.is_adapted())
            .is_some_and(|c| states_unsupported(&c.violations));
        let beats = |c: &Candidate| {
            c.score.checks >= adapted.checks
                && c.score.total > adapted.total
                && (adapted_unsupported || !states_unsupported(&c.violations))
        };
        let (mut above, rest): (Vec<Candidate>, Vec<Candidate>) = candidates
            .drain(..)
            .partition(|c| !c.origin.is_adapted() && beats(c));
        let (adapted, below): (Vec<Candidate>, Vec<Candidate>) =
            rest.into_iter().partition(|c| c.origin.is_adapted());
        above.extend(adapted);
        above.extend(below);
        *candidates = above;
    }
    // The same text twice (two seeds that agree, or a model copying the past reply) is shown
    // once, where it ranks best.
    let mut seen = std::collections::HashSet::new();
    candidates.retain(|c| seen.insert(crate::text::normalized(&c.text)));
    for (i, c) in candidates.iter_mut().enumerate() {
        c.rank = i + 1;
    }
}

/// Unblocked first, then those that state nothing unsupported (a candidate that asks or hands
/// over beats one that invents a fact, however close its words), then by total score, then by
/// the checks part.
fn by_merit(a: &Candidate, b: &Candidate) -> Ordering {
    a.blocked()
        .cmp(&b.blocked())
        .then(states_unsupported(&a.violations).cmp(&states_unsupported(&b.violations)))
        .then(b.score.total.total_cmp(&a.score.total))
        .then(b.score.checks.total_cmp(&a.score.checks))
}

/// Cosine similarity; 0 when either vector is zero or their lengths differ.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return 0.0;
    }
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}

/// The `CITATIONS_PER_KIND` items of `evidence` most similar to `vector`, best first.
pub fn cite<'a>(
    vector: &[f32],
    evidence: impl IntoIterator<Item = (&'a str, &'a [f32])>,
) -> Vec<Citation> {
    let mut cited: Vec<Citation> = evidence
        .into_iter()
        .map(|(id, v)| Citation {
            id: id.to_owned(),
            similarity: cosine(vector, v),
        })
        .collect();
    cited.sort_by(|a, b| b.similarity.total_cmp(&a.similarity));
    cited.truncate(CITATIONS_PER_KIND);
    cited
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::Violation;
    use crate::rules::Severity;

    fn violation(severity: Severity) -> Violation {
        Violation {
            rule: Rule::Commitment,
            severity,
            clause: "voice.md > Safety > 3".into(),
            message: "promises a refund".into(),
            excerpt: "refund".into(),
        }
    }

    fn candidate(origin: Origin, violations: Vec<Violation>, rel: f32, close: f32) -> Candidate {
        Candidate {
            rank: 0,
            text: format!("reply from {origin:?}"),
            origin,
            changes: vec![],
            score: Score::new(&violations, rel, close),
            violations,
            citations: Citations::default(),
            generation: None,
        }
    }

    fn generated(seed: u64) -> Origin {
        Origin::Generated {
            seed,
            temperature: 0.7,
        }
    }

    fn adapted() -> Origin {
        Origin::AdaptedPastReply {
            reply_id: "r1".into(),
            adaptations: vec![],
        }
    }

    fn unsupported() -> Violation {
        Violation {
            rule: Rule::UnsupportedClaim,
            severity: Severity::Warn,
            clause: "facts.md > 1".into(),
            message: "price or amount \"$12\" is in no source of this draft".into(),
            excerpt: "$12".into(),
        }
    }

    #[test]
    fn a_candidate_with_an_unsupported_claim_ranks_below_one_that_asks() {
        let mut cs = vec![
            // Invents a price: close to the sources, high total, one warning.
            candidate(generated(1), vec![unsupported()], 0.95, 0.95),
            // Asks for the order number: clean, lower total.
            candidate(generated(2), vec![], 0.5, 0.4),
            candidate(adapted(), vec![], 0.4, 0.3),
        ];
        rank(&mut cs);
        assert_eq!(seeds(&cs), [Some(2), None, Some(1)]);
        // Without the adapted reply, merit alone still puts the unsupported claim last.
        let mut cs = vec![
            candidate(generated(1), vec![unsupported()], 0.95, 0.95),
            candidate(generated(2), vec![violation(Severity::Warn)], 0.3, 0.3),
        ];
        rank(&mut cs);
        assert_eq!(seeds(&cs), [Some(2), Some(1)]);
    }

    fn seeds(cs: &[Candidate]) -> Vec<Option<u64>> {
        cs.iter()
            .map(|c| match c.origin {
                Origin::Generated { seed, .. } => Some(seed),
                Origin::AdaptedPastReply { .. } => None,
            })
            .collect()
    }

    #[test]
    fn score_parts_add_up_and_a_block_zeroes_the_checks() {
        let clean = Score::new::<Rule>(&[], 0.6, 0.4);
        assert_eq!(clean.checks, 1.0);
        assert!((clean.total - (0.5 + 0.15 + 0.1)).abs() < 1e-6);
        let warned = Score::new(&[violation(Severity::Warn)], 0.6, 0.4);
        assert!((warned.checks - 0.9).abs() < 1e-6);
        let blocked = Score::new(&[violation(Severity::Block)], 0.9, 0.9);
        assert_eq!(blocked.checks, 0.0);
        assert!(blocked.total < clean.total);
        assert_eq!(Score::new::<Rule>(&[], -0.2, 1.5).relevance, 0.0);
    }

    #[test]
    fn a_generated_candidate_must_beat_the_adapted_reply_to_rank_above_it() {
        let mut cs = vec![
            // Better total than the adapted reply but a warning: checks do not beat it.
            candidate(generated(1), vec![violation(Severity::Warn)], 0.95, 0.95),
            // Clean and better on the total: beats it.
            candidate(generated(2), vec![], 0.8, 0.7),
            candidate(adapted(), vec![], 0.6, 0.5),
            // Clean but worse total.
            candidate(generated(3), vec![], 0.5, 0.4),
            // Blocked: last.
            candidate(generated(4), vec![violation(Severity::Block)], 0.99, 0.99),
        ];
        rank(&mut cs);
        assert_eq!(seeds(&cs), [Some(2), None, Some(1), Some(3), Some(4)]);
        assert_eq!(
            cs.iter().map(|c| c.rank).collect::<Vec<_>>(),
            [1, 2, 3, 4, 5]
        );
    }

    #[test]
    fn the_same_text_is_shown_once_where_it_ranks_best() {
        let same = |origin, rel| {
            let mut c = candidate(origin, vec![], rel, 0.5);
            c.text = "Not yet, sorry. We ship within the US for now.".into();
            c
        };
        let mut cs = vec![
            same(generated(1), 0.7),
            candidate(generated(2), vec![], 0.4, 0.4),
            same(adapted(), 0.6),
            same(generated(3), 0.9),
        ];
        cs[0].text = "not yet,  sorry. We ship within the US for now".into();
        rank(&mut cs);
        assert_eq!(seeds(&cs), [Some(3), Some(2)]);
        assert_eq!(cs.iter().map(|c| c.rank).collect::<Vec<_>>(), [1, 2]);
    }

    #[test]
    fn without_an_adapted_reply_candidates_rank_by_merit() {
        let mut cs = vec![
            candidate(generated(1), vec![violation(Severity::Block)], 0.9, 0.9),
            candidate(generated(2), vec![], 0.3, 0.3),
            candidate(generated(3), vec![], 0.6, 0.3),
        ];
        rank(&mut cs);
        assert_eq!(seeds(&cs), [Some(3), Some(2), Some(1)]);
    }

    #[test]
    fn citations_are_the_most_similar_evidence() {
        let v = [1.0, 0.0];
        let evidence = [
            ("a", &[0.0f32, 1.0][..]),
            ("b", &[1.0, 0.1][..]),
            ("c", &[1.0, 1.0][..]),
        ];
        let cited = cite(&v, evidence);
        assert_eq!(
            cited.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            ["b", "c"]
        );
        assert!(cited[0].similarity > 0.99);
        assert_eq!(cosine(&[1.0], &[1.0, 0.0]), 0.0);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]), 0.0);
    }
}
