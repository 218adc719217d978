//! Event-wise evaluation of the adaptive detector on labelled series: the NAB tuning subset
//! (`shared/data/nab-tuning`) and synthetic traces shaped like host metrics.
//!
//! Shared by the `tune_adaptive` example and the `adaptive_nab` integration test, so the figures
//! in `docs/anomaly-detection.md` and the test come from the same code, which runs the exporter's
//! own [`Detector`].
//!
//! Scoring, as the data set's README asks: an alarm is a `started` verdict; a window is detected
//! when an alarm starts inside it; an alarm outside every window is a false alarm. The first 15% of
//! each series (at most 750 rows) is unscored (the detector still learns from it), each series starts
//! with a fresh detector.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDateTime;
use sysmon_exporter::anomaly::adaptive::{Detector, Params};

/// One labelled series. Times are seconds since the epoch (or since the start, for synthetic ones).
pub struct Series {
    pub name: String,
    pub t: Vec<i64>,
    pub v: Vec<f64>,
    /// Anomaly windows `[start, end]`, inclusive, in the same unit as `t`.
    pub windows: Vec<(i64, i64)>,
}

/// How one series scored.
#[derive(Debug, Clone, Default)]
pub struct FileScore {
    pub name: String,
    pub rows: usize,
    /// Length of the scored part, in days.
    pub scored_days: f64,
    /// Windows that end after the unscored prefix.
    pub windows: usize,
    pub detected: usize,
    /// Alarms in the scored part.
    pub alarms: usize,
    pub false_alarms: usize,
    /// Seconds from each detected window's start to its first alarm.
    pub delays: Vec<f64>,
    /// When each scored alarm started, and when it ended (`None`: still active at the end).
    pub alarm_spans: Vec<(i64, Option<i64>)>,
}

/// Totals over several series.
#[derive(Debug, Clone, Default)]
pub struct Totals {
    pub windows: usize,
    pub detected: usize,
    pub alarms: usize,
    pub false_alarms: usize,
    pub days: f64,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub false_alarms_per_day: f64,
    /// Median of the detection delays, seconds (NaN when nothing was detected).
    pub median_delay: f64,
}

fn parse_time(s: &str) -> Result<i64, String> {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f")
        .map(|t| t.and_utc().timestamp())
        .map_err(|e| format!("bad timestamp {s:?}: {e}"))
}

/// Loads every series listed in `labels/combined_windows.json` under `dir`, in name order.
pub fn load_nab(dir: &Path) -> Result<Vec<Series>, String> {
    let labels_path = dir.join("labels/combined_windows.json");
    let labels = std::fs::read_to_string(&labels_path).map_err(|e| {
        format!(
            "cannot read {} ({e}): pass the nab-tuning directory (shared/data/nab-tuning)",
            labels_path.display()
        )
    })?;
    let labels: BTreeMap<String, Vec<[String; 2]>> =
        serde_json::from_str(&labels).map_err(|e| format!("{}: {e}", labels_path.display()))?;
    let mut out = Vec::with_capacity(labels.len());
    for (name, windows) in labels {
        let path = dir.join("data").join(&name);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let (mut t, mut v) = (Vec::new(), Vec::new());
        for (n, line) in text.lines().enumerate().skip(1) {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let (ts, val) = line
                .split_once(',')
                .ok_or_else(|| format!("{}:{}: expected timestamp,value", path.display(), n + 1))?;
            t.push(parse_time(ts).map_err(|e| format!("{}:{}: {e}", path.display(), n + 1))?);
            v.push(
                val.trim()
                    .parse::<f64>()
                    .map_err(|e| format!("{}:{}: {e}", path.display(), n + 1))?,
            );
        }
        let windows = windows
            .iter()
            .map(|[a, b]| Ok((parse_time(a)?, parse_time(b)?)))
            .collect::<Result<Vec<_>, String>>()
            .map_err(|e| format!("{}: {name}: {e}", labels_path.display()))?;
        out.push(Series {
            name,
            t,
            v,
            windows,
        });
    }
    Ok(out)
}

/// Runs a fresh detector over `s` and scores its alarms.
pub fn evaluate(s: &Series, p: &Params) -> FileScore {
    let n = s.v.len();
    // NAB's probationary period: floor(15%) of the rows, at most 750.
    let probation = (n * 15 / 100).min(750);
    let scored_from = s.t.get(probation).copied().unwrap_or(i64::MAX);
    let windows: Vec<(i64, i64)> = s
        .windows
        .iter()
        .copied()
        .filter(|&(_, end)| end >= scored_from)
        .collect();
    let mut first_alarm: Vec<Option<i64>> = vec![None; windows.len()];
    let mut score = FileScore {
        name: s.name.clone(),
        rows: n,
        scored_days: match (s.t.get(probation), s.t.last()) {
            (Some(a), Some(b)) => (b - a) as f64 / 86_400.0,
            _ => 0.0,
        },
        windows: windows.len(),
        ..FileScore::default()
    };
    let mut d = Detector::new(p.clone());
    for (i, (&t, &x)) in s.t.iter().zip(&s.v).enumerate() {
        let verdict = d.update(x);
        if verdict.ended {
            if let Some(last) = score.alarm_spans.last_mut() {
                last.1.get_or_insert(t);
            }
        }
        if !verdict.started || i < probation {
            continue;
        }
        score.alarms += 1;
        score.alarm_spans.push((t, None));
        match windows.iter().position(|&(a, b)| a <= t && t <= b) {
            Some(w) => {
                first_alarm[w].get_or_insert(t);
            }
            None => score.false_alarms += 1,
        }
    }
    for (w, first) in windows.iter().zip(&first_alarm) {
        if let Some(at) = first {
            score.detected += 1;
            score.delays.push((at - w.0) as f64);
        }
    }
    score
}

