//! Reading past approved replies from CSV or JSONL.
//!
//! A record is `{brand, channel, inbound, reply, created_at, id?}`; `created_at` is RFC 3339.
//! CSV needs a header row naming the columns (others are ignored); JSONL is one object per
//! line (blank lines are skipped). A bad row — a missing or empty field, invalid UTF-8, an
//! unparsable date, a brand other than the one being imported — is reported with its line
//! number and left out; the caller decides whether to import the rest.

use std::fmt;
use std::path::Path;

use crate::error::{Error, Result};

/// One past reply, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastReply {
    pub id: Option<String>,
    pub brand: String,
    pub channel: String,
    /// The customer's message: what is embedded.
    pub inbound: String,
    /// The approved answer: kept in the payload.
    pub reply: String,
    pub created_at: String,
    /// 1-based line of the record in its file.
    pub line: u64,
}

/// A row that was left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RejectedRow {
    pub line: u64,
    pub reason: String,
}

impl fmt::Display for RejectedRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// What a replies file held.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedReplies {
    pub replies: Vec<PastReply>,
    pub rejected: Vec<RejectedRow>,
}

/// How a replies file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyFormat {
    /// A header row naming the columns, then one record per row.
    Csv,
    /// One JSON object per line (`.jsonl` or `.ndjson`).
    Jsonl,
}

impl ReplyFormat {
    /// `csv`, `jsonl` or `ndjson`, any case.
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "csv" => Some(Self::Csv),
            "jsonl" | "ndjson" => Some(Self::Jsonl),
            _ => None,
        }
    }

    /// The format a file's extension names, if it names one.
    pub fn of_path(path: &Path) -> Option<Self> {
        Self::parse(path.extension()?.to_str()?)
    }
}

