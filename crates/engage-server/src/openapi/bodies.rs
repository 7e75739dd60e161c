//! The shapes of the public routes' bodies that are read or written by hand rather than
//! through a serde type (the tag's batch, the decision, the Monitoring API's calls, the
//! history search's filters and records), for the description. Each mirrors its reader
//! (`crate::request`) or writer and the examples of docs/api.md. The readers take an
//! optional member that is `null` as left out (`engage_model::read::ObjReader::get`), so
//! the request shapes' optional members are nullable.

#![allow(dead_code)] // descriptions of shapes: the routes read and write them by hand

use std::borrow::Cow;

use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

use super::schema::FieldError;

/// One page view's batch of `LP_OFFERS` events and SDEs, as the tag sends it
/// (`application/json`, or the same text as `text/plain`; `Content-Encoding: gzip` is
/// accepted). Each item is validated on its own: the valid ones are stored, the others
/// listed in `rejected` and kept in the quarantine.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase", example = json!({
    "visitorId": "v-8f1c", "sessionId": "s-22ad", "pageId": "p-0001",
    "page": {"url": "https://shop.example/cart", "referrer": "https://www.example.org/",
             "title": "Your cart", "sections": ["shop", "cart"]},
    "events": [
        {"id": "0190d6c2-7a10-7000-8000-000000000001", "time": 1_732_190_400_000_u64,
         "appName": "LP_OFFERS", "eventName": "START",
         "data": {"contexts": [{"EngagementContext": {"id": "1"}}, {"pageContext": {"id": "p-0001"}}],
                  "campaignId": 210_599_710, "engagementId": 210_600_710,
                  "engagementRevision": 18, "engagementType": 3, "contextId": "1",
                  "zoneId": 471_288_710, "state": 1, "confKey": "210599710_210600710_18",
                  "tglName": "slider", "done": true, "engagementName": "Slide-out chat button"}}
    ],
    "sdes": [
        {"id": "0190d6c2-7a10-7000-8000-000000000003", "time": 1_732_190_400_200_u64,
         "sde": {"type": "cart", "total": 11.7, "currency": "USD", "numItems": 6,
                 "products": [{"product": {"name": "prod1", "category": "category",
                                           "sku": "sku", "price": 7.8}, "quantity": 1}]}}
    ]
}))]
pub struct CollectBatch {
    /// The visitor.
    #[schema(value_type = ClientId)]
    visitor_id: String,
    /// The visitor's session; it belongs to the first visitor that sent it.
    #[schema(value_type = ClientId)]
    session_id: String,
    /// The page view within the session.
    #[schema(value_type = ClientId)]
    page_id: String,
    page: Option<PageInfo>,
    /// `LP_OFFERS` events, each an `OfferEvent` (docs/vocabulary.md, Events). Each is
    /// validated alone: one that is not an `OfferEvent`, of any type, is answered in
    /// `rejected` and kept in the quarantine, and the batch goes on.
    #[schema(value_type = Option<Vec<Value>>)]
    events: Option<Vec<serde_json::Value>>,
    /// Attributes the page pushed, each an `SdeItem` (docs/vocabulary.md, Attributes),
    /// validated alone as events are.
    #[schema(value_type = Option<Vec<Value>>)]
    sdes: Option<Vec<serde_json::Value>>,
}

/// The page the batch was sent from.
#[derive(ToSchema)]
pub struct PageInfo {
    url: Option<String>,
    referrer: Option<String>,
    title: Option<String>,
    /// The page's `lpTag.section`.
    sections: Option<Sections>,
}

/// A whole number of 64 bits (0 to 2^64 - 1), or a string of its digits: the readers'
/// ids and times (`numeric_id` in `request/history.rs`).
pub struct NumericId;

impl PartialSchema for NumericId {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0))
                    .maximum(Some(u64::MAX)),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some("^[0-9]+$")),
            )
            .description(Some(
                "A whole number of 64 bits, or a string of its digits.",
            ))
            .into()
    }
}

impl ToSchema for NumericId {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("NumericId")
    }
}

/// A client's id of a visitor, session or page: a string of 1-128 characters, or a
/// number (taken as its text, as tags that write ids as numbers send them).
pub struct ClientId;

