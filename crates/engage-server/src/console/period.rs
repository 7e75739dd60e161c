//! The period chooser of Overview and Results: today, the last 7 or 30 days, or custom
//! dates, all days of the browser's time zone ([`super::zone`]), and the period before it
//! that figures are compared against.

use std::collections::HashMap;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan, Zoned};
use maud::{html, Markup};

const HOUR_MS: i64 = 3_600_000;

/// The periods the chooser offers.
const PERIODS: [(&str, &str); 4] = [
    ("today", "Today"),
    ("7d", "7 days"),
    ("30d", "30 days"),
    ("custom", "Custom"),
];

/// A chosen range, `[from_ms, to_ms)` from a local midnight to a local midnight, and any
/// error in the custom dates (its field's id).
pub struct Period {
    pub from_ms: i64,
    pub to_ms: i64,
    pub error: Option<(&'static str, String)>,
    /// The zone whose days these are.
    pub tz: TimeZone,
}

/// Where a chart's points fall: each bucket's start (epoch ms) and its label.
pub struct Buckets {
    /// Hours of one day rather than days.
    pub hourly: bool,
    pub starts: Vec<i64>,
    pub labels: Vec<String>,
}

fn zoned(ms: i64, tz: &TimeZone) -> Option<Zoned> {
    Timestamp::from_millisecond(ms)
        .ok()
        .map(|t| t.to_zoned(tz.clone()))
}

/// The epoch ms at which `date` begins in `tz` (its first instant, even when a change of
/// clocks skips its midnight).
fn start_of(date: Date, tz: &TimeZone) -> Option<i64> {
    date.to_zoned(tz.clone())
        .and_then(|z| z.start_of_day())
        .ok()
        .map(|z| z.timestamp().as_millisecond())
}

impl Period {
    /// The range just before, of the same length.
    pub fn previous(&self) -> Period {
        Period {
            from_ms: self.from_ms - (self.to_ms - self.from_ms),
            to_ms: self.from_ms,
            error: None,
            tz: self.tz.clone(),
        }
    }

    /// The chart's buckets: the local hours of a one-day period, else its local days
    /// (labelled `MM-DD`), as the analytics API groups them (`groupBy` `hour` or `day`
    /// with the period's `timezone`).
    pub fn buckets(&self) -> Buckets {
        let one_day = zoned(self.from_ms, &self.tz)
            .and_then(|z| z.date().tomorrow().ok())
            .and_then(|next| start_of(next, &self.tz))
            .is_some_and(|next| next >= self.to_ms);
        let mut buckets = Buckets {
            hourly: one_day,
            starts: Vec::new(),
            labels: Vec::new(),
        };
        if one_day {
            // Hour starts (a local hour is an hour of the clock, also across a change
            // of clocks): each whole-hour instant, truncated to the local hour.
            for k in 0..26 {
                let Some(z) = zoned(self.from_ms + k * HOUR_MS, &self.tz) else {
                    break;
                };
                let Ok(start) = z.round(
                    jiff::ZonedRound::new()
                        .smallest(jiff::Unit::Hour)
                        .mode(jiff::RoundMode::Trunc),
                ) else {
                    break;
                };
                let ms = start.timestamp().as_millisecond();
                if ms >= self.to_ms {
                    break;
                }
                if buckets.starts.last() != Some(&ms) {
                    buckets.starts.push(ms);
                    buckets.labels.push(format!("{:02}:00", start.hour()));
                }
            }
        } else {
            let mut date = zoned(self.from_ms, &self.tz).map(|z| z.date());
            while let Some(d) = date {
                let Some(ms) = start_of(d, &self.tz).filter(|ms| *ms < self.to_ms) else {
                    break;
                };
                if buckets.starts.len() >= 400 {
                    break;
                }
                buckets.starts.push(ms);
                buckets
                    .labels
                    .push(format!("{:02}-{:02}", d.month(), d.day()));
                date = d.tomorrow().ok();
            }
        }
        buckets
    }

