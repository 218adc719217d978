//! The metric model collectors fill in, and its two exposition formats.
//!
//! Collectors produce a fresh set of families every sample, with label sets that come and go with
//! the machine (a USB stick, a mount, a network interface). That is a snapshot, not a set of
//! long-lived instruments, so instead of a client-library registry the exporter keeps this small
//! model and encodes it once per sample into both the Prometheus text format 0.0.4 and
//! OpenMetrics 1.0. See the README's "Dependencies" section for why no client library is used here.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Metric type, as announced in the `# TYPE` line.
///
/// The host collectors use counters and gauges. `Untyped`, `Histogram` and `Summary` carry what the
/// `textfile` collector reads from other programs' files (`untyped` is OpenMetrics' `unknown`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricType {
    Counter,
    Gauge,
    Untyped,
    Histogram,
    Summary,
}

impl MetricType {
    fn as_str(self, format: Format) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Untyped => match format {
                Format::Text => "untyped",
                Format::OpenMetrics => "unknown",
            },
            MetricType::Histogram => "histogram",
            MetricType::Summary => "summary",
        }
    }
}

/// A label name: fixed by the code (`Cow::Borrowed`) for the host collectors, read from a file
/// (`Cow::Owned`) for the textfile collector.
pub type LabelName = Cow<'static, str>;

/// Which series of its family a sample is. Counters, gauges and untyped families only have
/// [`Part::Value`]; a histogram is buckets, a sum and a count; a summary is quantiles, a sum and a
/// count. The bound of a bucket or quantile is kept as a number, because the two formats write it
/// differently (`le="1"` in text 0.0.4, `le="1.0"` in OpenMetrics, as the Go client does).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Part {
    /// The family's own name.
    #[default]
    Value,
    /// `<name>_bucket{le="<bound>"}`: the cumulative count of observations up to the bound.
    Bucket(f64),
    /// `<name>{quantile="<q>"}`.
    Quantile(f64),
    /// `<name>_sum`.
    Sum,
    /// `<name>_count`.
    Count,
}

/// One sample: its label pairs (names are fixed by the code, values come from the machine) and value.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sample {
    pub labels: Vec<(LabelName, String)>,
    pub value: f64,
    pub part: Part,
}

/// A metric family: every sample that shares a name.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricFamily {
    pub name: String,
    pub help: String,
    pub kind: MetricType,
    pub samples: Vec<Sample>,
}

impl MetricFamily {
    /// Adds a sample. Label values are copied; label names must be valid Prometheus label names.
    pub fn sample(&mut self, labels: &[(&'static str, &str)], value: f64) -> &mut Self {
        self.samples.push(Sample {
            labels: labels
                .iter()
                .map(|(k, v)| (Cow::Borrowed(*k), (*v).to_string()))
                .collect(),
            value,
            part: Part::Value,
        });
        self
    }
}

impl MetricFamily {
    /// Every name this family takes in either exposition format: its own name, the OpenMetrics
    /// family name of a counter (without `_total`) and the name of its counter samples (with it),
    /// and the `_bucket`, `_sum` and `_count` series of a histogram or summary. Two families that
    /// share one of these names cannot both be served: a parser would read one's samples as the
    /// other's, or see the family announced twice.
    pub fn exposition_names(&self) -> Vec<Cow<'_, str>> {
        let name = self.name.as_str();
        let mut names = vec![Cow::Borrowed(name)];
        let with = |suffix: &str| Cow::Owned(format!("{name}{suffix}"));
        match self.kind {
            MetricType::Counter => names.push(match name.strip_suffix("_total") {
                Some(base) => Cow::Borrowed(base),
                None => with("_total"),
            }),
            MetricType::Gauge | MetricType::Untyped => {}
            MetricType::Histogram => names.extend([with("_bucket"), with("_sum"), with("_count")]),
            MetricType::Summary => names.extend([with("_sum"), with("_count")]),
        }
        names
    }
}

/// What one collector produced in one sample: families in the order they were first named.
#[derive(Debug, Default, Clone)]
pub struct MetricSet {
    pub families: Vec<MetricFamily>,
}

impl MetricSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// The gauge family `name`, created on first use. Later calls with the same name return the
    /// same family, so a collector can add samples for one chip or device at a time.
    pub fn gauge(&mut self, name: &str, help: &str) -> &mut MetricFamily {
        self.family(name, help, MetricType::Gauge)
    }

    /// The counter family `name` (which, like node_exporter's, should end in `_total`).
    pub fn counter(&mut self, name: &str, help: &str) -> &mut MetricFamily {
        self.family(name, help, MetricType::Counter)
    }

