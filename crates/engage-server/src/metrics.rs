//! What `GET /metrics` reports, recorded through the `metrics` crate into a Prometheus
//! recorder that belongs to one server: no recorder is installed process-wide, so that
//! several servers in one process (the tests) each count their own requests.

use std::time::Duration;

use ::metrics::{
    counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
    with_local_recorder, Counter, Histogram,
};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

const REQUESTS: &str = "engage_http_requests_total";
const INGEST_ITEMS: &str = "engage_ingest_batch_items";
const INGEST_SECONDS: &str = "engage_ingest_commit_seconds";
const RATE_LIMITED: &str = "engage_rate_limited_total";
const WEBHOOK_ATTEMPTS: &str = "engage_webhook_attempts_total";
const WEBHOOK_QUEUED: &str = "engage_webhook_deliveries_queued_total";
/// How a webhook delivery attempt ended: the label values of [`WEBHOOK_ATTEMPTS`].
pub const WEBHOOK_OUTCOMES: [&str; 3] = ["delivered", "retry", "failed"];
const ERASURES: &str = "engage_erasures_total";
const ERASED: &str = "engage_erased_rows_total";
const EXPIRED: &str = "engage_retention_removed_rows_total";
const BOT_INTERACTIONS: &str = "engage_bot_interactions_total";
const CACHE_REPORTS: &str = "engage_analytics_cache_reports_total";
const CACHE_BYTES: &str = "engage_analytics_cache_bytes";
/// Where a report's facts came from: the label values of [`CACHE_REPORTS`].
pub const CACHE_RESULTS: [&str; 4] = ["hit", "miss", "reload", "store"];

/// Upper bounds of the latency histogram, in seconds.
const LATENCY_BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];
/// Upper bounds of the items-per-ingest histogram.
const SIZE_BUCKETS: [f64; 8] = [1.0, 5.0, 10.0, 20.0, 50.0, 100.0, 250.0, 500.0];

pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    items_accepted: Counter,
    items_duplicate: Counter,
    items_rejected: Counter,
    ingest_items: Histogram,
    ingest_seconds: Histogram,
    rate_limit_untracked: Counter,
    connections_refused: Counter,
    quarantine_dropped: Counter,
}

