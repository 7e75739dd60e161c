//! The conformance suite's part for the results rollups: [`Store::record_eligibility`],
//! what `ingest` adds to the rollups, [`Store::analytics_facts`], and the campaign and
//! engagement settings results read.
//!
//! [`store_conformance_tests!`](crate::store_conformance_tests) expands these with the
//! rest of the suite.

// A test suite: a panic is a failed test, with the message saying which expectation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use crate::analytics::report::{report, Grouping, Windows};
use crate::analytics::{
    AnalyticsScope, EligibilityFact, EligibilityRecord, OfferCount, OfferVisitor, PurchaseFact,
    Step, StepOccurrence, StepScope, VisitorHour, DAY_MS, HOUR_MS,
};
use crate::campaign_conformance::{campaign, definition};
use crate::conformance::{account, fresh};
use crate::{sample, CampaignFields, IngestBatch, Store};

/// Expands the analytics tests into one `#[tokio::test]` each for a backend.
#[macro_export]
macro_rules! analytics_conformance_tests {
    ($open:path) => {
        $crate::analytics_conformance_tests!(@expand $open;
            campaigns_keep_their_control_group_and_window_and_engagements_their_weight,
            eligibility_is_one_row_per_visitor_campaign_and_day_and_the_first_ever,
            ingest_rolls_up_accepted_events_purchases_and_visitors_once,
            a_report_from_the_rollups_attributes_purchases_within_the_window,
            funnel_steps_are_one_per_batch_step_and_engagement,
            coupon_reveals_and_copies_are_counted_apart_from_clicks,
            bots_are_rolled_up_apart_and_read_only_when_included,
            retention_and_erasure_remove_rollup_rows_of_both_sides,
            a_visitor_erased_or_expired_and_back_in_the_same_hour_is_rolled_up_again,
        );
    };
    (@expand $open:path; $($test:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $test() {
                $crate::analytics_conformance::$test($open).await;
            }
        )*
    };
}

/// An hour's start, so hour buckets are easy to read.
const T0: i64 = 1_750_000_000_000 - 1_750_000_000_000 % DAY_MS;
const CAMPAIGN: u64 = 1234;
const ENGAGEMENT: u64 = 5678;

fn batch(account: &str, visitor: &str, received_ms: i64) -> IngestBatch {
    IngestBatch {
        account_id: account.to_owned(),
        received_ms,
        visit: Some(sample::visit_context(
            visitor,
            &format!("{visitor}-session"),
            &format!("{visitor}-page"),
        )),
        events: Vec::new(),
        sdes: Vec::new(),
        rejected: Vec::new(),
    }
}

fn offer_event(name: &str, context: &str) -> crate::NewEvent {
    sample::new_event(
        sample::parse_event(&sample::engagement_event_text(
            name,
            context,
            "page-ctx",
            (CAMPAIGN, ENGAGEMENT, 5),
        )),
        None,
    )
}

fn purchase(total: &str, currency: &str) -> crate::NewSde {
    sample::new_sde(
        sample::page_sde(&format!(
            r#"{{"type":"purchase","total":"{total}","currency":"{currency}","orderId":"o-{total}"}}"#
        )),
        None,
    )
}

fn scope(from_ms: i64, to_ms: i64) -> AnalyticsScope {
    AnalyticsScope {
        from_ms,
        to_ms,
        campaign_ids: Vec::new(),
        engagement_ids: Vec::new(),
        attribution_ms: 7 * DAY_MS,
        include_bots: false,
    }
}

fn eligible(visitor: &str, control: bool, at_ms: i64) -> EligibilityRecord {
    EligibilityRecord {
        campaign_id: CAMPAIGN,
        engagement_id: ENGAGEMENT,
        visitor_id: visitor.to_owned(),
        control,
        at_ms,
        bot: false,
    }
}

