//! `cpu`: per-CPU time in each mode from /proc/stat.
//!
//! PLACEHOLDER: being written; emits nothing yet.

use super::{BuildContext, CollectError, Collector, Registration};
use crate::metrics::MetricSet;

pub const REGISTRATION: Registration = Registration {
    name: "cpu",
    default_enabled: true,
    help: "per-CPU time in each mode from /proc/stat",
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
