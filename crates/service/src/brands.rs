//! Changing a brand while the service runs: a guideline document is replaced in the brand
//! folder, the brand reloaded with it and its clauses re-ingested, or nothing changes at all.

use std::path::Path;

use tact_drafting::BrandProfile;
use tokio::io::AsyncWriteExt;

use crate::error::{Error, Result};
use crate::state::{BrandSetup, Service};

impl Service {
    /// Replaces guideline document `document` (one of the files `brand.toml` lists) of brand
    /// `id` with `markdown`. When the brand does not load with the new text (a rule cites a
    /// clause it no longer has) or the knowledge base cannot take it, the old file is put back
    /// and the error says why ([`Error::Invalid`] for the caller's mistakes). Returns the
    /// reloaded profile. One replacement runs at a time.
    pub async fn replace_guideline(
        &self,
        id: &str,
        document: &str,
        markdown: &str,
    ) -> Result<BrandProfile> {
        let brand = self
            .brand(id)
            .ok_or_else(|| Error::Invalid(format!("this service does not serve brand {id:?}")))?;
        if markdown.trim().is_empty() {
            return Err(Error::Invalid("`markdown` must not be empty".into()));
        }
        let dir = brand.dir.clone().ok_or_else(|| {
            Error::Invalid(format!(
                "brand {id:?} was not loaded from a folder; its guidelines are read-only"
            ))
        })?;
        let _one_at_a_time = self.guideline_updates.lock().await;
        let listed = &brand.profile.guideline_files;
        if !listed.iter().any(|f| f == document) {
            return Err(Error::Invalid(format!(
                "`document` must be one of the guideline files of brand.toml ({}), got {document:?}",
                listed.join(", "),
            )));
        }
        let path = dir.join(document);
        let old = tokio::fs::read_to_string(&path)
            .await
            .map_err(Error::io(format!("reading {}", path.display())))?;
        write_durably(&path, markdown)
            .await
            .map_err(Error::io(format!("writing {}", path.display())))?;
        let load_dir = dir.clone();
        let loaded = tokio::task::spawn_blocking(move || BrandProfile::load(&load_dir))
            .await
            .map_err(|e| Error::Invalid(format!("loading the brand stopped: {e}")))?;
        let profile = match loaded {
            Ok(profile) => profile,
            Err(e) => {
                restore(&path, &old).await;
                return Err(Error::Invalid(format!(
                    "the brand does not load with this document, so it was not saved: {e}"
                )));
            }
        };
        if let Err(e) = self
            .models
            .knowledge
            .replace_guidelines(id, document, markdown)
            .await
        {
            restore(&path, &old).await;
            return Err(e.into());
        }
        self.replace_brand(BrandSetup {
            profile: profile.clone(),
            ..(*brand).clone()
        });
        Ok(profile)
    }
}

/// Writes `contents` to `path` so that a crash leaves the old file or the new one, never a
/// torn one: a temporary file beside it, synced, renamed over it, and the directory synced.
async fn write_durably(path: &Path, contents: &str) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = dir.join(format!(".{name}.tact-new"));
    let written = async {
        let mut file = tokio::fs::File::create(&temporary).await?;
        file.write_all(contents.as_bytes()).await?;
        file.sync_all().await?;
        drop(file);
        tokio::fs::rename(&temporary, path).await
    }
    .await;
    if let Err(e) = written {
        let _ = tokio::fs::remove_file(&temporary).await;
        return Err(e);
    }
    tokio::fs::File::open(dir).await?.sync_all().await
}

async fn restore(path: &Path, old: &str) {
    if let Err(e) = write_durably(path, old).await {
        tracing::error!(error = %e, file = %path.display(), "cannot restore a guideline file");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_durable_write_replaces_the_file_and_leaves_nothing_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("voice.md");
        std::fs::write(&path, "old").unwrap();
        write_durably(&path, "# New\n\nText.").await.unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "# New\n\nText.");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["voice.md"]);
        // A folder that is not there: an error, and nothing written.
        let missing = dir.path().join("gone/voice.md");
        assert!(write_durably(&missing, "x").await.is_err());
    }
}
