//! Live tests of the `process` collector on this machine's own /proc: real child processes (a
//! CPU burner, a memory grower, hundreds of short-lived children under as many command names) are
//! started and stopped, and the exporter's groups are checked while they come and go.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{fixture, parse_exposition, start_sysmon, Running, SeriesKey};

/// One test at a time: each starts a CPU burner and scans the whole host, and two at once on a
/// small machine would starve each other's scans past the collector timeout.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// Kills and reaps its children when dropped, so a failed assertion leaves nothing running.
struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `dir/<name>`, a symlink to `target`: a process started through it has `name` as its command
/// name (the kernel takes comm from the path executed).
fn alias(dir: &Path, name: &str, target: &str) -> String {
    let path = dir.join(name);
    std::os::unix::fs::symlink(target, &path).unwrap();
    path.display().to_string()
}

fn spawn(program: &str, args: &[&str]) -> Child {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {program}: {e}"))
}

fn scrape(e: &Running) -> BTreeMap<SeriesKey, f64> {
    parse_exposition(&e.get("/metrics"))
        .into_iter()
        .filter(|(k, _)| k.name.starts_with("namedprocess_namegroup_"))
        .collect()
}

fn group_value(
    s: &BTreeMap<SeriesKey, f64>,
    name: &str,
    group: &str,
    extra: Option<(&str, &str)>,
) -> Option<f64> {
    s.iter()
        .find(|(k, _)| {
            k.name == name
                && k.labels.iter().any(|(l, v)| l == "groupname" && v == group)
                && extra.is_none_or(|(el, ev)| k.labels.iter().any(|(l, v)| l == el && v == ev))
        })
        .map(|(_, v)| *v)
}

/// Groups per family: at most `limit` in every family.
fn assert_bounded(s: &BTreeMap<SeriesKey, f64>, limit: usize) {
    let mut groups: BTreeMap<&str, std::collections::BTreeSet<&str>> = BTreeMap::new();
    for k in s.keys() {
        if let Some((_, g)) = k.labels.iter().find(|(l, _)| l == "groupname") {
            groups
                .entry(k.name.as_str())
                .or_default()
                .insert(g.as_str());
        }
    }
    for (family, names) in groups {
        assert!(
            names.len() <= limit,
            "{family}: {} groups > {limit}: {names:?}",
            names.len()
        );
    }
}

/// Starts `count` short-lived children (each `sleep` under its own name `cmd<N>`), a few at a
/// time, scraping `sysmon` between batches; returns every scrape.
fn churn(
    dir: &Path,
    sysmon: &Running,
    count: usize,
    limit: usize,
) -> Vec<BTreeMap<SeriesKey, f64>> {
    let names: Vec<String> = (0..count)
        .map(|i| alias(dir, &format!("cmd{i:04}"), "/bin/sleep"))
        .collect();
    let mut scrapes = Vec::new();
    let mut running = Children(Vec::new());
    for batch in names.chunks(20) {
        for path in batch {
            running.0.push(spawn(path, &["0.6"]));
        }
        std::thread::sleep(Duration::from_millis(400));
        let s = scrape(sysmon);
        assert_bounded(&s, limit);
        scrapes.push(s);
        // Reap the ones that finished, so they leave as real processes do.
        running
            .0
            .retain_mut(|c| !matches!(c.try_wait(), Ok(Some(_))));
    }
    scrapes
}

