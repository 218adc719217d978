//! The adaptive detector: one per series, no threshold to set. It learns what is normal for the
//! series from its own past and reports when the series does something it has not done before.
//!
//! **Time, not samples.** Values are first averaged into fixed periods ([`Params::period`], 5
//! minutes), and every window is a duration. A series sampled every 2 s and the same series
//! recorded every 5 minutes give the detector the same period means, so it raises the same
//! anomalies (`exporter/tests/anomaly.rs` checks this), and the parameters tuned on 5-minute data
//! mean the same on a host. The cost is paid once per period, not once per sample.
//!
//! For each period mean `x` it computes three scores, each in units of its own threshold:
//!
//! * **level**: `x` against the median and MAD of the last [`Params::baseline_window`] (7 days):
//!   a value outside the range the series has kept for a week;
//! * **change**: `x` against the median of the last [`Params::recent_window`] (30 min), in units of
//!   the typical period-to-period change (robust spread of the first differences over
//!   [`Params::noise_window`]): a sudden shift, even inside the weekly range;
//! * **season**: the distance from `x` to the band of values seen at the same time of day (±1 slot)
//!   on the previous [`Params::season_days`] days, in the same units: a missing daily peak, a
//!   flat line where there is normally a swing.
//!
//! The season band also *vetoes* the first two: a value inside what the series did at this time on
//! the previous days (a nightly backup) is not a level or change anomaly, however far it is from
//! the weekly median.
//!
//! **Rarity.** A score of 1 is not enough: each score must also beat [`Params::rarity`] times the
//! largest excursion of that score seen before (an excursion is a run of periods with the score at
//! or above 1; its peak is remembered, decaying with a half-life of [`Params::rarity_half_life`]).
//! This is what keeps a noisy series quiet: its everyday bursts set the bar, and only something
//! bigger than anything recent fires. It is also why a slow drift is still caught: the excursion of
//! a ramp does not end, so it does not raise its own bar.
//!
//! An anomaly starts when a score passes its bar (after [`Params::warmup`], and once anomalous for
//! [`Params::persistence`]); it ends when every score is below [`Params::clear`]. While an anomaly
//! is active, an abrupt change in the opposite direction (a restart dropping leaked memory, traffic
//! resuming after an outage) ends it and starts a new one: it is a second event worth reporting.
//!
//! Memory per series is bounded by the windows: at most `window / period` period means in each
//! sorted window (2,016 for 7 days, 4,032 for 14) plus `season_days` days of 30-minute slots,
//! about 150 KiB with the defaults (see `docs/anomaly-detection.md`).

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Scores are capped so a perfectly flat history reports a large finite number.
const MAX_Z: f64 = 1000.0;
/// `1 / Φ⁻¹(3/4)`: turns a MAD into an estimate of the standard deviation of normal noise.
const MAD_TO_SIGMA: f64 = 1.4826;
/// `sqrt(π/2)`: the same for a mean absolute deviation (used when the MAD is 0).
const MEAN_AD_TO_SIGMA: f64 = 1.2533;
/// Longest accepted window: bounds the memory of a series.
const MAX_WINDOW: Duration = Duration::from_secs(60 * 86_400);
/// Shortest accepted period (tests and experiments use seconds; a host, minutes).
const MIN_PERIOD: Duration = Duration::from_secs(1);
/// Most period means a window may hold (a 60-day window of 10 s periods): bounds the memory of a
/// series whatever the period.
const MAX_PERIODS_PER_WINDOW: u64 = 518_400;
const DAY_SECS: f64 = 86_400.0;

/// Durations in the config as text (`"5m"`, `"7d"`), read with `humantime`.
mod duration_text {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text).map_err(|e| {
            serde::de::Error::custom(format!(
                "expected a duration such as \"5m\" or \"7d\", found {text:?} ({e})"
            ))
        })
    }
}

