//! The cluster store: a Qdrant server (or cluster) over gRPC, for teams that outgrow one
//! machine. One collection, `<prefix>knowledge`, created on first use.

use std::collections::HashMap;

use async_trait::async_trait;
use qdrant_client::qdrant::{
    Condition, CountPointsBuilder, CreateCollectionBuilder, CreateFieldIndexCollectionBuilder,
    DeletePointsBuilder, Distance, FieldType, Filter, GetPointsBuilder, HnswConfigDiffBuilder,
    Modifier, NamedVectors, PointId, PointStruct, PrefetchQueryBuilder, Query, QueryPointsBuilder,
    RrfBuilder, ScrollPointsBuilder, SparseVectorParamsBuilder, SparseVectorsConfigBuilder,
    UpsertPointsBuilder, Value, Vector, VectorInput, VectorParamsBuilder, VectorsConfigBuilder,
    point_id::PointIdOptions, vector_output, vectors_config,
};
use qdrant_client::{Payload, Qdrant};
use serde::{Deserialize, Serialize};
use tact_core::{
    KnowledgeEntry, KnowledgeError, KnowledgeFilter, KnowledgeHit, KnowledgePoint, KnowledgeQuery,
    VectorStore,
};

use super::{DENSE, INDEXED_FIELDS, KEYWORDS, REPLY, RRF_K, check_query, prefetch_limit};

const SCROLL_PAGE: u32 = 1024;

/// Where the cluster is and how tact names its collection there.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterConfig {
    /// gRPC endpoint, e.g. `http://localhost:6334`.
    pub url: String,
    pub api_key: Option<String>,
    /// Prepended to the collection name, so several tact installations can share a cluster.
    pub collection_prefix: String,
}

/// A knowledge store on a Qdrant server.
pub struct ClusterStore {
    client: Qdrant,
    collection: String,
    dimension: usize,
    /// Whether the collection keeps reply vectors ([`REPLY`]); one created before them does
    /// not.
    reply_vectors: bool,
}

impl std::fmt::Debug for ClusterStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterStore")
            .field("collection", &self.collection)
            .field("dimension", &self.dimension)
            .field("reply_vectors", &self.reply_vectors)
            .finish_non_exhaustive()
    }
}

impl ClusterStore {
    /// Connects and creates the collection (with its payload indexes) when it is missing.
    pub async fn connect(config: &ClusterConfig, dimension: usize) -> Result<Self, KnowledgeError> {
        let client = Qdrant::from_url(&config.url)
            .api_key(config.api_key.clone())
            .skip_compatibility_check()
            .build()
            .map_err(|e| cluster_error(&config.url, e))?;
        let collection = format!("{}knowledge", config.collection_prefix);
        let exists = client
            .collection_exists(&collection)
            .await
            .map_err(|e| cluster_error(&config.url, e))?;
        if !exists {
            let mut vectors = VectorsConfigBuilder::default();
            vectors.add_named_vector_params(
                DENSE,
                VectorParamsBuilder::new(dimension as u64, Distance::Cosine),
            );
            // Read back, never searched: no graph (m = 0).
            vectors.add_named_vector_params(
                REPLY,
                VectorParamsBuilder::new(dimension as u64, Distance::Cosine)
                    .hnsw_config(HnswConfigDiffBuilder::default().m(0)),
            );
            let mut sparse = SparseVectorsConfigBuilder::default();
            sparse.add_named_vector_params(
                KEYWORDS,
                SparseVectorParamsBuilder::default().modifier(Modifier::Idf),
            );
            client
                .create_collection(
                    CreateCollectionBuilder::new(&collection)
                        .vectors_config(vectors)
                        .sparse_vectors_config(sparse),
                )
                .await
                .map_err(|e| cluster_error(&config.url, e))?;
            for field in INDEXED_FIELDS {
                client
                    .create_field_index(
                        CreateFieldIndexCollectionBuilder::new(
                            &collection,
                            field,
                            FieldType::Keyword,
                        )
                        .wait(true),
                    )
                    .await
                    .map_err(|e| cluster_error(&config.url, e))?;
            }
        }
        let reply_vectors = !exists || has_reply_vectors(&client, &collection).await?;
        if !reply_vectors {
            tracing::info!(
                collection,
                "this collection predates reply vectors: drafts embed the past replies they retrieve (a new collection keeps them)"
            );
        }
        Ok(Self {
            client,
            collection,
            dimension,
            reply_vectors,
        })
    }

