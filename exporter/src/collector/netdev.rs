//! `netdev`: network interface statistics from /proc/net/dev.
//!
//! PLACEHOLDER: being written; emits nothing yet.

use super::{BuildContext, CollectError, Collector, Registration};
use crate::metrics::MetricSet;

pub const REGISTRATION: Registration = Registration {
    name: "netdev",
    default_enabled: true,
    help: "network interface statistics from /proc/net/dev",
    build,
};


/// Flags of the `netdev` collector.
#[derive(Debug, Clone, clap::Args)]
#[group(id = "netdev_flags")]
#[command(next_help_heading = "Collector netdev")]
pub struct Args {
    /// Regexp of network interfaces to include (mutually exclusive with device-exclude).
    #[arg(long = "collector.netdev.device-include", value_name = "REGEX", conflicts_with = "netdev_device_exclude")]
    pub device_include: Option<String>,
    /// Regexp of network interfaces to exclude (mutually exclusive with device-include).
    #[arg(long = "collector.netdev.device-exclude", value_name = "REGEX", id = "netdev_device_exclude")]
    pub device_exclude: Option<String>,
}

fn build(_ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(Placeholder))
}

struct Placeholder;

impl Collector for Placeholder {
    fn collect(&self, _out: &mut MetricSet) -> Result<(), CollectError> {
        Ok(())
    }
}
