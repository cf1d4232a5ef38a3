//! The approval service's HTTP face: tact's JSON API over the review workflow.
//!
//! [`Server`] wraps a [`tact_service::Service`] (brands, the drafting job, learning, crisis and
//! delivery; no HTTP there) with a [`ServerConfig`]. It serves the JSON API of `CONTRACT.md`
//! under `/api/v1` (routes and OpenAPI document from one list, [`routes`]), `/healthz`,
//! `/readyz`, `/metrics`, `/api/openapi.json`, SSE streams of drafts being written and the web
//! review page ([`web`]), and runs the service's loops while it serves. Errors become HTTP
//! answers in one place ([`error`]). It depends on neither tact-retrieval nor tact-inference.

pub mod api;
pub mod config;
mod convert;
pub mod error;
pub mod extract;
pub mod routes;
pub mod state;
pub mod web;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use config::ServerConfig;
pub use error::{ApiError, Error, ErrorCode, Result};
pub use state::AppState;
pub use tact_service::{Loops, Service};

/// The service with its HTTP surface, ready to run.
pub struct Server {
    state: AppState,
    loops: Loops,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").finish_non_exhaustive()
    }
}

impl Server {
    /// Serves `service` (built with its `loops` by [`Service::build`]) with `config`.
    pub fn new(service: Service, loops: Loops, config: ServerConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            state: AppState::new(service, config),
            loops,
        })
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves on `listener` and runs the service's loops until `shutdown` completes, then
    /// stops taking requests, lets drafts in progress and the delivery round finish, and
    /// returns.
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        let Server { state, loops } = self;
        let running = loops.spawn(state.service());
        let served = axum::serve(listener, router(state))
            .with_graceful_shutdown(shutdown)
            .await;
        running.stop().await;
        served.map_err(Error::Io)
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
