//! Rate limits on the public routes (collect, decision, the Monitoring API): a token
//! bucket per client address and one per account, both `governor`'s GCRA.
//!
//! - [`RateLimitConfig`]: what `engage serve` was given (`--rate-limit-per-ip`,
//!   `--rate-limit-per-account`, their bursts, `--trusted-proxy`).
//! - [`RateLimits`]: the buckets; [`limit_public_routes`] is the middleware that checks
//!   them before a public route reads its body (one unit a request), and answers 429
//!   with `Retry-After`. A route that stores items then takes one unit per further item
//!   ([`charge_items`]) before it stores anything, so the rates are items a second.
//! - [`client_address`]: who the client is: the peer, or behind a trusted proxy the
//!   address `X-Forwarded-For` names.
//!
//! Memory: the keys are chosen by whoever connects (addresses) or limited to existing
//! accounts, so each table holds at most `max_keys` buckets. A bucket that has refilled
//! is the same as no bucket, so a full table first forgets those (`retain_recent`, at most
//! once a second); if it is still full, the requests of clients it does not know are
//! checked against the account's bucket only (and counted), rather than letting the table
//! grow. IPv6 clients are keyed by their /64, the block one subscriber gets.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, RawPathParams, Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota};
use ipnet::IpNet;

use crate::error::ApiError;
use crate::AppState;

/// A rate: `per_second` units a second, up to `burst` at once; 0 per second is off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub per_second: u32,
    pub burst: u32,
}

impl Rate {
    pub const OFF: Rate = Rate {
        per_second: 0,
        burst: 0,
    };

    fn quota(self) -> Option<Quota> {
        let per_second = NonZeroU32::new(self.per_second)?;
        // A burst below the rate would refuse what the rate allows within one second.
        let burst = NonZeroU32::new(self.burst.max(self.per_second)).unwrap_or(per_second);
        Some(Quota::per_second(per_second).allow_burst(burst))
    }
}

/// What `engage serve` configures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// Requests per client address (an IPv4 address, an IPv6 /64).
    pub per_ip: Rate,
    /// Requests per account, from every client together.
    pub per_account: Rate,
    /// Peers whose `X-Forwarded-For` is believed (load balancers, reverse proxies).
    pub trusted_proxies: Vec<IpNet>,
    /// Most buckets each table keeps (see the module's comment).
    pub max_keys: usize,
}

impl Default for RateLimitConfig {
    /// Far above what a site's visitors send: a page view is a decision and a few collect
    /// batches of a few items, so one address (a whole office behind a NAT) stays well
    /// below 200 items a second, and one account below 20,000, more than one server
    /// stores durably.
    fn default() -> Self {
        RateLimitConfig {
            per_ip: Rate {
                per_second: 200,
                burst: 1_000,
            },
            per_account: Rate {
                per_second: 20_000,
                burst: 100_000,
            },
            trusted_proxies: Vec::new(),
            max_keys: 100_000,
        }
    }
}

impl RateLimitConfig {
    /// No limits at all.
    pub fn off() -> Self {
        RateLimitConfig {
            per_ip: Rate::OFF,
            per_account: Rate::OFF,
            ..RateLimitConfig::default()
        }
    }
}

/// Which limit refused a request (the metric's label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Ip,
    Account,
}

impl Scope {
    pub fn label(self) -> &'static str {
        match self {
            Scope::Ip => "ip",
            Scope::Account => "account",
        }
    }
}

/// One table of buckets, bounded.
struct Buckets<K: std::hash::Hash + Eq + Clone> {
    limiter: DefaultKeyedRateLimiter<K>,
    /// The most units a bucket holds.
    burst: u32,
    max_keys: usize,
    /// When the table last forgot its refilled buckets, in ms since `started`.
    last_sweep_ms: AtomicU64,
    started: Instant,
}

/// What one table says of a request.
enum Verdict {
    Allowed,
    /// The table is full of active clients and does not know this one.
    Untracked,
    Limited(Duration),
}

impl<K: std::hash::Hash + Eq + Clone> Buckets<K> {
    fn new(quota: Quota, max_keys: usize) -> Self {
        Buckets {
            limiter: DefaultKeyedRateLimiter::keyed(quota),
            burst: quota.burst_size().get(),
            max_keys: max_keys.max(1),
            last_sweep_ms: AtomicU64::new(0),
            started: Instant::now(),
        }
    }

