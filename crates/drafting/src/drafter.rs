//! The drafter: one inbound message in, a ranked, checked and cited [`DraftSet`] out.
//!
//! It reaches the model, the embedder and the knowledge base only through `tact-core`'s seams
//! ([`TextGenerator`], [`Embedder`], [`Retriever`]). The steps, each timed:
//!
//! 1. **triage**: escalation and abuse screening, and the classifiers over the message's
//!    embedding; an escalation topic (or a threat) routes the message to a person and nothing
//!    is generated;
//! 2. **retrieval**: the brand's guideline clauses and past replies nearest to the message;
//! 3. **prompt**: assembled and packed to the token budget ([`crate::prompt`]);
//! 4. **generation**: N candidates with varied seeds and temperatures, plus the closest past
//!    reply adapted to this message ([`crate::adapt`]);
//! 5. **scoring**: post-processing, the guideline checks, citations and scores, then ranking
//!    ([`crate::candidates`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Serialize, Serializer};
use tact_core::review::{Drafts, TriageSummary};
use tact_core::{
    Embedder, GenerateError, GenerateRequest, GenerationEvent, InboundMessage, KnowledgeError,
    KnowledgeFilter, KnowledgeHit, KnowledgeKind, Retriever, SamplingParams, TextGenerator,
};
use tracing::Instrument;

use crate::adapt::adapt;
use crate::candidates::{Candidate, Citations, GenerationInfo, Origin, Score, cite, cosine, rank};
use crate::checks::{ApprovedEvidence, CheckContext, Violation, check};
use crate::error::{Error, Result};
use crate::grounding;
use crate::postprocess::postprocess;
use crate::profile::BrandProfile;
use crate::prompt::{
    ExamplePlacement, GuidelineClause, PastExample, Prompt, PromptInput, ThreadTurn, assemble,
};
use crate::rules::Rule;
use crate::triage::{
    Route, Screening, TrainOptions, TriageClassifier, TriageLabels, TriagePrediction, labelled_set,
    screen,
};

/// How to draft. `DraftOptions::default()` is what `tact draft` does.
#[derive(Debug, Clone, PartialEq)]
pub struct DraftOptions {
    /// The channel to reply on; default: the message's channel.
    pub channel: Option<String>,
    /// Generated candidates (the adapted past reply comes on top of these).
    pub candidates: usize,
    /// Candidate `i` samples with seed `seed + i`.
    pub seed: u64,
    /// Candidate `i` samples at `temperature + 0.15 · i`; 0 decodes greedily, which gives
    /// one generated candidate whatever `candidates` says (every seed would write the same).
    pub temperature: f64,
    pub top_k: usize,
    pub top_p: f64,
    pub repeat_penalty: f32,
    pub max_new_tokens: usize,
    /// Past replies retrieved as examples.
    pub examples: usize,
    /// Guideline clauses retrieved.
    pub clauses: usize,
    /// Tokens the prompt may take (further limited by the model's context).
    pub prompt_budget: usize,
    /// Earlier messages of the conversation, oldest first.
    pub thread: Vec<ThreadTurn>,
    /// Where the past replies go in the prompt.
    pub examples_as: ExamplePlacement,
}

impl Default for DraftOptions {
    fn default() -> Self {
        Self {
            channel: None,
            candidates: 3,
            seed: 42,
            temperature: 0.7,
            top_k: 40,
            top_p: 0.9,
            repeat_penalty: 1.15,
            max_new_tokens: 128,
            examples: 3,
            clauses: 4,
            prompt_budget: 1536,
            thread: Vec::new(),
            examples_as: ExamplePlacement::default(),
        }
    }
}

/// Temperature added per candidate, so candidates differ in more than the seed.
const TEMPERATURE_STEP: f64 = 0.15;
/// Most candidates, examples and clauses a draft may ask for.
const MAX_CANDIDATES: usize = 8;
const MAX_EVIDENCE: usize = 8;

/// Everything the drafter is built from.
#[derive(Clone)]
pub struct DrafterParts {
    pub generator: Arc<dyn TextGenerator>,
    pub embedder: Arc<dyn Embedder>,
    pub retriever: Arc<dyn Retriever>,
    pub profile: BrandProfile,
    /// Links and signatures of the brand's approved replies (for the checks).
    pub approved: ApprovedEvidence,
}

