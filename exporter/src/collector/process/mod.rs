//! `process`: process groups as process-exporter exports them (`namedprocess_namegroup_*`), with
//! their number bounded.
//!
//! * Groups: by command name unless the `[process]` section of the configuration file or
//!   process-exporter's YAML (`--collector.process.config`) gives rules (see [`config`]); first
//!   rule that matches wins, an unmatched process joins its closest matched ancestor's group
//!   (process-exporter's `-children`, on by default) or is not reported.
//! * Bounded: only the top N groups (20 by default) by CPU and by resident memory keep their
//!   name, the rest are summed into `groupname="other"` (see [`groups`]).
//! * Counters are process-exporter's: the sum of the increases seen between scans, so they start
//!   at zero for the processes already running at the first scan, count a process started later
//!   from its start, and never go down when processes exit.
//! * Per process and scan: `stat`, `status`, `io`, the `fd` directory listing, and `task/*/status`
//!   of multi-threaded processes (context switches and states, as process-exporter sums them);
//!   `cmdline` and `limits` once per process, `smaps_rollup` only when asked. A process that
//!   vanishes between the listing and a read is skipped; a file that cannot be read for
//!   permissions counts in `namedprocess_scrape_partial_errors` (the process is still reported
//!   with what could be read), one whose `stat` cannot be read in
//!   `namedprocess_scrape_procread_errors` (a process whose `status` alone is unreadable is reported
//!   from its `stat`, as a partial read). Processes hidden altogether (hidepid) show as
//!   `sysmon_process_hidden_threads`: the kernel's task count (loadavg) less the threads seen.
//! * `sysmon_process_memory_growth_bytes_per_second{groupname}`: each group's steady growth of
//!   resident memory (see [`growth`]), which the `process_memory_growth` rule reads.

pub mod config;
pub mod groups;
pub mod growth;
pub mod parse;
pub mod scan;
pub mod template;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use self::config::{Candidate, Namer, ProcessSettings};
use self::groups::{state_index, Bounder, Counts, Exported, Sums, STATES};
use self::scan::{ProcDir, ReadError};
use super::{BuildContext, CollectError, Collector, Registration, Roots};
use crate::anomaly::signals::Readings;
use crate::metrics::MetricSet;

pub const REGISTRATION: Registration = Registration {
    name: "process",
    // Off by default, as node_exporter's own `processes` collector: bounded (top N groups + other,
    // a few reads per process), but a scan costs about 23 ms of CPU per 1,000 processes, more than
    // every other collector together on a small host. `--collector.process` turns it on where it
    // replaces process-exporter.
    default_enabled: false,
    help: "process groups as process-exporter's namedprocess_namegroup_*, top N by CPU and memory",
    flags: <Args as clap::Args>::augment_args,
    cadence: super::Cadence::Slow,
    // A scan of thousands of processes takes time; on its own thread it never holds up the
    // other collectors (and after its first run it runs in the background).
    isolation: super::Isolation::Thread,
    build,
};

/// Flags of the `process` collector (they override the `[process]` section).
#[derive(Debug, Clone, clap::Args)]
#[group(id = "process_flags")]
#[command(next_help_heading = "Collector process")]
pub struct Args {
    /// process-exporter's YAML group configuration (`process_names:` with comm, exe, cmdline
    /// and name); replaces the groups of the configuration file's [process] section.
    #[arg(
        long = "collector.process.config",
        value_name = "FILE",
        id = "process_config"
    )]
    pub config: Option<PathBuf>,
    /// How many groups keep their own name (the rest are summed into groupname="other");
    /// 0 for no bound [default: 20, or process.top_n].
    #[arg(
        long = "collector.process.top-n",
        value_name = "N",
        id = "process_top_n"
    )]
    pub top_n: Option<usize>,
    /// Scan processes at most this often (the last scan is served in between), for hosts with
    /// many processes [default: every slow interval, or process.interval].
    #[arg(
        long = "collector.process.interval",
        value_name = "DURATION",
        id = "process_interval",
        value_parser = parse_duration
    )]
    pub interval: Option<Duration>,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("expected a duration such as 30s: {e}"))
}

