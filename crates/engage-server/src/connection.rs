//! Connection limits: how many connections are open at once, and how long one may stay
//! open without a request, on HTTP/1.1 and HTTP/2 alike.
//!
//! hyper closes an HTTP/1.1 connection whose request headers do not arrive within its
//! header-read timeout, but it has nothing like it for HTTP/2: a client that sends the
//! preface only, or a HEADERS frame without END_HEADERS, holds its connection for ever.
//! So every connection gets a [`Watchdog`]: the service wrapper tells it when a request
//! starts and when its answer has been sent (the guard lives in the response body, so a
//! slow client reading a large answer is not idle), and when no request is in flight for `idle_timeout` (counted from
//! the connection's start before its first request) the connection is dropped, which
//! closes the socket. Nothing is lost by it: no request is being answered then.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What `engage serve` configures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// How long a connection may go without a request in flight: the time a client has
    /// for its first request's headers, and the time an idle kept-alive connection stays
    /// open. HTTP/1.1 also uses it as hyper's header-read timeout.
    pub idle_timeout: Duration,
    /// Most connections open at once; over it a new connection is closed at once.
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            idle_timeout: Duration::from_secs(10),
            max_connections: 10_000,
        }
    }
}

/// The requests of one connection, as its watchdog sees them.
#[derive(Debug)]
pub struct Watchdog {
    started: Instant,
    in_flight: AtomicUsize,
    /// When the last request ended, in ms since `started` (0: none has yet).
    last_ended_ms: AtomicU64,
    idle_timeout: Duration,
}

/// Held while a request is being answered; dropping it (also when the request is
/// abandoned) tells the watchdog.
pub struct InFlight(Arc<Watchdog>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let now = self.0.elapsed_ms();
        self.0.last_ended_ms.fetch_max(now, Ordering::Relaxed);
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Watchdog {
    pub fn new(idle_timeout: Duration) -> Arc<Watchdog> {
        Arc::new(Watchdog {
            started: Instant::now(),
            in_flight: AtomicUsize::new(0),
            last_ended_ms: AtomicU64::new(0),
            idle_timeout,
        })
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// A request started; it counts as in flight until the guard is dropped.
    pub fn request_started(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(self.clone())
    }

    /// Resolves once the connection has gone `idle_timeout` without a request in flight.
    pub async fn idle_expired(&self) {
        let timeout_ms = u64::try_from(self.idle_timeout.as_millis()).unwrap_or(u64::MAX);
        loop {
            let now = self.elapsed_ms();
            let wait_ms = if self.in_flight.load(Ordering::Acquire) > 0 {
                timeout_ms
            } else {
                let idle_since = self.last_ended_ms.load(Ordering::Relaxed);
                let idle_for = now.saturating_sub(idle_since);
                if idle_for >= timeout_ms {
                    return;
                }
                timeout_ms - idle_for
            };
            tokio::time::sleep(Duration::from_millis(wait_ms.max(1))).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_connection_is_idle_only_without_a_request_in_flight() {
        let watchdog = Watchdog::new(Duration::from_millis(100));
        let guard = watchdog.request_started();
        let expired = tokio::time::timeout(Duration::from_millis(400), watchdog.idle_expired());
        assert!(expired.await.is_err(), "expired with a request in flight");
        drop(guard);
        let started = Instant::now();
        watchdog.idle_expired().await;
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(90) && waited <= Duration::from_millis(300),
            "{waited:?}"
        );
    }
}
