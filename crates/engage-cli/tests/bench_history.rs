//! `engage bench history` end to end, at a tiny size: it fills a store, serves it, runs
//! every kind of search and prints its figures as the last line.

use std::process::Command;

use serde_json::Value;

#[test]
fn bench_history_prints_every_figure_as_a_number_on_its_last_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_engage"))
        .args([
            "bench",
            "history",
            "--interactions",
            "2000",
            "--visitors",
            "200",
            "--queries",
            "5",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let last = stdout.lines().last().unwrap_or_default();
    let figures: Value = serde_json::from_str(last).unwrap();
    for key in [
        "fill_secs",
        "fill_rows_per_sec",
        "interactions",
        "events",
        "sdes",
        "store_mb",
    ] {
        assert!(figures[key].is_number(), "{key} in {last}\n{stderr}");
    }
    assert_eq!(figures["interactions"], 2000);
    assert!(figures["events"].as_u64().unwrap() > 15_000, "{last}");
    assert!(figures["sdes"].as_u64().unwrap() > 2_000, "{last}");
    for kind in [
        "visitor",
        "range_campaign",
        "sde_search",
        "keyword",
        "deep_page",
    ] {
        for key in ["p50_ms", "p99_ms"] {
            let value = &figures[kind][key];
            assert!(
                value.as_f64().is_some_and(|ms| ms > 0.0),
                "{kind}.{key} in {last}\n{stderr}"
            );
        }
    }
}
