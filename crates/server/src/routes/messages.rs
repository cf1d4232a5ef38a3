//! Inbound messages: submit (one or a batch), the review queue, a message's detail.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use tact_core::InboundMessage;
use tact_workflow::{BrandScope, MessageFilter, MessageRecord, Status, Workflow};
use utoipa::IntoParams;

use crate::api::{self, CandidateView, MessageDetail, MessageList, TriageView};
use crate::convert;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Agent, ApiJson, Caller, RoleGate};
use crate::state::AppState;

/// Most messages one listing returns.
const MAX_LIMIT: u32 = 1000;
/// The longest `Retry-After` sent for a full queue, however slowly drafts are finishing.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);
const DEFAULT_LIMIT: u32 = 100;
/// Messages read per round trip when the listing filters after reading (by triage, or by the
/// brands a token covers): the queue is read page by page until enough match or it ends, so
/// memory stays bounded however long the queue is.
const FILTER_PAGE: u32 = 500;

/// Submit inbound messages for drafting.
#[utoipa::path(post, path = "/api/v1/messages", tag = "messages",
    request_body = crate::api::SubmitRequest,
    responses(
        (status = 202, description = "Stored and queued for drafting", body = MessageList),
        (status = 422, description = "A message is invalid (the error names it and its field)", body = crate::error::ErrorBody),
        (status = 503, description = "The drafting queue is full; retry after `Retry-After` seconds", body = crate::error::ErrorBody),
    ))]
