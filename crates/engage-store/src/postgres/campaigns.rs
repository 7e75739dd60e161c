//! [`CampaignStore`] for PostgreSQL: apps, campaigns and revisioned engagements, each
//! write one transaction on a pooled connection. Definitions are stored as the same
//! JSON text the SQLite backend writes (`sqlite::campaigns::StoredDefinition`).

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use engage_model::AgentState;
use tokio_postgres::Row;

use super::{from_sql_u64, pg_err, to_sql_u64, PostgresStore};
use crate::sqlite::campaigns::{definition_json, StoredDefinition};
use crate::{
    ids, AppInstallation, Campaign, CampaignFields, CampaignStore, Engagement,
    EngagementDefinition, RecentInteraction, StoreError,
};

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("stored campaign data is unreadable: {what}"))
}

pub(super) async fn require_account(
    client: &impl GenericClient,
    account: &str,
) -> Result<(), StoreError> {
    let known = client
        .query_opt("SELECT 1 FROM accounts WHERE account = $1", &[&account])
        .await
        .map_err(pg_err)?;
    if known.is_some() {
        Ok(())
    } else {
        Err(StoreError::UnknownAccount(account.to_owned()))
    }
}

const CAMPAIGN_COLUMNS: &str = "campaign_id, name, goal, priority, enabled, created_ms, updated_ms,
     control_group_percent, attribution_window_days";

fn campaign_row(r: &Row) -> Result<Campaign, StoreError> {
    let priority: i64 = r.try_get(3).map_err(pg_err)?;
    Ok(Campaign {
        id: from_sql_u64(r.try_get(0).map_err(pg_err)?),
        fields: CampaignFields {
            name: r.try_get(1).map_err(pg_err)?,
            goal: r.try_get(2).map_err(pg_err)?,
            priority: u32::try_from(priority).unwrap_or(u32::MAX),
            enabled: r.try_get(4).map_err(pg_err)?,
            control_group_percent: u8::try_from(r.try_get::<_, i16>(7).map_err(pg_err)?)
                .unwrap_or(0),
            attribution_window_days: u8::try_from(r.try_get::<_, i16>(8).map_err(pg_err)?)
                .unwrap_or(CampaignFields::DEFAULT_ATTRIBUTION_WINDOW_DAYS),
        },
        created_ms: r.try_get(5).map_err(pg_err)?,
        updated_ms: r.try_get(6).map_err(pg_err)?,
    })
}

async fn read_campaign(
    client: &impl GenericClient,
    account: &str,
    campaign_id: u64,
) -> Result<Option<Campaign>, StoreError> {
    client
        .query_opt(
            &format!(
                "SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE account = $1 AND campaign_id = $2"
            ),
            &[&account, &to_sql_u64(campaign_id)],
        )
        .await
        .map_err(pg_err)?
        .as_ref()
        .map(campaign_row)
        .transpose()
}

const ENGAGEMENT_SELECT: &str = "SELECT e.campaign_id, e.engagement_id, e.revision, e.state,
            e.created_ms, r.revision, r.created_ms, r.definition
     FROM engagements e
     JOIN engagement_revisions r ON r.account = e.account AND r.engagement_id = e.engagement_id";

fn engagement_row(r: &Row) -> Result<Engagement, StoreError> {
    let id = from_sql_u64(r.try_get(1).map_err(pg_err)?);
    let state: i16 = r.try_get(3).map_err(pg_err)?;
    let definition: &str = r.try_get(7).map_err(pg_err)?;
    let stored: StoredDefinition = serde_json::from_str(definition)
        .map_err(|e| corrupt(format!("engagement {id} definition: {e}")))?;
    let state = u64::try_from(state)
        .ok()
        .and_then(AgentState::from_code)
        .ok_or_else(|| corrupt(format!("engagement {id} state {state}")))?;
    Ok(Engagement {
        campaign_id: from_sql_u64(r.try_get(0).map_err(pg_err)?),
        id,
        revision: from_sql_u64(r.try_get(5).map_err(pg_err)?),
        latest_revision: from_sql_u64(r.try_get(2).map_err(pg_err)?),
        state,
        definition: stored.into_definition()?,
        created_ms: r.try_get(4).map_err(pg_err)?,
        revised_ms: r.try_get(6).map_err(pg_err)?,
    })
}

