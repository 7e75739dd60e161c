//! `POST /api/account/{accountId}/decision` over real HTTP: what the tag asks on every
//! page view, and every kind of targeting.

// Tests: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::admin_support;
use crate::common;

use admin_support::{
    account_url, campaign, collect, decide, engagement, error_paths, impression, page, put,
    shown_ids,
};
use common::TestServer;
use engage_store::ExportKind;
use reqwest::Method;
use serde_json::{json, Value};

fn id(engagement: &Value) -> u64 {
    engagement["engagementId"].as_u64().unwrap()
}

#[tokio::test]
async fn the_decision_answers_what_the_tag_renders_and_records_nothing() {
    let server = TestServer::start().await;
    let c = campaign(&server, "Spring sale", 10).await;
    let e = engagement(
        &server,
        c,
        &json!({"name": "Slide-out chat button", "engagementType": 3, "zoneId": 471288710,
                "timeoutSeconds": 30,
                "content": {"title": "Questions?", "body": "We are here", "acceptLabel": "Chat now", "closeLabel": "No thanks"}}),
    )
    .await;
    let body = page(
        "v-1",
        "https://shop.example/cart",
        &["shop"],
        json!([{"type": "cart", "total": 11.7}]),
    );
    let response = server
        .client
        .post(account_url(&server, "/decision"))
        .header("content-type", "text/plain")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let answer: Value = response.json().await.unwrap();
    let shown = &answer["engagements"][0];
    let context = shown["contextId"].as_str().expect("a string contextId");
    assert!(!context.is_empty());
    assert_eq!(
        answer,
        json!({"engagements": [{
            "campaignId": c, "engagementId": id(&e), "engagementRevision": 1, "engagementType": 3,
            "contextId": context, "zoneId": 471288710, "state": 1,
            "confKey": format!("{c}_{}_1", id(&e)), "tglName": "slider",
            "engagementName": "Slide-out chat button", "timeoutSeconds": 30,
            "content": {"title": "Questions?", "body": "We are here", "acceptLabel": "Chat now", "closeLabel": "No thanks"}
        }]})
    );
    let (status, again) = decide(&server, &body).await;
    assert_eq!(status, 200);
    assert_ne!(
        again["engagements"][0]["contextId"], shown["contextId"],
        "each decision allocates a new engagement context"
    );
    // Without a zone, timeout or content the answer says null.
    let c2 = campaign(&server, "Other", 20).await;
    let bare = engagement(
        &server,
        c2,
        &json!({"name": "Sticky", "engagementType": 6, "zoneId": 1}),
    )
    .await;
    let (_, answer) = decide(&server, &body).await;
    let sticky = answer["engagements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["engagementId"] == bare["engagementId"])
        .unwrap();
    assert_eq!(sticky["timeoutSeconds"], Value::Null);
    assert_eq!(
        sticky["content"],
        json!({"title": null, "body": null, "acceptLabel": null, "closeLabel": null})
    );
    // START comes from the tag: the decision stored nothing, not even the pushed cart.
    assert!(server.export(ExportKind::Events).await.is_empty());
    assert!(server.export(ExportKind::Sdes).await.is_empty());
    assert_eq!(
        server
            .store
            .count(&server.account_id, ExportKind::Quarantine)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn an_empty_account_decides_nothing_and_bad_requests_are_answered_400() {
    let server = TestServer::start().await;
    let body = page("v-1", "https://shop.example/", &[], json!([]));
    let (status, answer) = decide(&server, &body).await;
    assert_eq!((status, answer), (200, json!({"engagements": []})));

    let response = server
        .client
        .post(format!("{}/api/account/424242/decision", server.url))
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["code"], "unknown_account");

    let (status, error) = decide(
        &server,
        &json!({"sessionId": "s", "sections": {"a": 1}, "url": 7, "sdes": {}, "color": "red"}),
    )
    .await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["code"], "invalid_request");
    let paths = error_paths(&error);
    assert_eq!(
        paths,
        ["/color", "/visitorId", "/url", "/sections", "/sdes"]
    );

    let response = server
        .client
        .post(account_url(&server, "/decision"))
        .body("{\"visitorId\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["code"], "malformed_json");
    let response = server
        .client
        .post(account_url(&server, "/decision"))
        .header("content-type", "text/html")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);

    // An attribute that does not validate is left out; the rest still decides.
    let c = campaign(&server, "c", 1).await;
    let e = engagement(
        &server,
        c,
        &json!({"name": "Big cart", "engagementType": 1,
                "targeting": {"sdes": [{"path": "cartStatus.total", "op": "gt", "value": 100}]}}),
    )
    .await;
    let body = page(
        "v-1",
        "https://shop.example/",
        &[],
        json!([{"type": "mrktInfo", "info": {"channel": 9}}, {"type": "cart", "total": 150}]),
    );
    let response = server
        .client
        .post(account_url(&server, "/decision"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "application/json is taken too");
    let answer: Value = response.json().await.unwrap();
    assert_eq!(shown_ids(&answer), [id(&e)]);
}

#[tokio::test]
async fn the_decision_route_answers_cors_like_the_collect_route() {
    let server = TestServer::start().await;
    let url = account_url(&server, "/decision");
    server
        .assert_preflight_allows(&url, "https://shop.example")
        .await;
    let body = page("v-1", "https://shop.example/", &[], json!([]));
    for content_type in ["text/plain", "application/json"] {
        let response = server
            .client
            .post(&url)
            .header("origin", "https://shop.example")
            .header("content-type", content_type)
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["access-control-allow-origin"],
            "https://shop.example"
        );
    }
    // Errors carry the CORS headers too, so the page can read them.
    let response = server
        .client
        .post(&url)
        .header("origin", "https://shop.example")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://shop.example"
    );
}

