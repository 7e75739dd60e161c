//! The writer thread: the only connection that writes, and group commit.
//!
//! Callers send a [`Command`] with a oneshot for the answer. The thread takes the first
//! command it is sent and everything queued behind it (up to [`MAX_GROUP_COMMANDS`]
//! commands or [`MAX_GROUP_ROWS`] rows), applies them in arrival order inside ONE
//! transaction, commits (WAL + `synchronous=FULL`: the log is synced before COMMIT
//! returns) and only then answers.
//!
//! Failures: a write refused before it wrote anything (an unknown account, a taken API
//! key) is answered with its error and the group goes on. A database error part way
//! rolls the whole group back, and its writes are then tried again one transaction each,
//! so only the write that fails gets the error. (Savepoints per write would do the same
//! but cost a statement journal copy of every page they touch: measured, a third of the
//! writer's time.) A full disk (SQLITE_FULL) fails the whole group at once with
//! [`StoreError::Unavailable`]; the thread lives on and the next group commits as soon as
//! there is room again.
//!
//! What each write does is elsewhere: `ingest` writes a batch, `admin` the other writes.
//! The caches they keep (`cache`) hold committed state or state written in the current
//! group: the group commit ages them after COMMIT and clears them after a rollback.
//! A checkpointer thread beside the writer copies committed pages into the database file.

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rusqlite::{params, Connection};
use tokio::sync::oneshot;

use super::admin::{create_account, mark_replayed};
use super::batch::PreparedBatch;
use super::cache::{GenCache, WriterState};
use super::compact::Shapes;
use super::erasure::erase;
use super::ingest::ingest;
use super::{is_disk_full, schema, sql_err};
use crate::analytics::rollup_memory::RollupMemory;
use crate::{
    Account, ErasureCounts, ErasureTarget, IngestOutcome, NewAccount, RetentionStep, StoreError,
};

/// At most this many commands share a transaction.
const MAX_GROUP_COMMANDS: usize = 128;
/// A group stops taking commands once it holds this many rows.
const MAX_GROUP_ROWS: usize = 20_000;
/// The longest a group waits for the callers of the previous one to come back.
const GATHER_WAIT: Duration = Duration::from_micros(500);
/// How long an erasure's TRUNCATE checkpoint is tried again (20 ms apart) while the
/// checkpointer holds the log.
const TRUNCATE_PATIENCE: Duration = Duration::from_secs(5);

/// How often the checkpointer looks for committed work to copy into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

pub(crate) enum Command {
    Write(Write),
    /// Answered once everything sent before it is committed and the connection is closed.
    Close(oneshot::Sender<()>),
}

pub(crate) enum Write {
    /// The batch goes back with the answer, so the caller's thread frees it, not the writer.
    Ingest(
        Box<PreparedBatch>,
        oneshot::Sender<(Result<IngestOutcome, StoreError>, Box<PreparedBatch>)>,
    ),
    CreateAccount(NewAccount, Reply<Account>),
    MarkReplayed {
        account_id: String,
        ids: Vec<i64>,
        replayed_ms: i64,
        reply: Reply<()>,
    },
    /// Erasure (see `erasure`): the group checkpoints the log with TRUNCATE after it
    /// commits, so no page image from before the erasure stays in the log.
    Erase {
        account_id: String,
        target: ErasureTarget,
        reply: Reply<ErasureCounts>,
    },
    /// One step of the retention sweep (see `retention`).
    SweepRetention {
        now_ms: i64,
        max_visits: usize,
        reply: Reply<RetentionStep>,
    },
    Eligibility {
        account_id: String,
        records: Vec<crate::analytics::EligibilityRecord>,
        reply: Reply<usize>,
    },
}

/// What a write produced, held until its group commits.
enum Done {
    Ingest(IngestOutcome),
    Account(Account),
    Replayed,
    Erased(ErasureCounts),
    Swept(RetentionStep),
    Eligibility(usize),
}

/// Why a write did not happen.
pub(crate) enum Failure {
    /// Refused before it wrote anything (an unknown account, a taken key): the rest of
    /// the group goes on.
    Refused(StoreError),
    /// The database failed part way: the group is rolled back.
    Db(rusqlite::Error),
}

impl From<rusqlite::Error> for Failure {
    fn from(e: rusqlite::Error) -> Self {
        Failure::Db(e)
    }
}

