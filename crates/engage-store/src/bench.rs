//! The direct-ingest load: many concurrent callers of [`Store::ingest`] with small mixed
//! batches over a few thousand sessions, as the collect endpoint produces them. Its
//! items/s is the ceiling an HTTP ingest benchmark against the same store can reach.

use std::sync::Arc;
use std::time::{Duration, Instant};

use engage_model::{OfferEvent, Sde, SdeType};
use serde::Serialize;

use crate::{sample, IngestBatch, NewAccount, Store, StoreError};

/// The shape of the load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IngestLoad {
    /// How long callers keep sending new batches (batches in flight then finish).
    pub duration: Duration,
    /// Concurrent callers, each with one batch in flight.
    pub concurrency: usize,
    /// Items per batch, alternately events and attributes (all ten types in turn).
    pub batch_len: usize,
    /// Distinct sessions the batches are spread over.
    pub sessions: usize,
}

impl Default for IngestLoad {
    fn default() -> Self {
        IngestLoad {
            duration: Duration::from_secs(5),
            concurrency: 32,
            batch_len: 20,
            sessions: 2_000,
        }
    }
}

/// What the load measured.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IngestReport {
    /// Items written (accepted; the load sends no duplicates).
    pub items: u64,
    pub batches: u64,
    pub duplicates: u64,
    pub elapsed_secs: f64,
    pub items_per_sec: f64,
    /// Mean time a caller waited for `ingest`, in milliseconds.
    pub mean_latency_ms: f64,
}

/// Runs [`IngestLoad`] against `store` in a new account and reports items/s. Call it on
/// a multi-threaded tokio runtime; the store should be fresh or disposable.
pub async fn ingest_ceiling(
    store: Arc<dyn Store>,
    load: IngestLoad,
) -> Result<IngestReport, StoreError> {
    let account = store
        .create_account(NewAccount {
            name: "bench".into(),
            api_key_hash: format!("bench-{}", sample::client_id()),
        })
        .await?;
    let templates = Arc::new(Templates::new());
    let started = Instant::now();
    let deadline = started + load.duration;
    let mut tasks = Vec::with_capacity(load.concurrency);
    for caller in 0..load.concurrency.max(1) {
        let store = Arc::clone(&store);
        let templates = Arc::clone(&templates);
        let account_id = account.id.clone();
        tasks.push(tokio::spawn(async move {
            let mut totals = Totals::default();
            let mut n = 0usize;
            while Instant::now() < deadline {
                let batch = templates.batch(&account_id, caller, n, load);
                n += 1;
                let sent = Instant::now();
                let outcome = store.ingest(batch).await?;
                totals.waited += sent.elapsed();
                totals.items += (outcome.accepted) as u64;
                totals.duplicates += outcome.duplicates as u64;
                totals.batches += 1;
            }
            Ok::<Totals, StoreError>(totals)
        }));
    }
    let mut totals = Totals::default();
    for task in tasks {
        let t = task
            .await
            .map_err(|e| StoreError::Backend(format!("a bench task failed: {e}")))??;
        totals.items += t.items;
        totals.duplicates += t.duplicates;
        totals.batches += t.batches;
        totals.waited += t.waited;
    }
    let elapsed = started.elapsed().as_secs_f64();
    Ok(IngestReport {
        items: totals.items,
        batches: totals.batches,
        duplicates: totals.duplicates,
        elapsed_secs: elapsed,
        items_per_sec: totals.items as f64 / elapsed.max(f64::EPSILON),
        mean_latency_ms: if totals.batches == 0 {
            0.0
        } else {
            totals.waited.as_secs_f64() * 1000.0 / totals.batches as f64
        },
    })
}

#[derive(Default)]
struct Totals {
    items: u64,
    duplicates: u64,
    batches: u64,
    waited: Duration,
}

/// Parsed once; every batch clones from here and only the ids are new.
struct Templates {
    events: Vec<OfferEvent>,
    sdes: Vec<Sde>,
}

impl Templates {
    fn new() -> Templates {
        Templates {
            events: ["START", "OFFER_DISPLAY", "OFFER_IMPRESSION", "OFFER_CLICK"]
                .into_iter()
                .map(|name| sample::event(name, "bench-context", "bench-page"))
                .collect(),
            sdes: SdeType::ALL.into_iter().map(sample::sde).collect(),
        }
    }

    fn batch(&self, account_id: &str, caller: usize, n: usize, load: IngestLoad) -> IngestBatch {
        // Callers walk the sessions from different starting points, so concurrent batches
        // mostly touch different sessions, and every session comes back often.
        let session = (caller * 7919 + n * 31) % load.sessions.max(1);
        let page = n / 8;
        let now_ms = sample::now_ms();
        let mut batch = IngestBatch {
            account_id: account_id.to_owned(),
            received_ms: now_ms,
            visit: Some(sample::visit_context(
                &format!("bench-visitor-{session}"),
                &format!("bench-session-{session}"),
                &format!("bench-page-{session}-{caller}-{page}"),
            )),
            events: Vec::with_capacity(load.batch_len / 2 + 1),
            sdes: Vec::with_capacity(load.batch_len / 2 + 1),
            rejected: Vec::new(),
        };
        for i in 0..load.batch_len {
            let k = n * load.batch_len + i;
            if i % 2 == 0 {
                let event = self.events[k % self.events.len()].clone();
                batch
                    .events
                    .push(sample::new_event(event, Some(now_ms - 5)));
            } else {
                let sde = self.sdes[k % self.sdes.len()].clone();
                batch.sdes.push(sample::new_sde(sde, Some(now_ms - 5)));
            }
        }
        batch
    }
}
