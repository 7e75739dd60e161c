//! The console's Overview and Results over real HTTP, on a scenario with known figures:
//! what they show is what the analytics API answers for the same period.

use serde_json::json;

use crate::admin_support::{campaign, collect, decide, engagement, impression, page};
use crate::common::TestServer;
use crate::console::sign_in_as;

/// The page's text without its tags, spaces collapsed.
fn text(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What follows the tag that holds the first `marker`, up to the end of its section.
fn after<'a>(html: &'a str, marker: &str) -> &'a str {
    let at = html
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in {html}"));
    let rest = &html[at..];
    // From the end of the marker's tag.
    let rest = &rest[rest.find('>').map_or(0, |end| end + 1)..];
    &rest[..rest.find("</section>").unwrap_or(rest.len())]
}

/// Three visitors see the banner, one clicks it and buys for 12.50 USD.
async fn scenario(server: &TestServer) -> (u64, u64) {
    let campaign_id = campaign(server, "Winter sale", 10).await;
    let e = engagement(
        server,
        campaign_id,
        &json!({"name": "Snow banner", "engagementType": 5, "zoneId": 1}),
    )
    .await;
    for visitor in ["a", "b", "c"] {
        let (status, _) = decide(
            server,
            &page(visitor, "https://shop.example/", &[], json!([])),
        )
        .await;
        assert_eq!(status, 200);
        let session = format!("{visitor}-s");
        let seen = impression(&format!("{visitor}-1"), &e, &format!("ctx-{visitor}"));
        collect(server, visitor, &session, vec![seen], vec![]).await;
    }
    let mut click = impression("a-2", &e, "ctx-a");
    click["eventName"] = json!("OFFER_CLICK");
    collect(server, "a", "a-s", vec![click], vec![]).await;
    let purchase =
        json!({"type": "purchase", "total": "12.50", "currency": "USD", "orderId": "o1"});
    collect(server, "a", "a-s", vec![], vec![purchase]).await;
    (campaign_id, e["engagementId"].as_u64().unwrap())
}

#[tokio::test]
async fn overview_and_results_show_the_reports_figures_of_a_known_scenario() {
    let server = TestServer::start().await;
    let (campaign_id, engagement_id) = scenario(&server).await;
    let signed = sign_in_as(&server, &server.account_id, &server.api_key).await;

    let (status, overview) = signed.page(&server, "/console/?period=today").await;
    assert_eq!(status, 200, "{overview}");
    let figure = |name: &str| {
        text(
            after(&overview, &format!("data-figure=\"{name}\""))
                .split("</div>")
                .next()
                .unwrap(),
        )
    };
    assert_eq!(
        figure("Visitors"),
        format!("Visitors 3 no previous figure"),
        "{overview}"
    );
    assert!(
        figure("Impressions").starts_with("Impressions 3 "),
        "{overview}"
    );
    assert!(figure("Clicks").starts_with("Clicks 1 "), "{overview}");
    assert!(
        figure("Conversions").starts_with("Conversions 1 "),
        "{overview}"
    );
    assert!(
        figure("Revenue").starts_with("Revenue 12.5 USD "),
        "{overview}"
    );
    // No control group: no lift.
    assert!(figure("Lift").starts_with("Lift — "), "{overview}");
    // The chart: one SVG, a line per series.
    let chart = after(&overview, "data-chart=\"overview\"");
    assert!(
        chart.contains("<svg") && chart.matches("<polyline").count() == 3,
        "{chart}"
    );
    let top = text(after(&overview, "id=\"top\""));
    assert!(top.contains("Snow banner 3 1 1"), "{top}");
    assert!(
        overview.contains(&format!(
            "/console/results?campaign={campaign_id}&amp;engagement={engagement_id}"
        )),
        "{overview}"
    );

    let (status, results) = signed
        .page(
            &server,
            format!(
        "/console/results?period=7d&campaign={campaign_id}&steps=impression,+click,+purchase"
    ),
        )
        .await;
    assert_eq!(status, 200, "{results}");
    let exposed = text(after(&results, &format!("data-campaign=\"{campaign_id}\"")));
    assert!(exposed.contains("Exposed 3 3 1 1"), "{exposed}");
    assert!(exposed.contains("Control 0"), "{exposed}");
    let funnel = text(after(&results, "id=\"funnel\""));
    assert!(
        funnel.contains("impression: 3 visitors click: 1 visitor purchase: 1 visitor"),
        "{funnel}"
    );
    assert!(after(&results, "id=\"funnel\"").matches("<rect").count() >= 3);
    assert!(
        results.contains(&format!("value=\"{campaign_id}\" selected")),
        "{results}"
    );

    // A step the funnel does not know: said beside the field, the rest still shown.
    let (status, wrong) = signed
        .page(&server, "/console/results?steps=impression,+teleport")
        .await;
    assert_eq!(status, 200);
    assert!(
        wrong.contains("id=\"r-steps-error\"") && text(&wrong).contains("unknown steps: teleport"),
        "{wrong}"
    );
    // Custom dates that are not dates: said beside the date.
    let (_, bad) = signed
        .page(&server, "/console/?period=custom&from=soon&to=2026-12-01")
        .await;
    assert!(bad.contains("id=\"p-from-error\""), "{bad}");
}