/// A message's triage: the deterministic screening and the classifiers' labels.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Triage {
    #[serde(flatten)]
    pub screening: Screening,
    #[serde(flatten)]
    pub labels: TriagePrediction,
}

/// Time spent in each step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct DraftTimings {
    #[serde(rename = "triage_ms", serialize_with = "millis")]
    pub triage: Duration,
    #[serde(rename = "retrieval_ms", serialize_with = "millis")]
    pub retrieval: Duration,
    #[serde(rename = "prompt_ms", serialize_with = "millis")]
    pub prompt: Duration,
    #[serde(rename = "generation_ms", serialize_with = "millis")]
    pub generation: Duration,
    #[serde(rename = "scoring_ms", serialize_with = "millis")]
    pub scoring: Duration,
    #[serde(rename = "total_ms", serialize_with = "millis")]
    pub total: Duration,
}

/// What the drafter returns for one message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DraftSet {
    pub message_id: String,
    pub brand: String,
    pub channel: String,
    pub triage: Triage,
    /// Absent when the message was escalated.
    pub prompt: Option<Prompt>,
    /// Best first; empty when the message was escalated.
    pub candidates: Vec<Candidate>,
    pub timings: DraftTimings,
}

impl Triage {
    /// The triage as a reviewer sees it (tact-core's review vocabulary).
    pub fn summary(&self) -> TriageSummary {
        let labels = &self.labels;
        TriageSummary {
            sentiment: labels.sentiment.label,
            intent: labels.intent.label,
            urgency: labels.urgency.label,
            language: labels.language.label.clone(),
            toxic: self.screening.abuse.is_some(),
            escalation: self
                .screening
                .escalations
                .iter()
                .map(|e| e.topic.clone())
                .collect(),
        }
    }
}

impl DraftSet {
    pub fn escalated(&self) -> bool {
        self.triage.screening.route == Route::Escalate
    }

    /// The candidates and triage as they are stored for review and served.
    pub fn drafts(&self) -> Drafts {
        Drafts {
            candidates: self.candidates.iter().map(Candidate::keyed).collect(),
            triage: Some(self.triage.summary()),
        }
    }
}

/// Drafts replies for one brand.
pub struct Drafter {
    parts: DrafterParts,
    triage: Arc<TriageClassifier>,
    /// The grounding guard's embedder: source sentences (the fact sheet, retrieved clauses and
    /// replies) are embedded once, not once per draft.
    sentences: Arc<grounding::CachedEmbedder>,
}

impl std::fmt::Debug for Drafter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Drafter")
            .field("brand", &self.parts.profile.id)
            .finish_non_exhaustive()
    }
}

impl Drafter {
    /// A drafter whose triage classifiers are trained on the shipped labelled set with
    /// `parts.embedder` (embedding a few hundred sentences: about a second on a laptop).
    pub async fn new(parts: DrafterParts) -> Result<Self> {
        let triage = train_triage(parts.embedder.clone()).await?;
        Ok(Self::with_triage(parts, Arc::new(triage)))
    }

    /// A drafter with classifiers already trained with the same embedder.
    pub fn with_triage(parts: DrafterParts, triage: Arc<TriageClassifier>) -> Self {
        let sentences = Arc::new(grounding::CachedEmbedder::new(
            parts.embedder.clone(),
            grounding::cache::DEFAULT_CAPACITY,
        ));
        Self::sharing(parts, triage, sentences)
    }

    /// [`Drafter::with_triage`] whose grounding guard embeds source sentences through
    /// `sentences` (wrapping `parts.embedder`), a cache shared with other drafters: a service
    /// that builds a drafter per message embeds each fact-sheet sentence once, not per draft.
    pub fn sharing(
        parts: DrafterParts,
        triage: Arc<TriageClassifier>,
        sentences: Arc<grounding::CachedEmbedder>,
    ) -> Self {
        Self {
            parts,
            triage,
            sentences,
        }
    }

