//! Chat-model throughput, tact next to llama.cpp on the same GGUF file, the same prompt tokens
//! and the same thread count, in one run: prefill and decode tokens/s and time to the first
//! token for a short (~60 token) and a long (~600 token) prompt, for each chat model of the
//! manifest, with the ratio tact / llama.cpp, plus load time and peak RSS. Run by hand:
//!
//! ```text
//! bash benches/scripts/install-llama-cpp.sh /tmp/llcpp        # once: llama-cpp-python in a venv
//! CANDLE_NUM_THREADS=2 RAYON_NUM_THREADS=2 \
//!   cargo run --release -p tact-benches --bin bench-inference -- --llama-cpp /tmp/llcpp/bin/python
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
}

const FILLER: &str = "Our community loves the new autumn blend, but a few people wrote in about late deliveries, a billing double charge and an app login loop after the update. ";

/// One measurement: prompt tokens, prefill tok/s, decode tok/s, time to first token (ms).
#[derive(Debug, Clone, Copy)]
struct Row {
    prompt_tokens: usize,
    prefill: f64,
    decode: f64,
    ttft_ms: f64,
}

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
        "threads: CANDLE_NUM_THREADS={} (tact quantized products, llama.cpp threads), RAYON_NUM_THREADS={} (tact dense products); {} new tokens, greedy",
        var("CANDLE_NUM_THREADS"),
        var("RAYON_NUM_THREADS"),
        args.new_tokens
    );
    println!();
    println!(
        "| model | prompt tokens | cpu load | tact prefill tok/s | llama.cpp prefill tok/s | prefill ratio | tact decode tok/s | llama.cpp decode tok/s | decode ratio | tact ttft ms | llama.cpp ttft ms |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let mut loads = Vec::new();
    for (id, path) in &models {
        let options = LoadOptions {
            requantize_to: args.requantize.then_some(QuantFormat::Q8_0),
            dense_prefill: args.dense_prefill,
            derived_dir: None,
        };
        // Load twice: the first may create the cached requantized file; report the second.
        drop(ChatModel::load(path, &options)?);
        let t = Instant::now();
        let model = ChatModel::load(path, &options)?;
        loads.push((id.clone(), t.elapsed().as_secs_f64()));
        let prompts: Vec<Vec<ChatMessage>> = [1, 18]
            .iter()
            .map(|&repeats| {
                vec![
                    ChatMessage::system("You are a helpful community manager."),
                    ChatMessage::user(format!(
                        "Summarise what customers reported: {}",
                        FILLER.repeat(repeats)
                    )),
                ]
            })
            .collect();
        let tokens: Vec<Vec<u32>> = prompts
            .iter()
            .map(|m| model.encode_chat(m))
            .collect::<Result<_, _>>()?;
        let engine = Engine::start(
            model,
            EngineConfig {
                prefix_cache_entries: 0,
                ..EngineConfig::default()
            },
        )?;
        let mut tact_rows = Vec::new();
        for busy in std::iter::once(0).chain((args.load > 0).then_some(args.load)) {
            let hogs = spawn_load(busy)?;
            for messages in &prompts {
                tact_rows.push((busy, measure(&engine, messages, &args)?));
            }
            stop_load(hogs);
        }
        engine.shutdown();
        let llama = match &args.llama_cpp {
            Some(python) => llama_cpp(python, path, threads, args.new_tokens, &tokens)?,
            None => Vec::new(),
        };
        for (i, (busy, row)) in tact_rows.iter().enumerate() {
            let other = if *busy == 0 { llama.get(i % 2) } else { None };
            let cell = |f: fn(&Row) -> f64| other.map_or("–".into(), |o| format!("{:.1}", f(o)));
            let ratio = |f: fn(&Row) -> f64| {
                other.map_or("–".into(), |o| format!("{:.2}×", f(row) / f(o)))
            };
            println!(
                "| {id} | {} | {busy} proc | {:.1} | {} | {} | {:.1} | {} | {} | {:.0} | {} |",
                row.prompt_tokens,
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
    }
    println!();
    for (id, seconds) in loads {
        println!("{id}: loaded in {seconds:.2} s");
    }
    println!(
        "peak RSS (tact, all models in turn): {} MiB",
        peak_rss_kib() / 1024
    );
    Ok(())
}

/// tact's best of `reps` runs of one prompt (by decode speed).
fn measure(engine: &Engine, messages: &[ChatMessage], args: &Args) -> anyhow::Result<Row> {
    let mut best: Option<Row> = None;
    for rep in 0..args.reps {
        let sampling = SamplingParams {
            max_new_tokens: args.new_tokens,
            ignore_eos: true,
            seed: rep as u64,
            ..SamplingParams::greedy()
        };
        let stream = engine.generate(GenerateRequest {
            messages: messages.to_vec(),
            sampling,
        })?;
        let (_, _, stats) = stream.wait_blocking(|_| {})?;
        let row = Row {
            prompt_tokens: stats.prompt_tokens,
            prefill: stats.prefill_tokens_per_s(),
            decode: stats.decode_tokens_per_s(),
            ttft_ms: stats
                .time_to_first_token
                .map(|d| d.as_secs_f64() * 1e3)
                .unwrap_or(f64::NAN),
        };
        if best.is_none_or(|b| row.decode > b.decode) {
            best = Some(row);
        }
    }
    best.context("no repetitions")
}

/// Runs `llama_cpp_bench.py` on the same file and prompt tokens.
fn llama_cpp(
    python: &Path,
    model: &Path,
    threads: usize,
    new_tokens: usize,
    prompts: &[Vec<u32>],
) -> anyhow::Result<Vec<Row>> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("prompts.json");
    std::fs::write(&file, serde_json::to_vec(prompts)?)?;
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
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line)?;
            let f = |k: &str| v[k].as_f64().unwrap_or(f64::NAN);
            let prompt_tokens = f("prompt_tokens") as usize;
            Ok(Row {
                prompt_tokens,
                prefill: prompt_tokens as f64 / f("prefill_s"),
                decode: f("new_tokens") / f("decode_s"),
                ttft_ms: f("prefill_s") * 1e3,
            })
        })
        .collect()
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
