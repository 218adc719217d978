//! The PromQL of every view, in one place.
//!
//! Each fleet figure prefers the stack's recording rule (`instance:...`, see alert-rules/) and falls
//! back, per host, to the raw node_exporter expression: the rule is asked alone, and the raw
//! expression only for the hosts the rule did not answer for (all of them on a bare Prometheus
//! scraping node_exporter or sysmon-exporter, none on a stack with the rules loaded), so the rules
//! save what they exist to save and every column is still filled. The fallbacks are the rules' own expressions (same `[5m]` windows,
//! same device and filesystem selections, CPU busy = not idle and not iowait), so a mixed fleet
//! compares like with like.

use std::time::Duration;

use crate::fmt::prom_duration;

/// Filesystems watched for space: the same selection as the recording rule
/// `instance:node_filesystem_utilisation:max_ratio` (no memory-backed, read-only image or
/// container-layer filesystems, none the exporter could not stat).
pub const FS_FILTER: &str =
    r#"fstype!~"tmpfs|ramfs|devtmpfs|squashfs|iso9660|overlay|nsfs",device_error="""#;
/// Block devices counted for throughput, as `instance:node_disk_read_write_bytes:rate5m`:
/// device-mapper and md devices would count the bytes of the disks under them twice.
pub const DISK_FILTER: &str = r#"device!~"dm-.*|md.*""#;

/// How far back the fleet looks for the last successful scrape of a host that is down.
pub const DOWN_LOOKBACK: Duration = Duration::from_secs(86400);

/// Escapes a string for a regular expression (RE2) in a PromQL matcher.
pub fn regex_escape(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            s.push('\\');
        }
        s.push(c);
    }
    s
}

/// Quotes a label value for a PromQL selector.
pub fn quote(v: &str) -> String {
    let mut s = String::with_capacity(v.len() + 2);
    s.push('"');
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            _ => s.push(c),
        }
    }
    s.push('"');
    s
}

/// The figures of one fleet row, each an instant query keyed by `instance`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FleetQuery {
    Up,
    Cpu,
    Load,
    Mem,
    Swap,
    Temp,
    Fs,
    Disk,
    NetRx,
    NetTx,
    Usb,
    Anomalies,
    Uname,
    ActiveAnomalies,
    TopProcess,
}

impl FleetQuery {
    pub const ALL: [FleetQuery; 15] = [
        FleetQuery::Up,
        FleetQuery::Cpu,
        FleetQuery::Load,
        FleetQuery::Mem,
        FleetQuery::Swap,
        FleetQuery::Temp,
        FleetQuery::Fs,
        FleetQuery::Disk,
        FleetQuery::NetRx,
        FleetQuery::NetTx,
        FleetQuery::Usb,
        FleetQuery::Anomalies,
        FleetQuery::Uname,
        FleetQuery::ActiveAnomalies,
        FleetQuery::TopProcess,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FleetQuery::Up => "up",
            FleetQuery::Cpu => "cpu",
            FleetQuery::Load => "load per core",
            FleetQuery::Mem => "memory",
            FleetQuery::Swap => "swap",
            FleetQuery::Temp => "temperature",
            FleetQuery::Fs => "filesystem",
            FleetQuery::Disk => "disk",
            FleetQuery::NetRx => "network rx",
            FleetQuery::NetTx => "network tx",
            FleetQuery::Usb => "usb errors",
            FleetQuery::Anomalies => "anomaly count",
            FleetQuery::Uname => "uname",
            FleetQuery::ActiveAnomalies => "active anomalies",
            FleetQuery::TopProcess => "top process",
        }
    }
}

/// Which hosts a rule-backed fleet column falls back to its raw expression for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback<'a> {
    /// Every host of the job: the rule answered for none.
    Job,
    /// These hosts, which are up's but not the rule's.
    Instances(&'a [String]),
    /// Not known (`up` did not answer): the job's hosts less the rule's.
    Unknown,
}

/// Instant queries of the host view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HostQuery {
    Info,
    Cores,
    Memory,
    Temps,
    Filesystems,
    Limits,
    Clock,
    Storage,
    UsbDevices,
    UsbErrors,
    UsbErrorsRecent,
    Anomalies,
    AnomaliesRecent,
}

