//! An account's engagements compiled for deciding, and the decision itself.
//!
//! Built once per change of the account's campaigns (see [`super::Decisions`]), then
//! shared read-only by every decision. The layout is chosen for the decision's loop:
//!
//! - Engagements are sorted once by the order they compete in (campaign priority, then
//!   the older campaign, then the older engagement), so "the first eligible one of its
//!   zone wins" is a single pass that skips engagements whose zone is already taken.
//! - Section names are interned. Engagements that require a section are reached through
//!   a bit set per section, the others through one "always" bit set; a page view ORs the
//!   sets of its sections and visits only the bits that are set, so an engagement aimed
//!   at other sections costs nothing.
//! - URL rules and attribute conditions are interned too, and evaluated at most once per
//!   decision (memoized) however many engagements share them.
//!
//! Nothing here does I/O: the caller brings the visit's attributes and impression counts.
//!
//! Its parts live beside it: the answer types in [`super::offer`], the interning and the
//! indexes in `candidates`, the URL rules' one-pass matcher in `url_matcher`, the
//! per-decision memo in `memo`.

use std::collections::{HashMap, HashSet};

use engage_model::{AgentState, VisitSdes};
use engage_store::analytics::EligibilityRecord;
use engage_store::{AppInstallation, Campaign, Engagement, RecentInteraction};

use super::assignment::{in_control_group, split_choice};

use super::candidates::{
    key, lowercase, or_into, set_bit, Bits, ExistsIndex, Interner, Key, NumberIndex, TextIndex,
};
use super::memo::{memoized, UNKNOWN};
use super::offer::{Content, Offer, Shown};
use super::targeting::{as_number, Condition, FrequencyWindows, Targeting, UrlMatch};
use super::url_matcher::UrlMatcher;

/// One page view as the decision sees it.
#[derive(Debug, Clone, Copy)]
pub struct PageView<'a> {
    pub url: &'a str,
    pub sections: &'a [String],
    /// The visit's merged attributes, with what this page pushed so far.
    pub sdes: &'a VisitSdes,
    /// Impressions of this visitor per engagement id, sorted by engagement id.
    pub impressions: &'a [(u64, u64)],
    /// The visitor's recent engagement contexts, for the caps with a time window (read
    /// only when an engagement has one, see [`AccountSnapshot::recent_days`]).
    pub recent: &'a RecentShows,
}

/// What the caps with a time window look at: the visitor's recent engagement contexts
/// (newest first, as `CampaignStore::recent_interactions` answers), this session, and
/// the time now.
#[derive(Debug, Clone, Default)]
pub struct RecentShows {
    pub now_ms: i64,
    pub session_id: String,
    pub shows: Vec<RecentInteraction>,
}

const DAY_MS: i64 = 86_400_000;

impl RecentShows {
    /// Whether `windows` still let `engagement_id` be shown.
    fn allows(&self, engagement_id: u64, windows: &FrequencyWindows) -> bool {
        let mine = || {
            self.shows
                .iter()
                .filter(|r| r.engagement_id == engagement_id)
        };
        if let Some(days) = windows.decline_days {
            let since = self.now_ms - i64::from(days) * DAY_MS;
            if mine().any(|r| r.declined && r.start_ms >= since) {
                return false;
            }
        }
        let under = |cap: Option<u32>, counts: &dyn Fn(&RecentInteraction) -> bool| {
            cap.is_none_or(|max| mine().filter(|r| r.impressed && counts(r)).count() < max as usize)
        };
        under(windows.max_per_session, &|r| {
            r.session_id == self.session_id
        }) && under(windows.max_per_day, &|r| r.start_ms > self.now_ms - DAY_MS)
            && under(windows.max_per_week, &|r| {
                r.start_ms > self.now_ms - 7 * DAY_MS
            })
    }
}

/// An engagement's rules with every name and pattern replaced by an interned index.
#[derive(Debug, Clone)]
struct Rules {
    zone: usize,
    include_sections: Box<[u32]>,
    exclude_sections: Box<[u32]>,
    url_include: Box<[u32]>,
    url_exclude: Box<[u32]>,
    conditions: Box<[u32]>,
    max_impressions: Option<u32>,
    windows: FrequencyWindows,
}

