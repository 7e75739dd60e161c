//! Static assets compiled into the binary (so `engage serve` needs no files beside it):
//!
//! - `GET /tag/tag.js?site={accountId}`: the browser tag, its minified build
//!   `tag/dist/tag.min.js`. The tag reads its account from its own `?site=`, so the same
//!   bytes serve every account.
//! - `GET /tag/actions.js`: the action renderers, `tag/dist/actions.min.js`, which the tag
//!   loads only when an engagement with an `action` shows.
//! - `GET /demo/`, `GET /demo/{file}`: the demo shop of `web/demo/` (`?site=` names the
//!   account there too).
//!
//! Each asset's gzip form and ETag are computed once, on first use.

use std::io::Write;
use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Redirect;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// The tag as built by `tag/build.mjs` (a node test fails when it is stale).
const TAG_JS: &str = include_str!("../../../../tag/dist/tag.min.js");

/// The action renderers, built by `tag/build.mjs` beside the tag.
const ACTIONS_JS: &str = include_str!("../../../../tag/dist/actions.min.js");

/// Browsers may keep the tag for five minutes and then revalidate with the ETag: the URL
/// carries no version, so a new release reaches every visitor within minutes.
const CACHE_CONTROL: &str = "public, max-age=300, stale-while-revalidate=86400";

struct Asset {
    content_type: &'static str,
    cache_control: &'static str,
    body: &'static [u8],
    gzip: Vec<u8>,
    etag: HeaderValue,
}

static TAG: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "application/javascript; charset=utf-8",
        CACHE_CONTROL,
        TAG_JS.as_bytes(),
    )
});

static ACTIONS: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "application/javascript; charset=utf-8",
        CACHE_CONTROL,
        ACTIONS_JS.as_bytes(),
    )
});

/// The demo shop's pages: revalidated on every use (ETag), they are small.
const DEMO_FILES: [(&str, &str, &str); 7] = [
    (
        "index.html",
        "text/html; charset=utf-8",
        include_str!("../../../../web/demo/index.html"),
    ),
    (
        "products.html",
        "text/html; charset=utf-8",
        include_str!("../../../../web/demo/products.html"),
    ),
    (
        "product.html",
        "text/html; charset=utf-8",
        include_str!("../../../../web/demo/product.html"),
    ),
    (
        "cart.html",
        "text/html; charset=utf-8",
        include_str!("../../../../web/demo/cart.html"),
    ),
    (
        "checkout.html",
        "text/html; charset=utf-8",
        include_str!("../../../../web/demo/checkout.html"),
    ),
    (
        "demo.js",
        "application/javascript; charset=utf-8",
        include_str!("../../../../web/demo/demo.js"),
    ),
    (
        "demo.css",
        "text/css; charset=utf-8",
        include_str!("../../../../web/demo/demo.css"),
    ),
];

static DEMO: LazyLock<Vec<(&'static str, Asset)>> = LazyLock::new(|| {
    DEMO_FILES
        .iter()
        .map(|(name, content_type, body)| {
            (*name, Asset::new(content_type, "no-cache", body.as_bytes()))
        })
        .collect()
});

impl Asset {
    fn new(content_type: &'static str, cache_control: &'static str, body: &'static [u8]) -> Asset {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        // Writing to a Vec cannot fail; an empty result would only mean serving it plain.
        let gzip: Vec<u8> = encoder
            .write_all(body)
            .and_then(|()| encoder.finish())
            .unwrap_or_default();
        let digest = Sha256::digest(body);
        let etag = format!("\"{}\"", hex::encode(&digest[..12]));
        Asset {
            content_type,
            cache_control,
            body,
            gzip,
            etag: HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"tag\"")),
        }
    }
}

