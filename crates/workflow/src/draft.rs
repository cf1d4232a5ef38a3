//! Draft sets as the workflow stores them: what the reviewer sees, kept as data. The drafting
//! crate produces richer values; whoever calls the workflow converts them into these shapes, so
//! the store does not change when drafting internals do.

use serde::{Deserialize, Serialize};

/// The candidates drafted for one message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DraftSet {
    pub candidates: Vec<Candidate>,
    /// Triage of the inbound message (urgency, sentiment, escalation topics), as drafting
    /// produced it.
    #[serde(default)]
    pub triage: serde_json::Value,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub text: String,
    #[serde(default)]
    pub citations: Vec<Citation>,
    #[serde(default)]
    pub violations: Vec<Violation>,
    /// Anything else drafting reports about the candidate (origin, score, timings).
    #[serde(default)]
    pub detail: serde_json::Value,
}

impl Candidate {
    pub fn block_violations(&self) -> u32 {
        count_blocks(&self.violations)
    }
}

/// A guideline clause or past reply a candidate drew on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Citation {
    pub id: String,
    pub similarity: f32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Warn,
    Block,
}

/// A broken guideline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    pub rule: String,
    pub severity: Severity,
    pub clause: String,
    pub message: String,
    pub excerpt: String,
}

pub fn count_blocks(violations: &[Violation]) -> u32 {
    let blocks = violations
        .iter()
        .filter(|v| match v.severity {
            Severity::Block => true,
            Severity::Warn => false,
        })
        .count();
    u32::try_from(blocks).unwrap_or(u32::MAX)
}
