//! docs/vocabulary.md, Monitoring API: engagement attributes. The impression types become the
//! `LP_OFFERS` events of their context; every other type is a page-shape SDE.

// Helpers unwrap too: in a test, a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::*;
use engage_model::{EngagementAttribute, ImpressionKind, Invalid, Json, OfferEventName, Sde};
use serde_json::{json, Value};

fn attribute(value: &Value) -> Result<EngagementAttribute, Invalid> {
    let bytes = serde_json::to_vec(value).unwrap();
    EngagementAttribute::from_json(&Json::parse(&bytes).unwrap())
}

fn impression(kind: &str) -> Value {
    json!({
        "type": kind,
        "campaign": 210599710,
        "engId": 210600710,
        "revision": 18,
        "eContext": [{"type": "engagementContext", "id": "ctx-1"}]
    })
}

#[track_caller]
fn maps_to(kind: &str, event_name: &str) {
    let EngagementAttribute::Impression(imp) = attribute(&impression(kind)).unwrap() else {
        panic!("{kind} is an impression")
    };
    assert_eq!(imp.kind.type_name(), kind);
    assert_eq!(imp.kind.event_name().as_str(), event_name);
    let event = imp.to_event("page-7");
    assert_eq!(event.name.as_str(), event_name);
    let out = serde_json::to_value(&event).unwrap();
    assert_eq!(out["appName"], json!("LP_OFFERS"));
    assert_eq!(out["eventName"], json!(event_name));
    assert_eq!(
        out["data"]["contexts"],
        json!([{"EngagementContext": {"id": "ctx-1"}}, {"pageContext": {"id": "page-7"}}])
    );
    assert_eq!(out["data"]["contextId"], json!("ctx-1"));
    assert_eq!(out["data"]["campaignId"], json!(210599710));
    assert_eq!(out["data"]["engagementId"], json!(210600710));
    assert_eq!(out["data"]["engagementRevision"], json!(18));
    assert_eq!(out["data"]["confKey"], json!("210599710_210600710_18"));
}

#[test]
fn imp_display_becomes_offer_impression() {
    maps_to("impDisplay", "OFFER_IMPRESSION");
}

#[test]
fn imp_accept_becomes_offer_click() {
    maps_to("impAccept", "OFFER_CLICK");
}

#[test]
fn imp_expanded_becomes_offer_display() {
    maps_to("impExpanded", "OFFER_DISPLAY");
}

#[test]
fn imp_timeout_becomes_offer_timeout() {
    maps_to("impTimeout", "OFFER_TIMEOUT");
}

#[test]
fn imp_close_becomes_offer_declined() {
    maps_to("impClose", "OFFER_DECLINED");
}

#[test]
fn the_five_impression_kinds_are_all_mapped_and_distinct() {
    let mut names: Vec<OfferEventName> =
        ImpressionKind::ALL.iter().map(|k| k.event_name()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 5);
    for kind in ImpressionKind::ALL {
        assert_eq!(ImpressionKind::from_type_name(kind.type_name()), Some(kind));
    }
}

#[test]
fn an_impression_event_carries_only_what_the_attribute_says() {
    let EngagementAttribute::Impression(imp) = attribute(&impression("impDisplay")).unwrap() else {
        panic!()
    };
    let data = &imp.to_event("p").data;
    assert_eq!(data.engagement_type, None);
    assert_eq!(data.state, None);
    assert_eq!(data.zone_id, None);
    let out = serde_json::to_value(imp.to_event("p")).unwrap();
    for key in [
        "engagementType",
        "state",
        "zoneId",
        "tglName",
        "done",
        "engagementName",
    ] {
        assert!(out["data"].get(key).is_none(), "{key}");
    }
}

#[test]
fn impression_ids_take_digit_strings_and_context_ids_take_numbers() {
    let EngagementAttribute::Impression(imp) = attribute(&json!({
        "type": "impAccept", "campaign": "12", "engId": "34", "revision": "5",
        "eContext": [{"type": "engagementContext", "id": 99}]
    }))
    .unwrap() else {
        panic!()
    };
    assert_eq!(imp.conf_key.to_string(), "12_34_5");
    assert_eq!(imp.context_id.as_deref(), Some("99"));
}

