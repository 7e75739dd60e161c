//! The results rollups on PostgreSQL (see [`crate::analytics`]): the same six as on
//! SQLite, written in the ingest group's transaction or the eligibility write's.
//!
//! One difference, for concurrency: several writer tasks (and servers) commit groups at
//! once, and every group of a busy site touches the same engagement's hour. An upserted
//! counter row would be locked by each group until its commit, so the writers would take
//! turns on it; offer counts are therefore appended (one row per engagement, hour and
//! group, never updated) and summed when read. The other rollups are keyed by visitor and
//! rarely meet another group's rows; their statements take keys in sorted order so two
//! groups cannot deadlock.

use std::collections::BTreeMap;

use deadpool_postgres::Transaction;

use super::{from_sql_u64, pg_err, to_sql_u64};
use crate::analytics::{
    day_of, hour_of, AnalyticsFacts, AnalyticsScope, EligibilityFact, EligibilityRecord,
    OfferCount, OfferVisitor, PurchaseFact, RollupDelta, Step, StepOccurrence, StepScope,
    VisitorHour,
};
use crate::StoreError;

/// Schema version 9: the rollups' tables and the campaign columns.
/// The coupon action's reveals and copies per engagement and hour (`COUPON_REVEALED`,
/// `COUPON_COPIED`); rows written before count none.
pub(crate) const COUPONS_MIGRATION: &str = r#"
ALTER TABLE analytics_offer_counts ADD COLUMN coupon_reveals bigint NOT NULL DEFAULT 0;
ALTER TABLE analytics_offer_counts ADD COLUMN coupon_copies bigint NOT NULL DEFAULT 0;
"#;

pub(crate) const MIGRATION: &str = r#"
ALTER TABLE campaigns
    ADD COLUMN control_group_percent smallint NOT NULL DEFAULT 0,
    ADD COLUMN attribution_window_days smallint NOT NULL DEFAULT 7;

CREATE TABLE analytics_visitors (
    account    text NOT NULL,
    hour_ms    bigint NOT NULL,
    visitor_id text NOT NULL,
    PRIMARY KEY (account, hour_ms, visitor_id)
);

CREATE TABLE analytics_eligibility (
    account       text NOT NULL,
    campaign_id   bigint NOT NULL,
    day_ms        bigint NOT NULL,
    visitor_id    text NOT NULL,
    engagement_id bigint NOT NULL,
    control       boolean NOT NULL,
    first_ms      bigint NOT NULL,
    PRIMARY KEY (account, campaign_id, day_ms, visitor_id)
);
CREATE INDEX analytics_eligibility_time ON analytics_eligibility (account, first_ms);

CREATE TABLE analytics_cohort (
    account       text NOT NULL,
    campaign_id   bigint NOT NULL,
    visitor_id    text NOT NULL,
    engagement_id bigint NOT NULL,
    control       boolean NOT NULL,
    first_ms      bigint NOT NULL,
    PRIMARY KEY (account, campaign_id, visitor_id)
);
CREATE INDEX analytics_cohort_time ON analytics_cohort (account, first_ms);
CREATE INDEX analytics_cohort_campaign_time ON analytics_cohort (account, campaign_id, first_ms);
CREATE INDEX analytics_cohort_visitor ON analytics_cohort (account, visitor_id);

-- Appended, one row per engagement, hour and ingest group; read as sums.
CREATE TABLE analytics_offer_counts (
    account       text NOT NULL,
    campaign_id   bigint NOT NULL,
    engagement_id bigint NOT NULL,
    hour_ms       bigint NOT NULL,
    impressions   bigint NOT NULL,
    clicks        bigint NOT NULL,
    declines      bigint NOT NULL,
    timeouts      bigint NOT NULL
);
CREATE INDEX analytics_offer_counts_hour ON analytics_offer_counts (account, hour_ms);

CREATE TABLE analytics_offer_visitors (
    account             text NOT NULL,
    campaign_id         bigint NOT NULL,
    visitor_id          text NOT NULL,
    first_impression_ms bigint,
    first_click_ms      bigint,
    PRIMARY KEY (account, campaign_id, visitor_id)
);

CREATE TABLE analytics_purchases (
    account      text NOT NULL,
    visitor_id   text NOT NULL,
    at_ms        bigint NOT NULL,
    currency     text NOT NULL,
    total_micros bigint NOT NULL
);
CREATE INDEX analytics_purchases_visitor ON analytics_purchases (account, visitor_id, at_ms);

