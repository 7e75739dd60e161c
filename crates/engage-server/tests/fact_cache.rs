//! The fact cache (`analytics_cache`) over real HTTP: a report answered from the
//! server's copy of the account's rollup facts equals, figure for figure, the report of
//! a server on the same store that reads the store (`--analytics-cache-mb 0`), after
//! more traffic, an erasure, a retention sweep, with bots' traffic merged, and when the
//! account is larger than the cache's bound.

// Tests: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::admin_support;
use crate::common;

use admin_support::{account_url, collect, decide, engagement, impression, page, shown_ids};
use common::TestServer;
use engage_server::analytics_cache::FactCacheConfig;
use engage_store::analytics::{EligibilityRecord, DAY_MS};
use engage_store::{IngestBatch, NewSde, VisitContext};
use reqwest::Method;
use serde_json::{json, Value};

const GOOGLEBOT: &str = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";

fn cache_off(state: engage_server::AppState) -> engage_server::AppState {
    state.with_analytics_cache(FactCacheConfig {
        max_bytes: 0,
        ..FactCacheConfig::default()
    })
}

async fn report(server: &TestServer, body: &Value) -> Value {
    let response = server
        .client
        .post(account_url(server, "/analytics/report"))
        .bearer_auth(&server.api_key)
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn metrics(server: &TestServer) -> String {
    server
        .client
        .get(format!("{}/metrics", server.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn reports_of(metrics: &str, result: &str) -> u64 {
    let prefix = format!("engage_analytics_cache_reports_total{{result=\"{result}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {prefix} in {metrics}"))
}

/// The report bodies compared: every grouping, a campaign filter, with and without bots.
fn bodies(from: i64, to: i64, campaign: u64) -> Vec<Value> {
    let mut out = Vec::new();
    for group_by in [
        json!([]),
        json!(["campaign"]),
        json!(["engagement", "day"]),
        json!(["hour"]),
    ] {
        for include_bots in [false, true] {
            out.push(
                json!({"from": from, "to": to, "groupBy": group_by, "includeBots": include_bots}),
            );
        }
    }
    out.push(json!({"from": from, "to": to, "groupBy": ["day"], "campaignIds": [campaign]}));
    out
}

/// Every body answered the same by `cached` and by `store` (which reads the store);
/// answers the cached answers.
async fn same_answers(cached: &TestServer, store: &TestServer, bodies: &[Value]) -> Vec<Value> {
    let mut answers = Vec::new();
    for body in bodies {
        let got = report(cached, body).await;
        let expected = report(store, body).await;
        assert_eq!(got, expected, "{body}");
        answers.push(got);
    }
    answers
}

struct Shop {
    campaign: u64,
    engagement: Value,
}

async fn shop(server: &TestServer) -> Shop {
    let campaign = admin_support::campaign(server, "Spring sale", 10).await;
    let engagement = engagement(
        server,
        campaign,
        &json!({"name": "Banner", "engagementType": 5, "zoneId": 1}),
    )
    .await;
    Shop {
        campaign,
        engagement,
    }
}

/// Visitors `range` are decided for, see the engagement (or not, held out), and every
/// third one buys.
async fn traffic(server: &TestServer, shop: &Shop, range: std::ops::Range<usize>) {
    for i in range {
        let visitor = format!("visitor-{i}");
        let (status, answer) = decide(
            server,
            &page(&visitor, "https://shop.example/", &[], json!([])),
        )
        .await;
        assert_eq!(status, 200);
        let session = format!("{visitor}-s");
        if !shown_ids(&answer).is_empty() {
            let seen = impression(&format!("imp-{i}"), &shop.engagement, &format!("ctx-{i}"));
            collect(server, &visitor, &session, vec![seen], vec![]).await;
        }
        if i % 3 == 0 {
            let sde = json!({"type": "purchase", "total": "10", "currency": "USD", "orderId": format!("o{i}")});
            collect(server, &visitor, &session, vec![], vec![sde]).await;
        }
    }
}

/// A crawler (its User-Agent) asks for a decision and sees the engagement as `visitor`.
async fn crawler(server: &TestServer, shop: &Shop, visitor: &str) {
    let response = server
        .client
        .post(account_url(server, "/decision"))
        .header("content-type", "text/plain")
        .header("user-agent", GOOGLEBOT)
        .body(page(visitor, "https://shop.example/", &[], json!([])).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = server
        .client
        .post(server.events_url())
        .header("user-agent", GOOGLEBOT)
        .json(&json!({
            "visitorId": visitor, "sessionId": format!("{visitor}-bot"), "pageId": "bot-page",
            "events": [impression(&format!("bot-{visitor}"), &shop.engagement, &format!("bot-ctx-{visitor}"))],
            "sdes": [],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

/// Waits until the server's fact cache holds a copy (a background load has ended).
async fn copy_loaded(server: &TestServer) {
    for _ in 0..200 {
        let text = metrics(server).await;
        if !text.contains("engage_analytics_cache_bytes 0\n") {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the fact cache loaded no copy within 10 s");
}

fn around_now() -> (i64, i64) {
    let now = engage_store::ids::now_ms();
    (now - DAY_MS, now + DAY_MS)
}

#[tokio::test]
async fn reports_after_more_traffic_equal_the_store_reads() {
    let server = TestServer::start().await;
    let reader = server.alongside(cache_off).await;
    let shop = shop(&server).await;
    let (from, to) = around_now();
    let bodies = bodies(from, to, shop.campaign);

    traffic(&server, &shop, 0..12).await;
    crawler(&server, &shop, "crawler-1").await;
    let first = same_answers(&server, &reader, &bodies).await;
    assert_eq!(first[2]["rows"][0]["visitors"], 12, "{}", first[2]);
    // The first report answered from the store and started loading the copy.
    copy_loaded(&server).await;

    // More of everything, some through the other server, and a visitor first seen by
    // a crawler then as a person (the bots' side holds the earlier first times).
    traffic(&server, &shop, 12..20).await;
    traffic(&reader, &shop, 20..24).await;
    crawler(&server, &shop, "visitor-30").await;
    traffic(&server, &shop, 30..31).await;
    let second = same_answers(&server, &reader, &bodies).await;
    assert_ne!(first, second, "the new traffic shows");
    assert_eq!(second[2]["rows"][0]["visitors"], 25, "{}", second[2]);

    let text = metrics(&server).await;
    assert_eq!(reports_of(&text, "miss"), 1, "{text}");
    // The first round's others came from the store or the copy, as the load went; the
    // second round's all from the copy, caught up.
    let hits = reports_of(&text, "hit");
    assert!(hits >= bodies.len() as u64, "{text}");
    assert_eq!(
        hits + reports_of(&text, "store"),
        2 * bodies.len() as u64 - 1,
        "{text}"
    );
    assert!(
        !text.contains("engage_analytics_cache_bytes 0\n"),
        "the copy's bytes are shown: {text}"
    );
    assert_eq!(
        reports_of(&metrics(&reader).await, "store"),
        2 * bodies.len() as u64
    );
}

#[tokio::test]
async fn an_erased_visitor_is_no_longer_counted() {
    let server = TestServer::start().await;
    let reader = server.alongside(cache_off).await;
    let shop = shop(&server).await;
    let (from, to) = around_now();
    let bodies = bodies(from, to, shop.campaign);
    traffic(&server, &shop, 0..9).await;
    let before = same_answers(&server, &reader, &bodies).await;
    assert_eq!(before[2]["rows"][0]["visitors"], 9);

    let response = server
        .client
        .request(Method::DELETE, account_url(&server, "/visitors/visitor-3"))
        .bearer_auth(&server.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let after = same_answers(&server, &reader, &bodies).await;
    assert_eq!(after[2]["rows"][0]["visitors"], 8, "{}", after[2]);
    let text = metrics(&server).await;
    assert_eq!(reports_of(&text, "reload"), 1, "{text}");
}

fn old_visit(account: &str, visitor: &str, received_ms: i64) -> IngestBatch {
    IngestBatch {
        account_id: account.to_owned(),
        received_ms,
        visit: Some(VisitContext {
            visitor_id: visitor.to_owned(),
            session_id: format!("{visitor}-s"),
            page_id: format!("{visitor}-p"),
            page: None,
            user_agent: None,
            client: None,
        }),
        events: Vec::new(),
        sdes: vec![NewSde {
            client_id: format!("{visitor}-purchase"),
            client_time_ms: None,
            sde: engage_model::Sde::read_page(
                engage_model::Tape::parse_str(
                    r#"{"type":"purchase","total":"5","currency":"EUR","orderId":"old"}"#,
                )
                .unwrap()
                .root(),
            )
            .unwrap(),
        }],
        rejected: Vec::new(),
    }
}

#[tokio::test]
async fn a_retention_sweep_then_a_report_leaves_out_what_it_removed() {
    let server = TestServer::start().await;
    let reader = server.alongside(cache_off).await;
    let shop = shop(&server).await;
    let now = engage_store::ids::now_ms();
    let engagement_id = shop.engagement["engagementId"].as_u64().unwrap();
    // Visitors of 5 and 3 days ago, written through the store with their times.
    for (visitor, age_days) in [("old-5", 5), ("old-3", 3)] {
        let at = now - age_days * DAY_MS;
        server
            .store
            .record_eligibility(
                &server.account_id,
                vec![EligibilityRecord {
                    campaign_id: shop.campaign,
                    engagement_id,
                    visitor_id: visitor.to_owned(),
                    control: false,
                    at_ms: at,
                    bot: false,
                }],
            )
            .await
            .unwrap();
        server
            .store
            .ingest(old_visit(&server.account_id, visitor, at + 1000))
            .await
            .unwrap();
    }
    traffic(&server, &shop, 0..3).await;
    let bodies = bodies(now - 10 * DAY_MS, now + DAY_MS, shop.campaign);
    let before = same_answers(&server, &reader, &bodies).await;
    assert_eq!(before[2]["rows"][0]["visitors"], 5, "{}", before[2]);

    let response = server
        .client
        .put(account_url(&server, "/retention"))
        .bearer_auth(&server.api_key)
        .json(&json!({"days": 4}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    while server
        .store
        .sweep_retention(engage_store::ids::now_ms(), 100)
        .await
        .unwrap()
        .more
    {}
    let after = same_answers(&server, &reader, &bodies).await;
    assert_eq!(after[2]["rows"][0]["visitors"], 4, "{}", after[2]);
    assert_eq!(reports_of(&metrics(&server).await, "reload"), 1);
}

#[tokio::test]
async fn an_account_over_the_bound_reads_the_store_and_answers_the_same() {
    let server = TestServer::configured(engage_server::Limits::default(), |state| {
        state.with_analytics_cache(FactCacheConfig {
            max_bytes: 1,
            ..FactCacheConfig::default()
        })
    })
    .await;
    let reader = server.alongside(cache_off).await;
    let shop = shop(&server).await;
    let (from, to) = around_now();
    let bodies = bodies(from, to, shop.campaign);
    traffic(&server, &shop, 0..6).await;
    crawler(&server, &shop, "visitor-1").await;
    same_answers(&server, &reader, &bodies).await;
    traffic(&server, &shop, 6..9).await;
    let answers = same_answers(&server, &reader, &bodies).await;
    assert_eq!(answers[2]["rows"][0]["visitors"], 9);
    let text = metrics(&server).await;
    // The first report loads the copy, finds it over the bound and drops it.
    assert_eq!(reports_of(&text, "miss"), 1, "{text}");
    assert_eq!(
        reports_of(&text, "store"),
        2 * bodies.len() as u64 - 1,
        "{text}"
    );
    assert!(text.contains("engage_analytics_cache_bytes 0\n"), "{text}");
}
