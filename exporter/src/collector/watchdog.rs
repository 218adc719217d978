//! `watchdog`: hardware and software watchdog timers from `<sysfs>/class/watchdog/<name>/`
//! (Documentation/ABI/testing/sysfs-class-watchdog), as node_exporter's `watchdog.go` (1.8+,
//! enabled by default) exports them, labelled `name` (`watchdog0`, ...):
//!
//! * `node_watchdog_bootstatus`, `_fw_version`, `_nowayout`, `_timeleft_seconds`,
//!   `_timeout_seconds`, `_pretimeout_seconds`, `_access_cs0`: gauges, each only when its
//!   attribute exists (the kernel hides `timeleft` when the driver cannot tell it, `pretimeout`
//!   when the device has no pretimeout, ...);
//! * `node_watchdog_info{name,options,identity,state,status,pretimeout_governor}` 1, with an empty
//!   value for a missing attribute.
//!
//! Attribute values are read as the Go procfs library reads them: white space trimmed, numbers
//! with Go's `ParseInt(s, 0, 64)` (so `0x` hexadecimal, `0o`/leading-zero octal and `0b` binary
//! are accepted as well as decimal). A missing attribute is skipped; any other read error or an
//! unparsable number fails the collector. node_exporter then publishes nothing; sysmon publishes
//! the devices that were read completely and names the bad file.
//!
//! No `<sysfs>/class/watchdog` (no watchdog driver loaded), or one that cannot be read, is no
//! data, not an error, as in node_exporter.

use std::io::ErrorKind;
use std::path::Path;

use super::{
    sorted_dir_entries, AttrDir, BuildContext, CollectError, Collector, Registration, Roots,
};
use crate::metrics::MetricSet;

pub const REGISTRATION: Registration = Registration {
    name: "watchdog",
    default_enabled: true,
    help: "watchdog timers from /sys/class/watchdog",
    flags: super::no_flags,
    cadence: super::Cadence::Slow,
    isolation: super::Isolation::Thread,
    build,
};

fn build(ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(WatchdogCollector {
        roots: ctx.roots.clone(),
    }))
}

pub struct WatchdogCollector {
    roots: Roots,
}

/// The numeric attributes: file, metric name, help.
const NUMBERS: [(&str, &str, &str); 7] = [
    (
        "bootstatus",
        "node_watchdog_bootstatus",
        "Status of the watchdog at boot (WDIOF_* bits of the reason of the last reset).",
    ),
    (
        "fw_version",
        "node_watchdog_fw_version",
        "Firmware version of the watchdog device.",
    ),
    (
        "nowayout",
        "node_watchdog_nowayout",
        "1 if the watchdog cannot be stopped once started (nowayout), 0 otherwise.",
    ),
    (
        "timeleft",
        "node_watchdog_timeleft_seconds",
        "Seconds left before the watchdog resets the machine.",
    ),
    (
        "timeout",
        "node_watchdog_timeout_seconds",
        "Watchdog timeout in seconds.",
    ),
    (
        "pretimeout",
        "node_watchdog_pretimeout_seconds",
        "Seconds before the timeout at which the pretimeout governor is notified.",
    ),
    (
        "access_cs0",
        "node_watchdog_access_cs0",
        "Value of the watchdog's access_cs0 attribute.",
    ),
];

/// The string attributes that become labels of `node_watchdog_info`, in label order.
const LABELS: [&str; 5] = [
    "options",
    "identity",
    "state",
    "status",
    "pretimeout_governor",
];

/// One watchdog device as read from sysfs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Watchdog {
    pub name: String,
    /// Values of [`NUMBERS`], `None` where the attribute does not exist.
    pub numbers: [Option<i64>; 7],
    /// Values of [`LABELS`], empty where the attribute does not exist.
    pub labels: [String; 5],
}

/// Parses an integer as Go's `strconv.ParseInt(s, 0, 64)` after `TrimSpace`: an optional sign,
/// then `0x`/`0X` hexadecimal, `0o`/`0O` or leading-`0` octal, `0b`/`0B` binary or decimal;
/// underscores are allowed between digits only with a prefix.
pub fn parse_int(text: &str) -> Option<i64> {
    let s = text.trim();
    let (negative, digits) = match s.as_bytes().first()? {
        b'+' => (false, &s[1..]),
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    let lower = digits.get(..2).map(str::to_ascii_lowercase);
    let (radix, body, prefixed) = match lower.as_deref() {
        Some("0x") => (16, &digits[2..], true),
        Some("0o") => (8, &digits[2..], true),
        Some("0b") => (2, &digits[2..], true),
        _ if digits.len() > 1 && digits.starts_with('0') => (8, &digits[1..], true),
        _ => (10, digits, false),
    };
    if body.is_empty() {
        return None;
    }
    let mut clean = String::with_capacity(body.len());
    // An underscore may follow the base prefix, never start a plain decimal number.
    let mut previous_underscore = !prefixed;
    for c in body.chars() {
        if c == '_' {
            if !prefixed || previous_underscore {
                return None;
            }
            previous_underscore = true;
        } else {
            clean.push(c);
            previous_underscore = false;
        }
    }
    if previous_underscore || clean.starts_with(['+', '-']) {
        return None;
    }
    let magnitude = u64::from_str_radix(&clean, radix).ok()?;
    if negative {
        if magnitude <= i64::MAX as u64 + 1 {
            Some((magnitude as i64).wrapping_neg())
        } else {
            None
        }
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// Reads one attribute, trimmed; `Ok(None)` if it does not exist.
fn read_attr(dir: &AttrDir, name: &str) -> Result<Option<String>, CollectError> {
    match dir.read(name) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).trim().to_string())),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CollectError::io(dir.path().join(name), e)),
    }
}

