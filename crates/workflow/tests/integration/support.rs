//! Stores for the suite: SQLite in a temporary directory, PostgreSQL in a schema of its own.

use std::future::Future;
use std::sync::Arc;

use sqlx::Executor;
use tact_core::InboundMessage;
pub use tact_core::review::Urgency;
use tact_core::review::{Intent, Sentiment, TriageSummary};
use tact_workflow::{
    BrandPolicy, Candidate, ConnectorKind, Drafts, MessageRecord, PostgresStore, Severity,
    SqliteStore, Violation, Workflow,
};

pub async fn run_sqlite<F, Fut>(case: F) -> anyhow::Result<()>
where
    F: FnOnce(Workflow) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let dir = tempfile::tempdir()?;
    let store = SqliteStore::open(dir.path()).await?;
    let journal: String = sqlx::query_scalar::<_, String>("PRAGMA journal_mode")
        .fetch_one(
            &sqlx::SqlitePool::connect(&format!(
                "sqlite://{}",
                dir.path().join("workflow.sqlite3").display()
            ))
            .await?,
        )
        .await?;
    anyhow::ensure!(journal == "wal", "journal mode is {journal}");
    case(Workflow::new(Arc::new(store))).await
}

pub async fn run_postgres<F, Fut>(name: &str, case: F) -> anyhow::Result<()>
where
    F: FnOnce(Workflow) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let Ok(url) = std::env::var("TACT_TEST_DATABASE_URL") else {
        println!("SKIPPED postgres::{name}: TACT_TEST_DATABASE_URL is not set");
        eprintln!("SKIPPED postgres::{name}: TACT_TEST_DATABASE_URL is not set");
        return Ok(());
    };
    let schema = format!("tact_test_{}", uuid::Uuid::new_v4().simple());
    let store = PostgresStore::connect(&url, Some(&schema)).await?;
    let result = case(Workflow::new(Arc::new(store))).await;
    let admin = sqlx::PgPool::connect(&url).await?;
    admin
        .execute(format!("DROP SCHEMA {schema} CASCADE").as_str())
        .await?;
    result
}

pub fn inbound(id: &str, brand: &str) -> InboundMessage {
    InboundMessage::from_json(serde_json::json!({
        "id": id,
        "brand": brand,
        "channel": "twitter",
        "author": "@casey",
        "text": "My order #1234 never arrived and nobody answers.",
        "created_at": "2025-05-01T09:30:00Z",
        "urgency": "high"
    }))
    .unwrap()
}

/// A drafted message's triage with `urgency`.
pub fn triage(urgency: Urgency) -> Option<TriageSummary> {
    Some(TriageSummary {
        sentiment: Sentiment::Negative,
        intent: Intent::Delivery,
        urgency,
        language: "en".into(),
        toxic: false,
        escalation: Vec::new(),
    })
}

pub fn candidate(text: &str) -> Candidate {
    Candidate {
        text: text.into(),
        ..Candidate::default()
    }
}

pub fn blocked_candidate(text: &str) -> Candidate {
    Candidate {
        text: text.into(),
        violations: vec![Violation {
            rule: "commitment".into(),
            severity: Severity::Block,
            clause: "commitments.md > Refunds > 1".into(),
            message: "promises a refund".into(),
            excerpt: "full refund".into(),
        }],
        ..Candidate::default()
    }
}

pub const FIRST: &str = "Sorry about the wait, Casey. Could you DM us your order number?";
pub const SECOND: &str = "Thanks for flagging this. We'll look into order #1234 now.";

/// A message of `brand` submitted and drafted with two candidates, awaiting review.
pub async fn awaiting_review(
    wf: &Workflow,
    id: &str,
    brand: &str,
) -> anyhow::Result<MessageRecord> {
    drafted(wf, id, brand, vec![candidate(FIRST), candidate(SECOND)]).await
}

pub async fn drafted(
    wf: &Workflow,
    id: &str,
    brand: &str,
    candidates: Vec<Candidate>,
) -> anyhow::Result<MessageRecord> {
    let m = wf.submit(&inbound(id, brand), "inbound:test").await?;
    let m = wf.start_drafting(id, m.version, "drafter").await?;
    let drafts = Drafts {
        candidates,
        triage: triage(Urgency::High),
    };
    Ok(wf.drafts_ready(id, m.version, "drafter", drafts).await?)
}

pub async fn use_webhook(wf: &Workflow, brand: &str) -> anyhow::Result<()> {
    let policy = BrandPolicy {
        delivery: ConnectorKind::Webhook,
        ..BrandPolicy::default()
    };
    Ok(wf.set_policy(brand, &policy).await?)
}
