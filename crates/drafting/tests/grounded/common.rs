use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use tact_core::{
    Embedder, GenerateError, GenerateRequest, GenerationStream, InboundMessage, TextGenerator,
    VectorStore,
};
use tact_drafting::{ApprovedEvidence, BrandProfile, Drafter, DrafterParts};
use tact_inference::{ChatModel, Engine, EngineConfig, LoadOptions};
use tact_retrieval::{EmbeddedStore, KnowledgeBase, SentenceEmbedder, read_guideline_documents};

pub fn demo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../brands/demo")
}

pub fn profile() -> BrandProfile {
    BrandProfile::load(&demo_dir()).expect("the demo brand loads")
}

pub fn approved() -> ApprovedEvidence {
    let text = std::fs::read_to_string(demo_dir().join("replies.jsonl")).unwrap();
    ApprovedEvidence::from_jsonl("replies.jsonl", &text).unwrap()
}

/// Every record of the demo brand's replies.jsonl, as JSON.
pub fn reply_records() -> Vec<serde_json::Value> {
    std::fs::read_to_string(demo_dir().join("replies.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

pub fn chat_model() -> ChatModel {
    static MODEL: OnceLock<ChatModel> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            ChatModel::load(&tact_e2e::chat_model_path(), &LoadOptions::default())
                .expect("loading the chat model")
        })
        .clone()
}

pub fn embedder() -> Arc<SentenceEmbedder> {
    static EMBEDDER: OnceLock<Arc<SentenceEmbedder>> = OnceLock::new();
    EMBEDDER
        .get_or_init(|| {
            Arc::new(
                SentenceEmbedder::load(&tact_e2e::embedding_model_dir())
                    .expect("loading the embedding model"),
            )
        })
        .clone()
}

/// The real engine, counting the generations asked of it.
pub struct CountingEngine {
    engine: Engine,
    pub generations: AtomicUsize,
}

impl TextGenerator for CountingEngine {
    fn generate(&self, request: GenerateRequest) -> Result<GenerationStream, GenerateError> {
        self.generations.fetch_add(1, Ordering::SeqCst);
        self.engine.generate(request)
    }
    fn count_tokens(&self, text: &str) -> Result<usize, GenerateError> {
        self.engine.count_tokens(text)
    }
    fn context_length(&self) -> usize {
        self.engine.context_length()
    }
}

pub fn engine() -> Arc<CountingEngine> {
    Arc::new(CountingEngine {
        engine: Engine::start(chat_model(), EngineConfig::default()).expect("engine"),
        generations: AtomicUsize::new(0),
    })
}

/// The demo brand's guidelines and replies in a fresh embedded store under `dir`.
pub async fn knowledge_base(dir: &Path) -> KnowledgeBase {
    let embedder = embedder();
    let store = EmbeddedStore::open(dir, embedder.dimension()).expect("opening the store");
    let kb = KnowledgeBase::new(embedder, Arc::new(store) as Arc<dyn VectorStore>).unwrap();
    let profile = profile();
    let files: Vec<PathBuf> = [
        "voice-and-tone.md",
        "channels.md",
        "escalation.md",
        "privacy.md",
    ]
    .iter()
    .map(|f| demo_dir().join(f))
    .collect();
    let documents = read_guideline_documents(&files).unwrap();
    let none = |_: usize, _: usize| {};
    kb.ingest_guidelines(&profile.id, &documents, &none)
        .await
        .unwrap();
    let summary = kb
        .ingest_replies(&profile.id, &demo_dir().join("replies.jsonl"), true, &none)
        .await
        .unwrap();
    assert!(summary.added >= 100, "{summary:?}");
    kb
}

/// A drafter for the demo brand over the real parts, and the engine behind it.
pub async fn drafter(dir: &Path) -> (Drafter, Arc<CountingEngine>) {
    let engine = engine();
    let kb = knowledge_base(dir).await;
    let drafter = Drafter::new(DrafterParts {
        generator: engine.clone(),
        embedder: embedder() as Arc<dyn Embedder>,
        retriever: Arc::new(kb),
        profile: profile(),
        approved: approved(),
    })
    .await
    .expect("drafter");
    (drafter, engine)
}

pub fn inbound(channel: &str, author: &str, text: &str) -> InboundMessage {
    InboundMessage::from_json(serde_json::json!({
        "id": "in-1", "brand": "northwind", "channel": channel, "author": author,
        "text": text, "created_at": "2026-03-01T09:00:00Z",
    }))
    .unwrap()
}
