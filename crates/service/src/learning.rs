//! The learning loop: every approved reply goes into the brand's knowledge base as a past
//! reply, cited as `approved-<message id>` from source `workflow:approved` (its provenance),
//! so later drafts can draw on it. Point ids come from the cite, so feeding a reply twice
//! changes nothing.

use std::collections::HashMap;
use std::time::Duration;

use tact_core::LearnedReply;
use tact_workflow::FinalReply;
use tokio::sync::watch;

use crate::state::Service;

/// The knowledge-base source of replies approved in tact.
pub const SOURCE: &str = "workflow:approved";
/// Approved replies taken per brand per pass.
const BATCH: u32 = 64;
/// A pass also runs this often without an approval to wake it (approvals made by another
/// process sharing the store).
const IDLE: Duration = Duration::from_secs(30);

pub fn cite(message_id: &str) -> String {
    format!("approved-{message_id}")
}

fn learned(reply: &FinalReply) -> LearnedReply {
    LearnedReply {
        brand: reply.brand.clone(),
        cite: cite(&reply.message_id),
        channel: reply.channel.clone(),
        inbound: reply.inbound_text.clone(),
        reply: reply.final_text.clone(),
        created_at: reply.approved_at.to_rfc3339(),
    }
}

/// Feeds approved replies to the knowledge base until `shutdown`. It starts from the first
/// approval of each brand: what is already there is recognised by its content hash and not
/// embedded again.
pub async fn run_learning(state: Service, mut shutdown: watch::Receiver<bool>) {
    let mut after: HashMap<String, i64> = HashMap::new();
    loop {
        for brand in state.brand_ids() {
            let cursor = after.entry(brand.clone()).or_insert(0);
            if let Err(e) = learn_brand(&state, &brand, cursor).await {
                tracing::warn!(brand, error = %e, "cannot add approved replies to the knowledge base");
            }
        }
        tokio::select! {
            _ = state.learn.notified() => {}
            _ = tokio::time::sleep(IDLE) => {}
            _ = shutdown.changed() => return,
        }
    }
}

async fn learn_brand(
    state: &Service,
    brand: &str,
    cursor: &mut i64,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    loop {
        let replies = state
            .workflow()
            .approved_replies(brand, *cursor, BATCH)
            .await?;
        let Some(last) = replies.last() else {
            return Ok(());
        };
        let last_seq = last.seq;
        let learned: Vec<LearnedReply> = replies.iter().map(learned).collect();
        let summary = state.models.knowledge.add_replies(SOURCE, &learned).await?;
        tracing::info!(
            brand,
            added = summary.added,
            unchanged = summary.unchanged,
            "approved replies in the knowledge base"
        );
        *cursor = last_seq;
    }
}
