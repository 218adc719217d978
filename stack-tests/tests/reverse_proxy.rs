//! `deploy/nginx/sysmon.conf` in front of a live stack (`deploy/stack.sh`: a real Prometheus and
//! Alertmanager, the exporter on a copy of the laptop fixture) on loopback: nginx (Debian's, run
//! as a foreground process with a temporary prefix) with a certificate openssl makes for the test.
//! Through the TLS server: a scrape of the exporter, Prometheus queries (GET and POST) while every
//! other Prometheus path is refused, Alertmanager behind basic auth, the plain-HTTP redirect, and
//! an anomaly event arriving through the proxied Server-Sent Events stream within a second of the
//! sample that starts it. Grafana is not installed here: its location is checked by `nginx -t`
//! and answers 502 (no upstream), which shows the route without a Grafana behind it.

mod native_stack;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use native_stack::{eventually, free_port, get, Proc, Stack};
use sysmon_stack_tests::{repo_root, tool};

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}",
        out.status,
        text(&out)
    );
    out
}

const NGINX: &str = "/usr/sbin/nginx";

/// The shipped configuration with this test's ports, certificate and password file: every
/// replaced text must be found, so a change to the file that the test no longer follows fails.
fn adapted_config(dir: &Path, stack: &Stack, https: u16, http: u16) -> String {
    let shipped = std::fs::read_to_string(repo_root().join("deploy/nginx/sysmon.conf")).unwrap();
    let p = stack.ports;
    let mut conf = shipped.clone();
    for (from, to) in [
        (
            "server 127.0.0.1:3000;",
            format!("server 127.0.0.1:{};", p.grafana),
        ),
        (
            "server 127.0.0.1:9090;",
            format!("server 127.0.0.1:{};", p.prometheus),
        ),
        (
            "server 127.0.0.1:9093;",
            format!("server 127.0.0.1:{};", p.alertmanager),
        ),
        (
            "server 127.0.0.1:10101;",
            format!("server 127.0.0.1:{};", p.exporter),
        ),
        ("    listen [::]:80;\n", String::new()),
        ("    listen [::]:443 ssl http2;\n", String::new()),
        ("listen 80;", format!("listen 127.0.0.1:{http};")),
        (
            "listen 443 ssl http2;",
            format!("listen 127.0.0.1:{https} ssl http2;"),
        ),
        (
            "/etc/ssl/sysmon/monitoring.crt",
            dir.join("tls.crt").display().to_string(),
        ),
        (
            "/etc/ssl/sysmon/monitoring.key",
            dir.join("tls.key").display().to_string(),
        ),
        (
            "/etc/nginx/sysmon.htpasswd",
            dir.join("htpasswd").display().to_string(),
        ),
        // Two servers with this name on other ports are fine, but keep the test's own.
        ("monitoring.example.org", "localhost".to_string()),
        (
            "shared:sysmon_tls:10m",
            "shared:sysmon_tls_test:1m".to_string(),
        ),
    ] {
        assert!(
            conf.contains(from),
            "deploy/nginx/sysmon.conf no longer has {from:?}"
        );
        conf = conf.replace(from, &to);
    }
    conf
}

/// nginx's own file in `dir`: a temporary prefix, the adapted sysmon.conf included in http {},
/// and compression on for every type a proxied answer has (Debian's nginx.conf turns gzip on for
/// the whole http block; a stream compressed by nginx is held back until a buffer fills).
fn main_config(dir: &Path) -> PathBuf {
    for sub in ["logs", "tmp"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        // Worker processes run as nobody when nginx starts as root.
        std::fs::set_permissions(
            dir.join(sub),
            std::os::unix::fs::PermissionsExt::from_mode(0o777),
        )
        .unwrap();
    }
    let tmp = dir.join("tmp").display().to_string();
    let main = format!(
        "pid {d}/nginx.pid;\nerror_log {d}/logs/error.log warn;\nevents {{}}\nhttp {{\n  access_log off;\n  gzip on;\n  gzip_proxied any;\n  gzip_min_length 0;\n  gzip_types text/plain application/json text/event-stream;\n  client_body_temp_path {tmp}/body;\n  proxy_temp_path {tmp}/proxy;\n  fastcgi_temp_path {tmp}/fastcgi;\n  uwsgi_temp_path {tmp}/uwsgi;\n  scgi_temp_path {tmp}/scgi;\n  include {d}/sysmon.conf;\n}}\n",
        d = dir.display()
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, main).unwrap();
    path
}

