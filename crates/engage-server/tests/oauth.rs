//! OAuth 1.0a (RFC 5849, HMAC-SHA1) signed requests on the routes that take a Bearer key:
//! signed here by a client written from the RFC, in the header and in the query.

use base64::Engine;
use engage_store::OAuthKey;
use hmac::{Hmac, Mac};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{json, Value};
use sha1::Sha1;

use crate::common::TestServer;

/// RFC 5849 section 3.6: only ALPHA, DIGIT, `-`, `.`, `_`, `~` stay as they are.
const RESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn enc(text: &str) -> String {
    utf8_percent_encode(text, RESERVED).to_string()
}

/// A client's view of one key.
#[derive(Clone)]
struct Client {
    app_key: String,
    app_secret: String,
    token: String,
    token_secret: String,
}

/// Where the OAuth parameters go.
#[derive(Clone, Copy)]
enum Form {
    Header,
    Query,
}

impl Client {
    /// The signed request's `(url, Authorization header)`. `query` holds the request's
    /// own query parameters, unencoded.
    fn sign(
        &self,
        method: &str,
        base_url: &str,
        query: &[(&str, &str)],
        form: Form,
        timestamp: i64,
        nonce: &str,
    ) -> (String, Option<String>) {
        let timestamp = timestamp.to_string();
        let oauth = [
            ("oauth_consumer_key", self.app_key.as_str()),
            ("oauth_token", self.token.as_str()),
            ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_timestamp", timestamp.as_str()),
            ("oauth_nonce", nonce),
            ("oauth_version", "1.0"),
        ];
        let mut params: Vec<(String, String)> = query
            .iter()
            .chain(oauth.iter())
            .map(|(n, v)| (enc(n), enc(v)))
            .collect();
        params.sort();
        let normalized = params
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        let base = format!("{method}&{}&{}", enc(base_url), enc(&normalized));
        let key = format!("{}&{}", enc(&self.app_secret), enc(&self.token_secret));
        let mut mac = Hmac::<Sha1>::new_from_slice(key.as_bytes()).unwrap();
        mac.update(base.as_bytes());
        let signature =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        let own_query: Vec<String> = query
            .iter()
            .map(|(n, v)| format!("{}={}", enc(n), enc(v)))
            .collect();
        match form {
            Form::Header => {
                let header = oauth
                    .iter()
                    .chain([("oauth_signature", signature.as_str())].iter())
                    .map(|(n, v)| format!("{n}=\"{}\"", enc(v)))
                    .collect::<Vec<_>>()
                    .join(", ");
                let url = if own_query.is_empty() {
                    base_url.to_owned()
                } else {
                    format!("{base_url}?{}", own_query.join("&"))
                };
                (url, Some(format!("OAuth realm=\"engage\", {header}")))
            }
            Form::Query => {
                let all: Vec<String> = own_query
                    .into_iter()
                    .chain(
                        oauth
                            .iter()
                            .chain([("oauth_signature", signature.as_str())].iter())
                            .map(|(n, v)| format!("{n}={}", enc(v))),
                    )
                    .collect();
                (format!("{base_url}?{}", all.join("&")), None)
            }
        }
    }
}

fn now_s() -> i64 {
    engage_store::ids::now_ms() / 1000
}

async fn new_key(server: &TestServer, account: &str, app_key: &str) -> Client {
    let key = server
        .store
        .create_oauth_key(OAuthKey {
            account: account.to_owned(),
            app_key: app_key.to_owned(),
            app_secret: format!("{app_key} secret/+"),
            access_token: format!("{app_key}-token"),
            access_token_secret: format!("{app_key} token secret&"),
            created_ms: 1,
        })
        .await
        .unwrap();
    Client {
        app_key: key.app_key,
        app_secret: key.app_secret,
        token: key.access_token,
        token_secret: key.access_token_secret,
    }
}

