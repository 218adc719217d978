//! What the views show, built from query results, one module per view. Pure: no I/O, no
//! terminal, so every rule here (which host is worst, which sensor limit is junk, which anomaly
//! is recent) is unit-tested. This file has what the views share.

use std::collections::BTreeMap;

use crate::prom::{Sample, Series};

pub mod anomalies;
pub mod fleet;
pub mod host;
pub mod processes;

pub use anomalies::*;
pub use fleet::*;
pub use host::*;
pub use processes::*;

/// Results of instant queries, by query.
pub type Instants<K> = BTreeMap<K, Vec<Sample>>;
/// Results of range queries, by query.
pub type Ranges<K> = BTreeMap<K, Vec<Series>>;

/// Severity of an anomaly or alert; ordered so that `Critical` is the greatest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn parse(s: &str) -> Severity {
        match s.to_ascii_lowercase().as_str() {
            "critical" | "crit" | "page" | "error" | "emergency" => Severity::Critical,
            "warning" | "warn" | "major" | "minor" => Severity::Warning,
            _ => Severity::Info,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

pub(crate) fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// Sort key that orders `temp10` after `temp9` and `1-1.10` after `1-1.9`.
pub(crate) fn natural(s: &str) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut digits = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            if !digits.is_empty() {
                out.push((
                    std::mem::take(&mut text),
                    digits.parse().unwrap_or(u64::MAX),
                ));
                digits.clear();
            }
            text.push(c);
        }
    }
    out.push((text, digits.parse().unwrap_or(0)));
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::prom::Sample;

    pub(crate) fn sample(labels: &[(&str, &str)], v: f64) -> Sample {
        Sample {
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            t: 1000.0,
            v,
        }
    }
}
