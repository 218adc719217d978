//! The crash-safe journal of anomaly transitions: one JSON line per [`Transition`], appended and
//! synced to disk before [`Journal::append`] returns, so an event the feed has shown survives a
//! crash or a power cut.
//!
//! Layout of the storage directory (created with mode 0700 when missing):
//!
//! * `anomalies.jsonl`: the journal. Each line is a transition as the feed's stream sends it,
//!   `{"type":"started"|"resolved","event":{...}}`, or a checkpoint `{"type":"checkpoint","next_id":N}`
//!   that a compaction writes first so ids never repeat even after the events holding the highest
//!   ids have been dropped.
//! * `anomalies.jsonl.tmp`: a compaction in progress (ignored and replaced when found).
//! * `anomalies.lock`: held with `flock` while an exporter uses the directory; contains its pid.
//!
//! Replay is forgiving: an unreadable last line (a write torn by a crash) is skipped with a
//! warning, an unreadable line elsewhere is skipped and counted, and either makes the journal
//! rewrite itself cleanly. Retention bounds the journal by age (resolved events older than
//! [`Retention::max_age`]) and by size ([`Retention::max_bytes`]); active events are never dropped.

use std::collections::BTreeMap;
use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{self, Read as _, Seek as _, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::event::{Event, Transition};

/// File name of the journal inside the storage directory.
pub const JOURNAL_FILE: &str = "anomalies.jsonl";
const TEMP_FILE: &str = "anomalies.jsonl.tmp";
const LOCK_FILE: &str = "anomalies.lock";

/// How much history the journal (and the store's memory) keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Resolved events that ended longer ago than this are dropped.
    pub max_age: Duration,
    /// When the journal file grows past this size it is compacted; a compaction keeps at most
    /// half of it (dropping the oldest resolved events first), so the next one is far away.
    pub max_bytes: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            max_age: Duration::from_secs(30 * 24 * 3600),
            max_bytes: 64 * 1024 * 1024,
        }
    }
}

