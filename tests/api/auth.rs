//! Every route but health refuses a request without a token (401) and one whose role or
//! brand scope is too narrow (403). The table below must list exactly the operations of the
//! OpenAPI document, which is built from the router's own route list: a new route without a
//! row here fails the test.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::support::{BRAND, Harness, inbound, unique};

/// Who is refused besides a caller without a token.
#[derive(Debug, Clone, Copy)]
enum Refused {
    /// An agent (the route needs approver or admin).
    Agent,
    /// An approver (the route needs admin).
    Approver,
    /// A token for another brand only.
    OtherBrand,
    /// Any valid token may call it (e.g. `/api/v1/me`): nothing to refuse but no token.
    Nobody,
}

struct Row {
    method: &'static str,
    path: &'static str,
    refused: Refused,
    body: Option<Value>,
}

fn table() -> Vec<Row> {
    let row = |method, path, refused, body| Row {
        method,
        path,
        refused,
        body,
    };
    let reason = Some(json!({"version": 1, "reason": "because"}));
    vec![
        row("get", "/metrics", Refused::Approver, None),
        row("get", "/api/v1/me", Refused::Nobody, None),
        row(
            "post",
            "/api/v1/tokens",
            Refused::Approver,
            Some(json!({"role": "agent", "brands": ["*"], "label": "x"})),
        ),
        row("get", "/api/v1/tokens", Refused::Approver, None),
        row("delete", "/api/v1/tokens/{id}", Refused::Approver, None),
        row(
            "post",
            "/api/v1/messages",
            Refused::OtherBrand,
            Some(inbound(&unique("auth"), "x", "hi")),
        ),
        row("get", "/api/v1/messages", Refused::OtherBrand, None),
        row("get", "/api/v1/messages/{id}", Refused::OtherBrand, None),
        row(
            "get",
            "/api/v1/messages/{id}/events",
            Refused::OtherBrand,
            None,
        ),
        row(
            "post",
            "/api/v1/messages/{id}/propose",
            Refused::OtherBrand,
            Some(json!({"version": 1})),
        ),
        row(
            "post",
            "/api/v1/messages/{id}/approve",
            Refused::Agent,
            Some(json!({"version": 1})),
        ),
        row(
            "post",
            "/api/v1/messages/{id}/reject",
            Refused::Agent,
            reason.clone(),
        ),
        row(
            "post",
            "/api/v1/messages/{id}/escalate",
            Refused::OtherBrand,
            reason,
        ),
        row(
            "post",
            "/api/v1/messages/{id}/posted",
            Refused::OtherBrand,
            Some(json!({"version": 1})),
        ),
        row(
            "get",
            "/api/v1/messages/{id}/audit",
            Refused::OtherBrand,
            None,
        ),
        row("get", "/api/v1/audit", Refused::Agent, None),
        row(
            "post",
            "/api/v1/drafts",
            Refused::OtherBrand,
            Some(json!({"brand": BRAND, "channel": "x", "text": "hi"})),
        ),
        row(
            "post",
            "/api/v1/check",
            Refused::OtherBrand,
            Some(json!({"brand": BRAND, "channel": "x", "text": "hi"})),
        ),
        row("get", "/api/v1/brands", Refused::Nobody, None),
        row("get", "/api/v1/brands/{brand}", Refused::OtherBrand, None),
        row(
            "put",
            "/api/v1/brands/{brand}/policy",
            Refused::Approver,
            Some(
                json!({"approvals": 1, "crisis_approvals": 2, "crisis_mode": false, "author_may_approve_own_edit": false, "delivery": "manual"}),
            ),
        ),
        row(
            "get",
            "/api/v1/brands/{brand}/guidelines",
            Refused::OtherBrand,
            None,
        ),
        row(
            "put",
            "/api/v1/brands/{brand}/guidelines",
            Refused::Approver,
            Some(json!({"document": "privacy.md", "markdown": "# x"})),
        ),
        row(
            "get",
            "/api/v1/brands/{brand}/crisis",
            Refused::OtherBrand,
            None,
        ),
    ]
}

