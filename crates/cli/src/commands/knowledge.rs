//! `tact ingest guidelines | replies` and `tact search`: the knowledge base from the command
//! line. The store is embedded Qdrant under `<home>/store` unless `store.url` names a Qdrant
//! server.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use tact_core::{Embedder, KnowledgeFilter, KnowledgeHit, KnowledgeKind, VectorStore};
use tact_models::{Manifest, ModelCache, ModelRole};
use tact_retrieval::replies::{ParsedReplies, ReplyFormat, parse_replies, read_replies};
use tact_retrieval::{
    ClusterConfig, ClusterStore, EmbeddedStore, IngestSummary, KnowledgeBase, RetrievalMode,
    Search, SentenceEmbedder, read_guideline_documents,
};

use crate::config::Config;

#[derive(Debug, Subcommand)]
pub enum IngestCommand {
    /// Split Markdown guidelines into clauses and store them (files, or directories of .md).
    Guidelines {
        #[arg(long)]
        brand: String,
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Store past approved replies from a CSV or JSONL file, or `-` for stdin. A bad row
    /// fails the whole ingest (nothing is written) unless `--skip-invalid` is given.
    Replies {
        #[arg(long)]
        brand: String,
        /// The file, or `-` to read stdin (then `--format` is needed).
        file: PathBuf,
        /// `csv` or `jsonl`; by default the file's extension says.
        #[arg(long, value_parser = parse_format)]
        format: Option<ReplyFormat>,
        /// Store the good rows and report the bad ones instead of failing.
        #[arg(long, conflicts_with = "strict")]
        skip_invalid: bool,
        /// The default since bad rows fail the ingest; kept so older scripts still run.
        #[arg(long, hide = true)]
        strict: bool,
    },
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    #[arg(long)]
    brand: String,
    /// Only `guideline` or `reply` entries.
    #[arg(long, value_parser = parse_kind)]
    kind: Option<KnowledgeKind>,
    /// Only replies from this channel.
    #[arg(long)]
    channel: Option<String>,
    /// How many results.
    #[arg(short, default_value_t = 5)]
    k: usize,
    /// Override `store.retrieval` (dense or hybrid).
    #[arg(long, value_parser = parse_mode)]
    mode: Option<RetrievalMode>,
    /// Print JSON lines instead of a table.
    #[arg(long)]
    json: bool,
    text: String,
}

fn parse_kind(text: &str) -> Result<KnowledgeKind, String> {
    KnowledgeKind::parse(text)
        .ok_or_else(|| format!("expected `guideline` or `reply`, got {text:?}"))
}

/// The replies `file` names (`-`: stdin) and the name their points record as their source.
fn read_replies_arg(
    file: &Path,
    format: Option<ReplyFormat>,
    brand: &str,
) -> anyhow::Result<(String, ParsedReplies)> {
    if file != Path::new("-") {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| file.display().to_string());
        return Ok((name, read_replies(file, format, brand)?));
    }
    let format = format.context("reading replies from stdin needs --format csv|jsonl")?;
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .context("reading replies from stdin")?;
    let parsed = parse_replies(&bytes, format, brand)
        .map_err(|reason| anyhow::anyhow!("stdin: {reason}"))?;
    Ok(("stdin".to_owned(), parsed))
}

fn parse_format(text: &str) -> Result<ReplyFormat, String> {
    ReplyFormat::parse(text).ok_or_else(|| format!("expected `csv` or `jsonl`, got {text:?}"))
}

fn parse_mode(text: &str) -> Result<RetrievalMode, String> {
    match text {
        "dense" => Ok(RetrievalMode::Dense),
        "hybrid" => Ok(RetrievalMode::Hybrid),
        _ => Err(format!("expected `dense` or `hybrid`, got {text:?}")),
    }
}

