//! Results: the rollups the write path keeps for reports, and what crosses the trait to
//! read them (docs/analytics.md has every figure's definition).
//!
//! Both backends keep the same six rollups, written in the same transaction as what they
//! summarize, so a report never waits for a catch-up job and never sees a half-written
//! batch:
//!
//! - monitored visitors: one row per (visitor, UTC hour) with any accepted batch;
//! - eligibility: one row per (campaign, visitor, UTC day), written by the decision
//!   ([`EligibilityRecord`]), the first eligibility of that day with its group;
//! - cohort: one row per (campaign, visitor), the visitor's first eligibility ever (the
//!   start of its attribution window);
//! - offer counts: per (campaign, engagement, UTC hour) the `OFFER_IMPRESSION`,
//!   `OFFER_CLICK`, `OFFER_DECLINED` and `OFFER_TIMEOUT` events accepted, and the
//!   coupon action's `COUPON_REVEALED` and `COUPON_COPIED`;
//! - offer visitors: per (campaign, visitor) the first impression and the first click;
//! - purchases: each accepted `purchase` attribute's visitor, time, currency and total;
//! - funnel steps: per batch, each distinct `LP_OFFERS` event name (with its campaign and
//!   engagement) and attribute type it brought, with the visitor and the batch's time
//!   ([`Step`]), packed in one row per batch ([`packed`]); funnels read these.
//!
//! Each rollup has a twin of the same columns for bots' traffic ([`rollup_table`]): a
//! batch whose visit's `User-Agent` is an automated agent's, and a decision asked for by
//! one, are kept there, so reports leave bots out by reading people's tables only and
//! take them in (`includeBots`) by reading both, first times taken over both.
//!
//! Unique visitors are exact: each rollup keeps the visitor ids, so a report's distinct
//! counts are counts of distinct ids. [`RollupDelta`] is what one batch adds, computed the
//! same way for both backends; [`report`] turns what a report reads ([`AnalyticsFacts`])
//! into its rows.

pub mod account_facts;
pub mod funnel;
pub mod packed;
pub mod report;
pub mod rollup_memory;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use engage_model::{OfferEvent, OfferEventName, Sde, SdeType};

pub use packed::PackedSteps;

/// One hour and one day in epoch milliseconds: rollup buckets are UTC hours and days.
pub const HOUR_MS: i64 = 3_600_000;
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// The start of the UTC hour of `ms` (`i64::MIN` for the first hour of all).
pub fn hour_of(ms: i64) -> i64 {
    ms.div_euclid(HOUR_MS).saturating_mul(HOUR_MS)
}

/// The start of the UTC day of `ms` (`i64::MIN` for the first day of all).
pub fn day_of(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS).saturating_mul(DAY_MS)
}

/// A visitor found eligible for a campaign by a decision: exposed (shown the
/// engagement) or held out in the campaign's control group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EligibilityRecord {
    pub campaign_id: u64,
    /// The engagement the visitor was (or, held out, would have been) shown.
    pub engagement_id: u64,
    pub visitor_id: String,
    pub control: bool,
    /// Server time of the decision, epoch ms.
    pub at_ms: i64,
    /// The decision was asked for by an automated agent (its `User-Agent`,
    /// `engage_model::bot`): kept in the bots' rollups.
    pub bot: bool,
}

/// What a report reads: a time range and the campaigns it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalyticsScope {
    /// Epoch ms, `from_ms` included, `to_ms` excluded.
    pub from_ms: i64,
    pub to_ms: i64,
    /// Only these campaigns (all when empty).
    pub campaign_ids: Vec<u64>,
    /// Only these engagements (all when empty).
    pub engagement_ids: Vec<u64>,
    /// Purchases are read up to `to_ms` plus this: the longest attribution window of the
    /// campaigns in scope, so a visitor who became eligible just before `to_ms` has all
    /// of the purchases of their window.
    pub attribution_ms: i64,
    /// Bots' traffic too ([`RollupDelta::bot`]); people's only when `false`.
    pub include_bots: bool,
}

