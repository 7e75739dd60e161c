//! What visitors do with an engagement's action, over real HTTP: a lead form's
//! submission checked again by the server against the form of the engagement revision it
//! answers (valid: a `lead` and a `personal` SDE; refused: 400 with pointers, quarantined,
//! the rest of the batch kept), plain `lead` SDEs taken as before, and a coupon's reveal
//! and copies stored as events of their own that the report counts and that
//! `coupon.revealed` webhooks follow.

use engage_store::ExportKind;
use serde_json::{json, Value};

use crate::admin_support::{account_url, campaign, engagement, error_paths, post};
use crate::common::{batch, sde_item, TestServer};

fn lead_form() -> Value {
    json!({"type": "form", "fields": [
        {"name": "name", "required": false},
        {"name": "email", "required": true},
        {"name": "topic", "required": true, "choices": ["Sales", "Support"]},
        {"name": "message", "required": false}]})
}

/// An engagement of a new campaign with `action`: (campaignId, engagementId, revision).
async fn engagement_with(server: &TestServer, action: Value) -> (u64, u64, u64) {
    let c = campaign(server, "Leads", 10).await;
    let e = engagement(
        server,
        c,
        &json!({"name": "Talk to sales", "engagementType": 2, "action": action}),
    )
    .await;
    (
        c,
        e["engagementId"].as_u64().unwrap(),
        e["engagementRevision"].as_u64().unwrap(),
    )
}

fn submission(id: &str, (c, e, r): (u64, u64, u64), context: &str, values: Value) -> Value {
    json!({"id": id, "time": 1_700_000_000_700u64, "form": {
        "campaignId": c, "engagementId": e, "engagementRevision": r,
        "contextId": context, "values": values}})
}

#[tokio::test]
async fn a_valid_form_submission_becomes_a_lead_and_the_visitors_contact_details() {
    let server = TestServer::start().await;
    let ids = engagement_with(&server, lead_form()).await;
    let body = batch(
        vec![],
        vec![submission(
            "f-1",
            ids,
            "ctx-7",
            json!({"name": " Ada  Lovelace ", "email": "ada@example.com", "topic": "Sales", "message": "Call me"}),
        )],
    );
    let (status, answer) = server.post_events(&body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer,
        json!({"accepted": 2, "duplicates": 0, "rejected": []})
    );
    let sdes = server.export(ExportKind::Sdes).await;
    assert_eq!(sdes.len(), 2, "{sdes:?}");
    let lead = &sdes[0]["sde"]["lead"]["lead"];
    assert_eq!(lead["topic"], "Sales: Call me");
    assert_eq!(lead["leadId"], "ctx-7");
    assert_eq!(sdes[0]["id"], "f-1");
    let personal = &sdes[1]["sde"]["personalInfo"]["personalInfo"];
    assert_eq!(personal["name"], "Ada", "{personal}");
    assert_eq!(personal["surname"], "Lovelace");
    assert_eq!(
        personal["contacts"][0]["personalContact"]["email"],
        "ada@example.com"
    );
    // Sent again (the outbox retries): stored once.
    let (status, again) = server.post_events(&body).await;
    assert_eq!(status, 200);
    assert_eq!(again["duplicates"], 2, "{again}");
    assert_eq!(server.export(ExportKind::Sdes).await.len(), 2);
}

