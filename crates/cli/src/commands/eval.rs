//! `tact eval`: run an eval suite through the grounded drafting pipeline and write its reports
//! (`run`), or turn approved drafts that a person edited into cases (`import-edits`).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use tact_core::TextGenerator;
use tact_drafting::{BrandProfile, ExamplePlacement};
use tact_eval::{
    CaseResult, DraftChoice, EditedReply, EvalPipeline, Progress, Report, RubricJudge, RunInfo,
    Suite,
};
use tact_workflow::{PostgresStore, SqliteStore, Workflow, WorkflowStore};

use crate::commands::check::find_brand;
use crate::commands::draft::{chat_model_path, start_engine};
use crate::commands::{grounded, knowledge};
use crate::config::Config;

const JUDGE_OFF: &str =
    "off (no judge model configured; the bundled 135M model is too small to judge)";

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Run a suite: draft every case, score it, write report.json, junit.xml and report.html,
    /// then apply the suite's gate (exit status 1 when it fails).
    Run(RunArgs),
    /// Turn approved drafts that a person edited (from the workflow store) into cases whose
    /// reference is the final text.
    ImportEdits(ImportArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The suite file (TOML).
    pub suite: PathBuf,
    /// Where the reports go.
    #[arg(long, default_value = "eval-report")]
    pub report: PathBuf,
    /// A report.json of an earlier run: the report shows what improved and what regressed.
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// Only cases whose id contains this, or that carry it as a tag.
    #[arg(long)]
    pub filter: Option<String>,
    /// At most this many cases (after --filter).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Run each case this many times with different seeds, to measure sampling variance.
    #[arg(long, default_value_t = 1)]
    pub repeat: usize,
    /// Override the suite's sampling.max_new_tokens (the report records the value used).
    #[arg(long)]
    pub max_tokens: Option<usize>,
    /// Override the suite's scoring.draft: `top` (what a reviewer sees first, often the adapted
    /// past reply) or `generated` (the best candidate the model wrote; compares models).
    #[arg(long, value_parser = parse_draft_choice)]
    pub draft: Option<DraftChoice>,
    /// Override the suite's sampling.examples_as: `turns` (past replies as earlier exchanges)
    /// or `system` (listed in the system turn), to compare the two on a suite.
    #[arg(long, value_parser = parse_placement)]
    pub examples_as: Option<ExamplePlacement>,
}

fn parse_placement(value: &str) -> Result<ExamplePlacement, String> {
    ExamplePlacement::parse(value)
        .ok_or_else(|| format!("expected `turns` or `system`, got `{value}`"))
}

fn parse_draft_choice(value: &str) -> Result<DraftChoice, String> {
    match value {
        "top" => Ok(DraftChoice::Top),
        "generated" => Ok(DraftChoice::Generated),
        other => Err(format!("expected `top` or `generated`, got `{other}`")),
    }
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Brand id (or brand folder name) whose edited approvals to import.
    #[arg(long)]
    pub brand: String,
    /// Append the cases to this JSONL file (ids already in it are skipped); default: print them.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(config: &Config, command: EvalCommand) -> anyhow::Result<()> {
    match command {
        EvalCommand::Run(args) => run_suite(config, args),
        EvalCommand::ImportEdits(args) => import_edits(config, args),
    }
}

