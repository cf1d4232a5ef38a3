//! The knowledge-write seam (`tact_core::KnowledgeWriter`) on the real model and embedded
//! Qdrant: approved replies added once, retired by cite, guideline documents replaced whole.

use tact_core::{KnowledgeFilter, KnowledgeKind, KnowledgeWriter, LearnedReply};

use crate::common::knowledge_base;

fn reply(cite: &str, inbound: &str) -> LearnedReply {
    LearnedReply {
        brand: "acme".into(),
        cite: cite.into(),
        channel: "x".into(),
        inbound: inbound.into(),
        reply: "Sorry about that! DM us your order number.".into(),
        created_at: "2026-01-01T00:00:00Z".into(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn replies_are_added_once_and_retired_by_cite() {
    let dir = tempfile::tempdir().unwrap();
    let (kb, _store) = knowledge_base(dir.path());
    let writer: &dyn KnowledgeWriter = &kb;
    let replies = [
        reply("approved-m1", "my parcel never arrived"),
        reply("approved-m2", "the beans were stale"),
    ];
    let first = writer
        .add_replies("workflow:approved", &replies)
        .await
        .unwrap();
    assert_eq!((first.added, first.unchanged), (2, 0));
    let again = writer
        .add_replies("workflow:approved", &replies)
        .await
        .unwrap();
    assert_eq!((again.added, again.unchanged), (0, 2));

    let filter = KnowledgeFilter::brand("acme").kind(KnowledgeKind::Reply);
    let retired = writer
        .retire_replies("acme", &["approved-m1".into(), "approved-unknown".into()])
        .await
        .unwrap();
    assert_eq!(retired.removed, 1);
    assert_eq!(kb.store().count(&filter).await.unwrap(), 1);
    // Another brand's reply of the same cite is not touched.
    let other = writer
        .retire_replies("globex", &["approved-m2".into()])
        .await
        .unwrap();
    assert_eq!(other.removed, 0);
    assert_eq!(kb.store().count(&filter).await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_replaced_document_retires_the_clauses_it_no_longer_has() {
    let dir = tempfile::tempdir().unwrap();
    let (kb, _store) = knowledge_base(dir.path());
    let writer: &dyn KnowledgeWriter = &kb;
    let two = "# Tone\n\nBe warm.\n\nNever blame the customer.\n";
    let first = writer
        .replace_guidelines("acme", "voice.md", two)
        .await
        .unwrap();
    assert_eq!(first.added, 2);
    let one = "# Tone\n\nBe warm.\n";
    let second = writer
        .replace_guidelines("acme", "voice.md", one)
        .await
        .unwrap();
    assert_eq!((second.unchanged, second.removed), (1, 1));
    let filter = KnowledgeFilter::brand("acme").kind(KnowledgeKind::Guideline);
    assert_eq!(kb.store().count(&filter).await.unwrap(), 1);
}
