//! `tact worker [--demo]`: drafts from the workflow store's queue without serving HTTP, so
//! drafting scales out to other machines. Use it with a shared store (`workflow.database_url`)
//! and, on other machines, a Qdrant server (`store.url`). The assembly is `tact serve`'s.

use std::io::Write;

use clap::Args;

use crate::commands::serve::{build_server, ensure_models, shutdown_signal};
use crate::config::Config;

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Draft for the demo brand (brands/demo) only, as `tact serve --demo` does.
    #[arg(long)]
    pub demo: bool,
}

pub fn run(config: &Config, args: WorkerArgs) -> anyhow::Result<()> {
    ensure_models(config)?;
    crate::commands::knowledge::runtime()?.block_on(async {
        let (server, _) = build_server(config, args.demo).await?;
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "tact worker is drafting from the workflow store's queue"
        )?;
        out.flush()?;
        drop(out);
        server.run_worker(shutdown_signal()).await?;
        anyhow::Ok(())
    })
}
