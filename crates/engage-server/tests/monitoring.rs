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
    let c = admin_support::campaign(&server, "App", 1).await;
    let e = admin_support::engagement(
        &server,
        c,
        &json!({"name": "In-app overlay", "engagementType": 1}),
    )
    .await;
    let e = e["engagementId"].as_u64().unwrap();
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
    let context = visit["engagementDetails"][0]["contextId"].clone();
    assert!(context.is_string(), "{visit}");
    let impression = |kind: &str| {
        json!({"type": kind, "campaign": c, "engId": e, "revision": 1,
               "eContext": [{"type": "engagementContext", "id": context}]})
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
        assert_eq!(event["data"]["contextId"], context);
        assert_eq!(event["data"]["confKey"], format!("{c}_{e}_1"));
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
               "contextId": context, "connectorId": -1, "language": "NA", "status": "expose"})
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

// ------------------------------------------- LivePerson's documented examples, verbatim

/// pages/documents/WebsiteMonitoring/MonitoringAPI/methods/engagement.md, "Example Body
/// Entity", verbatim.
const ENGAGEMENT_MD_BODY: &str = r#"{
 "clientProperties":{
   "osName": "MAC_OSX",
   "osVersion": "1.2",
   "appVersion": "1.0",
   "deviceFamily": "MOBILE",
   "ipAddress": "192.168.5.2"
 },
 "consumerId":"uniqueIdInBrand",
 "identities": [
   {
        "iss": "LivePerson",
        "acr": "0",    
        "sub": "identifierForNoAuth"
    },
    {
        "iss": "TMO",
        "acr": "loa1",
        "sub": "identifierForAuth"
    }
 ],
 "entryPoints":[
   "tel://972737004000",
   "http://www.liveperson.com",
   "sec://Sport",
   "lang://English"
 ],
 "engagementAttributes": [
   {
     "type": "personal",
     "personal": {
       "contacts": [{"email":"user123@gmail.com","phone":"12345678"},{"email":"aaa@domain.co.il","phone":"98765430"}],
       "age": {
         "age":30.0,
         "year":1985,
         "month":7,
         "day":22
       },
       "firstname": "test",
       "lastname": "test2",
       "gender": "FEMALE",
       "company": "liveperson"
     }
   }
 ]
}"#;

/// pages/documents/WebsiteMonitoring/MonitoringAPI/getting-started.md, the `engagement`
/// curl's `-d`, verbatim.
const GETTING_STARTED_ENGAGEMENT: &str = r#"{"clientProperties":{"osName": "MAC_OSX","osVersion": "1.2","appVersion": "1.0","deviceFamily": "MOBILE"},"consumerId":"uniqueIdInBrand","engagementAttributes": [{"type": "personal","personal": {"contacts": [{"email":"bbb@test.com","phone":"12345678"},{"email":"aaa@test2.co.il","phone":"98765430"}],"age": {"age":30.0,"year":1985,"month":7,"day":22},"firstname": "test","lastname": "test2","gender": "FEMALE","company": "liveperson"}}]}"#;

/// pages/documents/WebsiteMonitoring/MonitoringAPI/methods/report.md, "Example Body
/// Entity", verbatim.
const REPORT_MD_BODY: &str = r#"{
 "consumerId":"myConsumerId",
 "identities": [
   {
        "iss": "LivePerson",
        "acr": "0",    
        "sub": "identifierForNoAuth"
    },
    {
        "iss": "TMO",
        "acr": "loa1",
        "sub": "identifierForAuth"
    }
 ],
 "pageId" : "4743822558",
 "entryPoints":[
   "tel://972737004000",
   "http://www.brand.com",
   "sec://Sport",
   "lang://English"
 ],
 "engagementAttributes": [
   {
       "type": "purchase",
       "total": 11.7,
       "orderId": "DRV1534XC"
	},
	{
       "type": "lead",
           "lead": {
           "topic": "luxury car test drive 2015",
           "value": 22.22,
           "leadId": "xyz123"
       }
   }
 ]
}"#;

