//! One behaviour, two backends: every `VectorStore` must pass `suite`.

use tact_core::{
    KnowledgeEntry, KnowledgeError, KnowledgeFilter, KnowledgeKind, KnowledgePoint, KnowledgeQuery,
    SparseVector, VectorStore,
};
use tact_retrieval::{ClusterConfig, ClusterStore, EmbeddedStore};

const DIM: usize = 8;

fn unit(direction: &[f32]) -> Vec<f32> {
    let mut v = [0.0; DIM];
    v[..direction.len()].copy_from_slice(direction);
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter().map(|x| x / norm).collect()
}

fn point(
    id: u64,
    brand: &str,
    kind: KnowledgeKind,
    channel: Option<&str>,
    dense: Vec<f32>,
    terms: &[u32],
) -> KnowledgePoint {
    KnowledgePoint {
        id,
        entry: KnowledgeEntry {
            brand: brand.into(),
            kind,
            cite: format!("cite-{id}"),
            source: format!("source-{}", id % 2),
            text: format!("text {id}"),
            reply: (kind == KnowledgeKind::Reply).then(|| format!("reply {id}")),
            channel: channel.map(Into::into),
            created_at: None,
            content_hash: format!("hash-{id}"),
        },
        dense,
        sparse: SparseVector {
            indices: terms.to_vec(),
            values: vec![1.0; terms.len()],
        },
        // A reply's own vector points elsewhere than its entry's, so a mix-up shows.
        reply_dense: (kind == KnowledgeKind::Reply).then(|| unit(&[0.0, 0.0, 1.0, id as f32])),
    }
}

