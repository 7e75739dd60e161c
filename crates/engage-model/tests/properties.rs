//! Property tests of the model's conversions:
//!
//! (a) page → history conversion never loses a field: every leaf of an arbitrary valid
//!     page-shape SDE lands, as a string (or null), at the place the rename table below
//!     says, and nothing else is in the output;
//! (b) canonical output re-parses to the same value and serializes to identical JSON,
//!     for SDEs (alone, in lists, in history shape with time stamps) and for events;
//! (c) nothing panics on arbitrary JSON, mutated valid documents or arbitrary bytes, and
//!     every rejection says where (a pointer into the input) and why;
//! (d) `Json::parse` accepts exactly what serde_json accepts, reads the same values, and
//!     reads every float exactly.

// Helpers unwrap too: in a test, a panic is the failure report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::*;
use engage_model::{
    Document, EngagementAttribute, Invalid, Json, Node, OfferEvent, OfferEventName, Sde, Stamps,
    Tape, VisitSdes,
};
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{json, Map, Value};

// ---------------------------------------------------------------------------------------
// The rename table: every leaf a page-shape SDE can have, and where history puts it.
// `#` stands for an array index (the same indices, in order, on both sides).
// ---------------------------------------------------------------------------------------

/// How a leaf's value is written in history.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// As written: strings unchanged, numbers in their JSON text, booleans as words.
    Text,
    /// An integer code or date part: its decimal value (`"007"` → `"7"`).
    Code,
}

use Kind::{Code, Text};

/// The leaves of a product list, relative to the list: the same names in both shapes.
const PRODUCT_LIST: &[(&str, Kind)] = &[
    ("", Text),
    ("/#", Text),
    ("/#/quantity", Text),
    ("/#/product", Text),
    ("/#/product/name", Text),
    ("/#/product/category", Text),
    ("/#/product/sku", Text),
    ("/#/product/price", Text),
    ("/#/product/statusInStock", Text),
    ("/#/product/quantityInStock", Text),
];

