//! The Prometheus text exposition format (0.0.4), read the way node_exporter's textfile collector
//! reads it (`expfmt.TextParser` of prometheus/common with legacy name validation), so a file that
//! node_exporter accepts is accepted here with the same samples, and a file it rejects is rejected.
//!
//! What the format allows and this parser follows:
//!
//! * Lines end with `\n` only; a non-blank last line without one is an error ("unexpected end of
//!   input"). A `\r` is part of the token it follows (so a CRLF file fails on its first value).
//! * `# HELP <name> <text>` (escapes `\\`, `\n`, `\"`) and `# TYPE <name> <type>` (counter, gauge,
//!   histogram, summary, untyped, gauge_histogram; any case). A second HELP or TYPE for a family,
//!   or a TYPE after the family's first sample, is an error. Other `#` lines are comments.
//! * `name{label="value",...} value [timestamp]`: label values escape `\\`, `\"` and `\n` (any other
//!   escape is an error) and must be UTF-8; `__name__` is reserved; a label name may not repeat;
//!   a trailing comma is allowed. Values are Go floats (`NaN`, `+Inf`, `-Inf`, `1e3`, `.5`; no hex,
//!   no `_`; out of range is an error); the timestamp is a base-10 integer and nothing may follow it
//!   (a blank after the value with no timestamp is an error too).
//! * A sample of a summary's or histogram's `_sum`/`_count` (and a histogram's `_bucket`) belongs to
//!   that family once its TYPE was given; `quantile`/`le` are parsed as floats and are not labels
//!   there; lines with the same other labels build one summary or histogram. Counts are read as
//!   unsigned integers (truncated; a negative or NaN count is 0 here, where Go's conversion is
//!   undefined).
//! * Families without samples are dropped.
//!
//! One deliberate difference: a label name starting with `__` is an error here. node_exporter's
//! parser accepts it and the exporter then panics building the metric (1.5 crashes on such a file).

use std::collections::HashMap;
use std::fmt;

use crate::metrics::MetricType;

/// A parse error: the line (1-based) and what was wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

/// One family of a file, in the order its name first appeared.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedFamily {
    pub name: String,
    /// The HELP text, unescaped; `None` without a HELP line.
    pub help: Option<String>,
    pub kind: MetricType,
    pub metrics: Vec<ParsedMetric>,
}

/// One metric (one label set) of a family.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedMetric {
    /// Label pairs in file order, without `quantile`/`le` of a summary/histogram.
    pub labels: Vec<(String, String)>,
    /// Client-side timestamp in milliseconds, if the (last) line of this metric had one.
    pub timestamp_ms: Option<i64>,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Counter, gauge or untyped.
    Single(f64),
    /// (quantile, value) pairs in file order.
    Summary {
        count: u64,
        sum: f64,
        quantiles: Vec<(f64, f64)>,
    },
    /// (upper bound, cumulative count) pairs in file order.
    Histogram {
        count: u64,
        sum: f64,
        buckets: Vec<(f64, u64)>,
    },
}

impl ParsedFamily {
    /// How many series this family adds to the output (a histogram's buckets plus `+Inf`, sum and
    /// count; a summary's quantiles plus sum and count).
    pub fn series(&self) -> usize {
        self.metrics
            .iter()
            .map(|m| match &m.value {
                Value::Single(_) => 1,
                Value::Summary { quantiles, .. } => quantiles.len() + 2,
                Value::Histogram { buckets, .. } => buckets.len() + 3,
            })
            .sum()
    }
}

impl ParsedMetric {
    /// The value of a counter, gauge or untyped metric.
    pub fn single(&self) -> Option<f64> {
        match self.value {
            Value::Single(v) => Some(v),
            _ => None,
        }
    }
}

/// The type a TYPE line may give. `gauge_histogram` is accepted (the Go parser knows the name) but
/// any sample of such a family is an error, as there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Known(MetricType),
    GaugeHistogram,
}

struct Family {
    name: String,
    help: Option<String>,
    kind: Option<Kind>,
    metrics: Vec<ParsedMetric>,
    /// Summary/histogram metrics by their label set (without `quantile`/`le`), sorted.
    by_labels: HashMap<Vec<(String, String)>, usize>,
}

/// What a sample line of a summary/histogram family feeds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Plain,
    Sum,
    Count,
}

struct Parser {
    families: Vec<Family>,
    by_name: HashMap<String, usize>,
    line: usize,
    samples: usize,
    max_samples: usize,
}

