//! Admin API calls for the integration tests: apps, campaigns, engagements, decisions.
#![allow(dead_code)]

use serde_json::{json, Value};

use crate::common::TestServer;

pub fn account_url(server: &TestServer, path: &str) -> String {
    format!("{}/api/account/{}{path}", server.url, server.account_id)
}

/// The `path` of each of an error's `errors`, in order.
pub fn error_paths(error: &Value) -> Vec<&str> {
    error["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors in {error}"))
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect()
}

/// Sends an admin request with the account's key; answers the status and the JSON body.
pub async fn admin(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut request = server
        .client
        .request(method, account_url(server, path))
        .bearer_auth(&server.api_key);
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub async fn post(server: &TestServer, path: &str, body: &Value) -> (u16, Value) {
    admin(server, reqwest::Method::POST, path, Some(body)).await
}

pub async fn put(server: &TestServer, path: &str, body: &Value) -> (u16, Value) {
    admin(server, reqwest::Method::PUT, path, Some(body)).await
}

pub async fn get(server: &TestServer, path: &str) -> (u16, Value) {
    admin(server, reqwest::Method::GET, path, None).await
}

/// A new app installation's id.
pub async fn app(server: &TestServer) -> String {
    let (status, app) = post(server, "/apps", &json!({"name": "Android app"})).await;
    assert_eq!(status, 201, "{app}");
    app["appInstallationId"].as_str().unwrap().to_owned()
}

/// A new campaign's id.
pub async fn campaign(server: &TestServer, name: &str, priority: u64) -> u64 {
    let (status, campaign) = post(
        server,
        "/campaigns",
        &json!({"name": name, "priority": priority}),
    )
    .await;
    assert_eq!(status, 201, "{campaign}");
    campaign["campaignId"].as_u64().unwrap()
}

/// A new engagement in `campaign_id`; answers its JSON.
pub async fn engagement(server: &TestServer, campaign_id: u64, body: &Value) -> Value {
    let (status, engagement) = post(
        server,
        &format!("/campaigns/{campaign_id}/engagements"),
        body,
    )
    .await;
    assert_eq!(status, 201, "{engagement}");
    engagement
}

/// Asks the decision route; answers the status and body.
pub async fn decide(server: &TestServer, body: &Value) -> (u16, Value) {
    let response = server
        .client
        .post(account_url(server, "/decision"))
        .header("content-type", "text/plain")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A page view's decision body.
pub fn page(visitor: &str, url: &str, sections: &[&str], sdes: Value) -> Value {
    json!({"visitorId": visitor, "sessionId": format!("{visitor}-session"), "pageId": "p-1",
           "url": url, "sections": sections, "sdes": sdes})
}

/// The engagement ids a decision answered, in order.
pub fn shown_ids(decision: &Value) -> Vec<u64> {
    decision["engagements"]
        .as_array()
        .unwrap_or_else(|| panic!("no engagements in {decision}"))
        .iter()
        .map(|e| e["engagementId"].as_u64().unwrap())
        .collect()
}

/// An `OFFER_IMPRESSION` of an engagement (as returned by the admin API) in a context.
pub fn impression(id: &str, engagement: &Value, context: &str) -> Value {
    json!({
        "id": id, "time": 1_700_000_000_000u64, "appName": "LP_OFFERS", "eventName": "OFFER_IMPRESSION",
        "data": {
            "contexts": [{"EngagementContext": {"id": context}}, {"pageContext": {"id": "p-1"}}],
            "campaignId": engagement["campaignId"], "engagementId": engagement["engagementId"],
            "engagementRevision": engagement["engagementRevision"],
            "engagementType": engagement["engagementType"], "contextId": context,
            "confKey": engagement["confKey"]
        }
    })
}

/// A number not handed out before in this test process, for client ids.
pub fn next_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Posts a collect batch for a visit; answers the collect route's body.
pub async fn collect(
    server: &TestServer,
    visitor: &str,
    session: &str,
    events: Vec<Value>,
    sdes: Vec<Value>,
) -> Value {
    let sdes: Vec<Value> = sdes
        .into_iter()
        .enumerate()
        .map(|(i, sde)| json!({"id": format!("{session}-sde-{}-{i}", next_id()), "sde": sde}))
        .collect();
    let (status, answer) = server
        .post_events(&json!({
            "visitorId": visitor, "sessionId": session, "pageId": format!("{session}-page"),
            "events": events, "sdes": sdes,
        }))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["rejected"], json!([]), "{answer}");
    answer
}