/// Operations the OpenAPI document lists that need no token.
const PUBLIC: [(&str, &str); 2] = [("get", "/healthz"), ("get", "/readyz")];

#[tokio::test(flavor = "multi_thread")]
async fn every_route_refuses_a_missing_or_under_privileged_token() {
    let h = crate::support::sqlite();
    // It stores a message: not while another test compares the store before and after.
    let _exclusive = h.exclusive.lock().await;
    let message = unique("auth-target");
    let inbound_message =
        tact_core::InboundMessage::from_json(inbound(&message, "x", "Where is my order?")).unwrap();
    h.workflow.submit(&inbound_message, "test").await.unwrap();
    // A second agent for the other brand, so "agent" routes have an under-privileged caller.
    let other_agent = h
        .workflow
        .create_token(
            "other agent",
            tact_workflow::Role::Agent,
            tact_workflow::BrandScope::Only(vec!["globex".into()]),
        )
        .await
        .unwrap()
        .secret;

    let openapi: Value = serde_json::from_slice(
        &Harness::client()
            .get(h.url("/api/openapi.json"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    let mut documented = BTreeSet::new();
    for (path, item) in openapi["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.clone(), path.clone()));
        }
    }
    let rows = table();
    let tested: BTreeSet<(String, String)> = rows
        .iter()
        .map(|r| (r.method.to_owned(), r.path.to_owned()))
        .chain(
            PUBLIC
                .iter()
                .map(|(m, p)| ((*m).to_owned(), (*p).to_owned())),
        )
        .collect();
    assert_eq!(tested, documented, "the auth table and the routes differ");

    for row in &rows {
        let path = row
            .path
            .replace(
                "{id}",
                if row.path.starts_with("/api/v1/tokens") {
                    "some-token"
                } else {
                    &message
                },
            )
            .replace("{brand}", BRAND);
        let send = |token: Option<&str>| {
            let method = reqwest::Method::from_bytes(row.method.to_uppercase().as_bytes()).unwrap();
            let mut request = Harness::client().request(method, h.url(&path));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            if let Some(body) = &row.body {
                request = request
                    .header("content-type", "application/json")
                    .body(body.to_string());
            }
            request.send()
        };
        let response = send(None).await.unwrap();
        assert_eq!(
            response.status(),
            401,
            "{} {path} without a token",
            row.method
        );
        let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
        assert_eq!(body["error"]["code"], "unauthorized");
        let response = send(Some("tact_not_a_real_token")).await.unwrap();
        assert_eq!(
            response.status(),
            401,
            "{} {path} with an unknown token",
            row.method
        );

        let weak = match row.refused {
            Refused::Agent => Some(h.agent.as_str()),
            Refused::Approver => Some(h.approver.as_str()),
            Refused::OtherBrand => Some(other_agent.as_str()),
            Refused::Nobody => None,
        };
        if let Some(token) = weak {
            // Listing is filtered by scope; asking for another brand's queue is refused.
            let path_for_weak = if row.path == "/api/v1/messages" && row.method == "get" {
                format!("{path}?brand={BRAND}")
            } else {
                path.clone()
            };
            let method = reqwest::Method::from_bytes(row.method.to_uppercase().as_bytes()).unwrap();
            let mut request = Harness::client()
                .request(method, h.url(&path_for_weak))
                .bearer_auth(token);
            if let Some(body) = &row.body {
                request = request
                    .header("content-type", "application/json")
                    .body(body.to_string());
            }
            let response = request.send().await.unwrap();
            let status = response.status();
            let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
            assert_eq!(
                status, 403,
                "{} {path_for_weak} with an under-privileged token: {body}",
                row.method
            );
            assert_eq!(body["error"]["code"], "forbidden");
        }
    }

    // Health needs no token.
    for (_, path) in PUBLIC {
        let response = Harness::client().get(h.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
}
