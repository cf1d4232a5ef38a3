//! Replies that answer something other than what the customer wrote: in another language, a
//! refusal to help (the failure stronger instruct models show on ordinary support questions),
//! or thanks for a complaint and apologies for praise.

use super::{CheckContext, Violation};
use crate::language;
use crate::rules::Rule;
use crate::text;

pub(super) fn check(text: &str, ctx: &CheckContext<'_>, out: &mut Vec<Violation>) {
    wrong_language(text, ctx, out);
    refusal(text, ctx, out);
    misread(text, ctx, out);
}

fn wrong_language(text: &str, ctx: &CheckContext<'_>, out: &mut Vec<Violation>) {
    let Some(inbound) = ctx.inbound else {
        return;
    };
    if let Some((theirs, ours)) = language::mismatch(&inbound.text, text) {
        out.push(ctx.violation(
            Rule::WrongLanguage,
            format!(
                "the reply is in {} but the customer wrote in {}",
                ours.name, theirs.name
            ),
            "",
        ));
    }
}

/// Phrases of a model declining the task, not of a brand answering.
const REFUSALS: &[&str] = &[
    "i can't assist with that",
    "i cannot assist with that",
    "i can't help with that",
    "i cannot help with that",
    "i'm unable to assist",
    "i am unable to assist",
    "i'm unable to help with",
    "i can't provide assistance",
    "i cannot provide assistance",
    "i'm not able to help with that",
    "i can't fulfill that request",
    "i cannot fulfill",
    "as an ai",
    "as a language model",
    "i'm just an ai",
    "i don't have access to real-time",
    "i don't have the ability to",
];

fn refusal(text: &str, ctx: &CheckContext<'_>, out: &mut Vec<Violation>) {
    if let Some(phrase) = REFUSALS.iter().find(|p| text::contains_phrase(text, p)) {
        out.push(ctx.violation(
            Rule::Refusal,
            format!("\"{phrase}\" declines to help; the brand answers or hands over"),
            phrase,
        ));
    }
}

/// Words of a complaint.
const COMPLAINT: &[&str] = &[
    "late",
    "never arrived",
    "hasn't arrived",
    "still waiting",
    "broken",
    "broke",
    "damaged",
    "stale",
    "wrong",
    "missing",
    "charged twice",
    "double charged",
    "refund",
    "terrible",
    "awful",
    "worst",
    "disappointed",
    "disappointing",
    "not happy",
    "unacceptable",
    "ridiculous",
    "ruined",
    "cold",
    "rude",
    "leaked",
    "spilled",
    "crashing",
    "crashes",
    "down",
    "can't",
    "won't",
    "doesn't work",
    "not working",
    "failed",
    "lost",
    "angry",
    "fed up",
    "complaint",
    "nothing here",
    "no reply",
    "waste",
];
/// Words of praise.
const PRAISE: &[&str] = &[
    "love",
    "loved",
    "amazing",
    "delicious",
    "best",
    "great",
    "excellent",
    "thank you",
    "thanks",
    "perfect",
    "gorgeous",
    "obsessed",
    "fantastic",
    "wonderful",
    "made my day",
    "so good",
    "lovely",
    "kind",
];
/// Openings that take the message as praise.
const THANKED: &[&str] = &[
    "you're welcome",
    "you are welcome",
    "glad you enjoyed",
    "glad you found",
    "glad you liked",
    "glad you love",
    "so glad you",
    "happy to hear you enjoyed",
    "thanks for the kind words",
    "thank you for the kind words",
    "thanks for the love",
    "we're thrilled you",
    "made our day",
];
/// Openings that take the message as a complaint.
const APOLOGISED: &[&str] = &[
    "sorry to hear",
    "so sorry",
    "we apologise",
    "we apologize",
    "sorry for the trouble",
    "sorry about that",
];

fn misread(text: &str, ctx: &CheckContext<'_>, out: &mut Vec<Violation>) {
    let Some(inbound) = ctx.inbound else {
        return;
    };
    let message = &inbound.text;
    let complains = COMPLAINT.iter().any(|w| text::contains_phrase(message, w));
    let praises = PRAISE.iter().any(|w| text::contains_phrase(message, w));
    let opening = text::sentences(text)
        .into_iter()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    if complains && let Some(p) = THANKED.iter().find(|p| text::contains_phrase(&opening, p)) {
        out.push(ctx.violation(
            Rule::MisreadSentiment,
            format!("\"{p}\" answers a complaint as if it were praise"),
            p,
        ));
    } else if praises
        && !complains
        && let Some(p) = APOLOGISED
            .iter()
            .find(|p| text::contains_phrase(&opening, p))
    {
        out.push(ctx.violation(
            Rule::MisreadSentiment,
            format!("\"{p}\" apologises for a message of praise"),
            p,
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::rules_on;
    use crate::rules::Rule;

    #[test]
    fn a_reply_in_another_language_is_flagged() {
        let spanish = "¿Hacen envíos a Canadá? Quiero pedir café para mi hermana.";
        let english =
            "Not yet, sorry. We ship within the US for now, and Canada is high on the list.";
        assert!(rules_on("x", Some(spanish), english).contains(&Rule::WrongLanguage));
        let answer = "Todavía no, lo sentimos. Por ahora solo enviamos dentro de Estados Unidos.";
        assert!(!rules_on("x", Some(spanish), answer).contains(&Rule::WrongLanguage));
        assert!(!rules_on("x", Some("ok thx"), english).contains(&Rule::WrongLanguage));
    }

    #[test]
    fn refusals_are_flagged() {
        for text in [
            "I'm sorry, but I can't assist with that.",
            "As an AI, I don't know where your order is.",
        ] {
            assert!(rules_on("x", Some("Where is my order?"), text).contains(&Rule::Refusal));
        }
        let fine = "Sorry, we can't ship to Canada yet. The shipping page has where we go.";
        assert!(!rules_on("x", Some("Do you ship to Canada?"), fine).contains(&Rule::Refusal));
    }

    #[test]
    fn thanks_for_a_complaint_and_apologies_for_praise() {
        let complaint = "My order arrived two weeks late and the bag was damaged.";
        let misread = "You're welcome! Glad you found the experience helpful.";
        assert!(rules_on("x", Some(complaint), misread).contains(&Rule::MisreadSentiment));
        let right =
            "That's far too long, and a damaged bag on top. Could you DM us your order number?";
        assert!(!rules_on("x", Some(complaint), right).contains(&Rule::MisreadSentiment));
        let praise = "Loved the Ethiopian this morning, so bright and floral";
        let apology = "So sorry to hear that. Could you DM us your order number?";
        assert!(rules_on("x", Some(praise), apology).contains(&Rule::MisreadSentiment));
        assert!(
            !rules_on("x", Some(praise), "That's the one! Enjoy every cup ☕")
                .contains(&Rule::MisreadSentiment)
        );
    }
}