fn build(ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    let args: Args = ctx.args()?;
    let mut settings = ctx.settings.process.clone();
    if let Some(path) = &args.config {
        settings.groups = config::load_yaml(path).map_err(|e| e.to_string())?;
    }
    if let Some(n) = args.top_n {
        settings.top_n = n;
    }
    if let Some(d) = args.interval {
        settings.interval = d;
    }
    ProcessCollector::new(ctx.roots.clone(), settings).map(|c| Box::new(c) as Box<dyn Collector>)
}

/// One process the collector follows, by pid.
#[derive(Debug)]
struct Tracked {
    /// `starttime` of stat: with the pid, the process's identity (a reused pid is a new process).
    starttime: u64,
    /// Its group; `None` when no rule matched it nor an ancestor (it is not reported, and only its
    /// stat is read to notice pid reuse).
    group: Option<Arc<str>>,
    last: Counts,
    /// Soft limit on open files (`None`: unlimited), read once.
    fd_limit: Option<Option<u64>>,
    /// The scan that last saw it.
    seen: u64,
}

/// Error counts, exported as process-exporter's counters.
#[derive(Debug, Default, Clone, Copy)]
struct Errors {
    scrape: u64,
    procread: u64,
    partial: u64,
}

struct State {
    procs: HashMap<u32, Tracked>,
    scans: u64,
    /// Unix seconds of the first scan: a process first seen later that started after it counts
    /// from its start; one started before counts from when it is first seen.
    first_scan: Option<f64>,
    boot_time: Option<f64>,
    bounder: Bounder,
    errors: Errors,
    users: Option<HashMap<u32, String>>,
    growth: growth::Growth,
    started: Instant,
    /// Threads the kernel counts that the last scan could not see (`None`: unknown).
    hidden_threads: Option<f64>,
    /// The last scan's output and when it ran, served while the own interval has not elapsed.
    last: Option<(Instant, MetricSet)>,
    dir: ProcDir,
}

pub struct ProcessCollector {
    roots: Roots,
    settings: ProcessSettings,
    namer: Namer,
    ticks_per_second: f64,
    page_size: u64,
    state: Mutex<State>,
}

/// A process read in this scan.
struct Seen {
    pid: u32,
    ppid: u32,
    state: u8,
    counts: Counts,
    threads: u64,
    start: f64,
    resident_bytes: u64,
    virtual_bytes: u64,
    swapped_bytes: u64,
    /// Whether this scan is the first to see it.
    new: bool,
}

impl ProcessCollector {
    pub fn new(roots: Roots, settings: ProcessSettings) -> Result<ProcessCollector, String> {
        let namer = Namer::new(&settings.groups)?;
        let bounder = Bounder::new(settings.top_n, settings.hold);
        let growth = growth::Growth::new(settings.growth_window, settings.growth_min_r2);
        Ok(ProcessCollector {
            roots,
            settings,
            namer,
            ticks_per_second: procfs::ticks_per_second() as f64,
            page_size: procfs::page_size(),
            state: Mutex::new(State {
                procs: HashMap::new(),
                scans: 0,
                first_scan: None,
                boot_time: None,
                bounder,
                errors: Errors::default(),
                users: None,
                growth,
                started: Instant::now(),
                hidden_threads: None,
                last: None,
                dir: ProcDir::new(),
            }),
        })
    }

    /// Boot time from `<procfs>/stat` (`btime`), read once.
    fn boot_time(&self, state: &mut State) -> Result<f64, CollectError> {
        if let Some(b) = state.boot_time {
            return Ok(b);
        }
        let path = self.roots.proc("stat");
        let text = super::read_string(&path)?;
        let btime = text
            .lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .ok_or_else(|| CollectError::parse(&path, "no \"btime\" line"))?;
        state.boot_time = Some(btime);
        Ok(btime)
    }

