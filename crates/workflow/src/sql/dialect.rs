//! What differs between the SQLite and PostgreSQL stores: how to connect, the migrations,
//! how a write transaction starts and how outbox rows are claimed. Everything else is the
//! same SQL, in [`super::SqlStore`].

use std::path::Path;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{AnyPool, Executor};

use crate::error::{Error, Result};

/// A database flavour the store runs on.
pub trait Dialect: Send + Sync + 'static {
    const NAME: &'static str;
    /// `(version, description, sql)`, in order.
    const MIGRATIONS: &'static [(i64, &'static str, &'static str)];
    /// The statement opening a transaction that writes.
    const BEGIN_WRITE: &'static str;
    /// Marks due rows in flight and returns them. Binds: `$1` worker, `$2` claimed until,
    /// `$3` connector, `$4` now, `$5` limit.
    const CLAIM: &'static str;
    /// Selects the drafting jobs due at `$1` (at most `$2`, oldest first), locking them for
    /// the claiming transaction.
    const DRAFTING_JOBS: &'static str;

    fn migrator() -> Migrator {
        let migrations = Self::MIGRATIONS
            .iter()
            .map(|(version, description, sql)| {
                Migration::new(
                    *version,
                    (*description).into(),
                    MigrationType::Simple,
                    (*sql).into(),
                    false,
                )
            })
            .collect::<Vec<_>>();
        Migrator {
            migrations: migrations.into(),
            ..Migrator::DEFAULT
        }
    }
}

macro_rules! claim_sql {
    ($lock:literal) => {
        concat!(
            "UPDATE outbox SET status = 'in_flight', claimed_by = $1, claimed_until = $2, ",
            "attempts = attempts + 1 WHERE id IN (SELECT id FROM outbox WHERE connector = $3 ",
            "AND ((status = 'pending' AND next_attempt_at <= $4) ",
            "OR (status = 'in_flight' AND claimed_until <= $4)) ORDER BY id LIMIT $5",
            $lock,
            ") RETURNING ",
            outbox_columns!()
        )
    };
}

macro_rules! drafting_jobs_sql {
    ($lock:literal) => {
        concat!(
            "SELECT id, brand, status, drafting_by, version FROM messages ",
            "WHERE status = 'received' OR (status = 'drafting' ",
            "AND (drafting_until IS NULL OR drafting_until <= $1)) ",
            "ORDER BY received_at, id LIMIT $2",
            $lock
        )
    };
}

/// SQLite in WAL mode: the embedded default, one file in a directory.
#[derive(Debug, Clone, Copy)]
pub struct Sqlite;

impl Dialect for Sqlite {
    const NAME: &'static str = "sqlite";
    const MIGRATIONS: &'static [(i64, &'static str, &'static str)] = &[
        (
            1,
            "workflow",
            include_str!("../../migrations/sqlite/0001_workflow.sql"),
        ),
        (
            2,
            "drafting queue",
            include_str!("../../migrations/sqlite/0002_drafting_queue.sql"),
        ),
        (
            3,
            "recent listings",
            include_str!("../../migrations/sqlite/0003_recent_listings.sql"),
        ),
    ];
    // Take the write lock up front: a deferred transaction that reads before it writes can
    // fail with SQLITE_BUSY instead of waiting for the other writer.
    const BEGIN_WRITE: &'static str = "BEGIN IMMEDIATE";
    // SQLite has one writer at a time, so the write transaction alone makes the claim atomic.
    const CLAIM: &'static str = claim_sql!("");
    const DRAFTING_JOBS: &'static str = drafting_jobs_sql!("");
}

/// PostgreSQL, for teams and for several `tact serve`/`tact worker` processes.
#[derive(Debug, Clone, Copy)]
pub struct Postgres;

impl Dialect for Postgres {
    const NAME: &'static str = "postgres";
    const MIGRATIONS: &'static [(i64, &'static str, &'static str)] = &[
        (
            1,
            "workflow",
            include_str!("../../migrations/postgres/0001_workflow.sql"),
        ),
        (
            2,
            "drafting queue",
            include_str!("../../migrations/postgres/0002_drafting_queue.sql"),
        ),
        (
            3,
            "recent listings",
            include_str!("../../migrations/postgres/0003_recent_listings.sql"),
        ),
    ];
    const BEGIN_WRITE: &'static str = "BEGIN";
    // Concurrent workers skip each other's rows instead of waiting on them.
    const CLAIM: &'static str = claim_sql!(" FOR UPDATE SKIP LOCKED");
    const DRAFTING_JOBS: &'static str = drafting_jobs_sql!(" FOR UPDATE SKIP LOCKED");
}

/// The SQLite file inside `dir`, which is created if missing.
pub(crate) async fn connect_sqlite(dir: &Path) -> Result<AnyPool> {
    std::fs::create_dir_all(dir).map_err(|source| Error::StoreDirectory {
        path: dir.display().to_string(),
        source,
    })?;
    let file = dir.join("workflow.sqlite3");
    let path = file
        .to_str()
        .filter(|p| !p.contains(['?', '#']))
        .ok_or_else(|| Error::StoreDirectory {
            path: dir.display().to_string(),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the path must be UTF-8 without '?' or '#'",
            ),
        })?;
    install_default_drivers();
    let pool = AnyPoolOptions::new()
        .max_connections(8)
        .after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute("PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;")
                    .await?;
                Ok(())
            })
        })
        .connect(&format!("sqlite://{path}?mode=rwc"))
        .await?;
    // Persistent in the file: readers no longer block the writer, nor the writer readers.
    pool.execute("PRAGMA journal_mode = WAL").await?;
    Ok(pool)
}

/// A pool on `url`; with `schema`, every connection works in that schema (created if
/// missing), so several stores can share one database.
pub(crate) async fn connect_postgres(url: &str, schema: Option<&str>) -> Result<AnyPool> {
    if let Some(schema) = schema {
        let valid = !schema.is_empty()
            && schema.len() <= 63
            && schema
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            return Err(Error::InvalidConfig(format!(
                "schema name {schema:?}: use 1 to 63 of a-z, 0-9 and _"
            )));
        }
    }
    install_default_drivers();
    if let Some(schema) = schema {
        let pool = AnyPoolOptions::new()
            .max_connections(1)
            .connect(url)
            .await?;
        pool.execute(format!("CREATE SCHEMA IF NOT EXISTS {schema}").as_str())
            .await?;
        pool.close().await;
    }
    let search_path = schema.map(|s| format!("SET search_path TO {s}"));
    let pool = AnyPoolOptions::new()
        .max_connections(16)
        .after_connect(move |conn, _| {
            let search_path = search_path.clone();
            Box::pin(async move {
                if let Some(sql) = search_path {
                    conn.execute(sql.as_str()).await?;
                }
                Ok(())
            })
        })
        .connect(url)
        .await?;
    Ok(pool)
}
