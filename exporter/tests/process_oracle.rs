//! Oracle test of the `process` collector against the real process-exporter: Debian's
//! `prometheus-process-exporter` and sysmon-exporter read the same `/proc` tree (a copy of the
//! server fixture's few hundred processes) with the same group configuration
//! (`fixtures/process_groups.yml`), and every series both export must have the same value, in
//! three states of the tree:
//!
//! 1. as generated: every counter is 0 on both sides (both count the increases seen since their
//!    first scan, and nothing has moved);
//! 2. after a third of the processes used CPU, faulted pages, switched context and did I/O, and a
//!    new process started (it counts from its start, on both sides);
//! 3. after some processes exited, among them every process of one group: the counters stay
//!    where they were (monotonic), the gauges drop, and the emptied group keeps its counters.
//!
//! Each intended difference is listed in [`ONLY_PROCESS_EXPORTER`] and [`NOT_COMPARED`].

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{fixture, parse_exposition, start_process_exporter, start_sysmon, Running, SeriesKey};

/// Families only process-exporter exports, and why sysmon does not.
const ONLY_PROCESS_EXPORTER: &[(&str, &str)] = &[
    (
        "namedprocess_namegroup_thread_",
        "series per thread name within a group (-threads): their number grows with thread names, \
         which sysmon bounds; sysmon reads threads only to sum context switches and states",
    ),
    (
        "namedprocess_namegroup_threads_wchan",
        "a series per kernel wait channel per group: one more file per process and series without \
         bound",
    ),
];

/// Series both export whose values legitimately differ.
const NOT_COMPARED: &[(&str, &str)] = &[(
    "namedprocess_scrape_",
    "error counts accumulate per scan, and the two scan at different moments (process-exporter at \
     start and on every scrape, sysmon on its interval), and a missing fd/ (the fixture's kernel \
     threads: git keeps no empty directory) is a partial read for process-exporter, the process \
     exiting for sysmon (on a live kernel fd/ vanishes only with its process)",
)];

