#!/usr/bin/env python3
"""Benchmark: sysmon-exporter next to node_exporter on this machine, in one run.

Runs both exporters on loopback, on this machine's /proc, /sys and / ("normal host"), then on a
generated large host (gen_large_host.py: 128 CPUs, 2,000 interfaces, 500 mounts, 200 disks), and
prints one table per host plus how the figures grow from one host to the other. See README.md
beside this file for what each figure means and how it is measured.

This is a measurement, not a test: it never fails on a figure. It exits 0 after printing the
table, and non-zero only when it cannot measure (no build, an exporter does not start, no wrk).

Usage: python3 deploy/bench/bench.py [--quick] [--help for the knobs]
"""

from __future__ import annotations

import argparse
import ctypes
import datetime as dt
import http.client
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"

# What Prometheus 2.x sends when it scrapes: OpenMetrics preferred, gzip accepted.
PROMETHEUS_HEADERS = {
    "Accept": "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    "Accept-Encoding": "gzip",
    "User-Agent": "Prometheus/2.45.0",
}

# wrk prints this line from its `done` hook, so the figures come from its own histogram.
WRK_SCRIPT = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%.1f,"p90_us":%.1f,' ..
    '"p99_us":%.1f,"max_us":%.1f,"mean_us":%.1f,"err_connect":%d,"err_read":%d,' ..
    '"err_write":%d,"err_status":%d,"err_timeout":%d}\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50),
    latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""

CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Unmeasurable(Exception):
    """Something needed for the measurement is missing; the run stops with this message."""


# --- processes ------------------------------------------------------------------------------------


def die_with_parent() -> None:
    """In the child before exec: have the kernel SIGKILL it if the benchmark itself dies, even
    by SIGKILL, when no cleanup code can run (prctl PR_SET_PDEATHSIG)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL, 0, 0, 0)


class Processes:
    """Every process the benchmark starts, so that all of them end on exit, error or Ctrl-C."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []

    def start(self, argv: list[str], log_path: Path) -> subprocess.Popen:
        with open(log_path, "wb") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True, preexec_fn=die_with_parent)
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            try:
                os.kill(proc.pid, signal.SIGCONT)  # a paused process handles SIGTERM only once resumed
                proc.terminate()
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
            except ProcessLookupError:
                pass
        if proc in self.procs:
            self.procs.remove(proc)

    def stop_all(self) -> None:
        for proc in list(self.procs):
            try:
                self.stop(proc)
            except Exception as e:  # keep stopping the others
                log(f"could not stop pid {proc.pid}: {e}")


# --- /proc readings of a running exporter ----------------------------------------------------------


@dataclass
class CpuReading:
    ticks: int  # utime + stime of the whole process (dead threads included), in clock ticks
    threads_ns: dict[int, int]  # on-CPU nanoseconds per live thread, from schedstat


def read_cpu(pid: int) -> CpuReading:
    with open(f"/proc/{pid}/stat") as f:
        after_comm = f.read().rsplit(")", 1)[1].split()
    ticks = int(after_comm[11]) + int(after_comm[12])  # fields 14 and 15: utime, stime
    threads = {}
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    threads[int(tid)] = int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                pass
    except OSError:
        pass
    return CpuReading(ticks, threads)


def cpu_seconds(before: CpuReading, after: CpuReading) -> tuple[float, str]:
    """CPU time used between two readings, and how it was measured.

    utime+stime in /proc/<pid>/stat count in 10 ms ticks, too coarse for an idle minute; the
    per-thread schedstat counters are exact but lose threads that ended in between. So: the exact
    sum when no thread has gone and it agrees with the ticks to within their resolution, else the
    ticks.
    """
    tick_s = (after.ticks - before.ticks) / CLK_TCK
    exact = sum(ns - before.threads_ns.get(tid, 0) for tid, ns in after.threads_ns.items()) / 1e9
    gone = set(before.threads_ns) - set(after.threads_ns)
    if after.threads_ns and not gone and abs(exact - tick_s) <= 2.5 / CLK_TCK:
        return exact, "schedstat"
    return tick_s, "ticks"