impl HostQuery {
    pub const ALL: [HostQuery; 13] = [
        HostQuery::Info,
        HostQuery::Cores,
        HostQuery::Memory,
        HostQuery::Temps,
        HostQuery::Filesystems,
        HostQuery::Limits,
        HostQuery::Clock,
        HostQuery::Storage,
        HostQuery::UsbDevices,
        HostQuery::UsbErrors,
        HostQuery::UsbErrorsRecent,
        HostQuery::Anomalies,
        HostQuery::AnomaliesRecent,
    ];
}

/// Range queries of the host view (history charts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HistoryQuery {
    Cpu,
    Mem,
    Swap,
    DiskRead,
    DiskWrite,
    NetRx,
    NetTx,
    Temp,
}

impl HistoryQuery {
    pub const ALL: [HistoryQuery; 8] = [
        HistoryQuery::Cpu,
        HistoryQuery::Mem,
        HistoryQuery::Swap,
        HistoryQuery::DiskRead,
        HistoryQuery::DiskWrite,
        HistoryQuery::NetRx,
        HistoryQuery::NetTx,
        HistoryQuery::Temp,
    ];
}

/// Instant queries of the anomalies view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AnomalyQuery {
    Active,
    Values,
    Thresholds,
    Recent,
    RecentLastSeen,
    Alerts,
    AlertsRecent,
    /// The ten signals with the highest mean adaptive score over the range.
    ScoreMean,
    /// Their highest score in the range.
    ScorePeak,
}

impl AnomalyQuery {
    pub const ALL: [AnomalyQuery; 9] = [
        AnomalyQuery::Active,
        AnomalyQuery::Values,
        AnomalyQuery::Thresholds,
        AnomalyQuery::Recent,
        AnomalyQuery::RecentLastSeen,
        AnomalyQuery::Alerts,
        AnomalyQuery::AlertsRecent,
        AnomalyQuery::ScoreMean,
        AnomalyQuery::ScorePeak,
    ];
}

/// Instant queries of the processes view (and of the host view's processes panel): the process
/// groups of one host, in process-exporter's names (`namedprocess_namegroup_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProcessQuery {
    /// Gauges: processes, threads, memory by type, open file descriptors, worst fd ratio,
    /// oldest start time, processes by state.
    Gauges,
    /// CPU seconds per second (user + system), i.e. cores used.
    Cpu,
    ReadBytes,
    WriteBytes,
}

impl ProcessQuery {
    pub const ALL: [ProcessQuery; 4] = [
        ProcessQuery::Gauges,
        ProcessQuery::Cpu,
        ProcessQuery::ReadBytes,
        ProcessQuery::WriteBytes,
    ];
}

/// Builds the PromQL for one job.
#[derive(Debug, Clone)]
pub struct Queries {
    job: String,
}

impl Queries {
    pub fn new(job: &str) -> Self {
        Queries {
            job: job.to_string(),
        }
    }

    pub fn job(&self) -> &str {
        &self.job
    }

    /// `job="<job>"`
    fn j(&self) -> String {
        format!("job={}", quote(&self.job))
    }

    /// `job="<job>",instance="<instance>"`
    fn ji(&self, instance: &str) -> String {
        format!("{},instance={}", self.j(), quote(instance))
    }

