//! The service behind tact's HTTP API and its workers: what tact does with a message between
//! its arrival and its delivery, with no HTTP in it.
//!
//! [`Service::build`] takes [`Parts`] (the workflow, the model-facing parts behind tact-core's
//! seams, the brands) and a [`ServiceConfig`], trains triage once and returns the
//! [`Service`] handle with its [`Loops`]: drafting from the workflow store's bounded queue
//! ([`drafting`], [`store_queue`]; the one drafting loop, run by `tact serve`, `tact worker`
//! and the API tests alike), delivery of approved replies by webhook ([`delivery`]; the one
//! delivery loop) and the learning loop that feeds approved replies to the knowledge base
//! through tact-core's write seam ([`learning`]). Brands are edited while the service runs
//! ([`brands`]) and scanned for crises with triage's own sentiment head ([`crisis`]).

pub mod brands;
pub mod config;
pub mod crisis;
pub mod delivery;
pub mod drafting;
pub mod error;
pub mod learning;
pub mod metrics;
pub mod state;
pub mod store_queue;

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

pub use config::{ServiceConfig, WebhookSettings};
pub use drafting::{DraftDispatch, DraftEvent, QueueFull, Reservation};
pub use error::{Error, Result};
pub use metrics::Metrics;
pub use state::{BrandSetup, Models, Parts, Service};

/// How long background loops get to finish their work at shutdown.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(60);

/// The service's background loops, built with it and not yet running.
pub struct Loops {
    drafting: store_queue::StoreDrafting,
    webhooks: delivery::BrandWebhooks,
}

impl std::fmt::Debug for Loops {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loops")
            .field("worker", &self.drafting.worker)
            .finish_non_exhaustive()
    }
}

impl Service {
    /// Validates the configuration and the webhooks and trains the triage classifiers (about
    /// a second). The loops draft from the workflow store's queue under a worker name of
    /// their own ([`store_queue::worker_name`]).
    pub async fn build(parts: Parts, config: ServiceConfig) -> Result<(Self, Loops)> {
        Self::build_as(parts, config, store_queue::worker_name()).await
    }

    /// [`Service::build`] under leases of `service.drafting_lease_secs` for the worker
    /// `worker` (unique among the processes sharing the store). Messages a killed process was
    /// drafting are drafted again once its leases run out, here or in another process.
    async fn build_as(
        parts: Parts,
        config: ServiceConfig,
        worker: String,
    ) -> Result<(Self, Loops)> {
        config.validate()?;
        if parts.brands.is_empty() {
            return Err(Error::Config("the service needs at least one brand".into()));
        }
        let queue = Arc::new(store_queue::StoreQueue::new(config.drafting_queue));
        let drafting = store_queue::StoreDrafting {
            queue: queue.clone(),
            worker,
            lease: config.drafting_lease(),
            poll: config.drafting_poll(),
            grace: SHUTDOWN_GRACE / 2,
        };
        let webhooks = delivery::BrandWebhooks::from_config(&config)?;
        let triage = tact_drafting::train_triage(parts.models.embedder.clone()).await?;
        let brands: BTreeMap<_, _> = parts
            .brands
            .into_iter()
            .map(|b| (b.profile.id.clone(), Arc::new(b)))
            .collect();
        let sentences = Arc::new(tact_drafting::grounding::CachedEmbedder::new(
            parts.models.embedder.clone(),
            tact_drafting::grounding::cache::DEFAULT_CAPACITY,
        ));
        let service = Service(Arc::new(state::Inner {
            workflow: parts.workflow,
            models: parts.models,
            triage: Arc::new(triage),
            sentences,
            brands: RwLock::new(brands),
            dispatch: queue,
            events: drafting::EventHub::default(),
            metrics: Metrics::default(),
            config,
            learn: tokio::sync::Notify::new(),
            guideline_updates: tokio::sync::Mutex::new(()),
        }));
        Ok((service, Loops { drafting, webhooks }))
    }
}

impl Loops {
    /// Starts drafting, delivery and learning (`tact serve`).
    pub fn spawn(self, service: &Service) -> Running {
        let (stop, stopped) = watch::channel(false);
        let mut tasks = JoinSet::new();
        tasks.spawn(self.drafting.run(service.clone(), stopped.clone()));
        tasks.spawn(delivery::run_delivery(
            service.clone(),
            self.webhooks,
            stopped.clone(),
        ));
        tasks.spawn(learning::run_learning(service.clone(), stopped));
        Running { stop, tasks }
    }

    /// Starts drafting only (`tact worker`): delivery and learning stay with the servers.
    pub fn spawn_drafting(self, service: &Service) -> Running {
        let (stop, stopped) = watch::channel(false);
        let mut tasks = JoinSet::new();
        tasks.spawn(self.drafting.run(service.clone(), stopped));
        Running { stop, tasks }
    }
}

/// Loops at work; [`Running::stop`] ends them.
#[derive(Debug)]
pub struct Running {
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl Running {
    /// Asks every loop to stop and waits up to [`SHUTDOWN_GRACE`]: drafts in progress and a
    /// delivery round finish, the rest is queued again for the next start.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        let finished = tokio::time::timeout(SHUTDOWN_GRACE, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        if finished.is_err() {
            tracing::warn!(
                "background work did not finish in time; unfinished drafts are queued again at the next start"
            );
        }
    }
}
