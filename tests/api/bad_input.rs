//! Bad input over HTTP gets a 4xx with a JSON error naming the problem, and changes nothing
//! stored: the queue and the audit log read the same before and after.

use serde_json::{Value, json};

use crate::support::{BRAND, Harness, inbound, unique};

/// POSTs `body` as a careful client does with a large body (`Expect: 100-continue`): the
/// headers first, the body only when the server asks for it. A server that refuses by the
/// declared length answers without reading it. (Sending 10 MB unasked races the server's
/// early answer: it closes the connection while the client still writes, and the client sees
/// a broken pipe instead of the answer.)
async fn declared_body(h: &Harness, path: &str, body: Vec<u8>) -> (u16, Value) {
    use std::io::{Read, Write};

    let addr = h.base.trim_start_matches("http://").to_owned();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\
         Expect: 100-continue\r\nConnection: close\r\n\r\n",
        h.admin,
        body.len()
    );
    tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(&addr).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(60)))
            .unwrap();
        stream.write_all(head.as_bytes()).unwrap();
        let mut response = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            let n = stream.read(&mut buf).unwrap();
            response.extend_from_slice(&buf[..n]);
            if n == 0 {
                break;
            }
            if response.starts_with(b"HTTP/1.1 100") && response.ends_with(b"\r\n\r\n") {
                // The server wants the body: it did not refuse by the declared length.
                response.clear();
                let _ = stream.write_all(&body);
            }
        }
        let text = String::from_utf8(response).expect("an HTTP answer in UTF-8");
        let (head, payload) = text.split_once("\r\n\r\n").expect("an HTTP answer");
        let status: u16 = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status in {head:?}"));
        assert!(
            head.to_ascii_lowercase()
                .contains("content-type: application/json"),
            "{head}"
        );
        let payload = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(payload)
        } else {
            payload.to_owned()
        };
        (
            status,
            serde_json::from_str(&payload).expect("a JSON error body"),
        )
    })
    .await
    .unwrap()
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&tail[..size]);
        rest = tail[size..].trim_start_matches("\r\n");
    }
    out
}

