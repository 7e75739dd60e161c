//! A report's rows from the rollups it read: pure, shared by both backends and the
//! server. Every count is defined in docs/analytics.md; the derived figures (rates,
//! lift, significance) are methods of [`ReportRow`], functions of its counts only.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use rustc_hash::{FxHashMap, FxHashSet};

use super::{AnalyticsFacts, EligibilityFact, Visitor, VisitorHour, DAY_MS};

/// How a report's rows are grouped. Grouping by engagement groups by its campaign too
/// (an engagement belongs to one campaign).
#[derive(Clone, Copy)]
pub struct Grouping<'a> {
    pub campaign: bool,
    pub engagement: bool,
    /// The start of the time bucket (a local day or hour) of an instant, when grouping by
    /// time. Non-decreasing in the instant (a later instant is never in an earlier
    /// bucket): [`report`] asks once per UTC hour when the hour lies in one bucket.
    pub time: Option<&'a (dyn Fn(i64) -> i64 + Sync)>,
}

/// Row keys with the time buckets of whole UTC hours remembered: an hour whose first and
/// last millisecond share a bucket has every instant in it (buckets are non-decreasing),
/// and otherwise (a zone whose days start within an hour) each instant is asked.
/// The last hour asked is remembered too: facts come sorted by time, so most questions
/// repeat the one before.
struct Keys<'a> {
    grouping: Grouping<'a>,
    hours: FxHashMap<i64, Option<i64>>,
    last: Option<(i64, Option<i64>)>,
}

impl<'a> Keys<'a> {
    fn new(grouping: Grouping<'a>) -> Self {
        Keys {
            grouping,
            hours: FxHashMap::default(),
            last: None,
        }
    }

    fn time_key(&mut self, at_ms: i64) -> Option<i64> {
        let bucket = self.grouping.time?;
        let whole = match self.last {
            // An instant of the hour asked last: no division (`hour_of` divides).
            Some((last, whole))
                if at_ms
                    .checked_sub(last)
                    .is_some_and(|d| (0..super::HOUR_MS).contains(&d)) =>
            {
                whole
            }
            _ => {
                let hour = super::hour_of(at_ms);
                let whole = *self.hours.entry(hour).or_insert_with(|| {
                    let first = bucket(hour);
                    (first == bucket(hour.saturating_add(super::HOUR_MS - 1))).then_some(first)
                });
                self.last = Some((hour, whole));
                whole
            }
        };
        Some(whole.unwrap_or_else(|| bucket(at_ms)))
    }

    fn key(&mut self, campaign_id: u64, engagement_id: u64, at_ms: i64) -> RowKey {
        let g = self.grouping;
        RowKey {
            campaign_id: (g.campaign || g.engagement).then_some(campaign_id),
            engagement_id: g.engagement.then_some(engagement_id),
            time_ms: self.time_key(at_ms),
        }
    }
}

impl Grouping<'_> {
    fn by_offer(&self) -> bool {
        self.campaign || self.engagement
    }
}

/// A row's group: each member is set when the report groups by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct RowKey {
    pub campaign_id: Option<u64>,
    pub engagement_id: Option<u64>,
    /// The start of the row's local day or hour, epoch ms.
    pub time_ms: Option<i64>,
}

/// A visitor's first impression and first click of a campaign.
type FirstTimes = (Option<i64>, Option<i64>);
/// Exposed visitors, conversions, and how many engagements had exposed visitors.
type CampaignTotals = (u64, u64, usize);

/// Revenue per currency, in millionths.
pub type Revenue = BTreeMap<String, i64>;

/// One row's counts (docs/analytics.md, The report).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReportRow {
    pub key: RowKey,
    pub visitors: u64,
    pub eligible: u64,
    pub control_visitors: u64,
    pub exposed_visitors: u64,
    pub impressions: u64,
    pub clicks: u64,
    pub declines: u64,
    pub timeouts: u64,
    pub coupon_reveals: u64,
    pub coupon_copies: u64,
    pub conversions: u64,
    pub conversions_after_impression: u64,
    pub conversions_after_click: u64,
    pub revenue: Revenue,
    pub control_conversions: u64,
    pub control_revenue: Revenue,
    /// For an engagement's row when its campaign has other engagements with exposed
    /// visitors in the same time bucket: the exposed visitors and conversions of those
    /// others, which the row's A/B comparison is made against.
    pub rest_of_campaign: Option<(u64, u64)>,
}

