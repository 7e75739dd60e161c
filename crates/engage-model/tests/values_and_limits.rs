//! docs/vocabulary.md, Values and limits: value sets, the 50,000-character limit,
//! calendar dates, and the input spellings history-shaped input may use (`viewProduct`,
//! `Currency`).

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
fn originating_channel_7_is_rejected_at_its_pointer() {
    let invalid = parse_err(&json!({"type": "mrktInfo", "info": {"channel": 7}}));
    assert_eq!(pointers(&invalid), ["/info/channel"]);
    assert!(message_at(&invalid, "/info/channel").ends_with("found 7"));
    let invalid = parse_err(
        &json!({"marketingCampaignInfo": {"marketingCampaignInfo": {"originatingChannel": "7"}}}),
    );
    assert_eq!(
        pointers(&invalid),
        ["/marketingCampaignInfo/marketingCampaignInfo/originatingChannel"]
    );
}

#[test]
fn originating_channels_that_are_not_codes_are_rejected() {
    for bad in [
        json!(-1),
        json!(1.5),
        json!("Search"),
        json!(""),
        json!(true),
        json!([1]),
    ] {
        let invalid = parse_err(&json!({"type": "mrktInfo", "info": {"channel": bad}}));
        assert_eq!(pointers(&invalid), ["/info/channel"], "{bad}");
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
fn service_status_14_is_rejected_at_its_pointer() {
    let invalid = parse_err(&json!({"type": "service", "service": {"status": 14}}));
    assert_eq!(pointers(&invalid), ["/service/status"]);
    let invalid = parse_err(&json!({"serviceActivity": {"serviceActivity": {"status": "14"}}}));
    assert_eq!(
        pointers(&invalid),
        ["/serviceActivity/serviceActivity/status"]
    );
    for bad in [json!(-1), json!("Complete"), json!(2.5)] {
        let invalid = parse_err(&json!({"type": "service", "service": {"status": bad}}));
        assert_eq!(pointers(&invalid), ["/service/status"], "{bad}");
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
fn a_value_of_50001_characters_is_rejected_at_its_pointer() {
    for unit in ["a", "é", "€", "😀"] {
        let invalid = parse_err(&lead(&unit.repeat(MAX_VALUE_CHARS + 1)));
        assert_eq!(pointers(&invalid), ["/lead/topic"], "{unit}");
        assert_eq!(
            message_at(&invalid, "/lead/topic"),
            "value is 50001 characters long, at most 50000 are allowed"
        );
    }
}

#[test]
fn the_limit_counts_characters_not_bytes() {
    // 49,999 four-byte characters and one ASCII: 199,997 bytes, 50,000 characters.
    let topic = format!("{}x", "😀".repeat(MAX_VALUE_CHARS - 1));
    assert!(topic.len() > 4 * 49_999);
    history(&lead(&topic));
}

#[test]
fn the_limit_applies_to_every_value_in_every_shape() {
    let over = "x".repeat(MAX_VALUE_CHARS + 1);
    let cases = [
        (
            json!({"type": "searchInfo", "keywords": ["ok", over]}),
            "/keywords/1",
        ),
        (
            json!({"type": "cart", "products": [{"product": {"name": over}}]}),
            "/products/0/product/name",
        ),
        (
            json!({"customerInfo": {"customerInfo": {"customerId": over}}}),
            "/customerInfo/customerInfo/customerId",
        ),
        (
            json!({"type": "personal", "personal": {"contacts": [{"address": {"region": over}}]}}),
            "/personal/contacts/0/address/region",
        ),
    ];
    for (input, pointer) in cases {
        assert_eq!(pointers(&parse_err(&input)), [pointer]);
    }
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
fn february_29_is_rejected_in_other_years() {
    for year in [2023, 1900, 2100] {
        let invalid = parse_err(&payment_date(json!({"year": year, "month": 2, "day": 29})));
        assert_eq!(pointers(&invalid), ["/info/lastPaymentDate"], "{year}");
        assert_eq!(
            message_at(&invalid, "/info/lastPaymentDate"),
            format!("{year}-02-29 is not a calendar date")
        );
    }
}

#[test]
fn month_13_is_rejected() {
    let invalid = parse_err(&payment_date(json!({"year": 2013, "month": 13, "day": 1})));
    assert_eq!(pointers(&invalid), ["/info/lastPaymentDate"]);
}

#[test]
fn april_31_is_rejected_and_april_30_accepted() {
    let invalid = parse_err(&payment_date(json!({"year": 2013, "month": 4, "day": 31})));
    assert_eq!(pointers(&invalid), ["/info/lastPaymentDate"]);
    history(&payment_date(json!({"year": 2013, "month": 4, "day": 30})));
}

#[test]
fn day_0_month_0_and_year_0_are_rejected() {
    for date in [
        json!({"year": 2013, "month": 1, "day": 0}),
        json!({"year": 2013, "month": 0, "day": 1}),
        json!({"year": 0, "month": 1, "day": 1}),
    ] {
        let invalid = parse_err(&payment_date(date.clone()));
        assert_eq!(pointers(&invalid), ["/info/lastPaymentDate"], "{date}");
    }
}

#[test]
fn registration_date_is_checked_like_last_payment_date() {
    let invalid = parse_err(&json!({"type": "ctmrinfo", "info": {
        "registrationDate": {"year": "2023", "month": "2", "day": "29"}
    }}));
    assert_eq!(pointers(&invalid), ["/info/registrationDate"]);
    let invalid = parse_err(&json!({"customerInfo": {"customerInfo": {
        "registrationDate": {"year": "2013", "month": "4", "day": "31"}
    }}}));
    assert_eq!(
        pointers(&invalid),
        ["/customerInfo/customerInfo/registrationDate"]
    );
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
fn a_date_missing_a_part_or_with_a_bad_part_is_rejected_at_the_part() {
    let invalid = parse_err(&payment_date(json!({"year": 2014, "month": 3})));
    assert_eq!(pointers(&invalid), ["/info/lastPaymentDate/day"]);
    let invalid = parse_err(&payment_date(
        json!({"year": 2014, "month": "March", "day": 1, "hour": 3}),
    ));
    assert_eq!(
        pointers(&invalid),
        ["/info/lastPaymentDate/month", "/info/lastPaymentDate/hour"]
    );
    let invalid = parse_err(&payment_date(json!("2014-03-01")));
    assert_eq!(pointers(&invalid), ["/info/lastPaymentDate"]);
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
fn currency_given_in_both_key_cases_is_a_duplicate() {
    let invalid = parse_err(&json!({"cartStatus": {"currency": "USD", "Currency": "EUR"}}));
    assert_eq!(pointers(&invalid), ["/cartStatus/Currency"]);
    assert!(message_at(&invalid, "/cartStatus/Currency").starts_with("duplicate member"));
}

#[test]
fn other_key_cases_are_not_guessed() {
    let invalid = parse_err(&json!({"cartStatus": {"CURRENCY": "USD", "Total": 1}}));
    assert_eq!(
        pointers(&invalid),
        ["/cartStatus/CURRENCY", "/cartStatus/Total"]
    );
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
