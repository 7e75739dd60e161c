//! Running the real `engage` binary: accounts, a server process, events.
// Test helpers unwrap: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub fn create_account(data: &Path) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_engage"))
        .args(["account", "create", "--name", "Test shop", "--data"])
        .arg(data)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    (
        printed["accountId"].as_str().unwrap().to_owned(),
        printed["apiKey"].as_str().unwrap().to_owned(),
    )
}

/// `engage serve` flags that turn the public routes' rate limits off, for tests that load
/// a server from one address as fast as it answers.
pub const NO_RATE_LIMITS: [&str; 4] = ["--rate-limit-per-ip", "0", "--rate-limit-per-account", "0"];

/// `engage serve` on a free port; killed when dropped.
pub struct ServerProcess {
    pub child: Child,
    pub url: String,
}

impl ServerProcess {
    pub fn start(data: &Path) -> ServerProcess {
        ServerProcess::start_with(data, &[])
    }

    /// `engage serve` with more arguments after `--listen` and `--data`.
    pub fn start_with(data: &Path, args: &[&str]) -> ServerProcess {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_engage"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data"])
            .arg(data)
            .args(args)
            .env("ENGAGE_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let server = ServerProcess {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "engage serve did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    pub fn events_url(&self, account: &str) -> String {
        format!("{}/api/account/{account}/events", self.url)
    }

    /// `kill -9`: no shutdown, no flush.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn event(id: &str, name: &str, context: &str) -> Value {
    json!({
        "id": id, "time": 1700000000000u64, "appName": "LP_OFFERS", "eventName": name,
        "data": {"contexts": [{"EngagementContext": {"id": "1"}}, {"pageContext": {"id": "p1"}}],
                 "campaignId": 1, "engagementId": 2, "engagementRevision": 3, "engagementType": 1,
                 "contextId": context, "state": 1, "confKey": "1_2_3", "tglName": "overlay", "done": true,
                 "engagementName": "Overlay"}
    })
}
