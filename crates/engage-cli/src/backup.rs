//! `engage backup` and `engage restore`: a consistent copy of the embedded store while
//! the server runs, and putting one back. PostgreSQL has its own tools.

use std::path::PathBuf;

use anyhow::Context;
use engage_store::sqlite::backup;

use crate::storage::StorageArgs;

#[derive(Debug, clap::Args)]
pub struct BackupArgs {
    /// The backup file to write (must not exist).
    #[arg(long)]
    to: PathBuf,
    #[command(flatten)]
    storage: StorageArgs,
}

#[derive(Debug, clap::Args)]
pub struct RestoreArgs {
    /// The backup file to restore.
    #[arg(long)]
    from: PathBuf,
    /// Replace a store that already holds accounts.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    storage: StorageArgs,
}

/// Copies the store to `--to` and prints what the copy holds as one JSON line.
pub fn run_backup(args: &BackupArgs) -> anyhow::Result<()> {
    let db = sqlite_file(&args.storage)?;
    let report = backup::backup(&db, &args.to)
        .with_context(|| format!("cannot back up {} to {}", db.display(), args.to.display()))?;
    eprintln!(
        "backed up {} to {} in {} ms ({} accounts, {} events, {} SDEs); keep {} with it",
        db.display(),
        args.to.display(),
        report.millis,
        report.snapshot.accounts,
        report.snapshot.events,
        report.snapshot.sdes,
        secret_key_note(&args.storage),
    );
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

/// Puts `--from` in place of the store and prints what it holds as one JSON line.
pub fn run_restore(args: &RestoreArgs) -> anyhow::Result<()> {
    let db = sqlite_file(&args.storage)?;
    let snapshot = backup::restore(&args.from, &db, args.force).with_context(|| {
        format!(
            "cannot restore {} into {}",
            args.from.display(),
            db.display()
        )
    })?;
    eprintln!(
        "restored {} into {} ({} accounts, {} events, {} SDEs)",
        args.from.display(),
        db.display(),
        snapshot.accounts,
        snapshot.events,
        snapshot.sdes
    );
    println!("{}", serde_json::to_string(&snapshot)?);
    Ok(())
}

/// The SQLite file behind `--data`/`--database`; PostgreSQL is refused with what to use.
fn sqlite_file(storage: &StorageArgs) -> anyhow::Result<PathBuf> {
    match engage_store::StoreUrl::parse(&storage.url())? {
        engage_store::StoreUrl::Sqlite(path) => Ok(path),
        engage_store::StoreUrl::Postgres(_) => anyhow::bail!(
            "backup and restore are not supported for PostgreSQL: use pg_dump (a logical \
             copy, `pg_dump -Fc`, restored with pg_restore) or pg_basebackup (a physical copy \
             with WAL archiving for point-in-time recovery)"
        ),
    }
}

/// The key file a backup does not hold, which must be kept beside it.
fn secret_key_note(storage: &StorageArgs) -> String {
    let key = storage
        .secret_key_file
        .clone()
        .unwrap_or_else(|| storage.data.join("secret.key"));
    format!("{} (it seals the OAuth secrets)", key.display())
}