    /// One scan: reads every process, updates the groups, and returns what to export and the
    /// malformed files met (their processes are left out).
    fn scan(
        &self,
        state: &mut State,
        now: Instant,
    ) -> Result<(Vec<Exported>, Vec<String>), CollectError> {
        let boot = self.boot_time(state)?;
        // The kernel's count of tasks (threads), to tell how many the scan could not see.
        let kernel_tasks = std::fs::read_to_string(self.roots.proc("loadavg"))
            .ok()
            .and_then(|t| tasks_in_loadavg(&t));
        let mut visible_threads = 0u64;
        let pids = scan::list_pids(&self.roots.procfs).map_err(|e| {
            state.errors.scrape += 1;
            CollectError::io(&self.roots.procfs, e)
        })?;
        state.scans += 1;
        let scan_no = state.scans;
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let first_scan = *state.first_scan.get_or_insert(wall);
        if self.namer.uses_username() && state.users.is_none() {
            state.users = Some(
                std::fs::read_to_string(self.roots.root("etc/passwd"))
                    .map(|t| parse_passwd(&t))
                    .unwrap_or_default(),
            );
        }
        let mut stat_text = String::with_capacity(512);
        let mut malformed = Vec::new();
        let mut seen: Vec<Seen> = Vec::with_capacity(pids.len());
        // New processes no rule matched: they may join an ancestor's group below.
        let mut unmatched: HashMap<u32, usize> = HashMap::new();
        let mut partial: Vec<bool> = Vec::with_capacity(pids.len());
        let by_comm = self.namer.by_comm();

        // 1. stat and status of every process; cmdline and naming of the new ones.
        for pid in pids {
            let dir = &mut state.dir;
            dir.set(&self.roots.proc(pid.to_string()));
            stat_text.clear();
            match dir.read_text("stat") {
                Ok(t) => stat_text.push_str(&t),
                Err(ReadError::Vanished) => continue,
                Err(_) => {
                    state.errors.procread += 1;
                    continue;
                }
            };
            let stat = match parse::parse_stat(&stat_text) {
                Ok(s) => s,
                Err(e) => {
                    state.errors.procread += 1;
                    malformed.push(format!("{}: {e}", dir.path("stat").display()));
                    continue;
                }
            };
            visible_threads += stat.num_threads;
            let known = state
                .procs
                .get(&pid)
                .filter(|t| t.starttime == stat.starttime);
            if let Some(t) = known {
                if t.group.is_none() {
                    state.procs.get_mut(&pid).expect("known").seen = scan_no;
                    continue;
                }
            }
            let is_new = known.is_none();
            // status gives swap, context switches and the user; when only it cannot be read,
            // the process is still reported from its stat (a partial read).
            let mut this_partial = false;
            let status = match dir.read_text("status") {
                Ok(t) => match parse::parse_status(&t) {
                    Ok(s) => Some(s),
                    Err(e) => {
                        malformed.push(format!("{}: {e}", dir.path("status").display()));
                        this_partial = true;
                        None
                    }
                },
                Err(ReadError::Vanished) => continue,
                Err(_) => {
                    this_partial = true;
                    None
                }
            };
            let last = known.map(|t| t.last).unwrap_or_default();
            let status = status.unwrap_or(parse::Status {
                voluntary_ctxt_switches: last.voluntary_switches,
                nonvoluntary_ctxt_switches: last.nonvoluntary_switches,
                ..parse::Status::default()
            });
            if is_new {
                let cmdline = if by_comm {
                    Vec::new()
                } else {
                    match dir.read("cmdline") {
                        Ok(bytes) => parse::parse_cmdline(bytes),
                        Err(ReadError::Vanished) => continue,
                        Err(_) => {
                            this_partial = true;
                            Vec::new()
                        }
                    }
                };
                let euid = status.euid.unwrap_or(0);
                let users = state.users.as_ref();
                let username = || users.map_or_else(|| euid.to_string(), |u| user_name(u, euid));
                let username_fn: &dyn Fn() -> String = &username;
                let group = self.namer.name(&Candidate {
                    comm: stat.comm,
                    cmdline: &cmdline,
                    pid,
                    username: username_fn,
                });
                if group.is_none() {
                    unmatched.insert(pid, seen.len());
                }
                state.procs.insert(
                    pid,
                    Tracked {
                        starttime: stat.starttime,
                        group: group.map(Arc::from),
                        last: Counts::default(),
                        fd_limit: None,
                        seen: scan_no,
                    },
                );
            }
            seen.push(Seen {
                pid,
                ppid: stat.ppid,
                state: stat.state,
                counts: Counts {
                    user_ticks: stat.utime,
                    system_ticks: stat.stime,
                    read_bytes: 0,
                    write_bytes: 0,
                    major_faults: stat.majflt,
                    minor_faults: stat.minflt,
                    voluntary_switches: status.voluntary_ctxt_switches,
                    nonvoluntary_switches: status.nonvoluntary_ctxt_switches,
                },
                threads: stat.num_threads,
                start: boot + stat.starttime as f64 / self.ticks_per_second,
                resident_bytes: stat.rss.saturating_mul(self.page_size),
                virtual_bytes: stat.vsize,
                swapped_bytes: status.swap_bytes,
                new: is_new,
            });
            partial.push(this_partial);
        }

        // 2. Unmatched new processes join their closest matched ancestor's group.
        if !unmatched.is_empty() {
            let pids: Vec<u32> = unmatched.keys().copied().collect();
            for pid in pids {
                let group = if self.settings.children {
                    ancestor_group(pid, &state.procs, &seen, &unmatched, 0)
                } else {
                    None
                };
                if let Some(t) = state.procs.get_mut(&pid) {
                    t.group = group;
                }
            }
        }

        // 3. The rest of each reported process's files, and its group's sums.
        let mut sums: HashMap<Arc<str>, Sums> = HashMap::new();
        let first = scan_no == 1;
        for (i, p) in seen.iter_mut().enumerate() {
            let Some(tracked) = state.procs.get_mut(&p.pid) else {
                continue;
            };
            tracked.seen = scan_no;
            let Some(group) = tracked.group.clone() else {
                continue;
            };
            let dir = &mut state.dir;
            dir.set(&self.roots.proc(p.pid.to_string()));
            let mut this_partial = partial[i];
            match dir.read_text("io").map(|t| parse::parse_io(&t)) {
                Ok(Ok((r, w))) => {
                    p.counts.read_bytes = r;
                    p.counts.write_bytes = w;
                }
                Ok(Err(e)) => {
                    this_partial = true;
                    malformed.push(format!("{}: {e}", dir.path("io").display()));
                }
                // Keep the last values, so the counters do not move while io is unreadable (or
                // the process is exiting, which is no error).
                Err(e) => {
                    this_partial |= !matches!(e, ReadError::Vanished);
                    p.counts.read_bytes = tracked.last.read_bytes;
                    p.counts.write_bytes = tracked.last.write_bytes;
                }
            }
            let open_fds = match dir.count_entries("fd") {
                Ok(n) => Some(n),
                Err(e) => {
                    this_partial |= !matches!(e, ReadError::Vanished);
                    None
                }
            };
            if tracked.fd_limit.is_none() {
                match dir
                    .read_text("limits")
                    .map(|t| parse::parse_open_files_limit(&t))
                {
                    Ok(Ok(limit)) => tracked.fd_limit = Some(limit),
                    Ok(Err(e)) => {
                        this_partial = true;
                        malformed.push(format!("{}: {e}", dir.path("limits").display()));
                    }
                    Err(_) => this_partial = true,
                }
            }
            let mut states = [0u64; 5];
            states[state_index(p.state)] += 1;
            if self.settings.threads && p.threads > 1 {
                match thread_sums(dir, &self.roots, p.pid) {
                    Some((vol, nonvol, thread_states)) => {
                        p.counts.voluntary_switches = vol;
                        p.counts.nonvoluntary_switches = nonvol;
                        for (s, n) in states.iter_mut().zip(thread_states) {
                            *s += n;
                        }
                    }
                    None => this_partial = true,
                }
            }
            let (mut pss, mut swap_pss) = (0, 0);
            if self.settings.smaps {
                dir.set(&self.roots.proc(p.pid.to_string()));
                match dir
                    .read_text("smaps_rollup")
                    .map(|t| parse::parse_smaps_rollup(&t))
                {
                    Ok(Ok((a, b))) => (pss, swap_pss) = (a, b),
                    // Kernel threads have an empty smaps_rollup.
                    Ok(Err(_)) => {}
                    Err(_) => this_partial = true,
                }
            }
            if this_partial {
                state.errors.partial += 1;
            }
            let increase = if p.new {
                if !first && p.start > first_scan {
                    p.counts
                } else {
                    Counts::default()
                }
            } else {
                p.counts.since(&tracked.last)
            };
            tracked.last = p.counts;
            let ratio = match (open_fds, tracked.fd_limit) {
                (Some(open), Some(Some(limit))) if limit > 0 => open as f64 / limit as f64,
                _ => 0.0,
            };
            sums.entry(group).or_default().merge(&Sums {
                procs: 1,
                resident_bytes: p.resident_bytes,
                virtual_bytes: p.virtual_bytes,
                swapped_bytes: p.swapped_bytes,
                pss_bytes: pss,
                swap_pss_bytes: swap_pss,
                open_fds: open_fds.unwrap_or(0),
                worst_fd_ratio: ratio,
                threads: p.threads,
                states,
                oldest_start: Some(p.start),
                increase,
            });
        }
        state.procs.retain(|_, t| t.seen == scan_no);
        state.hidden_threads =
            kernel_tasks.map(|total| total.saturating_sub(visible_threads) as f64);
        Ok((state.bounder.update(sums, now), malformed))
    }

