//! `tact draft --brand B`: a grounded draft. The brand folder's guidelines and past replies are
//! ingested into the knowledge base when they changed (ingest is idempotent), then the
//! drafter triages the message, retrieves evidence, generates and ranks candidates.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use serde::Serialize;
use tact_core::{Embedder, InboundMessage, Retriever, TextGenerator};
use tact_drafting::triage::Route;
use tact_drafting::{
    ApprovedEvidence, BrandProfile, Candidate, DraftOptions, DraftSet, Drafter, DrafterParts,
    Origin, Severity, ThreadTurn,
};
use tact_retrieval::read_guideline_documents;
use tact_retrieval::retriever::KnowledgeRetriever;

use crate::commands::draft::{DraftArgs, load_engine};
use crate::commands::knowledge;
use crate::config::Config;

const REPLIES_FILE: &str = "replies.jsonl";

#[derive(Debug, Serialize)]
struct GroundedOut<'a> {
    model: String,
    load_ms: f64,
    #[serde(flatten)]
    draft: &'a DraftSet,
}

/// Drafts `message` for the brand in `dir`.
pub fn run(
    config: &Config,
    args: &DraftArgs,
    message: &str,
    dir: &Path,
    candidates: usize,
) -> anyhow::Result<()> {
    let profile = BrandProfile::load(dir)
        .with_context(|| format!("cannot load brand from {}", dir.display()))?;
    let channel = args
        .channel
        .clone()
        .unwrap_or_else(|| profile.default_channel.clone());
    if profile.channel(&channel).is_none() {
        anyhow::bail!(
            "brand {:?} has no channel {channel:?} (it has: {})",
            profile.id,
            profile
                .channels
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let inbound = InboundMessage::from_json(serde_json::json!({
        "id": "cli",
        "brand": profile.id,
        "channel": channel,
        "author": args.author,
        "text": message,
        "created_at": chrono::Utc::now().to_rfc3339(),
    }))
    .context("the message")?;
    let thread = args
        .thread
        .iter()
        .map(|t| parse_thread_turn(t))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let options = DraftOptions {
        channel: Some(channel),
        candidates,
        seed: args.seed,
        temperature: if args.greedy {
            0.0
        } else {
            config.draft.temperature
        },
        top_k: config.draft.top_k,
        top_p: config.draft.top_p,
        repeat_penalty: config.draft.repeat_penalty as f32,
        max_new_tokens: args.max_tokens.unwrap_or(config.draft.max_new_tokens),
        thread,
        ..DraftOptions::default()
    };

    let started = Instant::now();
    let (engine, model_path) = load_engine(config, candidates)?;
    let load_ms = started.elapsed().as_secs_f64() * 1e3;
    let engine = Arc::new(engine);
    let generator: Arc<dyn TextGenerator> = engine.clone();

    let set = knowledge::runtime()?.block_on(async {
        let pipeline = pipeline(config, dir, profile, generator).await?;
        anyhow::Ok(pipeline.drafter.draft(&inbound, &options).await?)
    })?;

    if args.json {
        let out = GroundedOut {
            model: model_path.display().to_string(),
            load_ms,
            draft: &set,
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print_set(&set);
    }
    if let Ok(engine) = Arc::try_unwrap(engine) {
        engine.shutdown();
    }
    Ok(())
}

/// The grounded drafting pipeline of one brand folder: what `tact draft --brand` and
/// `tact eval` draft with.
pub(crate) struct GroundedPipeline {
    pub drafter: Drafter,
    /// The embedder of the knowledge base.
    pub embedder: Arc<dyn Embedder>,
    /// The knowledge base, as the drafter retrieves from it.
    pub retriever: Arc<dyn Retriever>,
}

/// Opens the configured knowledge base, brings it up to date with the brand folder `dir` and
/// builds the drafter over `generator`.
pub(crate) async fn pipeline(
    config: &Config,
    dir: &Path,
    profile: BrandProfile,
    generator: Arc<dyn TextGenerator>,
) -> anyhow::Result<GroundedPipeline> {
    let approved = approved_evidence(dir)?;
    let (kb, embedder) = knowledge::open_with_embedder(config).await?;
    ingest_brand(&kb, &profile, dir).await?;
    let retriever: Arc<dyn Retriever> =
        Arc::new(KnowledgeRetriever::new(kb, config.store.retrieval));
    let drafter = Drafter::new(DrafterParts {
        generator,
        embedder: embedder.clone(),
        retriever: retriever.clone(),
        profile,
        approved,
    })
    .await?;
    Ok(GroundedPipeline {
        drafter,
        embedder,
        retriever,
    })
}

/// Brings the knowledge base up to date with the brand folder: its guideline files and its
/// past replies. Unchanged entries cost a hash comparison, not an embedding.
pub(crate) async fn ingest_brand(
    kb: &tact_retrieval::KnowledgeBase,
    profile: &BrandProfile,
    dir: &Path,
) -> anyhow::Result<()> {
    let files: Vec<PathBuf> = profile
        .guideline_files
        .iter()
        .map(|name| dir.join(name))
        .collect();
    let documents = read_guideline_documents(&files)?;
    let none = |_: usize, _: usize| {};
    let guidelines = kb.ingest_guidelines(&profile.id, &documents, &none).await?;
    let replies_path = dir.join(REPLIES_FILE);
    let replies = if replies_path.is_file() {
        Some(
            kb.ingest_replies(&profile.id, &replies_path, false, &none)
                .await
                .with_context(|| format!("ingesting {}", replies_path.display()))?,
        )
    } else {
        None
    };
    let changed = guidelines.added
        + guidelines.replaced
        + guidelines.removed
        + replies
            .as_ref()
            .map_or(0, |r| r.added + r.replaced + r.removed);
    if changed > 0 {
        eprintln!(
            "knowledge base updated for {}: {} clause(s) and {} past repl(ies) added or changed",
            profile.id,
            guidelines.added + guidelines.replaced,
            replies.as_ref().map_or(0, |r| r.added + r.replaced)
        );
    }
    for row in replies.iter().flat_map(|r| &r.rejected) {
        eprintln!("skipped {row}");
    }
    Ok(())
}

pub(crate) fn approved_evidence(dir: &Path) -> anyhow::Result<ApprovedEvidence> {
    let replies = dir.join(REPLIES_FILE);
    if !replies.is_file() {
        eprintln!(
            "note: {} not found; no past replies to ground drafts in",
            replies.display()
        );
        return Ok(ApprovedEvidence::default());
    }
    let text = std::fs::read_to_string(&replies)
        .with_context(|| format!("cannot read {}", replies.display()))?;
    Ok(ApprovedEvidence::from_jsonl(REPLIES_FILE, &text)?)
}

/// `--thread "author: text"`.
fn parse_thread_turn(text: &str) -> anyhow::Result<ThreadTurn> {
    match text.split_once(": ") {
        Some((author, text)) if !author.trim().is_empty() && !text.trim().is_empty() => {
            Ok(ThreadTurn {
                author: author.trim().to_owned(),
                text: text.trim().to_owned(),
            })
        }
        _ => anyhow::bail!("--thread {text:?} must look like \"author: text\""),
    }
}

fn print_set(set: &DraftSet) {
    let t = &set.triage;
    println!(
        "triage: {} · sentiment {} ({:.2}) · intent {} ({:.2}) · urgency {} ({:.2}) · language {} ({:.2})",
        match t.screening.route {
            Route::Draft => "draft",
            Route::Escalate => "ESCALATE",
        },
        json_label(&t.labels.sentiment.label),
        t.labels.sentiment.probability,
        json_label(&t.labels.intent.label),
        t.labels.intent.probability,
        json_label(&t.labels.urgency.label),
        t.labels.urgency.probability,
        t.labels.language.label,
        t.labels.language.probability,
    );
    if let Some(abuse) = &t.screening.abuse {
        println!(
            "flagged: {} ({})",
            abuse
                .kinds
                .iter()
                .map(json_label)
                .collect::<Vec<_>>()
                .join(", "),
            abuse.terms.join(", ")
        );
    }
    if set.escalated() {
        for e in &t.screening.escalations {
            println!(
                "escalation: {} (trigger {:?}; clause {})",
                e.topic, e.trigger, e.clause
            );
        }
        println!("routed to a person: no draft was generated");
        return;
    }
    if let Some(prompt) = &set.prompt {
        println!(
            "prompt: {} of {} tokens · {} clause(s) · {} past repl(ies){}",
            prompt.tokens,
            prompt.budget,
            prompt.clauses.len(),
            prompt.examples.len(),
            if prompt.dropped.is_empty() {
                String::new()
            } else {
                format!(" · left out: {}", prompt.dropped.join(", "))
            }
        );
    }
    for c in &set.candidates {
        print_candidate(c);
    }
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    let tm = &set.timings;
    println!(
        "\ntimings: triage {:.0} ms · retrieval {:.0} ms · prompt {:.0} ms · generation {:.0} ms · scoring {:.0} ms · total {:.0} ms",
        ms(tm.triage),
        ms(tm.retrieval),
        ms(tm.prompt),
        ms(tm.generation),
        ms(tm.scoring),
        ms(tm.total)
    );
}

fn print_candidate(c: &Candidate) {
    let s = c.score;
    println!(
        "\n#{} [{}] score {:.2} = checks {:.2} · relevance {:.2} · closeness {:.2}",
        c.rank,
        c.origin.label(),
        s.total,
        s.checks,
        s.relevance,
        s.closeness
    );
    for line in c.text.lines() {
        println!("    {line}");
    }
    if c.text.trim().is_empty() {
        println!("    (empty after post-processing)");
    }
    let cites = |list: &[tact_drafting::Citation]| {
        list.iter()
            .map(|c| format!("{} ({:.2})", c.id, c.similarity))
            .collect::<Vec<_>>()
            .join("; ")
    };
    println!("  cites clauses: {}", cites(&c.citations.clauses));
    println!("  cites replies: {}", cites(&c.citations.replies));
    if let Origin::AdaptedPastReply { adaptations, .. } = &c.origin {
        for a in adaptations {
            println!("  adapted: {a}");
        }
    }
    for v in &c.violations {
        let severity = match v.severity {
            Severity::Block => "BLOCK",
            Severity::Warn => "warn",
        };
        println!(
            "  {severity} {}: {} (clause {})",
            v.rule, v.message, v.clause
        );
    }
}

/// The snake_case name serde gives a label.
fn json_label<T: Serialize>(label: &T) -> String {
    serde_json::to_value(label)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}
