//! [`SqlStore`]: the [`WorkflowStore`] over SQLite or PostgreSQL. One body of SQL runs on both
//! through sqlx's `Any` driver (`$n` placeholders, integers and text only); the differences are
//! in [`Dialect`].

macro_rules! outbox_columns {
    () => {
        "id, message_id, brand, connector, idempotency_key, payload, status, attempts, \
         next_attempt_at, claimed_by, claimed_until, last_error, created_at, delivered_at"
    };
}

macro_rules! final_reply_columns {
    () => {
        "seq, message_id, brand, channel, inbound_text, draft_text, final_text, edited, \
         approved_by, approved_at"
    };
}

macro_rules! token_columns {
    () => {
        "id, label, role, brands, created_at, revoked_at"
    };
}

mod dialect;
mod params;
mod rows;

use std::collections::HashMap;
use std::marker::PhantomData;
use std::path::Path;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{AnyPool, Row};
use tact_core::InboundMessage;

pub use dialect::{Dialect, Postgres, Sqlite};

use crate::audit::{AuditAction, AuditEntry, NewAuditEntry, word_diff};
use crate::draft::Drafts;
use crate::drafting_queue::{DraftingClaim, DraftingQueueDepth, Lease};
use crate::error::{Error, Result};
use crate::outbox::{Claim, OutboxEntry, OutboxStatus};
use crate::policy::{BrandPolicy, ConnectorKind};
use crate::state::{MessageState, Status};
use crate::store::{
    Change, DeliveryUpdate, FinalReply, MessageFilter, MessageRecord, QueueOrder, Review,
    WorkflowStore,
};
use crate::token::{ApiToken, BrandScope};
use params::{Param, Params, where_all};
use rows::{millis, to_json};

/// The workflow store on a SQL database of dialect `D`.
#[derive(Debug)]
pub struct SqlStore<D: Dialect> {
    pool: AnyPool,
    dialect: PhantomData<D>,
}

pub type SqliteStore = SqlStore<Sqlite>;
pub type PostgresStore = SqlStore<Postgres>;

impl SqlStore<Sqlite> {
    /// Opens (creating if needed) the store in `dir` and brings its schema up to date.
    pub async fn open(dir: &Path) -> Result<Self> {
        Self::migrated(dialect::connect_sqlite(dir).await?).await
    }
}

impl SqlStore<Postgres> {
    /// Connects to `url` and brings the schema up to date; `schema` keeps the tables in a
    /// PostgreSQL schema of their own.
    pub async fn connect(url: &str, schema: Option<&str>) -> Result<Self> {
        Self::migrated(dialect::connect_postgres(url, schema).await?).await
    }
}

