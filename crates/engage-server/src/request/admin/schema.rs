//! The admin API's bodies as the OpenAPI description states them (`crate::openapi`):
//! schemas only, never read or written, each the exact shape its reader in
//! [`super`] (and [`crate::decision::Targeting::parse`], [`crate::request::Action`])
//! accepts. Unknown members are refused (`additionalProperties: false`); an optional
//! member may be `null`, which reads as absent; whole numbers may come as digit strings.
#![allow(dead_code)] // descriptions of shapes: nothing builds these values

use utoipa::openapi::schema::{
    AdditionalProperties, AllOfBuilder, ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type,
};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

/// A whole number from `min` to `max` as JSON number, or as a string of its digits (the
/// readers take both); `nullable` adds `null` (an optional member left out).
pub fn whole_number(min: u64, max: Option<u64>, nullable: bool) -> Schema {
    let number = ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(min as usize))
        .maximum(max.map(|m| m as usize));
    let pattern = match max {
        Some(max) => digits_pattern(min, max),
        None => "^(0|[1-9][0-9]{0,19})$".to_owned(),
    };
    let digits = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(pattern))
        .description(Some("the same number as a string of digits"));
    let mut one_of = OneOfBuilder::new().item(number).item(digits);
    if nullable {
        one_of = one_of.item(ObjectBuilder::new().schema_type(Type::Null));
    }
    one_of.into()
}

/// A regular expression of the numbers `min` to `max` (below 10^19) written in decimal
/// without leading zeros: an alternation of blocks `<prefix>[a-b][0-9]{k}`.
pub fn digits_pattern(min: u64, max: u64) -> String {
    let mut blocks: Vec<String> = Vec::new();
    let mut start = min;
    while start <= max {
        let digits = start.checked_ilog10().unwrap_or(0) + 1;
        // The last number with as many digits, or `max`.
        let high = max.min(10u64.pow(digits) - 1);
        while start <= high {
            // The largest aligned block of 10^k numbers at `start` within `high`, keeping
            // the first digit in the prefix.
            let mut k = 0;
            while k + 1 < digits
                && start % 10u64.pow(k + 1) == 0
                && start + 10u64.pow(k + 1) - 1 <= high
            {
                k += 1;
            }
            let size = 10u64.pow(k);
            let text = start.to_string();
            let head = &text[..text.len() - k as usize - 1];
            let first = start / size % 10;
            let last = (first + (high - start + 1) / size - 1).min(9);
            let digit = if first == last {
                first.to_string()
            } else {
                format!("[{first}-{last}]")
            };
            let tail = match k {
                0 => String::new(),
                1 => "[0-9]".to_owned(),
                k => format!("[0-9]{{{k}}}"),
            };
            blocks.push(format!("{head}{digit}{tail}"));
            start += (last - first + 1) * size;
        }
    }
    format!("^({})$", blocks.join("|"))
}

/// A string of 1 to `max` characters that is not only space (surrounding space is
/// trimmed before it is kept).
pub fn text(max: usize) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(max))
        .pattern(Some(r"\S"))
}

/// One function per range, for `#[schema(schema_with = ...)]`.
macro_rules! whole_numbers {
    ($($name:ident = $min:expr, $max:expr, $nullable:expr;)*) => {
        $(pub fn $name() -> Schema { whole_number($min, $max, $nullable) })*
    };
}

whole_numbers! {
    priority = 0, Some(1_000_000), true;
    control_group_percent = 0, Some(50), true;
    attribution_window_days = 1, Some(31), true;
    zone_id = 0, None, true;
    timeout_seconds = 1, Some(86_400), true;
    weight = 0, Some(super::MAX_WEIGHT), true;
    impressions_cap = 1, Some(crate::decision::targeting::MAX_IMPRESSIONS), true;
    decline_days = 1, Some(crate::decision::targeting::MAX_DECLINE_DAYS), true;
}

