//! Webhooks over real HTTP, delivered to a real local receiver (an axum server on port 0):
//! the admin routes, the signature a receiver can verify, order per visitor, retries
//! that deliver each happening once, disabling and redelivery, the private-address
//! guard, and the bounds on what an account can make the server hold.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use engage_server::secrets::{is_sealed, SecretBox};
use engage_server::webhooks::WebhookConfig;
use engage_server::Limits;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{json, Value};
use sha2::Sha256;

use crate::admin_support::{admin, get, post};
use crate::common::{batch, sde_item, start_event, TestServer};

/// What the receiver got: headers and the body as sent.
#[derive(Debug, Clone)]
struct Received {
    delivery: String,
    event: String,
    signature: String,
    body: String,
    answered: u16,
}

/// A local receiver answering each request with what `answer(n)` says for the n-th
/// (from 0).
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Received>>>,
    _task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start(answer: impl Fn(usize) -> u16 + Send + Sync + 'static) -> Receiver {
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let answer = Arc::new(answer);
        let recorded = got.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let recorded = recorded.clone();
                let answer = answer.clone();
                async move {
                    let mut got = recorded.lock().unwrap();
                    let status = answer(got.len());
                    let header = |name: &str| {
                        headers
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_owned()
                    };
                    got.push(Received {
                        delivery: header("engage-delivery"),
                        event: header("engage-event"),
                        signature: header("engage-signature"),
                        body,
                        answered: status,
                    });
                    StatusCode::from_u16(status).unwrap()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver {
            url,
            got,
            _task: task,
        }
    }

    fn got(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// The requests it answered 2xx.
    fn delivered(&self) -> Vec<Received> {
        self.got()
            .into_iter()
            .filter(|r| (200..300).contains(&r.answered))
            .collect()
    }

    async fn wait_delivered(&self, n: usize) -> Vec<Received> {
        for _ in 0..400 {
            if self.delivered().len() >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        self.delivered()
    }
}

/// A server that may deliver to the loopback receiver, retrying fast, with a secret key
/// to seal the endpoints' secrets with.
async fn server(configure: impl FnOnce(&mut WebhookConfig)) -> TestServer {
    let mut config = WebhookConfig {
        allow_private: true,
        retry_base: Duration::from_millis(100),
        poll: Duration::from_millis(20),
        ..Default::default()
    };
    configure(&mut config);
    TestServer::configured(Limits::default(), |state| {
        state
            .with_webhooks(config)
            .with_secrets(SecretBox::from_key(&[7; 32]))
    })
    .await
}

async fn register(server: &TestServer, url: &str, events: Value) -> (String, String) {
    let (status, created) = post(server, "/webhooks", &json!({"url": url, "events": events})).await;
    assert_eq!(status, 201, "{created}");
    (
        created["webhookId"].as_str().unwrap().to_owned(),
        created["secret"].as_str().unwrap().to_owned(),
    )
}

/// What a receiver does with `Engage-Signature`: recompute and compare.
fn verify(secret: &str, header: &str, body: &str) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = Some(value.to_owned()),
            Some(("v1", value)) => v1 = Some(value.to_owned()),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    if (now - t.parse::<i64>().unwrap()).abs() > 300 {
        return false;
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    mac.verify_slice(&hex::decode(v1).unwrap()).is_ok()
}

fn click(id: &str, context: &str) -> Value {
    start_event(id, "OFFER_CLICK", context, 3)
}

#[tokio::test]
async fn deliveries_are_signed_so_the_receiver_can_verify_them_and_carry_their_id() {
    let receiver = Receiver::start(|_| 200).await;
    let server = server(|_| {}).await;
    let (webhook_id, secret) = register(
        &server,
        &receiver.url,
        json!(["offer.clicked", "lead.submitted", "OFFER_IMPRESSION"]),
    )
    .await;
    let body = batch(
        vec![
            start_event("e-start", "START", "ctx-1", 3),
            click("e-click", "ctx-1"),
        ],
        vec![
            sde_item(
                "s-lead",
                json!({"type": "lead", "lead": {"topic": "Call me", "leadId": "ctx-1"}}),
            ),
            sde_item("s-cart", json!({"type": "cart", "total": 3})),
        ],
    );
    let (status, answer) = server.post_events(&body).await;
    assert_eq!(status, 200, "{answer}");
    let got = receiver.wait_delivered(2).await;
    assert_eq!(got.len(), 2, "{got:?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        receiver.got().len(),
        2,
        "START and the cart are not subscribed"
    );
    for r in &got {
        assert!(verify(&secret, &r.signature, &r.body), "{r:?}");
        assert!(!verify("whsec_wrong", &r.signature, &r.body));
        assert!(!verify(
            &secret,
            &r.signature,
            &r.body.replace("ctx-1", "ctx-2")
        ));
        let payload: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(payload["id"], r.delivery.as_str());
        assert_eq!(payload["event"], r.event.as_str());
        assert_eq!(payload["accountId"], server.account_id.as_str());
        assert_eq!(payload["visitorId"], "visitor-1");
        assert_eq!(payload["sessionId"], "session-1");
    }
    let click = got.iter().find(|r| r.event == "offer.clicked").unwrap();
    let payload: Value = serde_json::from_str(&click.body).unwrap();
    assert_eq!(payload["clientId"], "e-click");
    assert_eq!(payload["data"]["eventName"], "OFFER_CLICK");
    assert_eq!(payload["data"]["data"]["contextId"], "ctx-1");
    let lead = got.iter().find(|r| r.event == "lead.submitted").unwrap();
    let payload: Value = serde_json::from_str(&lead.body).unwrap();
    assert_eq!(payload["data"]["lead"]["lead"]["topic"], "Call me");

    // The log says so.
    let (status, log) = get(&server, &format!("/webhooks/{webhook_id}/deliveries")).await;
    assert_eq!(status, 200, "{log}");
    let log = log["deliveries"].as_array().unwrap();
    assert_eq!(log.len(), 2);
    assert!(log
        .iter()
        .all(|d| d["status"] == "delivered" && d["attempts"] == 1 && d["lastStatus"] == 200));

    // The same batch again (a retry after a lost answer): nothing is delivered twice.
    let (status, again) = server.post_events(&body).await;
    assert_eq!((status, again["duplicates"].as_u64()), (200, Some(4)));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.got().len(), 2);

    // The metrics count them.
    let metrics = server.metrics().await;
    assert!(
        metrics.contains(r#"engage_webhook_attempts_total{outcome="delivered"} 2"#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"engage_webhook_deliveries_queued_total{result="queued"} 2"#));
}

#[tokio::test]
async fn a_receiver_that_fails_three_times_gets_every_delivery_once_in_the_visitors_order() {
    let receiver = Receiver::start(|n| if n < 3 { 503 } else { 200 }).await;
    let server = server(|_| {}).await;
    let (webhook_id, _) = register(&server, &receiver.url, json!(["offer.clicked"])).await;
    // Five clicks of one visitor in three batches.
    for (i, ids) in [vec!["c0", "c1"], vec!["c2"], vec!["c3", "c4"]]
        .into_iter()
        .enumerate()
    {
        let events = ids
            .iter()
            .map(|id| click(id, &format!("ctx-{id}")))
            .collect();
        let (status, answer) = server.post_events(&batch(events, vec![])).await;
        assert_eq!(status, 200, "batch {i}: {answer}");
    }
    let got = receiver.wait_delivered(5).await;
    let order: Vec<String> = got
        .iter()
        .map(|r| {
            serde_json::from_str::<Value>(&r.body).unwrap()["clientId"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(order, ["c0", "c1", "c2", "c3", "c4"], "each once, in order");
    let all = receiver.got();
    assert_eq!(
        all.len(),
        8,
        "three refusals, then five deliveries: {all:?}"
    );
    // The three refusals were the first delivery, tried again with the same id.
    assert!(all[..4].iter().all(|r| r.delivery == all[0].delivery));
    let (_, log) = get(&server, &format!("/webhooks/{webhook_id}/deliveries")).await;
    let first = log["deliveries"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(first["attempts"], 4, "{first}");
    assert_eq!(first["status"], "delivered");
    assert_eq!(first["lastError"], Value::Null);
}

#[tokio::test]
async fn an_endpoint_that_fails_for_good_is_disabled_with_the_reason_and_a_redelivery_brings_it_back(
) {
    // 410 Gone is final: no retry. After it, the receiver recovers.
    let gone = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let flag = gone.clone();
    let receiver = Receiver::start(move |_| {
        if flag.load(std::sync::atomic::Ordering::SeqCst) {
            410
        } else {
            200
        }
    })
    .await;
    let server = server(|c| c.disable_after = 2).await;
    let (webhook_id, _) = register(&server, &receiver.url, json!(["offer.clicked"])).await;
    let events = vec![click("g0", "x0"), click("g1", "x1"), click("g2", "x2")];
    let mut body = batch(events, vec![]);
    // One visitor: each click waits for the one before.
    body["visitorId"] = json!("visitor-gone");
    server.post_events(&body).await;
    let mut disabled = Value::Null;
    for _ in 0..200 {
        let (_, list) = get(&server, "/webhooks").await;
        disabled = list["webhooks"][0].clone();
        if disabled["enabled"] == false {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(disabled["enabled"], false, "{disabled}");
    let reason = disabled["disabledReason"].as_str().unwrap();
    assert!(reason.contains("2 deliveries in a row failed"), "{reason}");
    assert!(reason.contains("410"), "{reason}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let tried = receiver.got().len();
    assert_eq!(tried, 2, "nothing more is attempted once disabled");

    let (_, log) = get(&server, &format!("/webhooks/{webhook_id}/deliveries")).await;
    let failed: Vec<Value> = log["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["status"] == "failed")
        .cloned()
        .collect();
    assert_eq!(failed.len(), 2, "{log}");
    assert_eq!(failed[0]["lastStatus"], 410);

    gone.store(false, std::sync::atomic::Ordering::SeqCst);
    let delivery = failed[0]["deliveryId"].as_str().unwrap();
    let (status, redelivered) = post(
        &server,
        &format!("/webhooks/{webhook_id}/deliveries/{delivery}/redeliver"),
        &json!({}),
    )
    .await;
    assert_eq!(status, 202, "{redelivered}");
    assert_eq!(redelivered["status"], "pending");
    // Enabled again: the redelivered one and the one that waited go out.
    let got = receiver.wait_delivered(2).await;
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got.iter().any(|r| r.delivery == delivery));
    let (_, list) = get(&server, "/webhooks").await;
    assert_eq!(list["webhooks"][0]["enabled"], true);

    let (status, missing) = post(
        &server,
        &format!("/webhooks/{webhook_id}/deliveries/no-such/redeliver"),
        &json!({}),
    )
    .await;
    assert_eq!((status, missing["code"].as_str()), (404, Some("not_found")));
}

#[tokio::test]
async fn ping_rotate_list_and_delete() {
    let receiver = Receiver::start(|_| 204).await;
    let server = server(|_| {}).await;
    let (webhook_id, first_secret) = register(&server, &receiver.url, json!(["purchase"])).await;
    assert!(first_secret.starts_with("whsec_") && first_secret.len() == 6 + 64);
    let (status, listed) = get(&server, "/webhooks").await;
    assert_eq!(status, 200);
    assert_eq!(
        listed["webhooks"][0],
        json!({"webhookId": webhook_id, "url": receiver.url, "events": ["purchase"],
               "createdMs": listed["webhooks"][0]["createdMs"], "enabled": true, "consecutiveFailures": 0})
    );
    assert!(
        !listed.to_string().contains(&first_secret),
        "the list shows no secret"
    );

    let (status, rotated) = post(
        &server,
        &format!("/webhooks/{webhook_id}/rotate-secret"),
        &json!({}),
    )
    .await;
    assert_eq!(status, 200, "{rotated}");
    let secret = rotated["secret"].as_str().unwrap();
    assert_ne!(secret, first_secret);
    let (status, ping) = post(&server, &format!("/webhooks/{webhook_id}/ping"), &json!({})).await;
    assert_eq!(status, 202, "{ping}");
    let got = receiver.wait_delivered(1).await;
    assert_eq!(got[0].event, "ping");
    assert_eq!(got[0].delivery, ping["deliveryId"].as_str().unwrap());
    assert!(
        verify(secret, &got[0].signature, &got[0].body),
        "signed with the new secret"
    );
    assert!(!verify(&first_secret, &got[0].signature, &got[0].body));

    let (status, _) = admin(
        &server,
        Method::DELETE,
        &format!("/webhooks/{webhook_id}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = admin(
        &server,
        Method::DELETE,
        &format!("/webhooks/{webhook_id}"),
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (_, listed) = get(&server, "/webhooks").await;
    assert_eq!(listed, json!({"webhooks": []}));
    let (status, _) = get(&server, &format!("/webhooks/{webhook_id}/deliveries")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn private_loopback_and_link_local_addresses_are_refused_by_default() {
    let receiver = Receiver::start(|_| 200).await;
    let server = TestServer::start().await;
    for url in [
        receiver.url.clone(),
        "http://localhost:9/hook".to_owned(),
        "http://10.0.0.8/hook".to_owned(),
        "http://169.254.169.254/latest/meta-data".to_owned(),
        "http://[::1]:9/hook".to_owned(),
        "http://[::ffff:127.0.0.1]/hook".to_owned(),
    ] {
        let (status, error) = post(
            &server,
            "/webhooks",
            &json!({"url": url, "events": ["purchase"]}),
        )
        .await;
        assert_eq!(status, 400, "{url}: {error}");
        assert_eq!(error["errors"][0]["path"], "/url", "{error}");
        assert!(
            error["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("--allow-private-webhooks"),
            "{error}"
        );
    }
    let (_, listed) = get(&server, "/webhooks").await;
    assert_eq!(listed, json!({"webhooks": []}));
    assert!(receiver.got().is_empty());
}

#[tokio::test]
async fn bad_bodies_are_refused_at_their_pointer() {
    let server = server(|_| {}).await;
    for (body, path) in [
        (
            json!({"url": "ftp://h.example/", "events": ["purchase"]}),
            "/url",
        ),
        (
            json!({"url": format!("https://h.example/{}", "x".repeat(2100)), "events": ["purchase"]}),
            "/url",
        ),
        (
            json!({"url": "https://h.example/", "events": ["purchased"]}),
            "/events/0",
        ),
        (
            json!({"url": "https://h.example/", "events": vec!["purchase"; 17]}),
            "/events",
        ),
        (
            json!({"url": "https://h.example/", "events": ["purchase"], "secret": "mine"}),
            "/secret",
        ),
    ] {
        let (status, error) = post(&server, "/webhooks", &body).await;
        assert_eq!(status, 400, "{error}");
        assert_eq!(error["errors"][0]["path"], path, "{error}");
    }
}

#[tokio::test]
async fn an_account_is_bounded_in_endpoints_pending_deliveries_and_body_size() {
    // The receiver is down (503 always): deliveries stay pending.
    let receiver = Receiver::start(|_| 503).await;
    let server = server(|c| {
        c.max_per_account = 2;
        c.max_pending_per_account = 3;
        c.max_body_bytes = 700;
        c.retry_base = Duration::from_secs(60);
    })
    .await;
    let (webhook_id, _) =
        register(&server, &receiver.url, json!(["offer.clicked", "purchase"])).await;
    register(&server, &receiver.url, json!(["lead.submitted"])).await;
    let (status, error) = post(
        &server,
        "/webhooks",
        &json!({"url": receiver.url, "events": ["purchase"]}),
    )
    .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (409, Some("limit_reached")),
        "{error}"
    );

    // Five clicks: three are kept, two refused (the data itself is stored all the same).
    let events = (0..5)
        .map(|i| click(&format!("b{i}"), &format!("x{i}")))
        .collect();
    let (status, answer) = server.post_events(&batch(events, vec![])).await;
    assert_eq!((status, answer["accepted"].as_u64()), (200, Some(5)));
    assert_eq!(
        server
            .store
            .pending_deliveries(&server.account_id)
            .await
            .unwrap(),
        3
    );
    let metrics = server.metrics().await;
    assert!(
        metrics.contains(r#"engage_webhook_deliveries_queued_total{result="refused"} 2"#),
        "{metrics}"
    );
    let (status, full) = post(&server, &format!("/webhooks/{webhook_id}/ping"), &json!({})).await;
    assert_eq!(
        (status, full["code"].as_str()),
        (409, Some("limit_reached")),
        "{full}"
    );

    // A happening bigger than the body limit goes without its data.
    let (_, _) = admin(
        &server,
        Method::DELETE,
        &format!("/webhooks/{webhook_id}"),
        None,
    )
    .await;
    let ok = Receiver::start(|_| 200).await;
    let (_, _) = register(&server, &ok.url, json!(["purchase"])).await;
    let purchase = json!({"type": "purchase", "total": 10, "orderId": "o-1",
        "cart": {"products": (0..20).map(|i| json!({"product": {"name": format!("a product with a long name {i}"), "sku": format!("sku-{i}")}, "quantity": 1})).collect::<Vec<_>>()}});
    let (status, answer) = server
        .post_events(&batch(vec![], vec![sde_item("big", purchase)]))
        .await;
    assert_eq!(status, 200, "{answer}");
    let got = ok.wait_delivered(1).await;
    assert_eq!(got.len(), 1);
    assert!(got[0].body.len() <= 700, "{}", got[0].body.len());
    let payload: Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(payload["data"], json!({"truncated": true}));
    assert_eq!(payload["clientId"], "big");
}

#[tokio::test]
async fn erasing_a_visitor_removes_their_deliveries_from_the_log() {
    let receiver = Receiver::start(|_| 200).await;
    let server = server(|_| {}).await;
    let (webhook_id, _) = register(&server, &receiver.url, json!(["offer.clicked"])).await;
    let (status, answer) = server
        .post_events(&batch(vec![click("e0", "ctx-e0")], vec![]))
        .await;
    assert_eq!(status, 200, "{answer}");
    let got = receiver.wait_delivered(1).await;
    assert!(got[0].body.contains("visitor-1"), "{got:?}");
    let log_path = format!("/webhooks/{webhook_id}/deliveries");
    let (_, log) = get(&server, &log_path).await;
    assert_eq!(log["deliveries"].as_array().unwrap().len(), 1, "{log}");

    let (status, erased) = admin(&server, Method::DELETE, "/visitors/visitor-1", None).await;
    assert_eq!(status, 200, "{erased}");
    assert_eq!(erased["removed"]["webhookDeliveries"], 1, "{erased}");
    let (_, log) = get(&server, &log_path).await;
    assert_eq!(log["deliveries"], json!([]), "{log}");
}

#[tokio::test]
async fn secrets_are_stored_sealed_and_a_rotated_secret_signs_what_follows() {
    let receiver = Receiver::start(|_| 200).await;
    let server = server(|_| {}).await;
    let (webhook_id, first) = register(&server, &receiver.url, json!(["offer.clicked"])).await;
    let stored = server.store.webhooks(&server.account_id).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert!(is_sealed(&stored[0].secret), "{}", stored[0].secret);
    assert!(!stored[0].secret.contains(&first));

    let (status, rotated) = post(
        &server,
        &format!("/webhooks/{webhook_id}/rotate-secret"),
        &json!({}),
    )
    .await;
    assert_eq!(status, 200, "{rotated}");
    let second = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    let stored = server.store.webhooks(&server.account_id).await.unwrap();
    assert!(is_sealed(&stored[0].secret) && !stored[0].secret.contains(&second));

    let (status, answer) = server
        .post_events(&batch(vec![click("r0", "ctx-r0")], vec![]))
        .await;
    assert_eq!(status, 200, "{answer}");
    let got = receiver.wait_delivered(1).await;
    assert!(verify(&second, &got[0].signature, &got[0].body), "{got:?}");
    assert!(!verify(&first, &got[0].signature, &got[0].body));
}
