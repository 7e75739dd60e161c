//! What the quarantine keeps of a rejected item or body: at most
//! [`MAX_QUARANTINED_BYTES`] of its text, and for a longer one its full size and the
//! SHA-256 of the whole, in its context (`"body": {"bytes", "keptBytes", "sha256"}`).
//!
//! Whatever fails validation is kept so that nothing is dropped silently, but a public
//! route takes bytes from anyone: without a bound an 8 KB gzip body that expands to
//! 8 MB of invalid JSON stored 8 MB. The prefix shows what was sent, the digest proves
//! which body it was (compare it with the client's copy); a truncated entry cannot be
//! replayed, since its text is no longer the whole.
//!
//! [`QuarantineQuota`] bounds what one account's pending entries take (entries and bytes
//! of raw text): past it, a request's rejected items and bodies are still answered as
//! rejected, but not kept, and `engage_quarantine_dropped_total` counts them. Each
//! server caches an account's usage (read with `Store::quarantine_usage`) for a minute
//! and adds what it stores, so a burst of bad requests costs no store read each.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use engage_store::{NewQuarantine, QuarantineUsage, RawJson, Store, StoreError};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Most bytes of one quarantined item's or body's text that are stored.
pub const MAX_QUARANTINED_BYTES: usize = 64 * 1024;

/// How long a server trusts its count of an account's quarantine before reading it again
/// (another server's writes and replays show then).
const USAGE_REFRESH: Duration = Duration::from_secs(60);

/// The per-account quota of pending quarantine entries; a limit of 0 is none.
pub struct QuarantineQuota {
    max_entries: u64,
    max_bytes: u64,
    usage: Mutex<HashMap<String, (QuarantineUsage, Instant)>>,
}

impl QuarantineQuota {
    pub fn new(max_entries: u64, max_bytes: u64) -> Self {
        QuarantineQuota {
            max_entries,
            max_bytes,
            usage: Mutex::default(),
        }
    }

    fn cached(&self, account_id: &str) -> Option<QuarantineUsage> {
        let usage = self.usage.lock().unwrap_or_else(|p| p.into_inner());
        usage
            .get(account_id)
            .filter(|(_, read)| read.elapsed() < USAGE_REFRESH)
            .map(|(u, _)| *u)
    }

    /// Keeps the entries of `rejected` that fit in the account's quota, in order, and
    /// answers how many it dropped. The keys are accounts that exist (a batch is only
    /// stored for one), so the cache is bounded by them.
    pub async fn admit(
        &self,
        store: &dyn Store,
        account_id: &str,
        rejected: &mut Vec<NewQuarantine>,
    ) -> Result<usize, StoreError> {
        if rejected.is_empty() || (self.max_entries == 0 && self.max_bytes == 0) {
            return Ok(0);
        }
        let read = match self.cached(account_id) {
            Some(usage) => usage,
            None => store.quarantine_usage(account_id).await?,
        };
        let mut usage = self.usage.lock().unwrap_or_else(|p| p.into_inner());
        // Another request may have counted more since `read` was taken.
        let current = match usage.get(account_id) {
            Some((u, at)) if at.elapsed() < USAGE_REFRESH => *u,
            _ => read,
        };
        let mut next = current;
        let before = rejected.len();
        rejected.retain(|entry| {
            let bytes = entry.raw.len() as u64;
            let fits = (self.max_entries == 0 || next.entries < self.max_entries)
                && (self.max_bytes == 0 || next.bytes.saturating_add(bytes) <= self.max_bytes);
            if fits {
                next.entries += 1;
                next.bytes = next.bytes.saturating_add(bytes);
            }
            fits
        });
        usage.insert(account_id.to_owned(), (next, Instant::now()));
        Ok(before - rejected.len())
    }

    /// Forgets the account's count (after a replay freed entries); the next batch reads
    /// it again.
    pub fn forget(&self, account_id: &str) {
        let mut usage = self.usage.lock().unwrap_or_else(|p| p.into_inner());
        usage.remove(account_id);
    }
}

/// What a truncated entry's context says of the whole text.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Whole {
    bytes: usize,
    kept_bytes: usize,
    sha256: String,
}

/// Cuts every entry longer than [`MAX_QUARANTINED_BYTES`] to its first bytes (at a
/// character boundary) and records the whole's size and SHA-256 in its context.
pub fn bound(rejected: &mut [NewQuarantine]) {
    for entry in rejected {
        if entry.raw.len() <= MAX_QUARANTINED_BYTES {
            continue;
        }
        let mut end = MAX_QUARANTINED_BYTES;
        while !entry.raw.is_char_boundary(end) {
            end -= 1;
        }
        let whole = Whole {
            bytes: entry.raw.len(),
            kept_bytes: end,
            sha256: hex::encode(Sha256::digest(entry.raw.as_bytes())),
        };
        entry.raw.truncate(end);
        entry.raw.shrink_to_fit();
        entry.context = with_whole(&entry.context, whole);
    }
}

/// The context with a `body` member added (a `null` context becomes `{"body": ...}`);
/// members stay in name order.
fn with_whole(context: &RawJson, whole: Whole) -> RawJson {
    let mut members = match serde_json::from_str::<serde_json::Value>(context.as_str()) {
        Ok(serde_json::Value::Object(members)) => members,
        _ => serde_json::Map::new(),
    };
    if let Ok(whole) = serde_json::to_value(whole) {
        members.insert("body".to_owned(), whole);
    }
    RawJson::to_json(&members).unwrap_or_else(|_| RawJson::null())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use engage_store::QuarantineKind;

    fn entry(raw: String, context: RawJson) -> NewQuarantine {
        NewQuarantine {
            kind: QuarantineKind::Body,
            index: None,
            client_id: None,
            raw,
            context,
            errors: vec![],
        }
    }

    #[test]
    fn long_entries_keep_a_prefix_and_the_size_and_digest_of_the_whole() {
        // A multi-byte character straddles the cut: the prefix ends before it.
        let raw = format!(
            "{}é{}",
            "a".repeat(MAX_QUARANTINED_BYTES - 1),
            "b".repeat(100)
        );
        let digest = hex::encode(Sha256::digest(raw.as_bytes()));
        let context = RawJson::from_text(r#"{"pageId":"p","visitorId":"v"}"#.into()).unwrap();
        let mut entries = [
            entry(raw.clone(), context),
            entry(raw.clone(), RawJson::null()),
            entry("short".into(), RawJson::null()),
        ];
        bound(&mut entries);
        assert_eq!(entries[0].raw, "a".repeat(MAX_QUARANTINED_BYTES - 1));
        let whole = format!(
            r#""body":{{"bytes":{},"keptBytes":{},"sha256":"{digest}"}}"#,
            raw.len(),
            MAX_QUARANTINED_BYTES - 1
        );
        assert_eq!(
            entries[0].context.as_str(),
            format!(r#"{{{whole},"pageId":"p","visitorId":"v"}}"#)
        );
        assert_eq!(entries[1].context.as_str(), format!("{{{whole}}}"));
        assert_eq!(entries[2].raw, "short");
        assert_eq!(entries[2].context.as_str(), "null");
    }
}
