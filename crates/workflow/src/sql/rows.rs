//! Decoding rows into the workflow's types, and the encodings the SQL store uses: times as
//! milliseconds since the epoch, structured values as JSON text.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::audit::{AuditAction, AuditEntry};
use crate::drafting_queue::DraftingLease;
use crate::error::{Error, Result};
use crate::outbox::{OutboxEntry, OutboxStatus};
use crate::policy::ConnectorKind;
use crate::state::{MessageState, Status};
use crate::store::{FinalReply, MessageRecord, Review, Verdict};
use crate::token::{ApiToken, Role};

pub(super) fn millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

fn time(row: &AnyRow, column: &str) -> Result<DateTime<Utc>> {
    let ms: i64 = row.try_get(column)?;
    DateTime::from_timestamp_millis(ms).ok_or_else(|| corrupt("time", format!("{column} = {ms}")))
}

fn time_opt(row: &AnyRow, column: &str) -> Result<Option<DateTime<Utc>>> {
    let ms: Option<i64> = row.try_get(column)?;
    ms.map(|ms| {
        DateTime::from_timestamp_millis(ms)
            .ok_or_else(|| corrupt("time", format!("{column} = {ms}")))
    })
    .transpose()
}

pub(super) fn to_json(value: &impl Serialize) -> Result<String> {
    serde_json::to_string(value).map_err(|e| corrupt("value", e.to_string()))
}

pub(super) fn json<T: DeserializeOwned>(
    row: &AnyRow,
    column: &str,
    what: &'static str,
) -> Result<T> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text).map_err(|e| corrupt(what, e.to_string()))
}

/// The draft set in `column`, in today's shape or the one stored before the typed vocabulary.
pub(super) fn drafts(row: &AnyRow, column: &str) -> Result<crate::draft::Drafts> {
    let text: String = row.try_get(column)?;
    crate::draft::parse_stored(&text).map_err(|problem| corrupt("draft set", problem))
}

fn corrupt(what: &'static str, problem: String) -> Error {
    Error::Corrupt { what, problem }
}

fn parsed<T>(
    row: &AnyRow,
    column: &str,
    what: &'static str,
    parse: fn(&str) -> Option<T>,
) -> Result<T> {
    let text: String = row.try_get(column)?;
    parse(&text).ok_or_else(|| corrupt(what, format!("{text:?}")))
}

pub(super) fn message(row: &AnyRow) -> Result<MessageRecord> {
    let state: MessageState = json(row, "state", "message state")?;
    let worker: Option<String> = row.try_get("drafting_by")?;
    let until = time_opt(row, "drafting_until")?;
    // Only a message in `drafting` holds a lease; the columns are cleared on the way out.
    let drafting = match (worker, until) {
        (Some(worker), Some(until)) if state.status() == Status::Drafting => {
            let attempt: i64 = row.try_get("drafting_attempts")?;
            Some(DraftingLease {
                worker,
                until,
                attempt: u32::try_from(attempt).unwrap_or(u32::MAX),
            })
        }
        (Some(_) | None, Some(_) | None) => None,
    };
    Ok(MessageRecord {
        inbound: json(row, "inbound", "inbound message")?,
        state,
        version: row.try_get("version")?,
        received_at: time(row, "received_at")?,
        updated_at: time(row, "updated_at")?,
        drafting,
    })
}

pub(super) fn review(row: &AnyRow) -> Result<Review> {
    Ok(Review {
        reviewer: row.try_get("reviewer")?,
        verdict: parsed(row, "verdict", "review verdict", Verdict::parse)?,
        message_version: row.try_get("message_version")?,
        text: row.try_get("text")?,
        reason: row.try_get("reason")?,
        at: time(row, "at")?,
    })
}

pub(super) fn audit(row: &AnyRow) -> Result<AuditEntry> {
    let from: Option<String> = row.try_get("from_status")?;
    let from = from
        .map(|s| Status::parse(&s).ok_or_else(|| corrupt("status", format!("{s:?}"))))
        .transpose()?;
    Ok(AuditEntry {
        seq: row.try_get("seq")?,
        message_id: row.try_get("message_id")?,
        brand: row.try_get("brand")?,
        actor: row.try_get("actor")?,
        action: parsed(row, "action", "audit action", AuditAction::parse)?,
        from,
        to: parsed(row, "to_status", "status", Status::parse)?,
        at: time(row, "at")?,
        draft_text: row.try_get("draft_text")?,
        final_text: row.try_get("final_text")?,
        diff: row.try_get("diff")?,
        note: row.try_get("note")?,
    })
}

pub(super) fn outbox(row: &AnyRow) -> Result<OutboxEntry> {
    let attempts: i64 = row.try_get("attempts")?;
    Ok(OutboxEntry {
        id: row.try_get("id")?,
        message_id: row.try_get("message_id")?,
        brand: row.try_get("brand")?,
        connector: parsed(row, "connector", "connector", ConnectorKind::parse)?,
        idempotency_key: row.try_get("idempotency_key")?,
        payload: json(row, "payload", "delivery payload")?,
        status: parsed(row, "status", "outbox status", OutboxStatus::parse)?,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        next_attempt_at: time(row, "next_attempt_at")?,
        claimed_by: row.try_get("claimed_by")?,
        claimed_until: time_opt(row, "claimed_until")?,
        last_error: row.try_get("last_error")?,
        created_at: time(row, "created_at")?,
        delivered_at: time_opt(row, "delivered_at")?,
    })
}

pub(super) fn final_reply(row: &AnyRow) -> Result<FinalReply> {
    let edited: i64 = row.try_get("edited")?;
    Ok(FinalReply {
        seq: row.try_get("seq")?,
        message_id: row.try_get("message_id")?,
        brand: row.try_get("brand")?,
        channel: row.try_get("channel")?,
        inbound_text: row.try_get("inbound_text")?,
        draft_text: row.try_get("draft_text")?,
        final_text: row.try_get("final_text")?,
        edited: edited != 0,
        approved_by: json(row, "approved_by", "approvers")?,
        approved_at: time(row, "approved_at")?,
    })
}

pub(super) fn token(row: &AnyRow) -> Result<ApiToken> {
    Ok(ApiToken {
        id: row.try_get("id")?,
        label: row.try_get("label")?,
        role: parsed(row, "role", "token role", Role::parse)?,
        brands: json(row, "brands", "token brands")?,
        created_at: time(row, "created_at")?,
        revoked_at: time_opt(row, "revoked_at")?,
    })
}
