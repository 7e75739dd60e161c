//! Durability: `kill -9` of the server in the middle of a load loses nothing it
//! acknowledged. Repeated, because one lucky run proves little.

use crate::server;

use std::collections::HashSet;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use server::ServerProcess;

const ROUNDS: usize = 4;
const WRITERS: usize = 16;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_item_survives_kill_9_mid_load() {
    let dir = tempfile::tempdir().unwrap();
    let (account, _) = server::create_account(dir.path());
    let acknowledged: Arc<Mutex<HashSet<String>>> = Arc::default();
    for round in 0..ROUNDS {
        // Sixteen writers from one address, as fast as they can: no rate limits.
        let server = ServerProcess::start_with(dir.path(), &server::NO_RATE_LIMITS);
        let url = server.events_url(&account);
        let mut writers = Vec::new();
        for writer in 0..WRITERS {
            let (url, acknowledged) = (url.clone(), acknowledged.clone());
            writers.push(tokio::spawn(async move {
                let client = reqwest::Client::new();
                for n in 0.. {
                    let ids: Vec<String> = (0..10).map(|i| format!("r{round}-w{writer}-n{n}-i{i}")).collect();
                    let body = json!({
                        "visitorId": format!("v{writer}"), "sessionId": format!("s{round}-{writer}"), "pageId": format!("p{n}"),
                        "events": ids[..5].iter().map(|id| server::event(id, "START", "1")).collect::<Vec<_>>(),
                        "sdes": ids[5..].iter().map(|id| json!({"id": id, "sde": {"type": "cart", "total": n}})).collect::<Vec<_>>(),
                    });
                    match client.post(&url).json(&body).timeout(Duration::from_secs(5)).send().await {
                        Ok(response) if response.status() == 200 => {
                            let answer: Value = match response.json().await {
                                Ok(v) => v,
                                Err(_) => return,
                            };
                            assert_eq!(answer["accepted"], 10, "{answer}");
                            acknowledged.lock().unwrap().extend(ids);
                        }
                        // The server is gone: this writer is done for the round.
                        _ => return,
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(400 + 150 * round as u64)).await;
        server.kill();
        for w in writers {
            w.await.unwrap();
        }
    }

    let mut stored = HashSet::new();
    for kind in ["events", "sdes"] {
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
        for line in String::from_utf8(out.stdout).unwrap().lines() {
            let item: Value = serde_json::from_str(line).unwrap();
            assert!(
                stored.insert(item["id"].as_str().unwrap().to_owned()),
                "stored twice: {line}"
            );
        }
    }
    let acknowledged = acknowledged.lock().unwrap();
    assert!(
        acknowledged.len() > 1000,
        "the load was too small to prove anything: {}",
        acknowledged.len()
    );
    let lost: Vec<_> = acknowledged.difference(&stored).take(5).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged items are missing, e.g. {lost:?}",
        acknowledged.difference(&stored).count()
    );
}
