//! Command line: flags, the non-interactive modes (`--once`, `query`) and the exit statuses
//! (2 for usage and configuration errors, 1 for runtime errors).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::app::Settings;
use crate::collect::fetch_fleet;
use crate::fmt::parse_duration;
use crate::prom::{ClientConfig, PromClient, PromError};
use crate::queries::Queries;
pub use sysmon_cli_common::generate::Kind;
use sysmon_cli_common::generate::ManExtras;

fn duration_arg(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d.is_zero() {
        return Err("must be more than 0".into());
    }
    Ok(d)
}

/// sysmon-top: a terminal client for a sysmon fleet. It only speaks PromQL, to Prometheus or any
/// server with the Prometheus HTTP API.
#[derive(Debug, Parser)]
#[command(name = "sysmon-top", about, long_about = None)]
pub struct Cli {
    /// Base URL of Prometheus (or of any server with the Prometheus HTTP API).
    #[arg(
        long,
        env = "SYSMON_PROMETHEUS_URL",
        default_value = "http://localhost:9090",
        global = true,
        value_name = "URL"
    )]
    pub prometheus: String,

    /// Job name of the exporters' scrape job.
    #[arg(long, default_value = "sysmon", global = true)]
    pub job: String,

    /// How often the views refresh.
    #[arg(long, default_value = "2s", value_parser = duration_arg, global = true)]
    pub refresh: Duration,

    /// Print the fleet table to stdout once and exit.
    #[arg(long)]
    pub once: bool,

    /// Format of --once: an aligned table, JSON (an array of hosts, raw numbers) or CSV.
    #[arg(long, value_name = "FORMAT", value_enum, default_value_t = Output::Table, requires = "once")]
    pub output: Output,

    /// Basic auth user name.
    #[arg(long, env = "SYSMON_PROMETHEUS_USER", global = true)]
    pub user: Option<String>,

    /// Basic auth password (prefer --password-file or the environment variable).
    #[arg(
        long,
        env = "SYSMON_PROMETHEUS_PASSWORD",
        hide_env_values = true,
        global = true
    )]
    pub password: Option<String>,

    /// File holding the basic auth password.
    #[arg(long, global = true, value_name = "FILE")]
    pub password_file: Option<PathBuf>,

    /// Bearer token sent in the Authorization header.
    #[arg(
        long,
        env = "SYSMON_PROMETHEUS_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub bearer_token: Option<String>,

    /// File holding the bearer token.
    #[arg(long, global = true, value_name = "FILE")]
    pub bearer_token_file: Option<PathBuf>,

    /// PEM file of CA certificates to trust for https (in addition to the built-in roots).
    #[arg(long, global = true, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,

    /// Do not verify the server's TLS certificate (testing only).
    #[arg(long, global = true)]
    pub insecure_skip_verify: bool,

    /// Bound on one HTTP request to Prometheus.
    #[arg(long, default_value = "10s", value_parser = duration_arg, global = true)]
    pub timeout: Duration,

    /// No colours (also when NO_COLOR is set and not empty).
    #[arg(long, global = true)]
    pub no_color: bool,

    /// Config file with named contexts and saved queries (default:
    /// $XDG_CONFIG_HOME/sysmon-top/config.toml).
    #[arg(long, global = true, value_name = "FILE", env = "SYSMON_TOP_CONFIG")]
    pub config: Option<PathBuf>,

    /// Context of the config file to use (default: the one its `context` key names); flags given
    /// on the command line override the context's settings.
    #[arg(long, global = true, value_name = "NAME")]
    pub context: Option<String>,

    /// Show version and build information (git revision, build date, rustc, target) and exit.
    #[arg(long, short = 'V')]
    pub version: bool,

    /// Print the man page or a shell completion script, generated from these flags, and exit.
    #[arg(long, value_name = "KIND", value_enum)]
    pub generate: Option<Kind>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Formats of `--once`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    Table,
    Json,
    Csv,
}

/// What `--version` prints, in node_exporter's layout (written by `build.rs`).
pub const VERSION_TEXT: &str = include_str!(concat!(env!("OUT_DIR"), "/version.txt"));

