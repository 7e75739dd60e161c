//! The decision route's body and the admin API's targeting rules see network bytes:
//! neither may panic, and targeting that is accepted must store and read back the same.
#![no_main]

use engage_model::body::Errors;
use engage_server::request::DecisionBody;
use engage_server::decision::Targeting;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(tape) = engage_model::Tape::parse(data) else {
        return;
    };
    let json = tape.root();
    if let Ok(request) = DecisionBody::read(json, 500) {
        assert!(request.sections.len() <= 100);
        assert!(request.sdes.len() <= 500);
    }
    let mut problems = Errors::new();
    match Targeting::parse(json, "/targeting", &mut problems) {
        Some(targeting) => {
            assert!(problems.is_empty());
            let stored = targeting.to_stored();
            let again = Targeting::from_stored(&stored).expect("canonical targeting reads back");
            assert_eq!(again.to_stored(), stored);
        }
        None => assert!(!problems.is_empty(), "a refusal says why"),
    }
});
