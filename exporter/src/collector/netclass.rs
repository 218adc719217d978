//! `netclass`: network interface state from /sys/class/net.
//!
//! PLACEHOLDER: being written; emits nothing yet.

use super::{BuildContext, CollectError, Collector, Registration};
use crate::metrics::MetricSet;

pub const REGISTRATION: Registration = Registration {
    name: "netclass",
    default_enabled: true,
    help: "network interface state from /sys/class/net",
    build,
};


/// Flags of the `netclass` collector.
#[derive(Debug, Clone, clap::Args)]
#[group(id = "netclass_flags")]
#[command(next_help_heading = "Collector netclass")]
pub struct Args {
    /// Regexp of network interfaces to ignore in the netclass collector.
    #[arg(long = "collector.netclass.ignored-devices", value_name = "REGEX", default_value = "^$")]
    pub ignored_devices: String,
    /// Ignore interfaces that are not operationally up, or down.
    #[arg(long = "collector.netclass.ignore-invalid-speed")]
    pub ignore_invalid_speed: bool,
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
