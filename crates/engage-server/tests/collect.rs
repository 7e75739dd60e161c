//! `POST /api/account/{accountId}/events`, over real HTTP against a real store.

// Tests: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::admin_support::error_paths;
use crate::common;

use std::io::Write;

use common::{batch, cart, sde_item, start_event, TestServer};
use engage_server::Limits;
use engage_store::ExportKind;
use serde_json::{json, Value};

#[tokio::test]
async fn collect_stores_events_and_sdes_and_answers_with_counts() {
    let server = TestServer::start().await;
    let body = batch(
        vec![
            start_event("e1", "START", "1", 3),
            start_event("e2", "OFFER_DISPLAY", "1", 3),
        ],
        vec![sde_item("s1", cart(11))],
    );
    let (status, answer) = server.post_events(&body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer,
        json!({"accepted": 3, "duplicates": 0, "rejected": []})
    );

    let events = server.export(ExportKind::Events).await;
    let ids: Vec<_> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["e1", "e2"]);
    assert_eq!(events[0]["eventName"], "START");
    assert_eq!(events[0]["data"]["confKey"], "210599710_210600710_18");
    assert_eq!(events[0]["visitorId"], "visitor-1");
    let sdes = server.export(ExportKind::Sdes).await;
    assert_eq!(sdes.len(), 1);
    assert_eq!(sdes[0]["sde"]["cartStatus"]["total"], "11");
    assert_eq!(
        sdes[0]["sde"]["cartStatus"]["originalTimeStamp"],
        "1700000000500"
    );
}

#[tokio::test]
async fn collect_rejects_engagement_type_4_and_keeps_the_rest_of_the_batch() {
    let server = TestServer::start().await;
    let body = batch(
        vec![
            start_event("e1", "START", "1", 3),
            start_event("e2", "START", "2", 4),
        ],
        vec![
            sde_item(
                "s1",
                json!({"type": "ctmrinfo", "info": {"lastPaymentDate": {"day": 30, "month": 2, "year": 2014}}}),
            ),
            sde_item("s2", cart(5)),
        ],
    );
    let (status, answer) = server.post_events(&body).await;
    assert_eq!(status, 200);
    assert_eq!(answer["accepted"], 2);
    assert_eq!(
        answer["rejected"],
        json!([
            {"kind": "event", "index": 1, "errors": [{"path": "/events/1/data/engagementType", "message": "expected an engagement type 0, 1, 2, 3, 5 or 6 (peeling corner, overlay, toaster, slide-out, embedded, sticky), found 4"}]},
            {"kind": "sde", "index": 0, "errors": [{"path": "/sdes/0/sde/info/lastPaymentDate", "message": "2014-02-30 is not a calendar date"}]}
        ])
    );
    let quarantine = server.export(ExportKind::Quarantine).await;
    assert_eq!(quarantine.len(), 2);
    assert_eq!(quarantine[0]["kind"], "event");
    assert_eq!(quarantine[0]["clientId"], "e2");
    let raw: Value = serde_json::from_str(quarantine[0]["raw"].as_str().unwrap()).unwrap();
    assert_eq!(raw["data"]["engagementType"], 4);
    assert_eq!(quarantine[0]["context"]["sessionId"], "session-1");
    assert_eq!(server.export(ExportKind::Events).await.len(), 1);
    assert_eq!(server.export(ExportKind::Sdes).await.len(), 1);
}

#[tokio::test]
async fn a_retried_batch_stores_nothing_twice_and_reports_duplicates() {
    let server = TestServer::start().await;
    let body = batch(
        vec![start_event("e1", "START", "1", 3)],
        vec![sde_item("s1", cart(1))],
    );
    assert_eq!(server.post_events(&body).await.1["accepted"], 2);
    let (status, again) = server.post_events(&body).await;
    assert_eq!(status, 200);
    assert_eq!(
        again,
        json!({"accepted": 0, "duplicates": 2, "rejected": []})
    );
    // Concurrent retries of a new batch: still exactly once.
    let body = batch(vec![start_event("e9", "START", "9", 3)], vec![]);
    let answers = futures_join(&server, &body, 8).await;
    let accepted: u64 = answers
        .iter()
        .map(|a| a["accepted"].as_u64().unwrap())
        .sum();
    let duplicates: u64 = answers
        .iter()
        .map(|a| a["duplicates"].as_u64().unwrap())
        .sum();
    assert_eq!((accepted, duplicates), (1, 7));
    assert_eq!(server.export(ExportKind::Events).await.len(), 2);
}

