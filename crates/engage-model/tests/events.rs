//! The `LP_OFFERS` events (docs/vocabulary.md, Events): a table of what each property of
//! `START` comes back as, one of the changes rejected at their pointers, the value sets,
//! the invariants between properties, and the error reports.

// Helpers unwrap too: in a test, a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::*;
use engage_model::{
    AgentState, Document, EngagementType, Json, OfferEvent, OfferEventName, MAX_VALUE_CHARS,
};
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

/// The seed's contexts as they come back: the engagement context first, keys in their
/// documented case, ids as strings.
fn documented_contexts() -> Value {
    json!([{"EngagementContext": {"id": "1"}}, {"pageContext": {"id": "1738225948"}}])
}

/// Parses `event`, answering its canonical form or its errors, so that a table can go
/// on to its next case.
fn parse(event: &Value) -> Result<Value, engage_model::Invalid> {
    Document::parse(&serde_json::to_vec(event).unwrap()).map(|doc| canonical(&doc))
}

// ---- what each START property comes back as ----

/// `(key, out)`: the seed's START is valid, and its canonical `data` holds `out` under
/// `key`.
type SeedOut = (&'static str, fn() -> Value);

#[rustfmt::skip]
const SEED_OUT: &[SeedOut] = &[
    ("contexts", documented_contexts),
    ("campaignId", || json!(210599710)),
    ("engagementId", || json!(210600710)),
    ("engagementRevision", || json!(18)),
    ("engagementType", || json!(3)),
    ("contextId", || json!("1")),
    ("zoneId", || json!(471288710)),
    ("state", || json!(2)),
    ("confKey", || json!("210599710_210600710_18")),
    ("tglName", || json!("slider")),
    ("done", || json!(true)),
    ("engagementName", || json!("Slide-out chat button")),
];

/// `(name, changes, key, out)`: START with `changes` (see `start_with`) is valid, and its
/// canonical `data` holds `out` under `key`.
type Kept = (&'static str, fn() -> Value, &'static str, fn() -> Value);

#[rustfmt::skip]
const KEPT: &[Kept] = &[
    ("contextId as a number, which it stands for",
        || json!({"contextId": 1}), "contextId", || json!("1")),
    ("done false", || json!({"done": false}), "done", || json!(false)),
    // Ids: digit strings in, numbers out (confKey kept consistent with the ids).
    ("campaignId as a digit string",
        || json!({"campaignId": "210599710", "confKey": "210599710_210600710_18"}),
        "campaignId", || json!(210599710)),
    ("engagementId as a digit string",
        || json!({"engagementId": "210600710", "confKey": "210599710_210600710_18"}),
        "engagementId", || json!(210600710)),
    ("engagementRevision as a digit string",
        || json!({"engagementRevision": "19", "confKey": "210599710_210600710_19"}),
        "engagementRevision", || json!(19)),
    ("zoneId as a digit string",
        || json!({"zoneId": "471288710"}), "zoneId", || json!(471288710)),
    // Contexts: both key cases in; the documented case and order out.
    ("EngagementContext and pageContext",
        || json!({"contexts": [{"EngagementContext": {"id": "1"}}, {"pageContext": {"id": "1738225948"}}]}),
        "contexts", documented_contexts),
    ("engagementContext and pageContext",
        || json!({"contexts": [{"engagementContext": {"id": "1"}}, {"pageContext": {"id": "1738225948"}}]}),
        "contexts", documented_contexts),
    ("EngagementContext and PageContext",
        || json!({"contexts": [{"EngagementContext": {"id": "1"}}, {"PageContext": {"id": "1738225948"}}]}),
        "contexts", documented_contexts),
    ("engagementContext and PageContext",
        || json!({"contexts": [{"engagementContext": {"id": "1"}}, {"PageContext": {"id": "1738225948"}}]}),
        "contexts", documented_contexts),
    ("contexts in reverse order, ids as numbers",
        || json!({"contexts": [{"pageContext": {"id": 1738225948}}, {"EngagementContext": {"id": 1}}]}),
        "contexts", documented_contexts),
];

#[test]
fn each_start_property_comes_back_in_its_documented_form() {
    let seed = SEED_OUT
        .iter()
        .map(|&(key, out)| (key, (|| json!({})) as fn() -> Value, key, out));
    let mut failures = Vec::new();
    for (name, changes, key, out) in seed.chain(KEPT.iter().copied()) {
        match parse(&start_with(changes())) {
            Ok(canonical) if canonical["data"][key] == out() => {}
            Ok(canonical) => failures.push(format!(
                "{name}: {key} is {}, expected {}",
                canonical["data"][key],
                out()
            )),
            Err(invalid) => failures.push(format!("{name}: rejected: {invalid}")),
        }
    }
    assert_no_failures(SEED_OUT.len() + KEPT.len(), &failures);
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

// ---- what each START property rejects ----

const ENGAGEMENT_TYPE: &[&str] = &["/data/engagementType"];
const STATE: &[&str] = &["/data/state"];
const CONF_KEY: &[&str] = &["/data/confKey"];

/// Changes to START (see `start_with`) and where they are rejected.
#[rustfmt::skip]
const REJECTED: &[Rejected] = &[
    rejected("done as a string", || json!({"done": "true"}), &["/data/done"]),
    rejected("ids that are not digits",
        || json!({"campaignId": "abc", "engagementId": -1, "engagementRevision": 1.5, "zoneId": ""}),
        &["/data/campaignId", "/data/engagementId", "/data/engagementRevision", "/data/zoneId"]),
    // Engagement types are 0, 1, 2, 3, 5 and 6.
    rejected("engagement type 4", || json!({"engagementType": 4}), ENGAGEMENT_TYPE)
        .pinning(&[("/data/engagementType", Text::Contains("found 4"))]),
    rejected("engagement type 7", || json!({"engagementType": 7}), ENGAGEMENT_TYPE),
    rejected("engagement type -1", || json!({"engagementType": -1}), ENGAGEMENT_TYPE),
    rejected("engagement type 3.5", || json!({"engagementType": 3.5}), ENGAGEMENT_TYPE),
    rejected("engagement type as a label",
        || json!({"engagementType": "slide-out"}), ENGAGEMENT_TYPE),
    rejected("engagement type null", || json!({"engagementType": null}), ENGAGEMENT_TYPE),
    rejected("engagement type true", || json!({"engagementType": true}), ENGAGEMENT_TYPE),
    // Agent states are 1, 2 and 4.
    rejected("agent state 3", || json!({"state": 3}), STATE),
    rejected("agent state 0", || json!({"state": 0}), STATE),
    rejected("agent state 5", || json!({"state": 5}), STATE),
    // confKey is campaignId_engagementId_engagementRevision.
    rejected("confKey of another revision",
        || json!({"confKey": "210599710_210600710_17"}), CONF_KEY),
    rejected("confKey with dashes", || json!({"confKey": "210599710-210600710-18"}), CONF_KEY),
    rejected("empty confKey", || json!({"confKey": ""}), CONF_KEY),
    rejected("confKey in words", || json!({"confKey": "x"}), CONF_KEY),
    rejected("confKey of other ids", || json!({"confKey": "1_2_3"}), CONF_KEY).pinning(&[(
        "/data/confKey",
        Text::Is("\"1_2_3\" does not match campaignId_engagementId_engagementRevision \
                  \"210599710_210600710_18\""),
    )]),
    // contextId is the engagement context's id.
    rejected("contextId of another context", || json!({"contextId": "2"}), &["/data/contextId"])
        .pinning(&[("/data/contextId", Text::Contains("\"1\""))]),
    // One engagement context and one page context.
    rejected("no page context",
        || json!({"contexts": [{"EngagementContext": {"id": "1"}}]}),
        &["/data/contexts"]),
    rejected("two engagement contexts",
        || json!({"contexts": [
            {"EngagementContext": {"id": "1"}}, {"engagementContext": {"id": "1"}}, {"pageContext": {"id": "9"}}
        ]}),
        &["/data/contexts/1/engagementContext"]),
    rejected("contexts without an id or with another member",
        || json!({"contexts": [{"EngagementContext": {}}, {"pageContext": {"id": "9", "name": "x"}}]}),
        &["/data/contexts/0/EngagementContext/id", "/data/contexts/1/pageContext/name"]),
    // An unknown property; problems reported together.
    rejected("an unknown property",
        || json!({"engagementColour": "red"}), &["/data/engagementColour"])
        .pinning(&[("/data/engagementColour", Text::StartsWith("unknown field"))]),
    rejected("a mismatched confKey and contextId",
        || json!({"confKey": "1_2_3", "contextId": "2"}),
        &["/data/confKey", "/data/contextId"]),
    rejected("a contextId mismatch beside an invalid id",
        || json!({"engagementId": "x", "contextId": "2"}),
        &["/data/engagementId", "/data/contextId"]),
];

#[test]
fn each_bad_start_property_is_rejected_at_its_pointer() {
    let mut failures = Vec::new();
    for case in REJECTED {
        case.check(&start_with((case.input)()), &mut failures);
    }
    assert_no_failures(REJECTED.len(), &failures);
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
fn agent_states_1_online_2_offline_4_busy_are_accepted() {
    for (code, label) in [(1, "online"), (2, "offline"), (4, "busy")] {
        let out = data_out(&start_with(json!({"state": code})));
        assert_eq!(out["state"], json!(code));
        assert_eq!(AgentState::from_code(code).unwrap().label(), label);
    }
}

// ---- invariants ----

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
    assert_eq!(OfferEventName::ALL.len(), names.len() + 2);
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
fn engages_action_events_belong_to_their_own_app_and_nowhere_else() {
    for name in ["COUPON_REVEALED", "COUPON_COPIED"] {
        let mut event = start();
        event["appName"] = json!("ENGAGE_ACTION");
        event["eventName"] = json!(name);
        let out = canonical(&parse_ok(&event));
        assert_eq!(out["appName"], json!("ENGAGE_ACTION"));
        assert_eq!(out["eventName"], json!(name));
        let name = OfferEventName::from_name(name).unwrap();
        assert!(!name.is_lifecycle());
        // Not an LP_OFFERS name: a LivePerson page's listeners never see it.
        let mut event = start();
        event["eventName"] = json!(name.as_str());
        assert_eq!(pointers(&parse_err(&event)), ["/eventName"]);
    }
    let mut event = start();
    event["appName"] = json!("ENGAGE_ACTION");
    assert_eq!(pointers(&parse_err(&event)), ["/eventName"]);
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
