//! Backups of the SQLite store while it serves: `engage backup` and `engage restore`.
//!
//! A backup is `VACUUM INTO` a new file from its own read connection. It reads one
//! snapshot (a WAL read transaction: every write committed before it started, nothing
//! after) while the writer goes on, and writes a compact copy with no log beside it.
//! SQLite's online backup API (what `sqlite3 .backup` uses) copies the same snapshot
//! page by page; measured in docs/operations.md, and it needs rusqlite's `backup`
//! feature, so VACUUM INTO it is.
//!
//! The copy is written under a temporary name beside the destination, synced, checked
//! (`PRAGMA quick_check`) and only then renamed into place: a backup file that exists is
//! whole.
//!
//! A restore checks the file the same way, refuses a store that another process has open
//! (a running server: the writer caches what it wrote) and one that holds any account
//! unless forced, and swaps the database file in (its old log and shared memory removed).

use std::path::{Path, PathBuf};
use std::time::Instant;

use rusqlite::{Connection, OpenFlags};
use serde::Serialize;

use super::schema::SCHEMA_VERSION;
use super::sql_err;
use crate::StoreError;

/// What a backup or a restore copied: the rows of the snapshot, counted in the copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    pub accounts: i64,
    pub events: i64,
    pub sdes: i64,
    pub quarantine: i64,
    /// Size of the copy in bytes.
    pub bytes: u64,
    /// The schema version (`PRAGMA user_version`) of the copy.
    pub schema_version: i64,
}

/// A backup's result, with how long it took.
#[derive(Debug, Clone, Serialize)]
pub struct BackupReport {
    /// How the copy was made: `vacuum_into`.
    pub method: &'static str,
    #[serde(flatten)]
    pub snapshot: Snapshot,
    pub millis: u64,
}

/// Copies the database at `db` into a new file `to` (which must not exist), consistent
/// as of one moment, while other connections keep writing.
pub fn backup(db: &Path, to: &Path) -> Result<BackupReport, StoreError> {
    let started = Instant::now();
    if !db.exists() {
        return Err(StoreError::InvalidLocation(format!(
            "no database at {}",
            db.display()
        )));
    }
    if to.exists() {
        return Err(StoreError::Conflict(format!(
            "{} exists: a backup never overwrites a file",
            to.display()
        )));
    }
    let partial = partial_path(to);
    let _ = std::fs::remove_file(&partial);
    let conn = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sql_err)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(sql_err)?;
    let copied = conn
        .execute("VACUUM INTO ?1", [partial.to_string_lossy().as_ref()])
        .map_err(sql_err)
        .and_then(|_| sync_file(&partial))
        .and_then(|()| inspect(&partial));
    let snapshot = match copied {
        Ok(snapshot) => snapshot,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e);
        }
    };
    std::fs::rename(&partial, to).map_err(|e| io_err("renaming the backup into place", &e))?;
    sync_parent(to)?;
    Ok(BackupReport {
        method: "vacuum_into",
        snapshot,
        millis: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

/// Puts the backup `from` in place of the database at `db`. Refuses when `db` holds any
/// account, unless `force`. The server using `db` must be stopped.
pub fn restore(from: &Path, db: &Path, force: bool) -> Result<Snapshot, StoreError> {
    let snapshot = inspect(from)?;
    if db.exists() {
        let accounts = accounts_if_unused(db)?;
        if accounts > 0 && !force {
            return Err(StoreError::Conflict(format!(
                "{} holds {accounts} account(s): restore over it only with --force",
                db.display()
            )));
        }
    }
    if let Some(dir) = db.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io_err("creating the data directory", &e))?;
    }
    let partial = partial_path(db);
    std::fs::copy(from, &partial).map_err(|e| io_err("copying the backup", &e))?;
    sync_file(&partial)?;
    for suffix in ["-wal", "-shm"] {
        let mut side = db.as_os_str().to_owned();
        side.push(suffix);
        match std::fs::remove_file(PathBuf::from(side)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err("removing the old log", &e)),
        }
    }
    std::fs::rename(&partial, db).map_err(|e| io_err("renaming the restored file", &e))?;
    sync_parent(db)?;
    Ok(snapshot)
}

/// How many accounts the database at `db` holds, after making sure no other process has
/// it open: in WAL mode every connection holds a shared lock, so an exclusive one is
/// refused at once while a server (or any other reader) uses the file.
fn accounts_if_unused(db: &Path) -> Result<i64, StoreError> {
    let conn = Connection::open(db).map_err(sql_err)?;
    let locked = conn
        .execute_batch("PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE;")
        .and_then(|()| {
            conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
                r.get::<_, i64>(0)
            })
        });
    match locked {
        Ok(_) => {}
        Err(rusqlite::Error::SqliteFailure(f, _))
            if f.code == rusqlite::ErrorCode::DatabaseBusy =>
        {
            return Err(StoreError::Conflict(format!(
                "{} is in use (is `engage serve` running on it?): stop the server before a \
                 restore",
                db.display()
            )));
        }
        Err(e) => return Err(sql_err(e)),
    }
    // A store that has no accounts table yet has no accounts.
    let accounts = conn
        .query_row("SELECT count(*) FROM accounts", [], |r| r.get(0))
        .unwrap_or(0);
    let _ = conn.execute_batch("COMMIT");
    drop(conn);
    Ok(accounts)
}

/// Checks that `path` is a whole Engage database this build can open, and counts it.
pub fn inspect(path: &Path) -> Result<Snapshot, StoreError> {
    let conn =
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(sql_err)?;
    let check: String = conn
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .map_err(|e| StoreError::InvalidLocation(format!("{}: {e}", path.display())))?;
    if check != "ok" {
        return Err(StoreError::InvalidLocation(format!(
            "{} is damaged: {check}",
            path.display()
        )));
    }
    let schema_version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(sql_err)?;
    if schema_version < 1 || schema_version > SCHEMA_VERSION as i64 {
        return Err(StoreError::InvalidLocation(format!(
            "{} is not an Engage database this version can open (schema {schema_version}, \
             this build knows 1 to {SCHEMA_VERSION})",
            path.display()
        )));
    }
    let count = |table: &str| -> Result<i64, StoreError> {
        conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .map_err(sql_err)
    };
    // Events are one row each in `events` before the compact layout (schema 9) and one
    // key each in `event_ids` since; a backup may be of either.
    let compact: bool = conn
        .query_row(
            "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'event_ids'",
            [],
            |r| r.get(0),
        )
        .map_err(sql_err)?;
    Ok(Snapshot {
        accounts: count("accounts")?,
        events: count(if compact { "event_ids" } else { "events" })?,
        sdes: count("sdes")?,
        quarantine: count("quarantine")?,
        bytes: std::fs::metadata(path)
            .map_err(|e| io_err("reading the file's size", &e))?
            .len(),
        schema_version,
    })
}

fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

fn sync_file(path: &Path) -> Result<(), StoreError> {
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| io_err("syncing the copy", &e))
}

/// Makes a rename durable: the directory entry is synced too.
fn sync_parent(path: &Path) -> Result<(), StoreError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| io_err("syncing the directory", &e))
}

fn io_err(what: &str, e: &std::io::Error) -> StoreError {
    if e.raw_os_error() == Some(28) {
        StoreError::Unavailable(format!("{what}: {e}"))
    } else {
        StoreError::Backend(format!("{what}: {e}"))
    }
}
