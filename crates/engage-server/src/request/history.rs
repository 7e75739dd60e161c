//! The Engagement History search request (docs/vocabulary.md, Engagement History API):
//! the query string (`offset`, `limit`, `sort`, `source`) and the body's filters, read
//! into an [`InteractionQuery`].
//!
//! Strict on purpose: an unknown member or parameter is an error, not ignored, because a
//! filter the server silently skipped would answer with the wrong interactions and
//! nothing would tell the caller. Every problem is reported at once; body problems at
//! JSON pointers, query problems at `?name`. Pure, and total over any bytes.

use engage_model::{Node, SdeType, Tape, View};
use engage_store::{InteractionFilters, InteractionQuery, Outcome, SortField, SortKey, TextSearch};

use super::collect::MAX_ID_CHARS;
use crate::error::ApiError;
use engage_model::body::{
    child, describe, engagement_type, index, string, uint, Errors, ObjReader,
};

/// Page size when the query names none, and the largest allowed (docs/vocabulary.md,
/// Engagement History API).
pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 100;
/// The longest `start` range a search may cover without a visitor or interaction id:
/// 31 days, so that any calendar month fits.
pub const MAX_RANGE_MS: u64 = 31 * 24 * 60 * 60 * 1000;
/// The last millisecond of year 9999: later "epoch ms" are a unit mistake.
const MAX_EPOCH_MS: u64 = 253_402_300_799_999;
/// Most values in one list filter.
pub const MAX_LIST_ITEMS: usize = 100;
/// Longest `keyword` or `sdeSearch` text.
pub const MAX_SEARCH_CHARS: usize = 1_000;
/// Longest `source` (the caller's name).
pub const MAX_SOURCE_CHARS: usize = 256;

const QUERY_PARAMETERS: [&str; 4] = ["offset", "limit", "sort", "source"];
const BODY_MEMBERS: [&str; 25] = [
    "start",
    "visitor",
    "engagementId",
    "campaignIds",
    "engagementIds",
    "engagementTypes",
    "outcomes",
    "keyword",
    "keyword_search_area",
    "sdeSearch",
    "interactive",
    "ended",
    "duration",
    // Engage's own: interactions flagged as a bot's are left out unless this is true
    // (docs/liveperson-compatibility.md).
    "includeBots",
    // LivePerson's filters on what Engage does not record: accepted, and a value other
    // than an empty one matches no interaction (docs/liveperson-compatibility.md).
    "skillIds",
    "agentIds",
    "agentGroupIds",
    "channel",
    "alertedMcsValues",
    "chatMCS",
    "mcs",
    "hasInteractiveCoBrowse",
    "coBrowseDuration",
    "lineContentTypes",
    "predictionLabel",
];
/// The longest `duration` or `coBrowseDuration` bound, in seconds: the epoch bound's.
const MAX_SECONDS: u64 = MAX_EPOCH_MS / 1000;
/// The Meaningful Conversation Score's range (`chatMCS`).
const MAX_CHAT_MCS: u64 = 100;

/// The query string's paging and sort, kept to write the `_metadata` links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchParams {
    pub offset: u64,
    pub limit: usize,
    /// Most significant first; `start:desc` when the query names none.
    pub sort: Vec<SortKey>,
    pub source: Option<String>,
}

impl SearchParams {
    /// The query string of the same search at another offset: what the `self`, `next`,
    /// `prev` and `last` links carry, so that following one with the same body gives
    /// that page.
    pub fn query_string(&self, offset: u64) -> String {
        let mut out = format!(
            "offset={offset}&limit={}&sort={}",
            self.limit,
            sort_text(&self.sort)
        );
        if let Some(source) = &self.source {
            out.push_str("&source=");
            percent_encode_into(&mut out, source);
        }
        out
    }
}

/// A whole search: the query string's paging, sort and source, and the body's filters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistorySearchBody {
    pub params: SearchParams,
    pub filters: InteractionFilters,
}

impl HistorySearchBody {
    /// What the store is asked: these filters, in this order, this page.
    pub fn query(&self) -> InteractionQuery {
        InteractionQuery {
            filters: self.filters.clone(),
            sort: self.params.sort.clone(),
            offset: self.params.offset,
            limit: self.params.limit,
        }
    }

    /// Reads a search from its decoded query pairs and its body. Malformed JSON is its own
    /// error; everything else wrong is one `invalid_request` listing every problem.
    pub fn read(
        query_pairs: &[(String, String)],
        body: &[u8],
    ) -> Result<HistorySearchBody, ApiError> {
        let tape = Tape::parse(body).map_err(|e| ApiError::MalformedJson(e.to_string()))?;
        let mut problems = Errors::new();
        let params = parse_params(query_pairs, &mut problems);
        let filters = parse_filters(tape.root(), &mut problems);
        match (params, filters) {
            (Some(params), Some(filters)) if problems.is_empty() => {
                Ok(HistorySearchBody { params, filters })
            }
            _ => Err(ApiError::invalid_all("search", problems.into_vec())),
        }
    }
}

