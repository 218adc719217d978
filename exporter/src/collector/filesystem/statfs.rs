//! statfs on mount points, on long-lived worker threads (`--collector.filesystem.stat-workers` of
//! them), each call under a timeout, remembering
//! the mount points whose call hung ("stuck mounts") so that a hung mount costs one blocked
//! thread, not one more per sample; and the `device_error` label for a failed call.

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// What statfs says about one filesystem, in node_exporter's units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FsUsage {
    pub size: f64,
    pub free: f64,
    pub avail: f64,
    pub files: f64,
    pub files_free: f64,
}

/// The statfs call, injectable so tests can make it fail or hang.
pub type StatFn = Arc<dyn Fn(&Path) -> io::Result<FsUsage> + Send + Sync>;

/// statvfs on `path`. Block counts are multiplied by `f_bsize`, as node_exporter does with
/// statfs' `Bsize` (statvfs' `f_bsize` is that same field on Linux).
pub fn statvfs_usage(path: &Path) -> io::Result<FsUsage> {
    let s = rustix::fs::statvfs(path)?;
    let bsize = s.f_bsize as f64;
    Ok(FsUsage {
        size: s.f_blocks as f64 * bsize,
        free: s.f_bfree as f64 * bsize,
        avail: s.f_bavail as f64 * bsize,
        files: s.f_files as f64,
        files_free: s.f_ffree as f64,
    })
}

/// node_exporter's `device_error` label value for a mount whose statfs did not return in time.
pub const TIMEOUT_ERROR: &str = "mountpoint timeout";

/// The `device_error` for a call whose worker thread ended without answering.
const WORKER_ENDED: &str = "statfs worker ended without a result";