impl AnalyticsScope {
    pub fn covers_campaign(&self, campaign_id: u64) -> bool {
        self.campaign_ids.is_empty() || self.campaign_ids.contains(&campaign_id)
    }

    pub fn covers_engagement(&self, engagement_id: u64) -> bool {
        self.engagement_ids.is_empty() || self.engagement_ids.contains(&engagement_id)
    }

    pub fn covers_time(&self, ms: i64) -> bool {
        self.from_ms <= ms && ms < self.to_ms
    }
}

/// A visitor with at least one accepted batch in an hour.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct VisitorHour<V = String> {
    pub hour_ms: i64,
    pub visitor_id: V,
}

/// A visitor's first eligibility for a campaign on one UTC day (or, in
/// [`AnalyticsFacts::cohort`], ever).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct EligibilityFact<V = String> {
    pub campaign_id: u64,
    pub engagement_id: u64,
    pub visitor_id: V,
    pub control: bool,
    pub at_ms: i64,
}

/// The offer events of one engagement in one UTC hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct OfferCount {
    pub campaign_id: u64,
    pub engagement_id: u64,
    pub hour_ms: i64,
    pub impressions: u64,
    pub clicks: u64,
    pub declines: u64,
    pub timeouts: u64,
    pub coupon_reveals: u64,
    pub coupon_copies: u64,
}

/// When a visitor first had an impression of, and first clicked, a campaign's engagement.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct OfferVisitor<V = String> {
    pub campaign_id: u64,
    pub visitor_id: V,
    pub first_impression_ms: Option<i64>,
    pub first_click_ms: Option<i64>,
}

/// One accepted `purchase` attribute.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PurchaseFact<V = String> {
    pub visitor_id: V,
    pub at_ms: i64,
    /// The purchase's `currency`, or `NA` when it had none.
    pub currency: String,
    /// Its `total` in millionths of the currency unit (0 when absent or not a number).
    pub total_micros: i64,
}

/// Everything a report over an [`AnalyticsScope`] reads, from the rollups:
///
/// - `visitors`: monitored visitor hours in the range;
/// - `eligibility`: per-day eligibility rows whose time is in the range;
/// - `cohort`: first eligibilities in the range;
/// - `offer_counts`: hours in the range;
/// - `offer_visitors` and `purchases`: of the cohort's visitors, purchases up to
///   `to_ms + attribution_ms`.
///
/// Campaign and engagement filters are applied by the backend; the order of each list is
/// unspecified.
///
/// Visitors are their ids (`V = String`) as the store answers them, or ordinals
/// ([`Visitor`]) once interned ([`AnalyticsFacts::interned`]): a report's distinct
/// counts then hash small integers instead of strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalyticsFacts<V = String> {
    pub visitors: Vec<VisitorHour<V>>,
    pub eligibility: Vec<EligibilityFact<V>>,
    pub cohort: Vec<EligibilityFact<V>>,
    pub offer_counts: Vec<OfferCount>,
    pub offer_visitors: Vec<OfferVisitor<V>>,
    pub purchases: Vec<PurchaseFact<V>>,
}

impl<V> Default for AnalyticsFacts<V> {
    fn default() -> Self {
        AnalyticsFacts {
            visitors: Vec::new(),
            eligibility: Vec::new(),
            cohort: Vec::new(),
            offer_counts: Vec::new(),
            offer_visitors: Vec::new(),
            purchases: Vec::new(),
        }
    }
}

/// A visitor's ordinal among the visitors of one interning ([`Interner`]).
pub type Visitor = u32;

/// Visitor ids to dense ordinals, first seen first.
#[derive(Debug, Clone, Default)]
pub struct Interner {
    ordinals: HashMap<String, Visitor>,
    ids: Vec<String>,
}

