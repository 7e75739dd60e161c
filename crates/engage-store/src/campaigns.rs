//! Campaigns, engagements and app installations: the records and [`CampaignStore`], the
//! part of a backend that holds what the decision chooses from.
//!
//! An engagement has numbered revisions: every change of its definition writes a new
//! one (revision `n + 1`) and every revision stays readable, so history can show what a
//! visitor saw. Its agent state (online, offline, busy) is not part of the definition and
//! changes without a new revision.

use async_trait::async_trait;
use engage_model::{AgentState, ConfKey, EngagementType};

use crate::StoreError;

/// An app installation: what the Monitoring API's `{appInstallationId}` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppInstallation {
    /// A UUID, as the platform's app installation ids are.
    pub id: String,
    pub name: String,
    pub created_ms: i64,
}

/// What a campaign is made of; a create or an update gives all of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignFields {
    pub name: String,
    pub goal: Option<String>,
    /// Lower comes first when two engagements compete for a zone.
    pub priority: u32,
    /// A disabled campaign shows nothing; deleting a campaign disables it, so history
    /// still finds its name.
    pub enabled: bool,
    /// The share of visitors (0 to 50 percent) held out as the campaign's control group:
    /// they are recorded as eligible but shown none of its engagements
    /// (docs/analytics.md, Control groups).
    pub control_group_percent: u8,
    /// How long after a visitor's first eligibility a purchase counts as a conversion of
    /// the campaign, in days (1 to 31).
    pub attribution_window_days: u8,
}

impl CampaignFields {
    /// No control group unless one is asked for.
    pub const DEFAULT_CONTROL_GROUP_PERCENT: u8 = 0;
    /// LivePerson's default attribution window.
    pub const DEFAULT_ATTRIBUTION_WINDOW_DAYS: u8 = 7;
    pub const MAX_CONTROL_GROUP_PERCENT: u8 = 50;
    pub const MAX_ATTRIBUTION_WINDOW_DAYS: u8 = 31;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Campaign {
    /// A decimal number, like the platform's campaign ids.
    pub id: u64,
    pub fields: CampaignFields,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// What the tag renders besides the format: all optional, the tag has defaults.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EngagementContent {
    pub title: Option<String>,
    pub body: Option<String>,
    pub accept_label: Option<String>,
    pub close_label: Option<String>,
}

/// One revision of an engagement: everything a change of which bumps the revision.
#[derive(Debug, Clone, PartialEq)]
pub struct EngagementDefinition {
    pub name: String,
    pub engagement_type: EngagementType,
    /// The renderer; the server fills in the type's default when none is given.
    pub tgl_name: String,
    pub zone_id: Option<u64>,
    pub timeout_seconds: Option<u32>,
    /// The targeting rules in their canonical JSON form. The server validates them before
    /// they are stored; the store keeps them as they are.
    pub targeting: crate::RawJson,
    pub content: EngagementContent,
    /// Not shown while the agent state is offline.
    pub hide_when_offline: bool,
    /// What the accept button leads to (a link, a form, a coupon, a chat), in its
    /// canonical JSON form; validated by the server before it is stored, served to the
    /// tag as it is.
    pub action: Option<crate::RawJson>,
    /// The engagement's share of a traffic split: engagements of one campaign in one
    /// zone that carry a weight split its visitors between them by weight
    /// (docs/analytics.md, Traffic split). `None`: not part of a split.
    pub weight: Option<u32>,
}

/// One revision of an engagement, with the engagement's current state.
#[derive(Debug, Clone, PartialEq)]
pub struct Engagement {
    pub campaign_id: u64,
    pub id: u64,
    /// The revision this record shows.
    pub revision: u64,
    /// The engagement's newest revision (equal to `revision` unless an old one was asked for).
    pub latest_revision: u64,
    /// The agent state now, whichever revision is shown.
    pub state: AgentState,
    pub definition: EngagementDefinition,
    pub created_ms: i64,
    /// When this revision was written.
    pub revised_ms: i64,
}

impl Engagement {
    pub fn conf_key(&self) -> ConfKey {
        ConfKey {
            campaign_id: self.campaign_id,
            engagement_id: self.id,
            engagement_revision: self.revision,
        }
    }
}

/// One engagement context a visitor was shown, for the frequency caps with a time
/// window: when it started, in which session, and whether it reached an impression or
/// was declined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentInteraction {
    pub engagement_id: u64,
    pub session_id: String,
    /// Its first event's time (the page's clock, the server's when the page gave none).
    pub start_ms: i64,
    pub impressed: bool,
    pub declined: bool,
}

