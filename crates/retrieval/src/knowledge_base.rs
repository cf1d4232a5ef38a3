//! The knowledge base: entries in, vectors stored, searches answered.
//!
//! Point ids come from an entry's identity (brand, kind, cite) and a content hash rides in the
//! payload, so re-ingesting the same file embeds and writes nothing, and an edited clause or
//! reply replaces its old version. Embedding is CPU work and runs on tokio's blocking pool.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tact_core::{
    Embedder, KnowledgeEntry, KnowledgeError, KnowledgeFilter, KnowledgeHit, KnowledgeKind,
    KnowledgePoint, KnowledgeQuery, VectorStore,
};
use tracing::Instrument;

use crate::error::{Error, Result};
use crate::guidelines::split_clauses;
use crate::keywords::KeywordEncoder;
use crate::replies::{PastReply, RejectedRow};

/// Entries embedded and written per step (and per progress report).
const INGEST_CHUNK: usize = 64;
/// Part of every content hash: raising it re-embeds everything on the next ingest (a new
/// embedding model, a new rule for what is embedded).
const EMBEDDING_VERSION: &str = "all-minilm-l6-v2/mean/256/heading-prefix";

/// How a search ranks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetrievalMode {
    /// Cosine similarity of the embeddings.
    #[default]
    Dense,
    /// Dense and BM25 keyword rankings fused by reciprocal rank.
    Hybrid,
}

/// One search of a brand's knowledge.
#[derive(Debug, Clone)]
pub struct Search {
    pub filter: KnowledgeFilter,
    pub text: String,
    pub limit: usize,
    pub mode: RetrievalMode,
}

/// What an ingest did, per entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IngestSummary {
    /// New entries.
    pub added: usize,
    /// Entries already stored with the same content.
    pub unchanged: usize,
    /// Entries whose content changed since they were stored.
    pub replaced: usize,
    /// Clauses gone from a re-ingested guideline document.
    pub removed: usize,
    /// Rows left out, with why.
    pub rejected: Vec<RejectedRow>,
}

/// An entry and the text its vectors are made from.
#[derive(Debug, Clone)]
pub struct PendingEntry {
    pub entry: KnowledgeEntry,
    pub embedding_text: String,
}

/// The clauses of one guideline document, ready to ingest.
pub fn guideline_entries(brand: &str, document: &str, markdown: &str) -> Vec<PendingEntry> {
    split_clauses(document, markdown)
        .into_iter()
        .map(|clause| {
            let embedding_text = clause.embedding_text();
            PendingEntry {
                entry: sealed(
                    KnowledgeEntry {
                        brand: brand.to_owned(),
                        kind: KnowledgeKind::Guideline,
                        cite: clause.cite,
                        source: document.to_owned(),
                        text: clause.text,
                        reply: None,
                        channel: None,
                        created_at: None,
                        content_hash: String::new(),
                    },
                    &embedding_text,
                ),
                embedding_text,
            }
        })
        .collect()
}

/// Past replies from the file `source`, ready to ingest. A reply without an id is cited by a
/// hash of its content, so an edit of it is a new entry rather than a replacement.
pub fn reply_entries(source: &str, replies: &[PastReply]) -> Vec<PendingEntry> {
    replies
        .iter()
        .map(|reply| {
            let cite = reply.id.clone().unwrap_or_else(|| {
                let digest = digest(&[
                    &reply.channel,
                    &reply.inbound,
                    &reply.reply,
                    &reply.created_at,
                ]);
                format!("reply-{}", &digest[..12])
            });
            PendingEntry {
                entry: sealed(
                    KnowledgeEntry {
                        brand: reply.brand.clone(),
                        kind: KnowledgeKind::Reply,
                        cite,
                        source: source.to_owned(),
                        text: reply.inbound.clone(),
                        reply: Some(reply.reply.clone()),
                        channel: Some(reply.channel.clone()),
                        created_at: Some(reply.created_at.clone()),
                        content_hash: String::new(),
                    },
                    &reply.inbound,
                ),
                embedding_text: reply.inbound.clone(),
            }
        })
        .collect()
}

/// The point id of an entry: the first 8 bytes of SHA-256 over its identity.
pub fn point_id(entry: &KnowledgeEntry) -> u64 {
    let mut hasher = Sha256::new();
    for part in [
        entry.brand.as_str(),
        entry.kind.as_str(),
        entry.cite.as_str(),
    ] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    let bytes: [u8; 8] = hasher.finalize()[..8].try_into().expect("8 bytes");
    u64::from_be_bytes(bytes)
}