/// The detector's parameters: one set for every series (scores are relative to each series' own
/// spread). In the config under `[rules.adaptive.detector]`; durations are text (`"30m"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    /// Values are averaged over periods of this length before they are judged.
    #[serde(with = "duration_text")]
    pub period: Duration,
    /// The level baseline: median and MAD of the period means over this long.
    #[serde(with = "duration_text")]
    pub baseline_window: Duration,
    /// The typical period-to-period change is measured over this long.
    #[serde(with = "duration_text")]
    pub noise_window: Duration,
    /// The change score compares a period with the median of this recent past.
    #[serde(with = "duration_text")]
    pub recent_window: Duration,
    /// Nothing fires until the series has been seen for this long.
    #[serde(with = "duration_text")]
    pub warmup: Duration,
    /// Robust z-score of the level that makes a period anomalous.
    pub level_z: f64,
    /// Change from the recent median, in typical period-to-period changes, that makes a period
    /// anomalous.
    pub change_z: f64,
    /// Distance from the same-time-of-day band, in typical changes, that makes a period anomalous.
    pub season_z: f64,
    /// Previous days the same-time-of-day band is built from (0 turns the season score and veto
    /// off).
    pub season_days: usize,
    /// Days of history the band needs before it is used.
    pub season_min_days: usize,
    /// Time-of-day slot of the season band.
    #[serde(with = "duration_text")]
    pub season_slot: Duration,
    /// A score must beat this times the peak of the largest earlier excursion of the same score.
    pub rarity: f64,
    /// Half-life of a remembered excursion peak.
    #[serde(with = "duration_text")]
    pub rarity_half_life: Duration,
    /// A period must have been anomalous for this long before an anomaly starts (0: the first
    /// anomalous period).
    #[serde(with = "duration_text")]
    pub persistence: Duration,
    /// An active anomaly ends when every score falls below this fraction of its threshold.
    pub clear: f64,
    /// Deviations smaller than this fraction of `|median|` never count (flat series with tiny
    /// noise).
    pub min_deviation_fraction: f64,
    /// The same floor in the series' unit, for series whose median is near 0.
    pub min_deviation: f64,
    /// `adaptive_host` fires when at least this many signals (CPU, memory, load, disk, network,
    /// temperature) are anomalous at once.
    pub host_signals: usize,
}

impl Default for Params {
    /// The tuned set (see `docs/anomaly-detection.md`).
    fn default() -> Self {
        Params {
            period: Duration::from_secs(300),
            baseline_window: Duration::from_secs(7 * 86_400),
            noise_window: Duration::from_secs(14 * 86_400),
            recent_window: Duration::from_secs(1800),
            warmup: Duration::from_secs(86_400),
            level_z: 5.0,
            change_z: 8.0,
            season_z: 5.0,
            season_days: 3,
            season_min_days: 2,
            season_slot: Duration::from_secs(1800),
            rarity: 1.2,
            rarity_half_life: Duration::from_secs(30 * 86_400),
            persistence: Duration::ZERO,
            clear: 0.5,
            min_deviation_fraction: 0.05,
            min_deviation: 0.0,
            host_signals: 2,
        }
    }
}

