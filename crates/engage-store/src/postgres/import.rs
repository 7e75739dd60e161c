//! The target side of `engage migrate` (see `crate::migration`): admin rows copied with
//! their ids, visits written by the ingest's own group writer, and a checkpoint per
//! account and step written in the same transaction as what it counts, so a run that
//! stops anywhere resumes after the last chunk committed.
//!
//! `migration_checkpoints` is created by the first import, not by a schema migration:
//! only `engage migrate` uses it. Its key leads with the account like every other.

use deadpool_postgres::GenericClient;
use tokio_postgres::Transaction;

use super::ingest::{self, KnownAccounts};
use super::{pg_err, to_sql_u64, PostgresStore};
use crate::migration::{AccountCounts, AdminRows, QuarantineRow};
use crate::{Account, IngestBatch, StoreError};

/// The steps a checkpoint is kept for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportStep {
    /// The account and its admin rows (done once: `1`).
    Admin,
    /// Visits, through the source id kept.
    Visits,
    /// Quarantine entries, through the id kept.
    Quarantine,
}

impl ImportStep {
    fn as_str(self) -> &'static str {
        match self {
            ImportStep::Admin => "admin",
            ImportStep::Visits => "visits",
            ImportStep::Quarantine => "quarantine",
        }
    }
}

const CHECKPOINTS: &str = "CREATE TABLE IF NOT EXISTS migration_checkpoints (
    account      text NOT NULL,
    step         text NOT NULL,
    done_through bigint NOT NULL,
    updated_ms   bigint NOT NULL,
    PRIMARY KEY (account, step)
)";

async fn set_checkpoint(
    tx: &Transaction<'_>,
    account: &str,
    step: ImportStep,
    done_through: i64,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO migration_checkpoints (account, step, done_through, updated_ms)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (account, step)
         DO UPDATE SET done_through = excluded.done_through, updated_ms = excluded.updated_ms",
        &[
            &account,
            &step.as_str(),
            &done_through,
            &crate::ids::now_ms(),
        ],
    )
    .await
    .map_err(pg_err)?;
    Ok(())
}

impl PostgresStore {
    /// Where an earlier import of `account` stopped in `step`, if it began it.
    pub async fn import_checkpoint(
        &self,
        account: &str,
        step: ImportStep,
    ) -> Result<Option<i64>, StoreError> {
        let client = self.conn().await?;
        client.batch_execute(CHECKPOINTS).await.map_err(pg_err)?;
        let row = client
            .query_opt(
                "SELECT done_through FROM migration_checkpoints WHERE account = $1 AND step = $2",
                &[&account, &step.as_str()],
            )
            .await
            .map_err(pg_err)?;
        row.map(|r| r.try_get(0)).transpose().map_err(pg_err)
    }

    /// Makes the `event_runs` and `sdes` partitions of every month from `from_ms` to `to_ms`
    /// (imported rows of months before the server's first would otherwise all go to the
    /// default partition, which retention cannot drop by month).
    pub async fn import_partitions(&self, from_ms: i64, to_ms: i64) -> Result<usize, StoreError> {
        let client = self.conn().await?;
        super::schema::ensure_partitions_between(&client, from_ms, to_ms).await
    }

