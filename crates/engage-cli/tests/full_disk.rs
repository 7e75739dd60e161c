//! A full disk: the data directory on an 8 MB tmpfs, filled up with a ballast file while
//! the server takes collect batches. Writes answer 503 with `Retry-After`, reads go on,
//! the server stays up, nothing acknowledged is lost, and writes come back by themselves
//! once the ballast is removed. Needs root (mount); without it the test fails, saying why.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::server::{self, ServerProcess};

/// A tmpfs mounted at a directory for the test's lifetime.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .unwrap_or_else(|e| panic!("cannot run mount (the test needs it, as root): {e}"));
        assert!(
            out.status.success(),
            "cannot mount a {size} tmpfs at {} (the test needs root): {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(dir.to_owned())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// Writes zeros into `path` until the file system refuses; returns the bytes written.
fn fill_up(path: &Path) -> u64 {
    let mut file = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    let mut written = 0u64;
    loop {
        match file.write(&chunk) {
            Ok(0) => break,
            Ok(n) => written += n as u64,
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(28), "expected ENOSPC, got {e}");
                break;
            }
        }
    }
    // Whatever is left is smaller than a chunk: take it too, a byte at a time is too slow,
    // so halve the chunk until nothing fits.
    let mut size = chunk.len() / 2;
    while size > 0 {
        match file.write(&chunk[..size]) {
            Ok(n) if n > 0 => written += n as u64,
            _ => size /= 2,
        }
    }
    let _ = file.sync_all();
    written
}

/// A collect batch of 10 items (5 events of the visit's engagement context, 5 cart SDEs with a
/// 2 KB attribute each, so the log grows quickly); returns it with its ids.
fn batch(tag: &str) -> (Value, Vec<String>) {
    let ids: Vec<String> = (0..10).map(|i| format!("{tag}-i{i}")).collect();
    let padding = "x".repeat(2_000);
    let body = json!({
        "visitorId": "v-full", "sessionId": "s-full", "pageId": format!("p-{tag}"),
        "events": ids[..5].iter().map(|id| server::event(id, "START", "1")).collect::<Vec<_>>(),
        "sdes": ids[5..].iter().map(|id| json!({"id": id, "sde": {"type": "cart", "total": 1, "currency": "USD",
            "products": [{"product": {"name": padding, "sku": id}, "quantity": 1}]}})).collect::<Vec<_>>(),
    });
    (body, ids)
}

async fn post_batch(
    client: &reqwest::Client,
    url: &str,
    tag: &str,
) -> (u16, Option<String>, Value, Vec<String>) {
    let (body, ids) = batch(tag);
    let response = client.post(url).json(&body).send().await.unwrap();
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    (status, retry_after, answer, ids)
}

