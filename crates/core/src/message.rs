//! The inbound message: what a customer wrote to a brand.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// An inbound message, here and everywhere in tact (files, API):
/// `{"id", "brand", "channel", "author", "text", "created_at"}` with `created_at` in RFC 3339.
/// Fields beyond these are kept in `extra`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundMessage {
    pub id: String,
    pub brand: String,
    pub channel: String,
    pub author: String,
    pub text: String,
    /// RFC 3339 timestamp, validated by [`InboundMessage::from_json`].
    pub created_at: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Why a JSON value is not an inbound message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InboundMessageError {
    #[error("not a JSON object")]
    NotAnObject,
    #[error("missing required field `{0}`")]
    MissingField(&'static str),
    #[error("field `{0}` must be a string")]
    NotAString(&'static str),
    #[error("field `{0}` must not be empty")]
    Empty(&'static str),
    #[error("field `created_at` is not an RFC 3339 timestamp: {0:?}")]
    BadTimestamp(String),
}

const REQUIRED: [&str; 6] = ["id", "brand", "channel", "author", "text", "created_at"];

impl InboundMessage {
    /// Parses and validates one message, naming the first field that is wrong.
    pub fn from_json(value: Value) -> Result<Self, InboundMessageError> {
        let Value::Object(mut map) = value else {
            return Err(InboundMessageError::NotAnObject);
        };
        let mut take = |field: &'static str| -> Result<String, InboundMessageError> {
            match map.remove(field) {
                None | Some(Value::Null) => Err(InboundMessageError::MissingField(field)),
                Some(Value::String(s)) if s.trim().is_empty() && field != "text" => {
                    Err(InboundMessageError::Empty(field))
                }
                Some(Value::String(s)) => Ok(s),
                Some(_) => Err(InboundMessageError::NotAString(field)),
            }
        };
        let [id, brand, channel, author, text, created_at] = REQUIRED.map(&mut take);
        let created_at = created_at?;
        if !is_rfc3339(&created_at) {
            return Err(InboundMessageError::BadTimestamp(created_at));
        }
        let text = text?;
        if text.trim().is_empty() {
            return Err(InboundMessageError::Empty("text"));
        }
        Ok(Self {
            id: id?,
            brand: brand?,
            channel: channel?,
            author: author?,
            text,
            created_at,
            extra: map,
        })
    }
}

/// A strict RFC 3339 date-time check (`YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`), enough to
/// reject what a human would call "not a timestamp" without pulling a date library into core.
pub fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        b.get(r.clone())
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    };
    if b.len() < 20
        || !digits(0..4)
        || b[4] != b'-'
        || !digits(5..7)
        || b[7] != b'-'
        || !digits(8..10)
    {
        return false;
    }
    if !matches!(b[10], b'T' | b't' | b' ')
        || !digits(11..13)
        || b[13] != b':'
        || !digits(14..16)
        || b[16] != b':'
        || !digits(17..19)
    {
        return false;
    }
    let num = |r: std::ops::Range<usize>| s[r].parse::<u32>().unwrap_or(99);
    if !(1..=12).contains(&num(5..7))
        || !(1..=31).contains(&num(8..10))
        || num(11..13) > 23
        || num(14..16) > 59
        || num(17..19) > 60
    {
        return false;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &frac[n..];
    }
    match rest {
        "Z" | "z" => true,
        tz => {
            let t = tz.as_bytes();
            t.len() == 6
                && matches!(t[0], b'+' | b'-')
                && t[1..3].iter().all(u8::is_ascii_digit)
                && t[3] == b':'
                && t[4..6].iter().all(u8::is_ascii_digit)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn valid() -> Value {
        json!({"id": "m1", "brand": "acme", "channel": "x", "author": "@sam", "text": "hi", "created_at": "2026-11-01T10:00:00Z", "lang": "en"})
    }

    #[test]
    fn parses_and_keeps_extra_fields() {
        let m = InboundMessage::from_json(valid()).unwrap();
        assert_eq!(m.author, "@sam");
        assert_eq!(m.extra.get("lang"), Some(&json!("en")));
    }

    #[test]
    fn names_the_missing_or_wrong_field() {
        let mut v = valid();
        v.as_object_mut().unwrap().remove("channel");
        assert_eq!(
            InboundMessage::from_json(v),
            Err(InboundMessageError::MissingField("channel"))
        );
        let mut v = valid();
        v["text"] = json!(5);
        assert_eq!(
            InboundMessage::from_json(v),
            Err(InboundMessageError::NotAString("text"))
        );
        let mut v = valid();
        v["created_at"] = json!("yesterday");
        assert!(matches!(
            InboundMessage::from_json(v),
            Err(InboundMessageError::BadTimestamp(_))
        ));
        assert_eq!(
            InboundMessage::from_json(json!([1])),
            Err(InboundMessageError::NotAnObject)
        );
    }

    #[test]
    fn rfc3339_accepts_offsets_and_fractions() {
        assert!(is_rfc3339("2026-11-01T10:00:00.123+02:00"));
        assert!(!is_rfc3339("2026-13-01T10:00:00Z"));
        assert!(!is_rfc3339("2026-11-01T10:00:00"));
    }
}
