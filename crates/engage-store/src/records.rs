//! The records that cross the [`crate::Store`] trait.

use engage_model::{FieldError, OfferEvent, Sde, VisitSdes};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// One JSON value kept as its text: a part of a record that is a document of its own
/// (stored targeting, a quarantined item's context, an exported item). It is stored and
/// answered as it is, never parsed into a tree on the way; whoever needs to look inside
/// reads [`RawJson::as_str`] onto a tape once.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RawJson(Box<RawValue>);

impl RawJson {
    /// `text`, if it is one JSON value.
    pub fn from_text(text: String) -> Result<RawJson, serde_json::Error> {
        RawValue::from_string(text).map(RawJson)
    }

    /// `value` written as compact JSON text.
    pub fn to_json<T: Serialize + ?Sized>(value: &T) -> Result<RawJson, serde_json::Error> {
        serde_json::value::to_raw_value(value).map(RawJson)
    }

    /// `null`.
    pub fn null() -> RawJson {
        RawJson(RawValue::NULL.to_owned())
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        self.0.get()
    }
}

impl PartialEq for RawJson {
    /// The same text: the store answers what it was given.
    fn eq(&self, other: &RawJson) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for RawJson {}

/// What `engage account create` asks for.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub name: String,
    /// Hex SHA-256 of the API key; the key itself is never stored.
    pub api_key_hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    /// A decimal id, as the platform's account ids are.
    pub id: String,
    pub name: String,
    pub api_key_hash: String,
    pub created_ms: i64,
    /// Origins whose pages may post to the collect endpoint; empty means all.
    pub allowed_origins: Vec<String>,
}

/// An OAuth 1.0a key of an account: an app key and its secret, with one access token
/// and its secret. The secrets are kept as they are: HMAC-SHA1 signatures are checked by
/// computing them again, which needs the secrets themselves (docs/api.md,
/// Authentication).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthKey {
    pub account: String,
    pub app_key: String,
    pub app_secret: String,
    pub access_token: String,
    pub access_token_secret: String,
    pub created_ms: i64,
}

/// The page view a batch came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageView {
    pub url: Option<String>,
    pub referrer: Option<String>,
    pub title: Option<String>,
    pub sections: Vec<String>,
}

/// An engagement context the Monitoring API's `engagement` call exposed to a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exposure {
    pub context_id: String,
    pub campaign_id: u64,
    pub engagement_id: u64,
}

/// Who sent a batch, from where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitContext {
    pub visitor_id: String,
    pub session_id: String,
    pub page_id: String,
    pub page: Option<PageView>,
    pub user_agent: Option<String>,
    /// What an app said about itself (the Monitoring API's `clientProperties`); kept
    /// with the visit when the batch starts it.
    pub client: Option<ClientProperties>,
}

/// The Monitoring API's `clientProperties`, as far as they describe the device (the IP
/// address is not kept).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientProperties {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_version: Option<String>,
    /// `DESKTOP`, `TABLET` or `MOBILE`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_family: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
    /// The language a `lang://` entry point names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

/// An event that passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// The client-generated id; `(account, client_id)` is unique.
    pub client_id: String,
    /// The page's clock, epoch ms, when it said.
    pub client_time_ms: Option<i64>,
    pub event: OfferEvent,
}

/// An attribute that passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSde {
    pub client_id: String,
    pub client_time_ms: Option<i64>,
    pub sde: Sde,
}

/// What a quarantined item was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QuarantineKind {
    Event,
    Sde,
    /// A whole body that could not be read as a batch.
    Body,
}

impl QuarantineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            QuarantineKind::Event => "event",
            QuarantineKind::Sde => "sde",
            QuarantineKind::Body => "body",
        }
    }

    pub fn from_name(name: &str) -> Option<QuarantineKind> {
        match name {
            "event" => Some(QuarantineKind::Event),
            "sde" => Some(QuarantineKind::Sde),
            "body" => Some(QuarantineKind::Body),
            _ => None,
        }
    }
}

