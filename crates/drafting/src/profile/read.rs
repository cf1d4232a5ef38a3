//! Reading `brand.toml` so that one run reports every problem: each top-level key (and each
//! channel, rule, escalation topic and commitment) is deserialized on its own, so a wrong type
//! in one does not hide a missing key or a wrong value in another, and every key's line is
//! kept for the checks that run after parsing.

use std::collections::BTreeMap;
use std::ops::Range;

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use crate::error::Problem;

/// The problems found so far and where each key of the file is.
pub(super) struct Source<'t> {
    text: &'t str,
    /// Dotted key path (`channels.x.max_chars`, `escalation[0].triggers`) → byte span.
    spans: BTreeMap<String, Range<usize>>,
    pub problems: Vec<Problem>,
}

impl<'t> Source<'t> {
    /// Parses `text`; syntax errors become problems and leave an empty table.
    pub fn parse(text: &'t str) -> (Self, Vec<(String, Spanned<DeValue<'t>>)>) {
        let (table, errors) = DeTable::parse_recoverable(text);
        let mut source = Self {
            text,
            spans: BTreeMap::new(),
            problems: Vec::new(),
        };
        for error in &errors {
            let line = error.span().map(|s| source.line_at(s.start));
            source.problems.push(Problem {
                line,
                key: String::new(),
                message: error.message().trim().to_owned(),
            });
        }
        if !errors.is_empty() {
            return (source, Vec::new());
        }
        let entries: Vec<_> = table
            .into_inner()
            .into_iter()
            .map(|(key, value)| (key.into_inner().into_owned(), value))
            .collect();
        for (key, value) in &entries {
            source.index(key.clone(), value);
        }
        (source, entries)
    }

    fn index(&mut self, path: String, value: &Spanned<DeValue<'t>>) {
        match value.get_ref() {
            DeValue::Table(table) => {
                for (key, inner) in table {
                    self.index(format!("{path}.{}", key.get_ref()), inner);
                }
            }
            DeValue::Array(items) => {
                for (i, inner) in items.iter().enumerate() {
                    self.index(format!("{path}[{i}]"), inner);
                }
            }
            DeValue::String(_)
            | DeValue::Integer(_)
            | DeValue::Float(_)
            | DeValue::Boolean(_)
            | DeValue::Datetime(_) => {}
        }
        self.spans.insert(path, value.span());
    }

    fn line_at(&self, offset: usize) -> usize {
        let offset = offset.min(self.text.len());
        1 + self.text.as_bytes()[..offset]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
    }

    /// The line of `key`, or of the nearest enclosing key the file has.
    pub fn line_of(&self, key: &str) -> Option<usize> {
        let mut key = key;
        loop {
            if let Some(span) = self.spans.get(key) {
                return Some(self.line_at(span.start));
            }
            key = &key[..key.rfind(['.', '['])?];
        }
    }

    /// Records a problem with `key`, at its line.
    pub fn problem(&mut self, key: impl Into<String>, message: impl Into<String>) {
        let key = key.into();
        self.problems.push(Problem {
            line: self.line_of(&key),
            key,
            message: message.into(),
        });
    }

    /// Deserializes one value; a failure is recorded against `key` (plus the path inside the
    /// value where serde says it went wrong) and gives `None`.
    pub fn decode<T: DeserializeOwned>(
        &mut self,
        key: &str,
        value: Spanned<DeValue<'t>>,
    ) -> Option<T> {
        let span = value.span();
        match serde_path_to_error::deserialize(ValueDeserializer::from(value)) {
            Ok(decoded) => Some(decoded),
            Err(e) => {
                let inner = e.path().to_string();
                let full = match inner.as_str() {
                    "." => key.to_owned(),
                    _ if inner.starts_with('[') => format!("{key}{inner}"),
                    _ => format!("{key}.{inner}"),
                };
                let error = e.into_inner();
                let offset = error.span().unwrap_or(span).start;
                self.problems.push(Problem {
                    line: Some(self.line_at(offset)),
                    key: full,
                    message: error.message().trim().to_owned(),
                });
                None
            }
        }
    }

    /// The entries of a table value, in file order; anything else is a problem.
    pub fn table_entries(
        &mut self,
        key: &str,
        value: Spanned<DeValue<'t>>,
    ) -> Vec<(String, Spanned<DeValue<'t>>)> {
        let span = value.span();
        match value.into_inner() {
            DeValue::Table(table) => table
                .into_iter()
                .map(|(k, v)| (k.into_inner().into_owned(), v))
                .collect(),
            other @ (DeValue::String(_)
            | DeValue::Integer(_)
            | DeValue::Float(_)
            | DeValue::Boolean(_)
            | DeValue::Datetime(_)
            | DeValue::Array(_)) => {
                self.problems.push(Problem {
                    line: Some(self.line_at(span.start)),
                    key: key.to_owned(),
                    message: format!("must be a table, not {}", other.type_str()),
                });
                Vec::new()
            }
        }
    }

    /// The items of an array value (`[[escalation]]`); anything else is a problem.
    pub fn array_items(
        &mut self,
        key: &str,
        value: Spanned<DeValue<'t>>,
    ) -> Vec<Spanned<DeValue<'t>>> {
        let span = value.span();
        match value.into_inner() {
            DeValue::Array(items) => items.into_iter().collect(),
            other @ (DeValue::String(_)
            | DeValue::Integer(_)
            | DeValue::Float(_)
            | DeValue::Boolean(_)
            | DeValue::Datetime(_)
            | DeValue::Table(_)) => {
                self.problems.push(Problem {
                    line: Some(self.line_at(span.start)),
                    key: key.to_owned(),
                    message: format!("must be an array of tables, not {}", other.type_str()),
                });
                Vec::new()
            }
        }
    }
}
