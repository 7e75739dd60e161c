//! OAuth 1.0a (RFC 5849) signed requests, HMAC-SHA1 only, as LivePerson's API-key apps
//! send them: the parameters in an `Authorization: OAuth ...` header or in the query.
//!
//! A request is accepted when its signature is the HMAC-SHA1 of its signature base string
//! under `appSecret&accessTokenSecret`, its `oauth_timestamp` is within
//! [`TIMESTAMP_WINDOW_S`] of now, and its `oauth_nonce` was not seen before within that
//! window by any server on the same store (`Store::claim_nonce`, called from
//! `accounts.rs` with [`SignedRequest::nonce_expiry`]).

use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use base64::Engine;
use hmac::{Hmac, Mac};
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha1::Sha1;

/// How far `oauth_timestamp` may be from the server's clock, either way.
pub const TIMESTAMP_WINDOW_S: i64 = 300;

/// Parameters at most in one signed request, and the longest query or header read: a
/// stranger's request costs a bounded parse and one HMAC over a bounded string.
const MAX_PARAMS: usize = 64;
const MAX_LEN: usize = 8 * 1024;

/// RFC 5849 section 3.6: everything but ALPHA, DIGIT, `-`, `.`, `_`, `~` is encoded.
const RESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// RFC 5849 percent-encoding (upper-case hex, unreserved characters kept).
pub fn encode(text: &str) -> String {
    utf8_percent_encode(text, RESERVED).to_string()
}

/// Why a signed request is refused; each is answered 401 with this message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    #[error("malformed OAuth parameters: {0}")]
    Malformed(String),
    #[error("missing OAuth parameter `{0}`")]
    Missing(&'static str),
    #[error("unsupported oauth_signature_method `{0}`: only HMAC-SHA1 is supported")]
    Method(String),
    #[error("unsupported oauth_version `{0}`: only 1.0 is supported")]
    Version(String),
    #[error("oauth_timestamp is more than {TIMESTAMP_WINDOW_S} seconds from the server's clock")]
    Timestamp,
    #[error("oauth_nonce was already used")]
    Replayed,
    #[error("invalid OAuth signature or unknown key")]
    Signature,
}

/// The parameters of one signed request, decoded.
#[derive(Debug)]
pub struct SignedRequest {
    pub consumer_key: String,
    pub token: String,
    signature: String,
    timestamp: i64,
    nonce: String,
    /// Every parameter but `oauth_signature` (and `realm`), for the base string.
    params: Vec<(String, String)>,
    method: String,
    host: String,
    path: String,
}

/// The OAuth parameters of `request`: `Ok(None)` when it carries none (neither an
/// `Authorization: OAuth` header nor an `oauth_signature` query parameter).
pub fn parse(request: &Parts) -> Result<Option<SignedRequest>, OAuthError> {
    let query = request.uri.query().unwrap_or("");
    let header = oauth_header(&request.headers);
    let query_signed = query
        .split('&')
        .any(|pair| pair.starts_with("oauth_signature="));
    if header.is_none() && !query_signed {
        return Ok(None);
    }
    if query.len() > MAX_LEN || header.is_some_and(|h| h.len() > MAX_LEN) {
        return Err(OAuthError::Malformed("too long".into()));
    }
    let mut params = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        params.push((form_decode(name)?, form_decode(value)?));
    }
    if let Some(header) = header {
        for item in header.split(',') {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            let (name, value) = item
                .split_once('=')
                .ok_or_else(|| OAuthError::Malformed(format!("`{item}` has no value")))?;
            let value = value
                .trim()
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .ok_or_else(|| OAuthError::Malformed(format!("`{item}` is not quoted")))?;
            let name = decode(name.trim())?;
            // `realm` is not signed (RFC 5849 section 3.4.1.3.1).
            if name != "realm" {
                params.push((name, decode(value)?));
            }
        }
    }
    if params.len() > MAX_PARAMS {
        return Err(OAuthError::Malformed(format!(
            "more than {MAX_PARAMS} parameters"
        )));
    }
    let one = |name: &'static str| -> Result<String, OAuthError> {
        let mut found = params.iter().filter(|(n, _)| n == name);
        let value = found.next().ok_or(OAuthError::Missing(name))?;
        if found.next().is_some() {
            return Err(OAuthError::Malformed(format!("`{name}` is given twice")));
        }
        Ok(value.1.clone())
    };
    let method = one("oauth_signature_method")?;
    if method != "HMAC-SHA1" {
        return Err(OAuthError::Method(method));
    }
    if let Ok(version) = one("oauth_version") {
        if version != "1.0" {
            return Err(OAuthError::Version(version));
        }
    }
    let signed = SignedRequest {
        consumer_key: one("oauth_consumer_key")?,
        token: one("oauth_token")?,
        signature: one("oauth_signature")?,
        timestamp: one("oauth_timestamp")?
            .parse()
            .map_err(|_| OAuthError::Malformed("oauth_timestamp is not a number".into()))?,
        nonce: one("oauth_nonce")?,
        params: params
            .into_iter()
            .filter(|(n, _)| n != "oauth_signature")
            .collect(),
        method: request.method.as_str().to_owned(),
        host: request
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| request.uri.authority().map(|a| a.as_str()))
            .unwrap_or("")
            .to_ascii_lowercase(),
        path: request.uri.path().to_owned(),
    };
    if signed.nonce.is_empty() || signed.nonce.len() > 256 {
        return Err(OAuthError::Malformed(
            "oauth_nonce must have 1 to 256 characters".into(),
        ));
    }
    Ok(Some(signed))
}

