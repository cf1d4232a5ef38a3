//! A brand's guideline documents, split into citable clauses.
//!
//! A clause is a paragraph or a top-level list item; its id is the document name, the heading
//! path (without the document's single `#` title) and its 1-based ordinal under the innermost
//! heading: `voice-and-tone.md > Be human > 2`. This is the scheme `tact-retrieval` uses for the
//! clauses it indexes, so the ids that checks cite and the ids retrieval returns are the same.

use std::path::Path;

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

/// Splits one Markdown document into clauses, in order.
pub fn parse(file: &str, markdown: &str) -> Vec<Clause> {
    let title = title_level(markdown);
    let mut clauses = Vec::new();
    let mut headings: Vec<(usize, String)> = Vec::new();
    let mut ordinal = 0;
    let mut block: Vec<&str> = Vec::new();
    let mut fenced = false;
    let mut flush = |block: &mut Vec<&str>, headings: &[(usize, String)], ordinal: &mut usize| {
        let text = join(block);
        block.clear();
        if text.is_empty() {
            return;
        }
        *ordinal += 1;
        let mut id = file.to_owned();
        for (_, name) in headings {
            id.push_str(" > ");
            id.push_str(name);
        }
        clauses.push(Clause {
            id: format!("{id} > {ordinal}"),
            text,
        });
    };
    for line in markdown.lines() {
        let trimmed = line.trim();
        let fence = trimmed.starts_with("```") || trimmed.starts_with("~~~");
        if fenced || fence {
            block.push(line);
            if fenced && fence {
                flush(&mut block, &headings, &mut ordinal);
            }
            fenced ^= fence;
            continue;
        }
        if let Some((level, name)) = heading(trimmed) {
            flush(&mut block, &headings, &mut ordinal);
            ordinal = 0;
            headings.retain(|(l, _)| *l < level);
            if Some(level) != title {
                headings.push((level, name));
            }
        } else if trimmed.is_empty() || is_rule(trimmed) {
            flush(&mut block, &headings, &mut ordinal);
        } else {
            // A top-level list item starts a clause; indented lines continue the one above.
            if list_marker(trimmed).is_some() && !line.starts_with([' ', '\t']) {
                flush(&mut block, &headings, &mut ordinal);
            }
            block.push(line);
        }
    }
    flush(&mut block, &headings, &mut ordinal);
    clauses
}

/// The level of the document's title: its only level-1 heading, when it has exactly one.
fn title_level(markdown: &str) -> Option<usize> {
    let top = markdown
        .lines()
        .filter(|l| matches!(heading(l.trim()), Some((1, _))))
        .count();
    (top == 1).then_some(1)
}

/// `## Be human` → `(2, "Be human")`.
fn heading(line: &str) -> Option<(usize, String)> {
    let level = line.bytes().take_while(|&b| b == b'#').count();
    let rest = &line[level..];
    if !(1..=6).contains(&level) || !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
        return None;
    }
    let name = rest.trim().trim_end_matches('#').trim();
    (!name.is_empty()).then(|| (level, name.to_owned()))
}

fn is_rule(line: &str) -> bool {
    let compact: Vec<char> = line.chars().filter(|c| !c.is_whitespace()).collect();
    compact.len() >= 3
        && ['-', '*', '_']
            .iter()
            .any(|m| compact.iter().all(|c| c == m))
}

/// Length of a list marker (`- `, `* `, `+ `, `1. `, `2) `) at the start of `line`.
fn list_marker(line: &str) -> Option<usize> {
    if line.starts_with("- ") || line.starts_with("* ") || line.starts_with("+ ") {
        return Some(2);
    }
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    let rest = &line[digits..];
    (digits > 0 && (rest.starts_with(". ") || rest.starts_with(") "))).then_some(digits + 2)
}

fn join(lines: &[&str]) -> String {
    if lines.first().is_some_and(|l| {
        let t = l.trim();
        t.starts_with("```") || t.starts_with("~~~")
    }) {
        return lines.join("\n").trim().to_owned();
    }
    let mut text = String::new();
    for (i, line) in lines.iter().enumerate() {
        let mut line = line.trim();
        if i == 0
            && let Some(len) = list_marker(line)
        {
            line = line[len..].trim_start();
        }
        if !line.is_empty() {
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(line);
        }
    }
    text
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