pub async fn campaigns_keep_their_control_group_and_window_and_engagements_their_weight<F, Fut>(
    open: F,
) where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let acc = account(&store).await;
    let plain = store
        .create_campaign(&acc, campaign("Plain", 1))
        .await
        .unwrap();
    assert_eq!(plain.fields.control_group_percent, 0);
    assert_eq!(plain.fields.attribution_window_days, 7);
    let held = CampaignFields {
        control_group_percent: 20,
        attribution_window_days: 31,
        ..campaign("Held out", 2)
    };
    let created = store.create_campaign(&acc, held.clone()).await.unwrap();
    assert_eq!(created.fields, held);
    assert_eq!(
        store
            .campaign(&acc, created.id)
            .await
            .unwrap()
            .unwrap()
            .fields,
        held
    );
    let changed = CampaignFields {
        control_group_percent: 50,
        attribution_window_days: 1,
        ..held
    };
    let updated = store
        .update_campaign(&acc, created.id, changed.clone())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.fields, changed);

    let mut weighted = definition("A");
    weighted.weight = Some(3);
    let e = store
        .create_engagement(
            &acc,
            created.id,
            weighted.clone(),
            engage_model::AgentState::Online,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(e.definition.weight, Some(3));
    let read = store
        .engagement(&acc, created.id, e.id, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.definition, weighted);
    let mut revised = weighted;
    revised.weight = None;
    let r2 = store
        .revise_engagement(&acc, created.id, e.id, revised)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r2.definition.weight, None);
    let r1 = store
        .engagement(&acc, created.id, e.id, Some(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r1.definition.weight, Some(3), "revision 1 keeps its weight");
}

pub async fn eligibility_is_one_row_per_visitor_campaign_and_day_and_the_first_ever<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let acc = account(&store).await;
    let other = account(&store).await;
    let written = store
        .record_eligibility(
            &acc,
            vec![
                eligible("v1", false, T0 + 5_000),
                eligible("v1", false, T0 + 9_000),
                eligible("v2", true, T0 + 7_000),
            ],
        )
        .await
        .unwrap();
    assert_eq!(written, 2, "one row per visitor, campaign and day");
    // Later the same day: nothing new. An earlier time of the same day moves it back.
    assert_eq!(
        store
            .record_eligibility(&acc, vec![eligible("v1", false, T0 + 60_000)])
            .await
            .unwrap(),
        0
    );
    store
        .record_eligibility(&acc, vec![eligible("v2", true, T0 + 1_000)])
        .await
        .unwrap();
    // The next day is a new row; the first eligibility ever stays.
    store
        .record_eligibility(&acc, vec![eligible("v1", false, T0 + DAY_MS + 10)])
        .await
        .unwrap();

    let facts = store
        .analytics_facts(&acc, scope(T0, T0 + 2 * DAY_MS))
        .await
        .unwrap()
        .sorted();
    let fact = |v: &str, control, at_ms| EligibilityFact {
        campaign_id: CAMPAIGN,
        engagement_id: ENGAGEMENT,
        visitor_id: v.to_owned(),
        control,
        at_ms,
    };
    let mut days = vec![
        fact("v1", false, T0 + 5_000),
        fact("v1", false, T0 + DAY_MS + 10),
        fact("v2", true, T0 + 1_000),
    ];
    days.sort();
    assert_eq!(facts.eligibility, days);
    let mut cohort = vec![fact("v1", false, T0 + 5_000), fact("v2", true, T0 + 1_000)];
    cohort.sort();
    assert_eq!(facts.cohort, cohort);

    // Filters and ranges.
    let second_day = store
        .analytics_facts(&acc, scope(T0 + DAY_MS, T0 + 2 * DAY_MS))
        .await
        .unwrap();
    assert_eq!(second_day.eligibility.len(), 1);
    assert!(second_day.cohort.is_empty());
    let other_campaign = store
        .analytics_facts(
            &acc,
            AnalyticsScope {
                campaign_ids: vec![CAMPAIGN + 1],
                ..scope(T0, T0 + 2 * DAY_MS)
            },
        )
        .await
        .unwrap();
    assert!(other_campaign.eligibility.is_empty() && other_campaign.cohort.is_empty());
    assert!(store
        .analytics_facts(&other, scope(T0, T0 + 2 * DAY_MS))
        .await
        .unwrap()
        .eligibility
        .is_empty());
}