/// (page type, page path, history path, kind), product lists left to [`PRODUCT_LISTS`].
#[rustfmt::skip]
const RENAMES: &[(&str, &str, &str, Kind)] = &[
    ("cart", "/total", "/cartStatus/total", Text),
    ("cart", "/currency", "/cartStatus/currency", Text),
    ("cart", "/Currency", "/cartStatus/currency", Text),
    ("cart", "/numItems", "/cartStatus/numItems", Text),
    ("purchase", "/total", "/purchase/total", Text),
    ("purchase", "/currency", "/purchase/currency", Text),
    ("purchase", "/Currency", "/purchase/currency", Text),
    ("purchase", "/orderId", "/purchase/orderId", Text),
    ("purchase", "/cart", "/purchase/cart", Text),
    ("purchase", "/cart/total", "/purchase/cart/total", Text),
    ("purchase", "/cart/currency", "/purchase/cart/currency", Text),
    ("purchase", "/cart/Currency", "/purchase/cart/currency", Text),
    ("purchase", "/cart/numItems", "/purchase/cart/numItems", Text),
    ("prodView", "/currency", "/viewedProduct/currency", Text),
    ("prodView", "/Currency", "/viewedProduct/currency", Text),
    ("ctmrinfo", "/info", "/customerInfo/customerInfo", Text),
    ("ctmrinfo", "/info/cstatus", "/customerInfo/customerInfo/customerStatus", Text),
    ("ctmrinfo", "/info/ctype", "/customerInfo/customerInfo/customerType", Text),
    ("ctmrinfo", "/info/balance", "/customerInfo/customerInfo/balance", Text),
    ("ctmrinfo", "/info/currency", "/customerInfo/customerInfo/currency", Text),
    ("ctmrinfo", "/info/Currency", "/customerInfo/customerInfo/currency", Text),
    ("ctmrinfo", "/info/customerId", "/customerInfo/customerInfo/customerId", Text),
    ("ctmrinfo", "/info/socialId", "/customerInfo/customerInfo/socialId", Text),
    ("ctmrinfo", "/info/imei", "/customerInfo/customerInfo/imei", Text),
    ("ctmrinfo", "/info/userName", "/customerInfo/customerInfo/userName", Text),
    ("ctmrinfo", "/info/companySize", "/customerInfo/customerInfo/companySize", Text),
    ("ctmrinfo", "/info/companyBranch", "/customerInfo/customerInfo/companyBranch", Text),
    ("ctmrinfo", "/info/accountName", "/customerInfo/customerInfo/accountName", Text),
    ("ctmrinfo", "/info/role", "/customerInfo/customerInfo/role", Text),
    ("ctmrinfo", "/info/lastPaymentDate", "/customerInfo/customerInfo/lastPaymentDate", Text),
    ("ctmrinfo", "/info/lastPaymentDate/year", "/customerInfo/customerInfo/lastPaymentDate/year", Code),
    ("ctmrinfo", "/info/lastPaymentDate/month", "/customerInfo/customerInfo/lastPaymentDate/month", Code),
    ("ctmrinfo", "/info/lastPaymentDate/day", "/customerInfo/customerInfo/lastPaymentDate/day", Code),
    ("ctmrinfo", "/info/registrationDate", "/customerInfo/customerInfo/registrationDate", Text),
    ("ctmrinfo", "/info/registrationDate/year", "/customerInfo/customerInfo/registrationDate/year", Code),
    ("ctmrinfo", "/info/registrationDate/month", "/customerInfo/customerInfo/registrationDate/month", Code),
    ("ctmrinfo", "/info/registrationDate/day", "/customerInfo/customerInfo/registrationDate/day", Code),
    ("ctmrinfo", "/info/loginStatus", "/customerInfo/customerInfo/loginStatus", Text),
    ("ctmrinfo", "/info/storeZipCode", "/customerInfo/customerInfo/storeZipCode", Text),
    ("ctmrinfo", "/info/storeNumber", "/customerInfo/customerInfo/storeNumber", Text),
    ("mrktInfo", "/info", "/marketingCampaignInfo/marketingCampaignInfo", Text),
    ("mrktInfo", "/info/channel", "/marketingCampaignInfo/marketingCampaignInfo/originatingChannel", Code),
    ("mrktInfo", "/info/affiliate", "/marketingCampaignInfo/marketingCampaignInfo/affiliate", Text),
    ("mrktInfo", "/info/campaignId", "/marketingCampaignInfo/marketingCampaignInfo/campaignId", Text),
    ("personal", "/personal", "/personalInfo/personalInfo", Text),
    ("personal", "/personal/firstname", "/personalInfo/personalInfo/name", Text),
    ("personal", "/personal/lastname", "/personalInfo/personalInfo/surname", Text),
    ("personal", "/personal/age", "/personalInfo/personalInfo/customerAge", Text),
    ("personal", "/personal/age/age", "/personalInfo/personalInfo/customerAge/customerAgeInYears", Text),
    ("personal", "/personal/age/year", "/personalInfo/personalInfo/customerAge/customerYearOfBirth", Text),
    ("personal", "/personal/age/month", "/personalInfo/personalInfo/customerAge/customerMonthOfBirth", Text),
    ("personal", "/personal/age/day", "/personalInfo/personalInfo/customerAge/customerDateOfBirth", Text),
    ("personal", "/personal/contacts", "/personalInfo/personalInfo/contacts", Text),
    ("personal", "/personal/contacts/#", "/personalInfo/personalInfo/contacts/#/personalContact", Text),
    ("personal", "/personal/contacts/#/email", "/personalInfo/personalInfo/contacts/#/personalContact/email", Text),
    ("personal", "/personal/contacts/#/phone", "/personalInfo/personalInfo/contacts/#/personalContact/phone", Text),
    ("personal", "/personal/contacts/#/phoneType", "/personalInfo/personalInfo/contacts/#/personalContact/phoneType", Text),
    ("personal", "/personal/contacts/#/address", "/personalInfo/personalInfo/contacts/#/personalContact/address", Text),
    ("personal", "/personal/contacts/#/address/country", "/personalInfo/personalInfo/contacts/#/personalContact/address/country", Text),
    ("personal", "/personal/contacts/#/address/region", "/personalInfo/personalInfo/contacts/#/personalContact/address/region", Text),
    ("personal", "/personal/gender", "/personalInfo/personalInfo/gender", Text),
    ("personal", "/personal/company", "/personalInfo/personalInfo/company", Text),
    ("personal", "/personal/language", "/personalInfo/personalInfo/language", Text),
    ("lead", "/lead", "/lead/lead", Text),
    ("lead", "/lead/topic", "/lead/lead/topic", Text),
    ("lead", "/lead/value", "/lead/lead/value", Text),
    ("lead", "/lead/currency", "/lead/lead/currency", Text),
    ("lead", "/lead/Currency", "/lead/lead/currency", Text),
    ("lead", "/lead/leadId", "/lead/lead/leadId", Text),
    ("service", "/service", "/serviceActivity/serviceActivity", Text),
    ("service", "/service/topic", "/serviceActivity/serviceActivity/topic", Text),
    ("service", "/service/status", "/serviceActivity/serviceActivity/status", Code),
    ("service", "/service/category", "/serviceActivity/serviceActivity/category", Text),
    ("service", "/service/serviceId", "/serviceActivity/serviceActivity/serviceId", Text),
    ("error", "/error", "/visitorError/visitorError", Text),
    ("error", "/error/contextId", "/visitorError/visitorError/contextId", Text),
    ("error", "/error/message", "/visitorError/visitorError/message", Text),
    ("error", "/error/code", "/visitorError/visitorError/code", Text),
    ("error", "/error/level", "/visitorError/visitorError/level", Text),
    ("error", "/error/resolved", "/visitorError/visitorError/resolved", Text),
    ("searchInfo", "/keywords", "/searchContent/keywords", Text),
    ("searchInfo", "/keywords/#", "/searchContent/keywords/#", Text),
];

/// Where the product lists are: (page type, page path, history path).
const PRODUCT_LISTS: &[(&str, &str, &str)] = &[
    ("cart", "/products", "/cartStatus/products"),
    ("purchase", "/cart/products", "/purchase/cart/products"),
    ("prodView", "/products", "/viewedProduct/products"),
];

/// The history path and kind of the leaf at `page_path` of a `page_type` SDE.
fn history_path(page_type: &str, page_path: &str) -> Option<(String, Kind)> {
    let mut indices = Vec::new();
    let template: String = page_path
        .split('/')
        .skip(1)
        .map(|segment| {
            if segment.bytes().all(|b| b.is_ascii_digit()) {
                indices.push(segment.to_owned());
                "/#".to_owned()
            } else {
                format!("/{segment}")
            }
        })
        .collect();
    let found = RENAMES
        .iter()
        .find(|(t, page, _, _)| *t == page_type && *page == template)
        .map(|(_, _, history, kind)| (history.to_string(), *kind))
        .or_else(|| {
            PRODUCT_LISTS.iter().find_map(|(t, page, history)| {
                let rest = template.strip_prefix(page).filter(|_| *t == page_type)?;
                PRODUCT_LIST
                    .iter()
                    .find(|(suffix, _)| *suffix == rest)
                    .map(|(suffix, kind)| (format!("{history}{suffix}"), *kind))
            })
        })?;
    let (template, kind) = found;
    let mut indices = indices.into_iter();
    let path = template
        .split('/')
        .skip(1)
        .map(|segment| match segment {
            "#" => indices.next().unwrap_or_default(),
            other => other.to_owned(),
        })
        .fold(String::new(), |path, segment| path + "/" + &segment);
    Some((path, kind))
}