/// Storage for apps, campaigns and engagements, and the impression counts the frequency
/// cap reads. `Ok(None)` answers mean "no such campaign or engagement in this account".
#[async_trait]
pub trait CampaignStore: Send + Sync {
    /// Registers an app installation with a new id.
    async fn create_app(&self, account_id: &str, name: &str)
        -> Result<AppInstallation, StoreError>;

    /// The account's app installations, oldest first.
    async fn apps(&self, account_id: &str) -> Result<Vec<AppInstallation>, StoreError>;

    /// Creates a campaign with a new numeric id.
    async fn create_campaign(
        &self,
        account_id: &str,
        fields: CampaignFields,
    ) -> Result<Campaign, StoreError>;

    /// Replaces a campaign's fields.
    async fn update_campaign(
        &self,
        account_id: &str,
        campaign_id: u64,
        fields: CampaignFields,
    ) -> Result<Option<Campaign>, StoreError>;

    async fn campaign(
        &self,
        account_id: &str,
        campaign_id: u64,
    ) -> Result<Option<Campaign>, StoreError>;

    /// Every campaign of the account, enabled or not, by id.
    async fn campaigns(&self, account_id: &str) -> Result<Vec<Campaign>, StoreError>;

    /// Creates an engagement at revision 1 in a campaign of the account.
    async fn create_engagement(
        &self,
        account_id: &str,
        campaign_id: u64,
        definition: EngagementDefinition,
        state: AgentState,
    ) -> Result<Option<Engagement>, StoreError>;

    /// Writes the next revision of an engagement's definition.
    async fn revise_engagement(
        &self,
        account_id: &str,
        campaign_id: u64,
        engagement_id: u64,
        definition: EngagementDefinition,
    ) -> Result<Option<Engagement>, StoreError>;

    /// Sets the agent state without a new revision; answers the latest revision.
    async fn set_engagement_state(
        &self,
        account_id: &str,
        campaign_id: u64,
        engagement_id: u64,
        state: AgentState,
    ) -> Result<Option<Engagement>, StoreError>;

    /// One engagement at `revision`, or at its latest when `None`.
    async fn engagement(
        &self,
        account_id: &str,
        campaign_id: u64,
        engagement_id: u64,
        revision: Option<u64>,
    ) -> Result<Option<Engagement>, StoreError>;

    /// The latest revisions of a campaign's engagements (of every campaign of the
    /// account when `campaign_id` is `None`), by campaign then engagement id.
    async fn engagements(
        &self,
        account_id: &str,
        campaign_id: Option<u64>,
    ) -> Result<Vec<Engagement>, StoreError>;

    /// How many engagement contexts of each engagement reached `OFFER_IMPRESSION` for a
    /// visitor, over all their sessions: `(engagement_id, count)` by engagement id.
    async fn impression_counts(
        &self,
        account_id: &str,
        visitor_id: &str,
    ) -> Result<Vec<(u64, u64)>, StoreError>;

    /// A visitor's engagement contexts that started at `since_ms` or later, over all
    /// their sessions, newest first, at most `limit`.
    async fn recent_interactions(
        &self,
        account_id: &str,
        visitor_id: &str,
        since_ms: i64,
        limit: usize,
    ) -> Result<Vec<RecentInteraction>, StoreError>;
}
