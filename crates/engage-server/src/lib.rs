//! Engage's HTTP server.
//!
//! - [`router`] builds the app without a socket; [`serve`] runs it on a bound listener
//!   until a shutdown future resolves, then finishes in-flight requests and closes the store.
//! - `routes/`: one module per API (collect, monitoring, history, admin, quarantine, ops).
//! - [`request`]: every request body (collect, Monitoring, decision, history, admin), each
//!   read by `XBody::read` (pure; fuzzed).
//! - [`user_agent`]: device, browser and system from a `User-Agent` (pure).
//! - [`body`]: body limits, gzip, content types. [`error`]: `ApiError`.
//! - [`extract`]: the account a route acts for, checked before its handler runs (API
//!   key, or the tag's origin).
//! - [`accounts`]: the account cache and API keys. [`metrics`]: `/metrics`.
//! - [`decision`]: targeting, the per-account engagement snapshots and the decision.
//! - [`public_url`]: the host the Domain API tells clients to call (`--public-url`).
//! - [`rate_limit`]: the per-address and per-account rate limits of the public routes.
//! - [`connection`]: the connection cap and the idle timeout of HTTP/1.1 and HTTP/2.
//! - [`quarantine_limit`]: how much of a rejected item or body the quarantine keeps.
//! - [`webhooks`]: what an account's webhook endpoints receive, the SSRF guard, the
//!   signature, and the delivery worker [`serve`] runs.
//! - [`console`]: the web console at `/console/` (pages, sessions, its scripts' writes).
//! - [`retention`]: the background sweep of what is past each account's retention.

pub mod accounts;
pub mod analytics_cache;
pub mod body;
pub mod connection;
pub mod console;
pub mod decision;
pub mod error;
pub mod extract;
pub mod metrics;
pub mod oauth;
pub mod openapi;
pub mod public_url;
pub mod quarantine_limit;
pub mod rate_limit;
pub mod request;
pub mod retention;
mod routes;
pub mod secrets;
pub mod user_agent;
pub mod webhooks;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use engage_store::{Store, StoreError};
use http_body_util::BodyExt;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tower::ServiceExt;

pub use body::Limits;
pub use error::ApiError;
pub use public_url::PublicHost;
pub use routes::{route_table, Auth, RouteInfo};

/// Everything a request handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub limits: Limits,
    pub metrics: Arc<metrics::Metrics>,
    pub accounts: Arc<accounts::AccountCache>,
    pub decisions: Arc<decision::Decisions>,
    /// Permits for Engagement History searches running at once; a search that finds
    /// none is answered 429 rather than queued, so a burst of slow searches cannot take
    /// the blocking threads and the database's time that ingestion and decisions need.
    pub history_searches: Arc<tokio::sync::Semaphore>,
    /// The host the Domain API answers; `None` until set, and then [`serve`] takes the
    /// address it listens on.
    pub public_host: Option<PublicHost>,
    /// The rate limits of the public routes (`rate_limit`).
    pub rate_limits: Arc<rate_limit::RateLimits>,
    /// Open connections and their idle timeout ([`serve`]).
    pub connections: connection::ConnectionLimits,
    /// Where decisions are computed (`Limits::max_concurrent_decisions` at once).
    pub decision_pool: Arc<decision::DecisionPool>,
    /// What each account's pending quarantine may take (`Limits::quarantine_max_*`).
    pub quarantine_quota: Arc<quarantine_limit::QuarantineQuota>,
    /// Opens the OAuth secrets the store keeps sealed; without it only secrets that an
    /// earlier version stored in clear verify.
    pub secrets: Option<Arc<secrets::SecretBox>>,
    /// Webhook configuration, each account's endpoints (cached), the delivery client.
    pub webhooks: Arc<webhooks::Webhooks>,
    /// The console's sign-in rate limits.
    pub console: Arc<console::session::ConsoleState>,
    /// How often this server sweeps expired data ([`retention::RetentionSweep`]).
    pub retention: retention::RetentionSweep,
    /// Each account's rollup facts in memory, for reports ([`analytics_cache`]).
    pub analytics_cache: Arc<analytics_cache::FactCache>,
}

/// Engagement History searches allowed to run at once (see `AppState::history_searches`).
pub const MAX_CONCURRENT_SEARCHES: usize = 16;

impl AppState {
    pub fn new(store: Arc<dyn Store>, limits: Limits) -> Self {
        AppState {
            metrics: Arc::new(metrics::Metrics::new(store.backend())),
            store,
            limits,
            accounts: Arc::default(),
            decisions: Arc::default(),
            history_searches: Arc::new(tokio::sync::Semaphore::new(MAX_CONCURRENT_SEARCHES)),
            public_host: None,
            rate_limits: Arc::new(rate_limit::RateLimits::new(
                &rate_limit::RateLimitConfig::default(),
            )),
            connections: connection::ConnectionLimits::default(),
            decision_pool: Arc::new(decision::DecisionPool::new(limits.max_concurrent_decisions)),
            quarantine_quota: Arc::new(quarantine_limit::QuarantineQuota::new(
                limits.quarantine_max_entries,
                limits.quarantine_max_bytes,
            )),
            secrets: None,
            webhooks: Arc::new(webhooks::Webhooks::new(webhooks::WebhookConfig::default())),
            console: Arc::default(),
            retention: retention::RetentionSweep::default(),
            analytics_cache: Arc::new(analytics_cache::FactCache::new(
                analytics_cache::FactCacheConfig::default(),
            )),
        }
    }

