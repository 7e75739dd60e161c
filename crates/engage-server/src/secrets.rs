//! Secrets kept at rest: the OAuth 1.0a app and token secrets, which HMAC-SHA1 signing
//! needs in full on the server (a hash would not do), are stored sealed with a key that
//! lives outside the database (`--secret-key-file`), so a copy of the database alone does
//! not reveal them.
//!
//! A sealed value is `sealed:v1:` followed by the base64 (no padding) of a random 12-byte
//! nonce and the ChaCha20-Poly1305 ciphertext with its tag. The associated data binds it
//! to its row (account, app key, access token, and which secret it is), so a value copied
//! into another row does not open.

use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use engage_store::OAuthKey;

/// What marks a stored secret as sealed; anything else is a secret stored in clear by an
/// earlier version, still accepted.
const PREFIX: &str = "sealed:v1:";
const NONCE_LEN: usize = 12;
const KEY_LEN: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("cannot read the secret key file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot create the secret key file {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the secret key file {0} must hold 64 hexadecimal characters (32 bytes)")]
    Malformed(PathBuf),
    #[error("the system has no randomness: {0}")]
    Random(getrandom::Error),
    /// The stored value is not one this key sealed for this row.
    #[error("a stored secret does not open with this secret key (another --secret-key-file?)")]
    Open,
}

/// The key that seals and opens stored secrets.
pub struct SecretBox {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

impl SecretBox {
    pub fn from_key(key: &[u8; KEY_LEN]) -> SecretBox {
        SecretBox {
            cipher: ChaCha20Poly1305::new(Key::from_slice(key)),
        }
    }

    /// Reads the key file (64 hex characters), creating it owner-only with a new random
    /// key when it does not exist. Two processes creating it at once agree: one writes,
    /// the other reads what was written.
    pub fn load_or_create(path: &Path) -> Result<SecretBox, SecretError> {
        match std::fs::read_to_string(path) {
            Ok(text) => return Self::parse(path, &text),
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(source) => {
                return Err(SecretError::Read {
                    path: path.to_owned(),
                    source,
                })
            }
        }
        let mut key = [0u8; KEY_LEN];
        getrandom::getrandom(&mut key).map_err(SecretError::Random)?;
        let create = |source| SecretError::Create {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(create)?;
        }
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(path) {
            Ok(mut file) => {
                file.write_all(format!("{}\n", hex::encode(key)).as_bytes())
                    .and_then(|()| file.sync_all())
                    .map_err(create)?;
                Ok(SecretBox::from_key(&key))
            }
            // Another process made it first: use theirs.
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                let text = std::fs::read_to_string(path).map_err(|source| SecretError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                Self::parse(path, &text)
            }
            Err(source) => Err(create(source)),
        }
    }

    fn parse(path: &Path, text: &str) -> Result<SecretBox, SecretError> {
        let mut key = [0u8; KEY_LEN];
        hex::decode_to_slice(text.trim(), &mut key)
            .map_err(|_| SecretError::Malformed(path.to_owned()))?;
        Ok(SecretBox::from_key(&key))
    }

    /// Seals `secret` for the row `aad` names.
    pub fn seal(&self, secret: &str, aad: &[u8]) -> Result<String, SecretError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::getrandom(&mut nonce).map_err(SecretError::Random)?;
        let sealed = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: secret.as_bytes(),
                    aad,
                },
            )
            .map_err(|_| SecretError::Open)?;
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        Ok(format!("{PREFIX}{}", STANDARD_NO_PAD.encode(bytes)))
    }

    /// Opens what [`SecretBox::seal`] made for the same row.
    pub fn open(&self, stored: &str, aad: &[u8]) -> Result<String, SecretError> {
        let encoded = stored.strip_prefix(PREFIX).ok_or(SecretError::Open)?;
        let bytes = STANDARD_NO_PAD
            .decode(encoded)
            .map_err(|_| SecretError::Open)?;
        if bytes.len() < NONCE_LEN {
            return Err(SecretError::Open);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad })
            .map_err(|_| SecretError::Open)?;
        String::from_utf8(plain).map_err(|_| SecretError::Open)
    }

    /// The key with its two secrets sealed, as it is to be stored.
    pub fn seal_oauth_key(&self, key: &OAuthKey) -> Result<OAuthKey, SecretError> {
        Ok(OAuthKey {
            app_secret: self.seal(&key.app_secret, &oauth_aad(key, "app"))?,
            access_token_secret: self.seal(&key.access_token_secret, &oauth_aad(key, "token"))?,
            ..key.clone()
        })
    }
}

/// A new OAuth 1.0a key of `account` with random credentials, in clear: seal it with
/// [`SecretBox::seal_oauth_key`] before storing it, and show its secrets once.
pub fn new_oauth_key(account: &str) -> Result<OAuthKey, getrandom::Error> {
    let credential = engage_store::ids::oauth_credential;
    Ok(OAuthKey {
        account: account.to_owned(),
        app_key: credential()?,
        app_secret: credential()?,
        access_token: credential()?,
        access_token_secret: credential()?,
        created_ms: engage_store::ids::now_ms(),
    })
}

