//! `textfile`: metrics other programs write into `*.prom` files (cron jobs, package managers, RAID
//! and SMART scripts such as Debian's `prometheus-node-exporter-collectors`), served with the host's
//! own, as node_exporter's textfile collector does.
//!
//! Semantics follow node_exporter 1.12:
//!
//! * `--collector.textfile.directory` is repeatable and each value is a glob pattern (Go's
//!   `filepath.Glob`); a pattern that matches nothing or is malformed is read as a plain directory.
//!   Every file whose name ends in `.prom` is read, in name order, every sample.
//! * `node_textfile_mtime_seconds{file="<dir>/<name>"}` for each file read and parsed; the label is
//!   the cleaned path as the directory was given (`filepath.Join`).
//! * `node_textfile_scrape_error` is 1 when a directory or a file could not be read or parsed; a
//!   bad file is skipped whole (no mtime) and the others are still served. A file with a
//!   client-side timestamp is an error and skipped whole.
//! * A family found in several files is merged. Its type and HELP must agree with the first file
//!   that had it: otherwise that file's part of the family is dropped and the error is set (1.12
//!   sets it for two different HELP texts; for a different type, or HELP in one file and none in
//!   the other, node_exporter's registry drops the series silently and sysmon also sets the
//!   error). A series exported twice (same name and labels) keeps its first value, with the error.
//! * A family without HELP gets "Metric read from <files>", listing the files it came from.
//! * Within one file's family, a series missing a label the family's other series have gets it
//!   with an empty value (node_exporter pads them so), and labels are sorted by name.
//!
//! Where sysmon differs, and why:
//!
//! * **Default directory.** Upstream's default is empty (collector reads nothing); Debian's build
//!   defaults to `/var/lib/prometheus/node-exporter`, where Debian's collector scripts and timers
//!   write. sysmon replaces that package, so it takes Debian's directory as its default, and a
//!   missing *default* directory is "no files" rather than an error (a host without those
//!   scripts would otherwise report `node_textfile_scrape_error 1` forever). A directory named on
//!   the command line that cannot be read is an error as in node_exporter. An empty value
//!   (`--collector.textfile.directory=`) reads nothing.
//! * **Bounds** (the files are untrusted input): at most [`MAX_FILE_BYTES`] per file and
//!   [`MAX_SERIES`] series over all files; a file past either bound is an error and skipped. A file
//!   that is not a regular file (a FIFO would block the read) is an error. node_exporter has no
//!   bounds.
//! * **Caching.** A file is parsed again only when its inode, size, mtime or ctime changed; an
//!   unchanged file serves its parsed series (and the error of an unchanged bad file is reported
//!   again without parsing it). sysmon samples every 2 s, so this is most of the collector's cost.
//! * **Name clashes with the exporter.** A family whose name is also exported by another collector,
//!   by the exporter itself, or under `sysmon_` is dropped by the sampler (logged), so the output
//!   never announces a family twice; node_exporter's registry drops the colliding series too.
//!   Families of the files that clash with each other in either format (`x` and `x_total` as
//!   gauge and counter, `x_count` next to a histogram `x`, or this collector's own two names) are
//!   dropped here with the error set.

pub mod glob;
pub mod parse;

use std::collections::{HashMap, HashSet};
use std::io::Read as _;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::{BuildContext, CollectError, Collector, Registration};
use crate::metrics::{LabelName, MetricFamily, MetricSet, MetricType, Part, Sample};
use parse::{ParsedFamily, Value};

pub const REGISTRATION: Registration = Registration {
    name: "textfile",
    default_enabled: true,
    help: "metrics from *.prom files other programs write",
    flags: <Args as clap::Args>::augment_args,
    cadence: super::Cadence::Slow,
    isolation: super::Isolation::Thread,
    build,
};

/// Debian's default textfile directory (node_exporter upstream has none).
pub const DEFAULT_DIRECTORY: &str = "/var/lib/prometheus/node-exporter";

/// The largest file read (8 MiB, about 100,000 typical series); a larger one is an error.
pub const MAX_FILE_BYTES: u64 = 8 << 20;

/// The most series served from all files together; a file that would go past it is an error.
pub const MAX_SERIES: usize = 100_000;

