//! The processes view: the process groups of one host (process-exporter's `namedprocess_namegroup_*`
//! series, which sysmon-exporter's `process` collector exports under the same names), sorted and
//! filtered like the fleet table.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use super::{finite, Instants};
use crate::queries::ProcessQuery;

/// The name of the group that sums the processes past the exporter's top N.
pub const OTHER_GROUP: &str = "other";

/// One process group of one host.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcessGroup {
    pub name: String,
    /// CPU seconds per second (cores used, 1.0 = one CPU busy), all modes.
    pub cpu: Option<f64>,
    pub resident: Option<f64>,
    pub virtual_bytes: Option<f64>,
    pub swapped: Option<f64>,
    pub threads: Option<f64>,
    pub procs: Option<f64>,
    /// Bytes/s.
    pub read: Option<f64>,
    pub write: Option<f64>,
    pub open_fds: Option<f64>,
    /// The highest open fds / soft limit of any process in the group, 0-1.
    pub worst_fd_ratio: Option<f64>,
    /// Unix seconds the oldest process started.
    pub oldest_start: Option<f64>,
    /// Processes by state (`Running`, `Sleeping`, `Waiting`, `Zombie`, `Other`), those above 0.
    pub states: BTreeMap<String, f64>,
}

impl ProcessGroup {
    /// The exporter's catch-all group, not a group of its own.
    pub fn is_other(&self) -> bool {
        self.name == OTHER_GROUP
    }

    pub fn zombies(&self) -> f64 {
        self.states.get("Zombie").copied().unwrap_or(0.0)
    }
}

