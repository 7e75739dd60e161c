//! The public part of the description.

use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi()]
pub(super) struct PublicApi;