    fn emit(
        &self,
        groups: &[Exported],
        errors: Errors,
        hidden_threads: Option<f64>,
        out: &mut MetricSet,
    ) {
        let ticks = self.ticks_per_second;
        let g = |e: &Exported| e.name.to_string();
        macro_rules! per_group {
            ($kind:ident, $name:expr, $help:expr, $value:expr) => {{
                let f = out.$kind($name, $help);
                for e in groups {
                    let v: f64 = $value(e);
                    f.sample(&[("groupname", &g(e))], v);
                }
            }};
        }
        per_group!(
            gauge,
            "namedprocess_namegroup_num_procs",
            "number of processes in this group",
            |e: &Exported| e.now.procs as f64
        );
        {
            let f = out.counter(
                "namedprocess_namegroup_cpu_seconds_total",
                "Cpu user usage in seconds",
            );
            for e in groups {
                let name = g(e);
                f.sample(
                    &[("groupname", &name), ("mode", "user")],
                    e.totals.user_ticks as f64 / ticks,
                );
                f.sample(
                    &[("groupname", &name), ("mode", "system")],
                    e.totals.system_ticks as f64 / ticks,
                );
            }
        }
        per_group!(
            counter,
            "namedprocess_namegroup_read_bytes_total",
            "number of bytes read by this group",
            |e: &Exported| e.totals.read_bytes as f64
        );
        per_group!(
            counter,
            "namedprocess_namegroup_write_bytes_total",
            "number of bytes written by this group",
            |e: &Exported| e.totals.write_bytes as f64
        );
        {
            let f = out.gauge(
                "namedprocess_namegroup_memory_bytes",
                "number of bytes of memory in use",
            );
            for e in groups {
                let name = g(e);
                f.sample(
                    &[("groupname", &name), ("memtype", "resident")],
                    e.now.resident_bytes as f64,
                );
                f.sample(
                    &[("groupname", &name), ("memtype", "virtual")],
                    e.now.virtual_bytes as f64,
                );
                f.sample(
                    &[("groupname", &name), ("memtype", "swapped")],
                    e.now.swapped_bytes as f64,
                );
                if self.settings.smaps {
                    f.sample(
                        &[("groupname", &name), ("memtype", "proportionalResident")],
                        e.now.pss_bytes as f64,
                    );
                    f.sample(
                        &[("groupname", &name), ("memtype", "proportionalSwapped")],
                        e.now.swap_pss_bytes as f64,
                    );
                }
            }
        }
        per_group!(
            gauge,
            "namedprocess_namegroup_open_filedesc",
            "number of open file descriptors for this group",
            |e: &Exported| e.now.open_fds as f64
        );
        per_group!(gauge, "namedprocess_namegroup_worst_fd_ratio", "the worst (closest to 1) ratio between open fds and max fds among all procs in this group", |e: &Exported| e.now.worst_fd_ratio);
        per_group!(
            gauge,
            "namedprocess_namegroup_oldest_start_time_seconds",
            "start time in seconds since 1970/01/01 of oldest process in group",
            |e: &Exported| e.now.oldest_start.unwrap_or(0.0).floor()
        );
        per_group!(
            counter,
            "namedprocess_namegroup_major_page_faults_total",
            "Major page faults",
            |e: &Exported| e.totals.major_faults as f64
        );
        per_group!(
            counter,
            "namedprocess_namegroup_minor_page_faults_total",
            "Minor page faults",
            |e: &Exported| e.totals.minor_faults as f64
        );
        {
            let f = out.counter(
                "namedprocess_namegroup_context_switches_total",
                "Context switches",
            );
            for e in groups {
                let name = g(e);
                f.sample(
                    &[("groupname", &name), ("ctxswitchtype", "voluntary")],
                    e.totals.voluntary_switches as f64,
                );
                f.sample(
                    &[("groupname", &name), ("ctxswitchtype", "nonvoluntary")],
                    e.totals.nonvoluntary_switches as f64,
                );
            }
        }
        per_group!(
            gauge,
            "namedprocess_namegroup_num_threads",
            "Number of threads",
            |e: &Exported| e.now.threads as f64
        );
        {
            let f = out.gauge(
                "namedprocess_namegroup_states",
                "Number of processes in states Running, Sleeping, Waiting, Zombie, or Other",
            );
            for e in groups {
                let name = g(e);
                for (state, n) in STATES.iter().zip(e.now.states) {
                    f.sample(&[("groupname", &name), ("state", state)], n as f64);
                }
            }
        }
        out.counter(
            "namedprocess_scrape_errors",
            "general scrape errors: no proc metrics collected during a cycle",
        )
        .sample(&[], errors.scrape as f64);
        out.counter(
            "namedprocess_scrape_procread_errors",
            "incremented each time a proc's metrics collection fails",
        )
        .sample(&[], errors.procread as f64);
        out.counter("namedprocess_scrape_partial_errors", "incremented each time a tracked proc's metrics collection fails partially, e.g. unreadable I/O stats")
            .sample(&[], errors.partial as f64);
        if let Some(hidden) = hidden_threads {
            out.gauge(
                "sysmon_process_hidden_threads",
                "Threads the kernel counts (/proc/loadavg) that the last scan could not read: /proc mounted with hidepid for a user without access, or threads started during the scan.",
            )
            .sample(&[], hidden);
        }
    }
}