/// curl against the proxy, trusting the test's certificate: status and body.
fn curl(ca: &Path, args: &[&str]) -> (u16, String) {
    let out = Command::new(tool("curl", "curl"))
        .args(["-s", "--max-time", "10", "--cacert"])
        .arg(ca)
        .args(["-w", "\n%{http_code}"])
        .args(args)
        .output()
        .unwrap();
    let all = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = all.rsplit_once('\n').unwrap_or(("", &all));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

/// The laptop fixture's /proc/stat with every CPU at `busy` user and `idle` idle ticks.
fn write_stat(root: &Path, busy: u64, idle: u64) {
    let original =
        std::fs::read_to_string(repo_root().join("exporter/tests/fixtures/laptop/proc/stat"))
            .unwrap();
    let mut out = format!("cpu  {} 0 0 {} 0 0 0 0 0 0\n", busy * 8, idle * 8);
    for cpu in 0..8 {
        out.push_str(&format!("cpu{cpu} {busy} 0 0 {idle} 0 0 0 0 0 0\n"));
    }
    for line in original.lines().filter(|l| !l.starts_with("cpu")) {
        out.push_str(line);
        out.push('\n');
    }
    // Replaced at once, as the kernel's files never show a half-written state.
    let path = root.join("proc/stat");
    let tmp = root.join("proc/stat.tmp-write");
    std::fs::write(&tmp, out).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
}

/// The value of the first series named by `prefix` (name, or name and opening brace) whose line
/// contains each of `labels`.
fn metric(body: &str, prefix: &str, labels: &[&str]) -> Option<f64> {
    body.lines()
        .find(|l| l.starts_with(prefix) && labels.iter().all(|x| l.contains(x)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn nginx_config_passes_scrapes_queries_and_the_event_stream() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    // ---- a machine whose CPU the test drives, and rules that fire at once
    let machine = d.join("laptop");
    run(Command::new("cp")
        .arg("-a")
        .arg(repo_root().join("exporter/tests/fixtures/laptop"))
        .arg(&machine));
    let (mut busy, mut idle) = (1_000_000u64, 1_000_000u64);
    write_stat(&machine, busy, idle);
    let config = d.join("sysmon.toml");
    std::fs::write(
        &config,
        "[rules.cpu_high]\nthreshold = 90.0\nfor = \"0s\"\nclear_for = \"0s\"\n",
    )
    .unwrap();
    let stack = Stack::new(&[
        ("SYSMON_STACK_SCRAPE_INTERVAL", "1s".into()),
        (
            "SYSMON_STACK_GRAFANA_BIN",
            "/nonexistent/grafana-server".into(),
        ),
        (
            "SYSMON_STACK_EXPORTER_ARGS",
            format!(
                "--path.procfs={m}/proc --path.sysfs={m}/sys --path.rootfs={m}/rootfs --path.kmsg={m}/kmsg --config.file={c} --sampler.interval=200ms --sampler.slow-interval=200ms --sampler.collector-timeout=200ms --log.level=warn",
                m = machine.display(),
                c = config.display()
            ),
        ),
    ]);
    stack.up();

    // ---- certificate, password file, nginx -t, nginx
    run(Command::new(tool("openssl", "openssl"))
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
        ])
        .arg(d.join("tls.key"))
        .arg("-out")
        .arg(d.join("tls.crt")));
    let hash = run(Command::new(tool("openssl", "openssl")).args(["passwd", "-apr1", "s3cret"]));
    std::fs::write(
        d.join("htpasswd"),
        format!("admin:{}", String::from_utf8_lossy(&hash.stdout)),
    )
    .unwrap();
    let (https, http) = (free_port(), free_port());
    std::fs::write(
        d.join("sysmon.conf"),
        adapted_config(d, &stack, https, http),
    )
    .unwrap();
    let main = main_config(d);
    let prefix = d.display().to_string();
    let check = Command::new(NGINX)
        .args(["-t", "-p", &prefix, "-c"])
        .arg(&main)
        .output()
        .expect("nginx is installed (scripts/install-test-deps.sh)");
    assert!(check.status.success(), "nginx -t:\n{}", text(&check));
    assert!(text(&check).contains("syntax is ok"), "{}", text(&check));
    let _nginx = Proc(
        Command::new(NGINX)
            .args(["-p", &prefix, "-c"])
            .arg(&main)
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let ca = d.join("tls.crt");
    let base = format!("https://localhost:{https}");
    let resolve = format!("localhost:{https}:127.0.0.1");
    let at = |path: &str| format!("{base}{path}");
    let get_tls = |path: &str| curl(&ca, &["--resolve", &resolve, &at(path)]);
    eventually(
        "nginx to answer on TLS",
        Duration::from_secs(15),
        || {},
        || (get_tls("/exporter/health").0 == 200).then_some(()),
        || {
            format!(
                "{:?}\n{}",
                get_tls("/exporter/health"),
                std::fs::read_to_string(d.join("logs/error.log")).unwrap_or_default()
            )
        },
    );

    // ---- a scrape through the proxy
    let (status, metrics) = get_tls("/exporter/metrics");
    assert_eq!(status, 200);
    assert!(
        metrics.contains("node_cpu_seconds_total{cpu=\"7\""),
        "the laptop fixture's eight CPUs"
    );

    // ---- Prometheus: queries pass (GET and POST), nothing else does
    let instance = format!("127.0.0.1:{}", stack.ports.exporter);
    eventually(
        "up of the exporter through the proxied query API",
        Duration::from_secs(30),
        || {},
        || {
            let (s, body) = get_tls(&format!(
                "/prometheus/api/v1/query?query=up%7Binstance%3D%22{instance}%22%7D"
            ));
            let v: serde_json::Value = serde_json::from_str(&body).ok()?;
            (s == 200 && v["data"]["result"][0]["value"][1] == "1").then_some(())
        },
        || format!("{:?}", get_tls("/prometheus/api/v1/query?query=up")),
    );
    let (s, body) = curl(
        &ca,
        &[
            "--resolve",
            &resolve,
            "--data-urlencode",
            "query=count(node_cpu_seconds_total{mode=\"idle\"})",
            &at("/prometheus/api/v1/query"),
        ],
    );
    assert_eq!(s, 200, "POST query: {body}");
    assert!(body.contains("\"8\""), "eight idle series: {body}");
    let (s, body) = get_tls("/prometheus/api/v1/label/job/values");
    assert!(s == 200 && body.contains("sysmon"), "{s} {body}");
    for (method, path) in [
        ("GET", "/prometheus/api/v1/status/config"),
        ("GET", "/prometheus/graph"),
        ("POST", "/prometheus/-/reload"),
        ("POST", "/prometheus/-/quit"),
        ("POST", "/prometheus/api/v1/admin/tsdb/snapshot"),
        (
            "POST",
            "/prometheus/api/v1/admin/tsdb/delete_series?match[]=up",
        ),
        ("POST", "/prometheus/api/v1/write"),
        ("DELETE", "/prometheus/api/v1/query?query=up"),
        ("PUT", "/prometheus/api/v1/query?query=up"),
    ] {
        let (s, _) = curl(&ca, &["--resolve", &resolve, "-X", method, &at(path)]);
        assert_eq!(s, 403, "{method} {path} must be refused");
    }
    // Prometheus is still there after the refused /-/quit.
    assert_eq!(
        get(&format!("{}/-/healthy", stack.prometheus_url())).map(|r| r.0),
        Ok(200)
    );

    // ---- Alertmanager behind basic auth; the exporter read-only
    let (s, _) = get_tls("/alertmanager/api/v2/status");
    assert_eq!(s, 401, "Alertmanager without a password");
    let (s, body) = curl(
        &ca,
        &[
            "--resolve",
            &resolve,
            "-u",
            "admin:s3cret",
            &at("/alertmanager/api/v2/status"),
        ],
    );
    assert!(s == 200 && body.contains("\"cluster\""), "{s} {body}");
    let (s, _) = curl(
        &ca,
        &[
            "--resolve",
            &resolve,
            "-X",
            "POST",
            &at("/exporter/metrics"),
        ],
    );
    assert_eq!(s, 403, "the exporter's paths are read-only");

    // ---- Grafana is not installed: the route exists, with no upstream behind it
    let (s, _) = get_tls("/");
    assert_eq!(s, 502, "no Grafana listens on its port");

    // ---- plain HTTP redirects to HTTPS
    let out = run(Command::new(tool("curl", "curl")).args([
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{redirect_url}",
        &format!("http://127.0.0.1:{http}/exporter/metrics"),
    ]));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("301 https://127.0.0.1/exporter/metrics")
    );

    // ---- an anomaly through the proxied event stream
    let exporter_metrics = || {
        get(&format!("{}/metrics", stack.exporter_url()))
            .map(|r| r.1)
            .unwrap_or_default()
    };
    eventually(
        "cpu_high evaluated on an idle CPU",
        Duration::from_secs(20),
        || {
            busy += 1;
            idle += 100;
            write_stat(&machine, busy, idle);
        },
        || {
            (metric(
                &exporter_metrics(),
                "sysmon_anomaly_active{",
                &["rule=\"cpu_high\"", "subject=\"host\""],
            ) == Some(0.0))
            .then_some(())
        },
        || {
            exporter_metrics()
                .lines()
                .filter(|l| l.starts_with("sysmon_anomaly_active"))
                .collect::<Vec<_>>()
                .join("\n")
        },
    );
    let mut stream = Proc(
        Command::new(tool("curl", "curl"))
            // --compressed: as a browser's EventSource, it accepts gzip.
            .args(["-sN", "--compressed", "--max-time", "60", "--cacert"])
            .arg(&ca)
            .args([
                "--resolve",
                &resolve,
                &at("/exporter/api/v1/anomalies/stream"),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let (tx, rx) = mpsc::channel::<(Instant, String)>();
    let stdout = stream.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send((Instant::now(), line)).is_err() {
                break;
            }
        }
    });
    eventually(
        "the stream to be connected through nginx",
        Duration::from_secs(10),
        || {},
        || {
            (metric(
                &exporter_metrics(),
                "sysmon_anomaly_stream_subscribers ",
                &[],
            ) == Some(1.0))
            .then_some(())
        },
        || {
            exporter_metrics()
                .lines()
                .filter(|l| l.contains("stream"))
                .collect::<Vec<_>>()
                .join("\n")
        },
    );
    // The transition: the next sample (200 ms apart) sees every CPU busy.
    busy += 1000;
    write_stat(&machine, busy, idle);
    let written = Instant::now();
    let mut seen = Vec::new();
    let arrived = loop {
        let left = Duration::from_secs(10).saturating_sub(written.elapsed());
        match rx.recv_timeout(left) {
            Ok((at, line)) => {
                let started = line.starts_with("data: ") && line.contains("\"rule\":\"cpu_high\"");
                seen.push(line);
                if started && seen.iter().any(|l| l == "event: started") {
                    break at;
                }
            }
            Err(_) => panic!("no started event through the proxy within 10 s; stream: {seen:#?}"),
        }
    };
    let latency = arrived.duration_since(written);
    assert!(
        latency < Duration::from_secs(1),
        "the event took {latency:?} from the sample's change to the client (the sample interval is \
         200 ms): the proxy holds events back; stream: {seen:#?}"
    );
    // The same event is in the feed's JSON, through the proxy too.
    let (s, body) = get_tls("/exporter/api/v1/anomalies?rule=cpu_high&state=active");
    assert!(s == 200 && body.contains("cpu_high"), "{s} {body}");
    eprintln!("event through nginx {latency:?} after the change (sample interval 200 ms)");
}
