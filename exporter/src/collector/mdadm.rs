//! `mdadm`: Linux software RAID (md) arrays, as node_exporter 1.12's `mdadm_linux.go` exports them
//! (enabled by default). Two sources:
//!
//! * `<procfs>/mdstat` (Documentation/admin-guide/md.rst, drivers/md/md.c `md_seq_show`), per
//!   array (`device` = `md0`, ...): `node_md_disks_required`, `node_md_disks{state="active"|
//!   "failed"|"spare"}`, `node_md_state{state="active"|"inactive"|"recovering"|"resync"|"check"}`
//!   (1 for the current state, 0 for the others; a reshape sets none of them, as upstream),
//!   `node_md_blocks` and `node_md_blocks_synced` (1 KiB blocks; the progress of a running
//!   recovery, resync, check or reshape, 0 while it is PENDING or DELAYED, else the size);
//! * `<sysfs>/block/md*/md/` (1.10+): `node_md_raid_disks` (`raid_disks`: members of the complete
//!   array) and `node_md_degraded` (`degraded`: missing members, 0 for raid0 and linear arrays,
//!   which have no such attribute).
//!
//! How mdstat is read follows the Go procfs parser that node_exporter uses, so the same file gives
//! the same numbers: an array starts at a line that is not blank, does not start with a space and
//! is not the `Personalities` or `unused devices` line; its first continuation line starts with
//! the size in blocks and, except for raid0, linear and inactive arrays, carries `[n/m] [UU_]`
//! (disks required / active); the line after it, or the one after the `bitmap:` line, tells a
//! running `recovery`, `reshape`, `check` or `resync` with `(done/total)`, a percentage, `finish=`
//! and `speed=`. Failed and spare members are the `(F)` and `(S)` markers on the array's line.
//!
//! The parser is an iterator over the file's text that allocates nothing: a generated mdstat with
//! thousands of arrays costs the text itself plus the metrics, and this collector runs on its own
//! thread so a huge file never holds up the others.
//!
//! Where sysmon differs, on bad input only: node_exporter rejects the whole mdstat on the first
//! malformed array (and then skips sysfs); sysmon publishes every well-formed array, reads sysfs,
//! and fails the collector naming the bad line. From sysfs sysmon reads only the attributes it
//! exports (`level`, `raid_disks`, `degraded`), so a member that vanishes while its `dev-*/state`
//! is read does not fail it; `raid_disks` during a reshape (`4 (3)`) gives the new count, and an
//! empty one (an array being assembled) no `node_md_raid_disks` series, where node_exporter fails.
//! No mdstat (no md driver) is no data.

use std::io::ErrorKind;

use super::{
    read_trimmed, sorted_dir_entries_if_present, BuildContext, CollectError, Collector,
    Registration, Roots,
};
use crate::metrics::MetricSet;

pub const REGISTRATION: Registration = Registration {
    name: "mdadm",
    default_enabled: true,
    help: "software RAID arrays from /proc/mdstat and /sys/block/md*/md",
    flags: super::no_flags,
    cadence: super::Cadence::Slow,
    isolation: super::Isolation::Thread,
    build,
};

fn build(ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(MdadmCollector {
        roots: ctx.roots.clone(),
    }))
}

pub struct MdadmCollector {
    roots: Roots,
}

/// One array of /proc/mdstat. Strings borrow from the file's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MdStat<'a> {
    pub name: &'a str,
    /// The third word of the array's line (`active`, `inactive`), replaced by `recovering`,
    /// `reshaping`, `checking` or `resyncing` while one runs (the Go procfs spelling).
    pub state: &'a str,
    pub disks_active: i64,
    pub disks_total: i64,
    pub disks_failed: i64,
    pub disks_spare: i64,
    /// `_` in the `[UU_]` map: members missing.
    pub disks_down: i64,
    pub blocks_total: i64,
    pub blocks_synced: i64,
}

/// A malformed array: its 1-based line number and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MdstatError {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for MdstatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Parses /proc/mdstat lazily: yields each array, or the error of a malformed one (and goes on
/// with the next array). Holds only a cursor into `text`.
pub fn parse_mdstat(text: &str) -> MdstatParser<'_> {
    MdstatParser {
        lines: text.split('\n'),
        index: 0,
    }
}

pub struct MdstatParser<'a> {
    lines: std::str::Split<'a, char>,
    /// 0-based index of the next line `lines` yields.
    index: usize,
}