pub async fn ingest_rolls_up_accepted_events_purchases_and_visitors_once<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let acc = account(&store).await;
    store
        .record_eligibility(&acc, vec![eligible("v1", false, T0)])
        .await
        .unwrap();
    let mut b = batch(&acc, "v1", T0 + 10 * 60_000);
    for (name, ctx) in [
        ("START", "c1"),
        ("OFFER_IMPRESSION", "c1"),
        ("OFFER_CLICK", "c1"),
        ("OFFER_IMPRESSION", "c2"),
        ("OFFER_DECLINED", "c2"),
        ("OFFER_IMPRESSION", "c3"),
        ("OFFER_TIMEOUT", "c3"),
    ] {
        b.events.push(offer_event(name, ctx));
    }
    b.sdes.push(purchase("12.50", "USD"));
    store.ingest(b.clone()).await.unwrap();
    // The same batch again is all duplicates: nothing is counted twice.
    let again = store.ingest(b).await.unwrap();
    assert_eq!(again.accepted, 0);
    let mut later = batch(&acc, "v1", T0 + HOUR_MS + 5);
    later.events.push(offer_event("OFFER_IMPRESSION", "c4"));
    later.sdes.push(purchase("3", "EUR"));
    store.ingest(later).await.unwrap();
    store
        .ingest(batch(&acc, "v2", T0 + HOUR_MS + 9))
        .await
        .unwrap();

    let facts = store
        .analytics_facts(&acc, scope(T0, T0 + DAY_MS))
        .await
        .unwrap()
        .sorted();
    assert_eq!(
        facts.visitors,
        vec![
            VisitorHour {
                hour_ms: T0,
                visitor_id: "v1".into()
            },
            VisitorHour {
                hour_ms: T0 + HOUR_MS,
                visitor_id: "v1".into()
            },
            VisitorHour {
                hour_ms: T0 + HOUR_MS,
                visitor_id: "v2".into()
            },
        ]
    );
    let count = |hour_ms, impressions, clicks, declines, timeouts| OfferCount {
        campaign_id: CAMPAIGN,
        engagement_id: ENGAGEMENT,
        hour_ms,
        impressions,
        clicks,
        declines,
        timeouts,
        coupon_reveals: 0,
        coupon_copies: 0,
    };
    assert_eq!(
        facts.offer_counts,
        vec![count(T0, 3, 1, 1, 1), count(T0 + HOUR_MS, 1, 0, 0, 0)]
    );
    assert_eq!(
        facts.offer_visitors,
        vec![OfferVisitor {
            campaign_id: CAMPAIGN,
            visitor_id: "v1".into(),
            first_impression_ms: Some(T0 + 10 * 60_000),
            first_click_ms: Some(T0 + 10 * 60_000),
        }]
    );
    assert_eq!(
        facts.purchases,
        vec![
            PurchaseFact {
                visitor_id: "v1".into(),
                at_ms: T0 + 10 * 60_000,
                currency: "USD".into(),
                total_micros: 12_500_000,
            },
            PurchaseFact {
                visitor_id: "v1".into(),
                at_ms: T0 + HOUR_MS + 5,
                currency: "EUR".into(),
                total_micros: 3_000_000,
            },
        ]
    );
}

