//! `sysmon-exporter backtest`: runs the configured anomaly rules over recorded series and prints
//! the events they would have raised, as JSON lines, so thresholds can be tried on real history
//! before they are deployed.
//!
//! Inputs are CSV files of `timestamp,value` (timestamps in RFC 3339, `YYYY-MM-DD HH:MM:SS` UTC,
//! or Unix seconds; a header line is allowed) and Prometheus `query_range` JSON responses (each
//! series of the matrix is one subject). Each file is evaluated on its own, with a fresh engine.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;

use super::config::RulesConfig;
use super::engine::Engine;
use super::evaluation;
use super::event::{Reading, Signals, Transition};

/// Which signal the recorded values are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
#[value(rename_all = "snake_case")]
pub enum Signal {
    CpuBusyPercent,
    MemoryUsedPercent,
    Load1PerCpu,
    DiskIoBytesPerSecond,
    NetworkBytesPerSecond,
    TemperatureCelsius,
    FilesystemUsedPercent,
    UsbTimeouts,
}

/// Arguments of the `backtest` subcommand.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// What the recorded values measure; decides which rules see them.
    #[arg(long, value_enum)]
    pub signal: Signal,
    /// For query_range input: the label whose value names the subject (sensor, mount, port).
    /// Default: all labels, as `{k="v",...}`.
    #[arg(long = "subject-label", value_name = "LABEL")]
    pub subject_label: Option<String>,
    /// Run only this rule (repeatable; default: every enabled rule), e.g. `--rule adaptive_cpu`.
    #[arg(long = "rule", value_name = "NAME")]
    pub rules: Vec<String>,
    /// NAB-style label windows (JSON: file name -> [[start, end], ...]): score the alarms against
    /// them and print an evaluation summary (a last JSON line, and a table on stderr). A label
    /// key matches an input file whose path ends with it.
    #[arg(long = "labels", value_name = "FILE")]
    pub labels: Option<PathBuf>,
    /// CSV (`timestamp,value`) or Prometheus query_range JSON files.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// One recorded series: subject and points in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub subject: String,
    pub points: Vec<(DateTime<Utc>, f64)>,
}

/// An input error a person can act on: file, line (0 if none) and what was expected.
#[derive(Debug, Clone, PartialEq)]
pub struct InputError {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
        } else {
            write!(f, "{}: {}", self.file.display(), self.message)
        }
    }
}

fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim().trim_matches('"');
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, format) {
            return Some(t.and_utc());
        }
    }
    let secs: f64 = s.parse().ok()?;
    if !secs.is_finite() {
        return None;
    }
    DateTime::from_timestamp(secs.trunc() as i64, (secs.fract() * 1e9) as u32)
}

/// Reads a `timestamp,value` CSV. The first line may be a header.
pub fn read_csv(file: &Path, text: &str) -> Result<Series, InputError> {
    let mut points = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let err = |message: String| InputError {
            file: file.to_path_buf(),
            line: i + 1,
            message,
        };
        let Some((ts, value)) = line.split_once(',') else {
            return Err(err(format!("expected `timestamp,value`, found {line:?}")));
        };
        let (Some(t), Ok(v)) = (parse_timestamp(ts), value.trim().parse::<f64>()) else {
            if i == 0 {
                continue; // a header line
            }
            return Err(err(format!(
                "expected a timestamp (RFC 3339, \"YYYY-MM-DD HH:MM:SS\" or Unix seconds) and a number, found {line:?}"
            )));
        };
        points.push((t, v));
    }
    if points.is_empty() {
        return Err(InputError {
            file: file.to_path_buf(),
            line: 0,
            message: "no `timestamp,value` rows".into(),
        });
    }
    points.sort_by_key(|(t, _)| *t);
    let subject = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "host".into());
    Ok(Series { subject, points })
}