/// Flags of the `textfile` collector.
#[derive(Debug, Clone, clap::Args)]
#[group(id = "textfile_flags")]
#[command(next_help_heading = "Collector textfile")]
pub struct Args {
    /// Directory to read *.prom files with metrics from; a glob pattern matches several;
    /// repeatable. An empty value reads nothing.
    #[arg(
        long = "collector.textfile.directory",
        id = "textfile_directory",
        value_name = "DIR",
        default_value = DEFAULT_DIRECTORY,
        action = clap::ArgAction::Append
    )]
    pub directory: Vec<String>,
}

fn build(ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    let args: Args = ctx.args()?;
    let default_dir = ctx.cli.matches.value_source("textfile_directory")
        == Some(clap::parser::ValueSource::DefaultValue);
    Ok(Box::new(TextfileCollector::new(
        args.directory,
        default_dir,
    )))
}

pub const MTIME_METRIC: &str = "node_textfile_mtime_seconds";
pub const ERROR_METRIC: &str = "node_textfile_scrape_error";

/// What identifies one version of a file: a file replaced by rename has another inode; one
/// rewritten in place another size, mtime or ctime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(meta: &std::fs::Metadata) -> Stamp {
        Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// The mtime in whole seconds, truncated toward zero as node_exporter computes it.
    fn mtime_seconds(&self) -> f64 {
        let (s, ns) = self.mtime;
        (if s < 0 && ns > 0 { s + 1 } else { s }) as f64
    }
}

/// One family of one file, ready to merge: series are kept apart (a histogram's series is several
/// samples) so the merge can drop a duplicate series whole.
#[derive(Debug, Clone)]
struct FileFamily {
    name: String,
    help: Option<String>,
    kind: MetricType,
    series: Vec<Vec<Sample>>,
}

#[derive(Debug)]
struct FileData {
    families: Vec<FileFamily>,
    series: usize,
}

/// A file's parse result (or why it could not be used), shared by the cache and a sample.
type Parsed = Arc<Result<FileData, String>>;

struct Cached {
    stamp: Stamp,
    data: Parsed,
}

/// The merged output of the last sample, reused while no file changed.
struct Merged {
    key: Vec<(String, Stamp)>,
    families: Vec<MetricFamily>,
    error: bool,
}

#[derive(Default)]
struct State {
    files: HashMap<PathBuf, Cached>,
    merged: Option<Merged>,
    /// The problem last logged for each file or directory, so a lasting problem is logged once.
    complaints: HashMap<String, String>,
}

pub struct TextfileCollector {
    patterns: Vec<String>,
    /// The directory is the default one, not named on the command line.
    default_dir: bool,
    state: Mutex<State>,
}

impl TextfileCollector {
    pub fn new(patterns: Vec<String>, default_dir: bool) -> TextfileCollector {
        TextfileCollector {
            patterns,
            default_dir,
            state: Mutex::default(),
        }
    }

    /// The directories to read: each pattern's glob matches, or the pattern itself.
    fn directories(&self) -> Vec<String> {
        let mut dirs = Vec::new();
        for pattern in &self.patterns {
            match glob::glob(pattern) {
                Ok(found) if !found.is_empty() => dirs.extend(found),
                _ => dirs.push(pattern.clone()),
            }
        }
        dirs
    }
}

/// Logs `problem` for `key` unless it is what was logged for it last time.
fn complain(
    seen: &mut HashMap<String, String>,
    now: &mut HashSet<String>,
    key: &str,
    problem: &str,
) {
    now.insert(key.to_string());
    if seen.get(key).map(String::as_str) != Some(problem) {
        tracing::warn!(
            collector = "textfile",
            file = key,
            error = problem,
            "textfile problem"
        );
        seen.insert(key.to_string(), problem.to_string());
    }
}

/// Opens and, unless the cached version is the same, reads and parses one file.
fn load(path: &Path, cache: &HashMap<PathBuf, Cached>) -> Result<(Stamp, Parsed), String> {
    // O_NONBLOCK: opening a FIFO named *.prom must not wait for a writer.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| format!("opening: {e}"))?;
    let meta = file.metadata().map_err(|e| format!("stat: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file".to_string());
    }
    let stamp = Stamp::of(&meta);
    if let Some(cached) = cache.get(path) {
        if cached.stamp == stamp {
            return Ok((stamp, Arc::clone(&cached.data)));
        }
    }
    let data = if meta.size() > MAX_FILE_BYTES {
        Err(too_big())
    } else {
        let mut buf = Vec::with_capacity(meta.size() as usize);
        file.take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut buf)
            .map_err(|e| format!("reading: {e}"))?;
        if buf.len() as u64 > MAX_FILE_BYTES {
            Err(too_big())
        } else {
            parse_file(&buf)
        }
    };
    Ok((stamp, Arc::new(data)))
}

