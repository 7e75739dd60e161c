//! Every example of the two seed documents, made valid JSON under `tests/fixtures/seed/`
//! (only `//` comments and missing commas fixed), parses, converts to history shape and
//! round-trips; the page-shape fixtures under `tests/fixtures/page/` convert to exactly
//! the seed's history examples.

// Helpers unwrap too: in a test, a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::*;
use engage_model::{Document, Json, Sde, SdeType, Stamps};
use serde_json::{json, Value};

#[test]
fn there_are_twelve_seed_examples_and_ten_page_fixtures() {
    // The lists below drive every other test here: make sure none is silently short.
    assert_eq!(SEED_SDES.len() + SEED_EVENTS.len(), 12);
    let mut keys: Vec<_> = SEED_SDES.iter().map(|(_, key)| *key).collect();
    keys.sort_unstable();
    let mut expected: Vec<_> = SdeType::ALL.iter().map(|t| t.history_key()).collect();
    expected.sort_unstable();
    assert_eq!(keys, expected, "one seed example per SDE type");
    let mut page_types: Vec<_> = PAGE_SDES
        .iter()
        .map(|(file, _)| fixture_value(file)["type"].as_str().unwrap().to_owned())
        .collect();
    page_types.sort_unstable();
    let mut expected: Vec<_> = SdeType::ALL
        .iter()
        .map(|t| t.page_type().to_owned())
        .collect();
    expected.sort_unstable();
    assert_eq!(page_types, expected, "one page fixture per SDE type");
}

