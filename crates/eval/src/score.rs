//! Scorers: each turns one expectation of a case and what the pipeline did into a pass/fail
//! and a value. Pure functions; the runner gathers their inputs.

use serde::{Deserialize, Serialize};
use tact_drafting::{Rule, Violation};

use crate::suite::{Case, CompiledPatterns, ExpectedTriage};

/// The checks a case can be scored on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckName {
    /// The brand's deterministic guideline checks on the draft.
    Guidelines,
    /// Must / must-not contain strings and regular expressions.
    Contains,
    Length,
    /// Cosine similarity of the draft to the reference reply.
    Similarity,
    /// Triage labels agree with the expected ones.
    Triage,
    /// Escalated exactly when the case says it must be.
    Escalation,
    /// Expected citations among the top k retrieved (recall@k; MRR as well).
    Retrieval,
    /// Time to first token and total time under the suite's bounds.
    Latency,
    /// The rubric judge answered "yes" for the retrieved clauses.
    Judge,
    /// The draft states nothing its sources do not (no `unsupported_claim`).
    Grounded,
    /// The draft is in the language of the message.
    Language,
}

impl CheckName {
    pub const ALL: [CheckName; 11] = [
        CheckName::Guidelines,
        CheckName::Contains,
        CheckName::Length,
        CheckName::Similarity,
        CheckName::Triage,
        CheckName::Escalation,
        CheckName::Retrieval,
        CheckName::Latency,
        CheckName::Judge,
        CheckName::Grounded,
        CheckName::Language,
    ];

    pub fn key(self) -> &'static str {
        match self {
            CheckName::Guidelines => "guidelines",
            CheckName::Contains => "contains",
            CheckName::Length => "length",
            CheckName::Similarity => "similarity",
            CheckName::Triage => "triage",
            CheckName::Escalation => "escalation",
            CheckName::Retrieval => "retrieval",
            CheckName::Latency => "latency",
            CheckName::Judge => "judge",
            CheckName::Grounded => "grounded",
            CheckName::Language => "language",
        }
    }
}

impl std::fmt::Display for CheckName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key())
    }
}

/// One scorer's verdict on one case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    pub check: CheckName,
    pub passed: bool,
    /// What was measured: violations counted, similarity, recall@k, milliseconds, ...
    pub value: f64,
    /// Why it failed, or what was measured, for a person.
    pub detail: String,
}

impl CheckResult {
    fn new(check: CheckName, passed: bool, value: f64, detail: String) -> Self {
        Self {
            check,
            passed,
            value,
            detail,
        }
    }
}

/// Guideline checks: every violation fails unless its rule may or must fire; every rule that
/// must fire has to. The value is the number of violations that fail the case. Unsupported
/// claims are scored by [`grounded`], not here, unless the case names the rule.
pub fn guidelines(case: &Case, violations: &[Violation]) -> CheckResult {
    let expect = &case.expect;
    let failing: Vec<&Violation> = violations
        .iter()
        .filter(|v| !expect.may_fire.contains(&v.rule) && !expect.must_fire.contains(&v.rule))
        .filter(|v| v.rule != Rule::UnsupportedClaim)
        .collect();
    let missing: Vec<Rule> = expect
        .must_fire
        .iter()
        .copied()
        .filter(|rule| !violations.iter().any(|v| v.rule == *rule))
        .collect();
    let mut detail = Vec::new();
    for v in &failing {
        detail.push(format!("{} ({}): {}", v.rule, v.clause, v.message));
    }
    for rule in &missing {
        detail.push(format!("{rule} was expected to fire and did not"));
    }
    CheckResult::new(
        CheckName::Guidelines,
        failing.is_empty() && missing.is_empty(),
        failing.len() as f64,
        if detail.is_empty() {
            format!("{} violation(s), none failing", violations.len())
        } else {
            detail.join("; ")
        },
    )
}

