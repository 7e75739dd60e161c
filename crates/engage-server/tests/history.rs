//! The Engagement History API (docs/vocabulary.md, Engagement History API) over real
//! HTTP: data goes in through the collect route and the Monitoring API, and comes out of
//! the search route.

// Tests: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::admin_support;
use crate::common;

use std::sync::atomic::{AtomicU64, Ordering};

use common::TestServer;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use serde_json::{json, Value};

/// 2026-11-21T10:00:00.000Z.
const T0: u64 = 1_795_255_200_000;
const SECOND: u64 = 1_000;
const MINUTE: u64 = 60 * SECOND;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;

const CHROME_ON_WINDOWS: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
const SAFARI_ON_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1";
const SAMSUNG_ON_ANDROID_TABLET: &str = "Mozilla/5.0 (Linux; Android 12; SM-T870) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/22.0 Chrome/111.0.5563.116 Safari/537.36";

// ---------------------------------------------------------------- putting data in

/// A client id not used before in this test process.
fn client_id(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("{prefix}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// What an `LP_OFFERS` event is about.
#[derive(Clone, Copy)]
struct Offer {
    campaign: u64,
    engagement: u64,
    engagement_type: u64,
}

/// The `data` the tag sends, in its canonical order and shape.
fn offer_data(offer: Offer, context: &str, page: &str, name: &str) -> Value {
    json!({
        "contexts": [{"EngagementContext": {"id": context}}, {"pageContext": {"id": page}}],
        "campaignId": offer.campaign,
        "engagementId": offer.engagement,
        "engagementRevision": 1,
        "engagementType": offer.engagement_type,
        "contextId": context,
        "zoneId": 471288710,
        "state": 1,
        "confKey": format!("{}_{}_1", offer.campaign, offer.engagement),
        "tglName": "slider",
        "done": true,
        "engagementName": name
    })
}

fn offer_event(offer: Offer, context: &str, page: &str, event_name: &str, time: u64) -> Value {
    json!({
        "id": client_id(context),
        "time": time,
        "appName": "LP_OFFERS",
        "eventName": event_name,
        "data": offer_data(offer, context, page, "Chat button"),
    })
}

/// One context's events: `(event name, ms after start)`.
fn lifecycle(
    offer: Offer,
    context: &str,
    page: &str,
    start: u64,
    steps: &[(&str, u64)],
) -> Vec<Value> {
    steps
        .iter()
        .map(|(name, after)| offer_event(offer, context, page, name, start + after))
        .collect()
}

struct Visit {
    visitor: &'static str,
    session: &'static str,
    page: &'static str,
    url: &'static str,
    referrer: &'static str,
    user_agent: &'static str,
}

/// A page-shape SDE with the page's time.
fn sde(time: u64, sde: Value) -> Value {
    json!({"id": client_id("sde"), "time": time, "sde": sde})
}

/// Posts a collect batch from a visit's page, as the tag does.
async fn collect(server: &TestServer, visit: &Visit, events: Vec<Value>, sdes: Vec<Value>) {
    collect_to(server, &server.account_id, visit, events, sdes).await;
}

async fn collect_to(
    server: &TestServer,
    account_id: &str,
    visit: &Visit,
    events: Vec<Value>,
    sdes: Vec<Value>,
) {
    let response = server
        .client
        .post(format!("{}/api/account/{account_id}/events", server.url))
        .header("user-agent", visit.user_agent)
        .json(&json!({
            "visitorId": visit.visitor, "sessionId": visit.session, "pageId": visit.page,
            "page": {"url": visit.url, "referrer": visit.referrer, "title": "Shop", "sections": ["shop"]},
            "events": events, "sdes": sdes,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["rejected"], json!([]), "{answer}");
}

const ALICE: Visit = Visit {
    visitor: "v-alice",
    session: "s-alice",
    page: "p-alice",
    url: "https://shop.example/checkout",
    referrer: "https://search.example/?q=shoes",
    user_agent: CHROME_ON_WINDOWS,
};
const BOB: Visit = Visit {
    visitor: "v-bob",
    session: "s-bob",
    page: "p-bob",
    url: "https://shop.example/cart",
    referrer: "",
    user_agent: SAFARI_ON_IPHONE,
};
const CAROL: Visit = Visit {
    visitor: "v-carol",
    session: "s-carol",
    page: "p-carol",
    url: "https://shop.example/search",
    referrer: "https://social.example/",
    user_agent: SAMSUNG_ON_ANDROID_TABLET,
};

const SLIDE_OUT_100_200: Offer = Offer {
    campaign: 100,
    engagement: 200,
    engagement_type: 3,
};
const OVERLAY_100_201: Offer = Offer {
    campaign: 100,
    engagement: 201,
    engagement_type: 1,
};
const EMBEDDED_101_202: Offer = Offer {
    campaign: 101,
    engagement: 202,
    engagement_type: 5,
};
const STICKY_101_203: Offer = Offer {
    campaign: 101,
    engagement: 203,
    engagement_type: 6,
};
const PEELING_102_204: Offer = Offer {
    campaign: 102,
    engagement: 204,
    engagement_type: 0,
};

/// Six interactions on 2026-11-21 between 10:01 and 10:06, and one of Alice's 40 days
/// earlier:
///
/// | id  | visitor | campaign | engagement | type | start  | duration | outcome   |
/// | a1  | alice   | 100      | 200        | 3    | +1 min | 150 s    | clicked   |
/// | a2  | alice   | 100      | 201        | 1    | +2 min | 5 s      | declined  |
/// | b1  | bob     | 101      | 202        | 5    | +3 min | 1 s      | timed_out |
/// | b2  | bob     | 101      | 203        | 6    | +4 min | 4 s      | displayed |
/// | c1  | carol   | 102      | 204        | 0    | +5 min | 0        | started   |
/// | c2  | carol   | 100      | 200        | 3    | +6 min | 2 s      | removed   |
/// | old | alice   | 100      | 200        | 3    | -40 d  | 1 s      | displayed |
///
/// Alice bought order DRV1534XC and is customer 138766AC, alice@example.com; Bob has
/// SKU-RED-42 in his cart and is bob@example.com; Carol searched for "red shoes".
async fn shop(server: &TestServer) {
    let a1 = lifecycle(
        SLIDE_OUT_100_200,
        "a1",
        ALICE.page,
        T0 + MINUTE,
        &[
            ("START", 0),
            ("OFFER_DISPLAY", 1000),
            ("OFFER_IMPRESSION", 2000),
            ("OFFER_CLICK", 150_000),
        ],
    );
    let a2 = lifecycle(
        OVERLAY_100_201,
        "a2",
        ALICE.page,
        T0 + 2 * MINUTE,
        &[
            ("START", 0),
            ("OFFER_DISPLAY", 1000),
            ("OFFER_IMPRESSION", 2000),
            ("OFFER_DECLINED", 5000),
        ],
    );
    let old = lifecycle(
        SLIDE_OUT_100_200,
        "old",
        ALICE.page,
        T0 - 40 * DAY,
        &[("START", 0), ("OFFER_DISPLAY", 1000)],
    );
    let alice_sdes = vec![
        sde(
            T0 + 10 * SECOND,
            json!({"type": "ctmrinfo", "info": {"customerId": "138766AC", "ctype": "vip"}}),
        ),
        sde(
            T0 + 20 * SECOND,
            json!({"type": "personal", "personal": {"firstname": "Alice", "contacts": [{"email": "alice@example.com"}]}}),
        ),
        sde(
            T0 + 30 * SECOND,
            json!({"type": "purchase", "total": 11.7, "currency": "USD", "orderId": "DRV1534XC"}),
        ),
    ];
    collect(server, &ALICE, [old, a1, a2].concat(), alice_sdes).await;

    let b1 = lifecycle(
        EMBEDDED_101_202,
        "b1",
        BOB.page,
        T0 + 3 * MINUTE,
        &[
            ("START", 0),
            ("OFFER_DISPLAY", 500),
            ("OFFER_TIMEOUT", 1000),
        ],
    );
    let b2 = lifecycle(
        STICKY_101_203,
        "b2",
        BOB.page,
        T0 + 4 * MINUTE,
        &[
            ("START", 0),
            ("OFFER_DISPLAY", 2000),
            ("OFFER_IMPRESSION", 4000),
        ],
    );
    let bob_sdes = vec![
        sde(
            T0 + 3 * MINUTE,
            json!({"type": "cart", "total": 42, "currency": "USD", "numItems": 1,
                   "products": [{"product": {"name": "Red shoe", "category": "shoes", "sku": "SKU-RED-42", "price": 42}, "quantity": 1}]}),
        ),
        sde(
            T0 + 3 * MINUTE,
            json!({"type": "personal", "personal": {"firstname": "Bob", "contacts": [{"email": "bob@example.com"}]}}),
        ),
    ];
    collect(server, &BOB, [b1, b2].concat(), bob_sdes).await;

    let c1 = lifecycle(
        PEELING_102_204,
        "c1",
        CAROL.page,
        T0 + 5 * MINUTE,
        &[("START", 0)],
    );
    let c2 = lifecycle(
        SLIDE_OUT_100_200,
        "c2",
        CAROL.page,
        T0 + 6 * MINUTE,
        &[
            ("START", 0),
            ("OFFER_DISPLAY", 500),
            ("OFFER_IMPRESSION", 1000),
            ("OFFER_REMOVE", 2000),
        ],
    );
    let carol_sdes = vec![sde(
        T0 + 5 * MINUTE,
        json!({"type": "searchInfo", "keywords": ["red", "shoes"]}),
    )];
    collect(server, &CAROL, [c1, c2].concat(), carol_sdes).await;
}

// ---------------------------------------------------------------- searching

fn search_url(server: &TestServer, query: &str) -> String {
    search_url_of(server, &server.account_id, query)
}

fn search_url_of(server: &TestServer, account_id: &str, query: &str) -> String {
    format!(
        "{}/interaction_history/api/account/{account_id}/interactions/search{query}",
        server.url
    )
}

/// POSTs `body` to `url` with `key`; answers the status, the headers and the JSON body.
async fn post(url: &str, key: Option<&str>, body: &Value) -> (u16, HeaderMap, Value) {
    let client = reqwest::Client::new();
    let mut request = client.post(url).json(body);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (
        status,
        headers,
        response.json().await.unwrap_or(Value::Null),
    )
}

/// Searches the test account with its key; `query` is empty or starts with `?`.
async fn search(server: &TestServer, query: &str, body: &Value) -> (u16, Value) {
    let (status, _, answer) = post(&search_url(server, query), Some(&server.api_key), body).await;
    (status, answer)
}

/// The interaction ids of a successful search, in the order answered.
async fn ids(server: &TestServer, query: &str, body: &Value) -> Vec<String> {
    let (status, answer) = search(server, query, body).await;
    assert_eq!(status, 200, "{query} {body}: {answer}");
    interaction_ids(&answer)
}

fn sorted_keys(object: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = object
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {object}"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

/// An `sdes.events[]` entry's attribute: its type and body, beside the documented
/// `serverTimeStamp`, `sdeType` and `isAuthenticated`.
fn sde_attribute(entry: &Value) -> (&str, &Value) {
    entry
        .as_object()
        .unwrap_or_else(|| panic!("an SDE entry is an object: {entry}"))
        .iter()
        .find(|(k, _)| !["sdeType", "isAuthenticated", "serverTimeStamp"].contains(&k.as_str()))
        .map(|(k, v)| (k.as_str(), v))
        .unwrap_or_else(|| panic!("no attribute in {entry}"))
}

fn interaction_ids(answer: &Value) -> Vec<String> {
    answer["interactionHistoryRecords"]
        .as_array()
        .unwrap_or_else(|| panic!("no records in {answer}"))
        .iter()
        .map(|r| r["info"]["engagementId"].as_str().unwrap().to_owned())
        .collect()
}

/// The shop's morning: every interaction of `shop` but the old one.
fn morning() -> Value {
    json!({"start": {"from": T0, "to": T0 + HOUR}})
}

/// `morning()` with more filters.
fn morning_with(filters: Value) -> Value {
    let mut body = morning();
    for (key, value) in filters.as_object().unwrap() {
        body[key] = value.clone();
    }
    body
}

/// Asserts a 400 `invalid_request` whose errors are at exactly `paths`, in order.
async fn assert_bad_request(
    server: &TestServer,
    query: &str,
    body: &Value,
    paths: &[&str],
) -> Value {
    let (status, answer) = search(server, query, body).await;
    if let Some(mismatch) = bad_request_mismatch(status, &answer, paths) {
        panic!("{query} {body}: {mismatch}");
    }
    answer
}

// ---------------------------------------------------------------- who may search

#[tokio::test]
async fn search_of_an_unknown_account_is_not_found() {
    let server = TestServer::start().await;
    let (status, _, answer) = post(
        &search_url_of(&server, "999999999", ""),
        Some(&server.api_key),
        &morning(),
    )
    .await;
    assert_eq!(status, 404, "{answer}");
    assert_eq!(answer["code"], "unknown_account");
    // Not even a key is needed to learn that: every route answers 404 for it first.
    let (status, _, _) = post(&search_url_of(&server, "999999999", ""), None, &json!({})).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn search_without_a_key_or_with_an_invalid_one_is_unauthorized() {
    let server = TestServer::start().await;
    let url = search_url(&server, "");
    let (status, _, answer) = post(&url, None, &morning()).await;
    assert_eq!(status, 401, "{answer}");
    assert_eq!(answer["code"], "unauthorized");
    let (status, _, _) = post(&url, Some("ek_not-a-key"), &morning()).await;
    assert_eq!(status, 401);
    let response = server
        .client
        .post(&url)
        .header("authorization", format!("Basic {}", server.api_key))
        .json(&morning())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401, "only Bearer keys");
    // The key is checked before the body: an invalid body without a key is still 401.
    let (status, _, _) = post(&url, None, &json!({"nonsense": true})).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn search_with_another_accounts_key_is_forbidden() {
    let server = TestServer::start().await;
    let (other_id, other_key) = server.other_account("other shop").await;
    // The server has not seen the other account before: the store tells whose key it is.
    let (status, _, answer) = post(&search_url(&server, ""), Some(&other_key), &morning()).await;
    assert_eq!(status, 403, "{answer}");
    assert_eq!(answer["code"], "forbidden");
    // And the other way round.
    let (status, _, _) = post(
        &search_url_of(&server, &other_id, ""),
        Some(&server.api_key),
        &morning(),
    )
    .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn search_sees_only_its_own_accounts_interactions() {
    let server = TestServer::start().await;
    shop(&server).await;
    let (other_id, other_key) = server.other_account("other shop").await;
    let events = lifecycle(
        SLIDE_OUT_100_200,
        "x1",
        ALICE.page,
        T0 + MINUTE,
        &[("START", 0)],
    );
    collect_to(&server, &other_id, &ALICE, events, vec![]).await;
    let (status, _, answer) = post(
        &search_url_of(&server, &other_id, ""),
        Some(&other_key),
        &morning(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(interaction_ids(&answer), ["x1"]);
    assert_eq!(
        ids(&server, "", &morning()).await,
        ["c2", "c1", "b2", "b1", "a2", "a1"]
    );
}

#[tokio::test]
async fn search_when_too_many_are_running_is_429_with_retry_after() {
    let server = TestServer::start().await;
    let busy = server
        .state
        .history_searches
        .clone()
        .acquire_many_owned(engage_server::MAX_CONCURRENT_SEARCHES as u32)
        .await
        .unwrap();
    let (status, headers, answer) =
        post(&search_url(&server, ""), Some(&server.api_key), &morning()).await;
    assert_eq!(status, 429, "{answer}");
    assert_eq!(answer["code"], "too_many_requests");
    assert_eq!(headers.get(RETRY_AFTER).unwrap(), "1");
    // A bad request is still told what is wrong while the server is busy.
    assert_bad_request(&server, "", &json!({}), &["/start"]).await;
    drop(busy);
    let (status, _) = search(&server, "", &morning()).await;
    assert_eq!(status, 200);
}

// ---------------------------------------------------------------- bad requests

/// How a text in an answer must read.
#[derive(Clone, Copy, Debug)]
enum Text {
    Is(&'static str),
    StartsWith(&'static str),
    Contains(&'static str),
}

impl Text {
    fn matches(self, text: &str) -> bool {
        match self {
            Text::Is(expected) => text == expected,
            Text::StartsWith(start) => text.starts_with(start),
            Text::Contains(part) => text.contains(part),
        }
    }
}

/// A search answered 400 `invalid_request` with errors at exactly `paths`, in order.
struct Rejected {
    name: &'static str,
    /// Empty or starting with `?`.
    query: &'static str,
    body: fn() -> Value,
    paths: &'static [&'static str],
    /// Texts of the answer, by JSON pointer into it, that the case pins down.
    texts: &'static [(&'static str, Text)],
}

const fn rejected(
    name: &'static str,
    query: &'static str,
    body: fn() -> Value,
    paths: &'static [&'static str],
) -> Rejected {
    Rejected {
        name,
        query,
        body,
        paths,
        texts: &[],
    }
}

impl Rejected {
    const fn pinning(self, texts: &'static [(&'static str, Text)]) -> Self {
        Rejected { texts, ..self }
    }
}

const LIMIT_RANGE: &[(&str, Text)] = &[("/errors/0/message", Text::Contains("1-100"))];

#[rustfmt::skip]
const REJECTED: &[Rejected] = &[
    // The range of start times.
    rejected("no start", "", || json!({}), &["/start"])
        .pinning(&[("/message", Text::StartsWith("invalid search: /start: missing"))]),
    rejected("no from", "", || json!({"start": {"to": T0}}), &["/start/from"]),
    rejected("no to", "", || json!({"start": {"from": T0}}), &["/start/to"]),
    rejected("no bounds", "", || json!({"start": {}}), &["/start/from", "/start/to"]),
    rejected("from in words", "",
        || json!({"start": {"from": "yesterday", "to": T0}}), &["/start/from"]),
    rejected("start not an object", "", || json!({"start": T0}), &["/start"]),
    rejected("from after to", "", || json!({"start": {"from": T0 + 1, "to": T0}}), &["/start"])
        .pinning(&[("/errors/0/message", Text::Contains("is after"))]),
    // More than 31 days needs a visitor or an engagement id.
    rejected("41 days", "",
        || json!({"start": {"from": T0 - 41 * DAY, "to": T0 + HOUR}}), &["/start"])
        .pinning(&[("/errors/0/message", Text::Contains("at most 31"))]),
    rejected("31 days and 1 ms", "",
        || json!({"start": {"from": T0 - 41 * DAY, "to": T0 - 10 * DAY + 1}}), &["/start"]),
    // The page size is 1-100.
    rejected("limit 0", "?limit=0", morning, &["?limit"]).pinning(LIMIT_RANGE),
    rejected("limit 101", "?limit=101", morning, &["?limit"]).pinning(LIMIT_RANGE),
    rejected("negative limit", "?limit=-5", morning, &["?limit"]).pinning(LIMIT_RANGE),
    rejected("limit in words", "?limit=fifty", morning, &["?limit"]).pinning(LIMIT_RANGE),
    rejected("empty limit", "?limit=", morning, &["?limit"]).pinning(LIMIT_RANGE),
    // The offset is a whole number that fits.
    rejected("negative offset", "?offset=-1", morning, &["?offset"]),
    rejected("fractional offset", "?offset=1.5", morning, &["?offset"]),
    rejected("offset in words", "?offset=ten", morning, &["?offset"]),
    rejected("empty offset", "?offset=", morning, &["?offset"]),
    rejected("offset too large", "?offset=99999999999999999999", morning, &["?offset"]),
    // Sort keys and directions.
    rejected("unknown sort field", "?sort=price", morning, &["?sort"]),
    rejected("unknown sort direction", "?sort=start:sideways", morning, &["?sort"]),
    rejected("two sort directions", "?sort=start:desc:asc", morning, &["?sort"]),
    rejected("empty sort key", "?sort=start,,end", morning, &["?sort"]),
    rejected("sort key twice", "?sort=start,start:desc", morning, &["?sort"]),
    rejected("empty sort", "?sort=", morning, &["?sort"]),
    rejected("unknown sort field and direction", "?sort=price,start:up", morning,
        &["?sort", "?sort"])
        .pinning(&[
            ("/errors/0/message", Text::Is(
                "unknown sort field `price`, expected `start`, `end`, `duration`, `visitor`, \
                 `engagementId`, `interactive`, `agentId` or `skillId`")),
            ("/errors/1/message", Text::Is(
                "unknown sort direction `up` in `start:up`, expected `asc`, `desc` or `des`")),
        ]),
    // Unknown names, each named.
    rejected("unknown query parameter and body fields", "?limt=10",
        || morning_with(json!({
            "campaignId": [1],
            "keyword_search_area": {"types": ["ea.purchase"], "mode": "all"}
        })),
        &["?limt", "/campaignId", "/keyword_search_area/mode"])
        .pinning(&[
            ("/errors/0/message", Text::Contains("unknown query parameter `limt`")),
            ("/errors/1/message", Text::StartsWith(
                "unknown field `campaignId`, expected `start`, `visitor`, `engagementId`, \
                 `campaignIds`")),
            ("/errors/2/message", Text::StartsWith("unknown field `mode`")),
        ]),
    rejected("unknown SDE type", "",
        || morning_with(json!({"sdeSearch": {"customerinfo": "x"}})), &["/sdeSearch/customerinfo"]),
    // LivePerson's members: accepted, each read as strictly as Engage's own.
    rejected("interactive in words", "",
        || morning_with(json!({"interactive": "yes"})), &["/interactive"])
        .pinning(&[("/errors/0/message", Text::Is("expected true or false, found a string"))]),
    rejected("ended as a number", "", || morning_with(json!({"ended": 1})), &["/ended"]),
    rejected("duration without to", "",
        || morning_with(json!({"duration": {"from": 0}})), &["/duration/to"]),
    rejected("duration without from", "",
        || morning_with(json!({"duration": {"to": 180}})), &["/duration/from"]),
    rejected("duration from after to", "",
        || morning_with(json!({"duration": {"from": 10, "to": 5}})), &["/duration"]),
    rejected("negative duration", "",
        || morning_with(json!({"duration": {"from": -1, "to": 5}})), &["/duration/from"]),
    rejected("fractional duration", "",
        || morning_with(json!({"duration": {"from": 0, "to": 1.5}})), &["/duration/to"]),
    rejected("duration as a number", "", || morning_with(json!({"duration": 180})), &["/duration"]),
    rejected("duration in other units", "",
        || morning_with(json!({"duration": {"from": 0, "to": 1, "unit": "ms"}})),
        &["/duration/unit"]),
    rejected("skill ids not an array", "", || morning_with(json!({"skillIds": "14"})), &["/skillIds"]),
    rejected("an agent id in words", "",
        || morning_with(json!({"agentIds": [109, "greg"]})), &["/agentIds/1"]),
    rejected("a fractional agent group id", "",
        || morning_with(json!({"agentGroupIds": [1.5]})), &["/agentGroupIds/0"]),
    rejected("too many skill ids", "",
        || morning_with(json!({"skillIds": (0..=100).collect::<Vec<u32>>()})), &["/skillIds"]),
    rejected("an alerted MCS of 2", "",
        || morning_with(json!({"alertedMcsValues": ["1", "2"]})), &["/alertedMcsValues/1"]),
    rejected("chatMCS with no bound", "", || morning_with(json!({"chatMCS": {}})), &["/chatMCS"]),
    rejected("chatMCS over 100", "",
        || morning_with(json!({"chatMCS": {"from": 30, "to": 101}})), &["/chatMCS/to"]),
    rejected("an mcs of 5", "", || morning_with(json!({"mcs": 5})), &["/mcs"]),
    rejected("channel 3", "", || morning_with(json!({"channel": 3})), &["/channel"]),
    rejected("channel in words", "", || morning_with(json!({"channel": "WEB"})), &["/channel"]),
    rejected("co-browse flag in words", "",
        || morning_with(json!({"hasInteractiveCoBrowse": "true"})), &["/hasInteractiveCoBrowse"]),
    rejected("co-browse duration without to", "",
        || morning_with(json!({"coBrowseDuration": {"from": 1}})), &["/coBrowseDuration/to"]),
    rejected("a line content type of TEXT", "",
        || morning_with(json!({"lineContentTypes": ["TEXT"]})), &["/lineContentTypes/0"]),
    rejected("prediction labels not an array", "",
        || morning_with(json!({"predictionLabel": "billing"})), &["/predictionLabel"]),
    rejected("an empty prediction label", "",
        || morning_with(json!({"predictionLabel": [""]})), &["/predictionLabel/0"]),
    rejected("an unknown search area", "",
        || morning_with(json!({"keyword": "x", "keyword_search_area": {"types": ["chatLines"]}})),
        &["/keyword_search_area/types/0"]),
    rejected("a sort direction spelled out", "?sort=start:descending", morning, &["?sort"]),
    rejected("a sort field LivePerson does not list", "?sort=agentName", morning, &["?sort"]),
    rejected("agentId named twice", "?sort=agentId,agentId:desc", morning, &["?sort"]),
];

/// `(name, query, body)` of searches on the edges of what `REJECTED` refuses, each
/// answered 200.
type Accepted = (&'static str, &'static str, fn() -> Value);

#[rustfmt::skip]
const ACCEPTED: &[Accepted] = &[
    ("bounds as digit strings, which are epoch ms too", "",
        || json!({"start": {"from": T0.to_string(), "to": (T0 + HOUR).to_string()}})),
    ("one instant, which is a range", "", || json!({"start": {"from": T0, "to": T0}})),
    ("31 days exactly", "", || json!({"start": {"from": T0 - 41 * DAY, "to": T0 - 10 * DAY}})),
    ("limit 1", "?limit=1", morning),
    ("limit 100", "?limit=100", morning),
    // LivePerson's spellings.
    ("the sort direction `des`", "?sort=start:des", morning),
    ("sort by agent and skill", "?sort=agentId:asc,skillId:desc", morning),
    ("a source", "?source=LP_AgentUI_History", morning),
    ("a search area without a keyword", "",
        || morning_with(json!({"keyword_search_area": {"types": ["chatLine", "ea.purchase"]}}))),
    ("durations and scores as digit strings", "",
        || morning_with(json!({"duration": {"from": "0", "to": "180"}, "chatMCS": {"from": "30"}}))),
    ("the widest ranges", "",
        || morning_with(json!({"duration": {"from": 0, "to": 253_402_300_799_u64},
                               "chatMCS": {"from": 0, "to": 100},
                               "coBrowseDuration": {"from": 0, "to": 253_402_300_799_u64}}))),
    ("alerted MCS and channel as numbers", "",
        || morning_with(json!({"alertedMcsValues": [-1, 0, 1], "channel": -1, "mcs": -1}))),
];

/// What is wrong with `answer` for a 400 `invalid_request` with errors at exactly
/// `paths`, in order; `None` when nothing is.
fn bad_request_mismatch(status: u16, answer: &Value, paths: &[&str]) -> Option<String> {
    if status != 400 || answer["code"] != "invalid_request" {
        return Some(format!(
            "status {status}, expected 400 invalid_request: {answer}"
        ));
    }
    let found: Vec<&str> = answer["errors"]
        .as_array()
        .map(|errors| errors.iter().filter_map(|e| e["path"].as_str()).collect())
        .unwrap_or_default();
    (found != paths).then(|| format!("errors at {found:?}, expected {paths:?}: {answer}"))
}

/// Panics naming every failed case of a table of `total`, when any failed.
#[track_caller]
fn assert_no_failures(total: usize, failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} of {total} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn search_rejects_each_bad_request_at_its_path() {
    let server = TestServer::start().await;
    let mut failures = Vec::new();
    for case in REJECTED {
        let (status, answer) = search(&server, case.query, &(case.body)()).await;
        if let Some(mismatch) = bad_request_mismatch(status, &answer, case.paths) {
            failures.push(format!("{}: {mismatch}", case.name));
            continue;
        }
        for (pointer, text) in case.texts {
            let found = answer.pointer(pointer).and_then(Value::as_str);
            if !found.is_some_and(|found| text.matches(found)) {
                failures.push(format!(
                    "{}: {pointer} is {found:?}, expected {text:?}",
                    case.name
                ));
            }
        }
    }
    assert_no_failures(REJECTED.len(), &failures);
}

#[tokio::test]
async fn search_accepts_the_edges_of_what_it_rejects() {
    let server = TestServer::start().await;
    let mut failures = Vec::new();
    for (name, query, body) in ACCEPTED {
        let (status, answer) = search(&server, query, &body()).await;
        if status != 200 {
            failures.push(format!("{name}: status {status}: {answer}"));
        }
    }
    assert_no_failures(ACCEPTED.len(), &failures);
}

#[tokio::test]
async fn search_reports_every_bad_filter_value_at_once() {
    let server = TestServer::start().await;
    let answer = assert_bad_request(
        &server,
        "?limit=500&offset=x&sort=start:desc",
        &json!({
            "start": {"from": T0, "to": "later"},
            "visitor": "",
            "engagementId": true,
            "campaignIds": [100, "1a", -3],
            "engagementIds": 200,
            "engagementTypes": [0, 3, 4],
            "outcomes": ["clicked", "bought"],
            "keyword": "DRV1534XC",
            "keyword_search_area": {"types": ["ea.purchase", "purchase", "ea.viewProduct"]},
            "sdeSearch": {"customerInfo": "", "personalInfo": 7}
        }),
        &[
            "?offset",
            "?limit",
            "/start/to",
            "/visitor",
            "/engagementId",
            "/campaignIds/1",
            "/campaignIds/2",
            "/engagementIds",
            "/engagementTypes/2",
            "/outcomes/1",
            "/keyword_search_area/types/1",
            "/keyword_search_area/types/2",
            "/sdeSearch/customerInfo",
            "/sdeSearch/personalInfo",
        ],
    )
    .await;
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .ends_with("(and 13 more)"),
        "{answer}"
    );
    let message = |path: &str| {
        answer["errors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["path"] == path)
            .unwrap()["message"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        message("/engagementTypes/2"),
        "expected an engagement type 0, 1, 2, 3, 5 or 6 (peeling corner, overlay, toaster, slide-out, embedded, sticky), found 4"
    );
    assert!(message("/outcomes/1").contains("`timed_out`"));
    assert!(message("/keyword_search_area/types/1").contains("`ea.purchase`, `ea.viewedProduct`"));
    assert!(message("/engagementIds").contains("expected an array"));
    assert_eq!(
        message("/campaignIds/1"),
        "expected a campaign id (a whole number), found \"1a\""
    );
}

#[tokio::test]
async fn search_with_malformed_json_is_a_bad_request() {
    let server = TestServer::start().await;
    let response = server
        .client
        .post(search_url(&server, ""))
        .bearer_auth(&server.api_key)
        .header("content-type", "application/json")
        .body("{\"start\": {\"from\": 1,")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["code"], "malformed_json", "{answer}");
    let response = server
        .client
        .post(search_url(&server, ""))
        .bearer_auth(&server.api_key)
        .header("content-type", "text/csv")
        .body("start,1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
}

// ---------------------------------------------------------------- what a record holds

#[tokio::test]
async fn an_interaction_is_one_engagement_contexts_life() {
    let server = TestServer::start().await;
    let campaign = admin_support::campaign(&server, "Holiday sale", 1).await;
    let engagement = admin_support::engagement(
        &server,
        campaign,
        &json!({"name": "Slide-out chat button", "engagementType": 3, "tglName": "slider", "zoneId": 471288710}),
    )
    .await;
    let offer = Offer {
        campaign,
        engagement: engagement["engagementId"].as_u64().unwrap(),
        engagement_type: 3,
    };
    let steps = [
        ("START", 0),
        ("OFFER_DISPLAY", 100),
        ("OFFER_IMPRESSION", 200),
        ("OFFER_CLICK", 3_000),
        ("OFFER_REMOVE", 5_000),
    ];
    let events: Vec<Value> = steps
        .iter()
        .map(|(name, after)| {
            let mut event = offer_event(offer, "ctx-1", ALICE.page, name, T0 + after);
            event["data"]["engagementName"] = json!("Slide-out chat button");
            event
        })
        .collect();
    let sdes = vec![
        sde(
            T0 + 10 * SECOND,
            json!({"type": "ctmrinfo", "info": {"customerId": "138766AC", "ctype": "vip"}}),
        ),
        sde(
            T0 + 20 * SECOND,
            json!({"type": "purchase", "total": 11.7, "currency": "USD", "orderId": "DRV1534XC"}),
        ),
    ];
    collect(&server, &ALICE, events.clone(), sdes).await;

    let (status, answer) = search(&server, "", &morning()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["_metadata"]["count"], 1);
    let record = &answer["interactionHistoryRecords"][0];
    assert_eq!(
        sorted_keys(record),
        [
            "campaign",
            "coBrowseSessions",
            "engage",
            "info",
            "lineScores",
            "sdes",
            "transcript",
            "visitorInfo"
        ]
    );
    assert_eq!(record["transcript"], json!({"lines": []}));
    assert_eq!(record["lineScores"], json!([]));
    assert_eq!(
        record["coBrowseSessions"],
        json!({"coBrowseSessionsList": []})
    );
    // The documented shape (retrieve-engagement-list-by-criteria.md, "Elements in the
    // Response"): what Engage does not have is the documented "NA" / -1 / null.
    assert_eq!(
        record["info"],
        json!({
            "engagementId": "ctx-1",
            "accountId": server.account_id,
            "startTime": "2026-11-21 10:00:00.000+0000",
            "startTimeL": T0,
            "endTime": "2026-11-21 10:00:05.000+0000",
            "endTimeL": T0 + 5_000,
            "duration": 5,
            "visitorId": "v-alice",
            "visitorName": "NA",
            "isInteractive": true,
            "interactive": true,
            "ended": true,
            "isEnded": true,
            "isPartial": false,
            "chatDataEnriched": false,
            "isChatDataEnriched": false,
            "agentId": "-1",
            "agentName": "NA",
            "agentNickName": "NA",
            "agentLoginName": "NA",
            "agentFullName": "NA",
            "agentDeleted": false,
            "skillId": -1,
            "skillName": "NA",
            "agentGroupId": -1,
            "agentGroupName": "NA",
            "channel": 1,
            "startReason": "NA",
            "startReasonDesc": "NA",
            "endReason": "NA",
            "endReasonDesc": "NA",
            "engagementSet": 0,
            "engagementSequence": 0,
            "mcs": null,
            "alertedMCS": null,
            "chatMCS": null,
            "isAgentSurvey": false,
            "isPostChatSurvey": false,
            "isPreChatSurvey": false,
            "chatStartUrl": "https://shop.example/checkout",
            "chatStartPage": "NA"
        }),
        "a click beats the removal that followed it"
    );
    assert_eq!(
        record["campaign"],
        json!({
            "campaignEngagementId": offer.engagement.to_string(),
            "campaignEngagementName": "Slide-out chat button",
            "campaignId": campaign.to_string(),
            "campaignName": "Holiday sale",
            "goalId": "-1",
            "goalName": "NA",
            "visitorBehaviorId": "-1",
            "visitorBehaviorName": "NA",
            "visitorProfileId": "-1",
            "visitorProfileName": "NA",
            "lobId": "-1",
            "lobName": "NA",
            "engagementApplicationId": "NA",
            "engagementApplicationName": "NA",
            "engagementApplicationTypeId": "NA",
            "engagementApplicationTypeName": "NA"
        })
    );
    let engage = &record["engage"];
    assert_eq!(engage["outcome"], "clicked");
    assert_eq!(engage["sessionId"], "s-alice");
    assert_eq!(engage["pageId"], "p-alice");
    assert_eq!(engage["durationMs"], 5_000);
    assert_eq!(
        engage["campaign"],
        json!({
            "campaignId": campaign,
            "engagementId": offer.engagement,
            "engagementRevision": 1,
            "engagementType": 3,
            "tglName": "slider",
            "zoneId": 471288710
        })
    );
    assert_eq!(engage["userAgent"], CHROME_ON_WINDOWS);
    assert_eq!(engage["referrer"], "https://search.example/?q=shoes");
    let answered = engage["events"].as_array().unwrap();
    assert_eq!(answered.len(), events.len());
    for (answered, sent) in answered.iter().zip(&events) {
        assert_eq!(
            sorted_keys(answered),
            ["appName", "data", "eventName", "id", "serverTime", "time"]
        );
        assert_eq!(answered["id"], sent["id"]);
        assert_eq!(answered["time"], sent["time"]);
        assert_eq!(answered["appName"], "LP_OFFERS");
        assert_eq!(answered["eventName"], sent["eventName"]);
        assert_eq!(answered["data"], sent["data"]);
        assert!(answered["serverTime"].as_u64().unwrap() > T0 - 365 * DAY);
    }
    assert_eq!(
        record["visitorInfo"],
        json!({
            "country": "NA",
            "countryCode": "NA",
            "state": "NA",
            "city": "NA",
            "isp": "NA",
            "org": "NA",
            "device": "DESKTOP",
            "ipAddress": "NA",
            "browser": "Chrome 120",
            "operatingSystem": "WINDOWS",
            "browserType": "CHROME"
        })
    );
    let attributes = record["sdes"]["events"].as_array().unwrap();
    assert_eq!(attributes.len(), 2, "{record}");
    assert_eq!(attributes[0]["sdeType"], "CUSTOMER_INFO");
    assert_eq!(attributes[1]["sdeType"], "PURCHASE");
    for attribute in attributes {
        assert_eq!(attribute["isAuthenticated"], false);
        let inner = sde_attribute(attribute).1;
        assert_eq!(attribute["serverTimeStamp"], inner["serverTimeStamp"]);
        assert!(attribute["serverTimeStamp"].is_string());
    }
    assert_eq!(
        attributes[0]["customerInfo"]["customerInfo"]["customerId"],
        "138766AC"
    );
    assert_eq!(
        attributes[0]["customerInfo"]["customerInfo"]["customerType"],
        "vip"
    );
    assert_eq!(attributes[1]["purchase"]["orderId"], "DRV1534XC");
    assert_eq!(attributes[1]["purchase"]["total"], "11.7");
}

/// The JSON type of each member of a record in LivePerson's example response
/// (pages/documents/HistoricalData/EngagementHistoryAPI/methods/
/// retrieve-engagement-list-by-criteria.md, "Response", after request example 4; the
/// `sdes.events[]` members from the response after request example 5, `isPartial`,
/// `interactive` and `chatStartUrl` from there too). The printed example is not valid
/// JSON (a trailing comma, a missing one), so its members are listed here as data.
/// Containers Engage fills with nothing (`transcript.lines`, `coBrowseSessions`) are
/// checked as containers.
const DOCUMENTED_RECORD: &[(&str, &str)] = &[
    ("/info/startTime", "string"),
    ("/info/startTimeL", "number"),
    ("/info/endTime", "string"),
    ("/info/endTimeL", "number"),
    ("/info/duration", "number"),
    ("/info/visitorId", "string"),
    ("/info/visitorName", "string"),
    ("/info/engagementId", "string"),
    ("/info/isInteractive", "boolean"),
    ("/info/accountId", "string"),
    ("/info/agentId", "string"),
    ("/info/agentName", "string"),
    ("/info/agentLoginName", "string"),
    ("/info/skillId", "number"),
    ("/info/skillName", "string"),
    ("/info/channel", "number"),
    ("/info/startReason", "string"),
    ("/info/startReasonDesc", "string"),
    ("/info/endReason", "string"),
    ("/info/endReasonDesc", "string"),
    ("/info/engagementSet", "number"),
    ("/info/engagementSequence", "number"),
    ("/info/agentGroupId", "number"),
    ("/info/agentGroupName", "string"),
    ("/info/mcs", "null"),
    ("/info/ended", "boolean"),
    ("/info/chatDataEnriched", "boolean"),
    ("/info/isPartial", "boolean"),
    ("/info/interactive", "boolean"),
    ("/info/chatStartUrl", "string"),
    ("/transcript/lines", "array"),
    ("/lineScores", "array"),
    ("/campaign/campaignEngagementId", "string"),
    ("/campaign/campaignEngagementName", "string"),
    ("/campaign/campaignId", "string"),
    ("/campaign/campaignName", "string"),
    ("/campaign/goalId", "string"),
    ("/campaign/goalName", "string"),
    ("/campaign/visitorBehaviorId", "string"),
    ("/campaign/visitorBehaviorName", "string"),
    ("/campaign/visitorProfileId", "string"),
    ("/campaign/visitorProfileName", "string"),
    ("/campaign/lobId", "string"),
    ("/campaign/lobName", "string"),
    // The Messaging Interactions API's campaign table (the same container) types these
    // alphanumeric.
    ("/campaign/engagementApplicationId", "string"),
    ("/campaign/engagementApplicationName", "string"),
    ("/campaign/engagementApplicationTypeId", "string"),
    ("/campaign/engagementApplicationTypeName", "string"),
    ("/visitorInfo/country", "string"),
    ("/visitorInfo/state", "string"),
    ("/visitorInfo/city", "string"),
    ("/visitorInfo/isp", "string"),
    ("/visitorInfo/org", "string"),
    ("/visitorInfo/device", "string"),
    ("/visitorInfo/ipAddress", "string"),
    ("/visitorInfo/browser", "string"),
    ("/visitorInfo/operatingSystem", "string"),
    ("/coBrowseSessions/coBrowseSessionsList", "array"),
    ("/sdes/events", "array"),
    ("/sdes/events/0/serverTimeStamp", "string"),
    ("/sdes/events/0/sdeType", "string"),
    ("/sdes/events/0/isAuthenticated", "boolean"),
];

/// And of `_metadata` (the same example).
const DOCUMENTED_METADATA: &[(&str, &str)] = &[
    ("/count", "number"),
    ("/next/rel", "string"),
    ("/next/href", "string"),
    ("/last/rel", "string"),
    ("/last/href", "string"),
    ("/self/rel", "string"),
    ("/self/href", "string"),
    ("/shardsStatusResult/failureShards", "number"),
    ("/shardsStatusResult/totalShards", "number"),
    ("/shardsStatusResult/partialResult", "boolean"),
];

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[tokio::test]
async fn a_record_has_every_documented_member_with_the_documented_type() {
    let server = TestServer::start().await;
    shop(&server).await;
    // One record a page, so that `next` and `last` are there; a1 is Alice's, with
    // attributes.
    let (status, answer) = search(&server, "?limit=1&sort=engagementId", &morning()).await;
    assert_eq!(status, 200, "{answer}");
    for (pointer, expected) in DOCUMENTED_METADATA {
        let value = answer["_metadata"]
            .pointer(pointer)
            .unwrap_or_else(|| panic!("no _metadata{pointer} in {answer}"));
        assert_eq!(json_type(value), *expected, "_metadata{pointer}: {value}");
    }
    let record = &answer["interactionHistoryRecords"][0];
    assert_eq!(record["info"]["engagementId"], "a1");
    for (pointer, expected) in DOCUMENTED_RECORD {
        let value = record
            .pointer(pointer)
            .unwrap_or_else(|| panic!("no {pointer} in {record}"));
        assert_eq!(json_type(value), *expected, "{pointer}: {value}");
    }
    // The documented formats: text times as the example prints them, and the two forms
    // of each time agree.
    for name in ["startTime", "endTime"] {
        let text = record["info"][name].as_str().unwrap();
        let ms = record["info"][format!("{name}L")].as_i64().unwrap();
        assert_eq!(text.len(), "2015-05-28 04:46:23.209+0000".len(), "{text}");
        assert_eq!(&text[10..11], " ");
        assert!(text.ends_with("+0000"), "{text}");
        assert_eq!(
            text[20..23].parse::<i64>().unwrap(),
            ms % 1000,
            "{name}: milliseconds"
        );
    }
    let info = &record["info"];
    assert_eq!(
        info["duration"].as_i64().unwrap(),
        (info["endTimeL"].as_i64().unwrap() - info["startTimeL"].as_i64().unwrap()) / 1000,
        "whole seconds, rounded down"
    );
    // Documented values where the docs list them.
    assert!(["DESKTOP", "TABLET", "MOBILE", "NA"]
        .contains(&record["visitorInfo"]["device"].as_str().unwrap()));
    for entry in record["sdes"]["events"].as_array().unwrap() {
        let (kind, body) = sde_attribute(entry);
        assert_eq!(entry["serverTimeStamp"], body["serverTimeStamp"], "{entry}");
        assert!(!kind.is_empty());
    }
}

#[tokio::test]
async fn events_are_ordered_by_client_time_even_when_a_late_one_arrives_in_a_later_batch() {
    let server = TestServer::start().await;
    let event = |name: &str, after: u64| {
        offer_event(SLIDE_OUT_100_200, "late", ALICE.page, name, T0 + after)
    };
    // The page's first beacon lost the impression; it came with the next one, after the
    // click had been sent. Within a batch the order is not the client's either.
    collect(
        &server,
        &ALICE,
        vec![
            event("OFFER_CLICK", 3_000),
            event("START", 0),
            event("OFFER_DISPLAY", 100),
        ],
        vec![],
    )
    .await;
    collect(
        &server,
        &ALICE,
        vec![event("OFFER_IMPRESSION", 200)],
        vec![],
    )
    .await;
    // And a removal that happened before anything else was sent arrives last of all.
    collect(&server, &ALICE, vec![event("OFFER_REMOVE", 4_000)], vec![]).await;

    let (status, answer) = search(&server, "", &morning()).await;
    assert_eq!(status, 200);
    assert_eq!(
        answer["_metadata"]["count"], 1,
        "one context, one interaction: {answer}"
    );
    let record = &answer["interactionHistoryRecords"][0];
    let names: Vec<&str> = record["engage"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["eventName"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "START",
            "OFFER_DISPLAY",
            "OFFER_IMPRESSION",
            "OFFER_CLICK",
            "OFFER_REMOVE"
        ]
    );
    let times: Vec<u64> = record["engage"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["time"].as_u64().unwrap())
        .collect();
    assert_eq!(times, [T0, T0 + 100, T0 + 200, T0 + 3_000, T0 + 4_000]);
    assert_eq!(record["info"]["startTimeL"], T0);
    assert_eq!(record["info"]["endTimeL"], T0 + 4_000);
    assert_eq!(record["info"]["duration"], 4, "whole seconds");
    assert_eq!(record["engage"]["durationMs"], 4_000);
    assert_eq!(record["engage"]["outcome"], "clicked");
}

#[tokio::test]
async fn each_interaction_has_the_outcome_of_its_furthest_lifecycle_event() {
    let server = TestServer::start().await;
    shop(&server).await;
    let (status, answer) = search(&server, "?sort=engagementId", &morning()).await;
    assert_eq!(status, 200);
    let outcomes: Vec<(&str, &str)> = answer["interactionHistoryRecords"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["info"]["engagementId"].as_str().unwrap(),
                r["engage"]["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("a1", "clicked"),
            ("a2", "declined"),
            ("b1", "timed_out"),
            ("b2", "displayed"),
            ("c1", "started"),
            ("c2", "removed")
        ]
    );
}

#[tokio::test]
async fn the_visits_sdes_come_in_history_shape_oldest_first_with_their_timestamps() {
    let server = TestServer::start().await;
    shop(&server).await;
    // A later page of Alice's visit adds to her attributes (a customer info merges, the
    // history keeps each report).
    let later_page = Visit {
        page: "p-alice-2",
        ..ALICE
    };
    collect(
        &server,
        &later_page,
        vec![],
        vec![sde(
            T0 + 40 * SECOND,
            json!({"type": "ctmrinfo", "info": {"cstatus": "gold"}}),
        )],
    )
    .await;
    let (status, answer) = search(&server, "", &morning_with(json!({"engagementId": "a1"}))).await;
    assert_eq!(status, 200);
    let attributes = answer["interactionHistoryRecords"][0]["sdes"]["events"]
        .as_array()
        .unwrap()
        .clone();
    let keys: Vec<&str> = attributes.iter().map(|a| sde_attribute(a).0).collect();
    assert_eq!(
        keys,
        ["customerInfo", "personalInfo", "purchase", "customerInfo"]
    );
    let original: Vec<&str> = attributes
        .iter()
        .map(|a| sde_attribute(a).1["originalTimeStamp"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = [10, 20, 30, 40]
        .iter()
        .map(|s| (T0 + s * SECOND).to_string())
        .collect();
    assert_eq!(original, expected);
    let server_times: Vec<u64> = attributes
        .iter()
        .map(|a| {
            sde_attribute(a).1["serverTimeStamp"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert!(
        server_times.windows(2).all(|w| w[0] <= w[1]),
        "{server_times:?}"
    );
    // History shape: renamed fields, nested inner objects, every scalar a string.
    assert_eq!(
        attributes[0]["customerInfo"]["customerInfo"]["customerId"],
        "138766AC"
    );
    assert_eq!(
        attributes[0]["customerInfo"]["customerInfo"]["customerType"],
        "vip"
    );
    assert_eq!(
        attributes[3]["customerInfo"]["customerInfo"]["customerStatus"],
        "gold"
    );
    assert_eq!(
        attributes[1]["personalInfo"]["personalInfo"]["name"],
        "Alice"
    );
    assert_eq!(
        attributes[1]["personalInfo"]["personalInfo"]["contacts"][0]["personalContact"]["email"],
        "alice@example.com"
    );
    assert_eq!(attributes[2]["purchase"]["total"], "11.7");
    // Another visit's interaction has that visit's attributes only.
    let (_, answer) = search(&server, "", &morning_with(json!({"engagementId": "c1"}))).await;
    assert_eq!(
        answer["interactionHistoryRecords"][0]["sdes"]["events"][0]["searchContent"]["keywords"],
        json!(["red", "shoes"])
    );
    assert_eq!(
        answer["interactionHistoryRecords"][0]["sdes"]["events"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn visitor_info_is_read_from_the_visits_user_agent() {
    let server = TestServer::start().await;
    shop(&server).await;
    let (_, answer) = search(
        &server,
        "?sort=engagementId",
        &morning_with(json!({"engagementIds": [202, 204]})),
    )
    .await;
    let records = answer["interactionHistoryRecords"].as_array().unwrap();
    let device = |record: &Value| {
        json!([
            record["visitorInfo"]["device"],
            record["visitorInfo"]["browser"],
            record["visitorInfo"]["operatingSystem"],
            record["visitorInfo"]["browserType"],
        ])
    };
    assert_eq!(
        device(&records[0]),
        json!(["MOBILE", "Safari 17", "IOS", "SAFARI"])
    );
    assert_eq!(records[0]["engage"]["userAgent"], SAFARI_ON_IPHONE);
    assert!(
        records[0]["engage"].get("referrer").is_none(),
        "Bob's page had no referrer: the member is left out"
    );
    assert_eq!(
        device(&records[1]),
        json!([
            "TABLET",
            "Samsung Internet 22",
            "ANDROID",
            "SAMSUNG_INTERNET"
        ])
    );
    assert_eq!(records[1]["engage"]["userAgent"], SAMSUNG_ON_ANDROID_TABLET);
    assert_eq!(records[1]["engage"]["referrer"], "https://social.example/");
}

#[tokio::test]
async fn an_interaction_reported_through_the_monitoring_api_appears_like_a_tag_one() {
    let server = TestServer::start().await;
    let app = admin_support::app(&server).await;
    let campaign = admin_support::campaign(&server, "App campaign", 1).await;
    let engagement = admin_support::engagement(
        &server,
        campaign,
        &json!({"name": "In-app overlay", "engagementType": 1}),
    )
    .await;
    let engagement_id = engagement["engagementId"].as_u64().unwrap();
    let app_agent = "Dalvik/2.1.0 (Linux; U; Android 14; Pixel 8 Build/UQ1A.240205.004)";
    let monitoring = |call: &str, query: &str| {
        format!(
            "{}/api/account/{}/app/{app}/{call}?v=1.1{query}",
            server.url, server.account_id
        )
    };
    let response = server
        .client
        .post(monitoring("engagement", ""))
        .header("user-agent", app_agent)
        .json(&json!({"entryPoints": ["https://shop.example/app/home"],
                      "clientProperties": {"appVersion": "4.2.0", "deviceFamily": "MOBILE", "os": "ANDROID",
                                           "osVersion": "14", "ipAddress": "10.0.0.7"},
                      "engagementAttributes": [{"type": "ctmrinfo", "info": {"customerId": "APP-77"}}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let visit: Value = response.json().await.unwrap();
    let (vid, sid) = (
        visit["visitorId"].as_str().unwrap(),
        visit["sessionId"].as_str().unwrap(),
    );
    // The context the engagement call exposed: impressions may name only it.
    let context = visit["engagementDetails"][0]["contextId"]
        .as_str()
        .unwrap()
        .to_owned();
    let impression = |kind: &str| {
        json!({"type": kind, "campaign": campaign, "engId": engagement_id, "revision": 1,
               "eContext": [{"type": "engagementContext", "id": context}]})
    };
    let before = engage_store::ids::now_ms() as u64;
    let response = server
        .client
        .put(monitoring("report", &format!("&vid={vid}&sid={sid}")))
        .header("user-agent", app_agent)
        .json(&json!({"pageId": visit["pageId"], "engagementAttributes": [impression("impDisplay"), impression("impAccept")]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let after = engage_store::ids::now_ms() as u64;

    let body = json!({"start": {"from": before - HOUR, "to": after + HOUR}, "visitor": vid});
    let (status, answer) = search(&server, "", &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["_metadata"]["count"], 1, "{answer}");
    let record = &answer["interactionHistoryRecords"][0];
    let info = &record["info"];
    assert_eq!(info["engagementId"], context);
    assert_eq!(info["visitorId"], vid);
    assert_eq!(record["engage"]["sessionId"], sid);
    assert_eq!(record["engage"]["pageId"], visit["pageId"]);
    assert_eq!(record["engage"]["outcome"], "clicked");
    assert_eq!(info["isInteractive"], true);
    // The app sent no clock: the server's time is the interaction's.
    let start = info["startTimeL"].as_u64().unwrap();
    assert!((before..=after).contains(&start), "{info}");
    assert!(info["startTime"].as_str().unwrap().ends_with("+0000"));
    assert_eq!(record["campaign"]["campaignId"], campaign.to_string());
    assert_eq!(
        record["campaign"]["campaignEngagementId"],
        engagement_id.to_string()
    );
    assert_eq!(record["engage"]["campaign"]["campaignId"], campaign);
    assert_eq!(record["engage"]["campaign"]["engagementId"], engagement_id);
    assert_eq!(record["engage"]["campaign"]["engagementRevision"], 1);
    assert_eq!(record["campaign"]["campaignName"], "App campaign");
    // Impressions carry no engagement name, type or renderer: the record has the
    // engagement's, from its definition.
    assert_eq!(
        record["campaign"]["campaignEngagementName"],
        "In-app overlay"
    );
    assert_eq!(record["engage"]["campaign"]["engagementType"], 1);
    assert_eq!(record["engage"]["campaign"]["tglName"], "overlay");
    let names: Vec<&str> = record["engage"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["eventName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["OFFER_IMPRESSION", "OFFER_CLICK"]);
    for event in record["engage"]["events"].as_array().unwrap() {
        assert_eq!(event["appName"], "LP_OFFERS");
        assert_eq!(event["data"]["contextId"], context.as_str());
        assert_eq!(
            event["data"]["confKey"],
            format!("{campaign}_{engagement_id}_1")
        );
    }
    // The device is what the app said in clientProperties (its HTTP library's user agent
    // does not say it is a phone); the IP address is not kept.
    assert_eq!(record["visitorInfo"]["device"], "MOBILE");
    assert_eq!(record["visitorInfo"]["browser"], "NA");
    assert_eq!(record["visitorInfo"]["browserType"], "NA");
    assert_eq!(record["visitorInfo"]["operatingSystem"], "ANDROID");
    assert_eq!(record["visitorInfo"]["ipAddress"], "NA");
    assert_eq!(record["engage"]["operatingSystemVersion"], "14");
    assert_eq!(record["engage"]["appVersion"], "4.2.0");
    assert_eq!(record["engage"]["userAgent"], app_agent);
    assert_eq!(
        record["sdes"]["events"][0]["customerInfo"]["customerInfo"]["customerId"],
        "APP-77"
    );
    // Found by the same filters as a tag interaction.
    for filters in [
        json!({"campaignIds": [campaign]}),
        json!({"engagementIds": [engagement_id]}),
        json!({"outcomes": ["clicked"]}),
        json!({"sdeSearch": {"customerInfo": "APP-77"}}),
    ] {
        let mut filtered = body.clone();
        for (key, value) in filters.as_object().unwrap() {
            filtered[key] = value.clone();
        }
        assert_eq!(
            ids(&server, "", &filtered).await,
            [context.as_str()],
            "{filters}"
        );
    }
}

// ---------------------------------------------------------------- filters

#[tokio::test]
async fn search_of_an_account_without_interactions_finds_none() {
    let server = TestServer::start().await;
    let (status, answer) = search(&server, "", &morning()).await;
    assert_eq!(status, 200);
    assert_eq!(answer["interactionHistoryRecords"], json!([]));
    assert_eq!(
        sorted_keys(&answer["_metadata"]),
        ["count", "self", "shardsStatusResult"]
    );
    assert_eq!(answer["_metadata"]["count"], 0);
}

/// `(name, filters, ids)`: a search of the shop's morning with `filters` merged in (a
/// `start` there replaces the morning's) finds the interactions `ids`, in that order.
type Finds = (&'static str, fn() -> Value, &'static [&'static str]);

const EVERY_MORNING_ID: &[&str] = &["c2", "c1", "b2", "b1", "a2", "a1"];

/// Every filter alone, then together; see `shop` for who did what.
#[rustfmt::skip]
const FINDS: &[Finds] = &[
    // The range of start times, both ends included.
    ("the morning", || json!({}), EVERY_MORNING_ID),
    ("a2's start to b2's",
        || json!({"start": {"from": T0 + 2 * MINUTE, "to": T0 + 4 * MINUTE}}), &["b2", "b1", "a2"]),
    ("just inside a2's start to b2's",
        || json!({"start": {"from": T0 + 2 * MINUTE + 1, "to": T0 + 4 * MINUTE - 1}}), &["b1"]),
    ("40 days earlier",
        || json!({"start": {"from": T0 - 41 * DAY, "to": T0 - 39 * DAY}}), &["old"]),
    // Over 31 days with a visitor or an engagement id.
    ("41 days of a visitor",
        || json!({"start": {"from": T0 - 41 * DAY, "to": T0 + HOUR}, "visitor": "v-alice"}),
        &["a2", "a1", "old"]),
    ("41 days of an engagement id",
        || json!({"start": {"from": T0 - 41 * DAY, "to": T0 + HOUR}, "engagementId": "old"}),
        &["old"]),
    // visitor
    ("a visitor", || json!({"visitor": "v-bob"}), &["b2", "b1"]),
    ("an unknown visitor", || json!({"visitor": "v-nobody"}), &[]),
    // engagementId, the interaction id
    ("an engagement id", || json!({"engagementId": "b1"}), &["b1"]),
    ("an unknown engagement id", || json!({"engagementId": "zz"}), &[]),
    // campaignIds
    ("a campaign", || json!({"campaignIds": [101]}), &["b2", "b1"]),
    ("two campaigns, one as a digit string",
        || json!({"campaignIds": [101, "102"]}), &["c1", "b2", "b1"]),
    ("an unknown campaign", || json!({"campaignIds": [999]}), &[]),
    ("no campaigns, which filters nothing", || json!({"campaignIds": []}), EVERY_MORNING_ID),
    // engagementIds
    ("an engagement", || json!({"engagementIds": [200]}), &["c2", "a1"]),
    ("two engagements, one as a digit string",
        || json!({"engagementIds": ["204", 201]}), &["c1", "a2"]),
    // engagementTypes
    ("an engagement type", || json!({"engagementTypes": [3]}), &["c2", "a1"]),
    ("two engagement types, one as a digit string",
        || json!({"engagementTypes": [0, "6"]}), &["c1", "b2"]),
    ("an engagement type no one saw", || json!({"engagementTypes": [2]}), &[]),
    // outcomes
    ("clicked", || json!({"outcomes": ["clicked"]}), &["a1"]),
    ("declined", || json!({"outcomes": ["declined"]}), &["a2"]),
    ("timed out", || json!({"outcomes": ["timed_out"]}), &["b1"]),
    ("displayed", || json!({"outcomes": ["displayed"]}), &["b2"]),
    ("started", || json!({"outcomes": ["started"]}), &["c1"]),
    ("removed", || json!({"outcomes": ["removed"]}), &["c2"]),
    ("two outcomes", || json!({"outcomes": ["timed_out", "removed"]}), &["c2", "b1"]),
    // A keyword, in every SDE type or in those of keyword_search_area.
    ("an order id in purchases",
        || json!({"keyword": "DRV1534XC", "keyword_search_area": {"types": ["ea.purchase"]}}),
        &["a2", "a1"]),
    ("an order id in carts",
        || json!({"keyword": "DRV1534XC", "keyword_search_area": {"types": ["ea.cartStatus"]}}),
        &[]),
    ("an order id in customers and searches",
        || json!({
            "keyword": "DRV1534XC",
            "keyword_search_area": {"types": ["ea.customerInfo", "ea.searchContent"]}
        }),
        &[]),
    ("an order id in carts and purchases",
        || json!({
            "keyword": "DRV1534XC",
            "keyword_search_area": {"types": ["ea.cartStatus", "ea.purchase"]}
        }),
        &["a2", "a1"]),
    ("an order id without an area: every type", || json!({"keyword": "DRV1534XC"}), &["a2", "a1"]),
    ("a SKU in carts",
        || json!({"keyword": "SKU-RED-42", "keyword_search_area": {"types": ["ea.cartStatus"]}}),
        &["b2", "b1"]),
    ("search words in searches",
        || json!({"keyword": "red shoes", "keyword_search_area": {"types": ["ea.searchContent"]}}),
        &["c2", "c1"]),
    // sdeSearch: each type's search must match.
    ("a customer id", || json!({"sdeSearch": {"customerInfo": "138766AC"}}), &["a2", "a1"]),
    ("an email", || json!({"sdeSearch": {"personalInfo": "alice@example.com"}}), &["a2", "a1"]),
    ("another email", || json!({"sdeSearch": {"personalInfo": "bob@example.com"}}), &["b2", "b1"]),
    ("an email as a customer info, which it is not",
        || json!({"sdeSearch": {"customerInfo": "bob@example.com"}}), &[]),
    ("a customer id and another's email",
        || json!({"sdeSearch": {"customerInfo": "138766AC", "personalInfo": "bob@example.com"}}),
        &[]),
    // Filters combine with and, the values of one filter with or.
    ("campaign, type, outcomes",
        || json!({"campaignIds": [100], "engagementTypes": [3], "outcomes": ["clicked", "removed"]}),
        &["c2", "a1"]),
    ("campaign, type, outcomes, visitor",
        || json!({
            "campaignIds": [100], "engagementTypes": [3], "outcomes": ["clicked", "removed"],
            "visitor": "v-carol"
        }),
        &["c2"]),
    ("campaign, type, outcomes, keyword",
        || json!({
            "campaignIds": [100], "engagementTypes": [3], "outcomes": ["clicked", "removed"],
            "keyword": "DRV1534XC"
        }),
        &["a1"]),
    ("every filter",
        || json!({
            "visitor": "v-bob", "engagementId": "b1", "campaignIds": [101], "engagementIds": [202],
            "engagementTypes": [5], "outcomes": ["timed_out"], "keyword": "SKU-RED-42",
            "keyword_search_area": {"types": ["ea.cartStatus"]},
            "sdeSearch": {"personalInfo": "bob@example.com"}
        }),
        &["b1"]),
    ("every filter, one of them off",
        || json!({
            "visitor": "v-bob", "engagementId": "b1", "campaignIds": [101], "engagementIds": [202],
            "engagementTypes": [6], "outcomes": ["timed_out"], "keyword": "SKU-RED-42",
            "keyword_search_area": {"types": ["ea.cartStatus"]},
            "sdeSearch": {"personalInfo": "bob@example.com"}
        }),
        &[]),
    // interactive: the visitor clicked (an OFFER_CLICK).
    ("interactive", || json!({"interactive": true}), &["a1"]),
    ("not interactive", || json!({"interactive": false}), &["c2", "c1", "b2", "b1", "a2"]),
    // ended: declined, timed out or removed.
    ("ended", || json!({"ended": true}), &["c2", "b1", "a2"]),
    ("not ended", || json!({"ended": false}), &["c1", "b2", "a1"]),
    ("interactive and ended", || json!({"interactive": true, "ended": true}), &[]),
    ("not interactive and ended, a campaign",
        || json!({"interactive": false, "ended": true, "campaignIds": [100]}), &["c2", "a2"]),
    // duration, in whole seconds, both ends included.
    ("up to 2 s", || json!({"duration": {"from": 0, "to": 2}}), &["c2", "c1", "b1"]),
    ("4 s", || json!({"duration": {"from": 4, "to": 4}}), &["b2"]),
    ("5 s to 150 s, as digit strings",
        || json!({"duration": {"from": "5", "to": "150"}}), &["a2", "a1"]),
    ("over 150 s", || json!({"duration": {"from": 151, "to": 100_000}}), &[]),
    // A keyword in areas Engage has no text of finds nothing; with an attribute type
    // beside them it searches that type.
    ("an order id in chat lines",
        || json!({"keyword": "DRV1534XC", "keyword_search_area": {"types": ["chatLine"]}}), &[]),
    ("an order id in chat lines, surveys, visitor info and scores",
        || json!({"keyword": "DRV1534XC", "keyword_search_area": {"types":
            ["chatLine", "surveyAnswer", "surveyQuestion", "visitorInfo", "mcs"]}}), &[]),
    ("an order id in chat lines and purchases",
        || json!({"keyword": "DRV1534XC",
                  "keyword_search_area": {"types": ["chatLine", "ea.purchase"]}}),
        &["a2", "a1"]),
    ("a search area without a keyword, which filters nothing",
        || json!({"keyword_search_area": {"types": ["ea.purchase"]}}), EVERY_MORNING_ID),
    // What Engage does not record: an empty value filters nothing, any other matches no
    // interaction.
    ("no skills", || json!({"skillIds": []}), EVERY_MORNING_ID),
    ("skills", || json!({"skillIds": ["14", 17]}), &[]),
    ("no agents", || json!({"agentIds": []}), EVERY_MORNING_ID),
    ("agents", || json!({"agentIds": ["109"]}), &[]),
    ("no agent groups", || json!({"agentGroupIds": []}), EVERY_MORNING_ID),
    ("agent groups", || json!({"agentGroupIds": [7]}), &[]),
    ("no alerted MCS", || json!({"alertedMcsValues": []}), EVERY_MORNING_ID),
    ("alerted MCS", || json!({"alertedMcsValues": ["1"]}), &[]),
    ("chat MCS", || json!({"chatMCS": {"from": 0, "to": 100}}), &[]),
    ("MCS", || json!({"mcs": 0}), &[]),
    ("no interactive co-browse", || json!({"hasInteractiveCoBrowse": false}), EVERY_MORNING_ID),
    ("an interactive co-browse", || json!({"hasInteractiveCoBrowse": true}), &[]),
    ("a co-browse duration", || json!({"coBrowseDuration": {"from": 0, "to": 60}}), &[]),
    ("no line content types", || json!({"lineContentTypes": []}), EVERY_MORNING_ID),
    ("rich content lines", || json!({"lineContentTypes": ["RICH_CONTENT"]}), &[]),
    ("no prediction labels", || json!({"predictionLabel": []}), EVERY_MORNING_ID),
    ("a prediction label", || json!({"predictionLabel": ["\"add service\""]}), &[]),
    ("the web channel, which every interaction is", || json!({"channel": 1}), EVERY_MORNING_ID),
    ("the voice channel", || json!({"channel": 2}), &[]),
    ("an unknown channel", || json!({"channel": -1}), &[]),
];

/// The six request bodies of LivePerson's "Retrieve Engagement List by Criteria"
/// (developer-center, pages/documents/HistoricalData/EngagementHistoryAPI/methods/
/// retrieve-engagement-list-by-criteria.md, "Request Example 1" to "Request example 6"),
/// as printed there, whitespace included.
const DOCUMENTED_REQUESTS: [(&str, &str); 6] = [
    (
        "Request Example 1: simple chat search by time range",
        r#"    {
      "interactive": true,
      "ended": true,
      "start": {
        "from": 1433140200000,
        "to": 1435645800000
      }
    }"#,
    ),
    (
        "Request Example 2: chat search by time range and keyword",
        "    {
            \"interactive\":true,
            \"ended\":true,
            \"start\":{
                 \"from\":1433140200000,\"to\":1435645800000
             },
       \t   \"keyword\": \"ipad\",
       \"keyword_search_area\": {
           \"types\": [
               \"chatLine\",
               \"surveyAnswer\",
               \"surveyQuestion\",
               \"ea.purchase\",
               \"ea.viewedProduct\",
               \"ea.cartStatus\",
               \"ea.serviceActivity\",
               \"ea.visitorError\",
               \"ea.lead\",
               \"ea.customerInfo\",
               \"ea.marketingCampaignInfo\",
               \"ea.personalInfo\"
           ]
       }
    }",
    ),
    (
        "Request example 3: skills, agents, duration, keyword in chat lines",
        r#"    {
       "interactive": true,
       "ended": true,
       "start": {
           "from": 1437054059354,
           "to": 1437661693023
       },
       "skillIds": [
           "14",
           "17",
           "18"
       ],
       "agentIds": [
           "109",
           "169"
       ],
       "duration": {
           "from": 0,
           "to": 180
       },
       "keyword": "ipad",
    "keyword_search_area": {"types": ["chatLine" ] }
    }"#,
    ),
    (
        "Request example 4: chat search by time range and MCS",
        r#"     {
        "interactive": true,
        "ended": true,
        "start": {
            "from": 1437054059354,
            "to": 1437661693023
        },
        "keyword_search_area": {"types": ["mcs"]},"mcs": 1
    }"#,
    ),
    (
        "Request example 5: chat search by time range and chatMCS",
        r#"     {
        "interactive": true,
        "ended": true,
        "start": {
            "from": 1437054059354,
            "to": 1437661693023
        },
        "chatMCS": {"from":"30", "to": "60"}
    }"#,
    ),
    (
        "Request example 6: chat search by time range and alertedMCS",
        r#"    {
      "start": {
        "from": "1485330205108",
        "to": "1485942798000"
      },
      "alertedMcsValues": [
        "1"
      ]
    }"#,
    ),
];

#[tokio::test]
async fn every_documented_request_example_is_answered() {
    let server = TestServer::start().await;
    shop(&server).await;
    let mut failures = Vec::new();
    // With the page's own sort spelling and a source named as the page asks.
    for query in ["", "?sort=start:des&source=LP_AgentUI_History"] {
        for (name, body) in DOCUMENTED_REQUESTS {
            let response = server
                .client
                .post(search_url(&server, query))
                .bearer_auth(&server.api_key)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let answer: Value = response.json().await.unwrap_or(Value::Null);
            // Their dates are in 2015 and 2017: nothing of the shop's is that old.
            if status != 200 || answer["_metadata"]["count"] != 0 {
                failures.push(format!("{name} {query}: status {status}: {answer}"));
            }
        }
    }
    assert_no_failures(2 * DOCUMENTED_REQUESTS.len(), &failures);

    // The same bodies moved to the shop's morning find what their filters say.
    let moved = |i: usize| {
        let mut body: Value = serde_json::from_str(DOCUMENTED_REQUESTS[i].1).unwrap();
        body["start"] = morning()["start"].clone();
        body
    };
    // 1: interactive and ended; a1 was clicked but never left the page.
    assert_eq!(ids(&server, "", &moved(0)).await, Vec::<String>::new());
    let mut clicked = moved(0);
    clicked["ended"] = json!(false);
    assert_eq!(ids(&server, "", &clicked).await, ["a1"]);
    // 2: "ipad" is in no attribute.
    let mut order = moved(1);
    order["interactive"] = json!(false);
    assert_eq!(ids(&server, "", &order).await, Vec::<String>::new());
    order["keyword"] = json!("DRV1534XC");
    assert_eq!(ids(&server, "", &order).await, ["a2"]);
    // 3 to 6 ask for skills, agents, chat lines and scores, which Engage does not record.
    for (i, (name, _)) in DOCUMENTED_REQUESTS.iter().enumerate().skip(2) {
        assert_eq!(
            ids(&server, "", &moved(i)).await,
            Vec::<String>::new(),
            "{name}"
        );
    }
}

/// What is wrong with a search's `(status, answer)` for one expected to find `ids`, in
/// that order; `None` when nothing is.
fn finds_mismatch((status, answer): (u16, Value), ids: &[&str]) -> Option<String> {
    if status != 200 {
        return Some(format!("status {status}: {answer}"));
    }
    let found: Vec<&str> = answer["interactionHistoryRecords"]
        .as_array()
        .map(|records| {
            records
                .iter()
                .filter_map(|r| r["info"]["engagementId"].as_str())
                .collect()
        })
        .unwrap_or_default();
    (found != ids).then(|| format!("found {found:?}, expected {ids:?}"))
}

#[tokio::test]
async fn search_filters_find_exactly_their_interactions() {
    let server = TestServer::start().await;
    shop(&server).await;
    let mut failures = Vec::new();
    for (name, filters, ids) in FINDS {
        let answer = search(&server, "", &morning_with(filters())).await;
        if let Some(mismatch) = finds_mismatch(answer, ids) {
            failures.push(format!("{name}: {mismatch}"));
        }
    }
    assert_no_failures(FINDS.len(), &failures);
}

// ---------------------------------------------------------------- sort and pages

/// Each `?sort=` and the morning's interactions in the order it gives.
#[rustfmt::skip]
const SORTS: &[(&str, &[&str])] = &[
    // By start, newest first unless told otherwise.
    ("", EVERY_MORNING_ID),
    ("?sort=start:desc", EVERY_MORNING_ID),
    ("?sort=start", &["a1", "a2", "b1", "b2", "c1", "c2"]),
    ("?sort=start:asc", &["a1", "a2", "b1", "b2", "c1", "c2"]),
    // a1's click came 150 s after it started, after a2 and b1 had ended.
    ("?sort=end", &["a2", "b1", "a1", "b2", "c1", "c2"]),
    ("?sort=end:desc", &["c2", "c1", "b2", "a1", "b1", "a2"]),
    ("?sort=duration:desc", &["a1", "a2", "b2", "c2", "b1", "c1"]),
    ("?sort=duration:asc", &["c1", "b1", "c2", "b2", "a2", "a1"]),
    ("?sort=engagementId", &["a1", "a2", "b1", "b2", "c1", "c2"]),
    ("?sort=engagementId:desc", &["c2", "c1", "b2", "b1", "a2", "a1"]),
    // Later keys order what the earlier ones leave tied.
    ("?sort=visitor:desc,start:asc", &["c1", "c2", "b1", "b2", "a1", "a2"]),
    ("?sort=visitor,duration:desc", &["a1", "a2", "b2", "b1", "c2", "c1"]),
    // LivePerson's `des`, and its fields.
    ("?sort=start:des", EVERY_MORNING_ID),
    ("?sort=duration:des,start", &["a1", "a2", "b2", "c2", "b1", "c1"]),
    ("?sort=interactive:desc,start:desc", &["a1", "c2", "c1", "b2", "b1", "a2"]),
    ("?sort=interactive,start:asc", &["a2", "b1", "b2", "c1", "c2", "a1"]),
    // No interaction has an agent or a skill: they order nothing, the other keys do.
    ("?sort=agentId", EVERY_MORNING_ID),
    ("?sort=skillId:desc,start:asc,agentId", &["a1", "a2", "b1", "b2", "c1", "c2"]),
];

#[tokio::test]
async fn search_sorts_as_asked() {
    let server = TestServer::start().await;
    shop(&server).await;
    let mut failures = Vec::new();
    for (query, ids) in SORTS {
        let answer = search(&server, query, &morning()).await;
        if let Some(mismatch) = finds_mismatch(answer, ids) {
            failures.push(format!("{query:?}: {mismatch}"));
        }
    }
    assert_no_failures(SORTS.len(), &failures);
}

#[tokio::test]
async fn following_next_prev_and_last_links_gives_the_right_pages() {
    let server = TestServer::start().await;
    shop(&server).await;
    let body = morning_with(json!({"campaignIds": [100, 101, 102]}));
    let (status, first) = search(
        &server,
        "?limit=2&sort=start:asc&source=history-test",
        &body,
    )
    .await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(interaction_ids(&first), ["a1", "a2"]);
    let metadata = &first["_metadata"];
    assert_eq!(metadata["count"], 6);
    assert!(metadata.get("prev").is_none(), "{metadata}");
    let base = search_url(&server, "");
    assert_eq!(
        metadata["self"],
        json!({"rel": "self", "href": format!("{base}?offset=0&limit=2&sort=start:asc&source=history-test")})
    );
    assert_eq!(metadata["next"]["rel"], "next");
    assert_eq!(metadata["last"]["rel"], "last");
    assert_eq!(
        metadata["last"]["href"],
        format!("{base}?offset=4&limit=2&sort=start:asc&source=history-test")
    );

    let follow = |page: Value, rel: &'static str| {
        let href = page["_metadata"][rel]["href"]
            .as_str()
            .unwrap_or_else(|| panic!("no {rel} in {page}"))
            .to_owned();
        let key = server.api_key.clone();
        let body = body.clone();
        async move {
            let (status, _, answer) = post(&href, Some(&key), &body).await;
            assert_eq!(status, 200, "{href}: {answer}");
            answer
        }
    };
    let second = follow(first.clone(), "next").await;
    assert_eq!(interaction_ids(&second), ["b1", "b2"]);
    assert_eq!(second["_metadata"]["count"], 6);
    let third = follow(second.clone(), "next").await;
    assert_eq!(interaction_ids(&third), ["c1", "c2"]);
    assert!(
        third["_metadata"].get("next").is_none(),
        "the last page has no next"
    );
    assert_eq!(
        third["_metadata"]["self"]["href"],
        third["_metadata"]["last"]["href"]
    );
    let back = follow(third.clone(), "prev").await;
    assert_eq!(interaction_ids(&back), ["b1", "b2"]);
    let first_again = follow(back, "prev").await;
    assert_eq!(first_again, first);
    let last = follow(first, "last").await;
    assert_eq!(last, third);
}

#[tokio::test]
async fn links_are_absolute_and_honour_x_forwarded_proto() {
    let server = TestServer::start().await;
    shop(&server).await;
    let response = server
        .client
        .post(search_url(&server, "?limit=1&source=my%20dashboard"))
        .bearer_auth(&server.api_key)
        .header("x-forwarded-proto", "https")
        .header("host", "engage.example")
        .json(&morning())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    let path = format!(
        "/interaction_history/api/account/{}/interactions/search",
        server.account_id
    );
    assert_eq!(
        answer["_metadata"]["next"]["href"],
        format!(
            "https://engage.example{path}?offset=1&limit=1&sort=start:desc&source=my%20dashboard"
        )
    );
    // Without a proxy's word the scheme is http, and the host is the one asked.
    let (_, answer) = search(&server, "", &morning()).await;
    assert_eq!(
        answer["_metadata"]["self"]["href"],
        format!("{}{path}?offset=0&limit=50&sort=start:desc", server.url)
    );
}
