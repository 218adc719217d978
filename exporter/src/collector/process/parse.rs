//! Parsers of the per-process files the `process` collector reads (proc(5)). Each takes the
//! file's text and keeps only the fields the collector exports, so a scan of thousands of
//! processes allocates nothing per file but the reused read buffer.

/// What the collector takes from `/proc/<pid>/stat`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stat<'a> {
    /// Field 2, without its parentheses (may hold spaces and parentheses itself).
    pub comm: &'a str,
    /// Field 3: R, S, D, Z, T, t, X, I, ...
    pub state: u8,
    pub ppid: u32,
    pub minflt: u64,
    pub majflt: u64,
    /// Clock ticks (`USER_HZ`).
    pub utime: u64,
    pub stime: u64,
    pub num_threads: u64,
    /// Clock ticks after boot.
    pub starttime: u64,
    /// Bytes.
    pub vsize: u64,
    /// Pages.
    pub rss: u64,
}

/// Parses a `/proc/<pid>/stat` line: `pid (comm) state ppid ...`. `comm` may hold spaces and
/// parentheses, so the fields are counted from the last `)`. Fields up to `rss` (24) must be
/// present; a negative `rss` (the kernel prints it signed) counts as zero.
pub fn parse_stat(text: &str) -> Result<Stat<'_>, String> {
    let open = text
        .find('(')
        .ok_or("expected \"pid (comm) state ...\": no \"(\"")?;
    let close = text
        .rfind(')')
        .filter(|&c| c > open)
        .ok_or("expected \"pid (comm) state ...\": no \")\" after the command")?;
    let comm = &text[open + 1..close];
    let mut fields = text[close + 1..].split_ascii_whitespace();
    let state = fields.next().ok_or("no state after the command")?;
    let &[state] = state.as_bytes() else {
        return Err(format!(
            "field 3 (state): expected one letter, found {state:?}"
        ));
    };
    // Fields 4.. in order; `n` is the field's number in proc(5).
    let mut values = [0u64; 22];
    for (i, value) in values.iter_mut().enumerate() {
        let n = i + 4;
        let f = fields
            .next()
            .ok_or_else(|| format!("expected at least 24 fields, found {}", n - 1))?;
        *value = match f.parse::<u64>() {
            Ok(v) => v,
            // tty_nr, tpgid, priority, nice, and rss on some kernels may be negative.
            Err(_) if f.parse::<i64>().is_ok() => 0,
            Err(_) => return Err(format!("field {n}: expected an integer, found {f:?}")),
        };
    }
    let field = |n: usize| values[n - 4];
    Ok(Stat {
        comm,
        state,
        ppid: u32::try_from(field(4)).map_err(|_| "field 4 (ppid): out of range".to_string())?,
        minflt: field(10),
        majflt: field(12),
        utime: field(14),
        stime: field(15),
        num_threads: field(20),
        starttime: field(22),
        vsize: field(23),
        rss: field(24),
    })
}

/// What the collector takes from `/proc/<pid>/status` (or a thread's).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    /// The `State:` letter.
    pub state: Option<u8>,
    /// Effective user id (the second `Uid:` column).
    pub euid: Option<u32>,
    /// `VmSwap:` in bytes (absent for kernel threads).
    pub swap_bytes: u64,
    pub voluntary_ctxt_switches: u64,
    pub nonvoluntary_ctxt_switches: u64,
}

/// Parses the lines of `/proc/<pid>/status` the collector needs; unknown lines are skipped, a
/// known line with a malformed value is an error.
pub fn parse_status(text: &str) -> Result<Status, String> {
    let mut status = Status::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        let number = |v: &str| {
            v.parse::<u64>()
                .map_err(|_| format!("{key}: expected an unsigned integer, found {value:?}"))
        };
        match key {
            "State" => status.state = value.bytes().next(),
            "Uid" => {
                let euid = value.split_ascii_whitespace().nth(1).ok_or_else(|| {
                    format!("Uid: expected real, effective, saved and fs ids, found {value:?}")
                })?;
                status.euid = Some(number(euid)? as u32);
            }
            "VmSwap" => {
                let kb = value.strip_suffix("kB").unwrap_or(value).trim();
                status.swap_bytes = number(kb)?.saturating_mul(1024);
            }
            "voluntary_ctxt_switches" => status.voluntary_ctxt_switches = number(value)?,
            "nonvoluntary_ctxt_switches" => status.nonvoluntary_ctxt_switches = number(value)?,
            _ => {}
        }
    }
    Ok(status)
}

/// `read_bytes` and `write_bytes` of `/proc/<pid>/io`: bytes the process caused to be fetched
/// from or sent to the storage layer (not `rchar`/`wchar`, which count page-cache hits).
pub fn parse_io(text: &str) -> Result<(u64, u64), String> {
    let mut read = None;
    let mut write = None;
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let slot = match key {
            "read_bytes" => &mut read,
            "write_bytes" => &mut write,
            _ => continue,
        };
        *slot = Some(value.trim().parse::<u64>().map_err(|_| {
            format!(
                "{key}: expected an unsigned integer, found {:?}",
                value.trim()
            )
        })?);
    }
    match (read, write) {
        (Some(r), Some(w)) => Ok((r, w)),
        _ => Err("expected read_bytes and write_bytes lines".to_string()),
    }
}

