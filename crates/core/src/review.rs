//! The review vocabulary: what a reviewer is shown about a drafted reply, defined once for
//! every crate. Drafting produces these values, the workflow stores them, the service and the
//! API serve them, evals report them.
//!
//! A [`Violation`] and a [`Candidate`] are generic over the rule they name: drafting uses its
//! typed rule enum, storage and the wire use the rule's key (`String`, the default);
//! [`Candidate::keyed`] converts one into the other through [`RuleKey`].

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::generate::FinishReason;

/// How much a violation matters. A `Block` violation cannot be approved without an override
/// and a reason; a `Warn` is shown to the reviewer and nothing more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Warn,
    Block,
}

impl Severity {
    pub fn key(self) -> &'static str {
        match self {
            Severity::Warn => "warn",
            Severity::Block => "block",
        }
    }
}

/// A rule as stored and shown: its key in `brand.toml` and JSON (`banned_term`).
pub trait RuleKey {
    fn key(&self) -> &str;
}

impl RuleKey for String {
    fn key(&self) -> &str {
        self
    }
}

/// One broken guideline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation<R = String> {
    pub rule: R,
    pub severity: Severity,
    /// Guideline clause id, e.g. `voice-and-tone.md > Be human > 2`.
    pub clause: String,
    /// What is wrong, for the reviewer.
    pub message: String,
    /// The offending part of the text.
    pub excerpt: String,
}

impl<R: RuleKey> Violation<R> {
    /// The violation with its rule as a key.
    pub fn keyed(&self) -> Violation {
        Violation {
            rule: self.rule.key().to_owned(),
            severity: self.severity,
            clause: self.clause.clone(),
            message: self.message.clone(),
            excerpt: self.excerpt.clone(),
        }
    }
}

/// Whether any violation blocks approval.
pub fn blocks<R>(violations: &[Violation<R>]) -> bool {
    violations.iter().any(|v| v.severity == Severity::Block)
}

pub fn count_blocks<R>(violations: &[Violation<R>]) -> u32 {
    let blocks = violations
        .iter()
        .filter(|v| match v.severity {
            Severity::Block => true,
            Severity::Warn => false,
        })
        .count();
    u32::try_from(blocks).unwrap_or(u32::MAX)
}

/// Where a candidate came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Origin {
    /// Written by the model for this message.
    Generated { seed: u64, temperature: f64 },
    /// The closest approved past reply, lightly adapted to this message.
    AdaptedPastReply {
        reply_id: String,
        /// What was changed, for the reviewer (`greeting: "Hi Ken," → "Hi Sam,"`).
        adaptations: Vec<String>,
    },
}

impl Origin {
    pub fn label(&self) -> String {
        match self {
            Origin::Generated { seed, temperature } => {
                format!("generated (seed {seed}, temperature {temperature:.2})")
            }
            Origin::AdaptedPastReply { reply_id, .. } => {
                format!("adapted past reply {reply_id}")
            }
        }
    }

    /// `generated` or `adapted_past_reply`.
    pub fn key(&self) -> &'static str {
        match self {
            Origin::Generated { .. } => "generated",
            Origin::AdaptedPastReply { .. } => "adapted_past_reply",
        }
    }

    pub fn is_adapted(&self) -> bool {
        match self {
            Origin::AdaptedPastReply { .. } => true,
            Origin::Generated { .. } => false,
        }
    }
}

/// What a citation points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CitationKind {
    Guideline,
    Reply,
}

impl CitationKind {
    pub fn key(self) -> &'static str {
        match self {
            CitationKind::Guideline => "guideline",
            CitationKind::Reply => "reply",
        }
    }
}

/// Evidence from the prompt that a candidate resembles, most similar first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Citation {
    /// A guideline clause id or a past reply id.
    pub id: String,
    /// Cosine similarity of the candidate to the clause text or the approved reply.
    pub similarity: f32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Citations {
    pub clauses: Vec<Citation>,
    pub replies: Vec<Citation>,
}