#[tokio::test]
async fn the_campaigns_list_shows_the_control_group_and_the_last_seven_days() {
    let server = TestServer::start().await;
    let (campaign_id, engagement_id) = scenario(&server).await;
    // A control group and a window, set through the API the console's form calls.
    let (status, _) = crate::admin_support::put(
        &server,
        &format!("/campaigns/{campaign_id}"),
        &json!({"name": "Winter sale", "priority": 10, "controlGroupPercent": 20, "attributionWindowDays": 14}),
    )
    .await;
    assert_eq!(status, 200);
    let signed = sign_in_as(&server, &server.account_id, &server.api_key).await;
    let (status, list) = signed.page(&server, "/console/campaigns").await;
    assert_eq!(status, 200, "{list}");
    let row = text(after(&list, "aria-label=\"Campaigns table\""));
    // Name, status, priority, engagements, control group, impressions, clicks, conversions.
    assert!(row.contains("Winter sale Enabled 10 1 20 % 3 1 1"), "{row}");
    // Enabling or disabling sends the campaign whole: its control group and window stay.
    assert!(
        list.contains("name=\"/controlGroupPercent\" data-type=\"number\" value=\"20\"")
            && list.contains("name=\"/attributionWindowDays\" data-type=\"number\" value=\"14\""),
        "{list}"
    );
    // The form and the engagement editor carry the new members.
    let (_, form) = signed
        .page(&server, format!("/console/campaigns/{campaign_id}"))
        .await;
    assert!(
        form.contains("id=\"campaign-control\"") && form.contains("value=\"20\""),
        "{form}"
    );
    let (_, editor) = signed
        .page(
            &server,
            format!("/console/campaigns/{campaign_id}/engagements/{engagement_id}"),
        )
        .await;
    assert!(
        editor.contains("name=\"/weight\"") && editor.contains("name=\"/action/type\""),
        "{editor}"
    );
}