    pub fn profile(&self) -> &BrandProfile {
        &self.parts.profile
    }

    /// Triages `inbound` and, unless it must go to a person, drafts ranked candidates.
    pub async fn draft(
        &self,
        inbound: &InboundMessage,
        options: &DraftOptions,
    ) -> Result<DraftSet> {
        let span = tracing::info_span!(
            "draft",
            message = %inbound.id,
            brand = %self.parts.profile.id,
            candidates = options.candidates
        );
        self.draft_inner(inbound, options).instrument(span).await
    }

    async fn draft_inner(
        &self,
        inbound: &InboundMessage,
        options: &DraftOptions,
    ) -> Result<DraftSet> {
        let started = Instant::now();
        let profile = &self.parts.profile;
        validate(inbound, options, profile)?;
        let channel_name = options.channel.as_deref().unwrap_or(&inbound.channel);
        let ctx = CheckContext::new(profile, channel_name, Some(inbound), &self.parts.approved)?;
        let mut timings = DraftTimings::default();

        let step = Instant::now();
        let screening = screen(&inbound.text, profile);
        let message_vector = self.embed(vec![inbound.text.clone()]).await?.remove(0);
        let labels = self
            .triage
            .predict(std::slice::from_ref(&message_vector))?
            .remove(0);
        timings.triage = step.elapsed();
        let mut set = DraftSet {
            message_id: inbound.id.clone(),
            brand: profile.id.clone(),
            channel: channel_name.to_owned(),
            triage: Triage { screening, labels },
            prompt: None,
            candidates: Vec::new(),
            timings,
        };
        if set.escalated() {
            tracing::info!(route = "escalate", "not drafting");
            set.timings.total = started.elapsed();
            return Ok(set);
        }

        let step = Instant::now();
        let (clauses, examples, vectors) = self
            .retrieve(&inbound.text, &message_vector, options)
            .await?;
        set.timings.retrieval = step.elapsed();

        let step = Instant::now();
        let budget = options.prompt_budget.min(
            self.parts
                .generator
                .context_length()
                .saturating_sub(options.max_new_tokens),
        );
        let prompt = assemble(
            &PromptInput {
                profile,
                channel: ctx.channel,
                inbound,
                clauses: &clauses,
                examples: &examples,
                thread: &options.thread,
                budget,
                examples_as: options.examples_as,
            },
            &|text| Ok(self.parts.generator.count_tokens(text)?),
        )?;
        set.timings.prompt = step.elapsed();

        let step = Instant::now();
        let generated = self
            .generate(&prompt, options)
            .instrument(tracing::info_span!(
                "generate",
                prompt_tokens = prompt.tokens
            ))
            .await?;
        set.timings.generation = step.elapsed();

        let step = Instant::now();
        let mut candidates: Vec<Candidate> = generated
            .into_iter()
            .map(|(origin, generation)| {
                let processed = postprocess(&generation.raw, profile, ctx.channel);
                Candidate {
                    rank: 0,
                    origin,
                    violations: check(&processed.text, &ctx),
                    text: processed.text,
                    changes: processed.changes,
                    citations: Citations::default(),
                    score: Score::new::<Rule>(&[], 0.0, 0.0),
                    generation: Some(generation),
                }
            })
            .collect();
        let source = examples.first();
        if let Some(source) = source {
            let adapted = adapt(&source.reply, &inbound.author, profile, ctx.channel);
            let processed = postprocess(&adapted.text, profile, ctx.channel);
            candidates.push(Candidate {
                rank: 0,
                origin: Origin::AdaptedPastReply {
                    reply_id: source.id.clone(),
                    adaptations: adapted.adaptations,
                },
                violations: check(&processed.text, &ctx),
                text: processed.text,
                changes: processed.changes,
                citations: Citations::default(),
                score: Score::new::<Rule>(&[], 0.0, 0.0),
                generation: None,
            });
        }
        self.ground(&mut candidates, &ctx, &prompt, source).await?;
        self.score(&mut candidates, &message_vector, &prompt, source, &vectors)
            .await?;
        rank(&mut candidates);
        set.timings.scoring = step.elapsed();
        set.prompt = Some(prompt);
        set.candidates = candidates;
        set.timings.total = started.elapsed();
        tracing::info!(
            candidates = set.candidates.len(),
            total_ms = set.timings.total.as_millis() as u64,
            "drafted"
        );
        Ok(set)
    }

