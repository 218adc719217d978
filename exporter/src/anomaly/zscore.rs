//! The first adaptive detector (kept to score it side by side with [`super::adaptive`], see
//! `docs/anomaly-detection.md`; the engine no longer runs it). A detector for one scalar series that needs no threshold: it learns what is normal for
//! the series from its own recent past and flags points that are far from it.
//!
//! For every new value it computes two robust z-scores against a sliding window of the last
//! [`Params::window`] points (the new point is judged before it joins the window):
//!
//! * level: `(x - median) / scale`, where `scale` is `1.4826 * MAD` (the median absolute
//!   deviation, scaled so it estimates the standard deviation of normal noise);
//! * change: the same on the first difference `x - previous x`, against a window of past
//!   differences, which catches a sudden jump even when the new value is within the range the
//!   level window has seen (a daily peak). Within a streak, the jump is measured from the value
//!   before it, so it counts again only if it holds: a one-point spike is not a persistent change.
//!
//! Median and MAD instead of mean and standard deviation because one outlier moves a mean and
//! inflates a standard deviation (hiding the next outlier), but barely moves a median. The window is
//! kept sorted as values come and go, so the median is read directly and the MAD is a merge of two
//! sorted runs: O(window) cheap work per update with no allocation (see `docs/anomaly-detection.md`
//! for the measured cost).
//!
//! A point is anomalous when either score passes its threshold and its deviation is larger than a
//! floor ([`Params::min_deviation`], [`Params::min_deviation_fraction`]), so a flat series with
//! tiny noise, where MAD is nearly zero, does not alarm on noise. An anomaly starts after
//! [`Params::persistence`] anomalous points in a row, ends when the level score falls back under
//! [`Params::clear_z`] (hysteresis), and cannot start again for [`Params::cooldown`] points. Nothing
//! fires during the first [`Params::warmup`] points. Anomalous points still join the window: a
//! lasting change becomes the new normal after about half a window, and the anomaly clears.
//!
//! The defaults were chosen on labelled data; `exporter/examples/tune_adaptive` re-runs that
//! choice and `docs/anomaly-detection.md` reports the results.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::adaptive::{kth_of_two, robust_z};
use super::event::Severity;

/// Largest accepted window: beyond this the per-update cost (a `memmove` of the window) is too high.
const MAX_WINDOW: usize = 100_000;

/// `1 / Φ⁻¹(3/4)`: turns a MAD into an estimate of the standard deviation of normal noise.
const MAD_TO_SIGMA: f64 = 1.4826;

/// `sqrt(π/2)`: turns a mean absolute deviation into the same estimate (used when MAD is 0).
const MEAN_AD_TO_SIGMA: f64 = 1.2533;

/// The detector's parameters. One set serves every series: the scores are relative to each series'
/// own spread, so no per-signal threshold is needed. In the config, under `[rules.adaptive]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    /// Number of past points the baseline (median and MAD) is computed over. Larger is steadier
    /// but adapts more slowly and costs more per update. From 8 to 100,000.
    pub window: usize,
    /// Points seen before any anomaly may start: the window needs history before its median and MAD
    /// mean anything. At least 3.
    pub warmup: usize,
    /// A point is anomalous when `|x - median| / scale` reaches this (robust z-score of the level).
    pub level_z: f64,
    /// A point is anomalous when the robust z-score of its change from the previous point reaches
    /// this. `inf` disables the change test (and halves the cost of an update).
    pub change_z: f64,
    /// Consecutive anomalous points needed before an anomaly starts. At least 1.
    pub persistence: usize,
    /// An active anomaly ends at the first point whose level z-score is below this (hysteresis: lower
    /// than `level_z`, so a value hovering at the threshold does not flap).
    pub clear_z: f64,
    /// After an anomaly ends, points during which no new one may start.
    pub cooldown: usize,
    /// Floor on the deviation, relative to the baseline: a point is never anomalous if it is
    /// closer to the median than this fraction of `|median|` (for the change test: if its change
    /// differs from the typical change by less).
    pub min_deviation_fraction: f64,
    /// Floor on the deviation in the series' own unit, for series whose baseline is near 0 (where
    /// the relative floor vanishes). Applied with `min_deviation_fraction`: the larger floor wins.
    pub min_deviation: f64,
    /// [`Verdict::score`] at or above which an anomaly is reported as a warning rather than info.
    pub warning_score: f64,
}

