//! What the browser extension calls: an ad-hoc draft for any text, and the guideline checks
//! (also the review page's editor, as the reviewer types).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Map, Value, json};
use tact_core::InboundMessage;

use crate::api::{self, CheckRequest, CheckResponse, DraftRequest, MessageSummary, ViolationView};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Agent, ApiJson};
use crate::routes::messages::{load, store_and_queue};
use crate::state::AppState;

/// Draft a reply to any text. It is recorded as an inbound message (so it shows in the review
/// queue); follow `/api/v1/messages/{id}/events` for the drafts.
#[utoipa::path(post, path = "/api/v1/drafts", tag = "drafts",
    request_body = DraftRequest,
    responses(
        (status = 202, body = MessageSummary),
        (status = 422, body = crate::error::ErrorBody),
        (status = 503, description = "The drafting queue is full", body = crate::error::ErrorBody),
    ))]
pub async fn draft(
    caller: Agent,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<DraftRequest>,
) -> ApiResult<(StatusCode, Json<MessageSummary>)> {
    if body.text.trim().is_empty() {
        return Err(ApiError::invalid("`text` must not be empty"));
    }
    let mut extra = Map::new();
    if let Some(context) = &body.context {
        extra.insert("context".into(), json!(context));
    }
    extra.insert("source".into(), Value::String("ad_hoc".into()));
    let inbound = InboundMessage {
        id: format!("adhoc-{}", uuid::Uuid::new_v4()),
        brand: body.brand,
        channel: body.channel,
        author: body
            .author
            .filter(|a| !a.trim().is_empty())
            .unwrap_or_else(|| "unknown".into()),
        text: body.text,
        created_at: chrono::Utc::now().to_rfc3339(),
        extra,
    };
    let records = store_and_queue(&state, &caller, vec![inbound]).await?;
    let record = records
        .first()
        .ok_or_else(|| ApiError::internal("ad-hoc draft", &"nothing was stored"))?;
    Ok((StatusCode::ACCEPTED, Json(api::summary(record, None))))
}

/// Run the checks a candidate gets on a reply text: the brand's guideline checks and the
/// grounding guard (facts no source states). With `message_id`, the text is checked as a reply
/// to that message (the review page's editor): echoes, the customer's own details, and the
/// sources a draft of it is written from.
#[utoipa::path(post, path = "/api/v1/check", tag = "drafts",
    request_body = CheckRequest,
    responses((status = 200, body = CheckResponse), (status = 422, body = crate::error::ErrorBody)))]
pub async fn check(
    caller: Agent,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CheckRequest>,
) -> ApiResult<Json<CheckResponse>> {
    caller.require_brand(&body.brand)?;
    let brand = state.brand(&body.brand).ok_or_else(|| {
        ApiError::invalid(format!("this server does not serve brand {:?}", body.brand))
    })?;
    if body.text.trim().is_empty() {
        return Ok(Json(CheckResponse {
            violations: Vec::new(),
            blocks: 0,
        }));
    }
    let record = match &body.message_id {
        Some(id) => {
            let record = load(&state, &caller, id).await?;
            if record.inbound.brand != body.brand {
                return Err(ApiError::invalid(format!(
                    "message {id:?} is brand {:?}'s, not {:?}'s",
                    record.inbound.brand, body.brand
                )));
            }
            Some(record)
        }
        None => None,
    };
    let inbound = record.as_ref().map(|r| &r.inbound);
    let violations = state
        .check_reply(&brand, &body.channel, inbound, &body.text)
        .await?;
    let blocks = tact_workflow::draft::count_blocks(&violations);
    Ok(Json(CheckResponse {
        violations: violations
            .iter()
            .map(|v| ViolationView::new(v, &body.text))
            .collect(),
        blocks,
    }))
}