/// Grounding: the draft passes when no claim in it is unsupported by the sources it was drafted
/// with. The value is the number of unsupported claims; the detail lists each with its reason.
pub fn grounded(violations: &[Violation]) -> CheckResult {
    let unsupported: Vec<String> = violations
        .iter()
        .filter(|v| v.rule == Rule::UnsupportedClaim)
        .map(|v| format!("\"{}\": {}", v.excerpt, v.message))
        .collect();
    CheckResult::new(
        CheckName::Grounded,
        unsupported.is_empty(),
        unsupported.len() as f64,
        if unsupported.is_empty() {
            "every claim is stated by a source".to_owned()
        } else {
            format!("unsupported: {}", unsupported.join("; "))
        },
    )
}

/// Language: the draft is in the message's language. `None` when either text is too short to
/// tell (see `tact_drafting::language`).
pub fn language(message: &str, draft: &str) -> Option<CheckResult> {
    let theirs = tact_drafting::language::detect(message)?;
    let ours = tact_drafting::language::detect(draft)?;
    Some(CheckResult::new(
        CheckName::Language,
        theirs.code == ours.code,
        if theirs.code == ours.code { 1.0 } else { 0.0 },
        format!("message in {}, draft in {}", theirs.name, ours.name),
    ))
}

/// Must / must-not contain and match. The value is the share of conditions met.
pub fn contains(case: &Case, patterns: &CompiledPatterns, draft: &str) -> Option<CheckResult> {
    let expect = &case.expect;
    let lower = draft.to_lowercase();
    let mut failures = Vec::new();
    let mut total = 0usize;
    for s in &expect.must_contain {
        total += 1;
        if !lower.contains(&s.to_lowercase()) {
            failures.push(format!("missing {s:?}"));
        }
    }
    for s in &expect.must_not_contain {
        total += 1;
        if lower.contains(&s.to_lowercase()) {
            failures.push(format!("contains {s:?}"));
        }
    }
    for re in &patterns.must_match {
        total += 1;
        if !re.is_match(draft) {
            failures.push(format!("does not match /{re}/"));
        }
    }
    for re in &patterns.must_not_match {
        total += 1;
        if let Some(m) = re.find(draft) {
            failures.push(format!("matches /{re}/ at {:?}", m.as_str()));
        }
    }
    (total > 0).then(|| {
        CheckResult::new(
            CheckName::Contains,
            failures.is_empty(),
            (total - failures.len()) as f64 / total as f64,
            if failures.is_empty() {
                format!("{total} condition(s) met")
            } else {
                failures.join("; ")
            },
        )
    })
}

/// Length bounds in characters. The value is the draft's length.
pub fn length(case: &Case, draft: &str) -> Option<CheckResult> {
    let (min, max) = (case.expect.min_chars, case.expect.max_chars);
    if min.is_none() && max.is_none() {
        return None;
    }
    let chars = draft.chars().count();
    let short = min.is_some_and(|m| chars < m);
    let long = max.is_some_and(|m| chars > m);
    let detail = match (short, long) {
        (true, _) => format!("{chars} characters, fewer than {}", min.unwrap_or(0)),
        (_, true) => format!("{chars} characters, more than {}", max.unwrap_or(0)),
        _ => format!("{chars} characters"),
    };
    Some(CheckResult::new(
        CheckName::Length,
        !short && !long,
        chars as f64,
        detail,
    ))
}

/// Similarity of the draft to the reference (cosine of their sentence embeddings).
pub fn similarity(similarity: f32, minimum: f32) -> CheckResult {
    CheckResult::new(
        CheckName::Similarity,
        similarity >= minimum,
        f64::from(similarity),
        format!("similarity {similarity:.3} (minimum {minimum:.2})"),
    )
}

/// Triage agreement: the value is the share of expected labels the classifier gave.
pub fn triage(expected: &ExpectedTriage, actual: &TriageLabelsOut) -> Option<CheckResult> {
    let expected = expected.expected();
    if expected.is_empty() {
        return None;
    }
    let mut wrong = Vec::new();
    for (name, want) in &expected {
        let got = actual.get(name);
        if got != *want {
            wrong.push(format!("{name}: expected {want}, got {got}"));
        }
    }
    Some(CheckResult::new(
        CheckName::Triage,
        wrong.is_empty(),
        (expected.len() - wrong.len()) as f64 / expected.len() as f64,
        if wrong.is_empty() {
            format!("{} label(s) agree", expected.len())
        } else {
            wrong.join("; ")
        },
    ))
}