    fn check(&self, key: &K) -> Verdict {
        if self.limiter.len() >= self.max_keys {
            self.sweep();
            if self.limiter.len() >= self.max_keys {
                return Verdict::Untracked;
            }
        }
        match self.limiter.check_key(key) {
            Ok(()) => Verdict::Allowed,
            Err(not_until) => {
                Verdict::Limited(not_until.wait_time_from(self.limiter.clock().now()))
            }
        }
    }

    /// Takes `n` more units from a key the request already took one from. More than a
    /// bucket holds is taken as a full bucket: a batch larger than the burst still goes
    /// through when the bucket is full, and empties it.
    fn take(&self, key: &K, n: usize) -> Verdict {
        let n = u32::try_from(n).unwrap_or(u32::MAX).min(self.burst);
        let Some(n) = NonZeroU32::new(n) else {
            return Verdict::Allowed;
        };
        match self.limiter.check_key_n(key, n) {
            Ok(Ok(())) | Err(_) => Verdict::Allowed,
            Ok(Err(not_until)) => {
                Verdict::Limited(not_until.wait_time_from(self.limiter.clock().now()))
            }
        }
    }

    /// Forgets the buckets that have refilled, at most once a second: the sweep walks the
    /// whole table, and a flood of new keys must not make every request pay for it.
    fn sweep(&self) {
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let last = self.last_sweep_ms.load(Ordering::Relaxed);
        if now.saturating_sub(last) < 1_000 && last != 0 {
            return;
        }
        if self
            .last_sweep_ms
            .compare_exchange(last, now.max(1), Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            return; // another request is sweeping
        }
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }

    fn len(&self) -> usize {
        self.limiter.len()
    }
}

/// The per-address and per-account buckets of one server.
pub struct RateLimits {
    per_ip: Option<Buckets<IpAddr>>,
    per_account: Option<Buckets<String>>,
    trusted_proxies: Vec<IpNet>,
}

/// The buckets a public request was counted in, for [`charge_items`]; the middleware
/// puts it in the request's extensions (an extractor reads it from there).
#[derive(Debug, Clone, Default)]
pub struct Charged {
    client: Option<IpAddr>,
    account: Option<String>,
}

/// A refused request: which limit, and when to come back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    pub scope: Scope,
    pub retry_after: Duration,
}

impl RateLimits {
    pub fn new(config: &RateLimitConfig) -> Self {
        RateLimits {
            per_ip: config
                .per_ip
                .quota()
                .map(|q| Buckets::new(q, config.max_keys)),
            per_account: config
                .per_account
                .quota()
                .map(|q| Buckets::new(q, config.max_keys)),
            trusted_proxies: config.trusted_proxies.clone(),
        }
    }

    /// Takes one request from the client's bucket; `None` when it may go on. The second
    /// value says whether the client was too many to track (see the module's comment).
    pub fn check_client(&self, client: IpAddr) -> (Option<Limited>, bool) {
        match self.per_ip.as_ref().map(|b| b.check(&client_key(client))) {
            None | Some(Verdict::Allowed) => (None, false),
            Some(Verdict::Untracked) => (None, true),
            Some(Verdict::Limited(retry_after)) => (
                Some(Limited {
                    scope: Scope::Ip,
                    retry_after,
                }),
                false,
            ),
        }
    }

    /// Takes one request from the account's bucket (an account that exists: the keys
    /// are bounded by the accounts).
    pub fn check_account(&self, account_id: &str) -> Option<Limited> {
        match self
            .per_account
            .as_ref()
            .map(|b| b.check(&account_id.to_owned()))
        {
            Some(Verdict::Limited(retry_after)) => Some(Limited {
                scope: Scope::Account,
                retry_after,
            }),
            None | Some(Verdict::Allowed | Verdict::Untracked) => None,
        }
    }

