//! The embedded store: one qdrant-edge shard in a directory, in this process.
//!
//! qdrant-edge is synchronous, so every trait method runs it on tokio's blocking pool. A shard
//! directory can be opened by one process only; a lock file taken before opening turns a
//! second opener into [`KnowledgeError::StoreInUse`] instead of a WAL error.
//!
//! Indexing. qdrant-edge builds HNSW only in `optimize()`, and only for segments past the
//! indexing threshold (smaller ones are searched exactly). Optimising after every write made a
//! bulk ingest quadratic: each pass merged the growing segments and rebuilt their graph. So,
//! as a Qdrant server does, an indexer thread optimises in the background: writes only mark the
//! store as needing it, and a pass covers every write made before it started. A pass waits for
//! [`QUIET`] without writes (at most [`MAX_DELAY`] after the first unindexed write), so a bulk
//! ingest is not slowed by graph builds of segments it is still filling (Qdrant's advice for
//! bulk uploads is the same: index after). Searches stay correct meanwhile (unindexed segments
//! are searched exactly, and the optimiser works on proxy segments), only slower.
//! [`VectorStore::optimize`] waits for a pass of its own; closing the store waits for a running
//! pass and skips a pending one (the next open schedules it).

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use qdrant_edge::{
    CreateIndex, Distance, EdgeConfigBuilder, EdgeShard, EdgeSparseVectorParamsBuilder,
    EdgeVectorParamsBuilder, FieldIndexOperations, Filter, Fusion, JsonPath, Modifier, NamedQuery,
    PayloadFieldSchema, PayloadSchemaType, PointId, PointInsertOperations, PointOperations,
    PointStruct, PointStructPersisted, Prefetch, QueryEnum, QueryRequest, ScoringQuery,
    ScrollRequest, UpdateOperation, Vector, VectorInternal, VectorStructInternal, Vectors,
    WithPayloadInterface, WithVector,
};
use tact_core::{
    KnowledgeEntry, KnowledgeError, KnowledgeFilter, KnowledgeHit, KnowledgePoint, KnowledgeQuery,
    VectorStore,
};

use super::{DENSE, INDEXED_FIELDS, KEYWORDS, REPLY, RRF_K, check_query, prefetch_limit};

const SHARD_DIR: &str = "shard";
const LOCK_FILE: &str = "tact.lock";
const SCROLL_PAGE: usize = 1024;
/// Time without writes after which the indexer runs a pass.
const QUIET: Duration = Duration::from_secs(2);
/// Longest an unindexed write waits for a pass while writes keep coming.
const MAX_DELAY: Duration = Duration::from_secs(120);

/// A knowledge store in a local directory.
#[derive(Clone)]
pub struct EmbeddedStore {
    inner: Arc<Inner>,
}

struct Inner {
    shard: Arc<EdgeShard>,
    dimension: usize,
    /// Whether the shard keeps reply vectors ([`REPLY`]); one created before them does not.
    reply_vectors: bool,
    dir: PathBuf,
    indexer: Indexer,
    // Held for the store's lifetime: the lock is released when the file is closed, after
    // the indexer has stopped (fields drop after `Drop::drop`).
    _lock: File,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.indexer.stop();
    }
}

/// What [`EmbeddedStore::index_status`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexStatus {
    pub points: usize,
    /// Vectors, dense and keyword, held in a built index.
    pub indexed_vectors: usize,
    pub segments: usize,
}

/// The background indexer: one thread that runs `optimize()` whenever writes asked for it.
struct Indexer {
    state: Arc<IndexerState>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct IndexerState {
    flags: Mutex<IndexerFlags>,
    wake: Condvar,
    /// Held for the whole of every optimisation pass, so passes never overlap.
    pass: Mutex<()>,
}

#[derive(Default)]
struct IndexerFlags {
    /// When the oldest write not covered by a pass was made.
    pending_since: Option<Instant>,
    last_write: Option<Instant>,
    stop: bool,
}

impl IndexerFlags {
    /// How long the indexer should still wait before a pass; `None` when nothing is pending.
    fn wait(&self, now: Instant) -> Option<Duration> {
        let since = self.pending_since?;
        let last = self.last_write.unwrap_or(since);
        let quiet = (last + QUIET).saturating_duration_since(now);
        let deadline = (since + MAX_DELAY).saturating_duration_since(now);
        Some(quiet.min(deadline))
    }
}

impl Indexer {
    fn start(shard: Arc<EdgeShard>, dir: &Path) -> Result<Self, KnowledgeError> {
        let state = Arc::new(IndexerState::default());
        let thread = std::thread::Builder::new()
            .name("tact-indexer".into())
            .spawn({
                let state = state.clone();
                let dir = dir.display().to_string();
                move || state.run(&shard, &dir)
            })
            .map_err(|e| KnowledgeError::Store(format!("cannot start the indexer thread: {e}")))?;
        Ok(Self {
            state,
            thread: Some(thread),
        })
    }