impl Command {
    fn rows(&self) -> usize {
        match self {
            Command::Write(Write::Ingest(batch, _)) => batch.len().max(1),
            Command::Write(_) | Command::Close(_) => 1,
        }
    }
}

impl Write {
    /// Answers the caller. A caller that stopped waiting needs no answer, so a failed
    /// send is ignored.
    fn answer(self, result: Result<Done, StoreError>) {
        let mismatch = || StoreError::Backend("the writer answered the wrong kind of write".into());
        match self {
            Write::Ingest(batch, reply) => {
                let result = match result {
                    Ok(Done::Ingest(o)) => Ok(o),
                    Ok(_) => Err(mismatch()),
                    Err(e) => Err(e),
                };
                drop(reply.send((result, batch)));
            }
            Write::CreateAccount(_, reply) => drop(reply.send(match result {
                Ok(Done::Account(a)) => Ok(a),
                Ok(_) => Err(mismatch()),
                Err(e) => Err(e),
            })),
            Write::MarkReplayed { reply, .. } => drop(reply.send(match result {
                Ok(Done::Replayed) => Ok(()),
                Ok(_) => Err(mismatch()),
                Err(e) => Err(e),
            })),
            Write::Erase { reply, .. } => drop(reply.send(match result {
                Ok(Done::Erased(counts)) => Ok(counts),
                Ok(_) => Err(mismatch()),
                Err(e) => Err(e),
            })),
            Write::SweepRetention { reply, .. } => drop(reply.send(match result {
                Ok(Done::Swept(step)) => Ok(step),
                Ok(_) => Err(mismatch()),
                Err(e) => Err(e),
            })),
            Write::Eligibility { reply, .. } => drop(reply.send(match result {
                Ok(Done::Eligibility(n)) => Ok(n),
                Ok(_) => Err(mismatch()),
                Err(e) => Err(e),
            })),
        }
    }
}

/// Starts the writer (and its checkpointer) on `conn`, already configured and migrated,
/// and returns where to send it commands.
pub(crate) fn spawn(conn: Connection, path: &Path) -> Result<Sender<Command>, StoreError> {
    let (commands, rx) = mpsc::channel();
    let checkpoint_conn = Connection::open(path).map_err(sql_err)?;
    schema::configure_checkpointer(&checkpoint_conn).map_err(sql_err)?;
    let commits = Arc::new(AtomicU64::new(0));
    let (stop_checkpointer, stop_rx) = mpsc::channel::<()>();
    let checkpointer = {
        let commits = Arc::clone(&commits);
        thread::Builder::new()
            .name("engage-sqlite-checkpoint".into())
            .spawn(move || checkpoint_loop(checkpoint_conn, &commits, &stop_rx))
            .map_err(|e| StoreError::Backend(format!("starting the checkpointer: {e}")))?
    };
    let mut writer = Writer::new(conn, commits);
    writer.checkpointer = Some((stop_checkpointer, checkpointer));
    thread::Builder::new()
        .name("engage-sqlite-writer".into())
        .spawn(move || writer.run(&rx))
        .map_err(|e| StoreError::Backend(format!("starting the writer: {e}")))?;
    Ok(commands)
}

/// Copies committed pages from the log into the database file off the writer's path, so
/// a commit never waits for a checkpoint (`wal_autocheckpoint` is off on the writer).
/// PASSIVE never blocks the writer; once a checkpoint has copied everything, the writer's
/// next transaction starts the log over.
fn checkpoint_loop(conn: Connection, commits: &AtomicU64, stop: &Receiver<()>) {
    let mut seen = 0;
    loop {
        match stop.recv_timeout(CHECKPOINT_EVERY) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
        let now = commits.load(Ordering::Relaxed);
        if now == seen {
            continue;
        }
        seen = now;
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %e, "sqlite checkpoint failed; the log grows until one succeeds");
        }
    }
}

struct Writer {
    conn: Connection,
    state: WriterState,
    commits: Arc<AtomicU64>,
    checkpointer: Option<(Sender<()>, JoinHandle<()>)>,
}

impl Writer {
    fn new(conn: Connection, commits: Arc<AtomicU64>) -> Writer {
        Writer {
            conn,
            state: WriterState {
                accounts: HashSet::new(),
                sessions: GenCache::new(),
                pages: GenCache::new(),
                interactions: GenCache::new(),
                shapes: Shapes::default(),
                dirty_sessions: Vec::new(),
                new_accounts: Vec::new(),
                rollups: RollupMemory::default(),
            },
            commits,
            checkpointer: None,
        }
    }

