//! docs/vocabulary.md, Visit rule, on `VisitSdes`: the same type reported again in one
//! visit merges (`personal`, `ctmrinfo`, `mrktInfo`), appends (`prodView`, `error`,
//! `purchase`, `lead`, `searchInfo`, `service`) or replaces (`cart`); and the state's
//! serialization reads back to the same state.

// Helpers unwrap too: in a test, a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::*;
use engage_model::{Json, RepeatRule, Sde, SdeType, VisitSdes};
use serde_json::{json, Value};

fn sde(page: Value) -> Sde {
    let bytes = serde_json::to_vec(&page).unwrap();
    Sde::from_page(&Json::parse(&bytes).unwrap()).unwrap_or_else(|e| panic!("{e}"))
}

fn visit(reports: &[Value]) -> VisitSdes {
    reports
        .iter()
        .fold(VisitSdes::default(), |state, r| state.with(sde(r.clone())))
}

/// The state in its serialized form, `{"events": [...]}`.
fn state_json(state: &VisitSdes) -> Value {
    serde_json::to_value(state).unwrap()
}

#[test]
fn repeat_rules_are_the_ones_of_spec_3_3() {
    for (page_type, rule) in [
        ("personal", RepeatRule::Merge),
        ("ctmrinfo", RepeatRule::Merge),
        ("mrktInfo", RepeatRule::Merge),
        ("prodView", RepeatRule::Append),
        ("error", RepeatRule::Append),
        ("purchase", RepeatRule::Append),
        ("lead", RepeatRule::Append),
        ("searchInfo", RepeatRule::Append),
        ("service", RepeatRule::Append),
        ("cart", RepeatRule::Replace),
    ] {
        let sde_type = SdeType::from_page_type(page_type).unwrap();
        assert_eq!(sde_type.repeat_rule(), rule, "{page_type}");
    }
}

// ---- merge ----

#[test]
fn personal_reported_again_merges_and_a_later_report_overwrites_only_the_fields_it_carries() {
    let state = visit(&[
        json!({"type": "personal", "personal": {"firstname": "John", "lastname": "Doe", "gender": "MALE"}}),
        json!({"type": "personal", "personal": {"lastname": "Smith", "language": "en-US"}}),
    ]);
    assert_eq!(state.count(SdeType::PersonalInfo), 1);
    assert_eq!(
        state_json(&state)["events"][0],
        json!({"personalInfo": {"personalInfo": {
            "name": "John", "surname": "Smith", "gender": "MALE", "language": "en-US"
        }}})
    );
}

#[test]
fn ctmrinfo_reported_again_merges_and_a_later_report_overwrites_only_the_fields_it_carries() {
    let state = visit(&[
        json!({"type": "ctmrinfo", "info": {"cstatus": "gold", "ctype": "vip", "balance": 10}}),
        json!({"type": "ctmrinfo", "info": {"balance": 20, "lastPaymentDate": {"year": 2014, "month": 10, "day": 15}}}),
        json!({"type": "ctmrinfo", "info": {"ctype": "regular"}}),
    ]);
    assert_eq!(state.count(SdeType::CustomerInfo), 1);
    assert_eq!(
        state_json(&state)["events"][0],
        json!({"customerInfo": {"customerInfo": {
            "customerStatus": "gold", "customerType": "regular", "balance": "20",
            "lastPaymentDate": {"year": "2014", "month": "10", "day": "15"}
        }}})
    );
}

#[test]
fn mrkt_info_reported_again_merges_and_a_later_report_overwrites_only_the_fields_it_carries() {
    let state = visit(&[
        json!({"type": "mrktInfo", "info": {"channel": 1, "affiliate": "Yahoo"}}),
        json!({"type": "mrktInfo", "info": {"campaignId": "spring"}}),
        json!({"type": "mrktInfo", "info": {"channel": "3"}}),
    ]);
    assert_eq!(
        state_json(&state)["events"][0],
        json!({"marketingCampaignInfo": {"marketingCampaignInfo": {
            "originatingChannel": "3", "affiliate": "Yahoo", "campaignId": "spring"
        }}})
    );
}

