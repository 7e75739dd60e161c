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

use std::collections::{BTreeMap, HashMap, HashSet};

use deadpool_postgres::Transaction;

use super::{from_sql_u64, pg_err, to_sql_u64};
use crate::analytics::rollup_memory::RollupMemory;
use crate::analytics::{
    day_of, hour_of, keep_to_cohort, rollup_table, AnalyticsFacts, AnalyticsScope, EligibilityFact,
    EligibilityRecord, OfferCount, OfferVisitor, PackedSteps, PurchaseFact, RollupDelta, Step,
    StepOccurrence, StepScope, VisitorHour,
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

/// Schema version 12: the bots' twin of each rollup ([`rollup_table`]), purchases by
/// time (reports and the retention sweep), and eligibility indexes that cover a report's
/// read.
pub(crate) const BOTS_MIGRATION: &str = r#"
CREATE TABLE analytics_bot_visitors (LIKE analytics_visitors INCLUDING ALL);
CREATE TABLE analytics_bot_eligibility (LIKE analytics_eligibility INCLUDING ALL);
CREATE TABLE analytics_bot_cohort (LIKE analytics_cohort INCLUDING ALL);
CREATE TABLE analytics_bot_offer_counts (LIKE analytics_offer_counts INCLUDING ALL);
CREATE TABLE analytics_bot_offer_visitors (LIKE analytics_offer_visitors INCLUDING ALL);
CREATE TABLE analytics_bot_purchases (LIKE analytics_purchases INCLUDING ALL);
CREATE TABLE analytics_bot_steps (LIKE analytics_steps INCLUDING ALL);
CREATE INDEX analytics_purchases_time ON analytics_purchases (account, at_ms);
CREATE INDEX analytics_bot_purchases_time ON analytics_bot_purchases (account, at_ms);
-- Reports read eligibility by time with every column.
CREATE INDEX analytics_eligibility_cover ON analytics_eligibility (account, first_ms)
    INCLUDE (campaign_id, engagement_id, control, visitor_id, day_ms);
CREATE INDEX analytics_cohort_cover ON analytics_cohort (account, first_ms)
    INCLUDE (campaign_id, engagement_id, control, visitor_id);
CREATE INDEX analytics_bot_eligibility_cover ON analytics_bot_eligibility (account, first_ms)
    INCLUDE (campaign_id, engagement_id, control, visitor_id, day_ms);
CREATE INDEX analytics_bot_cohort_cover ON analytics_bot_cohort (account, first_ms)
    INCLUDE (campaign_id, engagement_id, control, visitor_id);
CREATE INDEX analytics_eligibility_campaign_cover ON analytics_eligibility
    (account, campaign_id, first_ms) INCLUDE (engagement_id, control, visitor_id, day_ms);
CREATE INDEX analytics_cohort_campaign_cover ON analytics_cohort
    (account, campaign_id, first_ms) INCLUDE (engagement_id, control, visitor_id);
CREATE INDEX analytics_bot_eligibility_campaign_cover ON analytics_bot_eligibility
    (account, campaign_id, first_ms) INCLUDE (engagement_id, control, visitor_id, day_ms);
CREATE INDEX analytics_bot_cohort_campaign_cover ON analytics_bot_cohort
    (account, campaign_id, first_ms) INCLUDE (engagement_id, control, visitor_id);
DROP INDEX analytics_eligibility_time;
DROP INDEX analytics_cohort_time;
DROP INDEX analytics_cohort_campaign_time;
"#;

/// Offer counts' columns: account, campaign, engagement, hour, the six counts.
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

/// Step columns: account, time, visitor, packed steps.
type StepColumns<'a> = (Vec<&'a str>, Vec<i64>, Vec<&'a str>, Vec<Vec<u8>>);

/// Writes the deltas of one ingest group (per side and account, in that order) inside its
/// transaction: people's to the rollups, bots' to their twins ([`rollup_table`]).
pub(crate) async fn write_deltas(
    tx: &Transaction<'_>,
    deltas: &BTreeMap<(bool, &str), RollupDelta>,
) -> Result<(), tokio_postgres::Error> {
    for bot in [false, true] {
        let side = deltas
            .range((bot, "")..)
            .take_while(|((b, _), _)| *b == bot)
            .map(|((_, account), delta)| (*account, delta));
        write_side(tx, bot, side).await?;
    }
    Ok(())
}

async fn write_side<'a>(
    tx: &Transaction<'_>,
    bot: bool,
    deltas: impl Iterator<Item = (&'a str, &'a RollupDelta)>,
) -> Result<(), tokio_postgres::Error> {
    let table = |name: &str| rollup_table(name, bot);
    let mut visitors = (Vec::new(), Vec::new(), Vec::new());
    let mut counts = CountColumns::default();
    let mut firsts = FirstColumns::default();
    let mut purchases = PurchaseColumns::default();
    let mut steps = StepColumns::default();
    let mut step_rows: BTreeMap<(&str, i64, &str), PackedSteps> = BTreeMap::new();
    for (account, delta) in deltas {
        let account = &account;
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
        for ((at_ms, visitor), packed) in &delta.steps {
            step_rows
                .entry((*account, *at_ms, visitor.as_str()))
                .or_default()
                .merge(packed);
        }
        for p in &delta.purchases {
            purchases.0.push(*account);
            purchases.1.push(p.visitor_id.as_str());
            purchases.2.push(p.at_ms);
            purchases.3.push(p.currency.as_str());
            purchases.4.push(p.total_micros);
        }
    }
    // One row per key in a statement (an upsert may not meet its row twice), in key
    // order (two groups lock rows in the same order).
    for ((account, at_ms, visitor), packed) in &step_rows {
        steps.0.push(*account);
        steps.1.push(*at_ms);
        steps.2.push(*visitor);
        steps.3.push(packed.to_bytes());
    }
    if !visitors.0.is_empty() {
        let sql = &format!(
            "INSERT INTO {} (account, hour_ms, visitor_id)
                   SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[])
                   ON CONFLICT DO NOTHING",
            table("analytics_visitors")
        );
        let statement = tx.prepare_cached(sql).await?;
        tx.execute(&statement, &[&visitors.0, &visitors.1, &visitors.2])
            .await?;
    }
    if !counts.0.is_empty() {
        let sql = &format!(
            "INSERT INTO {} (account, campaign_id, engagement_id,
                       hour_ms, impressions, clicks, declines, timeouts, coupon_reveals,
                       coupon_copies)
                   SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[],
                       $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[],
                       $10::bigint[])",
            table("analytics_offer_counts")
        );
        let statement = tx.prepare_cached(sql).await?;
        let [i, c, d, t, r, y] = &counts.4;
        tx.execute(
            &statement,
            &[&counts.0, &counts.1, &counts.2, &counts.3, i, c, d, t, r, y],
        )
        .await?;
    }
    if !firsts.0.is_empty() {
        let sql = &format!(
            "INSERT INTO {} (account, campaign_id, visitor_id,
                       first_impression_ms, first_click_ms)
                   SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[],
                       $5::bigint[])
                   ON CONFLICT (account, campaign_id, visitor_id) DO UPDATE SET
                       first_impression_ms = LEAST({0}.first_impression_ms,
                           excluded.first_impression_ms),
                       first_click_ms = LEAST({0}.first_click_ms,
                           excluded.first_click_ms)",
            table("analytics_offer_visitors")
        );
        let statement = tx.prepare_cached(sql).await?;
        tx.execute(
            &statement,
            &[&firsts.0, &firsts.1, &firsts.2, &firsts.3, &firsts.4],
        )
        .await?;
    }
    if !steps.0.is_empty() {
        // A second batch of the visitor in the same millisecond appends its steps (reads
        // take the union, `packed`).
        let sql = &format!(
            "INSERT INTO {} (account, at_ms, visitor_id, steps)
                   SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bytea[])
                   ON CONFLICT (account, at_ms, visitor_id) DO UPDATE SET
                       steps = {0}.steps || excluded.steps",
            table("analytics_steps")
        );
        let statement = tx.prepare_cached(sql).await?;
        tx.execute(&statement, &[&steps.0, &steps.1, &steps.2, &steps.3])
            .await?;
    }
    if !purchases.0.is_empty() {
        let sql = &format!(
            "INSERT INTO {} (account, visitor_id, at_ms, currency,
                       total_micros)
                   SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[],
                       $5::bigint[])",
            table("analytics_purchases")
        );
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
    records: Vec<EligibilityRecord>,
) -> Result<usize, StoreError> {
    let (bots, people): (Vec<_>, Vec<_>) = records.into_iter().partition(|r| r.bot);
    let mut written = 0;
    for (bot, records) in [(false, people), (true, bots)] {
        if !records.is_empty() {
            written += record_side(client, account, bot, records).await?;
        }
    }
    Ok(written)
}