impl Params {
    /// Checks the parameters make sense; the message names the first bad field.
    pub fn validate(&self) -> Result<(), String> {
        let key = |name: &str| format!("rules.adaptive.detector.{name}");
        let positive = |name: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(format!("{} must be a number > 0, got {v}", key(name)))
            }
        };
        let non_negative = |name: &str, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(format!("{} must be a number >= 0, got {v}", key(name)))
            }
        };
        if self.period < MIN_PERIOD || self.period > Duration::from_secs(86_400) {
            return Err(format!(
                "{} must be between 1s and 1day, got {}",
                key("period"),
                humantime::format_duration(self.period)
            ));
        }
        for (name, w) in [
            ("baseline_window", self.baseline_window),
            ("noise_window", self.noise_window),
            ("recent_window", self.recent_window),
        ] {
            if w < self.period || w > MAX_WINDOW {
                return Err(format!(
                    "{} must be between the period and 60days, got {}",
                    key(name),
                    humantime::format_duration(w)
                ));
            }
            let periods = w.as_millis() / self.period.as_millis().max(1);
            if periods > u128::from(MAX_PERIODS_PER_WINDOW) {
                return Err(format!(
                    "{} holds {periods} periods of {}; at most {MAX_PERIODS_PER_WINDOW} are allowed \
                     (a longer period or a shorter window)",
                    key(name),
                    humantime::format_duration(self.period)
                ));
            }
        }
        if self.season_slot < self.period || self.season_slot > Duration::from_secs(6 * 3600) {
            return Err(format!(
                "{} must be between the period and 6h, got {}",
                key("season_slot"),
                humantime::format_duration(self.season_slot)
            ));
        }
        if self.season_days > 28 {
            return Err(format!(
                "{} must be at most 28, got {}",
                key("season_days"),
                self.season_days
            ));
        }
        positive("level_z", self.level_z)?;
        positive("change_z", self.change_z)?;
        positive("season_z", self.season_z)?;
        positive("rarity", self.rarity)?;
        positive("clear", self.clear)?;
        non_negative("min_deviation_fraction", self.min_deviation_fraction)?;
        non_negative("min_deviation", self.min_deviation)?;
        if self.clear > 1.0 {
            return Err(format!(
                "{} must be at most 1, got {}",
                key("clear"),
                self.clear
            ));
        }
        if self.host_signals < 1 {
            return Err(format!("{} must be at least 1", key("host_signals")));
        }
        Ok(())
    }

    fn clamped(mut self) -> Params {
        self.period = self.period.clamp(MIN_PERIOD, Duration::from_secs(86_400));
        for w in [
            &mut self.baseline_window,
            &mut self.noise_window,
            &mut self.recent_window,
        ] {
            let most = self
                .period
                .saturating_mul(u32::try_from(MAX_PERIODS_PER_WINDOW).unwrap_or(u32::MAX));
            *w = (*w).clamp(self.period, MAX_WINDOW.min(most));
        }
        self.season_slot = self
            .season_slot
            .clamp(self.period, Duration::from_secs(6 * 3600));
        self.season_days = self.season_days.min(28);
        self
    }
}

/// What the detector concluded after one value.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Verdict {
    /// The strongest score of the last judged period over its bar (threshold and rarity): at least
    /// 1 means that period was anomalous. 0 before any period was judged.
    pub score: f64,
    /// Signed scores of the last judged period, in units of their thresholds (level, change,
    /// season; before the rarity bar).
    pub level: f64,
    pub change: f64,
    pub season: f64,
    /// What the detector considers normal: the baseline median (NaN before any history).
    pub baseline: f64,
    /// An anomaly is in progress (after this value).
    pub active: bool,
    /// This value started an anomaly.
    pub started: bool,
    /// This value ended an anomaly (with `started` too: one ended and the next began).
    pub ended: bool,
    /// A period was judged with this value (it closed a period).
    pub judged: bool,
}

/// Period means over a span of time, kept in arrival order (to know which leaves) and sorted (for
/// the median and MAD). At most one entry per period, so at most `span / period + 1` entries.
/// Stored as `f32` (7 significant digits, plenty for a baseline) with `u32` seconds since the
/// window's first value: 12 bytes a period mean instead of 24.
#[derive(Debug, Clone)]
struct TimeWindow {
    arrival: VecDeque<(u32, f32)>,
    sorted: Vec<f32>,
    span: f64,
    origin: Option<f64>,
}

#[derive(Debug, Clone, Copy)]
struct Spread {
    median: f64,
    sigma: f64,
}

impl TimeWindow {
    fn new(span: f64) -> Self {
        TimeWindow {
            arrival: VecDeque::new(),
            sorted: Vec::new(),
            span,
            origin: None,
        }
    }