fn oauth_header(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("OAuth").then_some(rest)
}

fn decode(text: &str) -> Result<String, OAuthError> {
    percent_decode_str(text)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| OAuthError::Malformed("a parameter is not UTF-8".into()))
}

/// A query component: `+` is a space there (RFC 5849 section 3.4.1.3.1 decodes the query
/// as `application/x-www-form-urlencoded`).
fn form_decode(text: &str) -> Result<String, OAuthError> {
    decode(&text.replace('+', " "))
}

impl SignedRequest {
    /// The signature base string (RFC 5849 section 3.4.1) for `scheme`.
    pub fn base_string(&self, scheme: &str) -> String {
        let default_port = if scheme == "https" { ":443" } else { ":80" };
        let host = self.host.strip_suffix(default_port).unwrap_or(&self.host);
        let mut pairs: Vec<(String, String)> = self
            .params
            .iter()
            .map(|(n, v)| (encode(n), encode(v)))
            .collect();
        pairs.sort();
        let normalized = pairs
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        format!(
            "{}&{}&{}",
            self.method.to_ascii_uppercase(),
            encode(&format!("{scheme}://{host}{}", self.path)),
            encode(&normalized)
        )
    }

    /// Whether the signature is right for these secrets. The scheme the client signed is
    /// not known behind a TLS-terminating proxy, so both `http` and `https` base URLs are
    /// tried: either still binds the method, host, path and every parameter. The
    /// comparison is constant-time (`Mac::verify_slice`).
    pub fn verify(&self, consumer_secret: &str, token_secret: &str) -> bool {
        let Ok(given) = base64::engine::general_purpose::STANDARD.decode(&self.signature) else {
            return false;
        };
        ["http", "https"].iter().any(|scheme| {
            let base = self.base_string(scheme);
            mac(consumer_secret, token_secret, &base)
                .verify_slice(&given)
                .is_ok()
        })
    }

    /// Refuses a timestamp outside the window around `now_s`.
    pub fn check_timestamp(&self, now_s: i64) -> Result<(), OAuthError> {
        if (self.timestamp - now_s).abs() > TIMESTAMP_WINDOW_S {
            Err(OAuthError::Timestamp)
        } else {
            Ok(())
        }
    }

    pub fn timestamp(&self) -> i64 {
        self.timestamp
    }

    /// Until when the nonce must be remembered: the latest moment a request with the
    /// same timestamp could still pass the timestamp check.
    pub fn nonce_expiry(&self, now_s: i64) -> i64 {
        self.timestamp.max(now_s) + TIMESTAMP_WINDOW_S
    }

    pub fn nonce_key(&self) -> String {
        format!(
            "{}\n{}\n{}\n{}",
            self.consumer_key, self.token, self.timestamp, self.nonce
        )
    }
}