/// An account's apps and eligible engagements, ready to decide from.
///
/// Every engagement is reached through one index of a condition it cannot be shown
/// without (a section it requires, an attribute value, a URL rule, ...) or else through
/// `always`; a decision ORs the entries its page view hits, then checks every rule of
/// only those candidates. The index only narrows: the full check decides.
#[derive(Debug, Default)]
pub struct AccountSnapshot {
    apps: HashSet<String>,
    offers: Vec<Offer>,
    rules: Vec<Rules>,
    words: usize,
    always: Bits,
    /// Per interned section: the engagements that require one of their sections.
    include_bits: Vec<Bits>,
    section_ids: HashMap<String, u32>,
    text_index: Vec<TextIndex>,
    number_index: Vec<NumberIndex>,
    exists_index: Vec<ExistsIndex>,
    /// Per URL rule reached through: the engagements whose URL include lists it.
    url_keys: Vec<(u32, Bits)>,
    url_rules: Vec<UrlMatch>,
    url_matcher: UrlMatcher,
    conditions: Vec<Condition>,
    zones: usize,
    has_caps: bool,
    /// How many days back the caps with a time window look (0: none has one).
    recent_days: u32,
    /// Campaigns with a control group, and its percentage.
    control_groups: HashMap<u64, u8>,
    /// Per offer: the traffic split it belongs to (an index of `splits`), if any.
    split_of: Vec<Option<usize>>,
    splits: Vec<Split>,
}

/// Engagements of one campaign in one zone that carry a weight (docs/analytics.md,
/// Traffic split).
#[derive(Debug)]
struct Split {
    campaign_id: u64,
    zone_id: Option<u64>,
    weighted: Vec<(u64, u32)>,
}

/// Who a decision is for: control groups and splits need the visitor.
#[derive(Debug, Clone, Copy)]
pub struct Audience<'a> {
    pub account_id: &'a str,
    pub visitor_id: &'a str,
}

/// A decision: the offers shown, and those the visitor was eligible for but held out
/// of as a member of their campaign's control group.
#[derive(Debug, Default)]
pub struct Decision<'a> {
    pub shown: Vec<&'a Offer>,
    pub held_out: Vec<&'a Offer>,
}

