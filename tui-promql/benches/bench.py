#!/usr/bin/env python3
"""sysmon-top benchmark: a measurement that prints figures, not a test.

Starts three sysmon-exporters on the fixture machines (laptop, server, vm) and a real Prometheus
(/usr/bin/prometheus) that scrapes them as 50 hosts: 50 static targets, each pointing at one of
the three exporters with its own `instance` label. Then it measures the release build of
sysmon-top in a pseudo-terminal (160x48):

* time to first frame: process start until the first screen is written, and until the first
  screen with the fleet on it (the hosts' names in the output); median of several runs;
* CPU use over a minute at the default 2 s refresh: user+system time of the process from
  /proc/<pid>/stat, in the fleet view and in the host view;
* time to draw one frame: the `frame_time` example against the same Prometheus.

Usage (from the repository root):
    cargo build --release -p sysmon-top --example frame_time && cargo build -p sysmon-exporter
    python3 tui-promql/benches/bench.py [--seconds 60] [--hosts 50] [--runs 10]
"""

import argparse
import os
import pty
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import json
import fcntl
import termios

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
TOP = os.path.join(TARGET, "release", "sysmon-top")
FRAME_TIME = os.path.join(TARGET, "release", "examples", "frame_time")
EXPORTER = os.environ.get("SYSMON_EXPORTER_BIN", os.path.join(TARGET, "debug", "sysmon-exporter"))
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
FIXTURES = os.path.join(ROOT, "exporter", "tests", "fixtures")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http_json(url):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


def wait(what, timeout, f):
    t0 = time.time()
    while True:
        try:
            if f():
                return
        except Exception:
            pass
        if time.time() - t0 > timeout:
            sys.exit(f"timed out waiting for {what}")
        time.sleep(0.2)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the ")".
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


class Pty:
    """sysmon-top in a pseudo-terminal, its output drained and kept."""

    def __init__(self, args, cols=160, rows=48):
        self.t0 = time.monotonic()
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.environ["TERM"] = "xterm-256color"
            os.execv(args[0], args)
        fcntl.ioctl(self.fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.out = b""
        self.first_byte = None

    def pump(self, seconds, until=None):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            r, _, _ = select.select([self.fd], [], [], 0.05)
            if r:
                try:
                    data = os.read(self.fd, 1 << 16)
                except OSError:
                    return False
                if self.first_byte is None:
                    self.first_byte = time.monotonic() - self.t0
                # Answer a cursor position request as a terminal would.
                if b"\x1b[6n" in data:
                    os.write(self.fd, b"\x1b[1;1R")
                self.out += data
                if until is not None and until in self.out:
                    return True
        return False

    def send(self, keys):
        os.write(self.fd, keys)

    def quit(self):
        try:
            self.send(b"q")
            self.pump(2)
        finally:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass
            os.close(self.fd)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--hosts", type=int, default=50)
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    for b in (TOP, FRAME_TIME, EXPORTER, PROMETHEUS):
        if not os.path.exists(b):
            sys.exit(f"{b} is missing: see the usage at the top of this file")

    procs = []
    tmp = tempfile.mkdtemp(prefix="sysmon-top-bench-")
    try:
        ports = []
        for m in ("laptop", "server", "vm"):
            port = free_port()
            root = os.path.join(FIXTURES, m)
            state = os.path.join(tmp, f"state-{m}")
            os.mkdir(state)
            procs.append(subprocess.Popen([
                EXPORTER, f"--web.listen-address=127.0.0.1:{port}",
                f"--path.procfs={root}/proc", f"--path.sysfs={root}/sys",
                f"--path.rootfs={root}/rootfs", f"--path.kmsg={root}/kmsg",
                f"--storage.path={state}",
            ], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            ports.append(port)
        def prometheus(name, hosts):
            """A Prometheus scraping `hosts` targets spread over the three exporters."""
            cfg = ["global:", "  scrape_interval: 5s", "  evaluation_interval: 5s",
                   "scrape_configs:", "  - job_name: sysmon", "    static_configs:"]
            for h in range(hosts):
                cfg.append(f"      - targets: ['127.0.0.1:{ports[h % 3]}']")
                cfg.append(f"        labels: {{instance: 'host-{h:02d}'}}")
            with open(os.path.join(tmp, f"{name}.yml"), "w") as f:
                f.write("\n".join(cfg) + "\n")
            pport = free_port()
            procs.append(subprocess.Popen([
                PROMETHEUS, f"--config.file={tmp}/{name}.yml",
                f"--storage.tsdb.path={tmp}/{name}-data", f"--web.listen-address=127.0.0.1:{pport}",
                "--log.level=warn",
            ], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            return f"http://127.0.0.1:{pport}"

        small = prometheus("prom-3", 3)
        url = prometheus("prom-n", args.hosts)
        q = urllib.parse.quote('count(count_over_time(up{job="sysmon"}[5m]) >= 3)')
        for u, n in ((small, 3), (url, args.hosts)):
            wait(f"{n} targets with 3 samples", 120,
                 lambda: int(http_json(f"{u}/api/v1/query?query={q}")["data"]["result"][0]["value"][1]) == n)

        print(f"sysmon-top benchmark: Prometheus with 3 hosts ({small}) and with {args.hosts} hosts ({url}),")
        print("targets spread over 3 sysmon-exporters on the laptop, server and vm fixtures")
        print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")

        # Time to first frame: the first screen, and the first screen with the fleet on it.
        med = lambda v: v[len(v) // 2] * 1000 if v else float("nan")
        for u, n in ((small, 3), (url, args.hosts)):
            firsts, datas = [], []
            for _ in range(args.runs):
                p = Pty([TOP, "--prometheus", u])
                got = p.pump(10, until=b"host-")
                if got:
                    datas.append(time.monotonic() - p.t0)
                if p.first_byte is not None:
                    firsts.append(p.first_byte)
                p.quit()
            firsts.sort()
            datas.sort()
            print(f"{n:>3} hosts: first frame median {med(firsts):.0f} ms (min {firsts[0]*1000:.0f}, max {firsts[-1]*1000:.0f}); "
                  f"first frame with the fleet median {med(datas):.0f} ms (min {datas[0]*1000:.0f}, max {datas[-1]*1000:.0f}); {args.runs} runs")

        # CPU over a minute at the default 2 s refresh.
        for view, keys in (("fleet", b""), ("host", b"\r")):
            p = Pty([TOP, "--prometheus", url, "--refresh", "2s"])
            p.pump(3, until=b"host-")
            if keys:
                p.send(keys)
            p.pump(2)
            c0, t0 = cpu_seconds(p.pid), time.monotonic()
            p.pump(args.seconds)
            c1, t1 = cpu_seconds(p.pid), time.monotonic()
            with open(f"/proc/{p.pid}/status") as f:
                rss = next(l for l in f if l.startswith("VmRSS")).split()[1]
            p.quit()
            print(f"CPU in the {view} view over {t1 - t0:.0f} s at 2 s refresh: "
                  f"{(c1 - c0) / (t1 - t0) * 100:.2f} % of one core ({c1 - c0:.2f} s), RSS {int(rss) // 1024} MiB")

        # Time to draw one frame with this data.
        sys.stdout.flush()
        subprocess.run([FRAME_TIME, "--prometheus", url], check=True)
        print(f"load average at the end {os.getloadavg()[0]:.2f}")
    finally:
        for p in procs:
            p.kill()
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