    /// What the query chose, at `now_ms`, in the days of `tz`. A custom period with
    /// missing or wrong dates falls back to the last 7 days and says why beside the date.
    pub fn chosen(query: &HashMap<String, String>, now_ms: i64, tz: &TimeZone) -> Period {
        let today = zoned(now_ms, tz).map_or(Date::constant(2000, 1, 1), |z| z.date());
        let range = |first: Date, last: Date| -> Option<(i64, i64)> {
            let from = start_of(first, tz)?;
            let to = start_of(last.tomorrow().ok()?, tz)?;
            Some((from, to))
        };
        let period = |(from_ms, to_ms): (i64, i64)| Period {
            from_ms,
            to_ms,
            error: None,
            tz: tz.clone(),
        };
        let last = |days: i64| {
            let first = today.checked_sub((days - 1).days()).unwrap_or(today);
            period(range(first, today).unwrap_or((now_ms, now_ms + 1)))
        };
        match query.get("period").map_or("7d", String::as_str) {
            "today" => last(1),
            "30d" => last(30),
            "custom" => {
                let date = |name: &str| {
                    let text = query.get(name).map_or("", String::as_str);
                    text.parse::<Date>()
                        .ok()
                        .filter(|d| range(*d, *d).is_some())
                        .ok_or_else(|| format!("expected a date (2026-12-01), found `{text}`"))
                };
                match (date("from"), date("to")) {
                    (Ok(from), Ok(to))
                        if to >= from && from.until(to).is_ok_and(|s| s.get_days() < 400) =>
                    {
                        period(range(from, to).unwrap_or((now_ms, now_ms + 1)))
                    }
                    (Ok(_), Ok(_)) => Period {
                        error: Some((
                            "p-to",
                            "must be on or after From, and at most 400 days later".into(),
                        )),
                        ..last(7)
                    },
                    (Err(e), _) => Period {
                        error: Some(("p-from", e)),
                        ..last(7)
                    },
                    (_, Err(e)) => Period {
                        error: Some(("p-to", e)),
                        ..last(7)
                    },
                }
            }
            _ => last(7),
        }
    }
}

/// The chooser form; `extra` holds the screen's own fields (Results' selectors).
pub fn chooser(
    action: &str,
    query: &HashMap<String, String>,
    period: &Period,
    extra: Markup,
) -> Markup {
    let chosen = query.get("period").map_or("7d", String::as_str);
    let error_of = |id: &str| {
        period
            .error
            .as_ref()
            .filter(|(field, _)| *field == id)
            .map(|(_, message)| message.clone())
    };
    html! {
        // `data-zoned`: the page's days are the browser's (console.js reloads it once
        // when the zone cookie was missing or named another zone).
        form.card.period method="get" action=(action) aria-label="Period" data-zoned {
            (extra)
            fieldset.choices {
                legend { "Period" }
                @for (value, label) in PERIODS {
                    label.choice { input type="radio" name="period" value=(value) checked[value == chosen]; " " (label) }
                }
            }
            @for (id, name, label) in [("p-from", "from", "From"), ("p-to", "to", "To")] {
                @let error = error_of(id);
                div.field {
                    label for=(id) { (label) }
                    input id=(id) name=(name) type="date" value=[query.get(name)]
                        aria-invalid=[error.as_ref().map(|_| "true")]
                        aria-describedby=[error.as_ref().map(|_| format!("{id}-error"))];
                    @if let Some(message) = error {
                        p.field-error id=(format!("{id}-error")) { (message) }
                    }
                }
            }
            button type="submit" { "Show" }
            p.zone { "Days and hours in " span data-zone { (period.tz.iana_name().unwrap_or("UTC")) } "." }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn ms(text: &str) -> i64 {
        text.parse::<Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn today_is_the_browsers_day_not_utcs() {
        // 2026-12-07 20:00 UTC is already 12-08 in Auckland (UTC+13 in summer), still
        // 12-07 in Los Angeles (UTC-8).
        let now = ms("2026-12-07T20:00:00Z");
        let auckland = TimeZone::get("Pacific/Auckland").unwrap();
        let today = Period::chosen(&query(&[("period", "today")]), now, &auckland);
        assert_eq!(today.from_ms, ms("2026-12-07T11:00:00Z"));
        assert_eq!(today.to_ms, ms("2026-12-08T11:00:00Z"));
        let la = TimeZone::get("America/Los_Angeles").unwrap();
        let today = Period::chosen(&query(&[("period", "today")]), now, &la);
        assert_eq!(today.from_ms, ms("2026-12-07T08:00:00Z"));
        assert_eq!(today.to_ms, ms("2026-12-08T08:00:00Z"));
        // Its chart is by the local hour, from midnight.
        let buckets = today.buckets();
        assert!(buckets.hourly);
        assert_eq!(buckets.starts.len(), 24);
        assert_eq!(buckets.starts[0], today.from_ms);
        assert_eq!(buckets.labels[0], "00:00");
        assert_eq!(buckets.labels[23], "23:00");
        let utc = Period::chosen(&query(&[("period", "today")]), now, &TimeZone::UTC);
        assert_eq!(utc.from_ms, ms("2026-12-07T00:00:00Z"));
    }

    #[test]
    fn days_follow_the_zone_across_a_change_of_clocks() {
        // Berlin's clocks go back on 2026-10-25: that day has 25 hours.
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        let custom = query(&[
            ("period", "custom"),
            ("from", "2026-10-24"),
            ("to", "2026-10-26"),
        ]);
        let p = Period::chosen(&custom, ms("2026-12-07T12:00:00Z"), &berlin);
        assert!(p.error.is_none());
        assert_eq!(p.from_ms, ms("2026-10-23T22:00:00Z"));
        assert_eq!(p.to_ms, ms("2026-10-26T23:00:00Z"));
        let b = p.buckets();
        assert!(!b.hourly);
        assert_eq!(b.labels, ["10-24", "10-25", "10-26"]);
        assert_eq!(
            b.starts,
            [
                ms("2026-10-23T22:00:00Z"),
                ms("2026-10-24T22:00:00Z"),
                ms("2026-10-25T23:00:00Z")
            ]
        );
        // The 25-hour day, alone, is 25 local hours (02:00 twice).
        let one = query(&[
            ("period", "custom"),
            ("from", "2026-10-25"),
            ("to", "2026-10-25"),
        ]);
        let b = Period::chosen(&one, 0, &berlin).buckets();
        assert!(b.hourly);
        assert_eq!(b.starts.len(), 25);
        assert_eq!(b.labels.iter().filter(|l| *l == "02:00").count(), 2);
        // The previous period is as long, just before.
        let prev = p.previous();
        assert_eq!(prev.to_ms, p.from_ms);
        assert_eq!(prev.to_ms - prev.from_ms, p.to_ms - p.from_ms);
    }

    #[test]
    fn the_last_seven_days_end_with_the_local_today() {
        let tokyo = TimeZone::get("Asia/Tokyo").unwrap();
        let p = Period::chosen(&HashMap::new(), ms("2026-12-07T16:00:00Z"), &tokyo);
        // 16:00 UTC is 01:00 on 12-08 in Tokyo.
        let b = p.buckets();
        assert_eq!(b.labels.first().unwrap(), "12-02");
        assert_eq!(b.labels.last().unwrap(), "12-08");
        assert_eq!(p.to_ms, ms("2026-12-08T15:00:00Z"));
    }

    #[test]
    fn wrong_custom_dates_fall_back_and_say_why() {
        let tz = TimeZone::get("Europe/Paris").unwrap();
        let p = Period::chosen(
            &query(&[
                ("period", "custom"),
                ("from", "2026-13-01"),
                ("to", "2026-12-01"),
            ]),
            ms("2026-12-07T12:00:00Z"),
            &tz,
        );
        assert_eq!(p.error.as_ref().map(|e| e.0), Some("p-from"));
        assert_eq!(p.buckets().labels.len(), 7);
        let p = Period::chosen(
            &query(&[
                ("period", "custom"),
                ("from", "2026-12-05"),
                ("to", "2026-12-01"),
            ]),
            ms("2026-12-07T12:00:00Z"),
            &tz,
        );
        assert_eq!(p.error.as_ref().map(|e| e.0), Some("p-to"));
    }
}
