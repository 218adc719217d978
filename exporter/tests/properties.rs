//! Property tests of the parsers of machine input (/proc, /sys, the kernel log) and of user input
//! (the TOML configuration, the anomaly feed's query string):
//!
//! * any input, arbitrary or shaped like the real thing, never makes a parser panic;
//! * well-formed input generated from known values parses back to exactly those values.
//!
//! The fuzz targets in `exporter/fuzz/` explore the same parsers for longer; a crash they find is
//! kept here as a regression test with the crashing input inline (see `fuzz_regressions`).
//! Case counts are bounded so this file runs in a few seconds in a debug build.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use proptest::prelude::*;
use sysmon_exporter::anomaly::api;
use sysmon_exporter::collector::filesystem::mountinfo;
use sysmon_exporter::collector::usb::{classify, kmsg};
use sysmon_exporter::collector::{
    cpu, diskstats, hwmon, loadavg, meminfo, netclass, netdev, os, pressure, stat, thermal_zone,
    usb,
};
use sysmon_exporter::config;

fn cases(n: u32) -> ProptestConfig {
    ProptestConfig {
        cases: n,
        // Failures are reported with their minimal input; no regression files are written into
        // the source tree (a found case belongs in `fuzz_regressions` below, inline).
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Text made of the characters the parsers split and match on, so that random input gets past
/// the first checks far more often than arbitrary Unicode would.
fn procish() -> impl Strategy<Value = String> {
    proptest::string::string_regex(r#"[0-9a-fx :=,;.\-+_()#"'\\\n\t/kBEO]{0,300}"#).unwrap()
}

/// Runs every text parser on `text`; none may panic.
fn parse_everything(text: &str) {
    let _ = cpu::parse_cpu_lines(text);
    let _ = cpu::parse_cpu_list(text);
    let _ = stat::parse(text);
    let _ = meminfo::parse(text);
    for line in text.lines() {
        let _ = diskstats::parse_line(line);
        let _ = mountinfo::parse_mountinfo_line(line.as_bytes());
    }
    let _ = diskstats::parse_udev(text);
    let _ = netdev::parse(text);
    let _ = hwmon::sysfs::explode_sensor_filename(text);
    let _ = hwmon::sysfs::clean_metric_name(text.as_bytes());
    let mut props = BTreeMap::new();
    props.insert("input".to_string(), text.to_string());
    props.insert(text.to_string(), text.to_string());
    for kind in [
        "temp", "in", "fan", "power", "energy", "freq", "curr", "humidity", "vrm",
    ] {
        let _ = hwmon::sensor_metrics(kind, &props);
    }
    let _ = thermal_zone::parse_int(text);
    let _ = netclass::parse_int(text);
    let _ = os::parse(text);
    let _ = os::major_minor(text);
    let _ = os::support_end(text);
    let _ = kmsg::parse_record(text);
    let _ = kmsg::parse_position(text);
    let _ = classify::classify(text);
    let _ = usb::sysfs::parse_number(text);
    let _ = usb::sysfs::parse_hex(text, 4);
    let _ = usb::sysfs::parse_speed(text);
    let _ = usb::sysfs::parse_version(text);
    let _ = loadavg::parse(text);
    let _ = pressure::parse(text);
    let _ = api::parse_query(Some(text));
    let _ = config::parse_str(Path::new("p.toml"), text, &config::Overrides::default());
}

proptest! {
    #![proptest_config(cases(300))]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        parse_everything(&text);
    }

    #[test]
    fn proc_like_text_never_panics(text in procish()) {
        parse_everything(&text);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        for line in bytes.split(|&b| b == b'\n') {
            let _ = mountinfo::parse_mountinfo_line(line);
        }
        let _ = mountinfo::unescape(&bytes);
        let _ = hwmon::sysfs::clean_metric_name(&bytes);
        let _ = usb::sysfs::clean_string(&bytes);
        let mut skipping = false;
        let used = kmsg::split_lines(&bytes, &mut skipping, |line| assert!(!line.contains(&b'\n')));
        prop_assert!(used <= bytes.len());
    }
}

// ---- /proc/stat ----

fn cpu_lines() -> impl Strategy<Value = BTreeMap<u32, Vec<u64>>> {
    proptest::collection::btree_map(
        0u32..4096,
        proptest::collection::vec(any::<u64>(), 4..=10),
        0..12,
    )
}

proptest! {
    #![proptest_config(cases(200))]

    /// Generated `cpuN` lines (4 to 10 columns, as kernels from 2.4 on print them) parse back to
    /// their ticks, missing columns as zero; the aggregate `cpu` line and the other lines are
    /// skipped, and the system-wide counters are read from the same text.
    #[test]
    fn proc_stat_round_trips(
        cpus in cpu_lines(),
        counters in any::<[u64; 6]>(),
        intr_tail in proptest::collection::vec(any::<u32>(), 0..5),
    ) {
        let mut text = String::from("cpu  1 2 3 4 5 6 7 8 9 10\n");
        for (id, ticks) in &cpus {
            let cols: Vec<String> = ticks.iter().map(u64::to_string).collect();
            text.push_str(&format!("cpu{id} {}\n", cols.join(" ")));
        }
        let intr: Vec<String> = intr_tail.iter().map(u32::to_string).collect();
        text.push_str(&format!(
            "intr {} {}\nctxt {}\nbtime {}\nprocesses {}\nprocs_running {}\nprocs_blocked {}\nsoftirq 1 2 3\n",
            counters[0], intr.join(" "), counters[1], counters[2], counters[3], counters[4], counters[5]
        ));

        let parsed = cpu::parse_cpu_lines(&text).unwrap();
        let expected: BTreeMap<u32, cpu::CpuTicks> = cpus
            .iter()
            .map(|(id, ticks)| {
                let mut full = [0u64; 10];
                full[..ticks.len()].copy_from_slice(ticks);
                (*id, full)
            })
            .collect();
        prop_assert_eq!(parsed, expected);

        let k = stat::parse(&text).unwrap();
        prop_assert_eq!(
            [k.interrupts, k.context_switches, k.boot_time, k.forks, k.procs_running, k.procs_blocked],
            counters
        );
    }

    /// Fewer than four tick columns is a damaged line, reported with its line number.
    #[test]
    fn proc_stat_short_cpu_line_is_an_error(id in 0u32..64, ticks in proptest::collection::vec(any::<u64>(), 0..4)) {
        let cols: Vec<String> = ticks.iter().map(u64::to_string).collect();
        let text = format!("cpu 1 2 3 4\ncpu{id} {}\n", cols.join(" "));
        let err = cpu::parse_cpu_lines(&text).unwrap_err();
        prop_assert!(err.starts_with("line 2:"), "{}", err);
    }

    /// A CPU list parses to exactly the CPUs of its ranges.
    #[test]
    fn cpu_list_round_trips(ranges in proptest::collection::vec((0u32..2000, 0u32..8), 0..8)) {
        let text: Vec<String> = ranges
            .iter()
            .map(|&(a, n)| if n == 0 { a.to_string() } else { format!("{a}-{}", a + n) })
            .collect();
        let expected: Vec<u32> = ranges.iter().flat_map(|&(a, n)| a..=a + n).collect();
        prop_assert_eq!(cpu::parse_cpu_list(&format!("{}\n", text.join(","))).unwrap(), expected);
    }
}

// ---- /proc/meminfo ----

fn meminfo_name() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[A-Z][A-Za-z0-9]{0,12}(\\([a-z]{1,6}\\))?").unwrap()
}

proptest! {
    #![proptest_config(cases(200))]

    /// `Name: value kB` lines scale by 1024 into `Name_bytes`; lines without a unit keep the
    /// number; `Name(part)` becomes `Name_part`.
    #[test]
    fn meminfo_round_trips(fields in proptest::collection::btree_map(meminfo_name(), (any::<u64>(), any::<bool>()), 1..20)) {
        let mut text = String::new();
        for (name, (value, kb)) in &fields {
            let unit = if *kb { " kB" } else { "" };
            text.push_str(&format!("{:<16} {value:>12}{unit}\n", format!("{name}:")));
        }
        let parsed = meminfo::parse(&text).unwrap();
        prop_assert_eq!(parsed.len(), fields.len());
        for f in parsed {
            let (value, kb) = fields[&f.kernel_name];
            let base = f.kernel_name.replace('(', "_").replace(')', "");
            if kb {
                prop_assert_eq!(f.value, value as f64 * 1024.0);
                prop_assert_eq!(f.metric, format!("{base}_bytes"));
            } else {
                prop_assert_eq!(f.value, value as f64);
                prop_assert_eq!(f.metric, base);
            }
        }
    }

    /// Any unit other than kB fails the file with the line number.
    #[test]
    fn meminfo_rejects_other_units(unit in "[a-zA-Z]{1,3}", line in 0usize..5) {
        prop_assume!(unit != "kB");
        let mut text = "MemTotal: 1 kB\n".repeat(line);
        text.push_str(&format!("Odd: 5 {unit}\n"));
        let err = meminfo::parse(&text).unwrap_err();
        prop_assert!(err.starts_with(&format!("line {}:", line + 1)), "{}", err);
    }
}

// ---- /proc/diskstats, /proc/net/dev ----

proptest! {
    #![proptest_config(cases(200))]

    #[test]
    fn diskstats_line_round_trips(
        major in any::<u32>(),
        minor in any::<u32>(),
        name in "[a-z][a-z0-9-]{0,12}",
        count in prop_oneof![Just(11usize), Just(15), Just(17)],
        stats in proptest::collection::vec(any::<u64>(), 17),
    ) {
        let stats = &stats[..count];
        let cols: Vec<String> = stats.iter().map(u64::to_string).collect();
        let line = format!("{major:>4} {minor:>7} {name} {}", cols.join(" "));
        let parsed = diskstats::parse_line(&line).unwrap();
        prop_assert_eq!(parsed, diskstats::DiskStat { major, minor, name, stats: stats.to_vec() });
    }

    /// Interfaces and their 16 counters come back as generated, with and without a space after
    /// the colon (old kernels printed "eth0:123").
    #[test]
    fn netdev_round_trips(
        devices in proptest::collection::btree_map("[a-z][a-z0-9.@_-]{0,14}", any::<[u64; 16]>(), 0..8),
        tight in any::<bool>(),
    ) {
        let mut text = String::from(
            "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n",
        );
        for (name, counters) in &devices {
            let cols: Vec<String> = counters.iter().map(u64::to_string).collect();
            let sep = if tight { ":" } else { ": " };
            text.push_str(&format!("{name:>6}{sep}{}\n", cols.join(" ")));
        }
        let parsed = netdev::parse(&text);
        prop_assert!(parsed.bad_lines.is_empty(), "{:?}", parsed.bad_lines);
        prop_assert_eq!(parsed.devices, devices);
    }
}

// ---- mountinfo ----

/// The kernel's escaping of a mountinfo path (`mangle()`: space, tab, newline and backslash
/// become a backslash and three octal digits).
fn kernel_escape(path: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for &b in path {
        if matches!(b, b' ' | b'\t' | b'\n' | b'\\') {
            out.extend(format!("\\{b:03o}").into_bytes());
        } else {
            out.push(b);
        }
    }
    out
}

proptest! {
    #![proptest_config(cases(300))]

    /// A mount point of any bytes, escaped as the kernel does, decodes back to those bytes, with
    /// any number of optional fields before the separator.
    #[test]
    fn mountinfo_escapes_decode(
        path in proptest::collection::vec(any::<u8>(), 1..60),
        optional in proptest::collection::vec("[a-z]{1,8}:[0-9]{1,3}", 0..3),
        major in any::<u32>(),
        minor in any::<u32>(),
        ro in any::<bool>(),
    ) {
        let options = if ro { "ro,relatime" } else { "rw,relatime" };
        let devno = format!("{major}:{minor}");
        let escaped = kernel_escape(&path);
        let mut fields: Vec<&[u8]> = vec![b"36", b"35", devno.as_bytes(), b"/", &escaped, options.as_bytes()];
        fields.extend(optional.iter().map(|o| o.as_bytes()));
        fields.extend([&b"-"[..], b"ext4", b"/dev/sda1", b"rw,errors=remount-ro"]);
        let line = fields.join(&b' ');
        let m = mountinfo::parse_mountinfo_line(&line).unwrap();
        use std::os::unix::ffi::OsStrExt;
        prop_assert_eq!(m.mount_point.as_os_str().as_bytes(), &path[..]);
        prop_assert_eq!((m.major, m.minor), (major, minor));
        prop_assert_eq!(&m.fs_type, "ext4");
        prop_assert_eq!(mountinfo::is_read_only(&m), ro);
        prop_assert_eq!(&m.source, "/dev/sda1");
    }

    /// Decoding is the inverse of the kernel's escaping for any bytes.
    #[test]
    fn unescape_inverts_kernel_escape(path in proptest::collection::vec(any::<u8>(), 0..100)) {
        prop_assert_eq!(mountinfo::unescape(&kernel_escape(&path)), path);
    }
}

// ---- sysfs values: hwmon, thermal, net class, USB ----

proptest! {
    #![proptest_config(cases(300))]

    #[test]
    fn hwmon_file_names_split(kind in "[a-z]{1,10}", num in 0u32..100_000, property in "[a-z0-9_]{1,12}") {
        let name = format!("{kind}{num}_{property}");
        prop_assert_eq!(hwmon::sysfs::explode_sensor_filename(&name), Some((kind.as_str(), i64::from(num), property.as_str())));
        let bare = format!("{kind}{num}");
        prop_assert_eq!(hwmon::sysfs::explode_sensor_filename(&bare), Some((kind.as_str(), i64::from(num), "")));
    }

    /// Temperatures in millidegrees become degrees Celsius.
    #[test]
    fn hwmon_temperature_scales(milli in -300_000i64..300_000) {
        let mut props = BTreeMap::new();
        props.insert("input".to_string(), milli.to_string());
        let metrics = hwmon::sensor_metrics("temp", &props);
        prop_assert_eq!(metrics.len(), 1);
        prop_assert_eq!(&metrics[0].name, "node_hwmon_temp_celsius");
        prop_assert_eq!(metrics[0].value, milli as f64 * 0.001);
    }

    /// Cleaned names only hold `[a-z0-9:_]`, never start or end with `_`.
    #[test]
    fn hwmon_clean_names_are_valid(raw in proptest::collection::vec(any::<u8>(), 0..64)) {
        let name = hwmon::sysfs::clean_metric_name(&raw);
        prop_assert!(name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b':' || b == b'_'), "{:?}", name);
        prop_assert!(!name.starts_with('_') && !name.ends_with('_'));
    }

    #[test]
    fn sysfs_integers_round_trip(v in any::<i64>()) {
        prop_assert_eq!(thermal_zone::parse_int(&v.to_string()), Some(v));
        prop_assert_eq!(netclass::parse_int(&v.to_string()), Some(v));
        let sign = if v < 0 { "-" } else { "" };
        let m = v.unsigned_abs();
        for text in [format!("{sign}{m:#x}"), format!("{sign}{m:#X}"), format!("{sign}0{m:o}"), format!("{sign}{m:#o}"), format!("{sign}{m:#b}")] {
            prop_assert_eq!(netclass::parse_int(&text), Some(v), "{}", text);
        }
    }

    #[test]
    fn usb_attributes_round_trip(busnum in any::<u32>(), vendor in any::<u16>(), class in any::<u8>(), major in 1u8..0x20, minor in any::<u8>()) {
        prop_assert_eq!(usb::sysfs::parse_number(&format!("{busnum}\n")), Some(busnum.to_string()));
        prop_assert_eq!(usb::sysfs::parse_hex(&format!("{vendor:04X}\n"), 4), Some(format!("{vendor:04x}")));
        prop_assert_eq!(usb::sysfs::parse_hex(&format!("{class:02x}\n"), 2), Some(format!("{class:02x}")));
        // bcdUSB as the kernel prints it: "%2x.%02x".
        let version = format!("{major:2x}.{minor:02x}\n");
        prop_assert_eq!(usb::sysfs::parse_version(&version), Some(version.trim().to_string()));
    }

    /// Device strings come out without control characters, trimmed and at most 128 characters.
    #[test]
    fn usb_strings_are_clean(raw in proptest::collection::vec(any::<u8>(), 0..400)) {
        let s = usb::sysfs::clean_string(&raw);
        prop_assert!(!s.chars().any(char::is_control), "{:?}", s);
        prop_assert_eq!(s.trim(), s.as_str());
        prop_assert!(s.chars().count() <= 128);
    }
}

