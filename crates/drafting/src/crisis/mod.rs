//! Crisis radar: notices when one complaint suddenly floods a brand's inbox and summarises it.
//!
//! [`CrisisRadar::scan`] takes a stream of inbound messages, keeps one brand's, and
//! - groups them into topics by clustering their sentence embeddings ([`topics`]);
//! - calls each message negative or not with the triage sentiment classifier;
//! - slides a window over each topic and compares its volume and negative share with the
//!   brand's baseline just before it ([`spikes`], thresholds in [`CrisisConfig`]);
//! - for each spike, writes a [`CrisisSummary`]: keywords, since when, how many messages and
//!   how many negative, representative quotes verbatim with their ids, and the affected
//!   product when one is named ([`summary`]).
//!
//! Every number and quote in a summary is read off the messages. The model only writes the
//! suggested holding statement ([`holding_statement`]), which is post-processed and checked
//! against the brand's guidelines like any draft, and never feeds back into the summary.

mod config;
mod holding;
mod spikes;
mod summary;
mod topics;

use chrono::DateTime;
use serde::Serialize;
use tact_core::{Embedder, InboundMessage};

pub use config::CrisisConfig;
pub use holding::{HoldingStatement, holding_prompt, holding_statement};
pub use summary::{AffectedProduct, ProductSource};

use crate::error::{Error, Result};
use crate::triage::classifier::{Head, TrainOptions};
use crate::triage::{Sentiment, labelled_set};

/// A message quoted in a summary, exactly as it arrived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Quote {
    pub id: String,
    pub author: String,
    pub channel: String,
    pub created_at: String,
    pub text: String,
    /// Whether the sentiment classifier called it negative.
    pub negative: bool,
}

/// A detected spike and what it is about. Counts, times and quotes come from the messages.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CrisisSummary {
    pub brand: String,
    /// What people report, in a few words: the leading keywords.
    pub label: String,
    /// Words and word pairs frequent in the spike and rare in the brand's other messages.
    pub keywords: Vec<String>,
    /// `created_at` of the spike's first and last message, as written in the stream.
    pub since: String,
    pub until: String,
    /// Messages in the spike, and how many of them the classifier called negative.
    pub messages: usize,
    pub negative: usize,
    /// Most spike messages inside one window of `window_minutes`.
    pub peak_window: usize,
    pub window_minutes: u32,
    /// The topic's expected messages per window in the baseline before the spike.
    pub baseline_per_window: f64,
    /// The brand's negative share in that baseline (`None` when the stream has no history).
    pub baseline_negative_share: Option<f64>,
    pub affected: Option<AffectedProduct>,
    /// Representative messages, most typical first.
    pub quotes: Vec<Quote>,
    /// Every message of the spike, in time order.
    pub message_ids: Vec<String>,
    /// Filled in by [`holding_statement`], when a generator is at hand.
    pub holding_statement: Option<HoldingStatement>,
}

/// Trains the sentiment head of the triage classifier on the shipped labelled set.
pub fn train_sentiment(embedder: &dyn Embedder) -> Result<Head<Sentiment>> {
    let set = labelled_set()?;
    let texts: Vec<&str> = set.iter().map(|m| m.text.as_str()).collect();
    let embeddings = embedder.embed(&texts)?;
    let labels: Vec<Sentiment> = set.iter().map(|m| m.labels.sentiment).collect();
    Head::train(&embeddings, &labels, TrainOptions::default())
}

/// Scans message streams for spikes, one brand at a time.
pub struct CrisisRadar<'a> {
    config: CrisisConfig,
    embedder: &'a dyn Embedder,
    sentiment: &'a Head<Sentiment>,
}

