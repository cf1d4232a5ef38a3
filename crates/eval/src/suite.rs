//! The suite file (TOML) and its cases (JSONL).
//!
//! A suite names the brand, the chat model and the sampling (greedy with a fixed seed unless it
//! says otherwise, so reruns give the same drafts), scoring defaults, an optional rubric judge
//! and the gate. Its cases live in a JSONL file next to it: one inbound message per line with
//! what the draft is expected to do.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use regex::Regex;
use serde::{Deserialize, Serialize};
use tact_drafting::Rule;

use crate::error::{Error, Result};
use crate::score::CheckName;

/// A loaded suite: the file's settings and its cases, paths resolved against the suite file.
#[derive(Debug, Clone)]
pub struct Suite {
    pub path: PathBuf,
    pub file: SuiteFile,
    /// The brand folder (`brand.toml`, guidelines, past replies).
    pub brand_dir: PathBuf,
    pub cases_path: PathBuf,
    pub cases: Vec<Case>,
}

/// `suite.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuiteFile {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The brand folder, relative to the suite file.
    pub brand: PathBuf,
    /// The cases file, relative to the suite file.
    pub cases: PathBuf,
    #[serde(default)]
    pub model: ModelChoice,
    #[serde(default)]
    pub sampling: Sampling,
    #[serde(default)]
    pub scoring: Scoring,
    #[serde(default)]
    pub judge: JudgeChoice,
    #[serde(default)]
    pub gate: Gate,
}

/// Which chat model drafts: a manifest id, or a GGUF file (relative to the suite file).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelChoice {
    /// Manifest id; unset: the configured chat model.
    pub chat: Option<String>,
    pub path: Option<PathBuf>,
}

/// How drafts are sampled. The default is greedy decoding with a fixed seed and one
/// candidate: the same suite gives the same drafts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Sampling {
    /// 0 decodes greedily.
    pub temperature: f64,
    pub seed: u64,
    pub candidates: usize,
    pub top_k: usize,
    pub top_p: f64,
    pub repeat_penalty: f32,
    pub max_new_tokens: usize,
    /// Guideline clauses and past replies retrieved into the prompt.
    pub clauses: usize,
    pub examples: usize,
    /// Where the past replies go in the prompt: `turns` (as earlier exchanges, the default)
    /// or `system` (listed in the system turn).
    pub examples_as: tact_drafting::ExamplePlacement,
}

impl Default for Sampling {
    /// The drafter's defaults ([`tact_drafting::DraftOptions`]), decoded greedily as one
    /// candidate.
    fn default() -> Self {
        let d = tact_drafting::DraftOptions::default();
        Self {
            temperature: 0.0,
            seed: d.seed,
            candidates: 1,
            top_k: d.top_k,
            top_p: d.top_p,
            repeat_penalty: d.repeat_penalty,
            max_new_tokens: d.max_new_tokens,
            clauses: d.clauses,
            examples: d.examples,
            examples_as: d.examples_as,
        }
    }
}

/// Which candidate of a draft set is scored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DraftChoice {
    /// The top-ranked candidate: what a reviewer sees first (often the adapted past reply).
    #[default]
    Top,
    /// The best-ranked candidate the model wrote: measures the model and the prompt alone.
    Generated,
}

/// Scoring defaults for cases that do not set their own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Scoring {
    pub draft: DraftChoice,
    /// Minimum cosine similarity to a case's reference reply.
    pub min_similarity: f32,
    /// Expected citations must be among the top `retrieval_k` entries of their kind.
    pub retrieval_k: usize,
    /// Minimum recall@k of the expected citations.
    pub min_recall: f64,
    /// Latency bounds (milliseconds); unset: latency is measured, not judged.
    pub max_total_ms: Option<f64>,
    pub max_ttft_ms: Option<f64>,
}

impl Default for Scoring {
    fn default() -> Self {
        Self {
            draft: DraftChoice::Top,
            min_similarity: 0.5,
            retrieval_k: 5,
            min_recall: 1.0,
            max_total_ms: None,
            max_ttft_ms: None,
        }
    }
}

