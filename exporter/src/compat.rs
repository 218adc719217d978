//! node_exporter's command line, accepted as it is, so a unit file or a container spec written for
//! node_exporter 1.12 keeps working when the binary is swapped for sysmon-exporter.
//!
//! node_exporter's flags fall into three groups, and this module owns the table of the last two:
//!
//! * Flags sysmon implements with the same meaning: they are sysmon's own (in `cli.rs` or in a
//!   collector's `Args`), and node_exporter's deprecated spellings are clap aliases on the
//!   collector's field (`--collector.filesystem.ignored-mount-points`, `--collector.netdev.device-
//!   blacklist`, ...). They never appear in [`FLAGS`]'s effect: see [`augment`].
//! * Flags sysmon accepts but does not act on ([`FLAGS`]): each is parsed (a unit file that gives
//!   it a value still starts) and, when given, logged once at start with the reason it has no
//!   effect. They are hidden from `--help` (README "node_exporter flags accepted without effect"
//!   lists them), so the help shows what sysmon does.
//! * `--collector.<name>` / `--no-collector.<name>` for every node_exporter collector sysmon lacks
//!   ([`COLLECTORS`]): disabling one is accepted silently (it is off); enabling one stops the start
//!   with exit status 2 naming the collector, because an operator who asked for its metrics must
//!   not get a silently incomplete exporter.
//!
//! The command is built from the registry first and an entry here is added only when no argument
//! already has its long name, so when a collector (or a new flag of one) is implemented, its real
//! flag takes over and the entry here becomes dead weight to delete, never a conflict.
//!
//! Every boolean flag also gets kingpin's negated form `--no-<flag>` ([`add_negations`]), since
//! kingpin (node_exporter's flag library) accepts it for every boolean.
//!
//! Sources: the flags of node_exporter 1.12 (`node_exporter.go`, `collector/*.go`, the
//! exporter-toolkit's web flags, prometheus/common's log flags), including the hidden deprecated
//! spellings it still parses, and Debian's node_exporter 1.5 (`--help`), whose older spellings a
//! Debian unit file may still carry (`--collector.qdisk.*`).

use clap::{Arg, ArgAction, ArgMatches, Command};

use crate::collector::REGISTRY;

