//! `bcache`: block-device caches from `<sysfs>/fs/bcache/<set-uuid>/`
//! (Documentation/admin-guide/bcache.rst, "Sysfs - cache set", "- backing device", "- cache
//! device", "- stats"), as node_exporter 1.12's `bcache_linux.go` exports them (enabled by
//! default), labelled `uuid` (the set), plus `backing_device` (`bdev0`, ...) or `cache_device`
//! (`cache0`, ...):
//!
//! * the set: `node_bcache_average_key_size_sectors`, `_btree_cache_size_bytes`,
//!   `_cache_available_percent`, `_congested`, `_root_usage_percent`, `_tree_depth`, and from
//!   `internal/` `_active_journal_entries`, `_btree_nodes`, `_btree_read_average_duration_seconds`,
//!   `_cache_read_races_total`;
//! * each backing device: `_dirty_data_bytes`, and from `writeback_rate_debug` `_dirty_target_bytes`,
//!   `_writeback_rate`, `_writeback_rate_proportional_term`, `_writeback_rate_integral_term`,
//!   `_writeback_change`; from `stats_total/` `_bypassed_bytes_total`, `_cache_hits_total`,
//!   `_cache_misses_total`, `_cache_bypass_hits_total`, `_cache_bypass_misses_total`,
//!   `_cache_miss_collisions_total`, and `_cache_readaheads_total` when not 0 (kernels since 5.15
//!   have no readahead statistics);
//! * each cache device: `_io_errors`, `_metadata_written_bytes_total`, `_written_bytes_total`, and
//!   with `--collector.bcache.priorityStats` (off by default: the kernel walks every bucket to
//!   print `priority_stats`) `_priority_stats_unused_percent`, `_priority_stats_metadata_percent`.
//!
//! Values are read as the Go procfs library reads them: the kernel's `bch_hprint` form (`1.2G`,
//! a binary multiplier and one digit that procfs scales by 1/10.24) or a plain number; signed in
//! `writeback_rate_debug`. Two upstream quirks are kept so that the same machine gives the same
//! numbers: `btree_read_average_duration_us` (microseconds) is multiplied by 1e-9 as if it were in
//! nanoseconds, and an unknown multiplier letter reads as 0.
//!
//! Where sysmon differs: node_exporter reports the set's `stats_total` for every backing device
//! (a path slip in procfs), sysmon each backing device's own (the same with one backing device);
//! it reads only the files it exports (not `stats_five_minute/`), and a malformed or vanished
//! file fails the collector after the other sets are published (node_exporter publishes none).
//! No `<sysfs>/fs/bcache` (no bcache module) is no data.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::{
    sorted_dir_entries, sorted_dir_entries_if_present, BuildContext, CollectError, Collector,
    Registration, Roots,
};
use crate::metrics::MetricSet;

pub const REGISTRATION: Registration = Registration {
    name: "bcache",
    default_enabled: true,
    help: "bcache cache sets from /sys/fs/bcache",
    flags: <Args as clap::Args>::augment_args,
    cadence: super::Cadence::Slow,
    isolation: super::Isolation::Thread,
    build,
};

/// Flags of the `bcache` collector (node_exporter's names; the last of the two given wins).
#[derive(Debug, Clone, clap::Args)]
#[group(id = "bcache_flags")]
#[command(next_help_heading = "Collector bcache")]
pub struct Args {
    /// Export the cache devices' priority_stats (expensive for the kernel to print).
    #[arg(
        long = "collector.bcache.priorityStats",
        id = "bcache_priorityStats",
        overrides_with = "bcache_no_priorityStats"
    )]
    pub priority_stats: bool,
    /// Do not export priority_stats (the default).
    #[arg(
        long = "no-collector.bcache.priorityStats",
        id = "bcache_no_priorityStats",
        overrides_with = "bcache_priorityStats"
    )]
    pub no_priority_stats: bool,
}

