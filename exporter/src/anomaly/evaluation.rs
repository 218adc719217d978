//! Event-wise evaluation of anomaly detectors on labelled series: the NAB tuning subset
//! (`shared/data/nab-tuning`), synthetic traces shaped like host metrics, and any labelled history
//! given to `sysmon-exporter backtest --labels`.
//!
//! Scoring, as the tuning set's README asks: an alarm is the moment a rule goes from inactive to
//! active; a window is detected when an alarm starts inside it (recall = detected / windows); an
//! alarm outside every window is false (precision = alarms in windows / alarms); F1 from those;
//! false alarms per day of scored data; the delay from a window's start to its first alarm. The
//! first 15% of each series (at most 750 rows) is unscored (the detector still learns from it);
//! each series starts with a fresh detector.
//!
//! Shared by the `tune_adaptive` example, the `adaptive_nab` test and the backtest, so the figures
//! in `docs/anomaly-detection.md` and the tests come from the same code.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDateTime;

use super::adaptive;
use super::zscore;

/// One labelled series. Times are seconds since the epoch (or since the start, for synthetic ones).
#[derive(Debug, Clone)]
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
    /// When each scored alarm started.
    pub alarm_times: Vec<i64>,
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

/// `YYYY-MM-DD HH:MM:SS[.ffffff]` (NAB's format) as Unix seconds.
pub fn parse_time(s: &str) -> Result<i64, String> {
    NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%d %H:%M:%S%.f")
        .map(|t| t.and_utc().timestamp())
        .map_err(|e| format!("bad timestamp {s:?}: {e}"))
}

/// Reads NAB-style label windows: a JSON object from file name to a list of `[start, end]`
/// timestamps (`"YYYY-MM-DD HH:MM:SS[.ffffff]"`, RFC 3339 or Unix seconds).
pub fn read_windows(path: &Path) -> Result<BTreeMap<String, Vec<(i64, i64)>>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let raw: BTreeMap<String, Vec<[serde_json::Value; 2]>> = serde_json::from_str(&text)
        .map_err(|e| {
            format!(
                "{}:{}: expected NAB label windows, a JSON object {{\"file\": [[start, end], ...]}}: {e}",
                path.display(),
                e.line()
            )
        })?;
    let time = |v: &serde_json::Value| -> Result<i64, String> {
        match v {
            serde_json::Value::Number(n) => n
                .as_f64()
                .map(|s| s as i64)
                .ok_or_else(|| format!("bad timestamp {n}")),
            serde_json::Value::String(s) => parse_time(s).or_else(|e| {
                chrono::DateTime::parse_from_rfc3339(s.trim())
                    .map(|t| t.timestamp())
                    .map_err(|_| e)
            }),
            other => Err(format!("expected a timestamp, found {other}")),
        }
    };
    raw.into_iter()
        .map(|(name, windows)| {
            let windows = windows
                .iter()
                .map(|[a, b]| {
                    let (a, b) = (time(a)?, time(b)?);
                    if a > b {
                        return Err(format!("window ends before it starts: [{a}, {b}]"));
                    }
                    Ok((a, b))
                })
                .collect::<Result<Vec<_>, String>>()
                .map_err(|e| format!("{}: {name}: {e}", path.display()))?;
            Ok((name, windows))
        })
        .collect()
}

/// Loads every series listed in `labels/combined_windows.json` under `dir`, in name order.
pub fn load_nab(dir: &Path) -> Result<Vec<Series>, String> {
    let labels_path = dir.join("labels/combined_windows.json");
    if !labels_path.is_file() {
        return Err(format!(
            "cannot read {}: pass the nab-tuning directory (shared/data/nab-tuning)",
            labels_path.display()
        ));
    }
    let labels = read_windows(&labels_path)?;
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
        out.push(Series {
            name,
            t,
            v,
            windows,
        });
    }
    Ok(out)
}

/// NAB's probationary period: the first 15% of the rows, at most 750.
pub fn probation(rows: usize) -> usize {
    (rows * 15 / 100).min(750)
}

