//! Durations and numbers as people read them, shared by the terminal views and the text output.

use std::time::Duration;

/// Parses a Prometheus-style duration: `500ms`, `2s`, `5m`, `1h30m`, `7d`, `1w`, `1y`.
/// A bare number is seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(secs) = s.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Ok(Duration::from_secs_f64(secs));
        }
        return Err(format!("{s:?} is not a valid duration"));
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("{s:?}: a number needs a unit (ms, s, m, h, d, w, y)"))?;
        if num_len == 0 {
            return Err(format!(
                "{s:?} is not a duration: expected a number followed by ms, s, m, h, d, w or y"
            ));
        }
        let num: f64 = rest[..num_len]
            .parse()
            .map_err(|_| format!("{s:?}: bad number {:?}", &rest[..num_len]))?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        let mult = match unit {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            "w" => 7.0 * 86400.0,
            "y" => 365.0 * 86400.0,
            _ => {
                return Err(format!(
                    "{s:?}: unknown unit {unit:?} (use ms, s, m, h, d, w or y)"
                ))
            }
        };
        total += num * mult;
        rest = &rest[unit_len..];
    }
    Ok(Duration::from_secs_f64(total))
}

/// The shortest Prometheus duration for `d` (`90s` is `1m30s`, `86400s` is `1d`).
pub fn prom_duration(d: Duration) -> String {
    let ms = d.as_millis() as u64;
    if ms == 0 {
        return "0s".into();
    }
    if !ms.is_multiple_of(1000) {
        return format!("{ms}ms");
    }
    let mut secs = ms / 1000;
    let mut out = String::new();
    for (unit, len) in [("d", 86400), ("h", 3600), ("m", 60), ("s", 1)] {
        if secs >= len {
            out.push_str(&format!("{}{unit}", secs / len));
            secs %= len;
        }
    }
    out
}

/// A ratio (0-1) as a percentage with one decimal, or `-` for no data / NaN.
pub fn pct(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{:.1}%", x * 100.0),
        _ => "-".into(),
    }
}

/// Bytes with a binary unit (`1.5 GiB`).
pub fn bytes(v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut x = v;
    let mut i = 0;
    while x.abs() >= 1024.0 && i + 1 < units.len() {
        x /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{x:.0} {}", units[i])
    } else {
        format!("{x:.1} {}", units[i])
    }
}

/// A byte rate, compact (`12.3M/s`), with decimal units as `iostat` and `ifstat` print them.
pub fn rate(v: Option<f64>) -> String {
    let Some(x) = v.filter(|x| x.is_finite()) else {
        return "-".into();
    };
    let units = ["B", "k", "M", "G", "T"];
    let mut x = x;
    let mut i = 0;
    while x.abs() >= 1000.0 && i + 1 < units.len() {
        x /= 1000.0;
        i += 1;
    }
    if i == 0 {
        format!("{x:.0}B/s")
    } else if x < 10.0 {
        format!("{x:.1}{}/s", units[i])
    } else {
        format!("{x:.0}{}/s", units[i])
    }
}

/// A count with a decimal unit, compact (`214`, `12.8k`, `262k`, `9.2E`): three significant
/// digits at most, or `-`.
pub fn count(v: Option<f64>) -> String {
    let Some(x) = v.filter(|x| x.is_finite()) else {
        return "-".into();
    };
    let units = ["", "k", "M", "G", "T", "P", "E"];
    let mut x = x;
    let mut i = 0;
    while x.abs() >= 1000.0 && i + 1 < units.len() {
        x /= 1000.0;
        i += 1;
    }
    if i == 0 {
        format!("{x:.0}")
    } else if x.abs() < 100.0 {
        format!("{x:.1}{}", units[i])
    } else {
        format!("{x:.0}{}", units[i])
    }
}

/// A short time span in seconds with its sign and a fitting unit (`+0.4 ms`, `-120 ms`,
/// `+1.25 s`), or `-`; `signed` false leaves the sign out (for bounds such as a maximum error).
pub fn span(v: Option<f64>, signed: bool) -> String {
    let Some(x) = v.filter(|x| x.is_finite()) else {
        return "-".into();
    };
    let sign = match (signed, x < 0.0) {
        (false, _) => "",
        (true, true) => "-",
        (true, false) => "+",
    };
    let a = x.abs();
    if a >= 1.0 {
        format!("{sign}{a:.2} s")
    } else if a >= 0.01 {
        format!("{sign}{:.0} ms", a * 1e3)
    } else if a >= 0.001 {
        format!("{sign}{:.1} ms", a * 1e3)
    } else {
        format!("{sign}{:.0} µs", a * 1e6)
    }
}

/// A temperature in °C, or `-`.
pub fn celsius(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x:.0}°C"),
        _ => "-".into(),
    }
}

/// A plain number with up to two decimals, trimmed (`0.5`, `12`, `1.25`), or `-`.
pub fn num(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_nan() => "NaN".into(),
        Some(x) if x.is_infinite() => {
            if x > 0.0 {
                "+Inf".into()
            } else {
                "-Inf".into()
            }
        }
        Some(x) => {
            if x != 0.0 && (x.abs() >= 1e9 || x.abs() < 1e-3) {
                format!("{x:.3e}")
            } else {
                let s = format!("{x:.2}");
                let s = s.trim_end_matches('0').trim_end_matches('.');
                if s == "-0" {
                    "0".into()
                } else {
                    s.to_string()
                }
            }
        }
        None => "-".into(),
    }
}