#[test]
fn a_later_null_is_a_value_it_carries_and_clears_the_field() {
    let state = visit(&[
        json!({"type": "ctmrinfo", "info": {"userName": "user000", "role": "broker"}}),
        json!({"type": "ctmrinfo", "info": {"userName": null}}),
    ]);
    assert_eq!(
        state_json(&state)["events"][0],
        json!({"customerInfo": {"customerInfo": {"userName": null, "role": "broker"}}})
    );
}

#[test]
fn merge_works_property_by_property_so_a_nested_value_is_replaced_whole() {
    // `age` and `contacts` are properties of `personal`: a later one replaces the earlier.
    let state = visit(&[
        json!({"type": "personal", "personal": {"age": {"year": 1980, "month": 4}, "contacts": [{"email": "a@x"}]}}),
        json!({"type": "personal", "personal": {"age": {"age": 44}, "contacts": [{"phone": "1"}]}}),
    ]);
    assert_eq!(
        state_json(&state)["events"][0],
        json!({"personalInfo": {"personalInfo": {
            "customerAge": {"customerAgeInYears": "44"},
            "contacts": [{"personalContact": {"phone": "1"}}]
        }}})
    );
}

// ---- append ----

#[test]
fn each_append_type_reported_twice_keeps_both_reports_in_order() {
    let pairs = [
        (
            json!({"type": "prodView", "products": [{"product": {"sku": "a"}}]}),
            json!({"type": "prodView", "products": [{"product": {"sku": "b"}}]}),
        ),
        (
            json!({"type": "error", "error": {"code": "e1"}}),
            json!({"type": "error", "error": {"code": "e2"}}),
        ),
        (
            json!({"type": "purchase", "orderId": "o1", "total": 1}),
            json!({"type": "purchase", "orderId": "o2"}),
        ),
        (
            json!({"type": "lead", "lead": {"leadId": "l1"}}),
            json!({"type": "lead", "lead": {"leadId": "l2"}}),
        ),
        (
            json!({"type": "searchInfo", "keywords": ["apple"]}),
            json!({"type": "searchInfo", "keywords": ["banana"]}),
        ),
        (
            json!({"type": "service", "service": {"serviceId": "s1", "status": 1}}),
            json!({"type": "service", "service": {"serviceId": "s2"}}),
        ),
    ];
    for (first, second) in pairs {
        let page_type = first["type"].as_str().unwrap().to_owned();
        let sde_type = SdeType::from_page_type(&page_type).unwrap();
        let state = visit(&[first.clone(), second.clone(), first.clone()]);
        assert_eq!(state.count(sde_type), 3, "{page_type}");
        let events = state_json(&state)["events"].clone();
        assert_eq!(
            events,
            json!([history(&first), history(&second), history(&first)]),
            "{page_type}: every report kept as it was, oldest first"
        );
    }
}

// ---- replace ----

#[test]
fn cart_reported_again_replaces_the_whole_cart() {
    let state = visit(&[
        json!({"type": "cart", "total": 11.7, "currency": "USD", "numItems": 2,
               "products": [{"product": {"sku": "a"}, "quantity": 2}]}),
        json!({"type": "cart", "total": 0}),
    ]);
    assert_eq!(state.count(SdeType::Cart), 1);
    assert_eq!(
        state_json(&state),
        json!({"events": [{"cartStatus": {"total": "0"}}]})
    );
    assert_eq!(
        state.cart,
        Some(match sde(json!({"type": "cart", "total": 0})) {
            Sde::Cart(cart) => cart,
            other => panic!("{other:?}"),
        })
    );
}

// ---- the state as a whole ----

#[test]
fn types_do_not_affect_each_other() {
    let state = visit(&[
        json!({"type": "cart", "total": 1}),
        json!({"type": "purchase", "total": 1}),
        json!({"type": "ctmrinfo", "info": {"ctype": "vip"}}),
        json!({"type": "cart", "total": 2}),
        json!({"type": "searchInfo", "keywords": ["x"]}),
    ]);
    let counts: Vec<_> = SdeType::ALL
        .iter()
        .map(|t| (t.page_type(), state.count(*t)))
        .collect();
    assert_eq!(
        counts,
        [
            ("cart", 1),
            ("purchase", 1),
            ("prodView", 0),
            ("ctmrinfo", 1),
            ("mrktInfo", 0),
            ("personal", 0),
            ("lead", 0),
            ("service", 0),
            ("error", 0),
            ("searchInfo", 1),
        ]
    );
    assert!(!state.is_empty());
    assert!(VisitSdes::default().is_empty());
}

