//! Group commit and what one group writes.
//!
//! `ingest` sends its batch to a queue; [`WRITERS`] tasks take turns at it: the one
//! holding the queue takes every batch waiting (up to [`MAX_GROUP_BATCHES`] batches or
//! [`MAX_GROUP_ROWS`] items), lets the next writer have the queue, writes the group in
//! ONE transaction with a few array statements for the whole group (not per batch or
//! per row), commits (`synchronous_commit` as the server has it, `on` by default: the
//! WAL is flushed before COMMIT returns) and only then answers each caller.
//!
//! What decides correctness lives in the database, so it holds across servers:
//! - exactly-once: `event_ids` / `sde_ids` primary keys with `ON CONFLICT DO NOTHING`,
//!   in the same transaction as the rows (the partitioned tables cannot hold that key);
//! - identity ownership: `visits (account, session_id)` is unique, the first insert
//!   wins and its visitor owns the session; a batch of anyone else is refused before it
//!   writes anything.
//!
//! Within a group, batches apply in arrival order: of two batches with one client id the
//! first stores it. A failure part way rolls the group back and its batches are tried
//! again one transaction each, so only the batch that fails gets the error. Statements
//! that take row locks take them in key order, so two servers' groups do not deadlock
//! on each other's rows (and if they ever did, the retry settles it).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use deadpool_postgres::Pool;
use deadpool_postgres::Transaction;
use tokio::sync::{mpsc, oneshot, Mutex};
use tokio::task::JoinHandle;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::analytics::{Epochs, RememberedRollups};
use super::{pg_err, to_sql_u64};
use crate::analytics::RollupDelta;
use crate::sqlite::batch::{self as shared, ClientKey, PreparedBatch};
use crate::sqlite::compact::PackedHistory;
use crate::{IngestBatch, IngestOutcome, Outcome, StoreError};

/// Writer tasks per server: one writes while the next gathers its group.
const WRITERS: usize = 3;
/// At most this many batches share a transaction.
const MAX_GROUP_BATCHES: usize = 256;
/// A group stops taking batches once it holds this many items.
const MAX_GROUP_ROWS: usize = 20_000;
/// `BotReason::Behaviour` as stored.
const BEHAVIOUR_CODE: i16 = engage_model::bot::BotReason::Behaviour.code() as i16;

/// A batch ready for a writer: serialized on the caller's task.
pub(crate) struct Prepared {
    batch: PreparedBatch,
    /// Each event's and attribute's client id as stored (see `schema`).
    event_keys: Vec<Vec<u8>>,
    sde_keys: Vec<Vec<u8>>,
    sde_words: Vec<String>,
}

/// A client id as its `bytea`: a canonical UUID's 16 bytes, else `0xff` and the text.
pub(crate) fn key_bytes(key: &ClientKey) -> Vec<u8> {
    match key {
        ClientKey::Uuid(bytes) => bytes.to_vec(),
        ClientKey::Text(text) => {
            let mut out = Vec::with_capacity(text.len() + 1);
            out.push(0xff);
            out.extend_from_slice(text.as_bytes());
            out
        }
    }
}

/// The client id a [`key_bytes`] column holds, as it was sent.
pub(crate) fn key_text(bytes: &[u8]) -> Option<String> {
    match bytes.split_first() {
        Some((0xff, text)) => String::from_utf8(text.to_vec()).ok(),
        _ => <[u8; 16]>::try_from(bytes)
            .ok()
            .map(|b| shared::uuid_text(&b)),
    }
}

pub(crate) fn prepare(batch: IngestBatch) -> Result<Prepared, StoreError> {
    let batch = shared::prepare(batch)?;
    Ok(Prepared {
        event_keys: batch
            .events
            .iter()
            .map(|e| key_bytes(&e.client_id))
            .collect(),
        sde_keys: batch.sdes.iter().map(|s| key_bytes(&s.client_id)).collect(),
        sde_words: batch
            .sdes
            .iter()
            .map(|s| super::history::words(&s.search_text))
            .collect(),
        batch,
    })
}

impl Prepared {
    fn rows(&self) -> usize {
        (self.batch.events.len() + self.batch.sdes.len() + self.batch.rejected.len()).max(1)
    }
}

type Reply = oneshot::Sender<Result<IngestOutcome, StoreError>>;

/// What a writer found committed in the database and keeps: accounts and event shapes
/// are never deleted (nor shapes changed), so one once found stays valid, and only the
/// ones not found yet cost a lookup.
///
/// Beside them, the rollup rows the writers know are stored, so a group skips writes
/// that would change nothing (`analytics::RememberedRollups`).
#[derive(Default)]
pub(crate) struct KnownAccounts {
    accounts: std::sync::Mutex<HashSet<String>>,
    shapes: std::sync::Mutex<HashMap<(String, super::runs::ShapeKey), i64>>,
    rollups: std::sync::Mutex<RememberedRollups>,
}