/// `engagementType`: 0 peeling corner, 1 overlay, 2 toaster, 3 slide-out, 5 embedded,
/// 6 sticky (4 is not a format); a one-digit string is taken.
pub fn engagement_type() -> Schema {
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .enum_values(Some([0, 1, 2, 3, 5, 6])),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["0", "1", "2", "3", "5", "6"])),
        )
        .description(Some(
            "0 peeling corner, 1 overlay, 2 toaster, 3 slide-out, 5 embedded, 6 sticky",
        ))
        .into()
}

/// An agent state, as a request gives it: 1 online, 2 offline, 4 busy (a one-digit
/// string is taken).
pub fn agent_state() -> Schema {
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .enum_values(Some([1, 2, 4])),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["1", "2", "4"])),
        )
        .description(Some("1 online, 2 offline, 4 busy"))
        .into()
}

fn nullable(schema: impl Into<RefOr<Schema>>) -> Schema {
    OneOfBuilder::new()
        .item(schema)
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .into()
}

fn text_list(max_items: usize, max_chars: usize) -> Schema {
    nullable(
        ArrayBuilder::new()
            .items(text(max_chars))
            .max_items(Some(max_items)),
    )
}

/// `T`'s schema with a bound on its number of members (utoipa 5.5 writes
/// `min_properties` as `maxProperties`, so the bounds are set here).
fn with_member_count<T: PartialSchema>(min: usize, max: Option<usize>) -> Schema {
    match T::schema() {
        RefOr::T(Schema::Object(mut object)) => {
            object.min_properties = Some(min);
            object.max_properties = max;
            Schema::Object(object)
        }
        RefOr::T(other) => other,
        RefOr::Ref(reference) => AllOfBuilder::new().item(reference).into(),
    }
}

fn frequency() -> Schema {
    nullable(with_member_count::<Frequency>(1, None))
}

fn url_matches() -> Schema {
    nullable(
        ArrayBuilder::new()
            .items(RefOr::T(with_member_count::<UrlMatch>(1, Some(1))))
            .max_items(Some(crate::decision::targeting::MAX_LIST)),
    )
}

/// An attribute path, by its history name.
fn sde_path() -> Schema {
    let names: Vec<&str> = crate::decision::sde_path::SdePath::all()
        .map(|(name, _)| name)
        .collect();
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(names))
        .into()
}

/// A string, a number or a boolean, as `eq`, `ne`, `in` and `notIn` compare.
fn scalar() -> Schema {
    let max = crate::decision::targeting::MAX_PATTERN_CHARS;
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(max)),
        )
        .item(ObjectBuilder::new().schema_type(Type::Number))
        .item(ObjectBuilder::new().schema_type(Type::Boolean))
        .into()
}

/// One condition whose `op` is one of `ops`, with `value` as they compare it
/// (`required`: it may not be left out).
fn condition(ops: &[&str], value: Schema, required: bool) -> ObjectBuilder {
    let mut object = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("path", sde_path())
        .required("path")
        .property(
            "op",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(ops.to_vec())),
        )
        .required("op")
        .property("value", value)
        .additional_properties(Some(AdditionalProperties::FreeForm(false)));
    if required {
        object = object.required("value");
    }
    object
}

/// `sdes`: at most 50 conditions, each told apart by its `op`.
fn conditions() -> Schema {
    let max = crate::decision::targeting::MAX_PATTERN_CHARS;
    let one = OneOfBuilder::new()
        .item(condition(&["eq", "ne"], scalar(), true))
        .item(condition(
            &["gt", "gte", "lt", "lte"],
            ObjectBuilder::new().schema_type(Type::Number).into(),
            true,
        ))
        .item(condition(
            &["contains", "startsWith"],
            text(max).into(),
            true,
        ))
        .item(condition(
            &["in", "notIn"],
            ArrayBuilder::new()
                .items(RefOr::T(scalar()))
                .min_items(Some(1))
                .max_items(Some(crate::decision::targeting::MAX_LIST))
                .into(),
            true,
        ))
        .item(condition(
            &["exists"],
            nullable(ObjectBuilder::new().schema_type(Type::Boolean)),
            false,
        ))
        .item(condition(
            &["matches"],
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(max))
                .description(Some("a regular expression (Rust `regex` syntax)"))
                .into(),
            true,
        ));
    nullable(
        ArrayBuilder::new()
            .items(one)
            .max_items(Some(crate::decision::targeting::MAX_CONDITIONS)),
    )
}