pub async fn a_report_from_the_rollups_attributes_purchases_within_the_window<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let acc = account(&store).await;
    // Four exposed visitors, two held out. e1 buys within the window after a click,
    // e2 buys after the window closed, c1 (control) buys within it.
    let mut records = Vec::new();
    for v in ["e1", "e2", "e3", "e4"] {
        records.push(eligible(v, false, T0));
    }
    records.push(eligible("c1", true, T0));
    records.push(eligible("c2", true, T0));
    store.record_eligibility(&acc, records).await.unwrap();
    let mut e1 = batch(&acc, "e1", T0 + 1_000);
    e1.events.push(offer_event("OFFER_IMPRESSION", "x1"));
    e1.events.push(offer_event("OFFER_CLICK", "x1"));
    store.ingest(e1).await.unwrap();
    let mut e1_buys = batch(&acc, "e1", T0 + 2 * DAY_MS);
    e1_buys.sdes.push(purchase("100", "USD"));
    store.ingest(e1_buys).await.unwrap();
    let mut e2_late = batch(&acc, "e2", T0 + 3 * DAY_MS);
    e2_late.sdes.push(purchase("50", "USD"));
    store.ingest(e2_late).await.unwrap();
    let mut c1_buys = batch(&acc, "c1", T0 + DAY_MS);
    c1_buys.sdes.push(purchase("40", "USD"));
    store.ingest(c1_buys).await.unwrap();

    let facts = store
        .analytics_facts(&acc, scope(T0, T0 + DAY_MS))
        .await
        .unwrap();
    let windows = HashMap::from([(CAMPAIGN, 3 * DAY_MS)]);
    let rows = report(
        &facts.clone().interned(),
        Grouping {
            campaign: true,
            engagement: false,
            time: None,
        },
        &Windows {
            by_campaign: &windows,
            default_ms: 7 * DAY_MS,
        },
        10,
    )
    .unwrap();
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!(r.key.campaign_id, Some(CAMPAIGN));
    assert_eq!(
        (r.exposed_visitors, r.control_visitors, r.eligible),
        (4, 2, 6)
    );
    assert_eq!((r.impressions, r.clicks), (1, 1));
    assert_eq!(
        r.conversions, 1,
        "e2 bought when its 3-day window had closed"
    );
    assert_eq!(
        (r.conversions_after_impression, r.conversions_after_click),
        (1, 1)
    );
    assert_eq!(r.revenue.get("USD"), Some(&100_000_000));
    assert_eq!(r.control_conversions, 1);
    assert_eq!(r.control_revenue.get("USD"), Some(&40_000_000));
    // 1/4 exposed against 1/2 held out.
    assert_eq!(r.incremental_conversions(), Some(1.0 - 0.5 * 4.0));
    assert!((r.lift().unwrap().value - (-0.5)).abs() < 1e-12);
}

pub async fn funnel_steps_are_one_per_batch_step_and_engagement<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    use engage_model::{OfferEventName, SdeType};
    let (_dir, store) = fresh(&open).await;
    let acc = account(&store).await;
    let mut b = batch(&acc, "v1", T0 + 1_000);
    b.events.push(offer_event("OFFER_IMPRESSION", "c1"));
    b.events.push(offer_event("OFFER_IMPRESSION", "c2"));
    b.events.push(offer_event("OFFER_CLICK", "c1"));
    b.sdes.push(purchase("5", "USD"));
    store.ingest(b.clone()).await.unwrap();
    store.ingest(b).await.unwrap();
    let mut other = batch(&acc, "v2", T0 + 2_000);
    other.events.push(sample::new_event(
        sample::parse_event(&sample::engagement_event_text(
            "OFFER_IMPRESSION",
            "c9",
            "page-ctx",
            (CAMPAIGN + 1, ENGAGEMENT + 1, 5),
        )),
        None,
    ));
    other
        .sdes
        .push(sample::new_sde(sample::sde(SdeType::Cart), None));
    store.ingest(other).await.unwrap();

    let impression = Step::Event(OfferEventName::OfferImpression);
    let step = |at_ms, v: &str, step, campaign_id, engagement_id| StepOccurrence {
        at_ms,
        visitor_id: v.to_owned(),
        step,
        campaign_id,
        engagement_id,
    };
    let scope = StepScope {
        from_ms: T0,
        to_ms: T0 + DAY_MS,
        steps: vec![
            impression,
            Step::Sde(SdeType::Purchase),
            Step::Sde(SdeType::Cart),
        ],
        campaign_ids: Vec::new(),
        engagement_ids: Vec::new(),
        include_bots: false,
    };
    let mut got = store.funnel_steps(&acc, scope.clone()).await.unwrap();
    got.sort();
    let mut expected = vec![
        step(T0 + 1_000, "v1", impression, CAMPAIGN, ENGAGEMENT),
        step(T0 + 1_000, "v1", Step::Sde(SdeType::Purchase), 0, 0),
        step(T0 + 2_000, "v2", impression, CAMPAIGN + 1, ENGAGEMENT + 1),
        step(T0 + 2_000, "v2", Step::Sde(SdeType::Cart), 0, 0),
    ];
    expected.sort();
    assert_eq!(
        got, expected,
        "two impressions of one batch are one occurrence"
    );

    // A campaign filter keeps its events and every attribute step.
    let mut filtered = store
        .funnel_steps(
            &acc,
            StepScope {
                campaign_ids: vec![CAMPAIGN],
                ..scope.clone()
            },
        )
        .await
        .unwrap();
    filtered.sort();
    expected.retain(|o| o.campaign_id != CAMPAIGN + 1);
    assert_eq!(filtered, expected);
    let none = store
        .funnel_steps(
            &acc,
            StepScope {
                from_ms: T0 + 1_001,
                ..scope
            },
        )
        .await
        .unwrap();
    assert_eq!(none.len(), 2);
}

