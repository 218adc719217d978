//! sysmon-exporter: parse flags and config, build the enabled collectors, start the sampler and the
//! HTTP server, and shut down cleanly on SIGTERM or SIGINT.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use sysmon_exporter::anomaly::backtest;
use sysmon_exporter::anomaly::engine::Engine;
use sysmon_exporter::anomaly::hook::{AnomalyHook, ReloadState};
use sysmon_exporter::anomaly::store::Store;
use sysmon_exporter::cli::{self, Cli};
use sysmon_exporter::collector::{self, BuildContext, Roots};
use sysmon_exporter::sampler::{Sampler, Slot, Snapshot};
use sysmon_exporter::{config, logging, server, web};
use tokio::sync::watch;

/// Exit status for bad usage or configuration, as clap uses for bad flags.
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    // glibc gives each thread that allocates an arena of its own, and keeps what it has freed
    // there; the exporter's threads allocate little, so two arenas hold its heap with fewer
    // resident pages (docs/performance.md).
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only tunes the allocator; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
    let cli = cli::parse_from(std::env::args_os());
    if cli.version {
        print!("{}", cli::VERSION_TEXT);
        return ExitCode::SUCCESS;
    }
    if let Some(kind) = cli.generate {
        return match cli::generate(kind, &mut std::io::stdout().lock()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("sysmon-exporter: cannot write to stdout: {e}");
                ExitCode::FAILURE
            }
        };
    }
    logging::init(&cli.log_level, &cli.log_format);
    for warning in &cli.compat_warnings {
        tracing::warn!("{warning}");
    }

    let overrides = overrides_of(&cli);
    let settings = match config::load(cli.config_file.as_deref(), &overrides) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("sysmon-exporter: invalid configuration: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if let Some(cli::Subcommand::Backtest(args)) = &cli.command {
        let stdout = std::io::stdout();
        return match backtest::main(&settings.rules, args, &mut stdout.lock()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("sysmon-exporter backtest: {e}");
                ExitCode::from(EXIT_USAGE)
            }
        };
    }
    let listen = match listen_plan(&cli) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("sysmon-exporter: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    // Checked before anything starts: a bad web configuration is a usage error.
    let web = match web::Web::new(cli.web_config_file.as_deref(), web_limits(&cli)) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("sysmon-exporter: invalid --web.config.file: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let slots = match build_collectors(&cli, &settings) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("sysmon-exporter: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let store = match Store::open(&settings.storage_path, settings.retention) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            // The error names the directory (or the file in it) and what went wrong.
            eprintln!("sysmon-exporter: storage path: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };

    // Two workers are plenty: serving copies bytes, and collectors run on the blocking pool.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(64)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sysmon-exporter: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(cli, settings, listen, slots, store, web))
}

fn web_limits(cli: &Cli) -> web::Limits {
    web::Limits {
        max_requests: cli.web_max_requests,
        max_connections: cli.web_max_connections,
        max_streams: cli.web_max_streams,
        header_read_timeout: cli.web_header_read_timeout,
        idle_timeout: cli.web_idle_timeout,
    }
}

fn build_collectors(cli: &Cli, settings: &config::Settings) -> Result<Vec<Slot>, String> {
    let roots = Roots {
        procfs: cli.procfs.clone(),
        sysfs: cli.sysfs.clone(),
        rootfs: cli.rootfs.clone(),
    };
    let ctx = BuildContext {
        roots: &roots,
        cli,
        settings,
    };
    cli.enabled_collectors
        .iter()
        .map(|name| {
            let reg =
                collector::registration(name).expect("enabled collectors come from the registry");
            (reg.build)(&ctx)
                .map(|c| {
                    Slot::new(reg.name, c)
                        .with_cadence(reg.cadence)
                        .with_isolation(reg.isolation)
                })
                .map_err(|e| format!("collector {name}: {e}"))
        })
        .collect()
}

/// Where to accept connections: the addresses to bind, or the sockets systemd passed.
enum Listen {
    Bind(Vec<SocketAddr>),
    Activated(Vec<std::net::TcpListener>),
}

/// `--web.systemd-socket` takes systemd's sockets (and ignores `--web.listen-address`, as
/// node_exporter does); otherwise every `--web.listen-address` is bound. Checked before anything
/// starts: an unusable address or missing sockets are usage errors.
fn listen_plan(cli: &Cli) -> Result<Listen, String> {
    if cli.systemd_socket {
        return web::activation::listeners()
            .map(Listen::Activated)
            .map_err(|e| format!("--web.systemd-socket: {e}"));
    }
    let mut addrs = Vec::with_capacity(cli.listen_addresses.len());
    for a in &cli.listen_addresses {
        let addr = parse_listen_address(a).map_err(|e| format!("--web.listen-address: {e}"))?;
        if !addrs.contains(&addr) {
            addrs.push(addr);
        }
    }
    Ok(Listen::Bind(addrs))
}

/// node_exporter's address syntax: ":10101" listens on every interface, "host:port" on one.
fn parse_listen_address(s: &str) -> Result<SocketAddr, String> {
    let with_host = if s.starts_with(':') {
        format!("[::]{s}")
    } else {
        s.to_string()
    };
    with_host
        .parse::<SocketAddr>()
        .map_err(|_| format!("expected [host]:port such as :10101 or 127.0.0.1:10101, found {s:?}"))
}

async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    match tokio::net::TcpListener::bind(addr).await {
        // A host without IPv6 cannot bind "[::]": fall back to every IPv4 interface.
        Err(e) if addr.ip().is_unspecified() && addr.is_ipv6() => {
            let v4 = SocketAddr::from(([0, 0, 0, 0], addr.port()));
            tokio::net::TcpListener::bind(v4).await.map_err(|_| e)
        }
        other => other,
    }
}

/// Binds (or adopts) every listener; the first failure stops the start.
async fn listeners(listen: Listen) -> Result<Vec<tokio::net::TcpListener>, String> {
    let mut out = Vec::new();
    match listen {
        Listen::Bind(addrs) => {
            for addr in addrs {
                let l = bind(addr)
                    .await
                    .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
                out.push(l);
            }
        }
        Listen::Activated(sockets) => {
            for s in sockets {
                let l = tokio::net::TcpListener::from_std(s)
                    .map_err(|e| format!("cannot use a socket systemd passed: {e}"))?;
                out.push(l);
            }
        }
    }
    Ok(out)
}

async fn run(
    cli: Cli,
    settings: config::Settings,
    listen: Listen,
    slots: Vec<Slot>,
    store: Arc<Store>,
    web: web::Web,
) -> ExitCode {
    let listeners = match listeners(listen).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    let local = listeners
        .iter()
        .filter_map(|l| l.local_addr().ok())
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let exporter_metrics = !cli.disable_exporter_metrics;
    let (snap_tx, snap_rx) = watch::channel(Arc::new(Snapshot::initial(exporter_metrics)));
    let (stop_tx, stop_rx) = watch::channel(false);

    // The anomaly engine continues the anomalies that were active at the last stop and numbers
    // new events after the journal's.
    let mut engine =
        Engine::new(settings.rules.clone(), store.next_id()).with_scores(store.scores());
    engine.adopt(store.active(), chrono::Utc::now());
    let reload = Arc::new(ReloadState::default());
    let hook = AnomalyHook::new(engine, store.clone(), Arc::clone(&reload));
    let sampler = Sampler::new(slots, settings.collector_timeout)
        .with_slow_interval(settings.slow_interval)
        .with_hook(Box::new(hook))
        .with_exporter_metrics(exporter_metrics);
    if let Some(file) = cli.config_file.clone() {
        tokio::spawn(reload_on_sighup(file, overrides_of(&cli), reload));
    }
    let sampler = match sampler.spawn(settings.interval, snap_tx) {
        Ok(handle) => handle,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the sampler thread");
            return ExitCode::FAILURE;
        }
    };

    let state = server::AppState {
        snapshots: snap_rx,
        interval: settings.interval,
        telemetry_path: cli.telemetry_path.clone(),
        known_collectors: collector::REGISTRY.iter().map(|r| r.name).collect(),
        anomalies: Some(Arc::clone(&store)),
    };
    tracing::info!(
        address = %local,
        collectors = %cli.enabled_collectors.join(","),
        interval = %humantime::format_duration(settings.interval),
        version = sysmon_exporter::self_metrics::VERSION,
        scheme = web.scheme(),
        basic_auth = web.basic_auth(),
        "listening"
    );
    let serve = web.serve(listeners, server::router(state), stop_rx.clone());
    let server_task = tokio::spawn(serve);

    wait_for_signal().await;
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    // Ends the open event streams, which would otherwise hold the graceful shutdown forever.
    store.close_stream();
    // The sample in progress finishes (its anomaly events are journaled) before the exit.
    tokio::task::spawn_blocking(move || sampler.stop())
        .await
        .ok();
    match server_task.await {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            tracing::error!(error = %e, "server error");
            ExitCode::FAILURE
        }
        Err(_) => ExitCode::FAILURE,
    }
}

fn overrides_of(cli: &Cli) -> config::Overrides {
    config::Overrides {
        interval: cli.sampler_interval,
        collector_timeout: cli.collector_timeout,
        slow_interval: cli.slow_interval,
        storage_path: cli.storage_path.clone(),
    }
}

/// SIGHUP re-reads the configuration file and hands its anomaly rules to the engine. A file with
/// an error keeps the running rules, says why in the log, and sets
/// `sysmon_config_last_reload_successful` to 0. Other settings (interval, storage) need a restart.
async fn reload_on_sighup(
    file: std::path::PathBuf,
    overrides: config::Overrides,
    reload: Arc<ReloadState>,
) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot watch SIGHUP; rules reload only on restart");
        return;
    };
    while hup.recv().await.is_some() {
        match config::load(Some(&file), &overrides) {
            Ok(settings) => {
                tracing::info!(file = %file.display(), "configuration reloaded");
                reload.succeeded(settings.rules);
            }
            Err(e) => {
                tracing::error!(error = %e, "configuration reload failed; keeping the running rules");
                reload.failed();
            }
        }
    }
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch SIGTERM; only SIGINT stops the exporter");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