impl Metrics {
    /// A new recorder, its metrics described and registered so that `/metrics` shows them
    /// at zero before anything happened (all but the request counts, whose series are
    /// known only once a route answered).
    pub fn new(store_backend: &str) -> Metrics {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(INGEST_ITEMS.into()), &SIZE_BUCKETS)
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Full(INGEST_SECONDS.into()), &LATENCY_BUCKETS)
            })
            // Only an empty list of buckets is refused, and both lists are constants.
            .unwrap_or_else(|_| unreachable!("the bucket lists are not empty"))
            .build_recorder();
        let handle = recorder.handle();
        let backend = store_backend.to_owned();
        let (
            items_accepted,
            items_duplicate,
            items_rejected,
            ingest_items,
            ingest_seconds,
            rate_limit_untracked,
            connections_refused,
            quarantine_dropped,
        ) = with_local_recorder(&recorder, || {
            describe_counter!(REQUESTS, "HTTP requests by route and status.");
            describe_counter!("engage_items_accepted_total", "Events and SDEs stored.");
            describe_counter!(
                "engage_items_duplicate_total",
                "Events and SDEs already stored under the same client id."
            );
            describe_counter!(
                "engage_items_rejected_total",
                "Events, SDEs and bodies that failed validation (kept in the quarantine)."
            );
            describe_histogram!(
                INGEST_ITEMS,
                "Items per durable ingest (one request's batch, committed with others)."
            );
            describe_histogram!(
                INGEST_SECONDS,
                "Time from handing a batch to the store to its durable commit."
            );
            describe_counter!(
                RATE_LIMITED,
                "Public requests refused 429 by a rate limit, by scope (ip, account)."
            );
            counter!(RATE_LIMITED, "scope" => "ip").absolute(0);
            counter!(RATE_LIMITED, "scope" => "account").absolute(0);
            describe_counter!(
                "engage_rate_limit_untracked_total",
                "Public requests of clients the full per-address table could not track \
                     (checked against their account's limit only)."
            );
            describe_counter!(
                "engage_connections_refused_total",
                "Connections closed at once because --max-connections were open."
            );
            describe_counter!(
                "engage_quarantine_dropped_total",
                "Rejected items and bodies not kept because their account's quarantine quota \
                 was reached."
            );
            describe_counter!(
                WEBHOOK_ATTEMPTS,
                "Webhook delivery attempts by outcome: delivered, retry (failed, tried again \
                 later) or failed (given up; counts towards disabling the endpoint)."
            );
            for outcome in WEBHOOK_OUTCOMES {
                counter!(WEBHOOK_ATTEMPTS, "outcome" => outcome).absolute(0);
            }
            describe_counter!(
                WEBHOOK_QUEUED,
                "Webhook deliveries put in the outbox (queued) or not kept because the \
                 account's outbox was full (refused)."
            );
            counter!(WEBHOOK_QUEUED, "result" => "queued").absolute(0);
            counter!(WEBHOOK_QUEUED, "result" => "refused").absolute(0);
            describe_counter!(
                ERASURES,
                "Erasure requests carried out (visitor or customer)."
            );
            counter!(ERASURES).absolute(0);
            describe_counter!(ERASED, "Rows removed by erasure requests, by kind.");
            describe_counter!(
                EXPIRED,
                "Rows removed by the retention sweep (past their account's retention), by kind."
            );
            describe_counter!(
                "engage_retention_steps_total",
                "Steps (transactions) of the retention sweep."
            );
            counter!("engage_retention_steps_total").absolute(0);
            describe_counter!(
                BOT_INTERACTIONS,
                "Interactions begun (a START event stored) by a visit flagged as a bot's, by reason."
            );
            for reason in engage_model::bot::BotReason::ALL {
                counter!(BOT_INTERACTIONS, "reason" => reason.as_str()).absolute(0);
            }
            describe_counter!(
                CACHE_REPORTS,
                "Reports by where their facts came from: the fact cache caught up (hit), loaded \
                 (miss), loaded again after an erasure or retention step (reload), or the store."
            );
            for result in CACHE_RESULTS {
                counter!(CACHE_REPORTS, "result" => result).absolute(0);
            }
            describe_gauge!(
                CACHE_BYTES,
                "Bytes held by the fact cache's copies of accounts' rollup facts."
            );
            gauge!(CACHE_BYTES).set(0.0);
            describe_gauge!("engage_store_info", "The storage backend.");
            gauge!("engage_store_info", "backend" => backend).set(1.0);
            (
                counter!("engage_items_accepted_total"),
                counter!("engage_items_duplicate_total"),
                counter!("engage_items_rejected_total"),
                histogram!(INGEST_ITEMS),
                histogram!(INGEST_SECONDS),
                counter!("engage_rate_limit_untracked_total"),
                counter!("engage_connections_refused_total"),
                counter!("engage_quarantine_dropped_total"),
            )
        });
        Metrics {
            recorder,
            handle,
            items_accepted,
            items_duplicate,
            items_rejected,
            ingest_items,
            ingest_seconds,
            rate_limit_untracked,
            connections_refused,
            quarantine_dropped,
        }
    }

    /// Rejected entries not kept: their account's quarantine quota was reached.
    pub fn record_quarantine_dropped(&self, entries: u64) {
        self.quarantine_dropped.increment(entries);
    }

    /// A connection closed at once because the server had its most open.
    pub fn record_connection_refused(&self) {
        self.connections_refused.increment(1);
    }

    /// A public request refused by the rate limit of `scope` (`ip` or `account`).
    pub fn record_rate_limited(&self, scope: &'static str) {
        with_local_recorder(&self.recorder, || {
            counter!(RATE_LIMITED, "scope" => scope).increment(1);
        });
    }

    /// A public request whose client the full per-address table could not track.
    pub fn record_rate_limit_untracked(&self) {
        self.rate_limit_untracked.increment(1);
    }

    /// One answer of a route (a static label: the set of routes is fixed, so the number
    /// of series stays bounded).
    pub fn record_request(&self, route: &'static str, status: u16) {
        with_local_recorder(&self.recorder, || {
            counter!(REQUESTS, "route" => route, "status" => status.to_string()).increment(1);
        });
    }

    /// One durable write of a request's items, how long it took to be acknowledged, and
    /// what became of its items.
    pub fn record_ingest(&self, items: usize, took: Duration, stored: Stored) {
        self.ingest_items.record(items as f64);
        self.ingest_seconds.record(took.as_secs_f64());
        self.items_accepted.increment(stored.accepted);
        self.items_duplicate.increment(stored.duplicates);
        self.items_rejected.increment(stored.rejected);
    }

    /// One webhook delivery attempt; `outcome` is one of [`WEBHOOK_OUTCOMES`].
    pub fn record_webhook_attempt(&self, outcome: &'static str) {
        with_local_recorder(&self.recorder, || {
            counter!(WEBHOOK_ATTEMPTS, "outcome" => outcome).increment(1);
        });
    }

    /// Deliveries put in the outbox, and those refused for a full outbox.
    pub fn record_webhook_queued(&self, queued: u64, refused: u64) {
        with_local_recorder(&self.recorder, || {
            counter!(WEBHOOK_QUEUED, "result" => "queued").increment(queued);
            counter!(WEBHOOK_QUEUED, "result" => "refused").increment(refused);
        });
    }

    /// Interactions begun by a visit flagged as a bot's.
    pub fn record_bot_interactions(&self, reason: engage_model::bot::BotReason, begun: u64) {
        with_local_recorder(&self.recorder, || {
            counter!(BOT_INTERACTIONS, "reason" => reason.as_str()).increment(begun);
        });
    }

    /// One erasure carried out, and what it removed by kind.
    pub fn record_erasure(&self, removed: &engage_store::ErasureCounts) {
        with_local_recorder(&self.recorder, || {
            counter!(ERASURES).increment(1);
        });
        self.record_removed(ERASED, removed);
    }

    /// One step of the retention sweep, and what it removed by kind.
    pub fn record_retention(&self, removed: &engage_store::ErasureCounts) {
        with_local_recorder(&self.recorder, || {
            counter!("engage_retention_steps_total").increment(1);
        });
        self.record_removed(EXPIRED, removed);
    }

    fn record_removed(&self, name: &'static str, removed: &engage_store::ErasureCounts) {
        with_local_recorder(&self.recorder, || {
            for (kind, n) in [
                ("visits", removed.visits),
                ("pages", removed.pages),
                ("interactions", removed.interactions),
                ("events", removed.events),
                ("attributes", removed.attributes),
                ("identities", removed.identities),
                ("exposures", removed.exposures),
                ("quarantined", removed.quarantined),
                ("webhook_deliveries", removed.webhook_deliveries),
                ("rollups", removed.rollups),
            ] {
                if n > 0 {
                    counter!(name, "kind" => kind).increment(n);
                }
            }
        });
    }

    /// A report's facts came from `result` (one of [`CACHE_RESULTS`]); the cache now
    /// holds `bytes`.
    pub fn record_analytics_cache(&self, result: &'static str, bytes: usize) {
        with_local_recorder(&self.recorder, || {
            counter!(CACHE_REPORTS, "result" => result).increment(1);
            gauge!(CACHE_BYTES).set(bytes as f64);
        });
    }

    /// Everything, in the Prometheus text format.
    pub fn render(&self) -> String {
        self.handle.render()
    }

    /// What the fact cache's copies hold now (they also change when a background load
    /// ends, with no report to record it).
    pub fn set_analytics_cache_bytes(&self, bytes: usize) {
        with_local_recorder(&self.recorder, || {
            gauge!(CACHE_BYTES).set(bytes as f64);
        });
    }

    /// Folds the histograms' samples into their buckets; without it they would pile up
    /// between scrapes (and forever if nobody scrapes).
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }
}

