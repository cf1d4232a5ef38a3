//! Ingest on the real model and embedded Qdrant: idempotence, replacement, bad rows,
//! persistence across a reopen, brand isolation.

use tact_core::{KnowledgeFilter, KnowledgeKind};
use tact_retrieval::{
    Error, GuidelineDocument, KnowledgeBase, RetrievalMode, Search, read_guideline_documents,
};

use crate::common::{data, guideline_documents, knowledge_base, no_progress};

fn documents() -> Vec<GuidelineDocument> {
    guideline_documents()
        .into_iter()
        .map(|(name, markdown)| GuidelineDocument { name, markdown })
        .collect()
}

fn search(brand: &str, text: &str, kind: Option<KnowledgeKind>) -> Search {
    let mut filter = KnowledgeFilter::brand(brand);
    filter.kind = kind;
    Search {
        filter,
        text: text.into(),
        limit: 5,
        mode: RetrievalMode::Dense,
    }
}

async fn count(kb: &KnowledgeBase, brand: &str) -> usize {
    kb.store()
        .count(&KnowledgeFilter::brand(brand))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn reingesting_the_same_files_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (kb, _store) = knowledge_base(dir.path());
    let replies = data("replies.jsonl");

    let first = kb
        .ingest_guidelines("acme", &documents(), &no_progress)
        .await
        .unwrap();
    assert_eq!((first.added, first.unchanged, first.replaced), (21, 0, 0));
    let first = kb
        .ingest_replies("acme", &replies, false, &no_progress)
        .await
        .unwrap();
    assert_eq!((first.added, first.unchanged, first.replaced), (30, 0, 0));
    assert_eq!(count(&kb, "acme").await, 51);

    let calls = std::sync::atomic::AtomicUsize::new(0);
    let progress = |done: usize, total: usize| {
        assert_eq!((done, total), (0, 0), "nothing to embed the second time");
        calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    };
    let again = kb
        .ingest_guidelines("acme", &documents(), &progress)
        .await
        .unwrap();
    assert_eq!(
        (again.added, again.unchanged, again.replaced, again.removed),
        (0, 21, 0, 0)
    );
    let again = kb
        .ingest_replies("acme", &replies, false, &progress)
        .await
        .unwrap();
    assert_eq!((again.added, again.unchanged, again.replaced), (0, 30, 0));
    assert_eq!(count(&kb, "acme").await, 51);
    assert_eq!(calls.into_inner(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_edited_document_replaces_and_removes_its_clauses() {
    let dir = tempfile::tempdir().unwrap();
    let (kb, _store) = knowledge_base(dir.path());
    let original = GuidelineDocument {
        name: "tone.md".into(),
        markdown:
            "## Greetings\n\nSay hi.\n\nSign off with the team name.\n\n## Other\n\nBe kind.\n"
                .into(),
    };
    kb.ingest_guidelines("acme", &[original], &no_progress)
        .await
        .unwrap();
    let edited = GuidelineDocument {
        name: "tone.md".into(),
        markdown: "## Greetings\n\nSay hello.\n\n## Other\n\nBe kind.\n".into(),
    };
    let summary = kb
        .ingest_guidelines("acme", &[edited], &no_progress)
        .await
        .unwrap();
    assert_eq!(
        (
            summary.added,
            summary.unchanged,
            summary.replaced,
            summary.removed
        ),
        (0, 1, 1, 1)
    );
    let hits = kb
        .search(&search(
            "acme",
            "greeting the customer",
            Some(KnowledgeKind::Guideline),
        ))
        .await
        .unwrap();
    let texts: Vec<&str> = hits.iter().map(|h| h.entry.text.as_str()).collect();
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(texts.contains(&"Say hello."), "{texts:?}");
    assert!(
        !texts
            .iter()
            .any(|t| t.contains("Sign off") || *t == "Say hi.")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_rows_are_reported_by_line_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let (kb, _store) = knowledge_base(dir.path());
    let summary = kb
        .ingest_replies("acme", &data("bad-replies.csv"), false, &no_progress)
        .await
        .unwrap();
    assert_eq!(summary.added, 2);
    let rejected: Vec<String> = summary.rejected.iter().map(ToString::to_string).collect();
    assert_eq!(rejected.len(), 4, "{rejected:?}");
    assert!(
        rejected[0].starts_with("line 3: field `inbound` is empty"),
        "{rejected:?}"
    );
    assert!(
        rejected[1].starts_with("line 4: field `created_at`"),
        "{rejected:?}"
    );
    assert!(
        rejected[2].starts_with("line 5: brand \"globex\""),
        "{rejected:?}"
    );
    assert!(
        rejected[3].starts_with("line 7: field `inbound` is not valid UTF-8"),
        "{rejected:?}"
    );
    let cites: Vec<String> = kb
        .store()
        .search(&tact_core::KnowledgeQuery {
            dense: vec![0.05; 384],
            sparse: None,
            filter: KnowledgeFilter::brand("acme"),
            limit: 10,
            with_vectors: false,
        })
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.entry.cite)
        .collect();
    let mut cites = cites;
    cites.sort();
    assert_eq!(cites, ["b1", "b5"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn strict_ingest_writes_nothing_when_a_row_is_bad() {
    let dir = tempfile::tempdir().unwrap();
    let (kb, _store) = knowledge_base(dir.path());
    let err = kb
        .ingest_replies("acme", &data("bad-replies.csv"), true, &no_progress)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Rejected { count: 4, .. }), "{err}");
    assert!(err.to_string().contains("line 3"), "{err}");
    assert_eq!(count(&kb, "acme").await, 0);
    // The same file without its bad rows goes in whole.
    let summary = kb
        .ingest_replies("acme", &data("replies.jsonl"), true, &no_progress)
        .await
        .unwrap();
    assert_eq!(summary.added, 30);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_store_persists_across_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let question = "my parcel is late, where is it?";
    let before = {
        let (kb, _store) = knowledge_base(dir.path());
        kb.ingest_guidelines("acme", &documents(), &no_progress)
            .await
            .unwrap();
        kb.ingest_replies("acme", &data("replies.jsonl"), false, &no_progress)
            .await
            .unwrap();
        kb.search(&search("acme", question, None)).await.unwrap()
    };
    assert_eq!(before.len(), 5);
    // Everything above is dropped: the shard is flushed and the lock released.
    let (kb, _store) = knowledge_base(dir.path());
    assert_eq!(count(&kb, "acme").await, 51);
    let after = kb.search(&search("acme", question, None)).await.unwrap();
    let ids = |hits: &[tact_core::KnowledgeHit]| hits.iter().map(|h| h.id).collect::<Vec<_>>();
    assert_eq!(ids(&after), ids(&before));
    for (a, b) in after.iter().zip(&before) {
        assert!((a.score - b.score).abs() < 1e-5);
    }
    let again = kb
        .ingest_replies("acme", &data("replies.jsonl"), false, &no_progress)
        .await
        .unwrap();
    assert_eq!(again.unchanged, 30, "content hashes survive the reopen");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_brand_never_sees_another_brands_records() {
    let dir = tempfile::tempdir().unwrap();
    let (kb, _store) = knowledge_base(dir.path());
    // Globex gets exactly acme's guidelines and replies: the most similar records possible.
    for brand in ["acme", "globex"] {
        kb.ingest_guidelines(brand, &documents(), &no_progress)
            .await
            .unwrap();
    }
    let globex_replies = dir.path().join("globex.jsonl");
    std::fs::write(
        &globex_replies,
        std::fs::read_to_string(data("replies.jsonl"))
            .unwrap()
            .replace("\"brand\": \"acme\"", "\"brand\": \"globex\""),
    )
    .unwrap();
    kb.ingest_replies("acme", &data("replies.jsonl"), false, &no_progress)
        .await
        .unwrap();
    kb.ingest_replies("globex", &globex_replies, false, &no_progress)
        .await
        .unwrap();
    assert_eq!(count(&kb, "globex").await, 51);

    for mode in [RetrievalMode::Dense, RetrievalMode::Hybrid] {
        for text in ["Where is my order?", "Do you sell decaf beans?", "emoji"] {
            let mut request = search("acme", text, None);
            request.mode = mode;
            request.limit = 100;
            let hits = kb.search(&request).await.unwrap();
            assert_eq!(hits.len(), 51, "{mode:?} {text}");
            assert!(
                hits.iter().all(|h| h.entry.brand == "acme"),
                "{mode:?} {text}"
            );
        }
    }
}

#[test]
fn guideline_directories_are_read_recursively_and_bad_utf8_is_named() {
    let docs = read_guideline_documents(&[data("guidelines")]).unwrap();
    let names: Vec<&str> = docs.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["support-policies.md", "voice-and-tone.md"]);

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.md");
    std::fs::write(&bad, b"# ok\n\nfine\n\ncaf\xe9\n").unwrap();
    let err = read_guideline_documents(&[bad]).unwrap_err();
    assert!(err.to_string().contains("line 5: not valid UTF-8"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_search_with_the_callers_vector_returns_the_stored_vectors() {
    use tact_core::Embedder;
    let dir = tempfile::tempdir().unwrap();
    let (kb, _store) = knowledge_base(dir.path());
    kb.ingest_guidelines("acme", &documents(), &no_progress)
        .await
        .unwrap();
    kb.ingest_replies("acme", &data("replies.jsonl"), false, &no_progress)
        .await
        .unwrap();
    let embedder = crate::common::embedder();
    let text = "my parcel never arrived";
    let vector = embedder.embed(&[text]).unwrap().remove(0);

    // Same hits as embedding the text here, now with each entry's vectors.
    let replies = search("acme", text, Some(KnowledgeKind::Reply));
    let plain = kb.search(&replies).await.unwrap();
    let hits = kb.search_embedded(&replies, &vector).await.unwrap();
    assert_eq!(
        hits.iter().map(|h| h.id).collect::<Vec<_>>(),
        plain.iter().map(|h| h.id).collect::<Vec<_>>()
    );
    assert!(
        plain
            .iter()
            .all(|h| h.dense.is_none() && h.reply_dense.is_none())
    );
    let close = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>() > 0.9999;
    for hit in &hits {
        let reply = hit.entry.reply.as_deref().unwrap();
        let want = embedder.embed(&[&hit.entry.text, reply]).unwrap();
        assert!(
            close(hit.dense.as_deref().unwrap(), &want[0]),
            "{}",
            hit.entry.cite
        );
        assert!(
            close(hit.reply_dense.as_deref().unwrap(), &want[1]),
            "{}",
            hit.entry.cite
        );
    }
    let clauses = kb
        .search_embedded(
            &search("acme", text, Some(KnowledgeKind::Guideline)),
            &vector,
        )
        .await
        .unwrap();
    assert!(
        clauses
            .iter()
            .all(|h| h.dense.is_some() && h.reply_dense.is_none())
    );

    // A vector of the wrong size is refused by name.
    let err = kb.search_embedded(&replies, &[0.5; 3]).await.unwrap_err();
    assert!(err.to_string().contains("3 dimensions"), "{err}");
}
