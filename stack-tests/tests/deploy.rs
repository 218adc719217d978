//! The ways to run the stack: `docker-compose.yml` (validated by Debian's `docker-compose config`
//! and checked for how it wires the four services), the container build (`deploy/Dockerfile`,
//! read, since no Docker engine runs here, and its entrypoint run), the hardened systemd unit
//! (`systemd-analyze security --offline=yes` and `verify`), and `deploy/stack.sh`'s
//! up/status/down cycle against the real Prometheus and Alertmanager.

mod native_stack;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use native_stack::{alive, eventually, free_port, get, get_json, sysmon_targets, Proc, Stack};
use serde_yaml_ng::Value;
use sysmon_stack_tests::{exporter_binary, repo_root, tool};

// ---------------------------------------------------------------------------------------------
// docker-compose.yml

/// `docker-compose config` on `file` (run in the repository, so relative paths resolve there).
fn compose_config(file: &Path) -> std::process::Output {
    let mut cmd = Command::new(tool("docker-compose", "docker-compose"));
    cmd.arg("-f")
        .arg(file)
        .arg("config")
        .current_dir(repo_root());
    // The user's own compose settings must not change what is validated.
    for k in [
        "COMPOSE_FILE",
        "COMPOSE_PROJECT_NAME",
        "COMPOSE_PATH_SEPARATOR",
        "SYSMON_GIT_REVISION",
        "SYSMON_QUERY_URL",
        "SYSMON_PROMETHEUS_CONFIG",
        "SYSMON_RETENTION",
        "COMPOSE_PROFILES",
    ] {
        cmd.env_remove(k);
    }
    cmd.output().expect("run docker-compose")
}