/// Parses a whole file. `max_samples` bounds the number of sample lines (the file is an error past
/// it), so a hostile file cannot make the exporter hold or serve unbounded series.
pub fn parse(input: &[u8], max_samples: usize) -> Result<Vec<ParsedFamily>, ParseError> {
    let mut p = Parser {
        families: Vec::new(),
        by_name: HashMap::new(),
        line: 0,
        samples: 0,
        max_samples,
    };
    let mut rest = input;
    loop {
        p.line += 1;
        match rest.iter().position(|&b| b == b'\n') {
            Some(end) => {
                p.parse_line(&rest[..end])?;
                rest = &rest[end + 1..];
            }
            None => {
                if rest.iter().any(|&b| !is_blank(b)) {
                    return Err(p.error("unexpected end of input (the last line has no newline)"));
                }
                break;
            }
        }
    }
    Ok(p.families
        .into_iter()
        .filter(|f| !f.metrics.is_empty())
        .map(|f| ParsedFamily {
            name: f.name,
            help: f.help,
            kind: match f.kind {
                Some(Kind::Known(k)) => k,
                // A family with samples always has a type; gauge_histogram ones cannot have any.
                _ => MetricType::Untyped,
            },
            metrics: f.metrics,
        })
        .collect())
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn skip_blanks(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&b| is_blank(b)).count();
    &s[n..]
}

fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b':'
}

fn is_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b':'
}

fn is_label_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_label_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Splits off the longest prefix made of `start` then `cont` bytes (empty if the first byte is not
/// a start byte). The prefix is ASCII, so it is valid UTF-8.
fn take_name(s: &[u8], start: fn(u8) -> bool, cont: fn(u8) -> bool) -> (&str, &[u8]) {
    let n = match s.first() {
        Some(&b) if start(b) => 1 + s[1..].iter().take_while(|&&b| cont(b)).count(),
        _ => 0,
    };
    (std::str::from_utf8(&s[..n]).unwrap_or(""), &s[n..])
}

/// Splits off a token up to the next blank (or the end of the line).
fn take_token(s: &[u8]) -> (&[u8], &[u8]) {
    let n = s.iter().take_while(|&&b| !is_blank(b)).count();
    (&s[..n], &s[n..])
}

fn show(bytes: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(bytes))
}

/// A float as Go's `strconv.ParseFloat` reads it after expfmt's filter (no `p`, `P` or `_`):
/// decimal with optional sign and exponent, or `[+-]Inf`/`[+-]Infinity` and `NaN` in any case.
/// Out-of-range values are an error (Go reports a range error where Rust saturates to infinity).
pub fn parse_go_float(token: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(token).ok()?;
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    let negative = s.starts_with('-');
    if unsigned.eq_ignore_ascii_case("inf") || unsigned.eq_ignore_ascii_case("infinity") {
        return Some(if negative {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if unsigned.eq_ignore_ascii_case("nan") {
        // Go takes no sign before NaN.
        return (unsigned.len() == s.len()).then_some(f64::NAN);
    }
    if unsigned.is_empty()
        || !unsigned
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return None;
    }
    let v: f64 = s.parse().ok()?;
    v.is_finite().then_some(v)
}

/// Reads a quoted label value after its opening `"`; returns the unescaped value and the rest after
/// the closing `"`.
fn take_label_value(s: &[u8]) -> Result<(Vec<u8>, &[u8]), String> {
    let mut value = Vec::new();
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'"' => return Ok((value, &s[i + 1..])),
            b'\\' => {
                match s.get(i + 1) {
                    Some(b'\\') => value.push(b'\\'),
                    Some(b'"') => value.push(b'"'),
                    Some(b'n') => value.push(b'\n'),
                    Some(&other) => {
                        return Err(format!(
                            "invalid escape sequence '\\{}' in label value",
                            other.escape_ascii()
                        ))
                    }
                    None => break,
                }
                i += 2;
            }
            b => {
                value.push(b);
                i += 1;
            }
        }
    }
    Err(format!(
        "label value {} is not closed on its line",
        show(&value)
    ))
}

fn strip_suffix_longer<'a>(name: &'a str, suffix: &str) -> Option<&'a str> {
    (name.len() > suffix.len())
        .then(|| name.strip_suffix(suffix))
        .flatten()
}

impl Parser {
    fn error(&self, message: impl Into<String>) -> ParseError {
        ParseError {
            line: self.line,
            message: message.into(),
        }
    }

