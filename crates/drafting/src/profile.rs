//! A brand's profile: `brand.toml` beside its guideline Markdown, parsed and validated.
//!
//! Validation happens once, on load, and names the offending field (`channels.x.max_chars must
//! be > 0`), so the checks that run on every draft never meet a half-valid profile.

use std::collections::BTreeMap;
use std::path::Path;

use regex::Regex;
use serde::Deserialize;

use crate::channels::Platform;
use crate::error::{Error, Result};
use crate::guidelines::{Clause, Guidelines};
use crate::rules::{Rule, Severity};

const FILE: &str = "brand.toml";
/// The optional fact sheet of a brand folder.
pub const FACTS_FILE: &str = "facts.md";
const FACTS_PREFIX: &str = "facts.md >";

/// Whether a channel's replies end with the brand's sign-off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignOffRule {
    Required,
    Forbidden,
    Optional,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Channel {
    /// What a reviewer calls it, e.g. "X public reply".
    pub label: String,
    /// User-perceived characters a reply may have.
    pub max_chars: usize,
    pub sign_off: SignOffRule,
    pub max_emoji: usize,
    /// How the platform counts length; default: from the channel's name (`x`, `bluesky`,
    /// `mastodon`, `instagram`), otherwise graphemes.
    #[serde(default)]
    pub platform: Option<Platform>,
}

/// Where a rule comes from in the guidelines and how much breaking it matters.
#[derive(Debug, Clone)]
pub struct RuleSetting {
    pub clause: String,
    pub severity: Severity,
}

/// A topic that sends a message to a human without a draft.
#[derive(Debug, Clone)]
pub struct EscalationTopic {
    pub topic: String,
    pub triggers: Vec<String>,
    pub clause: String,
}

/// A promise a draft may not make on its own (a refund, compensation, a date).
#[derive(Debug, Clone)]
pub struct Commitment {
    pub kind: String,
    pub triggers: Vec<String>,
    pub patterns: Vec<Regex>,
    pub clause: String,
    pub severity: Severity,
}

