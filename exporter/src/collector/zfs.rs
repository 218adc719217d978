//! `zfs`: OpenZFS kernel statistics from `<procfs>/spl/kstat/zfs`, named as node_exporter 1.12
//! names them.
//!
//! * The module-wide kstats (`arcstats`, `abdstats`, `dbufstats`, `dmu_tx`, `dnodestats`, `fm`,
//!   `vdev_cache_stats`, `vdev_mirror_stats`, `xuio_stats`, `zfetchstats`, `zil`): named kstats, a
//!   header line (`13 1 0x01 ...`), a `name type data` line, then one `name type data` line per
//!   statistic. Every statistic of type 3 (int64) or 4 (uint64) becomes the untyped
//!   `node_<subsystem>_<name>` (`-` in a name becomes `_`), with the kstat's path
//!   `kstat.zfs.misc.<file>.<name>` as its help, as node_exporter does. Other types (strings, the
//!   raw kstats) are skipped. A file this ZFS version does not have is skipped.
//! * Per pool (`<pool>/io`, `<pool>/objset-*`, `<pool>/state`): the I/O kstat's columns as
//!   `node_zfs_zpool_<column>{zpool}`, each dataset's counters as
//!   `node_zfs_zpool_dataset_<name>{zpool,dataset}`, and the pool's state as
//!   `node_zfs_zpool_state{zpool,state}` (1 for the current one of the seven states, 0 for the
//!   others).
//!
//! No `<procfs>/spl/kstat/zfs` (the module is not loaded) is "no data". A kstat can be large (a
//! pool with thousands of datasets has thousands of objset files): the collector runs on its own
//! thread, and the parsers hand out borrowed slices of the file's text, one statistic at a time,
//! so memory follows the output.

use std::io::ErrorKind;
use std::path::Path;

use super::{first_error, BuildContext, CollectError, Collector, Registration, Roots};
use crate::metrics::{MetricSet, MetricType};

pub const REGISTRATION: Registration = Registration {
    name: "zfs",
    default_enabled: true,
    help: "OpenZFS statistics from /proc/spl/kstat/zfs",
    flags: super::no_flags,
    cadence: super::Cadence::Slow,
    isolation: super::Isolation::Thread,
    build,
};

fn build(ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(ZfsCollector {
        roots: ctx.roots.clone(),
    }))
}

pub struct ZfsCollector {
    roots: Roots,
}

/// The module-wide kstat files and the metric subsystem of each (node_exporter's map).
pub const KSTAT_FILES: [(&str, &str); 11] = [
    ("zfs_abd", "abdstats"),
    ("zfs_arc", "arcstats"),
    ("zfs_dbuf", "dbufstats"),
    ("zfs_dmu_tx", "dmu_tx"),
    ("zfs_dnode", "dnodestats"),
    ("zfs_fm", "fm"),
    ("zfs_vdev_cache", "vdev_cache_stats"),
    ("zfs_vdev_mirror", "vdev_mirror_stats"),
    ("zfs_xuio", "xuio_stats"),
    ("zfs_zfetch", "zfetchstats"),
    ("zfs_zil", "zil"),
];

/// The pool states node_exporter reports, in its order (`zpool_state_to_name` in lower case).
pub const POOL_STATES: [&str; 7] = [
    "online",
    "degraded",
    "faulted",
    "offline",
    "removed",
    "unavail",
    "suspended",
];

/// kstat data types (OpenZFS `sys/kstat.h`) node_exporter reads.
const KSTAT_DATA_INT64: &str = "3";
const KSTAT_DATA_UINT64: &str = "4";

