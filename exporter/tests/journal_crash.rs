//! Crash safety of the anomaly journal: a child process records transitions as fast as it can
//! through the real `Store` and reports each one `record` has returned for; the test kills it with
//! SIGKILL mid-burst, reopens the store, and checks that every reported transition is there and
//! that the journal has no damage beyond a torn last line. Repeated, on the same directory.
//!
//! The child is this test binary itself, re-run with `CHILD_ENV` naming the directory. A kill
//! cannot lose what the kernel has already accepted, so this checks the write path (whole lines,
//! append before report, atomic compaction), not the `fsync` against power loss.

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use sysmon_exporter::anomaly::journal::Retention;
use sysmon_exporter::anomaly::store::{Query, Store};
use sysmon_exporter::anomaly::{Event, Severity, Transition};

const CHILD_ENV: &str = "SYSMON_JOURNAL_CRASH_CHILD";

/// Small enough that the child compacts every few dozen transitions, so kills land during
/// compactions too; ample for the few active events, which are never dropped.
fn retention() -> Retention {
    Retention {
        max_age: Duration::from_secs(3600),
        max_bytes: 16 * 1024,
    }
}

fn event(id: u64) -> Event {
    // Times grow with the id, so the oldest resolved events are the lowest ids.
    let start = Utc::now() + TimeDelta::milliseconds(id as i64);
    Event {
        id,
        rule: "cpu_high".into(),
        category: "cpu".into(),
        severity: Severity::Warning,
        subject: format!("cpu{id}"),
        message: format!("crash test event {id}, with some text to make the line realistic"),
        value: 97.5,
        threshold: 90.0,
        started_at: start,
        resolved_at: None,
        metrics: [("cpu_busy_percent".to_string(), 97.5)].into(),
    }
}

/// The child: starts events and resolves each three events later, printing `started N` or
/// `resolved N` after `record` returns. Stops by itself after 20 s should nobody kill it.
#[test]
#[ignore = "run by journal_survives_sigkill as its child process"]
fn child_records_until_killed() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let store = Store::open(Path::new(&dir), retention()).expect("child opens the store");
    let mut out = std::io::stdout().lock();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut open: Vec<Event> = Vec::new();
    while Instant::now() < deadline {
        let e = event(store.next_id());
        store.record(Transition::Started(e.clone())).unwrap();
        writeln!(out, "started {}", e.id).unwrap();
        out.flush().unwrap();
        open.push(e);
        if open.len() > 3 {
            let mut r = open.remove(0);
            r.resolved_at = Some(r.started_at + TimeDelta::seconds(1));
            store.record(Transition::Resolved(r.clone())).unwrap();
            writeln!(out, "resolved {}", r.id).unwrap();
            out.flush().unwrap();
        }
    }
}

#[test]
fn journal_survives_sigkill() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state");
    let me = std::env::current_exe().unwrap();
    let mut highest_seen = 0;
    let mut dropped_by_size = 0;
    for round in 0..4 {
        let mut child = Command::new(&me)
            .args([
                "--exact",
                "child_records_until_killed",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut started = BTreeSet::new();
        let mut resolved = BTreeSet::new();
        // Kill after a different number of reports each round, so kills land at varied points;
        // then keep reading: what the child reported before it died counts too.
        let kill_after = 100 + 61 * round;
        let mut reported = 0;
        let mut line = String::new();
        loop {
            line.clear();
            if stdout.read_line(&mut line).unwrap() == 0 {
                break;
            }
            // Only a whole line is a report (the child writes each with one `write`).
            let Some(report) = line.strip_suffix('\n') else {
                break;
            };
            if let Some(id) = report.strip_prefix("started ") {
                started.insert(id.parse::<u64>().unwrap());
            } else if let Some(id) = report.strip_prefix("resolved ") {
                resolved.insert(id.parse::<u64>().unwrap());
            } else {
                continue;
            }
            reported += 1;
            if reported == kill_after {
                child.kill().unwrap();
            }
        }
        let status = child.wait().unwrap();
        assert!(!status.success(), "round {round}: the child was killed");
        assert!(
            reported >= kill_after,
            "round {round}: the child stopped by itself after {reported} reports"
        );

        let store = Store::open(&dir, retention()).unwrap();
        let report = store.replay_report();
        eprintln!("round {round}: {reported} reports, replay {report:?}");
        assert_eq!(
            report.invalid_lines, 0,
            "round {round}: only the last line may be damaged: {report:?}"
        );
        let events = store.query(&Query {
            limit: 1000,
            ..Query::default()
        });
        let oldest_kept_resolved = events
            .iter()
            .filter(|e| !e.is_active())
            .map(|e| e.id)
            .min()
            .unwrap_or(u64::MAX);
        for id in &started {
            let e = store.get(*id);
            match e {
                Some(e) => {
                    assert_eq!(e.subject, format!("cpu{id}"), "round {round}");
                    if resolved.contains(id) {
                        assert!(e.resolved_at.is_some(), "round {round}: {id} was resolved");
                    }
                }
                // Size retention drops the oldest resolved events, and only those.
                None => {
                    assert!(
                        resolved.contains(id) && *id < oldest_kept_resolved,
                        "round {round}: event {id} was reported but is missing (oldest kept resolved: {oldest_kept_resolved})"
                    );
                    dropped_by_size += 1;
                }
            }
        }
        let last = *started.last().unwrap();
        assert!(
            store.get(last).is_some(),
            "round {round}: newest event kept"
        );
        assert!(
            started.first().copied().unwrap() > highest_seen,
            "round {round}: ids continue across restarts"
        );
        assert!(store.next_id() > last, "round {round}");
        highest_seen = last;
    }
    assert!(
        dropped_by_size > 0,
        "the bursts were long enough for compactions to drop old events"
    );
}
