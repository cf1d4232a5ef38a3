//! Brands, policy, guidelines, crisis summaries, metrics and CORS over HTTP.

use serde_json::{Value, json};

use crate::support::{BRAND, Harness};

async fn put(h: &Harness, token: &str, path: &str, body: &Value) -> (u16, Value) {
    let response = Harness::client()
        .put(h.url(path))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_slice(&response.bytes().await.unwrap()).unwrap_or(Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn brands_policy_and_guidelines_read_and_update() {
    let h = crate::support::sqlite();
    let _exclusive = h.exclusive.lock().await;
    let brands = h.get(&h.agent, "/api/v1/brands").await;
    assert_eq!(brands["brands"][0]["id"], BRAND);
    assert!(
        brands["brands"][0]["channels"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == "x")
    );
    let brand = h.get(&h.agent, &format!("/api/v1/brands/{BRAND}")).await;
    assert_eq!(brand["policy"]["approvals"], 1);
    assert!(
        brand["guidelines"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d == "privacy.md")
    );

    let (status, body) = put(
        h,
        &h.admin,
        &format!("/api/v1/brands/{BRAND}/policy"),
        &json!({"approvals": 2, "crisis_approvals": 1, "crisis_mode": false,
                "author_may_approve_own_edit": false, "delivery": "manual"}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("crisis_approvals")
    );

    let guidelines = h
        .get(&h.agent, &format!("/api/v1/brands/{BRAND}/guidelines"))
        .await;
    let privacy = guidelines["documents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["document"] == "privacy.md")
        .expect("privacy.md has clauses")
        .clone();
    let path = format!("/api/v1/brands/{BRAND}/guidelines");
    let (status, body) = put(
        h,
        &h.admin,
        &path,
        &json!({"document": "../brand.toml", "markdown": "# x"}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    // Dropping the clauses the brand's rules cite leaves the brand unloadable: refused, kept.
    let (status, body) = put(
        h,
        &h.admin,
        &path,
        &json!({"document": "escalation.md", "markdown": "# Nothing here\n\nJust a line.\n"}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not saved"),
        "{body}"
    );
    let after = h
        .get(&h.agent, &format!("/api/v1/brands/{BRAND}/guidelines"))
        .await;
    assert_eq!(after, guidelines, "a refused update changed the guidelines");

    let crisis = h
        .get(&h.agent, &format!("/api/v1/brands/{BRAND}/crisis"))
        .await;
    assert_eq!(crisis["active"], false);
    assert!(crisis["summaries"].is_array());
    assert!(!privacy["clauses"].as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_are_prometheus_text_for_admins() {
    let h = crate::support::sqlite();
    let response = Harness::client()
        .get(h.url("/metrics"))
        .bearer_auth(&h.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    for name in [
        "tact_drafting_queue_depth",
        "tact_drafts_total",
        "tact_time_to_first_token_seconds_bucket",
        "tact_review_latency_seconds_count",
    ] {
        assert!(text.contains(name), "{name} missing from /metrics");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn cors_allows_only_configured_origins() {
    let h = crate::support::sqlite();
    let preflight = |origin: &'static str| {
        Harness::client()
            .request(reqwest::Method::OPTIONS, h.url("/api/v1/me"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
    };
    let allowed = preflight(crate::support::ORIGIN).await.unwrap();
    assert_eq!(
        allowed
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap()),
        Some(crate::support::ORIGIN)
    );
    let refused = preflight("https://evil.example").await.unwrap();
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}
