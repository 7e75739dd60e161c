//! The rate limits of the public routes: per client address (behind a trusted proxy, the
//! address `X-Forwarded-For` names) and per account; 429 with `Retry-After`, nothing of
//! a refused request stored, a counter in `/metrics`.

use engage_server::rate_limit::{Rate, RateLimitConfig};
use engage_server::Limits;
use engage_store::ExportKind;
use reqwest::StatusCode;
use serde_json::Value;

use crate::common::{batch, start_event, TestServer};

fn slow(per_second: u32, burst: u32) -> Rate {
    Rate { per_second, burst }
}

async fn server(config: RateLimitConfig) -> TestServer {
    TestServer::configured(Limits::default(), move |state| {
        state.with_rate_limits(&config)
    })
    .await
}

/// Asks for a decision (cheap: nothing is written, so a test's requests fall well within
/// one second of each other), as if from `forwarded_for` when given.
async fn decide(server: &TestServer, forwarded_for: Option<&str>) -> StatusCode {
    let mut request = server
        .client
        .post(format!(
            "{}/api/account/{}/decision",
            server.url, server.account_id
        ))
        .body(r#"{"visitorId":"v","sessionId":"s"}"#);
    if let Some(address) = forwarded_for {
        request = request.header("x-forwarded-for", address);
    }
    request.send().await.unwrap().status()
}

/// Posts a batch with one new event (`id`), as if from `forwarded_for` when given.
async fn post(server: &TestServer, id: &str, forwarded_for: Option<&str>) -> reqwest::Response {
    let mut request = server
        .client
        .post(server.events_url())
        .json(&batch(vec![start_event(id, "START", id, 1)], vec![]));
    if let Some(address) = forwarded_for {
        request = request.header("x-forwarded-for", address);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn a_client_over_its_rate_is_answered_429_with_retry_after_and_nothing_is_stored() {
    let server = server(RateLimitConfig {
        per_ip: slow(1, 2),
        ..RateLimitConfig::off()
    })
    .await;
    assert_eq!(decide(&server, None).await, StatusCode::OK);
    assert_eq!(decide(&server, None).await, StatusCode::OK);
    let refused = post(&server, "e3", None).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry_after), "Retry-After: {retry_after}");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
    let stored = server.export(ExportKind::Events).await;
    assert!(stored.is_empty(), "{stored:?}");
    let text = server.metrics().await;
    assert!(
        text.contains("engage_rate_limited_total{scope=\"ip\"} 1\n"),
        "{text}"
    );
    assert_eq!(decide(&server, None).await, StatusCode::TOO_MANY_REQUESTS);
    // A page on another origin can read the refusal and how long to wait.
    let from_page = server
        .client
        .post(server.events_url())
        .header("origin", "https://shop.example")
        .json(&batch(vec![start_event("e4", "START", "e4", 1)], vec![]))
        .send()
        .await
        .unwrap();
    assert_eq!(from_page.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        from_page.headers()["access-control-allow-origin"],
        "https://shop.example"
    );
    assert_eq!(
        from_page.headers()["access-control-expose-headers"],
        "Retry-After"
    );
    // Routes that are not public are not limited.
    let health = server
        .client
        .get(format!("{}/healthz", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
}

#[tokio::test]
async fn forwarded_for_tells_clients_apart_only_when_the_peer_is_a_trusted_proxy() {
    let config = RateLimitConfig {
        per_ip: slow(1, 2),
        ..RateLimitConfig::off()
    };
    let behind_proxy = server(RateLimitConfig {
        trusted_proxies: vec!["127.0.0.0/8".parse().unwrap()],
        ..config.clone()
    })
    .await;
    for (id, client) in [
        ("a1", "203.0.113.1"),
        ("a2", "203.0.113.1"),
        ("b1", "203.0.113.2"),
        ("b2", "198.51.100.9, 203.0.113.2"),
    ] {
        let status = post(&behind_proxy, id, Some(client)).await.status();
        assert_eq!(status, StatusCode::OK, "{id} from {client}");
    }
    let status = post(&behind_proxy, "a3", Some("203.0.113.1"))
        .await
        .status();
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);

    // Without the flag, the header is the client's word and counts for nothing: every
    // request is the peer's.
    let direct = server(config).await;
    for client in ["203.0.113.1", "203.0.113.2"] {
        assert_eq!(decide(&direct, Some(client)).await, StatusCode::OK);
    }
    let status = decide(&direct, Some("203.0.113.3")).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn an_account_over_its_rate_is_refused_whichever_client_asks() {
    let server = server(RateLimitConfig {
        per_account: slow(1, 2),
        trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()],
        ..RateLimitConfig::off()
    })
    .await;
    assert_eq!(
        post(&server, "e1", Some("192.0.2.1")).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        post(&server, "e2", Some("192.0.2.2")).await.status(),
        StatusCode::OK
    );
    let refused = post(&server, "e3", Some("192.0.2.3")).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(server.export(ExportKind::Events).await.len(), 2);
    assert!(server
        .metrics()
        .await
        .contains("engage_rate_limited_total{scope=\"account\"} 1\n"));

    // The Monitoring API answers in its own error shape.
    let monitoring = server
        .client
        .post(format!(
            "{}/api/account/{}/app/some-app/engagement?v=1.1",
            server.url, server.account_id
        ))
        .json(&serde_json::json!({"entryPoints": ["https://shop.example/"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(monitoring.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(monitoring.headers().contains_key("retry-after"));
    let body: Value = monitoring.json().await.unwrap();
    assert!(
        body["internalCode"].is_u64() && body["time"].is_i64(),
        "{body}"
    );

    // Ids of no account get no bucket: they cannot fill the table.
    for i in 0..20 {
        let unknown = server
            .client
            .post(format!("{}/api/account/nobody-{i}/events", server.url))
            .json(&batch(vec![], vec![]))
            .send()
            .await
            .unwrap();
        assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    }
    assert_eq!(server.state.rate_limits.tracked(), (0, 1));
}

#[tokio::test]
async fn the_rates_count_items_so_a_large_batch_takes_more_than_a_small_one() {
    let server = server(RateLimitConfig {
        per_ip: slow(1, 5),
        ..RateLimitConfig::off()
    })
    .await;
    let events = |prefix: &str, n: usize| {
        (0..n)
            .map(|i| {
                let id = format!("{prefix}{i}");
                start_event(&id, "START", &id, 1)
            })
            .collect::<Vec<_>>()
    };
    // Four items: four of the five units.
    let response = server
        .client
        .post(server.events_url())
        .json(&batch(events("a", 4), vec![]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // Three more: the request's unit is there, the other two are not.
    let refused = server
        .client
        .post(server.events_url())
        .json(&batch(events("b", 3), vec![]))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key("retry-after"));
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
    let stored = server.export(ExportKind::Events).await;
    assert_eq!(stored.len(), 4, "{stored:?}");
}