/// What history makes of an input leaf.
fn expected_leaf(value: &Value, kind: Kind) -> Value {
    match (value, kind) {
        (Value::Null, _) => Value::Null,
        (Value::String(s), Kind::Text) => Value::String(s.clone()),
        (Value::String(s), Kind::Code) => Value::String(
            s.parse::<u64>()
                .expect("codes are generated as digits")
                .to_string(),
        ),
        (Value::Number(n), Kind::Text) => Value::String(n.to_string()),
        (Value::Number(n), Kind::Code) => Value::String(n.as_u64().unwrap().to_string()),
        (Value::Bool(b), _) => Value::String(b.to_string()),
        // Empty containers: the same empty container.
        (other, _) => other.clone(),
    }
}

// ---------------------------------------------------------------------------------------
// Generators of valid page-shape SDEs
// ---------------------------------------------------------------------------------------

/// An alphanumeric value: any string, or any JSON number.
fn text() -> BoxedStrategy<Value> {
    prop_oneof![
        4 => "(?s).{0,12}".prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
        1 => any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f).map(Value::Number)),
        1 => (-1000i64..1000, 0u32..4).prop_map(|(m, e)| json!(m as f64 / 10f64.powi(e as i32))),
    ]
    .boxed()
}

/// A field that may also be `null`.
fn nullable(value: BoxedStrategy<Value>) -> BoxedStrategy<Value> {
    prop_oneof![1 => Just(Value::Null), 6 => value].boxed()
}

/// Alphanumeric or boolean (`statusInStock`, `loginStatus`, `resolved`).
fn flag() -> BoxedStrategy<Value> {
    prop_oneof![3 => text(), 1 => any::<bool>().prop_map(Value::from)].boxed()
}

/// A code in `0..=max`, as a number or as a string of at most three digits.
fn code(max: u64) -> BoxedStrategy<Value> {
    (0..=max, 0..3usize)
        .prop_map(|(n, form)| match form {
            0 => json!(n),
            1 => json!(n.to_string()),
            _ => json!(format!("{n:0>3}")),
        })
        .boxed()
}

/// A number or a digit string (with leading zeros sometimes).
fn digits(n: u64, form: usize) -> Value {
    match form {
        0 => json!(n),
        1 => json!(n.to_string()),
        _ => json!(format!("{n:0>4}")),
    }
}

/// A real calendar date.
fn date() -> BoxedStrategy<Value> {
    (1..=9999u64, 1..=12u64, 0..3usize, 0..3usize, 0..3usize)
        .prop_flat_map(|(year, month, fy, fm, fd)| {
            let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
            let days: u64 = match month {
                2 if leap => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            (1..=days).prop_map(move |day| {
                json!({"year": digits(year, fy), "month": digits(month, fm), "day": digits(day, fd)})
            })
        })
        .boxed()
}

/// An object with a random subset of `fields`; each field lists its accepted spellings.
fn object(fields: Vec<(&'static [&'static str], BoxedStrategy<Value>)>) -> BoxedStrategy<Value> {
    let members: Vec<BoxedStrategy<Option<(String, Value)>>> = fields
        .into_iter()
        .map(|(names, value)| {
            (prop::option::of(value), 0..names.len())
                .prop_map(move |(v, i)| v.map(|v| (names[i].to_owned(), v)))
                .boxed()
        })
        .collect();
    members
        .prop_map(|members| Value::Object(members.into_iter().flatten().collect()))
        .boxed()
}

/// Adds `"type": page_type` to a generated object.
fn typed(page_type: &'static str, body: BoxedStrategy<Value>) -> BoxedStrategy<Value> {
    body.prop_map(move |mut v| {
        v.as_object_mut()
            .unwrap()
            .insert("type".into(), json!(page_type));
        v
    })
    .boxed()
}

fn wrapped(
    page_type: &'static str,
    key: &'static str,
    body: BoxedStrategy<Value>,
) -> BoxedStrategy<Value> {
    body.prop_map(move |body| json!({"type": page_type, key: body}))
        .boxed()
}

const CURRENCY: &[&str] = &["currency", "Currency"];

fn products() -> BoxedStrategy<Value> {
    let product = object(vec![
        (&["name"], nullable(text())),
        (&["category"], nullable(text())),
        (&["sku"], nullable(text())),
        (&["price"], nullable(text())),
        (&["statusInStock"], nullable(flag())),
        (&["quantityInStock"], nullable(text())),
    ]);
    let line = object(vec![
        (&["product"], nullable(product)),
        (&["quantity"], nullable(text())),
    ]);
    nullable(
        prop::collection::vec(line, 0..3)
            .prop_map(Value::Array)
            .boxed(),
    )
}

fn cart_fields() -> Vec<(&'static [&'static str], BoxedStrategy<Value>)> {
    vec![
        (&["total"], nullable(text())),
        (CURRENCY, nullable(text())),
        (&["numItems"], nullable(text())),
        (&["products"], products()),
    ]
}

fn cart() -> BoxedStrategy<Value> {
    typed("cart", object(cart_fields()))
}

fn purchase() -> BoxedStrategy<Value> {
    typed(
        "purchase",
        object(vec![
            (&["total"], nullable(text())),
            (CURRENCY, nullable(text())),
            (&["orderId"], nullable(text())),
            (&["cart"], nullable(object(cart_fields()))),
        ]),
    )
}

fn prod_view() -> BoxedStrategy<Value> {
    typed(
        "prodView",
        object(vec![
            (CURRENCY, nullable(text())),
            (&["products"], products()),
        ]),
    )
}