async fn read_engagement(
    client: &impl GenericClient,
    account: &str,
    campaign_id: u64,
    engagement_id: u64,
    revision: Option<u64>,
) -> Result<Option<Engagement>, StoreError> {
    let revision = revision.map(to_sql_u64);
    client
        .query_opt(
            &format!(
                "{ENGAGEMENT_SELECT} AND r.revision = coalesce($4, e.revision)
                 WHERE e.account = $1 AND e.campaign_id = $2 AND e.engagement_id = $3"
            ),
            &[
                &account,
                &to_sql_u64(campaign_id),
                &to_sql_u64(engagement_id),
                &revision,
            ],
        )
        .await
        .map_err(pg_err)?
        .as_ref()
        .map(engagement_row)
        .transpose()
}

#[async_trait]
impl CampaignStore for PostgresStore {
    #[tracing::instrument(skip_all, fields(account = %account_id))]
    async fn create_app(
        &self,
        account_id: &str,
        name: &str,
    ) -> Result<AppInstallation, StoreError> {
        self.writable()?;
        let client = self.conn().await?;
        require_account(&client, account_id).await?;
        let app = AppInstallation {
            id: ids::app_installation_id()?,
            name: name.to_owned(),
            created_ms: ids::now_ms(),
        };
        client
            .execute(
                "INSERT INTO apps (account, app_id, name, created_ms) VALUES ($1, $2, $3, $4)",
                &[&account_id, &app.id, &app.name, &app.created_ms],
            )
            .await
            .map_err(pg_err)?;
        Ok(app)
    }

    async fn apps(&self, account_id: &str) -> Result<Vec<AppInstallation>, StoreError> {
        self.conn()
            .await?
            .query(
                "SELECT app_id, name, created_ms FROM apps WHERE account = $1
                 ORDER BY created_ms, app_id COLLATE \"C\"",
                &[&account_id],
            )
            .await
            .map_err(pg_err)?
            .iter()
            .map(|r| {
                Ok(AppInstallation {
                    id: r.try_get(0).map_err(pg_err)?,
                    name: r.try_get(1).map_err(pg_err)?,
                    created_ms: r.try_get(2).map_err(pg_err)?,
                })
            })
            .collect()
    }

