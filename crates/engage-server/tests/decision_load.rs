//! The decision route's throughput over loopback HTTP, against an account with 1,000
//! engagements (the criterion benchmark's account) and visits that have stored
//! attributes, so every request reads the visit and the visitor's impressions.
//!
//! `cargo test --release -p engage-server --test integration decision_load -- --ignored --nocapture`

// Tests: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::admin_support;
use crate::common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use admin_support::{account_url, collect};
use common::TestServer;
use engage_model::{AgentState, EngagementType};
use engage_store::{CampaignFields, EngagementContent, EngagementDefinition, RawJson};
use serde_json::json;

const ENGAGEMENTS: u64 = 1000;
const VISITORS: u64 = 200;
const CLIENTS: usize = 16;
const RUN: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread")]
#[ignore = "a load measurement: run with --release --ignored --nocapture"]
async fn decision_route_throughput_with_1000_engagements() {
    let server = TestServer::start().await;
    let store = &server.store;
    let account = &server.account_id;
    let mut campaigns = Vec::new();
    for c in 0..ENGAGEMENTS / 20 {
        let fields = CampaignFields {
            name: format!("campaign {c}"),
            goal: None,
            priority: u32::try_from(c % 10).unwrap(),
            enabled: true,
            control_group_percent: 0,
            attribution_window_days: 7,
        };
        campaigns.push(store.create_campaign(account, fields).await.unwrap().id);
    }
    for e in 0..ENGAGEMENTS {
        let targeting = match e % 5 {
            0 => json!({"sections": {"include": [format!("section-{}", e % 60)]}}),
            1 => json!({"url": {"include": [{"contains": format!("/promo/{e}")}]}}),
            2 => json!({"sdes": [{"path": "cartStatus.total", "op": "gt", "value": 1000 + e}]}),
            3 => {
                json!({"sdes": [{"path": "customerInfo.customerType", "op": "eq", "value": format!("tier-{e}")}],
                       "frequency": {"maxImpressions": 3}})
            }
            _ => json!({"url": {"include": [{"regex": "/category/(shoes|bags)/"}]}}),
        };
        let definition = EngagementDefinition {
            name: format!("engagement {e}"),
            engagement_type: EngagementType::Overlay,
            tgl_name: "overlay".into(),
            zone_id: Some(e % 40),
            timeout_seconds: None,
            targeting: RawJson::to_json(&targeting).unwrap(),
            content: EngagementContent::default(),
            hide_when_offline: false,
            action: None,
            weight: None,
        };
        store
            .create_engagement(
                account,
                campaigns[(e / 20) as usize],
                definition,
                AgentState::Online,
            )
            .await
            .unwrap()
            .unwrap();
    }
    for v in 0..VISITORS {
        collect(
            &server,
            &format!("visitor-{v}"),
            &format!("visitor-{v}-session"),
            vec![],
            vec![
                json!({"type": "ctmrinfo", "info": {"ctype": "gold", "customerId": format!("C{v}")}}),
                json!({"type": "prodView", "products": [{"product": {"category": "shoes"}}]}),
            ],
        )
        .await;
    }

    let done = Arc::new(AtomicU64::new(0));
    let shown = Arc::new(AtomicU64::new(0));
    let url = account_url(&server, "/decision");
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let (done, shown, url) = (done.clone(), shown.clone(), url.clone());
        let http = reqwest::Client::new();
        tasks.push(tokio::spawn(async move {
            let mut n = client as u64;
            while started.elapsed() < RUN {
                let v = n % VISITORS;
                let body = json!({
                    "visitorId": format!("visitor-{v}"), "sessionId": format!("visitor-{v}-session"),
                    "pageId": format!("page-{n}"),
                    "url": "https://shop.example/category/shoes/product/12345?ref=home",
                    "sections": ["shop", "shoes", "section-7"],
                    "sdes": [{"type": "cart", "total": 250, "numItems": 3}]
                });
                let response = http
                    .post(&url)
                    .header("content-type", "text/plain")
                    .body(body.to_string())
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200);
                let answer: serde_json::Value = response.json().await.unwrap();
                shown.fetch_add(
                    answer["engagements"].as_array().unwrap().len() as u64,
                    Ordering::Relaxed,
                );
                done.fetch_add(1, Ordering::Relaxed);
                n += CLIENTS as u64;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let done = done.load(Ordering::Relaxed);
    println!(
        "decision route: {done} requests in {elapsed:.1} s = {:.0} requests/s with {CLIENTS} clients, {:.1} engagements shown per page view",
        done as f64 / elapsed,
        shown.load(Ordering::Relaxed) as f64 / done as f64
    );
    assert!(done > 0);
}