/// The rubric judge: a local model asked one yes/no question per guideline clause. Off unless
/// a model is named; the bundled 135M model is too small to judge.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JudgeChoice {
    /// A GGUF file, relative to the suite file.
    pub model: Option<PathBuf>,
    /// Minimum share of clauses the judge must answer "yes" for.
    pub min_yes_rate: Option<f64>,
}

/// When `tact eval run` fails: thresholds checked after every case is scored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Gate {
    /// Minimum share of cases that pass every check.
    pub min_pass_rate: Option<f64>,
    /// Minimum pass rate per check (`guidelines`, `triage`, ...).
    pub min_check_pass_rate: BTreeMap<CheckName, f64>,
    /// Most cases that passed in the baseline and fail now.
    pub max_regressed_cases: Option<usize>,
    /// Largest drop of the overall pass rate versus the baseline (0.05 = five points).
    pub max_pass_rate_drop: Option<f64>,
}

/// One case: an inbound message and what its draft is expected to do.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub id: String,
    pub text: String,
    /// Default: the brand's default channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(default = "default_author")]
    pub author: String,
    /// Earlier messages of the conversation, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thread: Vec<ThreadMessage>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default)]
    pub expect: Expectations,
    /// Where an imported case came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<CaseOrigin>,
}

fn default_author() -> String {
    "customer".into()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThreadMessage {
    pub author: String,
    pub text: String,
}

/// An imported case's source: the approved reply a person edited.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseOrigin {
    pub message_id: String,
    /// The draft as the model wrote it, before the human's edit.
    pub draft: String,
    pub approved_at: String,
}

/// What a case's draft must do. Every field is optional; an absent one is not scored, except
/// the guideline checks (all must pass unless listed in `may_fire` or `must_fire`) and
/// escalation (a case is expected to be drafted unless `escalate` is true).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Expectations {
    /// Rules whose violations do not fail the case.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub may_fire: Vec<Rule>,
    /// Rules that must report a violation.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub must_fire: Vec<Rule>,
    /// Case-insensitive substrings.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub must_contain: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub must_not_contain: Vec<String>,
    /// Regular expressions.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub must_match: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub must_not_match: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_chars: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_chars: Option<usize>,
    /// A reply a person would approve; the draft must be at least `min_similarity` close.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_similarity: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub triage: Option<ExpectedTriage>,
    pub escalate: bool,
    /// Guideline clause ids or past reply ids that retrieval should find.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub citations: Vec<String>,
}

/// Expected triage labels, as the classifier names them (`negative`, `billing`, `high`, `es`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExpectedTriage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sentiment: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub urgency: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

impl ExpectedTriage {
    /// `(label name, expected value)` for each label the case names.
    pub fn expected(&self) -> Vec<(&'static str, &str)> {
        [
            ("sentiment", &self.sentiment),
            ("intent", &self.intent),
            ("urgency", &self.urgency),
            ("language", &self.language),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.as_deref().map(|v| (name, v)))
        .collect()
    }
}

/// A case's regular expressions, compiled once at load.
#[derive(Debug, Clone, Default)]
pub struct CompiledPatterns {
    pub must_match: Vec<Regex>,
    pub must_not_match: Vec<Regex>,
}

impl Case {
    pub fn patterns(&self) -> CompiledPatterns {
        // Validated in `parse_cases`, so compiling again cannot fail.
        let compile = |list: &[String]| list.iter().filter_map(|p| Regex::new(p).ok()).collect();
        CompiledPatterns {
            must_match: compile(&self.expect.must_match),
            must_not_match: compile(&self.expect.must_not_match),
        }
    }

    /// Whether `--filter` selects this case: a substring of its id or one of its tags.
    pub fn matches(&self, filter: &str) -> bool {
        self.id.contains(filter) || self.tags.iter().any(|t| t == filter)
    }
}

