//! The API description against the router: every route of [`engage_server::route_table`]
//! is in `GET /api/openapi.json` (method and path), and every operation the document
//! names is a route the router serves; `GET /api/docs` shows it under the console's
//! Content-Security-Policy.

use std::collections::BTreeSet;

use engage_server::route_table;
use serde_json::Value;

use crate::common::TestServer;

/// The routes that are the console's user interface, not the API: its pages, the scripts'
/// writes a signed-in session makes, its files and the favicon it answers. They are
/// documented in docs/console.md, and take a session cookie and a CSRF token rather than
/// a key, so an API client has nothing to call there.
fn is_user_interface(path: &str) -> bool {
    path == "/console" || path.starts_with("/console/") || path == "/favicon.ico"
}

async fn document(server: &TestServer) -> Value {
    let response = server
        .client
        .get(format!("{}/api/openapi.json", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    response.json().await.unwrap()
}

fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "put", "post", "delete", "options", "patch", "head"]
                .contains(&method.as_str())
            {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

fn served() -> BTreeSet<(String, String)> {
    route_table()
        .into_iter()
        .filter(|r| !is_user_interface(r.path))
        .map(|r| (r.method.as_str().to_owned(), r.path.to_owned()))
        .collect()
}

#[tokio::test]
async fn every_route_of_the_router_is_in_the_document() {
    let server = TestServer::start().await;
    let doc = document(&server).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let documented = documented(&doc);
    let missing: Vec<String> = served()
        .difference(&documented)
        .map(|(method, path)| format!("{method} {path}"))
        .collect();
    assert!(
        missing.is_empty(),
        "routes the router serves that the OpenAPI document does not describe:\n  {}",
        missing.join("\n  ")
    );
}

#[tokio::test]
async fn every_operation_of_the_document_is_a_route_of_the_router() {
    let server = TestServer::start().await;
    let doc = document(&server).await;
    let served = served();
    let unknown: Vec<String> = documented(&doc)
        .difference(&served)
        .map(|(method, path)| format!("{method} {path}"))
        .collect();
    assert!(
        unknown.is_empty(),
        "operations the document describes that the router does not serve:\n  {}",
        unknown.join("\n  ")
    );
    // And the router answers them: a documented path is not the fallback's 404.
    let healthz = server
        .client
        .get(format!("{}/healthz", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(healthz.status(), 200);
}

#[tokio::test]
async fn every_operation_answers_errors_with_a_documented_body() {
    let server = TestServer::start().await;
    let doc = document(&server).await;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let Some(responses) = op["responses"].as_object() else {
                continue;
            };
            assert!(!responses.is_empty(), "{method} {path}: no responses");
            for (status, response) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    let schema = &response["content"]["application/json"]["schema"]["$ref"];
                    assert!(
                        schema == "#/components/schemas/Error"
                            || schema == "#/components/schemas/MonitoringErrorBody",
                        "{method} {path} {status}: the error body is not described ({response})"
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn the_docs_page_shows_every_operation_under_the_console_csp() {
    let server = TestServer::start().await;
    let doc = document(&server).await;
    let response = server
        .client
        .get(format!("{}/api/docs", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-security-policy"],
        engage_server::console::page::CONTENT_SECURITY_POLICY
    );
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let page = response.text().await.unwrap();
    for (method, path) in documented(&doc) {
        assert!(
            page.contains(&format!("<code>{method} {path}</code>")),
            "{method} {path} is not on /api/docs"
        );
    }
    // Nothing from another origin, and no script but the console's own.
    assert!(!page.contains("src=\"http"), "{page}");
    assert!(!page.contains("href=\"http"), "{page}");
    assert!(!page.contains("<script>"), "an inline script");
    // The examples of docs/api.md are shown.
    assert!(page.contains("Slide-out chat button"));
    assert!(page.contains("unknown app installation"));
}
