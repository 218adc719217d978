//! Bounding the groups: with `top_n` set, only the N groups that lead by CPU used over the last
//! scan or by resident memory keep their own name; every other group is summed into
//! [`OTHER`], so the totals stay complete and each metric has at most N+1 series. A named group
//! that leaves the top N keeps its name for `hold` (so series do not flap around the boundary),
//! and a group that enters the top N takes a name when one is free.
//!
//! Counters are kept per exported group as sums of the per-scan increases of its processes, so
//! they never go down: not when a process exits (its increases so far stay in), not when a group
//! moves between its own name and `other` (only later increases go to the new place).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The group that sums every group without a name of its own.
pub const OTHER: &str = "other";

/// Increases of the counters, or their totals.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Counts {
    pub user_ticks: u64,
    pub system_ticks: u64,
    pub read_bytes: u64,
    pub write_bytes: u64,
    pub major_faults: u64,
    pub minor_faults: u64,
    pub voluntary_switches: u64,
    pub nonvoluntary_switches: u64,
}

impl Counts {
    pub fn add(&mut self, o: &Counts) {
        self.user_ticks += o.user_ticks;
        self.system_ticks += o.system_ticks;
        self.read_bytes += o.read_bytes;
        self.write_bytes += o.write_bytes;
        self.major_faults += o.major_faults;
        self.minor_faults += o.minor_faults;
        self.voluntary_switches += o.voluntary_switches;
        self.nonvoluntary_switches += o.nonvoluntary_switches;
    }

    /// `self - earlier`, each counter at least zero (a counter that went back, such as a
    /// context-switch sum after a thread exited, adds nothing).
    pub fn since(&self, earlier: &Counts) -> Counts {
        Counts {
            user_ticks: self.user_ticks.saturating_sub(earlier.user_ticks),
            system_ticks: self.system_ticks.saturating_sub(earlier.system_ticks),
            read_bytes: self.read_bytes.saturating_sub(earlier.read_bytes),
            write_bytes: self.write_bytes.saturating_sub(earlier.write_bytes),
            major_faults: self.major_faults.saturating_sub(earlier.major_faults),
            minor_faults: self.minor_faults.saturating_sub(earlier.minor_faults),
            voluntary_switches: self
                .voluntary_switches
                .saturating_sub(earlier.voluntary_switches),
            nonvoluntary_switches: self
                .nonvoluntary_switches
                .saturating_sub(earlier.nonvoluntary_switches),
        }
    }
}

/// Process states as process-exporter counts them.
pub const STATES: [&str; 5] = ["Running", "Sleeping", "Waiting", "Zombie", "Other"];

/// The index in [`STATES`] of a state letter.
pub fn state_index(letter: u8) -> usize {
    match letter {
        b'R' => 0,
        b'S' => 1,
        b'D' => 2,
        b'Z' => 3,
        _ => 4,
    }
}

/// One group's gauges in this scan, and its counters' increase since the last.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Sums {
    pub procs: u64,
    pub resident_bytes: u64,
    pub virtual_bytes: u64,
    pub swapped_bytes: u64,
    pub pss_bytes: u64,
    pub swap_pss_bytes: u64,
    pub open_fds: u64,
    pub worst_fd_ratio: f64,
    pub threads: u64,
    pub states: [u64; 5],
    /// Unix seconds of the oldest process's start.
    pub oldest_start: Option<f64>,
    pub increase: Counts,
}

impl Sums {
    pub fn merge(&mut self, o: &Sums) {
        self.procs += o.procs;
        self.resident_bytes += o.resident_bytes;
        self.virtual_bytes += o.virtual_bytes;
        self.swapped_bytes += o.swapped_bytes;
        self.pss_bytes += o.pss_bytes;
        self.swap_pss_bytes += o.swap_pss_bytes;
        self.open_fds += o.open_fds;
        self.worst_fd_ratio = self.worst_fd_ratio.max(o.worst_fd_ratio);
        self.threads += o.threads;
        for (s, n) in self.states.iter_mut().zip(o.states) {
            *s += n;
        }
        self.oldest_start = match (self.oldest_start, o.oldest_start) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.increase.add(&o.increase);
    }
}

/// What is exported for one group.
#[derive(Debug, Clone, PartialEq)]
pub struct Exported {
    pub name: Arc<str>,
    pub now: Sums,
    pub totals: Counts,
}

