//! An engagement's `action` over real HTTP: validated with JSON pointers when written,
//! stored with the revision, and served to the tag by the decision route.

use crate::admin_support;
use crate::common;

use admin_support::{campaign, decide, engagement, error_paths, get, page, post, put};
use common::TestServer;
use serde_json::json;

#[tokio::test]
async fn an_action_is_stored_with_its_revision_and_served_by_the_decision() {
    let server = TestServer::start().await;
    let c = campaign(&server, "Leads", 10).await;
    let form = json!({"type": "form", "fields": [
        {"name": "name", "required": false, "label": "Your name"},
        {"name": "email", "required": true},
        {"name": "topic", "required": true, "choices": ["Sales", "Support"]}],
        "submitLabel": "Send", "thanks": "We will call you"});
    let e = engagement(
        &server,
        c,
        &json!({"name": "Lead form", "engagementType": 2, "action": form}),
    )
    .await;
    assert_eq!(e["action"], form);
    let id = e["engagementId"].as_u64().unwrap();

    let (status, answer) = decide(
        &server,
        &page("v-1", "https://shop.example/", &[], json!([])),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(answer["engagements"][0]["action"], form);

    // A new revision with a coupon; revision 1 keeps its form.
    let coupon = json!({"type": "coupon", "code": "SAVE10", "copyLabel": "Copy"});
    let (status, revised) = put(
        &server,
        &format!("/campaigns/{c}/engagements/{id}"),
        &json!({"name": "Lead form", "engagementType": 2, "action": coupon}),
    )
    .await;
    assert_eq!(status, 200, "{revised}");
    assert_eq!(revised["engagementRevision"], 2);
    let (_, answer) = decide(
        &server,
        &page("v-1", "https://shop.example/", &[], json!([])),
    )
    .await;
    assert_eq!(answer["engagements"][0]["action"], coupon);
    assert_eq!(answer["engagements"][0]["engagementRevision"], 2);
    let (_, first) = get(
        &server,
        &format!("/campaigns/{c}/engagements/{id}?revision=1"),
    )
    .await;
    assert_eq!(first["action"], form, "{first}");

    // Without an action the member is left out.
    let (_, _) = put(
        &server,
        &format!("/campaigns/{c}/engagements/{id}"),
        &json!({"name": "Lead form", "engagementType": 2}),
    )
    .await;
    let (_, answer) = decide(
        &server,
        &page("v-1", "https://shop.example/", &[], json!([])),
    )
    .await;
    assert!(answer["engagements"][0].get("action").is_none(), "{answer}");
}

#[tokio::test]
async fn a_bad_action_is_refused_with_every_problem_at_its_pointer() {
    let server = TestServer::start().await;
    let c = campaign(&server, "Leads", 10).await;
    for (action, expected) in [
        (
            json!({"type": "form", "fields": [{"name": "fax", "required": true}, {"name": "email"}]}),
            vec!["/action/fields/0/name", "/action/fields/1/required"],
        ),
        (
            json!({"type": "link", "url": "javascript:alert(1)", "newTab": "yes"}),
            vec!["/action/newTab", "/action/url"],
        ),
        (json!({"type": "coupon"}), vec!["/action/code"]),
        (
            json!({"type": "chat", "provider": "icq"}),
            vec!["/action/provider"],
        ),
        (json!({"kind": "chat"}), vec!["/action/type"]),
        (json!("chat"), vec!["/action"]),
    ] {
        let (status, error) = post(
            &server,
            &format!("/campaigns/{c}/engagements"),
            &json!({"name": "Bad", "engagementType": 2, "action": action}),
        )
        .await;
        assert_eq!(status, 400, "{action}: {error}");
        assert_eq!(error["code"], "invalid_request", "{error}");
        let mut found = error_paths(&error);
        found.sort_unstable();
        assert_eq!(found, expected, "{action}: {error}");
    }
}
