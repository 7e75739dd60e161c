//! Parse + validate + convert of a realistic mixed batch: what the collect endpoint does
//! with each tag request, minus I/O.
//!
//! The batch is 100 items as a JSON array, the way a tag flush arrives: carts with two or
//! three products, product views, purchases, customer, personal and marketing info,
//! searches, leads, service activities, errors and `LP_OFFERS` events. Each item is
//! validated and turned into the history-shape JSON string (events into their canonical
//! JSON) that the store keeps. Throughput is per item.
//!
//! Baselines in the same run: `serde_json::from_slice::<serde_json::Value>` of the same
//! bytes (parsing only, no validation, no output), and our borrowed `Json` tree alone.
//!
//! Run: `cargo bench -p engage-model --bench model`

// A benchmark's fixture is built from constants: a failure is a bug in the benchmark.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use engage_model::{Json, OfferEvent, Sde, Stamps};
use serde_json::{json, Value};

fn cart(i: usize) -> Value {
    let mut products = vec![
        json!({"product": {"name": "red high heel shoe", "category": "women shoes", "sku": format!("xyz{i:03}"), "price": 77.8}, "quantity": 1}),
        json!({"product": {"name": "antivirus pro plan", "category": "software", "sku": "av-001", "price": 7.8}, "quantity": 2}),
    ];
    if i % 2 == 0 {
        products.push(json!({"product": {"name": "gift wrap", "category": "extras", "sku": "gw-1", "price": "2.5"}, "quantity": 1}));
    }
    json!({"type": "cart", "total": 93.4 + i as f64, "currency": "USD", "numItems": products.len(), "products": products})
}

fn prod_view(i: usize) -> Value {
    json!({"type": "prodView", "currency": "USD", "products": [
        {"product": {"name": "red high heel shoe", "category": "women shoes", "sku": format!("xyz{i:03}"), "price": 77.8, "statusInStock": true}}
    ]})
}

fn purchase(i: usize) -> Value {
    json!({"type": "purchase", "total": 11.7, "currency": "USD", "orderId": format!("DRV{i}XC"),
           "cart": {"products": [
               {"product": {"name": "antivirus pro plan", "category": "software", "sku": "xyz001", "price": 7.8}, "quantity": 1},
               {"product": {"name": "backup add-on", "category": "software", "sku": "xyz002", "price": 3.9}, "quantity": 1}
           ], "numItems": 2}})
}

fn ctmrinfo(i: usize) -> Value {
    json!({"type": "ctmrinfo", "info": {
        "cstatus": "cancelled", "ctype": "vip", "balance": -400.99, "currency": "USD",
        "customerId": format!("138766AC{i}"), "socialId": "11256324780", "imei": "3543546543545688",
        "userName": "user000", "companySize": 500, "accountName": "bank corp", "role": "broker",
        "lastPaymentDate": {"day": 15, "month": 10, "year": 2014},
        "registrationDate": {"day": 23, "month": 5, "year": 2013},
        "loginStatus": true, "storeZipCode": "20505", "storeNumber": "123865"
    }})
}

fn personal(i: usize) -> Value {
    json!({"type": "personal", "personal": {
        "firstname": "John", "lastname": "Doe", "age": {"age": 34, "year": 1980, "month": 4, "day": 15},
        "contacts": [{"email": format!("user{i}@example.com"), "phone": "+1 212-788-8877"}],
        "gender": "MALE", "company": "company", "language": "en-US"
    }})
}

fn mrkt_info(_: usize) -> Value {
    json!({"type": "mrktInfo", "info": {"channel": "1", "affiliate": "Yahoo", "campaignId": "US coupon campaign"}})
}

fn search_info(i: usize) -> Value {
    json!({"type": "searchInfo", "keywords": ["summer", "jacket", format!("size {i}")]})
}

fn lead(_: usize) -> Value {
    json!({"type": "lead", "lead": {"topic": "luxury car test drive 2015", "value": 22.22, "currency": "USD", "leadId": "xyz123"}})
}

