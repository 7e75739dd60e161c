//! Webhooks (docs/api.md, Webhooks; docs/operations.md, Webhooks): what an account's
//! endpoints receive, how it is queued, signed and delivered.
//!
//! - [`Webhooks`]: the configuration ([`WebhookConfig`]) and each account's enabled
//!   endpoints, cached and dropped on the store's change feed like the decision
//!   snapshots.
//! - [`Webhooks::plan`]: the deliveries a batch causes, made before the batch is stored;
//!   `AppState::ingest` puts them in the store's outbox after the batch committed and
//!   before the route answers, each keyed by its source item, so a batch retried after a
//!   failure in between queues what was missing and nothing twice. Nothing that was
//!   acknowledged lacks its deliveries.
//! - [`signature`]: the `Engage-Signature` header.
//! - `guard`: the SSRF guard (URLs as written, and every resolved address).
//! - `worker`: the delivery loop every server runs: claims due deliveries (leased, so
//!   one server attempts each), posts them, records the outcome, retries with
//!   exponential backoff, gives up after `give_up_after` and disables an endpoint after
//!   `disable_after` deliveries in a row failed for good.

pub mod guard;
pub mod worker;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use engage_model::{OfferEventName, Sde, SdeType, Stamps};
use engage_store::{ids, IngestBatch, NewDelivery, Store, StoreError};
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

/// The happenings an endpoint may ask for besides `LP_OFFERS` event names.
pub const NAMED_EVENTS: [&str; 4] = [
    "offer.clicked",
    "lead.submitted",
    "purchase",
    "coupon.revealed",
];

/// What a server does with webhooks; the defaults are what `engage serve` uses.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Deliveries to loopback, private and link-local addresses (`--allow-private-webhooks`).
    pub allow_private: bool,
    /// The first retry's delay; each next one doubles, up to `retry_max`.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// Retries stop this long after the first attempt (or a manual redelivery).
    pub give_up_after: Duration,
    /// How long a receiver has to answer.
    pub request_timeout: Duration,
    /// How long a claimed delivery is this server's; longer than an attempt can take.
    pub lease: Duration,
    /// How often an idle worker looks for due deliveries.
    pub poll: Duration,
    /// Deliveries in a row that failed for good before an endpoint is disabled.
    pub disable_after: u32,
    /// Endpoints per account.
    pub max_per_account: usize,
    /// Pending deliveries per account; past it new ones are refused (and counted).
    pub max_pending_per_account: u64,
    /// Longest body: a bigger happening is sent without its data (`"truncated": true`).
    pub max_body_bytes: usize,
    /// Deliveries attempted at once by one server.
    pub concurrency: usize,
    /// Finished deliveries stay in the log this long.
    pub keep_finished: Duration,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            allow_private: false,
            retry_base: Duration::from_secs(10),
            retry_max: Duration::from_secs(3600),
            give_up_after: Duration::from_secs(24 * 3600),
            request_timeout: Duration::from_secs(10),
            lease: Duration::from_secs(30),
            poll: Duration::from_secs(1),
            disable_after: 5,
            max_per_account: 10,
            max_pending_per_account: 10_000,
            max_body_bytes: 64 * 1024,
            concurrency: 16,
            keep_finished: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

impl WebhookConfig {
    /// The delay before attempt `attempts + 1`, after `attempts` failed ones.
    pub fn retry_delay(&self, attempts: u32) -> Duration {
        let doubled = self.retry_base.saturating_mul(
            1u32.checked_shl(attempts.saturating_sub(1))
                .unwrap_or(u32::MAX),
        );
        doubled.min(self.retry_max)
    }
}

/// An account's enabled endpoints, as deliveries are planned from them.
#[derive(Debug, Default)]
struct Subscriptions {
    endpoints: Vec<(String, Vec<String>)>,
}

pub struct Webhooks {
    pub config: WebhookConfig,
    cache: RwLock<HashMap<String, Arc<Subscriptions>>>,
    /// Why there is none, when the TLS backend could not start: every attempt then
    /// fails with that reason (and is retried), nothing panics.
    client: Result<reqwest::Client, String>,
}

/// Accounts whose endpoints are cached; past it the cache starts again (a few reads).
const MAX_CACHED_ACCOUNTS: usize = 10_000;