CREATE TABLE analytics_steps (
    account       text NOT NULL,
    at_ms         bigint NOT NULL,
    visitor_id    text NOT NULL,
    step          smallint NOT NULL,
    campaign_id   bigint NOT NULL,
    engagement_id bigint NOT NULL,
    PRIMARY KEY (account, at_ms, visitor_id, step, campaign_id, engagement_id)
);
"#;

/// Offer counts' columns: account, campaign, engagement, hour, the four counts.
type CountColumns<'a> = (Vec<&'a str>, Vec<i64>, Vec<i64>, Vec<i64>, [Vec<i64>; 6]);
/// Offer visitors' columns: account, campaign, visitor, first impression, first click.
type FirstColumns<'a> = (
    Vec<&'a str>,
    Vec<i64>,
    Vec<&'a str>,
    Vec<Option<i64>>,
    Vec<Option<i64>>,
);
/// Purchases' columns: account, visitor, time, currency, total.
type PurchaseColumns<'a> = (Vec<&'a str>, Vec<&'a str>, Vec<i64>, Vec<&'a str>, Vec<i64>);

/// Step columns: account, time, visitor, step code, campaign, engagement.
type StepColumns<'a> = (
    Vec<&'a str>,
    Vec<i64>,
    Vec<&'a str>,
    Vec<i16>,
    Vec<i64>,
    Vec<i64>,
);

/// Writes the deltas of one ingest group (per account, in account order) inside its
/// transaction.
pub(crate) async fn write_deltas(
    tx: &Transaction<'_>,
    deltas: &BTreeMap<&str, RollupDelta>,
) -> Result<(), tokio_postgres::Error> {
    let mut visitors = (Vec::new(), Vec::new(), Vec::new());
    let mut counts = CountColumns::default();
    let mut firsts = FirstColumns::default();
    let mut purchases = PurchaseColumns::default();
    let mut steps = StepColumns::default();
    for (account, delta) in deltas {
        for (hour, visitor) in &delta.visitor_hours {
            visitors.0.push(*account);
            visitors.1.push(*hour);
            visitors.2.push(visitor.as_str());
        }
        for ((campaign, engagement, hour), n) in &delta.offer_counts {
            counts.0.push(*account);
            counts.1.push(to_sql_u64(*campaign));
            counts.2.push(to_sql_u64(*engagement));
            counts.3.push(*hour);
            for (column, value) in counts.4.iter_mut().zip(n) {
                column.push(*value);
            }
        }
        for ((campaign, visitor), (impression, click)) in &delta.offer_visitors {
            firsts.0.push(*account);
            firsts.1.push(to_sql_u64(*campaign));
            firsts.2.push(visitor.as_str());
            firsts.3.push(*impression);
            firsts.4.push(*click);
        }
        for o in &delta.steps {
            steps.0.push(*account);
            steps.1.push(o.at_ms);
            steps.2.push(o.visitor_id.as_str());
            steps.3.push(o.step.code());
            steps.4.push(to_sql_u64(o.campaign_id));
            steps.5.push(to_sql_u64(o.engagement_id));
        }
        for p in &delta.purchases {
            purchases.0.push(*account);
            purchases.1.push(p.visitor_id.as_str());
            purchases.2.push(p.at_ms);
            purchases.3.push(p.currency.as_str());
            purchases.4.push(p.total_micros);
        }
    }
    if !visitors.0.is_empty() {
        let sql = "INSERT INTO analytics_visitors (account, hour_ms, visitor_id)
                   SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[])
                   ON CONFLICT DO NOTHING";
        let statement = tx.prepare_cached(sql).await?;
        tx.execute(&statement, &[&visitors.0, &visitors.1, &visitors.2])
            .await?;
    }
    if !counts.0.is_empty() {
        let sql = "INSERT INTO analytics_offer_counts (account, campaign_id, engagement_id,
                       hour_ms, impressions, clicks, declines, timeouts, coupon_reveals,
                       coupon_copies)
                   SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[],
                       $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[],
                       $10::bigint[])";
        let statement = tx.prepare_cached(sql).await?;
        let [i, c, d, t, r, y] = &counts.4;
        tx.execute(
            &statement,
            &[&counts.0, &counts.1, &counts.2, &counts.3, i, c, d, t, r, y],
        )
        .await?;
    }
    if !firsts.0.is_empty() {
        let sql = "INSERT INTO analytics_offer_visitors (account, campaign_id, visitor_id,
                       first_impression_ms, first_click_ms)
                   SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[],
                       $5::bigint[])
                   ON CONFLICT (account, campaign_id, visitor_id) DO UPDATE SET
                       first_impression_ms = LEAST(analytics_offer_visitors.first_impression_ms,
                           excluded.first_impression_ms),
                       first_click_ms = LEAST(analytics_offer_visitors.first_click_ms,
                           excluded.first_click_ms)";
        let statement = tx.prepare_cached(sql).await?;
        tx.execute(
            &statement,
            &[&firsts.0, &firsts.1, &firsts.2, &firsts.3, &firsts.4],
        )
        .await?;
    }
    if !steps.0.is_empty() {
        let sql = "INSERT INTO analytics_steps (account, at_ms, visitor_id, step, campaign_id,
                       engagement_id)
                   SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::smallint[],
                       $5::bigint[], $6::bigint[])
                   ON CONFLICT DO NOTHING";
        let statement = tx.prepare_cached(sql).await?;
        tx.execute(
            &statement,
            &[&steps.0, &steps.1, &steps.2, &steps.3, &steps.4, &steps.5],
        )
        .await?;
    }
    if !purchases.0.is_empty() {
        let sql = "INSERT INTO analytics_purchases (account, visitor_id, at_ms, currency,
                       total_micros)
                   SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[],
                       $5::bigint[])";
        let statement = tx.prepare_cached(sql).await?;
        tx.execute(
            &statement,
            &[
                &purchases.0,
                &purchases.1,
                &purchases.2,
                &purchases.3,
                &purchases.4,
            ],
        )
        .await?;
    }
    Ok(())
}