/// Why a report was not made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportError {
    /// The grouping would give more rows than allowed.
    TooManyRows { rows: usize, max: usize },
}

/// The attribution window of each campaign, and the one for campaigns it does not name.
pub struct Windows<'a> {
    pub by_campaign: &'a HashMap<u64, i64>,
    pub default_ms: i64,
}

impl Windows<'_> {
    fn of(&self, campaign_id: u64) -> i64 {
        self.by_campaign
            .get(&campaign_id)
            .copied()
            .unwrap_or(self.default_ms)
    }
}

/// Distinct visitors: a bitmap over the ordinals when the report can afford one per row
/// (few rows, or few visitors), a hash set of the ordinals (hashed as the integers they
/// are: they are numbered by the server, not chosen by visitors) otherwise.
enum Distinct {
    Hash(FxHashSet<Visitor>),
    Bits { words: Vec<u64>, count: u64 },
}

impl Distinct {
    /// A bitmap of `Some(words)`, a hash set for `None`.
    fn new(words: Option<usize>) -> Distinct {
        match words {
            Some(words) => Distinct::Bits {
                words: vec![0; words],
                count: 0,
            },
            None => Distinct::Hash(FxHashSet::default()),
        }
    }

    fn insert(&mut self, v: Visitor) {
        match self {
            Distinct::Hash(set) => {
                set.insert(v);
            }
            Distinct::Bits { words, count } => {
                let (word, bit) = (v as usize / 64, 1u64 << (v % 64));
                if word >= words.len() {
                    words.resize(word + 1, 0);
                }
                if let Some(w) = words.get_mut(word) {
                    if *w & bit == 0 {
                        *w |= bit;
                        *count += 1;
                    }
                }
            }
        }
    }

    fn len(&self) -> u64 {
        match self {
            Distinct::Hash(set) => set.len() as u64,
            Distinct::Bits { count, .. } => *count,
        }
    }
}

/// The most bytes of bitmaps a report allocates (three per row, one per time bucket):
/// past it, its distinct counts use hash sets.
const BITMAP_BYTES: usize = 64 << 20;

/// One row's distinct visitors and counts: the three large sets (eligible, control and
/// exposed visitors) as [`Distinct`], the smaller ones (buyers) as hash sets.
struct Accumulator {
    eligible: Distinct,
    control: Distinct,
    exposed: Distinct,
    counts: [u64; 6],
    converted: FxHashSet<Visitor>,
    after_impression: FxHashSet<Visitor>,
    after_click: FxHashSet<Visitor>,
    revenue: FxHashSet<usize>,
    control_converted: FxHashSet<Visitor>,
    control_revenue: FxHashSet<usize>,
}

/// A report's rows in key order, found by key through a hash map (a report looks a row
/// up for every fact it counts).
struct Rows {
    at: FxHashMap<RowKey, usize>,
    rows: Vec<(RowKey, Accumulator)>,
}

impl FromIterator<(RowKey, Accumulator)> for Rows {
    /// From rows in key order.
    fn from_iter<I: IntoIterator<Item = (RowKey, Accumulator)>>(iter: I) -> Self {
        let rows: Vec<(RowKey, Accumulator)> = iter.into_iter().collect();
        let at = rows.iter().enumerate().map(|(i, (k, _))| (*k, i)).collect();
        Rows { at, rows }
    }
}

impl Rows {
    fn get_mut(&mut self, key: &RowKey) -> Option<&mut Accumulator> {
        let i = *self.at.get(key)?;
        self.rows.get_mut(i).map(|(_, a)| a)
    }

    fn keys(&self) -> impl Iterator<Item = &RowKey> {
        self.rows.iter().map(|(k, _)| k)
    }
}

/// The report's rows, by group key; a row exists for each group with at least one
/// eligibility, first eligibility or offer event (or, when not grouped by campaign or
/// engagement, a monitored visitor). `Err` when there would be more than `max_rows`.
///
/// The facts' visitors are ordinals ([`AnalyticsFacts::interned`] numbers what a store
/// read answers; the server's fact cache keeps them numbered).
pub fn report(
    facts: &AnalyticsFacts<Visitor>,
    grouping: Grouping<'_>,
    windows: &Windows<'_>,
    max_rows: usize,
) -> Result<Vec<ReportRow>, ReportError> {
    report_with(facts, grouping, windows, max_rows, BITMAP_BYTES)
}

