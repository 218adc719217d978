//! `hwmon`: temperatures, fans, voltages, currents and power from /sys/class/hwmon.
//!
//! PLACEHOLDER: being written; emits nothing yet.

use super::{BuildContext, CollectError, Collector, Registration};
use crate::metrics::MetricSet;

pub const REGISTRATION: Registration = Registration {
    name: "hwmon",
    default_enabled: true,
    help: "temperatures, fans, voltages, currents and power from /sys/class/hwmon",
    build,
};


/// Flags of the `hwmon` collector.
#[derive(Debug, Clone, clap::Args)]
#[group(id = "hwmon_flags")]
#[command(next_help_heading = "Collector hwmon")]
pub struct Args {
    /// Regexp of hwmon chips to include.
    #[arg(long = "collector.hwmon.chip-include", value_name = "REGEX")]
    pub chip_include: Option<String>,
    /// Regexp of hwmon chips to exclude.
    #[arg(long = "collector.hwmon.chip-exclude", value_name = "REGEX")]
    pub chip_exclude: Option<String>,
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
