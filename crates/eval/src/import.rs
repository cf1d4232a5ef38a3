//! Cases from real work: an approved draft that a person edited becomes a case whose reference
//! is the person's final text. The workflow store is read by the caller (the CLI); this module
//! only shapes the case and merges it into a cases file without losing what is there.

use std::collections::BTreeSet;
use std::path::Path;

use crate::error::{Error, Result};
use crate::suite::{Case, CaseOrigin, Expectations, parse_cases};

/// An approved reply that was edited before approval, as the workflow store keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct EditedReply {
    pub message_id: String,
    pub channel: String,
    pub inbound_text: String,
    pub draft_text: String,
    pub final_text: String,
    /// RFC 3339.
    pub approved_at: String,
}

/// The case for one edited reply: its id is `edit-<message id>`, so importing twice adds it once.
pub fn case_from_edit(edit: &EditedReply) -> Case {
    Case {
        id: format!("edit-{}", edit.message_id),
        text: edit.inbound_text.clone(),
        channel: Some(edit.channel.clone()),
        author: "customer".into(),
        thread: Vec::new(),
        tags: vec!["imported-edit".into()],
        expect: Expectations {
            reference: Some(edit.final_text.clone()),
            ..Expectations::default()
        },
        origin: Some(CaseOrigin {
            message_id: edit.message_id.clone(),
            draft: edit.draft_text.clone(),
            approved_at: edit.approved_at.clone(),
        }),
    }
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub added: usize,
    /// Already in the file (same id).
    pub skipped: usize,
}

/// Appends the cases for `edits` to the JSONL file at `path` (created if absent), skipping ids
/// it already has. The existing file must parse: a broken file is reported, never rewritten.
pub fn append_cases(path: &Path, edits: &[EditedReply]) -> Result<ImportSummary> {
    let existing = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(source) => {
            return Err(Error::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    let mut ids: BTreeSet<String> = parse_cases(path, &existing)?
        .into_iter()
        .map(|c| c.id)
        .collect();
    let mut out = String::new();
    let mut summary = ImportSummary::default();
    for edit in edits {
        let case = case_from_edit(edit);
        if !ids.insert(case.id.clone()) {
            summary.skipped += 1;
            continue;
        }
        out.push_str(&to_line(&case));
        summary.added += 1;
    }
    if out.is_empty() {
        return Ok(summary);
    }
    let needs_newline = !existing.is_empty() && !existing.ends_with('\n');
    let write_err = |source| Error::Write {
        path: path.to_owned(),
        source,
    };
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(write_err)?;
    if needs_newline {
        file.write_all(b"\n").map_err(write_err)?;
    }
    file.write_all(out.as_bytes()).map_err(write_err)?;
    Ok(summary)
}

/// One JSONL line for a case.
pub fn to_line(case: &Case) -> String {
    // A case is plain strings and numbers: serializing it cannot fail.
    serde_json::to_string(case).unwrap_or_default() + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(id: &str) -> EditedReply {
        EditedReply {
            message_id: id.into(),
            channel: "x".into(),
            inbound_text: "Where is my order?".into(),
            draft_text: "It is late, sorry".into(),
            final_text: "Sorry it's late! It left our roastery on Monday.".into(),
            approved_at: "2026-02-01T10:00:00Z".into(),
        }
    }

    #[test]
    fn edits_become_cases_once_and_existing_cases_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cases.jsonl");
        std::fs::write(&path, "{\"id\": \"mine\", \"text\": \"hello\"}").unwrap();
        let first = append_cases(&path, &[edit("m1"), edit("m2")]).unwrap();
        assert_eq!(
            first,
            ImportSummary {
                added: 2,
                skipped: 0
            }
        );
        let again = append_cases(&path, &[edit("m1")]).unwrap();
        assert_eq!(
            again,
            ImportSummary {
                added: 0,
                skipped: 1
            }
        );
        let cases = parse_cases(&path, &std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(cases.len(), 3);
        assert_eq!(cases[0].id, "mine");
        assert_eq!(cases[1].id, "edit-m1");
        assert_eq!(
            cases[1].expect.reference.as_deref(),
            Some("Sorry it's late! It left our roastery on Monday.")
        );
        assert_eq!(cases[1].origin.as_ref().unwrap().draft, "It is late, sorry");
    }

    #[test]
    fn a_broken_cases_file_is_not_touched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cases.jsonl");
        std::fs::write(&path, "not json\n").unwrap();
        assert!(append_cases(&path, &[edit("m1")]).is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "not json\n");
    }
}