#[tokio::test]
async fn a_form_submission_the_form_refuses_is_400_with_pointers_quarantined_and_the_rest_is_kept()
{
    let server = TestServer::start().await;
    let ids = engagement_with(&server, lead_form()).await;
    let body = batch(
        vec![],
        vec![
            sde_item("s-cart", json!({"type": "cart", "total": 5})),
            // What a page that skipped its own check (or a hand-made request) sends.
            submission(
                "f-bad",
                ids,
                "ctx-8",
                json!({"email": "not an email", "topic": "Free stuff", "fax": "123", "phone": "+1 555 010 0000"}),
            ),
            submission(
                "f-good",
                ids,
                "ctx-9",
                json!({"email": "grace@example.com", "topic": "Support"}),
            ),
        ],
    );
    let (status, answer) = server.post_events(&body).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["code"], "invalid_form_submission");
    assert_eq!(
        error_paths(&answer),
        [
            "/sdes/1/form/values/email",
            "/sdes/1/form/values/fax",
            "/sdes/1/form/values/phone",
            "/sdes/1/form/values/topic",
        ],
        "{answer}"
    );
    assert!(
        answer["errors"][3]["message"]
            .as_str()
            .unwrap()
            .contains("\"Sales\", \"Support\""),
        "{answer}"
    );
    // The cart, and the valid submission's lead and contact details, are stored.
    assert_eq!(answer["accepted"], 3, "{answer}");
    assert_eq!(answer["rejected"][0]["index"], 1);
    let sdes = server.export(ExportKind::Sdes).await;
    let ids_stored: Vec<&str> = sdes.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids_stored, ["s-cart", "f-good", "f-good:personal"]);
    let quarantine = server.export(ExportKind::Quarantine).await;
    assert_eq!(quarantine.len(), 1, "{quarantine:?}");
    assert_eq!(quarantine[0]["kind"], "sde");
    assert_eq!(quarantine[0]["clientId"], "f-bad");
    let raw: Value = serde_json::from_str(quarantine[0]["raw"].as_str().unwrap()).unwrap();
    assert_eq!(raw["form"]["values"]["topic"], "Free stuff");

    // A required field left out, and the form's own revision only.
    let (status, answer) = server
        .post_events(&batch(
            vec![],
            vec![submission("f-3", ids, "ctx-10", json!({"topic": "Sales"}))],
        ))
        .await;
    assert_eq!(status, 400);
    assert_eq!(error_paths(&answer), ["/sdes/0/form/values/email"]);
    let (status, answer) = server
        .post_events(&batch(
            vec![],
            vec![submission(
                "f-4",
                (ids.0, ids.1, ids.2 + 1),
                "ctx-11",
                json!({"email": "a@b.co", "topic": "Sales"}),
            )],
        ))
        .await;
    assert_eq!(status, 400);
    assert_eq!(error_paths(&answer), ["/sdes/0/form/engagementRevision"]);
}

#[tokio::test]
async fn a_submission_to_an_engagement_without_a_form_or_of_the_wrong_shape_is_refused() {
    let server = TestServer::start().await;
    let coupon = engagement_with(&server, json!({"type": "coupon", "code": "SAVE10"})).await;
    let (status, answer) = server
        .post_events(&batch(
            vec![],
            vec![submission(
                "f-1",
                coupon,
                "ctx-1",
                json!({"email": "a@b.co"}),
            )],
        ))
        .await;
    assert_eq!(status, 400);
    assert_eq!(error_paths(&answer), ["/sdes/0/form/engagementId"]);

    // Its shape is read like any item: 200, the item rejected at its pointers.
    let (status, answer) = server
        .post_events(&batch(
            vec![],
            vec![json!({"id": "f-2", "form": {"campaignId": "x", "contextId": "c", "values": {"email": 7}}})],
        ))
        .await;
    assert_eq!(status, 200, "{answer}");
    let mut found = error_paths(&answer["rejected"][0]);
    found.sort_unstable();
    assert_eq!(
        found,
        [
            "/sdes/0/form/campaignId",
            "/sdes/0/form/engagementId",
            "/sdes/0/form/engagementRevision",
            "/sdes/0/form/values/email",
        ],
        "{answer}"
    );
}

#[tokio::test]
async fn a_plain_lead_sde_is_taken_as_before() {
    let server = TestServer::start().await;
    engagement_with(&server, lead_form()).await;
    // What a LivePerson page pushes: no form, no check against one.
    let body = batch(
        vec![],
        vec![sde_item(
            "s-lead",
            json!({"type": "lead", "lead": {"topic": "Anything at all", "value": 50, "currency": "EUR", "leadId": "L-1"}}),
        )],
    );
    let (status, answer) = server.post_events(&body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer,
        json!({"accepted": 1, "duplicates": 0, "rejected": []})
    );
    let sdes = server.export(ExportKind::Sdes).await;
    assert_eq!(sdes[0]["sde"]["lead"]["lead"]["topic"], "Anything at all");
}

fn context_event(app: &str, name: &str, id: &str, (c, e, r): (u64, u64, u64)) -> Value {
    json!({"id": id, "time": 1_700_000_000_000u64, "appName": app, "eventName": name,
    "data": {
        "contexts": [{"EngagementContext": {"id": "ctx-1"}}, {"pageContext": {"id": "page-1"}}],
        "campaignId": c, "engagementId": e, "engagementRevision": r,
        "engagementType": 2, "contextId": "ctx-1", "confKey": format!("{c}_{e}_{r}")
    }})
}

