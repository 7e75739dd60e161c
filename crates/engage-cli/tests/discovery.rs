//! `engage serve --public-url`: the host LivePerson's Domain API answers.
#![allow(clippy::unwrap_used)] // a panic is a failed test

use std::process::Command;

use serde_json::{json, Value};

use crate::server::{create_account, ServerProcess};

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
    let (account, _) = create_account(dir.path());

    let listening = ServerProcess::start(dir.path());
    let listen = listening.url.strip_prefix("http://").unwrap().to_owned();
    assert_eq!(
        base_uri(&listening, &account).await,
        json!({"service": "smt", "account": account, "baseURI": listen}),
        "by default, the listen address"
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