/// A section list: at most 100 sections of 1-256 characters.
pub fn section_list() -> Schema {
    text_list(
        crate::decision::targeting::MAX_LIST,
        crate::decision::targeting::MAX_SECTION_CHARS,
    )
}

/// `POST .../apps`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Android app"}))]
pub struct AppRequest {
    /// 1-256 characters.
    #[schema(schema_with = name)]
    name: String,
}

fn name() -> ObjectBuilder {
    text(super::MAX_NAME_CHARS)
}

/// A campaign's fields (`POST .../campaigns`, `PUT .../campaigns/{campaign_id}`, which
/// replaces them all): what is left out takes its default.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"name": "Spring sale", "goal": "Increase sales", "priority": 10}))]
pub struct CampaignRequest {
    /// 1-256 characters.
    #[schema(schema_with = name)]
    name: String,
    /// At most 256 characters.
    #[schema(min_length = 1, max_length = 256, pattern = r"\S")]
    goal: Option<String>,
    /// 0 (first) to 1,000,000; 100 when left out.
    #[schema(schema_with = priority)]
    priority: Option<u32>,
    /// `false` shows nothing of the campaign; `true` when left out.
    enabled: Option<bool>,
    /// 0-50: the share of visitors held out as the control group; 0 when left out.
    #[schema(schema_with = control_group_percent)]
    control_group_percent: Option<u8>,
    /// 1-31 days; 7 when left out.
    #[schema(schema_with = attribution_window_days)]
    attribution_window_days: Option<u8>,
}

/// An engagement's definition (`POST .../engagements`: revision 1; `PUT
/// .../engagements/{engagement_id}`: the next revision). `name` and `engagementType` are
/// required; the rest has defaults.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({
    "name": "Slide-out chat button", "engagementType": 3, "zoneId": 471288710,
    "timeoutSeconds": 30, "hideWhenOffline": true,
    "targeting": {"sections": {"include": ["cart", "checkout"]},
                  "url": {"exclude": [{"contains": "preview=1"}]},
                  "sdes": [{"path": "cartStatus.total", "op": "gt", "value": 100}],
                  "frequency": {"maxImpressions": 3}},
    "content": {"title": "Questions about your order?", "acceptLabel": "Chat now",
                "closeLabel": "No thanks"}
}))]
pub struct EngagementRequest {
    /// 1-256 characters; the events' `engagementName`.
    #[schema(schema_with = name)]
    name: String,
    #[schema(schema_with = engagement_type)]
    engagement_type: u8,
    /// The renderer (`peeling`, `overlay`, `toaster`, `slider`, `embedded`, `sticky`);
    /// the type's own when left out. 1-64 characters.
    #[schema(min_length = 1, max_length = 64, pattern = r"\S")]
    tgl_name: Option<String>,
    /// The page zone: at most one engagement per zone is shown.
    #[schema(schema_with = zone_id)]
    zone_id: Option<u64>,
    /// 1-86,400: how long it stays displayed.
    #[schema(schema_with = timeout_seconds)]
    timeout_seconds: Option<u32>,
    /// Who sees it; everyone when left out.
    targeting: Option<TargetingRequest>,
    content: Option<ContentRequest>,
    /// Not shown while the state is 2 (offline); `false` when left out.
    hide_when_offline: Option<bool>,
    action: Option<ActionRequest>,
    /// 0-1,000,000: a share of the campaign's traffic split for its zone.
    #[schema(schema_with = weight)]
    weight: Option<u32>,
}

/// What the engagement shows; each left out is null.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContentRequest {
    #[schema(min_length = 1, max_length = 256, pattern = r"\S")]
    title: Option<String>,
    #[schema(min_length = 1, max_length = 10000, pattern = r"\S")]
    body: Option<String>,
    #[schema(min_length = 1, max_length = 256, pattern = r"\S")]
    accept_label: Option<String>,
    #[schema(min_length = 1, max_length = 256, pattern = r"\S")]
    close_label: Option<String>,
}

