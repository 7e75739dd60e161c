//! The collect endpoint's body parser sees raw network bytes: it must never panic,
//! and whatever it accepts must be internally consistent.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(batch) = engage_server::request::CollectBody::read(data, Some("fuzz"), 500) {
        assert!(batch.item_count() <= 500);
        for rejected in &batch.rejected {
            assert!(!rejected.errors.is_empty());
        }
        for event in &batch.events {
            // Accepted events serialize and re-validate.
            let text = serde_json::to_string(&event.event).expect("events serialize");
            let tape = engage_model::Tape::parse_str(&text).expect("canonical output is JSON");
            engage_model::OfferEvent::read(tape.root(), &[]).expect("canonical output re-validates");
        }
    }
});
