//! Which engagements a page view shows.
//!
//! - [`targeting`]: the rules an engagement is written with (sections, URL, attribute
//!   conditions, frequency cap), validated once and evaluated without allocating.
//! - [`sde_path`]: the attribute paths conditions name, read from a visit's merged state.
//! - [`snapshot`]: an account's engagements compiled for deciding, and `decide` (pure).
//! - [`assignment`]: control groups and traffic splits, pure functions of the ids.
//! - [`offer`]: what a decision answers (`Offer`, `Shown`) and `decision_answer`, the
//!   route's JSON, prepared when the snapshot is built.
//! - `url_matcher`: every URL rule of an account evaluated in one pass over a URL.
//! - `candidates`: interning, the bit sets over an account's engagements and the
//!   indexes that narrow a decision's candidates (they only narrow).
//! - `memo`: the per-decision memo of interned rules, each evaluated at most once.
//! - [`Decisions`] (here): the per-account snapshots, built from the store when first
//!   needed and dropped whenever an admin write changes the account (through this server,
//!   or another one: the store's change feed), so a decision never reads campaigns from
//!   the database.

pub mod assignment;
mod candidates;
mod memo;
pub mod offer;
pub mod sde_path;
pub mod snapshot;
pub mod targeting;
#[cfg(test)]
mod test_support;
mod url_matcher;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use engage_store::{Store, StoreError};

pub use offer::{decision_answer, Content, Offer, Shown};
pub use snapshot::{AccountSnapshot, Audience, Decision, PageView, RecentShows};
pub use targeting::Targeting;

/// The snapshots of the accounts that asked for a decision since their last change.
///
/// Consistency: a write to an account's campaigns calls [`Decisions::invalidate`] after it
/// committed. Every load takes a generation number before it reads the store and is only
/// kept if no invalidation came after that number, so a load that may have read the
/// state from before a write never replaces what the write invalidated. Loads of one
/// account are single-flight: concurrent misses wait for one load.
#[derive(Default)]
pub struct Decisions {
    entries: RwLock<HashMap<String, Entry>>,
    generation: AtomicU64,
    /// Eligibility this server recorded lately, as (account, campaign, visitor, UTC
    /// day, bot): the store keeps the first of a day only, so a repeat need not reach it.
    /// Bounded: emptied when full (a repeat then costs one idempotent write).
    recent_eligibility: std::sync::Mutex<std::collections::HashSet<EligibilityKey>>,
}

/// A recent eligibility: account, campaign, visitor, UTC day, and whether a bot's.
type EligibilityKey = (String, u64, String, i64, bool);

/// How many recent eligibility keys a server remembers.
const RECENT_ELIGIBILITY: usize = 100_000;

impl Decisions {
    /// The records not recorded by this server earlier the same UTC day, and remembers
    /// them.
    pub fn unseen_eligibility(
        &self,
        account_id: &str,
        records: Vec<engage_store::analytics::EligibilityRecord>,
    ) -> Vec<engage_store::analytics::EligibilityRecord> {
        if records.is_empty() {
            return records;
        }
        let mut seen = self
            .recent_eligibility
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if seen.len() + records.len() > RECENT_ELIGIBILITY {
            seen.clear();
        }
        records
            .into_iter()
            .filter(|r| {
                seen.insert((
                    account_id.to_owned(),
                    r.campaign_id,
                    r.visitor_id.clone(),
                    engage_store::analytics::day_of(r.at_ms),
                    r.bot,
                ))
            })
            .collect()
    }

    /// Forgets records whose write failed, so the next decision writes them again.
    pub fn forget_eligibility(
        &self,
        account_id: &str,
        records: &[engage_store::analytics::EligibilityRecord],
    ) {
        let mut seen = self
            .recent_eligibility
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for r in records {
            seen.remove(&(
                account_id.to_owned(),
                r.campaign_id,
                r.visitor_id.clone(),
                engage_store::analytics::day_of(r.at_ms),
                r.bot,
            ));
        }
    }
}

