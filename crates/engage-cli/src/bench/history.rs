//! `engage bench history`: fill a store with a month of a shop's history, then query it
//! through the Engagement History API of a real server.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use engage_model::{AgentState, EngagementType};
use engage_store::{
    CampaignFields, EngagementContent, EngagementDefinition, IngestOutcome, NewAccount, Store,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use serde_json::json;
use tokio::task::JoinSet;

use super::history_data::{EngagementPlan, HistoryGenerator, PageBatch, Plan, Samples, DAY_MS};
use super::payload::Rng;
use super::server::{now_ms, percentile_ms, round, ServerProcess};
use crate::http_client::Connection;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Interactions (engagement contexts) to write; each has about 10 LP_OFFERS events,
    /// and its visit about 2 SDEs per interaction.
    #[arg(long, default_value_t = 1_000_000)]
    interactions: u64,
    /// Distinct visitors; each has one or more visits, each visit several page views.
    #[arg(long, default_value_t = 100_000)]
    visitors: u32,
    /// Days of history, ending now.
    #[arg(long, default_value_t = 30)]
    days: u32,
    /// Timed queries of each kind (after a tenth as many untimed ones to warm up).
    #[arg(long, default_value_t = 200)]
    queries: usize,
    /// Store writes (one page view's batch each) in flight during the fill; the store
    /// commits the ones that wait together.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Fill this directory (absent or empty) and keep it, instead of a temporary one;
    /// `engage serve --data DIR` serves it afterwards.
    #[arg(long, value_name = "DIR")]
    keep: Option<PathBuf>,
}

/// The campaigns of the simulated account, and how many engagements each has
/// (`2 + n % 4`).
const CAMPAIGNS: u64 = 20;
/// The Engagement History API takes at most this span without a visitor.
const SEARCH_WINDOW_DAYS: i64 = 30;
const PAGE_LIMIT: usize = 50;
const DEEP_OFFSET: usize = 5_000;

#[derive(Serialize)]
struct Figures {
    fill_secs: f64,
    fill_rows_per_sec: f64,
    interactions: u64,
    events: u64,
    sdes: u64,
    store_mb: f64,
    visitor: Latency,
    range_campaign: Latency,
    sde_search: Latency,
    keyword: Latency,
    deep_page: Latency,
}

#[derive(Serialize)]
struct Latency {
    p50_ms: f64,
    p99_ms: f64,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.interactions >= 1
            && args.visitors >= 1
            && args.days >= 1
            && args.queries >= 1
            && args.concurrency >= 1,
        "--interactions, --visitors, --days, --queries and --concurrency must be at least 1"
    );
    let scratch;
    let data = match &args.keep {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            anyhow::ensure!(
                std::fs::read_dir(dir)?.next().is_none(),
                "--keep {} is not empty: give a new or empty directory",
                dir.display()
            );
            dir.clone()
        }
        None => {
            scratch = tempfile::tempdir().context("cannot create a temporary directory")?;
            scratch.path().to_owned()
        }
    };
    crate::runtime()?.block_on(bench(&args, &data))
}

