//! node_exporter's command line on sysmon-exporter: every flag Debian's node_exporter prints in
//! `--help` is accepted by sysmon's parser (enabling a collector sysmon lacks is the one refusal,
//! naming the collector); a realistic Debian unit's command line starts the real binary and serves
//! metrics with the flags' effects; systemd socket activation and repeated listen addresses.

mod common;

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{fixture, free_port, node_exporter_binary, parse_exposition, root_args, run_to_exit};
use sysmon_exporter::collector::REGISTRY;
use sysmon_exporter::compat;

fn exporter_bin() -> &'static str {
    env!("CARGO_BIN_EXE_sysmon-exporter")
}

/// One flag of node_exporter's `--help`.
#[derive(Debug)]
struct HelpFlag {
    name: String,
    /// `None` for a boolean; else the default shown (quoted defaults unquoted) or the placeholder.
    value: Option<String>,
}

/// The flags of a kingpin `--help` text (both kingpin spellings: `--flag` and `--[no-]flag`).
fn help_flags(help: &str) -> Vec<HelpFlag> {
    let mut out = Vec::new();
    for line in help.lines() {
        // Flags start within the first columns; deeper lines continue a description.
        let indent = line.len() - line.trim_start().len();
        if indent > 8 {
            continue;
        }
        let line = line.trim_start();
        let line = line.strip_prefix("-h, ").unwrap_or(line);
        let Some(rest) = line.strip_prefix("--") else {
            continue;
        };
        let rest = rest.strip_prefix("[no-]").unwrap_or(rest);
        let spec = rest.split("  ").next().unwrap_or(rest).trim_end();
        let spec = spec.strip_suffix(" ...").unwrap_or(spec);
        let (name, value) = match spec.split_once('=') {
            Some((n, v)) => (n, Some(unquote(v))),
            None => (spec, None),
        };
        out.push(HelpFlag {
            name: name.to_string(),
            value,
        });
    }
    out
}

/// A Go `%q` string as kingpin prints a default (`"^(ram|loop)\\d+$"`), or the text as it is.
fn unquote(v: &str) -> String {
    match v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) => inner.replace("\\\\", "\\").replace("\\\"", "\""),
        None => v.to_string(),
    }
}

/// A plausible value for a flag: its default when the help shows a non-empty one, else one made
/// from its name (a valid regular expression for the filter flags).
fn plausible(flag: &HelpFlag) -> String {
    let shown = flag.value.as_deref().unwrap_or("");
    let placeholder = shown
        .chars()
        .all(|c| c.is_ascii_uppercase() || "._-".contains(c));
    if !shown.is_empty() && !placeholder {
        return shown.to_string();
    }
    let n = flag.name.as_str();
    if [
        "include",
        "exclude",
        "ignored",
        "fields",
        "whitelist",
        "blacklist",
    ]
    .iter()
    .any(|k| n.contains(k))
    {
        "^(eth[0-9]+|sd[a-z])$".to_string()
    } else if n.ends_with(".url") {
        "http://localhost:9001/RPC2".to_string()
    } else if n.ends_with(".cpus") {
        "0-1".to_string()
    } else if n.ends_with(".tracepoint") {
        "sched:sched_switch".to_string()
    } else if n.contains("file") || n.contains("dir") || n.contains("fixtures") {
        "/etc/prometheus/node-exporter".to_string()
    } else {
        "x".to_string()
    }
}

/// A collector switch (`collector.<name>`), as opposed to a collector's option.
fn collector_switch(name: &str) -> Option<&str> {
    let c = name.strip_prefix("collector.")?;
    (!c.contains('.') && c != "disable-defaults").then_some(c)
}

fn debian_help() -> String {
    let out = Command::new(node_exporter_binary())
        .arg("--help")
        .output()
        .expect("run node_exporter --help");
    // kingpin prints the help on stderr.
    let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stdout));
    text
}

#[test]
fn every_flag_of_debian_node_exporter_help_is_accepted() {
    let help = debian_help();
    let flags = help_flags(&help);
    assert!(
        flags.len() > 100,
        "expected node_exporter's full flag list, parsed {}: {help}",
        flags.len()
    );
    let mut checked = 0;
    for flag in &flags {
        let name = flag.name.as_str();
        if name == "help" {
            continue;
        }
        if name == "version" {
            // The program prints its build information itself (tests/cli_docs.rs), in
            // node_exporter's layout, which clap's version flag cannot give.
            let cli = sysmon_exporter::cli::try_parse(&["sysmon-exporter", "--version"])
                .expect("--version is accepted");
            assert!(cli.version);
            continue;
        }
        let mut forms: Vec<String> = match &flag.value {
            Some(_) => vec![format!("--{name}={}", plausible(flag))],
            None => vec![format!("--{name}"), format!("--no-{name}")],
        };
        if let Some(collector) = collector_switch(name) {
            assert!(
                compat::COLLECTORS.contains(&collector),
                "node_exporter 1.5's {collector} collector is missing from compat::COLLECTORS"
            );
            if !REGISTRY.iter().any(|r| r.name == collector) {
                let enable = forms.remove(0);
                let err = sysmon_exporter::cli::try_parse(&["sysmon-exporter", &enable])
                    .err()
                    .unwrap_or_else(|| panic!("{enable} accepted for a collector sysmon lacks"));
                assert_eq!(err.exit_code(), 2, "{enable}");
                let text = err.to_string();
                assert!(
                    text.contains(&format!("{collector} collector"))
                        && text.contains("does not implement"),
                    "{enable}: {text}"
                );
            }
        }
        for form in forms {
            if let Err(e) = sysmon_exporter::cli::try_parse(&["sysmon-exporter", &form]) {
                panic!("{form} (from node_exporter --help) is refused: {e}");
            }
            checked += 1;
        }
    }
    assert!(checked > 150, "only {checked} forms checked");
}

