#!/usr/bin/env python3
"""Simulates a fleet of sysmon-exporters on loopback, for scale tests of the stack (docs/scale.md).

Starts N exporters (default 100) on 127.0.0.1, each on a machine tree of its own with a host name
of its own, and writes a Prometheus file_sd file listing them, which Prometheus or vmagent (both
read `prometheus/targets/*.yml` and `deploy/stack.sh`'s `$SYSMON_STACK_DIR/prometheus/targets/`)
pick up like a real fleet. The mix, out of 100 (scaled for other sizes):

  40 vm        KVM guests, 2 CPUs, no sensors                       (exporter/tests/fixtures/vm)
  25 server    64-CPU database servers: sensors, md RAID, ZFS, NFS, (exporter/tests/fixtures/server)
               bonds, EDAC
  15 laptop    8 CPUs, sensors, battery, USB devices and USB errors (exporter/tests/fixtures/laptop)
  10 container 32-CPU container hosts, 64 interfaces, 48 mounts     (deploy/bench/gen_large_host.py)
   4 broken    malformed /proc and /sys: collectors fail alone      (exporter/tests/fixtures/broken)
   3 down      listed, nothing listening (a host that is off)
   3 flapping  laptops whose exporter stops and starts again (up 40 s, down 20 s)

Each tree is a hard-linked copy of its fixture (cheap), with its own /proc/sys/kernel/hostname and
its own /proc/stat, which a driver advances every 5 s at the host's load (2 % to 95 %, a few hot
hosts), so CPU utilisation, load ranking and the fleet views have something to show.

The run is bounded (--duration, default 600 s; at most 4 h) and cleans up after itself on exit,
Ctrl-C or SIGTERM: exporters stopped, trees and the targets file removed. Exporters also die with
the simulator if it is killed outright (PR_SET_PDEATHSIG).

  deploy/fleet/fleet.py --targets-file ~/.local/state/sysmon-stack/prometheus/targets/fleet.yml
  deploy/fleet/fleet.py --hosts 20 --duration 120 --targets-file prometheus/targets/sim.yml

Exporter binary: --exporter, else $SYSMON_EXPORTER_BIN, else target/release/sysmon-exporter.
As a module, `Fleet` is used by deploy/fleet/measure.py.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "exporter" / "tests" / "fixtures"
GEN_LARGE_HOST = REPO / "deploy" / "bench" / "gen_large_host.py"

# Out of 100 hosts: kind -> count. "down" hosts have no exporter; "flapping" ones are laptops.
MIX = [
    ("vm", 40),
    ("server", 25),
    ("laptop", 15),
    ("container", 10),
    ("broken", 4),
    ("down", 3),
    ("flapping", 3),
]
# The container hosts' size (gen_large_host.py's defaults describe a far bigger machine).
CONTAINER_HOST_ARGS = [
    "--cpus", "32", "--interfaces", "64", "--mounts", "48", "--disks", "16",
    "--md-arrays", "4", "--zfs-pools", "1", "--zfs-datasets", "24",
]
FLAP_UP_S = 40
FLAP_DOWN_S = 20
CPU_STEP_S = 5
MAX_DURATION_S = 4 * 3600
USER_HZ = 100

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the simulator dies, however it dies."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def free_ports(count: int, base: int) -> list[int]:
    ports = []
    port = base
    while len(ports) < count:
        if port > 65535:
            raise SystemExit(f"fleet: not enough free ports from {base}")
        if port_is_free(port):
            ports.append(port)
        port += 1
    return ports


def kinds_for(hosts: int) -> list[str]:
    """The mix scaled to `hosts` (largest remainders), in a stable order; with at least as many
    hosts as kinds, every kind has one (a small fleet still has a down and a flapping host)."""
    total = sum(n for _, n in MIX)
    floor = 1 if len(MIX) <= hosts < total else 0
    spread = hosts - floor * len(MIX)
    exact = [(k, floor + n * spread / total) for k, n in MIX]
    counts = {k: int(x) for k, x in exact}
    left = hosts - sum(counts.values())
    for k, x in sorted(exact, key=lambda kx: kx[1] - int(kx[1]), reverse=True)[:left]:
        counts[k] += 1
    out = []
    for k, _ in MIX:
        out += [k] * counts[k]
    return out


@dataclass
class Host:
    index: int
    kind: str
    name: str
    port: int
    root: Path | None = None
    load: float = 0.0
    cpus: int = 0
    stat_rest: list[str] = field(default_factory=list)
    ticks: list[list[int]] = field(default_factory=list)
    proc: subprocess.Popen | None = None
    log: Path | None = None
    # CPU seconds of this host's exporter processes that have exited (flapping restarts).
    cpu_done: float = 0.0

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds (proc(5): fields 14 and 15 of /proc/<pid>/stat)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class Fleet:
    def __init__(
        self,
        hosts: int,
        targets_file: Path,
        exporter: Path,
        scrape_interval_s: float = 15.0,
        base_port: int = 21000,
        seed: int = 1,
        log=print,
    ) -> None:
        if hosts < 1:
            raise SystemExit("fleet: --hosts must be at least 1")
        self.exporter = exporter
        self.targets_file = targets_file
        self.scrape_interval_s = scrape_interval_s
        self.rng = random.Random(seed)
        self.log = log
        self.work = Path(tempfile.mkdtemp(prefix="sysmon-fleet-"))
        kinds = kinds_for(hosts)
        ports = free_ports(len(kinds), base_port)
        self.hosts = [
            Host(index=i, kind=k, name=f"sim-{k}-{i:03d}", port=p)
            for i, (k, p) in enumerate(zip(kinds, ports))
        ]
        self.started_at = 0.0

    # -- machine trees -------------------------------------------------------------------------

    def _container_template(self) -> Path:
        tree = self.work / "template-container"
        if not tree.exists():
            subprocess.run(
                [sys.executable, str(GEN_LARGE_HOST), str(tree), *CONTAINER_HOST_ARGS],
                check=True,
                stdout=subprocess.DEVNULL,
            )
        return tree

    def _make_tree(self, host: Host) -> None:
        source = {
            "vm": FIXTURES / "vm",
            "server": FIXTURES / "server",
            "laptop": FIXTURES / "laptop",
            "flapping": FIXTURES / "laptop",
            "broken": FIXTURES / "broken",
        }.get(host.kind) or self._container_template()
        root = self.work / host.name
        # Hard links: 100 trees for the price of one; every file the simulator changes is
        # replaced (written aside, renamed over), never written in place.
        subprocess.run(["cp", "-al", str(source), str(root)], check=True)
        host.root = root
        self._replace(root / "proc/sys/kernel/hostname", host.name + "\n")
        if host.kind == "broken":
            return
        stat = (root / "proc/stat").read_text().splitlines()
        cpu_lines = [l for l in stat if l.startswith("cpu") and not l.startswith("cpu ")]
        host.cpus = len(cpu_lines)
        host.stat_rest = [l for l in stat if not l.startswith("cpu")]
        host.ticks = [[int(x) for x in l.split()[1:]] for l in cpu_lines]
        # Most hosts idle along, some are busy, a few are hot.
        r = self.rng.random()
        host.load = self.rng.uniform(0.02, 0.3) if r < 0.7 else self.rng.uniform(0.3, 0.7) if r < 0.93 else self.rng.uniform(0.85, 0.95)

    @staticmethod
    def _replace(path: Path, text: str) -> None:
        tmp = path.with_name(f".{path.name}.fleet-tmp")
        tmp.write_text(text)
        os.replace(tmp, path)

    def _advance_cpu(self, host: Host, seconds: float) -> None:
        if not host.ticks:
            return
        per_cpu = seconds * USER_HZ
        for t in host.ticks:
            busy = int(per_cpu * host.load * self.rng.uniform(0.8, 1.2))
            t[0] += busy  # user
            t[3] += max(int(per_cpu) - busy, 0)  # idle
        total = [sum(col) for col in zip(*host.ticks)]
        lines = ["cpu  " + " ".join(map(str, total))]
        lines += [f"cpu{i} " + " ".join(map(str, t)) for i, t in enumerate(host.ticks)]
        self._replace(host.root / "proc/stat", "\n".join(lines + host.stat_rest) + "\n")

    # -- exporters -----------------------------------------------------------------------------

    def _start_exporter(self, host: Host) -> None:
        r = host.root
        state = self.work / "state" / host.name
        state.mkdir(parents=True, exist_ok=True)
        args = [
            str(self.exporter),
            f"--web.listen-address={host.target}",
            f"--path.procfs={r}/proc",
            f"--path.sysfs={r}/sys",
            f"--path.rootfs={r}/rootfs",
            f"--path.udev.data={r}/rootfs/run/udev/data",
            f"--path.kmsg={r}/kmsg",
            f"--storage.path={state}",
            "--log.level=error",
        ]
        if (r / "textfile").is_dir():
            args.append(f"--collector.textfile.directory={r}/textfile")
        # Fresh series at every scrape, as deploy/stack.sh sets it.
        if self.scrape_interval_s >= 2:
            args.append(f"--sampler.slow-interval={int(self.scrape_interval_s)}s")
        host.log = state / "exporter.log"
        with open(host.log, "ab") as log:
            host.proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                preexec_fn=die_with_parent,
            )

    def _stop_exporter(self, host: Host) -> None:
        p = host.proc
        if p is None:
            return
        host.cpu_done += cpu_seconds(p.pid) if p.poll() is None else 0.0
        p.terminate()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        host.proc = None

    def write_targets(self) -> None:
        """One file_sd group per kind, labelled, so dashboards can be filtered by kind."""
        groups = {}
        for h in self.hosts:
            groups.setdefault(h.kind, []).append(h.target)
        text = "# Written by deploy/fleet/fleet.py; removed when it exits.\n"
        for kind, targets in groups.items():
            text += "- targets:\n"
            text += "".join(f'    - "{t}"\n' for t in targets)
            text += f"  labels:\n    fleet: simulated\n    kind: {kind}\n"
        self.targets_file.parent.mkdir(parents=True, exist_ok=True)
        self._replace(self.targets_file, text)

    def start(self) -> None:
        self.log(f"fleet: {len(self.hosts)} hosts in {self.work}")
        for h in self.hosts:
            if h.kind != "down":
                self._make_tree(h)
                self._advance_cpu(h, 0)
        for h in self.hosts:
            if h.kind != "down":
                self._start_exporter(h)
        deadline = time.monotonic() + 60
        for h in self.hosts:
            while h.proc is not None and not self._answers(h):
                if h.proc.poll() is not None:
                    raise SystemExit(
                        f"fleet: the exporter of {h.name} exited ({h.proc.returncode}): "
                        + h.log.read_text(errors="replace")[-2000:]
                    )
                if time.monotonic() > deadline:
                    raise SystemExit(f"fleet: the exporter of {h.name} did not answer within 60 s")
                time.sleep(0.1)
        self.write_targets()
        self.started_at = time.monotonic()
        counts = {}
        for h in self.hosts:
            counts[h.kind] = counts.get(h.kind, 0) + 1
        self.log(f"fleet: up ({', '.join(f'{n} {k}' for k, n in counts.items())}); targets in {self.targets_file}")

    @staticmethod
    def _answers(h: Host) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", h.port), timeout=0.5) as s:
                s.sendall(b"GET /health HTTP/1.0\r\nHost: x\r\n\r\n")
                return s.recv(16).startswith(b"HTTP/1.")
        except OSError:
            return False

    def tick(self, now: float, last_step: float) -> float:
        """Flapping and CPU: call about once a second; returns the time of the last CPU step."""
        elapsed = now - self.started_at
        for h in self.hosts:
            if h.kind != "flapping":
                continue
            phase = (elapsed + h.index * 7) % (FLAP_UP_S + FLAP_DOWN_S)
            should_run = phase < FLAP_UP_S
            if should_run and h.proc is None:
                self._start_exporter(h)
            elif not should_run and h.proc is not None:
                self._stop_exporter(h)
        if now - last_step >= CPU_STEP_S:
            for h in self.hosts:
                if h.root is not None:
                    self._advance_cpu(h, now - last_step)
            return now
        return last_step

    def exporter_pids(self) -> list[int]:
        return [h.proc.pid for h in self.hosts if h.proc is not None and h.proc.poll() is None]

    def exporters_cpu_seconds(self) -> float:
        """CPU seconds used by every exporter of the fleet so far, restarted ones included."""
        return sum(h.cpu_done for h in self.hosts) + sum(cpu_seconds(p) for p in self.exporter_pids())

    def exporters_rss_bytes(self) -> int:
        return sum(rss_bytes(p) for p in self.exporter_pids())

    def summary(self) -> dict:
        return {
            "hosts": len(self.hosts),
            "running": len(self.exporter_pids()),
            "kinds": {k: sum(1 for h in self.hosts if h.kind == k) for k, _ in MIX},
            "targets_file": str(self.targets_file),
        }

    def stop(self) -> None:
        for h in self.hosts:
            self._stop_exporter(h)
        try:
            self.targets_file.unlink()
        except FileNotFoundError:
            pass
        shutil.rmtree(self.work, ignore_errors=True)
        self.log("fleet: stopped, cleaned up")


def find_exporter(given: str | None) -> Path:
    for candidate in (given, os.environ.get("SYSMON_EXPORTER_BIN"), REPO / "target/release/sysmon-exporter"):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate)
    raise SystemExit(
        "fleet: no sysmon-exporter binary: give --exporter, set SYSMON_EXPORTER_BIN or run "
        "`cargo build --release -p sysmon-exporter`"
    )


def duration_s(text: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    for suffix in ("ms", "s", "m", "h"):
        if text.endswith(suffix):
            try:
                return float(text[: -len(suffix)]) * units[suffix]
            except ValueError:
                break
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a duration such as 600, 90s, 10m or 1h, found {text!r}")


class Usage(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # exit status 2 with the usage line, as argparse does
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def main() -> int:
    p = Usage(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hosts", type=int, default=100, help="fleet size (default 100)")
    p.add_argument("--targets-file", type=Path, required=True, help="file_sd file to write (removed on exit)")
    p.add_argument("--duration", type=duration_s, default=600.0, help="how long to run (default 600 s, at most 4 h)")
    p.add_argument("--scrape-interval", type=duration_s, default=15.0, help="the scraper's interval: the exporters' slow interval (default 15 s)")
    p.add_argument("--base-port", type=int, default=21000, help="first port tried (default 21000)")
    p.add_argument("--exporter", help="sysmon-exporter binary")
    p.add_argument("--seed", type=int, default=1, help="loads and hot hosts (default 1)")
    a = p.parse_args()
    if not 0 < a.duration <= MAX_DURATION_S:
        p.error(f"--duration: expected more than 0 and at most {MAX_DURATION_S} s, found {a.duration:g}")
    if not 1 <= a.hosts <= 2000:
        p.error(f"--hosts: expected 1 to 2000, found {a.hosts}")
    fleet = Fleet(a.hosts, a.targets_file, find_exporter(a.exporter), a.scrape_interval, a.base_port, a.seed)

    stop = {"now": False}

    def on_signal(signum, _frame):
        stop["now"] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        fleet.start()
        print(json.dumps(fleet.summary()), flush=True)
        end = time.monotonic() + a.duration
        last = time.monotonic()
        while not stop["now"] and time.monotonic() < end:
            time.sleep(1)
            last = fleet.tick(time.monotonic(), last)
        print(
            json.dumps({"exporters_cpu_seconds": round(fleet.exporters_cpu_seconds(), 2), **fleet.summary()}),
            flush=True,
        )
    finally:
        fleet.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