#[test]
fn the_engagement_context_entry_is_found_among_other_context_entries() {
    let EngagementAttribute::Impression(imp) = attribute(&json!({
        "type": "impClose", "campaign": 1, "engId": 2, "revision": 3,
        "eContext": [{"type": "pageContext", "id": "p"}, {"type": "engagementContext", "id": "e"}]
    }))
    .unwrap() else {
        panic!()
    };
    assert_eq!(imp.context_id.as_deref(), Some("e"));
}

#[test]
fn every_problem_of_an_impression_is_reported_at_its_pointer() {
    let invalid = attribute(&json!({
        "type": "impDisplay", "campaign": "x", "revision": 1,
        "eContext": [{"type": "engagementContext"}], "colour": 1
    }))
    .unwrap_err();
    assert_eq!(
        pointers(&invalid),
        ["/campaign", "/engId", "/eContext/0/id", "/colour"],
        "{invalid}"
    );
    let invalid = attribute(&json!({
        "type": "impDisplay", "campaign": 1, "engId": 2, "revision": 3, "eContext": []
    }))
    .unwrap_err();
    assert_eq!(pointers(&invalid), ["/eContext"]);
    let invalid = attribute(&json!({
        "type": "impExpanded", "campaign": 1, "engId": 2, "revision": 3,
        "expanded": "yes", "userInit": 1, "actionableItems": {}
    }))
    .unwrap_err();
    assert_eq!(
        pointers(&invalid),
        ["/expanded", "/userInit", "/actionableItems"],
        "{invalid}"
    );
}

#[test]
fn the_documented_impressions_without_econtext_read_into_one_context_per_page_view() {
    // pages/documents/WebsiteMonitoring/MonitoringAPI/methods/report.md, "Examples for
    // engagement attributes to report impression events": verbatim.
    let examples = [
        r#"{"type": "impExpanded", "expanded": null, "userInit": null, "actionableItems": null, "campaign": 3115242510, "engId": 3115242810, "revision": 537}"#,
        r#"{"type": "impTimeout", "campaign": 3115242510, "engId": 3115242810, "revision": 537}"#,
        r#"{"type": "impClose", "campaign": 3115242510, "engId": 3115242810, "revision": 537}"#,
    ];
    for example in examples {
        let attr = EngagementAttribute::from_json(&Json::parse(example.as_bytes()).unwrap());
        let Ok(EngagementAttribute::Impression(imp)) = attr else {
            panic!("{example}: {attr:?}")
        };
        assert_eq!(imp.context_id, None);
        assert_eq!(
            imp.to_event("page-7").data.context_id,
            "page-7:3115242510_3115242810_537"
        );
    }
    let EngagementAttribute::Impression(imp) = attribute(&json!({
        "type": "impExpanded", "campaign": 1, "engId": 2, "revision": 3,
        "expanded": true, "userInit": false, "actionableItems": ["chat", "call"]
    }))
    .unwrap() else {
        panic!()
    };
    assert_eq!(imp.context_on("p"), "p:1_2_3");
}

#[test]
fn other_types_are_page_shape_sdes() {
    let attr = attribute(&fixture_value("page/cart.json")).unwrap();
    let EngagementAttribute::Sde(sde) = attr else {
        panic!("a cart is an SDE")
    };
    assert!(matches!(sde, Sde::Cart(_)));
    for (file, _) in PAGE_SDES {
        assert!(
            matches!(
                attribute(&fixture_value(file)),
                Ok(EngagementAttribute::Sde(_))
            ),
            "{file}"
        );
    }
    // Impression type names are case-sensitive: anything else is read as an SDE type.
    let invalid = attribute(&json!({"type": "impdisplay"})).unwrap_err();
    assert_eq!(pointers(&invalid), ["/type"]);
    let invalid = attribute(&json!({"type": "ctmrinfo", "info": {"cstatus": []}})).unwrap_err();
    assert_eq!(pointers(&invalid), ["/info/cstatus"]);
}
