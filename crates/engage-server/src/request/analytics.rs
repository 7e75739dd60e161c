//! The results report's body (`POST .../analytics/report`, docs/api.md):
//! `{"from", "to", "timezone"?, "groupBy"?, "campaignIds"?, "engagementIds"?,
//! "includeBots"?}`. Strict: an unknown or repeated member is an error.

use engage_model::body::{child, describe, index, Errors, ObjReader};
use engage_model::{Invalid, Node, View};
use jiff::tz::TimeZone;
use jiff::Timestamp;

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
    /// Accepted; no interaction is flagged as a bot's yet, so it changes nothing
    /// (see `routes/analytics.rs`, `bot_filter`).
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