/// Why the journal could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error(
        "{}: the anomaly journal is in use by another sysmon-exporter{holder}, which holds {}; give each exporter its own storage path (--storage.path)",
        dir.display(),
        lock.display()
    )]
    Locked {
        dir: PathBuf,
        lock: PathBuf,
        /// " (pid N)" when the holder wrote its pid, else empty.
        holder: String,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl JournalError {
    fn io(path: &Path, source: io::Error) -> JournalError {
        JournalError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// What replaying the journal found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Replay {
    /// Every event the journal holds, by id, after age retention.
    pub events: BTreeMap<u64, Event>,
    /// The id the next event gets: one past the highest id ever recorded.
    pub next_id: u64,
    /// Lines read and applied.
    pub lines: usize,
    /// Unreadable lines before the last one (skipped).
    pub invalid_lines: usize,
    /// Whether the last line was unreadable (a write torn by a crash; skipped).
    pub torn_tail: bool,
    /// Resolved events dropped because they were older than the retention age.
    pub expired: usize,
}

/// The first line of a compacted journal.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Checkpoint {
    #[serde(rename = "type")]
    kind: String,
    next_id: u64,
}

const CHECKPOINT: &str = "checkpoint";

/// An open, locked journal.
#[derive(Debug)]
pub struct Journal {
    dir: PathBuf,
    path: PathBuf,
    /// Opened for appending; replaced by the new file after a compaction.
    file: File,
    /// Holds the `flock` for as long as the journal is open.
    _lock: File,
    /// Bytes of complete, synced lines in the file.
    len: u64,
    /// Set when the file may not hold what memory holds (a failed write, a damaged or expired
    /// replay): the next write must be a full rewrite rather than an append.
    needs_rewrite: bool,
    retention: Retention,
}

impl Journal {
    /// Opens (creating if needed) the journal in `dir`, takes its lock and replays it.
    ///
    /// Fails when the directory cannot be created or read, or when another process holds the
    /// lock. Damage inside the file is not an error: it is skipped, logged and reported in the
    /// [`Replay`], and the journal asks for a rewrite ([`Journal::needs_rewrite`]).
    pub fn open(dir: &Path, retention: Retention) -> Result<(Journal, Replay), JournalError> {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| JournalError::io(dir, e))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = lock_dir(dir, &lock_path)?;

        let path = dir.join(JOURNAL_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| JournalError::io(&path, e))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|e| JournalError::io(&path, e))?;
        let mut replay = replay(&bytes, &path);
        replay.expired = prune_expired(&mut replay.events, retention.max_age, Utc::now());
        // A compaction interrupted by a crash leaves its temporary file; the journal it would
        // have replaced is still complete.
        let _ = std::fs::remove_file(dir.join(TEMP_FILE));
        let len = bytes.len() as u64;
        let journal = Journal {
            dir: dir.to_path_buf(),
            path,
            file,
            _lock: lock,
            len,
            needs_rewrite: replay.torn_tail || replay.invalid_lines > 0 || replay.expired > 0,
            retention,
        };
        Ok((journal, replay))
    }

    /// Appends one transition and syncs it to disk before returning.
    ///
    /// On error the line may be partly written; the journal then truncates it away (best effort)
    /// and asks for a rewrite, so the caller's next write must be [`Journal::compact`].
    pub fn append(&mut self, t: &Transition) -> io::Result<()> {
        let mut line = serde_json::to_vec(t).map_err(io::Error::other)?;
        line.push(b'\n');
        let result = self
            .file
            .write_all(&line)
            .and_then(|()| self.file.sync_data());
        match result {
            Ok(()) => {
                self.len += line.len() as u64;
                Ok(())
            }
            Err(e) => {
                self.needs_rewrite = true;
                let _ = self.file.set_len(self.len);
                Err(e)
            }
        }
    }

    /// Rewrites the journal from `events`, which is first trimmed to the retention (resolved
    /// events past the age limit, then the oldest resolved events until the journal fits in half
    /// of the size limit; active events always stay). `events` keeps the trimmed set even when
    /// writing fails, so memory stays bounded while the disk is unwritable.
    ///
    /// The new journal is written to a temporary file, synced, renamed over the old one and the
    /// directory synced, so a crash at any point leaves either the old or the new journal whole.
    pub fn compact(
        &mut self,
        events: &mut BTreeMap<u64, Event>,
        next_id: u64,
        now: DateTime<Utc>,
    ) -> io::Result<()> {
        prune_expired(events, self.retention.max_age, now);
        let checkpoint = Checkpoint {
            kind: CHECKPOINT.to_string(),
            next_id,
        };
        let mut content = serde_json::to_vec(&checkpoint).map_err(io::Error::other)?;
        content.push(b'\n');
        let mut lines = Vec::with_capacity(events.len());
        for e in events.values() {
            // A resolved event's transition carries the whole event, so one line suffices.
            let t = if e.is_active() {
                Transition::Started(e.clone())
            } else {
                Transition::Resolved(e.clone())
            };
            let mut line = serde_json::to_vec(&t).map_err(io::Error::other)?;
            line.push(b'\n');
            lines.push((e.id, line));
        }
        let budget = self.retention.max_bytes / 2;
        let total: u64 =
            content.len() as u64 + lines.iter().map(|(_, l)| l.len() as u64).sum::<u64>();
        let mut dropped = std::collections::BTreeSet::new();
        if total > budget {
            let mut resolved: Vec<&Event> = events.values().filter(|e| !e.is_active()).collect();
            resolved.sort_by_key(|e| (e.resolved_at, e.id));
            let size_of: BTreeMap<u64, u64> =
                lines.iter().map(|(id, l)| (*id, l.len() as u64)).collect();
            let mut size = total;
            for e in resolved {
                if size <= budget {
                    break;
                }
                size -= size_of.get(&e.id).copied().unwrap_or(0);
                dropped.insert(e.id);
            }
            events.retain(|id, _| !dropped.contains(id));
        }
        for (id, line) in &lines {
            if !dropped.contains(id) {
                content.extend_from_slice(line);
            }
        }

        let temp = self.dir.join(TEMP_FILE);
        let _ = std::fs::remove_file(&temp);
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)?;
        if let Err(e) = file.write_all(&content).and_then(|()| file.sync_data()) {
            let _ = std::fs::remove_file(&temp);
            return Err(e);
        }
        if let Err(e) = std::fs::rename(&temp, &self.path) {
            let _ = std::fs::remove_file(&temp);
            return Err(e);
        }
        // The renamed file is the journal now, whatever syncing the directory says.
        let _ = file.seek(io::SeekFrom::End(0));
        self.file = file;
        self.len = content.len() as u64;
        File::open(&self.dir)?.sync_all()?;
        self.needs_rewrite = false;
        if !dropped.is_empty() {
            tracing::info!(
                journal = %self.path.display(),
                dropped = dropped.len(),
                bytes = self.len,
                "anomaly journal compacted; oldest resolved events dropped to fit its size limit"
            );
        }
        Ok(())
    }

    /// Whether the next write must be a [`Journal::compact`] rather than an append.
    pub fn needs_rewrite(&self) -> bool {
        self.needs_rewrite
    }

    /// Whether the journal has outgrown its size limit.
    pub fn oversized(&self) -> bool {
        self.len > self.retention.max_bytes
    }

    /// Size of the journal file in bytes (complete lines).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the journal holds no lines at all.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn retention(&self) -> Retention {
        self.retention
    }

    /// Sends appends to `file` instead (tests simulate a full disk with `/dev/full`).
    #[cfg(test)]
    pub(crate) fn redirect_for_tests(&mut self, file: File) {
        self.file = file;
    }
}