impl Webhooks {
    pub fn new(config: WebhookConfig) -> Webhooks {
        let client = reqwest::Client::builder()
            .dns_resolver(guard::resolver(config.allow_private))
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.request_timeout)
            .connect_timeout(config.request_timeout)
            .user_agent(concat!("Engage-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                tracing::error!(error = %e, "no HTTP client for webhook deliveries");
                format!("no HTTP client for webhook deliveries: {e}")
            });
        Webhooks {
            config,
            cache: RwLock::default(),
            client,
        }
    }

    pub(crate) fn client(&self) -> Result<&reqwest::Client, &str> {
        self.client.as_ref().map_err(String::as_str)
    }

    /// Forgets what was cached of an account (its endpoints or engagements changed).
    pub fn forget(&self, account_id: &str) {
        if let Ok(mut cache) = self.cache.write() {
            cache.remove(account_id);
        }
    }

    pub fn forget_all(&self) {
        if let Ok(mut cache) = self.cache.write() {
            cache.clear();
        }
    }

    async fn subscriptions(
        &self,
        store: &dyn Store,
        account_id: &str,
    ) -> Result<Arc<Subscriptions>, StoreError> {
        if let Some(found) = self
            .cache
            .read()
            .ok()
            .and_then(|c| c.get(account_id).cloned())
        {
            return Ok(found);
        }
        let endpoints: Vec<(String, Vec<String>)> = store
            .webhooks(account_id)
            .await?
            .into_iter()
            .filter(|w| w.disabled.is_none())
            .map(|w| (w.id, w.events))
            .collect();
        let found = Arc::new(Subscriptions { endpoints });
        if let Ok(mut cache) = self.cache.write() {
            if cache.len() >= MAX_CACHED_ACCOUNTS {
                cache.clear();
            }
            cache.insert(account_id.to_owned(), found.clone());
        }
        Ok(found)
    }

    /// The deliveries `batch` causes for the account's enabled endpoints, in the batch's
    /// order (events, then attributes). Empty, and no store read, for an account whose
    /// endpoints are cached as none.
    pub async fn plan(
        &self,
        store: &dyn Store,
        batch: &IngestBatch,
    ) -> Result<Vec<NewDelivery>, StoreError> {
        let Some(visit) = &batch.visit else {
            return Ok(Vec::new());
        };
        if batch.events.is_empty() && batch.sdes.is_empty() {
            return Ok(Vec::new());
        }
        let subs = self.subscriptions(store, &batch.account_id).await?;
        if subs.endpoints.is_empty() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        fn envelope<'a>(
            batch: &'a IngestBatch,
            visit: &'a engage_store::VisitContext,
            event: &str,
            client_id: &str,
            data: Data<'a>,
        ) -> Envelope<'a> {
            Envelope {
                id: String::new(),
                event: event.to_owned(),
                created_ms: batch.received_ms,
                account_id: &batch.account_id,
                visitor_id: &visit.visitor_id,
                session_id: &visit.session_id,
                page_id: &visit.page_id,
                client_id: client_id.to_owned(),
                data,
            }
        }
        for e in &batch.events {
            let mut names = vec![e.event.name.as_str()];
            match e.event.name {
                OfferEventName::OfferClick => names.push("offer.clicked"),
                OfferEventName::CouponRevealed => names.push("coupon.revealed"),
                _ => {}
            }
            for name in names {
                self.fan_out(
                    &subs,
                    name,
                    &e.client_id,
                    &visit.visitor_id,
                    envelope(batch, visit, name, &e.client_id, Data::Event(&e.event)),
                    &mut out,
                );
            }
        }
        for s in &batch.sdes {
            let name = match s.sde.sde_type() {
                SdeType::Lead => "lead.submitted",
                SdeType::Purchase => "purchase",
                _ => continue,
            };
            let stamps = Stamps {
                server_ms: u64::try_from(batch.received_ms).ok(),
                original_ms: s.client_time_ms.and_then(|t| u64::try_from(t).ok()),
            };
            self.fan_out(
                &subs,
                name,
                &s.client_id,
                &visit.visitor_id,
                envelope(batch, visit, name, &s.client_id, Data::Sde(&s.sde, stamps)),
                &mut out,
            );
        }
        Ok(out)
    }

    fn fan_out(
        &self,
        subs: &Subscriptions,
        name: &str,
        client_id: &str,
        visitor_id: &str,
        envelope: Envelope<'_>,
        out: &mut Vec<NewDelivery>,
    ) {
        for (webhook_id, events) in &subs.endpoints {
            if !events.iter().any(|e| e == name) {
                continue;
            }
            let id = ids::new_id();
            out.push(NewDelivery {
                body: envelope.body(&id, self.config.max_body_bytes),
                id,
                webhook_id: webhook_id.clone(),
                source_id: format!("{name}:{client_id}"),
                order_key: visitor_id.to_owned(),
                event: name.to_owned(),
            });
        }
    }

    /// A `ping` delivery for one endpoint: queued like the others, so it shows the whole
    /// path works (signature, address, receiver).
    pub fn ping(&self, account_id: &str, webhook_id: &str) -> NewDelivery {
        let id = ids::new_id();
        let created_ms = ids::now_ms();
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Ping<'a> {
            id: &'a str,
            event: &'static str,
            created_ms: i64,
            account_id: &'a str,
            webhook_id: &'a str,
        }
        let body = serde_json::to_string(&Ping {
            id: &id,
            event: "ping",
            created_ms,
            account_id,
            webhook_id,
        })
        .unwrap_or_default();
        NewDelivery {
            source_id: format!("ping:{id}"),
            order_key: String::new(),
            event: "ping".into(),
            webhook_id: webhook_id.to_owned(),
            body,
            id,
        }
    }
}

