//! The admin part of the description.

use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi()]
pub(super) struct AdminApi;