    /// Takes one unit per item after the first (the request took that one) from the
    /// buckets the request was counted in.
    pub fn charge_items(&self, charged: &Charged, items: usize) -> Option<Limited> {
        let more = items.saturating_sub(1);
        if more == 0 {
            return None;
        }
        if let (Some(buckets), Some(client)) = (&self.per_ip, &charged.client) {
            if let Verdict::Limited(retry_after) = buckets.take(client, more) {
                return Some(Limited {
                    scope: Scope::Ip,
                    retry_after,
                });
            }
        }
        if let (Some(buckets), Some(account)) = (&self.per_account, &charged.account) {
            if let Verdict::Limited(retry_after) = buckets.take(account, more) {
                return Some(Limited {
                    scope: Scope::Account,
                    retry_after,
                });
            }
        }
        None
    }

    pub fn is_off(&self) -> bool {
        self.per_ip.is_none() && self.per_account.is_none()
    }

    /// Buckets held (addresses, accounts).
    pub fn tracked(&self) -> (usize, usize) {
        (
            self.per_ip.as_ref().map_or(0, Buckets::len),
            self.per_account.as_ref().map_or(0, Buckets::len),
        )
    }

    /// The client of a request that came from `peer`: the peer itself, unless it is a
    /// trusted proxy, in which case `X-Forwarded-For` is read from the right (the entry
    /// the trusted proxy added last) and the first address that is not a trusted proxy
    /// is the client. An entry that is not an address stops the walk at the last trusted
    /// hop, since whoever wrote it cannot be believed.
    pub fn client_address(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        client_address(peer, headers, &self.trusted_proxies)
    }
}

/// See [`RateLimits::client_address`].
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = peer.to_canonical();
    let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(&ip));
    if !is_trusted(peer) {
        return peer;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Some(ip) = parse_hop(hop) else {
            return client;
        };
        client = ip;
        if !is_trusted(ip) {
            return ip;
        }
    }
    client
}

/// One `X-Forwarded-For` entry: an address, maybe with a port (`1.2.3.4:5`, `[::1]:5`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    hop.parse::<SocketAddr>()
        .ok()
        .map(|s| s.ip().to_canonical())
}

/// An IPv4 address as it is; an IPv6 address as its /64.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
        v4 => v4,
    }
}

/// Checks the rate limits of a public route before its handler reads anything: the
/// client's bucket first (it needs nothing but the address), then, for an account that
/// exists, the account's. A refused request is answered 429 with `Retry-After` (whole
/// seconds, rounded up) and never reaches its handler, so nothing of it is stored.
pub async fn limit_public_routes(
    State(state): State<AppState>,
    path: RawPathParams,
    mut request: Request,
    next: Next,
) -> Response {
    let limits = &state.rate_limits;
    if limits.is_off() {
        return next.run(request).await;
    }
    let mut charged = Charged::default();
    if let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>() {
        let client = limits.client_address(peer.ip(), request.headers());
        let (limited, untracked) = limits.check_client(client);
        if untracked {
            state.metrics.record_rate_limit_untracked();
        } else {
            charged.client = Some(client_key(client));
        }
        if let Some(limited) = limited {
            return refuse(&state, &request, limited);
        }
    }
    let account_id = path
        .iter()
        .find(|(name, _)| *name == "account_id")
        .map(|(_, value)| value);
    if let Some(account_id) = account_id {
        // Only existing accounts get a bucket: the id is whatever the path says.
        if state
            .accounts
            .get(state.store.as_ref(), account_id)
            .await
            .is_ok()
        {
            if let Some(limited) = limits.check_account(account_id) {
                return refuse(&state, &request, limited);
            }
            charged.account = Some(account_id.to_owned());
        }
    }
    request.extensions_mut().insert(charged);
    next.run(request).await
}

/// Takes a request's further items from the buckets it was counted in (see the
/// module's comment): a route calls it once it knows how many items it would store, and
/// before it stores any. Over a limit: `ApiError::RateLimited`, counted.
pub fn charge_items(
    state: &AppState,
    charged: Option<&Charged>,
    items: usize,
) -> Result<(), ApiError> {
    let Some(limited) = charged.and_then(|c| state.rate_limits.charge_items(c, items)) else {
        return Ok(());
    };
    state.metrics.record_rate_limited(limited.scope.label());
    Err(ApiError::RateLimited {
        seconds: retry_after_seconds(limited.retry_after),
    })
}