/// The man page's sections after the generated ones.
const MAN_EXTRAS: &str = r#".SH KEYS
In the interactive view, \fB?\fR shows every key; \fBq\fR quits.
.SH ENVIRONMENT
.TP
\fBSYSMON_PROMETHEUS_URL\fR
Base URL of Prometheus, as \fB\-\-prometheus\fR.
.TP
\fBSYSMON_PROMETHEUS_USER\fR, \fBSYSMON_PROMETHEUS_PASSWORD\fR, \fBSYSMON_PROMETHEUS_TOKEN\fR
Credentials, as \fB\-\-user\fR, \fB\-\-password\fR and \fB\-\-bearer\-token\fR.
.TP
\fBSYSMON_TOP_CONFIG\fR
The config file, as \fB\-\-config\fR.
.TP
\fBXDG_CONFIG_HOME\fR
Where the default config file is looked for (\fI$HOME/.config\fR when unset).
.TP
\fBNO_COLOR\fR
Any value but the empty one turns colours off.
.SH FILES
.TP
\fI$XDG_CONFIG_HOME/sysmon\-top/config.toml\fR
Named contexts (a Prometheus, its job, refresh, timeout, credentials by file or environment
variable, CA file) and saved queries for the query view; \fBcontext\fR names the one used without
\fB\-\-context\fR. Flags given on the command line override the context's settings. A missing
file is no file; one that does not parse is a usage error naming the file and the line.
.SH "EXIT STATUS"
0 on success; 2 for a usage or configuration error (a bad flag, a bad config file or unknown
context, an unreadable credentials or CA file, no terminal for the interactive view); 1 for a
failure at run time, such as Prometheus not answering.
.SH "SEE ALSO"
\fBsysmon\-exporter\fR(1), \fBprometheus\fR(1)
"#;

/// Writes what `--generate` asks for: the man page or a completion script of the flags.
pub fn generate(kind: Kind, out: &mut dyn Write) -> std::io::Result<()> {
    use clap::CommandFactory;
    let extras = ManExtras {
        roff: MAN_EXTRAS,
        date: env!("SYSMON_BUILD_DAY"),
        version: env!("CARGO_PKG_VERSION"),
    };
    sysmon_cli_common::generate::generate(Cli::command(), kind, &extras, out)
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one PromQL query and print a table (instant) or a text chart (--range).
    Query {
        /// The PromQL expression.
        expr: String,
        /// Run a range query over this long, ending now (e.g. 1h), and draw a text chart.
        #[arg(long, value_parser = duration_arg)]
        range: Option<Duration>,
        /// Step of the range query (default: the range divided into about 120 points).
        #[arg(long, value_parser = duration_arg, requires = "range")]
        step: Option<Duration>,
        /// Width of the text chart in characters.
        #[arg(long, default_value_t = 100)]
        width: usize,
    },
    /// Print the PromQL every view runs (for --job), one per line, and exit.
    Queries {
        /// Instance the host view's queries are shown for.
        #[arg(long, default_value = "HOST:10101")]
        instance: String,
    },
}

/// Why sysmon-top stopped: a usage error (exit 2) or a runtime error (exit 1).
#[derive(Debug)]
pub enum Failure {
    Usage(String),
    Runtime(String),
}

impl Failure {
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Usage(_) => 2,
            Failure::Runtime(_) => 1,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Failure::Usage(m) | Failure::Runtime(m) => m,
        }
    }
}

fn read_secret(path: &PathBuf, what: &str) -> Result<String, Failure> {
    std::fs::read_to_string(path)
        .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
        .map_err(|e| {
            Failure::Usage(format!(
                "cannot read the {what} file {}: {e}",
                path.display()
            ))
        })
}

/// The client configuration the flags describe; every mistake is a usage error.
pub fn client_config(cli: &Cli) -> Result<ClientConfig, Failure> {
    let mut cfg = ClientConfig::new(cli.prometheus.clone());
    cfg.timeout = cli.timeout;
    cfg.insecure_skip_verify = cli.insecure_skip_verify;
    auth_from_flags(cli, &mut cfg)?;
    Ok(cfg)
}

