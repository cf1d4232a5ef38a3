//! Whether a source states a claim.
//!
//! - **Literal claims** (links, numbers, dates, ids, names): supported when a source yields the
//!   same normalised key, or contains the claim's text as whole words. Links and agent names
//!   may also come from any approved reply of the brand.
//! - **Statements and commitments**: the source sentence most similar in meaning (cosine of
//!   sentence embeddings), among those that name the same products and places, must reach
//!   [`STATEMENT_THRESHOLD`] and agree in polarity (a negation on one side only is a
//!   contradiction). The customer's own message never supports a statement: restating a
//!   question is not an answer.
//!
//! The threshold and cues were chosen on the labelled set in `tests/data/claim_support.jsonl`,
//! whose precision and recall the integration test measures.

use std::collections::BTreeSet;

use tact_core::{Embedder, KnowledgeError};

use super::extract::{Claim, ClaimKind, extract, sentence_spans};
use crate::candidates::cosine;
use crate::checks::ApprovedEvidence;
use crate::profile::BrandProfile;
use crate::text;

/// Least cosine similarity at which a source sentence states what a statement says.
pub const STATEMENT_THRESHOLD: f32 = 0.62;

/// Words that turn a statement into its opposite.
const NEGATIONS: &[&str] = &[
    "not",
    "no",
    "never",
    "none",
    "nothing",
    "nor",
    "cannot",
    "can't",
    "don't",
    "doesn't",
    "didn't",
    "won't",
    "isn't",
    "aren't",
    "wasn't",
    "weren't",
    "haven't",
    "hasn't",
    "without",
    "closed",
    "unavailable",
    "discontinued",
    "neither",
];

/// Where a source came from, which decides what it may support.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// A clause of the brand's fact sheet.
    Fact,
    /// A guideline clause in the prompt.
    Guideline,
    /// An approved reply in the prompt (or the adapted reply's source).
    Reply,
    /// The customer's message and thread: supports what they told us (their order number,
    /// their name), never a statement of policy.
    Message,
}

/// A text a draft may take facts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Clause id, reply id, or the message id.
    pub id: String,
    pub kind: SourceKind,
    pub text: String,
}

/// Why a claim is or is not supported.
#[derive(Debug, Clone, PartialEq)]
pub enum Support {
    /// A source states it.
    Stated { source: String },
    /// No source states it; `closest` is the nearest source sentence for statements.
    Missing { closest: Option<(String, f32)> },
    /// The most similar source sentence says the opposite.
    Contradicted {
        source: String,
        sentence: String,
        similarity: f32,
    },
}

impl Support {
    pub fn is_supported(&self) -> bool {
        matches!(self, Support::Stated { .. })
    }
}

struct SourceSentence {
    source: usize,
    text: String,
    vector: Vec<f32>,
    negated: bool,
    /// Literal claims and quantifiers of the sentence.
    keys: BTreeSet<(ClaimKind, String)>,
}

/// Words that change how much a statement promises: "free", "every", "unlimited".
const QUANTIFIERS: &[&str] = &[
    "free",
    "unlimited",
    "every",
    "all",
    "any",
    "always",
    "anywhere",
    "everywhere",
    "worldwide",
    "lifetime",
    "instantly",
    "right away",
    "same day",
    "today",
    "only",
];

/// The literal claims of a sentence (or of a statement's span) and its quantifiers.
fn sentence_keys<'a>(
    text: &str,
    literals: impl IntoIterator<Item = &'a Claim>,
) -> BTreeSet<(ClaimKind, String)> {
    let mut keys: BTreeSet<(ClaimKind, String)> = literals
        .into_iter()
        .filter(|c| {
            !c.kind.is_statement() && c.kind != ClaimKind::ProperName && c.kind != ClaimKind::Name
        })
        .map(|c| (class(c.kind), c.key.clone()))
        .collect();
    for q in QUANTIFIERS {
        if text::contains_phrase(text, q) {
            keys.insert((ClaimKind::Statement, (*q).to_owned()));
        }
    }
    keys
}

/// The sources of one draft, prepared once (keys extracted, sentences embedded) and then
/// asked about each candidate's claims.
pub struct SupportIndex {
    sources: Vec<Source>,
    /// The literal claims of each source, by kind class and key.
    keys: Vec<BTreeSet<(ClaimKind, String)>>,
    /// Normalised text of each source (then of the approved signatures), padded with spaces.
    corpus: Vec<String>,
    approved_links: BTreeSet<String>,
    sentences: Vec<SourceSentence>,
}

impl std::fmt::Debug for SupportIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SupportIndex")
            .field("sources", &self.sources.len())
            .field("sentences", &self.sentences.len())
            .finish_non_exhaustive()
    }
}

impl SupportIndex {
    /// Extracts the sources' claims and embeds their sentences with `embedder` (one batch).
    pub fn build(
        sources: Vec<Source>,
        approved: &ApprovedEvidence,
        profile: &BrandProfile,
        embedder: &dyn Embedder,
    ) -> Result<Self, KnowledgeError> {
        let mut keys = Vec::new();
        let mut corpus = Vec::new();
        let mut pending: Vec<(usize, String)> = Vec::new();
        for (i, source) in sources.iter().enumerate() {
            keys.push(
                extract(&source.text, profile)
                    .into_iter()
                    .filter(|c| !c.kind.is_statement())
                    .map(|c| (class(c.kind), c.key))
                    .collect(),
            );
            corpus.push(format!(" {} ", text::normalized(&source.text)));
            if source.kind != SourceKind::Message {
                for span in sentence_spans(&source.text) {
                    for part in source.text[span].split("; ") {
                        if text::words(part).len() >= 2 {
                            pending.push((i, part.to_owned()));
                        }
                    }
                }
            }
        }
        for signature in &approved.signatures {
            corpus.push(format!(" {} ", text::normalized(signature)));
        }
        let texts: Vec<&str> = pending.iter().map(|(_, t)| t.as_str()).collect();
        let vectors = if texts.is_empty() {
            Vec::new()
        } else {
            embedder.embed(&texts)?
        };
        let sentences = pending
            .into_iter()
            .zip(vectors)
            .map(|((source, text), vector)| SourceSentence {
                source,
                negated: negated(&text),
                keys: sentence_keys(&text, &extract(&text, profile)),
                text,
                vector,
            })
            .collect();
        Ok(Self {
            sources,
            keys,
            corpus,
            approved_links: approved.links.clone(),
            sentences,
        })
    }

