//! The admin part of the OpenAPI description against a live server: each operation is
//! called with the document's own example (ids and dates filled in), and an invalid
//! input where it reads one; every answer's status must be documented for the operation
//! and its body must validate against the document's schema for that status.

use engage_server::openapi::document;
use reqwest::Method;
use serde_json::{json, Value};

use crate::admin_support::{decide, impression, page};
use crate::common::{batch, cart, sde_item, TestServer};

struct Described {
    doc: Value,
    /// `(method, template)` of every call made.
    called: Vec<(String, String)>,
}

impl Described {
    fn new() -> Described {
        Described {
            doc: serde_json::to_value(document()).unwrap(),
            called: Vec::new(),
        }
    }

    fn operation(&self, method: &str, template: &str) -> &Value {
        let op = &self.doc["paths"][template][method];
        assert!(op.is_object(), "{method} {template} is not described");
        op
    }

    /// The example of the operation's request body schema.
    fn example(&self, method: &str, template: &str) -> Value {
        let op = self.operation(method, template);
        let reference = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {template}: no request body schema"));
        let name = reference.trim_start_matches("#/components/schemas/");
        let example = self.doc["components"]["schemas"][name]["example"].clone();
        assert!(example.is_object(), "{name} has no example");
        example
    }

    /// Calls `method path` (the template with its values) with the account's key, and
    /// holds the answer to the document: a documented status, JSON, and a body valid
    /// against that status's schema. Returns the status and body.
    async fn call(
        &mut self,
        server: &TestServer,
        method: &str,
        template: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let url = format!("{}{}", server.url, path);
        let mut request = server
            .client
            .request(
                Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                &url,
            )
            .bearer_auth(&server.api_key);
        if let Some(body) = &body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned());
        let text = response.text().await.unwrap();
        let op = self.operation(method, template).clone();
        let documented = &op["responses"][status.to_string()];
        assert!(
            documented.is_object(),
            "{method} {path}: status {status} is not documented ({text})"
        );
        self.called.push((method.to_owned(), template.to_owned()));
        let Some(schema) = documented["content"]["application/json"].get("schema") else {
            assert!(text.is_empty(), "{method} {path} {status}: a body ({text})");
            return (status, Value::Null);
        };
        assert_eq!(
            content_type.as_deref(),
            Some("application/json"),
            "{method} {path} {status}"
        );
        let value: Value = serde_json::from_str(&text).unwrap();
        if let Err(problems) = validate(&self.doc, schema, &value) {
            panic!("{method} {path} {status}: {problems}\n{value:#}");
        }
        (status, value)
    }
}