async fn record_side(
    client: &mut tokio_postgres::Client,
    account: &str,
    bot: bool,
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
            &format!(
                "INSERT INTO {} AS e (account, campaign_id, day_ms, visitor_id,
                 engagement_id, control, first_ms)
             SELECT $1, * FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::bigint[],
                 $6::boolean[], $7::bigint[])
             ON CONFLICT (account, campaign_id, day_ms, visitor_id) DO UPDATE SET
                 engagement_id = excluded.engagement_id, control = excluded.control,
                 first_ms = excluded.first_ms
             WHERE excluded.first_ms < e.first_ms",
                rollup_table("analytics_eligibility", bot)
            ),
            &[
                &account, &days.0, &days.1, &days.2, &days.3, &days.4, &days.5,
            ],
        )
        .await
        .map_err(pg_err)?;
    tx.execute(
        &format!(
            "INSERT INTO {} AS c (account, campaign_id, visitor_id, engagement_id,
             control, first_ms)
         SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::bigint[], $5::boolean[],
             $6::bigint[])
         ON CONFLICT (account, campaign_id, visitor_id) DO UPDATE SET
             engagement_id = excluded.engagement_id, control = excluded.control,
             first_ms = excluded.first_ms
         WHERE excluded.first_ms < c.first_ms",
            rollup_table("analytics_cohort", bot)
        ),
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

