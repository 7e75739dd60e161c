//! The results report against a brute-force oracle: random visitors, decisions
//! (eligibility, exposed or held out), offer events, purchases and plain visits are
//! written through a real store; the report made from what the store's rollups answer
//! must equal, figure for figure, what the oracle computes from the raw records alone
//! by the definitions of docs/analytics.md. On SQLite always, on PostgreSQL (fewer
//! cases, one database) in `report_equals_the_oracle_on_postgres`.

// Tests: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use engage_model::{OfferEvent, Sde, Tape};
use engage_store::analytics::account_facts::AccountFacts;
use engage_store::analytics::report::{report, Grouping, ReportRow, RowKey, Windows};
use engage_store::analytics::{
    AnalyticsFacts, AnalyticsScope, EligibilityRecord, OfferVisitor, PurchaseFact, VisitorHour,
    DAY_MS, HOUR_MS,
};
use engage_store::{IngestBatch, NewAccount, NewEvent, NewSde, Store, VisitContext};
use proptest::prelude::*;

const T0: i64 = 1_750_000_000_000 - 1_750_000_000_000 % DAY_MS;
const SPAN_HOURS: i64 = 4 * 24;
const KINDS: [&str; 7] = [
    "START",
    "OFFER_IMPRESSION",
    "OFFER_CLICK",
    "OFFER_DECLINED",
    "OFFER_TIMEOUT",
    "COUPON_REVEALED",
    "COUPON_COPIED",
];
/// Two campaigns of two engagements each.
const ENGAGEMENTS: [(u64, u64); 4] = [(11, 111), (11, 112), (22, 221), (22, 222)];

#[derive(Debug, Clone)]
struct Decision {
    visitor: usize,
    engagement: usize,
    at: i64,
    /// Asked for by a crawler (its `User-Agent`).
    bot: bool,
}

#[derive(Debug, Clone)]
struct Event {
    visitor: usize,
    engagement: usize,
    kind: usize,
    at: i64,
    bot: bool,
}

#[derive(Debug, Clone)]
struct Purchase {
    visitor: usize,
    at: i64,
    currency: usize,
    cents: i64,
    bot: bool,
}

#[derive(Debug, Clone)]
struct Scenario {
    /// Per (visitor, campaign): held out or not (a visitor keeps their group).
    control: Vec<bool>,
    windows_days: [i64; 2],
    decisions: Vec<Decision>,
    events: Vec<Event>,
    purchases: Vec<Purchase>,
    /// Visitor, time, and whether a crawler sent it.
    visits: Vec<(usize, i64, bool)>,
    /// Whether the report counts bots' traffic (`includeBots`).
    include_bots: bool,
    /// Range in hours from T0, and grouping.
    range: (i64, i64),
    by_campaign: bool,
    by_engagement: bool,
    by_time: Option<i64>,
    campaign_filter: Option<u64>,
}

fn time() -> impl Strategy<Value = i64> {
    (0..SPAN_HOURS * 60).prop_map(|minute| T0 + minute * 60_000)
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (1usize..7).prop_flat_map(|visitors| {
        (
            Just(visitors),
            proptest::collection::vec(any::<bool>(), visitors * 2),
            [1i64..4, 1i64..4],
            proptest::collection::vec((0..visitors, 0..4usize, time(), bot()), 0..14),
            proptest::collection::vec(
                (0..visitors, 0..4usize, 0..KINDS.len(), time(), bot()),
                0..20,
            ),
            proptest::collection::vec(
                (0..visitors, time(), 0..3usize, -500i64..50_000, bot()),
                0..10,
            ),
            proptest::collection::vec((0..visitors, time(), bot()), 0..5),
            (0..SPAN_HOURS, 1..SPAN_HOURS, any::<bool>()),
            (any::<bool>(), any::<bool>()),
            prop_oneof![Just(None), Just(Some(HOUR_MS)), Just(Some(DAY_MS))],
            prop_oneof![Just(None), Just(Some(11u64)), Just(Some(22u64))],
        )
            .prop_map(
                |(
                    _visitors,
                    control,
                    windows_days,
                    decisions,
                    events,
                    purchases,
                    visits,
                    (start, length, include_bots),
                    (by_campaign, by_engagement),
                    by_time,
                    campaign_filter,
                )| Scenario {
                    control,
                    windows_days,
                    // Distinct times: the first eligibility is never a tie.
                    decisions: decisions
                        .into_iter()
                        .enumerate()
                        .map(|(i, (visitor, engagement, at, bot))| Decision {
                            visitor,
                            engagement,
                            at: at + i as i64,
                            bot,
                        })
                        .collect(),
                    events: events
                        .into_iter()
                        .map(|(visitor, engagement, kind, at, bot)| Event {
                            visitor,
                            engagement,
                            kind,
                            at,
                            bot,
                        })
                        .collect(),
                    purchases: purchases
                        .into_iter()
                        .map(|(visitor, at, currency, cents, bot)| Purchase {
                            visitor,
                            at,
                            currency,
                            cents,
                            bot,
                        })
                        .collect(),
                    visits,
                    include_bots,
                    range: (start, (start + length).min(SPAN_HOURS)),
                    by_campaign,
                    by_engagement,
                    by_time,
                    campaign_filter,
                },
            )
    })
}

