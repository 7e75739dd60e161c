//! `engage retention run`: the retention sweep now, without waiting for a server's;
//! prints what it removed as one JSON line.

use engage_store::ErasureCounts;

use crate::storage::StorageArgs;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Remove everything past each account's retention now, in small steps; prints what
    /// was removed as one JSON line. With --data (SQLite) stop the server first, or let
    /// its own sweep do it; with PostgreSQL servers may run.
    Run(RunArgs),
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Visits removed per step (one transaction).
    #[arg(long, default_value_t = 200)]
    step_visits: usize,
    #[command(flatten)]
    storage: StorageArgs,
}

pub fn run(command: Command) -> anyhow::Result<()> {
    let Command::Run(args) = command;
    crate::runtime()?.block_on(async move {
        let store = args.storage.open().await?;
        let mut removed = ErasureCounts::default();
        let mut steps = 0u64;
        let swept = loop {
            let step = match store
                .sweep_retention(engage_store::ids::now_ms(), args.step_visits.max(1))
                .await
            {
                Ok(step) => step,
                Err(e) => break Err(e),
            };
            steps += 1;
            removed.add(&step.removed);
            if !step.more {
                break Ok(());
            }
        };
        store.close().await?;
        swept?;
        println!(
            "{}",
            serde_json::to_string(&serde_json::json!({ "steps": steps, "removed": removed }))?
        );
        Ok(())
    })
}