    /// The family a name belongs to, created if new: the name itself, else the summary it is the
    /// `_sum`/`_count` of, else the histogram it is the `_sum`/`_count`/`_bucket` of.
    fn family_for(&mut self, name: &str) -> (usize, Role) {
        if let Some(&i) = self.by_name.get(name) {
            return (i, Role::Plain);
        }
        let role_of = |name: &str| {
            if strip_suffix_longer(name, "_count").is_some() {
                Role::Count
            } else if strip_suffix_longer(name, "_sum").is_some() {
                Role::Sum
            } else {
                Role::Plain
            }
        };
        let summary = strip_suffix_longer(name, "_count").or(strip_suffix_longer(name, "_sum"));
        if let Some(&i) = summary.and_then(|base| self.by_name.get(base)) {
            if self.families[i].kind == Some(Kind::Known(MetricType::Summary)) {
                return (i, role_of(name));
            }
        }
        let histogram = summary.or(strip_suffix_longer(name, "_bucket"));
        if let Some(&i) = histogram.and_then(|base| self.by_name.get(base)) {
            if self.families[i].kind == Some(Kind::Known(MetricType::Histogram)) {
                return (i, role_of(name));
            }
        }
        self.families.push(Family {
            name: name.to_string(),
            help: None,
            kind: None,
            metrics: Vec::new(),
            by_labels: HashMap::new(),
        });
        let i = self.families.len() - 1;
        self.by_name.insert(name.to_string(), i);
        (i, Role::Plain)
    }

    fn parse_line(&mut self, line: &[u8]) -> Result<(), ParseError> {
        let line = skip_blanks(line);
        match line.first() {
            None => Ok(()),
            Some(b'#') => self.comment(&line[1..]),
            Some(_) => self.sample(line),
        }
    }

    fn comment(&mut self, rest: &[u8]) -> Result<(), ParseError> {
        let rest = skip_blanks(rest);
        let (keyword, rest) = take_token(rest);
        if rest.is_empty() || (keyword != b"HELP" && keyword != b"TYPE") {
            // A plain comment, or a keyword alone on its line.
            return Ok(());
        }
        let rest = skip_blanks(rest);
        if rest.is_empty() {
            return Ok(());
        }
        let (name, rest) = take_name(rest, is_name_start, is_name_char);
        if rest.is_empty() {
            return Ok(());
        }
        if name.is_empty() || !is_blank(rest[0]) {
            return Err(self.error("invalid metric name in comment"));
        }
        let (index, _) = self.family_for(name);
        let rest = skip_blanks(rest);
        if rest.is_empty() {
            return Ok(());
        }
        if keyword == b"HELP" {
            if self.families[index].help.is_some() {
                return Err(self.error(format!("second HELP line for metric name {name:?}")));
            }
            let mut help = Vec::with_capacity(rest.len());
            let mut bytes = rest.iter();
            while let Some(&b) = bytes.next() {
                if b != b'\\' {
                    help.push(b);
                    continue;
                }
                match bytes.next() {
                    Some(b'\\') => help.push(b'\\'),
                    Some(b'n') => help.push(b'\n'),
                    Some(b'"') => help.push(b'"'),
                    Some(other) => {
                        return Err(self.error(format!(
                            "invalid escape sequence '\\{}' in HELP",
                            other.escape_ascii()
                        )))
                    }
                    // A backslash at the end of the line escapes the newline, which is not a
                    // valid escape.
                    None => return Err(self.error("invalid escape sequence at the end of HELP")),
                }
            }
            // Go keeps the bytes as they are; an exposition must be UTF-8, so invalid sequences
            // become U+FFFD rather than making the output unreadable.
            self.families[index].help = Some(String::from_utf8_lossy(&help).into_owned());
        } else {
            if self.families[index].kind.is_some() {
                return Err(self.error(format!(
                    "second TYPE line for metric name {name:?}, or TYPE reported after samples"
                )));
            }
            let kind = match rest.to_ascii_uppercase().as_slice() {
                b"COUNTER" => Kind::Known(MetricType::Counter),
                b"GAUGE" => Kind::Known(MetricType::Gauge),
                b"UNTYPED" => Kind::Known(MetricType::Untyped),
                b"SUMMARY" => Kind::Known(MetricType::Summary),
                b"HISTOGRAM" => Kind::Known(MetricType::Histogram),
                b"GAUGE_HISTOGRAM" => Kind::GaugeHistogram,
                _ => return Err(self.error(format!("unknown metric type {}", show(rest)))),
            };
            self.families[index].kind = Some(kind);
        }
        Ok(())
    }

