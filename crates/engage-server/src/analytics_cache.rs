//! The fact cache: per account, an in-memory copy of all of its rollup facts (both
//! sides, whole retention range, visitors numbered), kept up to date, from which a
//! report takes its scope's slice instead of reading the rows of its range from the
//! store (docs/analytics.md, Reading a report).
//!
//! - **Load**: the first report of an account starts reading both sides whole
//!   (`Store::analytics_side_since` from `i64::MIN`) in the background and answers
//!   from the store, as does every report until the copy is in place: no report
//!   waits for a load.
//! - **Catch up**: every report first reads each side's rows whose own times are at or
//!   after the previous catch-up's start minus the slack, and replaces the copy's rows
//!   from that time on. A server's own writes carry its clock at the time of the write,
//!   so they are always caught; the slack covers other servers' writes (PostgreSQL)
//!   committed up to that long after their time.
//! - **Invalidation**: erasure and retention remove rows; they bump the account's
//!   analytics generation in the same transaction (`Store::analytics_generation`), and
//!   a report that finds another generation than its copy's starts loading the account
//!   again (reading the store meanwhile).
//! - **Memory bound**: least recently used accounts are dropped while the copies'
//!   bytes exceed the bound; an account larger than the bound alone is not kept, and its
//!   reports read the store (until its generation changes, when loading is tried again).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use engage_store::analytics::account_facts::AccountFacts;
use engage_store::analytics::{AnalyticsFacts, AnalyticsScope, Visitor};
use engage_store::{Store, StoreError};

/// How the cache is configured (`engage serve --analytics-cache-mb`,
/// `--analytics-catch-up-slack-seconds`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FactCacheConfig {
    /// The most bytes the copies may hold together; 0 turns the cache off (every report
    /// reads the store).
    pub max_bytes: usize,
    /// How far before the previous catch-up's start a catch-up reads again, in ms.
    pub slack_ms: i64,
}

impl Default for FactCacheConfig {
    fn default() -> Self {
        FactCacheConfig {
            max_bytes: 256 << 20,
            slack_ms: 300_000,
        }
    }
}

/// One account's copy, or why there is none.
#[derive(Default)]
enum Held {
    /// Not loaded (yet, or dropped).
    #[default]
    Empty,
    Loaded {
        generation: u64,
        /// The start of the last catch-up (or load): the next reads from here minus
        /// the slack.
        caught_up_from: i64,
        facts: Box<AccountFacts>,
    },
    /// Being loaded in the background at this generation: reports read the store.
    Loading { generation: u64 },
    /// Larger than the bound at this generation: reports read the store.
    TooLarge { generation: u64 },
}

struct Slot {
    copy: Arc<tokio::sync::Mutex<Held>>,
    /// When it was last used (the cache's tick).
    used: u64,
    bytes: usize,
}

#[derive(Default)]
struct Slots {
    by_account: HashMap<String, Slot>,
    tick: u64,
}

/// What a report's facts came from (for the metrics and the tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The copy, caught up.
    Hit,
    /// The store, and the copy started loading (first use, or after it was dropped).
    Miss,
    /// The store, and the copy started loading again: the generation had changed.
    Reload,
    /// The store (cache off, the account over the bound, or its copy still loading).
    Store,
}

impl Source {
    /// Its label on `/metrics` (`crate::metrics::CACHE_RESULTS`).
    pub fn label(self) -> &'static str {
        match self {
            Source::Hit => "hit",
            Source::Miss => "miss",
            Source::Reload => "reload",
            Source::Store => "store",
        }
    }
}

/// Counters shown on `/metrics`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CacheStats {
    pub bytes: usize,
    pub hits: u64,
    pub misses: u64,
    pub reloads: u64,
    pub store_reads: u64,
}

/// The cache of one server.
pub struct FactCache {
    config: FactCacheConfig,
    slots: Mutex<Slots>,
    stats: Mutex<CacheStats>,
}

impl FactCache {
    pub fn new(config: FactCacheConfig) -> FactCache {
        FactCache {
            config,
            slots: Mutex::default(),
            stats: Mutex::default(),
        }
    }

    pub fn config(&self) -> FactCacheConfig {
        self.config
    }

    pub fn stats(&self) -> CacheStats {
        let mut stats = *lock(&self.stats);
        stats.bytes = lock(&self.slots).by_account.values().map(|s| s.bytes).sum();
        stats
    }

