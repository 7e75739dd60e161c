//! [`CampaignStore`] for SQLite: apps, campaigns and revisioned engagements.
//!
//! Admin writes are rare and small, so they do not go through the ingest writer thread:
//! each opens its own connection and takes the write lock with `BEGIN IMMEDIATE`, which
//! waits (busy timeout) for the writer's current group to commit, then commits with the
//! same durability (`synchronous=FULL`). Reads use the shared read pool.
//!
//! Schema (migration [`MIGRATION`]):
//! - `engagements` holds what changes without a revision (the agent state, the newest
//!   revision number); `engagement_revisions` one row per revision, never rewritten, with
//!   the definition as JSON.
//! - The frequency cap counts impressions per visitor from the events already stored,
//!   through a partial index on `events` that holds only `OFFER_IMPRESSION` rows: ingest
//!   pays one small index insert per impression and nothing for the other events (no
//!   counter to keep in step on the write path), and the count is one indexed lookup per
//!   session of the visitor.

use std::path::Path;
use std::sync::atomic::Ordering;

use async_trait::async_trait;
use engage_model::{AgentState, EngagementType};
use rusqlite::{params, Connection, OptionalExtension, Row, Transaction, TransactionBehavior};
use serde::{Deserialize, Serialize};

use super::{read_u64, schema, sql_err, SqliteStore};
use crate::{
    ids, AppInstallation, Campaign, CampaignFields, CampaignStore, Engagement, EngagementContent,
    EngagementDefinition, RecentInteraction, StoreError,
};

/// Schema version 2: campaigns, engagements, their revisions, apps, and the impressions index.
pub(crate) const MIGRATION: &str = r#"
CREATE TABLE apps (
    id         TEXT PRIMARY KEY NOT NULL,
    account    TEXT NOT NULL,
    name       TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE INDEX apps_account ON apps (account, created_ms);

CREATE TABLE campaigns (
    id         INTEGER PRIMARY KEY,
    account    TEXT NOT NULL,
    name       TEXT NOT NULL,
    goal       TEXT,
    priority   INTEGER NOT NULL,
    enabled    INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE INDEX campaigns_account ON campaigns (account, id);

CREATE TABLE engagements (
    id          INTEGER PRIMARY KEY,
    account     TEXT NOT NULL,
    campaign_id INTEGER NOT NULL,
    -- the newest revision; older ones stay in engagement_revisions
    revision    INTEGER NOT NULL,
    state       INTEGER NOT NULL,
    created_ms  INTEGER NOT NULL,
    updated_ms  INTEGER NOT NULL
);
CREATE INDEX engagements_campaign ON engagements (account, campaign_id, id);

CREATE TABLE engagement_revisions (
    engagement_id INTEGER NOT NULL,
    revision      INTEGER NOT NULL,
    created_ms    INTEGER NOT NULL,
    -- the definition as JSON (see sqlite/campaigns.rs, StoredDefinition)
    definition    TEXT NOT NULL,
    PRIMARY KEY (engagement_id, revision)
) WITHOUT ROWID;

CREATE INDEX events_impressions ON events (visit_id, engagement_id)
    WHERE event_name = 'OFFER_IMPRESSION';
"#;

/// The JSON an engagement revision is stored as.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StoredDefinition {
    name: String,
    engagement_type: u8,
    tgl_name: String,
    zone_id: Option<u64>,
    timeout_seconds: Option<u32>,
    targeting: crate::RawJson,
    content: StoredContent,
    hide_when_offline: bool,
    /// Absent in definitions written before actions existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    action: Option<crate::RawJson>,
    /// Added with traffic splits: revisions written before have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    weight: Option<u32>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredContent {
    title: Option<String>,
    body: Option<String>,
    accept_label: Option<String>,
    close_label: Option<String>,
}

impl StoredDefinition {
    fn from_definition(d: &EngagementDefinition) -> StoredDefinition {
        StoredDefinition {
            name: d.name.clone(),
            engagement_type: d.engagement_type.code(),
            tgl_name: d.tgl_name.clone(),
            zone_id: d.zone_id,
            timeout_seconds: d.timeout_seconds,
            targeting: d.targeting.clone(),
            content: StoredContent {
                title: d.content.title.clone(),
                body: d.content.body.clone(),
                accept_label: d.content.accept_label.clone(),
                close_label: d.content.close_label.clone(),
            },
            hide_when_offline: d.hide_when_offline,
            action: d.action.clone(),
            weight: d.weight,
        }
    }

    pub(crate) fn into_definition(self) -> Result<EngagementDefinition, StoreError> {
        let engagement_type = EngagementType::from_code(u64::from(self.engagement_type))
            .ok_or_else(|| corrupt(format!("engagement type {}", self.engagement_type)))?;
        Ok(EngagementDefinition {
            name: self.name,
            engagement_type,
            tgl_name: self.tgl_name,
            zone_id: self.zone_id,
            timeout_seconds: self.timeout_seconds,
            targeting: self.targeting,
            content: EngagementContent {
                title: self.content.title,
                body: self.content.body,
                accept_label: self.content.accept_label,
                close_label: self.content.close_label,
            },
            hide_when_offline: self.hide_when_offline,
            action: self.action,
            weight: self.weight,
        })
    }
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("stored campaign data is unreadable: {what}"))
}

