//! `tact serve [--demo] [--addr HOST:PORT]`: the approval service ([`crate::wiring`]'s service
//! behind `tact-server`'s HTTP), and `tact token create`.

use std::io::Write;

use anyhow::Context;
use clap::{Args, Subcommand};
use tact_core::InboundMessage;
use tact_server::Server;
use tact_workflow::{BrandScope, Role, Workflow};

use crate::commands::knowledge;
use crate::config::Config;
use crate::wiring;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Serve the demo brand (brands/demo) with a few inbound messages, and print an admin
    /// token. Needs no configuration.
    #[arg(long)]
    pub demo: bool,
    /// Address to listen on (default: server.addr); port 0 picks a free port.
    #[arg(long, value_name = "HOST:PORT")]
    pub addr: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token and print its secret (shown this once only).
    Create {
        /// agent, approver or admin.
        #[arg(long)]
        role: String,
        /// Brand id the token may act for (repeat for more); `*` for all. Required for agent
        /// and approver tokens; an admin token without it acts for every brand.
        #[arg(long = "brand")]
        brands: Vec<String>,
        /// Who or what the token is for (shown in the audit log).
        #[arg(long)]
        label: Option<String>,
    },
}

/// Inbound messages `tact serve --demo` starts with.
const DEMO_MESSAGES: [(&str, &str, &str, &str); 5] = [
    (
        "demo-1",
        "x",
        "@sam_sips",
        "My order #48213 arrived yesterday but the bag of beans was split open. Can you help?",
    ),
    (
        "demo-2",
        "instagram",
        "@morning.ritual",
        "Do you ship your Ethiopian roast to Canada? Would love to try it!",
    ),
    (
        "demo-3",
        "email",
        "Priya N.",
        "I was charged twice for my subscription this month. Please sort this out.",
    ),
    (
        "demo-4",
        "x",
        "@latte_larry",
        "Ordered two weeks ago and still nothing. Where is my coffee??",
    ),
    (
        "demo-5",
        "forum",
        "beanfan",
        "What grind size do you recommend for the house blend in a French press?",
    ),
];

pub fn run(config: &Config, args: ServeArgs) -> anyhow::Result<()> {
    wiring::ensure_models(config)?;
    let addr = args
        .addr
        .clone()
        .unwrap_or_else(|| config.server.addr.clone());
    knowledge::runtime()?.block_on(async {
        let wiring::Wired {
            service,
            loops,
            workflow,
        } = wiring::service(config, args.demo).await?;
        let server = Server::new(service, loops, config.server.clone())?;
        let secret = if args.demo {
            let brand = server
                .state()
                .brand_ids()
                .into_iter()
                .next()
                .unwrap_or_default();
            submit_demo_messages(&workflow, &brand).await?;
            Some(demo_admin_token(&workflow).await?)
        } else {
            None
        };
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let local = listener.local_addr()?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "tact is running at http://{local}/")?;
        if let Some(secret) = secret {
            writeln!(out, "admin token: {secret}")?;
        }
        out.flush()?;
        drop(out);
        server.run(listener, shutdown_signal()).await?;
        anyhow::Ok(())
    })
}

pub fn token(config: &Config, command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create {
            role,
            brands,
            label,
        } => {
            let role = Role::parse(&role).with_context(|| {
                format!("--role must be agent, approver or admin, got {role:?}")
            })?;
            anyhow::ensure!(
                !brands.is_empty() || role == Role::Admin,
                "an {} token needs --brand BRAND (repeat it for more brands, or --brand '*' for all)",
                role.as_str()
            );
            let scope = if brands.is_empty() || brands.iter().any(|b| b == "*") {
                BrandScope::All
            } else {
                BrandScope::Only(brands)
            };
            let label = label.unwrap_or_else(|| format!("{} token", role.as_str()));
            knowledge::runtime()?.block_on(async {
                let workflow = wiring::open_workflow(config).await?;
                let issued = workflow.create_token(&label, role, scope).await?;
                eprintln!(
                    "created {} token {} ({:?}); the secret is shown this once:",
                    issued.token.role.as_str(),
                    issued.token.id,
                    issued.token.label
                );
                println!("{}", issued.secret);
                anyhow::Ok(())
            })
        }
    }
}

/// The label of the admin token `serve --demo` prints.
const DEMO_TOKEN_LABEL: &str = "demo admin";

/// A fresh admin token for the demo, the one of the previous start revoked: its secret cannot
/// be shown again, and restarts must not pile up admin tokens in the store.
async fn demo_admin_token(workflow: &Workflow) -> anyhow::Result<String> {
    for token in workflow.store().tokens().await? {
        if token.label == DEMO_TOKEN_LABEL && token.revoked_at.is_none() {
            workflow.revoke_token(&token.id).await?;
        }
    }
    let issued = workflow
        .create_token(DEMO_TOKEN_LABEL, Role::Admin, BrandScope::All)
        .await?;
    Ok(issued.secret)
}

async fn submit_demo_messages(workflow: &Workflow, brand: &str) -> anyhow::Result<()> {
    let now = chrono::Utc::now();
    for (i, (id, channel, author, text)) in DEMO_MESSAGES.iter().enumerate() {
        let at = now - chrono::Duration::minutes((DEMO_MESSAGES.len() - i) as i64);
        let inbound = InboundMessage {
            id: (*id).into(),
            brand: brand.to_owned(),
            channel: (*channel).into(),
            author: (*author).into(),
            text: (*text).into(),
            created_at: at.to_rfc3339(),
            extra: Default::default(),
        };
        match workflow.submit(&inbound, "demo").await {
            Ok(_) | Err(tact_workflow::Error::DuplicateMessage(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Ctrl-C or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
    eprintln!("shutting down: finishing drafts in progress");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn each_demo_start_replaces_its_admin_token() {
        let dir = tempfile::tempdir().unwrap();
        let store = tact_workflow::SqliteStore::open(dir.path()).await.unwrap();
        let workflow = Workflow::new(std::sync::Arc::new(store));
        let other = workflow
            .create_token("ana", Role::Admin, BrandScope::All)
            .await
            .unwrap();
        let first = demo_admin_token(&workflow).await.unwrap();
        let second = demo_admin_token(&workflow).await.unwrap();
        assert!(workflow.authenticate(&first).await.is_err(), "revoked");
        assert!(workflow.authenticate(&second).await.is_ok());
        assert!(
            workflow.authenticate(&other.secret).await.is_ok(),
            "others untouched"
        );
        let live = workflow
            .store()
            .tokens()
            .await
            .unwrap()
            .into_iter()
            .filter(|t| t.revoked_at.is_none())
            .count();
        assert_eq!(live, 2);
    }
}
