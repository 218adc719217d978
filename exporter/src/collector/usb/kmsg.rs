//! Reading the kernel log for USB failures, without blocking and without counting a record twice,
//! even across restarts.
//!
//! The log is `/dev/kmsg` by default (Documentation/ABI/testing/dev-kmsg): every `read()` returns
//! exactly one record, `prio,seq,usec,flags[,more];message\n` followed by optional continuation
//! lines (` KEY=value`) that are ignored here. It is opened with `O_NONBLOCK` and read until
//! `EAGAIN`, so a collect never waits for the kernel; `EPIPE` means records were overwritten
//! before we read them, and reading simply goes on with the next one. The descriptor stays open
//! between samples, so each sample reads only what is new.
//!
//! Any other file (the fixtures, a captured log) is read as text, one record per line in the same
//! format, incrementally by byte offset; it is treated as an append-only log (a file that shrinks
//! or is replaced is read again from its start, still skipping records already seen).
//!
//! Only kernel records (facility 0) are classified: userspace can write to /dev/kmsg, but never
//! with the kernel's facility, so a process cannot forge a USB failure.
//!
//! ## Position across restarts
//!
//! The sequence number of the last record read is kept in [`STATE_FILE`] in the storage
//! directory, with the boot id (`<procfs>/sys/kernel/random/boot_id`) and the log's path. On the
//! first read after a start:
//!
//! * no saved position (first start ever, or a state written for another log): the backlog
//!   already in the log is **skipped**, and only records that arrive from then on are counted.
//!   The backlog's age is unknown (the ring buffer can hold weeks of messages), and counting it
//!   would report old failures as new ones, again on every start where the state cannot be saved.
//! * the same boot: records after the saved sequence number are counted, so failures that
//!   happened while the exporter was down are not lost, and nothing is counted twice.
//! * another boot (the boot id changed, or, without boot ids, the saved sequence number is past the
//!   end of the log: numbering restarts at every boot): every record of the log is new to us and
//!   is counted.
//!
//! If the state cannot be written, a warning is logged once and the position is kept in memory.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::classify::{classify, UsbFailure};

/// Name of the position file in the storage directory.
pub const STATE_FILE: &str = "usb-kmsg.state";

/// A kmsg record is at most 8 KiB (the kernel's CONSOLE_EXT_LOG_MAX); a smaller buffer makes
/// `read()` fail with EINVAL.
const RECORD_BUFFER: usize = 16 * 1024;

/// Lines longer than this in a text log are garbage (the kernel never writes them) and skipped.
const MAX_LINE: usize = 16 * 1024;

/// Bounds on one sample's work, so a flooded log cannot hold the collector past its timeout;
/// whatever is left is read by the next sample.
const MAX_RECORDS_PER_POLL: usize = 200_000;
const MAX_BYTES_PER_POLL: u64 = 16 * 1024 * 1024;
/// How many times the per-poll bound the first read may go to reach the end of the backlog.
const FIRST_READ_ROUNDS: usize = 64;

/// One parsed log record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    /// Syslog facility: 0 for the kernel's own messages.
    pub facility: u32,
    /// Syslog level, 0 (emergency) to 7 (debug).
    pub level: u32,
    pub seq: u64,
    /// The text, without the continuation lines.
    pub message: &'a str,
}

/// Parses one record, `prio,seq,usec,flags;message`, ignoring fields after `flags` (the ABI says
/// more may come) and everything after the first newline (continuation lines).
pub fn parse_record(raw: &str) -> Option<Record<'_>> {
    let first = raw.split('\n').next().unwrap_or_default();
    let (header, message) = first.split_once(';')?;
    let mut fields = header.split(',');
    let prio: u32 = fields.next()?.parse().ok()?;
    let seq: u64 = fields.next()?.parse().ok()?;
    let _usec: u64 = fields.next()?.parse().ok()?;
    // The syslog priority is 3 bits of level and 8 bits of facility.
    if prio > 0x7ff {
        return None;
    }
    Some(Record {
        facility: prio >> 3,
        level: prio & 7,
        seq,
        message: message.strip_suffix('\r').unwrap_or(message),
    })
}

/// Where the reader stopped, as saved in [`STATE_FILE`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// The log this position belongs to (its path as given).
    pub source: String,
    pub boot_id: Option<String>,
    /// Sequence number of the last record read.
    pub seq: u64,
}