#[tokio::test]
async fn an_account_that_restricts_origins_refuses_other_pages() {
    let server = TestServer::start().await;
    // No admin route sets origins yet: write them as `engage account` would, before the
    // server first reads the account.
    let db = rusqlite::Connection::open(server.db_path()).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    db.execute(
        "UPDATE accounts SET allowed_origins = ?1 WHERE id = ?2",
        rusqlite::params![r#"["https://shop.example"]"#, server.account_id],
    )
    .unwrap();
    drop(db);
    let body = page("v-1", "https://shop.example/", &[], json!([]));
    let url = account_url(&server, "/decision");
    let response = server
        .client
        .post(&url)
        .header("origin", "https://elsewhere.example")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["code"], "origin_not_allowed");
    let response = server
        .client
        .post(&url)
        .header("origin", "https://shop.example")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://shop.example"
    );
}

#[tokio::test]
async fn sections_target_by_include_and_exclude_without_regard_to_case() {
    let server = TestServer::start().await;
    let c = campaign(&server, "c", 1).await;
    let cart = engagement(
        &server,
        c,
        &json!({"name": "Cart help", "engagementType": 2, "zoneId": 1,
                "targeting": {"sections": {"include": ["Cart", "checkout"]}}}),
    )
    .await;
    let not_checkout = engagement(
        &server,
        c,
        &json!({"name": "Everywhere but checkout", "engagementType": 6, "zoneId": 2,
                "targeting": {"sections": {"exclude": ["checkout"]}}}),
    )
    .await;
    let url = "https://shop.example/";
    let ask = |sections: &'static [&'static str]| {
        let server = &server;
        async move {
            let (status, answer) = decide(server, &page("v-1", url, sections, json!([]))).await;
            assert_eq!(status, 200, "{answer}");
            shown_ids(&answer)
        }
    };
    assert_eq!(ask(&[]).await, [id(&not_checkout)]);
    assert_eq!(ask(&["shop", "CART"]).await, [id(&cart), id(&not_checkout)]);
    assert_eq!(ask(&["checkout"]).await, [id(&cart)]);
    assert_eq!(ask(&["home"]).await, [id(&not_checkout)]);
    assert_eq!(ask(&["", "cart"]).await, [id(&cart), id(&not_checkout)]);
    // One name instead of an array, as `lpTag.section = "cart"` allows.
    let (status, answer) = decide(
        &server,
        &json!({"visitorId": "v-1", "sessionId": "s-1", "url": url, "sections": "checkout"}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(shown_ids(&answer), [id(&cart)]);
}

#[tokio::test]
async fn url_rules_target_by_contains_prefix_and_regex_and_exclude() {
    let server = TestServer::start().await;
    let c = campaign(&server, "c", 1).await;
    let contains = engagement(
        &server,
        c,
        &json!({"name": "contains", "engagementType": 1, "zoneId": 1,
                "targeting": {"url": {"include": [{"contains": "/cart"}], "exclude": [{"contains": "preview=1"}]}}}),
    )
    .await;
    let prefix = engagement(
        &server,
        c,
        &json!({"name": "prefix", "engagementType": 1, "zoneId": 2,
                "targeting": {"url": {"include": [{"prefix": "https://shop.example/sale/"}]}}}),
    )
    .await;
    let regex = engagement(
        &server,
        c,
        &json!({"name": "regex", "engagementType": 1, "zoneId": 3,
                "targeting": {"url": {"include": [{"regex": "^https://shop\\.example/product/[0-9]+$"}]}}}),
    )
    .await;
    let ask = |url: &'static str| {
        let server = &server;
        async move {
            let (_, answer) = decide(server, &page("v-1", url, &[], json!([]))).await;
            shown_ids(&answer)
        }
    };
    assert_eq!(ask("https://shop.example/cart").await, [id(&contains)]);
    assert!(ask("https://shop.example/cart?preview=1").await.is_empty());
    assert_eq!(
        ask("https://shop.example/sale/shoes/cart").await,
        [id(&contains), id(&prefix)]
    );
    assert_eq!(ask("https://shop.example/product/42").await, [id(&regex)]);
    assert!(ask("https://shop.example/product/42/reviews")
        .await
        .is_empty());
    assert!(ask("https://other.example/?u=https://shop.example/sale/")
        .await
        .is_empty());
}

