//! The admin part's operations, as the route table has them, each with its security, its
//! errors and examples that hold to its own schemas.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{json, Value};

use crate::openapi::{document, BEARER, OAUTH1};
use crate::routes::{route_table, Auth};

/// Every operation of the admin part: method, path template, and whether it reads input
/// it can refuse with 400 (a body, a query or a checked path parameter).
const OPERATIONS: [(&str, &str, bool); 31] = [
    ("get", "/api/account/{account_id}/origins", false),
    ("put", "/api/account/{account_id}/origins", true),
    ("post", "/api/account/{account_id}/apps", true),
    ("get", "/api/account/{account_id}/apps", false),
    ("post", "/api/account/{account_id}/campaigns", true),
    ("get", "/api/account/{account_id}/campaigns", false),
    ("get", "/api/account/{account_id}/campaigns/{campaign_id}", false),
    ("put", "/api/account/{account_id}/campaigns/{campaign_id}", true),
    ("delete", "/api/account/{account_id}/campaigns/{campaign_id}", false),
    ("post", "/api/account/{account_id}/campaigns/{campaign_id}/engagements", true),
    ("get", "/api/account/{account_id}/campaigns/{campaign_id}/engagements", false),
    ("get", "/api/account/{account_id}/campaigns/{campaign_id}/engagements/{engagement_id}", true),
    ("put", "/api/account/{account_id}/campaigns/{campaign_id}/engagements/{engagement_id}", true),
    ("put", "/api/account/{account_id}/campaigns/{campaign_id}/engagements/{engagement_id}/availability", true),
    ("post", "/api/account/{account_id}/analytics/report", true),
    ("post", "/api/account/{account_id}/analytics/funnel", true),
    ("get", "/api/account/{account_id}/quarantine", true),
    ("post", "/api/account/{account_id}/quarantine/replay", false),
    ("get", "/api/account/{account_id}/visitors/{visitor_id}", true),
    ("delete", "/api/account/{account_id}/visitors/{visitor_id}", true),
    ("delete", "/api/account/{account_id}/customers/{customer_id}", true),
    ("get", "/api/account/{account_id}/erasures", true),
    ("get", "/api/account/{account_id}/retention", false),
    ("put", "/api/account/{account_id}/retention", true),
    ("post", "/api/account/{account_id}/webhooks", true),
    ("get", "/api/account/{account_id}/webhooks", false),
    ("delete", "/api/account/{account_id}/webhooks/{webhook_id}", false),
    ("post", "/api/account/{account_id}/webhooks/{webhook_id}/rotate-secret", false),
    ("post", "/api/account/{account_id}/webhooks/{webhook_id}/ping", false),
    ("get", "/api/account/{account_id}/webhooks/{webhook_id}/deliveries", true),
    ("post", "/api/account/{account_id}/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver", false),
];

const TAGS: [&str; 6] = [
    "Account",
    "Campaigns",
    "Analytics",
    "Quarantine",
    "Privacy",
    "Webhooks",
];

fn doc() -> Value {
    serde_json::to_value(document()).unwrap()
}

fn error_ref(response: &Value) -> &Value {
    &response["content"]["application/json"]["schema"]["$ref"]
}

#[test]
fn every_admin_operation_is_described_with_both_schemes_and_its_errors() {
    let doc = doc();
    for (method, path, reads_input) in OPERATIONS {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} is not described");
        assert_eq!(
            op["security"],
            json!([{ BEARER: [] }, { OAUTH1: [] }]),
            "{method} {path}"
        );
        let tags = op["tags"].as_array().unwrap();
        assert!(
            tags.len() == 1 && TAGS.contains(&tags[0].as_str().unwrap()),
            "{method} {path}: {tags:?}"
        );
        assert!(op["operationId"].is_string(), "{method} {path}");
        let responses = op["responses"].as_object().unwrap();
        for status in ["401", "403", "404", "503"] {
            assert_eq!(
                error_ref(&responses[status]),
                "#/components/schemas/Error",
                "{method} {path} {status}"
            );
        }
        assert_eq!(
            responses.contains_key("400"),
            reads_input,
            "{method} {path}: 400 documented where (and only where) input is checked"
        );
        if reads_input {
            assert_eq!(
                error_ref(&responses["400"]),
                "#/components/schemas/Error",
                "{method} {path}"
            );
        }
        let success: Vec<&String> = responses.keys().filter(|s| s.starts_with('2')).collect();
        assert_eq!(success.len(), 1, "{method} {path}: {success:?}");
        for (status, response) in responses {
            if !status.starts_with('2') {
                assert_eq!(
                    error_ref(response),
                    "#/components/schemas/Error",
                    "{method} {path} {status}"
                );
            }
        }
        let body = &op["requestBody"];
        if ["put", "post"].contains(&method) && body.is_object() {
            assert!(body["content"]["application/json"]["schema"].is_object());
            assert!(responses.contains_key("413") && responses.contains_key("415"));
        }
    }
}

