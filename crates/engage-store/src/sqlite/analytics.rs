//! The results rollups on SQLite (see [`crate::analytics`]): written by the writer
//! thread, in the transaction of the batch or the eligibility records they summarize;
//! read from the read pool.
//!
//! Keys lead with the account and end with the visitor, so one visitor's rows of a
//! campaign and day (or hour) are one row whatever they did: what a stranger can make
//! the decision route store is one eligibility row per campaign and UTC day for each
//! visitor id they make up, on top of the rate limits.

use std::collections::HashSet;

use rusqlite::{params, Connection};

use super::{read_u64, sql_err};
use crate::analytics::{
    day_of, hour_of, keep_to_cohort, rollup_table, AnalyticsFacts, AnalyticsScope, EligibilityFact,
    EligibilityRecord, OfferCount, OfferVisitor, PackedSteps, PurchaseFact, RollupDelta, Step,
    StepOccurrence, StepScope, VisitorHour,
};
use crate::StoreError;

/// The rollups' tables (a schema version of their own).
/// The coupon action's reveals and copies per engagement and hour (`COUPON_REVEALED`,
/// `COUPON_COPIED`); rows written before count none.
pub(crate) const COUPONS_MIGRATION: &str = r#"
ALTER TABLE analytics_offer_counts ADD COLUMN coupon_reveals INTEGER NOT NULL DEFAULT 0;
ALTER TABLE analytics_offer_counts ADD COLUMN coupon_copies INTEGER NOT NULL DEFAULT 0;
"#;

pub(crate) const MIGRATION: &str = r#"
ALTER TABLE campaigns ADD COLUMN control_group_percent INTEGER NOT NULL DEFAULT 0;
ALTER TABLE campaigns ADD COLUMN attribution_window_days INTEGER NOT NULL DEFAULT 7;

CREATE TABLE analytics_visitors (
    account    TEXT NOT NULL,
    hour_ms    INTEGER NOT NULL,
    visitor_id TEXT NOT NULL,
    PRIMARY KEY (account, hour_ms, visitor_id)
) WITHOUT ROWID;

CREATE TABLE analytics_eligibility (
    account       TEXT NOT NULL,
    campaign_id   INTEGER NOT NULL,
    day_ms        INTEGER NOT NULL,
    visitor_id    TEXT NOT NULL,
    engagement_id INTEGER NOT NULL,
    control       INTEGER NOT NULL,
    first_ms      INTEGER NOT NULL,
    PRIMARY KEY (account, campaign_id, day_ms, visitor_id)
) WITHOUT ROWID;
CREATE INDEX analytics_eligibility_time ON analytics_eligibility (account, first_ms);

CREATE TABLE analytics_cohort (
    account       TEXT NOT NULL,
    campaign_id   INTEGER NOT NULL,
    visitor_id    TEXT NOT NULL,
    engagement_id INTEGER NOT NULL,
    control       INTEGER NOT NULL,
    first_ms      INTEGER NOT NULL,
    PRIMARY KEY (account, campaign_id, visitor_id)
) WITHOUT ROWID;
CREATE INDEX analytics_cohort_time ON analytics_cohort (account, first_ms);
CREATE INDEX analytics_cohort_campaign_time ON analytics_cohort (account, campaign_id, first_ms);
CREATE INDEX analytics_cohort_visitor ON analytics_cohort (account, visitor_id);

CREATE TABLE analytics_offer_counts (
    account       TEXT NOT NULL,
    campaign_id   INTEGER NOT NULL,
    engagement_id INTEGER NOT NULL,
    hour_ms       INTEGER NOT NULL,
    impressions   INTEGER NOT NULL,
    clicks        INTEGER NOT NULL,
    declines      INTEGER NOT NULL,
    timeouts      INTEGER NOT NULL,
    PRIMARY KEY (account, campaign_id, engagement_id, hour_ms)
) WITHOUT ROWID;

CREATE TABLE analytics_offer_visitors (
    account             TEXT NOT NULL,
    campaign_id         INTEGER NOT NULL,
    visitor_id          TEXT NOT NULL,
    first_impression_ms INTEGER,
    first_click_ms      INTEGER,
    PRIMARY KEY (account, campaign_id, visitor_id)
) WITHOUT ROWID;

