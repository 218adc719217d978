//! Logging setup: `--log.level` and `--log.format=logfmt|json`, on standard error.

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// `level` is one of `--log.level`'s values (checked by the flag parser; anything else logs at
/// info). hyper and axum log at most warnings: their info and debug lines are per connection.
pub fn init(level: &str, format: &str) {
    let level = match level {
        "debug" => LevelFilter::DEBUG,
        "warn" => LevelFilter::WARN,
        "error" => LevelFilter::ERROR,
        _ => LevelFilter::INFO,
    };
    // A plain target filter rather than an `EnvFilter`: the latter parses directives with a
    // regular expression engine, some 500 KiB of code resident in every exporter for one fixed
    // filter (docs/performance.md).
    let libraries = level.min(LevelFilter::WARN);
    let filter = Targets::new()
        .with_default(level)
        .with_target("hyper", libraries)
        .with_target("axum", libraries);
    let layer = match format {
        "json" => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .boxed(),
        _ => tracing_logfmt::builder()
            .layer()
            .with_writer(std::io::stderr)
            .boxed(),
    };
    let _ = tracing_subscriber::registry()
        .with(layer.with_filter(filter))
        .try_init();
}