impl PartialSchema for ClientId {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(1))
                    .max_length(Some(128)),
            )
            .item(ObjectBuilder::new().schema_type(Type::Number))
            .description(Some(
                "A string of 1-128 characters, or a number (taken as its text).",
            ))
            .into()
    }
}

impl ToSchema for ClientId {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("ClientId")
    }
}

/// An interaction's id (its engagement context id): a string of at most 128
/// characters, or a whole number (taken as its text).
pub struct InteractionId;

impl PartialSchema for InteractionId {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .max_length(Some(128)),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0))
                    .maximum(Some(u64::MAX)),
            )
            .description(Some(
                "A string of at most 128 characters, or a whole number (taken as its text).",
            ))
            .into()
    }
}

impl ToSchema for InteractionId {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("InteractionId")
    }
}

/// A page's sections (`lpTag.section`): names, or one name; empty names name nothing.
#[derive(serde::Serialize, ToSchema)]
#[serde(untagged)]
pub enum Sections {
    /// At most 100 names of at most 256 characters.
    Many(Vec<String>),
    One(String),
}

/// The event names a batch may carry: every `engage_model::OfferEventName`.
pub struct OfferEventName;

impl PartialSchema for OfferEventName {
    fn schema() -> RefOr<Schema> {
        let names = engage_model::OfferEventName::ALL.map(engage_model::OfferEventName::as_str);
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(names))
            .description(Some(
                "The `LP_OFFERS` lifecycle names with `appName` `LP_OFFERS`; the coupon \
                 action's `COUPON_REVEALED` and `COUPON_COPIED` with `appName` `ENGAGE_ACTION`.",
            ))
            .into()
    }
}

/// The apps an event belongs to: the lifecycle's, and the engagement actions'.
pub struct AppName;

impl PartialSchema for AppName {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some([engage_model::LP_OFFERS, engage_model::ENGAGE_ACTION]))
            .description(Some(
                "`LP_OFFERS` for the lifecycle events, `ENGAGE_ACTION` for the coupon action's.",
            ))
            .into()
    }
}

impl ToSchema for AppName {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("OfferAppName")
    }
}

impl ToSchema for OfferEventName {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("OfferEventName")
    }
}

/// One `LP_OFFERS` event (or an engagement action's); an invalid one is rejected alone.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct OfferEvent {
    /// The client's id of the item (1-128 characters): a retried batch stores nothing
    /// twice.
    #[schema(min_length = 1, max_length = 128)]
    id: String,
    /// The page's clock, epoch milliseconds.
    time: Option<i64>,
    #[schema(example = "LP_OFFERS")]
    app_name: AppName,
    event_name: OfferEventName,
    /// The event's data as the tag writes it (docs/vocabulary.md, Events).
    #[schema(value_type = Object)]
    data: serde_json::Value,
}

/// One attribute (SDE) the page pushed; an invalid one is rejected alone.
#[derive(ToSchema)]
pub struct SdeItem {
    /// The client's id of the item (1-128 characters).
    #[schema(min_length = 1, max_length = 128)]
    id: String,
    /// The page's clock, epoch milliseconds.
    time: Option<i64>,
    /// The SDE in the page's shape, such as `{"type": "cart", ...}`.
    #[schema(value_type = Object)]
    sde: serde_json::Value,
}

/// The kinds of items a batch holds.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum ItemKind {
    Event,
    Sde,
}

/// An item of the batch that was not stored (it is kept in the quarantine), with why.
#[derive(ToSchema)]
pub struct Rejected {
    kind: ItemKind,
    /// Its index in `events` or `sdes`.
    index: u64,
    errors: Vec<FieldError>,
}

