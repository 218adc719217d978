//! Command-line flags, in node_exporter's style (`--web.listen-address`, `--path.procfs`,
//! `--collector.<name>` / `--no-collector.<name>`), so operators can carry their habits over.
//!
//! The per-collector switches are generated from [`crate::collector::REGISTRY`], and each
//! collector's own flags come from its [`Registration::flags`](crate::collector::Registration), so a
//! new collector gets its flags by being registered and this file names no collector.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Arg, ArgAction, ArgMatches, Command, CommandFactory, FromArgMatches, Parser};

use crate::collector::REGISTRY;
pub use sysmon_cli_common::generate::Kind;
use sysmon_cli_common::generate::ManExtras;

/// What `--version` prints, in node_exporter's layout (written by `build.rs`).
pub const VERSION_TEXT: &str = include_str!(concat!(env!("OUT_DIR"), "/version.txt"));

/// The man page's sections after the generated ones.
const MAN_EXTRAS: &str = r#".SH CONFIGURATION
Settings that are not switches (sampling intervals, anomaly rules, storage) are read from the TOML
file given with \fB\-\-config.file\fR; flags override it. The Debian package installs a commented
example with every key and its default as \fI/etc/sysmon/sysmon.toml\fR.
.SH ENDPOINTS
.TP
\fI/metrics\fR
The latest sample, in the Prometheus text format or OpenMetrics; \fBcollect[]\fR and
\fBexclude[]\fR select collectors.
.TP
\fI/\fR, \fI/health\fR
Landing page with each collector's status; JSON health, 503 when sampling has stalled.
.TP
\fI/api/v1/anomalies\fR, \fI/api/v1/anomalies/stream\fR
The anomaly feed as JSON, and live as Server\-Sent Events.
.SH SIGNALS
.TP
\fBSIGHUP\fR
Re\-read the configuration file's anomaly rules (a bad file keeps the running rules).
.TP
\fBSIGTERM\fR, \fBSIGINT\fR
Finish the sample in progress and exit.
.SH "EXIT STATUS"
0 after a clean shutdown; 2 for a bad flag, configuration file or web configuration file (the
message names the file and line); 1 for a failure at run time, such as an address already in use.
.SH FILES
.TP
\fI/etc/default/sysmon\-exporter\fR
Flags for the systemd service, in \fBSYSMON_EXPORTER_ARGS\fR.
.TP
\fI/etc/sysmon/sysmon.toml\fR
The configuration file the packaged service reads.
.TP
\fI/var/lib/sysmon\fR
State kept across restarts: the anomaly journal and the kernel\-log position (the service's
\fBStateDirectory\fR, found through \fB$STATE_DIRECTORY\fR).
.SH "SEE ALSO"
\fBsysmon\-top\fR(1), \fBprometheus\fR(1), \fBsystemd.exec\fR(5)
"#;

/// Writes what `--generate` asks for: the man page or a completion script of [`command`].
pub fn generate(kind: Kind, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let extras = ManExtras {
        roff: MAN_EXTRAS,
        date: env!("SYSMON_BUILD_DAY"),
        version: env!("CARGO_PKG_VERSION"),
    };
    sysmon_cli_common::generate::generate(command(), kind, &extras, out)
}

