//! Logging setup: `--log.level` and `--log.format=logfmt|json`, on standard error.

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

pub fn init(level: &str, format: &str) {
    let filter = EnvFilter::new(format!("{level},hyper=warn,axum=warn"));
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
