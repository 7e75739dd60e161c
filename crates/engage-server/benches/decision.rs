//! The decision for one page view against an account with 1,000 engagements.
//!
//! `cargo bench -p engage-server --bench decision`
//!
//! - `decide`: the snapshot's decision and a new context id per engagement shown (what
//!   the route computes once it has the visit's attributes).
//! - `page_view`: everything the route does in memory: read the tag's body, merge this
//!   page's attributes into the visit's stored state, decide, write the answer.
//! - `build`: compiling the snapshot after a change (once per change, not per decision).
//!
//! The account: 50 campaigns of 20 engagements over 40 zones (and some without a zone),
//! with every kind of targeting: sections, URL contains/prefix/regex, attribute
//! conditions, frequency caps and exclusions. The page view matches a handful of them,
//! so nearly every engagement is looked at, as on most page views of a real site.

// A benchmark: a panic is a failed setup.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use engage_model::{AgentState, EngagementType, Sde, Tape, VisitSdes};
use engage_server::decision::{decision_answer, AccountSnapshot, PageView, RecentShows};
use engage_server::request::DecisionBody;
use engage_store::{
    Campaign, CampaignFields, Engagement, EngagementContent, EngagementDefinition, RawJson,
};
use serde_json::{json, Value};

const ENGAGEMENTS: u64 = 1000;

const PER_CAMPAIGN: u64 = 20;

fn targeting(e: u64) -> Value {
    match e % 10 {
        0..=2 => json!({
            "sections": {"include": [format!("section-{}", e % 60)]},
            "url": {"include": [{"contains": format!("/landing/{e}")}]}
        }),
        3 | 4 => match e % 3 {
            0 => json!({"url": {"include": [{"contains": format!("/promo/{e}")}]}}),
            1 => {
                json!({"url": {"include": [{"prefix": format!("https://shop.example/campaign-{e}/")}]}})
            }
            _ => {
                json!({"url": {"include": [{"regex": format!("^https://shop\\.example/p/{e}/[0-9]+$")}]}})
            }
        },
        5 | 6 => match e % 3 {
            0 => json!({"sdes": [{"path": "cartStatus.total", "op": "gt", "value": 1000 + e}]}),
            1 => {
                json!({"sdes": [{"path": "customerInfo.customerType", "op": "eq", "value": format!("tier-{e}")}]})
            }
            _ => {
                json!({"sdes": [{"path": "viewedProduct.products.product.category", "op": "eq", "value": format!("cat-{e}")}]})
            }
        },
        7 => json!({
            "sections": {"include": [format!("section-{}", e % 60)]},
            "frequency": {"maxImpressions": 3}
        }),
        8 => json!({
            "url": {"exclude": [{"contains": "/checkout"}]},
            "sdes": [{"path": "cartStatus.numItems", "op": "gte", "value": e % 7}]
        }),
        _ => json!({
            "sections": {"exclude": ["checkout"]},
            "url": {"include": [{"regex": "/category/(shoes|bags)/"}]},
            "sdes": [{"path": "customerInfo.customerStatus", "op": "ne", "value": "cancelled"}]
        }),
    }
}

fn account() -> (Vec<Campaign>, Vec<Engagement>) {
    let campaigns: Vec<Campaign> = (0..ENGAGEMENTS / PER_CAMPAIGN)
        .map(|c| Campaign {
            id: 100_000_000 + c,
            fields: CampaignFields {
                name: format!("campaign {c}"),
                goal: None,
                priority: u32::try_from(c % 10).unwrap(),
                enabled: true,
                control_group_percent: 0,
                attribution_window_days: 7,
            },
            created_ms: 1_700_000_000_000 + i64::try_from(c).unwrap(),
            updated_ms: 1_700_000_000_000,
        })
        .collect();
    let engagements = (0..ENGAGEMENTS)
        .map(|e| Engagement {
            campaign_id: 100_000_000 + e / PER_CAMPAIGN,
            id: 200_000_000 + e,
            revision: 1 + e % 4,
            latest_revision: 1 + e % 4,
            state: AgentState::Online,
            definition: EngagementDefinition {
                name: format!("engagement {e}"),
                engagement_type: EngagementType::ALL[(e % 6) as usize],
                tgl_name: "overlay".into(),
                zone_id: (e % 25 != 0).then_some(e % 40),
                timeout_seconds: Some(30),
                targeting: RawJson::to_json(&targeting(e)).unwrap(),
                content: EngagementContent {
                    title: Some(format!("Offer {e}")),
                    body: Some("Talk to us".into()),
                    accept_label: Some("Chat".into()),
                    close_label: None,
                },
                hide_when_offline: e % 2 == 0,
                action: None,
                weight: None,
            },
            created_ms: 1_700_000_000_000 + i64::try_from(e).unwrap(),
            revised_ms: 1_700_000_000_000,
        })
        .collect();
    (campaigns, engagements)
}

