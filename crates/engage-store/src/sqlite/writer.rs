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
//! writer's time.)
//!
//! Caches (sessions, pages, accounts) hold committed state or state written in the
//! current group; a rolled-back group clears them. A write changes a cached entry only
//! after all its statements succeeded.
//!
//! Statement journals are avoided on purpose: inserts are `INSERT OR IGNORE` (a NOT NULL
//! column with the default ABORT makes SQLite journal every multi-row insert; our NOT
//! NULL columns are bound from non-optional values, so IGNORE only ever skips a
//! duplicate client id).

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::oneshot;

use super::batch::{PreparedBatch, PreparedVisit};
use super::interactions::{self, InteractionSlot};
use super::{history, schema, sql_err, SqlU64};
use crate::{Account, IngestOutcome, NewAccount, StoreError};

/// At most this many commands share a transaction.
const MAX_GROUP_COMMANDS: usize = 128;
/// A group stops taking commands once it holds this many rows.
const MAX_GROUP_ROWS: usize = 20_000;
/// The longest a group waits for the callers of the previous one to come back.
const GATHER_WAIT: Duration = Duration::from_micros(500);
/// Sessions and pages kept in memory, per generation (see [`GenCache`]).
const CACHE_GENERATION: usize = 20_000;
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
}

/// What a write produced, held until its group commits.
enum Done {
    Ingest(IngestOutcome),
    Account(Account),
    Replayed,
}

/// Why a write did not happen.
enum Failure {
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
        }
    }
}

/// A session as the writer knows it: the visit row and its attribute state.
struct SessionSlot {
    visit_id: i64,
    last_seen_ms: i64,
    sde_head: Option<i64>,
    /// Changed in the current group and not yet written back.
    dirty: bool,
}

/// A map that forgets what was not used for two generations: entries go into `young`;
/// when `young` is full it becomes `old` and the previous `old` is dropped; a hit in `old`
/// moves the entry back to `young`. An LRU's effect without its bookkeeping.
struct GenCache<V> {
    young: HashMap<String, V>,
    old: HashMap<String, V>,
}

impl<V> GenCache<V> {
    fn new() -> Self {
        GenCache {
            young: HashMap::new(),
            old: HashMap::new(),
        }
    }

    fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        if !self.young.contains_key(key) {
            let (key, value) = self.old.remove_entry(key)?;
            self.young.insert(key, value);
        }
        self.young.get_mut(key)
    }

    fn insert(&mut self, key: String, value: V) {
        self.young.insert(key, value);
    }

    /// Only between groups: every entry must be clean.
    fn age(&mut self) {
        if self.young.len() >= CACHE_GENERATION {
            self.old = std::mem::take(&mut self.young);
        }
    }

    fn clear(&mut self) {
        self.young.clear();
        self.old.clear();
    }
}

fn key(account: &str, id: &str) -> String {
    let mut key = String::with_capacity(account.len() + id.len() + 1);
    key.push_str(account);
    key.push('\u{0}');
    key.push_str(id);
    key
}