impl Suite {
    /// Reads the suite file and its cases, validating both.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        let file: SuiteFile = toml::from_str(&text).map_err(|e| Error::Suite {
            path: path.to_owned(),
            message: e.message().to_owned() + &span_note(&text, e.span()),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        file.validate().map_err(|message| Error::Suite {
            path: path.to_owned(),
            message,
        })?;
        let brand_dir = base.join(&file.brand);
        if !brand_dir.join("brand.toml").is_file() {
            return Err(Error::Suite {
                path: path.to_owned(),
                message: format!("brand folder {} has no brand.toml", brand_dir.display()),
            });
        }
        let cases_path = base.join(&file.cases);
        let jsonl = std::fs::read_to_string(&cases_path).map_err(|source| Error::Read {
            path: cases_path.clone(),
            source,
        })?;
        let cases = parse_cases(&cases_path, &jsonl)?;
        if cases.is_empty() {
            return Err(Error::Suite {
                path: path.to_owned(),
                message: format!("{} has no cases", cases_path.display()),
            });
        }
        Ok(Self {
            path: path.to_owned(),
            file,
            brand_dir,
            cases_path,
            cases,
        })
    }

    /// A path the suite file names, resolved against the suite's folder.
    pub fn resolve(&self, relative: &Path) -> PathBuf {
        self.path.parent().unwrap_or(Path::new(".")).join(relative)
    }

    /// The cases `--filter` and `--limit` select, in file order.
    pub fn select(&self, filter: Option<&str>, limit: Option<usize>) -> Vec<Case> {
        self.cases
            .iter()
            .filter(|c| filter.is_none_or(|f| c.matches(f)))
            .take(limit.unwrap_or(usize::MAX))
            .cloned()
            .collect()
    }
}

impl SuiteFile {
    fn validate(&self) -> std::result::Result<(), String> {
        let s = &self.sampling;
        if !(0.0..=2.0).contains(&s.temperature) {
            return Err(format!(
                "sampling.temperature must be between 0 and 2, got {}",
                s.temperature
            ));
        }
        if s.candidates == 0 || s.candidates > 8 {
            return Err(format!(
                "sampling.candidates must be between 1 and 8, got {}",
                s.candidates
            ));
        }
        if s.max_new_tokens == 0 {
            return Err("sampling.max_new_tokens must be at least 1".into());
        }
        if self.scoring.retrieval_k == 0 {
            return Err("scoring.retrieval_k must be at least 1".into());
        }
        if self.model.chat.is_some() && self.model.path.is_some() {
            return Err("model: name either `chat` (a manifest id) or `path`, not both".into());
        }
        let rate = |name: String, value: f64| {
            if (0.0..=1.0).contains(&value) {
                Ok(())
            } else {
                Err(format!("{name} must be between 0 and 1, got {value}"))
            }
        };
        rate("scoring.min_recall".into(), self.scoring.min_recall)?;
        rate(
            "scoring.min_similarity".into(),
            f64::from(self.scoring.min_similarity),
        )?;
        if let Some(v) = self.judge.min_yes_rate {
            rate("judge.min_yes_rate".into(), v)?;
        }
        if let Some(v) = self.gate.min_pass_rate {
            rate("gate.min_pass_rate".into(), v)?;
        }
        if let Some(v) = self.gate.max_pass_rate_drop {
            rate("gate.max_pass_rate_drop".into(), v)?;
        }
        for (check, v) in &self.gate.min_check_pass_rate {
            rate(format!("gate.min_check_pass_rate.{check}"), *v)?;
        }
        Ok(())
    }
}

