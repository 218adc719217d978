//! The fleet table: one row per host, worst first.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use super::{finite, Instants, Severity};
use crate::queries::FleetQuery;

/// One host of the fleet table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FleetRow {
    pub instance: String,
    /// `node_uname_info`'s nodename.
    pub name: Option<String>,
    /// `up`; `None` when the target is not in `up` (e.g. federated data).
    pub up: Option<bool>,
    /// 0-1
    pub cpu: Option<f64>,
    pub load_per_core: Option<f64>,
    /// 0-1
    pub mem: Option<f64>,
    /// 0-1; `None` also when the host has no swap.
    pub swap: Option<f64>,
    /// Hottest sensor, °C.
    pub temp: Option<f64>,
    /// Fullest filesystem, 0-1.
    pub fs: Option<f64>,
    /// Bytes/s read + written.
    pub disk: Option<f64>,
    pub net_rx: Option<f64>,
    pub net_tx: Option<f64>,
    /// USB errors per second (5 m rate).
    pub usb_errors: Option<f64>,
    /// Active anomalies.
    pub anomalies: Option<f64>,
    pub worst_severity: Option<Severity>,
    /// The busiest process group and its CPU (cores used), when the host exports process groups.
    pub top_process: Option<(String, f64)>,
    /// A host that is down: the unix time of its last successful scrape (within the lookback of
    /// [`crate::queries::DOWN_LOOKBACK`]; `None` when it was not up at all within it).
    pub down_since: Option<f64>,
}

impl FleetRow {
    pub fn is_down(&self) -> bool {
        self.up == Some(false)
    }

    /// How bad this host looks: down first, then by its worst anomaly, then by its fullest resource.
    pub fn badness(&self) -> f64 {
        if self.is_down() {
            return 10_000.0;
        }
        let mut s = match self.worst_severity {
            Some(Severity::Critical) => 3000.0,
            Some(Severity::Warning) => 2000.0,
            Some(Severity::Info) => 1000.0,
            None => 0.0,
        };
        s += self.anomalies.unwrap_or(0.0).min(99.0) * 10.0;
        let pressure = [
            self.cpu,
            self.mem,
            self.fs,
            self.swap,
            self.temp.map(|t| t / 100.0),
            self.load_per_core.map(|l| l / 2.0),
        ]
        .into_iter()
        .flatten()
        .fold(0.0f64, f64::max);
        s + pressure.min(9.99) * 100.0
            + if self.usb_errors.unwrap_or(0.0) > 0.0 {
                50.0
            } else {
                0.0
            }
    }
}

/// Builds the fleet rows from the fleet queries: one row per `instance` seen in any result.
pub fn build_fleet(res: &Instants<FleetQuery>) -> Vec<FleetRow> {
    let mut rows: BTreeMap<String, FleetRow> = BTreeMap::new();
    for (q, samples) in res {
        for s in samples {
            let Some(inst) = s.labels.get("instance") else {
                continue;
            };
            let row = rows.entry(inst.clone()).or_insert_with(|| FleetRow {
                instance: inst.clone(),
                ..FleetRow::default()
            });
            let v = finite(s.v);
            let keep_max = |slot: &mut Option<f64>| {
                if let Some(v) = v {
                    *slot = Some(slot.map_or(v, |o| o.max(v)));
                }
            };
            match q {
                FleetQuery::Up => row.up = Some(s.v >= 1.0),
                FleetQuery::Cpu => keep_max(&mut row.cpu),
                FleetQuery::Load => keep_max(&mut row.load_per_core),
                FleetQuery::Mem => keep_max(&mut row.mem),
                FleetQuery::Swap => keep_max(&mut row.swap),
                FleetQuery::Temp => keep_max(&mut row.temp),
                FleetQuery::Fs => keep_max(&mut row.fs),
                FleetQuery::Disk => keep_max(&mut row.disk),
                FleetQuery::NetRx => keep_max(&mut row.net_rx),
                FleetQuery::NetTx => keep_max(&mut row.net_tx),
                FleetQuery::Usb => keep_max(&mut row.usb_errors),
                FleetQuery::Anomalies => keep_max(&mut row.anomalies),
                FleetQuery::Uname => {
                    if let Some(n) = s.labels.get("nodename").filter(|n| !n.is_empty()) {
                        row.name = Some(n.clone());
                    }
                }
                FleetQuery::TopProcess => {
                    if let (Some(g), Some(v)) = (s.labels.get("groupname"), v) {
                        if row.top_process.as_ref().is_none_or(|(_, o)| v > *o) {
                            row.top_process = Some((g.clone(), v));
                        }
                    }
                }
                FleetQuery::ActiveAnomalies => {
                    let sev =
                        Severity::parse(s.labels.get("severity").map(String::as_str).unwrap_or(""));
                    row.worst_severity = Some(row.worst_severity.map_or(sev, |o| o.max(sev)));
                }
            }
        }
    }
    // A host that is down has no fresh figures: Prometheus marks its series stale, but a rule
    // evaluated before the scrape failed may still answer. Show it as down, not as healthy.
    let mut out: Vec<FleetRow> = rows.into_values().collect();
    for r in &mut out {
        if r.is_down() {
            let keep = (r.instance.clone(), r.name.clone(), r.up);
            *r = FleetRow {
                instance: keep.0,
                name: keep.1,
                up: keep.2,
                ..FleetRow::default()
            };
        }
    }
    sort_rows(&mut out, SortKey::Worst, false);
    out
}

