//! `meminfo`: every line of `<procfs>/meminfo` as a `node_memory_*` gauge.
//!
//! Hand-parsed rather than through procfs-core's `Meminfo`: that struct has a fixed set of fields,
//! and node_exporter exports every line the kernel prints (new kernels add fields). Names keep the
//! kernel's spelling, as node_exporter's do: `Active(anon)` becomes `node_memory_Active_anon_bytes`,
//! lines in kB get a `_bytes` suffix and their value times 1024, lines without a unit
//! (`HugePages_Total`, …) are exported as they are.

use super::kept_open::KeptOpen;
use super::{read_string, BuildContext, CollectError, Collector, Registration, Roots};
use crate::anomaly::signals::Readings;
use crate::metrics::MetricSet;

pub const REGISTRATION: Registration = Registration {
    name: "meminfo",
    default_enabled: true,
    help: "memory statistics from /proc/meminfo",
    flags: super::no_flags,
    // The anomaly rules' memory readings are taken every sample by `signals`.
    cadence: super::Cadence::Slow,
    isolation: super::Isolation::Inline,
    build,
};

fn build(ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(MeminfoCollector {
        roots: ctx.roots.clone(),
        kept: KeptOpen::new(ctx.roots.proc("meminfo")),
    }))
}

pub struct MeminfoCollector {
    roots: Roots,
    /// /proc/meminfo for the signal readings.
    kept: KeptOpen,
}

/// MemTotal and MemAvailable in bytes, the two lines the anomaly rules read (either may be
/// missing: MemAvailable is absent before Linux 3.14).
pub fn total_and_available(text: &str) -> (Option<f64>, Option<f64>) {
    let kb = |rest: &str| -> Option<f64> {
        let mut parts = rest.split_whitespace();
        let n: u64 = parts.next()?.parse().ok()?;
        (parts.next() == Some("kB")).then_some(n as f64 * 1024.0)
    };
    let (mut total, mut available) = (None, None);
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("MemTotal:") {
            total = kb(rest);
        } else if let Some(rest) = line.strip_prefix("MemAvailable:") {
            available = kb(rest);
        }
        if total.is_some() && available.is_some() {
            break;
        }
    }
    (total, available)
}

/// One exported meminfo line: the kernel's field name, the metric name suffix and the value.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// As the kernel spells it, e.g. `Active(anon)`.
    pub kernel_name: String,
    /// The part after `node_memory_`, e.g. `Active_anon_bytes`.
    pub metric: String,
    /// Bytes for kB lines, the plain number otherwise.
    pub value: f64,
}