fn too_big() -> String {
    format!(
        "larger than the {} MiB limit of a text file",
        MAX_FILE_BYTES >> 20
    )
}

/// Parses a file and turns it into families as node_exporter serves them.
fn parse_file(buf: &[u8]) -> Result<FileData, String> {
    let families = parse::parse(buf, MAX_SERIES).map_err(|e| format!("parsing: {e}"))?;
    if let Some(f) = families
        .iter()
        .find(|f| f.metrics.iter().any(|m| m.timestamp_ms.is_some()))
    {
        return Err(format!(
            "metric {:?} has a client-side timestamp, which the textfile collector does not support; the whole file is skipped",
            f.name
        ));
    }
    let series = families.iter().map(ParsedFamily::series).sum();
    let mut families: Vec<FileFamily> = families.into_iter().map(file_family).collect();
    families.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(FileData { families, series })
}

/// What the collector serves for one file alone: the file parsed, checked (no timestamps) and
/// merged as if it were the only one. Public for the fuzz target.
pub fn families_of_file(buf: &[u8]) -> Result<Vec<MetricFamily>, String> {
    let data = parse_file(buf)?;
    let (families, _) = merge(&[("f.prom".to_string(), &data)], &mut Vec::new());
    Ok(families)
}

/// One parsed family as client_golang's constant metrics present it: every series has every label
/// name of the family (missing ones empty), labels sorted by name, quantiles and buckets sorted by
/// bound with the last of two equal bounds kept, a `+Inf` bucket holding the count when the file
/// has none, and series sorted by their label values.
fn file_family(f: ParsedFamily) -> FileFamily {
    let mut names: Vec<&str> = f
        .metrics
        .iter()
        .flat_map(|m| m.labels.iter().map(|(k, _)| k.as_str()))
        .collect();
    names.sort_unstable();
    names.dedup();
    let mut series: Vec<Vec<Sample>> = Vec::with_capacity(f.metrics.len());
    for m in &f.metrics {
        let labels: Vec<(LabelName, String)> = names
            .iter()
            .map(|&n| {
                let value = m
                    .labels
                    .iter()
                    .find(|(k, _)| k == n)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                (LabelName::Owned(n.to_string()), value)
            })
            .collect();
        let sample = |part: Part, value: f64| Sample {
            labels: labels.clone(),
            value,
            part,
        };
        let mut out = Vec::new();
        match &m.value {
            Value::Single(v) => out.push(sample(Part::Value, *v)),
            Value::Summary {
                count,
                sum,
                quantiles,
            } => {
                for (q, v) in by_bound(quantiles) {
                    out.push(sample(Part::Quantile(q), v));
                }
                out.push(sample(Part::Sum, *sum));
                out.push(sample(Part::Count, *count as f64));
            }
            Value::Histogram {
                count,
                sum,
                buckets,
            } => {
                let buckets = by_bound(buckets);
                let has_inf = buckets.iter().any(|(le, _)| *le == f64::INFINITY);
                for (le, c) in buckets {
                    out.push(sample(Part::Bucket(le), c as f64));
                }
                if !has_inf {
                    out.push(sample(Part::Bucket(f64::INFINITY), *count as f64));
                }
                out.push(sample(Part::Sum, *sum));
                out.push(sample(Part::Count, *count as f64));
            }
        }
        series.push(out);
    }
    series.sort_by(|a, b| series_order(&a[0], &b[0]));
    FileFamily {
        name: f.name,
        help: f.help,
        kind: f.kind,
        series,
    }
}