/// Escalated exactly when expected. The value is 1 when the message was escalated.
pub fn escalation(expected: bool, escalated: bool, topics: &[String]) -> CheckResult {
    let detail = match (expected, escalated) {
        (true, true) => format!("escalated ({})", topics.join(", ")),
        (true, false) => "drafted, but the case must go to a person".to_owned(),
        (false, true) => format!(
            "escalated ({}), but the case expects a draft",
            topics.join(", ")
        ),
        (false, false) => "drafted".to_owned(),
    };
    CheckResult::new(
        CheckName::Escalation,
        expected == escalated,
        if escalated { 1.0 } else { 0.0 },
        detail,
    )
}

/// Recall@k and mean reciprocal rank of the expected citations in ranked retrieval results.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RetrievalScore {
    pub recall_at_k: f64,
    pub mrr: f64,
}

/// `ranked(id)` is the 1-based rank of an expected id among the top k of its kind, if found.
pub fn retrieval_score(
    expected: &[String],
    ranked: impl Fn(&str) -> Option<usize>,
) -> RetrievalScore {
    let ranks: Vec<Option<usize>> = expected.iter().map(|id| ranked(id)).collect();
    let n = ranks.len().max(1) as f64;
    RetrievalScore {
        recall_at_k: ranks.iter().filter(|r| r.is_some()).count() as f64 / n,
        // A fold from +0.0: an empty float `sum` is -0.0, which reads oddly in a report.
        mrr: ranks
            .iter()
            .flatten()
            .fold(0.0, |acc, r| acc + 1.0 / *r as f64)
            / n,
    }
}

pub fn retrieval(
    score: RetrievalScore,
    k: usize,
    min_recall: f64,
    missing: &[String],
) -> CheckResult {
    CheckResult::new(
        CheckName::Retrieval,
        score.recall_at_k >= min_recall,
        score.recall_at_k,
        if missing.is_empty() {
            format!("recall@{k} {:.2}, MRR {:.2}", score.recall_at_k, score.mrr)
        } else {
            format!(
                "recall@{k} {:.2}, MRR {:.2}; not retrieved: {}",
                score.recall_at_k,
                score.mrr,
                missing.join(", ")
            )
        },
    )
}

/// Latency bounds. The value is the total in milliseconds.
pub fn latency(
    total_ms: f64,
    ttft_ms: Option<f64>,
    max_total_ms: Option<f64>,
    max_ttft_ms: Option<f64>,
) -> Option<CheckResult> {
    if max_total_ms.is_none() && max_ttft_ms.is_none() {
        return None;
    }
    let mut failures = Vec::new();
    if let Some(max) = max_total_ms
        && total_ms > max
    {
        failures.push(format!("total {total_ms:.0} ms over {max:.0} ms"));
    }
    if let (Some(max), Some(ttft)) = (max_ttft_ms, ttft_ms)
        && ttft > max
    {
        failures.push(format!("first token {ttft:.0} ms over {max:.0} ms"));
    }
    Some(CheckResult::new(
        CheckName::Latency,
        failures.is_empty(),
        total_ms,
        if failures.is_empty() {
            format!("total {total_ms:.0} ms")
        } else {
            failures.join("; ")
        },
    ))
}

/// The triage labels as the report shows them (snake_case names, ISO language code).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TriageLabelsOut {
    pub sentiment: String,
    pub intent: String,
    pub urgency: String,
    pub language: String,
}