/// The tables a read covers: people's, and with `includeBots` bots' too.
fn sides(include_bots: bool) -> &'static [bool] {
    if include_bots {
        &[false, true]
    } else {
        &[false]
    }
}

/// What a report over `scope` reads (see [`AnalyticsFacts`]).
///
/// With `includeBots` each list is read from both sides; a first time is the earlier of
/// the two sides', people's on a tie (as on SQLite).
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
    let both = scope.include_bots;
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
    let (campaigns, engagements) = (&campaigns, &engagements);
    let mut facts = AnalyticsFacts::default();

    for &bot in sides(both) {
        let rows = client
            .query(
                &format!(
                    "SELECT hour_ms, visitor_id FROM {}
                     WHERE account = $1 AND hour_ms >= $2 AND hour_ms < $3",
                    rollup_table("analytics_visitors", bot)
                ),
                &[&account, &from, &to],
            )
            .await
            .map_err(pg_err)?;
        for r in rows {
            let v = VisitorHour {
                hour_ms: r.try_get(0).map_err(pg_err)?,
                visitor_id: r.try_get(1).map_err(pg_err)?,
            };
            if scope.covers_time(v.hour_ms) {
                facts.visitors.push(v);
            }
        }
    }

    // A row of one side counts unless the other side has an earlier first time for the
    // same key (or as early, for bots' rows).
    let earliest = |table: &str, bot: bool, key: &[&str]| {
        if !both {
            return String::new();
        }
        let other = rollup_table(table, !bot);
        let before = if bot { "<=" } else { "<" };
        let same = key
            .iter()
            .map(|k| format!("x.{k} = e.{k}"))
            .collect::<Vec<_>>()
            .join(" AND ");
        format!(
            "AND NOT EXISTS (SELECT 1 FROM {other} x WHERE x.account = e.account AND {same}
                 AND x.first_ms {before} e.first_ms)"
        )
    };
    // A day's row holds that day's first time: the day bounds let the key narrow.
    for (table, key, days) in [
        (
            "analytics_eligibility",
            &["campaign_id", "day_ms", "visitor_id"][..],
            "AND e.day_ms >= $2 - ($2 % 86400000) AND e.day_ms < $3",
        ),
        ("analytics_cohort", &["campaign_id", "visitor_id"][..], ""),
    ] {
        for &bot in sides(both) {
            let rows = client
                .query(
                    &format!(
                        "SELECT e.campaign_id, e.engagement_id, e.visitor_id, e.control, e.first_ms
                         FROM {} e
                         WHERE e.account = $1 AND e.first_ms >= $2 AND e.first_ms < $3 {days}
                           AND {} {}",
                        rollup_table(table, bot),
                        filter("e."),
                        earliest(table, bot, key)
                    ),
                    &[&account, &from, &to, campaigns, engagements],
                )
                .await
                .map_err(pg_err)?;
            let out = if table == "analytics_cohort" {
                &mut facts.cohort
            } else {
                &mut facts.eligibility
            };
            for r in rows {
                out.push(eligibility_row(&r)?);
            }
        }
    }
    for &bot in sides(both) {
        let rows = client
            .query(
                &format!(
                    "SELECT campaign_id, engagement_id, hour_ms, sum(impressions)::bigint,
                         sum(clicks)::bigint, sum(declines)::bigint, sum(timeouts)::bigint,
                         sum(coupon_reveals)::bigint, sum(coupon_copies)::bigint
                     FROM {}
                     WHERE account = $1 AND hour_ms >= $2 AND hour_ms < $3 AND {}
                     GROUP BY campaign_id, engagement_id, hour_ms",
                    rollup_table("analytics_offer_counts", bot),
                    filter("")
                ),
                &[&account, &hour_of(from), &to, campaigns, engagements],
            )
            .await
            .map_err(pg_err)?;
        for r in rows {
            let c = offer_count_row(&r)?;
            if scope.covers_time(c.hour_ms) {
                facts.offer_counts.push(c);
            }
        }
    }

    // Offer visitors of the cohort's visitors: with both sides, of either side's cohort
    // rows in range (a superset of the cohort), kept to the cohort after.
    for &ov_bot in sides(both) {
        for &cohort_bot in sides(both) {
            let rows = client
                .query(
                    &format!(
                        "SELECT o.campaign_id, o.visitor_id, o.first_impression_ms, o.first_click_ms
                         FROM {} c
                         JOIN {} o ON o.account = c.account
                             AND o.campaign_id = c.campaign_id AND o.visitor_id = c.visitor_id
                         WHERE c.account = $1 AND c.first_ms >= $2 AND c.first_ms < $3 AND {}",
                        rollup_table("analytics_cohort", cohort_bot),
                        rollup_table("analytics_offer_visitors", ov_bot),
                        filter("c.")
                    ),
                    &[&account, &from, &to, campaigns, engagements],
                )
                .await
                .map_err(pg_err)?;
            for r in rows {
                facts.offer_visitors.push(offer_visitor_row(&r)?);
            }
        }
    }
    for &purchase_bot in sides(both) {
        let rows = client
            .query(
                &format!(
                    "SELECT p.visitor_id, p.at_ms, p.currency, p.total_micros
                     FROM {} p
                     WHERE p.account = $1 AND p.at_ms >= $2 AND p.at_ms < $3",
                    rollup_table("analytics_purchases", purchase_bot)
                ),
                &[&account, &from, &purchases_to],
            )
            .await
            .map_err(pg_err)?;
        for r in rows {
            facts.purchases.push(purchase_row(&r)?);
        }
    }
    // Purchases were read by time (their index), not by visitor: keep the cohort's.
    if both {
        keep_to_cohort(&mut facts);
    } else {
        let cohort: HashSet<&str> = facts.cohort.iter().map(|e| e.visitor_id.as_str()).collect();
        facts
            .purchases
            .retain(|p| cohort.contains(p.visitor_id.as_str()));
    }
    Ok(facts)
}