const CRAWLER: &str = "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)";

fn crawler_batch(account: &str, visitor: &str, received_ms: i64) -> IngestBatch {
    let mut b = batch(account, visitor, received_ms);
    if let Some(v) = &mut b.visit {
        v.user_agent = Some(CRAWLER.to_owned());
    }
    b
}

fn bot_eligible(visitor: &str, control: bool, at_ms: i64) -> EligibilityRecord {
    EligibilityRecord {
        bot: true,
        ..eligible(visitor, control, at_ms)
    }
}

pub async fn bots_are_rolled_up_apart_and_read_only_when_included<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let acc = account(&store).await;
    // A person: eligible at +10 s, an impression and a purchase. A crawler with its own
    // id, and the person's id used by a crawler too, earlier (+5 s) and on a later day.
    store
        .record_eligibility(
            &acc,
            vec![
                eligible("person", false, T0 + 10_000),
                bot_eligible("crawler", false, T0 + 1_000),
                bot_eligible("person", false, T0 + 5_000),
                bot_eligible("person", false, T0 + DAY_MS + 5),
            ],
        )
        .await
        .unwrap();
    let mut p = batch(&acc, "person", T0 + 20_000);
    p.events.push(offer_event("OFFER_IMPRESSION", "ctx-p"));
    p.sdes.push(purchase("10", "USD"));
    store.ingest(p).await.unwrap();
    let mut c = crawler_batch(&acc, "crawler", T0 + 30_000);
    c.events.push(offer_event("OFFER_IMPRESSION", "ctx-c"));
    c.events.push(offer_event("OFFER_CLICK", "ctx-c"));
    c.sdes.push(purchase("99", "EUR"));
    store.ingest(c).await.unwrap();
    let mut pc = crawler_batch(&acc, "person", T0 + 2_000);
    pc.events.push(offer_event("OFFER_IMPRESSION", "ctx-pc"));
    store.ingest(pc).await.unwrap();

    let fact = |v: &str, at_ms| EligibilityFact {
        campaign_id: CAMPAIGN,
        engagement_id: ENGAGEMENT,
        visitor_id: v.to_owned(),
        control: false,
        at_ms,
    };
    let people = store
        .analytics_facts(&acc, scope(T0, T0 + 2 * DAY_MS))
        .await
        .unwrap()
        .sorted();
    assert_eq!(
        people.visitors,
        [VisitorHour {
            hour_ms: T0,
            visitor_id: "person".into()
        }]
    );
    assert_eq!(people.eligibility, [fact("person", T0 + 10_000)]);
    assert_eq!(people.cohort, [fact("person", T0 + 10_000)]);
    assert_eq!(
        people
            .offer_counts
            .iter()
            .map(|c| (c.impressions, c.clicks))
            .collect::<Vec<_>>(),
        [(1, 0)]
    );
    assert_eq!(
        people.offer_visitors,
        [OfferVisitor {
            campaign_id: CAMPAIGN,
            visitor_id: "person".into(),
            first_impression_ms: Some(T0 + 20_000),
            first_click_ms: None,
        }]
    );
    assert_eq!(people.purchases.len(), 1);
    assert_eq!(people.purchases[0].currency, "USD");

    let all = store
        .analytics_facts(
            &acc,
            AnalyticsScope {
                include_bots: true,
                ..scope(T0, T0 + 2 * DAY_MS)
            },
        )
        .await
        .unwrap()
        .sorted();
    let mut monitored: Vec<&str> = all.visitors.iter().map(|v| v.visitor_id.as_str()).collect();
    monitored.dedup();
    assert_eq!(monitored, ["crawler", "person"], "{:?}", all.visitors);
    // First times over both sides: the crawler's earlier eligibility of the person's id.
    let mut days = vec![
        fact("crawler", T0 + 1_000),
        fact("person", T0 + 5_000),
        fact("person", T0 + DAY_MS + 5),
    ];
    days.sort();
    assert_eq!(all.eligibility, days);
    let mut cohort = vec![fact("crawler", T0 + 1_000), fact("person", T0 + 5_000)];
    cohort.sort();
    assert_eq!(all.cohort, cohort);
    let counts = all
        .offer_counts
        .iter()
        .fold((0, 0), |(i, c), o| (i + o.impressions, c + o.clicks));
    assert_eq!(counts, (3, 1));
    let mut firsts = vec![
        OfferVisitor {
            campaign_id: CAMPAIGN,
            visitor_id: "crawler".into(),
            first_impression_ms: Some(T0 + 30_000),
            first_click_ms: Some(T0 + 30_000),
        },
        OfferVisitor {
            campaign_id: CAMPAIGN,
            visitor_id: "person".into(),
            first_impression_ms: Some(T0 + 2_000),
            first_click_ms: None,
        },
    ];
    firsts.sort();
    assert_eq!(all.offer_visitors, firsts);
    assert_eq!(all.purchases.len(), 2);

    // A range that starts after the crawler's first time of the person's id: with bots,
    // the person's later row is not their first.
    let late = store
        .analytics_facts(
            &acc,
            AnalyticsScope {
                include_bots: true,
                ..scope(T0 + 6_000, T0 + DAY_MS)
            },
        )
        .await
        .unwrap();
    assert!(
        late.eligibility.is_empty() && late.cohort.is_empty(),
        "{late:?}"
    );
    let late_people = store
        .analytics_facts(&acc, scope(T0 + 6_000, T0 + DAY_MS))
        .await
        .unwrap();
    assert_eq!(late_people.cohort, [fact("person", T0 + 10_000)]);

    let impression = Step::Event(engage_model::OfferEventName::OfferImpression);
    let steps = StepScope {
        from_ms: T0,
        to_ms: T0 + DAY_MS,
        steps: vec![impression],
        campaign_ids: Vec::new(),
        engagement_ids: Vec::new(),
        include_bots: false,
    };
    let person_steps = store.funnel_steps(&acc, steps.clone()).await.unwrap();
    assert_eq!(
        person_steps.iter().map(|o| o.at_ms).collect::<Vec<_>>(),
        [T0 + 20_000]
    );
    let mut all_steps = store
        .funnel_steps(
            &acc,
            StepScope {
                include_bots: true,
                ..steps
            },
        )
        .await
        .unwrap();
    all_steps.sort();
    assert_eq!(
        all_steps.iter().map(|o| o.at_ms).collect::<Vec<_>>(),
        [T0 + 2_000, T0 + 20_000, T0 + 30_000]
    );
    store.close().await.unwrap();
}

