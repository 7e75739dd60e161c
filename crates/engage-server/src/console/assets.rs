//! The console's own files, compiled into the binary: its stylesheet, its script, and the
//! live preview: the tag's renderer (`tag/src/render.js` with the helpers it uses,
//! `util.js` and `hooks.js`), the very code that draws engagements on a customer's page,
//! followed by `web/console/preview.js`, which feeds it the editor's fields.

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use std::sync::LazyLock;

use sha2::{Digest, Sha256};

use super::page::secure_headers;

/// Where the preview script is served.
pub const PREVIEW_PATH: &str = "/console/assets/preview.js";

const CONSOLE_CSS: &str = include_str!("../../../../web/console/console.css");
const CONSOLE_JS: &str = include_str!("../../../../web/console/console.js");
/// One script: the tag's renderer and the editor's glue in one strict-mode function, so
/// nothing of either reaches the page's globals.
const PREVIEW_JS: &str = concat!(
    "/*! Engage console preview: the tag's renderer (tag/src), Apache-2.0. */\n(() => {\n'use strict';\n",
    include_str!("../../../../tag/src/util.js"),
    "\n",
    include_str!("../../../../tag/src/hooks.js"),
    "\n",
    include_str!("../../../../tag/src/render.js"),
    "\n",
    include_str!("../../../../web/console/preview.js"),
    "\n})();\n"
);

/// The files: name, content type, bytes.
const FILES: [(&str, &str, &str); 3] = [
    ("console.css", "text/css; charset=utf-8", CONSOLE_CSS),
    (
        "console.js",
        "application/javascript; charset=utf-8",
        CONSOLE_JS,
    ),
    (
        "preview.js",
        "application/javascript; charset=utf-8",
        PREVIEW_JS,
    ),
];

/// Each file's strong ETag (its SHA-256, shortened), in `FILES`' order, computed once.
static ETAGS: LazyLock<[String; 3]> = LazyLock::new(|| {
    FILES.map(|(_, _, body)| format!("\"{}\"", hex::encode(&Sha256::digest(body)[..12])))
});

/// `GET /console/assets/{file}`: revalidated on every use (an ETag of the file), so a
/// new release's console is never mixed with an old cached script.
pub async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    let Some(index) = FILES.iter().position(|(name, _, _)| *name == file) else {
        return crate::error::ApiError::NotFound.into_response();
    };
    let (_, content_type, body) = FILES[index];
    let etag = &ETAGS[index];
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == etag.as_str());
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, content_type)], body).into_response()
    };
    secure_headers(&mut response);
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(etag) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, etag);
    }
    response
}

/// `GET /favicon.ico`: Engage has no icon. Browsers ask for one whatever the page says;
/// answering "nothing" (204), cached for a day, keeps a 404 out of their consoles.
pub async fn no_icon() -> Response {
    (
        StatusCode::NO_CONTENT,
        [(header::CACHE_CONTROL, "public, max-age=86400")],
    )
        .into_response()
}
