//! `engage serve`.

use std::net::SocketAddr;

use anyhow::Context;
use engage_server::analytics_cache::FactCacheConfig;
use engage_server::connection::ConnectionLimits;
use engage_server::rate_limit::{Rate, RateLimitConfig};
use engage_server::retention::RetentionSweep;
use engage_server::webhooks::WebhookConfig;
use engage_server::{AppState, Limits, PublicHost};
use ipnet::IpNet;

use crate::storage::StorageArgs;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, env = "ENGAGE_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The URL clients reach this server at, when it is not the listen address (behind
    /// a proxy, a load balancer or a DNS name): an http(s) URL of a host, such as
    /// `https://engage.example`. LivePerson clients look their API host up first, and
    /// the Domain API (`/api/account/{id}/service/{name}/baseURI.json`) answers its
    /// host[:port]. Default: the listen address.
    #[arg(long, env = "ENGAGE_PUBLIC_URL", value_parser = parse_public_url)]
    public_url: Option<PublicHost>,
    #[command(flatten)]
    storage: StorageArgs,
    /// Log format: `text` for people, `json` for log collectors.
    #[arg(long, env = "ENGAGE_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
    /// Largest request body accepted, in bytes (compressed size for gzip bodies).
    #[arg(long, env = "ENGAGE_MAX_BODY_BYTES", default_value_t = Limits::default().max_body_bytes)]
    max_body_bytes: usize,
    /// Largest body accepted after gzip decompression, in bytes.
    #[arg(long, env = "ENGAGE_MAX_DECOMPRESSED_BYTES", default_value_t = Limits::default().max_decompressed_bytes)]
    max_decompressed_bytes: usize,
    /// Most events plus SDEs in one request.
    #[arg(long, env = "ENGAGE_MAX_BATCH_ITEMS", default_value_t = Limits::default().max_batch_items)]
    max_batch_items: usize,
    /// Also create a demo account whose campaign targets the demo shop at /demo/, and
    /// print its id and key.
    #[arg(long)]
    demo: bool,
    /// Seconds a client may take to send its request body.
    #[arg(long, env = "ENGAGE_BODY_TIMEOUT_SECS", default_value_t = Limits::default().body_timeout.as_secs())]
    body_timeout_secs: u64,
    /// Items a second one client address (an IPv4 address, an IPv6 /64) may send to the
    /// public routes (collect, decision, Monitoring API; a request is one item, a batch
    /// one per event or attribute); 0 turns the limit off.
    #[arg(long, env = "ENGAGE_RATE_LIMIT_PER_IP", default_value_t = RateLimitConfig::default().per_ip.per_second)]
    rate_limit_per_ip: u32,
    /// Items one client address may send at once before its rate applies.
    #[arg(long, env = "ENGAGE_RATE_LIMIT_PER_IP_BURST", default_value_t = RateLimitConfig::default().per_ip.burst)]
    rate_limit_per_ip_burst: u32,
    /// Items a second one account's public routes take from all clients together; 0
    /// turns the limit off.
    #[arg(long, env = "ENGAGE_RATE_LIMIT_PER_ACCOUNT", default_value_t = RateLimitConfig::default().per_account.per_second)]
    rate_limit_per_account: u32,
    /// Items one account may take at once before its rate applies.
    #[arg(long, env = "ENGAGE_RATE_LIMIT_PER_ACCOUNT_BURST", default_value_t = RateLimitConfig::default().per_account.burst)]
    rate_limit_per_account_burst: u32,
    /// A proxy or load balancer (an IP address or a CIDR block) whose `X-Forwarded-For`
    /// tells the client's address; repeatable. Other peers' `X-Forwarded-For` is ignored.
    #[arg(long = "trusted-proxy", env = "ENGAGE_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_net)]
    trusted_proxies: Vec<IpNet>,
    /// Seconds a connection (HTTP/1.1 or HTTP/2) may stay open without a request in
    /// flight: the time a client has to send its first request's headers, and how long
    /// an idle kept-alive connection lasts.
    #[arg(long, env = "ENGAGE_IDLE_TIMEOUT_SECS", default_value_t = ConnectionLimits::default().idle_timeout.as_secs())]
    idle_timeout_secs: u64,
    /// Decisions (the decision route and the Monitoring API's `engagement`) computed at
    /// once, on threads beside the async workers; one more is answered 503 with
    /// `Retry-After`. Default: the number of CPUs.
    #[arg(long, env = "ENGAGE_MAX_CONCURRENT_DECISIONS", default_value_t = Limits::default().max_concurrent_decisions)]
    max_concurrent_decisions: usize,
    /// Most pending quarantine entries one account may have; past it, rejected items
    /// are answered as rejected but not kept. 0: no limit.
    #[arg(long, env = "ENGAGE_QUARANTINE_MAX_ENTRIES", default_value_t = Limits::default().quarantine_max_entries)]
    quarantine_max_entries: u64,
    /// Most bytes of pending quarantine entries one account may have. 0: no limit.
    #[arg(long, env = "ENGAGE_QUARANTINE_MAX_BYTES", default_value_t = Limits::default().quarantine_max_bytes)]
    quarantine_max_bytes: u64,
    /// Most connections open at once; a new connection over it is closed at once.
    #[arg(long, env = "ENGAGE_MAX_CONNECTIONS", default_value_t = ConnectionLimits::default().max_connections)]
    max_connections: usize,
    /// Let webhooks deliver to loopback, private and link-local addresses (tests, an
    /// intranet). Off, such URLs are refused when registered and at every delivery.
    #[arg(long, env = "ENGAGE_ALLOW_PRIVATE_WEBHOOKS")]
    allow_private_webhooks: bool,
    /// Seconds before a failed webhook delivery's first retry; each next one waits twice
    /// as long, up to an hour, for 24 hours.
    #[arg(long, env = "ENGAGE_WEBHOOK_RETRY_BASE_SECS", default_value_t = WebhookConfig::default().retry_base.as_secs_f64())]
    webhook_retry_base_secs: f64,
    /// Webhook endpoints one account may register.
    #[arg(long, env = "ENGAGE_WEBHOOK_MAX_PER_ACCOUNT", default_value_t = WebhookConfig::default().max_per_account)]
    webhook_max_per_account: usize,
    /// Webhook deliveries one account may have waiting; past it new ones are not kept
    /// (counted in /metrics).
    #[arg(long, env = "ENGAGE_WEBHOOK_MAX_PENDING", default_value_t = WebhookConfig::default().max_pending_per_account)]
    webhook_max_pending: u64,
    /// Seconds between retention sweeps (what is past an account's `PUT .../retention`
    /// is removed in small steps); 0 turns the sweep off (`engage retention run` still
    /// sweeps on demand).
    #[arg(long, env = "ENGAGE_RETENTION_SWEEP_SECS", default_value_t = 300)]
    retention_sweep_secs: u64,
    /// Megabytes of memory for copies of accounts' rollup facts, which reports read
    /// instead of the store (least recently used accounts are dropped; an account larger
    /// than this alone reads the store); 0 turns the cache off.
    #[arg(long, env = "ENGAGE_ANALYTICS_CACHE_MB", default_value_t = 256)]
    analytics_cache_mb: usize,
    /// How long after its time another server's write may commit and still be seen by
    /// this server's reports: each report first reads again the rollup rows from this
    /// long before its previous catch-up. This server's own writes are always seen.
    #[arg(
        long,
        env = "ENGAGE_ANALYTICS_CATCH_UP_SLACK_SECONDS",
        default_value_t = 300
    )]
    analytics_catch_up_slack_seconds: u32,
}

