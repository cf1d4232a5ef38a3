//! Chat-model throughput, tact next to llama.cpp on the same GGUF file, the same prompt tokens
//! and the same thread count, in one run: prefill and decode tokens/s and time to the first
//! token for a short (~60 token) and a long (~600 token) prompt, and for 3 and 8 sequences
//! decoded together (aggregate tokens/s), for each chat model of the manifest, with the ratio
//! tact / llama.cpp, plus load time and each engine's peak RSS. Run by hand:
//!
//! ```text
//! bash benches/scripts/install-llama-cpp.sh /tmp/llcpp        # once: llama-cpp-python in a venv
//! CANDLE_NUM_THREADS=2 RAYON_NUM_THREADS=2 cargo run -p tact-benches --bin bench-inference -- \
//!   --llama-cpp /tmp/llcpp/bin/python --new-tokens 64 --reps 1
//! ```
//!
//! Threads: tact's quantized products use `CANDLE_NUM_THREADS` (`engine.decode_threads`,
//! default 1) and its dense products `RAYON_NUM_THREADS`; llama.cpp gets `CANDLE_NUM_THREADS`
//! threads. Prompt reuse is off, so every repetition processes its whole prompt. Without
//! `--llama-cpp` the llama.cpp columns are left empty.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use tact_core::{ChatMessage, GenerateRequest, SamplingParams, TextGenerator};
use tact_inference::{ChatModel, Engine, EngineConfig, LoadOptions, QuantFormat};
use tact_models::{Manifest, ModelCache, ModelRole};

#[derive(Debug, Parser)]
struct Args {
    /// Manifest ids of the chat models to measure (default: every chat model).
    #[arg(long, value_delimiter = ',')]
    models: Vec<String>,
    /// A GGUF file to measure instead of manifest models.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Python interpreter with llama-cpp-python (benches/scripts/install-llama-cpp.sh).
    #[arg(long)]
    llama_cpp: Option<PathBuf>,
    /// Also measure tact with this many busy-looping processes competing for the cores.
    #[arg(long, default_value_t = 0)]
    load: usize,
    #[arg(long, default_value_t = 128)]
    new_tokens: usize,
    /// Repetitions per row (the fastest decode is reported).
    #[arg(long, default_value_t = 2)]
    reps: usize,
    /// Rewrite formats without fast kernels to Q8_0, as tact does by default.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    requantize: bool,
    /// Dense f32 weights for prefill (tact's default for models that fit the budget).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    dense_prefill: bool,
    /// Rows with more sequences decoded together than this are skipped (rows: 1, 3, 8).
    #[arg(long, default_value_t = 8)]
    max_sequences: usize,
}

const FILLER: &str = "Our community loves the new autumn blend, but a few people wrote in about late deliveries, a billing double charge and an app login loop after the update. ";

/// One measurement: `sequences` copies of one prompt decoded together; prefill tok/s over all
/// prompt tokens, aggregate decode tok/s (all sequences' new tokens over the decoding time),
/// time until every sequence had its first token (ms).
#[derive(Debug, Clone, Copy)]
struct Row {
    prompt_tokens: usize,
    sequences: usize,
    prefill: f64,
    decode: f64,
    ttft_ms: f64,
}