fn sealed(mut entry: KnowledgeEntry, embedding_text: &str) -> KnowledgeEntry {
    entry.content_hash = digest(&[
        EMBEDDING_VERSION,
        &entry.brand,
        entry.kind.as_str(),
        &entry.cite,
        &entry.source,
        &entry.text,
        entry.reply.as_deref().unwrap_or(""),
        entry.channel.as_deref().unwrap_or(""),
        entry.created_at.as_deref().unwrap_or(""),
        embedding_text,
    ]);
    entry
}

fn digest(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// Embedder, keyword encoder and store, behind one small surface.
#[derive(Clone)]
pub struct KnowledgeBase {
    embedder: Arc<dyn Embedder>,
    store: Arc<dyn VectorStore>,
    keywords: Arc<KeywordEncoder>,
}

impl std::fmt::Debug for KnowledgeBase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnowledgeBase").finish_non_exhaustive()
    }
}

impl KnowledgeBase {
    pub fn new(embedder: Arc<dyn Embedder>, store: Arc<dyn VectorStore>) -> Result<Self> {
        Ok(Self {
            embedder,
            store,
            keywords: Arc::new(KeywordEncoder::new()?),
        })
    }

    pub fn store(&self) -> &Arc<dyn VectorStore> {
        &self.store
    }

    /// Stores `entries`, embedding only what is new or changed. With `prune`, entries of the
    /// same brand, kind and source that are not in `entries` are deleted (a guideline document
    /// is re-ingested whole). `progress(done, total)` follows the embedding work.
    pub async fn ingest(
        &self,
        entries: Vec<PendingEntry>,
        prune: bool,
        progress: &(dyn Fn(usize, usize) + Send + Sync),
    ) -> Result<IngestSummary> {
        let span = tracing::info_span!("ingest", entries = entries.len());
        self.ingest_entries(entries, prune, progress)
            .instrument(span)
            .await
    }

    async fn ingest_entries(
        &self,
        entries: Vec<PendingEntry>,
        prune: bool,
        progress: &(dyn Fn(usize, usize) + Send + Sync),
    ) -> Result<IngestSummary> {
        let mut seen = HashSet::new();
        let entries: Vec<(u64, PendingEntry)> = entries
            .into_iter()
            .map(|pending| (point_id(&pending.entry), pending))
            .filter(|(id, _)| seen.insert(*id))
            .collect();
        let ids: Vec<u64> = entries.iter().map(|(id, _)| *id).collect();
        let stored: HashMap<u64, String> =
            self.store.content_hashes(&ids).await?.into_iter().collect();

        let mut summary = IngestSummary::default();
        let mut work = Vec::new();
        for (id, pending) in entries.iter() {
            match stored.get(id) {
                Some(hash) if *hash == pending.entry.content_hash => summary.unchanged += 1,
                Some(_) => {
                    summary.replaced += 1;
                    work.push((*id, pending.clone()));
                }
                None => {
                    summary.added += 1;
                    work.push((*id, pending.clone()));
                }
            }
        }

        let total = work.len();
        progress(0, total);
        let mut done = 0;
        for chunk in work.chunks(INGEST_CHUNK) {
            // One batch: every entry's embedding text, then the text of each past reply
            // (kept beside it, so drafting never embeds a retrieved reply again).
            let mut texts: Vec<String> = chunk
                .iter()
                .map(|(_, p)| p.embedding_text.clone())
                .collect();
            texts.extend(chunk.iter().filter_map(|(_, p)| p.entry.reply.clone()));
            let mut vectors = self.embed(texts).await?.into_iter();
            let dense: Vec<Vec<f32>> = vectors.by_ref().take(chunk.len()).collect();
            let points = chunk
                .iter()
                .zip(dense)
                .map(|((id, pending), dense)| KnowledgePoint {
                    id: *id,
                    sparse: self.keywords.document(&pending.embedding_text),
                    reply_dense: pending.entry.reply.as_ref().and_then(|_| vectors.next()),
                    entry: pending.entry.clone(),
                    dense,
                })
                .collect();
            self.store.upsert(points).await?;
            done += chunk.len();
            progress(done, total);
        }

        if prune {
            let keep: HashSet<u64> = ids.iter().copied().collect();
            let scopes: HashSet<(&str, KnowledgeKind, &str)> = entries
                .iter()
                .map(|(_, p)| {
                    (
                        p.entry.brand.as_str(),
                        p.entry.kind,
                        p.entry.source.as_str(),
                    )
                })
                .collect();
            for (brand, kind, source) in scopes {
                let scope = KnowledgeFilter::brand(brand).kind(kind).source(source);
                let stale: Vec<u64> = self
                    .store
                    .ids(&scope)
                    .await?
                    .into_iter()
                    .filter(|id| !keep.contains(id))
                    .collect();
                summary.removed += stale.len();
                self.store.delete(&stale).await?;
            }
        }
        if total > 0 || summary.removed > 0 {
            // A bulk write leaves the newest points searched exactly until they are indexed;
            // the ingest is done when the index is.
            self.store.optimize().await?;
        }
        tracing::info!(
            added = summary.added,
            unchanged = summary.unchanged,
            replaced = summary.replaced,
            removed = summary.removed,
            "ingested"
        );
        Ok(summary)
    }