/// The state file's text: `key=value` lines, so a person can read it.
pub fn format_position(p: &Position) -> String {
    let mut s = String::from("# sysmon-exporter usb collector: last kernel log record read\n");
    s.push_str(&format!("source={}\n", p.source));
    if let Some(b) = &p.boot_id {
        s.push_str(&format!("boot_id={b}\n"));
    }
    s.push_str(&format!("seq={}\n", p.seq));
    s
}

/// Parses a state file; `None` if it is not one (then the log is treated as never read).
pub fn parse_position(text: &str) -> Option<Position> {
    let (mut source, mut boot_id, mut seq) = (None, None, None);
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        match line.split_once('=')? {
            ("source", v) => source = Some(v.to_string()),
            ("boot_id", v) => boot_id = Some(valid_boot_id(v)?),
            ("seq", v) => seq = Some(v.parse().ok()?),
            _ => {}
        }
    }
    Some(Position {
        source: source?,
        boot_id,
        seq: seq?,
    })
}

/// A boot id as the kernel writes it (a UUID); anything else is not trusted.
pub fn valid_boot_id(s: &str) -> Option<String> {
    let s = s.trim();
    let ok = (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    ok.then(|| s.to_string())
}

/// Which records of the log found at start are new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Count none of what is already there (no saved position).
    SkipBacklog,
    /// Count records with a sequence number above this one (same boot).
    After(u64),
    /// Count everything (a new boot since the position was saved).
    All,
}

/// Decides what to count of the log found at start, from the saved position, the current boot id
/// and the highest sequence number in the log (`None` if the log was empty).
pub fn start(
    saved: Option<&Position>,
    source: &str,
    boot_id: Option<&str>,
    max_seq: Option<u64>,
) -> Start {
    let Some(saved) = saved.filter(|s| s.source == source) else {
        return Start::SkipBacklog;
    };
    if let (Some(then), Some(now)) = (saved.boot_id.as_deref(), boot_id) {
        if then != now {
            return Start::All;
        }
    }
    if max_seq.is_some_and(|max| saved.seq > max) {
        // Sequence numbers only grow within a boot: the log restarted.
        return Start::All;
    }
    Start::After(saved.seq)
}

/// Splits complete lines off `data` and hands each to `each`; returns how many bytes were used.
/// An unfinished last line is left for the next read, unless it is already longer than
/// [`MAX_LINE`]: then it is dropped, with the rest of it up to the next newline (`skipping`
/// remembers that between reads).
pub fn split_lines(data: &[u8], skipping: &mut bool, mut each: impl FnMut(&[u8])) -> usize {
    let mut used = 0;
    while let Some(len) = data[used..].iter().position(|&b| b == b'\n') {
        let line = &data[used..used + len];
        used += len + 1;
        if std::mem::take(skipping) || line.len() > MAX_LINE {
            continue;
        }
        each(line);
    }
    let tail = data.len() - used;
    if *skipping || tail > MAX_LINE {
        *skipping = true;
        return data.len();
    }
    used
}

/// The log, once opened.
enum Source {
    /// /dev/kmsg (or any character device): one record per `read()`, position kept by the kernel.
    /// The record buffer is kept: the log is polled every sample and is almost always empty.
    Device { file: File, record: Box<[u8]> },
    /// A text file: one record per line, position kept here.
    Text {
        identity: (u64, u64),
        offset: u64,
        skipping: bool,
    },
}

impl Source {
    fn open(path: &Path) -> io::Result<Source> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)?;
        let meta = file.metadata()?;
        if meta.file_type().is_char_device() {
            Ok(Source::Device {
                file,
                record: vec![0u8; RECORD_BUFFER].into_boxed_slice(),
            })
        } else {
            Ok(Source::Text {
                identity: (meta.dev(), meta.ino()),
                offset: 0,
                skipping: false,
            })
        }
    }

    /// Reads what is new, handing each raw record to `each`. Returns whether it reached the end
    /// of the log (`false` when it stopped at the per-poll bound).
    fn read(&mut self, path: &Path, each: &mut dyn FnMut(&[u8])) -> io::Result<bool> {
        match self {
            Source::Device { file, record } => {
                for _ in 0..MAX_RECORDS_PER_POLL {
                    match file.read(record) {
                        // Not a kmsg device after all (/dev/null): nothing more.
                        Ok(0) => return Ok(true),
                        Ok(n) => each(&record[..n]),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
                        // Records were overwritten before we read them; go on with the next.
                        Err(e) if e.raw_os_error() == Some(libc::EPIPE) => continue,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(e),
                    }
                }
                Ok(false)
            }
            Source::Text {
                identity,
                offset,
                skipping,
            } => {
                let mut file = File::open(path)?;
                let meta = file.metadata()?;
                let now = (meta.dev(), meta.ino());
                if now != *identity || meta.len() < *offset {
                    *identity = now;
                    *offset = 0;
                    *skipping = false;
                }
                file.seek(SeekFrom::Start(*offset))?;
                let mut data = Vec::new();
                file.take(MAX_BYTES_PER_POLL).read_to_end(&mut data)?;
                let used = split_lines(&data, skipping, |line| each(line));
                *offset += used as u64;
                Ok((data.len() as u64) < MAX_BYTES_PER_POLL)
            }
        }
    }
}