/// What each model is measured on: (filler repeats, sequences).
const SHAPES: [(usize, usize); 4] = [(1, 1), (18, 1), (1, 3), (1, 8)];

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let manifest = Manifest::bundled();
    let cache = ModelCache::new(tact_models::tact_home().join("models"));
    let models: Vec<(String, PathBuf)> = match &args.model {
        Some(p) => vec![(p.display().to_string(), p.clone())],
        None => {
            let ids: Vec<String> = if args.models.is_empty() {
                manifest
                    .models
                    .iter()
                    .filter(|m| m.role == ModelRole::Chat)
                    .map(|m| m.id.clone())
                    .collect()
            } else {
                args.models.clone()
            };
            ids.into_iter()
                .map(|id| {
                    let entry = manifest.model(&id)?;
                    let dir = cache.require(entry)?;
                    Ok((id, dir.join(&entry.files[0].name)))
                })
                .collect::<anyhow::Result<_>>()?
        }
    };
    let threads: usize = std::env::var("CANDLE_NUM_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(1);
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| "unset".into());
    println!(
        "threads: CANDLE_NUM_THREADS={} (tact quantized products, llama.cpp threads), RAYON_NUM_THREADS={} (tact dense products); {} new tokens, greedy; sequences > 1: copies of the short prompt decoded together (decode tok/s is their aggregate)",
        var("CANDLE_NUM_THREADS"),
        var("RAYON_NUM_THREADS"),
        args.new_tokens
    );
    println!();
    println!(
        "| model | prompt tokens | sequences | cpu load | tact prefill tok/s | llama.cpp prefill tok/s | prefill ratio | tact decode tok/s | llama.cpp decode tok/s | decode ratio | tact ttft ms | llama.cpp ttft ms |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut footer = Vec::new();
    for (id, path) in &models {
        reset_peak_rss();
        let options = LoadOptions {
            requantize_to: args.requantize.then_some(QuantFormat::Q8_0),
            dense_prefill: args.dense_prefill,
            derived_dir: None,
        };
        // Load twice: the first may create the cached requantized file; report the second.
        drop(ChatModel::load(path, &options)?);
        let t = Instant::now();
        let model = ChatModel::load(path, &options)?;
        let load_s = t.elapsed().as_secs_f64();
        let shapes: Vec<(Vec<ChatMessage>, usize)> = SHAPES
            .iter()
            .filter(|(_, n)| *n <= args.max_sequences)
            .map(|&(repeats, n)| {
                let messages = vec![
                    ChatMessage::system("You are a helpful community manager."),
                    ChatMessage::user(format!(
                        "Summarise what customers reported: {}",
                        FILLER.repeat(repeats)
                    )),
                ];
                (messages, n)
            })
            .collect();
        let tokens: Vec<(Vec<u32>, usize)> = shapes
            .iter()
            .map(|(m, n)| Ok((model.encode_chat(m)?, *n)))
            .collect::<anyhow::Result<_>>()?;
        let engine = Engine::start(
            model,
            EngineConfig {
                prefix_cache_entries: 0,
                max_active: args.max_sequences.max(1),
                ..EngineConfig::default()
            },
        )?;
        let mut tact_rows = Vec::new();
        for busy in std::iter::once(0).chain((args.load > 0).then_some(args.load)) {
            let hogs = spawn_load(busy)?;
            for (messages, n) in &shapes {
                if busy > 0 && *n > 1 {
                    continue;
                }
                tact_rows.push((busy, measure(&engine, messages, *n, &args)?));
            }
            stop_load(hogs);
        }
        engine.shutdown();
        let tact_rss = peak_rss_kib();
        let (llama, llama_rss) = match &args.llama_cpp {
            Some(python) => llama_cpp(python, path, threads, args.new_tokens, &tokens)?,
            None => (Vec::new(), None),
        };
        for (busy, row) in &tact_rows {
            let other = if *busy == 0 {
                llama
                    .iter()
                    .find(|o| o.prompt_tokens == row.prompt_tokens && o.sequences == row.sequences)
            } else {
                None
            };
            let cell = |f: fn(&Row) -> f64| other.map_or("–".into(), |o| format!("{:.1}", f(o)));
            let ratio = |f: fn(&Row) -> f64| {
                other.map_or("–".into(), |o| format!("{:.2}×", f(row) / f(o)))
            };
            println!(
                "| {id} | {} | {} | {busy} proc | {:.1} | {} | {} | {:.1} | {} | {} | {:.0} | {} |",
                row.prompt_tokens,
                row.sequences,
                row.prefill,
                cell(|r| r.prefill),
                ratio(|r| r.prefill),
                row.decode,
                cell(|r| r.decode),
                ratio(|r| r.decode),
                row.ttft_ms,
                other.map_or("–".into(), |o| format!("{:.0}", o.ttft_ms)),
            );
        }
        footer.push(format!(
            "{id}: loaded in {load_s:.2} s; peak RSS tact {} MiB, llama.cpp {}",
            tact_rss / 1024,
            llama_rss.map_or("–".into(), |kib| format!("{} MiB", kib / 1024))
        ));
    }
    println!();
    for line in footer {
        println!("{line}");
    }
    Ok(())
}