    /// Webhooks configured other than by default (`--allow-private-webhooks`, retries).
    pub fn with_webhooks(mut self, config: webhooks::WebhookConfig) -> Self {
        self.webhooks = Arc::new(webhooks::Webhooks::new(config));
        self
    }

    /// Console sign-in limits other than the defaults.
    pub fn with_console_limits(mut self, limits: console::ConsoleLimits) -> Self {
        self.console = Arc::new(console::session::ConsoleState::new(limits));
        self
    }

    /// A retention sweep other than the default (`every: None` turns it off).
    pub fn with_retention_sweep(mut self, sweep: retention::RetentionSweep) -> Self {
        self.retention = sweep;
        self
    }

    /// A fact cache other than the default (`max_bytes: 0` turns it off).
    pub fn with_analytics_cache(mut self, config: analytics_cache::FactCacheConfig) -> Self {
        self.analytics_cache = Arc::new(analytics_cache::FactCache::new(config));
        self
    }

    /// Stored OAuth secrets are opened with `secrets` (`--secret-key-file`).
    pub fn with_secrets(mut self, secrets: secrets::SecretBox) -> Self {
        self.secrets = Some(Arc::new(secrets));
        self
    }

    /// Connection limits other than the defaults.
    pub fn with_connection_limits(mut self, limits: connection::ConnectionLimits) -> Self {
        self.connections = limits;
        self
    }

    /// Rate limits other than the defaults (`RateLimitConfig::off()` for none).
    pub fn with_rate_limits(mut self, config: &rate_limit::RateLimitConfig) -> Self {
        self.rate_limits = Arc::new(rate_limit::RateLimits::new(config));
        self
    }

    /// Clients are told to call `host` (the Domain API's `baseURI`).
    pub fn with_public_host(mut self, host: PublicHost) -> Self {
        self.public_host = Some(host);
        self
    }
}

impl AppState {
    /// Drops what this server cached of what changed (a change made through this server
    /// or another one on the same store): the decision snapshots and the accounts.
    pub fn apply_change(&self, change: &engage_store::Change) {
        match change {
            engage_store::Change::Account(account_id) => {
                self.decisions.invalidate(account_id);
                self.accounts.forget(account_id);
                self.webhooks.forget(account_id);
            }
            engage_store::Change::Everything => {
                self.decisions.invalidate_all();
                self.accounts.clear();
                self.webhooks.forget_all();
            }
        }
    }

    /// Writes a batch durably and counts it for `/metrics`: every route that stores goes
    /// through here. Its rejected items are bounded (`quarantine_limit`): each to a
    /// prefix, and all to the account's quarantine quota.
    pub async fn ingest(
        &self,
        batch: engage_store::IngestBatch,
    ) -> Result<engage_store::IngestOutcome, StoreError> {
        self.ingest_with(batch, true).await
    }

    /// [`AppState::ingest`] for a quarantine replay: what a replay finds invalid again
    /// was already in the quarantine (its entry is marked replayed), so the quota does
    /// not drop it.
    pub async fn ingest_replayed(
        &self,
        batch: engage_store::IngestBatch,
    ) -> Result<engage_store::IngestOutcome, StoreError> {
        self.ingest_with(batch, false).await
    }

    async fn ingest_with(
        &self,
        mut batch: engage_store::IngestBatch,
        quota: bool,
    ) -> Result<engage_store::IngestOutcome, StoreError> {
        let items = batch.len();
        let rejected = batch.rejected.len() as u64;
        quarantine_limit::bound(&mut batch.rejected);
        if quota {
            let dropped = self
                .quarantine_quota
                .admit(self.store.as_ref(), &batch.account_id, &mut batch.rejected)
                .await?;
            if dropped > 0 {
                self.metrics.record_quarantine_dropped(dropped as u64);
                tracing::debug!(account = %batch.account_id, dropped, "quarantine quota reached");
            }
        }
        // What the batch's happenings owe the account's webhooks, planned while the batch
        // is at hand and queued after it committed, before the answer (webhooks, `plan`).
        let deliveries = self.webhooks.plan(self.store.as_ref(), &batch).await?;
        let account_id = batch.account_id.clone();
        let started = std::time::Instant::now();
        let outcome = self.store.ingest(batch).await?;
        self.metrics.record_ingest(
            items,
            started.elapsed(),
            metrics::Stored {
                accepted: outcome.accepted as u64,
                duplicates: outcome.duplicates as u64,
                rejected,
            },
        );
        if !deliveries.is_empty() {
            let queued = self
                .store
                .enqueue_deliveries(
                    &account_id,
                    deliveries,
                    self.webhooks.config.max_pending_per_account,
                    engage_store::ids::now_ms(),
                )
                .await?;
            self.metrics
                .record_webhook_queued(queued.queued as u64, queued.refused as u64);
            if queued.refused > 0 {
                tracing::warn!(account = %account_id, refused = queued.refused,
                    "webhook outbox full: deliveries not kept");
            }
        }
        Ok(outcome)
    }
}