impl Interner {
    /// The ordinal of `id`, given a new one when it was not seen yet.
    pub fn intern(&mut self, id: &str) -> Visitor {
        if let Some(&v) = self.ordinals.get(id) {
            return v;
        }
        let v = Visitor::try_from(self.ids.len()).unwrap_or(Visitor::MAX);
        self.ordinals.insert(id.to_owned(), v);
        self.ids.push(id.to_owned());
        v
    }

    /// The ordinal of `id`, if it was seen.
    pub fn get(&self, id: &str) -> Option<Visitor> {
        self.ordinals.get(id).copied()
    }

    /// The id of ordinal `v`.
    pub fn id(&self, v: Visitor) -> Option<&str> {
        self.ids.get(v as usize).map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The heap bytes the interner holds, roughly (ids twice, the map's slots).
    pub fn heap_bytes(&self) -> usize {
        let text: usize = self.ids.iter().map(|id| id.len()).sum();
        2 * text
            + self.ids.capacity() * std::mem::size_of::<String>()
            + self.ordinals.capacity() * (std::mem::size_of::<(String, Visitor)>() + 8)
    }
}

impl AnalyticsFacts {
    /// The same facts with each visitor id replaced by its ordinal, numbered here: what
    /// [`report::report`] counts.
    pub fn interned(self) -> AnalyticsFacts<Visitor> {
        let mut ordinals: HashMap<String, Visitor> = HashMap::new();
        let mut intern = |id: String| -> Visitor {
            let next = Visitor::try_from(ordinals.len()).unwrap_or(Visitor::MAX);
            *ordinals.entry(id).or_insert(next)
        };
        AnalyticsFacts {
            visitors: self
                .visitors
                .into_iter()
                .map(|v| VisitorHour {
                    hour_ms: v.hour_ms,
                    visitor_id: intern(v.visitor_id),
                })
                .collect(),
            eligibility: self
                .eligibility
                .into_iter()
                .map(|e| e.map_visitor(&mut intern))
                .collect(),
            cohort: self
                .cohort
                .into_iter()
                .map(|e| e.map_visitor(&mut intern))
                .collect(),
            offer_counts: self.offer_counts,
            offer_visitors: self
                .offer_visitors
                .into_iter()
                .map(|o| OfferVisitor {
                    campaign_id: o.campaign_id,
                    visitor_id: intern(o.visitor_id),
                    first_impression_ms: o.first_impression_ms,
                    first_click_ms: o.first_click_ms,
                })
                .collect(),
            purchases: self
                .purchases
                .into_iter()
                .map(|p| PurchaseFact {
                    visitor_id: intern(p.visitor_id),
                    at_ms: p.at_ms,
                    currency: p.currency,
                    total_micros: p.total_micros,
                })
                .collect(),
        }
    }
}

impl<V> EligibilityFact<V> {
    /// The same fact of another visitor key.
    pub fn map_visitor<W>(self, f: impl FnOnce(V) -> W) -> EligibilityFact<W> {
        EligibilityFact {
            campaign_id: self.campaign_id,
            engagement_id: self.engagement_id,
            visitor_id: f(self.visitor_id),
            control: self.control,
            at_ms: self.at_ms,
        }
    }
}

impl<V: Ord> AnalyticsFacts<V> {
    /// Sorts every list, so two backends' answers compare equal.
    pub fn sorted(mut self) -> AnalyticsFacts<V> {
        self.visitors.sort();
        self.eligibility.sort();
        self.cohort.sort();
        self.offer_counts.sort();
        self.offer_visitors.sort();
        self.purchases.sort();
        self
    }
}

/// What a funnel step names: an `LP_OFFERS` event or an attribute type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    Event(OfferEventName),
    Sde(SdeType),
}

impl Step {
    /// The stored code: 1–9 an event name (`OfferEventName::ALL` order, plus one), 16–25
    /// an attribute type (`SdeType::ALL` order, plus 16). Frozen: a stored code keeps its
    /// meaning.
    pub fn code(self) -> i16 {
        match self {
            Step::Event(name) => OfferEventName::ALL
                .iter()
                .position(|n| *n == name)
                .map_or(0, |i| i as i16 + 1),
            Step::Sde(t) => SdeType::ALL
                .iter()
                .position(|x| *x == t)
                .map_or(0, |i| i as i16 + 16),
        }
    }