/// Sends a signed request; answers the status and the JSON body.
#[allow(clippy::too_many_arguments)]
async fn send(
    server: &TestServer,
    client: &Client,
    method: &str,
    path: &str,
    query: &[(&str, &str)],
    body: Option<&Value>,
    form: Form,
    timestamp: i64,
    nonce: &str,
) -> (u16, Value) {
    let base_url = format!("{}{path}", server.url);
    let (url, header) = client.sign(method, &base_url, query, form, timestamp, nonce);
    let mut request = match method {
        "POST" => server.client.post(&url),
        _ => server.client.get(&url),
    };
    if let Some(body) = body {
        request = request.json(body);
    }
    if let Some(header) = header {
        request = request.header("Authorization", header);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn search_path(account: &str) -> String {
    format!("/interaction_history/api/account/{account}/interactions/search")
}

fn search_body() -> Value {
    let now = engage_store::ids::now_ms();
    json!({"start": {"from": now - 3_600_000, "to": now}})
}

#[tokio::test]
async fn signed_requests_in_the_header_or_the_query_are_authorized() {
    let mut server = TestServer::start().await;
    let client = new_key(&server, &server.account_id, "app-one").await;
    let search = search_path(&server.account_id);
    let campaigns = format!("/api/account/{}/campaigns", server.account_id);
    for (i, form) in [Form::Header, Form::Query].into_iter().enumerate() {
        let (status, body) = send(
            &server,
            &client,
            "POST",
            &search,
            &[("offset", "0"), ("limit", "10"), ("source", "a b+c")],
            Some(&search_body()),
            form,
            now_s(),
            &format!("search-{i}"),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["_metadata"]["count"], 0, "{body}");
        let (status, body) = send(
            &server,
            &client,
            "GET",
            &campaigns,
            &[],
            None,
            form,
            now_s(),
            &format!("campaigns-{i}"),
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn bad_signatures_old_timestamps_replays_and_revoked_keys_are_refused() {
    let mut server = TestServer::start().await;
    let client = new_key(&server, &server.account_id, "app-two").await;
    let campaigns = format!("/api/account/{}/campaigns", server.account_id);
    let get = |client: Client, form: Form, timestamp: i64, nonce: &'static str| {
        let (server, campaigns) = (&server, campaigns.clone());
        async move {
            send(
                server,
                &client,
                "GET",
                &campaigns,
                &[],
                None,
                form,
                timestamp,
                nonce,
            )
            .await
        }
    };

    let wrong = Client {
        token_secret: "not the secret".into(),
        ..client.clone()
    };
    for form in [Form::Header, Form::Query] {
        let (status, body) = get(wrong.clone(), form, now_s(), "wrong").await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["code"], "unauthorized");
    }
    let unknown = Client {
        app_key: "no-such-app".into(),
        ..client.clone()
    };
    assert_eq!(get(unknown, Form::Header, now_s(), "unknown").await.0, 401);

    let (status, body) = get(client.clone(), Form::Header, now_s() - 3600, "old").await;
    assert_eq!(status, 401, "{body}");
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("oauth_timestamp"));

    let now = now_s();
    assert_eq!(get(client.clone(), Form::Header, now, "once").await.0, 200);
    let (status, body) = get(client.clone(), Form::Query, now, "once").await;
    assert_eq!(status, 401, "{body}");
    assert!(body["message"].as_str().unwrap().contains("oauth_nonce"));

    // Another method than HMAC-SHA1 is refused, and says why.
    let (status, body) = {
        let url = format!(
            "{}{campaigns}?oauth_consumer_key=app-two&oauth_token=app-two-token\
             &oauth_signature_method=PLAINTEXT&oauth_timestamp={}&oauth_nonce=p\
             &oauth_signature=x",
            server.url,
            now_s()
        );
        let response = server.client.get(url).send().await.unwrap();
        (
            response.status().as_u16(),
            response.json::<Value>().await.unwrap(),
        )
    };
    assert_eq!(status, 401, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("HMAC-SHA1"),
        "{body}"
    );

    assert!(server
        .store
        .revoke_oauth_key(&server.account_id, "app-two")
        .await
        .unwrap());
    assert_eq!(
        get(client.clone(), Form::Header, now_s(), "revoked")
            .await
            .0,
        401
    );
    server.shutdown().await;
}

#[tokio::test]
async fn another_accounts_key_is_forbidden() {
    let mut server = TestServer::start().await;
    server.other_account_key().await;
    let (other_id, _) = server.other_account("third shop").await;
    let client = new_key(&server, &other_id, "app-other").await;
    let (status, body) = send(
        &server,
        &client,
        "POST",
        &search_path(&server.account_id),
        &[],
        Some(&search_body()),
        Form::Header,
        now_s(),
        "other",
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["code"], "forbidden");
    // The same key works on its own account.
    let (status, body) = send(
        &server,
        &client,
        "POST",
        &search_path(&other_id),
        &[],
        Some(&search_body()),
        Form::Header,
        now_s(),
        "own",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    server.shutdown().await;
}

/// Two servers on one store (here two handles on one SQLite file; on PostgreSQL, two
/// processes): a nonce used on one is a replay on the other.
#[tokio::test]
async fn a_replay_sent_to_another_server_on_the_same_store_is_refused() {
    let mut server = TestServer::start().await;
    let client = new_key(&server, &server.account_id, "app-shared").await;
    let store = engage_store::open(&format!("sqlite://{}", server.db_path()))
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other_url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let other = tokio::spawn(engage_server::serve(
        engage_server::AppState::new(store, engage_server::Limits::default()),
        listener,
        async {
            let _ = stopped.await;
        },
    ));
    let campaigns = format!("/api/account/{}/campaigns", server.account_id);
    let get_from = |base: &str, nonce: &str, timestamp: i64| {
        let (url, header) = client.sign(
            "GET",
            &format!("{base}{campaigns}"),
            &[],
            Form::Header,
            timestamp,
            nonce,
        );
        let request = server
            .client
            .get(url)
            .header("Authorization", header.unwrap());
        async move {
            let response = request.send().await.unwrap();
            (
                response.status().as_u16(),
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let now = now_s();
    assert_eq!(get_from(&server.url, "shared-1", now).await.0, 200);
    let (status, body) = get_from(&other_url, "shared-1", now).await;
    assert_eq!(status, 401, "{body}");
    assert!(body["message"].as_str().unwrap().contains("oauth_nonce"));
    // The other way round too, and a new nonce passes on both.
    assert_eq!(get_from(&other_url, "shared-2", now).await.0, 200);
    assert_eq!(get_from(&server.url, "shared-2", now).await.0, 401);
    assert_eq!(get_from(&server.url, "shared-3", now).await.0, 200);
    let _ = stop.send(());
    other.await.unwrap().unwrap();
    server.shutdown().await;
}
