//! `engage serve`.

use std::net::SocketAddr;

use anyhow::Context;
use engage_server::{AppState, Limits, PublicHost};

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
}

pub fn run(args: Args) -> anyhow::Result<()> {
    init_logging(&args.log_format);
    crate::runtime()?.block_on(async move {
        let store = args.storage.open().await?;
        let limits = Limits {
            max_body_bytes: args.max_body_bytes,
            max_decompressed_bytes: args.max_decompressed_bytes,
            max_batch_items: args.max_batch_items,
            body_timeout: std::time::Duration::from_secs(args.body_timeout_secs),
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
        let mut state = AppState::new(store, limits);
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