#[test]
fn record_and_with_give_the_same_state() {
    let reports = [
        json!({"type": "personal", "personal": {"firstname": "A"}}),
        json!({"type": "personal", "personal": {"lastname": "B"}}),
        json!({"type": "lead", "lead": {"topic": "t"}}),
    ];
    let mut recorded = VisitSdes::default();
    for r in &reports {
        recorded.record(sde(r.clone()));
    }
    assert_eq!(recorded, visit(&reports));
}

/// A visit with every type, merged, appended and replaced.
fn busy_visit() -> VisitSdes {
    let mut reports: Vec<Value> = PAGE_SDES.iter().map(|(f, _)| fixture_value(f)).collect();
    reports.extend([
        json!({"type": "personal", "personal": {"language": "de"}}),
        json!({"type": "ctmrinfo", "info": {"cstatus": "gold", "imei": null}}),
        json!({"type": "mrktInfo", "info": {"channel": 6}}),
        json!({"type": "cart", "total": 3, "products": [{"product": {"sku": "z"}, "quantity": 1}]}),
        json!({"type": "prodView", "currency": "EUR"}),
        json!({"type": "searchInfo", "keywords": ["cherry"]}),
        json!({"type": "lead", "lead": {"leadId": "2"}}),
    ]);
    visit(&reports)
}

#[test]
fn the_serialized_state_reads_back_to_the_same_state() {
    let state = busy_visit();
    let text = serde_json::to_string(&state).unwrap();
    let json = Json::parse_str(&text).unwrap();
    let back = VisitSdes::from_json(&json).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(back, state);
    assert_eq!(
        serde_json::to_string(&back).unwrap(),
        text,
        "identical JSON again"
    );
}

#[test]
fn the_serialized_state_is_history_shape_with_one_entry_per_merged_or_replaced_type() {
    let out = state_json(&busy_visit());
    let keys: Vec<_> = out["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_object().unwrap().keys().next().unwrap().clone())
        .collect();
    let count = |k: &str| keys.iter().filter(|x| *x == k).count();
    assert_eq!(count("cartStatus"), 1);
    assert_eq!(count("customerInfo"), 1);
    assert_eq!(count("marketingCampaignInfo"), 1);
    assert_eq!(count("personalInfo"), 1);
    assert_eq!(count("viewedProduct"), 2);
    assert_eq!(count("searchContent"), 2);
    assert_eq!(count("lead"), 2);
    assert_eq!(count("purchase"), 1);
    assert_eq!(count("serviceActivity"), 1);
    assert_eq!(count("visitorError"), 1);
    assert_eq!(
        out["events"][1]["customerInfo"]["customerInfo"]["customerStatus"],
        json!("gold")
    );
}

#[test]
fn replaying_the_entries_rebuilds_the_same_state() {
    let state = busy_visit();
    let replayed = state
        .entries()
        .into_iter()
        .fold(VisitSdes::default(), VisitSdes::with);
    assert_eq!(replayed, state);
}

#[test]
fn reading_a_state_reports_bad_entries_at_their_pointers() {
    let json = Json::parse_str(
        r#"{"events":[{"cartStatus":{}},{"lead":{"lead":{"x":1}}},{"type":"cart"}]}"#,
    )
    .unwrap();
    let invalid = VisitSdes::from_json(&json).unwrap_err();
    assert_eq!(
        pointers(&invalid),
        ["/events/1/lead/lead/x", "/events/2/type"]
    );
    let invalid = VisitSdes::from_json(&Json::parse_str("[]").unwrap()).unwrap_err();
    assert_eq!(pointers(&invalid), [""]);
}

#[test]
fn reading_a_state_rejects_members_other_than_events() {
    let json = Json::parse_str(r#"{"events":[],"cart":{}}"#).unwrap();
    let invalid = VisitSdes::from_json(&json).unwrap_err();
    assert_eq!(pointers(&invalid), ["/cart"]);
    let invalid = VisitSdes::from_json(&Json::parse_str("{}").unwrap()).unwrap_err();
    assert_eq!(pointers(&invalid), ["/events"]);
    assert!(
        VisitSdes::from_json(&Json::parse_str(r#"{"events":[]}"#).unwrap())
            .unwrap()
            .is_empty()
    );
}