fn build(ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    let args: Args = ctx.args()?;
    Ok(Box::new(BcacheCollector {
        roots: ctx.roots.clone(),
        priority_stats: args.priority_stats && !args.no_priority_stats,
    }))
}

pub struct BcacheCollector {
    roots: Roots,
    priority_stats: bool,
}

/// Parses a number as procfs's `dehumanize` does: a trailing byte above `9` is a multiplier
/// (`k`, `M`, `G`, `T`, `P`, `E`, `Z`, `Y`: powers of 1024; any other reads as 0) applied to a
/// `bch_hprint` mantissa (`<int>.<digit>`, the digit divided by 10.24), else the whole text is a
/// float. The result is truncated to an integer.
pub fn dehumanize(text: &str) -> Option<u64> {
    let last = *text.as_bytes().last()?;
    let value = if last > b'9' {
        let mul = match last {
            b'k' => 1u64 << 10,
            b'M' => 1 << 20,
            b'G' => 1 << 30,
            b'T' => 1 << 40,
            b'P' => 1 << 50,
            b'E' => 1 << 60,
            // Zi and Yi do not fit 64 bits; as floats they saturate below, as Go's conversion.
            b'Z' => {
                return pseudo_float(&text[..text.len() - 1]).map(|m| to_u64(m * 2f64.powi(70)))
            }
            b'Y' => {
                return pseudo_float(&text[..text.len() - 1]).map(|m| to_u64(m * 2f64.powi(80)))
            }
            _ => 0,
        };
        // The last byte may be the end of a multi-byte character: then it is no boundary.
        let mantissa = text.get(..text.len() - 1)?;
        pseudo_float(mantissa)? * mul as f64
    } else {
        go_float(text)?
    };
    Some(to_u64(value))
}

/// Go's `uint64(f)` on amd64 for what the kernel prints, saturating instead of wrapping.
fn to_u64(v: f64) -> u64 {
    if v.is_nan() {
        0
    } else {
        v as u64
    }
}

/// `strconv.ParseFloat(s, 64)` for decimal text.
fn go_float(s: &str) -> Option<f64> {
    if s.is_empty() || s.contains(char::is_whitespace) {
        return None;
    }
    s.parse().ok()
}

/// procfs `parsePseudoFloat`: `<int>` or `<int>.<frac>`, the fraction divided by 10.24 (what
/// follows a second dot is ignored).
fn pseudo_float(s: &str) -> Option<f64> {
    let mut parts = s.split('.');
    let int = go_float(parts.next()?)?;
    match parts.next() {
        None => Some(int),
        Some(frac) => Some(int + go_float(frac)? / 10.24),
    }
}

/// procfs `dehumanizeSigned`: an optional `-` before a [`dehumanize`]d value.
pub fn dehumanize_signed(text: &str) -> Option<i64> {
    let negative = text.starts_with('-');
    let v = dehumanize(text.strip_prefix('-').unwrap_or(text))?;
    Some(if negative {
        (v as i64).wrapping_neg()
    } else {
        v as i64
    })
}

/// A backing device's `writeback_rate_debug`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WritebackRateDebug {
    pub rate: u64,
    pub dirty: u64,
    pub target: u64,
    pub proportional: i64,
    pub integral: i64,
    pub change: i64,
    pub next_io_ms: i64,
}