impl std::fmt::Debug for CrisisRadar<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrisisRadar")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<'a> CrisisRadar<'a> {
    /// Validates `config`.
    pub fn new(
        config: CrisisConfig,
        embedder: &'a dyn Embedder,
        sentiment: &'a Head<Sentiment>,
    ) -> Result<Self> {
        config.validate("crisis config")?;
        Ok(Self {
            config,
            embedder,
            sentiment,
        })
    }

    pub fn config(&self) -> &CrisisConfig {
        &self.config
    }

    /// The spikes in `brand`'s messages of `stream` (other brands' messages are ignored), in
    /// order of their start, without holding statements.
    pub fn scan(&self, brand: &str, stream: &[InboundMessage]) -> Result<Vec<CrisisSummary>> {
        let mut messages: Vec<(i64, &InboundMessage)> = stream
            .iter()
            .filter(|m| m.brand == brand)
            .map(|m| Ok((timestamp_ms(m)?, m)))
            .collect::<Result<_>>()?;
        messages.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.id.cmp(&b.1.id)));
        if messages.is_empty() {
            return Ok(Vec::new());
        }
        let texts: Vec<&str> = messages.iter().map(|(_, m)| m.text.as_str()).collect();
        let embeddings: Vec<Vec<f32>> = self
            .embedder
            .embed(&texts)?
            .iter()
            .map(|e| topics::unit(e))
            .collect();
        let negative = embeddings
            .iter()
            .map(|e| Ok(self.sentiment.predict(e)?.label == Sentiment::Negative))
            .collect::<Result<Vec<bool>>>()?;
        let topics = topics::cluster(&embeddings, self.config.topic_similarity);
        let observations: Vec<spikes::Observation> = messages
            .iter()
            .zip(&topics.assignment)
            .zip(&negative)
            .map(|(((at_ms, _), &topic), &negative)| spikes::Observation {
                at_ms: *at_ms,
                topic,
                negative,
            })
            .collect();
        let episodes = spikes::detect(&observations, &self.config);
        let summaries = episodes
            .iter()
            .map(|ep| {
                let inside: Vec<bool> = (0..messages.len())
                    .map(|i| ep.members.binary_search(&i).is_ok())
                    .collect();
                let spike_texts: Vec<&str> = ep.members.iter().map(|&i| texts[i]).collect();
                let background: Vec<&str> = (0..texts.len())
                    .filter(|&i| !inside[i])
                    .map(|i| texts[i])
                    .collect();
                let spike_embeddings: Vec<Vec<f32>> =
                    ep.members.iter().map(|&i| embeddings[i].clone()).collect();
                let quotes =
                    summary::representative(&spike_texts, &spike_embeddings, self.config.quotes)
                        .into_iter()
                        .map(|k| {
                            let i = ep.members[k];
                            let m = messages[i].1;
                            Quote {
                                id: m.id.clone(),
                                author: m.author.clone(),
                                channel: m.channel.clone(),
                                created_at: m.created_at.clone(),
                                text: m.text.clone(),
                                negative: negative[i],
                            }
                        })
                        .collect::<Vec<_>>();
                let keywords = summary::keywords(&spike_texts, &background, self.config.keywords);
                let label = match keywords.len() {
                    0 => quotes[0].text.clone(),
                    n => keywords[..n.min(3)].join(", "),
                };
                let first = ep.members[0];
                let last = *ep.members.last().unwrap();
                CrisisSummary {
                    brand: brand.to_owned(),
                    label,
                    keywords,
                    since: messages[first].1.created_at.clone(),
                    until: messages[last].1.created_at.clone(),
                    messages: ep.members.len(),
                    negative: ep.members.iter().filter(|&&i| negative[i]).count(),
                    peak_window: ep.peak_window,
                    window_minutes: self.config.window_minutes,
                    baseline_per_window: ep.baseline_per_window,
                    baseline_negative_share: ep.baseline_negative_share,
                    affected: summary::affected_product(
                        &spike_texts,
                        &self.config.products,
                        self.config.min_product_share,
                    ),
                    quotes,
                    message_ids: ep
                        .members
                        .iter()
                        .map(|&i| messages[i].1.id.clone())
                        .collect(),
                    holding_statement: None,
                }
            })
            .collect();
        Ok(summaries)
    }
}

fn timestamp_ms(message: &InboundMessage) -> Result<i64> {
    DateTime::parse_from_rfc3339(&message.created_at)
        .map(|t| t.timestamp_millis())
        .map_err(|e| Error::Invalid {
            file: "inbound messages".into(),
            field: format!("message {:?} created_at", message.id),
            problem: format!("is not an RFC 3339 timestamp ({e})"),
        })
}
