//! One account's rollup facts in memory: both sides' rows (people's and bots'), every
//! table a report reads, over the whole retention range, visitors numbered by one
//! [`Interner`]. [`AccountFacts::apply`] replaces rows from a time on with what the
//! store answered ([`crate::Store::analytics_side_since`]); [`AccountFacts::slice`]
//! answers exactly what `Store::analytics_facts` would for a scope. The server's fact
//! cache keeps one per account (engage-server's `analytics_cache`).
//!
//! Rows are kept sorted by their own time, so a catch-up replaces a tail and a report
//! reads a range. That a tail can be replaced rests on how the write path changes rows:
//! a visitor hour, a purchase and an hour's offer counts have one time each, and a
//! (first) eligibility only ever moves to an earlier time, to the time of the write
//! that moved it. A row whose time is at or after `since` in memory is therefore in the
//! store's answer from `since` (unless a write older than `since` was committed since
//! the last catch-up, which the catch-up's slack is there for). Offer visitors have two
//! times, one of which can be set long after the other: they are kept by key and
//! replaced row by row.

use std::mem::size_of;

use super::{
    day_of, hour_of, AnalyticsFacts, AnalyticsScope, EligibilityFact, Interner, OfferCount,
    OfferVisitor, PurchaseFact, Visitor, VisitorHour,
};
use rustc_hash::{FxHashMap, FxHashSet};

/// A visitor's first impression and first click of a campaign.
type FirstTimes = (Option<i64>, Option<i64>);

/// One side's rows.
#[derive(Default)]
struct Side {
    /// Sorted by hour.
    visitors: Vec<VisitorHour<Visitor>>,
    /// Sorted by time.
    eligibility: Vec<EligibilityFact<Visitor>>,
    /// Sorted by time.
    cohort: Vec<EligibilityFact<Visitor>>,
    /// Where each campaign's rows are in `eligibility` and in `cohort`.
    eligibility_at: Positions,
    cohort_at: Positions,
    /// Sorted by hour.
    offer_counts: Vec<OfferCount>,
    offer_visitors: FxHashMap<(u64, Visitor), FirstTimes>,
    /// Sorted by time.
    purchases: Vec<PurchaseFact<Visitor>>,
}

/// Replaces the rows of `rows` from the first whose `time` is at or after `since` with
/// `new` (sorted here); answers how many rows were kept.
fn replace_tail<T>(
    rows: &mut Vec<T>,
    since: i64,
    mut new: Vec<T>,
    time: impl Fn(&T) -> i64,
) -> usize {
    let keep = rows.partition_point(|r| time(r) < since);
    rows.truncate(keep);
    new.sort_by_key(&time);
    rows.append(&mut new);
    keep
}

/// The positions of each campaign's rows in a list of eligibility rows sorted by time,
/// ascending: a report of some campaigns reads their rows, not every row of its range.
#[derive(Default)]
struct Positions(FxHashMap<u64, Vec<u32>>);

impl Positions {
    /// Follows [`replace_tail`]: positions from `kept` on are gone, the rows from there
    /// are new.
    fn replaced_tail(&mut self, rows: &[EligibilityFact<Visitor>], kept: usize) {
        for positions in self.0.values_mut() {
            positions.truncate(positions.partition_point(|&p| (p as usize) < kept));
        }
        for (p, e) in rows.iter().enumerate().skip(kept) {
            if let Ok(p) = u32::try_from(p) {
                self.0.entry(e.campaign_id).or_default().push(p);
            }
        }
        self.0.retain(|_, positions| !positions.is_empty());
    }

    /// The rows of `campaigns` in `[from, to)` that `in_scope` admits, in time order.
    fn rows_of(
        &self,
        rows: &[EligibilityFact<Visitor>],
        campaigns: &[u64],
        from: i64,
        to: i64,
        in_scope: &dyn Fn(&&EligibilityFact<Visitor>) -> bool,
    ) -> Vec<EligibilityFact<Visitor>> {
        let mut campaigns = campaigns.to_vec();
        campaigns.sort_unstable();
        campaigns.dedup();
        let at = |p: &u32| rows.get(*p as usize);
        let mut out = Vec::new();
        for positions in campaigns.iter().filter_map(|c| self.0.get(c)) {
            let time = |p: &u32| at(p).map_or(i64::MAX, |e| e.at_ms);
            let start = positions.partition_point(|p| time(p) < from);
            let end = positions.partition_point(|p| time(p) < to).max(start);
            out.extend(
                positions
                    .get(start..end)
                    .unwrap_or_default()
                    .iter()
                    .filter_map(at)
                    .filter(in_scope)
                    .cloned(),
            );
        }
        if campaigns.len() > 1 {
            out.sort_by_key(|e| e.at_ms);
        }
        out
    }