/// Parses `writeback_rate_debug` (`rate:\t1.1M/sec`, `dirty:\t1.6G`, `target:`, `proportional:`,
/// `integral:`, `change:\t-10.2k/sec`, `next io:\t-1006ms`; other lines ignored).
pub fn parse_writeback_rate_debug(text: &str) -> Result<WritebackRateDebug, String> {
    let mut wrd = WritebackRateDebug::default();
    for line in text.lines() {
        let last = || line.split_whitespace().last().unwrap_or("");
        let bad = || format!("unexpected value in {line:?}");
        if line.starts_with("rate:") {
            wrd.rate = dehumanize(strip_suffix(last(), "/sec")).ok_or_else(bad)?;
        } else if line.starts_with("dirty:") {
            wrd.dirty = dehumanize(last()).ok_or_else(bad)?;
        } else if line.starts_with("target:") {
            wrd.target = dehumanize(last()).ok_or_else(bad)?;
        } else if line.starts_with("proportional:") {
            wrd.proportional = dehumanize_signed(last()).ok_or_else(bad)?;
        } else if line.starts_with("integral:") {
            wrd.integral = dehumanize_signed(last()).ok_or_else(bad)?;
        } else if line.starts_with("change:") {
            wrd.change = dehumanize_signed(strip_suffix(last(), "/sec")).ok_or_else(bad)?;
        } else if line.starts_with("next io:") {
            wrd.next_io_ms = parse_go_int(strip_suffix(last(), "ms")).ok_or_else(bad)?;
        }
    }
    Ok(wrd)
}

fn strip_suffix<'a>(s: &'a str, suffix: &str) -> &'a str {
    s.strip_suffix(suffix).unwrap_or(s)
}

fn parse_go_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A cache device's `priority_stats`: (unused %, metadata %).
pub fn parse_priority_stats(text: &str) -> Result<(u64, u64), String> {
    let (mut unused, mut metadata) = (0, 0);
    for line in text.lines() {
        let slot = if line.starts_with("Unused:") {
            &mut unused
        } else if line.starts_with("Metadata:") {
            &mut metadata
        } else {
            continue;
        };
        let last = line.split_whitespace().last().unwrap_or("");
        let digits = strip_suffix(last, "%");
        *slot = digits
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| digits.parse().ok())
            .flatten()
            .ok_or_else(|| format!("expected a percentage in {line:?}"))?;
    }
    Ok((unused, metadata))
}

/// The counters of a `stats_*` directory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeriodStats {
    pub bypassed: u64,
    pub cache_hits: u64,
    pub cache_misses: u64,
    pub cache_bypass_hits: u64,
    pub cache_bypass_misses: u64,
    pub cache_miss_collisions: u64,
    pub cache_readaheads: u64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Backing {
    pub name: String,
    pub dirty_data: u64,
    pub writeback: WritebackRateDebug,
    pub total: PeriodStats,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cache {
    pub name: String,
    pub io_errors: u64,
    pub metadata_written: u64,
    pub written: u64,
    /// (unused %, metadata %) when read.
    pub priority: Option<(u64, u64)>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct CacheSet {
    pub uuid: String,
    pub average_key_size: u64,
    pub btree_cache_size: u64,
    pub cache_available_percent: u64,
    pub congested: u64,
    pub root_usage_percent: u64,
    pub tree_depth: u64,
    pub active_journal_entries: u64,
    pub btree_nodes: u64,
    pub btree_read_average_duration_us: u64,
    pub cache_read_races: u64,
    pub backing: Vec<Backing>,
    pub caches: Vec<Cache>,
}

/// Reads one value file: its text without the trailing newline, [`dehumanize`]d.
fn read_value(path: PathBuf) -> Result<u64, CollectError> {
    let text = crate::collector::read_text(&path).map_err(|e| CollectError::io(&path, e))?;
    let text = text.strip_suffix('\n').unwrap_or(&text);
    dehumanize(text)
        .ok_or_else(|| CollectError::parse(&path, format!("expected a number, found {text:?}")))
}

fn read_text(path: &Path) -> Result<String, CollectError> {
    crate::collector::read_text(path).map_err(|e| CollectError::io(path, e))
}

fn read_period(dir: &Path) -> Result<PeriodStats, CollectError> {
    let v = |name: &str| read_value(dir.join(name));
    Ok(PeriodStats {
        bypassed: v("bypassed")?,
        cache_hits: v("cache_hits")?,
        cache_misses: v("cache_misses")?,
        cache_bypass_hits: v("cache_bypass_hits")?,
        cache_bypass_misses: v("cache_bypass_misses")?,
        cache_miss_collisions: v("cache_miss_collisions")?,
        // Gone since Linux 5.15.
        cache_readaheads: match read_value(dir.join("cache_readaheads")) {
            Err(CollectError::Io { source, .. }) if source.kind() == ErrorKind::NotFound => 0,
            other => other?,
        },
    })
}

/// Names in `dir` of `prefix` followed by a digit (`bdev0`, `cache0`), sorted.
fn numbered(dir: &[std::fs::DirEntry], prefix: &str) -> Vec<(String, PathBuf)> {
    dir.iter()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            name.strip_prefix(prefix)?
                .starts_with(|c: char| c.is_ascii_digit())
                .then(|| (name.clone(), e.path()))
        })
        .collect()
}

