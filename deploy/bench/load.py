#!/usr/bin/env python3
"""Load test: 256 concurrent clients on /metrics and on the anomaly feed, on loopback.

Starts the release build of sysmon-exporter and Debian's node_exporter on the same fixture machine
(exporter/tests/fixtures/server by default) and drives each with `wrk` (installed from Debian's
package when missing). Three phases, each `--duration` long:

  1. sysmon-exporter  /metrics                    256 connections
  2. node_exporter    /metrics                    256 connections (it has no feed)
  3. sysmon-exporter  /metrics + /api/v1/anomalies 256 connections each, at the same time

For each it prints requests per second, latency p50/p90/p99/max, failed requests (non-2xx responses
and socket errors), the server's resident memory (sampled every second: before, max, after) and the
CPU time it used. Bounded: fixed connection counts, fixed durations, loopback only. A measurement,
not a test: it asserts nothing except that sysmon-exporter failed no request (exit status 1 if it did).

    python3 deploy/bench/load.py            # 60 s per phase
    python3 deploy/bench/load.py --quick    # 10 s per phase, for development
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SYSMON = os.path.join(ROOT, "target", "release", "sysmon-exporter")
NODE_EXPORTER_CANDIDATES = ["/usr/bin/prometheus-node-exporter", "/usr/bin/node_exporter"]
# node_exporter's collectors that sysmon-exporter also has (sysmon's default set, less usb).
NODE_COLLECTORS = [
    "cpu", "diskstats", "filesystem", "hwmon", "loadavg", "meminfo", "netclass", "netdev",
    "os", "pressure", "stat", "thermal_zone", "time", "uname",
]
SYSMON_LIMITS = ["--web.max-requests=0", "--web.max-connections=1024"]
NODE_LIMITS = ["--web.max-requests=0"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_wrk():
    if shutil.which("wrk"):
        return
    print("wrk is missing: installing Debian's package", file=sys.stderr)
    subprocess.run(["apt-get", "install", "-y", "wrk"], check=True)


def node_exporter_binary():
    for c in NODE_EXPORTER_CANDIDATES:
        if os.path.exists(c):
            return c
    sys.exit("node_exporter is not installed: apt-get install prometheus-node-exporter")


def wait_ready(url, proc, what):
    deadline = time.time() + 30
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{what} exited with status {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    sys.exit(f"{what} not ready within 30 s")


def seed_journal(directory, n=100):
    """A journal of `n` resolved events from the last day, so the feed answers with real content."""
    os.makedirs(directory, mode=0o700, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    with open(os.path.join(directory, "anomalies.jsonl"), "w") as f:
        for i in range(1, n + 1):
            start = now - datetime.timedelta(minutes=10 * (n - i) + 10)
            event = {
                "id": i, "rule": "cpu_high", "category": "cpu", "severity": "critical",
                "subject": "host", "message": f"CPU busy 97.5% above 90% (load test event {i})",
                "value": 97.5, "threshold": 90.0,
                "started_at": start.isoformat().replace("+00:00", "Z"), "resolved_at": None,
                "metrics": {"cpu_busy_percent": 97.5},
            }
            f.write(json.dumps({"type": "started", "event": event}) + "\n")
            event["resolved_at"] = (start + datetime.timedelta(minutes=2)).isoformat().replace("+00:00", "Z")
            f.write(json.dumps({"type": "resolved", "event": event}) + "\n")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class MemorySampler(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.samples, self.stop = pid, [], threading.Event()

    def run(self):
        while not self.stop.is_set():
            self.samples.append(rss_kib(self.pid))
            self.stop.wait(1.0)


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def to_ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    return float(m.group(1)) * UNITS[m.group(2)]


def parse_wrk(out):
    r = {}
    r["requests"] = int(re.search(r"(\d+) requests in", out).group(1))
    r["rps"] = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = re.search(r"Latency\s+(\S+)\s+(\S+)\s+(\S+)", out)
    r["max_ms"] = to_ms(lat.group(3))
    for p in ("50", "90", "99"):
        r[f"p{p}_ms"] = to_ms(re.search(rf"\s{p}%\s+(\S+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    r["non2xx"] = int(non2xx.group(1)) if non2xx else 0
    r["socket_errors"] = sum(int(x) for x in sock.groups()) if sock else 0
    r["failed"] = r["non2xx"] + r["socket_errors"]
    return r


def wrk_cmd(url, duration, connections, threads):
    return ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "10s",
            "--latency", url]


def run_phase(name, proc, urls, duration, connections, threads):
    """Runs one wrk per URL at the same time against `proc`; returns per-URL results and memory."""
    time.sleep(2)  # settle after start
    rss_before = rss_kib(proc.pid)
    cpu_before = cpu_seconds(proc.pid)
    sampler = MemorySampler(proc.pid)
    sampler.start()
    cmds = [wrk_cmd(u, duration, connections, threads) for u in urls]
    runs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for c in cmds]
    outs = [r.communicate(timeout=duration + 60)[0] for r in runs]
    sampler.stop.set()
    sampler.join()
    time.sleep(1)
    rss_after = rss_kib(proc.pid)
    cpu_used = cpu_seconds(proc.pid) - cpu_before
    if proc.poll() is not None:
        sys.exit(f"{name}: the server exited during the load ({proc.returncode})")
    results = []
    for url, cmd, out in zip(urls, cmds, outs):
        try:
            res = parse_wrk(out)
        except (AttributeError, ValueError):
            sys.exit(f"{name}: cannot parse wrk's output for {url}:\n{out}")
        res["url"], res["command"] = url, " ".join(cmd)
        results.append(res)
    half = sampler.samples[len(sampler.samples) // 2:] or [rss_after]
    mem = {"before": rss_before, "max": max(sampler.samples + [rss_after]), "after": rss_after,
           "mid": half[0], "last": half[-1], "samples": len(sampler.samples), "cpu_s": cpu_used,
           "rss_kib_per_second": sampler.samples}
    return {"name": name, "results": results, "memory": mem}


def start_sysmon(fixture, storage):
    port = free_port()
    cmd = [SYSMON, f"--web.listen-address=127.0.0.1:{port}",
           f"--path.procfs={fixture}/proc", f"--path.sysfs={fixture}/sys",
           f"--path.rootfs={fixture}/rootfs", f"--path.kmsg={fixture}/kmsg",
           f"--storage.path={storage}", "--log.level=error"] + SYSMON_LIMITS
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_ready(f"http://127.0.0.1:{port}/health", proc, "sysmon-exporter")
    return proc, port, cmd


def start_node_exporter(fixture):
    port = free_port()
    cmd = [node_exporter_binary(), f"--web.listen-address=127.0.0.1:{port}",
           f"--path.procfs={fixture}/proc", f"--path.sysfs={fixture}/sys",
           f"--path.rootfs={fixture}/rootfs", "--collector.disable-defaults",
           "--log.level=error"] + [f"--collector.{c}" for c in NODE_COLLECTORS] + NODE_LIMITS
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_ready(f"http://127.0.0.1:{port}/metrics", proc, "node_exporter")
    return proc, port, cmd


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="10 s per phase instead of 60 s")
    ap.add_argument("--duration", type=int, help="seconds per phase (overrides --quick)")
    ap.add_argument("--connections", type=int, default=256, help="concurrent clients per endpoint")
    ap.add_argument("--fixture", default="server", help="fixture machine under exporter/tests/fixtures")
    ap.add_argument("--json", help="also write the results to this file")
    args = ap.parse_args()
    duration = args.duration or (10 if args.quick else 60)
    threads = max(1, min(4, os.cpu_count() or 1))
    fixture = os.path.join(ROOT, "exporter", "tests", "fixtures", args.fixture)

    ensure_wrk()
    if not os.path.exists(SYSMON):
        subprocess.run(["cargo", "build", "--release", "-p", "sysmon-exporter"], cwd=ROOT, check=True)

    machine = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
               "nproc": os.cpu_count(), "cpu": cpu_model(), "kernel": platform.release(),
               "wrk": subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.split("\n")[0],
               "node_exporter": subprocess.run([node_exporter_binary(), "--version"], capture_output=True,
                                               text=True).stdout.split("\n")[0]}
    phases = []
    with tempfile.TemporaryDirectory() as tmp:
        storage = os.path.join(tmp, "state")
        seed_journal(storage)
        proc, port, sysmon_cmd = start_sysmon(fixture, storage)
        try:
            base = f"http://127.0.0.1:{port}"
            phases.append(run_phase("sysmon-exporter /metrics", proc, [base + "/metrics"], duration,
                                    args.connections, threads))
        finally:
            stop(proc)
        proc, port, node_cmd = start_node_exporter(fixture)
        try:
            phases.append(run_phase("node_exporter /metrics", proc, [f"http://127.0.0.1:{port}/metrics"],
                                    duration, args.connections, threads))
        finally:
            stop(proc)
        proc, port, _ = start_sysmon(fixture, storage)
        try:
            base = f"http://127.0.0.1:{port}"
            phases.append(run_phase("sysmon-exporter /metrics + feed", proc,
                                    [base + "/metrics", base + "/api/v1/anomalies"], duration,
                                    args.connections, threads))
        finally:
            stop(proc)

    print(f"# load: {args.connections} clients per endpoint, {duration} s per phase, wrk -t{threads}")
    print(f"# {machine['date']}; {machine['nproc']} CPUs, {machine['cpu']}; kernel {machine['kernel']}")
    print(f"# {machine['wrk']}; {machine['node_exporter']}; fixture {args.fixture}")
    print(f"# sysmon: {' '.join(sysmon_cmd[1:])}")
    print(f"# node_exporter: {' '.join(node_cmd[1:])}")
    print()
    print("| server | endpoint | requests | req/s | p50 ms | p90 ms | p99 ms | max ms | failed |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for ph in phases:
        for r in ph["results"]:
            endpoint = r["url"].split("/", 3)[3]
            print(f"| {ph['name'].split()[0]} | /{endpoint} | {r['requests']} | {r['rps']:.0f} | "
                  f"{r['p50_ms']:.2f} | {r['p90_ms']:.2f} | {r['p99_ms']:.2f} | {r['max_ms']:.1f} | "
                  f"{r['failed']} |")
    print()
    print("| phase | RSS before MiB | RSS max MiB | RSS after MiB | 2nd-half growth MiB | samples | server CPU s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for ph in phases:
        m = ph["memory"]
        print(f"| {ph['name']} | {m['before'] / 1024:.1f} | {m['max'] / 1024:.1f} | {m['after'] / 1024:.1f} | "
              f"{(m['last'] - m['mid']) / 1024:+.1f} | {m['samples']} | {m['cpu_s']:.1f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine, "duration": duration, "connections": args.connections,
                       "phases": phases}, f, indent=2)
    failed = sum(r["failed"] for ph in phases if ph["name"].startswith("sysmon") for r in ph["results"])
    if failed:
        print(f"\nsysmon-exporter failed {failed} requests", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