/// Whether `name` can follow `node_<subsystem>_` in a metric name.
fn valid_name_part(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

/// Parses a named kstat (`arcstats` and the like): calls `stat(name, value)` for every int64 or
/// uint64 statistic after the `name type data` line, in file order. Lines with fewer than three
/// fields and statistics of other types are skipped; a value that is not an integer of its type,
/// or a file without the `name type data` line, is an error (the statistics before it have been
/// handed out).
pub fn parse_named_kstat<'a>(
    text: &'a str,
    mut stat: impl FnMut(&'a str, f64),
) -> Result<(), String> {
    let mut started = false;
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let (Some(name), Some(kind), Some(data)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if !started {
            started = name == "name" && kind == "type" && data == "data" && fields.next().is_none();
            continue;
        }
        let value = match kind {
            KSTAT_DATA_UINT64 => data
                .parse::<u64>()
                .map(|v| v as f64)
                .map_err(|_| "unsigned"),
            KSTAT_DATA_INT64 => data.parse::<i64>().map(|v| v as f64).map_err(|_| "signed"),
            _ => continue,
        };
        match value {
            Ok(v) => stat(name, v),
            Err(what) => {
                return Err(format!(
                    "{name}: expected an {what} integer, found {data:?}"
                ))
            }
        }
    }
    if started {
        Ok(())
    } else {
        Err("no \"name type data\" line".to_string())
    }
}

/// Parses a pool's I/O kstat (`<pool>/io`): the column line that starts with `nread` (at least
/// twelve columns), then lines of as many unsigned values; calls `stat(column, value)` for each.
/// Blank lines are skipped; a short line or a value that is not an unsigned integer is an error.
/// A file without the column line has no statistics (node_exporter reads it so).
pub fn parse_pool_io<'a>(text: &'a str, mut stat: impl FnMut(&'a str, f64)) -> Result<(), String> {
    let mut columns: Option<&'a str> = None;
    for line in text.lines() {
        let Some(header) = columns else {
            let mut fields = line.split_whitespace();
            if fields.next() == Some("nread") && fields.count() >= 11 {
                columns = Some(line);
            }
            continue;
        };
        if line.trim().is_empty() {
            continue;
        }
        let mut values = line.split_whitespace();
        for column in header.split_whitespace() {
            let Some(value) = values.next() else {
                return Err(format!("{column}: the value line is too short: {line:?}"));
            };
            let v = value
                .parse::<u64>()
                .map_err(|_| format!("{column}: expected an unsigned integer, found {value:?}"))?;
            stat(column, v as f64);
        }
    }
    Ok(())
}

/// Parses a dataset's kstat (`<pool>/objset-0x...`): calls `stat(dataset, name, value)` for every
/// uint64 statistic, `dataset` being the `dataset_name` value seen before it (the rest of its line,
/// as node_exporter 1.12 takes it; empty before that line).
pub fn parse_objset<'a>(
    text: &'a str,
    mut stat: impl FnMut(&'a str, &'a str, f64),
) -> Result<(), String> {
    let mut started = false;
    let mut dataset = "";
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let (Some(name), Some(kind), Some(data)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        if !started {
            started = name == "name" && kind == "type" && data == "data" && fields.next().is_none();
            continue;
        }
        if name == "dataset_name" {
            // `data` is a slice of `line`: the name runs from it to the end of the line.
            let start = data.as_ptr() as usize - line.as_ptr() as usize;
            dataset = &line[start..];
            continue;
        }
        if kind == KSTAT_DATA_UINT64 {
            let v = data
                .parse::<u64>()
                .map_err(|_| format!("{name}: expected an unsigned integer, found {data:?}"))?;
            stat(dataset, name, v as f64);
        }
    }
    if started {
        Ok(())
    } else {
        Err("no \"name type data\" line".to_string())
    }
}

/// The pool state from a `<pool>/state` file: its first line in lower case (`ONLINE` →
/// `online`); an empty file gives an empty state (every state then reads 0).
pub fn parse_state(text: &str) -> String {
    text.lines().next().unwrap_or("").to_lowercase()
}

/// Reads a file; `Ok(None)` when it does not exist (a kstat of another ZFS version, or a pool
/// exported while we list it).
fn read_optional(path: &Path) -> Result<Option<String>, CollectError> {
    match crate::collector::read_text(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CollectError::io(path, e)),
    }
}