/// The soft limit on open files from `/proc/<pid>/limits` (`None`: unlimited).
pub fn parse_open_files_limit(text: &str) -> Result<Option<u64>, String> {
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))
        .ok_or("no \"Max open files\" line")?;
    match line.split_ascii_whitespace().next() {
        Some("unlimited") => Ok(None),
        Some(soft) => soft
            .parse::<u64>()
            .map(Some)
            .map_err(|_| format!("Max open files: expected a soft limit, found {soft:?}")),
        None => Err("Max open files: no soft limit".to_string()),
    }
}

/// `Pss` and `SwapPss` of `/proc/<pid>/smaps_rollup`, in bytes.
pub fn parse_smaps_rollup(text: &str) -> Result<(u64, u64), String> {
    let mut pss = None;
    let mut swap_pss = 0;
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        if key != "Pss" && key != "SwapPss" {
            continue;
        }
        let kb = value.trim().strip_suffix("kB").unwrap_or(value).trim();
        let bytes = kb
            .parse::<u64>()
            .map_err(|_| format!("{key}: expected a size in kB, found {:?}", value.trim()))?
            .saturating_mul(1024);
        if key == "Pss" {
            pss = Some(bytes);
        } else {
            swap_pss = bytes;
        }
    }
    pss.map(|p| (p, swap_pss))
        .ok_or_else(|| "no Pss line".to_string())
}

/// The arguments of `/proc/<pid>/cmdline`: NUL-separated, trailing NULs dropped (a kernel
/// thread's is empty, so it has no arguments). A process that rewrote its command line with
/// spaces instead of NULs has one argument.
pub fn parse_cmdline(bytes: &[u8]) -> Vec<String> {
    let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    if end == 0 {
        return Vec::new();
    }
    bytes[..end]
        .split(|&b| b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const POSTGRES: &str = "1531 (postgres: wal (x)) R 1523 1523 1523 0 -1 4194560 4886249 0 99 0 47912 77155 0 0 20 0 3 0 754786 7775191040 105815 18446744073709551615 94000006270976 0\n";

    #[test]
    fn stat_fields_counted_from_the_last_parenthesis() {
        let s = parse_stat(POSTGRES).unwrap();
        assert_eq!(s.comm, "postgres: wal (x)");
        assert_eq!(s.state, b'R');
        assert_eq!(s.ppid, 1523);
        assert_eq!((s.minflt, s.majflt), (4886249, 99));
        assert_eq!((s.utime, s.stime), (47912, 77155));
        assert_eq!(s.num_threads, 3);
        assert_eq!(s.starttime, 754786);
        assert_eq!((s.vsize, s.rss), (7775191040, 105815));
    }

    #[test]
    fn stat_rejects_malformed() {
        assert!(parse_stat("").is_err());
        assert!(parse_stat("1 (x) S 0 1")
            .unwrap_err()
            .contains("at least 24"));
        assert!(parse_stat("1 (x) SS 0").unwrap_err().contains("one letter"));
        let bad = POSTGRES.replace(" 47912 ", " x ");
        assert!(parse_stat(&bad).unwrap_err().contains("field 14"));
    }

    #[test]
    fn status_fields() {
        let text = "Name:\tbash\nState:\tS (sleeping)\nUid:\t1000\t1001\t1000\t1000\nVmSwap:\t     128 kB\nvoluntary_ctxt_switches:\t53\nnonvoluntary_ctxt_switches:\t7\n";
        let s = parse_status(text).unwrap();
        assert_eq!(s.state, Some(b'S'));
        assert_eq!(s.euid, Some(1001));
        assert_eq!(s.swap_bytes, 128 * 1024);
        assert_eq!(
            (s.voluntary_ctxt_switches, s.nonvoluntary_ctxt_switches),
            (53, 7)
        );
        // A kernel thread: no VmSwap.
        let k = parse_status("Name:\tkthreadd\nState:\tS (sleeping)\nUid:\t0\t0\t0\t0\n").unwrap();
        assert_eq!(k.swap_bytes, 0);
        assert!(parse_status("voluntary_ctxt_switches:\tmany\n").is_err());
        assert!(parse_status("Uid:\t0\n").is_err());
    }

    #[test]
    fn io_limits_smaps_cmdline() {
        let io = "rchar: 1\nwchar: 2\nsyscr: 3\nsyscw: 4\nread_bytes: 4096\nwrite_bytes: 8192\ncancelled_write_bytes: 0\n";
        assert_eq!(parse_io(io), Ok((4096, 8192)));
        assert!(parse_io("rchar: 1\n").is_err());
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \nMax open files            1024                 524288               files     \n";
        assert_eq!(parse_open_files_limit(limits), Ok(Some(1024)));
        let unlimited = limits.replace("1024                ", "unlimited           ");
        assert_eq!(parse_open_files_limit(&unlimited), Ok(None));
        assert!(parse_open_files_limit("Max cpu time unlimited\n").is_err());
        let smaps = "55d0-7ff [rollup]\nRss:  100 kB\nPss:   60 kB\nSwapPss:  4 kB\n";
        assert_eq!(parse_smaps_rollup(smaps), Ok((60 * 1024, 4 * 1024)));
        assert!(parse_smaps_rollup("Rss: 1 kB\n").is_err());
        assert_eq!(
            parse_cmdline(b"/usr/bin/python3\0-m\0\0http.server\0\0"),
            vec!["/usr/bin/python3", "-m", "", "http.server"]
        );
        assert!(parse_cmdline(b"").is_empty());
        assert!(parse_cmdline(b"\0").is_empty());
        assert_eq!(
            parse_cmdline(b"nginx: worker process"),
            vec!["nginx: worker process"]
        );
    }
}