/// Builds the groups from the processes queries; CPU-heaviest first.
pub fn build_processes(res: &Instants<ProcessQuery>) -> Vec<ProcessGroup> {
    let mut groups: BTreeMap<String, ProcessGroup> = BTreeMap::new();
    for (q, samples) in res {
        for s in samples {
            let Some(name) = s.labels.get("groupname") else {
                continue;
            };
            let g = groups.entry(name.clone()).or_insert_with(|| ProcessGroup {
                name: name.clone(),
                ..ProcessGroup::default()
            });
            let v = finite(s.v);
            match q {
                ProcessQuery::Cpu => g.cpu = v,
                ProcessQuery::ReadBytes => g.read = v,
                ProcessQuery::WriteBytes => g.write = v,
                ProcessQuery::Gauges => {
                    let metric = s.labels.get("__name__").map(String::as_str).unwrap_or("");
                    let field = metric.strip_prefix("namedprocess_namegroup_").unwrap_or("");
                    match field {
                        "num_procs" => g.procs = v,
                        "num_threads" => g.threads = v,
                        "open_filedesc" => g.open_fds = v,
                        "worst_fd_ratio" => g.worst_fd_ratio = v,
                        // 0 is process-exporter's value for a group without processes.
                        "oldest_start_time_seconds" => g.oldest_start = v.filter(|t| *t > 0.0),
                        "memory_bytes" => match s.labels.get("memtype").map(String::as_str) {
                            Some("resident") => g.resident = v,
                            Some("virtual") => g.virtual_bytes = v,
                            Some("swapped") => g.swapped = v,
                            _ => {}
                        },
                        "states" => {
                            if let (Some(st), Some(n)) = (s.labels.get("state"), v) {
                                if n > 0.0 {
                                    g.states.insert(st.clone(), n);
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    let mut out: Vec<ProcessGroup> = groups.into_values().collect();
    sort_groups(&mut out, ProcessSort::Cpu, false);
    out
}

/// Columns the groups can be sorted by (`s` cycles through them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessSort {
    Cpu,
    Memory,
    Threads,
    Io,
    Fds,
    Procs,
    Name,
}

impl ProcessSort {
    pub const ALL: [ProcessSort; 7] = [
        ProcessSort::Cpu,
        ProcessSort::Memory,
        ProcessSort::Threads,
        ProcessSort::Io,
        ProcessSort::Fds,
        ProcessSort::Procs,
        ProcessSort::Name,
    ];

    pub fn next(self) -> ProcessSort {
        let i = Self::ALL.iter().position(|k| *k == self).unwrap_or(0);
        Self::ALL[(i + 1) % Self::ALL.len()]
    }

    pub fn label(self) -> &'static str {
        match self {
            ProcessSort::Cpu => "cpu",
            ProcessSort::Memory => "resident memory",
            ProcessSort::Threads => "threads",
            ProcessSort::Io => "read + write",
            ProcessSort::Fds => "open fds",
            ProcessSort::Procs => "processes",
            ProcessSort::Name => "name",
        }
    }

    fn metric(self, g: &ProcessGroup) -> Option<f64> {
        match self {
            ProcessSort::Cpu => g.cpu,
            ProcessSort::Memory => g.resident,
            ProcessSort::Threads => g.threads,
            ProcessSort::Io => match (g.read, g.write) {
                (None, None) => None,
                (a, b) => Some(a.unwrap_or(0.0) + b.unwrap_or(0.0)),
            },
            ProcessSort::Fds => g.open_fds,
            ProcessSort::Procs => g.procs,
            ProcessSort::Name => None,
        }
    }
}

/// Sorts groups as the fleet table sorts hosts: by name ascending for `Name`, otherwise highest
/// first with missing values last; ties by name. `reverse` flips the order (missing stay last).
pub fn sort_groups(groups: &mut [ProcessGroup], key: ProcessSort, reverse: bool) {
    groups.sort_by(|a, b| {
        let flip = |o: Ordering| if reverse { o.reverse() } else { o };
        let ord = if key == ProcessSort::Name {
            flip(a.name.cmp(&b.name))
        } else {
            match (key.metric(a), key.metric(b)) {
                (Some(x), Some(y)) => flip(y.total_cmp(&x)),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            }
        };
        ord.then_with(|| a.name.cmp(&b.name))
    });
}

/// Groups whose name contains `filter` (case-insensitive); `zombie` as the whole filter picks the
/// groups with zombies.
pub fn filter_groups<'a>(groups: &'a [ProcessGroup], filter: &str) -> Vec<&'a ProcessGroup> {
    let f = filter.trim().to_lowercase();
    if f.is_empty() {
        return groups.iter().collect();
    }
    groups
        .iter()
        .filter(|g| {
            if f == "zombie" {
                g.zombies() > 0.0
            } else {
                g.name.to_lowercase().contains(&f)
            }
        })
        .collect()
}

/// Totals over every group (the `other` group included, so nothing is missed).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcessTotals {
    pub groups: usize,
    pub procs: f64,
    pub threads: f64,
    pub cpu: f64,
    pub resident: f64,
    pub zombies: f64,
}

pub fn totals(groups: &[ProcessGroup]) -> ProcessTotals {
    ProcessTotals {
        groups: groups.iter().filter(|g| !g.is_other()).count(),
        procs: groups.iter().filter_map(|g| g.procs).sum(),
        threads: groups.iter().filter_map(|g| g.threads).sum(),
        cpu: groups.iter().filter_map(|g| g.cpu).sum(),
        resident: groups.iter().filter_map(|g| g.resident).sum(),
        zombies: groups.iter().map(ProcessGroup::zombies).sum(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tests::sample;

    fn results() -> Instants<ProcessQuery> {
        let g = |metric: &str, group: &str, extra: Option<(&str, &str)>, v: f64| {
            let name = format!("namedprocess_namegroup_{metric}");
            let mut l = vec![("__name__", name.as_str()), ("groupname", group)];
            if let Some(e) = extra {
                l.push(e);
            }
            sample(&l, v)
        };
        let mut r = Instants::new();
        r.insert(
            ProcessQuery::Gauges,
            vec![
                g("num_procs", "postgres", None, 12.0),
                g("num_threads", "postgres", None, 14.0),
                g(
                    "memory_bytes",
                    "postgres",
                    Some(("memtype", "resident")),
                    2.0e9,
                ),
                g(
                    "memory_bytes",
                    "postgres",
                    Some(("memtype", "virtual")),
                    9.0e9,
                ),
                g(
                    "memory_bytes",
                    "postgres",
                    Some(("memtype", "proportionalResident")),
                    1.0,
                ),
                g("open_filedesc", "postgres", None, 410.0),
                g("worst_fd_ratio", "postgres", None, 0.4),
                g("oldest_start_time_seconds", "postgres", None, 1.7e9),
                g("states", "postgres", Some(("state", "Sleeping")), 11.0),
                g("states", "postgres", Some(("state", "Zombie")), 1.0),
                g("states", "postgres", Some(("state", "Running")), 0.0),
                g("num_procs", "nginx", None, 3.0),
                g("oldest_start_time_seconds", "nginx", None, 0.0),
                g("num_procs", "other", None, 140.0),
            ],
        );
        r.insert(
            ProcessQuery::Cpu,
            vec![
                sample(&[("groupname", "postgres")], 0.5),
                sample(&[("groupname", "nginx")], 1.25),
                sample(&[("groupname", "other")], 0.1),
            ],
        );
        r.insert(
            ProcessQuery::ReadBytes,
            vec![sample(&[("groupname", "postgres")], 4096.0)],
        );
        r
    }

    #[test]
    fn groups_join_by_name_busiest_first() {
        let g = build_processes(&results());
        let names: Vec<&str> = g.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["nginx", "postgres", "other"]);
        let pg = &g[1];
        assert_eq!(pg.procs, Some(12.0));
        assert_eq!(pg.threads, Some(14.0));
        assert_eq!(pg.resident, Some(2.0e9));
        assert_eq!(pg.virtual_bytes, Some(9.0e9));
        assert_eq!(pg.swapped, None);
        assert_eq!(pg.open_fds, Some(410.0));
        assert_eq!(pg.worst_fd_ratio, Some(0.4));
        assert_eq!(pg.read, Some(4096.0));
        assert_eq!(pg.write, None);
        assert_eq!(pg.zombies(), 1.0);
        assert!(!pg.states.contains_key("Running"), "zero states dropped");
        assert_eq!(g[0].oldest_start, None, "0 is no process, not 1970");
        assert!(g[2].is_other());
        let t = totals(&g);
        assert_eq!((t.groups, t.procs, t.zombies), (2, 155.0, 1.0));
        assert!((t.cpu - 1.85).abs() < 1e-9);
    }

    #[test]
    fn sorting_and_filtering() {
        let mut g = build_processes(&results());
        sort_groups(&mut g, ProcessSort::Memory, false);
        assert_eq!(g[0].name, "postgres", "missing values last");
        sort_groups(&mut g, ProcessSort::Procs, false);
        assert_eq!(g[0].name, "other");
        sort_groups(&mut g, ProcessSort::Procs, true);
        assert_eq!(g[0].name, "nginx");
        sort_groups(&mut g, ProcessSort::Name, false);
        assert_eq!(g[0].name, "nginx");
        assert_eq!(filter_groups(&g, "GRES").len(), 1);
        assert_eq!(filter_groups(&g, "zombie")[0].name, "postgres");
        assert_eq!(filter_groups(&g, "").len(), 3);
        assert_eq!(ProcessSort::Name.next(), ProcessSort::Cpu);
    }
}
