//! `loadavg`: the 1, 5 and 15 minute load averages from `<procfs>/loadavg`.

use super::kept_open::KeptOpen;
use super::{read_string, BuildContext, CollectError, Collector, Registration, Roots};
use crate::anomaly::signals::Readings;
use crate::metrics::MetricSet;

pub const REGISTRATION: Registration = Registration {
    name: "loadavg",
    default_enabled: true,
    help: "load averages from /proc/loadavg",
    flags: super::no_flags,
    // The anomaly rules' load reading is taken every sample by `signals`.
    cadence: super::Cadence::Slow,
    isolation: super::Isolation::Inline,
    build,
};

fn build(ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(LoadavgCollector {
        roots: ctx.roots.clone(),
        kept: KeptOpen::new(ctx.roots.proc("loadavg")),
    }))
}

pub struct LoadavgCollector {
    roots: Roots,
    /// /proc/loadavg for the signal readings.
    kept: KeptOpen,
}

/// Parses the first three fields of /proc/loadavg ("0.20 0.18 0.12 1/80 11206").
pub fn parse(text: &str) -> Option<[f64; 3]> {
    let mut fields = text.split_whitespace().map(|f| f.parse::<f64>().ok());
    let loads = [fields.next()??, fields.next()??, fields.next()??];
    loads
        .iter()
        .all(|l| l.is_finite() && *l >= 0.0)
        .then_some(loads)
}

impl Collector for LoadavgCollector {
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        self.kept.reopen();
        let path = self.roots.proc("loadavg");
        let text = read_string(&path)?;
        let [l1, l5, l15] = parse(&text).ok_or_else(|| {
            CollectError::parse(
                &path,
                format!("expected three load averages, found {:?}", text.trim()),
            )
        })?;
        out.gauge("node_load1", "1m load average.").sample(&[], l1);
        out.gauge("node_load5", "5m load average.").sample(&[], l5);
        out.gauge("node_load15", "15m load average.")
            .sample(&[], l15);
        Ok(())
    }

    fn reads_signals(&self) -> bool {
        true
    }

    fn full_run_has_signals(&self) -> bool {
        true
    }

    fn signals(&self, readings: &mut Readings) -> Result<(), CollectError> {
        readings.load1 = self.kept.read(parse)?.map(|[l1, _, _]| l1);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn parses_kernel_format() {
        assert_eq!(
            parse("0.20 0.18 0.12 1/80 11206\n"),
            Some([0.20, 0.18, 0.12])
        );
        assert_eq!(parse("12.5 3 0.00 4/1200 1\n"), Some([12.5, 3.0, 0.0]));
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(parse(""), None);
        assert_eq!(parse("0.20 0.18"), None);
        assert_eq!(parse("0.20 abc 0.12 1/80 1"), None);
        assert_eq!(parse("-1 0 0 1/80 1"), None);
        assert_eq!(parse("NaN 0 0 1/80 1"), None);
    }
}