    /// Guideline clauses (only ids the brand's guidelines still have) and past replies nearest
    /// to `text`, best first, searched with its embedding `vector`, and their stored vectors.
    async fn retrieve(
        &self,
        text: &str,
        vector: &[f32],
        options: &DraftOptions,
    ) -> Result<(Vec<GuidelineClause>, Vec<PastExample>, SourceVectors)> {
        let brand = KnowledgeFilter::brand(&self.parts.profile.id);
        let clause_filter = brand.clone().kind(KnowledgeKind::Guideline);
        let reply_filter = brand.kind(KnowledgeKind::Reply);
        let span = tracing::info_span!(
            "retrieve",
            clauses = options.clauses,
            examples = options.examples
        );
        let (clause_hits, reply_hits) = async {
            let clauses = self
                .search(&clause_filter, text, vector, options.clauses)
                .await?;
            let replies = self
                .search(&reply_filter, text, vector, options.examples)
                .await?;
            Ok::<_, KnowledgeError>((clauses, replies))
        }
        .instrument(span)
        .await?;
        let guidelines = &self.parts.profile.guidelines;
        let mut vectors = SourceVectors::default();
        for hit in &clause_hits {
            if let Some(v) = &hit.dense {
                vectors.clauses.insert(hit.entry.cite.clone(), v.clone());
            }
        }
        for hit in &reply_hits {
            if let Some(v) = &hit.reply_dense {
                vectors.replies.insert(hit.entry.cite.clone(), v.clone());
            }
        }
        let clauses = clause_hits
            .into_iter()
            .filter_map(|hit| match guidelines.get(&hit.entry.cite) {
                Some(clause) => Some(GuidelineClause {
                    id: clause.id.clone(),
                    text: clause.text.clone(),
                    similarity: hit.score,
                }),
                None => {
                    tracing::warn!(clause = %hit.entry.cite, "the knowledge base has a clause the guidelines no longer have; re-ingest them");
                    None
                }
            })
            .collect();
        let examples = reply_hits
            .into_iter()
            .filter_map(|hit| {
                let reply = hit.entry.reply?;
                Some(PastExample {
                    id: hit.entry.cite,
                    inbound: hit.entry.text,
                    reply,
                    channel: hit.entry.channel,
                    similarity: hit.score,
                })
            })
            .collect();
        Ok((clauses, examples, vectors))
    }

