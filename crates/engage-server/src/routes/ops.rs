//! `GET /healthz` and `GET /metrics`.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::AppState;

/// The server answers.
#[utoipa::path(get, path = "/healthz", tag = "Operations",
    responses((status = 200, description = "The server is up.", body = Object,
               example = json!({"status": "ok"}))))]
pub async fn healthz() -> impl IntoResponse {
    axum::Json(serde_json::json!({"status": "ok"}))
}

/// The server's counters and histograms, in Prometheus' text format (docs/api.md,
/// Operations).
#[utoipa::path(get, path = "/metrics", tag = "Operations",
    responses((status = 200, description = "Prometheus text exposition format 0.0.4.",
               body = String, content_type = "text/plain; version=0.0.4; charset=utf-8")))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    state
        .metrics
        .set_analytics_cache_bytes(state.analytics_cache.stats().bytes);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