fn compose() -> Value {
    let out = compose_config(&repo_root().join("docker-compose.yml"));
    assert!(
        out.status.success(),
        "docker-compose config rejected docker-compose.yml:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_yaml_ng::from_slice(&out.stdout).expect("docker-compose config prints YAML")
}

fn strings(v: &Value) -> Vec<String> {
    v.as_sequence()
        .map(|s| {
            s.iter()
                .map(|x| x.as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// A service's mounts as docker-compose config normalises them (long syntax).
#[derive(Debug)]
struct Mount {
    kind: String,
    source: String,
    target: String,
    read_only: bool,
    propagation: Option<String>,
}

fn mounts(service: &Value) -> Vec<Mount> {
    service["volumes"]
        .as_sequence()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|m| Mount {
            kind: m["type"].as_str().unwrap_or_default().to_string(),
            source: m["source"].as_str().unwrap_or_default().to_string(),
            target: m["target"].as_str().unwrap_or_default().to_string(),
            read_only: m["read_only"].as_bool().unwrap_or(false),
            propagation: m["bind"]["propagation"].as_str().map(String::from),
        })
        .collect()
}

fn mount_at<'a>(ms: &'a [Mount], target: &str, service: &str) -> &'a Mount {
    ms.iter()
        .find(|m| m.target == target)
        .unwrap_or_else(|| panic!("{service}: nothing mounted at {target}: {ms:?}"))
}

/// The value of `--name=value` in a command, if given (the last one wins, as for the binaries).
fn flag(command: &[String], name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    command
        .iter()
        .rev()
        .find_map(|a| a.strip_prefix(&prefix).map(String::from))
}

/// Where a path inside a container comes from on the host, through its bind mounts.
fn host_path(ms: &[Mount], container_path: &str) -> Option<PathBuf> {
    ms.iter()
        .filter(|m| m.kind == "bind")
        .filter_map(|m| {
            let rest = container_path.strip_prefix(&m.target)?;
            (rest.is_empty() || rest.starts_with('/'))
                .then(|| PathBuf::from(format!("{}{rest}", m.source)))
        })
        .max_by_key(|p| p.as_os_str().len())
}

#[test]
fn compose_file_is_valid_and_wires_the_four_services() {
    let c = compose();
    let root = repo_root();
    let services = c["services"].as_mapping().expect("services");
    let names: Vec<&str> = services.keys().filter_map(|k| k.as_str()).collect();
    assert_eq!(
        names
            .iter()
            .copied()
            .collect::<std::collections::BTreeSet<_>>(),
        [
            "alertmanager",
            "exporter",
            "grafana",
            "prometheus",
            "victoriametrics",
            "vmagent",
            "vmalert"
        ]
        .into_iter()
        .collect(),
        "services"
    );
    let declared_volumes: Vec<String> = c["volumes"]
        .as_mapping()
        .map(|m| {
            m.keys()
                .filter_map(|k| k.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();

    for (name, s) in services {
        let name = name.as_str().unwrap();
        // Pinned images: a tag with a version number, never latest.
        let image = s["image"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: image"));
        let tag = image.rsplit_once(':').map(|(_, t)| t).unwrap_or("");
        assert!(
            tag != "latest" && tag.chars().any(|c| c.is_ascii_digit()) || name == "exporter",
            "{name}: image {image} is not pinned to a version"
        );
        assert_eq!(s["restart"].as_str(), Some("unless-stopped"), "{name}");
        let ms = mounts(s);
        // Every bind mount's source exists in the repository (or on the host, for the exporter).
        for m in ms.iter().filter(|m| m.kind == "bind") {
            assert!(
                Path::new(&m.source).exists(),
                "{name}: bind source {} does not exist",
                m.source
            );
            if m.source.starts_with(root.to_str().unwrap()) {
                assert!(
                    m.read_only,
                    "{name}: {} must be mounted read-only",
                    m.target
                );
            }
        }
        // Data in named volumes, each declared. vmalert keeps none: it restores alert state
        // from the store (-remoteRead.url).
        let data: Vec<&Mount> = ms.iter().filter(|m| m.kind == "volume").collect();
        if name == "vmalert" {
            assert!(data.is_empty(), "vmalert keeps no data: {ms:?}");
            continue;
        }
        assert_eq!(
            data.len(),
            1,
            "{name}: one named volume for its data: {ms:?}"
        );
        assert!(
            declared_volumes.contains(&data[0].source),
            "{name}: volume {} is not declared under volumes:",
            data[0].source
        );
        // Every file a --config.file flag names exists on the host, through the mounts.
        let command = strings(&s["command"]);
        if let Some(cfg) = flag(&command, "--config.file") {
            let host = host_path(&ms, &cfg)
                .unwrap_or_else(|| panic!("{name}: --config.file={cfg} is not in a bind mount"));
            assert!(
                host.is_file(),
                "{name}: --config.file={cfg} is {} on the host, which is missing",
                host.display()
            );
        }
    }

    // The exporter: the host's processes, network, /proc, /sys and / read-only, passed with --path.*.
    let e = &services["exporter"];
    assert_eq!(e["pid"].as_str(), Some("host"), "exporter: pid: host");
    assert_eq!(
        e["network_mode"].as_str(),
        Some("host"),
        "exporter: host network"
    );
    assert_eq!(
        e["build"]["dockerfile"].as_str(),
        Some("deploy/Dockerfile"),
        "exporter: built from deploy/Dockerfile"
    );
    assert_eq!(e["build"]["context"].as_str(), root.to_str());
    let ms = mounts(e);
    for (source, target) in [
        ("/proc", "/host/proc"),
        ("/sys", "/host/sys"),
        ("/", "/host/root"),
    ] {
        let m = mount_at(&ms, target, "exporter");
        assert_eq!((m.kind.as_str(), m.source.as_str()), ("bind", source));
        assert!(m.read_only, "exporter: {source} must be mounted read-only");
    }
    assert_eq!(
        mount_at(&ms, "/host/root", "exporter")
            .propagation
            .as_deref(),
        Some("rslave"),
        "exporter: / with rslave propagation, so later host mounts are seen"
    );
    let command = strings(&e["command"]);
    assert_eq!(
        flag(&command, "--path.procfs").as_deref(),
        Some("/host/proc")
    );
    assert_eq!(flag(&command, "--path.sysfs").as_deref(), Some("/host/sys"));
    assert_eq!(
        flag(&command, "--path.rootfs").as_deref(),
        Some("/host/root")
    );
    assert_eq!(flag(&command, "--path.kmsg").as_deref(), Some("/dev/kmsg"));
    assert_eq!(
        flag(&command, "--web.listen-address").as_deref(),
        Some(":10101")
    );
    let storage = flag(&command, "--storage.path").expect("exporter: --storage.path");
    assert_eq!(mount_at(&ms, &storage, "exporter").kind, "volume");
    assert_eq!(strings(&e["devices"]), ["/dev/kmsg:/dev/kmsg:r"]);
    assert_eq!(strings(&e["cap_drop"]), ["ALL"]);
    assert_eq!(strings(&e["cap_add"]), ["SYSLOG"], "only CAP_SYSLOG");
    assert_eq!(
        e["read_only"].as_bool(),
        Some(true),
        "exporter: read-only root"
    );
    assert!(
        !strings(&e["security_opt"])
            .iter()
            .any(|o| o.starts_with("no-new-privileges")),
        "no-new-privileges would void the image's cap_syslog file capability"
    );

    // Prometheus: the repository's prometheus.yml and rules, read-only; 30 days; its own volume.
    // prometheus.yml reaches the exporter and Alertmanager at localhost, which is the host only
    // on the host's network.
    let p = &services["prometheus"];
    let prom_yml = std::fs::read_to_string(root.join("prometheus/prometheus.yml")).unwrap();
    assert!(prom_yml.contains("- localhost:10101") && prom_yml.contains("- localhost:9093"));
    for svc in ["prometheus", "alertmanager", "exporter"] {
        assert_eq!(
            services[svc]["network_mode"].as_str(),
            Some("host"),
            "{svc}: prometheus.yml addresses it at localhost, so it must share the host's network"
        );
    }
    let ms = mounts(p);
    let command = strings(&p["command"]);
    assert_eq!(
        flag(&command, "--storage.tsdb.retention.time").as_deref(),
        Some("30d")
    );
    let config = flag(&command, "--config.file").unwrap();
    assert_eq!(
        host_path(&ms, &config),
        Some(root.join("prometheus/prometheus.yml"))
    );
    // rule_files: ../alert-rules/*.rules.yml relative to the config's folder.
    let config_dir = Path::new(&config).parent().unwrap();
    let rules_in_container = config_dir.parent().unwrap().join("alert-rules");
    assert!(prom_yml.contains("../alert-rules/*.rules.yml"));
    assert_eq!(
        host_path(&ms, rules_in_container.to_str().unwrap()),
        Some(root.join("alert-rules")),
        "prometheus: ../alert-rules next to the config folder must be the repository's alert-rules"
    );
    let tsdb = flag(&command, "--storage.tsdb.path").unwrap();
    assert_eq!(mount_at(&ms, &tsdb, "prometheus").kind, "volume");
    assert_eq!(
        flag(&command, "--web.listen-address").as_deref(),
        Some(":9090")
    );

    // Alertmanager: alert-rules/alertmanager.yml, its own volume, no cluster port.
    let a = &services["alertmanager"];
    let ms = mounts(a);
    let command = strings(&a["command"]);
    assert_eq!(
        host_path(&ms, &flag(&command, "--config.file").unwrap()),
        Some(root.join("alert-rules/alertmanager.yml"))
    );
    let storage = flag(&command, "--storage.path").unwrap();
    assert_eq!(mount_at(&ms, &storage, "alertmanager").kind, "volume");
    assert_eq!(
        flag(&command, "--web.listen-address").as_deref(),
        Some(":9093")
    );
    assert_eq!(
        flag(&command, "--cluster.listen-address").as_deref(),
        Some("")
    );

    // Grafana: provisioning and dashboards from grafana/, the env the provisioning reads.
    let g = &services["grafana"];
    let ms = mounts(g);
    let env = &g["environment"];
    assert_eq!(
        env["SYSMON_PROMETHEUS_URL"].as_str(),
        Some("http://localhost:9090")
    );
    let dashboards = env["SYSMON_GRAFANA_DASHBOARDS"].as_str().unwrap();
    assert_eq!(
        host_path(&ms, dashboards),
        Some(root.join("grafana/dashboards"))
    );
    let provisioning = env["GF_PATHS_PROVISIONING"]
        .as_str()
        .unwrap_or("/etc/grafana/provisioning");
    assert_eq!(
        host_path(&ms, provisioning),
        Some(root.join("grafana/provisioning"))
    );
    assert_eq!(mount_at(&ms, "/var/lib/grafana", "grafana").kind, "volume");
    // The provisioning files refer to the two variables by name.
    let mut provisioning_text = String::new();
    for sub in ["datasources", "dashboards"] {
        for f in std::fs::read_dir(root.join("grafana/provisioning").join(sub))
            .unwrap_or_else(|e| panic!("grafana/provisioning/{sub}: {e}"))
        {
            provisioning_text.push_str(&std::fs::read_to_string(f.unwrap().path()).unwrap());
        }
    }
    for var in ["SYSMON_PROMETHEUS_URL", "SYSMON_GRAFANA_DASHBOARDS"] {
        assert!(
            provisioning_text.contains(var),
            "grafana/provisioning does not use ${var}"
        );
    }
}

/// The VictoriaMetrics profiles read the same prometheus/ and alert-rules/ files as Prometheus:
/// vmagent the scrape configuration, vmalert the rule files; both reach the store, Alertmanager
/// and the exporters where prometheus.yml says, at localhost on the host's network.
#[test]
fn compose_victoriametrics_profiles_read_the_same_files() {
    let c = compose();
    let root = repo_root();
    let services = &c["services"];
    let profiles = |name: &str| strings(&services[name]["profiles"]);
    assert!(
        profiles("prometheus").is_empty(),
        "Prometheus stays the default"
    );
    assert_eq!(profiles("vmagent"), ["victoriametrics"]);
    assert_eq!(profiles("vmalert"), ["victoriametrics"]);
    assert_eq!(
        profiles("victoriametrics"),
        ["victoriametrics", "remote-write"]
    );
    for svc in ["victoriametrics", "vmagent", "vmalert"] {
        assert_eq!(
            services[svc]["network_mode"].as_str(),
            Some("host"),
            "{svc}: the stack's addresses are localhost"
        );
    }

    let vm = strings(&services["victoriametrics"]["command"]);
    assert_eq!(flag(&vm, "-retentionPeriod").as_deref(), Some("30d"));
    assert_eq!(flag(&vm, "-httpListenAddr").as_deref(), Some(":8428"));
    let data = flag(&vm, "-storageDataPath").unwrap();
    let ms = mounts(&services["victoriametrics"]);
    assert_eq!(mount_at(&ms, &data, "victoriametrics").kind, "volume");

    let agent = strings(&services["vmagent"]["command"]);
    let ms = mounts(&services["vmagent"]);
    assert_eq!(
        host_path(&ms, &flag(&agent, "-promscrape.config").unwrap()),
        Some(root.join("prometheus/prometheus.yml")),
        "vmagent scrapes what Prometheus scrapes"
    );
    assert_eq!(
        flag(&agent, "-remoteWrite.url").as_deref(),
        Some("http://localhost:8428/api/v1/write")
    );
    let queue = flag(&agent, "-remoteWrite.tmpDataPath").unwrap();
    assert_eq!(
        mount_at(&ms, &queue, "vmagent").kind,
        "volume",
        "the on-disk queue survives a restart"
    );

    let alert = strings(&services["vmalert"]["command"]);
    let ms = mounts(&services["vmalert"]);
    let rules = flag(&alert, "-rule").unwrap();
    let rules_dir = Path::new(&rules)
        .parent()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(
        host_path(&ms, &rules_dir),
        Some(root.join("alert-rules")),
        "vmalert evaluates alert-rules/"
    );
    assert_eq!(Path::new(&rules).file_name().unwrap(), "*.rules.yml");
    assert_eq!(
        flag(&alert, "-notifier.url").as_deref(),
        Some("http://localhost:9093")
    );
    let prom_yml: Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(root.join("prometheus/prometheus.yml")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        flag(&alert, "-evaluationInterval").as_deref(),
        prom_yml["global"]["evaluation_interval"].as_str(),
        "vmalert evaluates as often as Prometheus"
    );
    for f in ["-datasource.url", "-remoteWrite.url", "-remoteRead.url"] {
        assert_eq!(
            flag(&alert, f).as_deref(),
            Some("http://localhost:8428"),
            "vmalert {f}"
        );
    }

    // The remote-write profile: Prometheus on remote-write.example.yml, whose store is this
    // victoriametrics.
    let mut cmd = Command::new(tool("docker-compose", "docker-compose"));
    cmd.arg("config").current_dir(&root);
    cmd.env("SYSMON_PROMETHEUS_CONFIG", "remote-write.example.yml")
        .env("SYSMON_RETENTION", "90d")
        .env("SYSMON_QUERY_URL", "http://localhost:8428");
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rw: Value = serde_yaml_ng::from_slice(&out.stdout).unwrap();
    let p = &rw["services"]["prometheus"];
    let command = strings(&p["command"]);
    assert_eq!(
        host_path(&mounts(p), &flag(&command, "--config.file").unwrap()),
        Some(root.join("prometheus/remote-write.example.yml"))
    );
    assert_eq!(
        flag(&command, "--storage.tsdb.retention.time").as_deref(),
        Some("90d")
    );
    assert_eq!(
        flag(
            &strings(&rw["services"]["victoriametrics"]["command"]),
            "-retentionPeriod"
        )
        .as_deref(),
        Some("90d")
    );
    assert_eq!(
        rw["services"]["grafana"]["environment"]["SYSMON_PROMETHEUS_URL"].as_str(),
        Some("http://localhost:8428")
    );
    let example: Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(root.join("prometheus/remote-write.example.yml")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        example["remote_write"][0]["url"].as_str(),
        flag(&agent, "-remoteWrite.url").as_deref(),
        "remote-write.example.yml writes to the compose file's victoriametrics"
    );
}

#[test]
fn docker_compose_config_rejects_what_the_engine_would() {
    // The validation the test above relies on is real: a misspelt key and a wrong type fail.
    let text = std::fs::read_to_string(repo_root().join("docker-compose.yml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (what, bad) in [
        (
            "misspelt key",
            text.replacen("    pid: host", "    pids: host", 1),
        ),
        (
            "wrong type",
            text.replacen("    read_only: true\n\n", "    read_only: [yes]\n\n", 1),
        ),
    ] {
        assert_ne!(bad, text, "{what}: the replacement did not apply");
        let file = dir.path().join("docker-compose.yml");
        std::fs::write(&file, bad).unwrap();
        let out = compose_config(&file);
        assert!(
            !out.status.success(),
            "{what}: docker-compose config accepted it"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// deploy/sysmon-exporter.service

/// The unit's [Service] settings: every value of every key, in order.
fn unit_settings() -> BTreeMap<String, Vec<String>> {
    let text = std::fs::read_to_string(repo_root().join("deploy/sysmon-exporter.service")).unwrap();
    let mut section = String::new();
    let mut settings: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        if line.starts_with('[') {
            section = line.to_string();
            continue;
        }
        if section == "[Service]" {
            let (k, v) = line.split_once('=').expect("key=value");
            settings
                .entry(k.to_string())
                .or_default()
                .push(v.to_string());
        }
    }
    settings
}

/// The exposure `systemd-analyze security` gives the unit (0 safest .. 10): 2.1 with systemd 252,
/// every remaining point a setting the exporter needs, each explained in the unit's comments.
const MAX_EXPOSURE: f64 = 2.1;

#[test]
fn systemd_unit_is_hardened() {
    let unit = repo_root().join("deploy/sysmon-exporter.service");
    let out = Command::new(tool("systemd-analyze", "systemd"))
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(&unit)
        .output()
        .expect("run systemd-analyze");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("Overall exposure level for sysmon-exporter.service:"))
        .unwrap_or_else(|| {
            panic!(
                "no exposure level in systemd-analyze security's output:\n{text}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let score: f64 = line
        .split(':')
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("cannot read the score in {line:?}"));
    assert!(
        score <= MAX_EXPOSURE,
        "exposure {score} > {MAX_EXPOSURE}: {line}\n{text}"
    );
    // Every point still counted is explained in the unit: the setting's name is in a comment.
    let unit_text = std::fs::read_to_string(&unit).unwrap();
    let comments: String = unit_text
        .lines()
        .filter(|l| l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    let mut unexplained = Vec::new();
    for l in text.lines().filter(|l| l.starts_with('✗')) {
        let setting = l
            .trim_start_matches('✗')
            .split_whitespace()
            .next()
            .unwrap_or_default();
        // "RootDirectory=/RootImage=" -> "RootDirectory", "RestrictAddressFamilies=~AF_..." -> ...
        let name = setting.split(['=', '/']).next().unwrap_or_default();
        let explained = match name {
            "RestrictAddressFamilies" => {
                let family = setting.rsplit('~').next().unwrap_or_default();
                let families: Vec<String> = if family.contains('|') {
                    vec!["AF_INET".into(), "AF_INET6".into()]
                } else {
                    vec![family.to_string()]
                };
                families.iter().all(|f| comments.contains(f.as_str()))
            }
            "CapabilityBoundingSet" => comments.contains("CAP_SYSLOG"),
            "PrivateNetwork" => comments.contains("the host's network"),
            _ => comments.contains(name),
        };
        if !explained {
            unexplained.push(l);
        }
    }
    assert!(
        unexplained.is_empty(),
        "the unit's comments do not say why these are needed:\n{}",
        unexplained.join("\n")
    );
    // The capabilities it keeps: only CAP_SYSLOG.
    for kept in [
        "CAP_SYS_ADMIN",
        "CAP_SYS_PTRACE",
        "CAP_(DAC_*|FOWNER|IPC_OWNER)",
    ] {
        assert!(
            text.lines().any(
                |l| l.starts_with('✓') && l.contains(&format!("CapabilityBoundingSet=~{kept}"))
            ),
            "systemd-analyze says the unit keeps {kept}:\n{text}"
        );
    }

    // Settings the exporter needs, and the ones that would break it while improving the score.
    let s = unit_settings();
    let one = |k: &str| -> &str {
        match s.get(k).map(Vec::as_slice) {
            Some([v]) => v.as_str(),
            other => panic!("{k}: expected one value, found {other:?}"),
        }
    };
    assert_eq!(
        one("DynamicUser"),
        "yes",
        "systemd allocates the user when the package's does not exist"
    );
    assert_eq!(one("ProtectSystem"), "strict");
    assert_eq!(
        one("ProtectHome"),
        "read-only",
        "read-only, not yes: statfs of a separate /home must see that filesystem"
    );
    assert_eq!(one("PrivateTmp"), "yes");
    assert_eq!(one("NoNewPrivileges"), "yes");
    assert_eq!(one("StateDirectory"), "sysmon");
    assert_eq!(one("CapabilityBoundingSet"), "CAP_SYSLOG");
    assert_eq!(one("AmbientCapabilities"), "CAP_SYSLOG");
    assert_eq!(one("DeviceAllow"), "/dev/kmsg r");
    assert_eq!(one("DevicePolicy"), "closed");
    assert_eq!(
        one("RestrictAddressFamilies"),
        "AF_INET AF_INET6 AF_NETLINK",
        "HTTP, and rtnetlink for the interface counters; no local sockets"
    );
    assert_eq!(one("ExecReload"), "/bin/kill -HUP $MAINPID");
    assert!(
        one("ExecStart").starts_with("/usr/bin/sysmon-exporter "),
        "where the package installs the binary"
    );
    assert_eq!(one("User"), "sysmon", "the package's system user");
    assert_eq!(one("Group"), "sysmon");
    assert_eq!(one("PrivateMounts"), "yes");
    assert!(
        !one("ExecStart").contains("--storage.path"),
        "the storage path comes from $STATE_DIRECTORY"
    );
    assert!(s["SystemCallFilter"].contains(&"@system-service".to_string()));
    for (key, breaking) in [
        ("ProtectProc", "invisible"),  // hides /proc/1/mountinfo
        ("ProtectProc", "ptraceable"), // the same
        ("ProtectProc", "noaccess"),   // the same
        ("ProcSubset", "pid"),         // hides /proc/stat, meminfo, ...
        ("ProtectKernelLogs", "yes"),  // denies /dev/kmsg
        ("PrivateDevices", "yes"),     // a /dev without /dev/kmsg
        ("PrivateUsers", "yes"),       // CAP_SYSLOG would not count in the host's namespace
        ("ProtectHome", "yes"),        // see above
        ("PrivateNetwork", "yes"),     // it serves HTTP
    ] {
        assert!(
            !s.get(key).is_some_and(|v| v.iter().any(|x| x == breaking)),
            "{key}={breaking} breaks the exporter"
        );
    }
}

#[test]
fn systemd_unit_verifies() {
    // `verify` needs ExecStart's binary to exist: a copy of the unit naming the built exporter.
    let unit = std::fs::read_to_string(repo_root().join("deploy/sysmon-exporter.service")).unwrap();
    let exe = exporter_binary();
    let copy = unit.replace(
        "ExecStart=/usr/bin/sysmon-exporter",
        &format!("ExecStart={}", exe.display()),
    );
    assert_ne!(copy, unit);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sysmon-exporter.service");
    std::fs::write(&path, copy).unwrap();
    let out = Command::new(tool("systemd-analyze", "systemd"))
        // The man page named by Documentation= is installed by the package, not here:
        // stack-tests/tests/package.rs verifies the installed unit with the man check on.
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .expect("run systemd-analyze verify");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // verify warns (and still exits 0) about unknown keys and bad values: none may name our unit.
    let ours: Vec<&str> = all
        .lines()
        .filter(|l| l.contains("sysmon-exporter.service"))
        .collect();
    assert!(
        out.status.success() && ours.is_empty(),
        "systemd-analyze verify: {}\n{all}",
        out.status
    );
}

// ---------------------------------------------------------------------------------------------
// deploy/Dockerfile

/// The Dockerfile's instructions, continuation lines joined: (INSTRUCTION, arguments).
fn dockerfile() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(repo_root().join("deploy/Dockerfile")).unwrap();
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('#') || (t.is_empty() && current.is_empty()) {
            continue;
        }
        match t.strip_suffix('\\') {
            Some(part) => {
                current.push_str(part);
                current.push(' ');
            }
            None => {
                current.push_str(t);
                let (ins, args) = current.trim().split_once(' ').unwrap_or((&current, ""));
                out.push((ins.to_uppercase(), args.trim().to_string()));
                current.clear();
            }
        }
    }
    out
}

#[test]
fn dockerfile_builds_a_pinned_non_root_image_reading_the_host_under_host() {
    let ins = dockerfile();
    let froms: Vec<&str> = ins
        .iter()
        .filter(|(i, _)| i == "FROM")
        .map(|(_, a)| a.as_str())
        .collect();
    assert!(froms.len() >= 2, "a multi-stage build: {froms:?}");
    for f in &froms {
        let image = f.split_whitespace().next().unwrap();
        let tag = image.split_once(':').map(|(_, t)| t).unwrap_or("");
        assert!(
            tag.chars().next().is_some_and(|c| c.is_ascii_digit()),
            "FROM {image}: pin a version (e.g. rust:1.95.0-bookworm), not a moving tag"
        );
    }
    assert!(froms[0].starts_with("rust:"), "builds with the rust image");
    // Instructions of the final stage.
    let last_from = ins.iter().rposition(|(i, _)| i == "FROM").unwrap();
    let last: Vec<&(String, String)> = ins[last_from..].iter().collect();
    let get_all = |name: &str| -> Vec<&str> {
        last.iter()
            .filter(|(i, _)| i == name)
            .map(|(_, a)| a.as_str())
            .collect()
    };
    let user = *get_all("USER").last().expect("the final stage sets USER");
    let user_name = user.split(':').next().unwrap();
    assert!(
        !["root", "0"].contains(&user_name),
        "runs as root: USER {user}"
    );
    assert_eq!(get_all("EXPOSE"), ["10101"]);
    let entrypoint: Vec<String> =
        serde_json::from_str(get_all("ENTRYPOINT").last().expect("ENTRYPOINT"))
            .expect("ENTRYPOINT in exec (JSON) form, so that signals reach the exporter");
    for f in [
        "--path.procfs=/host/proc",
        "--path.sysfs=/host/sys",
        "--path.rootfs=/host/root",
        "--storage.path=/var/lib/sysmon",
    ] {
        assert!(entrypoint.iter().any(|a| a == f), "ENTRYPOINT lacks {f}");
    }
    assert!(get_all("VOLUME")
        .iter()
        .any(|v| v.contains("/var/lib/sysmon")));
    assert!(
        get_all("RUN")
            .iter()
            .any(|r| r.contains("setcap cap_syslog=ep")),
        "the kernel-log copy of the binary carries cap_syslog"
    );
    // Everything COPY takes from the build context exists and is not excluded by .dockerignore.
    let ignore = std::fs::read_to_string(repo_root().join(".dockerignore")).unwrap();
    let ignored: Vec<&str> = ignore
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect();
    for needed in [
        "Cargo.toml",
        "Cargo.lock",
        "exporter/src/main.rs",
        "exporter/sysmon.toml",
        "deploy/docker-entrypoint.sh",
    ] {
        assert!(repo_root().join(needed).exists(), "{needed}");
        assert!(
            !ignored
                .iter()
                .any(|p| needed.starts_with(p.trim_end_matches('/'))),
            ".dockerignore excludes {needed}"
        );
        assert!(
            ins.iter().any(|(_, a)| a.contains(needed))
                || ins.iter().any(|(i, a)| i == "COPY" && a.starts_with(". ")),
            "the Dockerfile does not copy {needed}"
        );
    }
    for excluded in ["target/", ".git/"] {
        assert!(
            ignored.contains(&excluded),
            ".dockerignore keeps {excluded} out"
        );
    }
}

#[test]
fn image_entrypoint_picks_the_binary_by_capability_and_checks_health() {
    // The entrypoint with its two binaries replaced by echo: which one would it run here?
    let script = std::fs::read_to_string(repo_root().join("deploy/docker-entrypoint.sh")).unwrap();
    let stub = script
        .replace(
            "exec /usr/local/libexec/sysmon/sysmon-exporter-syslog",
            "exec echo with-cap-syslog",
        )
        .replace("exec /usr/local/bin/sysmon-exporter", "exec echo plain");
    assert_eq!(
        stub.matches("exec echo").count(),
        2,
        "both exec lines replaced"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("entrypoint.sh");
    std::fs::write(&path, stub).unwrap();
    let out = Command::new("sh")
        .arg(&path)
        .arg("--path.procfs=/host/proc")
        .output()
        .unwrap();
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let bounding = status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
        .unwrap();
    let expected = if bounding >> 34 & 1 == 1 {
        "with-cap-syslog --path.procfs=/host/proc\n"
    } else {
        "plain --path.procfs=/host/proc\n"
    };
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected);

    // The HEALTHCHECK: 0 while an exporter answers /health, not 0 when nothing listens.
    let port = free_port();
    let state = tempfile::tempdir().unwrap();
    let fixture = repo_root().join("exporter/tests/fixtures/vm");
    let _exporter = Proc(
        Command::new(exporter_binary())
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!("--path.procfs={}", fixture.join("proc").display()))
            .arg(format!("--path.sysfs={}", fixture.join("sys").display()))
            .arg(format!(
                "--path.rootfs={}",
                fixture.join("rootfs").display()
            ))
            .arg(format!("--path.kmsg={}", fixture.join("kmsg").display()))
            .arg(format!("--storage.path={}", state.path().display()))
            .arg("--log.level=error")
            .spawn()
            .unwrap(),
    );
    let healthcheck = |port: u16| {
        Command::new("sh")
            .arg(repo_root().join("deploy/docker-entrypoint.sh"))
            .arg("healthcheck")
            .env("SYSMON_HEALTHCHECK_PORT", port.to_string())
            .output()
            .unwrap()
            .status
            .success()
    };
    eventually(
        "the healthcheck to pass",
        Duration::from_secs(20),
        || {},
        || healthcheck(port).then_some(()),
        || format!("{:?}", get(&format!("http://127.0.0.1:{port}/health"))),
    );
    assert!(!healthcheck(free_port()), "healthy with nothing listening");
}

// ---------------------------------------------------------------------------------------------
// deploy/stack.sh

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn stack_script_up_status_down() {
    let fleet_host = format!("127.0.0.1:{}", free_port());
    let fixture = repo_root().join("exporter/tests/fixtures/server");
    let stack = Stack::new(&[
        ("SYSMON_STACK_SCRAPE_INTERVAL", "1s".into()),
        // Grafana absent whatever this machine has installed.
        (
            "SYSMON_STACK_GRAFANA_BIN",
            "/nonexistent/grafana-server".into(),
        ),
        ("SYSMON_STACK_TARGETS", fleet_host.clone()),
        (
            "SYSMON_STACK_EXPORTER_ARGS",
            format!(
                "--path.procfs={p}/proc --path.sysfs={p}/sys --path.rootfs={p}/rootfs --path.kmsg={p}/kmsg --log.level=warn",
                p = fixture.display()
            ),
        ),
    ]);
    let p = stack.ports;
    let up = stack.up();
    for (name, port) in [
        ("exporter", p.exporter),
        ("prometheus", p.prometheus),
        ("alertmanager", p.alertmanager),
    ] {
        assert!(
            up.lines().any(|l| l.split_whitespace().collect::<Vec<_>>()
                == [name, &format!("http://127.0.0.1:{port}")]),
            "up does not print {name}'s URL:\n{up}"
        );
    }
    assert!(
        up.contains("grafana") && up.contains("not installed"),
        "up must say Grafana is not installed:\n{up}"
    );

    let status = stack.run("status");
    assert!(
        status.status.success(),
        "status after up:\n{}",
        text(&status)
    );
    let st = text(&status);
    for name in ["exporter", "prometheus", "alertmanager"] {
        assert!(
            st.lines()
                .any(|l| l.starts_with(name) && l.contains("up (pid ")),
            "status: {name} not up:\n{st}"
        );
    }

    // Running again while up starts nothing new and keeps the same processes.
    let pids: Vec<i32> = ["exporter", "prometheus", "alertmanager"]
        .iter()
        .map(|c| {
            stack
                .pid(c)
                .unwrap_or_else(|| panic!("no pid file for {c}"))
        })
        .collect();
    let again = stack.run("up");
    assert!(again.status.success(), "second up:\n{}", text(&again));
    assert!(text(&again).contains("already running"), "{}", text(&again));
    let pids_again: Vec<i32> = ["exporter", "prometheus", "alertmanager"]
        .iter()
        .map(|c| stack.pid(c).unwrap())
        .collect();
    assert_eq!(pids, pids_again);

    // Prometheus: 30 days, the repository's rules, this stack's Alertmanager, the exporter and the
    // fleet host from SYSMON_STACK_TARGETS (file_sd).
    let prom = stack.prometheus_url();
    let flags = get_json(&format!("{prom}/api/v1/status/flags"));
    assert_eq!(flags["data"]["storage.tsdb.retention.time"], "30d");
    assert!(flags["data"]["storage.tsdb.path"]
        .as_str()
        .unwrap()
        .starts_with(stack.dir().to_str().unwrap()));
    let rules = get_json(&format!("{prom}/api/v1/rules"));
    let groups: Vec<&str> = rules["data"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert!(
        groups.contains(&"sysmon-alerts") && groups.contains(&"sysmon-recording"),
        "rule groups loaded: {groups:?}"
    );
    let exporter_instance = format!("127.0.0.1:{}", p.exporter);
    eventually(
        "the exporter up and the fleet host discovered",
        Duration::from_secs(30),
        || {},
        || {
            let t = sysmon_targets(&prom);
            (t.contains(&(exporter_instance.clone(), "up".into()))
                && t.iter().any(|(i, _)| *i == fleet_host))
            .then_some(())
        },
        || format!("{:?}", sysmon_targets(&prom)),
    );
    eventually(
        "Prometheus to find Alertmanager",
        Duration::from_secs(30),
        || {},
        || {
            let am = get_json(&format!("{prom}/api/v1/alertmanagers"));
            am["data"]["activeAlertmanagers"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| {
                    a["url"]
                        .as_str()
                        .unwrap()
                        .starts_with(&format!("http://127.0.0.1:{}/", p.alertmanager))
                })
                .then_some(())
        },
        || format!("{}", get_json(&format!("{prom}/api/v1/alertmanagers"))),
    );
    // The exporter ran on the fixture given in SYSMON_STACK_EXPORTER_ARGS, and kept its state in
    // the stack's directory.
    let (_, metrics) = get(&format!("{}/metrics", stack.exporter_url())).unwrap();
    assert!(
        metrics.contains("node_cpu_seconds_total{cpu=\"62\""),
        "not the 63-CPU server fixture"
    );
    assert!(stack.dir().join("exporter").is_dir());
    assert!(stack.dir().join("alertmanager").is_dir());

    // down stops everything; status then fails; down again is fine.
    let down = stack.run("down");
    assert!(down.status.success(), "down:\n{}", text(&down));
    for (c, pid) in ["exporter", "prometheus", "alertmanager"].iter().zip(&pids) {
        assert!(
            text(&down).contains(&format!("stopped {c} (pid {pid})")),
            "{}",
            text(&down)
        );
        assert!(!alive(*pid), "{c} (pid {pid}) still runs after down");
        assert!(stack.pid(c).is_none(), "{c}'s pid file is left");
    }
    let status = stack.run("status");
    assert!(
        !status.status.success(),
        "status after down must fail:\n{}",
        text(&status)
    );
    assert!(
        text(&status).contains("prometheus    down"),
        "{}",
        text(&status)
    );
    let again = stack.run("down");
    assert!(again.status.success(), "second down:\n{}", text(&again));
    assert!(text(&again).contains("nothing running"), "{}", text(&again));
}

#[test]
fn stack_script_runs_grafana_when_installed() {
    // A stand-in grafana-server: records how it was started and answers /api/health.
    let python = tool("python3", "python3");
    let bin = tempfile::tempdir().unwrap();
    let fake = bin.path().join("grafana-server");
    std::fs::write(
        &fake,
        format!(
            r#"#!/bin/sh
data=""; port=""
for a in "$@"; do
  case "$a" in
    cfg:default.paths.data=*) data=${{a#*=}} ;;
    cfg:default.server.http_port=*) port=${{a#*=}} ;;
  esac
done
{{ printf '%s\n' "$@"; echo "SYSMON_PROMETHEUS_URL=$SYSMON_PROMETHEUS_URL"; echo "SYSMON_GRAFANA_DASHBOARDS=$SYSMON_GRAFANA_DASHBOARDS"; }} > "$data/../started-with"
mkdir -p "$data/api" && echo ok > "$data/api/health"
exec {python} -m http.server --bind 127.0.0.1 --directory "$data" "$port"
"#,
            python = python.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let stack = Stack::new(&[("SYSMON_STACK_GRAFANA_BIN", fake.display().to_string())]);
    let up = stack.up();
    let url = format!("http://127.0.0.1:{}", stack.ports.grafana);
    assert!(
        up.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["grafana", url.as_str()]),
        "{up}"
    );
    let started = std::fs::read_to_string(stack.dir().join("grafana/started-with")).unwrap();
    let root = repo_root();
    for expected in [
        format!(
            "SYSMON_PROMETHEUS_URL=http://127.0.0.1:{}",
            stack.ports.prometheus
        ),
        format!(
            "SYSMON_GRAFANA_DASHBOARDS={}",
            root.join("grafana/dashboards").display()
        ),
        format!(
            "cfg:default.paths.provisioning={}",
            root.join("grafana/provisioning").display()
        ),
        "cfg:default.server.http_addr=127.0.0.1".into(),
    ] {
        assert!(
            started.lines().any(|l| l == expected),
            "grafana-server was not given {expected}:\n{started}"
        );
    }
    let status = stack.run("status");
    assert!(status.status.success(), "{}", text(&status));
    assert!(
        text(&status)
            .lines()
            .any(|l| l.starts_with("grafana") && l.contains("up (pid ")),
        "{}",
        text(&status)
    );
    let grafana_pid = stack.pid("grafana").unwrap();
    let down = stack.run("down");
    assert!(text(&down).contains("stopped grafana"), "{}", text(&down));
    assert!(!alive(grafana_pid));
}

#[test]
fn stack_script_up_fails_clearly_when_a_port_is_taken() {
    let stack = Stack::new(&[(
        "SYSMON_STACK_GRAFANA_BIN",
        "/nonexistent/grafana-server".into(),
    )]);
    // Something else holds the exporter's port.
    let _taken = std::net::TcpListener::bind(("127.0.0.1", stack.ports.exporter)).unwrap();
    let up = stack.run("up");
    assert!(!up.status.success(), "up succeeded:\n{}", text(&up));
    let t = text(&up);
    assert!(
        t.contains("exporter exited") && t.contains("logs/exporter.log"),
        "up must name the component and its log:\n{t}"
    );
    let status = stack.run("status");
    assert!(!status.status.success());
    assert!(
        text(&status).contains("exporter      down"),
        "{}",
        text(&status)
    );
    // down cleans up what did start.
    let pids: Vec<i32> = ["prometheus", "alertmanager"]
        .iter()
        .filter_map(|c| stack.pid(c))
        .collect();
    assert!(stack.run("down").status.success());
    assert!(pids.iter().all(|p| !alive(*p)));
}
