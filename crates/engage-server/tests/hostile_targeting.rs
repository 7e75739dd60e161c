//! Targeting written to be slow: regular expressions are bounded when an engagement is
//! saved (per pattern and per account, 400 at the pattern's pointer), rules scan a
//! bounded prefix of the URL, and decisions run off the async workers with bounded
//! concurrency, so `/healthz` answers while decisions are busy.

use std::time::{Duration, Instant};

use engage_server::rate_limit::RateLimitConfig;
use engage_server::Limits;
use serde_json::{json, Value};

use crate::admin_support::{account_url, campaign, decide, engagement, page, post, put, shown_ids};
use crate::common::TestServer;

/// Costly for an automaton: `[\s\S]` is every character, and the count makes the DFA's
/// states multiply; `{150}` is over the per-pattern limit, `{30}` within it.
fn slow_regex(letter: char, count: usize) -> String {
    format!("[\\s\\S]*{letter}[\\s\\S]{{{count}}}$")
}

fn with_url_regexes(name: &str, sources: &[String]) -> Value {
    let include: Vec<Value> = sources.iter().map(|s| json!({"regex": s})).collect();
    json!({"name": name, "engagementType": 5, "targeting": {"url": {"include": include}}})
}

/// A URL no rule above matches quickly: pseudo-random letters.
fn adversarial_url(len: usize) -> String {
    let mut x = 12_345u64;
    let mut url = String::from("https://shop.example/");
    while url.len() < len {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        url.push(char::from(b'a' + u8::try_from((x >> 33) % 26).unwrap()));
    }
    url
}

#[tokio::test]
async fn a_regular_expression_too_large_compiled_is_refused_at_its_pointer() {
    let server = TestServer::start().await;
    let c = campaign(&server, "Hostile", 1).await;
    let body = with_url_regexes("Huge", &["/cart".to_owned(), slow_regex('a', 150)]);
    let (status, answer) = post(&server, &format!("/campaigns/{c}/engagements"), &body).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(
        answer["errors"][0]["path"],
        "/targeting/url/include/1/regex"
    );
    let message = answer["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("too large"), "{message}");
    // The same in an attribute condition.
    let body = json!({"name": "Huge", "engagementType": 5, "targeting": {"sdes": [
        {"path": "cartStatus.currency", "op": "matches", "value": slow_regex('u', 150)}]}});
    let (status, answer) = post(&server, &format!("/campaigns/{c}/engagements"), &body).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["errors"][0]["path"], "/targeting/sdes/0/value");
}

#[tokio::test]
async fn an_account_over_its_regex_budget_is_refused_at_the_pattern_that_takes_it_over() {
    let server = TestServer::start().await;
    let c = campaign(&server, "Hostile", 1).await;
    let four: Vec<String> = "abcd".chars().map(|l| slow_regex(l, 30)).collect();
    let mut saved = Vec::new();
    let refused = loop {
        let body = with_url_regexes(&format!("Slow {}", saved.len()), &four);
        let (status, answer) = post(&server, &format!("/campaigns/{c}/engagements"), &body).await;
        match status {
            201 => saved.push(answer),
            400 => break answer,
            other => panic!("{other}: {answer}"),
        }
        assert!(
            saved.len() < 20,
            "no budget: {} engagements saved",
            saved.len()
        );
    };
    assert!(saved.len() >= 2, "{} saved", saved.len());
    let path = refused["errors"][0]["path"].as_str().unwrap();
    assert!(
        path.starts_with("/targeting/url/include/") && path.ends_with("/regex"),
        "{refused}"
    );
    assert!(
        refused["message"].as_str().unwrap().contains("KiB"),
        "{refused}"
    );
    // A new revision replaces its engagement's weight instead of adding to it.
    let last = saved.last().unwrap();
    let (status, answer) = put(
        &server,
        &format!("/campaigns/{c}/engagements/{}", last["engagementId"]),
        &with_url_regexes("Slow, revised", &four),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
}

#[tokio::test]
async fn rules_see_the_first_2048_characters_of_a_url() {
    let server = TestServer::start().await;
    let c = campaign(&server, "Long URLs", 1).await;
    let e = engagement(
        &server,
        c,
        &json!({"name": "Needle", "engagementType": 5,
                "targeting": {"url": {"include": [{"contains": "needle"}]}}}),
    )
    .await;
    let near = format!("https://shop.example/{}needle", "a".repeat(1_000));
    let far = format!("https://shop.example/{}needle", "a".repeat(3_000));
    let (_, answer) = decide(&server, &page("v", &near, &[], json!([]))).await;
    assert_eq!(shown_ids(&answer), [e["engagementId"].as_u64().unwrap()]);
    let (status, answer) = decide(&server, &page("v", &far, &[], json!([]))).await;
    assert_eq!(status, 200);
    assert!(shown_ids(&answer).is_empty(), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_answers_fast_while_decisions_with_hostile_rules_run() {
    let server = TestServer::configured(
        Limits {
            max_concurrent_decisions: 2,
            ..Limits::default()
        },
        |state| state.with_rate_limits(&RateLimitConfig::off()),
    )
    .await;
    // Slow regexes within the limits: each product name of the page's cart is scanned
    // (its first 2,048 characters) by each of them.
    let c = campaign(&server, "Hostile", 1).await;
    let conditions: Vec<Value> = "abcdefghijkl"
        .chars()
        .map(|l| json!({"path": "cartStatus.products.product.name", "op": "matches", "value": slow_regex(l, 30)}))
        .collect();
    engagement(
        &server,
        c,
        &json!({"name": "Slow", "engagementType": 5, "targeting": {"sdes": conditions}}),
    )
    .await;
    let products: Vec<Value> = (0..400)
        .map(|i| json!({"product": {"name": adversarial_url(2_040 + i % 7)}, "quantity": 1}))
        .collect();
    let body = page(
        "v",
        &adversarial_url(8_000),
        &[],
        json!([{"type": "cart", "products": products}]),
    )
    .to_string();
    let deciders: Vec<_> = (0..8)
        .map(|_| {
            let client = server.client.clone();
            let url = account_url(&server, "/decision");
            let body = body.clone();
            tokio::spawn(async move {
                let mut answered = [0usize; 2];
                let until = Instant::now() + Duration::from_secs(3);
                while Instant::now() < until {
                    let response = client.post(&url).body(body.clone()).send().await.unwrap();
                    match response.status().as_u16() {
                        200 => answered[0] += 1,
                        503 => {
                            assert!(response.headers().contains_key("retry-after"));
                            answered[1] += 1;
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                        other => panic!("decision answered {other}"),
                    }
                }
                answered
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut slowest = Duration::ZERO;
    for _ in 0..20 {
        let started = Instant::now();
        let health = server
            .client
            .get(format!("{}/healthz", server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(health.status(), 200);
        slowest = slowest.max(started.elapsed());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut totals = [0usize; 2];
    for decider in deciders {
        let answered = decider.await.unwrap();
        totals[0] += answered[0];
        totals[1] += answered[1];
    }
    assert!(totals[0] > 0, "no decision answered: {totals:?}");
    assert!(
        slowest < Duration::from_millis(500),
        "/healthz took {slowest:?} while decisions ran ({totals:?} answered/refused)"
    );
    assert!(totals[1] > 0, "no decision was refused 503: {totals:?}");
}