#[derive(Debug, Parser)]
#[command(
    name = "sysmon-exporter",
    // A flag given twice takes its last value, so wrappers can append overrides.
    args_override_self = true,
    about = "Prometheus exporter for Linux hosts: node_exporter-compatible host metrics, sampled on an interval and served from a snapshot."
)]
pub struct Cli {
    /// Address to listen on for the web interface and telemetry (":10101" means every interface).
    /// Repeatable: the exporter listens on each address given.
    #[arg(
        long = "web.listen-address",
        default_value = ":10101",
        value_name = "ADDR",
        action = ArgAction::Append
    )]
    pub listen_addresses: Vec<String>,

    /// Use the listening sockets systemd passes (socket activation: LISTEN_FDS, LISTEN_PID)
    /// instead of --web.listen-address.
    #[arg(long = "web.systemd-socket")]
    pub systemd_socket: bool,

    /// Leave out the metrics about the exporter process itself (process_* and
    /// sysmon_exporter_sample_duration_seconds); sysmon_exporter_build_info stays, as
    /// node_exporter keeps its build info.
    #[arg(long = "web.disable-exporter-metrics")]
    pub disable_exporter_metrics: bool,

    /// Path under which to expose metrics.
    #[arg(long = "web.telemetry-path", default_value = "/metrics", value_name = "PATH", value_parser = parse_telemetry_path)]
    pub telemetry_path: String,

    /// Web configuration file in the Prometheus exporter-toolkit's format (TLS, bcrypt basic auth,
    /// security headers); the same file works for node_exporter. See docs/security.md.
    #[arg(long = "web.config.file", value_name = "FILE", value_parser = parse_path_allow_empty)]
    pub web_config_file: Option<PathBuf>,

    /// Maximum number of requests answered at once; more get 503 at once (0 = unlimited).
    #[arg(long = "web.max-requests", default_value_t = 40, value_name = "N")]
    pub web_max_requests: usize,

    /// Maximum number of open connections; at the cap the connection idle for longest is closed
    /// to admit a new one (0 = unlimited).
    #[arg(long = "web.max-connections", default_value_t = 512, value_name = "N")]
    pub web_max_connections: usize,

    /// Maximum number of open /api/v1/anomalies/stream event streams; more get 503 (0 = unlimited).
    #[arg(long = "web.max-streams", default_value_t = 32, value_name = "N")]
    pub web_max_streams: usize,

    /// Time a client has to send a request's headers (from connecting, TLS handshake included,
    /// or from the first byte of a later request on a kept-alive connection).
    #[arg(long = "web.header-read-timeout", default_value = "10s", value_name = "DURATION", value_parser = parse_duration)]
    pub web_header_read_timeout: Duration,

    /// How long an idle kept-alive connection stays open waiting for its next request.
    #[arg(long = "web.idle-timeout", default_value = "2m", value_name = "DURATION", value_parser = parse_duration)]
    pub web_idle_timeout: Duration,

    /// procfs mountpoint.
    #[arg(long = "path.procfs", default_value = "/proc", value_name = "DIR")]
    pub procfs: PathBuf,

    /// sysfs mountpoint.
    #[arg(long = "path.sysfs", default_value = "/sys", value_name = "DIR")]
    pub sysfs: PathBuf,

    /// Root filesystem of the host (mount points are read below it; "/host" in a container).
    #[arg(long = "path.rootfs", default_value = "/", value_name = "DIR")]
    pub rootfs: PathBuf,

    /// Directory for state kept across restarts (anomaly journal, kernel-log position); overrides
    /// `[storage] path` of the config file.
    #[arg(long = "storage.path", value_name = "DIR")]
    pub storage_path: Option<PathBuf>,

    /// TOML configuration file (sampling interval, anomaly rules and the other settings that are
    /// not switches).
    #[arg(long = "config.file", value_name = "FILE", global = true)]
    pub config_file: Option<PathBuf>,

    /// How often to sample the host; overrides `[sampler] interval` of the config file (default 2s).
    #[arg(long = "sampler.interval", value_name = "DURATION", value_parser = parse_duration)]
    pub sampler_interval: Option<Duration>,

    /// How long one collector may run before its sample is abandoned; overrides
    /// `[sampler] collector_timeout` (default 1s).
    #[arg(long = "sampler.collector-timeout", value_name = "DURATION", value_parser = parse_duration)]
    pub collector_timeout: Option<Duration>,

    /// How often collectors whose series no anomaly rule reads run; overrides `[sampler]
    /// slow_interval` (default 15s, the usual scrape interval).
    #[arg(long = "sampler.slow-interval", value_name = "DURATION", value_parser = parse_duration)]
    pub slow_interval: Option<Duration>,

    /// Disable every collector that is not explicitly enabled with --collector.<name>.
    #[arg(long = "collector.disable-defaults")]
    pub disable_defaults: bool,

    /// Only log messages with the given severity or above.
    #[arg(long = "log.level", default_value = "info", value_parser = ["debug", "info", "warn", "error"])]
    pub log_level: String,

    /// Output format of log messages.
    #[arg(long = "log.format", default_value = "logfmt", value_parser = ["logfmt", "json"])]
    pub log_format: String,

    /// Show version and build information (git revision, build date, rustc, target) and exit.
    #[arg(long = "version", short = 'V')]
    pub version: bool,

    /// Print the man page or a shell completion script, generated from these flags, and exit.
    #[arg(long = "generate", value_name = "KIND", value_enum)]
    pub generate: Option<Kind>,

    #[command(subcommand)]
    pub command: Option<Subcommand>,

    /// Collectors enabled after applying defaults and the per-collector switches (filled in by
    /// [`parse_from`], not a flag itself).
    #[arg(skip)]
    pub enabled_collectors: Vec<&'static str>,

    /// Everything parsed, for the collectors to read their own flags from (see
    /// [`BuildContext::args`](crate::collector::BuildContext::args)).
    #[arg(skip)]
    pub matches: ArgMatches,

    /// One line per node_exporter flag given that has no effect in sysmon, for the log at start
    /// (filled in by [`parse_from`]; see [`crate::compat`]).
    #[arg(skip)]
    pub compat_warnings: Vec<String>,
}