impl<'a> Iterator for MdstatParser<'a> {
    type Item = Result<MdStat<'a>, MdstatError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let line = self.lines.next()?;
            let number = self.index + 1;
            self.index += 1;
            if line.trim().is_empty()
                || line.starts_with(' ')
                || line.starts_with("Personalities")
                || line.starts_with("unused")
            {
                continue;
            }
            // The array's next three lines, without consuming them: they are continuation lines
            // the loop skips anyway.
            let mut ahead = self.lines.clone();
            let following = [ahead.next(), ahead.next(), ahead.next()];
            return Some(parse_array(line, following).map_err(|message| MdstatError {
                line: number,
                message,
            }));
        }
    }
}

fn parse_array<'a>(line: &'a str, following: [Option<&'a str>; 3]) -> Result<MdStat<'a>, String> {
    let mut fields = line.split_whitespace();
    let (Some(name), Some(_colon), Some(word)) = (fields.next(), fields.next(), fields.next())
    else {
        return Err(format!(
            "expected `mdN : state ...` with at least 3 fields, found {line:?}"
        ));
    };
    let [Some(status), Some(second), Some(third)] = following else {
        return Err(format!(
            "{name}: the file ends before the array's status lines"
        ));
    };
    let failed = line.matches("(F)").count() as i64;
    let spare = line.matches("(S)").count() as i64;
    let (active, total, down, size) =
        status_line(line, status).map_err(|e| format!("{name}: {e}"))?;
    let sync_line = if second.contains("bitmap") {
        third
    } else {
        second
    };
    let recovering = sync_line.contains("recovery");
    let reshaping = sync_line.contains("reshape");
    let resyncing = sync_line.contains("resync");
    let checking = sync_line.contains("check");
    let mut state = word;
    let mut synced = size;
    if recovering || reshaping || resyncing || checking {
        state = if recovering {
            "recovering"
        } else if reshaping {
            "reshaping"
        } else if checking {
            "checking"
        } else {
            "resyncing"
        };
        if sync_line.contains("PENDING") || sync_line.contains("DELAYED") {
            synced = 0;
        } else {
            synced = recovery_line(sync_line).map_err(|e| format!("{name}: {e}"))?;
        }
    }
    Ok(MdStat {
        name,
        state,
        disks_active: active,
        disks_total: total,
        disks_failed: failed,
        disks_spare: spare,
        disks_down: down,
        blocks_total: size,
        blocks_synced: synced,
    })
}

/// Go's `strconv.ParseInt(s, 10, 64)`: optional sign, decimal digits.
fn parse_i64(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Go's `strconv.ParseFloat(s, 64)` for the forms the kernel prints (and Rust's own spellings of
/// infinities and NaN, which Go accepts too).
fn parse_f64(s: &str) -> Option<f64> {
    if s.is_empty() || s.contains(char::is_whitespace) {
        return None;
    }
    s.parse().ok()
}

/// (active, total, down, size) from the array's line and its status line.
fn status_line(line: &str, status: &str) -> Result<(i64, i64, i64, i64), String> {
    let Some(first) = status.split_whitespace().next() else {
        return Err(format!(
            "expected the size in blocks on the status line, found {status:?}"
        ));
    };
    let size = parse_i64(first).ok_or_else(|| {
        format!("expected the size in blocks on the status line, found {status:?}")
    })?;
    if line.contains("raid0") || line.contains("linear") {
        // Only members carry a `[n]` on the array's line.
        let members = line.matches('[').count() as i64;
        return Ok((members, members, 0, size));
    }
    if line.contains("inactive") {
        return Ok((0, 0, 0, size));
    }
    let (total, active, map) = disk_map(status).ok_or_else(|| {
        format!("expected `N blocks ... [total/active] [U_]` on the status line, found {status:?}")
    })?;
    Ok((active, total, map.matches('_').count() as i64, size))
}

/// Finds `<digits> blocks ` and, after it, the last `[<total>/<active>] [<U_>]`.
fn disk_map(status: &str) -> Option<(i64, i64, &str)> {
    let bytes = status.as_bytes();
    let blocks = status
        .match_indices(" blocks ")
        .find(|(i, _)| *i > 0 && bytes[i - 1].is_ascii_digit())
        .map(|(i, m)| i + m.len())?;
    let rest = &status[blocks..];
    rest.match_indices('[')
        .rev()
        .find_map(|(i, _)| disk_map_at(&rest[i..]))
}

/// `[<total>/<active>] [<U_>+]` at the start of `s`.
fn disk_map_at(s: &str) -> Option<(i64, i64, &str)> {
    let s = s.strip_prefix('[')?;
    let (total, s) = leading_digits(s)?;
    let s = s.strip_prefix('/')?;
    let (active, s) = leading_digits(s)?;
    let s = s.strip_prefix("] [")?;
    let end = s.find(|c| c != 'U' && c != '_')?;
    if end == 0 || !s[end..].starts_with(']') {
        return None;
    }
    Some((total.parse().ok()?, active.parse().ok()?, &s[..end]))
}

fn leading_digits(s: &str) -> Option<(&str, &str)> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    (end > 0).then(|| s.split_at(end))
}

/// The blocks done from a sync line such as
/// `[==>......]  recovery = 12.6% (37043392/293039104) finish=127.5min speed=33440K/sec`.
/// The percentage, time and speed are not exported, but a line without them is malformed, as for
/// node_exporter.
fn recovery_line(line: &str) -> Result<i64, String> {
    let bad = |what: &str| format!("expected {what} on the sync line, found {line:?}");
    let (done, total) = line
        .match_indices('(')
        .find_map(|(i, _)| {
            let (done, s) = leading_digits(&line[i + 1..])?;
            let (total, s) = leading_digits(s.strip_prefix('/')?)?;
            s.starts_with(')').then_some((done, total))
        })
        .ok_or_else(|| bad("(done/total)"))?;
    let done = parse_i64(done).ok_or_else(|| bad("(done/total)"))?;
    parse_i64(total).ok_or_else(|| bad("(done/total)"))?;
    // `= (.+)%`, `finish=(.+)min`, `speed=(.+)[A-Z]`: greedy, so up to the last terminator.
    value_between(line, "= ", |r| r.rfind('%'), true).ok_or_else(|| bad("`= N%`"))?;
    value_between(line, "finish=", |r| r.rfind("min"), false)
        .ok_or_else(|| bad("`finish=Nmin`"))?;
    value_between(
        line,
        "speed=",
        |r| r.rfind(|c: char| c.is_ascii_uppercase()),
        false,
    )
    .ok_or_else(|| bad("`speed=NK/sec`"))?;
    Ok(done)
}

/// The number between the first `start` and the last terminator after it (found by `end`, at
/// least one character on), as a regular expression `start(.+)end` captures it.
fn value_between(
    line: &str,
    start: &str,
    end: impl Fn(&str) -> Option<usize>,
    trim: bool,
) -> Option<f64> {
    let i = line.find(start)?;
    let rest = &line[i + start.len()..];
    let k = end(rest).filter(|k| *k > 0)?;
    let value = &rest[..k];
    parse_f64(if trim { value.trim() } else { value })
}

/// What `<sysfs>/block/<device>/md/` says of one array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MdSysfs {
    pub device: String,
    /// `raid_disks`; `None` while it is empty (an array not set up yet).
    pub raid_disks: Option<u64>,
    /// `degraded` for the levels that have it, else 0.
    pub degraded: u64,
}

