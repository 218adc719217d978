//! A /proc or /sys file read every sample: kept open and read again from offset 0 into a buffer
//! reused across reads, so a read costs one `pread` and no allocation. procfs and sysfs make a
//! file's text anew on every read that starts at offset 0, so the content is current each time.
//!
//! The signal readings of the collectors the anomaly rules read every sample use it
//! ([`super::Collector::signals`]); their full runs keep reading files the ordinary way.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::CollectError;
use crate::anomaly::event::Reading;

/// Larger than any file read this way (/proc/stat of a few thousand CPUs is about 1 MiB); a file
/// that grows past it is cut off there rather than filling memory.
const MAX_BYTES: usize = 16 << 20;

pub struct KeptOpen {
    path: PathBuf,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    file: Option<File>,
    buf: Vec<u8>,
}

impl KeptOpen {
    pub fn new(path: impl Into<PathBuf>) -> KeptOpen {
        KeptOpen {
            path: path.into(),
            state: Mutex::new(State::default()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes the file, so the next read opens the path again. The collectors call it at every
    /// full run: a file that was replaced rather than rewritten (a fixture tree updated by
    /// renaming, a bind mount swapped) is then followed within one slow interval.
    pub fn reopen(&self) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).file = None;
    }

    /// Reads the whole file and hands its text to `parse`. A failed read closes the file, so the
    /// next read opens the path again (the file may have gone and come back, as a sysfs
    /// attribute of a re-plugged device does).
    pub fn read<R>(&self, parse: impl FnOnce(&str) -> R) -> Result<R, CollectError> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let State { file, buf } = &mut *state;
        if file.is_none() {
            *file = Some(File::open(&self.path).map_err(|e| CollectError::io(&self.path, e))?);
        }
        let f = file.as_ref().expect("opened above");
        let len = match read_all_at_zero(f, buf) {
            Ok(len) => len,
            Err(e) => {
                *file = None;
                return Err(CollectError::io(&self.path, e));
            }
        };
        let text = std::str::from_utf8(&buf[..len])
            .map_err(|_| CollectError::parse(&self.path, "the file is not UTF-8 text"))?;
        Ok(parse(text))
    }
}

/// The temperature files a collector's full run found (hwmon sensors, thermal zones), read every
/// sample for the anomaly rules without listing directories again.
#[derive(Default)]
pub struct TemperatureFiles {
    /// Subject -> (its file of millidegrees Celsius, its critical limit in degrees).
    files: Mutex<BTreeMap<String, (KeptOpen, Option<f64>)>>,
}

impl TemperatureFiles {
    /// Makes `found` (subject, file, critical limit) the set to read, opened afresh (see
    /// [`KeptOpen::reopen`]).
    pub fn replace(&self, found: Vec<(String, PathBuf, Option<f64>)>) {
        let mut files = self.files.lock().unwrap_or_else(|p| p.into_inner());
        *files = found
            .into_iter()
            .map(|(subject, path, limit)| (subject, (KeptOpen::new(path), limit)))
            .collect();
    }

    /// Whether there is no file to read (none found, or no full run yet).
    pub fn is_empty(&self) -> bool {
        self.files
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
    }

    /// Reads every file. A file that cannot be read or parsed is left out, and the first such
    /// error returned once the others are read.
    pub fn read(&self, out: &mut Vec<Reading>) -> Result<(), CollectError> {
        let files = self.files.lock().unwrap_or_else(|p| p.into_inner());
        let mut first_error = None;
        for (subject, (file, limit)) in files.iter() {
            let value = file
                .read(|text| text.trim().parse::<f64>().ok())
                .and_then(|v| {
                    v.filter(|v| v.is_finite()).ok_or_else(|| {
                        CollectError::parse(file.path(), "expected millidegrees Celsius")
                    })
                });
            match value {
                Ok(millidegrees) => out.push(Reading {
                    subject: subject.clone(),
                    value: millidegrees / 1000.0,
                    limit: *limit,
                }),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// Reads from offset 0 to the end into `buf` (grown as needed, never shrunk), returning the length.
fn read_all_at_zero(file: &File, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    if buf.is_empty() {
        buf.resize(4096, 0);
    }
    let mut len = 0;
    loop {
        if len == buf.len() {
            if buf.len() >= MAX_BYTES {
                return Ok(len);
            }
            buf.resize((buf.len() * 2).min(MAX_BYTES), 0);
        }
        match file.read_at(&mut buf[len..], len as u64) {
            Ok(0) => return Ok(len),
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rereads_see_new_content_and_a_vanished_file_is_an_error_then_reopened() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stat");
        std::fs::write(&path, "one\n").unwrap();
        let kept = KeptOpen::new(&path);
        assert_eq!(kept.read(str::to_string).unwrap(), "one\n");
        // Rewritten in place (as procfs regenerates it): the kept-open file shows the new text.
        std::fs::write(&path, "a longer second text\n").unwrap();
        assert_eq!(kept.read(str::to_string).unwrap(), "a longer second text\n");
        std::fs::write(&path, "2\n").unwrap();
        assert_eq!(kept.read(str::to_string).unwrap(), "2\n");
        // Replaced by a new file: the old one is read until the file is reopened.
        let tmp = dir.path().join("tmp");
        std::fs::write(&tmp, "replaced\n").unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        assert_eq!(kept.read(str::to_string).unwrap(), "2\n");
        kept.reopen();
        assert_eq!(kept.read(str::to_string).unwrap(), "replaced\n");
        // Removed: an error; recreated, the next read opens it again.
        std::fs::remove_file(&path).unwrap();
        let missing = KeptOpen::new(&path);
        assert!(matches!(missing.read(|_| ()), Err(CollectError::Io { .. })));
        std::fs::write(&path, "back\n").unwrap();
        assert_eq!(missing.read(str::to_string).unwrap(), "back\n");
    }

    #[test]
    fn temperature_files_are_read_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, "45500\n").unwrap();
        std::fs::write(&b, "junk\n").unwrap();
        let temps = TemperatureFiles::default();
        temps.replace(vec![
            ("chip/temp1".into(), a.clone(), Some(100.0)),
            ("thermal_zone0".into(), b.clone(), None),
        ]);
        let mut out = Vec::new();
        assert!(matches!(
            temps.read(&mut out),
            Err(CollectError::Parse { .. })
        ));
        assert_eq!(
            out,
            vec![Reading {
                subject: "chip/temp1".into(),
                value: 45.5,
                limit: Some(100.0)
            }]
        );
        temps.replace(vec![("thermal_zone0".into(), a, None)]);
        out.clear();
        temps.read(&mut out).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].subject, "thermal_zone0");
    }

    #[test]
    fn large_files_are_read_whole_and_binary_is_a_parse_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        let text = "cpu0 1 2 3 4 5 6 7 8 9 10\n".repeat(5000);
        std::fs::write(&path, &text).unwrap();
        assert_eq!(KeptOpen::new(&path).read(str::len).unwrap(), text.len());
        std::fs::write(&path, [0xff, 0xfe, 0x00]).unwrap();
        assert!(matches!(
            KeptOpen::new(&path).read(|_| ()),
            Err(CollectError::Parse { .. })
        ));
    }
}
