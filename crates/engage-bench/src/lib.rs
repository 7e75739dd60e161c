//! Engage's load generators, the `engage bench` subcommands: each prints its progress on
//! stderr and its figures as one JSON line, last, on stdout.
//!
//! - `ingest`: mixed collect batches over loopback HTTP, then the store's own ceiling.
//! - `history`: a month of a shop's history written through the store, then searched
//!   through the Engagement History API.
//! - `analytics`: the `history` fill with control groups and eligibility records, then
//!   the results report and funnel timed over HTTP.
//! - `crash`: collect load, SIGKILL of the server at random moments, restarts, then
//!   every acknowledged id must be in the store.
//! - `history_data`: the generator of that history (visitors, visits, lifecycles, SDEs).
//! - `payload`: collect bodies and the benchmarks' seeded random numbers.
//! - `server`: the `engage serve` child process the benchmarks drive, and percentiles.
//! - [`http_client`]: a lean HTTP/1.1 client on one kept-alive connection, which
//!   `engage serve --demo` uses too.
//!
//! The benchmarks start the server by running the executable they are in
//! (`std::env::current_exe`) with `serve`: they work only inside the `engage` binary.
//! Nothing in the server or the store depends on this crate.

mod analytics;
mod crash;
mod history;
mod history_data;
pub mod http_client;
mod ingest;
mod payload;
mod server;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Drive the collect endpoint over loopback HTTP with mixed batches of events and
    /// SDEs and, in alternating rounds, write batches of the same shape (parsed
    /// beforehand) straight into a store from as many tasks, for the ceiling.
    ///
    /// With --servers N (PostgreSQL only) it starts N servers on the one database and
    /// deals the connections among them; the ceiling stays one store's.
    ///
    /// Prints progress on stderr and, last, one JSON line: items_per_sec (the sum over
    /// the servers), servers, per_server_items_per_sec, p50_ms, p99_ms,
    /// ceiling_items_per_sec, ratio (items_per_sec / ceiling) and server_rss_mb (peak
    /// resident memory of the first server it started).
    Ingest(ingest::Args),
    /// Fill a store with a month of a shop's history (through the store's write path),
    /// then query it through the Engagement History API of a real server.
    ///
    /// The fill: --interactions engagement contexts of --visitors visitors over --days
    /// days, each with its whole LP_OFFERS lifecycle (about 10 events), and about 2 SDEs
    /// per interaction in its visit (customer info with a customer id, personal info,
    /// product views, carts, searches, purchases with unique order ids, ...), over 20
    /// campaigns. Then `engage serve` starts on the filled store and each kind of search
    /// runs --queries times, one at a time: visitor (one visitor, 30 days),
    /// range_campaign (one campaign, one day), sde_search (sdeSearch.customerInfo = a
    /// customer id), keyword (an order id in ea.purchase) and deep_page (offset 5000 in a
    /// week, newest first). Any answer that is not a 200, holds a record that does not
    /// match its query, or is empty where the fill wrote a match, fails the run.
    ///
    /// Prints progress on stderr and, last, one JSON line: fill_secs, fill_rows_per_sec
    /// (events and SDEs written per second), interactions, events, sdes, store_mb
    /// (database and log after the fill) and {p50_ms, p99_ms} for visitor,
    /// range_campaign, sde_search, keyword and deep_page.
    History(history::Args),
    /// Fill a store as `history` does, with every campaign holding out
    /// --control-percent of its visitors (each START an eligibility record, a held-out
    /// visitor's events not written), then time the results routes over HTTP, one at a
    /// time: a 30-day report of one campaign by day, the whole account by campaign, and
    /// a 4-step funnel (impression, click, cart, purchase) over 7 days.
    ///
    /// Prints progress on stderr and, last, one JSON line: fill_secs, interactions,
    /// events, sdes, eligibility_records, store_mb and {p50_ms, p99_ms, rows} for
    /// campaign_by_day, account_by_campaign and funnel_4_steps_7_days.
    Analytics(analytics::Args),
    /// Kill the server with SIGKILL at random moments under collect load, restart it,
    /// and check that every acknowledged item is stored.
    ///
    /// Each cycle starts `engage serve` (on a scratch data directory, or --data), posts
    /// collect batches on --concurrency connections and kills the server at a random
    /// moment; an item counts as acknowledged when its batch was answered 200. At the
    /// end the store is opened and every acknowledged id is looked up. Prints progress on
    /// stderr and, last, one JSON line: cycles, acknowledged, lost; exits non-zero when
    /// anything acknowledged is missing.
    Crash(crash::Args),
}

/// Runs one benchmark to its end; its figures are on stdout.
pub fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Ingest(args) => ingest::run(args),
        Command::History(args) => history::run(args),
        Command::Analytics(args) => analytics::run(args),
        Command::Crash(args) => crash::run(args),
    }
}

/// A multi-threaded runtime for a benchmark and the clients it drives.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