/// Parses `raid_disks`: `4`, or `4 (3)` during a reshape (new count, then the old one); empty for
/// an array whose geometry is not set.
pub fn parse_raid_disks(text: &str) -> Result<Option<u64>, String> {
    let text = text.trim();
    let Some(first) = text.split_whitespace().next() else {
        return Ok(None);
    };
    let rest = text[first.len()..].trim();
    let old_ok = rest.is_empty()
        || rest
            .strip_prefix('(')
            .and_then(|r| r.strip_suffix(')'))
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    match (first.parse::<u64>(), old_ok) {
        (Ok(n), true) if first.bytes().all(|b| b.is_ascii_digit()) => Ok(Some(n)),
        _ => Err(format!(
            "expected a number of disks (and the old one in parentheses during a reshape), found {text:?}"
        )),
    }
}

fn read_md_sysfs(device: &str, md: &std::path::Path) -> Result<MdSysfs, CollectError> {
    let level = read_trimmed(md.join("level"))?;
    let raid_disks_path = md.join("raid_disks");
    let raid_disks = parse_raid_disks(&read_trimmed(&raid_disks_path)?)
        .map_err(|e| CollectError::parse(&raid_disks_path, e))?;
    let degraded = match level.as_str() {
        "raid1" | "raid4" | "raid5" | "raid6" | "raid10" => super::read_u64(md.join("degraded"))?,
        _ => 0,
    };
    Ok(MdSysfs {
        device: device.to_string(),
        raid_disks,
        degraded,
    })
}

