//! `tact worker [--demo]`: drafts from the workflow store's queue without serving HTTP, so
//! drafting scales out to other machines. Use it with a shared store (`workflow.database_url`)
//! and, on other machines, a Qdrant server (`store.url`). It runs the same service as
//! `tact serve` ([`crate::wiring`]), with its drafting loop only: delivery and learning stay
//! with the servers.

use std::io::Write;

use clap::Args;

use crate::commands::serve::shutdown_signal;
use crate::config::Config;
use crate::wiring;

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Draft for the demo brand (brands/demo) only, as `tact serve --demo` does.
    #[arg(long)]
    pub demo: bool,
}

pub fn run(config: &Config, args: WorkerArgs) -> anyhow::Result<()> {
    wiring::ensure_models(config)?;
    crate::commands::knowledge::runtime()?.block_on(async {
        let wired = wiring::service(config, args.demo).await?;
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "tact worker is drafting from the workflow store's queue"
        )?;
        out.flush()?;
        drop(out);
        let running = wired.loops.spawn_drafting(&wired.service);
        shutdown_signal().await;
        running.stop().await;
        anyhow::Ok(())
    })
}
