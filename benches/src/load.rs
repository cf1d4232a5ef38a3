//! Load on the approval service: a real `tact serve` (the binary next to this one) on loopback
//! and a Rust load generator with N concurrent connections. Reports requests/s, p50 and p99 for
//! listing the review queue and for approvals, then floods the drafting queue with submissions
//! and reports how many were accepted and refused (503 with `Retry-After`), that the server
//! still answers, and its resident memory before, during and after. Run by hand:
//!
//! ```text
//! cargo build --release --workspace
//! cargo run --release -p tact-benches --bin bench-load -- [--connections 32] [--seconds 10]
//! ```
//!
//! The review queue is seeded through the workflow store before the server starts (drafts
//! with synthetic text, so the measured requests do not wait for the model), and the server
//! gets its own temporary home whose model cache links to the real one.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use clap::Parser;
use serde_json::{Value, json};
use tact_core::InboundMessage;
use tact_workflow::{BrandScope, Candidate, Drafts, Role, SqliteStore, Workflow};

const BRAND: &str = "northwind";

#[derive(Debug, Parser)]
struct Args {
    /// Concurrent connections of the load generator.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Seconds each read or approval phase runs.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Messages seeded into the review queue.
    #[arg(long, default_value_t = 2000)]
    seeded: usize,
    /// Page size of the queue listing.
    #[arg(long, default_value_t = 50)]
    page: usize,
    /// Submissions sent while flooding the drafting queue.
    #[arg(long, default_value_t = 2000)]
    flood: usize,
    /// The `tact` binary (default: next to this one).
    #[arg(long)]
    tact: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let tact = match &args.tact {
        Some(path) => path.clone(),
        None => std::env::current_exe()?
            .parent()
            .context("no directory")?
            .join("tact"),
    };
    ensure!(
        tact.is_file(),
        "{} is missing: build the workspace first",
        tact.display()
    );
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(&args, &tact))
}