impl Default for Params {
    /// The tuned set (see `docs/anomaly-detection.md`).
    fn default() -> Self {
        Params {
            window: 1024,
            warmup: 128,
            level_z: 4.0,
            change_z: f64::INFINITY,
            persistence: 5,
            clear_z: 3.0,
            cooldown: 0,
            min_deviation_fraction: 0.05,
            min_deviation: 0.0,
            warning_score: 2.0,
        }
    }
}

impl Params {
    /// Checks the parameters make sense; the message names the first bad field.
    pub fn validate(&self) -> Result<(), String> {
        let positive = |name: &str, v: f64| {
            if v.is_nan() || v <= 0.0 {
                Err(format!("rules.adaptive.{name} must be > 0, got {v}"))
            } else {
                Ok(())
            }
        };
        let non_negative = |name: &str, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(format!(
                    "rules.adaptive.{name} must be finite and >= 0, got {v}"
                ))
            }
        };
        if !(8..=MAX_WINDOW).contains(&self.window) {
            return Err(format!(
                "rules.adaptive.window must be between 8 and {MAX_WINDOW}, got {}",
                self.window
            ));
        }
        if self.warmup < 3 {
            return Err(format!(
                "rules.adaptive.warmup must be >= 3, got {}",
                self.warmup
            ));
        }
        if self.persistence < 1 {
            return Err("rules.adaptive.persistence must be >= 1".to_string());
        }
        positive("level_z", self.level_z)?;
        positive("change_z", self.change_z)?;
        positive("warning_score", self.warning_score)?;
        non_negative("clear_z", self.clear_z)?;
        non_negative("min_deviation_fraction", self.min_deviation_fraction)?;
        non_negative("min_deviation", self.min_deviation)?;
        if self.clear_z > self.level_z {
            return Err(format!(
                "rules.adaptive.clear_z ({}) must not exceed level_z ({})",
                self.clear_z, self.level_z
            ));
        }
        Ok(())
    }
}

/// What the detector concluded about one value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    /// How far past its threshold the point is: `max(|level z| / level_z, |change z| / change_z)`.
    /// At least 1 means the point itself is anomalous (an anomaly starts once enough are in a
    /// row). 0 during warm-up and for ignored (non-finite) values.
    pub score: f64,
    /// Signed robust z-score of the level (capped at ±1000).
    pub level_z: f64,
    /// Signed robust z-score of the change from the previous value, against the window of past
    /// changes (capped at ±1000). While a streak opened by a jump lasts, the change is measured
    /// from the value before that jump, so the jump must hold to keep counting.
    pub change_z: f64,
    /// The median of the window: what the detector considers normal right now (before any
    /// history: the value itself, or NaN if that was not finite).
    pub baseline: f64,
    /// An anomaly is in progress (after this value).
    pub active: bool,
    /// This value started an anomaly.
    pub started: bool,
    /// This value ended an anomaly.
    pub ended: bool,
    /// `Warning` when `score >= warning_score`, else `Info`.
    pub severity: Severity,
}

/// The last `capacity` values, kept both in arrival order (to know which one leaves) and sorted
/// (for the median and MAD). Only finite values are ever pushed.
#[derive(Debug, Clone)]
struct RollingWindow {
    arrival: VecDeque<f64>,
    sorted: Vec<f64>,
    capacity: usize,
}

/// Median and robust scale of a window.
#[derive(Debug, Clone, Copy)]
struct Spread {
    median: f64,
    /// Estimated standard deviation: 1.4826 MAD, or 1.2533 mean absolute deviation when MAD is 0.
    sigma: f64,
}

impl RollingWindow {
    fn new(capacity: usize) -> Self {
        RollingWindow {
            arrival: VecDeque::with_capacity(capacity + 1),
            sorted: Vec::with_capacity(capacity + 1),
            capacity,
        }
    }

    fn push(&mut self, x: f64) {
        if self.arrival.len() == self.capacity {
            if let Some(old) = self.arrival.pop_front() {
                // Same bits as when it was inserted, so total_cmp finds it exactly.
                if let Ok(i) = self.sorted.binary_search_by(|v| v.total_cmp(&old)) {
                    self.sorted.remove(i);
                }
            }
        }
        let at = self.sorted.partition_point(|v| v.total_cmp(&x).is_lt());
        self.sorted.insert(at, x);
        self.arrival.push_back(x);
    }

