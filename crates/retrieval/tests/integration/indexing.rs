//! The embedded store's HNSW index: built in the background after writes, waited for by
//! `optimize`, kept across a restart, and searches stay right before, during and after.

use std::time::{Duration, Instant};

use tact_core::{
    KnowledgeEntry, KnowledgeFilter, KnowledgeKind, KnowledgePoint, KnowledgeQuery, SparseVector,
    VectorStore,
};
use tact_retrieval::EmbeddedStore;

const DIM: usize = 384;
/// Past qdrant-edge's indexing threshold (10,000 KB of vectors: about 6,700 of 384 floats),
/// so one segment must get an HNSW graph.
const POINTS: u64 = 8_000;

/// Deterministic pseudo-random unit vectors.
fn vector(seed: u64) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let v: Vec<f32> = (0..DIM)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        })
        .collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.into_iter().map(|x| x / norm).collect()
}

fn point(id: u64) -> KnowledgePoint {
    KnowledgePoint {
        id,
        entry: KnowledgeEntry {
            brand: if id.is_multiple_of(10) {
                "small"
            } else {
                "big"
            }
            .into(),
            kind: KnowledgeKind::Reply,
            cite: format!("r{id}"),
            source: "synthetic".into(),
            text: format!("inbound {id}"),
            reply: Some(format!("reply {id}")),
            channel: None,
            created_at: None,
            content_hash: format!("hash-{id}"),
        },
        dense: vector(id),
        sparse: SparseVector::default(),
        reply_dense: None,
    }
}

async fn write(store: &EmbeddedStore) {
    let ids: Vec<u64> = (1..=POINTS).collect();
    for chunk in ids.chunks(500) {
        store
            .upsert(chunk.iter().copied().map(point).collect())
            .await
            .unwrap();
    }
}

/// Each probe's own vector must come back first, under its brand only.
async fn assert_finds_itself(store: &EmbeddedStore) {
    for id in [1, 10, 2_345, 5_000, 7_999, 8_000] {
        let brand = if id % 10 == 0 { "small" } else { "big" };
        let hits = store
            .search(&KnowledgeQuery {
                dense: vector(id),
                sparse: None,
                filter: KnowledgeFilter::brand(brand),
                limit: 5,
                with_vectors: false,
            })
            .await
            .unwrap();
        assert_eq!(hits.len(), 5, "probe {id}");
        assert_eq!(hits[0].id, id, "probe {id}: {:?}", hits[0]);
        assert!(hits.iter().all(|h| h.entry.brand == brand), "probe {id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_are_indexed_in_the_background_and_the_index_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path(), DIM).unwrap();
    write(&store).await;
    // Right after the writes, searches are already right: unindexed segments are searched
    // exactly.
    assert_finds_itself(&store).await;

    // Nobody calls optimize: the indexer thread must build the graph on its own.
    let started = Instant::now();
    let status = loop {
        let status = store.index_status();
        if status.indexed_vectors > 0 {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "no vector indexed 300 s after the writes: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(status.points, POINTS as usize, "{status:?}");
    store.optimize().await.unwrap();
    let settled = store.index_status();
    assert!(
        settled.indexed_vectors >= POINTS as usize * 8 / 10,
        "after optimize most vectors are indexed: {settled:?}"
    );
    assert_finds_itself(&store).await;

    drop(store);
    let reopened = EmbeddedStore::open(dir.path(), DIM).unwrap();
    let status = reopened.index_status();
    assert_eq!(status.points, POINTS as usize, "{status:?}");
    assert!(
        status.indexed_vectors >= settled.indexed_vectors,
        "the index is kept across a restart: {status:?} after {settled:?}"
    );
    assert_finds_itself(&reopened).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_the_store_while_it_indexes_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path(), DIM).unwrap();
    write(&store).await;
    // Close at once: a pass may be running (closing waits for it) or pending (skipped).
    drop(store);
    let reopened = EmbeddedStore::open(dir.path(), DIM).unwrap();
    assert_eq!(
        reopened
            .count(&KnowledgeFilter::brand("big"))
            .await
            .unwrap(),
        (POINTS - POINTS / 10) as usize
    );
    assert_finds_itself(&reopened).await;
    // The reopened store schedules the pass the closed one skipped.
    reopened.optimize().await.unwrap();
    assert!(reopened.index_status().indexed_vectors > 0);
    assert_finds_itself(&reopened).await;
}
