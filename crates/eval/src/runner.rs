//! The runner: each case goes through the same [`Drafter`] the CLI and the service use, then
//! through the scorers. Cases run concurrently (the engine interleaves generations) and the
//! results come back in case order, so a report depends only on the suite.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tact_core::{Embedder, InboundMessage, KnowledgeFilter, KnowledgeKind, Retriever};
use tact_drafting::{Candidate, DraftOptions, DraftSet, Drafter, Origin, ThreadTurn};
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::error::{Error, Result};
use crate::judge::{JudgeAnswer, RubricJudge};
use crate::score::{self, CheckResult, TriageLabelsOut};
use crate::suite::{Case, DraftChoice, Suite};

/// Timestamp given to every case's inbound message: drafts must not depend on the clock.
const CASE_TIME: &str = "2026-01-01T09:00:00Z";
/// Seeds of repeat `r` start at `seed + r · SEED_STRIDE`, past any candidate's seed offset.
const SEED_STRIDE: u64 = 8;

/// What the runner drafts and scores with: the drafting pipeline's parts.
pub struct EvalPipeline {
    pub drafter: Arc<Drafter>,
    /// The embedder the knowledge base uses; scores similarity to references.
    pub embedder: Arc<dyn Embedder>,
    /// The knowledge base the drafter retrieves from; measures recall@k.
    pub retriever: Arc<dyn Retriever>,
    pub judge: Option<RubricJudge>,
    /// Cases in flight at once (the engine's `max_active` is a good value).
    pub concurrency: usize,
}

/// Told about each case as it finishes (a progress bar).
pub trait Progress: Send + Sync {
    fn case_finished(&self, result: &CaseResult);
}

/// No progress reporting.
#[derive(Debug, Clone, Copy)]
pub struct Silent;

impl Progress for Silent {
    fn case_finished(&self, _: &CaseResult) {}
}

/// One case's run: what the pipeline did and every check's verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseResult {
    pub id: String,
    /// 0-based; above 0 only with `--repeat`.
    pub repeat: usize,
    #[serde(default)]
    pub tags: Vec<String>,
    pub channel: String,
    /// The inbound message.
    pub message: String,
    pub passed: bool,
    pub escalated: bool,
    #[serde(default)]
    pub escalation_topics: Vec<String>,
    /// The scored candidate; absent when the message was escalated.
    pub draft: Option<DraftOut>,
    pub reference: Option<String>,
    pub similarity: Option<f32>,
    pub triage: TriageLabelsOut,
    pub retrieval: Option<RetrievalOut>,
    #[serde(default)]
    pub judge: Vec<JudgeAnswer>,
    pub checks: Vec<CheckResult>,
    pub latency: Latency,
}