impl AccountSnapshot {
    /// Compiles what the store holds. Engagements of disabled or unknown campaigns, and
    /// offline ones that hide when offline, are left out; so is one whose stored
    /// targeting no longer reads (logged: it was valid when written).
    pub fn build(
        apps: Vec<AppInstallation>,
        campaigns: &[Campaign],
        engagements: Vec<Engagement>,
    ) -> AccountSnapshot {
        let campaigns: HashMap<u64, &Campaign> = campaigns
            .iter()
            .filter(|c| c.fields.enabled)
            .map(|c| (c.id, c))
            .collect();
        let mut ranked: Vec<(&Campaign, Engagement, Targeting)> = Vec::new();
        for e in engagements {
            let Some(campaign) = campaigns.get(&e.campaign_id) else {
                continue;
            };
            if e.definition.hide_when_offline && e.state == AgentState::Offline {
                continue;
            }
            match Targeting::from_stored(&e.definition.targeting) {
                Ok(t) => ranked.push((campaign, e, t)),
                Err(error) => tracing::warn!(
                    engagement = e.id,
                    %error,
                    "stored targeting does not read; the engagement is left out"
                ),
            }
        }
        ranked.sort_by_key(|(c, e, _)| (c.fields.priority, c.created_ms, c.id, e.created_ms, e.id));

        let words = ranked.len().div_ceil(64);
        let mut snapshot = AccountSnapshot {
            apps: apps.into_iter().map(|a| a.id).collect(),
            words,
            always: vec![0; words],
            control_groups: campaigns
                .values()
                .filter(|c| c.fields.control_group_percent > 0)
                .map(|c| (c.id, c.fields.control_group_percent))
                .collect(),
            ..AccountSnapshot::default()
        };
        let mut split_index: HashMap<(u64, Option<u64>), usize> = HashMap::new();
        for (_, e, _) in &ranked {
            if let Some(weight) = e.definition.weight {
                let key = (e.campaign_id, e.definition.zone_id);
                let next = snapshot.splits.len();
                let at = *split_index.entry(key).or_insert(next);
                if at == next {
                    snapshot.splits.push(Split {
                        campaign_id: e.campaign_id,
                        zone_id: e.definition.zone_id,
                        weighted: Vec::new(),
                    });
                }
                if let Some(split) = snapshot.splits.get_mut(at) {
                    split.weighted.push((e.id, weight));
                }
            }
        }
        let mut zones: HashMap<Option<u64>, usize> = HashMap::new();
        let mut sections: Interner<()> = Interner::new();
        let mut url_rules: Interner<UrlMatch> = Interner::new();
        let mut conditions: Interner<Condition> = Interner::new();
        let mut url_keys: HashMap<u32, Bits> = HashMap::new();
        for (i, (_, e, targeting)) in ranked.into_iter().enumerate() {
            let d = &e.definition;
            let zone_count = zones.len();
            let zone = *zones.entry(d.zone_id).or_insert(zone_count);
            let mut section = |name: &String| sections.intern(lowercase(name).into_owned(), || ());
            let include_sections: Box<[u32]> = targeting
                .sections
                .include
                .iter()
                .map(&mut section)
                .collect();
            let exclude_sections = targeting
                .sections
                .exclude
                .iter()
                .map(&mut section)
                .collect();
            let mut url = |rule: &UrlMatch| {
                url_rules.intern(format!("{}\0{}", rule.kind(), rule.pattern()), || {
                    rule.clone()
                })
            };
            let url_include: Box<[u32]> = targeting.url.include.iter().map(&mut url).collect();
            let url_exclude = targeting.url.exclude.iter().map(&mut url).collect();
            let conditions_of = targeting
                .sdes
                .iter()
                .map(|c| conditions.intern(c.key(), || c.clone()))
                .collect();

            match key(&targeting) {
                Key::Sections => {
                    for id in include_sections.iter() {
                        let id = *id as usize;
                        if snapshot.include_bits.len() <= id {
                            snapshot.include_bits.resize(id + 1, Vec::new());
                        }
                        if let Some(bits) = snapshot.include_bits.get_mut(id) {
                            bits.resize(words, 0);
                            set_bit(bits, i);
                        }
                    }
                }
                Key::Text(path, values) => {
                    let at = match snapshot.text_index.iter().position(|t| t.path == path) {
                        Some(at) => at,
                        None => {
                            snapshot.text_index.push(TextIndex {
                                path,
                                by_value: HashMap::new(),
                            });
                            snapshot.text_index.len() - 1
                        }
                    };
                    if let Some(index) = snapshot.text_index.get_mut(at) {
                        for value in values {
                            let bits = index
                                .by_value
                                .entry(value.to_owned())
                                .or_insert_with(|| vec![0; words]);
                            set_bit(bits, i);
                        }
                    }
                }
                Key::Url => {
                    for id in url_include.iter() {
                        set_bit(url_keys.entry(*id).or_insert_with(|| vec![0; words]), i);
                    }
                }
                Key::Number(path, threshold, above, inclusive) => {
                    let at = match snapshot.number_index.iter().position(|n| n.path == path) {
                        Some(at) => at,
                        None => {
                            snapshot.number_index.push(NumberIndex {
                                path,
                                above: Vec::new(),
                                below: Vec::new(),
                            });
                            snapshot.number_index.len() - 1
                        }
                    };
                    if let Some(index) = snapshot.number_index.get_mut(at) {
                        let list = if above {
                            &mut index.above
                        } else {
                            &mut index.below
                        };
                        list.push((threshold, inclusive, i));
                    }
                }
                Key::Exists(path) => {
                    match snapshot.exists_index.iter_mut().find(|x| x.path == path) {
                        Some(index) => set_bit(&mut index.bits, i),
                        None => {
                            let mut bits = vec![0; words];
                            set_bit(&mut bits, i);
                            snapshot.exists_index.push(ExistsIndex { path, bits });
                        }
                    }
                }
                Key::Always => set_bit(&mut snapshot.always, i),
            }

            snapshot.has_caps |= targeting.max_impressions.is_some();
            let w = targeting.windows;
            if !w.is_empty() {
                snapshot.recent_days = snapshot.recent_days.max(7).max(w.decline_days.unwrap_or(0));
            }
            snapshot.rules.push(Rules {
                zone,
                include_sections,
                exclude_sections,
                url_include,
                url_exclude,
                conditions: conditions_of,
                max_impressions: targeting.max_impressions,
                windows: targeting.windows,
            });
            let mut offer = Offer {
                campaign_id: e.campaign_id,
                engagement_id: e.id,
                engagement_revision: e.revision,
                engagement_type: d.engagement_type,
                zone_id: d.zone_id,
                state: e.state,
                conf_key: e.conf_key().to_string(),
                tgl_name: d.tgl_name.clone(),
                engagement_name: d.name.clone(),
                timeout_seconds: d.timeout_seconds,
                content: Content {
                    title: d.content.title.clone(),
                    body: d.content.body.clone(),
                    accept_label: d.content.accept_label.clone(),
                    close_label: d.content.close_label.clone(),
                },
                action: d.action.clone(),
                json: None,
            };
            offer.prepare_json();
            snapshot.offers.push(offer);
            snapshot.split_of.push(
                d.weight
                    .and_then(|_| split_index.get(&(e.campaign_id, d.zone_id)).copied()),
            );
        }
        for index in &mut snapshot.number_index {
            index.above.sort_by(|a, b| a.0.total_cmp(&b.0));
            index.below.sort_by(|a, b| b.0.total_cmp(&a.0));
        }
        let mut url_keys: Vec<(u32, Bits)> = url_keys.into_iter().collect();
        url_keys.sort_by_key(|(id, _)| *id);
        snapshot.url_keys = url_keys;
        snapshot.section_ids = sections.ids;
        snapshot.url_rules = url_rules.values;
        snapshot.url_matcher = UrlMatcher::build(&snapshot.url_rules);
        snapshot.conditions = conditions.values;
        snapshot.zones = zones.len();
        snapshot
    }

