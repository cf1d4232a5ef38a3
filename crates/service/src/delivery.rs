//! Delivery of approved replies: an outbox worker with a webhook per brand
//! (`service.webhooks.<brand>`), HMAC-signed by the workflow crate's [`WebhookConnector`].

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_trait::async_trait;
use tact_workflow::outbox::OutboxEntry;
use tact_workflow::{
    ConnectorKind, DeliveryConnector, DeliveryError, OutboxWorker, RetryPolicy, WebhookConfig,
    WebhookConnector,
};
use tokio::sync::watch;

use crate::config::ServiceConfig;
use crate::error::{Error, Result};
use crate::state::Service;

/// The webhook of each brand that has one.
pub struct BrandWebhooks {
    hooks: BTreeMap<String, WebhookConnector>,
}

impl std::fmt::Debug for BrandWebhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrandWebhooks")
            .field("brands", &self.hooks.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl BrandWebhooks {
    pub fn from_config(config: &ServiceConfig) -> Result<Self> {
        let hooks = config
            .webhooks
            .iter()
            .map(|(brand, hook)| {
                let connector = WebhookConnector::new(WebhookConfig {
                    url: hook.url.clone(),
                    secret: hook.secret.clone(),
                    timeout: Duration::from_secs(hook.timeout_secs.max(1)),
                })
                .map_err(|e| Error::Config(format!("service.webhooks.{brand}: {e}")))?;
                Ok((brand.clone(), connector))
            })
            .collect::<Result<_>>()?;
        Ok(Self { hooks })
    }
}

#[async_trait]
impl DeliveryConnector for BrandWebhooks {
    fn kind(&self) -> ConnectorKind {
        ConnectorKind::Webhook
    }

    async fn deliver(&self, entry: &OutboxEntry) -> Result<(), DeliveryError> {
        match self.hooks.get(&entry.brand) {
            Some(hook) => hook.deliver(entry).await,
            // Retryable: configuring the webhook and restarting delivers what waited.
            None => Err(DeliveryError {
                retryable: true,
                message: format!(
                    "brand {:?} delivers by webhook but service.webhooks.{} is not configured",
                    entry.brand, entry.brand
                ),
            }),
        }
    }
}

/// Delivers due webhook replies until `shutdown`; a round in progress finishes first.
pub async fn run_delivery(
    state: Service,
    connector: BrandWebhooks,
    mut shutdown: watch::Receiver<bool>,
) {
    let name = format!("server-{}-{}", std::process::id(), uuid::Uuid::new_v4());
    let worker = OutboxWorker::new(state.workflow().clone(), Arc::new(connector), &name)
        .with_retry(RetryPolicy {
            max_attempts: state.config().delivery_max_attempts,
            ..RetryPolicy::default()
        })
        .with_lease(Duration::from_secs(state.config().delivery_lease_secs));
    let idle = Duration::from_millis(state.config().outbox_poll_ms);
    while !*shutdown.borrow() {
        let pause = match worker.run_once().await {
            Ok(round) => {
                let m = state.metrics();
                m.delivered
                    .fetch_add(round.delivered as u64, Ordering::Relaxed);
                m.delivery_retries
                    .fetch_add(round.retrying as u64, Ordering::Relaxed);
                m.dead_letters
                    .fetch_add(round.dead as u64, Ordering::Relaxed);
                round.claimed() == 0
            }
            Err(e) => {
                tracing::error!(error = %e, "outbox delivery round failed");
                true
            }
        };
        if pause {
            tokio::select! {
                _ = tokio::time::sleep(idle) => {}
                _ = shutdown.changed() => {}
            }
        }
    }
}
