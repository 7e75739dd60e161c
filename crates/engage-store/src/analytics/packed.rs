//! The funnel step rollup's rows: one per accepted batch (account, server time, visitor)
//! that brought a step, its distinct step occurrences packed in a few bytes.
//!
//! The packed value is a sequence of records, each three unsigned LEB128 varints:
//! the campaign, the engagement, and a mask whose bit `c` is set for step code `c`
//! ([`Step::code`]). Attribute steps belong to no campaign, so they share the record of
//! campaign 0 and engagement 0. A batch with four event names of one engagement and two
//! attribute types packs into about a dozen bytes.
//!
//! Two packed values of one key are merged by concatenating them: reading takes the
//! union of all records (a record may repeat), so a second batch of the same visitor in
//! the same millisecond appends its value to the row.

use std::collections::BTreeMap;

use super::{Step, StepOccurrence, StepScope};

/// Step codes that fit a record's mask (codes are 1–25, [`Step::code`]).
const MASK_BITS: i16 = 64;

/// One batch's steps, keyed by (campaign, engagement), as masks of step codes.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PackedSteps {
    masks: BTreeMap<(u64, u64), u64>,
}

impl PackedSteps {
    pub fn add(&mut self, step: Step, campaign_id: u64, engagement_id: u64) {
        let code = step.code();
        if !(0..MASK_BITS).contains(&code) {
            return;
        }
        *self.masks.entry((campaign_id, engagement_id)).or_default() |= 1u64 << code;
    }

    /// Adds every step of `other` (the union).
    pub fn merge(&mut self, other: &PackedSteps) {
        for (key, mask) in &other.masks {
            *self.masks.entry(*key).or_default() |= mask;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.masks.is_empty()
    }

    /// The stored bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.masks.len() * 12);
        for (&(campaign, engagement), &mask) in &self.masks {
            put_varint(&mut out, campaign);
            put_varint(&mut out, engagement);
            put_varint(&mut out, mask);
        }
        out
    }

    /// Reads stored bytes (concatenated values included). A truncated or malformed
    /// tail is ignored: what was read before it stands.
    pub fn from_bytes(bytes: &[u8]) -> PackedSteps {
        let mut packed = PackedSteps::default();
        let mut rest = bytes;
        while !rest.is_empty() {
            let Some((campaign, engagement, mask)) = (|| {
                let campaign = take_varint(&mut rest)?;
                let engagement = take_varint(&mut rest)?;
                let mask = take_varint(&mut rest)?;
                Some((campaign, engagement, mask))
            })() else {
                break;
            };
            *packed.masks.entry((campaign, engagement)).or_default() |= mask;
        }
        packed
    }

    /// The occurrences a funnel over `scope` reads from this row (see
    /// [`StepScope::admits`]), for the batch of `visitor_id` at `at_ms`.
    pub fn occurrences<'a>(
        &'a self,
        at_ms: i64,
        visitor_id: &'a str,
        scope: &'a StepScope,
    ) -> impl Iterator<Item = StepOccurrence> + 'a {
        self.masks
            .iter()
            .flat_map(|(&(campaign_id, engagement_id), &mask)| {
                (0..MASK_BITS)
                    .filter(move |code| mask & (1u64 << code) != 0)
                    .filter_map(Step::from_code)
                    .map(move |step| (step, campaign_id, engagement_id))
            })
            .filter(|&(step, campaign_id, engagement_id)| {
                scope.admits(step, campaign_id, engagement_id)
            })
            .map(move |(step, campaign_id, engagement_id)| StepOccurrence {
                at_ms,
                visitor_id: visitor_id.to_owned(),
                step,
                campaign_id,
                engagement_id,
            })
    }
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn take_varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut value: u64 = 0;
    for (i, &b) in bytes.iter().enumerate().take(10) {
        value |= u64::from(b & 0x7f).checked_shl(7 * i as u32)?;
        if b & 0x80 == 0 {
            *bytes = &bytes[i + 1..];
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use engage_model::{OfferEventName, SdeType};

    fn everything() -> StepScope {
        StepScope {
            from_ms: 0,
            to_ms: i64::MAX,
            steps: OfferEventName::ALL
                .iter()
                .map(|n| Step::Event(*n))
                .chain(SdeType::ALL.iter().map(|t| Step::Sde(*t)))
                .collect(),
            campaign_ids: vec![],
            engagement_ids: vec![],
            include_bots: false,
        }
    }

    #[test]
    fn every_step_and_id_reads_back() {
        let mut packed = PackedSteps::default();
        let mut expected = Vec::new();
        for (i, name) in OfferEventName::ALL.iter().enumerate() {
            let ids = (u64::MAX - i as u64, 123_456_789 + i as u64);
            packed.add(Step::Event(*name), ids.0, ids.1);
            expected.push((Step::Event(*name), ids.0, ids.1));
        }
        for t in SdeType::ALL {
            packed.add(Step::Sde(t), 0, 0);
            expected.push((Step::Sde(t), 0, 0));
        }
        let scope = everything();
        let mut read: Vec<_> = PackedSteps::from_bytes(&packed.to_bytes())
            .occurrences(7, "v", &scope)
            .map(|o| (o.step, o.campaign_id, o.engagement_id))
            .collect();
        read.sort();
        expected.sort();
        assert_eq!(read, expected);
    }

    #[test]
    fn concatenated_values_read_as_their_union() {
        let mut a = PackedSteps::default();
        a.add(Step::Event(OfferEventName::OfferImpression), 5, 6);
        let mut b = PackedSteps::default();
        b.add(Step::Event(OfferEventName::OfferClick), 5, 6);
        b.add(Step::Event(OfferEventName::OfferImpression), 5, 6);
        b.add(Step::Sde(SdeType::Purchase), 0, 0);
        let mut both = a.to_bytes();
        both.extend(b.to_bytes());
        let mut union = a.clone();
        union.add(Step::Event(OfferEventName::OfferClick), 5, 6);
        union.add(Step::Sde(SdeType::Purchase), 0, 0);
        assert_eq!(PackedSteps::from_bytes(&both), union);
        let mut merged = a.clone();
        merged.merge(&b);
        assert_eq!(merged, union);
    }

    #[test]
    fn a_batch_of_one_engagement_packs_small() {
        let mut packed = PackedSteps::default();
        for name in [
            OfferEventName::Start,
            OfferEventName::OfferDisplay,
            OfferEventName::OfferImpression,
            OfferEventName::OfferClick,
        ] {
            packed.add(Step::Event(name), 412_345_678, 498_765_432);
        }
        packed.add(Step::Sde(SdeType::Purchase), 0, 0);
        packed.add(Step::Sde(SdeType::Cart), 0, 0);
        assert!(packed.to_bytes().len() <= 16, "{}", packed.to_bytes().len());
    }

    #[test]
    fn a_malformed_tail_keeps_what_came_before() {
        let mut packed = PackedSteps::default();
        packed.add(Step::Event(OfferEventName::OfferClick), 1, 2);
        let mut bytes = packed.to_bytes();
        bytes.extend([0x80, 0x80]);
        assert_eq!(PackedSteps::from_bytes(&bytes), packed);
        assert_eq!(PackedSteps::from_bytes(&[0xff; 12]), PackedSteps::default());
    }
}
