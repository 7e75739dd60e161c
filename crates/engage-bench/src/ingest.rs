//! `engage bench ingest`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use engage_server::request::CollectBody;
use engage_store::{IngestBatch, NewAccount};
use serde::Serialize;

use super::payload::{collect_body, Rng, Visit};
use super::server::{now_ms, peak_rss_mb, percentile_ms, round, ServerProcess};
use crate::http_client::{authority, Connection};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Seconds of load for each of the two phases (HTTP, then straight to the store).
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Concurrent connections (HTTP) or writers (store).
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Items (events and SDEs) per request.
    #[arg(long, default_value_t = 20)]
    batch: usize,
    /// Benchmark a running server instead of starting one (needs --account).
    #[arg(long, requires = "account")]
    url: Option<String>,
    /// The account to post to, with --url.
    #[arg(long)]
    account: Option<String>,
}

#[derive(Serialize)]
struct Figures {
    items_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    ceiling_items_per_sec: f64,
    ratio: f64,
    server_rss_mb: Option<f64>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.batch >= 1 && args.concurrency >= 1 && args.duration >= 1,
        "--batch, --concurrency and --duration must be at least 1"
    );
    crate::runtime()?.block_on(async move {
        let scratch = tempfile::tempdir().context("cannot create a temporary directory")?;
        let (url, account, mut server) = match (&args.url, &args.account) {
            (Some(url), Some(account)) => (url.clone(), account.clone(), None),
            _ => {
                let (account, server) = start_server(scratch.path()).await?;
                (server.url(), account, Some(server))
            }
        };
        eprintln!(
            "bench ingest: {}s over HTTP at {url}, concurrency {}, {} items a request",
            args.duration, args.concurrency, args.batch
        );
        let http = drive_http(&url, &account, &args).await?;
        let server_rss_mb = server.as_ref().and_then(|s| peak_rss_mb(s.id()));
        if let Some(server) = server.take() {
            server.stop();
            // The HTTP run's store is done with: deleted, its pages need not reach the
            // disk while the ceiling's commits wait for it.
            let _ = std::fs::remove_dir_all(scratch.path().join("http"));
        }
        eprintln!(
            "http: {:.0} items/s, p50 {:.2} ms, p99 {:.2} ms, {} requests, {} failed",
            http.items_per_sec, http.p50_ms, http.p99_ms, http.requests, http.failures
        );
        anyhow::ensure!(
            http.failures == 0,
            "{} requests failed; the figures would not be honest",
            http.failures
        );

        eprintln!(
            "bench ingest: {}s straight through the store, {} writers",
            args.duration, args.concurrency
        );
        let ceiling = drive_store(scratch.path(), &args).await?;
        eprintln!("store: {ceiling:.0} items/s");
        let figures = Figures {
            items_per_sec: round(http.items_per_sec, 0),
            p50_ms: round(http.p50_ms, 3),
            p99_ms: round(http.p99_ms, 3),
            ceiling_items_per_sec: round(ceiling, 0),
            ratio: round(http.items_per_sec / ceiling, 3),
            server_rss_mb: server_rss_mb.map(|m| round(m, 1)),
        };
        println!("{}", serde_json::to_string(&figures)?);
        Ok(())
    })
}

/// Starts `engage serve` on a free loopback port with a fresh store and account.
async fn start_server(dir: &std::path::Path) -> anyhow::Result<(String, ServerProcess)> {
    let data = dir.join("http");
    let store =
        engage_store::open(&format!("sqlite://{}", data.join("engage.db").display())).await?;
    let account = store
        .create_account(NewAccount {
            name: "bench".into(),
            api_key_hash: "0".repeat(64),
        })
        .await?;
    store.close().await?;
    drop(store);
    let server = ServerProcess::start(&data, Duration::from_secs(20)).await?;
    Ok((account.id, server))
}

struct HttpFigures {
    items_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    requests: usize,
    failures: u64,
}