pub fn totals(scores: &[FileScore]) -> Totals {
    let mut t = Totals::default();
    let mut delays = Vec::new();
    for s in scores {
        t.windows += s.windows;
        t.detected += s.detected;
        t.alarms += s.alarms;
        t.false_alarms += s.false_alarms;
        t.days += s.scored_days;
        delays.extend_from_slice(&s.delays);
    }
    t.precision = ratio(t.alarms - t.false_alarms, t.alarms);
    t.recall = ratio(t.detected, t.windows);
    t.f1 = if t.precision + t.recall > 0.0 {
        2.0 * t.precision * t.recall / (t.precision + t.recall)
    } else {
        0.0
    };
    t.false_alarms_per_day = if t.days > 0.0 {
        t.false_alarms as f64 / t.days
    } else {
        0.0
    };
    t.median_delay = median(&mut delays);
    t
}

/// `a / b`, and 1 for `0 / 0` (no alarms: none of them were false; no windows: none missed).
pub fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        1.0
    } else {
        a as f64 / b as f64
    }
}

pub fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    (v[(n - 1) / 2] + v[n / 2]) / 2.0
}

/// Seconds as a short human duration.
pub fn human(seconds: f64) -> String {
    if seconds.is_nan() {
        "-".to_string()
    } else if seconds.abs() < 120.0 {
        format!("{seconds:.0}s")
    } else if seconds.abs() < 7200.0 {
        format!("{:.0}min", seconds / 60.0)
    } else {
        format!("{:.1}h", seconds / 3600.0)
    }
}

/// Deterministic noise (splitmix64), so the synthetic traces are the same on every run.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.uniform().max(1e-300);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Laplace with unit scale: heavier tails than normal, like bursty throughput.
    pub fn laplace(&mut self) -> f64 {
        let e = -(1.0 - self.uniform()).ln();
        if self.uniform() < 0.5 {
            e
        } else {
            -e
        }
    }
}

/// The exporter's sampling interval.
pub const STEP: i64 = 2;
const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

fn trace(name: &str, days: i64, windows: &[(i64, i64)], f: impl FnMut(i64) -> f64) -> Series {
    let t: Vec<i64> = (0..days * DAY / STEP).map(|i| i * STEP).collect();
    let v = t.iter().copied().map(f).collect();
    Series {
        name: name.to_string(),
        t,
        v,
        windows: windows.to_vec(),
    }
}

/// Daily shape: 0 at 04:00, peak 1 at 16:00.
fn daily(t: i64) -> f64 {
    0.5 - 0.5 * (std::f64::consts::TAU * ((t % DAY) - 4 * HOUR) as f64 / DAY as f64).cos()
}

/// Synthetic traces sampled every 2 s like the exporter. The last two have no anomaly.
pub fn synthetic() -> Vec<Series> {
    let ten_min = 10 * 60;
    let mut out = Vec::new();

    // CPU busy %: daily pattern, noise, one-sample bursts (cron, GC: normal), and a 30 min step
    // of +35 points at 14:00. Its onset and its end are both changes worth reporting.
    let mut r = Rng::new(11);
    let (up, down) = (14 * HOUR, 14 * HOUR + 30 * 60);
    out.push(trace(
        "synthetic/cpu_daily_step",
        1,
        &[(up, up + ten_min), (down, down + ten_min)],
        |t| {
            let burst = if r.uniform() < 1.0 / 150.0 { 25.0 } else { 0.0 };
            let step = if (up..down).contains(&t) { 35.0 } else { 0.0 };
            (10.0 + 30.0 * daily(t) + 3.0 * r.normal() + burst + step).clamp(0.0, 100.0)
        },
    ));

    // Memory used %: smooth with small noise; from 08:00 a leak of +3 points per hour until a
    // restart at 14:00 drops it back. The leak's first two hours and the drop are the anomalies.
    let mut r = Rng::new(12);
    let (leak, restart) = (8 * HOUR, 14 * HOUR);
    out.push(trace(
        "synthetic/memory_leak",
        1,
        &[(leak, leak + 2 * HOUR), (restart, restart + ten_min)],
        |t| {
            let leaked = if (leak..restart).contains(&t) {
                3.0 * (t - leak) as f64 / HOUR as f64
            } else {
                0.0
            };
            35.0 + 0.05 * r.normal() + leaked
        },
    ));

    // Temperature, whole degrees as many hwmon drivers report: a slow daily drift and noise,
    // then at 16:00 a spike to ~88 °C held 60 s that decays back with a 60 s time constant.
    let mut r = Rng::new(13);
    let spike = 16 * HOUR;
    out.push(trace(
        "synthetic/temperature_spike",
        1,
        &[(spike, spike + 5 * 60)],
        |t| {
            let base = 44.0 + 6.0 * daily(t) + 0.6 * r.normal();
            let excess = if (spike..spike + 60).contains(&t) {
                40.0
            } else if t >= spike + 60 {
                40.0 * (-((t - spike - 60) as f64) / 60.0).exp()
            } else {
                0.0
            };
            (base + excess).round()
        },
    ));

    // A flat line with tiny noise (filesystem used %): no anomaly.
    let mut r = Rng::new(14);
    out.push(trace("synthetic/flat_tiny_noise", 2, &[], |_| {
        42.0 + 0.002 * r.normal()
    }));

    // A noisy series with heavy-tailed noise and a mild daily pattern (network throughput, MB/s):
    // no anomaly.
    let mut r = Rng::new(15);
    out.push(trace("synthetic/noisy_no_anomaly", 2, &[], |t| {
        (40.0 + 10.0 * daily(t) + 5.0 * r.laplace()).max(0.0)
    }));

    out
}