/// Whether a stored secret was sealed (rather than stored in clear by an earlier version).
pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with(PREFIX)
}

/// A stored key's `(app secret, access token secret)` in clear: opened with `secrets`
/// when sealed, as stored when an earlier version kept them in clear.
pub fn oauth_secrets(
    secrets: Option<&SecretBox>,
    key: &OAuthKey,
) -> Result<(String, String), SecretError> {
    let open = |stored: &str, which: &str| {
        if !is_sealed(stored) {
            return Ok(stored.to_owned());
        }
        secrets
            .ok_or(SecretError::Open)?
            .open(stored, &oauth_aad(key, which))
    };
    Ok((
        open(&key.app_secret, "app")?,
        open(&key.access_token_secret, "token")?,
    ))
}

/// A webhook endpoint's signing secret as it is to be stored: sealed for its account when
/// the server has a key file, as it is otherwise (a server built without one, in tests).
pub fn seal_webhook_secret(
    secrets: Option<&SecretBox>,
    account: &str,
    secret: &str,
) -> Result<String, SecretError> {
    match secrets {
        Some(secrets) => secrets.seal(secret, &webhook_aad(account)),
        None => Ok(secret.to_owned()),
    }
}

/// A stored webhook signing secret in clear (see [`seal_webhook_secret`]).
pub fn webhook_secret(
    secrets: Option<&SecretBox>,
    account: &str,
    stored: &str,
) -> Result<String, SecretError> {
    if !is_sealed(stored) {
        return Ok(stored.to_owned());
    }
    secrets
        .ok_or(SecretError::Open)?
        .open(stored, &webhook_aad(account))
}

/// What binds a sealed webhook secret to its account.
fn webhook_aad(account: &str) -> Vec<u8> {
    format!("webhook\0{account}").into_bytes()
}

/// What binds a sealed OAuth secret to its row.
fn oauth_aad(key: &OAuthKey, which: &str) -> Vec<u8> {
    format!(
        "oauth1\0{}\0{}\0{}\0{which}",
        key.account, key.app_key, key.access_token
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(account: &str) -> OAuthKey {
        OAuthKey {
            account: account.into(),
            app_key: "app".into(),
            app_secret: "app secret".into(),
            access_token: "token".into(),
            access_token_secret: "token secret".into(),
            created_ms: 1,
        }
    }

    #[test]
    fn sealed_secrets_open_only_with_their_key_and_for_their_row() {
        let secrets = SecretBox::from_key(&[7; 32]);
        let sealed = secrets.seal_oauth_key(&key("1")).unwrap();
        assert!(is_sealed(&sealed.app_secret) && is_sealed(&sealed.access_token_secret));
        assert!(!sealed.app_secret.contains("app secret"));
        assert_ne!(
            secrets.seal_oauth_key(&key("1")).unwrap().app_secret,
            sealed.app_secret,
            "a fresh nonce each time"
        );
        assert_eq!(
            oauth_secrets(Some(&secrets), &sealed).unwrap(),
            ("app secret".to_owned(), "token secret".to_owned())
        );
        // Another key, no key, another row, the two secrets swapped, a flipped byte.
        let other = SecretBox::from_key(&[8; 32]);
        assert!(oauth_secrets(Some(&other), &sealed).is_err());
        assert!(oauth_secrets(None, &sealed).is_err());
        let moved = OAuthKey {
            account: "2".into(),
            ..sealed.clone()
        };
        assert!(oauth_secrets(Some(&secrets), &moved).is_err());
        let swapped = OAuthKey {
            app_secret: sealed.access_token_secret.clone(),
            access_token_secret: sealed.app_secret.clone(),
            ..sealed.clone()
        };
        assert!(oauth_secrets(Some(&secrets), &swapped).is_err());
        let mut tampered = sealed.app_secret.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = OAuthKey {
            app_secret: String::from_utf8(tampered).unwrap(),
            ..sealed
        };
        assert!(oauth_secrets(Some(&secrets), &tampered).is_err());
    }

    #[test]
    fn secrets_stored_in_clear_by_an_earlier_version_still_open() {
        assert_eq!(
            oauth_secrets(None, &key("1")).unwrap(),
            ("app secret".to_owned(), "token secret".to_owned())
        );
    }

    #[test]
    fn the_key_file_is_made_once_owner_only_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("secret.key");
        let first = SecretBox::load_or_create(&path).unwrap();
        let sealed = first.seal("s", b"row").unwrap();
        let again = SecretBox::load_or_create(&path).unwrap();
        assert_eq!(again.open(&sealed, b"row").unwrap(), "s");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        }
        std::fs::write(&path, "not hex").unwrap();
        let err = SecretBox::load_or_create(&path).unwrap_err();
        assert!(err.to_string().contains("64 hexadecimal"), "{err}");
    }
}
