//! `GET|PUT /api/account/{accountId}/origins`: which origins' pages may post to the
//! account, and the collect and decision routes keeping to it, over real HTTP.

// Tests: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::admin_support::error_paths;
use crate::common;

use common::{batch, start_event, TestServer};
use engage_store::ExportKind;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn origins_url(server: &TestServer) -> String {
    format!("{}/api/account/{}/origins", server.url, server.account_id)
}

async fn put_origins(server: &TestServer, body: Value) -> (StatusCode, Value) {
    let response = server
        .client
        .put(origins_url(server))
        .bearer_auth(&server.api_key)
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

/// A collect POST from a page on `origin`; the status and the CORS header it got.
async fn post_from(server: &TestServer, origin: &str, id: &str) -> (StatusCode, Option<String>) {
    let response = server
        .client
        .post(server.events_url())
        .header("origin", origin)
        .json(&batch(vec![start_event(id, "START", id, 1)], vec![]))
        .send()
        .await
        .unwrap();
    let allow = response
        .headers()
        .get("access-control-allow-origin")
        .map(|v| v.to_str().unwrap().to_owned());
    (response.status(), allow)
}

#[tokio::test]
async fn every_origin_may_post_until_the_account_names_its_own() {
    let server = TestServer::start().await;
    let listed: Value = server.get_json(&origins_url(&server)).await;
    assert_eq!(listed, json!({"allowedOrigins": []}));
    assert_eq!(
        post_from(&server, "https://anywhere.example", "e0").await,
        (StatusCode::OK, Some("https://anywhere.example".into()))
    );

    let (status, answer) = put_origins(
        &server,
        json!({"allowedOrigins": ["https://shop.example", "http://localhost:3000", "https://shop.example"]}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer,
        json!({"allowedOrigins": ["https://shop.example", "http://localhost:3000"]}),
        "duplicates are dropped"
    );

    assert_eq!(
        post_from(&server, "https://shop.example", "e1").await,
        (StatusCode::OK, Some("https://shop.example".into()))
    );
    let (status, _) = post_from(&server, "https://evil.example", "e2").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The preflight says no the same way, and so does the decision route.
    let preflight = server
        .preflight(&server.events_url(), "https://evil.example")
        .await;
    assert_eq!(preflight.status(), StatusCode::FORBIDDEN);
    assert!(preflight
        .headers()
        .get("access-control-allow-origin")
        .is_none());
    let decision = server
        .client
        .post(format!(
            "{}/api/account/{}/decision",
            server.url, server.account_id
        ))
        .header("origin", "https://evil.example")
        .body(r#"{"visitorId":"v","sessionId":"s","pageId":"p","url":"https://evil.example/"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(decision.status(), StatusCode::FORBIDDEN);
    let body: Value = decision.json().await.unwrap();
    assert_eq!(body["code"], "origin_not_allowed");
    // A server posting without an Origin header is not a page: it is not refused.
    let (status, _) = server
        .post_events(&batch(vec![start_event("e3", "START", "e3", 1)], vec![]))
        .await;
    assert_eq!(status, 200);

    let stored: Vec<String> = server
        .export(ExportKind::Events)
        .await
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        stored,
        ["e0", "e1", "e3"],
        "nothing from the refused origin"
    );

    // An empty list opens the account to every origin again.
    let (status, _) = put_origins(&server, json!({"allowedOrigins": []})).await;
    assert_eq!(status, 200);
    assert_eq!(
        post_from(&server, "https://evil.example", "e4").await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn origins_that_are_not_what_browsers_send_are_refused_with_their_places() {
    let server = TestServer::start().await;
    let (status, answer) = put_origins(
        &server,
        json!({"allowedOrigins": ["https://shop.example", "shop.example", "https://shop.example/cart", 7]}),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    let paths = error_paths(&answer);
    assert_eq!(
        paths,
        [
            "/allowedOrigins/1",
            "/allowedOrigins/2",
            "/allowedOrigins/3"
        ]
    );
    let (status, answer) = put_origins(&server, json!({"origins": []})).await;
    assert_eq!(status, 400, "{answer}");
    // Nothing changed.
    assert_eq!(
        post_from(&server, "https://anywhere.example", "e1").await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn origins_need_the_accounts_own_key() {
    let server = TestServer::start().await;
    let other = server.other_account_key().await;
    for (key, expected) in [
        (None, StatusCode::UNAUTHORIZED),
        (Some("ek_wrong".to_owned()), StatusCode::UNAUTHORIZED),
        (Some(other), StatusCode::FORBIDDEN),
    ] {
        for method in [Method::GET, Method::PUT] {
            let mut request = server
                .client
                .request(method.clone(), origins_url(&server))
                .json(&json!({"allowedOrigins": ["https://evil.example"]}));
            if let Some(key) = &key {
                request = request.bearer_auth(key);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), expected, "{method} with {key:?}");
        }
    }
    assert_eq!(
        post_from(&server, "https://anywhere.example", "e1").await.0,
        StatusCode::OK,
        "nothing changed"
    );
}

#[tokio::test]
async fn the_monitoring_api_keeps_to_the_allowed_origins_too() {
    let server = TestServer::start().await;
    let app = crate::admin_support::app(&server).await;
    let (status, _) =
        put_origins(&server, json!({"allowedOrigins": ["https://shop.example"]})).await;
    assert_eq!(status, StatusCode::OK);
    let url = format!(
        "{}/api/account/{}/app/{app}/engagement?v=1.1",
        server.url, server.account_id
    );
    let body = json!({"entryPoints": ["https://shop.example/cart"],
                      "engagementAttributes": [{"type": "cart", "total": 11.7}]});
    let call = |origin: Option<&'static str>| {
        let mut request = server.client.post(&url).json(&body);
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send()
    };
    // A page on another origin (a simple request needs no preflight): refused in the
    // API's error shape, nothing stored.
    let refused = call(Some("https://evil.example")).await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let answer: Value = refused.json().await.unwrap();
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("https://evil.example"),
        "{answer}"
    );
    assert!(answer["internalCode"].is_u64(), "{answer}");
    assert!(server.export(ExportKind::Sdes).await.is_empty());
    // An app or a server sends no Origin; a listed page may call it.
    assert_eq!(call(None).await.unwrap().status(), StatusCode::CREATED);
    assert_eq!(
        call(Some("https://shop.example")).await.unwrap().status(),
        StatusCode::CREATED
    );
    assert_eq!(server.export(ExportKind::Sdes).await.len(), 2);
}
