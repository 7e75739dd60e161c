//! docs/vocabulary.md, Values and limits: value sets, the 50,000-character limit,
//! calendar dates, and the input spellings history-shaped input may use (`viewProduct`,
//! `Currency`); what each of them rejects is one table, at the end.

// Helpers unwrap too: in a test, a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::*;
use engage_model::{Channel, ServiceStatus, MAX_VALUE_CHARS};
use serde_json::{json, Value};

// ---- originatingChannel ----

#[test]
fn originating_channels_0_to_6_are_accepted_in_both_shapes_and_come_back_as_strings() {
    for code in 0..=6u64 {
        for given in [json!(code), json!(code.to_string())] {
            let page = history(&json!({"type": "mrktInfo", "info": {"channel": given}}));
            let hist = history(
                &json!({"marketingCampaignInfo": {"marketingCampaignInfo": {"originatingChannel": given}}}),
            );
            for out in [page, hist] {
                assert_string_at(
                    &out,
                    "/marketingCampaignInfo/marketingCampaignInfo/originatingChannel",
                    &code.to_string(),
                );
            }
        }
    }
}

#[test]
fn channel_codes_have_the_documented_names() {
    let labels: Vec<_> = Channel::ALL.iter().map(|c| (c.code(), c.label())).collect();
    assert_eq!(
        labels,
        [
            (0, "Direct"),
            (1, "Search"),
            (2, "Social"),
            (3, "Email"),
            (4, "Referral"),
            (5, "Paid Search"),
            (6, "Display"),
        ]
    );
}

// ---- service status ----

#[test]
fn service_statuses_0_to_13_are_accepted_and_come_back_as_strings() {
    for code in 0..=13u64 {
        for given in [json!(code), json!(code.to_string())] {
            let out = history(&json!({"type": "service", "service": {"status": given}}));
            assert_string_at(
                &out,
                "/serviceActivity/serviceActivity/status",
                &code.to_string(),
            );
            let out = history(&json!({"serviceActivity": {"serviceActivity": {"status": given}}}));
            assert_string_at(
                &out,
                "/serviceActivity/serviceActivity/status",
                &code.to_string(),
            );
        }
    }
}

#[test]
fn service_status_codes_have_the_documented_names() {
    let expected = [
        "Complete",
        "In Progress",
        "Approved",
        "cancelled",
        "Not Approved",
        "Reviewed",
        "Missing Details",
        "Closed",
        "Removed",
        "Assigned",
        "Waiting for Customer Response",
        "Waiting for Response",
        "Pending",
        "Resolved",
    ];
    for (code, label) in expected.iter().enumerate() {
        assert_eq!(
            ServiceStatus::from_code(code as u64).unwrap().label(),
            *label
        );
    }
    assert!(ServiceStatus::from_code(14).is_none());
}

// ---- the 50,000-character limit ----

/// A lead whose topic is `topic`, in page shape.
fn lead(topic: &str) -> Value {
    json!({"type": "lead", "lead": {"topic": topic}})
}

#[test]
fn a_value_of_exactly_50000_characters_is_accepted() {
    for unit in ["a", "é", "€", "😀"] {
        let topic = unit.repeat(MAX_VALUE_CHARS);
        let out = history(&lead(&topic));
        let got = out["lead"]["lead"]["topic"].as_str().unwrap();
        assert_eq!(got.chars().count(), 50_000, "{unit}");
        assert_eq!(got, topic);
    }
}

#[test]
fn the_limit_counts_characters_not_bytes() {
    // 49,999 four-byte characters and one ASCII: 199,997 bytes, 50,000 characters.
    let topic = format!("{}x", "😀".repeat(MAX_VALUE_CHARS - 1));
    assert!(topic.len() > 4 * 49_999);
    history(&lead(&topic));
}

// ---- calendar dates ----

fn payment_date(date: Value) -> Value {
    json!({"type": "ctmrinfo", "info": {"lastPaymentDate": date}})
}

