//! `tact check`: run a brand's guideline checks on any text, such as a reviewer's edit before
//! it is approved. Exits non-zero when a block-severity violation fires.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use serde::Serialize;
use tact_core::InboundMessage;
use tact_drafting::{ApprovedEvidence, BrandProfile, CheckContext, Severity, Violation, check};

use crate::config::Config;

const REPLIES_FILE: &str = "replies.jsonl";

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The reply text to check.
    pub text: String,
    /// Brand id (the `id` in its brand.toml) or the name of its folder under the brands directory.
    #[arg(long)]
    pub brand: String,
    /// Channel the reply is for (default: the brand's default channel).
    #[arg(long)]
    pub channel: Option<String>,
    /// The customer's message the text answers: enables the echo check and lets the reply
    /// mention the customer's own details.
    #[arg(long)]
    pub inbound: Option<String>,
    /// The customer's handle or address, with --inbound.
    #[arg(long, default_value = "customer", requires = "inbound")]
    pub author: String,
    /// Print the violations as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
struct CheckOut<'a> {
    brand: &'a str,
    channel: &'a str,
    blocked: bool,
    violations: &'a [Violation],
}

pub fn run(config: &Config, args: CheckArgs) -> anyhow::Result<()> {
    if args.text.trim().is_empty() {
        bail!("the text to check is empty");
    }
    let brands_dir = config.brands_dir();
    let dir = find_brand(&brands_dir, &args.brand)?;
    let profile = BrandProfile::load(&dir)
        .with_context(|| format!("cannot load brand from {}", dir.display()))?;
    let replies = dir.join(REPLIES_FILE);
    let approved = if replies.is_file() {
        let text = std::fs::read_to_string(&replies)
            .with_context(|| format!("cannot read {}", replies.display()))?;
        ApprovedEvidence::from_jsonl(REPLIES_FILE, &text)?
    } else {
        eprintln!(
            "note: {} not found; every link and signature counts as unapproved",
            replies.display()
        );
        ApprovedEvidence::default()
    };
    let channel = args.channel.as_deref().unwrap_or(&profile.default_channel);
    let inbound = args
        .inbound
        .map(|text| {
            InboundMessage::from_json(serde_json::json!({
                "id": "cli",
                "brand": profile.id,
                "channel": channel,
                "author": args.author,
                "text": text,
                "created_at": chrono::Utc::now().to_rfc3339(),
            }))
            .context("--inbound")
        })
        .transpose()?;
    let ctx = CheckContext::new(&profile, channel, inbound.as_ref(), &approved)?;
    let violations = check(&args.text, &ctx);
    let blocked = tact_drafting::blocks(&violations);

    if args.json {
        let out = CheckOut {
            brand: &profile.id,
            channel,
            blocked,
            violations: &violations,
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print_text(&profile, channel, &ctx, &violations);
    }
    if blocked {
        let n = violations
            .iter()
            .filter(|v| v.severity == Severity::Block)
            .count();
        bail!("{n} block-severity violation(s): the text cannot be approved without an override");
    }
    Ok(())
}

fn print_text(profile: &BrandProfile, channel: &str, ctx: &CheckContext<'_>, vs: &[Violation]) {
    println!(
        "{} · {} ({channel}) · {} violation(s)",
        profile.name,
        ctx.channel.label,
        vs.len()
    );
    for v in vs {
        let severity = match v.severity {
            Severity::Block => "BLOCK",
            Severity::Warn => "warn ",
        };
        println!("{severity}  {}: {}", v.rule, v.message);
        println!("       clause: {}", v.clause);
        if !v.excerpt.is_empty() {
            println!("       text:   {:?}", v.excerpt);
        }
    }
}

/// The folder of brand `name`: the one whose brand.toml has `id = "<name>"`. The folder's own
/// name and the brand's display name are accepted as aliases, and said so on stderr, so
/// scripts learn the id that the API and the review page use.
pub(crate) fn find_brand(brands_dir: &Path, name: &str) -> anyhow::Result<PathBuf> {
    let entries = std::fs::read_dir(brands_dir).with_context(|| {
        format!(
            "cannot read the brands directory {} (set brands_dir in the config, or create a \
             brand with `tact brand init`)",
            brands_dir.display()
        )
    })?;
    let mut known = Vec::new();
    let mut alias = None;
    for entry in entries {
        let path = entry?.path();
        let Ok(text) = std::fs::read_to_string(path.join("brand.toml")) else {
            continue;
        };
        let table = toml::from_str::<toml::Table>(&text).ok();
        let key = |k: &str| {
            table
                .as_ref()
                .and_then(|t| t.get(k).and_then(|v| v.as_str()).map(str::to_owned))
        };
        let Some(id) = key("id") else {
            // Unreadable: a folder named like the brand is still the one meant, and loading
            // it names the problem.
            if path.file_name().is_some_and(|f| f == name) {
                return Ok(path);
            }
            continue;
        };
        if id == name {
            return Ok(path);
        }
        let folder = path.file_name().is_some_and(|f| f == name);
        let display = key("name").is_some_and(|n| n.eq_ignore_ascii_case(name));
        if alias.is_none() && (folder || display) {
            let what = if folder { "folder" } else { "name" };
            alias = Some((path.clone(), id.clone(), what));
        }
        known.push(id);
    }
    if let Some((path, id, what)) = alias {
        eprintln!("note: {name:?} is the {what} of brand {id:?}; --brand {id} is its id");
        return Ok(path);
    }
    known.sort();
    bail!(
        "no brand {name:?} under {} (brands found: {})",
        brands_dir.display(),
        if known.is_empty() {
            "none".into()
        } else {
            known.join(", ")
        }
    );
}