/// What a flag takes on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Takes {
    /// A boolean switch (`--x`, and kingpin's `--no-x`).
    Switch {
        /// The value that describes what sysmon does anyway: giving the switch this value is
        /// not worth a warning (`--no-collector.netdev.netlink` asks for /proc/net/dev, which is
        /// what sysmon reads).
        sysmon_behaves_as: bool,
    },
    /// One value (`--x=VALUE`); repeated, the last counts.
    Value(&'static str),
    /// A repeatable value (kingpin's `.Strings()`).
    Values(&'static str),
}

/// A node_exporter flag that sysmon accepts without acting on it.
#[derive(Debug, Clone, Copy)]
pub struct CompatFlag {
    /// The long name without the leading dashes.
    pub long: &'static str,
    pub takes: Takes,
    /// Why sysmon does not act on it. Empty for a flag of a collector, whose reason is worked out
    /// when the warning is written: sysmon has no such collector, or its collector of that name
    /// does not implement the option.
    pub reason: &'static str,
}

const fn switch(long: &'static str, reason: &'static str) -> CompatFlag {
    CompatFlag {
        long,
        takes: Takes::Switch {
            sysmon_behaves_as: false,
        },
        reason,
    }
}

/// A switch that is on by default in node_exporter and whose "on" is what sysmon does.
const fn switch_on(long: &'static str, reason: &'static str) -> CompatFlag {
    CompatFlag {
        long,
        takes: Takes::Switch {
            sysmon_behaves_as: true,
        },
        reason,
    }
}

const fn value(long: &'static str, placeholder: &'static str, reason: &'static str) -> CompatFlag {
    CompatFlag {
        long,
        takes: Takes::Value(placeholder),
        reason,
    }
}

const fn values(long: &'static str, placeholder: &'static str, reason: &'static str) -> CompatFlag {
    CompatFlag {
        long,
        takes: Takes::Values(placeholder),
        reason,
    }
}

const NETLINK: &str = "sysmon reads the counters from files under --path.procfs/--path.sysfs, \
    which can point at another machine's tree; netlink only ever answers for the running kernel";
const FIXTURES: &str = "a node_exporter test hook; sysmon's tests point --path.* at fixture trees";

/// node_exporter flags sysmon accepts without acting on them, sorted by name. Flags of collectors
/// sysmon lacks carry no reason of their own (see [`CompatFlag::reason`]).
pub const FLAGS: &[CompatFlag] = &[
    value("collector.arp.device-exclude", "REGEX", ""),
    value("collector.arp.device-include", "REGEX", ""),
    switch("collector.arp.netlink", ""),
    switch_on(
        "collector.cpu.guest",
        "sysmon always exports node_cpu_guest_seconds_total",
    ),
    switch("collector.cpu.info", ""),
    value("collector.cpu.info.bugs-include", "REGEX", ""),
    value("collector.cpu.info.flags-include", "REGEX", ""),
    value("collector.ethtool.device-exclude", "REGEX", ""),
    value("collector.ethtool.device-include", "REGEX", ""),
    value("collector.ethtool.metrics-include", "REGEX", ""),
    switch("collector.interrupts.include-zeros", ""),
    value("collector.interrupts.name-exclude", "REGEX", ""),
    value("collector.interrupts.name-include", "REGEX", ""),
    switch("collector.netclass.netlink", NETLINK),
    switch("collector.netclass_rtnl.with-stats", NETLINK),
    switch("collector.netdev.address-info", ""),
    switch("collector.netdev.enable-detailed-metrics", ""),
    switch("collector.netdev.label-ifalias", ""),
    switch("collector.netdev.netlink", NETLINK),
    value("collector.netstat.fields", "REGEX", ""),
    value("collector.netvf.device-exclude", "REGEX", ""),
    value("collector.netvf.device-include", "REGEX", ""),
    value("collector.ntp.ip-ttl", "N", ""),
    value("collector.ntp.local-offset-tolerance", "DURATION", ""),
    value("collector.ntp.max-distance", "DURATION", ""),
    value("collector.ntp.protocol-version", "N", ""),
    value("collector.ntp.server", "HOST", ""),
    switch("collector.ntp.server-is-local", ""),
    value("collector.ntp.server-port", "PORT", ""),
    value("collector.pcidevice.idsfile", "FILE", ""),
    switch("collector.pcidevice.names", ""),
    values("collector.perf.cache-profilers", "PROFILER", ""),
    value("collector.perf.cpus", "CPUS", ""),
    switch("collector.perf.disable-cache-profilers", ""),
    switch("collector.perf.disable-hardware-profilers", ""),
    switch("collector.perf.disable-software-profilers", ""),
    values("collector.perf.hardware-profilers", "PROFILER", ""),
    values("collector.perf.software-profilers", "PROFILER", ""),
    values("collector.perf.tracepoint", "TRACEPOINT", ""),
    value("collector.qdisc.device-exclude", "REGEX", ""),
    value("collector.qdisc.device-include", "REGEX", ""),
    value("collector.qdisc.fixtures", "DIR", FIXTURES),
    // node_exporter 1.5's spelling of the two flags above, in Debian's unit files.
    value("collector.qdisk.device-exclude", "REGEX", ""),
    value("collector.qdisk.device-include", "REGEX", ""),
    value("collector.runit.servicedir", "DIR", ""),
    value("collector.slabinfo.slabs-exclude", "REGEX", ""),
    value("collector.slabinfo.slabs-include", "REGEX", ""),
    switch("collector.stat.softirq", ""),
    value("collector.supervisord.url", "URL", ""),
    values("collector.sysctl.include", "SYSCTL", ""),
    values("collector.sysctl.include-info", "SYSCTL", ""),
    switch("collector.systemd.enable-restarts-metrics", ""),
    switch("collector.systemd.enable-start-time-metrics", ""),
    switch("collector.systemd.enable-task-metrics", ""),
    switch("collector.systemd.private", ""),
    value("collector.systemd.unit-blacklist", "REGEX", ""),
    value("collector.systemd.unit-exclude", "REGEX", ""),
    value("collector.systemd.unit-include", "REGEX", ""),
    value("collector.systemd.unit-whitelist", "REGEX", ""),
    values("collector.textfile.directory", "DIR", ""),
    value("collector.vmstat.fields", "REGEX", ""),
    value("collector.wifi.fixtures", "DIR", FIXTURES),
    value(
        "path.udev.data",
        "DIR",
        "no sysmon collector reads udev's device database",
    ),
    value(
        "runtime.gomaxprocs",
        "N",
        "it sets the Go runtime's GOMAXPROCS; sysmon is a Rust program with a fixed pool of two \
         runtime workers, and collectors run on their own threads",
    ),
];

/// Every collector node_exporter 1.12 has on Linux, sorted. Those sysmon lacks get accept-only
/// switches ([`augment`]); the others are sysmon's own.
pub const COLLECTORS: &[&str] = &[
    "arp",
    "bcache",
    "bcachefs",
    "bonding",
    "btrfs",
    "buddyinfo",
    "cgroups",
    "conntrack",
    "cpu",
    "cpu_vulnerabilities",
    "cpufreq",
    "diskstats",
    "dmi",
    "dmmultipath",
    "drbd",
    "drm",
    "edac",
    "entropy",
    "ethtool",
    "fibrechannel",
    "filefd",
    "filesystem",
    "hwmon",
    "infiniband",
    "interrupts",
    "ipvs",
    "kernel_hung",
    "ksmd",
    "lnstat",
    "loadavg",
    "logind",
    "mdadm",
    "meminfo",
    "meminfo_numa",
    "mountstats",
    "netclass",
    "netdev",
    "netstat",
    "netvf",
    "network_route",
    "nfs",
    "nfsd",
    "ntp",
    "nvme",
    "nvmesubsystem",
    "os",
    "pcidevice",
    "perf",
    "powersupplyclass",
    "pressure",
    "processes",
    "qdisc",
    "rapl",
    "runit",
    "schedstat",
    "selinux",
    "slabinfo",
    "sockstat",
    "softirqs",
    "softnet",
    "stat",
    "supervisord",
    "swap",
    "sysctl",
    "systemd",
    "tapestats",
    "tcpstat",
    "textfile",
    "thermal_zone",
    "time",
    "timex",
    "udp_queues",
    "uname",
    "vmstat",
    "watchdog",
    "wifi",
    "xfrm",
    "xfs",
    "zfs",
    "zoneinfo",
];

/// The heading of the (hidden) compatibility flags, for `--help` of anyone who un-hides them.
const HEADING: &str = "node_exporter compatibility";

/// The collector a `collector.<name>.<option>` flag belongs to.
pub fn collector_of(long: &str) -> Option<&'static str> {
    let rest = long.strip_prefix("collector.")?;
    let prefix = rest.split('.').next()?;
    let name = match prefix {
        "powersupply" => "powersupplyclass",
        "netclass_rtnl" => "netclass",
        "qdisk" => "qdisc",
        other => other,
    };
    COLLECTORS.iter().copied().find(|c| *c == name)
}

