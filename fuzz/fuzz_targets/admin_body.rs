//! The admin API's bodies (apps, campaigns, engagements, availability, allowed origins,
//! retention)
//! see network bytes: none may panic, a refusal says why, and an accepted engagement's
//! targeting and action read back from their stored form. A webhook body is read too.
#![no_main]

use engage_server::decision::Targeting;
use engage_server::request::{
    Action, AllowedOriginsBody, AppNameBody, AvailabilityBody, CampaignFieldsBody,
    EngagementDefinitionBody, RetentionBody, WebhookBody,
};
use libfuzzer_sys::fuzz_target;

fn refusal_says_why<T>(read: Result<T, engage_model::Invalid>) -> Option<T> {
    read.map_err(|invalid| assert!(!invalid.errors.is_empty(), "a refusal says why"))
        .ok()
}

fuzz_target!(|data: &[u8]| {
    let Ok(tape) = engage_model::Tape::parse(data) else {
        return;
    };
    let json = tape.root();
    if let Some(app) = refusal_says_why(AppNameBody::read(json)) {
        assert!(!app.name.is_empty() && app.name.chars().count() <= 256);
    }
    if let Some(CampaignFieldsBody(fields)) = refusal_says_why(CampaignFieldsBody::read(json)) {
        assert!(fields.priority <= 1_000_000);
    }
    if let Some(EngagementDefinitionBody(definition)) =
        refusal_says_why(EngagementDefinitionBody::read(json))
    {
        let again = Targeting::from_stored(&definition.targeting).expect("stored targeting reads back");
        assert_eq!(again.to_stored(), definition.targeting);
        if let Some(action) = &definition.action {
            let stored = engage_model::Tape::parse_str(action.as_str()).expect("stored action is JSON");
            let mut errors = engage_model::body::Errors::new();
            let read = Action::parse(stored.root(), "/action", &mut errors).expect("stored action reads back");
            assert_eq!(&read.to_stored(), action);
        }
    }
    if let Some(webhook) = refusal_says_why(WebhookBody::read(json)) {
        assert!(!webhook.events.is_empty() && webhook.events.len() <= 16);
    }
    refusal_says_why(AvailabilityBody::read(json));
    if let Some(origins) = refusal_says_why(AllowedOriginsBody::read(json)) {
        assert!(origins.allowed_origins.len() <= 100);
    }
    if let Some(RetentionBody { days: Some(days) }) = refusal_says_why(RetentionBody::read(json)) {
        assert!((1..=36_500).contains(&days));
    }
});
