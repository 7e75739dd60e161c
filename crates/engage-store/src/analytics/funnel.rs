//! A funnel from the step rollup (docs/analytics.md, The funnel): pure, shared by both
//! backends and the server.

use std::collections::{BTreeMap, BTreeSet};

use super::{Step, StepOccurrence};

/// What a funnel's rows are split by: the campaign or the engagement of the visitor's
/// first step (which is then an event step), whose event steps must all be of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FunnelGroup {
    #[default]
    None,
    Campaign,
    Engagement,
}

#[derive(Debug, Clone)]
pub struct FunnelQuery<'a> {
    /// Attempts start in `[from_ms, to_ms)`.
    pub from_ms: i64,
    pub to_ms: i64,
    pub steps: &'a [Step],
    /// Every step within this of the first, inclusive.
    pub window_ms: i64,
    pub group: FunnelGroup,
}

/// One step's result.
#[derive(Debug, Clone, PartialEq)]
pub struct StepResult {
    /// Visitors whose attempt reached this step.
    pub visitors: u64,
    /// The median of their times from the previous step, in ms (`None` for the first
    /// step, or when nobody reached it).
    pub median_ms_from_previous: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FunnelRow {
    /// The group's campaign (grouped by campaign or engagement) and engagement.
    pub campaign_id: Option<u64>,
    pub engagement_id: Option<u64>,
    pub steps: Vec<StepResult>,
}

/// Why a funnel was not made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FunnelError {
    TooManyRows { rows: usize, max: usize },
}

type GroupKey = (Option<u64>, Option<u64>);

fn group_of(group: FunnelGroup, o: &StepOccurrence) -> GroupKey {
    match group {
        FunnelGroup::None => (None, None),
        FunnelGroup::Campaign => (Some(o.campaign_id), None),
        FunnelGroup::Engagement => (Some(o.campaign_id), Some(o.engagement_id)),
    }
}

/// Whether an occurrence may serve a step for a group: the same kind, and for an event
/// step of a grouped funnel, of the group's campaign (and engagement).
fn serves(step: Step, group: FunnelGroup, key: GroupKey, o: &StepOccurrence) -> bool {
    if o.step != step {
        return false;
    }
    match (step, group) {
        (Step::Sde(_), _) | (_, FunnelGroup::None) => true,
        (Step::Event(_), _) => group_of(group, o) == key,
    }
}

/// The funnel's rows: one per group (one in all without grouping; none when nobody
/// took the first step). `occurrences` must hold every occurrence of the steps in
/// `[from_ms, to_ms + window_ms]`.
pub fn funnel(
    occurrences: &[StepOccurrence],
    query: &FunnelQuery<'_>,
    max_rows: usize,
) -> Result<Vec<FunnelRow>, FunnelError> {
    let Some(first_step) = query.steps.first().copied() else {
        return Ok(Vec::new());
    };
    let mut by_visitor: BTreeMap<&str, Vec<&StepOccurrence>> = BTreeMap::new();
    for o in occurrences {
        by_visitor.entry(o.visitor_id.as_str()).or_default().push(o);
    }
    let mut groups: BTreeSet<GroupKey> = BTreeSet::new();
    for o in occurrences {
        if o.step == first_step && query.from_ms <= o.at_ms && o.at_ms < query.to_ms {
            groups.insert(group_of(query.group, o));
        }
    }
    if query.group == FunnelGroup::None && groups.is_empty() {
        groups.insert((None, None));
    }
    if groups.len() > max_rows {
        return Err(FunnelError::TooManyRows {
            rows: groups.len(),
            max: max_rows,
        });
    }
    let mut rows = Vec::with_capacity(groups.len());
    for key in groups {
        let mut reached = vec![0u64; query.steps.len()];
        let mut gaps: Vec<Vec<i64>> = vec![Vec::new(); query.steps.len()];
        for list in by_visitor.values_mut() {
            list.sort();
            let times = attempt(list, query, key);
            for (k, t) in times.iter().enumerate() {
                reached[k] += 1;
                if k > 0 {
                    gaps[k].push(t - times[k - 1]);
                }
            }
        }
        rows.push(FunnelRow {
            campaign_id: key.0,
            engagement_id: key.1,
            steps: reached
                .iter()
                .zip(gaps.iter_mut())
                .map(|(n, gaps)| StepResult {
                    visitors: *n,
                    median_ms_from_previous: median(gaps),
                })
                .collect(),
        })
    }
    Ok(rows)
}

