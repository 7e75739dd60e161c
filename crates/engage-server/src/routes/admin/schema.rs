//! What the OpenAPI description of the routes behind an account's key (`crate::openapi`)
//! shares: their path parameters and the errors every such route can answer.
#![allow(dead_code)] // descriptions: nothing builds these values

use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{IntoParams, IntoResponses};

use crate::openapi::schema::Error;

/// `{account_id}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct AccountPath {
    /// The account's id.
    #[param(min_length = 1, example = "41238569")]
    account_id: String,
}

/// `{account_id}/campaigns/{campaign_id}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct CampaignPath {
    #[param(min_length = 1, example = "41238569")]
    account_id: String,
    /// A campaign of the account (404 for any other value).
    #[param(example = 802034605)]
    campaign_id: u64,
}

/// `{account_id}/campaigns/{campaign_id}/engagements/{engagement_id}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct EngagementPath {
    #[param(min_length = 1, example = "41238569")]
    account_id: String,
    #[param(example = 802034605)]
    campaign_id: u64,
    /// An engagement of the campaign (404 for any other value).
    #[param(example = 449374570)]
    engagement_id: u64,
}

/// `{account_id}/webhooks/{webhook_id}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct WebhookPath {
    #[param(min_length = 1, example = "41238569")]
    account_id: String,
    /// A webhook endpoint of the account (404 for any other value).
    #[param(min_length = 1)]
    webhook_id: String,
}

/// `{account_id}/webhooks/{webhook_id}/deliveries/{delivery_id}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct DeliveryPath {
    #[param(min_length = 1, example = "41238569")]
    account_id: String,
    #[param(min_length = 1)]
    webhook_id: String,
    /// A delivery of the endpoint (404 for any other value).
    #[param(min_length = 1)]
    delivery_id: String,
}

/// `{account_id}/visitors/{visitor_id}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct VisitorPath {
    #[param(min_length = 1, example = "41238569")]
    account_id: String,
    /// A visitor id as the tag sends it: 1-128 characters.
    #[param(min_length = 1, max_length = 128, example = "vis-8f2a")]
    visitor_id: String,
}

/// `{account_id}/customers/{customer_id}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct CustomerPath {
    #[param(min_length = 1, example = "41238569")]
    account_id: String,
    /// A customer id as a `ctmrinfo` attribute reports it: 1-128 characters.
    #[param(min_length = 1, max_length = 128, example = "cust-1024")]
    customer_id: String,
}

/// What every route behind an account's key can answer besides its own.
#[derive(IntoResponses)]
pub enum KeyErrors {
    /// No key, a key of no account, or a refused OAuth 1.0a signature.
    #[response(status = 401, example = json!({"code": "unauthorized", "message": "missing or invalid api key: send `Authorization: Bearer <apiKey>`"}))]
    Unauthorized(Error),
    /// A key of another account.
    #[response(status = 403, example = json!({"code": "forbidden", "message": "this api key belongs to another account"}))]
    Forbidden(Error),
    /// No such account (`unknown_account`), or nothing the path names in it (`not_found`).
    #[response(status = 404, example = json!({"code": "not_found", "message": "unknown campaign `123`"}))]
    NotFound(Error),
    /// The server is shutting down, or (for a write) its storage is full; nothing was
    /// changed.
    #[response(status = 503, headers(("Retry-After" = u32, description = "Seconds to wait")))]
    Unavailable(Error),
}

/// What a route that reads a JSON body can answer about the body.
#[derive(IntoResponses)]
pub enum BodyErrors {
    /// Malformed JSON (`malformed_json`) or an invalid body (`invalid_request`, every
    /// problem at its JSON pointer in `errors`).
    #[response(status = 400, example = json!({"code": "invalid_request", "message": "invalid request: /name: missing", "errors": [{"path": "/name", "message": "missing"}]}))]
    Invalid(Error),
    /// The body was not received in time.
    #[response(status = 408)]
    Timeout(Error),
    /// The body is over the server's size limit.
    #[response(status = 413)]
    TooLarge(Error),
    /// A content type other than JSON (or text/plain), or a content encoding other than
    /// gzip.
    #[response(status = 415)]
    UnsupportedMediaType(Error),
}

/// What a route with checked query or path parameters answers for invalid ones.
#[derive(IntoResponses)]
pub enum ParamErrors {
    /// An invalid parameter, at its pointer (`/limit`, ...) in `errors`.
    #[response(status = 400, example = json!({"code": "invalid_request", "message": "invalid request: /limit: expected 1-1000", "errors": [{"path": "/limit", "message": "expected 1-1000"}]}))]
    Invalid(Error),
}

/// `?revision=N` of `GET .../engagements/{engagement_id}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RevisionQuery {
    /// A revision of the engagement (1 or more); the latest when left out.
    #[param(minimum = 1)]
    revision: Option<u64>,
}

/// `engagementType` as answered: 0 peeling corner, 1 overlay, 2 toaster, 3 slide-out,
/// 5 embedded, 6 sticky.
pub fn engagement_type() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .enum_values(Some([0, 1, 2, 3, 5, 6]))
        .into()
}

/// An agent state as answered: 1 online, 2 offline, 4 busy.
pub fn agent_state() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .enum_values(Some([1, 2, 4]))
        .into()
}