// ---- loadavg, pressure, os-release ----

proptest! {
    #![proptest_config(cases(200))]

    #[test]
    fn loadavg_round_trips(loads in proptest::array::uniform3(0u32..100_000), tasks in 1u32..10_000, pid in 1u32..4_000_000) {
        let text = format!(
            "{}.{:02} {}.{:02} {}.{:02} 1/{tasks} {pid}\n",
            loads[0] / 100, loads[0] % 100, loads[1] / 100, loads[1] % 100, loads[2] / 100, loads[2] % 100
        );
        let parsed = loadavg::parse(&text).unwrap();
        for (p, l) in parsed.iter().zip(loads) {
            prop_assert!((p - f64::from(l) / 100.0).abs() < 1e-9);
        }
    }

    #[test]
    fn pressure_round_trips(some in any::<u64>(), full in proptest::option::of(any::<u64>()), avg in 0u32..10_000) {
        let avg = format!("{}.{:02}", avg / 100, avg % 100);
        let mut text = format!("some avg10={avg} avg60={avg} avg300={avg} total={some}\n");
        if let Some(full) = full {
            text.push_str(&format!("full avg10={avg} avg60={avg} avg300={avg} total={full}\n"));
        }
        prop_assert_eq!(pressure::parse(&text).unwrap(), pressure::Totals { some: Some(some), full });
    }

    /// A value double-quoted with os-release(5)'s escapes parses back to itself.
    #[test]
    fn os_release_quoted_values_round_trip(key in "[A-Z_][A-Z0-9_]{0,15}", value in "[ -~éü]{0,40}") {
        let mut quoted = String::from("\"");
        for c in value.chars() {
            if matches!(c, '"' | '\\' | '$' | '`') {
                quoted.push('\\');
            }
            quoted.push(c);
        }
        quoted.push('"');
        let text = format!("# comment\n\n{key}={quoted}\n");
        let parsed = os::parse(&text);
        prop_assert!(parsed.bad_lines.is_empty(), "{:?}", parsed.bad_lines);
        prop_assert_eq!(parsed.get(&key), value.as_str());
    }

    #[test]
    fn os_version_numbers(major in 0u32..100_000, minor in 0u32..1000) {
        let v = os::major_minor(&format!("{major}.{minor:02}.7")).unwrap();
        prop_assert_eq!(v, format!("{major}.{minor:02}").parse::<f64>().unwrap());
    }
}

