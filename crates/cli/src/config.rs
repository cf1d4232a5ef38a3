//! tact's configuration: built-in defaults, then a TOML file, then `TACT__SECTION__KEY`
//! environment variables, then command-line flags.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

/// The whole configuration tree. Every key is documented in `tact.example.toml`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where tact keeps models and data; `$TACT_HOME`, default `<user cache dir>/tact`.
    pub home: Option<PathBuf>,
    /// Where brand folders (brand.toml, guidelines, replies.jsonl) live; default `brands` in
    /// the current directory when it has one, else `$TACT_HOME/brands` (see `brands_dir()`).
    pub brands_dir: Option<PathBuf>,
    pub model: ModelConfig,
    pub engine: EngineSection,
    pub draft: DraftConfig,
    pub store: StoreConfig,
    pub workflow: WorkflowConfig,
    pub server: tact_server::ServerConfig,
    pub service: tact_service::ServiceConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    /// Manifest id of the chat model.
    pub chat: String,
    /// A GGUF file to use instead of the manifest's chat model.
    pub chat_path: Option<PathBuf>,
    /// The chat model was named on the command line (`--model`): it wins over an eval
    /// suite's own choice.
    #[serde(skip)]
    pub from_command_line: bool,
    /// Rewrite slow quantisation formats (Q4_1, Q5_x) to Q8_0 once, for fast CPU kernels.
    pub requantize: bool,
    /// Keep dense f32 copies of the weights for prompt processing (faster prefill, more memory).
    pub dense_prefill: bool,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            // The manifest's default ([defaults] in models/models.toml).
            chat: tact_models::Manifest::bundled()
                .default_for(tact_models::ModelRole::Chat)
                .map(|m| m.id.clone())
                .unwrap_or_default(),
            chat_path: None,
            from_command_line: false,
            requantize: true,
            dense_prefill: true,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineSection {
    pub queue_capacity: usize,
    pub max_active: usize,
    /// Threads for quantized matrix-vector products (decoding). candle's worker pool waits
    /// for its threads by spinning, so when another process holds a core decode speed
    /// collapses (measured: 12 tokens/s with 2 threads vs 28 with 1 under a busy machine).
    /// 1 degrades gracefully on a shared machine; raise it on dedicated cores.
    pub decode_threads: usize,
    /// MiB of attention state kept for prompt reuse (the same prompt again, or the brand part
    /// of the system prompt shared by every message of a brand and channel); 0 turns it off.
    pub prompt_cache_mib: usize,
}

impl Default for EngineSection {
    fn default() -> Self {
        let d = tact_inference::EngineConfig::default();
        Self {
            queue_capacity: d.queue_capacity,
            max_active: d.max_active,
            decode_threads: 1,
            prompt_cache_mib: d.prefix_cache_bytes >> 20,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DraftConfig {
    pub candidates: usize,
    pub max_new_tokens: usize,
    pub temperature: f64,
    pub top_p: f64,
    pub top_k: usize,
    pub repeat_penalty: f64,
    /// Messages longer than this many bytes are refused.
    pub max_message_bytes: usize,
    pub brand: String,
    pub channel: String,
    /// Characters a reply may have when the channel sets no limit.
    pub max_chars: usize,
}

impl Default for DraftConfig {
    /// Sampling defaults are the drafter's ([`tact_drafting::DraftOptions`]): one source.
    fn default() -> Self {
        let d = tact_drafting::DraftOptions::default();
        Self {
            candidates: d.candidates,
            max_new_tokens: d.max_new_tokens,
            temperature: d.temperature,
            top_p: d.top_p,
            top_k: d.top_k,
            // Through its shortest decimal form: 1.15f32 is 1.1499999761581421 as an f64.
            repeat_penalty: d.repeat_penalty.to_string().parse().unwrap_or(1.15),
            max_message_bytes: 16 * 1024,
            brand: "our brand".into(),
            channel: "social media".into(),
            max_chars: 500,
        }
    }
}

/// Where the knowledge base lives: embedded Qdrant under `<home>/store`, or a Qdrant server.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// gRPC URL of a Qdrant server (e.g. `http://localhost:6334`); unset: embedded store.
    pub url: Option<String>,
    pub api_key: Option<String>,
    /// Prepended to the server collection's name.
    pub collection_prefix: String,
    /// `dense` or `hybrid` (dense + BM25 keywords, reciprocal rank fusion).
    pub retrieval: tact_retrieval::RetrievalMode,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            url: None,
            api_key: None,
            collection_prefix: "tact_".into(),
            retrieval: tact_retrieval::RetrievalMode::default(),
        }
    }
}