/// Basic auth, bearer token and CA from the flags.
fn auth_from_flags(cli: &Cli, cfg: &mut ClientConfig) -> Result<(), Failure> {
    let password = match (&cli.password, &cli.password_file) {
        (Some(_), Some(_)) => {
            return Err(Failure::Usage(
                "give either --password or --password-file, not both".into(),
            ))
        }
        (Some(p), None) => Some(p.clone()),
        (None, Some(f)) => Some(read_secret(f, "password")?),
        (None, None) => None,
    };
    match (&cli.user, password) {
        (Some(u), p) => cfg.basic_auth = Some((u.clone(), p.unwrap_or_default())),
        (None, Some(_)) => {
            return Err(Failure::Usage(
                "a password needs a user name: add --user".into(),
            ))
        }
        (None, None) => {}
    }
    cfg.bearer_token = match (&cli.bearer_token, &cli.bearer_token_file) {
        (Some(_), Some(_)) => {
            return Err(Failure::Usage(
                "give either --bearer-token or --bearer-token-file, not both".into(),
            ))
        }
        (Some(t), None) => Some(t.clone()),
        (None, Some(f)) => Some(read_secret(f, "bearer token")?),
        (None, None) => None,
    };
    if cfg.bearer_token.is_some() && cfg.basic_auth.is_some() {
        return Err(Failure::Usage(
            "give either basic auth (--user) or a bearer token, not both".into(),
        ));
    }
    if let Some(ca) = &cli.ca_file {
        cfg.ca_pem = Some(std::fs::read(ca).map_err(|e| {
            Failure::Usage(format!("cannot read the CA file {}: {e}", ca.display()))
        })?);
    }
    Ok(())
}

/// What one context resolves to: where Prometheus is and how to talk to it.
#[derive(Debug, Clone)]
pub struct Target {
    /// The context's name (`None`: flags and defaults only).
    pub context: Option<String>,
    pub client: ClientConfig,
    pub job: String,
    pub refresh: Duration,
}

/// The context `ctx` of the config file with the flags given on the command line (or their
/// environment variables) over it; without a context, the flags and their defaults.
/// `given(id)` says whether the argument `id` came from the command line or the environment.
pub fn resolve(
    cli: &Cli,
    given: &dyn Fn(&str) -> bool,
    ctx: Option<(&str, &crate::config::Context)>,
    file: &str,
) -> Result<Target, Failure> {
    let Some((name, c)) = ctx else {
        return Ok(Target {
            context: None,
            client: client_config(cli)?,
            job: cli.job.clone(),
            refresh: cli.refresh,
        });
    };
    let pick = |id: &str, flag: String, from_file: Option<String>| -> String {
        if given(id) {
            flag
        } else {
            from_file.unwrap_or(flag)
        }
    };
    let url = pick("prometheus", cli.prometheus.clone(), c.prometheus.clone());
    let job = pick("job", cli.job.clone(), c.job.clone());
    let refresh = if given("refresh") {
        cli.refresh
    } else {
        c.refresh().unwrap_or(cli.refresh)
    };
    let mut cfg = ClientConfig::new(url);
    cfg.timeout = if given("timeout") {
        cli.timeout
    } else {
        c.timeout().unwrap_or(cli.timeout)
    };
    cfg.insecure_skip_verify = cli.insecure_skip_verify || c.insecure_skip_verify.unwrap_or(false);
    let auth_flags = [
        "user",
        "password",
        "password_file",
        "bearer_token",
        "bearer_token_file",
        "ca_file",
    ];
    if auth_flags.iter().any(|a| given(a)) {
        auth_from_flags(cli, &mut cfg)?;
    } else {
        let secret = |path: &Option<PathBuf>, env: &Option<String>, what: &str| {
            match (path, env) {
                (Some(p), _) => read_secret(p, &format!("{what} (context {name:?} of {file})"))
                    .map(Some),
                (None, Some(var)) => std::env::var(var).map(Some).map_err(|_| {
                    Failure::Usage(format!(
                        "context {name:?} of {file}: the environment variable {var} with the {what} is not set"
                    ))
                }),
                (None, None) => Ok(None),
            }
        };
        let password = secret(&c.password_file, &c.password_env, "password")?;
        match (&c.user, password) {
            (Some(u), p) => cfg.basic_auth = Some((u.clone(), p.unwrap_or_default())),
            (None, Some(_)) => {
                return Err(Failure::Usage(format!(
                    "context {name:?} of {file}: a password needs a user"
                )))
            }
            (None, None) => {}
        }
        cfg.bearer_token = secret(&c.bearer_token_file, &c.bearer_token_env, "bearer token")?;
        if cfg.bearer_token.is_some() && cfg.basic_auth.is_some() {
            return Err(Failure::Usage(format!(
                "context {name:?} of {file}: give either a user or a bearer token, not both"
            )));
        }
        if let Some(ca) = &c.ca_file {
            cfg.ca_pem = Some(std::fs::read(ca).map_err(|e| {
                Failure::Usage(format!(
                    "context {name:?} of {file}: cannot read the CA file {}: {e}",
                    ca.display()
                ))
            })?);
        }
    }
    Ok(Target {
        context: Some(name.to_string()),
        client: cfg,
        job,
        refresh,
    })
}