    /// `None` when the window is empty.
    fn spread(&self) -> Option<Spread> {
        let s = &self.sorted;
        let n = s.len();
        if n == 0 {
            return None;
        }
        let median = (s[(n - 1) / 2] + s[n / 2]) / 2.0;
        // Distances to the median form two ascending runs: walking left from the median and
        // walking right from it. The MAD is the middle of their union, found by binary search.
        let split = s.partition_point(|v| *v < median);
        let left = |i: usize| median - s[split - 1 - i];
        let right = |j: usize| s[split + j] - median;
        let (nl, nr) = (split, n - split);
        let lower = kth_of_two(nl, nr, left, right, (n - 1) / 2);
        let upper = kth_of_two(nl, nr, left, right, n / 2);
        let mad = (lower + upper) / 2.0;
        let sigma = if mad > 0.0 {
            MAD_TO_SIGMA * mad
        } else {
            // More than half the window sits exactly on the median (quantised or idle series):
            // fall back to the mean absolute deviation, which still sees the rest.
            let sum: f64 = s.iter().map(|v| (v - median).abs()).sum();
            MEAN_AD_TO_SIGMA * sum / n as f64
        };
        Some(Spread { median, sigma })
    }
}

/// The streaming detector for one series. Feed it every value in order with [`Detector::update`].
#[derive(Debug, Clone)]
pub struct Detector {
    p: Params,
    levels: RollingWindow,
    changes: RollingWindow,
    previous: Option<f64>,
    seen: usize,
    streak: usize,
    /// The value before the jump that opened the current streak, if a jump opened it.
    anchor: Option<f64>,
    /// That jump went up.
    anchor_up: bool,
    active: bool,
    cooldown_left: usize,
}

impl Detector {
    /// Parameters out of range are clamped into it (see [`Params::validate`] to reject
    /// them instead), so the detector never panics.
    pub fn new(p: Params) -> Self {
        let mut p = p;
        p.window = p.window.clamp(8, MAX_WINDOW);
        p.warmup = p.warmup.max(3);
        p.persistence = p.persistence.max(1);
        Detector {
            levels: RollingWindow::new(p.window),
            changes: RollingWindow::new(p.window),
            p,
            previous: None,
            seen: 0,
            streak: 0,
            anchor: None,
            anchor_up: false,
            active: false,
            cooldown_left: 0,
        }
    }

    pub fn params(&self) -> &Params {
        &self.p
    }

    /// An anomaly is in progress.
    pub fn is_active(&self) -> bool {
        self.active
    }

