//! The TOML configuration file (`--config.file`): settings that are not per-process switches.
//!
//! Every key is optional and has a working default, so the exporter runs with no file at all.
//! Unknown keys, wrong types and bad values are rejected with `file:line:column: what was expected`.
//! `exporter/sysmon.toml` documents every key.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

pub use crate::config_error::ConfigError;
use crate::config_error::{line_col, parse_duration_value};

/// Effective settings after reading the file and applying flag overrides.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// How often the sampler runs every collector.
    pub interval: Duration,
    /// How long one collector may take before its result for this sample is abandoned.
    pub collector_timeout: Duration,
    /// How often collectors whose series no anomaly rule reads run (their last output is served
    /// in between): the usual Prometheus scrape interval.
    pub slow_interval: Duration,
    /// Directory for state that must survive a restart.
    pub storage_path: PathBuf,
    /// Anomaly rule settings (`[rules.*]`).
    pub rules: crate::anomaly::config::RulesConfig,
    /// How long resolved anomaly events are kept, and how large the journal may grow.
    pub retention: crate::anomaly::journal::Retention,
    /// The `process` collector's groups and bounds (`[process]`).
    pub process: crate::collector::process::config::ProcessSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            interval: Duration::from_secs(2),
            collector_timeout: Duration::from_secs(1),
            slow_interval: Duration::from_secs(15),
            storage_path: default_storage_path(),
            rules: crate::anomaly::config::RulesConfig::default(),
            retention: crate::anomaly::journal::Retention::default(),
            process: crate::collector::process::config::ProcessSettings::default(),
        }
    }
}