    async fn search(
        &self,
        filter: &KnowledgeFilter,
        text: &str,
        vector: &[f32],
        limit: usize,
    ) -> std::result::Result<Vec<KnowledgeHit>, KnowledgeError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        self.parts
            .retriever
            .retrieve_embedded(filter, text, vector, limit)
            .await
    }

    /// Queues every candidate at once (the engine decodes them together) and collects them.
    async fn generate(
        &self,
        prompt: &Prompt,
        options: &DraftOptions,
    ) -> Result<Vec<(Origin, GenerationInfo)>> {
        let mut streams = Vec::new();
        for i in 0..generated_count(options) {
            let sampling = sampling(options, i);
            let origin = Origin::Generated {
                seed: sampling.seed,
                temperature: sampling.temperature,
            };
            let stream = self.parts.generator.generate(GenerateRequest {
                messages: prompt.messages.clone(),
                sampling,
            })?;
            streams.push((origin, stream));
        }
        let mut out = Vec::new();
        for (origin, mut stream) in streams {
            let info = loop {
                match stream.next().await {
                    Some(GenerationEvent::Delta(_)) => {}
                    Some(GenerationEvent::Done {
                        text,
                        finish,
                        stats,
                        ..
                    }) => {
                        break GenerationInfo {
                            finish,
                            prompt_tokens: stats.prompt_tokens,
                            generated_tokens: stats.generated_tokens,
                            time_to_first_token: stats
                                .time_to_first_token
                                .map(|t| t + stats.queued),
                            total: stats.queued + stats.prefill + stats.decode,
                            prefill_tokens_per_s: stats.prefill_tokens_per_s(),
                            decode_tokens_per_s: stats.decode_tokens_per_s(),
                            raw: text,
                        };
                    }
                    Some(GenerationEvent::Failed(e)) => return Err(e.into()),
                    None => return Err(GenerateError::EngineStopped.into()),
                }
            };
            out.push((origin, info));
        }
        Ok(out)
    }

    /// Flags each candidate's claims that no source of the draft supports: the fact sheet, the
    /// clauses and replies in the prompt (and the adapted reply's source), and what the
    /// customer told us ([`crate::grounding`]).
    async fn ground(
        &self,
        candidates: &mut [Candidate],
        ctx: &CheckContext<'_>,
        prompt: &Prompt,
        source: Option<&PastExample>,
    ) -> Result<()> {
        let mut replies: Vec<&PastExample> = prompt.examples.iter().collect();
        if let Some(source) = source
            && !replies.iter().any(|r| r.id == source.id)
        {
            replies.push(source);
        }
        let texts: Vec<String> = candidates.iter().map(|c| c.text.clone()).collect();
        let found = self
            .unsupported_claims(texts, ctx, &prompt.clauses, &replies)
            .await?;
        for (candidate, found) in candidates.iter_mut().zip(found) {
            candidate.violations.extend(found);
            sort_violations(&mut candidate.violations);
        }
        Ok(())
    }

    /// The `unsupported_claim` violations of each of `texts` against the fact sheet, `clauses`,
    /// `replies` and the customer's message of `ctx`.
    async fn unsupported_claims(
        &self,
        texts: Vec<String>,
        ctx: &CheckContext<'_>,
        clauses: &[GuidelineClause],
        replies: &[&PastExample],
    ) -> Result<Vec<Vec<Violation>>> {
        let sources = grounding::sources(
            ctx.profile,
            clauses.iter().map(|c| (c.id.as_str(), c.text.as_str())),
            replies.iter().map(|r| (r.id.as_str(), r.reply.as_str())),
            ctx.inbound,
        );
        let embedder = self.sentences.clone();
        let approved = self.parts.approved.clone();
        let profile = self.parts.profile.clone();
        let findings = tokio::task::spawn_blocking(move || {
            grounding::unsupported_in_each(&texts, sources, &approved, &profile, embedder.as_ref())
        })
        .await
        .map_err(|e| KnowledgeError::Embedding(format!("grounding task failed: {e}")))??;
        Ok(findings
            .into_iter()
            .map(|found| {
                found
                    .into_iter()
                    .map(|f| ctx.violation(Rule::UnsupportedClaim, f.reason(), &f.claim.text))
                    .collect()
            })
            .collect())
    }

    /// What a candidate is checked for, on a reply a person wrote or edited: the brand's
    /// guideline checks on `channel`, and the grounding guard against the sources a draft of
    /// `inbound` is written from: the fact sheet, the guideline clauses and past replies
    /// retrieved for the message (all of them, where a draft's prompt budget may keep fewer)
    /// and what the customer told us. Without a message (an ad-hoc check), the sources are
    /// retrieved for the reply's own text. Embeds the retrieval text once.
    pub async fn check_reply(
        &self,
        inbound: Option<&InboundMessage>,
        channel: &str,
        text: &str,
        options: &DraftOptions,
    ) -> Result<Vec<Violation>> {
        let ctx = CheckContext::new(&self.parts.profile, channel, inbound, &self.parts.approved)?;
        let mut violations = check(text, &ctx);
        let about = inbound.map_or(text, |m| m.text.as_str());
        let vector = self.embed(vec![about.to_owned()]).await?.remove(0);
        let (clauses, examples, _) = self.retrieve(about, &vector, options).await?;
        let replies: Vec<&PastExample> = examples.iter().collect();
        let found = self
            .unsupported_claims(vec![text.to_owned()], &ctx, &clauses, &replies)
            .await?;
        violations.extend(found.into_iter().flatten());
        sort_violations(&mut violations);
        Ok(violations)
    }

    /// Citations and scores: the candidates (embedded here, in one batch) against the clauses
    /// and approved replies of the prompt (and the adapted reply's source), whose vectors the
    /// store gave back with them. Only a source the store kept no vector for (a store created
    /// before reply vectors) is embedded, in the same batch.
    async fn score(
        &self,
        candidates: &mut [Candidate],
        message: &[f32],
        prompt: &Prompt,
        source: Option<&PastExample>,
        stored: &SourceVectors,
    ) -> Result<()> {
        let mut replies: Vec<&PastExample> = prompt.examples.iter().collect();
        if let Some(source) = source
            && !replies.iter().any(|r| r.id == source.id)
        {
            replies.push(source);
        }
        let mut texts: Vec<String> = candidates.iter().map(|c| c.text.clone()).collect();
        let missing_clauses: Vec<&GuidelineClause> = prompt
            .clauses
            .iter()
            .filter(|c| !stored.clauses.contains_key(&c.id))
            .collect();
        let missing_replies: Vec<&PastExample> = replies
            .iter()
            .copied()
            .filter(|r| !stored.replies.contains_key(&r.id))
            .collect();
        texts.extend(missing_clauses.iter().map(|c| c.text.clone()));
        texts.extend(missing_replies.iter().map(|r| r.reply.clone()));
        let mut vectors = self.embed(texts).await?.into_iter();
        let candidate_vectors: Vec<Vec<f32>> = vectors.by_ref().take(candidates.len()).collect();
        let mut embedded: HashMap<&str, Vec<f32>> = missing_clauses
            .iter()
            .map(|c| c.id.as_str())
            .chain(missing_replies.iter().map(|r| r.id.as_str()))
            .zip(vectors)
            .collect();
        let clause_vectors: Vec<Vec<f32>> = prompt
            .clauses
            .iter()
            .map(|c| match stored.clauses.get(&c.id) {
                Some(v) => v.clone(),
                None => embedded.remove(c.id.as_str()).unwrap_or_default(),
            })
            .collect();
        let reply_vectors: Vec<Vec<f32>> = replies
            .iter()
            .map(|r| match stored.replies.get(&r.id) {
                Some(v) => v.clone(),
                None => embedded.remove(r.id.as_str()).unwrap_or_default(),
            })
            .collect();

        for (candidate, vector) in candidates.iter_mut().zip(&candidate_vectors) {
            if candidate.text.trim().is_empty() {
                candidate.score = Score::new(&candidate.violations, 0.0, 0.0);
                continue;
            }
            let own_source = match &candidate.origin {
                Origin::AdaptedPastReply { reply_id, .. } => Some(reply_id.as_str()),
                Origin::Generated { .. } => None,
            };
            let in_prompt = |id: &str| prompt.examples.iter().any(|e| e.id == id);
            candidate.citations = Citations {
                clauses: cite(
                    vector,
                    prompt
                        .clauses
                        .iter()
                        .zip(&clause_vectors)
                        .map(|(c, v)| (c.id.as_str(), v.as_slice())),
                ),
                replies: cite(
                    vector,
                    replies
                        .iter()
                        .zip(&reply_vectors)
                        .filter(|(r, _)| in_prompt(&r.id) || Some(r.id.as_str()) == own_source)
                        .map(|(r, v)| (r.id.as_str(), v.as_slice())),
                ),
            };
            let closeness = replies
                .iter()
                .zip(&reply_vectors)
                .filter(|(r, _)| in_prompt(&r.id) && Some(r.id.as_str()) != own_source)
                .map(|(_, v)| cosine(vector, v))
                .fold(0.0f32, f32::max);
            candidate.score = Score::new(&candidate.violations, cosine(vector, message), closeness);
        }
        Ok(())
    }

    async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>> {
        embed(self.parts.embedder.clone(), texts).await
    }
}

