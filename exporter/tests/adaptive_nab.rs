//! Guards the adaptive detector's shipped defaults: their quality on the NAB tuning subset must not
//! drop. The figure comes from `cargo run --release -p sysmon-exporter --example tune_adaptive`
//! (see docs/anomaly-detection.md); this runs the same evaluation code.

#[allow(dead_code)]
#[path = "../examples/tune_adaptive/eval.rs"]
mod eval;

use std::path::Path;

use sysmon_exporter::anomaly::adaptive::Params;

/// The data lives next to the repository (`../shared` from the repo root), not inside it.
const NAB_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/nab-tuning");

/// Event-wise F1 of `Params::default()` on all 37 series is 0.388 (docs/anomaly-detection.md);
/// a little slack for floating-point differences between builds.
const MIN_F1: f64 = 0.385;

#[test]
fn default_params_keep_their_nab_f1() {
    let dir = Path::new(NAB_DIR);
    assert!(
        dir.join("labels/combined_windows.json").is_file(),
        "NAB tuning data not found at {NAB_DIR}: this test needs the shared/ directory next to the \
         repository (shared/data/nab-tuning)"
    );
    let series = eval::load_nab(dir).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(series.len(), 37, "the tuning subset has 37 series");
    let p = Params::default();
    let scores: Vec<eval::FileScore> = series.iter().map(|s| eval::evaluate(s, &p)).collect();
    let t = eval::totals(&scores);
    assert_eq!(t.windows, 76, "every labelled window is scored");
    assert!(
        t.f1 >= MIN_F1,
        "NAB F1 of the default params fell to {:.3} (precision {:.3}, recall {:.3}), below {MIN_F1}",
        t.f1,
        t.precision,
        t.recall
    );
}

#[test]
fn default_params_on_synthetic_host_traces() {
    let p = Params::default();
    let scores: Vec<eval::FileScore> = eval::synthetic()
        .iter()
        .map(|s| eval::evaluate(s, &p))
        .collect();
    for s in &scores {
        match s.name.as_str() {
            // A slow leak is invisible to a detector that adapts to its own recent past.
            "synthetic/memory_leak" => assert_eq!(s.detected, 1, "{s:?}"),
            "synthetic/flat_tiny_noise" | "synthetic/noisy_no_anomaly" => {
                assert_eq!(s.alarms, 0, "{s:?}")
            }
            _ => assert_eq!(s.detected, s.windows, "{s:?}"),
        }
    }
}
