//! `engage bench ingest`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use engage_server::request::CollectBody;
use engage_store::{IngestBatch, NewAccount};
use serde::Serialize;

use super::payload::{collect_body, Rng, Visit};
use super::server::{
    now_ms, peak_rss_mb, percentile_ms, round as round_to, ServerProcess, Storage,
};
use crate::http_client::{authority, Connection};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Seconds of load for each of the two (over HTTP, and straight into the store),
    /// taken in alternating rounds.
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
    /// The store to benchmark (`postgres://...`, see `engage serve --database`) instead
    /// of SQLite files in a temporary directory; the server and the ceiling write into it,
    /// each into an account of its own.
    #[arg(long, env = "ENGAGE_DATABASE_URL")]
    database: Option<String>,
    /// `engage serve` processes to start on the one --database (PostgreSQL), the HTTP
    /// connections dealt among them in turn; the figures are their sum, and each one's
    /// rate is reported beside it.
    #[arg(long, default_value_t = 1, conflicts_with = "url",
          value_parser = clap::value_parser!(u64).range(1..=8))]
    servers: u64,
}

#[derive(Serialize)]
struct Figures {
    /// The sum over the servers.
    items_per_sec: f64,
    servers: usize,
    /// Each server's share, in the order they were started.
    per_server_items_per_sec: Vec<f64>,
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
    anyhow::ensure!(
        args.servers == 1
            || args
                .database
                .as_deref()
                .is_some_and(|d| d.starts_with("postgres")),
        "--servers above 1 needs --database postgres://...: servers share a PostgreSQL database, \
         not a SQLite file"
    );
    crate::runtime()?.block_on(async move {
        let scratch = tempfile::tempdir().context("cannot create a temporary directory")?;
        let mut servers = Vec::new();
        let (urls, account) = match (&args.url, &args.account) {
            (Some(url), Some(account)) => (vec![url.clone()], account.clone()),
            _ => {
                let storage = Storage::new(&scratch.path().join("http"), args.database.as_deref());
                let (account, first) = start_server(&storage).await?;
                servers.push(first);
                while servers.len() < usize::try_from(args.servers).unwrap_or(1) {
                    servers.push(ServerProcess::start(&storage, Duration::from_secs(20)).await?);
                }
                (servers.iter().map(ServerProcess::url).collect(), account)
            }
        };
        let url = urls.join(" and ");
        eprintln!(
            "bench ingest: {}s over HTTP at {url} and {}s straight through the store, in {ROUNDS} alternating rounds each, concurrency {}, {} items a request",
            args.duration, args.duration, args.concurrency, args.batch
        );
        let direct = engage_store::open(
            &Storage::new(&scratch.path().join("direct"), args.database.as_deref()).url(),
        )
        .await?;
        let direct_account = direct
            .create_account(NewAccount {
                name: "bench".into(),
                // Unique: runs on one shared database make an account each.
                api_key_hash: format!("{:0>64}", engage_store::ids::new_id()),
            })
            .await?;
        let round = Duration::from_secs_f64(args.duration as f64 / ROUNDS as f64);
        let mut http = HttpFigures::default();
        let (mut stored, mut stored_secs) = (0u64, 0f64);
        for n in 1..=ROUNDS {
            eprintln!("round {n}/{ROUNDS}: HTTP");
            http.add(drive_http(&urls, &account, &args, round).await?);
            eprintln!("round {n}/{ROUNDS}: straight through the store");
            let (items, secs) = drive_store(&direct, &direct_account.id, &args, round).await?;
            stored += items;
            stored_secs += secs;
        }
        direct.close().await?;
        let server_rss_mb = servers.first().and_then(|s| peak_rss_mb(s.id()));
        for server in servers.drain(..) {
            server.stop();
        }
        http.latencies.sort_unstable();
        let (p50_ms, p99_ms) = (
            percentile_ms(&http.latencies, 0.50),
            percentile_ms(&http.latencies, 0.99),
        );
        let http_rate = http.acknowledged.iter().sum::<u64>() as f64 / http.secs;
        let per_server: Vec<f64> = http
            .acknowledged
            .iter()
            .map(|&n| round_to(n as f64 / http.secs, 0))
            .collect();
        let ceiling = stored as f64 / stored_secs;
        eprintln!(
            "http: {http_rate:.0} items/s, p50 {p50_ms:.2} ms, p99 {p99_ms:.2} ms, {} requests, {} failed",
            http.latencies.len(),
            http.failures
        );
        eprintln!("store: {ceiling:.0} items/s");
        anyhow::ensure!(
            http.failures == 0,
            "{} requests failed; the figures would not be honest",
            http.failures
        );
        let figures = Figures {
            items_per_sec: round_to(http_rate, 0),
            servers: per_server.len(),
            per_server_items_per_sec: per_server,
            p50_ms: round_to(p50_ms, 3),
            p99_ms: round_to(p99_ms, 3),
            ceiling_items_per_sec: round_to(ceiling, 0),
            ratio: round_to(http_rate / ceiling, 3),
            server_rss_mb: server_rss_mb.map(|m| round_to(m, 1)),
        };
        println!("{}", serde_json::to_string(&figures)?);
        Ok(())
    })
}