/// Sets `down_since` of the hosts that are down from the answer to `Queries::last_up`.
pub fn set_down_since(rows: &mut [FleetRow], last_up: &[crate::prom::Sample]) {
    for s in last_up {
        let Some(inst) = s.labels.get("instance") else {
            continue;
        };
        if let Some(r) = rows.iter_mut().find(|r| &r.instance == inst && r.is_down()) {
            r.down_since = finite(s.v);
        }
    }
}

/// Columns the fleet can be sorted by (`s` cycles through them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Worst,
    Host,
    Cpu,
    Load,
    Mem,
    Swap,
    Temp,
    Fs,
    Disk,
    Net,
    Usb,
    Anomalies,
}

impl SortKey {
    pub const ALL: [SortKey; 12] = [
        SortKey::Worst,
        SortKey::Host,
        SortKey::Cpu,
        SortKey::Load,
        SortKey::Mem,
        SortKey::Swap,
        SortKey::Temp,
        SortKey::Fs,
        SortKey::Disk,
        SortKey::Net,
        SortKey::Usb,
        SortKey::Anomalies,
    ];

    pub fn next(self) -> SortKey {
        let i = Self::ALL.iter().position(|k| *k == self).unwrap_or(0);
        Self::ALL[(i + 1) % Self::ALL.len()]
    }

    pub fn label(self) -> &'static str {
        match self {
            SortKey::Worst => "worst first",
            SortKey::Host => "host",
            SortKey::Cpu => "cpu",
            SortKey::Load => "load",
            SortKey::Mem => "memory",
            SortKey::Swap => "swap",
            SortKey::Temp => "temperature",
            SortKey::Fs => "filesystem",
            SortKey::Disk => "disk",
            SortKey::Net => "network",
            SortKey::Usb => "usb errors",
            SortKey::Anomalies => "anomalies",
        }
    }

    fn metric(self, r: &FleetRow) -> Option<f64> {
        match self {
            SortKey::Worst => Some(r.badness()),
            SortKey::Host => None,
            SortKey::Cpu => r.cpu,
            SortKey::Load => r.load_per_core,
            SortKey::Mem => r.mem,
            SortKey::Swap => r.swap,
            SortKey::Temp => r.temp,
            SortKey::Fs => r.fs,
            SortKey::Disk => r.disk,
            SortKey::Net => match (r.net_rx, r.net_tx) {
                (None, None) => None,
                (a, b) => Some(a.unwrap_or(0.0) + b.unwrap_or(0.0)),
            },
            SortKey::Usb => r.usb_errors,
            SortKey::Anomalies => r.anomalies,
        }
    }
}

/// Sorts rows: by name ascending for `Host`, otherwise highest first with missing values last;
/// ties by instance. `reverse` flips the order (missing values stay last).
pub fn sort_rows(rows: &mut [FleetRow], key: SortKey, reverse: bool) {
    rows.sort_by(|a, b| {
        let ord = if key == SortKey::Host {
            let o = a.instance.cmp(&b.instance);
            if reverse {
                o.reverse()
            } else {
                o
            }
        } else {
            match (key.metric(a), key.metric(b)) {
                (Some(x), Some(y)) => {
                    let o = y.total_cmp(&x);
                    if reverse {
                        o.reverse()
                    } else {
                        o
                    }
                }
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            }
        };
        ord.then_with(|| a.instance.cmp(&b.instance))
    });
}

