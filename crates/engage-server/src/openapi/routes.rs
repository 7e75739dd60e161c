//! `GET /api/openapi.json` and `GET /api/docs`: the description, as JSON and as pages.

use std::sync::LazyLock;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// The description as JSON, made once: it is the same for the life of the binary.
static JSON: LazyLock<String> = LazyLock::new(|| {
    serde_json::to_string(&super::document()).unwrap_or_else(|e| {
        tracing::error!(error = %e, "writing the OpenAPI description");
        String::new()
    })
});

/// This server's API description (OpenAPI 3.1): every route with its parameters,
/// bodies, answers and security. `engage openapi` prints the same document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "Operations",
    responses((status = 200, description = "The OpenAPI 3.1 document.", body = Object,
               content_type = "application/json")))]
pub async fn openapi_json() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], JSON.as_str()).into_response()
}

/// The description as HTML pages, rendered on the server from the same document (no
/// script, under the console's Content-Security-Policy): operations by tag, with their
/// parameters, bodies, answers and examples, and every schema.
#[utoipa::path(get, path = "/api/docs", tag = "Operations",
    responses((status = 200, description = "The description, readable in a browser.",
               body = String, content_type = "text/html; charset=utf-8")))]
pub async fn docs_page() -> Response {
    static PAGE: LazyLock<maud::Markup> = LazyLock::new(|| {
        let doc = serde_json::from_str(&JSON).unwrap_or_default();
        super::docs::render(&doc)
    });
    crate::console::page::bare("API", PAGE.clone(), StatusCode::OK)
}
