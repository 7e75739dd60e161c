//! `engage serve --demo`: a demo account whose campaign targets the demo shop's pages
//! (`web/demo/`), made through the server's own admin API so it is validated like any other.

use anyhow::Context;
use engage_bench::http_client::Connection;
use engage_store::{NewAccount, Store};

/// The campaign and its six engagements, one of each type (shared with `web/demo-setup.mjs`).
const DEMO_CAMPAIGN: &str = include_str!("../../../web/demo/campaign.json");

pub struct DemoAccount {
    pub account_id: String,
    pub api_key: String,
}

/// Creates the account in the store (before the server takes requests).
pub async fn create_account(store: &dyn Store) -> anyhow::Result<DemoAccount> {
    let (api_key, api_key_hash) = engage_server::accounts::generate_api_key()
        .map_err(|e| anyhow::anyhow!("the system has no randomness for an api key: {e}"))?;
    let account = store
        .create_account(NewAccount {
            name: "Leaf & Kettle (demo)".into(),
            api_key_hash,
        })
        .await?;
    Ok(DemoAccount {
        account_id: account.id,
        api_key,
    })
}

/// Makes the demo campaign and engagements through the admin API of the server at `address`.
pub async fn create_campaign(address: &str, demo: &DemoAccount) -> anyhow::Result<usize> {
    let definition: serde_json::Value =
        serde_json::from_str(DEMO_CAMPAIGN).context("web/demo/campaign.json is not JSON")?;
    let mut connection = Connection::open(address).await?;
    let base = format!("/api/account/{}", demo.account_id);
    let key = Some(demo.api_key.as_str());
    let (status, body) = connection
        .post_json_as(
            &format!("{base}/campaigns"),
            definition["campaign"].to_string(),
            key,
        )
        .await?;
    anyhow::ensure!(
        status == 201,
        "creating the demo campaign answered {status}: {}",
        String::from_utf8_lossy(&body)
    );
    let campaign: serde_json::Value = serde_json::from_slice(&body)?;
    let campaign_id = &campaign["campaignId"];
    let engagements = definition["engagements"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    for engagement in engagements {
        let (status, body) = connection
            .post_json_as(
                &format!("{base}/campaigns/{campaign_id}/engagements"),
                engagement.to_string(),
                key,
            )
            .await?;
        anyhow::ensure!(
            status == 201,
            "creating a demo engagement answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    Ok(engagements.len())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_compiled_in_campaign_has_one_engagement_of_each_type() {
        let definition: serde_json::Value = serde_json::from_str(super::DEMO_CAMPAIGN).unwrap();
        let mut types: Vec<u64> = definition["engagements"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["engagementType"].as_u64().unwrap())
            .collect();
        types.sort_unstable();
        assert_eq!(types, [0, 1, 2, 3, 5, 6]);
    }
}
