//! A brand's profile: `brand.toml` beside its guideline Markdown, parsed and validated.
//!
//! Only `id`, `name`, `voice` and `guidelines` are required; everything else has a documented
//! default (README "Add your brand"): tact's channels, no links allowed, tact's escalation
//! topics, commitments and blame phrases ([`defaults`]), and a check without a clause cites
//! the brand's voice ([`VOICE_CLAUSE`]). Validation happens once, on load, and lists every
//! problem at once with its line and key (`brand.toml: line 12: channels.x.max_chars must be
//! > 0`), so the checks that run on every draft never meet a half-valid profile.

mod defaults;
mod read;

use std::collections::BTreeMap;
use std::path::Path;

use regex::Regex;
use serde::Deserialize;
use toml::Spanned;
use toml::de::DeValue;

use crate::channels::Platform;
use crate::error::{Error, Result};
use crate::guidelines::{Clause, Guidelines};
use crate::rules::{Rule, Severity};
pub use defaults::{BLAME_PHRASES, DefaultsPolicy, Merge};
use read::Source;

const FILE: &str = "brand.toml";
/// What a check, escalation topic or commitment cites when `brand.toml` names no clause for
/// it: the brand's `voice`.
pub const VOICE_CLAUSE: &str = "brand.toml > voice";
/// File extensions of data files that are never guideline documents.
const DATA_EXTENSIONS: [&str; 5] = ["csv", "tsv", "jsonl", "ndjson", "json"];
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
    /// What the brand's order numbers look like; none: no order-number handling.
    pub order_number: Option<Regex>,
    pub blame_phrases: Vec<String>,
    /// Upper-case words that are not shouting (DM, FAQ).
    pub acronyms: Vec<String>,
    pub escalation: Vec<EscalationTopic>,
    pub commitments: Vec<Commitment>,
    pub rules: BTreeMap<Rule, RuleSetting>,
    /// Languages the team answers in (ISO 639-3 codes such as `eng`); empty means any.
    pub languages: Vec<String>,
    /// The guideline files `brand.toml` lists, as listed (relative to the brand folder).
    pub guideline_files: Vec<String>,
    /// Guideline clauses, including the fact sheet's when the brand has one.
    pub guidelines: Guidelines,
    /// What loading found risky but allowed (a safety default turned off); see
    /// [`BrandProfile::warnings`].
    warnings: Vec<String>,
}

/// `brand.toml` as read, before validation; a key that could not be read is absent, and its
/// problem already recorded.
#[derive(Default)]
struct RawProfile {
    id: Option<String>,
    name: Option<String>,
    voice: Option<String>,
    guidelines: Option<Vec<String>>,
    handles: Vec<String>,
    default_channel: Option<String>,
    channels: Option<BTreeMap<String, Channel>>,
    /// Channels that are in the file but could not be read.
    unreadable_channels: Vec<String>,
    sign_offs: Vec<String>,
    emoji: RawEmoji,
    terms: RawTerms,
    links: RawLinks,
    personal_data: RawPersonalData,
    tone: RawTone,
    escalation: Vec<RawEscalation>,
    commitments: Vec<RawCommitment>,
    rules: BTreeMap<Rule, RawRule>,
    languages: Vec<String>,
    defaults: DefaultsPolicy,
    /// Top-level keys the file has, read or not.
    present: Vec<String>,
}