    /// The report's facts for `scope` and where they came from: from the account's copy
    /// (caught up first) when it is loaded, else from the store. A report that finds no
    /// copy of the account's generation starts loading one in the background and reads
    /// the store meanwhile, so no report waits for a load. Equal to
    /// `store.analytics_facts(account, scope)` interned (the order of each list aside).
    pub async fn facts(
        self: &Arc<Self>,
        store: &Arc<dyn Store>,
        account: &str,
        scope: AnalyticsScope,
    ) -> Result<(AnalyticsFacts<Visitor>, Source), StoreError> {
        if self.config.max_bytes == 0 {
            return self.read_store(store, account, scope, Source::Store).await;
        }
        let copy = self.slot(account);
        let mut guard = copy.lock_owned().await;
        let generation = store.analytics_generation(account).await?;
        let since = match &*guard {
            Held::Loaded {
                generation: g,
                caught_up_from,
                ..
            } if *g == generation => caught_up_from.saturating_sub(self.config.slack_ms),
            Held::TooLarge { generation: g } | Held::Loading { generation: g }
                if *g == generation =>
            {
                drop(guard);
                return self.read_store(store, account, scope, Source::Store).await;
            }
            held => {
                let source = match held {
                    Held::Empty => Source::Miss,
                    _ => Source::Reload,
                };
                *guard = Held::Loading { generation };
                drop(guard);
                let cache = Arc::clone(self);
                let (store_for_load, account_for_load) = (Arc::clone(store), account.to_owned());
                tokio::spawn(async move {
                    if let Err(e) = cache
                        .load(&store_for_load, &account_for_load, generation)
                        .await
                    {
                        tracing::warn!(account = %account_for_load, error = %e, "loading the analytics facts failed; reports read the store");
                        let copy = cache.slot(&account_for_load);
                        let mut held = copy.lock().await;
                        if matches!(&*held, Held::Loading { generation: g } if *g == generation) {
                            *held = Held::Empty;
                        }
                    }
                });
                return self.read_store(store, account, scope, source).await;
            }
        };
        let started = engage_store::ids::now_ms();
        let people = store.analytics_side_since(account, false, since).await?;
        let bots = store.analytics_side_since(account, true, since).await?;
        let (guard, facts, bytes) = tokio::task::spawn_blocking(move || {
            let slice_and_size = match &mut *guard {
                Held::Loaded {
                    facts,
                    caught_up_from,
                    ..
                } => {
                    facts.apply(false, since, people);
                    facts.apply(true, since, bots);
                    *caught_up_from = started;
                    (facts.slice(&scope), facts.heap_bytes())
                }
                // Matched as loaded above, under the same lock.
                _ => unreachable!("the copy was loaded under this lock"),
            };
            (guard, slice_and_size.0, slice_and_size.1)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("fact cache task failed: {e}")))?;
        self.keep_within_bound(account, guard, generation, bytes);
        self.count(Source::Hit);
        Ok((facts, Source::Hit))
    }

    /// Loads the account's copy at `generation` (both sides whole) without holding its
    /// lock, then installs it unless another load or a drop took its place meanwhile.
    async fn load(
        &self,
        store: &Arc<dyn Store>,
        account: &str,
        generation: u64,
    ) -> Result<(), StoreError> {
        let started = engage_store::ids::now_ms();
        let people = store.analytics_side_since(account, false, i64::MIN).await?;
        let bots = store.analytics_side_since(account, true, i64::MIN).await?;
        let fresh = tokio::task::spawn_blocking(move || {
            let mut fresh = AccountFacts::default();
            fresh.apply(false, i64::MIN, people);
            fresh.apply(true, i64::MIN, bots);
            fresh
        })
        .await
        .map_err(|e| StoreError::Backend(format!("fact cache task failed: {e}")))?;
        let copy = self.slot(account);
        let mut guard = copy.lock_owned().await;
        if !matches!(&*guard, Held::Loading { generation: g } if *g == generation) {
            return Ok(());
        }
        let bytes = fresh.heap_bytes();
        *guard = Held::Loaded {
            generation,
            caught_up_from: started,
            facts: Box::new(fresh),
        };
        self.keep_within_bound(account, guard, generation, bytes);
        Ok(())
    }

    /// Records the copy's size; a copy over the bound alone is dropped and the account's
    /// reports read the store until its generation changes.
    fn keep_within_bound(
        &self,
        account: &str,
        mut guard: tokio::sync::OwnedMutexGuard<Held>,
        generation: u64,
        bytes: usize,
    ) {
        if bytes > self.config.max_bytes {
            tracing::info!(
                account,
                bytes,
                max_bytes = self.config.max_bytes,
                "the account's analytics facts are larger than --analytics-cache-mb: its reports read the store"
            );
            *guard = Held::TooLarge { generation };
            drop(guard);
            self.set_bytes(account, 0);
        } else {
            drop(guard);
            self.set_bytes(account, bytes);
        }
    }

    async fn read_store(
        &self,
        store: &Arc<dyn Store>,
        account: &str,
        scope: AnalyticsScope,
        source: Source,
    ) -> Result<(AnalyticsFacts<Visitor>, Source), StoreError> {
        let facts = store.analytics_facts(account, scope).await?;
        let facts = tokio::task::spawn_blocking(move || facts.interned())
            .await
            .map_err(|e| StoreError::Backend(format!("fact cache task failed: {e}")))?;
        self.count(source);
        Ok((facts, source))
    }

    fn count(&self, source: Source) {
        let mut stats = lock(&self.stats);
        match source {
            Source::Hit => stats.hits += 1,
            Source::Miss => stats.misses += 1,
            Source::Reload => stats.reloads += 1,
            Source::Store => stats.store_reads += 1,
        }
    }

    /// The account's slot, made most recently used.
    fn slot(&self, account: &str) -> Arc<tokio::sync::Mutex<Held>> {
        let mut slots = lock(&self.slots);
        slots.tick += 1;
        let tick = slots.tick;
        let slot = slots
            .by_account
            .entry(account.to_owned())
            .or_insert_with(|| Slot {
                copy: Arc::default(),
                used: tick,
                bytes: 0,
            });
        slot.used = tick;
        Arc::clone(&slot.copy)
    }

    /// Records the account's copy's size, then drops least recently used copies (not
    /// this one) while all of them are over the bound.
    fn set_bytes(&self, account: &str, bytes: usize) {
        let mut slots = lock(&self.slots);
        if let Some(slot) = slots.by_account.get_mut(account) {
            slot.bytes = bytes;
        }
        loop {
            let total: usize = slots.by_account.values().map(|s| s.bytes).sum();
            if total <= self.config.max_bytes {
                break;
            }
            let oldest = slots
                .by_account
                .iter()
                .filter(|(a, s)| a.as_str() != account && s.bytes > 0)
                .min_by_key(|(_, s)| s.used)
                .map(|(a, _)| a.clone());
            match oldest {
                // A report still using the dropped copy keeps it until it is done.
                Some(oldest) => drop(slots.by_account.remove(&oldest)),
                None => break,
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
