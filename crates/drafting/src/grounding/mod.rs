//! The grounding guard: every fact a draft states must come from a source it was drafted with.
//!
//! [`extract`](extract::extract) finds the claims of a reply (links, contact details, money,
//! percentages, quantities, dates and durations, order ids, handles, names, product and place
//! names, policy statements and commitments); a [`SupportIndex`] over the draft's [`Source`]s
//! (the brand's fact sheet, the guideline clauses and approved replies in the prompt, and the
//! customer's own message for what they told us) says which of them a source states
//! ([`support`]). Each unsupported claim is a [`Violation`] of [`Rule::UnsupportedClaim`] whose
//! excerpt is the claim's text and whose message gives the reason.

pub mod cache;
pub mod extract;
pub mod support;

use tact_core::{Embedder, InboundMessage, KnowledgeError};

pub use cache::CachedEmbedder;
pub use extract::{Claim, ClaimKind};
pub use support::{Source, SourceKind, Support, SupportIndex};

use crate::checks::{ApprovedEvidence, CheckContext, Violation};
use crate::profile::BrandProfile;
use crate::rules::Rule;

/// The sources of a draft: the whole fact sheet, the clauses and replies given to the model,
/// and the customer's message (its author's name and handle included).
pub fn sources<'a>(
    profile: &BrandProfile,
    clauses: impl IntoIterator<Item = (&'a str, &'a str)>,
    replies: impl IntoIterator<Item = (&'a str, &'a str)>,
    inbound: Option<&InboundMessage>,
) -> Vec<Source> {
    let mut out: Vec<Source> = profile
        .facts()
        .map(|c| Source {
            id: c.id.clone(),
            kind: SourceKind::Fact,
            text: c.text.clone(),
        })
        .collect();
    for (id, text) in clauses {
        if !out.iter().any(|s| s.id == id) {
            out.push(Source {
                id: id.to_owned(),
                kind: SourceKind::Guideline,
                text: text.to_owned(),
            });
        }
    }
    for (id, text) in replies {
        out.push(Source {
            id: id.to_owned(),
            kind: SourceKind::Reply,
            text: text.to_owned(),
        });
    }
    if let Some(inbound) = inbound {
        out.push(Source {
            id: inbound.id.clone(),
            kind: SourceKind::Message,
            text: format!(
                "{} {}\n{}",
                inbound.author,
                inbound.author.replace(['_', '.'], " "),
                inbound.text
            ),
        });
    }
    out
}

/// One claim found unsupported, with the reason the reviewer reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub claim: Claim,
    pub support: Support,
}

impl Finding {
    /// "the price "$12" is in no source", "contradicts facts.md > Shipping > 1: …".
    pub fn reason(&self) -> String {
        let what = format!("{} \"{}\"", self.claim.kind.noun(), self.claim.text);
        match &self.support {
            Support::Stated { source } => format!("{what} is stated by {source}"),
            Support::Missing { closest: None } => format!("{what} is in no source of this draft"),
            Support::Missing {
                closest: Some((id, similarity)),
            } => format!(
                "no source states this {}; the closest is {id} (similarity {similarity:.2})",
                self.claim.kind.noun()
            ),
            Support::Contradicted {
                source, sentence, ..
            } => format!(
                "{} contradicts {source}: \"{sentence}\"",
                self.claim.kind.noun()
            ),
        }
    }
}

/// The claims of `text` that no source supports.
pub fn unsupported(
    text: &str,
    index: &SupportIndex,
    profile: &BrandProfile,
    embedder: &dyn Embedder,
) -> Result<Vec<Finding>, KnowledgeError> {
    let claims = extract::extract(text, profile);
    let support = index.support(&claims, embedder)?;
    Ok(claims
        .into_iter()
        .zip(support)
        .filter(|(_, s)| !s.is_supported())
        .map(|(claim, support)| Finding { claim, support })
        .collect())
}

/// [`unsupported`] as violations of [`Rule::UnsupportedClaim`], severity from the profile.
pub fn check(
    text: &str,
    index: &SupportIndex,
    ctx: &CheckContext<'_>,
    embedder: &dyn Embedder,
) -> Result<Vec<Violation>, KnowledgeError> {
    Ok(unsupported(text, index, ctx.profile, embedder)?
        .into_iter()
        .map(|f| ctx.violation(Rule::UnsupportedClaim, f.reason(), &f.claim.text))
        .collect())
}

/// [`unsupported`] for each of `texts`, from one index over `sources`. Embeds, so callers on
/// an async runtime run it on the blocking pool.
pub fn unsupported_in_each(
    texts: &[String],
    sources: Vec<Source>,
    approved: &ApprovedEvidence,
    profile: &BrandProfile,
    embedder: &dyn Embedder,
) -> Result<Vec<Vec<Finding>>, KnowledgeError> {
    let index = SupportIndex::build(sources, approved, profile, embedder)?;
    texts
        .iter()
        .map(|t| unsupported(t, &index, profile, embedder))
        .collect()
}

/// Whether a candidate states something no source supports (ranked below those that do not).
pub fn states_unsupported(violations: &[Violation]) -> bool {
    violations.iter().any(|v| v.rule == Rule::UnsupportedClaim)
}
