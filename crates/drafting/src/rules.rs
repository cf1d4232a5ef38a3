//! The vocabulary of guideline checks: which rule a violation breaks and how much it matters.

use serde::{Deserialize, Serialize};
pub use tact_core::review::Severity;

/// A deterministic guideline check. Each rule is mapped to the guideline clause it enforces in
/// the brand profile's `[rules]` table; commitments carry their own clause per commitment kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    BannedTerm,
    NonPreferredTerm,
    Length,
    SignOff,
    Emoji,
    Link,
    PersonalData,
    Commitment,
    Shouting,
    ExclamationRun,
    Blame,
    RepetitionLoop,
    EchoesCustomer,
    SpeaksAsCustomer,
    UnapprovedLink,
    UnapprovedSignature,
    /// A fact, link, number or promise that no source of the draft states.
    UnsupportedClaim,
    /// A reply in another language than the customer's message.
    WrongLanguage,
    /// The model declined to help ("I'm sorry, but I can't assist with that").
    Refusal,
    /// Thanks or pleasure in reply to a complaint, or an apology for praise.
    MisreadSentiment,
}

impl Rule {
    /// Rules that the `[rules]` table must map to a clause (commitments are mapped per kind).
    pub const MAPPED: [Rule; 15] = [
        Rule::BannedTerm,
        Rule::NonPreferredTerm,
        Rule::Length,
        Rule::SignOff,
        Rule::Emoji,
        Rule::Link,
        Rule::PersonalData,
        Rule::Shouting,
        Rule::ExclamationRun,
        Rule::Blame,
        Rule::RepetitionLoop,
        Rule::EchoesCustomer,
        Rule::SpeaksAsCustomer,
        Rule::UnapprovedLink,
        Rule::UnapprovedSignature,
    ];

    /// Rules a profile may map in `[rules]`; unmapped, they cite no clause and use their
    /// default severity.
    pub const OPTIONAL: [Rule; 4] = [
        Rule::UnsupportedClaim,
        Rule::WrongLanguage,
        Rule::Refusal,
        Rule::MisreadSentiment,
    ];

    /// The key of this rule in `brand.toml` and in JSON output.
    pub fn key(self) -> &'static str {
        match self {
            Rule::BannedTerm => "banned_term",
            Rule::NonPreferredTerm => "non_preferred_term",
            Rule::Length => "length",
            Rule::SignOff => "sign_off",
            Rule::Emoji => "emoji",
            Rule::Link => "link",
            Rule::PersonalData => "personal_data",
            Rule::Commitment => "commitment",
            Rule::Shouting => "shouting",
            Rule::ExclamationRun => "exclamation_run",
            Rule::Blame => "blame",
            Rule::RepetitionLoop => "repetition_loop",
            Rule::EchoesCustomer => "echoes_customer",
            Rule::SpeaksAsCustomer => "speaks_as_customer",
            Rule::UnapprovedLink => "unapproved_link",
            Rule::UnapprovedSignature => "unapproved_signature",
            Rule::UnsupportedClaim => "unsupported_claim",
            Rule::WrongLanguage => "wrong_language",
            Rule::Refusal => "refusal",
            Rule::MisreadSentiment => "misread_sentiment",
        }
    }

    /// Severity when the profile does not say. The failure modes measured on the bundled model
    /// (loops, echoes, writing as the customer, invented links and signatures) block, as do
    /// leaks of personal data and links outside the allowlist; style slips warn.
    pub fn default_severity(self) -> Severity {
        match self {
            Rule::BannedTerm
            | Rule::Length
            | Rule::Link
            | Rule::PersonalData
            | Rule::Commitment
            | Rule::RepetitionLoop
            | Rule::EchoesCustomer
            | Rule::SpeaksAsCustomer
            | Rule::UnapprovedLink
            | Rule::UnapprovedSignature
            | Rule::WrongLanguage
            | Rule::Refusal => Severity::Block,
            Rule::NonPreferredTerm
            | Rule::SignOff
            | Rule::Emoji
            | Rule::Shouting
            | Rule::ExclamationRun
            | Rule::Blame
            | Rule::UnsupportedClaim
            | Rule::MisreadSentiment => Severity::Warn,
        }
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key())
    }
}

impl tact_core::review::RuleKey for Rule {
    fn key(&self) -> &str {
        Rule::key(*self)
    }
}
