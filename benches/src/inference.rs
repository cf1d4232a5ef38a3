//! Chat-model throughput: load time, prefill and decode tokens/s for a short (~64 token) and a
//! long (~600 token) prompt with 128 new tokens, peak RSS, with and without a concurrent CPU
//! load. Run by hand:
//!
//! ```text
//! cargo run --release -p tact-benches --bin bench-inference -- [--formats q8_0,q4_1] [--load 1]
//! ```
//! Threads: dense products (prefill) use `RAYON_NUM_THREADS` (default: physical cores);
//! quantized products (decode) use `CANDLE_NUM_THREADS` (tact's `engine.decode_threads`,
//! default 1). Run once per setting, e.g. `CANDLE_NUM_THREADS=2 cargo run ...`.

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use tact_core::{ChatMessage, GenerateRequest, SamplingParams, TextGenerator};
use tact_inference::{ChatModel, Engine, EngineConfig, LoadOptions, QuantFormat};
use tact_models::{Manifest, ModelCache, ModelRole};

#[derive(Debug, Parser)]
struct Args {
    /// Weight formats to compare: `q8_0` (tact's default rewrite), `q4_0`, `q4k`, and `q4_1`
    /// (the file as shipped).
    #[arg(long, default_value = "q8_0,q4_1", value_delimiter = ',')]
    formats: Vec<String>,
    /// Also measure with this many busy-looping processes competing for the cores.
    #[arg(long, default_value_t = 1)]
    load: usize,
    #[arg(long, default_value_t = 128)]
    new_tokens: usize,
    /// Repetitions per row (the best is reported).
    #[arg(long, default_value_t = 2)]
    reps: usize,
    #[arg(long)]
    model: Option<PathBuf>,
    /// Dense f32 weights for prefill (tact's default); `--dense-prefill false` for quantized only.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    dense_prefill: bool,
}

const FILLER: &str = "Our community loves the new autumn blend, but a few people wrote in about late deliveries, a billing double charge and an app login loop after the update. ";

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let path = match &args.model {
        Some(p) => p.clone(),
        None => {
            let manifest = Manifest::bundled();
            let entry = manifest
                .default_for(ModelRole::Chat)
                .context("no chat model in the manifest")?;
            let home = tact_models::tact_home();
            let dir = ModelCache::new(home.join("models")).require(entry)?;
            dir.join(&entry.files[0].name)
        }
    };
    println!("model: {}", path.display());
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| "unset".into());
    println!(
        "threads: RAYON_NUM_THREADS={} (prefill), CANDLE_NUM_THREADS={} (decode)",
        var("RAYON_NUM_THREADS"),
        var("CANDLE_NUM_THREADS")
    );
    println!();
    println!(
        "| format | prompt tokens | cpu load | load s | prefill tok/s | decode tok/s | ttft ms |"
    );
    println!("|---|---|---|---|---|---|---|");
    for format in &args.formats {
        let requantize_to = match format.as_str() {
            "q8_0" => Some(QuantFormat::Q8_0),
            "q4_0" => Some(QuantFormat::Q4_0),
            "q4k" => Some(QuantFormat::Q4K),
            "q4_1" | "file" => None,
            other => anyhow::bail!("unknown format {other}"),
        };
        // Load twice: the first may create the cached requantized file; report the second.
        drop(ChatModel::load(
            &path,
            &LoadOptions {
                requantize_to,
                dense_prefill: args.dense_prefill,
                derived_dir: None,
            },
        )?);
        let t = Instant::now();
        let model = ChatModel::load(
            &path,
            &LoadOptions {
                requantize_to,
                dense_prefill: args.dense_prefill,
                derived_dir: None,
            },
        )?;
        let load_s = t.elapsed().as_secs_f64();
        let engine = Engine::start(model, EngineConfig::default())?;
        for busy in [0, args.load] {
            let hogs = spawn_load(busy)?;
            for filler_repeats in [1, 18] {
                let user = format!(
                    "Summarise what customers reported: {}",
                    FILLER.repeat(filler_repeats)
                );
                let messages = vec![
                    ChatMessage::system("You are a helpful community manager."),
                    ChatMessage::user(user),
                ];
                let mut best: Option<(f64, f64, f64, usize)> = None;
                for rep in 0..args.reps {
                    let sampling = SamplingParams {
                        max_new_tokens: args.new_tokens,
                        ignore_eos: true,
                        seed: rep as u64,
                        ..SamplingParams::greedy()
                    };
                    let stream = engine.generate(GenerateRequest {
                        messages: messages.clone(),
                        sampling,
                    })?;
                    let (_, _, stats) = stream.wait_blocking(|_| {})?;
                    let row = (
                        stats.prefill_tokens_per_s(),
                        stats.decode_tokens_per_s(),
                        stats
                            .time_to_first_token
                            .map(|d| d.as_secs_f64() * 1e3)
                            .unwrap_or(f64::NAN),
                        stats.prompt_tokens,
                    );
                    if best.is_none_or(|b| row.1 > b.1) {
                        best = Some(row);
                    }
                }
                let (prefill, decode, ttft, prompt_tokens) = best.context("no repetitions")?;
                println!(
                    "| {format} | {prompt_tokens} | {busy} proc | {load_s:.2} | {prefill:.1} | {decode:.1} | {ttft:.0} |"
                );
            }
            stop_load(hogs);
        }
        engine.shutdown();
    }
    println!();
    println!("peak RSS: {} MiB", peak_rss_kib() / 1024);
    Ok(())
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