/// Opens a connection for one admin write and runs `f` in an immediate transaction.
fn write_blocking<T>(
    path: &Path,
    f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let mut conn = Connection::open(path).map_err(sql_err)?;
    // The checkpointer's settings are what an occasional writer needs: a busy timeout,
    // a synced log at commit, and no checkpoint run by the committing connection.
    schema::configure_checkpointer(&conn).map_err(sql_err)?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql_err)?;
    let out = f(&tx)?;
    tx.commit().map_err(sql_err)?;
    Ok(out)
}

pub(super) fn require_account(tx: &Transaction<'_>, account_id: &str) -> Result<(), StoreError> {
    let known = tx
        .prepare_cached("SELECT 1 FROM accounts WHERE id = ?1")
        .and_then(|mut s| s.exists([account_id]))
        .map_err(sql_err)?;
    if known {
        Ok(())
    } else {
        Err(StoreError::UnknownAccount(account_id.to_owned()))
    }
}

fn sql_id(id: u64) -> i64 {
    // Ids are nine digits; anything that does not fit matches no row.
    i64::try_from(id).unwrap_or(-1)
}

fn campaign_row(r: &Row<'_>) -> rusqlite::Result<Campaign> {
    Ok(Campaign {
        id: read_u64(r.get_ref(0)?).unwrap_or_default(),
        fields: CampaignFields {
            name: r.get(1)?,
            goal: r.get(2)?,
            priority: u32::try_from(r.get::<_, i64>(3)?).unwrap_or(u32::MAX),
            enabled: r.get(4)?,
            control_group_percent: u8::try_from(r.get::<_, i64>(7)?).unwrap_or(0),
            attribution_window_days: u8::try_from(r.get::<_, i64>(8)?)
                .unwrap_or(CampaignFields::DEFAULT_ATTRIBUTION_WINDOW_DAYS),
        },
        created_ms: r.get(5)?,
        updated_ms: r.get(6)?,
    })
}

const CAMPAIGN_COLUMNS: &str = "id, name, goal, priority, enabled, created_ms, updated_ms,
     control_group_percent, attribution_window_days";

fn read_campaign(
    conn: &Connection,
    account_id: &str,
    campaign_id: u64,
) -> Result<Option<Campaign>, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE account = ?1 AND id = ?2"
    ))
    .and_then(|mut s| {
        s.query_row(params![account_id, sql_id(campaign_id)], campaign_row)
            .optional()
    })
    .map_err(sql_err)
}

/// An engagement row joined with one of its revisions, before the definition is decoded.
struct EngagementRow {
    campaign_id: u64,
    id: u64,
    latest_revision: u64,
    state: i64,
    created_ms: i64,
    revision: u64,
    revised_ms: i64,
    definition: String,
}