    fn heap_bytes(&self) -> usize {
        self.0.capacity() * (size_of::<(u64, Vec<u32>)>() + 1)
            + self.0.values().map(|v| v.capacity() * 4).sum::<usize>()
    }
}

/// The rows of `rows` (sorted by `time`) whose time is in `[from, to)`.
fn range<T>(rows: &[T], from: i64, to: i64, time: impl Fn(&T) -> i64) -> &[T] {
    let start = rows.partition_point(|r| time(r) < from);
    let end = rows.partition_point(|r| time(r) < to).max(start);
    rows.get(start..end).unwrap_or_default()
}

fn vec_bytes<T>(v: &Vec<T>) -> usize {
    v.capacity() * size_of::<T>()
}

impl Side {
    fn apply(&mut self, since: i64, rows: AnalyticsFacts, interner: &mut Interner) {
        let since_hour = hour_of(since);
        let mut intern = |id: &str| interner.intern(id);
        let visitors = rows
            .visitors
            .into_iter()
            .map(|v| VisitorHour {
                hour_ms: v.hour_ms,
                visitor_id: intern(&v.visitor_id),
            })
            .collect();
        replace_tail(&mut self.visitors, since_hour, visitors, |v| v.hour_ms);
        let eligibility = rows
            .eligibility
            .into_iter()
            .map(|e| e.map_visitor(|id| intern(&id)))
            .collect();
        let kept = replace_tail(&mut self.eligibility, since, eligibility, |e| e.at_ms);
        self.eligibility_at.replaced_tail(&self.eligibility, kept);
        let cohort = rows
            .cohort
            .into_iter()
            .map(|e| e.map_visitor(|id| intern(&id)))
            .collect();
        let kept = replace_tail(&mut self.cohort, since, cohort, |e| e.at_ms);
        self.cohort_at.replaced_tail(&self.cohort, kept);
        replace_tail(&mut self.offer_counts, since_hour, rows.offer_counts, |c| {
            c.hour_ms
        });
        for o in rows.offer_visitors {
            self.offer_visitors.insert(
                (o.campaign_id, intern(&o.visitor_id)),
                (o.first_impression_ms, o.first_click_ms),
            );
        }
        let purchases = rows
            .purchases
            .into_iter()
            .map(|p| PurchaseFact {
                visitor_id: intern(&p.visitor_id),
                at_ms: p.at_ms,
                currency: p.currency,
                total_micros: p.total_micros,
            })
            .collect();
        replace_tail(&mut self.purchases, since, purchases, |p| p.at_ms);
    }

    fn heap_bytes(&self) -> usize {
        let currencies: usize = self.purchases.iter().map(|p| p.currency.capacity()).sum();
        vec_bytes(&self.visitors)
            + vec_bytes(&self.eligibility)
            + vec_bytes(&self.cohort)
            + self.eligibility_at.heap_bytes()
            + self.cohort_at.heap_bytes()
            + vec_bytes(&self.offer_counts)
            + vec_bytes(&self.purchases)
            + currencies
            + self.offer_visitors.capacity() * (size_of::<((u64, Visitor), FirstTimes)>() + 1)
    }
}

/// One account's facts: both sides, one numbering of visitors.
#[derive(Default)]
pub struct AccountFacts {
    interner: Interner,
    people: Side,
    bots: Side,
}

impl AccountFacts {
    /// Replaces one side's rows from `since_ms` on with `rows`: what
    /// `analytics_side_since(account, bot, since_ms)` answered.
    pub fn apply(&mut self, bot: bool, since_ms: i64, rows: AnalyticsFacts) {
        let side = if bot {
            &mut self.bots
        } else {
            &mut self.people
        };
        side.apply(since_ms, rows, &mut self.interner);
    }

    /// The heap bytes held, roughly.
    pub fn heap_bytes(&self) -> usize {
        self.interner.heap_bytes() + self.people.heap_bytes() + self.bots.heap_bytes()
    }

