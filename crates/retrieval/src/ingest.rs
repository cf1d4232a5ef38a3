//! Ingesting files: guideline documents and past-reply exports.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::knowledge_base::{IngestSummary, KnowledgeBase, guideline_entries, reply_entries};
use crate::replies::{ParsedReplies, read_replies};

/// A Markdown guideline document and the name its clauses are cited by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuidelineDocument {
    /// The file name, or for a file found in a directory, its path relative to that
    /// directory (`tone/voice-and-tone.md`).
    pub name: String,
    pub markdown: String,
}

/// Reads guideline documents from files and directories (searched recursively for `.md` and
/// `.markdown` files, in name order).
pub fn read_guideline_documents(paths: &[PathBuf]) -> Result<Vec<GuidelineDocument>> {
    let mut documents = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found = Vec::new();
            markdown_files(path, &mut found)?;
            found.sort();
            if found.is_empty() {
                return Err(Error::BadFile {
                    path: path.clone(),
                    reason: "no .md files in this directory".into(),
                });
            }
            for file in found {
                let name = file
                    .strip_prefix(path)
                    .unwrap_or(&file)
                    .to_string_lossy()
                    .replace('\\', "/");
                documents.push(read_document(&file, name)?);
            }
        } else {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.display().to_string());
            documents.push(read_document(path, name)?);
        }
    }
    Ok(documents)
}

fn markdown_files(dir: &Path, found: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    for entry in entries {
        let path = entry
            .map_err(|source| Error::Read {
                path: dir.to_path_buf(),
                source,
            })?
            .path();
        if path.is_dir() {
            markdown_files(&path, found)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("md" | "markdown")
        ) {
            found.push(path);
        }
    }
    Ok(())
}

fn read_document(path: &Path, name: String) -> Result<GuidelineDocument> {
    let bytes = std::fs::read(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let markdown = String::from_utf8(bytes).map_err(|e| {
        let line = 1 + e.as_bytes()[..e.utf8_error().valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        Error::BadFile {
            path: path.to_path_buf(),
            reason: format!("line {line}: not valid UTF-8"),
        }
    })?;
    Ok(GuidelineDocument { name, markdown })
}

impl KnowledgeBase {
    /// Ingests whole guideline documents for `brand`: new and edited clauses are embedded,
    /// clauses gone from a document are removed.
    pub async fn ingest_guidelines(
        &self,
        brand: &str,
        documents: &[GuidelineDocument],
        progress: &(dyn Fn(usize, usize) + Send + Sync),
    ) -> Result<IngestSummary> {
        let entries = documents
            .iter()
            .flat_map(|doc| guideline_entries(brand, &doc.name, &doc.markdown))
            .collect();
        self.ingest(entries, true, progress).await
    }

    /// Ingests a CSV or JSONL file of past replies for `brand` (the format from its
    /// extension). Bad rows are skipped and listed in the summary; with `strict`, any bad row
    /// aborts before anything is written.
    pub async fn ingest_replies(
        &self,
        brand: &str,
        path: &Path,
        strict: bool,
        progress: &(dyn Fn(usize, usize) + Send + Sync),
    ) -> Result<IngestSummary> {
        let parsed = read_replies(path, None, brand)?;
        let source = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        self.ingest_parsed_replies(&source, parsed, strict, progress)
            .await
    }

    /// Ingests replies already read (see [`crate::replies::parse_replies`]); `source` names
    /// where they came from in each point's payload (a file name, `stdin`).
    pub async fn ingest_parsed_replies(
        &self,
        source: &str,
        parsed: ParsedReplies,
        strict: bool,
        progress: &(dyn Fn(usize, usize) + Send + Sync),
    ) -> Result<IngestSummary> {
        if strict && !parsed.rejected.is_empty() {
            return Err(Error::Rejected {
                count: parsed.rejected.len(),
                rows: parsed
                    .rejected
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            });
        }
        let mut summary = self
            .ingest(reply_entries(source, &parsed.replies), false, progress)
            .await?;
        summary.rejected = parsed.rejected;
        Ok(summary)
    }
}
