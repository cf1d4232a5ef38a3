//! The service's settings: the `[service]` section of tact's configuration (the drafting
//! queue, delivery, webhooks). The CLI reads and layers the configuration; this crate only says
//! what the keys are and checks them.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceConfig {
    /// Messages waiting for (or in) drafting before submissions are refused with 503.
    pub drafting_queue: usize,
    /// Messages drafted at once (their generations are interleaved by the engine).
    pub drafting_workers: usize,
    /// Seconds a drafting job stays a process's without renewal (renewed every third of it):
    /// how soon another process (or this one, restarted) drafts a message whose drafter died.
    pub drafting_lease_secs: u64,
    /// How often the store's drafting queue is polled for jobs other processes queued or
    /// left behind, in milliseconds.
    pub drafting_poll_ms: u64,
    /// `Retry-After` seconds sent with a 503 `queue_full` before any draft has finished; after,
    /// the time the queue takes to free the places asked for, at the rate drafts finish
    /// (1 s to 5 min).
    pub retry_after_secs: u64,
    /// How often the outbox is polled for due deliveries, in milliseconds.
    pub outbox_poll_ms: u64,
    /// Delivery attempts before a reply is dead-lettered.
    pub delivery_max_attempts: u32,
    /// Seconds a claimed delivery stays this process's: after a crash mid-delivery the reply
    /// is delivered again (same idempotency key) once this has passed.
    pub delivery_lease_secs: u64,
    /// Webhooks by brand id: where approved replies of a brand whose policy says `webhook`
    /// are POSTed, signed with `secret`.
    pub webhooks: BTreeMap<String, WebhookSettings>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    pub url: String,
    /// HMAC-SHA256 key of the `X-Tact-Signature` header.
    pub secret: String,
    #[serde(default = "default_webhook_timeout")]
    pub timeout_secs: u64,
}

fn default_webhook_timeout() -> u64 {
    10
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            drafting_queue: 64,
            drafting_workers: 2,
            drafting_lease_secs: 30,
            drafting_poll_ms: 500,
            retry_after_secs: 5,
            outbox_poll_ms: 500,
            delivery_max_attempts: 8,
            delivery_lease_secs: 60,
            webhooks: BTreeMap::new(),
        }
    }
}

impl ServiceConfig {
    /// The keys of this section, for configurations that still put them under `[server]`.
    pub const KEYS: [&'static str; 9] = [
        "drafting_queue",
        "drafting_workers",
        "drafting_lease_secs",
        "drafting_poll_ms",
        "retry_after_secs",
        "outbox_poll_ms",
        "delivery_max_attempts",
        "delivery_lease_secs",
        "webhooks",
    ];

    pub fn validate(&self) -> Result<()> {
        let bad = |what: &str| Err(Error::Config(what.to_owned()));
        if self.drafting_queue == 0 {
            return bad("service.drafting_queue must be at least 1");
        }
        if self.drafting_workers == 0 {
            return bad("service.drafting_workers must be at least 1");
        }
        if self.drafting_lease_secs == 0 {
            return bad("service.drafting_lease_secs must be at least 1");
        }
        if self.drafting_poll_ms == 0 {
            return bad("service.drafting_poll_ms must be at least 1");
        }
        if self.outbox_poll_ms == 0 {
            return bad("service.outbox_poll_ms must be at least 1");
        }
        if self.delivery_lease_secs == 0 {
            return bad("service.delivery_lease_secs must be at least 1");
        }
        if self.delivery_max_attempts == 0 {
            return bad("service.delivery_max_attempts must be at least 1");
        }
        for (brand, hook) in &self.webhooks {
            if !(hook.url.starts_with("http://") || hook.url.starts_with("https://")) {
                return Err(Error::Config(format!(
                    "service.webhooks.{brand}.url must be an http(s) URL, got {:?}",
                    hook.url
                )));
            }
            if hook.secret.is_empty() {
                return Err(Error::Config(format!(
                    "service.webhooks.{brand}.secret must not be empty"
                )));
            }
        }
        Ok(())
    }

    pub fn drafting_lease(&self) -> Duration {
        Duration::from_secs(self.drafting_lease_secs)
    }

    pub fn drafting_poll(&self) -> Duration {
        Duration::from_millis(self.drafting_poll_ms)
    }

    pub fn retry_after(&self) -> Duration {
        Duration::from_secs(self.retry_after_secs)
    }
}