fn run_suite(config: &Config, args: RunArgs) -> anyhow::Result<()> {
    if args.repeat == 0 {
        bail!("--repeat must be at least 1");
    }
    let mut suite = Suite::load(&args.suite)?;
    if let Some(tokens) = args.max_tokens {
        if tokens == 0 {
            bail!("--max-tokens must be at least 1");
        }
        suite.file.sampling.max_new_tokens = tokens;
    }
    if let Some(draft) = args.draft {
        suite.file.scoring.draft = draft;
    }
    if let Some(placement) = args.examples_as {
        suite.file.sampling.examples_as = placement;
    }
    let cases = suite.select(args.filter.as_deref(), args.limit);
    if cases.is_empty() {
        bail!(
            "no case of {} matches --filter {:?}",
            suite.cases_path.display(),
            args.filter.as_deref().unwrap_or("")
        );
    }
    // Read the baseline first: a bad one should fail before minutes of drafting.
    let baseline = args
        .baseline
        .as_deref()
        .map(|path| Report::read(path).map(|r| (r, path.to_owned())))
        .transpose()?;
    let profile = BrandProfile::load(&suite.brand_dir)
        .with_context(|| format!("cannot load brand from {}", suite.brand_dir.display()))?;
    let clauses = enforced_clauses(&profile);

    let model_path = suite_model(config, &suite)?;
    let concurrency = config.engine.max_active;
    let engine = Arc::new(start_engine(
        config,
        &model_path,
        concurrency * suite.file.sampling.candidates,
    )?);
    let judge_engine = match &suite.file.judge.model {
        Some(path) => Some(Arc::new(start_engine(
            config,
            &suite.resolve(path),
            concurrency * 8,
        )?)),
        None => None,
    };
    let judge_label = match &suite.file.judge.model {
        Some(path) => format!("rubric judge {}", file_name(path)),
        None => JUDGE_OFF.to_owned(),
    };
    let total = cases.len() * args.repeat;
    eprintln!(
        "running {} case(s){} of suite {} with {}",
        cases.len(),
        if args.repeat > 1 {
            format!(" × {} repeats", args.repeat)
        } else {
            String::new()
        },
        suite.file.name,
        file_name(&model_path)
    );

    let suite = Arc::new(suite);
    let runtime = knowledge::runtime()?;
    let (results, duration_ms) = runtime.block_on(async {
        let generator: Arc<dyn TextGenerator> = engine.clone();
        let parts = grounded::pipeline(config, &suite.brand_dir, profile, generator).await?;
        let pipeline = Arc::new(EvalPipeline {
            drafter: Arc::new(parts.drafter),
            embedder: parts.embedder,
            retriever: parts.retriever,
            judge: judge_engine
                .clone()
                .map(|e| RubricJudge::new(e as Arc<dyn TextGenerator>, judge_label.clone())),
            concurrency,
        });
        let progress = Arc::new(ProgressReporter::new(total));
        let started = Instant::now();
        let results = pipeline
            .run(&suite, cases, args.repeat, progress.clone())
            .await?;
        progress.finish();
        anyhow::Ok((results, started.elapsed().as_secs_f64() * 1e3))
    })?;
    drop(runtime);
    for engine in [Some(engine), judge_engine].into_iter().flatten() {
        if let Ok(engine) = Arc::try_unwrap(engine) {
            engine.shutdown();
        }
    }

    let mut report = Report::new(
        &suite,
        file_name(&model_path),
        judge_label,
        RunInfo {
            repeat: args.repeat,
            filter: args.filter.clone(),
            limit: args.limit,
            duration_ms,
        },
        results,
        &clauses,
    );
    if let Some((baseline, path)) = &baseline {
        report.compare(baseline, path);
    }
    report.apply_gate(&suite.file.gate);
    let written = report.write(&args.report)?;
    print_summary(&report, &written, duration_ms);
    if !report.gate.passed {
        bail!("gate failed: {}", report.gate.reasons.join("; "));
    }
    Ok(())
}

/// The chat model the suite names, or the configured one.
fn suite_model(config: &Config, suite: &Suite) -> anyhow::Result<PathBuf> {
    let choice = &suite.file.model;
    if config.model.from_command_line {
        return chat_model_path(config);
    }
    if let Some(path) = &choice.path {
        let path = suite.resolve(path);
        if !path.is_file() {
            bail!("the suite's model file {} does not exist", path.display());
        }
        return Ok(path);
    }
    let mut config = config.clone();
    if let Some(id) = &choice.chat {
        config.model.chat = id.clone();
        config.model.chat_path = None;
    }
    chat_model_path(&config)
}