/// A quarter of the traffic is a crawler's.
fn bot() -> impl Strategy<Value = bool> {
    proptest::bool::weighted(0.25)
}

/// The scenario as the report sees it: bots' records left out unless included.
fn counted(s: &Scenario) -> Scenario {
    let keep = |bot: bool| s.include_bots || !bot;
    Scenario {
        decisions: s
            .decisions
            .iter()
            .filter(|d| keep(d.bot))
            .cloned()
            .collect(),
        events: s.events.iter().filter(|e| keep(e.bot)).cloned().collect(),
        purchases: s
            .purchases
            .iter()
            .filter(|p| keep(p.bot))
            .cloned()
            .collect(),
        visits: s.visits.iter().filter(|v| keep(v.2)).copied().collect(),
        ..s.clone()
    }
}

const CRAWLER: &str = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";

fn visitor(i: usize) -> String {
    format!("visitor-{i}")
}

fn campaign_index(campaign: u64) -> usize {
    usize::from(campaign == 22)
}

fn is_control(s: &Scenario, visitor: usize, campaign: u64) -> bool {
    s.control[visitor * 2 + campaign_index(campaign)]
}

fn window_ms(s: &Scenario, campaign: u64) -> i64 {
    s.windows_days[campaign_index(campaign)] * DAY_MS
}

fn bucket_of(s: &Scenario, ms: i64) -> Option<i64> {
    s.by_time.map(|size| ms.div_euclid(size) * size)
}

fn key(s: &Scenario, campaign: u64, engagement: u64, ms: i64) -> RowKey {
    RowKey {
        campaign_id: (s.by_campaign || s.by_engagement).then_some(campaign),
        engagement_id: s.by_engagement.then_some(engagement),
        time_ms: bucket_of(s, ms),
    }
}

