//! What the writer thread keeps in memory between writes: the accounts it knows, the
//! sessions, pages and interaction rows it wrote or read, the rollup rows it knows are
//! stored, and what the current group changed and has not yet written back or made known.
//!
//! Invariants: the caches hold committed state or state written in the current group; a
//! rolled-back group clears them (`Writer::forget_group`). A write changes a cached entry
//! only after all its statements succeeded. `GenCache::age` runs only between groups,
//! when every entry is clean (written back).

use std::collections::{HashMap, HashSet};

use super::compact::Shapes;
use super::interactions::InteractionSlot;
use crate::analytics::rollup_memory::RollupMemory;

/// Sessions and pages kept in memory, per generation (see [`GenCache`]).
const CACHE_GENERATION: usize = 20_000;

/// A session as the writer knows it: the visit row and its attribute state.
pub(crate) struct SessionSlot {
    pub visit_id: i64,
    /// The visitor that started the session: the only one whose batches join it.
    pub visitor_id: String,
    /// The visit's user agent: a page view with the same one stores none.
    pub user_agent: Option<String>,
    pub last_seen_ms: i64,
    pub sde_head: Option<i64>,
    /// Changed in the current group and not yet written back.
    pub dirty: bool,
}

/// A map that forgets what was not used for two generations: entries go into `young`;
/// when `young` is full it becomes `old` and the previous `old` is dropped; a hit in `old`
/// moves the entry back to `young`. An LRU's effect without its bookkeeping.
pub(crate) struct GenCache<V> {
    young: HashMap<String, V>,
    old: HashMap<String, V>,
}

impl<V> GenCache<V> {
    pub fn new() -> Self {
        GenCache {
            young: HashMap::new(),
            old: HashMap::new(),
        }
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        if !self.young.contains_key(key) {
            let (key, value) = self.old.remove_entry(key)?;
            self.young.insert(key, value);
        }
        self.young.get_mut(key)
    }

    pub fn insert(&mut self, key: String, value: V) {
        self.young.insert(key, value);
    }

    /// Only between groups: every entry must be clean.
    pub fn age(&mut self) {
        if self.young.len() >= CACHE_GENERATION {
            self.old = std::mem::take(&mut self.young);
        }
    }

    pub fn clear(&mut self) {
        self.young.clear();
        self.old.clear();
    }
}

pub(crate) fn key(account: &str, id: &str) -> String {
    let mut key = String::with_capacity(account.len() + id.len() + 1);
    key.push_str(account);
    key.push('\u{0}');
    key.push_str(id);
    key
}

/// The key of an interaction or a page: a context id or a page id names one only within
/// its visit (LivePerson's context ids are small per-session numbers), so the visit row
/// is part of the key. Batches without a visit share visit 0, as the unique index does.
pub(crate) fn interaction_key(account: &str, visit_id: Option<i64>, context_id: &str) -> String {
    let visit = visit_id.unwrap_or(0).to_string();
    let mut key = String::with_capacity(account.len() + visit.len() + context_id.len() + 2);
    key.push_str(account);
    key.push('\u{0}');
    key.push_str(&visit);
    key.push('\u{0}');
    key.push_str(context_id);
    key
}

/// The writer's caches and what the current group changed in them.
pub(crate) struct WriterState {
    pub accounts: HashSet<String>,
    pub sessions: GenCache<SessionSlot>,
    /// Page rows by account, visit row and page id (see [`interaction_key`]).
    pub pages: GenCache<i64>,
    /// Interaction rows by account, visit row and context id (see [`interaction_key`]).
    pub interactions: GenCache<InteractionSlot>,
    /// `event_shapes` rows by content.
    pub shapes: Shapes,
    /// Session keys changed in the current group, in order of first change.
    pub dirty_sessions: Vec<String>,
    /// Accounts created in the current group, known once it commits.
    pub new_accounts: Vec<String>,
    /// The rollup rows known to be stored, so a batch skips what would change nothing.
    pub rollups: RollupMemory,
}
