//! Every route of the router's own table ([`engage_server::route_table`]), called as an
//! attacker would: without a key, with a wrong key, with another account's key, and with
//! another account's campaign, engagement, app and visitor ids. No answer may carry the
//! other account's data; routes that need a key answer 401/403, and resources of another
//! account are not found. A new route is in the table by construction, so it is tested
//! here without anyone remembering to.

use std::collections::HashMap;

use engage_server::{route_table, Auth, RouteInfo};
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{batch, sde_item, start_event, TestServer};

/// Values only account B's stored data holds: none may appear in an answer to anyone
/// but B.
const B_CUSTOMER: &str = "B-SECRET-CUSTOMER-7731";
const B_QUARANTINED: &str = "B-SECRET-QUARANTINE-5512";
const B_CAMPAIGN: &str = "B-SECRET-CAMPAIGN-NAME";
const B_APP: &str = "B-SECRET-APP-NAME";
const B_VISITOR: &str = "b-secret-visitor";
const B_HOOK: &str = "B-SECRET-HOOK-PATH";

struct Account {
    id: String,
    key: String,
    campaign: u64,
    engagement: u64,
    app: String,
    webhook: String,
    delivery: String,
}

async fn call(
    server: &TestServer,
    method: &Method,
    url: &str,
    key: Option<&str>,
    body: Option<&Value>,
) -> (u16, String) {
    let mut request = server.client.request(method.clone(), url);
    if *method == Method::POST && url.contains("/report?") {
        // The Monitoring API's report is a PUT; a POST says so in a header.
        request = request.header("X-HTTP-Method-Override", "PUT");
    }
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

/// An account with an app, a campaign with an engagement, a visit with stored SDEs and
/// a quarantined item; `secret` marks what is private to it.
async fn seed(server: &TestServer, id: &str, key: &str, secret: bool) -> Account {
    let base = format!("{}/api/account/{id}", server.url);
    let mark = |s: &str| {
        if secret {
            s.to_owned()
        } else {
            format!("a-{}", s.to_lowercase())
        }
    };
    let (status, app) = call(
        server,
        &Method::POST,
        &format!("{base}/apps"),
        Some(key),
        Some(&json!({"name": mark(B_APP)})),
    )
    .await;
    assert_eq!(status, 201, "{app}");
    let app: Value = serde_json::from_str(&app).unwrap();
    let (status, campaign) = call(
        server,
        &Method::POST,
        &format!("{base}/campaigns"),
        Some(key),
        Some(&json!({"name": mark(B_CAMPAIGN), "priority": 1})),
    )
    .await;
    assert_eq!(status, 201, "{campaign}");
    let campaign = serde_json::from_str::<Value>(&campaign).unwrap()["campaignId"]
        .as_u64()
        .unwrap();
    let (status, engagement) = call(
        server,
        &Method::POST,
        &format!("{base}/campaigns/{campaign}/engagements"),
        Some(key),
        Some(&json!({"name": "Chat button", "engagementType": 1,
                     "content": {"title": "Need help?"}})),
    )
    .await;
    assert_eq!(status, 201, "{engagement}");
    let engagement = serde_json::from_str::<Value>(&engagement).unwrap()["engagementId"]
        .as_u64()
        .unwrap();
    let visitor = mark(B_VISITOR);
    let mut body = batch(
        vec![start_event(&format!("{id}-e1"), "START", "1", 1)],
        vec![
            sde_item(
                &format!("{id}-s1"),
                json!({"type": "ctmrinfo", "info": {"customerId": mark(B_CUSTOMER)}}),
            ),
            sde_item(
                &format!("{id}-s2"),
                // 31 February: refused and quarantined, raw bytes and all.
                json!({"type": "ctmrinfo", "info": {"accountName": mark(B_QUARANTINED),
                       "lastPaymentDate": {"day": 31, "month": 2, "year": 2020}}}),
            ),
        ],
    );
    body["visitorId"] = json!(visitor);
    body["sessionId"] = json!(format!("{visitor}-session"));
    let (status, answer) = call(
        server,
        &Method::POST,
        &format!("{base}/events"),
        None,
        Some(&body),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["accepted"], 2, "{answer}");
    assert_eq!(answer["rejected"].as_array().unwrap().len(), 1, "{answer}");
    // A webhook (to a closed local port: its deliveries fail and wait) with one delivery.
    let (status, webhook) = call(
        server,
        &Method::POST,
        &format!("{base}/webhooks"),
        Some(key),
        Some(
            &json!({"url": format!("http://127.0.0.1:9/{}", mark(B_HOOK)), "events": ["purchase"]}),
        ),
    )
    .await;
    assert_eq!(status, 201, "{webhook}");
    let webhook = serde_json::from_str::<Value>(&webhook).unwrap()["webhookId"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, ping) = call(
        server,
        &Method::POST,
        &format!("{base}/webhooks/{webhook}/ping"),
        Some(key),
        None,
    )
    .await;
    assert_eq!(status, 202, "{ping}");
    let delivery = serde_json::from_str::<Value>(&ping).unwrap()["deliveryId"]
        .as_str()
        .unwrap()
        .to_owned();
    Account {
        webhook,
        delivery,
        id: id.to_owned(),
        key: key.to_owned(),
        campaign,
        engagement,
        app: app["appInstallationId"].as_str().unwrap().to_owned(),
    }
}

/// The route's template with `path_of` account's id and `ids_of`'s campaign, engagement
/// and app: mixing the two is how one account reaches for another's resources.
fn url(server: &TestServer, route: &RouteInfo, path_of: &Account, ids_of: &Account) -> String {
    let path = route
        .path
        .replace("{account_id}", &path_of.id)
        .replace("{campaign_id}", &ids_of.campaign.to_string())
        .replace("{engagement_id}", &ids_of.engagement.to_string())
        .replace("{app_id}", &ids_of.app)
        .replace("{webhook_id}", &ids_of.webhook)
        .replace("{delivery_id}", &ids_of.delivery)
        // The privacy routes name B's visitor and customer, whoever's path it is.
        .replace("{visitor_id}", B_VISITOR)
        .replace("{customer_id}", B_CUSTOMER)
        .replace("{service}", "smt")
        .replace("{file}", "index.html")
        .replace("{app_key}", &ids_of.app);
    assert!(
        !path.contains('{'),
        "a path parameter this test does not know: {path}"
    );
    let query = if path.ends_with("/engagement") || path.ends_with("/report") {
        // The Monitoring API names a visit; B's visitor, whoever asks.
        "?v=1.1&vid=b-secret-visitor&sid=b-secret-visitor-session"
    } else if path == "/tag/tag.js" {
        "?site=BSITE"
    } else {
        ""
    };
    let query = query.replace("BSITE", &ids_of.id);
    format!("{}{path}{query}", server.url)
}

/// A body each writing route accepts, naming B's visitor where a route takes one.
fn body(route: &RouteInfo) -> Option<Value> {
    if matches!(route.method, Method::GET | Method::DELETE | Method::OPTIONS) {
        return None;
    }
    let path = route.path;
    if path.ends_with("/ping") || path.ends_with("/rotate-secret") || path.ends_with("/redeliver") {
        return None;
    }
    Some(if path.ends_with("/interactions/search") {
        json!({"start": {"from": 0, "to": 4_000_000_000_000u64}, "visitor": B_VISITOR})
    } else if path.ends_with("/decision") {
        json!({"visitorId": B_VISITOR, "sessionId": format!("{B_VISITOR}-session"),
               "url": "https://shop.example/"})
    } else if path.ends_with("/events") {
        json!({"visitorId": B_VISITOR, "sessionId": format!("{B_VISITOR}-session"),
               "pageId": "p-x", "sdes": []})
    } else if path.ends_with("/engagement") {
        json!({"entryPoints": ["https://shop.example/"], "engagementAttributes": []})
    } else if path.ends_with("/report") {
        json!({"engagementAttributes": []})
    } else if path.ends_with("/origins") {
        json!({"origins": []})
    } else if path.ends_with("/webhooks") {
        json!({"url": "http://127.0.0.1:9/taken-over", "events": ["purchase"]})
    } else if path.ends_with("/availability") {
        json!({"state": 2})
    } else if path.ends_with("/engagements") || path.contains("/engagements/") {
        json!({"name": "taken over", "engagementType": 1, "content": {"title": "x"}})
    } else {
        json!({"name": "taken over", "priority": 1})
    })
}

fn leaks(answer: &str, b: &Account) -> Option<&'static str> {
    [B_CUSTOMER, B_QUARANTINED, B_CAMPAIGN, B_APP, B_HOOK]
        .into_iter()
        .find(|m| answer.contains(m))
        .or_else(|| answer.contains(&b.key).then_some("B's api key"))
}

