//! The embedded default backend: one SQLite file in WAL mode.
//!
//! - [`backup`]: consistent copies while the store serves (`VACUUM INTO`), and restores.
//! - `schema`: tables, migrations (`PRAGMA user_version`) and connection settings.
//! - `batch`: a batch serialized on the caller's task before it goes to the writer.
//! - `writer`: the one write connection on its own thread, its queue and group commit,
//!   and the checkpointer beside it.
//! - `cache`: what the writer keeps in memory between writes (accounts, sessions, pages,
//!   interaction rows) and what the current group changed.
//! - `ingest`: writing one batch inside the writer's transaction (events, SDEs, visit
//!   state, quarantine rows; duplicates by client id counted, not written).
//! - `compact`: schema version 9, what rows leave to dictionaries and their neighbours,
//!   and the codes they are stored with.
//! - `events`: LP_OFFERS events packed in runs, and their exactly-once keys.
//! - `interactions`: one row per engagement context, kept in step by `ingest`.
//! - `admin`: the other writes through the writer (creating an account, marking
//!   quarantine rows replayed).
//! - `campaigns`: apps, campaigns and engagements (admin writes on their own
//!   connection, see there).
//! - `erasure`: removing a visitor's rows for good (through the writer), and the
//!   erasure log; `visitor`: everything held about a visitor, for access requests.
//! - `retention`: each account's expired visits and quarantine removed in small steps
//!   through the writer.
//! - `history`: interaction search for the Engagement History API.
//! - `reader`: a pool of read connections used from `spawn_blocking`, so reads never
//!   queue behind the writer (WAL readers see the last commit without taking its lock).
//!
//! One process ingests into a file at a time: the writer caches sessions it wrote.

mod admin;
mod analytics;
pub mod backup;
pub(crate) mod batch;
mod cache;
pub(crate) mod campaigns;
pub(crate) mod compact;
mod console;
mod erasure;
pub use erasure::PER_VISITOR_TABLES;
pub(crate) mod events;
pub(crate) mod history;
mod identities;
mod ingest;
mod interactions;
mod oauth;
pub(crate) mod reader;
mod retention;
mod schema;
pub mod source;
mod visitor;
pub(crate) mod webhooks;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::{Connection, ToSql};
use tokio::sync::oneshot;

use crate::changes::ChangeFeed;
use crate::{
    Account, Change, ConsoleSession, ErasureCounts, ErasureLogEntry, ErasureTarget, ExportKind,
    ExportPage, IngestBatch, IngestOutcome, InteractionPage, InteractionQuery, NewAccount,
    OAuthKey, QuarantineEntry, QuarantineQuery, QuarantineUsage, RetentionStep, SessionLookup,
    Store, StoreError, Visit, VisitorData,
};
use reader::ReadPool;
use schema::MigrateError;
use writer::{Command, Write};

/// The SQLite store. Cheap to share behind an `Arc`; dropping the last handle without
/// [`Store::close`] lets the writer finish what it was sent and stop.
pub struct SqliteStore {
    path: PathBuf,
    writer: Sender<Command>,
    closed: AtomicBool,
    readers: Arc<ReadPool>,
    /// Shared with every other handle of this process on the same file.
    changes: ChangeFeed,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish()
    }
}

/// Driver errors stop here: the message is kept for the log, the type is not.
pub(crate) fn sql_err(e: rusqlite::Error) -> StoreError {
    if is_disk_full(&e) {
        StoreError::Unavailable(e.to_string())
    } else {
        StoreError::Backend(e.to_string())
    }
}

/// SQLITE_FULL: the disk (or the file system the database and its log live on) has no
/// room for the pages a write needs. SQLite rolls the statement back and the connection
/// stays usable, so the same write succeeds once space returns.
pub(crate) fn is_disk_full(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DiskFull
    )
}

/// A `u64` column: an integer when it fits SQLite's `i64`, else its decimal text.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SqlU64(pub u64);

