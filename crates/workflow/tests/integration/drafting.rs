//! The drafting queue: claims, leases, takeovers, requeues, and the worker loop draining it
//! (with a scripted [`DraftProducer`] standing in above the seam for the models).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::ensure;
use async_trait::async_trait;
use tact_workflow::{
    AuditAction, DraftError, DraftProducer, Drafted, DraftingReport, DraftingWorker, Drafts, Error,
    MessageRecord, MessageState, Status, Workflow,
};
use tokio::sync::{Notify, watch};

use crate::support::{FIRST, Urgency, candidate, inbound, triage};

const MINUTE: Duration = Duration::from_secs(60);

async fn submit(wf: &Workflow, ids: impl IntoIterator<Item = String>) -> anyhow::Result<()> {
    for id in ids {
        wf.submit(&inbound(&id, "acme"), "inbound:test").await?;
    }
    Ok(())
}

fn drafts() -> Drafts {
    Drafts {
        candidates: vec![candidate(FIRST)],
        triage: triage(Urgency::High),
    }
}

/// Polls `done` every 20 ms for up to ten seconds.
async fn eventually<F, Fut>(what: &str, mut done: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<bool>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !done().await? {
        ensure!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

async fn statuses(wf: &Workflow) -> anyhow::Result<BTreeMap<String, Status>> {
    Ok(wf
        .queue(&Default::default())
        .await?
        .into_iter()
        .map(|m| (m.inbound.id, m.state.status()))
        .collect())
}

pub async fn concurrent_drafting_claims_never_share_a_job(wf: Workflow) -> anyhow::Result<()> {
    submit(&wf, (0..20).map(|i| format!("m-{i:02}"))).await?;
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..4 {
        let wf = wf.clone();
        tasks.spawn(async move { wf.claim_drafting(&format!("worker-{w}"), 7, MINUTE).await });
    }
    let mut claimed = BTreeMap::new();
    while let Some(result) = tasks.join_next().await {
        for job in result?? {
            let lease = job.drafting.clone().expect("a claimed job has a lease");
            assert_eq!(job.state, MessageState::Drafting);
            assert_eq!((job.version, lease.attempt), (2, 1));
            assert_eq!(wf.message(&job.inbound.id).await?, job);
            ensure!(
                claimed
                    .insert(job.inbound.id.clone(), lease.worker)
                    .is_none(),
                "{} claimed twice",
                job.inbound.id
            );
        }
    }
    assert_eq!(claimed.len(), 20, "4 workers x 7 jobs cover all 20");
    for (id, worker) in &claimed {
        let log = wf.store().audit_log(id).await?;
        let started: Vec<_> = log
            .iter()
            .filter(|e| e.action == AuditAction::DraftingStarted)
            .map(|e| (e.actor.as_str(), e.from, e.to))
            .collect();
        assert_eq!(
            started,
            [(worker.as_str(), Some(Status::Received), Status::Drafting)]
        );
    }
    assert!(wf.claim_drafting("late", 100, MINUTE).await?.is_empty());
    let depth = wf.drafting_queue().await?;
    assert_eq!((depth.waiting, depth.drafting), (0, 20));

    // Oldest first.
    submit(&wf, ["n-1", "n-2", "n-3"].map(String::from)).await?;
    let ids: Vec<_> = wf
        .claim_drafting("late", 2, MINUTE)
        .await?
        .into_iter()
        .map(|m| m.inbound.id)
        .collect();
    assert_eq!(ids, ["n-1", "n-2"]);
    let err = wf.claim_drafting(" ", 1, MINUTE).await.unwrap_err();
    assert!(matches!(err, Error::Empty { field: "worker" }), "{err}");
    Ok(())
}

pub async fn an_expired_drafting_lease_is_taken_over(wf: Workflow) -> anyhow::Result<()> {
    submit(&wf, ["m-1".to_owned()]).await?;
    let lease = Duration::from_millis(300);
    let doomed = wf.claim_drafting("doomed", 1, lease).await?.remove(0);
    assert!(wf.claim_drafting("rescuer", 1, lease).await?.is_empty());
    assert_eq!(wf.renew_drafting("doomed", lease).await?, ["m-1"]);

    // The doomed worker stops renewing; after its lease the job is anyone's.
    tokio::time::sleep(lease + Duration::from_millis(100)).await;
    assert_eq!(wf.drafting_queue().await?.waiting, 1);
    let rescued = wf.claim_drafting("rescuer", 1, MINUTE).await?.remove(0);
    let held = rescued.drafting.clone().unwrap();
    assert_eq!((held.worker.as_str(), held.attempt), ("rescuer", 2));
    assert_eq!(rescued.version, doomed.version + 1);
    let log = wf.store().audit_log("m-1").await?;
    let last = log.last().unwrap();
    assert_eq!(
        (last.action, last.from, last.actor.as_str()),
        (
            AuditAction::DraftingStarted,
            Some(Status::Drafting),
            "rescuer"
        )
    );
    assert_eq!(
        last.note.as_deref(),
        Some("took the job over from doomed, whose lease ran out")
    );
    assert!(wf.renew_drafting("doomed", lease).await?.is_empty());
    assert_eq!(wf.renew_drafting("rescuer", MINUTE).await?, ["m-1"]);
    Ok(())
}

pub async fn a_stale_drafting_worker_is_refused_and_writes_nothing(
    wf: Workflow,
) -> anyhow::Result<()> {
    submit(&wf, ["m-1".to_owned()]).await?;
    let doomed = wf
        .claim_drafting("doomed", 1, Duration::from_millis(50))
        .await?
        .remove(0);
    tokio::time::sleep(Duration::from_millis(150)).await;
    let rescued = wf.claim_drafting("rescuer", 1, MINUTE).await?.remove(0);
    let log = wf.store().audit_log("m-1").await?;

    // The doomed worker wakes up with its drafts, or its failure: both refused.
    let err = wf
        .drafts_ready("m-1", doomed.version, "doomed", drafts())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::DraftingTakenOver { ref holder, .. } if holder == "rescuer"),
        "{err}"
    );
    let err = wf
        .drafting_failed("m-1", doomed.version, "doomed", "model crashed")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::DraftingTakenOver { .. }), "{err}");
    // Even with the current version, only the holder may complete the job.
    let err = wf
        .drafts_ready("m-1", rescued.version, "doomed", drafts())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::DraftingTakenOver { .. }), "{err}");
    let err = wf
        .requeue("m-1", rescued.version, "doomed", "shutting down")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::DraftingTakenOver { .. }), "{err}");
    assert!(
        wf.requeue_claims("doomed", "shutting down")
            .await?
            .is_empty()
    );
    assert_eq!(wf.message("m-1").await?, rescued);
    assert_eq!(wf.store().audit_log("m-1").await?, log);
    assert_eq!(wf.store().draft_set("m-1").await?, None);

    // The holder completes; the doomed worker arriving after that is refused as well.
    let done = wf
        .drafts_ready("m-1", rescued.version, "rescuer", drafts())
        .await?;
    assert_eq!(done.state.status(), Status::AwaitingReview);
    assert_eq!(done.drafting, None);
    let err = wf
        .drafts_ready("m-1", doomed.version, "doomed", drafts())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::StaleVersion { .. }), "{err}");
    assert_eq!(wf.message("m-1").await?, done);
    assert_eq!(wf.store().audit_log("m-1").await?.len(), log.len() + 1);
    Ok(())
}