const ENGAGEMENT_SELECT: &str = "SELECT e.campaign_id, e.id, e.revision, e.state, e.created_ms,
            r.revision, r.created_ms, r.definition
     FROM engagements e
     JOIN engagement_revisions r ON r.engagement_id = e.id";

fn engagement_row(r: &Row<'_>) -> rusqlite::Result<EngagementRow> {
    Ok(EngagementRow {
        campaign_id: read_u64(r.get_ref(0)?).unwrap_or_default(),
        id: read_u64(r.get_ref(1)?).unwrap_or_default(),
        latest_revision: read_u64(r.get_ref(2)?).unwrap_or_default(),
        state: r.get(3)?,
        created_ms: r.get(4)?,
        revision: read_u64(r.get_ref(5)?).unwrap_or_default(),
        revised_ms: r.get(6)?,
        definition: r.get(7)?,
    })
}

impl EngagementRow {
    fn decode(self) -> Result<Engagement, StoreError> {
        let stored: StoredDefinition = serde_json::from_str(&self.definition)
            .map_err(|e| corrupt(format!("engagement {} definition: {e}", self.id)))?;
        let state = u64::try_from(self.state)
            .ok()
            .and_then(AgentState::from_code)
            .ok_or_else(|| corrupt(format!("engagement {} state {}", self.id, self.state)))?;
        Ok(Engagement {
            campaign_id: self.campaign_id,
            id: self.id,
            revision: self.revision,
            latest_revision: self.latest_revision,
            state,
            definition: stored.into_definition()?,
            created_ms: self.created_ms,
            revised_ms: self.revised_ms,
        })
    }
}

fn read_engagement(
    conn: &Connection,
    account_id: &str,
    campaign_id: u64,
    engagement_id: u64,
    revision: Option<u64>,
) -> Result<Option<Engagement>, StoreError> {
    let revision = revision.map(|r| i64::try_from(r).unwrap_or(-1));
    let row = conn
        .prepare_cached(&format!(
            "{ENGAGEMENT_SELECT} AND r.revision = COALESCE(?4, e.revision)
             WHERE e.account = ?1 AND e.campaign_id = ?2 AND e.id = ?3"
        ))
        .and_then(|mut s| {
            s.query_row(
                params![
                    account_id,
                    sql_id(campaign_id),
                    sql_id(engagement_id),
                    revision
                ],
                engagement_row,
            )
            .optional()
        })
        .map_err(sql_err)?;
    row.map(EngagementRow::decode).transpose()
}

pub(crate) fn definition_json(definition: &EngagementDefinition) -> Result<String, StoreError> {
    serde_json::to_string(&StoredDefinition::from_definition(definition))
        .map_err(|e| StoreError::Backend(format!("writing an engagement definition: {e}")))
}

