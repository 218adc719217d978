//! The collector on the server fixture's process tree and on small trees written by the tests
//! (the comparison with process-exporter is `tests/process_oracle.rs`).

use std::path::Path;
use std::time::Duration;

use super::config::{GroupRule, ProcessSettings};
use super::ProcessCollector;
use crate::collector::{fixture_roots, Collector, Roots};
use crate::metrics::MetricSet;

fn value(set: &MetricSet, family: &str, group: &str, extra: Option<(&str, &str)>) -> Option<f64> {
    set.get(family)?
        .samples
        .iter()
        .find(|s| {
            s.labels.iter().any(|(k, v)| k == "groupname" && v == group)
                && extra.is_none_or(|(ek, ev)| s.labels.iter().any(|(k, v)| k == ek && v == ev))
        })
        .map(|s| s.value)
}

fn collect(c: &ProcessCollector) -> (MetricSet, Result<(), String>) {
    let mut set = MetricSet::new();
    let r = c.collect(&mut set).map_err(|e| e.to_string());
    (set, r)
}

/// A minimal process: stat, status, io, limits, cmdline and `fds` open descriptors.
struct Proc<'a> {
    pid: u32,
    ppid: u32,
    comm: &'a str,
    utime: u64,
    starttime: u64,
    rss_pages: u64,
}

fn write_proc(root: &Path, p: &Proc) {
    let dir = root.join(p.pid.to_string());
    std::fs::create_dir_all(dir.join("fd")).unwrap();
    for fd in 0..4 {
        std::fs::write(dir.join(format!("fd/{fd}")), "").unwrap();
    }
    let mut stat = format!(
        "{} ({}) S {} {} {} 0 -1 4194560 100 0 2 0 {} 10 0 0 20 0 1 0 {} 1000000 {} 18446744073709551615",
        p.pid, p.comm, p.ppid, p.pid, p.pid, p.utime, p.starttime, p.rss_pages
    );
    stat.push_str(&" 0".repeat(28));
    std::fs::write(dir.join("stat"), stat + "\n").unwrap();
    std::fs::write(
        dir.join("status"),
        format!("Name:\t{}\nState:\tS (sleeping)\nUid:\t0\t0\t0\t0\nVmSwap:\t0 kB\nvoluntary_ctxt_switches:\t5\nnonvoluntary_ctxt_switches:\t1\n", p.comm),
    )
    .unwrap();
    std::fs::write(dir.join("io"), "read_bytes: 4096\nwrite_bytes: 0\n").unwrap();
    std::fs::write(
        dir.join("limits"),
        "Limit                     Soft Limit           Hard Limit           Units     \nMax open files            16                   16                   files     \n",
    )
    .unwrap();
    std::fs::write(dir.join("cmdline"), format!("/usr/bin/{}\0", p.comm)).unwrap();
}

fn tree() -> (tempfile::TempDir, Roots) {
    let dir = tempfile::tempdir().unwrap();
    let proc_dir = dir.path().join("proc");
    std::fs::create_dir_all(&proc_dir).unwrap();
    std::fs::write(proc_dir.join("stat"), "cpu 1 2 3 4\nbtime 1700000000\n").unwrap();
    let roots = Roots {
        procfs: proc_dir,
        sysfs: dir.path().join("sys"),
        rootfs: dir.path().join("rootfs"),
    };
    (dir, roots)
}

fn unbounded() -> ProcessSettings {
    ProcessSettings {
        top_n: 0,
        ..ProcessSettings::default()
    }
}

#[test]
fn server_fixture_by_comm_is_bounded_and_complete() {
    let c = ProcessCollector::new(fixture_roots("server"), ProcessSettings::default()).unwrap();
    let (set, result) = collect(&c);
    assert_eq!(result, Ok(()));
    let procs = set.get("namedprocess_namegroup_num_procs").unwrap();
    assert!(procs.samples.len() <= 21, "{} groups", procs.samples.len());
    // Every process with a stat is counted once (proc/4999 has none: it exited).
    let total: f64 = procs.samples.iter().map(|s| s.value).sum();
    assert_eq!(total, 276.0);
    assert!(value(&set, "namedprocess_namegroup_num_procs", "other", None).unwrap() > 100.0);
    // The biggest memory users keep their name.
    assert!(value(&set, "namedprocess_namegroup_num_procs", "java", None).is_some());
    assert!(value(&set, "namedprocess_namegroup_num_procs", "postgres", None).unwrap() >= 37.0);
    // Kernel threads have no fd directory in the fixture (git keeps no empty directory), which
    // on a live kernel means the process exited: not a partial read.
    let partial = set
        .get("namedprocess_scrape_partial_errors")
        .unwrap()
        .samples[0]
        .value;
    assert_eq!(partial, 0.0);
    // The fixture's loadavg counts the tree's 378 threads: none hidden.
    assert_eq!(
        set.get("sysmon_process_hidden_threads").unwrap().samples[0].value,
        0.0
    );
    // java's 7 threads are read for its context switches and states: process + threads.
    let states: f64 = ["Running", "Sleeping", "Waiting", "Zombie", "Other"]
        .iter()
        .map(|s| {
            value(
                &set,
                "namedprocess_namegroup_states",
                "java",
                Some(("state", s)),
            )
            .unwrap()
        })
        .sum();
    assert_eq!(states, 8.0);
    assert_eq!(
        value(&set, "namedprocess_namegroup_worst_fd_ratio", "java", None),
        Some(233.0 / 256.0)
    );
}

