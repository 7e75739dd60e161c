//! Results over real HTTP: control groups and splits in the decision, and
//! `POST .../analytics/report` on scenarios with known answers (docs/analytics.md).

// Tests: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::admin_support;
use crate::common;

use admin_support::{
    account_url, collect, decide, engagement, error_paths, impression, page, post, shown_ids,
};
use common::TestServer;
use engage_server::decision::assignment::{in_control_group, split_choice};
use serde_json::{json, Value};

async fn report(server: &TestServer, body: &Value) -> (u16, Value) {
    post(server, "/analytics/report", body).await
}

fn whole_day() -> Value {
    let now = engage_store::ids::now_ms();
    json!({"from": now - 86_400_000, "to": now + 86_400_000})
}

#[tokio::test]
async fn control_visitors_see_nothing_and_the_report_counts_both_groups_and_their_purchases() {
    let server = TestServer::start().await;
    let (status, c) = post(
        &server,
        "/campaigns",
        &json!({"name": "Spring sale", "controlGroupPercent": 50, "attributionWindowDays": 7}),
    )
    .await;
    assert_eq!(status, 201, "{c}");
    assert_eq!(c["controlGroupPercent"], 50);
    let campaign = c["campaignId"].as_u64().unwrap();
    let e = engagement(
        &server,
        campaign,
        &json!({"name": "Banner", "engagementType": 5, "zoneId": 1}),
    )
    .await;
    let engagement_id = e["engagementId"].as_u64().unwrap();

    let (mut exposed, mut control, mut converted, mut control_converted) = (0, 0, 0, 0);
    let mut revenue = 0.0;
    for i in 0..40 {
        let visitor = format!("visitor-{i}");
        let held = in_control_group(&server.account_id, campaign, &visitor, 50);
        // Twice: the second decision records nothing new.
        for _ in 0..2 {
            let (status, answer) = decide(
                &server,
                &page(&visitor, "https://shop.example/", &[], json!([])),
            )
            .await;
            assert_eq!(status, 200);
            if held {
                assert!(
                    shown_ids(&answer).is_empty(),
                    "{visitor} is held out: {answer}"
                );
            } else {
                assert_eq!(shown_ids(&answer), [engagement_id]);
            }
        }
        let session = format!("{visitor}-s");
        if held {
            control += 1;
            if i % 3 == 0 {
                control_converted += 1;
                let sde = json!({"type": "purchase", "total": "20", "currency": "USD", "orderId": format!("o{i}")});
                collect(&server, &visitor, &session, vec![], vec![sde]).await;
            }
        } else {
            exposed += 1;
            let seen = impression(&format!("imp-{i}"), &e, &format!("ctx-{i}"));
            collect(&server, &visitor, &session, vec![seen], vec![]).await;
            if i % 2 == 0 {
                converted += 1;
                revenue += 12.5;
                let sde = json!({"type": "purchase", "total": "12.50", "currency": "USD", "orderId": format!("o{i}")});
                collect(&server, &visitor, &session, vec![], vec![sde]).await;
            }
        }
    }
    assert!(
        exposed > 5 && control > 5,
        "{exposed} exposed, {control} held out"
    );

    let mut body = whole_day();
    body["groupBy"] = json!(["campaign"]);
    let (status, answer) = report(&server, &body).await;
    assert_eq!(status, 200, "{answer}");
    let rows = answer["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{answer}");
    let row = &rows[0];
    assert_eq!(row["campaignId"], campaign);
    // Monitored: the visitors who sent a batch (a decision is not one).
    assert_eq!(row["visitors"], exposed + control_converted);
    assert_eq!(row["eligible"], 40);
    assert_eq!(row["exposedVisitors"], exposed);
    assert_eq!(row["controlVisitors"], control);
    assert_eq!(row["impressions"], exposed);
    assert_eq!(row["conversions"], converted);
    assert_eq!(row["conversionsAfterImpression"], converted);
    assert_eq!(row["conversionsAfterClick"], 0);
    assert_eq!(row["controlConversions"], control_converted);
    assert_eq!(row["revenue"]["USD"].as_f64().unwrap(), revenue);
    assert_eq!(
        row["controlRevenue"]["USD"].as_f64().unwrap(),
        20.0 * f64::from(control_converted)
    );
    let rate = f64::from(converted) / f64::from(exposed);
    let control_rate = f64::from(control_converted) / f64::from(control);
    assert!((row["conversionRate"].as_f64().unwrap() - rate).abs() < 1e-12);
    assert!(
        (row["incrementalConversions"].as_f64().unwrap()
            - (f64::from(converted) - control_rate * f64::from(exposed)))
        .abs()
            < 1e-9
    );
    assert!((row["lift"]["value"].as_f64().unwrap() - (rate / control_rate - 1.0)).abs() < 1e-9);
    assert!(row["significance"]["significant"].is_boolean());

    // Filtered to another campaign: nothing.
    body["campaignIds"] = json!([campaign + 1]);
    let (status, answer) = report(&server, &body).await;
    assert_eq!(status, 200);
    assert_eq!(answer["rows"], json!([]));
}