/// Scores alarm start times against a series' windows (only alarms at or after `scored_from`).
pub fn score_alarms(
    name: &str,
    times: &[i64],
    windows: &[(i64, i64)],
    scored_from: i64,
    alarms: &[i64],
) -> FileScore {
    let windows: Vec<(i64, i64)> = windows
        .iter()
        .copied()
        .filter(|&(_, end)| end >= scored_from)
        .collect();
    let mut first_alarm: Vec<Option<i64>> = vec![None; windows.len()];
    let mut score = FileScore {
        name: name.to_string(),
        rows: times.len(),
        scored_days: match times.last() {
            Some(&b) if b > scored_from => (b - scored_from) as f64 / 86_400.0,
            _ => 0.0,
        },
        windows: windows.len(),
        ..FileScore::default()
    };
    for &t in alarms.iter().filter(|&&t| t >= scored_from) {
        score.alarms += 1;
        score.alarm_times.push(t);
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

/// Scores a series given the row indices at which alarms started.
fn score_rows(s: &Series, started: impl Iterator<Item = usize>) -> FileScore {
    let probation = probation(s.v.len());
    let scored_from = s.t.get(probation).copied().unwrap_or(i64::MAX);
    let alarms: Vec<i64> = started
        .filter(|&i| i >= probation)
        .filter_map(|i| s.t.get(i).copied())
        .collect();
    score_alarms(&s.name, &s.t, &s.windows, scored_from, &alarms)
}

/// Runs a fresh adaptive detector over `s` and scores its alarms.
pub fn evaluate(s: &Series, p: &adaptive::Params) -> FileScore {
    let mut d = adaptive::Detector::new(p.clone());
    let started: Vec<usize> =
        s.t.iter()
            .zip(&s.v)
            .enumerate()
            .filter(|(_, (&t, &x))| d.update(t as f64, x).started)
            .map(|(i, _)| i)
            .collect();
    score_rows(s, started.into_iter())
}

/// Runs a fresh detector of the first version (robust z-score, counted in samples) over `s`.
pub fn evaluate_zscore(s: &Series, p: &zscore::Params) -> FileScore {
    let mut d = zscore::Detector::new(p.clone());
    let started: Vec<usize> =
        s.v.iter()
            .enumerate()
            .filter(|(_, &x)| d.update(x).started)
            .map(|(i, _)| i)
            .collect();
    score_rows(s, started.into_iter())
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

/// Synthetic traces sampled every 2 s like the exporter. The anomalous ones have two normal days
/// first (the detector's windows span days); `flat_tiny_noise`, `noisy_no_anomaly` and
/// `disk_nightly_backup` have no anomaly.
pub fn synthetic() -> Vec<Series> {
    let ten_min = 10 * 60;
    let mut out = Vec::new();

    // CPU busy %: daily pattern, noise, one-sample bursts (cron, GC: normal), and a 30 min step
    // of +35 points at 14:00. Its onset and its end are both changes worth reporting.
    let mut r = Rng::new(11);
    let (up, down) = (2 * DAY + 14 * HOUR, 2 * DAY + 14 * HOUR + 30 * 60);
    out.push(trace(
        "synthetic/cpu_daily_step",
        3,
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
    let (leak, restart) = (2 * DAY + 8 * HOUR, 2 * DAY + 14 * HOUR);
    out.push(trace(
        "synthetic/memory_leak",
        3,
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
    let spike = 2 * DAY + 16 * HOUR;
    out.push(trace(
        "synthetic/temperature_spike",
        3,
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
    out.push(trace("synthetic/flat_tiny_noise", 4, &[], |_| {
        42.0 + 0.002 * r.normal()
    }));

    // A noisy series with heavy-tailed noise and a mild daily pattern (network throughput, MB/s):
    // no anomaly.
    let mut r = Rng::new(15);
    out.push(trace("synthetic/noisy_no_anomaly", 4, &[], |t| {
        (40.0 + 10.0 * daily(t) + 5.0 * r.laplace()).max(0.0)
    }));

    // Disk I/O (MB/s): low busy-hours traffic, and a nightly backup from 02:00 to 02:40 reading at
    // ~120 MB/s. It happens every night, so it is normal: no anomaly.
    let mut r = Rng::new(16);
    out.push(trace("synthetic/disk_nightly_backup", 4, &[], |t| {
        let tod = t % DAY;
        let backup = if (2 * HOUR..2 * HOUR + 40 * 60).contains(&tod) {
            120.0 + 10.0 * r.normal()
        } else {
            0.0
        };
        (3.0 + 4.0 * daily(t) + 1.5 * r.laplace() + backup).max(0.0)
    }));

    // Network throughput (MB/s) with a daily pattern; on the third day at 11:00 the link goes
    // down for 20 minutes (throughput near 0), then traffic resumes.
    let mut r = Rng::new(17);
    let outage = 2 * DAY + 11 * HOUR;
    out.push(trace(
        "synthetic/network_outage",
        3,
        &[
            (outage, outage + ten_min),
            (outage + 20 * 60, outage + 30 * 60),
        ],
        |t| {
            if (outage..outage + 20 * 60).contains(&t) {
                0.02 * r.uniform()
            } else {
                (20.0 + 15.0 * daily(t) + 3.0 * r.laplace()).max(0.0)
            }
        },
    ));

    // CPU busy % of an 8-CPU host with a daily pattern and bursts; on the third day at 10:00 a
    // runaway process pins one CPU (+12.5 points) until the end of the trace.
    let mut r = Rng::new(18);
    let runaway = 2 * DAY + 10 * HOUR;
    out.push(trace(
        "synthetic/cpu_runaway_process",
        3,
        &[(runaway, runaway + 15 * 60)],
        |t| {
            let burst = if r.uniform() < 1.0 / 150.0 { 25.0 } else { 0.0 };
            let pinned = if t >= runaway { 12.5 } else { 0.0 };
            (8.0 + 12.0 * daily(t) + 2.0 * r.normal() + burst + pinned).clamp(0.0, 100.0)
        },
    ));

    out
}