/// Takes the directory's lock file, or says who holds it.
fn lock_dir(dir: &Path, lock_path: &Path) -> Result<File, JournalError> {
    let mut lock = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(lock_path)
        .map_err(|e| JournalError::io(lock_path, e))?;
    match rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {}
        Err(rustix::io::Errno::WOULDBLOCK) => {
            let mut pid = String::new();
            let _ = lock.read_to_string(&mut pid);
            let pid = pid.trim();
            return Err(JournalError::Locked {
                dir: dir.to_path_buf(),
                lock: lock_path.to_path_buf(),
                holder: if pid.is_empty() {
                    String::new()
                } else {
                    format!(" (pid {pid})")
                },
            });
        }
        Err(e) => return Err(JournalError::io(lock_path, e.into())),
    }
    // The pid is only a hint for the error message above; failing to write it changes nothing.
    let _ = lock
        .set_len(0)
        .and_then(|()| writeln!(lock, "{}", std::process::id()));
    Ok(lock)
}

/// Applies one transition to a set of events: the transition's event replaces whatever the set
/// held under its id (a `resolved` transition carries the whole event, now with `resolved_at`).
pub fn apply(events: &mut BTreeMap<u64, Event>, t: Transition) {
    let e = match t {
        Transition::Started(e) | Transition::Resolved(e) => e,
    };
    events.insert(e.id, e);
}

/// Drops resolved events that ended more than `max_age` before `now`; returns how many.
pub fn prune_expired(
    events: &mut BTreeMap<u64, Event>,
    max_age: Duration,
    now: DateTime<Utc>,
) -> usize {
    // An age too large for chrono expires nothing.
    let Some(cutoff) = TimeDelta::from_std(max_age)
        .ok()
        .and_then(|age| now.checked_sub_signed(age))
    else {
        return 0;
    };
    let before = events.len();
    events.retain(|_, e| e.resolved_at.is_none_or(|end| end >= cutoff));
    before - events.len()
}