/// Where state lives when neither the file nor a flag says: systemd's `StateDirectory`, then
/// /var/lib/sysmon for root, then the XDG state directory of the user, so that the exporter works
/// without root and without configuration.
pub fn default_storage_path() -> PathBuf {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(dir) = env("STATE_DIRECTORY") {
        // systemd may pass several, separated by ':'; the first is ours.
        let first = dir
            .to_string_lossy()
            .split(':')
            .next()
            .unwrap_or_default()
            .to_string();
        return PathBuf::from(first);
    }
    if rustix::process::geteuid().is_root() {
        return PathBuf::from("/var/lib/sysmon");
    }
    if let Some(dir) = env("XDG_STATE_HOME") {
        return dir.join("sysmon");
    }
    match env("HOME") {
        Some(home) => home.join(".local/state/sysmon"),
        None => PathBuf::from("sysmon-state"),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    sampler: SamplerSection,
    #[serde(default)]
    storage: StorageSection,
    #[serde(default)]
    rules: crate::anomaly::config::RulesSection,
    #[serde(default)]
    process: crate::collector::process::config::ProcessSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StorageSection {
    path: Option<Spanned<String>>,
    retention: Option<Spanned<String>>,
    max_size_mib: Option<Spanned<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SamplerSection {
    interval: Option<Spanned<String>>,
    collector_timeout: Option<Spanned<String>>,
    slow_interval: Option<Spanned<String>>,
}

const MIN_INTERVAL: Duration = Duration::from_millis(100);
const MAX_INTERVAL: Duration = Duration::from_secs(3600);

/// Reads `path` (if given) and applies the flag overrides, then checks the combination.
/// Settings given on the command line, which override the file.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub interval: Option<Duration>,
    pub collector_timeout: Option<Duration>,
    pub slow_interval: Option<Duration>,
    pub storage_path: Option<PathBuf>,
}

pub fn load(path: Option<&Path>, flags: &Overrides) -> Result<Settings, ConfigError> {
    match path {
        None => resolve(None, flags),
        Some(path) => {
            let source = std::fs::read_to_string(path).map_err(|e| ConfigError {
                file: path.to_path_buf(),
                line: 0,
                column: 0,
                message: format!("cannot read the configuration file: {e}"),
            })?;
            resolve(Some((path, &source)), flags)
        }
    }
}

/// [`load`] for a configuration already in memory: `text` as if read from `path_label` (which
/// only names the file in errors). Used by the fuzz targets and property tests.
pub fn parse_str(
    path_label: &Path,
    text: &str,
    flags: &Overrides,
) -> Result<Settings, ConfigError> {
    resolve(Some((path_label, text)), flags)
}

fn resolve(file: Option<(&Path, &str)>, flags: &Overrides) -> Result<Settings, ConfigError> {
    let mut settings = Settings::default();
    let display_path = file
        .map(|(path, _)| path.to_path_buf())
        .unwrap_or_else(|| PathBuf::from("<flags>"));
    // Spans of the file's values, to point at the offending line when a combination is wrong.
    let mut interval_at = None;
    let mut slow_interval_at = None;
    let source = file.map_or("", |(_, text)| text);
    if let Some((path, source)) = file {
        let file: FileConfig = toml::from_str(source).map_err(|e| {
            let (line, column) = e
                .span()
                .map(|s| line_col(source, s.start))
                .unwrap_or((0, 0));
            ConfigError {
                file: path.to_path_buf(),
                line,
                column,
                message: e.message().trim().to_string(),
            }
        })?;
        if let Some(v) = &file.sampler.interval {
            settings.interval = parse_duration_value(path, source, v, "sampler.interval")?;
            interval_at = Some(v.span());
        }
        if let Some(v) = &file.sampler.collector_timeout {
            settings.collector_timeout =
                parse_duration_value(path, source, v, "sampler.collector_timeout")?;
        }
        if let Some(v) = &file.sampler.slow_interval {
            settings.slow_interval =
                parse_duration_value(path, source, v, "sampler.slow_interval")?;
            slow_interval_at = Some(v.span());
        }
        settings.rules = file.rules.resolve(path, source)?;
        settings.process = file.process.resolve(path, source)?;
        if let Some(v) = &file.storage.path {
            if v.get_ref().is_empty() {
                let (line, column) = line_col(source, v.span().start);
                return Err(ConfigError {
                    file: path.to_path_buf(),
                    line,
                    column,
                    message: "storage.path: expected a directory path, found an empty string"
                        .to_string(),
                });
            }
            settings.storage_path = PathBuf::from(v.get_ref());
        }
        if let Some(v) = &file.storage.retention {
            let d = parse_duration_value(path, source, v, "storage.retention")?;
            if d < Duration::from_secs(3600) {
                return Err(ConfigError::at(
                    path,
                    source,
                    v.span().start,
                    format!(
                        "storage.retention: expected a duration of at least 1h, found {:?}",
                        v.get_ref()
                    ),
                ));
            }
            settings.retention.max_age = d;
        }
        if let Some(v) = &file.storage.max_size_mib {
            let mib = *v.get_ref();
            if !(1..=65536).contains(&mib) {
                return Err(ConfigError::at(
                    path,
                    source,
                    v.span().start,
                    format!("storage.max_size_mib: expected a whole number of MiB between 1 and 65536, found {mib}"),
                ));
            }
            settings.retention.max_bytes = mib as u64 * 1024 * 1024;
        }
    }
    if let Some(d) = flags.interval {
        settings.interval = d;
        interval_at = None;
    }
    if let Some(d) = flags.collector_timeout {
        settings.collector_timeout = d;
    }
    if let Some(d) = flags.slow_interval {
        settings.slow_interval = d;
        slow_interval_at = None;
    }
    if let Some(p) = &flags.storage_path {
        settings.storage_path = p.clone();
    }
    let at = |span: Option<Range<usize>>| match span {
        Some(s) => line_col(source, s.start),
        None => (0, 0),
    };
    if !(MIN_INTERVAL..=MAX_INTERVAL).contains(&settings.interval) {
        let (line, column) = at(interval_at.clone());
        return Err(ConfigError {
            file: display_path,
            line,
            column,
            message: format!(
                "sampler.interval: expected a duration between 100ms and 1h, found {}",
                humantime::format_duration(settings.interval)
            ),
        });
    }
    if flags.slow_interval.is_none() && slow_interval_at.is_none() {
        // Unset: the default, but never shorter than the interval itself.
        settings.slow_interval = settings.slow_interval.max(settings.interval);
    }
    if settings.slow_interval < settings.interval || settings.slow_interval > MAX_INTERVAL {
        let (line, column) = at(slow_interval_at);
        return Err(ConfigError {
            file: display_path,
            line,
            column,
            message: format!(
                "sampler.slow_interval: expected a duration between the interval ({}) and 1h, found {}",
                humantime::format_duration(settings.interval),
                humantime::format_duration(settings.slow_interval)
            ),
        });
    }
    if settings.collector_timeout.is_zero() || settings.collector_timeout > settings.interval {
        let (line, column) = at(interval_at);
        return Err(ConfigError {
            file: display_path,
            line,
            column,
            message: format!(
                "sampler.collector_timeout: expected a duration greater than zero and at most the interval ({}), found {}",
                humantime::format_duration(settings.interval),
                humantime::format_duration(settings.collector_timeout)
            ),
        });
    }
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(contents: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(contents.as_bytes()).unwrap();
        f
    }

    #[test]
    fn no_file_gives_defaults() {
        assert_eq!(
            load(None, &Overrides::default()).unwrap(),
            Settings::default()
        );
    }

    #[test]
    fn shipped_example_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("sysmon.toml");
        let settings = load(Some(&path), &Overrides::default()).unwrap();
        assert_eq!(settings, Settings::default());
    }

    #[test]
    fn file_values_and_flag_overrides() {
        let f = write("[sampler]\ninterval = \"5s\"\ncollector_timeout = \"2s\"\nslow_interval = \"30s\"\n[storage]\npath = \"/tmp/x\"\nretention = \"7d\"\nmax_size_mib = 8\n");
        let s = load(Some(f.path()), &Overrides::default()).unwrap();
        assert_eq!(s.interval, Duration::from_secs(5));
        assert_eq!(s.collector_timeout, Duration::from_secs(2));
        assert_eq!(s.slow_interval, Duration::from_secs(30));
        assert_eq!(s.storage_path, PathBuf::from("/tmp/x"));
        assert_eq!(s.retention.max_age, Duration::from_secs(7 * 86400));
        assert_eq!(s.retention.max_bytes, 8 * 1024 * 1024);
        let short = write("[storage]\nretention = \"5m\"\n");
        let e = load(Some(short.path()), &Overrides::default()).unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        let empty = write("[storage]\nmax_size_mib = 0\n");
        assert!(load(Some(empty.path()), &Overrides::default()).is_err());
        let s = load(
            Some(f.path()),
            &Overrides {
                interval: Some(Duration::from_secs(10)),
                ..Overrides::default()
            },
        )
        .unwrap();
        assert_eq!(s.interval, Duration::from_secs(10));
    }

    #[test]
    fn unknown_key_names_line() {
        let f = write("[sampler]\ninterval = \"5s\"\nintervall = \"3s\"\n");
        let e = load(Some(f.path()), &Overrides::default()).unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert!(e.message.contains("unknown field `intervall`"), "{e}");
        assert!(e
            .to_string()
            .starts_with(&format!("{}:3:", f.path().display())));
    }

    #[test]
    fn wrong_type_and_bad_value_name_line() {
        let f = write("\n[sampler]\ninterval = 5\n");
        let e = load(Some(f.path()), &Overrides::default()).unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        let f = write("[sampler]\n\ninterval = \"soon\"\n");
        let e = load(Some(f.path()), &Overrides::default()).unwrap_err();
        assert_eq!((e.line, e.column), (3, 12), "{e}");
        assert!(e.message.contains("expected a duration"), "{e}");
        let f = write("[sampler]\ninterval = \"10ms\"\n");
        let e = load(Some(f.path()), &Overrides::default()).unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        let f = write("[sampler]\ninterval = \"1s\"\ncollector_timeout = \"3s\"\n");
        let e = load(Some(f.path()), &Overrides::default()).unwrap_err();
        assert!(e.message.contains("at most the interval"), "{e}");
    }

    #[test]
    fn unreadable_file_is_an_error() {
        let e = load(
            Some(Path::new("/nonexistent/sysmon.toml")),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("/nonexistent/sysmon.toml"));
    }
}