/// What became of a batch's items.
#[derive(Debug, Clone, Copy)]
pub struct Stored {
    pub accepted: u64,
    pub duplicates: u64,
    pub rejected: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_metric_in_the_prometheus_text_format() {
        let metrics = Metrics::new("sqlite");
        metrics.record_request("collect", 200);
        metrics.record_request("collect", 200);
        metrics.record_request("collect", 400);
        metrics.record_ingest(
            3,
            Duration::from_millis(2),
            Stored {
                accepted: 2,
                duplicates: 1,
                rejected: 0,
            },
        );
        let text = metrics.render();
        for line in [
            "# TYPE engage_http_requests_total counter\n",
            "engage_http_requests_total{route=\"collect\",status=\"200\"} 2\n",
            "engage_http_requests_total{route=\"collect\",status=\"400\"} 1\n",
            "engage_items_accepted_total 2\n",
            "engage_items_duplicate_total 1\n",
            "engage_items_rejected_total 0\n",
            "# TYPE engage_ingest_batch_items histogram\n",
            "engage_ingest_batch_items_bucket{le=\"1\"} 0\n",
            "engage_ingest_batch_items_bucket{le=\"5\"} 1\n",
            "engage_ingest_batch_items_bucket{le=\"+Inf\"} 1\n",
            "engage_ingest_batch_items_sum 3\n",
            "engage_ingest_commit_seconds_bucket{le=\"0.001\"} 0\n",
            "engage_ingest_commit_seconds_bucket{le=\"0.0025\"} 1\n",
            "engage_ingest_commit_seconds_count 1\n",
            "engage_store_info{backend=\"sqlite\"} 1\n",
            "# HELP engage_items_accepted_total Events and SDEs stored.\n",
        ] {
            assert!(text.contains(line), "no {line:?} in:\n{text}");
        }
    }

    #[test]
    fn every_metric_shows_before_anything_happened() {
        let text = Metrics::new("sqlite").render();
        for line in [
            "engage_items_accepted_total 0\n",
            "engage_items_rejected_total 0\n",
            "engage_ingest_batch_items_count 0\n",
            "engage_ingest_commit_seconds_bucket{le=\"+Inf\"} 0\n",
            "engage_store_info{backend=\"sqlite\"} 1\n",
        ] {
            assert!(text.contains(line), "no {line:?} in:\n{text}");
        }
    }

    #[test]
    fn two_servers_count_apart() {
        let (a, b) = (Metrics::new("sqlite"), Metrics::new("sqlite"));
        a.record_request("healthz", 200);
        assert!(a.render().contains("route=\"healthz\""));
        assert!(!b.render().contains("route=\"healthz\""));
    }
}