CREATE TABLE analytics_purchases (
    account      TEXT NOT NULL,
    visitor_id   TEXT NOT NULL,
    at_ms        INTEGER NOT NULL,
    currency     TEXT NOT NULL,
    total_micros INTEGER NOT NULL
);
CREATE INDEX analytics_purchases_visitor ON analytics_purchases (account, visitor_id, at_ms);

-- Time first: appended in time order, and a funnel reads a time range.
CREATE TABLE analytics_steps (
    account       TEXT NOT NULL,
    at_ms         INTEGER NOT NULL,
    visitor_id    TEXT NOT NULL,
    step          INTEGER NOT NULL,
    campaign_id   INTEGER NOT NULL,
    engagement_id INTEGER NOT NULL,
    PRIMARY KEY (account, at_ms, visitor_id, step, campaign_id, engagement_id)
) WITHOUT ROWID;
"#;

/// Schema version 15: the bots' twin of each rollup ([`rollup_table`]), purchases by
/// time (reports and the retention sweep), and eligibility indexes that cover a report's
/// read.
pub(crate) const BOTS_MIGRATION: &str = r#"
CREATE TABLE analytics_bot_visitors (
    account    TEXT NOT NULL,
    hour_ms    INTEGER NOT NULL,
    visitor_id TEXT NOT NULL,
    PRIMARY KEY (account, hour_ms, visitor_id)
) WITHOUT ROWID;

CREATE TABLE analytics_bot_eligibility (
    account       TEXT NOT NULL,
    campaign_id   INTEGER NOT NULL,
    day_ms        INTEGER NOT NULL,
    visitor_id    TEXT NOT NULL,
    engagement_id INTEGER NOT NULL,
    control       INTEGER NOT NULL,
    first_ms      INTEGER NOT NULL,
    PRIMARY KEY (account, campaign_id, day_ms, visitor_id)
) WITHOUT ROWID;

CREATE TABLE analytics_bot_cohort (
    account       TEXT NOT NULL,
    campaign_id   INTEGER NOT NULL,
    visitor_id    TEXT NOT NULL,
    engagement_id INTEGER NOT NULL,
    control       INTEGER NOT NULL,
    first_ms      INTEGER NOT NULL,
    PRIMARY KEY (account, campaign_id, visitor_id)
) WITHOUT ROWID;
CREATE INDEX analytics_bot_cohort_visitor ON analytics_bot_cohort (account, visitor_id);

CREATE TABLE analytics_bot_offer_counts (
    account        TEXT NOT NULL,
    campaign_id    INTEGER NOT NULL,
    engagement_id  INTEGER NOT NULL,
    hour_ms        INTEGER NOT NULL,
    impressions    INTEGER NOT NULL,
    clicks         INTEGER NOT NULL,
    declines       INTEGER NOT NULL,
    timeouts       INTEGER NOT NULL,
    coupon_reveals INTEGER NOT NULL DEFAULT 0,
    coupon_copies  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (account, campaign_id, engagement_id, hour_ms)
) WITHOUT ROWID;

CREATE TABLE analytics_bot_offer_visitors (
    account             TEXT NOT NULL,
    campaign_id         INTEGER NOT NULL,
    visitor_id          TEXT NOT NULL,
    first_impression_ms INTEGER,
    first_click_ms      INTEGER,
    PRIMARY KEY (account, campaign_id, visitor_id)
) WITHOUT ROWID;

CREATE TABLE analytics_bot_purchases (
    account      TEXT NOT NULL,
    visitor_id   TEXT NOT NULL,
    at_ms        INTEGER NOT NULL,
    currency     TEXT NOT NULL,
    total_micros INTEGER NOT NULL
);
CREATE INDEX analytics_bot_purchases_visitor ON analytics_bot_purchases (account, visitor_id, at_ms);

CREATE TABLE analytics_bot_steps (
    account       TEXT NOT NULL,
    at_ms         INTEGER NOT NULL,
    visitor_id    TEXT NOT NULL,
    step          INTEGER NOT NULL,
    campaign_id   INTEGER NOT NULL,
    engagement_id INTEGER NOT NULL,
    PRIMARY KEY (account, at_ms, visitor_id, step, campaign_id, engagement_id)
) WITHOUT ROWID;

