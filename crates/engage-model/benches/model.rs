//! Parse + validate + convert of a realistic mixed batch: what the collect endpoint does
//! with each tag request, minus I/O.
//!
//! The batch is 100 items as a JSON array, the way a tag flush arrives: carts with two or
//! three products, product views, purchases, customer, personal and marketing info,
//! searches, leads, service activities, errors and `LP_OFFERS` events. Each item is
//! validated, and each attribute turned into the history-shape JSON string the store
//! keeps (events are kept as columns, so they are not written as text). Throughput is
//! per item.
//!
//! Also measured in the same run: the baseline `serde_json::from_slice::<serde_json::Value>`
//! of the same bytes (parsing only: no validation, no output), the three steps alone
//! (parse into a `Tape`, validate, write), parsing into the `Json` tree, and single typical
//! SDEs end to end.
//!
//! `engage-model/parser_ab` sets our parser against sonic-rs and simd-json (and serde_json,
//! which parses floats exactly here, with `float_roundtrip`): each parse alone, and each
//! feeding the same validation and writing.
//!
//! Run: `cargo bench -p engage-model --bench model`; docs/benchmarks.md has the figures.

// A benchmark's fixture is built from constants: a failure is a bug in the benchmark.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

/// The allocator the `engage` binary runs the model with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{criterion_group, BatchSize, Criterion, Throughput};
use engage_model::{Json, Node, OfferEvent, Sde, Stamps, Tape};
use serde_json::Value;

// The items are written as text, members in the documented order (the order a site's
// code copying the documentation sends them in), not through `json!`, which would sort
// the keys.

fn cart(i: usize) -> String {
    let third = if i % 2 == 0 {
        r#",{"product":{"name":"gift wrap","category":"extras","sku":"gw-1","price":"2.5"},"quantity":1}"#
    } else {
        ""
    };
    let count = if i % 2 == 0 { 3 } else { 2 };
    format!(
        r#"{{"type":"cart","total":{total},"currency":"USD","numItems":{count},"products":[{{"product":{{"name":"red high heel shoe","category":"women shoes","sku":"xyz{i:03}","price":77.8}},"quantity":1}},{{"product":{{"name":"antivirus pro plan","category":"software","sku":"av-001","price":7.8}},"quantity":2}}{third}]}}"#,
        total = 93.4 + i as f64
    )
}

fn prod_view(i: usize) -> String {
    format!(
        r#"{{"type":"prodView","currency":"USD","products":[{{"product":{{"name":"red high heel shoe","category":"women shoes","sku":"xyz{i:03}","price":77.8,"statusInStock":true}}}}]}}"#
    )
}

fn purchase(i: usize) -> String {
    format!(
        r#"{{"type":"purchase","total":11.7,"currency":"USD","orderId":"DRV{i}XC","cart":{{"products":[{{"product":{{"name":"antivirus pro plan","category":"software","sku":"xyz001","price":7.8}},"quantity":1}},{{"product":{{"name":"backup add-on","category":"software","sku":"xyz002","price":3.9}},"quantity":1}}],"numItems":2}}}}"#
    )
}

fn ctmrinfo(i: usize) -> String {
    format!(
        r#"{{"type":"ctmrinfo","info":{{"cstatus":"cancelled","ctype":"vip","balance":-400.99,"currency":"USD","customerId":"138766AC{i}","socialId":"11256324780","imei":"3543546543545688","userName":"user000","companySize":500,"accountName":"bank corp","role":"broker","lastPaymentDate":{{"day":15,"month":10,"year":2014}},"registrationDate":{{"day":23,"month":5,"year":2013}},"loginStatus":true,"storeZipCode":"20505","storeNumber":"123865"}}}}"#
    )
}

fn personal(i: usize) -> String {
    format!(
        r#"{{"type":"personal","personal":{{"firstname":"John","lastname":"Doe","age":{{"age":34,"year":1980,"month":4,"day":15}},"contacts":[{{"email":"user{i}@example.com","phone":"+1 212-788-8877"}}],"gender":"MALE","company":"company","language":"en-US"}}}}"#
    )
}

fn mrkt_info(_: usize) -> String {
    r#"{"type":"mrktInfo","info":{"channel":"1","affiliate":"Yahoo","campaignId":"US coupon campaign"}}"#.to_owned()
}

