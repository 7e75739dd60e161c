//! What a server does while PostgreSQL is away (restarted, failed over, refusing
//! connections): every call answers [`StoreError::Unavailable`] at once (503 with
//! `Retry-After` above the trait) instead of waiting on a connection, and connecting is
//! retried with exponential backoff (one attempt per window, 100 ms doubling to 5 s)
//! until it works again. Connections the database dropped are discarded by the pool
//! on their next use, so nothing needs restarting.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use deadpool_postgres::{Object, Pool, PoolError};

use crate::StoreError;

/// The first wait after a failed connection attempt; doubled on each failure.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait between attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How long a new connection may take (TCP, TLS, startup) before it counts as failed.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a call waits for a pooled connection when all are busy.
pub(crate) const WAIT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Default)]
pub(crate) struct Health {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// No attempt before this instant.
    retry_at: Option<Instant>,
    backoff: Duration,
}

impl Health {
    /// A pooled connection, or `Unavailable` at once while the database is known to be
    /// away and the backoff window has not passed.
    pub(crate) async fn connection(&self, pool: &Pool) -> Result<Object, StoreError> {
        if let Some(left) = self.waiting() {
            return Err(StoreError::Unavailable(format!(
                "the database is unreachable; next attempt in {} ms",
                left.as_millis()
            )));
        }
        match pool.get().await {
            Ok(conn) => {
                self.recovered();
                Ok(conn)
            }
            Err(e) => {
                if is_connection_failure(&e) {
                    self.failed();
                }
                Err(StoreError::Unavailable(format!(
                    "no database connection: {e}"
                )))
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is two plain values: usable whatever a panicking holder left.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How long until the next attempt, if one must wait; the caller that finds the
    /// window over makes the attempt.
    fn waiting(&self) -> Option<Duration> {
        let state = self.lock();
        let left = state.retry_at?.checked_duration_since(Instant::now())?;
        (!left.is_zero()).then_some(left)
    }

    fn failed(&self) {
        let mut state = self.lock();
        state.backoff = (state.backoff * 2).clamp(FIRST_BACKOFF, MAX_BACKOFF);
        state.retry_at = Some(Instant::now() + state.backoff);
        tracing::warn!(
            backoff_ms = state.backoff.as_millis() as u64,
            "the database is unreachable; answering 503 until the next attempt"
        );
    }

    fn recovered(&self) {
        let mut state = self.lock();
        if state.retry_at.take().is_some() {
            tracing::info!("the database is reachable again");
        }
        state.backoff = Duration::ZERO;
    }
}

/// A new connection could not be made (refused, timed out, rejected by the server):
/// the database is away. A pool that is only busy is not.
fn is_connection_failure(e: &PoolError) -> bool {
    match e {
        PoolError::Backend(_) => true,
        PoolError::Timeout(kind) => matches!(kind, deadpool_postgres::TimeoutType::Create),
        PoolError::Closed | PoolError::NoRuntimeSpecified | PoolError::PostCreateHook(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_to_its_cap_and_resets_on_success() {
        let health = Health::default();
        assert_eq!(health.waiting(), None);
        let mut seen = Vec::new();
        for _ in 0..9 {
            health.failed();
            seen.push(health.lock().backoff);
        }
        assert_eq!(seen[0], FIRST_BACKOFF);
        assert_eq!(seen[1], FIRST_BACKOFF * 2);
        assert_eq!(*seen.last().unwrap_or(&Duration::ZERO), MAX_BACKOFF);
        assert!(health.waiting().is_some());
        health.recovered();
        assert_eq!(health.waiting(), None);
        health.failed();
        assert_eq!(health.lock().backoff, FIRST_BACKOFF);
    }
}