#[derive(Debug, Default)]
struct Named {
    totals: Counts,
    /// When it last was in the top N; `None` while it is.
    out_since: Option<Instant>,
}

/// Which groups keep their name, and every exported group's counter totals.
#[derive(Debug)]
pub struct Bounder {
    top_n: usize,
    hold: Duration,
    named: HashMap<Arc<str>, Named>,
    other: Counts,
}

impl Bounder {
    /// `top_n` 0: every group keeps its name, and a group whose processes all exited is still
    /// exported with its counters (as process-exporter does).
    pub fn new(top_n: usize, hold: Duration) -> Bounder {
        Bounder {
            top_n,
            hold,
            named: HashMap::new(),
            other: Counts::default(),
        }
    }

    /// Takes this scan's groups and returns what to export, named groups by name then `other`
    /// (present whenever the groups are bounded, so the total is always there).
    pub fn update(&mut self, groups: HashMap<Arc<str>, Sums>, now: Instant) -> Vec<Exported> {
        if self.top_n > 0 {
            self.rename(&groups, now);
        }
        let mut other = Sums::default();
        let mut out: Vec<Exported> = Vec::with_capacity(self.named.len() + 1);
        let mut seen: HashSet<Arc<str>> = HashSet::with_capacity(groups.len());
        for (name, sums) in groups {
            let named = match self.top_n {
                0 => Some(self.named.entry(Arc::clone(&name)).or_default()),
                _ => self.named.get_mut(&name),
            };
            match named {
                Some(n) => {
                    n.totals.add(&sums.increase);
                    seen.insert(Arc::clone(&name));
                    out.push(Exported {
                        name,
                        now: sums,
                        totals: n.totals,
                    });
                }
                None => other.merge(&sums),
            }
        }
        // Named groups with no process in this scan: their counters, zero gauges.
        for (name, n) in &self.named {
            if !seen.contains(name) {
                out.push(Exported {
                    name: Arc::clone(name),
                    now: Sums::default(),
                    totals: n.totals,
                });
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        if self.top_n > 0 {
            self.other.add(&other.increase);
            out.push(Exported {
                name: Arc::from(OTHER),
                now: other,
                totals: self.other,
            });
        }
        out
    }

    /// Updates the set of named groups from this scan's ranking.
    fn rename(&mut self, groups: &HashMap<Arc<str>, Sums>, now: Instant) {
        let top = top_groups(groups, self.top_n);
        let in_top: HashSet<&Arc<str>> = top.iter().collect();
        let hold = self.hold;
        self.named.retain(|name, n| {
            if in_top.contains(name) {
                n.out_since = None;
                return true;
            }
            let since = *n.out_since.get_or_insert(now);
            now.duration_since(since) < hold
        });
        for name in top {
            if self.named.len() >= self.top_n {
                break;
            }
            self.named.entry(name).or_default();
        }
    }

    /// How many groups have a name of their own now.
    pub fn named_count(&self) -> usize {
        self.named.len()
    }
}

/// The `n` leading groups, best first: a group's place is the better of its places by CPU
/// increase and by resident memory, so the list interleaves the CPU and the memory leaders.
/// `other` never competes (a process whose command is `other` is summed into it), nor does a
/// group that used no CPU and holds no memory (kernel threads), which would only take a name
/// from a group that may need it later.
pub fn top_groups(groups: &HashMap<Arc<str>, Sums>, n: usize) -> Vec<Arc<str>> {
    let cpu = |s: &Sums| s.increase.user_ticks + s.increase.system_ticks;
    let names: Vec<&Arc<str>> = groups
        .iter()
        .filter(|(k, s)| &***k != OTHER && (cpu(s) > 0 || s.resident_bytes > 0))
        .map(|(k, _)| k)
        .collect();
    let mut by_cpu = names.clone();
    by_cpu.sort_by(|a, b| cpu(&groups[*b]).cmp(&cpu(&groups[*a])).then(a.cmp(b)));
    let mut by_rss = names.clone();
    by_rss.sort_by(|a, b| {
        groups[*b]
            .resident_bytes
            .cmp(&groups[*a].resident_bytes)
            .then(a.cmp(b))
    });
    let mut place: HashMap<&Arc<str>, (usize, usize)> = HashMap::with_capacity(names.len());
    for (i, name) in by_cpu.iter().enumerate() {
        place.insert(name, (i, usize::MAX));
    }
    for (i, name) in by_rss.iter().enumerate() {
        if let Some(p) = place.get_mut(name) {
            p.1 = i;
        }
    }
    let mut ranked = names;
    ranked.sort_by_key(|name| {
        let (c, r) = place[name];
        (c.min(r), c.max(r), *name)
    });
    ranked.into_iter().take(n).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sums(cpu: u64, rss: u64) -> Sums {
        Sums {
            procs: 1,
            resident_bytes: rss,
            increase: Counts {
                user_ticks: cpu,
                ..Counts::default()
            },
            ..Sums::default()
        }
    }

    fn scan(entries: &[(&str, u64, u64)]) -> HashMap<Arc<str>, Sums> {
        entries
            .iter()
            .map(|(n, c, r)| (Arc::from(*n), sums(*c, *r)))
            .collect()
    }

    fn names(out: &[Exported]) -> Vec<&str> {
        out.iter().map(|e| &*e.name).collect()
    }

    #[test]
    fn interleaves_cpu_and_memory_leaders() {
        let g = scan(&[
            ("burner", 900, 1),
            ("db", 10, 9000),
            ("web", 50, 500),
            ("idle", 0, 2),
        ]);
        let top: Vec<String> = top_groups(&g, 3).iter().map(|s| s.to_string()).collect();
        // Both leaders first (db also places better by CPU than burner by memory), then web.
        assert_eq!(top, ["db", "burner", "web"]);
    }

    #[test]
    fn bounded_with_other_and_hysteresis() {
        let t0 = Instant::now();
        let mut b = Bounder::new(2, Duration::from_secs(60));
        let out = b.update(scan(&[("a", 100, 100), ("b", 90, 90), ("c", 1, 1)]), t0);
        assert_eq!(names(&out), ["a", "b", "other"]);
        assert_eq!(out[2].now.procs, 1);
        assert_eq!(out[2].totals.user_ticks, 1);
        // c overtakes b: b keeps its name during the hold, c waits in other.
        let out = b.update(
            scan(&[("a", 100, 100), ("b", 1, 1), ("c", 90, 90)]),
            t0 + Duration::from_secs(30),
        );
        assert_eq!(names(&out), ["a", "b", "other"]);
        assert_eq!(out[2].totals.user_ticks, 91, "other's counter only grows");
        // After the hold, c takes b's place; b's later increases go to other.
        let out = b.update(
            scan(&[("a", 100, 100), ("b", 5, 1), ("c", 90, 90)]),
            t0 + Duration::from_secs(91),
        );
        assert_eq!(names(&out), ["a", "c", "other"]);
        assert_eq!(out[1].totals.user_ticks, 90);
        assert_eq!(out[2].totals.user_ticks, 96);
        assert!(out.len() <= 3);
    }

    #[test]
    fn unbounded_keeps_exited_groups() {
        let t0 = Instant::now();
        let mut b = Bounder::new(0, Duration::ZERO);
        b.update(scan(&[("a", 5, 1), ("b", 7, 1)]), t0);
        let out = b.update(scan(&[("a", 1, 1)]), t0);
        assert_eq!(names(&out), ["a", "b"]);
        assert_eq!(out[1].totals.user_ticks, 7);
        assert_eq!(out[1].now.procs, 0);
    }

    #[test]
    fn many_names_stay_within_n_plus_one() {
        let t0 = Instant::now();
        let mut b = Bounder::new(5, Duration::from_secs(10));
        for round in 0..50u64 {
            let entries: Vec<(String, u64, u64)> = (0..40)
                .map(|i| (format!("cmd{}", round * 40 + i), i, i))
                .collect();
            let g = entries
                .iter()
                .map(|(n, c, r)| (Arc::from(n.as_str()), sums(*c, *r)))
                .collect();
            let out = b.update(g, t0 + Duration::from_secs(round * 3));
            assert!(out.len() <= 6, "round {round}: {}", out.len());
            let procs: u64 = out.iter().map(|e| e.now.procs).sum();
            assert_eq!(procs, 40, "every process is counted once");
        }
    }
}
