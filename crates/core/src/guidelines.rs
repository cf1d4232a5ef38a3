//! Splitting a Markdown guideline document into citable clauses: one scheme, so the ids that
//! retrieval indexes and the ids that guideline checks cite are the same strings.
//!
//! A clause is a paragraph or one item of a list, under the headings above it. Its id is the
//! document name, the heading path and its 1-based ordinal under the innermost heading:
//! `voice-and-tone.md > Be human > 2`. A document's single top-level `#` heading is its title,
//! already said by the file name, so it is left out of the path. Code blocks and tables stay
//! whole, as one clause. The ids are stable as long as the clauses above in the same section
//! are (an inserted paragraph renumbers the ones after it, within that section only).

/// One clause of a guideline document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuidelineClause {
    /// `"<document> > <heading> > ... > <ordinal>"`.
    pub cite: String,
    /// Headings from the outermost down, title excluded.
    pub headings: Vec<String>,
    /// The clause text, Markdown list markers removed, lines joined with spaces.
    pub text: String,
}

impl GuidelineClause {
    /// What is embedded: the innermost heading gives a short clause its topic.
    pub fn embedding_text(&self) -> String {
        match self.headings.last() {
            Some(heading) => format!("{heading}: {}", self.text),
            None => self.text.clone(),
        }
    }
}

/// Splits `markdown` (the document named `document`) into clauses, in order.
pub fn split_clauses(document: &str, markdown: &str) -> Vec<GuidelineClause> {
    let title_level = title_level(markdown);
    let mut clauses = Vec::new();
    let mut headings: Vec<(usize, String)> = Vec::new();
    let mut ordinal = 0;
    let mut block: Vec<&str> = Vec::new();
    let mut fence: Option<&str> = None;

    let mut flush = |block: &mut Vec<&str>, headings: &[(usize, String)], ordinal: &mut usize| {
        let text = join_block(block);
        block.clear();
        if text.is_empty() {
            return;
        }
        *ordinal += 1;
        let names: Vec<String> = headings.iter().map(|(_, name)| name.clone()).collect();
        let mut cite = document.to_owned();
        for name in &names {
            cite.push_str(" > ");
            cite.push_str(name);
        }
        cite.push_str(&format!(" > {ordinal}"));
        clauses.push(GuidelineClause {
            cite,
            headings: names,
            text,
        });
    };

    for line in markdown.lines() {
        let trimmed = line.trim();
        if let Some(marker) = fence {
            block.push(line);
            if trimmed.starts_with(marker) {
                fence = None;
                flush(&mut block, &headings, &mut ordinal);
            }
            continue;
        }
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            flush(&mut block, &headings, &mut ordinal);
            fence = Some(&trimmed[..3]);
            block.push(line);
            continue;
        }
        if let Some((level, name)) = heading(trimmed) {
            flush(&mut block, &headings, &mut ordinal);
            ordinal = 0;
            headings.retain(|(l, _)| *l < level);
            if Some(level) != title_level {
                headings.push((level, name));
            }
            continue;
        }
        if trimmed.is_empty() || is_rule(trimmed) {
            flush(&mut block, &headings, &mut ordinal);
            continue;
        }
        // A new top-level list item starts a new clause; indented lines continue the item.
        if list_marker(trimmed).is_some() && !line.starts_with([' ', '\t']) {
            flush(&mut block, &headings, &mut ordinal);
        }
        block.push(line);
    }
    flush(&mut block, &headings, &mut ordinal);
    clauses
}

/// The level of the document's title: its only level-1 heading, when it has exactly one.
fn title_level(markdown: &str) -> Option<usize> {
    let mut fenced = false;
    let mut top = 0;
    for line in markdown.lines().map(str::trim) {
        if line.starts_with("```") || line.starts_with("~~~") {
            fenced = !fenced;
        } else if !fenced && matches!(heading(line), Some((1, _))) {
            top += 1;
        }
    }
    (top == 1).then_some(1)
}

/// `## Be human` → `(2, "Be human")`. Closing `#`s are dropped.
fn heading(line: &str) -> Option<(usize, String)> {
    let level = line.bytes().take_while(|&b| b == b'#').count();
    if !(1..=6).contains(&level) {
        return None;
    }
    let rest = &line[level..];
    if !rest.is_empty() && !rest.starts_with([' ', '\t']) {
        return None;
    }
    let name = rest.trim().trim_end_matches('#').trim();
    (!name.is_empty()).then(|| (level, name.to_owned()))
}