/// The tag (`tag/dist/tag.min.js`, compiled into the binary), gzip when the client
/// accepts it, with an `ETag`, cached for 5 minutes.
#[utoipa::path(get, path = "/tag/tag.js", tag = "The tag and the demo shop",
    params(
        ("site" = Option<String>, Query, description = "The account the tag reports to."),
        ("If-None-Match" = Option<String>, Header, description = "An `ETag` this answered: 304 when it is still the file's."),
        ("Accept-Encoding" = Option<String>, Header, description = "`gzip` for the compressed file.")),
    responses(
        (status = 200, description = "The tag.", body = String,
         content_type = "application/javascript; charset=utf-8"),
        (status = 304, description = "The client's copy is current.")))]
pub async fn tag_js(headers: HeaderMap) -> Response {
    serve(&TAG, &headers)
}

/// The action renderers (`tag/dist/actions.min.js`), which the tag loads when an
/// engagement with an action shows; served as the tag is.
#[utoipa::path(get, path = "/tag/actions.js", tag = "The tag and the demo shop",
    params(("If-None-Match" = Option<String>, Header, description = "An `ETag` this answered: 304 when it is still the file's."),
        ("Accept-Encoding" = Option<String>, Header, description = "`gzip` for the compressed file.")),
    responses(
        (status = 200, description = "The action renderers.", body = String,
         content_type = "application/javascript; charset=utf-8"),
        (status = 304, description = "The client's copy is current.")))]
pub async fn actions_js(headers: HeaderMap) -> Response {
    serve(&ACTIONS, &headers)
}

/// `GET /demo`: the pages link relatively, so they live under `/demo/`.
#[utoipa::path(get, path = "/demo", summary = "To the demo shop", tag = "The tag and the demo shop",
    responses((status = 308, description = "To `/demo/`.",
               headers(("Location" = String, description = "`/demo/`")))))]
pub async fn demo_redirect() -> Redirect {
    Redirect::permanent("/demo/")
}

/// `GET /demo/`: the demo shop's home page.
#[utoipa::path(get, path = "/demo/", summary = "The demo shop's home page", tag = "The tag and the demo shop",
    params(
        ("site" = Option<String>, Query, description = "The account the shop's tag reports to."),
        ("If-None-Match" = Option<String>, Header, description = "An `ETag` this answered: 304 when it is still the file's."),
        ("Accept-Encoding" = Option<String>, Header, description = "`gzip` for the compressed file.")),
    responses(
        (status = 200, description = "The shop's home page.", body = String,
         content_type = "text/html; charset=utf-8"),
        (status = 304, description = "The client's copy is current.")))]
pub async fn demo_index(headers: HeaderMap) -> Response {
    demo_file(Path("index.html".to_owned()), headers).await
}

/// `GET /demo/{file}`: one of the demo shop's files.
#[utoipa::path(get, path = "/demo/{file}", summary = "A file of the demo shop", tag = "The tag and the demo shop",
    params(
        ("file" = String, Path, description = "`index.html`, `products.html`, `product.html`, \
          `cart.html`, `checkout.html`, `demo.js` or `demo.css`.", example = "cart.html"),
        ("site" = Option<String>, Query, description = "The account the shop's tag reports to."),
        ("If-None-Match" = Option<String>, Header, description = "An `ETag` this answered: 304 when it is still the file's."),
        ("Accept-Encoding" = Option<String>, Header, description = "`gzip` for the compressed file.")),
    responses(
        (status = 200, description = "The file.", content(
            (String = "text/html; charset=utf-8"),
            (String = "application/javascript; charset=utf-8"),
            (String = "text/css; charset=utf-8"))),
        (status = 304, description = "The client's copy is current."),
        (status = 404, description = "No such file.", body = crate::openapi::schema::Error)))]
pub async fn demo_file(Path(file): Path<String>, headers: HeaderMap) -> Response {
    match DEMO.iter().find(|(name, _)| *name == file) {
        Some((_, asset)) => serve(asset, &headers),
        None => crate::error::ApiError::NotFound.into_response(),
    }
}

fn serve(asset: &'static Asset, request: &HeaderMap) -> Response {
    let mut h = HeaderMap::new();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(asset.cache_control),
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