/// A validated brand profile and its guideline clauses.
#[derive(Debug, Clone)]
pub struct BrandProfile {
    pub id: String,
    pub name: String,
    /// The brand's own social handles, e.g. `@northwindcoffee`.
    pub handles: Vec<String>,
    pub voice: String,
    pub default_channel: String,
    pub channels: BTreeMap<String, Channel>,
    /// Closing lines that count as the brand's sign-off.
    pub sign_offs: Vec<String>,
    /// Emoji the brand uses; empty means any.
    pub allowed_emoji: Vec<String>,
    pub banned_terms: Vec<String>,
    /// Non-preferred term → preferred term.
    pub preferred_terms: BTreeMap<String, String>,
    /// Domains (and their subdomains) a reply may link to.
    pub link_domains: Vec<String>,
    /// The brand's own addresses and numbers, which a reply may give out.
    pub brand_contacts: Vec<String>,
    pub order_number: Regex,
    pub blame_phrases: Vec<String>,
    /// Upper-case words that are not shouting (DM, FAQ).
    pub acronyms: Vec<String>,
    pub escalation: Vec<EscalationTopic>,
    pub commitments: Vec<Commitment>,
    pub rules: BTreeMap<Rule, RuleSetting>,
    /// Languages the team answers in (ISO 639-3 codes such as `eng`); empty means any.
    pub languages: Vec<String>,
    /// Guideline clauses, including the fact sheet's when the brand has one.
    pub guidelines: Guidelines,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfile {
    id: String,
    name: String,
    #[serde(default)]
    handles: Vec<String>,
    voice: String,
    default_channel: String,
    guidelines: Vec<String>,
    channels: BTreeMap<String, Channel>,
    #[serde(default)]
    sign_offs: Vec<String>,
    #[serde(default)]
    emoji: RawEmoji,
    #[serde(default)]
    terms: RawTerms,
    links: RawLinks,
    personal_data: RawPersonalData,
    #[serde(default)]
    tone: RawTone,
    #[serde(default)]
    escalation: Vec<RawEscalation>,
    #[serde(default)]
    commitments: Vec<RawCommitment>,
    rules: BTreeMap<Rule, RawRule>,
    #[serde(default)]
    languages: Vec<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEmoji {
    #[serde(default)]
    allowed: Vec<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTerms {
    #[serde(default)]
    banned: Vec<String>,
    #[serde(default)]
    preferred: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLinks {
    allowed_domains: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPersonalData {
    order_number: String,
    #[serde(default)]
    brand_contacts: Vec<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTone {
    #[serde(default)]
    blame_phrases: Vec<String>,
    #[serde(default)]
    acronyms: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEscalation {
    topic: String,
    triggers: Vec<String>,
    clause: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCommitment {
    kind: String,
    #[serde(default)]
    triggers: Vec<String>,
    #[serde(default)]
    patterns: Vec<String>,
    clause: String,
    severity: Option<Severity>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    clause: String,
    severity: Option<Severity>,
}

fn invalid(field: impl Into<String>, problem: impl Into<String>) -> Error {
    Error::Invalid {
        file: FILE.into(),
        field: field.into(),
        problem: problem.into(),
    }
}

impl BrandProfile {
    /// Loads `dir/brand.toml` and the guideline files it names (relative to `dir`).
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join(FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| Error::Read {
            path: path.clone(),
            source,
        })?;
        let raw = parse_raw(&text)?;
        let guidelines = Guidelines::load(dir, &raw.guidelines)?;
        validate(raw, guidelines)
    }

    /// Parses a profile from text against guideline clauses already loaded.
    pub fn parse(text: &str, guidelines: Guidelines) -> Result<Self> {
        validate(parse_raw(text)?, guidelines)
    }

    pub fn channel(&self, name: &str) -> Option<&Channel> {
        self.channels.get(name)
    }

    /// The clauses of the brand's fact sheet ([`FACTS_FILE`], listed in `guidelines` like any
    /// guideline document): what a reply may state as fact besides guidelines and approved
    /// replies.
    pub fn facts(&self) -> impl Iterator<Item = &Clause> {
        self.guidelines
            .clauses()
            .iter()
            .filter(|c| c.id.starts_with(FACTS_PREFIX))
    }

    /// The setting of a mapped rule. Validation guarantees every rule in [`Rule::MAPPED`] has
    /// one; `Rule::Commitment` has none here, its settings are per [`Commitment`].
    pub fn rule(&self, rule: Rule) -> Option<&RuleSetting> {
        self.rules.get(&rule)
    }
}

fn parse_raw(text: &str) -> Result<RawProfile> {
    toml::from_str(text).map_err(|e| Error::Syntax {
        file: FILE.into(),
        message: e.message().to_owned()
            + &e.span()
                .map(|s| {
                    let line = text[..s.start].lines().count().max(1);
                    format!(" (line {line})")
                })
                .unwrap_or_default(),
    })
}

fn validate(raw: RawProfile, guidelines: Guidelines) -> Result<BrandProfile> {
    let non_empty = |field: &str, value: &str| {
        if value.trim().is_empty() {
            Err(invalid(field, "must not be empty"))
        } else {
            Ok(())
        }
    };
    let clause = |field: String, id: &str| {
        if guidelines.get(id).is_some() {
            Ok(id.to_owned())
        } else {
            Err(invalid(
                field,
                format!("refers to clause {id:?}, which no guideline file has"),
            ))
        }
    };
    non_empty("id", &raw.id)?;
    non_empty("name", &raw.name)?;
    non_empty("voice", &raw.voice)?;
    if raw.channels.is_empty() {
        return Err(invalid("channels", "must name at least one channel"));
    }
    for (name, channel) in &raw.channels {
        if channel.max_chars == 0 {
            return Err(invalid(format!("channels.{name}.max_chars"), "must be > 0"));
        }
        non_empty(&format!("channels.{name}.label"), &channel.label)?;
        if channel.sign_off == SignOffRule::Required && raw.sign_offs.is_empty() {
            return Err(invalid(
                "sign_offs",
                format!("must not be empty: channels.{name}.sign_off is \"required\""),
            ));
        }
    }
    if !raw.channels.contains_key(&raw.default_channel) {
        return Err(invalid(
            "default_channel",
            format!(
                "names {:?}, which is not in [channels]",
                raw.default_channel
            ),
        ));
    }
    for (i, handle) in raw.handles.iter().enumerate() {
        if !handle.starts_with('@') || handle.len() < 2 {
            return Err(invalid(format!("handles[{i}]"), "must look like \"@name\""));
        }
    }
    for (i, domain) in raw.links.allowed_domains.iter().enumerate() {
        if domain.contains('/') || !domain.contains('.') {
            return Err(invalid(
                format!("links.allowed_domains[{i}]"),
                "must be a bare domain such as \"example.com\"",
            ));
        }
    }
    for (from, to) in &raw.terms.preferred {
        non_empty(&format!("terms.preferred.{from:?}"), to)?;
    }
    let order_number = Regex::new(&raw.personal_data.order_number)
        .map_err(|e| invalid("personal_data.order_number", format!("is not a regex: {e}")))?;

    let mut escalation = Vec::new();
    for (i, e) in raw.escalation.into_iter().enumerate() {
        non_empty(&format!("escalation[{i}].topic"), &e.topic)?;
        if e.triggers.is_empty() {
            return Err(invalid(
                format!("escalation[{i}].triggers"),
                "must not be empty",
            ));
        }
        escalation.push(EscalationTopic {
            clause: clause(format!("escalation[{i}].clause"), &e.clause)?,
            topic: e.topic,
            triggers: e.triggers,
        });
    }

    let mut commitments = Vec::new();
    for (i, c) in raw.commitments.into_iter().enumerate() {
        non_empty(&format!("commitments[{i}].kind"), &c.kind)?;
        if c.triggers.is_empty() && c.patterns.is_empty() {
            return Err(invalid(
                format!("commitments[{i}]"),
                "needs triggers or patterns",
            ));
        }
        let mut patterns = Vec::new();
        for (j, p) in c.patterns.iter().enumerate() {
            patterns.push(Regex::new(p).map_err(|e| {
                invalid(
                    format!("commitments[{i}].patterns[{j}]"),
                    format!("is not a regex: {e}"),
                )
            })?);
        }
        commitments.push(Commitment {
            clause: clause(format!("commitments[{i}].clause"), &c.clause)?,
            severity: c.severity.unwrap_or(Rule::Commitment.default_severity()),
            kind: c.kind,
            triggers: c.triggers,
            patterns,
        });
    }

    let mut rules = BTreeMap::new();
    for rule in Rule::MAPPED {
        let Some(setting) = raw.rules.get(&rule) else {
            return Err(invalid(
                format!("rules.{rule}"),
                "is missing: every check must cite a guideline clause",
            ));
        };
        rules.insert(
            rule,
            RuleSetting {
                clause: clause(format!("rules.{rule}.clause"), &setting.clause)?,
                severity: setting.severity.unwrap_or(rule.default_severity()),
            },
        );
    }
    for rule in Rule::OPTIONAL {
        if let Some(setting) = raw.rules.get(&rule) {
            rules.insert(
                rule,
                RuleSetting {
                    clause: clause(format!("rules.{rule}.clause"), &setting.clause)?,
                    severity: setting.severity.unwrap_or(rule.default_severity()),
                },
            );
        }
    }
    for (i, code) in raw.languages.iter().enumerate() {
        if whatlang::Lang::from_code(code).is_none() {
            return Err(invalid(
                format!("languages[{i}]"),
                format!("{code:?} is not an ISO 639-3 code such as \"eng\""),
            ));
        }
    }
    if raw.rules.contains_key(&Rule::Commitment) {
        return Err(invalid(
            "rules.commitment",
            "is not allowed: each [[commitments]] entry names its own clause",
        ));
    }

    Ok(BrandProfile {
        id: raw.id,
        name: raw.name,
        handles: raw.handles,
        voice: raw.voice.trim().to_owned(),
        default_channel: raw.default_channel,
        channels: raw.channels,
        sign_offs: raw.sign_offs,
        allowed_emoji: raw.emoji.allowed,
        banned_terms: raw.terms.banned,
        preferred_terms: raw.terms.preferred,
        link_domains: raw
            .links
            .allowed_domains
            .into_iter()
            .map(|d| d.to_lowercase())
            .collect(),
        brand_contacts: raw.personal_data.brand_contacts,
        order_number,
        blame_phrases: raw.tone.blame_phrases,
        acronyms: raw.tone.acronyms,
        escalation,
        commitments,
        rules,
        languages: raw.languages,
        guidelines,
    })
}

#[cfg(test)]
mod tests {
    use crate::fixture::{self, parse_with};
    use crate::rules::{Rule, Severity};

    fn error(from: &str, to: &str) -> String {
        parse_with(from, to).unwrap_err().to_string()
    }

    #[test]
    fn the_fixture_profile_is_valid() {
        let p = fixture::profile();
        assert_eq!(p.channel("x").unwrap().max_chars, 280);
        assert_eq!(p.rule(Rule::Blame).unwrap().severity, Severity::Warn);
        assert_eq!(p.rule(Rule::BannedTerm).unwrap().severity, Severity::Block);
        assert_eq!(p.commitments.len(), 3);
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(
            error("max_chars = 280", "max_chars = 0"),
            "brand.toml: channels.x.max_chars must be > 0"
        );
        assert!(
            error("default_channel = \"x\"", "default_channel = \"tiktok\"")
                .starts_with("brand.toml: default_channel names \"tiktok\"")
        );
        assert!(error("\"@northwindcoffee\"", "\"northwindcoffee\"").contains("handles[0]"));
        assert!(
            error(
                "\"northwindcoffee.com\"",
                "\"https://northwindcoffee.com/\""
            )
            .contains("links.allowed_domains[0]")
        );
        assert!(
            error(r"'(?i)\bNW-?\d{6}\b'", "'(unclosed'")
                .starts_with("brand.toml: personal_data.order_number is not a regex")
        );
        assert!(
            error(r"'(?i)\bwithin", r"'(?i)\bwithin(")
                .contains("commitments[2].patterns[1] is not a regex")
        );
        assert!(
            error(
                "triggers = [\"lawyer\", \"sue\", \"legal action\"]",
                "triggers = []"
            )
            .contains("escalation[0].triggers must not be empty")
        );
        assert!(
            error(
                "sign_offs = [\"The Northwind Coffee team\"]",
                "sign_offs = []"
            )
            .contains("channels.email.sign_off is \"required\"")
        );
    }

    #[test]
    fn every_rule_must_cite_an_existing_clause() {
        assert_eq!(
            error("blame = { clause = \"voice.md > Tone > 2\" }\n", ""),
            "brand.toml: rules.blame is missing: every check must cite a guideline clause"
        );
        assert!(
            error("\"voice.md > Tone > 2\"", "\"voice.md > Tone > 9\"")
                .contains("rules.blame.clause refers to clause \"voice.md > Tone > 9\"")
        );
        assert!(
            error("clause = \"voice.md > Safety > 4\"", "clause = \"nope\"")
                .contains("escalation[0].clause")
        );
    }

    #[test]
    fn unknown_keys_and_wrong_types_are_syntax_errors() {
        let e = error("max_emoji = 1", "max_emoji = 1\nmax_emojis = 2");
        assert!(
            e.contains("unknown field `max_emojis`") && e.contains("line"),
            "{e}"
        );
        let e = error("sign_off = \"forbidden\"", "sign_off = \"never\"");
        assert!(e.contains("unknown variant `never`"), "{e}");
        let e = error("max_chars = 280", "max_chars = \"short\"");
        assert!(e.contains("invalid type"), "{e}");
    }
}
