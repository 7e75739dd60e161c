//! [`WebhookStore`] on SQLite: endpoints and the delivery outbox, written on the admin
//! writes' connection (`campaign_write`), read through the read pool.
//!
//! A claim is one immediate transaction: it picks the due deliveries and sets their lease
//! before any other writer can look, so two handles on one file never claim the same
//! one. Workers first ask a read connection whether anything is due, so an idle outbox
//! costs no write lock.

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::campaigns::require_account;
use super::{sql_err, SqliteStore};
use crate::webhooks::{
    AttemptResult, ClaimedDelivery, Delivery, DeliveryStatus, Disabled, EnqueueOutcome,
    NewDelivery, NewWebhook, Webhook, WebhookStore,
};
use crate::{ids, StoreError};

/// Schema: endpoints and their deliveries. A delivery keeps its body as it will be
/// signed and sent; `(webhook_id, source_id)` is unique so a retried collect batch does
/// not queue its happenings twice.
pub(crate) const MIGRATION: &str = r#"
CREATE TABLE webhooks (
    webhook_id           TEXT PRIMARY KEY NOT NULL,
    account              TEXT NOT NULL,
    url                  TEXT NOT NULL,
    -- a JSON array of event names
    events               TEXT NOT NULL,
    secret               TEXT NOT NULL,
    created_ms           INTEGER NOT NULL,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    disabled_ms          INTEGER,
    disabled_reason      TEXT
);
CREATE INDEX webhooks_account ON webhooks (account, created_ms);