/// [`report`] with bitmaps of at most `bitmap_bytes` in all.
fn report_with(
    facts: &AnalyticsFacts<Visitor>,
    grouping: Grouping<'_>,
    windows: &Windows<'_>,
    max_rows: usize,
    bitmap_bytes: usize,
) -> Result<Vec<ReportRow>, ReportError> {
    let mut keys = Keys::new(grouping);
    // Runs of visitor hours need them in hour order: both sides read from a store come
    // one after the other.
    let visitors: Cow<'_, [VisitorHour<Visitor>]> =
        if facts.visitors.is_sorted_by_key(|v| v.hour_ms) {
            Cow::Borrowed(&facts.visitors)
        } else {
            let mut sorted = facts.visitors.clone();
            sorted.sort_by_key(|v| v.hour_ms);
            Cow::Owned(sorted)
        };
    // The groups, found by hash (a fact's key is mostly one seen before), then put in
    // key order.
    let mut groups: FxHashSet<RowKey> = FxHashSet::default();
    for e in &facts.eligibility {
        groups.insert(keys.key(e.campaign_id, e.engagement_id, e.at_ms));
    }
    for e in &facts.cohort {
        groups.insert(keys.key(e.campaign_id, e.engagement_id, e.at_ms));
    }
    for c in &facts.offer_counts {
        groups.insert(keys.key(c.campaign_id, c.engagement_id, c.hour_ms));
    }
    if !grouping.by_offer() {
        for run in runs(&visitors, &mut keys) {
            groups.insert(run.0);
        }
    }
    if groups.len() > max_rows {
        return Err(ReportError::TooManyRows {
            rows: groups.len(),
            max: max_rows,
        });
    }
    let mut groups: Vec<RowKey> = groups.into_iter().collect();
    groups.sort_unstable();

    // Bitmaps when rows times visitors is small enough: ordinals are dense from 0.
    let ordinals = visitors
        .iter()
        .map(|v| v.visitor_id)
        .chain(facts.eligibility.iter().map(|e| e.visitor_id))
        .chain(facts.cohort.iter().map(|e| e.visitor_id))
        .max()
        .map_or(0, |v| v as usize + 1);
    let words = ordinals.div_ceil(64);
    let bitmaps = (groups.len() * 4).saturating_mul(words * 8) <= bitmap_bytes;
    let words = bitmaps.then_some(words);
    let mut rows: Rows = groups
        .into_iter()
        .map(|key| {
            (
                key,
                Accumulator {
                    eligible: Distinct::new(words),
                    control: Distinct::new(words),
                    exposed: Distinct::new(words),
                    counts: [0; 6],
                    converted: FxHashSet::default(),
                    after_impression: FxHashSet::default(),
                    after_click: FxHashSet::default(),
                    revenue: FxHashSet::default(),
                    control_converted: FxHashSet::default(),
                    control_revenue: FxHashSet::default(),
                },
            )
        })
        .collect();

    // Monitored visitors belong to a time bucket, not to a campaign: every row of the
    // bucket shows them (a bucket without rows shows nobody).
    let mut visitors_by_time: FxHashMap<Option<i64>, Distinct> = rows
        .keys()
        .map(|k| (k.time_ms, Distinct::new(words)))
        .collect();
    for (key, run) in runs(&visitors, &mut keys) {
        if let Some(set) = visitors_by_time.get_mut(&key.time_ms) {
            for v in run {
                set.insert(v.visitor_id);
            }
        }
    }
    for e in &facts.eligibility {
        if let Some(row) = rows.get_mut(&keys.key(e.campaign_id, e.engagement_id, e.at_ms)) {
            row.eligible.insert(e.visitor_id);
        }
    }
    for c in &facts.offer_counts {
        if let Some(row) = rows.get_mut(&keys.key(c.campaign_id, c.engagement_id, c.hour_ms)) {
            for (total, n) in row.counts.iter_mut().zip([
                c.impressions,
                c.clicks,
                c.declines,
                c.timeouts,
                c.coupon_reveals,
                c.coupon_copies,
            ]) {
                *total += n;
            }
        }
    }

    let mut purchases: FxHashMap<Visitor, Vec<(i64, usize)>> = FxHashMap::default();
    for (i, p) in facts.purchases.iter().enumerate() {
        purchases
            .entry(p.visitor_id)
            .or_default()
            .push((p.at_ms, i));
    }
    let offer_visitors: FxHashMap<(u64, Visitor), FirstTimes> = facts
        .offer_visitors
        .iter()
        .map(|o| {
            (
                (o.campaign_id, o.visitor_id),
                (o.first_impression_ms, o.first_click_ms),
            )
        })
        .collect();
    for e in &facts.cohort {
        let Some(row) = rows.get_mut(&keys.key(e.campaign_id, e.engagement_id, e.at_ms)) else {
            continue;
        };
        let visitor = e.visitor_id;
        let attributed = attributed(&purchases, e, windows.of(e.campaign_id));
        if e.control {
            row.control.insert(visitor);
            if !attributed.is_empty() {
                row.control_converted.insert(visitor);
                row.control_revenue
                    .extend(attributed.iter().map(|&(_, i)| i));
            }
            continue;
        }
        row.exposed.insert(visitor);
        if attributed.is_empty() {
            continue;
        }
        row.converted.insert(visitor);
        let last_purchase = attributed
            .iter()
            .map(|&(at_ms, _)| at_ms)
            .max()
            .unwrap_or(i64::MIN);
        let (impression, click) = offer_visitors
            .get(&(e.campaign_id, visitor))
            .copied()
            .unwrap_or_default();
        if impression.is_some_and(|t| t <= last_purchase) {
            row.after_impression.insert(visitor);
        }
        if click.is_some_and(|t| t <= last_purchase) {
            row.after_click.insert(visitor);
        }
        row.revenue.extend(attributed.iter().map(|&(_, i)| i));
    }

    let revenue_of = |set: &FxHashSet<usize>| {
        let mut out = Revenue::new();
        for p in set.iter().filter_map(|i| facts.purchases.get(*i)) {
            *out.entry(p.currency.clone()).or_default() += p.total_micros;
        }
        out
    };
    let mut out: Vec<ReportRow> = rows
        .rows
        .into_iter()
        .map(|(key, a)| ReportRow {
            key,
            visitors: visitors_by_time.get(&key.time_ms).map_or(0, Distinct::len),
            eligible: a.eligible.len(),
            control_visitors: a.control.len(),
            exposed_visitors: a.exposed.len(),
            impressions: a.counts[0],
            clicks: a.counts[1],
            declines: a.counts[2],
            timeouts: a.counts[3],
            coupon_reveals: a.counts[4],
            coupon_copies: a.counts[5],
            conversions: a.converted.len() as u64,
            conversions_after_impression: a.after_impression.len() as u64,
            conversions_after_click: a.after_click.len() as u64,
            revenue: revenue_of(&a.revenue),
            control_conversions: a.control_converted.len() as u64,
            control_revenue: revenue_of(&a.control_revenue),
            rest_of_campaign: None,
        })
        .collect();
    if grouping.engagement {
        compare_within_campaigns(&mut out);
    }
    Ok(out)
}

