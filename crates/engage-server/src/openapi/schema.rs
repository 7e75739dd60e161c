//! Schemas shared by every part of the description.

use utoipa::ToSchema;

/// Every error answer's body (`crate::error::ApiError` renders it).
#[derive(ToSchema)]
#[allow(dead_code)] // a description of a shape that `ApiError` serializes
pub struct Error {
    /// A stable machine-readable code, such as `invalid_request` or `not_found`.
    pub code: String,
    /// What went wrong, for a person.
    pub message: String,
    /// For invalid input: every problem found, each where it is.
    pub errors: Option<Vec<FieldError>>,
}

/// One problem in an input.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct FieldError {
    /// An RFC 6901 JSON pointer into the input.
    pub path: String,
    /// Why it is refused.
    pub message: String,
}