    /// Judges `value`, then adds it to the history. A non-finite value (NaN, ±inf: a failed read)
    /// is ignored: the state does not change and the verdict only repeats `active`.
    pub fn update(&mut self, value: f64) -> Verdict {
        let level = self.levels.spread();
        let mut v = Verdict {
            score: 0.0,
            level_z: 0.0,
            change_z: 0.0,
            baseline: level.map_or(value, |s| s.median),
            active: self.active,
            started: false,
            ended: false,
            severity: Severity::Info,
        };
        if !value.is_finite() {
            return v;
        }
        let p = &self.p;
        let change = self.previous.map(|prev| value - prev);
        if let Some(level) = level {
            let floor = p
                .min_deviation
                .max(p.min_deviation_fraction * level.median.abs());
            v.level_z = robust_z(value - level.median, level.sigma, floor, p.level_z);
            if let (Some(d), Some(ch)) = (change, self.changes.spread()) {
                v.change_z = match self.anchor {
                    // Inside a streak opened by a jump, the jump must hold: measure from the
                    // value before it, in the same direction. A one-point spike falls back and
                    // breaks the streak instead of scoring a second, opposite jump.
                    Some(anchor) => {
                        let z = robust_z(value - anchor, ch.sigma, floor, p.change_z);
                        let opened_up = self.anchor_up;
                        if (z > 0.0) == opened_up {
                            z
                        } else {
                            0.0
                        }
                    }
                    None => robust_z(d - ch.median, ch.sigma, floor, p.change_z),
                };
            }
        }
        self.seen += 1;
        let warm = self.seen > p.warmup;
        if warm {
            v.score = (v.level_z.abs() / p.level_z).max(v.change_z.abs() / p.change_z);
        }
        if v.score >= 1.0 {
            self.streak += 1;
            if self.anchor.is_none() && v.change_z.abs() >= p.change_z {
                self.anchor = self.previous;
                self.anchor_up = v.change_z > 0.0;
            }
        } else {
            self.streak = 0;
            self.anchor = None;
        }
        if self.active {
            if v.level_z.abs() < p.clear_z {
                self.active = false;
                self.cooldown_left = p.cooldown;
                v.ended = true;
            }
        } else if self.cooldown_left > 0 {
            self.cooldown_left -= 1;
        } else if warm && self.streak >= p.persistence {
            self.active = true;
            v.started = true;
        }
        if self.streak >= p.persistence {
            // The jump has held long enough to count (or was suppressed): from now on changes
            // are one-step again, so a lasting new level does not count as a jump forever.
            self.anchor = None;
        }
        v.active = self.active;
        if v.score >= p.warning_score {
            v.severity = Severity::Warning;
        }

        self.levels.push(value);
        if let (Some(d), true) = (change, p.change_z.is_finite()) {
            self.changes.push(d);
        }
        self.previous = Some(value);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic standard-normal noise (splitmix64 + Box-Muller), no extra dependency.
    struct Noise(u64);
    impl Noise {
        fn uniform(&mut self) -> f64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
        }
        fn normal(&mut self) -> f64 {
            let u1 = self.uniform().max(1e-300);
            let u2 = self.uniform();
            (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
        }
    }

    #[test]
    fn median_and_mad_of_window() {
        let mut w = RollingWindow::new(5);
        for x in [9.0, 1.0, 2.0, 3.0, 4.0, 100.0] {
            w.push(x);
        }
        // 9.0 left; window 1 2 3 4 100: median 3, distances 2 1 0 1 97 -> MAD 1.
        let s = w.spread().unwrap();
        assert_eq!(s.median, 3.0);
        assert!((s.sigma - MAD_TO_SIGMA).abs() < 1e-12);
        let mut even = RollingWindow::new(4);
        for x in [1.0, 2.0, 4.0, 8.0] {
            even.push(x);
        }
        // median 3, distances 2 1 1 5 -> MAD (1 + 2) / 2.
        let s = even.spread().unwrap();
        assert_eq!(s.median, 3.0);
        assert!((s.sigma - 1.5 * MAD_TO_SIGMA).abs() < 1e-12);
    }

    #[test]
    fn rolling_median_and_mad_match_brute_force() {
        let mut noise = Noise(5);
        let mut w = RollingWindow::new(33);
        let mut all = Vec::new();
        for i in 0..500 {
            // Coarse rounding makes many ties, the hard case for the two-run search.
            let x = (noise.normal() * 3.0).round() + if i % 97 == 0 { 50.0 } else { 0.0 };
            w.push(x);
            all.push(x);
            let mut last: Vec<f64> = all.iter().rev().take(33).copied().collect();
            last.sort_by(f64::total_cmp);
            assert_eq!(w.sorted, last);
            let n = last.len();
            let median = (last[(n - 1) / 2] + last[n / 2]) / 2.0;
            let mut dev: Vec<f64> = last.iter().map(|v| (v - median).abs()).collect();
            dev.sort_by(f64::total_cmp);
            let mad = (dev[(n - 1) / 2] + dev[n / 2]) / 2.0;
            let s = w.spread().unwrap();
            assert_eq!(s.median, median, "at {i}");
            if mad > 0.0 {
                assert!((s.sigma - MAD_TO_SIGMA * mad).abs() < 1e-9, "at {i}");
            }
        }
    }

    #[test]
    fn one_point_spike_is_not_a_persistent_change() {
        let mut d = Detector::new(Params {
            change_z: 8.0,
            persistence: 2,
            ..Params::default()
        });
        let mut noise = Noise(9);
        for i in 0..2000 {
            // A huge one-step jump at 1500, but within the range the level window has seen.
            let wave = 50.0 + 40.0 * (std::f64::consts::TAU * i as f64 / 200.0).sin();
            let x = wave + 0.1 * noise.normal() + if i == 1500 { 35.0 } else { 0.0 };
            assert!(!d.update(x).started, "alarm at {i}");
        }
    }

    #[test]
    fn a_jump_that_holds_is_a_change() {
        // The level test is out of the way: only the change test can fire.
        let mut d = Detector::new(Params {
            level_z: 100.0,
            clear_z: 3.0,
            change_z: 8.0,
            persistence: 3,
            ..Params::default()
        });
        let mut noise = Noise(10);
        let mut started = Vec::new();
        for i in 0..2000 {
            let wave = 50.0 + 40.0 * (std::f64::consts::TAU * i as f64 / 200.0).sin();
            let x = wave + 0.1 * noise.normal() + if i >= 1500 { 35.0 } else { 0.0 };
            if d.update(x).started {
                started.push(i);
            }
        }
        assert_eq!(started, vec![1502]);
    }

    #[test]
    fn step_detected_quickly_then_clears() {
        let mut d = Detector::new(Params::default());
        let mut noise = Noise(1);
        let mut started_at = None;
        let mut ended_at = None;
        for i in 0..3000 {
            let x = 50.0 + noise.normal() + if i >= 1000 { 20.0 } else { 0.0 };
            let v = d.update(x);
            if v.started {
                assert!(started_at.is_none(), "second alarm at {i}");
                started_at = Some(i);
            }
            if v.ended {
                ended_at = Some(i);
            }
        }
        let started = started_at.expect("step not detected");
        assert!(
            (1000..1000 + 6).contains(&started),
            "step at 1000 detected at {started}"
        );
        // The step becomes the new normal once it fills half the window.
        let ended = ended_at.expect("anomaly never cleared");
        assert!(ended <= 1000 + 1024 / 2 + 10, "cleared at {ended}");
    }

    #[test]
    fn pure_noise_raises_no_alarm() {
        let mut d = Detector::new(Params::default());
        let mut noise = Noise(42);
        for i in 0..10_000 {
            let v = d.update(30.0 + 5.0 * noise.normal());
            assert!(!v.started, "false alarm at {i}, score {}", v.score);
        }
    }

    #[test]
    fn flat_line_with_tiny_noise_is_quiet_but_a_real_jump_is_not() {
        let mut d = Detector::new(Params::default());
        let mut noise = Noise(7);
        for i in 0..5000 {
            // Noise of 3e-4 quantised to 1e-3: most of the window equals the median, MAD is 0.
            let x = 42.0 + (noise.normal() * 3e-4 / 1e-3).round() * 1e-3;
            assert!(!d.update(x).started, "false alarm at {i}");
        }
        let started = (0..5).any(|_| d.update(60.0).started);
        assert!(started, "a jump of 18 on a flat 42 must alarm");
    }

    #[test]
    fn non_finite_values_are_ignored() {
        let mut with_gaps = Detector::new(Params::default());
        let mut clean = Detector::new(Params::default());
        let mut noise = Noise(3);
        for i in 0..2000 {
            let x = 10.0 + noise.normal() + if i >= 1950 { 15.0 } else { 0.0 };
            for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                let v = with_gaps.update(bad);
                assert!(!v.started && !v.ended && v.score == 0.0);
            }
            // Debug form: the verdicts are equal field by field, NaN included.
            let (a, b) = (with_gaps.update(x), clean.update(x));
            assert_eq!(format!("{a:?}"), format!("{b:?}"), "at {i}");
        }
        assert!(clean.is_active(), "the step at 1950 is still active");
    }

