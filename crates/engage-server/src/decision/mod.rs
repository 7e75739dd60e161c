//! Which engagements a page view shows.
//!
//! - [`targeting`]: the rules an engagement is written with (sections, URL, attribute
//!   conditions, frequency cap), validated once and evaluated without allocating.
//! - [`sde_path`]: the attribute paths conditions name, read from a visit's merged state.
//! - [`snapshot`]: an account's engagements compiled for deciding, and `decide` (pure).
//! - [`Decisions`] (here): the per-account snapshots, built from the store when first
//!   needed and dropped whenever an admin write changes the account, so a decision never
//!   reads campaigns from the database.

pub mod sde_path;
pub mod snapshot;
pub mod targeting;

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, RwLock, RwLockReadGuard, RwLockWriteGuard};

use engage_store::{Store, StoreError};

pub use snapshot::{decision_answer, AccountSnapshot, Content, Offer, PageView, Shown};
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

/// A new engagement context id: 32 hex digits in the UUIDv7 layout (time-ordered, like
/// the other ids the server makes) without a system call per id. The random part is a
/// keyed hash of a process-wide counter under a key drawn once per process, so ids are
/// unique within the process and unpredictable across processes.
pub fn new_context_id() -> String {
    context_id_at(crate::ids::now_ms())
}

/// [`new_context_id`] at a given time (epoch ms), for several ids made at once.
pub(crate) fn context_id_at(now_ms: i64) -> String {
    static KEY: LazyLock<RandomState> = LazyLock::new(RandomState::new);
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut hasher = KEY.build_hasher();
    hasher.write_u64(n);
    let random = (hasher.finish() & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    let ms = u64::try_from(now_ms).unwrap_or(0) & 0xffff_ffff_ffff;
    // 48 bits of time, the version nibble, 12 bits of the counter, 64 random bits with
    // the variant: written by hand, `format!` was a third of the cost.
    let id =
        (u128::from(ms) << 80) | (0x7 << 76) | (u128::from(n & 0xfff) << 64) | u128::from(random);
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(32);
    for shift in (0..32).rev() {
        out.push(char::from(HEX[((id >> (shift * 4)) & 0xf) as usize]));
    }
    out
}

#[tracing::instrument(skip_all, fields(account = %account_id))]
async fn load(store: &dyn Store, account_id: &str) -> Result<AccountSnapshot, StoreError> {
    let apps = store.apps(account_id).await?;
    let campaigns = store.campaigns(account_id).await?;
    let engagements = store.engagements(account_id, None).await?;
    let snapshot = AccountSnapshot::build(apps, &campaigns, engagements);
    tracing::debug!(engagements = snapshot.len(), "decision snapshot built");
    Ok(snapshot)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn context_ids_are_unique_time_ordered_uuid_layouts() {
        let ids: Vec<String> = (0..10_000).map(|_| new_context_id()).collect();
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ids.len());
        for id in &ids {
            assert_eq!(id.len(), 32, "{id}");
            assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
            assert_eq!(&id[12..13], "7", "{id}");
            assert!(matches!(&id[16..17], "8" | "9" | "a" | "b"), "{id}");
        }
        assert!(ids[0][..12] <= ids[9_999][..12]);
    }
}
