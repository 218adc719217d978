#!/usr/bin/env python3
"""Benchmark: sysmon-exporter's `process` collector next to process-exporter, on generated /proc
trees of 1,000 and 10,000 processes.

For each tree both exporters read the same generated /proc (in /dev/shm, so the disk does not
count): process-exporter with a catch-all group per command name (`{{.Comm}}`, its defaults
otherwise: -threads, -gather-smaps, -children), sysmon with its defaults (one group per command
name, top 20 + other). Measured:

* CPU per scan: the exporter process's user+system time (from /proc/<pid>/stat) over a run of
  scans, divided by their number. process-exporter scans once per scrape, so it is scraped N times
  back to back; sysmon scans on its slow interval, so it runs for N intervals and is scraped once
  per interval (its figure therefore includes its sampler and HTTP serving: conservative). sysmon's
  own account of the scans alone (`sysmon_collector_cpu_seconds_total{collector="process"}`) is
  printed beside it.
* Series: how many `namedprocess_*` samples each serves (process-exporter's include its per-thread
  -name series).

A measurement, not a test: it prints the figures and never fails on them. It exits non-zero only
when it cannot measure (no build, an exporter does not start).

Usage: python3 deploy/bench/process_bench.py [--sizes 1000,10000] [--scans 10]
       [--binary target/release/sysmon-exporter]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PROCESS_EXPORTER = "/usr/bin/prometheus-process-exporter"
TICKS = os.sysconf("SC_CLK_TCK")

# Command names of a busy host: a few hundred distinct ones, a handful with many processes.
COMMON = ["postgres", "nginx", "php-fpm", "python3", "java", "node", "httpd", "gunicorn", "bash", "sshd"]
RARE = [f"{stem}{i}" for stem in ("job", "task", "cron", "agent", "svc", "tool") for i in range(50)]
KERNEL = ["kworker/{}:{}", "ksoftirqd/{}", "migration/{}", "cpuhp/{}", "rcuop/{}", "irq/{}-nvme"]


def write(path: Path, text: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)


def stat_line(pid: int, comm: str, state: str, ppid: int, threads: int, start: int, vsize: int,
              rss: int, utime: int, stime: int, kernel: bool) -> str:
    fields = [pid, f"({comm})", state, ppid, pid, pid, 0, -1, 2129984 if kernel else 4194560,
              utime * 7, 0, utime // 50, 0, utime, stime, 0, 0, 20, 0, threads, 0, start, vsize, rss,
              18446744073709551615] + [0] * 27
    return " ".join(str(f) for f in fields) + "\n"


def status(comm: str, state: str, pid: int, ppid: int, uid: int, threads: int, kernel: bool,
           vsize: int, rss: int) -> str:
    lines = [f"Name:\t{comm}", "Umask:\t0022", f"State:\t{state} (sleeping)", f"Tgid:\t{pid}", f"Pid:\t{pid}",
             f"PPid:\t{ppid}", "TracerPid:\t0", f"Uid:\t{uid}\t{uid}\t{uid}\t{uid}", f"Gid:\t{uid}\t{uid}\t{uid}\t{uid}",
             "FDSize:\t64", "Groups:\t"]
    if not kernel:
        lines += [f"VmPeak:\t{vsize // 1024} kB", f"VmSize:\t{vsize // 1024} kB", f"VmRSS:\t{rss * 4} kB",
                  f"VmData:\t{rss * 4} kB", "VmStk:\t132 kB", "VmExe:\t800 kB", "VmSwap:\t0 kB"]
    lines += [f"Threads:\t{threads}", "SigQ:\t0/63704", "Cpus_allowed_list:\t0-1",
              f"voluntary_ctxt_switches:\t{pid * 3}", f"nonvoluntary_ctxt_switches:\t{pid % 97}"]
    return "\n".join(lines) + "\n"


LIMITS = ("Limit                     Soft Limit           Hard Limit           Units     \n"
          "Max cpu time              unlimited            unlimited            seconds   \n"
          "Max open files            1024                 524288               files     \n"
          "Max processes             63704                63704                processes \n")


def generate(root: Path, count: int, seed: int = 7) -> None:
    """A /proc of `count` processes: a third kernel threads, the rest services with 1-8 threads."""
    rng = random.Random(seed)
    proc = root / "proc"
    write(proc / "stat", "cpu  1 2 3 4 5 6 7 0 0 0\nbtime 1700000000\nprocesses 100000\n")
    for i in range(count):
        pid = 100 + i
        kernel = i % 3 == 0
        if kernel:
            comm = rng.choice(KERNEL).format(i % 64, i % 7)
            ppid, cmdline, threads, rss, vsize, fds = 2, b"", 1, 0, 0, 0
        else:
            comm = rng.choice(COMMON) if rng.random() < 0.6 else rng.choice(RARE)
            ppid = 1
            cmdline = f"/usr/bin/{comm}\0--worker\0{i}\0".encode()
            threads = rng.choice([1, 1, 1, 1, 2, 4, 8])
            rss = rng.randint(500, 50000)
            vsize = rss * 4096 * 4
            fds = rng.randint(3, 40)
        start = rng.randint(100, 500000)
        utime, stime = rng.randint(0, 90000), rng.randint(0, 9000)
        d = proc / str(pid)
        write(d / "stat", stat_line(pid, comm, "S", ppid, threads, start, vsize, rss, utime, stime, kernel))
        write(d / "status", status(comm, "S", pid, ppid, 0, threads, kernel, vsize, rss))
        write(d / "io", f"rchar: {pid * 1000}\nwchar: {pid * 100}\nsyscr: 1\nsyscw: 1\n"
                        f"read_bytes: {pid * 4096}\nwrite_bytes: {pid * 512}\ncancelled_write_bytes: 0\n")
        write(d / "cmdline", cmdline)
        write(d / "limits", LIMITS)
        write(d / "wchan", "do_epoll_wait")
        write(d / "cgroup", "0::/system.slice\n")
        write(d / "smaps_rollup", "" if kernel else f"Rss: {rss * 4} kB\nPss: {rss * 3} kB\nSwapPss: 0 kB\n")
        (d / "fd").mkdir(parents=True, exist_ok=True)
        for fd in range(fds):
            write(d / "fd" / str(fd), "")
        for t in range(threads):
            tid = pid if t == 0 else 1_000_000 + pid * 8 + t
            td = d / "task" / str(tid)
            write(td / "stat", stat_line(tid, comm, "S", ppid, threads, start, vsize, rss,
                                         utime // threads, stime // threads, kernel))
            if threads > 1:
                write(td / "status", status(comm, "S", tid, ppid, 0, threads, kernel, vsize, rss))
                write(td / "io", f"read_bytes: {tid}\nwrite_bytes: 0\n")
                write(td / "cmdline", cmdline)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port: int, timeout: float = 60.0) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout) as r:
        return r.read().decode()


def wait_ready(proc: subprocess.Popen, port: int, marker: str) -> None:
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"exporter exited with {proc.returncode} before it was ready")
        try:
            if marker in get(port, timeout=30):
                return
        except OSError:
            pass
        time.sleep(0.2)
    sys.exit("exporter not ready within 120 s")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def series(text: str) -> int:
    return sum(1 for line in text.splitlines() if line.startswith("namedprocess_"))


def sysmon_scan_cpu(text: str) -> float:
    for line in text.splitlines():
        if line.startswith('sysmon_collector_cpu_seconds_total{collector="process"}'):
            return float(line.split()[-1])
    return 0.0


def bench_process_exporter(root: Path, scans: int, config: Path) -> tuple[float, int]:
    port = free_port()
    p = subprocess.Popen([PROCESS_EXPORTER, f"-web.listen-address=127.0.0.1:{port}",
                          f"-procfs={root / 'proc'}", f"-config.path={config}"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(p, port, "namedprocess_scrape_errors")
        before = cpu_seconds(p.pid)
        text = ""
        for _ in range(scans):
            text = get(port)
        return (cpu_seconds(p.pid) - before) / scans, series(text)
    finally:
        p.terminate()
        p.wait()


def bench_sysmon(binary: Path, root: Path, scans: int, interval: float) -> tuple[float, float, int]:
    port = free_port()
    state = tempfile.mkdtemp(prefix="sysmon-bench-state-")
    p = subprocess.Popen([str(binary), f"--web.listen-address=127.0.0.1:{port}", f"--path.procfs={root / 'proc'}",
                          "--collector.disable-defaults", "--collector.process", f"--storage.path={state}",
                          f"--sampler.interval={interval}s", f"--sampler.slow-interval={interval}s",
                          f"--sampler.collector-timeout={interval}s", "--path.kmsg=/dev/null", "--log.level=error"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(p, port, "namedprocess_namegroup_num_procs")
        time.sleep(interval)
        text = get(port)
        before, scan_before = cpu_seconds(p.pid), sysmon_scan_cpu(text)
        for _ in range(scans):
            time.sleep(interval)
            text = get(port)
        return ((cpu_seconds(p.pid) - before) / scans, (sysmon_scan_cpu(text) - scan_before) / scans,
                series(text))
    finally:
        p.terminate()
        p.wait()
        shutil.rmtree(state, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,10000", help="process counts of the generated trees")
    ap.add_argument("--scans", type=int, default=10, help="scans measured per exporter and tree")
    ap.add_argument("--interval", type=float, default=2.0, help="sysmon's (slow) interval in seconds")
    ap.add_argument("--binary", default=str(REPO / "target/release/sysmon-exporter"))
    args = ap.parse_args()
    binary = Path(args.binary)
    if not binary.exists():
        sys.exit(f"{binary} not found: cargo build --release -p sysmon-exporter (or --binary)")
    if not Path(PROCESS_EXPORTER).exists():
        sys.exit(f"{PROCESS_EXPORTER} not found: scripts/install-test-deps.sh")
    base = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path(tempfile.gettempdir())
    work = Path(tempfile.mkdtemp(prefix="process-bench-", dir=base))
    config = work / "groups.yml"
    # One group per command name, process-exporter's usual catch-all.
    config.write_text("process_names:\n  - name: '{{.Comm}}'\n    cmdline: ['.*']\n")
    rows = []
    try:
        for size in (int(s) for s in args.sizes.split(",")):
            root = work / f"host{size}"
            t0 = time.time()
            generate(root, size)
            print(f"generated {size} processes in {time.time() - t0:.1f} s", file=sys.stderr)
            pe_cpu, pe_series = bench_process_exporter(root, args.scans, config)
            sm_cpu, sm_scan, sm_series = bench_sysmon(binary, root, args.scans, args.interval)
            rows.append((size, pe_cpu, pe_series, sm_cpu, sm_scan, sm_series))
            shutil.rmtree(root)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{'processes':>9} | {'process-exporter CPU/scan':>25} | {'series':>6} | {'sysmon CPU/scan':>15} | "
          f"{'(scan only)':>11} | {'series':>6} | {'ratio':>5}")
    for size, pe_cpu, pe_series, sm_cpu, sm_scan, sm_series in rows:
        ratio = pe_cpu / sm_cpu if sm_cpu > 0 else float("inf")
        print(f"{size:>9} | {pe_cpu * 1000:>22.1f} ms | {pe_series:>6} | {sm_cpu * 1000:>12.1f} ms | "
              f"{sm_scan * 1000:>8.1f} ms | {sm_series:>6} | {ratio:>4.1f}x")


if __name__ == "__main__":
    main()