#[test]
fn children_land_in_their_groups_and_series_stay_within_n_plus_one() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let burner = alias(dir.path(), "burner", "/bin/sh");
    let grower = alias(dir.path(), "grower", "/usr/bin/python3");
    // Only the test's own processes match; everything else on the host is not reported.
    let groups = dir.path().join("groups.yml");
    std::fs::write(
        &groups,
        format!(
            "process_names:\n  - comm: [burner]\n    name: '{{{{.Comm}}}}'\n  - comm: [grower]\n    name: '{{{{.Comm}}}}'\n  - name: '{{{{.Comm}}}}'\n    cmdline: ['^{}/cmd\\d+ ']\n",
            regex_escape(&dir.path().display().to_string())
        ),
    )
    .unwrap();
    let toml = dir.path().join("sysmon.toml");
    std::fs::write(&toml, "[process]\ntop_n = 5\nhold = \"2s\"\n").unwrap();
    let sysmon = start_sysmon(
        &fixture("server"),
        &[
            "--path.procfs=/proc",
            "--collector.disable-defaults",
            "--collector.process",
            &format!("--collector.process.config={}", groups.display()),
            &format!("--config.file={}", toml.display()),
            // A scan of the host in a debug build on a busy test machine (a CPU burner of our
            // own among the rest) may take a while.
            "--sampler.interval=2s",
            "--sampler.slow-interval=2s",
            "--sampler.collector-timeout=2s",
        ],
    );
    let _steady = Children(vec![
        spawn(&burner, &["-c", "while :; do :; done"]),
        // 512 KiB more every 100 ms, written so that it is resident, up to 60 MiB.
        spawn(&grower, &["-c", "import time\nb=[]\nfor _ in range(120):\n    b.append(bytearray(b'x')*(512*1024)); time.sleep(0.1)\ntime.sleep(60)\n"]),
    ]);
    common::eventually(
        "burner and grower are reported",
        || {},
        || {
            let s = scrape(&sysmon);
            group_value(&s, "namedprocess_namegroup_num_procs", "burner", None) == Some(1.0)
                && group_value(&s, "namedprocess_namegroup_num_procs", "grower", None) == Some(1.0)
        },
    );
    let first = scrape(&sysmon);
    let scrapes = churn(dir.path(), &sysmon, 300, 6);
    let last = scrape(&sysmon);

    // The burner used CPU, the grower grew, both kept their names throughout.
    let cpu = |s: &BTreeMap<SeriesKey, f64>| {
        group_value(
            s,
            "namedprocess_namegroup_cpu_seconds_total",
            "burner",
            Some(("mode", "user")),
        )
        .unwrap()
    };
    assert!(
        cpu(&last) > cpu(&first) + 0.5,
        "burner: {} -> {}",
        cpu(&first),
        cpu(&last)
    );
    let rss = |s: &BTreeMap<SeriesKey, f64>| {
        group_value(
            s,
            "namedprocess_namegroup_memory_bytes",
            "grower",
            Some(("memtype", "resident")),
        )
        .unwrap()
    };
    assert!(
        rss(&last) > rss(&first) + 5e6,
        "grower: {} -> {}",
        rss(&first),
        rss(&last)
    );
    for s in &scrapes {
        assert_eq!(
            group_value(s, "namedprocess_namegroup_num_procs", "burner", None),
            Some(1.0)
        );
        assert_eq!(
            group_value(s, "namedprocess_namegroup_num_procs", "grower", None),
            Some(1.0)
        );
    }
    // The short-lived children were seen, most of them in other, and the counters of every
    // series only grew from one scrape to the next.
    let seen_other = scrapes
        .iter()
        .filter_map(|s| group_value(s, "namedprocess_namegroup_num_procs", "other", None))
        .fold(0.0, f64::max);
    assert!(
        seen_other >= 10.0,
        "at most {seen_other} children at once in other"
    );
    let named_children = scrapes.iter().any(|s| {
        s.keys().any(|k| {
            k.labels
                .iter()
                .any(|(l, v)| l == "groupname" && v.starts_with("cmd"))
        })
    });
    assert!(named_children, "a child group kept its name for a while");
    for pair in scrapes.windows(2) {
        for (k, v) in &pair[0] {
            if k.name.ends_with("_total") {
                if let Some(next) = pair[1].get(k) {
                    assert!(next >= v, "{k:?} went from {v} to {next}");
                }
            }
        }
    }
}

