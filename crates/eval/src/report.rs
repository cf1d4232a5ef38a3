//! The report: every case and every score, the pass rates per check and per guideline clause,
//! distributions of similarity and latency, the comparison with a baseline and the gate's
//! verdict. Written as `report.json` (read back as a baseline), `junit.xml` and `report.html`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::runner::CaseResult;
use crate::score::CheckName;
use crate::suite::{Sampling, Scoring, Suite};

/// The version of the report format; a baseline of another version is refused.
pub const FORMAT: u32 = 1;
/// Bins of the similarity histogram over [0, 1].
const SIMILARITY_BINS: usize = 10;
const LATENCY_BINS: usize = 10;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub format: u32,
    pub suite: SuiteInfo,
    pub summary: Summary,
    pub cases: Vec<CaseResult>,
    pub baseline: Option<Comparison>,
    pub gate: GateOutcome,
    /// Wall-clock time of the run, model loading excluded.
    pub duration_ms: f64,
}

/// What was run, so two reports can be told apart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuiteInfo {
    pub name: String,
    pub description: String,
    pub brand: String,
    /// The chat model's file name.
    pub model: String,
    pub sampling: Sampling,
    pub scoring: Scoring,
    /// Which judge ran: `off (...)` or the judge model's file name.
    pub judge: String,
    pub repeat: usize,
    pub filter: Option<String>,
    pub limit: Option<usize>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Case runs (cases × repeats).
    pub runs: usize,
    pub passed: usize,
    pub pass_rate: f64,
    /// Per check: runs it applied to and runs that passed.
    pub checks: BTreeMap<CheckName, Rate>,
    /// Per guideline clause enforced by a check: drafted runs and runs without a violation.
    pub clauses: BTreeMap<String, Rate>,
    /// Per clause the judge was asked about: questions and "yes" answers.
    pub judge_clauses: BTreeMap<String, Rate>,
    pub similarity: Distribution,
    pub total_ms: Distribution,
    pub ttft_ms: Distribution,
    pub recall_at_k: Option<f64>,
    pub mrr: Option<f64>,
    /// With `--repeat`: cases whose outcome differed between repeats.
    pub variance: Option<Variance>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Rate {
    pub total: usize,
    pub passed: usize,
    pub rate: f64,
}

impl Rate {
    fn add(&mut self, passed: bool) {
        self.total += 1;
        self.passed += usize::from(passed);
        self.rate = self.passed as f64 / self.total as f64;
    }
}

/// Summary statistics and a histogram (`bins[i]` counts values in `[edges[i], edges[i+1])`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Distribution {
    pub count: usize,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub min: f64,
    pub max: f64,
    pub edges: Vec<f64>,
    pub bins: Vec<usize>,
}