/// Context switches summed over a process's threads and each thread's state, from
/// `task/<tid>/status`; `None` when fewer than two threads could be read (then the process's own
/// figures stand, as in process-exporter).
fn thread_sums(dir: &mut ProcDir, roots: &Roots, pid: u32) -> Option<(u64, u64, [u64; 5])> {
    let task = roots.proc(format!("{pid}/task"));
    dir.set(&task);
    let tids = dir.numeric_entries("").ok()?;
    let (mut vol, mut nonvol, mut states, mut read) = (0, 0, [0u64; 5], 0);
    for tid in tids {
        dir.set(&task.join(tid.to_string()));
        let Ok(text) = dir.read_text("status") else {
            continue;
        };
        let Ok(s) = parse::parse_status(&text) else {
            continue;
        };
        vol += s.voluntary_ctxt_switches;
        nonvol += s.nonvoluntary_ctxt_switches;
        states[state_index(s.state.unwrap_or(b'?'))] += 1;
        read += 1;
    }
    (read >= 2).then_some((vol, nonvol, states))
}

/// The group of an unmatched new process: its parent's if the parent is reported, else (the
/// parent new and unmatched too) its parent's ancestor's. A parent not reported, gone or unknown
/// leaves it unreported.
fn ancestor_group(
    pid: u32,
    procs: &HashMap<u32, Tracked>,
    seen: &[Seen],
    unmatched: &HashMap<u32, usize>,
    depth: usize,
) -> Option<Arc<str>> {
    // Deeper than any real tree: a pid loop in a malformed tree must end.
    if depth > 4096 {
        return None;
    }
    let ppid = seen[*unmatched.get(&pid)?].ppid;
    if ppid == 0 || ppid == pid {
        return None;
    }
    if unmatched.contains_key(&ppid) {
        return ancestor_group(ppid, procs, seen, unmatched, depth + 1);
    }
    procs.get(&ppid)?.group.clone()
}