#[test]
fn february_29_is_a_date_in_leap_years() {
    for year in [2024, 2000, 1996] {
        let out = history(&payment_date(json!({"year": year, "month": 2, "day": 29})));
        assert_string_at(&out, "/customerInfo/customerInfo/lastPaymentDate/day", "29");
    }
}

#[test]
fn april_31_is_rejected_and_april_30_accepted() {
    let invalid = parse_err(&payment_date(json!({"year": 2013, "month": 4, "day": 31})));
    assert_eq!(pointers(&invalid), ["/info/lastPaymentDate"]);
    history(&payment_date(json!({"year": 2013, "month": 4, "day": 30})));
}

#[test]
fn date_parts_take_numbers_or_digit_strings_and_come_back_as_plain_strings() {
    let out = history(&payment_date(
        json!({"year": "2014", "month": "03", "day": 7}),
    ));
    assert_eq!(
        out["customerInfo"]["customerInfo"]["lastPaymentDate"],
        json!({"year": "2014", "month": "3", "day": "7"})
    );
}

#[test]
fn a_birth_date_may_be_partial_but_must_be_possible() {
    history(&json!({"type": "personal", "personal": {"age": {"year": 1980}}}));
    history(&json!({"type": "personal", "personal": {"age": {"month": 2, "day": 29}}}));
    let invalid = parse_err(&json!({"type": "personal", "personal": {"age": {"month": 13}}}));
    assert_eq!(pointers(&invalid), ["/personal/age/month"]);
    let invalid =
        parse_err(&json!({"type": "personal", "personal": {"age": {"month": 4, "day": 31}}}));
    assert_eq!(pointers(&invalid), ["/personal/age/day"]);
    let invalid = parse_err(
        &json!({"type": "personal", "personal": {"age": {"year": 2023, "month": 2, "day": 29}}}),
    );
    assert_eq!(pointers(&invalid), ["/personal/age/day"]);
    let invalid = parse_err(
        &json!({"personalInfo": {"personalInfo": {"customerAge": {"customerYearOfBirth": "0"}}}}),
    );
    assert_eq!(
        pointers(&invalid),
        ["/personalInfo/personalInfo/customerAge/customerYearOfBirth"]
    );
}

// ---- input spellings ----

#[test]
fn currency_in_either_key_case_is_accepted_in_both_shapes_and_output_as_currency() {
    let cases = [
        (
            json!({"cartStatus": {"Currency": "USD"}}),
            "/cartStatus/currency",
        ),
        (
            json!({"purchase": {"Currency": "USD"}}),
            "/purchase/currency",
        ),
        (
            json!({"purchase": {"cart": {"Currency": "USD"}}}),
            "/purchase/cart/currency",
        ),
        (
            json!({"viewedProduct": {"Currency": "USD"}}),
            "/viewedProduct/currency",
        ),
        (
            json!({"viewProduct": {"Currency": "USD"}}),
            "/viewedProduct/currency",
        ),
        (
            json!({"customerInfo": {"customerInfo": {"Currency": "USD"}}}),
            "/customerInfo/customerInfo/currency",
        ),
        (
            json!({"lead": {"lead": {"Currency": "USD"}}}),
            "/lead/lead/currency",
        ),
        (
            json!({"type": "cart", "Currency": "USD"}),
            "/cartStatus/currency",
        ),
        (
            json!({"type": "ctmrinfo", "info": {"Currency": "USD"}}),
            "/customerInfo/customerInfo/currency",
        ),
    ];
    for (input, pointer) in cases {
        let out = history(&input);
        assert_string_at(&out, pointer, "USD");
        assert!(!out.to_string().contains("Currency"), "{out}");
    }
}

#[test]
fn alphanumeric_fields_take_strings_and_numbers_but_not_booleans_arrays_or_objects() {
    history(&json!({"type": "cart", "total": "11.7", "numItems": 6}));
    for bad in [json!(true), json!([1]), json!({"v": 1})] {
        let invalid = parse_err(&json!({"type": "cart", "total": bad}));
        assert_eq!(pointers(&invalid), ["/total"], "{bad}");
    }
    // The fields documented as flags also take booleans.
    let out = history(&json!({"type": "error", "error": {"resolved": true}}));
    assert_string_at(&out, "/visitorError/visitorError/resolved", "true");
}

