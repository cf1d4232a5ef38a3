//! A brand's guideline documents, split into citable clauses.
//!
//! A clause is a paragraph or a top-level list item; its id is the document name, the heading
//! path (without the document's single `#` title) and its 1-based ordinal under the innermost
//! heading: `voice-and-tone.md > Be human > 2`. This is the scheme `tact-retrieval` uses for the
//! clauses it indexes, so the ids that checks cite and the ids retrieval returns are the same.

use std::path::Path;

use tact_core::guidelines::split_clauses;

use crate::error::{Error, Result};

/// One numbered paragraph of a guideline document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    /// `file > heading > number`.
    pub id: String,
    pub text: String,
}

/// All clauses of one brand, in document order.
#[derive(Debug, Clone, Default)]
pub struct Guidelines {
    clauses: Vec<Clause>,
}

impl Guidelines {
    /// Reads each file (relative to `dir`) and collects its clauses.
    pub fn load(dir: &Path, files: &[String]) -> Result<Self> {
        let mut clauses = Vec::new();
        for file in files {
            let path = dir.join(file);
            let text = std::fs::read_to_string(&path).map_err(|source| Error::Read {
                path: path.clone(),
                source,
            })?;
            let found = parse(file, &text);
            if found.is_empty() {
                return Err(Error::Invalid {
                    file: file.clone(),
                    field: "content".into(),
                    problem: "has no clauses (paragraphs or list items)".into(),
                });
            }
            clauses.extend(found);
        }
        Ok(Self { clauses })
    }

    /// Clauses parsed elsewhere, e.g. with [`parse`] from text in memory.
    pub fn from_clauses(clauses: Vec<Clause>) -> Self {
        Self { clauses }
    }

    pub fn get(&self, id: &str) -> Option<&Clause> {
        self.clauses.iter().find(|c| c.id == id)
    }

    pub fn clauses(&self) -> &[Clause] {
        &self.clauses
    }
}

/// Splits one Markdown document into clauses, in order (the scheme of
/// [`tact_core::guidelines`]).
pub fn parse(file: &str, markdown: &str) -> Vec<Clause> {
    split_clauses(file, markdown)
        .into_iter()
        .map(|clause| Clause {
            id: clause.cite,
            text: clause.text,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "# Voice and tone\n\nIntro paragraph.\n\n## Be human\n\n\
        1. Write like a person.\n   Contractions are fine.\n2. Use the customer's name.\n\n\
        ### Examples\n\n- One\n- Two\n\n```\nfenced\n\nblock\n```\n\n---\n\n## Be brief\n\nSay it once.\n";

    #[test]
    fn clauses_are_cited_by_heading_path_and_ordinal() {
        let clauses = parse("voice.md", DOC);
        let ids: Vec<_> = clauses.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "voice.md > 1",
                "voice.md > Be human > 1",
                "voice.md > Be human > 2",
                "voice.md > Be human > Examples > 1",
                "voice.md > Be human > Examples > 2",
                "voice.md > Be human > Examples > 3",
                "voice.md > Be brief > 1",
            ]
        );
        assert_eq!(
            clauses[1].text,
            "Write like a person. Contractions are fine."
        );
        assert_eq!(clauses[2].text, "Use the customer's name.");
        assert_eq!(clauses[5].text, "```\nfenced\n\nblock\n```");
    }

    #[test]
    fn a_file_without_clauses_is_an_error() {
        let dir = std::env::temp_dir().join(format!("tact-guidelines-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("empty.md"), "# Nothing\n\n## Empty\n\n---\n").unwrap();
        let err = Guidelines::load(&dir, &["empty.md".into()]).unwrap_err();
        assert!(err.to_string().contains("empty.md"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