fn ctmrinfo() -> BoxedStrategy<Value> {
    let t = || nullable(text());
    wrapped(
        "ctmrinfo",
        "info",
        object(vec![
            (&["cstatus"], t()),
            (&["ctype"], t()),
            (&["balance"], t()),
            (CURRENCY, t()),
            (&["customerId"], t()),
            (&["socialId"], t()),
            (&["imei"], t()),
            (&["userName"], t()),
            (&["companySize"], t()),
            (&["companyBranch"], t()),
            (&["accountName"], t()),
            (&["role"], t()),
            (&["lastPaymentDate"], nullable(date())),
            (&["registrationDate"], nullable(date())),
            (&["loginStatus"], nullable(flag())),
            (&["storeZipCode"], t()),
            (&["storeNumber"], t()),
        ]),
    )
}

fn mrkt_info() -> BoxedStrategy<Value> {
    wrapped(
        "mrktInfo",
        "info",
        object(vec![
            (&["channel"], nullable(code(6))),
            (&["affiliate"], nullable(text())),
            (&["campaignId"], nullable(text())),
        ]),
    )
}

fn personal() -> BoxedStrategy<Value> {
    let t = || nullable(text());
    let age = object(vec![
        (&["age"], t()),
        (
            &["year"],
            (1..=9999u64, 0..2usize)
                .prop_map(|(n, f)| digits(n, f))
                .boxed(),
        ),
        (
            &["month"],
            (1..=12u64, 0..3usize)
                .prop_map(|(n, f)| digits(n, f))
                .boxed(),
        ),
        (
            &["day"],
            (1..=28u64, 0..3usize)
                .prop_map(|(n, f)| digits(n, f))
                .boxed(),
        ),
    ]);
    let address = object(vec![(&["country"], t()), (&["region"], t())]);
    let contact = object(vec![
        (&["email"], t()),
        (&["phone"], t()),
        (&["phoneType"], t()),
        (&["address"], nullable(address)),
    ]);
    wrapped(
        "personal",
        "personal",
        object(vec![
            (&["firstname"], t()),
            (&["lastname"], t()),
            (&["age"], nullable(age)),
            (
                &["contacts"],
                nullable(
                    prop::collection::vec(contact, 0..3)
                        .prop_map(Value::Array)
                        .boxed(),
                ),
            ),
            (&["gender"], t()),
            (&["company"], t()),
            (&["language"], t()),
        ]),
    )
}

fn lead() -> BoxedStrategy<Value> {
    let t = || nullable(text());
    wrapped(
        "lead",
        "lead",
        object(vec![
            (&["topic"], t()),
            (&["value"], t()),
            (CURRENCY, t()),
            (&["leadId"], t()),
        ]),
    )
}

fn service() -> BoxedStrategy<Value> {
    let t = || nullable(text());
    wrapped(
        "service",
        "service",
        object(vec![
            (&["topic"], t()),
            (&["status"], nullable(code(13))),
            (&["category"], t()),
            (&["serviceId"], t()),
        ]),
    )
}

fn error() -> BoxedStrategy<Value> {
    let t = || nullable(text());
    wrapped(
        "error",
        "error",
        object(vec![
            (&["contextId"], t()),
            (&["message"], t()),
            (&["code"], t()),
            (&["level"], t()),
            (&["resolved"], nullable(flag())),
        ]),
    )
}

fn search_info() -> BoxedStrategy<Value> {
    typed(
        "searchInfo",
        object(vec![(
            &["keywords"],
            nullable(
                prop::collection::vec(text(), 0..4)
                    .prop_map(Value::Array)
                    .boxed(),
            ),
        )]),
    )
}

/// Any valid page-shape SDE, of any of the ten types.
fn page_sde() -> BoxedStrategy<Value> {
    prop_oneof![
        cart(),
        purchase(),
        prod_view(),
        ctmrinfo(),
        mrkt_info(),
        personal(),
        lead(),
        service(),
        error(),
        search_info(),
    ]
    .boxed()
}

fn stamps() -> impl Strategy<Value = Stamps> {
    (
        prop::option::of(any::<u64>()),
        prop::option::of(0..4_102_444_800_000u64),
    )
        .prop_map(|(server_ms, original_ms)| Stamps {
            server_ms,
            original_ms,
        })
}

// ---------------------------------------------------------------------------------------
// Generator of valid LP_OFFERS events
// ---------------------------------------------------------------------------------------

const EVENT_NAMES: [&str; 7] = [
    "START",
    "OFFER_DISPLAY",
    "OFFER_IMPRESSION",
    "OFFER_CLICK",
    "OFFER_DECLINED",
    "OFFER_TIMEOUT",
    "OFFER_REMOVE",
];

/// An id as the tag might send it: a number or a digit string.
fn id_value(n: u64, as_string: bool) -> Value {
    if as_string {
        json!(n.to_string())
    } else {
        json!(n)
    }
}

