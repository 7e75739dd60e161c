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

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use engage_model::{AgentState, EngagementType, VisitSdes};
use engage_store::{AppInstallation, Campaign, Engagement};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::targeting::{Condition, Targeting, UrlMatch};

/// What the tag needs to render one engagement, and what its `LP_OFFERS` events carry.
#[derive(Debug, Clone, PartialEq)]
pub struct Offer {
    pub campaign_id: u64,
    pub engagement_id: u64,
    pub engagement_revision: u64,
    pub engagement_type: EngagementType,
    pub zone_id: Option<u64>,
    pub state: AgentState,
    pub conf_key: String,
    pub tgl_name: String,
    pub engagement_name: String,
    pub timeout_seconds: Option<u32>,
    pub content: Content,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Content {
    pub title: Option<String>,
    pub body: Option<String>,
    pub accept_label: Option<String>,
    pub close_label: Option<String>,
}

/// An offer shown in one engagement context: the decision route's answer item.
pub struct Shown<'a> {
    pub offer: &'a Offer,
    pub context_id: String,
}

impl Serialize for Shown<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let o = self.offer;
        let mut map = s.serialize_map(Some(12))?;
        map.serialize_entry("campaignId", &o.campaign_id)?;
        map.serialize_entry("engagementId", &o.engagement_id)?;
        map.serialize_entry("engagementRevision", &o.engagement_revision)?;
        map.serialize_entry("engagementType", &o.engagement_type)?;
        map.serialize_entry("contextId", &self.context_id)?;
        map.serialize_entry("zoneId", &o.zone_id)?;
        map.serialize_entry("state", &o.state)?;
        map.serialize_entry("confKey", &o.conf_key)?;
        map.serialize_entry("tglName", &o.tgl_name)?;
        map.serialize_entry("engagementName", &o.engagement_name)?;
        map.serialize_entry("timeoutSeconds", &o.timeout_seconds)?;
        map.serialize_entry("content", &o.content)?;
        map.end()
    }
}

/// One page view as the decision sees it.
#[derive(Debug, Clone, Copy)]
pub struct PageView<'a> {
    pub url: &'a str,
    pub sections: &'a [String],
    /// The visit's merged attributes, with what this page pushed so far.
    pub sdes: &'a VisitSdes,
    /// Impressions of this visitor per engagement id, sorted by engagement id.
    pub impressions: &'a [(u64, u64)],
}

/// An engagement's rules with every name and pattern replaced by an interned index.
#[derive(Debug, Clone)]
struct Rules {
    zone: usize,
    exclude_sections: Box<[u32]>,
    url_include: Box<[u32]>,
    url_exclude: Box<[u32]>,
    conditions: Box<[u32]>,
    max_impressions: Option<u32>,
}

/// A fixed-size bit set over the engagements.
type Bits = Vec<u64>;

fn set_bit(bits: &mut Bits, i: usize) {
    if let Some(word) = bits.get_mut(i / 64) {
        *word |= 1 << (i % 64);
    }
}

/// What the memo of one interned rule holds during a decision.
const UNKNOWN: u8 = 0;
const FALSE: u8 = 1;
const TRUE: u8 = 2;

/// An account's apps and eligible engagements, ready to decide from.
#[derive(Debug, Default)]
pub struct AccountSnapshot {
    apps: HashSet<String>,
    offers: Vec<Offer>,
    rules: Vec<Rules>,
    always: Bits,
    /// Per interned section: the engagements that include it.
    include_bits: Vec<Bits>,
    section_ids: HashMap<String, u32>,
    url_rules: Vec<UrlMatch>,
    conditions: Vec<Condition>,
    zones: usize,
    has_caps: bool,
}

/// Lowercase without allocating when the name already is.
fn lowercase(name: &str) -> Cow<'_, str> {
    if name.is_ascii() && !name.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Borrowed(name)
    } else {
        Cow::Owned(name.to_lowercase())
    }
}

/// Interns values by key, handing out dense indexes.
struct Interner<T> {
    ids: HashMap<String, u32>,
    values: Vec<T>,
}

impl<T> Interner<T> {
    fn new() -> Self {
        Interner {
            ids: HashMap::new(),
            values: Vec::new(),
        }
    }

    fn intern(&mut self, key: String, value: impl FnOnce() -> T) -> u32 {
        let next = u32::try_from(self.values.len()).unwrap_or(u32::MAX);
        *self.ids.entry(key).or_insert_with(|| {
            self.values.push(value());
            next
        })
    }
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

