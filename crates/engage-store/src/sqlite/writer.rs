//! The writer thread: the only connection that writes, and group commit.
//!
//! Callers send a [`Command`] with a oneshot for the answer. The thread takes the first
//! command it is sent and everything queued behind it (up to [`MAX_GROUP_COMMANDS`]
//! commands or [`MAX_GROUP_ROWS`] rows), applies them in arrival order inside ONE
//! transaction, commits (WAL + `synchronous=FULL`: the log is synced before COMMIT
//! returns) and only then answers. Each command runs inside its own savepoint, so a
//! command that fails (an unknown account, a taken key) is rolled back alone; a failed
//! COMMIT fails every command of the group.
//!
//! Caches (sessions, pages, accounts) hold committed state or state written in the
//! current group; a failed group clears them. A command changes a cached entry only
//! after all its statements succeeded, so rolling back its savepoint never leaves the
//! cache ahead of the database.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use engage_model::{Json, VisitSdes};
use rusqlite::{params, Connection};
use tokio::sync::oneshot;

use super::batch::{PreparedBatch, PreparedVisit};
use super::{schema, sql_err, SqlU64};
use crate::{Account, IngestOutcome, NewAccount, StoreError};

/// At most this many commands share a transaction.
const MAX_GROUP_COMMANDS: usize = 128;
/// A group stops taking commands once it holds this many rows.
const MAX_GROUP_ROWS: usize = 20_000;
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
    Ingest(Box<PreparedBatch>, Reply<IngestOutcome>),
    CreateAccount(NewAccount, Reply<Account>),
    MarkReplayed {
        account_id: String,
        ids: Vec<i64>,
        replayed_ms: i64,
        reply: Reply<()>,
    },
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
    /// The answer to a write that is not attempted.
    fn answer_err(self, err: impl Fn() -> StoreError) -> Pending {
        match self {
            Write::Ingest(_, reply) => Pending::Ingest(reply, Err(err())),
            Write::CreateAccount(_, reply) => Pending::Account(reply, Err(err())),
            Write::MarkReplayed { reply, .. } => Pending::Replayed(reply, Err(err())),
        }
    }
}

/// An answer held until the group's COMMIT.
enum Pending {
    Ingest(Reply<IngestOutcome>, Result<IngestOutcome, StoreError>),
    Account(Reply<Account>, Result<Account, StoreError>),
    Replayed(Reply<()>, Result<(), StoreError>),
}

impl Pending {
    fn fail(self, message: &str) -> Pending {
        let err = || StoreError::Backend(message.to_owned());
        match self {
            Pending::Ingest(r, res) => Pending::Ingest(r, res.and_then(|_| Err(err()))),
            Pending::Account(r, res) => Pending::Account(r, res.and_then(|_| Err(err()))),
            Pending::Replayed(r, res) => Pending::Replayed(r, res.and_then(|_| Err(err()))),
        }
    }

    fn send(self) {
        // See `Command::refuse`: a caller that went away needs no answer.
        match self {
            Pending::Ingest(r, res) => drop(r.send(res)),
            Pending::Account(r, res) => drop(r.send(res)),
            Pending::Replayed(r, res) => drop(r.send(res)),
        }
    }
}

/// A session as the writer knows it: the visit row and its attribute state.
struct SessionSlot {
    visit_id: i64,
    last_seen_ms: i64,
    /// The merged and replaced types only (`visits.sdes`).
    merged: VisitSdes,
    append_head: Option<i64>,
    /// Changed in the current group and not yet written back.
    dirty: bool,
    merged_dirty: bool,
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
    /// Session keys changed in the current group, in order of first change.
    dirty_sessions: Vec<String>,
    /// Accounts created in the current group, known once it commits.
    new_accounts: Vec<String>,
}

/// The writer's end: where to send commands, and the thread to wait for.
pub(crate) struct WriterHandle {
    pub commands: Sender<Command>,
}

