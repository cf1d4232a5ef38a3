//! `tact draft`: replies to a customer's message from the local chat model. With `--brand` the
//! draft is grounded in the brand's guidelines and past replies, checked, cited and ranked
//! ([`super::grounded`]); without it, replies are streamed from a plain system prompt.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use serde::Serialize;
use tact_core::{
    ChatMessage, FinishReason, GenerateRequest, GenerationStats, SamplingParams, TextGenerator,
};
use tact_inference::{ChatModel, Engine, EngineConfig, LoadOptions, QuantFormat};
use tact_models::{Manifest, ModelCache};

use crate::commands::check::find_brand;
use crate::config::Config;

const SYSTEM_TEMPLATE: &str = include_str!("../../../../prompts/draft_system.md.j2");
const DEMO_MESSAGE: &str = "Hi! My order arrived yesterday but the mug was cracked. Can you help?";
/// The demo brand's folder under the brands directory, and a message for it.
/// The demo brand's folder under the brands directory, and its id.
const DEMO_BRAND: &str = "demo";
const DEMO_BRAND_ID: &str = "northwind";
const DEMO_BRAND_MESSAGE: &str =
    "Hi! My order arrived yesterday but the bag of beans was split open. Can you help?";

#[derive(Debug, Args)]
pub struct DraftArgs {
    /// The customer's message (`-` reads it from standard input).
    pub message: String,
    /// Brand id or folder under the brands directory: grounds the draft in its guidelines and
    /// past replies. Without it, the reply is drafted from a plain prompt.
    #[arg(long)]
    pub brand: Option<String>,
    /// Channel to reply on (default: the brand's default channel).
    #[arg(long)]
    pub channel: Option<String>,
    /// The customer's name or handle (with --brand).
    #[arg(long, default_value = "customer")]
    pub author: String,
    /// An earlier message of the conversation, "author: text", oldest first (with --brand;
    /// repeat for more).
    #[arg(long, value_name = "AUTHOR: TEXT")]
    pub thread: Vec<String>,
    /// Number of candidate replies.
    #[arg(short = 'n', long)]
    pub candidates: Option<usize>,
    /// Sampling seed (candidate i uses seed + i).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Greedy (deterministic) decoding instead of sampling.
    #[arg(long)]
    pub greedy: bool,
    #[arg(long)]
    pub max_tokens: Option<usize>,
    /// Print the candidates and timings as JSON instead of streaming text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
struct CandidateOut {
    text: String,
    finish: FinishReason,
    seed: u64,
    temperature: f64,
    prompt_tokens: usize,
    generated_tokens: usize,
    time_to_first_token_ms: Option<f64>,
    prefill_tokens_per_s: f64,
    decode_tokens_per_s: f64,
}

#[derive(Debug, Serialize)]
struct DraftOut {
    model: String,
    load_ms: f64,
    total_ms: f64,
    candidates: Vec<CandidateOut>,
}

pub fn run(config: &Config, args: DraftArgs) -> anyhow::Result<()> {
    let message = read_message(&args.message, config.draft.max_message_bytes)?;
    let message = message.trim();
    if message.is_empty() {
        bail!("the message is empty");
    }
    if message.len() > config.draft.max_message_bytes {
        bail!(
            "the message is {} bytes; the limit is {} bytes (draft.max_message_bytes)",
            message.len(),
            config.draft.max_message_bytes
        );
    }
    let candidates = args.candidates.unwrap_or(config.draft.candidates);
    if candidates == 0 || candidates > 8 {
        bail!("-n must be between 1 and 8, got {candidates}");
    }
    if let Some(brand) = &args.brand {
        let dir = find_brand(&config.brands_dir(), brand)?;
        return super::grounded::run(config, &args, message, &dir, candidates);
    }
    let brand = config.draft.brand.clone();
    let channel = args
        .channel
        .clone()
        .unwrap_or_else(|| config.draft.channel.clone());

    let started = std::time::Instant::now();
    let (engine, model_path) = load_engine(config, candidates)?;
    let load_ms = started.elapsed().as_secs_f64() * 1e3;

    let system = render_system(&brand, &channel, config.draft.max_chars)?;
    let messages = vec![ChatMessage::system(system), ChatMessage::user(message)];
    let streams = (0..candidates)
        .map(|i| {
            let sampling = sampling_for(config, &args, i);
            let temperature = sampling.temperature;
            let seed = sampling.seed;
            engine
                .generate(GenerateRequest {
                    messages: messages.clone(),
                    sampling,
                })
                .map(|s| (s, seed, temperature))
        })
        .collect::<Result<Vec<_>, _>>()?;

    let mut out = Vec::new();
    let stdout = std::io::stdout();
    for (i, (stream, seed, temperature)) in streams.into_iter().enumerate() {
        if !args.json && candidates > 1 {
            println!("--- candidate {} ---", i + 1);
        }
        let (text, finish, stats) = stream.wait_blocking(|delta| {
            if !args.json {
                let mut lock = stdout.lock();
                let _ = lock.write_all(delta.as_bytes());
                let _ = lock.flush();
            }
        })?;
        if !args.json {
            println!();
        }
        out.push(candidate_out(text, finish, seed, temperature, &stats));
    }
    let total_ms = started.elapsed().as_secs_f64() * 1e3;
    if args.json {
        let report = DraftOut {
            model: model_path.display().to_string(),
            load_ms,
            total_ms,
            candidates: out,
        };
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else if let Some(first) = out.first() {
        eprintln!(
            "[{} prompt tokens, {} generated; prefill {:.0} tok/s, decode {:.0} tok/s; load {:.0} ms, total {:.0} ms]",
            first.prompt_tokens,
            first.generated_tokens,
            first.prefill_tokens_per_s,
            first.decode_tokens_per_s,
            load_ms,
            total_ms
        );
    }
    engine.shutdown();
    Ok(())
}

/// Loads the configured chat model (`--model` sets it) and starts the engine.
pub(crate) fn load_engine(config: &Config, candidates: usize) -> anyhow::Result<(Engine, PathBuf)> {
    let model_path = chat_model_path(config)?;
    let engine = start_engine(config, &model_path, candidates)?;
    Ok((engine, model_path))
}

/// Loads the GGUF file at `model_path` as configured and starts its engine, with room in the
/// queue for at least `queued` generations.
pub(crate) fn start_engine(
    config: &Config,
    model_path: &std::path::Path,
    queued: usize,
) -> anyhow::Result<Engine> {
    let model = ChatModel::load(
        model_path,
        &LoadOptions {
            requantize_to: config.model.requantize.then_some(QuantFormat::Q8_0),
            dense_prefill: config.model.dense_prefill,
            derived_dir: None,
        },
    )
    .with_context(|| format!("cannot load the chat model {}", model_path.display()))?;
    Ok(Engine::start(
        model,
        EngineConfig {
            queue_capacity: config.engine.queue_capacity.max(queued),
            max_active: config.engine.max_active,
            prefix_cache_bytes: config.engine.prompt_cache_mib.saturating_mul(1 << 20),
            ..EngineConfig::default()
        },
    )?)
}

/// The message argument, or standard input for `-` (read up to one byte past the limit, so
/// an oversized input is reported with its size without being held in memory whole).
fn read_message(arg: &str, limit: usize) -> anyhow::Result<String> {
    if arg != "-" {
        return Ok(arg.to_owned());
    }
    use std::io::Read;
    let mut bytes = Vec::new();
    let read = std::io::stdin()
        .lock()
        .take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .context("cannot read the message from standard input")?;
    if read > limit {
        let rest = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink()).unwrap_or(0);
        bail!(
            "the message is {} bytes; the limit is {limit} bytes (draft.max_message_bytes)",
            read as u64 + rest
        );
    }
    String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "the message is not valid UTF-8 (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}

/// `tact demo`: what the README's run command does for now.
pub fn demo(config: &Config) -> anyhow::Result<()> {
    crate::wiring::ensure_models(config)?;
    let grounded = config
        .brands_dir()
        .join(DEMO_BRAND)
        .join("brand.toml")
        .is_file();
    let message = if grounded {
        DEMO_BRAND_MESSAGE
    } else {
        DEMO_MESSAGE
    };
    println!("customer: {message}");
    if !grounded {
        println!("reply:");
    }
    let args = DraftArgs {
        message: message.into(),
        brand: grounded.then(|| DEMO_BRAND_ID.into()),
        channel: None,
        author: "Sam".into(),
        thread: Vec::new(),
        candidates: Some(if grounded { 3 } else { 1 }),
        seed: 42,
        greedy: false,
        max_tokens: None,
        json: false,
    };
    run(config, args)
}

fn sampling_for(config: &Config, args: &DraftArgs, index: usize) -> SamplingParams {
    let max_new_tokens = args.max_tokens.unwrap_or(config.draft.max_new_tokens);
    if args.greedy {
        return SamplingParams {
            max_new_tokens,
            repeat_penalty: config.draft.repeat_penalty as f32,
            ..SamplingParams::greedy()
        };
    }
    // Vary temperature a little across candidates so they differ in more than the seed.
    let temperature = config.draft.temperature + 0.1 * index as f64;
    SamplingParams {
        temperature,
        top_k: Some(config.draft.top_k),
        top_p: Some(config.draft.top_p),
        repeat_penalty: config.draft.repeat_penalty as f32,
        seed: args.seed + index as u64,
        max_new_tokens,
        ..SamplingParams::default()
    }
}

fn candidate_out(
    text: String,
    finish: FinishReason,
    seed: u64,
    temperature: f64,
    stats: &GenerationStats,
) -> CandidateOut {
    CandidateOut {
        text,
        finish,
        seed,
        temperature,
        prompt_tokens: stats.prompt_tokens,
        generated_tokens: stats.generated_tokens,
        time_to_first_token_ms: stats.time_to_first_token.map(|d| d.as_secs_f64() * 1e3),
        prefill_tokens_per_s: stats.prefill_tokens_per_s(),
        decode_tokens_per_s: stats.decode_tokens_per_s(),
    }
}

pub(crate) fn chat_model_path(config: &Config) -> anyhow::Result<PathBuf> {
    if let Some(path) = &config.model.chat_path {
        return Ok(path.clone());
    }
    let manifest = Manifest::bundled();
    let entry = manifest.model(&config.model.chat)?;
    let cache = ModelCache::new(config.models_dir());
    let dir = cache.require(entry)?;
    Ok(dir.join(&entry.files[0].name))
}

fn render_system(brand: &str, channel: &str, max_chars: usize) -> anyhow::Result<String> {
    let mut env = minijinja::Environment::new();
    env.add_template("system", SYSTEM_TEMPLATE)?;
    Ok(env
        .get_template("system")?
        .render(minijinja::context! { brand, channel, max_chars })?
        .trim()
        .to_owned())
}
