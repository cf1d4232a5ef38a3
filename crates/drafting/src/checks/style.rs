//! Checks of the brand's style: words, length, sign-off, emoji and tone.

use std::sync::LazyLock;

use regex::Regex;
use unicode_segmentation::UnicodeSegmentation;

use super::{CheckContext, Violation};
use crate::channels::Platform;
use crate::profile::SignOffRule;
use crate::rules::Rule;
use crate::text;

/// Shouted words needed before a reply counts as shouting: one capitalised word is emphasis.
const SHOUTED_WORDS: usize = 2;
/// Sentences ending in `!` before the reply reads as over-excited.
const EXCLAIMED_SENTENCES: usize = 3;

static EXCLAMATION_RUN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[!?！？]*[!！][!?！？]*").unwrap());

pub(super) fn check(text: &str, ctx: &CheckContext<'_>, out: &mut Vec<Violation>) {
    terms(text, ctx, out);
    length(text, ctx, out);
    sign_off(text, ctx, out);
    emoji(text, ctx, out);
    shouting(text, ctx, out);
    exclamations(text, ctx, out);
    blame(text, ctx, out);
}

fn terms(text: &str, ctx: &CheckContext<'_>, out: &mut Vec<Violation>) {
    for term in &ctx.profile.banned_terms {
        if text::contains_phrase(text, term) {
            out.push(ctx.violation(
                Rule::BannedTerm,
                format!("\"{term}\" is on the brand's banned list"),
                term,
            ));
        }
    }
    for (avoid, prefer) in &ctx.profile.preferred_terms {
        if text::contains_phrase(text, avoid) {
            out.push(ctx.violation(
                Rule::NonPreferredTerm,
                format!("write \"{prefer}\" instead of \"{avoid}\""),
                avoid,
            ));
        }
    }
}

fn length(text: &str, ctx: &CheckContext<'_>, out: &mut Vec<Violation>) {
    let platform = ctx
        .channel
        .platform
        .unwrap_or_else(|| Platform::for_channel(ctx.channel_name));
    let n = platform.length(text.trim());
    let max = platform.limit(ctx.channel.max_chars);
    if n > max {
        out.push(ctx.violation(
            Rule::Length,
            format!("{n} characters; {} allows {max}", ctx.channel.label),
            "",
        ));
    }
}

fn sign_off(text: &str, ctx: &CheckContext<'_>, out: &mut Vec<Violation>) {
    let ending = text::normalized(text);
    let signed = ctx
        .profile
        .sign_offs
        .iter()
        .find(|s| ending.ends_with(&text::normalized(s)));
    match (ctx.channel.sign_off, signed) {
        (SignOffRule::Required, None) => out.push(ctx.violation(
            Rule::SignOff,
            format!(
                "{} replies end with the sign-off \"{}\"",
                ctx.channel.label, ctx.profile.sign_offs[0]
            ),
            "",
        )),
        (SignOffRule::Forbidden, Some(s)) => out.push(ctx.violation(
            Rule::SignOff,
            format!("{} replies carry no sign-off", ctx.channel.label),
            s,
        )),
        (SignOffRule::Required, Some(_))
        | (SignOffRule::Forbidden, None)
        | (SignOffRule::Optional, _) => {}
    }
}

/// Whether a grapheme is an emoji (pictographs, symbols and dingbats; not digits or `#`).
pub(crate) fn is_emoji(grapheme: &str) -> bool {
    grapheme.chars().any(|c| {
        matches!(u32::from(c),
            0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2B00..=0x2BFF | 0x2300..=0x23FF)
    })
}

fn emoji(text: &str, ctx: &CheckContext<'_>, out: &mut Vec<Violation>) {
    let found: Vec<&str> = text.graphemes(true).filter(|g| is_emoji(g)).collect();
    let max = ctx.channel.max_emoji;
    if found.len() > max {
        out.push(ctx.violation(
            Rule::Emoji,
            format!("{} emoji; {} allows {max}", found.len(), ctx.channel.label),
            &found.concat(),
        ));
    }
    let bare = |g: &str| g.replace('\u{FE0F}', "");
    let allowed = &ctx.profile.allowed_emoji;
    let mut foreign: Vec<&str> = found
        .iter()
        .copied()
        .filter(|g| !allowed.is_empty() && !allowed.iter().any(|a| bare(a) == bare(g)))
        .collect();
    foreign.dedup();
    if !foreign.is_empty() {
        out.push(ctx.violation(
            Rule::Emoji,
            format!("the brand uses only {}", allowed.concat()),
            &foreign.concat(),
        ));
    }
}