/// Reads a Prometheus `query_range` response (`resultType` matrix).
pub fn read_query_range(
    file: &Path,
    text: &str,
    subject_label: Option<&str>,
) -> Result<Vec<Series>, InputError> {
    let err = |message: String| InputError {
        file: file.to_path_buf(),
        line: 0,
        message,
    };
    let doc: serde_json::Value = serde_json::from_str(text).map_err(|e| InputError {
        file: file.to_path_buf(),
        line: e.line(),
        message: format!("expected a Prometheus query_range JSON response: {e}"),
    })?;
    if doc["status"] != "success" {
        return Err(err(format!(
            "expected \"status\": \"success\", found {}",
            doc["status"]
        )));
    }
    if doc["data"]["resultType"] != "matrix" {
        return Err(err(format!(
            "expected \"resultType\": \"matrix\" (a range query), found {}",
            doc["data"]["resultType"]
        )));
    }
    let results = doc["data"]["result"]
        .as_array()
        .ok_or_else(|| err("expected data.result to be a list".into()))?;
    let mut out = Vec::new();
    for (n, r) in results.iter().enumerate() {
        let labels: BTreeMap<String, String> = r["metric"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let subject = match subject_label {
            Some(l) => labels.get(l).cloned().ok_or_else(|| {
                err(format!(
                    "series {n} has no label {l:?} (it has {:?})",
                    labels.keys().collect::<Vec<_>>()
                ))
            })?,
            None if labels.is_empty() => "host".to_string(),
            None => {
                let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
                format!("{{{}}}", inner.join(","))
            }
        };
        let mut points = Vec::new();
        for p in r["values"].as_array().into_iter().flatten() {
            let t = p[0].as_f64().and_then(|s| parse_timestamp(&s.to_string()));
            let v = p[1].as_str().and_then(|v| match v {
                "NaN" => Some(f64::NAN),
                "+Inf" => Some(f64::INFINITY),
                "-Inf" => Some(f64::NEG_INFINITY),
                v => v.parse().ok(),
            });
            match (t, v) {
                (Some(t), Some(v)) => points.push((t, v)),
                _ => {
                    return Err(err(format!(
                        "series {n}: expected [unix_time, \"value\"] pairs, found {p}"
                    )))
                }
            }
        }
        out.push(Series { subject, points });
    }
    Ok(out)
}

/// Builds one [`Signals`] per distinct timestamp, with every series' value at that moment.
fn signals_at(signal: Signal, series: &[Series]) -> Vec<Signals> {
    let mut by_time: BTreeMap<DateTime<Utc>, Vec<(&str, f64)>> = BTreeMap::new();
    for s in series {
        for (t, v) in &s.points {
            by_time.entry(*t).or_default().push((&s.subject, *v));
        }
    }
    by_time
        .into_iter()
        .map(|(t, values)| {
            let mut sig = Signals::empty(t);
            let readings = || -> Vec<Reading> {
                values
                    .iter()
                    .map(|(subject, v)| Reading {
                        subject: subject.to_string(),
                        value: *v,
                        limit: None,
                    })
                    .collect()
            };
            let first = values.first().map(|(_, v)| *v);
            match signal {
                Signal::CpuBusyPercent => sig.cpu_busy_percent = first,
                Signal::MemoryUsedPercent => sig.memory_used_percent = first,
                Signal::Load1PerCpu => sig.load1_per_cpu = first,
                Signal::DiskIoBytesPerSecond => sig.disk_io_bytes_per_second = first,
                Signal::NetworkBytesPerSecond => sig.network_bytes_per_second = first,
                Signal::TemperatureCelsius => sig.temperatures_celsius = readings(),
                Signal::FilesystemUsedPercent => sig.filesystems_used_percent = readings(),
                Signal::UsbTimeouts => sig.usb_timeouts = readings(),
            }
            sig
        })
        .collect()
}

/// Runs the rules over the series and returns every transition, in time order.
pub fn run(rules: &RulesConfig, signal: Signal, series: &[Series]) -> Vec<Transition> {
    let mut engine = Engine::new(rules.clone(), 1);
    let mut out = Vec::new();
    for s in signals_at(signal, series) {
        out.extend(engine.evaluate(&s));
    }
    out
}

#[derive(Serialize)]
struct Line<'a> {
    source: String,
    #[serde(flatten)]
    transition: &'a Transition,
}

/// `rules` with only the named rules enabled; an unknown name is an error listing the known ones.
pub fn only_rules(rules: &RulesConfig, names: &[String]) -> Result<RulesConfig, String> {
    if names.is_empty() {
        return Ok(rules.clone());
    }
    let known: Vec<&str> = rules.threshold.keys().copied().collect();
    if let Some(bad) = names.iter().find(|n| !known.contains(&n.as_str())) {
        return Err(format!(
            "--rule {bad}: no such rule; expected one of {}",
            known.join(", ")
        ));
    }
    let mut out = rules.clone();
    for (name, rule) in out.threshold.iter_mut() {
        rule.enabled = rule.enabled && names.iter().any(|n| n == name);
    }
    Ok(out)
}

