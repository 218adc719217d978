//! The textfile collector on real collector output: Debian's `prometheus-node-exporter-collectors`
//! scripts are run here (those that work on a test machine), their output is saved into a textfile
//! directory made at run time, and sysmon-exporter and Debian's node_exporter 1.5 read that
//! directory. Every series must be the same on both sides, with the same TYPE and HELP, and
//! sysmon's output must pass `promtool check metrics`. Then bad files are added beside them, and
//! the good series must survive on both sides.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};

use common::{parse_exposition, start_node_exporter, start_sysmon, SeriesKey};

const SCRIPTS: &str = "/usr/share/prometheus-node-exporter-collectors";

/// What `ipmitool sensor` prints on a small server (the collector's awk script converts it).
const IPMITOOL_SENSOR: &str = "\
CPU1 Temp        | 54.000     | degrees C  | ok    | 0.000     | 0.000     | 0.000     | 95.000    | 98.000    | 100.000
Inlet Temp       | 23.500     | degrees C  | ok    | na        | na        | na        | 42.000    | 45.000    | na
FAN1             | 5400.000   | RPM        | ok    | na        | 300.000   | 500.000   | na        | na        | na
FAN2             | na         | RPM        | na    | na        | 300.000   | 500.000   | na        | na        | na
12V              | 12.096     | Volts      | ok    | 10.173    | 10.299    | 10.740    | 13.260    | 13.386    | 13.512
PS1 Input Power  | 184.000    | Watts      | ok    | na        | na        | na        | na        | na        | na
PS1 Status       | 0x1        | discrete   | 0x0100| na        | na        | na        | na        | na        | na
";

/// Runs one collector script; its standard output becomes `<dir>/<name>.prom` when it exits 0
/// (as the package's systemd units do with `sponge`). Returns whether it did.
fn run_script(dir: &Path, name: &str, program: &str, args: &[&str], stdin: &str) -> bool {
    let mut child = match Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{name}: not run ({program}: {e})");
            return false;
        }
    };
    let _ = std::io::Write::write_all(child.stdin.as_mut().unwrap(), stdin.as_bytes());
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    if !out.status.success() {
        eprintln!(
            "{name}: skipped, exit {} ({})",
            out.status,
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        );
        return false;
    }
    std::fs::write(dir.join(format!("{name}.prom")), &out.stdout).unwrap();
    eprintln!(
        "{name}: {} lines",
        out.stdout.split(|&b| b == b'\n').count() - 1
    );
    true
}

/// Fills `dir` with the output of every collector script that works on this machine.
fn collect_real_output(dir: &Path, work: &Path) -> BTreeSet<&'static str> {
    assert!(
        Path::new(SCRIPTS).is_dir(),
        "{SCRIPTS} is missing: run scripts/install-test-deps.sh (Debian package prometheus-node-exporter-collectors)"
    );
    let script = |s: &str| format!("{SCRIPTS}/{s}");
    // Directories for directory-size.sh, one with a quote and a backslash in its name (the script
    // escapes them in the label value).
    let odd = work.join("odd \"name\" \\ here");
    std::fs::create_dir_all(&odd).unwrap();
    std::fs::write(odd.join("data"), vec![0u8; 10_000]).unwrap();
    let odd = odd.to_str().unwrap().to_string();
    let etc_apt = "/etc/apt".to_string();
    let mut produced = BTreeSet::new();
    // The interpreter is Debian's (python3-apt is installed for it), not whatever python3 is first
    // on PATH.
    let runs: Vec<(&'static str, String, Vec<String>, &str)> = vec![
        (
            "apt_info",
            "/usr/bin/python3".into(),
            vec![script("apt_info.py")],
            "",
        ),
        (
            "directory_size",
            "/bin/sh".into(),
            vec![script("directory-size.sh"), odd, etc_apt],
            "",
        ),
        (
            "ipmitool",
            "/usr/bin/awk".into(),
            vec!["-f".into(), script("ipmitool")],
            IPMITOOL_SENSOR,
        ),
        (
            "smartmon",
            "/usr/bin/python3".into(),
            vec![script("smartmon.py")],
            "",
        ),
        (
            "inotify_instances",
            "/usr/bin/python3".into(),
            vec![script("inotify-instances")],
            "",
        ),
        (
            "fstab_check",
            "/bin/bash".into(),
            vec![script("fstab-check.sh")],
            "",
        ),
        (
            "node_os_info",
            "/bin/sh".into(),
            vec![script("node_os_info.sh")],
            "",
        ),
        (
            "btrfs_stats",
            "/usr/bin/python3".into(),
            vec![script("btrfs_stats.py")],
            "",
        ),
        (
            "md_info",
            "/bin/bash".into(),
            vec![script("md_info.sh")],
            "",
        ),
    ];
    for (name, program, args, stdin) in runs {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        if run_script(dir, name, &program, &args, stdin) {
            produced.insert(name);
        }
    }
    for needed in ["apt_info", "directory_size", "ipmitool"] {
        assert!(
            produced.contains(needed),
            "{needed} produced no output here"
        );
    }
    produced
}

