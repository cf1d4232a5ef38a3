//! [`AppState`]: what every handler reaches: the [`Service`] and the HTTP settings.

use std::sync::Arc;

use tact_service::Service;

use crate::config::ServerConfig;

/// Shared by every handler (cheap to clone). Derefs to the [`Service`].
#[derive(Clone)]
pub struct AppState {
    service: Service,
    config: Arc<ServerConfig>,
}

impl AppState {
    pub fn new(service: Service, config: ServerConfig) -> Self {
        Self {
            service,
            config: Arc::new(config),
        }
    }

    pub fn service(&self) -> &Service {
        &self.service
    }

    /// The HTTP settings; the service's are `self.service().config()`.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }
}

impl std::ops::Deref for AppState {
    type Target = Service;
    fn deref(&self) -> &Service {
        &self.service
    }
}
