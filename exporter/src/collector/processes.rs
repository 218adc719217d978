//! `processes` (off by default, as in node_exporter): process and thread counts by state, from
//! every `<procfs>/<pid>/stat` and `<procfs>/<pid>/task/<tid>/stat` (proc(5)), with the limits
//! `<procfs>/sys/kernel/threads-max` and `<procfs>/sys/kernel/pid_max`. Exported as
//! node_exporter's `processes_linux.go`:
//!
//! * `node_processes_pids`: processes whose stat was read;
//! * `node_processes_threads`: the sum of their `num_threads` (field 20);
//! * `node_processes_state{state}`: processes by state (field 3: R, S, D, I, Z, T, t, X, ...);
//! * `node_processes_threads_state{thread_state}`: threads by state, the main thread counted
//!   with its process's state without reading its task file again;
//! * `node_processes_max_threads`, `node_processes_max_processes`: the two limits.
//!
//! A process or thread that exits between the directory listing and the read (its files are gone:
//! ENOENT, or ESRCH for one being reaped) is skipped, not an error, as in node_exporter; so is a
//! process whose `task` directory is gone. Any other read error or a malformed stat fails the
//! collector, and then, as node_exporter, no counts are published (they would be short), only
//! the limits.
//!
//! A stat line is `pid (comm) state ppid ...`; `comm` may hold spaces and parentheses, so the
//! fields are counted from the last `)`. sysmon needs the fields up to `num_threads` and requires
//! them to be integers; node_exporter's procfs library requires every field of a current kernel
//! (52), which the kernel has printed since 3.5.

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};

use super::{read_u64, BuildContext, CollectError, Collector, Registration, Roots};
use crate::metrics::MetricSet;

pub const REGISTRATION: Registration = Registration {
    name: "processes",
    default_enabled: false,
    help: "process and thread counts by state from /proc/<pid>/stat",
    flags: super::no_flags,
    cadence: super::Cadence::Slow,
    isolation: super::Isolation::Inline,
    build,
};

fn build(ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(ProcessesCollector {
        roots: ctx.roots.clone(),
    }))
}

pub struct ProcessesCollector {
    roots: Roots,
}

/// What the collector takes from one stat line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskStat<'a> {
    pub state: &'a str,
    pub num_threads: u64,
}

/// Parses a `/proc/<pid>/stat` or `/proc/<pid>/task/<tid>/stat` line.
pub fn parse_stat(text: &str) -> Result<TaskStat<'_>, String> {
    let open = text
        .find('(')
        .ok_or("expected \"pid (comm) state ...\": no \"(\"")?;
    let close = text
        .rfind(')')
        .filter(|&c| c > open)
        .ok_or("expected \"pid (comm) state ...\": no \")\" after the command")?;
    let mut fields = text[close + 1..].split_ascii_whitespace();
    let state = fields.next().ok_or("no state after the command")?;
    // Fields 4 (ppid) to 19 (nice), then 20 (num_threads).
    for n in 4..=19 {
        let f = fields
            .next()
            .ok_or_else(|| format!("expected at least 20 fields, found {}", n - 1))?;
        if f.parse::<i64>().is_err() && f.parse::<u64>().is_err() {
            return Err(format!("field {n}: expected an integer, found {f:?}"));
        }
    }
    let threads = fields
        .next()
        .ok_or("expected at least 20 fields, found 19")?;
    let num_threads = threads.parse::<u64>().map_err(|_| {
        format!("field 20 (num_threads): expected an unsigned integer, found {threads:?}")
    })?;
    Ok(TaskStat { state, num_threads })
}

/// Whether a read error means the process or thread went away while we looked.
fn vanished(e: &std::io::Error) -> bool {
    e.kind() == ErrorKind::NotFound || e.raw_os_error() == Some(libc_esrch())
}

const fn libc_esrch() -> i32 {
    3 // ESRCH on every Linux architecture
}

