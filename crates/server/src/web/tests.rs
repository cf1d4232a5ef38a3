//! The page shells and assets through the router, without a socket, plus checks over the
//! bundled files that keep the pages inert to hostile text and CSP-clean.

use std::collections::BTreeSet;
use std::path::Path;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use tower::ServiceExt;

use super::assets::ASSETS;
use super::pages::Page;
use super::{CONTENT_SECURITY_POLICY, router};

async fn fetch(
    uri: &str,
    if_none_match: Option<&str>,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let app: Router = router();
    let mut request = Request::get(uri);
    if let Some(tag) = if_none_match {
        request = request.header(header::IF_NONE_MATCH, tag);
    }
    let response = app
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = to_bytes(response.into_body(), 1 << 20).await.unwrap();
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

fn page_path(page: Page) -> &'static str {
    match page {
        Page::SignIn => "/sign-in",
        Page::Queue => "/",
        Page::Message => "/messages/m-1",
        Page::Audit => "/audit",
        Page::Crisis => "/crisis",
    }
}

#[tokio::test]
async fn every_page_is_html_with_its_own_script_and_a_strict_policy() {
    for page in Page::ALL {
        let (status, headers, body) = fetch(page_path(page), None).await;
        assert_eq!(status, StatusCode::OK, "{page:?}");
        assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert_eq!(
            headers[header::CONTENT_SECURITY_POLICY],
            CONTENT_SECURITY_POLICY
        );
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        let script = format!(
            r#"<script type="module" src="/static/{}.js"></script>"#,
            page.name()
        );
        assert!(body.contains(&script), "{page:?} does not load {script}");
        assert!(body.contains(&format!(r#"<body data-page="{}">"#, page.name())));
    }
}

#[tokio::test]
async fn the_message_shell_does_not_reflect_the_id() {
    let (status, _, body) = fetch("/messages/%3Cscript%3Ealert(1)%3C%2Fscript%3E", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!body.contains("alert(1)"));
}

#[tokio::test]
async fn assets_have_their_type_and_revalidate_with_an_etag() {
    for asset in ASSETS {
        let uri = format!("/static/{}", asset.path);
        let (status, headers, body) = fetch(&uri, None).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert_eq!(headers[header::CONTENT_TYPE], asset.content_type, "{uri}");
        assert_eq!(body, asset.body);
        let etag = headers[header::ETAG].to_str().unwrap().to_owned();
        let (status, _, body) = fetch(&uri, Some(&etag)).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED, "{uri}");
        assert!(body.is_empty());
        let (status, _, _) = fetch(&uri, Some("\"0000000000000000\"")).await;
        assert_eq!(status, StatusCode::OK, "{uri} with a stale tag");
    }
}

#[tokio::test]
async fn unknown_assets_are_not_found() {
    for uri in [
        "/static/nope.js",
        "/static/../Cargo.toml",
        "/static/js/api.js",
    ] {
        let (status, _, body) = fetch(uri, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert!(body.starts_with("no static file named"), "{uri}: {body}");
    }
}

fn static_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("static")
}

#[test]
fn every_file_in_the_static_folder_is_served_and_every_served_file_exists() {
    let on_disk: BTreeSet<String> = std::fs::read_dir(static_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let served: BTreeSet<String> = ASSETS.iter().map(|a| a.path.to_owned()).collect();
    assert_eq!(on_disk, served);
}

#[test]
fn every_module_a_script_imports_is_served() {
    let served: BTreeSet<&str> = ASSETS.iter().map(|a| a.path).collect();
    for asset in ASSETS.iter().filter(|a| a.path.ends_with(".js")) {
        for line in asset.body.lines().filter(|l| l.starts_with("import ")) {
            let module = line
                .rsplit_once("from './")
                .and_then(|(_, rest)| rest.split_once('\''))
                .map(|(name, _)| name)
                .unwrap_or_else(|| panic!("{}: unexpected import {line:?}", asset.path));
            assert!(
                served.contains(module),
                "{} imports {module}, which is not served",
                asset.path
            );
        }
    }
    for page in Page::ALL {
        assert!(
            served.contains(format!("{}.js", page.name()).as_str()),
            "{page:?} has no script"
        );
    }
}

/// Customer text is hostile: scripts build the DOM from text nodes, and the policy forbids
/// inline code, so none may appear in the shells either.
#[test]
fn no_html_sinks_in_scripts_and_no_inline_code_in_templates() {
    for asset in ASSETS.iter().filter(|a| a.path.ends_with(".js")) {
        for sink in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
        ] {
            assert!(!asset.body.contains(sink), "{} uses {sink}", asset.path);
        }
    }
    let templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    for entry in std::fs::read_dir(templates).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for (at, _) in text.match_indices("<script") {
            let tag = &text[at..at + text[at..].find('>').unwrap()];
            assert!(
                tag.contains(" src=\"/static/"),
                "{}: inline script {tag:?}",
                path.display()
            );
        }
        assert!(!text.contains("style="), "{}: inline style", path.display());
        let lower = text.to_lowercase();
        for handler in [
            " onclick=",
            " onload=",
            " onerror=",
            " onsubmit=",
            " oninput=",
            "javascript:",
        ] {
            assert!(!lower.contains(handler), "{}: {handler}", path.display());
        }
        for external in ["http://", "https://", "//fonts."] {
            assert!(
                !text.contains(external),
                "{}: loads {external}",
                path.display()
            );
        }
    }
}
