//! `engage migrate`: a SQLite store filled over HTTP is copied into PostgreSQL, stopped
//! part way (`--stop-after-chunks`) and resumed, then the Engagement History API, the
//! OAuth keys and the quarantine answer the same from `engage serve` on either store.

use std::process::Command;

use serde_json::{json, Value};

use crate::postgres::Database;
use crate::server::{self, ServerProcess};

const BASE_MS: u64 = 1_700_000_000_000;

fn engage(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_engage"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// An event of visit `v`'s interaction `context` at `time`.
fn event(id: String, name: &str, context: &str, time: u64, campaign: u64) -> Value {
    let mut e = server::event(&id, name, context);
    e["time"] = json!(time);
    e["data"]["contexts"][0]["EngagementContext"]["id"] = json!(context);
    e["data"]["campaignId"] = json!(campaign);
    e["data"]["confKey"] = json!(format!("{campaign}_2_3"));
    e
}

/// The batches of 24 visits: two page views each, an interaction per page view, a
/// purchase with its own order id and customer info, and a quarantined event.
fn batches() -> Vec<Value> {
    let mut out = Vec::new();
    for v in 0..24u64 {
        for page in 0..2u64 {
            let t = BASE_MS + v * 60_000 + page * 7_000;
            let context = format!("ctx-{v}-{page}");
            let mut events = vec![
                event(format!("e-{v}-{page}-a"), "START", &context, t, 1 + v % 3),
                event(
                    format!("e-{v}-{page}-b"),
                    "OFFER_DISPLAY",
                    &context,
                    t + 10,
                    1 + v % 3,
                ),
            ];
            if v % 2 == 0 {
                events.push(event(
                    format!("e-{v}-{page}-c"),
                    "OFFER_CLICK",
                    &context,
                    t + 20,
                    1 + v % 3,
                ));
            }
            if v == 5 && page == 1 {
                events.push(json!({"id": "bad-1", "appName": "LP_OFFERS", "eventName": "NOPE"}));
            }
            let sdes = match page {
                0 => json!([{"id": format!("s-{v}-c"), "time": t,
                             "sde": {"type": "ctmrinfo", "info": {"customerId": format!("cust-{v}")}}}]),
                _ => json!([{"id": format!("s-{v}-p"), "time": t + 30,
                             "sde": {"type": "purchase", "total": format!("{v}.5"),
                                     "orderId": format!("ORD{v:04}X")}}]),
            };
            out.push(json!({
                "visitorId": format!("visitor-{}", v % 10), "sessionId": format!("session-{v}"),
                "pageId": format!("page-{v}-{page}"),
                "page": {"url": format!("https://shop.example/p/{page}"), "title": "Shop",
                         "referrer": "https://search.example/"},
                "events": events, "sdes": sdes
            }));
        }
    }
    out
}

/// The searches compared: every page of a window in both orders, a visitor, a
/// campaign, an attribute and a keyword.
fn searches() -> Vec<(Value, &'static str)> {
    let window = json!({"from": BASE_MS - 1_000, "to": BASE_MS + 3_600_000});
    vec![
        (json!({"start": window}), "start:asc"),
        (json!({"start": window}), "start:desc"),
        (json!({"start": window, "visitor": "visitor-3"}), "start"),
        (
            json!({"start": window, "campaignIds": [2]}),
            "duration:desc,start",
        ),
        (
            json!({"start": window, "sdeSearch": {"customerInfo": "cust-7"}}),
            "start",
        ),
        (json!({"start": window, "keyword": "ord0011x"}), "start"),
        (
            json!({"start": window, "keyword": "nothing-like-it"}),
            "start",
        ),
    ]
}

async fn search_all(server: &ServerProcess, account: &str, key: &str) -> Vec<Value> {
    let client = reqwest::Client::new();
    let mut answers = Vec::new();
    for (mut query, sort) in searches() {
        // The fill answers its offers 10 ms after showing them, which flags the visits
        // for their pace; the comparison is over everything stored.
        query["includeBots"] = Value::Bool(true);
        for offset in [0, 20, 40] {
            let response = client
                .post(format!(
                    "{}/interaction_history/api/account/{account}/interactions/search?offset={offset}&limit=20&sort={sort}",
                    server.url
                ))
                .bearer_auth(key)
                .json(&query)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status().as_u16(), 200, "{query}");
            // The links name the server answering; the rest must not differ.
            let text = response
                .text()
                .await
                .unwrap()
                .replace(&server.url, "SERVER");
            answers.push(serde_json::from_str::<Value>(&text).unwrap());
        }
    }
    answers
}