    /// Asks for a pass; returns at once.
    fn schedule(&self) {
        let now = Instant::now();
        let mut flags = self.state.flags();
        flags.pending_since.get_or_insert(now);
        flags.last_write = Some(now);
        drop(flags);
        self.state.wake.notify_one();
    }

    /// Runs a pass now, on this thread, after any running one.
    fn optimize_now(&self, shard: &EdgeShard) -> Result<(), KnowledgeError> {
        let _pass = self
            .state
            .pass
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        self.state.flags().pending_since = None;
        shard.optimize().map(|_| ()).map_err(store_error)
    }

    fn stop(&mut self) {
        self.state.flags().stop = true;
        self.state.wake.notify_one();
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the knowledge store's indexer thread panicked");
        }
    }
}

impl IndexerState {
    fn flags(&self) -> std::sync::MutexGuard<'_, IndexerFlags> {
        self.flags.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn run(&self, shard: &EdgeShard, dir: &str) {
        loop {
            {
                let mut flags = self.flags();
                loop {
                    if flags.stop {
                        return;
                    }
                    flags = match flags.wait(Instant::now()) {
                        Some(wait) if wait.is_zero() => break,
                        Some(wait) => {
                            self.wake
                                .wait_timeout(flags, wait)
                                .unwrap_or_else(PoisonError::into_inner)
                                .0
                        }
                        None => self
                            .wake
                            .wait(flags)
                            .unwrap_or_else(PoisonError::into_inner),
                    };
                }
            }
            let _pass = self.pass.lock().unwrap_or_else(PoisonError::into_inner);
            // Cleared once the pass is ours: writes from here on need another pass.
            self.flags().pending_since = None;
            let started = Instant::now();
            match shard.optimize() {
                Ok(true) => tracing::info!(
                    store = dir,
                    seconds = started.elapsed().as_secs_f64(),
                    "knowledge store indexed"
                ),
                Ok(false) => {}
                // Searches stay correct on unindexed segments; the next write retries.
                Err(e) => {
                    tracing::warn!(store = dir, error = %e, "indexing the knowledge store failed")
                }
            }
        }
    }
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStore")
            .field("dir", &self.inner.dir)
            .field("dimension", &self.inner.dimension)
            .finish()
    }
}