#[test]
fn every_seed_example_parses_as_a_document() {
    let mut failures = Vec::new();
    for (file, _) in SEED_SDES.iter().chain(SEED_EVENTS.iter()) {
        if let Err(invalid) = Document::parse(&fixture(file)) {
            failures.push(format!("{file}:\n{invalid}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_page_fixture_parses_as_a_document() {
    let mut failures = Vec::new();
    for (file, _) in PAGE_SDES {
        if let Err(invalid) = Document::parse(&fixture(file)) {
            failures.push(format!("{file}:\n{invalid}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_seed_sde_example_converts_to_history_shape_under_its_history_key() {
    for (file, key) in SEED_SDES {
        let out = canonical(&Document::parse(&fixture(file)).unwrap());
        let events = out["sdes"]["events"].as_array().unwrap();
        assert_eq!(events.len(), 1, "{file}");
        let entry = events[0].as_object().unwrap();
        assert_eq!(
            entry.keys().collect::<Vec<_>>(),
            [key],
            "{file} comes out under `{key}`"
        );
        assert!(
            entry[key].get("serverTimeStamp").is_some(),
            "{file} keeps its serverTimeStamp"
        );
    }
}

#[test]
fn seed_history_examples_come_back_with_every_value_as_a_string() {
    // What a history-shape input turns into: the same tree, numbers as strings, the
    // `Currency` spelling as the documented `currency`, the bare purchase wrapped.
    for (file, _) in SEED_SDES {
        let input = fixture_value(file);
        let wrapped = if input.get("sdes").is_some() {
            input
        } else {
            json!({"sdes": {"events": [input]}})
        };
        let text = serde_json::to_string(&wrapped)
            .unwrap()
            .replace("\"Currency\"", "\"currency\"");
        let expected = stringify_scalars(&serde_json::from_str::<Value>(&text).unwrap());
        let out = canonical(&Document::parse(&fixture(file)).unwrap());
        assert_eq!(out, expected, "{file}");
    }
}

#[test]
fn seed_customer_info_social_id_given_as_a_number_comes_back_as_a_string() {
    let out = canonical(&Document::parse(&fixture("seed/history_customer_info.json")).unwrap());
    assert_string_at(
        &out,
        "/sdes/events/0/customerInfo/customerInfo/socialId",
        "4444",
    );
    assert_string_at(
        &out,
        "/sdes/events/0/customerInfo/customerInfo/currency",
        "USD",
    );
    assert_null_at(&out, "/sdes/events/0/customerInfo/customerInfo/imei");
    assert!(out
        .pointer("/sdes/events/0/customerInfo/customerInfo/Currency")
        .is_none());
}

#[test]
fn the_bare_seed_purchase_example_comes_back_in_an_sdes_events_list() {
    let out = canonical(&Document::parse(&fixture("seed/history_purchase.json")).unwrap());
    assert_string_at(&out, "/sdes/events/0/purchase/orderId", "DRV1534XC");
    assert_string_at(
        &out,
        "/sdes/events/0/purchase/serverTimeStamp",
        "1434394476705",
    );
    assert_string_at(
        &out,
        "/sdes/events/0/purchase/cart/products/0/product/price",
        "7.8",
    );
}

#[test]
fn seed_events_come_back_exactly_as_documented() {
    for (file, name) in SEED_EVENTS {
        let input = fixture_value(file);
        let out = canonical(&Document::parse(&fixture(file)).unwrap());
        assert_eq!(out, input, "{file}");
        assert_eq!(out["eventName"], name);
    }
}

#[test]
fn every_example_round_trips_through_its_canonical_form() {
    let files = SEED_SDES
        .iter()
        .chain(SEED_EVENTS.iter())
        .chain(PAGE_SDES.iter())
        .map(|(file, _)| *file);
    let mut checked = 0;
    for file in files {
        let first = Document::parse(&fixture(file)).unwrap();
        let text = serde_json::to_string(&first).unwrap();
        let second = Document::parse(text.as_bytes())
            .unwrap_or_else(|e| panic!("{file}: canonical output is invalid:\n{e}\n{text}"));
        assert_eq!(
            second, first,
            "{file}: the canonical form parses to the same document"
        );
        let again = serde_json::to_string(&second).unwrap();
        assert_eq!(
            again, text,
            "{file}: serializing again gives identical JSON"
        );
        checked += 1;
    }
    assert_eq!(checked, 22);
}

#[test]
fn each_page_fixture_converts_to_its_seed_history_example() {
    for (page_file, seed_file) in PAGE_SDES {
        let seed = canonical(&Document::parse(&fixture(seed_file)).unwrap());
        let seed_entry = &seed["sdes"]["events"][0];
        let (_, inner) = seed_entry.as_object().unwrap().iter().next().unwrap();
        let stamps = Stamps {
            server_ms: inner["serverTimeStamp"]
                .as_str()
                .map(|s| s.parse().unwrap()),
            original_ms: None,
        };
        let converted = history_with_stamps(&fixture_value(page_file), stamps);
        assert_eq!(&converted, seed_entry, "{page_file} → {seed_file}");
    }
}

#[test]
fn each_page_fixture_parses_to_the_same_sde_as_its_seed_history_example() {
    for (page_file, seed_file) in PAGE_SDES {
        let page_bytes = fixture(page_file);
        let page = Sde::from_page(&Json::parse(&page_bytes).unwrap()).unwrap();
        let Document::Sdes(list) = Document::parse(&fixture(seed_file)).unwrap() else {
            panic!("{seed_file} is not an SDE document")
        };
        assert_eq!(list.len(), 1);
        assert_eq!(page, list[0].0, "{page_file} and {seed_file}");
        assert_eq!(
            page.sde_type().page_type(),
            fixture_value(page_file)["type"]
        );
    }
}

#[test]
fn all_seed_sde_examples_in_one_array_keep_their_order() {
    let all: Vec<Value> = SEED_SDES
        .iter()
        .map(|(file, _)| {
            let v = fixture_value(file);
            match v.pointer("/sdes/events/0") {
                Some(entry) => entry.clone(),
                None => v,
            }
        })
        .collect();
    let out = canonical(&parse_ok(&Value::Array(all)));
    let keys: Vec<_> = out["sdes"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_object().unwrap().keys().next().unwrap().clone())
        .collect();
    let expected: Vec<_> = SEED_SDES.iter().map(|(_, k)| k.to_string()).collect();
    assert_eq!(keys, expected);
}

#[test]
fn page_and_history_fixtures_mixed_in_one_array_are_all_accepted() {
    let mut all: Vec<Value> = PAGE_SDES.iter().map(|(f, _)| fixture_value(f)).collect();
    all.push(fixture_value("seed/history_purchase.json"));
    let out = canonical(&parse_ok(&Value::Array(all)));
    assert_eq!(out["sdes"]["events"].as_array().unwrap().len(), 11);
}