    /// The recording rule behind a fleet column, when the stack has one
    /// (alert-rules/sysmon.rules.yml).
    pub fn fleet_rule(&self, q: FleetQuery) -> Option<String> {
        let rule = match q {
            FleetQuery::Cpu => "instance:node_cpu_utilisation:rate5m",
            FleetQuery::Load => "instance:node_load1_per_cpu:ratio",
            FleetQuery::Mem => "instance:node_memory_utilisation:ratio",
            FleetQuery::Swap => "instance:node_swap_utilisation:ratio",
            FleetQuery::Temp => "instance:node_hwmon_temp_celsius:max",
            FleetQuery::Fs => "instance:node_filesystem_utilisation:max_ratio",
            FleetQuery::Disk => "instance:node_disk_read_write_bytes:rate5m",
            FleetQuery::NetRx => "instance:node_network_receive_bytes_excluding_lo:rate5m",
            FleetQuery::NetTx => "instance:node_network_transmit_bytes_excluding_lo:rate5m",
            FleetQuery::Usb => "instance:sysmon_usb_errors:rate5m",
            FleetQuery::Anomalies => "instance:sysmon_anomaly_active:sum",
            FleetQuery::Up
            | FleetQuery::Uname
            | FleetQuery::ActiveAnomalies
            | FleetQuery::TopProcess => return None,
        };
        Some(format!("{rule}{{{}}}", self.j()))
    }

    /// The first query of a fleet column on every refresh: its recording rule alone when it has
    /// one (cheap: one stored series per host), otherwise its own expression. The rule is not
    /// written `rule or on(instance) raw`, because PromQL evaluates both sides of `or` and the
    /// raw side is what the rule exists to save; the hosts the rule does not cover get
    /// [`Queries::fleet_fallback`] instead.
    pub fn fleet(&self, q: FleetQuery) -> String {
        self.fleet_rule(q)
            .unwrap_or_else(|| self.fleet_raw(q, &self.j()))
    }

    /// The raw expression of a rule-backed fleet column, for the hosts its rule did not answer
    /// for: `Fallback::Job`, every host of the job (the rule answered nothing: no rules loaded,
    /// which is then exactly what a bare Prometheus always ran); `Fallback::Instances`, only
    /// those hosts (a matcher on `instance` in every selector, so Prometheus reads their series
    /// alone); `Fallback::Unknown`, the hosts are not known (`up` failed), so the raw expression
    /// for the job `unless` the hosts the rule has. `None` for a column without a rule.
    pub fn fleet_fallback(&self, q: FleetQuery, hosts: Fallback<'_>) -> Option<String> {
        let rule = self.fleet_rule(q)?;
        Some(match hosts {
            Fallback::Job => self.fleet_raw(q, &self.j()),
            Fallback::Instances(instances) => {
                let alt: Vec<String> = instances.iter().map(|i| regex_escape(i)).collect();
                let sel = format!("{},instance=~{}", self.j(), quote(&alt.join("|")));
                self.fleet_raw(q, &sel)
            }
            Fallback::Unknown => {
                format!(
                    "({}) unless on(instance) {rule}",
                    self.fleet_raw(q, &self.j())
                )
            }
        })
    }