pub async fn requeued_claims_wait_for_drafting_again(wf: Workflow) -> anyhow::Result<()> {
    submit(&wf, (0..3).map(|i| format!("m-{i}"))).await?;
    wf.claim_drafting("leaving", 3, MINUTE).await?;
    let mut requeued = wf.requeue_claims("leaving", "shutting down").await?;
    requeued.sort();
    assert_eq!(requeued, ["m-0", "m-1", "m-2"]);
    for id in &requeued {
        let m = wf.message(id).await?;
        assert_eq!(
            (m.state.clone(), m.drafting.clone()),
            (MessageState::Received, None)
        );
        let last = wf.store().audit_log(id).await?.pop().unwrap();
        assert_eq!(
            (last.action, last.actor.as_str(), last.note.as_deref()),
            (AuditAction::Requeued, "leaving", Some("shutting down"))
        );
    }
    // A job given back unfinished is not an interrupted attempt.
    let again = wf.claim_drafting("next", 3, MINUTE).await?;
    assert_eq!(again.len(), 3);
    assert!(
        again
            .iter()
            .all(|m| m.drafting.as_ref().unwrap().attempt == 1)
    );
    Ok(())
}

/// Drafts by the message text: "fail" fails, "busy" is busy once, "slow" never finishes (until
/// cancelled), "pair" waits until two drafts are in progress at once; the rest succeed. Counts
/// the calls per message.
#[derive(Default)]
struct ScriptedDrafter {
    calls: Mutex<BTreeMap<String, usize>>,
    /// Pairing drafts in progress now, and the most there have been at once.
    in_progress: Mutex<(usize, usize)>,
    changed: Notify,
}