/// `--trusted-proxy`: a CIDR block, or one address.
fn parse_net(text: &str) -> Result<IpNet, String> {
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| format!("`{text}` is neither an IP address nor a CIDR block"))
}

pub fn run(args: Args) -> anyhow::Result<()> {
    init_logging(&args.log_format);
    crate::runtime()?.block_on(async move {
        let store = args.storage.open().await?;
        // After the store: it makes the data directory, where the key file is by default.
        let secrets = args.storage.secrets()?;
        let limits = Limits {
            max_body_bytes: args.max_body_bytes,
            max_decompressed_bytes: args.max_decompressed_bytes,
            max_batch_items: args.max_batch_items,
            body_timeout: std::time::Duration::from_secs(args.body_timeout_secs),
            max_concurrent_decisions: args.max_concurrent_decisions.max(1),
            quarantine_max_entries: args.quarantine_max_entries,
            quarantine_max_bytes: args.quarantine_max_bytes,
        };
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let address = listener.local_addr()?;
        tracing::info!(%address, store = %args.storage.display_url(), "engage is listening");
        eprintln!(
            "engage listening on http://{address} (store: {})",
            args.storage.display_url()
        );
        if args.demo {
            let demo = crate::demo::create_account(store.as_ref()).await?;
            tokio::spawn(async move {
                match crate::demo::create_campaign(&address.to_string(), &demo).await {
                    Ok(n) => {
                        println!(
                            "{}",
                            serde_json::json!({"accountId": demo.account_id, "apiKey": demo.api_key})
                        );
                        eprintln!(
                            "demo: account {} with {n} engagements; open http://{address}/demo/?site={}",
                            demo.account_id, demo.account_id
                        );
                    }
                    Err(error) => tracing::error!("demo setup failed: {error:#}"),
                }
            });
        }
        let rate_limits = RateLimitConfig {
            per_ip: Rate {
                per_second: args.rate_limit_per_ip,
                burst: args.rate_limit_per_ip_burst,
            },
            per_account: Rate {
                per_second: args.rate_limit_per_account,
                burst: args.rate_limit_per_account_burst,
            },
            trusted_proxies: args.trusted_proxies,
            ..RateLimitConfig::default()
        };
        let connections = ConnectionLimits {
            idle_timeout: std::time::Duration::from_secs(args.idle_timeout_secs.max(1)),
            max_connections: args.max_connections.max(1),
        };
        let webhooks = WebhookConfig {
            allow_private: args.allow_private_webhooks,
            retry_base: std::time::Duration::try_from_secs_f64(args.webhook_retry_base_secs)
                .ok()
                .filter(|d| !d.is_zero())
                .context("--webhook-retry-base-secs must be a positive number of seconds")?,
            max_per_account: args.webhook_max_per_account,
            max_pending_per_account: args.webhook_max_pending,
            ..WebhookConfig::default()
        };
        let mut state = AppState::new(store, limits)
            .with_secrets(secrets)
            .with_rate_limits(&rate_limits)
            .with_connection_limits(connections)
            .with_webhooks(webhooks)
            .with_retention_sweep(RetentionSweep {
                every: (args.retention_sweep_secs > 0)
                    .then(|| std::time::Duration::from_secs(args.retention_sweep_secs)),
                ..RetentionSweep::default()
            })
            .with_analytics_cache(FactCacheConfig {
                max_bytes: args.analytics_cache_mb.saturating_mul(1 << 20),
                slack_ms: i64::from(args.analytics_catch_up_slack_seconds) * 1_000,
            });
        if let Some(host) = args.public_url {
            state = state.with_public_host(host);
        }
        engage_server::serve(state, listener, shutdown_signal()).await?;
        Ok(())
    })
}

/// `--public-url`, checked before anything starts.
fn parse_public_url(url: &str) -> Result<PublicHost, String> {
    PublicHost::from_url(url)
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}

fn init_logging(format: &str) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("ENGAGE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