/// Monitored visitors in runs of one row key (of a time bucket alone): visitor hours come
/// sorted by hour, and the rows of one hour share their key, so a report finds each
/// hour's end by a binary search and asks its key once, not once per row.
fn runs<'f, 'k, 'g>(
    visitors: &'f [VisitorHour<Visitor>],
    keys: &'k mut Keys<'g>,
) -> Runs<'f, 'k, 'g> {
    Runs { visitors, keys }
}

struct Runs<'f, 'k, 'g> {
    visitors: &'f [VisitorHour<Visitor>],
    keys: &'k mut Keys<'g>,
}

impl<'f> Iterator for Runs<'f, '_, '_> {
    type Item = (RowKey, &'f [VisitorHour<Visitor>]);

    fn next(&mut self) -> Option<Self::Item> {
        let key = self.keys.key(0, 0, self.visitors.first()?.hour_ms);
        let mut len = 0;
        while let Some(hour) = self.visitors.get(len).map(|v| v.hour_ms) {
            if len > 0 && self.keys.key(0, 0, hour) != key {
                break;
            }
            len += rows_through(self.visitors.get(len..).unwrap_or_default(), hour);
        }
        let (run, rest) = self.visitors.split_at(len);
        self.visitors = rest;
        Some((key, run))
    }
}

/// How many of `rows` (sorted by hour) are of `hour` or before: a galloping search from
/// the start, which reads memory near the run it ends (an hour's rows are a small part
/// of a month's).
fn rows_through(rows: &[VisitorHour<Visitor>], hour: i64) -> usize {
    let mut bound = 1;
    while rows.get(bound - 1).is_some_and(|v| v.hour_ms <= hour) {
        bound *= 2;
    }
    let start = bound / 2;
    let end = bound.min(rows.len()).max(start);
    start
        + rows
            .get(start..end)
            .unwrap_or_default()
            .partition_point(|v| v.hour_ms <= hour)
}

/// The purchases of `e`'s visitor within the window after `e` (its first eligibility):
/// from `e.at_ms` included to `e.at_ms + window_ms` excluded, as (time, position in the
/// facts' purchases). The times are kept beside the positions, so a report does not look
/// every purchase of a buyer up to test it.
fn attributed(
    purchases: &FxHashMap<Visitor, Vec<(i64, usize)>>,
    e: &EligibilityFact<Visitor>,
    window_ms: i64,
) -> Vec<(i64, usize)> {
    let end = e.at_ms.saturating_add(window_ms);
    purchases
        .get(&e.visitor_id)
        .map(|all| {
            all.iter()
                .copied()
                .filter(|&(at_ms, _)| e.at_ms <= at_ms && at_ms < end)
                .collect()
        })
        .unwrap_or_default()
}

/// Sets each engagement row's `rest_of_campaign`: the other engagements of its campaign
/// in the same time bucket (a visitor's first eligibility names one engagement, so the
/// engagements of a campaign split its cohort).
fn compare_within_campaigns(rows: &mut [ReportRow]) {
    // Per (campaign, time bucket): exposed visitors, conversions, engagements with any.
    let mut totals: HashMap<(Option<u64>, Option<i64>), CampaignTotals> = HashMap::new();
    for r in rows.iter() {
        let t = totals
            .entry((r.key.campaign_id, r.key.time_ms))
            .or_default();
        t.0 += r.exposed_visitors;
        t.1 += r.conversions;
        if r.exposed_visitors > 0 {
            t.2 += 1;
        }
    }
    for r in rows.iter_mut() {
        if let Some((exposed, converted, engagements)) =
            totals.get(&(r.key.campaign_id, r.key.time_ms))
        {
            if *engagements >= 2 && r.exposed_visitors > 0 {
                r.rest_of_campaign =
                    Some((exposed - r.exposed_visitors, converted - r.conversions));
            }
        }
    }
}

/// A relative change with its 95% interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lift {
    pub value: f64,
    pub low: f64,
    pub high: f64,
}