#[tokio::test]
async fn sde_conditions_see_the_visits_stored_state_merged_with_this_pages_pushes() {
    let server = TestServer::start().await;
    let c = campaign(&server, "c", 1).await;
    let big_cart = engagement(
        &server,
        c,
        &json!({"name": "Big cart", "engagementType": 1, "zoneId": 1,
                "targeting": {"sdes": [{"path": "cartStatus.total", "op": "gt", "value": 100}]}}),
    )
    .await;
    let vip = engagement(
        &server,
        c,
        &json!({"name": "VIP", "engagementType": 2, "zoneId": 2,
                "targeting": {"sdes": [{"path": "customerInfo.customerType", "op": "eq", "value": "vip"}]}}),
    )
    .await;
    let shoes = engagement(
        &server,
        c,
        &json!({"name": "Shoe viewer", "engagementType": 3, "zoneId": 3,
                "targeting": {"sdes": [{"path": "viewedProduct.products.product.category", "op": "eq", "value": "shoes"}]}}),
    )
    .await;
    let ask = |visitor: &'static str, sdes: Value| {
        let server = &server;
        async move {
            let (status, answer) =
                decide(server, &page(visitor, "https://shop.example/", &[], sdes)).await;
            assert_eq!(status, 200, "{answer}");
            shown_ids(&answer)
        }
    };
    assert!(ask("v-1", json!([])).await.is_empty());
    assert_eq!(
        ask("v-1", json!([{"type": "cart", "total": 150.5}])).await,
        [id(&big_cart)]
    );
    assert!(ask("v-1", json!([{"type": "cart", "total": 100}]))
        .await
        .is_empty());

    // What the visit reported before (stored through the collect route) counts: the
    // customer type matches without regard to case, and the prodView list is looked
    // through.
    collect(
        &server,
        "v-1",
        "v-1-session",
        vec![],
        vec![
            json!({"type": "ctmrinfo", "info": {"ctype": "VIP", "customerId": "C1"}}),
            json!({"type": "prodView", "products": [{"product": {"category": "bags"}}]}),
            json!({"type": "cart", "total": 20}),
        ],
    )
    .await;
    assert_eq!(ask("v-1", json!([])).await, [id(&vip)]);
    // This page's pushes merge into the stored state: a cart replaces the stored one,
    // a product view adds to the ones before.
    assert_eq!(
        ask(
            "v-1",
            json!([{"type": "cart", "total": 300},
                   {"type": "prodView", "products": [{"product": {"category": "shoes"}}]}])
        )
        .await,
        [id(&big_cart), id(&vip), id(&shoes)]
    );
    // A later customer info merges: another type replaces `vip`.
    assert!(ask(
        "v-1",
        json!([{"type": "ctmrinfo", "info": {"ctype": "regular"}}])
    )
    .await
    .is_empty());
    // The stored state is the session's: another visitor claiming it does not get it.
    let (_, answer) = decide(
        &server,
        &json!({"visitorId": "v-2", "sessionId": "v-1-session", "url": "https://shop.example/"}),
    )
    .await;
    assert!(shown_ids(&answer).is_empty());
}