/// Reads `path` for `brand`, in `format` or else the one its extension names. A record
/// without a brand takes `brand`; one naming another brand is rejected.
pub fn read_replies(
    path: &Path,
    format: Option<ReplyFormat>,
    brand: &str,
) -> Result<ParsedReplies> {
    let Some(format) = format.or_else(|| ReplyFormat::of_path(path)) else {
        return Err(Error::BadFile {
            path: path.to_path_buf(),
            reason: "expected a .csv or .jsonl file of past replies (or say which with \
                     --format csv|jsonl)"
                .into(),
        });
    };
    let bytes = std::fs::read(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_replies(&bytes, format, brand).map_err(|reason| Error::BadFile {
        path: path.to_path_buf(),
        reason,
    })
}

/// Parses replies already read (from stdin, say). `Err` only when the input as a whole cannot
/// be read (a CSV without a usable header); a bad record is a [`RejectedRow`].
pub fn parse_replies(
    bytes: &[u8],
    format: ReplyFormat,
    brand: &str,
) -> std::result::Result<ParsedReplies, String> {
    let parsed = match format {
        ReplyFormat::Csv => parse_csv(bytes, brand)?,
        ReplyFormat::Jsonl => parse_jsonl(bytes, brand),
    };
    Ok(reject_duplicates(parsed))
}

/// A second record with the same id (or, without ids, the same content) is a bad row: the
/// file cannot say which one is meant.
fn reject_duplicates(parsed: ParsedReplies) -> ParsedReplies {
    let mut first_line: std::collections::HashMap<String, u64> = Default::default();
    let mut kept = ParsedReplies {
        replies: Vec::new(),
        rejected: parsed.rejected,
    };
    for reply in parsed.replies {
        let key = match &reply.id {
            Some(id) => format!("id\0{id}"),
            None => format!(
                "content\0{}\0{}\0{}\0{}",
                reply.channel, reply.inbound, reply.reply, reply.created_at
            ),
        };
        match first_line.get(&key) {
            Some(line) => kept.rejected.push(RejectedRow {
                line: reply.line,
                reason: match &reply.id {
                    Some(id) => format!("duplicate id {id:?} (first on line {line})"),
                    None => format!("duplicate of line {line}"),
                },
            }),
            None => {
                first_line.insert(key, reply.line);
                kept.replies.push(reply);
            }
        }
    }
    kept.rejected.sort_by_key(|r| r.line);
    kept
}

/// Fields of a record before validation; `None` when absent.
#[derive(Default)]
struct RawRecord {
    id: Option<String>,
    brand: Option<String>,
    channel: Option<String>,
    inbound: Option<String>,
    reply: Option<String>,
    created_at: Option<String>,
}

impl RawRecord {
    fn set(&mut self, field: &str, value: String) {
        let slot = match field {
            "id" => &mut self.id,
            "brand" => &mut self.brand,
            "channel" => &mut self.channel,
            "inbound" => &mut self.inbound,
            "reply" => &mut self.reply,
            "created_at" => &mut self.created_at,
            _ => return,
        };
        *slot = Some(value);
    }

    fn validate(self, brand: &str, line: u64) -> std::result::Result<PastReply, String> {
        fn required(value: Option<String>, field: &str) -> std::result::Result<String, String> {
            match value {
                Some(v) if !v.trim().is_empty() => Ok(v),
                Some(_) => Err(format!("field `{field}` is empty")),
                None => Err(format!("missing field `{field}`")),
            }
        }
        let channel = required(self.channel, "channel")?;
        let inbound = required(self.inbound, "inbound")?;
        let reply = required(self.reply, "reply")?;
        let created_at = required(self.created_at, "created_at")?;
        if chrono::DateTime::parse_from_rfc3339(created_at.trim()).is_err() {
            return Err(format!(
                "field `created_at` is not an RFC 3339 timestamp (like 2024-05-01T09:30:00Z): \
                 {created_at:?}"
            ));
        }
        if let Some(own) = self
            .brand
            .as_deref()
            .map(str::trim)
            .filter(|b| !b.is_empty())
            && own != brand
        {
            return Err(format!(
                "brand {own:?} is not the brand being imported ({brand:?})"
            ));
        }
        Ok(PastReply {
            id: self
                .id
                .map(|id| id.trim().to_owned())
                .filter(|id| !id.is_empty()),
            brand: brand.to_owned(),
            channel: channel.trim().to_owned(),
            inbound,
            reply,
            created_at: created_at.trim().to_owned(),
            line,
        })
    }
}

fn parse_csv(bytes: &[u8], brand: &str) -> std::result::Result<ParsedReplies, String> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let headers = reader
        .byte_headers()
        .map_err(|e| format!("cannot read the CSV header: {e}"))?
        .iter()
        .map(|h| String::from_utf8_lossy(h).trim().to_ascii_lowercase())
        .collect::<Vec<_>>();
    for field in ["channel", "inbound", "reply", "created_at"] {
        if !headers.iter().any(|h| h == field) {
            return Err(format!(
                "the CSV header has no `{field}` column (found: {})",
                headers.join(", ")
            ));
        }
    }
    let mut parsed = ParsedReplies::default();
    let mut record = csv::ByteRecord::new();
    loop {
        let line = reader.position().line();
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                // A malformed row (an unclosed quote) ends what the reader can trust.
                parsed.rejected.push(RejectedRow {
                    line,
                    reason: format!("unreadable CSV: {e}"),
                });
                break;
            }
        }
        let line = record.position().map_or(line, |p| p.line());
        let mut raw = RawRecord::default();
        let mut invalid = None;
        for (field, value) in headers.iter().zip(record.iter()) {
            match std::str::from_utf8(value) {
                Ok(value) => raw.set(field, value.to_owned()),
                Err(_) => {
                    invalid = Some(format!("field `{field}` is not valid UTF-8"));
                    break;
                }
            }
        }
        let outcome = match invalid {
            Some(reason) => Err(reason),
            None => raw.validate(brand, line),
        };
        match outcome {
            Ok(reply) => parsed.replies.push(reply),
            Err(reason) => parsed.rejected.push(RejectedRow { line, reason }),
        }
    }
    Ok(parsed)
}

fn parse_jsonl(bytes: &[u8], brand: &str) -> ParsedReplies {
    let mut parsed = ParsedReplies::default();
    for (index, raw_line) in bytes.split(|&b| b == b'\n').enumerate() {
        let line = index as u64 + 1;
        let outcome = std::str::from_utf8(raw_line)
            .map_err(|_| "the line is not valid UTF-8".to_owned())
            .and_then(|text| {
                let text = text.trim();
                if text.is_empty() {
                    return Ok(None);
                }
                json_record(text).and_then(|raw| raw.validate(brand, line).map(Some))
            });
        match outcome {
            Ok(Some(reply)) => parsed.replies.push(reply),
            Ok(None) => {}
            Err(reason) => parsed.rejected.push(RejectedRow { line, reason }),
        }
    }
    parsed
}

