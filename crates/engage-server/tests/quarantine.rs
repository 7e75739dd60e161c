//! The quarantine routes: listing what was rejected and replaying it.

// Tests: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{batch, sde_item, start_event, TestServer};
use engage_store::{ExportKind, IngestBatch, NewQuarantine, QuarantineKind, RawJson};
use serde_json::{json, Value};

#[tokio::test]
async fn the_quarantine_lists_raw_input_time_and_errors_for_the_key_holder() {
    let server = TestServer::start().await;
    let body = batch(
        vec![start_event("e1", "START", "1", 7)],
        vec![sde_item(
            "s1",
            json!({"type": "mrktInfo", "info": {"channel": 9}}),
        )],
    );
    server.post_events(&body).await;
    let url = format!(
        "{}/api/account/{}/quarantine",
        server.url, server.account_id
    );

    let response = server.client.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.json::<Value>().await.unwrap()["code"],
        "unauthorized"
    );
    let response = server
        .client
        .get(&url)
        .bearer_auth("ek_wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let other_key = server.other_account_key().await;
    let response = server
        .client
        .get(&url)
        .bearer_auth(&other_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403, "another account's key");

    let listed: Value = server.get_json(&url).await;
    let entries = listed["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["kind"], "event");
    assert_eq!(
        entries[0]["errors"][0]["path"],
        "/events/0/data/engagementType"
    );
    assert!(entries[0]["receivedMs"].as_i64().unwrap() > 1_600_000_000_000);
    assert_eq!(entries[1]["errors"][0]["path"], "/sdes/0/sde/info/channel");
    let raw: Value = serde_json::from_str(entries[1]["raw"].as_str().unwrap()).unwrap();
    assert_eq!(raw["sde"]["info"]["channel"], 9);

    let page: Value = server.get_json(&format!("{url}?limit=1")).await;
    assert_eq!(page["entries"].as_array().unwrap().len(), 1);
    let next = page["next"].as_i64().unwrap();
    let page: Value = server
        .get_json(&format!("{url}?limit=1&after={next}"))
        .await;
    assert_eq!(page["entries"][0]["id"], entries[1]["id"]);
}

#[tokio::test]
async fn replay_moves_what_now_passes_into_the_store_and_keeps_the_rest() {
    let server = TestServer::start().await;
    // An entry rejected by an older rule: its raw item passes today's validation.
    let context = json!({"visitorId": "v-1", "sessionId": "s-1", "pageId": "p-1", "page": null, "userAgent": null});
    let passing = sde_item("s-ok", json!({"type": "searchInfo", "keywords": ["apple"]}));
    let failing = sde_item(
        "s-bad",
        json!({"type": "searchInfo", "keywords": [{"x": 1}]}),
    );
    let entry = |raw: &Value, id: &str| NewQuarantine {
        kind: QuarantineKind::Sde,
        index: Some(0),
        client_id: Some(id.into()),
        raw: raw.to_string(),
        context: RawJson::to_json(&context).unwrap(),
        errors: vec![engage_model::FieldError::new(
            "/sdes/0/sde",
            "rejected by an older rule",
        )],
    };
    server
        .store
        .ingest(IngestBatch {
            account_id: server.account_id.clone(),
            received_ms: 1_700_000_000_000,
            visit: None,
            events: vec![],
            sdes: vec![],
            rejected: vec![entry(&passing, "s-ok"), entry(&failing, "s-bad")],
        })
        .await
        .unwrap();
    let url = format!(
        "{}/api/account/{}/quarantine/replay",
        server.url, server.account_id
    );
    assert_eq!(server.client.post(&url).send().await.unwrap().status(), 401);
    let answer: Value = server
        .client
        .post(&url)
        .bearer_auth(&server.api_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        answer,
        json!({"examined": 2, "replayed": 1, "stillInvalid": 1, "accepted": 1, "duplicates": 0})
    );
    let sdes = server.export(ExportKind::Sdes).await;
    assert_eq!(sdes.len(), 1);
    assert_eq!(sdes[0]["id"], "s-ok");
    assert_eq!(sdes[0]["sessionId"], "s-1");
    // Replayed entries leave the default listing; a second replay finds only the failing one.
    let answer: Value = server
        .client
        .post(&url)
        .bearer_auth(&server.api_key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["examined"], 1);
    assert_eq!(answer["replayed"], 0);
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

async fn post_gzip(server: &TestServer, body: Vec<u8>) -> (u16, Value) {
    let response = server
        .client
        .post(server.events_url())
        .header("content-type", "text/plain")
        .header("content-encoding", "gzip")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_gzip_bomb_of_invalid_json_is_quarantined_as_a_prefix_with_the_size_and_digest_of_the_whole(
) {
    use sha2::{Digest, Sha256};
    let server = TestServer::start().await;
    let limit = engage_server::Limits::default().max_decompressed_bytes;
    // An object that never ends: 8 MiB of it, a few KB once compressed.
    let mut bomb = b"{\"visitorId\": \"".to_vec();
    bomb.resize(limit, b'a');
    let compressed = gzip(&bomb);
    assert!(compressed.len() < 16 * 1024, "{} bytes", compressed.len());
    let (status, answer) = post_gzip(&server, compressed).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["code"], "malformed_json");

    let quarantined = server.export(ExportKind::Quarantine).await;
    assert_eq!(quarantined.len(), 1);
    let entry = &quarantined[0];
    let raw = entry["raw"].as_str().unwrap();
    assert_eq!(
        raw.len(),
        engage_server::quarantine_limit::MAX_QUARANTINED_BYTES
    );
    assert!(bomb.starts_with(raw.as_bytes()));
    assert_eq!(
        entry["context"]["body"],
        json!({"bytes": limit, "keptBytes": raw.len(),
               "sha256": hex::encode(Sha256::digest(&bomb))})
    );
    let db_size: u64 = ["", "-wal"]
        .iter()
        .filter_map(|suffix| std::fs::metadata(format!("{}{suffix}", server.db_path())).ok())
        .map(|m| m.len())
        .sum();
    assert!(
        db_size < 2 * 1024 * 1024,
        "the database holds {db_size} bytes"
    );

    // One byte more than the decompressed limit is refused before anything is kept.
    bomb.push(b'a');
    let (status, answer) = post_gzip(&server, gzip(&bomb)).await;
    assert_eq!(status, 413, "{answer}");
    assert_eq!(answer["code"], "body_too_large");
    assert_eq!(server.export(ExportKind::Quarantine).await.len(), 1);
}

#[tokio::test]
async fn a_huge_invalid_item_is_quarantined_as_a_prefix_and_the_rest_of_the_batch_is_stored() {
    let server = TestServer::start().await;
    let long = "x".repeat(200_000);
    let body = batch(
        vec![start_event("e1", "START", "1", 1)],
        vec![sde_item(
            "s1",
            json!({"type": "mrktInfo", "info": {"affiliate": long}}),
        )],
    );
    let (status, answer) = server.post_events(&body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["accepted"], 1);
    let quarantined = server.export(ExportKind::Quarantine).await;
    assert_eq!(quarantined.len(), 1);
    let entry = &quarantined[0];
    assert_eq!(
        entry["raw"].as_str().unwrap().len(),
        engage_server::quarantine_limit::MAX_QUARANTINED_BYTES
    );
    assert!(entry["context"]["body"]["bytes"].as_u64().unwrap() > 200_000);
    assert_eq!(entry["context"]["visitorId"], "visitor-1");
}

#[tokio::test]
async fn the_quarantine_listing_pages_by_bytes_as_well_as_by_count() {
    let server = TestServer::start().await;
    // 200 entries of 45,000 bytes once written as JSON strings (each quote escaped):
    // 9 MB in all.
    let raw = format!("\"{}\"", "x\"".repeat(15_000));
    let rejected = (0..200)
        .map(|i| NewQuarantine {
            kind: QuarantineKind::Body,
            index: None,
            client_id: Some(format!("q{i}")),
            raw: raw.clone(),
            context: RawJson::null(),
            errors: vec![],
        })
        .collect();
    server
        .store
        .ingest(IngestBatch {
            account_id: server.account_id.clone(),
            received_ms: 1_700_000_000_000,
            visit: None,
            events: vec![],
            sdes: vec![],
            rejected,
        })
        .await
        .unwrap();
    let base = format!(
        "{}/api/account/{}/quarantine?limit=1000",
        server.url, server.account_id
    );
    let mut seen = Vec::new();
    let mut pages = 0;
    let mut url = base.clone();
    loop {
        let response = server
            .client
            .get(&url)
            .bearer_auth(&server.api_key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let text = response.text().await.unwrap();
        assert!(
            text.len() <= 4 * 1024 * 1024 + 100_000,
            "a page of {} bytes",
            text.len()
        );
        let page: Value = serde_json::from_str(&text).unwrap();
        pages += 1;
        let entries = page["entries"].as_array().unwrap();
        assert!(!entries.is_empty());
        seen.extend(entries.iter().map(|e| e["id"].as_i64().unwrap()));
        match page["next"].as_i64() {
            Some(next) => url = format!("{base}&after={next}"),
            None => break,
        }
        assert!(pages < 10, "no end");
    }
    assert!(pages >= 3, "{pages} pages");
    let mut unique = seen.clone();
    unique.dedup();
    assert_eq!(unique, seen, "an entry listed twice");
    assert_eq!(seen.len(), 200);
}

#[tokio::test]
async fn past_its_quarantine_quota_an_account_keeps_nothing_more_and_a_counter_says_so() {
    let server = TestServer::with_limits(engage_server::Limits {
        quarantine_max_entries: 3,
        quarantine_max_bytes: 5_000,
        ..engage_server::Limits::default()
    })
    .await;
    let bad_sde = |i: usize| {
        sde_item(
            &format!("s{i}"),
            json!({"type": "mrktInfo", "info": {"channel": 9}}),
        )
    };
    for i in 0..5 {
        let body = batch(
            vec![start_event(&format!("e{i}"), "START", "1", 1)],
            vec![bad_sde(i)],
        );
        let (status, answer) = server.post_events(&body).await;
        // The client hears of every rejected item, kept or not; good items are stored.
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["accepted"], 1);
        assert_eq!(answer["rejected"].as_array().unwrap().len(), 1);
    }
    assert_eq!(server.export(ExportKind::Quarantine).await.len(), 3);
    assert_eq!(server.export(ExportKind::Events).await.len(), 5);
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("engage_quarantine_dropped_total 2\n"),
        "{metrics}"
    );

    // Bytes count too: a second account's malformed bodies, 3,000 bytes each.
    let bytes_server = TestServer::with_limits(engage_server::Limits {
        quarantine_max_bytes: 5_000,
        ..engage_server::Limits::default()
    })
    .await;
    for _ in 0..2 {
        let response = bytes_server
            .client
            .post(bytes_server.events_url())
            .body(format!("{{\"visitorId\": \"{}", "x".repeat(2_984)))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
    }
    let kept = bytes_server.export(ExportKind::Quarantine).await;
    assert_eq!(kept.len(), 1);
}