    pub fn family(&mut self, name: &str, help: &str, kind: MetricType) -> &mut MetricFamily {
        // Families per collector are few (tens), so a linear search beats hashing here.
        let index = match self.families.iter().position(|f| f.name == name) {
            Some(i) => i,
            None => {
                self.families.push(MetricFamily {
                    name: name.to_string(),
                    help: help.to_string(),
                    kind,
                    samples: Vec::new(),
                });
                self.families.len() - 1
            }
        };
        &mut self.families[index]
    }

    /// Looks a family up by name (used by tests and by consumers of the snapshot).
    pub fn get(&self, name: &str) -> Option<&MetricFamily> {
        self.families.iter().find(|f| f.name == name)
    }

    /// Number of samples over all families.
    pub fn sample_count(&self) -> usize {
        self.families.iter().map(|f| f.samples.len()).sum()
    }
}

/// The two exposition formats the exporter serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `text/plain; version=0.0.4`
    Text,
    /// `application/openmetrics-text; version=1.0.0`
    OpenMetrics,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// Encodes families into `out`. OpenMetrics output has no `# EOF` here: the caller appends it once
/// after the last family, because one response is built from several collectors' encodings.
pub fn encode(families: &[MetricFamily], format: Format, out: &mut String) {
    for fam in families {
        if fam.samples.is_empty() {
            continue;
        }
        // OpenMetrics names a counter family without its `_total` suffix, and every counter
        // sample carries it.
        let (family_name, value_suffix) = match (format, fam.kind) {
            (Format::OpenMetrics, MetricType::Counter) => (
                fam.name.strip_suffix("_total").unwrap_or(&fam.name),
                "_total",
            ),
            _ => (fam.name.as_str(), ""),
        };
        out.push_str("# HELP ");
        out.push_str(family_name);
        out.push(' ');
        match format {
            Format::Text => escape_help_text(&fam.help, out),
            Format::OpenMetrics => escape_label_value(&fam.help, out),
        }
        out.push('\n');
        out.push_str("# TYPE ");
        out.push_str(family_name);
        out.push(' ');
        out.push_str(fam.kind.as_str(format));
        out.push('\n');
        for s in &fam.samples {
            out.push_str(family_name);
            let (suffix, bound) = match s.part {
                Part::Value => (value_suffix, None),
                Part::Bucket(le) => ("_bucket", Some(("le", le))),
                Part::Quantile(q) => ("", Some(("quantile", q))),
                Part::Sum => ("_sum", None),
                Part::Count => ("_count", None),
            };
            out.push_str(suffix);
            if !s.labels.is_empty() || bound.is_some() {
                out.push('{');
                for (i, (k, v)) in s.labels.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(k);
                    out.push_str("=\"");
                    escape_label_value(v, out);
                    out.push('"');
                }
                if let Some((name, bound)) = bound {
                    if !s.labels.is_empty() {
                        out.push(',');
                    }
                    out.push_str(name);
                    out.push_str("=\"");
                    push_go_float(bound, format, out);
                    out.push('"');
                }
                out.push('}');
            }
            out.push(' ');
            push_value(s.value, out);
            out.push('\n');
        }
    }
}

/// Writes a bucket bound or quantile as the Go client library does, so the label value is the same
/// string node_exporter serves: `strconv.FormatFloat(v, 'g', -1, 64)` in text 0.0.4 (`1`, `0.25`,
/// `1e+06`), with `.0` added when that has neither a point nor an exponent in OpenMetrics (`1.0`).
pub fn push_go_float(v: f64, format: Format, out: &mut String) {
    if v.is_nan() {
        out.push_str("NaN");
        return;
    }
    if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
        return;
    }
    let start = out.len();
    if v == 0.0 {
        // Also -0: Go's writer tests `f == 0` first.
        out.push('0');
    } else {
        // Shortest digits that read back to `v`; Go's 'g' switches to the exponent form when the
        // decimal exponent is below -4 or at least 6 (its shortest-form precision), and writes the
        // exponent with a sign and at least two digits.
        let sci = format!("{v:e}");
        let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        if (-4..6).contains(&exp) {
            let _ = write!(out, "{v}");
        } else {
            let _ = write!(
                out,
                "{mantissa}e{}{:02}",
                if exp < 0 { '-' } else { '+' },
                exp.unsigned_abs()
            );
        }
    }
    if format == Format::OpenMetrics && !out[start..].contains(['.', 'e']) {
        out.push_str(".0");
    }
}

