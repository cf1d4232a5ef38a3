//! Listings read a page at a time: messages in either order from a time or after a message,
//! the newest draft sets of a page of messages, and the newest audit entries of some brands.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, TimeZone, Utc};
use tact_workflow::audit::NewAuditEntry;
use tact_workflow::{AuditAction, BrandScope, Drafts, MessageFilter, QueueOrder, Status, Workflow};

use crate::support::{SECOND, Urgency, awaiting_review, candidate, inbound, triage};

async fn receive(wf: &Workflow, id: &str, brand: &str, at: DateTime<Utc>) -> anyhow::Result<()> {
    let audit = NewAuditEntry {
        actor: "inbound:test".into(),
        action: AuditAction::Received,
        from: None,
        to: Status::Received,
        at,
        draft_text: None,
        final_text: None,
        note: None,
    };
    wf.store()
        .insert_message(&inbound(id, brand), audit)
        .await?;
    Ok(())
}

async fn ids(wf: &Workflow, filter: &MessageFilter) -> anyhow::Result<Vec<String>> {
    Ok(wf
        .queue(filter)
        .await?
        .into_iter()
        .map(|m| m.inbound.id)
        .collect())
}

pub async fn listings_run_either_way_from_a_time_or_after_a_message(
    wf: Workflow,
) -> anyhow::Result<()> {
    let t0 = Utc.with_ymd_and_hms(2025, 5, 1, 9, 0, 0).unwrap();
    let minute = Duration::minutes(1);
    // Inserted out of order; `a-2` and `a-3` arrive in the same millisecond.
    receive(&wf, "a-4", "acme", t0 + minute * 2).await?;
    receive(&wf, "a-3", "acme", t0 + minute).await?;
    receive(&wf, "a-1", "acme", t0).await?;
    receive(&wf, "a-2", "acme", t0 + minute).await?;
    receive(&wf, "g-1", "globex", t0 + minute).await?;

    let acme = MessageFilter {
        brand: Some("acme".into()),
        ..MessageFilter::default()
    };
    assert_eq!(ids(&wf, &acme).await?, ["a-1", "a-2", "a-3", "a-4"]);
    let newest = MessageFilter {
        order: QueueOrder::NewestFirst,
        ..acme.clone()
    };
    assert_eq!(ids(&wf, &newest).await?, ["a-4", "a-3", "a-2", "a-1"]);

    // Page by page, resuming after the last message of the previous page, ties by id.
    for (filter, pages) in [
        (&acme, [["a-1", "a-2"], ["a-3", "a-4"]]),
        (&newest, [["a-4", "a-3"], ["a-2", "a-1"]]),
    ] {
        let mut page = MessageFilter {
            limit: Some(2),
            ..filter.clone()
        };
        let first = wf.queue(&page).await?;
        assert_eq!(
            first.iter().map(|m| &m.inbound.id).collect::<Vec<_>>(),
            pages[0]
        );
        page.after = first.last().map(|m| m.position());
        assert_eq!(ids(&wf, &page).await?, pages[1]);
        page.after = Some(wf.message(pages[1][1]).await?.position());
        assert!(ids(&wf, &page).await?.is_empty(), "the listing ended");
    }

    // `received_since` includes its own instant, with or without a brand.
    let since = MessageFilter {
        received_since: Some(t0 + minute),
        ..acme.clone()
    };
    assert_eq!(ids(&wf, &since).await?, ["a-2", "a-3", "a-4"]);
    let recent_first = MessageFilter {
        brand: None,
        order: QueueOrder::NewestFirst,
        limit: Some(3),
        ..since.clone()
    };
    assert_eq!(ids(&wf, &recent_first).await?, ["a-4", "g-1", "a-3"]);
    let later = MessageFilter {
        received_since: Some(t0 + minute * 3),
        ..acme.clone()
    };
    assert!(ids(&wf, &later).await?.is_empty());

    // The other conditions still apply alongside.
    let m = wf.message("a-2").await?;
    wf.start_drafting("a-2", m.version, "drafter").await?;
    let waiting = MessageFilter {
        status: Some(Status::Received),
        ..since
    };
    assert_eq!(ids(&wf, &waiting).await?, ["a-3", "a-4"]);
    Ok(())
}

pub async fn the_newest_draft_sets_of_a_page_come_in_one_call(wf: Workflow) -> anyhow::Result<()> {
    awaiting_review(&wf, "m-1", "acme").await?;
    let m = awaiting_review(&wf, "m-2", "acme").await?;
    let m = wf.redraft("m-2", m.version, "ann").await?;
    let redrafted = Drafts {
        candidates: vec![candidate(SECOND)],
        triage: triage(Urgency::Low),
    };
    wf.drafts_ready("m-2", m.version, "drafter", redrafted.clone())
        .await?;
    wf.submit(&inbound("m-3", "acme"), "inbound:test").await?;

    // More ids than one statement binds, with a drafted message on each side of the split.
    let mut page: Vec<String> = vec!["m-1".into(), "m-3".into()];
    page.extend((0..1200).map(|i| format!("unknown-{i}")));
    page.push("m-2".into());
    let sets = wf.store().latest_draft_sets(&page).await?;
    assert_eq!(
        sets.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        BTreeSet::from(["m-1", "m-2"]),
        "only messages with drafts, once each"
    );
    assert_eq!(sets["m-2"], redrafted, "the newest draft set");
    for id in ["m-1", "m-2"] {
        assert_eq!(Some(&sets[id]), wf.store().draft_set(id).await?.as_ref());
    }
    assert_eq!(sets["m-1"].candidates.len(), 2);
    assert!(wf.store().latest_draft_sets(&[]).await?.is_empty());
    Ok(())
}

pub async fn recent_audit_is_newest_first_within_the_brands(wf: Workflow) -> anyhow::Result<()> {
    awaiting_review(&wf, "m-1", "acme").await?;
    awaiting_review(&wf, "m-2", "globex").await?;
    wf.submit(&inbound("m-3", "initech"), "inbound:test")
        .await?;
    let m = wf.message("m-1").await?;
    wf.reject("m-1", m.version, "bob", "off-brand").await?;

    let mut everything = Vec::new();
    for id in ["m-1", "m-2", "m-3"] {
        everything.extend(wf.store().audit_log(id).await?);
    }
    everything.sort_by_key(|e| std::cmp::Reverse(e.seq));
    assert_eq!(everything.len(), 8);

    let store = wf.store();
    assert_eq!(store.recent_audit(&BrandScope::All, 100).await?, everything);
    assert_eq!(
        store.recent_audit(&BrandScope::All, 3).await?,
        everything[..3],
        "the newest three"
    );
    let some = BrandScope::Only(vec!["acme".into(), "initech".into()]);
    let expected: Vec<_> = everything
        .iter()
        .filter(|e| e.brand != "globex")
        .cloned()
        .collect();
    assert_eq!(store.recent_audit(&some, 100).await?, expected);
    assert_eq!(
        store.recent_audit(&some, 1).await?[0].action,
        AuditAction::Rejected
    );
    assert!(
        store
            .recent_audit(&BrandScope::Only(Vec::new()), 100)
            .await?
            .is_empty()
    );
    Ok(())
}