impl Citations {
    /// Clauses first, then replies, each with its kind.
    pub fn iter(&self) -> impl Iterator<Item = (CitationKind, &Citation)> {
        self.clauses
            .iter()
            .map(|c| (CitationKind::Guideline, c))
            .chain(self.replies.iter().map(|c| (CitationKind::Reply, c)))
    }
}

pub const CHECKS_WEIGHT: f32 = 0.5;
pub const RELEVANCE_WEIGHT: f32 = 0.25;
pub const CLOSENESS_WEIGHT: f32 = 0.25;

/// A candidate's score and its parts, each in `[0, 1]`:
///
/// - **checks**: 0 when a block-severity violation fires, otherwise 1 less 0.1 per warning
///   (at least 0.5);
/// - **relevance**: cosine similarity of the candidate to the inbound message;
/// - **closeness**: the highest cosine similarity of the candidate to an approved reply that
///   was in the prompt.
///
/// `total = 0.5 · checks + 0.25 · relevance + 0.25 · closeness`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Score {
    pub checks: f32,
    pub relevance: f32,
    pub closeness: f32,
    pub total: f32,
}

impl Score {
    pub fn new<R>(violations: &[Violation<R>], relevance: f32, closeness: f32) -> Self {
        let checks = checks_part(violations);
        let relevance = relevance.clamp(0.0, 1.0);
        let closeness = closeness.clamp(0.0, 1.0);
        Self {
            checks,
            relevance,
            closeness,
            total: CHECKS_WEIGHT * checks
                + RELEVANCE_WEIGHT * relevance
                + CLOSENESS_WEIGHT * closeness,
        }
    }
}

fn checks_part<R>(violations: &[Violation<R>]) -> f32 {
    if blocks(violations) {
        return 0.0;
    }
    let warnings = violations
        .iter()
        .filter(|v| v.severity == Severity::Warn)
        .count();
    (1.0 - 0.1 * warnings as f32).max(0.5)
}

/// What post-processing changed in a generated text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    RoleTextRemoved,
    LinkDropped { url: String },
    Trimmed { from_chars: usize, to_chars: usize },
}

/// How a generated candidate was produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationInfo {
    pub finish: FinishReason,
    pub prompt_tokens: usize,
    pub generated_tokens: usize,
    #[serde(rename = "time_to_first_token_ms", with = "millis_opt")]
    pub time_to_first_token: Option<Duration>,
    #[serde(rename = "total_ms", with = "millis")]
    pub total: Duration,
    pub prefill_tokens_per_s: f64,
    pub decode_tokens_per_s: f64,
    /// The model's text before post-processing.
    pub raw: String,
}

/// One suggested reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate<R = String> {
    /// 1 is the best.
    pub rank: usize,
    pub origin: Origin,
    /// The text after post-processing (or adaptation).
    pub text: String,
    /// What post-processing changed.
    #[serde(default)]
    pub changes: Vec<Change>,
    /// Guideline violations, block first.
    pub violations: Vec<Violation<R>>,
    #[serde(default)]
    pub citations: Citations,
    pub score: Score,
    /// Absent for the adapted past reply.
    #[serde(default)]
    pub generation: Option<GenerationInfo>,
}

/// An empty generated candidate (seed 0, greedy, no checks, citations or score), for drafts
/// written by hand.
impl<R> Default for Candidate<R> {
    fn default() -> Self {
        Self {
            rank: 0,
            origin: Origin::Generated {
                seed: 0,
                temperature: 0.0,
            },
            text: String::new(),
            changes: Vec::new(),
            violations: Vec::new(),
            citations: Citations::default(),
            score: Score::default(),
            generation: None,
        }
    }
}

impl<R> Candidate<R> {
    pub fn blocked(&self) -> bool {
        blocks(&self.violations)
    }

    pub fn block_violations(&self) -> u32 {
        count_blocks(&self.violations)
    }
}