/// The config file: `--config` (which must exist), else the default place (if it exists).
pub fn load_config(cli: &Cli) -> Result<Option<crate::config::Config>, Failure> {
    let (path, explicit) = match &cli.config {
        Some(p) => (p.clone(), true),
        None => match crate::config::default_path() {
            Some(p) => (p, false),
            None => return Ok(None),
        },
    };
    crate::config::Config::load(&path, explicit).map_err(Failure::Usage)
}

/// The config file, the starting context's target and every context's (the others may fail:
/// they are reported when chosen).
pub struct Setup {
    pub config: Option<crate::config::Config>,
    pub target: Target,
    pub others: Vec<(String, Result<Target, String>)>,
}

/// Reads the config file and resolves `--context` (or the file's default context) under the
/// flags.
pub fn setup(cli: &Cli, given: &dyn Fn(&str) -> bool) -> Result<Setup, Failure> {
    let config = load_config(cli)?;
    let file = config
        .as_ref()
        .and_then(|c| c.path.as_ref())
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let wanted = cli
        .context
        .clone()
        .or_else(|| config.as_ref().and_then(|c| c.context.clone()));
    let ctx = match (&wanted, &config) {
        (None, _) => None,
        (Some(n), Some(c)) => match c.contexts.get(n) {
            Some(x) => Some((n.as_str(), x)),
            None => {
                return Err(Failure::Usage(format!(
                    "no context {n:?} in {file} (contexts: {})",
                    c.context_names().join(", ")
                )))
            }
        },
        (Some(n), None) => {
            return Err(Failure::Usage(format!(
                "--context {n:?} needs a config file ({}) and there is none",
                crate::config::default_path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "$XDG_CONFIG_HOME/sysmon-top/config.toml".into())
            )))
        }
    };
    let target = resolve(cli, given, ctx, &file)?;
    let mut others = Vec::new();
    if let Some(c) = &config {
        for (n, x) in &c.contexts {
            // Switching at run time takes the context as the file has it: the flags were for
            // the context sysmon-top started with.
            let r = resolve(cli, &|_| false, Some((n.as_str(), x)), &file)
                .map_err(|f| f.message().to_string());
            others.push((n.clone(), r));
        }
    }
    Ok(Setup {
        config,
        target,
        others,
    })
}

/// Builds the client; a bad URL or CA file is a usage error.
pub fn client(cli: &Cli) -> Result<PromClient, Failure> {
    let cfg = client_config(cli)?;
    PromClient::new(&cfg).map_err(|e| Failure::Usage(e.to_string()))
}

/// `NO_COLOR` (any non-empty value) or `--no-color`.
pub fn no_color(cli: &Cli) -> bool {
    cli.no_color
        || std::env::var_os("NO_COLOR")
            .map(|v| !v.is_empty())
            .unwrap_or(false)
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::Runtime(format!("cannot start the async runtime: {e}")))
}

fn runtime_error(e: PromError) -> Failure {
    Failure::Runtime(e.to_string())
}

/// Runs what the command line asks for, every flag taken as given (tests, embedding).
pub fn run(cli: Cli) -> Result<(), Failure> {
    run_with(cli, &|_| true)
}

