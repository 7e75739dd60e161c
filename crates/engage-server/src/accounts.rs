//! Accounts as the routes need them: a read-through cache (accounts change rarely and
//! are read on every request) and API key checks.
//!
//! The cache is kept true by the store's change feed (`AppState::apply_change`): an
//! account changed through any server is forgotten here within moments.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use engage_store::{Account, Store};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::oauth::{self, OAuthError, SignedRequest};
use crate::secrets::{oauth_secrets, SecretBox};

/// A new random API key (`ek_` and 48 hex digits) and the hash that is stored.
pub fn generate_api_key() -> Result<(String, String), getrandom::Error> {
    let key = engage_store::ids::api_key()?;
    let hash = hash_api_key(&key);
    Ok((key, hash))
}

/// Hex SHA-256: keys are long random strings, so a fast hash is enough to keep them
/// out of the database.
pub fn hash_api_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

#[derive(Default)]
pub struct AccountCache {
    known: RwLock<HashMap<String, Arc<Account>>>,
    /// Key hash → account id, for every account in `known`: tells a key of another
    /// account (403) from no key at all (401) without asking the store.
    owners: RwLock<HashMap<String, String>>,
    /// Bumped by every forget, before it takes the lock: a read of the store that began
    /// before a change is not cached after the change was forgotten.
    generation: AtomicU64,
}

impl AccountCache {
    /// The account, or `UnknownAccount`. Only existing accounts are cached.
    pub async fn get(&self, store: &dyn Store, account_id: &str) -> Result<Arc<Account>, ApiError> {
        if let Some(account) = self
            .known
            .read()
            .ok()
            .and_then(|m| m.get(account_id).cloned())
        {
            return Ok(account);
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let account = store
            .account(account_id)
            .await?
            .ok_or_else(|| ApiError::UnknownAccount(account_id.to_owned()))?;
        let account = Arc::new(account);
        if let Ok(mut owners) = self.owners.write() {
            if self.generation.load(Ordering::SeqCst) == generation {
                owners.insert(account.api_key_hash.clone(), account.id.clone());
            }
        }
        if let Ok(mut known) = self.known.write() {
            if self.generation.load(Ordering::SeqCst) == generation {
                known.insert(account_id.to_owned(), account.clone());
            }
        }
        Ok(account)
    }

    /// Forgets the account (after a change to it, made here or on another server).
    pub fn forget(&self, account_id: &str) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut known) = self.known.write() {
            known.remove(account_id);
        }
        if let Ok(mut owners) = self.owners.write() {
            owners.retain(|_, owner| owner != account_id);
        }
    }

    /// Forgets every account (changes may have been missed).
    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut known) = self.known.write() {
            known.clear();
        }
        if let Ok(mut owners) = self.owners.write() {
            owners.clear();
        }
    }

    /// After this server changed an account: forgets the cached one (the next request
    /// reads it again; caching `account` itself could keep it over a later change made
    /// through another server) and answers `account`.
    pub fn replace(&self, account: Account) -> Arc<Account> {
        self.forget(&account.id);
        Arc::new(account)
    }

    /// Checks that `request` holds the account's key (`Authorization: Bearer <apiKey>`)
    /// or is signed with one of its OAuth 1.0a keys: `Unauthorized` without a key or with
    /// one of no account (or a bad signature), `Forbidden` with another account's.
    pub async fn authorize(
        &self,
        store: &dyn Store,
        secrets: Option<&SecretBox>,
        request: &Parts,
        account: &Account,
    ) -> Result<(), ApiError> {
        if let Some(signed) = oauth::parse(request)? {
            return self
                .authorize_signed(store, secrets, &signed, account)
                .await;
        }
        let key = bearer_key(&request.headers).ok_or(ApiError::Unauthorized)?;
        let hash = hash_api_key(key);
        if hash == account.api_key_hash {
            return Ok(());
        }
        let cached = self
            .owners
            .read()
            .ok()
            .and_then(|owners| owners.get(&hash).cloned());
        let owner = match cached {
            Some(owner) => Some(owner),
            None => store.account_by_key_hash(&hash).await?.map(|a| a.id),
        };
        match owner {
            Some(owner) if owner != account.id => Err(ApiError::Forbidden),
            _ => Err(ApiError::Unauthorized),
        }
    }
}

impl AccountCache {
    /// An OAuth 1.0a request: its key is read from the store on every request (no
    /// cache), so a revoked key stops working at once, on every server.
    async fn authorize_signed(
        &self,
        store: &dyn Store,
        secrets: Option<&SecretBox>,
        signed: &SignedRequest,
        account: &Account,
    ) -> Result<(), ApiError> {
        let keys = store
            .oauth_keys_by_token(&signed.consumer_key, &signed.token)
            .await?;
        let key = keys
            .iter()
            .find(|k| match oauth_secrets(secrets, k) {
                Ok((app_secret, token_secret)) => signed.verify(&app_secret, &token_secret),
                Err(e) => {
                    // The operator's mistake, not the client's: say so in the log.
                    tracing::warn!(account = %k.account, app_key = %k.app_key, "{e}");
                    false
                }
            })
            .ok_or(OAuthError::Signature)?;
        if key.account != account.id {
            return Err(ApiError::Forbidden);
        }
        let now_s = engage_store::ids::now_ms() / 1000;
        signed.check_timestamp(now_s)?;
        let first = store
            .claim_nonce(
                &account.id,
                &signed.nonce_key(),
                signed.nonce_expiry(now_s),
                now_s,
            )
            .await?;
        if !first {
            return Err(OAuthError::Replayed.into());
        }
        Ok(())
    }
}

/// The key of `Authorization: Bearer <apiKey>`, if the header has one.
fn bearer_key(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|key| !key.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(id: &str, origin: &str) -> Account {
        Account {
            id: id.into(),
            name: "Shop".into(),
            api_key_hash: format!("hash-{id}"),
            allowed_origins: vec![origin.into()],
            created_ms: 0,
        }
    }

    #[test]
    fn a_forget_ends_reads_begun_before_it_and_replace_caches_nothing() {
        let cache = AccountCache::default();
        let generation = cache.generation.load(Ordering::SeqCst);
        cache.forget("a");
        assert_ne!(cache.generation.load(Ordering::SeqCst), generation);
        let replaced = cache.replace(account("a", "https://new.example"));
        assert_eq!(replaced.allowed_origins, ["https://new.example"]);
        assert!(cache.known.read().unwrap().get("a").is_none());
    }
}