fn service(_: usize) -> Value {
    json!({"type": "service", "service": {"topic": "order checkbook", "status": 0, "category": "finance", "serviceId": "service12"}})
}

fn error(_: usize) -> Value {
    json!({"type": "error", "error": {"contextId": "checkout", "message": "Expiration date missing", "code": "er100004", "level": 3, "resolved": false}})
}

fn event(i: usize) -> Value {
    let names = [
        "START",
        "OFFER_DISPLAY",
        "OFFER_IMPRESSION",
        "OFFER_CLICK",
        "OFFER_REMOVE",
    ];
    json!({"appName": "LP_OFFERS", "eventName": names[i % names.len()], "data": {
        "contexts": [{"EngagementContext": {"id": format!("{}", i / 5)}}, {"pageContext": {"id": "1738225948"}}],
        "campaignId": 210599710, "engagementId": 210600710, "engagementRevision": 18,
        "engagementType": 3, "contextId": format!("{}", i / 5), "zoneId": 471288710, "state": 2,
        "confKey": "210599710_210600710_18", "tglName": "slider", "done": true,
        "engagementName": "Slide-out chat button"
    }})
}

/// The 100-item batch: 80 SDEs of every type, weighted like a shop's traffic, and 20 events.
fn batch() -> Vec<u8> {
    type Make = fn(usize) -> Value;
    let mix: [(Make, usize); 11] = [
        (cart, 15),
        (prod_view, 20),
        (purchase, 5),
        (ctmrinfo, 10),
        (personal, 5),
        (mrkt_info, 5),
        (search_info, 10),
        (lead, 4),
        (service, 3),
        (error, 3),
        (event, 20),
    ];
    let mut items = Vec::new();
    for (make, count) in mix {
        items.extend((0..count).map(make));
    }
    // Interleave the types, as a real flush would.
    let mut mixed = Vec::with_capacity(items.len());
    let (mut front, mut back) = (0, items.len());
    while front < back {
        mixed.push(items[front].clone());
        front += 1;
        if front < back {
            back -= 1;
            mixed.push(items[back].clone());
        }
    }
    assert_eq!(mixed.len(), 100);
    serde_json::to_vec(&Value::Array(mixed)).unwrap()
}

/// Parses the batch, validates every item and writes each one's history-shape JSON.
fn parse_validate_convert(bytes: &[u8]) -> usize {
    let json = Json::parse(bytes).expect("the batch is JSON");
    let Json::Array(items) = &json else {
        panic!("the batch is an array")
    };
    let mut written = 0;
    for item in items {
        let out = if item.get("appName").is_some() {
            let event = OfferEvent::from_json(item, &[]).expect("valid event");
            serde_json::to_string(&event)
        } else {
            let sde = Sde::from_page(item).expect("valid SDE");
            let stamps = Stamps {
                server_ms: Some(1_440_412_721_832),
                original_ms: Some(1_440_412_721_001),
            };
            serde_json::to_string(&sde.to_history(stamps))
        };
        written += out.expect("serializable").len();
    }
    written
}

fn bench_model(c: &mut Criterion) {
    let bytes = batch();
    let items = 100;
    // Sanity: every item is valid, so the benchmark measures the success path.
    assert!(parse_validate_convert(&bytes) > bytes.len() / 2);

    let mut group = c.benchmark_group("engage-model");
    group.throughput(Throughput::Elements(items));
    group.bench_function("parse_validate_convert/batch100", |b| {
        b.iter(|| parse_validate_convert(black_box(&bytes)))
    });
    group.bench_function("baseline_serde_json_value/batch100", |b| {
        b.iter(|| serde_json::from_slice::<Value>(black_box(&bytes)).unwrap())
    });
    group.bench_function("json_tree_only/batch100", |b| {
        b.iter(|| Json::parse(black_box(&bytes)).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench_model);
criterion_main!(benches);