impl SqliteStore {
    /// Runs one admin write on its own connection, off the async runtime.
    pub(super) async fn campaign_write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        if self.closed.load(Ordering::Acquire) {
            return Err(StoreError::Closed);
        }
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || write_blocking(&path, f))
            .await
            .map_err(|e| StoreError::Backend(format!("campaign write task failed: {e}")))?
    }

    /// An admin write of `account_id`'s: [`Self::campaign_write`], then the change is
    /// published on the feed (only once committed).
    pub(super) async fn admin_write<T, F>(&self, account_id: &str, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(&Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
        T: Send + 'static,
    {
        let out = self.campaign_write(f).await?;
        self.changes.account_changed(account_id);
        Ok(out)
    }
}

#[async_trait]
impl CampaignStore for SqliteStore {
    #[tracing::instrument(skip_all, fields(account = %account_id))]
    async fn create_app(
        &self,
        account_id: &str,
        name: &str,
    ) -> Result<AppInstallation, StoreError> {
        let (account, name) = (account_id.to_owned(), name.to_owned());
        self.admin_write(account_id, move |tx| {
            require_account(tx, &account)?;
            let app = AppInstallation {
                id: ids::app_installation_id()?,
                name,
                created_ms: ids::now_ms(),
            };
            tx.execute(
                "INSERT INTO apps (id, account, name, created_ms) VALUES (?1, ?2, ?3, ?4)",
                params![app.id, account, app.name, app.created_ms],
            )
            .map_err(sql_err)?;
            Ok(app)
        })
        .await
    }

    async fn apps(&self, account_id: &str) -> Result<Vec<AppInstallation>, StoreError> {
        let account = account_id.to_owned();
        self.readers
            .run(move |conn| {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT id, name, created_ms FROM apps WHERE account = ?1
                         ORDER BY created_ms, id",
                    )
                    .map_err(sql_err)?;
                let rows = stmt
                    .query_map([&account], |r| {
                        Ok(AppInstallation {
                            id: r.get(0)?,
                            name: r.get(1)?,
                            created_ms: r.get(2)?,
                        })
                    })
                    .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                    .map_err(sql_err)?;
                Ok(rows)
            })
            .await
    }

    #[tracing::instrument(skip_all, fields(account = %account_id))]
    async fn create_campaign(
        &self,
        account_id: &str,
        fields: CampaignFields,
    ) -> Result<Campaign, StoreError> {
        let account = account_id.to_owned();
        self.admin_write(account_id, move |tx| {
            require_account(tx, &account)?;
            let now = ids::now_ms();
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO campaigns (id, account, name, goal, priority, enabled, created_ms,
                         updated_ms, control_group_percent, attribution_window_days)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8, ?9) ON CONFLICT (id) DO NOTHING",
                )
                .map_err(sql_err)?;
            for _ in 0..64 {
                let id = ids::campaign_id()?;
                let written = insert
                    .execute(params![
                        sql_id(id),
                        account,
                        fields.name,
                        fields.goal,
                        fields.priority,
                        fields.enabled,
                        now,
                        fields.control_group_percent,
                        fields.attribution_window_days
                    ])
                    .map_err(sql_err)?;
                if written == 1 {
                    return Ok(Campaign {
                        id,
                        fields,
                        created_ms: now,
                        updated_ms: now,
                    });
                }
            }
            Err(StoreError::Backend(
                "no free campaign id after 64 tries".into(),
            ))
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(account = %account_id, campaign = campaign_id))]
    async fn update_campaign(
        &self,
        account_id: &str,
        campaign_id: u64,
        fields: CampaignFields,
    ) -> Result<Option<Campaign>, StoreError> {
        let account = account_id.to_owned();
        self.admin_write(account_id, move |tx| {
            let changed = tx
                .execute(
                    "UPDATE campaigns SET name = ?3, goal = ?4, priority = ?5, enabled = ?6, updated_ms = ?7,
                         control_group_percent = ?8, attribution_window_days = ?9
                     WHERE account = ?1 AND id = ?2",
                    params![
                        account,
                        sql_id(campaign_id),
                        fields.name,
                        fields.goal,
                        fields.priority,
                        fields.enabled,
                        ids::now_ms(),
                        fields.control_group_percent,
                        fields.attribution_window_days
                    ],
                )
                .map_err(sql_err)?;
            if changed == 0 {
                return Ok(None);
            }
            read_campaign(tx, &account, campaign_id)
        })
        .await
    }

    async fn campaign(
        &self,
        account_id: &str,
        campaign_id: u64,
    ) -> Result<Option<Campaign>, StoreError> {
        let account = account_id.to_owned();
        self.readers
            .run(move |conn| read_campaign(conn, &account, campaign_id))
            .await
    }

    async fn campaigns(&self, account_id: &str) -> Result<Vec<Campaign>, StoreError> {
        let account = account_id.to_owned();
        self.readers
            .run(move |conn| {
                let mut stmt = conn
                    .prepare_cached(&format!(
                        "SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE account = ?1 ORDER BY id"
                    ))
                    .map_err(sql_err)?;
                let rows = stmt
                    .query_map([&account], campaign_row)
                    .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                    .map_err(sql_err)?;
                Ok(rows)
            })
            .await
    }

    #[tracing::instrument(skip_all, fields(account = %account_id, campaign = campaign_id))]
    async fn create_engagement(
        &self,
        account_id: &str,
        campaign_id: u64,
        definition: EngagementDefinition,
        state: AgentState,
    ) -> Result<Option<Engagement>, StoreError> {
        let account = account_id.to_owned();
        let json = definition_json(&definition)?;
        self.admin_write(account_id, move |tx| {
            if read_campaign(tx, &account, campaign_id)?.is_none() {
                return Ok(None);
            }
            let now = ids::now_ms();
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO engagements (id, account, campaign_id, revision, state, created_ms, updated_ms)
                     VALUES (?1, ?2, ?3, 1, ?4, ?5, ?5) ON CONFLICT (id) DO NOTHING",
                )
                .map_err(sql_err)?;
            let mut id = None;
            for _ in 0..64 {
                let candidate = ids::campaign_id()?;
                let written = insert
                    .execute(params![
                        sql_id(candidate),
                        account,
                        sql_id(campaign_id),
                        state.code(),
                        now
                    ])
                    .map_err(sql_err)?;
                if written == 1 {
                    id = Some(candidate);
                    break;
                }
            }
            let id =
                id.ok_or_else(|| StoreError::Backend("no free engagement id after 64 tries".into()))?;
            tx.execute(
                "INSERT INTO engagement_revisions (engagement_id, revision, created_ms, definition)
                 VALUES (?1, 1, ?2, ?3)",
                params![sql_id(id), now, json],
            )
            .map_err(sql_err)?;
            Ok(Some(Engagement {
                campaign_id,
                id,
                revision: 1,
                latest_revision: 1,
                state,
                definition,
                created_ms: now,
                revised_ms: now,
            }))
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(account = %account_id, engagement = engagement_id))]
    async fn revise_engagement(
        &self,
        account_id: &str,
        campaign_id: u64,
        engagement_id: u64,
        definition: EngagementDefinition,
    ) -> Result<Option<Engagement>, StoreError> {
        let account = account_id.to_owned();
        let json = definition_json(&definition)?;
        self.admin_write(account_id, move |tx| {
            let now = ids::now_ms();
            let changed = tx
                .execute(
                    "UPDATE engagements SET revision = revision + 1, updated_ms = ?4
                     WHERE account = ?1 AND campaign_id = ?2 AND id = ?3",
                    params![account, sql_id(campaign_id), sql_id(engagement_id), now],
                )
                .map_err(sql_err)?;
            if changed == 0 {
                return Ok(None);
            }
            tx.execute(
                "INSERT INTO engagement_revisions (engagement_id, revision, created_ms, definition)
                 SELECT id, revision, ?2, ?3 FROM engagements WHERE id = ?1",
                params![sql_id(engagement_id), now, json],
            )
            .map_err(sql_err)?;
            read_engagement(tx, &account, campaign_id, engagement_id, None)
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(account = %account_id, engagement = engagement_id))]
    async fn set_engagement_state(
        &self,
        account_id: &str,
        campaign_id: u64,
        engagement_id: u64,
        state: AgentState,
    ) -> Result<Option<Engagement>, StoreError> {
        let account = account_id.to_owned();
        self.admin_write(account_id, move |tx| {
            let changed = tx
                .execute(
                    "UPDATE engagements SET state = ?4, updated_ms = ?5
                     WHERE account = ?1 AND campaign_id = ?2 AND id = ?3",
                    params![
                        account,
                        sql_id(campaign_id),
                        sql_id(engagement_id),
                        state.code(),
                        ids::now_ms()
                    ],
                )
                .map_err(sql_err)?;
            if changed == 0 {
                return Ok(None);
            }
            read_engagement(tx, &account, campaign_id, engagement_id, None)
        })
        .await
    }

    async fn engagement(
        &self,
        account_id: &str,
        campaign_id: u64,
        engagement_id: u64,
        revision: Option<u64>,
    ) -> Result<Option<Engagement>, StoreError> {
        let account = account_id.to_owned();
        self.readers
            .run(move |conn| read_engagement(conn, &account, campaign_id, engagement_id, revision))
            .await
    }

    async fn engagements(
        &self,
        account_id: &str,
        campaign_id: Option<u64>,
    ) -> Result<Vec<Engagement>, StoreError> {
        let account = account_id.to_owned();
        let campaign = campaign_id.map(sql_id);
        self.readers
            .run(move |conn| {
                let mut stmt = conn
                    .prepare_cached(&format!(
                        "{ENGAGEMENT_SELECT} AND r.revision = e.revision
                         WHERE e.account = ?1 AND (?2 IS NULL OR e.campaign_id = ?2)
                         ORDER BY e.campaign_id, e.id"
                    ))
                    .map_err(sql_err)?;
                let rows = stmt
                    .query_map(params![account, campaign], engagement_row)
                    .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                    .map_err(sql_err)?;
                rows.into_iter().map(EngagementRow::decode).collect()
            })
            .await
    }

    async fn impression_counts(
        &self,
        account_id: &str,
        visitor_id: &str,
    ) -> Result<Vec<(u64, u64)>, StoreError> {
        let (account, visitor) = (account_id.to_owned(), visitor_id.to_owned());
        self.readers
            .run(move |conn| {
                // An interaction row says whether it had an impression (see `compact`);
                // a visitor's are found through `interactions_visit`.
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT i.engagement_id, count(*)
                         FROM visits v
                         JOIN interactions i ON i.visit_id = v.id
                         WHERE v.account = ?1 AND v.visitor_id = ?2 AND i.impressed
                         GROUP BY i.engagement_id
                         ORDER BY i.engagement_id",
                    )
                    .map_err(sql_err)?;
                let rows = stmt
                    .query_map([&account, &visitor], |r| {
                        Ok((read_u64(r.get_ref(0)?), r.get::<_, i64>(1)?))
                    })
                    .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                    .map_err(sql_err)?;
                Ok(rows
                    .into_iter()
                    .filter_map(|(id, n)| Some((id?, u64::try_from(n).ok()?)))
                    .collect())
            })
            .await
    }

    async fn recent_interactions(
        &self,
        account_id: &str,
        visitor_id: &str,
        since_ms: i64,
        limit: usize,
    ) -> Result<Vec<RecentInteraction>, StoreError> {
        let (account, visitor) = (account_id.to_owned(), visitor_id.to_owned());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.readers
            .run(move |conn| {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT i.engagement_id, v.session_id, i.start_ms, i.impressed,
                                i.outcome = ?4
                         FROM visits v
                         JOIN interactions i ON i.visit_id = v.id
                         WHERE v.account = ?1 AND v.visitor_id = ?2 AND i.start_ms >= ?3
                         ORDER BY i.start_ms DESC
                         LIMIT ?5",
                    )
                    .map_err(sql_err)?;
                let rows = stmt
                    .query_map(
                        params![
                            account,
                            visitor,
                            since_ms,
                            crate::Outcome::Declined.rank(),
                            limit
                        ],
                        |r| {
                            Ok((
                                read_u64(r.get_ref(0)?),
                                r.get::<_, String>(1)?,
                                r.get::<_, i64>(2)?,
                                r.get::<_, bool>(3)?,
                                r.get::<_, bool>(4)?,
                            ))
                        },
                    )
                    .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                    .map_err(sql_err)?;
                Ok(rows
                    .into_iter()
                    .filter_map(|(id, session_id, start_ms, impressed, declined)| {
                        Some(RecentInteraction {
                            engagement_id: id?,
                            session_id,
                            start_ms,
                            impressed,
                            declined,
                        })
                    })
                    .collect())
            })
            .await
    }
}
