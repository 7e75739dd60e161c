//! The Engagement History API's search request sees network bytes in its query string
//! and its body: neither may panic, and what is accepted keeps the API's rules.
//! Input: the first line is the raw query string (`offset=5&limit=10&sort=start:desc`),
//! the rest is the body.
#![no_main]

use engage_server::request::history::{HistorySearchBody, MAX_RANGE_MS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
    let (query, body) = data.split_at(split);
    let body = body.get(1..).unwrap_or_default();
    let query = String::from_utf8_lossy(query);
    let pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (p.to_owned(), String::new()),
        })
        .collect();
    let Ok(search) = HistorySearchBody::read(&pairs, body) else {
        return;
    };
    let q = search.query();
    let f = &q.filters;
    assert!((1..=100).contains(&q.limit), "limit {}", q.limit);
    assert_eq!(q.limit, search.params.limit);
    assert_eq!(q.offset, search.params.offset);
    assert!(!q.sort.is_empty(), "a search always has an order");
    assert!(f.start_from_ms <= f.start_to_ms);
    let span = f.start_to_ms.abs_diff(f.start_from_ms);
    assert!(
        span <= MAX_RANGE_MS || f.visitor.is_some() || f.interaction_id.is_some(),
        "a range over 31 days needs a visitor or an interaction id"
    );
    // The links' query string is one the parser accepts, for the same search.
    let again: Vec<(String, String)> = search
        .params
        .query_string(q.offset)
        .split('&')
        .filter_map(|p| p.split_once('='))
        .filter(|(k, _)| *k != "source")
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let reread = HistorySearchBody::read(&again, body).expect("the links' query string is accepted");
    assert_eq!(reread.query(), search.query());
});