struct WriterState {
    accounts: HashSet<String>,
    sessions: GenCache<SessionSlot>,
    pages: GenCache<i64>,
    /// Interaction rows by account and context id.
    interactions: GenCache<InteractionSlot>,
    /// Session keys changed in the current group, in order of first change.
    dirty_sessions: Vec<String>,
    /// Accounts created in the current group, known once it commits.
    new_accounts: Vec<String>,
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
                dirty_sessions: Vec::new(),
                new_accounts: Vec::new(),
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
        let started = std::time::Instant::now();
        match self.try_group(&group) {
            Ok(results) => {
                for (w, r) in group.into_iter().zip(results) {
                    w.answer(r);
                }
            }
            Err(e) => {
                self.forget_group();
                if group.len() == 1 {
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
        let new_accounts = std::mem::take(&mut self.state.new_accounts);
        self.state.accounts.extend(new_accounts);
        self.state.sessions.age();
        self.state.pages.age();
        self.state.interactions.age();
        Ok(results)
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

fn ensure_account(
    conn: &Connection,
    state: &mut WriterState,
    account: &str,
) -> Result<(), Failure> {
    if state.accounts.contains(account) {
        return Ok(());
    }
    if conn
        .prepare_cached("SELECT 1 FROM accounts WHERE id = ?1")?
        .exists([account])?
    {
        state.accounts.insert(account.to_owned());
        Ok(())
    } else {
        Err(Failure::Refused(StoreError::UnknownAccount(
            account.to_owned(),
        )))
    }
}

/// What a batch changes in its session once all its rows are written.
struct SessionChange {
    key: String,
    /// Set when the batch created the session.
    created: Option<SessionSlot>,
    sde_head: Option<i64>,
}

/// Writes one batch. Nothing is written before the account is known; the caches change
/// only after every statement succeeded.
fn ingest(
    conn: &Connection,
    state: &mut WriterState,
    batch: &PreparedBatch,
) -> Result<IngestOutcome, Failure> {
    ensure_account(conn, state, &batch.account)?;
    let mut outcome = IngestOutcome::default();
    let account = batch.account.as_str();
    let received_ms = batch.received_ms;

    // The session and page, read or created; nothing is cached before the batch succeeds.
    let mut change = None;
    let mut new_page = None;
    let (visit_id, page_row) = match &batch.visit {
        None => (None, None),
        Some(visit) => {
            let session_key = key(account, &visit.session_id);
            let (visit_id, head, created) =
                match session(conn, state, account, &session_key, visit)? {
                    Some((visit_id, head)) => (visit_id, head, None),
                    None => {
                        let slot = create_session(conn, account, received_ms, visit)?;
                        outcome.new_session = true;
                        (slot.visit_id, None, Some(slot))
                    }
                };
            let page_key = key(account, &visit.page_id);
            let page_row = match state.pages.get_mut(&page_key) {
                Some(row) => *row,
                None => {
                    let row = page(conn, account, received_ms, visit_id, visit)?;
                    new_page = Some((page_key, row));
                    row
                }
            };
            change = Some(SessionChange {
                key: session_key,
                created,
                sde_head: head,
            });
            (Some(visit_id), Some(page_row))
        }
    };

    // Each context's interaction row first: the events point at it.
    let recorded = if batch.events.is_empty() {
        None
    } else {
        let interactions = &mut state.interactions;
        Some(interactions::record(
            conn,
            account,
            received_ms,
            (visit_id, page_row),
            &batch.events,
            |k| interactions.get_mut(k).copied(),
            |context_id| key(account, context_id),
        )?)
    };
    let interaction_rows = recorded.as_ref().map_or(&[][..], |r| r.rows.as_slice());

    // Events need no per-row answer (nothing is chained from them, and the interaction
    // fold tolerates duplicates), so they go in as multi-row INSERTs: one statement
    // execution per chunk instead of per row.
    let mut rest = batch.events.as_slice();
    let mut rows_rest = interaction_rows;
    while !rest.is_empty() {
        let chunk = EVENT_CHUNKS
            .iter()
            .copied()
            .find(|c| *c <= rest.len())
            .unwrap_or(1);
        let (now, later) = rest.split_at(chunk);
        rest = later;
        let (now_rows, later_rows) = rows_rest.split_at(chunk);
        rows_rest = later_rows;
        let mut insert = conn.prepare_cached(events_insert_sql(chunk))?;
        let mut at = 0;
        let mut bind = |value: &dyn rusqlite::ToSql| -> rusqlite::Result<()> {
            at += 1;
            insert_bind(&mut insert, at, value)
        };
        for (e, interaction_row) in now.iter().zip(now_rows) {
            let d = &e.event.data;
            bind(&account)?;
            bind(&e.client_id)?;
            bind(&received_ms)?;
            bind(&e.client_time_ms)?;
            bind(&visit_id)?;
            bind(&page_row)?;
            bind(&e.event.name.as_str())?;
            // The interaction row holds the context id (see `schema`).
            bind(&"")?;
            bind(&e.page_context)?;
            bind(&SqlU64(d.conf_key.campaign_id))?;
            bind(&SqlU64(d.conf_key.engagement_id))?;
            bind(&SqlU64(d.conf_key.engagement_revision))?;
            bind(&d.engagement_type.map(|t| t.code()))?;
            bind(&d.zone_id.map(SqlU64))?;
            bind(&d.state.map(|s| s.code()))?;
            bind(&d.tgl_name)?;
            bind(&d.done)?;
            bind(&d.engagement_name)?;
            bind(interaction_row)?;
        }
        let written = insert.raw_execute()?;
        outcome.accepted += written;
        outcome.duplicates += chunk - written;
    }

    if !batch.sdes.is_empty() {
        let mut insert = conn.prepare_cached(
            "INSERT OR IGNORE INTO sdes (account, client_id, server_ms, client_ms, visit_id,
                 page_row, sde_type, prev_in_visit, history)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        let chained = change.is_some();
        let mut text = history::SdeText::default();
        let mut head = change.as_ref().and_then(|c| c.sde_head);
        for s in &batch.sdes {
            insert.raw_bind_parameter(1, account)?;
            insert.raw_bind_parameter(2, &s.client_id)?;
            insert.raw_bind_parameter(3, received_ms)?;
            insert.raw_bind_parameter(4, s.client_time_ms)?;
            insert.raw_bind_parameter(5, visit_id)?;
            insert.raw_bind_parameter(6, page_row)?;
            insert.raw_bind_parameter(7, s.sde.sde_type().history_key())?;
            insert.raw_bind_parameter(8, if chained { head } else { None })?;
            insert.raw_bind_parameter(9, &s.history)?;
            let written = insert.raw_execute()?;
            count(&mut outcome, written);
            if written > 0 {
                let row = conn.last_insert_rowid();
                text.add(row, s.sde.sde_type(), &s.search_text);
                if chained {
                    head = Some(row);
                }
            }
        }
        text.write(conn)?;
        if let Some(c) = &mut change {
            c.sde_head = head;
        }
    }

    if !batch.rejected.is_empty() {
        let mut insert = conn.prepare_cached(
            "INSERT INTO quarantine (account, received_ms, kind, idx, client_id, raw, context, errors)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        for q in &batch.rejected {
            insert.execute(params![
                account,
                received_ms,
                q.kind.as_str(),
                q.index,
                q.client_id,
                q.raw,
                q.context,
                q.errors,
            ])?;
            outcome.quarantined += 1;
        }
    }

    // Every statement succeeded: now the caches may move.
    if let Some((page_key, row)) = new_page {
        state.pages.insert(page_key, row);
    }
    for (k, slot) in recorded.into_iter().flat_map(|r| r.learned) {
        state.interactions.insert(k, slot);
    }
    if let Some(change) = change {
        apply_session_change(state, change, received_ms);
    }
    Ok(outcome)
}

/// Rows per multi-row events INSERT, largest first; a batch is cut into these.
const EVENT_CHUNKS: [usize; 6] = [32, 16, 8, 4, 2, 1];
const EVENT_COLUMNS: usize = 19;

fn insert_bind(
    stmt: &mut rusqlite::CachedStatement<'_>,
    at: usize,
    value: &dyn rusqlite::ToSql,
) -> rusqlite::Result<()> {
    stmt.raw_bind_parameter(at, value)
}

/// `INSERT OR IGNORE INTO events ... VALUES (...), (...)` for `rows` rows,
/// built once per chunk size.
fn events_insert_sql(rows: usize) -> &'static str {
    static SQL: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let all = SQL.get_or_init(|| {
        EVENT_CHUNKS
            .iter()
            .map(|&n| {
                let mut sql = String::from(
                    "INSERT OR IGNORE INTO events (account, client_id, server_ms, client_ms, visit_id, page_row, \
                     event_name, context_id, page_context_id, campaign_id, engagement_id, \
                     engagement_revision, engagement_type, zone_id, state, tgl_name, done, \
                     engagement_name, interaction_row) VALUES ",
                );
                for row in 0..n {
                    if row > 0 {
                        sql.push_str(", ");
                    }
                    sql.push('(');
                    for col in 0..EVENT_COLUMNS {
                        if col > 0 {
                            sql.push_str(", ");
                        }
                        sql.push('?');
                    }
                    sql.push(')');
                }
                sql
            })
            .collect()
    });
    let i = EVENT_CHUNKS
        .iter()
        .position(|c| *c == rows)
        .unwrap_or(EVENT_CHUNKS.len() - 1);
    all[i].as_str()
}

fn count(outcome: &mut IngestOutcome, written: usize) {
    if written > 0 {
        outcome.accepted += 1;
    } else {
        outcome.duplicates += 1;
    }
}

fn apply_session_change(state: &mut WriterState, change: SessionChange, received_ms: i64) {
    let SessionChange {
        key,
        created,
        sde_head,
    } = change;
    if let Some(slot) = created {
        state.sessions.insert(key.clone(), slot);
    }
    let Some(slot) = state.sessions.get_mut(&key) else {
        // `session` cached the slot or `create_session` made it above.
        return;
    };
    let mut changed = false;
    if received_ms > slot.last_seen_ms {
        slot.last_seen_ms = received_ms;
        changed = true;
    }
    if sde_head != slot.sde_head {
        slot.sde_head = sde_head;
        changed = true;
    }
    if changed && !slot.dirty {
        slot.dirty = true;
        state.dirty_sessions.push(key);
    }
}

/// The session's visit id and chain head, from the cache or the database (then cached:
/// what the database holds is committed, so caching it early is safe).
fn session(
    conn: &Connection,
    state: &mut WriterState,
    account: &str,
    session_key: &str,
    visit: &PreparedVisit,
) -> rusqlite::Result<Option<(i64, Option<i64>)>> {
    if let Some(slot) = state.sessions.get_mut(session_key) {
        return Ok(Some((slot.visit_id, slot.sde_head)));
    }
    let row = conn
        .prepare_cached(
            "SELECT v.id, h.last_seen_ms, h.sde_head
             FROM visits v JOIN visit_heads h ON h.visit_id = v.id
             WHERE v.account = ?1 AND v.session_id = ?2",
        )?
        .query_row(params![account, visit.session_id], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Option<i64>>(2)?,
            ))
        })
        .optional()?;
    let Some((visit_id, last_seen_ms, sde_head)) = row else {
        return Ok(None);
    };
    state.sessions.insert(
        session_key.to_owned(),
        SessionSlot {
            visit_id,
            last_seen_ms,
            sde_head,
            dirty: false,
        },
    );
    Ok(Some((visit_id, sde_head)))
}

