//! Outbox claims and webhook delivery against a real receiver.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use anyhow::ensure;
use chrono::Utc;
use tact_workflow::outbox::Claim;
use tact_workflow::{
    ConnectorKind, DeliveryConnector, MessageState, OutboxStatus, OutboxWorker, ReplyChoice,
    RetryPolicy, Status, WebhookConfig, WebhookConnector, Workflow,
};

use crate::receiver::{Receiver, SECRET};
use crate::support::{FIRST, awaiting_review, use_webhook};

async fn approved(wf: &Workflow, id: &str) -> anyhow::Result<()> {
    let m = awaiting_review(wf, id, "acme").await?;
    wf.approve(id, m.version, "ann", Some(ReplyChoice::Candidate(0)), None)
        .await?;
    Ok(())
}

fn webhook(receiver: &Receiver) -> anyhow::Result<Arc<WebhookConnector>> {
    Ok(Arc::new(WebhookConnector::new(WebhookConfig {
        url: receiver.url.clone(),
        secret: SECRET.into(),
        timeout: Duration::from_secs(5),
    })?))
}

fn fast_retries(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(100),
    }
}

/// Runs `worker` until `done` or five seconds pass.
async fn drive(worker: &OutboxWorker, mut done: impl FnMut() -> bool) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !done() {
        ensure!(
            tokio::time::Instant::now() < deadline,
            "worker did not finish"
        );
        worker.run_once().await?;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

pub async fn concurrent_claims_never_share_a_row(wf: Workflow) -> anyhow::Result<()> {
    use_webhook(&wf, "acme").await?;
    for i in 0..20 {
        approved(&wf, &format!("m-{i}")).await?;
    }
    let now = Utc::now();
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..4 {
        let wf = wf.clone();
        tasks.spawn(async move {
            let claim = Claim {
                connector: ConnectorKind::Webhook,
                worker: format!("worker-{w}"),
                limit: 7,
                now,
                lease: Duration::from_secs(60),
            };
            wf.store().claim_deliveries(&claim).await
        });
    }
    let mut claimed = BTreeMap::new();
    while let Some(result) = tasks.join_next().await {
        for entry in result?? {
            assert_eq!(entry.status, OutboxStatus::InFlight);
            assert_eq!(entry.attempts, 1);
            let worker = entry.claimed_by.clone().unwrap();
            ensure!(
                claimed.insert(entry.id, worker).is_none(),
                "row {} claimed twice",
                entry.id
            );
        }
    }
    assert_eq!(claimed.len(), 20, "4 workers x 7 rows cover all 20");

    // Within the lease nothing is due; after it, every row is due again, same key.
    let again = |now, worker: &str| Claim {
        connector: ConnectorKind::Webhook,
        worker: worker.into(),
        limit: 100,
        now,
        lease: Duration::from_secs(60),
    };
    assert!(
        wf.store()
            .claim_deliveries(&again(now, "late"))
            .await?
            .is_empty()
    );
    let manual = Claim {
        connector: ConnectorKind::Manual,
        ..again(now + chrono::Duration::hours(1), "manual")
    };
    assert!(wf.store().claim_deliveries(&manual).await?.is_empty());
    let later = now + chrono::Duration::seconds(61);
    let retaken = wf
        .store()
        .claim_deliveries(&again(later, "rescuer"))
        .await?;
    assert_eq!(retaken.len(), 20);
    for entry in &retaken {
        assert_eq!(entry.attempts, 2);
        assert_eq!(entry.claimed_by.as_deref(), Some("rescuer"));
        assert_eq!(entry.idempotency_key, entry.payload.idempotency_key);
    }
    Ok(())
}

pub async fn webhook_delivers_each_reply_once_signed(wf: Workflow) -> anyhow::Result<()> {
    use_webhook(&wf, "acme").await?;
    let receiver = Receiver::start(&[]).await?;
    approved(&wf, "m-ok").await?;
    let r = awaiting_review(&wf, "m-rejected", "acme").await?;
    wf.reject("m-rejected", r.version, "ann", "wrong facts")
        .await?;
    let worker = OutboxWorker::new(wf.clone(), webhook(&receiver)?, "worker-1");

    let round = worker.run_once().await?;
    assert_eq!((round.delivered, round.retrying, round.dead), (1, 0, 0));
    for _ in 0..3 {
        assert_eq!(worker.run_once().await?.claimed(), 0);
    }

    let requests = receiver.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let request = &requests[0];
    assert!(request.signature_is_valid(), "bad signature: {request:?}");
    assert_eq!(request.body["message_id"], "m-ok");
    assert_eq!(request.body["text"], FIRST);
    assert_eq!(request.body["in_reply_to"], "@casey");
    assert_eq!(request.body["approved_by"], serde_json::json!(["ann"]));
    let outbox = wf.store().outbox_for_message("m-ok").await?;
    assert_eq!(request.idempotency_key, outbox[0].idempotency_key);
    assert_eq!(outbox[0].status, OutboxStatus::Delivered);
    assert!(
        wf.store()
            .outbox_for_message("m-rejected")
            .await?
            .is_empty()
    );

    let m = wf.message("m-ok").await?;
    assert_eq!(m.state.status(), Status::Sent);
    let log = wf.store().audit_log("m-ok").await?;
    let last = log.last().unwrap();
    assert_eq!(last.actor, "connector:webhook");
    assert_eq!(last.final_text.as_deref(), Some(FIRST));
    assert_eq!(
        wf.message("m-rejected").await?.state.status(),
        Status::Rejected
    );
    Ok(())
}

pub async fn webhook_retries_with_backoff_then_delivers(wf: Workflow) -> anyhow::Result<()> {
    use_webhook(&wf, "acme").await?;
    let receiver = Receiver::start(&[503, 429]).await?;
    approved(&wf, "m-1").await?;
    let worker =
        OutboxWorker::new(wf.clone(), webhook(&receiver)?, "worker-1").with_retry(fast_retries(5));
    let round = worker.run_once().await?;
    assert_eq!(round.retrying, 1);
    let entry = &wf.store().outbox_for_message("m-1").await?[0];
    assert_eq!(entry.status, OutboxStatus::Pending);
    assert!(
        entry
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("503")
    );
    assert!(entry.next_attempt_at > entry.created_at, "backed off");

    let check = wf.clone();
    let sent = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = sent.clone();
    let watcher = tokio::spawn(async move {
        loop {
            if check
                .message("m-1")
                .await
                .is_ok_and(|m| m.state.status() == Status::Sent)
            {
                flag.store(true, std::sync::atomic::Ordering::SeqCst);
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    drive(&worker, || sent.load(std::sync::atomic::Ordering::SeqCst)).await?;
    watcher.abort();

    let requests = receiver.requests();
    assert_eq!(requests.len(), 3);
    let keys: BTreeSet<_> = requests
        .iter()
        .map(|r| r.idempotency_key.as_str())
        .collect();
    assert_eq!(keys.len(), 1, "every attempt carries the same key");
    assert!(requests.iter().all(|r| r.signature_is_valid()));
    let entry = &wf.store().outbox_for_message("m-1").await?[0];
    assert_eq!((entry.status, entry.attempts), (OutboxStatus::Delivered, 3));
    Ok(())
}

pub async fn webhook_dead_letters_after_max_attempts(wf: Workflow) -> anyhow::Result<()> {
    use_webhook(&wf, "acme").await?;
    let receiver = Receiver::start(&[500; 10]).await?;
    approved(&wf, "m-1").await?;
    let worker =
        OutboxWorker::new(wf.clone(), webhook(&receiver)?, "worker-1").with_retry(fast_retries(3));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut dead = 0;
    while dead == 0 {
        ensure!(
            tokio::time::Instant::now() < deadline,
            "never dead-lettered"
        );
        dead += worker.run_once().await?.dead;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(receiver.requests().len(), 3);
    let entry = &wf.store().outbox_for_message("m-1").await?[0];
    assert_eq!((entry.status, entry.attempts), (OutboxStatus::Dead, 3));
    let m = wf.message("m-1").await?;
    let MessageState::Failed { reason } = &m.state else {
        panic!("not failed: {:?}", m.state)
    };
    assert!(
        reason.contains("3 attempt(s)") && reason.contains("500"),
        "{reason}"
    );
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(
        worker.run_once().await?.claimed(),
        0,
        "a dead letter stays dead"
    );
    assert_eq!(receiver.requests().len(), 3);
    Ok(())
}

pub async fn client_errors_are_dead_lettered_at_once(wf: Workflow) -> anyhow::Result<()> {
    use_webhook(&wf, "acme").await?;
    let receiver = Receiver::start(&[422]).await?;
    approved(&wf, "m-1").await?;
    let worker =
        OutboxWorker::new(wf.clone(), webhook(&receiver)?, "worker-1").with_retry(fast_retries(5));
    assert_eq!(worker.run_once().await?.dead, 1);
    assert_eq!(receiver.requests().len(), 1);
    assert_eq!(wf.message("m-1").await?.state.status(), Status::Failed);
    Ok(())
}

pub async fn restart_mid_delivery_redelivers_with_the_same_key(wf: Workflow) -> anyhow::Result<()> {
    use_webhook(&wf, "acme").await?;
    let receiver = Receiver::start(&[]).await?;
    approved(&wf, "m-1").await?;
    let connector = webhook(&receiver)?;

    // A worker claims the reply, POSTs it, and dies before recording the delivery.
    let lease = Duration::from_millis(300);
    let claim = Claim {
        connector: ConnectorKind::Webhook,
        worker: "doomed".into(),
        limit: 10,
        now: Utc::now(),
        lease,
    };
    let claimed = wf.store().claim_deliveries(&claim).await?;
    assert_eq!(claimed.len(), 1);
    connector.deliver(&claimed[0]).await?;

    // The restarted worker leaves the row alone until the lease runs out, then re-delivers.
    let worker = OutboxWorker::new(wf.clone(), connector, "restarted").with_lease(lease);
    assert_eq!(worker.run_once().await?.claimed(), 0);
    tokio::time::sleep(lease + Duration::from_millis(100)).await;
    assert_eq!(worker.run_once().await?.delivered, 1);
    tokio::time::sleep(lease + Duration::from_millis(100)).await;
    assert_eq!(worker.run_once().await?.claimed(), 0);

    let requests = receiver.requests();
    assert_eq!(requests.len(), 2, "one POST before the crash, one after");
    assert_eq!(requests[0].idempotency_key, requests[1].idempotency_key);
    assert_eq!(requests[0].body, requests[1].body);
    // A receiver deduplicating by key shows the reply once.
    let distinct: BTreeSet<_> = requests.iter().map(|r| r.idempotency_key.clone()).collect();
    assert_eq!(distinct.len(), 1);

    // The dead worker waking up and recording its delivery changes nothing.
    wf.record_delivery(&claimed[0], "connector:webhook").await?;
    let entry = &wf.store().outbox_for_message("m-1").await?[0];
    assert_eq!((entry.status, entry.attempts), (OutboxStatus::Delivered, 2));
    let deliveries = wf
        .store()
        .audit_log("m-1")
        .await?
        .iter()
        .filter(|e| e.action == tact_workflow::AuditAction::Delivered)
        .count();
    assert_eq!(deliveries, 1);
    Ok(())
}
