//! Plain-text output of the non-interactive modes: the fleet table of `--once`, and the result
//! table or text chart of `sysmon-top query`. No colours, no terminal control: safe to pipe.

use crate::fmt;
use crate::model::FleetRow;
use crate::prom::{series_name, Data, QueryResult, Sample, Series};

/// Left-aligned columns separated by two spaces; the last column is not padded.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let n = header.len();
    let mut w: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate().take(n) {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<&str>, out: &mut String| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(c);
                s.push_str(&" ".repeat(w[i] - c.chars().count() + 2));
            }
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(header.to_vec(), &mut out);
    for r in rows {
        line(r.iter().map(String::as_str).collect(), &mut out);
    }
    out
}

/// The fleet as `--once` prints it, in the order given (worst first by default).
pub fn fleet_table(rows: &[FleetRow]) -> String {
    let header = [
        "HOST",
        "NAME",
        "UP",
        "CPU",
        "LOAD/C",
        "MEM",
        "SWAP",
        "TEMP",
        "FS",
        "DISK",
        "NET_RX",
        "NET_TX",
        "USB_ERR",
        "ANOMALIES",
        "TOP_PROCESS",
    ];
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let up = match r.up {
                Some(true) => "up".to_string(),
                Some(false) => match r.down_since {
                    Some(t) => format!("DOWN since {} UTC", fmt::clock(t)),
                    None => "DOWN".to_string(),
                },
                None => "?".to_string(),
            };
            let anomalies = match (r.anomalies, r.worst_severity) {
                (Some(n), Some(s)) if n > 0.0 => format!("{n:.0} ({})", s.label()),
                (Some(n), _) => format!("{n:.0}"),
                (None, _) => "-".into(),
            };
            vec![
                r.instance.clone(),
                r.name.clone().unwrap_or_else(|| "-".into()),
                up,
                fmt::pct(r.cpu),
                fmt::num(r.load_per_core),
                fmt::pct(r.mem),
                fmt::pct(r.swap),
                fmt::celsius(r.temp),
                fmt::pct(r.fs),
                fmt::rate(r.disk),
                fmt::rate(r.net_rx),
                fmt::rate(r.net_tx),
                r.usb_errors
                    .map(|x| format!("{:.0}/5m", x * 300.0))
                    .unwrap_or_else(|| "-".into()),
                anomalies,
                r.top_process
                    .as_ref()
                    .map(|(g, cpu)| format!("{g} {:.0}%", cpu * 100.0))
                    .unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    table(&header, &body)
}

/// The fields of one host for `--output json|csv`: raw numbers (ratios 0-1, bytes/s, °C,
/// errors/s, unix seconds), `None` for no value.
fn fleet_fields(r: &FleetRow) -> Vec<(&'static str, serde_json::Value)> {
    use serde_json::Value;
    let num = |v: Option<f64>| {
        v.filter(|x| x.is_finite())
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Null, Value::Number)
    };
    let text = |v: Option<&str>| v.map_or(Value::Null, |s| Value::String(s.to_string()));
    vec![
        ("instance", Value::String(r.instance.clone())),
        ("name", text(r.name.as_deref())),
        ("up", r.up.map_or(Value::Null, Value::Bool)),
        ("down_since", num(r.down_since)),
        ("cpu", num(r.cpu)),
        ("load_per_core", num(r.load_per_core)),
        ("memory", num(r.mem)),
        ("swap", num(r.swap)),
        ("temperature_celsius", num(r.temp)),
        ("filesystem", num(r.fs)),
        ("disk_bytes_per_second", num(r.disk)),
        ("network_receive_bytes_per_second", num(r.net_rx)),
        ("network_transmit_bytes_per_second", num(r.net_tx)),
        ("usb_errors_per_second", num(r.usb_errors)),
        ("anomalies", num(r.anomalies)),
        ("worst_severity", text(r.worst_severity.map(|s| s.label()))),
        (
            "top_process",
            text(r.top_process.as_ref().map(|(g, _)| g.as_str())),
        ),
        (
            "top_process_cpu",
            num(r.top_process.as_ref().map(|(_, c)| *c)),
        ),
    ]
}

/// The fleet as a JSON array of objects, one per host, in the order given.
pub fn fleet_json(rows: &[FleetRow]) -> String {
    let v: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            serde_json::Value::Object(
                fleet_fields(r)
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect(),
            )
        })
        .collect();
    let mut s = serde_json::to_string_pretty(&v).unwrap_or_else(|_| "[]".into());
    s.push('\n');
    s
}

