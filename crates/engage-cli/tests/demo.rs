//! `engage serve --demo`: a newcomer gets an account whose engagements show on the demo shop.
#![allow(clippy::unwrap_used)] // a panic is a failed test

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::{json, Value};

#[tokio::test]
async fn serve_demo_prints_an_account_whose_campaign_targets_the_demo_pages() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_engage"))
        .args([
            "serve",
            "--demo",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data",
        ])
        .arg(dir.path())
        .env("ENGAGE_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let printed: Value = serde_json::from_str(&line).unwrap();
    let account = printed["accountId"].as_str().unwrap().to_owned();
    assert!(printed["apiKey"].as_str().unwrap().starts_with("ek_"));

    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let page = client
        .get(format!("{base}/demo/?site={account}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let mut shown = Vec::new();
    for sections in [
        json!(["home"]),
        json!(["shop", "checkout"]),
        json!(["shop", "catalog"]),
    ] {
        let decision: Value = client
            .post(format!("{base}/api/account/{account}/decision"))
            .json(&json!({"visitorId": "v", "sessionId": "s", "pageId": "p", "url": format!("{base}/demo/"), "sections": sections}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        shown.push(
            decision["engagements"][0]["engagementType"]
                .as_u64()
                .unwrap(),
        );
    }
    assert_eq!(
        shown,
        [5, 1, 6],
        "embedded on home, overlay at checkout, sticky in the catalog"
    );
    let _ = child.kill();
    let _ = child.wait();
}
