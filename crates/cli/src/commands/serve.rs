//! `tact serve [--demo] [--addr HOST:PORT]`: the approval service, and `tact token create`.
//! This is the wiring: the workflow store, the engine, the knowledge base and the brands are
//! opened here and handed to `tact-server`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Subcommand};
use tact_core::{InboundMessage, Retriever, TextGenerator};
use tact_drafting::{BrandProfile, CrisisConfig, DraftOptions};
use tact_models::{Manifest, ModelCache};
use tact_retrieval::retriever::KnowledgeRetriever;
use tact_server::store_queue::worker_name;
use tact_server::{BrandSetup, Models, Server, Services};
use tact_workflow::{BrandScope, Role, SqliteStore, Workflow, WorkflowStore};

use crate::commands::draft::{chat_model_path, start_engine};
use crate::commands::{grounded, knowledge};
use crate::config::Config;

const DEMO_BRAND: &str = "demo";
const CRISIS_FILE: &str = "crisis.toml";

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Serve the demo brand (brands/demo) with a few inbound messages, and print an admin
    /// token. Needs no configuration.
    #[arg(long)]
    pub demo: bool,
    /// Address to listen on (default: server.addr); port 0 picks a free port.
    #[arg(long, value_name = "HOST:PORT")]
    pub addr: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token and print its secret (shown this once only).
    Create {
        /// agent, approver or admin.
        #[arg(long)]
        role: String,
        /// Brand id the token may act for (repeat for more); `*` for all. Required for agent
        /// and approver tokens; an admin token without it acts for every brand.
        #[arg(long = "brand")]
        brands: Vec<String>,
        /// Who or what the token is for (shown in the audit log).
        #[arg(long)]
        label: Option<String>,
    },
}

/// Inbound messages `tact serve --demo` starts with.
const DEMO_MESSAGES: [(&str, &str, &str, &str); 5] = [
    (
        "demo-1",
        "x",
        "@sam_sips",
        "My order #48213 arrived yesterday but the bag of beans was split open. Can you help?",
    ),
    (
        "demo-2",
        "instagram",
        "@morning.ritual",
        "Do you ship your Ethiopian roast to Canada? Would love to try it!",
    ),
    (
        "demo-3",
        "email",
        "Priya N.",
        "I was charged twice for my subscription this month. Please sort this out.",
    ),
    (
        "demo-4",
        "x",
        "@latte_larry",
        "Ordered two weeks ago and still nothing. Where is my coffee??",
    ),
    (
        "demo-5",
        "forum",
        "beanfan",
        "What grind size do you recommend for the house blend in a French press?",
    ),
];

pub fn run(config: &Config, args: ServeArgs) -> anyhow::Result<()> {
    ensure_models(config)?;
    let addr = args
        .addr
        .clone()
        .unwrap_or_else(|| config.server.addr.clone());
    knowledge::runtime()?.block_on(async {
        let (server, workflow) = build_server(config, args.demo).await?;
        let secret = if args.demo {
            let brand = server
                .state()
                .brand_ids()
                .into_iter()
                .next()
                .unwrap_or_default();
            submit_demo_messages(&workflow, &brand).await?;
            let issued = workflow
                .create_token("demo admin", Role::Admin, BrandScope::All)
                .await?;
            Some(issued.secret)
        } else {
            None
        };
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let local = listener.local_addr()?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "tact is running at http://{local}/")?;
        if let Some(secret) = secret {
            writeln!(out, "admin token: {secret}")?;
        }
        out.flush()?;
        drop(out);
        server.run(listener, shutdown_signal()).await?;
        anyhow::Ok(())
    })
}

/// The server as `tact serve` and `tact worker` run it: the configured workflow store, the
/// engine, the knowledge base with the brands ingested, drafting from the store's queue.
pub(crate) async fn build_server(
    config: &Config,
    demo: bool,
) -> anyhow::Result<(Server, Workflow)> {
    let workflow = open_workflow(config).await?;
    let dirs = brand_dirs(config, demo)?;
    let model_path = chat_model_path(config)?;
    let queued = config.draft.candidates * config.server.drafting_workers;
    let engine = tokio::task::block_in_place(|| start_engine(config, &model_path, queued))?;
    let generator: Arc<dyn TextGenerator> = Arc::new(engine);
    let (kb, embedder) = knowledge::open_with_embedder(config).await?;
    let mut brands = Vec::new();
    for dir in &dirs {
        let profile = BrandProfile::load(dir)
            .with_context(|| format!("cannot load brand from {}", dir.display()))?;
        grounded::ingest_brand(&kb, &profile, dir).await?;
        brands.push(BrandSetup {
            approved: grounded::approved_evidence(dir)?,
            crisis: crisis_config(dir)?,
            profile,
            dir: Some(dir.clone()),
        });
    }
    let retriever: Arc<dyn Retriever> =
        Arc::new(KnowledgeRetriever::new(kb.clone(), config.store.retrieval));
    let models = Models {
        generator,
        embedder,
        retriever,
        knowledge: Arc::new(kb),
        draft_options: draft_options(config),
    };
    let server = Server::with_store_queue(
        Services {
            workflow: workflow.clone(),
            models,
            brands,
        },
        config.server.clone(),
        worker_name(),
    )
    .await?;
    Ok((server, workflow))
}