CREATE TABLE webhook_deliveries (
    seq             INTEGER PRIMARY KEY,
    delivery_id     TEXT NOT NULL UNIQUE,
    account         TEXT NOT NULL,
    webhook_id      TEXT NOT NULL,
    source_id       TEXT NOT NULL,
    order_key       TEXT NOT NULL,
    event           TEXT NOT NULL,
    body            TEXT NOT NULL,
    -- 0 pending, 1 delivered, 2 failed
    status          INTEGER NOT NULL DEFAULT 0,
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_ms      INTEGER NOT NULL,
    retry_from_ms   INTEGER NOT NULL,
    next_attempt_ms INTEGER NOT NULL,
    lease_until_ms  INTEGER NOT NULL DEFAULT 0,
    last_attempt_ms INTEGER,
    last_status     INTEGER,
    last_error      TEXT,
    delivered_ms    INTEGER,
    finished_ms     INTEGER,
    UNIQUE (webhook_id, source_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_ms) WHERE status = 0;
CREATE INDEX webhook_deliveries_order ON webhook_deliveries (webhook_id, order_key, seq)
    WHERE status = 0;
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (webhook_id, seq);
CREATE INDEX webhook_deliveries_pending ON webhook_deliveries (account) WHERE status = 0;
CREATE INDEX webhook_deliveries_finished ON webhook_deliveries (finished_ms) WHERE status <> 0;
"#;

/// The columns [`WebhookRow`] reads, in its order.
pub(crate) const WEBHOOK_COLUMNS: &str = "webhook_id, account, url, events, secret, created_ms, \
     consecutive_failures, disabled_ms, disabled_reason";

/// The columns [`DeliveryRow`] reads, in its order.
pub(crate) const DELIVERY_COLUMNS: &str = "delivery_id, webhook_id, event, status, attempts, \
     created_ms, retry_from_ms, next_attempt_ms, last_attempt_ms, last_status, last_error, \
     delivered_ms";

/// A stored endpoint's columns ([`WEBHOOK_COLUMNS`]) as both backends read them, each
/// widened to the type SQLite answers.
pub(crate) struct WebhookRow {
    pub id: String,
    pub account: String,
    pub url: String,
    /// A JSON array of event names.
    pub events: String,
    pub secret: String,
    pub created_ms: i64,
    pub consecutive_failures: i64,
    pub disabled_ms: Option<i64>,
    pub disabled_reason: Option<String>,
}

impl WebhookRow {
    pub(crate) fn decode(self) -> Result<Webhook, StoreError> {
        let events: Vec<String> = serde_json::from_str(&self.events).map_err(|e| {
            StoreError::Backend(format!("stored webhook events are unreadable: {e}"))
        })?;
        Ok(Webhook {
            id: self.id,
            account: self.account,
            url: self.url,
            events,
            secret: self.secret,
            created_ms: self.created_ms,
            consecutive_failures: u32::try_from(self.consecutive_failures).unwrap_or(u32::MAX),
            disabled: self.disabled_ms.map(|at_ms| Disabled {
                at_ms,
                reason: self.disabled_reason.unwrap_or_default(),
            }),
        })
    }
}

fn webhook_row(r: &Row<'_>) -> rusqlite::Result<WebhookRow> {
    Ok(WebhookRow {
        id: r.get(0)?,
        account: r.get(1)?,
        url: r.get(2)?,
        events: r.get(3)?,
        secret: r.get(4)?,
        created_ms: r.get(5)?,
        consecutive_failures: r.get(6)?,
        disabled_ms: r.get(7)?,
        disabled_reason: r.get(8)?,
    })
}

/// A delivery's columns ([`DELIVERY_COLUMNS`]) as both backends read them, each widened
/// to the type SQLite answers.
pub(crate) struct DeliveryRow {
    pub id: String,
    pub webhook_id: String,
    pub event: String,
    pub status: i64,
    pub attempts: i64,
    pub created_ms: i64,
    pub retry_from_ms: i64,
    pub next_attempt_ms: i64,
    pub last_attempt_ms: Option<i64>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub delivered_ms: Option<i64>,
}

impl DeliveryRow {
    pub(crate) fn decode(self) -> Result<Delivery, StoreError> {
        Ok(Delivery {
            id: self.id,
            webhook_id: self.webhook_id,
            event: self.event,
            status: DeliveryStatus::from_code(self.status)?,
            attempts: u32::try_from(self.attempts).unwrap_or(u32::MAX),
            created_ms: self.created_ms,
            retry_from_ms: self.retry_from_ms,
            next_attempt_ms: self.next_attempt_ms,
            last_attempt_ms: self.last_attempt_ms,
            last_status: self.last_status.and_then(|s| u16::try_from(s).ok()),
            last_error: self.last_error,
            delivered_ms: self.delivered_ms,
        })
    }
}

/// A delivery's columns ([`DELIVERY_COLUMNS`]) starting at column `at`.
fn delivery_at(r: &Row<'_>, at: usize) -> rusqlite::Result<DeliveryRow> {
    Ok(DeliveryRow {
        id: r.get(at)?,
        webhook_id: r.get(at + 1)?,
        event: r.get(at + 2)?,
        status: r.get(at + 3)?,
        attempts: r.get(at + 4)?,
        created_ms: r.get(at + 5)?,
        retry_from_ms: r.get(at + 6)?,
        next_attempt_ms: r.get(at + 7)?,
        last_attempt_ms: r.get(at + 8)?,
        last_status: r.get(at + 9)?,
        last_error: r.get(at + 10)?,
        delivered_ms: r.get(at + 11)?,
    })
}

fn delivery_row(r: &Row<'_>) -> rusqlite::Result<DeliveryRow> {
    delivery_at(r, 0)
}

pub(crate) fn events_json(events: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(events)
        .map_err(|e| StoreError::Backend(format!("writing webhook events: {e}")))
}

/// `columns` (a list such as [`DELIVERY_COLUMNS`]) each qualified with the table alias
/// `prefix`.
pub(crate) fn prefixed(columns: &str, prefix: &str) -> String {
    columns
        .split(',')
        .map(|c| format!("{prefix}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn read_webhook(
    conn: &Connection,
    account: &str,
    webhook_id: &str,
) -> Result<Option<Webhook>, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE account = ?1 AND webhook_id = ?2"
    ))
    .and_then(|mut s| s.query_row([account, webhook_id], webhook_row).optional())
    .map_err(sql_err)?
    .map(WebhookRow::decode)
    .transpose()
}

