//! Wiring in one place: configuration → workflow store, engine, knowledge base, brands →
//! [`Service`]. `tact serve` puts HTTP in front of what this builds and `tact worker` runs it
//! without; other commands take the single parts they need from here.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use tact_core::{Retriever, TextGenerator};
use tact_drafting::{BrandProfile, CrisisConfig, DraftOptions};
use tact_models::{Manifest, ModelCache};
use tact_retrieval::retriever::KnowledgeRetriever;
use tact_service::{BrandSetup, Loops, Models, Parts, Service};
use tact_workflow::{SqliteStore, Workflow, WorkflowStore};

use crate::commands::draft::{chat_model_path, start_engine};
use crate::commands::{grounded, knowledge};
use crate::config::Config;

/// The demo brand's folder under the brands directory.
pub const DEMO_BRAND: &str = "demo";
const CRISIS_FILE: &str = "crisis.toml";

/// What [`service`] builds.
pub struct Wired {
    pub service: Service,
    /// Not yet running: `tact serve` runs them all, `tact worker` drafting only.
    pub loops: Loops,
    pub workflow: Workflow,
}

/// The service as `tact serve` and `tact worker` run it, built once: the configured workflow
/// store, the engine, the knowledge base with the brands ingested, drafting from the store's
/// queue.
pub async fn service(config: &Config, demo: bool) -> anyhow::Result<Wired> {
    let workflow = open_workflow(config).await?;
    let dirs = brand_dirs(config, demo)?;
    let model_path = chat_model_path(config)?;
    let queued = config.draft.candidates * config.service.drafting_workers;
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
    let (service, loops) = Service::build(
        Parts {
            workflow: workflow.clone(),
            models,
            brands,
        },
        config.service.clone(),
    )
    .await?;
    Ok(Wired {
        service,
        loops,
        workflow,
    })
}

/// The configured workflow store: PostgreSQL when `workflow.database_url` is set, else SQLite
/// under `$TACT_HOME/workflow`.
pub async fn open_workflow(config: &Config) -> anyhow::Result<Workflow> {
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

/// Fetches every model of the manifest that the cache lacks (`serve`, `worker`, `demo`).
pub fn ensure_models(config: &Config) -> anyhow::Result<()> {
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

pub fn draft_options(config: &Config) -> DraftOptions {
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
