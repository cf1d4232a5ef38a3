//! Deterministic guideline checks on a reply: the same [`check`] runs on every generated
//! candidate and again on the human's edited text before approval.
//!
//! Each [`Violation`] names its [`Rule`], the guideline clause the brand profile maps that rule
//! to, and a severity. Checks are grouped by what they protect: the brand's style
//! ([`style`]), people and promises ([`safety`]), the failure modes measured on the small
//! model ([`degeneration`]), and replies that miss the message: another language, a refusal,
//! a misread of praise or complaint ([`fidelity`]). Claims no source supports are checked by
//! [`crate::grounding`], which needs the draft's sources and an embedder.

mod degeneration;
mod fidelity;
mod safety;
mod style;

use std::collections::BTreeSet;

use tact_core::InboundMessage;

use crate::error::{Error, Result};
use crate::links;
use crate::profile::{BrandProfile, Channel};
use crate::rules::Rule;

/// One broken guideline, naming its typed [`Rule`] (tact-core's review vocabulary).
pub type Violation = tact_core::review::Violation<Rule>;

/// Links and agent signatures that occur in the brand's approved replies: a draft may reuse
/// them, but one it made up is blocked.
#[derive(Debug, Clone, Default)]
pub struct ApprovedEvidence {
    pub links: BTreeSet<String>,
    pub signatures: BTreeSet<String>,
}

impl ApprovedEvidence {
    pub fn from_replies<'a>(replies: impl IntoIterator<Item = &'a str>) -> Self {
        let mut evidence = Self::default();
        for reply in replies {
            evidence
                .links
                .extend(links::find(reply).iter().map(links::Link::normalized));
            evidence.signatures.extend(links::signature(reply));
        }
        evidence
    }

    /// Reads the `reply` field of each record of a past-replies JSONL file (`file` names it in
    /// errors, which give the line).
    pub fn from_jsonl(file: &str, jsonl: &str) -> Result<Self> {
        let mut replies = Vec::new();
        for (i, line) in jsonl.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let problem = |problem: String| Error::Record {
                file: file.to_owned(),
                line: i + 1,
                problem,
            };
            let record: serde_json::Value =
                serde_json::from_str(line).map_err(|e| problem(e.to_string()))?;
            match record.get("reply") {
                Some(serde_json::Value::String(reply)) if !reply.trim().is_empty() => {
                    replies.push(reply.clone());
                }
                Some(_) => return Err(problem("field `reply` must be a non-empty string".into())),
                None => return Err(problem("missing field `reply`".into())),
            }
        }
        Ok(Self::from_replies(replies.iter().map(String::as_str)))
    }
}

/// Everything a check needs besides the text: the brand, where the reply goes, what it answers
/// and what approved replies look like.
#[derive(Debug, Clone, Copy)]
pub struct CheckContext<'a> {
    pub profile: &'a BrandProfile,
    pub channel_name: &'a str,
    pub channel: &'a Channel,
    /// The customer's message; without it the echo check is skipped and every piece of
    /// personal data counts as someone else's.
    pub inbound: Option<&'a InboundMessage>,
    pub approved: &'a ApprovedEvidence,
}

impl<'a> CheckContext<'a> {
    /// Fails when the profile has no such channel.
    pub fn new(
        profile: &'a BrandProfile,
        channel_name: &'a str,
        inbound: Option<&'a InboundMessage>,
        approved: &'a ApprovedEvidence,
    ) -> Result<Self> {
        let channel = profile
            .channel(channel_name)
            .ok_or_else(|| Error::UnknownChannel {
                brand: profile.id.clone(),
                channel: channel_name.to_owned(),
                known: profile
                    .channels
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        Ok(Self {
            profile,
            channel_name,
            channel,
            inbound,
            approved,
        })
    }

    /// A violation of a mapped rule, with the clause and severity from the profile.
    pub(crate) fn violation(&self, rule: Rule, message: String, excerpt: &str) -> Violation {
        let (clause, severity) = match self.profile.rule(rule) {
            Some(s) => (s.clause.clone(), s.severity),
            // Validation maps every rule but `Commitment`, which reports through its own entry.
            None => (String::new(), rule.default_severity()),
        };
        Violation {
            rule,
            severity,
            clause,
            message,
            excerpt: excerpt.to_owned(),
        }
    }
}

/// Runs every check on `text`; violations are ordered block first, then by rule.
pub fn check(text: &str, ctx: &CheckContext<'_>) -> Vec<Violation> {
    let mut found = Vec::new();
    style::check(text, ctx, &mut found);
    safety::check(text, ctx, &mut found);
    degeneration::check(text, ctx, &mut found);
    fidelity::check(text, ctx, &mut found);
    found.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.rule.cmp(&b.rule)));
    found
}

