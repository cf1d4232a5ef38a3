//! Knowledge-base throughput and latency: embeddings/s at batch 1 and 32 (and the same
//! sentences through sentence-transformers, when a Python with it is given), ingest time for
//! 10,000 past replies, and search latency p50/p99 at 10,000 and 100,000 points with a brand
//! filter that keeps every point and one that keeps a tenth of them. Run by hand:
//!
//! ```text
//! cargo run --release -p tact-benches --bin bench-retrieval -- [--python /tmp/st/bin/python]
//! ```
//!
//! Every search goes through the `VectorStore` seam, which always filters by brand (brands
//! never see each other's data), so "no filter" is measured as a brand filter matching every
//! point. The 100,000-point store holds random unit vectors.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use tact_core::{
    Embedder, KnowledgeEntry, KnowledgeFilter, KnowledgeKind, KnowledgePoint, KnowledgeQuery,
    SparseVector, VectorStore,
};
use tact_models::{Manifest, ModelCache, ModelRole};
use tact_retrieval::{EmbeddedStore, KnowledgeBase, RetrievalMode, Search, SentenceEmbedder};

#[derive(Debug, Parser)]
struct Args {
    /// A Python interpreter with sentence-transformers, to compare embedding throughput.
    #[arg(long)]
    python: Option<PathBuf>,
    /// Past replies ingested for the ingest row and the 10,000-point searches.
    #[arg(long, default_value_t = 10_000)]
    replies: usize,
    /// Points of the large, synthetic store.
    #[arg(long, default_value_t = 100_000)]
    large: usize,
    /// Searches per latency row.
    #[arg(long, default_value_t = 300)]
    searches: usize,
    /// Only the embedding rows (for profiling the embedder).
    #[arg(long)]
    embeddings_only: bool,
}

const CHANNELS: [&str; 3] = ["instagram", "x", "facebook"];
const SUBJECTS: [&str; 12] = [
    "my order",
    "the grinder",
    "the Kettle Pro",
    "my Bean Club box",
    "the decaf",
    "your app",
    "the gift card",
    "my refund",
    "the cold brew kit",
    "the Ethiopia roast",
    "the delivery",
    "my subscription",
];
const PROBLEMS: [&str; 12] = [
    "hasn't arrived after two weeks",
    "arrived broken and the box was soaked",
    "tastes sour no matter what grind I use",
    "charged me twice this month",
    "keeps logging me out at checkout",
    "is amazing, best coffee I've had in years",
    "stopped working after a month of daily use",
    "was sent to my old address even though I updated it",
    "has no tracking link and support is not answering",
    "is out of stock again, when is it back",
    "smells burnt, is that normal for a dark roast",
    "came without the promised free sample",
];
const ASKS: [&str; 6] = [
    "",
    " Can you help?",
    " What are my options here?",
    " Please sort this out, I have been a customer for years and this is really disappointing.",
    " Thanks!",
    " Do I need to send it back or can you just replace it?",
];

fn sentence(i: usize) -> String {
    format!(
        "Hi, {} {}.{}",
        SUBJECTS[i % SUBJECTS.len()],
        PROBLEMS[(i / SUBJECTS.len()) % PROBLEMS.len()],
        ASKS[(i / 7) % ASKS.len()]
    )
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let model_dir = model_dir()?;
    println!("model: {}", model_dir.display());
    println!(
        "threads (RAYON_NUM_THREADS): {}",
        std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "default".into())
    );
    let embedder = Arc::new(SentenceEmbedder::load(&model_dir)?);

    println!("\n| embedding | sentences | sentences/s |");
    println!("|---|---:|---:|");
    let sentences: Vec<String> = (0..512).map(sentence).collect();
    let refs: Vec<&str> = sentences.iter().map(String::as_str).collect();
    embedder.embed(&refs[..32])?; // warm-up
    let single = &refs[..128];
    let start = Instant::now();
    for s in single {
        embedder.embed(&[s])?;
    }
    let batch1 = single.len() as f64 / start.elapsed().as_secs_f64();
    println!("| tact, batch 1 | {} | {batch1:.1} |", single.len());
    // All sentences in one call, which embeds them 32 at a time after sorting them by length,
    // as sentence-transformers' `encode(sentences, batch_size=32)` does.
    assert_eq!(tact_retrieval::BATCH_SIZE, 32);
    let start = Instant::now();
    embedder.embed(&refs)?;
    let batch32 = refs.len() as f64 / start.elapsed().as_secs_f64();
    println!("| tact, batch 32 | {} | {batch32:.1} |", refs.len());
    if let Some(python) = &args.python {
        let (st1, st32) = sentence_transformers(python, &model_dir, &sentences)?;
        println!(
            "| sentence-transformers, batch 1 | {} | {st1:.1} |",
            single.len()
        );
        println!(
            "| sentence-transformers, batch 32 | {} | {st32:.1} |",
            refs.len()
        );
        println!(
            "\ntact / sentence-transformers: batch 1 {:.2}x, batch 32 {:.2}x",
            batch1 / st1,
            batch32 / st32
        );
    }

    if args.embeddings_only {
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(stores(&args, embedder))
}

