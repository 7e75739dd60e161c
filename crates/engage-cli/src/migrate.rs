//! `engage migrate`: copies a whole SQLite store into PostgreSQL, resumably.
//!
//! Per account: the account and its admin rows (one transaction), the partitions of the
//! months its data spans, its visits a chunk at a time (each chunk one transaction with
//! its checkpoint), its quarantine likewise; then every count is compared. See
//! `engage_store::migration` for what is copied as it is and what is replayed.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use engage_store::migration::AccountCounts;
use engage_store::postgres::import::ImportStep;
use engage_store::postgres::PostgresStore;
use engage_store::sqlite::source::SqliteSource;
use engage_store::{Store, StoreUrl};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::storage::redact_password;

/// Quarantine entries per transaction.
const QUARANTINE_CHUNK: usize = 1_000;

/// `engage migrate`'s options (its help is on `Command::Migrate`).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The SQLite store's data directory (the `--data` of its servers); `engage.db` in it
    /// is read (and brought to this build's schema first, as `engage serve` would).
    #[arg(long)]
    from: PathBuf,
    /// The PostgreSQL database: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE.
    #[arg(long)]
    to: String,
    /// The key file that seals the source's OAuth secrets. Default: `secret.key` in
    /// --from. It is not copied: the PostgreSQL servers must be given it.
    #[arg(long)]
    secret_key_file: Option<PathBuf>,
    /// Visits per chunk (one transaction and one checkpoint each).
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    chunk_visits: u64,
    /// Stop after this many chunks have been committed, as an interruption would (to try
    /// resuming, or to copy a large store in several sittings).
    #[arg(long)]
    stop_after_chunks: Option<u64>,
}

/// What the last line of a finished run says.
#[derive(Debug, Serialize)]
struct Report {
    accounts: usize,
    millis: u128,
    /// The sum over accounts, the same in source and target.
    counts: AccountCounts,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let url = match StoreUrl::parse(&args.to)? {
        StoreUrl::Postgres(url) => url,
        StoreUrl::Sqlite(_) => anyhow::bail!("--to must be a postgres:// URL"),
    };
    let db = args.from.join("engage.db");
    let key_file = args
        .secret_key_file
        .clone()
        .unwrap_or_else(|| args.from.join("secret.key"));
    crate::runtime()?.block_on(async move {
        let started = Instant::now();
        let mut source = SqliteSource::open(&db)
            .with_context(|| format!("cannot open the source store {}", db.display()))?;
        let target = PostgresStore::open(&url)
            .await
            .with_context(|| format!("cannot open {}", redact_password(&url)))?;
        let result = copy(&mut source, &target, &args, &key_file).await;
        target.close().await?;
        let (accounts, counts) = result?;
        let report = Report {
            accounts,
            millis: started.elapsed().as_millis(),
            counts,
        };
        eprintln!(
            "migrated {accounts} accounts ({} visits, {} events, {} attributes, {} quarantine \
             entries) from {} to {}: every count matches",
            counts.visits,
            counts.events,
            counts.sdes,
            counts.quarantine,
            db.display(),
            redact_password(&url),
        );
        if counts.oauth_keys > 0 {
            eprintln!(
                "the OAuth secrets are sealed by {}: start the PostgreSQL servers with \
                 --secret-key-file {0} (or a copy of it)",
                key_file.display()
            );
        }
        println!("{}", serde_json::to_string(&report)?);
        Ok(())
    })
}

async fn copy(
    source: &mut SqliteSource,
    target: &PostgresStore,
    args: &Args,
    key_file: &std::path::Path,
) -> anyhow::Result<(usize, AccountCounts)> {
    let accounts = source.accounts()?;
    let mut expected = Vec::with_capacity(accounts.len());
    let mut total = 0u64;
    for account in &accounts {
        let counts = source.counts(&account.id)?;
        total += counts.visits + counts.quarantine;
        expected.push(counts);
    }
    if expected.iter().any(|c| c.oauth_keys > 0) && !key_file.is_file() {
        anyhow::bail!(
            "the source has OAuth keys but their secret key file {} is missing: name it with \
             --secret-key-file",
            key_file.display()
        );
    }
    let progress = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    progress.set_style(
        ProgressStyle::with_template(
            "{spinner} migrating {msg} {pos}/{len} [{bar:30}] {per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let chunk_visits = usize::try_from(args.chunk_visits).unwrap_or(500);
    let mut chunks = 0u64;
    let stop = |chunks: u64| args.stop_after_chunks.is_some_and(|n| chunks >= n);
    for account in &accounts {
        let id = account.id.as_str();
        progress.set_message(format!("account {id}"));
        if target
            .import_checkpoint(id, ImportStep::Admin)
            .await?
            .is_none()
        {
            let admin = source.admin(id)?;
            target.import_account(account, &admin).await?;
        }
        if let Some((low, high)) = source.time_span(id)? {
            target.import_partitions(low, high).await?;
        }
        let mut after = target
            .import_checkpoint(id, ImportStep::Visits)
            .await?
            .unwrap_or(0);
        progress.inc(source.visits_through(id, after)?);
        loop {
            if stop(chunks) {
                progress.abandon();
                anyhow::bail!(
                    "stopped after {chunks} chunks as --stop-after-chunks asked: run the same \
                     command again to resume"
                );
            }
            let chunk =
                tokio::task::block_in_place(|| source.visit_chunk(id, after, chunk_visits))?;
            let Some(last) = chunk.last_visit else { break };
            target.import_visits(id, chunk.batches, last).await?;
            after = last;
            chunks += 1;
            progress.inc(chunk.visits);
        }
        let mut after = target
            .import_checkpoint(id, ImportStep::Quarantine)
            .await?
            .unwrap_or(0);
        loop {
            let rows = source.quarantine_chunk(id, after, QUARANTINE_CHUNK)?;
            let Some(last) = rows.last().map(|q| q.id) else {
                break;
            };
            target.import_quarantine(id, &rows).await?;
            after = last;
            progress.inc(u64::try_from(rows.len()).unwrap_or(0));
        }
    }
    progress.finish_and_clear();
    eprintln!("migrate: refreshing the planner's statistics and visibility map (VACUUM (ANALYZE))");
    target.vacuum_analyze().await?;
    let mut sum = AccountCounts::default();
    let mut mismatches = Vec::new();
    for (account, counts) in accounts.iter().zip(&expected) {
        let copied = target.import_counts(&account.id).await?;
        for (what, want, got) in counts.differences(&copied) {
            mismatches.push(format!(
                "account {}: {what}: {want} in the source, {got} in the target",
                account.id
            ));
        }
        add(&mut sum, counts);
    }
    if !mismatches.is_empty() {
        anyhow::bail!(
            "the copy does not match the source:\n  {}",
            mismatches.join("\n  ")
        );
    }
    Ok((accounts.len(), sum))
}

fn add(sum: &mut AccountCounts, c: &AccountCounts) {
    sum.apps += c.apps;
    sum.campaigns += c.campaigns;
    sum.engagements += c.engagements;
    sum.revisions += c.revisions;
    sum.oauth_keys += c.oauth_keys;
    sum.identities += c.identities;
    sum.exposures += c.exposures;
    sum.visits += c.visits;
    sum.pages += c.pages;
    sum.interactions += c.interactions;
    sum.events += c.events;
    sum.sdes += c.sdes;
    sum.quarantine += c.quarantine;
}