/// An input that failed validation, kept so it can be fixed and replayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewQuarantine {
    pub kind: QuarantineKind,
    /// Its index in the batch's `events` or `sdes`.
    pub index: Option<usize>,
    /// Its client id, when it had a readable one.
    pub client_id: Option<String>,
    /// The item's raw JSON text (the whole body for [`QuarantineKind::Body`]).
    pub raw: String,
    /// The batch's visit context as JSON (`visitorId`, `sessionId`, `pageId`, `page`,
    /// `userAgent`), so a replay can ingest it where it belongs; `null` when unknown.
    pub context: RawJson,
    pub errors: Vec<FieldError>,
}

/// One request's worth of writes.
#[derive(Debug, Clone)]
pub struct IngestBatch {
    pub account_id: String,
    /// Server receive time, epoch ms.
    pub received_ms: i64,
    /// `None` for a body that never got as far as naming a visit (only quarantine).
    pub visit: Option<VisitContext>,
    pub events: Vec<NewEvent>,
    pub sdes: Vec<NewSde>,
    pub rejected: Vec<NewQuarantine>,
}

impl IngestBatch {
    /// How many items the batch carries (accepted candidates and rejected ones).
    pub fn len(&self) -> usize {
        self.events.len() + self.sdes.len() + self.rejected.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct IngestOutcome {
    /// Events and attributes written now.
    pub accepted: usize,
    /// Events and attributes already stored under the same client id.
    pub duplicates: usize,
    /// Entries added to the quarantine.
    pub quarantined: usize,
    /// Whether the batch created its session.
    pub new_session: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionLookup {
    UnknownVisitor,
    /// The visitor exists, the session does not (or belongs to another visitor).
    UnknownSession,
    Found,
}

/// A visit (session) and what it has reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visit {
    pub visitor_id: String,
    pub session_id: String,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    pub user_agent: Option<String>,
    pub referrer: Option<String>,
    pub sdes: VisitSdes,
}

/// What an account's pending quarantine entries take ([`crate::Store::quarantine_usage`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QuarantineUsage {
    pub entries: u64,
    /// Bytes of their raw text (UTF-8).
    pub bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuarantineQuery {
    pub after_id: Option<i64>,
    pub limit: usize,
    /// Include entries already replayed.
    pub include_replayed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QuarantineEntry {
    pub id: i64,
    pub kind: QuarantineKind,
    pub index: Option<usize>,
    pub client_id: Option<String>,
    pub received_ms: i64,
    pub raw: String,
    pub context: RawJson,
    pub errors: Vec<FieldError>,
    pub replayed_ms: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportKind {
    Events,
    Sdes,
    Quarantine,
}

impl ExportKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ExportKind::Events => "events",
            ExportKind::Sdes => "sdes",
            ExportKind::Quarantine => "quarantine",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ExportPage {
    /// Each item as the JSON text it is answered as.
    pub items: Vec<RawJson>,
    /// Pass back to get the next page; `None` when there was nothing more.
    pub cursor: Option<i64>,
}

/// How many console sessions an account keeps at most: signing in again past it ends
/// the account's oldest session, so no amount of sign-ins grows the table without bound.
pub const MAX_CONSOLE_SESSIONS_PER_ACCOUNT: usize = 50;

/// A console sign-in: the session a console cookie names, kept in the store so that every
/// server on the same data knows it and a sign-out ends it everywhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    pub account: String,
    /// Hex SHA-256 of the cookie's random token: the token itself is never stored, so a
    /// copy of the database signs nobody in.
    pub token_hash: String,
    /// The value every change made in the console must send back (a CSRF check): a page
    /// of another site cannot read it.
    pub csrf_token: String,
    pub created_ms: i64,
    /// After this the session is no more (epoch ms).
    pub expires_ms: i64,
}
