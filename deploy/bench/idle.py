"""Idle mode of the benchmark (`bench.py --idle`): what each exporter costs on a host that is only
scraped, the way it is paid in production.

Both exporters run at their defaults, with every default collector of their own, on this machine's
/proc, /sys and /, each scraped by a simulated Prometheus (OpenMetrics Accept, gzip) every
`--idle-every` seconds (15) for `--idle-seconds` (300). Measured per exporter: CPU time from
/proc/<pid>/stat (and per-thread schedstat), peak RSS (VmHWM), steady RSS (median VmRSS over the
second half of the window), series exported. sysmon also reports where its CPU went
(`sysmon_collector_cpu_seconds_total`, `sysmon_exporter_cpu_seconds_total{stage}`).

Then attribution: one instance per collector (`--collector.disable-defaults --collector.X`) of each
exporter, plus one with no collector at all (the fixed cost of the process), all side by side,
scraped the same way for `--attribution-seconds` (120).
"""

from __future__ import annotations

import re
import statistics
import threading
import time
from pathlib import Path

import bench

CPU_RE = re.compile(r'^sysmon_collector_cpu_seconds_total\{collector="([^"]+)"\} (\S+)$', re.M)
STAGE_RE = re.compile(r'^sysmon_exporter_cpu_seconds_total\{stage="([^"]+)"\} (\S+)$', re.M)


def default_collectors(help_text: str) -> list[str]:
    """Collectors an exporter enables by default, from its --help."""
    # Help text wraps, so any run of blanks may be a line break.
    return sorted(set(re.findall(r"--collector\.([a-z0-9_]+)\s+Enable\s+the\s+\S+\s+collector\s+\((?:default:\s+)?enabled",
                                 help_text)))