    fn sample(&mut self, line: &[u8]) -> Result<(), ParseError> {
        let (name, mut rest) = take_name(line, is_name_start, is_name_char);
        if name.is_empty() {
            return Err(self.error(format!(
                "invalid metric name at the start of {}",
                show(&line[..line.len().min(40)])
            )));
        }
        self.samples += 1;
        if self.samples > self.max_samples {
            return Err(self.error(format!(
                "more than {} samples in one file",
                self.max_samples
            )));
        }
        let (index, role) = self.family_for(name);
        let family = &mut self.families[index];
        let kind = *family.kind.get_or_insert(Kind::Known(MetricType::Untyped));
        let (summary, histogram) = (
            kind == Kind::Known(MetricType::Summary),
            kind == Kind::Known(MetricType::Histogram),
        );
        let mut labels: Vec<(String, String)> = Vec::new();
        let mut bound = f64::NAN;
        rest = skip_blanks(rest);
        if rest.first() == Some(&b'{') {
            rest = &rest[1..];
            loop {
                rest = skip_blanks(rest);
                if let Some(after) = rest.strip_prefix(b"}") {
                    rest = after;
                    break;
                }
                let (label, after) = take_name(rest, is_label_start, is_label_char);
                if label.is_empty() {
                    return Err(self.error(format!("invalid label name for metric {name:?}")));
                }
                let after = skip_blanks(after);
                let Some(after) = after.strip_prefix(b"=") else {
                    return Err(self.error(format!(
                        "expected '=' after label name {label:?} of metric {name:?}"
                    )));
                };
                if label.starts_with("__") {
                    return Err(self.error(format!(
                        "label name {label:?} is reserved (names starting with \"__\" are internal to Prometheus)"
                    )));
                }
                let special = (summary && label == "quantile") || (histogram && label == "le");
                if !special && labels.iter().any(|(k, _)| k == label) {
                    return Err(self.error(format!("duplicate label names for metric {name:?}")));
                }
                let after = skip_blanks(after);
                let Some(after) = after.strip_prefix(b"\"") else {
                    return Err(self.error(format!(
                        "expected '\"' at the start of the value of label {label:?}"
                    )));
                };
                let (value, after) = take_label_value(after).map_err(|m| self.error(m))?;
                let value = String::from_utf8(value).map_err(|e| {
                    self.error(format!(
                        "invalid label value {} (not UTF-8)",
                        show(e.as_bytes())
                    ))
                })?;
                if special {
                    bound = parse_go_float(value.as_bytes()).ok_or_else(|| {
                        self.error(format!(
                            "expected float as value for {label:?}, got {value:?}"
                        ))
                    })?;
                } else {
                    labels.push((label.to_string(), value));
                }
                rest = skip_blanks(after);
                match rest.first() {
                    Some(b',') => rest = &rest[1..],
                    Some(b'}') => {
                        rest = &rest[1..];
                        break;
                    }
                    _ => {
                        return Err(
                            self.error(format!("unexpected end of label set of metric {name:?}"))
                        )
                    }
                }
            }
            rest = skip_blanks(rest);
        }
        let (token, after) = take_token(rest);
        let value = parse_go_float(token)
            .ok_or_else(|| self.error(format!("expected float as value, got {}", show(token))))?;
        let timestamp = if after.is_empty() {
            None
        } else {
            let (token, after) = take_token(skip_blanks(after));
            let ts = std::str::from_utf8(token)
                .ok()
                .filter(|t| !t.starts_with('+') || t.len() > 1)
                .and_then(|t| t.parse::<i64>().ok())
                .ok_or_else(|| {
                    self.error(format!(
                        "expected integer as timestamp, got {}",
                        show(token)
                    ))
                })?;
            if !after.is_empty() {
                return Err(self.error(format!("spurious string after timestamp: {}", show(after))));
            }
            Some(ts)
        };

        let family = &mut self.families[index];
        let count = |v: f64| v as u64; // truncates; saturates; NaN is 0
        match kind {
            Kind::GaugeHistogram => {
                return Err(self.error(format!(
                    "unexpected type gauge_histogram for metric name {name:?}"
                )))
            }
            Kind::Known(MetricType::Summary | MetricType::Histogram) => {
                let mut key = labels.clone();
                key.sort();
                let i = match family.by_labels.get(&key) {
                    Some(&i) => i,
                    None => {
                        family.metrics.push(ParsedMetric {
                            labels,
                            timestamp_ms: None,
                            value: if summary {
                                Value::Summary {
                                    count: 0,
                                    sum: 0.0,
                                    quantiles: Vec::new(),
                                }
                            } else {
                                Value::Histogram {
                                    count: 0,
                                    sum: 0.0,
                                    buckets: Vec::new(),
                                }
                            },
                        });
                        family.by_labels.insert(key, family.metrics.len() - 1);
                        family.metrics.len() - 1
                    }
                };
                let metric = &mut family.metrics[i];
                if timestamp.is_some() {
                    metric.timestamp_ms = timestamp;
                }
                match (&mut metric.value, role) {
                    (
                        Value::Summary { count: c, .. } | Value::Histogram { count: c, .. },
                        Role::Count,
                    ) => *c = count(value),
                    (Value::Summary { sum, .. } | Value::Histogram { sum, .. }, Role::Sum) => {
                        *sum = value
                    }
                    (Value::Summary { quantiles, .. }, Role::Plain) if !bound.is_nan() => {
                        quantiles.push((bound, value))
                    }
                    (Value::Histogram { buckets, .. }, Role::Plain) if !bound.is_nan() => {
                        buckets.push((bound, count(value)))
                    }
                    // A line of the family without its quantile/bucket label adds nothing to it
                    // (but the metric exists), as in the Go parser.
                    _ => {}
                }
            }
            Kind::Known(_) => family.metrics.push(ParsedMetric {
                labels,
                timestamp_ms: timestamp,
                value: Value::Single(value),
            }),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Vec<ParsedFamily> {
        parse(text.as_bytes(), 1000).unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    fn err(text: &str) -> ParseError {
        err_bytes(text.as_bytes())
    }

    fn err_bytes(text: &[u8]) -> ParseError {
        match parse(text, 1000) {
            Ok(f) => panic!("{:?} parsed: {f:?}", String::from_utf8_lossy(text)),
            Err(e) => e,
        }
    }

    #[test]
    fn help_type_and_samples() {
        let f = ok(
            "# HELP apt_upgrades_pending Apt packages pending updates by origin.\n\
                    # TYPE apt_upgrades_pending gauge\n\
                    apt_upgrades_pending{origin=\"Debian:bookworm/stable\",arch=\"amd64\"} 41\n\
                    apt_upgrades_pending{origin=\"\",arch=\"all\"} 0\n\
                    node_reboot_required 0\n",
        );
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].name, "apt_upgrades_pending");
        assert_eq!(
            f[0].help.as_deref(),
            Some("Apt packages pending updates by origin.")
        );
        assert_eq!(f[0].kind, MetricType::Gauge);
        assert_eq!(
            f[0].metrics[0].labels,
            [
                ("origin".to_string(), "Debian:bookworm/stable".to_string()),
                ("arch".to_string(), "amd64".to_string())
            ]
        );
        assert_eq!(f[0].metrics[0].single(), Some(41.0));
        assert_eq!(f[1].kind, MetricType::Untyped);
        assert_eq!(f[1].help, None);
    }

    #[test]
    fn escapes_in_labels_and_help() {
        let f = ok("# HELP e a\\\\b\\nc\\\"d\ne{v=\"x\\\\y\\\"z\\nw\"} 1\n");
        assert_eq!(f[0].help.as_deref(), Some("a\\b\nc\"d"));
        assert_eq!(f[0].metrics[0].labels[0].1, "x\\y\"z\nw");
        assert!(err("e{v=\"\\t\"} 1\n").message.contains("invalid escape"));
        assert!(err("# HELP e \\t\ne 1\n")
            .message
            .contains("invalid escape"));
        assert!(err("e{v=\"open} 1\n").message.contains("not closed"));
        assert!(err_bytes(b"e{v=\"\xff\"} 1\n").message.contains("UTF-8"));
        // Invalid UTF-8 in HELP is replaced, in a comment ignored.
        let f = parse(b"# HELP h a\xffb\n# \xfe\nh 1\n", 10).unwrap();
        assert_eq!(f[0].help.as_deref(), Some("a\u{fffd}b"));
    }

    #[test]
    fn values_as_go_reads_them() {
        for (text, want) in [
            ("1", 1.0),
            ("-2.5", -2.5),
            ("+Inf", f64::INFINITY),
            ("Inf", f64::INFINITY),
            ("-inf", f64::NEG_INFINITY),
            ("infinity", f64::INFINITY),
            (".5", 0.5),
            ("5.", 5.0),
            ("+1E+2", 100.0),
            ("1.5e-7", 1.5e-7),
        ] {
            assert_eq!(parse_go_float(text.as_bytes()), Some(want), "{text}");
        }
        assert!(parse_go_float(b"NaN").unwrap().is_nan());
        assert!(parse_go_float(b"nan").unwrap().is_nan());
        for bad in [
            "", "-NaN", "0x10", "0x1p3", "1_000", "1e400", "one", "1\r", "1,5",
        ] {
            assert_eq!(parse_go_float(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn timestamps_are_read_and_kept() {
        let f = ok("t 1 1700000000000\nu 2 -5\n");
        assert_eq!(f[0].metrics[0].timestamp_ms, Some(1_700_000_000_000));
        assert_eq!(f[1].metrics[0].timestamp_ms, Some(-5));
        assert!(err("t 1 \n").message.contains("timestamp"));
        assert!(err("t 1 12 x\n").message.contains("spurious"));
        assert!(err("t 1 1.5\n").message.contains("timestamp"));
        assert!(err("t 1 12 \n").message.contains("spurious"));
    }

    #[test]
    fn line_structure() {
        assert!(err("nonl 1").message.contains("end of input"));
        assert!(err("# comment without newline")
            .message
            .contains("end of input"));
        assert!(ok("a 1\n  \t").len() == 1, "a blank last line is fine");
        assert!(err("crlf 1\r\n").message.contains("float"));
        let f =
            ok("\n  \tlead{a=\"1\",} 1\nempty{} 2\ntab\t3\nsp  { a = \"b\" }  4\nnosp{a=\"b\"}5\n");
        assert_eq!(f.len(), 5);
        assert_eq!(f[3].metrics[0].labels[0], ("a".into(), "b".into()));
        assert_eq!(f[4].metrics[0].single(), Some(5.0));
        // "#TYPE" is a TYPE line: blanks after '#' are optional.
        let f = ok("#TYPE g gauge\n# random comment\n#\n# HELP\n# HELP onlyname\ng 1\n");
        assert_eq!(f[0].kind, MetricType::Gauge);
        assert_eq!(f[0].help, None);
    }

    #[test]
    fn type_and_help_rules() {
        assert!(err("# HELP a x\n# HELP a y\na 1\n")
            .message
            .contains("second HELP"));
        assert!(err("# TYPE a gauge\n# TYPE a gauge\n")
            .message
            .contains("second TYPE"));
        assert!(err("a 1\n# TYPE a gauge\n")
            .message
            .contains("after samples"));
        assert!(err("# TYPE a gauges\na 1\n")
            .message
            .contains("unknown metric type"));
        assert!(err("# TYPE a gauge \na 1\n")
            .message
            .contains("unknown metric type"));
        assert_eq!(ok("# TYPE a Gauge\na 1\n")[0].kind, MetricType::Gauge);
        // A family with only HELP/TYPE lines is dropped; gauge_histogram is a known type without
        // samples and an error with one.
        assert!(ok("# HELP x y\n# TYPE x gauge\n# TYPE gh gauge_histogram\n").is_empty());
        assert!(err("# TYPE gh gauge_histogram\ngh 1\n")
            .message
            .contains("gauge_histogram"));
        assert!(err("# HELP 1a x\n").message.contains("invalid metric name"));
        assert!(err("{\"utf8\"} 1\n")
            .message
            .contains("invalid metric name"));
    }

    #[test]
    fn label_rules() {
        assert!(err("a{__name__=\"b\"} 1\n").message.contains("reserved"));
        assert!(err("a{__x=\"b\"} 1\n").message.contains("reserved"));
        assert!(err("a{x=\"1\",x=\"2\"} 1\n").message.contains("duplicate"));
        assert!(err("a{1x=\"1\"} 1\n")
            .message
            .contains("invalid label name"));
        assert!(err("a{x \"1\"} 1\n").message.contains("expected '='"));
        assert!(err("a{x=1} 1\n").message.contains("expected '\"'"));
        assert!(err("a{x=\"1\" y=\"2\"} 1\n")
            .message
            .contains("unexpected end"));
        assert!(err("a{x=\"1\"\n").message.contains("unexpected end"));
        assert!(err("a\n").message.contains("expected float"));
    }

    #[test]
    fn summaries_and_histograms() {
        let f = ok("# TYPE rpc summary\n\
                    rpc{svc=\"a\",quantile=\"0.5\"} 0.1\n\
                    rpc{quantile=\"0.99\",svc=\"a\"} 0.9\n\
                    rpc_sum{svc=\"a\"} 12.5\n\
                    rpc_count{svc=\"a\"} 40\n\
                    rpc_count{svc=\"b\"} 3.9\n\
                    # TYPE lat histogram\n\
                    lat_bucket{le=\"0.5\"} 2\n\
                    lat_bucket{le=\"+Inf\"} 5\n\
                    lat_sum 3\n\
                    lat_count 5\n\
                    lat{le=\"1\"} 4\n\
                    lat_bucket 9\n");
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].kind, MetricType::Summary);
        assert_eq!(f[0].metrics.len(), 2);
        assert_eq!(
            f[0].metrics[0].value,
            Value::Summary {
                count: 40,
                sum: 12.5,
                quantiles: vec![(0.5, 0.1), (0.99, 0.9)]
            }
        );
        assert_eq!(
            f[0].metrics[1].value,
            Value::Summary {
                count: 3,
                sum: 0.0,
                quantiles: vec![]
            }
        );
        assert_eq!(
            f[1].metrics[0].value,
            Value::Histogram {
                count: 5,
                sum: 3.0,
                buckets: vec![(0.5, 2), (f64::INFINITY, 5), (1.0, 4)]
            }
        );
        assert_eq!(f[1].series(), 6);
        // Before its TYPE, a _bucket/_sum line is a family of its own; `le` of a summary and
        // `quantile` of a histogram are ordinary labels.
        let f = ok("h_sum 1\n# TYPE h histogram\nh_count 2\n# TYPE s summary\ns{le=\"x\"} 1\n");
        let names: Vec<&str> = f.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["h_sum", "h", "s"]);
        assert!(err("# TYPE h histogram\nh_bucket{le=\"x\"} 1\n")
            .message
            .contains("le"));
        assert!(err("# TYPE s summary\ns{quantile=\"\"} 1\n")
            .message
            .contains("quantile"));
        // A HELP for `<summary>_sum` is the summary's HELP.
        let f = ok("# TYPE s summary\n# HELP s_sum about s\ns_sum 1\n");
        assert_eq!(f[0].help.as_deref(), Some("about s"));
        // Negative and NaN counts are 0.
        let f = ok("# TYPE s summary\ns_count -3\ns_count{a=\"1\"} NaN\n");
        assert!(f[0]
            .metrics
            .iter()
            .all(|m| matches!(m.value, Value::Summary { count: 0, .. })));
    }

    #[test]
    fn sample_limit() {
        let text = "a 1\n".repeat(11);
        assert!(parse(text.as_bytes(), 10)
            .unwrap_err()
            .message
            .contains("more than 10"));
        assert!(parse(text.as_bytes(), 11).is_ok());
    }

    mod properties {
        use super::super::*;
        use crate::metrics::{encode, Format, MetricFamily, Part, Sample};
        use proptest::prelude::*;

        fn cases(n: u32) -> ProptestConfig {
            ProptestConfig {
                cases: n,
                failure_persistence: None,
                ..ProptestConfig::default()
            }
        }

        fn value() -> impl Strategy<Value = f64> {
            prop_oneof![
                4 => -1e300f64..1e300,
                2 => (-1_000_000i64..1_000_000).prop_map(|v| v as f64),
                1 => Just(f64::NAN),
                1 => Just(f64::INFINITY),
                1 => Just(f64::NEG_INFINITY),
            ]
        }

        fn same(a: f64, b: f64) -> bool {
            a == b || (a.is_nan() && b.is_nan())
        }

        /// One generated histogram: bounds, their counts, sum, count.
        type Histogram = (Vec<f64>, Vec<u64>, f64, u64);
        /// One generated summary: (quantile, value) pairs, sum, count.
        type Summary = (Vec<(f64, f64)>, f64, u64);

        #[derive(Debug, Clone)]
        enum Generated {
            Single(MetricType, Vec<f64>),
            Histogram(Vec<Histogram>),
            Summary(Vec<Summary>),
        }

        fn generated() -> impl Strategy<Value = Generated> {
            let kind = prop_oneof![
                Just(MetricType::Counter),
                Just(MetricType::Gauge),
                Just(MetricType::Untyped)
            ];
            let bounds = proptest::collection::btree_set(-1_000_000i64..1_000_000, 0..6)
                .prop_map(|s| s.into_iter().map(|b| b as f64 / 1000.0).collect::<Vec<_>>());
            let quantiles = proptest::collection::btree_set(0u32..=1000, 0..5);
            prop_oneof![
                (kind, proptest::collection::vec(value(), 1..4))
                    .prop_map(|(k, v)| Generated::Single(k, v)),
                proptest::collection::vec(
                    (
                        bounds,
                        proptest::collection::vec(0u64..1 << 50, 6),
                        -1e12f64..1e12,
                        0u64..1 << 50
                    ),
                    1..3
                )
                .prop_map(|h| Generated::Histogram(
                    h.into_iter()
                        .map(|(b, c, s, n)| {
                            let c = c[..b.len()].to_vec();
                            (b, c, s, n)
                        })
                        .collect()
                )),
                proptest::collection::vec(
                    (
                        quantiles,
                        proptest::collection::vec(value(), 5),
                        -1e12f64..1e12,
                        0u64..1 << 50
                    ),
                    1..3
                )
                .prop_map(|m| Generated::Summary(
                    m.into_iter()
                        .map(|(q, v, s, n)| {
                            (
                                q.into_iter()
                                    .zip(v)
                                    .map(|(q, v)| (q as f64 / 1000.0, v))
                                    .collect(),
                                s,
                                n,
                            )
                        })
                        .collect()
                )),
            ]
        }

        proptest! {
            #![proptest_config(cases(400))]

            #[test]
            fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..400)) {
                let _ = parse(&data, 50);
            }

            #[test]
            fn exposition_shaped_text_never_panics(
                text in proptest::string::string_regex(
                    r#"(# (HELP|TYPE) |[a-z_]{1,4}(_sum|_count|_bucket)?|\{|\}|=|"|,|\\|le|quantile| |\t|\n|[0-9.e+-]{1,4}|NaN|Inf|summary|histogram|gauge|counter){0,60}"#
                ).unwrap()
            ) {
                if let Ok(families) = parse(text.as_bytes(), 1000) {
                    for f in &families {
                        prop_assert!(!f.metrics.is_empty());
                        prop_assert!(!f.name.is_empty());
                    }
                }
            }

            /// Families encoded by the exporter's own encoder parse back to the same values,
            /// labels (with every escape) and HELP.
            #[test]
            fn encoded_families_parse_back(
                families in proptest::collection::vec(
                    (
                        "[a-z][a-z0-9_:]{0,8}",
                        proptest::option::of("[A-Za-z0-9][A-Za-z0-9 .,\\\n\"é{}]{0,20}"),
                        proptest::collection::btree_set("l_[a-z0-9_]{0,5}", 0..3),
                        proptest::collection::vec("[a-z0-9 \"\\\n{}=,é#]{0,8}", 3),
                        generated(),
                    ),
                    1..5,
                )
            ) {
                let mut encoded = Vec::new();
                for (i, (name, help, label_names, label_values, g)) in families.iter().enumerate() {
                    let name = format!("{name}_f{i}");
                    let labels_of = |series: usize| {
                        let mut l: Vec<(crate::metrics::LabelName, String)> = label_names
                            .iter()
                            .zip(label_values.iter())
                            .map(|(k, v)| (k.clone().into(), v.clone()))
                            .collect();
                        l.push(("id".into(), series.to_string()));
                        l
                    };
                    let sample = |series: usize, part: Part, value: f64| Sample {
                        labels: labels_of(series),
                        value,
                        part,
                    };
                    let (kind, samples) = match g {
                        Generated::Single(kind, values) => (
                            *kind,
                            values.iter().enumerate().map(|(i, v)| sample(i, Part::Value, *v)).collect::<Vec<_>>(),
                        ),
                        Generated::Histogram(h) => (MetricType::Histogram, h.iter().enumerate().flat_map(|(i, (b, c, s, n))| {
                            b.iter().zip(c).map(move |(b, c)| sample(i, Part::Bucket(*b), *c as f64))
                                .chain([sample(i, Part::Sum, *s), sample(i, Part::Count, *n as f64)])
                        }).collect()),
                        Generated::Summary(m) => (MetricType::Summary, m.iter().enumerate().flat_map(|(i, (q, s, n))| {
                            q.iter().map(move |(q, v)| sample(i, Part::Quantile(*q), *v))
                                .chain([sample(i, Part::Sum, *s), sample(i, Part::Count, *n as f64)])
                        }).collect()),
                    };
                    encoded.push(MetricFamily {
                        name,
                        help: help.clone().unwrap_or_default(),
                        kind,
                        samples,
                    });
                }
                let mut text = String::new();
                encode(&encoded, Format::Text, &mut text);
                let parsed = parse(text.as_bytes(), 10_000).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
                prop_assert_eq!(parsed.len(), families.len(), "{}", text);
                for ((p, e), (_, help, _, _, g)) in parsed.iter().zip(&encoded).zip(&families) {
                    prop_assert_eq!(&p.name, &e.name);
                    prop_assert_eq!(p.kind, e.kind);
                    prop_assert_eq!(p.help.as_deref(), help.as_deref().filter(|h| !h.is_empty()));
                    for (i, m) in p.metrics.iter().enumerate() {
                        let want = &e.samples.iter().find(|s| s.labels.last().map(|l| l.1.as_str()) == Some(&i.to_string())).unwrap().labels;
                        let got: Vec<(String, String)> = want.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
                        prop_assert_eq!(&m.labels, &got);
                        prop_assert_eq!(m.timestamp_ms, None);
                    }
                    match (g, &p.metrics[..]) {
                        (Generated::Single(_, values), metrics) => {
                            prop_assert_eq!(values.len(), metrics.len());
                            for (v, m) in values.iter().zip(metrics) {
                                prop_assert!(same(*v, m.single().unwrap()), "{} {:?}", v, m);
                            }
                        }
                        (Generated::Histogram(h), metrics) => {
                            prop_assert_eq!(h.len(), metrics.len());
                            for ((b, c, s, n), m) in h.iter().zip(metrics) {
                                let buckets: Vec<(f64, u64)> = b.iter().copied().zip(c.iter().copied()).collect();
                                prop_assert_eq!(&m.value, &Value::Histogram { count: *n, sum: *s, buckets });
                            }
                        }
                        (Generated::Summary(q), metrics) => {
                            prop_assert_eq!(q.len(), metrics.len());
                            for ((q, s, n), m) in q.iter().zip(metrics) {
                                let Value::Summary { count, sum, quantiles } = &m.value else {
                                    return Err(TestCaseError::fail("not a summary"));
                                };
                                prop_assert_eq!((*count, *sum), (*n, *s));
                                prop_assert_eq!(quantiles.len(), q.len());
                                for ((qa, va), (qb, vb)) in quantiles.iter().zip(q) {
                                    prop_assert!(qa == qb && same(*va, *vb));
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