impl KnownAccounts {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        // Inserts are the only change: a poisoned set is still a set of known accounts.
        self.accounts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn shapes(&self) -> std::sync::MutexGuard<'_, HashMap<(String, super::runs::ShapeKey), i64>> {
        self.shapes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

struct Job {
    prepared: Prepared,
    reply: Reply,
}

/// The writer tasks and their queue.
pub(crate) struct Writers {
    queue: std::sync::Mutex<Option<mpsc::UnboundedSender<Job>>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Writers {
    pub fn spawn(pool: Pool, health: Arc<super::health::Health>) -> Writers {
        let (tx, rx) = mpsc::unbounded_channel();
        let rx = Arc::new(Mutex::new(rx));
        let known = Arc::new(KnownAccounts::default());
        let tasks = (0..WRITERS)
            .map(|_| {
                tokio::spawn(write_loop(
                    pool.clone(),
                    Arc::clone(&health),
                    Arc::clone(&rx),
                    Arc::clone(&known),
                ))
            })
            .collect();
        Writers {
            queue: std::sync::Mutex::new(Some(tx)),
            tasks: Mutex::new(tasks),
        }
    }

    /// Queues a batch and waits for its answer (after COMMIT).
    pub async fn send(&self, prepared: Prepared) -> Result<IngestOutcome, StoreError> {
        let (reply, answer) = oneshot::channel();
        {
            let queue = self
                .queue
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let Some(queue) = queue.as_ref() else {
                return Err(StoreError::Closed);
            };
            queue
                .send(Job { prepared, reply })
                .map_err(|_| StoreError::Closed)?;
        }
        // A writer drops the reply only when it stopped before answering.
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Stops taking batches; returns once every batch queued before is answered.
    pub async fn close(&self) {
        drop(
            self.queue
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .take(),
        );
        let tasks = std::mem::take(&mut *self.tasks.lock().await);
        for task in tasks {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "a postgres writer stopped abnormally");
            }
        }
    }
}

async fn write_loop(
    pool: Pool,
    health: Arc<super::health::Health>,
    queue: Arc<Mutex<mpsc::UnboundedReceiver<Job>>>,
    known: Arc<KnownAccounts>,
) {
    loop {
        let group = {
            let mut rx = queue.lock().await;
            let Some(first) = rx.recv().await else {
                return;
            };
            let mut rows = first.prepared.rows();
            let mut group = vec![first];
            while group.len() < MAX_GROUP_BATCHES && rows < MAX_GROUP_ROWS {
                match rx.try_recv() {
                    Ok(job) => {
                        rows += job.prepared.rows();
                        group.push(job);
                    }
                    Err(_) => break,
                }
            }
            group
        };
        run_group(&pool, &health, &known, group).await;
    }
}

/// Writes `group` in one transaction and answers after COMMIT; when the database fails
/// part way, each batch is tried again alone.
async fn run_group(
    pool: &Pool,
    health: &super::health::Health,
    known: &KnownAccounts,
    group: Vec<Job>,
) {
    let batches: Vec<&Prepared> = group.iter().map(|j| &j.prepared).collect();
    match try_group(pool, health, known, &batches).await {
        Ok(results) => {
            for (job, result) in group.into_iter().zip(results) {
                // A caller that stopped waiting needs no answer.
                drop(job.reply.send(result));
            }
        }
        // The database is away: every batch would fail the same way, at once.
        Err(e @ StoreError::Unavailable(_)) => {
            tracing::warn!(error = %e, batches = group.len(), "postgres unavailable; batches refused");
            for job in group {
                drop(job.reply.send(Err(e.clone_for_caller())));
            }
        }
        Err(e) if group.len() == 1 => {
            tracing::error!(error = %e, "postgres write failed and was rolled back");
            for job in group {
                drop(job.reply.send(Err(e.clone_for_caller())));
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, batches = group.len(), "postgres group failed; retrying its batches one by one");
            for job in group {
                Box::pin(run_group(pool, health, known, vec![job])).await;
            }
        }
    }
}

trait CloneForCaller {
    fn clone_for_caller(&self) -> StoreError;
}

impl CloneForCaller for StoreError {
    /// The same kind of error (a 503 stays a 503), with the message as text.
    fn clone_for_caller(&self) -> StoreError {
        match self {
            StoreError::Unavailable(m) => StoreError::Unavailable(m.clone()),
            StoreError::Closed => StoreError::Closed,
            other => StoreError::Backend(other.to_string()),
        }
    }
}

async fn try_group(
    pool: &Pool,
    health: &super::health::Health,
    known: &KnownAccounts,
    batches: &[&Prepared],
) -> Result<Vec<Result<IngestOutcome, StoreError>>, StoreError> {
    let mut conn = health.connection(pool).await?;
    let tx = conn.transaction().await.map_err(pg_err)?;
    let written = write_group(&tx, batches, known)
        .await
        .map_err(Fail::into_store_error)?;
    tx.commit().await.map_err(pg_err)?;
    let (results, epochs, rollups) = written.into_parts();
    RememberedRollups::remember(&known.rollups, &epochs, &rollups);
    Ok(results)
}

/// Where one batch stands while its group is written.
struct Slot {
    outcome: IngestOutcome,
    /// `(visit_id, page_row)` once known.
    visit: Option<(i64, i64)>,
}

/// Why a group was not written.
pub(crate) enum Fail {
    Db(tokio_postgres::Error),
    /// A row read or written earlier in the transaction was not found again.
    Lost(&'static str),
}

impl Fail {
    pub(crate) fn into_store_error(self) -> StoreError {
        match self {
            Fail::Db(e) => pg_err(e),
            Fail::Lost(what) => StoreError::Backend(format!("{what} vanished while writing")),
        }
    }
}

impl From<tokio_postgres::Error> for Fail {
    fn from(e: tokio_postgres::Error) -> Self {
        Fail::Db(e)
    }
}

/// What a group wrote: each batch's outcome, and the rollup rows it wrote with the
/// counters it read (to remember once the group commits).
pub(crate) struct Written<'a> {
    results: Vec<Result<IngestOutcome, StoreError>>,
    epochs: Epochs,
    rollups: Deltas<'a>,
}

/// A group's rollup deltas, per side and account.
pub(crate) type Deltas<'a> = BTreeMap<(bool, &'a str), RollupDelta>;

impl<'a> Written<'a> {
    pub(crate) fn into_parts(self) -> (Vec<Result<IngestOutcome, StoreError>>, Epochs, Deltas<'a>) {
        (self.results, self.epochs, self.rollups)
    }
}