impl EmbeddedStore {
    /// Opens the store under `dir`, creating it for vectors of `dimension` when it is new.
    /// Blocking: call it off the async executor.
    pub fn open(dir: &Path, dimension: usize) -> Result<Self, KnowledgeError> {
        std::fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
        let lock = lock(dir)?;
        let shard_dir = dir.join(SHARD_DIR);
        let config = EdgeConfigBuilder::new()
            .vector(
                DENSE,
                EdgeVectorParamsBuilder::new(dimension, Distance::Cosine).build(),
            )
            .vector(
                REPLY,
                EdgeVectorParamsBuilder::new(dimension, Distance::Cosine)
                    .hnsw_config(unindexed())
                    .build(),
            )
            .sparse_vector(
                KEYWORDS,
                EdgeSparseVectorParamsBuilder::new()
                    .modifier(Modifier::Idf)
                    .build(),
            )
            .build();
        let shard = if shard_dir.join("edge_config.json").is_file() {
            let shard = EdgeShard::load(&shard_dir, None).map_err(store_error)?;
            let stored = shard.config().vectors.get(DENSE).map(|params| params.size);
            if stored != Some(dimension) {
                return Err(KnowledgeError::InvalidRequest(format!(
                    "the store at {} holds vectors of {stored:?} dimensions, not {dimension}",
                    dir.display()
                )));
            }
            shard
        } else {
            std::fs::create_dir_all(&shard_dir).map_err(|e| io_error(&shard_dir, e))?;
            let shard = EdgeShard::new(&shard_dir, config).map_err(store_error)?;
            for field in INDEXED_FIELDS {
                shard
                    .update(UpdateOperation::FieldIndexOperation(
                        FieldIndexOperations::CreateIndex(CreateIndex {
                            field_name: json_path(field)?,
                            field_schema: Some(PayloadFieldSchema::FieldType(
                                PayloadSchemaType::Keyword,
                            )),
                        }),
                    ))
                    .map_err(store_error)?;
            }
            shard
        };
        let reply_vectors = shard.config().vectors.contains_key(REPLY);
        if !reply_vectors {
            tracing::info!(
                store = %dir.display(),
                "this store predates reply vectors: drafts embed the past replies they retrieve (a new store keeps them)"
            );
        }
        let shard = Arc::new(shard);
        let indexer = Indexer::start(shard.clone(), dir)?;
        // A store written by a process that stopped before its pass ran gets it now.
        indexer.schedule();
        Ok(Self {
            inner: Arc::new(Inner {
                shard,
                dimension,
                reply_vectors,
                dir: dir.to_path_buf(),
                indexer,
                _lock: lock,
            }),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Points, and how many of their vectors (dense and keyword) are in a built index; the
    /// rest are searched exactly. Blocking, but cheap.
    pub fn index_status(&self) -> IndexStatus {
        let info = self.inner.shard.info();
        IndexStatus {
            points: info.points_count,
            indexed_vectors: info.indexed_vectors_count,
            segments: info.segments_count,
        }
    }

    async fn blocking<T, F>(&self, work: F) -> Result<T, KnowledgeError>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T, KnowledgeError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || work(&inner))
            .await
            .map_err(|e| KnowledgeError::Store(format!("store task failed: {e}")))?
    }
}

impl Inner {
    fn upsert(&self, points: Vec<KnowledgePoint>) -> Result<(), KnowledgeError> {
        if points.is_empty() {
            return Ok(());
        }
        let points: Vec<PointStructPersisted> = points
            .into_iter()
            .map(|point| {
                if point.dense.len() != self.dimension {
                    return Err(KnowledgeError::InvalidRequest(format!(
                        "vector of {} dimensions for a store of {}",
                        point.dense.len(),
                        self.dimension
                    )));
                }
                let sparse = Vector::new_sparse(point.sparse.indices, point.sparse.values)
                    .map_err(|e| KnowledgeError::InvalidRequest(format!("keyword vector: {e}")))?;
                let mut vectors = vec![(DENSE, Vector::new_dense(point.dense)), (KEYWORDS, sparse)];
                if let Some(reply) = point.reply_dense.filter(|_| self.reply_vectors) {
                    if reply.len() != self.dimension {
                        return Err(KnowledgeError::InvalidRequest(format!(
                            "reply vector of {} dimensions for a store of {}",
                            reply.len(),
                            self.dimension
                        )));
                    }
                    vectors.push((REPLY, Vector::new_dense(reply)));
                }
                let vectors = Vectors::new_named(vectors);
                Ok(PointStruct::new(point.id, vectors, payload(&point.entry)?).into())
            })
            .collect::<Result<Vec<_>, KnowledgeError>>()?;
        self.shard
            .update(UpdateOperation::PointOperation(
                PointOperations::UpsertPoints(PointInsertOperations::PointsList(points)),
            ))
            .map_err(store_error)?;
        self.indexer.schedule();
        Ok(())
    }

    fn content_hashes(&self, ids: &[u64]) -> Result<Vec<(u64, String)>, KnowledgeError> {
        let ids: Vec<PointId> = ids.iter().map(|&id| PointId::from(id)).collect();
        let records = self
            .shard
            .retrieve(
                &ids,
                Some(WithPayloadInterface::Fields(vec![json_path(
                    "content_hash",
                )?])),
                Some(WithVector::Bool(false)),
            )
            .map_err(store_error)?;
        records
            .into_iter()
            .map(|record| {
                let hash = record
                    .payload
                    .as_ref()
                    .and_then(|p| p.0.get("content_hash"))
                    .and_then(|v| v.as_str())
                    .ok_or_else(|| KnowledgeError::Store("a point has no content hash".into()))?;
                Ok((numeric_id(record.id)?, hash.to_owned()))
            })
            .collect()
    }