/// The step occurrences a funnel over `scope` reads.
pub(crate) async fn steps(
    client: &tokio_postgres::Client,
    account: &str,
    scope: &StepScope,
) -> Result<Vec<StepOccurrence>, StoreError> {
    let mut out = Vec::new();
    for &bot in sides(scope.include_bots) {
        let rows = client
            .query(
                &format!(
                    "SELECT at_ms, visitor_id, steps FROM {}
                     WHERE account = $1 AND at_ms >= $2 AND at_ms < $3",
                    rollup_table("analytics_steps", bot)
                ),
                &[&account, &scope.from_ms, &scope.to_ms],
            )
            .await
            .map_err(pg_err)?;
        for r in rows {
            let at_ms: i64 = r.try_get(0).map_err(pg_err)?;
            let visitor: &str = r.try_get(1).map_err(pg_err)?;
            let packed = PackedSteps::from_bytes(r.try_get(2).map_err(pg_err)?);
            out.extend(packed.occurrences(at_ms, visitor, scope));
        }
    }
    // The two sides may repeat an occurrence.
    out.sort();
    out.dedup();
    Ok(out)
}

/// Schema version 13: the funnel step rollup packed, one row per batch ([`PackedSteps`])
/// instead of one per step occurrence; [`fill_packed_steps`] converts the rows.
pub(crate) const PACKED_STEPS_MIGRATION: &str = r#"
ALTER TABLE analytics_steps RENAME TO analytics_steps_v12;
ALTER TABLE analytics_steps_v12 RENAME CONSTRAINT analytics_steps_pkey TO analytics_steps_v12_pkey;
ALTER TABLE analytics_bot_steps RENAME TO analytics_bot_steps_v12;
ALTER TABLE analytics_bot_steps_v12
    RENAME CONSTRAINT analytics_bot_steps_pkey TO analytics_bot_steps_v12_pkey;