pub(crate) async fn write_group<'a>(
    tx: &Transaction<'_>,
    batches: &[&'a Prepared],
    accounts_known: &KnownAccounts,
) -> Result<Written<'a>, Fail> {
    let mut slots: Vec<Result<Slot, StoreError>> = Vec::with_capacity(batches.len());

    // Accounts: the ones this server has not seen yet are looked up.
    let mut accounts: Vec<&str> = {
        let cached = accounts_known.lock();
        batches
            .iter()
            .map(|b| b.batch.account.as_str())
            .filter(|a| !cached.contains(*a))
            .collect()
    };
    accounts.sort_unstable();
    accounts.dedup();
    if !accounts.is_empty() {
        let found: Vec<String> = query(
            tx,
            "SELECT account FROM accounts WHERE account = ANY($1)",
            &[&accounts],
        )
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
        accounts_known.lock().extend(found);
    }
    {
        let known = accounts_known.lock();
        for b in batches {
            slots.push(if known.contains(&b.batch.account) {
                Ok(Slot {
                    outcome: IngestOutcome::default(),
                    visit: None,
                })
            } else {
                Err(StoreError::UnknownAccount(b.batch.account.clone()))
            });
        }
    }

    // Sessions: the first batch naming a new one creates it; its visitor owns it.
    let mut session_keys: Vec<(&str, &str, usize)> = Vec::new();
    let mut seen: HashSet<(&str, &str)> = HashSet::new();
    for (i, b) in batches.iter().enumerate() {
        if let (Ok(_), Some(v)) = (&slots[i], &b.batch.visit) {
            let key = (b.batch.account.as_str(), v.session_id.as_str());
            if seen.insert(key) {
                session_keys.push((key.0, key.1, i));
            }
        }
    }
    session_keys.sort_unstable();
    let mut sessions: HashMap<(String, String), (i64, String)> = HashMap::new();
    let mut created: HashSet<(String, String)> = HashSet::new();
    if !session_keys.is_empty() {
        let mut cols = VisitColumns::default();
        for &(account, session, i) in &session_keys {
            let b = &batches[i].batch;
            let Some(v) = &b.visit else { continue };
            cols.account.push(account);
            cols.session.push(session);
            cols.visitor.push(&v.visitor_id);
            cols.first_seen.push(b.received_ms);
            cols.user_agent.push(v.user_agent.as_deref());
            cols.referrer.push(v.referrer.as_deref());
            cols.client.push(v.client.as_deref());
        }
        let rows = query(
            tx,
            // New sessions are inserted, known ones read, in one statement: the
            // read sees what was committed when it began, so a session another
            // server committed since is read again below.
            "WITH t AS (
                     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[],
                         $5::text[], $6::text[], $7::text[]) AS t(a, s, v, f, u, r, c)),
                 ins AS (
                     INSERT INTO visits (account, session_id, visitor_id, first_seen_ms,
                         last_seen_ms, user_agent, referrer, client_properties)
                     SELECT a, s, v, f, f, u, r, c FROM t
                     ON CONFLICT (account, session_id) DO NOTHING
                     RETURNING account, session_id, visit_id, visitor_id)
                 SELECT account, session_id, visit_id, visitor_id, true FROM ins
                 UNION ALL
                 SELECT v.account, v.session_id, v.visit_id, v.visitor_id, false
                 FROM visits v JOIN t ON v.account = t.a AND v.session_id = t.s",
            &[
                &cols.account,
                &cols.session,
                &cols.visitor,
                &cols.first_seen,
                &cols.user_agent,
                &cols.referrer,
                &cols.client,
            ],
        )
        .await?;
        for r in rows {
            let key = (r.try_get::<_, String>(0)?, r.try_get::<_, String>(1)?);
            if r.try_get::<_, bool>(4)? {
                created.insert(key.clone());
            }
            sessions.insert(key, (r.try_get(2)?, r.try_get(3)?));
        }
        if sessions.len() < session_keys.len() {
            let (mut acc, mut ses) = (Vec::new(), Vec::new());
            for &(account, session, _) in &session_keys {
                if !sessions.contains_key(&(account.to_owned(), session.to_owned())) {
                    acc.push(account);
                    ses.push(session);
                }
            }
            let rows = query(
                tx,
                "SELECT v.account, v.session_id, v.visit_id, v.visitor_id FROM visits v
                     JOIN unnest($1::text[], $2::text[]) AS t(a, s)
                       ON v.account = t.a AND v.session_id = t.s",
                &[&acc, &ses],
            )
            .await?;
            for r in rows {
                let key = (r.try_get::<_, String>(0)?, r.try_get::<_, String>(1)?);
                sessions.insert(key, (r.try_get(2)?, r.try_get(3)?));
            }
        }
    }
    // Ownership, and who reports the new session: the first batch of the session.
    let mut first_of_session: HashSet<(String, String)> = HashSet::new();
    let mut visit_of: Vec<Option<i64>> = vec![None; batches.len()];
    for (i, b) in batches.iter().enumerate() {
        let (Ok(slot), Some(v)) = (&mut slots[i], &b.batch.visit) else {
            continue;
        };
        let key = (b.batch.account.clone(), v.session_id.clone());
        // Inserted or found above; a row removed in between is a database fault.
        let (visit_id, owner) = sessions.get(&key).ok_or(Fail::Lost("a session"))?;
        if *owner != v.visitor_id {
            slots[i] = Err(StoreError::IdentityConflict {
                pointer: "/sessionId",
                message: format!(
                    "session `{}` belongs to another visitor: start a new session for visitor `{}`",
                    v.session_id, v.visitor_id
                ),
            });
            continue;
        }
        if created.contains(&key) && first_of_session.insert(key) {
            slot.outcome.new_session = true;
        }
        visit_of[i] = Some(*visit_id);
    }

    // Pages: a page id names a page view within its session.
    let mut page_keys: Vec<(&str, i64, &str, usize)> = Vec::new();
    let mut seen_pages: HashSet<(&str, i64, &str)> = HashSet::new();
    for (i, b) in batches.iter().enumerate() {
        if let (Ok(_), Some(v), Some(visit_id)) = (&slots[i], &b.batch.visit, visit_of[i]) {
            let key = (b.batch.account.as_str(), visit_id, v.page_id.as_str());
            if seen_pages.insert(key) {
                page_keys.push((key.0, key.1, key.2, i));
            }
        }
    }
    page_keys.sort_unstable();
    let mut pages: HashMap<(String, i64, String), i64> = HashMap::new();
    if !page_keys.is_empty() {
        let mut cols = PageColumns::default();
        for &(account, visit_id, page_id, i) in &page_keys {
            let b = &batches[i].batch;
            let Some(v) = &b.visit else { continue };
            cols.account.push(account);
            cols.visit.push(visit_id);
            cols.page.push(page_id);
            cols.url.push(v.url.as_deref());
            cols.referrer.push(v.referrer.as_deref());
            cols.title.push(v.title.as_deref());
            cols.sections.push(&v.sections);
            cols.user_agent.push(v.user_agent.as_deref());
            cols.received.push(b.received_ms);
        }
        let rows = query(
            tx,
            "WITH t AS (
                     SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[],
                         $5::text[], $6::text[], $7::text[], $8::text[], $9::bigint[])
                         AS t(a, v, pg, u, r, ti, se, ua, rc)),
                 ins AS (
                     INSERT INTO pages (account, visit_id, page_id, url, referrer, title,
                         sections, user_agent, received_ms)
                     SELECT * FROM t
                     ON CONFLICT (account, visit_id, page_id) DO NOTHING
                     RETURNING account, visit_id, page_id, page_row)
                 SELECT * FROM ins
                 UNION ALL
                 SELECT p.account, p.visit_id, p.page_id, p.page_row
                 FROM pages p JOIN t ON p.account = t.a AND p.visit_id = t.v AND p.page_id = t.pg",
            &[
                &cols.account,
                &cols.visit,
                &cols.page,
                &cols.url,
                &cols.referrer,
                &cols.title,
                &cols.sections,
                &cols.user_agent,
                &cols.received,
            ],
        )
        .await?;
        for r in rows {
            pages.insert((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?), r.try_get(3)?);
        }
        if pages.len() < page_keys.len() {
            let rows = query(
                tx,
                "SELECT p.account, p.visit_id, p.page_id, p.page_row FROM pages p
                     JOIN unnest($1::text[], $2::bigint[], $3::text[]) AS t(a, v, pg)
                       ON p.account = t.a AND p.visit_id = t.v AND p.page_id = t.pg",
                &[&cols.account, &cols.visit, &cols.page],
            )
            .await?;
            for r in rows {
                pages.insert((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?), r.try_get(3)?);
            }
        }
    }
    for (i, b) in batches.iter().enumerate() {
        if let (Ok(slot), Some(v), Some(visit_id)) = (&mut slots[i], &b.batch.visit, visit_of[i]) {
            let key = (b.batch.account.clone(), visit_id, v.page_id.clone());
            let row = pages.get(&key).ok_or(Fail::Lost("a page"))?;
            slot.visit = Some((visit_id, *row));
        }
    }

    // Interactions: every event (duplicates too: the fold is idempotent) widens its
    // context's row; the row's campaign fields come from the context's first event.
    let mut folds: Vec<Fold<'_>> = Vec::new();
    let mut fold_at: HashMap<(&str, i64, &str), usize> = HashMap::new();
    for (i, b) in batches.iter().enumerate() {
        let Ok(slot) = &slots[i] else { continue };
        let (visit_id, page_row) = match slot.visit {
            Some((v, p)) => (v, Some(p)),
            None => (0, None),
        };
        // The batch that creates a row decides its bot flag; later ones leave it.
        let bot = engage_model::bot::classify_user_agent(
            b.batch.visit.as_ref().and_then(|v| v.user_agent.as_deref()),
        )
        .map_or(0, |reason| i16::from(reason.code()));
        let mut paces: HashMap<usize, engage_model::bot::Pace> = HashMap::new();
        for e in &b.batch.events {
            let d = &e.event.data;
            let at = e.client_time_ms.unwrap_or(b.batch.received_ms);
            let rank = i16::from(Outcome::of_event(e.event.name).rank());
            let key = (b.batch.account.as_str(), visit_id, d.context_id.as_str());
            let n = *fold_at.entry(key).or_insert_with(|| {
                folds.push(Fold {
                    key,
                    page_row,
                    data: d,
                    start_ms: at,
                    end_ms: at,
                    outcome: rank,
                    bot,
                    too_fast: false,
                    impressed: false,
                    ended: false,
                });
                folds.len() - 1
            });
            let f = &mut folds[n];
            f.start_ms = f.start_ms.min(at);
            f.end_ms = f.end_ms.max(at);
            f.outcome = f.outcome.max(rank);
            f.impressed |= e.event.name == engage_model::OfferEventName::OfferImpression;
            f.ended |= super::runs::ends(e.event.name);
            paces
                .entry(n)
                .or_default()
                .observe(e.event.name, e.client_time_ms);
        }
        // The pace rule is over one batch's events, as on SQLite, and only a person's
        // batch flags for it (a bot's is flagged for its user agent or not at all).
        for (n, pace) in paces.drain() {
            if bot == 0 && pace.too_fast() {
                folds[n].too_fast = true;
            }
        }
    }
    folds.sort_unstable_by_key(|f| f.key);
    let mut icols = InteractionColumns::default();
    for f in &folds {
        let d = f.data;
        icols.account.push(f.key.0);
        icols.visit.push(f.key.1);
        icols.context.push(f.key.2);
        icols.page.push(f.page_row);
        icols.campaign.push(to_sql_u64(d.conf_key.campaign_id));
        icols.engagement.push(to_sql_u64(d.conf_key.engagement_id));
        icols
            .revision
            .push(to_sql_u64(d.conf_key.engagement_revision));
        icols
            .engagement_type
            .push(d.engagement_type.map(|t| i16::from(t.code())));
        icols.zone.push(d.zone_id.map(to_sql_u64));
        icols.tgl_name.push(d.tgl_name.as_deref());
        icols.engagement_name.push(d.engagement_name.as_deref());
        icols.start.push(f.start_ms);
        icols.end.push(f.end_ms);
        icols.outcome.push(f.outcome);
        // A person's batch whose events answered too fast flags the row for its pace.
        icols.bot.push(if f.bot == 0 && f.too_fast {
            BEHAVIOUR_CODE
        } else {
            f.bot
        });
        icols.impressed.push(f.impressed);
        icols.ended.push(f.ended);
    }

    // Client ids first seen in this group; the database says which are new.
    let mut event_candidates: Vec<(usize, usize)> = Vec::new();
    let mut sde_candidates: Vec<(usize, usize)> = Vec::new();
    let mut events_seen: HashSet<(&str, &[u8])> = HashSet::new();
    let mut sdes_seen: HashSet<(&str, &[u8])> = HashSet::new();
    for (i, b) in batches.iter().enumerate() {
        let Ok(slot) = &mut slots[i] else { continue };
        for (k, key) in b.event_keys.iter().enumerate() {
            if events_seen.insert((b.batch.account.as_str(), key.as_slice())) {
                event_candidates.push((i, k));
            } else {
                slot.outcome.duplicates += 1;
            }
        }
        for (k, key) in b.sde_keys.iter().enumerate() {
            if sdes_seen.insert((b.batch.account.as_str(), key.as_slice())) {
                sde_candidates.push((i, k));
            } else {
                slot.outcome.duplicates += 1;
            }
        }
    }

    // The interaction rows and both claims in one round trip (the statements are
    // pipelined on the connection).
    let upsert = async {
        if folds.is_empty() {
            return Ok(Vec::new());
        }
        // A stored row changes only when the fold widens it; the optional campaign
        // fields are filled in then, where the row lacks them.
        query(
            tx,
            // The rows that exist are read in the same statement (as of its start; one
            // another server committed since is read again below).
            "WITH t AS (
                 SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[],
                     $5::bigint[], $6::bigint[], $7::bigint[], $8::smallint[], $9::bigint[],
                     $10::text[], $11::text[], $12::bigint[], $13::bigint[], $14::smallint[],
                     $15::smallint[], $16::boolean[], $17::boolean[])
                     AS t(a, v, c, p, cam, eng, rev, et, z, tg, en, s, e, o, b, im, ed)),
             up AS (
                 INSERT INTO interactions AS i (account, visit_id, context_id, page_row,
                     campaign_id, engagement_id, engagement_revision, engagement_type,
                     zone_id, tgl_name, engagement_name, start_ms, end_ms, outcome, bot,
                     impressed, ended)
                 SELECT * FROM t
                 ON CONFLICT (account, visit_id, context_id) DO UPDATE SET
                     start_ms = least(i.start_ms, excluded.start_ms),
                     end_ms = greatest(i.end_ms, excluded.end_ms),
                     outcome = greatest(i.outcome, excluded.outcome),
                     impressed = i.impressed OR excluded.impressed,
                     ended = i.ended OR excluded.ended,
                     engagement_type = coalesce(i.engagement_type, excluded.engagement_type),
                     zone_id = coalesce(i.zone_id, excluded.zone_id),
                     tgl_name = coalesce(i.tgl_name, excluded.tgl_name),
                     engagement_name = coalesce(i.engagement_name, excluded.engagement_name),
                     -- A later batch flags a person's row only for its pace (see Pace).
                     bot = CASE WHEN i.bot = 0 AND excluded.bot = $18 THEN $18 ELSE i.bot END
                 WHERE excluded.start_ms < i.start_ms OR excluded.end_ms > i.end_ms
                     OR excluded.outcome > i.outcome OR (i.bot = 0 AND excluded.bot = $18)
                     OR (excluded.impressed AND NOT i.impressed)
                     OR (excluded.ended AND NOT i.ended)
                 RETURNING account, visit_id, context_id, interaction_id)
             SELECT * FROM up
             UNION ALL
             SELECT i.account, i.visit_id, i.context_id, i.interaction_id
             FROM interactions i JOIN t ON i.account = t.a AND i.visit_id = t.v
                 AND i.context_id = t.c",
            &[
                &icols.account,
                &icols.visit,
                &icols.context,
                &icols.page,
                &icols.campaign,
                &icols.engagement,
                &icols.revision,
                &icols.engagement_type,
                &icols.zone,
                &icols.tgl_name,
                &icols.engagement_name,
                &icols.start,
                &icols.end,
                &icols.outcome,
                &icols.bot,
                &icols.impressed,
                &icols.ended,
                &BEHAVIOUR_CODE,
            ],
        )
        .await
    };
    let claim_events = claim(
        tx,
        "event_ids",
        event_candidates.iter().map(|&(i, k)| {
            (
                batches[i].batch.account.as_str(),
                &batches[i].event_keys[k][..],
            )
        }),
    );
    let claim_sdes = claim(
        tx,
        "sde_ids",
        sde_candidates.iter().map(|&(i, k)| {
            (
                batches[i].batch.account.as_str(),
                &batches[i].sde_keys[k][..],
            )
        }),
    );
    // The shapes of the events that may be stored (a duplicate's costs a lookup only);
    // the ones this server has seen committed are not asked for again.
    let mut shapes: HashMap<(String, super::runs::ShapeKey), i64> = HashMap::new();
    let mut shape_keys: Vec<(&str, super::runs::ShapeKey)> = Vec::new();
    {
        let cached = accounts_known.shapes();
        let mut seen_shapes: HashSet<(&str, super::runs::ShapeKey)> = HashSet::new();
        for &(i, k) in &event_candidates {
            let account = batches[i].batch.account.as_str();
            let key = super::runs::ShapeKey::of(&batches[i].batch.events[k].event.data);
            if !seen_shapes.insert((account, key.clone())) {
                continue;
            }
            let full = (account.to_owned(), key);
            match cached.get(&full) {
                Some(id) => {
                    shapes.insert(full, *id);
                }
                None => shape_keys.push((account, full.1)),
            }
        }
    }
    // In key order, as every statement that takes row locks.
    shape_keys.sort_unstable();
    let looked_up = async {
        if shape_keys.is_empty() {
            Ok(HashMap::new())
        } else {
            super::runs::shape_ids(tx, &shape_keys).await
        }
    };
    let (upserted, events_taken, sdes_taken, looked_up) =
        tokio::try_join!(upsert, claim_events, claim_sdes, looked_up)?;
    {
        let mut cached = accounts_known.shapes();
        for (key, (id, committed)) in looked_up {
            if committed {
                cached.insert(key.clone(), id);
            }
            shapes.insert(key, id);
        }
    }
    let mut interactions: HashMap<(String, i64, String), i64> = HashMap::new();
    for r in upserted {
        interactions.insert((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?), r.try_get(3)?);
    }
    if interactions.len() < folds.len() {
        let rows = query(
            tx,
            "SELECT i.account, i.visit_id, i.context_id, i.interaction_id
             FROM interactions i
             JOIN unnest($1::text[], $2::bigint[], $3::text[]) AS t(a, v, c)
               ON i.account = t.a AND i.visit_id = t.v AND i.context_id = t.c",
            &[&icols.account, &icols.visit, &icols.context],
        )
        .await?;
        for r in rows {
            interactions.insert((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?), r.try_get(3)?);
        }
    }

    // The rows, in one more round trip, and what they add to the results rollups.
    // Consecutive stored events of one batch and one interaction make a run.
    // Per (bot, account): a batch from an automated agent goes to the bots' rollups.
    let mut rollups: BTreeMap<(bool, &str), RollupDelta> = BTreeMap::new();
    fn delta<'m, 'a>(
        rollups: &'m mut BTreeMap<(bool, &'a str), RollupDelta>,
        batch: &'a PreparedBatch,
    ) -> &'m mut RollupDelta {
        let bot = engage_model::bot::classify_user_agent(
            batch.visit.as_ref().and_then(|v| v.user_agent.as_deref()),
        )
        .is_some();
        rollups
            .entry((bot, batch.account.as_str()))
            .or_insert_with(|| RollupDelta {
                bot,
                ..RollupDelta::default()
            })
    }
    for (i, b) in batches.iter().enumerate() {
        if let (Ok(_), Some(v)) = (&slots[i], &b.batch.visit) {
            delta(&mut rollups, &b.batch).visit(&v.visitor_id, b.batch.received_ms);
        }
    }
    let mut runs = RunColumns::default();
    let mut run: Vec<crate::sqlite::events::RunEvent<'_>> = Vec::new();
    let mut run_of: Option<(usize, i64)> = None;
    for &(i, k) in &event_candidates {
        let b = batches[i];
        let Ok(slot) = &mut slots[i] else { continue };
        if !events_taken.contains(&(b.batch.account.as_str(), &b.event_keys[k][..])) {
            slot.outcome.duplicates += 1;
            continue;
        }
        let p = &b.batch.events[k];
        let d = &p.event.data;
        let visit_id = slot.visit.map_or(0, |(v, _)| v);
        let key = (b.batch.account.clone(), visit_id, d.context_id.clone());
        let interaction = *interactions.get(&key).ok_or(Fail::Lost("an interaction"))?;
        let shape = *shapes
            .get(&(b.batch.account.clone(), super::runs::ShapeKey::of(d)))
            .ok_or(Fail::Lost("an event shape"))?;
        slot.outcome.accepted += 1;
        if let Some(v) = &b.batch.visit {
            delta(&mut rollups, &b.batch).event(&v.visitor_id, b.batch.received_ms, &p.event);
        }
        if run_of != Some((i, interaction)) || run.len() >= crate::sqlite::events::MAX_RUN {
            if let Some((ri, rint)) = run_of.take() {
                runs.push(batches[ri], slots_page(&slots[ri]), rint, &run);
            }
            run.clear();
            run_of = Some((i, interaction));
        }
        let page_id = b.batch.visit.as_ref().map(|v| v.page_id.as_str());
        run.push(crate::sqlite::events::RunEvent::of(p, shape, page_id));
    }
    if let Some((ri, rint)) = run_of.take() {
        runs.push(batches[ri], slots_page(&slots[ri]), rint, &run);
    }
    drop(run);
    // Attribute rows in group order: the order a visit folds them in.
    let mut scols = SdeColumns::default();
    for &(i, k) in &sde_candidates {
        let b = batches[i];
        let Ok(slot) = &mut slots[i] else { continue };
        if !sdes_taken.contains(&(b.batch.account.as_str(), &b.sde_keys[k][..])) {
            slot.outcome.duplicates += 1;
            continue;
        }
        let s = &b.batch.sdes[k];
        slot.outcome.accepted += 1;
        if let Some(v) = &b.batch.visit {
            delta(&mut rollups, &b.batch).sde(&v.visitor_id, b.batch.received_ms, &s.sde);
        }
        scols.account.push(&b.batch.account);
        scols.server.push(b.batch.received_ms);
        scols.client_ms.push(s.client_time_ms);
        scols.client_id.push(&b.sde_keys[k]);
        scols.visit.push(slot.visit.map(|(v, _)| v));
        scols.page.push(slot.visit.map(|(_, p)| p));
        scols
            .sde_type
            .push(super::history::sde_type_code(s.sde.sde_type()));
        match &s.history {
            PackedHistory::Packed(bytes) => {
                scols.history.push(None);
                scols.packed.push(Some(bytes));
            }
            PackedHistory::Text(text) => {
                scols.history.push(Some(text));
                scols.packed.push(None);
            }
        }
        scols.words.push(&b.sde_words[k]);
    }
    let mut q = QuarantineColumns::default();
    let mut last_seen: HashMap<(&str, i64), i64> = HashMap::new();
    for (i, b) in batches.iter().enumerate() {
        let Ok(slot) = &mut slots[i] else { continue };
        for r in &b.batch.rejected {
            slot.outcome.quarantined += 1;
            q.account.push(&b.batch.account);
            q.received.push(b.batch.received_ms);
            q.kind.push(r.kind.as_str());
            q.index.push(r.index);
            q.client_id.push(r.client_id.as_deref());
            q.raw.push(&r.raw);
            q.context.push(&r.context);
            q.errors.push(&r.errors);
        }
        if let Some((visit_id, _)) = slot.visit {
            let at = last_seen
                .entry((b.batch.account.as_str(), visit_id))
                .or_insert(b.batch.received_ms);
            *at = (*at).max(b.batch.received_ms);
        }
    }
    let mut seen_rows: Vec<((&str, i64), i64)> = last_seen.into_iter().collect();
    seen_rows.sort_unstable();
    let (seen_keys, seen_times): (Vec<(&str, i64)>, Vec<i64>) = seen_rows.into_iter().unzip();
    let (seen_accounts, seen_visits): (Vec<&str>, Vec<i64>) = seen_keys.into_iter().unzip();

    let insert_events = async {
        if runs.account.is_empty() {
            return Ok(0);
        }
        execute(
            tx,
            "INSERT INTO event_runs (account, server_ms, interaction_id, page_row, events)
             SELECT a, s, i, p, e
             FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bytea[])
                 WITH ORDINALITY AS t(a, s, i, p, e, n)
             ORDER BY n",
            &[
                &runs.account,
                &runs.server,
                &runs.interaction,
                &runs.page,
                &runs.events,
            ],
        )
        .await
    };
    let insert_sdes = async {
        if scols.account.is_empty() {
            return Ok(0);
        }
        execute(
            tx,
            "INSERT INTO sdes (account, server_ms, client_ms, client_id, visit_id, page_row,
                 sde_type, history, words, packed)
             SELECT a, s, c, id, v, p, t, h, w, pk
             FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bytea[], $5::bigint[],
                 $6::bigint[], $7::smallint[], $8::text[], $9::text[], $10::bytea[])
                 WITH ORDINALITY AS u(a, s, c, id, v, p, t, h, w, pk, n)
             ORDER BY n",
            &[
                &scols.account,
                &scols.server,
                &scols.client_ms,
                &scols.client_id,
                &scols.visit,
                &scols.page,
                &scols.sde_type,
                &scols.history,
                &scols.words,
                &scols.packed,
            ],
        )
        .await
    };
    let insert_quarantine = async {
        if q.account.is_empty() {
            return Ok(0);
        }
        execute(
            tx,
            "INSERT INTO quarantine (account, received_ms, kind, idx, client_id, raw, context,
                 errors)
             SELECT a, r, k, i, c, w, x, e
             FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::text[],
                 $6::text[], $7::text[], $8::text[]) WITH ORDINALITY AS t(a, r, k, i, c, w, x, e, n)
             ORDER BY n",
            &[
                &q.account,
                &q.received,
                &q.kind,
                &q.index,
                &q.client_id,
                &q.raw,
                &q.context,
                &q.errors,
            ],
        )
        .await
    };
    // Last seen, once per visit of the group.
    let update_visits = async {
        if seen_accounts.is_empty() {
            return Ok(0);
        }
        execute(
            tx,
            "UPDATE visits v SET last_seen_ms = t.ms
             FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS t(a, id, ms)
             WHERE v.account = t.a AND v.visit_id = t.id AND v.last_seen_ms < t.ms",
            &[&seen_accounts, &seen_visits, &seen_times],
        )
        .await
    };
    let write_rollups = async {
        // What is known to be stored would change nothing (`analytics::rollup_memory`).
        let epochs =
            RememberedRollups::skip_known(&accounts_known.rollups, tx, &mut rollups).await?;
        super::analytics::write_deltas(tx, &rollups).await?;
        Ok::<_, tokio_postgres::Error>(epochs)
    };
    let (.., epochs) = tokio::try_join!(
        insert_events,
        insert_sdes,
        insert_quarantine,
        update_visits,
        write_rollups
    )?;

    Ok(Written {
        results: slots.into_iter().map(|s| s.map(|s| s.outcome)).collect(),
        epochs,
        rollups,
    })
}