def watch(exps: list[bench.Exporter], seconds: float, every: float) -> dict[str, dict]:
    """Scrapes each exporter every `every` s for `seconds`, like Prometheus, and measures it."""
    count = max(1, int(seconds // every))
    scrapes = {e.label: 0 for e in exps}
    rss = {e.label: [] for e in exps}
    last_body = {e.label: b"" for e in exps}

    def scraper(exp: bench.Exporter, start: float) -> None:
        for k in range(count):
            time.sleep(max(0.0, start + k * every - time.monotonic()))
            try:
                status, body, _ = bench.http_get(exp.port, "/metrics", bench.PROMETHEUS_HEADERS)
                if status == 200:
                    scrapes[exp.label] += 1
                    last_body[exp.label] = body
                rss[exp.label].append(bench.status_kb(exp.pid, "VmRSS"))
            except (OSError, bench.http.client.HTTPException):
                pass

    before = {e.label: bench.read_cpu(e.pid) for e in exps}
    started = time.monotonic()
    workers = [threading.Thread(target=scraper, args=(e, started), daemon=True) for e in exps]
    for w in workers:
        w.start()
    time.sleep(max(0.0, started + seconds - time.monotonic()))
    for w in workers:
        w.join(timeout=120)
    elapsed = time.monotonic() - started
    out = {}
    for e in exps:
        cpu, method = bench.cpu_seconds(before[e.label], bench.read_cpu(e.pid))
        samples = rss[e.label]
        steady = statistics.median(samples[len(samples) // 2:]) if samples else 0
        out[e.label] = {
            "seconds": elapsed, "scrapes": scrapes[e.label], "cpu_s": cpu, "cpu_method": method,
            "cpu_ms_per_min": cpu / elapsed * 60_000,
            "peak_rss_kib": bench.status_kb(e.pid, "VmHWM"), "steady_rss_kib": steady,
            "rss_anon_kib": bench.status_kb(e.pid, "RssAnon"),
            "body": last_body[e.label],
        }
    return out


def gunzip_text(body: bytes) -> str:
    import gzip
    try:
        return gzip.decompress(body).decode(errors="replace")
    except OSError:
        return body.decode(errors="replace")


def wait_serving(exp: bench.Exporter, timeout: float = 60) -> None:
    """Until /metrics answers (a sysmon without collectors has no sample to wait for)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        exp.check_alive()
        try:
            if bench.http_get(exp.port, "/metrics", timeout=30)[0] == 200:
                return
        except (OSError, bench.http.client.HTTPException):
            pass
        time.sleep(0.1)
    raise bench.Unmeasurable(f"{exp.label} did not answer within {timeout:.0f} s (log {exp.log_path})")


def start(procs: bench.Processes, name: str, label: str, argv: list[str], port: int, workdir: Path) -> bench.Exporter:
    exp = bench.Exporter(name, label, argv, port, workdir / f"{label}.log")
    exp.proc = procs.start(argv, exp.log_path)
    return exp


def sysmon_argv(binary: str, port: int, workdir: Path, label: str, extra: list[str]) -> list[str]:
    storage = workdir / f"{label}-state"
    storage.mkdir(parents=True, exist_ok=True)
    return [binary, f"--web.listen-address=127.0.0.1:{port}", "--log.level=error",
            f"--storage.path={storage}"] + extra


def node_argv(port: int, extra: list[str]) -> list[str]:
    return [bench.NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{port}", "--log.level=error"] + extra


def run(sysmon_bin: str, procs: bench.Processes, workdir: Path, seconds: float, every: float,
        attribution_seconds: float, port_base: int | None) -> dict:
    sysmon_help, node_help = bench.flags_of(sysmon_bin), bench.flags_of(bench.NODE_EXPORTER)
    result: dict = {"seconds": seconds, "every": every}

    # 1. Both at their defaults.
    ports = bench.pick_ports(2, port_base)
    sysmon = start(procs, "sysmon", "sysmon-defaults", sysmon_argv(sysmon_bin, ports[0], workdir, "sysmon-defaults", []),
                   ports[0], workdir)
    node = start(procs, "node", "node-defaults", node_argv(ports[1], []), ports[1], workdir)
    for e in (sysmon, node):
        bench.wait_ready(e)
    bench.log(f"idle: both exporters at their defaults, scraped every {every:.0f} s for {seconds:.0f} s")
    figures = watch([sysmon, node], seconds, every)
    for e in (sysmon, node):
        f = figures[e.label]
        text = gunzip_text(f.pop("body"))
        f["series"] = bench.count_series(text)
        f["collectors"] = sorted(bench.collector_figures(text)[1])
        if e.name == "sysmon":
            f["collector_cpu_s"] = {c: float(v) for c, v in CPU_RE.findall(text)}
            f["stage_cpu_s"] = {s: float(v) for s, v in STAGE_RE.findall(text)}
        procs.stop(e.proc)
    result["defaults"] = figures

    # 2. One collector per instance, all side by side, plus an instance with none.
    if attribution_seconds <= 0:
        result["attribution"] = {}
        return result
    instances = []
    plans = [("sysmon", c) for c in [""] + default_collectors(sysmon_help)] + \
            [("node", c) for c in [""] + default_collectors(node_help)]
    ports = bench.pick_ports(len(plans), port_base + 10 if port_base else None)
    for (name, collector), port in zip(plans, ports):
        label = f"{name}-{collector or 'none'}"
        only = ["--collector.disable-defaults"] + ([f"--collector.{collector}"] if collector else [])
        argv = sysmon_argv(sysmon_bin, port, workdir, label, only) if name == "sysmon" else node_argv(port, only)
        instances.append(start(procs, name, label, argv, port, workdir))
    for e in instances:
        wait_serving(e)
    bench.log(f"idle: {len(instances)} single-collector instances side by side for {attribution_seconds:.0f} s")
    per = watch(instances, attribution_seconds, every)
    for e in instances:
        per[e.label].pop("body")
        procs.stop(e.proc)
    result["attribution"] = per
    return result


def kib(v: float) -> str:
    return f"{v / 1024:.1f} MiB"


def report(r: dict) -> list[str]:
    s, n = r["defaults"]["sysmon-defaults"], r["defaults"]["node-defaults"]
    lines = [
        f"## Idle: both at their defaults, scraped every {r['every']:.0f} s for {s['seconds']:.0f} s",
        "",
        "| figure | sysmon | node_exporter | sysmon / node | target |",
        "|---|---|---|---|---|",
        f"| collectors | {len(s['collectors'])} | {len(n['collectors'])} | | |",
        f"| series | {s['series']} | {n['series']} | | |",
        f"| scrapes | {s['scrapes']} | {n['scrapes']} | | |",
        f"| CPU | {s['cpu_s'] * 1000:.0f} ms ({s['cpu_ms_per_min']:.1f} ms/min) | {n['cpu_s'] * 1000:.0f} ms "
        f"({n['cpu_ms_per_min']:.1f} ms/min) | {s['cpu_s'] / n['cpu_s']:.2f} | <= 0.50 |",
        f"| peak RSS (VmHWM) | {kib(s['peak_rss_kib'])} | {kib(n['peak_rss_kib'])} | "
        f"{s['peak_rss_kib'] / n['peak_rss_kib']:.2f} | <= 0.50 |",
        f"| steady RSS (median VmRSS, 2nd half) | {kib(s['steady_rss_kib'])} | {kib(n['steady_rss_kib'])} | "
        f"{s['steady_rss_kib'] / max(1, n['steady_rss_kib']):.2f} | |",
        f"| RssAnon at end | {kib(s['rss_anon_kib'])} | {kib(n['rss_anon_kib'])} | | |",
        "",
        "sysmon's own account of where its CPU went over its whole life (start included), from",
        "`sysmon_collector_cpu_seconds_total` and `sysmon_exporter_cpu_seconds_total{stage}`:",
        "",
        "| part | CPU ms |",
        "|---|---|",
    ]
    for part, v in sorted(s.get("collector_cpu_s", {}).items(), key=lambda kv: -kv[1]):
        lines.append(f"| collector {part} | {v * 1000:.2f} |")
    for part, v in sorted(s.get("stage_cpu_s", {}).items()):
        lines.append(f"| stage {part} | {v * 1000:.2f} |")
    a = r["attribution"]
    if not a:
        return lines
    secs = next(iter(a.values()))["seconds"]
    lines += [
        "",
        f"## Idle: one collector per instance, side by side, {secs:.0f} s, scraped every {r['every']:.0f} s",
        "",
        "CPU ms per minute of each instance; `none` is the process with no collector (its fixed cost).",
        "",
        "| collector | sysmon ms/min | node_exporter ms/min |",
        "|---|---|---|",
    ]
    names = sorted({label.split("-", 1)[1] for label in a}, key=lambda c: (c != "none", c))
    for c in names:
        sv, nv = a.get(f"sysmon-{c}"), a.get(f"node-{c}")
        lines.append(f"| {c} | {sv['cpu_ms_per_min']:.2f}" if sv else f"| {c} | -")
        lines[-1] += f" | {nv['cpu_ms_per_min']:.2f} |" if nv else " | - |"
    return lines
