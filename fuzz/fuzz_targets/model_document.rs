//! `engage validate`'s parser on arbitrary bytes: never panics; accepted documents
//! print canonically and re-parse to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(document) = engage_model::Document::parse(data) {
        let text = serde_json::to_string(&document).expect("documents serialize");
        let again = engage_model::Document::parse(text.as_bytes()).expect("canonical output re-parses");
        assert_eq!(again, document);
    }
});