#[async_trait]
impl DraftProducer for ScriptedDrafter {
    async fn draft(&self, message: &MessageRecord) -> Result<Drafted, DraftError> {
        let calls = {
            let mut calls = self.calls.lock().unwrap();
            let n = calls.entry(message.inbound.id.clone()).or_default();
            *n += 1;
            *n
        };
        let text = message.inbound.text.as_str();
        if text.contains("fail") {
            return Err(DraftError::Failed("the model refused".into()));
        }
        if text.contains("busy") && calls == 1 {
            return Err(DraftError::Busy("engine queue full".into()));
        }
        if text.contains("slow") {
            std::future::pending::<()>().await;
        }
        if text.contains("pair") {
            {
                let mut counts = self.in_progress.lock().unwrap();
                counts.0 += 1;
                counts.1 = counts.1.max(counts.0);
            }
            self.changed.notify_waiters();
            let wait = async {
                loop {
                    let notified = self.changed.notified();
                    if self.in_progress.lock().unwrap().1 >= 2 {
                        break;
                    }
                    notified.await;
                }
            };
            let paired = tokio::time::timeout(Duration::from_secs(5), wait).await;
            self.in_progress.lock().unwrap().0 -= 1;
            if paired.is_err() {
                return Err(DraftError::Failed("no second draft ran alongside".into()));
            }
        }
        if text.contains("escalate") {
            return Ok(Drafted::Escalate {
                reason: "legal threat".into(),
            });
        }
        Ok(Drafted::Ready(drafts()))
    }
}

async fn scripted(wf: &Workflow, id: &str, text: &str) -> anyhow::Result<()> {
    let mut message = inbound(id, "acme");
    message.text = text.into();
    wf.submit(&message, "inbound:test").await?;
    Ok(())
}

pub async fn the_worker_drafts_renews_and_requeues_on_shutdown(wf: Workflow) -> anyhow::Result<()> {
    let drafter = Arc::new(ScriptedDrafter::default());
    for (id, text) in [
        ("m-ok-1", "where is my order"),
        ("m-fail", "please fail"),
        ("m-slow", "slow one"),
        ("m-busy", "busy at first"),
        ("m-ok-2", "another question"),
        ("m-escalate", "please escalate"),
    ] {
        scripted(&wf, id, text).await?;
    }
    // Renewed every 500 ms: slack for a machine busy with other builds.
    let lease = Duration::from_millis(1500);
    let worker = DraftingWorker::new(wf.clone(), drafter.clone(), "worker-a")
        .with_concurrency(2)
        .with_lease(lease)
        .with_poll_interval(Duration::from_millis(20));
    let (stop, shutdown) = watch::channel(false);
    let running = tokio::spawn(async move { worker.run(shutdown).await });

    eventually("all but the slow job done", || async {
        let s = statuses(&wf).await?;
        Ok(
            s.values().filter(|s| **s == Status::AwaitingReview).count() == 3
                && s["m-fail"] == Status::Failed
                && s["m-escalate"] == Status::Escalated,
        )
    })
    .await?;
    // The slow job outlives several leases: renewals keep it the worker's.
    tokio::time::sleep(lease * 2).await;
    let slow = wf.message("m-slow").await?;
    assert_eq!(
        slow.drafting.as_ref().map(|l| l.worker.as_str()),
        Some("worker-a")
    );
    let intruded: Vec<_> = wf
        .claim_drafting("intruder", 10, MINUTE)
        .await?
        .into_iter()
        .map(|m| m.inbound.id)
        .collect();
    assert!(intruded.is_empty(), "another worker took {intruded:?}");
    let MessageState::Failed { reason } = wf.message("m-fail").await?.state else {
        unreachable!()
    };
    assert_eq!(reason, "the model refused");

    stop.send(true)?;
    let report = running.await??;
    assert_eq!(
        report,
        DraftingReport {
            drafted: 3,
            escalated: 1,
            failed: 1,
            requeued: 2,
            lost: 0
        },
        "busy once and the slow job given back"
    );
    let slow = wf.message("m-slow").await?;
    assert_eq!((slow.state, slow.drafting), (MessageState::Received, None));
    let calls = drafter.calls.lock().unwrap().clone();
    assert_eq!(calls["m-busy"], 2, "a busy job is drafted again");
    assert_eq!(calls["m-ok-1"], 1);
    Ok(())
}