#[test]
fn grouped_by_command_name_the_host_stays_within_n_plus_one() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let sysmon = start_sysmon(
        &fixture("server"),
        &[
            "--path.procfs=/proc",
            "--collector.disable-defaults",
            "--collector.process",
            "--collector.process.top-n=8",
            // A scan of the host in a debug build on a busy test machine (a CPU burner of our
            // own among the rest) may take a while.
            "--sampler.interval=2s",
            "--sampler.slow-interval=2s",
            "--sampler.collector-timeout=2s",
        ],
    );
    let scrapes = churn(dir.path(), &sysmon, 200, 9);
    assert!(!scrapes.is_empty());
    // Every process of the host is in some group: the sum of num_procs is the host's count.
    let last = scrapes.last().unwrap();
    let total: f64 = last
        .iter()
        .filter(|(k, _)| k.name == "namedprocess_namegroup_num_procs")
        .map(|(_, v)| v)
        .sum();
    let host = std::fs::read_dir("/proc")
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_str()
                .is_some_and(|n| n.parse::<u32>().is_ok())
        })
        .count() as f64;
    assert!(
        total > host * 0.5 && total < host * 1.5 + 50.0,
        "{total} processes in groups, {host} on the host"
    );
    assert!(group_value(last, "namedprocess_namegroup_num_procs", "other", None).unwrap() > 0.0);
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| match c.is_alphanumeric() || c == '/' || c == '_' {
            true => vec![c],
            false => vec!['\\', c],
        })
        .collect()
}

#[test]
fn a_growing_process_raises_process_memory_growth_and_a_steady_one_does_not() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let burner = alias(dir.path(), "burner", "/bin/sh");
    let grower = alias(dir.path(), "grower", "/usr/bin/python3");
    let groups = dir.path().join("groups.yml");
    std::fs::write(
        &groups,
        "process_names:\n  - comm: [burner, grower]\n    name: '{{.Comm}}'\n",
    )
    .unwrap();
    // Short windows: growth over 5 s, held for 1 s (the defaults are an hour and 30 minutes).
    let toml = dir.path().join("sysmon.toml");
    std::fs::write(
        &toml,
        "[process]\ngrowth_window = \"5s\"\ngrowth_min_r2 = 0.8\n\n[rules.process_memory_growth]\nthreshold = 100.0\nfor = \"1s\"\nclear_for = \"1s\"\n",
    )
    .unwrap();
    let sysmon = start_sysmon(
        &fixture("server"),
        &[
            "--path.procfs=/proc",
            "--collector.disable-defaults",
            "--collector.process",
            &format!("--collector.process.config={}", groups.display()),
            &format!("--config.file={}", toml.display()),
            "--sampler.interval=500ms",
            "--sampler.slow-interval=500ms",
            "--sampler.collector-timeout=500ms",
        ],
    );
    let _children = Children(vec![
        spawn(&burner, &["-c", "while :; do :; done"]),
        // About 5 MiB/s for 15 s (18 GiB/h, far above the threshold), then flat.
        spawn(&grower, &["-c", "import time\nb=[]\nfor _ in range(150):\n    b.append(bytearray(b'x')*(512*1024)); time.sleep(0.1)\ntime.sleep(60)\n"]),
    ]);
    let events = |state: &str| -> Vec<serde_json::Value> {
        common::feed(&sysmon, &format!("?rule=process_memory_growth{state}"))
    };
    common::eventually(
        "process_memory_growth fires for grower",
        || {},
        || {
            events("&state=active")
                .iter()
                .any(|e| e["subject"] == "grower")
        },
    );
    let growth = scrape_all(&sysmon)
        .into_iter()
        .find(|(k, _)| {
            k.name == "sysmon_process_memory_growth_bytes_per_second"
                && k.labels.iter().any(|(_, v)| v == "grower")
        })
        .map(|(_, v)| v)
        .unwrap();
    assert!(growth > 1e6, "grower's steady growth: {growth} B/s");
    // Once it stops growing, the trend reads 0 and the anomaly resolves.
    common::eventually(
        "process_memory_growth resolves for grower",
        || {},
        || {
            events("&state=resolved")
                .iter()
                .any(|e| e["subject"] == "grower")
        },
    );
    assert!(
        events("&state=all")
            .iter()
            .all(|e| e["subject"] != "burner"),
        "the burner's memory does not grow"
    );
}

fn scrape_all(e: &Running) -> BTreeMap<SeriesKey, f64> {
    parse_exposition(&e.get("/metrics"))
}
