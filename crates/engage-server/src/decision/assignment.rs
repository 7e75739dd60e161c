//! Control groups and traffic splits: which group a visitor is in, as a pure function of
//! (account, campaign, visitor) (and, for a split, of its engagements and weights), so
//! every server, and every decision of the same visitor, computes the same
//! (docs/analytics.md, Assignment).
//!
//! A visitor's point is the first eight bytes, big-endian, of the SHA-256 of the
//! purpose and the ids joined by NUL bytes: `control\0{account}\0{campaign}\0{visitor}`
//! for the control group, `split\0{account}\0{campaign}\0{zone or -}\0{visitor}` for a
//! split. SHA-256 because its output is uniform whatever ids a client makes up, and it is
//! in every language a customer would check it with.

use sha2::{Digest, Sha256};

/// How finely control-group percentages are resolved: 10,000 slots, so a percent is
/// 100 of them.
const CONTROL_SLOTS: u64 = 10_000;

fn point(parts: &[&str]) -> u64 {
    let mut hash = Sha256::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            hash.update([0u8]);
        }
        hash.update(part.as_bytes());
    }
    let digest = hash.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// Whether the visitor is in the campaign's control group of `percent` percent: its
/// control point modulo 10,000 is below `percent * 100`.
pub fn in_control_group(account: &str, campaign_id: u64, visitor_id: &str, percent: u8) -> bool {
    if percent == 0 {
        return false;
    }
    let slot = point(&["control", account, &campaign_id.to_string(), visitor_id]) % CONTROL_SLOTS;
    slot < u64::from(percent) * 100
}

/// The engagement of a split the visitor gets: engagements in id order each own a range
/// of their weight in `0..total`; the visitor's split point modulo the total falls in
/// one. `None` when every weight is zero.
pub fn split_choice(
    account: &str,
    campaign_id: u64,
    zone_id: Option<u64>,
    visitor_id: &str,
    weighted: &[(u64, u32)],
) -> Option<u64> {
    let total: u64 = weighted.iter().map(|(_, w)| u64::from(*w)).sum();
    if total == 0 {
        return None;
    }
    let zone = zone_id.map_or_else(|| "-".to_owned(), |z| z.to_string());
    let mut at = point(&[
        "split",
        account,
        &campaign_id.to_string(),
        &zone,
        visitor_id,
    ]) % total;
    let mut sorted = weighted.to_vec();
    sorted.sort_unstable();
    for (engagement, weight) in sorted {
        let weight = u64::from(weight);
        if at < weight {
            return Some(engagement);
        }
        at -= weight;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_control_point_is_the_documented_hash() {
        // sha256("control\0acc\x001\0v") by hand: the function is what docs/analytics.md says.
        let mut h = Sha256::new();
        h.update(b"control\0acc\x001\0v");
        let d = h.finalize();
        let expected = u64::from_be_bytes(d[..8].try_into().unwrap());
        assert_eq!(point(&["control", "acc", "1", "v"]), expected);
    }

    #[test]
    fn control_groups_hold_out_about_their_share_and_keep_each_visitor() {
        for percent in [0u8, 10, 50] {
            let held = (0..20_000)
                .filter(|i| in_control_group("acc", 7, &format!("visitor-{i}"), percent))
                .count();
            let expected = 20_000 * usize::from(percent) / 100;
            assert!(held.abs_diff(expected) < 400, "{percent}%: {held}");
        }
        for i in 0..100 {
            let v = format!("v{i}");
            assert_eq!(
                in_control_group("acc", 7, &v, 20),
                in_control_group("acc", 7, &v, 20)
            );
            // Raising the share only adds visitors to the group.
            if in_control_group("acc", 7, &v, 10) {
                assert!(in_control_group("acc", 7, &v, 20));
            }
        }
    }

    #[test]
    fn splits_follow_their_weights_whatever_order_they_are_given_in() {
        let weights = [(30, 1), (10, 3), (20, 0)];
        let mut got = std::collections::HashMap::new();
        for i in 0..20_000 {
            let v = format!("visitor-{i}");
            let pick = split_choice("acc", 1, Some(5), &v, &weights).unwrap();
            let mut reversed = weights;
            reversed.reverse();
            assert_eq!(split_choice("acc", 1, Some(5), &v, &reversed), Some(pick));
            *got.entry(pick).or_insert(0usize) += 1;
        }
        assert_eq!(got.get(&20), None);
        assert!(got[&10].abs_diff(15_000) < 400, "{got:?}");
        assert_eq!(split_choice("acc", 1, None, "v", &[(1, 0)]), None);
    }
}