/// The routes behind an account's key that this part describes: all but the Engagement
/// History API's search (the public part has it).
#[test]
fn the_admin_part_describes_every_account_key_route_but_the_history_search() {
    let doc = doc();
    let mut described: Vec<(String, String)> = OPERATIONS
        .iter()
        .map(|(m, p, _)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    described.sort();
    let mut table: Vec<(String, String)> = route_table()
        .into_iter()
        .filter(|r| matches!(r.auth, Auth::AccountKey))
        .filter(|r| !r.path.starts_with("/interaction_history/"))
        .map(|r| (r.method.as_str().to_lowercase(), r.path.to_owned()))
        .collect();
    table.sort();
    assert_eq!(described, table);
    for (method, path) in &table {
        assert!(doc["paths"][path][method].is_object(), "{method} {path}");
    }
}

/// Validates `value` against `schema`, resolving `$ref`s in the whole document.
fn validate(doc: &Value, schema: &Value, value: &Value) -> Result<(), String> {
    let mut root = doc.clone();
    let root_map = root.as_object_mut().unwrap();
    root_map.insert(
        "$schema".into(),
        json!("https://json-schema.org/draft/2020-12/schema"),
    );
    root_map.insert("allOf".into(), json!([schema]));
    let validator = jsonschema::validator_for(&root).map_err(|e| e.to_string())?;
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

#[test]
fn the_examples_hold_to_their_own_schemas() {
    let doc = doc();
    let mut checked = 0;
    for (name, schema) in doc["components"]["schemas"].as_object().unwrap() {
        if let Some(example) = schema.get("example") {
            let reference = json!({ "$ref": format!("#/components/schemas/{name}") });
            validate(&doc, &reference, example).unwrap_or_else(|e| panic!("{name}: {e}"));
            checked += 1;
        }
    }
    for (method, path, _) in OPERATIONS {
        let op = &doc["paths"][path][method];
        for (status, response) in op["responses"].as_object().unwrap() {
            let content = &response["content"]["application/json"];
            if let Some(example) = content.get("example") {
                validate(&doc, &content["schema"], example)
                    .unwrap_or_else(|e| panic!("{method} {path} {status}: {e}"));
                checked += 1;
            }
        }
    }
    assert!(checked >= 15, "only {checked} examples");
}

/// What the readers refuse, the schemas refuse too: a few bodies each side of a bound.
#[test]
fn the_request_schemas_draw_the_readers_bounds() {
    let doc = doc();
    let schema = |name: &str| json!({ "$ref": format!("#/components/schemas/{name}") });
    let cases = [
        (
            "CampaignRequest",
            json!({"name": "a", "controlGroupPercent": 50}),
            true,
        ),
        (
            "CampaignRequest",
            json!({"name": "a", "controlGroupPercent": 51}),
            false,
        ),
        (
            "CampaignRequest",
            json!({"name": "a", "attributionWindowDays": "31"}),
            true,
        ),
        (
            "CampaignRequest",
            json!({"name": "a", "attributionWindowDays": 0}),
            false,
        ),
        ("CampaignRequest", json!({"name": "a", "goal": null}), true),
        ("CampaignRequest", json!({"name": "  "}), false),
        (
            "CampaignRequest",
            json!({"name": "a", "owner": "me"}),
            false,
        ),
        (
            "EngagementRequest",
            json!({"name": "a", "engagementType": 4}),
            false,
        ),
        (
            "EngagementRequest",
            json!({"name": "a", "engagementType": "6"}),
            true,
        ),
        (
            "EngagementRequest",
            json!({"name": "a", "engagementType": 1, "action": {"type": "coupon", "code": "X"}}),
            true,
        ),
        (
            "EngagementRequest",
            json!({"name": "a", "engagementType": 1, "action": {"type": "coupon", "url": "https://a.example/"}}),
            false,
        ),
        (
            "EngagementRequest",
            json!({"name": "a", "engagementType": 1, "action": {"type": "link", "url": "javascript:alert(1)"}}),
            false,
        ),
        (
            "EngagementRequest",
            json!({"name": "a", "engagementType": 1, "targeting": {"url": {"include": [{"prefix": "https://", "contains": "x"}]}}}),
            false,
        ),
        (
            "EngagementRequest",
            json!({"name": "a", "engagementType": 1, "targeting": {"frequency": {}}}),
            false,
        ),
        ("AvailabilityRequest", json!({"state": 3}), false),
        ("AvailabilityRequest", json!({"state": 4}), true),
        (
            "OriginsRequest",
            json!({"allowedOrigins": ["https://shop.example", "*", "http://[::1]:8080"]}),
            true,
        ),
        (
            "OriginsRequest",
            json!({"allowedOrigins": ["https://Shop.example"]}),
            false,
        ),
        (
            "OriginsRequest",
            json!({"allowedOrigins": ["https://shop.example/path"]}),
            false,
        ),
        ("RetentionRequest", json!({"days": null}), true),
        ("RetentionRequest", json!({}), false),
        ("RetentionRequest", json!({"days": 36501}), false),
        (
            "WebhookRequest",
            json!({"url": "https://h.example/", "events": ["OFFER_CLICK", "purchase"]}),
            true,
        ),
        (
            "WebhookRequest",
            json!({"url": "https://h.example/", "events": []}),
            false,
        ),
        (
            "WebhookRequest",
            json!({"url": "https://h.example/", "events": ["offer.clickd"]}),
            false,
        ),
        (
            "ReportRequest",
            json!({"from": 0, "to": "2026-12-01T00:00:00Z", "groupBy": ["hour"]}),
            true,
        ),
        (
            "ReportRequest",
            json!({"from": 0, "to": 1, "groupBy": ["week"]}),
            false,
        ),
        (
            "FunnelRequest",
            json!({"from": 0, "to": 1, "steps": [{"sde": "cart"}]}),
            true,
        ),
        (
            "FunnelRequest",
            json!({"from": 0, "to": 1, "steps": [{"sde": "cart", "event": "START"}]}),
            false,
        ),
        (
            "FunnelRequest",
            json!({"from": 0, "to": 1, "steps": []}),
            false,
        ),
        (
            "FunnelRequest",
            json!({"from": 0, "to": 1, "steps": [{"event": "START"}], "windowSeconds": 2678401}),
            false,
        ),
        (
            "ReportRequest",
            json!({"from": 0, "to": 1, "timezone": "Europe/Paris"}),
            true,
        ),
        (
            "ReportRequest",
            json!({"from": 0, "to": 1, "timezone": "Mars/Olympus"}),
            false,
        ),
        (
            "CampaignRequest",
            json!({"name": "a", "controlGroupPercent": "50"}),
            true,
        ),
        (
            "CampaignRequest",
            json!({"name": "a", "controlGroupPercent": "51"}),
            false,
        ),
        (
            "WebhookRequest",
            json!({"url": "https://0/", "events": ["purchase"]}),
            false,
        ),
        (
            "WebhookRequest",
            json!({"url": "http://hooks.shop.example:8080/in?x=1", "events": ["purchase"]}),
            true,
        ),
        (
            "EngagementRequest",
            json!({"name": "a", "engagementType": 1, "targeting": {"sdes": [{"path": "cartStatus.total", "op": "gt", "value": {}}]}}),
            false,
        ),
        (
            "EngagementRequest",
            json!({"name": "a", "engagementType": 1, "targeting": {"sdes": [{"path": "cartStatus.total", "op": "in", "value": [1, "2", true]}]}}),
            true,
        ),
        (
            "EngagementRequest",
            json!({"name": "a", "engagementType": 1, "targeting": {"sdes": [{"path": "cartStatus.total", "op": "exists"}]}}),
            true,
        ),
        (
            "EngagementRequest",
            json!({"name": "a", "engagementType": 1, "targeting": {"sdes": [{"path": "cartStatus.total", "op": "eq"}]}}),
            false,
        ),
        (
            "OriginsRequest",
            json!({"allowedOrigins": ["https://[0000000000]:3"]}),
            false,
        ),
        (
            "OriginsRequest",
            json!({"allowedOrigins": ["https://[2001:db8::1]:65535"]}),
            true,
        ),
        (
            "OriginsRequest",
            json!({"allowedOrigins": ["https://[::]:65536"]}),
            false,
        ),
    ];
    for (name, body, accepted) in cases {
        let found = validate(&doc, &schema(name), &body);
        assert_eq!(found.is_ok(), accepted, "{name} {body}: {found:?}");
    }
}