/// What one poll of the log found.
#[derive(Debug, Default)]
pub struct Poll {
    /// Whether the log could be opened and read this time.
    pub readable: bool,
    /// New USB failures, oldest first.
    pub failures: Vec<UsbFailure>,
}

/// Reads the kernel log incrementally; see the module documentation.
pub struct KmsgReader {
    path: PathBuf,
    boot_id_path: PathBuf,
    state_path: PathBuf,
    source: Option<Source>,
    /// Whether the start decision has been made (on the first successful open).
    started: bool,
    /// Sequence number of the last record read.
    last_seq: Option<u64>,
    boot_id: Option<String>,
    /// What the state file holds, to write it only when the position moved.
    persisted: Option<Position>,
    warned_unreadable: bool,
    warned_state: bool,
}

impl KmsgReader {
    /// A reader of `path`, with the boot id at `boot_id_path` and the position saved in
    /// `state_path`. Nothing is opened or written until the first [`KmsgReader::poll`].
    pub fn new(path: PathBuf, boot_id_path: PathBuf, state_path: PathBuf) -> KmsgReader {
        KmsgReader {
            path,
            boot_id_path,
            state_path,
            source: None,
            started: false,
            last_seq: None,
            boot_id: None,
            persisted: None,
            warned_unreadable: false,
            warned_state: false,
        }
    }

    fn source_name(&self) -> String {
        self.path.to_string_lossy().into_owned()
    }

    /// Reads whatever is new in the log. Never blocks, never fails: a log that cannot be read is
    /// reported as `readable: false` (and logged once), and is tried again at the next poll.
    pub fn poll(&mut self) -> Poll {
        if self.source.is_none() {
            match Source::open(&self.path) {
                Ok(s) => self.source = Some(s),
                Err(e) => {
                    self.unreadable(&e);
                    return Poll::default();
                }
            }
        }
        let Some(source) = self.source.as_mut() else {
            return Poll::default();
        };

        // Before the start decision every record is a candidate; after it, only newer ones.
        let mut last = if self.started { self.last_seq } else { None };
        let mut found: Vec<(u64, UsbFailure)> = Vec::new();
        let mut on_record = |raw: &[u8]| {
            let text = String::from_utf8_lossy(raw);
            let Some(record) = parse_record(&text) else {
                return;
            };
            if last.is_some_and(|l| record.seq <= l) {
                return;
            }
            last = Some(record.seq);
            if record.facility == 0 {
                if let Some(f) = classify(record.message) {
                    found.push((record.seq, f));
                }
            }
        };
        // The start decision needs the end of the backlog, so the first read goes past the
        // per-poll bound (the kernel's ring buffer bounds it: 32 MiB at most).
        let rounds = if self.started { 1 } else { FIRST_READ_ROUNDS };
        let mut result = Ok(false);
        for _ in 0..rounds {
            result = source.read(&self.path, &mut on_record);
            if !matches!(result, Ok(false)) {
                break;
            }
        }

        let readable = match result {
            Ok(_) => {
                self.warned_unreadable = false;
                true
            }
            Err(e) => {
                // Reopen at the next poll; records up to `last_seq` are still skipped then.
                self.source = None;
                self.unreadable(&e);
                if !self.started {
                    // The start decision needs the whole backlog: redo the first read.
                    return Poll::default();
                }
                false
            }
        };

        if !self.started {
            self.started = true;
            self.boot_id = crate::collector::read_text(&self.boot_id_path)
                .ok()
                .and_then(|s| valid_boot_id(&s));
            let saved = self.load_position();
            match start(
                saved.as_ref(),
                &self.source_name(),
                self.boot_id.as_deref(),
                last,
            ) {
                Start::SkipBacklog => found.clear(),
                Start::After(seq) => {
                    found.retain(|(s, _)| *s > seq);
                    last = last.max(Some(seq));
                }
                Start::All => {}
            }
            self.persisted = saved;
        }
        self.last_seq = last;
        self.save();

        Poll {
            readable,
            failures: found.into_iter().map(|(_, f)| f).collect(),
        }
    }