/// Reads the cache set directory `path`.
pub fn read_set(path: &Path, uuid: &str, priority_stats: bool) -> Result<CacheSet, CollectError> {
    let v = |rel: &str| read_value(path.join(rel));
    let mut set = CacheSet {
        uuid: uuid.to_string(),
        average_key_size: v("average_key_size")?,
        btree_cache_size: v("btree_cache_size")?,
        cache_available_percent: v("cache_available_percent")?,
        congested: v("congested")?,
        root_usage_percent: v("root_usage_percent")?,
        tree_depth: v("tree_depth")?,
        active_journal_entries: v("internal/active_journal_entries")?,
        btree_nodes: v("internal/btree_nodes")?,
        btree_read_average_duration_us: v("internal/btree_read_average_duration_us")?,
        cache_read_races: v("internal/cache_read_races")?,
        ..CacheSet::default()
    };
    let entries = sorted_dir_entries(path)?;
    for (name, dir) in numbered(&entries, "bdev") {
        let debug_path = dir.join("writeback_rate_debug");
        let writeback = parse_writeback_rate_debug(&read_text(&debug_path)?)
            .map_err(|e| CollectError::parse(&debug_path, e))?;
        set.backing.push(Backing {
            dirty_data: read_value(dir.join("dirty_data"))?,
            writeback,
            total: read_period(&dir.join("stats_total"))?,
            name,
        });
    }
    for (name, dir) in numbered(&entries, "cache") {
        let priority = if priority_stats {
            let p = dir.join("priority_stats");
            Some(parse_priority_stats(&read_text(&p)?).map_err(|e| CollectError::parse(&p, e))?)
        } else {
            None
        };
        set.caches.push(Cache {
            io_errors: read_value(dir.join("io_errors"))?,
            metadata_written: read_value(dir.join("metadata_written"))?,
            written: read_value(dir.join("written"))?,
            priority,
            name,
        });
    }
    Ok(set)
}