/// Writes a float the way Prometheus' parsers read it: integers without a fraction, `+Inf`,
/// `-Inf`, `NaN`, plain decimals in the everyday range and exponent form outside it, always the
/// shortest form that reads back to the same float.
pub fn push_value(v: f64, out: &mut String) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v == v.trunc() && v.abs() < 1e15 {
        // Most values are whole numbers (counters, bytes): itoa writes them without the
        // formatting machinery.
        out.push_str(itoa::Buffer::new().format(v as i64));
    } else if (1e-4..1e15).contains(&v.abs()) {
        let _ = write!(out, "{v}");
    } else {
        let _ = write!(out, "{v:e}");
    }
}

/// Text format 0.0.4: HELP escapes backslash and newline only.
fn escape_help_text(s: &str, out: &mut String) {
    // Almost no text needs escaping: copied whole unless it does.
    if !s.bytes().any(|b| b == b'\\' || b == b'\n') {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Label values (both formats) and OpenMetrics HELP escape backslash, double quote and newline.
fn escape_label_value(s: &str, out: &mut String) {
    if !s.bytes().any(|b| b == b'\\' || b == b'"' || b == b'\n') {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_set() -> MetricSet {
        let mut set = MetricSet::new();
        set.counter(
            "node_cpu_seconds_total",
            "Seconds the CPUs spent in each mode.",
        )
        .sample(&[("cpu", "0"), ("mode", "idle")], 1234.5)
        .sample(&[("cpu", "0"), ("mode", "user")], 17.0);
        set.gauge("node_load1", "1m load average.")
            .sample(&[], 0.25);
        set.gauge("node_hwmon_sensor_label", "Label for given chip and sensor")
            .sample(&[("label", "Core \"0\"\\x\n")], 1.0);
        set
    }

    #[test]
    fn text_format_matches_prometheus_exposition() {
        let mut out = String::new();
        encode(&sample_set().families, Format::Text, &mut out);
        assert_eq!(
            out,
            "# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.\n\
             # TYPE node_cpu_seconds_total counter\n\
             node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 1234.5\n\
             node_cpu_seconds_total{cpu=\"0\",mode=\"user\"} 17\n\
             # HELP node_load1 1m load average.\n\
             # TYPE node_load1 gauge\n\
             node_load1 0.25\n\
             # HELP node_hwmon_sensor_label Label for given chip and sensor\n\
             # TYPE node_hwmon_sensor_label gauge\n\
             node_hwmon_sensor_label{label=\"Core \\\"0\\\"\\\\x\\n\"} 1\n"
        );
    }

    #[test]
    fn openmetrics_counter_family_drops_total_suffix() {
        let mut out = String::new();
        encode(&sample_set().families, Format::OpenMetrics, &mut out);
        assert!(out.starts_with(
            "# HELP node_cpu_seconds Seconds the CPUs spent in each mode.\n\
             # TYPE node_cpu_seconds counter\n\
             node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 1234.5\n"
        ));
        let mut set = MetricSet::new();
        set.counter("odd_counter", "No suffix.").sample(&[], 1.0);
        let mut out = String::new();
        encode(&set.families, Format::OpenMetrics, &mut out);
        assert!(out.contains("# TYPE odd_counter counter\nodd_counter_total 1\n"));
    }

    #[test]
    fn special_values_and_empty_families() {
        let mut out = String::new();
        for v in [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -3.0,
            1e20,
            1.5e-7,
        ] {
            push_value(v, &mut out);
            out.push(' ');
        }
        assert_eq!(out, "NaN +Inf -Inf -3 1e20 1.5e-7 ");
        let mut set = MetricSet::new();
        set.gauge("empty", "nothing");
        let mut out = String::new();
        encode(&set.families, Format::Text, &mut out);
        assert!(out.is_empty(), "a family without samples is not announced");
    }

    #[test]
    fn same_name_reuses_family() {
        let mut set = MetricSet::new();
        set.gauge("a", "h").sample(&[("x", "1")], 1.0);
        set.gauge("b", "h").sample(&[], 1.0);
        set.gauge("a", "h").sample(&[("x", "2")], 2.0);
        assert_eq!(set.families.len(), 2);
        assert_eq!(set.get("a").unwrap().samples.len(), 2);
        assert_eq!(set.sample_count(), 3);
    }

    fn histogram_and_summary() -> MetricSet {
        let mut set = MetricSet::new();
        let fam = set.family("job_seconds", "Job durations.", MetricType::Histogram);
        for (part, v) in [
            (Part::Bucket(0.5), 1.0),
            (Part::Bucket(1.0), 3.0),
            (Part::Bucket(2.5e6), 4.0),
            (Part::Bucket(f64::INFINITY), 5.0),
            (Part::Sum, 7.25),
            (Part::Count, 5.0),
        ] {
            fam.samples.push(Sample {
                labels: vec![("job".into(), "a".to_string())],
                value: v,
                part,
            });
        }
        let fam = set.family("rpc", "RPC latency.", MetricType::Summary);
        for (part, v) in [
            (Part::Quantile(0.99), 0.5),
            (Part::Sum, 2.0),
            (Part::Count, 9.0),
        ] {
            fam.samples.push(Sample {
                labels: vec![],
                value: v,
                part,
            });
        }
        set.family("from_a_file", "Untyped.", MetricType::Untyped)
            .sample(&[], 1.0);
        set
    }

    #[test]
    fn histograms_summaries_and_untyped_in_both_formats() {
        let set = histogram_and_summary();
        let mut text = String::new();
        encode(&set.families, Format::Text, &mut text);
        assert_eq!(
            text,
            "# HELP job_seconds Job durations.\n\
             # TYPE job_seconds histogram\n\
             job_seconds_bucket{job=\"a\",le=\"0.5\"} 1\n\
             job_seconds_bucket{job=\"a\",le=\"1\"} 3\n\
             job_seconds_bucket{job=\"a\",le=\"2.5e+06\"} 4\n\
             job_seconds_bucket{job=\"a\",le=\"+Inf\"} 5\n\
             job_seconds_sum{job=\"a\"} 7.25\n\
             job_seconds_count{job=\"a\"} 5\n\
             # HELP rpc RPC latency.\n\
             # TYPE rpc summary\n\
             rpc{quantile=\"0.99\"} 0.5\n\
             rpc_sum 2\n\
             rpc_count 9\n\
             # HELP from_a_file Untyped.\n\
             # TYPE from_a_file untyped\n\
             from_a_file 1\n"
        );
        let mut om = String::new();
        encode(&set.families, Format::OpenMetrics, &mut om);
        assert!(
            om.contains("job_seconds_bucket{job=\"a\",le=\"1.0\"} 3\n"),
            "{om}"
        );
        assert!(
            om.contains("job_seconds_bucket{job=\"a\",le=\"+Inf\"} 5\n"),
            "{om}"
        );
        assert!(om.contains("rpc{quantile=\"0.99\"} 0.5\n"), "{om}");
        assert!(om.contains("# TYPE from_a_file unknown\n"), "{om}");
    }

    #[test]
    fn bounds_are_written_as_go_writes_them() {
        let go = |v: f64, format: Format| {
            let mut s = String::new();
            push_go_float(v, format, &mut s);
            s
        };
        for (v, text, om) in [
            (0.0, "0", "0.0"),
            (-0.0, "0", "0.0"),
            (1.0, "1", "1.0"),
            (-1.0, "-1", "-1.0"),
            (0.25, "0.25", "0.25"),
            (100000.0, "100000", "100000.0"),
            (1e6, "1e+06", "1e+06"),
            (1234567.0, "1.234567e+06", "1.234567e+06"),
            (0.0001, "0.0001", "0.0001"),
            (0.00001, "1e-05", "1e-05"),
            (1.5e-300, "1.5e-300", "1.5e-300"),
            (f64::INFINITY, "+Inf", "+Inf"),
            (f64::NEG_INFINITY, "-Inf", "-Inf"),
            (f64::NAN, "NaN", "NaN"),
        ] {
            assert_eq!(go(v, Format::Text), text, "{v}");
            assert_eq!(go(v, Format::OpenMetrics), om, "{v}");
        }
    }

    #[test]
    fn exposition_names_cover_both_formats() {
        let names = |name: &str, kind| {
            let f = MetricFamily {
                name: name.to_string(),
                help: String::new(),
                kind,
                samples: vec![],
            };
            f.exposition_names()
                .into_iter()
                .map(|n| n.into_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(names("x_total", MetricType::Counter), ["x_total", "x"]);
        assert_eq!(names("x", MetricType::Counter), ["x", "x_total"]);
        assert_eq!(names("x", MetricType::Gauge), ["x"]);
        assert_eq!(
            names("h", MetricType::Histogram),
            ["h", "h_bucket", "h_sum", "h_count"]
        );
        assert_eq!(names("s", MetricType::Summary), ["s", "s_sum", "s_count"]);
    }
}
