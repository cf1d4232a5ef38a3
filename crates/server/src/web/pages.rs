//! The page shells: a minijinja layout and one template per page, compiled into the binary and
//! rendered once, when the router is built. Only the layout's slots (title, script, which
//! navigation link is current) vary; the data comes later, from the API.

use axum::body::Bytes;
use minijinja::{Environment, UndefinedBehavior, context};

/// The pages of the review UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Page {
    SignIn,
    Queue,
    Message,
    Audit,
    Crisis,
}

impl Page {
    pub(super) const ALL: [Page; 5] = [
        Page::SignIn,
        Page::Queue,
        Page::Message,
        Page::Audit,
        Page::Crisis,
    ];

    /// Also the page's template (`<name>.html`), its script (`/static/<name>.js`) and the
    /// `data-page` attribute the stylesheet and scripts key on.
    pub(super) fn name(self) -> &'static str {
        match self {
            Page::SignIn => "sign-in",
            Page::Queue => "queue",
            Page::Message => "message",
            Page::Audit => "audit",
            Page::Crisis => "crisis",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Page::SignIn => "Sign in",
            Page::Queue => "Review queue",
            Page::Message => "Review message",
            Page::Audit => "Audit log",
            Page::Crisis => "Crisis radar",
        }
    }

    fn template(self) -> &'static str {
        match self {
            Page::SignIn => "sign-in.html",
            Page::Queue => "queue.html",
            Page::Message => "message.html",
            Page::Audit => "audit.html",
            Page::Crisis => "crisis.html",
        }
    }

    fn index(self) -> usize {
        match self {
            Page::SignIn => 0,
            Page::Queue => 1,
            Page::Message => 2,
            Page::Audit => 3,
            Page::Crisis => 4,
        }
    }
}

const TEMPLATES: [(&str, &str); 6] = [
    ("base.html", include_str!("../../templates/base.html")),
    ("sign-in.html", include_str!("../../templates/sign-in.html")),
    ("queue.html", include_str!("../../templates/queue.html")),
    ("message.html", include_str!("../../templates/message.html")),
    ("audit.html", include_str!("../../templates/audit.html")),
    ("crisis.html", include_str!("../../templates/crisis.html")),
];

/// Every page, rendered.
#[derive(Debug)]
pub(super) struct Pages {
    rendered: [Bytes; Page::ALL.len()],
}

impl Pages {
    pub(super) fn render() -> Result<Self, minijinja::Error> {
        let mut env = Environment::new();
        // A misspelt variable is an error here rather than a silently empty slot.
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        for (name, source) in TEMPLATES {
            env.add_template(name, source)?;
        }
        let mut rendered: [Bytes; Page::ALL.len()] = Default::default();
        for page in Page::ALL {
            let html = env.get_template(page.template())?.render(context! {
                page => page.name(),
                title => page.title(),
            })?;
            rendered[page.index()] = Bytes::from(html);
        }
        Ok(Self { rendered })
    }

    pub(super) fn get(&self, page: Page) -> Bytes {
        self.rendered[page.index()].clone()
    }
}
