//! The results routes' bodies (report and funnel) see an account key holder's bytes:
//! none may panic, a refusal says why, and an accepted one keeps the routes' limits.
#![no_main]

use engage_server::request::{FunnelBody, ReportBody};
use libfuzzer_sys::fuzz_target;

const MAX_RANGE_MS: i64 = 400 * 86_400_000;

fuzz_target!(|data: &[u8]| {
    let Ok(tape) = engage_model::Tape::parse(data) else {
        return;
    };
    let json = tape.root();
    match ReportBody::read(json) {
        Ok(report) => {
            assert!(report.from_ms < report.to_ms);
            assert!(report.to_ms - report.from_ms <= MAX_RANGE_MS);
        }
        Err(invalid) => assert!(!invalid.errors.is_empty(), "a refusal says why"),
    }
    match FunnelBody::read(json) {
        Ok(funnel) => {
            assert!(funnel.from_ms < funnel.to_ms);
            assert!(funnel.to_ms - funnel.from_ms <= MAX_RANGE_MS);
            assert!(!funnel.steps.is_empty() && funnel.steps.len() <= 10);
            assert!(funnel.window_ms > 0 && funnel.window_ms <= 31 * 86_400_000);
        }
        Err(invalid) => assert!(!invalid.errors.is_empty(), "a refusal says why"),
    }
});
