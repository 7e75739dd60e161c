//! What a writer remembers of the rollups it wrote, so a batch skips the writes that
//! cannot change anything: most batches repeat their visitor's hour and their
//! campaign's first impression and click.
//!
//! Only idempotent no-ops are skipped. A monitored visitor hour is inserted "if absent",
//! so once the writer knows the row is there, writing it again changes nothing. An offer
//! visitor's first times are kept as the earliest ever written; the memory holds, per
//! (campaign, visitor), a time the stored one is known to be at or before (what this
//! writer wrote: another writer can only make the stored time earlier), and a batch whose
//! times are not earlier changes nothing.
//!
//! What removes rows (erasure, the retention sweep) must [`RollupMemory::clear`] the
//! memory, or a remembered row that is gone would suppress a write that is needed; so
//! must a rolled-back write, whose rows were never stored.
//!
//! Bounded: visitor hours are kept for the newest hour seen and the one before it (older
//! hours are dropped when the hour turns), at most [`MAX_HOUR_VISITORS`] of them;
//! first times in two generations of [`FIRSTS_GENERATION`] (what was not used for two
//! generations is forgotten).

use std::collections::{BTreeMap, HashMap, HashSet};

use super::{RollupDelta, HOUR_MS};

/// Visitor hours remembered at most (all are forgotten when there would be more).
pub const MAX_HOUR_VISITORS: usize = 200_000;
/// Offer visitors' first times per generation.
pub const FIRSTS_GENERATION: usize = 100_000;

/// The memory of one writer (see the module's documentation).
#[derive(Debug, Default)]
pub struct RollupMemory {
    /// Hour → `key(bot, account, visitor)` of the rows known to be stored.
    hours: BTreeMap<i64, HashSet<String>>,
    hour_visitors: usize,
    /// `key(bot, account, campaign\0visitor)` → bounds of the stored first impression
    /// and first click (`None`: nothing known).
    firsts_young: HashMap<String, Firsts>,
    firsts_old: HashMap<String, Firsts>,
}

type Firsts = (Option<i64>, Option<i64>);

fn key(bot: bool, account: &str, rest: &str) -> String {
    let mut key = String::with_capacity(account.len() + rest.len() + 2);
    key.push(if bot { 'b' } else { 'p' });
    key.push_str(account);
    key.push('\u{0}');
    key.push_str(rest);
    key
}

fn first_key(bot: bool, account: &str, campaign: u64, visitor: &str) -> String {
    key(bot, account, &format!("{campaign}\u{0}{visitor}"))
}

/// Whether writing `new` over a stored value bounded by `known` changes nothing.
fn covered(known: Option<i64>, new: Option<i64>) -> bool {
    match (known, new) {
        (_, None) => true,
        (Some(k), Some(n)) => k <= n,
        (None, Some(_)) => false,
    }
}