/// The review workflow's store: SQLite in `<home>/workflow/workflow.sqlite3` unless a
/// PostgreSQL URL is set.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkflowConfig {
    /// `postgres://user@host/db`; unset: the embedded SQLite store.
    pub database_url: Option<String>,
    /// PostgreSQL schema for tact's tables; unset: the connection's default.
    pub schema: Option<String>,
}

impl Config {
    /// `--model`: a manifest id, or the path of a GGUF file.
    pub fn choose_chat_model(&mut self, model: &str) -> anyhow::Result<()> {
        let manifest = tact_models::Manifest::bundled();
        let path = Path::new(model);
        if manifest.model(model).is_ok() {
            self.model.chat = model.to_owned();
            self.model.chat_path = None;
        } else if path.is_file() {
            self.model.chat_path = Some(path.to_owned());
        } else {
            let ids: Vec<&str> = manifest
                .models_for(tact_models::ModelRole::Chat)
                .map(|m| m.id.as_str())
                .collect();
            anyhow::bail!(
                "--model {model}: not found: neither a file nor a chat model of the manifest ({})",
                ids.join(", ")
            );
        }
        self.model.from_command_line = true;
        Ok(())
    }

    /// Loads defaults, then `file` (or `$TACT_HOME/config.toml` when it exists), then
    /// `TACT__SECTION__KEY` variables.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut tree = toml::Table::try_from(Config::default())?;
        let home = tact_models::tact_home();
        let implicit = home.join("config.toml");
        let path = file
            .map(Path::to_path_buf)
            .or_else(|| implicit.is_file().then_some(implicit));
        if let Some(path) = &path {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read config file {}", path.display()))?;
            let overlay: toml::Table = toml::from_str(&text)
                .with_context(|| format!("config file {} is not valid TOML", path.display()))?;
            merge(&mut tree, overlay);
        }
        for (key, value) in std::env::vars() {
            if let Some(rest) = key.strip_prefix("TACT__") {
                set_path(&mut tree, rest, &value)
                    .with_context(|| format!("environment variable {key}"))?;
            }
        }
        move_service_keys(&mut tree);
        let mut config: Config = tree.try_into().context("invalid configuration")?;
        config.home.get_or_insert(home);
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> anyhow::Result<()> {
        if self.engine.queue_capacity == 0 {
            bail!("engine.queue_capacity must be at least 1");
        }
        if self.engine.decode_threads == 0 {
            bail!("engine.decode_threads must be at least 1");
        }
        if self.engine.max_active == 0 {
            bail!("engine.max_active must be at least 1");
        }
        if self.draft.candidates == 0 || self.draft.candidates > 8 {
            bail!("draft.candidates must be between 1 and 8");
        }
        self.server.validate()?;
        self.service.validate()?;
        if self.draft.max_new_tokens == 0 {
            bail!("draft.max_new_tokens must be at least 1");
        }
        Ok(())
    }

    pub fn home(&self) -> PathBuf {
        self.home.clone().unwrap_or_else(tact_models::default_home)
    }

    /// `brands_dir` when set; otherwise `brands` in the current directory when there is one
    /// (a checkout of this repository, with the demo brand), else `$TACT_HOME/brands`. Every
    /// command (draft, check, demo, serve, brand init) follows this one rule.
    pub fn brands_dir(&self) -> PathBuf {
        if let Some(dir) = &self.brands_dir {
            return dir.clone();
        }
        let local = PathBuf::from("brands");
        if local.is_dir() {
            local
        } else {
            self.home().join("brands")
        }
    }