CREATE TABLE analytics_steps (
    account    text NOT NULL,
    at_ms      bigint NOT NULL,
    visitor_id text NOT NULL,
    steps      bytea NOT NULL,
    PRIMARY KEY (account, at_ms, visitor_id)
);
CREATE TABLE analytics_bot_steps (
    account    text NOT NULL,
    at_ms      bigint NOT NULL,
    visitor_id text NOT NULL,
    steps      bytea NOT NULL,
    PRIMARY KEY (account, at_ms, visitor_id)
);
"#;

/// Packs version 12's step rows (one per occurrence) into one row per (account, time,
/// visitor), then drops the old tables.
pub(crate) async fn fill_packed_steps(
    tx: &tokio_postgres::Transaction<'_>,
) -> Result<(), StoreError> {
    for bot in [false, true] {
        let table = rollup_table("analytics_steps", bot);
        let rows = tx
            .query(
                &format!(
                    "SELECT account, at_ms, visitor_id, campaign_id, engagement_id,
                         array_agg(step)
                     FROM {table}_v12
                     GROUP BY account, at_ms, visitor_id, campaign_id, engagement_id
                     ORDER BY account, at_ms, visitor_id"
                ),
                &[],
            )
            .await
            .map_err(pg_err)?;
        let mut packed: BTreeMap<(String, i64, String), PackedSteps> = BTreeMap::new();
        for r in rows {
            let key = (
                r.try_get(0).map_err(pg_err)?,
                r.try_get(1).map_err(pg_err)?,
                r.try_get(2).map_err(pg_err)?,
            );
            let campaign = from_sql_u64(r.try_get(3).map_err(pg_err)?);
            let engagement = from_sql_u64(r.try_get(4).map_err(pg_err)?);
            let codes: Vec<i16> = r.try_get(5).map_err(pg_err)?;
            let slot = packed.entry(key).or_default();
            for step in codes.into_iter().filter_map(Step::from_code) {
                slot.add(step, campaign, engagement);
            }
        }
        let mut columns: StepColumns<'_> = Default::default();
        for ((account, at_ms, visitor), steps) in &packed {
            columns.0.push(account);
            columns.1.push(*at_ms);
            columns.2.push(visitor);
            columns.3.push(steps.to_bytes());
        }
        tx.execute(
            &format!(
                "INSERT INTO {table} (account, at_ms, visitor_id, steps)
                 SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bytea[])"
            ),
            &[&columns.0, &columns.1, &columns.2, &columns.3],
        )
        .await
        .map_err(pg_err)?;
        tx.batch_execute(&format!("DROP TABLE {table}_v12"))
            .await
            .map_err(pg_err)?;
    }
    Ok(())
}