/// A CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The fleet as CSV with a header line: the JSON fields, empty for no value.
pub fn fleet_csv(rows: &[FleetRow]) -> String {
    let header: Vec<&str> = fleet_fields(&FleetRow::default())
        .iter()
        .map(|(k, _)| *k)
        .collect();
    let mut out = header.join(",") + "\r\n";
    for r in rows {
        let line: Vec<String> = fleet_fields(r)
            .into_iter()
            .map(|(_, v)| match v {
                serde_json::Value::Null => String::new(),
                serde_json::Value::String(s) => csv_field(&s),
                other => other.to_string(),
            })
            .collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

/// An instant vector as a table of series and values.
pub fn vector_table(v: &[Sample]) -> String {
    if v.is_empty() {
        return "(empty result: no series match)\n".into();
    }
    let rows: Vec<Vec<String>> = v
        .iter()
        .map(|s| vec![series_name(&s.labels), fmt::value(s.v)])
        .collect();
    table(&["SERIES", "VALUE"], &rows)
}

/// Buckets `points` into `width` columns over `[t0, t1]`, keeping the last value of each.
fn resample(points: &[(f64, f64)], t0: f64, t1: f64, width: usize) -> Vec<f64> {
    let mut out = vec![f64::NAN; width];
    let span = (t1 - t0).max(1e-9);
    for (t, v) in points {
        let i = (((t - t0) / span) * (width as f64 - 1.0)).round();
        if i >= 0.0 && (i as usize) < width {
            out[i as usize] = *v;
        }
    }
    out
}

/// A range result as text: per series its name, a sparkline and min/max/last; a single series
/// also gets an 8-line chart with a value axis.
pub fn matrix_chart(m: &[Series], width: usize) -> String {
    if m.is_empty() {
        return "(empty result: no series match in this range)\n".into();
    }
    let width = width.clamp(10, 400);
    let (mut t0, mut t1) = (f64::INFINITY, f64::NEG_INFINITY);
    for s in m {
        for (t, _) in &s.points {
            t0 = t0.min(*t);
            t1 = t1.max(*t);
        }
    }
    let mut out = String::new();
    if t0.is_finite() {
        out.push_str(&format!(
            "from {} to {} UTC, {} series\n",
            fmt::clock(t0),
            fmt::clock(t1),
            m.len()
        ));
    }
    for s in m {
        let vals: Vec<f64> = s
            .points
            .iter()
            .map(|p| p.1)
            .filter(|v| v.is_finite())
            .collect();
        let lo = vals.iter().copied().reduce(f64::min);
        let hi = vals.iter().copied().reduce(f64::max);
        let last = s.points.last().map(|p| p.1);
        out.push_str(&format!(
            "{}\n  min {}  max {}  last {}  ({} points)\n",
            series_name(&s.labels),
            fmt::num(lo),
            fmt::num(hi),
            fmt::num(last),
            s.points.len()
        ));
        let cols = resample(&s.points, t0, t1, width);
        let (l, h) = (lo.unwrap_or(0.0), hi.unwrap_or(1.0));
        if m.len() == 1 && h > l {
            out.push_str(&ascii_plot(&cols, l, h, 8));
        } else {
            out.push_str(&format!("  {}\n", fmt::sparkline(&cols, l, h)));
        }
    }
    out
}

/// A multi-line plot: `height` rows of eighth blocks with the value axis on the left.
fn ascii_plot(cols: &[f64], lo: f64, hi: f64, height: usize) -> String {
    let span = hi - lo;
    let label_w = fmt::num(Some(hi)).len().max(fmt::num(Some(lo)).len());
    let mut out = String::new();
    for row in (0..height).rev() {
        let label = if row == height - 1 {
            fmt::num(Some(hi))
        } else if row == 0 {
            fmt::num(Some(lo))
        } else {
            String::new()
        };
        out.push_str(&format!("  {label:>label_w$} │"));
        for v in cols {
            if !v.is_finite() {
                out.push(' ');
                continue;
            }
            // Height of the bar in eighths of a row.
            let eighths = (((v - lo) / span) * (height * 8) as f64).round() as i64;
            let here = eighths - (row as i64) * 8;
            out.push(if here >= 8 {
                '█'
            } else if here <= 0 {
                if row == 0 {
                    '▁'
                } else {
                    ' '
                }
            } else {
                fmt::SPARK[(here as usize - 1).min(7)]
            });
        }
        out.push('\n');
    }
    out
}

/// Any query result as text.
pub fn query_result(r: &QueryResult, width: usize) -> String {
    let mut out = match &r.data {
        Data::Vector(v) => vector_table(v),
        Data::Matrix(m) => matrix_chart(m, width),
        Data::Scalar(_, v) => format!("scalar {}\n", fmt::value(*v)),
        Data::Str(_, s) => format!("string {s:?}\n"),
    };
    for w in &r.warnings {
        out.push_str(&format!("warning from Prometheus: {w}\n"));
    }
    for i in &r.infos {
        out.push_str(&format!("info from Prometheus: {i}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prom::Labels;

    #[test]
    fn tables_align() {
        let t = table(
            &["A", "BB"],
            &[
                vec!["xxx".into(), "1".into()],
                vec!["y".into(), "22".into()],
            ],
        );
        assert_eq!(t, "A    BB\nxxx  1\ny    22\n");
    }

    fn two_hosts() -> Vec<FleetRow> {
        vec![
            FleetRow {
                instance: "db:9100".into(),
                name: Some("db, \"prod\"".into()),
                up: Some(true),
                cpu: Some(0.25),
                mem: Some(0.5),
                top_process: Some(("postgres".into(), 1.5)),
                ..FleetRow::default()
            },
            FleetRow {
                instance: "vm:9100".into(),
                up: Some(false),
                down_since: Some(1_700_000_000.0),
                ..FleetRow::default()
            },
        ]
    }

    #[test]
    fn fleet_json_has_raw_numbers_and_nulls() {
        let v: serde_json::Value = serde_json::from_str(&fleet_json(&two_hosts())).unwrap();
        assert_eq!(v[0]["instance"], "db:9100");
        assert_eq!(v[0]["cpu"], 0.25);
        assert_eq!(v[0]["up"], true);
        assert_eq!(v[0]["top_process"], "postgres");
        assert_eq!(v[0]["top_process_cpu"], 1.5);
        assert_eq!(v[0]["swap"], serde_json::Value::Null);
        assert_eq!(v[1]["up"], false);
        assert_eq!(v[1]["down_since"], 1_700_000_000.0);
        assert_eq!(fleet_json(&[]), "[]\n");
    }

    #[test]
    fn fleet_csv_quotes_and_leaves_missing_values_empty() {
        let csv = fleet_csv(&two_hosts());
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert!(
            lines[0].starts_with("instance,name,up,down_since,cpu,"),
            "{csv}"
        );
        assert_eq!(lines[0].split(',').count(), 18);
        assert!(
            lines[1].starts_with("db:9100,\"db, \"\"prod\"\"\",true,,0.25,"),
            "{csv}"
        );
        assert!(lines[1].ends_with(",postgres,1.5"), "{csv}");
        assert!(
            lines[2].starts_with("vm:9100,,false,1700000000.0,,"),
            "{csv}"
        );
        assert_eq!(lines[3], "");
        assert_eq!(lines.len(), 4);
    }

    #[test]
    fn fleet_table_shows_down_hosts_and_dashes() {
        let rows = vec![
            FleetRow {
                instance: "a:1".into(),
                name: Some("thinkpad-x1".into()),
                up: Some(true),
                mem: Some(0.385),
                temp: Some(52.0),
                ..FleetRow::default()
            },
            FleetRow {
                instance: "b:1".into(),
                up: Some(false),
                ..FleetRow::default()
            },
        ];
        let t = fleet_table(&rows);
        let lines: Vec<&str> = t.lines().collect();
        assert!(
            lines[0].starts_with("HOST  NAME         UP    CPU  LOAD/C  MEM"),
            "{t}"
        );
        assert!(
            lines[1].starts_with("a:1   thinkpad-x1  up    -    -       38.5%  -     52°C"),
            "{t}"
        );
        assert!(lines[2].starts_with("b:1   -            DOWN"), "{t}");
    }

    #[test]
    fn range_results_become_text_charts() {
        let s = Series {
            labels: [("instance".to_string(), "a".to_string())]
                .into_iter()
                .collect::<Labels>(),
            points: (0..20).map(|i| (i as f64, i as f64)).collect(),
        };
        let out = matrix_chart(std::slice::from_ref(&s), 20);
        assert!(out.contains("{instance=\"a\"}"), "{out}");
        assert!(out.contains("min 0  max 19  last 19  (20 points)"), "{out}");
        assert!(out.contains('█'));
        assert_eq!(out.lines().filter(|l| l.contains('│')).count(), 8, "{out}");
        let two = matrix_chart(&[s.clone(), s], 20);
        assert!(two.contains("▁") && !two.contains('│'), "{two}");
    }
}