/// The stored vectors of what a draft retrieved, by id: a clause's (its embedded text) and a
/// past reply's own text, read back with the search hits so they are never embedded again.
#[derive(Debug, Default)]
struct SourceVectors {
    clauses: HashMap<String, Vec<f32>>,
    replies: HashMap<String, Vec<f32>>,
}

/// Trains the triage classifiers on the shipped labelled set, embedded with `embedder`.
/// Blocking violations first, then by rule.
fn sort_violations(violations: &mut [Violation]) {
    violations.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.rule.cmp(&b.rule)));
}

pub async fn train_triage(embedder: Arc<dyn Embedder>) -> Result<TriageClassifier> {
    let set = labelled_set()?;
    let texts: Vec<String> = set.iter().map(|m| m.text.clone()).collect();
    let labels: Vec<TriageLabels> = set.into_iter().map(|m| m.labels).collect();
    let embeddings = embed(embedder, texts).await?;
    tokio::task::spawn_blocking(move || {
        TriageClassifier::train(&embeddings, &labels, TrainOptions::default())
    })
    .await
    .map_err(|e| Error::Classifier(format!("training task failed: {e}")))?
}

/// Embeds on the blocking pool (embedding is CPU work); empty texts get a zero vector.
async fn embed(embedder: Arc<dyn Embedder>, texts: Vec<String>) -> Result<Vec<Vec<f32>>> {
    tokio::task::spawn_blocking(move || -> Result<Vec<Vec<f32>>> {
        let dimension = embedder.dimension();
        let non_empty: Vec<&str> = texts
            .iter()
            .map(String::as_str)
            .filter(|t| !t.trim().is_empty())
            .collect();
        let mut vectors = if non_empty.is_empty() {
            Vec::new()
        } else {
            embedder.embed(&non_empty)?
        }
        .into_iter();
        Ok(texts
            .iter()
            .map(|t| {
                if t.trim().is_empty() {
                    vec![0.0; dimension]
                } else {
                    vectors.next().unwrap_or_else(|| vec![0.0; dimension])
                }
            })
            .collect())
    })
    .await
    .map_err(|e| KnowledgeError::Embedding(format!("embedding task failed: {e}")))?
}