    /// One warning per stretch of unreadability, not one per sample.
    fn unreadable(&mut self, e: &io::Error) {
        if std::mem::replace(&mut self.warned_unreadable, true) {
            return;
        }
        let hint = match e.kind() {
            io::ErrorKind::PermissionDenied => {
                "; reading /dev/kmsg needs CAP_SYSLOG when kernel.dmesg_restrict=1"
            }
            _ => "",
        };
        tracing::warn!(
            path = %self.path.display(),
            error = %e,
            "cannot read the kernel log: USB failures are not counted until it can be read, \
             sysmon_usb_kmsg_readable is 0{hint}"
        );
    }

    fn load_position(&self) -> Option<Position> {
        match crate::collector::read_text(&self.state_path) {
            Ok(text) => {
                let p = parse_position(&text);
                if p.is_none() {
                    tracing::warn!(
                        path = %self.state_path.display(),
                        "ignoring a malformed kernel log position; counting starts after the current end of the log"
                    );
                }
                p
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => {
                tracing::warn!(
                    path = %self.state_path.display(),
                    error = %e,
                    "cannot read the kernel log position; counting starts after the current end of the log"
                );
                None
            }
        }
    }

    /// Saves the position if it moved; on failure warns once and keeps going from memory.
    fn save(&mut self) {
        let Some(seq) = self.last_seq else {
            return;
        };
        let position = Position {
            source: self.source_name(),
            boot_id: self.boot_id.clone(),
            seq,
        };
        if self.persisted.as_ref() == Some(&position) {
            return;
        }
        match write_atomically(&self.state_path, &format_position(&position)) {
            Ok(()) => self.persisted = Some(position),
            Err(e) => {
                if !std::mem::replace(&mut self.warned_state, true) {
                    tracing::warn!(
                        path = %self.state_path.display(),
                        error = %e,
                        "cannot save the kernel log position; it is kept in memory, and after a \
                         restart only new USB failures are counted"
                    );
                }
            }
        }
    }
}

/// Writes `text` to `path` through a temporary file and a rename, so a crash never leaves half a
/// state file; creates the directory if needed.
fn write_atomically(path: &Path, text: &str) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn parses_records() {
        assert_eq!(
            parse_record("3,1234,5140900,-;usb 1-2: device descriptor read/64, error -110\n"),
            Some(Record {
                facility: 0,
                level: 3,
                seq: 1234,
                message: "usb 1-2: device descriptor read/64, error -110",
            })
        );
        // Continuation lines and unknown extra header fields are ignored.
        let r = parse_record(
            "6,339,5140900,-,caller=T42;usb 1-1: USB disconnect, device number 4\n SUBSYSTEM=usb\n DEVICE=c189:3\n",
        )
        .unwrap();
        assert_eq!((r.seq, r.level), (339, 6));
        assert_eq!(r.message, "usb 1-1: USB disconnect, device number 4");
        // Userspace records carry their facility (30 = daemon.info).
        assert_eq!(
            parse_record("30,340,5690716,-;udevd[80]: starting")
                .unwrap()
                .facility,
            3
        );
        // The message may contain ';' and ','.
        assert_eq!(parse_record("4,1,2,-;a;b,c").unwrap().message, "a;b,c");
    }

    #[test]
    fn rejects_malformed_records() {
        for raw in [
            "",
            "no header at all",
            ";message",
            "3;message",
            "3,12;message",
            "x,12,0,-;message",
            "3,-12,0,-;message",
            "3,12,zz,-;message",
            "99999,1,0,-;message",
            " SUBSYSTEM=usb",
            "3,18446744073709551616,0,-;overflowing sequence number",
        ] {
            assert_eq!(parse_record(raw), None, "{raw:?}");
        }
    }