    fn push(&mut self, t: f64, x: f64) {
        let origin = *self.origin.get_or_insert(t);
        // Values before the origin (a clock set back) count as at the origin.
        let secs = |t: f64| (t - origin).clamp(0.0, u32::MAX as f64) as u32;
        let x = x as f32;
        if !x.is_finite() {
            return; // beyond f32's range: not worth a baseline entry
        }
        let now = secs(t);
        while let Some(&(t0, old)) = self.arrival.front() {
            if f64::from(t0) > f64::from(now) - self.span {
                break;
            }
            self.arrival.pop_front();
            // Same bits as when inserted, so total_cmp finds it exactly.
            if let Ok(i) = self.sorted.binary_search_by(|v| v.total_cmp(&old)) {
                self.sorted.remove(i);
            }
        }
        let at = self.sorted.partition_point(|v| v.total_cmp(&x).is_lt());
        self.sorted.insert(at, x);
        self.arrival.push_back((now, x));
    }

    fn median(&self) -> Option<f64> {
        let (s, n) = (&self.sorted, self.sorted.len());
        (n > 0).then(|| (f64::from(s[(n - 1) / 2]) + f64::from(s[n / 2])) / 2.0)
    }

    fn spread(&self) -> Option<Spread> {
        let s = &self.sorted;
        let n = s.len();
        let median = self.median()?;
        // Distances to the median form two ascending runs (left and right of it); the MAD is the
        // middle of their union, found by binary search.
        let split = s.partition_point(|v| f64::from(*v) < median);
        let left = |i: usize| median - f64::from(s[split - 1 - i]);
        let right = |j: usize| f64::from(s[split + j]) - median;
        let (nl, nr) = (split, n - split);
        let lower = kth_of_two(nl, nr, left, right, (n - 1) / 2);
        let upper = kth_of_two(nl, nr, left, right, n / 2);
        let mad = (lower + upper) / 2.0;
        let sigma = if mad > 0.0 {
            MAD_TO_SIGMA * mad
        } else {
            // More than half the window is one value (idle or quantised series): the mean
            // absolute deviation still sees the rest.
            let sum: f64 = s.iter().map(|v| (f64::from(*v) - median).abs()).sum();
            MEAN_AD_TO_SIGMA * sum / n as f64
        };
        Some(Spread { median, sigma })
    }

    fn len(&self) -> usize {
        self.sorted.len()
    }
}

/// The `k`-th smallest (from 0) of the union of two ascending sequences `a` (length `na`) and `b`
/// (length `nb`), in O(log) steps; `k < na + nb`. (The old detector in `zscore` uses it too.)
pub(super) fn kth_of_two(
    na: usize,
    nb: usize,
    a: impl Fn(usize) -> f64,
    b: impl Fn(usize) -> f64,
    k: usize,
) -> f64 {
    let (mut lo, mut hi) = ((k + 1).saturating_sub(nb), (k + 1).min(na));
    while lo <= hi {
        let i = (lo + hi) / 2;
        let j = k + 1 - i;
        if i > 0 && j < nb && a(i - 1) > b(j) {
            hi = i - 1;
        } else if j > 0 && i < na && b(j - 1) > a(i) {
            lo = i + 1;
        } else {
            let from_a = if i > 0 { a(i - 1) } else { f64::NEG_INFINITY };
            let from_b = if j > 0 { b(j - 1) } else { f64::NEG_INFINITY };
            return from_a.max(from_b);
        }
    }
    0.0
}

/// `deviation / sigma`, the floor raising the scale so a deviation equal to the floor scores
/// exactly `threshold`; capped at ±[`MAX_Z`].
pub(super) fn robust_z(deviation: f64, sigma: f64, floor: f64, threshold: f64) -> f64 {
    let scale = sigma.max(floor / threshold);
    if scale > 0.0 && scale.is_finite() {
        (deviation / scale).clamp(-MAX_Z, MAX_Z)
    } else if deviation == 0.0 || deviation.is_nan() {
        0.0
    } else {
        MAX_Z.copysign(deviation)
    }
}

/// The peak of the largest excursion so far, decaying with a half-life.
#[derive(Debug, Clone, Copy)]
struct Record {
    peak: f64,
    at: f64,
    half_life: f64,
}

impl Record {
    fn at(&self, t: f64) -> f64 {
        if self.peak == 0.0 {
            return 0.0;
        }
        self.peak * (-(t - self.at).max(0.0) / self.half_life * std::f64::consts::LN_2).exp()
    }