/// Targeting rules (docs/api.md, Targeting): every rule given must hold.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetingRequest {
    /// The page's sections: shown where one of `include` is, never where one of
    /// `exclude` is.
    sections: Option<SectionRules>,
    /// The page's URL.
    url: Option<UrlRules>,
    /// Conditions on the visitor's attributes (SDEs), at most 50. Each names an
    /// attribute by its history name (`path`) and compares it (`op`) with `value`: a
    /// string, number or boolean for `eq`/`ne`, a number for `gt`/`gte`/`lt`/`lte`, a
    /// string for `contains`/`startsWith`, 1-100 of those for `in`/`notIn`, a regular
    /// expression for `matches`, `true` or `false` (or nothing) for `exists`.
    #[schema(schema_with = conditions)]
    sdes: Option<Vec<serde_json::Value>>,
    /// Frequency caps: at least one.
    #[schema(schema_with = frequency)]
    frequency: Option<Frequency>,
}

#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SectionRules {
    #[schema(schema_with = section_list)]
    include: Option<Vec<String>>,
    #[schema(schema_with = section_list)]
    exclude: Option<Vec<String>>,
}

#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UrlRules {
    /// At most 100.
    #[schema(schema_with = url_matches)]
    include: Option<Vec<UrlMatch>>,
    /// At most 100.
    #[schema(schema_with = url_matches)]
    exclude: Option<Vec<UrlMatch>>,
}

/// Exactly one of `contains`, `prefix` or `regex` (a regular expression of the Rust
/// `regex` syntax), each 1-2,048 characters kept as written.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"contains": "preview=1"}))]
pub struct UrlMatch {
    #[schema(required = false, min_length = 1, max_length = 2048)]
    contains: String,
    #[schema(required = false, min_length = 1, max_length = 2048)]
    prefix: String,
    #[schema(required = false, min_length = 1, max_length = 2048)]
    regex: String,
}

/// Frequency caps: at least one.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Frequency {
    /// Impressions per visitor, ever (1-10,000).
    #[schema(schema_with = impressions_cap)]
    max_impressions: Option<u32>,
    #[schema(schema_with = impressions_cap)]
    max_per_session: Option<u32>,
    #[schema(schema_with = impressions_cap)]
    max_per_day: Option<u32>,
    #[schema(schema_with = impressions_cap)]
    max_per_week: Option<u32>,
    /// Days it stays hidden from a visitor who declined it (1-365).
    #[schema(schema_with = decline_days)]
    decline_days: Option<u32>,
}

/// What the accept button leads to (docs/api.md, Engagement actions), told apart by
/// `type`.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum ActionRequest {
    Link(LinkAction),
    Form(FormAction),
    Coupon(CouponAction),
    Chat(ChatAction),
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum LinkType {
    Link,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum FormType {
    Form,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum CouponType {
    Coupon,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum ChatType {
    Chat,
}

/// An http(s) URL, 1-2,048 characters; `{contextId}` and `{engagementId}` in it are filled
/// in by the tag.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"type": "link", "url": "https://shop.example/sale", "newTab": true}))]
pub struct LinkAction {
    r#type: LinkType,
    #[schema(
        min_length = 1,
        max_length = 2048,
        pattern = r"^\s*[hH][tT][tT][pP][sS]?://[^/?#{]"
    )]
    url: String,
    new_tab: Option<bool>,
}

/// A lead form of 1-6 fields, each name once.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"type": "form", "fields": [{"name": "email", "required": true}]}))]
pub struct FormAction {
    r#type: FormType,
    #[schema(min_items = 1, max_items = 6)]
    fields: Vec<FormField>,
    #[schema(min_length = 1, max_length = 256, pattern = r"\S")]
    submit_label: Option<String>,
    #[schema(min_length = 1, max_length = 2000, pattern = r"\S")]
    thanks: Option<String>,
}

/// One field of a form; only `topic` has `choices` (1-20, each 1-100 characters).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FormField {
    name: FormFieldName,
    required: bool,
    #[schema(min_length = 1, max_length = 256, pattern = r"\S")]
    label: Option<String>,
    #[schema(schema_with = choices)]
    choices: Option<Vec<String>>,
}