#[test]
fn numbers_come_back_in_their_shortest_exact_form() {
    let out = history(&json!({"type": "cart", "total": 1e21, "numItems": -0, "currency": 0.1}));
    // As JavaScript's `String(1e21)` writes it.
    assert_string_at(&out, "/cartStatus/total", "1e+21");
    assert_string_at(&out, "/cartStatus/numItems", "0");
    assert_string_at(&out, "/cartStatus/currency", "0.1");
    let out = history(
        &json!({"type": "lead", "lead": {"value": 18446744073709551615_u64, "leadId": -9223372036854775808_i64}}),
    );
    assert_string_at(&out, "/lead/lead/value", "18446744073709551615");
    assert_string_at(&out, "/lead/lead/leadId", "-9223372036854775808");
}

// ---- what is rejected, and where ----

const CHANNEL: &[&str] = &["/info/channel"];
const STATUS: &[&str] = &["/service/status"];
const TOPIC: &[&str] = &["/lead/topic"];
const TOPIC_TOO_LONG: &[(&str, Text)] = &[(
    "/lead/topic",
    Text::Is("value is 50001 characters long, at most 50000 are allowed"),
)];
const PAYMENT_DATE: &[&str] = &["/info/lastPaymentDate"];

/// A lead whose topic is `unit` repeated one character past the limit, in page shape.
fn lead_over_the_limit(unit: &str) -> Value {
    lead(&unit.repeat(MAX_VALUE_CHARS + 1))
}

