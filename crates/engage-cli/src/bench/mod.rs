//! `engage bench`: load generators that print their figures as one JSON line, last.

mod ingest;
mod payload;
mod server;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Drive the collect endpoint over loopback HTTP with mixed batches of events and
    /// SDEs, then write the same kind of items straight through the store for a ceiling.
    ///
    /// Prints progress on stderr and, last, one JSON line: items_per_sec, p50_ms,
    /// p99_ms, ceiling_items_per_sec, ratio (items_per_sec / ceiling) and server_rss_mb
    /// (peak resident memory of the server it started).
    Ingest(ingest::Args),
}

pub fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Ingest(args) => ingest::run(args),
    }
}
