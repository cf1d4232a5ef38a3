use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use tact_core::{Embedder, VectorStore};
use tact_models::{Manifest, ModelCache, ModelRole};
use tact_retrieval::{EmbeddedStore, KnowledgeBase, SentenceEmbedder};

/// The embedding model's directory in the model cache, honouring `$TACT_HOME`.
pub fn model_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let home = std::env::var_os("TACT_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                std::env::var_os("XDG_CACHE_HOME")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| {
                        PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache")
                    })
                    .join("tact")
            });
        let manifest = Manifest::bundled();
        let entry = manifest.default_for(ModelRole::Embedding).unwrap();
        let cache = ModelCache::new(home.join("models"));
        if cache.require(entry).is_err() {
            cache.fetch(entry).expect("fetching the embedding model");
        }
        cache.model_dir(entry)
    })
}

pub fn embedder() -> Arc<SentenceEmbedder> {
    static EMBEDDER: OnceLock<Arc<SentenceEmbedder>> = OnceLock::new();
    EMBEDDER
        .get_or_init(|| Arc::new(SentenceEmbedder::load(model_dir()).expect("loading the model")))
        .clone()
}

pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// A knowledge base over a fresh embedded store in `dir`.
pub fn knowledge_base(dir: &Path) -> (KnowledgeBase, EmbeddedStore) {
    let embedder = embedder();
    let store = EmbeddedStore::open(dir, embedder.dimension()).expect("opening the store");
    let kb = KnowledgeBase::new(embedder, Arc::new(store.clone()) as Arc<dyn VectorStore>)
        .expect("knowledge base");
    (kb, store)
}

/// Every guideline document of the test data, as `(file name, markdown)`.
pub fn guideline_documents() -> Vec<(String, String)> {
    let mut docs: Vec<(String, String)> = std::fs::read_dir(data("guidelines"))
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&path).unwrap(),
            )
        })
        .collect();
    docs.sort();
    docs
}

pub fn no_progress(_: usize, _: usize) {}
