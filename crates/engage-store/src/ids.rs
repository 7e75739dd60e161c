//! The clock and every id Engage makes, in one place so that each kind of id has one
//! layout and one source of randomness.
//!
//! - Time-ordered ids ([`new_id`], [`context_id`]) are UUIDv7, so they sort by time and
//!   keep the store's unique indexes append-friendly.
//! - Ids that must say nothing about other accounts ([`account_id`], [`campaign_id`],
//!   [`app_installation_id`], [`api_key`]) are drawn from the operating system's random
//!   source; their callers retry on the rare collision.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::LazyLock;
use std::time::{SystemTime, UNIX_EPOCH};

use uuid::Uuid;

/// Now, in epoch milliseconds (0 if the clock is before 1970).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A visitor, session or page id, or the client id of an item that arrived without one:
/// a UUIDv7 as 32 hex digits.
pub fn new_id() -> String {
    Uuid::now_v7().simple().to_string()
}

/// A new engagement context id (see [`context_id_at`]).
pub fn context_id() -> String {
    context_id_at(now_ms())
}

/// An engagement context id made at `now_ms`: 32 hex digits in the UUIDv7 layout, for
/// several ids made at once. Decisions make one per engagement shown, so there is no
/// system call per id: the random part is a keyed hash of a process-wide counter under a
/// key drawn once per process, unique within the process and unpredictable across them.
pub fn context_id_at(now_ms: i64) -> String {
    static KEY: LazyLock<RandomState> = LazyLock::new(RandomState::new);
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut hasher = KEY.build_hasher();
    hasher.write_u64(n);
    let random = (hasher.finish() & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    let ms = u64::try_from(now_ms).unwrap_or(0) & 0xffff_ffff_ffff;
    // 48 bits of time, the version nibble, 12 bits of the counter, 64 random bits with
    // the variant.
    let id =
        (u128::from(ms) << 80) | (0x7 << 76) | (u128::from(n & 0xfff) << 64) | u128::from(random);
    let mut text = [0u8; uuid::fmt::Simple::LENGTH];
    Uuid::from_u128(id)
        .simple()
        .encode_lower(&mut text)
        .to_owned()
}

/// An account id: eight decimal digits, like the platform's.
pub fn account_id() -> Result<String, getrandom::Error> {
    Ok((10_000_000 + random_u64()? % 90_000_000).to_string())
}

/// A campaign or engagement id: nine decimal digits, like the platform's (`210599710`).
pub fn campaign_id() -> Result<u64, getrandom::Error> {
    Ok(100_000_000 + random_u64()? % 900_000_000)
}

/// An app installation id: a random UUID (version 4), hyphenated.
pub fn app_installation_id() -> Result<String, getrandom::Error> {
    let bytes = random_bytes::<16>()?;
    Ok(uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string())
}

/// A new API key: `ek_` and 48 hex digits (192 random bits).
pub fn api_key() -> Result<String, getrandom::Error> {
    Ok(format!("ek_{}", hex::encode(random_bytes::<24>()?)))
}

/// A new OAuth 1.0a credential (app key, app secret, access token or its secret): 32
/// hex digits (128 random bits), unreserved characters only, so it is signed as it is.
pub fn oauth_credential() -> Result<String, getrandom::Error> {
    Ok(hex::encode(random_bytes::<16>()?))
}

impl From<getrandom::Error> for crate::StoreError {
    fn from(error: getrandom::Error) -> Self {
        crate::StoreError::Backend(format!("no random id: {error}"))
    }
}

fn random_u64() -> Result<u64, getrandom::Error> {
    random_bytes::<8>().map(u64::from_le_bytes)
}

fn random_bytes<const N: usize>() -> Result<[u8; N], getrandom::Error> {
    let mut bytes = [0u8; N];
    getrandom::getrandom(&mut bytes)?;
    Ok(bytes)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn context_ids_are_unique_time_ordered_uuid_layouts() {
        let ids: Vec<String> = (0..10_000).map(|_| context_id()).collect();
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

    #[test]
    fn new_ids_are_uuidv7_in_32_hex_digits() {
        let (a, b) = (new_id(), new_id());
        assert_ne!(a, b);
        assert_eq!(a.len(), 32, "{a}");
        assert!(
            a.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')),
            "{a}"
        );
        assert_eq!(&a[12..13], "7", "{a}");
    }

    #[test]
    fn random_ids_have_their_digits_and_uuids_their_layout() {
        for _ in 0..1000 {
            let id = campaign_id().unwrap();
            assert!((100_000_000..1_000_000_000).contains(&id), "{id}");
            let account = account_id().unwrap();
            assert_eq!(account.len(), 8, "{account}");
            assert!(account.bytes().all(|b| b.is_ascii_digit()), "{account}");
        }
        let uuid = app_installation_id().unwrap();
        assert_eq!(uuid.len(), 36, "{uuid}");
        assert_eq!(&uuid[14..15], "4", "{uuid}");
        assert_ne!(
            app_installation_id().unwrap(),
            app_installation_id().unwrap()
        );
    }

    #[test]
    fn api_keys_are_ek_and_48_hex_digits() {
        let key = api_key().unwrap();
        assert_eq!(key.len(), 51, "{key}");
        assert!(key.starts_with("ek_"), "{key}");
        assert!(
            key[3..]
                .bytes()
                .all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')),
            "{key}"
        );
        assert_ne!(api_key().unwrap(), key);
    }

    #[test]
    fn the_clock_is_after_2020() {
        assert!(now_ms() > 1_577_836_800_000);
    }
}