async fn run(args: &Args, tact: &Path) -> anyhow::Result<()> {
    let home = tempfile::tempdir()?;
    std::os::unix::fs::symlink(
        tact_models::default_home().join("models"),
        home.path().join("models"),
    )?;
    let brands = Path::new(env!("CARGO_MANIFEST_DIR")).join("../brands");
    std::fs::write(
        home.path().join("config.toml"),
        format!("brands_dir = {brands:?}\n[server]\ndrafting_queue = 64\nretry_after_secs = 5\n"),
    )?;
    let (token, approvable) = seed(home.path(), args.seeded).await?;
    let mut server = start(tact, home.path())?;
    let pid = server.child.id();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.connections)
        .build()?;
    let api = Arc::new(Api {
        client,
        url: server.url.clone(),
        token,
    });
    let rss_start = rss_kib(pid)?;
    println!(
        "tact serve (pid {pid}), {} connections, {} s per phase, {} seeded messages",
        args.connections, args.seconds, args.seeded
    );
    println!(
        "{:<34} {:>9} {:>10} {:>9} {:>9} {:>8}",
        "phase", "requests", "req/s", "p50 ms", "p99 ms", "errors"
    );

    let list = format!(
        "/api/v1/messages?brand={BRAND}&status=awaiting_review&limit={}",
        args.page
    );
    let (shared, list) = (api.clone(), list.clone());
    let phase = drive(args, move |_| {
        let api = shared.clone();
        let list = list.clone();
        async move { api.get(&list).await }
    })
    .await;
    phase.print(&format!("GET queue (page of {})", args.page));

    let next = Arc::new(AtomicUsize::new(0));
    let approvable = Arc::new(approvable);
    let shared = api.clone();
    let phase = drive(args, move |_| {
        let api = shared.clone();
        let next = next.clone();
        let approvable = approvable.clone();
        async move {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some((id, version)) = approvable.get(i) else {
                return Ok(Outcome::Exhausted);
            };
            api.post(
                &format!("/api/v1/messages/{id}/approve"),
                json!({"version": version, "candidate": 0}),
            )
            .await
        }
    })
    .await;
    phase.print("POST approve");

    // Flood: every connection submits new messages as fast as it can.
    let sent = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let sampler = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                if let Ok(kib) = rss_kib(pid) {
                    peak.fetch_max(kib, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let flood = args.flood;
    let shared = api.clone();
    let phase = drive(args, move |_| {
        let api = shared.clone();
        let sent = sent.clone();
        async move {
            let i = sent.fetch_add(1, Ordering::Relaxed);
            if i >= flood {
                return Ok(Outcome::Exhausted);
            }
            let message = json!({
                "id": format!("flood-{i}"),
                "brand": BRAND,
                "channel": "x",
                "author": "@flood",
                "text": "Where is my order? It has been two weeks.",
                "created_at": "2026-11-22T09:00:00Z",
            });
            api.post("/api/v1/messages", message).await
        }
    })
    .await;
    phase.print("POST messages (flood)");
    sampler.abort();
    let healthy = api
        .get("/healthz")
        .await
        .map(|o| o == Outcome::Ok)
        .unwrap_or(false);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_after = rss_kib(pid)?;
    println!();
    println!(
        "flood: {} accepted (202), {} refused (503 queue_full, Retry-After on {} of them), {} other errors",
        phase.statuses.get(&202).copied().unwrap_or(0),
        phase.statuses.get(&503).copied().unwrap_or(0),
        phase.retry_after,
        phase.errors - phase.statuses.get(&503).copied().unwrap_or(0),
    );
    println!(
        "server after the flood: /healthz {}; RSS {} MiB at start, {} MiB peak during the flood, {} MiB after",
        if healthy { "ok" } else { "FAILED" },
        rss_start / 1024,
        peak.load(Ordering::Relaxed) / 1024,
        rss_after / 1024
    );
    server.stop()
}

/// Seeds `count` messages awaiting review (and an admin token) into the home's SQLite store.
/// Returns the token and each message's id and version.
async fn seed(home: &Path, count: usize) -> anyhow::Result<(String, Vec<(String, i64)>)> {
    let store = SqliteStore::open(&home.join("workflow")).await?;
    let workflow = Workflow::new(Arc::new(store));
    let token = workflow
        .create_token("bench", Role::Admin, BrandScope::All)
        .await?
        .secret;
    let mut approvable = Vec::with_capacity(count);
    for i in 0..count {
        let inbound = InboundMessage::from_json(json!({
            "id": format!("seed-{i:05}"),
            "brand": BRAND,
            "channel": "x",
            "author": format!("@customer{i}"),
            "text": "Do you ship your Ethiopian roast to Canada?",
            "created_at": "2026-11-22T09:00:00Z",
        }))?;
        let id = inbound.id.clone();
        let m = workflow.submit(&inbound, "bench").await?;
        let m = workflow.start_drafting(&id, m.version, "bench").await?;
        let drafts = Drafts {
            candidates: vec![Candidate {
                text: "Yes, we ship to Canada! Delivery takes 5 to 8 business days.".into(),
                ..Candidate::default()
            }],
            triage: None,
        };
        let m = workflow
            .drafts_ready(&id, m.version, "bench", drafts)
            .await?;
        approvable.push((id, m.version));
    }
    Ok((token, approvable))
}

struct Server {
    child: Child,
    url: String,
}

fn start(tact: &Path, home: &Path) -> anyhow::Result<Server> {
    let mut child = Command::new(tact)
        .args(["serve", "--addr", "127.0.0.1:0"])
        .env("TACT_HOME", home)
        .env_remove("TACT_CONFIG")
        .env("TACT_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let mut lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
    let url = loop {
        let Some(line) = lines.next() else {
            let _ = child.wait();
            bail!("tact serve exited before listening");
        };
        if let Some(url) = line?.strip_prefix("tact is running at ") {
            break url.trim_end_matches('/').to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Ok(Server { child, url })
}

impl Server {
    /// SIGTERM, as an operator would, and wait for the graceful shutdown.
    fn stop(&mut self) -> anyhow::Result<()> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()?;
        ensure!(status.success(), "kill -TERM failed");
        self.child.wait()?;
        Ok(())
    }
}

/// Resident set size of process `pid`, in KiB.
fn rss_kib(pid: u32) -> anyhow::Result<usize> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .context("no VmRSS")?;
    Ok(line.split_whitespace().nth(1).context("VmRSS")?.parse()?)
}

struct Api {
    client: reqwest::Client,
    url: String,
    token: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Ok,
    Status {
        code: u16,
        retry_after: bool,
    },
    /// Nothing left to send.
    Exhausted,
}

impl Api {
    async fn get(&self, path: &str) -> anyhow::Result<Outcome> {
        let response = self
            .client
            .get(format!("{}{path}", self.url))
            .bearer_auth(&self.token)
            .send()
            .await?;
        outcome(response).await
    }

    async fn post(&self, path: &str, body: Value) -> anyhow::Result<Outcome> {
        let response = self
            .client
            .post(format!("{}{path}", self.url))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await?;
        outcome(response).await
    }
}

async fn outcome(response: reqwest::Response) -> anyhow::Result<Outcome> {
    let code = response.status().as_u16();
    let retry_after = response.headers().contains_key("retry-after");
    response.bytes().await?;
    Ok(if (200..300).contains(&code) && code != 202 {
        Outcome::Ok
    } else {
        Outcome::Status { code, retry_after }
    })
}

#[derive(Debug, Default)]
struct Phase {
    latencies: Vec<Duration>,
    elapsed: Duration,
    errors: usize,
    statuses: BTreeMap<u16, usize>,
    retry_after: usize,
}

impl Phase {
    fn print(&self, name: &str) {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let pct = |p: f64| {
            sorted
                .get(((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1)))
                .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        };
        println!(
            "{:<34} {:>9} {:>10.0} {:>9.2} {:>9.2} {:>8}",
            name,
            sorted.len(),
            sorted.len() as f64 / self.elapsed.as_secs_f64(),
            pct(0.50),
            pct(0.99),
            self.errors
        );
    }
}

/// Runs `request` on `args.connections` concurrent connections for `args.seconds` (or until
/// it says there is nothing left) and collects latencies and statuses.
async fn drive<F, Fut>(args: &Args, request: F) -> Phase
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<Outcome>> + Send + 'static,
{
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let request = Arc::new(request);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for connection in 0..args.connections {
        let mut phase = Phase::default();
        let request = request.clone();
        let future_for = move || request(connection);
        // Each connection sends one request at a time.
        tasks.spawn(async move {
            while Instant::now() < deadline {
                let at = Instant::now();
                match future_for().await {
                    Ok(Outcome::Exhausted) => break,
                    Ok(Outcome::Ok) => phase.latencies.push(at.elapsed()),
                    Ok(Outcome::Status { code, retry_after }) => {
                        phase.latencies.push(at.elapsed());
                        *phase.statuses.entry(code).or_default() += 1;
                        if code == 202 {
                            continue;
                        }
                        phase.errors += 1;
                        if retry_after {
                            phase.retry_after += 1;
                        }
                    }
                    Err(_) => phase.errors += 1,
                }
            }
            phase
        });
    }
    let mut total = Phase::default();
    while let Some(Ok(phase)) = tasks.join_next().await {
        total.latencies.extend(phase.latencies);
        total.errors += phase.errors;
        total.retry_after += phase.retry_after;
        for (code, n) in phase.statuses {
            *total.statuses.entry(code).or_default() += n;
        }
    }
    total.elapsed = started.elapsed();
    total
}
