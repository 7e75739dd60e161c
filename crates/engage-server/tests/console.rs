//! The console over real HTTP: signing in and out, the session cookie, the CSRF check,
//! the sign-in limits, the headers of its pages, and its writes answering like the API.
//! (The screens as a user sees them are walked in Chromium: tag/browser/console.test.mjs.)

use engage_server::console::ConsoleLimits;
use engage_server::{Limits, PublicHost};
use reqwest::header::{CONTENT_SECURITY_POLICY, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use serde_json::{json, Value};

use crate::admin_support::{account_url, error_paths};
use crate::common::TestServer;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// The `name=value` of a `Set-Cookie` of `name`, and the whole header.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<(String, String)> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| (v.split(';').next().unwrap().to_owned(), v.to_owned()))
}

/// The value of `<input ... name="csrf" value="...">` or `data-csrf="..."`.
fn token_in(html: &str, marker: &str) -> String {
    let at = html
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in {html}"));
    let rest = &html[at + marker.len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

pub struct Signed {
    pub cookie: String,
    pub csrf: String,
}

impl Signed {
    /// `GET path` of the console in this session (a redirect is answered, not followed):
    /// the status and the page.
    pub async fn page(&self, server: &TestServer, path: impl AsRef<str>) -> (u16, String) {
        get_page(server, path.as_ref(), &self.cookie).await
    }

    /// The same, with the browser's zone beside the session (the cookie console.js writes).
    pub async fn page_in_zone(&self, server: &TestServer, path: &str, zone: &str) -> (u16, String) {
        get_page(server, path, &format!("{}; engage_tz={zone}", self.cookie)).await
    }
}

async fn get_page(server: &TestServer, path: &str, cookie: &str) -> (u16, String) {
    let answer = client()
        .get(format!("{}{path}", server.url))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    (answer.status().as_u16(), answer.text().await.unwrap())
}

/// The sign-in form's answer to `account` and `key`, sent with the form's own token.
async fn try_sign_in(server: &TestServer, account: &str, key: &str) -> reqwest::Response {
    let client = client();
    let form = client
        .get(format!("{}/console/sign-in", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 200);
    let (form_cookie, _) = set_cookie(&form, "engage_console_sign_in").unwrap();
    let html = form.text().await.unwrap();
    let token = token_in(&html, "name=\"csrf\" value=\"");
    client
        .post(format!("{}/console/sign-in", server.url))
        .header("cookie", form_cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "csrf={token}&account={}&key={}",
            form_urlencoded::byte_serialize(account.as_bytes()).collect::<String>(),
            form_urlencoded::byte_serialize(key.as_bytes()).collect::<String>()
        ))
        .send()
        .await
        .unwrap()
}

async fn sign_in(server: &TestServer) -> Signed {
    sign_in_as(server, &server.account_id, &server.api_key).await
}

/// A console session of `account`, signed in through the form with `key`.
pub async fn sign_in_as(server: &TestServer, account: &str, key: &str) -> Signed {
    let answer = try_sign_in(server, account, key).await;
    assert_eq!(answer.status(), 303);
    assert_eq!(answer.headers()[LOCATION], "/console/");
    let (cookie, _) = set_cookie(&answer, "engage_console").unwrap();
    let page = client()
        .get(format!("{}/console/", server.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let csrf = token_in(&html, "data-csrf=\"");
    Signed { cookie, csrf }
}

#[tokio::test]
async fn sign_in_answers_an_httponly_strict_expiring_cookie_and_the_key_is_in_no_page() {
    let server = TestServer::start().await;
    let answer = try_sign_in(&server, &server.account_id, &server.api_key).await;
    assert_eq!(answer.status(), 303);
    let (value, header) = set_cookie(&answer, "engage_console").unwrap();
    for attribute in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/console",
        "Max-Age=28800",
    ] {
        assert!(header.contains(attribute), "{attribute} in {header}");
    }
    // Served over http: not Secure (the browser would drop it).
    assert!(!header.contains("Secure"), "{header}");
    assert!(!value.contains(&server.api_key));
    let signed = sign_in(&server).await;
    for path in [
        "/console/",
        "/console/campaigns",
        "/console/settings",
        "/console/history",
    ] {
        let page = client()
            .get(format!("{}{path}", server.url))
            .header("cookie", &signed.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200, "{path}");
        let csp = page.headers()[CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert_eq!(page.headers()["cache-control"], "no-store");
        let html = page.text().await.unwrap();
        assert!(!html.contains(&server.api_key), "the key is in {path}");
        // No inline script or style for the CSP to block.
        assert!(
            !html.contains("<script>") && !html.contains(" style="),
            "{path}: {html}"
        );
        for link in [
            "Overview",
            "Campaigns",
            "Results",
            "History",
            "Quarantine",
            "Settings",
        ] {
            assert!(html.contains(&format!(">{link}</a>")), "{link} in {path}");
        }
    }
}

#[tokio::test]
async fn behind_an_https_public_url_the_session_cookie_is_secure() {
    let server = TestServer::configured(Limits::default(), |state| {
        state.with_public_host(PublicHost::from_url("https://engage.example").unwrap())
    })
    .await;
    let answer = try_sign_in(&server, &server.account_id, &server.api_key).await;
    let (_, header) = set_cookie(&answer, "engage_console").unwrap();
    assert!(header.contains("Secure"), "{header}");
}

#[tokio::test]
async fn a_wrong_key_and_an_unknown_account_are_refused_alike() {
    let server = TestServer::start().await;
    let wrong = try_sign_in(&server, &server.account_id, "ek_wrong").await;
    assert_eq!(wrong.status(), 401);
    assert!(set_cookie(&wrong, "engage_console").is_none());
    let wrong = wrong.text().await.unwrap();
    let unknown = try_sign_in(&server, "99999999", "ek_wrong").await;
    assert_eq!(unknown.status(), 401);
    let unknown = unknown.text().await.unwrap();
    let message = "That account ID and API key do not match.";
    assert!(wrong.contains(message) && unknown.contains(message));
    // Nothing signed in: the console sends the browser to the form.
    let page = client()
        .get(format!("{}/console/campaigns", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 303);
    assert_eq!(page.headers()[LOCATION], "/console/sign-in");
}

#[tokio::test]
async fn sign_in_attempts_are_limited_per_client_and_a_form_without_its_token_is_refused() {
    let server = TestServer::configured(Limits::default(), |state| {
        state.with_console_limits(ConsoleLimits {
            per_minute: 1,
            burst: 3,
            max_keys: 100,
        })
    })
    .await;
    for _ in 0..3 {
        let answer = try_sign_in(&server, &server.account_id, "ek_guess").await;
        assert_eq!(answer.status(), 401);
    }
    // The fourth guess within the minute is not even checked, the right key neither.
    let limited = try_sign_in(&server, &server.account_id, &server.api_key).await;
    assert_eq!(limited.status(), 429);
    assert_eq!(limited.headers()["retry-after"], "60");
    assert!(set_cookie(&limited, "engage_console").is_none());

    // A form posted from elsewhere has no token of ours (login CSRF).
    let forged = client()
        .post(format!("{}/console/sign-in", server.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "account={}&key={}",
            server.account_id, server.api_key
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    assert!(set_cookie(&forged, "engage_console").is_none());
    // And a body larger than a sign-in needs is refused before it is read.
    let huge = client()
        .post(format!("{}/console/sign-in", server.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("key={}", "k".repeat(100_000)))
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), 413);
}

#[tokio::test]
async fn sign_out_ends_the_session_on_the_server_so_its_cookie_signs_nobody_in() {
    let server = TestServer::start().await;
    let signed = sign_in(&server).await;
    // Without the CSRF token, sign-out is refused (a page elsewhere cannot sign us out).
    let refused = client()
        .post(format!("{}/console/sign-out", server.url))
        .header("cookie", &signed.cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("csrf=wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let out = client()
        .post(format!("{}/console/sign-out", server.url))
        .header("cookie", &signed.cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={}", signed.csrf))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    assert_eq!(out.headers()[LOCATION], "/console/sign-in");
    let (_, cleared) = set_cookie(&out, "engage_console").unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    // The old cookie, kept by someone, is worth nothing now.
    let (status, _) = signed.page(&server, "/console/").await;
    assert_eq!(status, 303);
    let api = client()
        .post(format!("{}/console/api/campaigns", server.url))
        .header("cookie", &signed.cookie)
        .header("x-csrf-token", &signed.csrf)
        .json(&json!({"name": "after sign-out"}))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 401);
}

#[tokio::test]
async fn every_console_change_needs_the_sessions_csrf_token_and_answers_like_the_api() {
    let server = TestServer::start().await;
    let signed = sign_in(&server).await;
    let url = format!("{}/console/api/campaigns", server.url);
    let body = json!({"name": "Winter sale", "priority": 5});
    for (token, site, expected) in [
        (None, None, 403),
        (Some("not-the-token"), None, 403),
        (Some(signed.csrf.as_str()), Some("cross-site"), 403),
        (Some(signed.csrf.as_str()), Some("same-origin"), 201),
    ] {
        let mut request = client()
            .post(&url)
            .header("cookie", &signed.cookie)
            .json(&body);
        if let Some(token) = token {
            request = request.header("x-csrf-token", token);
        }
        if let Some(site) = site {
            request = request.header("sec-fetch-site", site);
        }
        let answer = request.send().await.unwrap();
        assert_eq!(answer.status(), expected, "token {token:?}, site {site:?}");
    }
    let campaigns = server.get_json(&account_url(&server, "/campaigns")).await;
    assert_eq!(
        campaigns["campaigns"].as_array().unwrap().len(),
        1,
        "{campaigns}"
    );
    let campaign_id = campaigns["campaigns"][0]["campaignId"].as_u64().unwrap();

    // An invalid engagement: the API's own errors, each at its JSON pointer.
    let answer = client()
        .post(format!("{url}/{campaign_id}/engagements"))
        .header("cookie", &signed.cookie)
        .header("x-csrf-token", &signed.csrf)
        .json(&json!({"name": "", "engagementType": 4,
                      "targeting": {"url": {"include": [{"regex": "(unclosed"}]}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 400);
    let error: Value = answer.json().await.unwrap();
    assert_eq!(error["code"], "invalid_request");
    let paths = error_paths(&error);
    assert!(paths.contains(&"/engagementType"), "{error}");
    assert!(paths.contains(&"/targeting/url/include/0/regex"), "{error}");

    // A valid one, then a new revision; the engagement's page shows both revisions.
    let created: Value = client()
        .post(format!("{url}/{campaign_id}/engagements"))
        .header("cookie", &signed.cookie)
        .header("x-csrf-token", &signed.csrf)
        .json(&json!({"name": "Cart helper", "engagementType": 2, "content": {"title": "Need help?"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let engagement_id = created["engagementId"].as_u64().unwrap();
    let revised = client()
        .put(format!("{url}/{campaign_id}/engagements/{engagement_id}"))
        .header("cookie", &signed.cookie)
        .header("x-csrf-token", &signed.csrf)
        .json(&json!({"name": "Cart helper", "engagementType": 2, "content": {"title": "Questions?"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(revised.status(), 200);
    let (_, page) = signed
        .page(
            &server,
            format!("/console/campaigns/{campaign_id}/engagements/{engagement_id}?saved=2"),
        )
        .await;
    assert!(
        page.contains("Revision 1") && page.contains("Revision 2"),
        "{page}"
    );
    assert!(page.contains("Saved: revision"), "{page}");
}

#[tokio::test]
async fn the_console_finds_only_the_sessions_account_whatever_ids_it_is_given() {
    let server = TestServer::start().await;
    // Another account's campaign.
    let other_key = server.other_account_key().await;
    let other_account = server
        .store
        .account_by_key_hash(&engage_server::accounts::hash_api_key(&other_key))
        .await
        .unwrap()
        .unwrap();
    let theirs: Value = server
        .client
        .post(format!(
            "{}/api/account/{}/campaigns",
            server.url, other_account.id
        ))
        .bearer_auth(&other_key)
        .json(&json!({"name": "THEIR-SECRET-CAMPAIGN"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let their_id = theirs["campaignId"].as_u64().unwrap();
    let signed = sign_in(&server).await;
    let (status, page) = signed
        .page(&server, format!("/console/campaigns/{their_id}"))
        .await;
    assert_eq!(status, 404);
    assert!(!page.contains("THEIR-SECRET-CAMPAIGN"));
    let write = client()
        .put(format!("{}/console/api/campaigns/{their_id}", server.url))
        .header("cookie", &signed.cookie)
        .header("x-csrf-token", &signed.csrf)
        .json(&json!({"name": "taken over"}))
        .send()
        .await
        .unwrap();
    assert_eq!(write.status(), 404);
    // A cookie naming the other account with this session's token is no session.
    let token = signed.cookie.split_once('.').unwrap().1;
    let forged = client()
        .get(format!("{}/console/", server.url))
        .header(
            "cookie",
            format!("engage_console={}.{token}", other_account.id),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 303);
}

/// A page's text without its tags.
fn text(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

#[tokio::test]
async fn history_pages_through_a_visitors_interactions_and_shows_one_with_its_cart_as_a_table() {
    let server = TestServer::start().await;
    let events = (0..25)
        .map(|i| crate::common::start_event(&format!("e-{i}"), "START", &format!("ctx-{i}"), 3))
        .collect();
    let sdes = vec![crate::common::sde_item("s-cart", crate::common::cart(42))];
    let (status, _) = server
        .post_events(&crate::common::batch(events, sdes))
        .await;
    assert_eq!(status, 200);
    let signed = sign_in(&server).await;
    let filters = "from=2023-11-01T00:00&to=2023-12-01T00:00&tz=0&visitor=visitor-1";
    let (status, first) = signed
        .page(&server, format!("/console/history?{filters}"))
        .await;
    assert_eq!(status, 200, "{first}");
    assert!(text(&first).contains("25 interactions"), "{first}");
    assert!(text(&first).contains("Showing 1–20 of 25"), "{first}");
    assert!(first.contains("offset=20\" rel=\"next\""), "{first}");
    let (_, second) = signed
        .page(&server, format!("/console/history?{filters}&offset=20"))
        .await;
    assert!(text(&second).contains("Showing 21–25 of 25"), "{second}");
    assert!(
        second.contains("rel=\"prev\"") && !second.contains("rel=\"next\""),
        "{second}"
    );

    // One interaction: its timeline and the visit's cart, as a table of products.
    let at = first.find("/console/history/interaction?").unwrap();
    let link = first[at..first[at..].find('"').unwrap() + at].replace("&amp;", "&");
    let (status, detail) = signed.page(&server, link).await;
    assert_eq!(status, 200, "{detail}");
    assert!(
        detail.contains("LP_OFFERS timeline") && detail.contains("<strong>START</strong>"),
        "{detail}"
    );
    assert!(
        detail.contains("<caption>Products</caption>") && detail.contains("prod1"),
        "{detail}"
    );

    // Filters the API refuses: its error beside the field it names.
    let (status, refused) = signed
        .page(&server, "/console/history?from=soon&tz=0")
        .await;
    assert_eq!(status, 400);
    assert!(
        refused.contains("id=\"from-error\"") && refused.contains("/start/from"),
        "{refused}"
    );
    let (status, too_long) = signed
        .page(
            &server,
            "/console/history?from=2023-01-01T00:00&to=2023-12-01T00:00&tz=0",
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        too_long.contains("id=\"from-error\"") && too_long.contains("at most 31"),
        "{too_long}"
    );
}

#[tokio::test]
async fn settings_keeps_the_accounts_retention_through_the_api_with_its_errors() {
    let server = TestServer::start().await;
    let signed = sign_in(&server).await;
    let put = |body: Value| {
        client()
            .put(format!("{}/console/api/retention", server.url))
            .header("cookie", &signed.cookie)
            .header("x-csrf-token", &signed.csrf)
            .json(&body)
            .send()
    };
    let settings = || async { signed.page(&server, "/console/settings").await.1 };
    let refused = put(json!({"days": 0})).await.unwrap();
    assert_eq!(refused.status(), 400);
    let refused: Value = refused.json().await.unwrap();
    assert_eq!(refused["errors"][0]["path"], "/days", "{refused}");

    let saved = put(json!({"days": 90})).await.unwrap();
    assert_eq!(saved.status(), 200);
    let kept = server.get_json(&account_url(&server, "/retention")).await;
    assert_eq!(kept, json!({"days": 90}));
    let page = settings().await;
    assert!(page.contains(r#"id="retention-days""#) && page.contains(r#"value="90""#));

    assert_eq!(put(json!({"days": null})).await.unwrap().status(), 200);
    let page = settings().await;
    assert!(page.contains("Now: kept for ever."), "{page}");
}
