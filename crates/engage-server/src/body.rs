//! Reading a request body within the limits: size, gzip expansion, time and content type.

use std::io::Read;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap};
use bytes::Bytes;
use engage_model::{Invalid, Node, Tape};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::error::ApiError;

/// The limits every ingestion route enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest body accepted as sent (compressed or not), in bytes.
    pub max_body_bytes: usize,
    /// Largest body accepted after gzip decompression, in bytes.
    pub max_decompressed_bytes: usize,
    /// Most events plus SDEs (or engagement attributes) in one request.
    pub max_batch_items: usize,
    /// How long a client may take to send its body.
    pub body_timeout: Duration,
    /// Decisions (the decision route, the Monitoring API's `engagement`) computed at
    /// once, off the async workers; one more is answered 503.
    pub max_concurrent_decisions: usize,
    /// Most pending quarantine entries per account (0: no limit).
    pub quarantine_max_entries: u64,
    /// Most bytes of pending quarantine entries' raw text per account (0: no limit).
    pub quarantine_max_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 1024 * 1024,
            max_decompressed_bytes: 8 * 1024 * 1024,
            max_batch_items: 500,
            body_timeout: Duration::from_secs(15),
            max_concurrent_decisions: std::thread::available_parallelism()
                .map_or(2, std::num::NonZeroUsize::get),
            quarantine_max_entries: 100_000,
            quarantine_max_bytes: 256 * 1024 * 1024,
        }
    }
}

/// Which body types a route takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accept {
    /// `application/json` only.
    Json,
    /// `application/json` or `text/plain` (what `navigator.sendBeacon` sends for a string).
    JsonOrText,
}

/// Checks the content type and encoding, then reads the whole body within the limits,
/// decompressing gzip.
pub async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limits: &Limits,
    accept: Accept,
) -> Result<Bytes, ApiError> {
    check_content_type(headers, accept)?;
    let gzip = match headers
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().map(str::trim))
    {
        None => false,
        Some(Ok(e)) if e.eq_ignore_ascii_case("gzip") => true,
        Some(Ok(e)) if e.eq_ignore_ascii_case("identity") || e.is_empty() => false,
        Some(Ok(e)) => return Err(ApiError::UnsupportedEncoding(e.to_owned())),
        Some(Err(_)) => return Err(ApiError::UnsupportedEncoding("(not text)".into())),
    };
    let limited = Limited::new(body, limits.max_body_bytes);
    let collected = tokio::time::timeout(limits.body_timeout, limited.collect())
        .await
        .map_err(|_| ApiError::Timeout)?;
    let bytes = match collected {
        Ok(c) => c.to_bytes(),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            return Err(ApiError::BodyTooLarge {
                limit: limits.max_body_bytes,
            })
        }
        Err(e) => {
            // The client went away or sent a broken stream: nothing to answer it with.
            return Err(ApiError::invalid(
                format!("could not read the request body: {e}"),
                vec![],
            ));
        }
    };
    if gzip {
        gunzip(&bytes, limits.max_decompressed_bytes)
    } else {
        Ok(bytes)
    }
}

/// Reads a JSON body (`application/json`) within the limits and checks it with `read`:
/// malformed JSON is `malformed_json`; every problem `read` finds is one 400 whose
/// message names `what` was invalid (`ApiError::invalid_all`).
pub async fn read_json<T>(
    headers: &HeaderMap,
    body: Body,
    limits: &Limits,
    what: &str,
    read: impl FnOnce(Node<'_, '_>) -> Result<T, Invalid>,
) -> Result<T, ApiError> {
    let bytes = read_body(headers, body, limits, Accept::Json).await?;
    let tape = Tape::parse(&bytes).map_err(|e| ApiError::MalformedJson(e.to_string()))?;
    read(tape.root()).map_err(|invalid| ApiError::invalid_all(what, invalid.errors))
}

fn check_content_type(headers: &HeaderMap, accept: Accept) -> Result<(), ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        // Clients that name no type are read as JSON; the parser says if it is not.
        return Ok(());
    };
    let text = value.to_str().unwrap_or("");
    let mime = text
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let ok = match accept {
        Accept::Json => mime == "application/json",
        Accept::JsonOrText => mime == "application/json" || mime == "text/plain",
    };
    if ok {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(text.to_owned()))
    }
}

/// Decompresses at most `limit` bytes; a body that expands further is refused.
fn gunzip(compressed: &[u8], limit: usize) -> Result<Bytes, ApiError> {
    let mut out = Vec::with_capacity((compressed.len() * 4).min(limit));
    let decoder = flate2::read::GzDecoder::new(compressed);
    let limit_plus_one = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    decoder
        .take(limit_plus_one)
        .read_to_end(&mut out)
        .map_err(|e| ApiError::invalid(format!("invalid gzip body: {e}"), vec![]))?;
    if out.len() > limit {
        return Err(ApiError::BodyTooLarge { limit });
    }
    Ok(Bytes::from(out))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn gunzip_refuses_bodies_that_expand_past_the_limit() {
        let bomb = gzip(&vec![b' '; 100_000]);
        assert!(bomb.len() < 1_000);
        assert!(matches!(
            gunzip(&bomb, 50_000),
            Err(ApiError::BodyTooLarge { limit: 50_000 })
        ));
        assert_eq!(gunzip(&bomb, 100_000).unwrap().len(), 100_000);
        assert!(matches!(
            gunzip(b"not gzip", 100),
            Err(ApiError::Invalid { .. })
        ));
    }
}