/// A valid event, and the ids it stands for: (event, [campaign, engagement, revision]).
fn event() -> impl Strategy<Value = (Value, [u64; 3])> {
    let ids = (any::<u64>(), any::<u64>(), 0..1000u64, any::<[bool; 3]>());
    let contexts = (
        prop_oneof![
            "(?s).{1,12}".prop_map(Value::from),
            any::<u32>().prop_map(Value::from)
        ],
        prop_oneof![
            "[a-z0-9-]{1,12}".prop_map(Value::from),
            any::<u64>().prop_map(Value::from)
        ],
        any::<[bool; 4]>(),
    );
    let optional = (
        prop::option::of((any::<u64>(), any::<bool>())),
        prop::option::of(prop::sample::select(vec![1u64, 2, 4])),
        prop::option::of("(?s).{0,12}"),
        prop::option::of(any::<bool>()),
        prop::option::of("(?s).{0,24}"),
    );
    (
        0..EVENT_NAMES.len(),
        ids,
        prop::sample::select(vec![0u64, 1, 2, 3, 5, 6]),
        contexts,
        optional,
    )
        .prop_map(
            |(name, (c, e, r, as_string), etype, (ctx, page, flags), optional)| {
                let (zone, state, tgl, done, engagement_name) = optional;
                let engagement_key = if flags[0] {
                    "EngagementContext"
                } else {
                    "engagementContext"
                };
                let page_key = if flags[1] {
                    "pageContext"
                } else {
                    "PageContext"
                };
                let mut contexts = vec![
                    json!({engagement_key: {"id": ctx.clone()}}),
                    json!({page_key: {"id": page}}),
                ];
                if flags[2] {
                    contexts.reverse();
                }
                // contextId equals the engagement context id; a numeric one may come either way.
                let context_id = match &ctx {
                    Value::Number(n) if flags[3] => json!(n.to_string()),
                    other => other.clone(),
                };
                let mut data = Map::new();
                data.insert("contexts".into(), Value::Array(contexts));
                data.insert("campaignId".into(), id_value(c, as_string[0]));
                data.insert("engagementId".into(), id_value(e, as_string[1]));
                data.insert("engagementRevision".into(), id_value(r, as_string[2]));
                data.insert("engagementType".into(), json!(etype));
                data.insert("contextId".into(), context_id);
                data.insert("confKey".into(), json!(format!("{c}_{e}_{r}")));
                if let Some((zone, as_string)) = zone {
                    data.insert("zoneId".into(), id_value(zone, as_string));
                }
                if let Some(state) = state {
                    data.insert("state".into(), json!(state));
                }
                if let Some(tgl) = tgl {
                    data.insert("tglName".into(), json!(tgl));
                }
                if let Some(done) = done {
                    data.insert("done".into(), json!(done));
                }
                if let Some(engagement_name) = engagement_name {
                    data.insert("engagementName".into(), json!(engagement_name));
                }
                let event =
                    json!({"appName": "LP_OFFERS", "eventName": EVENT_NAMES[name], "data": data});
                (event, [c, e, r])
            },
        )
}

// ---------------------------------------------------------------------------------------
// Generators of arbitrary input
// ---------------------------------------------------------------------------------------

/// Names and values of the vocabulary, so that arbitrary input reaches deep validators.
const WORDS: &[&str] = &[
    "type",
    "cart",
    "purchase",
    "prodView",
    "ctmrinfo",
    "mrktInfo",
    "personal",
    "lead",
    "service",
    "error",
    "searchInfo",
    "info",
    "products",
    "product",
    "quantity",
    "name",
    "price",
    "currency",
    "Currency",
    "total",
    "numItems",
    "orderId",
    "keywords",
    "cstatus",
    "lastPaymentDate",
    "registrationDate",
    "year",
    "month",
    "day",
    "channel",
    "status",
    "firstname",
    "age",
    "contacts",
    "address",
    "email",
    "resolved",
    "cartStatus",
    "customerInfo",
    "viewedProduct",
    "viewProduct",
    "personalInfo",
    "personalContact",
    "customerAge",
    "marketingCampaignInfo",
    "originatingChannel",
    "serviceActivity",
    "visitorError",
    "searchContent",
    "serverTimeStamp",
    "originalTimeStamp",
    "sdes",
    "events",
    "appName",
    "LP_OFFERS",
    "eventName",
    "START",
    "OFFER_CLICK",
    "data",
    "contexts",
    "EngagementContext",
    "engagementContext",
    "pageContext",
    "PageContext",
    "id",
    "campaignId",
    "engagementId",
    "engagementRevision",
    "engagementType",
    "contextId",
    "confKey",
    "zoneId",
    "state",
    "tglName",
    "done",
    "engagementName",
    "impDisplay",
    "impAccept",
    "impExpanded",
    "impTimeout",
    "impClose",
    "campaign",
    "engId",
    "revision",
    "eContext",
    "1_2_3",
    "0",
    "13",
    "",
];

fn word() -> BoxedStrategy<String> {
    prop_oneof![
        3 => prop::sample::select(WORDS).prop_map(str::to_owned),
        1 => "(?s).{0,8}",
    ]
    .boxed()
}

/// Arbitrary JSON, biased towards the model's vocabulary.
fn arbitrary_json() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (0u64..20).prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Value::Number)),
        word().prop_map(Value::from),
    ];
    leaf.prop_recursive(7, 96, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((word(), inner), 0..6)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
    .boxed()
}

/// A valid document of any kind (page SDE, list, history document, event).
fn valid_document() -> BoxedStrategy<Value> {
    prop_oneof![
        3 => page_sde(),
        1 => prop::collection::vec(page_sde(), 0..3).prop_map(Value::Array),
        1 => (page_sde(), stamps()).prop_map(|(page, stamps)| {
            json!({"sdes": {"events": [history_with_stamps(&page, stamps)]}})
        }),
        2 => event().prop_map(|(event, _)| event),
    ]
    .boxed()
}

/// Every pointer into a value (containers included).
fn all_pointers(value: &Value) -> Vec<String> {
    fn walk(value: &Value, path: String, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    walk(
                        v,
                        format!("{path}/{}", k.replace('~', "~0").replace('/', "~1")),
                        out,
                    );
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    walk(v, format!("{path}/{i}"), out);
                }
            }
            _ => {}
        }
        out.push(path);
    }
    let mut out = Vec::new();
    walk(value, String::new(), &mut out);
    out
}