impl<D: Dialect> SqlStore<D> {
    async fn migrated(pool: AnyPool) -> Result<Self> {
        D::migrator().run(&pool).await?;
        Ok(Self {
            pool,
            dialect: PhantomData,
        })
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn current_version(&self, id: &str) -> Result<Option<i64>> {
        let row = sqlx::query("SELECT version FROM messages WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("version")).transpose()?)
    }

    async fn outbox_conflict(&self, id: i64, expected: &'static str) -> Error {
        match self.outbox_entry(id).await {
            Ok(entry) => Error::DeliveryConflict {
                id,
                status: entry.status.as_str().to_owned(),
                expected,
            },
            Err(e) => e,
        }
    }
}

const MESSAGE_COLUMNS: &str = "inbound, state, version, received_at, updated_at, drafting_by, \
     drafting_until, drafting_attempts";

const AUDIT_COLUMNS: &str = "seq, message_id, brand, actor, action, from_status, to_status, at, \
     draft_text, final_text, diff, note";

/// Most message ids bound in one statement: a listing page of up to 1000 messages takes one
/// round trip, and SQLite's and PostgreSQL's limits on parameters stay far away.
const IDS_PER_STATEMENT: usize = 1000;

async fn insert_audit(
    tx: &mut sqlx::AnyConnection,
    message_id: &str,
    brand: &str,
    audit: &NewAuditEntry,
) -> Result<()> {
    let diff = match (&audit.draft_text, &audit.final_text) {
        (Some(draft), Some(final_text)) => word_diff(draft, final_text),
        (None, _) | (_, None) => None,
    };
    sqlx::query(
        "INSERT INTO audit_log (message_id, brand, actor, action, from_status, to_status, at, \
         draft_text, final_text, diff, note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(message_id)
    .bind(brand)
    .bind(&audit.actor)
    .bind(audit.action.as_str())
    .bind(audit.from.map(|s| s.as_str()))
    .bind(audit.to.as_str())
    .bind(millis(audit.at))
    .bind(audit.draft_text.as_deref())
    .bind(audit.final_text.as_deref())
    .bind(diff)
    .bind(audit.note.as_deref())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

#[async_trait]
impl<D: Dialect> WorkflowStore for SqlStore<D> {
    async fn insert_message(
        &self,
        inbound: &InboundMessage,
        audit: NewAuditEntry,
    ) -> Result<MessageRecord> {
        let state = MessageState::Received;
        let mut tx = self.pool.begin_with(D::BEGIN_WRITE).await?;
        let inserted = sqlx::query(
            "INSERT INTO messages (id, brand, channel, inbound, status, state, version, \
             received_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(&inbound.id)
        .bind(&inbound.brand)
        .bind(&inbound.channel)
        .bind(to_json(inbound)?)
        .bind(state.status().as_str())
        .bind(to_json(&state)?)
        .bind(millis(audit.at))
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(Error::DuplicateMessage(inbound.id.clone()));
        }
        insert_audit(&mut tx, &inbound.id, &inbound.brand, &audit).await?;
        tx.commit().await?;
        self.message(&inbound.id).await
    }

    async fn message(&self, id: &str) -> Result<MessageRecord> {
        let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => rows::message(&row),
            None => Err(Error::UnknownMessage(id.to_owned())),
        }
    }

    async fn messages(&self, filter: &MessageFilter) -> Result<Vec<MessageRecord>> {
        // Only the conditions the filter sets are written, so the planner sees plain range
        // conditions it can answer from the (brand, received_at, id) and status indexes.
        let (direction, beyond) = match filter.order {
            QueueOrder::OldestFirst => ("ASC", ">"),
            QueueOrder::NewestFirst => ("DESC", "<"),
        };
        let mut params = Params::default();
        let mut conditions = Vec::new();
        if let Some(brand) = &filter.brand {
            conditions.push(format!(
                "brand = {}",
                params.push(Param::Text(brand.clone()))
            ));
        }
        if let Some(status) = filter.status {
            let status = Param::Text(status.as_str().to_owned());
            conditions.push(format!("status = {}", params.push(status)));
        }
        if let Some(channel) = &filter.channel {
            let channel = Param::Text(channel.clone());
            conditions.push(format!("channel = {}", params.push(channel)));
        }
        if let Some(since) = filter.received_since {
            let since = Param::Int(millis(since));
            conditions.push(format!("received_at >= {}", params.push(since)));
        }
        if let Some(after) = &filter.after {
            let at = params.push(Param::Int(millis(after.received_at)));
            let id = params.push(Param::Text(after.id.clone()));
            conditions.push(format!("(received_at, id) {beyond} ({at}, {id})"));
        }
        let limit = params.push(Param::Int(filter.limit.map_or(i64::MAX, i64::from)));
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages{} \
             ORDER BY received_at {direction}, id {direction} LIMIT {limit}",
            where_all(&conditions)
        );
        let rows = params.bind(sqlx::query(&sql)).fetch_all(&self.pool).await?;
        rows.iter().map(rows::message).collect()
    }

    async fn apply(&self, change: Change) -> Result<MessageRecord> {
        let id = change.message_id.as_str();
        let version = change.expected_version + 1;
        let at = millis(change.audit.at);
        let attempts = attempts_after(change.state.status(), change.lease.is_some());
        let sql = format!(
            "UPDATE messages SET status = $1, state = $2, version = $3, updated_at = $4, \
             drafting_by = $5, drafting_until = $6, drafting_attempts = {attempts} \
             WHERE id = $7 AND version = $8"
        );
        let mut tx = self.pool.begin_with(D::BEGIN_WRITE).await?;
        let updated = sqlx::query(&sql)
            .bind(change.state.status().as_str())
            .bind(to_json(&change.state)?)
            .bind(version)
            .bind(at)
            .bind(change.lease.as_ref().map(|l| l.worker.clone()))
            .bind(change.lease.as_ref().map(|l| millis(l.until)))
            .bind(id)
            .bind(change.expected_version)
            .execute(&mut *tx)
            .await?;
        if updated.rows_affected() == 0 {
            tx.rollback().await?;
            return Err(match self.current_version(id).await? {
                None => Error::UnknownMessage(id.to_owned()),
                Some(current) => Error::StaleVersion {
                    id: id.to_owned(),
                    expected: change.expected_version,
                    current,
                },
            });
        }
        let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = $1");
        let record = rows::message(&sqlx::query(&sql).bind(id).fetch_one(&mut *tx).await?)?;
        let inbound = &record.inbound;

        if let Some(drafts) = &change.draft_set {
            sqlx::query(
                "INSERT INTO draft_sets (message_id, message_version, drafts, created_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(id)
            .bind(version)
            .bind(to_json(drafts)?)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        if let Some(review) = &change.review {
            sqlx::query(
                "INSERT INTO reviews (message_id, message_version, reviewer, verdict, text, \
                 reason, at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(id)
            .bind(review.message_version)
            .bind(&review.reviewer)
            .bind(review.verdict.as_str())
            .bind(review.text.as_deref())
            .bind(review.reason.as_deref())
            .bind(millis(review.at))
            .execute(&mut *tx)
            .await?;
        }
        insert_audit(&mut tx, id, &inbound.brand, &change.audit).await?;
        if let Some(entry) = &change.outbox {
            let status = match entry.connector {
                ConnectorKind::Webhook => OutboxStatus::Pending,
                ConnectorKind::Manual => OutboxStatus::AwaitingManual,
            };
            sqlx::query(
                "INSERT INTO outbox (message_id, brand, connector, idempotency_key, payload, \
                 status, attempts, next_attempt_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $7)",
            )
            .bind(id)
            .bind(&inbound.brand)
            .bind(entry.connector.as_str())
            .bind(&entry.payload.idempotency_key)
            .bind(to_json(&entry.payload)?)
            .bind(status.as_str())
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        if let Some(reply) = &change.final_reply {
            sqlx::query(
                "INSERT INTO final_replies (message_id, brand, channel, inbound_text, \
                 draft_text, final_text, edited, approved_by, approved_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(id)
            .bind(&inbound.brand)
            .bind(&inbound.channel)
            .bind(&inbound.text)
            .bind(&reply.draft_text)
            .bind(&reply.final_text)
            .bind(i64::from(reply.draft_text != reply.final_text))
            .bind(to_json(&reply.approved_by)?)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        if let Some(delivery) = &change.delivery {
            let (outbox_id, sql, expected, value) = match delivery {
                DeliveryUpdate::Delivered { outbox_id, at } => (
                    *outbox_id,
                    "UPDATE outbox SET status = 'delivered', delivered_at = $1, \
                     claimed_until = NULL WHERE id = $2 AND message_id = $3 \
                     AND status IN ('in_flight', 'delivered')",
                    "in_flight",
                    OutboxValue::Time(*at),
                ),
                DeliveryUpdate::Posted { outbox_id, at } => (
                    *outbox_id,
                    "UPDATE outbox SET status = 'delivered', delivered_at = $1 \
                     WHERE id = $2 AND message_id = $3 AND status = 'awaiting_manual'",
                    "awaiting_manual",
                    OutboxValue::Time(*at),
                ),
                DeliveryUpdate::DeadLettered { outbox_id, error } => (
                    *outbox_id,
                    "UPDATE outbox SET status = 'dead', last_error = $1, claimed_until = NULL \
                     WHERE id = $2 AND message_id = $3 AND status = 'in_flight'",
                    "in_flight",
                    OutboxValue::Text(error.clone()),
                ),
            };
            let query = match value {
                OutboxValue::Time(t) => sqlx::query(sql).bind(millis(t)),
                OutboxValue::Text(text) => sqlx::query(sql).bind(text),
            };
            let done = query.bind(outbox_id).bind(id).execute(&mut *tx).await?;
            if done.rows_affected() == 0 {
                tx.rollback().await?;
                return Err(self.outbox_conflict(outbox_id, expected).await);
            }
        }
        tx.commit().await?;
        Ok(record)
    }

    async fn claim_drafting(&self, claim: &DraftingClaim) -> Result<Vec<MessageRecord>> {
        let lease = Lease::starting(&claim.worker, claim.now, claim.lease);
        let drafting = to_json(&MessageState::Drafting)?;
        let mut tx = self.pool.begin_with(D::BEGIN_WRITE).await?;
        let jobs = sqlx::query(D::DRAFTING_JOBS)
            .bind(millis(claim.now))
            .bind(i64::from(claim.limit))
            .fetch_all(&mut *tx)
            .await?;
        let mut claimed = Vec::with_capacity(jobs.len());
        for job in &jobs {
            let id: String = job.try_get("id")?;
            let brand: String = job.try_get("brand")?;
            let version: i64 = job.try_get("version")?;
            let from: String = job.try_get("status")?;
            let from = Status::parse(&from).ok_or_else(|| Error::Corrupt {
                what: "status",
                problem: format!("{from:?}"),
            })?;
            let previous: Option<String> = job.try_get("drafting_by")?;
            // The rows are locked (PostgreSQL) or the only writer is us (SQLite): the version
            // guard cannot fail, it only keeps the statement honest.
            let updated = sqlx::query(
                "UPDATE messages SET status = $1, state = $2, version = version + 1, \
                 updated_at = $3, drafting_by = $4, drafting_until = $5, \
                 drafting_attempts = drafting_attempts + 1 WHERE id = $6 AND version = $7",
            )
            .bind(Status::Drafting.as_str())
            .bind(&drafting)
            .bind(millis(claim.now))
            .bind(&lease.worker)
            .bind(millis(lease.until))
            .bind(&id)
            .bind(version)
            .execute(&mut *tx)
            .await?;
            if updated.rows_affected() == 0 {
                continue;
            }
            let audit = NewAuditEntry {
                actor: claim.worker.clone(),
                action: AuditAction::DraftingStarted,
                from: Some(from),
                to: Status::Drafting,
                at: claim.now,
                draft_text: None,
                final_text: None,
                note: previous.map(|p| format!("took the job over from {p}, whose lease ran out")),
            };
            insert_audit(&mut tx, &id, &brand, &audit).await?;
            let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = $1");
            let row = sqlx::query(&sql).bind(&id).fetch_one(&mut *tx).await?;
            claimed.push(rows::message(&row)?);
        }
        tx.commit().await?;
        Ok(claimed)
    }

    async fn renew_drafting(&self, worker: &str, until: DateTime<Utc>) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "UPDATE messages SET drafting_until = $1 \
             WHERE drafting_by = $2 AND status = 'drafting' RETURNING id",
        )
        .bind(millis(until))
        .bind(worker)
        .fetch_all(&self.pool)
        .await?;
        let mut ids = rows
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<Result<Vec<String>, _>>()?;
        ids.sort();
        Ok(ids)
    }

    async fn drafting_claims(&self, worker: &str) -> Result<Vec<MessageRecord>> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE drafting_by = $1 \
             AND status = 'drafting' ORDER BY received_at, id"
        );
        let rows = sqlx::query(&sql).bind(worker).fetch_all(&self.pool).await?;
        rows.iter().map(rows::message).collect()
    }

    async fn drafting_queue(&self, now: DateTime<Utc>) -> Result<DraftingQueueDepth> {
        let row = sqlx::query(
            "SELECT \
             COUNT(CASE WHEN status = 'received' OR drafting_until IS NULL \
                 OR drafting_until <= $1 THEN 1 END) AS waiting, \
             COUNT(CASE WHEN status = 'drafting' AND drafting_until > $1 THEN 1 END) \
                 AS drafting \
             FROM messages WHERE status IN ('received', 'drafting')",
        )
        .bind(millis(now))
        .fetch_one(&self.pool)
        .await?;
        let count = |column: &str| -> Result<u64> {
            let n: i64 = row.try_get(column)?;
            Ok(u64::try_from(n).unwrap_or(0))
        };
        Ok(DraftingQueueDepth {
            waiting: count("waiting")?,
            drafting: count("drafting")?,
        })
    }

    async fn draft_set(&self, message_id: &str) -> Result<Option<Drafts>> {
        let row = sqlx::query(
            "SELECT drafts FROM draft_sets WHERE message_id = $1 ORDER BY id DESC LIMIT 1",
        )
        .bind(message_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| rows::drafts(&r, "drafts")).transpose()
    }

    async fn latest_draft_sets(&self, message_ids: &[String]) -> Result<HashMap<String, Drafts>> {
        let mut sets = HashMap::with_capacity(message_ids.len());
        for chunk in message_ids.chunks(IDS_PER_STATEMENT) {
            let mut params = Params::default();
            let ids = params.list(chunk.iter().map(|id| Param::Text(id.clone())));
            let sql = format!(
                "SELECT message_id, drafts FROM draft_sets WHERE id IN \
                 (SELECT MAX(id) FROM draft_sets WHERE message_id IN ({ids}) \
                 GROUP BY message_id)"
            );
            let rows = params.bind(sqlx::query(&sql)).fetch_all(&self.pool).await?;
            for row in &rows {
                let id: String = row.try_get("message_id")?;
                sets.insert(id, rows::drafts(row, "drafts")?);
            }
        }
        Ok(sets)
    }

    async fn reviews(&self, message_id: &str) -> Result<Vec<Review>> {
        let rows = sqlx::query(
            "SELECT reviewer, verdict, message_version, text, reason, at FROM reviews \
             WHERE message_id = $1 ORDER BY id",
        )
        .bind(message_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(rows::review).collect()
    }

    async fn audit_log(&self, message_id: &str) -> Result<Vec<AuditEntry>> {
        let sql =
            format!("SELECT {AUDIT_COLUMNS} FROM audit_log WHERE message_id = $1 ORDER BY seq");
        let rows = sqlx::query(&sql)
            .bind(message_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(rows::audit).collect()
    }

    async fn recent_audit(&self, brands: &BrandScope, limit: u32) -> Result<Vec<AuditEntry>> {
        let mut params = Params::default();
        let mut conditions = Vec::new();
        match brands {
            BrandScope::All => {}
            BrandScope::Only(brands) if brands.is_empty() => return Ok(Vec::new()),
            BrandScope::Only(brands) => {
                let brands = params.list(brands.iter().map(|b| Param::Text(b.clone())));
                conditions.push(format!("brand IN ({brands})"));
            }
        }
        let limit = params.push(Param::Int(i64::from(limit)));
        let sql = format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_log{} ORDER BY seq DESC LIMIT {limit}",
            where_all(&conditions)
        );
        let rows = params.bind(sqlx::query(&sql)).fetch_all(&self.pool).await?;
        rows.iter().map(rows::audit).collect()
    }

    async fn policy(&self, brand: &str) -> Result<BrandPolicy> {
        let row = sqlx::query("SELECT policy FROM brand_policies WHERE brand = $1")
            .bind(brand)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => rows::json(&row, "policy", "brand policy"),
            None => Ok(BrandPolicy::default()),
        }
    }

    async fn set_policy(&self, brand: &str, policy: &BrandPolicy) -> Result<()> {
        policy.validate()?;
        sqlx::query(
            "INSERT INTO brand_policies (brand, policy, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (brand) DO UPDATE SET policy = excluded.policy, \
             updated_at = excluded.updated_at",
        )
        .bind(brand)
        .bind(to_json(policy)?)
        .bind(millis(Utc::now()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn claim_deliveries(&self, claim: &Claim) -> Result<Vec<OutboxEntry>> {
        let lease = chrono::Duration::from_std(claim.lease).unwrap_or(chrono::Duration::MAX);
        let until = claim.now.checked_add_signed(lease).unwrap_or(claim.now);
        let mut tx = self.pool.begin_with(D::BEGIN_WRITE).await?;
        let rows = sqlx::query(D::CLAIM)
            .bind(&claim.worker)
            .bind(millis(until))
            .bind(claim.connector.as_str())
            .bind(millis(claim.now))
            .bind(i64::from(claim.limit))
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        let mut entries = rows.iter().map(rows::outbox).collect::<Result<Vec<_>>>()?;
        entries.sort_by_key(|e| e.id);
        Ok(entries)
    }

    async fn retry_delivery(
        &self,
        outbox_id: i64,
        worker: &str,
        error: &str,
        retry_at: DateTime<Utc>,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE outbox SET status = 'pending', next_attempt_at = $1, last_error = $2, \
             claimed_by = NULL, claimed_until = NULL \
             WHERE id = $3 AND status = 'in_flight' AND claimed_by = $4",
        )
        .bind(millis(retry_at))
        .bind(error)
        .bind(outbox_id)
        .bind(worker)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(self.outbox_conflict(outbox_id, "in_flight").await);
        }
        Ok(())
    }

    async fn outbox_entry(&self, outbox_id: i64) -> Result<OutboxEntry> {
        let sql = concat!("SELECT ", outbox_columns!(), " FROM outbox WHERE id = $1");
        let row = sqlx::query(sql)
            .bind(outbox_id)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => rows::outbox(&row),
            None => Err(Error::UnknownDelivery(outbox_id)),
        }
    }

    async fn outbox_for_message(&self, message_id: &str) -> Result<Vec<OutboxEntry>> {
        let sql = concat!(
            "SELECT ",
            outbox_columns!(),
            " FROM outbox WHERE message_id = $1 ORDER BY id"
        );
        let rows = sqlx::query(sql)
            .bind(message_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(rows::outbox).collect()
    }

    async fn final_replies(&self, brand: &str, after: i64, limit: u32) -> Result<Vec<FinalReply>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            final_reply_columns!(),
            " FROM final_replies WHERE brand = $1 AND seq > $2 ORDER BY seq LIMIT $3"
        ))
        .bind(brand)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(rows::final_reply).collect()
    }

    async fn edit_pairs(&self, brand: &str) -> Result<Vec<FinalReply>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            final_reply_columns!(),
            " FROM final_replies WHERE brand = $1 AND edited = 1 ORDER BY seq"
        ))
        .bind(brand)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(rows::final_reply).collect()
    }

    async fn insert_token(&self, token: &ApiToken, secret_hash: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO api_tokens (id, secret_hash, label, role, brands, created_at, \
             revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&token.id)
        .bind(secret_hash)
        .bind(&token.label)
        .bind(token.role.as_str())
        .bind(to_json(&token.brands)?)
        .bind(millis(token.created_at))
        .bind(token.revoked_at.map(millis))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn token_by_hash(&self, secret_hash: &str) -> Result<Option<ApiToken>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            token_columns!(),
            " FROM api_tokens WHERE secret_hash = $1"
        ))
        .bind(secret_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(rows::token).transpose()
    }

    async fn tokens(&self) -> Result<Vec<ApiToken>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            token_columns!(),
            " FROM api_tokens ORDER BY created_at, id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(rows::token).collect()
    }

    async fn revoke_token(&self, id: &str, at: DateTime<Utc>) -> Result<()> {
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2",
        )
        .bind(millis(at))
        .bind(id)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(Error::UnknownToken(id.to_owned()));
        }
        Ok(())
    }
}

/// `drafting_attempts` after a change to `status`: a new lease counts an attempt, a job given
/// back unfinished does not, and leaving the queue starts the count afresh.
fn attempts_after(status: Status, new_lease: bool) -> &'static str {
    match status {
        Status::Drafting if new_lease => "drafting_attempts + 1",
        Status::Drafting => "drafting_attempts",
        Status::Received => "CASE WHEN drafting_attempts > 0 THEN drafting_attempts - 1 ELSE 0 END",
        Status::AwaitingReview
        | Status::Approved
        | Status::Sent
        | Status::Rejected
        | Status::Escalated
        | Status::Failed => "0",
    }
}

enum OutboxValue {
    Time(DateTime<Utc>),
    Text(String),
}