async fn postgres_count(url: &str, sql: &str) -> i64 {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client.query_one(sql, &[]).await.unwrap().get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_store_migrated_in_two_sittings_answers_the_same_on_postgres() {
    let db = Database::create().await;
    let source = tempfile::tempdir().unwrap();
    let (account, key) = server::create_account(source.path());
    let sqlite = ServerProcess::start_with(source.path(), &server::NO_RATE_LIMITS);
    let client = reqwest::Client::new();
    for body in batches() {
        let answer = client
            .post(sqlite.events_url(&account))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = answer.status();
        let answer: Value = answer.json().await.unwrap();
        assert!(status.is_success(), "{status} {answer}");
        assert!(answer["accepted"].as_u64().unwrap() >= 3, "{answer}");
    }
    let before = search_all(&sqlite, &account, &key).await;
    drop(sqlite);
    assert_eq!(before[0]["_metadata"]["count"], 48, "{}", before[0]);
    // The keyword finds the visit with that order, and so both its interactions.
    assert_eq!(before[15]["_metadata"]["count"], 2, "{}", before[15]);

    let data = source.path().to_str().unwrap();
    let (code, out, err) = engage(&[
        "account",
        "keys",
        "create",
        "--account",
        &account,
        "--oauth1",
        "--data",
        data,
    ]);
    assert_eq!(code, Some(0), "{err}");
    let app_key = serde_json::from_str::<Value>(out.lines().last().unwrap()).unwrap()["appKey"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, keys_before, _) = engage(&[
        "account",
        "keys",
        "list",
        "--account",
        &account,
        "--data",
        data,
    ]);
    let (_, quarantine_before, _) = engage(&[
        "export",
        "--account",
        &account,
        "--kind",
        "quarantine",
        "--data",
        data,
    ]);
    assert!(quarantine_before.contains("NOPE"), "{quarantine_before}");

    // The first sitting stops after two chunks of five visits, as an interruption would.
    let (code, out, err) = engage(&[
        "migrate",
        "--from",
        data,
        "--to",
        &db.url,
        "--chunk-visits",
        "5",
        "--stop-after-chunks",
        "2",
    ]);
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(err.contains("stopped after 2 chunks"), "{err}");
    assert_eq!(
        postgres_count(&db.url, "SELECT count(*) FROM visits").await,
        10
    );
    assert_eq!(
        postgres_count(
            &db.url,
            "SELECT done_through FROM migration_checkpoints WHERE step = 'visits'"
        )
        .await,
        10,
        "visit ids start at 1, and the checkpoint is the last visit of the second chunk"
    );

    // The second sitting resumes and finishes; the counts are checked.
    let (code, out, err) = engage(&[
        "migrate",
        "--from",
        data,
        "--to",
        &db.url,
        "--chunk-visits",
        "5",
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("every count matches"), "{err}");
    let report: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(report["accounts"], 1, "{report}");
    assert_eq!(report["counts"]["visits"], 24, "{report}");
    assert_eq!(report["counts"]["pages"], 48, "{report}");
    assert_eq!(report["counts"]["interactions"], 48, "{report}");
    assert_eq!(report["counts"]["events"], 24 * 2 * 2 + 24, "{report}");
    assert_eq!(report["counts"]["sdes"], 48, "{report}");
    assert_eq!(report["counts"]["quarantine"], 1, "{report}");
    assert_eq!(report["counts"]["oauth_keys"], 1, "{report}");
    assert_eq!(
        postgres_count(&db.url, "SELECT count(*) FROM event_ids").await,
        120
    );

    // A third run finds everything done and copies nothing twice.
    let (code, _, err) = engage(&["migrate", "--from", data, "--to", &db.url]);
    assert_eq!(code, Some(0), "{err}");

    let key_file = source.path().join("secret.key");
    let key_file = key_file.to_str().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let postgres = ServerProcess::start_with(
        elsewhere.path(),
        &["--database", &db.url, "--secret-key-file", key_file],
    );
    let after = search_all(&postgres, &account, &key).await;
    drop(postgres);
    for (i, (b, a)) in before.iter().zip(&after).enumerate() {
        assert_eq!(b, a, "search {i} answers differently after the migration");
    }
    let (_, keys_after, err) = engage(&[
        "account",
        "keys",
        "list",
        "--account",
        &account,
        "--database",
        &db.url,
        "--secret-key-file",
        key_file,
    ]);
    assert!(keys_after.contains(&app_key), "{keys_after}{err}");
    assert_eq!(keys_before, keys_after);
    let (_, quarantine_after, _) = engage(&[
        "export",
        "--account",
        &account,
        "--kind",
        "quarantine",
        "--database",
        &db.url,
    ]);
    assert_eq!(quarantine_before, quarantine_after);
}

#[test]
fn migrate_refuses_a_target_that_is_not_postgres_and_a_source_that_is_not_a_store() {
    let empty = tempfile::tempdir().unwrap();
    let from = empty.path().to_str().unwrap();
    let (code, _, err) = engage(&["migrate", "--from", from, "--to", "sqlite:///tmp/x.db"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--to must be a postgres:// URL"), "{err}");
    let (code, _, err) = engage(&[
        "migrate",
        "--from",
        from,
        "--to",
        "postgres://postgres@127.0.0.1:1/x?connect_timeout=1",
    ]);
    assert_eq!(code, Some(2));
    assert!(err.contains("is not a SQLite store"), "{err}");
}
