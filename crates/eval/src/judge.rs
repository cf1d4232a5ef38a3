//! The rubric judge: a local model asked, for each guideline clause retrieved for a case,
//! whether the draft follows it. The answer is parsed strictly: one word, `yes` or `no` (case
//! and a final full stop aside); anything else is recorded as unparseable and counts against
//! the draft. Off unless the suite names a judge model: the bundled 135M model is too small.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tact_core::{
    ChatMessage, GenerateError, GenerateRequest, GenerationEvent, GenerationStream, SamplingParams,
    TextGenerator,
};
use tact_drafting::GuidelineClause;

use crate::error::Result;
use crate::score::{CheckName, CheckResult};

const SYSTEM: &str = "You review replies that a support team drafted for a brand. You are \
given one guideline, the customer's message and the reply. Answer with exactly one word: \
yes if the reply follows the guideline, no if it does not.";
/// Enough for "yes", "no" and a little more, to tell a clean answer from rambling.
const ANSWER_TOKENS: usize = 4;

/// What the judge said about one clause.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JudgeAnswer {
    pub clause: String,
    pub verdict: Verdict,
    /// The model's reply as written.
    pub raw: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Yes,
    No,
    Unparseable,
}

/// A judge model behind the text-generation seam.
pub struct RubricJudge {
    generator: Arc<dyn TextGenerator>,
    /// The model's name, for the report.
    pub name: String,
}

impl std::fmt::Debug for RubricJudge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RubricJudge")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl RubricJudge {
    pub fn new(generator: Arc<dyn TextGenerator>, name: impl Into<String>) -> Self {
        Self {
            generator,
            name: name.into(),
        }
    }

    /// One greedy question per clause, all queued at once.
    pub async fn judge(
        &self,
        message: &str,
        draft: &str,
        clauses: &[GuidelineClause],
    ) -> Result<Vec<JudgeAnswer>> {
        let mut streams = Vec::new();
        for clause in clauses {
            let question = format!(
                "Guideline: {}\n\nCustomer's message: {message}\n\nReply: {draft}\n\n\
                 Does the reply follow the guideline? Answer yes or no.",
                clause.text
            );
            let stream = self.generator.generate(GenerateRequest {
                messages: vec![ChatMessage::system(SYSTEM), ChatMessage::user(question)],
                sampling: SamplingParams {
                    max_new_tokens: ANSWER_TOKENS,
                    ..SamplingParams::greedy()
                },
            })?;
            streams.push((clause.id.clone(), stream));
        }
        let mut answers = Vec::new();
        for (clause, stream) in streams {
            let raw = finish(stream).await?;
            answers.push(JudgeAnswer {
                clause,
                verdict: parse(&raw),
                raw,
            });
        }
        Ok(answers)
    }
}

async fn finish(mut stream: GenerationStream) -> Result<String> {
    while let Some(event) = stream.next().await {
        match event {
            GenerationEvent::Delta(_) => {}
            GenerationEvent::Done { text, .. } => return Ok(text),
            GenerationEvent::Failed(e) => return Err(e.into()),
        }
    }
    Err(GenerateError::EngineStopped.into())
}

/// `yes` or `no`, alone, in any case, with at most a final full stop; anything else is
/// unparseable.
pub fn parse(raw: &str) -> Verdict {
    let word = raw.trim();
    let word = word.strip_suffix('.').unwrap_or(word);
    match word.to_ascii_lowercase().as_str() {
        "yes" => Verdict::Yes,
        "no" => Verdict::No,
        _ => Verdict::Unparseable,
    }
}

/// The judge check: the share of clauses answered "yes" must reach `min_yes_rate`.
pub fn check(answers: &[JudgeAnswer], min_yes_rate: f64) -> CheckResult {
    let yes = answers.iter().filter(|a| a.verdict == Verdict::Yes).count();
    let rate = if answers.is_empty() {
        1.0
    } else {
        yes as f64 / answers.len() as f64
    };
    let not_yes: Vec<String> = answers
        .iter()
        .filter(|a| a.verdict != Verdict::Yes)
        .map(|a| match a.verdict {
            Verdict::No => format!("no: {}", a.clause),
            Verdict::Yes | Verdict::Unparseable => {
                format!("unparseable ({:?}): {}", a.raw, a.clause)
            }
        })
        .collect();
    CheckResult {
        check: CheckName::Judge,
        passed: rate >= min_yes_rate,
        value: rate,
        detail: if not_yes.is_empty() {
            format!("yes to all {} clause(s)", answers.len())
        } else {
            not_yes.join("; ")
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::time::Duration;
    use tact_core::{FinishReason, GenerationStats};

    fn ready(text: &str) -> GenerationStream {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let stats = GenerationStats {
            prompt_tokens: 1,
            reused_prompt_tokens: 0,
            generated_tokens: 1,
            queued: Duration::ZERO,
            prefill: Duration::ZERO,
            time_to_first_token: None,
            max_batch: 1,
            decode: Duration::ZERO,
        };
        tx.send(GenerationEvent::Done {
            text: text.to_owned(),
            tokens: Vec::new(),
            finish: FinishReason::EndOfTurn,
            stats,
        })
        .unwrap();
        GenerationStream::new(rx)
    }

    #[test]
    fn answers_are_parsed_strictly() {
        assert_eq!(parse(" Yes"), Verdict::Yes);
        assert_eq!(parse("no."), Verdict::No);
        assert_eq!(parse("NO"), Verdict::No);
        assert_eq!(parse("Yes, it does"), Verdict::Unparseable);
        assert_eq!(parse("yes no"), Verdict::Unparseable);
        assert_eq!(parse(""), Verdict::Unparseable);
    }

    /// Answers from a script, one per question, recording the questions.
    struct Scripted {
        answers: Mutex<Vec<&'static str>>,
        questions: Mutex<Vec<String>>,
    }

    impl TextGenerator for Scripted {
        fn generate(
            &self,
            request: GenerateRequest,
        ) -> std::result::Result<GenerationStream, GenerateError> {
            self.questions
                .lock()
                .unwrap()
                .push(request.messages[1].content.clone());
            let answer = self.answers.lock().unwrap().remove(0);
            Ok(ready(answer))
        }
        fn count_tokens(&self, text: &str) -> std::result::Result<usize, GenerateError> {
            Ok(text.split_whitespace().count())
        }
        fn context_length(&self) -> usize {
            2048
        }
    }

    #[tokio::test]
    async fn each_clause_is_asked_once_and_unclear_answers_count_against_the_draft() {
        let judge_model = Arc::new(Scripted {
            answers: Mutex::new(vec!["yes", "Probably"]),
            questions: Mutex::new(Vec::new()),
        });
        let judge = RubricJudge::new(judge_model.clone(), "scripted");
        let clause = |id: &str, text: &str| GuidelineClause {
            id: id.into(),
            text: text.into(),
            similarity: 0.5,
        };
        let answers = judge
            .judge(
                "Where is my order?",
                "It ships today.",
                &[clause("a", "Be brief."), clause("b", "No blame.")],
            )
            .await
            .unwrap();
        assert_eq!(answers[0].verdict, Verdict::Yes);
        assert_eq!(answers[1].verdict, Verdict::Unparseable);
        let questions = judge_model.questions.lock().unwrap();
        assert!(questions[1].contains("No blame.") && questions[1].contains("It ships today."));
        let result = check(&answers, 1.0);
        assert!(!result.passed);
        assert_eq!(result.value, 0.5);
        assert!(result.detail.contains("unparseable (\"Probably\"): b"));
    }
}