async fn futures_join(server: &TestServer, body: &Value, n: usize) -> Vec<Value> {
    let mut handles = Vec::new();
    for _ in 0..n {
        let (client, url, body) = (server.client.clone(), server.events_url(), body.clone());
        handles.push(tokio::spawn(async move {
            client
                .post(url)
                .json(&body)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }));
    }
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test]
async fn collect_takes_text_plain_as_sendbeacon_sends_it() {
    let server = TestServer::start().await;
    let body = batch(vec![start_event("e1", "START", "1", 0)], vec![]);
    let response = server
        .client
        .post(server.events_url())
        .header("content-type", "text/plain;charset=UTF-8")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["accepted"], 1);
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[tokio::test]
async fn collect_takes_gzip_bodies_and_refuses_ones_that_expand_too_far() {
    let server = TestServer::with_limits(Limits {
        max_decompressed_bytes: 64 * 1024,
        ..Limits::default()
    })
    .await;
    let body = batch(
        vec![start_event("e1", "START", "1", 1)],
        vec![sde_item("s1", cart(3))],
    );
    let response = server
        .client
        .post(server.events_url())
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(gzip(body.to_string().as_bytes()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["accepted"], 2);

    let mut padded = body.to_string();
    padded.push_str(&" ".repeat(100 * 1024));
    let response = server
        .client
        .post(server.events_url())
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(gzip(padded.as_bytes()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(
        response.json::<Value>().await.unwrap()["code"],
        "body_too_large"
    );
}

#[tokio::test]
async fn limits_answer_413_415_and_400_with_the_json_error_body() {
    let server = TestServer::with_limits(Limits {
        max_body_bytes: 32 * 1024,
        max_batch_items: 10,
        ..Limits::default()
    })
    .await;
    // Too large a body.
    let big = batch(
        vec![],
        vec![sde_item(
            "s1",
            json!({"type": "searchInfo", "keywords": ["x".repeat(40_000)]}),
        )],
    );
    let response = server
        .client
        .post(server.events_url())
        .json(&big)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["code"], "body_too_large");
    assert_eq!(error["message"], "request body is larger than 32768 bytes");
    // Too many items.
    let events = (0..11)
        .map(|i| start_event(&format!("e{i}"), "START", "1", 1))
        .collect();
    let (status, error) = server.post_events(&batch(events, vec![])).await;
    assert_eq!(status, 413);
    assert_eq!(error["code"], "batch_too_large");
    // Wrong content type.
    let response = server
        .client
        .post(server.events_url())
        .header("content-type", "application/x-www-form-urlencoded")
        .body("a=b")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    assert_eq!(
        response.json::<Value>().await.unwrap()["code"],
        "unsupported_media_type"
    );
    // Malformed JSON: 400, and the body is kept in the quarantine.
    let response = server
        .client
        .post(server.events_url())
        .header("content-type", "application/json")
        .body("{\"visitorId\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.json::<Value>().await.unwrap()["code"],
        "malformed_json"
    );
    let quarantine = server.export(ExportKind::Quarantine).await;
    assert_eq!(quarantine.len(), 1);
    assert_eq!(quarantine[0]["kind"], "body");
    assert_eq!(quarantine[0]["raw"], "{\"visitorId\": ");
}

#[tokio::test]
async fn an_invalid_envelope_is_400_with_every_pointer_and_is_quarantined() {
    let server = TestServer::start().await;
    let body = json!({"visitorId": "", "pageId": 7, "events": {}, "extra": 1});
    let (status, error) = server.post_events(&body).await;
    assert_eq!(status, 400);
    assert_eq!(error["code"], "invalid_request");
    let paths = error_paths(&error);
    assert_eq!(paths, ["/extra", "/visitorId", "/sessionId", "/events"]);
    assert_eq!(server.export(ExportKind::Quarantine).await.len(), 1);
}

#[tokio::test]
async fn a_value_over_50000_characters_is_rejected_and_the_rest_kept() {
    let server = TestServer::start().await;
    let long = "é".repeat(50_001);
    let body = batch(
        vec![],
        vec![
            sde_item("s1", json!({"type": "lead", "lead": {"topic": long}})),
            sde_item(
                "s2",
                json!({"type": "lead", "lead": {"topic": "é".repeat(50_000)}}),
            ),
        ],
    );
    let (status, answer) = server.post_events(&body).await;
    assert_eq!(status, 200);
    assert_eq!(answer["accepted"], 1);
    assert_eq!(
        answer["rejected"][0]["errors"][0]["path"],
        "/sdes/0/sde/lead/topic"
    );
}

#[tokio::test]
async fn an_unknown_account_is_a_404_with_the_json_error_body() {
    let server = TestServer::start().await;
    let response = server
        .client
        .post(format!("{}/api/account/999999999/events", server.url))
        .json(&batch(vec![], vec![]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let error: Value = response.json().await.unwrap();
    assert_eq!(
        error,
        json!({"code": "unknown_account", "message": "unknown account `999999999`"})
    );
}

#[tokio::test]
async fn the_tag_on_another_origin_gets_cors_answers() {
    let server = TestServer::start().await;
    server
        .assert_preflight_allows(&server.events_url(), "https://shop.example")
        .await;
    let response = server
        .client
        .post(server.events_url())
        .header("origin", "https://shop.example")
        .json(&batch(vec![start_event("e1", "START", "1", 1)], vec![]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://shop.example"
    );
    // So that the tag can read how long a 429 or 503 asks it to wait.
    assert_eq!(
        response.headers()["access-control-expose-headers"],
        "Retry-After"
    );
}

#[tokio::test]
async fn a_visit_keeps_its_sde_state_by_the_merge_append_replace_rule() {
    let server = TestServer::start().await;
    let first = batch(
        vec![],
        vec![
            sde_item("s1", cart(10)),
            sde_item(
                "s2",
                json!({"type": "ctmrinfo", "info": {"ctype": "vip", "customerId": "C1"}}),
            ),
            sde_item(
                "s3",
                json!({"type": "prodView", "products": [{"product": {"sku": "a"}}]}),
            ),
        ],
    );
    server.post_events(&first).await;
    let second = batch(
        vec![],
        vec![
            sde_item("s4", cart(20)),
            sde_item("s5", json!({"type": "ctmrinfo", "info": {"balance": 5}})),
            sde_item(
                "s6",
                json!({"type": "prodView", "products": [{"product": {"sku": "b"}}]}),
            ),
        ],
    );
    server.post_events(&second).await;
    let visit = server
        .store
        .visit(&server.account_id, "session-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(visit.visitor_id, "visitor-1");
    assert_eq!(
        visit.sdes.cart.as_ref().unwrap().total.text_value(),
        Some("20")
    );
    let info = visit.sdes.customer_info.as_ref().unwrap();
    assert_eq!(info.customer_type.text_value(), Some("vip"));
    assert_eq!(info.balance.text_value(), Some("5"));
    assert_eq!(visit.sdes.viewed_products.len(), 2);
    // Every single report is kept too.
    assert_eq!(server.export(ExportKind::Sdes).await.len(), 6);
}

#[tokio::test]
async fn a_slow_client_is_cut_off_with_408() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = TestServer::with_limits(Limits {
        body_timeout: std::time::Duration::from_millis(300),
        ..Limits::default()
    })
    .await;
    let address = server.url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST /api/account/{}/events HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{{\"visitorId\":",
        server.account_id
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 1024];
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), stream.read(&mut answer))
        .await
        .expect("the server must answer a stalled body")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
}

#[tokio::test]
async fn healthz_and_metrics_report() {
    let server = TestServer::start().await;
    let response = server
        .client
        .get(format!("{}/healthz", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    server
        .post_events(&batch(
            vec![
                start_event("e1", "START", "1", 1),
                start_event("e2", "START", "2", 4),
            ],
            vec![],
        ))
        .await;
    server
        .post_events(&batch(vec![start_event("e1", "START", "1", 1)], vec![]))
        .await;
    let text = server.metrics().await;
    assert!(text.contains("engage_items_accepted_total 1\n"), "{text}");
    assert!(text.contains("engage_items_duplicate_total 1\n"), "{text}");
    assert!(text.contains("engage_items_rejected_total 1\n"), "{text}");
    assert!(
        text.contains("engage_http_requests_total{route=\"collect\",status=\"200\"} 2"),
        "{text}"
    );
    assert!(
        text.contains("engage_ingest_commit_seconds_count 2"),
        "{text}"
    );
}

#[tokio::test]
async fn shutdown_finishes_in_flight_batches_before_closing_the_store() {
    let mut server = TestServer::start().await;
    let mut handles = Vec::new();
    for i in 0..40 {
        let (client, url) = (server.client.clone(), server.events_url());
        let body = batch(vec![start_event(&format!("e{i}"), "START", "1", 1)], vec![]);
        handles.push(tokio::spawn(async move {
            client
                .post(url)
                .json(&body)
                .send()
                .await
                .map(|r| r.status().as_u16())
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    server.shutdown().await;
    let mut acknowledged = 0;
    for h in handles {
        if let Ok(200) = h.await.unwrap() {
            acknowledged += 1;
        }
    }
    // The store is closed now; reopen the same file and count.
    let reopened = engage_store::open(&format!("sqlite://{}", server_db_path(&server)))
        .await
        .unwrap();
    let stored = reopened
        .count(&server.account_id, ExportKind::Events)
        .await
        .unwrap();
    assert!(
        stored >= acknowledged,
        "stored {stored} < acknowledged {acknowledged}"
    );
}

fn server_db_path(server: &TestServer) -> String {
    server.db_path()
}

#[tokio::test]
async fn a_batch_naming_another_visitors_session_is_409_and_its_context_ids_stay_apart() {
    let server = TestServer::start().await;
    let (status, _) = server
        .post_events(&batch(
            vec![start_event("e1", "START", "1", 3)],
            vec![sde_item("s1", cart(11))],
        ))
        .await;
    assert_eq!(status, 200);

    // visitor-2 names visitor-1's session: its attributes must not drive visitor-1's
    // targeting, its events must not join visitor-1's interaction "1".
    let mut intruder = batch(
        vec![start_event("e2", "OFFER_CLICK", "1", 3)],
        vec![sde_item("s2", cart(99))],
    );
    intruder["visitorId"] = json!("visitor-2");
    let (status, answer) = server.post_events(&intruder).await;
    assert_eq!(status, 409, "{answer}");
    assert_eq!(
        answer,
        json!({
            "code": "identity_conflict",
            "message": "session `session-1` belongs to another visitor: start a new session for visitor `visitor-2`",
            "errors": [{"path": "/sessionId", "message": "session `session-1` belongs to another visitor: start a new session for visitor `visitor-2`"}]
        })
    );
    assert_eq!(server.export(ExportKind::Events).await.len(), 1);
    assert_eq!(server.export(ExportKind::Sdes).await.len(), 1);

    // In a session of its own, the same page id and context id "1" are visitor-2's own.
    intruder["sessionId"] = json!("session-2");
    let (status, answer) = server.post_events(&intruder).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["accepted"], 2);
    let visit = server
        .store
        .visit(&server.account_id, "session-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(visit.visitor_id, "visitor-1");
    assert_eq!(
        visit.sdes.cart.as_ref().unwrap().total.text_value(),
        Some("11")
    );
    let events = server.export(ExportKind::Events).await;
    let visitors: Vec<_> = events
        .iter()
        .map(|e| (e["visitorId"].clone(), e["sessionId"].clone()))
        .collect();
    assert_eq!(
        visitors,
        [
            (json!("visitor-1"), json!("session-1")),
            (json!("visitor-2"), json!("session-2"))
        ]
    );
}