fn validate(
    inbound: &InboundMessage,
    options: &DraftOptions,
    profile: &BrandProfile,
) -> Result<()> {
    if inbound.brand != profile.id {
        return Err(Error::WrongBrand {
            message: inbound.id.clone(),
            message_brand: inbound.brand.clone(),
            brand: profile.id.clone(),
        });
    }
    let invalid = |what: String| Err(Error::InvalidOptions(what));
    if inbound.text.trim().is_empty() {
        return invalid("the message text is empty".into());
    }
    if options.candidates > MAX_CANDIDATES {
        return invalid(format!(
            "candidates must be at most {MAX_CANDIDATES}, got {}",
            options.candidates
        ));
    }
    if options.examples > MAX_EVIDENCE || options.clauses > MAX_EVIDENCE {
        return invalid(format!(
            "examples and clauses must be at most {MAX_EVIDENCE}, got {} and {}",
            options.examples, options.clauses
        ));
    }
    if options.max_new_tokens == 0 {
        return invalid("max_new_tokens must be at least 1".into());
    }
    if !(0.0..=2.0).contains(&options.temperature) {
        return invalid(format!(
            "temperature must be between 0 and 2, got {}",
            options.temperature
        ));
    }
    Ok(())
}

/// Candidates to generate: greedy decoding gives every seed the same text, so it generates
/// one.
fn generated_count(options: &DraftOptions) -> usize {
    if options.temperature == 0.0 {
        options.candidates.min(1)
    } else {
        options.candidates
    }
}

fn sampling(options: &DraftOptions, index: usize) -> SamplingParams {
    if options.temperature == 0.0 {
        return SamplingParams {
            max_new_tokens: options.max_new_tokens,
            repeat_penalty: options.repeat_penalty,
            seed: options.seed + index as u64,
            ..SamplingParams::greedy()
        };
    }
    SamplingParams {
        temperature: options.temperature + TEMPERATURE_STEP * index as f64,
        top_k: Some(options.top_k),
        top_p: Some(options.top_p),
        repeat_penalty: options.repeat_penalty,
        seed: options.seed + index as u64,
        max_new_tokens: options.max_new_tokens,
        ..SamplingParams::default()
    }
}

fn millis<S: Serializer>(d: &Duration, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1e3)
}