fn create_session(
    conn: &Connection,
    account: &str,
    received_ms: i64,
    visit: &PreparedVisit,
) -> rusqlite::Result<SessionSlot> {
    conn.prepare_cached(
        "INSERT INTO visits (account, visitor_id, session_id, first_seen_ms, user_agent, referrer,
             client_properties)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        account,
        visit.visitor_id,
        visit.session_id,
        received_ms,
        visit.user_agent,
        visit.referrer,
        visit.client,
    ])?;
    let visit_id = conn.last_insert_rowid();
    conn.prepare_cached(
        "INSERT INTO visit_heads (visit_id, last_seen_ms, sde_head) VALUES (?1, ?2, NULL)",
    )?
    .execute(params![visit_id, received_ms])?;
    Ok(SessionSlot {
        visit_id,
        last_seen_ms: received_ms,
        sde_head: None,
        dirty: false,
    })
}

/// The page view's row, created when new.
fn page(
    conn: &Connection,
    account: &str,
    received_ms: i64,
    visit_id: i64,
    visit: &PreparedVisit,
) -> rusqlite::Result<i64> {
    // A page missing from the cache is usually new: try the insert first.
    let inserted = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO pages (account, page_id, visit_id, url, referrer, title,
                 sections, user_agent, received_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?
        .execute(params![
            account,
            visit.page_id,
            visit_id,
            visit.url,
            visit.referrer,
            visit.title,
            visit.sections,
            visit.user_agent,
            received_ms,
        ])?;
    if inserted == 1 {
        return Ok(conn.last_insert_rowid());
    }
    conn.prepare_cached("SELECT id FROM pages WHERE account = ?1 AND page_id = ?2")?
        .query_row(params![account, visit.page_id], |r| r.get::<_, i64>(0))
}

fn create_account(
    conn: &Connection,
    state: &mut WriterState,
    new: &NewAccount,
) -> Result<Account, Failure> {
    let taken = conn
        .prepare_cached("SELECT 1 FROM accounts WHERE api_key_hash = ?1")
        .and_then(|mut s| s.exists([&new.api_key_hash]))?;
    if taken {
        return Err(Failure::Refused(StoreError::Conflict(
            "an account with this API key exists".into(),
        )));
    }
    let created_ms = crate::ids::now_ms();
    let mut insert = conn.prepare_cached(
        "INSERT INTO accounts (id, name, api_key_hash, created_ms, allowed_origins)
             VALUES (?1, ?2, ?3, ?4, '[]') ON CONFLICT (id) DO NOTHING",
    )?;
    for _ in 0..64 {
        let id = crate::ids::account_id().map_err(|e| Failure::Refused(e.into()))?;
        let written = insert.execute(params![id, new.name, new.api_key_hash, created_ms])?;
        if written == 1 {
            state.new_accounts.push(id.clone());
            return Ok(Account {
                id,
                name: new.name.clone(),
                api_key_hash: new.api_key_hash.clone(),
                created_ms,
                allowed_origins: Vec::new(),
            });
        }
    }
    Err(Failure::Refused(StoreError::Backend(
        "no free account id after 64 tries".into(),
    )))
}

fn mark_replayed(
    conn: &Connection,
    account_id: &str,
    ids: &[i64],
    replayed_ms: i64,
) -> rusqlite::Result<()> {
    let mut update = conn
        .prepare_cached(
            "UPDATE quarantine SET replayed_ms = ?3 WHERE account = ?1 AND id = ?2 AND replayed_ms IS NULL",
        )
        ?;
    for id in ids {
        update.execute(params![account_id, id, replayed_ms])?;
    }
    Ok(())
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
/// (`MICRO_MODE` = `mixed`, `events` or `sdes`; `MICRO_SYNC` = `OFF` or `FULL`). Linux only:
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
        for table in ["events", "sdes", "visits", "visit_heads", "pages"] {
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
