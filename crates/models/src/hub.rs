//! Pulling a model file from a model hub with `hf-hub`, for users who can reach one.
//! Nothing in tact's tests or CI calls this.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Downloads `file` of `repo` at `revision` into `<cache_root>/hub` and returns its path.
pub fn pull(cache_root: &Path, repo: &str, file: &str, revision: &str) -> Result<PathBuf> {
    let api = hf_hub::api::sync::ApiBuilder::new()
        .with_cache_dir(cache_root.join("hub"))
        .with_progress(true)
        .build()
        .map_err(|e| Error::Hub(e.to_string()))?;
    let repo = hf_hub::Repo::with_revision(
        repo.to_owned(),
        hf_hub::RepoType::Model,
        revision.to_owned(),
    );
    api.repo(repo)
        .get(file)
        .map_err(|e| Error::Hub(format!("{file}: {e}")))
}
