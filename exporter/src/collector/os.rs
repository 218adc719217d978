//! `os`: the operating system release from `<rootfs>/etc/os-release`, falling back to
//! `<rootfs>/usr/lib/os-release` as os-release(5) prescribes.
//!
//! node_exporter parses the file with hashicorp/go-envparse and caches it by modification time.
//! This collector reads it every sample (it is a few hundred bytes) with a small parser for the
//! same shell-like syntax, and differs in one way on purpose: a malformed line is skipped and
//! reported, and every other variable is still exported, where node_exporter exports nothing.

use std::collections::HashMap;
use std::path::PathBuf;

use super::{BuildContext, CollectError, Collector, Registration, Roots};
use crate::metrics::MetricSet;

pub const REGISTRATION: Registration = Registration {
    name: "os",
    default_enabled: true,
    help: "operating system release from /etc/os-release under the root filesystem",
    flags: super::no_flags,
    cadence: super::Cadence::Slow,
    isolation: super::Isolation::Inline,
    build,
};

fn build(ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(OsCollector {
        roots: ctx.roots.clone(),
    }))
}

pub struct OsCollector {
    roots: Roots,
}

/// The labels of node_os_info and the os-release variable each comes from, in output order.
const INFO_LABELS: [(&str, &str); 12] = [
    ("build_id", "BUILD_ID"),
    ("id", "ID"),
    ("id_like", "ID_LIKE"),
    ("image_id", "IMAGE_ID"),
    ("image_version", "IMAGE_VERSION"),
    ("name", "NAME"),
    ("pretty_name", "PRETTY_NAME"),
    ("variant", "VARIANT"),
    ("variant_id", "VARIANT_ID"),
    ("version", "VERSION"),
    ("version_codename", "VERSION_CODENAME"),
    ("version_id", "VERSION_ID"),
];

/// A parsed os-release file: its variables, and a description of each line that was not valid.
#[derive(Debug, Default, PartialEq)]
pub struct OsRelease {
    pub vars: HashMap<String, String>,
    pub bad_lines: Vec<String>,
}

impl OsRelease {
    pub fn get(&self, key: &str) -> &str {
        self.vars.get(key).map_or("", String::as_str)
    }
}

/// Parses os-release: `KEY=value` lines, blank lines and `#` comment lines. Values may be
/// unquoted (an unquoted `#` starts a trailing comment), single-quoted (taken literally) or
/// double-quoted (with the backslash escapes `\"`, `\\`, `\$`, `` \` `` that os-release(5) allows
/// and the `\n`, `\t` that go-envparse adds); quoted and unquoted parts may be concatenated, as in
/// the shell. Keys may carry an `export ` prefix. A later assignment of a key wins.
pub fn parse(text: &str) -> OsRelease {
    let mut out = OsRelease::default();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match parse_line(line) {
            Ok((key, value)) => {
                out.vars.insert(key.to_string(), value);
            }
            Err(why) => out
                .bad_lines
                .push(format!("line {}: {why}: {line:?}", index + 1)),
        }
    }
    out
}

fn parse_line(line: &str) -> Result<(&str, String), String> {
    let (key, value) = line.split_once('=').ok_or("missing '='")?;
    let key = key.trim();
    let key = key.strip_prefix("export ").map_or(key, str::trim_start);
    let mut chars = key.chars();
    let valid_start = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !valid_start || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!("invalid variable name {key:?}"));
    }

    #[derive(PartialEq)]
    enum Mode {
        Plain,
        Double,
        Escape,
        Single,
    }
    let mut mode = Mode::Plain;
    let mut out = String::new();
    // Length of `out` up to its last character that is not unquoted white space, so a trailing
    // comment drops the space before it.
    let mut significant = 0;
    for c in value.trim().chars() {
        match mode {
            Mode::Plain => match c {
                '"' => mode = Mode::Double,
                '\'' => mode = Mode::Single,
                '#' => {
                    out.truncate(significant);
                    return Ok((key, out));
                }
                ' ' | '\t' => out.push(c),
                c => {
                    out.push(c);
                    significant = out.len();
                }
            },
            Mode::Double => match c {
                '"' => mode = Mode::Plain,
                '\\' => mode = Mode::Escape,
                c => {
                    out.push(c);
                    significant = out.len();
                }
            },
            Mode::Escape => {
                out.push(match c {
                    '"' | '\\' | '$' | '`' => c,
                    'n' => '\n',
                    't' => '\t',
                    c => return Err(format!("invalid escape sequence \\{c}")),
                });
                significant = out.len();
                mode = Mode::Double;
            }
            Mode::Single => match c {
                '\'' => mode = Mode::Plain,
                c => {
                    out.push(c);
                    significant = out.len();
                }
            },
        }
    }
    match mode {
        Mode::Plain => Ok((key, out)),
        Mode::Double | Mode::Escape => Err("unmatched '\"'".to_string()),
        Mode::Single => Err("unmatched \"'\"".to_string()),
    }
}