/// Pairs sorted by bound (`-0` is `0`), the last of equal bounds kept, as a Go map keyed by the
/// bound would.
fn by_bound<T: Copy>(pairs: &[(f64, T)]) -> Vec<(f64, T)> {
    let mut out: Vec<(f64, T)> = Vec::with_capacity(pairs.len());
    for &(b, v) in pairs {
        let b = b + 0.0;
        match out.iter_mut().find(|(k, _)| *k == b) {
            Some(slot) => slot.1 = v,
            None => out.push((b, v)),
        }
    }
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

/// client_golang's order of the series of a family: fewer labels first, then by label values.
fn series_order(a: &Sample, b: &Sample) -> std::cmp::Ordering {
    a.labels.len().cmp(&b.labels.len()).then_with(|| {
        a.labels
            .iter()
            .map(|(_, v)| v)
            .cmp(b.labels.iter().map(|(_, v)| v))
    })
}

/// One family being merged from several files.
struct Building {
    file_family: FileFamily,
    files: Vec<String>,
    keys: HashSet<Vec<(LabelName, String)>>,
}

/// Merges the files' families. Returns the families (sorted by name) and whether a conflict made
/// part of a file unusable; the conflicts are logged through `problems`.
fn merge(
    files: &[(String, &FileData)],
    problems: &mut Vec<(String, String)>,
) -> (Vec<MetricFamily>, bool) {
    let mut error = false;
    let mut building: Vec<Building> = Vec::new();
    let mut by_name: HashMap<String, usize> = HashMap::new();
    // Every name a family takes in either format, with the family that took it.
    let mut taken: HashMap<String, String> = HashMap::new();
    for own in [MTIME_METRIC, ERROR_METRIC] {
        taken.insert(own.to_string(), own.to_string());
    }
    for (file, data) in files {
        for fam in &data.families {
            let index = match by_name.get(&fam.name) {
                Some(&i) => {
                    let first = &building[i].file_family;
                    if first.kind != fam.kind || first.help != fam.help {
                        error = true;
                        // node_exporter names the file in the generated HELP unless the file had
                        // a HELP text of its own that differs.
                        if first.help.is_none() || fam.help.is_none() || first.help == fam.help {
                            building[i].files.push(file.clone());
                        }
                        let first = &building[i].file_family;
                        problems.push((
                            file.clone(),
                            format!(
                                "metric family {:?} has type {} and HELP {:?} here but type {} and HELP {:?} in {}; dropped from this file",
                                fam.name,
                                type_name(fam.kind),
                                fam.help.as_deref().unwrap_or(""),
                                type_name(first.kind),
                                first.help.as_deref().unwrap_or(""),
                                building[i].files[0]
                            ),
                        ));
                        continue;
                    }
                    i
                }
                None => {
                    let probe = MetricFamily {
                        name: fam.name.clone(),
                        help: String::new(),
                        kind: fam.kind,
                        samples: Vec::new(),
                    };
                    let names = probe.exposition_names();
                    if let Some(other) = names.iter().find_map(|n| taken.get(n.as_ref())) {
                        error = true;
                        problems.push((
                            file.clone(),
                            format!(
                                "metric family {:?} (type {}) clashes with {other:?} in the exposition; dropped",
                                fam.name,
                                type_name(fam.kind)
                            ),
                        ));
                        continue;
                    }
                    for n in names {
                        taken.insert(n.into_owned(), fam.name.clone());
                    }
                    building.push(Building {
                        file_family: FileFamily {
                            name: fam.name.clone(),
                            help: fam.help.clone(),
                            kind: fam.kind,
                            series: Vec::new(),
                        },
                        files: Vec::new(),
                        keys: HashSet::new(),
                    });
                    by_name.insert(fam.name.clone(), building.len() - 1);
                    building.len() - 1
                }
            };
            let b = &mut building[index];
            b.files.push(file.clone());
            let mut duplicates = 0;
            for series in &fam.series {
                if b.keys.insert(series[0].labels.clone()) {
                    b.file_family.series.push(series.clone());
                } else {
                    duplicates += 1;
                }
            }
            if duplicates > 0 {
                error = true;
                problems.push((
                    file.clone(),
                    format!(
                        "{duplicates} series of {:?} were already exported (same name and labels); the first value is kept",
                        fam.name
                    ),
                ));
            }
        }
    }
    let mut out: Vec<MetricFamily> = building
        .into_iter()
        .map(|mut b| {
            if b.files.len() > 1 {
                b.file_family
                    .series
                    .sort_by(|x, y| series_order(&x[0], &y[0]));
            }
            MetricFamily {
                help: b
                    .file_family
                    .help
                    .unwrap_or_else(|| format!("Metric read from {}", b.files.join(", "))),
                name: b.file_family.name,
                kind: b.file_family.kind,
                samples: b.file_family.series.into_iter().flatten().collect(),
            }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    (out, error)
}

fn type_name(kind: MetricType) -> &'static str {
    match kind {
        MetricType::Counter => "counter",
        MetricType::Gauge => "gauge",
        MetricType::Untyped => "untyped",
        MetricType::Histogram => "histogram",
        MetricType::Summary => "summary",
    }
}

impl Collector for TextfileCollector {
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let state = &mut *state;
        let mut error = false;
        let mut complained = HashSet::new();
        let mut read: Vec<(String, Stamp, Parsed)> = Vec::new();
        let mut series_budget = MAX_SERIES;
        let mut files_seen: HashMap<PathBuf, Cached> = HashMap::new();
        for dir in self.directories() {
            if dir.is_empty() {
                continue;
            }
            let entries = match std::fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) => {
                    if !(self.default_dir && e.kind() == std::io::ErrorKind::NotFound) {
                        error = true;
                        complain(
                            &mut state.complaints,
                            &mut complained,
                            &dir,
                            &format!("reading the directory: {e}"),
                        );
                    }
                    continue;
                }
            };
            let mut names: Vec<std::ffi::OsString> = entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name())
                .filter(|n| n.as_encoded_bytes().ends_with(b".prom"))
                .collect();
            names.sort();
            for name in names {
                let path = Path::new(&dir).join(&name);
                let label = glob::join(&dir, &name.to_string_lossy());
                let (stamp, data) = match load(&path, &state.files) {
                    Ok(loaded) => loaded,
                    Err(problem) => {
                        error = true;
                        complain(&mut state.complaints, &mut complained, &label, &problem);
                        continue;
                    }
                };
                files_seen.insert(
                    path,
                    Cached {
                        stamp,
                        data: Arc::clone(&data),
                    },
                );
                match &*data {
                    Err(problem) => {
                        error = true;
                        complain(&mut state.complaints, &mut complained, &label, problem);
                    }
                    Ok(d) if d.series > series_budget => {
                        error = true;
                        complain(
                            &mut state.complaints,
                            &mut complained,
                            &label,
                            &format!(
                                "{} series would take the textfile collector past its limit of {MAX_SERIES}; skipped",
                                d.series
                            ),
                        );
                    }
                    Ok(d) => {
                        series_budget -= d.series;
                        read.push((label, stamp, data));
                    }
                }
            }
        }
        // Files no longer there are forgotten.
        state.files = files_seen;

        let key: Vec<(String, Stamp)> = read.iter().map(|(l, s, _)| (l.clone(), *s)).collect();
        if state.merged.as_ref().map(|m| &m.key) != Some(&key) {
            let files: Vec<(String, &FileData)> = read
                .iter()
                .filter_map(|(l, _, d)| d.as_ref().as_ref().ok().map(|d| (l.clone(), d)))
                .collect();
            let mut problems = Vec::new();
            let (families, merge_error) = merge(&files, &mut problems);
            for (file, problem) in &problems {
                tracing::warn!(collector = "textfile", file = %file, error = %problem, "textfile problem");
            }
            state.merged = Some(Merged {
                key,
                families,
                error: merge_error,
            });
        }
        let merged = state.merged.as_ref().expect("set above");
        error |= merged.error;
        state.complaints.retain(|k, _| complained.contains(k));

        out.families.extend(merged.families.iter().cloned());
        if !read.is_empty() {
            let mtimes = out.gauge(
                MTIME_METRIC,
                "Unix time of the last change of each text file read successfully.",
            );
            let mut by_label: Vec<(&str, f64)> = read
                .iter()
                .map(|(l, s, _)| (l.as_str(), s.mtime_seconds()))
                .collect();
            by_label.sort_by(|a, b| a.0.cmp(b.0));
            by_label.dedup_by(|a, b| a.0 == b.0);
            for (file, mtime) in by_label {
                mtimes.sample(&[("file", file)], mtime);
            }
        }
        out.gauge(
            ERROR_METRIC,
            "1 if a text file or directory could not be opened, read or parsed, 0 otherwise.",
        )
        .sample(&[], if error { 1.0 } else { 0.0 });
        out.families.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(())
    }

    fn foreign_families(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests;