/// Parses a cases file, naming the line of the first bad case. Blank lines are skipped.
pub fn parse_cases(path: &Path, jsonl: &str) -> Result<Vec<Case>> {
    let mut cases: Vec<Case> = Vec::new();
    for (index, line) in jsonl.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let bad = |message: String| Error::Case {
            path: path.to_owned(),
            line: index + 1,
            message,
        };
        let case: Case = serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
        if case.id.trim().is_empty() {
            return Err(bad("`id` is empty".into()));
        }
        if case.text.trim().is_empty() {
            return Err(bad(format!("case {}: `text` is empty", case.id)));
        }
        if cases.iter().any(|c| c.id == case.id) {
            return Err(bad(format!("case id {:?} is used twice", case.id)));
        }
        for pattern in case
            .expect
            .must_match
            .iter()
            .chain(&case.expect.must_not_match)
        {
            Regex::new(pattern)
                .map_err(|e| bad(format!("case {}: bad regular expression: {e}", case.id)))?;
        }
        if let (Some(min), Some(max)) = (case.expect.min_chars, case.expect.max_chars)
            && min > max
        {
            return Err(bad(format!(
                "case {}: min_chars {min} is above max_chars {max}",
                case.id
            )));
        }
        if let Some(s) = case.expect.min_similarity
            && !(-1.0..=1.0).contains(&s)
        {
            return Err(bad(format!(
                "case {}: min_similarity must be between -1 and 1, got {s}",
                case.id
            )));
        }
        if case.expect.escalate && case.expect.reference.is_some() {
            return Err(bad(format!(
                "case {}: a case that must be escalated has no draft to compare with a reference",
                case.id
            )));
        }
        cases.push(case);
    }
    Ok(cases)
}

fn span_note(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    span.map(|s| {
        let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
        format!(" (line {line})")
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Vec<Case>> {
        parse_cases(Path::new("cases.jsonl"), line)
    }

    #[test]
    fn the_demo_pack_loads_with_its_grounding_cases() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../evals/demo/suite.toml");
        let suite = Suite::load(&path).unwrap();
        let grounding: Vec<&Case> = suite
            .cases
            .iter()
            .filter(|c| c.tags.iter().any(|t| t == "grounding"))
            .collect();
        assert!(grounding.len() >= 25, "{} grounding cases", grounding.len());
        for case in grounding {
            let patterns = case.patterns();
            assert!(!patterns.must_not_match.is_empty(), "{}", case.id);
            // The reply a person would send passes the case's own fact check.
            let reference = case.expect.reference.as_deref().expect("a reference");
            for re in &patterns.must_not_match {
                assert!(
                    !re.is_match(reference),
                    "{}: {re} matches the reference",
                    case.id
                );
            }
        }
    }

    #[test]
    fn a_minimal_case_expects_a_draft_that_passes_every_check() {
        let cases = parse(r#"{"id": "q1", "text": "Do you ship to Canada?"}"#).unwrap();
        assert_eq!(cases[0].author, "customer");
        assert!(!cases[0].expect.escalate);
        assert!(cases[0].expect.may_fire.is_empty());
    }

    #[test]
    fn bad_cases_are_refused_with_their_line() {
        let two = "{\"id\": \"a\", \"text\": \"hi\"}\n{\"id\": \"a\", \"text\": \"again\"}";
        let err = parse(two).unwrap_err().to_string();
        assert!(
            err.starts_with("cases.jsonl:2:") && err.contains("used twice"),
            "{err}"
        );

        let err = parse(r#"{"id": "r", "text": "x", "expect": {"must_match": ["("]}}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("bad regular expression"), "{err}");

        let err = parse(r#"{"id": "u", "text": "x", "expect": {"must_fire": ["no_such_rule"]}}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no_such_rule"), "{err}");

        let err = parse(r#"{"id": "t", "text": "x", "surprise": 1}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("surprise"), "{err}");
    }

    #[test]
    fn the_default_sampling_is_greedy_with_a_fixed_seed() {
        let file: SuiteFile =
            toml::from_str("name = \"s\"\nbrand = \"b\"\ncases = \"c.jsonl\"\n").unwrap();
        assert_eq!(file.sampling.temperature, 0.0);
        assert_eq!(file.sampling.seed, 42);
        assert!(file.validate().is_ok());
    }

    #[test]
    fn gate_rates_outside_zero_to_one_are_refused() {
        let file: SuiteFile = toml::from_str(
            "name = \"s\"\nbrand = \"b\"\ncases = \"c\"\n[gate]\nmin_pass_rate = 1.5\n",
        )
        .unwrap();
        assert!(file.validate().unwrap_err().contains("gate.min_pass_rate"));
        let unknown = toml::from_str::<SuiteFile>(
            "name = \"s\"\nbrand = \"b\"\ncases = \"c\"\n[gate.min_check_pass_rate]\ntone = 0.5\n",
        );
        assert!(unknown.is_err());
    }
}