/// A group with no process left: process-exporter exports Go's zero time, sysmon 0.
const EMPTY_GROUP_START: f64 = -62135596800.0;

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            copy_tree(&entry.path(), &target);
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(entry.path()).unwrap(), &target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A machine root whose `proc` is a writable copy of the server's, the rest linked.
fn machine_copy(dir: &Path) -> PathBuf {
    let server = fixture("server");
    let root = dir.join("server");
    copy_tree(&server.join("proc"), &root.join("proc"));
    for part in ["sys", "rootfs", "kmsg", "textfile"] {
        std::os::unix::fs::symlink(server.join(part), root.join(part)).unwrap();
    }
    root
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Rewrites `btime` so the tree's processes started in the last days, and the new process of
/// step 2 after both exporters' first scans.
fn set_boot_time(proc_dir: &Path, btime: u64) {
    let path = proc_dir.join("stat");
    let text = std::fs::read_to_string(&path).unwrap();
    let text: String = text
        .lines()
        .map(|l| match l.starts_with("btime ") {
            true => format!("btime {btime}\n"),
            false => format!("{l}\n"),
        })
        .collect();
    std::fs::write(path, text).unwrap();
}

/// Adds to fields of a stat file (numbered as in proc(5)).
fn bump_stat(path: &Path, adds: &[(usize, u64)]) {
    let text = std::fs::read_to_string(path).unwrap();
    let close = text.rfind(')').unwrap();
    let mut fields: Vec<String> = text[close + 2..]
        .split_whitespace()
        .map(String::from)
        .collect();
    for &(n, add) in adds {
        let v: u64 = fields[n - 3].parse().unwrap();
        fields[n - 3] = match n {
            22 => add.to_string(), // starttime: set, not added
            _ => (v + add).to_string(),
        };
    }
    std::fs::write(path, format!("{} {}\n", &text[..=close], fields.join(" "))).unwrap();
}

/// Adds to the `key: value` lines of a status or io file.
fn bump_keyed(path: &Path, adds: &[(&str, u64)]) {
    let text = std::fs::read_to_string(path).unwrap();
    let out: String = text
        .lines()
        .map(|line| {
            for (key, add) in adds {
                if let Some(v) = line.strip_prefix(&format!("{key}:")) {
                    let n: u64 = v.trim().parse().unwrap();
                    return format!("{key}:\t{}\n", n + add);
                }
            }
            format!("{line}\n")
        })
        .collect();
    std::fs::write(path, out).unwrap();
}

fn pids(proc_dir: &Path) -> Vec<u32> {
    let mut pids: Vec<u32> = std::fs::read_dir(proc_dir)
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    pids
}

fn cmdline(proc_dir: &Path, pid: u32) -> String {
    String::from_utf8_lossy(
        &std::fs::read(proc_dir.join(format!("{pid}/cmdline"))).unwrap_or_default(),
    )
    .replace('\0', " ")
}

/// Step 2: every third process uses CPU, faults pages, switches context and does I/O; then a new
/// postgres backend starts.
fn activity(proc_dir: &Path, new_start_ticks: u64) {
    for pid in pids(proc_dir).into_iter().filter(|p| p % 3 == 0) {
        let dir = proc_dir.join(pid.to_string());
        if !dir.join("stat").exists() {
            continue;
        }
        bump_stat(
            &dir.join("stat"),
            &[(10, 1000 + pid as u64), (12, 3), (14, 250), (15, 50)],
        );
        let switches = [
            ("voluntary_ctxt_switches", 40),
            ("nonvoluntary_ctxt_switches", 4),
        ];
        bump_keyed(&dir.join("status"), &switches);
        // A multi-threaded process's total is its threads' sum: the main thread switched.
        let main_task = dir.join(format!("task/{pid}/status"));
        if main_task.exists() {
            bump_keyed(&main_task, &switches);
        }
        bump_keyed(
            &dir.join("io"),
            &[("read_bytes", 40960), ("write_bytes", 8192)],
        );
    }
    let template = pids(proc_dir)
        .into_iter()
        .find(|&p| cmdline(proc_dir, p).starts_with("postgres: app billing"))
        .expect("a billing backend");
    let new = proc_dir.join("7777");
    copy_tree(&proc_dir.join(template.to_string()), &new);
    bump_stat(
        &new.join("stat"),
        &[(22, new_start_ticks), (14, 7), (15, 3)],
    );
}

/// Step 3: two nginx workers, the new backend and tuned (the only process of group python3)
/// exit.
fn exits(proc_dir: &Path) {
    let workers: Vec<u32> = pids(proc_dir)
        .into_iter()
        .filter(|&p| cmdline(proc_dir, p).starts_with("nginx: worker"))
        .take(2)
        .collect();
    let tuned = pids(proc_dir)
        .into_iter()
        .find(|&p| cmdline(proc_dir, p).contains("/usr/sbin/tuned"))
        .expect("tuned");
    for pid in workers.into_iter().chain([7777, tuned]) {
        std::fs::remove_dir_all(proc_dir.join(pid.to_string())).unwrap();
    }
}

fn series(e: &Running) -> BTreeMap<SeriesKey, f64> {
    parse_exposition(&e.get("/metrics"))
        .into_iter()
        .filter(|(k, _)| k.name.starts_with("namedprocess_"))
        .collect()
}

fn value(s: &BTreeMap<SeriesKey, f64>, name: &str, group: &str) -> Option<f64> {
    s.iter()
        .find(|(k, _)| {
            k.name == name && k.labels.iter().any(|(l, v)| l == "groupname" && v == group)
        })
        .map(|(_, v)| *v)
}

/// Compares the two scrapes; returns how many series were equal, and panics listing every
/// difference not in the lists above.
fn compare(step: &str, pe: &BTreeMap<SeriesKey, f64>, sysmon: &BTreeMap<SeriesKey, f64>) -> usize {
    let listed = |name: &str, list: &[(&str, &str)]| list.iter().any(|(p, _)| name.starts_with(p));
    let mut problems = Vec::new();
    let mut equal = 0;
    for (key, &theirs) in pe {
        if listed(&key.name, ONLY_PROCESS_EXPORTER) || listed(&key.name, NOT_COMPARED) {
            continue;
        }
        let Some(&ours) = sysmon.get(key) else {
            problems.push(format!("only in process-exporter: {key:?} = {theirs}"));
            continue;
        };
        let empty_group_start = key.name == "namedprocess_namegroup_oldest_start_time_seconds"
            && theirs == EMPTY_GROUP_START
            && ours == 0.0;
        if empty_group_start || (ours - theirs).abs() <= 1e-9 * theirs.abs().max(1.0) {
            equal += 1;
        } else {
            problems.push(format!("{key:?}: process-exporter {theirs}, sysmon {ours}"));
        }
    }
    for key in sysmon.keys() {
        if !pe.contains_key(key) && !listed(&key.name, NOT_COMPARED) {
            problems.push(format!("only in sysmon: {key:?}"));
        }
    }
    assert!(
        problems.is_empty(),
        "{step}: {} differences:\n{}",
        problems.len(),
        problems.join("\n")
    );
    equal
}

/// Scrapes both until sysmon's scrape has caught up with the tree (`ready`), then once more after
/// a few of its scans, so that no scan that overlapped the change is the one compared.
fn settle(sysmon: &Running, ready: impl Fn(&BTreeMap<SeriesKey, f64>) -> bool) {
    common::eventually(
        "sysmon's scan sees the changed tree",
        || {},
        || ready(&series(sysmon)),
    );
    std::thread::sleep(Duration::from_millis(1000));
}

#[test]
fn same_values_as_process_exporter() {
    let dir = tempfile::tempdir().unwrap();
    let root = machine_copy(dir.path());
    let proc_dir = root.join("proc");
    // Booted ten days ago: every fixture process started before both exporters' first scans.
    let btime = now_secs() - 10 * 86400;
    set_boot_time(&proc_dir, btime);
    let groups = fixture("").join("process_groups.yml");
    let toml = dir.path().join("sysmon.toml");
    // Unbounded (every group named, as process-exporter), and smaps read for proportional memory.
    std::fs::write(&toml, "[process]\ntop_n = 0\nsmaps = true\n").unwrap();
    let pe = start_process_exporter(&proc_dir, &groups);
    let sysmon = start_sysmon(
        &root,
        &[
            "--collector.disable-defaults",
            "--collector.process",
            &format!("--collector.process.config={}", groups.display()),
            &format!("--config.file={}", toml.display()),
            // A scan of the whole tree in a debug build on a busy machine may take more than the
            // harness's 200 ms.
            "--sampler.interval=1s",
            "--sampler.slow-interval=1s",
            "--sampler.collector-timeout=1s",
        ],
    );
    settle(&sysmon, |s| {
        value(s, "namedprocess_namegroup_num_procs", "kernel").is_some()
    });

    // 1. As generated.
    let (theirs, ours) = (series(&pe), series(&sysmon));
    let equal = compare("as generated", &theirs, &ours);
    assert!(equal >= 400, "only {equal} series compared");
    let counters_at_zero = ours
        .iter()
        .filter(|(k, _)| k.name.ends_with("_total"))
        .all(|(_, v)| *v == 0.0);
    assert!(counters_at_zero, "nothing moved yet, every counter is 0");
    assert_eq!(
        value(&ours, "namedprocess_namegroup_num_procs", "kernel"),
        value(&theirs, "namedprocess_namegroup_num_procs", "kernel")
    );
    let partial = SeriesKey {
        name: "namedprocess_scrape_partial_errors".to_string(),
        labels: vec![],
    };
    assert!(
        theirs[&partial] > 0.0 && ours[&partial] == 0.0,
        "kernel threads' fd directories are absent: a partial read for process-exporter only"
    );
    let billing_before = value(&ours, "namedprocess_namegroup_num_procs", "pg-billing").unwrap();

    // 2. Activity, and a process started after both exporters' first scans.
    let new_start_ticks = (now_secs() + 60 - btime) * 100;
    activity(&proc_dir, new_start_ticks);
    settle(&sysmon, |s| {
        value(s, "namedprocess_namegroup_num_procs", "pg-billing") == Some(billing_before + 1.0)
    });
    let (theirs, ours) = (series(&pe), series(&sysmon));
    let equal = compare("after activity", &theirs, &ours);
    assert!(equal >= 400, "only {equal} series compared");
    let cpu = value(
        &ours,
        "namedprocess_namegroup_cpu_seconds_total",
        "pg-billing",
    )
    .unwrap();
    assert!(cpu > 0.0, "the billing backends used CPU");

    // 3. Exits: counters stay, gauges drop, the emptied group keeps its counters.
    let python_cpu = value(&ours, "namedprocess_namegroup_cpu_seconds_total", "python3");
    exits(&proc_dir);
    settle(&sysmon, |s| {
        value(s, "namedprocess_namegroup_num_procs", "python3") == Some(0.0)
    });
    let (theirs2, ours2) = (series(&pe), series(&sysmon));
    compare("after exits", &theirs2, &ours2);
    for (key, v) in &ours {
        if key.name.ends_with("_total") && key.name.starts_with("namedprocess_namegroup") {
            assert!(
                ours2.get(key).is_some_and(|v2| v2 >= v),
                "{key:?} went from {v} to {:?}",
                ours2.get(key)
            );
        }
    }
    assert_eq!(
        value(
            &ours2,
            "namedprocess_namegroup_cpu_seconds_total",
            "python3"
        ),
        python_cpu
    );
    assert_eq!(
        value(&ours2, "namedprocess_namegroup_num_procs", "pg-billing"),
        Some(billing_before)
    );
}