    /// The entries nearest to `search.text`, best first.
    pub async fn search(&self, search: &Search) -> Result<Vec<KnowledgeHit>> {
        self.search_instrumented(search, None).await
    }

    /// [`KnowledgeBase::search`] with `vector`, the caller's embedding of `search.text` (from
    /// this knowledge base's embedder), instead of embedding the text again; each hit carries
    /// its stored vectors.
    pub async fn search_embedded(
        &self,
        search: &Search,
        vector: &[f32],
    ) -> Result<Vec<KnowledgeHit>> {
        if vector.len() != self.embedder.dimension() {
            return Err(KnowledgeError::InvalidRequest(format!(
                "query vector of {} dimensions for an embedder of {}",
                vector.len(),
                self.embedder.dimension()
            ))
            .into());
        }
        self.search_instrumented(search, Some(vector)).await
    }

    async fn search_instrumented(
        &self,
        search: &Search,
        vector: Option<&[f32]>,
    ) -> Result<Vec<KnowledgeHit>> {
        let span = tracing::info_span!(
            "retrieve",
            brand = %search.filter.brand,
            limit = search.limit,
            mode = ?search.mode
        );
        self.search_inner(search, vector).instrument(span).await
    }

    async fn search_inner(
        &self,
        search: &Search,
        vector: Option<&[f32]>,
    ) -> Result<Vec<KnowledgeHit>> {
        if search.text.trim().is_empty() {
            return Err(KnowledgeError::InvalidRequest("the search text is empty".into()).into());
        }
        let dense = match vector {
            Some(vector) => vector.to_vec(),
            None => self
                .embed(vec![search.text.clone()])
                .await?
                .pop()
                .ok_or_else(|| KnowledgeError::Embedding("no vector for the query".into()))?,
        };
        let sparse = match search.mode {
            RetrievalMode::Dense => None,
            RetrievalMode::Hybrid => Some(self.keywords.query(&search.text)),
        };
        let hits = self
            .store
            .search(&KnowledgeQuery {
                dense,
                sparse,
                filter: search.filter.clone(),
                limit: search.limit,
                with_vectors: vector.is_some(),
            })
            .await?;
        tracing::debug!(hits = hits.len(), "retrieved");
        Ok(hits)
    }

    async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>> {
        let embedder = self.embedder.clone();
        tokio::task::spawn_blocking(move || {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            embedder.embed(&refs)
        })
        .await
        .map_err(|e| Error::Knowledge(KnowledgeError::Embedding(format!("task failed: {e}"))))?
        .map_err(Error::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_identity_and_hashes_follow_content() {
        let a = guideline_entries("acme", "v.md", "## Tone\n\nBe kind.\n");
        let b = guideline_entries("acme", "v.md", "## Tone\n\nBe very kind.\n");
        let other = guideline_entries("globex", "v.md", "## Tone\n\nBe kind.\n");
        assert_eq!(point_id(&a[0].entry), point_id(&b[0].entry));
        assert_ne!(a[0].entry.content_hash, b[0].entry.content_hash);
        assert_ne!(point_id(&a[0].entry), point_id(&other[0].entry));
        assert_eq!(a[0].embedding_text, "Tone: Be kind.");
    }
}