async fn stores(args: &Args, embedder: Arc<SentenceEmbedder>) -> anyhow::Result<()> {
    let dimension = embedder.dimension();
    println!("\n| ingest | entries | seconds | entries/s |");
    println!("|---|---:|---:|---:|");
    // Past replies for two brands (9:1), so the brand filter has something to leave out.
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("replies.jsonl");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&file)?);
    for i in 0..args.replies {
        writeln!(
            out,
            "{}",
            serde_json::json!({
                "id": format!("r{i}"),
                "channel": CHANNELS[i % 3],
                "inbound": format!("{} (#{i})", sentence(i)),
                "reply": "Thanks for reaching out! Please DM us your order number.",
                "created_at": "2024-05-01T09:30:00Z",
            })
        )?;
    }
    out.flush()?;
    drop(out);
    let store_dir = dir.path().join("store");
    let store = EmbeddedStore::open(&store_dir, dimension)?;
    let kb = KnowledgeBase::new(embedder.clone(), Arc::new(store.clone()))?;
    let split = args.replies * 9 / 10;
    let (big, small) = split_file(&file, split)?;
    let start = Instant::now();
    let summary = kb.ingest_replies("big", &big, false, &|_, _| {}).await?;
    let summary_small = kb
        .ingest_replies("small", &small, false, &|_, _| {})
        .await?;
    let seconds = start.elapsed().as_secs_f64();
    let added = summary.added + summary_small.added;
    println!(
        "| {} replies, embedded + stored | {added} | {seconds:.1} | {:.1} |",
        args.replies,
        added as f64 / seconds
    );
    let start = Instant::now();
    let again = kb.ingest_replies("big", &big, false, &|_, _| {}).await?;
    println!(
        "| same file again (no-op) | {} | {:.2} | - |",
        again.unchanged,
        start.elapsed().as_secs_f64()
    );

    println!("\n| search | points | filter keeps | p50 ms | p99 ms |");
    println!("|---|---:|---:|---:|---:|");
    let queries: Vec<Vec<f32>> = {
        let texts: Vec<String> = (0..64).map(|i| sentence(i * 5 + 3)).collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        embedder.embed(&refs)?
    };
    for (brand, share) in [("big", "90%"), ("small", "10%")] {
        let (p50, p99) = latency(store.clone(), &queries, brand, args.searches, dimension).await?;
        println!(
            "| store only, dense | {} | {share} | {p50:.2} | {p99:.2} |",
            args.replies
        );
    }
    for mode in [RetrievalMode::Dense, RetrievalMode::Hybrid] {
        let mut times = Vec::new();
        for i in 0..args.searches.min(200) {
            let start = Instant::now();
            kb.search(&Search {
                filter: KnowledgeFilter::brand("big"),
                text: sentence(i * 11 + 1),
                limit: 5,
                mode,
            })
            .await?;
            times.push(start.elapsed());
        }
        let (p50, p99) = percentiles(&mut times);
        println!(
            "| end to end ({mode:?}: embed query + search) | {} | 90% | {p50:.2} | {p99:.2} |",
            args.replies
        );
    }
    drop(kb);
    drop(store);

    // The large store: random unit vectors, 10 brands, one of which holds 90% of the points.
    let large_dir = dir.path().join("large");
    let large = EmbeddedStore::open(&large_dir, dimension)?;
    let mut rng = Lcg(42);
    let start = Instant::now();
    for chunk_start in (0..args.large).step_by(1000) {
        let points = (chunk_start..(chunk_start + 1000).min(args.large))
            .map(|i| {
                let brand = if i % 10 == 0 { "small" } else { "big" };
                KnowledgePoint {
                    id: i as u64,
                    entry: KnowledgeEntry {
                        brand: brand.into(),
                        kind: KnowledgeKind::Reply,
                        cite: format!("r{i}"),
                        source: "synthetic".into(),
                        text: String::new(),
                        reply: None,
                        channel: None,
                        created_at: None,
                        content_hash: String::new(),
                    },
                    dense: rng.unit(dimension),
                    sparse: SparseVector::default(),
                    reply_dense: None,
                }
            })
            .collect();
        large.upsert(points).await?;
    }
    let written = start.elapsed().as_secs_f64();
    let start = Instant::now();
    large.optimize().await?;
    println!(
        "\n(large store: {} synthetic points written in {written:.1} s, then the rest of its \
         HNSW index built in {:.1} s)\n",
        args.large,
        start.elapsed().as_secs_f64()
    );
    println!("| search | points | filter keeps | p50 ms | p99 ms |");
    println!("|---|---:|---:|---:|---:|");
    let queries: Vec<Vec<f32>> = (0..64).map(|_| rng.unit(dimension)).collect();
    for (brand, share) in [("big", "90%"), ("small", "10%")] {
        let (p50, p99) = latency(large.clone(), &queries, brand, args.searches, dimension).await?;
        println!(
            "| store only, dense | {} | {share} | {p50:.2} | {p99:.2} |",
            args.large
        );
    }
    Ok(())
}