impl Distribution {
    fn of(values: &[f64], lo: f64, hi: f64, bins: usize) -> Self {
        if values.is_empty() {
            return Self::default();
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let pct = |p: f64| sorted[((sorted.len() - 1) as f64 * p).round() as usize];
        let hi = if hi > lo { hi } else { lo + 1.0 };
        let width = (hi - lo) / bins as f64;
        let mut counts = vec![0; bins];
        for v in values {
            let i = ((v - lo) / width).floor().clamp(0.0, (bins - 1) as f64) as usize;
            counts[i] += 1;
        }
        Self {
            count: values.len(),
            mean: values.iter().sum::<f64>() / values.len() as f64,
            p50: pct(0.5),
            p90: pct(0.9),
            min: sorted[0],
            max: sorted[sorted.len() - 1],
            edges: (0..=bins).map(|i| lo + width * i as f64).collect(),
            bins: counts,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Variance {
    pub repeats: usize,
    /// Cases that passed in some repeats and failed in others.
    pub flaky: Vec<String>,
    /// Mean over cases of the standard deviation of their similarity across repeats.
    pub similarity_stddev: f64,
}

/// Case by case against a baseline report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub path: String,
    pub baseline_pass_rate: f64,
    pub pass_rate_change: f64,
    pub improved: Vec<CaseChange>,
    pub regressed: Vec<CaseChange>,
    pub unchanged: usize,
    /// Cases in this run that the baseline does not have, and the other way round.
    pub new_cases: Vec<String>,
    pub missing_cases: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseChange {
    pub id: String,
    pub was_passing: bool,
    pub passing: bool,
    /// Checks that now fail and passed before, and the other way round.
    pub checks_regressed: Vec<CheckName>,
    pub checks_improved: Vec<CheckName>,
    pub similarity_change: Option<f32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GateOutcome {
    pub passed: bool,
    /// Why it failed, one reason per threshold missed.
    pub reasons: Vec<String>,
}

impl Report {
    /// Builds the report of a run; `judge` says which judge ran.
    pub fn new(
        suite: &Suite,
        model: String,
        judge: String,
        run: RunInfo,
        cases: Vec<CaseResult>,
        clause_of_rule: &[String],
    ) -> Self {
        let summary = summarize(&cases, run.repeat, clause_of_rule);
        let f = &suite.file;
        Self {
            format: FORMAT,
            suite: SuiteInfo {
                name: f.name.clone(),
                description: f.description.clone(),
                brand: suite
                    .brand_dir
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                model,
                sampling: f.sampling.clone(),
                scoring: f.scoring.clone(),
                judge,
                repeat: run.repeat,
                filter: run.filter,
                limit: run.limit,
            },
            summary,
            cases,
            baseline: None,
            gate: GateOutcome {
                passed: true,
                reasons: Vec::new(),
            },
            duration_ms: run.duration_ms,
        }
    }

    /// Reads a `report.json` written by an earlier run.
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        let bad = |message: String| Error::Baseline {
            path: path.to_owned(),
            message,
        };
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
        match value.get("format").and_then(|f| f.as_u64()) {
            Some(v) if v == u64::from(FORMAT) => {}
            Some(v) => return Err(bad(format!("report format {v}; this tact reads {FORMAT}"))),
            None => return Err(bad("not a tact eval report (no `format`)".into())),
        }
        serde_json::from_value(value).map_err(|e| bad(e.to_string()))
    }

    /// Compares with `baseline` case by case (all repeats of a case must pass for it to pass).
    pub fn compare(&mut self, baseline: &Report, path: &Path) {
        let now = by_case(&self.cases);
        let before = by_case(&baseline.cases);
        let mut comparison = Comparison {
            path: path.display().to_string(),
            baseline_pass_rate: baseline.summary.pass_rate,
            pass_rate_change: self.summary.pass_rate - baseline.summary.pass_rate,
            ..Comparison::default()
        };
        for (id, current) in &now {
            let Some(old) = before.get(id) else {
                comparison.new_cases.push(id.clone());
                continue;
            };
            let checks_regressed: Vec<CheckName> = current
                .failing
                .iter()
                .filter(|c| old.passing_checks.contains(c))
                .copied()
                .collect();
            let checks_improved: Vec<CheckName> = old
                .failing
                .iter()
                .filter(|c| current.passing_checks.contains(c))
                .copied()
                .collect();
            let change = CaseChange {
                id: id.clone(),
                was_passing: old.passed,
                passing: current.passed,
                similarity_change: current.similarity.zip(old.similarity).map(|(a, b)| a - b),
                checks_regressed,
                checks_improved,
            };
            if old.passed && !current.passed
                || (current.passed == old.passed && !change.checks_regressed.is_empty())
            {
                comparison.regressed.push(change);
            } else if !old.passed && current.passed || !change.checks_improved.is_empty() {
                comparison.improved.push(change);
            } else {
                comparison.unchanged += 1;
            }
        }
        comparison.missing_cases = before
            .keys()
            .filter(|id| !now.contains_key(*id))
            .cloned()
            .collect();
        self.baseline = Some(comparison);
    }

    /// Checks the suite's gate thresholds; the outcome lists every threshold missed.
    pub fn apply_gate(&mut self, gate: &crate::suite::Gate) {
        let mut reasons = Vec::new();
        let s = &self.summary;
        if let Some(min) = gate.min_pass_rate
            && s.pass_rate < min
        {
            reasons.push(format!(
                "pass rate {:.1}% is below the minimum {:.1}%",
                s.pass_rate * 100.0,
                min * 100.0
            ));
        }
        for (check, min) in &gate.min_check_pass_rate {
            let rate = s.checks.get(check).map(|r| r.rate);
            match rate {
                Some(rate) if rate < *min => reasons.push(format!(
                    "{check} pass rate {:.1}% is below the minimum {:.1}%",
                    rate * 100.0,
                    min * 100.0
                )),
                Some(_) => {}
                None => reasons.push(format!(
                    "{check} has a minimum pass rate but no case was scored on it"
                )),
            }
        }
        if let Some(c) = &self.baseline {
            let regressed: Vec<&str> = c
                .regressed
                .iter()
                .filter(|r| r.was_passing && !r.passing)
                .map(|r| r.id.as_str())
                .collect();
            if let Some(max) = gate.max_regressed_cases
                && regressed.len() > max
            {
                reasons.push(format!(
                    "{} case(s) regressed versus the baseline (at most {max}): {}",
                    regressed.len(),
                    abbreviate(&regressed)
                ));
            }
            if let Some(max) = gate.max_pass_rate_drop
                && -c.pass_rate_change > max
            {
                reasons.push(format!(
                    "pass rate fell {:.1} points versus the baseline (at most {:.1})",
                    -c.pass_rate_change * 100.0,
                    max * 100.0
                ));
            }
        }
        self.gate = GateOutcome {
            passed: reasons.is_empty(),
            reasons,
        };
    }

    /// Writes `report.json`, `junit.xml` and `report.html` into `dir`; returns their paths.
    pub fn write(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        let write = |name: &str, text: String| -> Result<PathBuf> {
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(|source| Error::Write {
                path: path.clone(),
                source,
            })?;
            Ok(path)
        };
        std::fs::create_dir_all(dir).map_err(|source| Error::Write {
            path: dir.to_owned(),
            source,
        })?;
        let json = serde_json::to_string_pretty(self).map_err(|e| Error::Write {
            path: dir.join("report.json"),
            source: std::io::Error::other(e),
        })?;
        Ok(vec![
            write("report.json", json + "\n")?,
            write("junit.xml", crate::junit::render(self))?,
            write("report.html", crate::html::render(self))?,
        ])
    }
}

/// How the run was asked for.
#[derive(Debug, Clone, Default)]
pub struct RunInfo {
    pub repeat: usize,
    pub filter: Option<String>,
    pub limit: Option<usize>,
    pub duration_ms: f64,
}

fn abbreviate(ids: &[&str]) -> String {
    const SHOWN: usize = 5;
    if ids.len() <= SHOWN {
        ids.join(", ")
    } else {
        format!(
            "{}, and {} more",
            ids[..SHOWN].join(", "),
            ids.len() - SHOWN
        )
    }
}

/// A case's outcome over its repeats.
struct CaseOutcome {
    passed: bool,
    failing: Vec<CheckName>,
    passing_checks: Vec<CheckName>,
    similarity: Option<f32>,
}

fn by_case(cases: &[CaseResult]) -> BTreeMap<String, CaseOutcome> {
    let mut out: BTreeMap<String, CaseOutcome> = BTreeMap::new();
    for r in cases {
        let o = out.entry(r.id.clone()).or_insert(CaseOutcome {
            passed: true,
            failing: Vec::new(),
            passing_checks: Vec::new(),
            similarity: r.similarity,
        });
        o.passed &= r.passed;
        for c in &r.checks {
            if c.passed {
                if !o.failing.contains(&c.check) && !o.passing_checks.contains(&c.check) {
                    o.passing_checks.push(c.check);
                }
            } else {
                o.passing_checks.retain(|x| *x != c.check);
                if !o.failing.contains(&c.check) {
                    o.failing.push(c.check);
                }
            }
        }
    }
    out
}

fn summarize(cases: &[CaseResult], repeat: usize, clause_of_rule: &[String]) -> Summary {
    let mut s = Summary {
        runs: cases.len(),
        passed: cases.iter().filter(|c| c.passed).count(),
        ..Summary::default()
    };
    s.pass_rate = if cases.is_empty() {
        0.0
    } else {
        s.passed as f64 / cases.len() as f64
    };
    for case in cases {
        for c in &case.checks {
            s.checks.entry(c.check).or_default().add(c.passed);
        }
        if let Some(draft) = &case.draft {
            for clause in clause_of_rule {
                let violated = draft.violations.iter().any(|v| &v.clause == clause);
                s.clauses.entry(clause.clone()).or_default().add(!violated);
            }
        }
        for a in &case.judge {
            s.judge_clauses
                .entry(a.clause.clone())
                .or_default()
                .add(a.verdict == crate::judge::Verdict::Yes);
        }
    }
    let similarities: Vec<f64> = cases
        .iter()
        .filter_map(|c| c.similarity.map(f64::from))
        .collect();
    s.similarity = Distribution::of(&similarities, 0.0, 1.0, SIMILARITY_BINS);
    let totals: Vec<f64> = cases.iter().map(|c| c.latency.total_ms).collect();
    let max_total = totals.iter().copied().fold(0.0, f64::max);
    s.total_ms = Distribution::of(&totals, 0.0, max_total, LATENCY_BINS);
    let ttfts: Vec<f64> = cases.iter().filter_map(|c| c.latency.ttft_ms).collect();
    let max_ttft = ttfts.iter().copied().fold(0.0, f64::max);
    s.ttft_ms = Distribution::of(&ttfts, 0.0, max_ttft, LATENCY_BINS);
    let retrievals: Vec<_> = cases.iter().filter_map(|c| c.retrieval.as_ref()).collect();
    if !retrievals.is_empty() {
        let n = retrievals.len() as f64;
        s.recall_at_k = Some(retrievals.iter().map(|r| r.recall_at_k).sum::<f64>() / n);
        s.mrr = Some(retrievals.iter().map(|r| r.mrr).sum::<f64>() / n);
    }
    if repeat > 1 {
        s.variance = Some(variance(cases, repeat));
    }
    s
}

fn variance(cases: &[CaseResult], repeats: usize) -> Variance {
    let mut groups: BTreeMap<&str, Vec<&CaseResult>> = BTreeMap::new();
    for c in cases {
        groups.entry(&c.id).or_default().push(c);
    }
    let mut flaky = Vec::new();
    let mut stddevs = Vec::new();
    for (id, runs) in &groups {
        if runs.iter().any(|r| r.passed) && runs.iter().any(|r| !r.passed) {
            flaky.push((*id).to_owned());
        }
        let sims: Vec<f64> = runs
            .iter()
            .filter_map(|r| r.similarity.map(f64::from))
            .collect();
        if sims.len() > 1 {
            let mean = sims.iter().sum::<f64>() / sims.len() as f64;
            let var = sims.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / sims.len() as f64;
            stddevs.push(var.sqrt());
        }
    }
    Variance {
        repeats,
        flaky,
        similarity_stddev: if stddevs.is_empty() {
            0.0
        } else {
            stddevs.iter().sum::<f64>() / stddevs.len() as f64
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::Latency;
    use crate::score::{CheckResult, TriageLabelsOut};

    fn run(id: &str, repeat: usize, passed: bool, similarity: f32) -> CaseResult {
        CaseResult {
            id: id.into(),
            repeat,
            tags: Vec::new(),
            channel: "x".into(),
            message: "hi".into(),
            passed,
            escalated: false,
            escalation_topics: Vec::new(),
            draft: None,
            reference: Some("hello".into()),
            similarity: Some(similarity),
            triage: TriageLabelsOut::default(),
            retrieval: None,
            judge: Vec::new(),
            checks: vec![CheckResult {
                check: CheckName::Similarity,
                passed,
                value: f64::from(similarity),
                detail: String::new(),
            }],
            latency: Latency::default(),
        }
    }

    #[test]
    fn repeats_that_disagree_are_flaky_and_similarity_spread_is_measured() {
        let runs = [
            run("steady", 0, true, 0.8),
            run("steady", 1, true, 0.8),
            run("shaky", 0, true, 0.6),
            run("shaky", 1, false, 0.4),
        ];
        let summary = summarize(&runs, 2, &[]);
        let variance = summary.variance.unwrap();
        assert_eq!(variance.flaky, ["shaky"]);
        // Standard deviations 0 and 0.1, averaged over the two cases.
        assert!(
            (variance.similarity_stddev - 0.05).abs() < 1e-6,
            "{variance:?}"
        );
        assert_eq!(summary.checks[&CheckName::Similarity].passed, 3);
    }

    #[test]
    fn histograms_put_each_value_in_one_bin() {
        let d = Distribution::of(&[0.0, 0.05, 0.55, 1.0], 0.0, 1.0, 10);
        assert_eq!(d.bins.iter().sum::<usize>(), 4);
        assert_eq!(d.bins[0], 2);
        assert_eq!(d.bins[5], 1);
        assert_eq!(d.bins[9], 1);
        assert_eq!(d.max, 1.0);
    }
}
