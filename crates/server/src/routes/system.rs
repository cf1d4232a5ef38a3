//! Health, readiness and metrics.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use tact_workflow::MessageFilter;

use crate::api::Health;
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::extract::Admin;
use crate::state::AppState;

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "system", security(()), responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// The store answers and the models and brands are loaded.
#[utoipa::path(get, path = "/readyz", tag = "system", security(()),
    responses((status = 200, body = Health), (status = 503, body = crate::error::ErrorBody)))]
pub async fn readyz(State(state): State<AppState>) -> ApiResult<Json<Health>> {
    let probe = MessageFilter {
        limit: Some(1),
        ..MessageFilter::default()
    };
    if let Err(e) = state.workflow().queue(&probe).await {
        tracing::warn!(error = %e, "readiness: the workflow store does not answer");
        return Err(ApiError::new(
            ErrorCode::NotReady,
            "the workflow store does not answer",
        ));
    }
    if state.brand_ids().is_empty() {
        return Err(ApiError::new(ErrorCode::NotReady, "no brand is loaded"));
    }
    Ok(Json(Health {
        status: "ready".into(),
    }))
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "system",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String)))]
pub async fn metrics(_caller: Admin, State(state): State<AppState>) -> impl IntoResponse {
    let text = state
        .metrics()
        .render(state.dispatch().depth(), state.dispatch().capacity());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
}