fn assert_close(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    let off = got
        .iter()
        .zip(want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(off < 1e-5, "{what}: off by {off}");
}

fn query(dense: Vec<f32>, filter: KnowledgeFilter, limit: usize) -> KnowledgeQuery {
    KnowledgeQuery {
        dense,
        sparse: None,
        filter,
        limit,
        with_vectors: false,
    }
}

/// The behaviour every store must have.
pub async fn suite(store: &dyn VectorStore) {
    use KnowledgeKind::{Guideline, Reply};
    let points = vec![
        point(1, "acme", Guideline, None, unit(&[1.0]), &[10, 11]),
        point(2, "acme", Guideline, None, unit(&[1.0, 0.3]), &[12]),
        point(3, "acme", Reply, Some("x"), unit(&[0.0, 1.0]), &[13]),
        point(
            4,
            "acme",
            Reply,
            Some("instagram"),
            unit(&[1.0, 1.0]),
            &[14, 99],
        ),
        // Identical to acme's best match: it must never surface for acme.
        point(5, "globex", Guideline, None, unit(&[1.0]), &[10, 11]),
        point(6, "globex", Reply, Some("x"), unit(&[0.0, 1.0]), &[13]),
    ];
    store.upsert(points.clone()).await.unwrap();

    // Counts follow every filter.
    let acme = KnowledgeFilter::brand("acme");
    assert_eq!(store.count(&acme).await.unwrap(), 4);
    assert_eq!(store.count(&acme.clone().kind(Reply)).await.unwrap(), 2);
    assert_eq!(store.count(&acme.clone().channel("x")).await.unwrap(), 1);
    assert_eq!(
        store.count(&acme.clone().source("source-0")).await.unwrap(),
        2
    );
    assert_eq!(
        store
            .count(&KnowledgeFilter::brand("nobody"))
            .await
            .unwrap(),
        0
    );

    // Nearest first, cosine scores, limit respected, payload intact.
    let hits = store
        .search(&query(unit(&[1.0]), acme.clone(), 3))
        .await
        .unwrap();
    let ids: Vec<u64> = hits.iter().map(|h| h.id).collect();
    assert_eq!(ids, [1, 2, 4]);
    assert!((hits[0].score - 1.0).abs() < 1e-4, "{}", hits[0].score);
    assert!(hits[0].score > hits[1].score && hits[1].score > hits[2].score);
    assert_eq!(hits[0].entry, points[0].entry);

    // Brand isolation: globex's identical points never come back for acme, however many are
    // asked for, and acme's never for globex.
    let all_acme = store
        .search(&query(unit(&[1.0]), acme.clone(), 100))
        .await
        .unwrap();
    assert_eq!(all_acme.len(), 4);
    assert!(all_acme.iter().all(|h| h.entry.brand == "acme"));
    let globex = store
        .search(&query(
            unit(&[1.0, 0.5]),
            KnowledgeFilter::brand("globex"),
            100,
        ))
        .await
        .unwrap();
    assert_eq!(globex.iter().map(|h| h.id).collect::<Vec<_>>(), [5, 6]);

    // Kind and channel filters.
    let replies = store
        .search(&query(unit(&[1.0]), acme.clone().kind(Reply), 10))
        .await
        .unwrap();
    assert_eq!(replies.iter().map(|h| h.id).collect::<Vec<_>>(), [4, 3]);
    let x = store
        .search(&query(
            unit(&[1.0]),
            acme.clone().kind(Reply).channel("x"),
            10,
        ))
        .await
        .unwrap();
    assert_eq!(x.iter().map(|h| h.id).collect::<Vec<_>>(), [3]);

    // Stored vectors come back only when asked for: each entry's own, and a reply's beside it.
    assert!(
        replies
            .iter()
            .all(|h| h.dense.is_none() && h.reply_dense.is_none())
    );
    let mut with_vectors = query(unit(&[1.0]), acme.clone(), 10);
    with_vectors.with_vectors = true;
    let hits = store.search(&with_vectors).await.unwrap();
    assert_eq!(hits.len(), 4);
    for hit in &hits {
        let stored = points.iter().find(|p| p.id == hit.id).unwrap();
        let what = format!("point {}", hit.id);
        assert_close(
            hit.dense.as_deref().expect("dense vector"),
            &stored.dense,
            &what,
        );
        match (&hit.reply_dense, &stored.reply_dense) {
            (Some(got), Some(want)) => assert_close(got, want, &what),
            (None, None) => {}
            (got, _) => panic!("{what}: reply vector {got:?}"),
        }
    }

    // Hybrid: a point far in dense space but the only keyword match rises to the top two.
    let mut hybrid = query(unit(&[1.0]), acme.clone(), 2);
    hybrid.sparse = Some(SparseVector {
        indices: vec![13],
        values: vec![1.0],
    });
    let fused = store.search(&hybrid).await.unwrap();
    let fused_ids: Vec<u64> = fused.iter().map(|h| h.id).collect();
    assert!(fused_ids.contains(&3), "{fused_ids:?}");
    assert!(fused.iter().all(|h| h.entry.brand == "acme"));

    // Content hashes of existing ids only.
    let mut hashes = store.content_hashes(&[1, 4, 77]).await.unwrap();
    hashes.sort();
    assert_eq!(
        hashes,
        [(1, "hash-1".to_string()), (4, "hash-4".to_string())]
    );

    // Upserting an existing id replaces it.
    let mut edited = points[0].clone();
    edited.entry.text = "edited".into();
    edited.entry.content_hash = "hash-1b".into();
    store.upsert(vec![edited]).await.unwrap();
    assert_eq!(store.count(&acme).await.unwrap(), 4);
    assert_eq!(
        store.content_hashes(&[1]).await.unwrap(),
        [(1, "hash-1b".to_string())]
    );

    // Ids by filter, and delete (missing ids are ignored).
    let mut ids = store.ids(&acme.clone().kind(Guideline)).await.unwrap();
    ids.sort();
    assert_eq!(ids, [1, 2]);
    store.delete(&[2, 404]).await.unwrap();
    assert_eq!(store.count(&acme).await.unwrap(), 3);
    assert_eq!(
        store
            .count(&KnowledgeFilter::brand("globex"))
            .await
            .unwrap(),
        2
    );

    // Bad requests are named.
    let err = store
        .search(&query(vec![1.0; 3], acme.clone(), 1))
        .await
        .unwrap_err();
    assert!(matches!(err, KnowledgeError::InvalidRequest(_)), "{err}");
    let err = store
        .search(&query(unit(&[1.0]), KnowledgeFilter::brand(" "), 1))
        .await
        .unwrap_err();
    assert!(matches!(err, KnowledgeError::InvalidRequest(_)), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn embedded_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path(), DIM).unwrap();
    suite(&store).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn cluster_store_conforms() {
    let Ok(url) = std::env::var("TACT_TEST_QDRANT_URL") else {
        println!(
            "SKIPPED cluster_store_conforms: TACT_TEST_QDRANT_URL is not set (no Qdrant server to \
             test against)"
        );
        return;
    };
    let config = ClusterConfig {
        url,
        api_key: std::env::var("TACT_TEST_QDRANT_API_KEY").ok(),
        collection_prefix: format!("tact_test_{}_", std::process::id()),
    };
    let store = ClusterStore::connect(&config, DIM).await.unwrap();
    suite(&store).await;
    store.drop_collection().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_opener_is_told_the_store_is_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let first = EmbeddedStore::open(dir.path(), DIM).unwrap();
    let err = EmbeddedStore::open(dir.path(), DIM).unwrap_err();
    assert!(matches!(err, KnowledgeError::StoreInUse { .. }), "{err}");
    assert!(err.to_string().contains("in use"), "{err}");
    drop(first);
    EmbeddedStore::open(dir.path(), DIM).expect("free again once the first is closed");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_store_refuses_vectors_of_another_size() {
    let dir = tempfile::tempdir().unwrap();
    drop(EmbeddedStore::open(dir.path(), DIM).unwrap());
    let err = EmbeddedStore::open(dir.path(), 384).unwrap_err();
    assert!(err.to_string().contains("8"), "{err}");
}
