//! The outbox: approved replies waiting to leave, one row per approval, each with the
//! idempotency key every delivery attempt of it carries.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::policy::ConnectorKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxStatus {
    /// Waiting for a worker (first try, or a retry after `next_attempt_at`).
    Pending,
    /// Claimed by a worker until `claimed_until`; after that any worker may claim it again.
    InFlight,
    /// Waiting for a person to post it and mark it posted (manual connector).
    AwaitingManual,
    Delivered,
    /// Given up after too many failed tries.
    Dead,
}

impl OutboxStatus {
    pub const ALL: [OutboxStatus; 5] = [
        OutboxStatus::Pending,
        OutboxStatus::InFlight,
        OutboxStatus::AwaitingManual,
        OutboxStatus::Delivered,
        OutboxStatus::Dead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OutboxStatus::Pending => "pending",
            OutboxStatus::InFlight => "in_flight",
            OutboxStatus::AwaitingManual => "awaiting_manual",
            OutboxStatus::Delivered => "delivered",
            OutboxStatus::Dead => "dead",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// What a connector delivers: the JSON body of a webhook POST.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryPayload {
    pub idempotency_key: String,
    pub message_id: String,
    pub brand: String,
    pub channel: String,
    /// The author of the inbound message the reply answers.
    pub in_reply_to: String,
    pub text: String,
    pub approved_by: Vec<String>,
    pub approved_at: DateTime<Utc>,
}

/// An outbox row before it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOutboxEntry {
    pub connector: ConnectorKind,
    pub payload: DeliveryPayload,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    pub id: i64,
    pub message_id: String,
    pub brand: String,
    pub connector: ConnectorKind,
    pub idempotency_key: String,
    pub payload: DeliveryPayload,
    pub status: OutboxStatus,
    /// Delivery attempts started so far (counted when a worker claims the row).
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
    pub claimed_by: Option<String>,
    pub claimed_until: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// A worker's claim on outbox rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub connector: ConnectorKind,
    pub worker: String,
    pub limit: u32,
    pub now: DateTime<Utc>,
    /// How long the rows are the worker's; a worker that dies mid-delivery loses them then.
    pub lease: Duration,
}

/// When to try again and when to give up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries in all, the first included; after the last failure the entry is dead-lettered.
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            base_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(600),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt number `attempt` (1-based): the base delay, doubled per
    /// earlier failure, capped. `None` once the attempts are used up.
    pub fn delay_after(&self, attempt: u32) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let doublings = attempt.saturating_sub(1).min(31);
        let delay = self.base_delay.saturating_mul(1u32 << doublings);
        Some(delay.min(self.max_delay))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_caps_and_gives_up() {
        let policy = RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(5),
        };
        let delays: Vec<_> = (1..=5).map(|a| policy.delay_after(a)).collect();
        assert_eq!(
            delays,
            [
                Some(Duration::from_secs(1)),
                Some(Duration::from_secs(2)),
                Some(Duration::from_secs(4)),
                Some(Duration::from_secs(5)),
                None
            ]
        );
    }
}
