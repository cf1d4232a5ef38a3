//! Durability and scale-out of the approval service, with real `tact serve` processes on the
//! real models: a server SIGKILLed while it drafts and delivers loses nothing and delivers each
//! approved reply under one idempotency key, and two servers on one PostgreSQL store share the
//! drafting queue, drafting each message once.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use serde_json::{Value, json};
use tokio::time::Instant;

const BRAND: &str = "northwind";
const WEBHOOK_SECRET: &str = "whsec_scale_out_test";

/// A `TACT_HOME` with both real models and a config for fast leases, short drafts and (when
/// given) a webhook and a PostgreSQL store.
fn home(
    lease_secs: u32,
    webhook: Option<&str>,
    database: Option<(&str, &str)>,
) -> anyhow::Result<tempfile::TempDir> {
    let home = tempfile::tempdir()?;
    let chat = tact_e2e::chat_model_path();
    let embedding = tact_e2e::embedding_model_dir();
    for (source, files) in [
        (chat.parent().unwrap().to_path_buf(), vec![chat.clone()]),
        (
            embedding.clone(),
            std::fs::read_dir(&embedding)?
                .map(|e| e.map(|e| e.path()))
                .collect::<Result<Vec<_>, _>>()?,
        ),
    ] {
        let dir = home.path().join("models").join(source.file_name().unwrap());
        std::fs::create_dir_all(&dir)?;
        for file in files.iter().filter(|f| f.is_file()) {
            std::fs::copy(file, dir.join(file.file_name().unwrap()))?;
        }
    }
    let brands = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../brands");
    let mut config = format!(
        "brands_dir = {brands:?}\n\
         [draft]\ncandidates = 1\nmax_new_tokens = 24\n\
         [service]\ndrafting_workers = 1\ndrafting_lease_secs = {lease_secs}\n\
         drafting_poll_ms = 100\noutbox_poll_ms = 100\ndelivery_lease_secs = {lease_secs}\n"
    );
    if let Some(url) = webhook {
        config.push_str(&format!(
            "[service.webhooks.{BRAND}]\nurl = {url:?}\nsecret = {WEBHOOK_SECRET:?}\n\
             timeout_secs = 30\n"
        ));
    }
    if let Some((url, schema)) = database {
        config.push_str(&format!(
            "[workflow]\ndatabase_url = {url:?}\nschema = {schema:?}\n"
        ));
    }
    std::fs::write(home.path().join("config.toml"), config)?;
    Ok(home)
}

fn tact(home: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tact"));
    command
        .env("TACT_HOME", home)
        .env_remove("TACT_CONFIG")
        .env("TACT__MODEL__CHAT", tact_e2e::TEST_CHAT_MODEL)
        .env("TACT_LOG", "info")
        .env("CANDLE_NUM_THREADS", "1");
    command
}

