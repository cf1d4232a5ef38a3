//! `tact`: the command-line entry point. Reads configuration, installs logging, picks concrete
//! backends and hands off to the library crates.

mod commands;
mod config;
mod wiring;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "tact",
    version,
    about = "Draft brand replies with a local model; a human approves every one"
)]
struct Cli {
    /// Configuration file (default: $TACT_HOME/config.toml when present).
    #[arg(long, global = true, env = "TACT_CONFIG")]
    config: Option<PathBuf>,
    /// Chat model for this command: a manifest id (`tact models list`) or a GGUF file.
    /// Overrides `model.chat`, and an eval suite's own model.
    #[arg(long, global = true, value_name = "ID|FILE")]
    model: Option<String>,
    /// Log more (-v: debug, -vv: trace). Logs go to stderr.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Manage the local model cache.
    Models {
        #[command(subcommand)]
        command: commands::models::ModelsCommand,
    },
    /// Create a brand folder (`tact brand init acme`).
    Brand {
        #[command(subcommand)]
        command: commands::brand::BrandCommand,
    },
    /// Draft a reply to a customer's message.
    Draft(commands::draft::DraftArgs),
    /// Fetch the models if needed and draft a reply to a sample message.
    Demo,
    /// Run a brand's guideline checks on a reply (exits non-zero on a blocking violation).
    Check(commands::check::CheckArgs),
    /// Add guidelines or past replies to a brand's knowledge base.
    Ingest {
        #[command(subcommand)]
        command: commands::knowledge::IngestCommand,
    },
    /// Search a brand's knowledge base.
    Search(commands::knowledge::SearchArgs),
    /// Find spikes of complaints in a message stream and summarise them.
    Crisis {
        #[command(subcommand)]
        command: commands::crisis::CrisisCommand,
    },
    /// Run the approval service: the HTTP API, drafting, delivery and the review page.
    Serve(commands::serve::ServeArgs),
    /// Draft from the workflow store's queue without serving HTTP (scale-out).
    Worker(commands::worker::WorkerArgs),
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: commands::serve::TokenCommand,
    },
    /// Run eval suites against the drafting pipeline, or import edited approvals as cases.
    Eval {
        #[command(subcommand)]
        command: commands::eval::EvalCommand,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", one_line(&err));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let mut config = config::Config::load(cli.config.as_deref())?;
    if let Some(model) = &cli.model {
        config.choose_chat_model(model)?;
    }
    set_decode_threads(config.engine.decode_threads);
    match cli.command {
        Command::Models { command } => commands::models::run(&config, command),
        Command::Brand { command } => commands::brand::run(&config, command),
        Command::Draft(args) => commands::draft::run(&config, args),
        Command::Demo => commands::draft::demo(&config),
        Command::Check(args) => commands::check::run(&config, args),
        Command::Ingest { command } => commands::knowledge::ingest(&config, command),
        Command::Search(args) => commands::knowledge::search(&config, args),
        Command::Crisis { command } => commands::crisis::run(&config, command),
        Command::Eval { command } => commands::eval::run(&config, command),
        Command::Serve(args) => commands::serve::run(&config, args),
        Command::Token { command } => commands::serve::token(&config, command),
        Command::Worker(args) => commands::worker::run(&config, args),
    }
}

/// candle sizes its quantized-kernel worker pool from `CANDLE_NUM_THREADS` when the pool is
/// first used and offers no other way to set it. An explicit environment setting wins.
#[allow(unsafe_code)]
fn set_decode_threads(threads: usize) {
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        // SAFETY: called from `main` before tact starts any thread (config loading and logging
        // set-up are single-threaded), so nothing reads the environment concurrently.
        unsafe { std::env::set_var("CANDLE_NUM_THREADS", threads.to_string()) };
    }
}

/// An error and its causes on one line, without repeating a cause that a message already
/// contains.
fn one_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line.replace('\n', " ")
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        // qdrant-edge warns about process-wide flags it cannot be given from outside.
        0 => "warn,qdrant_edge=error",
        1 => "info,tact=debug",
        _ => "debug,tact=trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("TACT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