/// Runs `sql` as a statement prepared once per connection.
async fn query(
    tx: &Transaction<'_>,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>, tokio_postgres::Error> {
    let statement = tx.prepare_cached(sql).await?;
    tx.query(&statement, params).await
}

async fn execute(
    tx: &Transaction<'_>,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<u64, tokio_postgres::Error> {
    let statement = tx.prepare_cached(sql).await?;
    tx.execute(&statement, params).await
}

/// An `(account, client_id)` pair of a group.
type IdRef<'a> = (&'a str, &'a [u8]);

/// Inserts `(account, client_id)` pairs into an id table, sorted (rows are locked in
/// key order); answers the pairs that were new.
async fn claim<'a>(
    tx: &Transaction<'_>,
    table: &'static str,
    keys: impl Iterator<Item = (&'a str, &'a [u8])>,
) -> Result<HashSet<(&'a str, &'a [u8])>, tokio_postgres::Error> {
    let mut keys: Vec<(&str, &[u8])> = keys.collect();
    if keys.is_empty() {
        return Ok(HashSet::new());
    }
    keys.sort_unstable();
    let (accounts, ids): (Vec<&str>, Vec<&[u8]>) = keys.iter().copied().unzip();
    let rows = query(
        tx,
        &format!(
            "INSERT INTO {table} (account, client_id)
                 SELECT * FROM unnest($1::text[], $2::bytea[])
                 ON CONFLICT DO NOTHING RETURNING account, client_id"
        ),
        &[&accounts, &ids],
    )
    .await?;
    let mut taken = HashSet::with_capacity(rows.len());
    let index: HashMap<IdRef<'_>, IdRef<'a>> = keys.iter().map(|k| (*k, *k)).collect();
    for r in rows {
        let account: &str = r.try_get(0)?;
        let id: &[u8] = r.try_get(1)?;
        if let Some(k) = index.get(&(account, id)) {
            taken.insert(*k);
        }
    }
    Ok(taken)
}

