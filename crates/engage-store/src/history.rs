//! What the Engagement History API asks the store and what it gets back
//! (docs/vocabulary.md, Engagement History API).
//!
//! An interaction is one engagement context's life: every `LP_OFFERS` event of one
//! `contextId` in one account. The store keeps a row per interaction beside the events,
//! updated as they arrive, so a search reads that row and its indexes, never the events.

use engage_model::{EngagementType, OfferEventName, SdeType};
use serde::Serialize;

/// How an interaction ended, from the furthest lifecycle event it has. When it has more
/// than one final event, the earlier variant here wins (a click beats a later timeout).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Clicked,
    Declined,
    TimedOut,
    Removed,
    Displayed,
    Started,
}

impl Outcome {
    pub const ALL: [Outcome; 6] = [
        Outcome::Clicked,
        Outcome::Declined,
        Outcome::TimedOut,
        Outcome::Removed,
        Outcome::Displayed,
        Outcome::Started,
    ];

    /// The outcome an interaction has if this is its only event.
    pub fn of_event(name: OfferEventName) -> Outcome {
        match name {
            OfferEventName::Start => Outcome::Started,
            OfferEventName::OfferDisplay | OfferEventName::OfferImpression => Outcome::Displayed,
            // A coupon is revealed and copied only after its engagement was clicked.
            OfferEventName::OfferClick
            | OfferEventName::CouponRevealed
            | OfferEventName::CouponCopied => Outcome::Clicked,
            OfferEventName::OfferDeclined => Outcome::Declined,
            OfferEventName::OfferTimeout => Outcome::TimedOut,
            OfferEventName::OfferRemove => Outcome::Removed,
        }
    }

    /// Larger wins: an interaction's outcome is the maximum rank of its events', so
    /// folding events in any order, or the same event twice, gives the same outcome.
    pub fn rank(self) -> u8 {
        match self {
            Outcome::Started => 1,
            Outcome::Displayed => 2,
            Outcome::Removed => 3,
            Outcome::TimedOut => 4,
            Outcome::Declined => 5,
            Outcome::Clicked => 6,
        }
    }

    pub fn from_rank(rank: u8) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.rank() == rank)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Clicked => "clicked",
            Outcome::Declined => "declined",
            Outcome::TimedOut => "timed_out",
            Outcome::Removed => "removed",
            Outcome::Displayed => "displayed",
            Outcome::Started => "started",
        }
    }

    pub fn from_name(name: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == name)
    }
}

/// A field interactions can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortField {
    Start,
    End,
    Duration,
    Visitor,
    /// The interaction id (the engagement context id).
    EngagementId,
    /// Whether the visitor clicked: interactions without a click sort first ascending.
    Interactive,
}

impl SortField {
    pub const ALL: [SortField; 6] = [
        SortField::Start,
        SortField::End,
        SortField::Duration,
        SortField::Visitor,
        SortField::EngagementId,
        SortField::Interactive,
    ];

    /// The name the API's `sort` parameter uses.
    pub fn as_str(self) -> &'static str {
        match self {
            SortField::Start => "start",
            SortField::End => "end",
            SortField::Duration => "duration",
            SortField::Visitor => "visitor",
            SortField::EngagementId => "engagementId",
            SortField::Interactive => "interactive",
        }
    }

    pub fn from_name(name: &str) -> Option<SortField> {
        SortField::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortKey {
    pub field: SortField,
    pub descending: bool,
}

/// Free text searched in a visit's attributes of some types; a visit matches when one
/// of its attributes of those types holds the words of `text` in that order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextSearch {
    pub text: String,
    /// Empty means every type.
    pub types: Vec<SdeType>,
}

/// What a search looks for: every filter given must hold (they combine with AND; the
/// values of one list filter combine with OR, and an empty list filters nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InteractionFilters {
    /// Interactions that started in `[from, to]`, epoch ms, both included.
    pub start_from_ms: i64,
    pub start_to_ms: i64,
    pub visitor: Option<String>,
    /// One interaction, by its id (the engagement context id).
    pub interaction_id: Option<String>,
    pub campaign_ids: Vec<u64>,
    pub engagement_ids: Vec<u64>,
    pub engagement_types: Vec<EngagementType>,
    pub outcomes: Vec<Outcome>,
    /// The `keyword` filter, limited to its `keyword_search_area.types`.
    pub keyword: Option<TextSearch>,
    /// `sdeSearch`: one search per attribute type, each must match.
    pub sde_search: Vec<TextSearch>,
    /// `Some(true)`: interactions the visitor clicked (accepted), that is with an
    /// `OFFER_CLICK`; `Some(false)`: those without one.
    pub interactive: Option<bool>,
    /// `Some(true)`: interactions that ended, that is with an `OFFER_DECLINED`,
    /// `OFFER_TIMEOUT` or `OFFER_REMOVE` (the visitor closed it, its time ran out, or it
    /// left the page); `Some(false)`: those with none of these yet.
    pub ended: Option<bool>,
    /// Interactions whose duration, in whole seconds rounded down (`(end - start) / 1000`
    /// of [`Interaction`]'s times), is in `[from, to]`, both included.
    pub duration_s: Option<(u64, u64)>,
    /// Whether interactions flagged as a bot's (`engage_model::bot`) are searched too;
    /// `false` leaves them out.
    pub include_bots: bool,
    /// A filter on something no interaction records (agents, skills, surveys, scores,
    /// co-browse, chat lines) was given a value: no interaction matches.
    pub matches_nothing: bool,
}

/// A search: its filters, its order and the page wanted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InteractionQuery {
    pub filters: InteractionFilters,
    /// Sort keys, most significant first; ties end in storage order.
    pub sort: Vec<SortKey>,
    pub offset: u64,
    pub limit: usize,
}

/// One page of a search.
#[derive(Debug, Clone, PartialEq)]
pub struct InteractionPage {
    /// How many interactions match in all, over every page.
    pub count: u64,
    pub records: Vec<Interaction>,
}

/// One engagement context's life.
#[derive(Debug, Clone, PartialEq)]
pub struct Interaction {
    /// The engagement context id.
    pub interaction_id: String,
    /// Client time of its first and last event (server time where the page gave none).
    pub start_ms: i64,
    pub end_ms: i64,
    pub outcome: Outcome,
    pub visitor_id: Option<String>,
    pub session_id: Option<String>,
    pub page_id: Option<String>,
    pub page_url: Option<String>,
    pub campaign: InteractionCampaign,
    /// Its `LP_OFFERS` events, ordered by client time, then lifecycle order, then
    /// arrival.
    pub events: Vec<StoredEvent>,
    pub user_agent: Option<String>,
    pub referrer: Option<String>,
    /// What the app said about its device, for visits started through the Monitoring API.
    pub client: Option<crate::ClientProperties>,
    /// The visit's attributes in history shape with `serverTimeStamp` and
    /// `originalTimeStamp`, oldest first.
    pub sdes: Vec<crate::RawJson>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InteractionCampaign {
    pub campaign_id: u64,
    /// From the campaign's definition, when the account has it.
    pub campaign_name: Option<String>,
    pub engagement_id: u64,
    pub engagement_name: Option<String>,
    pub engagement_revision: u64,
    pub engagement_type: Option<EngagementType>,
    pub tgl_name: Option<String>,
    pub zone_id: Option<u64>,
}

/// A stored event: its envelope and the event as the export writes it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub client_id: String,
    pub client_time_ms: Option<i64>,
    pub server_ms: i64,
    pub event: engage_model::OfferEvent,
}