#[tokio::test]
async fn no_route_gives_one_account_another_accounts_data() {
    let server = TestServer::configured(engage_server::Limits::default(), |state| {
        state.with_webhooks(engage_server::webhooks::WebhookConfig {
            allow_private: true,
            ..Default::default()
        })
    })
    .await;
    let (b_id, b_key) = server.other_account("shop b").await;
    let a = seed(&server, &server.account_id, &server.api_key, false).await;
    let b = seed(&server, &b_id, &b_key, true).await;

    // What B's own key sees before the attempts, to compare after.
    let b_campaign_url = format!(
        "{}/api/account/{}/campaigns/{}",
        server.url, b.id, b.campaign
    );
    let b_engagement_url = format!("{b_campaign_url}/engagements/{}", b.engagement);
    let (_, b_campaign_before) =
        call(&server, &Method::GET, &b_campaign_url, Some(&b.key), None).await;
    let (_, b_engagement_before) =
        call(&server, &Method::GET, &b_engagement_url, Some(&b.key), None).await;
    assert!(
        b_campaign_before.contains(B_CAMPAIGN),
        "{b_campaign_before}"
    );

    let a_console = crate::console::sign_in_as(&server, &a.id, &a.key).await;
    let table = route_table();
    let mut seen: HashMap<Auth, usize> = HashMap::new();
    for route in &table {
        *seen.entry(route.auth).or_default() += 1;
        let body = body(route);
        let what = format!("{} {}", route.method, route.path);
        match route.auth {
            Auth::AccountKey => {
                let on_b = url(&server, route, &b, &b);
                for (key, expected, who) in [
                    (None, 401, "no key"),
                    (
                        Some("ek_0000000000000000000000000000000000000000000000000"),
                        401,
                        "a wrong key",
                    ),
                    (Some(a.key.as_str()), 403, "another account's key"),
                ] {
                    let (status, answer) =
                        call(&server, &route.method, &on_b, key, body.as_ref()).await;
                    assert_eq!(status, expected, "{what} with {who}: {answer}");
                    assert_eq!(leaks(&answer, &b), None, "{what} with {who}: {answer}");
                }
                // A's key on A's path, with B's campaign, engagement and app ids.
                let crossed = url(&server, route, &a, &b);
                let (status, answer) = call(
                    &server,
                    &route.method,
                    &crossed,
                    Some(&a.key),
                    body.as_ref(),
                )
                .await;
                assert_eq!(leaks(&answer, &b), None, "{what} with B's ids: {answer}");
                if route.path.contains("{campaign_id}") || route.path.contains("{webhook_id}") {
                    assert_eq!(status, 404, "{what} with B's ids: {answer}");
                } else {
                    assert!(status < 500, "{what} with B's ids: {status} {answer}");
                }
                if route.path.ends_with("/interactions/search") {
                    let found: Value = serde_json::from_str(&answer).unwrap();
                    assert_eq!(
                        found["_metadata"]["count"], 0,
                        "{what}: B's visitor found by A"
                    );
                }
            }
            Auth::PublicAccount => {
                // No key: B's own public routes, and A's with B's ids; neither tells B's
                // stored data.
                for (path_of, who) in [(&b, "on B"), (&a, "on A with B's ids")] {
                    let target = url(&server, route, path_of, &b);
                    let (status, answer) =
                        call(&server, &route.method, &target, None, body.as_ref()).await;
                    assert!(status < 500, "{what} {who}: {status} {answer}");
                    assert_eq!(leaks(&answer, &b), None, "{what} {who}: {answer}");
                }
                if route.path.contains("{app_id}") {
                    let target = url(&server, route, &a, &b);
                    let (status, answer) =
                        call(&server, &route.method, &target, None, body.as_ref()).await;
                    assert_eq!(status, 404, "{what}: B's app under A: {answer}");
                }
            }
            Auth::ConsoleSession => {
                // No session: to the sign-in form, or 401 for a script's call.
                let target = url(&server, route, &b, &b);
                let plain = reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .unwrap();
                let send = |cookie: Option<&str>, csrf: Option<&str>| {
                    let mut request = plain.request(route.method.clone(), &target);
                    if let Some(cookie) = cookie {
                        request = request.header("cookie", cookie);
                    }
                    if let Some(csrf) = csrf {
                        request = request.header("x-csrf-token", csrf);
                    }
                    if let Some(body) = &body {
                        request = request.json(body);
                    }
                    request.send()
                };
                let answer = send(None, None).await.unwrap();
                let status = answer.status().as_u16();
                let text = answer.text().await.unwrap();
                assert!(
                    status == 303 || status == 401,
                    "{what} without a session: {status} {text}"
                );
                assert_eq!(leaks(&text, &b), None, "{what} without a session: {text}");
                // A's session with B's ids: the account is always the session's.
                let answer = send(Some(&a_console.cookie), Some(&a_console.csrf))
                    .await
                    .unwrap();
                let status = answer.status().as_u16();
                let text = answer.text().await.unwrap();
                assert_eq!(
                    leaks(&text, &b),
                    None,
                    "{what} with A's session and B's ids: {text}"
                );
                if route.path.contains("{campaign_id}") {
                    assert_eq!(status, 404, "{what} with B's ids: {text}");
                } else {
                    assert!(status < 500, "{what} with A's session: {status} {text}");
                }
            }
            Auth::Public => {
                let target = url(&server, route, &a, &b);
                let (status, answer) =
                    call(&server, &route.method, &target, None, body.as_ref()).await;
                assert!(status < 500, "{what}: {status}");
                assert_eq!(leaks(&answer, &b), None, "{what}: {answer}");
            }
        }
    }
    // The table is the router: every kind is there, and the routes this test knows.
    assert!(seen[&Auth::AccountKey] >= 18, "{seen:?}");
    assert!(seen[&Auth::PublicAccount] >= 7, "{seen:?}");
    assert!(seen[&Auth::Public] >= 6, "{seen:?}");

    // Nothing A tried changed B's campaign or engagement.
    let (_, b_campaign_after) =
        call(&server, &Method::GET, &b_campaign_url, Some(&b.key), None).await;
    let (_, b_engagement_after) =
        call(&server, &Method::GET, &b_engagement_url, Some(&b.key), None).await;
    assert_eq!(b_campaign_after, b_campaign_before);
    assert_eq!(b_engagement_after, b_engagement_before);

    // And B's own key still reads B's data: the markers were there to find.
    let (status, answer) = call(
        &server,
        &Method::POST,
        &format!(
            "{}/interaction_history/api/account/{}/interactions/search",
            server.url, b.id
        ),
        Some(&b.key),
        Some(&json!({"start": {"from": 0, "to": 4_000_000_000_000u64}, "visitor": B_VISITOR})),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains(B_CUSTOMER), "{answer}");
    let (_, quarantined) = call(
        &server,
        &Method::GET,
        &format!("{}/api/account/{}/quarantine", server.url, b.id),
        Some(&b.key),
        None,
    )
    .await;
    assert!(quarantined.contains(B_QUARANTINED), "{quarantined}");
    let (_, hooks) = call(
        &server,
        &Method::GET,
        &format!("{}/api/account/{}/webhooks", server.url, b.id),
        Some(&b.key),
        None,
    )
    .await;
    assert!(
        hooks.contains(B_HOOK),
        "B's webhook is still there: {hooks}"
    );
    let (status, log) = call(
        &server,
        &Method::GET,
        &format!(
            "{}/api/account/{}/webhooks/{}/deliveries",
            server.url, b.id, b.webhook
        ),
        Some(&b.key),
        None,
    )
    .await;
    assert_eq!(status, 200, "{log}");
    assert!(log.contains(&b.delivery), "{log}");
}

#[test]
fn the_route_table_names_each_method_of_a_path_once() {
    let table = route_table();
    let mut seen = std::collections::HashSet::new();
    for route in &table {
        assert!(
            seen.insert((route.method.clone(), route.path)),
            "{} {} twice",
            route.method,
            route.path
        );
        // Every account route says who may call it; only account-less routes are Public
        // or the console's, whose account is the session's.
        assert_eq!(
            route.path.contains("{account_id}"),
            !matches!(route.auth, Auth::Public | Auth::ConsoleSession),
            "{} {}",
            route.method,
            route.path
        );
    }
}