pub async fn workers_share_the_queue_and_draft_each_job_once(wf: Workflow) -> anyhow::Result<()> {
    let drafter = Arc::new(ScriptedDrafter::default());
    // The first two jobs only finish while both are drafted at once, so with one job at a
    // time per worker each worker must have taken one of them.
    scripted(&wf, "m-00", "pair").await?;
    scripted(&wf, "m-01", "pair").await?;
    let ids: BTreeSet<String> = (2..16).map(|i| format!("m-{i:02}")).collect();
    for id in &ids {
        scripted(&wf, id, "plain").await?;
    }
    let (stop, shutdown) = watch::channel(false);
    let mut workers = tokio::task::JoinSet::new();
    for name in ["worker-a", "worker-b"] {
        let worker = DraftingWorker::new(wf.clone(), drafter.clone(), name)
            .with_poll_interval(Duration::from_millis(10));
        let shutdown = shutdown.clone();
        workers.spawn(async move { worker.run(shutdown).await });
    }
    eventually("every job drafted", || async {
        Ok(statuses(&wf)
            .await?
            .values()
            .all(|s| *s == Status::AwaitingReview))
    })
    .await?;
    stop.send(true)?;
    let mut drafted = Vec::new();
    while let Some(report) = workers.join_next().await {
        let report = report??;
        assert_eq!((report.failed, report.lost), (0, 0));
        drafted.push(report.drafted);
    }
    assert_eq!(drafted.iter().sum::<usize>(), 16);
    assert!(
        drafted.iter().all(|n| *n > 0),
        "both workers drafted: {drafted:?}"
    );
    let calls = drafter.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 16);
    assert!(
        calls.values().all(|n| *n == 1),
        "drafted once each: {calls:?}"
    );
    let mut by_worker = BTreeMap::<String, usize>::new();
    for id in calls.keys() {
        let log = wf.store().audit_log(id).await?;
        let ready: Vec<_> = log
            .iter()
            .filter(|e| e.action == AuditAction::DraftsReady)
            .collect();
        assert_eq!(ready.len(), 1);
        *by_worker.entry(ready[0].actor.clone()).or_default() += 1;
    }
    assert_eq!(by_worker.len(), 2, "{by_worker:?}");
    Ok(())
}

pub async fn a_job_that_keeps_killing_workers_fails(wf: Workflow) -> anyhow::Result<()> {
    submit(&wf, ["m-1".to_owned()]).await?;
    // Two workers die while drafting it (they claim and never come back).
    for doomed in ["doomed-1", "doomed-2"] {
        assert_eq!(
            wf.claim_drafting(doomed, 1, Duration::from_millis(50))
                .await?
                .len(),
            1
        );
        tokio::time::sleep(Duration::from_millis(120)).await;
    }
    let drafter = Arc::new(ScriptedDrafter::default());
    let worker = DraftingWorker::new(wf.clone(), drafter.clone(), "worker-a")
        .with_max_attempts(2)
        .with_poll_interval(Duration::from_millis(10));
    let (stop, shutdown) = watch::channel(false);
    let running = tokio::spawn(async move { worker.run(shutdown).await });
    eventually("the message failed", || async {
        Ok(wf.message("m-1").await?.state.status() == Status::Failed)
    })
    .await?;
    stop.send(true)?;
    assert_eq!(running.await??.failed, 1);
    assert!(
        drafter.calls.lock().unwrap().is_empty(),
        "not drafted a third time"
    );
    let MessageState::Failed { reason } = wf.message("m-1").await?.state else {
        unreachable!()
    };
    assert_eq!(
        reason,
        "drafting was interrupted 2 times (the drafting process stopped each time)"
    );
    Ok(())
}