/// Runs what the command line asks for; `given(id)` says whether argument `id` came from the
/// command line or the environment (so that it overrides the config file's context).
pub fn run_with(cli: Cli, given: &dyn Fn(&str) -> bool) -> Result<(), Failure> {
    // Before the config file is read: --version and --generate answer whatever the file holds
    // (a broken file must not keep a user from reading the man page).
    if cli.version {
        return print_stdout(VERSION_TEXT);
    }
    if let Some(kind) = cli.generate {
        let mut out = Vec::new();
        generate(kind, &mut out)
            .map_err(|e| Failure::Runtime(format!("cannot render {kind:?}: {e}")))?;
        return print_stdout(&String::from_utf8_lossy(&out));
    }
    let setup = setup(&cli, given)?;
    let target = setup.target.clone();
    let queries = Queries::new(&target.job);
    if let Some(Command::Queries { instance }) = &cli.command {
        return print_stdout(&all_queries(&queries, instance));
    }
    let client = PromClient::new(&target.client).map_err(|e| Failure::Usage(e.to_string()))?;
    match &cli.command {
        Some(Command::Queries { .. }) => unreachable!("handled above"),
        Some(Command::Query {
            expr,
            range,
            step,
            width,
        }) => {
            let rt = runtime()?;
            let res = rt.block_on(async {
                match range {
                    None => client.query(expr, None).await,
                    Some(r) => {
                        let step = step.unwrap_or_else(|| crate::queries::step_for(*r, 120));
                        let end = crate::fmt::now_unix();
                        client
                            .query_range(expr, end - r.as_secs_f64(), end, step.as_secs_f64())
                            .await
                    }
                }
            });
            let res = res.map_err(runtime_error)?;
            print_stdout(&crate::text::query_result(&res, *width))
        }
        None if cli.once => {
            let rt = runtime()?;
            let batch = rt
                .block_on(fetch_fleet(&client, &queries))
                .map_err(runtime_error)?;
            let out = match cli.output {
                Output::Table => crate::text::fleet_table(&batch.data),
                Output::Json => crate::text::fleet_json(&batch.data),
                Output::Csv => crate::text::fleet_csv(&batch.data),
            };
            print_stdout(&out)?;
            if batch.data.is_empty() {
                eprintln!(
                    "sysmon-top: note: Prometheus has no targets for job {:?} (use --job to pick another)",
                    target.job
                );
            }
            for (name, e) in &batch.failed {
                eprintln!("sysmon-top: warning: partial result: query {name:?} failed: {e}");
            }
            for w in &batch.warnings {
                eprintln!("sysmon-top: warning from Prometheus: {w}");
            }
            Ok(())
        }
        None => {
            if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
                return Err(Failure::Usage(
                    "the interactive view needs a terminal; use --once or `sysmon-top query EXPR` in scripts".into(),
                ));
            }
            let settings = Settings {
                url: client.base_url().to_string(),
                job: target.job.clone(),
                refresh: target.refresh,
                no_color: no_color(&cli),
            };
            let saved = setup
                .config
                .as_ref()
                .map(|c| {
                    c.queries
                        .iter()
                        .map(|q| (q.name.clone(), q.expr.clone()))
                        .collect()
                })
                .unwrap_or_default();
            crate::term::run(
                settings,
                client,
                queries,
                crate::term::Contexts {
                    current: target.context.clone(),
                    all: setup.others,
                    saved_queries: saved,
                },
            )
            .map_err(|e| Failure::Runtime(format!("{e:#}")))
        }
    }
}

