//! Error reports: unknown fields and duplicate keys at their JSON pointers, and every
//! problem of an input reported at once, in SDEs, lists of SDEs and history documents.

// Helpers unwrap too: in a test, a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::*;
use engage_model::{Document, Invalid};
use serde_json::json;

fn invalid_text(text: &str) -> Invalid {
    match Document::parse(text.as_bytes()) {
        Ok(doc) => panic!("expected invalid: {text} gave {doc:?}"),
        Err(invalid) => invalid,
    }
}

// ---- unknown fields ----

#[test]
fn unknown_fields_are_reported_at_their_pointers_in_page_shape() {
    let cases = [
        (json!({"type": "cart", "colour": "red"}), "/colour"),
        (
            json!({"type": "ctmrinfo", "info": {"colour": "red"}}),
            "/info/colour",
        ),
        (
            json!({"type": "ctmrinfo", "info": {}, "colour": "red"}),
            "/colour",
        ),
        (
            json!({"type": "cart", "products": [{"product": {}}, {"product": {"colour": "red"}}]}),
            "/products/1/product/colour",
        ),
        (
            json!({"type": "cart", "products": [{"colour": "red"}]}),
            "/products/0/colour",
        ),
        (
            json!({"type": "personal", "personal": {"contacts": [{"address": {"city": "x"}}]}}),
            "/personal/contacts/0/address/city",
        ),
        (
            json!({"type": "ctmrinfo", "info": {"lastPaymentDate": {"year": 2014, "month": 1, "day": 1, "hour": 3}}}),
            "/info/lastPaymentDate/hour",
        ),
        (
            json!({"type": "personal", "personal": {"age": {"weeks": 3}}}),
            "/personal/age/weeks",
        ),
        (
            json!({"type": "purchase", "cart": {"colour": "red"}}),
            "/cart/colour",
        ),
    ];
    for (input, pointer) in cases {
        let invalid = parse_err(&input);
        assert_eq!(pointers(&invalid), [pointer], "{input}");
        assert!(
            message_at(&invalid, pointer).starts_with("unknown field"),
            "{invalid}"
        );
    }
}

#[test]
fn unknown_fields_are_reported_at_their_pointers_in_history_shape() {
    let cases = [
        (
            json!({"cartStatus": {"colour": "red"}}),
            "/cartStatus/colour",
        ),
        (
            json!({"customerInfo": {"customerInfo": {}, "colour": "red"}}),
            "/customerInfo/colour",
        ),
        (
            json!({"customerInfo": {"customerInfo": {"colour": "red"}}}),
            "/customerInfo/customerInfo/colour",
        ),
        (
            json!({"personalInfo": {"personalInfo": {"contacts": [{"personalContact": {"fax": 1}}]}}}),
            "/personalInfo/personalInfo/contacts/0/personalContact/fax",
        ),
        (
            json!({"sdes": {"events": [{"lead": {"lead": {}}}, {"lead": {"lead": {"colour": 1}}}]}}),
            "/sdes/events/1/lead/lead/colour",
        ),
    ];
    for (input, pointer) in cases {
        let invalid = parse_err(&input);
        assert_eq!(pointers(&invalid), [pointer], "{input}");
    }
}

#[test]
fn an_unknown_type_or_history_key_is_reported_at_its_pointer() {
    let invalid = parse_err(&json!({"type": "basket"}));
    assert_eq!(pointers(&invalid), ["/type"]);
    assert!(message_at(&invalid, "/type").starts_with("unknown SDE type \"basket\""));
    let invalid = parse_err(&json!({"basketStatus": {}}));
    assert_eq!(pointers(&invalid), ["/basketStatus"]);
    // Page type names are case-sensitive, like the tag's.
    assert_eq!(pointers(&parse_err(&json!({"type": "Cart"}))), ["/type"]);
}

// ---- duplicate keys ----

