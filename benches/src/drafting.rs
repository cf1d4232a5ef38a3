//! Latency of one grounded draft on the demo brand: triage, retrieval, prompt assembly, three
//! candidates of about 80 tokens each, scoring. Run by hand:
//!
//! ```text
//! cargo run --release -p tact-benches --bin bench-drafting -- [--runs 5] [--tokens 80]
//! ```
//!
//! The knowledge base is embedded Qdrant in a temporary directory with `brands/demo` ingested.
//! The first draft is a warm-up (caches, allocator, engine thread). Every row is the median
//! over the runs, each run on a different message.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use tact_core::{Embedder, InboundMessage, TextGenerator, VectorStore};
use tact_drafting::candidates::GenerationInfo;
use tact_drafting::{
    ApprovedEvidence, BrandProfile, DraftOptions, DraftSet, Drafter, DrafterParts,
};
use tact_inference::{ChatModel, Engine, EngineConfig, LoadOptions};
use tact_models::{Manifest, ModelCache, ModelRole};
use tact_retrieval::{EmbeddedStore, KnowledgeBase, SentenceEmbedder, read_guideline_documents};

#[derive(Debug, Parser)]
struct Args {
    /// Measured drafts (after one warm-up).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Tokens per candidate.
    #[arg(long, default_value_t = 80)]
    tokens: usize,
    #[arg(long, default_value_t = 3)]
    candidates: usize,
}

const MESSAGES: [&str; 6] = [
    "My beans still haven't arrived and tracking hasn't moved since Monday.",
    "I was charged twice for my subscription this month, can you check?",
    "What grind size should I use for a moka pot?",
    "The app logs me out every time I try to check out.",
    "Can I pause my subscription while I'm travelling next month?",
    "Just tried the Ethiopia roast, it's wonderful. Will it stay on the menu?",
];

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.runs > 0, "--runs must be at least 1");
    let home = tact_models::tact_home();
    let manifest = Manifest::bundled();
    let cache = ModelCache::new(home.join("models"));
    let chat = manifest.default_for(ModelRole::Chat).expect("a chat model");
    let embedding = manifest
        .default_for(ModelRole::Embedding)
        .expect("an embedding model");
    let chat_path = cache.require(chat)?.join(&chat.files[0].name);
    let embedding_dir = cache.require(embedding)?;
    println!("chat model: {}", chat_path.display());
    println!(
        "threads (RAYON_NUM_THREADS): {}",
        std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "default".into())
    );

    let model = ChatModel::load(&chat_path, &LoadOptions::default())?;
    let engine: Arc<dyn TextGenerator> = Arc::new(Engine::start(model, EngineConfig::default())?);
    let embedder: Arc<dyn Embedder> = Arc::new(SentenceEmbedder::load(&embedding_dir)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(&args, engine, embedder))
}

