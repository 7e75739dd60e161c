//! The Engage vocabulary: what the tag, apps and the history API say, validated once.
//!
//! - [`tape`]: a parsed document as one flat token list, what every validator reads, its
//!   [`Number`]s, and its parser (`tape::parse`).
//! - `json`: the same document as a tree, and the readers' entry points for a tree; only
//!   for tests and benchmarks (compiled for this crate's tests and with the `json-tree`
//!   feature).
//! - [`error`]: [`FieldError`] and [`Invalid`], every problem at a JSON pointer.
//! - [`body`]: reading a JSON body member by member into those problems (`read`): what
//!   every validator here and every request body of the server use.
//! - [`bot`]: which user agents are crawlers, headless browsers or robots.
//! - [`scalar`]: attribute values ([`Text`], [`Field`]), value sets and dates.
//! - [`event`]: the `LP_OFFERS` lifecycle events and their invariants.
//! - [`sde`]: the ten engagement attribute types in page and history shape.
//! - [`visit`]: a visit's attribute state and the merge/append/replace rule.
//! - [`monitoring`]: the Monitoring API's attributes and impressions.
//! - [`document`]: the documents `engage validate` reads.
//!
//! The words (events, attribute types and shapes, renames, limits, the visit rule) are
//! explained in docs/vocabulary.md.
//!
//! No I/O and no async runtime here: everything is a pure function of its input.

pub mod body;
pub mod bot;
pub mod document;
pub mod error;
pub mod event;
#[cfg(any(test, feature = "json-tree"))]
pub mod json;
pub mod monitoring;
mod read;
pub mod scalar;
pub mod sde;
pub mod tape;
pub mod visit;
mod write;

pub use document::Document;
pub use error::{FieldError, Invalid};
pub use event::{
    AgentState, ConfKey, EngagementType, OfferData, OfferEvent, OfferEventName, ENGAGE_ACTION,
    LP_OFFERS,
};
#[cfg(any(test, feature = "json-tree"))]
pub use json::Json;
pub use monitoring::{EngagementAttribute, Impression, ImpressionKind};
pub use scalar::{Channel, Date, Field, ServiceStatus, Text, MAX_VALUE_CHARS};
pub use sde::{HistorySde, RepeatRule, Sde, SdeType, Shape, Stamps};
pub use tape::{Node, Number, Sorted, Tape, View};
pub use visit::VisitSdes;