async fn drive_http(url: &str, account: &str, args: &Args) -> anyhow::Result<HttpFigures> {
    let authority = authority(url)?;
    let path = format!("/api/account/{account}/events");
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for task in 0..args.concurrency {
        let mut connection = Connection::open(&authority).await?;
        let (path, stop, acknowledged, failures) = (
            path.clone(),
            stop.clone(),
            acknowledged.clone(),
            failures.clone(),
        );
        let batch = args.batch;
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng::new(task as u64 + 1);
            let mut visit = Visit::new();
            let mut latencies = Vec::with_capacity(100_000);
            while !stop.load(Ordering::Relaxed) {
                let body = collect_body(&mut rng, &visit, batch, now_ms());
                let sent = Instant::now();
                match connection.post_json(&path, body).await {
                    Ok((200, response)) => {
                        latencies.push(sent.elapsed());
                        let accepted = serde_json::from_slice::<serde_json::Value>(&response)
                            .ok()
                            .and_then(|v| v["accepted"].as_u64())
                            .unwrap_or(0);
                        acknowledged.fetch_add(accepted, Ordering::Relaxed);
                        if accepted != batch as u64 {
                            failures.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Ok((status, response)) => {
                        failures.fetch_add(1, Ordering::Relaxed);
                        eprintln!("status {status}: {}", String::from_utf8_lossy(&response));
                    }
                    Err(error) => {
                        failures.fetch_add(1, Ordering::Relaxed);
                        eprintln!("request failed: {error:#}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
                visit.next_page();
            }
            latencies
        }));
    }
    let started = Instant::now();
    report_progress(&acknowledged, Duration::from_secs(args.duration)).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await?);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    Ok(HttpFigures {
        items_per_sec: acknowledged.load(Ordering::Relaxed) as f64 / elapsed,
        p50_ms: percentile_ms(&latencies, 0.50),
        p99_ms: percentile_ms(&latencies, 0.99),
        requests: latencies.len(),
        failures: failures.load(Ordering::Relaxed),
    })
}

/// The store's limit: the same writer and group commit as the server's, fed by as many
/// concurrent tasks as the HTTP run has connections, with batches of the same shape (a
/// new page view per batch, a new visit every 20, fresh engagement context and client
/// ids), parsed before the clock starts. Each write takes a parsed template and renews
/// its ids, as the HTTP client makes new ids for every body; what is left out is the
/// HTTP exchange, the parsing and the validation.
async fn drive_store(dir: &std::path::Path, args: &Args) -> anyhow::Result<f64> {
    let store = engage_store::open(&format!(
        "sqlite://{}",
        dir.join("direct").join("engage.db").display()
    ))
    .await?;
    let account = store
        .create_account(NewAccount {
            name: "bench".into(),
            api_key_hash: "0".repeat(64),
        })
        .await?;
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for task in 0..args.concurrency {
        let (store, stop, written, account_id, batch) = (
            store.clone(),
            stop.clone(),
            written.clone(),
            account.id.clone(),
            args.batch,
        );
        // Templates are parsed before the clock starts.
        let mut rng = Rng::new(1000 + task as u64);
        let mut visit = Visit::new();
        let mut templates = Vec::new();
        for _ in 0..16 {
            let body = collect_body(&mut rng, &visit, batch, now_ms());
            templates.push(
                CollectBody::read(body.as_bytes(), None, usize::MAX)
                    .map_err(|e| anyhow::anyhow!("{e:?}"))?,
            );
            visit.next_page();
        }
        let mut visit = Visit::new();
        tasks.push(tokio::spawn(async move {
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let template = &templates[n % templates.len()];
                n += 1;
                let batch = renew_ids(template, &visit);
                visit.next_page();
                let outcome = store
                    .ingest(IngestBatch {
                        account_id: account_id.clone(),
                        received_ms: now_ms() as i64,
                        visit: Some(batch.visit),
                        events: batch.events,
                        sdes: batch.sdes,
                        rejected: vec![],
                    })
                    .await;
                match outcome {
                    Ok(o) => {
                        written.fetch_add(o.accepted as u64, Ordering::Relaxed);
                    }
                    Err(error) => return Err(anyhow::anyhow!("store write failed: {error}")),
                }
            }
            Ok(())
        }));
    }
    let started = Instant::now();
    report_progress(&written, Duration::from_secs(args.duration)).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let total = written.load(Ordering::Relaxed) as f64;
    store.close().await?;
    Ok(total / elapsed)
}

/// A copy of a parsed `template` with the ids a new body of `visit` would have: the
/// visit's visitor, session and page, a fresh client id per item and a fresh id per
/// engagement context (each run of events shares one, as in the body).
fn renew_ids(template: &CollectBody, visit: &Visit) -> CollectBody {
    let mut batch = template.clone();
    batch.visit.visitor_id.clone_from(&visit.visitor_id);
    batch.visit.session_id.clone_from(&visit.session_id);
    batch.visit.page_id.clone_from(&visit.page_id);
    let mut renamed: Option<(String, String)> = None;
    for e in &mut batch.events {
        e.client_id = uuid::Uuid::now_v7().hyphenated().to_string();
        e.event.data.page_context_id.clone_from(&visit.page_id);
        let context = &mut e.event.data.context_id;
        match &renamed {
            Some((from, to)) if from == context => context.clone_from(to),
            _ => {
                let to = uuid::Uuid::now_v7().hyphenated().to_string();
                let from = std::mem::replace(context, to.clone());
                renamed = Some((from, to));
            }
        }
    }
    for s in &mut batch.sdes {
        s.client_id = uuid::Uuid::now_v7().hyphenated().to_string();
    }
    batch
}

/// Prints the rate each second on stderr until `duration` has passed.
async fn report_progress(counter: &AtomicU64, duration: Duration) {
    let started = Instant::now();
    let mut last = 0;
    while started.elapsed() < duration {
        tokio::time::sleep(Duration::from_secs(1).min(duration)).await;
        let now = counter.load(Ordering::Relaxed);
        eprintln!(
            "  {:>3.0}s  {:>8} items/s",
            started.elapsed().as_secs_f64(),
            now - last
        );
        last = now;
    }
}