    fn add(&mut self, t: f64, peak: f64) {
        self.peak = self.at(t).max(peak);
        self.at = t;
    }
}

/// One time-of-day slot of one day: the smallest and largest period mean in it.
#[derive(Debug, Clone, Copy)]
struct Slot {
    index: i64,
    min: f64,
    max: f64,
}

const LEVEL: usize = 0;
const CHANGE: usize = 1;
const SEASON: usize = 2;

/// The streaming detector for one series. Feed it every value in time order with
/// [`Detector::update`].
#[derive(Debug, Clone)]
pub struct Detector {
    p: Params,
    period: f64,
    baseline: TimeWindow,
    recent: TimeWindow,
    changes: TimeWindow,
    slots: VecDeque<Slot>,
    records: [Record; 3],
    /// Peak of the current excursion of each score (0: none running).
    excursion: [f64; 3],
    previous: Option<f64>,
    first_seen: Option<f64>,
    /// The period being filled: its index, sum and count.
    open: Option<(i64, f64, usize)>,
    /// The last gap between two values, to know when a period is complete.
    gap: f64,
    last_at: Option<f64>,
    anomalous_since: Option<f64>,
    active: bool,
    /// Sign of the deviation that started the active anomaly.
    direction: f64,
    last: Verdict,
}

impl Detector {
    /// Out-of-range parameters are clamped (see [`Params::validate`] to reject them instead).
    pub fn new(p: Params) -> Self {
        let p = p.clamped();
        let half_life = p.rarity_half_life.as_secs_f64().max(1.0);
        let record = Record {
            peak: 0.0,
            at: 0.0,
            half_life,
        };
        Detector {
            period: p.period.as_secs_f64(),
            baseline: TimeWindow::new(p.baseline_window.as_secs_f64()),
            recent: TimeWindow::new(p.recent_window.as_secs_f64()),
            changes: TimeWindow::new(p.noise_window.as_secs_f64()),
            slots: VecDeque::new(),
            records: [record; 3],
            excursion: [0.0; 3],
            previous: None,
            first_seen: None,
            open: None,
            gap: 0.0,
            last_at: None,
            anomalous_since: None,
            active: false,
            direction: 0.0,
            last: Verdict {
                baseline: f64::NAN,
                ..Verdict::default()
            },
            p,
        }
    }

    pub fn params(&self) -> &Params {
        &self.p
    }

    pub fn is_active(&self) -> bool {
        self.active
    }

    /// Period means held in the detector's windows (for the memory figure).
    pub fn held_values(&self) -> usize {
        self.baseline.len() + self.recent.len() + self.changes.len() + self.slots.len()
    }

    /// Adds `value` observed at `at` (seconds since any fixed epoch, increasing). The period it
    /// falls in is judged once it is complete: when a value of a later period arrives, or when
    /// the gap between values says no other value will fall in it. A non-finite value (a failed
    /// read) is ignored.
    pub fn update(&mut self, at: f64, value: f64) -> Verdict {
        let mut v = Verdict {
            started: false,
            ended: false,
            judged: false,
            ..self.last
        };
        if !value.is_finite() || !at.is_finite() {
            return v;
        }
        if let Some(last) = self.last_at {
            if at > last {
                self.gap = at - last;
            }
        }
        self.last_at = Some(at);
        let index = (at / self.period).floor() as i64;
        if let Some((open, sum, n)) = self.open {
            if open != index {
                self.open = None;
                v = self.judge(open, sum / n as f64);
            }
        }
        let (_, sum, n) = self.open.get_or_insert((index, 0.0, 0));
        *sum += value;
        *n += 1;
        let end = (index + 1) as f64 * self.period;
        if at + self.gap >= end - 1e-6 {
            if let Some((open, sum, n)) = self.open.take() {
                let w = self.judge(open, sum / n as f64);
                v = Verdict {
                    started: v.started || w.started,
                    ended: v.ended || w.ended,
                    ..w
                };
            }
        }
        v
    }

