//! The recent history of every scored signal (the adaptive detectors' scores), kept as per-minute
//! aggregates for a day, and the ranking of signals by how anomalous they were over a time range
//! that `GET /api/v1/anomalies/rank` serves (Netdata's anomaly advisor: "what was unusual on this
//! host while that happened?").
//!
//! Memory: one [`Minute`] is 20 bytes and a signal keeps at most [`MINUTES`] of them (24 h), so a
//! signal costs at most about 28 KiB, allocated as its history grows; a host with the five
//! host-wide adaptive signals and 48 temperature sensors stays under 1.5 MiB after a day. Signals
//! unseen for a day are dropped. Recording a sample is a map lookup and a few additions under an
//! uncontended lock, once per scored signal per sample.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

/// How many minutes of history a signal keeps: 24 h.
pub const MINUTES: usize = 24 * 60;

/// The size of one signal's minute in the history.
pub const MINUTE_BYTES: usize = std::mem::size_of::<Minute>();

/// One minute of one signal's scores.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Minute {
    /// Minutes since the Unix epoch (the minute starting at `minute * 60` s).
    minute: u32,
    /// The highest score of the minute...
    max: f32,
    /// The sum of its scores (for the mean).
    sum: f32,
    /// Samples scored in the minute.
    samples: u16,
    /// Of those, samples whose score was over the rule's threshold.
    over: u16,
    /// ...and when in the minute it was seen, in milliseconds from its start.
    peak_ms: u16,
}

#[derive(Debug)]
struct History {
    category: &'static str,
    minutes: VecDeque<Minute>,
}

/// Per-minute score aggregates of every scored signal over the last day. Shared in an `Arc`
/// between the engine (which records) and the feed (which ranks).
#[derive(Debug, Default)]
pub struct ScoreHistory {
    /// By rule, then subject: looked up without allocating on every sample.
    signals: Mutex<BTreeMap<&'static str, BTreeMap<String, History>>>,
}

/// One signal's aggregate over a range, as the feed serves it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankedSignal {
    pub rule: &'static str,
    pub category: &'static str,
    pub subject: String,
    /// Share of the range's samples whose score was over the rule's threshold (0 to 1).
    pub anomalous_ratio: f64,
    /// The highest score in the range...
    pub max_score: f64,
    /// ...and when it was seen.
    pub peak_at: DateTime<Utc>,
    /// The mean score over the range's samples.
    pub mean_score: f64,
    /// Samples scored in the range.
    pub samples: u64,
}

fn unix_minute(t: DateTime<Utc>) -> u32 {
    t.timestamp().div_euclid(60).clamp(0, u32::MAX as i64) as u32
}

fn minute_start(minute: u32) -> DateTime<Utc> {
    DateTime::from_timestamp(minute as i64 * 60, 0).unwrap_or_default()
}

impl ScoreHistory {
    pub fn new() -> ScoreHistory {
        ScoreHistory::default()
    }

    /// Adds one sample's score of `rule` on `subject`, taken at `at`; `over` when it exceeded the
    /// rule's threshold. A non-finite score is not recorded.
    pub fn record(
        &self,
        rule: &'static str,
        category: &'static str,
        subject: &str,
        score: f64,
        over: bool,
        at: DateTime<Utc>,
    ) {
        if !score.is_finite() {
            return;
        }
        let minute = unix_minute(at);
        let offset_ms = (at.timestamp_millis().rem_euclid(60_000)) as u16;
        let mut signals = self.signals.lock().unwrap_or_else(PoisonError::into_inner);
        let by_subject = signals.entry(rule).or_default();
        let history = match by_subject.get_mut(subject) {
            Some(h) => h,
            None => by_subject.entry(subject.to_string()).or_insert(History {
                category,
                minutes: VecDeque::new(),
            }),
        };
        let score = score as f32;
        match history.minutes.back_mut() {
            // The same minute, or a clock that stepped back: into the latest minute, so the ring
            // stays in time order.
            Some(last) if last.minute >= minute => {
                last.samples = last.samples.saturating_add(1);
                last.over = last.over.saturating_add(u16::from(over));
                last.sum += score;
                if score > last.max {
                    last.max = score;
                    last.peak_ms = if last.minute == minute { offset_ms } else { 0 };
                }
            }
            _ => {
                history.minutes.push_back(Minute {
                    minute,
                    max: score,
                    sum: score,
                    samples: 1,
                    over: u16::from(over),
                    peak_ms: offset_ms,
                });
                // A new minute: drop what is a day old, here and in signals no longer seen.
                let oldest = minute.saturating_sub(MINUTES as u32 - 1);
                while history.minutes.front().is_some_and(|m| m.minute < oldest) {
                    history.minutes.pop_front();
                }
                for by_subject in signals.values_mut() {
                    by_subject.retain(|_, h| {
                        while h.minutes.front().is_some_and(|m| m.minute < oldest) {
                            h.minutes.pop_front();
                        }
                        !h.minutes.is_empty()
                    });
                }
                signals.retain(|_, s| !s.is_empty());
            }
        }
    }