/// Series that are not the textfile collector's, or whose values are the two programs' own.
fn comparable(key: &SeriesKey) -> bool {
    ![
        "process_",
        "go_",
        "promhttp_",
        "node_exporter_",
        "sysmon_",
        "node_scrape_collector_duration",
    ]
    .iter()
    .any(|p| key.name.starts_with(p))
}

fn series(text: &str) -> BTreeMap<SeriesKey, f64> {
    parse_exposition(text)
        .into_iter()
        .filter(|(k, _)| comparable(k))
        .collect()
}

/// The `# TYPE` lines, and the `# HELP` lines of the files' families (the collector's own two
/// families have HELP texts in sysmon's words).
fn metadata(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| {
            let mut words = l.split(' ');
            let (Some("#"), Some(kind), Some(name)) = (words.next(), words.next(), words.next())
            else {
                return false;
            };
            let key = SeriesKey {
                name: name.to_string(),
                labels: vec![],
            };
            comparable(&key)
                && (kind == "TYPE" || (kind == "HELP" && !name.starts_with("node_textfile_")))
        })
        .map(str::to_string)
        .collect()
}

/// Both exporters on `root/textfile` with only the textfile collector.
fn scrape_both(root: &Path) -> (String, String) {
    let node = start_node_exporter(root, &["textfile"], &[]);
    let sysmon = start_sysmon(
        root,
        &["--collector.disable-defaults", "--collector.textfile"],
    );
    (node.get("/metrics"), sysmon.get("/metrics"))
}

fn assert_same(node: &str, sysmon: &str) -> usize {
    let (theirs, ours) = (series(node), series(sysmon));
    let only_node: Vec<String> = theirs
        .keys()
        .filter(|k| !ours.contains_key(k))
        .map(|k| k.to_string())
        .collect();
    let only_sysmon: Vec<String> = ours
        .keys()
        .filter(|k| !theirs.contains_key(k))
        .map(|k| k.to_string())
        .collect();
    assert!(
        only_node.is_empty() && only_sysmon.is_empty(),
        "only in node_exporter: {only_node:#?}\nonly in sysmon: {only_sysmon:#?}"
    );
    for (key, theirs_v) in &theirs {
        let ours_v = ours[key];
        assert!(
            ours_v == *theirs_v || (ours_v.is_nan() && theirs_v.is_nan()),
            "{key}: sysmon {ours_v}, node_exporter {theirs_v}"
        );
    }
    let (m_theirs, m_ours) = (metadata(node), metadata(sysmon));
    assert_eq!(
        m_theirs.difference(&m_ours).collect::<Vec<_>>(),
        m_ours.difference(&m_theirs).collect::<Vec<_>>(),
        "TYPE/HELP lines differ (left: only node_exporter, right: only sysmon)"
    );
    theirs.len()
}

