//! What a draft embeds: its message once (triage and both searches share the vector), its
//! candidates, and no clause or past reply it retrieved for scoring (the store hands their
//! vectors back with the hits). The grounding guard embeds the sentences of its sources once,
//! not once per draft, also across drafters that share its cache (the service builds one
//! drafter per message).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tact_core::{Embedder, KnowledgeError};
use tact_drafting::grounding::CachedEmbedder;
use tact_drafting::grounding::cache::DEFAULT_CAPACITY;
use tact_drafting::{DraftOptions, DraftSet, Drafter, DrafterParts, train_triage};

use crate::common::{approved, embedder, engine, inbound, knowledge_base, profile};

/// The real embedder, recording each batch it is given.
struct Recording {
    inner: Arc<dyn Embedder>,
    batches: Mutex<Vec<Vec<String>>>,
}

impl Recording {
    fn take(&self) -> Vec<Vec<String>> {
        std::mem::take(&mut *self.batches.lock().unwrap())
    }
}

impl Embedder for Recording {
    fn dimension(&self) -> usize {
        self.inner.dimension()
    }

    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, KnowledgeError> {
        self.batches
            .lock()
            .unwrap()
            .push(texts.iter().map(|t| t.to_string()).collect());
        self.inner.embed(texts)
    }
}

fn counts(batches: &[Vec<String>]) -> HashMap<&str, usize> {
    let mut counts = HashMap::new();
    for text in batches.iter().flatten() {
        *counts.entry(text.as_str()).or_insert(0) += 1;
    }
    counts
}

/// The retrieved texts of a draft: clauses, and past replies with the messages they answered.
fn retrieved(set: &DraftSet) -> Vec<&str> {
    let prompt = set.prompt.as_ref().expect("a prompt");
    assert!(!prompt.clauses.is_empty() && !prompt.examples.is_empty());
    prompt
        .clauses
        .iter()
        .map(|c| c.text.as_str())
        .chain(
            prompt
                .examples
                .iter()
                .flat_map(|e| [e.reply.as_str(), e.inbound.as_str()]),
        )
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_draft_embeds_its_message_once_and_what_it_retrieved_never() {
    let dir = tempfile::tempdir().unwrap();
    let kb = knowledge_base(dir.path()).await;
    let recording = Arc::new(Recording {
        inner: embedder(),
        batches: Mutex::new(Vec::new()),
    });
    let triage = Arc::new(train_triage(recording.clone()).await.unwrap());
    recording.take(); // the triage classifiers' training set
    // As the service does: a drafter per message, one cache of source sentences for all.
    let sentences = Arc::new(CachedEmbedder::new(recording.clone(), DEFAULT_CAPACITY));
    let generator = engine();
    let retriever = Arc::new(kb);
    let drafter_for_a_message = || {
        Drafter::sharing(
            DrafterParts {
                generator: generator.clone(),
                embedder: recording.clone(),
                retriever: retriever.clone(),
                profile: profile(),
                approved: approved(),
            },
            triage.clone(),
            sentences.clone(),
        )
    };
    let options = DraftOptions {
        candidates: 1,
        temperature: 0.0,
        max_new_tokens: 24,
        ..DraftOptions::default()
    };

    let messages = [
        "My parcel still hasn't arrived after 9 days and the tracking page hasn't changed",
        "Do you ship your Ethiopian roast to Canada?",
    ];
    let mut per_draft = Vec::new();
    for text in messages {
        let set = drafter_for_a_message()
            .draft(&inbound("x", "@sam_k", text), &options)
            .await
            .unwrap();
        let batches = recording.take();
        let seen = counts(&batches);
        assert_eq!(seen.get(text), Some(&1), "the message, once: {batches:#?}");
        // Scoring runs last and embeds the candidates only: the clauses and replies they are
        // compared with come from the store.
        let scoring = batches.last().expect("the scoring batch");
        let candidates: Vec<&str> = set.candidates.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(scoring.len(), candidates.len(), "{scoring:#?}");
        assert!(scoring.iter().all(|t| candidates.contains(&t.as_str())));
        // (An adapted past reply can be a candidate word for word; candidates are embedded.)
        for source in retrieved(&set)
            .into_iter()
            .filter(|t| !candidates.contains(t))
        {
            assert!(
                seen.get(source).is_none_or(|&n| n == 1),
                "retrieved text embedded twice: {source:?}"
            );
        }
        // The message; the grounding guard's new source sentences and claims; the candidates.
        assert!(
            batches.len() <= 4,
            "{} embedder calls: {batches:#?}",
            batches.len()
        );
        per_draft.push((set, batches));
    }

    // The second draft's sources (the fact sheet at least) were embedded by the first: only
    // its own message and what its candidates say are new.
    let (first, first_batches) = &per_draft[0];
    let (second, second_batches) = &per_draft[1];
    let candidate_text: Vec<&str> = [first, second]
        .iter()
        .flat_map(|s| s.candidates.iter().map(|c| c.text.as_str()))
        .collect();
    let before = counts(first_batches);
    let again: Vec<&str> = counts(second_batches)
        .into_keys()
        .filter(|t| before.contains_key(t))
        .filter(|t| !candidate_text.iter().any(|c| c.contains(t)))
        .collect();
    assert!(
        again.is_empty(),
        "source sentences embedded again: {again:#?}"
    );
    assert!(
        before.len() > 10,
        "the first draft embedded its sources' sentences: {before:#?}"
    );
}