/// The evaluation line printed last with `--labels`.
#[derive(Serialize)]
struct Evaluation {
    files: Vec<FileSummary>,
    total: Summary,
}

#[derive(Serialize)]
struct FileSummary {
    source: String,
    labels: Option<String>,
    #[serde(flatten)]
    summary: Summary,
}

#[derive(Serialize)]
struct Summary {
    windows: usize,
    detected: usize,
    alarms: usize,
    false_alarms: usize,
    precision: f64,
    recall: f64,
    f1: f64,
    false_alarms_per_day: f64,
    /// Seconds from window start to first alarm, median (null when nothing was detected).
    median_delay_seconds: Option<f64>,
}

impl Summary {
    fn of(t: &evaluation::Totals) -> Summary {
        Summary {
            windows: t.windows,
            detected: t.detected,
            alarms: t.alarms,
            false_alarms: t.false_alarms,
            precision: t.precision,
            recall: t.recall,
            f1: t.f1,
            false_alarms_per_day: t.false_alarms_per_day,
            median_delay_seconds: (!t.median_delay.is_nan()).then_some(t.median_delay),
        }
    }
}

/// The subcommand: read every file, run, print JSON lines. Returns a message on bad input.
pub fn main(rules: &RulesConfig, args: &Args, out: &mut impl Write) -> Result<(), InputError> {
    let usage = |file: &Path, message: String| InputError {
        file: file.to_path_buf(),
        line: 0,
        message,
    };
    let rules = &only_rules(rules, &args.rules).map_err(|m| usage(Path::new("command line"), m))?;
    let labels = match &args.labels {
        Some(path) => Some(evaluation::read_windows(path).map_err(|m| {
            InputError {
                file: path.clone(),
                line: 0,
                // read_windows names the file itself.
                message: m
                    .strip_prefix(&format!("{}: ", path.display()))
                    .unwrap_or(&m)
                    .to_string(),
            }
        })?),
        None => None,
    };
    let mut scores = Vec::new();
    let mut summaries = Vec::new();
    for file in &args.files {
        let text = std::fs::read_to_string(file).map_err(|e| InputError {
            file: file.clone(),
            line: 0,
            message: format!("cannot read: {e}"),
        })?;
        let series = if text.trim_start().starts_with('{') {
            read_query_range(file, &text, args.subject_label.as_deref())?
        } else {
            vec![read_csv(file, &text)?]
        };
        let transitions = run(rules, args.signal, &series);
        if let Some(labels) = &labels {
            let path = file.to_string_lossy();
            let key = labels
                .keys()
                .filter(|k| path.ends_with(k.as_str()))
                .max_by_key(|k| k.len());
            let windows = key.map(|k| labels[k].clone()).unwrap_or_default();
            // Every distinct timestamp is a row; NAB's unscored prefix is 15% of them.
            let mut times: Vec<i64> = series
                .iter()
                .flat_map(|s| s.points.iter().map(|(t, _)| t.timestamp()))
                .collect();
            times.sort_unstable();
            times.dedup();
            let scored_from = times
                .get(evaluation::probation(times.len()))
                .copied()
                .unwrap_or(i64::MAX);
            let alarms: Vec<i64> = transitions
                .iter()
                .filter(|t| matches!(t, Transition::Started(_)))
                .map(|t| t.event().started_at.timestamp())
                .collect();
            let score = evaluation::score_alarms(
                &file.display().to_string(),
                &times,
                &windows,
                scored_from,
                &alarms,
            );
            summaries.push(FileSummary {
                source: file.display().to_string(),
                labels: key.cloned(),
                summary: Summary::of(&evaluation::totals(std::slice::from_ref(&score))),
            });
            scores.push(score);
        }
        for t in transitions {
            let line = Line {
                source: file.display().to_string(),
                transition: &t,
            };
            let json = serde_json::to_string(&line).unwrap_or_default();
            if writeln!(out, "{json}").is_err() {
                return Ok(()); // stdout closed (e.g. piped into head): stop quietly
            }
        }
    }
    if labels.is_some() {
        let total = evaluation::totals(&scores);
        eprintln!(
            "{:<50} {:>4} {:>4} {:>5} {:>5}  {:<5}  {:<5}  {:<5}  {:<6}  delay",
            "evaluation (event-wise)", "win", "det", "alarm", "false", "P", "R", "F1", "FA/day"
        );
        for (s, sc) in summaries.iter().zip(&scores) {
            let mut delays = sc.delays.clone();
            eprintln!(
                "{:<50} {:>4} {:>4} {:>5} {:>5}  {:.3}  {:.3}  {:.3}  {:.3}   {}",
                s.source,
                s.summary.windows,
                s.summary.detected,
                s.summary.alarms,
                s.summary.false_alarms,
                s.summary.precision,
                s.summary.recall,
                s.summary.f1,
                s.summary.false_alarms_per_day,
                evaluation::human(evaluation::median(&mut delays))
            );
        }
        eprintln!(
            "{:<50} {:>4} {:>4} {:>5} {:>5}  {:.3}  {:.3}  {:.3}  {:.3}   {}",
            "TOTAL",
            total.windows,
            total.detected,
            total.alarms,
            total.false_alarms,
            total.precision,
            total.recall,
            total.f1,
            total.false_alarms_per_day,
            evaluation::human(total.median_delay)
        );
        let line = serde_json::json!({
            "evaluation": Evaluation { files: summaries, total: Summary::of(&total) }
        });
        let _ = writeln!(out, "{line}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_formats_and_errors() {
        let p = Path::new("cpu.csv");
        let s = read_csv(
            p,
            "timestamp,value\n2014-04-01 00:00:00,1.5\n2014-04-01T00:05:00Z,2\n1396311000,3\n",
        )
        .unwrap();
        assert_eq!(s.subject, "cpu");
        assert_eq!(s.points.len(), 3);
        assert_eq!(s.points[1].1, 2.0);
        let e = read_csv(
            p,
            "timestamp,value\n2014-04-01 00:00:00,1\n2014-04-01 00:05:00,abc\n",
        )
        .unwrap_err();
        assert_eq!(e.line, 3);
        assert!(
            e.to_string().starts_with("cpu.csv:3: expected a timestamp"),
            "{e}"
        );
        assert!(read_csv(p, "").is_err());
    }

    #[test]
    fn query_range_series_become_subjects() {
        let json = r#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{"mountpoint":"/","instance":"a"},"values":[[1700000000,"50"],[1700000060,"95"]]},
            {"metric":{"mountpoint":"/home","instance":"a"},"values":[[1700000000,"10"]]}]}}"#;
        let s = read_query_range(Path::new("q.json"), json, Some("mountpoint")).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].subject, "/");
        assert_eq!(s[0].points[1].1, 95.0);
        let e = read_query_range(Path::new("q.json"), json, Some("device")).unwrap_err();
        assert!(e.message.contains("no label \"device\""));
        let vector = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        assert!(read_query_range(Path::new("q.json"), vector, None)
            .unwrap_err()
            .message
            .contains("matrix"));
        assert!(read_query_range(Path::new("q.json"), "{not json", None).is_err());
    }

    #[test]
    fn cpu_trace_raises_and_resolves_an_anomaly() {
        let start = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let points = (0..100)
            .map(|i| {
                let v = if (30..60).contains(&i) { 98.0 } else { 20.0 };
                (start + chrono::Duration::seconds(i * 5), v)
            })
            .collect();
        let series = vec![Series {
            subject: "host".into(),
            points,
        }];
        let t = run(&RulesConfig::default(), Signal::CpuBusyPercent, &series);
        let high: Vec<_> = t.iter().filter(|t| t.event().rule == "cpu_high").collect();
        assert_eq!(high.len(), 2, "{t:?}");
        assert!(matches!(high[0], Transition::Started(_)));
        // 30 s hold at 5 s steps: fires on the 7th high point.
        assert_eq!(
            high[0].event().started_at,
            start + chrono::Duration::seconds(36 * 5)
        );
        assert!(matches!(high[1], Transition::Resolved(_)));

        let mut out = Vec::new();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cpu.csv");
        let csv: String = series[0]
            .points
            .iter()
            .map(|(t, v)| format!("{},{v}\n", t.timestamp()))
            .collect();
        std::fs::write(&file, csv).unwrap();
        let args = Args {
            signal: Signal::CpuBusyPercent,
            subject_label: None,
            rules: Vec::new(),
            labels: None,
            files: vec![file.clone()],
        };
        main(&RulesConfig::default(), &args, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(first["source"], file.display().to_string());
        assert_eq!(first["type"], "started");
        assert_eq!(first["event"]["rule"], "cpu_jump");
    }
}
