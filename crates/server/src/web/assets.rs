//! `/static/*`: the stylesheet, scripts and icon, compiled into the binary. Each carries an
//! `ETag` derived from its bytes at compile time, so a browser revalidates with a 304 and
//! picks up a new binary's files at once.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::hardening;

/// A file under `/static/`.
#[derive(Debug)]
pub(super) struct Asset {
    pub(super) path: &'static str,
    pub(super) content_type: &'static str,
    pub(super) body: &'static str,
    etag: u64,
}

const JS: &str = "text/javascript; charset=utf-8";

macro_rules! asset {
    ($path:literal, $content_type:expr) => {
        Asset {
            path: $path,
            content_type: $content_type,
            body: include_str!(concat!("../../static/", $path)),
            etag: fnv1a(include_bytes!(concat!("../../static/", $path))),
        }
    };
}

pub(super) const ASSETS: &[Asset] = &[
    asset!("tact.css", "text/css; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
    asset!("api.js", JS),
    asset!("dom.js", JS),
    asset!("layout.js", JS),
    asset!("highlight.js", JS),
    asset!("sign-in.js", JS),
    asset!("queue.js", JS),
    asset!("message.js", JS),
    asset!("audit.js", JS),
    asset!("crisis.js", JS),
];

pub(super) async fn serve(Path(path): Path<String>, request: HeaderMap) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.path == path) else {
        return (
            StatusCode::NOT_FOUND,
            hardening(),
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("no static file named {path:?}"),
        )
            .into_response();
    };
    let etag = format!("\"{:016x}\"", asset.etag);
    let etag = HeaderValue::from_str(&etag).expect("hex digits in quotes are a valid header");
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == etag));
    let headers = [
        (header::ETAG, etag),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
    ];
    if fresh {
        return (StatusCode::NOT_MODIFIED, hardening(), headers).into_response();
    }
    (
        hardening(),
        headers,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        )],
        asset.body,
    )
        .into_response()
}

/// 64-bit FNV-1a, at compile time: a cache validator, not a security measure.
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}
