//! Review verbs (approve, reject, escalate, mark posted) and the audit log.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use tact_workflow::{AuditAction, BrandScope, MessageState, ReplyChoice, Status};
use utoipa::IntoParams;

use crate::api::{
    ApproveRequest, AuditEntryView, AuditList, MessageDetail, ProposeRequest, ReasonRequest,
    VersionRequest,
};
use crate::error::{ApiError, ApiResult};
use crate::extract::{Agent, ApiJson, Approver};
use crate::routes::messages::{load, message_detail};
use crate::state::AppState;

/// Approve a candidate, or an edit of one. An edited text is checked again against the
/// brand's guidelines; block-severity violations need `override_reason`. With the last
/// approval the policy requires, the reply enters the outbox.
#[utoipa::path(post, path = "/api/v1/messages/{id}/approve", tag = "review",
    params(("id" = String, Path, description = "Message id")),
    request_body = ApproveRequest,
    responses(
        (status = 200, body = MessageDetail),
        (status = 409, description = "Stale version or not awaiting review", body = crate::error::ErrorBody),
        (status = 422, description = "Empty text, unknown candidate, or block violations without an override reason", body = crate::error::ErrorBody),
    ))]
pub async fn approve(
    caller: Approver,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ApproveRequest>,
) -> ApiResult<Json<MessageDetail>> {
    let record = load(&state, &caller, &id).await?;
    let choice = match body.text {
        Some(text) => Some(edited(&state, &record, body.candidate, text).await?),
        // A second approver approves the text already proposed.
        None => match &record.state {
            MessageState::AwaitingReview(round)
                if round
                    .proposal
                    .as_ref()
                    .is_some_and(|p| p.candidate == body.candidate) =>
            {
                None
            }
            MessageState::Received
            | MessageState::Drafting
            | MessageState::AwaitingReview(_)
            | MessageState::Approved(_)
            | MessageState::Sent(_)
            | MessageState::Rejected { .. }
            | MessageState::Escalated { .. }
            | MessageState::Failed { .. } => Some(ReplyChoice::Candidate(body.candidate)),
        },
    };
    let override_reason = body.override_reason.filter(|r| !r.trim().is_empty());
    let updated = state
        .workflow()
        .approve(&id, body.version, &caller.actor(), choice, override_reason)
        .await?;
    if updated.state.status() == Status::Approved {
        state.approved();
    }
    observe_review_latency(&state, &id).await;
    Ok(Json(message_detail(&state, updated).await?))
}

/// An edit of candidate `candidate`, checked again as a candidate is: the brand's guidelines
/// and the grounding guard (a fact the edit adds that no source states is flagged).
async fn edited(
    state: &AppState,
    record: &tact_workflow::MessageRecord,
    candidate: usize,
    text: String,
) -> ApiResult<ReplyChoice> {
    if text.trim().is_empty() {
        return Err(ApiError::invalid("`text` must not be empty"));
    }
    let brand = state.brand(&record.inbound.brand).ok_or_else(|| {
        ApiError::invalid(format!(
            "this server does not serve brand {:?}, so an edit cannot be checked",
            record.inbound.brand
        ))
    })?;
    let violations = state
        .check_reply(
            &brand,
            &record.inbound.channel,
            Some(&record.inbound),
            &text,
        )
        .await?;
    Ok(ReplyChoice::Edited {
        candidate,
        text,
        violations,
    })
}

/// Put a candidate, or an edit of one, forward for approval without approving it: what an
/// agent does (e.g. from the browser extension). An edited text is checked again against the
/// brand's guidelines; the violations travel with the proposal for the approver to see.
#[utoipa::path(post, path = "/api/v1/messages/{id}/propose", tag = "review",
    params(("id" = String, Path, description = "Message id")),
    request_body = ProposeRequest,
    responses(
        (status = 200, body = MessageDetail),
        (status = 409, description = "Stale version or not awaiting review", body = crate::error::ErrorBody),
        (status = 422, description = "Empty text or unknown candidate", body = crate::error::ErrorBody),
    ))]
pub async fn propose(
    caller: Agent,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ProposeRequest>,
) -> ApiResult<Json<MessageDetail>> {
    let record = load(&state, &caller, &id).await?;
    let choice = match body.text {
        Some(text) => edited(&state, &record, body.candidate, text).await?,
        None => ReplyChoice::Candidate(body.candidate),
    };
    let updated = state
        .workflow()
        .propose(&id, body.version, &caller.actor(), choice)
        .await?;
    Ok(Json(message_detail(&state, updated).await?))
}