/// A two-proportion test of `a` against `b` (docs/analytics.md, Significance).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Significance {
    pub z: f64,
    pub p_value: f64,
    pub significant: bool,
    /// How many more visitors (both groups, split as now) until the difference seen
    /// would be significant at 95%; 0 once it is, `None` when there is no difference.
    pub visitors_needed: Option<u64>,
}

/// The two-sided 95% critical value of the standard normal distribution.
pub const Z_95: f64 = 1.959_963_984_540_054;

/// `part / whole`, `None` for an empty whole.
pub fn rate(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// Conversion lift of `(x1 of n1)` over `(x2 of n2)`: the ratio of the rates minus one,
/// with the 95% interval of the log of the ratio (Katz). `None` when either group has
/// no conversion (the ratio or its interval is undefined).
pub fn lift(x1: u64, n1: u64, x2: u64, n2: u64) -> Option<Lift> {
    if x1 == 0 || x2 == 0 || n1 == 0 || n2 == 0 {
        return None;
    }
    let (x1, n1, x2, n2) = (x1 as f64, n1 as f64, x2 as f64, n2 as f64);
    let ratio = (x1 / n1) / (x2 / n2);
    let se = (1.0 / x1 - 1.0 / n1 + 1.0 / x2 - 1.0 / n2).max(0.0).sqrt();
    Some(Lift {
        value: ratio - 1.0,
        low: (ratio.ln() - Z_95 * se).exp() - 1.0,
        high: (ratio.ln() + Z_95 * se).exp() - 1.0,
    })
}

/// The pooled two-proportion z-test of `(x1 of n1)` against `(x2 of n2)`. `None` when a
/// group is empty or nobody (or everybody) converted in both.
pub fn significance(x1: u64, n1: u64, x2: u64, n2: u64) -> Option<Significance> {
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let (fx1, fn1, fx2, fn2) = (x1 as f64, n1 as f64, x2 as f64, n2 as f64);
    let pooled = (fx1 + fx2) / (fn1 + fn2);
    let variance = pooled * (1.0 - pooled) * (1.0 / fn1 + 1.0 / fn2);
    if variance <= 0.0 {
        return None;
    }
    let z = (fx1 / fn1 - fx2 / fn2) / variance.sqrt();
    let significant = z.abs() >= Z_95;
    // With the same rates and the same split, z grows as the square root of the
    // number of visitors: k times as many give sqrt(k) times z.
    let visitors_needed = if significant {
        Some(0)
    } else if z == 0.0 {
        None
    } else {
        let scale = (Z_95 / z.abs()).powi(2);
        Some(((scale - 1.0) * (fn1 + fn2)).ceil() as u64)
    };
    Some(Significance {
        z,
        p_value: 2.0 * normal_upper_tail(z.abs()),
        significant,
        visitors_needed,
    })
}

/// P(Z > z) for a standard normal Z (z >= 0): W. J. Cody's rational approximation of
/// erfc as given in Numerical Recipes (`erfcc`), fractional error below 1.2e-7.
fn normal_upper_tail(z: f64) -> f64 {
    let x = z / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * x);
    let poly = -x * x - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    0.5 * t * poly.exp()
}