/// `value` against `schema`, with `$ref`s resolved in the whole document.
fn validate(doc: &Value, schema: &Value, value: &Value) -> Result<(), String> {
    let mut root = doc.clone();
    let map = root.as_object_mut().unwrap();
    map.insert(
        "$schema".into(),
        json!("https://json-schema.org/draft/2020-12/schema"),
    );
    map.insert("allOf".into(), json!([schema]));
    let validator = jsonschema::validator_for(&root).map_err(|e| e.to_string())?;
    let problems: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// The local date `days` from today, as the report takes it.
fn date(days: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let day = now.div_euclid(86_400) + days;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[tokio::test]
async fn every_admin_operation_answers_as_the_document_says() {
    let server = TestServer::start().await;
    let mut d = Described::new();
    let a = format!("/api/account/{}", server.account_id);
    const A: &str = "/api/account/{account_id}";

    // Account
    let origins = d.example("put", "/api/account/{account_id}/origins");
    let (status, body) = d
        .call(
            &server,
            "put",
            "/api/account/{account_id}/origins",
            &format!("{a}/origins"),
            Some(origins.clone()),
        )
        .await;
    assert_eq!((status, &body), (200, &origins));
    let (status, _) = d
        .call(
            &server,
            "put",
            "/api/account/{account_id}/origins",
            &format!("{a}/origins"),
            Some(json!({"allowedOrigins": ["shop.example"]})),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = d
        .call(
            &server,
            "put",
            "/api/account/{account_id}/origins",
            &format!("{a}/origins"),
            Some(json!({"allowedOrigins": []})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = d
        .call(
            &server,
            "get",
            "/api/account/{account_id}/origins",
            &format!("{a}/origins"),
            None,
        )
        .await;
    assert_eq!(status, 200);

    // App installations
    let app = d.example("post", "/api/account/{account_id}/apps");
    let (status, _) = d
        .call(
            &server,
            "post",
            &format!("{A}/apps"),
            &format!("{a}/apps"),
            Some(app),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = d
        .call(
            &server,
            "post",
            &format!("{A}/apps"),
            &format!("{a}/apps"),
            Some(json!({"name": ""})),
        )
        .await;
    assert_eq!(status, 400);
    let (status, apps) = d
        .call(
            &server,
            "get",
            &format!("{A}/apps"),
            &format!("{a}/apps"),
            None,
        )
        .await;
    assert_eq!((status, apps["apps"].as_array().unwrap().len()), (200, 1));

    // Campaigns
    let c_t = format!("{A}/campaigns/{{campaign_id}}");
    let campaign = d.example("post", &format!("{A}/campaigns"));
    let (status, created) = d
        .call(
            &server,
            "post",
            &format!("{A}/campaigns"),
            &format!("{a}/campaigns"),
            Some(campaign.clone()),
        )
        .await;
    assert_eq!(status, 201);
    let campaign_id = created["campaignId"].as_u64().unwrap();
    let c = format!("{a}/campaigns/{campaign_id}");
    let (status, _) = d
        .call(
            &server,
            "post",
            &format!("{A}/campaigns"),
            &format!("{a}/campaigns"),
            Some(json!({"goal": 7, "priority": -1, "owner": "me"})),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        d.call(
            &server,
            "get",
            &format!("{A}/campaigns"),
            &format!("{a}/campaigns"),
            None
        )
        .await
        .0,
        200
    );
    assert_eq!(d.call(&server, "get", &c_t, &c, None).await.0, 200);
    assert_eq!(
        d.call(&server, "get", &c_t, &format!("{a}/campaigns/123"), None)
            .await
            .0,
        404
    );
    let campaign_put = d.example("put", &c_t);
    assert_eq!(
        d.call(&server, "put", &c_t, &c, Some(campaign_put)).await.0,
        200
    );
    assert_eq!(
        d.call(
            &server,
            "put",
            &c_t,
            &c,
            Some(json!({"name": "x", "controlGroupPercent": 51}))
        )
        .await
        .0,
        400
    );

    // Engagements
    let es_t = format!("{c_t}/engagements");
    let e_t = format!("{es_t}/{{engagement_id}}");
    let engagement = d.example("post", &es_t);
    let (status, created) = d
        .call(
            &server,
            "post",
            &es_t,
            &format!("{c}/engagements"),
            Some(engagement),
        )
        .await;
    assert_eq!(status, 201);
    let engagement_id = created["engagementId"].as_u64().unwrap();
    let e = format!("{c}/engagements/{engagement_id}");
    let with_action = json!({"name": "Coupon", "engagementType": 2, "weight": 50,
        "action": {"type": "form", "fields": [{"name": "topic", "required": true, "choices": ["Orders"]}], "thanks": "Thanks"}});
    let (status, shown) = d
        .call(
            &server,
            "post",
            &es_t,
            &format!("{c}/engagements"),
            Some(with_action),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(
        d.call(
            &server,
            "post",
            &es_t,
            &format!("{c}/engagements"),
            Some(json!({"name": "Banner", "engagementType": 4}))
        )
        .await
        .0,
        400
    );
    assert_eq!(
        d.call(&server, "get", &es_t, &format!("{c}/engagements"), None)
            .await
            .0,
        200
    );
    assert_eq!(
        d.call(&server, "get", &e_t, &format!("{e}?revision=1"), None)
            .await
            .0,
        200
    );
    assert_eq!(
        d.call(&server, "get", &e_t, &format!("{e}?revision=0"), None)
            .await
            .0,
        400
    );
    let revised = d.example("put", &e_t);
    let (status, body) = d.call(&server, "put", &e_t, &e, Some(revised)).await;
    assert_eq!(
        (status, body["engagementRevision"].as_u64()),
        (200, Some(2))
    );
    let availability = d.example("put", &format!("{e_t}/availability"));
    let (status, body) = d
        .call(
            &server,
            "put",
            &format!("{e_t}/availability"),
            &format!("{e}/availability"),
            Some(availability),
        )
        .await;
    assert_eq!((status, &body["state"]), (200, &json!(2)));
    assert_eq!(
        d.call(
            &server,
            "put",
            &format!("{e_t}/availability"),
            &format!("{e}/availability"),
            Some(json!({"state": 3}))
        )
        .await
        .0,
        400
    );
    // Data to report on, quarantine, access and erase: a decision and an impression of
    // the engagement, a cart, a customer id, and one item that fails validation.
    let (status, _) = decide(
        &server,
        &page(
            "visitor-1",
            "https://shop.example/cart",
            &["cart"],
            json!([]),
        ),
    )
    .await;
    assert_eq!(status, 200);
    let seen = impression("e-1", &shown, "ctx-1");
    let mut invalid = impression("e-2", &shown, "ctx-1");
    invalid["eventName"] = json!("NOT_AN_EVENT");
    let (status, _) = server
        .post_events(&batch(
            vec![seen, invalid],
            vec![
                sde_item("s-1", cart(120)),
                sde_item(
                    "s-2",
                    json!({"type": "ctmrinfo", "info": {"customerId": "cust-1024"}}),
                ),
            ],
        ))
        .await;
    assert!(status < 300, "{status}");
    let (status, body) = d.call(&server, "delete", &c_t, &c, None).await;
    assert_eq!((status, &body["enabled"]), (200, &json!(false)));

    // Analytics: the examples, over the days around today. A date is a day of the
    // report's time zone (the example's is Europe/Paris) and `to` is excluded: ending
    // at the day after tomorrow (UTC) keeps now inside in every zone at any hour.
    let report_t = format!("{A}/analytics/report");
    let mut report = d.example("post", &report_t);
    report["from"] = json!(date(-1));
    report["to"] = json!(date(2));
    let (status, body) = d
        .call(
            &server,
            "post",
            &report_t,
            &format!("{a}/analytics/report"),
            Some(report),
        )
        .await;
    assert_eq!(status, 200);
    assert!(!body["rows"].as_array().unwrap().is_empty(), "{body}");
    let mut by_engagement =
        json!({"from": date(-1), "to": date(2), "groupBy": ["engagement", "hour"]});
    by_engagement["engagementIds"] = json!([engagement_id]);
    assert_eq!(
        d.call(
            &server,
            "post",
            &report_t,
            &format!("{a}/analytics/report"),
            Some(by_engagement)
        )
        .await
        .0,
        200
    );
    assert_eq!(
        d.call(
            &server,
            "post",
            &report_t,
            &format!("{a}/analytics/report"),
            Some(json!({"from": 2, "to": 1}))
        )
        .await
        .0,
        400
    );
    let funnel_t = format!("{A}/analytics/funnel");
    let mut funnel = d.example("post", &funnel_t);
    funnel["from"] = json!(date(-1));
    funnel["to"] = json!(date(2));
    let (status, body) = d
        .call(
            &server,
            "post",
            &funnel_t,
            &format!("{a}/analytics/funnel"),
            Some(funnel),
        )
        .await;
    assert_eq!(status, 200);
    assert!(!body["rows"].as_array().unwrap().is_empty(), "{body}");
    assert_eq!(
        d.call(
            &server,
            "post",
            &funnel_t,
            &format!("{a}/analytics/funnel"),
            Some(json!({"from": 0, "to": 1, "steps": []}))
        )
        .await
        .0,
        400
    );

    // Quarantine
    let q_t = format!("{A}/quarantine");
    let (status, body) = d
        .call(
            &server,
            "get",
            &q_t,
            &format!("{a}/quarantine?limit=10&includeReplayed=true"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert!(!body["entries"].as_array().unwrap().is_empty(), "{body}");
    assert_eq!(
        d.call(
            &server,
            "get",
            &q_t,
            &format!("{a}/quarantine?limit=0"),
            None
        )
        .await
        .0,
        400
    );
    let (status, body) = d
        .call(
            &server,
            "post",
            &format!("{q_t}/replay"),
            &format!("{a}/quarantine/replay"),
            None,
        )
        .await;
    assert_eq!((status, &body["stillInvalid"]), (200, &json!(1)));

    // Privacy
    let v_t = format!("{A}/visitors/{{visitor_id}}");
    let (status, body) = d
        .call(
            &server,
            "get",
            &v_t,
            &format!("{a}/visitors/visitor-1"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert!(
        !body["visits"].as_array().unwrap().is_empty()
            && !body["events"].as_array().unwrap().is_empty(),
        "{body}"
    );
    let long = "v".repeat(129);
    assert_eq!(
        d.call(&server, "get", &v_t, &format!("{a}/visitors/{long}"), None)
            .await
            .0,
        400
    );
    assert_eq!(
        d.call(&server, "get", &v_t, &format!("{a}/visitors/nobody"), None)
            .await
            .0,
        404
    );
    let cu_t = format!("{A}/customers/{{customer_id}}");
    let (status, body) = d
        .call(
            &server,
            "delete",
            &cu_t,
            &format!("{a}/customers/cust-1024"),
            None,
        )
        .await;
    assert_eq!((status, &body["removed"]["visitors"]), (200, &json!(1)));
    assert_eq!(
        d.call(
            &server,
            "delete",
            &cu_t,
            &format!("{a}/customers/{long}"),
            None
        )
        .await
        .0,
        400
    );
    assert_eq!(
        d.call(
            &server,
            "delete",
            &v_t,
            &format!("{a}/visitors/visitor-1"),
            None
        )
        .await
        .0,
        200
    );
    let er_t = format!("{A}/erasures");
    let (status, body) = d
        .call(
            &server,
            "get",
            &er_t,
            &format!("{a}/erasures?limit=10"),
            None,
        )
        .await;
    assert_eq!(
        (status, body["erasures"].as_array().unwrap().len()),
        (200, 2)
    );
    assert_eq!(
        d.call(
            &server,
            "get",
            &er_t,
            &format!("{a}/erasures?after=1"),
            None
        )
        .await
        .0,
        400
    );

    // Retention
    let r_t = format!("{A}/retention");
    let retention = d.example("put", &r_t);
    let (status, body) = d
        .call(
            &server,
            "put",
            &r_t,
            &format!("{a}/retention"),
            Some(retention.clone()),
        )
        .await;
    assert_eq!((status, &body), (200, &retention));
    assert_eq!(
        d.call(
            &server,
            "put",
            &r_t,
            &format!("{a}/retention"),
            Some(json!({"days": 0}))
        )
        .await
        .0,
        400
    );
    assert_eq!(
        d.call(
            &server,
            "put",
            &r_t,
            &format!("{a}/retention"),
            Some(json!({"days": null}))
        )
        .await
        .0,
        200
    );
    assert_eq!(
        d.call(&server, "get", &r_t, &format!("{a}/retention"), None)
            .await
            .0,
        200
    );

    // Webhooks
    let w_t = format!("{A}/webhooks");
    let wh_t = format!("{w_t}/{{webhook_id}}");
    let webhook = d.example("post", &w_t);
    let (status, created) = d
        .call(
            &server,
            "post",
            &w_t,
            &format!("{a}/webhooks"),
            Some(webhook),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let webhook_id = created["webhookId"].as_str().unwrap().to_owned();
    let w = format!("{a}/webhooks/{webhook_id}");
    assert_eq!(
        d.call(
            &server,
            "post",
            &w_t,
            &format!("{a}/webhooks"),
            Some(json!({"url": "https://h.example/", "events": ["offer.clickd"]}))
        )
        .await
        .0,
        400
    );
    assert_eq!(
        d.call(&server, "get", &w_t, &format!("{a}/webhooks"), None)
            .await
            .0,
        200
    );
    let (status, queued) = d
        .call(
            &server,
            "post",
            &format!("{wh_t}/ping"),
            &format!("{w}/ping"),
            None,
        )
        .await;
    assert_eq!(status, 202);
    let delivery_id = queued["deliveryId"].as_str().unwrap().to_owned();
    let (status, log) = d
        .call(
            &server,
            "get",
            &format!("{wh_t}/deliveries"),
            &format!("{w}/deliveries?limit=5"),
            None,
        )
        .await;
    assert_eq!(
        (status, log["deliveries"].as_array().unwrap().len()),
        (200, 1)
    );
    assert_eq!(
        d.call(
            &server,
            "get",
            &format!("{wh_t}/deliveries"),
            &format!("{w}/deliveries?limit=101"),
            None
        )
        .await
        .0,
        400
    );
    let (status, _) = d
        .call(
            &server,
            "post",
            &format!("{wh_t}/deliveries/{{delivery_id}}/redeliver"),
            &format!("{w}/deliveries/{delivery_id}/redeliver"),
            None,
        )
        .await;
    assert!(status == 202 || status == 404, "{status}");
    assert_eq!(
        d.call(
            &server,
            "post",
            &format!("{wh_t}/deliveries/{{delivery_id}}/redeliver"),
            &format!("{w}/deliveries/no-such/redeliver"),
            None
        )
        .await
        .0,
        404
    );
    assert_eq!(
        d.call(
            &server,
            "post",
            &format!("{wh_t}/rotate-secret"),
            &format!("{w}/rotate-secret"),
            None
        )
        .await
        .0,
        200
    );
    assert_eq!(d.call(&server, "delete", &wh_t, &w, None).await.0, 204);
    assert_eq!(d.call(&server, "delete", &wh_t, &w, None).await.0, 404);

    // Without a key, and with another account's: the documented errors.
    let other = server.other_account_key().await;
    let response = server
        .client
        .get(format!("{a}/apps").replace("/api", &format!("{}/api", server.url)))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);
    let body: Value = response.json().await.unwrap();
    let forbidden = &d.operation("get", &format!("{A}/apps"))["responses"]["403"]["content"]
        ["application/json"]["schema"];
    validate(&d.doc, forbidden, &body).unwrap();

    // Every operation of the admin part was called.
    let mut called = d.called.clone();
    called.sort();
    called.dedup();
    assert_eq!(called.len(), 31, "{called:?}");
}

/// What the tag sends holds to the document's `OfferEvent`: a lifecycle event and the
/// coupon action's (`ENGAGE_ACTION`), which the collect route accepts; a name or an app
/// outside both lists does not.
#[test]
fn the_tags_lifecycle_and_action_events_hold_to_the_offer_event_schema() {
    let doc = serde_json::to_value(document()).unwrap();
    let schema = json!({"$ref": "#/components/schemas/OfferEvent"});
    let event = |app: &str, name: &str| {
        json!({"id": "e1", "time": 1, "appName": app, "eventName": name,
               "data": {"confKey": {"campaignId": 1, "engagementId": 2}}})
    };
    for (app, name) in [
        ("LP_OFFERS", "OFFER_IMPRESSION"),
        ("ENGAGE_ACTION", "COUPON_REVEALED"),
        ("ENGAGE_ACTION", "COUPON_COPIED"),
    ] {
        validate(&doc, &schema, &event(app, name)).unwrap_or_else(|e| panic!("{app} {name}: {e}"));
    }
    for (app, name) in [("LP_OFFERS", "OFFER_SHOWN"), ("OTHER_APP", "OFFER_CLICK")] {
        assert!(
            validate(&doc, &schema, &event(app, name)).is_err(),
            "{app} {name} should not hold to OfferEvent"
        );
    }
}