#[test]
fn enabling_a_collector_sysmon_lacks_exits_with_status_2() {
    let missing = compat::COLLECTORS
        .iter()
        .find(|c| !REGISTRY.iter().any(|r| r.name == **c))
        .expect("some node_exporter collector is not in sysmon");
    let (code, err) = run_to_exit(&[&format!("--collector.{missing}")]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!("--collector.{missing}"))
            && err.contains(&format!("{missing} collector"))
            && err.contains("does not implement"),
        "{err}"
    );

    let (code, err) = run_to_exit(&["--web.systemd-socket"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("--web.systemd-socket") && err.contains("LISTEN_PID"),
        "{err}"
    );
}

/// A running exporter started by the test with its stderr kept.
struct Started {
    child: std::process::Child,
    stderr: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Started {
    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

fn wait_ready(started: &mut Started, url: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(status)) = started.child.try_wait() {
            panic!("exited with {status}: {}", started.stderr());
        }
        if let Ok(resp) = ureq::get(url).timeout(Duration::from_secs(2)).call() {
            let body = resp.into_string().unwrap_or_default();
            if body.contains("\"collectors\":") && !body.contains("\"collectors\":0") {
                return;
            }
        }
        assert!(Instant::now() < deadline, "not ready: {}", started.stderr());
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn start(cmd: &mut Command, dir: tempfile::TempDir) -> Started {
    let stderr = dir.path().join("stderr");
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    Started {
        child,
        stderr,
        _dir: dir,
    }
}

/// What a Debian host's `/etc/default/prometheus-node-exporter` might hold (old and new spellings
/// mixed, as a file kept across upgrades does), with the fixture roots and test ports added.
#[test]
fn debian_unit_command_line_starts_and_serves() {
    let root = fixture("laptop");
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (free_port(), free_port());
    let mut cmd = Command::new(exporter_bin());
    cmd.args([
        format!("--web.listen-address=127.0.0.1:{a}"),
        format!("--web.listen-address=127.0.0.1:{b}"),
        "--web.telemetry-path=/metrics".to_string(),
        "--web.disable-exporter-metrics".to_string(),
        "--web.max-requests=40".to_string(),
        "--web.config.file=".to_string(),
        "--runtime.gomaxprocs=1".to_string(),
        "--collector.textfile.directory=/var/lib/prometheus/node-exporter".to_string(),
        "--collector.filesystem.ignored-mount-points=^/(dev|proc|run|sys|media|var/lib/docker/.+)($|/)"
            .to_string(),
        "--collector.filesystem.ignored-fs-types=^(autofs|proc|sysfs|tmpfs|devtmpfs)$".to_string(),
        "--collector.netdev.device-blacklist=^(docker[0-9]+|veth.+)$".to_string(),
        r"--collector.diskstats.ignored-devices=^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$"
            .to_string(),
        "--collector.netclass.ignored-devices=^(veth.+)$".to_string(),
        "--collector.cpu.info".to_string(),
        "--collector.stat.softirq".to_string(),
        "--path.udev.data=/run/udev/data".to_string(),
        "--no-collector.wifi".to_string(),
        "--no-collector.infiniband".to_string(),
        "--no-collector.zfs".to_string(),
        "--no-collector.nfs".to_string(),
        "--no-collector.netdev.netlink".to_string(),
        "--collector.ntp.server=127.0.0.1".to_string(),
        "--log.level=warn".to_string(),
        "--log.format=logfmt".to_string(),
        "--sampler.interval=200ms".to_string(),
        "--sampler.collector-timeout=200ms".to_string(),
        format!("--path.kmsg={}", root.join("kmsg").display()),
        format!("--storage.path={}", dir.path().display()),
    ])
    .args(root_args(&root));
    let mut started = start(&mut cmd, dir);
    wait_ready(&mut started, &format!("http://127.0.0.1:{a}/health"));

    for port in [a, b] {
        let body = common::get_text(&format!("http://127.0.0.1:{port}/metrics"), &[]);
        let series = parse_exposition(&body);
        let names = |prefix: &str| series.keys().filter(|k| k.name.starts_with(prefix)).count();
        assert!(names("node_cpu_seconds_total") > 0, "{port}: {body}");
        assert_eq!(names("sysmon_exporter_build_info"), 1);
        // --web.disable-exporter-metrics: the exporter's own runtime metrics are gone.
        assert_eq!(names("process_"), 0, "process_* left");
        assert_eq!(names("sysmon_exporter_sample_duration"), 0);
        // The deprecated spellings act as the flags they stand for.
        let devices: Vec<&str> = series
            .keys()
            .filter(|k| k.name == "node_network_receive_bytes_total")
            .filter_map(|k| k.labels.iter().find(|(l, _)| l == "device"))
            .map(|(_, v)| v.as_str())
            .collect();
        assert!(
            devices.contains(&"lo") && !devices.contains(&"docker0"),
            "{devices:?}"
        );
        let mounts: Vec<&str> = series
            .keys()
            .filter(|k| k.name == "node_filesystem_size_bytes")
            .filter_map(|k| k.labels.iter().find(|(l, _)| l == "mountpoint"))
            .map(|(_, v)| v.as_str())
            .collect();
        assert!(
            mounts.contains(&"/") && mounts.contains(&"/home"),
            "{mounts:?}"
        );
        assert!(
            !mounts
                .iter()
                .any(|m| m.starts_with("/run") || m.starts_with("/media")),
            "{mounts:?}"
        );
    }
    // One line per flag without effect, each saying why.
    let log = started.stderr();
    for flag in ["--runtime.gomaxprocs", "--collector.ntp.server"] {
        let line = log
            .lines()
            .find(|l| l.contains(&format!("{flag} is accepted")))
            .unwrap_or_else(|| panic!("no warning for {flag}: {log}"));
        assert!(line.contains("level=warn"), "{line}");
    }
    assert!(
        !log.contains("--no-collector.netdev.netlink"),
        "reading /proc/net/dev is what sysmon does: no warning ({log})"
    );
}

/// `--web.systemd-socket` serves on the socket systemd passes as fd 3 (LISTEN_PID is the
/// exporter's own pid: `sh` sets it to `$$` and execs the exporter, which keeps that pid), and
/// ignores --web.listen-address as node_exporter does.
#[test]
fn systemd_socket_activation() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let fd = std::os::fd::AsRawFd::as_raw_fd(&listener);
    let root = fixture("vm");
    let dir = tempfile::tempdir().unwrap();
    let unused = free_port();
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(r#"export LISTEN_PID=$$ LISTEN_FDS=1; exec "$0" "$@""#)
        .arg(exporter_bin())
        .arg("--web.systemd-socket")
        .arg(format!("--web.listen-address=127.0.0.1:{unused}"))
        .arg("--sampler.interval=200ms")
        .arg("--sampler.collector-timeout=200ms")
        .arg(format!("--storage.path={}", dir.path().display()))
        .arg(format!("--path.kmsg={}", root.join("kmsg").display()))
        .args(root_args(&root));
    // SAFETY: between fork and exec only async-signal-safe calls: dup2 (and fcntl when the socket
    // already is fd 3) put the listening socket at fd 3 without close-on-exec.
    unsafe {
        cmd.pre_exec(move || {
            if fd == 3 {
                let flags = libc::fcntl(3, libc::F_GETFD);
                if flags < 0 || libc::fcntl(3, libc::F_SETFD, flags & !libc::FD_CLOEXEC) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            } else if libc::dup2(fd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut started = start(&mut cmd, dir);
    wait_ready(&mut started, &format!("http://127.0.0.1:{port}/health"));
    drop(listener); // the exporter holds its own copy
    let body = common::get_text(&format!("http://127.0.0.1:{port}/metrics"), &[]);
    assert!(body.contains("node_load1 "), "{body}");
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", unused)).is_err(),
        "--web.listen-address is not bound under socket activation"
    );
}

/// The README's table of flags accepted without effect lists exactly the ones this build accepts
/// without effect: a collector or option implemented later takes its flag out of the table.
#[test]
fn readme_lists_every_flag_accepted_without_effect() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let start = readme
        .find("<!-- compat-inert-flags")
        .expect("README has the compat-inert-flags table");
    let listed: std::collections::BTreeSet<String> = readme[start..]
        .lines()
        .skip(1)
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2) // header and separator
        .flat_map(|row| {
            let first = row.trim_start_matches('|').split('|').next().unwrap_or("");
            first
                .split('`')
                .filter(|t| t.starts_with("--"))
                .map(|t| t.trim_start_matches("--").to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    let inert: std::collections::BTreeSet<String> =
        compat::inert_flags(&sysmon_exporter::cli::command())
            .iter()
            .map(|f| f.long.to_string())
            .collect();
    let missing: Vec<_> = inert.difference(&listed).collect();
    let stale: Vec<_> = listed.difference(&inert).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "README's table of flags without effect: add {missing:?}, remove {stale:?} (now real flags)"
    );
}