    /// The band of period means seen at this time of day (±1 slot) on the previous days.
    fn season_band(&self, t: f64) -> Option<(f64, f64)> {
        if self.p.season_days == 0 {
            return None;
        }
        let slot_len = self.p.season_slot.as_secs_f64();
        let slot = (t / slot_len).floor() as i64;
        let per_day = (DAY_SECS / slot_len).round() as i64;
        let (mut lo, mut hi, mut days) = (f64::INFINITY, f64::NEG_INFINITY, 0);
        for d in 1..=self.p.season_days as i64 {
            let mut seen = false;
            for k in -1..=1 {
                let want = slot - d * per_day + k;
                if let Ok(i) = self.slots.binary_search_by_key(&want, |s| s.index) {
                    lo = lo.min(self.slots[i].min);
                    hi = hi.max(self.slots[i].max);
                    seen = true;
                }
            }
            days += usize::from(seen);
        }
        (days >= self.p.season_min_days.max(1)).then_some((lo, hi))
    }

    fn judge(&mut self, index: i64, x: f64) -> Verdict {
        let t = index as f64 * self.period;
        let p = &self.p;
        let first = *self.first_seen.get_or_insert(t);
        let warm = t - first >= p.warmup.as_secs_f64();
        let mut signed = [0.0f64; 3];
        let mut raw_change = 0.0;
        let mut baseline = x;
        if let (Some(level), Some(recent), Some(noise)) = (
            self.baseline.spread(),
            self.recent.median(),
            self.changes.spread(),
        ) {
            baseline = level.median;
            let floor = p
                .min_deviation
                .max(p.min_deviation_fraction * level.median.abs());
            let band = self.season_band(t).map(|(lo, hi)| {
                if x < lo {
                    x - lo
                } else if x > hi {
                    x - hi
                } else {
                    0.0
                }
            });
            // Inside what the series did at this time on the previous days: not unusual.
            let veto = |dev: f64| match band {
                Some(b) if b.abs() < dev.abs() => b.abs().copysign(dev),
                _ => dev,
            };
            signed[LEVEL] =
                robust_z(veto(x - level.median), level.sigma, floor, p.level_z) / p.level_z;
            signed[CHANGE] =
                robust_z(veto(x - recent), noise.sigma, floor, p.change_z) / p.change_z;
            raw_change = robust_z(x - recent, noise.sigma, floor, p.change_z) / p.change_z;
            if let Some(b) = band {
                signed[SEASON] = robust_z(b, noise.sigma, floor, p.season_z) / p.season_z;
            }
        }
        let comp = signed.map(f64::abs);
        let mut score = 0.0f64;
        let mut beyond_bar = false;
        for (c, record) in comp.iter().zip(&self.records) {
            let bar = (p.rarity * record.at(t)).max(1.0);
            beyond_bar |= *c >= bar;
            score = score.max(c / bar);
        }
        // Excursions: a run of periods with a score at or above 1; its peak sets the bar.
        for ((c, excursion), record) in comp.iter().zip(&mut self.excursion).zip(&mut self.records)
        {
            if *c >= 1.0 {
                *excursion = excursion.max(*c);
            } else if *excursion > 0.0 {
                record.add(t, *excursion);
                *excursion = 0.0;
            }
        }
        let mut v = Verdict {
            score,
            level: signed[LEVEL],
            change: signed[CHANGE],
            season: signed[SEASON],
            baseline,
            judged: true,
            ..Verdict::default()
        };
        if self.active {
            let change_sign = if raw_change.abs() >= 1.0 {
                raw_change.signum()
            } else {
                0.0
            };
            if change_sign != 0.0 && change_sign != self.direction {
                // An abrupt change against the anomaly's direction: that one ended, a new one
                // begins (leaked memory freed by a restart, traffic back after an outage).
                self.direction = change_sign;
                v.ended = true;
                v.started = true;
            } else if comp.iter().all(|c| *c < p.clear) {
                self.active = false;
                self.anomalous_since = None;
                v.ended = true;
            }
        } else if warm && beyond_bar {
            // A value stands for the time up to the next one (a 5-minute point for 5 minutes).
            let covers = self.period.max(self.gap);
            let since = *self.anomalous_since.get_or_insert(t);
            if t + covers - since >= p.persistence.as_secs_f64() {
                self.active = true;
                v.started = true;
                let lead = (0..3)
                    .max_by(|&a, &b| comp[a].total_cmp(&comp[b]))
                    .unwrap_or(LEVEL);
                self.direction = signed[lead].signum();
            }
        } else {
            self.anomalous_since = None;
        }
        v.active = self.active;
        self.learn(t, x);
        self.last = v;
        v
    }