/// node_os_version: the leading `major[.minor]` of VERSION_ID as a number (node_exporter's
/// `^[0-9]+\.?[0-9]*`), so "22.04" is 22.04, "9.4.1" is 9.4 and "rolling" has none.
pub fn major_minor(version_id: &str) -> Option<f64> {
    let int_len = version_id.bytes().take_while(u8::is_ascii_digit).count();
    if int_len == 0 {
        return None;
    }
    let rest = &version_id[int_len..];
    let len = match rest.strip_prefix('.') {
        Some(frac) => int_len + 1 + frac.bytes().take_while(u8::is_ascii_digit).count(),
        None => int_len,
    };
    // More digits than an f64 holds parse to infinity in Rust (Go reports a range error): none.
    version_id[..len]
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
}

/// SUPPORT_END ("YYYY-MM-DD", as Go's `time.DateOnly`) as seconds since the epoch at midnight UTC.
pub fn support_end(date: &str) -> Option<i64> {
    let b = date.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let digits = date.get(range)?;
        digits
            .bytes()
            .all(|d| d.is_ascii_digit())
            .then(|| digits.parse().ok())?
    };
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if !(1..=days_in_month).contains(&day) {
        return None;
    }
    // Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some((era * 146_097 + doe - 719_468) * 86_400)
}

