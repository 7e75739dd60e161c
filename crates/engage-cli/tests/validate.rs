//! `engage validate` as its public contract says: exit 0 and the canonical form on
//! stdout, or exit 1 and `<JSON pointer>: <message>` lines on stderr.
#![allow(clippy::unwrap_used)] // test helpers: a panic is a failed test

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

fn validate_stdin(input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_engage"))
        .arg("validate")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn a_valid_page_shape_sde_prints_its_history_shape_and_exits_0() {
    let out = validate_stdin(
        r#"{"type":"ctmrinfo","info":{"cstatus":"cancelled","ctype":"vip","balance":-400.99,"lastPaymentDate":{"day":15,"month":10,"year":2014}}}"#,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        printed,
        json!({"sdes": {"events": [{"customerInfo": {"customerInfo": {
            "customerStatus": "cancelled", "customerType": "vip", "balance": "-400.99",
            "lastPaymentDate": {"year": "2014", "month": "10", "day": "15"}}}}]}})
    );
    assert!(out.stderr.is_empty());
}

#[test]
fn an_event_prints_in_canonical_form_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("event.json");
    std::fs::write(
        &path,
        r#"{"appName":"LP_OFFERS","eventName":"OFFER_CLICK","data":{"contexts":[{"engagementContext":{"id":"2"}},{"PageContext":{"id":"1738225948"}}],"campaignId":"248955910","engagementId":248956110,"engagementRevision":14,"engagementType":6,"contextId":"2","state":2,"confKey":"248955910_248956110_14","tglName":"overlay"}}"#,
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_engage"))
        .arg("validate")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["eventName"], "OFFER_CLICK");
    assert_eq!(printed["data"]["campaignId"], 248955910);
    assert_eq!(
        printed["data"]["contexts"],
        json!([{"EngagementContext": {"id": "2"}}, {"pageContext": {"id": "1738225948"}}])
    );
}

#[test]
fn invalid_input_exits_1_with_one_pointer_line_per_problem() {
    let out = validate_stdin(
        r#"[{"type":"mrktInfo","info":{"channel":7}},{"type":"service","service":{"status":"14"}},{"type":"cart","total":1}]"#,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<_> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(lines[0].starts_with("/0/info/channel: "), "{stderr}");
    assert!(lines[1].starts_with("/1/service/status: "), "{stderr}");
}

#[test]
fn malformed_json_and_a_missing_file_are_reported() {
    let out = validate_stdin("{\"type\": ");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with(": malformed JSON"));
    let out = Command::new(env!("CARGO_BIN_EXE_engage"))
        .args(["validate", "/no/such/file.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read /no/such/file.json"));
}
