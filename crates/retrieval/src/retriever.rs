//! [`Retriever`] over the knowledge base: what drafting calls, without naming Qdrant or the
//! embedding model.

use async_trait::async_trait;
use tact_core::{KnowledgeError, KnowledgeFilter, KnowledgeHit, Retriever};

use crate::error::Error;
use crate::knowledge_base::{KnowledgeBase, RetrievalMode, Search};

/// A knowledge base searched in one [`RetrievalMode`] (`store.retrieval` in the config).
#[derive(Debug, Clone)]
pub struct KnowledgeRetriever {
    knowledge: KnowledgeBase,
    mode: RetrievalMode,
}

impl KnowledgeRetriever {
    pub fn new(knowledge: KnowledgeBase, mode: RetrievalMode) -> Self {
        Self { knowledge, mode }
    }
}

#[async_trait]
impl Retriever for KnowledgeRetriever {
    async fn retrieve(
        &self,
        filter: &KnowledgeFilter,
        text: &str,
        limit: usize,
    ) -> Result<Vec<KnowledgeHit>, KnowledgeError> {
        search(&self.knowledge, filter, text, None, limit, self.mode).await
    }

    async fn retrieve_embedded(
        &self,
        filter: &KnowledgeFilter,
        text: &str,
        vector: &[f32],
        limit: usize,
    ) -> Result<Vec<KnowledgeHit>, KnowledgeError> {
        search(
            &self.knowledge,
            filter,
            text,
            Some(vector),
            limit,
            self.mode,
        )
        .await
    }
}

/// The knowledge base itself retrieves by dense similarity, the default mode.
#[async_trait]
impl Retriever for KnowledgeBase {
    async fn retrieve(
        &self,
        filter: &KnowledgeFilter,
        text: &str,
        limit: usize,
    ) -> Result<Vec<KnowledgeHit>, KnowledgeError> {
        search(self, filter, text, None, limit, RetrievalMode::default()).await
    }

    async fn retrieve_embedded(
        &self,
        filter: &KnowledgeFilter,
        text: &str,
        vector: &[f32],
        limit: usize,
    ) -> Result<Vec<KnowledgeHit>, KnowledgeError> {
        search(
            self,
            filter,
            text,
            Some(vector),
            limit,
            RetrievalMode::default(),
        )
        .await
    }
}

async fn search(
    knowledge: &KnowledgeBase,
    filter: &KnowledgeFilter,
    text: &str,
    vector: Option<&[f32]>,
    limit: usize,
    mode: RetrievalMode,
) -> Result<Vec<KnowledgeHit>, KnowledgeError> {
    let search = Search {
        filter: filter.clone(),
        text: text.to_owned(),
        limit,
        mode,
    };
    match vector {
        Some(vector) => knowledge.search_embedded(&search, vector).await,
        None => knowledge.search(&search).await,
    }
    .map_err(into_knowledge_error)
}

/// The seam speaks [`KnowledgeError`]; this crate's other errors (files, configuration) cannot
/// come out of a search, but any that do are reported as store failures with their message.
fn into_knowledge_error(error: Error) -> KnowledgeError {
    match error {
        Error::Knowledge(e) => e,
        e @ (Error::ModelLoad { .. }
        | Error::Read { .. }
        | Error::BadFile { .. }
        | Error::Rejected { .. }
        | Error::Config(_)) => KnowledgeError::Store(e.to_string()),
    }
}
