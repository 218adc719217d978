//! Reading one process's files with as few syscalls as the metrics need: one `read` per file
//! into a reused buffer (the kernel hands a seq_file's whole text to a large enough read), the
//! fd directory counted without allocating its entries, `limits` and `cmdline` only when the
//! tracker asks for them.

use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};

/// Why a read failed, in the three ways the collector tells apart.
#[derive(Debug)]
pub enum ReadError {
    /// The process (or thread) exited between the listing and the read: normal, not counted.
    Vanished,
    /// Permission denied (another user's `io` or `fd`, /proc mounted with `hidepid=1`).
    Denied,
    /// Anything else, with the error.
    Other(std::io::Error),
}

impl From<std::io::Error> for ReadError {
    fn from(e: std::io::Error) -> Self {
        const ESRCH: i32 = 3;
        match e.kind() {
            ErrorKind::NotFound => ReadError::Vanished,
            ErrorKind::PermissionDenied => ReadError::Denied,
            _ if e.raw_os_error() == Some(ESRCH) => ReadError::Vanished,
            _ => ReadError::Other(e),
        }
    }
}

/// A `/proc/<pid>/` directory and a buffer for its files.
pub struct ProcDir {
    dir: PathBuf,
    /// The path of the file being read (its allocation reused from file to file).
    file: PathBuf,
    pub buf: Vec<u8>,
}

impl Default for ProcDir {
    fn default() -> Self {
        Self::new()
    }
}

impl ProcDir {
    pub fn new() -> ProcDir {
        ProcDir {
            dir: PathBuf::new(),
            file: PathBuf::new(),
            buf: Vec::with_capacity(8192),
        }
    }

    /// Points at `<procfs>/<pid>` (or `<procfs>/<pid>/task/<tid>`).
    pub fn set(&mut self, dir: &Path) {
        self.dir.as_mut_os_string().clear();
        self.dir.push(dir);
    }

    /// The path of one of its files (for error messages).
    pub fn path(&self, name: &str) -> PathBuf {
        let mut p = PathBuf::from(&self.dir);
        p.push(name);
        p
    }

    fn file_path(&mut self, name: &str) -> &Path {
        self.file.clone_from(&self.dir);
        if !name.is_empty() {
            self.file.push(name);
        }
        &self.file
    }

    /// Reads `name` into the buffer: one `read` when the file fits, more only for a longer one.
    pub fn read(&mut self, name: &str) -> Result<&[u8], ReadError> {
        let mut file = std::fs::File::open(self.file_path(name))?;
        self.buf.clear();
        let cap = self.buf.capacity();
        self.buf.resize(cap, 0);
        let mut len = 0;
        loop {
            let n = file.read(&mut self.buf[len..])?;
            len += n;
            if n == 0 || len < self.buf.len() {
                break;
            }
            // Full: grow and read on (a long command line or status of a big process).
            let grown = self.buf.len() * 2;
            self.buf.resize(grown, 0);
        }
        self.buf.truncate(len);
        Ok(&self.buf)
    }

    /// Reads `name` as text (the kernel writes ASCII; anything else is replaced).
    pub fn read_text(&mut self, name: &str) -> Result<std::borrow::Cow<'_, str>, ReadError> {
        self.read(name).map(String::from_utf8_lossy)
    }

    /// The entries of the directory `name` (open file descriptors, threads), counted.
    pub fn count_entries(&mut self, name: &str) -> Result<u64, ReadError> {
        let mut n = 0;
        for entry in std::fs::read_dir(self.file_path(name))? {
            entry?;
            n += 1;
        }
        Ok(n)
    }

    /// The numeric entries of the directory `name` (thread ids in `task`).
    pub fn numeric_entries(&mut self, name: &str) -> Result<Vec<u32>, ReadError> {
        let mut ids = Vec::new();
        for entry in std::fs::read_dir(self.file_path(name))? {
            if let Some(id) = entry?.file_name().to_str().and_then(|s| s.parse().ok()) {
                ids.push(id);
            }
        }
        Ok(ids)
    }
}

/// The numeric entries of `<procfs>`: the process ids, in no particular order.
pub fn list_pids(procfs: &Path) -> std::io::Result<Vec<u32>> {
    let mut pids = Vec::with_capacity(512);
    for entry in std::fs::read_dir(procfs)? {
        let entry = entry?;
        if let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        {
            pids.push(pid);
        }
    }
    pids.sort_unstable();
    Ok(pids)
}