/// Every query of every view, with what it is for (`sysmon-top queries`).
pub fn all_queries(q: &Queries, instance: &str) -> String {
    use crate::queries::{AnomalyQuery, FleetQuery, HistoryQuery, HostQuery, ProcessQuery};
    let range = crate::app::RANGES[crate::app::DEFAULT_RANGE];
    let step = crate::queries::step_for(range, 240);
    let mut out = String::new();
    out.push_str("# fleet view (instant queries, every refresh)\n");
    for f in FleetQuery::ALL {
        out.push_str(&format!("{:<18} {}\n", f.name(), q.fleet(f)));
    }
    out.push_str(
        "# fleet view fallbacks, for the hosts a recording rule above did not answer for \
         (every host: as here; some: with instance=~\"...\" in each selector)\n",
    );
    for f in FleetQuery::ALL {
        if let Some(expr) = q.fleet_fallback(f, crate::queries::Fallback::Job) {
            out.push_str(&format!("{:<18} {expr}\n", format!("{} (raw)", f.name())));
        }
    }
    out.push_str(&format!(
        "{:<18} {}\n",
        "down since",
        q.last_up(&[instance.to_string()])
    ));
    out.push_str(&format!(
        "# host view, instance {instance} (instant queries; range 1h)\n"
    ));
    for h in HostQuery::ALL {
        out.push_str(&format!(
            "{:<18} {}\n",
            format!("{h:?}"),
            q.host(h, instance, range)
        ));
    }
    out.push_str(&format!(
        "# host view history (range queries over 1h, step {})\n",
        crate::fmt::prom_duration(step)
    ));
    for h in HistoryQuery::ALL {
        out.push_str(&format!(
            "{:<18} {}\n",
            format!("{h:?}"),
            q.history(h, instance, step)
        ));
    }
    out.push_str(&format!(
        "# processes view and the host view's processes panel, instance {instance}\n"
    ));
    for p in ProcessQuery::ALL {
        out.push_str(&format!(
            "{:<18} {}\n",
            format!("{p:?}"),
            q.processes(p, instance)
        ));
    }
    out.push_str("# anomalies view (instant queries; recent = 1h)\n");
    for a in AnomalyQuery::ALL {
        out.push_str(&format!(
            "{:<18} {}\n",
            format!("{a:?}"),
            q.anomalies(a, range)
        ));
    }
    out
}

/// Writes to stdout; a closed pipe (`| head`) is not an error worth a message.
fn print_stdout(s: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    match out.write_all(s.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::Runtime(format!("cannot write to stdout: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        let mut v = vec!["sysmon-top"];
        v.extend_from_slice(args);
        Cli::try_parse_from(v)
    }

    #[test]
    fn defaults_and_subcommand() {
        let c = parse(&[]).unwrap();
        assert_eq!(c.job, "sysmon");
        assert_eq!(c.refresh, Duration::from_secs(2));
        let c = parse(&["query", "up", "--range", "1h", "--prometheus", "http://h:1"]).unwrap();
        assert_eq!(c.prometheus, "http://h:1");
        match c.command {
            Some(Command::Query { expr, range, .. }) => {
                assert_eq!(expr, "up");
                assert_eq!(range, Some(Duration::from_secs(3600)));
            }
            _ => panic!("no query subcommand"),
        }
        assert!(parse(&["--refresh", "0s"]).is_err());
        assert!(parse(&["--refresh", "fast"]).is_err());
        assert!(
            parse(&["query", "up", "--step", "1m"]).is_err(),
            "--step needs --range"
        );
    }

    #[test]
    fn queries_lists_every_view() {
        let out = all_queries(&Queries::new("node"), "h:9100");
        assert!(out.starts_with("# fleet view"), "{out}");
        assert!(
            out.contains("up                 up{job=\"node\"}\n"),
            "{out}"
        );
        assert!(out.contains("# host view, instance h:9100"), "{out}");
        assert!(out.contains("instance=\"h:9100\""), "{out}");
        assert!(out.contains("# anomalies view"), "{out}");
        assert!(
            out.contains("memory (raw)       1 - node_memory_MemAvailable_bytes{job=\"node\"}"),
            "{out}"
        );
        assert_eq!(
            out.lines().filter(|l| !l.starts_with('#')).count(),
            // fleet, its fallbacks, down since, host, history, processes, anomalies
            15 + 11 + 1 + 13 + 8 + 4 + 9
        );
    }

    #[test]
    fn auth_flags_are_checked() {
        let c = parse(&["--password", "x"]).unwrap();
        assert!(matches!(client_config(&c), Err(Failure::Usage(_))));
        let c = parse(&["--user", "u", "--password", "p"]).unwrap();
        assert_eq!(
            client_config(&c).unwrap().basic_auth,
            Some(("u".into(), "p".into()))
        );
        let c = parse(&["--user", "u", "--bearer-token", "t"]).unwrap();
        assert!(matches!(client_config(&c), Err(Failure::Usage(_))));
        let c = parse(&["--ca-file", "/nonexistent/ca.pem"]).unwrap();
        let Err(Failure::Usage(m)) = client_config(&c) else {
            panic!("missing CA file accepted")
        };
        assert!(m.contains("/nonexistent/ca.pem"), "{m}");
    }
}