CREATE INDEX analytics_purchases_time ON analytics_purchases (account, at_ms);
CREATE INDEX analytics_bot_purchases_time ON analytics_bot_purchases (account, at_ms);

-- Reports read eligibility by time with every column: indexes that cover the read
-- replace the time-only ones (each row found in them would be looked up in the table).
DROP INDEX analytics_eligibility_time;
DROP INDEX analytics_cohort_time;
CREATE INDEX analytics_eligibility_cover ON analytics_eligibility
    (account, first_ms, campaign_id, engagement_id, control, visitor_id, day_ms);
CREATE INDEX analytics_cohort_cover ON analytics_cohort
    (account, first_ms, campaign_id, engagement_id, control, visitor_id);
CREATE INDEX analytics_bot_eligibility_cover ON analytics_bot_eligibility
    (account, first_ms, campaign_id, engagement_id, control, visitor_id, day_ms);
CREATE INDEX analytics_bot_cohort_cover ON analytics_bot_cohort
    (account, first_ms, campaign_id, engagement_id, control, visitor_id);
-- The same led by the campaign, for reports of some campaigns.
DROP INDEX analytics_cohort_campaign_time;
CREATE INDEX analytics_eligibility_campaign_cover ON analytics_eligibility
    (account, campaign_id, first_ms, engagement_id, control, visitor_id, day_ms);
CREATE INDEX analytics_cohort_campaign_cover ON analytics_cohort
    (account, campaign_id, first_ms, engagement_id, control, visitor_id);
CREATE INDEX analytics_bot_eligibility_campaign_cover ON analytics_bot_eligibility
    (account, campaign_id, first_ms, engagement_id, control, visitor_id, day_ms);
CREATE INDEX analytics_bot_cohort_campaign_cover ON analytics_bot_cohort
    (account, campaign_id, first_ms, engagement_id, control, visitor_id);
"#;

fn sql_id(id: u64) -> i64 {
    i64::try_from(id).unwrap_or(-1)
}

/// Adds one batch's delta, inside the writer's transaction.
pub(crate) fn write_delta(
    conn: &Connection,
    account: &str,
    delta: &RollupDelta,
) -> rusqlite::Result<()> {
    let table = |name: &str| rollup_table(name, delta.bot);
    if !delta.visitor_hours.is_empty() {
        let mut insert = conn.prepare_cached(&format!(
            "INSERT OR IGNORE INTO {} (account, hour_ms, visitor_id)
             VALUES (?1, ?2, ?3)",
            table("analytics_visitors")
        ))?;
        for (hour, visitor) in &delta.visitor_hours {
            insert.execute(params![account, hour, visitor])?;
        }
    }
    if !delta.offer_counts.is_empty() {
        let mut upsert = conn.prepare_cached(&format!(
            "INSERT INTO {} (account, campaign_id, engagement_id, hour_ms,
                 impressions, clicks, declines, timeouts, coupon_reveals, coupon_copies)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (account, campaign_id, engagement_id, hour_ms) DO UPDATE SET
                 impressions = impressions + excluded.impressions,
                 clicks = clicks + excluded.clicks,
                 declines = declines + excluded.declines,
                 timeouts = timeouts + excluded.timeouts,
                 coupon_reveals = coupon_reveals + excluded.coupon_reveals,
                 coupon_copies = coupon_copies + excluded.coupon_copies",
            table("analytics_offer_counts")
        ))?;
        for ((campaign, engagement, hour), [i, c, d, t, r, y]) in &delta.offer_counts {
            upsert.execute(params![
                account,
                sql_id(*campaign),
                sql_id(*engagement),
                hour,
                i,
                c,
                d,
                t,
                r,
                y
            ])?;
        }
    }
    if !delta.offer_visitors.is_empty() {
        let mut upsert = conn.prepare_cached(&format!(
            "INSERT INTO {} (account, campaign_id, visitor_id,
                 first_impression_ms, first_click_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (account, campaign_id, visitor_id) DO UPDATE SET
                 first_impression_ms = CASE
                     WHEN first_impression_ms IS NULL THEN excluded.first_impression_ms
                     WHEN excluded.first_impression_ms IS NULL THEN first_impression_ms
                     ELSE min(first_impression_ms, excluded.first_impression_ms) END,
                 first_click_ms = CASE
                     WHEN first_click_ms IS NULL THEN excluded.first_click_ms
                     WHEN excluded.first_click_ms IS NULL THEN first_click_ms
                     ELSE min(first_click_ms, excluded.first_click_ms) END",
            table("analytics_offer_visitors")
        ))?;
        for ((campaign, visitor), (impression, click)) in &delta.offer_visitors {
            upsert.execute(params![
                account,
                sql_id(*campaign),
                visitor,
                impression,
                click
            ])?;
        }
    }
    if !delta.steps.is_empty() {
        // One row per batch; a second batch of the visitor in the same millisecond
        // appends its packed steps (reads take the union, `packed`).
        let mut upsert = conn.prepare_cached(&format!(
            "INSERT INTO {} (account, at_ms, visitor_id, steps) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (account, at_ms, visitor_id) DO UPDATE SET
                 steps = steps || excluded.steps",
            table("analytics_steps")
        ))?;
        for ((at_ms, visitor), packed) in &delta.steps {
            upsert.execute(params![account, at_ms, visitor, packed.to_bytes()])?;
        }
    }
    if !delta.purchases.is_empty() {
        let mut insert = conn.prepare_cached(&format!(
            "INSERT INTO {} (account, visitor_id, at_ms, currency, total_micros)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            table("analytics_purchases")
        ))?;
        for p in &delta.purchases {
            insert.execute(params![
                account,
                p.visitor_id,
                p.at_ms,
                p.currency,
                p.total_micros
            ])?;
        }
    }
    Ok(())
}

