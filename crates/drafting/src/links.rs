//! Finding links and agent signatures in reply text, for the checks, post-processing and the
//! evidence gathered from approved replies.

use std::sync::LazyLock;

use regex::Regex;

use crate::text;

static URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:https?://[^\s<>()\[\]]+|www\.[^\s<>()\[\]]+|[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|org|net|io|co|uk|de|fr|es|it|nl|ly|me|shop|app|help|info|biz|gl|gg|xyz)(?:/[^\s<>()\[\]]*)?)",
    )
    .unwrap()
});

/// A link found in text: its byte range and the URL without trailing punctuation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub start: usize,
    pub end: usize,
    pub url: String,
    /// Lower-cased host without `www.`.
    pub host: String,
}

impl Link {
    /// The URL in the form used to compare links: no scheme, no `www.`, no trailing slash,
    /// lower-cased host.
    pub fn normalized(&self) -> String {
        let rest = strip_scheme(&self.url);
        let path = rest.find('/').map_or("", |i| &rest[i..]);
        format!("{}{}", self.host, path.trim_end_matches('/'))
    }

    /// Whether the host is one of `domains` or a subdomain of one.
    pub fn is_on(&self, domains: &[String]) -> bool {
        domains
            .iter()
            .any(|d| self.host == *d || self.host.ends_with(&format!(".{d}")))
    }
}

/// Every link in `text`. A domain right after `@` belongs to an email address and is skipped.
pub fn find(text: &str) -> Vec<Link> {
    let mut links = Vec::new();
    for m in URL.find_iter(text) {
        let before = text[..m.start()].chars().next_back();
        if matches!(before, Some('@' | '.' | '-' | '_')) || is_email_tail(text, m.end()) {
            continue;
        }
        let url = m
            .as_str()
            .trim_end_matches(['.', ',', ';', ':', '!', '?', '\'', '"']);
        let rest = strip_scheme(url);
        let host = rest
            .split(['/', '?', '#', ':'])
            .next()
            .unwrap_or_default()
            .to_lowercase();
        let host = host.strip_prefix("www.").unwrap_or(&host).to_owned();
        links.push(Link {
            start: m.start(),
            end: m.start() + url.len(),
            url: url.to_owned(),
            host,
        });
    }
    links
}

fn is_email_tail(text: &str, end: usize) -> bool {
    text[end..].starts_with('@')
}

fn strip_scheme(url: &str) -> &str {
    let lower = url.to_ascii_lowercase();
    let after = ["https://", "http://"]
        .iter()
        .find(|s| lower.starts_with(*s))
        .map_or(0, |s| s.len());
    let rest = &url[after..];
    if rest.to_ascii_lowercase().starts_with("www.") {
        &rest[4..]
    } else {
        rest
    }
}

static CARET: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:^|\s)\^\s?([A-Za-z]{1,3}|[A-Z][a-z]+)\s*$").unwrap());
static CLOSING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(?:best|cheers|thanks|thank you|warmly|regards|kind regards|best wishes|all the best|take care|sincerely)\s*,?\s*(.*)$").unwrap()
});

/// The agent signature that ends a reply, normalised, if there is one: `^JM` initials, a
/// closing line such as `— Priya` or `Cheers, Sam`, or a closing word followed by a short name
/// line. Brand sign-offs look the same and are told apart by the caller.
pub fn signature(reply: &str) -> Option<String> {
    let reply = reply.trim();
    if let Some(c) = CARET.captures(reply) {
        return Some(format!("^{}", c[1].to_lowercase()));
    }
    let lines: Vec<&str> = reply
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let last = *lines.last()?;
    if let Some(dashed) = last.strip_prefix(['-', '–', '—', '~']) {
        return short_name(dashed);
    }
    if lines.len() >= 2 {
        let closing = lines[lines.len() - 2];
        if let Some(c) = CLOSING.captures(closing)
            && c[1].trim().is_empty()
        {
            return short_name(last);
        }
    }
    let c = CLOSING.captures(last)?;
    // "Thanks, Sam" closes a reply; "Thanks for waiting" is a sentence.
    last.contains(',').then(|| short_name(&c[1])).flatten()
}

fn short_name(s: &str) -> Option<String> {
    let name = text::normalized(s);
    let n = name.split(' ').count();
    (!name.is_empty() && n <= 6 && !s.trim_end().ends_with(['.', '?', '!'])).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_links_with_and_without_scheme() {
        let links = find(
            "See https://Help.NorthwindCoffee.com/returns. Or www.example.org/x, or bit.ly/abc!",
        );
        let urls: Vec<_> = links.iter().map(Link::normalized).collect();
        assert_eq!(
            urls,
            [
                "help.northwindcoffee.com/returns",
                "example.org/x",
                "bit.ly/abc"
            ]
        );
        assert!(links[0].is_on(&["northwindcoffee.com".into()]));
        assert!(!links[1].is_on(&["northwindcoffee.com".into()]));
    }

    #[test]
    fn email_domains_are_not_links() {
        assert!(find("write to hello@northwindcoffee.com please").is_empty());
    }

    #[test]
    fn signatures_in_their_usual_shapes() {
        assert_eq!(signature("We're on it. ^JM").as_deref(), Some("^jm"));
        assert_eq!(signature("Sorry!\n— Priya").as_deref(), Some("priya"));
        assert_eq!(
            signature("Thanks again.\n\nBest,\nSam from Support").as_deref(),
            Some("sam from support")
        );
        assert_eq!(
            signature("All sorted.\nCheers, Dana").as_deref(),
            Some("dana")
        );
        assert_eq!(signature("Thanks for waiting on this."), None);
        assert_eq!(signature("We'll look into it today."), None);
    }
}
