//! `engage serve --public-url`: the host LivePerson's Domain API answers and the History
//! API's links name.
#![allow(clippy::unwrap_used)] // a panic is a failed test

use std::process::Command;

use serde_json::{json, Value};

use crate::server::{create_account, ServerProcess};

/// The History API's `_metadata.self.href` for a search that finds nothing.
async fn self_link(server: &ServerProcess, account: &str, key: &str) -> String {
    let answer: Value = reqwest::Client::new()
        .post(format!(
            "{}/interaction_history/api/account/{account}/interactions/search?limit=5",
            server.url
        ))
        .bearer_auth(key)
        .json(&json!({"start": {"from": 1_700_000_000_000u64, "to": 1_700_086_400_000u64}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["_metadata"]["self"]["href"]
        .as_str()
        .unwrap_or_else(|| panic!("no _metadata.self.href in {answer}"))
        .to_owned()
}

async fn base_uri(server: &ServerProcess, account: &str) -> Value {
    reqwest::get(format!(
        "{}/api/account/{account}/service/smt/baseURI.json?version=1.0",
        server.url
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap()
}

#[tokio::test]
async fn public_url_changes_the_host_clients_are_told_to_call() {
    let dir = tempfile::tempdir().unwrap();
    let (account, key) = create_account(dir.path());

    let listening = ServerProcess::start(dir.path());
    let listen = listening.url.strip_prefix("http://").unwrap().to_owned();
    assert_eq!(
        base_uri(&listening, &account).await,
        json!({"service": "smt", "account": account, "baseURI": listen}),
        "by default, the listen address"
    );
    let link = self_link(&listening, &account, &key).await;
    assert!(
        link.starts_with(&format!(
            "{}/interaction_history/api/account/{account}/interactions/search?offset=0&limit=5",
            listening.url
        )),
        "without --public-url, links follow the request's host: {link}"
    );
    drop(listening);

    let public = ServerProcess::start_with(
        dir.path(),
        &["--public-url", "https://engage.example:8443/"],
    );
    assert_eq!(
        base_uri(&public, &account).await,
        json!({"service": "smt", "account": account, "baseURI": "engage.example:8443"})
    );
    let link = self_link(&public, &account, &key).await;
    assert!(
        link.starts_with(&format!(
            "https://engage.example:8443/interaction_history/api/account/{account}/interactions/search?offset=0&limit=5"
        )),
        "with --public-url, links name it whatever host the request was sent to: {link}"
    );
}

#[test]
fn a_public_url_that_is_not_an_http_url_stops_the_server_before_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    for url in [
        "engage.example",
        "ftp://engage.example",
        "https://engage.example/engage",
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_engage"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--public-url",
                url,
                "--data",
            ])
            .arg(dir.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{url}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("--public-url"), "{url}: {stderr}");
        assert!(stderr.contains("invalid public URL"), "{url}: {stderr}");
    }
    assert!(
        std::fs::read_dir(dir.path()).unwrap().next().is_none(),
        "no store was opened"
    );
}