// ---------------------------------------------------------------- the query string

/// `offset`, `limit`, `sort` and `source`; `None` when any is wrong (reported).
pub fn parse_params(pairs: &[(String, String)], problems: &mut Errors) -> Option<SearchParams> {
    let before = problems.len();
    for (i, (name, _)) in pairs.iter().enumerate() {
        let path = format!("?{name}");
        // OAuth 1.0a's own parameters (RFC 5849 reserves the `oauth_` prefix): a signed
        // request may carry them in the query; `AuthorizedAccount` has checked them.
        if name.starts_with("oauth_") {
            continue;
        }
        if !QUERY_PARAMETERS.contains(&name.as_str()) {
            problems.at(
                &path,
                format!(
                    "unknown query parameter `{name}`, expected `offset`, `limit`, `sort` or `source`"
                ),
            );
        } else if pairs[..i].iter().any(|(n, _)| n == name) {
            problems.at(&path, format!("`{name}` is given more than once"));
        }
    }
    let value = |name: &str| pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.trim());
    let offset = match value("offset") {
        None => 0,
        Some(text) => match text.parse::<u64>() {
            // Within i64 so that the store and the links' arithmetic never overflow.
            Ok(n) if i64::try_from(n).is_ok() => n,
            _ => {
                problems.at(
                    "?offset",
                    format!("expected a whole number 0 or more, found \"{text}\""),
                );
                0
            }
        },
    };
    let limit = match value("limit") {
        None => DEFAULT_LIMIT,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                problems.at(
                    "?limit",
                    format!("expected a whole number 1-{MAX_LIMIT}, found \"{text}\""),
                );
                DEFAULT_LIMIT
            }
        },
    };
    let default_sort = || {
        vec![SortKey {
            field: SortField::Start,
            descending: true,
        }]
    };
    let sort = match value("sort") {
        None => default_sort(),
        // Only fields that order nothing (`agentId`, `skillId`): the default order.
        Some(text) => Some(parse_sort(text, problems))
            .filter(|keys| !keys.is_empty())
            .unwrap_or_else(default_sort),
    };
    let source = match value("source") {
        None | Some("") => None,
        Some(text) if text.chars().count() > MAX_SOURCE_CHARS => {
            problems.at(
                "?source",
                format!("is longer than {MAX_SOURCE_CHARS} characters"),
            );
            None
        }
        Some(text) => Some(text.to_owned()),
    };
    (problems.len() == before).then_some(SearchParams {
        offset,
        limit,
        sort,
        source,
    })
}

const SORT_FIELDS: &str =
    "`start`, `end`, `duration`, `visitor`, `engagementId`, `interactive`, `agentId` or `skillId`";
/// LivePerson's sort fields that no interaction records (see [`parse_sort`]).
const UNRECORDED_SORT_FIELDS: [&str; 2] = ["agentId", "skillId"];

/// `start:desc,duration:asc`: fields in order of significance, each ascending unless it
/// says `:desc`.
pub fn parse_sort(text: &str, problems: &mut Errors) -> Vec<SortKey> {
    let mut keys: Vec<SortKey> = Vec::new();
    let mut unrecorded_seen: Vec<&str> = Vec::new();
    if text.is_empty() {
        problems.at(
            "?sort",
            format!("is empty: name fields like `start:desc,duration:asc` ({SORT_FIELDS})"),
        );
        return keys;
    }
    for item in text.split(',') {
        let item = item.trim();
        let mut parts = item.split(':');
        let name = parts.next().unwrap_or("").trim();
        let direction = parts.next().map(str::trim);
        if parts.next().is_some() {
            problems.at(
                "?sort",
                format!("`{item}` is not `field` or `field:asc|desc`"),
            );
            continue;
        }
        let field = SortField::ALL
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(name));
        let descending = match direction {
            None => Some(false),
            Some(d) if d.eq_ignore_ascii_case("asc") => Some(false),
            // `des` is how LivePerson's own example spells it.
            Some(d) if d.eq_ignore_ascii_case("desc") || d.eq_ignore_ascii_case("des") => {
                Some(true)
            }
            Some(d) => {
                problems.at(
                    "?sort",
                    format!(
                        "unknown sort direction `{d}` in `{item}`, expected `asc`, `desc` or `des`"
                    ),
                );
                None
            }
        };
        if let Some(unrecorded) = UNRECORDED_SORT_FIELDS
            .into_iter()
            .find(|f| f.eq_ignore_ascii_case(name))
        {
            // Every interaction has the same (no) agent and skill: ordering by them
            // changes nothing, so they are accepted and leave the order to the others.
            if unrecorded_seen.contains(&unrecorded) {
                problems.at("?sort", format!("`{unrecorded}` is named more than once"));
            }
            unrecorded_seen.push(unrecorded);
            continue;
        }
        let Some(field) = field else {
            if name.is_empty() {
                problems.at("?sort", "has an empty field: separate fields with one `,`");
            } else {
                problems.at(
                    "?sort",
                    format!("unknown sort field `{name}`, expected {SORT_FIELDS}"),
                );
            }
            continue;
        };
        if keys.iter().any(|k| k.field == field) {
            problems.at(
                "?sort",
                format!("`{}` is named more than once", field.as_str()),
            );
            continue;
        }
        if let Some(descending) = descending {
            keys.push(SortKey { field, descending });
        }
    }
    keys
}