#[tokio::test]
async fn one_engagement_per_zone_goes_to_the_campaign_with_the_best_priority() {
    let server = TestServer::start().await;
    let low = campaign(&server, "Low", 50).await;
    let high = campaign(&server, "High", 10).await;
    let make = |c: u64, name: &'static str, zone: Value, targeting: Value| {
        let server = &server;
        async move {
            id(&engagement(
                server,
                c,
                &json!({"name": name, "engagementType": 1, "zoneId": zone, "targeting": targeting}),
            )
            .await)
        }
    };
    let low_1 = make(low, "low 1", json!(1), json!({})).await;
    let high_1 = make(
        high,
        "high 1",
        json!(1),
        json!({"sections": {"include": ["cart"]}}),
    )
    .await;
    let low_2 = make(low, "low 2", json!(2), json!({})).await;
    let low_free = make(low, "low, no zone", Value::Null, json!({})).await;
    let high_free = make(high, "high, no zone", Value::Null, json!({})).await;
    let ask = |sections: &'static [&'static str]| {
        let server = &server;
        async move {
            let (_, answer) = decide(
                server,
                &page("v-1", "https://shop.example/", sections, json!([])),
            )
            .await;
            shown_ids(&answer)
        }
    };
    // Answered in rank order: the high campaign's engagements first.
    assert_eq!(ask(&["cart"]).await, [high_1, high_free, low_2]);
    // Where the better one is not eligible, the next one of its zone is shown.
    assert_eq!(ask(&["home"]).await, [high_free, low_1, low_2]);
    // Swapping priorities swaps the winners.
    put(
        &server,
        &format!("/campaigns/{low}"),
        &json!({"name": "Low", "priority": 1}),
    )
    .await;
    assert_eq!(ask(&["cart"]).await, [low_1, low_2, low_free]);
    // A deleted (disabled) campaign shows nothing.
    admin_support::admin(&server, Method::DELETE, &format!("/campaigns/{low}"), None).await;
    assert_eq!(ask(&["cart"]).await, [high_1, high_free]);
}