/// Writes eligibility records inside the writer's transaction; answers the per-day rows
/// written (new, or moved to an earlier time of the same day).
pub(crate) fn record_eligibility(
    conn: &Connection,
    account: &str,
    records: &[EligibilityRecord],
) -> rusqlite::Result<usize> {
    let mut written = 0;
    for r in records {
        let mut day = conn.prepare_cached(&format!(
            "INSERT INTO {} (account, campaign_id, day_ms, visitor_id,
                 engagement_id, control, first_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (account, campaign_id, day_ms, visitor_id) DO UPDATE SET
                 engagement_id = excluded.engagement_id, control = excluded.control,
                 first_ms = excluded.first_ms
             WHERE excluded.first_ms < first_ms",
            rollup_table("analytics_eligibility", r.bot)
        ))?;
        let mut cohort = conn.prepare_cached(&format!(
            "INSERT INTO {} (account, campaign_id, visitor_id, engagement_id,
                 control, first_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (account, campaign_id, visitor_id) DO UPDATE SET
                 engagement_id = excluded.engagement_id, control = excluded.control,
                 first_ms = excluded.first_ms
             WHERE excluded.first_ms < first_ms",
            rollup_table("analytics_cohort", r.bot)
        ))?;
        let campaign = sql_id(r.campaign_id);
        let engagement = sql_id(r.engagement_id);
        written += day.execute(params![
            account,
            campaign,
            day_of(r.at_ms),
            r.visitor_id,
            engagement,
            r.control,
            r.at_ms
        ])?;
        cohort.execute(params![
            account,
            campaign,
            r.visitor_id,
            engagement,
            r.control,
            r.at_ms
        ])?;
    }
    Ok(written)
}

fn ids_json(ids: &[u64]) -> String {
    serde_json::to_string(&ids.iter().map(|i| sql_id(*i)).collect::<Vec<_>>())
        .unwrap_or_else(|_| "[]".to_owned())
}

/// The tables a read covers: people's, and with `includeBots` bots' too.
fn sides(include_bots: bool) -> &'static [bool] {
    if include_bots {
        &[false, true]
    } else {
        &[false]
    }
}