fn search_info(i: usize) -> String {
    format!(r#"{{"type":"searchInfo","keywords":["summer","jacket","size {i}"]}}"#)
}

fn lead(_: usize) -> String {
    r#"{"type":"lead","lead":{"topic":"luxury car test drive 2015","value":22.22,"currency":"USD","leadId":"xyz123"}}"#.to_owned()
}

fn service(_: usize) -> String {
    r#"{"type":"service","service":{"topic":"order checkbook","status":0,"category":"finance","serviceId":"service12"}}"#.to_owned()
}

fn error(_: usize) -> String {
    r#"{"type":"error","error":{"contextId":"checkout","message":"Expiration date missing","code":"er100004","level":3,"resolved":false}}"#.to_owned()
}

fn event(i: usize) -> String {
    let names = [
        "START",
        "OFFER_DISPLAY",
        "OFFER_IMPRESSION",
        "OFFER_CLICK",
        "OFFER_REMOVE",
    ];
    format!(
        r#"{{"appName":"LP_OFFERS","eventName":"{name}","data":{{"contexts":[{{"EngagementContext":{{"id":"{ctx}"}}}},{{"pageContext":{{"id":"1738225948"}}}}],"campaignId":210599710,"engagementId":210600710,"engagementRevision":18,"engagementType":3,"contextId":"{ctx}","zoneId":471288710,"state":2,"confKey":"210599710_210600710_18","tglName":"slider","done":true,"engagementName":"Slide-out chat button"}}}}"#,
        name = names[i % names.len()],
        ctx = i / 5
    )
}

/// The 100-item batch: 80 SDEs of every type, weighted like a shop's traffic, and 20
/// events, interleaved.
fn batch() -> Vec<u8> {
    type Make = fn(usize) -> String;
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
    let text = format!("[{}]", mixed.join(","));
    // Every item is valid JSON (the whole batch parses as serde_json sees it).
    serde_json::from_str::<Value>(&text).expect("the batch is JSON");
    text.into_bytes()
}

/// Parses the batch, validates every item and writes each attribute's history-shape JSON.
/// Events are validated only: the store keeps them as columns, not as JSON text.
fn parse_validate_convert(bytes: &[u8]) -> usize {
    let tape = Tape::parse(bytes).expect("the batch is JSON");
    validate_convert(tape.root())
}

/// The work after parsing: every item validated, every attribute written.
fn validate_convert(batch: Node<'_, '_>) -> usize {
    let items = batch.items().expect("the batch is an array");
    let mut written = 0;
    for item in items {
        if item.get("appName").is_some() {
            black_box(OfferEvent::read(item, &[]).expect("valid event"));
        } else {
            let sde = Sde::read_page(item).expect("valid SDE");
            let stamps = Stamps {
                server_ms: Some(1_440_412_721_832),
                original_ms: Some(1_440_412_721_001),
            };
            written += sde.to_history(stamps).to_json().len();
        }
    }
    written
}

/// The same work from a tree another parser built: laid out as a tape, then validated
/// and written. The validators read a tape, so this is the cheapest way to feed them
/// another parser's output without rewriting them.
fn via_tree(tree: Json<'_>) -> usize {
    validate_convert(Tape::from_json(&tree).root())
}

/// Validates every item of an already parsed batch.
fn validate(batch: Node<'_, '_>) -> (Vec<Sde>, Vec<OfferEvent>) {
    let items = batch.items().expect("the batch is an array");
    let (mut sdes, mut events) = (Vec::new(), Vec::new());
    for item in items {
        if item.get("appName").is_some() {
            events.push(OfferEvent::read(item, &[]).expect("valid event"));
        } else {
            sdes.push(Sde::read_page(item).expect("valid SDE"));
        }
    }
    (sdes, events)
}

/// Writes every validated attribute as history-shape JSON.
fn convert(sdes: &[Sde]) -> usize {
    let stamps = Stamps {
        server_ms: Some(1_440_412_721_832),
        original_ms: Some(1_440_412_721_001),
    };
    let mut written = 0;
    for sde in sdes {
        written += sde.to_history(stamps).to_json().len();
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
    // The three steps alone, to see where the time goes.
    group.bench_function("step_parse_tape/batch100", |b| {
        b.iter(|| Tape::parse(black_box(&bytes)).unwrap())
    });
    let tape = Tape::parse(&bytes).unwrap();
    group.bench_function("step_validate/batch100", |b| {
        b.iter(|| validate(black_box(tape.root())))
    });
    let (sdes, _) = validate(tape.root());
    // The tree other callers parse into, for comparison.
    group.bench_function("parse_json_tree/batch100", |b| {
        b.iter(|| Json::parse(black_box(&bytes)).unwrap())
    });
    group.bench_function("step_convert/batch100", |b| {
        b.iter(|| convert(black_box(&sdes)))
    });
    group.finish();

    parser_ab(c, &bytes);

    // One typical SDE at a time, end to end (bytes in, history JSON out).
    let mut single = c.benchmark_group("engage-model/one_sde");
    single.throughput(Throughput::Elements(1));
    for (name, text) in [
        ("cart_2_products", cart(1)),
        ("prod_view", prod_view(1)),
        ("ctmrinfo", ctmrinfo(1)),
    ] {
        let bytes = text.into_bytes();
        single.bench_function(name, |b| {
            b.iter(|| {
                let tape = Tape::parse(black_box(&bytes)).unwrap();
                let sde = Sde::read_page(tape.root()).unwrap();
                sde.to_history(Stamps {
                    server_ms: Some(1_440_412_721_832),
                    original_ms: None,
                })
                .to_json()
            })
        });
    }
    single.finish();
}

/// The JSON parser A/B (docs/benchmarks.md, "Our parser against sonic-rs and simd-json"):
/// each library's parse alone, and each library's parse feeding the same validation and
/// writing as ours does. The libraries build a tree; ours writes the tape the validators
/// read. To feed them, a library deserializes into our `Json` tree (through serde), which
/// is then laid out as a tape; our own parser is measured the same way too, so that the
/// cost of that detour shows.
fn parser_ab(c: &mut Criterion, bytes: &[u8]) {
    // Every route validates the same items and writes the same bytes.
    let expected = parse_validate_convert(bytes);
    assert_eq!(via_tree(Json::parse(bytes).unwrap()), expected);
    assert_eq!(via_tree(serde_json::from_slice(bytes).unwrap()), expected);
    assert_eq!(via_tree(sonic_rs::from_slice(bytes).unwrap()), expected);
    let mut copy = bytes.to_vec();
    assert_eq!(
        via_tree(simd_json::serde::from_slice(&mut copy).unwrap()),
        expected
    );

    let mut group = c.benchmark_group("engage-model/parser_ab");
    group.throughput(Throughput::Elements(100));

    // Parsing alone.
    group.bench_function("parse/ours_tape", |b| {
        b.iter(|| Tape::parse(black_box(bytes)).unwrap())
    });
    group.bench_function("parse/serde_json_value", |b| {
        b.iter(|| serde_json::from_slice::<Value>(black_box(bytes)).unwrap())
    });
    group.bench_function("parse/sonic_rs_value", |b| {
        b.iter(|| sonic_rs::from_slice::<sonic_rs::Value>(black_box(bytes)).unwrap())
    });
    // sonic-rs's lazy reading: each item found and its `type` looked up, nothing built.
    group.bench_function("parse/sonic_rs_lazy_items", |b| {
        b.iter(|| {
            let mut found = 0;
            for item in sonic_rs::to_array_iter(black_box(bytes)) {
                let item = item.unwrap();
                found += usize::from(sonic_rs::get(item.as_raw_str(), ["type"]).is_ok());
            }
            found
        })
    });
    // simd-json parses in place: each iteration gets a fresh copy, made outside the timing.
    group.bench_function("parse/simd_json_borrowed_value", |b| {
        b.iter_batched_ref(
            || bytes.to_vec(),
            |copy| simd_json::to_borrowed_value(copy).is_ok(),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("parse/simd_json_tape", |b| {
        b.iter_batched_ref(
            || bytes.to_vec(),
            |copy| simd_json::to_tape(copy).is_ok(),
            BatchSize::SmallInput,
        )
    });

    // Parse + validate + write, as the collect endpoint does.
    group.bench_function("end_to_end/ours_tape", |b| {
        b.iter(|| parse_validate_convert(black_box(bytes)))
    });
    group.bench_function("end_to_end/ours_via_tree", |b| {
        b.iter(|| via_tree(Json::parse(black_box(bytes)).unwrap()))
    });
    group.bench_function("end_to_end/serde_json_via_tree", |b| {
        b.iter(|| via_tree(serde_json::from_slice(black_box(bytes)).unwrap()))
    });
    group.bench_function("end_to_end/sonic_rs_via_tree", |b| {
        b.iter(|| via_tree(sonic_rs::from_slice(black_box(bytes)).unwrap()))
    });
    group.bench_function("end_to_end/simd_json_via_tree", |b| {
        b.iter_batched_ref(
            || bytes.to_vec(),
            |copy| via_tree(simd_json::serde::from_slice(copy).unwrap()),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench_model);

/// Criterion's `main`, plus a plain loop for instruction counting: with
/// `ENGAGE_MODEL_BENCH_RUNS=N` (and `ENGAGE_MODEL_BENCH_STEP` = `all`, `parse`, `validate`,
/// `convert`, `tree` or `serde_json`) the binary runs that step N times over the batch and
/// exits, so that `valgrind --tool=callgrind` can count it (docs/benchmarks.md).
fn main() {
    if let Some(runs) = std::env::var("ENGAGE_MODEL_BENCH_RUNS")
        .ok()
        .and_then(|n| n.parse::<usize>().ok())
    {
        let step = std::env::var("ENGAGE_MODEL_BENCH_STEP").unwrap_or_else(|_| "all".into());
        let bytes = batch();
        let tape = Tape::parse(&bytes).unwrap();
        let (sdes, _) = validate(tape.root());
        let mut total = 0;
        for _ in 0..runs {
            total += match step.as_str() {
                "all" => parse_validate_convert(black_box(&bytes)),
                "parse" => usize::from(Tape::parse(black_box(&bytes)).is_ok()),
                "validate" => validate(black_box(tape.root())).0.len(),
                "convert" => convert(black_box(&sdes)),
                "tree" => usize::from(Json::parse(black_box(&bytes)).is_ok()),
                "serde_json" => {
                    usize::from(serde_json::from_slice::<Value>(black_box(&bytes)).is_ok())
                }
                other => panic!("unknown ENGAGE_MODEL_BENCH_STEP {other}"),
            };
        }
        println!("{step}: {runs} runs ({total})");
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