/// report.md, "Examples for engagement attributes to report impression events": the three
/// without `eContext`, verbatim.
const REPORT_MD_IMPRESSIONS_WITHOUT_CONTEXT: [&str; 3] = [
    r#"{
  "type": "impExpanded",
  "expanded": null,
  "userInit": null,
  "actionableItems": null,
  "campaign": 3115242510,
  "engId": 3115242810,
  "revision": 537
}"#,
    r#"{
  "type": "impTimeout",
  "campaign": 3115242510,
  "engId": 3115242810,
  "revision": 537
}"#,
    r#"{
  "type": "impClose",
  "campaign": 3115242510,
  "engId": 3115242810,
  "revision": 537
}"#,
];

/// A raw JSON body, sent as is.
fn raw(request: reqwest::RequestBuilder, body: &str) -> reqwest::RequestBuilder {
    request
        .header("content-type", "application/json")
        .body(body.to_owned())
}

fn ids_query(answer: &Value) -> String {
    format!(
        "v=1.0&vid={}&sid={}",
        answer["visitorId"].as_str().unwrap(),
        answer["sessionId"].as_str().unwrap()
    )
}

/// The members of an answer, sorted.
fn keys(answer: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = answer
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

#[tokio::test]
async fn the_documented_engagement_bodies_are_answered_201_in_the_documented_shape() {
    let server = TestServer::start().await;
    let app = admin_support::app(&server).await;
    for body in [ENGAGEMENT_MD_BODY, GETTING_STARTED_ENGAGEMENT] {
        // The examples' `vid`/`sid` are placeholders: a first call sends none.
        let (status, answer) = send(raw(
            server.client.post(engagement_url(&server, &app, "v=1.0")),
            body,
        ))
        .await;
        // engagement.md: "200/201 OK - Engagement is unavailable ... does not return".
        assert_eq!(status, 201, "{answer}");
        assert_eq!(keys(&answer), ["pageId", "sessionId", "visitorId"]);
        let visit = server
            .store
            .visit(&server.account_id, answer["sessionId"].as_str().unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            visit.sdes.personal_info.unwrap().company.text_value(),
            Some("liveperson")
        );
    }
}

#[tokio::test]
async fn entry_points_are_the_url_and_the_sections_the_decision_sees() {
    let server = TestServer::start().await;
    let app = admin_support::app(&server).await;
    let c = admin_support::campaign(&server, "Sport", 1).await;
    let e = admin_support::engagement(
        &server,
        c,
        &json!({"name": "Sport chat", "engagementType": 5,
                "targeting": {"url": {"include": [{"contains": "liveperson.com"}]},
                              "sections": {"include": ["sport"]}}}),
    )
    .await;
    let (status, answer) = send(raw(
        server.client.post(engagement_url(&server, &app, "v=1.0")),
        ENGAGEMENT_MD_BODY,
    ))
    .await;
    assert_eq!(status, 201, "{answer}");
    let details = answer["engagementDetails"].as_array().expect("eligible");
    assert_eq!(details.len(), 1, "{answer}");
    assert_eq!(details[0]["engagementId"], e["engagementId"]);
    // engagement.md's 201 example (an exposure): its members, and the response table's
    // `language`, here the body's `lang://English`.
    assert_eq!(
        keys(&details[0]),
        [
            "campaignId",
            "connectorId",
            "contextId",
            "engagementId",
            "engagementRevision",
            "language",
            "status"
        ]
    );
    assert_eq!(details[0]["status"], "expose");
    assert_eq!(details[0]["language"], "English");
    assert_eq!(details[0]["connectorId"], -1);
    assert!(details[0]["campaignId"].is_u64() && details[0]["engagementRevision"].is_u64());

    // Another section, or no http(s) entry point: not this page.
    for entry_points in [
        json!(["http://www.liveperson.com", "sec://Golf"]),
        json!(["tel://972737004000", "sec://Sport"]),
    ] {
        let (_, answer) = send(
            server
                .client
                .post(engagement_url(&server, &app, "v=1.0"))
                .json(&json!({"entryPoints": entry_points})),
        )
        .await;
        assert!(answer.get("engagementDetails").is_none(), "{answer}");
    }
}

#[tokio::test]
async fn a_first_report_without_vid_and_sid_creates_the_visit_with_201() {
    let server = TestServer::start().await;
    let app = admin_support::app(&server).await;
    let (status, first) = send(raw(
        server.client.put(report_url(&server, &app, "v=1.0")),
        REPORT_MD_BODY,
    ))
    .await;
    assert_eq!(status, 201, "{first}");
    // report.md, "200 OK": `{sessionId, visitorId, pageId}`, the page id the body named.
    assert_eq!(keys(&first), ["pageId", "sessionId", "visitorId"]);
    assert_eq!(first["pageId"], "4743822558");
    let sdes = server.export(ExportKind::Sdes).await;
    assert_eq!(sdes.len(), 2);
    assert_eq!(sdes[0]["sde"]["purchase"]["orderId"], "DRV1534XC");
    assert_eq!(
        sdes[1]["sde"]["lead"]["lead"]["leadId"], "xyz123",
        "{}",
        sdes[1]
    );
    assert!(sdes.iter().all(|s| s["sessionId"] == first["sessionId"]));

    // The same body on the visit it created: 200, the same visit.
    let (status, again) = send(raw(
        server
            .client
            .put(report_url(&server, &app, &ids_query(&first))),
        REPORT_MD_BODY,
    ))
    .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["sessionId"], first["sessionId"]);
    assert_eq!(again["visitorId"], first["visitorId"]);

    // "At least one form of identification is required (consumerId / an identities.sub
    // or vid)": without any, 400/5.
    let (status, error) = send(
        server
            .client
            .put(report_url(&server, &app, "v=1.0"))
            .json(&json!({"engagementAttributes": []})),
    )
    .await;
    assert_eq!((status, error["internalCode"].as_u64()), (400, Some(5)));
}