/// What a report over `scope` reads (see [`AnalyticsFacts`]), from a read connection.
///
/// With `includeBots` each list is read from both sides; a first time (per-day and
/// first eligibility, first impression and click) is the earlier of the two sides',
/// people's on a tie, so the answer is what one table of both would give.
pub(crate) fn facts(
    conn: &Connection,
    account: &str,
    scope: &AnalyticsScope,
) -> Result<AnalyticsFacts, StoreError> {
    let campaigns = ids_json(&scope.campaign_ids);
    let engagements = ids_json(&scope.engagement_ids);
    let purchases_to = scope.to_ms.saturating_add(scope.attribution_ms);
    let both = scope.include_bots;
    let mut facts = AnalyticsFacts::default();

    for &bot in sides(both) {
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT hour_ms, visitor_id FROM {}
                 WHERE account = ?1 AND hour_ms >= ?2 AND hour_ms < ?3",
                rollup_table("analytics_visitors", bot)
            ))
            .map_err(sql_err)?;
        let rows = stmt
            .query_map(params![account, hour_of(scope.from_ms), scope.to_ms], |r| {
                Ok(VisitorHour {
                    hour_ms: r.get(0)?,
                    visitor_id: r.get(1)?,
                })
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(sql_err)?;
        facts
            .visitors
            .extend(rows.into_iter().filter(|v| scope.covers_time(v.hour_ms)));
    }

    // The campaign and engagement filters (JSON arrays in ?4 and ?5), written so that an
    // absent one is no condition at all and a present one can use the campaign keys.
    let filter = |alias: &str| {
        let campaign = if scope.campaign_ids.is_empty() {
            "?4 = '[]'".to_owned()
        } else {
            format!("{alias}campaign_id IN (SELECT value FROM json_each(?4))")
        };
        let engagement = if scope.engagement_ids.is_empty() {
            "?5 = '[]'".to_owned()
        } else {
            format!("{alias}engagement_id IN (SELECT value FROM json_each(?5))")
        };
        format!("{campaign} AND {engagement}")
    };
    // A row of one side counts unless the other side has an earlier first time for the
    // same key (or as early, for bots' rows).
    let earliest = |table: &str, bot: bool, key: &str| {
        if !both {
            return String::new();
        }
        let other = rollup_table(table, !bot);
        let before = if bot { "<=" } else { "<" };
        let same = key
            .split(',')
            .map(|k| format!("x.{k} = e.{k}"))
            .collect::<Vec<_>>()
            .join(" AND ");
        format!(
            "AND NOT EXISTS (SELECT 1 FROM {other} x WHERE x.account = e.account AND {same}
                 AND x.first_ms {before} e.first_ms)"
        )
    };
    let eligibility =
        |table: &str, key: &str, days: &str| -> Result<Vec<EligibilityFact>, StoreError> {
            let mut out = Vec::new();
            for &bot in sides(both) {
                let mut stmt = conn
                    .prepare_cached(&format!(
                        "SELECT e.campaign_id, e.engagement_id, e.visitor_id, e.control, e.first_ms
                     FROM {} e
                     WHERE e.account = ?1 AND e.first_ms >= ?2 AND e.first_ms < ?3 {days}
                       AND {} {}",
                        rollup_table(table, bot),
                        filter("e."),
                        earliest(table, bot, key)
                    ))
                    .map_err(sql_err)?;
                out.extend(
                    stmt.query_map(
                        params![account, scope.from_ms, scope.to_ms, campaigns, engagements],
                        eligibility_row,
                    )
                    .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                    .map_err(sql_err)?,
                );
            }
            Ok(out)
        };
    // A day's row holds that day's first time: the day bounds let the key narrow.
    facts.eligibility = eligibility(
        "analytics_eligibility",
        "campaign_id,day_ms,visitor_id",
        "AND e.day_ms >= ?2 - (?2 % 86400000) AND e.day_ms < ?3",
    )?;
    facts.cohort = eligibility("analytics_cohort", "campaign_id,visitor_id", "")?;

    for &bot in sides(both) {
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT campaign_id, engagement_id, hour_ms, impressions, clicks, declines, timeouts,
                     coupon_reveals, coupon_copies
                 FROM {}
                 WHERE account = ?1 AND hour_ms >= ?2 AND hour_ms < ?3 AND {}",
                rollup_table("analytics_offer_counts", bot),
                filter("")
            ))
            .map_err(sql_err)?;
        let rows = stmt
            .query_map(
                params![
                    account,
                    hour_of(scope.from_ms),
                    scope.to_ms,
                    campaigns,
                    engagements
                ],
                offer_count_row,
            )
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(sql_err)?;
        facts
            .offer_counts
            .extend(rows.into_iter().filter(|c| scope.covers_time(c.hour_ms)));
    }

    // Offer visitors of the cohort's visitors: with both sides, of either side's cohort
    // rows in range (a superset of the cohort), kept to the cohort after.
    for &ov_bot in sides(both) {
        for &cohort_bot in sides(both) {
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT o.campaign_id, o.visitor_id, o.first_impression_ms, o.first_click_ms
                     FROM {} c
                     JOIN {} o ON o.account = c.account
                         AND o.campaign_id = c.campaign_id AND o.visitor_id = c.visitor_id
                     WHERE c.account = ?1 AND c.first_ms >= ?2 AND c.first_ms < ?3 AND {}",
                    rollup_table("analytics_cohort", cohort_bot),
                    rollup_table("analytics_offer_visitors", ov_bot),
                    filter("c.")
                ))
                .map_err(sql_err)?;
            facts.offer_visitors.extend(
                stmt.query_map(
                    params![account, scope.from_ms, scope.to_ms, campaigns, engagements],
                    offer_visitor_row,
                )
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(sql_err)?,
            );
        }
    }

    for &purchase_bot in sides(both) {
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT p.visitor_id, p.at_ms, p.currency, p.total_micros
                 FROM {} p
                 WHERE p.account = ?1 AND p.at_ms >= ?2 AND p.at_ms < ?3",
                rollup_table("analytics_purchases", purchase_bot),
            ))
            .map_err(sql_err)?;
        facts.purchases.extend(
            stmt.query_map(params![account, scope.from_ms, purchases_to], purchase_row)
                .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
                .map_err(sql_err)?,
        );
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