async fn search(
    client: &reqwest::Client,
    server: &ServerProcess,
    account: &str,
    key: &str,
) -> (u16, Value) {
    let response = client
        .post(format!(
            "{}/interaction_history/api/account/{account}/interactions/search?limit=5",
            server.url
        ))
        .bearer_auth(key)
        .json(&json!({"start": {"from": 0, "to": 4_000_000_000_000u64}, "visitor": "v-full"}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn exported_ids(data: &Path, account: &str) -> HashSet<String> {
    let mut stored = HashSet::new();
    for kind in ["events", "sdes"] {
        let out = Command::new(env!("CARGO_BIN_EXE_engage"))
            .args(["export", "--account", account, "--kind", kind, "--data"])
            .arg(data)
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
            stored.insert(item["id"].as_str().unwrap().to_owned());
        }
    }
    stored
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_writes_with_503_keeps_reads_and_recovers_when_space_returns() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let tmpfs = Tmpfs::mount(&data, "8m");
    let (account, key) = server::create_account(&data);
    let mut server = ServerProcess::start(&data);
    let url = server.events_url(&account);
    let client = reqwest::Client::new();
    let mut acknowledged: HashSet<String> = HashSet::new();

    for n in 0..5 {
        let (status, _, answer, ids) = post_batch(&client, &url, &format!("before{n}")).await;
        assert_eq!(status, 200, "{answer}");
        acknowledged.extend(ids);
    }

    let app: Value = client
        .post(format!("{}/api/account/{account}/apps", server.url))
        .bearer_auth(&key)
        .json(&json!({"name": "Android app"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let app = app["appInstallationId"].as_str().unwrap().to_owned();

    let ballast = data.join("ballast");
    let filled = fill_up(&ballast);
    assert!(filled > 0, "the ballast took no space");

    // The log still has room it reuses; writes fail once it must grow.
    let mut refused = None;
    for n in 0..2_000 {
        let (status, retry_after, answer, ids) =
            post_batch(&client, &url, &format!("full{n}")).await;
        match status {
            200 => {
                assert_eq!(answer["accepted"], 10, "{answer}");
                acknowledged.extend(ids);
            }
            503 => {
                refused = Some((retry_after, answer));
                break;
            }
            other => panic!("a write on a full disk answered {other}: {answer}"),
        }
    }
    let (retry_after, answer) = refused.expect("2,000 batches went into a full 8 MB file system");
    assert_eq!(answer["code"], "storage_unavailable", "{answer}");
    let seconds: u64 = retry_after
        .expect("a 503 without Retry-After")
        .parse()
        .unwrap();
    assert!(seconds >= 1);

    // Still full: every write is refused the same way, and the server stays up and reads.
    for n in 0..5 {
        let (status, retry_after, answer, _) =
            post_batch(&client, &url, &format!("still{n}")).await;
        assert_eq!(status, 503, "{answer}");
        assert!(retry_after.is_some());
    }
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the server died on a full disk"
    );
    let health = client
        .get(format!("{}/healthz", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let (status, found) = search(&client, &server, &account, &key).await;
    assert_eq!(status, 200, "{}", found["_metadata"]);
    // One engagement context: the interaction written before the disk filled up.
    assert_eq!(found["_metadata"]["count"], 1, "{}", found["_metadata"]);
    let decision = client
        .post(format!("{}/api/account/{account}/decision", server.url))
        .json(
            &json!({"visitorId": "v-full", "sessionId": "s-full", "url": "https://shop.example/"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(decision.status(), 200);

    // The other writers answer the same way: an admin write, and the Monitoring API in
    // its own error shape.
    let campaign = client
        .post(format!("{}/api/account/{account}/campaigns", server.url))
        .bearer_auth(&key)
        .json(&json!({"name": "Spring sale", "priority": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(campaign.status(), 503);
    assert!(campaign.headers().contains_key("retry-after"));
    let monitoring = client
        .post(format!(
            "{}/api/account/{account}/app/{app}/engagement?v=1.1",
            server.url
        ))
        .json(&json!({"entryPoints": ["https://shop.example/"], "engagementAttributes": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(monitoring.status(), 503);
    assert!(monitoring.headers().contains_key("retry-after"));
    let monitoring: Value = monitoring.json().await.unwrap();
    assert_eq!(monitoring["internalCode"], 18, "{monitoring}");

    // Space returns: writes come back by themselves, without a restart.
    std::fs::remove_file(&ballast).unwrap();
    let started = Instant::now();
    let mut n = 0;
    loop {
        let (status, _, answer, ids) = post_batch(&client, &url, &format!("after{n}")).await;
        n += 1;
        if status == 200 {
            acknowledged.extend(ids);
            break;
        }
        assert_eq!(status, 503, "{answer}");
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "writes did not come back: {answer}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for m in 0..5 {
        let (status, _, answer, ids) = post_batch(&client, &url, &format!("later{m}")).await;
        assert_eq!(status, 200, "{answer}");
        acknowledged.extend(ids);
    }

    // Every acknowledged item is stored (read after a kill -9, from the disk).
    let _ = server.child.kill();
    let _ = server.child.wait();
    drop(server);
    let stored = exported_ids(&data, &account);
    let lost: Vec<_> = acknowledged.difference(&stored).take(5).collect();
    assert!(lost.is_empty(), "acknowledged but not stored: {lost:?}");
    assert!(
        !stored.iter().any(|id| id.starts_with("still")),
        "a refused write was stored"
    );
    drop(tmpfs);
}