    #[tracing::instrument(skip_all, fields(account = %account_id))]
    async fn create_campaign(
        &self,
        account_id: &str,
        fields: CampaignFields,
    ) -> Result<Campaign, StoreError> {
        self.writable()?;
        let client = self.conn().await?;
        require_account(&client, account_id).await?;
        let now = ids::now_ms();
        for _ in 0..64 {
            let id = ids::campaign_id()?;
            let written = client
                .execute(
                    "INSERT INTO campaigns (account, campaign_id, name, goal, priority, enabled,
                         created_ms, updated_ms, control_group_percent, attribution_window_days)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9) ON CONFLICT DO NOTHING",
                    &[
                        &account_id,
                        &to_sql_u64(id),
                        &fields.name,
                        &fields.goal,
                        &i64::from(fields.priority),
                        &fields.enabled,
                        &now,
                        &i16::from(fields.control_group_percent),
                        &i16::from(fields.attribution_window_days),
                    ],
                )
                .await
                .map_err(pg_err)?;
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
    }

    #[tracing::instrument(skip_all, fields(account = %account_id, campaign = campaign_id))]
    async fn update_campaign(
        &self,
        account_id: &str,
        campaign_id: u64,
        fields: CampaignFields,
    ) -> Result<Option<Campaign>, StoreError> {
        self.writable()?;
        self.conn()
            .await?
            .query_opt(
                &format!(
                    "UPDATE campaigns SET name = $3, goal = $4, priority = $5, enabled = $6,
                         updated_ms = $7, control_group_percent = $8, attribution_window_days = $9
                     WHERE account = $1 AND campaign_id = $2
                     RETURNING {CAMPAIGN_COLUMNS}"
                ),
                &[
                    &account_id,
                    &to_sql_u64(campaign_id),
                    &fields.name,
                    &fields.goal,
                    &i64::from(fields.priority),
                    &fields.enabled,
                    &ids::now_ms(),
                    &i16::from(fields.control_group_percent),
                    &i16::from(fields.attribution_window_days),
                ],
            )
            .await
            .map_err(pg_err)?
            .as_ref()
            .map(campaign_row)
            .transpose()
    }

    async fn campaign(
        &self,
        account_id: &str,
        campaign_id: u64,
    ) -> Result<Option<Campaign>, StoreError> {
        read_campaign(&self.conn().await?, account_id, campaign_id).await
    }

    async fn campaigns(&self, account_id: &str) -> Result<Vec<Campaign>, StoreError> {
        self.conn()
            .await?
            .query(
                &format!(
                    "SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE account = $1
                     ORDER BY campaign_id"
                ),
                &[&account_id],
            )
            .await
            .map_err(pg_err)?
            .iter()
            .map(campaign_row)
            .collect()
    }

    #[tracing::instrument(skip_all, fields(account = %account_id, campaign = campaign_id))]
    async fn create_engagement(
        &self,
        account_id: &str,
        campaign_id: u64,
        definition: EngagementDefinition,
        state: AgentState,
    ) -> Result<Option<Engagement>, StoreError> {
        self.writable()?;
        let json = definition_json(&definition)?;
        let mut client = self.conn().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        if read_campaign(&tx, account_id, campaign_id).await?.is_none() {
            return Ok(None);
        }
        let now = ids::now_ms();
        let mut id = None;
        for _ in 0..64 {
            let candidate = ids::campaign_id()?;
            let written = tx
                .execute(
                    "INSERT INTO engagements (account, engagement_id, campaign_id, revision, state,
                         created_ms, updated_ms)
                     VALUES ($1, $2, $3, 1, $4, $5, $5) ON CONFLICT DO NOTHING",
                    &[
                        &account_id,
                        &to_sql_u64(candidate),
                        &to_sql_u64(campaign_id),
                        &i16::from(state.code()),
                        &now,
                    ],
                )
                .await
                .map_err(pg_err)?;
            if written == 1 {
                id = Some(candidate);
                break;
            }
        }
        let id =
            id.ok_or_else(|| StoreError::Backend("no free engagement id after 64 tries".into()))?;
        tx.execute(
            "INSERT INTO engagement_revisions (account, engagement_id, revision, created_ms,
                 definition)
             VALUES ($1, $2, 1, $3, $4)",
            &[&account_id, &to_sql_u64(id), &now, &json],
        )
        .await
        .map_err(pg_err)?;
        tx.commit().await.map_err(pg_err)?;
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
    }

    #[tracing::instrument(skip_all, fields(account = %account_id, engagement = engagement_id))]
    async fn revise_engagement(
        &self,
        account_id: &str,
        campaign_id: u64,
        engagement_id: u64,
        definition: EngagementDefinition,
    ) -> Result<Option<Engagement>, StoreError> {
        self.writable()?;
        let json = definition_json(&definition)?;
        let mut client = self.conn().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        let now = ids::now_ms();
        // The row lock of the UPDATE orders concurrent revisions of one engagement.
        let revision = tx
            .query_opt(
                "UPDATE engagements SET revision = revision + 1, updated_ms = $4
                 WHERE account = $1 AND campaign_id = $2 AND engagement_id = $3
                 RETURNING revision",
                &[
                    &account_id,
                    &to_sql_u64(campaign_id),
                    &to_sql_u64(engagement_id),
                    &now,
                ],
            )
            .await
            .map_err(pg_err)?;
        let Some(revision) = revision else {
            return Ok(None);
        };
        let revision: i64 = revision.try_get(0).map_err(pg_err)?;
        tx.execute(
            "INSERT INTO engagement_revisions (account, engagement_id, revision, created_ms,
                 definition)
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &account_id,
                &to_sql_u64(engagement_id),
                &revision,
                &now,
                &json,
            ],
        )
        .await
        .map_err(pg_err)?;
        let engagement = read_engagement(&tx, account_id, campaign_id, engagement_id, None).await?;
        tx.commit().await.map_err(pg_err)?;
        Ok(engagement)
    }

    #[tracing::instrument(skip_all, fields(account = %account_id, engagement = engagement_id))]
    async fn set_engagement_state(
        &self,
        account_id: &str,
        campaign_id: u64,
        engagement_id: u64,
        state: AgentState,
    ) -> Result<Option<Engagement>, StoreError> {
        self.writable()?;
        let mut client = self.conn().await?;
        let tx = client.transaction().await.map_err(pg_err)?;
        let changed = tx
            .execute(
                "UPDATE engagements SET state = $4, updated_ms = $5
                 WHERE account = $1 AND campaign_id = $2 AND engagement_id = $3",
                &[
                    &account_id,
                    &to_sql_u64(campaign_id),
                    &to_sql_u64(engagement_id),
                    &i16::from(state.code()),
                    &ids::now_ms(),
                ],
            )
            .await
            .map_err(pg_err)?;
        if changed == 0 {
            return Ok(None);
        }
        let engagement = read_engagement(&tx, account_id, campaign_id, engagement_id, None).await?;
        tx.commit().await.map_err(pg_err)?;
        Ok(engagement)
    }

    async fn engagement(
        &self,
        account_id: &str,
        campaign_id: u64,
        engagement_id: u64,
        revision: Option<u64>,
    ) -> Result<Option<Engagement>, StoreError> {
        read_engagement(
            &self.conn().await?,
            account_id,
            campaign_id,
            engagement_id,
            revision,
        )
        .await
    }

    async fn engagements(
        &self,
        account_id: &str,
        campaign_id: Option<u64>,
    ) -> Result<Vec<Engagement>, StoreError> {
        let campaign = campaign_id.map(to_sql_u64);
        self.conn()
            .await?
            .query(
                &format!(
                    "{ENGAGEMENT_SELECT} AND r.revision = e.revision
                     WHERE e.account = $1 AND ($2::bigint IS NULL OR e.campaign_id = $2)
                     ORDER BY e.campaign_id, e.engagement_id"
                ),
                &[&account_id, &campaign],
            )
            .await
            .map_err(pg_err)?
            .iter()
            .map(engagement_row)
            .collect()
    }

    async fn impression_counts(
        &self,
        account_id: &str,
        visitor_id: &str,
    ) -> Result<Vec<(u64, u64)>, StoreError> {
        self.conn()
            .await?
            // The interaction row keeps whether an OFFER_IMPRESSION arrived.
            .query(
                "SELECT i.engagement_id, count(*)
                 FROM visits v
                 JOIN interactions i ON i.account = v.account AND i.visit_id = v.visit_id
                 WHERE v.account = $1 AND v.visitor_id = $2 AND i.impressed
                 GROUP BY i.engagement_id
                 ORDER BY i.engagement_id",
                &[&account_id, &visitor_id],
            )
            .await
            .map_err(pg_err)?
            .iter()
            .map(|r| {
                let n: i64 = r.try_get(1).map_err(pg_err)?;
                Ok((
                    from_sql_u64(r.try_get(0).map_err(pg_err)?),
                    u64::try_from(n).unwrap_or(0),
                ))
            })
            .collect()
    }

    async fn recent_interactions(
        &self,
        account_id: &str,
        visitor_id: &str,
        since_ms: i64,
        limit: usize,
    ) -> Result<Vec<RecentInteraction>, StoreError> {
        let declined = i16::from(crate::Outcome::Declined.rank());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.conn()
            .await?
            // `impressed`: the interaction has an OFFER_IMPRESSION (see `runs`).
            .query(
                "SELECT i.engagement_id, v.session_id, i.start_ms, i.impressed,
                        i.outcome = $4
                 FROM visits v
                 JOIN interactions i ON i.account = v.account AND i.visit_id = v.visit_id
                 WHERE v.account = $1 AND v.visitor_id = $2 AND i.start_ms >= $3
                 ORDER BY i.start_ms DESC
                 LIMIT $5",
                &[&account_id, &visitor_id, &since_ms, &declined, &limit],
            )
            .await
            .map_err(pg_err)?
            .iter()
            .map(|r| {
                Ok(RecentInteraction {
                    engagement_id: from_sql_u64(r.try_get(0).map_err(pg_err)?),
                    session_id: r.try_get(1).map_err(pg_err)?,
                    start_ms: r.try_get(2).map_err(pg_err)?,
                    impressed: r.try_get(3).map_err(pg_err)?,
                    declined: r.try_get(4).map_err(pg_err)?,
                })
            })
            .collect()
    }
}