fn read_delivery(
    conn: &Connection,
    account: &str,
    webhook_id: &str,
    delivery_id: &str,
) -> Result<Option<Delivery>, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries
         WHERE account = ?1 AND webhook_id = ?2 AND delivery_id = ?3"
    ))
    .and_then(|mut s| {
        s.query_row([account, webhook_id, delivery_id], delivery_row)
            .optional()
    })
    .map_err(sql_err)?
    .map(DeliveryRow::decode)
    .transpose()
}

fn pending_count(conn: &Connection, account: &str) -> Result<u64, StoreError> {
    let n: i64 = conn
        .prepare_cached("SELECT count(*) FROM webhook_deliveries WHERE account = ?1 AND status = 0")
        .and_then(|mut s| s.query_row([account], |r| r.get(0)))
        .map_err(sql_err)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The reason an endpoint is disabled with, shared by both backends.
pub(crate) fn disabled_reason(failures: u32, error: &str) -> String {
    format!("disabled after {failures} deliveries in a row failed for good; the last: {error}")
}

/// The parts of an attempt's result as columns: the status code, the last status, the
/// last error, the next attempt time, the delivered time.
pub(crate) struct AttemptColumns {
    pub status: i64,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub next_attempt_ms: Option<i64>,
    pub delivered_ms: Option<i64>,
    pub finished_ms: Option<i64>,
}

pub(crate) fn attempt_columns(result: &AttemptResult, attempt_ms: i64) -> AttemptColumns {
    match result {
        AttemptResult::Delivered { status } => AttemptColumns {
            status: DeliveryStatus::Delivered.code(),
            last_status: Some(i64::from(*status)),
            last_error: None,
            next_attempt_ms: None,
            delivered_ms: Some(attempt_ms),
            finished_ms: Some(attempt_ms),
        },
        AttemptResult::Retry {
            status,
            error,
            next_attempt_ms,
        } => AttemptColumns {
            status: DeliveryStatus::Pending.code(),
            last_status: status.map(i64::from),
            last_error: Some(error.clone()),
            next_attempt_ms: Some(*next_attempt_ms),
            delivered_ms: None,
            finished_ms: None,
        },
        AttemptResult::Failed { status, error } => AttemptColumns {
            status: DeliveryStatus::Failed.code(),
            last_status: status.map(i64::from),
            last_error: Some(error.clone()),
            next_attempt_ms: None,
            delivered_ms: None,
            finished_ms: Some(attempt_ms),
        },
    }
}

pub(crate) fn limit_sql(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

#[async_trait]
impl WebhookStore for SqliteStore {
    #[tracing::instrument(skip_all, fields(account = %account_id))]
    async fn create_webhook(
        &self,
        account_id: &str,
        new: NewWebhook,
        max_per_account: usize,
    ) -> Result<Option<Webhook>, StoreError> {
        let account = account_id.to_owned();
        let events = events_json(&new.events)?;
        self.admin_write(account_id, move |tx| {
            require_account(tx, &account)?;
            let count: i64 = tx
                .query_row(
                    "SELECT count(*) FROM webhooks WHERE account = ?1",
                    [&account],
                    |r| r.get(0),
                )
                .map_err(sql_err)?;
            if usize::try_from(count).unwrap_or(usize::MAX) >= max_per_account {
                return Ok(None);
            }
            let id = ids::new_id();
            tx.execute(
                "INSERT INTO webhooks (webhook_id, account, url, events, secret, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id, account, new.url, events, new.secret, ids::now_ms()],
            )
            .map_err(sql_err)?;
            read_webhook(tx, &account, &id)
        })
        .await
    }

    async fn webhooks(&self, account_id: &str) -> Result<Vec<Webhook>, StoreError> {
        let account = account_id.to_owned();
        self.readers
            .run(move |conn| {
                let rows = conn
                    .prepare_cached(&format!(
                        "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE account = ?1
                         ORDER BY created_ms, webhook_id"
                    ))
                    .and_then(|mut s| {
                        s.query_map([&account], webhook_row)?
                            .collect::<Result<Vec<_>, _>>()
                    })
                    .map_err(sql_err)?;
                rows.into_iter().map(WebhookRow::decode).collect()
            })
            .await
    }

    async fn webhook(
        &self,
        account_id: &str,
        webhook_id: &str,
    ) -> Result<Option<Webhook>, StoreError> {
        let (account, id) = (account_id.to_owned(), webhook_id.to_owned());
        self.readers
            .run(move |conn| read_webhook(conn, &account, &id))
            .await
    }

    #[tracing::instrument(skip_all, fields(account = %account_id))]
    async fn delete_webhook(&self, account_id: &str, webhook_id: &str) -> Result<bool, StoreError> {
        let (account, id) = (account_id.to_owned(), webhook_id.to_owned());
        self.admin_write(account_id, move |tx| {
            let deleted = tx
                .execute(
                    "DELETE FROM webhooks WHERE account = ?1 AND webhook_id = ?2",
                    [&account, &id],
                )
                .map_err(sql_err)?;
            if deleted > 0 {
                tx.execute(
                    "DELETE FROM webhook_deliveries WHERE account = ?1 AND webhook_id = ?2",
                    [&account, &id],
                )
                .map_err(sql_err)?;
            }
            Ok(deleted > 0)
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(account = %account_id))]
    async fn rotate_webhook_secret(
        &self,
        account_id: &str,
        webhook_id: &str,
        secret: String,
    ) -> Result<Option<Webhook>, StoreError> {
        let (account, id) = (account_id.to_owned(), webhook_id.to_owned());
        self.admin_write(account_id, move |tx| {
            let changed = tx
                .execute(
                    "UPDATE webhooks SET secret = ?3 WHERE account = ?1 AND webhook_id = ?2",
                    params![account, id, secret],
                )
                .map_err(sql_err)?;
            if changed == 0 {
                return Ok(None);
            }
            read_webhook(tx, &account, &id)
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(account = %account_id, deliveries = deliveries.len()))]
    async fn enqueue_deliveries(
        &self,
        account_id: &str,
        deliveries: Vec<NewDelivery>,
        max_pending: u64,
        now_ms: i64,
    ) -> Result<EnqueueOutcome, StoreError> {
        if deliveries.is_empty() {
            return Ok(EnqueueOutcome::default());
        }
        let account = account_id.to_owned();
        self.campaign_write(move |tx| {
            let mut pending = pending_count(tx, &account)?;
            let mut outcome = EnqueueOutcome::default();
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO webhook_deliveries (delivery_id, account, webhook_id, source_id,
                         order_key, event, body, created_ms, retry_from_ms, next_attempt_ms)
                     SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?8
                     WHERE EXISTS (SELECT 1 FROM webhooks WHERE account = ?2 AND webhook_id = ?3)
                     ON CONFLICT (webhook_id, source_id) DO NOTHING",
                )
                .map_err(sql_err)?;
            let mut known = tx
                .prepare_cached(
                    "SELECT 1 FROM webhook_deliveries WHERE webhook_id = ?1 AND source_id = ?2",
                )
                .map_err(sql_err)?;
            for d in deliveries {
                if known
                    .exists([&d.webhook_id, &d.source_id])
                    .map_err(sql_err)?
                {
                    outcome.duplicates += 1;
                    continue;
                }
                if pending >= max_pending {
                    outcome.refused += 1;
                    continue;
                }
                let written = insert
                    .execute(params![
                        d.id,
                        account,
                        d.webhook_id,
                        d.source_id,
                        d.order_key,
                        d.event,
                        d.body,
                        now_ms
                    ])
                    .map_err(sql_err)?;
                if written == 0 {
                    outcome.refused += 1;
                } else {
                    outcome.queued += 1;
                    pending += 1;
                }
            }
            Ok(outcome)
        })
        .await
    }

    async fn claim_deliveries(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
        limit: usize,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        const DUE: &str = "FROM webhook_deliveries d JOIN webhooks w ON w.webhook_id = d.webhook_id
             WHERE d.status = 0 AND d.next_attempt_ms <= ?1 AND d.lease_until_ms <= ?1
               AND w.disabled_ms IS NULL
               AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e
                   WHERE e.status = 0 AND e.webhook_id = d.webhook_id
                     AND e.order_key = d.order_key AND e.seq < d.seq)";
        let anything_due = self
            .readers
            .run(move |conn| {
                conn.prepare_cached(&format!("SELECT 1 {DUE} LIMIT 1"))
                    .and_then(|mut s| s.exists([now_ms]))
                    .map_err(sql_err)
            })
            .await?;
        if !anything_due {
            return Ok(Vec::new());
        }
        self.campaign_write(move |tx| {
            let claimed = tx
                .prepare_cached(&format!(
                    "SELECT d.seq, d.account, w.url, w.secret, d.body, {} {DUE}
                     ORDER BY d.next_attempt_ms, d.seq LIMIT ?2",
                    prefixed(DELIVERY_COLUMNS, "d")
                ))
                .and_then(|mut s| {
                    s.query_map(params![now_ms, limit_sql(limit)], |r| {
                        let seq: i64 = r.get(0)?;
                        let account: String = r.get(1)?;
                        let url: String = r.get(2)?;
                        let secret: String = r.get(3)?;
                        let body: String = r.get(4)?;
                        // The delivery's columns follow the five above.
                        Ok((seq, account, url, secret, body, delivery_at(r, 5)?))
                    })?
                    .collect::<Result<Vec<_>, _>>()
                })
                .map_err(sql_err)?;
            let mut lease = tx
                .prepare_cached("UPDATE webhook_deliveries SET lease_until_ms = ?2 WHERE seq = ?1")
                .map_err(sql_err)?;
            let mut out = Vec::with_capacity(claimed.len());
            for (seq, account, url, secret, body, delivery) in claimed {
                let delivery = delivery.decode()?;
                lease.execute([seq, lease_until_ms]).map_err(sql_err)?;
                out.push(ClaimedDelivery {
                    delivery,
                    account,
                    url,
                    secret,
                    body,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn finish_attempt(
        &self,
        delivery_id: &str,
        attempt_ms: i64,
        result: AttemptResult,
        disable_after: u32,
    ) -> Result<(), StoreError> {
        let id = delivery_id.to_owned();
        let account: Option<String> = self
            .campaign_write(move |tx| {
                let c = attempt_columns(&result, attempt_ms);
                let row: Option<(String, String)> = tx
                    .query_row(
                        "UPDATE webhook_deliveries SET status = ?2, attempts = attempts + 1,
                             last_attempt_ms = ?3, last_status = ?4, last_error = ?5,
                             next_attempt_ms = coalesce(?6, next_attempt_ms),
                             delivered_ms = ?7, finished_ms = ?8, lease_until_ms = 0
                         WHERE delivery_id = ?1 RETURNING account, webhook_id",
                        params![
                            id,
                            c.status,
                            attempt_ms,
                            c.last_status,
                            c.last_error,
                            c.next_attempt_ms,
                            c.delivered_ms,
                            c.finished_ms
                        ],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()
                    .map_err(sql_err)?;
                let Some((account, webhook_id)) = row else {
                    return Ok(None);
                };
                match &result {
                    AttemptResult::Delivered { .. } => {
                        tx.execute(
                            "UPDATE webhooks SET consecutive_failures = 0 WHERE webhook_id = ?1",
                            [&webhook_id],
                        )
                        .map_err(sql_err)?;
                        Ok(None)
                    }
                    AttemptResult::Retry { .. } => Ok(None),
                    AttemptResult::Failed { error, .. } => {
                        let failures: i64 = tx
                            .query_row(
                                "UPDATE webhooks SET consecutive_failures = consecutive_failures + 1
                                 WHERE webhook_id = ?1 RETURNING consecutive_failures",
                                [&webhook_id],
                                |r| r.get(0),
                            )
                            .optional()
                            .map_err(sql_err)?
                            .unwrap_or(0);
                        if failures >= i64::from(disable_after) {
                            tx.execute(
                                "UPDATE webhooks SET disabled_ms = ?2, disabled_reason = ?3
                                 WHERE webhook_id = ?1 AND disabled_ms IS NULL",
                                params![
                                    webhook_id,
                                    attempt_ms,
                                    disabled_reason(disable_after, error)
                                ],
                            )
                            .map_err(sql_err)?;
                            return Ok(Some(account));
                        }
                        Ok(None)
                    }
                }
            })
            .await?;
        // A disabled endpoint is an admin change: servers drop what they cached of it.
        if let Some(account) = account {
            self.changes.account_changed(&account);
        }
        Ok(())
    }

    async fn deliveries(
        &self,
        account_id: &str,
        webhook_id: &str,
        limit: usize,
    ) -> Result<Option<Vec<Delivery>>, StoreError> {
        let (account, id) = (account_id.to_owned(), webhook_id.to_owned());
        self.readers
            .run(move |conn| {
                if read_webhook(conn, &account, &id)?.is_none() {
                    return Ok(None);
                }
                let rows = conn
                    .prepare_cached(&format!(
                        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries
                         WHERE webhook_id = ?1 ORDER BY seq DESC LIMIT ?2"
                    ))
                    .and_then(|mut s| {
                        s.query_map(params![id, limit_sql(limit)], delivery_row)?
                            .collect::<Result<Vec<_>, _>>()
                    })
                    .map_err(sql_err)?;
                rows.into_iter()
                    .map(DeliveryRow::decode)
                    .collect::<Result<Vec<_>, _>>()
                    .map(Some)
            })
            .await
    }

    #[tracing::instrument(skip_all, fields(account = %account_id))]
    async fn redeliver(
        &self,
        account_id: &str,
        webhook_id: &str,
        delivery_id: &str,
        now_ms: i64,
    ) -> Result<Option<Delivery>, StoreError> {
        let (account, webhook, id) = (
            account_id.to_owned(),
            webhook_id.to_owned(),
            delivery_id.to_owned(),
        );
        self.admin_write(account_id, move |tx| {
            let changed = tx
                .execute(
                    "UPDATE webhook_deliveries SET status = 0, next_attempt_ms = ?4,
                         retry_from_ms = ?4, lease_until_ms = 0, finished_ms = NULL
                     WHERE account = ?1 AND webhook_id = ?2 AND delivery_id = ?3",
                    params![account, webhook, id, now_ms],
                )
                .map_err(sql_err)?;
            if changed == 0 {
                return Ok(None);
            }
            tx.execute(
                "UPDATE webhooks SET disabled_ms = NULL, disabled_reason = NULL,
                     consecutive_failures = 0
                 WHERE account = ?1 AND webhook_id = ?2",
                [&account, &webhook],
            )
            .map_err(sql_err)?;
            read_delivery(tx, &account, &webhook, &id)
        })
        .await
    }

    async fn pending_deliveries(&self, account_id: &str) -> Result<u64, StoreError> {
        let account = account_id.to_owned();
        self.readers
            .run(move |conn| pending_count(conn, &account))
            .await
    }

    async fn prune_deliveries(&self, before_ms: i64) -> Result<u64, StoreError> {
        self.campaign_write(move |tx| {
            let n = tx
                .execute(
                    "DELETE FROM webhook_deliveries WHERE status <> 0 AND finished_ms < ?1",
                    [before_ms],
                )
                .map_err(sql_err)?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
        .await
    }
}