    /// Rows held, both sides.
    pub fn rows(&self) -> usize {
        [&self.people, &self.bots]
            .iter()
            .map(|s| {
                s.visitors.len()
                    + s.eligibility.len()
                    + s.cohort.len()
                    + s.offer_counts.len()
                    + s.offer_visitors.len()
                    + s.purchases.len()
            })
            .sum()
    }

    /// What `Store::analytics_facts(account, scope)` answers, visitors numbered.
    pub fn slice(&self, scope: &AnalyticsScope) -> AnalyticsFacts<Visitor> {
        let sides: &[&Side] = if scope.include_bots {
            &[&self.people, &self.bots]
        } else {
            &[&self.people]
        };
        let covers = |campaign: u64, engagement: u64| {
            scope.covers_campaign(campaign) && scope.covers_engagement(engagement)
        };
        let (from, to) = (scope.from_ms, scope.to_ms);
        let mut facts = AnalyticsFacts::<Visitor>::default();
        for side in sides {
            facts
                .visitors
                .extend_from_slice(range(&side.visitors, from, to, |v| v.hour_ms));
            facts.offer_counts.extend(
                range(&side.offer_counts, from, to, |c| c.hour_ms)
                    .iter()
                    .filter(|c| covers(c.campaign_id, c.engagement_id)),
            );
        }
        if sides.len() > 1 {
            // Two runs sorted by hour, merged (a report reads visitor hours in order).
            facts.visitors.sort_by_key(|v| v.hour_ms);
        }
        let in_scope = |e: &&EligibilityFact<Visitor>| covers(e.campaign_id, e.engagement_id);
        if scope.include_bots {
            let day_key =
                |e: &EligibilityFact<Visitor>| (e.campaign_id, day_of(e.at_ms), e.visitor_id);
            let first_key = |e: &EligibilityFact<Visitor>| (e.campaign_id, 0, e.visitor_id);
            facts.eligibility = merge_first(
                &self.people.eligibility,
                &self.bots.eligibility,
                from,
                to,
                day_key,
                &in_scope,
            );
            facts.cohort = merge_first(
                &self.people.cohort,
                &self.bots.cohort,
                from,
                to,
                first_key,
                &in_scope,
            );
        } else if !scope.campaign_ids.is_empty() {
            let people = &self.people;
            facts.eligibility = people.eligibility_at.rows_of(
                &people.eligibility,
                &scope.campaign_ids,
                from,
                to,
                &in_scope,
            );
            facts.cohort =
                people
                    .cohort_at
                    .rows_of(&people.cohort, &scope.campaign_ids, from, to, &in_scope);
        } else {
            // Every row of the range when no engagement is named: one copy of the
            // range, not a filtered collect that grows its vector as it goes.
            let rows_of = |all: &[EligibilityFact<Visitor>]| -> Vec<EligibilityFact<Visitor>> {
                let in_range = range(all, from, to, |e| e.at_ms);
                if scope.engagement_ids.is_empty() {
                    in_range.to_vec()
                } else {
                    in_range.iter().filter(in_scope).cloned().collect()
                }
            };
            facts.eligibility = rows_of(&self.people.eligibility);
            facts.cohort = rows_of(&self.people.cohort);
        }

        // Offer visitors of the cohort's (campaign, visitor) pairs, the earlier of each
        // first time over the sides read; purchases of the cohort's visitors.
        let earlier = |a: Option<i64>, b: Option<i64>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let mut cohort_visitors = FxHashSet::default();
        for e in &facts.cohort {
            cohort_visitors.insert(e.visitor_id);
            let key = (e.campaign_id, e.visitor_id);
            let mut found: Option<FirstTimes> = None;
            for side in sides {
                if let Some(&(impression, click)) = side.offer_visitors.get(&key) {
                    found = Some(match found {
                        None => (impression, click),
                        Some((i, c)) => (earlier(i, impression), earlier(c, click)),
                    });
                }
            }
            if let Some((first_impression_ms, first_click_ms)) = found {
                facts.offer_visitors.push(OfferVisitor {
                    campaign_id: e.campaign_id,
                    visitor_id: e.visitor_id,
                    first_impression_ms,
                    first_click_ms,
                });
            }
        }
        let purchases_to = to.saturating_add(scope.attribution_ms);
        for side in sides {
            facts.purchases.extend(
                range(&side.purchases, from, purchases_to, |p| p.at_ms)
                    .iter()
                    .filter(|p| cohort_visitors.contains(&p.visitor_id))
                    .cloned(),
            );
        }
        facts
    }