/// SDEs in either shape and where they are rejected.
#[rustfmt::skip]
const REJECTED: &[Rejected] = &[
    // originatingChannel: 0 to 6.
    rejected("channel 7", || json!({"type": "mrktInfo", "info": {"channel": 7}}), CHANNEL)
        .pinning(&[("/info/channel", Text::EndsWith("found 7"))]),
    rejected("originatingChannel \"7\"",
        || json!({"marketingCampaignInfo": {"marketingCampaignInfo": {"originatingChannel": "7"}}}),
        &["/marketingCampaignInfo/marketingCampaignInfo/originatingChannel"]),
    rejected("channel -1", || json!({"type": "mrktInfo", "info": {"channel": -1}}), CHANNEL),
    rejected("channel 1.5", || json!({"type": "mrktInfo", "info": {"channel": 1.5}}), CHANNEL),
    rejected("channel by name",
        || json!({"type": "mrktInfo", "info": {"channel": "Search"}}), CHANNEL),
    rejected("empty channel", || json!({"type": "mrktInfo", "info": {"channel": ""}}), CHANNEL),
    rejected("channel true", || json!({"type": "mrktInfo", "info": {"channel": true}}), CHANNEL),
    rejected("channel in an array",
        || json!({"type": "mrktInfo", "info": {"channel": [1]}}), CHANNEL),
    // Service status: 0 to 13.
    rejected("status 14", || json!({"type": "service", "service": {"status": 14}}), STATUS),
    rejected("status \"14\"",
        || json!({"serviceActivity": {"serviceActivity": {"status": "14"}}}),
        &["/serviceActivity/serviceActivity/status"]),
    rejected("status -1", || json!({"type": "service", "service": {"status": -1}}), STATUS),
    rejected("status by name",
        || json!({"type": "service", "service": {"status": "Complete"}}), STATUS),
    rejected("status 2.5", || json!({"type": "service", "service": {"status": 2.5}}), STATUS),
    // 50,001 characters, whatever their size in bytes.
    rejected("50001 a", || lead_over_the_limit("a"), TOPIC).pinning(TOPIC_TOO_LONG),
    rejected("50001 é", || lead_over_the_limit("é"), TOPIC).pinning(TOPIC_TOO_LONG),
    rejected("50001 €", || lead_over_the_limit("€"), TOPIC).pinning(TOPIC_TOO_LONG),
    rejected("50001 😀", || lead_over_the_limit("😀"), TOPIC).pinning(TOPIC_TOO_LONG),
    // ...in every value of every shape.
    rejected("a keyword over the limit",
        || json!({"type": "searchInfo", "keywords": ["ok", "x".repeat(MAX_VALUE_CHARS + 1)]}),
        &["/keywords/1"]),
    rejected("a product name over the limit",
        || json!({"type": "cart", "products": [{"product": {"name": "x".repeat(MAX_VALUE_CHARS + 1)}}]}),
        &["/products/0/product/name"]),
    rejected("a customer id over the limit",
        || json!({"customerInfo": {"customerInfo": {"customerId": "x".repeat(MAX_VALUE_CHARS + 1)}}}),
        &["/customerInfo/customerInfo/customerId"]),
    rejected("a region over the limit",
        || json!({"type": "personal", "personal": {
            "contacts": [{"address": {"region": "x".repeat(MAX_VALUE_CHARS + 1)}}]
        }}),
        &["/personal/contacts/0/address/region"]),
    // Calendar dates.
    rejected("February 29, 2023",
        || payment_date(json!({"year": 2023, "month": 2, "day": 29})), PAYMENT_DATE)
        .pinning(&[("/info/lastPaymentDate", Text::Is("2023-02-29 is not a calendar date"))]),
    rejected("February 29, 1900",
        || payment_date(json!({"year": 1900, "month": 2, "day": 29})), PAYMENT_DATE)
        .pinning(&[("/info/lastPaymentDate", Text::Is("1900-02-29 is not a calendar date"))]),
    rejected("February 29, 2100",
        || payment_date(json!({"year": 2100, "month": 2, "day": 29})), PAYMENT_DATE)
        .pinning(&[("/info/lastPaymentDate", Text::Is("2100-02-29 is not a calendar date"))]),
    rejected("month 13", || payment_date(json!({"year": 2013, "month": 13, "day": 1})), PAYMENT_DATE),
    rejected("day 0", || payment_date(json!({"year": 2013, "month": 1, "day": 0})), PAYMENT_DATE),
    rejected("month 0", || payment_date(json!({"year": 2013, "month": 0, "day": 1})), PAYMENT_DATE),
    rejected("year 0", || payment_date(json!({"year": 0, "month": 1, "day": 1})), PAYMENT_DATE),
    rejected("registrationDate February 29, 2023",
        || json!({"type": "ctmrinfo", "info": {
            "registrationDate": {"year": "2023", "month": "2", "day": "29"}
        }}),
        &["/info/registrationDate"]),
    rejected("registrationDate April 31 in history shape",
        || json!({"customerInfo": {"customerInfo": {
            "registrationDate": {"year": "2013", "month": "4", "day": "31"}
        }}}),
        &["/customerInfo/customerInfo/registrationDate"]),
    rejected("a date without a day",
        || payment_date(json!({"year": 2014, "month": 3})), &["/info/lastPaymentDate/day"]),
    rejected("a month by name and an hour",
        || payment_date(json!({"year": 2014, "month": "March", "day": 1, "hour": 3})),
        &["/info/lastPaymentDate/month", "/info/lastPaymentDate/hour"]),
    rejected("a date as a string", || payment_date(json!("2014-03-01")), PAYMENT_DATE),
    // Input spellings: `Currency` or `currency`, not both, and no other key case.
    rejected("currency in both key cases",
        || json!({"cartStatus": {"currency": "USD", "Currency": "EUR"}}), &["/cartStatus/Currency"])
        .pinning(&[("/cartStatus/Currency", Text::StartsWith("duplicate member"))]),
    rejected("other key cases",
        || json!({"cartStatus": {"CURRENCY": "USD", "Total": 1}}),
        &["/cartStatus/CURRENCY", "/cartStatus/Total"]),
];

#[test]
fn each_bad_value_is_rejected_at_its_pointer() {
    let mut failures = Vec::new();
    for case in REJECTED {
        case.check(&(case.input)(), &mut failures);
    }
    assert_no_failures(REJECTED.len(), &failures);
}