    pub fn from_code(code: i16) -> Option<Step> {
        match code {
            1..=9 => OfferEventName::ALL
                .get(usize::try_from(code - 1).ok()?)
                .map(|n| Step::Event(*n)),
            16..=25 => SdeType::ALL
                .get(usize::try_from(code - 16).ok()?)
                .map(|t| Step::Sde(*t)),
            _ => None,
        }
    }
}

/// One occurrence of a step: a batch of `visitor_id` received at `at_ms` brought it.
/// Attribute steps have no campaign or engagement (0).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct StepOccurrence {
    pub at_ms: i64,
    pub visitor_id: String,
    pub step: Step,
    pub campaign_id: u64,
    pub engagement_id: u64,
}

/// What a funnel reads: step occurrences of these kinds in `[from_ms, to_ms)`, event
/// steps only of the campaigns and engagements named (all when empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepScope {
    pub from_ms: i64,
    pub to_ms: i64,
    pub steps: Vec<Step>,
    pub campaign_ids: Vec<u64>,
    pub engagement_ids: Vec<u64>,
    /// Bots' steps too; people's only when `false`.
    pub include_bots: bool,
}

impl StepScope {
    /// Whether an occurrence of `step` (of `campaign_id` and `engagement_id`) is one
    /// this scope reads: one of its steps and, for an event step, of its campaigns and
    /// engagements (attribute steps belong to no campaign: the filters leave them).
    pub fn admits(&self, step: Step, campaign_id: u64, engagement_id: u64) -> bool {
        self.steps.contains(&step)
            && (matches!(step, Step::Sde(_))
                || ((self.campaign_ids.is_empty() || self.campaign_ids.contains(&campaign_id))
                    && (self.engagement_ids.is_empty()
                        || self.engagement_ids.contains(&engagement_id))))
    }
}

/// The rollup table `table` (`analytics_...`) of people's traffic, or its twin of the
/// same columns that keeps bots' (`analytics_bot_...`).
pub fn rollup_table(table: &str, bot: bool) -> String {
    if bot {
        table.replacen("analytics_", "analytics_bot_", 1)
    } else {
        table.to_owned()
    }
}

/// How the retention sweep finds each rollup's expired rows: the table (people's; bots'
/// twin the same, [`rollup_table`]), its key columns after `account` (SQLite deletes by
/// them), and the condition of a row whose times are all before the horizon (`HORIZON`
/// stands for it). An hour's row expires once the whole hour is before the horizon.
pub const ROLLUP_EXPIRY: [(&str, &str, &str); 7] = [
    (
        "analytics_visitors",
        "hour_ms, visitor_id",
        "hour_ms <= HORIZON - 3600000",
    ),
    (
        "analytics_eligibility",
        "campaign_id, day_ms, visitor_id",
        "first_ms < HORIZON",
    ),
    (
        "analytics_cohort",
        "campaign_id, visitor_id",
        "first_ms < HORIZON",
    ),
    (
        "analytics_offer_counts",
        "campaign_id, engagement_id, hour_ms",
        "hour_ms <= HORIZON - 3600000",
    ),
    (
        "analytics_offer_visitors",
        "campaign_id, visitor_id",
        "coalesce(first_impression_ms, first_click_ms) < HORIZON
         AND coalesce(first_click_ms, first_impression_ms) < HORIZON",
    ),
    ("analytics_purchases", "rowid", "at_ms < HORIZON"),
    ("analytics_steps", "at_ms, visitor_id", "at_ms < HORIZON"),
];

