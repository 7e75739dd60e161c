//! [`WebhookStore`] on PostgreSQL: endpoints and the delivery outbox, shared by every
//! server on the database.
//!
//! Exactly one server attempts a delivery at a time: a claim picks due rows with
//! `FOR UPDATE SKIP LOCKED` (a concurrent claim skips them instead of waiting) and sets
//! their lease in the same statement; once committed, the lease keeps every other
//! server's claim away until the attempt is recorded or the lease runs out. Order per
//! visitor holds across servers too: a row is due only when no older pending row of its
//! endpoint and order key exists, whoever holds that one.

use async_trait::async_trait;
use tokio_postgres::Row;

use super::campaigns::require_account;
use super::{pg_err, PostgresStore};
use crate::sqlite::webhooks::{
    attempt_columns, disabled_reason, events_json, limit_sql, prefixed, DeliveryRow, WebhookRow,
    DELIVERY_COLUMNS, WEBHOOK_COLUMNS,
};
use crate::webhooks::{
    AttemptResult, ClaimedDelivery, Delivery, EnqueueOutcome, NewDelivery, NewWebhook, Webhook,
    WebhookStore,
};
use crate::{ids, StoreError};

/// Schema version 6: webhooks. The same tables as SQLite's (`sqlite/webhooks.rs`), keyed
/// by the account first; the endpoints' trigger tells every server of a change.
pub(crate) const MIGRATION: &str = r#"
CREATE TABLE webhooks (
    account              text NOT NULL,
    webhook_id           text NOT NULL,
    url                  text NOT NULL,
    events               text NOT NULL,
    secret               text NOT NULL,
    created_ms           bigint NOT NULL,
    consecutive_failures integer NOT NULL DEFAULT 0,
    disabled_ms          bigint,
    disabled_reason      text,
    PRIMARY KEY (account, webhook_id)
);
CREATE TRIGGER webhooks_changed AFTER INSERT OR UPDATE OR DELETE ON webhooks
    FOR EACH ROW EXECUTE FUNCTION engage_notify_change();