/// Whether a long name (or alias) or an id is taken in `cmd`.
fn taken(cmd: &Command, long: &str) -> bool {
    cmd.get_arguments().any(|a| {
        a.get_id().as_str() == long
            || a.get_long() == Some(long)
            || a.get_all_aliases()
                .is_some_and(|aliases| aliases.contains(&long))
    })
}

/// Adds the accept-only flags and collector switches to a command that already holds sysmon's own
/// flags and every registered collector's, skipping every name already taken; then kingpin's
/// `--no-` form of every boolean.
pub fn augment(mut cmd: Command) -> Command {
    for flag in FLAGS {
        if taken(&cmd, flag.long) {
            continue;
        }
        let arg = Arg::new(flag.long)
            .long(flag.long)
            .hide(true)
            .help_heading(HEADING)
            .help(format!(
                "Accepted for node_exporter compatibility; {}.",
                flag.reason
            ));
        let arg = match flag.takes {
            Takes::Switch { .. } => arg.action(ArgAction::SetTrue),
            Takes::Value(placeholder) => arg
                .action(ArgAction::Set)
                .value_name(placeholder)
                .allow_hyphen_values(true),
            Takes::Values(placeholder) => arg
                .action(ArgAction::Append)
                .value_name(placeholder)
                .allow_hyphen_values(true),
        };
        cmd = cmd.arg(arg);
    }
    for name in COLLECTORS {
        let on = format!("collector.{name}");
        let off = format!("no-collector.{name}");
        if !taken(&cmd, &on) {
            cmd = cmd.arg(
                Arg::new(on.clone())
                    .long(on)
                    .action(ArgAction::SetTrue)
                    .hide(true)
                    .help_heading(HEADING),
            );
        }
        if !taken(&cmd, &off) {
            cmd = cmd.arg(
                Arg::new(off.clone())
                    .long(off)
                    .action(ArgAction::SetTrue)
                    .hide(true)
                    .help_heading(HEADING),
            );
        }
    }
    add_negations(cmd)
}