    #[test]
    fn position_round_trip_and_garbage() {
        let p = Position {
            source: "/dev/kmsg".into(),
            boot_id: Some("3f1c2b9e-7a41-4d8e-9c55-0b6e2f1a7d90".into()),
            seq: 98765,
        };
        assert_eq!(parse_position(&format_position(&p)), Some(p.clone()));
        let no_boot = Position { boot_id: None, ..p };
        assert_eq!(parse_position(&format_position(&no_boot)), Some(no_boot));
        for bad in [
            "",
            "seq=12\n",
            "source=/dev/kmsg\n",
            "source=/dev/kmsg\nseq=x\n",
            "source=/dev/kmsg\nseq=-1\n",
            "source=/dev/kmsg\nboot_id=not a uuid!\nseq=1\n",
            "garbage\n",
        ] {
            assert_eq!(parse_position(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn start_decisions() {
        let saved = Position {
            source: "/dev/kmsg".into(),
            boot_id: Some("aaaa".into()),
            seq: 500,
        };
        let s = Some(&saved);
        // First start: skip the backlog.
        assert_eq!(
            start(None, "/dev/kmsg", Some("aaaa"), Some(900)),
            Start::SkipBacklog
        );
        // A position saved for another log does not apply.
        assert_eq!(
            start(s, "/tmp/kmsg", Some("aaaa"), Some(900)),
            Start::SkipBacklog
        );
        // Same boot: resume.
        assert_eq!(
            start(s, "/dev/kmsg", Some("aaaa"), Some(900)),
            Start::After(500)
        );
        assert_eq!(start(s, "/dev/kmsg", Some("aaaa"), None), Start::After(500));
        // Rebooted: the boot id changed, even if the numbers look plausible.
        assert_eq!(start(s, "/dev/kmsg", Some("bbbb"), Some(900)), Start::All);
        // Rebooted, no boot id to tell: numbering restarted below the saved position.
        assert_eq!(start(s, "/dev/kmsg", None, Some(120)), Start::All);
        assert_eq!(start(s, "/dev/kmsg", None, Some(900)), Start::After(500));
        // Same boot id but the log is behind the position (a replaced log file): read it all.
        assert_eq!(start(s, "/dev/kmsg", Some("aaaa"), Some(100)), Start::All);
    }

    #[test]
    fn splits_lines_and_drops_huge_ones() {
        let mut skipping = false;
        let mut lines = Vec::new();
        let used = split_lines(b"one\ntwo\nthr", &mut skipping, |l| lines.push(l.to_vec()));
        assert_eq!(used, 8);
        assert_eq!(lines, vec![b"one".to_vec(), b"two".to_vec()]);
        assert!(!skipping);

        // An unfinished line that is already too long is dropped up to its newline.
        let mut huge = vec![b'x'; MAX_LINE + 10];
        lines.clear();
        let used = split_lines(&huge, &mut skipping, |l| lines.push(l.to_vec()));
        assert_eq!(used, huge.len());
        assert!(skipping && lines.is_empty());
        let used = split_lines(b"xxxx\nnext\n", &mut skipping, |l| lines.push(l.to_vec()));
        assert_eq!(used, 10);
        assert_eq!(lines, vec![b"next".to_vec()]);
        assert!(!skipping);

        // A complete line that is too long is dropped too.
        huge.push(b'\n');
        huge.extend_from_slice(b"after\n");
        lines.clear();
        split_lines(&huge, &mut skipping, |l| lines.push(l.to_vec()));
        assert_eq!(lines, vec![b"after".to_vec()]);
    }

    fn reader(dir: &Path, log: &Path) -> KmsgReader {
        KmsgReader::new(
            log.to_path_buf(),
            dir.join("boot_id"),
            dir.join("state").join(STATE_FILE),
        )
    }

    fn append(path: &Path, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    fn ports(poll: &Poll) -> Vec<(String, &'static str)> {
        poll.failures
            .iter()
            .map(|f| (f.port.clone(), f.kind.as_str()))
            .collect()
    }

    #[test]
    fn text_log_is_read_incrementally_and_resumed_after_restart() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("kmsg");
        std::fs::write(dir.path().join("boot_id"), "aaaa-1111\n").unwrap();
        append(
            &log,
            "3,10,100,-;usb 1-1: device descriptor read/64, error -110\n",
        );

        // First start ever: the backlog is skipped, and the position saved.
        let mut r = reader(dir.path(), &log);
        let p = r.poll();
        assert!(p.readable);
        assert!(p.failures.is_empty());
        let state = std::fs::read_to_string(dir.path().join("state").join(STATE_FILE)).unwrap();
        assert_eq!(parse_position(&state).unwrap().seq, 10);

        // New records are counted, once; a half-written line waits for its end.
        append(
            &log,
            "3,11,200,-;usb 1-2: device not accepting address 7, error -71\n\
             6,12,300,-;usb 1-2: new high-speed USB device number 8 using xhci_hcd\n\
             3,13,400,-;usb 1-2: device descr",
        );
        assert_eq!(ports(&r.poll()), vec![("1-2".to_string(), "protocol")]);
        append(&log, "iptor read/all, error -110\n");
        assert_eq!(ports(&r.poll()), vec![("1-2".to_string(), "timeout")]);
        assert!(r.poll().failures.is_empty());

        // Userspace cannot forge kernel messages; garbage is skipped.
        append(
            &log,
            "14,14,500,-;usb 1-1: device descriptor read/64, error -110\n\
             \u{1}\u{2}garbage\n\
             3,15,600,-;usb usb1-port2: over-current condition\n",
        );
        assert_eq!(ports(&r.poll()), vec![("1-2".to_string(), "over_current")]);

        // Restart: a new reader with the same storage resumes after seq 15.
        append(
            &log,
            "3,16,700,-;usb 1-3: USB disconnect, device number 2\n",
        );
        let mut r = reader(dir.path(), &log);
        assert_eq!(ports(&r.poll()), vec![("1-3".to_string(), "disconnect")]);
        let mut r = reader(dir.path(), &log);
        assert!(r.poll().failures.is_empty());

        // Reboot: a new boot id and a new log; everything in it is new.
        std::fs::write(dir.path().join("boot_id"), "bbbb-2222\n").unwrap();
        std::fs::write(
            &log,
            "3,1,50,-;usb 2-1: Cannot enable. Maybe the USB cable is bad?\n",
        )
        .unwrap();
        let mut r = reader(dir.path(), &log);
        assert_eq!(ports(&r.poll()), vec![("2-1".to_string(), "enumeration")]);
    }

    #[test]
    fn unreadable_log_and_unwritable_state_are_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("kmsg");
        let mut r = reader(dir.path(), &log);
        let p = r.poll();
        assert!(!p.readable && p.failures.is_empty());

        // The log appears later: read from then on (no saved position: backlog skipped).
        append(
            &log,
            "3,1,1,-;usb 1-1: device descriptor read/64, error -110\n",
        );
        assert!(r.poll().readable);
        append(
            &log,
            "3,2,1,-;usb 1-1: device descriptor read/64, error -110\n",
        );
        assert_eq!(r.poll().failures.len(), 1);

        // Storage under a regular file cannot be created: counting goes on from memory.
        let blocker = dir.path().join("blocker");
        std::fs::write(&blocker, "").unwrap();
        let mut r = KmsgReader::new(
            log.clone(),
            dir.path().join("no-boot-id"),
            blocker.join("sub").join(STATE_FILE),
        );
        assert!(r.poll().readable);
        append(
            &log,
            "3,3,1,-;usb 1-1: reset full-speed USB device number 2 using ohci-pci\n",
        );
        assert_eq!(ports(&r.poll()), vec![("1-1".to_string(), "reset")]);
        assert!(r.poll().failures.is_empty());
    }

    #[test]
    fn binary_junk_and_huge_lines_never_panic() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("kmsg");
        std::fs::write(&log, "3,1,1,-;start\n").unwrap();
        let mut r = reader(dir.path(), &log);
        r.poll();
        let mut junk: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
        junk.extend_from_slice(b"\n3,2,1,-;usb 1-4: device descriptor read/64, error -62\n");
        junk.extend_from_slice(&[0xff, 0xfe, b';', b',', b'\n']);
        junk.extend(std::iter::repeat_n(b'y', MAX_LINE * 3));
        junk.extend_from_slice(b"\n3,3,1,-;usb 1-4: USB disconnect, device number 9\n");
        append(&log, &String::from_utf8_lossy(&junk));
        let found = ports(&r.poll());
        assert_eq!(
            found,
            vec![
                ("1-4".to_string(), "timeout"),
                ("1-4".to_string(), "disconnect")
            ]
        );
    }

    #[test]
    fn reads_dev_kmsg_without_blocking_when_allowed() {
        // Depends on the host: skipped where /dev/kmsg cannot be opened.
        let path = Path::new("/dev/kmsg");
        if Source::open(path).is_err() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let mut r = reader(dir.path(), path);
        let p = r.poll();
        assert!(p.readable);
        assert!(
            p.failures.is_empty(),
            "the backlog is skipped on a first start"
        );
        // A second poll returns at once with whatever arrived in between.
        assert!(r.poll().readable);
    }
}
