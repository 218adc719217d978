//! systemd socket activation (`--web.systemd-socket`): the listening sockets systemd opened for a
//! `.socket` unit and passed to this process, as `sd_listen_fds(3)` describes. systemd sets
//! `LISTEN_PID` to the pid it started and `LISTEN_FDS` to how many descriptors it passed, which
//! start at fd 3 (`SD_LISTEN_FDS_START`).

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// The first descriptor systemd passes.
const SD_LISTEN_FDS_START: RawFd = 3;

/// Takes the TCP listening sockets systemd passed, or says why there are none. Call once, before
/// anything else in the process opens a descriptor it might confuse with them.
pub fn listeners() -> Result<Vec<std::net::TcpListener>, String> {
    listeners_from(
        std::env::var("LISTEN_PID").ok().as_deref(),
        std::env::var("LISTEN_FDS").ok().as_deref(),
        std::process::id(),
    )
}

/// The checks of [`listeners`] on given values of the two variables and of our pid.
fn listeners_from(
    listen_pid: Option<&str>,
    listen_fds: Option<&str>,
    own_pid: u32,
) -> Result<Vec<std::net::TcpListener>, String> {
    let (Some(pid), Some(fds)) = (listen_pid, listen_fds) else {
        return Err(
            "no socket activation file descriptors found (LISTEN_PID and LISTEN_FDS are \
                    not set: is the exporter started by a .socket unit?)"
                .to_string(),
        );
    };
    let pid: u32 = pid
        .trim()
        .parse()
        .map_err(|_| format!("LISTEN_PID is not a process id: {pid:?}"))?;
    if pid != own_pid {
        return Err(format!(
            "LISTEN_PID is {pid}, not this process ({own_pid}): the sockets were meant for another \
             process"
        ));
    }
    let count: RawFd = fds
        .trim()
        .parse()
        .ok()
        .filter(|n| (1..=1024).contains(n))
        .ok_or_else(|| format!("LISTEN_FDS is not a number of descriptors (1 to 1024): {fds:?}"))?;
    let mut out = Vec::with_capacity(count as usize);
    for fd in SD_LISTEN_FDS_START..SD_LISTEN_FDS_START + count {
        if !is_socket(fd) {
            return Err(format!("socket activation: fd {fd} is not an open socket"));
        }
        // SAFETY: systemd passed descriptors SD_LISTEN_FDS_START.. to this process for it to own
        // (LISTEN_PID is ours, checked above); fstat just showed this one is open, and nothing
        // else in the process takes descriptors from the environment's numbering.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        // As sd_listen_fds does: children must not inherit the sockets.
        let _ = rustix::io::fcntl_setfd(&owned, rustix::io::FdFlags::CLOEXEC);
        let listener = std::net::TcpListener::from(owned);
        listener
            .local_addr()
            .map_err(|e| format!("socket activation: fd {fd} is not a TCP socket ({e})"))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| format!("socket activation: fd {fd}: {e}"))?;
        out.push(listener);
    }
    Ok(out)
}

/// Whether `fd` is an open socket (checked on the raw number, before anything owns it).
fn is_socket(fd: RawFd) -> bool {
    // SAFETY: fstat only writes the stat buffer it is given; on a closed descriptor it fails with
    // EBADF.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::fstat(fd, &mut st) } == 0;
    ok && (st.st_mode & libc::S_IFMT) == libc::S_IFSOCK
}

#[cfg(test)]
mod tests {
    use super::listeners_from;

    #[test]
    fn missing_or_foreign_variables_are_errors() {
        let err = listeners_from(None, None, 7).unwrap_err();
        assert!(err.contains("LISTEN_PID"), "{err}");
        let err = listeners_from(Some("8"), Some("1"), 7).unwrap_err();
        assert!(err.contains("another process"), "{err}");
        let err = listeners_from(Some("x"), Some("1"), 7).unwrap_err();
        assert!(err.contains("LISTEN_PID"), "{err}");
        for bad in ["0", "-1", "two", "100000"] {
            let err = listeners_from(Some("7"), Some(bad), 7).unwrap_err();
            assert!(err.contains("LISTEN_FDS"), "{bad}: {err}");
        }
    }
}
