//! `GET /api/v1/messages/{id}/events`: Server-Sent Events while a message is drafted.
//!
//! `delta` `{"candidate": i, "text": "..."}` as text is generated, then one `candidate` event
//! per stored candidate and `ready` with the message detail; `error` if drafting failed. A
//! message already drafted gets `ready` at once.

use std::collections::VecDeque;
use std::convert::Infallible;

use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use futures_util::stream;
use tact_service::DraftEvent;
use tact_workflow::Status;
use tokio::sync::broadcast;

use crate::api::{DeltaEvent, MessageDetail};
use crate::error::{ApiError, ApiResult, ErrorBody, ErrorDetail};
use crate::extract::Agent;
use crate::routes::messages::{load, message_detail};
use crate::state::AppState;

enum Phase {
    Live(broadcast::Receiver<DraftEvent>),
    Ending(VecDeque<Event>),
}

/// Stream a message's drafting.
#[utoipa::path(get, path = "/api/v1/messages/{id}/events", tag = "messages",
    params(("id" = String, Path, description = "Message id")),
    responses(
        (status = 200, description = "text/event-stream: `delta` (DeltaEvent), `candidate` (CandidateView), `ready` (MessageDetail), `error` (ErrorBody)", content_type = "text/event-stream", body = DeltaEvent),
        (status = 404, body = crate::error::ErrorBody),
    ))]
pub async fn events(
    caller: Agent,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    // Subscribe before reading the state, so the end of drafting cannot fall in between.
    let receiver = state.events().subscribe(&id);
    let record = match load(&state, &caller, &id).await {
        Ok(record) => record,
        Err(e) => {
            drop(receiver);
            state.events().release(&id);
            return Err(e);
        }
    };
    let phase = match record.state.status() {
        Status::Received | Status::Drafting => Phase::Live(receiver),
        Status::AwaitingReview
        | Status::Approved
        | Status::Sent
        | Status::Rejected
        | Status::Escalated
        | Status::Failed => {
            drop(receiver);
            state.events().release(&id);
            Phase::Ending(final_events(&state, &id).await?)
        }
    };
    let stream = stream::unfold((phase, state, id), |(phase, state, id)| async move {
        match phase {
            Phase::Ending(mut queue) => {
                let event = queue.pop_front()?;
                Some((Ok(event), (Phase::Ending(queue), state, id)))
            }
            Phase::Live(mut receiver) => loop {
                match receiver.recv().await {
                    Ok(DraftEvent::Delta { candidate, text }) => {
                        let event = json_event("delta", &DeltaEvent { candidate, text });
                        return Some((Ok(event), (Phase::Live(receiver), state, id)));
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Ok(DraftEvent::Finished) | Err(broadcast::error::RecvError::Closed) => {
                        let mut queue = final_events(&state, &id)
                            .await
                            .unwrap_or_else(|e| VecDeque::from([error_event(e)]));
                        let first = queue.pop_front()?;
                        return Some((Ok(first), (Phase::Ending(queue), state, id)));
                    }
                }
            },
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

fn json_event<T: serde::Serialize>(name: &str, data: &T) -> Event {
    Event::default()
        .event(name)
        .json_data(data)
        .unwrap_or_else(|_| Event::default().event(name).data("{}"))
}

fn error_event(error: ApiError) -> Event {
    json_event(
        "error",
        &ErrorBody {
            error: ErrorDetail {
                code: error.code.as_str().to_owned(),
                message: error.message,
            },
        },
    )
}

/// `candidate` per candidate and `ready`, or `error` for a message whose drafting failed.
async fn final_events(state: &AppState, id: &str) -> ApiResult<VecDeque<Event>> {
    let record = state.workflow().message(id).await?;
    let detail: MessageDetail = message_detail(state, record).await?;
    let mut queue = VecDeque::new();
    if detail.summary.status == Status::Failed.as_str() {
        queue.push_back(json_event(
            "error",
            &ErrorBody {
                error: ErrorDetail {
                    code: "drafting_failed".into(),
                    message: detail
                        .reason
                        .clone()
                        .unwrap_or_else(|| "drafting failed".into()),
                },
            },
        ));
        return Ok(queue);
    }
    for candidate in &detail.candidates {
        queue.push_back(json_event("candidate", candidate));
    }
    queue.push_back(json_event("ready", &detail));
    Ok(queue)
}
