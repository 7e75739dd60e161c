//! Bots: interactions from crawlers and headless browsers are kept and flagged, left out
//! of the history search unless `includeBots` is true, and counted in `/metrics`.

use crate::common;

use common::{start_event, TestServer};
use serde_json::{json, Value};

const CHROME_ON_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
const GOOGLEBOT: &str = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
const HEADLESS_CHROME: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.6099.28 Safari/537.36";

/// `start_event`'s time.
const T: u64 = 1_700_000_000_000;

/// Posts one visit's `START` and `OFFER_DISPLAY` of `context` with `user_agent`; answers
/// the collect response.
async fn visit(server: &TestServer, user_agent: &str, context: &str) -> Value {
    let body = json!({
        "visitorId": format!("visitor-{context}"),
        "sessionId": format!("session-{context}"),
        "pageId": "page-1",
        "page": {"url": "https://shop.example/", "title": "Shop"},
        "events": [
            start_event(&format!("{context}-start"), "START", context, 3),
            start_event(&format!("{context}-display"), "OFFER_DISPLAY", context, 3),
        ],
        "sdes": [],
    });
    let response = server
        .client
        .post(server.events_url())
        .header("user-agent", user_agent)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn search(server: &TestServer, filters: Value) -> (u16, Value) {
    let mut body = json!({"start": {"from": T - 60_000, "to": T + 60_000}});
    for (key, value) in filters.as_object().unwrap() {
        body[key] = value.clone();
    }
    let response = server
        .client
        .post(format!(
            "{}/interaction_history/api/account/{}/interactions/search?sort=engagementId",
            server.url, server.account_id
        ))
        .bearer_auth(&server.api_key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn ids(server: &TestServer, filters: Value) -> Vec<String> {
    let (status, answer) = search(server, filters).await;
    assert_eq!(status, 200, "{answer}");
    answer["interactionHistoryRecords"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["info"]["engagementId"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn bots_interactions_are_kept_but_searched_only_with_include_bots() {
    let server = TestServer::start().await;
    for (agent, context) in [
        (CHROME_ON_WINDOWS, "person"),
        (GOOGLEBOT, "crawler"),
        (HEADLESS_CHROME, "headless"),
    ] {
        let answer = visit(&server, agent, context).await;
        assert_eq!(answer["accepted"], 2, "never dropped: {answer}");
    }

    assert_eq!(ids(&server, json!({})).await, ["person"]);
    assert_eq!(
        ids(&server, json!({"includeBots": false})).await,
        ["person"]
    );
    assert_eq!(
        ids(&server, json!({"includeBots": true})).await,
        ["crawler", "headless", "person"]
    );
    // The count is of what the search finds.
    let (_, answer) = search(&server, json!({})).await;
    assert_eq!(answer["_metadata"]["count"], 1, "{answer}");
    let (_, answer) = search(&server, json!({"includeBots": true})).await;
    assert_eq!(answer["_metadata"]["count"], 3, "{answer}");
}

#[tokio::test]
async fn include_bots_must_be_a_boolean() {
    let server = TestServer::start().await;
    // `null` is an absent filter, as for every other one.
    for bad in [json!("true"), json!(1), json!([true]), json!({})] {
        let (status, answer) = search(&server, json!({"includeBots": bad})).await;
        assert_eq!(status, 400, "{bad}: {answer}");
        assert_eq!(
            answer["errors"][0]["path"], "/includeBots",
            "{bad}: {answer}"
        );
    }
}

#[tokio::test]
async fn metrics_count_bots_interactions_by_reason_once() {
    let server = TestServer::start().await;
    let line = "engage_bot_interactions_total{reason=\"user_agent\"}";
    assert!(
        server.metrics().await.contains(&format!("{line} 0")),
        "shown at zero before any bot came"
    );
    visit(&server, CHROME_ON_WINDOWS, "person").await;
    visit(&server, GOOGLEBOT, "crawler").await;
    visit(&server, HEADLESS_CHROME, "headless").await;
    // The crawler's batch again (a retry): its items are duplicates, nothing new begins.
    let again = visit(&server, GOOGLEBOT, "crawler").await;
    assert_eq!(again["duplicates"], 2, "{again}");
    let text = server.metrics().await;
    assert!(text.contains(&format!("{line} 2")), "{text}");
}

#[tokio::test]
async fn a_person_answering_before_the_offer_could_be_read_is_flagged_and_counted() {
    let server = TestServer::start().await;
    let line = "engage_bot_interactions_total{reason=\"behaviour\"}";
    assert!(server.metrics().await.contains(&format!("{line} 0")));
    // `start_event` gives every event the same page time: shown and clicked at once.
    let mut click = start_event("fast-click", "OFFER_CLICK", "fast", 3);
    click["time"] = json!(T + 20);
    let body = json!({
        "visitorId": "visitor-fast", "sessionId": "session-fast", "pageId": "page-1",
        "events": [
            start_event("fast-start", "START", "fast", 3),
            start_event("fast-display", "OFFER_DISPLAY", "fast", 3),
            click,
        ],
        "sdes": [],
    });
    for _ in 0..2 {
        let response = server
            .client
            .post(server.events_url())
            .header("user-agent", CHROME_ON_WINDOWS)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    visit(&server, CHROME_ON_WINDOWS, "person").await;

    assert_eq!(ids(&server, json!({})).await, ["person"]);
    assert_eq!(
        ids(&server, json!({"includeBots": true})).await,
        ["fast", "person"]
    );
    let text = server.metrics().await;
    assert!(
        text.contains(&format!("{line} 1")),
        "once, not for the retry: {text}"
    );
}