/// kingpin accepts `--no-<flag>` for every boolean flag: adds it, hidden, for every boolean that
/// has none, overriding the flag (and overridden by it: the last one given wins).
pub fn add_negations(mut cmd: Command) -> Command {
    let switches: Vec<(String, String)> = cmd
        .get_arguments()
        .filter(|a| matches!(a.get_action(), ArgAction::SetTrue))
        .filter_map(|a| Some((a.get_id().to_string(), a.get_long()?.to_string())))
        .filter(|(_, long)| !long.starts_with("no-"))
        .collect();
    for (id, long) in switches {
        let negated = format!("no-{long}");
        if taken(&cmd, &negated) {
            continue;
        }
        cmd = cmd.arg(
            Arg::new(negated.clone())
                .long(negated)
                .action(ArgAction::SetTrue)
                .hide(true)
                .overrides_with(id),
        );
    }
    cmd
}

/// The entries of [`FLAGS`] that `cmd` holds as accept-only flags (those no sysmon flag has
/// replaced yet): the list the README documents.
pub fn inert_flags(cmd: &Command) -> Vec<&'static CompatFlag> {
    FLAGS
        .iter()
        .filter(|f| {
            cmd.get_arguments().any(|a| {
                a.get_id().as_str() == f.long
                    && a.get_long() == Some(f.long)
                    && a.get_help_heading() == Some(HEADING)
            })
        })
        .collect()
}

/// What the compatibility flags given on a command line amount to: a usage error for a collector
/// sysmon cannot enable, else one warning line per flag that has no effect.
pub fn check(matches: &ArgMatches) -> Result<Vec<String>, clap::Error> {
    for name in COLLECTORS {
        if REGISTRY.iter().any(|r| r.name == *name) {
            continue;
        }
        let id = format!("collector.{name}");
        if given_switch(matches, &id) == Some(true) {
            return Err(clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                format!(
                    "--collector.{name}: sysmon-exporter does not implement node_exporter's \
                     {name} collector, so it cannot be enabled (--no-collector.{name} is accepted)\n"
                ),
            ));
        }
    }
    let mut warnings = Vec::new();
    for flag in FLAGS {
        let given = match flag.takes {
            Takes::Switch { sysmon_behaves_as } => given_switch(matches, flag.long)
                .or_else(|| given_switch(matches, &format!("no-{}", flag.long)).map(|_| false))
                .filter(|v| *v != sysmon_behaves_as)
                .map(|v| {
                    if v {
                        format!("--{}", flag.long)
                    } else {
                        format!("--no-{}", flag.long)
                    }
                }),
            Takes::Value(_) | Takes::Values(_) => {
                given_value(matches, flag.long).then(|| format!("--{}", flag.long))
            }
        };
        if let Some(given) = given {
            warnings.push(format!(
                "{given} is accepted for node_exporter compatibility and has no effect: {}",
                reason(flag)
            ));
        }
    }
    Ok(warnings)
}

/// Why `flag` has no effect, for the warning.
pub fn reason(flag: &CompatFlag) -> String {
    if !flag.reason.is_empty() {
        return flag.reason.to_string();
    }
    match collector_of(flag.long) {
        Some(c) if REGISTRY.iter().any(|r| r.name == c) => {
            format!("sysmon's {c} collector does not implement this option")
        }
        Some(c) => format!("sysmon has no {c} collector"),
        None => "sysmon does not implement it".to_string(),
    }
}

/// A switch's value when it was given on the command line (`None` when absent, or when this
/// compatibility flag was not added because a real one took its name).
fn given_switch(matches: &ArgMatches, id: &str) -> Option<bool> {
    let from_command_line = matches!(matches.try_contains_id(id), Ok(true))
        && matches.value_source(id) == Some(clap::parser::ValueSource::CommandLine);
    if !from_command_line {
        return None;
    }
    matches.try_get_one::<bool>(id).ok().flatten().copied()
}