/// An event name's code: its position in the lifecycle order.
#[cfg(test)]
pub(crate) fn event_code(name: engage_model::OfferEventName) -> i16 {
    engage_model::OfferEventName::ALL
        .iter()
        .position(|n| *n == name)
        .and_then(|p| i16::try_from(p).ok())
        .unwrap_or(i16::MAX)
}

pub(crate) fn event_name(code: i16) -> Option<engage_model::OfferEventName> {
    usize::try_from(code)
        .ok()
        .and_then(|i| engage_model::OfferEventName::ALL.get(i).copied())
}

/// One context's events in one group, folded.
struct Fold<'a> {
    key: (&'a str, i64, &'a str),
    page_row: Option<i64>,
    data: &'a engage_model::OfferData,
    start_ms: i64,
    end_ms: i64,
    outcome: i16,
    /// `BotReason::code` from the batch that first names the context; 0 for a person's.
    bot: i16,
    /// Whether a person's batch of the group answered it too fast (`Pace`).
    too_fast: bool,
    /// It has an `OFFER_IMPRESSION` (the frequency cap counts these).
    impressed: bool,
    /// It has an ending event (see `runs::ends`).
    ended: bool,
}

#[derive(Default)]
struct VisitColumns<'a> {
    account: Vec<&'a str>,
    session: Vec<&'a str>,
    visitor: Vec<&'a str>,
    first_seen: Vec<i64>,
    user_agent: Vec<Option<&'a str>>,
    referrer: Vec<Option<&'a str>>,
    client: Vec<Option<&'a str>>,
}