pub async fn submit(
    caller: Agent,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<(StatusCode, Json<MessageList>)> {
    let inbound = parse_submission(body)?;
    let records = store_and_queue(&state, &caller, inbound).await?;
    let messages = records.iter().map(|r| api::summary(r, None)).collect();
    Ok((StatusCode::ACCEPTED, Json(MessageList { messages })))
}

/// One message or `{"messages": [...]}`, each validated, naming the first bad field.
fn parse_submission(body: Value) -> ApiResult<Vec<InboundMessage>> {
    let batch = match body {
        Value::Object(mut map) if map.contains_key("messages") => {
            let items = map.remove("messages");
            if let Some(extra) = map.keys().next() {
                return Err(ApiError::invalid(format!(
                    "a batch has only the field `messages`; unexpected field `{extra}`"
                )));
            }
            match items {
                Some(Value::Array(items)) => items,
                Some(_) | None => {
                    return Err(ApiError::invalid("field `messages` must be an array"));
                }
            }
        }
        other @ (Value::Null
        | Value::Bool(_)
        | Value::Number(_)
        | Value::String(_)
        | Value::Array(_)
        | Value::Object(_)) => {
            let message = InboundMessage::from_json(other)
                .map_err(|e| ApiError::invalid(format!("invalid message: {e}")))?;
            return Ok(vec![message]);
        }
    };
    if batch.is_empty() {
        return Err(ApiError::invalid("field `messages` must not be empty"));
    }
    let messages = batch
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            InboundMessage::from_json(item)
                .map_err(|e| ApiError::invalid(format!("invalid message `messages[{i}]`: {e}")))
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = messages.iter().find(|m| !seen.insert(m.id.as_str())) {
        return Err(ApiError::invalid(format!(
            "message id {:?} appears twice in the batch",
            dup.id
        )));
    }
    Ok(messages)
}

/// Checks every message (brand served and allowed, channel known, id new), reserves room in
/// the drafting queue, then stores and queues them. Nothing is stored when a check fails or
/// the queue is full.
pub(crate) async fn store_and_queue<R: RoleGate>(
    state: &AppState,
    caller: &Caller<R>,
    messages: Vec<InboundMessage>,
) -> ApiResult<Vec<MessageRecord>> {
    for m in &messages {
        caller.require_brand(&m.brand)?;
        let brand = state.brand(&m.brand).ok_or_else(|| {
            ApiError::invalid(format!(
                "message {:?}: this server does not serve brand {:?} (it serves: {})",
                m.id,
                m.brand,
                state.brand_ids().join(", ")
            ))
        })?;
        if brand.profile.channel(&m.channel).is_none() {
            return Err(ApiError::invalid(format!(
                "message {:?}: brand {:?} has no channel {:?} (it has: {})",
                m.id,
                m.brand,
                m.channel,
                brand
                    .profile
                    .channels
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        match state.workflow().message(&m.id).await {
            Ok(_) => {
                return Err(ApiError::new(
                    crate::error::ErrorCode::Conflict,
                    format!("a message with id {:?} already exists", m.id),
                ));
            }
            Err(tact_workflow::Error::UnknownMessage(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let reservation = state.dispatch().reserve(messages.len()).map_err(|full| {
        state
            .metrics()
            .queue_rejections
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // Retry when enough places are free for these messages, at the rate drafts finish.
        let places = (full.depth + messages.len()).saturating_sub(full.capacity);
        let retry_after = state
            .dispatch()
            .wait_for(places)
            .map_or(state.service().config().retry_after(), |wait| {
                wait.clamp(Duration::from_secs(1), MAX_RETRY_AFTER)
            });
        ApiError::queue_full(
            format!(
                "the drafting queue is full ({} of {} places taken); retry later",
                full.depth, full.capacity
            ),
            retry_after,
        )
    })?;
    let actor = caller.actor();
    let mut stored = Vec::with_capacity(messages.len());
    let mut failure = None;
    for m in &messages {
        match state.workflow().submit(m, &actor).await {
            Ok(record) => stored.push(record),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    reservation.dispatch(stored.iter().map(|r| r.inbound.id.clone()).collect());
    match failure {
        Some(e) => Err(e.into()),
        None => Ok(stored),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QueueQuery {
    pub brand: Option<String>,
    pub channel: Option<String>,
    /// `received|drafting|awaiting_review|approved|sent|rejected|escalated|failed`
    pub status: Option<String>,
    /// `low|normal|high`
    pub urgency: Option<String>,
    /// `negative|neutral|positive`
    pub sentiment: Option<String>,
    /// At most 1000; default 100.
    pub limit: Option<u32>,
}

/// The review queue, oldest first.
#[utoipa::path(get, path = "/api/v1/messages", tag = "messages", params(QueueQuery),
    responses((status = 200, body = MessageList)))]
pub async fn list(
    caller: Agent,
    State(state): State<AppState>,
    Query(query): Query<QueueQuery>,
) -> ApiResult<Json<MessageList>> {
    let status = query
        .status
        .as_deref()
        .map(|s| {
            Status::parse(s).ok_or_else(|| {
                ApiError::invalid(format!(
                    "invalid `status` {s:?}: expected one of {}",
                    Status::ALL.map(Status::as_str).join(", ")
                ))
            })
        })
        .transpose()?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::invalid(format!(
            "`limit` must be between 1 and {MAX_LIMIT}"
        )));
    }
    if let Some(brand) = &query.brand {
        caller.require_brand(brand)?;
    }
    let post_filtered = query.urgency.is_some()
        || query.sentiment.is_some()
        || (query.brand.is_none() && !matches!(caller.token.brands, BrandScope::All));
    let filter = MessageFilter {
        brand: query.brand.clone(),
        status,
        channel: query.channel.clone(),
        ..MessageFilter::default()
    };
    let page = if post_filtered { FILTER_PAGE } else { limit };
    let matches =
        |want: &Option<String>, have: Option<&str>| want.as_deref().is_none_or(|w| have == Some(w));
    let keep = |record: &MessageRecord, triage: Option<&TriageView>| {
        caller.token.brands.allows(&record.inbound.brand)
            && matches(&query.urgency, triage.map(|t| t.urgency.as_str()))
            && matches(&query.sentiment, triage.map(|t| t.sentiment.as_str()))
    };
    let messages = queue_with_triage(state.workflow(), filter, page, limit, keep)
        .await?
        .into_iter()
        .map(|(record, triage)| api::summary(&record, triage))
        .collect();
    Ok(Json(MessageList { messages }))
}

/// The first `limit` messages of `filter` that `keep` accepts, with their triage. The queue is
/// read `page` messages at a time, each page's triage in one query, until `limit` are kept or
/// the queue ends.
async fn queue_with_triage(
    workflow: &Workflow,
    mut filter: MessageFilter,
    page: u32,
    limit: u32,
    keep: impl Fn(&MessageRecord, Option<&TriageView>) -> bool,
) -> Result<Vec<(MessageRecord, Option<TriageView>)>, tact_workflow::Error> {
    let limit = limit as usize;
    filter.limit = Some(page);
    let mut kept = Vec::new();
    loop {
        let records = workflow.queue(&filter).await?;
        let queue_ended = records.len() < page as usize;
        filter.after = records.last().map(MessageRecord::position);
        let ids: Vec<String> = records.iter().map(|r| r.inbound.id.clone()).collect();
        let drafts = workflow.store().latest_draft_sets(&ids).await?;
        for record in records {
            let triage = convert::stored_triage(drafts.get(&record.inbound.id));
            if kept.len() < limit && keep(&record, triage.as_ref()) {
                kept.push((record, triage));
            }
        }
        if kept.len() >= limit || queue_ended {
            return Ok(kept);
        }
    }
}

/// A message with its candidates, citations, violations, triage, reviews and delivery.
#[utoipa::path(get, path = "/api/v1/messages/{id}", tag = "messages",
    params(("id" = String, Path, description = "Message id")),
    responses((status = 200, body = MessageDetail), (status = 404, body = crate::error::ErrorBody)))]
pub async fn detail(
    caller: Agent,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<MessageDetail>> {
    let record = load(&state, &caller, &id).await?;
    Ok(Json(message_detail(&state, record).await?))
}

/// The message, if the caller's token covers its brand.
pub(crate) async fn load<R: RoleGate>(
    state: &AppState,
    caller: &Caller<R>,
    id: &str,
) -> ApiResult<MessageRecord> {
    let record = state.workflow().message(id).await?;
    caller.require_brand(&record.inbound.brand)?;
    Ok(record)
}

pub(crate) async fn message_detail(
    state: &AppState,
    record: MessageRecord,
) -> ApiResult<MessageDetail> {
    let store = state.workflow().store();
    let id = &record.inbound.id;
    let drafts = store.draft_set(id).await?;
    let reviews = store.reviews(id).await?;
    let policy = store.policy(&record.inbound.brand).await?;
    let delivery = store.outbox_for_message(id).await?.pop().map(Into::into);
    let (proposal, final_text, reason) = api::state_parts(&record.state);
    Ok(MessageDetail {
        summary: api::summary(&record, convert::stored_triage(drafts.as_ref())),
        candidates: drafts
            .iter()
            .flat_map(|d| d.candidates.iter().enumerate())
            .map(CandidateView::from)
            .collect(),
        reviews: reviews.into_iter().map(Into::into).collect(),
        approvals_needed: policy.required_approvals(),
        proposal,
        final_text,
        reason,
        delivery,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(id: &str) -> Value {
        json!({"id": id, "brand": "northwind", "channel": "x", "author": "@sam",
               "text": "Where is my order?", "created_at": "2026-11-01T10:00:00Z"})
    }

    #[test]
    fn single_and_batch_submissions_parse() {
        assert_eq!(parse_submission(message("a")).unwrap().len(), 1);
        let batch = json!({"messages": [message("a"), message("b")]});
        assert_eq!(parse_submission(batch).unwrap().len(), 2);
    }

    /// A message drafted with the triage `urgency`, or left undrafted for `None`.
    async fn stored(workflow: &Workflow, id: &str, brand: &str, urgency: Option<&str>) {
        let mut inbound = InboundMessage::from_json(message(id)).unwrap();
        inbound.brand = brand.into();
        let m = workflow.submit(&inbound, "inbound:test").await.unwrap();
        let Some(urgency) = urgency else { return };
        let m = workflow
            .start_drafting(id, m.version, "drafter")
            .await
            .unwrap();
        let drafts = tact_workflow::Drafts {
            candidates: vec![tact_workflow::Candidate {
                text: "Sorry to hear that.".into(),
                ..tact_workflow::Candidate::default()
            }],
            triage: serde_json::from_value(json!({"sentiment": "negative",
                "intent": "complaint", "urgency": urgency, "language": "en", "toxic": false,
                "escalation": []}))
            .unwrap(),
        };
        workflow
            .drafts_ready(id, m.version, "drafter", drafts)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn filtered_listings_read_page_after_page_until_enough_match() {
        let dir = tempfile::tempdir().unwrap();
        let store = tact_workflow::SqliteStore::open(dir.path()).await.unwrap();
        let workflow = Workflow::new(std::sync::Arc::new(store));
        for (id, brand, urgency) in [
            ("m-1", "northwind", Some("low")),
            ("m-2", "northwind", None),
            ("m-3", "globex", Some("high")),
            ("m-4", "northwind", Some("low")),
            ("m-5", "northwind", Some("high")),
            ("m-6", "northwind", Some("low")),
            ("m-7", "northwind", Some("high")),
        ] {
            stored(&workflow, id, brand, urgency).await;
        }
        let urgent = |r: &MessageRecord, t: Option<&TriageView>| {
            r.inbound.brand == "northwind" && t.is_some_and(|t| t.urgency == "high")
        };
        let listed = |page, limit| {
            let workflow = &workflow;
            async move {
                queue_with_triage(workflow, MessageFilter::default(), page, limit, urgent)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|(r, t)| (r.inbound.id, t.map(|t| t.urgency)))
                    .collect::<Vec<_>>()
            }
        };
        let high = |id: &str| (id.to_owned(), Some("high".to_owned()));
        // The first two pages hold no match; the third and the fourth do.
        assert_eq!(listed(2, 1).await, [high("m-5")]);
        assert_eq!(listed(2, 10).await, [high("m-5"), high("m-7")]);
        assert_eq!(listed(3, 2).await, [high("m-5"), high("m-7")]);
        // Unfiltered, one page of `limit` with each message's triage (none when undrafted).
        let all = queue_with_triage(&workflow, MessageFilter::default(), 3, 3, |_, _| true)
            .await
            .unwrap();
        let triage: Vec<_> = all
            .iter()
            .map(|(r, t)| {
                (
                    r.inbound.id.as_str(),
                    t.as_ref().map(|t| t.urgency.as_str()),
                )
            })
            .collect();
        assert_eq!(
            triage,
            [("m-1", Some("low")), ("m-2", None), ("m-3", Some("high"))]
        );
    }

    #[test]
    fn bad_submissions_name_the_problem() {
        let mut bad = message("b");
        bad["text"] = json!(7);
        let e = parse_submission(json!({"messages": [message("a"), bad]})).unwrap_err();
        assert!(
            e.message.contains("messages[1]") && e.message.contains("`text`"),
            "{}",
            e.message
        );
        let e = parse_submission(json!({"messages": [message("a"), message("a")]})).unwrap_err();
        assert!(e.message.contains("twice"));
        let e = parse_submission(json!({"messages": []})).unwrap_err();
        assert!(e.message.contains("empty"));
        let e = parse_submission(json!({"messages": "x"})).unwrap_err();
        assert!(e.message.contains("array"));
        let e = parse_submission(json!([1, 2])).unwrap_err();
        assert!(e.message.contains("object"), "{}", e.message);
    }
}