    pub fn models_dir(&self) -> PathBuf {
        self.home().join("models")
    }

    /// Where the SQLite workflow store lives when no `workflow.database_url` is set.
    pub fn workflow_dir(&self) -> PathBuf {
        self.home().join("workflow")
    }
}

/// The drafting queue, delivery and webhook keys were `[server]`'s before the service had a
/// section of its own: found there (in a file or a `TACT__SERVER__*` variable), they are
/// moved to `[service]`, with a warning naming the new place.
fn move_service_keys(tree: &mut toml::Table) {
    let Some(toml::Value::Table(server)) = tree.get_mut("server") else {
        return;
    };
    let moved: Vec<(String, toml::Value)> = tact_service::ServiceConfig::KEYS
        .iter()
        .filter_map(|key| server.remove(*key).map(|v| ((*key).to_owned(), v)))
        .collect();
    if moved.is_empty() {
        return;
    }
    let service = tree
        .entry("service")
        .or_insert_with(|| toml::Value::Table(Default::default()));
    let Some(service) = service.as_table_mut() else {
        return;
    };
    for (key, value) in moved {
        tracing::warn!("server.{key} is service.{key} now; it was read as that");
        match (service.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, value) => {
                service.insert(key, value);
            }
        }
    }
}

fn merge(base: &mut toml::Table, overlay: toml::Table) {
    for (key, value) in overlay {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// `ENGINE__QUEUE_CAPACITY=8` sets `engine.queue_capacity = 8`. The value is read as a TOML
/// value when it parses as one (numbers, booleans) and as a string otherwise.
fn set_path(tree: &mut toml::Table, path: &str, raw: &str) -> anyhow::Result<()> {
    let keys: Vec<String> = path.split("__").map(str::to_lowercase).collect();
    let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()));
    let (last, parents) = keys.split_last().context("empty key")?;
    let mut table = tree;
    for key in parents {
        table = table
            .entry(key.clone())
            .or_insert_with(|| toml::Value::Table(Default::default()))
            .as_table_mut()
            .with_context(|| format!("`{key}` is not a section"))?;
    }
    table.insert(last.clone(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_values_override_and_parse_as_toml_scalars() {
        let mut tree = toml::Table::try_from(Config::default()).unwrap();
        set_path(&mut tree, "ENGINE__QUEUE_CAPACITY", "3").unwrap();
        set_path(&mut tree, "DRAFT__BRAND", "Acme Coffee").unwrap();
        let c: Config = tree.try_into().unwrap();
        assert_eq!(c.engine.queue_capacity, 3);
        assert_eq!(c.draft.brand, "Acme Coffee");
    }

    #[test]
    fn the_example_file_documents_every_key_with_its_default() {
        // Read as plain TOML, not through `Config`'s serde defaults: a key missing from the
        // example file fails this test.
        let example: toml::Table =
            toml::from_str(include_str!("../../../tact.example.toml")).unwrap();
        let defaults = toml::Table::try_from(Config::default()).unwrap();
        assert_eq!(example, defaults);
    }

    #[test]
    fn service_keys_under_server_are_read_as_service_keys() {
        let mut tree = toml::Table::try_from(Config::default()).unwrap();
        set_path(&mut tree, "SERVER__DRAFTING_WORKERS", "5").unwrap();
        set_path(&mut tree, "SERVER__ADDR", "0.0.0.0:9").unwrap();
        move_service_keys(&mut tree);
        let c: Config = tree.try_into().unwrap();
        assert_eq!(c.service.drafting_workers, 5);
        assert_eq!(c.server.addr, "0.0.0.0:9");
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let mut tree = toml::Table::try_from(Config::default()).unwrap();
        set_path(&mut tree, "ENGINE__QUEUE_CAPACTY", "3").unwrap();
        assert!(tree.try_into::<Config>().is_err());
    }
}