/// Every top-level key of `brand.toml`; the first four are required.
const KEYS: [&str; 18] = [
    "id",
    "name",
    "voice",
    "guidelines",
    "handles",
    "default_channel",
    "channels",
    "sign_offs",
    "languages",
    "emoji",
    "terms",
    "links",
    "personal_data",
    "tone",
    "escalation",
    "commitments",
    "rules",
    "defaults",
];
const REQUIRED: usize = 4;

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

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLinks {
    #[serde(default)]
    allowed_domains: Vec<String>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPersonalData {
    #[serde(default)]
    order_number: Option<String>,
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
    #[serde(default)]
    clause: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCommitment {
    kind: String,
    #[serde(default)]
    triggers: Vec<String>,
    #[serde(default)]
    patterns: Vec<String>,
    #[serde(default)]
    clause: Option<String>,
    severity: Option<Severity>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(default)]
    clause: Option<String>,
    severity: Option<Severity>,
}

impl BrandProfile {
    /// Loads `dir/brand.toml` and the guideline files it names (relative to `dir`). Every
    /// problem of the file is reported at once ([`Error::Profile`]).
    pub fn load(dir: &Path) -> Result<Self> {
        let path = dir.join(FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| Error::Read {
            path: path.clone(),
            source,
        })?;
        let file = path.display().to_string();
        let (mut source, raw) = read(&file, &text)?;
        let mut clauses = Vec::new();
        for (i, name) in raw.guidelines.iter().flatten().enumerate() {
            let key = format!("guidelines[{i}]");
            if !guideline_name_ok(&mut source, &key, name) {
                continue;
            }
            match Guidelines::load(dir, std::slice::from_ref(name)) {
                Ok(found) => clauses.extend(found.clauses().iter().cloned()),
                Err(e) => source.problem(key, format!("{name:?}: {e}")),
            }
        }
        finish(&file, source, raw, Guidelines::from_clauses(clauses))
    }

    /// Parses a profile from text against guideline clauses already loaded.
    pub fn parse(text: &str, guidelines: Guidelines) -> Result<Self> {
        let (mut source, raw) = read(FILE, text)?;
        for (i, name) in raw.guidelines.iter().flatten().enumerate() {
            guideline_name_ok(&mut source, &format!("guidelines[{i}]"), name);
        }
        finish(FILE, source, raw, guidelines)
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

    /// The setting of a mapped rule. Validation gives every rule in [`Rule::MAPPED`] one (its
    /// clause, or [`VOICE_CLAUSE`]); `Rule::Commitment` has none here, its settings are per
    /// [`Commitment`].
    pub fn rule(&self, rule: Rule) -> Option<&RuleSetting> {
        self.rules.get(&rule)
    }

    /// What loading allowed but a reviewer should know: each of tact's safety defaults
    /// (escalation topics, commitments, blame phrases) that this brand turned off. Also logged
    /// at WARN when the profile loads.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
}

/// A guideline file must be Markdown: a data file there is a mistake worth naming.
fn guideline_name_ok(source: &mut Source<'_>, key: &str, name: &str) -> bool {
    // The files are read, and edited through the API, inside the brand folder only.
    let inside = !name.trim().is_empty()
        && Path::new(name).components().all(|c| {
            matches!(
                c,
                std::path::Component::Normal(_) | std::path::Component::CurDir
            )
        });
    if !inside {
        source.problem(
            key,
            format!("names {name:?}: a guideline file is a path inside the brand folder"),
        );
        return false;
    }
    let extension = Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match extension {
        Some(ext) if DATA_EXTENSIONS.contains(&ext.as_str()) => {
            source.problem(
                key,
                format!(
                    "names {name:?}, a .{ext} file: guideline files are Markdown (past replies go \
                     in replies.jsonl or through `tact ingest replies`)"
                ),
            );
            false
        }
        _ => true,
    }
}

fn read_raw<'t>(
    source: &mut Source<'t>,
    entries: Vec<(String, Spanned<DeValue<'t>>)>,
) -> RawProfile {
    let mut raw = RawProfile::default();
    for (key, value) in entries {
        raw.present.push(key.clone());
        match key.as_str() {
            "id" => raw.id = source.decode(&key, value),
            "name" => raw.name = source.decode(&key, value),
            "voice" => raw.voice = source.decode(&key, value),
            "guidelines" => raw.guidelines = source.decode(&key, value),
            "handles" => raw.handles = source.decode(&key, value).unwrap_or_default(),
            "default_channel" => raw.default_channel = source.decode(&key, value),
            "sign_offs" => raw.sign_offs = source.decode(&key, value).unwrap_or_default(),
            "languages" => raw.languages = source.decode(&key, value).unwrap_or_default(),
            "emoji" => raw.emoji = source.decode(&key, value).unwrap_or_default(),
            "terms" => raw.terms = source.decode(&key, value).unwrap_or_default(),
            "links" => raw.links = source.decode(&key, value).unwrap_or_default(),
            "personal_data" => raw.personal_data = source.decode(&key, value).unwrap_or_default(),
            "tone" => raw.tone = source.decode(&key, value).unwrap_or_default(),
            "defaults" => raw.defaults = source.decode(&key, value).unwrap_or_default(),
            "channels" => {
                let mut channels = BTreeMap::new();
                for (name, value) in source.table_entries(&key, value) {
                    match source.decode(&format!("channels.{name}"), value) {
                        Some(channel) => {
                            channels.insert(name, channel);
                        }
                        None => raw.unreadable_channels.push(name),
                    }
                }
                raw.channels = Some(channels);
            }
            "escalation" => {
                for (i, item) in source.array_items(&key, value).into_iter().enumerate() {
                    raw.escalation
                        .extend(source.decode(&format!("escalation[{i}]"), item));
                }
            }
            "commitments" => {
                for (i, item) in source.array_items(&key, value).into_iter().enumerate() {
                    raw.commitments
                        .extend(source.decode(&format!("commitments[{i}]"), item));
                }
            }
            "rules" => {
                for (name, value) in source.table_entries(&key, value) {
                    let key = format!("rules.{name}");
                    let known = Rule::MAPPED.iter().chain(&Rule::OPTIONAL);
                    match known.copied().find(|r| r.key() == name) {
                        Some(rule) => {
                            if let Some(setting) = source.decode(&key, value) {
                                raw.rules.insert(rule, setting);
                            }
                        }
                        None if name == Rule::Commitment.key() => source.problem(
                            key,
                            "is not allowed: each [[commitments]] entry names its own clause",
                        ),
                        None => source.problem(
                            key,
                            format!(
                                "is not a check (checks: {})",
                                Rule::MAPPED
                                    .iter()
                                    .chain(&Rule::OPTIONAL)
                                    .map(|r| r.key())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        ),
                    }
                }
            }
            _ => source.problem(
                key,
                format!("is not a brand.toml key (keys: {})", KEYS.join(", ")),
            ),
        }
    }
    for key in &KEYS[..REQUIRED] {
        if !raw.present.iter().any(|p| p == key) {
            source.problem(
                *key,
                "is missing (every brand.toml needs id, name, voice and guidelines)",
            );
        }
    }
    raw
}

/// Validates, and turns the problems found on the way into one error.
/// Parses the text and reads its keys. A syntax error ends it there: the keys after it are
/// unknown, so listing them as missing would only bury the one problem there is.
fn read<'t>(file: &str, text: &'t str) -> Result<(Source<'t>, RawProfile)> {
    let (mut source, entries) = Source::parse(text);
    if !source.problems.is_empty() {
        return Err(Error::Profile {
            file: file.to_owned(),
            problems: source.problems,
        });
    }
    let raw = read_raw(&mut source, entries);
    Ok((source, raw))
}

fn finish(
    file: &str,
    mut source: Source<'_>,
    raw: RawProfile,
    guidelines: Guidelines,
) -> Result<BrandProfile> {
    let profile = validate(&mut source, raw, guidelines);
    if !source.problems.is_empty() {
        return Err(Error::Profile {
            file: file.to_owned(),
            problems: std::mem::take(&mut source.problems),
        });
    }
    let mut profile = profile;
    for warning in &mut profile.warnings {
        *warning = format!("{file}: {warning}");
        tracing::warn!(brand = %profile.id, "{warning}");
    }
    Ok(profile)
}

/// The clause `key` cites: one the guidelines have, or the brand's voice when none is named.
fn cite(source: &mut Source<'_>, guidelines: &Guidelines, key: String, id: Option<&str>) -> String {
    match id {
        None => VOICE_CLAUSE.to_owned(),
        Some(id) if guidelines.get(id).is_some() => id.to_owned(),
        Some(id) => {
            source.problem(
                key,
                format!("refers to clause {id:?}, which no guideline file has"),
            );
            id.to_owned()
        }
    }
}

fn validate(source: &mut Source<'_>, raw: RawProfile, guidelines: Guidelines) -> BrandProfile {
    let non_empty = |source: &mut Source<'_>, key: &str, value: Option<&str>| {
        if value.is_some_and(|v| v.trim().is_empty()) {
            source.problem(key, "must not be empty");
        }
    };
    non_empty(source, "id", raw.id.as_deref());
    non_empty(source, "name", raw.name.as_deref());
    non_empty(source, "voice", raw.voice.as_deref());
    if raw.guidelines.as_ref().is_some_and(Vec::is_empty) {
        source.problem("guidelines", "must name at least one guideline file");
    }

    let channels = raw.channels.unwrap_or_else(defaults::channels);
    if channels.is_empty() && raw.unreadable_channels.is_empty() {
        source.problem("channels", "must name at least one channel");
    }
    for (name, channel) in &channels {
        if channel.max_chars == 0 {
            source.problem(format!("channels.{name}.max_chars"), "must be > 0");
        }
        non_empty(
            source,
            &format!("channels.{name}.label"),
            Some(&channel.label),
        );
        if channel.sign_off == SignOffRule::Required && raw.sign_offs.is_empty() {
            source.problem(
                "sign_offs",
                format!("must not be empty: channels.{name}.sign_off is \"required\""),
            );
        }
    }
    let default_channel = match raw.default_channel {
        Some(name) => {
            if !channels.contains_key(&name) && !raw.unreadable_channels.contains(&name) {
                source.problem(
                    "default_channel",
                    format!("names {name:?}, which is not in [channels]"),
                );
            }
            name
        }
        None if channels.contains_key(defaults::CHANNEL) => defaults::CHANNEL.to_owned(),
        None if channels.len() == 1 => channels.keys().next().cloned().unwrap_or_default(),
        None => {
            if !channels.is_empty() {
                source.problem(
                    "default_channel",
                    format!(
                        "is missing: [channels] has {} and no \"x\"; say which one replies go to",
                        channels.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                );
            }
            String::new()
        }
    };
    for (i, handle) in raw.handles.iter().enumerate() {
        if !handle.starts_with('@') || handle.len() < 2 {
            source.problem(format!("handles[{i}]"), "must look like \"@name\"");
        }
    }
    for (i, domain) in raw.links.allowed_domains.iter().enumerate() {
        if domain.contains('/') || !domain.contains('.') {
            source.problem(
                format!("links.allowed_domains[{i}]"),
                "must be a bare domain such as \"example.com\"",
            );
        }
    }
    for (from, to) in &raw.terms.preferred {
        non_empty(source, &format!("terms.preferred.{from}"), Some(to));
    }
    let order_number =
        raw.personal_data
            .order_number
            .as_deref()
            .and_then(|pattern| match Regex::new(pattern) {
                Ok(regex) => Some(regex),
                Err(e) => {
                    source.problem("personal_data.order_number", format!("is not a regex: {e}"));
                    None
                }
            });

    let mut own_escalation = Vec::new();
    for (i, e) in raw.escalation.into_iter().enumerate() {
        non_empty(source, &format!("escalation[{i}].topic"), Some(&e.topic));
        if e.triggers.is_empty() {
            source.problem(format!("escalation[{i}].triggers"), "must not be empty");
        }
        own_escalation.push(EscalationTopic {
            clause: cite(
                source,
                &guidelines,
                format!("escalation[{i}].clause"),
                e.clause.as_deref(),
            ),
            topic: e.topic,
            triggers: e.triggers,
        });
    }

    let mut own_commitments = Vec::new();
    for (i, c) in raw.commitments.into_iter().enumerate() {
        non_empty(source, &format!("commitments[{i}].kind"), Some(&c.kind));
        if c.triggers.is_empty() && c.patterns.is_empty() {
            source.problem(format!("commitments[{i}]"), "needs triggers or patterns");
        }
        let mut patterns = Vec::new();
        for (j, p) in c.patterns.iter().enumerate() {
            match Regex::new(p) {
                Ok(regex) => patterns.push(regex),
                Err(e) => source.problem(
                    format!("commitments[{i}].patterns[{j}]"),
                    format!("is not a regex: {e}"),
                ),
            }
        }
        own_commitments.push(Commitment {
            clause: cite(
                source,
                &guidelines,
                format!("commitments[{i}].clause"),
                c.clause.as_deref(),
            ),
            severity: c.severity.unwrap_or(Rule::Commitment.default_severity()),
            kind: c.kind,
            triggers: c.triggers,
            patterns,
        });
    }

    let mut warnings = Vec::new();
    let policy = raw.defaults;
    let (escalation, dropped) = defaults::merge(
        own_escalation,
        defaults::escalation(),
        policy.escalation,
        |e| e.topic.clone(),
    );
    if !dropped.is_empty() {
        warnings.push(format!(
            "[defaults] escalation = \"replace\" turns off tact's escalation topic(s) {}: such \
             messages get a draft instead of going to a person",
            dropped.join(", ")
        ));
    }
    let (commitments, dropped) = defaults::merge(
        own_commitments,
        defaults::commitments(),
        policy.commitments,
        |c| c.kind.clone(),
    );
    if !dropped.is_empty() {
        warnings.push(format!(
            "[defaults] commitments = \"replace\" turns off tact's check for promising {}: \
             drafts that promise it are not flagged",
            dropped.join(", ")
        ));
    }
    let (blame_phrases, dropped) = defaults::merge(
        raw.tone.blame_phrases,
        defaults::BLAME_PHRASES.map(str::to_owned).to_vec(),
        policy.blame_phrases,
        Clone::clone,
    );
    if !dropped.is_empty() {
        warnings.push(format!(
            "[defaults] blame_phrases = \"replace\" turns off tact's blame phrase(s) {}: drafts \
             that use them are not flagged",
            dropped
                .iter()
                .map(|p| format!("{p:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }

    let mut rules = BTreeMap::new();
    for rule in Rule::MAPPED.into_iter().chain(Rule::OPTIONAL) {
        let setting = raw.rules.get(&rule);
        if setting.is_none() && Rule::OPTIONAL.contains(&rule) {
            continue;
        }
        rules.insert(
            rule,
            RuleSetting {
                clause: cite(
                    source,
                    &guidelines,
                    format!("rules.{rule}.clause"),
                    setting.and_then(|s| s.clause.as_deref()),
                ),
                severity: setting
                    .and_then(|s| s.severity)
                    .unwrap_or(rule.default_severity()),
            },
        );
    }
    for (i, code) in raw.languages.iter().enumerate() {
        if whatlang::Lang::from_code(code).is_none() {
            source.problem(
                format!("languages[{i}]"),
                format!("{code:?} is not an ISO 639-3 code such as \"eng\""),
            );
        }
    }

    BrandProfile {
        id: raw.id.unwrap_or_default(),
        name: raw.name.unwrap_or_default(),
        handles: raw.handles,
        voice: raw.voice.unwrap_or_default().trim().to_owned(),
        default_channel,
        channels,
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
        blame_phrases,
        acronyms: raw.tone.acronyms,
        escalation,
        commitments,
        rules,
        languages: raw.languages,
        guideline_files: raw.guidelines.unwrap_or_default(),
        guidelines,
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::{BrandProfile, VOICE_CLAUSE};
    use crate::fixture::{self, BRAND, parse_with};
    use crate::guidelines::Guidelines;
    use crate::rules::{Rule, Severity};

    fn error(from: &str, to: &str) -> String {
        parse_with(from, to).unwrap_err().to_string()
    }

    /// The 1-based line of the fixture's first line containing `needle`.
    fn line(needle: &str) -> usize {
        1 + BRAND.lines().position(|l| l.contains(needle)).unwrap()
    }

    const MINIMAL: &str = r#"
id = "acme"
name = "Acme"
voice = "Friendly and brief."
guidelines = ["voice.md"]
"#;

    fn minimal(extra: &str) -> crate::Result<BrandProfile> {
        BrandProfile::parse(&format!("{MINIMAL}{extra}"), fixture::guidelines())
    }

    #[test]
    fn the_fixture_profile_is_valid() {
        let p = fixture::profile();
        assert_eq!(p.channel("x").unwrap().max_chars, 280);
        assert_eq!(p.rule(Rule::Blame).unwrap().severity, Severity::Warn);
        assert_eq!(p.rule(Rule::BannedTerm).unwrap().severity, Severity::Block);
        assert_eq!(p.commitments.len(), 3);
        assert!(p.warnings().is_empty(), "{:?}", p.warnings());
    }

    #[test]
    fn a_minimal_profile_gets_the_documented_defaults() {
        let p = minimal("").unwrap();
        assert_eq!(p.default_channel, "x");
        let channels: Vec<_> = p.channels.keys().map(String::as_str).collect();
        assert_eq!(
            channels,
            ["bluesky", "email", "forum", "instagram", "mastodon", "x"]
        );
        assert!(p.link_domains.is_empty() && p.order_number.is_none());
        let topics: Vec<_> = p.escalation.iter().map(|e| e.topic.as_str()).collect();
        assert_eq!(
            topics,
            [
                "legal_threat",
                "safety",
                "data_breach",
                "self_harm",
                "press"
            ]
        );
        let kinds: Vec<_> = p.commitments.iter().map(|c| c.kind.as_str()).collect();
        assert_eq!(kinds, ["a refund", "compensation", "a date"]);
        assert!(p.blame_phrases.iter().any(|b| b == "your fault"));
        for rule in Rule::MAPPED {
            let setting = p.rule(rule).unwrap();
            assert_eq!(setting.clause, VOICE_CLAUSE, "{rule}");
            assert_eq!(setting.severity, rule.default_severity(), "{rule}");
        }
        assert!(p.escalation.iter().all(|e| e.clause == VOICE_CLAUSE));
        assert!(p.warnings().is_empty());
    }

    #[test]
    fn own_safety_entries_extend_the_defaults_and_replacing_them_warns() {
        let p = minimal(
            "[tone]\nblame_phrases = [\"read the manual\"]\n\n\
             [[escalation]]\ntopic = \"press\"\ntriggers = [\"podcast\"]\nclause = \"voice.md > Safety > 4\"\n",
        )
        .unwrap();
        let press = p.escalation.iter().find(|e| e.topic == "press").unwrap();
        assert_eq!(press.triggers, ["podcast"]);
        assert_eq!(press.clause, "voice.md > Safety > 4");
        assert_eq!(p.escalation.len(), 5);
        assert!(p.blame_phrases.iter().any(|b| b == "read the manual"));
        assert!(p.blame_phrases.iter().any(|b| b == "your fault"));
        assert!(p.warnings().is_empty());

        let p = minimal(
            "[defaults]\nescalation = \"replace\"\ncommitments = \"replace\"\nblame_phrases = \"replace\"\n\n\
             [[escalation]]\ntopic = \"legal_threat\"\ntriggers = [\"lawyer\"]\n",
        )
        .unwrap();
        assert_eq!(p.escalation.len(), 1);
        assert!(p.commitments.is_empty() && p.blame_phrases.is_empty());
        let warnings = p.warnings().join("\n");
        assert_eq!(p.warnings().len(), 3, "{warnings}");
        assert!(
            warnings.contains("safety, data_breach, self_harm, press")
                && !warnings.contains("legal_threat"),
            "{warnings}"
        );
        assert!(
            warnings.contains("a refund, compensation, a date"),
            "{warnings}"
        );
        assert!(warnings.contains("\"your fault\""), "{warnings}");
        assert!(warnings.starts_with("brand.toml: [defaults]"), "{warnings}");
    }

    #[test]
    fn every_problem_is_listed_at_once_with_its_line() {
        let text = BRAND
            .replacen("name = \"Northwind Coffee\"\n", "", 1)
            .replacen("max_chars = 280", "max_chars = \"short\"", 1)
            .replacen("max_chars = 1500", "max_chars = 0", 1)
            .replacen(r"'(?i)\bNW-?\d{6}\b'", "'(unclosed'", 1)
            .replacen("id = ", "colour = \"red\"\nid = ", 1);
        let line_of = |needle: &str| 1 + text.lines().position(|l| l.contains(needle)).unwrap();
        let err = BrandProfile::parse(&text, fixture::guidelines())
            .unwrap_err()
            .to_string();
        for expected in [
            "brand.toml: 5 problems: ".to_owned(),
            format!(
                "line {}: channels.x.max_chars invalid type",
                line_of("\"short\"")
            ),
            format!(
                "line {}: channels.email.max_chars must be > 0",
                line_of("max_chars = 0")
            ),
            format!(
                "line {}: personal_data.order_number is not a regex",
                line_of("(unclosed")
            ),
            format!("line {}: colour is not a brand.toml key", line_of("colour")),
            "name is missing".to_owned(),
        ] {
            assert!(err.contains(&expected), "{expected:?} not in {err}");
        }
    }

    #[test]
    fn errors_name_the_line_and_field() {
        assert_eq!(
            error("max_chars = 280", "max_chars = 0"),
            format!(
                "brand.toml: line {}: channels.x.max_chars must be > 0",
                line("max_chars = 280")
            )
        );
        assert!(
            error("default_channel = \"x\"", "default_channel = \"tiktok\"").starts_with(&format!(
                "brand.toml: line {}: default_channel names \"tiktok\"",
                line("default_channel")
            ))
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
        assert!(
            error(
                "guidelines = [\"voice.md\"]",
                "guidelines = [\"replies.csv\"]"
            )
            .contains("guidelines[0] names \"replies.csv\", a .csv file")
        );
    }

    #[test]
    fn a_rule_without_a_clause_cites_the_voice_and_a_named_clause_must_exist() {
        let p = parse_with("blame = { clause = \"voice.md > Tone > 2\" }\n", "").unwrap();
        assert_eq!(p.rule(Rule::Blame).unwrap().clause, VOICE_CLAUSE);
        let p = parse_with(
            "blame = { clause = \"voice.md > Tone > 2\" }",
            "blame = { severity = \"block\" }",
        )
        .unwrap();
        assert_eq!(p.rule(Rule::Blame).unwrap().clause, VOICE_CLAUSE);
        assert_eq!(p.rule(Rule::Blame).unwrap().severity, Severity::Block);
        assert!(
            error("\"voice.md > Tone > 2\"", "\"voice.md > Tone > 9\"")
                .contains("rules.blame.clause refers to clause \"voice.md > Tone > 9\"")
        );
        assert!(
            error("clause = \"voice.md > Safety > 4\"", "clause = \"nope\"")
                .contains("escalation[0].clause")
        );
        assert!(error("blame = {", "blames = {").contains("rules.blames is not a check"),);
    }

    #[test]
    fn unknown_keys_and_wrong_types_are_reported_with_their_line() {
        let e = error("max_emoji = 1", "max_emoji = 1\nmax_emojis = 2");
        assert!(
            e.contains("unknown field `max_emojis`") && e.contains("line"),
            "{e}"
        );
        let e = error("sign_off = \"forbidden\"", "sign_off = \"never\"");
        assert!(e.contains("unknown variant `never`"), "{e}");
        let e = error("max_chars = 280", "max_chars = \"short\"");
        assert!(
            e.contains(&format!("line {}", line("max_chars = 280"))) && e.contains("invalid type"),
            "{e}"
        );
        let e = BrandProfile::parse("id = \"a\"\nname = \n", Guidelines::default())
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("brand.toml: line 2: "), "{e}");
    }

    #[test]
    fn guideline_files_stay_inside_the_brand_folder() {
        for name in ["../voice.md", "/etc/voice.md", "a/../../voice.md", ""] {
            let err = BrandProfile::parse(
                &MINIMAL.replace("[\"voice.md\"]", &format!("[{name:?}]")),
                fixture::guidelines(),
            )
            .unwrap_err()
            .to_string();
            assert!(
                err.contains("a path inside the brand folder"),
                "{name:?}: {err}"
            );
        }
        let nested = MINIMAL.replace("[\"voice.md\"]", "[\"voice.md\", \"guides/tone.md\"]");
        let p = BrandProfile::parse(&nested, fixture::guidelines()).unwrap();
        assert_eq!(p.guideline_files, ["voice.md", "guides/tone.md"]);
    }

    #[test]
    fn loading_names_the_file_and_each_unreadable_guideline() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("voice.md"), fixture::GUIDE).unwrap();
        std::fs::write(
            dir.path().join("brand.toml"),
            MINIMAL.replace("[\"voice.md\"]", "[\"voice.md\", \"gone.md\"]"),
        )
        .unwrap();
        let err = BrandProfile::load(dir.path()).unwrap_err().to_string();
        let file = dir.path().join("brand.toml").display().to_string();
        assert!(
            err.starts_with(&format!(
                "{file}: line 5: guidelines[1] \"gone.md\": cannot read"
            )),
            "{err}"
        );
        std::fs::write(dir.path().join("brand.toml"), MINIMAL).unwrap();
        let p = BrandProfile::load(dir.path()).unwrap();
        assert!(p.guidelines.get("voice.md > Safety > 4").is_some());
    }
}