pub fn ingest(config: &Config, command: IngestCommand) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let kb = open(config).await?;
        let bar = progress_bar();
        let progress = |done: usize, total: usize| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
            if total > 0 && done == total {
                // The ingest ends by waiting for the store's search index (see EmbeddedStore).
                bar.set_message("building the search index");
            }
        };
        let summary = match command {
            IngestCommand::Guidelines { brand, paths } => {
                check_brand(&brand)?;
                let documents = read_guideline_documents(&paths)?;
                kb.ingest_guidelines(&brand, &documents, &progress).await?
            }
            IngestCommand::Replies {
                brand,
                file,
                format,
                skip_invalid,
                strict: _,
            } => {
                check_brand(&brand)?;
                let (source, parsed) = read_replies_arg(&file, format, &brand)?;
                kb.ingest_parsed_replies(&source, parsed, !skip_invalid, &progress)
                    .await
                    .with_context(|| {
                        format!("ingesting {source} (--skip-invalid stores the good rows)")
                    })?
            }
        };
        bar.finish_and_clear();
        print_summary(&summary);
        Ok(())
    })
}

pub fn search(config: &Config, args: SearchArgs) -> anyhow::Result<()> {
    check_brand(&args.brand)?;
    runtime()?.block_on(async {
        let kb = open(config).await?;
        let mut filter = KnowledgeFilter::brand(&args.brand);
        filter.kind = args.kind;
        filter.channel = args.channel.clone();
        let hits = kb
            .search(&Search {
                filter,
                text: args.text.clone(),
                limit: args.k.max(1),
                mode: args.mode.unwrap_or(config.store.retrieval),
            })
            .await?;
        if args.json {
            for hit in &hits {
                println!("{}", serde_json::to_string(hit)?);
            }
        } else {
            print_hits(&hits);
        }
        Ok(())
    })
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// The embedder from the model cache and the configured store.
pub(crate) async fn open(config: &Config) -> anyhow::Result<KnowledgeBase> {
    Ok(open_with_embedder(config).await?.0)
}

/// [`open`], also returning the embedder the knowledge base uses (drafting scores with it).
pub(crate) async fn open_with_embedder(
    config: &Config,
) -> anyhow::Result<(KnowledgeBase, Arc<dyn Embedder>)> {
    let manifest = Manifest::bundled();
    let entry = manifest
        .default_for(ModelRole::Embedding)
        .context("the model manifest has no embedding model")?;
    let cache = ModelCache::new(config.models_dir());
    let dir = cache.require(entry).with_context(|| {
        format!(
            "the embedding model is missing; run `tact models fetch --model {}`",
            entry.id
        )
    })?;
    let embedder = tokio::task::spawn_blocking(move || SentenceEmbedder::load(&dir)).await??;
    let dimension = embedder.dimension();
    let store: Arc<dyn VectorStore> = match &config.store.url {
        Some(url) => Arc::new(
            ClusterStore::connect(
                &ClusterConfig {
                    url: url.clone(),
                    api_key: config.store.api_key.clone(),
                    collection_prefix: config.store.collection_prefix.clone(),
                },
                dimension,
            )
            .await?,
        ),
        None => {
            let dir = config.home().join("store");
            Arc::new(
                tokio::task::spawn_blocking(move || EmbeddedStore::open(&dir, dimension)).await??,
            )
        }
    };
    let embedder: Arc<dyn Embedder> = Arc::new(embedder);
    Ok((KnowledgeBase::new(embedder.clone(), store)?, embedder))
}

fn check_brand(brand: &str) -> anyhow::Result<()> {
    anyhow::ensure!(!brand.trim().is_empty(), "--brand must not be empty");
    Ok(())
}

fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "embedding {bar:30} {pos}/{len} entries  {per_sec}  ETA {eta}  {msg}",
        )
        .expect("a valid template"),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

fn print_summary(summary: &IngestSummary) {
    for row in &summary.rejected {
        eprintln!("skipped {row}");
    }
    println!(
        "added {}, unchanged {}, replaced {}, removed {}, rejected {}",
        summary.added,
        summary.unchanged,
        summary.replaced,
        summary.removed,
        summary.rejected.len()
    );
}

fn print_hits(hits: &[KnowledgeHit]) {
    if hits.is_empty() {
        println!("no results");
    }
    for (rank, hit) in hits.iter().enumerate() {
        let entry = &hit.entry;
        println!(
            "{}. [{:.3}] {} ({})",
            rank + 1,
            hit.score,
            entry.cite,
            entry.kind
        );
        println!("   {}", entry.text);
        if let Some(reply) = &entry.reply {
            println!("   reply: {reply}");
        }
    }
}