#[tokio::test]
async fn a_coupons_reveal_and_copies_are_stored_apart_from_the_click_and_counted_in_the_report() {
    let server = TestServer::start().await;
    let ids = engagement_with(&server, json!({"type": "coupon", "code": "SAVE10"})).await;
    let body = batch(
        vec![
            context_event("LP_OFFERS", "START", "e1", ids),
            context_event("LP_OFFERS", "OFFER_IMPRESSION", "e2", ids),
            context_event("LP_OFFERS", "OFFER_CLICK", "e3", ids),
            context_event("ENGAGE_ACTION", "COUPON_REVEALED", "e4", ids),
            context_event("ENGAGE_ACTION", "COUPON_COPIED", "e5", ids),
            context_event("ENGAGE_ACTION", "COUPON_COPIED", "e6", ids),
            // Engage's names belong to its own app, LivePerson's to theirs.
            context_event("LP_OFFERS", "COUPON_REVEALED", "e7", ids),
            context_event("ENGAGE_ACTION", "OFFER_CLICK", "e8", ids),
        ],
        vec![],
    );
    let (status, answer) = server.post_events(&body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["accepted"], 6, "{answer}");
    let rejected: Vec<&str> = answer["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["errors"][0]["path"].as_str().unwrap())
        .collect();
    assert_eq!(rejected, ["/events/6/eventName", "/events/7/eventName"]);

    let events = server.export(ExportKind::Events).await;
    let names: Vec<(&str, &str)> = events
        .iter()
        .map(|e| {
            (
                e["appName"].as_str().unwrap_or("?"),
                e["eventName"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        names[3..],
        [
            ("ENGAGE_ACTION", "COUPON_REVEALED"),
            ("ENGAGE_ACTION", "COUPON_COPIED"),
            ("ENGAGE_ACTION", "COUPON_COPIED")
        ],
        "{events:?}"
    );

    let now = engage_store::ids::now_ms();
    let response = server
        .client
        .post(account_url(&server, "/analytics/report"))
        .bearer_auth(&server.api_key)
        .json(&json!({"from": now - 86_400_000, "to": now + 86_400_000, "groupBy": ["engagement"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let report: Value = response.json().await.unwrap();
    let row = &report["rows"][0];
    assert_eq!(row["engagementId"], ids.1, "{report}");
    assert_eq!(
        (
            &row["impressions"],
            &row["clicks"],
            &row["couponReveals"],
            &row["couponCopies"]
        ),
        (&json!(1), &json!(1), &json!(1), &json!(2)),
        "{row}"
    );
    // Sent again: nothing counted twice.
    let (_, again) = server.post_events(&body).await;
    assert_eq!(again["duplicates"], 6, "{again}");
}

#[tokio::test]
async fn coupon_revealed_webhooks_follow_the_reveal_not_the_click() {
    let server = TestServer::start().await;
    let ids = engagement_with(&server, json!({"type": "coupon", "code": "SAVE10"})).await;
    let (status, created) = post(
        &server,
        "/webhooks",
        &json!({"url": "https://hooks.example/in", "events": ["coupon.revealed", "COUPON_COPIED"]}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let webhook_id = created["webhookId"].as_str().unwrap().to_owned();
    let (status, _) = server
        .post_events(&batch(
            vec![
                context_event("LP_OFFERS", "OFFER_CLICK", "e1", ids),
                context_event("ENGAGE_ACTION", "COUPON_REVEALED", "e2", ids),
                context_event("ENGAGE_ACTION", "COUPON_COPIED", "e3", ids),
            ],
            vec![],
        ))
        .await;
    assert_eq!(status, 200);
    let (status, log) =
        crate::admin_support::get(&server, &format!("/webhooks/{webhook_id}/deliveries")).await;
    assert_eq!(status, 200, "{log}");
    // One `coupon.revealed` (the click is not one), and the copy by its event name.
    let mut planned: Vec<&str> = log["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["event"].as_str().unwrap())
        .collect();
    planned.sort_unstable();
    assert_eq!(planned, ["COUPON_COPIED", "coupon.revealed"], "{log}");
}

#[tokio::test]
async fn one_batch_has_at_most_eight_engagement_revisions_read_for_its_forms() {
    let server = TestServer::start().await;
    let ids = engagement_with(&server, lead_form()).await;
    // Nine revisions (eight that do not exist): the ninth is not looked up.
    let items: Vec<Value> = (0..9)
        .map(|i| {
            submission(
                &format!("f-{i}"),
                (ids.0, ids.1, ids.2 + 1 + i),
                "ctx-1",
                json!({"email": "a@b.co", "topic": "Sales"}),
            )
        })
        .collect();
    let (status, answer) = server.post_events(&batch(vec![], items)).await;
    assert_eq!(status, 400, "{answer}");
    let found = error_paths(&answer);
    assert_eq!(found.len(), 9, "{answer}");
    assert_eq!(found[7], "/sdes/7/form/engagementRevision");
    assert_eq!(found[8], "/sdes/8/form", "{answer}");
}