impl ToSql for SqlU64 {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match i64::try_from(self.0) {
            Ok(i) => ToSqlOutput::Owned(Value::Integer(i)),
            Err(_) => ToSqlOutput::Owned(Value::Text(self.0.to_string())),
        })
    }
}

/// Reads a column written with [`SqlU64`].
pub(crate) fn read_u64(value: ValueRef<'_>) -> Option<u64> {
    match value {
        ValueRef::Integer(i) => u64::try_from(i).ok(),
        ValueRef::Text(t) => std::str::from_utf8(t).ok()?.parse().ok(),
        ValueRef::Null | ValueRef::Real(_) | ValueRef::Blob(_) => None,
    }
}

/// Creates `dir` and its missing parents readable by the owner only (0700 on Unix):
/// the database holds visitors' attributes and OAuth secrets. A directory that exists
/// keeps its mode, which is its owner's choice.
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Creates the database file owner-only (0600 on Unix) when it does not exist yet, before
/// SQLite opens it: SQLite gives the `-wal` and `-shm` files the mode of the database
/// file, so all three stay private. An existing file keeps its mode.
fn create_private_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

impl SqliteStore {
    /// Opens the database file at `path`, creating it and its directory when missing,
    /// and migrates it to this build's schema.
    pub async fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let path = path.to_owned();
        tokio::task::spawn_blocking(move || SqliteStore::open_blocking(path))
            .await
            .map_err(|e| StoreError::Backend(format!("opening the store: {e}")))?
    }

    fn open_blocking(path: PathBuf) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            create_private_dir(dir).map_err(|e| {
                StoreError::InvalidLocation(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        create_private_file(&path).map_err(|e| {
            StoreError::InvalidLocation(format!("cannot create {}: {e}", path.display()))
        })?;
        let mut conn = Connection::open(&path).map_err(|e| {
            StoreError::InvalidLocation(format!("cannot open {}: {e}", path.display()))
        })?;
        schema::configure_writer(&conn)?;
        schema::migrate(&mut conn).map_err(|e| match e {
            MigrateError::Db(e) => sql_err(e),
            MigrateError::Newer(v) => StoreError::InvalidLocation(format!(
                "{} has schema version {v}, newer than this build's {}",
                path.display(),
                schema::SCHEMA_VERSION
            )),
            MigrateError::Unknown(v) => StoreError::InvalidLocation(format!(
                "{} has an unknown schema version {v}",
                path.display()
            )),
        })?;
        conn.set_prepared_statement_cache_capacity(64);
        let writer = writer::spawn(conn, &path)?;
        Ok(SqliteStore {
            changes: ChangeFeed::for_file(&path),
            readers: Arc::new(ReadPool::new(path.clone())),
            path,
            writer,
            closed: AtomicBool::new(false),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sends a write to the writer thread and waits for its answer (after COMMIT).
    async fn write<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Write,
    ) -> Result<T, StoreError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StoreError::Closed);
        }
        let (reply, answer) = oneshot::channel();
        self.writer
            .send(Command::Write(make(reply)))
            .map_err(|_| StoreError::Closed)?;
        // The writer drops the reply only when it stopped before answering.
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    #[tracing::instrument(level = "debug", skip_all, fields(name = %new.name))]
    async fn create_account(&self, new: NewAccount) -> Result<Account, StoreError> {
        let account: Account = self.write(|reply| Write::CreateAccount(new, reply)).await?;
        self.changes.account_changed(&account.id);
        Ok(account)
    }

    async fn account(&self, account_id: &str) -> Result<Option<Account>, StoreError> {
        let id = account_id.to_owned();
        self.readers
            .run(move |conn| reader::account(conn, reader::AccountBy::Id(&id)))
            .await
    }

    #[tracing::instrument(skip_all, fields(account = %account_id))]
    async fn set_allowed_origins(
        &self,
        account_id: &str,
        origins: Vec<String>,
    ) -> Result<Account, StoreError> {
        let account = account_id.to_owned();
        let json = serde_json::to_string(&origins)
            .map_err(|e| StoreError::Backend(format!("serializing: {e}")))?;
        self.admin_write(account_id, move |tx| {
            let changed = tx
                .execute(
                    "UPDATE accounts SET allowed_origins = ?2 WHERE id = ?1",
                    rusqlite::params![account, json],
                )
                .map_err(sql_err)?;
            if changed == 0 {
                return Err(StoreError::UnknownAccount(account));
            }
            Ok(())
        })
        .await?;
        self.account(account_id)
            .await?
            .ok_or_else(|| StoreError::UnknownAccount(account_id.to_owned()))
    }

    async fn account_by_key_hash(&self, api_key_hash: &str) -> Result<Option<Account>, StoreError> {
        let hash = api_key_hash.to_owned();
        self.readers
            .run(move |conn| reader::account(conn, reader::AccountBy::KeyHash(&hash)))
            .await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(account = %batch.account_id, batch_len = batch.len()))]
    async fn ingest(&self, batch: IngestBatch) -> Result<IngestOutcome, StoreError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StoreError::Closed);
        }
        let prepared = Box::new(batch::prepare(batch)?);
        let (reply, answer) = oneshot::channel();
        self.writer
            .send(Command::Write(Write::Ingest(prepared, reply)))
            .map_err(|_| StoreError::Closed)?;
        // The writer drops the reply only when it stopped before answering.
        let (outcome, written) = answer.await.map_err(|_| StoreError::Closed)?;
        drop(written);
        outcome
    }

    async fn lookup_session(
        &self,
        account_id: &str,
        visitor_id: &str,
        session_id: &str,
    ) -> Result<SessionLookup, StoreError> {
        let (a, v, s) = (
            account_id.to_owned(),
            visitor_id.to_owned(),
            session_id.to_owned(),
        );
        self.readers
            .run(move |conn| reader::lookup_session(conn, &a, &v, &s))
            .await
    }

    async fn identity_visitor(
        &self,
        account_id: &str,
        identity: &str,
    ) -> Result<Option<String>, StoreError> {
        self.identity_visitor_impl(account_id, identity).await
    }

    async fn link_identity(
        &self,
        account_id: &str,
        identity: &str,
        visitor_id: &str,
    ) -> Result<String, StoreError> {
        self.link_identity_impl(account_id, identity, visitor_id)
            .await
    }

    async fn record_exposures(
        &self,
        account_id: &str,
        session_id: &str,
        exposures: &[crate::Exposure],
    ) -> Result<(), StoreError> {
        self.record_exposures_impl(account_id, session_id, exposures)
            .await
    }

    async fn exposure(
        &self,
        account_id: &str,
        session_id: &str,
        context_id: &str,
    ) -> Result<Option<crate::Exposure>, StoreError> {
        self.exposure_impl(account_id, session_id, context_id).await
    }

    async fn latest_exposure(
        &self,
        account_id: &str,
        session_id: &str,
        campaign_id: u64,
        engagement_id: u64,
    ) -> Result<Option<crate::Exposure>, StoreError> {
        self.latest_exposure_impl(account_id, session_id, campaign_id, engagement_id)
            .await
    }

    async fn visit(&self, account_id: &str, session_id: &str) -> Result<Option<Visit>, StoreError> {
        let (a, s) = (account_id.to_owned(), session_id.to_owned());
        self.readers
            .run(move |conn| reader::visit(conn, &a, &s))
            .await
    }

    async fn quarantine(
        &self,
        account_id: &str,
        query: QuarantineQuery,
    ) -> Result<Vec<QuarantineEntry>, StoreError> {
        let a = account_id.to_owned();
        self.readers
            .run(move |conn| reader::quarantine(conn, &a, query))
            .await
    }

    async fn quarantine_usage(&self, account_id: &str) -> Result<QuarantineUsage, StoreError> {
        let a = account_id.to_owned();
        self.readers
            .run(move |conn| reader::quarantine_usage(conn, &a))
            .await
    }

    async fn mark_replayed(
        &self,
        account_id: &str,
        ids: &[i64],
        replayed_ms: i64,
    ) -> Result<(), StoreError> {
        let account_id = account_id.to_owned();
        let ids = ids.to_vec();
        self.write(|reply| Write::MarkReplayed {
            account_id,
            ids,
            replayed_ms,
            reply,
        })
        .await
    }

    async fn search_interactions(
        &self,
        account_id: &str,
        query: InteractionQuery,
    ) -> Result<InteractionPage, StoreError> {
        let a = account_id.to_owned();
        self.readers
            .run(move |conn| history::search(conn, &a, &query))
            .await
    }

    async fn count(&self, account_id: &str, kind: ExportKind) -> Result<u64, StoreError> {
        let a = account_id.to_owned();
        self.readers
            .run(move |conn| reader::count(conn, &a, kind))
            .await
    }

    async fn export_page(
        &self,
        account_id: &str,
        kind: ExportKind,
        cursor: Option<i64>,
        limit: usize,
    ) -> Result<ExportPage, StoreError> {
        let a = account_id.to_owned();
        self.readers
            .run(move |conn| reader::export_page(conn, &a, kind, cursor, limit))
            .await
    }

    async fn create_oauth_key(&self, key: OAuthKey) -> Result<OAuthKey, StoreError> {
        self.insert_oauth_key(key).await
    }

    async fn oauth_keys_by_token(
        &self,
        app_key: &str,
        access_token: &str,
    ) -> Result<Vec<OAuthKey>, StoreError> {
        self.select_oauth_keys_by_token(app_key, access_token).await
    }

    async fn oauth_keys(&self, account_id: &str) -> Result<Vec<OAuthKey>, StoreError> {
        self.select_oauth_keys(account_id).await
    }

    async fn revoke_oauth_key(&self, account_id: &str, app_key: &str) -> Result<bool, StoreError> {
        self.delete_oauth_key(account_id, app_key).await
    }

    fn changes(&self) -> tokio::sync::broadcast::Receiver<Change> {
        self.changes.subscribe()
    }

    async fn claim_nonce(
        &self,
        account_id: &str,
        nonce_key: &str,
        expires_s: i64,
        now_s: i64,
    ) -> Result<bool, StoreError> {
        let (account, key) = (account_id.to_owned(), nonce_key.to_owned());
        self.campaign_write(move |tx| oauth::claim_nonce(tx, &account, &key, expires_s, now_s))
            .await
    }

    async fn create_console_session(&self, session: ConsoleSession) -> Result<(), StoreError> {
        self.insert_console_session(session).await
    }

    async fn console_session(
        &self,
        account_id: &str,
        token_hash: &str,
        now_ms: i64,
    ) -> Result<Option<ConsoleSession>, StoreError> {
        self.select_console_session(account_id, token_hash, now_ms)
            .await
    }

    async fn end_console_session(
        &self,
        account_id: &str,
        token_hash: &str,
    ) -> Result<bool, StoreError> {
        self.delete_console_session(account_id, token_hash).await
    }

    async fn visitor_data(
        &self,
        account_id: &str,
        visitor_id: &str,
    ) -> Result<Option<VisitorData>, StoreError> {
        let (a, v) = (account_id.to_owned(), visitor_id.to_owned());
        self.readers
            .run(move |conn| visitor::visitor_data(conn, &a, &v))
            .await
    }

    #[tracing::instrument(skip_all, fields(account = %account_id, target = target.kind()))]
    async fn erase(
        &self,
        account_id: &str,
        target: ErasureTarget,
    ) -> Result<ErasureCounts, StoreError> {
        let account_id = account_id.to_owned();
        self.write(|reply| Write::Erase {
            account_id,
            target,
            reply,
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(account = %account_id, records = records.len()))]
    async fn record_eligibility(
        &self,
        account_id: &str,
        records: Vec<crate::analytics::EligibilityRecord>,
    ) -> Result<usize, StoreError> {
        if records.is_empty() {
            return Ok(0);
        }
        let account_id = account_id.to_owned();
        self.write(|reply| Write::Eligibility {
            account_id,
            records,
            reply,
        })
        .await
    }

    async fn erasure_log(
        &self,
        account_id: &str,
        limit: usize,
    ) -> Result<Vec<ErasureLogEntry>, StoreError> {
        let a = account_id.to_owned();
        self.readers
            .run(move |conn| erasure::log(conn, &a, limit))
            .await
    }

    async fn retention(&self, account_id: &str) -> Result<Option<u32>, StoreError> {
        let a = account_id.to_owned();
        self.readers.run(move |conn| retention::get(conn, &a)).await
    }

    async fn set_retention(&self, account_id: &str, days: Option<u32>) -> Result<(), StoreError> {
        let a = account_id.to_owned();
        self.campaign_write(move |tx| retention::set(tx, &a, days))
            .await
    }

    async fn sweep_retention(
        &self,
        now_ms: i64,
        max_visits: usize,
    ) -> Result<RetentionStep, StoreError> {
        self.write(|reply| Write::SweepRetention {
            now_ms,
            max_visits,
            reply,
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(account = %account_id))]
    async fn analytics_facts(
        &self,
        account_id: &str,
        scope: crate::analytics::AnalyticsScope,
    ) -> Result<crate::analytics::AnalyticsFacts, StoreError> {
        let account = account_id.to_owned();
        self.readers
            .run(move |conn| analytics::facts(conn, &account, &scope))
            .await
    }

    #[tracing::instrument(skip_all, fields(account = %account_id, bot, since_ms))]
    async fn analytics_side_since(
        &self,
        account_id: &str,
        bot: bool,
        since_ms: i64,
    ) -> Result<crate::analytics::AnalyticsFacts, StoreError> {
        let account = account_id.to_owned();
        self.readers
            .run(move |conn| analytics::side_since(conn, &account, bot, since_ms))
            .await
    }

    async fn analytics_generation(&self, account_id: &str) -> Result<u64, StoreError> {
        let account = account_id.to_owned();
        self.readers
            .run(move |conn| analytics::generation(conn, &account))
            .await
    }

    #[tracing::instrument(skip_all, fields(account = %account_id))]
    async fn funnel_steps(
        &self,
        account_id: &str,
        scope: crate::analytics::StepScope,
    ) -> Result<Vec<crate::analytics::StepOccurrence>, StoreError> {
        let account = account_id.to_owned();
        self.readers
            .run(move |conn| analytics::steps(conn, &account, &scope))
            .await
    }

    async fn close(&self) -> Result<(), StoreError> {
        self.closed.store(true, Ordering::Release);
        let (reply, done) = oneshot::channel();
        if self.writer.send(Command::Close(reply)).is_ok() {
            // An error means the writer already stopped, which is what was asked.
            let _ = done.await;
        }
        Ok(())
    }
}

#[cfg(all(test, unix))]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::NewAccount;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[tokio::test]
    async fn the_data_directory_and_database_files_are_readable_by_their_owner_only() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("engage-data").join("nested");
        let path = dir.join("engage.db");
        let store = SqliteStore::open(&path).await.unwrap();
        store
            .create_account(NewAccount {
                name: "modes".into(),
                api_key_hash: "00".repeat(32),
            })
            .await
            .unwrap();
        assert_eq!(mode(&dir), 0o700, "the data directory");
        assert_eq!(mode(&tmp.path().join("engage-data")), 0o700, "its parent");
        for file in ["engage.db", "engage.db-wal", "engage.db-shm"] {
            let file = dir.join(file);
            assert!(file.exists(), "{} was not written", file.display());
            assert_eq!(mode(&file), 0o600, "{}", file.display());
        }
        store.close().await.unwrap();
    }
}
