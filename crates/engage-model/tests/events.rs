//! The `LP_OFFERS` events (docs/vocabulary.md, Events): one test per property of
//! `START`, the value sets, the invariants between properties, and the error reports.

// Helpers unwrap too: in a test, a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::*;
use engage_model::{AgentState, EngagementType, Json, OfferEvent, OfferEventName, MAX_VALUE_CHARS};
use serde_json::{json, Value};

/// The seed's START example.
fn start() -> Value {
    fixture_value("seed/event_start.json")
}

/// START with `data` members replaced (or removed, with `Value::Null` under `remove`).
fn start_with(changes: Value) -> Value {
    let mut event = start();
    for (k, v) in changes.as_object().unwrap() {
        event["data"][k] = v.clone();
    }
    event
}

fn start_without(keys: &[&str]) -> Value {
    let mut event = start();
    for k in keys {
        event["data"].as_object_mut().unwrap().remove(*k);
    }
    event
}

/// The canonical `data` of an event.
fn data_out(event: &Value) -> Value {
    canonical(&parse_ok(event))["data"].clone()
}

// ---- one test per START property ----

#[test]
fn contexts_come_back_as_engagement_context_then_page_context() {
    assert_eq!(
        data_out(&start())["contexts"],
        json!([{"EngagementContext": {"id": "1"}}, {"pageContext": {"id": "1738225948"}}])
    );
}

#[test]
fn campaign_id_is_kept_as_a_number() {
    assert_eq!(data_out(&start())["campaignId"], json!(210599710));
}

#[test]
fn engagement_id_is_kept_as_a_number() {
    assert_eq!(data_out(&start())["engagementId"], json!(210600710));
}

#[test]
fn engagement_revision_is_kept_as_a_number() {
    assert_eq!(data_out(&start())["engagementRevision"], json!(18));
}

#[test]
fn engagement_type_is_kept_as_a_number() {
    assert_eq!(data_out(&start())["engagementType"], json!(3));
}

#[test]
fn context_id_is_kept_as_a_string() {
    assert_eq!(data_out(&start())["contextId"], json!("1"));
    // A number is taken, and comes back as the string it stands for.
    let out = data_out(&start_with(json!({"contextId": 1})));
    assert_eq!(out["contextId"], json!("1"));
}

#[test]
fn zone_id_is_kept_as_a_number() {
    assert_eq!(data_out(&start())["zoneId"], json!(471288710));
}

#[test]
fn state_is_kept_as_a_number() {
    assert_eq!(data_out(&start())["state"], json!(2));
}

#[test]
fn conf_key_is_kept_as_a_string() {
    assert_eq!(
        data_out(&start())["confKey"],
        json!("210599710_210600710_18")
    );
}

#[test]
fn tgl_name_is_kept_as_a_string() {
    assert_eq!(data_out(&start())["tglName"], json!("slider"));
}

#[test]
fn done_is_kept_as_a_boolean() {
    assert_eq!(data_out(&start())["done"], json!(true));
    assert_eq!(
        data_out(&start_with(json!({"done": false})))["done"],
        json!(false)
    );
    let invalid = parse_err(&start_with(json!({"done": "true"})));
    assert_eq!(pointers(&invalid), ["/data/done"]);
}

#[test]
fn engagement_name_is_kept_as_a_string() {
    assert_eq!(
        data_out(&start())["engagementName"],
        json!("Slide-out chat button")
    );
}

#[test]
fn the_event_keeps_the_documented_property_order() {
    let text = serde_json::to_string(&parse_ok(&start())).unwrap();
    let order = [
        "\"appName\"",
        "\"eventName\"",
        "\"data\"",
        "\"contexts\"",
        "\"campaignId\"",
        "\"engagementId\"",
        "\"engagementRevision\"",
        "\"engagementType\"",
        "\"contextId\"",
        "\"zoneId\"",
        "\"state\"",
        "\"confKey\"",
        "\"tglName\"",
        "\"done\"",
        "\"engagementName\"",
    ];
    let positions: Vec<_> = order.iter().map(|k| text.find(k).unwrap()).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
}

// ---- ids: digit strings in, numbers out ----

#[track_caller]
fn digit_string_comes_back_as_a_number(key: &str, value: u64) {
    let mut changes = json!({ key: value.to_string() });
    if key != "zoneId" {
        // Keep confKey consistent with the ids.
        let data = &start()["data"];
        let id = |k: &str| {
            if k == key {
                value
            } else {
                data[k].as_u64().unwrap()
            }
        };
        changes["confKey"] = json!(format!(
            "{}_{}_{}",
            id("campaignId"),
            id("engagementId"),
            id("engagementRevision")
        ));
    }
    let out = data_out(&start_with(changes));
    assert_eq!(out[key], json!(value), "{key}");
}

