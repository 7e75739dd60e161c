//! The Monitoring API's `engagement` and `report` bodies see network bytes: neither may
//! panic, a refusal says why, and what is accepted holds no more items than were sent,
//! each an impression event of the named page view or an attribute that validates again.
#![no_main]

use engage_server::request::monitoring::{Call, MonitoringBody};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(tape) = engage_model::Tape::parse(data) else {
        return;
    };
    let json = tape.root();
    let sent = json
        .get("engagementAttributes")
        .and_then(|a| a.items())
        .map_or(0, |items| items.len());
    for call in [Call::Engagement, Call::Report] {
        match MonitoringBody::read(json, call, "fuzz-page") {
            Ok(body) => {
                assert_eq!(body.events.len() + body.sdes.len(), sent);
                for event in &body.events {
                    assert_eq!(event.event.data.page_context_id, "fuzz-page");
                }
                for sde in &body.sdes {
                    // Stored in history shape, which must read back as the same attribute.
                    let stored = engage_model::HistorySde {
                        sde: &sde.sde,
                        stamps: engage_model::Stamps::default(),
                    }
                    .to_json();
                    let tape = engage_model::Tape::parse_str(&stored).expect("stored text is JSON");
                    let (again, _) = engage_model::Sde::read_history(tape.root())
                        .expect("stored attributes read back");
                    assert_eq!(again, sde.sde);
                }
                if let Some(url) = body.page.as_ref().and_then(|p| p.url.as_deref()) {
                    assert!(url.len() <= 8192);
                }
            }
            Err(invalid) => assert!(!invalid.errors.is_empty(), "a refusal says why"),
        }
    }
});
