//! The knowledge base behind tact-core's write seam ([`KnowledgeWriter`]): approved replies
//! added and retired, guideline documents replaced, for callers that know no embedder or store.

use async_trait::async_trait;
use tact_core::{
    KnowledgeEntry, KnowledgeError, KnowledgeKind, KnowledgeWrite, KnowledgeWriter, LearnedReply,
};

use crate::error::Error;
use crate::knowledge_base::{
    IngestSummary, KnowledgeBase, guideline_entries, point_id, reply_entries,
};
use crate::replies::PastReply;

fn seam_error(error: Error) -> KnowledgeError {
    match error {
        Error::Knowledge(e) => e,
        other @ (Error::ModelLoad { .. }
        | Error::Read { .. }
        | Error::BadFile { .. }
        | Error::Rejected { .. }
        | Error::Config(_)) => KnowledgeError::Store(other.to_string()),
    }
}

fn written(summary: IngestSummary) -> KnowledgeWrite {
    KnowledgeWrite {
        added: summary.added,
        unchanged: summary.unchanged,
        replaced: summary.replaced,
        removed: summary.removed,
    }
}

#[async_trait]
impl KnowledgeWriter for KnowledgeBase {
    async fn add_replies(
        &self,
        source: &str,
        replies: &[LearnedReply],
    ) -> Result<KnowledgeWrite, KnowledgeError> {
        let past: Vec<PastReply> = replies
            .iter()
            .map(|r| PastReply {
                id: Some(r.cite.clone()),
                brand: r.brand.clone(),
                channel: r.channel.clone(),
                inbound: r.inbound.clone(),
                reply: r.reply.clone(),
                created_at: r.created_at.clone(),
                line: 0,
            })
            .collect();
        self.ingest(reply_entries(source, &past), false, &|_, _| {})
            .await
            .map(written)
            .map_err(seam_error)
    }

    async fn retire_replies(
        &self,
        brand: &str,
        cites: &[String],
    ) -> Result<KnowledgeWrite, KnowledgeError> {
        let ids: Vec<u64> = cites
            .iter()
            .map(|cite| {
                point_id(&KnowledgeEntry {
                    brand: brand.to_owned(),
                    kind: KnowledgeKind::Reply,
                    cite: cite.clone(),
                    source: String::new(),
                    text: String::new(),
                    reply: None,
                    channel: None,
                    created_at: None,
                    content_hash: String::new(),
                })
            })
            .collect();
        let stored = self.store().content_hashes(&ids).await?;
        let stored: Vec<u64> = stored.into_iter().map(|(id, _)| id).collect();
        if !stored.is_empty() {
            self.store().delete(&stored).await?;
        }
        Ok(KnowledgeWrite {
            removed: stored.len(),
            ..KnowledgeWrite::default()
        })
    }

    async fn replace_guidelines(
        &self,
        brand: &str,
        document: &str,
        markdown: &str,
    ) -> Result<KnowledgeWrite, KnowledgeError> {
        self.ingest(
            guideline_entries(brand, document, markdown),
            true,
            &|_, _| {},
        )
        .await
        .map(written)
        .map_err(seam_error)
    }
}
