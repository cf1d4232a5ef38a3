//! A real server on a free loopback port for the tests of this binary: the real chat model
//! and embedder, the demo brand ingested into an embedded Qdrant store, the workflow in SQLite
//! under a temporary directory (or PostgreSQL in a schema of its own), and a webhook receiver
//! on another free port. It runs on a thread of its own, so every test (each with its own
//! runtime) shares it.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use anyhow::Context;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use tact_core::{Embedder, TextGenerator, VectorStore};
use tact_drafting::{ApprovedEvidence, BrandProfile, CrisisConfig, DraftOptions};
use tact_inference::{ChatModel, Engine, EngineConfig, LoadOptions, QuantFormat};
use tact_retrieval::retriever::KnowledgeRetriever;
use tact_retrieval::{EmbeddedStore, KnowledgeBase, RetrievalMode, SentenceEmbedder};
use tact_server::{Server, ServerConfig};
use tact_service::{BrandSetup, Models, Parts, Service, ServiceConfig, WebhookSettings};
use tact_workflow::{BrandScope, PostgresStore, Role, SqliteStore, Workflow, WorkflowStore};

pub const BRAND: &str = "northwind";
pub const HOOK_SECRET: &str = "test-hook-secret";
/// Small enough that a flood test fills it with one batch.
pub const QUEUE: usize = 6;
/// The one origin allowed cross-origin (the extension's).
pub const ORIGIN: &str = "chrome-extension://tact-test";

/// One webhook request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
}

pub struct Harness {
    pub base: String,
    pub admin: String,
    pub approver: String,
    pub agent: String,
    pub hook: Arc<Mutex<Vec<Received>>>,
    pub knowledge: KnowledgeBase,
    pub workflow: Workflow,
    /// Held by tests that change the store, so one that compares the store before and after
    /// sees only its own requests (when `cargo test` runs tests as threads of one process).
    pub exclusive: tokio::sync::Mutex<()>,
    _dir: tempfile::TempDir,
}

pub fn sqlite() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| start(None).expect("the test server starts"))
}

/// The PostgreSQL variant, or `None` (and a note) without `TACT_TEST_DATABASE_URL`.
pub fn postgres(test: &str) -> Option<&'static Harness> {
    static HARNESS: OnceLock<Option<Harness>> = OnceLock::new();
    let harness = HARNESS.get_or_init(|| {
        let url = std::env::var("TACT_TEST_DATABASE_URL").ok()?;
        Some(start(Some(url)).expect("the PostgreSQL test server starts"))
    });
    if harness.is_none() {
        println!("SKIPPED {test}: TACT_TEST_DATABASE_URL is not set");
        eprintln!("SKIPPED {test}: TACT_TEST_DATABASE_URL is not set");
    }
    harness.as_ref()
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn start(database_url: Option<String>) -> anyhow::Result<Harness> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async move {
            match serve(database_url).await {
                Ok((harness, run)) => {
                    let _ = tx.send(Ok(harness));
                    run.await;
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                }
            }
        });
    });
    rx.recv_timeout(Duration::from_secs(600))
        .context("the test server did not start in time")?
}