/// The `device_error` label for a failed statfs: node_exporter puts Go's error text there, which
/// for a system call is the C library's message starting in lower case
/// ("no such file or directory", "permission denied").
pub fn error_label(err: &io::Error) -> String {
    let text = err.to_string();
    let text = match text.rsplit_once(" (os error ") {
        Some((message, _)) if err.raw_os_error().is_some() => message,
        _ => text.as_str(),
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Runs statfs calls on a long-lived worker thread, each under a timeout, and remembers the mount
/// points whose call has not returned ("stuck"): those are reported as timed out, without a new
/// call, until the hung call returns. A hung call keeps its worker, which is set aside (it ends
/// when the call returns) and replaced by a new one for the other mounts, so at most one thread per
/// stuck mount point is ever blocked, and a sample with no hung mount starts no thread at all.
pub struct StatRunner {
    stat: StatFn,
    timeout: Duration,
    stuck: Arc<Mutex<HashSet<PathBuf>>>,
    /// One slot per concurrent statfs (`--collector.filesystem.stat-workers`); each holds its
    /// long-lived worker once started.
    workers: Vec<Mutex<Option<Worker>>>,
}

/// The worker's two channels: mount points in, results out (in the same order).
struct Worker {
    jobs: mpsc::Sender<PathBuf>,
    /// Each call's result and the moment it ended.
    results: mpsc::Receiver<(io::Result<FsUsage>, Instant)>,
}

/// Locks a mutex; a panic elsewhere while it was held leaves usable contents behind.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl StatRunner {
    pub fn new(stat: StatFn, timeout: Duration) -> StatRunner {
        StatRunner {
            stat,
            timeout,
            stuck: Arc::new(Mutex::new(HashSet::new())),
            workers: vec![Mutex::new(None)],
        }
    }

    /// Runs up to `count` statfs calls at once, as node_exporter's `--collector.filesystem.
    /// stat-workers` (less than 1 counts as 1).
    pub fn with_workers(mut self, count: i64) -> StatRunner {
        let count = usize::try_from(count.max(1)).unwrap_or(1);
        self.workers = (0..count).map(|_| Mutex::new(None)).collect();
        self
    }

    /// statfs on every path, each within the timeout, the paths shared out among the workers
    /// (path `i` to worker `i mod n`, each worker's paths one after the other). Each result is the
    /// usage or the `device_error` label, in the order of `paths`.
    ///
    /// Every worker is handed its whole share at once and works through it while this thread
    /// takes the results in turn, so a run starts no thread and wakes each worker once. Each
    /// result comes with the moment its call ended, which is when the worker's next call began:
    /// that call's timeout counts from there, however late this thread gets to it.
    pub fn stat_all(&self, paths: &[PathBuf]) -> Vec<Result<FsUsage, String>> {
        let n = self.workers.len().min(paths.len()).max(1);
        let mut results: Vec<Result<FsUsage, String>> = vec![Err(String::new()); paths.len()];
        let mut slots: Vec<MutexGuard<'_, Option<Worker>>> =
            self.workers[..n].iter().map(lock).collect();
        // Per worker: its paths handed over (index into `paths`), and when.
        let mut handed: Vec<(Vec<usize>, Instant)> = Vec::with_capacity(n);
        for (k, slot) in slots.iter_mut().enumerate() {
            let mut share = Vec::new();
            for i in (k..paths.len()).step_by(n) {
                match self.hand_over(slot, &paths[i]) {
                    Ok(()) => share.push(i),
                    Err(label) => results[i] = Err(label),
                }
            }
            handed.push((share, Instant::now()));
        }
        for (slot, (share, handed_at)) in slots.iter_mut().zip(handed) {
            let mut began = handed_at;
            for (position, &i) in share.iter().enumerate() {
                match self.take_result(slot, &paths[i], began) {
                    Ok((result, ended)) => {
                        results[i] = result;
                        began = ended;
                    }
                    Err(label) => {
                        // The worker is gone (set aside in a hung call, or ended): the rest of
                        // its share is stated one by one on a new worker.
                        results[i] = Err(label);
                        for &rest in &share[position + 1..] {
                            results[rest] = self.stat_one(slot, &paths[rest]);
                        }
                        break;
                    }
                }
            }
        }
        results
    }

    /// Sends `path` to the worker in `slot`, starting one if there is none; the error is the
    /// path's `device_error` when it is not sent (stuck since an earlier call, no worker).
    fn hand_over(&self, slot: &mut Option<Worker>, path: &Path) -> Result<(), String> {
        if lock(&self.stuck).contains(path) {
            return Err(TIMEOUT_ERROR.to_string());
        }
        if slot.is_none() {
            *slot = Some(self.spawn_worker().map_err(|e| error_label(&e))?);
        }
        let worker = slot.as_ref().expect("started above");
        if worker.jobs.send(path.to_path_buf()).is_err() {
            *slot = None;
            return Err(WORKER_ENDED.to_string());
        }
        Ok(())
    }

    /// The next result of the worker in `slot` (the call on `path` that began at `began`) and
    /// when that call ended. When it does not come within the timeout the mount is marked stuck
    /// and the worker set aside; that, or a worker that ended, is the error's `device_error`.
    fn take_result(
        &self,
        slot: &mut Option<Worker>,
        path: &Path,
        began: Instant,
    ) -> Result<(Result<FsUsage, String>, Instant), String> {
        let worker = slot.as_ref().ok_or_else(|| WORKER_ENDED.to_string())?;
        let left = (began + self.timeout).saturating_duration_since(Instant::now());
        let (result, ended) = match worker.results.recv_timeout(left) {
            Ok(done) => done,
            Err(RecvTimeoutError::Timeout) => {
                let mut stuck = lock(&self.stuck);
                match worker.results.try_recv() {
                    Ok(done) => done,
                    Err(_) => {
                        stuck.insert(path.to_path_buf());
                        // The worker is blocked in this call: set it aside.
                        *slot = None;
                        return Err(TIMEOUT_ERROR.to_string());
                    }
                }
            }
            Err(RecvTimeoutError::Disconnected) => {
                *slot = None;
                return Err(WORKER_ENDED.to_string());
            }
        };
        Ok((result.map_err(|e| error_label(&e)), ended))
    }

    /// How many mount points currently have a hung call.
    pub fn stuck_count(&self) -> usize {
        lock(&self.stuck).len()
    }

    fn spawn_worker(&self) -> io::Result<Worker> {
        let (jobs, incoming) = mpsc::channel::<PathBuf>();
        let (outgoing, results) = mpsc::channel();
        let stat = Arc::clone(&self.stat);
        let stuck = Arc::clone(&self.stuck);
        std::thread::Builder::new()
            .name("statfs".to_string())
            .stack_size(128 * 1024)
            .spawn(move || {
                while let Ok(path) = incoming.recv() {
                    let result = (stat(&path), Instant::now());
                    // Under the lock, so that the collector, which also checks for a result under
                    // the lock before marking the mount stuck, either gets this result or has
                    // already marked the mount and sees it unmarked here.
                    let mut stuck = lock(&stuck);
                    stuck.remove(&path);
                    // A worker set aside after a hung call has no listener any more: it ends.
                    if outgoing.send(result).is_err() {
                        return;
                    }
                }
            })?;
        Ok(Worker { jobs, results })
    }

    fn stat_one(&self, slot: &mut Option<Worker>, path: &Path) -> Result<FsUsage, String> {
        self.hand_over(slot, path)?;
        self.take_result(slot, path, Instant::now())?.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn error_labels_read_like_node_exporters() {
        assert_eq!(
            error_label(&io::Error::from_raw_os_error(2)),
            "no such file or directory"
        );
        assert_eq!(
            error_label(&io::Error::from_raw_os_error(13)),
            "permission denied"
        );
        assert_eq!(
            error_label(&io::Error::other("Boom (os error 1)")),
            "boom (os error 1)"
        );
    }

    fn usage(size: f64) -> FsUsage {
        FsUsage {
            size,
            free: 1.0,
            avail: 1.0,
            files: 1.0,
            files_free: 1.0,
        }
    }

    /// A statfs that hangs on "/hang" until released, and counts its calls there.
    struct Hanging {
        runner: StatRunner,
        release: mpsc::Sender<()>,
        hang_calls: Arc<AtomicUsize>,
    }

    fn hanging_runner() -> Hanging {
        let (release, wait) = mpsc::channel::<()>();
        let wait = Mutex::new(wait);
        let hang_calls = Arc::new(AtomicUsize::new(0));
        let calls = Arc::clone(&hang_calls);
        let stat: StatFn = Arc::new(move |path: &Path| {
            if path == Path::new("/hang") {
                calls.fetch_add(1, Ordering::SeqCst);
                let _ = wait.lock().unwrap().recv();
                return Ok(usage(2.0));
            }
            if path == Path::new("/missing") {
                return Err(io::Error::from_raw_os_error(2));
            }
            Ok(usage(1.0))
        });
        Hanging {
            runner: StatRunner::new(stat, Duration::from_millis(250)),
            release,
            hang_calls,
        }
    }

    #[test]
    fn reports_results_and_errors() {
        let h = hanging_runner();
        let results = h
            .runner
            .stat_all(&[PathBuf::from("/ok"), PathBuf::from("/missing")]);
        assert_eq!(results[0], Ok(usage(1.0)));
        assert_eq!(results[1], Err("no such file or directory".to_string()));
        assert_eq!(h.runner.stuck_count(), 0);
    }

    #[test]
    fn hung_statfs_times_out_and_is_not_repeated_until_it_returns() {
        let h = hanging_runner();
        let paths = [PathBuf::from("/hang"), PathBuf::from("/ok")];

        // The hung call does not hold back the others beyond its own timeout.
        let first = h.runner.stat_all(&paths);
        assert_eq!(first[0], Err(TIMEOUT_ERROR.to_string()));
        assert_eq!(first[1], Ok(usage(1.0)));
        assert_eq!(h.runner.stuck_count(), 1);

        // While stuck: reported as timed out without another call (no second blocked thread).
        let second = h.runner.stat_all(&paths);
        assert_eq!(second[0], Err(TIMEOUT_ERROR.to_string()));
        assert_eq!(second[1], Ok(usage(1.0)));
        assert_eq!(h.hang_calls.load(Ordering::SeqCst), 1);

        // Once the hung call returns, the mount is no longer stuck and is statted again.
        h.release.send(()).unwrap();
        for _ in 0..500 {
            if h.runner.stuck_count() == 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(h.runner.stuck_count(), 0);
        h.release.send(()).unwrap();
        let third = h.runner.stat_all(&paths);
        assert_eq!(third[0], Ok(usage(2.0)));
        assert_eq!(h.hang_calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_hang_in_one_workers_share_leaves_the_rest_of_it_answered() {
        let h = hanging_runner();
        let runner = StatRunner {
            workers: Vec::new(),
            ..h.runner
        }
        .with_workers(2);
        // Worker 0 gets /a, /hang, /c; worker 1 gets /b, /missing.
        let paths: Vec<PathBuf> = ["/a", "/b", "/hang", "/missing", "/c"]
            .iter()
            .map(PathBuf::from)
            .collect();
        let results = runner.stat_all(&paths);
        assert_eq!(results[0], Ok(usage(1.0)));
        assert_eq!(results[1], Ok(usage(1.0)));
        assert_eq!(results[2], Err(TIMEOUT_ERROR.to_string()));
        assert_eq!(results[3], Err("no such file or directory".to_string()));
        // Queued behind the hung call on the worker set aside: stated on a new worker.
        assert_eq!(results[4], Ok(usage(1.0)));
        assert_eq!(runner.stuck_count(), 1);
        assert_eq!(h.hang_calls.load(Ordering::SeqCst), 1);
        h.release.send(()).unwrap();
    }

    #[test]
    fn several_workers_keep_the_order_and_share_out_the_paths() {
        let h = hanging_runner();
        let runner = StatRunner {
            workers: Vec::new(),
            ..h.runner
        }
        .with_workers(4);
        assert_eq!(runner.workers.len(), 4);
        let paths: Vec<PathBuf> = ["/a", "/hang", "/missing", "/b", "/c", "/d"]
            .iter()
            .map(PathBuf::from)
            .collect();
        let started = std::time::Instant::now();
        let results = runner.stat_all(&paths);
        assert_eq!(results[0], Ok(usage(1.0)));
        assert_eq!(results[1], Err(TIMEOUT_ERROR.to_string()));
        assert_eq!(results[2], Err("no such file or directory".to_string()));
        assert!(results[3..].iter().all(|r| *r == Ok(usage(1.0))));
        // The hung call held back one worker only, for one timeout.
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(runner.stuck_count(), 1);
        // Fewer than one worker counts as one.
        let (stat, timeout) = (Arc::clone(&runner.stat), runner.timeout);
        assert_eq!(
            StatRunner::new(stat, timeout)
                .with_workers(-3)
                .workers
                .len(),
            1
        );
        drop(h.release);
    }
}