    /// A fleet column computed from the exporters' own series, `j` the selector's matchers (the
    /// job, and for a fallback the hosts). The rule-backed ones are the rules' own expressions.
    fn fleet_raw(&self, q: FleetQuery, j: &str) -> String {
        match q {
            FleetQuery::Up => format!("up{{{j}}}"),
            FleetQuery::Cpu => format!(
                "sum by (instance, job) (rate(node_cpu_seconds_total{{{j},mode!~\"idle|iowait\"}}[5m])) \
                 / (sum by (instance, job) (rate(node_cpu_seconds_total{{{j}}}[5m])) > 0)"
            ),
            FleetQuery::Load => format!(
                "node_load1{{{j}}} / on(instance, job) count by (instance, job) (node_cpu_seconds_total{{{j},mode=\"idle\"}})"
            ),
            FleetQuery::Mem => format!(
                "1 - node_memory_MemAvailable_bytes{{{j}}} / node_memory_MemTotal_bytes{{{j}}}"
            ),
            FleetQuery::Swap => format!(
                "(node_memory_SwapTotal_bytes{{{j}}} - node_memory_SwapFree_bytes{{{j}}}) \
                 / clamp_min(node_memory_SwapTotal_bytes{{{j}}}, 1)"
            ),
            FleetQuery::Temp => format!(
                "max by (instance, job) (node_hwmon_temp_celsius{{{j}}}) or on(instance) \
                 max by (instance, job) (node_thermal_zone_temp{{{j}}})"
            ),
            FleetQuery::Fs => format!(
                "max by (instance, job) (1 - node_filesystem_avail_bytes{{{j},{FS_FILTER}}} \
                 / (node_filesystem_size_bytes{{{j},{FS_FILTER}}} > 0))"
            ),
            FleetQuery::Disk => format!(
                "sum by (instance, job) (rate(node_disk_read_bytes_total{{{j},{DISK_FILTER}}}[5m]) \
                 + rate(node_disk_written_bytes_total{{{j},{DISK_FILTER}}}[5m]))"
            ),
            FleetQuery::NetRx => format!(
                "sum by (instance, job) (rate(node_network_receive_bytes_total{{{j},device!=\"lo\"}}[5m]))"
            ),
            FleetQuery::NetTx => format!(
                "sum by (instance, job) (rate(node_network_transmit_bytes_total{{{j},device!=\"lo\"}}[5m]))"
            ),
            FleetQuery::Usb => format!(
                "sum by (instance, job) (rate(sysmon_usb_errors_total{{{j}}}[5m])) or on(instance) \
                 (sum by (instance, job) (sysmon_usb_devices{{{j}}}) * 0)"
            ),
            FleetQuery::Anomalies => {
                format!("sum by (instance, job) (sysmon_anomaly_active{{{j}}})")
            }
            FleetQuery::Uname => format!("node_uname_info{{{j}}}"),
            FleetQuery::ActiveAnomalies => format!("sysmon_anomaly_active{{{j}}} == 1"),
            // The busiest process group of each host (process-exporter's series, or the sysmon
            // exporter's `process` collector, which has the same names); `other` is the sum of
            // the groups past the exporter's top N, not a group, so it is left out.
            FleetQuery::TopProcess => format!(
                "topk by (instance) (1, sum by (instance, job, groupname) \
                 (rate(namedprocess_namegroup_cpu_seconds_total{{{j},groupname!=\"other\"}}[5m])))"
            ),
        }
    }

    /// The instant queries of the host view; `range` is the view's time range ("recent").
    pub fn host(&self, q: HostQuery, instance: &str, range: Duration) -> String {
        let i = self.ji(instance);
        let r = prom_duration(range);
        match q {
            HostQuery::Info => format!(
                "{{__name__=~\"up|node_uname_info|node_os_info|sysmon_exporter_build_info\",{i}}}"
            ),
            HostQuery::Cores => format!(
                "sum by (cpu) (rate(node_cpu_seconds_total{{{i},mode!~\"idle|iowait\"}}[1m])) \
                 / (sum by (cpu) (rate(node_cpu_seconds_total{{{i}}}[1m])) > 0)"
            ),
            HostQuery::Memory => format!(
                "{{__name__=~\"node_memory_(MemTotal|MemAvailable|SwapTotal|SwapFree)_bytes\",{i}}}"
            ),
            HostQuery::Temps => format!(
                "{{__name__=~\"node_hwmon_temp_celsius|node_hwmon_temp_max_celsius|node_hwmon_temp_crit_celsius|node_hwmon_sensor_label|node_hwmon_chip_names|node_thermal_zone_temp\",{i}}}"
            ),
            HostQuery::Filesystems => format!(
                "{{__name__=~\"node_filesystem_size_bytes|node_filesystem_avail_bytes|node_filesystem_readonly\",{i},{FS_FILTER}}}"
            ),
            // Each figure with its limit, in one answer; a host without the filefd or conntrack
            // collector (or without the conntrack module) simply lacks the pair, which the view
            // shows as not reported rather than as zero.
            HostQuery::Limits => format!(
                "{{__name__=~\"node_filefd_allocated|node_filefd_maximum|node_nf_conntrack_entries|node_nf_conntrack_entries_limit\",{i}}}"
            ),
            // The kernel's clock discipline (timex collector): no answer means unknown, not
            // unsynchronised.
            HostQuery::Clock => format!(
                "{{__name__=~\"node_timex_sync_status|node_timex_offset_seconds|node_timex_maxerror_seconds\",{i}}}"
            ),
            // Storage and hardware health (node_exporter's mdadm, zfs, bonding and edac
            // collectors, the same names in sysmon-exporter): md arrays with their state and
            // disks, ZFS pool states, bonds, and the EDAC memory error counters. A host without
            // that hardware answers nothing, and the view shows nothing.
            HostQuery::Storage => format!(
                "{{__name__=~\"node_md_state|node_md_disks|node_md_disks_required|node_zfs_zpool_state|node_bonding_slaves|node_bonding_active|node_edac_correctable_errors_total|node_edac_uncorrectable_errors_total\",{i}}}"
            ),
            HostQuery::UsbDevices => format!("sysmon_usb_device_info{{{i}}}"),
            HostQuery::UsbErrors => {
                format!("sum by (port, kind) (sysmon_usb_errors_total{{{i}}})")
            }
            HostQuery::UsbErrorsRecent => format!(
                "sum by (port, kind) (increase(sysmon_usb_errors_total{{{i}}}[{r}]))"
            ),
            HostQuery::Anomalies => format!(
                "{{__name__=~\"sysmon_anomaly_active|sysmon_anomaly_value|sysmon_anomaly_threshold\",{i}}}"
            ),
            HostQuery::AnomaliesRecent => {
                format!("max_over_time(sysmon_anomaly_active{{{i}}}[{r}]) == 1")
            }
        }
    }

