//! The Monitoring API (docs/vocabulary.md, Monitoring API) over real HTTP.

// Tests: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::admin_support;
use crate::common;

use common::TestServer;
use engage_store::ExportKind;
use serde_json::{json, Value};

fn engagement_url(server: &TestServer, app: &str, query: &str) -> String {
    format!(
        "{}/api/account/{}/app/{app}/engagement?{query}",
        server.url, server.account_id
    )
}

fn report_url(server: &TestServer, app: &str, query: &str) -> String {
    format!(
        "{}/api/account/{}/app/{app}/report?{query}",
        server.url, server.account_id
    )
}

async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn engagement_creates_a_visit_with_201_then_answers_200_for_it() {
    let server = TestServer::start().await;
    let app = admin_support::app(&server).await;
    let body = json!({
        "consumerId": "c-1",
        "clientProperties": {"appVersion": "2.1", "deviceFamily": "MOBILE", "os": "ANDROID", "osVersion": "14"},
        "entryPoints": ["tel://972737004000", "http://www.example.com/support"],
        "engagementAttributes": [
            {"type": "ctmrinfo", "info": {"customerId": "138766AC", "ctype": "vip"}},
            {"type": "personal", "personal": {"firstname": "John"}}
        ]
    });
    let (status, first) = send(
        server
            .client
            .post(engagement_url(&server, &app, "v=1.1"))
            .json(&body),
    )
    .await;
    assert_eq!(status, 201, "{first}");
    for key in ["sessionId", "visitorId", "pageId"] {
        assert!(
            first[key].as_str().is_some_and(|s| !s.is_empty()),
            "{first}"
        );
    }
    assert!(
        first.get("engagementDetails").is_none(),
        "no campaigns yet, so nothing is eligible"
    );
    let visit = server
        .store
        .visit(&server.account_id, first["sessionId"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        visit.sdes.customer_info.unwrap().customer_id.text_value(),
        Some("138766AC")
    );

    let query = format!(
        "v=1.0&vid={}&sid={}",
        first["visitorId"].as_str().unwrap(),
        first["sessionId"].as_str().unwrap()
    );
    let (status, second) = send(
        server
            .client
            .post(engagement_url(&server, &app, &query))
            .json(&json!({"engagementAttributes": []})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(second["sessionId"], first["sessionId"]);
    assert_ne!(second["pageId"], first["pageId"]);

    // A known visitor without a session starts a new one.
    let query = format!("v=1.1&vid={}", first["visitorId"].as_str().unwrap());
    let (status, third) = send(
        server
            .client
            .post(engagement_url(&server, &app, &query))
            .json(&json!({})),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(third["visitorId"], first["visitorId"]);
    assert_ne!(third["sessionId"], first["sessionId"]);
}

#[tokio::test]
async fn errors_keep_the_documented_body_and_codes() {
    let server = TestServer::start().await;
    let app = admin_support::app(&server).await;
    let (status, error) = send(
        server
            .client
            .post(engagement_url(&server, &app, "v=2.0"))
            .json(&json!({})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(error["internalCode"], 33);
    assert!(error["time"].as_i64().unwrap() > 1_600_000_000_000);
    assert!(error["message"].as_str().unwrap().contains("2.0"));

    let (status, error) = send(
        server
            .client
            .post(engagement_url(&server, &app, "v=1.1&vid=nobody"))
            .json(&json!({})),
    )
    .await;
    assert_eq!((status, error["internalCode"].as_u64()), (404, Some(37)));

    let (_, visit) = send(
        server
            .client
            .post(engagement_url(&server, &app, "v=1.1"))
            .json(&json!({})),
    )
    .await;
    let query = format!(
        "v=1.1&vid={}&sid=no-such-session",
        visit["visitorId"].as_str().unwrap()
    );
    let (status, error) = send(
        server
            .client
            .put(report_url(&server, &app, &query))
            .json(&json!({"engagementAttributes": []})),
    )
    .await;
    assert_eq!((status, error["internalCode"].as_u64()), (404, Some(39)));

    let (status, error) = send(
        server
            .client
            .post(engagement_url(&server, &app, "v=1.1"))
            .json(
                &json!({"engagementAttributes": [{"type": "service", "service": {"status": 14}}]}),
            ),
    )
    .await;
    assert_eq!((status, error["internalCode"].as_u64()), (400, Some(5)));
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("/engagementAttributes/0/service/status"),
        "{error}"
    );
    // Nothing of the invalid call was stored, but the body is in the quarantine.
    let quarantine = server.export(ExportKind::Quarantine).await;
    assert_eq!(quarantine.len(), 1);
    assert_eq!(quarantine[0]["context"]["api"], "monitoring");

    let (status, error) = send(
        server
            .client
            .post(format!(
                "{}/api/account/424242/app/a/engagement?v=1.1",
                server.url
            ))
            .json(&json!({})),
    )
    .await;
    assert_eq!(status, 404);
    assert!(error["internalCode"].is_u64());
}

#[tokio::test]
async fn report_impressions_become_lp_offers_events_of_their_context() {
    let server = TestServer::start().await;
    let app = admin_support::app(&server).await;
    let (_, visit) = send(
        server
            .client
            .post(engagement_url(&server, &app, "v=1.1"))
            .json(&json!({})),
    )
    .await;
    let query = format!(
        "v=1.1&vid={}&sid={}",
        visit["visitorId"].as_str().unwrap(),
        visit["sessionId"].as_str().unwrap()
    );
    let impression = |kind: &str| {
        json!({"type": kind, "campaign": 210599710, "engId": 210600710, "revision": 18,
               "eContext": [{"type": "engagementContext", "id": "ctx-7"}]})
    };
    let body = json!({
        "pageId": visit["pageId"],
        "engagementAttributes": [impression("impExpanded"), impression("impDisplay"), impression("impAccept"),
                                 {"type": "purchase", "total": 11.7, "orderId": "DRV1534XC"}]
    });
    let (status, answer) = send(
        server
            .client
            .put(report_url(&server, &app, &query))
            .json(&body),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["pageId"], visit["pageId"]);
    let body = json!({"engagementAttributes": [impression("impTimeout"), impression("impClose")]});
    let (status, _) = send(
        server
            .client
            .post(report_url(&server, &app, &query))
            .header("X-HTTP-Method-Override", "PUT")
            .json(&body),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = send(
        server
            .client
            .post(report_url(&server, &app, &query))
            .json(&body),
    )
    .await;
    assert_eq!(status, 405, "a POST without the override is not a report");

    let events = server.export(ExportKind::Events).await;
    let names: Vec<_> = events
        .iter()
        .map(|e| e["eventName"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "OFFER_DISPLAY",
            "OFFER_IMPRESSION",
            "OFFER_CLICK",
            "OFFER_TIMEOUT",
            "OFFER_DECLINED"
        ]
    );
    for event in &events {
        assert_eq!(event["data"]["contextId"], "ctx-7");
        assert_eq!(event["data"]["confKey"], "210599710_210600710_18");
        assert_eq!(event["sessionId"], visit["sessionId"]);
    }
    assert_eq!(
        events[0]["data"]["contexts"][1]["pageContext"]["id"],
        visit["pageId"]
    );
    let sdes = server.export(ExportKind::Sdes).await;
    assert_eq!(sdes[0]["sde"]["purchase"]["orderId"], "DRV1534XC");
}

#[tokio::test]
async fn an_unknown_app_installation_is_404_with_internal_code_18() {
    let server = TestServer::start().await;
    let known = admin_support::app(&server).await;
    for app in ["app-1", "00000000-0000-4000-8000-000000000000"] {
        let (status, error) = send(
            server
                .client
                .post(engagement_url(&server, app, "v=1.1"))
                .json(&json!({})),
        )
        .await;
        assert_eq!(
            (status, error["internalCode"].as_u64()),
            (404, Some(18)),
            "{error}"
        );
        assert!(error["message"].as_str().unwrap().contains(app), "{error}");
        assert!(error["time"].as_i64().unwrap() > 1_600_000_000_000);
    }
    // The report call too, even for a visit another app started.
    let (_, visit) = send(
        server
            .client
            .post(engagement_url(&server, &known, "v=1.1"))
            .json(&json!({})),
    )
    .await;
    let query = format!(
        "v=1.1&vid={}&sid={}",
        visit["visitorId"].as_str().unwrap(),
        visit["sessionId"].as_str().unwrap()
    );
    let (status, error) = send(
        server
            .client
            .put(report_url(&server, "app-1", &query))
            .json(&json!({"engagementAttributes": []})),
    )
    .await;
    assert_eq!((status, error["internalCode"].as_u64()), (404, Some(18)));
    // Nothing was recorded for the unknown app: only the known app's visit exists.
    assert!(server.export(ExportKind::Quarantine).await.is_empty());
}

#[tokio::test]
async fn engagement_answers_engagement_details_once_something_is_eligible() {
    let server = TestServer::start().await;
    let app = admin_support::app(&server).await;
    let body = json!({
        "entryPoints": ["https://shop.example/support"],
        "engagementAttributes": [{"type": "ctmrinfo", "info": {"ctype": "vip"}}]
    });
    let (status, answer) = send(
        server
            .client
            .post(engagement_url(&server, &app, "v=1.1"))
            .json(&body),
    )
    .await;
    assert_eq!(status, 201);
    assert!(answer.get("engagementDetails").is_none(), "{answer}");

    let c = admin_support::campaign(&server, "Support", 1).await;
    let e = admin_support::engagement(
        &server,
        c,
        &json!({"name": "VIP support", "engagementType": 5, "zoneId": 7,
                "targeting": {"url": {"include": [{"contains": "/support"}]},
                              "sdes": [{"path": "customerInfo.customerType", "op": "eq", "value": "VIP"}]}}),
    )
    .await;
    let (status, answer) = send(
        server
            .client
            .post(engagement_url(&server, &app, "v=1.1"))
            .json(&body),
    )
    .await;
    assert_eq!(status, 201);
    let details = answer["engagementDetails"].as_array().expect("details");
    assert_eq!(details.len(), 1, "{answer}");
    let context = details[0]["contextId"].as_str().unwrap();
    assert!(!context.is_empty());
    assert_eq!(
        details[0],
        json!({"campaignId": c, "engagementId": e["engagementId"], "engagementRevision": 1,
               "contextId": context, "status": "expose"})
    );

    // The visit's stored attributes count on later calls; the entry point is this call's.
    let query = format!(
        "v=1.1&vid={}&sid={}",
        answer["visitorId"].as_str().unwrap(),
        answer["sessionId"].as_str().unwrap()
    );
    let (status, again) = send(
        server
            .client
            .post(engagement_url(&server, &app, &query))
            .json(&json!({"entryPoints": ["https://shop.example/support/faq"]})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        again["engagementDetails"][0]["engagementId"],
        e["engagementId"]
    );
    assert_ne!(
        again["engagementDetails"][0]["contextId"],
        details[0]["contextId"]
    );
    let (_, elsewhere) = send(
        server
            .client
            .post(engagement_url(&server, &app, &query))
            .json(&json!({"entryPoints": ["https://shop.example/home"]})),
    )
    .await;
    assert!(elsewhere.get("engagementDetails").is_none(), "{elsewhere}");
    // A visitor who is not vip gets nothing.
    let (_, other) = send(
        server
            .client
            .post(engagement_url(&server, &app, "v=1.1"))
            .json(&json!({"entryPoints": ["https://shop.example/support"]})),
    )
    .await;
    assert!(other.get("engagementDetails").is_none(), "{other}");
    // The decision records nothing: START and impressions come from the app's reports.
    assert!(server.export(ExportKind::Events).await.is_empty());
}

#[tokio::test]
async fn impressions_an_app_reports_count_toward_the_frequency_cap() {
    let server = TestServer::start().await;
    let app = admin_support::app(&server).await;
    let c = admin_support::campaign(&server, "Once", 1).await;
    let e = admin_support::engagement(
        &server,
        c,
        &json!({"name": "Shown once", "engagementType": 1,
                "targeting": {"frequency": {"maxImpressions": 1}}}),
    )
    .await;
    let (status, first) = send(
        server
            .client
            .post(engagement_url(&server, &app, "v=1.1"))
            .json(&json!({})),
    )
    .await;
    assert_eq!(status, 201);
    let detail = &first["engagementDetails"][0];
    assert_eq!(detail["engagementId"], e["engagementId"], "{first}");
    let query = format!(
        "v=1.1&vid={}&sid={}",
        first["visitorId"].as_str().unwrap(),
        first["sessionId"].as_str().unwrap()
    );
    // The app shows it and reports the impression in that engagement context.
    let impression = json!({"type": "impDisplay", "campaign": c, "engId": e["engagementId"],
        "revision": 1, "eContext": [{"type": "engagementContext", "id": detail["contextId"]}]});
    let (status, _) = send(
        server
            .client
            .put(report_url(&server, &app, &query))
            .json(&json!({"engagementAttributes": [impression]})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, second) = send(
        server
            .client
            .post(engagement_url(&server, &app, &query))
            .json(&json!({})),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        second.get("engagementDetails").is_none(),
        "the visitor had their one impression: {second}"
    );
}