    fn learn(&mut self, t: f64, x: f64) {
        if let Some(previous) = self.previous {
            self.changes.push(t, x - previous);
        }
        self.previous = Some(x);
        self.baseline.push(t, x);
        self.recent.push(t, x);
        if self.p.season_days > 0 {
            let slot_len = self.p.season_slot.as_secs_f64();
            let index = (t / slot_len).floor() as i64;
            match self.slots.back_mut() {
                Some(s) if s.index == index => {
                    s.min = s.min.min(x);
                    s.max = s.max.max(x);
                }
                _ => self.slots.push_back(Slot {
                    index,
                    min: x,
                    max: x,
                }),
            }
            let per_day = (DAY_SECS / slot_len).round() as i64;
            let oldest = index - per_day * self.p.season_days as i64 - 2;
            while self.slots.front().is_some_and(|s| s.index < oldest) {
                self.slots.pop_front();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anomaly::evaluation::Rng;

    const DAY: i64 = 86_400;

    /// Three days of CPU busy % at 2 s: a daily pattern, noise and one-sample bursts; on the third
    /// day a step of +30 points at 14:00 for an hour.
    fn host_trace() -> Vec<(i64, f64)> {
        let mut r = Rng::new(7);
        (0..3 * DAY / 2)
            .map(|i| {
                let t = i * 2;
                let tod = (t % DAY) as f64 / DAY as f64;
                let daily = 0.5 - 0.5 * (std::f64::consts::TAU * (tod - 4.0 / 24.0)).cos();
                let burst = if r.uniform() < 1.0 / 150.0 { 20.0 } else { 0.0 };
                let mut x = 10.0 + 25.0 * daily + 3.0 * r.normal() + burst;
                if (2 * DAY + 14 * 3600..2 * DAY + 15 * 3600).contains(&t) {
                    x += 30.0;
                }
                (t, x.clamp(0.0, 100.0))
            })
            .collect()
    }

    /// The periods (5-minute indices) in which anomalies started.
    fn started_periods(points: &[(i64, f64)]) -> Vec<i64> {
        let mut d = Detector::new(Params::default());
        points
            .iter()
            .filter(|&&(t, x)| d.update(t as f64, x).started)
            .map(|&(t, _)| t / 300)
            .collect()
    }

    #[test]
    fn a_trace_at_2s_and_the_same_trace_at_5min_raise_the_same_anomalies() {
        let fine = host_trace();
        // The same trace as a 5-minute recording: each point the mean of its 5 minutes, stamped
        // at their start (what a Prometheus avg_over_time or a NAB file holds).
        let coarse: Vec<(i64, f64)> = fine
            .chunks(150)
            .map(|c| (c[0].0, c.iter().map(|p| p.1).sum::<f64>() / c.len() as f64))
            .collect();
        let (a, b) = (started_periods(&fine), started_periods(&coarse));
        assert_eq!(a, b, "2 s and 5 min disagree");
        let at = |h: i64, m: i64| (2 * DAY + h * 3600 + m * 60) / 300;
        // The step up and its end, in the periods they happened (the third day).
        assert_eq!(a, vec![at(14, 0), at(15, 0)], "{a:?}");
    }

    #[test]
    fn two_days_of_noise_with_a_daily_pattern_raise_nothing() {
        let mut r = Rng::new(3);
        let mut d = Detector::new(Params::default());
        for i in 0..4 * DAY / 2 {
            let t = i * 2;
            let tod = (t % DAY) as f64 / DAY as f64;
            let x = 40.0 + 10.0 * (std::f64::consts::TAU * tod).sin() + 5.0 * r.laplace();
            assert!(!d.update(t as f64, x).started, "false alarm at {t}");
        }
        // Bounded memory: about 4 days of 5-minute means in the windows, not 172,800 samples.
        assert!(d.held_values() < 3 * 4 * 288, "{}", d.held_values());
    }

    #[test]
    fn non_finite_values_are_ignored() {
        let trace = host_trace();
        let mut clean = Detector::new(Params::default());
        let mut gaps = Detector::new(Params::default());
        for &(t, x) in &trace {
            let a = clean.update(t as f64, x);
            for bad in [f64::NAN, f64::INFINITY] {
                let v = gaps.update(t as f64 + 1.0, bad);
                assert!(!v.started && !v.ended);
            }
            assert_eq!(gaps.update(t as f64, x).started, a.started, "at {t}");
        }
    }

    #[test]
    fn median_and_mad_of_a_time_window() {
        let mut w = TimeWindow::new(5.0);
        for (t, x) in [
            (0.0, 9.0),
            (1.0, 1.0),
            (2.0, 2.0),
            (3.0, 3.0),
            (4.0, 4.0),
            (5.0, 100.0),
        ] {
            w.push(t, x);
        }
        // 9.0 (at 0) left; window 1 2 3 4 100: median 3, distances 2 1 0 1 97, MAD 1.
        let s = w.spread().unwrap();
        assert_eq!(s.median, 3.0);
        assert!((s.sigma - MAD_TO_SIGMA).abs() < 1e-12);
    }

    #[test]
    fn params_from_toml_and_validation() {
        let p: Params = toml::from_str("period = \"1m\"\nbaseline_window = \"3days\"\n").unwrap();
        assert_eq!(p.period, Duration::from_secs(60));
        assert_eq!(p.baseline_window, Duration::from_secs(3 * 86_400));
        assert_eq!(p.level_z, Params::default().level_z);
        assert!(p.validate().is_ok());
        assert!(toml::from_str::<Params>("windw = 3").is_err());
        let e = toml::from_str::<Params>("period = \"soon\"").unwrap_err();
        assert!(e.to_string().contains("expected a duration"), "{e}");
        let bad = Params {
            recent_window: Duration::from_secs(1),
            ..Params::default()
        };
        assert!(bad.validate().unwrap_err().contains("recent_window"));
        let bad = Params {
            rarity: f64::NAN,
            ..Params::default()
        };
        assert!(bad.validate().unwrap_err().contains("rarity"));
        // Clamped, never a panic or an unbounded window.
        let huge = Params {
            baseline_window: Duration::from_secs(u64::MAX / 4),
            period: Duration::ZERO,
            ..Params::default()
        };
        let d = Detector::new(huge);
        assert_eq!(d.params().period, MIN_PERIOD);
        assert_eq!(
            d.params().baseline_window,
            MIN_PERIOD * MAX_PERIODS_PER_WINDOW as u32,
            "at most MAX_PERIODS_PER_WINDOW periods"
        );
        let ten_second = Params {
            baseline_window: Duration::from_secs(u64::MAX / 4),
            period: Duration::from_secs(10),
            ..Params::default()
        };
        assert_eq!(
            Detector::new(ten_second).params().baseline_window,
            MAX_WINDOW
        );
        // One-second periods are allowed, but not with a week of them in a window.
        let fine = Params {
            period: Duration::from_secs(1),
            season_slot: Duration::from_secs(1),
            ..Params::default()
        };
        let e = fine.validate().unwrap_err();
        assert!(e.contains("baseline_window holds 604800 periods"), "{e}");
        let fine_short = Params {
            baseline_window: Duration::from_secs(86_400),
            noise_window: Duration::from_secs(86_400),
            ..fine
        };
        assert!(fine_short.validate().is_ok());
        assert!(Params::default().validate().is_ok());
    }
}