/// What the tag asks on a page view (`application/json` or `text/plain`).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase", example = json!({
    "visitorId": "v-8f1c", "sessionId": "s-22ad", "pageId": "p-0002",
    "url": "https://shop.example/cart", "sections": ["shop", "cart"],
    "sdes": [{"type": "cart", "total": 150.5, "currency": "USD", "numItems": 2}]
}))]
pub struct DecisionRequest {
    #[schema(min_length = 1, max_length = 128)]
    visitor_id: String,
    #[schema(min_length = 1, max_length = 128)]
    session_id: String,
    page_id: Option<String>,
    /// The page URL (at most 8,192 characters); without one, no URL `include` rule holds.
    #[schema(max_length = 8192)]
    url: Option<String>,
    /// The page's `lpTag.section`: at most 100 names of at most 256 characters.
    sections: Option<Sections>,
    /// The page-shape SDEs the page pushed so far (objects such as `{"type": "cart",
    /// ...}`); one that does not validate, of any type, is left out.
    #[schema(value_type = Option<Vec<Value>>)]
    sdes: Option<Vec<serde_json::Value>>,
}

/// The engagements to show, in rank order.
#[derive(ToSchema)]
#[schema(example = json!({"engagements": [{
    "campaignId": 802_034_605, "engagementId": 449_374_570, "engagementRevision": 2,
    "engagementType": 3, "contextId": "01a1ff1f4d9b7001af41454db19411e2",
    "zoneId": 471_288_710, "state": 4, "confKey": "802034605_449374570_2",
    "tglName": "slider", "engagementName": "Slide-out chat button", "timeoutSeconds": 45,
    "content": {"title": "Need help with your order?", "body": null,
                "acceptLabel": "Chat now", "closeLabel": "No thanks"}}]}))]
pub struct DecisionAnswer {
    engagements: Vec<ShownEngagement>,
}

/// An engagement shown in a new engagement context.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ShownEngagement {
    campaign_id: u64,
    engagement_id: u64,
    engagement_revision: u64,
    /// 0 peeling corner, 1 overlay, 2 toaster, 3 slide-out, 5 embedded, 6 sticky.
    engagement_type: u8,
    context_id: String,
    zone_id: Option<u64>,
    /// The agent state the tag reports in its events.
    state: u8,
    conf_key: String,
    tgl_name: String,
    engagement_name: String,
    timeout_seconds: Option<u32>,
    content: OfferContent,
    /// The engagement's action (docs/api.md, Engagement actions), when it has one.
    #[schema(nullable = false, value_type = Option<Object>)]
    action: Option<serde_json::Value>,
}

/// What an engagement says.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct OfferContent {
    title: Option<String>,
    body: Option<String>,
    accept_label: Option<String>,
    close_label: Option<String>,
}

/// A Monitoring API call's body (every member optional; any other is 400/5).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase", example = json!({
    "consumerId": "c-1",
    "clientProperties": {"appVersion": "4.2", "deviceFamily": "MOBILE", "osName": "ANDROID",
                         "osVersion": "14"},
    "identities": [{"iss": "https://shop.example", "acr": "loa1",
                    "sub": "6f1c0e7e-2b1d-4b0e-9d55-0f3f6f4b1c2a"}],
    "entryPoints": ["tel://12125550100", "https://shop.example/app/home", "sec://support",
                    "lang://en-US"],
    "engagementAttributes": [{"type": "ctmrinfo",
                              "info": {"customerId": "138766AC", "ctype": "vip"}}]
}))]
pub struct EngagementCall {
    /// The consumer's identity when no `identities` are given (1-256 characters).
    #[schema(min_length = 1, max_length = 256)]
    consumer_id: Option<String>,
    /// At most 8; the first `sub` is the consumer's identity.
    #[schema(max_items = 8)]
    identities: Option<Vec<Identity>>,
    client_properties: Option<ClientProperties>,
    /// At most 64: the first `http(s)://` entry is the page URL, each `sec://NAME` a
    /// section, the first `lang://NAME` the visit's language.
    #[schema(max_items = 64)]
    entry_points: Option<Vec<String>>,
    /// Page-shape SDEs and impressions; `null` is none.
    #[schema(value_type = Option<Vec<Object>>)]
    engagement_attributes: Option<Vec<serde_json::Value>>,
}

