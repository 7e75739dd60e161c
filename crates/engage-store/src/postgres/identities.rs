//! Consumer identities and exposures (see `sqlite::identities` for what they are): one
//! statement each, keyed by the account first.

use tokio_postgres::{Client, Row};

use super::{from_sql_u64, pg_err, to_sql_u64};
use crate::{Exposure, StoreError};

pub(crate) async fn identity_visitor(
    client: &Client,
    account: &str,
    identity: &str,
) -> Result<Option<String>, StoreError> {
    client
        .query_opt(
            "SELECT visitor_id FROM consumer_identities WHERE account = $1 AND identity = $2",
            &[&account, &identity],
        )
        .await
        .map_err(pg_err)?
        .map(|r| r.try_get(0).map_err(pg_err))
        .transpose()
}

pub(crate) async fn link_identity(
    client: &Client,
    account: &str,
    identity: &str,
    visitor_id: &str,
) -> Result<String, StoreError> {
    // The first visitor linked keeps the identity: a concurrent link waits on the key,
    // then finds the row the other one wrote.
    client
        .execute(
            "INSERT INTO consumer_identities (account, identity, visitor_id, created_ms)
             VALUES ($1, $2, $3, $4) ON CONFLICT (account, identity) DO NOTHING",
            &[&account, &identity, &visitor_id, &crate::ids::now_ms()],
        )
        .await
        .map_err(pg_err)?;
    identity_visitor(client, account, identity)
        .await?
        .ok_or_else(|| StoreError::Backend("identity link lost".into()))
}

pub(crate) async fn record_exposures(
    client: &Client,
    account: &str,
    session_id: &str,
    exposures: &[Exposure],
) -> Result<(), StoreError> {
    let contexts: Vec<&str> = exposures.iter().map(|e| e.context_id.as_str()).collect();
    let campaigns: Vec<i64> = exposures
        .iter()
        .map(|e| to_sql_u64(e.campaign_id))
        .collect();
    let engagements: Vec<i64> = exposures
        .iter()
        .map(|e| to_sql_u64(e.engagement_id))
        .collect();
    client
        .execute(
            "INSERT INTO exposures (account, session_id, context_id, campaign_id, engagement_id,
                 shown_ms)
             SELECT $1, $2, c, cam, eng, $6
             FROM unnest($3::text[], $4::bigint[], $5::bigint[]) AS t(c, cam, eng)
             ON CONFLICT (account, session_id, context_id) DO NOTHING",
            &[
                &account,
                &session_id,
                &contexts,
                &campaigns,
                &engagements,
                &crate::ids::now_ms(),
            ],
        )
        .await
        .map_err(pg_err)?;
    Ok(())
}

fn exposure_row(r: &Row) -> Result<Exposure, StoreError> {
    Ok(Exposure {
        context_id: r.try_get(0).map_err(pg_err)?,
        campaign_id: from_sql_u64(r.try_get(1).map_err(pg_err)?),
        engagement_id: from_sql_u64(r.try_get(2).map_err(pg_err)?),
    })
}

pub(crate) async fn exposure(
    client: &Client,
    account: &str,
    session_id: &str,
    context_id: &str,
) -> Result<Option<Exposure>, StoreError> {
    client
        .query_opt(
            "SELECT context_id, campaign_id, engagement_id FROM exposures
             WHERE account = $1 AND session_id = $2 AND context_id = $3",
            &[&account, &session_id, &context_id],
        )
        .await
        .map_err(pg_err)?
        .as_ref()
        .map(exposure_row)
        .transpose()
}

pub(crate) async fn latest_exposure(
    client: &Client,
    account: &str,
    session_id: &str,
    campaign_id: u64,
    engagement_id: u64,
) -> Result<Option<Exposure>, StoreError> {
    client
        .query_opt(
            "SELECT context_id, campaign_id, engagement_id FROM exposures
             WHERE account = $1 AND session_id = $2 AND campaign_id = $3 AND engagement_id = $4
             ORDER BY shown_ms DESC, context_id COLLATE \"C\" DESC LIMIT 1",
            &[
                &account,
                &session_id,
                &to_sql_u64(campaign_id),
                &to_sql_u64(engagement_id),
            ],
        )
        .await
        .map_err(pg_err)?
        .as_ref()
        .map(exposure_row)
        .transpose()
}
