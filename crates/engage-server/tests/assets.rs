//! `GET /tag/tag.js?site={accountId}`: the tag compiled into the binary, over real HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::io::Read;

use common::TestServer;

const TAG_MIN: &str = include_str!("../../../tag/dist/tag.min.js");

fn client() -> reqwest::Client {
    // reqwest without its gzip feature sends no Accept-Encoding and never decodes: the
    // test sees the bytes as served.
    reqwest::Client::new()
}

#[tokio::test]
async fn the_tag_is_served_as_javascript_with_cache_headers() {
    let server = TestServer::start().await;
    let url = format!("{}/tag/tag.js?site={}", server.url, server.account_id);
    let response = client().get(&url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let h = response.headers().clone();
    assert_eq!(h["content-type"], "application/javascript; charset=utf-8");
    assert!(h["cache-control"].to_str().unwrap().contains("max-age=300"));
    assert!(h["etag"].to_str().unwrap().starts_with('"'));
    assert_eq!(h["vary"], "Accept-Encoding");
    assert!(h.get("content-encoding").is_none());
    let body = response.text().await.unwrap();
    assert_eq!(body, TAG_MIN);
    assert!(
        body.contains("lpTag"),
        "the minified tag installs window.lpTag"
    );
}

#[tokio::test]
async fn the_tag_is_gzipped_when_the_client_accepts_it() {
    let server = TestServer::start().await;
    let url = format!("{}/tag/tag.js?site={}", server.url, server.account_id);
    let response = client()
        .get(&url)
        .header("accept-encoding", "br, gzip;q=0.8")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-encoding"], "gzip");
    let compressed = response.bytes().await.unwrap();
    assert!(
        compressed.len() <= 8 * 1024,
        "the tag is {} bytes gzipped, over the 8 KB budget",
        compressed.len()
    );
    let mut text = String::new();
    flate2::read::GzDecoder::new(&compressed[..])
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text, TAG_MIN);

    let refused = client()
        .get(&url)
        .header("accept-encoding", "gzip;q=0")
        .send()
        .await
        .unwrap();
    assert!(refused.headers().get("content-encoding").is_none());
    assert_eq!(refused.text().await.unwrap(), TAG_MIN);
}

#[tokio::test]
async fn the_action_renderers_are_served_beside_the_tag() {
    let server = TestServer::start().await;
    let response = client()
        .get(format!("{}/tag/actions.js", server.url))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/javascript; charset=utf-8"
    );
    assert_eq!(response.headers()["content-encoding"], "gzip");
    let compressed = response.bytes().await.unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&compressed[..])
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text, include_str!("../../../tag/dist/actions.min.js"));
    assert!(text.contains("ENGAGE_ACTION"));
}

#[tokio::test]
async fn a_known_etag_is_answered_304_without_a_body() {
    let server = TestServer::start().await;
    let url = format!("{}/tag/tag.js?site={}", server.url, server.account_id);
    let first = client().get(&url).send().await.unwrap();
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let again = client()
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"].to_str().unwrap(), etag);
    assert!(again.bytes().await.unwrap().is_empty());
    let other = client()
        .get(&url)
        .header("if-none-match", "\"something-else\"")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200);
}

#[tokio::test]
async fn head_answers_the_headers_only() {
    let server = TestServer::start().await;
    let url = format!("{}/tag/tag.js?site={}", server.url, server.account_id);
    let response = client().head(&url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/javascript; charset=utf-8"
    );
    assert!(response.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn tag_requests_are_counted_in_metrics() {
    let server = TestServer::start().await;
    client()
        .get(format!("{}/tag/tag.js?site=1", server.url))
        .send()
        .await
        .unwrap();
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("route=\"tag_js\""),
        "no tag_js line in:\n{metrics}"
    );
}

#[tokio::test]
async fn the_demo_shop_is_served_from_the_binary() {
    let server = TestServer::start().await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let bare = no_redirects
        .get(format!("{}/demo", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 308);
    assert_eq!(bare.headers()["location"], "/demo/");

    let home = client()
        .get(format!("{}/demo/?site={}", server.url, server.account_id))
        .send()
        .await
        .unwrap();
    assert_eq!(home.status(), 200);
    assert_eq!(home.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(home.headers()["cache-control"], "no-cache");
    let html = home.text().await.unwrap();
    assert!(html.contains("Demo.page("), "{html}");

    for (file, content_type) in [
        ("products.html", "text/html; charset=utf-8"),
        ("product.html", "text/html; charset=utf-8"),
        ("cart.html", "text/html; charset=utf-8"),
        ("checkout.html", "text/html; charset=utf-8"),
        ("demo.js", "application/javascript; charset=utf-8"),
        ("demo.css", "text/css; charset=utf-8"),
    ] {
        let response = client()
            .get(format!("{}/demo/{file}", server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{file}");
        assert_eq!(response.headers()["content-type"], content_type, "{file}");
    }

    let missing = client()
        .get(format!("{}/demo/../Cargo.toml", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let unknown = client()
        .get(format!("{}/demo/secret.txt", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let body: serde_json::Value = unknown.json().await.unwrap();
    assert_eq!(body["code"], "not_found");
}
