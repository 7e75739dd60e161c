//! The admin API over real HTTP: apps, campaigns, engagements, revisions, availability.

// Tests: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::admin_support;
use crate::common;

use admin_support::{account_url, app, campaign, engagement, error_paths, get, post, put};
use common::TestServer;
use reqwest::Method;
use serde_json::{json, Value};

fn assert_invalid(status: u16, error: &Value, paths: &[&str]) {
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["code"], "invalid_request", "{error}");
    assert_eq!(error_paths(error), paths, "{error}");
}

#[tokio::test]
async fn every_admin_route_needs_the_accounts_bearer_key_and_refuses_another_accounts() {
    let server = TestServer::start().await;
    let c = campaign(&server, "Spring sale", 10).await;
    let e = engagement(&server, c, &json!({"name": "Chat", "engagementType": 3})).await;
    let e = e["engagementId"].as_u64().unwrap();
    let routes = [
        (Method::POST, "/apps".to_owned()),
        (Method::GET, "/apps".to_owned()),
        (Method::POST, "/campaigns".to_owned()),
        (Method::GET, "/campaigns".to_owned()),
        (Method::GET, format!("/campaigns/{c}")),
        (Method::PUT, format!("/campaigns/{c}")),
        (Method::DELETE, format!("/campaigns/{c}")),
        (Method::POST, format!("/campaigns/{c}/engagements")),
        (Method::GET, format!("/campaigns/{c}/engagements")),
        (Method::GET, format!("/campaigns/{c}/engagements/{e}")),
        (Method::PUT, format!("/campaigns/{c}/engagements/{e}")),
        (
            Method::PUT,
            format!("/campaigns/{c}/engagements/{e}/availability"),
        ),
    ];
    let other_key = server.other_account_key().await;
    for (method, path) in &routes {
        let response = server
            .client
            .request(method.clone(), account_url(&server, path))
            .bearer_auth(&other_key)
            .json(&json!({"name": "x", "engagementType": 1, "state": 2}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            403,
            "{method} {path} with another account's key"
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "forbidden");
        for key in [None, Some("ek_not-the-key")] {
            let mut request = server
                .client
                .request(method.clone(), account_url(&server, path))
                .json(&json!({"name": "x", "engagementType": 1, "state": 2}));
            if let Some(key) = key {
                request = request.bearer_auth(key);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 401, "{method} {path} with {key:?}");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["code"], "unauthorized");
        }
    }
    // Nothing changed.
    let (_, read) = get(&server, &format!("/campaigns/{c}")).await;
    assert_eq!(
        (read["name"].as_str(), read["enabled"].as_bool()),
        (Some("Spring sale"), Some(true))
    );
    let response = server
        .client
        .get(format!("{}/api/account/424242/campaigns", server.url))
        .bearer_auth(&server.api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "unknown_account");
}

#[tokio::test]
async fn apps_are_created_with_201_and_listed() {
    let server = TestServer::start().await;
    let (status, created) = post(&server, "/apps", &json!({"name": "Android app"})).await;
    assert_eq!(status, 201, "{created}");
    let id = created["appInstallationId"].as_str().unwrap();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    assert_eq!(created["name"], "Android app");
    let second = app(&server).await;
    let (status, listed) = get(&server, "/apps").await;
    assert_eq!(status, 200);
    let ids: Vec<_> = listed["apps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["appInstallationId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [id, second.as_str()]);
    let (status, error) = post(&server, "/apps", &json!({"name": "", "kind": "ios"})).await;
    assert_invalid(status, &error, &["/kind", "/name"]);
}

