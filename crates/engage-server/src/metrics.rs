//! Counters for `GET /metrics`, in the Prometheus text format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency histogram, in seconds.
const LATENCY_BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];
/// Upper bounds of the items-per-ingest histogram.
const SIZE_BUCKETS: [f64; 8] = [1.0, 5.0, 10.0, 20.0, 50.0, 100.0, 250.0, 500.0];

#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    pub items_accepted: AtomicU64,
    pub items_duplicate: AtomicU64,
    pub items_rejected: AtomicU64,
    ingest_items: Histogram<8>,
    ingest_seconds: Histogram<10>,
}

#[derive(Debug)]
struct Histogram<const N: usize> {
    buckets: [AtomicU64; N],
    count: AtomicU64,
    /// Sum in micro-units, to stay integral.
    sum_micros: AtomicU64,
}

impl<const N: usize> Default for Histogram<N> {
    fn default() -> Self {
        Histogram {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }
}

impl<const N: usize> Histogram<N> {
    fn observe(&self, bounds: &[f64; N], value: f64) {
        for (bucket, bound) in self.buckets.iter().zip(bounds) {
            if value <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add((value * 1e6) as u64, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str, bounds: &[f64; N]) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (bucket, bound) in self.buckets.iter().zip(bounds) {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{bound}\"}} {}",
                bucket.load(Ordering::Relaxed)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "{name}_sum {}",
            self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count {count}");
    }
}

impl Metrics {
    pub fn record_request(&self, route: &'static str, status: u16) {
        if let Ok(mut requests) = self.requests.lock() {
            *requests.entry((route, status)).or_insert(0) += 1;
        }
    }

    /// One durable write of a request's items, and how long it took to be acknowledged.
    pub fn record_ingest(&self, items: usize, took: Duration) {
        self.ingest_items.observe(&SIZE_BUCKETS, items as f64);
        self.ingest_seconds
            .observe(&LATENCY_BUCKETS, took.as_secs_f64());
    }

    pub fn render(&self, store_backend: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP engage_http_requests_total HTTP requests by route and status."
        );
        let _ = writeln!(out, "# TYPE engage_http_requests_total counter");
        if let Ok(requests) = self.requests.lock() {
            for ((route, status), n) in requests.iter() {
                let _ = writeln!(
                    out,
                    "engage_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        for (name, help, value) in [
            (
                "engage_items_accepted_total",
                "Events and SDEs stored.",
                &self.items_accepted,
            ),
            (
                "engage_items_duplicate_total",
                "Events and SDEs already stored under the same client id.",
                &self.items_duplicate,
            ),
            (
                "engage_items_rejected_total",
                "Events, SDEs and bodies that failed validation (kept in the quarantine).",
                &self.items_rejected,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                value.load(Ordering::Relaxed)
            );
        }
        self.ingest_items.render(
            &mut out,
            "engage_ingest_batch_items",
            "Items per durable ingest (one request's batch, committed with others).",
            &SIZE_BUCKETS,
        );
        self.ingest_seconds.render(
            &mut out,
            "engage_ingest_commit_seconds",
            "Time from handing a batch to the store to its durable commit.",
            &LATENCY_BUCKETS,
        );
        let _ = writeln!(out, "# HELP engage_store_info The storage backend.\n# TYPE engage_store_info gauge\nengage_store_info{{backend=\"{store_backend}\"}} 1");
        out
    }
}
