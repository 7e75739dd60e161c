//! `engage bench history`: fill a store with a month of a shop's history, then query it
//! through the Engagement History API of a real server.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use engage_model::{AgentState, EngagementType};
use engage_store::analytics::EligibilityRecord;
use engage_store::{
    CampaignFields, EngagementContent, EngagementDefinition, IngestOutcome, NewAccount, Store,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use serde_json::json;
use tokio::task::JoinSet;

use super::history_data::{EngagementPlan, HistoryGenerator, PageBatch, Plan, Samples, DAY_MS};
use super::payload::Rng;
use super::server::{now_ms, percentile_ms, round, ServerProcess, Storage};
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
    /// Fill this database (`postgres://...`, see `engage serve --database`) instead of
    /// SQLite files; the fill goes into an account of its own, which stays (its id and
    /// api key are printed).
    #[arg(long, env = "ENGAGE_DATABASE_URL", conflicts_with = "keep")]
    database: Option<String>,
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
    let storage = Storage::new(data, args.database.as_deref());
    let store = engage_store::open(&storage.url()).await?;
    let (api_key, api_key_hash) = engage_server::accounts::generate_api_key()
        .map_err(|e| anyhow::anyhow!("the system has no randomness for an api key: {e}"))?;
    let account = store
        .create_account(NewAccount {
            name: "bench history".into(),
            api_key_hash,
        })
        .await?;
    let engagements = create_campaigns(store.as_ref(), &account.id, 0).await?;
    let campaign_ids = {
        let mut ids: Vec<u64> = engagements.iter().map(|e| e.campaign_id).collect();
        ids.dedup();
        ids
    };

    // Visits start until an hour ago, so every one (its page views last at most about a
    // quarter of an hour) is over before the fill begins; searches end now.
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
    let fill = fill(store.clone(), plan, args.concurrency, None).await?;
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
    let store_mb = match &storage {
        Storage::Dir(_) => (file_len(&db) + file_len(&data.join("engage.db-wal"))) as f64 / 1e6,
        Storage::Url(url) => vacuumed_database_bytes(url).await? as f64 / 1e6,
    };
    eprintln!(
        "store: closed in {:.1} s, {store_mb:.0} MB (database and log, or the PostgreSQL database)",
        closing.elapsed().as_secs_f64()
    );
    match (&args.keep, &storage) {
        (Some(_), _) => eprintln!(
            "kept: {} (account {}, api key {api_key})",
            data.display(),
            account.id
        ),
        // The database keeps the fill: say how to search it afterwards.
        (None, Storage::Url(_)) => eprintln!(
            "kept: the database's account {} (api key {api_key})",
            account.id
        ),
        (None, Storage::Dir(_)) => {}
    }

    let server = ServerProcess::start(&storage, Duration::from_secs(120)).await?;
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

pub(crate) fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Makes the account's campaigns and engagements through the store, as the admin API
/// does, so interactions name real ones; some engagements get later revisions. Every
/// campaign holds out `control_group_percent` of its visitors.
pub(crate) async fn create_campaigns(
    store: &dyn Store,
    account: &str,
    control_group_percent: u8,
) -> anyhow::Result<Vec<EngagementPlan>> {
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
    let targeting = engage_server::decision::Targeting::default().to_stored();
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
                    control_group_percent,
                    attribution_window_days: 7,
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
                action: None,
                weight: None,
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

pub(crate) struct Fill {
    pub elapsed: Duration,
    /// CPU seconds by thread name, where the system tells.
    cpu: Vec<(String, f64)>,
    pub batches: u64,
    pub interactions: u64,
    pub events: u64,
    pub sdes: u64,
    pub eligibility: u64,
    samples: Samples,
}

/// What a fill does to each page view's batch before it is written: it may drop events
/// (a control-group visitor is shown nothing) and answers the eligibility records to
/// store with it (see `bench analytics`).
pub(crate) type PageHook =
    Arc<dyn Fn(&mut engage_store::IngestBatch) -> Vec<EligibilityRecord> + Send + Sync>;

/// Writes the simulated history through `Store::ingest`, one page view a call, with up
/// to `concurrency` calls in flight. The batches are made on a thread of their own, so
/// making them overlaps with the writes. With a `hook`, each batch goes through it first
/// and the eligibility records it answers are stored before the batch.
pub(crate) async fn fill(
    store: Arc<dyn Store>,
    plan: Plan,
    concurrency: usize,
    hook: Option<PageHook>,
) -> anyhow::Result<Fill> {
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
        let hook = hook.clone();
        in_flight.spawn(async move {
            let mut page = page;
            let records = hook.map(|h| h(&mut page.batch)).unwrap_or_default();
            let expected = Written {
                interactions: page.interactions,
                events: page.batch.events.len() as u64,
                sdes: page.batch.sdes.len() as u64,
                eligibility: records.len() as u64,
            };
            if !records.is_empty() {
                let account = page.batch.account_id.clone();
                if let Err(e) = store.record_eligibility(&account, records).await {
                    return (Err(e), expected);
                }
            }
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
        eligibility: totals.eligibility,
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
    eligibility: u64,
}

#[derive(Debug, Default)]
struct Totals {
    batches: u64,
    interactions: u64,
    events: u64,
    sdes: u64,
    eligibility: u64,
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
        self.eligibility += sent.eligibility;
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

/// One search to send, and what its answer must hold.
struct Query {
    path: String,
    body: String,
    /// The `start` range asked for.
    from: i64,
    to: i64,
    expect: Expect,
}

/// What every record of an answer must show.
enum Expect {
    Visitor(String),
    Campaign(u64),
    /// A `customerInfo` attribute of the visit with this customer id.
    Customer(String),
    /// A `purchase` attribute of the visit with this order id.
    Order(String),
    /// Records newest first.
    NewestFirst,
}

/// Checks an answer: a 200 with a well-formed page whose records match the query, and
/// at least one record for the queries that name something the fill wrote. Returns the
/// records on the page and the count over all pages.
fn check_answer(
    kind: Kind,
    query: &Query,
    status: u16,
    response: &[u8],
) -> Result<(usize, u64), String> {
    if status != 200 {
        return Err(format!("answered {status}"));
    }
    let page: serde_json::Value =
        serde_json::from_slice(response).map_err(|e| format!("the answer is not JSON: {e}"))?;
    let records = page["interactionHistoryRecords"]
        .as_array()
        .ok_or("the answer has no interactionHistoryRecords")?;
    let count = page["_metadata"]["count"]
        .as_u64()
        .ok_or("the answer has no _metadata.count")?;
    if records.len() > PAGE_LIMIT || count < records.len() as u64 {
        return Err(format!(
            "{} records on a page of at most {PAGE_LIMIT}, and a count of {count}",
            records.len()
        ));
    }
    if records.is_empty() && kind.must_find() {
        return Err("found nothing, but it names what the fill wrote".into());
    }
    let mut previous_start = i64::MAX;
    for (i, record) in records.iter().enumerate() {
        let start = record["info"]["startTimeL"]
            .as_i64()
            .ok_or_else(|| format!("record {i} has no info.startTimeL"))?;
        if start < query.from || start > query.to {
            return Err(format!("record {i} started at {start}, outside the range"));
        }
        let attribute = |key: &str, inner: Option<&str>, member: &str, value: &str| {
            record["sdes"]["events"].as_array().is_some_and(|sdes| {
                sdes.iter().any(|sde| {
                    let fields = &sde[key];
                    let fields = inner.map_or(fields, |inner| &fields[inner]);
                    fields[member] == value
                })
            })
        };
        let matches = match &query.expect {
            Expect::Visitor(visitor) => record["info"]["visitorId"] == visitor.as_str(),
            // The documented record writes ids as strings.
            Expect::Campaign(campaign) => {
                record["campaign"]["campaignId"] == campaign.to_string().as_str()
            }
            Expect::Customer(id) => {
                attribute("customerInfo", Some("customerInfo"), "customerId", id)
            }
            Expect::Order(id) => attribute("purchase", None, "orderId", id),
            Expect::NewestFirst => start <= previous_start,
        };
        if !matches {
            return Err(format!("record {i} does not match the query"));
        }
        previous_start = start;
    }
    Ok((records.len(), count))
}

impl Queries {
    /// One random query of `kind`.
    fn query(&self, kind: Kind, rng: &mut Rng) -> anyhow::Result<Query> {
        let pick = |values: &[String], rng: &mut Rng, what: &str| {
            values
                .get(rng.below(values.len() as u64) as usize)
                .cloned()
                .with_context(|| format!("the fill left no {what} to search for"))
        };
        let (mut from, mut to) = (self.window_from, self.window_to);
        let (offset, sort, filters, expect) = match kind {
            Kind::Visitor => {
                let visitor = pick(&self.samples.visitor_ids.values, rng, "visitor")?;
                (
                    0,
                    None,
                    json!({"visitor": visitor}),
                    Expect::Visitor(visitor),
                )
            }
            Kind::RangeCampaign => {
                let day = rng.below(self.days as u64) as i64;
                from = self.window_to - (day + 1) * DAY_MS;
                to = from + DAY_MS - 1;
                let campaign = *self
                    .campaign_ids
                    .get(rng.below(self.campaign_ids.len() as u64) as usize)
                    .context("the account has no campaign")?;
                (
                    0,
                    None,
                    json!({"campaignIds": [campaign]}),
                    Expect::Campaign(campaign),
                )
            }
            Kind::SdeSearch => {
                let customer = pick(&self.samples.customer_ids.values, rng, "customer id")?;
                (
                    0,
                    None,
                    json!({"sdeSearch": {"customerInfo": customer}}),
                    Expect::Customer(customer),
                )
            }
            Kind::Keyword => {
                let order = pick(&self.samples.order_ids.values, rng, "order id")?;
                (
                    0,
                    None,
                    json!({"keyword": order, "keyword_search_area": {"types": ["ea.purchase"]}}),
                    Expect::Order(order),
                )
            }
            Kind::DeepPage => {
                let days_back = rng.below((self.days - 7).max(0) as u64 + 1) as i64;
                to = self.window_to - days_back * DAY_MS;
                from = to - 7 * DAY_MS;
                (
                    DEEP_OFFSET,
                    Some("start:desc"),
                    json!({}),
                    Expect::NewestFirst,
                )
            }
        };
        let mut body = filters;
        body["start"] = json!({"from": from, "to": to});
        let mut path = format!(
            "/interaction_history/api/account/{}/interactions/search?offset={offset}&limit={PAGE_LIMIT}",
            self.account
        );
        if let Some(sort) = sort {
            path.push_str("&sort=");
            path.push_str(sort);
        }
        Ok(Query {
            path,
            body: body.to_string(),
            from,
            to,
            expect,
        })
    }

    /// Runs a tenth of `n` untimed queries of `kind` to warm up, then `n` timed ones,
    /// one at a time. Every answer must be a 200 whose records are what was asked for
    /// (checked after the clock stops).
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
            let query = self.query(kind, rng)?;
            let sent = Instant::now();
            let (status, response) = connection
                .post_json_as(&query.path, query.body.clone(), Some(&self.api_key))
                .await
                .with_context(|| format!("{} query failed", kind.name()))?;
            let took = sent.elapsed();
            let (found, count) = check_answer(kind, &query, status, &response).map_err(|e| {
                anyhow::anyhow!(
                    "{} query: {e}\n  query: POST {} {}\n  answer ({status}): {}",
                    kind.name(),
                    query.path,
                    query.body,
                    String::from_utf8_lossy(&response[..response.len().min(2000)])
                )
            })?;
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

/// The bytes of the PostgreSQL database at `url` just filled (tables, indexes, TOAST;
/// not its WAL), after doing what autovacuum would have done for its new rows by the
/// time anyone searched them (`VACUUM (ANALYZE)`, timed and said): without it the
/// planner takes the new rows for absent, and the timed queries would measure that.
pub(crate) async fn vacuumed_database_bytes(url: &str) -> anyhow::Result<u64> {
    let store = engage_store::postgres::PostgresStore::open(url).await?;
    let vacuuming = Instant::now();
    store.vacuum_analyze().await?;
    eprintln!(
        "store: VACUUM (ANALYZE) in {:.1} s (statistics and visibility map, as autovacuum would keep them)",
        vacuuming.elapsed().as_secs_f64()
    );
    let bytes = store.database_bytes().await?;
    store.close().await?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(expect: Expect) -> Query {
        Query {
            path: String::new(),
            body: String::new(),
            from: 1_000,
            to: 2_000,
            expect,
        }
    }

    fn answer(records: serde_json::Value) -> Vec<u8> {
        let count = records.as_array().map_or(0, Vec::len);
        json!({"_metadata": {"count": count}, "interactionHistoryRecords": records})
            .to_string()
            .into_bytes()
    }

    #[test]
    fn answers_are_checked_against_what_was_asked() {
        let record = |visitor: &str, start: i64, order: &str| {
            json!({
                "info": {"visitorId": visitor, "startTimeL": start},
                "campaign": {"campaignId": "7"},
                "sdes": {"events": [{"purchase": {"orderId": order}, "sdeType": "PURCHASE"}]},
            })
        };
        let visitor = query(Expect::Visitor("v1".into()));
        let good = answer(json!([record("v1", 1_500, "o1")]));
        assert_eq!(
            check_answer(Kind::Visitor, &visitor, 200, &good),
            Ok((1, 1))
        );
        assert!(check_answer(Kind::Visitor, &visitor, 500, &good).is_err());
        let other = answer(json!([record("v2", 1_500, "o1")]));
        assert!(check_answer(Kind::Visitor, &visitor, 200, &other).is_err());
        let late = answer(json!([record("v1", 2_500, "o1")]));
        assert!(check_answer(Kind::Visitor, &visitor, 200, &late).is_err());
        let empty = answer(json!([]));
        assert!(check_answer(Kind::Visitor, &visitor, 200, &empty).is_err());
        assert_eq!(
            check_answer(Kind::DeepPage, &query(Expect::NewestFirst), 200, &empty),
            Ok((0, 0))
        );

        let order = query(Expect::Order("o1".into()));
        assert!(check_answer(Kind::Keyword, &order, 200, &good).is_ok());
        let other_order = answer(json!([record("v1", 1_500, "o2")]));
        assert!(check_answer(Kind::Keyword, &order, 200, &other_order).is_err());

        let oldest_first = answer(json!([
            record("v1", 1_100, "o1"),
            record("v1", 1_200, "o1")
        ]));
        let newest_first = answer(json!([
            record("v1", 1_200, "o1"),
            record("v1", 1_100, "o1")
        ]));
        let deep = query(Expect::NewestFirst);
        assert!(check_answer(Kind::DeepPage, &deep, 200, &oldest_first).is_err());
        assert!(check_answer(Kind::DeepPage, &deep, 200, &newest_first).is_ok());
        let campaign = query(Expect::Campaign(7));
        assert!(check_answer(Kind::RangeCampaign, &campaign, 200, &good).is_ok());
        let campaign = query(Expect::Campaign(8));
        assert!(check_answer(Kind::RangeCampaign, &campaign, 200, &good).is_err());
    }
}