    fn run(mut self, rx: &Receiver<Command>) {
        let mut closers = Vec::new();
        let mut last_group = 1;
        while let Ok(first) = rx.recv() {
            let mut rows = first.rows();
            let mut group = vec![first];
            // The callers answered by the last commit come back within a moment; waiting
            // for as many as that group had (never longer than GATHER_WAIT) keeps groups
            // large, and one fsync pays for all of them. Under light load the last group
            // was small and nothing waits.
            let deadline = Instant::now() + GATHER_WAIT;
            while group.len() < MAX_GROUP_COMMANDS && rows < MAX_GROUP_ROWS {
                let next = match rx.try_recv() {
                    Ok(cmd) => Some(cmd),
                    Err(_) if group.len() >= last_group => None,
                    Err(_) => {
                        let left = deadline.saturating_duration_since(Instant::now());
                        rx.recv_timeout(left).ok()
                    }
                };
                let Some(cmd) = next else { break };
                let closing = matches!(cmd, Command::Close(_));
                rows += cmd.rows();
                group.push(cmd);
                if closing {
                    break;
                }
            }
            last_group = group.len();
            // Writes sent before a close are committed; the ones after it are refused.
            let mut writes = Vec::with_capacity(group.len());
            let mut closing = false;
            for cmd in group {
                match cmd {
                    Command::Close(reply) => {
                        closers.push(reply);
                        closing = true;
                    }
                    Command::Write(w) if closing => w.answer(Err(StoreError::Closed)),
                    Command::Write(w) => writes.push(w),
                }
            }
            if !writes.is_empty() {
                self.run_group(writes);
            }
            if closing {
                break;
            }
        }
        // Later sends fail once `rx` is dropped; whatever slipped in before is refused.
        while let Ok(cmd) = rx.try_recv() {
            match cmd {
                Command::Close(reply) => closers.push(reply),
                Command::Write(w) => w.answer(Err(StoreError::Closed)),
            }
        }
        self.shut_down();
        for reply in closers {
            let _ = reply.send(());
        }
    }

    fn shut_down(mut self) {
        tracing::debug!(
            commits = self.commits.load(Ordering::Relaxed),
            "sqlite writer stopping"
        );
        if let Some((stop, handle)) = self.checkpointer.take() {
            let _ = stop.send(());
            if handle.join().is_err() {
                tracing::error!("the sqlite checkpointer panicked");
            }
        }
        // Leaves a small log behind for backups and the next start; a failure only means
        // the next open replays a longer log.
        if let Err(e) = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        {
            tracing::warn!(error = %e, "final sqlite checkpoint failed");
        }
        if let Err((_, e)) = self.conn.close() {
            tracing::warn!(error = %e, "closing the sqlite writer connection failed");
        }
    }

    /// Applies `group` in one transaction and answers after COMMIT. If the database fails
    /// part way, the group is rolled back and each write is tried again alone, so only
    /// the write that fails is answered with the error.
    fn run_group(&mut self, group: Vec<Write>) {
        let started = Instant::now();
        match self.try_group(&group) {
            Ok(results) => {
                for (w, r) in group.into_iter().zip(results) {
                    w.answer(r);
                }
            }
            Err(e) => {
                self.forget_group();
                if is_disk_full(&e) {
                    // Every write of the group would fail the same way: answer them all
                    // at once instead of retrying each on a full disk.
                    tracing::warn!(error = %e, writes = group.len(), "sqlite disk full; writes refused until space returns");
                    let message = e.to_string();
                    for w in group {
                        w.answer(Err(StoreError::Unavailable(message.clone())));
                    }
                } else if group.len() == 1 {
                    tracing::error!(error = %e, "sqlite write failed and was rolled back");
                    let message = e.to_string();
                    for w in group {
                        w.answer(Err(StoreError::Backend(message.clone())));
                    }
                } else {
                    tracing::warn!(error = %e, writes = group.len(), "sqlite group failed; retrying its writes one by one");
                    for w in group {
                        self.run_group(vec![w]);
                    }
                }
            }
        }
        tracing::trace!(
            elapsed_us = started.elapsed().as_micros() as u64,
            "sqlite group done"
        );
    }