/// Replays journal bytes. Never fails: unreadable lines are skipped, logged and counted.
fn replay(bytes: &[u8], path: &Path) -> Replay {
    let mut out = Replay {
        next_id: 1,
        ..Replay::default()
    };
    let mut lines: Vec<(usize, &[u8])> = bytes
        .split(|b| *b == b'\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .collect();
    // A final newline leaves an empty last piece: not a line.
    if lines.last().is_some_and(|(_, l)| l.is_empty()) {
        lines.pop();
    }
    let count = lines.len();
    for (index, (number, line)) in lines.into_iter().enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match parse_line(line) {
            Some(Line::Transition(t)) => {
                out.next_id = out.next_id.max(t.event().id.saturating_add(1));
                apply(&mut out.events, t);
                out.lines += 1;
            }
            Some(Line::Checkpoint(next_id)) => {
                out.next_id = out.next_id.max(next_id);
                out.lines += 1;
            }
            None if index + 1 == count => {
                tracing::warn!(
                    journal = %path.display(),
                    line = number,
                    "skipping an unreadable last line of the anomaly journal (a write interrupted by a crash)"
                );
                out.torn_tail = true;
            }
            None => {
                tracing::warn!(
                    journal = %path.display(),
                    line = number,
                    "skipping an unreadable line of the anomaly journal"
                );
                out.invalid_lines += 1;
            }
        }
    }
    out
}

enum Line {
    Transition(Transition),
    Checkpoint(u64),
}