/// tact's best of `reps` runs (by decode speed) of `n` copies of one prompt submitted at once.
fn measure(
    engine: &Engine,
    messages: &[ChatMessage],
    n: usize,
    args: &Args,
) -> anyhow::Result<Row> {
    let mut best: Option<Row> = None;
    for rep in 0..args.reps {
        let started = Instant::now();
        let streams = (0..n)
            .map(|i| {
                engine.generate(GenerateRequest {
                    messages: messages.to_vec(),
                    sampling: SamplingParams {
                        max_new_tokens: args.new_tokens,
                        ignore_eos: true,
                        seed: (rep * n + i) as u64,
                        ..SamplingParams::greedy()
                    },
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let stats = streams
            .into_iter()
            .map(|s| Ok(s.wait_blocking(|_| {})?.2))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let wall = started.elapsed().as_secs_f64();
        // The engine thread does one thing at a time: what is not prefill is decoding.
        let prefill: f64 = stats.iter().map(|s| s.prefill.as_secs_f64()).sum();
        let generated: usize = stats.iter().map(|s| s.generated_tokens).sum();
        let row = if n == 1 {
            Row {
                prompt_tokens: stats[0].prompt_tokens,
                sequences: 1,
                prefill: stats[0].prefill_tokens_per_s(),
                decode: stats[0].decode_tokens_per_s(),
                ttft_ms: stats[0]
                    .time_to_first_token
                    .map_or(f64::NAN, |d| d.as_secs_f64() * 1e3),
            }
        } else {
            let prompt_tokens = stats[0].prompt_tokens;
            Row {
                prompt_tokens,
                sequences: n,
                prefill: (prompt_tokens * n) as f64 / prefill,
                decode: generated as f64 / (wall - prefill),
                ttft_ms: stats
                    .iter()
                    .map(|s| {
                        (s.queued + s.time_to_first_token.unwrap_or_default()).as_secs_f64() * 1e3
                    })
                    .fold(0.0, f64::max),
            }
        };
        if best.is_none_or(|b| row.decode > b.decode) {
            best = Some(row);
        }
    }
    best.context("no repetitions")
}

/// Runs `llama_cpp_bench.py` on the same file and prompt tokens: its rows and peak RSS (KiB).
fn llama_cpp(
    python: &Path,
    model: &Path,
    threads: usize,
    new_tokens: usize,
    prompts: &[(Vec<u32>, usize)],
) -> anyhow::Result<(Vec<Row>, Option<u64>)> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("prompts.json");
    let prompts: Vec<serde_json::Value> = prompts
        .iter()
        .map(|(tokens, n)| serde_json::json!({ "tokens": tokens, "sequences": n }))
        .collect();
    std::fs::write(&file, serde_json::to_vec(&prompts)?)?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/llama_cpp_bench.py");
    let output = Command::new(python)
        .arg(script)
        .arg(model)
        .arg(threads.to_string())
        .arg(new_tokens.to_string())
        .arg(&file)
        .output()
        .with_context(|| format!("running {}", python.display()))?;
    if !output.status.success() {
        anyhow::bail!(
            "llama.cpp bench failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let mut rows = Vec::new();
    let mut rss = None;
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(line)?;
        if let Some(kib) = v["peak_rss_kib"].as_u64() {
            rss = Some(kib);
            continue;
        }
        let f = |k: &str| v[k].as_f64().unwrap_or(f64::NAN);
        let prompt_tokens = f("prompt_tokens") as usize;
        let sequences = f("sequences") as usize;
        rows.push(Row {
            prompt_tokens,
            sequences,
            prefill: (prompt_tokens * sequences) as f64 / f("prefill_s"),
            decode: f("new_tokens") * sequences as f64 / f("decode_s"),
            ttft_ms: f("prefill_s") * 1e3,
        });
    }
    Ok((rows, rss))
}

fn spawn_load(n: usize) -> anyhow::Result<Vec<Child>> {
    (0..n)
        .map(|_| {
            Command::new("sh")
                .args(["-c", "while :; do :; done"])
                .spawn()
                .context("spawning a CPU load")
        })
        .collect()
}

fn stop_load(children: Vec<Child>) {
    for mut child in children {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Resets the kernel's peak-RSS mark (VmHWM) of this process, so each model reports its own.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