/// Adds one set's series.
pub fn export_set(set: &CacheSet, out: &mut MetricSet) {
    let uuid = [("uuid", set.uuid.as_str())];
    for (name, help, value) in [
        (
            "node_bcache_average_key_size_sectors",
            "Average amount of data per key in the btree, in sectors.",
            set.average_key_size as f64,
        ),
        (
            "node_bcache_btree_cache_size_bytes",
            "Memory used by the btree cache.",
            set.btree_cache_size as f64,
        ),
        (
            "node_bcache_cache_available_percent",
            "Percentage of the cache without dirty data, usable for writeback (may hold clean cached data).",
            set.cache_available_percent as f64,
        ),
        ("node_bcache_congested", "Congestion of the cache set.", set.congested as f64),
        (
            "node_bcache_root_usage_percent",
            "Percentage of the btree's root node in use (the tree grows deeper when it is full).",
            set.root_usage_percent as f64,
        ),
        ("node_bcache_tree_depth", "Depth of the btree.", set.tree_depth as f64),
        (
            "node_bcache_active_journal_entries",
            "Journal entries newer than the index.",
            set.active_journal_entries as f64,
        ),
        ("node_bcache_btree_nodes", "Nodes in the btree.", set.btree_nodes as f64),
        (
            "node_bcache_btree_read_average_duration_seconds",
            "Average btree read duration (the kernel's microseconds times 1e-9, as node_exporter).",
            set.btree_read_average_duration_us as f64 * 1e-9,
        ),
    ] {
        out.gauge(name, help).sample(&uuid, value);
    }
    out.counter(
        "node_bcache_cache_read_races_total",
        "Reads from the cache whose bucket was reused and invalidated while they ran (the pointer was stale when they completed).",
    )
    .sample(&uuid, set.cache_read_races as f64);

    for b in &set.backing {
        let labels = [
            ("uuid", set.uuid.as_str()),
            ("backing_device", b.name.as_str()),
        ];
        for (name, help, value) in [
            (
                "node_bcache_dirty_data_bytes",
                "Dirty data of this backing device in the cache.",
                b.dirty_data as f64,
            ),
            (
                "node_bcache_dirty_target_bytes",
                "Dirty data target of this backing device (writeback_rate_debug).",
                b.writeback.target as f64,
            ),
            (
                "node_bcache_writeback_rate",
                "Current writeback rate of this backing device, in bytes per second.",
                b.writeback.rate as f64,
            ),
            (
                "node_bcache_writeback_rate_proportional_term",
                "Proportional term of the writeback rate controller.",
                b.writeback.proportional as f64,
            ),
            (
                "node_bcache_writeback_rate_integral_term",
                "Integral term of the writeback rate controller.",
                b.writeback.integral as f64,
            ),
            (
                "node_bcache_writeback_change",
                "Last change of the writeback rate of this backing device.",
                b.writeback.change as f64,
            ),
        ] {
            out.gauge(name, help).sample(&labels, value);
        }
        let t = &b.total;
        for (name, help, value) in [
            (
                "node_bcache_bypassed_bytes_total",
                "I/O (reads and writes) that bypassed the cache, in bytes.",
                t.bypassed,
            ),
            (
                "node_bcache_cache_hits_total",
                "Cache hits, counted per I/O as bcache sees it.",
                t.cache_hits,
            ),
            (
                "node_bcache_cache_misses_total",
                "Cache misses, counted per I/O as bcache sees it.",
                t.cache_misses,
            ),
            (
                "node_bcache_cache_bypass_hits_total",
                "Hits of I/O meant to bypass the cache.",
                t.cache_bypass_hits,
            ),
            (
                "node_bcache_cache_bypass_misses_total",
                "Misses of I/O meant to bypass the cache.",
                t.cache_bypass_misses,
            ),
            (
                "node_bcache_cache_miss_collisions_total",
                "Inserts after a cache miss that raced with a write (the data was already there).",
                t.cache_miss_collisions,
            ),
        ] {
            out.counter(name, help).sample(&labels, value as f64);
        }
        if t.cache_readaheads != 0 {
            out.counter(
                "node_bcache_cache_readaheads_total",
                "Readaheads done by the cache.",
            )
            .sample(&labels, t.cache_readaheads as f64);
        }
    }

    for c in &set.caches {
        let labels = [
            ("uuid", set.uuid.as_str()),
            ("cache_device", c.name.as_str()),
        ];
        out.gauge(
            "node_bcache_io_errors",
            "Errors of the cache device, decayed by io_error_halflife.",
        )
        .sample(&labels, c.io_errors as f64);
        out.counter(
            "node_bcache_metadata_written_bytes_total",
            "Metadata (btree and other non-data writes) written to the cache device.",
        )
        .sample(&labels, c.metadata_written as f64);
        out.counter(
            "node_bcache_written_bytes_total",
            "Data written to the cache device.",
        )
        .sample(&labels, c.written as f64);
        if let Some((unused, metadata)) = c.priority {
            out.gauge(
                "node_bcache_priority_stats_unused_percent",
                "Percentage of the cache device holding no data.",
            )
            .sample(&labels, unused as f64);
            out.gauge(
                "node_bcache_priority_stats_metadata_percent",
                "Percentage of the cache device taken by bcache's metadata.",
            )
            .sample(&labels, metadata as f64);
        }
    }
}

