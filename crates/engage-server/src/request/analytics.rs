//! The results routes' bodies (docs/api.md): the report (`POST .../analytics/report`,
//! `{"from", "to", "timezone"?, "groupBy"?, "campaignIds"?, "engagementIds"?,
//! "includeBots"?}`) and the funnel (`POST .../analytics/funnel`, `{"from", "to",
//! "steps", "windowSeconds"?, "campaignIds"?, "engagementIds"?, "groupBy"?,
//! "includeBots"?}`). Strict:
//! an unknown or repeated member is an error.

use engage_model::body::{child, describe, index, Errors, ObjReader};
use engage_model::{Invalid, Node, OfferEventName, SdeType, View};
use engage_store::analytics::funnel::FunnelGroup;
use engage_store::analytics::Step;
use jiff::tz::TimeZone;
use jiff::Timestamp;

/// The body as the OpenAPI description states it.
pub mod schema;

/// The longest range a report covers.
pub const MAX_RANGE_DAYS: i64 = 400;
/// At most this many ids in a filter.
const MAX_IDS: usize = 1_000;
const MAX_TIMEZONE_CHARS: usize = 64;

/// What a report's rows are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GroupBy {
    pub campaign: bool,
    pub engagement: bool,
    pub day: bool,
    pub hour: bool,
}

#[derive(Debug, Clone)]
pub struct ReportBody {
    /// Epoch ms, `from` included, `to` excluded.
    pub from_ms: i64,
    pub to_ms: i64,
    pub timezone: TimeZone,
    pub group_by: GroupBy,
    pub campaign_ids: Vec<u64>,
    pub engagement_ids: Vec<u64>,
    /// Bots' traffic counted too (docs/analytics.md, Bots); left out by default.
    pub include_bots: bool,
}

const MEMBERS: [&str; 7] = [
    "from",
    "to",
    "timezone",
    "groupBy",
    "campaignIds",
    "engagementIds",
    "includeBots",
];

impl ReportBody {
    pub fn read(json: Node<'_, '_>) -> Result<ReportBody, Invalid> {
        let mut errors = Errors::new();
        let body = read_report(json, &mut errors);
        errors.finish(body)
    }
}

fn read_report(json: Node<'_, '_>, errors: &mut Errors) -> Option<ReportBody> {
    let members = ObjReader::strict(json, "", &MEMBERS, errors)?;
    let timezone = match members.get("timezone") {
        None => Some(TimeZone::UTC),
        Some(v) => timezone(v, errors),
    };
    let tz = timezone.clone().unwrap_or(TimeZone::UTC);
    let from = instant(&members, "from", &tz, errors);
    let to = instant(&members, "to", &tz, errors);
    let group_by = group_by(&members, errors);
    let campaign_ids = ids(&members, "campaignIds", "campaign", errors);
    let engagement_ids = ids(&members, "engagementIds", "engagement", errors);
    let include_bots = members
        .optional_bool("", "includeBots", errors)
        .unwrap_or(false);
    let (from_ms, to_ms) = (from?, to?);
    if from_ms >= to_ms {
        errors.at(
            "/to",
            format!("must be after `from` ({from_ms}), found {to_ms}"),
        );
        return None;
    }
    let days = engage_store::analytics::report::days_in(from_ms, to_ms);
    if days > MAX_RANGE_DAYS {
        errors.at(
            "/to",
            format!("the range covers {days} days, at most {MAX_RANGE_DAYS} are allowed"),
        );
        return None;
    }
    Some(ReportBody {
        from_ms,
        to_ms,
        timezone: timezone?,
        group_by: group_by?,
        campaign_ids: campaign_ids?,
        engagement_ids: engagement_ids?,
        include_bots,
    })
}

/// The most steps a funnel has.
pub const MAX_STEPS: usize = 10;
/// The longest funnel window: 31 days, LivePerson's longest attribution window.
pub const MAX_WINDOW_SECONDS: u64 = 31 * 86_400;
/// A funnel without `windowSeconds` gives each visitor a day.
const DEFAULT_WINDOW_SECONDS: u64 = 86_400;

#[derive(Debug, Clone)]
pub struct FunnelBody {
    /// Epoch ms: attempts start in `[from_ms, to_ms)`.
    pub from_ms: i64,
    pub to_ms: i64,
    pub steps: Vec<Step>,
    pub window_ms: i64,
    pub campaign_ids: Vec<u64>,
    pub engagement_ids: Vec<u64>,
    pub group: FunnelGroup,
    /// Bots' steps counted too; left out by default.
    pub include_bots: bool,
}