#[test]
fn campaign_id_given_as_a_digit_string_comes_back_as_a_number() {
    digit_string_comes_back_as_a_number("campaignId", 210599710);
}

#[test]
fn engagement_id_given_as_a_digit_string_comes_back_as_a_number() {
    digit_string_comes_back_as_a_number("engagementId", 210600710);
}

#[test]
fn engagement_revision_given_as_a_digit_string_comes_back_as_a_number() {
    digit_string_comes_back_as_a_number("engagementRevision", 19);
}

#[test]
fn zone_id_given_as_a_digit_string_comes_back_as_a_number() {
    digit_string_comes_back_as_a_number("zoneId", 471288710);
}

#[test]
fn ids_that_are_not_digits_are_rejected_at_their_pointers() {
    let invalid = parse_err(&start_with(json!({
        "campaignId": "abc", "engagementId": -1, "engagementRevision": 1.5, "zoneId": ""
    })));
    assert_eq!(
        pointers(&invalid),
        [
            "/data/campaignId",
            "/data/engagementId",
            "/data/engagementRevision",
            "/data/zoneId"
        ]
    );
}

// ---- value sets ----

#[test]
fn engagement_types_0_1_2_3_5_6_are_accepted() {
    for code in [0, 1, 2, 3, 5, 6] {
        let out = data_out(&start_with(json!({"engagementType": code})));
        assert_eq!(out["engagementType"], json!(code));
        assert_eq!(EngagementType::from_code(code).unwrap().code() as u64, code);
    }
    let labels: Vec<_> = EngagementType::ALL.iter().map(|t| t.label()).collect();
    assert_eq!(
        labels,
        [
            "Peeling corner",
            "Overlay",
            "Toaster",
            "Slide-out",
            "Embedded",
            "Sticky"
        ]
    );
}

#[test]
fn engagement_type_4_is_rejected_at_data_engagement_type() {
    let invalid = parse_err(&start_with(json!({"engagementType": 4})));
    assert_eq!(pointers(&invalid), ["/data/engagementType"]);
    assert!(message_at(&invalid, "/data/engagementType").contains("found 4"));
}

#[test]
fn engagement_type_7_and_other_values_are_rejected() {
    for bad in [
        json!(7),
        json!(-1),
        json!(3.5),
        json!("slide-out"),
        json!(null),
        json!(true),
    ] {
        let invalid = parse_err(&start_with(json!({"engagementType": bad})));
        assert_eq!(pointers(&invalid), ["/data/engagementType"], "{bad}");
    }
}

#[test]
fn agent_states_1_online_2_offline_4_busy_are_accepted() {
    for (code, label) in [(1, "online"), (2, "offline"), (4, "busy")] {
        let out = data_out(&start_with(json!({"state": code})));
        assert_eq!(out["state"], json!(code));
        assert_eq!(AgentState::from_code(code).unwrap().label(), label);
    }
}

#[test]
fn agent_state_3_is_rejected_at_data_state() {
    let invalid = parse_err(&start_with(json!({"state": 3})));
    assert_eq!(pointers(&invalid), ["/data/state"]);
    for bad in [0, 5] {
        let invalid = parse_err(&start_with(json!({"state": bad})));
        assert_eq!(pointers(&invalid), ["/data/state"], "{bad}");
    }
}

// ---- invariants ----

#[test]
fn conf_key_that_does_not_match_the_ids_is_rejected() {
    for bad in ["210599710_210600710_17", "210599710-210600710-18", "", "x"] {
        let invalid = parse_err(&start_with(json!({"confKey": bad})));
        assert_eq!(pointers(&invalid), ["/data/confKey"], "{bad}");
    }
    let invalid = parse_err(&start_with(json!({"confKey": "1_2_3"})));
    assert_eq!(
        message_at(&invalid, "/data/confKey"),
        "\"1_2_3\" does not match campaignId_engagementId_engagementRevision \"210599710_210600710_18\""
    );
}

#[test]
fn context_id_different_from_the_engagement_context_id_is_rejected() {
    let invalid = parse_err(&start_with(json!({"contextId": "2"})));
    assert_eq!(pointers(&invalid), ["/data/contextId"]);
    assert!(message_at(&invalid, "/data/contextId").contains("\"1\""));
}

#[test]
fn contexts_accept_both_key_cases_and_come_back_in_the_documented_case() {
    for (engagement_key, page_key) in [
        ("EngagementContext", "pageContext"),
        ("engagementContext", "pageContext"),
        ("EngagementContext", "PageContext"),
        ("engagementContext", "PageContext"),
    ] {
        let event = start_with(json!({"contexts": [
            {engagement_key: {"id": "1"}}, {page_key: {"id": "1738225948"}}
        ]}));
        let out = data_out(&event);
        assert_eq!(
            out["contexts"],
            json!([{"EngagementContext": {"id": "1"}}, {"pageContext": {"id": "1738225948"}}]),
            "{engagement_key}/{page_key}"
        );
    }
}

