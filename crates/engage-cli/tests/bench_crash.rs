//! `engage bench crash` end to end, with a few cycles: SIGKILL under load, restarts, and
//! every acknowledged id read back from the store.

use std::process::Command;

use serde_json::Value;

#[test]
fn bench_crash_finds_every_acknowledged_item_after_repeated_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_engage"))
        .args(["bench", "crash", "--cycles", "3", "--concurrency", "4"])
        .arg("--data")
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let figures: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(figures["cycles"], 3, "{figures}");
    assert_eq!(figures["lost"], 0, "{figures}");
    assert!(
        figures["acknowledged"].as_u64().unwrap() >= 100,
        "too little load to prove anything: {figures}\n{stderr}"
    );
    assert_eq!(stderr.matches("cycle ").count(), 3, "{stderr}");
}