/// A query value as Prometheus prints it (full precision, `NaN`, `+Inf`).
pub fn value(x: f64) -> String {
    if x.is_nan() {
        "NaN".into()
    } else if x.is_infinite() {
        if x > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{x}")
    }
}

/// How long ago, compactly: `3s`, `5m`, `2h`, `4d`.
pub fn age(secs: f64) -> String {
    let s = secs.max(0.0);
    if s < 60.0 {
        format!("{s:.0}s")
    } else if s < 3600.0 {
        format!("{:.0}m", s / 60.0)
    } else if s < 86400.0 {
        format!("{:.0}h", s / 3600.0)
    } else {
        format!("{:.0}d", s / 86400.0)
    }
}

/// Unix seconds now.
pub fn now_unix() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Unix time as `HH:MM:SS` UTC (the terminal has no time zone database to hand; UTC is unambiguous).
pub fn clock(t: f64) -> String {
    let s = t.max(0.0) as u64 % 86400;
    format!("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

/// Eight-level block characters for a value in `[0, 1]`.
pub const SPARK: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// A one-line sparkline of `values` scaled between `min` and `max`; gaps (NaN) are spaces.
pub fn sparkline(values: &[f64], min: f64, max: f64) -> String {
    let span = if max > min { max - min } else { 1.0 };
    values
        .iter()
        .map(|v| {
            if !v.is_finite() {
                ' '
            } else {
                let r = ((v - min) / span).clamp(0.0, 1.0);
                SPARK[((r * 7.0).round() as usize).min(7)]
            }
        })
        .collect()
}

/// A horizontal bar of `width` cells filled to `ratio` with eighth blocks.
pub fn bar(ratio: f64, width: usize) -> String {
    const PARTS: [char; 8] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
    let r = if ratio.is_finite() {
        ratio.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let eighths = (r * width as f64 * 8.0).round() as usize;
    let full = eighths / 8;
    let mut s: String = "█".repeat(full.min(width));
    if full < width {
        s.push(PARTS[eighths % 8]);
        s.push_str(&" ".repeat(width - full - 1));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_spans() {
        assert_eq!(count(Some(214.0)), "214");
        assert_eq!(count(Some(12832.0)), "12.8k");
        assert_eq!(count(Some(262144.0)), "262k");
        assert_eq!(count(Some(9_223_372_036_854_775_807.0)), "9.2E");
        assert_eq!(count(None), "-");
        assert_eq!(count(Some(f64::NAN)), "-");
        assert_eq!(span(Some(0.0004), true), "+400 µs");
        assert_eq!(span(Some(-0.12), true), "-120 ms");
        assert_eq!(span(Some(0.0034), true), "+3.4 ms");
        assert_eq!(span(Some(16.0), false), "16.00 s");
        assert_eq!(span(Some(-2.5), false), "2.50 s");
        assert_eq!(span(None, true), "-");
    }

    #[test]
    fn durations_parse_like_prometheus() {
        assert_eq!(parse_duration("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("7d").unwrap(), Duration::from_secs(604800));
        assert_eq!(parse_duration("1w").unwrap(), Duration::from_secs(604800));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        for bad in ["", "abc", "5x", "m", "-1", "1h-"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(prom_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(prom_duration(Duration::from_secs(604800)), "7d");
        assert_eq!(prom_duration(Duration::from_millis(1500)), "1500ms");
    }

    #[test]
    fn numbers_format_compactly() {
        assert_eq!(pct(Some(0.385)), "38.5%");
        assert_eq!(pct(Some(f64::NAN)), "-");
        assert_eq!(pct(None), "-");
        assert_eq!(rate(Some(0.0)), "0B/s");
        assert_eq!(rate(Some(1234.0)), "1.2k/s");
        assert_eq!(rate(Some(45_600_000.0)), "46M/s");
        assert_eq!(bytes(16451092480.0), "15.3 GiB");
        assert_eq!(celsius(Some(52.0)), "52°C");
        assert_eq!(num(Some(0.5)), "0.5");
        assert_eq!(num(Some(12.0)), "12");
        assert_eq!(num(Some(f64::NAN)), "NaN");
        assert_eq!(value(1.0), "1");
        assert_eq!(value(0.25), "0.25");
        assert_eq!(age(125.0), "2m");
        assert_eq!(clock(3661.0), "01:01:01");
    }

    #[test]
    fn bars_and_sparklines_have_the_asked_width() {
        assert_eq!(bar(0.5, 4), "██  ");
        assert_eq!(bar(1.0, 3), "███");
        assert_eq!(bar(0.0, 3), "   ");
        assert_eq!(bar(f64::NAN, 2), "  ");
        assert_eq!(bar(0.0625, 2).chars().count(), 2);
        assert_eq!(sparkline(&[0.0, 1.0, f64::NAN], 0.0, 1.0), "▁█ ");
    }
}