fn mac(consumer_secret: &str, token_secret: &str, base: &str) -> Hmac<Sha1> {
    let key = format!("{}&{}", encode(consumer_secret), encode(token_secret));
    // HMAC takes a key of any length.
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(key.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(base.as_bytes());
    mac
}

/// The base64 HMAC-SHA1 signature of `base` (for clients and tests).
pub fn sign(consumer_secret: &str, token_secret: &str, base: &str) -> String {
    let bytes = mac(consumer_secret, token_secret, base)
        .finalize()
        .into_bytes();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 5849 section 3.4.1.1's example request: the base string printed there, and
    /// the signature of section 1.2's printer example (`photos.example.net`), whose
    /// secrets the RFC gives.
    #[test]
    fn rfc_5849_examples() {
        let request = axum::http::Request::builder()
            .method("POST")
            .uri("/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b")
            .header("Host", "example.com")
            .header(
                "Authorization",
                r#"OAuth realm="Example", oauth_consumer_key="9djdj82h48djs9d2", oauth_token="kkk9d7dh3k39sjv7", oauth_signature_method="HMAC-SHA1", oauth_timestamp="137131201", oauth_nonce="7d8f3e4a", oauth_signature="bYT5CMsGcbgUdFHObYMEfcx6bsw%3D""#,
            )
            .body(())
            .unwrap();
        let (parts, ()) = request.into_parts();
        let mut signed = parse(&parts).unwrap().unwrap();
        // The example also signs the form body `c2&a3=2+q`; Engage's JSON routes have
        // none, so it is added here as the RFC's parameters.
        signed.params.push(("c2".into(), String::new()));
        signed.params.push(("a3".into(), "2 q".into()));
        assert_eq!(
            signed.base_string("http"),
            "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q\
             %26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_\
             key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_m\
             ethod%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk\
             9d7dh3k39sjv7"
        );

        // Section 1.2: GET http://photos.example.net/photos?file=vacation.jpg&size=original
        // signed with client secret `kd94hf93k423kf44` and token secret `pfkkdhi9sl3r4s00`.
        let request = axum::http::Request::builder()
            .method("GET")
            .uri("/photos?file=vacation.jpg&size=original")
            .header("Host", "photos.example.net")
            .header(
                "Authorization",
                r#"OAuth realm="Photos", oauth_consumer_key="dpf43f3p2l4k3l03", oauth_token="nnch734d00sl2jdk", oauth_signature_method="HMAC-SHA1", oauth_timestamp="137131202", oauth_nonce="chapoH", oauth_signature="MdpQcU8iPSUjWoN%2FUDMsK2sui9I%3D""#,
            )
            .body(())
            .unwrap();
        let (parts, ()) = request.into_parts();
        let signed = parse(&parts).unwrap().unwrap();
        assert_eq!(
            sign(
                "kd94hf93k423kf44",
                "pfkkdhi9sl3r4s00",
                &signed.base_string("http")
            ),
            "MdpQcU8iPSUjWoN/UDMsK2sui9I="
        );
        assert!(signed.verify("kd94hf93k423kf44", "pfkkdhi9sl3r4s00"));
        assert!(!signed.verify("kd94hf93k423kf44", "wrong"));
    }

    /// The header printed in LivePerson's "Create a new API Key"
    /// (pages/documents/GettingStarted/retrieve_api_keys.md), on one line as it says.
    /// Its secrets are not published, so only its reading and its (old) timestamp are
    /// checked.
    #[test]
    fn liveperson_documented_header_is_read() {
        let header = r#"OAuth oauth_signature="JA0PvBbTAxmtLmzIWINpSVLshrY%3D", oauth_version="1.0", oauth_nonce="c1c04ec4-3125-44cf-9c39-cccb9343541b", oauth_consumer_key="d392e7ff2e204d6c802e38fd775563d1", oauth_signature_method="HMAC-SHA1", oauth_token="61adad31204a4e6fab68d560f1ffb594", oauth_timestamp="1261039670""#;
        let request = axum::http::Request::builder()
            .uri("/interaction_history/api/account/1/interactions/search")
            .header("Host", "engage.example")
            .header("Authorization", header)
            .body(())
            .unwrap();
        let (parts, ()) = request.into_parts();
        let signed = parse(&parts).unwrap().unwrap();
        assert_eq!(signed.consumer_key, "d392e7ff2e204d6c802e38fd775563d1");
        assert_eq!(signed.token, "61adad31204a4e6fab68d560f1ffb594");
        assert_eq!(signed.signature, "JA0PvBbTAxmtLmzIWINpSVLshrY=");
        assert_eq!(signed.nonce, "c1c04ec4-3125-44cf-9c39-cccb9343541b");
        assert_eq!(
            signed.check_timestamp(1_261_039_670 + 301),
            Err(OAuthError::Timestamp)
        );
        signed.check_timestamp(1_261_039_670 - 300).unwrap();
    }

    #[test]
    fn encoding_keeps_only_unreserved_characters() {
        assert_eq!(encode("a-._~ +*/%é"), "a-._~%20%2B%2A%2F%25%C3%A9");
    }

    #[test]
    fn other_signature_methods_are_refused_with_a_clear_message() {
        let request = axum::http::Request::builder()
            .uri("/x?oauth_signature_method=PLAINTEXT&oauth_signature=a%26b")
            .body(())
            .unwrap();
        let (parts, ()) = request.into_parts();
        let error = parse(&parts).unwrap_err();
        assert_eq!(error, OAuthError::Method("PLAINTEXT".into()));
        assert!(error.to_string().contains("only HMAC-SHA1"));
    }
}
