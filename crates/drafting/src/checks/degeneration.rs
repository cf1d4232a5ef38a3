//! Checks for the ways the small model was measured to fail (issue 4): looping on a sentence,
//! echoing the customer's message, writing as the customer, and inventing links or agent
//! signatures that no approved reply has.

use std::collections::HashMap;

use super::{CheckContext, Violation};
use crate::links;
use crate::rules::Rule;
use crate::text;

/// Words in a repeated span before it counts as a loop rather than a common phrase.
const LOOP_NGRAM: usize = 6;
/// A run of the customer's words this long is an echo whatever the message's length.
const ECHO_RUN: usize = 8;
/// For short messages: the share of the customer's words that, copied in a row, is an echo.
const ECHO_SHARE: f64 = 0.6;
/// Phrases only a customer writes about themselves.
const CUSTOMER_PHRASES: [&str; 16] = [
    "i ordered",
    "my order",
    "i paid",
    "i bought",
    "my package",
    "my parcel",
    "my subscription",
    "my account",
    "my card",
    "i was charged",
    "i've been waiting",
    "i have been waiting",
    "i received",
    "my refund",
    "i want a refund",
    "i'd like a refund",
];
const GREETINGS: [&str; 5] = ["hi", "hey", "hello", "dear", "thanks"];

pub(super) fn check(text: &str, ctx: &CheckContext<'_>, out: &mut Vec<Violation>) {
    repetition(text, ctx, out);
    echo(text, ctx, out);
    speaks_as_customer(text, ctx, out);
    unapproved(text, ctx, out);
}

fn repetition(text: &str, ctx: &CheckContext<'_>, out: &mut Vec<Violation>) {
    let mut seen: HashMap<String, &str> = HashMap::new();
    for sentence in text::sentences(text) {
        let key = text::normalized(sentence);
        if key.split(' ').count() < 3 {
            continue;
        }
        if seen.insert(key, sentence).is_some() {
            out.push(ctx.violation(
                Rule::RepetitionLoop,
                "a sentence is repeated".into(),
                sentence,
            ));
            return;
        }
    }
    // Loops without sentence punctuation: the same run of words twice.
    let words = text::words(text);
    let mut grams: HashMap<&[String], usize> = HashMap::new();
    for (i, gram) in words.windows(LOOP_NGRAM).enumerate() {
        match grams.get(gram) {
            // Overlapping windows of one long word run are not a repeat.
            Some(&first) if i >= first + LOOP_NGRAM => {
                out.push(ctx.violation(
                    Rule::RepetitionLoop,
                    format!("a run of {LOOP_NGRAM} words is repeated"),
                    &gram.join(" "),
                ));
                return;
            }
            Some(_) => {}
            None => {
                grams.insert(gram, i);
            }
        }
    }
}

fn echo(text: &str, ctx: &CheckContext<'_>, out: &mut Vec<Violation>) {
    let Some(inbound) = ctx.inbound else {
        return;
    };
    let theirs = text::words(&inbound.text);
    let ours = text::words(text);
    let run = text::longest_common_run(&theirs, &ours);
    let short_limit = ((theirs.len() as f64) * ECHO_SHARE).ceil() as usize;
    // Restating a short question in the brand's voice is how people answer it ("do you ship
    // to Canada now?" → "We ship to Canada now"): a short run is an echo only when it keeps
    // the customer's own voice ("my parcel") or repeats nearly the whole message.
    let short_echo = theirs.len() >= 4
        && run >= short_limit.max(4)
        && (run * 10 >= theirs.len() * 9 || keeps_customer_voice(&theirs, &ours, run));
    if run >= ECHO_RUN || short_echo {
        out.push(ctx.violation(
            Rule::EchoesCustomer,
            format!("repeats {run} words of the customer's message in a row"),
            "",
        ));
    }
}

/// Whether some shared run of `run` words contains a word of the customer's voice.
fn keeps_customer_voice(theirs: &[String], ours: &[String], run: usize) -> bool {
    const VOICE: &[&str] = &["i", "i'm", "i've", "my", "me", "mine", "myself"];
    theirs.windows(run).any(|window| {
        window.iter().any(|w| VOICE.contains(&w.as_str()))
            && ours.windows(run).any(|other| other == window)
    })
}

fn speaks_as_customer(text: &str, ctx: &CheckContext<'_>, out: &mut Vec<Violation>) {
    let words = text::words(text);
    let opening = words.iter().find(|w| !GREETINGS.contains(&w.as_str()));
    for handle in &ctx.profile.handles {
        let bare = handle.trim_start_matches('@').to_lowercase();
        if opening == Some(&bare) && text.to_lowercase().contains(&handle.to_lowercase()) {
            out.push(ctx.violation(
                Rule::SpeaksAsCustomer,
                format!("opens by addressing the brand's own handle {handle}"),
                handle,
            ));
        }
    }
    for phrase in CUSTOMER_PHRASES {
        if text::contains_phrase(text, phrase) {
            out.push(ctx.violation(
                Rule::SpeaksAsCustomer,
                format!("\"{phrase}\" is the customer's voice, not the brand's"),
                phrase,
            ));
            return;
        }
    }
}