/// Reads the watchdog device directory `path`, named `name`.
pub fn read_device(path: &Path, name: &str) -> Result<Watchdog, CollectError> {
    let dir = AttrDir::open(path);
    let mut wd = Watchdog {
        name: name.to_string(),
        ..Watchdog::default()
    };
    for (slot, (file, _, _)) in wd.numbers.iter_mut().zip(NUMBERS) {
        if let Some(text) = read_attr(&dir, file)? {
            *slot = Some(parse_int(&text).ok_or_else(|| {
                CollectError::parse(
                    path.join(file),
                    format!("expected an integer, found {text:?}"),
                )
            })?);
        }
    }
    for (slot, file) in wd.labels.iter_mut().zip(LABELS) {
        if let Some(text) = read_attr(&dir, file)? {
            *slot = text;
        }
    }
    Ok(wd)
}

impl Collector for WatchdogCollector {
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        let class = self.roots.sys("class/watchdog");
        let entries = match sorted_dir_entries(&class) {
            Ok(entries) => entries,
            Err(CollectError::Io { source, .. })
                if matches!(
                    source.kind(),
                    ErrorKind::NotFound | ErrorKind::PermissionDenied | ErrorKind::InvalidInput
                ) =>
            {
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let mut first_error = None;
        for entry in entries {
            let name = entry.file_name().to_string_lossy().into_owned();
            let wd = match read_device(&entry.path(), &name) {
                Ok(wd) => wd,
                Err(e) => {
                    first_error.get_or_insert(e);
                    continue;
                }
            };
            let labels = [("name", wd.name.as_str())];
            for (value, (_, metric, help)) in wd.numbers.iter().zip(NUMBERS) {
                if let Some(v) = value {
                    out.gauge(metric, help).sample(&labels, *v as f64);
                }
            }
            out.gauge(
                "node_watchdog_info",
                "Watchdog device information from its sysfs attributes; always 1.",
            )
            .sample(
                &[
                    ("name", &wd.name),
                    ("options", &wd.labels[0]),
                    ("identity", &wd.labels[1]),
                    ("state", &wd.labels[2]),
                    ("status", &wd.labels[3]),
                    ("pretimeout_governor", &wd.labels[4]),
                ],
                1.0,
            );
        }
        match first_error {
            None => Ok(()),
            Some(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::fixture_roots;
    use proptest::prelude::*;

    #[test]
    fn parses_like_go_parse_int_base_0() {
        for (text, want) in [
            ("0\n", Some(0)),
            ("30", Some(30)),
            ("-1", Some(-1)),
            ("+7", Some(7)),
            ("0x8180", Some(0x8180)),
            ("0X1F", Some(31)),
            ("010", Some(8)),
            ("0o17", Some(15)),
            ("0b101", Some(5)),
            ("0x_1_0", Some(16)),
            ("0_10", Some(8)),
            ("0x__1", None),
            ("0x1_", None),
            ("1_0", None),
            ("0x", None),
            ("", None),
            ("-", None),
            ("09", None),
            ("0x-1", None),
            ("--1", None),
            ("9223372036854775807", Some(i64::MAX)),
            ("-9223372036854775808", Some(i64::MIN)),
            ("9223372036854775808", None),
            ("inactive", None),
        ] {
            assert_eq!(parse_int(text), want, "{text:?}");
        }
    }

    fn collect(machine: &str) -> (MetricSet, Result<(), CollectError>) {
        let mut out = MetricSet::new();
        let r = WatchdogCollector {
            roots: fixture_roots(machine),
        }
        .collect(&mut out);
        (out, r)
    }

    #[test]
    fn laptop_itco() {
        let (out, r) = collect("laptop");
        r.unwrap();
        let info = out.get("node_watchdog_info").unwrap();
        assert_eq!(info.samples.len(), 1);
        let labels = &info.samples[0].labels;
        assert!(
            labels.contains(&("identity".into(), "iTCO_wdt".to_string())),
            "{labels:?}"
        );
        assert!(
            labels.contains(&("pretimeout_governor".into(), String::new())),
            "{labels:?}"
        );
        assert_eq!(
            out.get("node_watchdog_timeout_seconds").unwrap().samples[0].value,
            30.0
        );
        assert!(out.get("node_watchdog_pretimeout_seconds").is_none());
    }

    #[test]
    fn server_has_two_and_vm_none() {
        let (out, r) = collect("server");
        r.unwrap();
        assert_eq!(out.get("node_watchdog_info").unwrap().samples.len(), 2);
        assert_eq!(
            out.get("node_watchdog_pretimeout_seconds")
                .unwrap()
                .samples
                .len(),
            1
        );
        let (out, r) = collect("vm");
        r.unwrap();
        assert_eq!(out.sample_count(), 0);
    }

    #[test]
    fn broken_publishes_good_devices_and_fails() {
        let (out, r) = collect("broken");
        let err = r.unwrap_err().to_string();
        assert!(
            err.contains("watchdog1") && err.contains("timeout"),
            "{err}"
        );
        assert_eq!(out.get("node_watchdog_info").unwrap().samples.len(), 1);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_text_never_panics(text in "[0-9a-fA-FxXoObB_+\\- \\n]{0,30}") {
            let _ = parse_int(&text);
        }

        #[test]
        fn decimal_and_hex_parse_back(v in any::<i64>()) {
            prop_assert_eq!(parse_int(&format!("{v}\n")), Some(v));
            if v >= 0 {
                prop_assert_eq!(parse_int(&format!("{v:#x}")), Some(v));
            }
        }
    }
}