/// The metric name part for a kernel field name, as node_exporter builds it: a parenthesised
/// part becomes `_part` (`Active(anon)` → `Active_anon`). Any other character that is not valid
/// in a metric name (none in today's kernels) becomes `_`, so a new field cannot break the output.
fn metric_name(field: &str) -> String {
    let joined = match (field.find('('), field.rfind(')')) {
        (Some(open), Some(close)) if open < close => {
            format!(
                "{}_{}{}",
                &field[..open],
                &field[open + 1..close],
                &field[close + 1..]
            )
        }
        _ => field.to_string(),
    };
    joined
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Parses /proc/meminfo (`Name:   value [kB]` per line). Blank lines are skipped (some old
/// kernels print one). Any other line that does not have this shape fails the whole file, as in
/// node_exporter, with the line number. A field that appears twice keeps its last value.
pub fn parse(text: &str) -> Result<Vec<Field>, String> {
    let mut fields: Vec<Field> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let lineno = index + 1;
        let parts: Vec<&str> = line.split_whitespace().collect();
        let (name, value, unit) = match parts[..] {
            [] => continue,
            [name, value] => (name, value, None),
            [name, value, unit] => (name, value, Some(unit)),
            _ => {
                return Err(format!(
                    "line {lineno}: expected \"Name: value [kB]\", found {line:?}"
                ))
            }
        };
        let Some(kernel_name) = name.strip_suffix(':').filter(|n| !n.is_empty()) else {
            return Err(format!(
                "line {lineno}: expected a field name ending in ':', found {name:?}"
            ));
        };
        let number: u64 = value.parse().map_err(|_| {
            format!("line {lineno}: {kernel_name}: expected an unsigned integer, found {value:?}")
        })?;
        let (metric, value) = match unit {
            None => (metric_name(kernel_name), number as f64),
            Some("kB") => (
                format!("{}_bytes", metric_name(kernel_name)),
                number as f64 * 1024.0,
            ),
            Some(other) => {
                return Err(format!(
                    "line {lineno}: {kernel_name}: expected the unit kB, found {other:?}"
                ))
            }
        };
        let field = Field {
            kernel_name: kernel_name.to_string(),
            metric,
            value,
        };
        match fields.iter_mut().find(|f| f.metric == field.metric) {
            Some(existing) => *existing = field,
            None => fields.push(field),
        }
    }
    Ok(fields)
}

impl Collector for MeminfoCollector {
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        self.kept.reopen();
        let path = self.roots.proc("meminfo");
        let text = read_string(&path)?;
        let fields = parse(&text).map_err(|message| CollectError::parse(&path, message))?;
        for f in fields {
            let help = format!(
                "Memory information field {} from /proc/meminfo.",
                f.kernel_name
            );
            out.gauge(&format!("node_memory_{}", f.metric), &help)
                .sample(&[], f.value);
        }
        Ok(())
    }

    fn reads_signals(&self) -> bool {
        true
    }

    fn full_run_has_signals(&self) -> bool {
        true
    }

    fn signals(&self, readings: &mut Readings) -> Result<(), CollectError> {
        (readings.memory_total_bytes, readings.memory_available_bytes) =
            self.kept.read(total_and_available)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str) -> Vec<(String, f64)> {
        parse(text)
            .unwrap()
            .into_iter()
            .map(|f| (f.metric, f.value))
            .collect()
    }

    #[test]
    fn the_signal_lines_agree_with_the_full_parse() {
        let text = "MemTotal:       16065520 kB\nMemFree:  100 kB\nMemAvailable:    9876543 kB\n";
        let full = values(text);
        let (total, available) = total_and_available(text);
        assert_eq!(total, Some(full[0].1));
        assert_eq!(available, Some(full[2].1));
        assert_eq!(total_and_available("MemTotal: x kB\n"), (None, None));
    }

    #[test]
    fn converts_kb_and_keeps_unitless_lines() {
        let text = "\
MemTotal:       16065520 kB
Active(anon):    4321108 kB
Inactive(file):  2687310 kB
NFS_Unstable:          0 kB
VmallocTotal:   34359738367 kB
HugePages_Total:       4
Hugepagesize:       2048 kB
";
        assert_eq!(
            values(text),
            vec![
                ("MemTotal_bytes".to_string(), 16065520.0 * 1024.0),
                ("Active_anon_bytes".to_string(), 4321108.0 * 1024.0),
                ("Inactive_file_bytes".to_string(), 2687310.0 * 1024.0),
                ("NFS_Unstable_bytes".to_string(), 0.0),
                ("VmallocTotal_bytes".to_string(), 34359738367.0 * 1024.0),
                ("HugePages_Total".to_string(), 4.0),
                ("Hugepagesize_bytes".to_string(), 2097152.0),
            ]
        );
        let f = &parse("Active(anon):    1 kB\n").unwrap()[0];
        assert_eq!(f.kernel_name, "Active(anon)");
    }

    #[test]
    fn names_are_sanitised() {
        assert_eq!(metric_name("Active(file)"), "Active_file");
        assert_eq!(metric_name("Committed_AS"), "Committed_AS");
        assert_eq!(metric_name("Odd-Name.x"), "Odd_Name_x");
        assert_eq!(metric_name("Weird)(order"), "Weird__order");
    }

    #[test]
    fn copes_with_blank_lines_duplicates_and_huge_values() {
        let text = "\nMemFree: 10 kB\n\nMemFree: 20 kB\nCommitted_AS: 18446744073709551615 kB\n";
        assert_eq!(
            values(text),
            vec![
                ("MemFree_bytes".to_string(), 20480.0),
                ("Committed_AS_bytes".to_string(), u64::MAX as f64 * 1024.0)
            ]
        );
    }

    #[test]
    fn rejects_malformed_lines() {
        assert_eq!(
            parse("MemTotal: 1 kB\nCached:   abc kB\n").unwrap_err(),
            "line 2: Cached: expected an unsigned integer, found \"abc\""
        );
        assert!(parse("MemTotal:\n").unwrap_err().contains("line 1"));
        assert!(parse("MemTotal: 1 kB extra\n").is_err());
        assert!(parse("MemTotal 1 kB\n")
            .unwrap_err()
            .contains("ending in ':'"));
        assert!(parse(": 1 kB\n").is_err());
        assert!(parse("MemTotal: -1 kB\n").is_err());
        assert!(parse("MemTotal: 1 MB\n").unwrap_err().contains("unit kB"));
        assert_eq!(parse(""), Ok(vec![]));
    }
}