#[derive(Default)]
struct PageColumns<'a> {
    account: Vec<&'a str>,
    visit: Vec<i64>,
    page: Vec<&'a str>,
    url: Vec<Option<&'a str>>,
    referrer: Vec<Option<&'a str>>,
    title: Vec<Option<&'a str>>,
    sections: Vec<&'a str>,
    user_agent: Vec<Option<&'a str>>,
    received: Vec<i64>,
}

#[derive(Default)]
struct InteractionColumns<'a> {
    account: Vec<&'a str>,
    visit: Vec<i64>,
    context: Vec<&'a str>,
    page: Vec<Option<i64>>,
    campaign: Vec<i64>,
    engagement: Vec<i64>,
    revision: Vec<i64>,
    engagement_type: Vec<Option<i16>>,
    zone: Vec<Option<i64>>,
    tgl_name: Vec<Option<&'a str>>,
    engagement_name: Vec<Option<&'a str>>,
    start: Vec<i64>,
    end: Vec<i64>,
    outcome: Vec<i16>,
    /// `BotReason::code`, 0 for a person's.
    bot: Vec<i16>,
    impressed: Vec<bool>,
    ended: Vec<bool>,
}

/// The page row of a batch's slot, once known.
fn slots_page(slot: &Result<Slot, StoreError>) -> Option<i64> {
    slot.as_ref().ok().and_then(|s| s.visit.map(|(_, p)| p))
}

