//! `engage`: the one binary of Engage.
//!
//! - `serve`: the HTTP server ([`serve`]).
//! - `account`: create accounts ([`account`]).
//! - `validate`: check an SDE or event document offline ([`validate`]).
//! - `export`: stored items as NDJSON ([`export`]).
//! - `migrate`: a SQLite store copied into PostgreSQL ([`migrate`]).
//! - `backup`, `restore`: consistent copies of the embedded store ([`backup`]).
//! - `bench`: load generators that print one JSON line of figures ([`engage_bench`]).

mod account;
mod backup;
mod demo;
mod erase;
mod export;
mod migrate;
mod retention;
mod serve;
mod storage;
mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc instead of the system allocator: a request's parse tree, attribute values and
/// history JSON are hundreds of small, short-lived allocations, which it serves in a
/// fraction of glibc's instructions (docs/benchmarks.md, engage-model).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Engage: self-hosted engagement tracking, compatible with the LivePerson web tag.
#[derive(Debug, Parser)]
#[command(
    name = "engage",
    version,
    about = "Engage: self-hosted engagement tracking, compatible with the LivePerson web tag"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server: the tag and its collect endpoint, the decision, the Monitoring API,
    /// campaigns, the quarantine and the demo shop.
    Serve(serve::Args),
    /// Manage accounts.
    #[command(subcommand)]
    Account(account::Command),
    /// Check an SDE, an array of SDEs or an LP_OFFERS event without a server.
    ///
    /// Valid input: exit 0 and its canonical form on stdout (SDEs in history shape as
    /// {"sdes":{"events":[...]}}, events as {"appName","eventName","data"}).
    /// Invalid input: exit 1 and one `<JSON pointer>: <message>` line per problem on stderr.
    Validate(validate::Args),
    /// Write an account's stored events, SDEs or quarantine as NDJSON, one item a line.
    Export(export::Args),
    /// Copy the embedded store to a new file while the server runs (a consistent
    /// snapshot); prints what the copy holds as one JSON line. SQLite only.
    Backup(backup::BackupArgs),
    /// Put a backup in place of the embedded store (stop the server first); refuses a
    /// store that holds accounts unless --force. SQLite only.
    Restore(backup::RestoreArgs),
    /// Erase a visitor, or every visitor who reported a customer id, for good; prints
    /// what was removed as one JSON line. With --data (SQLite) stop the server first, or
    /// use its DELETE route; with PostgreSQL servers may run.
    Erase(erase::Args),
    /// Retention: what is past each account's `PUT .../retention`.
    #[command(subcommand)]
    Retention(retention::Command),
    /// Copy a whole SQLite store into PostgreSQL, resumably, and check the copy.
    ///
    /// Copies every account with its API key hash, OAuth keys (secrets stay sealed:
    /// start the PostgreSQL servers with the source's secret key file), apps, campaigns,
    /// engagements with every revision, consumer identities, exposures, OAuth nonces,
    /// visits with their pages, interactions, events and attributes (the visit state follows
    /// from them), and the quarantine with its ids. Progress goes to stderr; at the end
    /// every count is compared and one JSON line of what was copied goes to stdout.
    ///
    /// Resumable: each chunk is committed with a checkpoint, so after an interruption the
    /// same command carries on after the last chunk committed. Stop the servers writing to
    /// the source first: what they write after a chunk is read is not copied.
    Migrate(migrate::Args),
    /// Measure Engage on this machine.
    #[command(subcommand)]
    Bench(engage_bench::Command),
    /// Print the HTTP API's OpenAPI 3.1 description (what `GET /api/openapi.json`
    /// serves), without a server.
    Openapi,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate(args) => validate::run(&args),
        Command::Serve(args) => serve::run(args).map(|()| ExitCode::SUCCESS),
        Command::Account(command) => account::run(command).map(|()| ExitCode::SUCCESS),
        Command::Export(args) => export::run(args).map(|()| ExitCode::SUCCESS),
        Command::Backup(args) => backup::run_backup(&args).map(|()| ExitCode::SUCCESS),
        Command::Restore(args) => backup::run_restore(&args).map(|()| ExitCode::SUCCESS),
        Command::Erase(args) => erase::run(args).map(|()| ExitCode::SUCCESS),
        Command::Retention(command) => retention::run(command).map(|()| ExitCode::SUCCESS),
        Command::Migrate(args) => migrate::run(args).map(|()| ExitCode::SUCCESS),
        Command::Bench(command) => engage_bench::run(command).map(|()| ExitCode::SUCCESS),
        Command::Openapi => {
            println!("{}", engage_server::openapi::document_json());
            Ok(ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("engage: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// A multi-threaded runtime for the async commands.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