    #[test]
    fn warmup_persistence_and_cooldown() {
        let p = Params {
            window: 16,
            warmup: 20,
            persistence: 3,
            cooldown: 10,
            change_z: f64::INFINITY,
            ..Params::default()
        };
        assert!(p.validate().is_ok());
        let mut d = Detector::new(p);
        let base = |i: usize| 10.0 + (i % 4) as f64 * 0.5;
        // A spike during warm-up does not fire.
        for i in 0..20 {
            let x = if i == 12 { 100.0 } else { base(i) };
            assert!(!d.update(x).started, "fired during warm-up at {i}");
        }
        // Two anomalous points are not enough, the third fires.
        assert!(!d.update(100.0).started);
        assert!(!d.update(100.0).started);
        assert!(d.update(100.0).started);
        // Back to normal: ends, then a new spike inside the cooldown does not fire.
        let mut i = 23;
        while !d.update(base(i)).ended {
            i += 1;
            assert!(i < 60, "never cleared");
        }
        for _ in 0..3 {
            assert!(!d.update(100.0).started, "fired during cooldown");
        }
    }

    #[test]
    fn params_from_toml_and_validation() {
        let p: Params = toml::from_str("window = 128\nchange_z = inf\n").unwrap();
        assert_eq!(p.window, 128);
        assert_eq!(p.change_z, f64::INFINITY);
        assert_eq!(p.level_z, Params::default().level_z);
        assert!(p.validate().is_ok());
        assert!(toml::from_str::<Params>("windw = 3").is_err());
        let bad = Params {
            clear_z: 9.0,
            ..Params::default()
        };
        assert!(bad.validate().unwrap_err().contains("clear_z"));
        let huge = Params {
            window: usize::MAX,
            ..Params::default()
        };
        assert!(huge.validate().unwrap_err().contains("window"));
        // Clamped, not a capacity overflow.
        assert_eq!(Detector::new(huge).params().window, MAX_WINDOW);
        assert!(Params::default().validate().is_ok());
    }
}