pub async fn retention_and_erasure_remove_rollup_rows_of_both_sides<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let acc = account(&store).await;
    let keeps = account(&store).await;
    store.set_retention(&acc, Some(30)).await.unwrap();
    let later = T0 + 20 * DAY_MS;
    for a in [&acc, &keeps] {
        store
            .record_eligibility(
                a,
                vec![
                    eligible("old", false, T0 + 1_000),
                    bot_eligible("old-bot", false, T0 + 1_000),
                    eligible("new", false, later),
                    bot_eligible("new-bot", false, later),
                ],
            )
            .await
            .unwrap();
        for (visitor, at, crawler) in [
            ("old", T0 + 2_000, false),
            ("old-bot", T0 + 2_000, true),
            ("new", later + 2_000, false),
            ("new-bot", later + 2_000, true),
        ] {
            let mut b = if crawler {
                crawler_batch(a, visitor, at)
            } else {
                batch(a, visitor, at)
            };
            b.events
                .push(offer_event("OFFER_IMPRESSION", &format!("ctx-{visitor}")));
            b.sdes.push(purchase("5", "USD"));
            store.ingest(b).await.unwrap();
        }
    }
    let everything = AnalyticsScope {
        include_bots: true,
        ..scope(T0, T0 + 40 * DAY_MS)
    };
    let visitors_of = |facts: &crate::analytics::AnalyticsFacts| {
        let mut v: Vec<String> = facts
            .cohort
            .iter()
            .chain(&facts.eligibility)
            .map(|e| e.visitor_id.clone())
            .chain(facts.visitors.iter().map(|v| v.visitor_id.clone()))
            .chain(facts.offer_visitors.iter().map(|o| o.visitor_id.clone()))
            .chain(facts.purchases.iter().map(|p| p.visitor_id.clone()))
            .collect();
        v.sort();
        v.dedup();
        v
    };
    let before = store
        .analytics_facts(&acc, everything.clone())
        .await
        .unwrap();
    assert_eq!(visitors_of(&before), ["new", "new-bot", "old", "old-bot"]);

    // 31 days after T0 the old rows are past the 30-day horizon, the new ones are not.
    let now = T0 + 31 * DAY_MS;
    let mut removed = 0;
    for _ in 0..20 {
        let step = store.sweep_retention(now, 1).await.unwrap();
        removed += step.removed.rollups;
        if !step.more {
            break;
        }
    }
    // Per side: visitor hour, day and first eligibility, offer counts, offer visitor,
    // purchase, and the batch's step row (the impression and the purchase, packed).
    assert_eq!(removed, 2 * 7, "rollup rows removed");
    let after = store
        .analytics_facts(&acc, everything.clone())
        .await
        .unwrap();
    assert_eq!(visitors_of(&after), ["new", "new-bot"]);
    assert_eq!(
        after
            .offer_counts
            .iter()
            .map(|c| c.impressions)
            .sum::<u64>(),
        2
    );
    let funnel = StepScope {
        from_ms: T0,
        to_ms: T0 + 40 * DAY_MS,
        steps: vec![Step::Event(engage_model::OfferEventName::OfferImpression)],
        campaign_ids: Vec::new(),
        engagement_ids: Vec::new(),
        include_bots: true,
    };
    assert_eq!(
        store
            .funnel_steps(&acc, funnel.clone())
            .await
            .unwrap()
            .len(),
        2
    );
    let kept = store
        .analytics_facts(&keeps, everything.clone())
        .await
        .unwrap();
    assert_eq!(
        visitors_of(&kept),
        ["new", "new-bot", "old", "old-bot"],
        "an account without retention keeps its rollups"
    );

    // Erasing a visitor seen only as a bot removes its bots' rows.
    let erased = store
        .erase(&acc, crate::ErasureTarget::Visitor("new-bot".into()))
        .await
        .unwrap();
    assert!(erased.rollups >= 6, "{erased:?}");
    let left = store.analytics_facts(&acc, everything).await.unwrap();
    assert_eq!(visitors_of(&left), ["new"]);
    assert_eq!(store.funnel_steps(&acc, funnel).await.unwrap().len(), 1);
    store.close().await.unwrap();
}

