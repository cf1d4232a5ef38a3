//! The HTTP settings: the `[server]` section of tact's configuration (the drafting queue,
//! delivery and webhooks are the service's, `[service]`). The CLI reads and layers the
//! configuration; this crate only says what the keys are and checks them.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address `tact serve` listens on.
    pub addr: String,
    /// Largest request body accepted, in bytes (413 above it).
    pub body_limit_bytes: usize,
    /// A request that has not been answered after this many seconds gets 408.
    pub request_timeout_secs: u64,
    /// Origins allowed to call the API from a browser (e.g. `chrome-extension://<id>`); `*`
    /// allows any (development only). Empty: no cross-origin access.
    pub cors_origins: Vec<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            addr: "127.0.0.1:8080".into(),
            body_limit_bytes: 256 * 1024,
            request_timeout_secs: 30,
            cors_origins: Vec::new(),
        }
    }
}

impl ServerConfig {
    pub fn validate(&self) -> Result<()> {
        let bad = |what: &str| Err(Error::Config(what.to_owned()));
        if self.body_limit_bytes < 1024 {
            return bad("server.body_limit_bytes must be at least 1024");
        }
        if self.request_timeout_secs == 0 {
            return bad("server.request_timeout_secs must be at least 1");
        }
        for origin in &self.cors_origins {
            if origin != "*" && !origin.contains("://") {
                return Err(Error::Config(format!(
                    "server.cors_origins: {origin:?} is not an origin (scheme://host[:port]) or `*`"
                )));
            }
        }
        Ok(())
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }
}