fn is_rule(line: &str) -> bool {
    let compact: String = line.chars().filter(|c| !c.is_whitespace()).collect();
    compact.len() >= 3
        && ["-", "*", "_"]
            .iter()
            .any(|m| compact.chars().all(|c| c.to_string() == *m))
}

/// The length of a list marker (`- `, `* `, `+ `, `1. `, `2) `) at the start of `line`.
fn list_marker(line: &str) -> Option<usize> {
    if line.starts_with("- ") || line.starts_with("* ") || line.starts_with("+ ") {
        return Some(2);
    }
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    let rest = &line[digits..];
    (digits > 0 && (rest.starts_with(". ") || rest.starts_with(") "))).then_some(digits + 2)
}

fn join_block(lines: &[&str]) -> String {
    let fenced = lines
        .first()
        .is_some_and(|l| l.trim().starts_with("```") || l.trim().starts_with("~~~"));
    if fenced {
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
        if line.is_empty() {
            continue;
        }
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(line);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "\
# Voice and tone

We sound like a friend who knows coffee.

## Be human

Write the way you talk.
Short sentences win.

- Use the customer's name
  when they gave it.
- Never copy and paste the same apology.

## Hard rules

### Refunds

1. Never promise a refund.
2) Point to the help centre.

```
code stays whole

even with blank lines
```
";

    fn cites(clauses: &[GuidelineClause]) -> Vec<&str> {
        clauses.iter().map(|c| c.cite.as_str()).collect()
    }

    #[test]
    fn clauses_are_cited_by_heading_path_and_ordinal() {
        let clauses = split_clauses("voice-and-tone.md", DOC);
        assert_eq!(
            cites(&clauses),
            [
                "voice-and-tone.md > 1",
                "voice-and-tone.md > Be human > 1",
                "voice-and-tone.md > Be human > 2",
                "voice-and-tone.md > Be human > 3",
                "voice-and-tone.md > Hard rules > Refunds > 1",
                "voice-and-tone.md > Hard rules > Refunds > 2",
                "voice-and-tone.md > Hard rules > Refunds > 3",
            ]
        );
        assert_eq!(
            clauses[1].text,
            "Write the way you talk. Short sentences win."
        );
        assert_eq!(
            clauses[2].text,
            "Use the customer's name when they gave it."
        );
        assert_eq!(clauses[4].text, "Never promise a refund.");
        assert_eq!(clauses[5].text, "Point to the help centre.");
        assert!(clauses[6].text.contains("\n\neven with blank lines"));
        assert_eq!(clauses[4].headings, ["Hard rules", "Refunds"]);
        assert_eq!(
            clauses[2].embedding_text(),
            "Be human: Use the customer's name when they gave it."
        );
    }

    #[test]
    fn an_edit_in_one_section_keeps_the_other_ids() {
        let edited = DOC.replace("Write the way you talk.", "Write the way you talk!\n\nNew.");
        let before = split_clauses("v.md", DOC);
        let after = split_clauses("v.md", &edited);
        let refunds = |c: &[GuidelineClause]| -> Vec<(String, String)> {
            c.iter()
                .filter(|c| c.cite.contains("Refunds"))
                .map(|c| (c.cite.clone(), c.text.clone()))
                .collect()
        };
        assert_eq!(refunds(&before), refunds(&after));
        assert_eq!(after.len(), before.len() + 1);
    }

    #[test]
    fn several_top_headings_are_all_kept_and_rules_split() {
        let clauses = split_clauses("a.md", "# One\ntext\n\n---\nmore\n# Two\nx\n#nope\n");
        assert_eq!(
            cites(&clauses),
            ["a.md > One > 1", "a.md > One > 2", "a.md > Two > 1"]
        );
        assert_eq!(clauses[2].text, "x #nope");
    }

    #[test]
    fn empty_documents_have_no_clauses() {
        assert!(split_clauses("e.md", "").is_empty());
        assert!(split_clauses("e.md", "# Title\n\n## Empty\n\n").is_empty());
    }
}