#[tokio::test]
async fn impressions_name_only_contexts_this_session_was_shown() {
    let server = TestServer::start().await;
    let app = admin_support::app(&server).await;
    let (status, visit) = send(raw(
        server.client.post(engagement_url(&server, &app, "v=1.0")),
        GETTING_STARTED_ENGAGEMENT,
    ))
    .await;
    assert_eq!(status, 201);
    // report.md's impression examples name LivePerson's engagements, which this session
    // was never shown: refused with 400/5 ("request data is missing or invalid",
    // overview.md), as report.md's Limitations say, and nothing is stored.
    let body = format!(
        r#"{{"pageId": {}, "engagementAttributes": [{}]}}"#,
        visit["pageId"],
        REPORT_MD_IMPRESSIONS_WITHOUT_CONTEXT.join(",")
    );
    let (status, error) = send(raw(
        server
            .client
            .put(report_url(&server, &app, &ids_query(&visit))),
        &body,
    ))
    .await;
    assert_eq!((status, error["internalCode"].as_u64()), (400, Some(5)));
    assert!(
        error["message"].as_str().unwrap().contains("never shown"),
        "{error}"
    );
    // getting-started.md's report: a POST with the override, `clientProperties` in the
    // body, an `impDisplay` in context "1"; verbatim, and refused alike.
    let body = r#"{"clientProperties":{"osName": "MAC_OSX","osVersion": "1.2","appVersion": "1.0","deviceFamily": "MOBILE"},"consumerId":"uniqueIdInBrand","engagementAttributes": [{"type":"impDisplay","campaign":2695999112,"engId":2696029112,"revision":3,"eContext":[{"type":"engagementContext","id":"1"}]}]}"#;
    let (status, error) = send(raw(
        server
            .client
            .post(report_url(&server, &app, &ids_query(&visit)))
            .header("X-HTTP-Method-Override", "PUT"),
        body,
    ))
    .await;
    assert_eq!((status, error["internalCode"].as_u64()), (400, Some(5)));
    assert!(server.export(ExportKind::Events).await.is_empty());
    assert!(server.export(ExportKind::Quarantine).await.is_empty());

    // Once the session was shown an engagement, impressions name its context; those
    // without `eContext` (the documented shapes) take it too.
    let c = admin_support::campaign(&server, "App", 1).await;
    let e = admin_support::engagement(
        &server,
        c,
        &json!({"name": "In-app overlay", "engagementType": 1}),
    )
    .await;
    let e = e["engagementId"].as_u64().unwrap();
    let (status, shown) = send(
        server
            .client
            .post(engagement_url(&server, &app, &ids_query(&visit)))
            .json(&json!({})),
    )
    .await;
    assert_eq!(status, 200);
    let context = shown["engagementDetails"][0]["contextId"].clone();
    assert!(context.is_string(), "{shown}");
    let documented = |example: &str| {
        let mut value: Value = serde_json::from_str(example).unwrap();
        value["campaign"] = json!(c);
        value["engId"] = json!(e);
        value["revision"] = json!(1);
        value
    };
    let body = json!({"pageId": shown["pageId"], "engagementAttributes": [
        {"type": "impDisplay", "campaign": c, "engId": e, "revision": 1,
         "eContext": [{"type": "engagementContext", "id": context}]},
        documented(REPORT_MD_IMPRESSIONS_WITHOUT_CONTEXT[0]),
        documented(REPORT_MD_IMPRESSIONS_WITHOUT_CONTEXT[1]),
        documented(REPORT_MD_IMPRESSIONS_WITHOUT_CONTEXT[2]),
    ]});
    let (status, answer) = send(
        server
            .client
            .put(report_url(&server, &app, &ids_query(&visit)))
            .json(&body),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let events = server.export(ExportKind::Events).await;
    let names: Vec<_> = events.iter().map(|e| e["eventName"].clone()).collect();
    assert_eq!(
        names,
        [
            json!("OFFER_IMPRESSION"),
            json!("OFFER_DISPLAY"),
            json!("OFFER_TIMEOUT"),
            json!("OFFER_DECLINED")
        ]
    );
    for event in &events {
        assert_eq!(event["data"]["contextId"], context);
        assert_eq!(event["sessionId"], visit["sessionId"]);
    }

    // Another session of the same visitor was not shown it; nor is another engagement's
    // context the context of this one.
    let (_, other) = send(
        server
            .client
            .post(engagement_url(
                &server,
                &app,
                &format!("v=1.0&vid={}", visit["visitorId"].as_str().unwrap()),
            ))
            .json(&json!({})),
    )
    .await;
    assert_ne!(other["sessionId"], visit["sessionId"]);
    let stolen = json!({"engagementAttributes": [
        {"type": "impAccept", "campaign": c, "engId": e, "revision": 1,
         "eContext": [{"type": "engagementContext", "id": context}]}]});
    let (status, _) = send(
        server
            .client
            .put(report_url(&server, &app, &ids_query(&other)))
            .json(&stolen),
    )
    .await;
    assert_eq!(status, 400);
    let wrong_engagement = json!({"engagementAttributes": [
        {"type": "impAccept", "campaign": c, "engId": e + 1, "revision": 1,
         "eContext": [{"type": "engagementContext", "id": context}]}]});
    let (status, _) = send(
        server
            .client
            .put(report_url(&server, &app, &ids_query(&visit)))
            .json(&wrong_engagement),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(server.export(ExportKind::Events).await.len(), 4);
}

#[tokio::test]
async fn what_a_stranger_may_send_about_the_consumer_is_bounded() {
    let server = TestServer::start().await;
    let app = admin_support::app(&server).await;
    let identity = json!({"iss": "TMO", "acr": "loa1", "sub": "s"});
    let too_long = "x".repeat(257);
    for (body, pointer) in [
        (json!({"identities": vec![identity; 9]}), "/identities/8"),
        (
            json!({"identities": [{"acr": "loa1"}]}),
            "/identities/0/sub",
        ),
        (json!({"consumerId": too_long}), "/consumerId"),
        (
            json!({"entryPoints": vec!["tel://1"; 65]}),
            "/entryPoints/64",
        ),
        (json!({"entryPoints": ["sec://"]}), "/entryPoints/0"),
        (
            json!({"clientProperties": {"os": "IOS", "osName": "ANDROID"}}),
            "/clientProperties/osName",
        ),
    ] {
        let (status, error) = send(
            server
                .client
                .post(engagement_url(&server, &app, "v=1.0"))
                .json(&body),
        )
        .await;
        assert_eq!((status, error["internalCode"].as_u64()), (400, Some(5)));
        assert!(
            error["message"].as_str().unwrap().contains(pointer),
            "{pointer}: {error}"
        );
    }
}

#[tokio::test]
async fn an_identity_finds_the_same_visitor_on_a_later_call_without_vid() {
    let server = TestServer::start().await;
    let app = admin_support::app(&server).await;
    // engagement.md's body names `identities` (first `sub`: identifierForNoAuth).
    let (status, first) = send(raw(
        server.client.post(engagement_url(&server, &app, "v=1.0")),
        ENGAGEMENT_MD_BODY,
    ))
    .await;
    assert_eq!(status, 201);
    // report.md's body names the same identities: the same visitor, a new session.
    let (status, report) = send(raw(
        server.client.put(report_url(&server, &app, "v=1.0")),
        REPORT_MD_BODY,
    ))
    .await;
    assert_eq!(status, 201, "{report}");
    assert_eq!(report["visitorId"], first["visitorId"]);
    assert_ne!(report["sessionId"], first["sessionId"]);
    // A consumerId alone is an identity too.
    let by_consumer = json!({"consumerId": "consumer-7"});
    let (_, a) = send(
        server
            .client
            .post(engagement_url(&server, &app, "v=1.0"))
            .json(&by_consumer),
    )
    .await;
    let (_, b) = send(
        server
            .client
            .post(engagement_url(&server, &app, "v=1.0"))
            .json(&by_consumer),
    )
    .await;
    assert_eq!(a["visitorId"], b["visitorId"]);
    assert_ne!(a["visitorId"], first["visitorId"]);
    // Without an identity, every first call is a new visitor.
    let (_, c) = send(
        server
            .client
            .post(engagement_url(&server, &app, "v=1.0"))
            .json(&json!({})),
    )
    .await;
    assert_ne!(c["visitorId"], a["visitorId"]);
    // An invalid body links nothing.
    let invalid = json!({"consumerId": "consumer-8", "entryPoints": 7});
    let (status, _) = send(
        server
            .client
            .post(engagement_url(&server, &app, "v=1.0"))
            .json(&invalid),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        server
            .store
            .identity_visitor(&server.account_id, "consumer-8")
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn a_report_naming_another_visitors_session_is_404_39_and_stores_nothing() {
    let server = TestServer::start().await;
    let app = admin_support::app(&server).await;
    let mut visits = Vec::new();
    for _ in 0..2 {
        let (status, visit) = send(
            server
                .client
                .post(engagement_url(&server, &app, "v=1.1"))
                .json(&json!({})),
        )
        .await;
        assert_eq!(status, 201, "{visit}");
        visits.push(visit);
    }
    // Visitor 2 reports a purchase into visitor 1's session.
    let query = format!(
        "v=1.1&vid={}&sid={}",
        visits[1]["visitorId"].as_str().unwrap(),
        visits[0]["sessionId"].as_str().unwrap()
    );
    let (status, error) = send(raw(
        server.client.put(report_url(&server, &app, &query)),
        REPORT_MD_BODY,
    ))
    .await;
    assert_eq!((status, error["internalCode"].as_u64()), (404, Some(39)));
    assert!(server.export(ExportKind::Sdes).await.is_empty());
}