impl CaseResult {
    pub fn check(&self, name: score::CheckName) -> Option<&CheckResult> {
        self.checks.iter().find(|c| c.check == name)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DraftOut {
    pub text: String,
    /// Where it came from: `generated (seed 42, temperature 0.00)` or `adapted past reply ...`.
    pub origin: String,
    /// Rules by key (tact-core's review vocabulary, as stored and served).
    pub violations: Vec<tact_core::review::Violation>,
    /// How generation ended (`end_of_turn`, `stop`, `length`); absent for an adapted reply.
    pub finish: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RetrievalOut {
    pub k: usize,
    pub recall_at_k: f64,
    pub mrr: f64,
    /// Ids retrieved, best first.
    pub clauses: Vec<String>,
    pub replies: Vec<String>,
}

/// Timings (the only part of a result that differs between identical runs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Time to the first token of the scored draft, queueing included.
    pub ttft_ms: Option<f64>,
    /// The whole draft: triage, retrieval, prompt, generation, scoring.
    pub total_ms: f64,
}

impl EvalPipeline {
    /// Runs every case `repeat` times; results in case order, repeats adjacent.
    pub async fn run(
        self: &Arc<Self>,
        suite: &Arc<Suite>,
        cases: Vec<Case>,
        repeat: usize,
        progress: Arc<dyn Progress>,
    ) -> Result<Vec<CaseResult>> {
        let profile = self.drafter.profile();
        for case in &cases {
            if let Some(channel) = &case.channel
                && profile.channel(channel).is_none()
            {
                return Err(Error::Case {
                    path: suite.cases_path.clone(),
                    line: suite
                        .cases
                        .iter()
                        .position(|c| c.id == case.id)
                        .unwrap_or(0)
                        + 1,
                    message: format!(
                        "case {}: brand {:?} has no channel {channel:?}",
                        case.id, profile.id
                    ),
                });
            }
        }
        let jobs: Vec<(usize, Arc<Case>, usize)> = cases
            .into_iter()
            .map(Arc::new)
            .flat_map(|case| (0..repeat.max(1)).map(move |r| (case.clone(), r)))
            .enumerate()
            .map(|(i, (case, r))| (i, case, r))
            .collect();
        let total = jobs.len();
        let mut pending = jobs.into_iter();
        let mut running = JoinSet::new();
        let mut results: Vec<Option<CaseResult>> = vec![None; total];
        loop {
            while running.len() < self.concurrency.max(1) {
                let Some((index, case, r)) = pending.next() else {
                    break;
                };
                let (pipeline, suite) = (self.clone(), suite.clone());
                let span = tracing::info_span!("eval_case", case = %case.id, repeat = r);
                running.spawn(
                    async move {
                        let result = pipeline.run_case(&suite, &case, r).await;
                        (index, result)
                    }
                    .instrument(span),
                );
            }
            let Some(joined) = running.join_next().await else {
                break;
            };
            let (index, result) = joined.map_err(|e| Error::Task(e.to_string()))?;
            let result = result?;
            progress.case_finished(&result);
            results[index] = Some(result);
        }
        Ok(results.into_iter().flatten().collect())
    }

    async fn run_case(&self, suite: &Suite, case: &Case, repeat: usize) -> Result<CaseResult> {
        let settings = &suite.file;
        let profile = self.drafter.profile();
        let channel = case
            .channel
            .clone()
            .unwrap_or_else(|| profile.default_channel.clone());
        let inbound = InboundMessage::from_json(serde_json::json!({
            "id": case.id, "brand": profile.id, "channel": channel, "author": case.author,
            "text": case.text, "created_at": CASE_TIME,
        }))
        .map_err(|e| Error::Case {
            path: suite.cases_path.clone(),
            line: 0,
            message: format!("case {}: {e}", case.id),
        })?;
        let s = &settings.sampling;
        let options = DraftOptions {
            channel: Some(channel.clone()),
            candidates: s.candidates,
            seed: s.seed + repeat as u64 * SEED_STRIDE,
            temperature: s.temperature,
            top_k: s.top_k,
            top_p: s.top_p,
            repeat_penalty: s.repeat_penalty,
            max_new_tokens: s.max_new_tokens,
            examples: s.examples,
            clauses: s.clauses,
            examples_as: s.examples_as,
            thread: case
                .thread
                .iter()
                .map(|t| ThreadTurn {
                    author: t.author.clone(),
                    text: t.text.clone(),
                })
                .collect(),
            ..DraftOptions::default()
        };
        let set = self
            .drafter
            .draft(&inbound, &options)
            .await
            .map_err(|source| Error::Drafting {
                case: case.id.clone(),
                source,
            })?;
        let chosen = choose(&set, settings.scoring.draft);
        let mut checks = Vec::new();
        let topics: Vec<String> = set
            .triage
            .screening
            .escalations
            .iter()
            .map(|e| e.topic.clone())
            .collect();
        checks.push(score::escalation(
            case.expect.escalate,
            set.escalated(),
            &topics,
        ));
        let triage = triage_labels(&set);
        checks.extend(
            case.expect
                .triage
                .as_ref()
                .and_then(|t| score::triage(t, &triage)),
        );

        let retrieval = self.retrieval(suite, case).await?;
        if let Some(r) = &retrieval {
            let missing: Vec<String> = case
                .expect
                .citations
                .iter()
                .filter(|id| !r.clauses.contains(id) && !r.replies.contains(id))
                .cloned()
                .collect();
            let score = score::RetrievalScore {
                recall_at_k: r.recall_at_k,
                mrr: r.mrr,
            };
            checks.push(score::retrieval(
                score,
                r.k,
                settings.scoring.min_recall,
                &missing,
            ));
        }

        let mut similarity = None;
        let mut judge = Vec::new();
        if let Some(candidate) = chosen {
            let text = candidate.text.as_str();
            checks.push(score::guidelines(case, &candidate.violations));
            checks.push(score::grounded(&candidate.violations));
            checks.extend(score::language(&case.text, text));
            checks.extend(score::contains(case, &case.patterns(), text));
            checks.extend(score::length(case, text));
            if let Some(reference) = &case.expect.reference {
                let value = self.similarity(text, reference, &case.id).await?;
                let minimum = case
                    .expect
                    .min_similarity
                    .unwrap_or(settings.scoring.min_similarity);
                checks.push(score::similarity(value, minimum));
                similarity = Some(value);
            }
            if let Some(j) = &self.judge {
                let clauses = set
                    .prompt
                    .as_ref()
                    .map(|p| p.clauses.as_slice())
                    .unwrap_or_default();
                judge = j.judge(&case.text, text, clauses).await?;
                checks.push(crate::judge::check(
                    &judge,
                    settings.judge.min_yes_rate.unwrap_or(1.0),
                ));
            }
        }
        let latency = Latency {
            ttft_ms: chosen
                .and_then(|c| c.generation.as_ref())
                .and_then(|g| g.time_to_first_token)
                .map(|d| d.as_secs_f64() * 1e3),
            total_ms: set.timings.total.as_secs_f64() * 1e3,
        };
        checks.extend(score::latency(
            latency.total_ms,
            latency.ttft_ms,
            settings.scoring.max_total_ms,
            settings.scoring.max_ttft_ms,
        ));
        checks.sort_by_key(|c| c.check);
        Ok(CaseResult {
            id: case.id.clone(),
            repeat,
            tags: case.tags.clone(),
            channel,
            message: case.text.clone(),
            passed: checks.iter().all(|c| c.passed),
            escalated: set.escalated(),
            escalation_topics: topics,
            draft: chosen.map(draft_out),
            reference: case.expect.reference.clone(),
            similarity,
            triage,
            retrieval,
            judge,
            checks,
            latency,
        })
    }

    /// The top k clauses and past replies for the case's message, from the knowledge base the
    /// drafter uses, and the expected citations' recall@k and MRR.
    async fn retrieval(&self, suite: &Suite, case: &Case) -> Result<Option<RetrievalOut>> {
        if case.expect.citations.is_empty() {
            return Ok(None);
        }
        let k = suite.file.scoring.retrieval_k;
        let brand = KnowledgeFilter::brand(&self.drafter.profile().id);
        let search = |kind: KnowledgeKind| {
            let filter = brand.clone().kind(kind);
            let retriever = self.retriever.clone();
            let text = case.text.clone();
            async move { retriever.retrieve(&filter, &text, k).await }
        };
        let knowledge = |source| Error::Knowledge {
            case: case.id.clone(),
            source,
        };
        let clauses: Vec<String> = search(KnowledgeKind::Guideline)
            .await
            .map_err(knowledge)?
            .into_iter()
            .map(|h| h.entry.cite)
            .collect();
        let replies: Vec<String> = search(KnowledgeKind::Reply)
            .await
            .map_err(knowledge)?
            .into_iter()
            .map(|h| h.entry.cite)
            .collect();
        let rank = |id: &str| {
            let list = if self.drafter.profile().guidelines.get(id).is_some() {
                &clauses
            } else {
                &replies
            };
            list.iter().position(|x| x == id).map(|p| p + 1)
        };
        let score = score::retrieval_score(&case.expect.citations, rank);
        Ok(Some(RetrievalOut {
            k,
            recall_at_k: score.recall_at_k,
            mrr: score.mrr,
            clauses,
            replies,
        }))
    }

    async fn similarity(&self, draft: &str, reference: &str, case: &str) -> Result<f32> {
        if draft.trim().is_empty() {
            return Ok(0.0);
        }
        let embedder = self.embedder.clone();
        let texts = [draft.to_owned(), reference.to_owned()];
        let vectors = tokio::task::spawn_blocking(move || {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            embedder.embed(&refs)
        })
        .await
        .map_err(|e| Error::Task(e.to_string()))?
        .map_err(|source| Error::Knowledge {
            case: case.to_owned(),
            source,
        })?;
        Ok(cosine(&vectors[0], &vectors[1]))
    }
}

/// The candidate the suite scores, if the message was drafted.
fn choose(set: &DraftSet, choice: DraftChoice) -> Option<&Candidate> {
    match choice {
        DraftChoice::Top => set.candidates.first(),
        DraftChoice::Generated => set
            .candidates
            .iter()
            .find(|c| matches!(c.origin, Origin::Generated { .. })),
    }
}

fn draft_out(c: &Candidate) -> DraftOut {
    DraftOut {
        text: c.text.clone(),
        origin: c.origin.label(),
        violations: c
            .violations
            .iter()
            .map(tact_drafting::Violation::keyed)
            .collect(),
        finish: c.generation.as_ref().map(|g| label(&g.finish)),
    }
}

fn triage_labels(set: &DraftSet) -> TriageLabelsOut {
    let l = &set.triage.labels;
    TriageLabelsOut {
        sentiment: label(&l.sentiment.label),
        intent: label(&l.intent.label),
        urgency: label(&l.urgency.label),
        language: l.language.label.clone(),
    }
}

/// The snake_case name serde gives a label.
fn label<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

pub(crate) fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}
