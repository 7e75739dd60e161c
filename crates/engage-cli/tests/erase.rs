//! `engage erase` offline: the erased visitor's values are in no file of the data
//! directory afterwards, the other visitor's are.

use std::process::Command;

use serde_json::{json, Value};

use crate::server::{self, ServerProcess};

fn occurs(dir: &std::path::Path, needle: &str) -> Vec<String> {
    let needle = needle.to_ascii_lowercase().into_bytes();
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let path = e.unwrap().path();
            let bytes = std::fs::read(&path).unwrap().to_ascii_lowercase();
            bytes
                .windows(needle.len())
                .any(|w| w == needle)
                .then(|| path.display().to_string())
        })
        .collect()
}

#[tokio::test]
async fn erase_removes_a_visitor_from_every_file_of_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let (account, _) = server::create_account(dir.path());
    let server = ServerProcess::start(dir.path());
    let client = reqwest::Client::new();
    for (visitor, secret) in [
        ("zzgonevisitor", "zzgonesecret"),
        ("keptvisitor", "keptsecret"),
    ] {
        for n in 0..20 {
            let body = json!({
                "visitorId": visitor, "sessionId": format!("{visitor}-s"), "pageId": format!("{visitor}-p{n}"),
                "page": {"url": format!("https://shop.example/{secret}/{n}"), "title": format!("{secret} title")},
                "events": [server::event(&format!("{visitor}-e{n}"), "START", "1")],
                "sdes": [{"id": format!("{visitor}-s{n}"), "time": 1700000000000u64,
                          "sde": {"type": "personal", "personal": {"firstname": secret,
                                  "contacts": [{"email": format!("{secret}@mail.example")}]}}}]
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
            assert_eq!(answer["accepted"], 2, "{answer}");
        }
    }
    drop(server);
    assert!(
        !occurs(dir.path(), "zzgonesecret").is_empty(),
        "the test data is on disk"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_engage"))
        .args([
            "erase",
            "--account",
            &account,
            "--visitor",
            "zzgonevisitor",
            "--data",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["removed"]["visitors"], 1, "{printed}");
    assert_eq!(printed["removed"]["events"], 20, "{printed}");
    assert_eq!(printed["removed"]["attributes"], 20, "{printed}");
    assert_eq!(printed["removed"]["pages"], 20, "{printed}");
    for gone in ["zzgonesecret", "zzgonevisitor"] {
        assert_eq!(occurs(dir.path(), gone), Vec::<String>::new(), "{gone}");
    }
    assert!(!occurs(dir.path(), "keptsecret").is_empty());

    let out = Command::new(env!("CARGO_BIN_EXE_engage"))
        .args(["erase", "--account", &account, "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_ne!(
        out.status.code(),
        Some(0),
        "neither --visitor nor --customer"
    );
}