/// Offer visitors read from people's and bots' tables: one per campaign and visitor, with
/// the earlier of each first time.
pub fn merge_offer_visitors(rows: Vec<OfferVisitor>) -> Vec<OfferVisitor> {
    let mut merged: BTreeMap<(u64, String), (Option<i64>, Option<i64>)> = BTreeMap::new();
    let earlier = |a: Option<i64>, b: Option<i64>| match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    for o in rows {
        let slot = merged.entry((o.campaign_id, o.visitor_id)).or_default();
        *slot = (
            earlier(slot.0, o.first_impression_ms),
            earlier(slot.1, o.first_click_ms),
        );
    }
    merged
        .into_iter()
        .map(
            |((campaign_id, visitor_id), (first_impression_ms, first_click_ms))| OfferVisitor {
                campaign_id,
                visitor_id,
                first_impression_ms,
                first_click_ms,
            },
        )
        .collect()
}

/// Facts read from both sides: offer visitors merged ([`merge_offer_visitors`]), and
/// offer visitors and purchases kept to the cohort's visitors (what one table of both
/// would have answered).
pub fn keep_to_cohort(facts: &mut AnalyticsFacts) {
    let keys: BTreeSet<(u64, &str)> = facts
        .cohort
        .iter()
        .map(|e| (e.campaign_id, e.visitor_id.as_str()))
        .collect();
    let visitors: BTreeSet<&str> = keys.iter().map(|(_, v)| *v).collect();
    let mut offer_visitors = merge_offer_visitors(std::mem::take(&mut facts.offer_visitors));
    offer_visitors.retain(|o| keys.contains(&(o.campaign_id, o.visitor_id.as_str())));
    facts
        .purchases
        .retain(|p| visitors.contains(p.visitor_id.as_str()));
    facts.offer_visitors = offer_visitors;
}

/// What one batch adds to the rollups: built from the accepted (not duplicate) events
/// and attributes only, so a retried batch adds nothing twice.
#[derive(Debug, Default)]
pub struct RollupDelta {
    /// The batch came from an automated agent (its visit's `User-Agent`,
    /// `engage_model::bot::classify_user_agent`): it goes to the bots' tables
    /// ([`rollup_table`]), which reports read only with `includeBots`.
    pub bot: bool,
    pub visitor_hours: BTreeSet<(i64, String)>,
    /// `(campaign, engagement, hour)` → impressions, clicks, declines, timeouts,
    /// coupon reveals, coupon copies.
    pub offer_counts: BTreeMap<(u64, u64, i64), [i64; 6]>,
    /// `(campaign, visitor)` → first impression, first click.
    pub offer_visitors: BTreeMap<(u64, String), (Option<i64>, Option<i64>)>,
    pub purchases: Vec<PurchaseFact>,
    /// Distinct step occurrences, packed per batch: (server time, visitor) → its steps
    /// with their campaign and engagement (one row of the step rollup each).
    pub steps: BTreeMap<(i64, String), PackedSteps>,
}

impl RollupDelta {
    pub fn is_empty(&self) -> bool {
        self.visitor_hours.is_empty()
            && self.offer_counts.is_empty()
            && self.offer_visitors.is_empty()
            && self.purchases.is_empty()
            && self.steps.is_empty()
    }

    /// A batch of `visitor_id` received at `received_ms` was accepted (with or without new
    /// items: a visitor who sent anything was monitored).
    pub fn visit(&mut self, visitor_id: &str, received_ms: i64) {
        self.visitor_hours
            .insert((hour_of(received_ms), visitor_id.to_owned()));
    }

    fn step(&mut self, visitor_id: &str, received_ms: i64) -> &mut PackedSteps {
        self.steps
            .entry((received_ms, visitor_id.to_owned()))
            .or_default()
    }