#[test]
fn contexts_in_reverse_order_come_back_in_the_documented_order() {
    let event = start_with(json!({"contexts": [
        {"pageContext": {"id": 1738225948}}, {"EngagementContext": {"id": 1}}
    ]}));
    assert_eq!(
        data_out(&event)["contexts"],
        json!([{"EngagementContext": {"id": "1"}}, {"pageContext": {"id": "1738225948"}}])
    );
}

#[test]
fn contexts_without_a_page_context_or_with_two_engagement_contexts_are_rejected() {
    let invalid = parse_err(&start_with(
        json!({"contexts": [{"EngagementContext": {"id": "1"}}]}),
    ));
    assert_eq!(pointers(&invalid), ["/data/contexts"]);
    let invalid = parse_err(&start_with(json!({"contexts": [
        {"EngagementContext": {"id": "1"}}, {"engagementContext": {"id": "1"}}, {"pageContext": {"id": "9"}}
    ]})));
    assert_eq!(pointers(&invalid), ["/data/contexts/1/engagementContext"]);
    let invalid = parse_err(&start_with(json!({"contexts": [
        {"EngagementContext": {}}, {"pageContext": {"id": "9", "name": "x"}}
    ]})));
    assert_eq!(
        pointers(&invalid),
        [
            "/data/contexts/0/EngagementContext/id",
            "/data/contexts/1/pageContext/name"
        ]
    );
}

#[test]
fn tgl_name_is_not_derived_from_the_engagement_type() {
    // The seed's OFFER_DISPLAY: a sticky engagement rendered by `overlay`.
    let out = canonical(&parse_ok(&fixture_value("seed/event_offer_display.json")));
    assert_eq!(out["data"]["engagementType"], json!(6));
    assert_eq!(out["data"]["tglName"], json!("overlay"));
    assert_eq!(EngagementType::SlideOut.default_tgl_name(), "slider");
    assert_eq!(EngagementType::Overlay.default_tgl_name(), "overlay");
}

// ---- names, app, envelope ----

#[test]
fn every_lifecycle_event_name_is_accepted_with_the_start_properties() {
    let names = [
        "START",
        "OFFER_DISPLAY",
        "OFFER_IMPRESSION",
        "OFFER_CLICK",
        "OFFER_DECLINED",
        "OFFER_TIMEOUT",
        "OFFER_REMOVE",
    ];
    assert_eq!(OfferEventName::ALL.len(), names.len());
    for name in names {
        let mut event = start();
        event["eventName"] = json!(name);
        let out = canonical(&parse_ok(&event));
        assert_eq!(out["eventName"], json!(name));
        assert_eq!(out["appName"], json!("LP_OFFERS"));
        assert_eq!(OfferEventName::from_name(name).unwrap().as_str(), name);
    }
}

#[test]
fn event_names_are_case_sensitive_and_unknown_ones_are_rejected() {
    for bad in [json!("start"), json!("OFFER_SHOW"), json!(1), json!(null)] {
        let mut event = start();
        event["eventName"] = bad.clone();
        let invalid = parse_err(&event);
        assert_eq!(pointers(&invalid), ["/eventName"], "{bad}");
    }
}

#[test]
fn an_app_other_than_lp_offers_is_rejected() {
    let mut event = start();
    event["appName"] = json!("lp_sdes");
    let invalid = parse_err(&event);
    assert_eq!(pointers(&invalid), ["/appName"]);
    let mut event = start();
    event.as_object_mut().unwrap().remove("appName");
    assert_eq!(pointers(&parse_err(&event)), ["/appName"]);
}

#[test]
fn an_envelope_id_and_time_are_left_to_the_caller() {
    let mut event = start();
    event["id"] = json!("0190f0a0-0000-7000-8000-000000000000");
    event["time"] = json!(1700000000000_u64);
    let bytes = serde_json::to_vec(&event).unwrap();
    let json = Json::parse(&bytes).unwrap();
    assert!(OfferEvent::from_json(&json, &["id", "time"]).is_ok());
    let invalid = OfferEvent::from_json(&json, &[]).unwrap_err();
    assert_eq!(pointers(&invalid), ["/id", "/time"]);
}