/// The HTTP run and the ceiling take turns this many times, each for a share of
/// `--duration`, so that what else the machine does weighs on both alike.
const ROUNDS: u32 = 5;

/// Starts `engage serve` on a free loopback port with a fresh store and account.
async fn start_server(storage: &Storage) -> anyhow::Result<(String, ServerProcess)> {
    let store = engage_store::open(&storage.url()).await?;
    let account = store
        .create_account(NewAccount {
            name: "bench".into(),
            // Unique: runs on one shared database make an account each.
            api_key_hash: format!("{:0>64}", engage_store::ids::new_id()),
        })
        .await?;
    store.close().await?;
    drop(store);
    let server = ServerProcess::start(storage, Duration::from_secs(20)).await?;
    Ok((account.id, server))
}

/// What the HTTP rounds gave, added up.
#[derive(Default)]
struct HttpFigures {
    /// Items acknowledged by each server.
    acknowledged: Vec<u64>,
    secs: f64,
    latencies: Vec<Duration>,
    failures: u64,
}

impl HttpFigures {
    fn add(&mut self, round: HttpFigures) {
        self.acknowledged
            .resize(round.acknowledged.len().max(self.acknowledged.len()), 0);
        for (sum, n) in self.acknowledged.iter_mut().zip(&round.acknowledged) {
            *sum += n;
        }
        self.secs += round.secs;
        self.latencies.extend(round.latencies);
        self.failures += round.failures;
    }
}

/// One HTTP round of `duration`, connection `i` to server `i % urls.len()`.
async fn drive_http(
    urls: &[String],
    account: &str,
    args: &Args,
    duration: Duration,
) -> anyhow::Result<HttpFigures> {
    let path = format!("/api/account/{account}/events");
    let stop = Arc::new(AtomicBool::new(false));
    let counters: Vec<Arc<AtomicU64>> = urls.iter().map(|_| Arc::default()).collect();
    let total = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for task in 0..args.concurrency {
        let server = task % urls.len();
        let mut connection = Connection::open(&authority(&urls[server])?).await?;
        let (path, stop, acknowledged, total, failures) = (
            path.clone(),
            stop.clone(),
            counters[server].clone(),
            total.clone(),
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
                        total.fetch_add(accepted, Ordering::Relaxed);
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
    report_progress(&total, duration).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await?);
    }
    Ok(HttpFigures {
        acknowledged: counters.iter().map(|c| c.load(Ordering::Relaxed)).collect(),
        secs: started.elapsed().as_secs_f64(),
        latencies,
        failures: failures.load(Ordering::Relaxed),
    })
}

/// The store's limit: the same writer and group commit as the server's, fed by as many
/// concurrent tasks as the HTTP run has connections, with batches of the same shape (a
/// new page view per batch, a new visit every 20, fresh engagement context and client
/// ids), parsed before the clock starts. Each write takes a parsed template and renews
/// its ids, as the HTTP client makes new ids for every body; what is left out is the
/// HTTP exchange, the parsing and the validation.
///
/// One round of `duration`; returns the items written and the seconds it took.
async fn drive_store(
    store: &Arc<dyn engage_store::Store>,
    account_id: &str,
    args: &Args,
    duration: Duration,
) -> anyhow::Result<(u64, f64)> {
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for task in 0..args.concurrency {
        let (store, stop, written, account_id, batch) = (
            store.clone(),
            stop.clone(),
            written.clone(),
            account_id.to_owned(),
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
    report_progress(&written, duration).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await??;
    }
    Ok((
        written.load(Ordering::Relaxed),
        started.elapsed().as_secs_f64(),
    ))
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