/// Reject the drafts; nothing is sent.
#[utoipa::path(post, path = "/api/v1/messages/{id}/reject", tag = "review",
    params(("id" = String, Path, description = "Message id")),
    request_body = ReasonRequest,
    responses((status = 200, body = MessageDetail), (status = 409, body = crate::error::ErrorBody)))]
pub async fn reject(
    caller: Approver,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ReasonRequest>,
) -> ApiResult<Json<MessageDetail>> {
    load(&state, &caller, &id).await?;
    non_empty_reason(&body.reason)?;
    let updated = state
        .workflow()
        .reject(&id, body.version, &caller.actor(), &body.reason)
        .await?;
    observe_review_latency(&state, &id).await;
    Ok(Json(message_detail(&state, updated).await?))
}

/// Hand the message to a person (no reply from tact).
#[utoipa::path(post, path = "/api/v1/messages/{id}/escalate", tag = "review",
    params(("id" = String, Path, description = "Message id")),
    request_body = ReasonRequest,
    responses((status = 200, body = MessageDetail), (status = 409, body = crate::error::ErrorBody)))]
pub async fn escalate(
    caller: Agent,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ReasonRequest>,
) -> ApiResult<Json<MessageDetail>> {
    load(&state, &caller, &id).await?;
    non_empty_reason(&body.reason)?;
    let updated = state
        .workflow()
        .escalate(&id, body.version, &caller.actor(), &body.reason)
        .await?;
    Ok(Json(message_detail(&state, updated).await?))
}

/// The approved reply was posted by hand (manual connector).
#[utoipa::path(post, path = "/api/v1/messages/{id}/posted", tag = "review",
    params(("id" = String, Path, description = "Message id")),
    request_body = VersionRequest,
    responses((status = 200, body = MessageDetail), (status = 409, body = crate::error::ErrorBody)))]
pub async fn posted(
    caller: Agent,
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<VersionRequest>,
) -> ApiResult<Json<MessageDetail>> {
    load(&state, &caller, &id).await?;
    let updated = state
        .workflow()
        .mark_posted(&id, body.version, &caller.actor())
        .await?;
    Ok(Json(message_detail(&state, updated).await?))
}

/// A message's audit trail, oldest first.
#[utoipa::path(get, path = "/api/v1/messages/{id}/audit", tag = "review",
    params(("id" = String, Path, description = "Message id")),
    responses((status = 200, body = AuditList), (status = 404, body = crate::error::ErrorBody)))]
pub async fn message_audit(
    caller: Agent,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<AuditList>> {
    load(&state, &caller, &id).await?;
    let entries = state.workflow().store().audit_log(&id).await?;
    Ok(Json(AuditList {
        entries: entries.into_iter().map(Into::into).collect(),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    pub brand: Option<String>,
    /// At most 1000; default 100.
    pub limit: Option<u32>,
}

/// The newest audit entries (of one brand, or of every brand the token covers), newest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "review", params(AuditQuery),
    responses((status = 200, body = AuditList)))]
pub async fn audit(
    caller: Approver,
    State(state): State<AppState>,
    Query(query): Query<AuditQuery>,
) -> ApiResult<Json<AuditList>> {
    let limit = query.limit.unwrap_or(100);
    if limit == 0 || limit > 1000 {
        return Err(ApiError::invalid("`limit` must be between 1 and 1000"));
    }
    if let Some(brand) = &query.brand {
        caller.require_brand(brand)?;
    }
    let brands = match &query.brand {
        Some(brand) => BrandScope::Only(vec![brand.clone()]),
        None => caller.token.brands.clone(),
    };
    let entries = state
        .workflow()
        .store()
        .recent_audit(&brands, limit)
        .await?;
    Ok(Json(AuditList {
        entries: entries.into_iter().map(AuditEntryView::from).collect(),
    }))
}

fn non_empty_reason(reason: &str) -> ApiResult<()> {
    if reason.trim().is_empty() {
        return Err(ApiError::invalid("`reason` must not be empty"));
    }
    Ok(())
}

/// Time from the drafts being ready to this decision.
async fn observe_review_latency(state: &AppState, id: &str) {
    let Ok(log) = state.workflow().store().audit_log(id).await else {
        return;
    };
    let ready = log
        .iter()
        .rev()
        .find(|e| e.action == AuditAction::DraftsReady);
    let decided = log.last();
    if let (Some(ready), Some(decided)) = (ready, decided) {
        let elapsed = (decided.at - ready.at).to_std().unwrap_or(Duration::ZERO);
        state.metrics().review_latency.observe(elapsed);
    }
}
