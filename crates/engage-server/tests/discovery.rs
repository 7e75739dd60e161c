//! LivePerson's Domain API: clients look their API host up before calling the API.
//!
//! The request is the one printed on developer-center's
//! `pages/documents/GettingStarted/retrieve_API_Domains.md`
//! (`GET .../api/account/{accountId}/service/{serviceName}/baseURI.json?version=1.0`);
//! the service names are those the Engagement History API's overview (`engHistDomain`)
//! and the Monitoring API's getting-started page (`smt`) tell clients to look up.

use serde_json::{json, Value};

use crate::common;
use common::TestServer;

/// `GET path` with no key, as a LivePerson client asks: status, the
/// `Access-Control-Allow-Origin` header and the JSON answer.
async fn get(server: &TestServer, path: &str) -> (u16, Option<String>, Value) {
    let response = server
        .client
        .get(format!("{}{path}", server.url))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let cors = response
        .headers()
        .get("access-control-allow-origin")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, cors, response.json().await.unwrap())
}

/// What clients reach the test server at: its listen address, without a scheme.
fn host(server: &TestServer) -> &str {
    server.url.strip_prefix("http://").unwrap()
}

#[tokio::test]
async fn the_documented_request_answers_the_host_of_each_implemented_service() {
    let server = TestServer::start().await;
    let account = &server.account_id;
    for service in ["engHistDomain", "smt"] {
        let (status, cors, body) = get(
            &server,
            &format!("/api/account/{account}/service/{service}/baseURI.json?version=1.0"),
        )
        .await;
        assert_eq!(status, 200, "{service}: {body}");
        assert_eq!(
            body,
            json!({"service": service, "account": account, "baseURI": host(&server)})
        );
        assert_eq!(cors.as_deref(), Some("*"), "public, as in LivePerson");
    }
}

#[tokio::test]
async fn every_service_at_once_in_the_documented_base_uris_shape() {
    let server = TestServer::start().await;
    let account = &server.account_id;
    let (status, _, body) = get(
        &server,
        &format!("/api/account/{account}/service/baseURI.json?version=1.0"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"baseURIs": [
            {"service": "engHistDomain", "account": account, "baseURI": host(&server)},
            {"service": "smt", "account": account, "baseURI": host(&server)},
        ]})
    );
}

#[tokio::test]
async fn the_answered_host_serves_the_api_it_was_asked_for() {
    let server = TestServer::start().await;
    let account = &server.account_id;
    let (_, _, body) = get(
        &server,
        &format!("/api/account/{account}/service/engHistDomain/baseURI.json?version=1.0"),
    )
    .await;
    let base = body["baseURI"].as_str().unwrap();
    let search = server
        .client
        .post(format!(
            "http://{base}/interaction_history/api/account/{account}/interactions/search"
        ))
        .bearer_auth(&server.api_key)
        .json(&json!({"start": {"from": 1_700_000_000_000u64, "to": 1_700_086_400_000u64}}))
        .send()
        .await
        .unwrap();
    assert_eq!(search.status(), 200);
}

#[tokio::test]
async fn a_service_engage_does_not_implement_is_not_found() {
    let server = TestServer::start().await;
    let account = &server.account_id;
    // `agentVep` is a documented LivePerson service Engage does not have; names are
    // case sensitive, as the Domain API page says.
    for service in ["agentVep", "EngHistDomain", "SMT", "nope"] {
        let (status, _, body) = get(
            &server,
            &format!("/api/account/{account}/service/{service}/baseURI.json?version=1.0"),
        )
        .await;
        assert_eq!(status, 404, "{service}: {body}");
        assert_eq!(body["code"], "not_found");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(service), "{message}");
        assert!(message.contains("engHistDomain, smt"), "{message}");
    }
}

#[tokio::test]
async fn an_unknown_account_is_not_found() {
    let server = TestServer::start().await;
    for path in [
        "/api/account/00000000/service/smt/baseURI.json?version=1.0",
        "/api/account/00000000/service/baseURI.json?version=1.0",
    ] {
        let (status, cors, body) = get(&server, path).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert_eq!(body["code"], "unknown_account");
        assert_eq!(cors.as_deref(), Some("*"), "a page may read the error too");
    }
}

#[tokio::test]
async fn a_missing_or_other_version_is_a_bad_request_naming_the_parameter() {
    let server = TestServer::start().await;
    let account = &server.account_id;
    let base = format!("/api/account/{account}/service/smt/baseURI.json");
    for (query, path) in [
        ("", "?version"),
        ("?version=2.0", "?version"),
        ("?version=", "?version"),
        ("?version=1.0&version=1.0", "?version"),
        ("?version=1.0&v=1.0", "?v"),
    ] {
        let (status, _, body) = get(&server, &format!("{base}{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["code"], "invalid_request");
        assert_eq!(body["errors"][0]["path"], path, "{query}: {body}");
    }
    let (status, _, _) = get(
        &server,
        &format!("/api/account/{account}/service/baseURI.json?version=1"),
    )
    .await;
    assert_eq!(status, 400, "the all-services form checks the version too");
}