/// The whole HTTP API.
pub fn router(state: AppState) -> Router {
    routes::router(state)
}

/// How long shutdown waits for in-flight requests.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// How often the metrics' histogram samples are folded into their buckets.
const METRICS_UPKEEP: Duration = Duration::from_secs(5);

/// The next change of the store's feed: a lagging receiver missed some, which is
/// `Change::Everything`; `None` when the feed closed (then this never answers again).
async fn next_change(
    changes: &mut Option<tokio::sync::broadcast::Receiver<engage_store::Change>>,
) -> Option<engage_store::Change> {
    use tokio::sync::broadcast::error::RecvError;
    let Some(feed) = changes else {
        return std::future::pending().await;
    };
    match feed.recv().await {
        Ok(change) => Some(change),
        Err(RecvError::Lagged(missed)) => {
            tracing::warn!(
                missed,
                "fell behind the store's change feed; dropping every cache"
            );
            Some(engage_store::Change::Everything)
        }
        Err(RecvError::Closed) => None,
    }
}

/// A task that stops when its handle goes, however `serve` returns.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Serves `state` on `listener` until `shutdown` resolves; then stops accepting, lets
/// in-flight requests finish (their batches commit), and closes the store.
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), StoreError> {
    let mut state = state;
    if state.public_host.is_none() {
        // No public URL was given: clients reach the server where it listens.
        if let Ok(address) = listener.local_addr() {
            state.public_host = Some(PublicHost::from_listen(address));
        }
    }
    let app = router(state.clone());
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(state.connections.idle_timeout)
        .keep_alive(true);
    builder.http2().timer(TokioTimer::new());
    let open_connections = Arc::new(tokio::sync::Semaphore::new(
        state.connections.max_connections.max(1),
    ));
    tokio::pin!(shutdown);
    let mut changes = Some(state.store.changes());
    // Dropped (aborted) when serving ends: an attempt in flight keeps its lease until it
    // runs out, then it is made again (webhooks::worker).
    let deliveries = AbortOnDrop(tokio::spawn(webhooks::worker::run(state.clone())));
    // Stopped when `serve` returns (the guard aborts it).
    let sweeper = AbortOnDrop(tokio::spawn(retention::run(state.clone())));
    let mut upkeep = tokio::time::interval(METRICS_UPKEEP);
    upkeep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = upkeep.tick() => state.metrics.upkeep(),
            change = next_change(&mut changes) => match change {
                Some(change) => state.apply_change(&change),
                None => {
                    tracing::warn!("the store's change feed closed");
                    changes = None;
                }
            },
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                // Over the cap a connection is closed at once (dropped unanswered), so
                // that the ones open keep their share of the server.
                let Ok(permit) = open_connections.clone().try_acquire_owned() else {
                    state.metrics.record_connection_refused();
                    drop(stream);
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let watchdog = connection::Watchdog::new(state.connections.idle_timeout);
                let requests = watchdog.clone();
                // The peer's address, for the per-client rate limit (`ConnectInfo`), and
                // each request in flight, for the watchdog.
                let service = TowerToHyperService::new(
                    app.clone()
                        .map_request(
                            move |mut request: axum::extract::Request<hyper::body::Incoming>| {
                                request.extensions_mut().insert(ConnectInfo(peer));
                                request
                            },
                        )
                        .map_future(move |answer| {
                            let in_flight = requests.request_started();
                            async move {
                                // In flight until its body is sent (or dropped): a slow
                                // client reading a large answer is not idle.
                                answer.await.map(|response| {
                                    response.map(|body| {
                                        axum::body::Body::new(body.map_frame(move |frame| {
                                            let _sending = &in_flight;
                                            frame
                                        }))
                                    })
                                })
                            }
                        }),
                );
                let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                let connection = graceful.watch(connection.into_owned());
                tokio::spawn(async move {
                    tokio::select! {
                        ended = connection => {
                            if let Err(error) = ended {
                                tracing::debug!(%error, "connection ended with an error");
                            }
                        }
                        // Dropping the connection closes it; no request is in flight.
                        () = watchdog.idle_expired() => {
                            tracing::debug!(%peer, "idle connection closed");
                        }
                    }
                    drop(permit);
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    drop(sweeper);
    tracing::info!("shutting down: finishing in-flight requests");
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(DRAIN_TIMEOUT) => tracing::warn!("in-flight requests did not finish in time"),
    }
    drop(deliveries);
    state.store.close().await?;
    tracing::info!("store closed");
    Ok(())
}
