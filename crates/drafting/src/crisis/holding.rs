//! The suggested holding statement: a short public post, drafted by the model, saying the brand
//! knows about the problem and is on it. It is post-processed and checked like any draft; the
//! model sees the topic's keywords and the affected product, never the customers' messages, so
//! it cannot echo them, and no number in the summary comes from it.

use serde::Serialize;
use tact_core::{ChatMessage, GenerateRequest, SamplingParams, TextGenerator};

use super::CrisisSummary;
use crate::checks::{CheckContext, Violation, blocks, check};
use crate::error::Result;
use crate::postprocess::{Change, postprocess};

/// A drafted holding statement and what the guideline checks say about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HoldingStatement {
    pub text: String,
    /// The channel it was drafted and checked for.
    pub channel: String,
    /// What post-processing changed in the model's text.
    pub changes: Vec<Change>,
    pub violations: Vec<Violation>,
    /// Whether a block-severity violation fired: a person must rewrite or override it.
    pub blocked: bool,
}

/// A worked example in chat turns (the small model follows examples given as earlier turns far
/// better than instructions in the system prompt), about a different product so it is not
/// copied.
const EXAMPLE_REQUEST: &str = "People report: checkout errors, payment failed. Affected: website.";
const EXAMPLE_STATEMENT: &str = "We know some of you can't check out on our website right now, \
and we're sorry. Our team is on it and we'll post an update here as soon as we know more. \
Thank you for bearing with us.";

/// The conversation that asks for a holding statement on `ctx`'s channel.
pub fn holding_prompt(summary: &CrisisSummary, ctx: &CheckContext<'_>) -> Vec<ChatMessage> {
    let profile = ctx.profile;
    let system = format!(
        "You write short public holding statements for {name} on {channel}. Our voice: {voice}\n\
         A holding statement says we know about the problem people report, that we are sorry \
         and looking into it, and that we will post an update here. Write it as {name}, in the \
         first person plural. Do not give causes, numbers, dates, refunds, compensation or \
         links. Keep it under {max} characters.",
        name = profile.name,
        channel = ctx.channel.label,
        voice = profile
            .voice
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
        max = ctx.channel.max_chars,
    );
    let mut request = format!("People report: {}.", summary.keywords.join(", "));
    if summary.keywords.is_empty() {
        request = format!("People report: {}.", summary.label);
    }
    if let Some(product) = &summary.affected {
        request.push_str(&format!(" Affected: {}.", product.name));
    }
    vec![
        ChatMessage::system(system),
        ChatMessage::user(EXAMPLE_REQUEST),
        ChatMessage::assistant(EXAMPLE_STATEMENT),
        ChatMessage::user(request),
    ]
}

