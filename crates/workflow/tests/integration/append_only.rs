//! The audit log refuses updates and deletes at the database level, not only in Rust.

use std::sync::Arc;

use sqlx::Executor;
use tact_workflow::{PostgresStore, SqliteStore, Workflow};

use crate::support::inbound;

async fn tamper<'c, E>(db: E) -> (bool, bool)
where
    E: Executor<'c> + Copy,
{
    let update = db
        .execute("UPDATE audit_log SET actor = 'mallory'")
        .await
        .is_err();
    let delete = db.execute("DELETE FROM audit_log").await.is_err();
    (update, delete)
}

#[tokio::test]
async fn sqlite_audit_log_is_append_only() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let wf = Workflow::new(Arc::new(SqliteStore::open(dir.path()).await?));
    wf.submit(&inbound("m-1", "acme"), "inbound:test").await?;
    let before = wf.store().audit_log("m-1").await?;
    let url = format!("sqlite://{}", dir.path().join("workflow.sqlite3").display());
    let pool = sqlx::SqlitePool::connect(&url).await?;
    assert_eq!(tamper(&pool).await, (true, true));
    assert_eq!(wf.store().audit_log("m-1").await?, before);
    Ok(())
}

#[tokio::test]
async fn postgres_audit_log_is_append_only() -> anyhow::Result<()> {
    let Ok(url) = std::env::var("TACT_TEST_DATABASE_URL") else {
        println!("SKIPPED postgres_audit_log_is_append_only: TACT_TEST_DATABASE_URL is not set");
        return Ok(());
    };
    let schema = format!("tact_test_{}", uuid::Uuid::new_v4().simple());
    let wf = Workflow::new(Arc::new(PostgresStore::connect(&url, Some(&schema)).await?));
    wf.submit(&inbound("m-1", "acme"), "inbound:test").await?;
    let before = wf.store().audit_log("m-1").await?;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .after_connect({
            let schema = schema.clone();
            move |conn, _| {
                let sql = format!("SET search_path TO {schema}");
                Box::pin(async move { conn.execute(sql.as_str()).await.map(drop) })
            }
        })
        .connect(&url)
        .await?;
    let tampered = tamper(&pool).await;
    let after = wf.store().audit_log("m-1").await?;
    pool.execute(format!("DROP SCHEMA {schema} CASCADE").as_str())
        .await?;
    assert_eq!(tampered, (true, true));
    assert_eq!(after, before);
    Ok(())
}
