//! Helpers shared by the integration tests: fixtures, conversion to history shape and
//! reading errors back as lists of JSON pointers.

// Helpers unwrap too: in a test, a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code)]

use std::path::PathBuf;

use engage_model::{Document, Invalid, Json, Sde, Stamps};
use serde_json::Value;

/// The directory holding the test fixtures.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The raw bytes of `tests/fixtures/<name>`.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = fixtures_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The fixture as a `serde_json::Value`.
pub fn fixture_value(name: &str) -> Value {
    serde_json::from_slice(&fixture(name)).unwrap_or_else(|e| panic!("{name} is not JSON: {e}"))
}

/// The seed examples: (file under `seed/`, history key or event name).
pub const SEED_SDES: [(&str, &str); 10] = [
    ("seed/history_cart_status.json", "cartStatus"),
    ("seed/history_customer_info.json", "customerInfo"),
    ("seed/history_lead.json", "lead"),
    (
        "seed/history_marketing_campaign_info.json",
        "marketingCampaignInfo",
    ),
    ("seed/history_personal_info.json", "personalInfo"),
    ("seed/history_purchase.json", "purchase"),
    ("seed/history_service_activity.json", "serviceActivity"),
    ("seed/history_visitor_error.json", "visitorError"),
    ("seed/history_viewed_product.json", "viewedProduct"),
    ("seed/history_search_content.json", "searchContent"),
];

pub const SEED_EVENTS: [(&str, &str); 2] = [
    ("seed/event_start.json", "START"),
    ("seed/event_offer_display.json", "OFFER_DISPLAY"),
];

/// The page-shape fixtures, one per type, matching the seed's history examples:
/// (file under `page/`, the seed file it corresponds to).
pub const PAGE_SDES: [(&str, &str); 10] = [
    ("page/cart.json", "seed/history_cart_status.json"),
    ("page/ctmrinfo.json", "seed/history_customer_info.json"),
    ("page/lead.json", "seed/history_lead.json"),
    (
        "page/mrktInfo.json",
        "seed/history_marketing_campaign_info.json",
    ),
    ("page/personal.json", "seed/history_personal_info.json"),
    ("page/purchase.json", "seed/history_purchase.json"),
    ("page/service.json", "seed/history_service_activity.json"),
    ("page/error.json", "seed/history_visitor_error.json"),
    ("page/prodView.json", "seed/history_viewed_product.json"),
    ("page/searchInfo.json", "seed/history_search_content.json"),
];

/// Parses a document, panicking with every error when it is invalid.
pub fn parse_ok(input: &Value) -> Document {
    let bytes = serde_json::to_vec(input).unwrap();
    Document::parse(&bytes).unwrap_or_else(|e| panic!("expected valid, got:\n{e}\ninput: {input}"))
}

/// The errors a document is rejected with.
pub fn parse_err(input: &Value) -> Invalid {
    let bytes = serde_json::to_vec(input).unwrap();
    match Document::parse(&bytes) {
        Ok(doc) => panic!("expected invalid, got {doc:?}\ninput: {input}"),
        Err(invalid) => invalid,
    }
}

/// The canonical output of a document, as a value.
pub fn canonical(doc: &Document) -> Value {
    serde_json::to_value(doc).unwrap()
}

/// The history shape of one SDE given in either shape: the single entry of
/// `{"sdes": {"events": [...]}}`.
pub fn history(input: &Value) -> Value {
    let out = canonical(&parse_ok(input));
    let events = out
        .pointer("/sdes/events")
        .and_then(Value::as_array)
        .unwrap_or_else(|| panic!("no /sdes/events in {out}"));
    assert_eq!(events.len(), 1, "one SDE in, one out: {out}");
    events[0].clone()
}

/// The history shape of one page-shape SDE with the server's time stamps.
pub fn history_with_stamps(page: &Value, stamps: Stamps) -> Value {
    let bytes = serde_json::to_vec(page).unwrap();
    let json = Json::parse(&bytes).unwrap();
    let sde = Sde::from_page(&json).unwrap_or_else(|e| panic!("{e}\ninput: {page}"));
    serde_json::to_value(sde.to_history(stamps)).unwrap()
}

/// The pointers of every error, in the order reported.
pub fn pointers(invalid: &Invalid) -> Vec<&str> {
    invalid.errors.iter().map(|e| e.path.as_str()).collect()
}

/// The message reported at `pointer` (the first one there).
pub fn message_at<'a>(invalid: &'a Invalid, pointer: &str) -> &'a str {
    invalid
        .errors
        .iter()
        .find(|e| e.path == pointer)
        .map(|e| e.message.as_str())
        .unwrap_or_else(|| panic!("no error at {pointer}: {invalid}"))
}

