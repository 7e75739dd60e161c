//! `ApiError`: every way a request can fail, and the JSON body and status it answers with.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use engage_model::FieldError;
use engage_store::StoreError;
use serde::Serialize;

/// An error answered as `{"code", "message", "errors"}`. 5xx bodies say nothing internal;
/// the detail goes to the log.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("unknown account `{0}`")]
    UnknownAccount(String),
    #[error("not found")]
    NotFound,
    /// A campaign, engagement or revision the account does not have.
    #[error("{0}")]
    UnknownResource(String),
    #[error("missing or invalid api key: send `Authorization: Bearer <apiKey>`")]
    Unauthorized,
    /// A signed (OAuth 1.0a) request that is refused, with why.
    #[error("{0}")]
    OAuth(#[from] crate::oauth::OAuthError),
    #[error("this api key belongs to another account")]
    Forbidden,
    #[error("origin `{0}` may not post to this account")]
    OriginNotAllowed(String),
    #[error("malformed JSON: {0}")]
    MalformedJson(String),
    #[error("unsupported content type `{0}`: send application/json or text/plain")]
    UnsupportedMediaType(String),
    #[error("unsupported content encoding `{0}`: send gzip or no encoding")]
    UnsupportedEncoding(String),
    #[error("request body is larger than {limit} bytes")]
    BodyTooLarge { limit: usize },
    #[error("batch has {found} items, at most {limit} are allowed in one request")]
    BatchTooLarge { found: usize, limit: usize },
    #[error("the request body was not received in time")]
    Timeout,
    /// The batch names a session or page of another visitor or session (docs/api.md,
    /// Identity).
    #[error("{message}")]
    IdentityConflict {
        pointer: &'static str,
        message: String,
    },
    /// The account holds as many of something as it may (webhook endpoints).
    #[error("{0}")]
    LimitReached(String),
    #[error("{message}")]
    Invalid {
        message: String,
        errors: Vec<FieldError>,
    },
    /// Too many searches are running; answered with `Retry-After`.
    #[error("too many searches are running: retry in a moment")]
    TooManyRequests,
    /// Over a rate limit of the public routes (`--rate-limit-per-ip`,
    /// `--rate-limit-per-account`); `Retry-After` says when the next request goes in.
    #[error("too many requests: retry in {seconds} s")]
    RateLimited { seconds: u64 },
    #[error("the server is shutting down")]
    Unavailable,
    /// The store cannot write for now (a full disk); answered 503 with `Retry-After`.
    #[error("storage is full or unavailable: nothing was stored, retry later")]
    StorageUnavailable,
    /// Every decision slot is taken (`--max-concurrent-decisions`); answered with
    /// `Retry-After` instead of queueing.
    #[error("too many decisions are being computed: retry in a moment")]
    Overloaded,
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn invalid(message: impl Into<String>, errors: Vec<FieldError>) -> Self {
        ApiError::Invalid {
            message: message.into(),
            errors,
        }
    }

    /// Every problem of a body or query: the message names `what` was invalid and the
    /// first problem (with how many more), `errors` lists them all.
    pub fn invalid_all(what: &str, errors: Vec<FieldError>) -> Self {
        let message = match errors.first() {
            Some(first) if errors.len() == 1 => format!("invalid {what}: {first}"),
            Some(first) => format!("invalid {what}: {first} (and {} more)", errors.len() - 1),
            None => format!("invalid {what}"),
        };
        ApiError::invalid(message, errors)
    }

    /// One field at fault.
    pub fn invalid_field(path: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        ApiError::Invalid {
            message: format!("invalid request: {path}: {message}"),
            errors: vec![FieldError::new(path, message)],
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::UnknownAccount(_) | ApiError::NotFound | ApiError::UnknownResource(_) => {
                StatusCode::NOT_FOUND
            }
            ApiError::Unauthorized | ApiError::OAuth(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden | ApiError::OriginNotAllowed(_) => StatusCode::FORBIDDEN,
            ApiError::MalformedJson(_) | ApiError::Invalid { .. } => StatusCode::BAD_REQUEST,
            ApiError::UnsupportedMediaType(_) | ApiError::UnsupportedEncoding(_) => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            ApiError::BodyTooLarge { .. } | ApiError::BatchTooLarge { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            ApiError::Timeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::IdentityConflict { .. } | ApiError::LimitReached(_) => StatusCode::CONFLICT,
            ApiError::TooManyRequests | ApiError::RateLimited { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ApiError::Unavailable | ApiError::StorageUnavailable | ApiError::Overloaded => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::UnknownAccount(_) => "unknown_account",
            ApiError::NotFound | ApiError::UnknownResource(_) => "not_found",
            ApiError::Unauthorized | ApiError::OAuth(_) => "unauthorized",
            ApiError::Forbidden => "forbidden",
            ApiError::OriginNotAllowed(_) => "origin_not_allowed",
            ApiError::MalformedJson(_) => "malformed_json",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::UnsupportedEncoding(_) => "unsupported_encoding",
            ApiError::BodyTooLarge { .. } => "body_too_large",
            ApiError::BatchTooLarge { .. } => "batch_too_large",
            ApiError::Timeout => "timeout",
            ApiError::Invalid { .. } => "invalid_request",
            ApiError::IdentityConflict { .. } => "identity_conflict",
            ApiError::LimitReached(_) => "limit_reached",
            ApiError::TooManyRequests => "too_many_requests",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Unavailable => "unavailable",
            ApiError::StorageUnavailable => "storage_unavailable",
            ApiError::Overloaded => "overloaded",
            ApiError::Internal(_) => "internal",
        }
    }

    /// The `Retry-After` of a 503 or 429, in seconds: space on a full disk comes back on
    /// an operator's time, not in a second.
    pub fn retry_after(&self) -> Option<HeaderValue> {
        match self {
            ApiError::RateLimited { seconds } => Some(HeaderValue::from(*seconds)),
            ApiError::StorageUnavailable => {
                Some(HeaderValue::from_static(STORAGE_RETRY_AFTER_SECS))
            }
            _ if matches!(
                self.status(),
                StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS
            ) =>
            {
                Some(HeaderValue::from_static("1"))
            }
            _ => None,
        }
    }
}

/// `Retry-After` while the storage is full.
pub const STORAGE_RETRY_AFTER_SECS: &str = "10";

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::UnknownAccount(id) => ApiError::UnknownAccount(id),
            StoreError::Closed => ApiError::Unavailable,
            StoreError::Unavailable(detail) => {
                tracing::warn!(%detail, "storage unavailable");
                ApiError::StorageUnavailable
            }
            StoreError::IdentityConflict { pointer, message } => {
                ApiError::IdentityConflict { pointer, message }
            }
            StoreError::Conflict(_)
            | StoreError::UnsupportedBackend(_)
            | StoreError::InvalidLocation(_)
            | StoreError::Backend(_) => ApiError::Internal(error.to_string()),
        }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'static str,
    message: String,
    #[serde(skip_serializing_if = "<[FieldError]>::is_empty")]
    errors: &'a [FieldError],
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let ApiError::Internal(detail) = &self {
            tracing::error!(%detail, "internal error");
        }
        let conflict;
        let errors: &[FieldError] = match &self {
            ApiError::Invalid { errors, .. } => errors,
            ApiError::IdentityConflict { pointer, message } => {
                conflict = [FieldError::new(*pointer, message.clone())];
                &conflict
            }
            _ => &[],
        };
        let body = ErrorBody {
            code: self.code(),
            message: self.to_string(),
            errors,
        };
        let mut response = (status, axum::Json(body)).into_response();
        if let Some(value) = self.retry_after() {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn a_full_store_is_a_503_with_retry_after_and_no_detail() {
        let error = ApiError::from(StoreError::Unavailable(
            "database or disk is full at /var/lib/engage".into(),
        ));
        let response = error.into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response.headers()[header::RETRY_AFTER],
            STORAGE_RETRY_AFTER_SECS
        );
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["code"], "storage_unavailable");
        assert!(!body.to_string().contains("/var/lib"), "{body}");
    }

    #[test]
    fn other_store_failures_keep_their_status() {
        assert_eq!(
            ApiError::from(StoreError::Backend("x".into())).status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            ApiError::from(StoreError::Closed).retry_after(),
            Some(HeaderValue::from_static("1"))
        );
        assert_eq!(ApiError::NotFound.retry_after(), None);
    }
}