// ---- kernel log and USB classification ----

proptest! {
    #![proptest_config(cases(300))]

    #[test]
    fn kmsg_records_round_trip(
        prio in 0u32..=0x7ff,
        seq in any::<u64>(),
        usec in any::<u64>(),
        message in "[^\n\r]{0,80}",
        continuation in proptest::option::of(" [A-Z]+=[a-z0-9 ]*"),
    ) {
        let mut raw = format!("{prio},{seq},{usec},-,caller=T1;{message}\n");
        if let Some(c) = continuation {
            raw.push_str(&c);
            raw.push('\n');
        }
        let r = kmsg::parse_record(&raw).unwrap();
        prop_assert_eq!((r.facility, r.level, r.seq, r.message), (prio >> 3, prio & 7, seq, message.as_str()));
    }

    #[test]
    fn kmsg_positions_round_trip(source in "/[a-z/]{0,30}", boot in proptest::option::of("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}"), seq in any::<u64>()) {
        let p = kmsg::Position { source, boot_id: boot, seq };
        prop_assert_eq!(kmsg::parse_position(&kmsg::format_position(&p)), Some(p));
    }

    /// A failure message about any device path is counted on that port, with its error's kind.
    #[test]
    fn usb_failures_classify(
        bus in 1u32..128,
        ports in proptest::collection::vec(1u32..16, 1..6),
        (code, kind) in prop_oneof![
            Just(("-71", classify::Kind::Protocol)),
            Just(("-110", classify::Kind::Timeout)),
            Just(("-32", classify::Kind::Protocol)),
        ],
    ) {
        let port: Vec<String> = ports.iter().map(u32::to_string).collect();
        let path = format!("{bus}-{}", port.join("."));
        let f = classify::classify(&format!("usb {path}: device descriptor read/64, error {code}")).unwrap();
        prop_assert_eq!(f, classify::UsbFailure { port: path.clone(), kind });
        // A new device announcement is not a failure.
        let announce = format!("usb {path}: new high-speed USB device number {} using xhci_hcd", ports[0]);
        prop_assert_eq!(classify::classify(&announce), None);
    }
}