    /// Copies the account and its admin rows, keeping their ids, in one transaction.
    /// Rows already there are left as they are.
    pub async fn import_account(
        &self,
        account: &Account,
        admin: &AdminRows,
    ) -> Result<(), StoreError> {
        self.writable()?;
        let mut client = self.conn().await?;
        client.batch_execute(CHECKPOINTS).await.map_err(pg_err)?;
        let tx = client.transaction().await.map_err(pg_err)?;
        let a = account.id.as_str();
        let origins = serde_json::to_string(&account.allowed_origins)
            .map_err(|e| StoreError::Backend(format!("serializing origins: {e}")))?;
        tx.execute(
            "INSERT INTO accounts (account, name, api_key_hash, created_ms, allowed_origins)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account) DO NOTHING",
            &[
                &a,
                &account.name,
                &account.api_key_hash,
                &account.created_ms,
                &origins,
            ],
        )
        .await
        .map_err(pg_err)?;
        for app in &admin.apps {
            tx.execute(
                "INSERT INTO apps (account, app_id, name, created_ms) VALUES ($1, $2, $3, $4)
                 ON CONFLICT DO NOTHING",
                &[&a, &app.app_id, &app.name, &app.created_ms],
            )
            .await
            .map_err(pg_err)?;
        }
        for c in &admin.campaigns {
            tx.execute(
                "INSERT INTO campaigns (account, campaign_id, name, goal, priority, enabled,
                     created_ms, updated_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
                &[
                    &a,
                    &to_sql_u64(c.campaign_id),
                    &c.name,
                    &c.goal,
                    &c.priority,
                    &c.enabled,
                    &c.created_ms,
                    &c.updated_ms,
                ],
            )
            .await
            .map_err(pg_err)?;
        }
        for e in &admin.engagements {
            let state = i16::try_from(e.state).map_err(|_| {
                StoreError::Backend(format!(
                    "engagement {} has state {}",
                    e.engagement_id, e.state
                ))
            })?;
            tx.execute(
                "INSERT INTO engagements (account, engagement_id, campaign_id, revision, state,
                     created_ms, updated_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                &[
                    &a,
                    &to_sql_u64(e.engagement_id),
                    &to_sql_u64(e.campaign_id),
                    &e.revision,
                    &state,
                    &e.created_ms,
                    &e.updated_ms,
                ],
            )
            .await
            .map_err(pg_err)?;
        }
        for r in &admin.revisions {
            tx.execute(
                "INSERT INTO engagement_revisions (account, engagement_id, revision, created_ms,
                     definition)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                &[
                    &a,
                    &to_sql_u64(r.engagement_id),
                    &r.revision,
                    &r.created_ms,
                    &r.definition,
                ],
            )
            .await
            .map_err(pg_err)?;
        }
        for k in &admin.oauth_keys {
            tx.execute(
                "INSERT INTO oauth_keys (account, app_key, app_secret, access_token,
                     access_token_secret, created_ms)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                &[
                    &a,
                    &k.app_key,
                    &k.app_secret,
                    &k.access_token,
                    &k.access_token_secret,
                    &k.created_ms,
                ],
            )
            .await
            .map_err(pg_err)?;
        }
        for i in &admin.identities {
            tx.execute(
                "INSERT INTO consumer_identities (account, identity, visitor_id, created_ms)
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                &[&a, &i.identity, &i.visitor_id, &i.created_ms],
            )
            .await
            .map_err(pg_err)?;
        }
        for x in &admin.exposures {
            tx.execute(
                "INSERT INTO exposures (account, session_id, context_id, campaign_id,
                     engagement_id, shown_ms)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                &[
                    &a,
                    &x.session_id,
                    &x.context_id,
                    &to_sql_u64(x.campaign_id),
                    &to_sql_u64(x.engagement_id),
                    &x.shown_ms,
                ],
            )
            .await
            .map_err(pg_err)?;
        }
        for n in &admin.nonces {
            tx.execute(
                "INSERT INTO oauth_nonces (account, nonce_key, expires_s) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
                &[&a, &n.nonce_key, &n.expires_s],
            )
            .await
            .map_err(pg_err)?;
        }
        set_checkpoint(&tx, a, ImportStep::Admin, 1).await?;
        tx.commit().await.map_err(pg_err)
    }

    /// Writes a chunk of an account's visits, as the batches that made them, in order,
    /// in ONE transaction with the checkpoint `last_visit`. Items already stored (a chunk
    /// written before an interruption) count as duplicates and are not written again.
    pub async fn import_visits(
        &self,
        account: &str,
        batches: Vec<IngestBatch>,
        last_visit: i64,
    ) -> Result<(), StoreError> {
        self.writable()?;
        let prepared = batches
            .into_iter()
            .map(ingest::prepare)
            .collect::<Result<Vec<_>, _>>()?;
        let refs: Vec<&ingest::Prepared> = prepared.iter().collect();
        let mut client = self.conn().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        let (results, ..) = ingest::write_group(&tx, &refs, &KnownAccounts::default())
            .await
            .map_err(ingest::Fail::into_store_error)?
            .into_parts();
        for result in results {
            result?;
        }
        set_checkpoint(&tx, account, ImportStep::Visits, last_visit).await?;
        tx.commit().await.map_err(pg_err)
    }

    /// Copies quarantine entries with their ids, and the checkpoint after the last, in one
    /// transaction; new entries' ids start after every copied one.
    pub async fn import_quarantine(
        &self,
        account: &str,
        rows: &[QuarantineRow],
    ) -> Result<(), StoreError> {
        self.writable()?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        let mut client = self.conn().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        for q in rows {
            tx.execute(
                "INSERT INTO quarantine (account, id, received_ms, kind, idx, client_id, raw,
                     context, errors, replayed_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
                &[
                    &account,
                    &q.id,
                    &q.received_ms,
                    &q.kind,
                    &q.idx,
                    &q.client_id,
                    &q.raw,
                    &q.context,
                    &q.errors,
                    &q.replayed_ms,
                ],
            )
            .await
            .map_err(pg_err)?;
        }
        tx.execute(
            "SELECT setval('quarantine_ids', greatest($1, (SELECT last_value FROM quarantine_ids)))",
            &[&last.id],
        )
        .await
        .map_err(pg_err)?;
        set_checkpoint(&tx, account, ImportStep::Quarantine, last.id).await?;
        tx.commit().await.map_err(pg_err)
    }

    /// What autovacuum does for tables that grew, done now for every table
    /// (`VACUUM (ANALYZE)`): the planner's statistics, and the visibility map that lets
    /// a count read an index alone. After a bulk load and before autovacuum has reached
    /// the new rows (up to a minute, more under load, never where it is turned off), the
    /// planner takes the loaded tables for nearly empty and can choose a plan that reads
    /// a whole range row by row (a visitor's history took 50 ms instead of 0.2 ms on
    /// 20,000 interactions).
    pub async fn vacuum_analyze(&self) -> Result<(), StoreError> {
        self.conn()
            .await?
            .batch_execute("VACUUM (ANALYZE)")
            .await
            .map_err(pg_err)
    }

    /// The database's size on disk (`pg_database_size`), in bytes.
    pub async fn database_bytes(&self) -> Result<u64, StoreError> {
        let bytes: i64 = self
            .conn()
            .await?
            .query_one("SELECT pg_database_size(current_database())", &[])
            .await
            .and_then(|r| r.try_get(0))
            .map_err(pg_err)?;
        Ok(u64::try_from(bytes).unwrap_or(0))
    }

    /// What the account holds here, to compare with the source's.
    pub async fn import_counts(&self, account: &str) -> Result<AccountCounts, StoreError> {
        let client = self.conn().await?;
        let count = |sql: &'static str| {
            let client = &client;
            async move {
                let n: i64 = client
                    .query_one(sql, &[&account])
                    .await
                    .and_then(|r| r.try_get(0))
                    .map_err(pg_err)?;
                Ok::<u64, StoreError>(u64::try_from(n).unwrap_or(0))
            }
        };
        Ok(AccountCounts {
            apps: count("SELECT count(*) FROM apps WHERE account = $1").await?,
            campaigns: count("SELECT count(*) FROM campaigns WHERE account = $1").await?,
            engagements: count("SELECT count(*) FROM engagements WHERE account = $1").await?,
            revisions: count("SELECT count(*) FROM engagement_revisions WHERE account = $1")
                .await?,
            oauth_keys: count("SELECT count(*) FROM oauth_keys WHERE account = $1").await?,
            identities: count("SELECT count(*) FROM consumer_identities WHERE account = $1")
                .await?,
            exposures: count("SELECT count(*) FROM exposures WHERE account = $1").await?,
            visits: count("SELECT count(*) FROM visits WHERE account = $1").await?,
            pages: count("SELECT count(*) FROM pages WHERE account = $1").await?,
            interactions: count("SELECT count(*) FROM interactions WHERE account = $1").await?,
            events: count("SELECT count(*) FROM event_ids WHERE account = $1").await?,
            sdes: count("SELECT count(*) FROM sde_ids WHERE account = $1").await?,
            quarantine: count("SELECT count(*) FROM quarantine WHERE account = $1").await?,
        })
    }
}
