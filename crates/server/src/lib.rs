//! The approval service: tact's HTTP API over the review workflow.
//!
//! [`Server`] is built from [`Services`] (the workflow, the model-facing parts behind
//! tact-core's seams, the brands) and a [`ServerConfig`]. It serves the JSON API of
//! `CONTRACT.md` under `/api/v1` (routes and OpenAPI document from one list, [`routes`]),
//! `/healthz`, `/readyz`, `/metrics`, `/api/openapi.json` and the web review page ([`web`]),
//! and runs three background loops: drafting from the workflow store's bounded queue with
//! SSE streaming ([`drafting`], [`store_queue`]), delivery of approved replies by webhook
//! ([`delivery`]) and the learning loop that feeds approved replies to the knowledge base
//! through tact-core's write seam ([`learning`]). Errors become HTTP answers in one place
//! ([`error`]).

pub mod api;
pub mod config;
mod convert;
pub mod delivery;
pub mod drafting;
pub mod error;
pub mod extract;
pub mod learning;
pub mod metrics;
pub mod routes;
pub mod state;
pub mod store_queue;
pub mod web;

use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use config::{ServerConfig, WebhookSettings};
pub use drafting::{DraftDispatch, QueueFull, Reservation};
pub use error::{ApiError, Error, ErrorCode, Result};
pub use state::{AppState, BrandSetup, Models, Services};

/// How long background loops get to finish their work at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(60);

/// The service, ready to run. It drafts from the queue kept in the workflow store, as every
/// `tact serve` and `tact worker` process does: there is one drafting loop.
pub struct Server {
    state: AppState,
    drafting: store_queue::StoreDrafting,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").finish_non_exhaustive()
    }
}

impl Server {
    /// Validates the configuration and trains the triage classifiers (about a second); drafts
    /// from the workflow store's queue under a worker name of its own
    /// ([`store_queue::worker_name`]).
    pub async fn new(services: Services, config: ServerConfig) -> Result<Self> {
        Self::with_store_queue(services, config, store_queue::worker_name()).await
    }

    /// [`Server::new`] drafting from the queue kept in the workflow store, under leases of
    /// `server.drafting_lease_secs` for the worker `worker` (unique among the processes
    /// sharing the store; see [`store_queue::worker_name`]). Messages a killed process was
    /// drafting are drafted again once its leases run out, here or in another process.
    pub async fn with_store_queue(
        services: Services,
        config: ServerConfig,
        worker: String,
    ) -> Result<Self> {
        let queue = Arc::new(store_queue::StoreQueue::new(config.drafting_queue));
        let drafting = store_queue::StoreDrafting {
            queue: queue.clone(),
            worker,
            lease: config.drafting_lease(),
            poll: config.drafting_poll(),
            grace: SHUTDOWN_GRACE / 2,
        };
        Self::build(services, config, queue, drafting).await
    }

    async fn build(
        services: Services,
        config: ServerConfig,
        dispatch: Arc<dyn DraftDispatch>,
        drafting: store_queue::StoreDrafting,
    ) -> Result<Self> {
        config.validate()?;
        if services.brands.is_empty() {
            return Err(Error::Config("the server needs at least one brand".into()));
        }
        let triage = tact_drafting::train_triage(services.models.embedder.clone()).await?;
        let brands = services
            .brands
            .into_iter()
            .map(|b| (b.profile.id.clone(), Arc::new(b)))
            .collect();
        let state = AppState(Arc::new(state::Inner {
            workflow: services.workflow,
            models: services.models,
            triage: Arc::new(triage),
            brands: RwLock::new(brands),
            dispatch,
            events: drafting::EventHub::default(),
            metrics: metrics::Metrics::default(),
            config,
            learn: tokio::sync::Notify::new(),
            guideline_updates: tokio::sync::Mutex::new(()),
        }));
        Ok(Self { state, drafting })
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves on `listener` until `shutdown` completes, then stops taking requests, lets
    /// drafts in progress and the delivery round finish, and returns.
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        let Server { state, drafting } = self;
        let webhooks = delivery::BrandWebhooks::from_config(&state)?;
        let (stop, stopped) = watch::channel(false);
        let mut background = tokio::task::JoinSet::new();
        background.spawn(drafting.run(state.clone(), stopped.clone()));
        background.spawn(delivery::run_delivery(
            state.clone(),
            webhooks,
            stopped.clone(),
        ));
        background.spawn(learning::run_learning(state.clone(), stopped));
        let app = router(state);
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await;
        let _ = stop.send(true);
        let finished = tokio::time::timeout(SHUTDOWN_GRACE, async {
            while background.join_next().await.is_some() {}
        })
        .await;
        if finished.is_err() {
            tracing::warn!(
                "background work did not finish in time; unfinished drafts are queued again at the next start"
            );
        }
        served.map_err(Error::Io)
    }
}

impl Server {
    /// Drafts from the store-kept queue without serving HTTP (`tact worker`) until `shutdown`
    /// completes; drafts in progress then get the grace period and the rest go back to the
    /// queue.
    pub async fn run_worker(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        let Server { state, drafting } = self;
        let (stop, stopped) = watch::channel(false);
        let worker = tokio::spawn(drafting.run(state, stopped));
        shutdown.await;
        let _ = stop.send(true);
        worker
            .await
            .map_err(|e| Error::Io(std::io::Error::other(e)))
    }
}

/// The whole HTTP surface with its layers: body limit, request timeout, CORS, tracing, and
/// JSON bodies for errors produced outside the handlers.
pub fn router(state: AppState) -> Router {
    let config = state.config().clone();
    let (api, openapi) = routes::api().split_for_parts();
    let openapi = Arc::new(openapi);
    Router::new()
        .merge(api)
        .route(
            "/api/openapi.json",
            axum::routing::get(move || {
                let openapi = openapi.clone();
                async move { axum::Json(openapi.as_ref().clone()) }
            }),
        )
        .merge(web::router())
        .fallback(|| async {
            ApiError::not_found("no such route; the API is described at /api/openapi.json")
        })
        .layer(axum::middleware::map_response(json_errors))
        .layer(DefaultBodyLimit::max(config.body_limit_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            config.request_timeout(),
        ))
        .layer(cors(&config.cors_origins))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// CORS for the configured origins only; none configured, no cross-origin access.
fn cors(origins: &[String]) -> CorsLayer {
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        // A client told 503 `queue_full` needs to read how long to wait.
        .expose_headers([header::RETRY_AFTER])
}

/// Errors answered by axum or a layer (405, 408, 413, ...) come without a JSON body; give
/// them the API's error shape.
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let code = ErrorCode::from_status(status);
    let message = match status {
        StatusCode::METHOD_NOT_ALLOWED => "this route does not accept this method".to_owned(),
        StatusCode::REQUEST_TIMEOUT => {
            "the request took too long (server.request_timeout_secs)".to_owned()
        }
        StatusCode::PAYLOAD_TOO_LARGE => {
            "the request body is over the size limit (server.body_limit_bytes)".to_owned()
        }
        _ => {
            let body = axum::body::to_bytes(response.into_body(), 64 * 1024)
                .await
                .unwrap_or_default();
            let text = String::from_utf8_lossy(&body).trim().to_owned();
            if text.is_empty() {
                status.canonical_reason().unwrap_or("error").to_owned()
            } else {
                text
            }
        }
    };
    let mut answer = ApiError::new(code, message).into_response();
    *answer.status_mut() = status;
    answer
}