// ---- the TOML configuration ----

const SAMPLER_KEYS: &[&str] = &["interval", "collector_timeout"];
const STORAGE_KEYS: &[&str] = &["path", "retention", "max_size_mib"];

proptest! {
    #![proptest_config(cases(150))]

    /// Every unknown key, in any section and after any number of other lines, is rejected with
    /// its line number and its name.
    #[test]
    fn config_rejects_unknown_keys(
        key in "[a-z][a-z_]{0,15}",
        section in prop_oneof![Just("sampler"), Just("storage"), Just("")],
        before in proptest::collection::vec(prop_oneof![Just("# a comment"), Just(""), Just("interval = \"3s\"")], 0..6),
    ) {
        let known: &[&str] = match section {
            "sampler" => SAMPLER_KEYS,
            "storage" => STORAGE_KEYS,
            _ => &["sampler", "storage", "rules"],
        };
        prop_assume!(!known.contains(&key.as_str()));
        let mut lines: Vec<String> = Vec::new();
        if !section.is_empty() {
            lines.push(format!("[{section}]"));
        }
        for l in &before {
            // The known key only in [sampler], so it is not itself unknown elsewhere.
            if l.starts_with("interval") && section != "sampler" {
                continue;
            }
            if l.starts_with("interval") && lines.iter().any(|x| x.starts_with("interval")) {
                continue;
            }
            lines.push(l.to_string());
        }
        lines.push(format!("{key} = \"x\""));
        let expected_line = lines.len();
        lines.push("# after".to_string());
        let text = lines.join("\n") + "\n";
        let e = config::parse_str(Path::new("sysmon.toml"), &text, &config::Overrides::default()).unwrap_err();
        prop_assert_eq!(e.line, expected_line, "{}\n{}", e, text);
        prop_assert!(e.message.contains(&format!("unknown field `{key}`")), "{}", e);
        prop_assert!(e.to_string().starts_with(&format!("sysmon.toml:{expected_line}:")), "{}", e);
    }

    /// Valid sampler and storage settings come back as written; flags override the file.
    #[test]
    fn config_values_round_trip(
        interval_ms in 100u64..=3_600_000,
        timeout_frac in 1u64..=1000,
        retention_h in 1u64..10_000,
        mib in 1i64..=65536,
        flag_interval in proptest::option::of(100u64..=3_600_000),
    ) {
        let timeout_ms = (interval_ms * timeout_frac / 1000).max(1);
        let text = format!(
            "[sampler]\ninterval = \"{interval_ms}ms\"\ncollector_timeout = \"{timeout_ms}ms\"\n\n[storage]\nretention = \"{retention_h}h\"\nmax_size_mib = {mib}\npath = \"/var/tmp/sysmon\"\n"
        );
        let overrides = config::Overrides {
            interval: flag_interval.map(Duration::from_millis),
            ..config::Overrides::default()
        };
        let result = config::parse_str(Path::new("s.toml"), &text, &overrides);
        let interval = Duration::from_millis(flag_interval.unwrap_or(interval_ms));
        if Duration::from_millis(timeout_ms) > interval {
            prop_assert!(result.unwrap_err().message.contains("at most the interval"));
        } else {
            let s = result.unwrap();
            prop_assert_eq!(s.interval, interval);
            prop_assert_eq!(s.collector_timeout, Duration::from_millis(timeout_ms));
            prop_assert_eq!(s.retention.max_age, Duration::from_secs(retention_h * 3600));
            prop_assert_eq!(s.retention.max_bytes, mib as u64 * 1024 * 1024);
            prop_assert_eq!(s.storage_path, Path::new("/var/tmp/sysmon"));
        }
    }
}

