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

#[test]
fn account_keys_create_oauth1_list_and_revoke() {
    let dir = tempfile::tempdir().unwrap();
    let (account, _) = server::create_account(dir.path());
    let engage = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_engage"))
            .args(["account", "keys"])
            .args(args)
            .arg("--data")
            .arg(dir.path())
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stdout, stderr) = engage(&["create", "--account", &account, "--oauth1"]);
    assert_eq!(code, Some(0), "{stderr}");
    let key: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    let members = ["appKey", "appSecret", "accessToken", "accessTokenSecret"];
    for member in members {
        assert!(
            key[member].as_str().is_some_and(|v| v.len() == 32),
            "{member} in {key}"
        );
    }
    assert_eq!(key.as_object().unwrap().len(), 4, "{key}");
    let app_key = key["appKey"].as_str().unwrap();

    let (code, stdout, stderr) = engage(&["list", "--account", &account]);
    assert_eq!(code, Some(0), "{stderr}");
    let listed: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(listed.len(), 1, "{stdout}");
    assert_eq!(listed[0]["appKey"], app_key);
    for secret in ["appSecret", "accessTokenSecret"] {
        assert!(!stdout.contains(key[secret].as_str().unwrap()), "{stdout}");
    }

    let (code, _, stderr) = engage(&["create", "--account", &account]);
    assert_ne!(code, Some(0));
    assert!(stderr.contains("--oauth1"), "{stderr}");
    let (code, _, stderr) = engage(&["create", "--account", "1", "--oauth1"]);
    assert_ne!(code, Some(0));
    assert!(stderr.contains("unknown account"), "{stderr}");

    let (code, stdout, stderr) = engage(&["revoke", "--account", &account, "--app-key", app_key]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains(app_key));
    let (code, stdout, _) = engage(&["list", "--account", &account]);
    assert_eq!(code, Some(0));
    assert!(stdout.trim().is_empty(), "{stdout}");
    let (code, _, stderr) = engage(&["revoke", "--account", &account, "--app-key", app_key]);
    assert_ne!(code, Some(0));
    assert!(stderr.contains("no key"), "{stderr}");
}

/// A GET signed with OAuth 1.0a HMAC-SHA1 (parameters in the header).
async fn signed_get(url: &str, key: &Value, nonce: &str) -> u16 {
    use engage_server::oauth::{encode, sign};
    let timestamp = (engage_store::ids::now_ms() / 1000).to_string();
    let text = |member: &str| key[member].as_str().unwrap().to_owned();
    let oauth = [
        ("oauth_consumer_key", text("appKey")),
        ("oauth_nonce", nonce.to_owned()),
        ("oauth_signature_method", "HMAC-SHA1".to_owned()),
        ("oauth_timestamp", timestamp),
        ("oauth_token", text("accessToken")),
        ("oauth_version", "1.0".to_owned()),
    ];
    // Already in sorted order.
    let normalized: Vec<String> = oauth
        .iter()
        .map(|(n, v)| format!("{n}={}", encode(v)))
        .collect();
    let base = format!("GET&{}&{}", encode(url), encode(&normalized.join("&")));
    let signature = sign(&text("appSecret"), &text("accessTokenSecret"), &base);
    let header: Vec<String> = oauth
        .iter()
        .map(|(n, v)| (n.to_string(), v.clone()))
        .chain([("oauth_signature".to_owned(), signature)])
        .map(|(n, v)| format!("{n}=\"{}\"", encode(&v)))
        .collect();
    reqwest::Client::new()
        .get(url)
        .header("Authorization", format!("OAuth {}", header.join(", ")))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Every file under `dir` (the database, its log, the key file), as bytes.
fn files_under(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push((path.clone(), std::fs::read(&path).unwrap()));
        }
    }
    out
}

#[tokio::test]
async fn oauth_secrets_are_sealed_in_the_database_with_a_key_kept_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let (account, _) = server::create_account(dir.path());
    let out = Command::new(env!("CARGO_BIN_EXE_engage"))
        .args([
            "account",
            "keys",
            "create",
            "--account",
            &account,
            "--oauth1",
            "--data",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let key: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();

    let key_file = dir.path().join("secret.key");
    for (path, bytes) in files_under(dir.path()) {
        for secret in ["appSecret", "accessTokenSecret"] {
            let secret = key[secret].as_str().unwrap().as_bytes();
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret),
                "{} holds a secret in clear",
                path.display()
            );
        }
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    let listed = Command::new(env!("CARGO_BIN_EXE_engage"))
        .args(["account", "keys", "list", "--account", &account, "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed["sealed"], true, "{listed}");

    // The server opens them with the same key file and verifies signatures...
    let campaigns =
        |server: &ServerProcess| format!("{}/api/account/{account}/campaigns", server.url);
    let serving = ServerProcess::start(dir.path());
    assert_eq!(signed_get(&campaigns(&serving), &key, "n-1").await, 200);
    drop(serving);
    // ... and with another key file cannot: the database alone gives nothing away.
    let other = tempfile::tempdir().unwrap();
    let other_key = other.path().join("other.key");
    let elsewhere = ServerProcess::start_with(
        dir.path(),
        &["--secret-key-file", other_key.to_str().unwrap()],
    );
    assert_eq!(signed_get(&campaigns(&elsewhere), &key, "n-2").await, 401);
}