fn unapproved(text: &str, ctx: &CheckContext<'_>, out: &mut Vec<Violation>) {
    for link in links::find(text) {
        // A link outside the allowlist is already reported by the link check.
        if link.is_on(&ctx.profile.link_domains) && !ctx.approved.links.contains(&link.normalized())
        {
            out.push(ctx.violation(
                Rule::UnapprovedLink,
                format!("{} appears in no approved reply", link.url),
                &link.url,
            ));
        }
    }
    let Some(signature) = links::signature(text) else {
        return;
    };
    let brand_sign_off = ctx
        .profile
        .sign_offs
        .iter()
        .any(|s| text::normalized(s) == signature.trim_start_matches('^'));
    if !brand_sign_off && !ctx.approved.signatures.contains(&signature) {
        out.push(ctx.violation(
            Rule::UnapprovedSignature,
            format!("the signature \"{signature}\" appears in no approved reply"),
            &signature,
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{fires, rules_on};
    use crate::rules::Rule;

    const INBOUND: &str =
        "My order of Ethiopian beans arrived with the bag split open and coffee everywhere";

    #[test]
    fn repeated_sentences_and_word_runs_loop() {
        assert!(fires(
            Rule::RepetitionLoop,
            "I'm sorry for any misunderstanding. I'm sorry for any misunderstanding."
        ));
        assert!(fires(
            Rule::RepetitionLoop,
            "we are looking into it and we will we are looking into it and we will"
        ));
        assert!(!fires(
            Rule::RepetitionLoop,
            "Sorry about that. Could you DM us? Sorry again for the trouble."
        ));
    }

    #[test]
    fn echoing_the_customers_message() {
        let echo = "Your order of Ethiopian beans arrived with the bag split open? Sorry!";
        assert!(rules_on("x", Some(INBOUND), echo).contains(&Rule::EchoesCustomer));
        assert!(
            rules_on(
                "x",
                Some("Where is my parcel?"),
                "Where is my parcel? We'll check."
            )
            .contains(&Rule::EchoesCustomer)
        );
        // Restating the question in our voice answers it.
        for (question, reply) in [
            (
                "do you ship to Canada now?",
                "Yes! We ship to Canada now: see our shipping page.",
            ),
            (
                "is the Night Shift blend good for espresso",
                "The Night Shift blend is good for espresso, go a touch finer.",
            ),
            (
                "can I pause my subscription for a month",
                "You can pause your subscription for up to three months.",
            ),
        ] {
            assert!(
                !rules_on("x", Some(question), reply).contains(&Rule::EchoesCustomer),
                "{reply}"
            );
        }
        assert!(
            rules_on(
                "x",
                Some("my beans arrived stale again"),
                "Your beans arrived stale again? My beans arrived stale again."
            )
            .contains(&Rule::EchoesCustomer)
        );
        let answer = "Oh no, a split bag is the last thing you want. Could you DM us a photo?";
        assert!(!rules_on("x", Some(INBOUND), answer).contains(&Rule::EchoesCustomer));
        // Without an inbound message there is nothing to echo.
        assert!(!fires(Rule::EchoesCustomer, echo));
    }

    #[test]
    fn writing_as_the_customer() {
        assert!(fires(
            Rule::SpeaksAsCustomer,
            "@northwindcoffee my beans are late"
        ));
        assert!(fires(
            Rule::SpeaksAsCustomer,
            "Hi @NorthwindCoffee, thanks for the reply"
        ));
        assert!(fires(
            Rule::SpeaksAsCustomer,
            "I ordered two bags last week."
        ));
        assert!(!fires(
            Rule::SpeaksAsCustomer,
            "@sam sorry your bags are late. Could you DM us?"
        ));
        assert!(!fires(
            Rule::SpeaksAsCustomer,
            "We checked your order, it ships today."
        ));
    }

    #[test]
    fn links_and_signatures_must_come_from_approved_replies() {
        assert!(fires(
            Rule::UnapprovedLink,
            "Form: https://northwindcoffee.com/refund-form"
        ));
        assert!(!fires(
            Rule::UnapprovedLink,
            "See https://northwindcoffee.com/help/shipping"
        ));
        assert!(fires(Rule::UnapprovedSignature, "Sorry about that. ^KT"));
        assert!(fires(
            Rule::UnapprovedSignature,
            "Sorry about that.\n— Bob from Support"
        ));
        assert!(!fires(Rule::UnapprovedSignature, "Sorry about that. ^JM"));
        assert!(
            !rules_on("email", None, "All sorted.\n\nThe Northwind Coffee team")
                .contains(&Rule::UnapprovedSignature)
        );
    }
}