/// A writer that skips rollup rows it knows are stored (`analytics::rollup_memory`) must not
/// skip them once an erasure or the retention sweep removed them.
pub async fn a_visitor_erased_or_expired_and_back_in_the_same_hour_is_rolled_up_again<F, Fut>(
    open: F,
) where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    removed_rollups_are_written_again(&store, &store).await;
    store.close().await.unwrap();
}

/// The body of [`a_visitor_erased_or_expired_and_back_in_the_same_hour_is_rolled_up_again`]:
/// `writer` ingests, `remover` erases and sweeps (on PostgreSQL, another server of the
/// same database).
pub async fn removed_rollups_are_written_again(store: &Arc<dyn Store>, remover: &Arc<dyn Store>) {
    let acc = account(store).await;
    let seen = |facts: &crate::analytics::AnalyticsFacts| {
        (
            facts
                .visitors
                .iter()
                .map(|v| (v.hour_ms, v.visitor_id.clone()))
                .collect::<Vec<_>>(),
            facts
                .offer_visitors
                .iter()
                .map(|o| (o.visitor_id.clone(), o.first_impression_ms))
                .collect::<Vec<_>>(),
        )
    };
    let visit = |at: i64| {
        let store = Arc::clone(store);
        let acc = acc.clone();
        async move {
            store
                .record_eligibility(&acc, vec![eligible("v", false, at)])
                .await
                .unwrap();
            for at in [at + 1_000, at + 2_000] {
                let mut b = batch(&acc, "v", at);
                b.events
                    .push(offer_event("OFFER_IMPRESSION", &format!("ctx-{at}")));
                store.ingest(b).await.unwrap();
            }
        }
    };
    visit(T0).await;
    let facts = store
        .analytics_facts(&acc, scope(T0, T0 + DAY_MS))
        .await
        .unwrap();
    assert_eq!(
        seen(&facts),
        (
            vec![(T0, "v".to_owned())],
            vec![("v".to_owned(), Some(T0 + 1_000))]
        )
    );

    remover
        .erase(&acc, crate::ErasureTarget::Visitor("v".into()))
        .await
        .unwrap();
    visit(T0 + 10_000).await;
    let facts = store
        .analytics_facts(&acc, scope(T0, T0 + DAY_MS))
        .await
        .unwrap();
    assert_eq!(
        seen(&facts),
        (
            vec![(T0, "v".to_owned())],
            vec![("v".to_owned(), Some(T0 + 11_000))]
        ),
        "after the erasure, the same hour and a later first impression are written"
    );

    // Everything of that hour expires; the visitor comes back in it (a replayed batch).
    remover.set_retention(&acc, Some(30)).await.unwrap();
    for _ in 0..20 {
        if !remover
            .sweep_retention(T0 + 31 * DAY_MS, 100)
            .await
            .unwrap()
            .more
        {
            break;
        }
    }
    let facts = store
        .analytics_facts(&acc, scope(T0, T0 + DAY_MS))
        .await
        .unwrap();
    assert_eq!(seen(&facts), (vec![], vec![]));
    visit(T0 + 20_000).await;
    let facts = store
        .analytics_facts(&acc, scope(T0, T0 + DAY_MS))
        .await
        .unwrap();
    assert_eq!(
        seen(&facts),
        (
            vec![(T0, "v".to_owned())],
            vec![("v".to_owned(), Some(T0 + 21_000))]
        ),
        "after the sweep, the same hour and a later first impression are written"
    );
}

