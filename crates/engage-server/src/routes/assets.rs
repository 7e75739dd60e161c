//! `GET /tag/tag.js?site={accountId}`: the browser tag, compiled into the binary (so
//! `engage serve` needs no files beside it). The minified build `tag/dist/tag.min.js` is
//! served; its gzip form and ETag are computed once, on first use. The tag reads its
//! account from its own `?site=`, so the same bytes serve every account.

use std::io::Write;
use std::sync::LazyLock;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// The tag as built by `tag/build.mjs` (a node test fails when it is stale).
const TAG_JS: &str = include_str!("../../../../tag/dist/tag.min.js");

/// Browsers may keep the tag for five minutes and then revalidate with the ETag: the URL
/// carries no version, so a new release reaches every visitor within minutes.
const CACHE_CONTROL: &str = "public, max-age=300, stale-while-revalidate=86400";

struct Asset {
    body: &'static [u8],
    gzip: Vec<u8>,
    etag: HeaderValue,
}

static TAG: LazyLock<Asset> = LazyLock::new(|| Asset::new(TAG_JS.as_bytes()));

impl Asset {
    fn new(body: &'static [u8]) -> Asset {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        // Writing to a Vec cannot fail; an empty result would only mean serving it plain.
        let gzip: Vec<u8> = encoder
            .write_all(body)
            .and_then(|()| encoder.finish())
            .unwrap_or_default();
        let digest = Sha256::digest(body);
        let etag = format!("\"{}\"", hex::encode(&digest[..12]));
        Asset {
            body,
            gzip,
            etag: HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"tag\"")),
        }
    }
}

pub async fn tag_js(headers: HeaderMap) -> Response {
    serve(&TAG, &headers)
}

fn serve(asset: &'static Asset, request: &HeaderMap) -> Response {
    let mut h = HeaderMap::new();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/javascript; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
    h.insert(header::ETAG, asset.etag.clone());
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if etag_matches(request, &asset.etag) {
        return (StatusCode::NOT_MODIFIED, h).into_response();
    }
    if accepts_gzip(request) && !asset.gzip.is_empty() {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        (h, asset.gzip.as_slice()).into_response()
    } else {
        (h, asset.body).into_response()
    }
}

fn etag_matches(request: &HeaderMap, etag: &HeaderValue) -> bool {
    let Some(Ok(value)) = request.get(header::IF_NONE_MATCH).map(HeaderValue::to_str) else {
        return false;
    };
    let ours = etag.to_str().unwrap_or("");
    value
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag == ours || tag.strip_prefix("W/") == Some(ours))
}

/// Whether `Accept-Encoding` names gzip (or `*`) without `q=0`.
fn accepts_gzip(request: &HeaderMap) -> bool {
    let Some(Ok(value)) = request
        .get(header::ACCEPT_ENCODING)
        .map(HeaderValue::to_str)
    else {
        return false;
    };
    value.split(',').any(|part| {
        let mut pieces = part.split(';').map(str::trim);
        let coding = pieces.next().unwrap_or("");
        let refused = pieces.any(|p| {
            p.strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_some_and(|q| q == 0.0)
        });
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn with(name: header::HeaderName, value: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_static(value));
        h
    }

    #[test]
    fn gzip_is_chosen_only_when_accepted() {
        let ae = header::ACCEPT_ENCODING;
        assert!(accepts_gzip(&with(ae.clone(), "gzip, deflate, br")));
        assert!(accepts_gzip(&with(ae.clone(), "br;q=1.0, GZIP;q=0.5")));
        assert!(accepts_gzip(&with(ae.clone(), "*")));
        assert!(!accepts_gzip(&with(ae.clone(), "gzip;q=0, br")));
        assert!(!accepts_gzip(&with(ae.clone(), "identity")));
        assert!(!accepts_gzip(&with(ae, "x-gzip-not")));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn the_gzip_form_is_the_tag() {
        use std::io::Read;
        let mut out = String::new();
        flate2::read::GzDecoder::new(TAG.gzip.as_slice())
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, TAG_JS);
        assert!(TAG.gzip.len() < TAG_JS.len() / 2);
    }
}