// ---- the anomaly feed's query string ----

proptest! {
    #![proptest_config(cases(200))]

    #[test]
    fn feed_query_round_trips(
        limit in 1usize..=api::MAX_LIMIT,
        categories in proptest::collection::vec("[a-z_]{1,10}", 1..4),
        since in 0i64..2_000_000_000,
        span in 0i64..1_000_000,
        severity in prop_oneof![Just("info"), Just("warning"), Just("critical")],
    ) {
        let until = since + span;
        let ts = |s: i64| chrono::DateTime::from_timestamp(s, 0).unwrap();
        let raw = format!(
            "limit={limit}&category={}&since={}&until={}&severity={severity}&state=active",
            categories.join("%2C"),
            ts(since).to_rfc3339().replace('+', "%2B"),
            ts(until).to_rfc3339().replace('+', "%2B"),
        );
        let q = api::parse_query(Some(&raw)).unwrap();
        prop_assert_eq!(q.limit, limit);
        prop_assert_eq!(q.categories, categories);
        prop_assert_eq!(q.since, Some(ts(since)));
        prop_assert_eq!(q.until, Some(ts(until)));
    }

    #[test]
    fn feed_query_rejects_bad_limits_and_unknown_names(limit in prop_oneof![Just(0usize), 1001usize..100_000], name in "[a-z]{1,10}") {
        let err = api::parse_query(Some(&format!("limit={limit}"))).unwrap_err();
        prop_assert!(err.contains("limit"), "{}", err);
        let known = ["state", "severity", "category", "rule", "since", "until", "limit"];
        prop_assume!(!known.contains(&name.as_str()));
        let err = api::parse_query(Some(&format!("{name}=1"))).unwrap_err();
        prop_assert!(err.contains("unknown parameter"), "{}", err);
    }
}