    fn ids(&self, filter: &KnowledgeFilter) -> Result<Vec<u64>, KnowledgeError> {
        let filter = edge_filter(filter)?;
        let mut ids = Vec::new();
        let mut offset = None;
        loop {
            let (records, next) = self
                .shard
                .scroll(ScrollRequest {
                    offset,
                    limit: Some(SCROLL_PAGE),
                    filter: Some(filter.clone()),
                    with_payload: Some(WithPayloadInterface::Bool(false)),
                    with_vector: WithVector::Bool(false),
                    order_by: None,
                })
                .map_err(store_error)?;
            for record in records {
                ids.push(numeric_id(record.id)?);
            }
            match next {
                Some(next) => offset = Some(next),
                None => return Ok(ids),
            }
        }
    }

    fn delete(&self, ids: &[u64]) -> Result<(), KnowledgeError> {
        if ids.is_empty() {
            return Ok(());
        }
        self.shard
            .update(UpdateOperation::PointOperation(
                PointOperations::DeletePoints {
                    ids: ids.iter().map(|&id| PointId::from(id)).collect(),
                },
            ))
            .map_err(store_error)?;
        // Deleted points leave segments for the vacuum optimiser.
        self.indexer.schedule();
        Ok(())
    }

    fn search(&self, query: &KnowledgeQuery) -> Result<Vec<KnowledgeHit>, KnowledgeError> {
        check_query(query, self.dimension)?;
        let filter = edge_filter(&query.filter)?;
        let dense = ScoringQuery::Vector(QueryEnum::Nearest(NamedQuery::new(
            VectorInternal::Dense(query.dense.clone()),
            DENSE,
        )));
        let (prefetches, scoring) = match &query.sparse {
            None => (Vec::new(), dense),
            Some(sparse) => {
                let sparse = Vector::new_sparse(sparse.indices.clone(), sparse.values.clone())
                    .map_err(|e| KnowledgeError::InvalidRequest(format!("keyword vector: {e}")))?;
                let keywords =
                    ScoringQuery::Vector(QueryEnum::Nearest(NamedQuery::new(sparse.0, KEYWORDS)));
                let prefetch = |scoring| Prefetch {
                    prefetches: Vec::new(),
                    query: Some(scoring),
                    limit: prefetch_limit(query.limit),
                    params: None,
                    filter: Some(filter.clone()),
                    score_threshold: None,
                };
                (
                    vec![prefetch(dense), prefetch(keywords)],
                    ScoringQuery::Fusion(Fusion::Rrf {
                        k: RRF_K,
                        weights: None,
                    }),
                )
            }
        };
        let points = self
            .shard
            .query(QueryRequest {
                prefetches,
                query: Some(scoring),
                filter: Some(filter),
                score_threshold: None,
                limit: query.limit,
                offset: 0,
                params: None,
                with_vector: if query.with_vectors {
                    let mut names = vec![DENSE.to_owned()];
                    if self.reply_vectors {
                        names.push(REPLY.to_owned());
                    }
                    WithVector::Selector(names)
                } else {
                    WithVector::Bool(false)
                },
                with_payload: WithPayloadInterface::Bool(true),
            })
            .map_err(store_error)?;
        points
            .into_iter()
            .map(|point| {
                let payload = point.payload.ok_or_else(|| {
                    KnowledgeError::Store("a hit came back without payload".into())
                })?;
                let mut vectors = point.vector;
                Ok(KnowledgeHit {
                    id: numeric_id(point.id)?,
                    score: point.score,
                    entry: entry(payload.0)?,
                    dense: dense_vector(&mut vectors, DENSE),
                    reply_dense: dense_vector(&mut vectors, REPLY),
                })
            })
            .collect()
    }

    fn count(&self, filter: &KnowledgeFilter) -> Result<usize, KnowledgeError> {
        self.shard
            .count(qdrant_edge::CountRequest {
                filter: Some(edge_filter(filter)?),
                exact: true,
            })
            .map_err(store_error)
    }
}

#[async_trait]
impl VectorStore for EmbeddedStore {
    async fn upsert(&self, points: Vec<KnowledgePoint>) -> Result<(), KnowledgeError> {
        self.blocking(move |inner| inner.upsert(points)).await
    }

    async fn content_hashes(&self, ids: &[u64]) -> Result<Vec<(u64, String)>, KnowledgeError> {
        let ids = ids.to_vec();
        self.blocking(move |inner| inner.content_hashes(&ids)).await
    }

    async fn ids(&self, filter: &KnowledgeFilter) -> Result<Vec<u64>, KnowledgeError> {
        let filter = filter.clone();
        self.blocking(move |inner| inner.ids(&filter)).await
    }