    /// The range queries of the host view; `step` sets the rate window so no point is a gap.
    pub fn history(&self, q: HistoryQuery, instance: &str, step: Duration) -> String {
        let i = self.ji(instance);
        let w = prom_duration(rate_window(step));
        match q {
            HistoryQuery::Cpu => format!(
                "sum(rate(node_cpu_seconds_total{{{i},mode!~\"idle|iowait\"}}[{w}])) \
                 / (sum(rate(node_cpu_seconds_total{{{i}}}[{w}])) > 0)"
            ),
            HistoryQuery::Mem => format!(
                "1 - node_memory_MemAvailable_bytes{{{i}}} / node_memory_MemTotal_bytes{{{i}}}"
            ),
            HistoryQuery::Swap => format!(
                "1 - node_memory_SwapFree_bytes{{{i}}} / (node_memory_SwapTotal_bytes{{{i}}} > 0)"
            ),
            HistoryQuery::DiskRead => {
                format!("sum(rate(node_disk_read_bytes_total{{{i},{DISK_FILTER}}}[{w}]))")
            }
            HistoryQuery::DiskWrite => {
                format!("sum(rate(node_disk_written_bytes_total{{{i},{DISK_FILTER}}}[{w}]))")
            }
            HistoryQuery::NetRx => {
                format!("sum(rate(node_network_receive_bytes_total{{{i},device!=\"lo\"}}[{w}]))")
            }
            HistoryQuery::NetTx => {
                format!("sum(rate(node_network_transmit_bytes_total{{{i},device!=\"lo\"}}[{w}]))")
            }
            HistoryQuery::Temp => format!("max(node_hwmon_temp_celsius{{{i}}})"),
        }
    }

    /// The last time each of `instances` (hosts that are down) was scraped successfully within
    /// [`DOWN_LOOKBACK`], at the resolution of the server's evaluation interval (the subquery's
    /// default step, as often as rules see `up`).
    pub fn last_up(&self, instances: &[String]) -> String {
        let alt: Vec<String> = instances.iter().map(|i| regex_escape(i)).collect();
        let sel = format!("{},instance=~{}", self.j(), quote(&alt.join("|")));
        format!(
            "max by (instance) (max_over_time(timestamp(up{{{sel}}} == 1)[{}:]))",
            prom_duration(DOWN_LOOKBACK)
        )
    }