/// Inputs found by the fuzz targets (exporter/fuzz) or by the properties above that once made a
/// parser misbehave, kept inline so they are checked on every test run.
mod fuzz_regressions {
    use super::*;

    /// A device string whose 128th character is a blank kept that blank at the end of the label:
    /// the string was trimmed before it was cut to length, not after.
    #[test]
    fn usb_string_cut_at_a_blank_is_trimmed() {
        let mut raw = vec![b'a'; 127];
        raw.extend_from_slice(b" b");
        let s = usb::sysfs::clean_string(&raw);
        assert_eq!(s, "a".repeat(127));
    }

    /// The input the `usb_sysfs` fuzz target found for the same bug (its crash file, 132 bytes):
    /// invalid UTF-8 and NULs, with a blank as the 128th character after cleaning.
    #[test]
    fn usb_sysfs_fuzz_crash_6035b2dd() {
        let mut raw = b"8".to_vec();
        raw.extend([0xff; 68]);
        raw.extend([0x00, 0xf9]);
        raw.extend([0xff; 49]);
        raw.extend(b"-.xga_ v\x00 :\x00");
        assert_eq!(raw.len(), 132);
        let s = usb::sysfs::clean_string(&raw);
        assert_eq!(s.trim(), s);
        assert!(s.ends_with("-.xga_ v"), "{s:?}");
    }

    /// A VERSION_ID of more digits than an f64 holds parsed to infinity (Rust's float parser
    /// saturates where Go's reports a range error): node_os_version +Inf.
    #[test]
    fn os_version_too_large_is_none() {
        assert_eq!(os::major_minor(&"9".repeat(400)), None);
        assert_eq!(os::major_minor(&format!("{}.5", "1".repeat(310))), None);
        assert_eq!(os::major_minor("22.04"), Some(22.04));
    }
}