    /// One transaction for the whole group; `Err` means it was not committed.
    fn try_group(&mut self, group: &[Write]) -> rusqlite::Result<Vec<Result<Done, StoreError>>> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        let mut results = Vec::with_capacity(group.len());
        for w in group {
            let result = match w {
                Write::Ingest(batch, _) => {
                    ingest(&self.conn, &mut self.state, batch).map(Done::Ingest)
                }
                Write::CreateAccount(new, _) => {
                    create_account(&self.conn, &mut self.state, new).map(Done::Account)
                }
                Write::MarkReplayed {
                    account_id,
                    ids,
                    replayed_ms,
                    ..
                } => mark_replayed(&self.conn, account_id, ids, *replayed_ms)
                    .map(|()| Done::Replayed)
                    .map_err(Failure::Db),
                Write::Erase {
                    account_id, target, ..
                } => self.erase(account_id, target).map(Done::Erased),
                Write::SweepRetention {
                    now_ms, max_visits, ..
                } => self.sweep_retention(*now_ms, *max_visits).map(Done::Swept),
                Write::Eligibility {
                    account_id,
                    records,
                    ..
                } => super::analytics::record_eligibility(&self.conn, account_id, records)
                    .map(Done::Eligibility)
                    .map_err(Failure::Db),
            };
            match result {
                Ok(done) => results.push(Ok(done)),
                Err(Failure::Refused(e)) => results.push(Err(e)),
                Err(Failure::Db(e)) => {
                    self.rollback();
                    return Err(e);
                }
            }
        }
        let committed = self
            .write_back_sessions()
            .and_then(|()| self.conn.execute_batch("COMMIT"));
        if let Err(e) = committed {
            self.rollback();
            return Err(e);
        }
        self.commits.fetch_add(1, Ordering::Relaxed);
        if group.iter().any(|w| matches!(w, Write::Erase { .. })) {
            self.rewrite_after_erasure();
            self.truncate_log();
        }
        let new_accounts = std::mem::take(&mut self.state.new_accounts);
        self.state.accounts.extend(new_accounts);
        self.state.sessions.age();
        self.state.pages.age();
        self.state.interactions.age();
        Ok(results)
    }

    /// Erases inside the group's transaction. The sessions this group changed are
    /// written first and the row caches (and the rollup memory) are emptied after: they
    /// may name rows the erasure removed, and they fill again from the database.
    fn erase(&mut self, account: &str, target: &ErasureTarget) -> Result<ErasureCounts, Failure> {
        self.write_back_sessions()?;
        let counts = erase(&self.conn, account, target, crate::ids::now_ms())?;
        self.state.sessions.clear();
        self.state.pages.clear();
        self.state.interactions.clear();
        self.state.rollups.clear();
        Ok(counts)
    }

    /// A retention step inside the group's transaction; the row caches are handled as
    /// for an erasure.
    fn sweep_retention(
        &mut self,
        now_ms: i64,
        max_visits: usize,
    ) -> Result<RetentionStep, Failure> {
        self.write_back_sessions()?;
        let step = super::retention::sweep(&self.conn, now_ms, max_visits)?;
        self.state.sessions.clear();
        self.state.pages.clear();
        self.state.interactions.clear();
        self.state.rollups.clear();
        Ok(step)
    }

    /// Rewrites the database file (`VACUUM`) so that no page keeps a stale copy of an
    /// erased row. `secure_delete` zeroes deleted cells and freed pages, but a page that
    /// SQLite rebuilds while rebalancing a B-tree keeps old copies of its cells in its
    /// unused middle, which deleting the rows never visits; only a rewrite clears them.
    /// The copy is built in a temporary file (not in memory, where the connection keeps
    /// other temporary tables), and ingestion waits behind it (docs/operations.md,
    /// Erasure). `VACUUM` keeps the rowids of tables with an `INTEGER PRIMARY KEY`, which
    /// every table whose rows are pointed at by rowid has (the text index keeps its
    /// own). A failure (no room for the copy) leaves the committed erasure in place and
    /// is logged; the next erasure tries again.
    fn rewrite_after_erasure(&self) {
        let started = Instant::now();
        let rewritten = self.conn.execute_batch("PRAGMA temp_store = FILE; VACUUM;");
        if let Err(e) = self.conn.execute_batch("PRAGMA temp_store = MEMORY") {
            tracing::warn!(error = %e, "restoring temp_store after an erasure");
        }
        match rewritten {
            Ok(()) => tracing::info!(
                elapsed_ms = started.elapsed().as_millis() as u64,
                "the database was rewritten after an erasure"
            ),
            Err(e) => tracing::error!(
                error = %e,
                "the database could not be rewritten after an erasure: stale copies of \
                 erased rows may stay in unused page space until the next erasure"
            ),
        }
    }

    /// Copies the whole log into the database file and empties it, so the log keeps no
    /// image of a page from before an erasure. While the checkpointer thread copies the
    /// rewrite's pages (its own pass, started when the rewrite committed) the checkpoint
    /// lock is taken and SQLite answers busy at once, without waiting: so this tries
    /// again every 20 ms, for up to [`TRUNCATE_PATIENCE`] (an attempt that started in
    /// time may wait for readers up to the busy timeout). A reader still on an old
    /// snapshot also makes it fail; then the next erasure or the checkpoint at close
    /// tries again.
    fn truncate_log(&self) {
        let started = Instant::now();
        let mut last = None;
        for attempt in 0.. {
            if attempt > 0 {
                if started.elapsed() >= TRUNCATE_PATIENCE {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            match self
                .conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                    r.get::<_, i64>(0)
                }) {
                Ok(0) => return,
                Ok(_) => last = None,
                Err(e) => last = Some(e),
            }
        }
        match last {
            None => tracing::warn!(
                "the log could not be emptied after an erasure: a reader or the checkpointer held it"
            ),
            Some(e) => {
                tracing::warn!(error = %e, "the log could not be emptied after an erasure")
            }
        }
    }

    fn rollback(&mut self) {
        if self.conn.is_autocommit() {
            return;
        }
        if let Err(e) = self.conn.execute_batch("ROLLBACK") {
            tracing::error!(error = %e, "rolling back a failed sqlite group");
        }
    }

    /// After a rollback the caches may hold what was never committed.
    fn forget_group(&mut self) {
        self.state.sessions.clear();
        self.state.pages.clear();
        self.state.interactions.clear();
        self.state.rollups.clear();
        self.state.shapes.clear();
        self.state.dirty_sessions.clear();
        self.state.new_accounts.clear();
    }

    /// Writes every session changed in this group once: last seen and the chain head.
    fn write_back_sessions(&mut self) -> rusqlite::Result<()> {
        let dirty = std::mem::take(&mut self.state.dirty_sessions);
        if dirty.is_empty() {
            return Ok(());
        }
        let mut update = self.conn.prepare_cached(
            "UPDATE visit_heads SET last_seen_ms = ?2, sde_head = ?3 WHERE visit_id = ?1",
        )?;
        for k in &dirty {
            let Some(slot) = self.state.sessions.get_mut(k) else {
                continue;
            };
            update.execute(params![slot.visit_id, slot.last_seen_ms, slot.sde_head])?;
            slot.dirty = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::sample;
    use crate::sqlite::batch::prepare;
    use engage_model::SdeType;

    fn writer(dir: &Path) -> (Writer, String) {
        let mut conn = Connection::open(dir.join("w.db")).unwrap();
        schema::configure_writer(&conn).unwrap();
        schema::migrate(&mut conn).unwrap();
        let mut w = Writer::new(conn, Arc::new(AtomicU64::new(0)));
        let (tx, mut rx) = oneshot::channel();
        let new = NewAccount {
            name: "w".into(),
            api_key_hash: "k".into(),
        };
        w.run_group(vec![Write::CreateAccount(new, tx)]);
        let account = rx.try_recv().unwrap().unwrap().id;
        (w, account)
    }

    type Answer = oneshot::Receiver<(Result<IngestOutcome, StoreError>, Box<PreparedBatch>)>;

    fn ingest_write(account: &str, client_ids: &[&str], session: &str) -> (Write, Answer) {
        let mut b = crate::IngestBatch {
            account_id: account.to_owned(),
            received_ms: 1_000,
            visit: Some(sample::visit_context("v", session, "p")),
            events: vec![],
            sdes: vec![],
            rejected: vec![],
        };
        for id in client_ids {
            let mut sde = sample::new_sde(sample::sde(SdeType::ViewedProduct), None);
            sde.client_id = (*id).to_owned();
            b.sdes.push(sde);
        }
        let (tx, rx) = oneshot::channel();
        (Write::Ingest(Box::new(prepare(b).unwrap()), tx), rx)
    }

    #[test]
    fn a_full_database_refuses_the_whole_group_and_takes_writes_again_when_room_returns() {
        let dir = tempfile::tempdir().unwrap();
        let (mut w, account) = writer(dir.path());
        let (first, mut r) = ingest_write(&account, &["f0"], "s");
        w.run_group(vec![first]);
        assert_eq!(r.try_recv().unwrap().0.unwrap().accepted, 1);
        // SQLite answers SQLITE_FULL, as on a full disk, once the file may not grow.
        let pages: i64 = w
            .conn
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .unwrap();
        w.conn
            .execute_batch(&format!("PRAGMA max_page_count = {pages}"))
            .unwrap();
        let many: Vec<String> = (0..400).map(|i| format!("full-{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let (a, mut ra) = ingest_write(&account, &many, "s");
        let (b, mut rb) = ingest_write(&account, &["b0"], "s2");
        w.run_group(vec![a, b]);
        for answer in [ra.try_recv().unwrap().0, rb.try_recv().unwrap().0] {
            assert!(
                matches!(answer, Err(StoreError::Unavailable(_))),
                "{answer:?}"
            );
        }

        w.conn
            .execute_batch("PRAGMA max_page_count = 1073741823")
            .unwrap();
        let (again, mut r) = ingest_write(&account, &many, "s");
        w.run_group(vec![again]);
        assert_eq!(r.try_recv().unwrap().0.unwrap().accepted, 400);
        let stored: i64 = w
            .conn
            .query_row("SELECT count(*) FROM sdes", [], |r| r.get(0))
            .unwrap();
        assert_eq!(stored, 401);
    }

    #[test]
    fn a_database_error_fails_only_its_own_write_and_leaves_the_caches_right() {
        let dir = tempfile::tempdir().unwrap();
        let (mut w, account) = writer(dir.path());
        w.conn
            .execute_batch(
                "CREATE TRIGGER boom BEFORE INSERT ON sdes WHEN NEW.client_id = 'boom'
                 BEGIN SELECT RAISE(ABORT, 'boom'); END",
            )
            .unwrap();
        let (a, mut ra) = ingest_write(&account, &["a1", "a2"], "s");
        let (bad, mut rbad) = ingest_write(&account, &["b1", "boom"], "s");
        let (c, mut rc) = ingest_write(&account, &["c1"], "s");
        w.run_group(vec![a, bad, c]);
        let a = ra.try_recv().unwrap().0.unwrap();
        assert_eq!((a.accepted, a.new_session), (2, true));
        assert!(matches!(
            rbad.try_recv().unwrap().0,
            Err(StoreError::Backend(_))
        ));
        let c = rc.try_recv().unwrap().0.unwrap();
        assert_eq!((c.accepted, c.new_session), (1, false));

        // The failed write left nothing behind, and the chain of appended reports holds
        // exactly the accepted ones.
        let (d, mut rd) = ingest_write(&account, &["d1", "b1"], "s");
        w.run_group(vec![d]);
        assert_eq!(rd.try_recv().unwrap().0.unwrap().accepted, 2);
        let stored: i64 = w
            .conn
            .query_row("SELECT count(*) FROM sdes", [], |r| r.get(0))
            .unwrap();
        assert_eq!(stored, 5);
        let head: i64 = w
            .conn
            .query_row("SELECT sde_head FROM visit_heads", [], |r| r.get(0))
            .unwrap();
        let mut chain = Vec::new();
        let mut next = Some(head);
        while let Some(id) = next {
            let (client, prev): (String, Option<i64>) = w
                .conn
                .query_row(
                    "SELECT client_id, prev_in_visit FROM sdes WHERE id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .unwrap();
            chain.push(client);
            next = prev;
        }
        assert_eq!(chain, ["b1", "d1", "c1", "a2", "a1"]);
    }
}

/// The writer's own cost per item, without the fsync and without other threads:
/// `cargo test --release -p engage-store --lib writer_cpu -- --ignored --nocapture`
/// (`MICRO_MODE` = `mixed`, `events` or `sdes`; `MICRO_SYNC` = `OFF` or `FULL`;
/// `MICRO_SECURE_DELETE` = `ON`, the writer's setting, or `OFF`). Linux only:
/// it reads the thread's CPU time from /proc.
#[cfg(test)]
mod micro {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::sample;
    use crate::sqlite::batch::prepare;
    use engage_model::SdeType;

    fn cpu_ns() -> u64 {
        std::fs::read_to_string("/proc/thread-self/schedstat")
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    }

    #[test]
    #[ignore = "a measurement"]
    fn writer_cpu_per_item() {
        let dir = tempfile::tempdir_in(".").unwrap();
        let path = dir.path().join("m.db");
        let mut conn = Connection::open(&path).unwrap();
        schema::configure_writer(&conn).unwrap();
        schema::migrate(&mut conn).unwrap();
        let sync = std::env::var("MICRO_SYNC").unwrap_or("OFF".into());
        conn.execute_batch(&format!("PRAGMA synchronous={sync}"))
            .unwrap();
        // `ON` is what the writer runs with (erasure, see `erasure`); `OFF` to compare.
        let secure = std::env::var("MICRO_SECURE_DELETE").unwrap_or("ON".into());
        conn.execute_batch(&format!("PRAGMA secure_delete={secure}"))
            .unwrap();
        let mut w = Writer::new(conn, Arc::new(AtomicU64::new(0)));
        let (tx, _rx) = oneshot::channel();
        let new = NewAccount {
            name: "m".into(),
            api_key_hash: "k".into(),
        };
        w.run_group(vec![Write::CreateAccount(new, tx)]);
        let account: String = w
            .conn
            .query_row("SELECT id FROM accounts", [], |r| r.get(0))
            .unwrap();
        let mode = std::env::var("MICRO_MODE").unwrap_or("mixed".into());
        let events: Vec<_> = ["START", "OFFER_DISPLAY", "OFFER_IMPRESSION", "OFFER_CLICK"]
            .iter()
            .map(|n| sample::event(n, "bench-context", "bench-page"))
            .collect();
        let sdes: Vec<_> = SdeType::ALL.into_iter().map(sample::sde).collect();
        let make = |n: usize| {
            let session = (n * 31) % 2000;
            let mut b = crate::IngestBatch {
                account_id: account.clone(),
                received_ms: crate::ids::now_ms(),
                visit: Some(sample::visit_context(
                    &format!("v-{session}"),
                    &format!("s-{session}"),
                    &format!("p-{session}-{}", n / 64),
                )),
                events: vec![],
                sdes: vec![],
                rejected: vec![],
            };
            for i in 0..20 {
                let k = n * 20 + i;
                let sde_turn = match mode.as_str() {
                    "events" => false,
                    "sdes" => true,
                    _ => i % 2 == 1,
                };
                if sde_turn {
                    b.sdes
                        .push(sample::new_sde(sdes[k % sdes.len()].clone(), Some(1)));
                } else {
                    b.events
                        .push(sample::new_event(events[k % events.len()].clone(), Some(1)));
                }
            }
            Box::new(prepare(b).unwrap())
        };
        let groups = 600;
        let prepared: Vec<Vec<Box<PreparedBatch>>> = (0..groups)
            .map(|g| (0..32).map(|i| make(g * 32 + i)).collect())
            .collect();
        let started = Instant::now();
        let cpu0 = cpu_ns();
        let mut answers = Vec::new();
        for group in prepared {
            let writes = group
                .into_iter()
                .map(|b| {
                    let (tx, rx) = oneshot::channel();
                    answers.push(rx);
                    Write::Ingest(b, tx)
                })
                .collect();
            w.run_group(writes);
        }
        let cpu = cpu_ns() - cpu0;
        let elapsed = started.elapsed();
        let items = (groups * 32 * 20) as f64;
        println!(
            "mode {mode} sync {sync}: {:.2} us cpu/item, {:.0} items/s on one thread",
            cpu as f64 / 1000.0 / items,
            items / elapsed.as_secs_f64()
        );
        drop(answers);
        let wal = std::fs::metadata(path.with_extension("db-wal"))
            .map(|m| m.len())
            .unwrap_or(0);
        println!("log written: {:.0} bytes/item", wal as f64 / items);
        for table in [
            "event_runs",
            "event_ids",
            "sdes",
            "visits",
            "visit_heads",
            "pages",
        ] {
            let pages: i64 = w
                .conn
                .query_row(
                    "SELECT count(*) FROM dbstat WHERE name = ?1",
                    [table],
                    |r| r.get(0),
                )
                .unwrap_or(-1);
            println!("{table}: {pages} pages");
        }
    }
}