/// The step occurrences a funnel over `scope` reads, from a read connection.
pub(crate) fn steps(
    conn: &Connection,
    account: &str,
    scope: &StepScope,
) -> Result<Vec<StepOccurrence>, StoreError> {
    let mut out = Vec::new();
    for &bot in sides(scope.include_bots) {
        let mut stmt = conn
            .prepare_cached(&format!(
                "SELECT at_ms, visitor_id, steps FROM {}
                 WHERE account = ?1 AND at_ms >= ?2 AND at_ms < ?3",
                rollup_table("analytics_steps", bot)
            ))
            .map_err(sql_err)?;
        let mut rows = stmt
            .query(params![account, scope.from_ms, scope.to_ms])
            .map_err(sql_err)?;
        while let Some(r) = rows.next().map_err(sql_err)? {
            let at_ms: i64 = r.get(0).map_err(sql_err)?;
            let visitor: String = r.get(1).map_err(sql_err)?;
            let packed = PackedSteps::from_bytes(
                r.get_ref(2).map_err(sql_err)?.as_blob().unwrap_or_default(),
            );
            out.extend(packed.occurrences(at_ms, &visitor, scope));
        }
    }
    // Appended values and the two sides may repeat an occurrence.
    out.sort();
    out.dedup();
    Ok(out)
}

/// Schema version 17: the funnel step rollup packed, one row per batch ([`PackedSteps`])
/// instead of one per step occurrence; [`fill_packed_steps`] converts the rows.
pub(crate) const PACKED_STEPS_MIGRATION: &str = r#"
ALTER TABLE analytics_steps RENAME TO analytics_steps_v16;
ALTER TABLE analytics_bot_steps RENAME TO analytics_bot_steps_v16;
CREATE TABLE analytics_steps (
    account    TEXT NOT NULL,
    at_ms      INTEGER NOT NULL,
    visitor_id TEXT NOT NULL,
    steps      BLOB NOT NULL,
    PRIMARY KEY (account, at_ms, visitor_id)
) WITHOUT ROWID;
CREATE TABLE analytics_bot_steps (
    account    TEXT NOT NULL,
    at_ms      INTEGER NOT NULL,
    visitor_id TEXT NOT NULL,
    steps      BLOB NOT NULL,
    PRIMARY KEY (account, at_ms, visitor_id)
) WITHOUT ROWID;
"#;

