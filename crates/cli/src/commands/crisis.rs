//! `tact crisis scan`: find spikes of complaints in a JSONL file of inbound messages and print a
//! crisis summary for each, with a holding statement drafted by the local chat model and run
//! through the brand's guideline checks.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand};
use serde::Serialize;
use tact_core::{InboundMessage, SamplingParams};
use tact_drafting::crisis::{self, CrisisConfig, CrisisRadar, CrisisSummary};
use tact_drafting::{ApprovedEvidence, BrandProfile, CheckContext, Severity};
use tact_models::{Manifest, ModelCache, ModelRole};
use tact_retrieval::SentenceEmbedder;

use super::check::find_brand;
use super::draft::load_engine;
use crate::config::Config;

/// A brand folder's own thresholds, used when `--thresholds` is not given.
const BRAND_THRESHOLDS: &str = "crisis.toml";
const REPLIES_FILE: &str = "replies.jsonl";
/// Enough for a holding statement of an X reply's length.
const STATEMENT_TOKENS: usize = 96;

#[derive(Debug, Subcommand)]
pub enum CrisisCommand {
    /// Detect spikes of complaints in a brand's messages and summarise each.
    Scan(ScanArgs),
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// JSONL file of inbound messages, one
    /// `{"id","brand","channel","author","text","created_at"}` object a line (`-`: stdin).
    pub messages: PathBuf,
    /// Brand id (the `id` in its brand.toml) or the name of its folder under the brands
    /// directory. Messages of other brands are ignored.
    #[arg(long)]
    pub brand: String,
    /// Thresholds as TOML (the keys of the crisis config; see brands/demo/crisis.toml).
    /// Default: the brand folder's crisis.toml when present, else built-in defaults.
    #[arg(long)]
    pub thresholds: Option<PathBuf>,
    /// Channel the holding statement is drafted and checked for (default: the brand's
    /// default channel).
    #[arg(long)]
    pub channel: Option<String>,
    /// Do not draft holding statements (no chat model is loaded).
    #[arg(long)]
    pub no_statement: bool,
    /// Print the summaries as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
struct ScanOut<'a> {
    brand: &'a str,
    /// Messages of this brand that were scanned.
    scanned: usize,
    /// Messages of other brands in the file, ignored.
    other_brands: usize,
    spikes: &'a [CrisisSummary],
}

pub fn run(config: &Config, command: CrisisCommand) -> anyhow::Result<()> {
    match command {
        CrisisCommand::Scan(args) => scan(config, args),
    }
}

fn scan(config: &Config, args: ScanArgs) -> anyhow::Result<()> {
    let dir = find_brand(&config.brands_dir(), &args.brand)?;
    let profile = BrandProfile::load(&dir)
        .with_context(|| format!("cannot load brand from {}", dir.display()))?;
    let stream = read_messages(&args.messages)?;
    let scanned = stream.iter().filter(|m| m.brand == profile.id).count();
    let thresholds = load_thresholds(args.thresholds.as_deref(), &dir)?;
    let channel = args.channel.as_deref().unwrap_or(&profile.default_channel);
    let approved = approved_evidence(&dir)?;
    // Fail on a wrong channel before any model loads.
    let ctx = CheckContext::new(&profile, channel, None, &approved)?;

    let embedder = load_embedder(config)?;
    let sentiment = crisis::train_sentiment(&embedder)?;
    let radar = CrisisRadar::new(thresholds, &embedder, &sentiment)?;
    let mut spikes = radar.scan(&profile.id, &stream)?;

    if !spikes.is_empty() && !args.no_statement {
        let (engine, _) = load_engine(config, 1)
            .context("the holding statement needs the chat model (or pass --no-statement)")?;
        let sampling = SamplingParams {
            max_new_tokens: STATEMENT_TOKENS,
            ..SamplingParams::greedy()
        };
        for spike in &mut spikes {
            let statement = crisis::holding_statement(spike, &engine, &ctx, sampling.clone())?;
            spike.holding_statement = Some(statement);
        }
        engine.shutdown();
    }

    if args.json {
        let out = ScanOut {
            brand: &profile.id,
            scanned,
            other_brands: stream.len() - scanned,
            spikes: &spikes,
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print_text(&profile, scanned, stream.len() - scanned, &spikes);
    }
    Ok(())
}

/// Every line of a JSONL file as an inbound message; a bad line is an error naming its number
/// and the field that is wrong.
fn read_messages(path: &Path) -> anyhow::Result<Vec<InboundMessage>> {
    let (name, text) = if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read messages from standard input")?;
        ("stdin".to_owned(), text)
    } else {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        (path.display().to_string(), text)
    };
    parse_messages(&name, &text)
}

