//! The console's own files, compiled into the binary: its stylesheet, its script, and the
//! live preview: the tag's renderer (`tag/src/render.js` with the helpers it uses,
//! `util.js` and `hooks.js`), the very code that draws engagements on a customer's page,
//! followed by `web/console/preview.js`, which feeds it the editor's fields.

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

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

/// `GET /console/assets/{file}`: revalidated on every use (an ETag of the build), so a
/// new release's console is never mixed with an old cached script.
pub async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    let (content_type, body) = match file.as_str() {
        "console.css" => ("text/css; charset=utf-8", CONSOLE_CSS),
        "console.js" => ("application/javascript; charset=utf-8", CONSOLE_JS),
        "preview.js" => ("application/javascript; charset=utf-8", PREVIEW_JS),
        _ => return crate::error::ApiError::NotFound.into_response(),
    };
    let etag = format!("\"{}-{}\"", env!("CARGO_PKG_VERSION"), body.len());
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == etag);
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, content_type)], body).into_response()
    };
    secure_headers(&mut response);
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, etag);
    }
    response
}
