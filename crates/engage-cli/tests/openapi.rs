//! `engage openapi`: the server's description, printed without a server.

use std::process::Command;

use serde_json::Value;

use crate::server::ServerProcess;

#[tokio::test]
async fn engage_openapi_prints_what_the_server_serves() {
    let out = Command::new(env!("CARGO_BIN_EXE_engage"))
        .arg("openapi")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["openapi"], "3.1.0");
    assert!(printed["paths"]["/api/account/{account_id}/events"]["post"].is_object());

    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path());
    let served: Value = reqwest::get(format!("{}/api/openapi.json", server.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(printed, served);
}