pub fn token(config: &Config, command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create {
            role,
            brands,
            label,
        } => {
            let role = Role::parse(&role).with_context(|| {
                format!("--role must be agent, approver or admin, got {role:?}")
            })?;
            anyhow::ensure!(
                !brands.is_empty() || role == Role::Admin,
                "an {} token needs --brand BRAND (repeat it for more brands, or --brand '*' for all)",
                role.as_str()
            );
            let scope = if brands.is_empty() || brands.iter().any(|b| b == "*") {
                BrandScope::All
            } else {
                BrandScope::Only(brands)
            };
            let label = label.unwrap_or_else(|| format!("{} token", role.as_str()));
            knowledge::runtime()?.block_on(async {
                let workflow = open_workflow(config).await?;
                let issued = workflow.create_token(&label, role, scope).await?;
                eprintln!(
                    "created {} token {} ({:?}); the secret is shown this once:",
                    issued.token.role.as_str(),
                    issued.token.id,
                    issued.token.label
                );
                println!("{}", issued.secret);
                anyhow::Ok(())
            })
        }
    }
}

/// The configured workflow store: PostgreSQL when `workflow.database_url` is set, else SQLite
/// under `$TACT_HOME/workflow`.
pub(crate) async fn open_workflow(config: &Config) -> anyhow::Result<Workflow> {
    let store: Arc<dyn WorkflowStore> =
        match &config.workflow.database_url {
            Some(url) => Arc::new(
                tact_workflow::PostgresStore::connect(url, config.workflow.schema.as_deref())
                    .await
                    .context("cannot open the PostgreSQL workflow store")?,
            ),
            None => {
                let dir = config.workflow_dir();
                Arc::new(SqliteStore::open(&dir).await.with_context(|| {
                    format!("cannot open the workflow store in {}", dir.display())
                })?)
            }
        };
    Ok(Workflow::new(store))
}

pub(crate) fn ensure_models(config: &Config) -> anyhow::Result<()> {
    let manifest = Manifest::bundled();
    let cache = ModelCache::new(config.models_dir());
    for model in &manifest.models {
        if cache.require(model).is_err() {
            eprintln!("fetching {} ...", model.id);
            cache
                .fetch(model)
                .with_context(|| format!("fetching {}", model.id))?;
        }
    }
    Ok(())
}

/// The demo brand, or every folder of the brands directory with a `brand.toml`.
fn brand_dirs(config: &Config, demo: bool) -> anyhow::Result<Vec<PathBuf>> {
    let root = config.brands_dir();
    if demo {
        let dir = root.join(DEMO_BRAND);
        anyhow::ensure!(
            dir.join("brand.toml").is_file(),
            "the demo brand is missing: {} has no brand.toml (run from the repository root, or set brands_dir)",
            dir.display()
        );
        return Ok(vec![dir]);
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .with_context(|| format!("cannot read the brands directory {}", root.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("brand.toml").is_file())
        .collect();
    dirs.sort();
    anyhow::ensure!(
        !dirs.is_empty(),
        "no brand folders (with a brand.toml) in {}",
        root.display()
    );
    Ok(dirs)
}

fn crisis_config(dir: &Path) -> anyhow::Result<CrisisConfig> {
    let path = dir.join(CRISIS_FILE);
    if !path.is_file() {
        return Ok(CrisisConfig::default());
    }
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(CrisisConfig::from_toml(&path.display().to_string(), &text)?)
}

pub(crate) fn draft_options(config: &Config) -> DraftOptions {
    DraftOptions {
        candidates: config.draft.candidates,
        temperature: config.draft.temperature,
        top_k: config.draft.top_k,
        top_p: config.draft.top_p,
        repeat_penalty: config.draft.repeat_penalty as f32,
        max_new_tokens: config.draft.max_new_tokens,
        ..DraftOptions::default()
    }
}

async fn submit_demo_messages(workflow: &Workflow, brand: &str) -> anyhow::Result<()> {
    let now = chrono::Utc::now();
    for (i, (id, channel, author, text)) in DEMO_MESSAGES.iter().enumerate() {
        let at = now - chrono::Duration::minutes((DEMO_MESSAGES.len() - i) as i64);
        let inbound = InboundMessage {
            id: (*id).into(),
            brand: brand.to_owned(),
            channel: (*channel).into(),
            author: (*author).into(),
            text: (*text).into(),
            created_at: at.to_rfc3339(),
            extra: Default::default(),
        };
        match workflow.submit(&inbound, "demo").await {
            Ok(_) | Err(tact_workflow::Error::DuplicateMessage(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Ctrl-C or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
    eprintln!("shutting down: finishing drafts in progress");
}
