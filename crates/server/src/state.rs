//! [`AppState`]: what every handler reaches: the workflow, the brands with their drafting
//! parts, the drafting queue, the SSE hub, metrics and settings.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use tact_core::{Embedder, KnowledgeWriter, Retriever, TextGenerator};
use tact_drafting::triage::TriageClassifier;
use tact_drafting::{ApprovedEvidence, BrandProfile, CrisisConfig, DraftOptions};
use tact_workflow::Workflow;

use crate::config::ServerConfig;
use crate::drafting::{DraftDispatch, EventHub};
use crate::metrics::Metrics;

/// One brand as the server serves it.
#[derive(Debug, Clone)]
pub struct BrandSetup {
    pub profile: BrandProfile,
    /// The brand folder (brand.toml, guideline files); guideline updates are written there.
    pub dir: Option<PathBuf>,
    /// Links and signatures of the brand's approved replies (for the checks).
    pub approved: ApprovedEvidence,
    pub crisis: CrisisConfig,
}

/// The model-facing parts the server drafts with, behind tact-core's seams.
#[derive(Clone)]
pub struct Models {
    pub generator: Arc<dyn TextGenerator>,
    pub embedder: Arc<dyn Embedder>,
    pub retriever: Arc<dyn Retriever>,
    /// Where approved replies and edited guidelines are written (tact-core's write seam).
    pub knowledge: Arc<dyn KnowledgeWriter>,
    /// How each message is drafted (candidates, sampling, max tokens).
    pub draft_options: DraftOptions,
}

/// Everything the server is built from; the CLI assembles it.
pub struct Services {
    pub workflow: Workflow,
    pub models: Models,
    pub brands: Vec<BrandSetup>,
}

/// The state behind [`AppState`].
pub struct Inner {
    pub(crate) workflow: Workflow,
    pub(crate) models: Models,
    pub(crate) triage: Arc<TriageClassifier>,
    pub(crate) brands: RwLock<BTreeMap<String, Arc<BrandSetup>>>,
    pub(crate) dispatch: Arc<dyn DraftDispatch>,
    pub(crate) events: EventHub,
    pub(crate) metrics: Metrics,
    pub(crate) config: ServerConfig,
    /// Wakes the learning loop after an approval.
    pub(crate) learn: tokio::sync::Notify,
    /// Guideline documents are replaced one at a time.
    pub(crate) guideline_updates: tokio::sync::Mutex<()>,
}

/// Shared by every handler (cheap to clone).
#[derive(Clone)]
pub struct AppState(pub(crate) Arc<Inner>);

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn workflow(&self) -> &Workflow {
        &self.0.workflow
    }

    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    pub fn config(&self) -> &ServerConfig {
        &self.0.config
    }

    /// The brand, or `None` when the server does not serve it.
    pub fn brand(&self, id: &str) -> Option<Arc<BrandSetup>> {
        self.brands
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    }

    pub fn brand_ids(&self) -> Vec<String> {
        self.brands
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect()
    }

    pub(crate) fn replace_brand(&self, brand: BrandSetup) {
        self.brands
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(brand.profile.id.clone(), Arc::new(brand));
    }
}