/// Writes eligibility records in one transaction; answers the per-day rows written
/// (new, or moved to an earlier time of the same day).
pub(crate) async fn record_eligibility(
    client: &mut tokio_postgres::Client,
    account: &str,
    mut records: Vec<EligibilityRecord>,
) -> Result<usize, StoreError> {
    // Sorted and one per key: a statement may not upsert a row twice, and two writers
    // lock rows in the same order.
    records.sort_by(|a, b| {
        (a.campaign_id, &a.visitor_id, a.at_ms).cmp(&(b.campaign_id, &b.visitor_id, b.at_ms))
    });
    let mut day_rows: BTreeMap<(u64, i64, &str), &EligibilityRecord> = BTreeMap::new();
    let mut cohort_rows: BTreeMap<(u64, &str), &EligibilityRecord> = BTreeMap::new();
    for r in &records {
        day_rows
            .entry((r.campaign_id, day_of(r.at_ms), r.visitor_id.as_str()))
            .or_insert(r);
        cohort_rows
            .entry((r.campaign_id, r.visitor_id.as_str()))
            .or_insert(r);
    }
    let days = columns(day_rows.values().copied());
    let cohort = columns(cohort_rows.values().copied());
    let tx = client.transaction().await.map_err(pg_err)?;
    let written = tx
        .execute(
            "INSERT INTO analytics_eligibility AS e (account, campaign_id, day_ms, visitor_id,
                 engagement_id, control, first_ms)
             SELECT $1, * FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::bigint[],
                 $6::boolean[], $7::bigint[])
             ON CONFLICT (account, campaign_id, day_ms, visitor_id) DO UPDATE SET
                 engagement_id = excluded.engagement_id, control = excluded.control,
                 first_ms = excluded.first_ms
             WHERE excluded.first_ms < e.first_ms",
            &[
                &account, &days.0, &days.1, &days.2, &days.3, &days.4, &days.5,
            ],
        )
        .await
        .map_err(pg_err)?;
    tx.execute(
        "INSERT INTO analytics_cohort AS c (account, campaign_id, visitor_id, engagement_id,
             control, first_ms)
         SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::bigint[], $5::boolean[],
             $6::bigint[])
         ON CONFLICT (account, campaign_id, visitor_id) DO UPDATE SET
             engagement_id = excluded.engagement_id, control = excluded.control,
             first_ms = excluded.first_ms
         WHERE excluded.first_ms < c.first_ms",
        &[
            &account, &cohort.0, &cohort.2, &cohort.3, &cohort.4, &cohort.5,
        ],
    )
    .await
    .map_err(pg_err)?;
    tx.commit().await.map_err(pg_err)?;
    Ok(usize::try_from(written).unwrap_or(usize::MAX))
}

/// An eligibility write's columns: campaign, day, visitor, engagement, control, time.
type EligibilityColumns<'a> = (
    Vec<i64>,
    Vec<i64>,
    Vec<&'a str>,
    Vec<i64>,
    Vec<bool>,
    Vec<i64>,
);

