//! Webhooks with the real `engage` binary: a delivery the server was retrying when it was
//! killed (`kill -9`) is delivered after the restart, and several servers on one
//! PostgreSQL database deliver each happening once, not once per server, in each
//! visitor's order.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::postgres::{engage, Database};
use crate::server::{self, ServerProcess};

/// What the receiver got: the `Engage-Delivery` id, the body and the status it answered.
type Log = Arc<Mutex<Vec<(String, Value, u16)>>>;

/// A minimal HTTP/1.1 receiver on a loopback port, answering every request with the
/// status `answer` holds now (one request per connection, as reqwest's pool allows).
async fn receiver(answer: Arc<AtomicU16>) -> (String, Log) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let log: Log = Arc::default();
    let seen = log.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (seen, answer) = (seen.clone(), answer.clone());
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut reader = BufReader::new(read);
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let (mut length, mut delivery) = (0usize, String::new());
                    loop {
                        let mut header = String::new();
                        reader.read_line(&mut header).await.unwrap();
                        let header = header.trim_end();
                        if header.is_empty() {
                            break;
                        }
                        let (name, value) = header.split_once(':').unwrap();
                        match name.to_ascii_lowercase().as_str() {
                            "content-length" => length = value.trim().parse().unwrap(),
                            "engage-delivery" => delivery = value.trim().to_owned(),
                            _ => {}
                        }
                    }
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).await.unwrap();
                    let status = answer.load(Ordering::SeqCst);
                    seen.lock().unwrap().push((
                        delivery,
                        serde_json::from_slice(&body).unwrap(),
                        status,
                    ));
                    let reply = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\n\r\n");
                    if write.write_all(reply.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, log)
}

fn delivered(log: &Log) -> Vec<(String, Value)> {
    log.lock()
        .unwrap()
        .iter()
        .filter(|(_, _, status)| *status == 200)
        .map(|(id, body, _)| (id.clone(), body.clone()))
        .collect()
}

async fn wait_for(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < within, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn register(base: &str, account: &str, key: &str, url: &str) {
    let response = reqwest::Client::new()
        .post(format!("{base}/api/account/{account}/webhooks"))
        .bearer_auth(key)
        .json(&json!({"url": url, "events": ["offer.clicked"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
}

fn clicks(visitor: &str, ids: &[String]) -> Value {
    json!({
        "visitorId": visitor, "sessionId": format!("s-{visitor}"), "pageId": "p1",
        "events": ids.iter().map(|id| server::event(id, "OFFER_CLICK", "1")).collect::<Vec<_>>(),
    })
}

async fn post(url: &str, body: &Value) {
    let response = reqwest::Client::new()
        .post(url)
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["rejected"], json!([]), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_retried_when_the_server_is_killed_is_delivered_after_the_restart() {
    let answer = Arc::new(AtomicU16::new(503));
    let (hook, log) = receiver(answer.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let (account, key) = server::create_account(dir.path());
    let flags = [
        "--allow-private-webhooks",
        "--webhook-retry-base-secs",
        "0.2",
    ];
    let first = ServerProcess::start_with(dir.path(), &flags);
    register(&first.url, &account, &key, &hook).await;
    let ids: Vec<String> = (0..3).map(|i| format!("click-{i}")).collect();
    post(&first.events_url(&account), &clicks("v1", &ids)).await;
    // The receiver refuses: the first click is being retried.
    wait_for("two refused attempts", Duration::from_secs(20), || {
        log.lock().unwrap().len() >= 2
    })
    .await;
    first.kill();
    let refused = log.lock().unwrap().len();
    assert!(delivered(&log).is_empty());

    answer.store(200, Ordering::SeqCst);
    let second = ServerProcess::start_with(dir.path(), &flags);
    // Within a lease at worst: an attempt cut off by the kill is leased to the dead
    // server until it runs out.
    wait_for(
        "the three clicks delivered",
        Duration::from_secs(60),
        || delivered(&log).len() >= 3,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = delivered(&log);
    let order: Vec<&str> = got
        .iter()
        .map(|(_, body)| body["clientId"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        ["click-0", "click-1", "click-2"],
        "each once, in order"
    );
    let all = log.lock().unwrap().clone();
    assert!(
        all[..refused].iter().all(|(id, _, _)| *id == got[0].0),
        "the refused attempts were the first click's, under its one delivery id"
    );
    drop(second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_servers_on_postgres_deliver_each_happening_once_in_each_visitors_order() {
    let db = Database::create().await;
    let (code, out, err) = engage(&["account", "create", "--name", "Shop", "--database", &db.url]);
    assert_eq!(code, Some(0), "{err}");
    let created: Value = serde_json::from_str(&out).unwrap();
    let account = created["accountId"].as_str().unwrap().to_owned();
    let key = created["apiKey"].as_str().unwrap().to_owned();
    let answer = Arc::new(AtomicU16::new(200));
    let (hook, log) = receiver(answer).await;
    let dir = tempfile::tempdir().unwrap();
    let flags = ["--database", &db.url, "--allow-private-webhooks"];
    let servers: Vec<ServerProcess> = (0..3)
        .map(|_| ServerProcess::start_with(dir.path(), &flags))
        .collect();
    register(&servers[0].url, &account, &key, &hook).await;
    // The endpoint is known to every server through the change feed.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Eight visitors, each with five clicks in five batches, posted round robin.
    let mut expected: HashMap<String, Vec<String>> = HashMap::new();
    for n in 0..5 {
        for v in 0..8 {
            let visitor = format!("visitor-{v}");
            let id = format!("v{v}-click-{n}");
            expected
                .entry(visitor.clone())
                .or_default()
                .push(id.clone());
            let server = &servers[(n * 8 + v) % servers.len()];
            post(&server.events_url(&account), &clicks(&visitor, &[id])).await;
        }
    }
    wait_for("forty deliveries", Duration::from_secs(30), || {
        delivered(&log).len() >= 40
    })
    .await;
    // Long enough for any second delivery to show.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let got = delivered(&log);
    assert_eq!(got.len(), 40, "each happening once, not once per server");
    let ids: HashSet<&String> = got.iter().map(|(id, _)| id).collect();
    assert_eq!(ids.len(), 40);
    let mut order: HashMap<String, Vec<String>> = HashMap::new();
    for (_, body) in &got {
        order
            .entry(body["visitorId"].as_str().unwrap().to_owned())
            .or_default()
            .push(body["clientId"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        order, expected,
        "each visitor's clicks in the order they were stored"
    );
    drop(servers);
}