    /// Whether the account registered this Monitoring API app installation.
    pub fn has_app(&self, app_id: &str) -> bool {
        self.apps.contains(app_id)
    }

    /// How many engagements can be shown (their campaigns enabled).
    pub fn len(&self) -> usize {
        self.offers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.offers.is_empty()
    }

    /// Whether any engagement has attribute conditions (otherwise the visit's attributes
    /// need not be read).
    pub fn needs_sdes(&self) -> bool {
        !self.conditions.is_empty()
    }

    /// Whether any engagement has a frequency cap (otherwise impressions need not be counted).
    pub fn needs_impressions(&self) -> bool {
        self.has_caps
    }

    /// How many days of the visitor's engagement contexts the caps with a time window
    /// need; 0 when no engagement has one (then none is read).
    pub fn recent_days(&self) -> u32 {
        self.recent_days
    }

    /// The engagements this page view shows: every eligible one whose zone no better
    /// ranked one took, in rank order. At most one per zone; engagements without a zone
    /// share one.
    pub fn decide(&self, page: &PageView<'_>) -> Vec<&Offer> {
        self.decide_with(page, None, true).shown
    }

    /// [`AccountSnapshot::decide`] for a known visitor: in a traffic split only the
    /// visitor's engagement of it competes, and an engagement of a campaign whose control
    /// group holds the visitor is held out instead of shown (it still takes its zone,
    /// so the control group sees what the page shows without the campaign).
    pub fn decide_for(&self, page: &PageView<'_>, audience: Audience<'_>) -> Decision<'_> {
        self.decide_with(page, Some(audience), true)
    }

    /// [`AccountSnapshot::decide_for`], with the index or checking every engagement (what
    /// the index must not change, see the tests).
    fn decide_with(
        &self,
        page: &PageView<'_>,
        audience: Option<Audience<'_>>,
        use_index: bool,
    ) -> Decision<'_> {
        // Rules see a bounded prefix of the URL, so what a decision costs is bounded.
        let page = &PageView {
            url: super::targeting::scanned(page.url),
            sections: page.sections,
            sdes: page.sdes,
            impressions: page.impressions,
            recent: page.recent,
        };
        let mut chosen = Decision::default();
        if self.offers.is_empty() {
            return chosen;
        }
        let mut memo = vec![UNKNOWN; self.url_rules.len() + self.conditions.len()];
        let (url_memo, condition_memo) = memo.split_at_mut(self.url_rules.len());
        let mut page_sections: Vec<u32> = Vec::with_capacity(page.sections.len());
        for name in page.sections {
            if let Some(id) = self.section_ids.get(lowercase(name).as_ref()) {
                page_sections.push(*id);
            }
        }
        let candidates = if use_index {
            self.candidates(page, &page_sections, url_memo)
        } else {
            let mut all = vec![0; self.words];
            for i in 0..self.offers.len() {
                set_bit(&mut all, i);
            }
            all
        };

        let mut zone_taken = vec![false; self.zones];
        let mut zones_left = self.zones;
        for (w, word) in candidates.iter().enumerate() {
            let mut word = *word;
            while word != 0 {
                let i = w * 64 + word.trailing_zeros() as usize;
                word &= word - 1;
                let (Some(rules), Some(offer)) = (self.rules.get(i), self.offers.get(i)) else {
                    continue;
                };
                if zone_taken.get(rules.zone).copied().unwrap_or(true) {
                    continue;
                }
                if let Some(audience) = audience {
                    if !self.split_picks(i, offer, audience) {
                        continue;
                    }
                }
                if !self.eligible(rules, offer, page, &page_sections, url_memo, condition_memo) {
                    continue;
                }
                let held_out = audience.is_some_and(|a| {
                    self.control_groups
                        .get(&offer.campaign_id)
                        .is_some_and(|percent| {
                            in_control_group(
                                a.account_id,
                                offer.campaign_id,
                                a.visitor_id,
                                *percent,
                            )
                        })
                });
                if held_out {
                    chosen.held_out.push(offer);
                } else {
                    chosen.shown.push(offer);
                }
                if let Some(taken) = zone_taken.get_mut(rules.zone) {
                    *taken = true;
                }
                zones_left -= 1;
                if zones_left == 0 {
                    return chosen;
                }
            }
        }
        chosen
    }

    /// Whether offer `i` may compete for this visitor: not in a split, or the split's
    /// choice for them.
    fn split_picks(&self, i: usize, offer: &Offer, audience: Audience<'_>) -> bool {
        let Some(split) = self
            .split_of
            .get(i)
            .copied()
            .flatten()
            .and_then(|s| self.splits.get(s))
        else {
            return true;
        };
        split_choice(
            audience.account_id,
            split.campaign_id,
            split.zone_id,
            audience.visitor_id,
            &split.weighted,
        ) == Some(offer.engagement_id)
    }

    /// The decision with a new engagement context (`contextId`) for each engagement
    /// shown. Nothing is recorded: `START` comes from whoever shows it.
    pub fn show(&self, page: &PageView<'_>) -> Vec<Shown<'_>> {
        Self::contexts(self.decide(page))
    }

    /// [`AccountSnapshot::show`] for a known visitor ([`AccountSnapshot::decide_for`]),
    /// with the eligibility records of the decision (docs/analytics.md): one per
    /// engagement shown and one per engagement held out, at `now_ms`.
    pub fn show_for(
        &self,
        page: &PageView<'_>,
        audience: Audience<'_>,
        now_ms: i64,
    ) -> (Vec<Shown<'_>>, Vec<EligibilityRecord>) {
        let decision = self.decide_for(page, audience);
        let record = |offer: &Offer, control: bool| EligibilityRecord {
            campaign_id: offer.campaign_id,
            engagement_id: offer.engagement_id,
            visitor_id: audience.visitor_id.to_owned(),
            control,
            at_ms: now_ms,
            bot: false,
        };
        let records = decision
            .shown
            .iter()
            .map(|o| record(o, false))
            .chain(decision.held_out.iter().map(|o| record(o, true)))
            .collect();
        (Self::contexts(decision.shown), records)
    }

    fn contexts(chosen: Vec<&Offer>) -> Vec<Shown<'_>> {
        let now_ms = engage_store::ids::now_ms();
        chosen
            .into_iter()
            .map(|offer| Shown {
                offer,
                context_id: engage_store::ids::context_id_at(now_ms),
            })
            .collect()
    }

    /// The engagements whose index condition the page view meets.
    fn candidates(&self, page: &PageView<'_>, page_sections: &[u32], url_memo: &mut [u8]) -> Bits {
        let mut candidates = self.always.clone();
        for id in page_sections {
            if let Some(bits) = self.include_bits.get(*id as usize) {
                or_into(&mut candidates, bits);
            }
        }
        for index in &self.text_index {
            index.path.any(page.sdes, &mut |value| {
                if let Some(bits) = index.by_value.get(lowercase(value).as_ref()) {
                    or_into(&mut candidates, bits);
                }
                false
            });
        }
        for index in &self.number_index {
            let (mut max, mut min) = (f64::NEG_INFINITY, f64::INFINITY);
            index.path.any(page.sdes, &mut |value| {
                if let Some(x) = as_number(value) {
                    max = max.max(x);
                    min = min.min(x);
                }
                false
            });
            for (threshold, inclusive, i) in &index.above {
                if *threshold > max {
                    break;
                }
                if *threshold < max || *inclusive {
                    set_bit(&mut candidates, *i);
                }
            }
            for (threshold, inclusive, i) in &index.below {
                if *threshold < min {
                    break;
                }
                if *threshold > min || *inclusive {
                    set_bit(&mut candidates, *i);
                }
            }
        }
        for index in &self.exists_index {
            if index.path.any(page.sdes, &mut |_| true) {
                or_into(&mut candidates, &index.bits);
            }
        }
        if !self.url_keys.is_empty() {
            self.url_matcher.evaluate(page.url, url_memo);
            for (id, bits) in &self.url_keys {
                if self.url_matches(*id, page.url, url_memo) {
                    or_into(&mut candidates, bits);
                }
            }
        }
        debug_assert_eq!(candidates.len(), self.words);
        candidates
    }

    fn url_matches(&self, id: u32, url: &str, url_memo: &mut [u8]) -> bool {
        memoized(url_memo, id, || {
            self.url_rules
                .get(id as usize)
                .is_some_and(|rule| rule.matches(url))
        })
    }

    /// The rules of one engagement, cheapest first.
    fn eligible(
        &self,
        rules: &Rules,
        offer: &Offer,
        page: &PageView<'_>,
        page_sections: &[u32],
        url_memo: &mut [u8],
        condition_memo: &mut [u8],
    ) -> bool {
        if !rules.include_sections.is_empty()
            && !rules
                .include_sections
                .iter()
                .any(|id| page_sections.contains(id))
        {
            return false;
        }
        if rules
            .exclude_sections
            .iter()
            .any(|id| page_sections.contains(id))
        {
            return false;
        }
        if let Some(max) = rules.max_impressions {
            let seen = page
                .impressions
                .binary_search_by_key(&offer.engagement_id, |(id, _)| *id)
                .ok()
                .and_then(|at| page.impressions.get(at))
                .map_or(0, |(_, n)| *n);
            if seen >= u64::from(max) {
                return false;
            }
        }
        if !rules.windows.is_empty() && !page.recent.allows(offer.engagement_id, &rules.windows) {
            return false;
        }
        if !rules.url_include.is_empty()
            && !rules
                .url_include
                .iter()
                .any(|id| self.url_matches(*id, page.url, url_memo))
        {
            return false;
        }
        if rules
            .url_exclude
            .iter()
            .any(|id| self.url_matches(*id, page.url, url_memo))
        {
            return false;
        }
        rules.conditions.iter().all(|id| {
            memoized(condition_memo, *id, || {
                self.conditions
                    .get(*id as usize)
                    .is_some_and(|c| c.holds(page.sdes))
            })
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::decision::test_support::{campaign, engagement, ids, page, Lcg, URL_PARTS};
    use serde_json::json;

    #[test]
    fn sections_index_spans_many_words_of_engagements() {
        // 200 engagements in their own zones, a third of them per section: the candidate
        // bit sets run over four 64-bit words.
        let engagements: Vec<_> = (0..200u64)
            .map(|i| {
                engagement(
                    1,
                    1000 + i,
                    Some(i),
                    json!({"sections": {"include": [format!("S{}", i % 3)]}}),
                )
            })
            .collect();
        let snapshot = AccountSnapshot::build(vec![], &[campaign(1, 1, true)], engagements);
        assert_eq!(snapshot.len(), 200);
        let sdes = VisitSdes::default();
        let sections = vec!["s1".to_owned()];
        let expected: Vec<u64> = (0..200u64)
            .filter(|i| i % 3 == 1)
            .map(|i| 1000 + i)
            .collect();
        assert_eq!(ids(&snapshot.decide(&page(&sections, &sdes))), expected);
        assert!(snapshot.decide(&page(&[], &sdes)).is_empty());
    }

    #[test]
    fn disabled_campaigns_and_offline_hidden_engagements_are_left_out() {
        let mut hidden = engagement(1, 11, Some(2), json!({}));
        hidden.definition.hide_when_offline = true;
        hidden.state = AgentState::Offline;
        let mut busy = engagement(1, 12, Some(3), json!({}));
        busy.definition.hide_when_offline = true;
        busy.state = AgentState::Busy;
        let snapshot = AccountSnapshot::build(
            vec![],
            &[campaign(1, 1, true), campaign(2, 1, false)],
            vec![
                engagement(1, 10, Some(1), json!({})),
                hidden,
                busy,
                engagement(2, 20, Some(4), json!({})),
                engagement(3, 30, Some(5), json!({})),
            ],
        );
        let sdes = VisitSdes::default();
        assert_eq!(ids(&snapshot.decide(&page(&[], &sdes))), [10, 12]);
        assert!(!snapshot.needs_sdes() && !snapshot.needs_impressions());
    }

    #[test]
    fn the_frequency_cap_reads_the_sorted_impression_counts() {
        let snapshot = AccountSnapshot::build(
            vec![],
            &[campaign(1, 1, true), campaign(2, 2, true)],
            vec![
                engagement(1, 10, Some(1), json!({"frequency": {"maxImpressions": 2}})),
                engagement(2, 20, Some(1), json!({})),
            ],
        );
        assert!(snapshot.needs_impressions());
        let sdes = VisitSdes::default();
        let decide = |impressions: &[(u64, u64)]| {
            ids(&snapshot.decide(&PageView {
                url: "",
                sections: &[],
                sdes: &sdes,
                impressions,
                recent: &RecentShows::default(),
            }))
        };
        assert_eq!(decide(&[]), [10]);
        assert_eq!(decide(&[(5, 9), (10, 1), (20, 7)]), [10]);
        assert_eq!(decide(&[(5, 9), (10, 2)]), [20]);
    }

    #[test]
    fn caps_with_a_time_window_count_impressions_per_session_day_and_week_and_pause_after_a_decline(
    ) {
        const NOW: i64 = 1_750_000_000_000;
        let build = |frequency: serde_json::Value| {
            AccountSnapshot::build(
                vec![],
                &[campaign(1, 1, true), campaign(2, 2, true)],
                vec![
                    engagement(1, 10, Some(1), json!({ "frequency": frequency })),
                    engagement(2, 20, Some(1), json!({})),
                ],
            )
        };
        let shown =
            |session: &str, ago_ms: i64, impressed: bool, declined: bool| RecentInteraction {
                engagement_id: 10,
                session_id: session.into(),
                start_ms: NOW - ago_ms,
                impressed,
                declined,
            };
        let sdes = VisitSdes::default();
        let decide = |snapshot: &AccountSnapshot, shows: Vec<RecentInteraction>| {
            let recent = RecentShows {
                now_ms: NOW,
                session_id: "s-now".into(),
                shows,
            };
            ids(&snapshot.decide(&PageView {
                url: "",
                sections: &[],
                sdes: &sdes,
                impressions: &[],
                recent: &recent,
            }))
        };
        const HOUR: i64 = 3_600_000;
        let per_session = build(json!({"maxPerSession": 2}));
        assert_eq!(per_session.recent_days(), 7);
        assert!(!per_session.needs_impressions());
        assert_eq!(
            decide(&per_session, vec![shown("s-now", 1, true, false)]),
            [10]
        );
        assert_eq!(
            decide(
                &per_session,
                vec![
                    shown("s-now", 1, true, false),
                    shown("s-now", 2, true, false)
                ]
            ),
            [20]
        );
        // Other sessions, and contexts without an impression, do not count.
        assert_eq!(
            decide(
                &per_session,
                vec![
                    shown("s-now", 1, true, false),
                    shown("s-old", 2, true, false),
                    shown("s-now", 3, false, false)
                ]
            ),
            [10]
        );
        let per_day = build(json!({"maxPerDay": 1}));
        assert_eq!(
            decide(&per_day, vec![shown("a", 23 * HOUR, true, false)]),
            [20]
        );
        assert_eq!(
            decide(&per_day, vec![shown("a", 25 * HOUR, true, false)]),
            [10]
        );
        let per_week = build(json!({"maxPerWeek": 2}));
        let twice = vec![
            shown("a", 2 * 24 * HOUR, true, false),
            shown("b", 6 * 24 * HOUR, true, false),
        ];
        assert_eq!(decide(&per_week, twice), [20]);
        let once_in_the_week = vec![
            shown("a", 2 * 24 * HOUR, true, false),
            shown("b", 8 * 24 * HOUR, true, false),
        ];
        assert_eq!(decide(&per_week, once_in_the_week), [10]);
        let decline = build(json!({"declineDays": 30}));
        assert_eq!(decline.recent_days(), 30);
        assert_eq!(
            decide(&decline, vec![shown("a", 29 * 24 * HOUR, true, true)]),
            [20]
        );
        assert_eq!(
            decide(&decline, vec![shown("a", 31 * 24 * HOUR, true, true)]),
            [10]
        );
        assert_eq!(decide(&decline, vec![shown("a", HOUR, true, false)]), [10]);
        assert_eq!(build(json!({"maxImpressions": 3})).recent_days(), 0);
    }

    const SECTIONS: [&str; 5] = ["shop", "Cart", "checkout", "shoes", "home"];
    const TYPES: [&str; 4] = ["vip", "VIP", "gold", "élite"];
    const CATEGORIES: [&str; 4] = ["shoes", "bags", "Hats", "socks"];

    fn random_targeting(r: &mut Lcg) -> serde_json::Value {
        let mut t = serde_json::Map::new();
        if r.next(3) == 0 {
            let include: Vec<&str> = (0..r.next(3)).map(|_| r.pick(&SECTIONS)).collect();
            let exclude: Vec<&str> = (0..r.next(2)).map(|_| r.pick(&SECTIONS)).collect();
            t.insert(
                "sections".into(),
                json!({"include": include, "exclude": exclude}),
            );
        }
        if r.next(2) == 0 {
            let rule = |r: &mut Lcg| match r.next(3) {
                0 => json!({"contains": r.pick(&URL_PARTS)}),
                1 => json!({"prefix": r.pick(&URL_PARTS)}),
                _ => json!({"regex": format!("{}$", regex::escape(r.pick(&URL_PARTS)))}),
            };
            let include: Vec<_> = (0..r.next(3)).map(|_| rule(r)).collect();
            let exclude: Vec<_> = (0..r.next(2)).map(|_| rule(r)).collect();
            t.insert(
                "url".into(),
                json!({"include": include, "exclude": exclude}),
            );
        }
        let conditions: Vec<_> = (0..r.next(3))
            .map(|_| match r.next(8) {
                0 => json!({"path": "customerInfo.customerType", "op": "eq", "value": r.pick(&TYPES)}),
                1 => json!({"path": "customerInfo.customerType", "op": "in", "value": [r.pick(&TYPES), r.pick(&TYPES)]}),
                2 => {
                    let op = ["gt", "gte", "lt", "lte"][r.next(4) as usize];
                    json!({"path": "cartStatus.total", "op": op, "value": r.next(5) * 50})
                }
                3 => json!({"path": "viewedProduct.products.product.category", "op": "eq", "value": r.pick(&CATEGORIES)}),
                4 => json!({"path": "cartStatus.total", "op": "exists", "value": r.next(2) == 0}),
                5 => json!({"path": "customerInfo.customerType", "op": "ne", "value": r.pick(&TYPES)}),
                6 => json!({"path": "cartStatus.total", "op": "eq", "value": r.next(5) * 50}),
                _ => json!({"path": "viewedProduct.products.product.category", "op": "contains", "value": "s"}),
            })
            .collect();
        if !conditions.is_empty() {
            t.insert("sdes".into(), json!(conditions));
        }
        if r.next(5) == 0 {
            t.insert("frequency".into(), json!({"maxImpressions": 1 + r.next(3)}));
        }
        serde_json::Value::Object(t)
    }

    fn random_visit(r: &mut Lcg) -> VisitSdes {
        let mut sdes = VisitSdes::default();
        let mut push = |text: String| {
            let tape = engage_model::Tape::parse_str(&text).unwrap();
            sdes.record(engage_model::Sde::read_page(tape.root()).unwrap());
        };
        if r.next(2) == 0 {
            push(format!(r#"{{"type":"cart","total":{}}}"#, r.next(5) * 50));
        }
        if r.next(2) == 0 {
            push(format!(
                r#"{{"type":"ctmrinfo","info":{{"ctype":"{}"}}}}"#,
                r.pick(&TYPES)
            ));
        }
        for _ in 0..r.next(3) {
            push(format!(
                r#"{{"type":"prodView","products":[{{"product":{{"category":"{}"}}}}]}}"#,
                r.pick(&CATEGORIES)
            ));
        }
        sdes
    }
    #[test]
    fn the_index_never_changes_the_decision() {
        let mut r = Lcg(7);
        let campaigns: Vec<Campaign> = (1..=5).map(|c| campaign(c, (c % 3) as u32, true)).collect();
        let engagements: Vec<Engagement> = (0..300)
            .map(|i| {
                let zone = (r.next(12) != 0).then(|| r.next(12));
                engagement(1 + r.next(5), 1000 + i, zone, random_targeting(&mut r))
            })
            .collect();
        let snapshot = AccountSnapshot::build(vec![], &campaigns, engagements);
        assert_eq!(snapshot.len(), 300);
        let mut shown = 0;
        for _ in 0..500 {
            let sections: Vec<String> = (0..r.next(3))
                .map(|_| r.pick(&SECTIONS).to_owned())
                .collect();
            let url = format!(
                "https://shop.example{}{}",
                r.pick(&["/", "/sale/", "/cart", "/p/1", "/x/sale/"]),
                r.pick(&["", "shop", "/cart"])
            );
            let sdes = random_visit(&mut r);
            let mut impressions: Vec<(u64, u64)> = Vec::new();
            for e in 1000..1300 {
                if r.next(4) == 0 {
                    impressions.push((e, r.next(4)));
                }
            }
            let page = PageView {
                url: &url,
                sections: &sections,
                sdes: &sdes,
                impressions: &impressions,
                recent: &RecentShows::default(),
            };
            let indexed = ids(&snapshot.decide_with(&page, None, true).shown);
            assert_eq!(
                indexed,
                ids(&snapshot.decide_with(&page, None, false).shown),
                "{url} {sections:?} {sdes:?}"
            );
            shown += indexed.len();
        }
        assert!(
            shown > 500,
            "the generated pages should show engagements, showed {shown}"
        );
    }
}