    pub fn sources(&self) -> &[Source] {
        &self.sources
    }

    /// The support of each claim of `claims`, in order. Statements are embedded in one batch.
    pub fn support(
        &self,
        claims: &[Claim],
        embedder: &dyn Embedder,
    ) -> Result<Vec<Support>, KnowledgeError> {
        let statements: Vec<&str> = claims
            .iter()
            .filter(|c| c.kind.is_statement())
            .map(|c| c.text.as_str())
            .collect();
        let mut vectors = if statements.is_empty() {
            Vec::new()
        } else {
            embedder.embed(&statements)?
        }
        .into_iter();
        let mut out = Vec::with_capacity(claims.len());
        for claim in claims {
            if claim.kind.is_statement() {
                let vector = vectors.next().unwrap_or_default();
                out.push(self.statement(claim, &vector, claims));
            } else {
                out.push(self.literal(claim));
            }
        }
        Ok(out)
    }

    fn literal(&self, claim: &Claim) -> Support {
        let stated = |source: &str| Support::Stated {
            source: source.to_owned(),
        };
        if claim.kind == ClaimKind::Link && self.approved_links.contains(&claim.key) {
            return stated("approved replies");
        }
        let key = (class(claim.kind), claim.key.clone());
        let needle = format!(" {} ", text::normalized(&claim.text));
        let found = (0..self.corpus.len()).find(|&i| {
            self.keys.get(i).is_some_and(|k| k.contains(&key))
                || (needle.trim() != "" && self.corpus[i].contains(&needle))
        });
        match found {
            Some(i) => stated(
                self.sources
                    .get(i)
                    .map_or("approved replies", |s| s.id.as_str()),
            ),
            None => Support::Missing { closest: None },
        }
    }

    fn statement(&self, claim: &Claim, vector: &[f32], all: &[Claim]) -> Support {
        let inside: Vec<&Claim> = all
            .iter()
            .filter(|c| c.span.start >= claim.span.start && c.span.end <= claim.span.end)
            .collect();
        // A supporting sentence names the same products and places and states the same
        // numbers, dates and quantifiers ("free", "every"): similar words about another
        // country or another price are not support.
        let entities: Vec<&str> = inside
            .iter()
            .filter(|c| c.kind == ClaimKind::ProperName)
            .map(|c| c.text.as_str())
            .collect();
        let keys = sentence_keys(&claim.text, inside.iter().copied());
        let agrees = |s: &SourceSentence| {
            entities.iter().all(|e| text::contains_phrase(&s.text, e)) && keys.is_subset(&s.keys)
        };
        let closest = self
            .sentences
            .iter()
            .map(|s| (s, cosine(vector, &s.vector)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        let best = self
            .sentences
            .iter()
            .filter(|s| agrees(s))
            .map(|s| (s, cosine(vector, &s.vector)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        let Some((best, similarity)) = best else {
            return Support::Missing {
                closest: closest.map(|(s, sim)| (self.sources[s.source].id.clone(), sim)),
            };
        };
        let id = self.sources[best.source].id.clone();
        if similarity < STATEMENT_THRESHOLD {
            return Support::Missing {
                closest: Some((id, similarity)),
            };
        }
        if best.negated != negated(&claim.text) {
            return Support::Contradicted {
                source: id,
                sentence: best.text.clone(),
                similarity,
            };
        }
        Support::Stated { source: id }
    }
}

/// Literal claim kinds that count as the same fact: a duration in a draft matches one in a
/// source however the pattern that found it was labelled.
fn class(kind: ClaimKind) -> ClaimKind {
    match kind {
        ClaimKind::Name | ClaimKind::ProperName => ClaimKind::ProperName,
        ClaimKind::Quantity | ClaimKind::Duration | ClaimKind::Date => ClaimKind::Quantity,
        ClaimKind::Link
        | ClaimKind::Email
        | ClaimKind::Phone
        | ClaimKind::Money
        | ClaimKind::Percentage
        | ClaimKind::Identifier
        | ClaimKind::Handle
        | ClaimKind::Statement
        | ClaimKind::Commitment => kind,
    }
}

/// Whether a sentence carries a negation cue.
pub fn negated(sentence: &str) -> bool {
    let words = text::words(sentence);
    words
        .iter()
        .any(|w| NEGATIONS.contains(&w.as_str()) || w.ends_with("n't"))
        || text::contains_phrase(sentence, "not yet")
        || text::contains_phrase(sentence, "out of stock")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negation_cues() {
        assert!(negated("We don't ship to Canada yet."));
        assert!(negated("Not yet, sorry."));
        assert!(negated("The shops are closed on Christmas day."));
        assert!(!negated("We ship within the US."));
        assert!(!negated("Knots and notes are fine."));
    }
}