async fn run(
    args: &Args,
    generator: Arc<dyn TextGenerator>,
    embedder: Arc<dyn Embedder>,
) -> anyhow::Result<()> {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../brands/demo");
    let profile = BrandProfile::load(&demo)?;
    let replies = std::fs::read_to_string(demo.join("replies.jsonl"))?;
    let approved = ApprovedEvidence::from_jsonl("replies.jsonl", &replies)?;
    let dir = tempfile::tempdir()?;
    let store = EmbeddedStore::open(dir.path(), embedder.dimension())?;
    let kb = KnowledgeBase::new(embedder.clone(), Arc::new(store) as Arc<dyn VectorStore>)?;
    let files: Vec<PathBuf> = [
        "voice-and-tone.md",
        "channels.md",
        "escalation.md",
        "privacy.md",
    ]
    .iter()
    .map(|f| demo.join(f))
    .collect();
    let none = |_: usize, _: usize| {};
    let start = Instant::now();
    kb.ingest_guidelines(&profile.id, &read_guideline_documents(&files)?, &none)
        .await?;
    kb.ingest_replies(&profile.id, &demo.join("replies.jsonl"), true, &none)
        .await?;
    println!("ingest of the demo brand: {:.0} ms", ms(start.elapsed()));
    let start = Instant::now();
    let drafter = Drafter::new(DrafterParts {
        generator,
        embedder,
        retriever: Arc::new(kb),
        profile,
        approved,
    })
    .await?;
    println!(
        "drafter (triage classifiers trained on the labelled set): {:.0} ms",
        ms(start.elapsed())
    );

    let options = DraftOptions {
        candidates: args.candidates,
        max_new_tokens: args.tokens,
        ..DraftOptions::default()
    };
    draft(&drafter, MESSAGES[0], &options).await?; // warm-up
    let mut sets = Vec::new();
    for i in 0..args.runs {
        sets.push(draft(&drafter, MESSAGES[(i + 1) % MESSAGES.len()], &options).await?);
    }

    println!(
        "\none grounded draft: {} candidates of at most {} tokens, median of {} runs\n",
        args.candidates, args.tokens, args.runs
    );
    println!("| step | median |");
    println!("|---|---:|");
    let row = |name: &str, value: String| println!("| {name} | {value} |");
    let median_ms = |f: &dyn Fn(&DraftSet) -> Duration| {
        format!("{:.1} ms", median(sets.iter().map(|s| ms(f(s))).collect()))
    };
    row(
        "triage (screening + embedding + classifiers)",
        median_ms(&|s| s.timings.triage),
    );
    row(
        "retrieval (clauses + past replies)",
        median_ms(&|s| s.timings.retrieval),
    );
    row("prompt assembly", median_ms(&|s| s.timings.prompt));
    row(
        "prompt tokens",
        format!(
            "{:.0}",
            median(
                sets.iter()
                    .map(|s| s.prompt.as_ref().map_or(0.0, |p| p.tokens as f64))
                    .collect()
            )
        ),
    );
    row(
        "time to first token (first candidate)",
        format!(
            "{:.1} ms",
            median(
                sets.iter()
                    .filter_map(|s| generated(s)
                        .iter()
                        .filter_map(|g| g.time_to_first_token)
                        .min())
                    .map(ms)
                    .collect()
            )
        ),
    );
    row(
        "tokens generated (all candidates)",
        format!(
            "{:.0}",
            median(
                sets.iter()
                    .map(|s| generated(s)
                        .iter()
                        .map(|g| g.generated_tokens)
                        .sum::<usize>() as f64)
                    .collect()
            )
        ),
    );
    row(
        "prefill tokens/s",
        format!(
            "{:.0}",
            median(
                sets.iter()
                    .flat_map(|s| generated(s).into_iter().map(|g| g.prefill_tokens_per_s))
                    // Candidates that reused the prompt processed none of it.
                    .filter(|&rate| rate > 0.0)
                    .collect()
            )
        ),
    );
    row(
        "decode tokens/s (per sequence, interleaved)",
        format!(
            "{:.0}",
            median(
                sets.iter()
                    .flat_map(|s| generated(s).into_iter().map(|g| g.decode_tokens_per_s))
                    .collect()
            )
        ),
    );
    row(
        "generation (all candidates)",
        median_ms(&|s| s.timings.generation),
    );
    row(
        "scoring (post-process, checks, citations)",
        median_ms(&|s| s.timings.scoring),
    );
    row("total", median_ms(&|s| s.timings.total));
    Ok(())
}

fn generated(set: &DraftSet) -> Vec<&GenerationInfo> {
    set.candidates
        .iter()
        .filter_map(|c| c.generation.as_ref())
        .collect()
}

async fn draft(drafter: &Drafter, text: &str, options: &DraftOptions) -> anyhow::Result<DraftSet> {
    let message = InboundMessage::from_json(serde_json::json!({
        "id": "bench", "brand": drafter.profile().id, "channel": "x", "author": "@sam_k",
        "text": text, "created_at": "2026-03-01T09:00:00Z",
    }))?;
    let set = drafter.draft(&message, options).await?;
    anyhow::ensure!(!set.escalated(), "the bench message {text:?} was escalated");
    Ok(set)
}

fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