CREATE TABLE webhook_deliveries (
    account         text NOT NULL,
    seq             bigint GENERATED ALWAYS AS IDENTITY,
    delivery_id     text NOT NULL,
    webhook_id      text NOT NULL,
    source_id       text NOT NULL,
    order_key       text NOT NULL,
    event           text NOT NULL,
    body            text NOT NULL,
    status          smallint NOT NULL DEFAULT 0,
    attempts        integer NOT NULL DEFAULT 0,
    created_ms      bigint NOT NULL,
    retry_from_ms   bigint NOT NULL,
    next_attempt_ms bigint NOT NULL,
    lease_until_ms  bigint NOT NULL DEFAULT 0,
    last_attempt_ms bigint,
    last_status     integer,
    last_error      text,
    delivered_ms    bigint,
    finished_ms     bigint,
    PRIMARY KEY (account, seq),
    UNIQUE (account, delivery_id),
    UNIQUE (account, webhook_id, source_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_ms) WHERE status = 0;
CREATE INDEX webhook_deliveries_order ON webhook_deliveries (account, webhook_id, order_key, seq)
    WHERE status = 0;
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (account, webhook_id, seq);
CREATE INDEX webhook_deliveries_finished ON webhook_deliveries (finished_ms) WHERE status <> 0;
"#;

fn webhook_row(row: &Row) -> Result<Webhook, StoreError> {
    let failures: i32 = row.try_get(6).map_err(pg_err)?;
    WebhookRow {
        id: row.try_get(0).map_err(pg_err)?,
        account: row.try_get(1).map_err(pg_err)?,
        url: row.try_get(2).map_err(pg_err)?,
        events: row.try_get(3).map_err(pg_err)?,
        secret: row.try_get(4).map_err(pg_err)?,
        created_ms: row.try_get(5).map_err(pg_err)?,
        consecutive_failures: i64::from(failures),
        disabled_ms: row.try_get(7).map_err(pg_err)?,
        disabled_reason: row.try_get(8).map_err(pg_err)?,
    }
    .decode()
}

/// A delivery from its columns ([`DELIVERY_COLUMNS`]) starting at `at`.
fn delivery_at(row: &Row, at: usize) -> Result<Delivery, StoreError> {
    let status: i16 = row.try_get(at + 3).map_err(pg_err)?;
    let attempts: i32 = row.try_get(at + 4).map_err(pg_err)?;
    let last_status: Option<i32> = row.try_get(at + 9).map_err(pg_err)?;
    DeliveryRow {
        id: row.try_get(at).map_err(pg_err)?,
        webhook_id: row.try_get(at + 1).map_err(pg_err)?,
        event: row.try_get(at + 2).map_err(pg_err)?,
        status: i64::from(status),
        attempts: i64::from(attempts),
        created_ms: row.try_get(at + 5).map_err(pg_err)?,
        retry_from_ms: row.try_get(at + 6).map_err(pg_err)?,
        next_attempt_ms: row.try_get(at + 7).map_err(pg_err)?,
        last_attempt_ms: row.try_get(at + 8).map_err(pg_err)?,
        last_status: last_status.map(i64::from),
        last_error: row.try_get(at + 10).map_err(pg_err)?,
        delivered_ms: row.try_get(at + 11).map_err(pg_err)?,
    }
    .decode()
}

#[async_trait]
impl WebhookStore for PostgresStore {
    #[tracing::instrument(skip_all, fields(account = %account_id))]
    async fn create_webhook(
        &self,
        account_id: &str,
        new: NewWebhook,
        max_per_account: usize,
    ) -> Result<Option<Webhook>, StoreError> {
        self.writable()?;
        let events = events_json(&new.events)?;
        let mut client = self.conn().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        require_account(&tx, account_id).await?;
        // Serializes the account's creations, so two at once cannot pass the limit.
        tx.execute(
            "SELECT 1 FROM accounts WHERE account = $1 FOR UPDATE",
            &[&account_id],
        )
        .await
        .map_err(pg_err)?;
        let count: i64 = tx
            .query_one(
                "SELECT count(*) FROM webhooks WHERE account = $1",
                &[&account_id],
            )
            .await
            .map_err(pg_err)?
            .try_get(0)
            .map_err(pg_err)?;
        if usize::try_from(count).unwrap_or(usize::MAX) >= max_per_account {
            return Ok(None);
        }
        let row = tx
            .query_one(
                &format!(
                    "INSERT INTO webhooks (account, webhook_id, url, events, secret, created_ms)
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING {WEBHOOK_COLUMNS}"
                ),
                &[
                    &account_id,
                    &ids::new_id(),
                    &new.url,
                    &events,
                    &new.secret,
                    &ids::now_ms(),
                ],
            )
            .await
            .map_err(pg_err)?;
        let webhook = webhook_row(&row)?;
        tx.commit().await.map_err(pg_err)?;
        Ok(Some(webhook))
    }

    async fn webhooks(&self, account_id: &str) -> Result<Vec<Webhook>, StoreError> {
        self.conn()
            .await?
            .query(
                &format!(
                    "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE account = $1
                     ORDER BY created_ms, webhook_id"
                ),
                &[&account_id],
            )
            .await
            .map_err(pg_err)?
            .iter()
            .map(webhook_row)
            .collect()
    }

    async fn webhook(
        &self,
        account_id: &str,
        webhook_id: &str,
    ) -> Result<Option<Webhook>, StoreError> {
        self.conn()
            .await?
            .query_opt(
                &format!(
                    "SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE account = $1 AND webhook_id = $2"
                ),
                &[&account_id, &webhook_id],
            )
            .await
            .map_err(pg_err)?
            .as_ref()
            .map(webhook_row)
            .transpose()
    }

    #[tracing::instrument(skip_all, fields(account = %account_id))]
    async fn delete_webhook(&self, account_id: &str, webhook_id: &str) -> Result<bool, StoreError> {
        self.writable()?;
        let mut client = self.conn().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        let deleted = tx
            .execute(
                "DELETE FROM webhooks WHERE account = $1 AND webhook_id = $2",
                &[&account_id, &webhook_id],
            )
            .await
            .map_err(pg_err)?;
        tx.execute(
            "DELETE FROM webhook_deliveries WHERE account = $1 AND webhook_id = $2",
            &[&account_id, &webhook_id],
        )
        .await
        .map_err(pg_err)?;
        tx.commit().await.map_err(pg_err)?;
        Ok(deleted > 0)
    }

    #[tracing::instrument(skip_all, fields(account = %account_id))]
    async fn rotate_webhook_secret(
        &self,
        account_id: &str,
        webhook_id: &str,
        secret: String,
    ) -> Result<Option<Webhook>, StoreError> {
        self.writable()?;
        self.conn()
            .await?
            .query_opt(
                &format!(
                    "UPDATE webhooks SET secret = $3 WHERE account = $1 AND webhook_id = $2
                     RETURNING {WEBHOOK_COLUMNS}"
                ),
                &[&account_id, &webhook_id, &secret],
            )
            .await
            .map_err(pg_err)?
            .as_ref()
            .map(webhook_row)
            .transpose()
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
        self.writable()?;
        let mut client = self.conn().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        // One enqueue of an account at a time: the pending count below stays true until
        // this commits, so the bound holds across servers.
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext('engage_webhook_outbox'), hashtext($1))",
            &[&account_id],
        )
        .await
        .map_err(pg_err)?;
        let pending: i64 = tx
            .query_one(
                "SELECT count(*) FROM webhook_deliveries WHERE account = $1 AND status = 0",
                &[&account_id],
            )
            .await
            .map_err(pg_err)?
            .try_get(0)
            .map_err(pg_err)?;
        let mut pending = u64::try_from(pending).unwrap_or(0);
        let insert = tx
            .prepare(
                "INSERT INTO webhook_deliveries (account, delivery_id, webhook_id, source_id,
                     order_key, event, body, created_ms, retry_from_ms, next_attempt_ms)
                 SELECT $1, $2, $3, $4, $5, $6, $7, $8, $8, $8
                 WHERE EXISTS (SELECT 1 FROM webhooks WHERE account = $1 AND webhook_id = $3)
                 ON CONFLICT (account, webhook_id, source_id) DO NOTHING",
            )
            .await
            .map_err(pg_err)?;
        let known = tx
            .prepare(
                "SELECT 1 FROM webhook_deliveries
                 WHERE account = $1 AND webhook_id = $2 AND source_id = $3",
            )
            .await
            .map_err(pg_err)?;
        let mut outcome = EnqueueOutcome::default();
        for d in deliveries {
            if tx
                .query_opt(&known, &[&account_id, &d.webhook_id, &d.source_id])
                .await
                .map_err(pg_err)?
                .is_some()
            {
                outcome.duplicates += 1;
                continue;
            }
            if pending >= max_pending {
                outcome.refused += 1;
                continue;
            }
            let written = tx
                .execute(
                    &insert,
                    &[
                        &account_id,
                        &d.id,
                        &d.webhook_id,
                        &d.source_id,
                        &d.order_key,
                        &d.event,
                        &d.body,
                        &now_ms,
                    ],
                )
                .await
                .map_err(pg_err)?;
            if written == 0 {
                outcome.refused += 1;
            } else {
                outcome.queued += 1;
                pending += 1;
            }
        }
        tx.commit().await.map_err(pg_err)?;
        Ok(outcome)
    }

    async fn claim_deliveries(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
        limit: usize,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        self.writable()?;
        let rows = self
            .conn()
            .await?
            .query(
                &format!(
                    "WITH due AS (
                         SELECT d.account, d.seq FROM webhook_deliveries d
                         JOIN webhooks w ON w.account = d.account AND w.webhook_id = d.webhook_id
                         WHERE d.status = 0 AND d.next_attempt_ms <= $1 AND d.lease_until_ms <= $1
                           AND w.disabled_ms IS NULL
                           AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e
                               WHERE e.account = d.account AND e.webhook_id = d.webhook_id
                                 AND e.order_key = d.order_key AND e.status = 0 AND e.seq < d.seq)
                         ORDER BY d.next_attempt_ms, d.seq
                         LIMIT $3
                         FOR UPDATE OF d SKIP LOCKED)
                     UPDATE webhook_deliveries d SET lease_until_ms = $2
                     FROM due, webhooks w
                     WHERE d.account = due.account AND d.seq = due.seq
                       AND w.account = d.account AND w.webhook_id = d.webhook_id
                     RETURNING d.account, w.url, w.secret, d.body, {}",
                    prefixed(DELIVERY_COLUMNS, "d")
                ),
                &[&now_ms, &lease_until_ms, &limit_sql(limit)],
            )
            .await
            .map_err(pg_err)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(ClaimedDelivery {
                account: row.try_get(0).map_err(pg_err)?,
                url: row.try_get(1).map_err(pg_err)?,
                secret: row.try_get(2).map_err(pg_err)?,
                body: row.try_get(3).map_err(pg_err)?,
                delivery: delivery_at(row, 4)?,
            });
        }
        out.sort_by_key(|c| (c.delivery.next_attempt_ms, c.delivery.created_ms));
        Ok(out)
    }

    async fn finish_attempt(
        &self,
        delivery_id: &str,
        attempt_ms: i64,
        result: AttemptResult,
        disable_after: u32,
    ) -> Result<(), StoreError> {
        self.writable()?;
        let c = attempt_columns(&result, attempt_ms);
        let status = i16::try_from(c.status).unwrap_or(0);
        let last_status = c.last_status.and_then(|s| i32::try_from(s).ok());
        let mut client = self.conn().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        let Some(row) = tx
            .query_opt(
                "UPDATE webhook_deliveries SET status = $2, attempts = attempts + 1,
                     last_attempt_ms = $3, last_status = $4, last_error = $5,
                     next_attempt_ms = coalesce($6, next_attempt_ms),
                     delivered_ms = $7, finished_ms = $8, lease_until_ms = 0
                 WHERE delivery_id = $1 RETURNING account, webhook_id",
                &[
                    &delivery_id,
                    &status,
                    &attempt_ms,
                    &last_status,
                    &c.last_error,
                    &c.next_attempt_ms,
                    &c.delivered_ms,
                    &c.finished_ms,
                ],
            )
            .await
            .map_err(pg_err)?
        else {
            return Ok(());
        };
        let account: String = row.try_get(0).map_err(pg_err)?;
        let webhook_id: String = row.try_get(1).map_err(pg_err)?;
        match &result {
            AttemptResult::Delivered { .. } => {
                tx.execute(
                    "UPDATE webhooks SET consecutive_failures = 0
                     WHERE account = $1 AND webhook_id = $2 AND consecutive_failures <> 0",
                    &[&account, &webhook_id],
                )
                .await
                .map_err(pg_err)?;
            }
            AttemptResult::Retry { .. } => {}
            AttemptResult::Failed { error, .. } => {
                let limit = i32::try_from(disable_after).unwrap_or(i32::MAX);
                tx.execute(
                    "UPDATE webhooks SET consecutive_failures = consecutive_failures + 1,
                         disabled_ms = CASE WHEN disabled_ms IS NULL
                             AND consecutive_failures + 1 >= $3 THEN $4 ELSE disabled_ms END,
                         disabled_reason = CASE WHEN disabled_ms IS NULL
                             AND consecutive_failures + 1 >= $3 THEN $5 ELSE disabled_reason END
                     WHERE account = $1 AND webhook_id = $2",
                    &[
                        &account,
                        &webhook_id,
                        &limit,
                        &attempt_ms,
                        &disabled_reason(disable_after, error),
                    ],
                )
                .await
                .map_err(pg_err)?;
            }
        }
        tx.commit().await.map_err(pg_err)?;
        Ok(())
    }

    async fn deliveries(
        &self,
        account_id: &str,
        webhook_id: &str,
        limit: usize,
    ) -> Result<Option<Vec<Delivery>>, StoreError> {
        if self.webhook(account_id, webhook_id).await?.is_none() {
            return Ok(None);
        }
        self.conn()
            .await?
            .query(
                &format!(
                    "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries
                     WHERE account = $1 AND webhook_id = $2 ORDER BY seq DESC LIMIT $3"
                ),
                &[&account_id, &webhook_id, &limit_sql(limit)],
            )
            .await
            .map_err(pg_err)?
            .iter()
            .map(|r| delivery_at(r, 0))
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    #[tracing::instrument(skip_all, fields(account = %account_id))]
    async fn redeliver(
        &self,
        account_id: &str,
        webhook_id: &str,
        delivery_id: &str,
        now_ms: i64,
    ) -> Result<Option<Delivery>, StoreError> {
        self.writable()?;
        let mut client = self.conn().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        let Some(row) = tx
            .query_opt(
                &format!(
                    "UPDATE webhook_deliveries SET status = 0, next_attempt_ms = $4,
                         retry_from_ms = $4, lease_until_ms = 0, finished_ms = NULL
                     WHERE account = $1 AND webhook_id = $2 AND delivery_id = $3
                     RETURNING {DELIVERY_COLUMNS}"
                ),
                &[&account_id, &webhook_id, &delivery_id, &now_ms],
            )
            .await
            .map_err(pg_err)?
        else {
            return Ok(None);
        };
        let delivery = delivery_at(&row, 0)?;
        tx.execute(
            "UPDATE webhooks SET disabled_ms = NULL, disabled_reason = NULL, consecutive_failures = 0
             WHERE account = $1 AND webhook_id = $2
               AND (disabled_ms IS NOT NULL OR consecutive_failures <> 0)",
            &[&account_id, &webhook_id],
        )
        .await
        .map_err(pg_err)?;
        tx.commit().await.map_err(pg_err)?;
        Ok(Some(delivery))
    }

    async fn pending_deliveries(&self, account_id: &str) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn()
            .await?
            .query_one(
                "SELECT count(*) FROM webhook_deliveries WHERE account = $1 AND status = 0",
                &[&account_id],
            )
            .await
            .map_err(pg_err)?
            .try_get(0)
            .map_err(pg_err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn prune_deliveries(&self, before_ms: i64) -> Result<u64, StoreError> {
        self.writable()?;
        let n = self
            .conn()
            .await?
            .execute(
                "DELETE FROM webhook_deliveries WHERE status <> 0 AND finished_ms < $1",
                &[&before_ms],
            )
            .await
            .map_err(pg_err)?;
        Ok(n)
    }
}