/// `node_<prefix>_<name>` with `-` as `_`, or `None` when that is not a valid metric name (it
/// would make node_exporter panic; sysmon reports the file as malformed).
fn metric_name(prefix: &str, name: &str) -> Option<String> {
    let mut out = String::with_capacity(prefix.len() + name.len() + 6);
    out.push_str("node_");
    out.push_str(prefix);
    out.push('_');
    let start = out.len();
    out.extend(name.chars().map(|c| if c == '-' { '_' } else { c }));
    valid_name_part(&out[start..]).then_some(out)
}

impl ZfsCollector {
    fn module_stats(&self, base: &Path, out: &mut MetricSet, errors: &mut Vec<CollectError>) {
        let mut help = String::new();
        for (subsystem, file) in KSTAT_FILES {
            let path = base.join(file);
            let text = match read_optional(&path) {
                Ok(Some(text)) => text,
                Ok(None) => continue,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            let mut bad_name = None;
            let result = parse_named_kstat(&text, |name, value| {
                let Some(metric) = metric_name(subsystem, name) else {
                    bad_name.get_or_insert(name);
                    return;
                };
                help.clear();
                help.push_str("kstat.zfs.misc.");
                help.push_str(file);
                help.push('.');
                help.push_str(name);
                out.family(&metric, &help, MetricType::Untyped)
                    .sample(&[], value);
            });
            if let Err(message) = result {
                errors.push(CollectError::parse(&path, message));
            } else if let Some(name) = bad_name {
                errors.push(CollectError::parse(
                    &path,
                    format!("{name:?} is not a valid metric name"),
                ));
            }
        }
    }

    fn pool_stats(&self, base: &Path, out: &mut MetricSet, errors: &mut Vec<CollectError>) {
        let pools = match super::sorted_dir_entries(base) {
            Ok(entries) => entries,
            Err(e) => {
                errors.push(e);
                return;
            }
        };
        let pools: Vec<(String, std::path::PathBuf)> = pools
            .into_iter()
            .filter(|e| e.path().is_dir())
            .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
            .collect();
        let mut help = String::new();
        for (pool, dir) in &pools {
            let path = dir.join("io");
            match read_optional(&path) {
                Ok(Some(text)) => {
                    let mut bad_name = None;
                    let result = parse_pool_io(&text, |column, value| {
                        let Some(metric) = metric_name("zfs_zpool", column) else {
                            bad_name.get_or_insert(column);
                            return;
                        };
                        help.clear();
                        help.push_str("kstat.zfs.misc.io.");
                        help.push_str(column);
                        out.family(&metric, &help, MetricType::Untyped)
                            .sample(&[("zpool", pool)], value);
                    });
                    if let Err(message) = result {
                        errors.push(CollectError::parse(&path, message));
                    } else if let Some(name) = bad_name {
                        errors.push(CollectError::parse(
                            &path,
                            format!("{name:?} is not a valid metric name"),
                        ));
                    }
                }
                Ok(None) => {}
                Err(e) => errors.push(e),
            }
        }
        for (pool, dir) in &pools {
            let objsets = match super::sorted_dir_entries(dir) {
                Ok(entries) => entries,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            for entry in objsets {
                if !entry.file_name().to_string_lossy().starts_with("objset-") {
                    continue;
                }
                let path = entry.path();
                let text = match read_optional(&path) {
                    Ok(Some(text)) => text,
                    Ok(None) => continue,
                    Err(e) => {
                        errors.push(e);
                        continue;
                    }
                };
                let mut bad_name = None;
                let mut seen_name = false;
                let result = parse_objset(&text, |dataset, name, value| {
                    let Some(metric) = metric_name("zfs_zpool_dataset", name) else {
                        bad_name.get_or_insert(name);
                        return;
                    };
                    // node_exporter sets the pool label with the dataset name.
                    seen_name |= !dataset.is_empty();
                    let zpool = if seen_name { pool.as_str() } else { "" };
                    help.clear();
                    help.push_str("kstat.zfs.misc.objset.");
                    help.push_str(name);
                    out.family(&metric, &help, MetricType::Untyped)
                        .sample(&[("zpool", zpool), ("dataset", dataset)], value);
                });
                if let Err(message) = result {
                    errors.push(CollectError::parse(&path, message));
                } else if let Some(name) = bad_name {
                    errors.push(CollectError::parse(
                        &path,
                        format!("{name:?} is not a valid metric name"),
                    ));
                }
            }
        }
        for (pool, dir) in &pools {
            let path = dir.join("state");
            match read_optional(&path) {
                Ok(Some(text)) => {
                    let state = parse_state(&text);
                    let family = out.gauge("node_zfs_zpool_state", "kstat.zfs.misc.state");
                    for name in POOL_STATES {
                        family.sample(
                            &[("zpool", pool), ("state", name)],
                            if state == name { 1.0 } else { 0.0 },
                        );
                    }
                }
                Ok(None) => {}
                Err(e) => errors.push(e),
            }
        }
    }
}

impl Collector for ZfsCollector {
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        let base = self.roots.proc("spl/kstat/zfs");
        if !base.is_dir() {
            return Ok(());
        }
        let mut errors = Vec::new();
        self.module_stats(&base, out, &mut errors);
        self.pool_stats(&base, out, &mut errors);
        first_error(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::fixture_roots;
    use proptest::prelude::*;

    fn collect(roots: Roots) -> (MetricSet, Result<(), CollectError>) {
        let mut out = MetricSet::new();
        let r = ZfsCollector { roots }.collect(&mut out);
        (out, r)
    }

    fn value(out: &MetricSet, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        out.get(name)?
            .samples
            .iter()
            .find(|s| {
                s.labels.len() == labels.len()
                    && labels
                        .iter()
                        .all(|(k, v)| s.labels.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .map(|s| s.value)
    }

    const ARC: &str = "13 1 0x01 4 1088 8206538312 937421176230512\n\
name                            type data\n\
hits                            4    123456\n\
memory_available_bytes          3    -4096\n\
arc_meta_used                   4    42\n\
l2_asize-x                      4    7\n";

    #[test]
    fn named_kstat_signed_and_unsigned() {
        let mut got = Vec::new();
        parse_named_kstat(ARC, |n, v| got.push((n, v))).unwrap();
        assert_eq!(
            got,
            vec![
                ("hits", 123456.0),
                ("memory_available_bytes", -4096.0),
                ("arc_meta_used", 42.0),
                ("l2_asize-x", 7.0)
            ]
        );
        assert_eq!(
            metric_name("zfs_arc", "l2_asize-x").as_deref(),
            Some("node_zfs_arc_l2_asize_x")
        );
    }

    #[test]
    fn named_kstat_skips_other_types_and_rejects_bad_values() {
        let text = "1 1 0x01\nname type data\nx 7 text\ny 4\nz 4 12\n";
        let mut got = Vec::new();
        parse_named_kstat(text, |n, v| got.push((n, v))).unwrap();
        assert_eq!(got, vec![("z", 12.0)]);
        assert!(parse_named_kstat("name type data\nx 4 -1\n", |_, _| {}).is_err());
        assert!(parse_named_kstat("x 4 1\n", |_, _| {}).is_err());
    }

    #[test]
    fn pool_io_columns() {
        let text = "9 3 0x00 1 80 1 2\n\
nread    nwritten reads writes wtime wlentime wupdate rtime rlentime rupdate wcnt rcnt\n\
100 200 3 4 5 6 7 8 9 10 0 1\n";
        let mut got = Vec::new();
        parse_pool_io(text, |c, v| got.push((c, v))).unwrap();
        assert_eq!(got.len(), 12);
        assert_eq!(got[0], ("nread", 100.0));
        assert_eq!(got[11], ("rcnt", 1.0));
        assert!(parse_pool_io("nread a b c d e f g h i j k\n1 2\n", |_, _| {}).is_err());
    }

    #[test]
    fn objset_dataset_name_with_spaces() {
        let text = "49 1 0x01 7 2160 1 2\nname type data\n\
dataset_name 7 tank/my data\nwrites 4 5\nnread 4 6\n";
        let mut got = Vec::new();
        parse_objset(text, |d, n, v| got.push((d, n, v))).unwrap();
        assert_eq!(
            got,
            vec![
                ("tank/my data", "writes", 5.0),
                ("tank/my data", "nread", 6.0)
            ]
        );
    }

    #[test]
    fn state_lower_case() {
        assert_eq!(parse_state("DEGRADED\n"), "degraded");
        assert_eq!(parse_state(""), "");
    }

    #[test]
    fn server_fixture() {
        let (out, r) = collect(fixture_roots("server"));
        r.unwrap();
        assert!(value(&out, "node_zfs_arc_hits", &[]).unwrap() > 0.0);
        assert_eq!(
            value(
                &out,
                "node_zfs_zpool_state",
                &[("zpool", "backup"), ("state", "degraded")]
            ),
            Some(1.0)
        );
        assert_eq!(
            value(
                &out,
                "node_zfs_zpool_state",
                &[("zpool", "backup"), ("state", "online")]
            ),
            Some(0.0)
        );
        assert_eq!(
            value(
                &out,
                "node_zfs_zpool_state",
                &[("zpool", "tank"), ("state", "online")]
            ),
            Some(1.0)
        );
        assert!(value(
            &out,
            "node_zfs_zpool_dataset_writes",
            &[("zpool", "tank"), ("dataset", "tank/pgdata")]
        )
        .is_some());
        let f = out.get("node_zfs_arc_hits").unwrap();
        assert_eq!(f.help, "kstat.zfs.misc.arcstats.hits");
        assert_eq!(f.kind, MetricType::Untyped);
    }

    #[test]
    fn no_zfs_is_no_data() {
        let (out, r) = collect(fixture_roots("vm"));
        r.unwrap();
        assert_eq!(out.sample_count(), 0);
    }

    #[test]
    fn broken_fixture_fails_but_publishes_the_good_files() {
        let (out, r) = collect(fixture_roots("broken"));
        assert!(r.is_err());
        assert!(out.sample_count() > 0);
    }

    /// A generated tree with thousands of datasets and a kstat of thousands of entries: the
    /// parsers hand out slices of the text, so what is kept is the output (families and samples)
    /// and one file's text at a time. Checked by counting: every statistic becomes one sample,
    /// families are per statistic name (not per dataset), and the strings the output holds are the
    /// label values and names, nothing per line beyond that.
    #[test]
    fn thousands_of_datasets_and_entries() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("proc/spl/kstat/zfs");
        let pool = base.join("bulk");
        std::fs::create_dir_all(&pool).unwrap();
        let mut arc = String::from("13 1 0x01 5000 1 1 1\nname type data\n");
        for i in 0..5000 {
            arc.push_str(&format!("stat_{i} 4 {i}\n"));
        }
        std::fs::write(base.join("arcstats"), arc).unwrap();
        let datasets = 3000;
        for i in 0..datasets {
            std::fs::write(
                pool.join(format!("objset-0x{i:x}")),
                format!(
                    "49 1 0x01 7 2160 1 1\nname type data\ndataset_name 7 bulk/ds{i}\n\
writes 4 {i}\nnwritten 4 1\nreads 4 2\nnread 4 3\nnunlinks 4 0\nnunlinked 4 0\n"
                ),
            )
            .unwrap();
        }
        std::fs::write(pool.join("state"), "ONLINE\n").unwrap();
        let roots = Roots {
            procfs: dir.path().join("proc"),
            sysfs: dir.path().join("sys"),
            rootfs: dir.path().to_path_buf(),
        };
        let ((out, r), peak, kept) = counting::measure(|| collect(roots));
        r.unwrap();
        assert_eq!(out.sample_count(), 5000 + datasets * 6 + 7);
        // 5000 ARC families, 6 dataset families, one state family: no family per dataset.
        assert_eq!(out.families.len(), 5000 + 6 + 1);
        let writes = out.get("node_zfs_zpool_dataset_writes").unwrap();
        assert_eq!(writes.samples.len(), datasets);
        // What collect allocated at its peak, on this thread, against what the output keeps.
        assert!(
            peak <= 2 * kept + (1 << 20),
            "peak {peak} bytes for an output of {kept} bytes"
        );
    }

    /// Counts the bytes allocated by the current thread (other tests run on other threads).
    mod counting {
        use std::alloc::{GlobalAlloc, Layout, System};
        use std::cell::Cell;

        pub struct Counting;

        thread_local! {
            static CURRENT: Cell<isize> = const { Cell::new(0) };
            static PEAK: Cell<isize> = const { Cell::new(0) };
        }

        fn add(delta: isize) {
            let _ = CURRENT.try_with(|c| {
                let now = c.get() + delta;
                c.set(now);
                let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
            });
        }

        // SAFETY: every call is forwarded to the system allocator unchanged.
        unsafe impl GlobalAlloc for Counting {
            unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
                add(layout.size() as isize);
                System.alloc(layout)
            }
            unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
                add(-(layout.size() as isize));
                System.dealloc(ptr, layout)
            }
            unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
                add(new_size as isize);
                let p = System.realloc(ptr, layout, new_size);
                add(-(layout.size() as isize));
                p
            }
        }

        /// Runs `f`; returns its result, the peak bytes it had allocated at once and the bytes
        /// still allocated when it returned.
        pub fn measure<T>(f: impl FnOnce() -> T) -> (T, usize, usize) {
            let start = CURRENT.with(Cell::get);
            PEAK.with(|p| p.set(start));
            let value = f();
            let end = CURRENT.with(Cell::get);
            let peak = PEAK.with(Cell::get);
            (
                value,
                (peak - start).max(0) as usize,
                (end - start).max(0) as usize,
            )
        }
    }

    #[global_allocator]
    static ALLOCATOR: counting::Counting = counting::Counting;

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC*(\n\\PC*){0,8}") {
            let _ = parse_named_kstat(&text, |_, _| {});
            let _ = parse_pool_io(&text, |_, _| {});
            let _ = parse_objset(&text, |_, _, _| {});
            let _ = parse_state(&text);
        }

        #[test]
        fn generated_kstat_parses_back(
            stats in proptest::collection::vec(("[a-z][a-z0-9_]{0,20}", any::<u64>(), any::<i64>()), 0..40)
        ) {
            let mut text = String::from("7 1 0x01 3 144 1 2\nname                            type data\n");
            let mut want = Vec::new();
            for (name, u, i) in &stats {
                text.push_str(&format!("{name:<32}4    {u}\n{name}_s 3 {i}\n{name}_str 7 x\n"));
                want.push((name.clone(), *u as f64));
                want.push((format!("{name}_s"), *i as f64));
            }
            let mut got = Vec::new();
            parse_named_kstat(&text, |n, v| got.push((n.to_string(), v))).unwrap();
            prop_assert_eq!(got, want);
        }

        #[test]
        fn generated_io_parses_back(values in proptest::array::uniform12(any::<u64>())) {
            let cols = ["nread", "nwritten", "reads", "writes", "wtime", "wlentime", "wupdate",
                "rtime", "rlentime", "rupdate", "wcnt", "rcnt"];
            let line: Vec<String> = values.iter().map(u64::to_string).collect();
            let text = format!("1 3 0x00 1 80 1 1\n{}\n{}\n", cols.join(" "), line.join(" "));
            let mut got = Vec::new();
            parse_pool_io(&text, |c, v| got.push((c, v))).unwrap();
            let want: Vec<(&str, f64)> = cols.iter().copied().zip(values.iter().map(|v| *v as f64)).collect();
            prop_assert_eq!(got, want);
        }
    }
}