impl Collector for OsCollector {
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        let candidates: [PathBuf; 2] = [
            self.roots.root("/etc/os-release"),
            self.roots.root("/usr/lib/os-release"),
        ];
        let mut found = None;
        for path in &candidates {
            match crate::collector::read_bytes(path) {
                Ok(bytes) => {
                    found = Some((path, String::from_utf8_lossy(&bytes).into_owned()));
                    break;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(CollectError::io(path, e)),
            }
        }
        // node_exporter reports "no data" (an unsuccessful scrape) when neither file exists.
        let Some((path, text)) = found else {
            return Err(CollectError::Other(format!(
                "no os-release file: neither {} nor {} exists",
                candidates[0].display(),
                candidates[1].display()
            )));
        };
        let mut release = parse(&text);

        let labels: Vec<(&'static str, &str)> = INFO_LABELS
            .iter()
            .map(|(label, var)| (*label, release.get(var)))
            .collect();
        out.gauge(
            "node_os_info",
            "Operating system release from os-release(5), value is always 1.",
        )
        .sample(&labels, 1.0);
        if let Some(version) = major_minor(release.get("VERSION_ID")).filter(|v| *v > 0.0) {
            out.gauge(
                "node_os_version",
                "The major.minor part of the operating system's VERSION_ID.",
            )
            .sample(
                &[
                    ("id", release.get("ID")),
                    ("id_like", release.get("ID_LIKE")),
                    ("name", release.get("NAME")),
                ],
                version,
            );
        }

        let mut problems = std::mem::take(&mut release.bad_lines);
        let end = release.get("SUPPORT_END");
        if !end.is_empty() {
            match support_end(end) {
                Some(seconds) => {
                    out.gauge(
                        "node_os_support_end_timestamp_seconds",
                        "End of support of the operating system release (SUPPORT_END), as seconds since the epoch.",
                    )
                    .sample(&[], seconds as f64);
                }
                None => problems.push(format!("SUPPORT_END is not a YYYY-MM-DD date: {end:?}")),
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(CollectError::parse(path, problems.join("; ")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::fixture_roots;

    #[test]
    fn parses_shell_style_values() {
        let release = parse(
            "# comment\n\
             NAME=\"Ubuntu\"\n\
             \n\
             VERSION_ID='24.04'\n\
             ID=ubuntu   # trailing comment\n\
             export ID_LIKE=debian\n\
             PRETTY_NAME=\"Say \\\"hi\\\" \\\\ \\$HOME\"\n\
             VARIANT=Server\" Edition\"\n\
             EMPTY=\n\
             HASH=\"a # b\"\n\
             ID=ubuntu-core\n",
        );
        assert!(release.bad_lines.is_empty(), "{:?}", release.bad_lines);
        assert_eq!(release.get("NAME"), "Ubuntu");
        assert_eq!(release.get("VERSION_ID"), "24.04");
        assert_eq!(release.get("ID"), "ubuntu-core", "later assignment wins");
        assert_eq!(release.get("ID_LIKE"), "debian");
        assert_eq!(release.get("PRETTY_NAME"), "Say \"hi\" \\ $HOME");
        assert_eq!(release.get("VARIANT"), "Server Edition");
        assert_eq!(release.get("EMPTY"), "");
        assert_eq!(release.get("HASH"), "a # b");
        assert_eq!(release.get("MISSING"), "");
        assert_eq!(parse("ID=x   # c\n").get("ID"), "x");
    }

    #[test]
    fn skips_and_names_malformed_lines() {
        let release = parse(
            "NAME=Fine\nno equals sign\nPRETTY_NAME=\"open\n1ID=x\nV='x\nE=\"\\q\"\n=x\nID=ok\n",
        );
        assert_eq!(release.get("NAME"), "Fine");
        assert_eq!(release.get("ID"), "ok");
        assert_eq!(release.vars.len(), 2);
        let lines: Vec<_> = release
            .bad_lines
            .iter()
            .map(|l| l.split(':').next().unwrap())
            .collect();
        assert_eq!(
            lines,
            ["line 2", "line 3", "line 4", "line 5", "line 6", "line 7"]
        );
        assert!(release.bad_lines[0].contains("missing '='"));
        assert!(release.bad_lines[1].contains("unmatched"));
        assert!(release.bad_lines[4].contains("invalid escape"));
    }

    #[test]
    fn version_number() {
        assert_eq!(major_minor("22.04"), Some(22.04));
        assert_eq!(major_minor("12"), Some(12.0));
        assert_eq!(major_minor("9.4.1"), Some(9.4));
        assert_eq!(major_minor("2024.1"), Some(2024.1));
        assert_eq!(major_minor("7."), Some(7.0));
        assert_eq!(major_minor("40beta"), Some(40.0));
        assert_eq!(major_minor("rolling"), None);
        assert_eq!(major_minor(""), None);
        assert_eq!(major_minor(".5"), None);
    }

    #[test]
    fn support_end_dates() {
        assert_eq!(support_end("1970-01-01"), Some(0));
        assert_eq!(support_end("2032-05-31"), Some(1_969_574_400));
        assert_eq!(support_end("2024-02-29"), Some(1_709_164_800));
        assert_eq!(support_end("1969-12-31"), Some(-86_400));
        for bad in [
            "2023-02-29",
            "2025-13-01",
            "2025-04-31",
            "2025-00-10",
            "25-01-01",
            "2025/01/01",
            "someday",
            "2025-1-01x",
            "+025-01-01",
        ] {
            assert_eq!(support_end(bad), None, "{bad:?}");
        }
    }

    fn collect(machine: &str) -> (MetricSet, Result<(), CollectError>) {
        let mut out = MetricSet::new();
        let result = OsCollector {
            roots: fixture_roots(machine),
        }
        .collect(&mut out);
        (out, result)
    }

    fn label(set: &MetricSet, family: &str, name: &str) -> String {
        let sample = &set.get(family).unwrap().samples[0];
        sample
            .labels
            .iter()
            .find(|(k, _)| *k == name)
            .unwrap()
            .1
            .clone()
    }

    #[test]
    fn fixtures() {
        // laptop: /etc/os-release is a symlink into /usr/lib.
        let (set, result) = collect("laptop");
        result.unwrap();
        assert_eq!(
            label(&set, "node_os_info", "pretty_name"),
            "Ubuntu 24.04.1 LTS"
        );
        assert_eq!(label(&set, "node_os_info", "version_codename"), "noble");
        assert_eq!(set.get("node_os_version").unwrap().samples[0].value, 24.04);
        assert!(set.get("node_os_support_end_timestamp_seconds").is_none());

        let (set, result) = collect("server");
        result.unwrap();
        assert_eq!(
            label(&set, "node_os_version", "id_like"),
            "rhel centos fedora"
        );
        assert_eq!(set.get("node_os_version").unwrap().samples[0].value, 9.4);
        assert_eq!(
            set.get("node_os_support_end_timestamp_seconds")
                .unwrap()
                .samples[0]
                .value,
            1_969_574_400.0
        );

        // vm: only /usr/lib/os-release.
        let (set, result) = collect("vm");
        result.unwrap();
        assert_eq!(label(&set, "node_os_info", "variant_id"), "cloud");
        assert_eq!(label(&set, "node_os_info", "image_version"), "2024.06.3");
        assert_eq!(label(&set, "node_os_info", "version_codename"), "");
        assert_eq!(
            set.get("node_os_support_end_timestamp_seconds")
                .unwrap()
                .samples[0]
                .value,
            1_747_094_400.0
        );

        let (set, result) = collect("broken");
        let message = result.unwrap_err().to_string();
        assert!(
            message.contains("etc/os-release")
                && message.contains("line 3")
                && message.contains("line 5")
                && message.contains("SUPPORT_END"),
            "{message}"
        );
        assert_eq!(label(&set, "node_os_info", "name"), "Broken \"Linux\"");
        assert_eq!(label(&set, "node_os_info", "id"), "broken");
        assert_eq!(label(&set, "node_os_info", "pretty_name"), "");
        assert!(
            set.get("node_os_version").is_none(),
            "VERSION_ID=rolling has no number"
        );
    }

    #[test]
    fn no_os_release_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let roots = Roots {
            rootfs: dir.path().to_path_buf(),
            ..Roots::default()
        };
        let mut out = MetricSet::new();
        let err = OsCollector { roots }.collect(&mut out).unwrap_err();
        assert!(err.to_string().contains("usr/lib/os-release"), "{err}");
        assert_eq!(out.sample_count(), 0);
    }
}
