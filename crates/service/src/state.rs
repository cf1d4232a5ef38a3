//! [`Service`]: what the HTTP handlers, the workers and the background loops share: the
//! workflow, the brands with their drafting parts, the drafting queue, the draft event hub,
//! metrics and settings.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use tact_core::{Embedder, KnowledgeWriter, Retriever, TextGenerator};
use tact_drafting::grounding::CachedEmbedder;
use tact_drafting::triage::TriageClassifier;
use tact_drafting::{ApprovedEvidence, BrandProfile, CrisisConfig, DraftOptions};
use tact_workflow::Workflow;

use crate::config::ServiceConfig;
use crate::drafting::{DraftDispatch, EventHub};
use crate::metrics::Metrics;

/// One brand as the service serves it.
#[derive(Debug, Clone)]
pub struct BrandSetup {
    pub profile: BrandProfile,
    /// The brand folder (brand.toml, guideline files); guideline updates are written there.
    pub dir: Option<PathBuf>,
    /// Links and signatures of the brand's approved replies (for the checks).
    pub approved: ApprovedEvidence,
    pub crisis: CrisisConfig,
}

/// The model-facing parts the service drafts with, behind tact-core's seams.
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

/// Everything the service is built from; the CLI's wiring assembles it.
pub struct Parts {
    pub workflow: Workflow,
    pub models: Models,
    pub brands: Vec<BrandSetup>,
}

/// The state behind [`Service`].
pub struct Inner {
    pub(crate) workflow: Workflow,
    pub(crate) models: Models,
    /// Trained once at start-up; the crisis radar uses its sentiment head too.
    pub(crate) triage: Arc<TriageClassifier>,
    /// The grounding guard's source sentences, embedded once for every draft and check.
    pub(crate) sentences: Arc<CachedEmbedder>,
    pub(crate) brands: RwLock<BTreeMap<String, Arc<BrandSetup>>>,
    pub(crate) dispatch: Arc<dyn DraftDispatch>,
    pub(crate) events: EventHub,
    pub(crate) metrics: Metrics,
    pub(crate) config: ServiceConfig,
    /// Wakes the learning loop after an approval.
    pub(crate) learn: tokio::sync::Notify,
    /// Guideline documents are replaced one at a time.
    pub(crate) guideline_updates: tokio::sync::Mutex<()>,
}

/// The running service, shared by every handler, worker and loop (cheap to clone).
#[derive(Clone)]
pub struct Service(pub(crate) Arc<Inner>);

impl std::ops::Deref for Service {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl Service {
    pub fn workflow(&self) -> &Workflow {
        &self.0.workflow
    }

    pub fn models(&self) -> &Models {
        &self.0.models
    }

    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    pub fn config(&self) -> &ServiceConfig {
        &self.0.config
    }

    /// Admission to the drafting queue.
    pub fn dispatch(&self) -> &dyn DraftDispatch {
        self.0.dispatch.as_ref()
    }

    /// Draft text as it is generated, by message.
    pub fn events(&self) -> &EventHub {
        &self.0.events
    }

    /// Tells the learning loop that a reply was approved.
    pub fn approved(&self) {
        self.0.learn.notify_one();
    }

    /// The brand, or `None` when the service does not serve it.
    pub fn brand(&self, id: &str) -> Option<Arc<BrandSetup>> {
        self.0
            .brands
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    }

    pub fn brand_ids(&self) -> Vec<String> {
        self.0
            .brands
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect()
    }

    pub(crate) fn replace_brand(&self, brand: BrandSetup) {
        self.0
            .brands
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(brand.profile.id.clone(), Arc::new(brand));
    }
}