/// The canonical text of sort keys, every direction spelled out.
pub fn sort_text(keys: &[SortKey]) -> String {
    keys.iter()
        .map(|k| {
            format!(
                "{}:{}",
                k.field.as_str(),
                if k.descending { "desc" } else { "asc" }
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// RFC 3986 query encoding: unreserved characters as they are, every other byte as `%XX`.
fn percent_encode_into(out: &mut String, text: &str) {
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
}

// ---------------------------------------------------------------- the body

/// The body's filters; `None` when any is wrong (reported).
pub fn parse_filters(json: Node<'_, '_>, problems: &mut Errors) -> Option<InteractionFilters> {
    let before = problems.len();
    let members = ObjReader::strict(json, "", &BODY_MEMBERS, problems)?;
    let start = parse_start(&members, problems);
    let visitor = members.optional_string("", "visitor", MAX_ID_CHARS, problems);
    let interaction_id = members
        .get("engagementId")
        .and_then(|v| id_text(v, "/engagementId", problems));
    let campaign_ids = list(&members, "", "campaignIds", problems, |v, path, p| {
        numeric_id(v, path, "campaign", p)
    });
    let engagement_ids = list(&members, "", "engagementIds", problems, |v, path, p| {
        numeric_id(v, path, "engagement", p)
    });
    let engagement_types = list(&members, "", "engagementTypes", problems, engagement_type);
    let outcomes = list(&members, "", "outcomes", problems, outcome);
    let (keyword, keyword_finds_nothing) = parse_keyword(&members, problems);
    let sde_search = parse_sde_search(&members, problems);
    let interactive = members.optional_bool("", "interactive", problems);
    let ended = members.optional_bool("", "ended", problems);
    let include_bots = members
        .optional_bool("", "includeBots", problems)
        .unwrap_or(false);
    let duration_s = range(&members, "duration", 0..=MAX_SECONDS, true, problems);
    let unrecorded = parse_unrecorded(&members, problems);
    if let Some((from, to)) = start {
        // A visitor or one interaction narrows the search enough to allow any range.
        let narrowed = members.get("visitor").is_some() || members.get("engagementId").is_some();
        if from > to {
            problems.at("/start", format!("`from` ({from}) is after `to` ({to})"));
        } else if to - from > MAX_RANGE_MS && !narrowed {
            problems.at(
                "/start",
                format!(
                    "covers {} days; at most 31 are allowed unless `visitor` or `engagementId` is given",
                    (to - from).div_ceil(24 * 60 * 60 * 1000)
                ),
            );
        }
    }
    let (from, to) = start?;
    (problems.len() == before).then_some(InteractionFilters {
        // Both at most MAX_EPOCH_MS, well within i64.
        start_from_ms: i64::try_from(from).ok()?,
        start_to_ms: i64::try_from(to).ok()?,
        visitor,
        interaction_id,
        campaign_ids,
        engagement_ids,
        engagement_types,
        outcomes,
        // A keyword limited to areas Engage does not have can find nothing.
        matches_nothing: unrecorded || keyword_finds_nothing,
        keyword,
        sde_search,
        interactive,
        ended,
        duration_s,
        include_bots,
    })
}

/// `{from, to}` of whole numbers in `bounds` (numbers or strings of digits), `from` not
/// after `to`. With `both`, both are required (LivePerson's `duration` and
/// `coBrowseDuration`); otherwise a missing one is the bound's end (its `chatMCS`).
fn range(
    members: &ObjReader<'_, '_>,
    key: &str,
    bounds: std::ops::RangeInclusive<u64>,
    both: bool,
    problems: &mut Errors,
) -> Option<(u64, u64)> {
    let path = child("", key);
    let value = members.get(key)?;
    let range = ObjReader::strict(value, &path, &["from", "to"], problems)?;
    let bound = |name: &str, default: u64, problems: &mut Errors| match range.get(name) {
        None if both => {
            problems.at(child(&path, name), "missing: give `from` and `to`");
            None
        }
        None => Some(default),
        Some(v) => uint(v, &child(&path, name), bounds.clone(), problems),
    };
    if !both && range.get("from").is_none() && range.get("to").is_none() {
        problems.at(&path, "give `from`, `to` or both");
        return None;
    }
    let from = bound("from", *bounds.start(), problems);
    let to = bound("to", *bounds.end(), problems);
    let (from, to) = (from?, to?);
    if from > to {
        problems.at(&path, format!("`from` ({from}) is after `to` ({to})"));
        return None;
    }
    Some((from, to))
}

/// LivePerson's filters on what Engage does not record (agents, skills, scores,
/// co-browse, chat lines, predictions), each read as strictly as a filter Engage
/// applies. `true` when one of them has a value that no interaction can match: a
/// non-empty list, a range, a score, `hasInteractiveCoBrowse: true`, a channel other
/// than web (1).
fn parse_unrecorded(members: &ObjReader<'_, '_>, problems: &mut Errors) -> bool {
    let mut any = false;
    for key in ["skillIds", "agentIds", "agentGroupIds"] {
        let what = key.trim_end_matches("Ids");
        any |= !list(members, "", key, problems, |v, path, p| {
            signed_id(v, path, what, p)
        })
        .is_empty();
    }
    any |= !list(members, "", "alertedMcsValues", problems, |v, path, p| {
        small_int(v, path, &[-1, 0, 1], p)
    })
    .is_empty();
    any |= !list(members, "", "lineContentTypes", problems, |v, path, p| {
        let found = v.as_str().filter(|t| *t == "RICH_CONTENT").map(|_| ());
        if found.is_none() {
            p.at(
                path,
                format!("expected `RICH_CONTENT`, found {}", describe(v)),
            );
        }
        found
    })
    .is_empty();
    any |= !list(members, "", "predictionLabel", problems, |v, path, p| {
        string(v, path, MAX_SEARCH_CHARS, p)
    })
    .is_empty();
    any |= range(members, "chatMCS", 0..=MAX_CHAT_MCS, false, problems).is_some();
    any |= range(members, "coBrowseDuration", 0..=MAX_SECONDS, true, problems).is_some();
    any |= members
        .get("mcs")
        .and_then(|v| small_int(v, "/mcs", &[-1, 0, 1], problems))
        .is_some();
    // Every Engage interaction is a web engagement: channel 1 (WEB) is every record.
    any |= members
        .get("channel")
        .and_then(|v| small_int(v, "/channel", &[-1, 1, 2], problems))
        .is_some_and(|c| c != 1);
    any |= members
        .optional_bool("", "hasInteractiveCoBrowse", problems)
        .unwrap_or(false);
    any
}

/// A LivePerson skill, agent or agent group id: a whole number, or a string of its digits,
/// `-1` included (LivePerson's "none").
fn signed_id(json: Node<'_, '_>, path: &str, what: &str, problems: &mut Errors) -> Option<i64> {
    let id = match json.view() {
        View::Number(n) => n.to_string().parse::<i64>().ok(),
        View::String(s) if s.len() <= 20 => s.parse::<i64>().ok().filter(|_| !s.starts_with('+')),
        _ => None,
    };
    if id.is_none() {
        problems.at(
            path,
            format!(
                "expected an {what} id (a whole number), found {}",
                describe(json)
            ),
        );
    }
    id
}

/// One of a few whole numbers, given as a number or a string of its digits (LivePerson
/// writes `alertedMcsValues` as `["1"]` and `mcs` as `1`).
fn small_int(
    json: Node<'_, '_>,
    path: &str,
    allowed: &[i64],
    problems: &mut Errors,
) -> Option<i64> {
    let n = match json.view() {
        View::Number(n) => n.to_string().parse::<i64>().ok(),
        View::String(s) if s.len() <= 3 => s.parse::<i64>().ok(),
        _ => None,
    }
    .filter(|n| allowed.contains(n));
    if n.is_none() {
        problems.at(
            path,
            format!(
                "expected one of {}, found {}",
                allowed
                    .iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                describe(json)
            ),
        );
    }
    n
}

/// `start: {from, to}`, both required epoch milliseconds.
fn parse_start(members: &ObjReader<'_, '_>, problems: &mut Errors) -> Option<(u64, u64)> {
    let Some(start) = members.get("start") else {
        problems.at(
            "/start",
            "missing: give `{\"from\": <epoch ms>, \"to\": <epoch ms>}`",
        );
        return None;
    };
    let start = ObjReader::strict(start, "/start", &["from", "to"], problems)?;
    let bound = |key: &str, problems: &mut Errors| match start.get(key) {
        None => {
            problems.at(child("/start", key), "missing: give epoch milliseconds");
            None
        }
        Some(v) => uint(v, &child("/start", key), 0..=MAX_EPOCH_MS, problems),
    };
    let from = bound("from", problems);
    let to = bound("to", problems);
    Some((from?, to?))
}

/// An interaction id: a string, or a number written as its digits.
fn id_text(json: Node<'_, '_>, path: &str, problems: &mut Errors) -> Option<String> {
    match json.view() {
        View::Number(n) if n.as_u64().is_some() => Some(n.to_string()),
        View::String(_) => string(json, path, MAX_ID_CHARS, problems),
        _ => {
            problems.at(
                path,
                format!(
                    "expected an interaction id (a string), found {}",
                    describe(json)
                ),
            );
            None
        }
    }
}

/// A campaign or engagement id: a whole number, or a string of its digits
/// (docs/vocabulary.md, Events).
fn numeric_id(json: Node<'_, '_>, path: &str, what: &str, problems: &mut Errors) -> Option<u64> {
    let id = match json.view() {
        View::Number(n) => n.as_u64(),
        View::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => s.parse().ok(),
        _ => None,
    };
    if id.is_none() {
        problems.at(
            path,
            format!(
                "expected a {what} id (a whole number), found {}",
                describe(json)
            ),
        );
    }
    id
}

/// An array filter of at most [`MAX_LIST_ITEMS`] values; empty or absent means no filter.
fn list<T>(
    members: &ObjReader<'_, '_>,
    at: &str,
    key: &str,
    problems: &mut Errors,
    item: impl Fn(Node<'_, '_>, &str, &mut Errors) -> Option<T>,
) -> Vec<T> {
    let path = child(at, key);
    let Some(value) = members.get(key) else {
        return Vec::new();
    };
    let Some(values) = value.items() else {
        problems.at(&path, format!("expected an array, found {}", value.kind()));
        return Vec::new();
    };
    if values.len() > MAX_LIST_ITEMS {
        problems.at(
            &path,
            format!(
                "has {} values, at most {MAX_LIST_ITEMS} are allowed",
                values.len()
            ),
        );
        return Vec::new();
    }
    values
        .enumerate()
        .filter_map(|(i, v)| item(v, &index(&path, i), problems))
        .collect()
}

fn outcome(json: Node<'_, '_>, path: &str, problems: &mut Errors) -> Option<Outcome> {
    let found = json.as_str().and_then(Outcome::from_name);
    if found.is_none() {
        problems.at(
            path,
            format!(
                "expected an outcome: `clicked`, `declined`, `timed_out`, `removed`, `displayed` or `started`, found {}",
                describe(json)
            ),
        );
    }
    found
}

/// The areas of `keyword_search_area.types` that Engage has no text of (chat lines,
/// surveys, visitor info, scores): a keyword searched only there finds nothing.
const UNRECORDED_AREAS: [&str; 5] = [
    "chatLine",
    "surveyAnswer",
    "surveyQuestion",
    "visitorInfo",
    "mcs",
];

/// A `keyword_search_area.types` entry: an attribute type, or an area Engage lacks.
enum Area {
    Sde(SdeType),
    Unrecorded,
}

/// `keyword`, limited to the attribute types of `keyword_search_area.types` (every type
/// when it names none), and whether it matches nothing: its areas are all ones Engage
/// has no text of. An area without a keyword filters nothing.
fn parse_keyword(members: &ObjReader<'_, '_>, problems: &mut Errors) -> (Option<TextSearch>, bool) {
    let text = members.optional_string("", "keyword", MAX_SEARCH_CHARS, problems);
    let area_path = child("", "keyword_search_area");
    let areas = match members.get("keyword_search_area") {
        None => Some(Vec::new()),
        Some(area) => ObjReader::strict(area, &area_path, &["types"], problems).and_then(|area| {
            match area.get("types") {
                None => {
                    problems.at(
                        child(&area_path, "types"),
                        "missing: list areas like `ea.purchase`",
                    );
                    None
                }
                Some(_) => Some(list(&area, &area_path, "types", problems, search_area)),
            }
        }),
    };
    let (Some(text), Some(areas)) = (text, areas) else {
        return (None, false);
    };
    let types: Vec<SdeType> = areas
        .iter()
        .filter_map(|a| match a {
            Area::Sde(t) => Some(*t),
            Area::Unrecorded => None,
        })
        .collect();
    if types.is_empty() && !areas.is_empty() {
        return (None, true);
    }
    (Some(TextSearch { text, types }), false)
}

/// `ea.<history key>` (one of the ten attribute types, docs/vocabulary.md, Engagement
/// History API), or one of LivePerson's [`UNRECORDED_AREAS`].
fn search_area(json: Node<'_, '_>, path: &str, problems: &mut Errors) -> Option<Area> {
    let found = json.as_str().and_then(|name| {
        if UNRECORDED_AREAS.contains(&name) {
            return Some(Area::Unrecorded);
        }
        SdeType::ALL
            .into_iter()
            .find(|t| name.strip_prefix("ea.") == Some(t.history_key()))
            .map(Area::Sde)
    });
    if found.is_none() {
        problems.at(
            path,
            format!(
                "expected a search area {}, {}, found {}",
                SdeType::ALL
                    .iter()
                    .map(|t| format!("`ea.{}`", t.history_key()))
                    .collect::<Vec<_>>()
                    .join(", "),
                UNRECORDED_AREAS
                    .iter()
                    .map(|a| format!("`{a}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
                describe(json)
            ),
        );
    }
    found
}

/// `sdeSearch: {"customerInfo": "text", ...}`, keyed by the history shape's type names.
fn parse_sde_search(members: &ObjReader<'_, '_>, problems: &mut Errors) -> Vec<TextSearch> {
    let Some(value) = members.get("sdeSearch") else {
        return Vec::new();
    };
    let path = child("", "sdeSearch");
    let keys: Vec<&str> = SdeType::ALL.iter().map(|t| t.history_key()).collect();
    let Some(search) = ObjReader::strict(value, &path, &keys, problems) else {
        return Vec::new();
    };
    SdeType::ALL
        .into_iter()
        .filter_map(|sde_type| {
            let key = sde_type.history_key();
            let text = search.optional_string(&path, key, MAX_SEARCH_CHARS, problems)?;
            Some(TextSearch {
                text,
                types: vec![sde_type],
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use engage_model::{EngagementType, FieldError};
    use serde_json::json;

    fn pairs(query: &[(&str, &str)]) -> Vec<(String, String)> {
        query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn search(
        query: &[(&str, &str)],
        body: serde_json::Value,
    ) -> Result<HistorySearchBody, Vec<FieldError>> {
        match HistorySearchBody::read(&pairs(query), body.to_string().as_bytes()) {
            Ok(search) => Ok(search),
            Err(ApiError::Invalid { errors, .. }) => Err(errors),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }

    fn paths(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.path.as_str()).collect()
    }

    const DAY: u64 = 24 * 60 * 60 * 1000;
    const FROM: u64 = 1_795_000_000_000;

    #[test]
    fn defaults_are_offset_0_limit_50_newest_first() {
        let s = search(&[], json!({"start": {"from": FROM, "to": FROM + DAY}})).unwrap();
        assert_eq!(s.params.offset, 0);
        assert_eq!(s.params.limit, 50);
        assert_eq!(sort_text(&s.params.sort), "start:desc");
        assert_eq!(s.filters.start_from_ms, FROM as i64);
        assert_eq!(s.filters.start_to_ms, (FROM + DAY) as i64);
        assert!(s.filters.campaign_ids.is_empty() && s.filters.keyword.is_none());
        assert_eq!(
            s.params.query_string(100),
            "offset=100&limit=50&sort=start:desc"
        );
    }

    #[test]
    fn every_filter_is_read() {
        let s = search(
            &[
                ("offset", "10"),
                ("limit", "100"),
                ("sort", "duration:desc,visitor,engagementId:ASC"),
                ("source", "my app/1"),
            ],
            json!({
                "start": {"from": FROM.to_string(), "to": FROM + 40 * DAY},
                "visitor": "v-1",
                "engagementId": 42,
                "campaignIds": [1, "2"],
                "engagementIds": ["3"],
                "engagementTypes": [0, "5", 6],
                "outcomes": ["clicked", "timed_out"],
                "keyword": "DRV1534XC",
                "keyword_search_area": {"types": ["ea.purchase", "ea.cartStatus"]},
                "sdeSearch": {"customerInfo": "138766AC", "personalInfo": "john@example.com"}
            }),
        )
        .unwrap();
        let q = s.query();
        assert_eq!((q.offset, q.limit), (10, 100));
        assert_eq!(
            sort_text(&q.sort),
            "duration:desc,visitor:asc,engagementId:asc"
        );
        assert_eq!(q.filters.visitor.as_deref(), Some("v-1"));
        assert_eq!(q.filters.interaction_id.as_deref(), Some("42"));
        assert_eq!(q.filters.campaign_ids, [1, 2]);
        assert_eq!(q.filters.engagement_ids, [3]);
        assert_eq!(
            q.filters.engagement_types,
            [
                EngagementType::PeelingCorner,
                EngagementType::Embedded,
                EngagementType::Sticky
            ]
        );
        assert_eq!(q.filters.outcomes, [Outcome::Clicked, Outcome::TimedOut]);
        assert_eq!(
            q.filters.keyword,
            Some(TextSearch {
                text: "DRV1534XC".into(),
                types: vec![SdeType::Purchase, SdeType::Cart]
            })
        );
        assert_eq!(
            q.filters.sde_search,
            [
                TextSearch {
                    text: "138766AC".into(),
                    types: vec![SdeType::CustomerInfo]
                },
                TextSearch {
                    text: "john@example.com".into(),
                    types: vec![SdeType::PersonalInfo]
                },
            ]
        );
        assert_eq!(
            s.params.query_string(0),
            "offset=0&limit=100&sort=duration:desc,visitor:asc,engagementId:asc&source=my%20app%2F1"
        );
    }

    #[test]
    fn a_keyword_without_an_area_searches_every_type() {
        let s = search(
            &[],
            json!({"start": {"from": FROM, "to": FROM}, "keyword": "shoes"}),
        )
        .unwrap();
        assert_eq!(
            s.filters.keyword,
            Some(TextSearch {
                text: "shoes".into(),
                types: vec![]
            })
        );
    }

    #[test]
    fn start_is_required_with_both_bounds() {
        assert_eq!(paths(&search(&[], json!({})).unwrap_err()), ["/start"]);
        assert_eq!(
            paths(&search(&[], json!({"start": {}})).unwrap_err()),
            ["/start/from", "/start/to"]
        );
        assert_eq!(
            paths(&search(&[], json!({"start": {"from": FROM, "to": "soon"}})).unwrap_err()),
            ["/start/to"]
        );
        assert_eq!(
            paths(&search(&[], json!({"start": [FROM, FROM]})).unwrap_err()),
            ["/start"]
        );
        assert_eq!(
            paths(&search(&[], json!({"start": {"from": -1, "to": FROM}})).unwrap_err()),
            ["/start/from"]
        );
    }

    #[test]
    fn an_inverted_range_or_a_long_one_without_a_visitor_is_refused() {
        let inverted = search(&[], json!({"start": {"from": FROM + 1, "to": FROM}})).unwrap_err();
        assert_eq!(paths(&inverted), ["/start"]);
        assert!(inverted[0].message.contains("after"), "{inverted:?}");

        let exactly_31_days = json!({"start": {"from": FROM, "to": FROM + 31 * DAY}});
        assert!(search(&[], exactly_31_days).is_ok());
        let long = search(
            &[],
            json!({"start": {"from": FROM, "to": FROM + 31 * DAY + 1}}),
        )
        .unwrap_err();
        assert_eq!(paths(&long), ["/start"]);
        assert!(long[0].message.contains("32 days"), "{long:?}");
        for narrowing in [json!({"visitor": "v-1"}), json!({"engagementId": "ctx-1"})] {
            let mut body = narrowing;
            body["start"] = json!({"from": 0, "to": FROM});
            assert!(search(&[], body).is_ok());
        }
    }

    #[test]
    fn query_parameters_are_checked_at_their_names() {
        let body = json!({"start": {"from": FROM, "to": FROM}});
        for (query, path) in [
            (vec![("limit", "0")], "?limit"),
            (vec![("limit", "101")], "?limit"),
            (vec![("limit", "ten")], "?limit"),
            (vec![("offset", "-1")], "?offset"),
            (vec![("offset", "1.5")], "?offset"),
            (vec![("offset", "99999999999999999999")], "?offset"),
            (vec![("sort", "")], "?sort"),
            (vec![("sort", "price")], "?sort"),
            (vec![("sort", "start:up")], "?sort"),
            (vec![("sort", "start:desc:asc")], "?sort"),
            (vec![("sort", "start,,end")], "?sort"),
            (vec![("sort", "start,start:desc")], "?sort"),
            (vec![("limt", "10")], "?limt"),
            (vec![("limit", "10"), ("limit", "20")], "?limit"),
        ] {
            let errors = search(&query, body.clone()).unwrap_err();
            assert_eq!(paths(&errors), [path], "{query:?}: {errors:?}");
        }
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let errors = search(
            &[("limit", "500"), ("sort", "start:sideways")],
            json!({
                "start": {"from": FROM},
                "campaignIds": [1, "x", -3],
                "engagementIds": "7",
                "engagementTypes": [0, 4, "six"],
                "outcomes": ["clicked", "converted"],
                "keyword_search_area": {"types": ["ea.purchase", "purchase"]},
                "sdeSearch": {"customerInfo": "", "shoeSize": "42"},
                "visitorId": "v-1"
            }),
        )
        .unwrap_err();
        assert_eq!(
            paths(&errors),
            [
                "?limit",
                "?sort",
                "/visitorId",
                "/start/to",
                "/campaignIds/1",
                "/campaignIds/2",
                "/engagementIds",
                "/engagementTypes/1",
                "/engagementTypes/2",
                "/outcomes/1",
                "/keyword_search_area/types/1",
                "/sdeSearch/shoeSize",
                "/sdeSearch/customerInfo",
            ],
            "{errors:#?}"
        );
        assert!(errors[2].message.contains("unknown field `visitorId`"));
    }

    #[test]
    fn lists_are_bounded_and_areas_are_the_ten_ea_names() {
        let many: Vec<u64> = (0..=MAX_LIST_ITEMS as u64).collect();
        let errors = search(
            &[],
            json!({"start": {"from": FROM, "to": FROM}, "campaignIds": many}),
        )
        .unwrap_err();
        assert_eq!(paths(&errors), ["/campaignIds"]);
        for t in SdeType::ALL {
            let area = format!("ea.{}", t.history_key());
            let s = search(
                &[],
                json!({"start": {"from": FROM, "to": FROM}, "keyword": "x",
                       "keyword_search_area": {"types": [area]}}),
            )
            .unwrap();
            assert_eq!(s.filters.keyword.unwrap().types, [t]);
        }
    }

    #[test]
    fn livepersons_members_read_into_engages_filters() {
        let base = || json!({"start": {"from": FROM, "to": FROM}});
        let with = |extra: serde_json::Value| {
            let mut body = base();
            for (k, v) in extra.as_object().unwrap() {
                body[k] = v.clone();
            }
            search(&[("sort", "start:des,agentId,interactive")], body).unwrap()
        };
        let s = with(
            json!({"interactive": true, "ended": false, "duration": {"from": "0", "to": 180}}),
        );
        assert_eq!(sort_text(&s.params.sort), "start:desc,interactive:asc");
        assert_eq!(
            (s.filters.interactive, s.filters.ended, s.filters.duration_s),
            (Some(true), Some(false), Some((0, 180)))
        );
        assert!(!s.filters.matches_nothing);
        for empty in [
            json!({"skillIds": [], "agentIds": [], "agentGroupIds": [], "alertedMcsValues": []}),
            json!({"lineContentTypes": [], "predictionLabel": [], "hasInteractiveCoBrowse": false}),
            json!({"channel": 1, "keyword_search_area": {"types": ["chatLine"]}}),
        ] {
            assert!(!with(empty.clone()).filters.matches_nothing, "{empty}");
        }
        for something in [
            json!({"skillIds": ["14"]}),
            json!({"agentIds": [-1]}),
            json!({"agentGroupIds": [3]}),
            json!({"alertedMcsValues": ["1"]}),
            json!({"chatMCS": {"to": 60}}),
            json!({"mcs": 0}),
            json!({"hasInteractiveCoBrowse": true}),
            json!({"coBrowseDuration": {"from": 0, "to": 1}}),
            json!({"lineContentTypes": ["RICH_CONTENT"]}),
            json!({"predictionLabel": ["billing"]}),
            json!({"channel": "2"}),
            json!({"keyword": "ipad", "keyword_search_area": {"types": ["chatLine", "mcs"]}}),
        ] {
            assert!(
                with(something.clone()).filters.matches_nothing,
                "{something}"
            );
        }
        let mixed = with(
            json!({"keyword": "ipad", "keyword_search_area": {"types": ["chatLine", "ea.lead"]}}),
        );
        assert_eq!(
            mixed.filters.keyword,
            Some(TextSearch {
                text: "ipad".into(),
                types: vec![SdeType::Lead]
            })
        );
        assert!(!mixed.filters.matches_nothing);
    }

    #[test]
    fn malformed_json_is_its_own_error() {
        assert!(matches!(
            HistorySearchBody::read(&[], b"{\"start\":"),
            Err(ApiError::MalformedJson(_))
        ));
        assert!(matches!(
            HistorySearchBody::read(&[], b""),
            Err(ApiError::MalformedJson(_))
        ));
    }

    #[test]
    fn links_keep_the_sort_and_encode_the_source() {
        let mut problems = Errors::new();
        let params = parse_params(
            &pairs(&[("sort", " end , duration:DESC "), ("source", "a&b=c")]),
            &mut problems,
        )
        .unwrap();
        assert!(problems.is_empty());
        assert_eq!(
            params.query_string(50),
            "offset=50&limit=50&sort=end:asc,duration:desc&source=a%26b%3Dc"
        );
    }
}
