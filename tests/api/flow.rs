//! The whole flow over HTTP: submit → drafts stream and appear → edit and approve → the
//! webhook receiver gets the final text once, signed; a rejected message is never delivered;
//! the approved text reaches the knowledge base.

use std::time::Duration;

use serde_json::{Value, json};
use tact_core::{KnowledgeFilter, KnowledgeKind};
use tact_retrieval::{RetrievalMode, Search};

use crate::support::{BRAND, Harness, inbound, signed, unique};

/// Follows a message's SSE stream to its end; returns (event name, data) pairs.
async fn events(h: &Harness, id: &str) -> Vec<(String, Value)> {
    let response = Harness::client()
        .get(h.url(&format!("/api/v1/messages/{id}/events")))
        .bearer_auth(&h.agent)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut response = response;
    let mut buffer = String::new();
    let mut out = Vec::new();
    while let Some(chunk) = response.chunk().await.unwrap() {
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let mut name = String::new();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event: ") {
                    name = v.to_owned();
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data.push_str(v);
                }
            }
            if !name.is_empty() {
                out.push((name, serde_json::from_str(&data).unwrap()));
            }
        }
    }
    out
}

async fn flow(h: &Harness) {
    let _exclusive = h.exclusive.lock().await;
    // Deliver by webhook (the default policy is manual posting).
    let policy = json!({"approvals": 1, "crisis_approvals": 2, "crisis_mode": false,
                        "author_may_approve_own_edit": true, "delivery": "webhook"});
    let response = Harness::client()
        .put(h.url(&format!("/api/v1/brands/{BRAND}/policy")))
        .bearer_auth(&h.admin)
        .header("content-type", "application/json")
        .body(policy.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let approve_id = unique("flow-approve");
    let reject_id = unique("flow-reject");
    let (status, body) = h
        .post(
            &h.agent,
            "/api/v1/messages",
            &json!({"messages": [
                inbound(&approve_id, "x", "Hi! My beans arrived but the bag was split open. Can you help?"),
                inbound(&reject_id, "instagram", "Do you ship the house blend to Canada?"),
            ]}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["messages"].as_array().unwrap().len(), 2);
    assert_eq!(body["messages"][0]["status"], "received");

    // The stream carries generated text as it comes, then the stored candidates and `ready`.
    let streamed = events(h, &approve_id).await;
    let names: Vec<&str> = streamed.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.last(), Some(&"ready"), "{names:?}");
    assert!(names.contains(&"candidate"), "{names:?}");
    let ready = &streamed.last().unwrap().1;
    assert_eq!(ready["status"], "awaiting_review");
    if names.contains(&"delta") {
        let first = streamed.iter().find(|(n, _)| n == "delta").unwrap();
        assert!(first.1["candidate"].is_u64() && first.1["text"].is_string());
    } else {
        // Drafting finished before the stream was opened: `ready` at once is the contract.
        assert_eq!(names.first(), Some(&"candidate"), "{names:?}");
    }

    let detail = h
        .wait_for(&approve_id, "awaiting_review", |d| {
            d["status"] == "awaiting_review"
        })
        .await;
    let candidates = detail["candidates"].as_array().unwrap();
    assert!(!candidates.is_empty());
    assert!(detail["triage"]["sentiment"].is_string(), "{detail}");
    assert_eq!(detail["approvals_needed"], 1);
    for c in candidates {
        for citation in c["citations"].as_array().unwrap() {
            assert!(["guideline", "reply"].contains(&citation["kind"].as_str().unwrap()));
        }
        for v in c["violations"].as_array().unwrap() {
            if let (Some(start), Some(end)) = (v["start"].as_u64(), v["end"].as_u64()) {
                let text = c["text"].as_str().unwrap();
                assert_eq!(
                    &text[start as usize..end as usize],
                    v["excerpt"].as_str().unwrap()
                );
            }
        }
    }

    // An edit with a blocking violation (a made-up link) needs an override reason.
    let version = detail["version"].as_i64().unwrap();
    let bad = "So sorry about the split bag! Details at https://totally-made-up.example/refund";
    let (status, body) = h
        .post(
            &h.approver,
            &format!("/api/v1/messages/{approve_id}/approve"),
            &json!({"version": version, "candidate": 0, "text": bad}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("override"),
        "{body}"
    );

    let final_text =
        "So sorry the bag arrived split! DM us your order number and we'll send a fresh one.";
    let (status, approved) = h
        .post(
            &h.approver,
            &format!("/api/v1/messages/{approve_id}/approve"),
            &json!({"version": version, "candidate": 0, "text": final_text}),
        )
        .await;
    assert_eq!(status, 200, "{approved}");
    assert_eq!(approved["final_text"], final_text);

    let sent = h
        .wait_for(&approve_id, "sent", |d| d["status"] == "sent")
        .await;
    assert_eq!(sent["delivery"]["status"], "delivered");

    // Reject the other one as soon as it is ready.
    let other = h
        .wait_for(&reject_id, "awaiting_review", |d| {
            d["status"] == "awaiting_review"
        })
        .await;
    let (status, rejected) = h
        .post(
            &h.approver,
            &format!("/api/v1/messages/{reject_id}/reject"),
            &json!({"version": other["version"], "reason": "off-brand"}),
        )
        .await;
    assert_eq!(status, 200, "{rejected}");
    assert_eq!(rejected["status"], "rejected");

    // Several outbox polls later: the approved text arrived exactly once, signed; the
    // rejected message never did.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let received = h.hook.lock().unwrap().clone();
    let ours: Vec<_> = received
        .iter()
        .filter(|r| {
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            body["message_id"] == approve_id.as_str() || body["message_id"] == reject_id.as_str()
        })
        .collect();
    assert_eq!(ours.len(), 1, "{ours:?}");
    let payload: Value = serde_json::from_slice(&ours[0].body).unwrap();
    assert_eq!(payload["message_id"], approve_id.as_str());
    assert_eq!(payload["text"], final_text);
    assert!(signed(ours[0]), "the webhook signature does not verify");

    let audit = h
        .get(&h.agent, &format!("/api/v1/messages/{approve_id}/audit"))
        .await;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "received",
            "drafting_started",
            "drafts_ready",
            "approved",
            "delivered"
        ]
    );

    // The learning loop: the approved reply is now a past reply of the brand.
    let cite = format!("approved-{approve_id}");
    let mut found = false;
    for _ in 0..100 {
        let hits = h
            .knowledge
            .search(&Search {
                filter: KnowledgeFilter::brand(BRAND).kind(KnowledgeKind::Reply),
                text: "the bag of beans arrived split open".into(),
                limit: 50,
                mode: RetrievalMode::Dense,
            })
            .await
            .unwrap();
        if let Some(hit) = hits.iter().find(|hit| hit.entry.cite == cite) {
            assert_eq!(hit.entry.reply.as_deref(), Some(final_text));
            assert_eq!(hit.entry.source, tact_service::learning::SOURCE);
            found = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(found, "the approved reply never reached the knowledge base");

    let response = Harness::client()
        .get(h.url("/metrics"))
        .bearer_auth(&h.admin)
        .send()
        .await
        .unwrap();
    let metrics = response.text().await.unwrap();
    let value = |name: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} missing"))
            .parse()
            .unwrap()
    };
    assert!(value("tact_drafts_total") >= 2.0);
    assert!(value("tact_time_to_first_token_seconds_count") >= 1.0);
    assert!(value("tact_review_latency_seconds_count") >= 2.0);
    assert!(value("tact_deliveries_total") >= 1.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn submit_draft_edit_approve_deliver_once_and_never_a_rejected_one() {
    flow(crate::support::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_flow_on_postgresql() {
    if let Some(h) = crate::support::postgres("the_flow_on_postgresql") {
        flow(h).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_escalation_topic_goes_to_a_person_without_a_draft() {
    let h = crate::support::sqlite();
    let _exclusive = h.exclusive.lock().await;
    let id = unique("escalate");
    let (status, body) = h
        .post(
            &h.agent,
            "/api/v1/messages",
            &inbound(
                &id,
                "x",
                "Your coffee maker caught fire in my kitchen. My lawyer will be in touch.",
            ),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let detail = h
        .wait_for(&id, "escalated", |d| d["status"] == "escalated")
        .await;
    assert!(detail["candidates"].as_array().unwrap().is_empty());
    assert!(
        detail["reason"]
            .as_str()
            .unwrap()
            .contains("escalation topic"),
        "{detail}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ad_hoc_draft_is_queued_and_checks_locate_violations() {
    let h = crate::support::sqlite();
    let _exclusive = h.exclusive.lock().await;
    let (status, summary) = h
        .post(
            &h.agent,
            "/api/v1/drafts",
            &json!({"brand": BRAND, "channel": "x", "text": "Do you have decaf?",
                    "context": {"url": "https://x.com/post/1", "title": "a post"}}),
        )
        .await;
    assert_eq!(status, 202, "{summary}");
    let id = summary["id"].as_str().unwrap();
    assert!(id.starts_with("adhoc-"));
    let queue = h.get(&h.agent, "/api/v1/messages?limit=1000").await;
    assert!(
        queue["messages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == id)
    );
    h.wait_for(id, "drafted", |d| {
        d["status"] != "received" && d["status"] != "drafting"
    })
    .await;

    let text = "Visit https://totally-made-up.example now!!!";
    let (status, checked) = h
        .post(
            &h.agent,
            "/api/v1/check",
            &json!({"brand": BRAND, "channel": "x", "text": text}),
        )
        .await;
    assert_eq!(status, 200, "{checked}");
    assert!(checked["blocks"].as_u64().unwrap() >= 1, "{checked}");
    let located: Vec<&Value> = checked["violations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["start"].is_u64())
        .collect();
    assert!(!located.is_empty(), "{checked}");
    for v in located {
        let (s, e) = (
            v["start"].as_u64().unwrap() as usize,
            v["end"].as_u64().unwrap() as usize,
        );
        assert_eq!(&text[s..e], v["excerpt"].as_str().unwrap());
    }
}

/// In crisis mode a reply needs two approvers; the second approves the proposed text as it
/// stands. A manual brand's reply is then marked posted by a person.
#[tokio::test(flavor = "multi_thread")]
async fn crisis_mode_needs_two_approvers_and_manual_replies_are_marked_posted() {
    let h = crate::support::sqlite();
    let _exclusive = h.exclusive.lock().await;
    let policy = |crisis: bool| {
        json!({"approvals": 1, "crisis_approvals": 2, "crisis_mode": crisis,
               "author_may_approve_own_edit": false, "delivery": "manual"})
    };
    let set_policy = |body: Value| async move {
        let response = Harness::client()
            .put(h.url(&format!("/api/v1/brands/{BRAND}/policy")))
            .bearer_auth(&h.admin)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    };
    set_policy(policy(true)).await;
    let id = unique("crisis");
    let (status, body) = h
        .post(
            &h.agent,
            "/api/v1/messages",
            &inbound(&id, "x", "Is the Ethiopian roast back in stock?"),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let detail = h
        .wait_for(&id, "awaiting_review", |d| d["status"] == "awaiting_review")
        .await;
    assert_eq!(detail["approvals_needed"], 2);
    let approve = |token: &str, version: &Value| {
        let path = format!("/api/v1/messages/{id}/approve");
        let body =
            json!({"version": version, "candidate": 0, "override_reason": "reviewed in crisis"});
        let token = token.to_owned();
        async move { h.post(&token, &path, &body).await }
    };
    let (status, first) = approve(&h.approver, &detail["version"]).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["status"], "awaiting_review");
    assert_eq!(
        first["proposal"]["approved_by"].as_array().unwrap().len(),
        1
    );
    let (status, again) = approve(&h.approver, &first["version"]).await;
    assert_eq!(status, 409, "the same approver twice: {again}");
    let (status, second) = approve(&h.admin, &first["version"]).await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["status"], "approved");
    assert_eq!(second["delivery"]["connector"], "manual");
    assert_eq!(second["final_text"], detail["candidates"][0]["text"]);

    let (status, posted) = h
        .post(
            &h.agent,
            &format!("/api/v1/messages/{id}/posted"),
            &json!({"version": second["version"]}),
        )
        .await;
    assert_eq!(status, 200, "{posted}");
    assert_eq!(posted["status"], "sent");
    set_policy(policy(false)).await;
}

/// The review page's editor checks an edit as a candidate is checked: a price and a duration
/// no source states are flagged and located, a fact the fact sheet states is not, and the check
/// of an unknown message, or for a brand the server does not serve, is refused.
#[tokio::test(flavor = "multi_thread")]
async fn an_edit_is_checked_for_facts_no_source_states() {
    let h = crate::support::sqlite();
    let id = unique("grounded-edit");
    let (status, body) = h
        .post(
            &h.agent,
            "/api/v1/messages",
            &json!({"messages": [inbound(&id, "x", "Do you ship to Canada?")]}),
        )
        .await;
    assert!(status == 202 || status == 201, "{body}");
    let check = |text: &str, message_id: Option<&str>| {
        let mut body = json!({"brand": BRAND, "channel": "x", "text": text});
        if let Some(m) = message_id {
            body["message_id"] = json!(m);
        }
        body
    };

    let invented = "Yes! Shipping to Canada costs $4 and takes 2 days.";
    let (status, checked) = h
        .post(&h.agent, "/api/v1/check", &check(invented, Some(&id)))
        .await;
    assert_eq!(status, 200, "{checked}");
    let unsupported: Vec<&Value> = checked["violations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["rule"] == "unsupported_claim")
        .collect();
    let excerpts: Vec<&str> = unsupported
        .iter()
        .map(|v| v["excerpt"].as_str().unwrap())
        .collect();
    assert!(excerpts.contains(&"$4"), "{checked}");
    for v in &unsupported {
        let (s, e) = (
            v["start"].as_u64().unwrap() as usize,
            v["end"].as_u64().unwrap() as usize,
        );
        assert_eq!(&invented[s..e], v["excerpt"].as_str().unwrap());
        assert!(!v["message"].as_str().unwrap().is_empty());
    }

    // What the fact sheet says is supported, with or without the message.
    let stated = "Sorry, we do not ship to Canada yet. We ship within the US only.";
    for message_id in [Some(id.as_str()), None] {
        let (status, checked) = h
            .post(&h.agent, "/api/v1/check", &check(stated, message_id))
            .await;
        assert_eq!(status, 200, "{checked}");
        assert!(
            checked["violations"]
                .as_array()
                .unwrap()
                .iter()
                .all(|v| v["rule"] != "unsupported_claim"),
            "{checked}"
        );
    }

    // No check of an unknown message, nor under a brand this server does not serve.
    let (status, _) = h
        .post(
            &h.agent,
            "/api/v1/check",
            &check(stated, Some("no-such-message")),
        )
        .await;
    assert_eq!(status, 404);
    let mut other = check(stated, Some(&id));
    other["brand"] = json!("globex");
    let (status, _) = h.post(&h.admin, "/api/v1/check", &other).await;
    assert_eq!(status, 422);
}