    /// The visitor id of an ordinal (tests compare slices with the store's answers).
    pub fn visitor_id(&self, v: Visitor) -> Option<&str> {
        self.interner.id(v)
    }
}

/// Eligibility rows of both sides in `[from, to)` and in scope, as one table of both
/// would hold them: per key, the row with the earlier time, people's on a tie. The
/// other side's row counts whatever its time and scope (as the store's `NOT EXISTS`).
fn merge_first<K: std::hash::Hash + Eq>(
    people: &[EligibilityFact<Visitor>],
    bots: &[EligibilityFact<Visitor>],
    from: i64,
    to: i64,
    key: impl Fn(&EligibilityFact<Visitor>) -> K,
    in_scope: &dyn Fn(&&EligibilityFact<Visitor>) -> bool,
) -> Vec<EligibilityFact<Visitor>> {
    let in_range = |rows| range(rows, from, to, |e: &EligibilityFact<Visitor>| e.at_ms);
    let bot_first: FxHashMap<K, i64> = bots.iter().map(|e| (key(e), e.at_ms)).collect();
    let mut out: Vec<EligibilityFact<Visitor>> = in_range(people)
        .iter()
        .filter(in_scope)
        .filter(|e| bot_first.get(&key(e)).is_none_or(|&b| b >= e.at_ms))
        .cloned()
        .collect();
    if bot_first.is_empty() {
        return out;
    }
    // People's times of the keys bots have (a row out of range can still be earlier).
    let people_first: FxHashMap<K, i64> = people
        .iter()
        .filter_map(|e| {
            let k = key(e);
            bot_first.contains_key(&k).then_some((k, e.at_ms))
        })
        .collect();
    out.extend(
        in_range(bots)
            .iter()
            .filter(in_scope)
            .filter(|e| people_first.get(&key(e)).is_none_or(|&p| p > e.at_ms))
            .cloned(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fact(campaign_id: u64, at_ms: i64) -> EligibilityFact {
        EligibilityFact {
            campaign_id,
            engagement_id: campaign_id * 10,
            visitor_id: format!("v{at_ms}"),
            control: false,
            at_ms,
        }
    }

    /// Campaign and time of each row, as a slice answers them.
    fn seen(rows: &[EligibilityFact<Visitor>]) -> Vec<(u64, i64)> {
        rows.iter().map(|e| (e.campaign_id, e.at_ms)).collect()
    }

    #[test]
    fn a_scope_of_some_campaigns_gets_their_rows_once_in_time_order_after_catch_ups() {
        let rows = |times: std::ops::Range<i64>| AnalyticsFacts {
            eligibility: times.clone().map(|t| fact(1 + t as u64 % 3, t)).collect(),
            cohort: times.map(|t| fact(1 + t as u64 % 3, t)).collect(),
            ..AnalyticsFacts::default()
        };
        let mut copy = AccountFacts::default();
        copy.apply(false, i64::MIN, rows(0..30));
        // A catch-up from 20 answers the rows from 20 on again, and newer ones.
        copy.apply(false, 20, rows(20..40));
        copy.apply(false, 35, rows(35..45));
        let scope = AnalyticsScope {
            from_ms: 5,
            to_ms: 42,
            // Named twice, and out of order: each row still comes once.
            campaign_ids: vec![3, 1, 3],
            engagement_ids: Vec::new(),
            attribution_ms: 0,
            include_bots: false,
        };
        let slice = copy.slice(&scope);
        let expected: Vec<(u64, i64)> = (5..42)
            .map(|t| (1 + t as u64 % 3, t))
            .filter(|(c, _)| *c != 2)
            .collect();
        assert_eq!(seen(&slice.eligibility), expected);
        assert_eq!(seen(&slice.cohort), expected);

        // An engagement filter applies within the campaigns.
        let slice = copy.slice(&AnalyticsScope {
            engagement_ids: vec![30],
            ..scope
        });
        let threes: Vec<(u64, i64)> = expected.into_iter().filter(|(c, _)| *c == 3).collect();
        assert_eq!(seen(&slice.eligibility), threes);
    }
}
