//! Scores the adaptive detector, side by side with the first one, and reports its sensitivity.
//!
//! ```text
//! cargo run --release -p sysmon-exporter --example tune_adaptive -- ../shared/data/nab-tuning
//! ```
//!
//! 1. The NAB tuning subset and the synthetic host traces, scored per family for the shipped
//!    detector (`adaptive::Params::default()`) and for the first one (`zscore::Params::default()`),
//!    in one run on the same data.
//! 2. The shipped parameters changed one at a time (sensitivity).
//! 3. The cost of one update, timed on a 2 s series (a benchmark figure, not a test).
//!
//! Scoring is `sysmon_exporter::anomaly::evaluation` (shared with the `adaptive_nab` test and
//! `sysmon-exporter backtest --labels`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use sysmon_exporter::anomaly::adaptive::{self, Detector};
use sysmon_exporter::anomaly::evaluation::{
    evaluate, evaluate_zscore, human, load_nab, synthetic, totals, FileScore, Rng, Series, Totals,
};
use sysmon_exporter::anomaly::zscore;

fn line(label: &str, t: &Totals) -> String {
    format!(
        "  {label:<26} {:>4} {:>4} {:>5} {:>5}  {:.3}  {:.3}  {:.3}  {:.3}  {}",
        t.windows,
        t.detected,
        t.alarms,
        t.false_alarms,
        t.precision,
        t.recall,
        t.f1,
        t.false_alarms_per_day,
        human(t.median_delay)
    )
}

fn header() {
    println!(
        "  {:<26} {:>4} {:>4} {:>5} {:>5}  {:<5}  {:<5}  {:<5}  {:<5}  delay",
        "", "win", "det", "alarm", "false", "P", "R", "F1", "FA/d"
    );
}

/// Totals per family (the directory of a NAB file, or the whole synthetic set).
fn by_family(series: &[Series], scores: &[FileScore]) -> BTreeMap<String, Totals> {
    let mut fam: BTreeMap<String, Vec<FileScore>> = BTreeMap::new();
    for (s, sc) in series.iter().zip(scores) {
        let f = s.name.split('/').next().unwrap_or("").to_string();
        fam.entry(f).or_default().push(sc.clone());
    }
    fam.into_iter().map(|(k, v)| (k, totals(&v))).collect()
}

fn side_by_side(title: &str, series: &[Series]) {
    let new: Vec<FileScore> = series
        .iter()
        .map(|s| evaluate(s, &adaptive::Params::default()))
        .collect();
    let old: Vec<FileScore> = series
        .iter()
        .map(|s| evaluate_zscore(s, &zscore::Params::default()))
        .collect();
    println!("\n{title}");
    header();
    let (fn_, fo) = (by_family(series, &new), by_family(series, &old));
    for (k, t) in &fn_ {
        println!("{}", line(&format!("{k} (new)"), t));
        println!("{}", line(&format!("{k} (old)"), &fo[k]));
    }
    println!("{}", line("TOTAL new (adaptive)", &totals(&new)));
    println!("{}", line("TOTAL old (zscore)", &totals(&old)));
    println!("  per series (new | old): windows detected/alarms/false");
    for ((s, a), b) in series.iter().zip(&new).zip(&old) {
        println!(
            "    {:<55} {} {}/{}/{} | {}/{}/{}",
            s.name,
            a.windows,
            a.detected,
            a.alarms,
            a.false_alarms,
            b.detected,
            b.alarms,
            b.false_alarms
        );
    }
}

