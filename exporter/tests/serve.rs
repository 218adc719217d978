//! End-to-end tests of what the running binary serves and how it starts and stops: exposition
//! formats, gzip, `collect[]`/`exclude[]`, the landing page, `/health`, promtool's verdict, exit
//! statuses for bad usage and configuration, and shutdown on SIGTERM.

mod common;

use std::io::Read;
use std::time::{Duration, Instant};

use common::{fixture, parse_exposition, run_to_exit, start_sysmon, MACHINES};

#[test]
fn text_and_openmetrics_formats() {
    let e = start_sysmon(&fixture("laptop"), &[]);
    let resp = ureq::get(&e.url("/metrics")).call().unwrap();
    assert_eq!(
        resp.header("Content-Type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = resp.into_string().unwrap();
    assert!(text.contains("# TYPE node_cpu_seconds_total counter\n"));
    assert!(!text.contains("# EOF"));

    let resp = ureq::get(&e.url("/metrics"))
        .set(
            "Accept",
            "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4",
        )
        .call()
        .unwrap();
    assert_eq!(
        resp.header("Content-Type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    let om = resp.into_string().unwrap();
    assert!(
        om.contains("# TYPE node_cpu_seconds counter\n"),
        "OpenMetrics names counter families without _total"
    );
    assert!(om.contains("node_cpu_seconds_total{"));
    assert!(om.ends_with("# EOF\n"));
}

#[test]
fn gzip_when_asked() {
    let e = start_sysmon(&fixture("vm"), &[]);
    let resp = ureq::get(&e.url("/metrics"))
        .set("Accept-Encoding", "gzip")
        .call()
        .unwrap();
    assert_eq!(resp.header("Content-Encoding"), Some("gzip"));
    let mut compressed = Vec::new();
    resp.into_reader().read_to_end(&mut compressed).unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&compressed[..])
        .read_to_string(&mut text)
        .unwrap();
    assert!(text.contains("node_load1 "), "{text}");
    assert!(
        compressed.len() * 3 < text.len(),
        "metrics text compresses well"
    );
}

#[test]
fn collect_and_exclude_select_collectors() {
    let e = start_sysmon(&fixture("laptop"), &[]);
    let only = parse_exposition(&e.get("/metrics?collect[]=loadavg&collect[]=meminfo"));
    let collectors: Vec<String> = only
        .keys()
        .filter(|k| k.name == "node_scrape_collector_success")
        .map(|k| k.labels[0].1.clone())
        .collect();
    assert_eq!(collectors, vec!["loadavg", "meminfo"]);
    assert!(only.keys().any(|k| k.name == "node_load1"));
    assert!(!only.keys().any(|k| k.name == "node_cpu_seconds_total"));

    let without = parse_exposition(&e.get("/metrics?exclude[]=cpu"));
    assert!(!without.keys().any(|k| k.name == "node_cpu_seconds_total"));
    assert!(without.keys().any(|k| k.name == "node_load1"));

    for bad in [
        "collect[]=nosuch",
        "collect[]=cpu&exclude[]=meminfo",
        "format=json",
    ] {
        match ureq::get(&e.url(&format!("/metrics?{bad}"))).call() {
            Err(ureq::Error::Status(400, resp)) => {
                assert_eq!(resp.header("Content-Type"), Some("application/json"));
                let body: serde_json::Value =
                    serde_json::from_str(&resp.into_string().unwrap()).unwrap();
                assert_eq!(body["status"], "error");
                assert!(!body["error"].as_str().unwrap().is_empty());
            }
            other => panic!("{bad}: expected 400, got {other:?}"),
        }
    }
}

#[test]
fn disabled_collector_is_absent_and_rejected_in_collect() {
    let e = start_sysmon(&fixture("laptop"), &["--no-collector.cpu"]);
    let all = e.get("/metrics");
    assert!(!all.contains("node_cpu_seconds_total"));
    assert!(!all.contains("collector=\"cpu\""));
    match ureq::get(&e.url("/metrics?collect[]=cpu")).call() {
        Err(ureq::Error::Status(400, resp)) => {
            assert!(resp.into_string().unwrap().contains("not enabled"))
        }
        other => panic!("expected 400, got {other:?}"),
    }
}

#[test]
fn landing_page_and_health() {
    let e = start_sysmon(&fixture("server"), &["--web.telemetry-path=/custom"]);
    let page = e.get("/");
    assert!(page.contains("sysmon-exporter"));
    assert!(
        page.contains("href=\"/custom\""),
        "links to the configured metrics path"
    );
    for c in ["cpu", "diskstats", "filesystem", "netdev", "hwmon"] {
        assert!(
            page.contains(&format!("<td>{c}</td>")),
            "{c} in the collector table"
        );
    }
    assert!(
        page.contains("<th>CPU since start</th>"),
        "the landing page shows each collector's CPU time"
    );
    // Its links to the feed answer.
    for link in ["/api/v1/anomalies?state=active", "/api/v1/anomalies/rank"] {
        assert!(page.contains(&format!("href=\"{link}\"")), "{link} linked");
        let body: serde_json::Value = serde_json::from_str(&e.get(link)).unwrap();
        assert_eq!(body["status"], "success", "{link}: {body}");
    }
    let metrics = e.get("/custom");
    assert!(metrics.contains("node_load1"));
    assert!(metrics.contains("sysmon_collector_cpu_seconds_total{collector=\"cpu\"}"));
    let health: serde_json::Value = serde_json::from_str(&e.get("/health")).unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(
        health["collectors"],
        sysmon_exporter::collector::REGISTRY
            .iter()
            .filter(|r| r.default_enabled)
            .count()
    );
    match ureq::get(&e.url("/nosuch")).call() {
        Err(ureq::Error::Status(404, _)) => {}
        other => panic!("expected 404, got {other:?}"),
    }
}

#[test]
fn promtool_check_metrics_is_clean_apart_from_kernel_spelled_names() {
    for machine in MACHINES {
        let e = start_sysmon(&fixture(machine), &[]);
        let text = e.get("/metrics");
        let problems: Vec<String> = common::promtool_problems(&text)
            .into_iter()
            .filter(|l| !common::is_node_exporter_naming(l))
            .collect();
        assert!(
            problems.is_empty(),
            "{machine}: promtool check metrics:\n{}",
            problems.join("\n")
        );
    }
}

#[test]
fn sigterm_shuts_down_cleanly() {
    let mut e = start_sysmon(&fixture("vm"), &[]);
    let pid = e.child.id() as i32;
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = e.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "still running 10 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
}

#[test]
fn bad_flags_and_config_exit_with_status_2() {
    let (code, err) = run_to_exit(&["--collector.nosuch"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--collector.nosuch"), "{err}");

    let (code, err) = run_to_exit(&["--web.listen-address=nonsense"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--web.listen-address"), "{err}");

    let (code, err) = run_to_exit(&["--collector.filesystem.mount-points-exclude=(unclosed"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("filesystem"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sysmon.toml");
    std::fs::write(&file, "[sampler]\ninterval = \"2s\"\n\n[samplr]\nx = 1\n").unwrap();
    let (code, err) = run_to_exit(&[&format!("--config.file={}", file.display())]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!("{}:4:", file.display())),
        "names file and line: {err}"
    );
    assert!(err.contains("samplr"), "{err}");

    // A rule section names a rule the exporter does not have: file, line and the known names.
    std::fs::write(
        &file,
        "[rules.cpu_high]\nthreshold = 80.0\n\n[rules.cpu_hgh]\nthreshold = 1.0\n",
    )
    .unwrap();
    let (code, err) = run_to_exit(&[&format!("--config.file={}", file.display())]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains(&format!("{}:4:", file.display())),
        "names file and line: {err}"
    );
    assert!(
        err.contains("rules.cpu_hgh: unknown rule; expected one of cpu_high, cpu_jump"),
        "{err}"
    );
    assert!(err.contains("adaptive_temperature"), "{err}");

    let (code, err) = run_to_exit(&["--config.file=/nonexistent/sysmon.toml"]);
    assert_eq!(code, Some(2), "{err}");
}

#[test]
fn shipped_config_starts() {
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sysmon.toml");
    let e = start_sysmon(
        &fixture("vm"),
        &[&format!("--config.file={}", example.display())],
    );
    assert!(e.get("/metrics").contains("node_load1"));
}