impl<R: RuleKey> Candidate<R> {
    /// The candidate with its rules as keys, as it is stored and served.
    pub fn keyed(&self) -> Candidate {
        Candidate {
            rank: self.rank,
            origin: self.origin.clone(),
            text: self.text.clone(),
            changes: self.changes.clone(),
            violations: self.violations.iter().map(Violation::keyed).collect(),
            citations: self.citations.clone(),
            score: self.score,
            generation: self.generation.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sentiment {
    Negative,
    Neutral,
    Positive,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Intent {
    Question,
    Complaint,
    Praise,
    BugReport,
    Billing,
    Delivery,
    Account,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    Low,
    Normal,
    High,
}

/// A message's triage as a reviewer sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriageSummary {
    pub sentiment: Sentiment,
    pub intent: Intent,
    pub urgency: Urgency,
    /// ISO 639-1 code, e.g. `en`.
    pub language: String,
    /// Insults, profanity at people or threats.
    pub toxic: bool,
    /// Escalation topics found; non-empty means the message went to a person undrafted.
    pub escalation: Vec<String>,
}

/// The candidates drafted for one message, as they are stored for review and served.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Drafts {
    pub candidates: Vec<Candidate>,
    /// Absent for drafts stored without one (written by hand, or by a store older than the
    /// typed triage whose value could not be read).
    #[serde(default)]
    pub triage: Option<TriageSummary>,
}

mod millis {
    use super::*;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64() * 1e3)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let ms = f64::deserialize(d)?;
        Duration::try_from_secs_f64(ms / 1e3).map_err(serde::de::Error::custom)
    }
}

mod millis_opt {
    use super::*;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => millis::serialize(d, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<f64>::deserialize(d)?
            .map(|ms| Duration::try_from_secs_f64(ms / 1e3).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn violation(severity: Severity) -> Violation {
        Violation {
            rule: "commitment".into(),
            severity,
            clause: "voice.md > Safety > 3".into(),
            message: "promises a refund".into(),
            excerpt: "refund".into(),
        }
    }

    #[test]
    fn score_parts_and_total() {
        let clean = Score::new::<String>(&[], 0.6, 0.4);
        assert!((clean.total - (0.5 + 0.15 + 0.1)).abs() < 1e-6);
        let warned = Score::new(&[violation(Severity::Warn)], 0.6, 0.4);
        assert!((warned.checks - 0.9).abs() < 1e-6);
        let blocked = Score::new(&[violation(Severity::Block)], 0.9, 0.9);
        assert_eq!(blocked.checks, 0.0);
        assert_eq!(Score::new::<String>(&[], -0.2, 1.5).relevance, 0.0);
    }

    #[test]
    fn a_candidate_round_trips_through_json_with_its_timings() {
        let candidate = Candidate {
            rank: 1,
            origin: Origin::Generated {
                seed: 7,
                temperature: 0.7,
            },
            text: "Hi!".into(),
            changes: vec![Change::RoleTextRemoved],
            violations: vec![violation(Severity::Block)],
            citations: Citations {
                clauses: vec![Citation {
                    id: "voice.md > A > 1".into(),
                    similarity: 0.5,
                }],
                replies: vec![],
            },
            score: Score::new(&[violation(Severity::Block)], 0.5, 0.5),
            generation: Some(GenerationInfo {
                finish: FinishReason::Stop,
                prompt_tokens: 10,
                generated_tokens: 3,
                time_to_first_token: Some(Duration::from_millis(12)),
                total: Duration::from_millis(40),
                prefill_tokens_per_s: 100.0,
                decode_tokens_per_s: 20.0,
                raw: "Hi!".into(),
            }),
        };
        let json = serde_json::to_string(&candidate).unwrap();
        let back: Candidate = serde_json::from_str(&json).unwrap();
        assert_eq!(back, candidate);
        assert_eq!(back.block_violations(), 1);
        let kinds: Vec<CitationKind> = back.citations.iter().map(|(k, _)| k).collect();
        assert_eq!(kinds, [CitationKind::Guideline]);
    }
}
