//! `engage bench analytics`: the history fill of `bench history` with a control group and
//! eligibility records, then the results report and funnel timed over HTTP.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use engage_model::OfferEventName;
use engage_server::decision::assignment::in_control_group;
use engage_store::analytics::EligibilityRecord;
use engage_store::{IngestBatch, NewAccount};
use serde::Serialize;
use serde_json::{json, Value};

use super::history::{create_campaigns, file_len, fill, vacuumed_database_bytes, PageHook};
use super::history_data::{Plan, DAY_MS};
use super::payload::Rng;
use super::server::{now_ms, percentile_ms, round, ServerProcess, Storage};
use crate::http_client::Connection;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Interactions (engagement contexts) to write, as `bench history` writes them.
    #[arg(long, default_value_t = 1_000_000)]
    interactions: u64,
    /// Distinct visitors.
    #[arg(long, default_value_t = 100_000)]
    visitors: u32,
    /// Days of history, ending now.
    #[arg(long, default_value_t = 30)]
    days: u32,
    /// Every campaign's control group, in percent: its visitors' interactions are
    /// recorded as held out and their events are not written.
    #[arg(long, default_value_t = 10)]
    control_percent: u8,
    /// Timed requests of each kind (after a tenth as many untimed ones).
    #[arg(long, default_value_t = 100)]
    queries: usize,
    /// Store writes in flight during the fill.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Fill this database (`postgres://...`) instead of SQLite files in a temporary
    /// directory.
    #[arg(long, env = "ENGAGE_DATABASE_URL")]
    database: Option<String>,
    /// Then time the two reports again on the same fill with the server's fact cache
    /// off (`--analytics-cache-mb 0`: every report reads the store), as the baseline.
    #[arg(long)]
    baseline_cache_off: bool,
}

#[derive(Serialize)]
struct Figures {
    fill_secs: f64,
    interactions: u64,
    events: u64,
    sdes: u64,
    eligibility_records: u64,
    store_mb: f64,
    /// One campaign, 30 days, by day.
    campaign_by_day: Latency,
    /// The whole account, 30 days, by campaign.
    account_by_campaign: Latency,
    /// Impression, click, cart, purchase over the last 7 days, 1 hour window.
    funnel_4_steps_7_days: Latency,
    /// The two reports again with the fact cache off (`--baseline-cache-off`).
    #[serde(skip_serializing_if = "Option::is_none")]
    cache_off: Option<ReportTimes>,
}

#[derive(Serialize)]
struct ReportTimes {
    campaign_by_day: Latency,
    account_by_campaign: Latency,
}

#[derive(Serialize)]
struct Latency {
    /// The first request (untimed among the warm-up ones): with the fact cache, the one
    /// that loads the account's facts.
    first_ms: f64,
    p50_ms: f64,
    p99_ms: f64,
    rows: usize,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.interactions >= 1
            && args.visitors >= 1
            && args.days >= 1
            && args.queries >= 1
            && args.concurrency >= 1
            && args.control_percent <= 50,
        "--interactions, --visitors, --days, --queries and --concurrency must be at least 1, --control-percent at most 50"
    );
    let scratch = tempfile::tempdir().context("cannot create a temporary directory")?;
    crate::runtime()?.block_on(bench(&args, scratch.path()))
}

/// Each page view's batch as a decision would have made it: every `START` is an
/// eligibility of the visitor for its campaign (exposed, or held out when the campaign's
/// control group holds them, and then none of that context's events are written).
fn control_group_hook(account: String, control_percent: u8) -> PageHook {
    Arc::new(move |batch: &mut IngestBatch| {
        let Some(visitor) = batch.visit.as_ref().map(|v| v.visitor_id.clone()) else {
            return Vec::new();
        };
        let mut records = Vec::new();
        let mut held_out = Vec::new();
        for e in &batch.events {
            if e.event.name != OfferEventName::Start {
                continue;
            }
            let key = &e.event.data.conf_key;
            let control = in_control_group(&account, key.campaign_id, &visitor, control_percent);
            if control {
                held_out.push(e.event.data.context_id.clone());
            }
            records.push(EligibilityRecord {
                campaign_id: key.campaign_id,
                engagement_id: key.engagement_id,
                visitor_id: visitor.clone(),
                control,
                at_ms: batch.received_ms,
                bot: false,
            });
        }
        if !held_out.is_empty() {
            batch
                .events
                .retain(|e| !held_out.contains(&e.event.data.context_id));
        }
        records
    })
}