#[derive(Default)]
struct Entry {
    snapshot: Option<Arc<AccountSnapshot>>,
    /// Loads that started at or before this generation are stale.
    valid_from: u64,
    loading: Arc<tokio::sync::Mutex<()>>,
}

impl Decisions {
    // A panic while holding the lock cannot leave the map half-changed (every change is
    // one insert or one field store), so a poisoned lock is still usable.
    fn read(&self) -> RwLockReadGuard<'_, HashMap<String, Entry>> {
        self.entries.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, HashMap<String, Entry>> {
        self.entries.write().unwrap_or_else(|p| p.into_inner())
    }

    fn cached(&self, account_id: &str) -> Option<Arc<AccountSnapshot>> {
        self.read().get(account_id).and_then(|e| e.snapshot.clone())
    }

    /// The account's snapshot, loading it from the store when there is none.
    pub async fn snapshot(
        &self,
        store: &dyn Store,
        account_id: &str,
    ) -> Result<Arc<AccountSnapshot>, StoreError> {
        if let Some(snapshot) = self.cached(account_id) {
            return Ok(snapshot);
        }
        let loading = self
            .write()
            .entry(account_id.to_owned())
            .or_default()
            .loading
            .clone();
        let _one_load = loading.lock().await;
        if let Some(snapshot) = self.cached(account_id) {
            return Ok(snapshot);
        }
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let snapshot = Arc::new(load(store, account_id).await?);
        let mut entries = self.write();
        let entry = entries.entry(account_id.to_owned()).or_default();
        if generation > entry.valid_from {
            entry.snapshot = Some(snapshot.clone());
        }
        Ok(snapshot)
    }

    /// Drops the account's snapshot after a change; the next decision loads a new one.
    pub fn invalidate(&self, account_id: &str) {
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let mut entries = self.write();
        let entry = entries.entry(account_id.to_owned()).or_default();
        entry.valid_from = generation;
        entry.snapshot = None;
    }
}

/// Runs decisions on the blocking threads, at most `capacity` at once: a decision is
/// CPU work (the rules are evaluated, regular expressions among them), and on the async
/// workers a slow one would stall every other request of those workers. When every slot
/// is taken the caller gets `ApiError::Overloaded` (503) at once rather than a place in
/// an unbounded queue.
pub struct DecisionPool {
    permits: Arc<tokio::sync::Semaphore>,
}

impl DecisionPool {
    pub fn new(capacity: usize) -> Self {
        DecisionPool {
            permits: Arc::new(tokio::sync::Semaphore::new(capacity.max(1))),
        }
    }

    /// Runs `work` on a blocking thread once a slot is free; a slot is held until `work`
    /// returns, even if the request that asked has gone.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, crate::ApiError> {
        let permit = self
            .permits
            .clone()
            .try_acquire_owned()
            .map_err(|_| crate::ApiError::Overloaded)?;
        tokio::task::spawn_blocking(move || {
            let _slot = permit;
            work()
        })
        .await
        .map_err(|e| crate::ApiError::Internal(format!("a decision did not finish: {e}")))
    }
}

impl Decisions {
    /// Drops every snapshot (changes may have been missed).
    pub fn invalidate_all(&self) {
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        for entry in self.write().values_mut() {
            entry.valid_from = generation;
            entry.snapshot = None;
        }
    }
}

#[tracing::instrument(skip_all, fields(account = %account_id))]
async fn load(store: &dyn Store, account_id: &str) -> Result<AccountSnapshot, StoreError> {
    let apps = store.apps(account_id).await?;
    let campaigns = store.campaigns(account_id).await?;
    let engagements = store.engagements(account_id, None).await?;
    // Compiling an account's rules (its regular expressions together) is CPU work too.
    let snapshot =
        tokio::task::spawn_blocking(move || AccountSnapshot::build(apps, &campaigns, engagements))
            .await
            .map_err(|e| StoreError::Backend(format!("building a decision snapshot: {e}")))?;
    tracing::debug!(engagements = snapshot.len(), "decision snapshot built");
    Ok(snapshot)
}