/// Rows whose instance or name contains `filter` (case-insensitive); `down` and `up` as the whole
/// filter pick hosts by state.
pub fn filter_rows<'a>(rows: &'a [FleetRow], filter: &str) -> Vec<&'a FleetRow> {
    let f = filter.trim().to_lowercase();
    if f.is_empty() {
        return rows.iter().collect();
    }
    rows.iter()
        .filter(|r| match f.as_str() {
            "down" => r.is_down(),
            "up" => r.up == Some(true),
            _ => {
                r.instance.to_lowercase().contains(&f)
                    || r.name
                        .as_deref()
                        .map(|n| n.to_lowercase().contains(&f))
                        .unwrap_or(false)
            }
        })
        .collect()
}

/// Totals for the fleet header line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FleetSummary {
    pub hosts: usize,
    pub down: usize,
    pub anomalies: usize,
}

pub fn summarize(rows: &[FleetRow]) -> FleetSummary {
    FleetSummary {
        hosts: rows.len(),
        down: rows.iter().filter(|r| r.is_down()).count(),
        anomalies: rows
            .iter()
            .map(|r| r.anomalies.unwrap_or(0.0).max(0.0) as usize)
            .sum(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tests::sample;

    fn fleet_fixture() -> Instants<FleetQuery> {
        let mut r = Instants::new();
        r.insert(
            FleetQuery::Up,
            vec![
                sample(&[("instance", "a:1"), ("job", "sysmon")], 1.0),
                sample(&[("instance", "b:1"), ("job", "sysmon")], 1.0),
                sample(&[("instance", "c:1"), ("job", "sysmon")], 0.0),
            ],
        );
        r.insert(
            FleetQuery::Mem,
            vec![
                sample(&[("instance", "a:1")], 0.385),
                sample(&[("instance", "b:1")], 0.95),
                sample(&[("instance", "c:1")], 0.2),
            ],
        );
        r.insert(
            FleetQuery::Swap,
            vec![sample(&[("instance", "a:1")], f64::NAN)],
        );
        r.insert(
            FleetQuery::Uname,
            vec![sample(
                &[("instance", "a:1"), ("nodename", "thinkpad-x1")],
                1.0,
            )],
        );
        r.insert(
            FleetQuery::ActiveAnomalies,
            vec![
                sample(&[("instance", "a:1"), ("severity", "warning")], 1.0),
                sample(&[("instance", "a:1"), ("severity", "critical")], 1.0),
            ],
        );
        r.insert(
            FleetQuery::Anomalies,
            vec![sample(&[("instance", "a:1")], 2.0)],
        );
        r
    }

    #[test]
    fn fleet_rows_join_by_instance_and_put_the_worst_first() {
        let rows = build_fleet(&fleet_fixture());
        let order: Vec<&str> = rows.iter().map(|r| r.instance.as_str()).collect();
        // c is down, a has a critical anomaly, b only high memory.
        assert_eq!(order, vec!["c:1", "a:1", "b:1"]);
        let a = &rows[1];
        assert_eq!(a.name.as_deref(), Some("thinkpad-x1"));
        assert_eq!(a.mem, Some(0.385));
        assert_eq!(a.swap, None, "NaN (no swap) is no data");
        assert_eq!(a.worst_severity, Some(Severity::Critical));
        assert_eq!(a.anomalies, Some(2.0));
        let c = &rows[0];
        assert!(c.is_down());
        assert_eq!(c.mem, None, "a down host shows no stale figures");
        assert_eq!(
            summarize(&rows),
            FleetSummary {
                hosts: 3,
                down: 1,
                anomalies: 2
            }
        );
    }

    #[test]
    fn empty_results_make_an_empty_fleet() {
        assert!(build_fleet(&Instants::new()).is_empty());
        assert_eq!(summarize(&[]), FleetSummary::default());
    }

    #[test]
    fn sorting_and_filtering() {
        let mut rows = build_fleet(&fleet_fixture());
        sort_rows(&mut rows, SortKey::Mem, false);
        let order: Vec<&str> = rows.iter().map(|r| r.instance.as_str()).collect();
        assert_eq!(order, vec!["b:1", "a:1", "c:1"], "missing values last");
        sort_rows(&mut rows, SortKey::Mem, true);
        let order: Vec<&str> = rows.iter().map(|r| r.instance.as_str()).collect();
        assert_eq!(order, vec!["a:1", "b:1", "c:1"]);
        sort_rows(&mut rows, SortKey::Host, false);
        assert_eq!(rows[0].instance, "a:1");
        assert_eq!(filter_rows(&rows, "THINK").len(), 1);
        assert_eq!(filter_rows(&rows, "down")[0].instance, "c:1");
        assert_eq!(filter_rows(&rows, "").len(), 3);
        assert_eq!(filter_rows(&rows, "zzz").len(), 0);
        assert_eq!(SortKey::Anomalies.next(), SortKey::Worst);
    }
}
