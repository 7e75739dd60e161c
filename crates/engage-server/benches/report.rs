//! The results report's arithmetic alone (`engage_store::analytics::report`), over the
//! rollup facts a month of 1,000,000 interactions gives: what a report costs once its
//! facts are read (from the store, or from the server's fact cache).
//!
//! `cargo bench -p engage-server --bench report`
//!
//! - `*_strings`: what a report read from the store costs after the read: the visitor
//!   ids numbered (`AnalyticsFacts::interned`), then the report.
//! - `*_interned`: the report of facts already numbered (what the fact cache hands it).
//! - `slice_*`: the fact cache taking a 30-day scope's facts from its copy.
//! - `cached_*`: the slice and then the report: a report answered from the fact cache.
//!
//! The facts are synthetic but shaped as `engage bench analytics --interactions 1000000
//! --visitors 100000 --days 30` fills them: 10 campaigns of 5 engagements, 100,000
//! visitors with 36-character ids, about 800,000 visitor hours, 600,000 per-day
//! eligibilities, 400,000 first eligibilities (a tenth held out), 300,000 offer visitors,
//! 36,000 offer-count hours and 60,000 purchases.

// A benchmark: a panic is a failed setup.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

/// The `engage` binary's allocator: a report's sets and copies are allocations.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion};
use engage_store::analytics::account_facts::AccountFacts;
use engage_store::analytics::report::{report, Grouping, Windows};
use engage_store::analytics::{
    day_of, hour_of, AnalyticsFacts, AnalyticsScope, EligibilityFact, OfferCount, OfferVisitor,
    PurchaseFact, VisitorHour, DAY_MS, HOUR_MS,
};

const T0: i64 = 1_780_000_000_000 - 1_780_000_000_000 % DAY_MS;
const DAYS: i64 = 30;
const VISITORS: u64 = 100_000;
const CAMPAIGNS: u64 = 10;
const ENGAGEMENTS_PER_CAMPAIGN: u64 = 5;

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }

    fn time(&mut self) -> i64 {
        T0 + self.below((DAYS * DAY_MS) as u64) as i64
    }
}

fn visitor_id(v: u64) -> String {
    format!(
        "{v:08x}-5e1d-4c0a-9b7e-{:012x}",
        v.wrapping_mul(2_654_435_761)
    )
}

fn facts() -> AnalyticsFacts {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut facts = AnalyticsFacts::default();
    for _ in 0..800_000 {
        facts.visitors.push(VisitorHour {
            hour_ms: hour_of(rng.time()),
            visitor_id: visitor_id(rng.below(VISITORS)),
        });
    }
    let mut cohort: HashMap<(u64, u64), EligibilityFact> = HashMap::new();
    for _ in 0..600_000 {
        let visitor = rng.below(VISITORS);
        let campaign = 1 + rng.below(CAMPAIGNS);
        let engagement = campaign * 100 + rng.below(ENGAGEMENTS_PER_CAMPAIGN);
        let at_ms = rng.time();
        let e = EligibilityFact {
            campaign_id: campaign,
            engagement_id: engagement,
            visitor_id: visitor_id(visitor),
            control: visitor % 10 == 0,
            at_ms,
        };
        let first = cohort
            .entry((campaign, visitor))
            .or_insert_with(|| e.clone());
        if at_ms < first.at_ms {
            *first = e.clone();
        }
        facts.eligibility.push(EligibilityFact {
            at_ms: day_of(at_ms) + at_ms % 1000,
            ..e
        });
    }
    facts.cohort = cohort.into_values().collect();
    for o in facts.cohort.iter().filter(|e| !e.control).take(300_000) {
        facts.offer_visitors.push(OfferVisitor {
            campaign_id: o.campaign_id,
            visitor_id: o.visitor_id.clone(),
            first_impression_ms: Some(o.at_ms + 1_000),
            first_click_ms: (rng.below(4) == 0).then_some(o.at_ms + 60_000),
        });
    }
    for c in 1..=CAMPAIGNS {
        for e in 0..ENGAGEMENTS_PER_CAMPAIGN {
            for h in 0..DAYS * 24 {
                facts.offer_counts.push(OfferCount {
                    campaign_id: c,
                    engagement_id: c * 100 + e,
                    hour_ms: T0 + h * HOUR_MS,
                    impressions: 20 + rng.below(20),
                    clicks: rng.below(5),
                    declines: rng.below(3),
                    timeouts: rng.below(3),
                    coupon_reveals: rng.below(2),
                    coupon_copies: rng.below(2),
                });
            }
        }
    }
    for _ in 0..60_000 {
        facts.purchases.push(PurchaseFact {
            visitor_id: visitor_id(rng.below(VISITORS)),
            at_ms: rng.time(),
            currency: if rng.below(5) == 0 { "EUR" } else { "USD" }.to_owned(),
            total_micros: 1_000_000 * (5 + rng.below(200) as i64),
        });
    }
    // In time order, as the fact cache keeps them (a store read hands visitor hours over
    // in that order too: their key leads with the hour).
    facts.visitors.sort_by_key(|v| v.hour_ms);
    facts.eligibility.sort_by_key(|e| e.at_ms);
    facts.cohort.sort_by_key(|e| e.at_ms);
    facts.offer_counts.sort_by_key(|c| c.hour_ms);
    facts.purchases.sort_by_key(|p| p.at_ms);
    facts
}