/// What this server's writers know is stored in the rollups (`analytics::rollup_memory`), and
/// the accounts' counters it was learned under.
#[derive(Default)]
pub(crate) struct RememberedRollups {
    memory: RollupMemory,
    epochs: HashMap<String, i64>,
}

/// The counters one group read, to remember its rows under after it commits.
pub(crate) type Epochs = Vec<(String, i64)>;

impl RememberedRollups {
    /// Reads the counters of the group's accounts (in its transaction), forgets
    /// everything if one moved, and takes out of each delta what is known to be stored.
    pub(crate) async fn skip_known(
        this: &std::sync::Mutex<RememberedRollups>,
        tx: &tokio_postgres::Transaction<'_>,
        deltas: &mut BTreeMap<(bool, &str), RollupDelta>,
    ) -> Result<Epochs, tokio_postgres::Error> {
        let mut accounts: Vec<&str> = deltas.keys().map(|(_, a)| *a).collect();
        accounts.sort_unstable();
        accounts.dedup();
        let read: HashMap<String, i64> = tx
            .query(
                "SELECT account, generation FROM analytics_generations WHERE account = ANY($1)",
                &[&accounts],
            )
            .await?
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_, tokio_postgres::Error>>()?;
        let epochs: Epochs = accounts
            .iter()
            .map(|a| ((*a).to_owned(), read.get(*a).copied().unwrap_or(0)))
            .collect();
        let mut this = lock(this);
        if epochs
            .iter()
            .any(|(a, e)| this.epochs.get(a).is_some_and(|known| known != e))
        {
            this.memory.clear();
            this.epochs.clear();
        }
        for (a, e) in &epochs {
            this.epochs.entry(a.clone()).or_insert(*e);
        }
        for ((_, account), delta) in deltas.iter_mut() {
            this.memory.skip_known(account, delta);
        }
        Ok(epochs)
    }

    /// After the group committed: remembers its rows, unless a counter it read has moved
    /// on since (another group saw a removal the rows may predate).
    pub(crate) fn remember(
        this: &std::sync::Mutex<RememberedRollups>,
        epochs: &Epochs,
        deltas: &BTreeMap<(bool, &str), RollupDelta>,
    ) {
        let mut this = lock(this);
        if epochs.iter().any(|(a, e)| this.epochs.get(a) != Some(e)) {
            return;
        }
        for ((_, account), delta) in deltas {
            this.memory.remember(account, delta);
        }
    }
}

fn lock(
    this: &std::sync::Mutex<RememberedRollups>,
) -> std::sync::MutexGuard<'_, RememberedRollups> {
    // A poisoned memory may hold half an update: forget it.
    this.lock().unwrap_or_else(|poisoned| {
        let mut guard = poisoned.into_inner();
        guard.memory.clear();
        guard.epochs.clear();
        guard
    })
}