async fn bench(args: &Args, data: &Path) -> anyhow::Result<()> {
    let db = data.join("engage.db");
    let storage = Storage::new(data, args.database.as_deref());
    let store = engage_store::open(&storage.url()).await?;
    let (api_key, api_key_hash) = engage_server::accounts::generate_api_key()
        .map_err(|e| anyhow::anyhow!("the system has no randomness for an api key: {e}"))?;
    let account = store
        .create_account(NewAccount {
            name: "bench analytics".into(),
            api_key_hash,
        })
        .await?;
    let engagements = create_campaigns(store.as_ref(), &account.id, args.control_percent).await?;
    let mut campaign_ids: Vec<u64> = engagements.iter().map(|e| e.campaign_id).collect();
    campaign_ids.dedup();

    let now = now_ms() as i64;
    let span_end = now - 3_600_000;
    let span_start = span_end - i64::from(args.days) * DAY_MS;
    let plan = Plan {
        account_id: account.id.clone(),
        interactions: args.interactions,
        visitors: args.visitors,
        span_start_ms: span_start,
        span_end_ms: span_end,
        sample_from_ms: span_start,
        engagements,
        seed: 2026,
    };
    eprintln!(
        "bench analytics: filling {} with {} interactions of {} visitors over {} days, {}% control groups",
        storage.url(),
        args.interactions,
        args.visitors,
        args.days,
        args.control_percent
    );
    let hook = control_group_hook(account.id.clone(), args.control_percent);
    let filled = fill(store.clone(), plan, args.concurrency, Some(hook)).await?;
    let fill_secs = filled.elapsed.as_secs_f64();
    eprintln!(
        "fill: {} interactions, {} events, {} SDEs, {} eligibility records in {:.1} s",
        filled.interactions, filled.events, filled.sdes, filled.eligibility, fill_secs
    );
    store.close().await?;
    drop(store);
    let store_mb = match &storage {
        Storage::Dir(_) => (file_len(&db) + file_len(&data.join("engage.db-wal"))) as f64 / 1e6,
        Storage::Url(url) => vacuumed_database_bytes(url).await? as f64 / 1e6,
    };

    let server = ServerProcess::start(&storage, Duration::from_secs(120)).await?;
    let mut connection = Connection::open(&server.address).await?;
    let month = (now - 30 * DAY_MS, now);
    let week = (now - 7 * DAY_MS, now);
    let report_path = format!("/api/account/{}/analytics/report", account.id);
    let funnel_path = format!("/api/account/{}/analytics/funnel", account.id);
    let mut rng = Rng::new(11);
    copy_loaded(&mut connection, &report_path, &api_key, month).await?;

    let reports = two_reports(
        &mut connection,
        &report_path,
        &api_key,
        args.queries,
        &campaign_ids,
        month,
        "",
    )
    .await?;
    let funnel_4_steps_7_days = measure(
        &mut connection,
        &funnel_path,
        &api_key,
        args.queries,
        "funnel",
        |_| {
            json!({"from": week.0, "to": week.1, "windowSeconds": 3600,
                   "steps": [{"event": "OFFER_IMPRESSION"}, {"event": "OFFER_CLICK"}, {"sde": "cart"}, {"sde": "purchase"}]})
        },
        &mut rng,
    )
    .await?;
    server.stop();
    let cache_off = if args.baseline_cache_off {
        let server = ServerProcess::start_with(
            &storage,
            Duration::from_secs(120),
            &["--analytics-cache-mb", "0"],
        )
        .await?;
        let mut connection = Connection::open(&server.address).await?;
        let reports = two_reports(
            &mut connection,
            &report_path,
            &api_key,
            args.queries,
            &campaign_ids,
            month,
            " (cache off)",
        )
        .await?;
        server.stop();
        Some(reports)
    } else {
        None
    };
    let figures = Figures {
        fill_secs: round(fill_secs, 1),
        interactions: filled.interactions,
        events: filled.events,
        sdes: filled.sdes,
        eligibility_records: filled.eligibility,
        store_mb: round(store_mb, 1),
        campaign_by_day: reports.campaign_by_day,
        account_by_campaign: reports.account_by_campaign,
        funnel_4_steps_7_days,
        cache_off,
    };
    println!("{}", serde_json::to_string(&figures)?);
    Ok(())
}