        let n = ranked.len();
        let words = n.div_ceil(64);
        let mut snapshot = AccountSnapshot {
            apps: apps.into_iter().map(|a| a.id).collect(),
            always: vec![0; words],
            ..AccountSnapshot::default()
        };
        let mut zones: HashMap<Option<u64>, usize> = HashMap::new();
        let mut sections: Interner<()> = Interner::new();
        let mut url_rules: Interner<UrlMatch> = Interner::new();
        let mut conditions: Interner<Condition> = Interner::new();
        for (i, (_, e, targeting)) in ranked.into_iter().enumerate() {
            let d = &e.definition;
            let zone_count = zones.len();
            let zone = *zones.entry(d.zone_id).or_insert(zone_count);
            if targeting.sections.include.is_empty() {
                set_bit(&mut snapshot.always, i);
            }
            for name in &targeting.sections.include {
                let id = sections.intern(lowercase(name).into_owned(), || ()) as usize;
                if snapshot.include_bits.len() <= id {
                    snapshot.include_bits.resize(id + 1, Vec::new());
                }
                if let Some(bits) = snapshot.include_bits.get_mut(id) {
                    if bits.is_empty() {
                        bits.resize(words, 0);
                    }
                    set_bit(bits, i);
                }
            }
            let exclude_sections = targeting
                .sections
                .exclude
                .iter()
                .map(|name| sections.intern(lowercase(name).into_owned(), || ()))
                .collect();
            let mut url = |rule: &UrlMatch| {
                url_rules.intern(format!("{}\0{}", rule.kind(), rule.pattern()), || {
                    rule.clone()
                })
            };
            let url_include = targeting.url.include.iter().map(&mut url).collect();
            let url_exclude = targeting.url.exclude.iter().map(&mut url).collect();
            let conditions_of = targeting
                .sdes
                .iter()
                .map(|c| conditions.intern(c.to_json().to_string(), || c.clone()))
                .collect();
            snapshot.has_caps |= targeting.max_impressions.is_some();
            snapshot.rules.push(Rules {
                zone,
                exclude_sections,
                url_include,
                url_exclude,
                conditions: conditions_of,
                max_impressions: targeting.max_impressions,
            });
            snapshot.offers.push(Offer {
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
            });
        }
        snapshot.section_ids = sections.ids;
        snapshot.url_rules = url_rules.values;
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

    /// The engagements this page view shows: every eligible one whose zone no better
    /// ranked one took, in rank order. At most one per zone; engagements without a zone
    /// share one.
    pub fn decide(&self, page: &PageView<'_>) -> Vec<&Offer> {
        let mut chosen = Vec::new();
        if self.offers.is_empty() {
            return chosen;
        }
        let mut page_sections: Vec<u32> = Vec::with_capacity(page.sections.len());
        for name in page.sections {
            if let Some(id) = self.section_ids.get(lowercase(name).as_ref()) {
                page_sections.push(*id);
            }
        }
        let mut candidates = self.always.clone();
        for id in &page_sections {
            if let Some(bits) = self.include_bits.get(*id as usize) {
                for (word, more) in candidates.iter_mut().zip(bits) {
                    *word |= more;
                }
            }
        }
        let mut zone_taken = vec![false; self.zones];
        let mut zones_left = self.zones;
        let mut memo = vec![UNKNOWN; self.url_rules.len() + self.conditions.len()];
        let (url_memo, condition_memo) = memo.split_at_mut(self.url_rules.len());
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
                if !self.eligible(rules, offer, page, &page_sections, url_memo, condition_memo) {
                    continue;
                }
                chosen.push(offer);
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
                .map(|at| page.impressions[at].1)
                .unwrap_or(0);
            if seen >= u64::from(max) {
                return false;
            }
        }
        let mut url = |id: u32| {
            memoized(url_memo, id, || {
                self.url_rules
                    .get(id as usize)
                    .is_some_and(|rule| rule.matches(page.url))
            })
        };
        if !rules.url_include.is_empty() && !rules.url_include.iter().any(|id| url(*id)) {
            return false;
        }
        if rules.url_exclude.iter().any(|id| url(*id)) {
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

fn memoized(memo: &mut [u8], id: u32, evaluate: impl FnOnce() -> bool) -> bool {
    let Some(slot) = memo.get_mut(id as usize) else {
        return false;
    };
    match *slot {
        TRUE => true,
        FALSE => false,
        _ => {
            let result = evaluate();
            *slot = if result { TRUE } else { FALSE };
            result
        }
    }
}