    /// An accepted event; only the six counted ones change the counts.
    pub fn event(&mut self, visitor_id: &str, received_ms: i64, event: &OfferEvent) {
        self.step(visitor_id, received_ms).add(
            Step::Event(event.name),
            event.data.conf_key.campaign_id,
            event.data.conf_key.engagement_id,
        );
        let slot = match event.name {
            OfferEventName::OfferImpression => 0,
            OfferEventName::OfferClick => 1,
            OfferEventName::OfferDeclined => 2,
            OfferEventName::OfferTimeout => 3,
            OfferEventName::CouponRevealed => 4,
            OfferEventName::CouponCopied => 5,
            OfferEventName::Start | OfferEventName::OfferDisplay | OfferEventName::OfferRemove => {
                return
            }
        };
        let key = &event.data.conf_key;
        let counts = self
            .offer_counts
            .entry((key.campaign_id, key.engagement_id, hour_of(received_ms)))
            .or_default();
        counts[slot] += 1;
        if slot <= 1 {
            let firsts = self
                .offer_visitors
                .entry((key.campaign_id, visitor_id.to_owned()))
                .or_default();
            let first = if slot == 0 {
                &mut firsts.0
            } else {
                &mut firsts.1
            };
            *first = Some(first.map_or(received_ms, |t| t.min(received_ms)));
        }
    }

    /// An accepted attribute; only a `purchase` changes anything.
    pub fn sde(&mut self, visitor_id: &str, received_ms: i64, sde: &Sde) {
        self.step(visitor_id, received_ms)
            .add(Step::Sde(sde.sde_type()), 0, 0);
        if let Sde::Purchase(p) = sde {
            self.purchases.push(PurchaseFact {
                visitor_id: visitor_id.to_owned(),
                at_ms: received_ms,
                currency: p
                    .currency
                    .text_value()
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .unwrap_or("NA")
                    .to_owned(),
                total_micros: p.total.text_value().and_then(parse_micros).unwrap_or(0),
            });
        }
    }
}

/// A decimal amount (`"12.5"`, `"-3"`, `"0.000001"`) in millionths, exactly; digits
/// past the sixth decimal are dropped. `None` for anything else, or too large for i64.
pub fn parse_micros(text: &str) -> Option<i64> {
    let text = text.trim();
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    if !whole.bytes().all(|b| b.is_ascii_digit()) || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut value: i64 = 0;
    for b in whole.bytes() {
        value = value.checked_mul(10)?.checked_add(i64::from(b - b'0'))?;
    }
    let mut micros: i64 = 0;
    for i in 0..6 {
        let digit = fraction
            .as_bytes()
            .get(i)
            .map_or(0, |b| i64::from(b - b'0'));
        micros = micros * 10 + digit;
    }
    let value = value.checked_mul(1_000_000)?.checked_add(micros)?;
    Some(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_read_exactly_in_millionths() {
        assert_eq!(parse_micros("12.5"), Some(12_500_000));
        assert_eq!(parse_micros("-3"), Some(-3_000_000));
        assert_eq!(parse_micros("0.000001"), Some(1));
        assert_eq!(parse_micros("0.0000019"), Some(1));
        assert_eq!(parse_micros(".5"), Some(500_000));
        assert_eq!(parse_micros("7."), Some(7_000_000));
        assert_eq!(parse_micros(" 10 "), Some(10_000_000));
        for bad in [
            "",
            ".",
            "abc",
            "1e3",
            "1.2.3",
            "--1",
            "99999999999999999999",
        ] {
            assert_eq!(parse_micros(bad), None, "{bad}");
        }
    }

    #[test]
    fn step_codes_read_back() {
        for name in OfferEventName::ALL {
            assert_eq!(
                Step::from_code(Step::Event(name).code()),
                Some(Step::Event(name))
            );
        }
        for t in SdeType::ALL {
            assert_eq!(Step::from_code(Step::Sde(t).code()), Some(Step::Sde(t)));
        }
        assert_eq!(Step::from_code(0), None);
        assert_eq!(Step::from_code(10), None);
    }

    #[test]
    fn buckets_are_utc_hours_and_days() {
        assert_eq!(hour_of(3_600_000 + 5), 3_600_000);
        assert_eq!(hour_of(-1), -3_600_000);
        assert_eq!(day_of(DAY_MS * 3 + 7), DAY_MS * 3);
    }
}