fn admin_token(home: &Path) -> anyhow::Result<String> {
    let out = tact(home)
        .args(["token", "create", "--role", "admin", "--brand", "*"])
        .output()?;
    ensure!(
        out.status.success(),
        "token create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8(out.stdout)?.trim().to_owned())
}

/// A running `tact serve`; its log goes to `serve-<n>.log` in the home.
struct Serve {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Serve {
    fn start(home: &Path, n: usize) -> anyhow::Result<Self> {
        let log = home.join(format!("serve-{n}.log"));
        let mut child = tact(home)
            .args(["serve", "--addr", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log)?)
            .spawn()?;
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            let Some(line) = lines.next() else {
                let _ = child.wait();
                bail!("tact serve exited: {}", std::fs::read_to_string(&log)?);
            };
            if let Some(url) = line?.strip_prefix("tact is running at ") {
                break url.trim_end_matches('/').to_owned();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Ok(Self { child, url, log })
    }

    fn kill(&mut self) -> anyhow::Result<()> {
        // `Child::kill` is SIGKILL on Unix: no shutdown code runs.
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Api {
    client: reqwest::Client,
    url: String,
    token: String,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status();
        let text = response.text().await?;
        ensure!(status.is_success(), "{path}: {status} {text}");
        Ok(serde_json::from_str(&text)?)
    }

    async fn messages(&self) -> anyhow::Result<BTreeMap<String, Value>> {
        let list = self
            .call(
                reqwest::Method::GET,
                &format!("/api/v1/messages?brand={BRAND}"),
                None,
            )
            .await?;
        Ok(list["messages"]
            .as_array()
            .context("messages")?
            .iter()
            .map(|m| (m["id"].as_str().unwrap_or_default().to_owned(), m.clone()))
            .collect())
    }

    async fn audit(&self, id: &str) -> anyhow::Result<Vec<Value>> {
        let log = self
            .call(
                reqwest::Method::GET,
                &format!("/api/v1/messages/{id}/audit"),
                None,
            )
            .await?;
        Ok(log["entries"].as_array().context("entries")?.clone())
    }

    async fn approve(&self, id: &str) -> anyhow::Result<String> {
        let detail = self
            .call(
                reqwest::Method::GET,
                &format!("/api/v1/messages/{id}"),
                None,
            )
            .await?;
        let body = json!({
            "version": detail["version"],
            "candidate": 0,
            "override_reason": "approved by the durability test",
        });
        let approved = self
            .call(
                reqwest::Method::POST,
                &format!("/api/v1/messages/{id}/approve"),
                Some(body),
            )
            .await?;
        Ok(approved["final_text"]
            .as_str()
            .context("final_text")?
            .to_owned())
    }

    async fn submit(&self, ids: &[String]) -> anyhow::Result<()> {
        let texts = [
            "Do you ship your Ethiopian roast to Canada?",
            "What grind size do you recommend for a French press?",
            "Is the house blend available in decaf?",
            "Can I pause my subscription for a month?",
        ];
        let messages: Vec<Value> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                json!({
                    "id": id,
                    "brand": BRAND,
                    "channel": "x",
                    "author": format!("@customer{i}"),
                    "text": texts[i % texts.len()],
                    "created_at": "2026-11-22T09:00:00Z",
                })
            })
            .collect();
        self.call(
            reqwest::Method::POST,
            "/api/v1/messages",
            Some(json!({ "messages": messages })),
        )
        .await?;
        Ok(())
    }
}

/// One webhook POST as the receiver saw it.
#[derive(Debug, Clone)]
struct Delivery {
    key: String,
    message_id: String,
    text: String,
}

/// A webhook receiver that takes its time (so a server can die mid-delivery) and records
/// every request as it arrives.
#[derive(Clone, Default)]
struct Receiver {
    seen: Arc<Mutex<Vec<Delivery>>>,
    in_progress: Arc<Mutex<usize>>,
}

impl Receiver {
    async fn start(delay: Duration) -> anyhow::Result<(Self, String)> {
        let receiver = Self::default();
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state((receiver.clone(), delay));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/hook", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok((receiver, url))
    }

    fn seen(&self) -> Vec<Delivery> {
        self.seen.lock().unwrap().clone()
    }

    fn in_progress(&self) -> usize {
        *self.in_progress.lock().unwrap()
    }
}

async fn receive(
    State((receiver, delay)): State<(Receiver, Duration)>,
    headers: HeaderMap,
    body: Bytes,
) -> &'static str {
    let payload: Value = serde_json::from_slice(&body).unwrap_or_default();
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    receiver.seen.lock().unwrap().push(Delivery {
        key,
        message_id: payload["message_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        text: payload["text"].as_str().unwrap_or_default().to_owned(),
    });
    *receiver.in_progress.lock().unwrap() += 1;
    tokio::time::sleep(delay).await;
    *receiver.in_progress.lock().unwrap() -= 1;
    "ok"
}

fn status(message: &Value) -> &str {
    message["status"].as_str().unwrap_or_default()
}

async fn wait_for<F, Fut>(what: &str, limit: Duration, mut done: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<bool>>,
{
    let deadline = Instant::now() + limit;
    while !done().await? {
        ensure!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_drafting_and_delivery_loses_nothing_and_delivers_once() -> anyhow::Result<()> {
    let (receiver, hook) = Receiver::start(Duration::from_secs(2)).await?;
    // Short leases: the killed server's work is taken over two seconds after the restart.
    let home = home(2, Some(&hook), None)?;
    let token = admin_token(home.path())?;
    let mut serve = Serve::start(home.path(), 1)?;
    let mut api = Api {
        client: reqwest::Client::new(),
        url: serve.url.clone(),
        token,
    };
    api.call(
        reqwest::Method::PUT,
        &format!("/api/v1/brands/{BRAND}/policy"),
        Some(json!({
            "approvals": 1,
            "crisis_approvals": 2,
            "crisis_mode": false,
            "author_may_approve_own_edit": false,
            "delivery": "webhook",
        })),
    )
    .await?;
    let ids: Vec<String> = (1..=8).map(|i| format!("kill-{i}")).collect();
    api.submit(&ids).await?;

    // Approve drafts as they appear until a delivery is in progress while a message is
    // being drafted, then SIGKILL the server.
    let mut approved: BTreeMap<String, String> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(240);
    let before_kill = loop {
        ensure!(
            Instant::now() < deadline,
            "never had a delivery and a draft in progress at once"
        );
        let messages = api.messages().await?;
        for (id, m) in &messages {
            if status(m) == "awaiting_review" && approved.len() < 3 {
                approved.insert(id.clone(), api.approve(id).await?);
            }
        }
        let drafting = messages.values().any(|m| status(m) == "drafting");
        if receiver.in_progress() > 0 && drafting {
            let mut audit = BTreeMap::new();
            for id in &ids {
                audit.insert(id.clone(), api.audit(id).await?);
            }
            serve.kill()?;
            break audit;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let cut_off: BTreeSet<String> = receiver.seen().iter().map(|d| d.key.clone()).collect();
    ensure!(
        !cut_off.is_empty(),
        "a delivery was in progress at the kill"
    );
    let unfinished: Vec<String> = before_kill
        .iter()
        .filter(|(_, log)| log.last().is_some_and(|e| e["to"] == "drafting"))
        .map(|(id, _)| id.clone())
        .collect();
    ensure!(
        !unfinished.is_empty(),
        "a message was being drafted at the kill"
    );

    // Restart on the same home; the dead process's leases run out and its work is redone.
    let restarted = Serve::start(home.path(), 2)?;
    api.url = restarted.url.clone();
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let messages = api.messages().await?;
        for (id, m) in &messages {
            if status(m) == "awaiting_review" {
                approved.insert(id.clone(), api.approve(id).await?);
            }
        }
        let settled = messages.len() == ids.len()
            && messages.values().all(|m| {
                !["received", "drafting", "awaiting_review", "approved"].contains(&status(m))
            });
        if settled {
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "timed out waiting until every message is drafted and every approval delivered: \
             {messages:?}\n{}",
            std::fs::read_to_string(&restarted.log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // No inbound message, approval or audit entry lost.
    let messages = api.messages().await?;
    assert_eq!(messages.keys().cloned().collect::<Vec<_>>(), {
        let mut sorted = ids.clone();
        sorted.sort();
        sorted
    });
    for (id, log) in &before_kill {
        let now = api.audit(id).await?;
        ensure!(
            now.len() >= log.len() && now[..log.len()] == log[..],
            "audit of {id} lost entries"
        );
    }
    for id in approved.keys() {
        assert_eq!(status(&messages[id]), "sent", "{id}");
        let log = api.audit(id).await?;
        assert_eq!(
            log.iter().filter(|e| e["action"] == "approved").count(),
            1,
            "{id}"
        );
        assert_eq!(
            log.iter().filter(|e| e["action"] == "delivered").count(),
            1,
            "{id}"
        );
    }
    for id in &unfinished {
        let log = api.audit(id).await?;
        let takeover = log.iter().any(|e| {
            e["action"] == "drafting_started"
                && e["note"]
                    .as_str()
                    .is_some_and(|n| n.contains("lease ran out"))
        });
        ensure!(
            takeover,
            "{id} was drafted again after its drafter died: {log:?}"
        );
    }

    // The receiver, deduplicating by key, applied every approved reply exactly once.
    let seen = receiver.seen();
    let mut keys: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for delivery in &seen {
        assert_eq!(
            delivery.text, approved[&delivery.message_id],
            "delivered text"
        );
        keys.entry(delivery.message_id.clone())
            .or_default()
            .insert(delivery.key.clone());
    }
    assert_eq!(
        keys.keys().collect::<Vec<_>>(),
        approved.keys().collect::<Vec<_>>(),
        "every approved reply delivered, nothing else"
    );
    for (id, keys) in &keys {
        assert_eq!(keys.len(), 1, "{id} delivered under two keys: {keys:?}");
    }
    // The delivery cut off by the kill was made again, under the same key.
    for key in &cut_off {
        let times = seen.iter().filter(|d| &d.key == key).count();
        ensure!(times >= 1, "{key} missing");
    }
    let redelivered = cut_off
        .iter()
        .any(|key| seen.iter().filter(|d| &d.key == key).count() >= 2);
    ensure!(
        redelivered,
        "the interrupted delivery was repeated with its key"
    );
    drop(serve);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_postgres_share_the_drafting_queue() -> anyhow::Result<()> {
    let Ok(database) = std::env::var("TACT_TEST_DATABASE_URL") else {
        println!(
            "SKIPPED two_servers_on_postgres_share_the_drafting_queue: TACT_TEST_DATABASE_URL is not set"
        );
        eprintln!(
            "SKIPPED two_servers_on_postgres_share_the_drafting_queue: TACT_TEST_DATABASE_URL is not set"
        );
        return Ok(());
    };
    let schema = format!("tact_scale_{}", std::process::id());
    // Each process has its own home (the embedded vector store is one process's); the
    // workflow store is shared.
    // Long leases: a busy machine must not make a live process's job look abandoned.
    let first_home = home(15, None, Some((&database, &schema)))?;
    let second_home = home(15, None, Some((&database, &schema)))?;
    let token = admin_token(first_home.path())?;
    let first = Serve::start(first_home.path(), 1)?;
    let second = Serve::start(second_home.path(), 2)?;
    let api = Api {
        client: reqwest::Client::new(),
        url: first.url.clone(),
        token,
    };
    let ids: Vec<String> = (1..=8).map(|i| format!("pg-{i}")).collect();
    api.submit(&ids).await?;
    wait_for(
        "every message is drafted",
        Duration::from_secs(300),
        || async {
            let messages = api.messages().await?;
            Ok(messages.len() == ids.len()
                && messages
                    .values()
                    .all(|m| !["received", "drafting"].contains(&status(m))))
        },
    )
    .await?;

    // Each message drafted once; both processes did some of it.
    let mut by_worker: BTreeMap<String, usize> = BTreeMap::new();
    for id in &ids {
        let log = api.audit(id).await?;
        let started: Vec<&Value> = log
            .iter()
            .filter(|e| e["action"] == "drafting_started")
            .collect();
        let outcomes: Vec<&Value> = log
            .iter()
            .filter(|e| {
                ["drafts_ready", "escalated", "drafting_failed"]
                    .contains(&e["action"].as_str().unwrap_or_default())
            })
            .collect();
        assert_eq!(started.len(), 1, "{id} claimed once: {log:?}");
        assert_eq!(outcomes.len(), 1, "{id} drafted once: {log:?}");
        assert_eq!(started[0]["actor"], outcomes[0]["actor"]);
        let worker = outcomes[0]["actor"].as_str().unwrap_or_default().to_owned();
        *by_worker.entry(worker).or_default() += 1;
    }
    assert_eq!(by_worker.len(), 2, "both processes drafted: {by_worker:?}");
    for (serve, worker) in [(&first, &by_worker), (&second, &by_worker)] {
        let pid = format!("-{}-", serve.pid());
        ensure!(
            worker.keys().any(|w| w.contains(&pid)),
            "no drafts by process {}: {worker:?}",
            serve.pid()
        );
    }
    drop((first, second));
    let admin = sqlx::PgPool::connect(&database).await?;
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&admin)
        .await?;
    Ok(())
}