#[test]
fn counters_stay_monotonic_across_exit_and_pid_reuse() {
    let (_dir, roots) = tree();
    let p = |pid, utime, starttime| Proc {
        pid,
        ppid: 1,
        comm: "worker",
        utime,
        starttime,
        rss_pages: 10,
    };
    write_proc(&roots.procfs, &p(10, 500, 100));
    write_proc(&roots.procfs, &p(11, 700, 100));
    let c = ProcessCollector::new(roots.clone(), unbounded()).unwrap();
    let cpu = |set: &MetricSet| {
        value(
            set,
            "namedprocess_namegroup_cpu_seconds_total",
            "worker",
            Some(("mode", "user")),
        )
        .unwrap()
    };
    let (first, _) = collect(&c);
    assert_eq!(cpu(&first), 0.0, "counted from the first scan");
    write_proc(&roots.procfs, &p(10, 800, 100));
    let (second, _) = collect(&c);
    assert_eq!(cpu(&second), 3.0);
    // pid 10 exits and its pid is reused by a process that started before the first scan (so
    // it counts from now), pid 11 exits.
    std::fs::remove_dir_all(roots.procfs.join("11")).unwrap();
    write_proc(&roots.procfs, &p(10, 100, 200));
    let (third, _) = collect(&c);
    assert_eq!(cpu(&third), 3.0);
    assert_eq!(
        value(&third, "namedprocess_namegroup_num_procs", "worker", None),
        Some(1.0)
    );
    write_proc(&roots.procfs, &p(10, 150, 200));
    let (fourth, _) = collect(&c);
    assert_eq!(cpu(&fourth), 3.5);
}

#[test]
fn vanished_and_malformed_processes() {
    let (_dir, roots) = tree();
    let ok = Proc {
        pid: 20,
        ppid: 1,
        comm: "sshd",
        utime: 1,
        starttime: 5,
        rss_pages: 1,
    };
    write_proc(&roots.procfs, &ok);
    // Exited between the listing and the read: no stat, not an error.
    std::fs::create_dir_all(roots.procfs.join("21")).unwrap();
    let c = ProcessCollector::new(roots.clone(), unbounded()).unwrap();
    assert_eq!(collect(&c).1, Ok(()));
    // A malformed stat: the collector fails naming it, the rest is still published.
    std::fs::write(roots.procfs.join("21/stat"), "21 (x) S 1 2\n").unwrap();
    let (set, result) = collect(&c);
    let e = result.unwrap_err();
    assert!(e.contains("21/stat") && e.contains("at least 24"), "{e}");
    assert_eq!(
        value(&set, "namedprocess_namegroup_num_procs", "sshd", None),
        Some(1.0)
    );
    assert_eq!(
        set.get("namedprocess_scrape_procread_errors")
            .unwrap()
            .samples[0]
            .value,
        1.0
    );
    // An unreadable io (a directory here; EACCES for another user's process) is a partial read.
    std::fs::remove_file(roots.procfs.join("20/io")).unwrap();
    std::fs::create_dir(roots.procfs.join("20/io")).unwrap();
    std::fs::remove_dir_all(roots.procfs.join("21")).unwrap();
    let (set, result) = collect(&c);
    assert_eq!(result, Ok(()));
    assert_eq!(
        set.get("namedprocess_scrape_partial_errors")
            .unwrap()
            .samples[0]
            .value,
        1.0
    );
    assert_eq!(
        value(&set, "namedprocess_namegroup_num_procs", "sshd", None),
        Some(1.0)
    );
    // No /proc at all: the collector fails and says so in namedprocess_scrape_errors.
    std::fs::remove_dir_all(&roots.procfs).unwrap();
    let (set, result) = collect(&c);
    assert!(result.is_err());
    assert!(set.get("namedprocess_scrape_errors").is_some());
}