const FUNNEL_MEMBERS: [&str; 8] = [
    "from",
    "to",
    "steps",
    "windowSeconds",
    "campaignIds",
    "engagementIds",
    "groupBy",
    "includeBots",
];

impl FunnelBody {
    pub fn read(json: Node<'_, '_>) -> Result<FunnelBody, Invalid> {
        let mut errors = Errors::new();
        let body = read_funnel(json, &mut errors);
        errors.finish(body)
    }
}

fn read_funnel(json: Node<'_, '_>, errors: &mut Errors) -> Option<FunnelBody> {
    let members = ObjReader::strict(json, "", &FUNNEL_MEMBERS, errors)?;
    let from = instant(&members, "from", &TimeZone::UTC, errors);
    let to = instant(&members, "to", &TimeZone::UTC, errors);
    let steps = steps(&members, errors);
    let window_s = members
        .optional_uint("", "windowSeconds", 1..=MAX_WINDOW_SECONDS, errors)
        .unwrap_or(DEFAULT_WINDOW_SECONDS);
    let campaign_ids = ids(&members, "campaignIds", "campaign", errors);
    let engagement_ids = ids(&members, "engagementIds", "engagement", errors);
    let group = funnel_group(&members, errors);
    let include_bots = members
        .optional_bool("", "includeBots", errors)
        .unwrap_or(false);
    let (from_ms, to_ms) = (from?, to?);
    if from_ms >= to_ms {
        errors.at(
            "/to",
            format!("must be after `from` ({from_ms}), found {to_ms}"),
        );
        return None;
    }
    let days = engage_store::analytics::report::days_in(from_ms, to_ms);
    if days > MAX_RANGE_DAYS {
        errors.at(
            "/to",
            format!("the range covers {days} days, at most {MAX_RANGE_DAYS} are allowed"),
        );
        return None;
    }
    let (steps, group) = (steps?, group?);
    if group != FunnelGroup::None && !matches!(steps.first(), Some(Step::Event(_))) {
        errors.at(
            "/groupBy",
            "grouping by campaign or engagement needs a first step that is an `event`",
        );
        return None;
    }
    Some(FunnelBody {
        from_ms,
        to_ms,
        steps,
        window_ms: i64::try_from(window_s).unwrap_or(i64::MAX / 2_000) * 1_000,
        campaign_ids: campaign_ids?,
        engagement_ids: engagement_ids?,
        group,
        include_bots,
    })
}

fn steps(members: &ObjReader<'_, '_>, errors: &mut Errors) -> Option<Vec<Step>> {
    let Some(json) = members.get("steps") else {
        errors.at("/steps", "missing");
        return None;
    };
    let Some(items) = json.items() else {
        errors.at(
            "/steps",
            format!("expected an array, found {}", json.kind()),
        );
        return None;
    };
    if items.len() == 0 || items.len() > MAX_STEPS {
        errors.at(
            "/steps",
            format!("has {} steps, 1 to {MAX_STEPS} are allowed", items.len()),
        );
        return None;
    }
    let mut out = Vec::new();
    let mut ok = true;
    for (i, item) in items.enumerate() {
        let path = index("/steps", i);
        let found = step(item, &path, errors);
        ok &= found.is_some();
        out.extend(found);
    }
    ok.then_some(out)
}

/// `{"event": "OFFER_IMPRESSION"}` or `{"sde": "cart"}` (a page type).
fn step(json: Node<'_, '_>, path: &str, errors: &mut Errors) -> Option<Step> {
    let members = ObjReader::strict(json, path, &["event", "sde"], errors)?;
    match (members.get("event"), members.get("sde")) {
        (Some(name), None) => {
            let found = name.as_str().and_then(OfferEventName::from_name);
            if found.is_none() {
                errors.at(
                    child(path, "event"),
                    format!(
                        "expected an LP_OFFERS event name (`START`, `OFFER_DISPLAY`, `OFFER_IMPRESSION`, `OFFER_CLICK`, `OFFER_DECLINED`, `OFFER_TIMEOUT`, `OFFER_REMOVE`) or an ENGAGE_ACTION one (`COUPON_REVEALED`, `COUPON_COPIED`), found {}",
                        describe(name)
                    ),
                );
            }
            found.map(Step::Event)
        }
        (None, Some(kind)) => {
            let found = kind.as_str().and_then(SdeType::from_page_type);
            if found.is_none() {
                errors.at(
                    child(path, "sde"),
                    format!(
                        "expected an SDE type (`cart`, `purchase`, `prodView`, `ctmrinfo`, `mrktInfo`, `personal`, `lead`, `service`, `error`, `searchInfo`), found {}",
                        describe(kind)
                    ),
                );
            }
            found.map(Step::Sde)
        }
        _ => {
            errors.at(path, "expected exactly one of `event` or `sde`");
            None
        }
    }
}