/// Sends raw bytes; returns status and the parsed error body.
async fn raw(
    h: &Harness,
    method: reqwest::Method,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (u16, Value) {
    let mut request = Harness::client()
        .request(method, h.url(path))
        .bearer_auth(&h.admin)
        .body(body);
    if let Some(ct) = content_type {
        request = request.header("content-type", ct);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"),
        "{path}: an error answer must be JSON"
    );
    let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    (status, body)
}

fn assert_error(
    what: &str,
    (status, body): &(u16, Value),
    want_status: u16,
    code: &str,
    names: &str,
) {
    assert_eq!(*status, want_status, "{what}: {body}");
    assert_eq!(body["error"]["code"], code, "{what}: {body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.to_lowercase().contains(&names.to_lowercase()),
        "{what}: the message {message:?} should name {names:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_refused_with_a_named_problem_and_nothing_changes() {
    let h = crate::support::sqlite();
    let _exclusive = h.exclusive.lock().await;
    // A message to aim review verbs at, stored directly and held in drafting under this
    // test's lease, so the harness's drafting loop leaves it undrafted (it claims every
    // received message; should it win the race for one, take another).
    let target = loop {
        let target = unique("bad-input-target");
        let inbound_message =
            tact_core::InboundMessage::from_json(inbound(&target, "x", "Where is my order?"))
                .unwrap();
        h.workflow.submit(&inbound_message, "test").await.unwrap();
        if h.workflow
            .start_drafting(&target, 1, "bad-input-test")
            .await
            .is_ok()
        {
            break target;
        }
    };
    let before = h.snapshot().await;
    let json = Some("application/json");
    let post = reqwest::Method::POST;

    let r = raw(
        h,
        post.clone(),
        "/api/v1/messages",
        json,
        br#"{"id": "x", "brand": "#.to_vec(),
    )
    .await;
    assert_error("malformed JSON", &r, 400, "invalid_json", "JSON");

    let mut wrong = inbound(&unique("wrong-type"), "x", "hi");
    wrong["text"] = json!(42);
    let r = raw(
        h,
        post.clone(),
        "/api/v1/messages",
        json,
        wrong.to_string().into_bytes(),
    )
    .await;
    assert_error("a number for text", &r, 422, "invalid_request", "`text`");

    let r = raw(
        h,
        post.clone(),
        &format!("/api/v1/messages/{target}/reject"),
        json,
        br#"{"version": "one", "reason": "no"}"#.to_vec(),
    )
    .await;
    assert_error(
        "a string for version",
        &r,
        422,
        "invalid_request",
        "version",
    );

    let r = raw(
        h,
        post.clone(),
        "/api/v1/messages/no-such-message/reject",
        json,
        br#"{"version": 1, "reason": "no"}"#.to_vec(),
    )
    .await;
    assert_error(
        "unknown message id",
        &r,
        404,
        "not_found",
        "no-such-message",
    );

    let r = raw(
        h,
        reqwest::Method::GET,
        "/api/v1/messages/no-such-message",
        None,
        Vec::new(),
    )
    .await;
    assert_error(
        "unknown message id (GET)",
        &r,
        404,
        "not_found",
        "no-such-message",
    );

    let r = raw(
        h,
        reqwest::Method::DELETE,
        "/api/v1/tokens/no-such-token",
        None,
        Vec::new(),
    )
    .await;
    assert_error("unknown token id", &r, 404, "not_found", "no-such-token");

    let mut unknown_brand = inbound(&unique("unknown-brand"), "x", "hi");
    unknown_brand["brand"] = json!("globex");
    let r = raw(
        h,
        post.clone(),
        "/api/v1/messages",
        json,
        unknown_brand.to_string().into_bytes(),
    )
    .await;
    assert_error("unknown brand", &r, 422, "invalid_request", "globex");

    let r = raw(
        h,
        post.clone(),
        "/api/v1/messages",
        json,
        inbound(&unique("bad-channel"), "telex", "hi")
            .to_string()
            .into_bytes(),
    )
    .await;
    assert_error("unknown channel", &r, 422, "invalid_request", "telex");

    let huge = format!(
        r#"{{"id": "huge", "brand": "{BRAND}", "channel": "x", "author": "a", "created_at": "2026-11-01T09:30:00Z", "text": "{}"}}"#,
        "a".repeat(10 * 1024 * 1024)
    );
    let r = declared_body(h, "/api/v1/messages", huge.into_bytes()).await;
    assert_error("a 10 MB body", &r, 413, "payload_too_large", "limit");

    let mut invalid_utf8 = br#"{"id": "utf8", "brand": "northwind", "channel": "x", "author": "a", "created_at": "2026-11-01T09:30:00Z", "text": "caf"#.to_vec();
    invalid_utf8.extend_from_slice(&[0xC3, 0x28, b'"', b'}']);
    let r = raw(h, post.clone(), "/api/v1/messages", json, invalid_utf8).await;
    assert_error("invalid UTF-8", &r, 400, "invalid_json", "UTF-8");

    let r = raw(
        h,
        post.clone(),
        "/api/v1/messages",
        Some("text/plain"),
        b"hello".to_vec(),
    )
    .await;
    assert_error(
        "not JSON",
        &r,
        415,
        "unsupported_media_type",
        "application/json",
    );

    let r = raw(
        h,
        post.clone(),
        "/api/v1/check",
        json,
        br#"{"brand": "northwind", "channel": "x", "text": "hi", "colour": "red"}"#.to_vec(),
    )
    .await;
    assert_error("an unknown field", &r, 422, "invalid_request", "colour");

    let r = raw(
        h,
        reqwest::Method::GET,
        "/api/v1/messages?status=lost",
        None,
        Vec::new(),
    )
    .await;
    assert_error(
        "an unknown status filter",
        &r,
        422,
        "invalid_request",
        "awaiting_review",
    );

    let r = raw(h, reqwest::Method::GET, "/api/v1/nowhere", None, Vec::new()).await;
    assert_error("an unknown route", &r, 404, "not_found", "route");

    let r = raw(
        h,
        reqwest::Method::PATCH,
        "/api/v1/messages",
        json,
        b"{}".to_vec(),
    )
    .await;
    assert_error(
        "a method the route lacks",
        &r,
        405,
        "method_not_allowed",
        "method",
    );

    let r = raw(
        h,
        post.clone(),
        &format!("/api/v1/messages/{target}/approve"),
        json,
        br#"{"version": 2}"#.to_vec(),
    )
    .await;
    assert_error(
        "approving an undrafted message",
        &r,
        409,
        "invalid_transition",
        "no drafts",
    );

    let r = raw(
        h,
        post,
        &format!("/api/v1/messages/{target}/reject"),
        json,
        br#"{"version": 99, "reason": "no"}"#.to_vec(),
    )
    .await;
    assert_error("a stale version", &r, 409, "conflict", "version");

    assert_eq!(h.snapshot().await, before, "bad input changed the store");
    // Leave the target terminal, so no drafting loop takes it up during a later test.
    h.workflow
        .drafting_failed(&target, 2, "bad-input-test", "test message, never drafted")
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_gets_503_with_retry_after_and_stores_nothing() {
    let h = crate::support::sqlite();
    let _exclusive = h.exclusive.lock().await;
    let before = h.snapshot().await;
    let messages: Vec<Value> = (0..crate::support::QUEUE + 1)
        .map(|_| inbound(&unique("flood"), "x", "Where is my order?"))
        .collect();
    let response = Harness::client()
        .post(h.url("/api/v1/messages"))
        .bearer_auth(&h.agent)
        .header("content-type", "application/json")
        .body(json!({"messages": messages}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    let body: Value = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "queue_full");
    assert_eq!(
        h.snapshot().await,
        before,
        "a refused flood stored something"
    );
}