#[tokio::test]
async fn a_split_gives_each_visitor_one_engagement_by_weight_always_the_same() {
    let server = TestServer::start().await;
    let campaign = admin_support::campaign(&server, "A/B", 10).await;
    let a = engagement(
        &server,
        campaign,
        &json!({"name": "A", "engagementType": 5, "zoneId": 7, "weight": 1}),
    )
    .await;
    let b = engagement(
        &server,
        campaign,
        &json!({"name": "B", "engagementType": 5, "zoneId": 7, "weight": 3}),
    )
    .await;
    assert_eq!(b["weight"], 3);
    let weights = [
        (a["engagementId"].as_u64().unwrap(), 1),
        (b["engagementId"].as_u64().unwrap(), 3),
    ];
    let mut per_engagement = std::collections::HashMap::new();
    for i in 0..30 {
        let visitor = format!("v{i}");
        let expected =
            split_choice(&server.account_id, campaign, Some(7), &visitor, &weights).unwrap();
        for _ in 0..2 {
            let (_, answer) = decide(
                &server,
                &page(&visitor, "https://shop.example/", &[], json!([])),
            )
            .await;
            assert_eq!(shown_ids(&answer), [expected]);
        }
        *per_engagement.entry(expected).or_insert(0u64) += 1;
    }
    let mut body = whole_day();
    body["groupBy"] = json!(["engagement"]);
    let (status, answer) = report(&server, &body).await;
    assert_eq!(status, 200, "{answer}");
    for row in answer["rows"].as_array().unwrap() {
        let id = row["engagementId"].as_u64().unwrap();
        assert_eq!(row["campaignId"], campaign);
        assert_eq!(row["exposedVisitors"], per_engagement[&id], "{row}");
        if per_engagement.len() == 2 {
            assert_eq!(
                row["split"]["othersExposedVisitors"],
                30 - per_engagement[&id],
                "{row}"
            );
        }
    }
}