    /// Drops the collection (tests use it to clean up after themselves).
    pub async fn drop_collection(&self) -> Result<(), KnowledgeError> {
        self.client
            .delete_collection(&self.collection)
            .await
            .map(|_| ())
            .map_err(store_error)
    }
}

#[async_trait]
impl VectorStore for ClusterStore {
    async fn upsert(&self, points: Vec<KnowledgePoint>) -> Result<(), KnowledgeError> {
        if points.is_empty() {
            return Ok(());
        }
        let points = points
            .into_iter()
            .map(|point| {
                if point.dense.len() != self.dimension {
                    return Err(KnowledgeError::InvalidRequest(format!(
                        "vector of {} dimensions for a store of {}",
                        point.dense.len(),
                        self.dimension
                    )));
                }
                let mut vectors = NamedVectors::default()
                    .add_vector(DENSE, Vector::new_dense(point.dense))
                    .add_vector(
                        KEYWORDS,
                        Vector::new_sparse(point.sparse.indices, point.sparse.values),
                    );
                if let Some(reply) = point.reply_dense.filter(|_| self.reply_vectors) {
                    if reply.len() != self.dimension {
                        return Err(KnowledgeError::InvalidRequest(format!(
                            "reply vector of {} dimensions for a store of {}",
                            reply.len(),
                            self.dimension
                        )));
                    }
                    vectors = vectors.add_vector(REPLY, Vector::new_dense(reply));
                }
                let payload = serde_json::to_value(&point.entry)
                    .ok()
                    .and_then(|value| Payload::try_from(value).ok())
                    .ok_or_else(|| KnowledgeError::Store("cannot encode a payload".into()))?;
                Ok(PointStruct::new(point.id, vectors, payload))
            })
            .collect::<Result<Vec<_>, KnowledgeError>>()?;
        self.client
            .upsert_points(UpsertPointsBuilder::new(&self.collection, points).wait(true))
            .await
            .map(|_| ())
            .map_err(store_error)
    }

    async fn content_hashes(&self, ids: &[u64]) -> Result<Vec<(u64, String)>, KnowledgeError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<PointId> = ids.iter().map(|&id| PointId::from(id)).collect();
        let response = self
            .client
            .get_points(
                GetPointsBuilder::new(&self.collection, ids)
                    .with_payload(true)
                    .with_vectors(false),
            )
            .await
            .map_err(store_error)?;
        response
            .result
            .into_iter()
            .map(|point| {
                let hash = point
                    .payload
                    .get("content_hash")
                    .and_then(|v| v.as_str())
                    .ok_or_else(|| KnowledgeError::Store("a point has no content hash".into()))?;
                Ok((numeric_id(point.id)?, hash.to_string()))
            })
            .collect()
    }

    async fn ids(&self, filter: &KnowledgeFilter) -> Result<Vec<u64>, KnowledgeError> {
        let filter = cluster_filter(filter)?;
        let mut ids = Vec::new();
        let mut offset: Option<PointId> = None;
        loop {
            let mut request = ScrollPointsBuilder::new(&self.collection)
                .filter(filter.clone())
                .limit(SCROLL_PAGE)
                .with_payload(false)
                .with_vectors(false);
            if let Some(offset) = offset.take() {
                request = request.offset(offset);
            }
            let response = self.client.scroll(request).await.map_err(store_error)?;
            for point in response.result {
                ids.push(numeric_id(point.id)?);
            }
            match response.next_page_offset {
                Some(next) => offset = Some(next),
                None => return Ok(ids),
            }
        }
    }

    async fn delete(&self, ids: &[u64]) -> Result<(), KnowledgeError> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids: Vec<PointId> = ids.iter().map(|&id| PointId::from(id)).collect();
        self.client
            .delete_points(
                DeletePointsBuilder::new(&self.collection)
                    .points(ids)
                    .wait(true),
            )
            .await
            .map(|_| ())
            .map_err(store_error)
    }

    async fn search(&self, query: &KnowledgeQuery) -> Result<Vec<KnowledgeHit>, KnowledgeError> {
        check_query(query, self.dimension)?;
        let filter = cluster_filter(&query.filter)?;
        let mut request = QueryPointsBuilder::new(&self.collection)
            .filter(filter.clone())
            .limit(query.limit as u64)
            .with_payload(true);
        if query.with_vectors {
            let mut names = vec![DENSE];
            if self.reply_vectors {
                names.push(REPLY);
            }
            request = request.with_vectors(
                qdrant_client::qdrant::with_vectors_selector::SelectorOptions::Include(
                    qdrant_client::qdrant::VectorsSelector {
                        names: names.into_iter().map(str::to_owned).collect(),
                    },
                ),
            );
        }
        request = match &query.sparse {
            None => request
                .query(Query::new_nearest(query.dense.clone()))
                .using(DENSE),
            Some(sparse) => {
                let candidates = prefetch_limit(query.limit) as u64;
                request
                    .add_prefetch(
                        PrefetchQueryBuilder::default()
                            .using(DENSE)
                            .query(Query::new_nearest(query.dense.clone()))
                            .filter(filter.clone())
                            .limit(candidates),
                    )
                    .add_prefetch(
                        PrefetchQueryBuilder::default()
                            .using(KEYWORDS)
                            .query(Query::new_nearest(VectorInput::new_sparse(
                                sparse.indices.clone(),
                                sparse.values.clone(),
                            )))
                            .filter(filter)
                            .limit(candidates),
                    )
                    .query(Query::new_rrf(RrfBuilder::with_k(RRF_K as u32)))
            }
        };
        let response = self.client.query(request).await.map_err(store_error)?;
        response
            .result
            .into_iter()
            .map(|point| {
                let dense = |name: &str| match point
                    .vectors
                    .as_ref()
                    .and_then(|v| v.get_vector_by_name(name))
                {
                    Some(vector_output::Vector::Dense(v)) => Some(v.data),
                    _ => None,
                };
                Ok(KnowledgeHit {
                    id: numeric_id(point.id)?,
                    score: point.score,
                    dense: dense(DENSE),
                    reply_dense: dense(REPLY),
                    entry: entry(point.payload)?,
                })
            })
            .collect()
    }

    async fn count(&self, filter: &KnowledgeFilter) -> Result<usize, KnowledgeError> {
        let response = self
            .client
            .count(
                CountPointsBuilder::new(&self.collection)
                    .filter(cluster_filter(filter)?)
                    .exact(true),
            )
            .await
            .map_err(store_error)?;
        Ok(response.result.map_or(0, |r| r.count as usize))
    }
}

