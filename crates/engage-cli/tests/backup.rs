//! `engage backup` while a server takes collect batches, and `engage restore`: the copy
//! is one moment of the store (everything acknowledged before the backup started, counts
//! that match what the backup printed) and a server on the restored store answers.

use std::collections::HashSet;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use crate::server::{self, ServerProcess};

fn engage(args: &[&str], paths: &[&Path]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_engage"));
    command.args(args);
    for p in paths {
        command.arg(p);
    }
    command.output().unwrap()
}

fn exported(data: &Path, account: &str, kind: &str) -> Vec<String> {
    let out = engage(
        &["export", "--account", account, "--kind", kind, "--data"],
        &[data],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let item: Value = serde_json::from_str(line).unwrap();
            item["id"].as_str().unwrap().to_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_load_restores_to_the_moment_it_was_taken() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (account, key) = server::create_account(&data);
    let server = ServerProcess::start_with(&data, &server::NO_RATE_LIMITS);
    let url = server.events_url(&account);

    let acknowledged: Arc<Mutex<HashSet<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for writer in 0..4 {
        let (url, acknowledged, stop) = (url.clone(), acknowledged.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let ids: Vec<String> = (0..10).map(|i| format!("w{writer}-n{n}-i{i}")).collect();
                let body = json!({
                    "visitorId": format!("v{writer}"), "sessionId": format!("s{writer}"), "pageId": format!("p{n}"),
                    "events": ids[..5].iter().map(|id| server::event(id, "START", "1")).collect::<Vec<_>>(),
                    "sdes": ids[5..].iter().map(|id| json!({"id": id, "sde": {"type": "cart", "total": n}})).collect::<Vec<_>>(),
                });
                let response = client.post(&url).json(&body).send().await.unwrap();
                assert_eq!(response.status(), 200);
                let answer: Value = response.json().await.unwrap();
                assert_eq!(answer["accepted"], 10, "{answer}");
                acknowledged.lock().unwrap().extend(ids);
                n += 1;
            }
        }));
    }

    // Let the store grow, then back up in the middle of the load.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before: HashSet<String> = acknowledged.lock().unwrap().clone();
    let backup_file = dir.path().join("engage-backup.db");
    let out = {
        let (data, backup_file) = (data.clone(), backup_file.clone());
        tokio::task::spawn_blocking(move || {
            engage(
                &["backup", "--to"],
                &[&backup_file, Path::new("--data"), &data],
            )
        })
        .await
        .unwrap()
    };
    let after: HashSet<String> = acknowledged.lock().unwrap().clone();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .last()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(report["method"], "vacuum_into", "{report}");
    assert_eq!(report["accounts"], 1, "{report}");
    assert!(before.len() >= 100, "too little load: {}", before.len());

    // No restore under a running server, even forced.
    let out = {
        let (data, backup_file) = (data.clone(), backup_file.clone());
        tokio::task::spawn_blocking(move || {
            engage(
                &["restore", "--force", "--from"],
                &[&backup_file, Path::new("--data"), &data],
            )
        })
        .await
        .unwrap()
    };
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is in use"), "{stderr}");

    // The load goes on after the backup, so the source moves past it.
    tokio::time::sleep(Duration::from_millis(700)).await;
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    drop(server);

    let restored = dir.path().join("restored");
    let out = engage(
        &["restore", "--from"],
        &[&backup_file, Path::new("--data"), &restored],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let snapshot: Value = serde_json::from_slice(&out.stdout).unwrap();
    for member in ["accounts", "events", "sdes", "quarantine"] {
        assert_eq!(
            snapshot[member], report[member],
            "{member}: {snapshot} vs {report}"
        );
    }

    let events = exported(&restored, &account, "events");
    let sdes = exported(&restored, &account, "sdes");
    assert_eq!(events.len() as u64, report["events"].as_u64().unwrap());
    assert_eq!(sdes.len() as u64, report["sdes"].as_u64().unwrap());
    let in_backup: HashSet<String> = events.into_iter().chain(sdes).collect();
    let missing: Vec<_> = before.difference(&in_backup).take(5).collect();
    assert!(
        missing.is_empty(),
        "acknowledged before the backup started, not in it: {missing:?}"
    );
    // Nothing from after the backup ended is in it (what was answered during it may be).
    let all: HashSet<String> = acknowledged.lock().unwrap().clone();
    let later: HashSet<&String> = all.difference(&after).collect();
    assert!(!later.is_empty(), "the load stopped with the backup");
    assert!(
        in_backup.iter().all(|id| !later.contains(id)),
        "the backup holds items acknowledged after it finished"
    );
    let source_items =
        exported(&data, &account, "events").len() + exported(&data, &account, "sdes").len();
    assert!(source_items > in_backup.len());

    // A server on the restored store answers the History API with the same key.
    let server = ServerProcess::start(&restored);
    let answer: Value = reqwest::Client::new()
        .post(format!(
            "{}/interaction_history/api/account/{account}/interactions/search?limit=10",
            server.url
        ))
        .bearer_auth(&key)
        .json(&json!({"start": {"from": 0, "to": 4_000_000_000_000u64}, "visitor": "v0"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["_metadata"]["count"], 1, "{}", answer["_metadata"]);
    drop(server);

    // A restore over a store with accounts needs --force.
    let out = engage(
        &["restore", "--from"],
        &[&backup_file, Path::new("--data"), &data],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    let out = engage(
        &["restore", "--force", "--from"],
        &[&backup_file, Path::new("--data"), &data],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        exported(&data, &account, "sdes").len() as u64,
        report["sdes"].as_u64().unwrap()
    );
}

#[test]
fn a_backup_never_overwrites_and_a_damaged_file_is_not_restored() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    server::create_account(&data);
    let taken = dir.path().join("taken.db");
    std::fs::write(&taken, b"something else").unwrap();
    let out = engage(&["backup", "--to"], &[&taken, Path::new("--data"), &data]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(std::fs::read(&taken).unwrap(), b"something else");

    let out = engage(
        &["restore", "--from"],
        &[&taken, Path::new("--data"), &dir.path().join("empty")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(!dir.path().join("empty").join("engage.db").exists());
}

#[test]
fn backup_and_restore_name_the_postgresql_tools_instead() {
    for args in [
        [
            "backup",
            "--to",
            "/tmp/never.db",
            "--database",
            "postgres://postgres@127.0.0.1/engage",
        ],
        [
            "restore",
            "--from",
            "/tmp/never.db",
            "--database",
            "postgresql://127.0.0.1/engage",
        ],
    ] {
        let out = engage(&args, &[]);
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("not supported for PostgreSQL")
                && stderr.contains("pg_dump")
                && stderr.contains("pg_basebackup"),
            "{stderr}"
        );
    }
}