/// What the visit reported on earlier pages (as `Store::visit` returns it).
fn stored_visit() -> VisitSdes {
    [
        r#"{"type":"ctmrinfo","info":{"cstatus":"gold","ctype":"regular","customerId":"C-1"}}"#,
        r#"{"type":"mrktInfo","info":{"channel":"1","affiliate":"search"}}"#,
        r#"{"type":"prodView","currency":"USD","products":[{"product":{"name":"boot","category":"shoes","sku":"b1","price":120}}]}"#,
        r#"{"type":"prodView","currency":"USD","products":[{"product":{"name":"bag","category":"bags","sku":"g1","price":80}}]}"#,
        r#"{"type":"searchInfo","keywords":["boots","winter"]}"#,
    ]
    .iter()
    .fold(VisitSdes::default(), |state, text| {
        state.with(Sde::read_page(Tape::parse_str(text).unwrap().root()).unwrap())
    })
}

/// The tag's decision request for a product page with a cart.
const BODY: &str = r#"{"visitorId":"0190d6c2-7a10-7000-8000-00000000000a","sessionId":"0190d6c2-7a10-7000-8000-00000000000b","pageId":"0190d6c2-7a10-7000-8000-00000000000c","url":"https://shop.example/category/shoes/product/12345?ref=home","sections":["shop","shoes","section-7"],"sdes":[{"type":"cart","total":250,"currency":"USD","numItems":3,"products":[{"product":{"name":"boot","category":"shoes","sku":"b1","price":120},"quantity":1},{"product":{"name":"sock","category":"socks","sku":"s1","price":10},"quantity":2}]},{"type":"prodView","currency":"USD","products":[{"product":{"name":"boot","category":"shoes","sku":"b1","price":120}}]}]}"#;

const IMPRESSIONS: [(u64, u64); 4] = [
    (200_000_007, 3),
    (200_000_017, 1),
    (200_000_127, 5),
    (200_000_517, 2),
];

fn bench(c: &mut Criterion) {
    let (campaigns, engagements) = account();
    let snapshot = AccountSnapshot::build(Vec::new(), &campaigns, engagements.clone());
    assert_eq!(snapshot.len(), ENGAGEMENTS as usize);
    let stored = stored_visit();

    let tape = Tape::parse_str(BODY).unwrap();
    let request = DecisionBody::read(tape.root(), 500).unwrap();
    let sdes = request
        .sdes
        .iter()
        .cloned()
        .fold(stored.clone(), VisitSdes::with);
    let page = PageView {
        url: &request.url,
        sections: &request.sections,
        sdes: &sdes,
        impressions: &IMPRESSIONS,
        recent: &RecentShows::default(),
    };
    let shown = snapshot.show(&page);
    eprintln!("the page view shows {} engagements", shown.len());
    assert!(
        (3..=20).contains(&shown.len()),
        "the page view should match a handful of engagements, matched {}",
        shown.len()
    );

    let mut group = c.benchmark_group("decision/1000_engagements");
    group.throughput(Throughput::Elements(1));
    group.bench_function("decide", |b| {
        b.iter(|| black_box(snapshot.show(black_box(&page))))
    });
    let recent = RecentShows::default();
    group.bench_function("page_view", |b| {
        b.iter(|| {
            let tape = Tape::parse_str(black_box(BODY)).unwrap();
            let request = DecisionBody::read(tape.root(), 500).unwrap();
            let sdes = request
                .sdes
                .into_iter()
                .fold(black_box(&stored).clone(), VisitSdes::with);
            let page = PageView {
                url: &request.url,
                sections: &request.sections,
                sdes: &sdes,
                impressions: &IMPRESSIONS,
                recent: &recent,
            };
            let engagements = snapshot.show(&page);
            black_box(decision_answer(&engagements).unwrap())
        })
    });
    group.finish();

    let mut group = c.benchmark_group("decision/1000_engagements");
    group.sample_size(20);
    group.bench_function("build", |b| {
        b.iter(|| {
            black_box(AccountSnapshot::build(
                Vec::new(),
                &campaigns,
                black_box(engagements.clone()),
            ))
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