fn shouting(text: &str, ctx: &CheckContext<'_>, out: &mut Vec<Violation>) {
    let shouted: Vec<&str> = text
        .unicode_words()
        .filter(|w| {
            let letters = w.chars().filter(|c| c.is_alphabetic()).count();
            letters >= 3
                && !w.chars().any(char::is_lowercase)
                && !ctx.profile.acronyms.iter().any(|a| a == w)
        })
        .collect();
    if shouted.len() >= SHOUTED_WORDS {
        out.push(ctx.violation(
            Rule::Shouting,
            format!("{} words in capitals read as shouting", shouted.len()),
            &shouted.join(" "),
        ));
    }
}

fn exclamations(text: &str, ctx: &CheckContext<'_>, out: &mut Vec<Violation>) {
    if let Some(run) = EXCLAMATION_RUN
        .find_iter(text)
        .find(|m| m.as_str().chars().count() >= 2)
    {
        out.push(ctx.violation(
            Rule::ExclamationRun,
            "a run of exclamation marks".into(),
            run.as_str(),
        ));
        return;
    }
    let exclaimed = text::sentences(text)
        .iter()
        .filter(|s| s.ends_with(['!', '！']))
        .count();
    if exclaimed >= EXCLAIMED_SENTENCES {
        out.push(ctx.violation(
            Rule::ExclamationRun,
            format!("{exclaimed} sentences end in \"!\""),
            "!",
        ));
    }
}

fn blame(text: &str, ctx: &CheckContext<'_>, out: &mut Vec<Violation>) {
    for phrase in &ctx.profile.blame_phrases {
        if text::contains_phrase(text, phrase) {
            out.push(ctx.violation(
                Rule::Blame,
                format!("\"{phrase}\" puts the blame on the customer"),
                phrase,
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{fires, rules_on};
    use crate::rules::Rule;

    const CLEAN: &str = "Thanks for telling us, Sam. Could you DM us your order number? ☕";

    #[test]
    fn banned_and_non_preferred_terms() {
        assert!(fires(Rule::BannedTerm, "Unfortunately that blend is gone."));
        assert!(fires(Rule::NonPreferredTerm, "Drop us an E-mail."));
        assert!(!fires(Rule::BannedTerm, CLEAN));
        assert!(!fires(Rule::NonPreferredTerm, "Drop us an email."));
    }

    #[test]
    fn length_against_the_channel_limit() {
        let long = "We hear you. ".repeat(25);
        assert!(fires(Rule::Length, &long));
        assert!(!fires(Rule::Length, CLEAN));
        // The same text fits the email channel's limit.
        assert!(!rules_on("email", None, &long).contains(&Rule::Length));
    }

    #[test]
    fn sign_off_required_on_email_and_forbidden_on_x() {
        assert!(rules_on("email", None, "Hi Sam, all sorted.").contains(&Rule::SignOff));
        assert!(
            !rules_on(
                "email",
                None,
                "Hi Sam, all sorted.\n\nThe Northwind Coffee team"
            )
            .contains(&Rule::SignOff)
        );
        assert!(fires(
            Rule::SignOff,
            "All sorted. The Northwind Coffee team"
        ));
        assert!(!fires(Rule::SignOff, CLEAN));
    }

    #[test]
    fn emoji_count_and_allowlist() {
        assert!(fires(Rule::Emoji, "Enjoy ☕☕"));
        assert!(fires(Rule::Emoji, "Enjoy 🔥"));
        assert!(
            rules_on("email", None, "Enjoy ☕\nThe Northwind Coffee team").contains(&Rule::Emoji)
        );
        assert!(!fires(Rule::Emoji, CLEAN));
        assert!(!fires(Rule::Emoji, "Order #12 is 100% on its way"));
    }

    #[test]
    fn shouting_needs_more_than_one_capitalised_word() {
        assert!(fires(Rule::Shouting, "We are VERY SORRY about this."));
        assert!(!fires(
            Rule::Shouting,
            "We are VERY sorry. DM us or check the FAQ."
        ));
    }

    #[test]
    fn exclamation_runs_and_excited_replies() {
        assert!(fires(Rule::ExclamationRun, "Oh no!! Sorry."));
        assert!(fires(Rule::ExclamationRun, "Really?!"));
        assert!(fires(Rule::ExclamationRun, "Great! Thanks! Enjoy!"));
        assert!(!fires(Rule::ExclamationRun, "Great news! Enjoy the beans."));
    }

    #[test]
    fn blame_phrases() {
        assert!(fires(Rule::Blame, "You should have checked the address."));
        assert!(!fires(
            Rule::Blame,
            "We should have caught that. Sorry, Sam."
        ));
    }
}