fn given_value(matches: &ArgMatches, id: &str) -> bool {
    matches!(matches.try_contains_id(id), Ok(true))
        && matches.value_source(id) == Some(clap::parser::ValueSource::CommandLine)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{command, try_parse};

    #[test]
    fn tables_are_sorted_and_unique() {
        assert!(FLAGS.windows(2).all(|w| w[0].long < w[1].long), "FLAGS");
        assert!(COLLECTORS.windows(2).all(|w| w[0] < w[1]), "COLLECTORS");
    }

    #[test]
    fn every_registered_collector_that_node_exporter_has_is_listed() {
        // sysmon's own collectors outside node_exporter: usb (sysmon_ prefix) and process
        // (process-exporter's namedprocess_ families).
        for reg in REGISTRY {
            if !["usb", "process"].contains(&reg.name) {
                assert!(COLLECTORS.contains(&reg.name), "{}", reg.name);
            }
        }
    }

    #[test]
    fn every_collector_flag_names_a_known_collector() {
        for flag in FLAGS {
            if flag.long.starts_with("collector.") {
                assert!(collector_of(flag.long).is_some(), "{}", flag.long);
            } else {
                assert!(!flag.reason.is_empty(), "{} needs a reason", flag.long);
            }
        }
    }

    /// A flag defined by sysmon itself (here a registered collector's) is never shadowed: the
    /// compatibility entry is skipped and the real flag parses as before.
    #[test]
    fn real_flags_win_over_compatibility_entries() {
        let cmd = augment(
            Command::new("x").arg(
                Arg::new("real")
                    .long("collector.netstat.fields")
                    .action(ArgAction::Set),
            ),
        );
        let n = cmd
            .get_arguments()
            .filter(|a| a.get_long() == Some("collector.netstat.fields"))
            .count();
        assert_eq!(n, 1);
        let m = cmd
            .try_get_matches_from(["x", "--collector.netstat.fields=^Tcp_"])
            .unwrap();
        assert_eq!(m.get_one::<String>("real").unwrap(), "^Tcp_");
        assert!(check(&m).unwrap().is_empty());
    }

    #[test]
    fn every_entry_parses_in_both_forms() {
        let cmd = command();
        for flag in FLAGS {
            if !cmd
                .get_arguments()
                .any(|a| a.get_id().as_str() == flag.long)
            {
                continue; // a collector implements it now
            }
            let forms: Vec<Vec<String>> = match flag.takes {
                Takes::Switch { .. } => vec![
                    vec![format!("--{}", flag.long)],
                    vec![format!("--no-{}", flag.long)],
                ],
                Takes::Value(_) => vec![vec![format!("--{}=x", flag.long)]],
                Takes::Values(_) => vec![vec![
                    format!("--{}=a", flag.long),
                    format!("--{}", flag.long),
                    "b".to_string(),
                ]],
            };
            for form in forms {
                let mut args = vec!["sysmon-exporter"];
                args.extend(form.iter().map(String::as_str));
                let cli = try_parse(&args).unwrap_or_else(|e| panic!("{form:?}: {e}"));
                // Anything other than sysmon's own behaviour is said once.
                assert!(cli.compat_warnings.len() <= 1, "{form:?}");
            }
        }
    }

    #[test]
    fn warnings_name_the_flag_and_the_reason() {
        let cli = try_parse(&[
            "x",
            "--runtime.gomaxprocs=4",
            "--collector.netclass.netlink",
            "--no-collector.netclass.netlink",
            "--collector.ntp.server=192.0.2.1",
        ])
        .unwrap();
        assert_eq!(cli.compat_warnings.len(), 2, "{:?}", cli.compat_warnings);
        assert!(cli.compat_warnings[0].starts_with("--collector.ntp.server "));
        assert!(cli.compat_warnings[1].contains("GOMAXPROCS"));
        // What sysmon does anyway is not worth a line.
        let cli = try_parse(&[
            "x",
            "--no-collector.netdev.netlink",
            "--collector.cpu.guest",
        ])
        .unwrap();
        assert!(cli.compat_warnings.is_empty(), "{:?}", cli.compat_warnings);
    }

    #[test]
    fn missing_collectors_can_be_disabled_but_not_enabled() {
        let missing: Vec<&str> = COLLECTORS
            .iter()
            .copied()
            .filter(|c| !REGISTRY.iter().any(|r| r.name == *c))
            .collect();
        for name in &missing {
            let cli = try_parse(&["x", &format!("--no-collector.{name}")]).unwrap();
            assert!(cli.compat_warnings.is_empty());
            let err = try_parse(&["x", &format!("--collector.{name}")])
                .err()
                .unwrap_or_else(|| panic!("--collector.{name} accepted"));
            assert_eq!(err.exit_code(), 2);
            let text = err.to_string();
            assert!(
                text.contains(&format!("{name} collector")) && text.contains("does not implement"),
                "{text}"
            );
        }
    }

    #[test]
    fn negations_override_and_the_last_wins() {
        let cli = try_parse(&[
            "x",
            "--collector.disable-defaults",
            "--no-collector.disable-defaults",
        ])
        .unwrap();
        assert!(!cli.disable_defaults);
        let cli = try_parse(&[
            "x",
            "--no-collector.disable-defaults",
            "--collector.disable-defaults",
        ])
        .unwrap();
        assert!(cli.disable_defaults);
    }
}