const HELP_DISKS_REQUIRED: &str = "Number of member disks the md array needs when complete.";
const HELP_DISKS: &str = "Number of active, failed and spare member disks of the md array.";
const HELP_STATE: &str =
    "State of the md array: 1 for its current state (active, inactive, recovering, resync, check), 0 for the others.";
const HELP_BLOCKS: &str = "Size of the md array in 1 KiB blocks.";
const HELP_BLOCKS_SYNCED: &str =
    "Blocks of the md array in sync: the progress of a running recovery, resync or check, else the size.";

/// `node_md_state` labels and the parser's state each one is 1 for.
const STATES: [(&str, &str); 5] = [
    ("active", "active"),
    ("inactive", "inactive"),
    ("recovering", "recovering"),
    ("resync", "resyncing"),
    ("check", "checking"),
];

/// Adds one array's mdstat series.
pub fn export_mdstat(md: &MdStat, out: &mut MetricSet) {
    let device = [("device", md.name)];
    out.gauge("node_md_disks_required", HELP_DISKS_REQUIRED)
        .sample(&device, md.disks_total as f64);
    let disks = out.gauge("node_md_disks", HELP_DISKS);
    for (state, value) in [
        ("active", md.disks_active),
        ("failed", md.disks_failed),
        ("spare", md.disks_spare),
    ] {
        disks.sample(&[("device", md.name), ("state", state)], value as f64);
    }
    let states = out.gauge("node_md_state", HELP_STATE);
    for (label, parsed) in STATES {
        let value = if md.state == parsed { 1.0 } else { 0.0 };
        states.sample(&[("device", md.name), ("state", label)], value);
    }
    out.gauge("node_md_blocks", HELP_BLOCKS)
        .sample(&device, md.blocks_total as f64);
    out.gauge("node_md_blocks_synced", HELP_BLOCKS_SYNCED)
        .sample(&device, md.blocks_synced as f64);
}

