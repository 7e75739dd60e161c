//! `GET|PUT /api/account/{id}/retention` and the server's background sweep.

use std::time::Duration;

use engage_server::retention::RetentionSweep;
use engage_server::Limits;
use engage_store::{IngestBatch, NewSde, VisitContext};
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::TestServer;

async fn call(server: &TestServer, method: Method, body: Option<&str>) -> (u16, Value) {
    let mut request = server
        .client
        .request(
            method,
            format!("{}/api/account/{}/retention", server.url, server.account_id),
        )
        .bearer_auth(&server.api_key);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_owned());
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn retention_is_set_read_and_refused_with_the_member_at_fault() {
    let server = TestServer::start().await;
    assert_eq!(
        call(&server, Method::GET, None).await,
        (200, json!({"days": null}))
    );
    assert_eq!(
        call(&server, Method::PUT, Some(r#"{"days": 30}"#)).await,
        (200, json!({"days": 30}))
    );
    assert_eq!(
        call(&server, Method::GET, None).await,
        (200, json!({"days": 30}))
    );
    for (body, path) in [
        (r#"{"days": 0}"#, "/days"),
        (r#"{"days": 36501}"#, "/days"),
        (r#"{"days": "soon"}"#, "/days"),
        (r#"{"days": -1}"#, "/days"),
        (r#"{}"#, "/days"),
        (r#"{"days": 3, "weeks": 1}"#, "/weeks"),
    ] {
        let (status, answer) = call(&server, Method::PUT, Some(body)).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(answer["errors"][0]["path"], path, "{body}: {answer}");
    }
    let (status, answer) = call(&server, Method::PUT, Some("{")).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(
        call(&server, Method::PUT, Some(r#"{"days": null}"#)).await,
        (200, json!({"days": null}))
    );
    assert_eq!(
        call(&server, Method::GET, None).await,
        (200, json!({"days": null}))
    );
}

fn attribute(text: &str) -> NewSde {
    let tape = engage_model::Tape::parse_str(text).unwrap();
    NewSde {
        client_id: engage_store::ids::new_id(),
        client_time_ms: None,
        sde: engage_model::Sde::read_page(tape.root()).unwrap(),
    }
}

fn visit(account: &str, visitor: &str, received_ms: i64) -> IngestBatch {
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
        sdes: vec![attribute(
            r#"{"type":"personal","personal":{"firstname":"Old","contacts":[{"email":"old@expired.example"}]}}"#,
        )],
        rejected: Vec::new(),
    }
}

#[tokio::test]
async fn the_server_sweeps_what_is_past_the_accounts_retention_by_itself() {
    let server = TestServer::configured(Limits::default(), |state| {
        state.with_retention_sweep(RetentionSweep {
            every: Some(Duration::from_millis(100)),
            step_visits: 1,
            pause: Duration::from_millis(1),
        })
    })
    .await;
    let now = engage_store::ids::now_ms();
    let day = 86_400_000;
    for (visitor, age_days) in [("old-1", 3), ("old-2", 2), ("recent", 0)] {
        server
            .store
            .ingest(visit(
                &server.account_id,
                visitor,
                now - age_days * day - 1000,
            ))
            .await
            .unwrap();
    }
    assert_eq!(
        call(&server, Method::PUT, Some(r#"{"days": 1}"#)).await.0,
        200
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let old_1 = server
            .store
            .visitor_data(&server.account_id, "old-1")
            .await
            .unwrap();
        let old_2 = server
            .store
            .visitor_data(&server.account_id, "old-2")
            .await
            .unwrap();
        if old_1.is_none() && old_2.is_none() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the sweep did not run"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(server
        .store
        .visitor_data(&server.account_id, "recent")
        .await
        .unwrap()
        .is_some());
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("engage_retention_removed_rows_total{kind=\"visits\"} 2\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("engage_retention_removed_rows_total{kind=\"attributes\"} 2\n"),
        "{metrics}"
    );
}