    /// The instant queries of the processes view for one host. Rates over 1 m, as the host
    /// view's per-core figures: what the groups do now, not over five minutes.
    pub fn processes(&self, q: ProcessQuery, instance: &str) -> String {
        let i = self.ji(instance);
        match q {
            ProcessQuery::Gauges => format!(
                "{{__name__=~\"namedprocess_namegroup_(num_procs|num_threads|memory_bytes|open_filedesc|worst_fd_ratio|oldest_start_time_seconds|states)\",{i}}}"
            ),
            ProcessQuery::Cpu => format!(
                "sum by (groupname) (rate(namedprocess_namegroup_cpu_seconds_total{{{i}}}[1m]))"
            ),
            ProcessQuery::ReadBytes => format!(
                "sum by (groupname) (rate(namedprocess_namegroup_read_bytes_total{{{i}}}[1m]))"
            ),
            ProcessQuery::WriteBytes => format!(
                "sum by (groupname) (rate(namedprocess_namegroup_write_bytes_total{{{i}}}[1m]))"
            ),
        }
    }

    /// The instant queries of the anomalies view; `range` is how far back "recent" goes.
    pub fn anomalies(&self, q: AnomalyQuery, range: Duration) -> String {
        let j = self.j();
        let r = prom_duration(range);
        let active = format!("(sysmon_anomaly_active{{{j}}} == 1)");
        match q {
            AnomalyQuery::Active => format!("sysmon_anomaly_active{{{j}}} == 1"),
            AnomalyQuery::Values => format!(
                "sysmon_anomaly_value{{{j}}} and on(instance, rule, subject) {active}"
            ),
            AnomalyQuery::Thresholds => format!(
                "sysmon_anomaly_threshold{{{j}}} and on(instance, rule, subject) {active}"
            ),
            AnomalyQuery::Recent => format!(
                "(max_over_time(sysmon_anomaly_active{{{j}}}[{r}]) == 1) unless on(instance, rule, subject) {active}"
            ),
            AnomalyQuery::RecentLastSeen => format!(
                "max_over_time(timestamp(sysmon_anomaly_active{{{j}}} == 1)[{r}:1m])"
            ),
            AnomalyQuery::Alerts => "ALERTS".to_string(),
            AnomalyQuery::AlertsRecent => format!(
                "max_over_time(ALERTS{{alertstate=\"firing\"}}[{r}]) unless ignoring(alertstate) ALERTS"
            ),
            // The exporter's GET /api/v1/anomalies/rank over PromQL, for the whole job: the same
            // ranking as the anomalies dashboard's "Most anomalous signals".
            AnomalyQuery::ScoreMean => {
                format!("topk(10, avg_over_time(sysmon_anomaly_score{{{j}}}[{r}]))")
            }
            AnomalyQuery::ScorePeak => format!(
                "max_over_time(sysmon_anomaly_score{{{j}}}[{r}]) and on(instance, rule, subject) \
                 topk(10, avg_over_time(sysmon_anomaly_score{{{j}}}[{r}]))"
            ),
        }
    }
}

/// The rate window of a range query with this step: at least a minute (four 15 s scrapes) and at
/// least two steps, so consecutive points overlap and none comes out empty.
pub fn rate_window(step: Duration) -> Duration {
    let two = step * 2;
    let w = two.max(Duration::from_secs(60));
    Duration::from_secs(w.as_secs().max(1))
}