async fn latency(
    store: EmbeddedStore,
    queries: &[Vec<f32>],
    brand: &str,
    searches: usize,
    dimension: usize,
) -> anyhow::Result<(f64, f64)> {
    anyhow::ensure!(queries.iter().all(|q| q.len() == dimension));
    let mut times = Vec::with_capacity(searches);
    for i in 0..searches + 20 {
        let query = KnowledgeQuery {
            dense: queries[i % queries.len()].clone(),
            sparse: None,
            filter: KnowledgeFilter::brand(brand),
            limit: 5,
            with_vectors: false,
        };
        let start = Instant::now();
        let hits = store.search(&query).await?;
        anyhow::ensure!(hits.len() == 5, "expected 5 hits, got {}", hits.len());
        if i >= 20 {
            times.push(start.elapsed());
        }
    }
    Ok(percentiles(&mut times))
}

fn percentiles(times: &mut [Duration]) -> (f64, f64) {
    times.sort();
    let at = |q: f64| {
        let index = ((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1;
        times[index].as_secs_f64() * 1000.0
    };
    (at(0.50), at(0.99))
}

fn split_file(file: &Path, first: usize) -> anyhow::Result<(PathBuf, PathBuf)> {
    let text = std::fs::read_to_string(file)?;
    let lines: Vec<&str> = text.lines().collect();
    let a = file.with_file_name("big.jsonl");
    let b = file.with_file_name("small.jsonl");
    std::fs::write(&a, lines[..first].join("\n"))?;
    std::fs::write(&b, lines[first..].join("\n"))?;
    Ok((a, b))
}

/// Sentences/s of sentence-transformers at batch 1 (first 128) and batch 32 (all), on the
/// same sentences and model files.
fn sentence_transformers(
    python: &Path,
    model_dir: &Path,
    sentences: &[String],
) -> anyhow::Result<(f64, f64)> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/st_throughput.py");
    let mut child = Command::new(python)
        .arg(&script)
        .arg(model_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("running {}", python.display()))?;
    child
        .stdin
        .take()
        .context("stdin")?
        .write_all(serde_json::to_string(sentences)?.as_bytes())?;
    let output = child.wait_with_output()?;
    anyhow::ensure!(
        output.status.success(),
        "the sentence-transformers script failed"
    );
    let result: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let rate = |key: &str| result[key].as_f64().with_context(|| format!("no {key}"));
    Ok((rate("batch1")?, rate("batch32")?))
}

fn model_dir() -> anyhow::Result<PathBuf> {
    let manifest = Manifest::bundled();
    let entry = manifest
        .default_for(ModelRole::Embedding)
        .context("no embedding model in the manifest")?;
    let home = tact_models::tact_home();
    Ok(ModelCache::new(home.join("models")).require(entry)?)
}

/// A small deterministic generator, so runs compare.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) - 0.5
    }

    fn unit(&mut self, dimension: usize) -> Vec<f32> {
        let v: Vec<f32> = (0..dimension).map(|_| self.next()).collect();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.into_iter().map(|x| x / norm).collect()
    }
}
