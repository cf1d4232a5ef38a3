//! The server's settings: the `[server]` section of tact's configuration. The CLI reads and
//! layers the configuration; this crate only says what the keys are and checks them.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address `tact serve` listens on.
    pub addr: String,
    /// Largest request body accepted, in bytes (413 above it).
    pub body_limit_bytes: usize,
    /// A request that has not been answered after this many seconds gets 408.
    pub request_timeout_secs: u64,
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
    /// Origins allowed to call the API from a browser (e.g. `chrome-extension://<id>`); `*`
    /// allows any (development only). Empty: no cross-origin access.
    pub cors_origins: Vec<String>,
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

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            addr: "127.0.0.1:8080".into(),
            body_limit_bytes: 256 * 1024,
            request_timeout_secs: 30,
            drafting_queue: 64,
            drafting_workers: 2,
            drafting_lease_secs: 30,
            drafting_poll_ms: 500,
            retry_after_secs: 5,
            cors_origins: Vec::new(),
            outbox_poll_ms: 500,
            delivery_max_attempts: 8,
            delivery_lease_secs: 60,
            webhooks: BTreeMap::new(),
        }
    }
}

impl ServerConfig {
    pub fn validate(&self) -> Result<()> {
        let bad = |what: &str| Err(Error::Config(what.to_owned()));
        if self.body_limit_bytes < 1024 {
            return bad("server.body_limit_bytes must be at least 1024");
        }
        if self.request_timeout_secs == 0 {
            return bad("server.request_timeout_secs must be at least 1");
        }
        if self.drafting_queue == 0 {
            return bad("server.drafting_queue must be at least 1");
        }
        if self.drafting_workers == 0 {
            return bad("server.drafting_workers must be at least 1");
        }
        if self.drafting_lease_secs == 0 {
            return bad("server.drafting_lease_secs must be at least 1");
        }
        if self.drafting_poll_ms == 0 {
            return bad("server.drafting_poll_ms must be at least 1");
        }
        if self.outbox_poll_ms == 0 {
            return bad("server.outbox_poll_ms must be at least 1");
        }
        if self.delivery_lease_secs == 0 {
            return bad("server.delivery_lease_secs must be at least 1");
        }
        if self.delivery_max_attempts == 0 {
            return bad("server.delivery_max_attempts must be at least 1");
        }
        for origin in &self.cors_origins {
            if origin != "*" && !origin.contains("://") {
                return Err(Error::Config(format!(
                    "server.cors_origins: {origin:?} is not an origin (scheme://host[:port]) or `*`"
                )));
            }
        }
        for (brand, hook) in &self.webhooks {
            if !(hook.url.starts_with("http://") || hook.url.starts_with("https://")) {
                return Err(Error::Config(format!(
                    "server.webhooks.{brand}.url must be an http(s) URL, got {:?}",
                    hook.url
                )));
            }
            if hook.secret.is_empty() {
                return Err(Error::Config(format!(
                    "server.webhooks.{brand}.secret must not be empty"
                )));
            }
        }
        Ok(())
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
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