/// A `report` call's body: the members of an `engagement` call and `pageId`.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase", example = json!({
    "pageId": "01a1fed14ced74ad8c0c86d5a180a8c9",
    "engagementAttributes": [
        {"type": "impDisplay", "campaign": 210_599_710, "engId": 210_600_710, "revision": 18,
         "eContext": [{"type": "engagementContext", "id": "ctx-1"}]},
        {"type": "purchase", "total": 11.7, "currency": "USD", "orderId": "DRV1534XC"}]
}))]
pub struct ReportCall {
    #[schema(min_length = 1, max_length = 256)]
    consumer_id: Option<String>,
    #[schema(max_items = 8)]
    identities: Option<Vec<Identity>>,
    client_properties: Option<ClientProperties>,
    #[schema(max_items = 64)]
    entry_points: Option<Vec<String>>,
    /// Page-shape SDEs and impressions (`impDisplay`, `impAccept`, `impExpanded`,
    /// `impTimeout`, `impClose`) of contexts an `engagement` call exposed to the session;
    /// `null` is none.
    #[schema(value_type = Option<Vec<Object>>)]
    engagement_attributes: Option<Vec<serde_json::Value>>,
    /// The page view the attributes belong to; a new one when absent.
    page_id: Option<String>,
}

/// A consumer identity.
#[derive(ToSchema)]
pub struct Identity {
    #[schema(min_length = 1, max_length = 256)]
    iss: Option<String>,
    #[schema(min_length = 1, max_length = 256)]
    acr: String,
    #[schema(min_length = 1, max_length = 256)]
    sub: String,
}

/// The app's device, kept with the visit the call starts.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct ClientProperties {
    #[schema(max_length = 256)]
    app_version: Option<String>,
    device_family: Option<DeviceFamily>,
    /// Checked, not kept.
    #[schema(max_length = 256)]
    ip_address: Option<String>,
    /// The same member as `osName`.
    #[schema(max_length = 256)]
    os: Option<String>,
    #[schema(max_length = 256)]
    os_name: Option<String>,
    #[schema(max_length = 256)]
    os_version: Option<String>,
}

#[derive(ToSchema)]
#[schema(rename_all = "UPPERCASE")]
pub enum DeviceFamily {
    Desktop,
    Tablet,
    Mobile,
}

/// An epoch-milliseconds range, both ends included.
#[derive(ToSchema)]
pub struct TimeRange {
    #[schema(value_type = NumericId)]
    from: u64,
    #[schema(value_type = NumericId)]
    to: u64,
}

/// A range of whole seconds, both ends included.
#[derive(ToSchema)]
pub struct NumberRange {
    #[schema(value_type = NumericId)]
    from: u64,
    #[schema(value_type = NumericId)]
    to: u64,
}

/// A Meaningful Conversation Score range, 0-100: at least one end given.
#[derive(ToSchema)]
pub struct ScoreRange {
    #[schema(minimum = 0, maximum = 100)]
    from: Option<u8>,
    #[schema(minimum = 0, maximum = 100)]
    to: Option<u8>,
}

/// The outcomes of an interaction.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum Outcome {
    Clicked,
    Declined,
    TimedOut,
    Removed,
    Displayed,
    Started,
}

/// `keyword_search_area`: the attribute types `keyword` looks in.
#[derive(ToSchema)]
pub struct KeywordSearchArea {
    /// `ea.purchase`, `ea.viewedProduct`, `ea.cartStatus`, `ea.serviceActivity`,
    /// `ea.visitorError`, `ea.lead`, `ea.customerInfo`, `ea.marketingCampaignInfo`,
    /// `ea.personalInfo`, `ea.searchContent`; LivePerson's `chatLine`, `surveyAnswer`,
    /// `surveyQuestion`, `visitorInfo` and `mcs` hold no text in Engage.
    types: Vec<String>,
}