fn by_day(ms: i64) -> i64 {
    day_of(ms)
}

fn bench(c: &mut Criterion) {
    let facts = facts();
    let windows_by_campaign: HashMap<u64, i64> = (1..=CAMPAIGNS).map(|c| (c, 7 * DAY_MS)).collect();
    let windows = Windows {
        by_campaign: &windows_by_campaign,
        default_ms: 7 * DAY_MS,
    };
    let interned = facts.clone().interned();
    let by_campaign = Grouping {
        campaign: true,
        engagement: false,
        time: None,
    };
    let by_day_grouping = Grouping {
        campaign: false,
        engagement: false,
        time: Some(&by_day),
    };
    let mut group = c.benchmark_group("report_1m_interactions");
    group.sample_size(10);
    for (name, grouping) in [
        ("account_by_campaign", by_campaign),
        ("account_by_day", by_day_grouping),
    ] {
        group.bench_function(format!("{name}_strings"), |b| {
            b.iter_batched(
                || facts.clone(),
                |facts| report(&facts.interned(), grouping, &windows, 10_000).unwrap(),
                BatchSize::LargeInput,
            )
        });
        group.bench_function(format!("{name}_interned"), |b| {
            b.iter(|| report(black_box(&interned), grouping, &windows, 10_000).unwrap())
        });
    }
    let mut copy = AccountFacts::default();
    copy.apply(false, i64::MIN, facts.clone());
    copy.apply(true, i64::MIN, AnalyticsFacts::default());
    let scope = |campaign_ids: Vec<u64>| AnalyticsScope {
        from_ms: T0,
        to_ms: T0 + DAYS * DAY_MS,
        campaign_ids,
        engagement_ids: Vec::new(),
        attribution_ms: 7 * DAY_MS,
        include_bots: false,
    };
    group.bench_function("slice_account", |b| {
        b.iter(|| copy.slice(black_box(&scope(Vec::new()))))
    });
    group.bench_function("slice_one_campaign", |b| {
        b.iter(|| copy.slice(black_box(&scope(vec![3]))))
    });
    // The two timed reports of `engage bench analytics` as the fact cache makes them:
    // the slice, then the report.
    group.bench_function("cached_one_campaign_by_day", |b| {
        b.iter(|| {
            let facts = copy.slice(black_box(&scope(vec![3])));
            report(&facts, by_day_grouping, &windows, 10_000).unwrap()
        })
    });
    group.bench_function("cached_account_by_campaign", |b| {
        b.iter(|| {
            let facts = copy.slice(black_box(&scope(Vec::new())));
            report(&facts, by_campaign, &windows, 10_000).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