fn choices() -> Schema {
    nullable(
        ArrayBuilder::new()
            .items(text(100))
            .min_items(Some(1))
            .max_items(Some(20)),
    )
}

#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum FormFieldName {
    Name,
    Email,
    Phone,
    Company,
    Topic,
    Message,
}

/// A code revealed with a copy button.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"type": "coupon", "code": "SPRING10"}))]
pub struct CouponAction {
    r#type: CouponType,
    #[schema(min_length = 1, max_length = 64, pattern = r"\S")]
    code: String,
    #[schema(min_length = 1, max_length = 256, pattern = r"\S")]
    copy_label: Option<String>,
}

/// The site's own chat widget, or only the `BEFORE_ENG_CHANNEL_OPEN` hook without one.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"type": "chat", "provider": "intercom"}))]
pub struct ChatAction {
    r#type: ChatType,
    provider: Option<ChatProvider>,
}

#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChatProvider {
    Intercom,
    Zendesk,
    Crisp,
    Tawk,
    Livechat,
}

/// `PUT .../availability`: the agent state the engagement shows.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"state": 2}))]
pub struct AvailabilityRequest {
    #[schema(schema_with = agent_state)]
    state: u8,
}

/// `PUT .../origins`: each `"*"` or an origin as browsers send it (`http` or `https`, a
/// lowercase host, an optional port, no path); empty lets every origin post.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"allowedOrigins": ["https://shop.example", "http://localhost:3000"]}))]
pub struct OriginsRequest {
    #[schema(schema_with = origin_list)]
    allowed_origins: Vec<String>,
}

/// `*`, or `http(s)://host[:port]` as browsers write it: a lowercase ASCII name or IPv4
/// address, or an IPv6 address in brackets.
fn origin_pattern() -> String {
    let port = digits_pattern(0, 65_535);
    let port = port.trim_start_matches('^').trim_end_matches('$');
    let h = "[0-9a-f]{1,4}";
    let ipv6 = [
        format!("({h}:){{7}}{h}"),
        format!("({h}:){{1,7}}:"),
        format!("({h}:){{1,6}}:{h}"),
        format!("({h}:){{1,5}}(:{h}){{1,2}}"),
        format!("({h}:){{1,4}}(:{h}){{1,3}}"),
        format!("({h}:){{1,3}}(:{h}){{1,4}}"),
        format!("({h}:){{1,2}}(:{h}){{1,5}}"),
        format!("{h}:(:{h}){{1,6}}"),
        format!(":((:{h}){{1,7}}|:)"),
    ]
    .join("|");
    format!(r"^(\*|https?://([a-z0-9._-]+|\[({ipv6})\])(:{port})?)$")
}

fn origin_list() -> Schema {
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(super::MAX_ORIGIN_CHARS))
                .pattern(Some(origin_pattern())),
        )
        .max_items(Some(super::MAX_ORIGINS))
        .into()
}

/// `PUT .../retention`: keep the account's data `days` days, or for ever (`null`).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"days": 30}))]
pub struct RetentionRequest {
    #[schema(schema_with = retention_days, required = true)]
    days: Option<u32>,
}

fn retention_days() -> Schema {
    whole_number(1, Some(u64::from(engage_store::MAX_RETENTION_DAYS)), true)
}

#[cfg(test)]
mod tests {
    use super::digits_pattern;

    #[test]
    fn digit_patterns_match_exactly_their_range() {
        for (min, max) in [
            (0, 50),
            (1, 31),
            (0, 1_000_000),
            (1, 86_400),
            (1, 365),
            (5, 31),
            (1, 2_678_400),
            (0, 9),
            (7, 7),
            (0, 65_535),
        ] {
            let pattern =
                regex::Regex::new(&digits_pattern(min, max)).unwrap_or_else(|e| panic!("{e}"));
            for n in 0..=max + 1_000 {
                assert_eq!(
                    pattern.is_match(&n.to_string()),
                    (min..=max).contains(&n),
                    "{n} in {min}-{max}"
                );
            }
            assert!(!pattern.is_match(&format!("0{min}")) || min == 0 && max == 0);
        }
    }
}