#[tokio::test]
async fn campaigns_are_created_read_listed_replaced_and_deleting_disables() {
    let server = TestServer::start().await;
    let (status, created) = post(
        &server,
        "/campaigns",
        &json!({"name": "Spring sale", "goal": "Increase sales"}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["campaignId"]
        .as_u64()
        .expect("a numeric campaign id");
    assert!((100_000_000..1_000_000_000).contains(&id), "{id}");
    assert_eq!(created["name"], "Spring sale");
    assert_eq!(created["goal"], "Increase sales");
    assert_eq!(created["priority"], 100, "the default priority");
    assert_eq!(created["enabled"], true);
    assert!(created["createdMs"].as_i64().unwrap() > 1_600_000_000_000);

    let (status, read) = get(&server, &format!("/campaigns/{id}")).await;
    assert_eq!((status, &read), (200, &created));

    let other = campaign(&server, "Support", 1).await;
    let (status, listed) = get(&server, "/campaigns").await;
    assert_eq!(status, 200);
    let mut ids: Vec<u64> = listed["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["campaignId"].as_u64().unwrap())
        .collect();
    ids.sort_unstable();
    let mut expected = vec![id, other];
    expected.sort_unstable();
    assert_eq!(ids, expected);

    let (status, replaced) = put(
        &server,
        &format!("/campaigns/{id}"),
        &json!({"name": "Summer sale", "priority": 5}),
    )
    .await;
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(replaced["campaignId"], id);
    assert_eq!(replaced["name"], "Summer sale");
    assert_eq!(
        replaced["goal"],
        Value::Null,
        "PUT replaces: the goal left out is gone"
    );
    assert_eq!(replaced["priority"], 5);
    assert_eq!(replaced["createdMs"], created["createdMs"]);

    let (status, deleted) =
        admin_support::admin(&server, Method::DELETE, &format!("/campaigns/{id}"), None).await;
    assert_eq!(status, 200, "{deleted}");
    assert_eq!(deleted["enabled"], false);
    let (status, read) = get(&server, &format!("/campaigns/{id}")).await;
    assert_eq!(status, 200, "a deleted campaign stays readable");
    assert_eq!(
        read["name"], "Summer sale",
        "and keeps its name for history"
    );
    assert_eq!(read["enabled"], false);

    for path in ["/campaigns/123", "/campaigns/not-a-number"] {
        let (status, error) = get(&server, path).await;
        assert_eq!(status, 404, "{path}: {error}");
        assert_eq!(error["code"], "not_found");
    }
    let (status, _) = put(&server, "/campaigns/123", &json!({"name": "x"})).await;
    assert_eq!(status, 404);
    let (status, _) = admin_support::admin(&server, Method::DELETE, "/campaigns/123", None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn campaign_bodies_are_validated_with_json_pointers() {
    let server = TestServer::start().await;
    let (status, error) = post(
        &server,
        "/campaigns",
        &json!({"goal": 7, "priority": -1, "enabled": "yes", "owner": "me"}),
    )
    .await;
    assert_invalid(
        status,
        &error,
        &["/owner", "/name", "/goal", "/priority", "/enabled"],
    );
    let (status, error) = post(&server, "/campaigns", &json!([])).await;
    assert_invalid(status, &error, &[""]);
    let (status, error) = post(&server, "/campaigns", &json!({"name": "x".repeat(257)})).await;
    assert_invalid(status, &error, &["/name"]);

    let response = server
        .client
        .post(account_url(&server, "/campaigns"))
        .bearer_auth(&server.api_key)
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["code"], "malformed_json");
    let response = server
        .client
        .post(account_url(&server, "/campaigns"))
        .bearer_auth(&server.api_key)
        .header("content-type", "text/html")
        .body("{\"name\": \"x\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    let (_, listed) = get(&server, "/campaigns").await;
    assert_eq!(listed["campaigns"], json!([]), "nothing invalid was stored");
}

#[tokio::test]
async fn an_engagement_starts_at_revision_1_with_its_conf_key_and_the_types_renderer() {
    let server = TestServer::start().await;
    let c = campaign(&server, "Spring sale", 10).await;
    let created = engagement(
        &server,
        c,
        &json!({"name": "Slide-out chat button", "engagementType": 3, "zoneId": 471288710,
                "timeoutSeconds": 30, "hideWhenOffline": true,
                "targeting": {"sections": {"include": ["cart"]}},
                "content": {"title": "Questions?", "acceptLabel": "Chat now"}}),
    )
    .await;
    let e = created["engagementId"]
        .as_u64()
        .expect("a numeric engagement id");
    assert!((100_000_000..1_000_000_000).contains(&e), "{e}");
    assert_eq!(
        created,
        json!({
            "campaignId": c, "engagementId": e, "engagementRevision": 1, "latestRevision": 1,
            "confKey": format!("{c}_{e}_1"), "name": "Slide-out chat button",
            "engagementType": 3, "tglName": "slider", "zoneId": 471288710, "timeoutSeconds": 30,
            "targeting": {"sections": {"include": ["cart"]}},
            "content": {"title": "Questions?", "body": null, "acceptLabel": "Chat now", "closeLabel": null},
            "hideWhenOffline": true, "state": 1,
            "createdMs": created["createdMs"], "revisedMs": created["revisedMs"],
        })
    );
    for (code, renderer) in [
        (0, "peeling"),
        (1, "overlay"),
        (2, "toaster"),
        (5, "embedded"),
        (6, "sticky"),
    ] {
        let made = engagement(&server, c, &json!({"name": "x", "engagementType": code})).await;
        assert_eq!(made["tglName"], renderer, "type {code}");
        assert_eq!(made["zoneId"], Value::Null);
        assert_eq!(made["timeoutSeconds"], Value::Null);
        assert_eq!(made["targeting"], json!({}));
        assert_eq!(made["hideWhenOffline"], false);
    }
    // The seed's sticky engagement rendered by `overlay`: the renderer is configured.
    let sticky = engagement(
        &server,
        c,
        &json!({"name": "Sticky", "engagementType": "6", "tglName": "overlay", "zoneId": "42"}),
    )
    .await;
    assert_eq!(
        (
            sticky["engagementType"].as_u64(),
            sticky["tglName"].as_str()
        ),
        (Some(6), Some("overlay"))
    );
    assert_eq!(sticky["zoneId"], 42);

    let (status, read) = get(&server, &format!("/campaigns/{c}/engagements/{e}")).await;
    assert_eq!((status, &read), (200, &created));
    let (status, listed) = get(&server, &format!("/campaigns/{c}/engagements")).await;
    assert_eq!(status, 200);
    assert_eq!(listed["engagements"].as_array().unwrap().len(), 7);
    let (status, _) = post(
        &server,
        "/campaigns/123/engagements",
        &json!({"name": "x", "engagementType": 1}),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = get(&server, "/campaigns/123/engagements").await;
    assert_eq!(status, 404);
    let (status, _) = get(&server, &format!("/campaigns/{c}/engagements/123")).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn engagement_type_4_and_other_bad_fields_are_rejected_with_json_pointers() {
    let server = TestServer::start().await;
    let c = campaign(&server, "c", 1).await;
    let path = format!("/campaigns/{c}/engagements");
    for bad in [json!(4), json!(7), json!("slider"), json!(-1), json!(1.5)] {
        let (status, error) =
            post(&server, &path, &json!({"name": "x", "engagementType": bad})).await;
        assert_invalid(status, &error, &["/engagementType"]);
    }
    let (_, error) = post(&server, &path, &json!({"name": "x", "engagementType": 4})).await;
    assert_eq!(
        error["errors"][0]["message"],
        "expected an engagement type 0, 1, 2, 3, 5 or 6 (peeling corner, overlay, toaster, slide-out, embedded, sticky), found 4"
    );
    let (status, error) = post(
        &server,
        &path,
        &json!({"tglName": "", "zoneId": -3, "timeoutSeconds": 0, "hideWhenOffline": "yes",
                "content": {"title": "t", "footer": "f"}, "state": 1}),
    )
    .await;
    assert_invalid(
        status,
        &error,
        &[
            "/state",
            "/name",
            "/engagementType",
            "/tglName",
            "/zoneId",
            "/timeoutSeconds",
            "/content/footer",
            "/hideWhenOffline",
        ],
    );
    let (_, listed) = get(&server, &path).await;
    assert_eq!(listed["engagements"], json!([]));
}

#[tokio::test]
async fn impossible_targeting_rules_are_rejected_with_json_pointers() {
    let server = TestServer::start().await;
    let c = campaign(&server, "c", 1).await;
    let path = format!("/campaigns/{c}/engagements");
    let (status, error) = post(
        &server,
        &path,
        &json!({"name": "x", "engagementType": 1, "targeting": {
            "sections": {"include": ["cart"], "only": ["x"]},
            "url": {"include": [{"regex": "(unclosed"}, {"contains": "/cart"}, {"suffix": ".pdf"}]},
            "sdes": [
                {"path": "cart.total", "op": "gt", "value": 100},
                {"path": "cartStatus.total", "op": "between", "value": 100},
                {"path": "cartStatus.total", "op": "gt", "value": "a lot"},
                {"path": "customerInfo.customerType", "op": "eq", "value": "vip"}
            ],
            "frequency": {"maxImpressions": 0},
            "schedule": {}
        }}),
    )
    .await;
    assert_invalid(
        status,
        &error,
        &[
            "/targeting/schedule",
            "/targeting/sections/only",
            "/targeting/url/include/0/regex",
            "/targeting/url/include/2/suffix",
            "/targeting/sdes/0/path",
            "/targeting/sdes/1/op",
            "/targeting/sdes/2/value",
            "/targeting/frequency/maxImpressions",
        ],
    );
    let messages: Vec<&str> = error["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages[2], "invalid regular expression: unclosed group");
    assert!(
        messages[4].starts_with("unknown SDE path `cart.total`"),
        "{}",
        messages[4]
    );
    assert!(
        messages[5].starts_with("unknown operator `between`"),
        "{}",
        messages[5]
    );
}

#[tokio::test]
async fn a_put_bumps_the_revision_and_conf_key_and_every_revision_stays_readable() {
    let server = TestServer::start().await;
    let c = campaign(&server, "c", 1).await;
    let first = engagement(&server, c, &json!({"name": "Chat v1", "engagementType": 3})).await;
    let e = first["engagementId"].as_u64().unwrap();
    let path = format!("/campaigns/{c}/engagements/{e}");
    let (status, second) = put(
        &server,
        &path,
        &json!({"name": "Chat v2", "engagementType": 1, "content": {"title": "Hi"}}),
    )
    .await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["engagementRevision"], 2);
    assert_eq!(second["confKey"], format!("{c}_{e}_2"));
    assert_eq!(second["tglName"], "overlay", "the new type's renderer");
    assert_eq!(second["createdMs"], first["createdMs"]);
    let (status, third) = put(
        &server,
        &path,
        &json!({"name": "Chat v2", "engagementType": 1}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            third["engagementRevision"].as_u64(),
            third["confKey"].as_str()
        ),
        (Some(3), Some(format!("{c}_{e}_3").as_str())),
        "every PUT is a new revision, even with the same definition"
    );

    let (status, latest) = get(&server, &path).await;
    assert_eq!(
        (status, latest["engagementRevision"].as_u64()),
        (200, Some(3))
    );
    for (revision, name, kind) in [(1, "Chat v1", 3), (2, "Chat v2", 1)] {
        let (status, old) = get(&server, &format!("{path}?revision={revision}")).await;
        assert_eq!(status, 200, "{old}");
        assert_eq!(old["engagementRevision"], revision);
        assert_eq!(old["latestRevision"], 3);
        assert_eq!(old["confKey"], format!("{c}_{e}_{revision}"));
        assert_eq!(old["name"], name);
        assert_eq!(old["engagementType"], kind);
    }
    let (status, error) = get(&server, &format!("{path}?revision=9")).await;
    assert_eq!((status, error["code"].as_str()), (404, Some("not_found")));
    let (status, error) = get(&server, &format!("{path}?revision=zero")).await;
    assert_invalid(status, &error, &["/revision"]);

    let (status, error) = put(
        &server,
        &path,
        &json!({"name": "Chat v4", "engagementType": 4}),
    )
    .await;
    assert_invalid(status, &error, &["/engagementType"]);
    let (_, latest) = get(&server, &path).await;
    assert_eq!(
        latest["engagementRevision"], 3,
        "a refused PUT makes no revision"
    );
    let (status, _) = put(
        &server,
        &format!("/campaigns/{c}/engagements/123"),
        &json!({"name": "x", "engagementType": 1}),
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn availability_sets_the_state_without_bumping_the_revision() {
    let server = TestServer::start().await;
    let c = campaign(&server, "c", 1).await;
    let created = engagement(&server, c, &json!({"name": "Chat", "engagementType": 3})).await;
    let e = created["engagementId"].as_u64().unwrap();
    let path = format!("/campaigns/{c}/engagements/{e}/availability");
    for state in [2, 4, 1, 2] {
        let (status, after) = put(&server, &path, &json!({ "state": state })).await;
        assert_eq!(status, 200, "{after}");
        assert_eq!(after["state"], state);
        assert_eq!(after["engagementRevision"], 1);
        assert_eq!(after["confKey"], created["confKey"]);
    }
    let (_, read) = get(&server, &format!("/campaigns/{c}/engagements/{e}")).await;
    assert_eq!(
        (read["state"].as_u64(), read["engagementRevision"].as_u64()),
        (Some(2), Some(1))
    );
    for bad in [
        json!({"state": 3}),
        json!({"state": "online"}),
        json!({}),
        json!({"state": 1, "x": 1}),
    ] {
        let (status, error) = put(&server, &path, &bad).await;
        assert_eq!(status, 400, "{bad}: {error}");
    }
    let (status, error) = put(&server, &path, &json!({"state": 3})).await;
    assert_invalid(status, &error, &["/state"]);
    assert_eq!(
        error["errors"][0]["message"],
        "expected an agent state 1 (online), 2 (offline) or 4 (busy), found 3"
    );
    let (status, _) = put(
        &server,
        &format!("/campaigns/{c}/engagements/123/availability"),
        &json!({"state": 1}),
    )
    .await;
    assert_eq!(status, 404);
}
