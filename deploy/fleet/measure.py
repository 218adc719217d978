#!/usr/bin/env python3
"""Measures the stack on a simulated fleet, on each backend in turn (docs/scale.md has the results).

Starts deploy/fleet/fleet.py's fleet (default 100 hosts) once, then for each backend
(`deploy/stack.sh up --backend prometheus`, then `--backend victoriametrics`, each in a state
directory of its own, on ports of its own, at the default 15 s scrape interval):

  * lets it run --warmup seconds (rates and the recording rules' 5 m windows fill), then over
    --window seconds measures
      - ingestion: samples appended per second by the store (Prometheus'
        prometheus_tsdb_head_samples_appended_total, victoria-metrics' vm_rows_inserted_total:
        scrapes and recording-rule results alike), and samples scraped per second;
      - CPU (cores) and peak resident memory of each process of the backend (store, scraper,
        rule evaluator), and of the fleet's exporters together;
  * series per host by kind (count by (instance) of the job's series), and the store's bytes per
    sample where it says (victoria-metrics);
  * query latency: every query of the fleet dashboard (grafana/dashboards/fleet.json, variables
    as Grafana substitutes them for "All"; instant queries at now, range queries over the last
    --range seconds at a 15 s step), each run --repeat times, median and worst; sysmon-top's fleet
    refresh (`sysmon-top --once`, process start included) likewise; and every recording rule of
    alert-rules/ queried by name against its raw expression;

and prints the figures as JSON and as Markdown tables. Everything it started is stopped at the end.

  CARGO_TARGET_DIR=/path/rel cargo build --release -p sysmon-exporter -p sysmon-top
  deploy/fleet/measure.py --exporter /path/rel/release/sysmon-exporter --top /path/rel/release/sysmon-top
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fleet import Fleet, cpu_seconds, find_exporter, rss_bytes, REPO  # noqa: E402

PORTS = {
    "EXPORTER": 29101,
    "PROMETHEUS": 29090,
    "ALERTMANAGER": 29093,
    "GRAFANA": 29300,
    "VICTORIAMETRICS": 29428,
    "VMAGENT": 29429,
    "VMALERT": 29880,
}
PROCESSES = {
    "prometheus": ["prometheus"],
    "victoriametrics": ["victoriametrics", "vmagent", "vmalert"],
}


def http_get(url: str, timeout: float = 30) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def metric_sum(text: str, name: str, label_filter: str = "") -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and (line[len(name)] in " {") and label_filter in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def query(base: str, expr: str, instant: bool, range_s: int) -> tuple[float, dict]:
    now = time.time()
    if instant:
        params = {"query": expr, "time": f"{now:.3f}"}
        path = "/api/v1/query"
    else:
        params = {"query": expr, "start": f"{now - range_s:.3f}", "end": f"{now:.3f}", "step": "15"}
        path = "/api/v1/query_range"
    data = urllib.parse.urlencode(params).encode()
    t = time.perf_counter()
    with urllib.request.urlopen(base + path, data=data, timeout=60) as r:
        body = json.loads(r.read())
    return (time.perf_counter() - t) * 1000, body


def dashboard_queries() -> list[tuple[str, str, bool]]:
    d = json.loads((REPO / "grafana/dashboards/fleet.json").read_text())
    out = []

    def walk(panels):
        for p in panels:
            for t in p.get("targets", []):
                expr = (
                    t["expr"]
                    .replace("$__rate_interval", "1m")
                    .replace("$__range", "1h")
                    .replace("$__interval", "15s")
                    .replace("$job", "sysmon")
                    .replace("$instance", ".*")
                )
                out.append((p.get("title", ""), expr, bool(t.get("instant"))))
            walk(p.get("panels", []))

    walk(d["panels"])
    return out


def recording_rules() -> list[tuple[str, str]]:
    import yaml  # PyYAML (Debian python3-yaml); only for this part

    rules = []
    for f in sorted((REPO / "alert-rules").glob("*.rules.yml")):
        for g in yaml.safe_load(f.read_text())["groups"]:
            for r in g["rules"]:
                if "record" in r:
                    rules.append((r["record"], r["expr"]))
    return rules


def timed(fn, repeat: int) -> tuple[float, float]:
    times = [fn() for _ in range(repeat)]
    return statistics.median(times), max(times)


class Run:
    def __init__(self, backend: str, fleet: Fleet, args, work: Path) -> None:
        self.backend = backend
        self.fleet = fleet
        self.args = args
        self.state = work / backend
        self.env = dict(os.environ)
        for k in list(self.env):
            if k.startswith("SYSMON_STACK_"):
                del self.env[k]
        self.env.update({f"SYSMON_STACK_{k}_PORT": str(v) for k, v in PORTS.items()})
        self.env.update(
            {
                "SYSMON_STACK_DIR": str(self.state),
                "SYSMON_EXPORTER_BIN": str(args.exporter),
                "SYSMON_STACK_GRAFANA": "no",
                "SYSMON_STACK_SCRAPE_INTERVAL": "15s",
            }
        )
        self.query_url = f"http://127.0.0.1:{PORTS['VICTORIAMETRICS' if backend == 'victoriametrics' else 'PROMETHEUS']}"

    def stack(self, *command: str) -> None:
        subprocess.run(["bash", str(REPO / "deploy/stack.sh"), *command], env=self.env, check=True)

    def pid(self, component: str) -> int:
        return int((self.state / "run" / f"{component}.pid").read_text())

    def wait(self, seconds: float, each=None) -> None:
        end = time.monotonic() + seconds
        last = getattr(self, "_last_step", time.monotonic())
        while time.monotonic() < end:
            time.sleep(1)
            last = self.fleet.tick(time.monotonic(), last)
            if each:
                each()
        self._last_step = last

    def ingested(self) -> float:
        if self.backend == "prometheus":
            text = http_get(f"http://127.0.0.1:{PORTS['PROMETHEUS']}/metrics")
            return metric_sum(text, "prometheus_tsdb_head_samples_appended_total")
        text = http_get(f"http://127.0.0.1:{PORTS['VICTORIAMETRICS']}/metrics")
        return metric_sum(text, "vm_rows_inserted_total")

    def measure(self) -> dict:
        (self.state / "prometheus/targets").mkdir(parents=True, exist_ok=True)
        self.fleet.targets_file = self.state / "prometheus/targets/fleet.yml"
        self.fleet.write_targets()
        self.stack("up", "--backend", self.backend)
        result: dict = {"backend": self.backend}
        try:
            print(f"measure: {self.backend}: warming up {self.args.warmup} s", file=sys.stderr)
            self.wait(self.args.warmup)
            procs = {c: self.pid(c) for c in PROCESSES[self.backend]}
            peak = {c: 0 for c in procs}
            peak_exporters = 0

            def sample_rss():
                nonlocal peak_exporters
                for c, p in procs.items():
                    peak[c] = max(peak[c], rss_bytes(p))
                peak_exporters = max(peak_exporters, self.fleet.exporters_rss_bytes())

            cpu0 = {c: cpu_seconds(p) for c, p in procs.items()}
            exp0 = self.fleet.exporters_cpu_seconds()
            ing0, t0 = self.ingested(), time.monotonic()
            scraped_expr = 'sum(scrape_samples_scraped{job="sysmon"})'
            print(f"measure: {self.backend}: measuring {self.args.window} s", file=sys.stderr)
            self.wait(self.args.window, each=sample_rss)
            elapsed = time.monotonic() - t0
            ing1 = self.ingested()
            result["window_s"] = round(elapsed, 1)
            result["samples_appended_per_s"] = round((ing1 - ing0) / elapsed, 1)
            _, body = query(self.query_url, scraped_expr, True, 0)
            per_scrape = float(body["data"]["result"][0]["value"][1])
            result["samples_per_scrape_all_targets"] = per_scrape
            result["samples_scraped_per_s"] = round(per_scrape / 15, 1)
            result["cpu_cores"] = {c: round((cpu_seconds(p) - cpu0[c]) / elapsed, 4) for c, p in procs.items()}
            result["peak_rss_mib"] = {c: round(v / 2**20, 1) for c, v in peak.items()}
            result["exporters_cpu_cores"] = round((self.fleet.exporters_cpu_seconds() - exp0) / elapsed, 4)
            result["exporters_peak_rss_mib"] = round(peak_exporters / 2**20, 1)
            result["exporters_running"] = len(self.fleet.exporter_pids())
            # The machine is shared: what else ran shows in the load average.
            result["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)

            _, body = query(self.query_url, 'count by (instance, kind) ({job="sysmon",fleet="simulated"})', True, 0)
            by_kind: dict[str, list[float]] = {}
            for r in body["data"]["result"]:
                by_kind.setdefault(r["metric"].get("kind", "?"), []).append(float(r["value"][1]))
            result["series_per_host"] = {
                k: {"hosts": len(v), "mean": round(statistics.mean(v)), "max": int(max(v))} for k, v in sorted(by_kind.items())
            }
            _, body = query(self.query_url, 'count({job="sysmon"})', True, 0)
            result["series_total"] = int(float(body["data"]["result"][0]["value"][1]))
            if self.backend == "victoriametrics":
                text = http_get(f"{self.query_url}/metrics")
                size = metric_sum(text, "vm_data_size_bytes")
                rows = metric_sum(text, "vm_rows", "type=")
                result["store_bytes_per_sample"] = round(size / rows, 3) if rows else None

            # Query latency.
            repeat = self.args.repeat
            dash = []
            for title, expr, instant in dashboard_queries():
                med, worst = timed(lambda: query(self.query_url, expr, instant, self.args.range)[0], repeat)
                _, body = query(self.query_url, expr, instant, self.args.range)
                dash.append(
                    {
                        "panel": title,
                        "instant": instant,
                        "median_ms": round(med, 1),
                        "max_ms": round(worst, 1),
                        "series": len(body["data"]["result"]) if isinstance(body["data"]["result"], list) else 1,
                        "expr": expr[:80],
                    }
                )
            result["fleet_dashboard"] = dash
            result["fleet_dashboard_sum_of_medians_ms"] = round(sum(q["median_ms"] for q in dash), 1)
            result["fleet_dashboard_slowest_ms"] = max(q["median_ms"] for q in dash)

            def top_once() -> float:
                t = time.perf_counter()
                out = subprocess.run(
                    [str(self.args.top), "--prometheus", self.query_url, "--once"],
                    capture_output=True,
                    text=True,
                    env={k: v for k, v in os.environ.items() if not k.startswith("SYSMON_PROMETHEUS")},
                )
                ms = (time.perf_counter() - t) * 1000
                if out.returncode != 0:
                    raise SystemExit(f"sysmon-top --once failed: {out.stderr}")
                top_once.rows = len(out.stdout.splitlines()) - 1
                return ms

            med, worst = timed(top_once, repeat)
            result["sysmon_top_once"] = {"median_ms": round(med, 1), "max_ms": round(worst, 1), "rows": top_once.rows}

            # sysmon-top's fleet refresh as it would be on the recording rules alone: its
            # columns' rules (every `instance:` rule of alert-rules/), up, uname and the active
            # anomalies, sent at once as it sends them.
            refresh = [f'{name}{{job="sysmon"}}' for name, _ in recording_rules() if name.startswith("instance:")]
            refresh += ['up{job="sysmon"}', 'node_uname_info{job="sysmon"}', 'sysmon_anomaly_active{job="sysmon"} == 1']

            def refresh_once() -> float:
                t = time.perf_counter()
                with ThreadPoolExecutor(len(refresh)) as pool:
                    list(pool.map(lambda e: query(self.query_url, e, True, 0), refresh))
                return (time.perf_counter() - t) * 1000

            med, worst = timed(refresh_once, repeat)
            result["fleet_refresh_rules_only"] = {"queries": len(refresh), "median_ms": round(med, 1), "max_ms": round(worst, 1)}

            rules = []
            for name, expr in recording_rules():
                by_name, _ = timed(lambda: query(self.query_url, f'{name}{{job="sysmon"}}', True, 0)[0], repeat)
                raw, _ = timed(lambda: query(self.query_url, expr, True, 0)[0], repeat)
                rules.append({"rule": name, "by_name_ms": round(by_name, 1), "raw_ms": round(raw, 1)})
            result["recording_rules"] = rules
        finally:
            self.stack("down")
        return result


def markdown(results: list[dict]) -> str:
    b = [r["backend"] for r in results]
    out = ["| | " + " | ".join(b) + " |", "|---|" + "---|" * len(b)]

    def row(label, f):
        out.append(f"| {label} | " + " | ".join(str(f(r)) for r in results) + " |")

    row("samples appended by the store /s", lambda r: r["samples_appended_per_s"])
    row("samples scraped /s", lambda r: r["samples_scraped_per_s"])
    row("series (job sysmon)", lambda r: r["series_total"])
    row("CPU, cores", lambda r: ", ".join(f"{k} {v}" for k, v in r["cpu_cores"].items()))
    row("peak RSS, MiB", lambda r: ", ".join(f"{k} {v}" for k, v in r["peak_rss_mib"].items()))
    row("exporters' CPU, cores (all)", lambda r: r["exporters_cpu_cores"])
    row("exporters' RSS, MiB (all)", lambda r: r["exporters_peak_rss_mib"])
    row("load average (1 min) at the end of the window", lambda r: r["load_average_1m_at_end"])
    row("fleet dashboard, sum of query medians, ms", lambda r: r["fleet_dashboard_sum_of_medians_ms"])
    row("fleet dashboard, slowest query, ms", lambda r: r["fleet_dashboard_slowest_ms"])
    row("sysmon-top --once, median / max ms", lambda r: f'{r["sysmon_top_once"]["median_ms"]} / {r["sysmon_top_once"]["max_ms"]}')
    row("fleet refresh on the rules alone, median / max ms", lambda r: f'{r["fleet_refresh_rules_only"]["median_ms"]} / {r["fleet_refresh_rules_only"]["max_ms"]}')
    out.append("")
    out.append("| recording rule | " + " | ".join(f"{x}: by name / raw, ms" for x in b) + " |")
    out.append("|---|" + "---|" * len(b))
    for i, rule in enumerate(results[0]["recording_rules"]):
        cells = [f'{r["recording_rules"][i]["by_name_ms"]} / {r["recording_rules"][i]["raw_ms"]}' for r in results]
        out.append(f"| `{rule['rule']}` | " + " | ".join(cells) + " |")
    out.append("")
    out.append("| fleet dashboard query | " + " | ".join(f"{x} median ms" for x in b) + " |")
    out.append("|---|" + "---|" * len(b))
    for i, q in enumerate(results[0]["fleet_dashboard"]):
        kind = "instant" if q["instant"] else "range"
        out.append(f"| {q['panel']} ({kind}) | " + " | ".join(str(r["fleet_dashboard"][i]["median_ms"]) for r in results) + " |")
    return "\n".join(out)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hosts", type=int, default=100)
    p.add_argument("--backends", default="prometheus,victoriametrics")
    p.add_argument("--warmup", type=int, default=90)
    p.add_argument("--window", type=int, default=180)
    p.add_argument("--range", type=int, default=900, help="range queries' span, seconds (default 900)")
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--exporter")
    p.add_argument("--top", type=Path, default=REPO / "target/release/sysmon-top")
    p.add_argument("--out", type=Path, help="also write the JSON here")
    args = p.parse_args()
    args.exporter = find_exporter(args.exporter)
    backends = args.backends.split(",")
    for b in backends:
        if b not in PROCESSES:
            p.error(f"--backends: expected prometheus and/or victoriametrics, found {b!r}")
    work = Path(tempfile.mkdtemp(prefix="sysmon-measure-"))
    fleet = Fleet(args.hosts, work / "fleet.yml", args.exporter, 15.0, log=lambda m: print(m, file=sys.stderr))
    results = []
    try:
        t = time.monotonic()
        fleet.start()
        print(f"measure: fleet started in {time.monotonic() - t:.0f} s", file=sys.stderr)
        for b in backends:
            results.append(Run(b, fleet, args, work).measure())
    finally:
        fleet.stop()
        subprocess.run(["rm", "-rf", str(work)])
    text = json.dumps({"hosts": args.hosts, "cores": os.cpu_count(), "results": results}, indent=1)
    if args.out:
        args.out.write_text(text)
    print(text)
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