def status_kb(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


# --- HTTP ---------------------------------------------------------------------------------------


def http_get(port: int, path: str, headers: dict[str, str] | None = None,
             conn: http.client.HTTPConnection | None = None, timeout: float = 120) -> tuple[int, bytes, float]:
    """One GET on loopback; returns status, body and wall seconds (request sent to body read)."""
    own = conn is None
    if conn is None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        start = time.perf_counter()
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, body, time.perf_counter() - start
    finally:
        if own:
            conn.close()


SAMPLE_RE = re.compile(r'^(node_scrape_collector_(?:duration_seconds|success))\{collector="([^"]+)"\} (\S+)$', re.M)


def collector_figures(text: str) -> tuple[dict[str, float], dict[str, bool]]:
    durations, success = {}, {}
    for name, collector, value in SAMPLE_RE.findall(text):
        if name.endswith("duration_seconds"):
            durations[collector] = float(value)
        else:
            success[collector] = float(value) == 1.0
    return durations, success


def count_series(text: str) -> int:
    return sum(1 for line in text.splitlines() if line and not line.startswith("#"))


# --- exporters ------------------------------------------------------------------------------------


@dataclass
class Exporter:
    name: str  # "sysmon" or "node"
    label: str  # as printed
    argv: list[str]
    port: int
    log_path: Path
    proc: subprocess.Popen | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def pause(self) -> None:
        os.kill(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.pid, signal.SIGCONT)

    def check_alive(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""
            raise Unmeasurable(f"{self.label} exited (status {self.proc.returncode if self.proc else '?'}); "
                               f"log {self.log_path}:\n{tail}")


def wait_ready(exp: Exporter, timeout: float = 60) -> None:
    """Until the exporter answers; for sysmon, until its first real sample is published."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        exp.check_alive()
        try:
            if exp.name == "sysmon":
                status, body, _ = http_get(exp.port, "/health", timeout=5)
                if status == 200 and json.loads(body).get("collectors", 0) > 0:
                    return
            else:
                status, _, _ = http_get(exp.port, "/metrics", timeout=30)
                if status == 200:
                    return
        except (OSError, http.client.HTTPException, ValueError):
            pass
        time.sleep(0.1)
    raise Unmeasurable(f"{exp.label} did not become ready within {timeout:.0f} s (log {exp.log_path})")


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def pick_ports(count: int, base: int | None) -> list[int]:
    """Free loopback ports: from `base` upwards when given, else whatever the kernel hands out."""
    ports: list[int] = []
    if base is not None:
        port = base
        while len(ports) < count and port < 65536:
            if port_is_free(port):
                ports.append(port)
            port += 1
        return ports
    while len(ports) < count:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            if s.getsockname()[1] not in ports:
                ports.append(s.getsockname()[1])
    return ports


def flags_of(binary: str) -> str:
    out = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=30)
    return out.stdout + out.stderr


def node_collectors(help_text: str) -> set[str]:
    return set(re.findall(r"--collector\.([a-z0-9_]+)\s+Enable the \S+ collector", help_text))


# --- measurements ---------------------------------------------------------------------------------


def sysmon_cycle(exp: Exporter, samples: int, interval: float) -> dict:
    """Reads `sample_duration_seconds` from /health for `samples` distinct samples published after
    the call starts; per-collector durations come from /metrics of each sample."""
    seen_before = json.loads(http_get(exp.port, "/health")[1])["last_sample"]
    seen = {seen_before}
    cycles: list[float] = []
    per_collector: dict[str, list[float]] = {}
    failed: set[str] = set()
    failed_samples = 0
    largest = (0, 0)  # (body bytes, series) of the largest sample seen
    deadline = time.monotonic() + (samples + 3) * interval * 3 + 30
    while len(cycles) < samples and time.monotonic() < deadline:
        health = json.loads(http_get(exp.port, "/health")[1])
        if health["last_sample"] not in seen:
            seen.add(health["last_sample"])
            cycles.append(health["sample_duration_seconds"])
            body = http_get(exp.port, "/metrics")[1]
            text = body.decode(errors="replace")
            largest = max(largest, (len(body), count_series(text)))
            durations, success = collector_figures(text)
            for name, d in durations.items():
                per_collector.setdefault(name, []).append(d)
            failed |= {name for name, ok in success.items() if not ok}
            failed_samples += any(not ok for ok in success.values())
        time.sleep(min(0.1, interval / 10))
    return {
        "n": len(cycles),
        "median_s": statistics.median(cycles) if cycles else None,
        "min_s": min(cycles, default=None),
        "max_s": max(cycles, default=None),
        "collectors_sum_median_s": sum(statistics.median(v) for v in per_collector.values()) if per_collector else None,
        "per_collector_median_s": dict(sorted(((k, statistics.median(v)) for k, v in per_collector.items()),
                                              key=lambda kv: -kv[1])),
        "failed": sorted(failed),
        "failed_samples": failed_samples,
        "largest_body": largest,
    }


def node_cycle(exp: Exporter, samples: int, gap: float) -> dict:
    """node_exporter collects at scrape time: one full plain scrape at one client is one cycle."""
    walls: list[float] = []
    sums: list[float] = []
    per_collector: dict[str, list[float]] = {}
    failed: set[str] = set()
    failed_samples = 0
    largest = (0, 0)  # (body bytes, series) of the largest scrape
    conn = http.client.HTTPConnection("127.0.0.1", exp.port, timeout=120)
    try:
        for _ in range(samples):
            status, body, wall = http_get(exp.port, "/metrics", conn=conn)
            if status != 200:
                raise Unmeasurable(f"{exp.label} answered {status} to /metrics")
            text = body.decode(errors="replace")
            largest = max(largest, (len(body), count_series(text)))
            durations, success = collector_figures(text)
            walls.append(wall)
            sums.append(sum(durations.values()))
            for name, d in durations.items():
                per_collector.setdefault(name, []).append(d)
            failed |= {name for name, ok in success.items() if not ok}
            failed_samples += any(not ok for ok in success.values())
            time.sleep(gap)
    finally:
        conn.close()
    return {
        "n": len(walls),
        "median_s": statistics.median(walls),
        "min_s": min(walls),
        "max_s": max(walls),
        "collectors_sum_median_s": statistics.median(sums),
        "per_collector_median_s": dict(sorted(((k, statistics.median(v)) for k, v in per_collector.items()),
                                              key=lambda kv: -kv[1])),
        "failed": sorted(failed),
        "failed_samples": failed_samples,
        "largest_body": largest,
    }


def run_wrk(wrk: str, port: int, clients: int, seconds: float, gzip: bool, script: Path, log_path: Path) -> dict:
    threads = min(clients, os.cpu_count() or 1)
    argv = [wrk, "--latency", "-t", str(threads), "-c", str(clients), "-d", f"{max(1, round(seconds))}s",
            "--timeout", "120s", "-s", str(script)]
    if gzip:
        argv += ["-H", "Accept-Encoding: gzip"]
    argv.append(f"http://127.0.0.1:{port}/metrics")
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 180)
    with open(log_path, "a") as f:
        f.write(f"$ {shlex.join(argv)}\n{out.stdout}{out.stderr}\n")
    line = next((l for l in out.stdout.splitlines() if l.startswith("WRK_JSON ")), None)
    if out.returncode != 0 or line is None:
        raise Unmeasurable(f"wrk failed (status {out.returncode}):\n{out.stdout}{out.stderr}")
    result = json.loads(line[len("WRK_JSON "):])
    result["command"] = shlex.join(argv)
    return result


def load_point(exp: Exporter, wrk: str, clients: int, seconds: float, gzip: bool, script: Path,
               log_path: Path) -> dict:
    exp.check_alive()
    before = read_cpu(exp.pid)
    r = run_wrk(wrk, exp.port, clients, seconds, gzip, script, log_path)
    after = read_cpu(exp.pid)
    cpu, method = cpu_seconds(before, after)
    n = r["requests"]
    errors = sum(r[k] for k in ("err_connect", "err_read", "err_write", "err_status", "err_timeout"))
    return {
        "clients": clients,
        "gzip": gzip,
        "seconds": r["duration_us"] / 1e6,
        "requests": n,
        "errors": errors,
        "rps": n / (r["duration_us"] / 1e6) if r["duration_us"] else 0.0,
        "p50_s": r["p50_us"] / 1e6 if n else None,
        "p99_s": r["p99_us"] / 1e6 if n else None,
        "mean_body_bytes": r["bytes"] / n if n else None,
        "cpu_s": cpu,
        "cpu_method": method,
        "cpu_per_1000_s": cpu / n * 1000 if n else None,
        "vm_hwm_kb_after": status_kb(exp.pid, "VmHWM"),
        "vm_rss_kb_after": status_kb(exp.pid, "VmRSS"),
        "command": r["command"],
    }


def idle_phase(exps: list[Exporter], seconds: float, every: float) -> dict[str, dict]:
    """Both exporters run untouched except for a simulated Prometheus scrape every `every` s."""
    scrapes = {e.name: 0 for e in exps}
    count = max(1, int(seconds // every) + (1 if seconds % every else 0))  # at 0, every, 2*every, ...

    def scraper(exp: Exporter, start: float) -> None:
        for k in range(count):
            time.sleep(max(0.0, start + k * every - time.monotonic()))
            try:
                http_get(exp.port, "/metrics", PROMETHEUS_HEADERS)
                scrapes[exp.name] += 1
            except (OSError, http.client.HTTPException):
                pass

    before = {e.name: read_cpu(e.pid) for e in exps}
    started = time.monotonic()
    workers = [threading.Thread(target=scraper, args=(e, started), daemon=True) for e in exps]
    for w in workers:
        w.start()
    time.sleep(max(0.0, started + seconds - time.monotonic()))
    for w in workers:
        w.join(timeout=120)
    after = {e.name: read_cpu(e.pid) for e in exps}
    elapsed = time.monotonic() - started
    out = {}
    for e in exps:
        cpu, method = cpu_seconds(before[e.name], after[e.name])
        out[e.name] = {"seconds": elapsed, "scrapes": scrapes[e.name], "cpu_s": cpu, "cpu_method": method,
                       "cpu_s_per_min": cpu / elapsed * 60, "cpu_percent": cpu / elapsed * 100}
    return out


# --- one host ----------------------------------------------------------------------------------------


@dataclass
class Settings:
    samples: int
    load_seconds: float
    load_cap_seconds: float
    idle_seconds: float
    idle_every: float
    gzip: bool
    interval: float  # sysmon's sampling interval (its default), for pacing the cycle reads


@dataclass
class HostResult:
    label: str
    description: str
    exporters: dict[str, dict] = field(default_factory=dict)


def run_host(label: str, description: str, tree: Path | None, procs: Processes, sysmon_bin: str, wrk: str,
             settings: Settings, workdir: Path, port_base: int | None, node_help: str,
             sysmon_help: str) -> HostResult:
    result = HostResult(label, description)
    ports = pick_ports(2, port_base)
    sysmon_argv = [sysmon_bin, f"--web.listen-address=127.0.0.1:{ports[0]}", "--log.level=warn"]
    node_argv = [NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{ports[1]}", "--log.level=warn"]
    if tree is not None:
        roots = [f"--path.procfs={tree / 'proc'}", f"--path.sysfs={tree / 'sys'}", f"--path.rootfs={tree / 'rootfs'}"]
        # Netlink (both exporters' default for interface counters) answers for the live kernel,
        # not for a generated tree: both read the tree's /proc/net/dev there.
        sysmon_argv += roots + ["--no-collector.netdev.netlink"]
        node_argv += roots + ["--no-collector.netdev.netlink", f"--path.udev.data={tree / 'rootfs/run/udev/data'}"]
        if "--path.udev.data" in sysmon_help:
            sysmon_argv.append(f"--path.udev.data={tree / 'rootfs/run/udev/data'}")

    sysmon = Exporter("sysmon", "sysmon-exporter", sysmon_argv, ports[0], workdir / f"{label}-sysmon.log")
    log(f"[{label}] starting sysmon-exporter on 127.0.0.1:{ports[0]}")
    sysmon.proc = procs.start(sysmon.argv, sysmon.log_path)
    wait_ready(sysmon)

    # Both exporters run every default collector of their own (the drop-in comparison): what a
    # user gets by swapping one for the other.
    _, body, _ = http_get(sysmon.port, "/metrics")
    enabled = sorted(collector_figures(body.decode(errors="replace"))[1])
    known = node_collectors(node_help)
    node = Exporter("node", "node_exporter", node_argv, ports[1], workdir / f"{label}-node.log")
    log(f"[{label}] starting node_exporter on 127.0.0.1:{ports[1]} with its default collectors")
    node.proc = procs.start(node.argv, node.log_path)
    wait_ready(node)

    exps = [sysmon, node]
    for e in exps:
        body = http_get(e.port, "/metrics")[1]
        text = body.decode(errors="replace")
        result.exporters[e.name] = {
            "label": e.label,
            "command": shlex.join(e.argv),
            "collectors": enabled if e.name == "sysmon" else
            sorted(collector_figures(text)[1]),
            "series": count_series(text),
            "body_bytes": len(body),
            "load": [],
        }
    result.exporters["sysmon"]["sysmon_only_collectors"] = [c for c in enabled if c not in known]

    script = workdir / "wrk-report.lua"
    script.write_text(WRK_SCRIPT)
    wrk_log = workdir / f"{label}-wrk.log"
    for e in exps:
        other = node if e is sysmon else sysmon
        # The exporter not being measured is paused, so its background work takes no CPU from this one.
        other.pause()
        try:
            log(f"[{label}] {e.label}: collection cycle, {settings.samples} samples")
            if e.name == "sysmon":
                cycle = sysmon_cycle(e, settings.samples, settings.interval)
                one_scrape = http_get(e.port, "/metrics")[2]
            else:
                cycle = node_cycle(e, settings.samples, gap=0.5)
                one_scrape = cycle["median_s"]
            result.exporters[e.name]["cycle"] = cycle
            # The size of a complete sample: the largest seen (a collector that timed out in the
            # first one would otherwise make the body look smaller than it is).
            if cycle["largest_body"][0] > result.exporters[e.name]["body_bytes"]:
                result.exporters[e.name]["body_bytes"], result.exporters[e.name]["series"] = cycle["largest_body"]
            points = [(1, False), (16, False)] + ([(1, True), (16, True)] if settings.gzip else [])
            for clients, gz in points:
                # A point whose single scrape is slow runs longer, so that enough requests complete.
                want = 20 * one_scrape * max(1.0, clients / 8)
                seconds = min(settings.load_cap_seconds, max(settings.load_seconds, want))
                log(f"[{label}] {e.label}: wrk {clients} client(s){' gzip' if gz else ''} for {seconds:.0f} s")
                result.exporters[e.name]["load"].append(
                    load_point(e, wrk, clients, seconds, gz, script, wrk_log))
            result.exporters[e.name]["vm_hwm_kb"] = status_kb(e.pid, "VmHWM")
            result.exporters[e.name]["vm_rss_kb"] = status_kb(e.pid, "VmRSS")
            result.exporters[e.name]["rss_anon_kb"] = status_kb(e.pid, "RssAnon")
        finally:
            other.resume()

    if settings.idle_seconds > 0:
        log(f"[{label}] idle: both scraped every {settings.idle_every:.0f} s for {settings.idle_seconds:.0f} s")
        for name, figures in idle_phase(exps, settings.idle_seconds, settings.idle_every).items():
            result.exporters[name]["idle"] = figures
    for e in exps:
        e.check_alive()
        procs.stop(e.proc)
    return result


# --- setup -------------------------------------------------------------------------------------------


def ensure_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk:
        return wrk
    log("wrk not found: apt-get install -y wrk")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = subprocess.run(["apt-get", "install", "-y", "wrk"], capture_output=True, text=True, env=env)
    if install.returncode != 0:
        subprocess.run(["apt-get", "update"], capture_output=True, env=env)
        install = subprocess.run(["apt-get", "install", "-y", "wrk"], capture_output=True, text=True, env=env)
    wrk = shutil.which("wrk")
    if not wrk:
        raise Unmeasurable(f"wrk is needed and could not be installed:\n{install.stdout[-1500:]}{install.stderr[-1500:]}")
    return wrk


def run_group(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    """Runs a command in its own process group and, if the run is interrupted, ends the whole
    group (cargo's rustc children included), not just the command."""
    proc = subprocess.Popen(argv, start_new_session=True, **kwargs)
    try:
        stdout, stderr = proc.communicate()
    except BaseException:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
        raise
    return subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr)


def build_sysmon() -> str:
    log("cargo build --release -p sysmon-exporter")
    proc = run_group(
        ["cargo", "build", "--release", "-p", "sysmon-exporter", "--message-format=json-render-diagnostics"],
        cwd=REPO, stdout=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise Unmeasurable("cargo build --release -p sysmon-exporter failed (see the compiler output above)")
    for line in proc.stdout.splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if msg.get("reason") == "compiler-artifact" and msg.get("executable") and \
                msg.get("target", {}).get("name") == "sysmon-exporter":
            return msg["executable"]
    raise Unmeasurable("cargo build did not report a sysmon-exporter executable")


def machine() -> dict:
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            model = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), model)
    except OSError:
        pass
    return {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": model,
        "kernel": platform.release(),
        "mem_total_gib": round(status_meminfo("MemTotal") / 1024 / 1024, 1),
    }


def status_meminfo(key: str) -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def version_of(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        return (out.stdout + out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "unknown"


# --- report ------------------------------------------------------------------------------------------


def ms(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    if seconds < 0.001:
        return f"{seconds * 1000:.3f} ms"
    if seconds < 1:
        return f"{seconds * 1000:.2f} ms"
    return f"{seconds:.2f} s"


def ratio(a: float | None, b: float | None) -> str:
    """How many times node_exporter's figure b is sysmon's a."""
    if not a or not b:
        return ""
    r = b / a
    return f"{r:.0f}x" if r >= 10 else f"{r:.1f}x"


def verdict(ok: bool | None) -> str:
    return "" if ok is None else ("yes" if ok else "NO")


def point(exp: dict, clients: int, gzip: bool = False) -> dict | None:
    return next((p for p in exp["load"] if p["clients"] == clients and p["gzip"] == gzip), None)


def lat(p: dict | None) -> str:
    if not p:
        return "n/a"
    if not p["requests"]:
        return f"none done in {p['seconds']:.0f} s"
    return f"{ms(p['p50_s'])} / {ms(p['p99_s'])}"


def host_table(h: HostResult) -> list[str]:
    s, n = h.exporters["sysmon"], h.exporters["node"]
    rows: list[tuple[str, str, str, str, str]] = []  # figure, sysmon, node, node/sysmon, target met?

    rows.append(("series / body (plain text, largest)", f"{s['series']} / {s['body_bytes'] / 1024:.0f} KiB",
                 f"{n['series']} / {n['body_bytes'] / 1024:.0f} KiB", "", ""))
    sc, nc = s["cycle"], n["cycle"]
    rows.append((f"collection cycle, median [a]", f"{ms(sc['median_s'])} (n={sc['n']})",
                 f"{ms(nc['median_s'])} (n={nc['n']})", ratio(sc["median_s"], nc["median_s"]),
                 verdict(sc["median_s"] < 0.001) + " (<1 ms)" if h.label == "normal" and sc["median_s"] else ""))
    rows.append(("  sum of per-collector durations", ms(sc["collectors_sum_median_s"]),
                 ms(nc["collectors_sum_median_s"]), "", ""))
    rows.append(("  slowest collector", slowest(sc), slowest(nc), "", ""))
    for clients in (1, 16):
        sp, np_ = point(s, clients), point(n, clients)
        target = ""
        if clients == 16 and sp and sp["p99_s"] is not None:
            target = verdict(sp["p99_s"] < 0.001) + " (p99<1 ms)"
        rows.append((f"/metrics p50 / p99, {clients:>2} client{'s' if clients > 1 else ''}", lat(sp), lat(np_),
                     ratio(sp and sp["p99_s"], np_ and np_["p99_s"]), target))
        rows.append((f"  scrapes/s ({clients} cl., n = requests)",
                     f"{sp['rps']:.0f} (n={sp['requests']})" if sp else "n/a",
                     f"{np_['rps']:.1f} (n={np_['requests']})" if np_ else "n/a",
                     ratio(np_ and np_["rps"], sp and sp["rps"]), ""))
    for clients in (1, 16):
        sp, np_ = point(s, clients, True), point(n, clients, True)
        if sp or np_:
            rows.append((f"gzip p50 / p99, {clients:>2} client{'s' if clients > 1 else ''}", lat(sp), lat(np_),
                         ratio(sp and sp["p99_s"], np_ and np_["p99_s"]), ""))
    for clients in (1, 16):
        sp, np_ = point(s, clients), point(n, clients)
        if sp and np_:
            a, b = sp["cpu_per_1000_s"], np_["cpu_per_1000_s"]
            target = verdict(a <= b / 10) + " (<=1/10)" if clients == 1 and a is not None and b else ""
            rows.append((f"CPU s per 1000 scrapes [b] ({clients} cl.)",
                         f"{a:.3f} s" if a is not None else "n/a", f"{b:.3f} s" if b is not None else "n/a",
                         ratio(a, b), target))
    a, b = s.get("vm_hwm_kb"), n.get("vm_hwm_kb")
    rows.append(("peak RSS (VmHWM) after load", f"{a / 1024:.1f} MiB" if a else "n/a",
                 f"{b / 1024:.1f} MiB" if b else "n/a", ratio(a, b),
                 verdict(a <= b / 3) + " (<=1/3)" if a and b else ""))
    a, b = s.get("rss_anon_kb"), n.get("rss_anon_kb")
    rows.append(("  anonymous part of RSS then [d]", f"{a / 1024:.1f} MiB" if a else "n/a",
                 f"{b / 1024:.1f} MiB" if b else "n/a", ratio(a, b), ""))
    si, ni = s.get("idle"), n.get("idle")
    if si and ni:
        rows.append((f"idle CPU [c], {si['seconds']:.0f} s", f"{si['cpu_s'] * 1000:.0f} ms ({si['cpu_percent']:.2f}%)",
                     f"{ni['cpu_s'] * 1000:.0f} ms ({ni['cpu_percent']:.2f}%)", ratio(si["cpu_s"], ni["cpu_s"]), ""))

    head = ("figure", "sysmon-exporter", "node_exporter", "sysmon better by", "target met (sysmon)")
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(5)]
    fmt = "  ".join("{:<%d}" % w for w in widths)
    lines = [f"== {h.label} host: {h.description} ==", fmt.format(*head), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*r).rstrip() for r in rows]
    for e in (s, n):
        c = e["cycle"]
        if c["failed"]:
            lines.append(f"   ! {e['label']}: a collector failed in {c['failed_samples']} of {c['n']} cycles "
                         f"({', '.join(c['failed'])}; see its log)")
        # wrk's byte count includes partly read responses of requests still in flight at the end,
        # so only points with many requests say something about the body size.
        varied = [p for p in e["load"] if not p["gzip"] and p["requests"] >= 100
                  and p["mean_body_bytes"] < 0.9 * e["body_bytes"]]
        with_errors = [p for p in e["load"] if p["errors"]]
        for p in with_errors:
            lines.append(f"   ! {e['label']}: {p['errors']} failed requests at {p['clients']} client(s)"
                         f"{' gzip' if p['gzip'] else ''} (wrk: connect/read/write errors, non-2xx or timeouts)")
        if varied:
            sizes = ", ".join(f"{p['mean_body_bytes'] / 1024:.0f}" for p in varied)
            lines.append(f"   ! {e['label']}: mean body under load {sizes} KiB vs {e['body_bytes'] / 1024:.0f} KiB "
                         "at the first scrape: collectors dropped out of some samples")
    if s.get("sysmon_only_collectors"):
        lines.append(f"   sysmon-only collectors (not run by node_exporter): {', '.join(s['sysmon_only_collectors'])}")
    return lines


def slowest(cycle: dict) -> str:
    """The collector with the longest median duration."""
    if not cycle["per_collector_median_s"]:
        return "n/a"
    name, d = next(iter(cycle["per_collector_median_s"].items()))
    return f"{name} {ms(d)}"


def growth_table(normal: HostResult, large: HostResult) -> list[str]:
    rows = []

    def add(name: str, get) -> None:
        vals = []
        for exp in ("sysmon", "node"):
            a, b = get(normal.exporters[exp]), get(large.exporters[exp])
            vals.append((a, b))
        cells = []
        for a, b in vals:
            cells += [fmt_val(name, a), fmt_val(name, b), f"{b / a:.1f}x" if a and b else ""]
        rows.append((name, *cells))

    add("series", lambda e: e["series"])
    add("cycle (median)", lambda e: e["cycle"]["median_s"])
    add("p99, 1 client", lambda e: (point(e, 1) or {}).get("p99_s"))
    add("p99, 16 clients", lambda e: (point(e, 16) or {}).get("p99_s"))
    add("CPU s / 1000 scrapes (1 cl.)", lambda e: (point(e, 1) or {}).get("cpu_per_1000_s"))
    add("peak RSS MiB", lambda e: e.get("vm_hwm_kb", 0) / 1024 or None)
    head = ("figure", "sysmon normal", "sysmon large", "growth", "node normal", "node large", "growth")
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(7)]
    fmt = "  ".join("{:<%d}" % w for w in widths)
    return ["== normal -> large host ==", fmt.format(*head), fmt.format(*("-" * w for w in widths))] + \
        [fmt.format(*r).rstrip() for r in rows]


def fmt_val(name: str, v) -> str:
    if v is None:
        return "n/a"
    if name in ("series",):
        return str(v)
    if "MiB" in name:
        return f"{v:.1f}"
    if "CPU" in name:
        return f"{v:.3f} s"
    return ms(v)


def report(info: dict, hosts: list[HostResult], settings: Settings, argv: list[str]) -> str:
    lines = [
        "sysmon-exporter vs node_exporter, same machine, same run, loopback only",
        f"date {info['date']}; {info['nproc']} CPUs ({info['cpu_model']}); kernel {info['kernel']}; "
        f"{info['mem_total_gib']} GiB RAM",
        f"sysmon: {info['sysmon_version']}; node_exporter: {info['node_version']}; load tool: {info['wrk_version']}",
        f"load average at start {info['load_start']}, at end {info['load_end']}",
        f"command: {shlex.join(argv)}",
        "",
    ]
    for h in hosts:
        lines += host_table(h) + [""]
    if len(hosts) == 2:
        lines += growth_table(hosts[0], hosts[1]) + [""]
    sysmon_interval = settings.interval
    lines += [
        f"[a] sysmon: median of sysmon_exporter_sample_duration_seconds (GET /health sample_duration_seconds)",
        f"    over distinct samples at its default {sysmon_interval:.0f} s interval: all collectors, run",
        "    concurrently, encoded, published; no scraper involved. node_exporter collects at scrape time:",
        "    wall time of one full plain-text GET /metrics at 1 client (0.5 s apart), measured by the client.",
        "    'sum of per-collector durations': node_scrape_collector_duration_seconds added up.",
        "[b] utime+stime of the exporter during the wrk run / requests served x 1000. sysmon serves the",
        "    snapshot of its last sample (its sampling during the run is included); node_exporter collects",
        "    on every scrape. That difference is the design point, not a tuning artefact. At 16 clients the",
        "    work of requests still in flight when wrk stops is counted but they are not: slow scrapes",
        "    read high there, so the 1-client row is the reference.",
        f"[c] both exporters at their defaults, each scraped by a simulated Prometheus (OpenMetrics Accept,",
        f"    gzip) every {settings.idle_every:.0f} s; sysmon also samples every {sysmon_interval:.0f} s on its own.",
        "[d] RssAnon: heap and stacks; the rest of RSS is file-backed pages, mostly the exporter's own",
        "    code (shared with the page cache, counted in full by VmHWM).",
        "Latency: wrk --latency, keep-alive connections, GET /metrics without Accept-Encoding (plain text,",
        "like curl) unless marked gzip; wrk shares the 2 cores with the exporter. While one exporter is",
        "measured the other is paused (SIGSTOP). Targets are printed, never enforced.",
    ]
    return "\n".join(lines)


# --- main ----------------------------------------------------------------------------------------------


def interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def run_guarded(a: argparse.Namespace, prefix: str, body) -> int:
    """Runs `body(procs, workdir)` with every started process stopped and the work directory
    removed (unless --keep) however it ends: 1 when something cannot be measured, 130 on Ctrl-C or
    SIGTERM."""
    import idle
    signal.signal(signal.SIGTERM, interrupt)
    procs = Processes()
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        if not os.access(NODE_EXPORTER, os.X_OK):
            raise Unmeasurable(f"{NODE_EXPORTER} is missing: apt-get install -y prometheus-node-exporter")
        return body(procs, workdir)
    except (Unmeasurable, idle.bench.Unmeasurable) as e:
        log(f"cannot measure: {e}")
        return 1
    except KeyboardInterrupt:
        log("interrupted; stopping the exporters")
        return 130
    finally:
        procs.stop_all()
        if a.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def idle_main(a: argparse.Namespace) -> int:
    import idle

    def body(procs: Processes, workdir: Path) -> int:
        sysmon_bin = a.sysmon_bin or build_sysmon()
        info = machine()
        info.update(sysmon_version=version_of([sysmon_bin, "--version"]),
                    node_version=version_of([NODE_EXPORTER, "--version"]), load_start=loadavg())
        r = idle.run(sysmon_bin, procs, workdir, a.idle_seconds or 300, a.idle_every or 15,
                     a.attribution_seconds, a.port_base)
        info["load_end"] = loadavg()
        lines = [f"# sysmon-exporter vs node_exporter, idle ({info['date']})", "",
                 f"{info['nproc']} CPUs ({info['cpu_model']}), kernel {info['kernel']}; "
                 f"{info['sysmon_version']}; {info['node_version']}",
                 f"load average at start {info['load_start']}, at end {info['load_end']}",
                 f"command: {shlex.join([sys.argv[0].replace(str(REPO) + '/', '')] + sys.argv[1:])}", ""]
        print("\n".join(lines + idle.report(r)))
        if a.json:
            a.json.write_text(json.dumps({"machine": info, "idle": r}, indent=2))
        return 0

    return run_guarded(a, "sysmon-bench-idle-", body)


def main() -> int:
    p = argparse.ArgumentParser(description="Benchmark sysmon-exporter against node_exporter on this machine.")
    p.add_argument("--quick", action="store_true", help="short run (~2 min after the build): fewer samples, 3 s load points, 20 s idle")
    p.add_argument("--samples", type=int, help="collection cycles to take the median of (default 15, quick 5)")
    p.add_argument("--load-seconds", type=float, help="wrk duration per point (default 10, quick 3)")
    p.add_argument("--idle-seconds", type=float, help="idle window, 0 to skip (default 60, quick 20)")
    p.add_argument("--idle-every", type=float, help="simulated Prometheus scrape interval during the idle window (default 15, quick 10)")
    p.add_argument("--no-gzip", action="store_true", help="skip the gzip latency points")
    p.add_argument("--no-large", action="store_true", help="skip the generated large host")
    p.add_argument("--sysmon-bin", help="use this sysmon-exporter binary instead of building one")
    p.add_argument("--port-base", type=int, help="take free ports from here upwards (default: any free port)")
    p.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs, large-host tree)")
    p.add_argument("--idle", action="store_true",
                   help="idle mode instead (idle.py): both exporters at their defaults, scraped every --idle-every s "
                        "(15) for --idle-seconds (300), then one instance per collector for --attribution-seconds")
    p.add_argument("--attribution-seconds", type=float, default=120,
                   help="idle mode: how long the one-collector instances run (default 120; 0 skips them)")
    a = p.parse_args()
    if a.idle:
        return idle_main(a)
    settings = Settings(
        samples=a.samples or (5 if a.quick else 15),
        load_seconds=a.load_seconds or (3 if a.quick else 10),
        load_cap_seconds=4.5 * (a.load_seconds or (3 if a.quick else 10)),
        idle_seconds=a.idle_seconds if a.idle_seconds is not None else (20 if a.quick else 60),
        idle_every=a.idle_every or (10 if a.quick else 15),
        gzip=not a.no_gzip,
        interval=2.0,
    )

    # SIGTERM ends the run like Ctrl-C does, through run_guarded's cleanup.
    def body(procs: Processes, workdir: Path) -> int:
        wrk = ensure_wrk()
        sysmon_bin = a.sysmon_bin or build_sysmon()
        info = machine()
        info.update(sysmon_version=version_of([sysmon_bin, "--version"]),
                    node_version=version_of([NODE_EXPORTER, "--version"]),
                    wrk_version=version_of([wrk, "--version"]).split(" [")[0],
                    load_start=loadavg())
        sysmon_help, node_help = flags_of(sysmon_bin), flags_of(NODE_EXPORTER)
        log(f"work directory {workdir}")

        hosts = [run_host("normal", f"this machine's /proc, /sys and / ({info['nproc']} CPUs)", None, procs,
                          sysmon_bin, wrk, settings, workdir, a.port_base, node_help, sysmon_help)]
        if not a.no_large:
            tree = workdir / "large-host"
            log("generating the large host (128 CPUs, 2000 interfaces, 500 mounts, 200 disks)")
            if run_group([sys.executable, str(HERE / "gen_large_host.py"), str(tree)]).returncode != 0:
                raise Unmeasurable("gen_large_host.py failed (see its output above)")
            large_settings = Settings(**{**settings.__dict__, "idle_seconds": 0, "gzip": False})
            hosts.append(run_host("large", "generated: 128 CPUs, 2000 interfaces, 500 mounts, 200 disks", tree,
                                  procs, sysmon_bin, wrk, large_settings, workdir, a.port_base, node_help,
                                  sysmon_help))
        info["load_end"] = loadavg()
        text = report(info, hosts, settings, [sys.argv[0].replace(str(REPO) + "/", "")] + sys.argv[1:])
        print(text)
        if a.json:
            a.json.write_text(json.dumps({"machine": info, "hosts": [h.__dict__ for h in hosts]}, indent=2))
        return 0

    return run_guarded(a, "sysmon-bench-", body)


if __name__ == "__main__":
    sys.exit(main())