fn funnel_group(members: &ObjReader<'_, '_>, errors: &mut Errors) -> Option<FunnelGroup> {
    let Some(json) = members.get("groupBy") else {
        return Some(FunnelGroup::None);
    };
    let Some(items) = json.items() else {
        errors.at(
            "/groupBy",
            format!("expected an array, found {}", json.kind()),
        );
        return None;
    };
    let mut group = FunnelGroup::None;
    let mut ok = true;
    for (i, item) in items.enumerate() {
        match item.as_str() {
            Some("campaign") if group == FunnelGroup::None => group = FunnelGroup::Campaign,
            Some("engagement") if group != FunnelGroup::Engagement => {
                group = FunnelGroup::Engagement
            }
            Some("campaign") => {}
            _ => {
                errors.at(
                    index("/groupBy", i),
                    format!(
                        "expected `campaign` or `engagement`, found {}",
                        describe(item)
                    ),
                );
                ok = false;
            }
        }
    }
    ok.then_some(group)
}

fn timezone(json: Node<'_, '_>, errors: &mut Errors) -> Option<TimeZone> {
    let found = json
        .as_str()
        .filter(|s| s.len() <= MAX_TIMEZONE_CHARS)
        .and_then(|name| TimeZone::get(name).ok());
    if found.is_none() {
        errors.at(
            "/timezone",
            format!(
                "expected an IANA time zone name such as `Europe/Paris` or `UTC`, found {}",
                describe(json)
            ),
        );
    }
    found
}

/// `from` or `to`: epoch ms, an RFC 3339 time (`2026-12-01T00:00:00Z`) or a date
/// (`2026-12-01`, the start of that day in the report's time zone).
fn instant(
    members: &ObjReader<'_, '_>,
    key: &str,
    tz: &TimeZone,
    errors: &mut Errors,
) -> Option<i64> {
    let path = child("", key);
    let Some(json) = members.get(key) else {
        errors.at(&path, "missing");
        return None;
    };
    let found = match json.view() {
        View::Number(n) => n
            .as_u64()
            .and_then(|ms| i64::try_from(ms).ok())
            .filter(|ms| Timestamp::from_millisecond(*ms).is_ok()),
        View::String(s) => s
            .parse::<Timestamp>()
            .ok()
            .map(|t| t.as_millisecond())
            .or_else(|| {
                s.parse::<jiff::civil::Date>()
                    .ok()
                    .and_then(|d| d.to_zoned(tz.clone()).ok())
                    .map(|z| z.timestamp().as_millisecond())
            }),
        _ => None,
    };
    if found.is_none() {
        errors.at(
            &path,
            format!(
                "expected epoch milliseconds, an RFC 3339 time or a date (YYYY-MM-DD), found {}",
                describe(json)
            ),
        );
    }
    found
}

fn group_by(members: &ObjReader<'_, '_>, errors: &mut Errors) -> Option<GroupBy> {
    let mut out = GroupBy::default();
    let Some(json) = members.get("groupBy") else {
        return Some(out);
    };
    let Some(items) = json.items() else {
        errors.at(
            "/groupBy",
            format!("expected an array, found {}", json.kind()),
        );
        return None;
    };
    let mut ok = true;
    for (i, item) in items.enumerate() {
        let slot = match item.as_str() {
            Some("campaign") => &mut out.campaign,
            Some("engagement") => &mut out.engagement,
            Some("day") => &mut out.day,
            Some("hour") => &mut out.hour,
            _ => {
                errors.at(
                    index("/groupBy", i),
                    format!(
                        "expected `campaign`, `engagement`, `day` or `hour`, found {}",
                        describe(item)
                    ),
                );
                ok = false;
                continue;
            }
        };
        if *slot {
            errors.at(index("/groupBy", i), "named twice");
            ok = false;
        }
        *slot = true;
    }
    ok.then_some(out)
}