impl ReportRow {
    /// Clicks per impression.
    pub fn ctr(&self) -> Option<f64> {
        rate(self.clicks, self.impressions)
    }

    pub fn conversion_rate(&self) -> Option<f64> {
        rate(self.conversions, self.exposed_visitors)
    }

    pub fn control_conversion_rate(&self) -> Option<f64> {
        rate(self.control_conversions, self.control_visitors)
    }

    /// Exposed against control.
    pub fn lift(&self) -> Option<Lift> {
        lift(
            self.conversions,
            self.exposed_visitors,
            self.control_conversions,
            self.control_visitors,
        )
    }

    /// Exposed against control.
    pub fn significance(&self) -> Option<Significance> {
        significance(
            self.conversions,
            self.exposed_visitors,
            self.control_conversions,
            self.control_visitors,
        )
    }

    /// This engagement against the rest of its campaign's split.
    pub fn split_significance(&self) -> Option<Significance> {
        let (n, x) = self.rest_of_campaign?;
        significance(self.conversions, self.exposed_visitors, x, n)
    }

    /// Conversions beyond what the control group's rate predicts for as many exposed
    /// visitors.
    pub fn incremental_conversions(&self) -> Option<f64> {
        let control_rate = self.control_conversion_rate()?;
        Some(self.conversions as f64 - control_rate * self.exposed_visitors as f64)
    }

    /// Per currency: revenue beyond what the control group's revenue per visitor
    /// predicts for as many exposed visitors, in currency units.
    pub fn incremental_revenue(&self) -> Option<BTreeMap<String, f64>> {
        if self.control_visitors == 0 {
            return None;
        }
        let per_control = self.control_visitors as f64;
        let exposed = self.exposed_visitors as f64;
        let currencies: BTreeSet<&String> = self
            .revenue
            .keys()
            .chain(self.control_revenue.keys())
            .collect();
        Some(
            currencies
                .into_iter()
                .map(|c| {
                    let got = micros_to_units(self.revenue.get(c).copied().unwrap_or(0));
                    let baseline =
                        micros_to_units(self.control_revenue.get(c).copied().unwrap_or(0))
                            / per_control
                            * exposed;
                    (c.clone(), got - baseline)
                })
                .collect(),
        )
    }
}

/// Millionths to currency units.
pub fn micros_to_units(micros: i64) -> f64 {
    micros as f64 / 1_000_000.0
}