/// Packs version 16's step rows (one per occurrence), in key order, into one row per
/// (account, time, visitor), then drops the old tables.
pub(crate) fn fill_packed_steps(conn: &Connection) -> rusqlite::Result<()> {
    for bot in [false, true] {
        let table = rollup_table("analytics_steps", bot);
        let mut read = conn.prepare(&format!(
            "SELECT account, at_ms, visitor_id, step, campaign_id, engagement_id
             FROM {table}_v16 ORDER BY account, at_ms, visitor_id"
        ))?;
        let mut write = conn.prepare(&format!(
            "INSERT INTO {table} (account, at_ms, visitor_id, steps) VALUES (?1, ?2, ?3, ?4)"
        ))?;
        let mut current: Option<(String, i64, String)> = None;
        let mut packed = PackedSteps::default();
        let mut rows = read.query([])?;
        while let Some(r) = rows.next()? {
            let key: (String, i64, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
            if current.as_ref() != Some(&key) {
                if let Some((account, at_ms, visitor)) = current.take() {
                    write.execute(params![account, at_ms, visitor, packed.to_bytes()])?;
                }
                packed = PackedSteps::default();
                current = Some(key);
            }
            if let Some(step) = Step::from_code(r.get(3)?) {
                packed.add(
                    step,
                    read_u64(r.get_ref(4)?).unwrap_or_default(),
                    read_u64(r.get_ref(5)?).unwrap_or_default(),
                );
            }
        }
        if let Some((account, at_ms, visitor)) = current {
            write.execute(params![account, at_ms, visitor, packed.to_bytes()])?;
        }
        drop(rows);
        conn.execute_batch(&format!("DROP TABLE {table}_v16"))?;
    }
    Ok(())
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn offer_count_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OfferCount> {
    Ok(OfferCount {
        campaign_id: read_u64(r.get_ref(0)?).unwrap_or_default(),
        engagement_id: read_u64(r.get_ref(1)?).unwrap_or_default(),
        hour_ms: r.get(2)?,
        impressions: count(r.get(3)?),
        clicks: count(r.get(4)?),
        declines: count(r.get(5)?),
        timeouts: count(r.get(6)?),
        coupon_reveals: count(r.get(7)?),
        coupon_copies: count(r.get(8)?),
    })
}

fn offer_visitor_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OfferVisitor> {
    Ok(OfferVisitor {
        campaign_id: read_u64(r.get_ref(0)?).unwrap_or_default(),
        visitor_id: r.get(1)?,
        first_impression_ms: r.get(2)?,
        first_click_ms: r.get(3)?,
    })
}

fn purchase_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PurchaseFact> {
    Ok(PurchaseFact {
        visitor_id: r.get(0)?,
        at_ms: r.get(1)?,
        currency: r.get(2)?,
        total_micros: r.get(3)?,
    })
}

fn eligibility_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<EligibilityFact> {
    Ok(EligibilityFact {
        campaign_id: read_u64(r.get_ref(0)?).unwrap_or_default(),
        engagement_id: read_u64(r.get_ref(1)?).unwrap_or_default(),
        visitor_id: r.get(2)?,
        control: r.get(3)?,
        at_ms: r.get(4)?,
    })
}

/// Schema version 18: what the server's fact cache reads. Each account's analytics
/// generation, bumped in the transaction of an erasure or retention step that removed
/// rollup rows (a cache reloads the account when it changed), and offer visitors by
/// their first impression and first click, so a catch-up reads only recent rows.
pub(crate) const FACT_CACHE_MIGRATION: &str = r#"
CREATE TABLE analytics_generations (
    account    TEXT PRIMARY KEY NOT NULL,
    generation INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX analytics_offer_visitors_impression
    ON analytics_offer_visitors (account, first_impression_ms);
CREATE INDEX analytics_offer_visitors_click
    ON analytics_offer_visitors (account, first_click_ms);
CREATE INDEX analytics_bot_offer_visitors_impression
    ON analytics_bot_offer_visitors (account, first_impression_ms);
CREATE INDEX analytics_bot_offer_visitors_click
    ON analytics_bot_offer_visitors (account, first_click_ms);
"#;

/// Schema version 19: purchases lose their index by visitor. Every new row took a random
/// place in it, so each batch of a group commit dirtied a page of its own, written whole
/// to the log (about a fifth of the writer's work an item, docs/benchmarks.md); reports
/// and the fact cache read purchases by time, and an erasure finds a visitor's purchases
/// through the time index, reading the account's purchases once a visitor.
pub(crate) const PURCHASES_BY_TIME_MIGRATION: &str = r#"
DROP INDEX analytics_purchases_visitor;
DROP INDEX analytics_bot_purchases_visitor;
"#;

/// Bumps the account's analytics generation: rollup rows were removed (inside the
/// writer's transaction that removed them).
pub(crate) fn bump_generation(conn: &Connection, account: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO analytics_generations (account, generation) VALUES (?1, 1)
         ON CONFLICT (account) DO UPDATE SET generation = generation + 1",
    )?
    .execute([account])?;
    Ok(())
}

/// The account's analytics generation (0 before any removal).
pub(crate) fn generation(conn: &Connection, account: &str) -> Result<u64, StoreError> {
    use rusqlite::OptionalExtension;
    let g: Option<i64> = conn
        .prepare_cached("SELECT generation FROM analytics_generations WHERE account = ?1")
        .and_then(|mut s| s.query_row([account], |r| r.get(0)).optional())
        .map_err(sql_err)?;
    Ok(g.map_or(0, |g| u64::try_from(g).unwrap_or(0)))
}

/// One side's rollup rows (people's, or bots' with `bot`) whose own times are at or
/// after `since_ms` (see [`crate::Store::analytics_side_since`]), read in one snapshot.
pub(crate) fn side_since(
    conn: &Connection,
    account: &str,
    bot: bool,
    since_ms: i64,
) -> Result<AnalyticsFacts, StoreError> {
    let tx = conn.unchecked_transaction().map_err(sql_err)?;
    let conn = &*tx;
    let mut facts = AnalyticsFacts::default();
    let since_hour = hour_of(since_ms);
    facts.visitors = conn
        .prepare_cached(&format!(
            "SELECT hour_ms, visitor_id FROM {} WHERE account = ?1 AND hour_ms >= ?2",
            rollup_table("analytics_visitors", bot)
        ))
        .and_then(|mut s| {
            s.query_map(params![account, since_hour], |r| {
                Ok(VisitorHour {
                    hour_ms: r.get(0)?,
                    visitor_id: r.get(1)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()
        })
        .map_err(sql_err)?;
    for table in ["analytics_eligibility", "analytics_cohort"] {
        let rows = conn
            .prepare_cached(&format!(
                "SELECT campaign_id, engagement_id, visitor_id, control, first_ms FROM {}
                 WHERE account = ?1 AND first_ms >= ?2",
                rollup_table(table, bot)
            ))
            .and_then(|mut s| {
                s.query_map(params![account, since_ms], eligibility_row)?
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(sql_err)?;
        if table == "analytics_cohort" {
            facts.cohort = rows;
        } else {
            facts.eligibility = rows;
        }
    }
    facts.offer_counts = conn
        .prepare_cached(&format!(
            "SELECT campaign_id, engagement_id, hour_ms, impressions, clicks, declines, timeouts,
                 coupon_reveals, coupon_copies
             FROM {} WHERE account = ?1 AND hour_ms >= ?2",
            rollup_table("analytics_offer_counts", bot)
        ))
        .and_then(|mut s| {
            s.query_map(params![account, since_hour], offer_count_row)?
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(sql_err)?;
    let offer_visitors = rollup_table("analytics_offer_visitors", bot);
    facts.offer_visitors = conn
        .prepare_cached(&format!(
            "SELECT campaign_id, visitor_id, first_impression_ms, first_click_ms FROM {offer_visitors}
             WHERE account = ?1 AND first_impression_ms >= ?2
             UNION
             SELECT campaign_id, visitor_id, first_impression_ms, first_click_ms FROM {offer_visitors}
             WHERE account = ?1 AND first_click_ms >= ?2"
        ))
        .and_then(|mut s| {
            s.query_map(params![account, since_ms], offer_visitor_row)?
            .collect::<Result<Vec<_>, _>>()
        })
        .map_err(sql_err)?;
    facts.purchases = conn
        .prepare_cached(&format!(
            "SELECT visitor_id, at_ms, currency, total_micros FROM {}
             WHERE account = ?1 AND at_ms >= ?2",
            rollup_table("analytics_purchases", bot)
        ))
        .and_then(|mut s| {
            s.query_map(params![account, since_ms], purchase_row)?
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(sql_err)?;
    tx.commit().map_err(sql_err)?;
    Ok(facts)
}
