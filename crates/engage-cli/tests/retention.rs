//! `engage retention run`: what is past the account's retention is removed now.

use std::process::Command;

use engage_store::{IngestBatch, NewSde, VisitContext};
use serde_json::Value;

use crate::server;

fn visit(account: &str, visitor: &str, received_ms: i64) -> IngestBatch {
    let tape =
        engage_model::Tape::parse_str(r#"{"type":"searchInfo","keywords":["boots"]}"#).unwrap();
    IngestBatch {
        account_id: account.to_owned(),
        received_ms,
        visit: Some(VisitContext {
            visitor_id: visitor.to_owned(),
            session_id: format!("{visitor}-s"),
            page_id: format!("{visitor}-p"),
            page: None,
            user_agent: None,
            client: None,
        }),
        events: Vec::new(),
        sdes: vec![NewSde {
            client_id: engage_store::ids::new_id(),
            client_time_ms: None,
            sde: engage_model::Sde::read_page(tape.root()).unwrap(),
        }],
        rejected: Vec::new(),
    }
}

#[tokio::test]
async fn retention_run_removes_what_is_past_the_accounts_retention() {
    let dir = tempfile::tempdir().unwrap();
    let (account, _) = server::create_account(dir.path());
    let url = format!("sqlite://{}", dir.path().join("engage.db").display());
    let now = engage_store::ids::now_ms();
    {
        let store = engage_store::open(&url).await.unwrap();
        store
            .ingest(visit(&account, "old", now - 3 * 86_400_000))
            .await
            .unwrap();
        store.ingest(visit(&account, "recent", now)).await.unwrap();
        store.set_retention(&account, Some(2)).await.unwrap();
        store.close().await.unwrap();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_engage"))
        .args(["retention", "run", "--step-visits", "1", "--data"])
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
    assert_eq!(printed["removed"]["visits"], 1, "{printed}");
    assert_eq!(printed["removed"]["attributes"], 1, "{printed}");
    let store = engage_store::open(&url).await.unwrap();
    assert_eq!(store.visitor_data(&account, "old").await.unwrap(), None);
    assert!(store
        .visitor_data(&account, "recent")
        .await
        .unwrap()
        .is_some());
    store.close().await.unwrap();
}