/// Numeric entries of a directory (PIDs in `<procfs>`, TIDs in `task`).
fn numeric_entries(dir: &Path) -> std::io::Result<Vec<u32>> {
    let mut ids = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(id) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// Reads a stat file into `buf`; `Ok(false)` if the task has gone.
fn read_stat(path: &Path, buf: &mut String) -> Result<bool, CollectError> {
    buf.clear();
    let result = std::fs::File::open(path).and_then(|mut f| f.read_to_string(buf));
    match result {
        Ok(_) => Ok(true),
        Err(e) if vanished(&e) => Ok(false),
        Err(e) => Err(CollectError::io(path, e)),
    }
}

/// The counts over every process.
#[derive(Debug, Default, PartialEq)]
pub struct Counts {
    pub pids: u64,
    pub threads: u64,
    pub states: BTreeMap<String, u64>,
    pub thread_states: BTreeMap<String, u64>,
}

impl ProcessesCollector {
    fn count(&self) -> Result<Counts, CollectError> {
        let proc_dir = &self.roots.procfs;
        let pids = numeric_entries(proc_dir).map_err(|e| CollectError::io(proc_dir, e))?;
        let mut counts = Counts::default();
        let mut buf = String::with_capacity(512);
        let mut path = PathBuf::new();
        for pid in pids {
            let pid_dir = proc_dir.join(pid.to_string());
            path.clone_from(&pid_dir);
            path.push("stat");
            if !read_stat(&path, &mut buf)? {
                continue;
            }
            let stat = parse_stat(&buf).map_err(|e| CollectError::parse(&path, e))?;
            let state = stat.state.to_string();
            counts.pids += 1;
            counts.threads += stat.num_threads;
            *counts.states.entry(state.clone()).or_default() += 1;

            let task_dir = pid_dir.join("task");
            let tids = match numeric_entries(&task_dir) {
                Ok(tids) => tids,
                Err(e) if vanished(&e) => continue,
                Err(e) => return Err(CollectError::io(&task_dir, e)),
            };
            for tid in tids {
                if tid == pid {
                    *counts.thread_states.entry(state.clone()).or_default() += 1;
                    continue;
                }
                path.clone_from(&task_dir);
                path.push(tid.to_string());
                path.push("stat");
                if !read_stat(&path, &mut buf)? {
                    continue;
                }
                let thread = parse_stat(&buf).map_err(|e| CollectError::parse(&path, e))?;
                *counts
                    .thread_states
                    .entry(thread.state.to_string())
                    .or_default() += 1;
            }
        }
        Ok(counts)
    }
}

impl Collector for ProcessesCollector {
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        let counts = self.count();
        if let Ok(c) = &counts {
            out.gauge("node_processes_threads", "Threads allocated in the system.")
                .sample(&[], c.threads as f64);
            let fam = out.gauge("node_processes_state", "Number of processes in each state.");
            for (state, n) in &c.states {
                fam.sample(&[("state", state)], *n as f64);
            }
            let fam = out.gauge(
                "node_processes_threads_state",
                "Number of threads in each state.",
            );
            for (state, n) in &c.thread_states {
                fam.sample(&[("thread_state", state)], *n as f64);
            }
            out.gauge("node_processes_pids", "Number of processes (PIDs in use).")
                .sample(&[], c.pids as f64);
        }
        let mut limit_error = None;
        for (file, name, help) in [
            (
                "sys/kernel/threads-max",
                "node_processes_max_threads",
                "Limit of threads in the system (kernel.threads-max).",
            ),
            (
                "sys/kernel/pid_max",
                "node_processes_max_processes",
                "Limit of PIDs, one more than the highest PID (kernel.pid_max).",
            ),
        ] {
            match read_u64(self.roots.proc(file)) {
                Ok(v) => {
                    out.gauge(name, help).sample(&[], v as f64);
                }
                Err(e) => {
                    limit_error.get_or_insert(e);
                }
            }
        }
        counts?;
        match limit_error {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::fixture_roots;
    use proptest::prelude::*;

    const LINE: &str = "1234 (Web Content) S 1200 1180 1180 0 -1 4194560 81230 0 12 0 5213 1402 0 0 20 0 27 0 4321000 3012345856 98765 18446744073709551615 1 1 0 0 0 0 0 16781312 1082131704 0 0 0 17 5 0 0 0 0 0 0 0 0 0 0 0 0 0\n";

    #[test]
    fn parses_stat_lines() {
        assert_eq!(
            parse_stat(LINE),
            Ok(TaskStat {
                state: "S",
                num_threads: 27
            })
        );
        // A command with parentheses and spaces.
        let odd = LINE.replace("(Web Content)", "(a) b (c)");
        assert_eq!(parse_stat(&odd).unwrap().num_threads, 27);
        for bad in [
            "",
            "1234 Web S 1",
            "1234 (x) ",
            "1234 (x) S 1 2 3",
            "1234 )x( S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17",
            "1234 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 x",
            "1234 (x) S 1 2 3 a 5 6 7 8 9 10 11 12 13 14 15 16 1",
        ] {
            assert!(parse_stat(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn laptop_counts() {
        let c = ProcessesCollector {
            roots: fixture_roots("laptop"),
        }
        .count()
        .unwrap();
        assert!(c.pids >= 8, "{c:?}");
        assert!(c.threads > c.pids, "{c:?}");
        let threads_by_state: u64 = c.thread_states.values().sum();
        assert_eq!(
            threads_by_state, c.threads,
            "every thread has a task file: {c:?}"
        );
        assert!(
            c.states.contains_key("Z") && c.states.contains_key("I"),
            "{c:?}"
        );
    }

    #[test]
    fn vanished_process_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let proc_dir = dir.path();
        // 10 has a stat and its task directory; 11 vanished (its directory is empty); 12 has a
        // stat but its task directory has gone, and one of 10's threads has gone.
        std::fs::create_dir_all(proc_dir.join("10/task/10")).unwrap();
        std::fs::create_dir_all(proc_dir.join("10/task/13")).unwrap();
        std::fs::create_dir_all(proc_dir.join("10/task/14")).unwrap();
        std::fs::write(proc_dir.join("10/stat"), LINE.replace(" 27 ", " 3 ")).unwrap();
        std::fs::write(proc_dir.join("10/task/13/stat"), LINE.replace(") S", ") R")).unwrap();
        std::fs::create_dir_all(proc_dir.join("11")).unwrap();
        std::fs::create_dir_all(proc_dir.join("12")).unwrap();
        std::fs::write(proc_dir.join("12/stat"), LINE.replace(") S", ") D")).unwrap();
        std::fs::create_dir_all(proc_dir.join("self")).unwrap();
        std::fs::create_dir_all(proc_dir.join("sys/kernel")).unwrap();
        std::fs::write(proc_dir.join("sys/kernel/threads-max"), "1000\n").unwrap();
        std::fs::write(proc_dir.join("sys/kernel/pid_max"), "4194304\n").unwrap();
        let c = ProcessesCollector {
            roots: Roots {
                procfs: proc_dir.to_path_buf(),
                ..Roots::default()
            },
        };
        let mut out = MetricSet::new();
        c.collect(&mut out).unwrap();
        let v = |name: &str| out.get(name).unwrap().samples[0].value;
        assert_eq!(v("node_processes_pids"), 2.0);
        assert_eq!(v("node_processes_threads"), 30.0);
        assert_eq!(v("node_processes_max_threads"), 1000.0);
        assert_eq!(v("node_processes_max_processes"), 4194304.0);
        let states = &out.get("node_processes_threads_state").unwrap().samples;
        let by: Vec<_> = states
            .iter()
            .map(|s| (s.labels[0].1.as_str(), s.value))
            .collect();
        assert_eq!(by, vec![("R", 1.0), ("S", 1.0)]);
    }

    #[test]
    fn broken_publishes_only_limits() {
        let mut out = MetricSet::new();
        let err = ProcessesCollector {
            roots: fixture_roots("broken"),
        }
        .collect(&mut out)
        .unwrap_err();
        assert!(err.to_string().contains("stat"), "{err}");
        assert!(out.get("node_processes_pids").is_none());
        assert!(out.get("node_processes_max_processes").is_some());
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_text_never_panics(text in "[0-9a-zA-Z ()\\-\\n]{0,200}") {
            let _ = parse_stat(&text);
        }

        #[test]
        fn well_formed_parses_back(
            pid in 1u32..4_194_304,
            comm in "[ -~]{0,15}",
            state in prop_oneof![Just("R"), Just("S"), Just("D"), Just("Z"), Just("I"), Just("T")],
            middle in proptest::collection::vec(any::<i64>(), 16),
            threads in 1u64..100_000,
        ) {
            let mut text = format!("{pid} ({comm}) {state}");
            for m in &middle {
                text.push_str(&format!(" {m}"));
            }
            text.push_str(&format!(" {threads} 0 12345 0 0\n"));
            let s = parse_stat(&text).unwrap();
            prop_assert_eq!(s.state, state);
            prop_assert_eq!(s.num_threads, threads);
        }
    }
}