#[tokio::test]
async fn an_engagement_that_hides_when_offline_is_not_shown_offline() {
    let server = TestServer::start().await;
    let c = campaign(&server, "c", 1).await;
    let hides = engagement(
        &server,
        c,
        &json!({"name": "Chat", "engagementType": 3, "zoneId": 1, "hideWhenOffline": true}),
    )
    .await;
    let stays = engagement(
        &server,
        c,
        &json!({"name": "Leave a message", "engagementType": 2, "zoneId": 2}),
    )
    .await;
    let availability = |e: &Value| format!("/campaigns/{c}/engagements/{}/availability", id(e));
    let states = || async {
        let (_, answer) = decide(
            &server,
            &page("v-1", "https://shop.example/", &[], json!([])),
        )
        .await;
        answer["engagements"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["engagementId"].as_u64().unwrap(),
                    e["state"].as_u64().unwrap(),
                    e["engagementRevision"].as_u64().unwrap(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(states().await, [(id(&hides), 1, 1), (id(&stays), 1, 1)]);
    for e in [&hides, &stays] {
        let (status, _) = put(&server, &availability(e), &json!({"state": 2})).await;
        assert_eq!(status, 200);
    }
    assert_eq!(
        states().await,
        [(id(&stays), 2, 1)],
        "offline: the one that hides is gone, the other shows its state"
    );
    put(&server, &availability(&hides), &json!({"state": 4})).await;
    assert_eq!(
        states().await,
        [(id(&hides), 4, 1), (id(&stays), 2, 1)],
        "busy is not offline"
    );
}

#[tokio::test]
async fn the_frequency_cap_counts_a_visitors_impressions_over_all_sessions() {
    let server = TestServer::start().await;
    let first = campaign(&server, "First", 1).await;
    let second = campaign(&server, "Second", 2).await;
    let capped = engagement(
        &server,
        first,
        &json!({"name": "Twice at most", "engagementType": 1, "zoneId": 1,
                "targeting": {"frequency": {"maxImpressions": 2}}}),
    )
    .await;
    let fallback = engagement(
        &server,
        second,
        &json!({"name": "Fallback", "engagementType": 1, "zoneId": 1}),
    )
    .await;
    let ask = |visitor: &'static str| {
        let server = &server;
        async move {
            let (_, answer) = decide(
                server,
                &page(visitor, "https://shop.example/", &[], json!([])),
            )
            .await;
            shown_ids(&answer)
        }
    };
    assert_eq!(ask("v-1").await, [id(&capped)]);
    // One impression, reported twice (a retry with a new client id) and clicked: counts once.
    collect(
        &server,
        "v-1",
        "s-1",
        vec![
            impression("i-1", &capped, "ctx-1"),
            impression("i-2", &capped, "ctx-1"),
        ],
        vec![],
    )
    .await;
    // The other engagement's impressions do not count for this one.
    collect(
        &server,
        "v-1",
        "s-1",
        vec![impression("i-3", &fallback, "ctx-2")],
        vec![],
    )
    .await;
    assert_eq!(ask("v-1").await, [id(&capped)]);
    // The second impression, in another session of the same visitor, reaches the cap.
    collect(
        &server,
        "v-1",
        "s-2",
        vec![impression("i-4", &capped, "ctx-3")],
        vec![],
    )
    .await;
    assert_eq!(
        ask("v-1").await,
        [id(&fallback)],
        "capped: the zone's next one"
    );
    assert_eq!(ask("v-2").await, [id(&capped)], "the cap is per visitor");
    // Two contexts of the other visitor reach the cap for that visitor.
    collect(
        &server,
        "v-2",
        "s-3",
        vec![
            impression("i-5", &capped, "ctx-4"),
            impression("i-6", &capped, "ctx-5"),
        ],
        vec![],
    )
    .await;
    assert_eq!(ask("v-2").await, [id(&fallback)]);
}

#[tokio::test]
async fn changes_reach_the_next_decision() {
    let server = TestServer::start().await;
    let c = campaign(&server, "c", 1).await;
    let e = engagement(&server, c, &json!({"name": "v1", "engagementType": 3})).await;
    let body = page("v-1", "https://shop.example/", &[], json!([]));
    let (_, answer) = decide(&server, &body).await;
    assert_eq!(answer["engagements"][0]["confKey"], e["confKey"]);

    let path = format!("/campaigns/{c}/engagements/{}", id(&e));
    put(
        &server,
        &path,
        &json!({"name": "v2", "engagementType": 5, "tglName": "banner", "zoneId": 9}),
    )
    .await;
    let (_, answer) = decide(&server, &body).await;
    let shown = &answer["engagements"][0];
    assert_eq!(shown["engagementRevision"], 2);
    assert_eq!(shown["confKey"], format!("{c}_{}_2", id(&e)));
    assert_eq!(shown["engagementName"], "v2");
    assert_eq!(shown["engagementType"], 5);
    assert_eq!(shown["tglName"], "banner");
    assert_eq!(shown["zoneId"], 9);

    put(
        &server,
        &path,
        &json!({"name": "v3", "engagementType": 5, "zoneId": 9,
                "targeting": {"sections": {"include": ["never"]}}}),
    )
    .await;
    let (_, answer) = decide(&server, &body).await;
    assert_eq!(answer, json!({"engagements": []}));

    put(&server, &path, &json!({"name": "v4", "engagementType": 5})).await;
    admin_support::admin(&server, Method::DELETE, &format!("/campaigns/{c}"), None).await;
    let (_, answer) = decide(&server, &body).await;
    assert_eq!(answer, json!({"engagements": []}), "disabled campaign");
    put(
        &server,
        &format!("/campaigns/{c}"),
        &json!({"name": "c", "enabled": true}),
    )
    .await;
    let (_, answer) = decide(&server, &body).await;
    assert_eq!(answer["engagements"][0]["engagementRevision"], 4);
}

/// An `LP_OFFERS` event of an engagement in a context, at the page's time `time_ms`.
fn event_at(id: &str, name: &str, engagement: &Value, context: &str, time_ms: i64) -> Value {
    let mut event = impression(id, engagement, context);
    event["eventName"] = json!(name);
    event["time"] = json!(time_ms);
    event
}

#[tokio::test]
async fn caps_with_a_time_window_and_the_pause_after_a_decline_are_honoured() {
    let server = TestServer::start().await;
    let first = campaign(&server, "First", 1).await;
    let second = campaign(&server, "Second", 2).await;
    let capped = engagement(
        &server,
        first,
        &json!({"name": "Once a session, twice a day", "engagementType": 1, "zoneId": 1,
                "targeting": {"frequency": {"maxPerSession": 1, "maxPerDay": 2, "declineDays": 14}}}),
    )
    .await;
    assert_eq!(
        capped["targeting"]["frequency"],
        json!({"maxPerSession": 1, "maxPerDay": 2, "declineDays": 14})
    );
    let fallback = engagement(
        &server,
        second,
        &json!({"name": "Fallback", "engagementType": 1, "zoneId": 1}),
    )
    .await;
    let ask = |visitor: &'static str, session: &'static str| {
        let server = &server;
        async move {
            let mut body = page(visitor, "https://shop.example/", &[], json!([]));
            body["sessionId"] = json!(session);
            let (_, answer) = decide(server, &body).await;
            shown_ids(&answer)
        }
    };
    let now = engage_store::ids::now_ms();
    const DAY: i64 = 86_400_000;
    assert_eq!(ask("v-1", "s-1").await, [id(&capped)]);
    collect(
        &server,
        "v-1",
        "s-1",
        vec![event_at("w-1", "OFFER_IMPRESSION", &capped, "c-1", now)],
        vec![],
    )
    .await;
    // Once this session; another session may see it.
    assert_eq!(ask("v-1", "s-1").await, [id(&fallback)]);
    assert_eq!(ask("v-1", "s-2").await, [id(&capped)]);
    collect(
        &server,
        "v-1",
        "s-2",
        vec![event_at("w-2", "OFFER_IMPRESSION", &capped, "c-2", now)],
        vec![],
    )
    .await;
    // Twice today: a third session does not.
    assert_eq!(ask("v-1", "s-3").await, [id(&fallback)]);
    // Impressions over a day old do not count.
    collect(
        &server,
        "v-2",
        "t-1",
        vec![
            event_at("w-3", "OFFER_IMPRESSION", &capped, "c-3", now - 2 * DAY),
            event_at("w-4", "OFFER_IMPRESSION", &capped, "c-4", now - 3 * DAY),
        ],
        vec![],
    )
    .await;
    assert_eq!(ask("v-2", "t-2").await, [id(&capped)]);
    // Declined ten days ago: not again for fourteen; declined twenty days ago: again.
    collect(
        &server,
        "v-3",
        "u-1",
        vec![event_at(
            "w-5",
            "OFFER_DECLINED",
            &capped,
            "c-5",
            now - 10 * DAY,
        )],
        vec![],
    )
    .await;
    assert_eq!(ask("v-3", "u-2").await, [id(&fallback)]);
    collect(
        &server,
        "v-4",
        "x-1",
        vec![event_at(
            "w-6",
            "OFFER_DECLINED",
            &capped,
            "c-6",
            now - 20 * DAY,
        )],
        vec![],
    )
    .await;
    assert_eq!(ask("v-4", "x-2").await, [id(&capped)]);

    // Out of range caps are refused at their pointers.
    let (status, error) = crate::admin_support::post(
        &server,
        &format!("/campaigns/{first}/engagements"),
        &json!({"name": "Bad", "engagementType": 1,
                "targeting": {"frequency": {"maxPerDay": 0, "declineDays": 400}}}),
    )
    .await;
    assert_eq!(status, 400, "{error}");
    let paths = error_paths(&error);
    assert_eq!(
        paths,
        [
            "/targeting/frequency/maxPerDay",
            "/targeting/frequency/declineDays"
        ]
    );
}
