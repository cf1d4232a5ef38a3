//! A real webhook receiver on 127.0.0.1, port 0: records every request, answers with a
//! scripted status, and checks signatures itself (not with the crate's `sign`).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const SECRET: &str = "whsec_test_secret";

#[derive(Debug, Clone)]
pub struct Request {
    pub idempotency_key: String,
    pub timestamp: String,
    pub signature: String,
    pub body: serde_json::Value,
    pub raw: Vec<u8>,
}

impl Request {
    pub fn signature_is_valid(&self) -> bool {
        let Some(hex_sig) = self.signature.strip_prefix("sha256=") else {
            return false;
        };
        let Ok(expected) = hex::decode(hex_sig) else {
            return false;
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(format!("{}.", self.timestamp).as_bytes());
        mac.update(&self.raw);
        mac.verify_slice(&expected).is_ok()
    }
}

#[derive(Default)]
struct Shared {
    requests: Vec<Request>,
    /// Statuses to answer with, in order; 200 once they run out.
    script: VecDeque<StatusCode>,
}

#[derive(Clone)]
pub struct Receiver {
    shared: Arc<Mutex<Shared>>,
    pub url: String,
}

impl Receiver {
    pub async fn start(script: &[u16]) -> anyhow::Result<Self> {
        let shared = Arc::new(Mutex::new(Shared {
            requests: Vec::new(),
            script: script
                .iter()
                .map(|s| StatusCode::from_u16(*s).unwrap())
                .collect(),
        }));
        let app = Router::new()
            .route("/hook", post(receive))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr: SocketAddr = listener.local_addr()?;
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self {
            shared,
            url: format!("http://{addr}/hook"),
        })
    }

    pub fn requests(&self) -> Vec<Request> {
        self.shared.lock().unwrap().requests.clone()
    }
}

async fn receive(
    State(shared): State<Arc<Mutex<Shared>>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let request = Request {
        idempotency_key: header("idempotency-key"),
        timestamp: header("x-tact-timestamp"),
        signature: header("x-tact-signature"),
        body: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
        raw: body.to_vec(),
    };
    let mut shared = shared.lock().unwrap();
    shared.requests.push(request);
    shared.script.pop_front().unwrap_or(StatusCode::OK)
}