#[test]
fn threads_the_scan_cannot_see_are_counted() {
    let (_dir, roots) = tree();
    for pid in [50, 51] {
        write_proc(
            &roots.procfs,
            &Proc {
                pid,
                ppid: 1,
                comm: "mine",
                utime: 1,
                starttime: 5,
                rss_pages: 1,
            },
        );
    }
    let c = ProcessCollector::new(roots.clone(), ProcessSettings::default()).unwrap();
    // Without /proc/loadavg the figure is unknown: no series.
    assert!(collect(&c).0.get("sysmon_process_hidden_threads").is_none());
    // hidepid: the kernel counts 50 tasks, the scan sees 2 single-threaded processes.
    std::fs::write(roots.procfs.join("loadavg"), "0.10 0.20 0.30 1/50 4242\n").unwrap();
    let (set, _) = collect(&c);
    let hidden = set.get("sysmon_process_hidden_threads").unwrap().samples[0].value;
    assert_eq!(hidden, 48.0);
    assert_eq!(
        super::tasks_in_loadavg("0.52 0.61 0.58 2/1432 98765\n"),
        Some(1432)
    );
    assert_eq!(super::tasks_in_loadavg("0.20 abc"), None);
}

#[test]
fn children_join_their_ancestors_group() {
    let (_dir, roots) = tree();
    let p = |pid, ppid, comm| Proc {
        pid,
        ppid,
        comm,
        utime: 1,
        starttime: 5,
        rss_pages: 1,
    };
    write_proc(&roots.procfs, &p(30, 1, "supervisor"));
    write_proc(&roots.procfs, &p(31, 30, "sh"));
    write_proc(&roots.procfs, &p(32, 31, "worker"));
    write_proc(&roots.procfs, &p(33, 1, "unrelated"));
    let rules = vec![GroupRule {
        name: Some("svc-{{.Comm}}".to_string()),
        comm: Some(vec!["supervisor".to_string()]),
        ..GroupRule::default()
    }];
    for (children, expected) in [(true, 3.0), (false, 1.0)] {
        let settings = ProcessSettings {
            children,
            groups: rules.clone(),
            ..unbounded()
        };
        let c = ProcessCollector::new(roots.clone(), settings).unwrap();
        let (set, _) = collect(&c);
        assert_eq!(
            value(
                &set,
                "namedprocess_namegroup_num_procs",
                "svc-supervisor",
                None
            ),
            Some(expected),
            "children {children}"
        );
        assert_eq!(
            set.get("namedprocess_namegroup_num_procs")
                .unwrap()
                .samples
                .len(),
            1
        );
    }
}

#[test]
fn own_interval_serves_the_last_scan() {
    let (_dir, roots) = tree();
    let p = |pid| Proc {
        pid,
        ppid: 1,
        comm: "app",
        utime: 1,
        starttime: 5,
        rss_pages: 1,
    };
    write_proc(&roots.procfs, &p(40));
    let settings = ProcessSettings {
        interval: Duration::from_secs(3600),
        ..ProcessSettings::default()
    };
    let c = ProcessCollector::new(roots.clone(), settings).unwrap();
    let (first, _) = collect(&c);
    write_proc(&roots.procfs, &p(41));
    let (second, _) = collect(&c);
    assert_eq!(
        value(&second, "namedprocess_namegroup_num_procs", "app", None),
        Some(1.0)
    );
    assert_eq!(first.families, second.families);
}

mod properties {
    use std::collections::HashMap;
    use std::path::Path;

    use proptest::prelude::*;

    use super::super::{config, parse, parse_passwd, template};

    proptest! {
        /// Arbitrary bytes never panic a parser (the fuzz target `process` runs the same calls).
        #[test]
        fn arbitrary_input_never_panics(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            let text = String::from_utf8_lossy(&data);
            if let Ok(stat) = parse::parse_stat(&text) {
                let wrapped = format!("({})", stat.comm);
                prop_assert!(text.contains(&wrapped));
            }
            let _ = parse::parse_status(&text);
            let _ = parse::parse_io(&text);
            let _ = parse::parse_open_files_limit(&text);
            let _ = parse::parse_smaps_rollup(&text);
            let args = parse::parse_cmdline(&data);
            prop_assert!(args.len() <= data.len());
            let _ = parse_passwd(&text);
            if let Ok(t) = template::Template::parse(&text) {
                let user = || "root".to_string();
                let _ = t.render(&template::Fields {
                    comm: "comm",
                    cmdline: &args,
                    username: &user,
                    pid: 1,
                    matches: &HashMap::new(),
                });
            }
            if let Ok(rules) = config::parse_yaml(Path::new("p.yml"), &text) {
                prop_assert!(config::Namer::new(&rules).is_ok());
            }
        }

        /// A well-formed stat line parses back to its fields, whatever the command name holds.
        #[test]
        fn well_formed_stat_parses_back(
            comm in "[ -~]{0,15}",
            utime in any::<u32>(),
            rss in any::<u32>(),
            threads in 1u32..1000,
        ) {
            let line = format!(
                "42 ({comm}) S 1 42 42 0 -1 4194560 10 0 2 0 {utime} 5 0 0 20 0 {threads} 0 99 8192 {rss} 18446744073709551615 0 0\n"
            );
            let s = parse::parse_stat(&line).unwrap();
            prop_assert_eq!(s.comm, comm.as_str());
            prop_assert_eq!((s.utime, s.rss, s.num_threads), (utime as u64, rss as u64, threads as u64));
        }
    }
}
