//! Crisis radar over the workflow store: spikes of complaints among a brand's recent
//! messages, scored with triage's sentiment head (trained once, at start-up).

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use tact_core::InboundMessage;
use tact_drafting::crisis::{CrisisConfig, CrisisRadar, CrisisSummary};
use tact_workflow::{MessageFilter, QueueOrder, Workflow};

use crate::error::{Error, Result};
use crate::state::{BrandSetup, Service};

/// Most messages the crisis radar scans: the newest of its horizon. A brand that received
/// more within the horizon has its baseline cut short (the radar then compares with as much
/// baseline as it got); its recent window is always scanned.
pub const CRISIS_MESSAGES: u32 = 5000;

impl Service {
    /// Spikes of complaints in `brand`'s messages up to `now`.
    pub async fn crisis(
        &self,
        brand: Arc<BrandSetup>,
        now: DateTime<Utc>,
    ) -> Result<Vec<CrisisSummary>> {
        let id = brand.profile.id.clone();
        let messages =
            crisis_stream(self.workflow(), &id, &brand.crisis, now, CRISIS_MESSAGES).await?;
        let service = self.clone();
        tokio::task::spawn_blocking(move || {
            let embedder = service.models.embedder.clone();
            let radar = CrisisRadar::new(
                brand.crisis.clone(),
                embedder.as_ref(),
                &service.triage.sentiment,
            )?;
            Ok(radar.scan(&id, &messages)?)
        })
        .await
        .map_err(|e| Error::Invalid(format!("the crisis scan stopped: {e}")))?
    }
}

/// What the crisis radar scans of `brand` at `now`: the messages received within its horizon
/// (the baseline and one window before `now`), at most the newest `cap`, oldest first as a
/// stream reads.
async fn crisis_stream(
    workflow: &Workflow,
    brand: &str,
    config: &CrisisConfig,
    now: DateTime<Utc>,
    cap: u32,
) -> Result<Vec<InboundMessage>, tact_workflow::Error> {
    let horizon = Duration::hours(i64::from(config.baseline_hours))
        + Duration::minutes(i64::from(config.window_minutes));
    let mut newest_first = workflow
        .queue(&MessageFilter {
            brand: Some(brand.to_owned()),
            received_since: Some(now - horizon),
            order: QueueOrder::NewestFirst,
            limit: Some(cap),
            ..MessageFilter::default()
        })
        .await?;
    // The radar orders by `created_at` itself; this only hands it the stream as it arrived.
    newest_first.reverse();
    Ok(newest_first.into_iter().map(|r| r.inbound).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tact_workflow::audit::{AuditAction, NewAuditEntry};
    use tact_workflow::{SqliteStore, Status};

    async fn receive(workflow: &Workflow, id: &str, brand: &str, at: DateTime<Utc>) {
        let inbound = InboundMessage::from_json(serde_json::json!({
            "id": id, "brand": brand, "channel": "x", "author": "@sam",
            "text": "The app crashes at checkout.", "created_at": at.to_rfc3339(),
        }))
        .unwrap();
        let audit = NewAuditEntry {
            actor: "inbound:test".into(),
            action: AuditAction::Received,
            from: None,
            to: Status::Received,
            at,
            draft_text: None,
            final_text: None,
            note: None,
        };
        workflow
            .store()
            .insert_message(&inbound, audit)
            .await
            .unwrap();
    }

    fn ids(stream: &[InboundMessage]) -> Vec<&str> {
        stream.iter().map(|m| m.id.as_str()).collect()
    }

    #[tokio::test]
    async fn the_radar_scans_the_newest_messages_within_its_horizon() {
        let dir = tempfile::tempdir().unwrap();
        let workflow = Workflow::new(Arc::new(SqliteStore::open(dir.path()).await.unwrap()));
        let now = Utc::now();
        let config = CrisisConfig::default();
        // A busy past, more messages than the cap, all older than the baseline reaches.
        for i in 0..60 {
            let at = now - Duration::days(30) + Duration::minutes(i);
            receive(&workflow, &format!("old-{i:02}"), "acme", at).await;
        }
        for i in 0..5 {
            let at = now - Duration::days(3) + Duration::minutes(i);
            receive(&workflow, &format!("baseline-{i}"), "acme", at).await;
        }
        for i in 0..30 {
            let at = now - Duration::minutes(30) + Duration::seconds(i);
            receive(&workflow, &format!("spike-{i:02}"), "acme", at).await;
        }
        receive(&workflow, "elsewhere", "globex", now - Duration::minutes(1)).await;

        let stream = crisis_stream(&workflow, "acme", &config, now, 1000)
            .await
            .unwrap();
        let mut expected: Vec<String> = (0..5).map(|i| format!("baseline-{i}")).collect();
        expected.extend((0..30).map(|i| format!("spike-{i:02}")));
        assert_eq!(ids(&stream), expected, "the horizon, oldest first");

        // Over the cap, the newest are kept: the spike, not the baseline.
        let stream = crisis_stream(&workflow, "acme", &config, now, 25)
            .await
            .unwrap();
        assert_eq!(ids(&stream), expected[10..], "the newest 25, oldest first");
    }
}