async fn bench(args: &Args, data: &Path) -> anyhow::Result<()> {
    let db = data.join("engage.db");
    let store = engage_store::open(&format!("sqlite://{}", db.display())).await?;
    let (api_key, api_key_hash) = engage_server::accounts::generate_api_key()
        .map_err(|e| anyhow::anyhow!("the system has no randomness for an api key: {e}"))?;
    let account = store
        .create_account(NewAccount {
            name: "bench history".into(),
            api_key_hash,
        })
        .await?;
    let engagements = create_campaigns(store.as_ref(), &account.id).await?;
    let campaign_ids = {
        let mut ids: Vec<u64> = engagements.iter().map(|e| e.campaign_id).collect();
        ids.dedup();
        ids
    };

    // The history ends an hour ago, so every visit (at most a few minutes of page
    // views after it starts) is over before the fill begins; searches end now.
    let now = now_ms() as i64;
    let span_end = now - 3_600_000;
    let span_start = span_end - i64::from(args.days) * DAY_MS;
    let window_to = now;
    let window_from = window_to - SEARCH_WINDOW_DAYS * DAY_MS;
    let plan = Plan {
        account_id: account.id.clone(),
        interactions: args.interactions,
        visitors: args.visitors,
        span_start_ms: span_start,
        span_end_ms: span_end,
        sample_from_ms: window_from,
        engagements,
        seed: 2026,
    };
    eprintln!(
        "bench history: filling {} with {} interactions of {} visitors over {} days ({} campaigns, {} engagements), {} writes in flight",
        data.display(),
        args.interactions,
        args.visitors,
        args.days,
        campaign_ids.len(),
        plan.engagements.len(),
        args.concurrency
    );
    let fill = fill(store.clone(), plan, args.concurrency).await?;
    let rows = fill.events + fill.sdes;
    let fill_secs = fill.elapsed.as_secs_f64();
    eprintln!(
        "fill: {} interactions, {} events, {} SDEs in {} page views; {:.1} s, {:.0} rows/s",
        fill.interactions,
        fill.events,
        fill.sdes,
        fill.batches,
        fill_secs,
        rows as f64 / fill_secs
    );
    if !fill.cpu.is_empty() {
        let cpu: Vec<String> = (fill.cpu.iter())
            .filter(|(_, secs)| *secs >= 0.05)
            .map(|(name, secs)| format!("{name} {secs:.1} s"))
            .collect();
        eprintln!("fill: CPU time by thread: {}", cpu.join(", "));
    }
    let closing = Instant::now();
    store.close().await?;
    drop(store);
    let store_mb = (file_len(&db) + file_len(&data.join("engage.db-wal"))) as f64 / 1e6;
    eprintln!(
        "store: closed in {:.1} s, {store_mb:.0} MB (database and log)",
        closing.elapsed().as_secs_f64()
    );
    if args.keep.is_some() {
        eprintln!(
            "kept: {} (account {}, api key {api_key})",
            data.display(),
            account.id
        );
    }

    let server = ServerProcess::start(data, Duration::from_secs(120)).await?;
    eprintln!(
        "bench history: {} queries of each kind at {}, one at a time",
        args.queries,
        server.url()
    );
    let mut connection = Connection::open(&server.address).await?;
    let queries = Queries {
        account: account.id.clone(),
        api_key,
        samples: fill.samples,
        campaign_ids,
        window_from,
        window_to,
        days: i64::from(args.days).min(SEARCH_WINDOW_DAYS),
    };
    let mut rng = Rng::new(7);
    let mut latencies = Vec::new();
    for kind in Kind::ALL {
        let measured = queries
            .measure(&mut connection, kind, args.queries, &mut rng)
            .await?;
        latencies.push(measured);
    }
    server.stop();
    let [visitor, range_campaign, sde_search, keyword, deep_page] =
        <[Latency; 5]>::try_from(latencies)
            .map_err(|_| anyhow::anyhow!("expected one set of latencies per kind"))?;
    let figures = Figures {
        fill_secs: round(fill_secs, 1),
        fill_rows_per_sec: round(rows as f64 / fill_secs, 0),
        interactions: fill.interactions,
        events: fill.events,
        sdes: fill.sdes,
        store_mb: round(store_mb, 1),
        visitor,
        range_campaign,
        sde_search,
        keyword,
        deep_page,
    };
    println!("{}", serde_json::to_string(&figures)?);
    Ok(())
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Makes the account's campaigns and engagements through the store, as the admin API
/// does, so interactions name real ones; some engagements get later revisions.
async fn create_campaigns(store: &dyn Store, account: &str) -> anyhow::Result<Vec<EngagementPlan>> {
    const THEMES: [&str; 5] = [
        "Spring sale",
        "Free shipping",
        "Chat with a stylist",
        "Cart rescue",
        "Loyalty club",
    ];
    const PURPOSES: [&str; 5] = [
        "chat button",
        "offer",
        "newsletter invite",
        "help",
        "coupon",
    ];
    let targeting = engage_server::decision::Targeting::default().to_json();
    let mut plans = Vec::new();
    for c in 0..CAMPAIGNS {
        let campaign = store
            .create_campaign(
                account,
                CampaignFields {
                    name: format!("{} {}", THEMES[(c % 5) as usize], c / 5 + 1),
                    goal: Some("Increase sales".into()),
                    priority: c as u32,
                    enabled: true,
                },
            )
            .await?;
        for e in 0..2 + c % 4 {
            let n = (c * 5 + e) as usize;
            let engagement_type = EngagementType::ALL[n % EngagementType::ALL.len()];
            // The seed shows a sticky engagement rendered by `overlay`.
            let tgl_name = if engagement_type == EngagementType::Sticky && e % 2 == 0 {
                "overlay"
            } else {
                engagement_type.default_tgl_name()
            };
            let mut definition = EngagementDefinition {
                name: format!(
                    "{} {}",
                    engagement_type.label(),
                    PURPOSES[n % PURPOSES.len()]
                ),
                engagement_type,
                tgl_name: tgl_name.to_owned(),
                zone_id: Some(471_288_700 + (n % 8) as u64),
                timeout_seconds: Some(30),
                targeting: targeting.clone(),
                content: EngagementContent::default(),
                hide_when_offline: false,
            };
            let engagement = store
                .create_engagement(account, campaign.id, definition.clone(), AgentState::Online)
                .await?
                .context("the store lost a campaign it had just made")?;
            let revisions = 1 + (c + e) % 3;
            for revision in 2..=revisions {
                definition.content.title = Some(format!("Version {revision}"));
                store
                    .revise_engagement(account, campaign.id, engagement.id, definition.clone())
                    .await?
                    .context("the store lost an engagement it had just made")?;
            }
            plans.push(EngagementPlan {
                campaign_id: campaign.id,
                engagement_id: engagement.id,
                revisions,
                engagement_type,
                tgl_name: definition.tgl_name,
                name: definition.name,
                zone_id: definition.zone_id.unwrap_or_default(),
            });
        }
    }
    Ok(plans)
}

struct Fill {
    elapsed: Duration,
    /// CPU seconds by thread name, where the system tells.
    cpu: Vec<(String, f64)>,
    batches: u64,
    interactions: u64,
    events: u64,
    sdes: u64,
    samples: Samples,
}

/// Writes the simulated history through `Store::ingest`, one page view a call, with up
/// to `concurrency` calls in flight. The batches are made on a thread of their own, so
/// making them overlaps with the writes.
async fn fill(store: Arc<dyn Store>, plan: Plan, concurrency: usize) -> anyhow::Result<Fill> {
    let planned = plan.interactions;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<PageBatch>(4 * concurrency.max(64));
    let generator = std::thread::Builder::new()
        .name("history-generator".into())
        .spawn(move || {
            let mut generator = HistoryGenerator::new(plan);
            while let Some(page) = generator.next_page()? {
                if tx.blocking_send(page).is_err() {
                    // The writing side stopped and reports why.
                    break;
                }
            }
            let cpu = cpu_secs(Path::new("/proc/thread-self"));
            Ok::<_, super::history_data::InvalidSde>((generator.into_samples(), cpu))
        })
        .context("cannot start the generator thread")?;

    let progress = ProgressBar::with_draw_target(Some(planned), ProgressDrawTarget::stderr());
    progress.set_style(
        ProgressStyle::with_template(
            "{spinner} filling {pos}/{len} interactions [{bar:30}] {per_sec} eta {eta} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let mut totals = Totals::default();
    let started = Instant::now();
    let mut last_report = started;
    let mut reports = 0u64;
    let mut in_flight = JoinSet::new();
    while let Some(page) = rx.recv().await {
        while in_flight.len() >= concurrency {
            if let Some(done) = in_flight.join_next().await {
                totals.add(done?)?;
            }
        }
        let store = store.clone();
        in_flight.spawn(async move {
            let expected = Written {
                interactions: page.interactions,
                events: page.batch.events.len() as u64,
                sdes: page.batch.sdes.len() as u64,
            };
            let outcome = store.ingest(page.batch).await;
            (outcome, expected)
        });
        if last_report.elapsed() >= Duration::from_secs(1) {
            last_report = Instant::now();
            reports += 1;
            report(&progress, &totals, started, planned, reports % 10 == 0);
        }
    }
    while let Some(done) = in_flight.join_next().await {
        totals.add(done?)?;
    }
    let elapsed = started.elapsed();
    progress.finish_and_clear();
    let (samples, generator_cpu) = generator
        .join()
        .map_err(|_| anyhow::anyhow!("the generator thread panicked"))??;
    let mut cpu = threads_cpu_secs();
    if let Some(secs) = generator_cpu {
        cpu.push(("generator".into(), secs));
    }
    anyhow::ensure!(
        totals.interactions == planned,
        "wrote {} interactions instead of {planned}",
        totals.interactions
    );
    Ok(Fill {
        elapsed,
        cpu,
        batches: totals.batches,
        interactions: totals.interactions,
        events: totals.events,
        sdes: totals.sdes,
        samples,
    })
}

/// CPU time of a thread (`/proc/thread-self`, `/proc/self/task/TID`), in seconds; Linux
/// only.
fn cpu_secs(task: &Path) -> Option<f64> {
    let stat = std::fs::read_to_string(task.join("schedstat")).ok()?;
    let ns: u64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(ns as f64 / 1e9)
}

/// CPU time of this process's live threads, summed by thread name (the store's writer
/// and checkpointer, the runtime's workers): where the fill's work went.
fn threads_cpu_secs() -> Vec<(String, f64)> {
    let mut by_name = std::collections::BTreeMap::<String, f64>::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    for task in tasks.flatten() {
        let path = task.path();
        let (Ok(name), Some(secs)) = (std::fs::read_to_string(path.join("comm")), cpu_secs(&path))
        else {
            continue;
        };
        *by_name.entry(name.trim().to_owned()).or_default() += secs;
    }
    by_name.into_iter().collect()
}

/// Progress on stderr: the bar where stderr is a terminal, a line every 10 s elsewhere.
fn report(progress: &ProgressBar, totals: &Totals, started: Instant, planned: u64, line: bool) {
    let elapsed = started.elapsed().as_secs_f64();
    let rate = (totals.events + totals.sdes) as f64 / elapsed;
    progress.set_position(totals.interactions);
    progress.set_message(format!("{rate:.0} rows/s"));
    if line && progress.is_hidden() {
        eprintln!(
            "  {elapsed:>4.0}s  {}/{planned} interactions, {rate:.0} rows/s",
            totals.interactions
        );
    }
}

#[derive(Debug, Default)]
struct Written {
    interactions: u64,
    events: u64,
    sdes: u64,
}

#[derive(Debug, Default)]
struct Totals {
    batches: u64,
    interactions: u64,
    events: u64,
    sdes: u64,
}

impl Totals {
    /// Counts one answered write, which must have stored every item it carried.
    fn add(
        &mut self,
        (outcome, sent): (Result<IngestOutcome, engage_store::StoreError>, Written),
    ) -> anyhow::Result<()> {
        let outcome = outcome.context("a store write failed")?;
        let items = sent.events + sent.sdes;
        anyhow::ensure!(
            outcome.accepted as u64 == items && outcome.duplicates == 0 && outcome.quarantined == 0,
            "the store did not take every generated item: {items} sent, {outcome:?}"
        );
        self.batches += 1;
        self.interactions += sent.interactions;
        self.events += sent.events;
        self.sdes += sent.sdes;
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// One visitor's interactions over the search window.
    Visitor,
    /// One campaign's interactions on one day.
    RangeCampaign,
    /// Interactions of visits whose customer info holds a customer id.
    SdeSearch,
    /// Interactions of visits with a purchase of an order id.
    Keyword,
    /// A page far down a week's interactions, newest first.
    DeepPage,
}

impl Kind {
    const ALL: [Kind; 5] = [
        Kind::Visitor,
        Kind::RangeCampaign,
        Kind::SdeSearch,
        Kind::Keyword,
        Kind::DeepPage,
    ];

    fn name(self) -> &'static str {
        match self {
            Kind::Visitor => "visitor",
            Kind::RangeCampaign => "range_campaign",
            Kind::SdeSearch => "sde_search",
            Kind::Keyword => "keyword",
            Kind::DeepPage => "deep_page",
        }
    }

    /// Whether every query of this kind names something known to be there, so an empty
    /// answer is a wrong answer.
    fn must_find(self) -> bool {
        match self {
            Kind::Visitor | Kind::SdeSearch | Kind::Keyword => true,
            Kind::RangeCampaign | Kind::DeepPage => false,
        }
    }
}

struct Queries {
    account: String,
    api_key: String,
    samples: Samples,
    campaign_ids: Vec<u64>,
    /// The widest search window the API takes, ending now.
    window_from: i64,
    window_to: i64,
    /// Days of history inside the window.
    days: i64,
}

impl Queries {
    /// The path (with its query string) and body of one random query of `kind`.
    fn query(&self, kind: Kind, rng: &mut Rng) -> anyhow::Result<(String, String)> {
        let pick = |values: &[String], rng: &mut Rng, what: &str| {
            values
                .get(rng.below(values.len() as u64) as usize)
                .cloned()
                .with_context(|| format!("the fill left no {what} to search for"))
        };
        let (offset, sort, body) = match kind {
            Kind::Visitor => {
                let visitor = pick(&self.samples.visitor_ids.values, rng, "visitor")?;
                let body = json!({
                    "start": {"from": self.window_from, "to": self.window_to},
                    "visitor": visitor,
                });
                (0, None, body)
            }
            Kind::RangeCampaign => {
                let day = rng.below(self.days as u64) as i64;
                let from = self.window_to - (day + 1) * DAY_MS;
                let campaign = self
                    .campaign_ids
                    .get(rng.below(self.campaign_ids.len() as u64) as usize)
                    .context("the account has no campaign")?;
                let body = json!({
                    "start": {"from": from, "to": from + DAY_MS - 1},
                    "campaignIds": [campaign],
                });
                (0, None, body)
            }
            Kind::SdeSearch => {
                let customer = pick(&self.samples.customer_ids.values, rng, "customer id")?;
                let body = json!({
                    "start": {"from": self.window_from, "to": self.window_to},
                    "sdeSearch": {"customerInfo": customer},
                });
                (0, None, body)
            }
            Kind::Keyword => {
                let order = pick(&self.samples.order_ids.values, rng, "order id")?;
                let body = json!({
                    "start": {"from": self.window_from, "to": self.window_to},
                    "keyword": order,
                    "keyword_search_area": {"types": ["ea.purchase"]},
                });
                (0, None, body)
            }
            Kind::DeepPage => {
                let weeks_back = rng.below((self.days - 7).max(0) as u64 + 1) as i64;
                let to = self.window_to - weeks_back * DAY_MS;
                let body = json!({"start": {"from": to - 7 * DAY_MS, "to": to}});
                (DEEP_OFFSET, Some("start:desc"), body)
            }
        };
        let mut path = format!(
            "/interaction_history/api/account/{}/interactions/search?offset={offset}&limit={PAGE_LIMIT}",
            self.account
        );
        if let Some(sort) = sort {
            path.push_str("&sort=");
            path.push_str(sort);
        }
        Ok((path, body.to_string()))
    }

    /// Runs a tenth of `n` untimed queries of `kind` to warm up, then `n` timed ones,
    /// one at a time; every answer must be a 200 with a well-formed page.
    async fn measure(
        &self,
        connection: &mut Connection,
        kind: Kind,
        n: usize,
        rng: &mut Rng,
    ) -> anyhow::Result<Latency> {
        let warmup = (n / 10).max(1);
        let mut latencies = Vec::with_capacity(n);
        let mut records = 0usize;
        let mut matched = 0u64;
        for i in 0..warmup + n {
            let (path, body) = self.query(kind, rng)?;
            let sent = Instant::now();
            let (status, response) = connection
                .post_json_as(&path, body.clone(), Some(&self.api_key))
                .await
                .with_context(|| format!("{} query failed", kind.name()))?;
            let took = sent.elapsed();
            anyhow::ensure!(
                status == 200,
                "{} query answered {status}: {}\n  query: POST {path} {body}",
                kind.name(),
                String::from_utf8_lossy(&response)
            );
            let page: serde_json::Value = serde_json::from_slice(&response).with_context(|| {
                format!("{} query answered something that is not JSON", kind.name())
            })?;
            let found = page["interactionHistoryRecords"]
                .as_array()
                .map(Vec::len)
                .with_context(|| {
                    format!(
                        "{} answer has no interactionHistoryRecords: {page}",
                        kind.name()
                    )
                })?;
            let count = page["_metadata"]["count"].as_u64().with_context(|| {
                format!("{} answer has no _metadata.count: {page}", kind.name())
            })?;
            anyhow::ensure!(
                found <= PAGE_LIMIT && count >= found as u64,
                "{} answer has {found} records and a count of {count}",
                kind.name()
            );
            anyhow::ensure!(
                found > 0 || !kind.must_find(),
                "{} query found nothing, but it names what the fill wrote\n  query: POST {path} {body}",
                kind.name()
            );
            if i >= warmup {
                latencies.push(took);
                records += found;
                matched += count;
            }
        }
        latencies.sort_unstable();
        let latency = Latency {
            p50_ms: round(percentile_ms(&latencies, 0.50), 3),
            p99_ms: round(percentile_ms(&latencies, 0.99), 3),
        };
        eprintln!(
            "{:<15} p50 {:>8.2} ms  p99 {:>8.2} ms  max {:>8.2} ms  {:.1} records a page, {:.0} matching",
            kind.name(),
            latency.p50_ms,
            latency.p99_ms,
            percentile_ms(&latencies, 1.0),
            records as f64 / n as f64,
            matched as f64 / n as f64
        );
        Ok(latency)
    }
}
