//! The change feed: how every server holding a store learns that an admin write changed
//! an account, so that it drops what it cached of that account.
//!
//! A backend publishes a [`Change`] after each committed admin write (accounts, their
//! origins and keys, apps, campaigns, engagements and their agent state); ingest and
//! the Monitoring API's per-visitor writes are not admin writes and publish nothing.
//! SQLite publishes in-process, to every handle on the same file; PostgreSQL sends
//! `pg_notify` in the write's own transaction and each store forwards what its `LISTEN`
//! connection receives, so a change through any server reaches all of them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use tokio::sync::broadcast;

/// What may have changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Something of this account (its settings, keys, apps, campaigns or engagements).
    Account(String),
    /// Anything, in any account: the feed may have missed changes (its connection was
    /// lost, or a subscriber fell behind). Drop everything cached.
    Everything,
}

/// Changes kept for a subscriber that is slow to read them; one that falls further
/// behind gets `RecvError::Lagged` and must treat it as [`Change::Everything`].
const BACKLOG: usize = 1024;

/// The sending side of a store's change feed. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct ChangeFeed {
    sender: Arc<broadcast::Sender<Change>>,
}

impl Default for ChangeFeed {
    fn default() -> ChangeFeed {
        ChangeFeed {
            sender: Arc::new(broadcast::channel(BACKLOG).0),
        }
    }
}

impl ChangeFeed {
    /// The feed shared by every handle of this process on the database file at `path`
    /// (two handles on one file see each other's changes).
    pub(crate) fn for_file(path: &Path) -> ChangeFeed {
        static FEEDS: OnceLock<Mutex<HashMap<PathBuf, Weak<broadcast::Sender<Change>>>>> =
            OnceLock::new();
        let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
        // Every change to the map is one insert or one retain, so a poisoned lock still
        // holds a consistent map.
        let mut feeds = FEEDS
            .get_or_init(Mutex::default)
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        feeds.retain(|_, feed| feed.strong_count() > 0);
        if let Some(sender) = feeds.get(&key).and_then(Weak::upgrade) {
            return ChangeFeed { sender };
        }
        let feed = ChangeFeed::default();
        feeds.insert(key, Arc::downgrade(&feed.sender));
        feed
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.sender.subscribe()
    }

    /// Tells every subscriber; no subscriber is not an error.
    pub(crate) fn publish(&self, change: Change) {
        let _ = self.sender.send(change);
    }

    pub(crate) fn account_changed(&self, account_id: &str) {
        self.publish(Change::Account(account_id.to_owned()));
    }
}