/// The number of days a range covers, rounded up (for the range limit).
pub fn days_in(from_ms: i64, to_ms: i64) -> i64 {
    (to_ms - from_ms + DAY_MS - 1).div_euclid(DAY_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lift_of_known_rates_and_its_interval() {
        // 120 of 1000 exposed against 100 of 1000 held out: 20% lift.
        let l = lift(120, 1000, 100, 1000).unwrap();
        assert!((l.value - 0.2).abs() < 1e-12);
        // se = sqrt(1/120 - 1/1000 + 1/100 - 1/1000) = 0.128236...
        let se: f64 = (1.0f64 / 120.0 - 0.001 + 0.01 - 0.001).sqrt();
        assert!((l.low - ((1.2f64).ln() - Z_95 * se).exp() + 1.0).abs() < 1e-12);
        assert!(l.low < 0.0 && l.high > 0.5, "{l:?}");
        assert_eq!(lift(0, 10, 1, 10), None);
        assert_eq!(lift(1, 10, 0, 10), None);
    }

    #[test]
    fn two_proportion_test_matches_a_worked_example() {
        // 200/1000 against 150/1000: pooled 0.175, z = 0.05 / sqrt(0.175*0.825*0.002)
        let s = significance(200, 1000, 150, 1000).unwrap();
        let z = 0.05 / (0.175f64 * 0.825 * 0.002).sqrt();
        assert!((s.z - z).abs() < 1e-12);
        assert!(s.significant);
        assert_eq!(s.visitors_needed, Some(0));
        // z = 2.94245: two-sided p = 0.0032563 (normal tables)
        assert!((s.p_value - 0.003_256_3).abs() < 1e-6, "{}", s.p_value);

        let weak = significance(11, 100, 10, 100).unwrap();
        assert!(!weak.significant);
        let needed = weak.visitors_needed.unwrap();
        // Scaling both groups by k multiplies z by sqrt(k): at the number needed the
        // same rates are significant, and one scale step less they are not.
        let k = (200 + needed) as f64 / 200.0;
        assert!(weak.z * k.sqrt() >= Z_95 - 1e-9);
        assert!(weak.z * ((200 + needed - 2) as f64 / 200.0).sqrt() < Z_95);
        assert_eq!(significance(0, 10, 0, 10), None);
        assert_eq!(significance(1, 0, 0, 10), None);
        assert_eq!(significance(5, 10, 5, 10).unwrap().visitors_needed, None);
    }

    #[test]
    fn bitmaps_and_hash_sets_count_alike() {
        use crate::analytics::{OfferCount, OfferVisitor, PurchaseFact, VisitorHour, HOUR_MS};
        let mut facts = AnalyticsFacts::<Visitor>::default();
        for i in 0..500u32 {
            let at_ms = i64::from(i % 97) * HOUR_MS;
            facts.visitors.push(VisitorHour {
                hour_ms: crate::analytics::hour_of(at_ms),
                visitor_id: i % 130,
            });
            let e = EligibilityFact {
                campaign_id: u64::from(i % 3),
                engagement_id: u64::from(i % 5),
                visitor_id: i % 170,
                control: i % 7 == 0,
                at_ms,
            };
            facts.eligibility.push(e.clone());
            if i % 2 == 0 {
                facts.cohort.push(e);
            }
            facts.offer_visitors.push(OfferVisitor {
                campaign_id: u64::from(i % 3),
                visitor_id: i % 170,
                first_impression_ms: Some(at_ms),
                first_click_ms: (i % 4 == 0).then_some(at_ms + 1),
            });
            facts.purchases.push(PurchaseFact {
                visitor_id: i % 150,
                at_ms: at_ms + 5,
                currency: "USD".into(),
                total_micros: 1_000_000,
            });
        }
        facts.offer_counts.push(OfferCount {
            campaign_id: 1,
            engagement_id: 1,
            hour_ms: 0,
            impressions: 3,
            ..OfferCount::default()
        });
        let by_campaign: HashMap<u64, i64> = HashMap::new();
        let windows = Windows {
            by_campaign: &by_campaign,
            default_ms: 10 * HOUR_MS,
        };
        let day = |ms: i64| ms.div_euclid(DAY_MS);
        for (campaign, engagement, time) in [
            (false, false, false),
            (true, false, true),
            (true, true, true),
        ] {
            let grouping = Grouping {
                campaign,
                engagement,
                time: time.then_some(&day as &(dyn Fn(i64) -> i64 + Sync)),
            };
            let bits = report_with(&facts, grouping, &windows, 1000, usize::MAX).unwrap();
            let hashed = report_with(&facts, grouping, &windows, 1000, 0).unwrap();
            assert!(bits.iter().any(|r| r.eligible > 1 && r.visitors > 1));
            assert_eq!(bits, hashed);
        }
    }

    #[test]
    fn normal_tail_is_accurate() {
        assert!((normal_upper_tail(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_upper_tail(Z_95) - 0.025).abs() < 1e-7);
        assert!((normal_upper_tail(3.0) - 0.001_349_898).abs() < 1e-7);
    }
}