fn sensitivity(nab: &[Series], synth: &[Series]) {
    let d = adaptive::Params::default();
    let mins = |m: u64| Duration::from_secs(m * 60);
    let days = |n: u64| Duration::from_secs(n * 86_400);
    let variants: Vec<(&str, adaptive::Params)> = vec![
        ("defaults", d.clone()),
        (
            "period=1m",
            adaptive::Params {
                period: mins(1),
                ..d.clone()
            },
        ),
        (
            "baseline_window=3d",
            adaptive::Params {
                baseline_window: days(3),
                ..d.clone()
            },
        ),
        (
            "baseline_window=14d",
            adaptive::Params {
                baseline_window: days(14),
                ..d.clone()
            },
        ),
        (
            "noise_window=7d",
            adaptive::Params {
                noise_window: days(7),
                ..d.clone()
            },
        ),
        (
            "recent_window=1h",
            adaptive::Params {
                recent_window: mins(60),
                ..d.clone()
            },
        ),
        (
            "level_z=4",
            adaptive::Params {
                level_z: 4.0,
                ..d.clone()
            },
        ),
        (
            "level_z=6",
            adaptive::Params {
                level_z: 6.0,
                ..d.clone()
            },
        ),
        (
            "change_z=6",
            adaptive::Params {
                change_z: 6.0,
                ..d.clone()
            },
        ),
        (
            "change_z=12",
            adaptive::Params {
                change_z: 12.0,
                ..d.clone()
            },
        ),
        (
            "season_days=0 (off)",
            adaptive::Params {
                season_days: 0,
                ..d.clone()
            },
        ),
        (
            "season_days=7",
            adaptive::Params {
                season_days: 7,
                ..d.clone()
            },
        ),
        (
            "season_slot=10m",
            adaptive::Params {
                season_slot: mins(10),
                ..d.clone()
            },
        ),
        (
            "season 7d, slot 10m",
            adaptive::Params {
                season_days: 7,
                season_slot: mins(10),
                ..d.clone()
            },
        ),
        (
            "season 7d, 10m, change 6",
            adaptive::Params {
                season_days: 7,
                season_slot: mins(10),
                change_z: 6.0,
                ..d.clone()
            },
        ),
        (
            "rarity=1.0",
            adaptive::Params {
                rarity: 1.0,
                ..d.clone()
            },
        ),
        (
            "rarity=1.1",
            adaptive::Params {
                rarity: 1.1,
                ..d.clone()
            },
        ),
        (
            "rarity=1.3",
            adaptive::Params {
                rarity: 1.3,
                ..d.clone()
            },
        ),
        (
            "rarity_half_life=7d",
            adaptive::Params {
                rarity_half_life: days(7),
                ..d.clone()
            },
        ),
        (
            "rarity_half_life=365d",
            adaptive::Params {
                rarity_half_life: days(365),
                ..d.clone()
            },
        ),
        (
            "persistence=10m",
            adaptive::Params {
                persistence: mins(10),
                ..d.clone()
            },
        ),
        (
            "warmup=12h",
            adaptive::Params {
                warmup: mins(720),
                ..d.clone()
            },
        ),
    ];
    println!("\nOne change at a time from the defaults:");
    println!(
        "  {:<24} NAB F1  P      R      FA/d  | synth F1  alarms  quiet alarms",
        "variant"
    );
    for (name, p) in variants {
        let n: Vec<FileScore> = nab.iter().map(|s| evaluate(s, &p)).collect();
        let s: Vec<FileScore> = synth.iter().map(|s| evaluate(s, &p)).collect();
        let quiet: usize = s.iter().filter(|x| x.windows == 0).map(|x| x.alarms).sum();
        let (tn, ts) = (totals(&n), totals(&s));
        println!(
            "  {name:<24} {:.3}   {:.3}  {:.3}  {:.3} | {:.3}     {:>4}    {}",
            tn.f1, tn.precision, tn.recall, tn.false_alarms_per_day, ts.f1, ts.alarms, quiet
        );
    }
}

/// CPU time of the calling thread, so other processes on the machine do not inflate the figure.
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime only writes the timespec we pass.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// ns of thread CPU time per update on 30 days of a 2 s series, and the values held at the end.
fn time_update(p: &adaptive::Params) -> (f64, usize) {
    let mut r = Rng::new(99);
    let n = 30 * 86_400 / 2;
    let mut d = Detector::new(p.clone());
    let mut active = 0usize;
    let start = thread_cpu_time();
    for i in 0..n {
        let x = 50.0 + 10.0 * r.normal() + if i % 200_000 < 300 { 40.0 } else { 0.0 };
        active += usize::from(std::hint::black_box(d.update(i as f64 * 2.0, x)).active);
    }
    let ns = (thread_cpu_time() - start).as_nanos() as f64 / n as f64;
    std::hint::black_box(active);
    (ns, d.held_values())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args
        .iter()
        .find(|a| !a.starts_with("--"))
        .map(PathBuf::from)
    else {
        eprintln!("usage: tune_adaptive <nab-tuning dir, e.g. ../shared/data/nab-tuning>");
        std::process::exit(2);
    };
    let nab = match load_nab(&dir) {
        Ok(nab) => nab,
        Err(e) => {
            eprintln!("tune_adaptive: {e}");
            std::process::exit(2);
        }
    };
    let synth = synthetic();
    println!(
        "{} NAB series ({} rows), {} synthetic series ({} rows)",
        nab.len(),
        nab.iter().map(|s| s.v.len()).sum::<usize>(),
        synth.len(),
        synth.iter().map(|s| s.v.len()).sum::<usize>()
    );
    println!("new: {:?}", adaptive::Params::default());
    println!("old: {:?}", zscore::Params::default());
    side_by_side(
        "NAB tuning subset, new and old detector, default parameters",
        &nab,
    );
    side_by_side(
        "Synthetic host traces (2 s interval), new and old detector",
        &synth,
    );
    sensitivity(&nab, &synth);
    let (ns, held) = time_update(&adaptive::Params::default());
    println!(
        "\nCost: {ns:.0} ns per update (thread CPU time, release build, 30 days at 2 s); {held} period \
         means held after 30 days"
    );
}
