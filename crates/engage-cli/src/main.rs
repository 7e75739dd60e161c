//! `engage`: the one binary of Engage.
//!
//! - `validate`: check an SDE or event document offline ([`validate`]).

mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Engage: self-hosted engagement tracking, compatible with the LivePerson web tag.
#[derive(Debug, Parser)]
#[command(name = "engage", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check an SDE, an array of SDEs or an LP_OFFERS event without a server.
    ///
    /// Valid input: exit 0 and its canonical form on stdout (SDEs in history shape as
    /// {"sdes":{"events":[...]}}, events as {"appName","eventName","data"}).
    /// Invalid input: exit 1 and one `<JSON pointer>: <message>` line per problem on stderr.
    Validate(validate::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Validate(args) => validate::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("engage: {error:#}");
            ExitCode::from(2)
        }
    }
}