fn columns<'a>(rows: impl Iterator<Item = &'a EligibilityRecord>) -> EligibilityColumns<'a> {
    let mut c: EligibilityColumns<'a> = Default::default();
    for r in rows {
        c.0.push(to_sql_u64(r.campaign_id));
        c.1.push(day_of(r.at_ms));
        c.2.push(r.visitor_id.as_str());
        c.3.push(to_sql_u64(r.engagement_id));
        c.4.push(r.control);
        c.5.push(r.at_ms);
    }
    c
}

/// What a report over `scope` reads (see [`AnalyticsFacts`]).
pub(crate) async fn facts(
    client: &tokio_postgres::Client,
    account: &str,
    scope: &AnalyticsScope,
) -> Result<AnalyticsFacts, StoreError> {
    let campaigns: Vec<i64> = scope.campaign_ids.iter().map(|c| to_sql_u64(*c)).collect();
    let engagements: Vec<i64> = scope
        .engagement_ids
        .iter()
        .map(|e| to_sql_u64(*e))
        .collect();
    let (from, to) = (scope.from_ms, scope.to_ms);
    let purchases_to = to.saturating_add(scope.attribution_ms);
    // An absent filter is no condition at all, so a present one can use the keys.
    let filter = |alias: &str| {
        let campaign = if scope.campaign_ids.is_empty() {
            "cardinality($4::bigint[]) = 0".to_owned()
        } else {
            format!("{alias}campaign_id = ANY($4)")
        };
        let engagement = if scope.engagement_ids.is_empty() {
            "cardinality($5::bigint[]) = 0".to_owned()
        } else {
            format!("{alias}engagement_id = ANY($5)")
        };
        format!("{campaign} AND {engagement}")
    };
    let plain = filter("");
    let aliased = filter("c.");

    let visitors = client
        .query(
            "SELECT hour_ms, visitor_id FROM analytics_visitors
             WHERE account = $1 AND hour_ms >= $2 AND hour_ms < $3",
            &[&account, &from, &to],
        )
        .await
        .map_err(pg_err)?;
    let (campaigns, engagements) = (&campaigns, &engagements);
    let plain_ref = plain.as_str();
    let eligibility = |table: &'static str, days: &'static str| async move {
        client
            .query(
                &format!(
                    "SELECT campaign_id, engagement_id, visitor_id, control, first_ms FROM {table}
                     WHERE account = $1 AND first_ms >= $2 AND first_ms < $3 {days}
                       AND {plain_ref}"
                ),
                &[&account, &from, &to, campaigns, engagements],
            )
            .await
            .map_err(pg_err)
    };
    // A day's row holds that day's first time: the day bounds let the key narrow.
    let days = eligibility(
        "analytics_eligibility",
        "AND day_ms >= $2 - ($2 % 86400000) AND day_ms < $3",
    )
    .await?;
    let cohort = eligibility("analytics_cohort", "").await?;
    let counts = client
        .query(
            &format!(
                "SELECT campaign_id, engagement_id, hour_ms, sum(impressions)::bigint,
                     sum(clicks)::bigint, sum(declines)::bigint, sum(timeouts)::bigint,
                     sum(coupon_reveals)::bigint, sum(coupon_copies)::bigint
                 FROM analytics_offer_counts
                 WHERE account = $1 AND hour_ms >= $2 AND hour_ms < $3 AND {plain}
                 GROUP BY campaign_id, engagement_id, hour_ms"
            ),
            &[&account, &hour_of(from), &to, campaigns, engagements],
        )
        .await
        .map_err(pg_err)?;
    let offer_visitors = client
        .query(
            &format!(
                "SELECT o.campaign_id, o.visitor_id, o.first_impression_ms, o.first_click_ms
                 FROM analytics_cohort c
                 JOIN analytics_offer_visitors o ON o.account = c.account
                     AND o.campaign_id = c.campaign_id AND o.visitor_id = c.visitor_id
                 WHERE c.account = $1 AND c.first_ms >= $2 AND c.first_ms < $3 AND {aliased}"
            ),
            &[&account, &from, &to, campaigns, engagements],
        )
        .await
        .map_err(pg_err)?;
    let purchases = client
        .query(
            &format!(
                "SELECT p.visitor_id, p.at_ms, p.currency, p.total_micros
                 FROM analytics_purchases p
                 WHERE p.account = $1 AND p.at_ms >= $2 AND p.at_ms < $6
                   AND p.visitor_id IN (
                       SELECT visitor_id FROM analytics_cohort
                       WHERE account = $1 AND first_ms >= $2 AND first_ms < $3 AND {plain})"
            ),
            &[&account, &from, &to, campaigns, engagements, &purchases_to],
        )
        .await
        .map_err(pg_err)?;

    let mut facts = AnalyticsFacts::default();
    for r in visitors {
        let v = VisitorHour {
            hour_ms: r.try_get(0).map_err(pg_err)?,
            visitor_id: r.try_get(1).map_err(pg_err)?,
        };
        if scope.covers_time(v.hour_ms) {
            facts.visitors.push(v);
        }
    }
    for (rows, out) in [(days, &mut facts.eligibility), (cohort, &mut facts.cohort)] {
        for r in rows {
            out.push(EligibilityFact {
                campaign_id: from_sql_u64(r.try_get(0).map_err(pg_err)?),
                engagement_id: from_sql_u64(r.try_get(1).map_err(pg_err)?),
                visitor_id: r.try_get(2).map_err(pg_err)?,
                control: r.try_get(3).map_err(pg_err)?,
                at_ms: r.try_get(4).map_err(pg_err)?,
            });
        }
    }
    let count = |r: &tokio_postgres::Row, i: usize| -> Result<u64, StoreError> {
        Ok(u64::try_from(r.try_get::<_, i64>(i).map_err(pg_err)?).unwrap_or(0))
    };
    for r in counts {
        let c = OfferCount {
            campaign_id: from_sql_u64(r.try_get(0).map_err(pg_err)?),
            engagement_id: from_sql_u64(r.try_get(1).map_err(pg_err)?),
            hour_ms: r.try_get(2).map_err(pg_err)?,
            impressions: count(&r, 3)?,
            clicks: count(&r, 4)?,
            declines: count(&r, 5)?,
            timeouts: count(&r, 6)?,
            coupon_reveals: count(&r, 7)?,
            coupon_copies: count(&r, 8)?,
        };
        if scope.covers_time(c.hour_ms) {
            facts.offer_counts.push(c);
        }
    }
    for r in offer_visitors {
        facts.offer_visitors.push(OfferVisitor {
            campaign_id: from_sql_u64(r.try_get(0).map_err(pg_err)?),
            visitor_id: r.try_get(1).map_err(pg_err)?,
            first_impression_ms: r.try_get(2).map_err(pg_err)?,
            first_click_ms: r.try_get(3).map_err(pg_err)?,
        });
    }
    for r in purchases {
        facts.purchases.push(PurchaseFact {
            visitor_id: r.try_get(0).map_err(pg_err)?,
            at_ms: r.try_get(1).map_err(pg_err)?,
            currency: r.try_get(2).map_err(pg_err)?,
            total_micros: r.try_get(3).map_err(pg_err)?,
        });
    }
    Ok(facts)
}

