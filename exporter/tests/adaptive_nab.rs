//! Guards the adaptive detector's shipped defaults: their quality on the NAB tuning subset and on
//! the synthetic host traces must not drop. The figures come from `cargo run --release -p
//! sysmon-exporter --example tune_adaptive` (see docs/anomaly-detection.md), which runs the same
//! evaluation code (`sysmon_exporter::anomaly::evaluation`).

use std::path::Path;

use sysmon_exporter::anomaly::adaptive::Params;
use sysmon_exporter::anomaly::evaluation::{evaluate, load_nab, synthetic, totals, FileScore};

/// The data lives next to the repository (`../shared` from the repo root), not inside it;
/// `NAB_TUNING_DIR` points elsewhere (a git worktree, another checkout).
const NAB_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/nab-tuning");

fn nab_dir() -> String {
    std::env::var("NAB_TUNING_DIR").unwrap_or_else(|_| NAB_DIR.to_string())
}

/// The floor: event-wise F1 of at least 0.60 on all 37 series...
const MIN_F1: f64 = 0.60;
/// ...with at most 0.2 false alarms per day of scored data.
const MAX_FALSE_ALARMS_PER_DAY: f64 = 0.2;

#[test]
fn default_params_reach_the_nab_floor() {
    let dir = nab_dir();
    let dir = Path::new(&dir);
    assert!(
        dir.join("labels/combined_windows.json").is_file(),
        "NAB tuning data not found at {}: this test needs the shared/ directory next to the \
         repository (shared/data/nab-tuning), or NAB_TUNING_DIR set to it",
        dir.display()
    );
    let series = load_nab(dir).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(series.len(), 37, "the tuning subset has 37 series");
    let p = Params::default();
    let scores: Vec<FileScore> = series.iter().map(|s| evaluate(s, &p)).collect();
    let t = totals(&scores);
    assert_eq!(t.windows, 76, "every labelled window is scored");
    assert!(
        t.f1 >= MIN_F1 && t.false_alarms_per_day <= MAX_FALSE_ALARMS_PER_DAY,
        "NAB event-wise F1 {:.3} (precision {:.3}, recall {:.3}) with {:.3} false alarms/day: the \
         floor is F1 >= {MIN_F1} with <= {MAX_FALSE_ALARMS_PER_DAY} false alarms/day",
        t.f1,
        t.precision,
        t.recall,
        t.false_alarms_per_day
    );
}

#[test]
fn default_params_on_synthetic_host_traces() {
    let p = Params::default();
    let scores: Vec<FileScore> = synthetic().iter().map(|s| evaluate(s, &p)).collect();
    for s in &scores {
        if s.windows == 0 {
            assert_eq!(s.alarms, 0, "false alarm on a trace with no anomaly: {s:?}");
        }
    }
    let t = totals(&scores);
    assert!(
        t.f1 >= 0.9,
        "synthetic F1 {:.3} (precision {:.3}, recall {:.3}) below 0.9: {scores:?}",
        t.f1,
        t.precision,
        t.recall
    );
}