impl Collector for BcacheCollector {
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        let root = self.roots.sys("fs/bcache");
        let Some(entries) = sorted_dir_entries_if_present(&root)? else {
            return Ok(());
        };
        let mut errors = Vec::new();
        for entry in entries {
            // Sets are named by their UUID; `register`, `register_quiet`, ... have no dash.
            let Ok(uuid) = entry.file_name().into_string() else {
                continue;
            };
            if !uuid.contains('-') {
                continue;
            }
            match read_set(&entry.path(), &uuid, self.priority_stats) {
                Ok(set) => export_set(&set, out),
                Err(e) => errors.push(e),
            }
        }
        super::first_error(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::fixture_roots;
    use proptest::prelude::*;

    #[test]
    fn dehumanize_forms() {
        assert_eq!(dehumanize("0"), Some(0));
        assert_eq!(dehumanize("1023"), Some(1023));
        assert_eq!(dehumanize("2k"), Some(2048));
        // procfs scales the digit after the point by 1/10.24.
        assert_eq!(
            dehumanize("1.5M"),
            Some(((1.0 + 5.0 / 10.24) * 1048576.0) as u64)
        );
        assert_eq!(
            dehumanize("1.2G"),
            Some(((1.0 + 2.0 / 10.24) * 1073741824.0) as u64)
        );
        assert_eq!(dehumanize("3.0T"), Some(3 << 40));
        assert_eq!(dehumanize("12.5"), Some(12));
        assert_eq!(dehumanize("7x"), Some(0));
        assert_eq!(dehumanize(""), None);
        assert_eq!(dehumanize("k"), None);
        assert_eq!(dehumanize("twelve"), None);
        assert_eq!(dehumanize("1 2"), None);
        assert_eq!(
            dehumanize_signed("-118.5M"),
            Some(-(((118.0 + 5.0 / 10.24) * 1048576.0) as i64))
        );
        assert_eq!(dehumanize_signed("-512"), Some(-512));
    }

    #[test]
    fn writeback_rate_debug() {
        let text = "rate:\t\t4.0k/sec\ndirty:\t\t1.2G\ntarget:\t\t5.8G\nproportional:\t-118.5M\nintegral:\t0\nchange:\t\t-10.2k/sec\nnext io:\t33ms\n";
        let wrd = parse_writeback_rate_debug(text).unwrap();
        assert_eq!(wrd.rate, 4096);
        assert_eq!(wrd.dirty, dehumanize("1.2G").unwrap());
        assert_eq!(wrd.target, dehumanize("5.8G").unwrap());
        assert_eq!(wrd.proportional, -(dehumanize("118.5M").unwrap() as i64));
        assert_eq!(wrd.integral, 0);
        assert_eq!(wrd.change, -(dehumanize("10.2k").unwrap() as i64));
        assert_eq!(wrd.next_io_ms, 33);
        assert!(parse_writeback_rate_debug("rate:\n").is_err());
        assert!(parse_writeback_rate_debug("next io:\tsoon\n").is_err());
    }

    #[test]
    fn priority_stats() {
        let text = "Unused:\t\t12%\nClean:\t\t71%\nDirty:\t\t16%\nMetadata:\t1%\nAverage:\t9732\nSectors per Q:\t7812480\nQuantiles:\t[22 187 1021]\n";
        assert_eq!(parse_priority_stats(text), Ok((12, 1)));
        assert!(parse_priority_stats("Unused:\tmost\n").is_err());
    }

    fn value(out: &MetricSet, name: &str, label: (&str, &str)) -> Option<f64> {
        out.get(name)?
            .samples
            .iter()
            .find(|s| s.labels.iter().any(|(k, v)| k == label.0 && v == label.1))
            .map(|s| s.value)
    }

    #[test]
    fn server_fixture() {
        for priority_stats in [false, true] {
            let collector = BcacheCollector {
                roots: fixture_roots("server"),
                priority_stats,
            };
            let mut out = MetricSet::new();
            collector.collect(&mut out).unwrap();
            assert_eq!(
                value(
                    &out,
                    "node_bcache_tree_depth",
                    ("uuid", "5f3e7a12-8c4b-4d9e-a1f6-2b7c9d0e3a48")
                ),
                Some(2.0)
            );
            assert_eq!(
                value(
                    &out,
                    "node_bcache_dirty_data_bytes",
                    ("backing_device", "bdev0")
                ),
                Some(dehumanize("1.2G").unwrap() as f64)
            );
            assert_eq!(
                value(&out, "node_bcache_io_errors", ("cache_device", "cache0")),
                Some(0.0)
            );
            assert_eq!(
                value(
                    &out,
                    "node_bcache_priority_stats_unused_percent",
                    ("cache_device", "cache0")
                ),
                priority_stats.then_some(12.0)
            );
        }
    }

    #[test]
    fn no_bcache_is_no_data() {
        for machine in ["laptop", "vm"] {
            let collector = BcacheCollector {
                roots: fixture_roots(machine),
                priority_stats: true,
            };
            let mut out = MetricSet::new();
            collector.collect(&mut out).unwrap();
            assert_eq!(out.sample_count(), 0);
        }
    }

    #[test]
    fn broken_fixture_fails_naming_the_file() {
        let collector = BcacheCollector {
            roots: fixture_roots("broken"),
            priority_stats: false,
        };
        let mut out = MetricSet::new();
        let err = collector.collect(&mut out).unwrap_err().to_string();
        assert!(err.contains("cache_available_percent"), "{err}");
        // The well-formed set is still published.
        assert!(out.get("node_bcache_tree_depth").is_some());
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC*") {
            let _ = dehumanize(&text);
            let _ = dehumanize_signed(&text);
            let _ = parse_writeback_rate_debug(&text);
            let _ = parse_priority_stats(&text);
        }

        #[test]
        fn hprint_values_parse_back(int in 0u64..1024, digit in 0u64..10, unit in 0usize..6) {
            let letters = ["", "k", "M", "G", "T", "P"];
            let text = if unit == 0 {
                int.to_string()
            } else {
                format!("{int}.{digit}{}", letters[unit])
            };
            let expected = if unit == 0 {
                int
            } else {
                ((int as f64 + digit as f64 / 10.24) * (1u64 << (10 * unit)) as f64) as u64
            };
            prop_assert_eq!(dehumanize(&text), Some(expected));
            prop_assert_eq!(dehumanize_signed(&format!("-{text}")), Some(-(expected as i64)));
        }

        #[test]
        fn generated_writeback_debug_parses_back(rate in 0u64..1 << 40, target in 0u64..1 << 50, prop in any::<i32>(), next in any::<i32>()) {
            let text = format!("rate:\t\t{rate}/sec\ndirty:\t\t0\ntarget:\t\t{target}\nproportional:\t{prop}\nintegral:\t-3\nchange:\t\t{prop}/sec\nnext io:\t{next}ms\n");
            let wrd = parse_writeback_rate_debug(&text).unwrap();
            prop_assert_eq!((wrd.rate, wrd.target, wrd.proportional, wrd.integral, wrd.change, wrd.next_io_ms),
                (rate, target, prop as i64, -3, prop as i64, next as i64));
        }

        #[test]
        fn generated_priority_stats_parse_back(unused in 0u64..=100, metadata in 0u64..=100) {
            let text = format!("Unused:\t\t{unused}%\nClean:\t\t3%\nMetadata:\t{metadata}%\nAverage:\t81\n");
            prop_assert_eq!(parse_priority_stats(&text), Ok((unused, metadata)));
        }
    }
}
