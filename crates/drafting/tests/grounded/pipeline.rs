//! The drafter end to end: retrieval shapes the prompt, citations point at the demo brand's
//! real clauses and replies, ranking keeps the adapted past reply above generated text that
//! does not beat it, and escalations generate nothing.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;

use tact_drafting::triage::Route;
use tact_drafting::{DraftOptions, Origin};

use crate::common::{drafter, inbound, profile, reply_records};

/// Words that mark a message as being about delivery.
const DELIVERY_WORDS: [&str; 9] = [
    "arrive",
    "arrived",
    "parcel",
    "tracking",
    "delivery",
    "delivered",
    "shipping",
    "order",
    "carrier",
];

fn about_delivery(text: &str) -> bool {
    let lower = text.to_lowercase();
    DELIVERY_WORDS.iter().any(|w| lower.contains(w))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delivery_message_pulls_delivery_replies_into_the_prompt() {
    let dir = tempfile::tempdir().unwrap();
    let (drafter, engine) = drafter(dir.path()).await;
    // No generated candidates: this test is about the prompt and the adapted reply.
    let options = DraftOptions {
        candidates: 0,
        ..DraftOptions::default()
    };
    let delivery = drafter
        .draft(
            &inbound(
                "x",
                "@sam_k",
                "My parcel still hasn't arrived after 9 days and the tracking page hasn't changed",
            ),
            &options,
        )
        .await
        .unwrap();
    let grind = drafter
        .draft(
            &inbound(
                "x",
                "@sam_k",
                "What grind size should I use for a moka pot?",
            ),
            &options,
        )
        .await
        .unwrap();
    assert_eq!(engine.generations.load(Ordering::SeqCst), 0);

    let delivery_prompt = delivery.prompt.as_ref().unwrap();
    let grind_prompt = grind.prompt.as_ref().unwrap();
    let delivery_examples: Vec<&str> = delivery_prompt
        .examples
        .iter()
        .map(|e| e.inbound.as_str())
        .collect();
    assert!(delivery_examples.len() >= 2, "{delivery_examples:?}");
    assert!(
        delivery_examples.iter().all(|t| about_delivery(t)),
        "every retrieved example should be about delivery: {delivery_examples:#?}"
    );
    // The examples are chat turns of the prompt, not just metadata.
    for example in &delivery_prompt.examples {
        assert!(
            delivery_prompt
                .messages
                .iter()
                .any(|m| m.content == example.reply.trim())
        );
    }
    // A different message retrieves different evidence: retrieval changed the prompt.
    let ids = |p: &tact_drafting::Prompt| -> BTreeSet<String> {
        p.examples.iter().map(|e| e.id.clone()).collect()
    };
    assert!(ids(delivery_prompt).is_disjoint(&ids(grind_prompt)));
    assert_ne!(delivery_prompt.messages, grind_prompt.messages);

    // The adapted past reply is the closest example, labelled as such.
    assert_eq!(delivery.candidates.len(), 1);
    match &delivery.candidates[0].origin {
        Origin::AdaptedPastReply { reply_id, .. } => {
            assert_eq!(reply_id, &delivery_prompt.examples[0].id)
        }
        Origin::Generated { .. } => panic!("expected the adapted past reply"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn candidates_cite_real_clauses_and_replies_and_rank_by_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let (drafter, engine) = drafter(dir.path()).await;
    let options = DraftOptions {
        max_new_tokens: 48,
        ..DraftOptions::default()
    };
    let set = drafter
        .draft(
            &inbound(
                "x",
                "@sam_k",
                "Hi, I was charged twice for my subscription this month. Can you check?",
            ),
            &options,
        )
        .await
        .unwrap();
    assert_eq!(set.triage.screening.route, Route::Draft);
    assert_eq!(engine.generations.load(Ordering::SeqCst), 3);
    assert_eq!(
        set.candidates.len(),
        4,
        "3 generated + the adapted past reply"
    );
    let prompt = set.prompt.as_ref().unwrap();
    assert!(prompt.tokens <= prompt.budget && prompt.tokens > 100);

    let profile = profile();
    let reply_ids: BTreeSet<String> = reply_records()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    let prompt_clauses: BTreeSet<&str> = prompt.clauses.iter().map(|c| c.id.as_str()).collect();
    let prompt_replies: BTreeSet<&str> = prompt.examples.iter().map(|e| e.id.as_str()).collect();
    assert!(!prompt_clauses.is_empty() && !prompt_replies.is_empty());
    for c in &set.candidates {
        assert!(!c.citations.clauses.is_empty(), "{c:#?}");
        assert!(!c.citations.replies.is_empty(), "{c:#?}");
        for cited in &c.citations.clauses {
            assert!(profile.guidelines.get(&cited.id).is_some(), "{}", cited.id);
            assert!(prompt_clauses.contains(cited.id.as_str()), "{}", cited.id);
        }
        for cited in &c.citations.replies {
            assert!(reply_ids.contains(&cited.id), "{}", cited.id);
        }
        for v in &c.violations {
            assert!(profile.guidelines.get(&v.clause).is_some(), "{v:?}");
        }
        let s = c.score;
        assert!(
            (s.total - (0.5 * s.checks + 0.25 * s.relevance + 0.25 * s.closeness)).abs() < 1e-5
        );
        assert!(!c.text.contains("<|im_"), "{}", c.text);
    }
    // Ranks are 1..=n, and no generated candidate ranks above the adapted reply without
    // beating it on checks and total.
    let ranks: Vec<usize> = set.candidates.iter().map(|c| c.rank).collect();
    assert_eq!(ranks, [1, 2, 3, 4]);
    let adapted_at = set
        .candidates
        .iter()
        .position(|c| matches!(c.origin, Origin::AdaptedPastReply { .. }))
        .unwrap();
    let adapted = set.candidates[adapted_at].score;
    for c in &set.candidates[..adapted_at] {
        assert!(
            c.score.checks >= adapted.checks && c.score.total > adapted.total,
            "{c:#?}"
        );
    }
    // The adapted reply cites its own source first.
    let Origin::AdaptedPastReply { reply_id, .. } = &set.candidates[adapted_at].origin else {
        unreachable!()
    };
    assert_eq!(
        &set.candidates[adapted_at].citations.replies[0].id,
        reply_id
    );
    for c in set.candidates.iter().filter(|c| c.generation.is_some()) {
        let g = c.generation.as_ref().unwrap();
        assert!(g.generated_tokens > 0 && g.generated_tokens <= 48);
        // The budget counts turns conservatively: the engine's prompt is never longer.
        assert!(
            g.prompt_tokens <= prompt.tokens,
            "{} > {}",
            g.prompt_tokens,
            prompt.tokens
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn escalation_topics_go_to_a_person_without_generating() {
    let dir = tempfile::tempdir().unwrap();
    let (drafter, engine) = drafter(dir.path()).await;
    for text in [
        "Your grinder sparked and caught fire on my counter this morning.",
        "If this isn't fixed by Friday my lawyer will be in touch.",
        "I think my account was hacked, there's a fraudulent charge on it.",
    ] {
        let set = drafter
            .draft(&inbound("x", "@sam_k", text), &DraftOptions::default())
            .await
            .unwrap();
        assert!(set.escalated(), "{text}");
        assert!(!set.triage.screening.escalations.is_empty(), "{text}");
        assert!(set.candidates.is_empty() && set.prompt.is_none(), "{text}");
    }
    assert_eq!(engine.generations.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (drafter, _) = drafter(dir.path()).await;
    let mut other = inbound("x", "@sam_k", "hello");
    other.brand = "globex".into();
    let err = drafter
        .draft(&other, &DraftOptions::default())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("globex") && err.to_string().contains("northwind"),
        "{err}"
    );
    let err = drafter
        .draft(&inbound("fax", "@sam_k", "hello"), &DraftOptions::default())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no channel \"fax\""), "{err}");
    let options = DraftOptions {
        candidates: 50,
        ..DraftOptions::default()
    };
    let err = drafter
        .draft(&inbound("x", "@sam_k", "hello"), &options)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("at most 8"), "{err}");
    let options = DraftOptions {
        prompt_budget: 50,
        ..DraftOptions::default()
    };
    let err = drafter
        .draft(&inbound("x", "@sam_k", "hello"), &options)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("budget of 50 tokens"), "{err}");
}