#[derive(Default)]
struct RunColumns<'a> {
    account: Vec<&'a str>,
    server: Vec<i64>,
    interaction: Vec<i64>,
    page: Vec<Option<i64>>,
    events: Vec<Vec<u8>>,
}

impl<'a> RunColumns<'a> {
    fn push(
        &mut self,
        b: &'a Prepared,
        page_row: Option<i64>,
        interaction: i64,
        run: &[crate::sqlite::events::RunEvent<'_>],
    ) {
        self.account.push(&b.batch.account);
        self.server.push(b.batch.received_ms);
        self.interaction.push(interaction);
        self.page.push(page_row);
        self.events
            .push(crate::sqlite::events::encode_run(run, b.batch.received_ms));
    }
}

#[derive(Default)]
struct SdeColumns<'a> {
    account: Vec<&'a str>,
    server: Vec<i64>,
    client_ms: Vec<Option<i64>>,
    client_id: Vec<&'a [u8]>,
    visit: Vec<Option<i64>>,
    page: Vec<Option<i64>>,
    sde_type: Vec<i16>,
    history: Vec<Option<&'a str>>,
    packed: Vec<Option<&'a [u8]>>,
    words: Vec<&'a str>,
}

#[derive(Default)]
struct QuarantineColumns<'a> {
    account: Vec<&'a str>,
    received: Vec<i64>,
    kind: Vec<&'a str>,
    index: Vec<Option<i64>>,
    client_id: Vec<Option<&'a str>>,
    raw: Vec<&'a str>,
    context: Vec<&'a str>,
    errors: Vec<&'a str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_map_one_to_one_onto_bytes() {
        for id in [
            "0190f0e2-7b1c-7a00-8000-00000000002a",
            "0190F0E2-7B1C-7A00-8000-00000000002A",
            "evt-1",
            "",
            "0123456789abcdef",
        ] {
            let bytes = key_bytes(&ClientKey::new(id.to_owned()));
            assert_eq!(key_text(&bytes).as_deref(), Some(id));
        }
        assert_eq!(
            key_bytes(&ClientKey::new(
                "0190f0e2-7b1c-7a00-8000-00000000002a".into()
            ))
            .len(),
            16
        );
        // The partial index `events_impressions` and the frequency cap's query say 2.
        assert_eq!(event_code(engage_model::OfferEventName::OfferImpression), 2);
        for (code, name) in engage_model::OfferEventName::ALL.iter().enumerate() {
            assert_eq!(event_name(event_code(*name)), Some(*name), "{code}");
        }
    }
}