fn user_name(users: &HashMap<u32, String>, uid: u32) -> String {
    users.get(&uid).cloned().unwrap_or_else(|| uid.to_string())
}

/// The number of tasks (threads) in /proc/loadavg's fourth field (`running/total`).
pub fn tasks_in_loadavg(text: &str) -> Option<u64> {
    text.split_ascii_whitespace()
        .nth(3)?
        .split_once('/')?
        .1
        .parse()
        .ok()
}

/// User names by uid from /etc/passwd (`name:password:uid:...`); the first entry of a uid wins.
pub fn parse_passwd(text: &str) -> HashMap<u32, String> {
    let mut users = HashMap::new();
    for line in text.lines() {
        let mut fields = line.split(':');
        let (Some(name), Some(_), Some(uid)) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        if let Ok(uid) = uid.parse::<u32>() {
            users.entry(uid).or_insert_with(|| name.to_string());
        }
    }
    users
}

impl Collector for ProcessCollector {
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if let Some((at, last)) = &state.last {
            if now.duration_since(*at) < self.settings.interval {
                out.families.extend(last.families.iter().cloned());
                return Ok(());
            }
        }
        let result = self.scan(&mut state, now);
        let mut set = MetricSet::new();
        let outcome = match result {
            Ok((groups, malformed)) => {
                self.emit(&groups, state.errors, state.hidden_threads, &mut set);
                // Groups with processes but other, which is no one program.
                let resident: Vec<(Arc<str>, f64)> = groups
                    .iter()
                    .filter(|g| g.now.procs > 0 && &*g.name != groups::OTHER)
                    .map(|g| (Arc::clone(&g.name), g.now.resident_bytes as f64))
                    .collect();
                let at = now.duration_since(state.started).as_secs_f64();
                let f = set.gauge(
                    "sysmon_process_memory_growth_bytes_per_second",
                    "Steady growth of the group's resident memory over the process.growth_window (least-squares slope of a rise whose fit has an R^2 of at least process.growth_min_r2), 0 when it is not growing steadily.",
                );
                for (name, slope) in state.growth.update(at, &resident) {
                    f.sample(&[("groupname", &name)], slope);
                }
                match malformed.is_empty() {
                    true => Ok(()),
                    false => Err(CollectError::Other(super::malformed_summary(&malformed))),
                }
            }
            Err(e) => {
                self.emit(&[], state.errors, None, &mut set);
                Err(e)
            }
        };
        out.families.extend(set.families.iter().cloned());
        state.last = Some((now, set));
        outcome
    }

    fn signals(&self, _readings: &mut Readings) -> Result<(), CollectError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
