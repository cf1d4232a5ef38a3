//! The web review page: HTML shells rendered once from templates compiled into the binary, and
//! the scripts and styles they load from `/static/`.
//!
//! The shells carry no data and need no token. Everything a page shows comes from the JSON API
//! (`/api/v1`), called by the page's ES modules with the bearer token the reviewer signed in
//! with (kept in `sessionStorage`, never in a URL). Those scripts build the DOM with
//! `textContent` only, so customer text, which is hostile input, is always rendered as text;
//! the Content-Security-Policy sent with every page forbids inline scripts and any origin but
//! this one as a second line of defence.

mod assets;
mod pages;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};

use pages::{Page, Pages};

/// The pages and `/static/*`. Stateless, so it merges into a router of any state.
///
/// Panics if a bundled template fails to render, which the tests of this module rule out.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let pages = Arc::new(Pages::render().expect("the bundled page templates render"));
    Router::new()
        .route("/", shell(Page::Queue))
        .route("/sign-in", shell(Page::SignIn))
        // The page's script reads the message id from the path: one shell for every message.
        .route("/messages/{id}", shell(Page::Message))
        .route("/audit", shell(Page::Audit))
        .route("/crisis", shell(Page::Crisis))
        .with_state(pages)
        .route("/static/{*path}", get(assets::serve))
}

fn shell(page: Page) -> MethodRouter<Arc<Pages>> {
    get(move |State(pages): State<Arc<Pages>>| async move { html(pages.get(page)) })
}

/// Only this origin's scripts, styles and API; no inline script, no framing, no plug-ins.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; \
     frame-ancestors 'none'";

/// Headers every page and asset carries.
fn hardening() -> [(HeaderName, HeaderValue); 4] {
    [
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
    ]
}

fn html(body: Bytes) -> Response {
    (
        hardening(),
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            // The shell changes only with the binary; revalidating costs nothing.
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests;