/// Asserts that `value` holds the string `expected` at `pointer`.
#[track_caller]
pub fn assert_string_at(value: &Value, pointer: &str, expected: &str) {
    match value.pointer(pointer) {
        Some(Value::String(s)) => assert_eq!(s, expected, "at {pointer} in {value}"),
        Some(other) => {
            panic!("expected the string {expected:?} at {pointer}, found {other} in {value}")
        }
        None => panic!("nothing at {pointer} in {value}"),
    }
}

/// Asserts that `value` holds `null` at `pointer`.
#[track_caller]
pub fn assert_null_at(value: &Value, pointer: &str) {
    match value.pointer(pointer) {
        Some(Value::Null) => {}
        Some(other) => panic!("expected null at {pointer}, found {other} in {value}"),
        None => panic!("nothing at {pointer} in {value}"),
    }
}

/// Every scalar leaf of a value with its pointer (empty containers count as leaves).
pub fn leaves(value: &Value) -> Vec<(String, Value)> {
    fn walk(value: &Value, path: &mut String, out: &mut Vec<(String, Value)>) {
        match value {
            Value::Object(map) if !map.is_empty() => {
                for (k, v) in map {
                    let len = path.len();
                    path.push('/');
                    path.push_str(&k.replace('~', "~0").replace('/', "~1"));
                    walk(v, path, out);
                    path.truncate(len);
                }
            }
            Value::Array(items) if !items.is_empty() => {
                for (i, v) in items.iter().enumerate() {
                    let len = path.len();
                    path.push_str(&format!("/{i}"));
                    walk(v, path, out);
                    path.truncate(len);
                }
            }
            other => out.push((path.clone(), other.clone())),
        }
    }
    let mut out = Vec::new();
    walk(value, &mut String::new(), &mut out);
    out
}

/// `value` with every number and boolean turned into its text: what history output
/// makes of an input.
pub fn stringify_scalars(value: &Value) -> Value {
    match value {
        Value::Number(n) => Value::String(n.to_string()),
        Value::Bool(b) => Value::String(b.to_string()),
        Value::Array(items) => Value::Array(items.iter().map(stringify_scalars).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), stringify_scalars(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

// ---- tables of cases ----

/// How an error message must read.
#[derive(Clone, Copy, Debug)]
pub enum Text {
    Is(&'static str),
    StartsWith(&'static str),
    EndsWith(&'static str),
    Contains(&'static str),
}

impl Text {
    pub fn matches(self, text: &str) -> bool {
        match self {
            Text::Is(expected) => text == expected,
            Text::StartsWith(start) => text.starts_with(start),
            Text::EndsWith(end) => text.ends_with(end),
            Text::Contains(part) => text.contains(part),
        }
    }
}

/// A case of a table of rejections: `input` is rejected with errors at exactly
/// `pointers`, in order, and `messages` pins the first message at some of them. What
/// `input` is (a whole document, changes to one) is the table's to say.
pub struct Rejected {
    pub name: &'static str,
    pub input: fn() -> Value,
    pub pointers: &'static [&'static str],
    pub messages: &'static [(&'static str, Text)],
}

pub const fn rejected(
    name: &'static str,
    input: fn() -> Value,
    pointers: &'static [&'static str],
) -> Rejected {
    Rejected {
        name,
        input,
        pointers,
        messages: &[],
    }
}

impl Rejected {
    pub const fn pinning(self, messages: &'static [(&'static str, Text)]) -> Self {
        Rejected { messages, ..self }
    }

    /// Parses `document` as this case's input (built from `self.input`), and adds to
    /// `failures` what is not as the case says, each line naming the case.
    pub fn check(&self, document: &Value, failures: &mut Vec<String>) {
        let bytes = serde_json::to_vec(document).unwrap();
        let invalid = match Document::parse(&bytes) {
            Ok(doc) => {
                let out = serde_json::to_value(&doc).unwrap();
                failures.push(format!("{}: accepted as {out}", self.name));
                return;
            }
            Err(invalid) => invalid,
        };
        if pointers(&invalid) != self.pointers {
            failures.push(format!(
                "{}: errors at {:?}, expected {:?}",
                self.name,
                pointers(&invalid),
                self.pointers
            ));
        }
        for (pointer, text) in self.messages {
            let found = invalid.errors.iter().find(|e| e.path == *pointer);
            if !found.is_some_and(|e| text.matches(&e.message)) {
                failures.push(format!(
                    "{}: message at {pointer} is {:?}, expected {text:?}",
                    self.name,
                    found.map(|e| &e.message)
                ));
            }
        }
    }
}

/// Panics naming every failed case of a table of `total`, when any failed.
#[track_caller]
pub fn assert_no_failures(total: usize, failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} of {total} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