#[test]
fn duplicate_keys_are_reported_at_their_pointers() {
    let cases = [
        (r#"{"type":"cart","total":1,"total":2}"#, "/total"),
        (r#"{"type":"cart","type":"lead"}"#, "/type"),
        (
            r#"{"type":"ctmrinfo","info":{"cstatus":"a","cstatus":"b"}}"#,
            "/info/cstatus",
        ),
        (
            r#"{"type":"cart","products":[{"product":{"sku":1,"sku":2}}]}"#,
            "/products/0/product/sku",
        ),
        (
            r#"{"cartStatus":{"total":1,"total":2}}"#,
            "/cartStatus/total",
        ),
        (r#"{"lead":{"lead":{}},"lead":{"lead":{}}}"#, "/lead"),
        (
            r#"{"lead":{"serverTimeStamp":"1","serverTimeStamp":"2","lead":{}}}"#,
            "/lead/serverTimeStamp",
        ),
        (
            r#"[{"type":"searchInfo","keywords":[],"keywords":[]}]"#,
            "/0/keywords",
        ),
        // A repeat after other members, and one before the member read first.
        (
            r#"{"type":"cart","numItems":1,"total":5,"numItems":2}"#,
            "/numItems",
        ),
        (
            r#"{"type":"cart","total":1,"currency":"USD","total":2}"#,
            "/total",
        ),
    ];
    for (text, pointer) in cases {
        let invalid = invalid_text(text);
        assert_eq!(pointers(&invalid), [pointer], "{text}");
        assert!(
            message_at(&invalid, pointer).starts_with("duplicate member"),
            "{text}: {invalid}"
        );
    }
}

#[test]
fn a_repeated_unknown_field_is_reported_as_unknown_then_as_a_duplicate() {
    let invalid = invalid_text(r#"{"type":"cart","x":1,"total":2,"x":3}"#);
    assert_eq!(pointers(&invalid), ["/x", "/x"]);
    assert!(invalid.errors[0].message.starts_with("unknown field `x`"));
    assert_eq!(invalid.errors[1].message, "duplicate member `x`");
}

#[test]
fn two_attributes_in_one_history_object_are_reported_at_the_second() {
    let invalid = parse_err(&json!({"cartStatus": {}, "lead": {"lead": {}}}));
    assert_eq!(pointers(&invalid), ["/lead"]);
    let invalid = parse_err(&json!({}));
    assert_eq!(pointers(&invalid), [""]);
}

// ---- everything at once ----

#[test]
fn all_problems_of_a_page_sde_are_reported_at_once() {
    let text = r#"{"type":"ctmrinfo","info":{
        "cstatus":["vip"],
        "balance":true,
        "lastPaymentDate":{"year":2023,"month":2,"day":29},
        "registrationDate":{"year":2013,"month":13,"day":1},
        "customerId":"a","customerId":"b",
        "colour":"red"
    },"extra":1}"#;
    let invalid = invalid_text(text);
    assert_eq!(
        pointers(&invalid),
        [
            "/info/cstatus",
            "/info/balance",
            "/info/lastPaymentDate",
            "/info/registrationDate",
            "/info/customerId",
            "/info/colour",
            "/extra",
        ],
        "{invalid}"
    );
}

#[test]
fn all_problems_of_a_history_sde_are_reported_at_once() {
    let invalid = parse_err(&json!({"personalInfo": {
        "serverTimeStamp": "yesterday",
        "personalInfo": {
            "name": {"first": "J"},
            "customerAge": {"customerMonthOfBirth": 13},
            "contacts": [{"personalContact": {"email": []}}, {"email": "x"}],
        }
    }}));
    assert_eq!(
        pointers(&invalid),
        // In the order the fields are read: the documented field order, then the stamps.
        [
            "/personalInfo/personalInfo/name",
            "/personalInfo/personalInfo/customerAge/customerMonthOfBirth",
            "/personalInfo/personalInfo/contacts/0/personalContact/email",
            "/personalInfo/personalInfo/contacts/1/email",
            "/personalInfo/personalInfo/contacts/1",
            "/personalInfo/serverTimeStamp",
        ],
        "{invalid}"
    );
}

#[test]
fn all_problems_of_a_list_are_reported_with_the_index_of_each_sde() {
    let invalid = parse_err(&json!([
        {"type": "cart", "total": 1},
        {"type": "mrktInfo", "info": {"channel": 9}},
        {"searchContent": {"keywords": "shoes"}},
        {"type": "service", "service": {"status": 14, "topic": {}}},
        {"type": "lead", "lead": {"value": 3}},
        7
    ]));
    assert_eq!(
        pointers(&invalid),
        [
            "/1/info/channel",
            "/2/searchContent/keywords",
            "/3/service/topic",
            "/3/service/status",
            "/5",
        ],
        "{invalid}"
    );
}

#[test]
fn all_problems_of_a_history_document_are_reported_under_sdes_events() {
    let invalid = parse_err(&json!({"sdes": {"events": [
        {"cartStatus": {"total": []}},
        {"lead": {"lead": {}}},
        {"type": "error", "error": {"resolved": {}}}
    ]}}));
    assert_eq!(
        pointers(&invalid),
        [
            "/sdes/events/0/cartStatus/total",
            "/sdes/events/2/error/resolved"
        ]
    );
    let invalid = parse_err(&json!({"sdes": {"events": [], "count": 0}}));
    assert_eq!(pointers(&invalid), ["/sdes/count"]);
    let invalid = parse_err(&json!({"sdes": {}, "next": 1}));
    assert_eq!(pointers(&invalid), ["/sdes/events", "/next"]);
    let invalid = invalid_text(r#"{"sdes":{"events":[],"events":[]}}"#);
    assert_eq!(pointers(&invalid), ["/sdes/events"]);
    assert!(message_at(&invalid, "/sdes/events").starts_with("duplicate member"));
    let invalid = parse_err(&json!({"sdes": {"events": {}}}));
    assert_eq!(pointers(&invalid), ["/sdes/events"]);
}

#[test]
fn messages_print_one_line_per_problem_as_pointer_colon_message() {
    let invalid = parse_err(&json!({"type": "cart", "total": true, "colour": 1}));
    assert_eq!(
        invalid.to_string(),
        "/total: expected a string or a number, found a boolean\n\
         /colour: unknown field `colour`, expected `type`, `total`, `currency`, `numItems` or `products`"
    );
}

#[test]
fn pointers_escape_slash_and_tilde_in_keys() {
    let invalid = parse_err(&json!({"type": "cart", "a/b": 1, "c~d": 2}));
    assert_eq!(pointers(&invalid), ["/a~1b", "/c~0d"]);
}

// ---- not JSON, not an SDE ----

#[test]
fn malformed_json_is_one_problem_at_the_root() {
    for text in [
        "",
        "{",
        "{\"type\":\"cart\",}",
        "[1,2",
        "nul",
        "{} {}",
        "\"\\ud800\"",
    ] {
        let invalid = invalid_text(text);
        assert_eq!(pointers(&invalid), [""], "{text:?}");
        assert!(
            invalid.errors[0].message.starts_with("malformed JSON"),
            "{text:?}"
        );
    }
    let invalid = Document::parse(b"\xff\xfe").unwrap_err();
    assert_eq!(pointers(&invalid), [""]);
}

#[test]
fn a_scalar_document_is_rejected_at_the_root() {
    for value in [json!(null), json!(1), json!("cart"), json!(true)] {
        assert_eq!(pointers(&parse_err(&value)), [""], "{value}");
    }
}

#[test]
fn structure_of_the_wrong_kind_is_reported_with_what_was_found() {
    let invalid = parse_err(&json!({"type": "cart", "products": {"product": {}}}));
    assert_eq!(
        message_at(&invalid, "/products"),
        "expected an array, found an object"
    );
    let invalid = parse_err(&json!({"type": "lead", "lead": []}));
    assert_eq!(
        message_at(&invalid, "/lead"),
        "expected an object, found an array"
    );
    let invalid = parse_err(&json!({"type": "cart", "products": [null]}));
    assert_eq!(
        message_at(&invalid, "/products/0"),
        "expected an object, found null"
    );
}

#[test]
fn an_object_with_too_many_members_is_rejected_without_a_panic() {
    let mut info = serde_json::Map::new();
    for i in 0..100 {
        info.insert(format!("f{i}"), json!(i));
    }
    let invalid = parse_err(&json!({"type": "ctmrinfo", "info": info}));
    assert_eq!(pointers(&invalid), ["/info"]);
}