/// The step occurrences a funnel over `scope` reads.
pub(crate) async fn steps(
    client: &tokio_postgres::Client,
    account: &str,
    scope: &StepScope,
) -> Result<Vec<StepOccurrence>, StoreError> {
    let codes: Vec<i16> = scope.steps.iter().map(|s| s.code()).collect();
    let campaigns: Vec<i64> = scope.campaign_ids.iter().map(|c| to_sql_u64(*c)).collect();
    let engagements: Vec<i64> = scope
        .engagement_ids
        .iter()
        .map(|e| to_sql_u64(*e))
        .collect();
    // Attribute steps (codes from 16) belong to no campaign: the filters leave them.
    let rows = client
        .query(
            "SELECT at_ms, visitor_id, step, campaign_id, engagement_id FROM analytics_steps
             WHERE account = $1 AND at_ms >= $2 AND at_ms < $3 AND step = ANY($4)
               AND (step >= 16 OR ((cardinality($5::bigint[]) = 0 OR campaign_id = ANY($5))
                   AND (cardinality($6::bigint[]) = 0 OR engagement_id = ANY($6))))",
            &[
                &account,
                &scope.from_ms,
                &scope.to_ms,
                &codes,
                &campaigns,
                &engagements,
            ],
        )
        .await
        .map_err(pg_err)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let Some(step) = Step::from_code(r.try_get(2).map_err(pg_err)?) else {
            continue;
        };
        out.push(StepOccurrence {
            at_ms: r.try_get(0).map_err(pg_err)?,
            visitor_id: r.try_get(1).map_err(pg_err)?,
            step,
            campaign_id: from_sql_u64(r.try_get(3).map_err(pg_err)?),
            engagement_id: from_sql_u64(r.try_get(4).map_err(pg_err)?),
        });
    }
    Ok(out)
}