#[tokio::test]
async fn results_show_a_coupons_reveals_and_copies_when_it_has_some() {
    let server = TestServer::start().await;
    let campaign_id = campaign(&server, "Coupons", 10).await;
    let e = engagement(
        &server,
        campaign_id,
        &json!({"name": "Spring coupon", "engagementType": 2,
                "action": {"type": "coupon", "code": "SPRING-25"}}),
    )
    .await;
    let mut events = vec![impression("c-1", &e, "ctx-c")];
    for (id, app, name) in [
        ("c-2", "LP_OFFERS", "OFFER_CLICK"),
        ("c-3", "ENGAGE_ACTION", "COUPON_REVEALED"),
        ("c-4", "ENGAGE_ACTION", "COUPON_COPIED"),
        ("c-5", "ENGAGE_ACTION", "COUPON_COPIED"),
    ] {
        let mut event = impression(id, &e, "ctx-c");
        event["appName"] = json!(app);
        event["eventName"] = json!(name);
        events.push(event);
    }
    collect(&server, "v", "v-s", events, vec![]).await;
    let signed = sign_in_as(&server, &server.account_id, &server.api_key).await;
    let (_, results) = signed
        .page(
            &server,
            format!("/console/results?period=7d&campaign={campaign_id}"),
        )
        .await;
    let exposed = text(after(&results, &format!("data-campaign=\"{campaign_id}\"")));
    assert!(
        exposed.contains("Coupons revealed: 1 · copied: 2"),
        "{exposed}"
    );
    assert!(exposed.contains("Exposed 0 1 1"), "{exposed}");
}

#[tokio::test]
async fn days_and_hours_are_the_browsers_zone() {
    use jiff::{Timestamp, Zoned};
    let server = TestServer::start().await;
    scenario(&server).await;
    let signed = sign_in_as(&server, &server.account_id, &server.api_key).await;
    // Kiritimati is UTC+14 and Pago Pago UTC-11: their dates always differ, and at least
    // one differs from UTC's.
    for zone in ["Pacific/Kiritimati", "Pacific/Pago_Pago"] {
        let tz = jiff::tz::TimeZone::get(zone).unwrap();
        let before: Zoned = Timestamp::now().to_zoned(tz.clone());
        let (status, week) = signed
            .page_in_zone(&server, "/console/?period=7d", zone)
            .await;
        let (_, today) = signed
            .page_in_zone(&server, "/console/?period=today", zone)
            .await;
        let after: Zoned = Timestamp::now().to_zoned(tz);
        assert_eq!(status, 200, "{week}");
        assert!(
            week.contains(&format!("Days and hours in <span data-zone>{zone}</span>.")),
            "{week}"
        );
        assert!(week.contains("data-zoned"), "{week}");
        // The last day of the 7 is the zone's today.
        let label = |z: &Zoned| format!("{:02}-{:02}", z.month(), z.day());
        let chart = after_tag(&week, "data-chart=\"overview\"");
        assert!(
            chart.contains(&format!("Visitors, impressions and clicks by day ({zone})")),
            "{chart}"
        );
        assert!(
            chart.contains(&format!("Visitors, {}: 3", label(&before)))
                || chart.contains(&format!("Visitors, {}: 3", label(&after))),
            "the three visitors are on {zone}'s today: {chart}"
        );
        // Today is drawn by the zone's hours, from its midnight; the visitors in this hour.
        let chart = after_tag(&today, "data-chart=\"overview\"");
        assert!(chart.contains(&format!("by hour ({zone})")), "{chart}");
        assert!(chart.contains("Visitors, 00:00: "), "{chart}");
        let hour = |z: &Zoned| format!("Visitors, {:02}:00: 3", z.hour());
        assert!(
            chart.contains(&hour(&before)) || chart.contains(&hour(&after)),
            "the three visitors are in {zone}'s hour: {chart}"
        );
        // The figures are the zone's today's.
        assert!(text(&today).contains("Visitors 3 "), "{today}");
    }
    // An unknown zone is UTC.
    let (status, page) = signed
        .page_in_zone(&server, "/console/?period=7d", "Mars/Olympus_Mons")
        .await;
    assert_eq!(status, 200);
    assert!(
        page.contains("Days and hours in <span data-zone>UTC</span>."),
        "{page}"
    );
}

/// From `marker` to the end of its section, tags kept.
fn after_tag<'a>(html: &'a str, marker: &str) -> &'a str {
    let rest = &html[html
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in {html}"))..];
    &rest[..rest.find("</section>").unwrap_or(rest.len())]
}