/// Every guideline clause a deterministic check enforces, for the per-clause pass rates.
fn enforced_clauses(profile: &BrandProfile) -> Vec<String> {
    let mut clauses: Vec<String> = profile
        .rules
        .values()
        .map(|r| r.clause.clone())
        .chain(profile.commitments.iter().map(|c| c.clause.clone()))
        .collect();
    clauses.sort();
    clauses.dedup();
    clauses
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

fn print_summary(report: &Report, written: &[PathBuf], duration_ms: f64) {
    let s = &report.summary;
    println!(
        "{}: {}/{} passed ({:.1}%) in {:.1} s",
        report.suite.name,
        s.passed,
        s.runs,
        s.pass_rate * 100.0,
        duration_ms / 1e3
    );
    for (check, rate) in &s.checks {
        println!(
            "  {:<11} {:>3}/{:<3} {:>5.1}%",
            check.key(),
            rate.passed,
            rate.total,
            rate.rate * 100.0
        );
    }
    if let (Some(recall), Some(mrr)) = (s.recall_at_k, s.mrr) {
        println!("  retrieval recall@k {recall:.2}, MRR {mrr:.2}");
    }
    println!(
        "  latency p50 {:.0} ms, p90 {:.0} ms; first token p50 {:.0} ms",
        s.total_ms.p50, s.total_ms.p90, s.ttft_ms.p50
    );
    println!("  judge: {}", report.suite.judge);
    if let Some(c) = &report.baseline {
        println!(
            "  versus baseline: {:+.1} points, {} improved, {} regressed{}",
            c.pass_rate_change * 100.0,
            c.improved.len(),
            c.regressed.len(),
            if c.regressed.is_empty() {
                String::new()
            } else {
                format!(
                    " ({})",
                    c.regressed
                        .iter()
                        .map(|r| r.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        );
    }
    for path in written {
        println!("  wrote {}", path.display());
    }
}

/// A progress bar on a terminal; one line per case otherwise (CI logs).
struct ProgressReporter {
    bar: Option<ProgressBar>,
    total: usize,
    done: std::sync::atomic::AtomicUsize,
}

impl ProgressReporter {
    fn new(total: usize) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total as u64);
            bar.set_style(
                ProgressStyle::with_template("{bar:30} {pos}/{len} cases · {elapsed} · {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        });
        Self {
            bar,
            total,
            done: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Progress for ProgressReporter {
    fn case_finished(&self, result: &CaseResult) {
        let done = self.done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        let verdict = if result.passed { "pass" } else { "FAIL" };
        match &self.bar {
            Some(bar) => {
                bar.set_message(format!("{} {verdict}", result.id));
                bar.inc(1);
            }
            None => eprintln!(
                "[{done}/{}] {} {verdict} ({:.0} ms)",
                self.total, result.id, result.latency.total_ms
            ),
        }
    }
}

fn import_edits(config: &Config, args: ImportArgs) -> anyhow::Result<()> {
    let brand = match find_brand(&config.brands_dir(), &args.brand) {
        Ok(dir) => BrandProfile::load(&dir)
            .map(|p| p.id)
            .unwrap_or(args.brand.clone()),
        Err(_) => args.brand.clone(),
    };
    let replies = knowledge::runtime()?.block_on(async {
        let store: Arc<dyn WorkflowStore> = match &config.workflow.database_url {
            Some(url) => Arc::new(
                PostgresStore::connect(url, config.workflow.schema.as_deref())
                    .await
                    .context("cannot open the workflow store (workflow.database_url)")?,
            ),
            None => {
                let dir = config.workflow_dir();
                let file = dir.join("workflow.sqlite3");
                if !file.is_file() {
                    bail!(
                        "no workflow store at {} (nothing has been reviewed with this TACT_HOME; \
                         set workflow.database_url for PostgreSQL)",
                        file.display()
                    );
                }
                Arc::new(SqliteStore::open(&dir).await.with_context(|| {
                    format!("cannot open the workflow store {}", file.display())
                })?)
            }
        };
        anyhow::Ok(Workflow::new(store).edit_pairs(&brand).await?)
    })?;
    let edits: Vec<EditedReply> = replies
        .into_iter()
        .map(|r| EditedReply {
            message_id: r.message_id,
            channel: r.channel,
            inbound_text: r.inbound_text,
            draft_text: r.draft_text,
            final_text: r.final_text,
            approved_at: r.approved_at.to_rfc3339(),
        })
        .collect();
    match &args.out {
        Some(path) => {
            let summary = tact_eval::append_cases(path, &edits)?;
            println!(
                "added {} case(s) to {} ({} already there)",
                summary.added,
                path.display(),
                summary.skipped
            );
        }
        None => {
            for edit in &edits {
                print!(
                    "{}",
                    tact_eval::import::to_line(&tact_eval::case_from_edit(edit))
                );
            }
            eprintln!("{} edited approval(s) of brand {brand}", edits.len());
        }
    }
    Ok(())
}
