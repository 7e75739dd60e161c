//! `engage account create`, `engage serve` and `engage export` as a site owner uses them.

use crate::server;

use std::process::Command;

use serde_json::{json, Value};
use server::ServerProcess;

#[test]
fn account_create_prints_an_id_and_a_key_that_is_stored_only_hashed() {
    let dir = tempfile::tempdir().unwrap();
    let (account, key) = server::create_account(dir.path());
    assert!(account.chars().all(|c| c.is_ascii_digit()), "{account}");
    assert!(key.starts_with("ek_") && key.len() > 40, "{key}");
    let db = std::fs::read(dir.path().join("engage.db")).unwrap();
    let wal = std::fs::read(dir.path().join("engage.db-wal")).unwrap_or_default();
    let needle = key.as_bytes();
    let contains = |hay: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
    assert!(
        !contains(&db) && !contains(&wal),
        "the api key must not be stored in clear"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_engage"))
        .args(["account", "create", "--name", " "])
        .arg("--data")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--name must not be empty"));
}

#[tokio::test]
async fn export_writes_one_stored_item_a_line_with_its_client_id() {
    let dir = tempfile::tempdir().unwrap();
    let (account, _) = server::create_account(dir.path());
    let server = ServerProcess::start(dir.path());
    let client = reqwest::Client::new();
    let body = json!({
        "visitorId": "v1", "sessionId": "s1", "pageId": "p1",
        "events": [server::event("e-1", "START", "1"), server::event("e-2", "OFFER_DISPLAY", "1"), server::event("e-3", "START", "x")],
        "sdes": [{"id": "s-1", "time": 1700000000000u64, "sde": {"type": "searchInfo", "keywords": ["apple", "banana"]}}]
    });
    let answer: Value = client
        .post(server.events_url(&account))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["accepted"], 3, "{answer}");
    assert_eq!(
        answer["rejected"][0]["errors"][0]["path"],
        "/events/2/data/contextId"
    );
    drop(server);

    let lines = |kind: &str| -> Vec<Value> {
        let out = Command::new(env!("CARGO_BIN_EXE_engage"))
            .args(["export", "--account", &account, "--kind", kind])
            .arg("--data")
            .arg(dir.path())
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let events = lines("events");
    assert_eq!(
        events.iter().map(|e| e["id"].clone()).collect::<Vec<_>>(),
        [json!("e-1"), json!("e-2")]
    );
    let sdes = lines("sdes");
    assert_eq!(sdes[0]["id"], "s-1");
    assert_eq!(
        sdes[0]["sde"]["searchContent"]["keywords"],
        json!(["apple", "banana"])
    );
    let quarantine = lines("quarantine");
    assert_eq!(quarantine.len(), 1);
    assert_eq!(quarantine[0]["clientId"], "e-3");

    let out = Command::new(env!("CARGO_BIN_EXE_engage"))
        .args(["export", "--account", "123"])
        .arg("--data")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown account `123`"));
}