/// Schema version 14: what the server's fact cache reads (as SQLite's version 18). Each
/// account's analytics generation, bumped in the transaction of an erasure or retention
/// step that removed rollup rows, and offer visitors by their first impression and
/// first click, so a catch-up reads only recent rows.
pub(crate) const FACT_CACHE_MIGRATION: &str = r#"
CREATE TABLE analytics_generations (
    account    text PRIMARY KEY,
    generation bigint NOT NULL
);
CREATE INDEX analytics_offer_visitors_impression
    ON analytics_offer_visitors (account, first_impression_ms);
CREATE INDEX analytics_offer_visitors_click
    ON analytics_offer_visitors (account, first_click_ms);
CREATE INDEX analytics_bot_offer_visitors_impression
    ON analytics_bot_offer_visitors (account, first_impression_ms);
CREATE INDEX analytics_bot_offer_visitors_click
    ON analytics_bot_offer_visitors (account, first_click_ms);
"#;

/// Schema version 15: purchases lose their index by visitor (as SQLite's version 19):
/// reports and the fact cache read them by time, and an erasure finds a visitor's
/// purchases through the time index. The bots' twin got its copy of the index from
/// `LIKE ... INCLUDING ALL`, under PostgreSQL's generated name.
pub(crate) const PURCHASES_BY_TIME_MIGRATION: &str = r#"
DROP INDEX analytics_purchases_visitor;
DROP INDEX analytics_bot_purchases_account_visitor_id_at_ms_idx;
"#;

/// Bumps the account (`$1`)'s analytics generation, in the transaction that removed
/// rollup rows.
pub(crate) const BUMP_GENERATION: &str =
    "INSERT INTO analytics_generations (account, generation) VALUES ($1, 1)
     ON CONFLICT (account) DO UPDATE SET generation = analytics_generations.generation + 1";

/// The account's analytics generation (0 before any removal).
pub(crate) async fn generation(
    client: &tokio_postgres::Client,
    account: &str,
) -> Result<u64, StoreError> {
    let row = client
        .query_opt(
            "SELECT generation FROM analytics_generations WHERE account = $1",
            &[&account],
        )
        .await
        .map_err(pg_err)?;
    let g: i64 = match row {
        Some(r) => r.try_get(0).map_err(pg_err)?,
        None => 0,
    };
    Ok(u64::try_from(g).unwrap_or(0))
}

/// One side's rollup rows (people's, or bots' with `bot`) whose own times are at or
/// after `since_ms` (see [`crate::Store::analytics_side_since`]), read in one snapshot.
pub(crate) async fn side_since(
    client: &mut tokio_postgres::Client,
    account: &str,
    bot: bool,
    since_ms: i64,
) -> Result<AnalyticsFacts, StoreError> {
    let tx = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(pg_err)?;
    let since_hour = hour_of(since_ms);
    let mut facts = AnalyticsFacts::default();
    for r in tx
        .query(
            &format!(
                "SELECT hour_ms, visitor_id FROM {} WHERE account = $1 AND hour_ms >= $2",
                rollup_table("analytics_visitors", bot)
            ),
            &[&account, &since_hour],
        )
        .await
        .map_err(pg_err)?
    {
        facts.visitors.push(VisitorHour {
            hour_ms: r.try_get(0).map_err(pg_err)?,
            visitor_id: r.try_get(1).map_err(pg_err)?,
        });
    }
    for table in ["analytics_eligibility", "analytics_cohort"] {
        let rows = tx
            .query(
                &format!(
                    "SELECT campaign_id, engagement_id, visitor_id, control, first_ms FROM {}
                     WHERE account = $1 AND first_ms >= $2",
                    rollup_table(table, bot)
                ),
                &[&account, &since_ms],
            )
            .await
            .map_err(pg_err)?;
        let out = if table == "analytics_cohort" {
            &mut facts.cohort
        } else {
            &mut facts.eligibility
        };
        for r in rows {
            out.push(eligibility_row(&r)?);
        }
    }
    for r in tx
        .query(
            &format!(
                "SELECT campaign_id, engagement_id, hour_ms, sum(impressions)::bigint,
                     sum(clicks)::bigint, sum(declines)::bigint, sum(timeouts)::bigint,
                     sum(coupon_reveals)::bigint, sum(coupon_copies)::bigint
                 FROM {} WHERE account = $1 AND hour_ms >= $2
                 GROUP BY campaign_id, engagement_id, hour_ms",
                rollup_table("analytics_offer_counts", bot)
            ),
            &[&account, &since_hour],
        )
        .await
        .map_err(pg_err)?
    {
        facts.offer_counts.push(offer_count_row(&r)?);
    }
    let offer_visitors = rollup_table("analytics_offer_visitors", bot);
    for r in tx
        .query(
            &format!(
                "SELECT campaign_id, visitor_id, first_impression_ms, first_click_ms
                 FROM {offer_visitors} WHERE account = $1 AND first_impression_ms >= $2
                 UNION
                 SELECT campaign_id, visitor_id, first_impression_ms, first_click_ms
                 FROM {offer_visitors} WHERE account = $1 AND first_click_ms >= $2"
            ),
            &[&account, &since_ms],
        )
        .await
        .map_err(pg_err)?
    {
        facts.offer_visitors.push(offer_visitor_row(&r)?);
    }
    for r in tx
        .query(
            &format!(
                "SELECT visitor_id, at_ms, currency, total_micros FROM {}
                 WHERE account = $1 AND at_ms >= $2",
                rollup_table("analytics_purchases", bot)
            ),
            &[&account, &since_ms],
        )
        .await
        .map_err(pg_err)?
    {
        facts.purchases.push(purchase_row(&r)?);
    }
    tx.commit().await.map_err(pg_err)?;
    Ok(facts)
}

