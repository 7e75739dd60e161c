//! Several `engage serve` processes on one PostgreSQL database behave as one: an admin
//! change made through one is used by the others within 2 s (the store's change feed,
//! no polling), a batch posted to two at once is stored once, and `kill -9` of one under
//! load loses nothing it acknowledged while the other keeps answering.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::postgres::{engage, Database};
use crate::server::{self, ServerProcess};

/// A new account on the database: its id and API key.
fn account(db: &Database) -> (String, String) {
    let (code, out, err) = engage(&["account", "create", "--name", "Shop", "--database", &db.url]);
    assert_eq!(code, Some(0), "{err}");
    let created: Value = serde_json::from_str(&out).unwrap();
    (
        created["accountId"].as_str().unwrap().to_owned(),
        created["apiKey"].as_str().unwrap().to_owned(),
    )
}

fn batch(session: &str, ids: &[String]) -> Value {
    json!({
        "visitorId": format!("v-{session}"), "sessionId": session, "pageId": "p1",
        "events": ids.iter().map(|id| server::event(id, "START", "1")).collect::<Vec<_>>(),
    })
}

/// Polls `check` every 20 ms until it holds; how long that took, or a failure after 2 s.
async fn within_two_seconds<F, Fut>(what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if check().await {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{what}: not seen within 2 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_change_through_one_server_is_used_by_the_other_within_two_seconds() {
    let db = Database::create().await;
    let dir = tempfile::tempdir().unwrap();
    let (account, key) = account(&db);
    let a = ServerProcess::start_with(dir.path(), &["--database", &db.url]);
    let b = ServerProcess::start_with(dir.path(), &["--database", &db.url]);
    let client = reqwest::Client::new();
    let admin = |path: &str, body: Value| {
        client
            .post(format!("{}/api/account/{account}{path}", a.url))
            .bearer_auth(&key)
            .json(&body)
            .send()
    };
    let decide_on_b = || {
        let request = client
            .post(format!("{}/api/account/{account}/decision", b.url))
            .header("content-type", "text/plain")
            .body(
                json!({"visitorId": "v-1", "sessionId": "v-1-session", "pageId": "p-1",
                       "url": "https://shop.example/cart", "sections": ["cart"], "sdes": []})
                .to_string(),
            );
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status().as_u16(), 200);
            let answer: Value = response.json().await.unwrap();
            answer["engagements"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        }
    };
    let post_on_b_from = |origin: &'static str, id: String| {
        let request = client
            .post(b.events_url(&account))
            .header("origin", origin)
            .json(&batch(&format!("s-{id}"), &[id]));
        async move { request.send().await.unwrap().status().as_u16() }
    };

    // B caches the account and its (empty) decision snapshot.
    assert!(decide_on_b().await.is_empty());
    assert_eq!(
        post_on_b_from("https://evil.example", "e-0".into()).await,
        200
    );

    let campaign: Value = admin("/campaigns", json!({"name": "Spring", "priority": 1}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let campaign_id = campaign["campaignId"].as_u64().unwrap();
    let created = admin(
        &format!("/campaigns/{campaign_id}/engagements"),
        json!({"name": "Chat", "engagementType": 3, "zoneId": 471288710,
               "content": {"title": "Questions?"}}),
    )
    .await
    .unwrap();
    assert_eq!(created.status().as_u16(), 201);
    let engagement: Value = created.json().await.unwrap();
    let took = within_two_seconds("the engagement created through A, decided by B", || async {
        decide_on_b()
            .await
            .iter()
            .any(|e| e["engagementId"] == engagement["engagementId"])
    })
    .await;
    eprintln!("server B decided the new engagement {took:?} after A created it");

    let put = client
        .put(format!("{}/api/account/{account}/origins", a.url))
        .bearer_auth(&key)
        .json(&json!({"allowedOrigins": ["https://shop.example"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status().as_u16(), 200);
    let mut n = 0;
    let took = within_two_seconds("the origins set through A, enforced by B", || {
        n += 1;
        let refused = post_on_b_from("https://evil.example", format!("e-evil-{n}"));
        async move { refused.await == 403 }
    })
    .await;
    eprintln!("server B enforced the new origins {took:?} after A set them");
    assert_eq!(
        post_on_b_from("https://shop.example", "e-shop".into()).await,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_batch_posted_to_two_servers_at_once_is_stored_once() {
    let db = Database::create().await;
    let dir = tempfile::tempdir().unwrap();
    let (account, _) = account(&db);
    let args = [
        &["--database", db.url.as_str()][..],
        &server::NO_RATE_LIMITS,
    ]
    .concat();
    let a = ServerProcess::start_with(dir.path(), &args);
    let b = ServerProcess::start_with(dir.path(), &args);
    let client = reqwest::Client::new();
    for round in 0..20 {
        let ids: Vec<String> = (0..10).map(|i| format!("r{round}-e{i}")).collect();
        let body = batch(&format!("s-{round}"), &ids);
        let post = |url: String| {
            let request = client.post(url).json(&body);
            async move {
                let response = request.send().await.unwrap();
                assert_eq!(response.status().as_u16(), 200);
                response.json::<Value>().await.unwrap()
            }
        };
        let (x, y) = tokio::join!(post(a.events_url(&account)), post(b.events_url(&account)));
        let accepted = x["accepted"].as_u64().unwrap() + y["accepted"].as_u64().unwrap();
        let duplicates = x["duplicates"].as_u64().unwrap() + y["duplicates"].as_u64().unwrap();
        assert_eq!((accepted, duplicates), (10, 10), "round {round}: {x} {y}");
    }
    let (code, out, err) = engage(&["export", "--account", &account, "--database", &db.url]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out.lines().count(), 200, "every event once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_one_server_under_load_loses_no_acknowledged_item_and_the_other_keeps_answering() {
    let db = Database::create().await;
    let dir = tempfile::tempdir().unwrap();
    let (account, _) = account(&db);
    let args = [
        &["--database", db.url.as_str()][..],
        &server::NO_RATE_LIMITS,
    ]
    .concat();
    let a = ServerProcess::start_with(dir.path(), &args);
    let b = ServerProcess::start_with(dir.path(), &args);
    let acknowledged = Arc::new(Mutex::new(BTreeSet::new()));
    let b_failures = Arc::new(Mutex::new(Vec::new()));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(4);
    let mut loaders = Vec::new();
    for worker in 0..4 {
        let (client, acknowledged, b_failures) =
            (client.clone(), acknowledged.clone(), b_failures.clone());
        let url = if worker % 2 == 0 {
            a.events_url(&account)
        } else {
            b.events_url(&account)
        };
        let on_b = worker % 2 == 1;
        loaders.push(tokio::spawn(async move {
            let mut n = 0;
            while Instant::now() < deadline {
                n += 1;
                let ids: Vec<String> = (0..20).map(|i| format!("w{worker}-b{n}-e{i}")).collect();
                let sent = client
                    .post(&url)
                    .json(&batch(&format!("w{worker}-s{n}"), &ids))
                    .send()
                    .await;
                match sent {
                    Ok(response) if response.status().is_success() => {
                        let answer: Value = response.json().await.unwrap();
                        assert_eq!(answer["accepted"], 20, "{answer}");
                        acknowledged.lock().unwrap().extend(ids);
                    }
                    Ok(response) if on_b => b_failures
                        .lock()
                        .unwrap()
                        .push(response.status().to_string()),
                    Err(e) if on_b => b_failures.lock().unwrap().push(e.to_string()),
                    // A is killed: its failures are expected, and nothing of them was
                    // acknowledged.
                    Ok(_) | Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before_kill = acknowledged.lock().unwrap().len();
    a.kill();
    for loader in loaders {
        loader.await.unwrap();
    }
    let after = acknowledged.lock().unwrap().clone();
    assert!(before_kill > 0, "load reached the servers before the kill");
    assert!(
        after.len() > before_kill,
        "B kept acknowledging after A was killed"
    );
    assert!(
        b_failures.lock().unwrap().is_empty(),
        "B failed: {:?}",
        b_failures.lock().unwrap()
    );
    let (code, out, err) = engage(&["export", "--account", &account, "--database", &db.url]);
    assert_eq!(code, Some(0), "{err}");
    let stored: BTreeSet<String> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let lost: Vec<_> = after.difference(&stored).collect();
    assert!(
        lost.is_empty(),
        "acknowledged and lost: {} of {}",
        lost.len(),
        after.len()
    );
    eprintln!(
        "{} items acknowledged ({before_kill} before A was killed), all stored",
        after.len()
    );
}

/// Server B's report (from its fact cache) shows a decision and an impression made
/// through server A after B's first report, and equals the report of a server that
/// reads the store (`--analytics-cache-mb 0`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_through_one_server_shows_in_the_others_cached_report() {
    let db = Database::create().await;
    let dir = tempfile::tempdir().unwrap();
    let (account, key) = account(&db);
    let a = ServerProcess::start_with(dir.path(), &["--database", &db.url]);
    let b = ServerProcess::start_with(dir.path(), &["--database", &db.url]);
    let reader = ServerProcess::start_with(
        dir.path(),
        &["--database", &db.url, "--analytics-cache-mb", "0"],
    );
    let client = reqwest::Client::new();
    let campaign: Value = client
        .post(format!("{}/api/account/{account}/campaigns", a.url))
        .bearer_auth(&key)
        .json(&json!({"name": "Spring", "priority": 1}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let campaign_id = campaign["campaignId"].as_u64().unwrap();
    let engagement: Value = client
        .post(format!(
            "{}/api/account/{account}/campaigns/{campaign_id}/engagements",
            a.url
        ))
        .bearer_auth(&key)
        .json(&json!({"name": "Banner", "engagementType": 5, "zoneId": 1}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let engagement_id = engagement["engagementId"].as_u64().unwrap();
    let visit_a = |visitor: String| {
        let client = client.clone();
        let (url, account, engagement) = (a.url.clone(), account.clone(), engagement.clone());
        async move {
            let answer: Value = client
                .post(format!("{url}/api/account/{account}/decision"))
                .header("content-type", "text/plain")
                .body(
                    json!({"visitorId": visitor, "sessionId": format!("{visitor}-s"),
                           "pageId": "p-1", "url": "https://shop.example/", "sdes": []})
                    .to_string(),
                )
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert!(
                answer["engagements"]
                    .as_array()
                    .is_some_and(|e| !e.is_empty()),
                "{answer}"
            );
            let context = format!("ctx-{visitor}");
            let impression = json!({
                "id": format!("imp-{visitor}"), "time": 1_700_000_000_000u64,
                "appName": "LP_OFFERS", "eventName": "OFFER_IMPRESSION",
                "data": {
                    "contexts": [{"EngagementContext": {"id": context}}, {"pageContext": {"id": "p-1"}}],
                    "campaignId": campaign_id, "engagementId": engagement_id,
                    "engagementRevision": engagement["engagementRevision"],
                    "engagementType": 5, "contextId": context,
                    "confKey": engagement["confKey"]
                }
            });
            let status = client
                .post(format!("{url}/api/account/{account}/events"))
                .json(
                    &json!({"visitorId": visitor, "sessionId": format!("{visitor}-s"),
                              "pageId": "p-1", "events": [impression]}),
                )
                .send()
                .await
                .unwrap()
                .status()
                .as_u16();
            assert_eq!(status, 200);
        }
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let body = json!({"from": now - 86_400_000, "to": now + 86_400_000, "groupBy": ["campaign"]});
    let report = |url: String| {
        let request = client
            .post(format!("{url}/api/account/{account}/analytics/report"))
            .bearer_auth(&key)
            .json(&body);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status().as_u16(), 200);
            response.json::<Value>().await.unwrap()
        }
    };

    visit_a("v-1".into()).await;
    let first = report(b.url.clone()).await;
    assert_eq!(first["rows"][0]["impressions"], 1, "{first}");
    for i in 2..=4 {
        visit_a(format!("v-{i}")).await;
    }
    let second = report(b.url.clone()).await;
    assert_eq!(second["rows"][0]["impressions"], 4, "{second}");
    assert_eq!(second["rows"][0]["exposedVisitors"], 4, "{second}");
    assert_eq!(second, report(reader.url.clone()).await);
}