/// Times the two reports of the targets: one campaign by day, the whole account by
/// campaign, over `month` (the same random campaigns in every run: the generator's seed).
async fn two_reports(
    connection: &mut Connection,
    report_path: &str,
    api_key: &str,
    queries: usize,
    campaign_ids: &[u64],
    month: (i64, i64),
    label: &str,
) -> anyhow::Result<ReportTimes> {
    let mut rng = Rng::new(11);
    let campaign_by_day = measure(
        connection,
        report_path,
        api_key,
        queries,
        &format!("campaign_by_day{label}"),
        |rng| {
            let campaign = campaign_ids[rng.below(campaign_ids.len() as u64) as usize];
            json!({"from": month.0, "to": month.1, "groupBy": ["day"], "campaignIds": [campaign]})
        },
        &mut rng,
    )
    .await?;
    let account_by_campaign = measure(
        connection,
        report_path,
        api_key,
        queries,
        &format!("account_by_campaign{label}"),
        |_| json!({"from": month.0, "to": month.1, "groupBy": ["campaign"]}),
        &mut rng,
    )
    .await?;
    Ok(ReportTimes {
        campaign_by_day,
        account_by_campaign,
    })
}

/// Sends one report, which starts the server's fact cache loading the account in the
/// background (docs/analytics.md, The fact cache), and waits until the copy is in place,
/// so the timed reports are those of a server that has run for a while.
async fn copy_loaded(
    connection: &mut Connection,
    report_path: &str,
    api_key: &str,
    (from, to): (i64, i64),
) -> anyhow::Result<()> {
    let started = Instant::now();
    let body = json!({"from": from, "to": to, "groupBy": ["campaign"]}).to_string();
    let (status, _) = connection
        .post_json_as(report_path, body, Some(api_key))
        .await?;
    anyhow::ensure!(status == 200, "the first report answered {status}");
    loop {
        let (status, metrics) = connection.get_body("/metrics").await?;
        anyhow::ensure!(status == 200, "/metrics answered {status}");
        let loaded = String::from_utf8_lossy(&metrics)
            .lines()
            .find_map(|l| l.strip_prefix("engage_analytics_cache_bytes "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .is_some_and(|bytes| bytes > 0.0);
        if loaded {
            eprintln!(
                "fact cache: the account's copy loaded {:.1} s after its first report",
                started.elapsed().as_secs_f64()
            );
            return Ok(());
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "the fact cache loaded no copy within 10 minutes (over --analytics-cache-mb?)"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Sends `n` requests (after a tenth as many to warm up), one at a time; every answer
/// must be a 200 with rows.
async fn measure(
    connection: &mut Connection,
    path: &str,
    api_key: &str,
    n: usize,
    name: &str,
    body: impl Fn(&mut Rng) -> Value,
    rng: &mut Rng,
) -> anyhow::Result<Latency> {
    let warmup = (n / 10).max(1);
    let mut latencies = Vec::with_capacity(n);
    let mut rows = 0;
    let mut first = Duration::ZERO;
    for i in 0..warmup + n {
        let request = body(rng).to_string();
        let sent = Instant::now();
        let (status, answer) = connection
            .post_json_as(path, request.clone(), Some(api_key))
            .await
            .with_context(|| format!("{name} request failed"))?;
        let took = sent.elapsed();
        let answer: Value = serde_json::from_slice(&answer).unwrap_or(Value::Null);
        anyhow::ensure!(status == 200, "{name}: {status} for {request}: {answer}");
        let n_rows = answer["rows"].as_array().map_or(0, Vec::len);
        anyhow::ensure!(n_rows > 0, "{name}: no rows for {request}: {answer}");
        if i == 0 {
            first = took;
        }
        if i >= warmup {
            latencies.push(took);
            rows = n_rows;
        }
    }
    latencies.sort_unstable();
    let latency = Latency {
        first_ms: round(first.as_secs_f64() * 1000.0, 3),
        p50_ms: round(percentile_ms(&latencies, 0.50), 3),
        p99_ms: round(percentile_ms(&latencies, 0.99), 3),
        rows,
    };
    eprintln!(
        "{name:<20} first {:>9.2} ms  p50 {:>9.2} ms  p99 {:>9.2} ms  {rows} rows",
        latency.first_ms, latency.p50_ms, latency.p99_ms
    );
    Ok(latency)
}