    async fn delete(&self, ids: &[u64]) -> Result<(), KnowledgeError> {
        let ids = ids.to_vec();
        self.blocking(move |inner| inner.delete(&ids)).await
    }

    async fn search(&self, query: &KnowledgeQuery) -> Result<Vec<KnowledgeHit>, KnowledgeError> {
        let query = query.clone();
        self.blocking(move |inner| inner.search(&query)).await
    }

    async fn count(&self, filter: &KnowledgeFilter) -> Result<usize, KnowledgeError> {
        let filter = filter.clone();
        self.blocking(move |inner| inner.count(&filter)).await
    }

    async fn optimize(&self) -> Result<(), KnowledgeError> {
        self.blocking(|inner| inner.indexer.optimize_now(&inner.shard))
            .await
    }
}

/// Vector parameters that build no graph: Qdrant skips HNSW for `m = 0`. For vectors read
/// back, never searched.
fn unindexed() -> qdrant_edge::HnswIndexConfig {
    qdrant_edge::HnswIndexConfig {
        m: 0,
        ef_construct: 100,
        full_scan_threshold: 10_000,
        max_indexing_threads: 1,
        on_disk: None,
        payload_m: None,
        inline_storage: None,
    }
}

/// Takes the dense vector `name` out of a hit's vectors.
fn dense_vector(vectors: &mut Option<VectorStructInternal>, name: &str) -> Option<Vec<f32>> {
    match VectorStructInternal::take_opt(vectors, name)? {
        VectorInternal::Dense(v) => Some(v),
        VectorInternal::Sparse(_) | VectorInternal::MultiDense(_) => None,
    }
}

fn lock(dir: &Path) -> Result<File, KnowledgeError> {
    let path = dir.join(LOCK_FILE);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| io_error(&path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(KnowledgeError::StoreInUse {
            path: dir.display().to_string(),
            hint: " (is `tact serve` or another `tact` command running? stop it, or point \
                   store.url at a Qdrant server)"
                .into(),
        }),
        Err(TryLockError::Error(e)) => Err(io_error(&path, e)),
    }
}

/// The filter as Qdrant's JSON filter language, which the edge shard deserialises.
fn edge_filter(filter: &KnowledgeFilter) -> Result<Filter, KnowledgeError> {
    let must: Vec<serde_json::Value> = super::filter_conditions(filter)?
        .into_iter()
        .map(|(key, value)| serde_json::json!({ "key": key, "match": { "value": value } }))
        .collect();
    serde_json::from_value(serde_json::json!({ "must": must }))
        .map_err(|e| KnowledgeError::Store(format!("cannot build a filter: {e}")))
}

fn payload(entry: &KnowledgeEntry) -> Result<serde_json::Value, KnowledgeError> {
    // An entry serialises to a JSON object, which `PointStruct::new` requires (it panics
    // otherwise).
    match serde_json::to_value(entry) {
        Ok(value @ serde_json::Value::Object(_)) => Ok(value),
        Ok(other) => Err(KnowledgeError::Store(format!(
            "payload is not an object: {other}"
        ))),
        Err(e) => Err(KnowledgeError::Store(format!(
            "cannot encode a payload: {e}"
        ))),
    }
}

fn entry(
    payload: serde_json::Map<String, serde_json::Value>,
) -> Result<KnowledgeEntry, KnowledgeError> {
    serde_json::from_value(serde_json::Value::Object(payload))
        .map_err(|e| KnowledgeError::Store(format!("a stored payload is not an entry: {e}")))
}

fn json_path(field: &str) -> Result<JsonPath, KnowledgeError> {
    JsonPath::try_from(field)
        .map_err(|_| KnowledgeError::Store(format!("{field:?} is not a payload path")))
}

fn numeric_id(id: PointId) -> Result<u64, KnowledgeError> {
    match id {
        PointId::NumId(id) => Ok(id),
        PointId::Uuid(uuid) => Err(KnowledgeError::Store(format!(
            "unexpected UUID point id {uuid}: this store holds numeric ids only"
        ))),
    }
}

fn store_error(err: qdrant_edge::OperationError) -> KnowledgeError {
    KnowledgeError::Store(err.to_string())
}

fn io_error(path: &Path, err: std::io::Error) -> KnowledgeError {
    KnowledgeError::Store(format!("{}: {err}", path.display()))
}