fn ids(
    members: &ObjReader<'_, '_>,
    key: &str,
    what: &str,
    errors: &mut Errors,
) -> Option<Vec<u64>> {
    let path = child("", key);
    let Some(json) = members.get(key) else {
        return Some(Vec::new());
    };
    let Some(items) = json.items() else {
        errors.at(&path, format!("expected an array, found {}", json.kind()));
        return None;
    };
    if items.len() > MAX_IDS {
        errors.at(
            &path,
            format!("has {} values, at most {MAX_IDS} are allowed", items.len()),
        );
        return None;
    }
    let mut out = Vec::new();
    let mut ok = true;
    for (i, item) in items.enumerate() {
        let id = match item.view() {
            View::Number(n) => n.as_u64(),
            View::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
                s.parse().ok()
            }
            _ => None,
        };
        match id {
            Some(id) => out.push(id),
            None => {
                errors.at(
                    index(&path, i),
                    format!(
                        "expected a {what} id (a whole number), found {}",
                        describe(item)
                    ),
                );
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use engage_model::Tape;

    fn read(json: &str) -> Result<ReportBody, Vec<String>> {
        let tape = Tape::parse(json.as_bytes()).unwrap();
        ReportBody::read(tape.root()).map_err(|i| i.errors.iter().map(|e| e.path.clone()).collect())
    }

    #[test]
    fn dates_are_days_of_the_time_zone_and_numbers_are_epoch_ms() {
        let b = read(r#"{"from":"2026-12-01","to":1796083200000,"timezone":"Europe/Paris","groupBy":["campaign","day"]}"#).unwrap();
        // Midnight in Paris is 23:00 UTC the day before.
        assert_eq!(
            b.from_ms,
            "2026-11-30T23:00:00Z"
                .parse::<Timestamp>()
                .unwrap()
                .as_millisecond()
        );
        assert!(b.group_by.campaign && b.group_by.day && !b.group_by.hour);
    }

    #[test]
    fn every_problem_is_reported_at_its_pointer() {
        let errors = read(r#"{"from":"x","to":-1,"timezone":"Mars/Olympus","groupBy":["week","day","day"],"campaignIds":[1,"a"],"extra":1}"#).unwrap_err();
        for path in [
            "/from",
            "/to",
            "/timezone",
            "/groupBy/0",
            "/groupBy/2",
            "/campaignIds/1",
            "/extra",
        ] {
            assert!(errors.iter().any(|p| p == path), "{path} in {errors:?}");
        }
    }

    #[test]
    fn funnel_steps_are_events_or_sde_types_and_every_problem_is_reported() {
        let tape = Tape::parse(
            br#"{"from":0,"to":86400000,"steps":[{"event":"OFFER_IMPRESSION"},{"sde":"cart"}],"windowSeconds":600,"groupBy":["engagement"]}"#,
        )
        .unwrap();
        let f = FunnelBody::read(tape.root()).unwrap();
        assert_eq!(
            f.steps,
            [
                Step::Event(OfferEventName::OfferImpression),
                Step::Sde(SdeType::Cart)
            ]
        );
        assert_eq!(f.window_ms, 600_000);
        assert_eq!(f.group, FunnelGroup::Engagement);

        let tape = Tape::parse(
            br#"{"from":0,"to":1,"steps":[{"event":"CLICKED"},{"sde":"basket"},{"event":"START","sde":"cart"}],"windowSeconds":0,"groupBy":["day"]}"#,
        )
        .unwrap();
        let paths: Vec<String> = FunnelBody::read(tape.root())
            .unwrap_err()
            .errors
            .into_iter()
            .map(|e| e.path)
            .collect();
        for path in [
            "/steps/0/event",
            "/steps/1/sde",
            "/steps/2",
            "/windowSeconds",
            "/groupBy/0",
        ] {
            assert!(paths.iter().any(|p| p == path), "{path} in {paths:?}");
        }
        let tape =
            Tape::parse(br#"{"from":0,"to":1,"steps":[{"sde":"cart"}],"groupBy":["campaign"]}"#)
                .unwrap();
        let paths: Vec<String> = FunnelBody::read(tape.root())
            .unwrap_err()
            .errors
            .into_iter()
            .map(|e| e.path)
            .collect();
        assert_eq!(paths, ["/groupBy"]);
    }

    #[test]
    fn a_range_of_more_than_400_days_is_refused() {
        let day = 86_400_000i64;
        assert!(read(&format!(r#"{{"from":0,"to":{}}}"#, 400 * day)).is_ok());
        assert_eq!(
            read(&format!(r#"{{"from":0,"to":{}}}"#, 400 * day + 1)).unwrap_err(),
            ["/to"]
        );
        assert_eq!(read(r#"{"from":5,"to":5}"#).unwrap_err(), ["/to"]);
    }
}