/// Every figure, from the raw records, by the definitions alone.
fn oracle(s: &Scenario) -> Vec<ReportRow> {
    let s = &counted(s);
    let (from, to) = (T0 + s.range.0 * HOUR_MS, T0 + s.range.1 * HOUR_MS);
    let in_range = |ms: i64| from <= ms && ms < to;
    let covered = |campaign: u64| s.campaign_filter.is_none_or(|c| c == campaign);
    // First decision per (campaign, visitor, UTC day), and per (campaign, visitor).
    let mut day_first: BTreeMap<(u64, usize, i64), &Decision> = BTreeMap::new();
    let mut first: BTreeMap<(u64, usize), &Decision> = BTreeMap::new();
    for d in &s.decisions {
        let campaign = ENGAGEMENTS[d.engagement].0;
        let slot = day_first
            .entry((campaign, d.visitor, d.at.div_euclid(DAY_MS)))
            .or_insert(d);
        if d.at < slot.at {
            *slot = d;
        }
        let slot = first.entry((campaign, d.visitor)).or_insert(d);
        if d.at < slot.at {
            *slot = d;
        }
    }
    #[derive(Default)]
    struct Acc {
        eligible: BTreeSet<usize>,
        exposed: BTreeSet<usize>,
        control: BTreeSet<usize>,
        counts: [u64; 6],
        converted: BTreeSet<usize>,
        after_impression: BTreeSet<usize>,
        after_click: BTreeSet<usize>,
        revenue: BTreeSet<usize>,
        control_converted: BTreeSet<usize>,
        control_revenue: BTreeSet<usize>,
    }
    let mut rows: BTreeMap<RowKey, Acc> = BTreeMap::new();
    for ((campaign, visitor, _), d) in &day_first {
        if covered(*campaign) && in_range(d.at) {
            let k = key(s, *campaign, ENGAGEMENTS[d.engagement].1, d.at);
            rows.entry(k).or_default().eligible.insert(*visitor);
        }
    }
    for e in &s.events {
        let (campaign, engagement) = ENGAGEMENTS[e.engagement];
        if e.kind > 0 && covered(campaign) && in_range(e.at) {
            rows.entry(key(s, campaign, engagement, e.at))
                .or_default()
                .counts[e.kind - 1] += 1;
        }
    }
    for ((campaign, visitor), d) in &first {
        if !covered(*campaign) || !in_range(d.at) {
            continue;
        }
        let row = rows
            .entry(key(s, *campaign, ENGAGEMENTS[d.engagement].1, d.at))
            .or_default();
        let attributed: Vec<usize> = s
            .purchases
            .iter()
            .enumerate()
            .filter(|(_, p)| {
                p.visitor == *visitor && d.at <= p.at && p.at < d.at + window_ms(s, *campaign)
            })
            .map(|(i, _)| i)
            .collect();
        if is_control(s, *visitor, *campaign) {
            row.control.insert(*visitor);
            if !attributed.is_empty() {
                row.control_converted.insert(*visitor);
                row.control_revenue.extend(&attributed);
            }
            continue;
        }
        row.exposed.insert(*visitor);
        if attributed.is_empty() {
            continue;
        }
        row.converted.insert(*visitor);
        row.revenue.extend(&attributed);
        let last = attributed.iter().map(|i| s.purchases[*i].at).max().unwrap();
        let saw = |kind: usize| {
            s.events.iter().any(|e| {
                e.visitor == *visitor
                    && ENGAGEMENTS[e.engagement].0 == *campaign
                    && e.kind == kind
                    && e.at <= last
            })
        };
        if saw(1) {
            row.after_impression.insert(*visitor);
        }
        if saw(2) {
            row.after_click.insert(*visitor);
        }
    }
    // Monitored visitors: anyone who sent a batch, by time bucket.
    let mut sent: Vec<(usize, i64)> = s.visits.iter().map(|(v, at, _)| (*v, *at)).collect();
    sent.extend(s.events.iter().map(|e| (e.visitor, e.at)));
    sent.extend(s.purchases.iter().map(|p| (p.visitor, p.at)));
    let mut monitored: HashMap<Option<i64>, BTreeSet<usize>> = HashMap::new();
    for (v, at) in &sent {
        if in_range(*at) {
            monitored.entry(bucket_of(s, *at)).or_default().insert(*v);
            if !(s.by_campaign || s.by_engagement) {
                rows.entry(key(s, 0, 0, *at)).or_default();
            }
        }
    }
    let revenue = |set: &BTreeSet<usize>| {
        let mut out = BTreeMap::new();
        for i in set {
            let p = &s.purchases[*i];
            *out.entry(["USD", "EUR", "NA"][p.currency].to_owned())
                .or_insert(0i64) += p.cents * 10_000;
        }
        out
    };
    let mut out: Vec<ReportRow> = rows
        .into_iter()
        .map(|(key, a)| ReportRow {
            key,
            visitors: monitored.get(&key.time_ms).map_or(0, |m| m.len() as u64),
            eligible: a.eligible.len() as u64,
            control_visitors: a.control.len() as u64,
            exposed_visitors: a.exposed.len() as u64,
            impressions: a.counts[0],
            clicks: a.counts[1],
            declines: a.counts[2],
            timeouts: a.counts[3],
            coupon_reveals: a.counts[4],
            coupon_copies: a.counts[5],
            conversions: a.converted.len() as u64,
            conversions_after_impression: a.after_impression.len() as u64,
            conversions_after_click: a.after_click.len() as u64,
            revenue: revenue(&a.revenue),
            control_conversions: a.control_converted.len() as u64,
            control_revenue: revenue(&a.control_revenue),
            rest_of_campaign: None,
        })
        .collect();
    if s.by_engagement {
        let snapshot = out.clone();
        for r in &mut out {
            let siblings: Vec<&ReportRow> = snapshot
                .iter()
                .filter(|o| {
                    o.key.campaign_id == r.key.campaign_id
                        && o.key.time_ms == r.key.time_ms
                        && o.exposed_visitors > 0
                })
                .collect();
            if siblings.len() >= 2 && r.exposed_visitors > 0 {
                let others = siblings.iter().filter(|o| o.key != r.key);
                let (n, x) = others.fold((0, 0), |(n, x), o| {
                    (n + o.exposed_visitors, x + o.conversions)
                });
                r.rest_of_campaign = Some((n, x));
            }
        }
    }
    out
}