/// Whether any violation blocks approval.
pub fn blocks(violations: &[Violation]) -> bool {
    tact_core::review::blocks(violations)
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;
    use crate::fixture;

    /// Rules that fire on `text` for the fixture brand on `channel`, replying to `inbound`.
    pub fn rules_on(channel: &str, inbound: Option<&str>, text: &str) -> Vec<Rule> {
        let profile = fixture::profile();
        let approved = fixture::approved();
        let inbound = inbound.map(fixture::inbound);
        let ctx = CheckContext::new(&profile, channel, inbound.as_ref(), &approved).unwrap();
        let mut rules: Vec<Rule> = check(text, &ctx).iter().map(|v| v.rule).collect();
        rules.dedup();
        rules
    }

    pub fn fires(rule: Rule, text: &str) -> bool {
        rules_on("x", None, text).contains(&rule)
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::rules_on;
    use super::*;
    use crate::fixture;
    use crate::rules::Severity;

    #[test]
    fn clean_replies_pass_every_check() {
        for (channel, text) in [
            (
                "x",
                "So sorry your beans arrived late, Sam. Could you DM us your order number so we can look into it? ☕",
            ),
            (
                "email",
                "Hi Sam,\n\nThanks for writing in. Your subscription is paused, and you can restart it any time from your account page: https://northwindcoffee.com/account\n\nThe Northwind Coffee team",
            ),
        ] {
            assert_eq!(rules_on(channel, Some("Where are my beans?"), text), []);
        }
    }

    #[test]
    fn violations_cite_the_mapped_clause_and_block_first() {
        let profile = fixture::profile();
        let approved = fixture::approved();
        let ctx = CheckContext::new(&profile, "x", None, &approved).unwrap();
        let v = check("Unfortunately we are SO SORRY!!", &ctx);
        assert_eq!(v[0].rule, Rule::BannedTerm);
        assert_eq!(v[0].severity, Severity::Block);
        assert_eq!(v[0].clause, "voice.md > Words > 1");
        assert!(v.iter().any(|v| v.rule == Rule::ExclamationRun));
        assert!(blocks(&v));
    }

    #[test]
    fn an_unknown_channel_is_an_error_naming_the_known_ones() {
        let profile = fixture::profile();
        let approved = ApprovedEvidence::default();
        let err = CheckContext::new(&profile, "fax", None, &approved).unwrap_err();
        assert!(err.to_string().contains("fax") && err.to_string().contains("email, x"));
    }

    #[test]
    fn a_human_edit_is_checked_with_the_same_api() {
        let draft = "Unfortunately we can't help. Email us at e-mail support.";
        let edit = "Sorry about this, Sam. Could you DM us your order number?";
        assert!(rules_on("x", None, draft).contains(&Rule::BannedTerm));
        assert_eq!(rules_on("x", None, edit), []);
        let bad_edit = "Sorry about this. You should have read the FAQ.";
        assert_eq!(rules_on("x", None, bad_edit), [Rule::Blame]);
    }

    #[test]
    fn evidence_from_jsonl_names_the_bad_line() {
        let good = r#"{"id":"r1","reply":"See https://northwindcoffee.com/help ^JM"}"#;
        let evidence = ApprovedEvidence::from_jsonl("r.jsonl", good).unwrap();
        assert!(evidence.signatures.contains("^jm"));
        let err = ApprovedEvidence::from_jsonl("r.jsonl", &format!("{good}\n\n{{\"id\":\"r2\"}}"))
            .unwrap_err();
        assert_eq!(err.to_string(), "r.jsonl line 3: missing field `reply`");
        let err = ApprovedEvidence::from_jsonl("r.jsonl", "not json").unwrap_err();
        assert!(err.to_string().starts_with("r.jsonl line 1: "));
    }

    #[test]
    fn evidence_collects_links_and_signatures() {
        let evidence = ApprovedEvidence::from_replies([
            "See https://northwindcoffee.com/help/ ^JM",
            "All good.\n— Priya",
        ]);
        assert!(evidence.links.contains("northwindcoffee.com/help"));
        assert_eq!(
            evidence.signatures.iter().collect::<Vec<_>>(),
            ["^jm", "priya"]
        );
    }
}