fn json_record(text: &str) -> std::result::Result<RawRecord, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let serde_json::Value::Object(map) = value else {
        return Err("not a JSON object".into());
    };
    let mut raw = RawRecord::default();
    for (field, value) in map {
        match value {
            serde_json::Value::String(s) => raw.set(&field, s),
            serde_json::Value::Null => {}
            serde_json::Value::Number(n) if field == "id" => raw.set(&field, n.to_string()),
            serde_json::Value::Bool(_)
            | serde_json::Value::Number(_)
            | serde_json::Value::Array(_)
            | serde_json::Value::Object(_) => {
                if matches!(
                    field.as_str(),
                    "id" | "brand" | "channel" | "inbound" | "reply" | "created_at"
                ) {
                    return Err(format!("field `{field}` must be a string"));
                }
            }
        }
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_are_validated_with_their_line_numbers() {
        let mut csv = b"id,channel,inbound,reply,created_at,extra\n\
            r1,instagram,Where is my order?,Let me check!,2024-05-01T09:30:00Z,x\n\
            r2,instagram,,Hi,2024-05-01T09:30:00Z,x\n\
            r3,x,\"multi\nline\",ok,yesterday,x\n"
            .to_vec();
        csv.extend_from_slice(b"r4,x,caf\xe9,ok,2024-05-01T09:30:00Z,x\n");
        csv.extend_from_slice(b"r5,x,fine,ok,2024-05-01T09:30:00+02:00,x\n");
        let parsed = parse_csv(&csv, "acme").unwrap();
        let ids: Vec<_> = parsed
            .replies
            .iter()
            .map(|r| r.id.clone().unwrap())
            .collect();
        assert_eq!(ids, ["r1", "r5"]);
        assert_eq!(parsed.replies[1].line, 7);
        let rejected: Vec<_> = parsed.rejected.iter().map(ToString::to_string).collect();
        assert_eq!(rejected.len(), 3, "{rejected:?}");
        assert!(rejected[0].starts_with("line 3: field `inbound` is empty"));
        assert!(rejected[1].starts_with("line 4: field `created_at` is not an RFC 3339"));
        assert!(rejected[2].starts_with("line 6: field `inbound` is not valid UTF-8"));
    }

    #[test]
    fn duplicate_ids_and_rows_are_rejected_after_the_first() {
        let jsonl = br#"{"id":"a","channel":"x","inbound":"q","reply":"r","created_at":"2024-05-01T09:30:00Z"}
{"id":"a","channel":"x","inbound":"q2","reply":"r","created_at":"2024-05-01T09:30:00Z"}
{"channel":"x","inbound":"q","reply":"r","created_at":"2024-05-01T09:30:00Z"}
{"channel":"x","inbound":"q","reply":"r","created_at":"2024-05-01T09:30:00Z"}
"#;
        let parsed = reject_duplicates(parse_jsonl(jsonl, "acme"));
        assert_eq!(parsed.replies.len(), 2);
        let rejected: Vec<_> = parsed.rejected.iter().map(ToString::to_string).collect();
        assert_eq!(
            rejected,
            [
                "line 2: duplicate id \"a\" (first on line 1)",
                "line 4: duplicate of line 3"
            ]
        );
    }

    #[test]
    fn a_csv_without_a_required_column_is_refused_whole() {
        let err = parse_csv(b"channel,inbound,reply\nx,y,z\n", "acme").unwrap_err();
        assert!(err.contains("`created_at`"), "{err}");
    }

    #[test]
    fn jsonl_rows_are_validated_with_their_line_numbers() {
        let mut jsonl = br#"{"channel":"x","inbound":"a","reply":"b","created_at":"2024-05-01T09:30:00Z","id":7}

{"channel":"x","reply":"b","created_at":"2024-05-01T09:30:00Z"}
{"brand":"other","channel":"x","inbound":"a","reply":"b","created_at":"2024-05-01T09:30:00Z"}
[1]
{"channel":"x","inbound":"a","reply":"b","created_at":"2024-05-01"}
"#
        .to_vec();
        jsonl.extend_from_slice(b"{\"channel\":\"\xff\"}\n");
        let parsed = parse_jsonl(&jsonl, "acme");
        assert_eq!(parsed.replies.len(), 1);
        assert_eq!(parsed.replies[0].id.as_deref(), Some("7"));
        assert_eq!(parsed.replies[0].brand, "acme");
        let lines: Vec<u64> = parsed.rejected.iter().map(|r| r.line).collect();
        assert_eq!(lines, [3, 4, 5, 6, 7]);
        assert!(
            parsed.rejected[0]
                .reason
                .contains("missing field `inbound`")
        );
        assert!(parsed.rejected[1].reason.contains("\"other\""));
        assert!(parsed.rejected[4].reason.contains("UTF-8"));
    }
}