/// The step of a range query drawn `points` wide over `range`, rounded to whole seconds.
pub fn step_for(range: Duration, points: u32) -> Duration {
    let s = (range.as_secs_f64() / points.max(1) as f64).ceil().max(1.0);
    Duration::from_secs(s as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_quoted() {
        assert_eq!(quote("sysmon"), "\"sysmon\"");
        assert_eq!(quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
    }

    #[test]
    fn fleet_queries_ask_the_rule_alone_and_fall_back_for_the_hosts_it_misses() {
        let q = Queries::new("sysmon");
        assert_eq!(
            q.fleet(FleetQuery::Mem),
            "instance:node_memory_utilisation:ratio{job=\"sysmon\"}"
        );
        assert_eq!(q.fleet(FleetQuery::Up), "up{job=\"sysmon\"}");
        assert_eq!(q.fleet_fallback(FleetQuery::Up, Fallback::Job), None);
        assert_eq!(
            q.fleet_fallback(FleetQuery::Mem, Fallback::Job).unwrap(),
            "1 - node_memory_MemAvailable_bytes{job=\"sysmon\"} \
             / node_memory_MemTotal_bytes{job=\"sysmon\"}"
        );
        let hosts = ["10.0.0.1:9100".to_string(), "b:9100".to_string()];
        let cpu = q
            .fleet_fallback(FleetQuery::Cpu, Fallback::Instances(&hosts))
            .unwrap();
        assert_eq!(
            cpu.matches(r#"job="sysmon",instance=~"10\\.0\\.0\\.1:9100|b:9100""#)
                .count(),
            2,
            "every selector restricted to the hosts: {cpu}"
        );
        let unknown = q
            .fleet_fallback(FleetQuery::Temp, Fallback::Unknown)
            .unwrap();
        assert!(
            unknown.ends_with(
                ") unless on(instance) instance:node_hwmon_temp_celsius:max{job=\"sysmon\"}"
            ),
            "{unknown}"
        );
        for f in FleetQuery::ALL {
            let mut all = vec![q.fleet(f)];
            for h in [
                Fallback::Job,
                Fallback::Instances(&hosts),
                Fallback::Unknown,
            ] {
                all.extend(q.fleet_fallback(f, h));
            }
            assert_eq!(all.len() == 1, q.fleet_rule(f).is_none(), "{f:?}");
            if q.fleet_rule(f).is_some() {
                // The rule alone: `or` would have Prometheus evaluate the raw side too.
                assert!(!all[0].contains(" or "), "{}", all[0]);
            }
            for s in all {
                assert_eq!(s.matches('(').count(), s.matches(')').count(), "{s}");
                assert_eq!(s.matches('{').count(), s.matches('}').count(), "{s}");
            }
        }
    }

    #[test]
    fn host_queries_select_the_instance() {
        let q = Queries::new("node");
        let s = q.host(
            HostQuery::UsbErrorsRecent,
            "h:9100",
            Duration::from_secs(3600),
        );
        assert_eq!(
            s,
            "sum by (port, kind) (increase(sysmon_usb_errors_total{job=\"node\",instance=\"h:9100\"}[1h]))"
        );
        let l = q.host(HostQuery::Limits, "h:9100", Duration::from_secs(3600));
        assert_eq!(
            l,
            "{__name__=~\"node_filefd_allocated|node_filefd_maximum|node_nf_conntrack_entries|node_nf_conntrack_entries_limit\",job=\"node\",instance=\"h:9100\"}"
        );
        let c = q.host(HostQuery::Clock, "h:9100", Duration::from_secs(3600));
        assert!(
            c.starts_with("{__name__=~\"node_timex_sync_status|node_timex_offset_seconds|node_timex_maxerror_seconds\",job=\"node\""),
            "{c}"
        );
        let st = q.host(HostQuery::Storage, "h:9100", Duration::from_secs(3600));
        assert!(
            st.starts_with("{__name__=~\"node_md_state|node_md_disks|node_md_disks_required|node_zfs_zpool_state|")
                && st.ends_with(",job=\"node\",instance=\"h:9100\"}"),
            "{st}"
        );
        let h = q.history(HistoryQuery::Cpu, "h:9100", Duration::from_secs(300));
        assert!(h.contains("[10m]"), "{h}");
    }

    #[test]
    fn last_up_selects_the_down_hosts_by_an_escaped_regex() {
        let q = Queries::new("node");
        assert_eq!(regex_escape("10.0.0.1:9100"), "10\\.0\\.0\\.1:9100");
        assert_eq!(
            q.last_up(&["a.b:1".into(), "c:2".into()]),
            "max by (instance) (max_over_time(timestamp(up{job=\"node\",instance=~\"a\\\\.b:1|c:2\"} == 1)[1d:]))"
        );
    }

    #[test]
    fn steps_and_windows() {
        assert_eq!(
            step_for(Duration::from_secs(3600), 120),
            Duration::from_secs(30)
        );
        assert_eq!(
            step_for(Duration::from_secs(60), 120),
            Duration::from_secs(1)
        );
        assert_eq!(rate_window(Duration::from_secs(1)), Duration::from_secs(60));
        assert_eq!(
            rate_window(Duration::from_secs(3600)),
            Duration::from_secs(7200)
        );
    }
}
