//! `tact brand init NAME`: a brand folder that drafts as it is. It holds a `brand.toml` with
//! the four required keys and every optional one commented out with its default, and one
//! guideline file whose clauses the comments show how to cite.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Subcommand;
use tact_drafting::BrandProfile;

use crate::config::Config;

const BRAND_TOML: &str = include_str!("../../templates/brand/brand.toml");
const VOICE_MD: &str = include_str!("../../templates/brand/voice.md");

#[derive(Debug, Subcommand)]
pub enum BrandCommand {
    /// Create a brand folder under the brands directory, ready to draft with.
    Init {
        /// The brand's id (letters, digits, `-`, `_`); also its folder's name.
        id: String,
        /// The name people see (default: the id, capitalised).
        #[arg(long)]
        name: Option<String>,
    },
}

pub fn run(config: &Config, command: BrandCommand) -> anyhow::Result<()> {
    match command {
        BrandCommand::Init { id, name } => {
            let name = name.unwrap_or_else(|| capitalised(&id));
            let dir = init(&config.brands_dir(), &id, &name)?;
            println!("created {}", dir.display());
            println!("  brand.toml  id, name, voice and guidelines; the rest commented out");
            println!("  voice.md    the guideline clauses drafts cite");
            println!("next: tact draft --brand {id} \"hello\"");
            Ok(())
        }
    }
}

/// Writes the brand folder `<brands_dir>/<id>` and checks that it loads. Refuses an id that
/// is not a plain name and a folder that exists, so nothing of a brand is overwritten.
pub fn init(brands_dir: &Path, id: &str, name: &str) -> anyhow::Result<PathBuf> {
    let valid = !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        bail!("brand id {id:?}: use letters, digits, '-' and '_' only (it names the folder too)");
    }
    if name.trim().is_empty() {
        bail!("--name must not be empty");
    }
    let dir = brands_dir.join(id);
    if dir.exists() {
        bail!("{} already exists; nothing was changed", dir.display());
    }
    let name_toml = toml::Value::String(name.to_owned()).to_string();
    let fill = |template: &str| {
        template
            .replace("{{id}}", id)
            .replace("{{name_toml}}", &name_toml)
            .replace("{{name}}", name)
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let written = std::fs::write(dir.join("brand.toml"), fill(BRAND_TOML))
        .and_then(|()| std::fs::write(dir.join("voice.md"), fill(VOICE_MD)));
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&dir);
        return Err(e).with_context(|| format!("cannot write into {}", dir.display()));
    }
    // The scaffold is tact's own text: a profile that does not load is a bug here, and the
    // folder is removed rather than left half-usable.
    if let Err(e) = BrandProfile::load(&dir) {
        let _ = std::fs::remove_dir_all(&dir);
        return Err(e).context("the scaffolded brand does not load (a bug in tact)");
    }
    Ok(dir)
}

fn capitalised(id: &str) -> String {
    id.split(['-', '_'])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scaffold_loads_with_tacts_safety_defaults() {
        let brands = tempfile::tempdir().unwrap();
        let dir = init(brands.path(), "acme", "Acme \"Rockets\" Inc").unwrap();
        let profile = BrandProfile::load(&dir).unwrap();
        assert_eq!(profile.id, "acme");
        assert_eq!(profile.name, "Acme \"Rockets\" Inc");
        assert_eq!(profile.default_channel, "x");
        assert!(profile.warnings().is_empty(), "{:?}", profile.warnings());
        assert!(
            profile
                .escalation
                .iter()
                .any(|topic| topic.topic == "legal_threat")
        );
        assert!(
            profile
                .guidelines
                .get("voice.md > Keep it calm > 2")
                .is_some()
        );
    }

    #[test]
    fn an_existing_folder_and_a_path_like_id_are_refused() {
        let brands = tempfile::tempdir().unwrap();
        init(brands.path(), "acme", "Acme").unwrap();
        std::fs::write(brands.path().join("acme/voice.md"), "ours").unwrap();
        let err = init(brands.path(), "acme", "Acme").unwrap_err().to_string();
        assert!(err.contains("already exists"), "{err}");
        let ours = std::fs::read_to_string(brands.path().join("acme/voice.md")).unwrap();
        assert_eq!(ours, "ours");
        for id in ["../evil", "a b", ""] {
            let err = init(brands.path(), id, "X").unwrap_err().to_string();
            assert!(err.contains("letters, digits"), "{id:?}: {err}");
        }
    }

    #[test]
    fn the_default_name_is_the_id_capitalised() {
        assert_eq!(capitalised("acme"), "Acme");
        assert_eq!(capitalised("blue-bottle_coffee"), "Blue Bottle Coffee");
    }
}