/// A valid document with one place changed: replaced by arbitrary JSON, removed, or
/// given an extra member.
fn mutated_document() -> BoxedStrategy<Value> {
    (
        valid_document(),
        any::<Index>(),
        0..3usize,
        arbitrary_json(),
        word(),
    )
        .prop_map(|(mut doc, at, how, replacement, key)| {
            let pointers = all_pointers(&doc);
            let pointer = at.get(&pointers).clone();
            match how {
                0 => {
                    if let Some(slot) = doc.pointer_mut(&pointer) {
                        *slot = replacement;
                    }
                }
                1 => {
                    if let Some((parent, last)) = pointer.rsplit_once('/') {
                        let last = last.replace("~1", "/").replace("~0", "~");
                        match doc.pointer_mut(parent) {
                            Some(Value::Object(map)) => {
                                map.remove(&last);
                            }
                            Some(Value::Array(items)) => {
                                if let Ok(i) = last.parse::<usize>() {
                                    if i < items.len() {
                                        items.remove(i);
                                    }
                                }
                            }
                            _ => {}
                        }
                    }
                }
                _ => {
                    if let Some(Value::Object(map)) = doc.pointer_mut(&pointer) {
                        map.insert(key, replacement);
                    }
                }
            }
            doc
        })
        .boxed()
}