/// Starts the writer (and its checkpointer) on `conn`, already configured and migrated.
pub(crate) fn spawn(conn: Connection, path: &Path) -> Result<WriterHandle, StoreError> {
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
    let writer = Writer {
        conn,
        state: WriterState {
            accounts: HashSet::new(),
            sessions: GenCache::new(),
            pages: GenCache::new(),
            dirty_sessions: Vec::new(),
            new_accounts: Vec::new(),
        },
        commits,
        checkpointer: Some((stop_checkpointer, checkpointer)),
    };
    thread::Builder::new()
        .name("engage-sqlite-writer".into())
        .spawn(move || writer.run(&rx))
        .map_err(|e| StoreError::Backend(format!("starting the writer: {e}")))?;
    Ok(WriterHandle { commands })
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
    fn run(mut self, rx: &Receiver<Command>) {
        let mut closers = Vec::new();
        while let Ok(first) = rx.recv() {
            let mut rows = first.rows();
            let mut group = vec![first];
            while group.len() < MAX_GROUP_COMMANDS && rows < MAX_GROUP_ROWS {
                match rx.try_recv() {
                    Ok(cmd) => {
                        rows += cmd.rows();
                        group.push(cmd);
                    }
                    Err(_) => break,
                }
            }
            // Writes sent before a close are committed; the ones after it are refused.
            let mut writes = Vec::with_capacity(group.len());
            let mut closing = false;
            for cmd in group {
                match cmd {
                    Command::Close(reply) => {
                        closers.push(reply);
                        closing = true;
                    }
                    Command::Write(w) if closing => w.answer_err(|| StoreError::Closed).send(),
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
                Command::Write(w) => w.answer_err(|| StoreError::Closed).send(),
            }
        }
        self.shut_down();
        for reply in closers {
            let _ = reply.send(());
        }
    }

    fn shut_down(mut self) {
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

    fn run_group(&mut self, group: Vec<Write>) {
        let started = std::time::Instant::now();
        let commands = group.len();
        if let Err(e) = self.conn.execute_batch("BEGIN IMMEDIATE") {
            tracing::error!(error = %e, "sqlite group could not begin");
            for w in group {
                w.answer_err(|| StoreError::Backend(format!("starting a transaction: {e}")))
                    .send();
            }
            return;
        }
        let mut pending = Vec::with_capacity(group.len());
        for w in group {
            pending.push(self.apply_in_savepoint(w));
        }
        let committed = self
            .write_back_sessions()
            .and_then(|()| self.conn.execute_batch("COMMIT"));
        match committed {
            Ok(()) => {
                self.commits.fetch_add(1, Ordering::Relaxed);
                let new_accounts = std::mem::take(&mut self.state.new_accounts);
                self.state.accounts.extend(new_accounts);
                self.state.sessions.age();
                self.state.pages.age();
                for p in pending {
                    p.send();
                }
            }
            Err(e) => {
                tracing::error!(error = %e, commands, "sqlite group commit failed; the group is rolled back");
                if let Err(e) = self.conn.execute_batch("ROLLBACK") {
                    tracing::error!(error = %e, "rolling back the failed group");
                }
                self.state.sessions.clear();
                self.state.pages.clear();
                self.state.dirty_sessions.clear();
                self.state.new_accounts.clear();
                let message = format!("commit failed: {e}");
                for p in pending {
                    p.fail(&message).send();
                }
            }
        }
        tracing::trace!(
            commands,
            elapsed_us = started.elapsed().as_micros() as u64,
            "sqlite group committed"
        );
    }

    fn apply_in_savepoint(&mut self, write: Write) -> Pending {
        if let Err(e) = self.conn.execute_batch("SAVEPOINT command") {
            return write.answer_err(|| StoreError::Backend(format!("savepoint: {e}")));
        }
        let pending = match write {
            Write::Ingest(batch, reply) => {
                Pending::Ingest(reply, ingest(&self.conn, &mut self.state, *batch))
            }
            Write::CreateAccount(new, reply) => {
                Pending::Account(reply, create_account(&self.conn, &mut self.state, new))
            }
            Write::MarkReplayed {
                account_id,
                ids,
                replayed_ms,
                reply,
            } => Pending::Replayed(
                reply,
                mark_replayed(&self.conn, &account_id, &ids, replayed_ms),
            ),
        };
        let failed = match &pending {
            Pending::Ingest(_, r) => r.is_err(),
            Pending::Account(_, r) => r.is_err(),
            Pending::Replayed(_, r) => r.is_err(),
        };
        let end = if failed {
            self.conn
                .execute_batch("ROLLBACK TO command; RELEASE command")
        } else {
            self.conn.execute_batch("RELEASE command")
        };
        match end {
            Ok(()) => pending,
            // The group's COMMIT will fail too or has nothing wrong in it; either way this
            // command's answer cannot be trusted.
            Err(e) => pending.fail(&format!("ending a savepoint: {e}")),
        }
    }

    /// Writes every session changed in this group once: last seen, the chain head and,
    /// when it changed, the merged attribute state.
    fn write_back_sessions(&mut self) -> rusqlite::Result<()> {
        let dirty = std::mem::take(&mut self.state.dirty_sessions);
        if dirty.is_empty() {
            return Ok(());
        }
        let mut touch = self.conn.prepare_cached(
            "UPDATE visits SET last_seen_ms = ?2, append_head = ?3 WHERE id = ?1",
        )?;
        let mut rewrite = self.conn.prepare_cached(
            "UPDATE visits SET last_seen_ms = ?2, append_head = ?3, sdes = ?4 WHERE id = ?1",
        )?;
        for k in &dirty {
            let Some(slot) = self.state.sessions.get_mut(k) else {
                continue;
            };
            if slot.merged_dirty {
                let state = serde_json::to_string(&slot.merged)
                    .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
                rewrite.execute(params![
                    slot.visit_id,
                    slot.last_seen_ms,
                    slot.append_head,
                    state
                ])?;
            } else {
                touch.execute(params![slot.visit_id, slot.last_seen_ms, slot.append_head])?;
            }
            slot.dirty = false;
            slot.merged_dirty = false;
        }
        Ok(())
    }
}

fn ensure_account(
    conn: &Connection,
    state: &mut WriterState,
    account: &str,
) -> Result<(), StoreError> {
    if state.accounts.contains(account) {
        return Ok(());
    }
    let known = conn
        .prepare_cached("SELECT 1 FROM accounts WHERE id = ?1")
        .and_then(|mut s| s.exists([account]))
        .map_err(sql_err)?;
    if known {
        state.accounts.insert(account.to_owned());
        Ok(())
    } else {
        Err(StoreError::UnknownAccount(account.to_owned()))
    }
}

/// What a batch changes in its session once all its rows are written.
struct SessionChange {
    key: String,
    /// Set when the batch created the session.
    created: Option<SessionSlot>,
    append_head: Option<i64>,
    merged: Vec<engage_model::Sde>,
}

fn ingest(
    conn: &Connection,
    state: &mut WriterState,
    batch: PreparedBatch,
) -> Result<IngestOutcome, StoreError> {
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
                    let row = page(conn, account, received_ms, visit_id, visit).map_err(sql_err)?;
                    new_page = Some((page_key, row));
                    row
                }
            };
            change = Some(SessionChange {
                key: session_key,
                created,
                append_head: head,
                merged: Vec::new(),
            });
            (Some(visit_id), Some(page_row))
        }
    };

    if !batch.events.is_empty() {
        let mut insert = conn.prepare_cached(
            "INSERT INTO events (account, client_id, server_ms, client_ms, visit_id, page_row,
                 event_name, context_id, page_context_id, campaign_id, engagement_id,
                 engagement_revision, engagement_type, zone_id, state, tgl_name, done,
                 engagement_name)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)
             ON CONFLICT (account, client_id) DO NOTHING",
        ).map_err(sql_err)?;
        for e in &batch.events {
            let d = &e.event.data;
            let written = insert
                .execute(params![
                    account,
                    e.client_id,
                    received_ms,
                    e.client_time_ms,
                    visit_id,
                    page_row,
                    e.event.name.as_str(),
                    d.context_id,
                    d.page_context_id,
                    SqlU64(d.conf_key.campaign_id),
                    SqlU64(d.conf_key.engagement_id),
                    SqlU64(d.conf_key.engagement_revision),
                    d.engagement_type.map(|t| t.code()),
                    d.zone_id.map(SqlU64),
                    d.state.map(|s| s.code()),
                    d.tgl_name,
                    d.done,
                    d.engagement_name,
                ])
                .map_err(sql_err)?;
            count(&mut outcome, written);
        }
    }

    let mut accepted_sdes = vec![false; batch.sdes.len()];
    if !batch.sdes.is_empty() {
        let mut insert = conn
            .prepare_cached(
                "INSERT INTO sdes (account, client_id, server_ms, client_ms, visit_id, page_row,
                 sde_type, prev_in_visit, history)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (account, client_id) DO NOTHING",
            )
            .map_err(sql_err)?;
        let mut head = change.as_ref().and_then(|c| c.append_head);
        for (i, s) in batch.sdes.iter().enumerate() {
            let chained = s.appended && change.is_some();
            let written = insert
                .execute(params![
                    account,
                    s.client_id,
                    received_ms,
                    s.client_time_ms,
                    visit_id,
                    page_row,
                    s.sde.sde_type().history_key(),
                    if chained { head } else { None },
                    s.history,
                ])
                .map_err(sql_err)?;
            count(&mut outcome, written);
            if written > 0 {
                if chained {
                    head = Some(conn.last_insert_rowid());
                }
                accepted_sdes[i] = true;
            }
        }
        if let Some(c) = &mut change {
            c.append_head = head;
        }
    }

    if !batch.rejected.is_empty() {
        let mut insert = conn.prepare_cached(
            "INSERT INTO quarantine (account, received_ms, kind, idx, client_id, raw, context, errors)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        ).map_err(sql_err)?;
        for q in &batch.rejected {
            insert
                .execute(params![
                    account,
                    received_ms,
                    q.kind.as_str(),
                    q.index,
                    q.client_id,
                    q.raw,
                    q.context,
                    q.errors,
                ])
                .map_err(sql_err)?;
            outcome.quarantined += 1;
        }
    }

    // Every statement succeeded: now the caches may move.
    if let Some((page_key, row)) = new_page {
        state.pages.insert(page_key, row);
    }
    if let Some(mut change) = change {
        change.merged = batch
            .sdes
            .into_iter()
            .zip(accepted_sdes)
            .filter(|(s, accepted)| *accepted && !s.appended)
            .map(|(s, _)| s.sde)
            .collect();
        apply_session_change(state, change, received_ms);
    }
    Ok(outcome)
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
        append_head,
        merged,
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
    if append_head != slot.append_head {
        slot.append_head = append_head;
        changed = true;
    }
    if !merged.is_empty() {
        for sde in merged {
            slot.merged.record(sde);
        }
        slot.merged_dirty = true;
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
) -> Result<Option<(i64, Option<i64>)>, StoreError> {
    if let Some(slot) = state.sessions.get_mut(session_key) {
        return Ok(Some((slot.visit_id, slot.append_head)));
    }
    let row = conn
        .prepare_cached(
            "SELECT id, last_seen_ms, sdes, append_head FROM visits WHERE account = ?1 AND session_id = ?2",
        )
        .and_then(|mut s| {
            let mut rows = s.query(params![account, visit.session_id])?;
            match rows.next()? {
                None => Ok(None),
                Some(r) => Ok(Some((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                ))),
            }
        })
        .map_err(sql_err)?;
    let Some((visit_id, last_seen_ms, sdes, append_head)) = row else {
        return Ok(None);
    };
    let merged = read_merged(&sdes)?;
    state.sessions.insert(
        session_key.to_owned(),
        SessionSlot {
            visit_id,
            last_seen_ms,
            merged,
            append_head,
            dirty: false,
            merged_dirty: false,
        },
    );
    Ok(Some((visit_id, append_head)))
}

/// Reads `visits.sdes`.
pub(crate) fn read_merged(text: &str) -> Result<VisitSdes, StoreError> {
    let json = Json::parse_str(text)
        .map_err(|e| StoreError::Backend(format!("stored visit state is not JSON: {e}")))?;
    VisitSdes::from_json(&json)
        .map_err(|e| StoreError::Backend(format!("stored visit state is invalid: {e}")))
}

fn create_session(
    conn: &Connection,
    account: &str,
    received_ms: i64,
    visit: &PreparedVisit,
) -> Result<SessionSlot, StoreError> {
    conn.prepare_cached(
        "INSERT INTO visits (account, visitor_id, session_id, first_seen_ms, last_seen_ms, user_agent, referrer)
         VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6)",
    )
    .and_then(|mut s| {
        s.execute(params![
            account,
            visit.visitor_id,
            visit.session_id,
            received_ms,
            visit.user_agent,
            visit.referrer,
        ])
    })
    .map_err(sql_err)?;
    Ok(SessionSlot {
        visit_id: conn.last_insert_rowid(),
        last_seen_ms: received_ms,
        merged: VisitSdes::default(),
        append_head: None,
        dirty: false,
        merged_dirty: false,
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
    let existing = conn
        .prepare_cached("SELECT id FROM pages WHERE account = ?1 AND page_id = ?2")?
        .query_row(params![account, visit.page_id], |r| r.get::<_, i64>(0));
    match existing {
        Ok(id) => return Ok(id),
        Err(rusqlite::Error::QueryReturnedNoRows) => {}
        Err(e) => return Err(e),
    }
    conn.prepare_cached(
        "INSERT INTO pages (account, page_id, visit_id, url, referrer, title, sections, user_agent, received_ms)
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
    Ok(conn.last_insert_rowid())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A random 8-digit decimal id, like the platform's account ids. `RandomState` is
/// seeded from the OS once per thread and stepped per call, which is random enough for
/// an id that is unique by retry, not by luck.
fn random_account_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    (10_000_000 + hasher.finish() % 90_000_000).to_string()
}

fn create_account(
    conn: &Connection,
    state: &mut WriterState,
    new: NewAccount,
) -> Result<Account, StoreError> {
    let taken = conn
        .prepare_cached("SELECT 1 FROM accounts WHERE api_key_hash = ?1")
        .and_then(|mut s| s.exists([&new.api_key_hash]))
        .map_err(sql_err)?;
    if taken {
        return Err(StoreError::Conflict(
            "an account with this API key exists".into(),
        ));
    }
    let created_ms = now_ms();
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO accounts (id, name, api_key_hash, created_ms, allowed_origins)
             VALUES (?1, ?2, ?3, ?4, '[]') ON CONFLICT (id) DO NOTHING",
        )
        .map_err(sql_err)?;
    for _ in 0..64 {
        let id = random_account_id();
        let written = insert
            .execute(params![id, new.name, new.api_key_hash, created_ms])
            .map_err(sql_err)?;
        if written == 1 {
            state.new_accounts.push(id.clone());
            return Ok(Account {
                id,
                name: new.name,
                api_key_hash: new.api_key_hash,
                created_ms,
                allowed_origins: Vec::new(),
            });
        }
    }
    Err(StoreError::Backend(
        "no free account id after 64 tries".into(),
    ))
}

fn mark_replayed(
    conn: &Connection,
    account_id: &str,
    ids: &[i64],
    replayed_ms: i64,
) -> Result<(), StoreError> {
    let mut update = conn
        .prepare_cached(
            "UPDATE quarantine SET replayed_ms = ?3 WHERE account = ?1 AND id = ?2 AND replayed_ms IS NULL",
        )
        .map_err(sql_err)?;
    for id in ids {
        update
            .execute(params![account_id, id, replayed_ms])
            .map_err(sql_err)?;
    }
    Ok(())
}
