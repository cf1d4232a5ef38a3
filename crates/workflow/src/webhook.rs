//! The webhook connector: POSTs the reply as JSON, signed with HMAC-SHA256, with the outbox
//! row's idempotency key.
//!
//! Headers: `Idempotency-Key`, `X-Tact-Timestamp` (Unix seconds) and
//! `X-Tact-Signature: sha256=<hex>`, the HMAC of `"<timestamp>.<body>"` under the shared
//! secret. Signing the timestamp with the body lets a receiver refuse replays of old requests.

use std::time::Duration;

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::delivery::{DeliveryConnector, DeliveryError};
use crate::error::{Error, Result};
use crate::outbox::OutboxEntry;
use crate::policy::ConnectorKind;

pub const SIGNATURE_HEADER: &str = "x-tact-signature";
pub const TIMESTAMP_HEADER: &str = "x-tact-timestamp";
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";

#[derive(Debug, Clone)]
pub struct WebhookConfig {
    pub url: String,
    pub secret: String,
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct WebhookConnector {
    client: reqwest::Client,
    config: WebhookConfig,
}

impl WebhookConnector {
    pub fn new(config: WebhookConfig) -> Result<Self> {
        if config.secret.is_empty() {
            return Err(Error::Empty {
                field: "webhook secret",
            });
        }
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| Error::InvalidConfig(format!("webhook client: {e}")))?;
        Ok(Self { client, config })
    }
}

/// The `X-Tact-Signature` value for `body` sent at `timestamp`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[async_trait]
impl DeliveryConnector for WebhookConnector {
    fn kind(&self) -> ConnectorKind {
        ConnectorKind::Webhook
    }

    async fn deliver(&self, entry: &OutboxEntry) -> Result<(), DeliveryError> {
        let body = serde_json::to_vec(&entry.payload).map_err(|e| DeliveryError {
            retryable: false,
            message: format!("cannot encode the payload: {e}"),
        })?;
        let timestamp = chrono::Utc::now().timestamp();
        let response = self
            .client
            .post(&self.config.url)
            .header("content-type", "application/json")
            .header(IDEMPOTENCY_HEADER, &entry.idempotency_key)
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(
                SIGNATURE_HEADER,
                sign(&self.config.secret, timestamp, &body),
            )
            .body(body)
            .send()
            .await
            .map_err(|e| DeliveryError {
                retryable: true,
                message: format!("POST {}: {e}", self.config.url),
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        // 408 and 429 say "later"; other client errors will not change on a retry.
        let retryable =
            status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429;
        Err(DeliveryError {
            retryable,
            message: format!("POST {}: HTTP {status}", self.config.url),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_covers_timestamp_and_body() {
        let a = sign("s3cret", 1_700_000_000, b"{\"text\":\"hi\"}");
        assert!(a.starts_with("sha256=") && a.len() == 7 + 64, "{a}");
        assert_ne!(a, sign("s3cret", 1_700_000_001, b"{\"text\":\"hi\"}"));
        assert_ne!(a, sign("s3cret", 1_700_000_000, b"{\"text\":\"ho\"}"));
        assert_ne!(a, sign("other", 1_700_000_000, b"{\"text\":\"hi\"}"));
    }
}