fn offer_event(kind: &str, context: &str, (campaign, engagement): (u64, u64)) -> OfferEvent {
    let app = if kind.starts_with("COUPON_") {
        "ENGAGE_ACTION"
    } else {
        "LP_OFFERS"
    };
    let text = format!(
        r#"{{"appName":"{app}","eventName":"{kind}","data":{{"contexts":[{{"EngagementContext":{{"id":"{context}"}}}},{{"pageContext":{{"id":"p"}}}}],"campaignId":{campaign},"engagementId":{engagement},"engagementRevision":1,"engagementType":5,"contextId":"{context}","confKey":"{campaign}_{engagement}_1"}}}}"#
    );
    OfferEvent::read(Tape::parse_str(&text).unwrap().root(), &[]).unwrap()
}

fn purchase_sde(p: &Purchase, i: usize) -> Sde {
    let currency = match p.currency {
        0 => r#","currency":"USD""#,
        1 => r#","currency":"EUR""#,
        _ => "",
    };
    let total = format!(
        "{}{}.{:02}",
        if p.cents < 0 { "-" } else { "" },
        p.cents.abs() / 100,
        p.cents.abs() % 100
    );
    let text = format!(r#"{{"type":"purchase","total":"{total}"{currency},"orderId":"o{i}"}}"#);
    Sde::read_page(Tape::parse_str(&text).unwrap().root()).unwrap()
}

fn batch(account: &str, visitor_index: usize, at: i64, bot: bool) -> IngestBatch {
    let v = visitor(visitor_index);
    IngestBatch {
        account_id: account.to_owned(),
        received_ms: at,
        visit: Some(VisitContext {
            session_id: format!("{v}-session"),
            page_id: format!("{v}-page"),
            visitor_id: v,
            page: None,
            user_agent: bot.then(|| CRAWLER.to_owned()),
            client: None,
        }),
        events: Vec::new(),
        sdes: Vec::new(),
        rejected: Vec::new(),
    }
}

/// Writes the scenario into a new account of `store`, then reports from the rollups.
async fn through_the_store(store: &Arc<dyn Store>, s: &Scenario) -> Vec<ReportRow> {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let account = store
        .create_account(NewAccount {
            name: "Shop".into(),
            api_key_hash: format!(
                "{:064x}",
                N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                    + u64::from(std::process::id()) * 1_000_000
                    + engage_store::ids::now_ms() as u64 * 1_000
            ),
        })
        .await
        .unwrap()
        .id;
    // Decisions one call each, in the order generated (not time order).
    for d in &s.decisions {
        let (campaign, engagement) = ENGAGEMENTS[d.engagement];
        store
            .record_eligibility(
                &account,
                vec![EligibilityRecord {
                    campaign_id: campaign,
                    engagement_id: engagement,
                    visitor_id: visitor(d.visitor),
                    control: is_control(s, d.visitor, campaign),
                    at_ms: d.at,
                    bot: d.bot,
                }],
            )
            .await
            .unwrap();
    }
    for (i, e) in s.events.iter().enumerate() {
        let mut b = batch(&account, e.visitor, e.at, e.bot);
        b.events.push(NewEvent {
            client_id: format!("event-{i}"),
            client_time_ms: None,
            event: offer_event(
                KINDS[e.kind],
                &format!("ctx-{i}"),
                ENGAGEMENTS[e.engagement],
            ),
        });
        store.ingest(b.clone()).await.unwrap();
        // A retry adds nothing.
        store.ingest(b).await.unwrap();
    }
    for (i, p) in s.purchases.iter().enumerate() {
        let mut b = batch(&account, p.visitor, p.at, p.bot);
        b.sdes.push(NewSde {
            client_id: format!("purchase-{i}"),
            client_time_ms: None,
            sde: purchase_sde(p, i),
        });
        store.ingest(b).await.unwrap();
    }
    for (v, at, bot) in &s.visits {
        store.ingest(batch(&account, *v, *at, *bot)).await.unwrap();
    }

    let windows: HashMap<u64, i64> = [(11, window_ms(s, 11)), (22, window_ms(s, 22))].into();
    let scope = AnalyticsScope {
        from_ms: T0 + s.range.0 * HOUR_MS,
        to_ms: T0 + s.range.1 * HOUR_MS,
        campaign_ids: s.campaign_filter.into_iter().collect(),
        engagement_ids: Vec::new(),
        attribution_ms: windows.values().copied().max().unwrap(),
        include_bots: s.include_bots,
    };
    let facts = store
        .analytics_facts(&account, scope.clone())
        .await
        .unwrap();

    // The server's copy of the account's facts answers the same: loaded whole, and
    // after a catch-up that replaced its rows from the range's start on.
    let mut copy = AccountFacts::default();
    for bot in [false, true] {
        let rows = store
            .analytics_side_since(&account, bot, i64::MIN)
            .await
            .unwrap();
        copy.apply(bot, i64::MIN, rows);
    }
    let from_copy = |copy: &AccountFacts| {
        let slice = copy.slice(&scope);
        let id = |v: u32| copy.visitor_id(v).unwrap().to_owned();
        AnalyticsFacts {
            visitors: slice
                .visitors
                .into_iter()
                .map(|v| VisitorHour {
                    hour_ms: v.hour_ms,
                    visitor_id: id(v.visitor_id),
                })
                .collect(),
            eligibility: slice
                .eligibility
                .into_iter()
                .map(|e| e.map_visitor(id))
                .collect(),
            cohort: slice
                .cohort
                .into_iter()
                .map(|e| e.map_visitor(id))
                .collect(),
            offer_counts: slice.offer_counts,
            offer_visitors: slice
                .offer_visitors
                .into_iter()
                .map(|o| OfferVisitor {
                    campaign_id: o.campaign_id,
                    visitor_id: id(o.visitor_id),
                    first_impression_ms: o.first_impression_ms,
                    first_click_ms: o.first_click_ms,
                })
                .collect(),
            purchases: slice
                .purchases
                .into_iter()
                .map(|p| PurchaseFact {
                    visitor_id: id(p.visitor_id),
                    at_ms: p.at_ms,
                    currency: p.currency,
                    total_micros: p.total_micros,
                })
                .collect(),
        }
        .sorted()
    };
    let expected = facts.clone().sorted();
    assert_eq!(from_copy(&copy), expected, "the copy, loaded");
    for bot in [false, true] {
        let rows = store
            .analytics_side_since(&account, bot, scope.from_ms)
            .await
            .unwrap();
        copy.apply(bot, scope.from_ms, rows);
    }
    assert_eq!(from_copy(&copy), expected, "the copy, caught up");

    let size = s.by_time;
    let bucket = move |ms: i64| size.map_or(ms, |size| ms.div_euclid(size) * size);
    report(
        &facts.interned(),
        Grouping {
            campaign: s.by_campaign,
            engagement: s.by_engagement,
            time: s.by_time.map(|_| &bucket as &(dyn Fn(i64) -> i64 + Sync)),
        },
        &Windows {
            by_campaign: &windows,
            default_ms: 7 * DAY_MS,
        },
        100_000,
    )
    .unwrap()
}

fn check(runtime: &tokio::runtime::Runtime, store: Arc<dyn Store>, cases: u32) {
    let config = ProptestConfig {
        cases,
        ..ProptestConfig::default()
    };
    proptest!(config, |(s in scenario())| {
        let got = runtime.block_on(through_the_store(&store, &s));
        let expected = oracle(&s);
        prop_assert_eq!(got, expected, "scenario {:?}", s);
    });
}

#[test]
fn report_equals_the_oracle_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let store: Arc<dyn Store> = Arc::new(
        runtime
            .block_on(engage_store::sqlite::SqliteStore::open(
                &dir.path().join("engage.db"),
            ))
            .unwrap(),
    );
    check(&runtime, store, 64);
}

#[cfg(feature = "postgres")]
#[test]
fn report_equals_the_oracle_on_postgres() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (name, url) = runtime.block_on(crate::postgres_conformance::create_database());
    let store: Arc<dyn Store> = Arc::new(
        runtime
            .block_on(engage_store::postgres::PostgresStore::open(&url))
            .unwrap(),
    );
    check(&runtime, Arc::clone(&store), 24);
    runtime.block_on(store.close()).unwrap();
    drop(store);
    crate::postgres_conformance::drop_database(name);
}
