//! The OpenAPI document is generated from the code; this golden file shows every change to
//! it in review. `TACT_UPDATE_GOLDEN=1` rewrites it.

use std::path::PathBuf;

#[test]
fn the_openapi_document_matches_its_golden_file() {
    let document = tact_server::routes::openapi()
        .to_pretty_json()
        .expect("the document serialises");
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/openapi.json");
    if std::env::var_os("TACT_UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, format!("{document}\n")).unwrap();
        return;
    }
    let golden = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run with TACT_UPDATE_GOLDEN=1 to create it",
            path.display()
        )
    });
    assert_eq!(
        golden.trim_end(),
        document.trim_end(),
        "the OpenAPI document changed; if that is intended, rerun with TACT_UPDATE_GOLDEN=1 and review the diff"
    );
}

#[test]
fn the_document_describes_every_contract_route() {
    let document = tact_server::routes::openapi();
    let paths: Vec<&String> = document.paths.paths.keys().collect();
    for path in [
        "/api/v1/messages",
        "/api/v1/messages/{id}/events",
        "/api/v1/messages/{id}/approve",
        "/api/v1/drafts",
        "/api/v1/check",
        "/api/v1/brands/{brand}/crisis",
        "/api/v1/tokens/{id}",
        "/metrics",
    ] {
        assert!(
            paths.iter().any(|p| *p == path),
            "{path} is not in the document"
        );
    }
}