fn cluster_filter(filter: &KnowledgeFilter) -> Result<Filter, KnowledgeError> {
    Ok(Filter::must(
        super::filter_conditions(filter)?
            .into_iter()
            .map(|(key, value)| Condition::matches(key, value)),
    ))
}

fn entry(payload: HashMap<String, Value>) -> Result<KnowledgeEntry, KnowledgeError> {
    let json: serde_json::Map<String, serde_json::Value> = payload
        .into_iter()
        .map(|(key, value)| (key, value.into_json()))
        .collect();
    serde_json::from_value(serde_json::Value::Object(json))
        .map_err(|e| KnowledgeError::Store(format!("a stored payload is not an entry: {e}")))
}

fn numeric_id(id: Option<PointId>) -> Result<u64, KnowledgeError> {
    match id.and_then(|id| id.point_id_options) {
        Some(PointIdOptions::Num(id)) => Ok(id),
        Some(PointIdOptions::Uuid(uuid)) => Err(KnowledgeError::Store(format!(
            "unexpected UUID point id {uuid}: this collection holds numeric ids only"
        ))),
        None => Err(KnowledgeError::Store(
            "a point came back without an id".into(),
        )),
    }
}

fn cluster_error(url: &str, err: qdrant_client::QdrantError) -> KnowledgeError {
    KnowledgeError::Store(format!("Qdrant at {url}: {err}"))
}

fn store_error(err: qdrant_client::QdrantError) -> KnowledgeError {
    KnowledgeError::Store(format!("Qdrant: {err}"))
}

/// Whether an existing collection has the [`REPLY`] vector.
async fn has_reply_vectors(client: &Qdrant, collection: &str) -> Result<bool, KnowledgeError> {
    let info = client
        .collection_info(collection)
        .await
        .map_err(store_error)?;
    Ok(info
        .result
        .and_then(|info| info.config)
        .and_then(|config| config.params)
        .and_then(|params| params.vectors_config)
        .and_then(|vectors| vectors.config)
        .is_some_and(|config| match config {
            vectors_config::Config::ParamsMap(map) => map.map.contains_key(REPLY),
            vectors_config::Config::Params(_) => false,
        }))
}
