//! `engage bench crash`: collect load against `engage serve`, SIGKILL at random moments,
//! restart, and at the end every acknowledged id must be in the store.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use engage_store::{ExportKind, NewAccount};
use serde::Serialize;

use super::payload::{collect_body, Rng, Visit};
use super::server::{now_ms, ServerProcess};
use crate::http_client::Connection;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// How many times the server is killed (and restarted).
    #[arg(long, default_value_t = 10)]
    cycles: usize,
    /// Run on this data directory (an account named `crash-bench` is created in it)
    /// instead of a scratch one.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Concurrent connections posting collect batches.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Items (events and SDEs) per request.
    #[arg(long, default_value_t = 10)]
    batch: usize,
    /// The longest a cycle runs before its kill, in ms; each picks a random moment
    /// between a fifth of it and all of it.
    #[arg(long, default_value_t = 1500)]
    max_run_ms: u64,
    /// Seed of the random moments and payloads (default: the clock).
    #[arg(long)]
    seed: Option<u64>,
}

#[derive(Serialize)]
struct Figures {
    cycles: usize,
    acknowledged: usize,
    lost: usize,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.cycles >= 1 && args.batch >= 1 && args.concurrency >= 1 && args.max_run_ms >= 5,
        "--cycles, --batch and --concurrency must be at least 1, --max-run-ms at least 5"
    );
    crate::runtime()?.block_on(async move {
        let scratch = tempfile::tempdir().context("cannot create a temporary directory")?;
        let data = args
            .data
            .clone()
            .unwrap_or_else(|| scratch.path().join("data"));
        let account = create_account(&data).await?;
        let seed = args.seed.unwrap_or_else(now_ms);
        let mut rng = Rng::new(seed);
        eprintln!(
            "bench crash: {} cycles on {} (seed {seed}), {} connections, {} items a request",
            args.cycles,
            data.display(),
            args.concurrency,
            args.batch
        );
        let acknowledged: Arc<Mutex<HashSet<String>>> = Arc::default();
        let storage = crate::server::Storage::Dir(data.clone());
        for cycle in 0..args.cycles {
            let server = ServerProcess::start(&storage, Duration::from_secs(60)).await?;
            let stop = Arc::new(AtomicBool::new(false));
            let mut tasks = Vec::new();
            for task in 0..args.concurrency {
                let mut connection = Connection::open(&server.address).await?;
                let (stop, acknowledged, path) = (
                    stop.clone(),
                    acknowledged.clone(),
                    format!("/api/account/{account}/events"),
                );
                let (batch, seed) = (args.batch, rng.next() ^ task as u64);
                tasks.push(tokio::spawn(async move {
                    let mut rng = Rng::new(seed);
                    let mut visit = Visit::new();
                    let mut acked = 0usize;
                    while !stop.load(Ordering::Relaxed) {
                        let body = collect_body(&mut rng, &visit, batch, now_ms());
                        let ids = client_ids(&body);
                        match connection.post_json(&path, body).await {
                            Ok((200, answer)) => {
                                let answer: serde_json::Value =
                                    serde_json::from_slice(&answer).unwrap_or_default();
                                let stored = answer["accepted"].as_u64().unwrap_or(0)
                                    + answer["duplicates"].as_u64().unwrap_or(0);
                                if stored != ids.len() as u64 {
                                    return Err(anyhow::anyhow!(
                                        "a batch of {} items was answered {answer}",
                                        ids.len()
                                    ));
                                }
                                acked += ids.len();
                                if let Ok(mut all) = acknowledged.lock() {
                                    all.extend(ids);
                                }
                            }
                            Ok((status, answer)) => {
                                return Err(anyhow::anyhow!(
                                    "status {status}: {}",
                                    String::from_utf8_lossy(&answer)
                                ));
                            }
                            // The server is gone: this connection is done for the cycle.
                            Err(_) => break,
                        }
                        visit.next_page();
                    }
                    Ok(acked)
                }));
            }
            let run_ms = args.max_run_ms / 5 + rng.below(args.max_run_ms - args.max_run_ms / 5);
            tokio::time::sleep(Duration::from_millis(run_ms)).await;
            server.kill();
            stop.store(true, Ordering::Relaxed);
            let mut acked = 0;
            for task in tasks {
                acked += task.await??;
            }
            let total = acknowledged.lock().map(|a| a.len()).unwrap_or(0);
            eprintln!(
                "  cycle {:>3}: killed after {run_ms:>4} ms, {acked:>6} acknowledged ({total} in all)",
                cycle + 1
            );
        }
        let acknowledged = std::mem::take(
            &mut *acknowledged
                .lock()
                .map_err(|_| anyhow::anyhow!("a load task panicked"))?,
        );
        let stored = stored_ids(&data, &account).await?;
        let lost: Vec<&String> = acknowledged.difference(&stored).collect();
        for id in lost.iter().take(10) {
            eprintln!("lost: {id}");
        }
        let figures = Figures {
            cycles: args.cycles,
            acknowledged: acknowledged.len(),
            lost: lost.len(),
        };
        println!("{}", serde_json::to_string(&figures)?);
        anyhow::ensure!(
            figures.lost == 0,
            "{} acknowledged items are not in the store",
            figures.lost
        );
        Ok(())
    })
}

/// The client ids of a collect body's events and SDEs.
fn client_ids(body: &str) -> Vec<String> {
    let value: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    ["events", "sdes"]
        .iter()
        .filter_map(|kind| value[kind].as_array())
        .flatten()
        .filter_map(|item| item["id"].as_str().map(str::to_owned))
        .collect()
}

async fn create_account(data: &Path) -> anyhow::Result<String> {
    let store =
        engage_store::open(&format!("sqlite://{}", data.join("engage.db").display())).await?;
    let account = store
        .create_account(NewAccount {
            name: "crash-bench".into(),
            api_key_hash: format!("{:064x}", now_ms()),
        })
        .await?;
    store.close().await?;
    Ok(account.id)
}

/// Every event and SDE id the store holds for `account`, read through its export.
async fn stored_ids(data: &Path, account: &str) -> anyhow::Result<HashSet<String>> {
    const PAGE: usize = 5_000;
    let store =
        engage_store::open(&format!("sqlite://{}", data.join("engage.db").display())).await?;
    let mut ids = HashSet::new();
    for kind in [ExportKind::Events, ExportKind::Sdes] {
        let mut cursor = None;
        loop {
            let page = store.export_page(account, kind, cursor, PAGE).await?;
            for item in &page.items {
                let value: serde_json::Value = serde_json::from_str(item.as_str())?;
                if let Some(id) = value["id"].as_str() {
                    ids.insert(id.to_owned());
                }
            }
            match page.cursor {
                Some(next) if page.items.len() == PAGE => cursor = Some(next),
                _ => break,
            }
        }
    }
    store.close().await?;
    Ok(ids)
}
