//! The period chooser of Overview and Results: today, the last 7 or 30 days, or custom
//! dates (UTC), and the period before it that figures are compared against.

use std::collections::HashMap;

use engage_store::analytics::DAY_MS;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use maud::{html, Markup};

/// The periods the chooser offers.
const PERIODS: [(&str, &str); 4] = [
    ("today", "Today"),
    ("7d", "7 days"),
    ("30d", "30 days"),
    ("custom", "Custom"),
];

/// A chosen range, `[from_ms, to_ms)`, and any error in the custom dates (its field's id).
pub struct Period {
    pub from_ms: i64,
    pub to_ms: i64,
    pub error: Option<(&'static str, String)>,
}

impl Period {
    /// The range just before, of the same length.
    pub fn previous(&self) -> (i64, i64) {
        (self.from_ms - (self.to_ms - self.from_ms), self.from_ms)
    }

    /// The UTC days the period covers, as epoch ms of their starts.
    pub fn days(&self) -> Vec<i64> {
        let first = self.from_ms.div_euclid(DAY_MS) * DAY_MS;
        (0..)
            .map(|k| first + k * DAY_MS)
            .take_while(|d| *d < self.to_ms)
            .take(400)
            .collect()
    }

    /// What the query chose, at `now_ms`. A custom period with missing or wrong dates
    /// falls back to the last 7 days and says why beside the date.
    pub fn chosen(query: &HashMap<String, String>, now_ms: i64) -> Period {
        let today = now_ms.div_euclid(DAY_MS) * DAY_MS;
        let last = |days: i64| Period {
            from_ms: today - (days - 1) * DAY_MS,
            to_ms: today + DAY_MS,
            error: None,
        };
        match query.get("period").map_or("7d", String::as_str) {
            "today" => last(1),
            "30d" => last(30),
            "custom" => {
                let date = |name: &str| {
                    let text = query.get(name).map_or("", String::as_str);
                    text.parse::<Date>()
                        .ok()
                        .and_then(|d| d.to_zoned(TimeZone::UTC).ok())
                        .map(|z| z.timestamp().as_millisecond())
                        .ok_or_else(|| format!("expected a date (2026-12-01), found `{text}`"))
                };
                match (date("from"), date("to")) {
                    (Ok(from), Ok(to)) if to >= from && to - from < 400 * DAY_MS => Period {
                        from_ms: from,
                        to_ms: to + DAY_MS,
                        error: None,
                    },
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
        form.card.period method="get" action=(action) aria-label="Period" {
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
        }
    }
}