/// Writes `value` as JSON text, repeating the members `repeat` selects.
fn write_with_repeats(value: &Value, repeat: &mut impl Iterator<Item = bool>, out: &mut String) {
    match value {
        Value::Object(map) => {
            out.push('{');
            let mut first = true;
            for (k, v) in map {
                let times = if repeat.next().unwrap_or(false) { 2 } else { 1 };
                for _ in 0..times {
                    if !first {
                        out.push(',');
                    }
                    first = false;
                    out.push_str(&serde_json::to_string(k).unwrap());
                    out.push(':');
                    write_with_repeats(v, repeat, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_with_repeats(v, repeat, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

// ---------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------

/// Every rejection is specific: at least one problem, each with a message, each at a
/// pointer whose parent exists in the input (a missing member is reported where it
/// belongs).
fn check_rejection(input: &Value, invalid: &Invalid) -> Result<(), TestCaseError> {
    prop_assert!(!invalid.errors.is_empty());
    for error in &invalid.errors {
        prop_assert!(
            error.message != "invalid value" && !error.message.is_empty(),
            "unspecific error {error} for {input}"
        );
        prop_assert!(
            error.path.is_empty() || error.path.starts_with('/'),
            "not a pointer: {error}"
        );
        let parent = error.path.rsplit_once('/').map_or("", |(parent, _)| parent);
        prop_assert!(
            input.pointer(parent).is_some(),
            "error {error} points outside the input {input}"
        );
    }
    Ok(())
}

/// An accepted document's canonical form parses to the same document and serializes to
/// identical JSON.
fn check_round_trip(doc: &Document) -> Result<(), TestCaseError> {
    let text = serde_json::to_string(doc).unwrap();
    let again = Document::parse(text.as_bytes());
    prop_assert!(
        again.is_ok(),
        "canonical output rejected: {:?}\n{text}",
        again.err()
    );
    let again = again.unwrap();
    prop_assert_eq!(&again, doc);
    prop_assert_eq!(serde_json::to_string(&again).unwrap(), text);
    Ok(())
}

/// Runs every entry point on one JSON input; none may panic.
fn run_every_parser(input: &Value, bytes: &[u8]) -> Result<(), TestCaseError> {
    match Document::parse(bytes) {
        Ok(doc) => check_round_trip(&doc)?,
        Err(invalid) => check_rejection(input, &invalid)?,
    }
    let json = Json::parse(bytes).unwrap();
    if let Ok(sde) = Sde::from_page(&json) {
        let _ = serde_json::to_string(&sde.to_history(Stamps::default())).unwrap();
    }
    if let Ok((sde, stamps)) = Sde::from_history(&json) {
        let _ = serde_json::to_string(&sde.to_history(stamps)).unwrap();
    }
    let _ = Sde::from_either(&json);
    if let Ok(event) = OfferEvent::from_json(&json, &["id", "time"]) {
        let _ = serde_json::to_string(&event).unwrap();
    }
    if let Some(data) = json.get("data") {
        let _ = OfferEvent::from_data(OfferEventName::Start, data);
    }
    match EngagementAttribute::from_json(&json) {
        Ok(EngagementAttribute::Impression(imp)) => {
            let _ = serde_json::to_string(&imp.to_event("p")).unwrap();
        }
        Ok(EngagementAttribute::Sde(_)) => {}
        Err(invalid) => check_rejection(input, &invalid)?,
    }
    if let Ok(state) = VisitSdes::from_json(&json) {
        let _ = serde_json::to_string(&state).unwrap();
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// (a) page → history never loses a field
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn page_to_history_conversion_never_loses_a_field(page in page_sde()) {
        let page_type = page["type"].as_str().unwrap().to_owned();
        let out = history(&page);
        let input_leaves: Vec<_> = leaves(&page).into_iter().filter(|(p, _)| p != "/type").collect();
        if input_leaves.is_empty() {
            // `{"type": "cart"}`: an empty history object under the history key.
            prop_assert_eq!(out.as_object().unwrap().len(), 1);
            let (_, inner) = out.as_object().unwrap().iter().next().unwrap();
            prop_assert_eq!(inner, &json!({}));
            return Ok(());
        }
        for (page_path, value) in &input_leaves {
            let mapped = history_path(&page_type, page_path);
            prop_assert!(mapped.is_some(), "no rename table entry for {} {}", page_type, page_path);
            let (history_path, kind) = mapped.unwrap();
            let expected = expected_leaf(value, kind);
            prop_assert!(
                expected.is_string() || expected.is_null() || expected == json!({}) || expected == json!([]),
                "{expected}"
            );
            prop_assert_eq!(
                out.pointer(&history_path),
                Some(&expected),
                "{} {} → {} in {}",
                page_type, page_path, history_path, out
            );
        }
        // And nothing else: the output has exactly as many leaves.
        prop_assert_eq!(leaves(&out).len(), input_leaves.len(), "{}", out);
    }
}

// ---------------------------------------------------------------------------------------
// (b) canonical output re-parses to the same value
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn canonical_sde_output_reparses_to_the_same_sde_and_identical_json(page in page_sde()) {
        let doc = parse_ok(&page);
        check_round_trip(&doc)?;
        // And the history form read back as history gives the same SDE.
        let Document::Sdes(list) = &doc else { panic!("an SDE is not an event") };
        let text = serde_json::to_string(&list[0].0.to_history(Stamps::default())).unwrap();
        let (sde, stamps) = Sde::from_history(&Json::parse_str(&text).unwrap()).unwrap();
        prop_assert_eq!(&sde, &list[0].0);
        prop_assert_eq!(stamps, Stamps::default());
    }

    #[test]
    fn history_output_with_time_stamps_reparses_to_the_same_sde_and_stamps(
        page in page_sde(),
        stamps in stamps(),
    ) {
        let bytes = serde_json::to_vec(&page).unwrap();
        let sde = Sde::from_page(&Json::parse(&bytes).unwrap()).unwrap();
        let text = serde_json::to_string(&sde.to_history(stamps)).unwrap();
        let (sde, read) = Sde::from_history(&Json::parse_str(&text).unwrap()).unwrap();
        prop_assert_eq!(read, stamps);
        let again = serde_json::to_string(&sde.to_history(read)).unwrap();
        prop_assert_eq!(again, text);
    }

    #[test]
    fn a_list_of_sdes_round_trips_in_order(list in prop::collection::vec(page_sde(), 0..6)) {
        let doc = parse_ok(&Value::Array(list.clone()));
        check_round_trip(&doc)?;
        let Document::Sdes(parsed) = &doc else { panic!("a list is SDEs") };
        prop_assert_eq!(parsed.len(), list.len());
        for (sde, page) in parsed.iter().zip(&list) {
            prop_assert_eq!(sde.0.sde_type().page_type(), page["type"].as_str().unwrap());
        }
    }

    #[test]
    fn canonical_event_output_reparses_to_the_same_event_and_identical_json(
        (event, ids) in event(),
    ) {
        let doc = parse_ok(&event);
        check_round_trip(&doc)?;
        let out = canonical(&doc);
        prop_assert_eq!(&out["data"]["campaignId"], &json!(ids[0]));
        prop_assert_eq!(&out["data"]["engagementId"], &json!(ids[1]));
        prop_assert_eq!(&out["data"]["engagementRevision"], &json!(ids[2]));
        prop_assert!(out["data"]["contextId"].is_string());
        prop_assert_eq!(
            &out["data"]["contexts"][0]["EngagementContext"]["id"],
            &out["data"]["contextId"]
        );
        prop_assert_eq!(&out["eventName"], &event["eventName"]);
    }
}

// ---------------------------------------------------------------------------------------
// (c) nothing panics, every rejection is specific
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_json_never_panics_any_parser(input in arbitrary_json()) {
        let bytes = serde_json::to_vec(&input).unwrap();
        run_every_parser(&input, &bytes)?;
    }

    #[test]
    fn mutated_valid_documents_never_panic_any_parser(input in mutated_document()) {
        let bytes = serde_json::to_vec(&input).unwrap();
        run_every_parser(&input, &bytes)?;
    }

    #[test]
    fn arbitrary_bytes_never_panic_any_parser(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        if let Ok(doc) = Document::parse(&bytes) {
            check_round_trip(&doc)?;
        }
        if let Ok(input) = serde_json::from_slice::<Value>(&bytes) {
            // The rare byte string that is JSON goes through every entry point too.
            run_every_parser(&input, &bytes)?;
        }
    }

    #[test]
    fn damaged_valid_text_never_panics_document_parse(
        doc in valid_document(),
        cut in any::<Index>(),
        at in any::<Index>(),
        byte in any::<u8>(),
    ) {
        let mut bytes = serde_json::to_vec(&doc).unwrap();
        let i = at.index(bytes.len());
        bytes[i] = byte;
        let _ = Document::parse(&bytes);
        bytes.truncate(cut.index(bytes.len() + 1));
        let _ = Document::parse(&bytes);
    }

    #[test]
    fn a_repeated_member_anywhere_in_a_valid_document_is_reported_as_a_duplicate(
        doc in valid_document(),
        repeats in prop::collection::vec(prop::bool::weighted(0.05), 64),
    ) {
        let mut text = String::new();
        write_with_repeats(&doc, &mut repeats.iter().copied(), &mut text);
        let plain = serde_json::to_string(&doc).unwrap();
        let result = Document::parse(text.as_bytes());
        if text.len() == plain.len() {
            prop_assert!(result.is_ok(), "{:?}", result.err());
        } else {
            let invalid = result.expect_err("a repeated member is never accepted");
            prop_assert!(
                invalid.errors.iter().any(|e| e.message.starts_with("duplicate member")),
                "{invalid}\n{text}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// (d) the parser agrees with serde_json
// ---------------------------------------------------------------------------------------

/// Whether two readings of one input agree; floats may differ in the last places, where
/// serde_json's default float parsing is not correctly rounded (ours is, see
/// `json_parse_reads_every_float_exactly`).
fn same_reading(ours: &Value, theirs: &Value) -> bool {
    match (ours, theirs) {
        (Value::Number(a), Value::Number(b)) if a.is_f64() && b.is_f64() => {
            let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
            a == b || (a - b).abs() <= a.abs().max(b.abs()) * 1e-14
        }
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same_reading(a, b))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(k, v)| b.get(k).is_some_and(|w| same_reading(v, w)))
        }
        (a, b) => a == b,
    }
}

#[track_caller]
fn check_same_as_serde_json(bytes: &[u8]) -> Result<(), TestCaseError> {
    let ours = Json::parse(bytes);
    let theirs = serde_json::from_slice::<Value>(bytes);
    match (ours, theirs) {
        (Ok(ours), Ok(theirs)) => {
            let ours = ours.to_value();
            prop_assert!(same_reading(&ours, &theirs), "{ours} vs {theirs}");
        }
        (Err(_), Err(_)) => {}
        (ours, theirs) => prop_assert!(
            false,
            "{:?}: ours {:?}, serde_json {:?}",
            String::from_utf8_lossy(bytes),
            ours.map(|j| j.to_value()),
            theirs
        ),
    }
    Ok(())
}

/// JSON-ish bytes: fragments of JSON syntax, so that most inputs get past the first byte.
fn json_ish_bytes() -> impl Strategy<Value = Vec<u8>> {
    let token = prop::sample::select(vec![
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\"",
        "\\",
        "\\u",
        "\\ud83d",
        "\\ude00",
        "00",
        "1",
        "-",
        ".",
        "e",
        "E+",
        "0.5",
        "true",
        "false",
        "null",
        " ",
        "\n",
        "\"a\"",
        "\"k\":",
        "é",
        "\u{1}",
        "9007199254740993",
        "18446744073709551616",
        "1e308",
        "1e309",
    ]);
    prop::collection::vec(token, 0..24).prop_map(|tokens| tokens.concat().into_bytes())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn json_parse_reads_every_document_serde_json_writes_exactly(value in arbitrary_json()) {
        let text = serde_json::to_string(&value).unwrap();
        let ours = Json::parse_str(&text).unwrap().to_value();
        prop_assert_eq!(&ours, &value);
        let pretty = serde_json::to_string_pretty(&value).unwrap();
        prop_assert_eq!(Json::parse(pretty.as_bytes()).unwrap().to_value(), value);
    }

    #[test]
    fn a_tape_reads_as_its_tree_and_finds_every_member_the_tree_finds(value in arbitrary_json()) {
        fn same(node: Node<'_, '_>, tree: &Json<'_>) -> Result<(), TestCaseError> {
            prop_assert_eq!(node.kind(), tree.kind());
            match tree {
                Json::Object(members) => {
                    prop_assert_eq!(node.members().map(|m| m.len()), Some(members.len()));
                    for ((key, child), (tape_key, tape_child)) in members.iter().zip(node.members().unwrap()) {
                        prop_assert_eq!(key.as_ref(), tape_key);
                        same(tape_child, child)?;
                        // The first member of that name, as the tree finds it.
                        let found = node.get(key).map(Node::to_json);
                        prop_assert_eq!(found.as_ref(), tree.get(key));
                    }
                }
                Json::Array(items) => {
                    prop_assert_eq!(node.items().map(|i| i.len()), Some(items.len()));
                    for (item, tape_item) in items.iter().zip(node.items().unwrap()) {
                        same(tape_item, item)?;
                    }
                }
                other => prop_assert_eq!(&node.to_json(), other),
            }
            Ok(())
        }
        let text = serde_json::to_string_pretty(&value).unwrap();
        let tree = Json::parse_str(&text).unwrap();
        let tape = Tape::parse_str(&text).unwrap();
        same(tape.root(), &tree)?;
        let laid_out = Tape::from_json(&tree);
        prop_assert_eq!(&laid_out.root().to_json(), &tree);
        prop_assert_eq!(tape.into_json(), tree);
    }

    #[test]
    fn json_parse_reads_every_float_exactly(x in any::<f64>().prop_filter("finite", |x| x.is_finite())) {
        for text in [serde_json::to_string(&x).unwrap(), format!("{x:e}"), format!("{x:.30e}")] {
            match Json::parse_str(&text).unwrap() {
                Json::Number(n) => {
                    let read = match n {
                        engage_model::json::Number::Float(f) => f,
                        engage_model::json::Number::Unsigned(u) => u as f64,
                        engage_model::json::Number::Signed(i) => i as f64,
                    };
                    prop_assert_eq!(read, text.parse::<f64>().unwrap(), "{}", text);
                }
                other => prop_assert!(false, "{other:?}"),
            }
        }
    }

    #[test]
    fn json_parse_decodes_every_escape(s in "(?s).{0,24}") {
        let escaped: String = s
            .encode_utf16()
            .map(|unit| format!("\\u{unit:04x}"))
            .collect();
        let text = format!("\"{escaped}\"");
        let json = Json::parse_str(&text).unwrap();
        prop_assert_eq!(json.as_str(), Some(s.as_str()));
    }

    #[test]
    fn json_parse_accepts_exactly_what_serde_json_accepts(bytes in json_ish_bytes()) {
        check_same_as_serde_json(&bytes)?;
    }

    #[test]
    fn json_parse_agrees_with_serde_json_on_arbitrary_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        check_same_as_serde_json(&bytes)?;
    }

    #[test]
    fn json_parse_agrees_with_serde_json_on_damaged_documents(
        doc in valid_document(),
        at in any::<Index>(),
        byte in prop::sample::select(b"{}[],:\"\\ 0-.eE+tfnu\x01\x7f\xc3".to_vec()),
        cut in any::<Index>(),
    ) {
        let mut bytes = serde_json::to_vec(&doc).unwrap();
        let i = at.index(bytes.len());
        bytes[i] = byte;
        check_same_as_serde_json(&bytes)?;
        bytes.truncate(cut.index(bytes.len() + 1));
        check_same_as_serde_json(&bytes)?;
    }
}