impl TriageLabelsOut {
    fn get(&self, name: &str) -> &str {
        match name {
            "sentiment" => &self.sentiment,
            "intent" => &self.intent,
            "urgency" => &self.urgency,
            _ => &self.language,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::suite::parse_cases;
    use tact_drafting::Severity;

    fn case(json: &str) -> Case {
        parse_cases(std::path::Path::new("c.jsonl"), json)
            .unwrap()
            .remove(0)
    }

    fn violation(rule: Rule) -> Violation {
        Violation {
            rule,
            severity: Severity::Warn,
            clause: "voice.md > Calm > 1".into(),
            message: "too loud".into(),
            excerpt: "!!".into(),
        }
    }

    #[test]
    fn unsupported_claims_fail_grounded_not_guidelines() {
        let plain = case(r#"{"id": "a", "text": "hi"}"#);
        let claim = Violation {
            excerpt: "$12".into(),
            message: "price or amount \"$12\" is in no source of this draft".into(),
            ..violation(Rule::UnsupportedClaim)
        };
        assert!(guidelines(&plain, std::slice::from_ref(&claim)).passed);
        let g = grounded(std::slice::from_ref(&claim));
        assert!(!g.passed);
        assert_eq!(g.value, 1.0);
        assert!(
            g.detail.contains("$12") && g.detail.contains("no source"),
            "{}",
            g.detail
        );
        assert!(grounded(&[violation(Rule::ExclamationRun)]).passed);
    }

    #[test]
    fn language_compares_message_and_draft_when_both_can_be_told() {
        let spanish = "¿Hacen envíos a Canadá? Quiero pedir café para mi hermana.";
        let english =
            "Not yet, sorry. We ship within the US for now, and Canada is high on the list.";
        let miss = language(spanish, english).unwrap();
        assert!(!miss.passed, "{}", miss.detail);
        assert!(language(english, english).unwrap().passed);
        assert_eq!(language("ok thx", english), None);
    }

    #[test]
    fn guideline_violations_fail_unless_allowed_and_must_fire_rules_must_fire() {
        let plain = case(r#"{"id": "a", "text": "hi"}"#);
        assert!(guidelines(&plain, &[]).passed);
        let loud = guidelines(&plain, &[violation(Rule::ExclamationRun)]);
        assert!(!loud.passed);
        assert_eq!(loud.value, 1.0);

        let allowed =
            case(r#"{"id": "a", "text": "hi", "expect": {"may_fire": ["exclamation_run"]}}"#);
        assert!(guidelines(&allowed, &[violation(Rule::ExclamationRun)]).passed);

        let fire = case(r#"{"id": "a", "text": "hi", "expect": {"must_fire": ["blame"]}}"#);
        let result = guidelines(&fire, &[]);
        assert!(!result.passed);
        assert!(result.detail.contains("blame was expected to fire"));
        assert!(guidelines(&fire, &[violation(Rule::Blame)]).passed);
    }

    #[test]
    fn contains_is_case_insensitive_and_regexes_are_exact() {
        let c = case(
            r#"{"id": "a", "text": "hi", "expect": {"must_contain": ["Order"], "must_not_match": ["\\d{3}"]}}"#,
        );
        let ok = contains(&c, &c.patterns(), "Your order is on its way").unwrap();
        assert!(ok.passed);
        let bad = contains(&c, &c.patterns(), "Call 555 now").unwrap();
        assert!(!bad.passed);
        assert_eq!(bad.value, 0.0);
        let plain = case(r#"{"id": "b", "text": "x"}"#);
        assert!(contains(&plain, &plain.patterns(), "x").is_none());
    }

    #[test]
    fn recall_and_mrr_count_ranks() {
        let expected = vec!["a".to_owned(), "b".to_owned()];
        let score = retrieval_score(&expected, |id| (id == "a").then_some(2));
        assert_eq!(score.recall_at_k, 0.5);
        assert_eq!(score.mrr, 0.25);
    }

    #[test]
    fn escalation_must_match_the_expectation() {
        assert!(escalation(true, true, &["safety".into()]).passed);
        assert!(!escalation(false, true, &["safety".into()]).passed);
        assert!(!escalation(true, false, &[]).passed);
    }

    #[test]
    fn length_and_latency_are_judged_only_when_bounded() {
        let c = case(r#"{"id": "a", "text": "hi", "expect": {"max_chars": 3}}"#);
        assert!(!length(&c, "four").unwrap().passed);
        assert!(latency(900.0, None, None, None).is_none());
        assert!(
            !latency(900.0, Some(10.0), Some(500.0), None)
                .unwrap()
                .passed
        );
    }
}