#[test]
fn from_data_reads_the_properties_of_a_named_event() {
    let bytes = serde_json::to_vec(&start()["data"]).unwrap();
    let event =
        OfferEvent::from_data(OfferEventName::OfferClick, &Json::parse(&bytes).unwrap()).unwrap();
    assert_eq!(event.name, OfferEventName::OfferClick);
    assert_eq!(event.data.context_id, "1");
    assert_eq!(event.data.page_context_id, "1738225948");
    assert_eq!(event.data.conf_key.to_string(), "210599710_210600710_18");
}

// ---- missing, unknown, duplicate, all at once ----

#[test]
fn each_missing_required_property_is_reported() {
    let invalid = parse_err(&start_without(&[
        "contexts",
        "campaignId",
        "engagementId",
        "engagementRevision",
        "engagementType",
        "contextId",
        "confKey",
    ]));
    let mut got = pointers(&invalid);
    got.sort_unstable();
    assert_eq!(
        got,
        [
            "/data/campaignId",
            "/data/confKey",
            "/data/contextId",
            "/data/contexts",
            "/data/engagementId",
            "/data/engagementRevision",
            "/data/engagementType",
        ]
    );
    assert!(
        invalid
            .errors
            .iter()
            .all(|e| e.message.starts_with("missing")),
        "{invalid}"
    );
}

#[test]
fn optional_properties_may_be_left_out_and_are_not_invented() {
    let out = data_out(&start_without(&[
        "zoneId",
        "state",
        "tglName",
        "done",
        "engagementName",
    ]));
    for key in ["zoneId", "state", "tglName", "done", "engagementName"] {
        assert!(out.get(key).is_none(), "{key} in {out}");
    }
}

#[test]
fn an_unknown_property_is_reported_at_its_pointer() {
    let invalid = parse_err(&start_with(json!({"engagementColour": "red"})));
    assert_eq!(pointers(&invalid), ["/data/engagementColour"]);
    assert!(message_at(&invalid, "/data/engagementColour").starts_with("unknown field"));
}

#[test]
fn a_duplicate_property_is_reported_at_its_pointer() {
    let text = fixture_value("seed/event_start.json").to_string().replacen(
        "\"done\":true",
        "\"done\":true,\"done\":false",
        1,
    );
    let invalid = engage_model::Document::parse(text.as_bytes()).unwrap_err();
    assert_eq!(pointers(&invalid), ["/data/done"]);
    assert_eq!(
        message_at(&invalid, "/data/done"),
        "duplicate member `done`"
    );
}

#[test]
fn all_problems_of_an_event_are_reported_at_once() {
    let mut event = start_with(json!({
        "engagementType": 4,
        "state": 3,
        "contextId": "7",
        "tglName": 5,
        "colour": "red",
    }));
    event["data"].as_object_mut().unwrap().remove("campaignId");
    event["eventName"] = json!("OFFER_SHOW");
    event["extra"] = json!(1);
    let invalid = parse_err(&event);
    assert_eq!(
        pointers(&invalid),
        [
            "/eventName",
            "/data/campaignId",
            "/data/engagementType",
            "/data/state",
            "/data/tglName",
            "/data/colour",
            "/data/contextId",
            "/extra",
        ],
        "{invalid}"
    );
}

#[test]
fn a_mismatched_conf_key_and_context_id_are_both_reported() {
    let invalid = parse_err(&start_with(json!({"confKey": "1_2_3", "contextId": "2"})));
    assert_eq!(pointers(&invalid), ["/data/confKey", "/data/contextId"]);
}

#[test]
fn a_context_id_mismatch_is_reported_even_when_an_id_is_invalid() {
    let invalid = parse_err(&start_with(json!({"engagementId": "x", "contextId": "2"})));
    assert_eq!(
        pointers(&invalid),
        ["/data/engagementId", "/data/contextId"]
    );
}

// ---- the length limit ----

#[test]
fn engagement_name_of_exactly_50000_characters_is_accepted() {
    let name = "é".repeat(MAX_VALUE_CHARS);
    let out = data_out(&start_with(json!({"engagementName": name})));
    assert_eq!(
        out["engagementName"].as_str().unwrap().chars().count(),
        50_000
    );
}

#[test]
fn engagement_name_of_50001_characters_is_rejected() {
    let name = "é".repeat(MAX_VALUE_CHARS + 1);
    let invalid = parse_err(&start_with(json!({"engagementName": name})));
    assert_eq!(pointers(&invalid), ["/data/engagementName"]);
    let long_id = "9".repeat(MAX_VALUE_CHARS + 1);
    let invalid = parse_err(&start_with(json!({
        "contextId": long_id,
        "contexts": [{"EngagementContext": {"id": long_id}}, {"pageContext": {"id": "1"}}],
    })));
    assert_eq!(
        pointers(&invalid),
        ["/data/contexts/0/EngagementContext/id", "/data/contextId"]
    );
}