fn parse_messages(name: &str, text: &str) -> anyhow::Result<Vec<InboundMessage>> {
    let mut messages = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value = serde_json::from_str(line)
            .with_context(|| format!("{name} line {}: not valid JSON", i + 1))?;
        let message =
            InboundMessage::from_json(value).with_context(|| format!("{name} line {}", i + 1))?;
        messages.push(message);
    }
    Ok(messages)
}

fn load_thresholds(path: Option<&Path>, brand_dir: &Path) -> anyhow::Result<CrisisConfig> {
    let path = match path {
        Some(path) => path.to_owned(),
        None => {
            let own = brand_dir.join(BRAND_THRESHOLDS);
            if !own.is_file() {
                return Ok(CrisisConfig::default());
            }
            own
        }
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(CrisisConfig::from_toml(&path.display().to_string(), &text)?)
}

fn approved_evidence(brand_dir: &Path) -> anyhow::Result<ApprovedEvidence> {
    let replies = brand_dir.join(REPLIES_FILE);
    if !replies.is_file() {
        return Ok(ApprovedEvidence::default());
    }
    let text = std::fs::read_to_string(&replies)
        .with_context(|| format!("cannot read {}", replies.display()))?;
    Ok(ApprovedEvidence::from_jsonl(REPLIES_FILE, &text)?)
}

fn load_embedder(config: &Config) -> anyhow::Result<SentenceEmbedder> {
    let manifest = Manifest::bundled();
    let entry = manifest
        .default_for(ModelRole::Embedding)
        .context("the model manifest has no embedding model")?;
    let dir = ModelCache::new(config.models_dir())
        .require(entry)
        .with_context(|| {
            format!(
                "the embedding model is missing; run `tact models fetch --model {}`",
                entry.id
            )
        })?;
    Ok(SentenceEmbedder::load(&dir)?)
}

fn print_text(profile: &BrandProfile, scanned: usize, others: usize, spikes: &[CrisisSummary]) {
    let ignored = match others {
        0 => String::new(),
        n => format!(" ({n} of other brands ignored)"),
    };
    println!(
        "{} · {scanned} messages scanned{ignored} · {} spike(s)",
        profile.name,
        spikes.len()
    );
    for (n, s) in spikes.iter().enumerate() {
        println!("\nSPIKE {}: {}", n + 1, s.label);
        println!("  since:     {} (last {})", s.since, s.until);
        println!(
            "  messages:  {}, {} negative ({:.0}%); peak {} in {} min",
            s.messages,
            s.negative,
            100.0 * s.negative as f64 / s.messages.max(1) as f64,
            s.peak_window,
            s.window_minutes
        );
        let baseline_share = s
            .baseline_negative_share
            .map_or("no history".to_owned(), |x| {
                format!("{:.0}% negative", 100.0 * x)
            });
        println!(
            "  baseline:  {:.1} of this topic per window; brand {baseline_share}",
            s.baseline_per_window
        );
        println!("  keywords:  {}", s.keywords.join(", "));
        if let Some(p) = &s.affected {
            println!("  affected:  {} (named in {} messages)", p.name, p.mentions);
        }
        println!("  quotes:");
        for q in &s.quotes {
            println!("    [{}] {} on {}: {:?}", q.id, q.author, q.channel, q.text);
        }
        if let Some(h) = &s.holding_statement {
            let state = if h.blocked { "BLOCKED" } else { "ok" };
            println!(
                "  holding statement ({}, {state}, drafted by the model):",
                h.channel
            );
            println!("    {}", h.text);
            for v in &h.violations {
                let severity = match v.severity {
                    Severity::Block => "BLOCK",
                    Severity::Warn => "warn ",
                };
                println!("    {severity} {}: {} ({})", v.rule, v.message, v.clause);
            }
        }
        println!("  ids:       {}", s.message_ids.join(" "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_lines_name_their_number_and_field() {
        let good = r#"{"id":"1","brand":"b","channel":"x","author":"@a","text":"hi","created_at":"2026-03-01T09:00:00Z"}"#;
        let missing = good.replace(r#""author":"@a","#, "");
        let err = parse_messages("m.jsonl", &format!("{good}\n\n{missing}\n")).unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            "m.jsonl line 3: missing required field `author`"
        );
        let late = good.replace("2026-03-01T09:00:00Z", "yesterday");
        let err = parse_messages("m.jsonl", &late).unwrap_err();
        assert!(format!("{err:#}").starts_with("m.jsonl line 1: field `created_at`"));
        let err = parse_messages("m.jsonl", &format!("{good}\n{{oops")).unwrap_err();
        assert!(format!("{err:#}").starts_with("m.jsonl line 2: not valid JSON"));
        assert_eq!(parse_messages("m.jsonl", good).unwrap()[0].author, "@a");
    }
}