/// What to do instead of running the exporter.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Subcommand {
    /// Run the configured anomaly rules over recorded series (CSV `timestamp,value` or a
    /// Prometheus query_range JSON response) and print the events they would raise, as JSON lines.
    Backtest(crate::anomaly::backtest::Args),
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s)
        .map_err(|e| format!("expected a duration such as 2s or 500ms ({e})"))
}

/// A path that may be empty (clap's own path parser refuses an empty value).
fn parse_path_allow_empty(s: &str) -> Result<PathBuf, String> {
    Ok(PathBuf::from(s))
}

fn parse_telemetry_path(s: &str) -> Result<String, String> {
    if !s.starts_with('/') || s == "/" || s == "/health" || s.starts_with("/api/") {
        return Err(
            "expected a path starting with '/' other than '/', '/health' and '/api/...'"
                .to_string(),
        );
    }
    Ok(s.to_string())
}

/// The command with the generated `--collector.<name>` / `--no-collector.<name>` switches,
/// every collector's own flags, and then node_exporter's flags that sysmon accepts without acting
/// on them ([`crate::compat`], added only where no flag of sysmon's own has the name).
pub fn command() -> Command {
    let mut cmd = Cli::command();
    // A collector's `Args` doc comment would become the command's about text when its flags are
    // added: keep the exporter's own.
    let about = cmd.get_about().cloned();
    let long_about = cmd.get_long_about().cloned();
    for reg in REGISTRY {
        cmd = (reg.flags)(cmd);
        let on = format!("collector.{}", reg.name);
        let off = format!("no-collector.{}", reg.name);
        let default = if reg.default_enabled {
            "enabled"
        } else {
            "disabled"
        };
        cmd = cmd
            .arg(
                Arg::new(on.clone())
                    .long(on.clone())
                    .action(ArgAction::SetTrue)
                    .help(format!(
                        "Enable the {} collector ({default} by default): {}",
                        reg.name, reg.help
                    ))
                    .conflicts_with(off.clone()),
            )
            .arg(
                Arg::new(off.clone())
                    .long(off)
                    .action(ArgAction::SetTrue)
                    .help(format!("Disable the {} collector.", reg.name)),
            );
    }
    if let Some(about) = about {
        cmd = cmd.about(about);
    }
    cmd = match long_about {
        Some(long) => cmd.long_about(long),
        None => cmd.long_about(None),
    };
    crate::compat::augment(cmd)
}