fn parse_line(line: &[u8]) -> Option<Line> {
    if let Ok(t) = serde_json::from_slice::<Transition>(line) {
        return Some(Line::Transition(t));
    }
    match serde_json::from_slice::<Checkpoint>(line) {
        Ok(c) if c.kind == CHECKPOINT => Some(Line::Checkpoint(c.next_id)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anomaly::event::Severity;
    use std::os::unix::fs::PermissionsExt as _;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().into()
    }

    fn event(id: u64, started: &str, resolved: Option<&str>) -> Event {
        Event {
            id,
            rule: "cpu_high".into(),
            category: "cpu".into(),
            severity: Severity::Warning,
            subject: "host".into(),
            message: format!("event {id}"),
            value: 95.0,
            threshold: 90.0,
            started_at: at(started),
            resolved_at: resolved.map(at),
            metrics: BTreeMap::from([("cpu_busy_percent".to_string(), 95.0)]),
        }
    }

    fn line(t: &Transition) -> String {
        format!("{}\n", serde_json::to_string(t).unwrap())
    }

    /// A timestamp `days` before now, RFC 3339.
    fn days_ago(days: i64) -> String {
        (Utc::now() - TimeDelta::days(days)).to_rfc3339()
    }

    #[test]
    fn creates_private_directory_and_appends_lines() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("state/sub");
        let (mut j, replay) = Journal::open(&dir, Retention::default()).unwrap();
        assert_eq!(replay.next_id, 1);
        assert!(replay.events.is_empty());
        assert!(!j.needs_rewrite());
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let started = Transition::Started(event(1, "2026-01-01T00:00:00Z", None));
        j.append(&started).unwrap();
        let text = std::fs::read_to_string(dir.join(JOURNAL_FILE)).unwrap();
        assert_eq!(text, line(&started));
        assert_eq!(j.len(), text.len() as u64);
        assert!(text.starts_with("{\"type\":\"started\",\"event\":{\"id\":1,"));
    }

    #[test]
    fn replay_completes_started_events_and_continues_ids() {
        let tmp = tempfile::tempdir().unwrap();
        let start = days_ago(1);
        let end = days_ago(0);
        {
            let (mut j, _) = Journal::open(tmp.path(), Retention::default()).unwrap();
            j.append(&Transition::Started(event(1, &start, None)))
                .unwrap();
            j.append(&Transition::Started(event(2, &start, None)))
                .unwrap();
            j.append(&Transition::Resolved(event(1, &start, Some(&end))))
                .unwrap();
        }
        let (_, replay) = Journal::open(tmp.path(), Retention::default()).unwrap();
        assert_eq!(replay.lines, 3);
        assert_eq!(replay.next_id, 3);
        assert_eq!(replay.events.len(), 2);
        assert_eq!(replay.events[&1].resolved_at, Some(at(&end)));
        assert!(replay.events[&2].is_active());
        assert_eq!(replay.invalid_lines, 0);
        assert!(!replay.torn_tail);
    }

    #[test]
    fn torn_last_line_is_skipped_and_rewritten_away() {
        let tmp = tempfile::tempdir().unwrap();
        let start = days_ago(1);
        let good = line(&Transition::Started(event(4, &start, None)));
        let torn = &line(&Transition::Started(event(5, &start, None)))[..40];
        std::fs::write(tmp.path().join(JOURNAL_FILE), format!("{good}{torn}")).unwrap();
        let (mut j, mut replay) = Journal::open(tmp.path(), Retention::default()).unwrap();
        assert!(replay.torn_tail);
        assert_eq!(replay.invalid_lines, 0);
        assert_eq!(replay.events.keys().copied().collect::<Vec<_>>(), [4]);
        assert_eq!(replay.next_id, 5);
        assert!(j.needs_rewrite());
        j.compact(&mut replay.events, replay.next_id, Utc::now())
            .unwrap();
        assert!(!j.needs_rewrite());
        j.append(&Transition::Started(event(5, &start, None)))
            .unwrap();
        drop(j);
        let (_, replay) = Journal::open(tmp.path(), Retention::default()).unwrap();
        assert!(!replay.torn_tail);
        assert_eq!(replay.events.keys().copied().collect::<Vec<_>>(), [4, 5]);
    }

    #[test]
    fn invalid_middle_line_is_skipped_and_counted() {
        let tmp = tempfile::tempdir().unwrap();
        let start = days_ago(2);
        let content = format!(
            "{}this is not json\n{{\"type\":\"started\",\"event\":{{\"id\":\"x\"}}}}\n\n{}",
            line(&Transition::Started(event(1, &start, None))),
            line(&Transition::Started(event(2, &start, None))),
        );
        std::fs::write(tmp.path().join(JOURNAL_FILE), content).unwrap();
        let (j, replay) = Journal::open(tmp.path(), Retention::default()).unwrap();
        assert_eq!(replay.invalid_lines, 2);
        assert!(!replay.torn_tail);
        assert_eq!(replay.lines, 2);
        assert_eq!(replay.events.keys().copied().collect::<Vec<_>>(), [1, 2]);
        assert!(j.needs_rewrite());
    }

    #[test]
    fn retention_by_age_drops_old_resolved_but_never_active() {
        let tmp = tempfile::tempdir().unwrap();
        let content = [
            line(&Transition::Started(event(1, &days_ago(60), None))),
            line(&Transition::Resolved(event(
                2,
                &days_ago(50),
                Some(&days_ago(40)),
            ))),
            line(&Transition::Resolved(event(
                3,
                &days_ago(40),
                Some(&days_ago(10)),
            ))),
        ]
        .concat();
        std::fs::write(tmp.path().join(JOURNAL_FILE), content).unwrap();
        let (mut j, mut replay) = Journal::open(tmp.path(), Retention::default()).unwrap();
        assert_eq!(replay.expired, 1);
        assert_eq!(replay.events.keys().copied().collect::<Vec<_>>(), [1, 3]);
        assert_eq!(replay.next_id, 4);
        assert!(j.needs_rewrite());
        j.compact(&mut replay.events, replay.next_id, Utc::now())
            .unwrap();
        drop(j);
        let text = std::fs::read_to_string(tmp.path().join(JOURNAL_FILE)).unwrap();
        assert!(
            text.starts_with("{\"type\":\"checkpoint\",\"next_id\":4}\n"),
            "{text}"
        );
        assert_eq!(text.lines().count(), 3, "{text}");
        let (_, replay) = Journal::open(tmp.path(), Retention::default()).unwrap();
        assert_eq!(replay.events.keys().copied().collect::<Vec<_>>(), [1, 3]);
        assert_eq!(replay.expired, 0);
    }

    #[test]
    fn checkpoint_keeps_ids_increasing_after_everything_expired() {
        let tmp = tempfile::tempdir().unwrap();
        let content = line(&Transition::Resolved(event(
            41,
            &days_ago(90),
            Some(&days_ago(89)),
        )));
        std::fs::write(tmp.path().join(JOURNAL_FILE), content).unwrap();
        {
            let (mut j, mut replay) = Journal::open(tmp.path(), Retention::default()).unwrap();
            assert!(replay.events.is_empty());
            assert_eq!(replay.next_id, 42);
            j.compact(&mut replay.events, replay.next_id, Utc::now())
                .unwrap();
        }
        let (_, replay) = Journal::open(tmp.path(), Retention::default()).unwrap();
        assert!(replay.events.is_empty());
        assert_eq!(replay.next_id, 42);
    }

    #[test]
    fn retention_by_size_keeps_newest_resolved_and_all_active() {
        let tmp = tempfile::tempdir().unwrap();
        let retention = Retention {
            max_age: Duration::from_secs(365 * 24 * 3600),
            max_bytes: 4096,
        };
        let (mut j, replay) = Journal::open(tmp.path(), retention).unwrap();
        let mut events = replay.events;
        let start = days_ago(3);
        // id 1 stays active throughout; 2.. are resolved in id order.
        let t = Transition::Started(event(1, &days_ago(5), None));
        j.append(&t).unwrap();
        apply(&mut events, t);
        let mut id = 2;
        while !j.oversized() {
            let end =
                (Utc::now() - TimeDelta::days(2) + TimeDelta::seconds(id as i64)).to_rfc3339();
            let t = Transition::Resolved(event(id, &start, Some(&end)));
            j.append(&t).unwrap();
            apply(&mut events, t);
            id += 1;
        }
        let last = id - 1;
        j.compact(&mut events, id, Utc::now()).unwrap();
        assert!(j.len() <= 2048, "{}", j.len());
        let on_disk = std::fs::metadata(tmp.path().join(JOURNAL_FILE))
            .unwrap()
            .len();
        assert_eq!(on_disk, j.len());
        assert!(events.contains_key(&1), "active event kept");
        assert!(events.contains_key(&last), "newest resolved kept");
        assert!(!events.contains_key(&2), "oldest resolved dropped");
        // What is kept is a suffix of the resolved events.
        let kept: Vec<u64> = events.keys().copied().filter(|i| *i != 1).collect();
        assert_eq!(kept, (kept[0]..=last).collect::<Vec<_>>());
        drop(j);
        let (_, replay) = Journal::open(tmp.path(), retention).unwrap();
        assert_eq!(replay.events, events);
        assert_eq!(replay.next_id, last + 1);
    }

    #[test]
    fn second_opener_gets_a_clear_error() {
        let tmp = tempfile::tempdir().unwrap();
        let (_j, _) = Journal::open(tmp.path(), Retention::default()).unwrap();
        let err = Journal::open(tmp.path(), Retention::default()).unwrap_err();
        assert!(matches!(err, JournalError::Locked { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains(&tmp.path().display().to_string()), "{msg}");
        assert!(
            msg.contains(&format!("pid {}", std::process::id())),
            "{msg}"
        );
        assert!(msg.contains("in use by another sysmon-exporter"), "{msg}");
    }

    #[test]
    fn leftover_temporary_file_is_ignored() {
        let tmp = tempfile::tempdir().unwrap();
        let start = days_ago(1);
        std::fs::write(
            tmp.path().join(JOURNAL_FILE),
            line(&Transition::Started(event(1, &start, None))),
        )
        .unwrap();
        std::fs::write(tmp.path().join(TEMP_FILE), "{\"type\":\"check").unwrap();
        let (_, replay) = Journal::open(tmp.path(), Retention::default()).unwrap();
        assert_eq!(replay.events.len(), 1);
        assert!(!tmp.path().join(TEMP_FILE).exists());
    }

    #[test]
    fn unwritable_directory_is_an_error_naming_it() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("plain-file");
        std::fs::write(&file, "").unwrap();
        let err = Journal::open(&file.join("sub"), Retention::default()).unwrap_err();
        assert!(err.to_string().contains("plain-file/sub"), "{err}");
    }
}