fn refuse(state: &AppState, request: &Request, limited: Limited) -> Response {
    state.metrics.record_rate_limited(limited.scope.label());
    let seconds = retry_after_seconds(limited.retry_after);
    tracing::debug!(scope = limited.scope.label(), seconds, "rate limited");
    let monitoring = request.uri().path().contains("/app/");
    let error = ApiError::RateLimited { seconds };
    if monitoring {
        return crate::routes::monitoring_error(error);
    }
    let mut response = error.into_response();
    // Answered before the account's origins are read, so the page's origin is echoed
    // for this answer alone: it says nothing but "wait", and the tag can then read how
    // long instead of seeing a network error.
    if let Some(origin) = request.headers().get(header::ORIGIN) {
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        headers.insert(header::VARY, HeaderValue::from_static("Origin"));
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("Retry-After"),
        );
    }
    response
}

/// `Retry-After` in whole seconds, at least 1.
fn retry_after_seconds(wait: Duration) -> u64 {
    let whole = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    whole.max(1)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_counts_only_from_a_trusted_proxy() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let h = headers(&["203.0.113.7, 10.1.2.3"]);
        assert_eq!(
            client_address(ip("10.0.0.1"), &h, &trusted),
            ip("203.0.113.7")
        );
        assert_eq!(
            client_address(ip("198.51.100.1"), &h, &trusted),
            ip("198.51.100.1")
        );
        // A client cannot pick its address by writing one to the left of its own.
        let h = headers(&["1.1.1.1", "203.0.113.7"]);
        assert_eq!(
            client_address(ip("10.0.0.1"), &h, &trusted),
            ip("203.0.113.7")
        );
        // Garbage stops the walk at the last trusted hop.
        let h = headers(&["203.0.113.7, junk, 10.9.9.9"]);
        assert_eq!(client_address(ip("10.0.0.1"), &h, &trusted), ip("10.9.9.9"));
        assert_eq!(
            client_address(ip("10.0.0.1"), &headers(&[]), &trusted),
            ip("10.0.0.1")
        );
        assert_eq!(
            client_address(ip("10.0.0.1"), &headers(&["[2001:db8::1]:443"]), &trusted),
            ip("2001:db8::1")
        );
    }

    #[test]
    fn ipv6_clients_share_their_64() {
        assert_eq!(
            client_key(ip("2001:db8:1:2:aaaa::1")),
            client_key(ip("2001:db8:1:2:bbbb::2"))
        );
        assert_ne!(
            client_key(ip("2001:db8:1:2::1")),
            client_key(ip("2001:db8:1:3::1"))
        );
        assert_eq!(client_key(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
    }

    #[test]
    fn the_address_table_never_grows_past_its_bound() {
        let limits = RateLimits::new(&RateLimitConfig {
            per_ip: Rate {
                per_second: 1_000,
                burst: 1_000,
            },
            per_account: Rate::OFF,
            trusted_proxies: vec![],
            max_keys: 100,
        });
        let mut untracked = 0;
        for i in 0..1_000u32 {
            let (limited, skipped) = limits.check_client(IpAddr::V4(i.into()));
            assert!(limited.is_none());
            untracked += usize::from(skipped);
            assert!(limits.tracked().0 <= 100, "{} buckets", limits.tracked().0);
        }
        assert_eq!(untracked, 900);
        // Once their buckets have refilled (1,000 a second: a millisecond each), the
        // table forgets them and takes new clients again.
        std::thread::sleep(Duration::from_millis(1_100));
        let (limited, skipped) = limits.check_client(ip("192.0.2.1"));
        assert!(limited.is_none() && !skipped);
        assert!(limits.tracked().0 <= 2, "{} buckets", limits.tracked().0);
    }

    #[test]
    fn a_client_over_its_rate_is_told_when_to_come_back() {
        let limits = RateLimits::new(&RateLimitConfig {
            per_ip: Rate {
                per_second: 1,
                burst: 2,
            },
            ..RateLimitConfig::off()
        });
        let client = ip("192.0.2.9");
        assert!(limits.check_client(client).0.is_none());
        assert!(limits.check_client(client).0.is_none());
        let limited = limits.check_client(client).0.unwrap();
        assert_eq!(limited.scope, Scope::Ip);
        assert!(limited.retry_after <= Duration::from_secs(1));
        assert_eq!(retry_after_seconds(limited.retry_after), 1);
        assert!(limits.check_client(ip("192.0.2.10")).0.is_none());
        assert!(RateLimits::new(&RateLimitConfig::off()).is_off());
    }
}