async fn serve(
    database_url: Option<String>,
) -> anyhow::Result<(Harness, impl std::future::Future<Output = ()>)> {
    let dir = tempfile::tempdir()?;
    let store: Arc<dyn WorkflowStore> = match &database_url {
        Some(url) => {
            let schema = format!("tact_server_test_{}", uuid::Uuid::new_v4().simple());
            Arc::new(PostgresStore::connect(url, Some(&schema)).await?)
        }
        None => Arc::new(SqliteStore::open(&dir.path().join("workflow")).await?),
    };
    let workflow = Workflow::new(store);

    let model_path = tact_e2e::chat_model_path();
    let engine = tokio::task::spawn_blocking(move || -> anyhow::Result<Engine> {
        let model = ChatModel::load(
            &model_path,
            &LoadOptions {
                requantize_to: Some(QuantFormat::Q8_0),
                dense_prefill: true,
                derived_dir: None,
            },
        )?;
        Ok(Engine::start(model, EngineConfig::default())?)
    })
    .await??;
    let generator: Arc<dyn TextGenerator> = Arc::new(engine);
    let embedding_dir = tact_e2e::embedding_model_dir();
    let embedder =
        tokio::task::spawn_blocking(move || SentenceEmbedder::load(&embedding_dir)).await??;
    let dimension = embedder.dimension();
    let embedder: Arc<dyn Embedder> = Arc::new(embedder);
    let store_dir = dir.path().join("store");
    let vectors: Arc<dyn VectorStore> = Arc::new(
        tokio::task::spawn_blocking(move || EmbeddedStore::open(&store_dir, dimension)).await??,
    );
    let knowledge = KnowledgeBase::new(embedder.clone(), vectors)?;

    let brand_dir = repo_root().join("brands/demo");
    let profile = BrandProfile::load(&brand_dir)?;
    anyhow::ensure!(profile.id == BRAND, "the demo brand is {}", profile.id);
    let files: Vec<PathBuf> = [
        "voice-and-tone.md",
        "channels.md",
        "escalation.md",
        "privacy.md",
    ]
    .iter()
    .map(|f| brand_dir.join(f))
    .collect();
    let documents = tact_retrieval::read_guideline_documents(&files)?;
    knowledge
        .ingest_guidelines(BRAND, &documents, &|_, _| {})
        .await?;
    let replies = brand_dir.join("replies.jsonl");
    knowledge
        .ingest_replies(BRAND, &replies, false, &|_, _| {})
        .await?;
    let approved =
        ApprovedEvidence::from_jsonl("replies.jsonl", &std::fs::read_to_string(&replies)?)?;
    // Guideline updates write to the brand folder: give the server a copy.
    let brand_copy = dir.path().join("brand");
    std::fs::create_dir_all(&brand_copy)?;
    for entry in std::fs::read_dir(&brand_dir)? {
        let entry = entry?;
        std::fs::copy(entry.path(), brand_copy.join(entry.file_name()))?;
    }

    let hook = Arc::new(Mutex::new(Vec::new()));
    let hook_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let hook_url = format!("http://{}/hook", hook_listener.local_addr()?);
    let receiver = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(hook.clone());
    tokio::spawn(async move {
        let _ = axum::serve(hook_listener, receiver).await;
    });

    let mut config = ServiceConfig {
        drafting_queue: QUEUE,
        outbox_poll_ms: 100,
        ..ServiceConfig::default()
    };
    config.webhooks.insert(
        BRAND.into(),
        WebhookSettings {
            url: hook_url,
            secret: HOOK_SECRET.into(),
            timeout_secs: 5,
        },
    );
    let models = Models {
        generator,
        embedder,
        retriever: Arc::new(KnowledgeRetriever::new(
            knowledge.clone(),
            RetrievalMode::Dense,
        )),
        knowledge: Arc::new(knowledge.clone()),
        draft_options: DraftOptions {
            candidates: 2,
            max_new_tokens: 24,
            ..DraftOptions::default()
        },
    };
    let (service, loops) = Service::build(
        Parts {
            workflow: workflow.clone(),
            models,
            brands: vec![BrandSetup {
                profile,
                dir: Some(brand_copy),
                approved,
                crisis: CrisisConfig::default(),
            }],
        },
        config,
    )
    .await?;
    let server = Server::new(
        service,
        loops,
        ServerConfig {
            cors_origins: vec![ORIGIN.into()],
            ..ServerConfig::default()
        },
    )?;
    let token = |label: &'static str, role: Role, scope: BrandScope| {
        let workflow = workflow.clone();
        async move {
            workflow
                .create_token(label, role, scope)
                .await
                .map(|t| t.secret)
        }
    };
    let admin = token("admin", Role::Admin, BrandScope::All).await?;
    let approver = token(
        "approver",
        Role::Approver,
        BrandScope::Only(vec![BRAND.into()]),
    )
    .await?;
    let agent = token("agent", Role::Agent, BrandScope::Only(vec![BRAND.into()])).await?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let run = async move {
        if let Err(e) = server.run(listener, std::future::pending()).await {
            eprintln!("test server stopped: {e}");
        }
    };
    Ok((
        Harness {
            base,
            admin,
            approver,
            agent,
            hook,
            knowledge,
            workflow,
            exclusive: tokio::sync::Mutex::new(()),
            _dir: dir,
        },
        run,
    ))
}

async fn receive(
    State(hook): State<Arc<Mutex<Vec<Received>>>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    hook.lock().unwrap().push(Received { headers, body });
    StatusCode::OK
}

/// Whether `received` carries a valid signature of its body.
pub fn signed(received: &Received) -> bool {
    let header = |name: &str| {
        received
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let timestamp = header("x-tact-timestamp");
    let signature = header("x-tact-signature");
    let mut mac = Hmac::<Sha256>::new_from_slice(HOOK_SECRET.as_bytes()).unwrap();
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(&received.body);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    !timestamp.is_empty() && signature == expected
}

impl Harness {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn client() -> reqwest::Client {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(300))
            .build()
            .unwrap()
    }

    /// GET `path` with `token`, expecting 200 and JSON.
    pub async fn get(&self, token: &str, path: &str) -> Value {
        let response = Self::client()
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// POST JSON, returning status and body.
    pub async fn post(&self, token: &str, path: &str, body: &Value) -> (u16, Value) {
        let response = Self::client()
            .post(self.url(path))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(serde_json::to_vec(body).unwrap())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let bytes = response.bytes().await.unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// Polls the message until `done` holds for it (drafting takes seconds on a busy CPU).
    pub async fn wait_for(&self, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..1200 {
            let detail = self
                .get(&self.admin, &format!("/api/v1/messages/{id}"))
                .await;
            if done(&detail) {
                return detail;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!("message {id} never reached: {what}");
    }

    /// The whole queue and the newest audit entries: what bad input must leave unchanged.
    pub async fn snapshot(&self) -> (Value, Value) {
        (
            self.get(&self.admin, "/api/v1/messages?limit=1000").await,
            self.get(&self.admin, "/api/v1/audit?limit=1000").await,
        )
    }
}

pub fn inbound(id: &str, channel: &str, text: &str) -> Value {
    serde_json::json!({
        "id": id,
        "brand": BRAND,
        "channel": channel,
        "author": "@casey",
        "text": text,
        "created_at": "2026-11-01T09:30:00Z",
    })
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}
