//! A brand's approval policy: how many people must approve a reply and what they may approve.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How an approved reply leaves tact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectorKind {
    /// POSTed to the brand's webhook by an outbox worker.
    Webhook,
    /// Posted by a person (e.g. from the browser extension), who then marks it posted.
    Manual,
}

impl ConnectorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectorKind::Webhook => "webhook",
            ConnectorKind::Manual => "manual",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "webhook" => Some(ConnectorKind::Webhook),
            "manual" => Some(ConnectorKind::Manual),
            _ => None,
        }
    }
}

/// Per-brand approval rules. Stored per brand; a brand without a stored policy gets
/// [`BrandPolicy::default`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BrandPolicy {
    /// Distinct approvals a reply needs in normal times.
    pub approvals: u32,
    /// Distinct approvals a reply needs while the brand is in crisis mode.
    pub crisis_approvals: u32,
    pub crisis_mode: bool,
    /// Whether the person who edited a reply may count as one of its approvers.
    pub author_may_approve_own_edit: bool,
    pub delivery: ConnectorKind,
}

impl Default for BrandPolicy {
    fn default() -> Self {
        Self {
            approvals: 1,
            crisis_approvals: 2,
            crisis_mode: false,
            author_may_approve_own_edit: false,
            // Nothing is configured on a fresh install, so a person posts the reply.
            delivery: ConnectorKind::Manual,
        }
    }
}

impl BrandPolicy {
    /// Approvals needed now. Never below one, whatever was stored.
    pub fn required_approvals(&self) -> u32 {
        let n = if self.crisis_mode {
            self.crisis_approvals
        } else {
            self.approvals
        };
        n.max(1)
    }

    pub fn validate(&self) -> Result<()> {
        if self.approvals == 0 {
            return Err(Error::InvalidPolicy(
                "approvals must be at least 1: nothing is sent without an approval".into(),
            ));
        }
        if self.crisis_approvals < self.approvals {
            return Err(Error::InvalidPolicy(format!(
                "crisis_approvals ({}) must be at least approvals ({})",
                self.crisis_approvals, self.approvals
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crisis_mode_raises_the_bar() {
        let mut policy = BrandPolicy::default();
        assert_eq!(policy.required_approvals(), 1);
        policy.crisis_mode = true;
        assert_eq!(policy.required_approvals(), 2);
    }

    #[test]
    fn zero_approvals_is_refused() {
        let policy = BrandPolicy {
            approvals: 0,
            ..BrandPolicy::default()
        };
        assert!(matches!(policy.validate(), Err(Error::InvalidPolicy(_))));
        assert_eq!(policy.required_approvals(), 1);
    }
}