/// What a delivery carries, as its receiver reads it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<'a> {
    id: String,
    event: String,
    created_ms: i64,
    account_id: &'a str,
    visitor_id: &'a str,
    session_id: &'a str,
    page_id: &'a str,
    /// The client id of the event or attribute that caused it.
    client_id: String,
    data: Data<'a>,
}

#[derive(Clone, Copy)]
enum Data<'a> {
    /// `{"appName": "LP_OFFERS", "eventName", "data"}`.
    Event(&'a engage_model::OfferEvent),
    /// The attribute in history shape, with its time stamps.
    Sde(&'a Sde, Stamps),
    /// Too big to send: the receiver can read it through the APIs by `clientId`.
    Truncated,
}

impl Serialize for Data<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Data::Event(event) => event.serialize(s),
            Data::Sde(sde, stamps) => sde.to_history(*stamps).serialize(s),
            Data::Truncated => {
                use serde::ser::SerializeMap;
                let mut map = s.serialize_map(Some(1))?;
                map.serialize_entry("truncated", &true)?;
                map.end()
            }
        }
    }
}

impl Envelope<'_> {
    fn body(&self, id: &str, max_bytes: usize) -> String {
        let write = |data: Data<'_>| {
            serde_json::to_string(&Envelope {
                id: id.to_owned(),
                event: self.event.clone(),
                created_ms: self.created_ms,
                account_id: self.account_id,
                visitor_id: self.visitor_id,
                session_id: self.session_id,
                page_id: self.page_id,
                client_id: self.client_id.clone(),
                data,
            })
            .unwrap_or_default()
        };
        let whole = write(self.data);
        if whole.len() <= max_bytes {
            whole
        } else {
            write(Data::Truncated)
        }
    }
}

/// `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed with the secret>`: the
/// `Engage-Signature` header. Receivers compute the same and compare in constant time,
/// and refuse a `t` too far from their clock (a replay).
pub fn signature(secret: &str, timestamp_s: i64, body: &str) -> String {
    // HMAC takes a key of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of every length"));
    mac.update(timestamp_s.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!(
        "t={timestamp_s},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// A new endpoint secret: `whsec_` and 32 random bytes in hex.
pub fn new_secret() -> Result<String, StoreError> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes)
        .map_err(|e| StoreError::Backend(format!("no randomness for a webhook secret: {e}")))?;
    Ok(format!("whsec_{}", hex::encode(bytes)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Computed independently with
        // `printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test`.
        assert_eq!(
            signature("whsec_test", 1_700_000_000, r#"{"a":1}"#),
            "t=1700000000,v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
    }

    #[test]
    fn retries_double_up_to_the_longest_delay() {
        let c = WebhookConfig::default();
        assert_eq!(c.retry_delay(1), Duration::from_secs(10));
        assert_eq!(c.retry_delay(2), Duration::from_secs(20));
        assert_eq!(c.retry_delay(5), Duration::from_secs(160));
        assert_eq!(c.retry_delay(12), Duration::from_secs(3600));
        assert_eq!(c.retry_delay(80), Duration::from_secs(3600));
    }
}