fn count(r: &tokio_postgres::Row, i: usize) -> Result<u64, StoreError> {
    Ok(u64::try_from(r.try_get::<_, i64>(i).map_err(pg_err)?).unwrap_or(0))
}

fn eligibility_row(r: &tokio_postgres::Row) -> Result<EligibilityFact, StoreError> {
    Ok(EligibilityFact {
        campaign_id: from_sql_u64(r.try_get(0).map_err(pg_err)?),
        engagement_id: from_sql_u64(r.try_get(1).map_err(pg_err)?),
        visitor_id: r.try_get(2).map_err(pg_err)?,
        control: r.try_get(3).map_err(pg_err)?,
        at_ms: r.try_get(4).map_err(pg_err)?,
    })
}

fn offer_count_row(r: &tokio_postgres::Row) -> Result<OfferCount, StoreError> {
    Ok(OfferCount {
        campaign_id: from_sql_u64(r.try_get(0).map_err(pg_err)?),
        engagement_id: from_sql_u64(r.try_get(1).map_err(pg_err)?),
        hour_ms: r.try_get(2).map_err(pg_err)?,
        impressions: count(r, 3)?,
        clicks: count(r, 4)?,
        declines: count(r, 5)?,
        timeouts: count(r, 6)?,
        coupon_reveals: count(r, 7)?,
        coupon_copies: count(r, 8)?,
    })
}

fn offer_visitor_row(r: &tokio_postgres::Row) -> Result<OfferVisitor, StoreError> {
    Ok(OfferVisitor {
        campaign_id: from_sql_u64(r.try_get(0).map_err(pg_err)?),
        visitor_id: r.try_get(1).map_err(pg_err)?,
        first_impression_ms: r.try_get(2).map_err(pg_err)?,
        first_click_ms: r.try_get(3).map_err(pg_err)?,
    })
}

fn purchase_row(r: &tokio_postgres::Row) -> Result<PurchaseFact, StoreError> {
    Ok(PurchaseFact {
        visitor_id: r.try_get(0).map_err(pg_err)?,
        at_ms: r.try_get(1).map_err(pg_err)?,
        currency: r.try_get(2).map_err(pg_err)?,
        total_micros: r.try_get(3).map_err(pg_err)?,
    })
}