#[test]
fn debian_collector_scripts_read_like_node_exporter() {
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("machine");
    let dir = root.join("textfile");
    std::fs::create_dir_all(&dir).unwrap();
    let produced = collect_real_output(&dir, work.path());

    let (node, sysmon) = scrape_both(&root);
    let compared = assert_same(&node, &sysmon);
    let files = parse_exposition(&sysmon)
        .into_iter()
        .filter(|(k, _)| k.name == "node_textfile_mtime_seconds")
        .count();
    assert_eq!(files, produced.len(), "every script's file was read");
    assert!(
        sysmon.contains("node_textfile_scrape_error 0\n"),
        "{sysmon}"
    );
    assert!(
        sysmon.contains("apt_upgrades_pending") && sysmon.contains("node_ipmi_temperature_celsius"),
        "{sysmon}"
    );
    eprintln!(
        "{compared} series equal for {} scripts: {produced:?}",
        produced.len()
    );
    let problems = common::promtool_problems(&sysmon);
    assert!(
        problems.is_empty(),
        "promtool check metrics:\n{}",
        problems.join("\n")
    );

    // Bad files beside the good ones: each is skipped alone, on both sides.
    for (name, text) in [
        (
            "zz_timestamp.prom",
            "late_metric 1 1763958001000\n".as_bytes(),
        ),
        ("zz_malformed.prom", b"broken{label=\"x\" 1\n"),
        ("zz_no_newline.prom", b"cut_short 1"),
        ("zz_escape.prom", b"bad_escape{v=\"\\t\"} 1\n"),
        ("zz_utf8.prom", b"bad_utf8{v=\"\xff\"} 1\n"),
        (
            "zz_second_type.prom",
            b"# TYPE twice gauge\n# TYPE twice gauge\n",
        ),
    ] {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let (node_bad, sysmon_bad) = scrape_both(&root);
    assert_eq!(assert_same(&node_bad, &sysmon_bad), compared);
    assert!(sysmon_bad.contains("node_textfile_scrape_error 1\n"));
    assert!(node_bad.contains("node_textfile_scrape_error 1\n"));
    let problems = common::promtool_problems(&sysmon_bad);
    assert!(
        problems.is_empty(),
        "promtool check metrics:\n{}",
        problems.join("\n")
    );
}

/// Files that name families the exporter exports itself, or that clash with each other in one of
/// the two formats, never make the exporter's output invalid.
#[test]
fn clashing_files_leave_the_output_valid() {
    let work = tempfile::tempdir().unwrap();
    let root = common::fixture("laptop");
    let dir = work.path().join("textfile");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("clash.prom"),
        "# HELP node_load1 A file's load.\n# TYPE node_load1 gauge\nnode_load1 99\n\
         # TYPE node_cpu_seconds gauge\nnode_cpu_seconds 1\n\
         process_open_fds 5\nsysmon_anomaly_active 1\n\
         node_scrape_collector_success{collector=\"x\"} 1\n\
         # TYPE x gauge\nx 1\n# TYPE x_total counter\nx_total 2\nkept 3\n",
    )
    .unwrap();
    let arg = format!("--collector.textfile.directory={}", dir.display());
    let sysmon = start_sysmon(&root, &[&arg]);
    for format in ["text/plain", "application/openmetrics-text; version=1.0.0"] {
        let text = common::get_text(&sysmon.url("/metrics"), &[("Accept", format)]);
        for family in [
            "node_load1",
            "process_open_fds",
            "sysmon_anomaly_active",
            "node_scrape_collector_success",
        ] {
            assert_eq!(
                text.matches(&format!("# TYPE {family} ")).count(),
                1,
                "{family} announced once ({format})"
            );
        }
        assert!(
            text.contains("\nnode_load1 0.5"),
            "the loadavg collector's value stays"
        );
        assert!(!text.contains("node_load1 99"));
        // A gauge `node_cpu_seconds` would be the cpu collector's counter family in OpenMetrics.
        assert!(
            !text.contains("# TYPE node_cpu_seconds gauge")
                && !text.contains("\nnode_cpu_seconds 1\n")
        );
        assert!(text.contains("node_cpu_seconds_total{"));
        assert!(text.contains("\nkept 3\n"), "{text}");
        if format == "text/plain" {
            let problems: Vec<String> = common::promtool_problems(&text)
                .into_iter()
                .filter(|l| !common::is_node_exporter_naming(l))
                .collect();
            assert!(
                problems.is_empty(),
                "promtool check metrics:\n{}",
                problems.join("\n")
            );
        }
    }
}