impl MdadmCollector {
    fn collect_sysfs(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        let block = self.roots.sys("block");
        let Some(entries) = sorted_dir_entries_if_present(&block)? else {
            return Ok(());
        };
        let mut first_error = None;
        for entry in entries {
            let name = entry.file_name();
            let Some(name) = name.to_str().filter(|n| n.starts_with("md")) else {
                continue;
            };
            let md = entry.path().join("md");
            if !md.is_dir() {
                continue;
            }
            match read_md_sysfs(name, &md) {
                Ok(raid) => {
                    let device = [("device", raid.device.as_str())];
                    if let Some(disks) = raid.raid_disks {
                        out.gauge(
                            "node_md_raid_disks",
                            "Number of member disks of the complete md array (sysfs raid_disks).",
                        )
                        .sample(&device, disks as f64);
                    }
                    out.gauge(
                        "node_md_degraded",
                        "Number of member disks missing from the md array (sysfs degraded).",
                    )
                    .sample(&device, raid.degraded as f64);
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

impl Collector for MdadmCollector {
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        let path = self.roots.proc("mdstat");
        let text = match crate::collector::read_text(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(CollectError::io(path, e)),
        };
        let mut bad = Vec::new();
        for array in parse_mdstat(&text) {
            match array {
                Ok(md) => export_mdstat(&md, out),
                Err(e) => bad.push(e.to_string()),
            }
        }
        let sysfs = self.collect_sysfs(out);
        super::malformed_lines(&path, &bad)?;
        sysfs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::fixture_roots;
    use proptest::prelude::*;

    fn parse_all(text: &str) -> Vec<Result<MdStat<'_>, MdstatError>> {
        parse_mdstat(text).collect()
    }

    fn md<'a>(
        name: &'a str,
        state: &'a str,
        (active, total, failed, spare, down): (i64, i64, i64, i64, i64),
        blocks_total: i64,
        blocks_synced: i64,
    ) -> MdStat<'a> {
        MdStat {
            name,
            state,
            disks_active: active,
            disks_total: total,
            disks_failed: failed,
            disks_spare: spare,
            disks_down: down,
            blocks_total,
            blocks_synced,
        }
    }

    /// Every personality and state md.rst describes, as md_seq_show prints them.
    const EVERY_LEVEL: &str = "\
Personalities : [raid1] [raid10] [raid0] [raid6] [raid5] [raid4] [linear]
md9 : active linear sdk1[1] sdj1[0]
      3906764800 blocks super 1.2 0k rounding

md8 : active raid0 sdi1[2] sdh1[1] sdg1[0]
      5860147200 blocks super 1.2 512k chunks

md7 : active raid4 sdf1[3] sde1[2] sdd1[1] sdc1[0]
      5860147200 blocks super 1.2 level 4, 512k chunk, algorithm 0 [4/4] [UUUU]

md6 : active raid6 sdq1[5] sdp1[4] sdo1[3] sdn1[2] sdm1[1] sdl1[0]
      15627786240 blocks super 1.2 level 6, 512k chunk, algorithm 2 [6/6] [UUUUUU]
      bitmap: 18/30 pages [72KB], 65536KB chunk
      [======>..............]  resync = 31.2% (1219012608/3906946560) finish=301.5min speed=148562K/sec

md5 : active raid5 sdx1[4] sdw1[3](F) sdv1[2] sdu1[1] sdt1[0]
      23441679360 blocks super 1.2 level 5, 512k chunk, algorithm 2 [4/3] [UUU_]
      [===>.................]  recovery = 18.4% (1437844992/7813893120) finish=596.4min speed=178172K/sec
      bitmap: 12/59 pages [48KB], 65536KB chunk

md4 : active raid10 sdab1[3] sdaa1[2] sdz1[1] sdy1[0] sdac1[4](S)
      3906762752 blocks super 1.2 512K chunks 2 near-copies [4/4] [UUUU]
      [=>...................]  check =  8.9% (348210176/3906762752) finish=392.1min speed=151230K/sec

md3 : active raid1 sdb3[1] sda3[0]
      1953381376 blocks super 1.2 [2/2] [UU]
      \tresync=DELAYED
      bitmap: 2/15 pages [8KB], 65536KB chunk

md2 : active (auto-read-only) raid1 sdb2[1] sda2[0]
      8384512 blocks super 1.2 [2/2] [UU]
      \tresync=PENDING

md1 : inactive sdad1[1](S) sdae1[0](S)
      3906764976 blocks super 1.2

md0 : active raid5 sdah1[3] sdag1[2] sdaf1[0]
      1953262592 blocks super 1.2 level 5, 512k chunk, algorithm 2 [3/4] [UUU]
      [=====>...............]  reshape = 27.0% (264010240/976631296) finish=91.1min speed=130272K/sec

unused devices: <none>
";

    #[test]
    fn every_level_and_state() {
        let got: Vec<_> = parse_all(EVERY_LEVEL)
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            got,
            vec![
                md("md9", "active", (2, 2, 0, 0, 0), 3906764800, 3906764800),
                md("md8", "active", (3, 3, 0, 0, 0), 5860147200, 5860147200),
                md("md7", "active", (4, 4, 0, 0, 0), 5860147200, 5860147200),
                md("md6", "resyncing", (6, 6, 0, 0, 0), 15627786240, 1219012608),
                md(
                    "md5",
                    "recovering",
                    (3, 4, 1, 0, 1),
                    23441679360,
                    1437844992
                ),
                md("md4", "checking", (4, 4, 0, 1, 0), 3906762752, 348210176),
                md("md3", "resyncing", (2, 2, 0, 0, 0), 1953381376, 0),
                md("md2", "resyncing", (2, 2, 0, 0, 0), 8384512, 0),
                md("md1", "inactive", (0, 0, 0, 2, 0), 3906764976, 3906764976),
                md("md0", "reshaping", (4, 3, 0, 0, 0), 1953262592, 264010240),
            ]
        );
    }

    #[test]
    fn metrics_of_states() {
        let mut out = MetricSet::new();
        for array in parse_mdstat(EVERY_LEVEL) {
            export_mdstat(&array.unwrap(), &mut out);
        }
        let value = |name: &str, device: &str, state: Option<&str>| {
            out.get(name)
                .unwrap()
                .samples
                .iter()
                .find(|s| {
                    s.labels.iter().any(|(k, v)| k == "device" && v == device)
                        && state
                            .is_none_or(|st| s.labels.iter().any(|(k, v)| k == "state" && v == st))
                })
                .unwrap()
                .value
        };
        assert_eq!(value("node_md_state", "md6", Some("resync")), 1.0);
        assert_eq!(value("node_md_state", "md6", Some("active")), 0.0);
        assert_eq!(value("node_md_state", "md4", Some("check")), 1.0);
        assert_eq!(value("node_md_state", "md5", Some("recovering")), 1.0);
        assert_eq!(value("node_md_state", "md1", Some("inactive")), 1.0);
        assert_eq!(value("node_md_disks", "md5", Some("failed")), 1.0);
        assert_eq!(value("node_md_disks", "md4", Some("spare")), 1.0);
        assert_eq!(value("node_md_disks_required", "md5", None), 4.0);
        // A reshape is none of the five states, as upstream.
        let reshape: f64 = STATES
            .iter()
            .map(|(label, _)| value("node_md_state", "md0", Some(label)))
            .sum();
        assert_eq!(reshape, 0.0);
        assert_eq!(out.get("node_md_state").unwrap().samples.len(), 50);
    }

    #[test]
    fn malformed_arrays_are_named_and_skipped() {
        let text = "\
Personalities : [raid1]
md0 : active raid1 sdb1[1] sda1[0]
      1048512 blocks super 1.2 [2/2] [UU]

md1 : active raid1 sdd1[1] sdc1[0]
      lots of blocks [2/2] [UU]

md2 : active raid1 sdf1[1] sde1[0]
      1048512 blocks super 1.2 [2/1] [U_]
      [=>..........]  recovery =  9.1% (95424/1048512)

md3 : active raid5 sdg1[0]
      1048512 blocks super 1.2 level 5, 512k chunk

md4 active
      1048512 blocks super 1.2 [2/2] [UU]

md5 : active raid1 sdh1[0] sdi1[1]
";
        let got = parse_all(text);
        assert_eq!(got.len(), 6);
        assert_eq!(got[0].as_ref().unwrap().name, "md0");
        let lines: Vec<usize> = got
            .iter()
            .filter_map(|r| r.as_ref().err().map(|e| e.line))
            .collect();
        assert_eq!(lines, vec![5, 8, 12, 15, 18]);
        let err = got[2].as_ref().unwrap_err();
        assert!(err.message.contains("finish="), "{err}");
    }

    #[test]
    fn empty_and_no_arrays() {
        assert!(parse_all("").is_empty());
        assert!(parse_all("Personalities : \nunused devices: <none>\n").is_empty());
    }

    #[test]
    fn raid_disks_forms() {
        assert_eq!(parse_raid_disks("4\n"), Ok(Some(4)));
        assert_eq!(parse_raid_disks("5 (4)\n"), Ok(Some(5)));
        assert_eq!(parse_raid_disks("\n"), Ok(None));
        assert!(parse_raid_disks("four").is_err());
        assert!(parse_raid_disks("4 (x)").is_err());
        assert!(parse_raid_disks("-4").is_err());
    }

    /// A generated mdstat of thousands of arrays: every array parses to its values, and the parser
    /// keeps no copy of the text (the records borrow their names from it, and the parser itself is
    /// a fixed-size cursor), so memory is the text plus what is exported.
    #[test]
    fn thousands_of_arrays() {
        const N: usize = 5000;
        let mut text = String::from("Personalities : [raid1] [raid5] [raid0]\n");
        for i in 0..N {
            let blocks = 1_000_000 + i as i64;
            match i % 3 {
                0 => text.push_str(&format!(
                    "md{i} : active raid1 sdb{i}[1] sda{i}[0]\n      {blocks} blocks super 1.2 [2/2] [UU]\n      \n"
                )),
                1 => text.push_str(&format!(
                    "md{i} : active raid5 sdc{i}[2] sdb{i}[1](F) sda{i}[0]\n      {blocks} blocks super 1.2 level 5, 512k chunk, algorithm 2 [3/2] [U_U]\n      bitmap: 1/8 pages [4KB], 65536KB chunk\n      [=>...]  recovery = 10.0% ({i}/{blocks}) finish=10.0min speed=1000K/sec\n\n"
                )),
                _ => text.push_str(&format!(
                    "md{i} : active raid0 sdb{i}[1] sda{i}[0]\n      {blocks} blocks super 1.2 512k chunks\n      \n"
                )),
            }
        }
        text.push_str("unused devices: <none>\n");
        let range = text.as_bytes().as_ptr_range();
        assert!(std::mem::size_of::<MdstatParser<'_>>() <= 128);
        let mut count = 0;
        for (i, array) in parse_mdstat(&text).enumerate() {
            let md = array.unwrap();
            assert!(range.contains(&md.name.as_ptr()), "name copied");
            assert_eq!(md.name, format!("md{i}"));
            let blocks = 1_000_000 + i as i64;
            assert_eq!(md.blocks_total, blocks);
            match i % 3 {
                0 => assert_eq!(
                    (md.state, md.disks_active, md.blocks_synced),
                    ("active", 2, blocks)
                ),
                1 => assert_eq!(
                    (
                        md.state,
                        md.disks_active,
                        md.disks_failed,
                        md.disks_down,
                        md.blocks_synced
                    ),
                    ("recovering", 2, 1, 1, i as i64)
                ),
                _ => assert_eq!((md.disks_active, md.disks_total), (2, 2)),
            }
            count += 1;
        }
        assert_eq!(count, N);
        // What is exported is eleven series an array.
        let mut out = MetricSet::new();
        for array in parse_mdstat(&text) {
            export_mdstat(&array.unwrap(), &mut out);
        }
        assert_eq!(out.sample_count(), 11 * N);
    }

    #[test]
    fn server_fixture() {
        let collector = MdadmCollector {
            roots: fixture_roots("server"),
        };
        let mut out = MetricSet::new();
        collector.collect(&mut out).unwrap();
        let value = |name: &str, device: &str| {
            out.get(name)
                .unwrap()
                .samples
                .iter()
                .find(|s| s.labels.iter().any(|(k, v)| k == "device" && v == device))
                .map(|s| s.value)
        };
        assert_eq!(value("node_md_degraded", "md2"), Some(1.0));
        assert_eq!(value("node_md_raid_disks", "md3"), Some(4.0));
        assert_eq!(value("node_md_degraded", "md3"), Some(0.0));
        assert_eq!(
            value("node_md_blocks_synced", "md0"),
            value("node_md_blocks", "md0")
        );
        assert_eq!(out.get("node_md_state").unwrap().samples.len(), 5 * 5);
    }

    #[test]
    fn sysfs_levels_without_degraded_reshape_and_unset_geometry() {
        let dir = tempfile::tempdir().unwrap();
        let write = |rel: &str, text: &str| {
            let p = dir.path().join("sys/block").join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        // raid0 and linear have no `degraded`; a reshape shows the new and old counts; an array
        // being assembled has an empty `raid_disks`; a partition-like `md0p1` has no md/.
        write("md0/md/level", "raid0\n");
        write("md0/md/raid_disks", "3\n");
        write("md1/md/level", "linear\n");
        write("md1/md/raid_disks", "2\n");
        write("md2/md/level", "raid5\n");
        write("md2/md/raid_disks", "5 (4)\n");
        write("md2/md/degraded", "0\n");
        write("md3/md/level", "\n");
        write("md3/md/raid_disks", "\n");
        write("md0p1/size", "2048\n");
        write("sda/size", "2048\n");
        let collector = MdadmCollector {
            roots: Roots {
                procfs: dir.path().join("proc"),
                sysfs: dir.path().join("sys"),
                rootfs: dir.path().to_path_buf(),
            },
        };
        let mut out = MetricSet::new();
        collector.collect_sysfs(&mut out).unwrap();
        let series = |name: &str| -> Vec<(String, f64)> {
            out.get(name)
                .map(|f| {
                    f.samples
                        .iter()
                        .map(|s| (s.labels[0].1.clone(), s.value))
                        .collect()
                })
                .unwrap_or_default()
        };
        assert_eq!(
            series("node_md_raid_disks"),
            vec![
                ("md0".into(), 3.0),
                ("md1".into(), 2.0),
                ("md2".into(), 5.0)
            ]
        );
        assert_eq!(
            series("node_md_degraded"),
            vec![
                ("md0".into(), 0.0),
                ("md1".into(), 0.0),
                ("md2".into(), 0.0),
                ("md3".into(), 0.0)
            ]
        );
        // No mdstat at all (no md driver) is no data, even with a sysfs.
        let mut out = MetricSet::new();
        collector.collect(&mut out).unwrap();
        assert_eq!(out.sample_count(), 0);
    }

    #[test]
    fn vm_has_no_md() {
        let collector = MdadmCollector {
            roots: fixture_roots("vm"),
        };
        let mut out = MetricSet::new();
        collector.collect(&mut out).unwrap();
        assert_eq!(out.sample_count(), 0);
    }

    #[test]
    fn broken_fixture_fails_but_publishes() {
        let collector = MdadmCollector {
            roots: fixture_roots("broken"),
        };
        let mut out = MetricSet::new();
        let err = collector.collect(&mut out).unwrap_err().to_string();
        assert!(err.contains("mdstat"), "{err}");
        assert!(out.get("node_md_blocks").is_some());
    }

    fn member_list(n: usize, failed: usize, spare: usize) -> String {
        (0..n)
            .map(|i| {
                let mark = if i < failed {
                    "(F)"
                } else if i < failed + spare {
                    "(S)"
                } else {
                    ""
                };
                format!(" sd{}1[{i}]{mark}", (b'a' + (i % 26) as u8) as char)
            })
            .collect()
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in "\\PC*") {
            for array in parse_mdstat(&text) {
                let _ = array;
            }
        }

        #[test]
        fn arbitrary_lines_never_panic(lines in prop::collection::vec(
            "(md[0-9]{1,3} : (in)?active raid[0-9]{1,2}( sd[a-z][0-9]\\[[0-9]\\](\\(F\\)|\\(S\\))?){0,4}|      [0-9]{1,20} blocks .{0,30}\\[[0-9]{1,3}/[0-9]{1,3}\\] \\[[U_]{0,6}\\]|      .{0,20}(recovery|resync|check|reshape) = .{0,10}% \\([0-9]{1,5}/[0-9]{1,5}\\).{0,30}|      bitmap: .{0,10}|\\PC{0,40})",
            0..12,
        )) {
            let text = lines.join("\n");
            for array in parse_mdstat(&text) {
                let _ = array;
            }
        }

        #[test]
        fn generated_arrays_parse_back(
            arrays in prop::collection::vec(
                (0u8..4, 2usize..8, 0usize..2, 0usize..2, 1i64..i64::MAX / 2, 0u8..4, any::<bool>()),
                0..20,
            )
        ) {
            let mut text = String::from("Personalities : [raid1] [raid5] [raid0] [raid10]\n");
            let mut expected = Vec::new();
            for (i, (kind, n, failed, spare, blocks, sync, bitmap)) in arrays.iter().copied().enumerate() {
                let name = format!("md{i}");
                let members = member_list(n, failed, spare);
                let working = (n - failed - spare) as i64;
                let synced_of = |state: &'static str, total: i64| (state, total);
                let (level, status) = match kind {
                    0 => ("raid0", format!("      {blocks} blocks super 1.2 512k chunks")),
                    1 => ("linear", format!("      {blocks} blocks super 1.2 0k rounding")),
                    2 => ("raid1", format!(
                        "      {blocks} blocks super 1.2 [{n}/{working}] [{}{}]",
                        "U".repeat(working as usize), "_".repeat(n - working as usize))),
                    _ => ("inactive", format!("      {blocks} blocks super 1.2")),
                };
                let line = if kind == 3 {
                    format!("{name} : inactive{members}")
                } else {
                    format!("{name} : active {level}{members}")
                };
                text.push_str(&line);
                text.push('\n');
                text.push_str(&status);
                text.push('\n');
                if bitmap {
                    text.push_str("      bitmap: 3/8 pages [12KB], 65536KB chunk\n");
                }
                let done = blocks / 3;
                let (state, synced) = match (kind, sync) {
                    (2, 1) => {
                        text.push_str(&format!("      [===>......]  recovery = 33.3% ({done}/{blocks}) finish=12.5min speed=123456K/sec\n"));
                        synced_of("recovering", done)
                    }
                    (2, 2) => {
                        text.push_str(&format!("      [===>......]  check = 33.3% ({done}/{blocks}) finish=0.5min speed=99K/sec\n"));
                        synced_of("checking", done)
                    }
                    (2, 3) => {
                        text.push_str("      \tresync=DELAYED\n");
                        synced_of("resyncing", 0)
                    }
                    (3, _) => synced_of("inactive", blocks),
                    _ => synced_of("active", blocks),
                };
                text.push_str("      \n\n");
                let (active, total, down) = match kind {
                    0 | 1 => (n as i64, n as i64, 0),
                    2 => (working, n as i64, n as i64 - working),
                    _ => (0, 0, 0),
                };
                expected.push((name, state, active, total, failed as i64, spare as i64, down, blocks, synced));
            }
            text.push_str("unused devices: <none>\n");
            let got: Vec<_> = parse_mdstat(&text)
                .map(|r| r.map(|m| (m.name.to_string(), m.state, m.disks_active, m.disks_total,
                    m.disks_failed, m.disks_spare, m.disks_down, m.blocks_total, m.blocks_synced)))
                .collect::<Result<_, _>>()
                .unwrap();
            prop_assert_eq!(got, expected);
        }
    }
}