#[tokio::test]
async fn bad_reports_are_refused_with_pointers_and_keys_are_required() {
    let server = TestServer::start().await;
    let (status, answer) = report(
        &server,
        &json!({"from": 0, "to": 401u64 * 86_400_000, "groupBy": ["week"], "campaignIds": ["x"], "colour": 1}),
    )
    .await;
    assert_eq!(status, 400);
    let paths = error_paths(&answer);
    for path in ["/groupBy/0", "/campaignIds/0", "/colour"] {
        assert!(paths.contains(&path), "{path} in {answer}");
    }
    let (status, answer) = report(&server, &json!({"from": 0, "to": 401u64 * 86_400_000})).await;
    assert_eq!(status, 400);
    assert_eq!(answer["errors"][0]["path"], "/to", "{answer}");
    assert!(answer["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("400"));

    let (status, c) = post(
        &server,
        "/campaigns",
        &json!({"name": "x", "controlGroupPercent": 51, "attributionWindowDays": 0}),
    )
    .await;
    assert_eq!(status, 400);
    let paths = error_paths(&c);
    assert_eq!(paths, ["/controlGroupPercent", "/attributionWindowDays"]);

    let unauthenticated = server
        .client
        .post(account_url(&server, "/analytics/report"))
        .json(&whole_day())
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
}

#[tokio::test]
async fn a_grouping_of_more_than_ten_thousand_rows_is_refused() {
    let server = TestServer::start().await;
    let campaign = admin_support::campaign(&server, "Many", 10).await;
    let now = engage_store::ids::now_ms();
    // Two campaigns eligible in each of 5,001 hours: by campaign and hour, 10,002 rows.
    let records = (0..10_002)
        .map(|i| engage_store::analytics::EligibilityRecord {
            campaign_id: campaign + (i % 2) as u64,
            engagement_id: 1,
            visitor_id: format!("v{i}"),
            control: false,
            at_ms: now - (i / 2) * 3_600_000,
            bot: false,
        })
        .collect();
    server
        .store
        .record_eligibility(&server.account_id, records)
        .await
        .unwrap();
    let body =
        json!({"from": now - 5_001 * 3_600_000, "to": now + 1, "groupBy": ["campaign", "hour"]});
    let (status, answer) = report(&server, &body).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["errors"][0]["path"], "/groupBy");
    let body =
        json!({"from": now - 5_001 * 3_600_000, "to": now + 1, "groupBy": ["campaign", "day"]});
    let (status, _) = report(&server, &body).await;
    assert_eq!(status, 200);
}

fn click(id: &str, engagement: &Value, context: &str) -> Value {
    let mut event = impression(id, engagement, context);
    event["eventName"] = json!("OFFER_CLICK");
    event
}

#[tokio::test]
async fn a_funnel_counts_visitors_who_took_the_steps_in_order() {
    let server = TestServer::start().await;
    let campaign = admin_support::campaign(&server, "Funnel", 10).await;
    let e = engagement(
        &server,
        campaign,
        &json!({"name": "Banner", "engagementType": 5}),
    )
    .await;
    let cart = json!({"type": "cart", "total": 10, "currency": "USD", "numItems": 1});
    let purchase = json!({"type": "purchase", "total": "10", "currency": "USD", "orderId": "o1"});
    // a: every step, one batch each, in order.
    collect(
        &server,
        "a",
        "a-s",
        vec![impression("a1", &e, "ca")],
        vec![],
    )
    .await;
    collect(&server, "a", "a-s", vec![click("a2", &e, "ca")], vec![]).await;
    collect(&server, "a", "a-s", vec![], vec![cart.clone()]).await;
    collect(&server, "a", "a-s", vec![], vec![purchase]).await;
    // b: sees and clicks.
    collect(
        &server,
        "b",
        "b-s",
        vec![impression("b1", &e, "cb")],
        vec![],
    )
    .await;
    collect(&server, "b", "b-s", vec![click("b2", &e, "cb")], vec![]).await;
    // c: a cart first, then sees and clicks: the cart is not after the click.
    collect(&server, "c", "c-s", vec![], vec![cart]).await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    collect(
        &server,
        "c",
        "c-s",
        vec![impression("c1", &e, "cc")],
        vec![],
    )
    .await;
    collect(&server, "c", "c-s", vec![click("c2", &e, "cc")], vec![]).await;

    let mut body = whole_day();
    body["steps"] = json!([{"event": "OFFER_IMPRESSION"}, {"event": "OFFER_CLICK"}, {"sde": "cart"}, {"sde": "purchase"}]);
    body["windowSeconds"] = json!(600);
    let (status, answer) = post(&server, "/analytics/funnel", &body).await;
    assert_eq!(status, 200, "{answer}");
    let steps = answer["rows"][0]["steps"].as_array().unwrap();
    let counts: Vec<u64> = steps
        .iter()
        .map(|s| s["visitors"].as_u64().unwrap())
        .collect();
    assert_eq!(counts, [3, 3, 1, 1], "{answer}");
    assert_eq!(steps[0]["event"], "OFFER_IMPRESSION");
    assert_eq!(steps[3]["sde"], "purchase");
    assert_eq!(steps[1]["conversionFromPrevious"], 1.0);
    assert!((steps[2]["conversionFromFirst"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-12);
    assert!(steps[1]["medianSecondsFromPrevious"].as_f64().unwrap() >= 0.0);
    assert_eq!(steps[0]["medianSecondsFromPrevious"], Value::Null);

    body["groupBy"] = json!(["campaign"]);
    body["campaignIds"] = json!([campaign]);
    let (_, answer) = post(&server, "/analytics/funnel", &body).await;
    assert_eq!(answer["rows"][0]["campaignId"], campaign, "{answer}");
    assert_eq!(answer["rows"][0]["steps"][1]["visitors"], 3);

    body["steps"] = json!([{"sde": "cart"}, {"event": "FLY"}]);
    let (status, answer) = post(&server, "/analytics/funnel", &body).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["errors"][0]["path"], "/steps/1/event", "{answer}");
}

const GOOGLEBOT: &str = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";

#[tokio::test]
async fn a_crawlers_impression_counts_only_with_include_bots() {
    let server = TestServer::start().await;
    let campaign = admin_support::campaign(&server, "Crawled", 10).await;
    let e = engagement(
        &server,
        campaign,
        &json!({"name": "Banner", "engagementType": 5, "zoneId": 1}),
    )
    .await;
    // A person: decided for, shown, sees it.
    let (status, answer) = decide(
        &server,
        &page("person", "https://shop.example/", &[], json!([])),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(shown_ids(&answer).len(), 1, "{answer}");
    collect(
        &server,
        "person",
        "person-s",
        vec![impression("p1", &e, "cp")],
        vec![],
    )
    .await;
    // A crawler does the same with its User-Agent.
    let response = server
        .client
        .post(account_url(&server, "/decision"))
        .header("content-type", "text/plain")
        .header("user-agent", GOOGLEBOT)
        .body(page("crawler", "https://shop.example/", &[], json!([])).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = server
        .client
        .post(server.events_url())
        .header("user-agent", GOOGLEBOT)
        .json(&json!({
            "visitorId": "crawler", "sessionId": "crawler-s", "pageId": "crawler-page",
            "events": [impression("c1", &e, "cc")], "sdes": [],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let mut body = whole_day();
    body["groupBy"] = json!(["campaign"]);
    let (status, people) = report(&server, &body).await;
    assert_eq!(status, 200, "{people}");
    let row = &people["rows"][0];
    assert_eq!(
        (
            &row["impressions"],
            &row["eligible"],
            &row["visitors"],
            &row["exposedVisitors"]
        ),
        (&json!(1), &json!(1), &json!(1), &json!(1)),
        "{people}"
    );
    body["includeBots"] = json!(true);
    let (status, all) = report(&server, &body).await;
    assert_eq!(status, 200, "{all}");
    let row = &all["rows"][0];
    assert_eq!(
        (
            &row["impressions"],
            &row["eligible"],
            &row["visitors"],
            &row["exposedVisitors"]
        ),
        (&json!(2), &json!(2), &json!(2), &json!(2)),
        "{all}"
    );

    let mut funnel = whole_day();
    funnel["steps"] = json!([{"event": "OFFER_IMPRESSION"}]);
    let reached = |answer: &Value| answer["rows"][0]["steps"][0]["visitors"].clone();
    let send = |body: Value| {
        let server = &server;
        async move {
            let (status, answer) = post(server, "/analytics/funnel", &body).await;
            assert_eq!(status, 200, "{answer}");
            answer
        }
    };
    assert_eq!(reached(&send(funnel.clone()).await), 1);
    funnel["includeBots"] = json!(true);
    assert_eq!(reached(&send(funnel).await), 2);
}