fn earlier(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl RollupMemory {
    /// Takes out of `delta` (a batch of `account`) what the store is known to hold.
    pub fn skip_known(&mut self, account: &str, delta: &mut RollupDelta) {
        let bot = delta.bot;
        let hours = &self.hours;
        delta.visitor_hours.retain(|(hour, visitor)| {
            !hours
                .get(hour)
                .is_some_and(|set| set.contains(&key(bot, account, visitor)))
        });
        let mut known_firsts = Vec::new();
        for ((campaign, visitor), firsts) in &delta.offer_visitors {
            let k = first_key(bot, account, *campaign, visitor);
            if let Some(known) = self.firsts(&k) {
                if covered(known.0, firsts.0) && covered(known.1, firsts.1) {
                    known_firsts.push((*campaign, visitor.clone()));
                }
            }
        }
        for k in known_firsts {
            delta.offer_visitors.remove(&k);
        }
    }

    /// After `delta`'s writes succeeded (in the current transaction): remembers what the
    /// store now holds.
    pub fn remember(&mut self, account: &str, delta: &RollupDelta) {
        let bot = delta.bot;
        for (hour, visitor) in &delta.visitor_hours {
            let newest = self.hours.keys().next_back().copied();
            if newest.is_some_and(|n| *hour < n - HOUR_MS) {
                continue;
            }
            if self.hour_visitors >= MAX_HOUR_VISITORS {
                self.hours.clear();
                self.hour_visitors = 0;
            }
            if self
                .hours
                .entry(*hour)
                .or_default()
                .insert(key(bot, account, visitor))
            {
                self.hour_visitors += 1;
            }
            // When the hour turns, the hours before the previous one are dropped.
            let newest = newest.map_or(*hour, |n| n.max(*hour));
            let keep = self.hours.split_off(&(newest - HOUR_MS));
            let dropped = std::mem::replace(&mut self.hours, keep);
            self.hour_visitors -= dropped.values().map(HashSet::len).sum::<usize>();
        }
        for ((campaign, visitor), firsts) in &delta.offer_visitors {
            let k = first_key(bot, account, *campaign, visitor);
            let bound = match self.firsts(&k) {
                Some(known) => (earlier(known.0, firsts.0), earlier(known.1, firsts.1)),
                None => *firsts,
            };
            if self.firsts_young.len() >= FIRSTS_GENERATION {
                self.firsts_old = std::mem::take(&mut self.firsts_young);
            }
            self.firsts_young.insert(k, bound);
        }
    }

    fn firsts(&mut self, k: &str) -> Option<Firsts> {
        if let Some(f) = self.firsts_young.get(k) {
            return Some(*f);
        }
        let f = self.firsts_old.remove(k)?;
        self.firsts_young.insert(k.to_owned(), f);
        Some(f)
    }

    /// Forgets everything: rows may have been removed, or never stored.
    pub fn clear(&mut self) {
        self.hours.clear();
        self.hour_visitors = 0;
        self.firsts_young.clear();
        self.firsts_old.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(bot: bool, visitor: &str, at_ms: i64, impression: Option<i64>) -> RollupDelta {
        let mut d = RollupDelta {
            bot,
            ..RollupDelta::default()
        };
        d.visit(visitor, at_ms);
        if impression.is_some() {
            d.offer_visitors
                .insert((7, visitor.to_owned()), (impression, None));
        }
        d
    }

    #[test]
    fn a_repeated_hour_and_a_later_impression_are_skipped_an_earlier_one_is_not() {
        let mut m = RollupMemory::default();
        let mut first = batch(false, "v", 10 * HOUR_MS + 5, Some(10 * HOUR_MS + 5));
        m.skip_known("a", &mut first);
        assert_eq!(first.visitor_hours.len(), 1);
        m.remember("a", &first);

        let mut again = batch(false, "v", 10 * HOUR_MS + 9, Some(10 * HOUR_MS + 9));
        m.skip_known("a", &mut again);
        assert!(again.visitor_hours.is_empty() && again.offer_visitors.is_empty());

        // A click is new; an earlier impression (a clock step back) would change the row.
        let mut click = batch(false, "v", 10 * HOUR_MS + 9, Some(10 * HOUR_MS + 1));
        click.offer_visitors.insert(
            (7, "v".to_owned()),
            (Some(10 * HOUR_MS + 1), Some(10 * HOUR_MS + 9)),
        );
        m.skip_known("a", &mut click);
        assert_eq!(click.offer_visitors.len(), 1);

        // Other account, other side, other hour: all new.
        for (bot, account, at) in [
            (false, "b", 10 * HOUR_MS + 9),
            (true, "a", 10 * HOUR_MS + 9),
            (false, "a", 11 * HOUR_MS),
        ] {
            let mut other = batch(bot, "v", at, None);
            m.skip_known(account, &mut other);
            assert_eq!(other.visitor_hours.len(), 1, "{bot} {account} {at}");
        }
    }

    #[test]
    fn clearing_forgets_and_old_hours_are_dropped_when_the_hour_turns() {
        let mut m = RollupMemory::default();
        let first = batch(false, "v", 10 * HOUR_MS, Some(10 * HOUR_MS));
        m.remember("a", &first);
        m.clear();
        let mut again = batch(false, "v", 10 * HOUR_MS + 1, Some(10 * HOUR_MS + 1));
        m.skip_known("a", &mut again);
        assert_eq!(again.visitor_hours.len(), 1);
        assert_eq!(again.offer_visitors.len(), 1);

        m.remember("a", &again);
        m.remember("a", &batch(false, "w", 11 * HOUR_MS, None));
        assert_eq!(m.hour_visitors, 2);
        m.remember("a", &batch(false, "w", 12 * HOUR_MS, None));
        assert_eq!(m.hours.len(), 2);
        assert_eq!(m.hour_visitors, 2);
        let mut back = batch(false, "v", 10 * HOUR_MS + 2, None);
        m.skip_known("a", &mut back);
        assert_eq!(back.visitor_hours.len(), 1, "hour 10 was forgotten");
    }
}