    /// The signals scored in `[since, until]`, most anomalous first: by the share of samples over
    /// the threshold, then by the highest score. The range is widened to whole minutes (the
    /// history's resolution). At most `limit` signals.
    pub fn rank(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Vec<RankedSignal> {
        let (first, last) = (unix_minute(since), unix_minute(until));
        let signals = self.signals.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = Vec::new();
        for (rule, by_subject) in signals.iter() {
            for (subject, history) in by_subject {
                let mut samples = 0u64;
                let mut over = 0u64;
                let mut sum = 0.0f64;
                let mut peak: Option<&Minute> = None;
                // The ring is in time order: skip to the range and stop after it.
                let start = history.minutes.partition_point(|m| m.minute < first);
                for m in history.minutes.range(start..) {
                    if m.minute > last {
                        break;
                    }
                    samples += u64::from(m.samples);
                    over += u64::from(m.over);
                    sum += f64::from(m.sum);
                    if peak.is_none_or(|p| m.max > p.max) {
                        peak = Some(m);
                    }
                }
                let Some(peak) = peak.filter(|_| samples > 0) else {
                    continue;
                };
                out.push(RankedSignal {
                    rule,
                    category: history.category,
                    subject: subject.clone(),
                    anomalous_ratio: over as f64 / samples as f64,
                    max_score: f64::from(peak.max),
                    peak_at: minute_start(peak.minute)
                        + TimeDelta::milliseconds(i64::from(peak.peak_ms)),
                    mean_score: sum / samples as f64,
                    samples,
                });
            }
        }
        out.sort_by(|a, b| {
            b.anomalous_ratio
                .total_cmp(&a.anomalous_ratio)
                .then(b.max_score.total_cmp(&a.max_score))
                .then_with(|| (a.rule, &a.subject).cmp(&(b.rule, &b.subject)))
        });
        out.truncate(limit);
        out
    }

    /// How many minutes are held over all signals (for tests and the memory figure).
    pub fn minutes_held(&self) -> usize {
        let signals = self.signals.lock().unwrap_or_else(PoisonError::into_inner);
        signals
            .values()
            .flat_map(|s| s.values())
            .map(|h| h.minutes.len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        // 1_764_000_000 is a minute boundary, so offsets read easily.
        DateTime::from_timestamp(1_764_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn minute_is_twenty_bytes() {
        assert_eq!(MINUTE_BYTES, 20);
    }

    #[test]
    fn ranks_by_share_over_threshold_then_peak() {
        let h = ScoreHistory::new();
        // Ten minutes at 2 s: the network is anomalous for two minutes, memory spikes once,
        // the CPU is quiet.
        for i in 0..300 {
            let t = at(i * 2);
            h.record("adaptive_cpu", "cpu", "host", 0.2, false, t);
            let net = if (120..180).contains(&i) { 3.0 } else { 0.1 };
            h.record("adaptive_network", "network", "host", net, net > 1.0, t);
            let mem = if i == 200 { 9.0 } else { 0.3 };
            h.record("adaptive_memory", "memory", "host", mem, mem > 1.0, t);
        }
        let r = h.rank(at(0), at(600), 10);
        let order: Vec<_> = r.iter().map(|s| s.rule).collect();
        assert_eq!(
            order,
            ["adaptive_network", "adaptive_memory", "adaptive_cpu"]
        );
        assert_eq!(r[0].samples, 300);
        assert!((r[0].anomalous_ratio - 0.2).abs() < 1e-9, "{:?}", r[0]);
        assert_eq!(r[0].max_score, 3.0);
        assert_eq!(r[0].peak_at, at(240), "first sample at the peak");
        assert_eq!(r[1].max_score, 9.0);
        assert_eq!(r[1].peak_at, at(400));
        assert!((r[2].mean_score - 0.2).abs() < 1e-6);
        assert_eq!(r[2].anomalous_ratio, 0.0);
        // A range that covers only the quiet end: the network is no longer first.
        let late = h.rank(at(500), at(599), 10);
        assert_eq!(late[0].rule, "adaptive_memory");
        assert_eq!(
            late.iter()
                .find(|s| s.rule == "adaptive_network")
                .unwrap()
                .anomalous_ratio,
            0.0
        );
        // The limit, and a range with no samples.
        assert_eq!(h.rank(at(0), at(600), 1).len(), 1);
        assert!(h.rank(at(-7200), at(-3600), 10).is_empty());
    }

    #[test]
    fn history_is_bounded_to_a_day_and_forgets_vanished_signals() {
        let h = ScoreHistory::new();
        h.record(
            "adaptive_temperature",
            "temperature",
            "nvme/temp1",
            0.5,
            false,
            at(0),
        );
        // Two days of one sample a minute on another signal.
        for i in 0..(2 * MINUTES as i64) {
            h.record("adaptive_cpu", "cpu", "host", 0.5, false, at(i * 60));
        }
        assert_eq!(
            h.minutes_held(),
            MINUTES,
            "one day of one signal; the sensor is gone"
        );
        let r = h.rank(at(0), at(3 * 86_400), 10);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].samples, MINUTES as u64);
        // A clock that steps back adds to the latest minute; non-finite scores are ignored.
        h.record("adaptive_cpu", "cpu", "host", 7.0, true, at(0));
        h.record("adaptive_cpu", "cpu", "host", f64::NAN, true, at(0));
        assert_eq!(h.minutes_held(), MINUTES);
        let r = h.rank(at(0), at(3 * 86_400), 10);
        assert_eq!((r[0].samples, r[0].max_score), (MINUTES as u64 + 1, 7.0));
    }
}
