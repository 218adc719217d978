//! The steady growth of each group's resident memory, for the `process_memory_growth` rule: the
//! least-squares slope of the group's resident bytes over the last `window`, reported only when
//! the growth is a trend and not a spike: the samples span most of the window, the line explains
//! most of the variance (R² at least `min_r2`) and most steps go up or stay.
//!
//! Exported as `sysmon_process_memory_growth_bytes_per_second{groupname}` (0 when the group's
//! memory is not growing steadily), which the anomaly engine's rule reads.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

/// Share of consecutive steps that must not go down.
const MIN_RISING_STEPS: f64 = 0.8;
/// Share of the window the samples must span.
const MIN_SPAN: f64 = 0.8;
/// Fewest samples a trend is fitted to.
const MIN_SAMPLES: usize = 4;

#[derive(Debug)]
pub struct Growth {
    window: Duration,
    min_r2: f64,
    /// Per group: (seconds since the collector started, resident bytes), oldest first.
    history: HashMap<Arc<str>, VecDeque<(f64, f64)>>,
}

impl Growth {
    pub fn new(window: Duration, min_r2: f64) -> Growth {
        Growth {
            window,
            min_r2,
            history: HashMap::new(),
        }
    }

    /// Records this scan's resident bytes of each group (groups absent now are forgotten) and
    /// returns each group's steady growth in bytes per second.
    pub fn update(&mut self, at: f64, groups: &[(Arc<str>, f64)]) -> Vec<(Arc<str>, f64)> {
        let window = self.window.as_secs_f64();
        let mut next = HashMap::with_capacity(groups.len());
        let mut out = Vec::with_capacity(groups.len());
        for (name, bytes) in groups {
            let mut h = self.history.remove(name).unwrap_or_default();
            h.push_back((at, *bytes));
            // Keep one sample from before the window, so a full window spans it.
            while h.len() > 2 && at - h[1].0 >= window {
                h.pop_front();
            }
            out.push((
                Arc::clone(name),
                steady_slope(&h, window, self.min_r2).unwrap_or(0.0),
            ));
            next.insert(Arc::clone(name), h);
        }
        self.history = next;
        out
    }
}

/// The slope of a steady rise over `window` seconds, or `None`.
pub fn steady_slope(h: &VecDeque<(f64, f64)>, window: f64, min_r2: f64) -> Option<f64> {
    let n = h.len();
    if n < MIN_SAMPLES || h[n - 1].0 - h[0].0 < window * MIN_SPAN {
        return None;
    }
    let rising = h
        .iter()
        .zip(h.iter().skip(1))
        .filter(|(a, b)| b.1 >= a.1)
        .count();
    if (rising as f64) < MIN_RISING_STEPS * (n - 1) as f64 {
        return None;
    }
    let (slope, r2) = fit(h.iter().copied())?;
    (slope > 0.0 && r2 >= min_r2).then_some(slope)
}

/// Least-squares slope and R² of `(x, y)` points; `None` when x does not vary.
pub fn fit(points: impl Iterator<Item = (f64, f64)> + Clone) -> Option<(f64, f64)> {
    let n = points.clone().count() as f64;
    let (sx, sy) = points
        .clone()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
    let (mx, my) = (sx / n, sy / n);
    let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in points {
        sxx += (x - mx) * (x - mx);
        sxy += (x - mx) * (y - my);
        syy += (y - my) * (y - my);
    }
    if sxx <= 0.0 {
        return None;
    }
    let slope = sxy / sxx;
    // A flat series is explained perfectly by a flat line.
    let r2 = if syy > 0.0 {
        sxy * sxy / (sxx * syy)
    } else {
        1.0
    };
    Some((slope, r2))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(values: &[f64]) -> f64 {
        let mut g = Growth::new(Duration::from_secs(10), 0.9);
        let name: Arc<str> = Arc::from("app");
        let mut last = 0.0;
        for (i, v) in values.iter().enumerate() {
            last = g.update(i as f64, &[(Arc::clone(&name), *v)])[0].1;
        }
        last
    }

    #[test]
    fn steady_growth_is_a_trend() {
        let grow: Vec<f64> = (0..20)
            .map(|i| 1e8 + i as f64 * 1e6 + (i % 3) as f64 * 1e4)
            .collect();
        let slope = run(&grow);
        assert!((slope - 1e6).abs() < 2e4, "{slope}");
    }

    #[test]
    fn spikes_flat_and_short_histories_are_not() {
        // One jump, then flat: most steps are flat, but the fit is poor.
        let spike: Vec<f64> = (0..20).map(|i| if i < 15 { 1e8 } else { 5e8 }).collect();
        assert_eq!(run(&spike), 0.0);
        // A sawtooth (a cache that fills and is emptied) goes down too often.
        let saw: Vec<f64> = (0..20).map(|i| 1e8 + (i % 5) as f64 * 1e7).collect();
        assert_eq!(run(&saw), 0.0);
        assert_eq!(run(&[1e8; 20]), 0.0);
        // Too short a history to span the window.
        assert_eq!(run(&[1e8, 2e8, 3e8, 4e8, 5e8]), 0.0);
        // Shrinking.
        let shrink: Vec<f64> = (0..20).map(|i| 1e9 - i as f64 * 1e6).collect();
        assert_eq!(run(&shrink), 0.0);
    }

    #[test]
    fn history_is_bounded_by_the_window() {
        let mut g = Growth::new(Duration::from_secs(10), 0.9);
        let name: Arc<str> = Arc::from("app");
        for i in 0..1000 {
            g.update(i as f64, &[(Arc::clone(&name), i as f64)]);
        }
        assert!(g.history[&name].len() <= 12);
        g.update(1000.0, &[]);
        assert!(g.history.is_empty(), "a group that left is forgotten");
    }
}