/// Parses arguments; on bad usage clap prints what was expected and exits with status 2.
pub fn parse_from<I, T>(args: I) -> Cli
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let matches = command().get_matches_from(args);
    from_matches(&matches).unwrap_or_else(|e| e.exit())
}

/// Parses arguments without exiting on error (for tests and for callers that report errors
/// themselves).
pub fn try_parse(args: &[&str]) -> Result<Cli, clap::Error> {
    let matches = command().try_get_matches_from(args)?;
    from_matches(&matches)
}

fn from_matches(matches: &ArgMatches) -> Result<Cli, clap::Error> {
    let mut cli = Cli::from_arg_matches(matches)?;
    cli.matches = matches.clone();
    cli.enabled_collectors = REGISTRY
        .iter()
        .filter(|reg| {
            let on = matches.get_flag(&format!("collector.{}", reg.name));
            let off = matches.get_flag(&format!("no-collector.{}", reg.name));
            let default = reg.default_enabled && !cli.disable_defaults;
            (default || on) && !off
        })
        .map(|reg| reg.name)
        .collect();
    // node_exporter reads an empty --web.config.file (a unit's `--web.config.file=${VAR}` with
    // the variable unset) as "no file".
    if cli
        .web_config_file
        .as_ref()
        .is_some_and(|f| f.as_os_str().is_empty())
    {
        cli.web_config_file = None;
    }
    cli.compat_warnings = crate::compat::check(matches)?;
    Ok(cli)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_enable_every_default_collector() {
        let cli = try_parse(&["sysmon-exporter"]).unwrap();
        let defaults: Vec<_> = REGISTRY
            .iter()
            .filter(|r| r.default_enabled)
            .map(|r| r.name)
            .collect();
        assert_eq!(cli.enabled_collectors, defaults);
        assert_eq!(cli.listen_addresses, vec![":10101"]);
        assert_eq!(cli.telemetry_path, "/metrics");
    }

    #[test]
    fn disable_defaults_then_enable_one() {
        let cli = try_parse(&["x", "--collector.disable-defaults", "--collector.meminfo"]).unwrap();
        assert_eq!(cli.enabled_collectors, vec!["meminfo"]);
        let cli = try_parse(&["x", "--no-collector.cpu"]).unwrap();
        assert!(!cli.enabled_collectors.contains(&"cpu"));
        assert!(cli.enabled_collectors.contains(&"meminfo"));
    }

    #[test]
    fn help_keeps_the_exporter_about_and_hides_compatibility_flags() {
        let help = command().render_help().to_string();
        assert!(
            help.starts_with("Prometheus exporter for Linux hosts"),
            "{help}"
        );
        assert!(help.contains("--web.disable-exporter-metrics"));
        assert!(
            !help.contains("--runtime.gomaxprocs"),
            "inert flags are hidden"
        );
        assert!(
            !help.contains("--no-collector.disable-defaults"),
            "negations are hidden"
        );
    }

    #[test]
    fn listen_address_repeats_and_empty_web_config_means_none() {
        let cli = try_parse(&[
            "x",
            "--web.listen-address=127.0.0.1:1",
            "--web.listen-address=[::1]:2",
            "--web.config.file=",
        ])
        .unwrap();
        assert_eq!(cli.listen_addresses, vec!["127.0.0.1:1", "[::1]:2"]);
        assert!(cli.web_config_file.is_none());
    }

    #[test]
    fn bad_flags_are_usage_errors() {
        for args in [
            vec!["x", "--collector.nosuch"],
            vec!["x", "--collector.cpu", "--no-collector.cpu"],
            vec!["x", "--sampler.interval", "fast"],
            vec!["x", "--web.telemetry-path", "metrics"],
            vec!["x", "--log.format", "xml"],
        ] {
            let err = try_parse(&args)
                .err()
                .unwrap_or_else(|| panic!("{args:?} accepted"));
            assert_eq!(err.exit_code(), 2, "{args:?}");
        }
    }
}
