//! `meminfo`: memory statistics from /proc/meminfo.
//!
//! PLACEHOLDER: being written; emits nothing yet.

use super::{BuildContext, CollectError, Collector, Registration};
use crate::metrics::MetricSet;

pub const REGISTRATION: Registration = Registration {
    name: "meminfo",
    default_enabled: true,
    help: "memory statistics from /proc/meminfo",
    build,
};

fn build(_ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(Placeholder))
}

struct Placeholder;

impl Collector for Placeholder {
    fn collect(&self, _out: &mut MetricSet) -> Result<(), CollectError> {
        Ok(())
    }
}
