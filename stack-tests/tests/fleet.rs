//! `deploy/fleet/fleet.py`, the fleet simulator of docs/scale.md: a small fleet (one host of each
//! kind) comes up on loopback with distinct host names and a file_sd file listing it, the down
//! host does not answer, the run ends at its --duration, and nothing is left behind: no exporter,
//! no machine tree, no targets file. A bad flag is refused with status 2.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_yaml_ng::Value;
use sysmon_stack_tests::{exporter_binary, repo_root};

fn fleet_py() -> Command {
    let mut c = Command::new("python3");
    c.arg(repo_root().join("deploy/fleet/fleet.py"));
    c
}

fn answers(target: &str) -> Option<String> {
    ureq::get(&format!("http://{target}/metrics"))
        .timeout(Duration::from_secs(5))
        .call()
        .ok()?
        .into_string()
        .ok()
}

#[test]
fn a_small_fleet_comes_up_with_distinct_hosts_and_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let targets_file = dir.path().join("targets/fleet.yml");
    // Below the kernel's ephemeral range (32768 and up), where other tests' free ports come from.
    let port = 20000 + (std::process::id() % 10000) as u16;
    let mut child = fleet_py()
        .arg("--hosts=7")
        .arg("--duration=25s")
        .arg(format!("--targets-file={}", targets_file.display()))
        .arg(format!("--exporter={}", exporter_binary().display()))
        .arg(format!("--base-port={port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run python3 deploy/fleet/fleet.py");

    // The targets file appears once every exporter answers.
    let deadline = Instant::now() + Duration::from_secs(120);
    while !targets_file.exists() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "fleet.py exited before it wrote {}",
            targets_file.display()
        );
        assert!(Instant::now() < deadline, "no targets file within 120 s");
        std::thread::sleep(Duration::from_millis(200));
    }
    let groups: Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(&targets_file).unwrap()).unwrap();
    let mut by_kind: Vec<(String, String)> = Vec::new();
    for g in groups.as_sequence().expect("a file_sd list") {
        assert_eq!(g["labels"]["fleet"].as_str(), Some("simulated"));
        let kind = g["labels"]["kind"].as_str().unwrap().to_string();
        for t in g["targets"].as_sequence().unwrap() {
            by_kind.push((kind.clone(), t.as_str().unwrap().to_string()));
        }
    }
    let kinds: Vec<&str> = by_kind.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "vm",
            "server",
            "laptop",
            "container",
            "broken",
            "down",
            "flapping"
        ],
        "one host of each kind"
    );

    // Every host but the down one answers, each under its own name.
    let mut names = Vec::new();
    for (kind, target) in &by_kind {
        let body = answers(target);
        if kind == "down" {
            assert!(body.is_none(), "the down host {target} answers");
            continue;
        }
        let body = body.unwrap_or_else(|| panic!("{kind} host {target} does not answer"));
        let nodename = body
            .lines()
            .find(|l| l.starts_with("node_uname_info{"))
            .and_then(|l| l.split("nodename=\"").nth(1))
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("{kind} host {target}: no node_uname_info"))
            .to_string();
        assert!(
            nodename.starts_with(&format!("sim-{kind}-")),
            "{target}: {nodename}"
        );
        names.push(nodename);
    }
    let mut distinct = names.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), names.len(), "host names: {names:?}");

    // Bounded: it ends by itself, and cleans up.
    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "fleet.py ran past its --duration"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(status.success(), "fleet.py: {status}");
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    let last: serde_json::Value = out
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("no final JSON summary: {out}"));
    assert!(
        last["exporters_cpu_seconds"].as_f64().is_some(),
        "the final summary: {out}"
    );
    assert!(!targets_file.exists(), "the targets file is left behind");
    for (_, target) in &by_kind {
        assert!(answers(target).is_none(), "{target} still answers");
    }
    // "fleet: 7 hosts in <dir>": the machine trees and the exporters' state went with it.
    let work = out
        .lines()
        .find_map(|l| l.strip_prefix("fleet: 7 hosts in "))
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("where the trees were: {out}"));
    assert!(!work.exists(), "{} is left behind", work.display());
}

#[test]
fn bad_flags_are_refused_with_status_2() {
    for (args, what) in [
        (
            vec!["--hosts=0", "--targets-file=/nonexistent/x.yml"],
            "--hosts",
        ),
        (
            vec!["--duration=forever", "--targets-file=/nonexistent/x.yml"],
            "--duration",
        ),
        (vec!["--hosts=3"], "--targets-file"),
    ] {
        let out = fleet_py().args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(what), "{args:?}: {err}");
    }
}