/// A visitor's attempt: the times of the steps it reached, in order. It starts at the
/// visitor's first occurrence of step 1 in the range; each next step is its earliest
/// occurrence not before the previous step's, not already used by an earlier step, and
/// within the window of the first.
fn attempt(list: &[&StepOccurrence], query: &FunnelQuery<'_>, key: GroupKey) -> Vec<i64> {
    let mut times = Vec::new();
    let mut used: BTreeSet<usize> = BTreeSet::new();
    let Some(first_step) = query.steps.first().copied() else {
        return times;
    };
    let Some(start) = list.iter().position(|o| {
        serves(first_step, query.group, key, o) && query.from_ms <= o.at_ms && o.at_ms < query.to_ms
    }) else {
        return times;
    };
    let t1 = list[start].at_ms;
    let deadline = t1.saturating_add(query.window_ms);
    used.insert(start);
    times.push(t1);
    for step in &query.steps[1..] {
        let previous = times.last().copied().unwrap_or(t1);
        let found = list.iter().enumerate().position(|(i, o)| {
            !used.contains(&i)
                && o.at_ms >= previous
                && o.at_ms <= deadline
                && serves(*step, query.group, key, o)
        });
        match found {
            Some(i) => {
                used.insert(i);
                times.push(list[i].at_ms);
            }
            None => break,
        }
    }
    times
}

fn median(values: &mut [i64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid] as f64
    } else {
        (values[mid - 1] as f64 + values[mid] as f64) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use engage_model::{OfferEventName, SdeType};

    const IMPRESSION: Step = Step::Event(OfferEventName::OfferImpression);
    const CLICK: Step = Step::Event(OfferEventName::OfferClick);
    const CART: Step = Step::Sde(SdeType::Cart);
    const PURCHASE: Step = Step::Sde(SdeType::Purchase);

    fn at(visitor: &str, step: Step, ms: i64, campaign: u64) -> StepOccurrence {
        StepOccurrence {
            at_ms: ms,
            visitor_id: visitor.into(),
            step,
            campaign_id: if matches!(step, Step::Sde(_)) {
                0
            } else {
                campaign
            },
            engagement_id: if matches!(step, Step::Sde(_)) {
                0
            } else {
                campaign * 10
            },
        }
    }

    #[test]
    fn visitors_reach_steps_in_order_within_the_window() {
        let occurrences = vec![
            // a: every step, 10 s apart.
            at("a", IMPRESSION, 1_000, 1),
            at("a", CLICK, 11_000, 1),
            at("a", CART, 21_000, 0),
            at("a", PURCHASE, 31_000, 0),
            // b: clicks, then buys without a cart: stops at the cart.
            at("b", IMPRESSION, 2_000, 1),
            at("b", CLICK, 6_000, 1),
            at("b", PURCHASE, 9_000, 0),
            // c: the cart came before the click: stops at the cart.
            at("c", IMPRESSION, 3_000, 2),
            at("c", CART, 4_000, 0),
            at("c", CLICK, 5_000, 2),
            // d: the purchase comes after the window: stops at the cart.
            at("d", IMPRESSION, 4_000, 2),
            at("d", CLICK, 4_000, 2),
            at("d", CART, 4_000, 0),
            at("d", PURCHASE, 70_000, 0),
        ];
        let steps = [IMPRESSION, CLICK, CART, PURCHASE];
        let query = FunnelQuery {
            from_ms: 0,
            to_ms: 10_000,
            steps: &steps,
            window_ms: 60_000,
            group: FunnelGroup::None,
        };
        let rows = funnel(&occurrences, &query, 10).unwrap();
        assert_eq!(rows.len(), 1);
        let counts: Vec<u64> = rows[0].steps.iter().map(|s| s.visitors).collect();
        assert_eq!(counts, [4, 4, 2, 1]);
        // Click gaps: 10 s, 4 s, 2 s, 0 s: median 3 s.
        assert_eq!(rows[0].steps[1].median_ms_from_previous, Some(3_000.0));
        assert_eq!(rows[0].steps[3].median_ms_from_previous, Some(10_000.0));
        assert_eq!(rows[0].steps[0].median_ms_from_previous, None);

        let by_campaign = funnel(
            &occurrences,
            &FunnelQuery {
                group: FunnelGroup::Campaign,
                ..query.clone()
            },
            10,
        )
        .unwrap();
        let summary: Vec<(Option<u64>, Vec<u64>)> = by_campaign
            .iter()
            .map(|r| (r.campaign_id, r.steps.iter().map(|s| s.visitors).collect()))
            .collect();
        assert_eq!(
            summary,
            [(Some(1), vec![2, 2, 1, 1]), (Some(2), vec![2, 2, 1, 0])]
        );
        assert_eq!(
            funnel(
                &occurrences,
                &FunnelQuery {
                    group: FunnelGroup::Campaign,
                    ..query
                },
                1
            ),
            Err(FunnelError::TooManyRows { rows: 2, max: 1 })
        );
    }

    #[test]
    fn an_occurrence_serves_one_step() {
        let occurrences = vec![at("a", CART, 1_000, 0), at("a", CART, 2_000, 0)];
        let steps = [CART, CART, CART];
        let rows = funnel(
            &occurrences,
            &FunnelQuery {
                from_ms: 0,
                to_ms: 5_000,
                steps: &steps,
                window_ms: 1_000,
                group: FunnelGroup::None,
            },
            10,
        )
        .unwrap();
        // Two carts serve two steps; the third has none left.
        let counts: Vec<u64> = rows[0].steps.iter().map(|s| s.visitors).collect();
        assert_eq!(counts, [1, 1, 0]);
    }
}