pub async fn coupon_reveals_and_copies_are_counted_apart_from_clicks<F, Fut>(open: F)
where
    F: Fn(PathBuf) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let (_dir, store) = fresh(&open).await;
    let acc = account(&store).await;
    let mut b = batch(&acc, "v1", T0 + 5 * 60_000);
    for (name, ctx) in [
        ("START", "c1"),
        ("OFFER_IMPRESSION", "c1"),
        ("OFFER_CLICK", "c1"),
        ("COUPON_REVEALED", "c1"),
        ("COUPON_COPIED", "c1"),
        ("COUPON_COPIED", "c1"),
    ] {
        b.events.push(offer_event(name, ctx));
    }
    assert_eq!(store.ingest(b.clone()).await.unwrap().accepted, 6);
    // Sent again, nothing is counted twice.
    assert_eq!(store.ingest(b).await.unwrap().accepted, 0);
    let mut later = batch(&acc, "v2", T0 + HOUR_MS + 5);
    later.events.push(offer_event("COUPON_REVEALED", "c2"));
    store.ingest(later).await.unwrap();

    let facts = store
        .analytics_facts(&acc, scope(T0, T0 + DAY_MS))
        .await
        .unwrap()
        .sorted();
    let figures: Vec<_> = facts
        .offer_counts
        .iter()
        .map(|c| {
            (
                c.hour_ms,
                c.impressions,
                c.clicks,
                c.coupon_reveals,
                c.coupon_copies,
            )
        })
        .collect();
    assert_eq!(figures, [(T0, 1, 1, 1, 2), (T0 + HOUR_MS, 0, 0, 1, 0)]);

    let rows = report(
        &facts.clone().interned(),
        Grouping {
            campaign: true,
            engagement: true,
            time: None,
        },
        &Windows {
            by_campaign: &HashMap::new(),
            default_ms: 7 * DAY_MS,
        },
        100,
    )
    .unwrap();
    let row = rows
        .iter()
        .find(|r| r.key.engagement_id == Some(ENGAGEMENT))
        .unwrap();
    assert_eq!(
        (row.clicks, row.coupon_reveals, row.coupon_copies),
        (1, 2, 2)
    );
}
