//! A small brand for unit tests, built from strings so tests do not depend on `brands/`.

use tact_core::InboundMessage;

use crate::checks::ApprovedEvidence;
use crate::guidelines::{self, Guidelines};
use crate::profile::BrandProfile;

pub const GUIDE: &str = "\
## Words
1. Never use the banned words.
2. Prefer our terms.
## Form
1. Fit the channel.
2. Sign off on email only.
3. Emoji sparingly.
## Safety
1. Link only to our sites.
2. Never share anyone's details.
3. Do not promise refunds, compensation or dates.
4. Escalate legal threats.
## Tone
1. No shouting.
2. No blame.
## Quality
1. Say each thing once, in our own voice.
2. Use only links and names from approved replies.
";

pub const BRAND: &str = r#"
id = "testbrand"
name = "Northwind Coffee"
handles = ["@northwindcoffee"]
voice = "Warm and brief."
default_channel = "x"
guidelines = ["voice.md"]
sign_offs = ["The Northwind Coffee team"]

[channels.x]
label = "X public reply"
max_chars = 280
sign_off = "forbidden"
max_emoji = 1

[channels.email]
label = "Email"
max_chars = 1500
sign_off = "required"
max_emoji = 0

[emoji]
allowed = ["☕", "💛"]

[terms]
banned = ["unfortunately", "calm down"]
preferred = { "e-mail" = "email" }

[links]
allowed_domains = ["northwindcoffee.com"]

[personal_data]
order_number = '(?i)\bNW-?\d{6}\b'
brand_contacts = ["hello@northwindcoffee.com", "+1 800 555 0142"]

[tone]
blame_phrases = ["you should have", "your fault"]
acronyms = ["DM", "FAQ"]

[[escalation]]
topic = "legal_threat"
triggers = ["lawyer", "sue", "legal action"]
clause = "voice.md > Safety > 4"

[[commitments]]
kind = "a refund"
triggers = ["refund", "money back"]
clause = "voice.md > Safety > 3"

[[commitments]]
kind = "compensation"
triggers = ["compensation", "free bag"]
clause = "voice.md > Safety > 3"

[[commitments]]
kind = "a date"
patterns = ['(?i)\b(?:by|before|on|until)\s+(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b', '(?i)\bwithin\s+\d+\s+(?:hours?|days?|weeks?)\b']
clause = "voice.md > Safety > 3"

[rules]
banned_term = { clause = "voice.md > Words > 1" }
non_preferred_term = { clause = "voice.md > Words > 2" }
length = { clause = "voice.md > Form > 1" }
sign_off = { clause = "voice.md > Form > 2" }
emoji = { clause = "voice.md > Form > 3" }
link = { clause = "voice.md > Safety > 1" }
personal_data = { clause = "voice.md > Safety > 2" }
shouting = { clause = "voice.md > Tone > 1" }
exclamation_run = { clause = "voice.md > Tone > 1" }
blame = { clause = "voice.md > Tone > 2" }
repetition_loop = { clause = "voice.md > Quality > 1" }
echoes_customer = { clause = "voice.md > Quality > 1" }
speaks_as_customer = { clause = "voice.md > Quality > 1" }
unapproved_link = { clause = "voice.md > Quality > 2" }
unapproved_signature = { clause = "voice.md > Quality > 2" }
"#;

pub fn guidelines() -> Guidelines {
    Guidelines::from_clauses(guidelines::parse("voice.md", GUIDE))
}

pub fn profile() -> BrandProfile {
    BrandProfile::parse(BRAND, guidelines()).unwrap()
}

/// The fixture profile with one piece of its TOML replaced.
pub fn parse_with(from: &str, to: &str) -> crate::Result<BrandProfile> {
    assert!(BRAND.contains(from), "fixture has no {from:?}");
    BrandProfile::parse(&BRAND.replacen(from, to, 1), guidelines())
}

pub fn approved() -> ApprovedEvidence {
    ApprovedEvidence::from_replies([
        "Here's our shipping guide: https://northwindcoffee.com/help/shipping ^JM",
        "Your account page is at https://northwindcoffee.com/account\n— Priya",
    ])
}

pub fn inbound(text: &str) -> InboundMessage {
    InboundMessage::from_json(serde_json::json!({
        "id": "m1", "brand": "testbrand", "channel": "x", "author": "@sam",
        "text": text, "created_at": "2026-03-01T09:00:00Z",
    }))
    .unwrap()
}