/// Drafts a holding statement for `summary` with `generator`, then post-processes it for
/// `ctx`'s channel and runs the guideline checks on it.
pub fn holding_statement(
    summary: &CrisisSummary,
    generator: &dyn TextGenerator,
    ctx: &CheckContext<'_>,
    sampling: SamplingParams,
) -> Result<HoldingStatement> {
    let stream = generator.generate(GenerateRequest {
        messages: holding_prompt(summary, ctx),
        sampling,
    })?;
    let (raw, _, _) = stream.wait_blocking(|_| {})?;
    let cleaned = postprocess(&raw, ctx.profile, ctx.channel);
    let violations = check(&cleaned.text, ctx);
    Ok(HoldingStatement {
        blocked: blocks(&violations),
        text: cleaned.text,
        channel: ctx.channel_name.to_owned(),
        changes: cleaned.changes,
        violations,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use tact_core::{
        FinishReason, GenerateError, GenerationEvent, GenerationStats, GenerationStream,
    };
    use tokio::sync::mpsc;

    use super::*;
    use crate::checks::ApprovedEvidence;
    use crate::crisis::{AffectedProduct, ProductSource};
    use crate::fixture;
    use crate::rules::Rule;

    /// Replies with fixed text and remembers the request: a fake above the generation seam.
    struct Canned {
        reply: &'static str,
        seen: Mutex<Vec<GenerateRequest>>,
    }

    impl TextGenerator for Canned {
        fn generate(
            &self,
            request: GenerateRequest,
        ) -> std::result::Result<GenerationStream, GenerateError> {
            self.seen.lock().unwrap().push(request);
            let (tx, rx) = mpsc::unbounded_channel();
            let stats = GenerationStats {
                prompt_tokens: 1,
                reused_prompt_tokens: 0,
                generated_tokens: 1,
                queued: Default::default(),
                prefill: Default::default(),
                time_to_first_token: None,
                max_batch: 1,
                decode: Default::default(),
            };
            tx.send(GenerationEvent::Done {
                text: self.reply.to_owned(),
                tokens: vec![],
                finish: FinishReason::EndOfTurn,
                stats,
            })
            .unwrap();
            Ok(GenerationStream::new(rx))
        }
        fn count_tokens(&self, text: &str) -> std::result::Result<usize, GenerateError> {
            Ok(text.split_whitespace().count())
        }
        fn context_length(&self) -> usize {
            2048
        }
    }

    fn summary() -> CrisisSummary {
        CrisisSummary {
            brand: "testbrand".into(),
            label: "app, crashing".into(),
            keywords: vec!["app".into(), "crashing".into()],
            since: "2026-03-05T09:00:00Z".into(),
            until: "2026-03-05T09:50:00Z".into(),
            messages: 40,
            negative: 38,
            peak_window: 40,
            window_minutes: 60,
            baseline_per_window: 0.0,
            baseline_negative_share: Some(0.2),
            affected: Some(AffectedProduct {
                name: "app".into(),
                mentions: 30,
                source: ProductSource::Catalogue,
            }),
            quotes: vec![],
            message_ids: vec![],
            holding_statement: None,
        }
    }

    #[test]
    fn the_statement_is_checked_and_its_violations_attached() {
        let profile = fixture::profile();
        let approved = ApprovedEvidence::default();
        let ctx = CheckContext::new(&profile, "x", None, &approved).unwrap();
        let generator = Canned {
            reply: "Assistant: Unfortunately the app is down. We will refund everyone. \
                    More at https://evil.example/status",
            seen: Mutex::new(Vec::new()),
        };
        let statement =
            holding_statement(&summary(), &generator, &ctx, SamplingParams::greedy()).unwrap();
        assert!(
            !statement.text.starts_with("Assistant"),
            "{}",
            statement.text
        );
        assert!(
            !statement.text.contains("evil.example"),
            "{}",
            statement.text
        );
        assert_eq!(statement.violations, check(&statement.text, &ctx));
        let rules: Vec<Rule> = statement.violations.iter().map(|v| v.rule).collect();
        assert!(rules.contains(&Rule::BannedTerm), "{rules:?}");
        assert!(rules.contains(&Rule::Commitment), "{rules:?}");
        assert_eq!(statement.blocked, blocks(&statement.violations));

        let seen = generator.seen.lock().unwrap();
        let last = &seen[0].messages.last().unwrap().content;
        assert_eq!(last, "People report: app, crashing. Affected: app.");
    }

    #[test]
    fn a_clean_statement_has_no_violations() {
        let profile = fixture::profile();
        let approved = ApprovedEvidence::default();
        let ctx = CheckContext::new(&profile, "x", None, &approved).unwrap();
        let generator = Canned {
            reply: "We know the app is crashing for some of you and we're looking into it. \
                    We'll post an update here soon.",
            seen: Mutex::new(Vec::new()),
        };
        let statement =
            holding_statement(&summary(), &generator, &ctx, SamplingParams::greedy()).unwrap();
        assert_eq!(statement.violations, []);
        assert!(!statement.blocked);
    }
}
