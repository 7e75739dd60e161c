//! What the unit tests of the decision share: stored campaigns and engagements, a page
//! view, and a deterministic generator.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use engage_model::{AgentState, EngagementType, VisitSdes};
use engage_store::{
    Campaign, CampaignFields, Engagement, EngagementContent, EngagementDefinition, RawJson,
};

use super::offer::Offer;
use super::snapshot::PageView;

pub(super) fn campaign(id: u64, priority: u32, enabled: bool) -> Campaign {
    Campaign {
        id,
        fields: CampaignFields {
            name: format!("c{id}"),
            goal: None,
            priority,
            enabled,
            control_group_percent: 0,
            attribution_window_days: 7,
        },
        created_ms: 1,
        updated_ms: 1,
    }
}

pub(super) fn engagement(
    campaign_id: u64,
    id: u64,
    zone_id: Option<u64>,
    targeting: serde_json::Value,
) -> Engagement {
    Engagement {
        campaign_id,
        id,
        revision: 1,
        latest_revision: 1,
        state: AgentState::Online,
        definition: EngagementDefinition {
            name: format!("e{id}"),
            engagement_type: EngagementType::Overlay,
            tgl_name: "overlay".into(),
            zone_id,
            timeout_seconds: None,
            targeting: RawJson::to_json(&targeting).unwrap(),
            content: EngagementContent::default(),
            hide_when_offline: false,
            action: None,
            weight: None,
        },
        created_ms: i64::try_from(id).unwrap(),
        revised_ms: 1,
    }
}

pub(super) fn ids(offers: &[&Offer]) -> Vec<u64> {
    offers.iter().map(|o| o.engagement_id).collect()
}

static NO_RECENT: std::sync::LazyLock<super::RecentShows> =
    std::sync::LazyLock::new(super::RecentShows::default);

pub(super) fn page<'a>(sections: &'a [String], sdes: &'a VisitSdes) -> PageView<'a> {
    PageView {
        url: "https://shop.example/",
        sections,
        sdes,
        impressions: &[],
        recent: &NO_RECENT,
    }
}

/// A small deterministic generator, so the tests explore many combinations and fail
/// the same way every time.
pub(super) struct Lcg(pub(super) u64);

impl Lcg {
    pub(super) fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }

    pub(super) fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.next(items.len() as u64) as usize]
    }
}

pub(super) const URL_PARTS: [&str; 5] = [
    "/cart",
    "/sale/",
    "https://shop.example/sale/",
    "/p/1",
    "shop",
];