/// The Engagement History search's filters: every filter given must hold (docs/api.md
/// lists each rule); a member that is `null` is not given. LivePerson's filters on what Engage does not record (skills,
/// agents, scores, co-browsing, chat lines, predictions, channels) are read as strictly
/// and match nothing unless they filter nothing.
#[derive(ToSchema)]
#[schema(example = json!({
    "start": {"from": 1_795_255_200_000_u64, "to": 1_795_258_800_000_u64},
    "interactive": true, "ended": false, "duration": {"from": 0, "to": 3600}
}))]
pub struct HistorySearch {
    /// Interactions that started in `[from, to]`: at most 31 days apart unless
    /// `visitor` or `engagementId` is given.
    start: TimeRange,
    visitor: Option<String>,
    /// One interaction: the engagement context id.
    #[schema(rename = "engagementId", value_type = Option<InteractionId>)]
    engagement_id: Option<String>,
    #[schema(max_items = 100, rename = "campaignIds", value_type = Option<Vec<NumericId>>)]
    campaign_ids: Option<Vec<u64>>,
    #[schema(max_items = 100, rename = "engagementIds", value_type = Option<Vec<NumericId>>)]
    engagement_ids: Option<Vec<u64>>,
    /// 0, 1, 2, 3, 5 or 6.
    #[schema(max_items = 100, rename = "engagementTypes")]
    engagement_types: Option<Vec<u8>>,
    #[schema(max_items = 100)]
    outcomes: Option<Vec<Outcome>>,
    /// Words an attribute of the visit holds, in this order.
    keyword: Option<String>,
    keyword_search_area: Option<KeywordSearchArea>,
    /// Clicked (an `OFFER_CLICK`) or not.
    interactive: Option<bool>,
    /// Ended (declined, timed out or removed) or not.
    ended: Option<bool>,
    /// Whole seconds.
    duration: Option<NumberRange>,
    /// Search interactions flagged as a bot's too (default `false`).
    #[schema(rename = "includeBots")]
    include_bots: Option<bool>,
    /// History key → words: `cartStatus`, `purchase`, `viewedProduct`, `customerInfo`,
    /// `marketingCampaignInfo`, `personalInfo`, `lead`, `serviceActivity`,
    /// `visitorError`, `searchContent`.
    #[schema(rename = "sdeSearch")]
    sde_search: Option<std::collections::BTreeMap<String, String>>,
    #[schema(max_items = 100, rename = "skillIds")]
    skill_ids: Option<Vec<i64>>,
    #[schema(max_items = 100, rename = "agentIds")]
    agent_ids: Option<Vec<i64>>,
    #[schema(max_items = 100, rename = "agentGroupIds")]
    agent_group_ids: Option<Vec<i64>>,
    /// -1, 0 or 1.
    #[schema(max_items = 100, rename = "alertedMcsValues")]
    alerted_mcs_values: Option<Vec<i8>>,
    /// -1, 0 or 1.
    #[schema(minimum = -1, maximum = 1)]
    mcs: Option<i8>,
    #[schema(rename = "chatMCS")]
    chat_mcs: Option<ScoreRange>,
    #[schema(rename = "hasInteractiveCoBrowse")]
    has_interactive_co_browse: Option<bool>,
    #[schema(rename = "coBrowseDuration")]
    co_browse_duration: Option<NumberRange>,
    /// `RICH_CONTENT`.
    #[schema(max_items = 100, rename = "lineContentTypes")]
    line_content_types: Option<Vec<String>>,
    #[schema(max_items = 100, rename = "predictionLabel")]
    prediction_label: Option<Vec<String>>,
    /// -1 unknown, 1 web, 2 voice.
    #[schema(minimum = -1, maximum = 2)]
    channel: Option<i8>,
}

/// One interaction in LivePerson's documented record shape; members Engage has no
/// notion of carry the documented "none" values, and what only Engage knows (the
/// outcome, the `LP_OFFERS` timeline) is under `engage`.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
pub struct HistoryRecord {
    #[schema(value_type = Object)]
    info: serde_json::Value,
    #[schema(value_type = Object)]
    transcript: serde_json::Value,
    #[schema(value_type = Vec<Object>)]
    line_scores: Vec<serde_json::Value>,
    #[schema(value_type = Object)]
    campaign: serde_json::Value,
    #[schema(value_type = Object)]
    co_browse_sessions: serde_json::Value,
    #[schema(value_type = Object)]
    visitor_info: serde_json::Value,
    #[schema(value_type = Object)]
    sdes: serde_json::Value,
    #[schema(value_type = Object)]
    engage: serde_json::Value,
}
