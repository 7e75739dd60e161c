//! Access and erasure through HTTP: `GET|DELETE /api/account/{id}/visitors/{visitorId}`,
//! `DELETE /api/account/{id}/customers/{customerId}` and the erasure log.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{batch, sde_item, start_event, TestServer};

/// A visit of `visitor` that says it is `customer`, with one event and a quarantined SDE.
async fn visit(server: &TestServer, visitor: &str, customer: &str) {
    let mut body = batch(
        vec![start_event(
            &format!("{visitor}-e1"),
            "START",
            &format!("{visitor}-ctx"),
            1,
        )],
        vec![
            sde_item(
                &format!("{visitor}-s1"),
                json!({"type": "ctmrinfo", "info": {"customerId": customer, "userName": format!("{visitor}-name")}}),
            ),
            sde_item(
                &format!("{visitor}-s2"),
                json!({"type": "ctmrinfo", "info": {"notAField": 12}}),
            ),
        ],
    );
    body["visitorId"] = json!(visitor);
    body["sessionId"] = json!(format!("{visitor}-session"));
    body["pageId"] = json!(format!("{visitor}-page"));
    let (status, answer) = server.post_events(&body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["accepted"], 2, "{answer}");
}

async fn call(server: &TestServer, method: Method, path: &str) -> (u16, Value) {
    let response = server
        .client
        .request(
            method,
            format!("{}/api/account/{}{path}", server.url, server.account_id),
        )
        .bearer_auth(&server.api_key)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn access_answers_a_visitors_visits_events_attributes_and_quarantined_input() {
    let server = TestServer::start().await;
    visit(&server, "ada", "cust-1").await;
    visit(&server, "ben", "cust-2").await;
    let (status, data) = call(&server, Method::GET, "/visitors/ada").await;
    assert_eq!(status, 200, "{data}");
    assert_eq!(data["visitorId"], "ada");
    assert_eq!(data["visits"][0]["sessionId"], "ada-session");
    assert_eq!(
        data["visits"][0]["pages"][0]["url"],
        "https://shop.example/cart"
    );
    assert_eq!(data["events"][0]["id"], "ada-e1");
    assert_eq!(
        data["attributes"][0]["sde"]["customerInfo"]["customerInfo"]["customerId"],
        "cust-1"
    );
    assert_eq!(data["quarantined"].as_array().unwrap().len(), 1, "{data}");
    assert!(!data.to_string().contains("ben"), "{data}");

    let (status, answer) = call(&server, Method::GET, "/visitors/nobody").await;
    assert_eq!(status, 404, "{answer}");
    let long = "x".repeat(129);
    let (status, answer) = call(&server, Method::GET, &format!("/visitors/{long}")).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["errors"][0]["path"], "/visitorId");
}

#[tokio::test]
async fn erasing_a_customer_answers_counts_and_leaves_only_a_log_line_without_ids() {
    let server = TestServer::start().await;
    visit(&server, "ada", "cust-1").await;
    visit(&server, "ada-again", "cust-1").await;
    visit(&server, "ben", "cust-2").await;
    let (status, answer) = call(&server, Method::DELETE, "/customers/cust-1").await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer,
        json!({"removed": {"visitors": 2, "visits": 2, "pages": 2, "interactions": 2,
            "events": 2, "attributes": 2, "identities": 0, "exposures": 0, "quarantined": 2,
            "webhookDeliveries": 0, "rollups": 4}}),
        "rollups: each visitor's monitored hour and its batch's packed step row"
    );
    for gone in ["ada", "ada-again"] {
        let (status, _) = call(&server, Method::GET, &format!("/visitors/{gone}")).await;
        assert_eq!(status, 404, "{gone}");
    }
    let (status, _) = call(&server, Method::GET, "/visitors/ben").await;
    assert_eq!(status, 200);

    let (status, answer) = call(&server, Method::DELETE, "/visitors/ben").await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["removed"]["visitors"], 1);
    let (status, log) = call(&server, Method::GET, "/erasures").await;
    assert_eq!(status, 200, "{log}");
    let entries = log["erasures"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{log}");
    assert_eq!(entries[0]["target"], "visitor");
    assert_eq!(entries[1]["target"], "customer");
    assert_eq!(entries[1]["removed"]["visitors"], 2);
    let text = log.to_string();
    for id in ["ada", "ben", "cust-1"] {
        assert!(!text.contains(id), "the log names {id}: {text}");
    }
    let (status, log) = call(&server, Method::GET, "/erasures?limit=1").await;
    assert_eq!(
        (status, log["erasures"].as_array().unwrap().len()),
        (200, 1)
    );
    for bad in ["?limit=0", "?limit=1001", "?limit=x", "?after=3"] {
        let (status, answer) = call(&server, Method::GET, &format!("/erasures{bad}")).await;
        assert_eq!(status, 400, "{bad}: {answer}");
    }
    let metrics = server.metrics().await;
    assert!(metrics.contains("engage_erasures_total 2\n"), "{metrics}");
    assert!(
        metrics.contains("engage_erased_rows_total{kind=\"attributes\"} 3\n"),
        "{metrics}"
    );
}
