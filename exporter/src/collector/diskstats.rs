//! `diskstats`: block device I/O statistics from /proc/diskstats.
//!
//! PLACEHOLDER: being written; emits nothing yet.

use super::{BuildContext, CollectError, Collector, Registration};
use crate::metrics::MetricSet;

pub const REGISTRATION: Registration = Registration {
    name: "diskstats",
    default_enabled: true,
    help: "block device I/O statistics from /proc/diskstats",
    build,
};

pub const DEFAULT_DEVICE_EXCLUDE: &str = r"^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$";

/// Flags of the `diskstats` collector.
#[derive(Debug, Clone, clap::Args)]
#[group(id = "diskstats_flags")]
#[command(next_help_heading = "Collector diskstats")]
pub struct Args {
    /// Regexp of block devices to exclude (default excludes partitions, ram, loop and floppy devices).
    #[arg(long = "collector.diskstats.device-exclude", value_name = "REGEX", default_value = DEFAULT_DEVICE_EXCLUDE, conflicts_with = "diskstats_device_include")]
    pub device_exclude: String,
    /// Regexp of block devices to include (replaces the exclusion).
    #[arg(long = "collector.diskstats.device-include", value_name = "REGEX", id = "diskstats_device_include")]
    pub device_include: Option<String>,
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
