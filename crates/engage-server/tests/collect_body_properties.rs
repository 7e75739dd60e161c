//! The collect body parser sees raw network bytes: nothing may panic it, and what it
//! reports is consistent with what it was given. (`fuzz/` runs the same parser under
//! libFuzzer for longer.)

// Tests: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use engage_server::request::collect::{BodyError, CollectBody};
use proptest::prelude::*;
use serde_json::{json, Value};

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "[a-zA-Z0-9_ ]{0,12}".prop_map(Value::from),
        prop::sample::select(vec![
            "START",
            "LP_OFFERS",
            "cart",
            "ctmrinfo",
            "1_2_3",
            "EngagementContext"
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "id",
                    "time",
                    "type",
                    "sde",
                    "data",
                    "appName",
                    "eventName",
                    "contexts",
                    "campaignId",
                    "engagementId",
                    "engagementRevision",
                    "engagementType",
                    "contextId",
                    "confKey",
                    "info",
                    "total",
                    "products",
                    "x",
                ])
                .prop_map(str::to_owned),
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn arbitrary_bytes_never_panic_the_parser(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = CollectBody::read(&bytes, None, 500);
    }

    #[test]
    fn every_item_is_either_accepted_or_rejected_with_errors(
        events in prop::collection::vec(json_value(), 0..6),
        sdes in prop::collection::vec(json_value(), 0..6),
    ) {
        let body = json!({"visitorId": "v", "sessionId": "s", "pageId": "p", "events": events, "sdes": sdes});
        let batch = CollectBody::read(body.to_string().as_bytes(), None, 500).unwrap();
        prop_assert_eq!(batch.item_count(), events.len() + sdes.len());
        for rejected in &batch.rejected {
            prop_assert!(!rejected.errors.is_empty());
            let prefix = format!("/{}/{}", if rejected.kind.as_str() == "event" { "events" } else { "sdes" }, rejected.index.unwrap());
            for error in &rejected.errors {
                prop_assert!(error.path.starts_with(&prefix), "{} outside {}", error.path, prefix);
            }
        }
    }

    #[test]
    fn a_batch_over_the_item_limit_is_refused_whole(n in 3usize..20) {
        let events: Vec<Value> = (0..n).map(|i| json!({"id": i.to_string()})).collect();
        let body = json!({"visitorId": "v", "sessionId": "s", "pageId": "p", "events": events});
        let refused = matches!(CollectBody::read(body.to_string().as_bytes(), None, 2), Err(BodyError::TooManyItems { .. }));
        prop_assert!(refused);
    }
}
