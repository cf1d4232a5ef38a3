//! Chat formatting with the GGUF's own Jinja chat template (minijinja), ChatML otherwise.

use minijinja::{Environment, context};
use tact_core::ChatMessage;

use crate::error::{Error, Result};
use crate::tokenizer::GgufTokenizer;

/// ChatML, used when a model file carries no `tokenizer.chat_template`.
pub const CHATML: &str = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

// Message contents are replaced by these markers while the template renders, so that the
// rendered prompt can be split back into template text (which may contain special tokens) and
// message content (which must never be read as special tokens). Private-use code points: no
// real text needs them, and they are removed from contents before rendering.
const MARK_OPEN: char = '\u{F8F0}';
const MARK_CLOSE: char = '\u{F8F1}';

/// A compiled chat template.
#[derive(Debug, Clone)]
pub struct ChatTemplate {
    source: String,
    from_model: bool,
}

impl ChatTemplate {
    /// The model's template, or ChatML when it has none.
    pub fn new(model_template: Option<String>) -> Result<Self> {
        let (source, from_model) = match model_template {
            Some(t) if !t.trim().is_empty() => (t, true),
            _ => (CHATML.to_owned(), false),
        };
        let template = Self { source, from_model };
        // Compile once now so a broken template fails at load time, not on the first request.
        template.environment()?;
        Ok(template)
    }

    pub fn is_from_model(&self) -> bool {
        self.from_model
    }

    fn environment(&self) -> Result<Environment<'_>> {
        let mut env = Environment::new();
        env.add_function(
            "raise_exception",
            |msg: String| -> std::result::Result<String, minijinja::Error> {
                Err(minijinja::Error::new(
                    minijinja::ErrorKind::InvalidOperation,
                    msg,
                ))
            },
        );
        env.add_template("chat", &self.source)
            .map_err(|e| Error::Template(e.to_string()))?;
        Ok(env)
    }

    /// Renders `messages` (with the assistant's turn opened) and returns the prompt text with
    /// contents in place, for display.
    pub fn render(&self, messages: &[ChatMessage], tokenizer: &GgufTokenizer) -> Result<String> {
        let segments = self.render_segments(messages, tokenizer)?;
        Ok(segments
            .iter()
            .map(|s| match s {
                Segment::Template(t) => t.as_str(),
                Segment::Content(i) => messages[*i].content.as_str(),
            })
            .collect())
    }

    /// Renders and tokenizes: template text with special tokens, contents as plain text.
    pub fn encode(&self, messages: &[ChatMessage], tokenizer: &GgufTokenizer) -> Result<Vec<u32>> {
        if messages.is_empty() {
            return Err(Error::EmptyConversation);
        }
        let clean: Vec<String> = messages.iter().map(|m| strip_markers(&m.content)).collect();
        let mut ids = Vec::new();
        for segment in self.render_segments(messages, tokenizer)? {
            match segment {
                Segment::Template(text) => ids.extend(tokenizer.encode_template(&text)?),
                Segment::Content(i) => ids.extend(tokenizer.encode_plain(&clean[i])?),
            }
        }
        Ok(ids)
    }

    fn render_segments(
        &self,
        messages: &[ChatMessage],
        tokenizer: &GgufTokenizer,
    ) -> Result<Vec<Segment>> {
        let env = self.environment()?;
        let template = env
            .get_template("chat")
            .map_err(|e| Error::Template(e.to_string()))?;
        let marked: Vec<_> = messages
            .iter()
            .enumerate()
            .map(|(i, m)| context! { role => m.role.as_str(), content => format!("{MARK_OPEN}{i}{MARK_CLOSE}") })
            .collect();
        let rendered = template
            .render(context! {
                messages => marked,
                add_generation_prompt => true,
                bos_token => tokenizer.bos_token().unwrap_or(""),
                eos_token => tokenizer.eos_token(),
            })
            .map_err(|e| Error::Template(e.to_string()))?;
        split_segments(&rendered, messages.len())
    }
}

#[derive(Debug, PartialEq)]
enum Segment {
    Template(String),
    Content(usize),
}

fn strip_markers(text: &str) -> String {
    text.chars()
        .filter(|c| *c != MARK_OPEN && *c != MARK_CLOSE)
        .collect()
}

fn split_segments(rendered: &str, count: usize) -> Result<Vec<Segment>> {
    let mut segments = Vec::new();
    let mut rest = rendered;
    while let Some(start) = rest.find(MARK_OPEN) {
        if start > 0 {
            segments.push(Segment::Template(rest[..start].to_owned()));
        }
        let after = &rest[start + MARK_OPEN.len_utf8()..];
        let end = after
            .find(MARK_CLOSE)
            .ok_or_else(|| Error::Template("the template altered message contents".into()))?;
        let index: usize = after[..end]
            .parse()
            .map_err(|_| Error::Template("the template altered message contents".into()))?;
        if index >= count {
            return Err(Error::Template(
                "the template altered message contents".into(),
            ));
        }
        segments.push(Segment::Content(index));
        rest = &after[end + MARK_CLOSE.len_utf8()..];
    }
    if !rest.is_empty() {
        segments.push(Segment::Template(rest.to_owned()));
    }
    Ok(segments)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_rendered_text_into_template_and_contents() {
        let s = format!("<a>{MARK_OPEN}0{MARK_CLOSE}<b>{MARK_OPEN}1{MARK_CLOSE}");
        assert_eq!(
            split_segments(&s, 2).unwrap(),
            vec![
                Segment::Template("<a>".into()),
                Segment::Content(0),
                Segment::Template("<b>".into()),
                Segment::Content(1)
            ]
        );
        assert!(split_segments(&format!("{MARK_OPEN}7{MARK_CLOSE}"), 2).is_err());
    }

    #[test]
    fn chatml_compiles() {
        assert!(!ChatTemplate::new(None).unwrap().is_from_model());
    }
}
