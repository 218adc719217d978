#!/usr/bin/env python3
"""Writes grafana/dashboards/{fleet,host,anomalies,processes}.json from the compact definitions.

The four dashboards share their variables (the processes dashboard adds its group selector after
them), their datasource, their links and their layout rules; writing them from one place keeps
them the same. The JSON files are committed (Grafana provisions
them as they are) and stack-tests/tests/dashboards.rs fails when they differ from what this script
writes, so after changing a definition run:

    python3 grafana/generate.py            # rewrites grafana/dashboards/*.json
    python3 grafana/generate.py --out DIR  # writes them to DIR instead (what the test does)

Only the Python standard library is used.

Conventions (checked by the test):
* every panel and every query uses the datasource variable, `${datasource}`;
* every rate(), irate() and increase() window is `$__rate_interval`, except increase() over
  `$__range` in an instant query ("how many times in the shown time range");
* every panel has a unit and a description;
* general panels use only node_exporter metric names, so plain node_exporter hosts show up
  wherever they have the data; `sysmon_*` metrics appear only in USB, anomaly and process
  panels, and process panels read process-exporter's `namedprocess_*` names.
"""

import argparse
import json
import pathlib

DS = {"type": "prometheus", "uid": "${datasource}"}

# The label matchers every query starts with.
SEL = 'job=~"$job",instance=~"$instance"'

# Filesystems the fleet views leave out (the same list as the recording rule
# instance:node_filesystem_utilisation:max_ratio in alert-rules/sysmon.rules.yml).
FS_PSEUDO = 'fstype!~"tmpfs|ramfs|devtmpfs|squashfs|iso9660|overlay|nsfs"'

# Block devices whose I/O is already counted on the disks under them (as in the recording rule
# instance:node_disk_read_write_bytes:rate5m).
DISK_VIRTUAL = 'device!~"dm-.*|md.*"'

RATE = "$__rate_interval"


def m(name, *extra):
    """A selector of `name` with the dashboard's job and instance matchers and any extra ones."""
    return "%s{%s}" % (name, ",".join((SEL,) + extra))


# CPU busy, 0-1: the share of counted CPU time spent neither idle nor waiting for I/O (the
# exporter's cpu_high rule and the recording rule instance:node_cpu_utilisation:rate5m use the same
# definition). A ratio of counted time, so it stays exact when the kernel's accounting runs slower
# or faster than the wall clock (VMs); no value while the counters do not move.
def cpu_busy(by):
    return "sum by (%s) (rate(%s[%s])) / (sum by (%s) (rate(%s[%s])) > 0)" % (
        by,
        m("node_cpu_seconds_total", 'mode!~"idle|iowait"'),
        RATE,
        by,
        m("node_cpu_seconds_total"),
        RATE,
    )


def sensor_label(expr):
    """Adds node_hwmon_sensor_label's `label` (e.g. "Core 0") to a per-sensor expression; sensors
    without a label are kept, without it."""
    on = "on (job, instance, chip, sensor)"
    return "(%s) * %s group_left (label) %s or %s (%s)" % (
        expr,
        on,
        m("node_hwmon_sensor_label"),
        on,
        expr,
    )


# ---------------------------------------------------------------------------------------------
# Panel building blocks


def target(expr, legend="", instant=False, table=False):
    t = {"datasource": DS, "editorMode": "code", "expr": expr}
    if instant:
        t.update({"instant": True, "range": False})
    else:
        t.update({"instant": False, "range": True})
    if table:
        t["format"] = "table"
    if legend:
        t["legendFormat"] = legend
    return t


def thresholds(*steps):
    """thresholds("green", 0.8, "orange", 0.9, "red"): a base colour, then value, colour pairs."""
    out = [{"color": steps[0], "value": None}]
    for i in range(1, len(steps), 2):
        out.append({"color": steps[i + 1], "value": steps[i]})
    return {"mode": "absolute", "steps": out}


GREEN = thresholds("green")
UTILISATION = thresholds("green", 0.8, "orange", 0.9, "red")
ANY_IS_BAD = thresholds("green", 1, "red")
UP_MAPPING = [
    {
        "type": "value",
        "options": {
            "0": {"color": "red", "index": 0, "text": "down"},
            "1": {"color": "green", "index": 1, "text": "up"},
        },
    }
]
ACTIVE_MAPPING = [
    {
        "type": "value",
        "options": {
            "0": {"color": "transparent", "index": 0, "text": "quiet"},
            "1": {"color": "red", "index": 1, "text": "active"},
        },
    }
]


SYNC_MAPPING = [
    {
        "type": "value",
        "options": {
            "0": {"color": "red", "index": 0, "text": "not synchronised"},
            "1": {"color": "green", "index": 1, "text": "synchronised"},
        },
    }
]


def text_states(good, warn=(), bad=()):
    """Value mappings colouring a text column: `good` states green, `warn` orange, `bad` red."""
    options = {}
    for i, (states, colour) in enumerate(((good, "green"), (warn, "orange"), (bad, "red"))):
        for state in states:
            options[state] = {"color": colour, "index": len(options), "text": state}
    return [{"type": "value", "options": options}]


MD_STATES = text_states(["active"], ["recovering", "resync", "check"], ["inactive"])
ZFS_STATES = text_states(["online"], ["degraded"],
                         ["faulted", "offline", "removed", "unavail", "suspended"])
NVME_STATES = text_states(["live"], ["resetting", "connecting", "new"], ["dead", "deleting"])


# Problems the storage and hardware-health alerts of alert-rules/sysmon.rules.yml fire on, one
# series per array, bond, pool, controller or memory controller at fault (the conditions
# without the alerts' waits): degraded, inactive or failed-disk md arrays, bonds with a link
# down, ZFS pools not ONLINE, NVMe controllers not live, and EDAC memory controllers that counted
# an uncorrectable error in the shown range.
def hardware_problems():
    return " or ".join([
        "(%s > ignoring (state) %s)" % (m("node_md_disks_required"),
                                        m("node_md_disks", 'state="active"')),
        "(%s > 0)" % m("node_md_disks", 'state="failed"'),
        "(%s == 1)" % m("node_md_state", 'state="inactive"'),
        "(%s < %s)" % (m("node_bonding_active"), m("node_bonding_slaves")),
        "(%s == 0)" % m("node_zfs_zpool_state", 'state="online"'),
        m("node_nvme_info", 'state!="live"'),
        "(increase(%s[$__range]) > 0)" % m("node_edac_uncorrectable_errors_total"),
    ])


def dashed(regex):
    """An override drawing the series whose name matches `regex` as a dashed line without fill:
    a limit or a scale drawn with the values it bounds."""
    return {"matcher": {"id": "byRegexp", "options": regex},
            "properties": [{"id": "custom.lineStyle", "value": {"fill": "dash", "dash": [10, 10]}},
                           {"id": "custom.fillOpacity", "value": 0}]}


def rate(name, *extra):
    """rate() of a counter over the dashboard's rate interval."""
    return "rate(%s[%s])" % (m(name, *extra), RATE)


def panel(kind, title, description, unit, targets, w, h, options, defaults=None, overrides=None,
          transformations=None):
    refs = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    for ref, t in zip(refs, targets):
        t["refId"] = ref
    fd = {"unit": unit}
    fd.update(defaults or {})
    fd.setdefault("thresholds", GREEN)
    p = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DS,
        "gridPos": {"w": w, "h": h},
        "fieldConfig": {"defaults": fd, "overrides": overrides or []},
        "options": options,
        "targets": targets,
    }
    if transformations:
        p["transformations"] = transformations
    return p


LEGEND_TABLE = {
    "showLegend": True,
    "displayMode": "table",
    "placement": "right",
    "calcs": ["lastNotNull", "max"],
    "sortBy": "Max",
    "sortDesc": True,
}
LEGEND_LIST = {"showLegend": True, "displayMode": "list", "placement": "bottom", "calcs": []}


def timeseries(title, description, unit, targets, w=12, h=8, stack=False, bars=False, minimum=0,
               maximum=None, legend=None, overrides=None, decimals=None):
    custom = {
        "drawStyle": "bars" if bars else "line",
        "lineWidth": 1,
        "fillOpacity": 60 if bars else (25 if stack else 10),
        "gradientMode": "none",
        "showPoints": "never",
        "spanNulls": False,
        "stacking": {"mode": "normal" if stack else "none", "group": "A"},
        "axisPlacement": "auto",
    }
    defaults = {"custom": custom, "color": {"mode": "palette-classic"}}
    if minimum is not None:
        defaults["min"] = minimum
    if maximum is not None:
        defaults["max"] = maximum
    if decimals is not None:
        defaults["decimals"] = decimals
    options = {
        "legend": legend or LEGEND_TABLE,
        "tooltip": {"mode": "multi", "sort": "desc"},
    }
    return panel("timeseries", title, description, unit, targets, w, h, options, defaults,
                 overrides)


def stat(title, description, unit, targets, w=4, h=4, steps=GREEN, mappings=None,
         color_mode="value", text_mode="auto", decimals=None):
    defaults = {"thresholds": steps, "color": {"mode": "thresholds"}}
    if mappings:
        defaults["mappings"] = mappings
    if decimals is not None:
        defaults["decimals"] = decimals
    options = {
        "colorMode": color_mode,
        "graphMode": "none",
        "justifyMode": "auto",
        "orientation": "auto",
        "textMode": text_mode,
        "wideLayout": True,
        "showPercentChange": False,
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
    }
    for t in targets:
        t.update({"instant": True, "range": False})
    return panel("stat", title, description, unit, targets, w, h, options, defaults)


def bargauge(title, description, unit, targets, w=12, h=8, steps=UTILISATION, minimum=0,
             maximum=None):
    defaults = {"thresholds": steps, "color": {"mode": "thresholds"}, "min": minimum}
    if maximum is not None:
        defaults["max"] = maximum
    options = {
        "displayMode": "gradient",
        "orientation": "horizontal",
        "valueMode": "color",
        "namePlacement": "auto",
        "showUnfilled": True,
        "sizing": "auto",
        "minVizHeight": 16,
        "minVizWidth": 8,
        "maxVizHeight": 300,
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
    }
    for t in targets:
        t.update({"instant": True, "range": False})
    return panel("bargauge", title, description, unit, targets, w, h, options, defaults)


def gauge(title, description, unit, targets, w=6, h=8, steps=UTILISATION):
    defaults = {"thresholds": steps, "color": {"mode": "thresholds"}, "min": 0, "max": 1}
    options = {
        "showThresholdLabels": False,
        "showThresholdMarkers": True,
        "sizing": "auto",
        "minVizHeight": 75,
        "minVizWidth": 75,
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
    }
    for t in targets:
        t.update({"instant": True, "range": False})
    return panel("gauge", title, description, unit, targets, w, h, options, defaults)


def column(name, unit=None, cell=None, steps=None, mappings=None, decimals=None, links=None,
           width=None, minimum=None, maximum=None):
    """A table column override, matched by the column's (renamed) display name."""
    props = []
    if unit:
        props.append({"id": "unit", "value": unit})
    if decimals is not None:
        props.append({"id": "decimals", "value": decimals})
    if minimum is not None:
        props.append({"id": "min", "value": minimum})
    if maximum is not None:
        props.append({"id": "max", "value": maximum})
    if steps:
        props.append({"id": "thresholds", "value": steps})
        props.append({"id": "color", "value": {"mode": "thresholds"}})
    if mappings:
        props.append({"id": "mappings", "value": mappings})
    if cell:
        props.append({"id": "custom.cellOptions", "value": cell})
    if links:
        props.append({"id": "links", "value": links})
    if width:
        props.append({"id": "custom.width", "value": width})
    return {"matcher": {"id": "byName", "options": name}, "properties": props}


GAUGE_CELL = {"type": "gauge", "mode": "basic", "valueDisplayMode": "text"}
COLOR_CELL = {"type": "color-background", "mode": "basic"}
TEXT_CELL = {"type": "color-text"}


def table(title, description, unit, targets, columns, order, w=24, h=8, sort=None, overrides=(),
          single_value=None):
    """An instant table. `columns` maps each query's value column to a display name ("Value #A"
    with several queries; `single_value` names the lone "Value" column of a single query);
    `order` lists the columns to show, in order; everything else is hidden."""
    for t in targets:
        t.update({"instant": True, "range": False, "format": "table"})
    rename = dict(columns)
    if single_value:
        rename["Value"] = single_value
    transformations = []
    if len(targets) > 1:
        transformations.append({"id": "merge", "options": {}})
    shown = {}
    for i, name in enumerate(order):
        shown[name] = i
    source_order = {}
    for src, dst in rename.items():
        if dst in shown:
            source_order[src] = shown[dst]
    for name, i in shown.items():
        if name not in rename.values():
            source_order[name] = i
    # Keep only the shown columns (by their names in the query result: job, __name__ and any
    # target labels from file_sd go), then rename and order them.
    keep = [src for src, dst in rename.items() if dst in shown]
    keep += [name for name in order if name not in rename.values()]
    transformations.append(
        {"id": "filterFieldsByName", "options": {"include": {"names": keep}}}
    )
    transformations.append(
        {
            "id": "organize",
            "options": {
                "excludeByName": {},
                "indexByName": source_order,
                "renameByName": {src: dst for src, dst in rename.items() if dst in shown},
            },
        }
    )
    options = {
        "showHeader": True,
        "cellHeight": "sm",
        "footer": {"show": False, "reducer": ["sum"], "countRows": False, "fields": ""},
    }
    if sort:
        options["sortBy"] = [{"displayName": sort[0], "desc": sort[1]}]
    defaults = {
        "custom": {"align": "auto", "cellOptions": {"type": "auto"}, "inspect": False,
                   "filterable": False},
        "color": {"mode": "thresholds"},
    }
    return panel("table", title, description, unit, targets, w, h, options, defaults,
                 list(overrides), transformations)


def state_timeline(title, description, targets, w=24, h=10):
    defaults = {
        "unit": "none",
        "custom": {"fillOpacity": 80, "lineWidth": 0, "hideFrom": {"legend": False,
                                                                  "tooltip": False,
                                                                  "viz": False}},
        "color": {"mode": "thresholds"},
        "thresholds": thresholds("transparent", 1, "red"),
        "mappings": ACTIVE_MAPPING,
    }
    options = {
        "mergeValues": True,
        "showValue": "never",
        "alignValue": "left",
        "rowHeight": 0.8,
        "legend": {"showLegend": False, "displayMode": "list", "placement": "bottom"},
        "tooltip": {"mode": "single", "sort": "none"},
    }
    return panel("state-timeline", title, description, "none", targets, w, h, options, defaults)


def row(title):
    return {"type": "row", "title": title, "collapsed": False, "panels": []}


# ---------------------------------------------------------------------------------------------
# Dashboard building blocks


# The refId Grafana's Prometheus variable editor gives its query.
VARIABLE_REF = "PrometheusVariableQueryEditor-VariableQuery"


def variables():
    return [
        {
            "name": "datasource",
            "label": "Data source",
            "type": "datasource",
            "query": "prometheus",
            "current": {"selected": False, "text": "Prometheus (sysmon)",
                        "value": "sysmon-prometheus"},
            "hide": 0,
            "includeAll": False,
            "multi": False,
            "options": [],
            "refresh": 1,
            "regex": "",
            "skipUrlSync": False,
        },
        {
            "name": "job",
            "label": "Job",
            "description": "Prometheus jobs to show; sysmon exporters are in job sysmon, plain "
                           "node_exporter hosts usually in their own job (All shows every job).",
            "type": "query",
            "datasource": DS,
            "query": {"query": "label_values(up, job)", "refId": VARIABLE_REF},
            "definition": "label_values(up, job)",
            "current": {"selected": True, "text": ["sysmon"], "value": ["sysmon"]},
            "hide": 0,
            "includeAll": True,
            "allValue": ".+",
            "multi": True,
            "options": [],
            "refresh": 2,
            "regex": "",
            "skipUrlSync": False,
            "sort": 1,
        },
        {
            "name": "instance",
            "label": "Instance",
            "description": "Hosts (scrape targets) of the selected jobs; several may be picked.",
            "type": "query",
            "datasource": DS,
            "query": {"query": 'label_values(up{job=~"$job"}, instance)',
                      "refId": VARIABLE_REF},
            "definition": 'label_values(up{job=~"$job"}, instance)',
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
            "hide": 0,
            "includeAll": True,
            "allValue": ".+",
            "multi": True,
            "options": [],
            "refresh": 2,
            "regex": "",
            "skipUrlSync": False,
            "sort": 1,
        },
    ]


def layout(items):
    """Places panels left to right, wrapping at Grafana's 24 columns; a row starts a new line.
    Assigns ids in order."""
    x = y = line_h = 0
    out = []
    for pid, p in enumerate(items, start=1):
        p["id"] = pid
        if p["type"] == "row":
            if x:
                y += line_h
            p["gridPos"] = {"h": 1, "w": 24, "x": 0, "y": y}
            y += 1
            x = line_h = 0
        else:
            w, h = p["gridPos"]["w"], p["gridPos"]["h"]
            if x + w > 24:
                y += line_h
                x = line_h = 0
            p["gridPos"] = {"h": h, "w": w, "x": x, "y": y}
            x += w
            line_h = max(line_h, h)
        out.append(p)
    return out


def dashboard(uid, title, description, panels, extra_variables=()):
    """A dashboard with the shared variables, then `extra_variables` (its own, e.g. the process
    dashboard's group selector)."""
    return {
        "annotations": {
            "list": [
                {
                    "builtIn": 1,
                    "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                    "enable": True,
                    "hide": True,
                    "iconColor": "rgba(0, 211, 255, 1)",
                    "name": "Annotations & Alerts",
                    "type": "dashboard",
                }
            ]
        },
        "description": description,
        "editable": True,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "id": None,
        "links": [
            {
                "title": "sysmon",
                "type": "dashboards",
                "tags": ["sysmon"],
                "asDropdown": False,
                "includeVars": True,
                "keepTime": True,
                "icon": "external link",
                "targetBlank": False,
                "tooltip": "",
                "url": "",
            }
        ],
        "panels": layout(panels),
        "refresh": "30s",
        "schemaVersion": 39,
        "tags": ["sysmon"],
        "templating": {"list": variables() + list(extra_variables)},
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "timezone": "browser",
        "title": title,
        "uid": uid,
        "version": 1,
        "weekStart": "",
    }


HOST_LINK = [
    {
        "title": "Open the host page for ${__value.raw}",
        "url": "/d/sysmon-host/sysmon-host?${datasource:queryparam}&${job:queryparam}"
               "&var-instance=${__value.raw}&${__url_time_range}",
        "targetBlank": False,
    }
]


# ---------------------------------------------------------------------------------------------
# Fleet overview


def fleet():
    utilisation = " or ".join(
        'label_replace(%s, "r", "%s", "", "")' % (m(rule), name)
        for rule, name in [
            ("instance:node_cpu_utilisation:rate5m", "cpu"),
            ("instance:node_memory_utilisation:ratio", "memory"),
            ("instance:node_swap_utilisation:ratio", "swap"),
            ("instance:node_filesystem_utilisation:max_ratio", "filesystem"),
        ]
    )
    badness = (
        "sum by (instance) ("
        'label_replace(max by (instance) (%s), "r", "utilisation", "", "")'
        ' or label_replace(sum by (instance) (%s), "r", "anomalies", "", "")'
        ' or label_replace(10 * (1 - max by (instance) (%s)), "r", "down", "", "")'
        ")"
    ) % (utilisation, m("instance:sysmon_anomaly_active:sum"), m("up"))

    def per_instance(expr):
        return target("max by (instance) (%s)" % expr)

    columns = [
        ("Badness", badness),
        ("Up", m("up")),
        ("CPU", m("instance:node_cpu_utilisation:rate5m")),
        ("Load / core", m("instance:node_load1_per_cpu:ratio")),
        ("Memory", m("instance:node_memory_utilisation:ratio")),
        ("Swap", m("instance:node_swap_utilisation:ratio")),
        ("Hottest sensor", m("instance:node_hwmon_temp_celsius:max")),
        ("Fullest filesystem", m("instance:node_filesystem_utilisation:max_ratio")),
        ("Disk read+write", m("instance:node_disk_read_write_bytes:rate5m")),
        ("Net receive", m("instance:node_network_receive_bytes_excluding_lo:rate5m")),
        ("Net transmit", m("instance:node_network_transmit_bytes_excluding_lo:rate5m")),
        ("USB errors", m("instance:sysmon_usb_errors:rate5m")),
        ("Anomalies", m("instance:sysmon_anomaly_active:sum")),
        ("Hardware problems", None),
    ]
    # Hardware problems: how many arrays, bonds, pools, NVMe and memory controllers are at
    # fault; 0 for every host that is scraped and has none (or has no such hardware).
    problems = "count by (instance) (%s) or max by (instance) (0 * %s)" % (
        hardware_problems(), m("up"))
    targets = ([target(badness)] + [per_instance(expr) for _, expr in columns[1:-1]]
               + [target(problems)])
    refs = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    rename = [("Value #%s" % refs[i], name) for i, (name, _) in enumerate(columns)]
    rename.append(("instance", "Instance"))
    hosts = table(
        "Hosts, worst first",
        "Every host of the selected jobs, one row each, worst first. Badness = the host's highest "
        "utilisation (CPU, memory, swap or fullest filesystem, 0-1) + the number of sysmon "
        "anomalies active on it + 10 when Prometheus cannot scrape it: down hosts come first, "
        "then hosts with anomalies, then the busiest. Values are the 5-minute recording rules of "
        "alert-rules/sysmon.rules.yml. Hottest sensor, USB errors and Anomalies stay empty for "
        "hosts without those sensors or without sysmon-exporter (plain node_exporter). Hardware "
        "problems counts degraded, inactive or failed-disk RAID arrays, bonds with a link down, "
        "ZFS pools not ONLINE, NVMe controllers not live and memory controllers with "
        "uncorrectable errors in the shown range (the storage alerts' conditions); 0 when the "
        "host has none, or none of that hardware. Click an instance to open its host page.",
        "none",
        targets,
        rename,
        ["Instance"] + [name for name, _ in columns],
        h=12,
        sort=("Badness", True),
        overrides=[
            column("Instance", links=HOST_LINK, width=200),
            column("Badness", decimals=2, cell=COLOR_CELL,
                   steps=thresholds("green", 0.8, "orange", 1, "red")),
            column("Up", cell=COLOR_CELL, mappings=UP_MAPPING,
                   steps=thresholds("red", 1, "green")),
            column("CPU", "percentunit", GAUGE_CELL, UTILISATION, minimum=0, maximum=1),
            column("Load / core", "none", TEXT_CELL, thresholds("green", 1, "orange", 2, "red"),
                   decimals=2),
            column("Memory", "percentunit", GAUGE_CELL, UTILISATION, minimum=0, maximum=1),
            column("Swap", "percentunit", GAUGE_CELL, UTILISATION, minimum=0, maximum=1),
            column("Hottest sensor", "celsius", TEXT_CELL,
                   thresholds("green", 75, "orange", 90, "red"), decimals=1),
            column("Fullest filesystem", "percentunit", GAUGE_CELL, UTILISATION, minimum=0,
                   maximum=1),
            column("Disk read+write", "Bps"),
            column("Net receive", "Bps"),
            column("Net transmit", "Bps"),
            column("USB errors", "cps", TEXT_CELL, thresholds("green", 0.001, "red"),
                   decimals=3),
            column("Anomalies", "none", COLOR_CELL, ANY_IS_BAD, decimals=0),
            column("Hardware problems", "none", COLOR_CELL, ANY_IS_BAD, decimals=0),
        ],
    )

    panels = [
        row("Fleet at a glance"),
        stat("Hosts up", "Scrape targets of the selected jobs whose last scrape succeeded "
             "(up == 1), sysmon-exporter and node_exporter alike.", "none",
             [target("count(%s == 1) or vector(0)" % m("up"))]),
        stat("Hosts down", "Scrape targets of the selected jobs that Prometheus could not scrape "
             "last time (up == 0). The fleet table below lists them first.", "none",
             [target("count(%s == 0) or vector(0)" % m("up"))], steps=ANY_IS_BAD,
             color_mode="background"),
        stat("Active anomalies by severity", "Anomaly rules of sysmon-exporter firing now "
             "(sysmon_anomaly_active == 1), summed over the selected hosts, by severity. No value "
             "for hosts without sysmon-exporter.", "none",
             [target("sum by (severity) (%s)" % m("sysmon_anomaly_active"), "{{severity}}")],
             w=8, steps=ANY_IS_BAD, color_mode="background", text_mode="value_and_name"),
        stat("Alerts firing", "Prometheus alerts firing now for the selected jobs and hosts "
             "(ALERTS{alertstate=\"firing\"}); the Anomalies dashboard lists them.", "none",
             [target('count(ALERTS{alertstate="firing",%s}) or vector(0)' % SEL)],
             steps=ANY_IS_BAD, color_mode="background"),
        stat("Hottest sensor", "The hottest hwmon temperature sensor over the selected hosts "
             "(recording rule instance:node_hwmon_temp_celsius:max). No value when no host has "
             "sensors (virtual machines).", "celsius",
             [target("max(%s)" % m("instance:node_hwmon_temp_celsius:max"))],
             steps=thresholds("green", 75, "orange", 90, "red"), decimals=1),
        row("Hosts"),
        hosts,
        row("Fleet trends"),
        timeseries("CPU busy by host", "Share of counted CPU time spent neither idle nor "
                   "waiting for I/O, over all of each host's CPUs (the definition of the "
                   "exporter's cpu_high rule).", "percentunit",
                   [target(cpu_busy("instance"), "{{instance}}")], maximum=1),
        timeseries("Memory used by host", "1 - MemAvailable / MemTotal: memory the kernel could "
                   "not hand to a new program without swapping.", "percentunit",
                   [target("1 - %s / %s" % (m("node_memory_MemAvailable_bytes"),
                                            m("node_memory_MemTotal_bytes")), "{{instance}}")],
                   maximum=1),
        timeseries("Load per core by host", "One-minute load average divided by the number of "
                   "CPUs: above 1, runnable tasks wait for a CPU.", "none",
                   [target("%s / on (job, instance) count by (job, instance) (%s)"
                           % (m("node_load1"), m("node_cpu_seconds_total", 'mode="idle"')),
                           "{{instance}}")], decimals=2),
        timeseries("Fullest filesystem by host", "The fullest filesystem of each host, as users "
                   "see it (1 - available / size), memory-backed and image filesystems left out.",
                   "percentunit",
                   [target("max by (instance) (1 - %s / (%s > 0))"
                           % (m("node_filesystem_avail_bytes", FS_PSEUDO, 'device_error=""'),
                              m("node_filesystem_size_bytes", FS_PSEUDO, 'device_error=""')),
                           "{{instance}}")], maximum=1),
        timeseries("Network throughput by host", "Bytes per second received (up) and "
                   "transmitted (down) over every interface except loopback.", "Bps",
                   [target("sum by (instance) (rate(%s[%s]))"
                           % (m("node_network_receive_bytes_total", 'device!="lo"'), RATE),
                           "{{instance}} receive"),
                    target("-sum by (instance) (rate(%s[%s]))"
                           % (m("node_network_transmit_bytes_total", 'device!="lo"'), RATE),
                           "{{instance}} transmit")], minimum=None),
        timeseries("Disk throughput by host", "Bytes per second read and written, summed over "
                   "each host's physical disks (device-mapper and md devices left out: their I/O "
                   "is counted on the disks under them).", "Bps",
                   [target("sum by (instance) (rate(%s[%s]) + rate(%s[%s]))"
                           % (m("node_disk_read_bytes_total", DISK_VIRTUAL), RATE,
                              m("node_disk_written_bytes_total", DISK_VIRTUAL), RATE),
                           "{{instance}}")]),
        timeseries("Active anomalies by host", "How many sysmon-exporter anomaly rules fire on "
                   "each host (recording rule instance:sysmon_anomaly_active:sum). Hosts without "
                   "sysmon-exporter have no series.", "none",
                   [target(m("instance:sysmon_anomaly_active:sum"), "{{instance}}")],
                   stack=True, bars=True, decimals=0),
        timeseries("USB errors by host", "USB failures the kernel logged per second (timeouts, "
                   "protocol, enumeration, over-current and other errors), by host. Only hosts "
                   "that logged some failure have a series.", "cps",
                   [target("sum by (instance) (rate(%s[%s]))"
                           % (m("sysmon_usb_errors_total"), RATE), "{{instance}}")]),
    ]
    return dashboard(
        "sysmon-fleet",
        "sysmon / Fleet overview",
        "Every host at a glance, worst first: one row per host with its utilisation, "
        "temperature, throughput, USB errors, active anomalies and hardware problems, and the "
        "fleet's trends.",
        panels,
    )


# ---------------------------------------------------------------------------------------------
# Host page


def storage_health():
    """The host page's "Storage health" row: md arrays, ZFS pools, NFS client, NVMe, EDAC and
    bonds. Every panel is empty on a host without that hardware."""
    md_by = "instance, device"
    md_cols = [
        ("State", "max by (%s, state) (%s == 1)" % (md_by, m("node_md_state"))),
        ("Required", "max by (%s) (%s)" % (md_by, m("node_md_disks_required"))),
        ("Active", "max by (%s) (%s)" % (md_by, m("node_md_disks", 'state="active"'))),
        ("Failed", "max by (%s) (%s)" % (md_by, m("node_md_disks", 'state="failed"'))),
        ("Spare", "max by (%s) (%s)" % (md_by, m("node_md_disks", 'state="spare"'))),
        ("Size", "max by (%s) (%s * 1024)" % (md_by, m("node_md_blocks"))),
    ]
    arrays = table(
        "RAID arrays",
        "Every md array of /proc/mdstat: its state (active, inactive, or recovering, resync, "
        "check while it syncs), the member disks its layout needs, the active, failed and spare "
        "ones, and its size. Active below Required is a degraded array (SysmonRaidArrayDegraded); "
        "any Failed disk fires SysmonRaidDiskFailed.",
        "none",
        [target(expr) for _, expr in md_cols],
        [("Value #%s" % "ABCDEF"[i], name) for i, (name, _) in enumerate(md_cols)
         if name != "State"]
        + [("instance", "Instance"), ("device", "Array"), ("state", "State")],
        ["Instance", "Array", "State", "Required", "Active", "Failed", "Spare", "Size"],
        w=14, h=8,
        sort=("Array", False),
        overrides=[
            column("State", cell=COLOR_CELL, mappings=MD_STATES),
            column("Failed", cell=COLOR_CELL, steps=ANY_IS_BAD, decimals=0),
            column("Size", "bytes"),
        ],
    )
    pools = table(
        "ZFS pools",
        "Every imported ZFS pool with its health from /proc/spl/kstat/zfs/<pool>/state "
        "(node_zfs_zpool_state): ONLINE, or DEGRADED, FAULTED, OFFLINE, REMOVED, UNAVAIL, "
        "SUSPENDED (SysmonZfsPoolNotOnline), and how many datasets it has.",
        "none",
        [target("max by (instance, zpool, state) (%s == 1)" % m("node_zfs_zpool_state")),
         target("count by (instance, zpool) (%s)"
                % m("node_zfs_zpool_dataset_writes"))],
        [("Value #B", "Datasets"), ("instance", "Instance"), ("zpool", "Pool"),
         ("state", "State")],
        ["Instance", "Pool", "State", "Datasets"],
        w=10, h=8,
        sort=("Pool", False),
        overrides=[column("State", cell=COLOR_CELL, mappings=ZFS_STATES)],
    )
    nvme = table(
        "NVMe controllers",
        "Every NVMe controller of /sys/class/nvme with its model, serial number, firmware and "
        "state; anything but live for 5 minutes fires SysmonNvmeControllerNotLive.",
        "none",
        [target("max by (instance, device, model, serial, firmware_revision, state) (%s)"
                % m("node_nvme_info"))],
        [("instance", "Instance"), ("device", "Controller"), ("model", "Model"),
         ("serial", "Serial"), ("firmware_revision", "Firmware"), ("state", "State")],
        ["Instance", "Controller", "Model", "Serial", "Firmware", "State"],
        w=12, h=6,
        sort=("Controller", False),
        overrides=[column("State", cell=COLOR_CELL, mappings=NVME_STATES)],
    )
    bonds = table(
        "Bonds",
        "Every bonding interface with its slaves and how many of them are up (MII status); "
        "fewer active than slaves for 5 minutes fires SysmonBondDegraded.",
        "none",
        [target("max by (instance, master) (%s)" % m("node_bonding_slaves")),
         target("max by (instance, master) (%s)" % m("node_bonding_active"))],
        [("Value #A", "Slaves"), ("Value #B", "Active"), ("instance", "Instance"),
         ("master", "Bond")],
        ["Instance", "Bond", "Slaves", "Active"],
        w=12, h=6,
        sort=("Bond", False),
    )
    return [
        row("Storage health"),
        arrays,
        pools,
        timeseries("RAID sync progress", "How far each md array's resync, recovery or check has "
                   "got (node_md_blocks_synced, in bytes) against the array's size (dashed). md "
                   "counts a sync per member disk: a mirror's line climbs to its size, a parity "
                   "or striped array's (raid5, 6, 10) to its size divided by its data disks, and "
                   "then jumps to the size when the sync ends. With no sync running the two lines "
                   "are one.", "bytes",
                   [target("%s * 1024" % m("node_md_blocks_synced"), "{{instance}} {{device}} synced"),
                    target("%s * 1024" % m("node_md_blocks"), "{{instance}} {{device}} size")],
                   w=8, overrides=[dashed(".* size")]),
        timeseries("NFS client operations", "NFS operations this host, as a client, sent per "
                   "second, by protocol version (node_nfs_requests_total of /proc/net/rpc/nfs), "
                   "and all RPC calls (dashed).", "ops",
                   [target("sum by (instance, proto) (%s)" % rate("node_nfs_requests_total"),
                           "{{instance}} NFSv{{proto}}"),
                    target(rate("node_nfs_rpcs_total"), "{{instance}} RPC calls")],
                   w=8, overrides=[dashed(".* RPC calls")]),
        timeseries("NFS retransmissions", "RPC calls the NFS client had to send again per "
                   "second because the server did not answer in time (timeo), and authentication "
                   "refreshes. Retransmissions mean a slow or unreachable server or a lossy "
                   "network; with hard mounts, programs wait meanwhile.", "ops",
                   [target(rate("node_nfs_rpc_retransmissions_total"),
                           "{{instance}} retransmissions"),
                    target(rate("node_nfs_rpc_authentication_refreshes_total"),
                           "{{instance}} authentication refreshes")], w=8),
        nvme,
        bonds,
        timeseries("Memory errors (EDAC)", "Memory errors counted per interval by each EDAC "
                   "memory controller: corrected by ECC (up) and uncorrectable (down, "
                   "SysmonEdacUncorrectableErrors). A steady stream of corrected errors is a "
                   "module wearing out (SysmonEdacCorrectableErrorsRising).", "none",
                   [target("increase(%s[%s])"
                           % (m("node_edac_correctable_errors_total"), RATE),
                           "{{instance}} mc{{controller}} corrected"),
                    target("-increase(%s[%s])"
                           % (m("node_edac_uncorrectable_errors_total"), RATE),
                           "{{instance}} mc{{controller}} uncorrectable")],
                   w=12, minimum=None, bars=True, decimals=0),
        table("Memory errors by csrow",
              "Errors each memory controller has counted since boot, per chip-select row "
              "(csrow: a memory module or one rank of it); csrow \"unknown\" holds the errors "
              "the driver could not place.",
              "none",
              [target("max by (instance, controller, csrow) (%s)"
                      % m("node_edac_csrow_correctable_errors_total")),
               target("max by (instance, controller, csrow) (%s)"
                      % m("node_edac_csrow_uncorrectable_errors_total"))],
              [("Value #A", "Corrected"), ("Value #B", "Uncorrectable"),
               ("instance", "Instance"), ("controller", "Controller"), ("csrow", "Csrow")],
              ["Instance", "Controller", "Csrow", "Corrected", "Uncorrectable"],
              w=12, h=8,
              sort=("Corrected", True),
              overrides=[column("Uncorrectable", cell=COLOR_CELL, steps=ANY_IS_BAD,
                                decimals=0)]),
    ]


def host():
    mem_used = "%s - %s" % (m("node_memory_MemTotal_bytes"), m("node_memory_MemAvailable_bytes"))
    swap_used_ratio = "(1 - %s / %s) and on (job, instance) (%s > 0)" % (
        m("node_memory_SwapFree_bytes"),
        m("node_memory_SwapTotal_bytes"),
        m("node_memory_SwapTotal_bytes"),
    )

    def per_sensor(expr):
        return sensor_label("max by (job, instance, chip, sensor) (%s)" % expr)

    sensors = table(
        "Temperature sensors and their limits",
        "Every hwmon temperature sensor with the limits its driver declares: max (the "
        "manufacturer's recommended maximum) and crit (critical: the hardware throttles or shuts "
        "down). Headroom = crit - current. Drivers that declare no limit leave the cell empty; "
        "placeholder limits (some NVMe drives report 65261.85 °C) are shown as read.",
        "celsius",
        [
            target(per_sensor(m("node_hwmon_temp_celsius"))),
            target(per_sensor(m("node_hwmon_temp_max_celsius"))),
            target(per_sensor(m("node_hwmon_temp_crit_celsius"))),
            target(per_sensor("%s - %s" % (m("node_hwmon_temp_crit_celsius"),
                                           m("node_hwmon_temp_celsius")))),
        ],
        [("Value #A", "Current"), ("Value #B", "Max"), ("Value #C", "Critical"),
         ("Value #D", "Headroom"), ("instance", "Instance"), ("chip", "Chip"),
         ("sensor", "Sensor"), ("label", "Label")],
        ["Instance", "Chip", "Sensor", "Label", "Current", "Max", "Critical", "Headroom"],
        h=10,
        sort=("Headroom", False),
        overrides=[
            column("Current", "celsius", TEXT_CELL, thresholds("green", 75, "orange", 90, "red"),
                   decimals=1),
            column("Headroom", "celsius", COLOR_CELL, thresholds("red", 5, "orange", 15, "green"),
                   decimals=1),
        ],
    )

    fs_cols = [
        ("Size", m("node_filesystem_size_bytes", FS_PSEUDO)),
        ("Available", m("node_filesystem_avail_bytes", FS_PSEUDO)),
        ("Used", "1 - %s / (%s > 0)" % (m("node_filesystem_avail_bytes", FS_PSEUDO),
                                       m("node_filesystem_size_bytes", FS_PSEUDO))),
        ("Inodes used", "1 - %s / (%s > 0)" % (m("node_filesystem_files_free", FS_PSEUDO),
                                              m("node_filesystem_files", FS_PSEUDO))),
        ("Read-only", m("node_filesystem_readonly", FS_PSEUDO)),
    ]
    fs_by = "instance, mountpoint, device, fstype"
    filesystems = table(
        "Filesystem details",
        "Every mounted filesystem except memory-backed and image ones: size, space available to "
        "users, share used (blocks reserved for root count as used, as df shows it), inodes "
        "used, and whether it is mounted read-only.",
        "bytes",
        [target("max by (%s) (%s)" % (fs_by, expr)) for _, expr in fs_cols],
        [("Value #%s" % "ABCDE"[i], name) for i, (name, _) in enumerate(fs_cols)]
        + [("instance", "Instance"), ("mountpoint", "Mount point"), ("device", "Device"),
           ("fstype", "Type")],
        ["Instance", "Mount point", "Device", "Type", "Size", "Available", "Used",
         "Inodes used", "Read-only"],
        w=14, h=10,
        sort=("Used", True),
        overrides=[
            column("Used", "percentunit", GAUGE_CELL, UTILISATION, minimum=0, maximum=1),
            column("Inodes used", "percentunit", GAUGE_CELL, UTILISATION, minimum=0, maximum=1),
            column("Read-only", "none", mappings=[{"type": "value", "options": {
                "0": {"index": 0, "text": "rw"}, "1": {"index": 1, "text": "ro"}}}]),
        ],
    )

    usb_devices = table(
        "USB devices",
        "USB devices attached now (sysmon_usb_device_info), root hubs included: port in the USB "
        "tree, vendor and product ids and strings, speed in Mbit/s, device class (hex) and USB "
        "version. sysmon-exporter only.",
        "none",
        [target(m("sysmon_usb_device_info"))],
        [("instance", "Instance"), ("port", "Port"), ("vendor_id", "Vendor id"),
         ("product_id", "Product id"), ("manufacturer", "Manufacturer"), ("product", "Product"),
         ("speed", "Speed (Mbit/s)"), ("class", "Class"), ("version", "USB version")],
        ["Instance", "Port", "Vendor id", "Product id", "Manufacturer", "Product",
         "Speed (Mbit/s)", "Class", "USB version"],
        w=16, h=8,
        sort=("Port", False),
    )

    anomaly_cols = [
        ("Active", "%s == 1" % m("sysmon_anomaly_active")),
        ("Value", "%s and on (job, instance, rule, subject) (%s == 1)"
         % (m("sysmon_anomaly_value"), m("sysmon_anomaly_active"))),
        ("Threshold", "%s and on (job, instance, rule, subject) (%s == 1)"
         % (m("sysmon_anomaly_threshold"), m("sysmon_anomaly_active"))),
    ]
    anomalies = active_anomalies_table(anomaly_cols, w=12)

    panels = [
        row("Overview"),
        stat("Exporter", "Whether Prometheus scraped the host's exporter last time (up).", "none",
             [target(m("up"), "{{instance}}")], mappings=UP_MAPPING,
             steps=thresholds("red", 1, "green"), color_mode="background"),
        stat("Uptime", "Time since the host booted (node_boot_time_seconds).", "s",
             [target("time() - %s" % m("node_boot_time_seconds"), "{{instance}}")], decimals=1),
        stat("CPUs", "Logical CPUs online.", "none",
             [target('count by (instance) (%s)' % m("node_cpu_seconds_total", 'mode="idle"'),
                     "{{instance}}")]),
        stat("Memory size", "Physical memory (MemTotal).", "bytes",
             [target(m("node_memory_MemTotal_bytes"), "{{instance}}")]),
        stat("CPU busy", "Share of counted CPU time spent neither idle nor waiting for I/O, all "
             "CPUs.",
             "percentunit", [target(cpu_busy("instance"), "{{instance}}")], steps=UTILISATION,
             decimals=1),
        stat("Anomalies now", "sysmon-exporter anomaly rules firing now on the host. No "
             "value on a plain node_exporter host.", "none",
             [target("sum by (instance) (%s)" % m("sysmon_anomaly_active"), "{{instance}}")],
             steps=ANY_IS_BAD, color_mode="background"),
        row("CPU and load"),
        timeseries("CPU by mode", "Share of all CPUs' counted time spent in each mode other "
                   "than idle (user, system, iowait, irq, softirq, steal, nice), stacked.",
                   "percentunit",
                   [target("sum by (instance, mode) (rate(%s[%s])) / on (instance) group_left ()"
                           " (sum by (instance) (rate(%s[%s])) > 0)"
                           % (m("node_cpu_seconds_total", 'mode!="idle"'), RATE,
                              m("node_cpu_seconds_total"), RATE),
                           "{{instance}} {{mode}}")], stack=True, maximum=1),
        timeseries("CPU busy per core", "Each logical CPU's share of counted time spent neither "
                   "idle nor waiting for I/O.", "percentunit",
                   [target(cpu_busy("instance, cpu"), "{{instance}} cpu{{cpu}}")],
                   maximum=1),
        timeseries("Load average", "Run-queue load averages over 1, 5 and 15 minutes, and the "
                   "number of CPUs for scale (dashed).", "none",
                   [target(m("node_load1"), "{{instance}} load1"),
                    target(m("node_load5"), "{{instance}} load5"),
                    target(m("node_load15"), "{{instance}} load15"),
                    target("count by (instance) (%s)"
                           % m("node_cpu_seconds_total", 'mode="idle"'), "{{instance}} CPUs")],
                   decimals=2, overrides=[dashed(".* CPUs")]),
        timeseries("Pressure stall", "Pressure stall information: share of time some task "
                   "waited for CPU, memory or I/O (Linux PSI). No series on kernels without PSI.",
                   "percentunit",
                   [target("rate(%s[%s])" % (m("node_pressure_cpu_waiting_seconds_total"), RATE),
                           "{{instance}} cpu"),
                    target("rate(%s[%s])"
                           % (m("node_pressure_memory_waiting_seconds_total"), RATE),
                           "{{instance}} memory"),
                    target("rate(%s[%s])" % (m("node_pressure_io_waiting_seconds_total"), RATE),
                           "{{instance}} io")]),
        row("Memory and swap"),
        timeseries("Memory", "Used (MemTotal - MemAvailable), page cache and buffers, available, "
                   "and the total.", "bytes",
                   [target(mem_used, "{{instance}} used"),
                    target("%s + %s" % (m("node_memory_Cached_bytes"),
                                        m("node_memory_Buffers_bytes")),
                           "{{instance}} cache and buffers"),
                    target(m("node_memory_MemAvailable_bytes"), "{{instance}} available"),
                    target(m("node_memory_MemTotal_bytes"), "{{instance}} total")]),
        timeseries("Swap", "Swap in use and the swap space configured. No swap, no series above "
                   "zero.", "bytes",
                   [target("%s - %s" % (m("node_memory_SwapTotal_bytes"),
                                        m("node_memory_SwapFree_bytes")), "{{instance}} used"),
                    target(m("node_memory_SwapTotal_bytes"), "{{instance}} total")], w=6),
        gauge("Memory and swap used", "Memory used (1 - MemAvailable / MemTotal) and swap used, "
              "now. Hosts without swap show memory only.", "percentunit",
              [target("1 - %s / %s" % (m("node_memory_MemAvailable_bytes"),
                                       m("node_memory_MemTotal_bytes")), "{{instance}} memory"),
               target(swap_used_ratio, "{{instance}} swap")]),
        row("Memory paging"),
        timeseries("Major page faults", "Page faults per second that had to read the page from "
                   "disk or swap before the program could go on (pgmajfault in /proc/vmstat). A "
                   "sustained rate in the hundreds means the host is short of memory for what "
                   "runs (the SysmonMajorPageFaultsHigh alert fires above 500 a second for 15 "
                   "minutes).", "cps",
                   [target(rate("node_vmstat_pgmajfault"), "{{instance}} major faults")], w=8),
        timeseries("Swap in and out", "Pages per second read back from swap (up) and written "
                   "out to swap (down), from pswpin and pswpout in /proc/vmstat (4 KiB pages on "
                   "x86-64). Steady traffic both ways is thrashing. No swap, flat at zero.", "cps",
                   [target(rate("node_vmstat_pswpin"), "{{instance}} swapped in"),
                    target("-" + rate("node_vmstat_pswpout"), "{{instance}} swapped out")],
                   w=8, minimum=None),
        timeseries("Paging I/O", "Bytes per second the kernel read from (up) and wrote to "
                   "(down) block devices for the page cache and swap: pgpgin and pgpgout of "
                   "/proc/vmstat, which count KiB.", "Bps",
                   [target("%s * 1024" % rate("node_vmstat_pgpgin"), "{{instance}} paged in"),
                    target("-%s * 1024" % rate("node_vmstat_pgpgout"), "{{instance}} paged out")],
                   w=8, minimum=None),
        row("Temperature sensors"),
        timeseries("Temperatures", "Every hwmon temperature sensor (chip, sensor and its label "
                   "when the driver gives one) and every thermal zone. Virtual machines usually "
                   "have none.", "celsius",
                   [target(sensor_label(m("node_hwmon_temp_celsius")),
                           "{{instance}} {{chip}} {{sensor}} {{label}}"),
                    target(m("node_thermal_zone_temp"),
                           "{{instance}} thermal zone {{zone}} ({{type}})")],
                   minimum=None, h=10),
        bargauge("Temperature against critical", "Each sensor's temperature as a share of the "
                 "critical limit its driver declares (tempN_crit); sensors without a limit are "
                 "not shown. Orange from 80 %, red from 95 %.", "percentunit",
                 [target(sensor_label("%s / (%s > 0)" % (m("node_hwmon_temp_celsius"),
                                                         m("node_hwmon_temp_crit_celsius"))),
                         "{{instance}} {{chip}} {{sensor}} {{label}}")],
                 h=10, steps=thresholds("green", 0.8, "orange", 0.95, "red"), maximum=1),
        sensors,
        row("Filesystems"),
        bargauge("Filesystem space used", "Share of each filesystem's space used as users see "
                 "it (1 - available / size), memory-backed and image filesystems left out.",
                 "percentunit",
                 [target("1 - %s / (%s > 0)"
                         % (m("node_filesystem_avail_bytes", FS_PSEUDO),
                            m("node_filesystem_size_bytes", FS_PSEUDO)),
                         "{{instance}} {{mountpoint}}")], w=10, h=10, maximum=1),
        filesystems,
        row("Disk I/O"),
        timeseries("Disk throughput", "Bytes per second read (up) and written (down), per "
                   "block device.", "Bps",
                   [target("rate(%s[%s])" % (m("node_disk_read_bytes_total"), RATE),
                           "{{instance}} {{device}} read"),
                    target("-rate(%s[%s])" % (m("node_disk_written_bytes_total"), RATE),
                           "{{instance}} {{device}} written")], w=8, minimum=None),
        timeseries("Disk operations", "Read and write operations completed per second (up: "
                   "reads, down: writes), per block device.", "iops",
                   [target("rate(%s[%s])" % (m("node_disk_reads_completed_total"), RATE),
                           "{{instance}} {{device}} reads"),
                    target("-rate(%s[%s])" % (m("node_disk_writes_completed_total"), RATE),
                           "{{instance}} {{device}} writes")], w=8, minimum=None),
        timeseries("Disk busy", "Share of time each block device had I/O in flight (io_time): "
                   "near 100 % a spinning disk is saturated (SSDs and NVMe serve many requests "
                   "at once).", "percentunit",
                   [target("rate(%s[%s])" % (m("node_disk_io_time_seconds_total"), RATE),
                           "{{instance}} {{device}}")], w=8, maximum=1),
        *storage_health(),
        row("Network"),
        timeseries("Network throughput", "Bytes per second received (up) and transmitted "
                   "(down), per interface, loopback left out.", "Bps",
                   [target("rate(%s[%s])"
                           % (m("node_network_receive_bytes_total", 'device!="lo"'), RATE),
                           "{{instance}} {{device}} receive"),
                    target("-rate(%s[%s])"
                           % (m("node_network_transmit_bytes_total", 'device!="lo"'), RATE),
                           "{{instance}} {{device}} transmit")], minimum=None),
        timeseries("Network errors and drops", "Packets per second the interface reported as "
                   "errors or dropped, received and transmitted, loopback left out.", "pps",
                   [target("rate(%s[%s])"
                           % (m("node_network_receive_errs_total", 'device!="lo"'), RATE),
                           "{{instance}} {{device}} receive errors"),
                    target("rate(%s[%s])"
                           % (m("node_network_receive_drop_total", 'device!="lo"'), RATE),
                           "{{instance}} {{device}} receive drops"),
                    target("rate(%s[%s])"
                           % (m("node_network_transmit_errs_total", 'device!="lo"'), RATE),
                           "{{instance}} {{device}} transmit errors"),
                    target("rate(%s[%s])"
                           % (m("node_network_transmit_drop_total", 'device!="lo"'), RATE),
                           "{{instance}} {{device}} transmit drops")]),
        row("Network stack"),
        timeseries("TCP connections", "TCP connections established now (CurrEstab of "
                   "/proc/net/snmp), TCP sockets in use, in TIME-WAIT and orphaned (closed by "
                   "their program, still held by the kernel), from /proc/net/sockstat. "
                   "Per-state counts of every state need the tcpstat collector.", "none",
                   [target(m("node_netstat_Tcp_CurrEstab"), "{{instance}} established"),
                    target(m("node_sockstat_TCP_inuse"), "{{instance}} in use"),
                    target(m("node_sockstat_TCP_tw"), "{{instance}} time-wait"),
                    target(m("node_sockstat_TCP_orphan"), "{{instance}} orphaned")],
                   w=8, decimals=0),
        timeseries("TCP retransmits", "TCP segments retransmitted per second, SYNs "
                   "retransmitted (connections slow to open) and retransmission timeouts, against "
                   "segments sent. More than about 1 % of segments sent means loss or "
                   "congestion on the path.", "pps",
                   [target(rate("node_netstat_Tcp_RetransSegs"), "{{instance}} retransmitted"),
                    target(rate("node_netstat_TcpExt_TCPSynRetrans"),
                           "{{instance}} SYN retransmitted"),
                    target(rate("node_netstat_TcpExt_TCPTimeouts"), "{{instance}} timeouts"),
                    target(rate("node_netstat_Tcp_OutSegs"), "{{instance}} sent")],
                   w=8, overrides=[dashed(".* sent")]),
        timeseries("TCP listen queue overflows", "Connections per second dropped because a "
                   "listening socket's accept queue was full (ListenOverflows) and all SYNs "
                   "dropped at listening sockets (ListenDrops): a service that does not accept "
                   "connections as fast as they arrive, or a backlog set too small.", "cps",
                   [target(rate("node_netstat_TcpExt_ListenOverflows"),
                           "{{instance}} overflows"),
                    target(rate("node_netstat_TcpExt_ListenDrops"), "{{instance}} drops")],
                   w=8),
        timeseries("UDP errors", "UDP datagrams per second lost on receive (InErrors), for want "
                   "of receive buffer (RcvbufErrors) or send buffer (SndbufErrors), and received "
                   "for a port nobody listens on (NoPorts), from /proc/net/snmp.", "pps",
                   [target(rate("node_netstat_Udp_InErrors"), "{{instance}} receive errors"),
                    target(rate("node_netstat_Udp_RcvbufErrors"),
                           "{{instance}} receive buffer full"),
                    target(rate("node_netstat_Udp_SndbufErrors"), "{{instance}} send buffer full"),
                    target(rate("node_netstat_Udp_NoPorts"), "{{instance}} no port")], w=8),
        timeseries("Sockets in use", "Sockets of every kind the kernel holds (sockets used), "
                   "TCP sockets allocated and UDP sockets in use, from /proc/net/sockstat.",
                   "none",
                   [target(m("node_sockstat_sockets_used"), "{{instance}} all sockets"),
                    target(m("node_sockstat_TCP_alloc"), "{{instance}} TCP allocated"),
                    target(m("node_sockstat_UDP_inuse"), "{{instance}} UDP in use")],
                   w=8, decimals=0),
        timeseries("Conntrack entries and limit", "Flows in the netfilter connection tracking "
                   "table and its limit (nf_conntrack_max, dashed). When it is full the kernel "
                   "drops new connections; SysmonConntrackTableNearlyFull fires above 80 %. No "
                   "series on hosts without the conntrack module.", "none",
                   [target(m("node_nf_conntrack_entries"), "{{instance}} entries"),
                    target(m("node_nf_conntrack_entries_limit"), "{{instance}} limit")],
                   w=8, decimals=0, overrides=[dashed(".* limit")]),
        row("Time synchronisation"),
        stat("Clock synchronised", "Whether the kernel says a time daemon (chrony, ntpd, "
             "systemd-timesyncd) keeps its clock synchronised (node_timex_sync_status, the "
             "STA_UNSYNC flag); SysmonClockNotSynchronising fires after 10 minutes without.",
             "none", [target(m("node_timex_sync_status"), "{{instance}}")], h=8,
             mappings=SYNC_MAPPING, steps=thresholds("red", 1, "green"), color_mode="background"),
        timeseries("Clock offset", "The clock's offset from its time source, as the time daemon "
                   "last gave it to the kernel (ntpd, systemd-timesyncd; chrony leaves it at 0). "
                   "SysmonClockSkew fires beyond 50 ms either way.", "s",
                   [target(m("node_timex_offset_seconds"), "{{instance}} offset")],
                   w=10, minimum=None),
        timeseries("Maximum clock error", "The kernel's bound on the clock's error: set by the "
                   "time daemon while it synchronises, growing by 0.5 ms a second when nobody "
                   "does, up to 16 s (unsynchronised); and the daemon's estimated error.", "s",
                   [target(m("node_timex_maxerror_seconds"), "{{instance}} maximum error"),
                    target(m("node_timex_estimated_error_seconds"),
                           "{{instance}} estimated error")], w=10),
        row("File descriptors"),
        timeseries("File descriptors allocated", "File handles allocated system-wide (first "
                   "field of /proc/sys/fs/file-nr): open files, sockets, pipes of every "
                   "process. A steady climb is a leak.", "none",
                   [target(m("node_filefd_allocated"), "{{instance}} allocated")], decimals=0),
        gauge("File descriptors used", "File handles allocated as a share of the kernel's "
              "system-wide limit (fs.file-max); SysmonFileDescriptorsNearLimit fires above "
              "80 %. On most 64-bit systems the limit is so large that this stays at 0 %.",
              "percentunit",
              [target("%s / (%s > 0)" % (m("node_filefd_allocated"), m("node_filefd_maximum")),
                      "{{instance}}")]),
        stat("File descriptor limit", "The kernel's system-wide limit on file handles "
             "(fs.file-max, third field of /proc/sys/fs/file-nr).", "short",
             [target(m("node_filefd_maximum"), "{{instance}}")], w=6, h=8),
        row("USB"),
        usb_devices,
        stat("USB devices per bus", "USB devices attached to each bus, its root hub included.",
             "none", [target(m("sysmon_usb_devices"), "{{instance}} bus {{bus}}")], w=8, h=8,
             text_mode="value_and_name"),
        timeseries("USB errors", "USB failures the kernel logged per second, by port and kind "
                   "(timeout, protocol, address, enumeration, reset, over_current, disconnect, "
                   "other). Only ports that logged a failure since the exporter started have a "
                   "series.", "cps",
                   [target("sum by (instance, port, kind) (rate(%s[%s]))"
                           % (m("sysmon_usb_errors_total"), RATE),
                           "{{instance}} {{port}} {{kind}}")]),
        timeseries("USB connects and disconnects", "USB devices that appeared or went away, per "
                   "interval.", "none",
                   [target("sum by (instance, action) (increase(%s[%s]))"
                           % (m("sysmon_usb_device_events_total"), RATE),
                           "{{instance}} {{action}}")], bars=True, decimals=0),
    ] + host_process_row() + [
        row("Anomalies"),
        anomalies,
        state_timeline("Anomaly timeline", "When each of the host's anomaly rules was active "
                       "(red), for the rules and subjects active at some time in the shown range.",
                       [target(active_in_range(), "{{instance}} {{rule}} {{subject}}")], w=12,
                       h=8),
    ]
    return dashboard(
        "sysmon-host",
        "sysmon / Host",
        "One host in detail: CPU, load, memory, swap and paging, temperatures with their "
        "limits, filesystems, disk I/O, storage health (RAID arrays, ZFS pools, NFS, NVMe, "
        "memory errors, bonds), network I/O, the TCP/UDP stack and conntrack, clock "
        "synchronisation, file descriptors, USB devices and errors, its busiest process groups, "
        "and its anomalies. Pick the host in the Instance variable (several may be picked).",
        panels,
    )


def active_in_range():
    return "%s and on (job, instance, rule, subject) (max_over_time(%s[$__range]) == 1)" % (
        m("sysmon_anomaly_active"),
        m("sysmon_anomaly_active"),
    )


def active_anomalies_table(cols, w=24):
    return table(
        "Active anomalies",
        "sysmon-exporter anomaly rules firing now (sysmon_anomaly_active == 1), with the value "
        "the rule saw and its threshold (in the rule's unit: percent for cpu_*, memory_* and "
        "filesystem_full, °C for temperature_high, a count for usb_timeout). Empty when nothing "
        "is wrong.",
        "short",
        [target(expr) for _, expr in cols],
        [("Value #A", "Active"), ("Value #B", "Value"), ("Value #C", "Threshold"),
         ("instance", "Instance"), ("severity", "Severity"), ("category", "Category"),
         ("rule", "Rule"), ("subject", "Subject")],
        ["Instance", "Severity", "Category", "Rule", "Subject", "Value", "Threshold"],
        w=w, h=8,
        sort=("Severity", False),
        overrides=[
            column("Severity", cell=TEXT_CELL, mappings=[{"type": "value", "options": {
                "critical": {"color": "red", "index": 0},
                "warning": {"color": "orange", "index": 1},
                "info": {"color": "blue", "index": 2}}}]),
            column("Value", decimals=2),
            column("Threshold", decimals=2),
        ],
    )


# ---------------------------------------------------------------------------------------------
# Process groups (sysmon-exporter's `process` collector, or process-exporter: the same
# namedprocess_namegroup_* families)


# Colours of a group's worst file descriptor ratio: the thresholds of the alerts
# SysmonProcessFileDescriptorsNearLimit (0.8) and SysmonProcessFileDescriptorsExhausted (0.95).
FD_RATIO = thresholds("green", 0.8, "orange", 0.95, "red")

# Each process group's CPU, as a share of one CPU (1 = one CPU busy all the time).
GROUP_CPU_NOTE = ("1 = 100 % = one CPU busy all the time, so a group of busy threads can go past "
                  "100 %.")


def group_sum(expr, by="instance, groupname"):
    return "sum by (%s) (%s)" % (by, expr)


def either_name_rate(name):
    """rate() of a process-exporter counter whose name lacks `_total`: Prometheus stores it under
    that name from process-exporter (text format) but with `_total` added from an exporter that
    answers its OpenMetrics request (as sysmon-exporter does: OpenMetrics names every counter's
    sample `<family>_total`). Whichever is there."""
    return "%s or %s" % (rate(name), rate(name + "_total"))


def host_process_row():
    """The host dashboard's row of process groups: the busiest ones, from the `process`
    collector (off by default) or a process-exporter on the same instance."""
    def top(expr):
        return "topk(10, %s)" % group_sum(expr)

    return [
        row("Process groups"),
        timeseries("Process groups by CPU", "The ten process groups using the most CPU (user + "
                   "system), from namedprocess_namegroup_cpu_seconds_total. " + GROUP_CPU_NOTE +
                   " Needs the exporter's process collector (--collector.process) or "
                   "process-exporter; groupname \"other\" sums the groups outside the top N. "
                   "The Processes dashboard shows every group in detail.", "percentunit",
                   [target(top(rate("namedprocess_namegroup_cpu_seconds_total")),
                           "{{instance}} {{groupname}}")], w=8),
        timeseries("Process groups by resident memory", "The ten process groups with the most "
                   "resident memory (RSS summed over the group's processes; shared pages count "
                   "once per process, as ps shows them).", "bytes",
                   [target(top(m("namedprocess_namegroup_memory_bytes", 'memtype="resident"')),
                           "{{instance}} {{groupname}}")], w=8),
        timeseries("Process group disk I/O", "Bytes per second the five busiest process groups "
                   "read from and wrote to storage (read_bytes and write_bytes of "
                   "/proc/<pid>/io: what reached the block layer, not reads served from the page "
                   "cache).", "Bps",
                   [target("topk(5, %s)" % group_sum(
                       rate("namedprocess_namegroup_read_bytes_total")),
                       "{{instance}} {{groupname}} read"),
                    target("topk(5, %s)" % group_sum(
                        rate("namedprocess_namegroup_write_bytes_total")),
                        "{{instance}} {{groupname}} written")], w=8),
        timeseries("Process group open files", "File descriptors the ten process groups holding "
                   "the most have open (files, sockets, pipes), summed over the group's "
                   "processes. A steady climb is a leak.", "none",
                   [target(top(m("namedprocess_namegroup_open_filedesc")),
                           "{{instance}} {{groupname}}")], w=8, decimals=0),
        bargauge("Process groups nearest their fd limit", "For the ten groups closest to it: "
                 "the highest share of its own file descriptor limit (RLIMIT_NOFILE, the soft "
                 "\"Max open files\" of /proc/<pid>/limits) that any process of the group uses. "
                 "At 100 % that process's open() and accept() fail with EMFILE. "
                 "SysmonProcessFileDescriptorsNearLimit fires above 80 %, "
                 "SysmonProcessFileDescriptorsExhausted above 95 %.", "percentunit",
                 [target("topk(10, max by (instance, groupname) (%s))"
                         % m("namedprocess_namegroup_worst_fd_ratio"),
                         "{{instance}} {{groupname}}")], w=8, steps=FD_RATIO, maximum=1),
        timeseries("Process group threads", "Threads of the ten process groups with the most, "
                   "summed over the group's processes.", "none",
                   [target(top(m("namedprocess_namegroup_num_threads")),
                           "{{instance}} {{groupname}}")], w=8, decimals=0),
    ]


# The processes dashboard's own variable: the process groups of the selected hosts.
GROUP_QUERY = 'label_values(namedprocess_namegroup_num_procs{%s}, groupname)' % SEL
GROUP_VARIABLE = {
    "name": "groupname",
    "label": "Process group",
    "description": "Process groups of the selected hosts (\"other\" sums the groups outside the "
                   "exporter's top N); several may be picked.",
    "type": "query",
    "datasource": DS,
    "query": {"query": GROUP_QUERY, "refId": VARIABLE_REF},
    "definition": GROUP_QUERY,
    "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
    "hide": 0,
    "includeAll": True,
    "allValue": ".+",
    "multi": True,
    "options": [],
    "refresh": 2,
    "regex": "",
    "skipUrlSync": False,
    "sort": 1,
}
GROUP = 'groupname=~"$groupname"'


def processes():
    def g(name, *extra):
        """A namedprocess_namegroup_* selector of the selected hosts and groups."""
        return m("namedprocess_namegroup_" + name, GROUP, *extra)

    def g_rate(name, *extra):
        return "rate(%s[%s])" % (g(name, *extra), RATE)

    legend = "{{instance}} {{groupname}}"
    table_cols = [
        ("Processes", group_sum(g("num_procs"))),
        ("Threads", group_sum(g("num_threads"))),
        ("CPU", group_sum(g_rate("cpu_seconds_total"))),
        ("Resident", group_sum(g("memory_bytes", 'memtype="resident"'))),
        ("Swapped", group_sum(g("memory_bytes", 'memtype="swapped"'))),
        ("Read", group_sum(g_rate("read_bytes_total"))),
        ("Written", group_sum(g_rate("write_bytes_total"))),
        ("Open files", group_sum(g("open_filedesc"))),
        ("Worst fd ratio", "max by (instance, groupname) (%s)" % g("worst_fd_ratio")),
        ("Oldest process", "time() - min by (instance, groupname) (%s)"
         % g("oldest_start_time_seconds")),
    ]
    refs = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    groups = table(
        "Process groups",
        "Every selected process group now, one row per host and group, busiest CPU first: "
        "processes and threads, CPU (" + GROUP_CPU_NOTE + "), resident and swapped memory, disk "
        "bytes read and written per second, open file descriptors, the worst share of its fd "
        "limit any of its processes uses, and the age of its oldest process.",
        "short",
        [target(expr) for _, expr in table_cols],
        [("Value #%s" % refs[i], name) for i, (name, _) in enumerate(table_cols)]
        + [("instance", "Instance"), ("groupname", "Group")],
        ["Instance", "Group"] + [name for name, _ in table_cols],
        h=10,
        sort=("CPU", True),
        overrides=[
            column("Processes", "none", decimals=0),
            column("Threads", "none", decimals=0),
            column("CPU", "percentunit", decimals=1),
            column("Resident", "bytes"),
            column("Swapped", "bytes"),
            column("Read", "Bps"),
            column("Written", "Bps"),
            column("Open files", "none", decimals=0),
            column("Worst fd ratio", "percentunit", GAUGE_CELL, FD_RATIO, minimum=0, maximum=1),
            column("Oldest process", "dtdurations"),
        ],
    )
    panels = [
        row("Now"),
        stat("Groups", "Selected process groups with at least one process on the "
             "selected hosts (\"other\" counts as one).", "none",
             [target("count(%s > 0) or vector(0)" % g("num_procs"))]),
        stat("Processes", "Processes in the selected groups.", "none",
             [target("sum(%s)" % g("num_procs"))]),
        stat("Threads", "Threads of the processes in the selected groups.", "none",
             [target("sum(%s)" % g("num_threads"))]),
        stat("Zombies", "Processes of the selected groups that exited and wait for their parent "
             "to collect their exit status (state Z). A growing count is a parent that never "
             "calls wait().", "none",
             [target("sum(%s)" % g("states", 'state="Zombie"'))], steps=ANY_IS_BAD,
             color_mode="background"),
        stat("Groups near their fd limit", "Selected groups with a process using more than 80 % "
             "of its file descriptor limit (the SysmonProcessFileDescriptorsNearLimit "
             "condition, without its wait).", "none",
             [target("count(%s > 0.8) or vector(0)" % g("worst_fd_ratio"))], steps=ANY_IS_BAD,
             color_mode="background"),
        stat("Groups with growing memory", "Selected groups for which the exporter's "
             "process_memory_growth rule is active: resident memory rising steadily for a long "
             "time, a likely leak (SysmonProcessMemoryGrowth). sysmon-exporter only.", "none",
             [target("count(%s == 1) or vector(0)"
                     % m("sysmon_anomaly_active", 'rule="process_memory_growth"',
                         'subject=~"$groupname"'))],
             steps=ANY_IS_BAD, color_mode="background"),
        groups,
        row("CPU"),
        timeseries("CPU by group", "CPU time (user + system) per second of each selected group, "
                   "stacked. " + GROUP_CPU_NOTE, "percentunit",
                   [target(group_sum(g_rate("cpu_seconds_total")), legend)], stack=True),
        timeseries("CPU by group and mode", "CPU per second of each selected group in user "
                   "mode (its own code) and system mode (the kernel working for it: system "
                   "calls, page faults). A high system share points at I/O, locking or memory "
                   "pressure rather than computation.", "percentunit",
                   [target(group_sum(g_rate("cpu_seconds_total"),
                                     "instance, groupname, mode"),
                           "{{instance}} {{groupname}} {{mode}}")]),
        row("Memory"),
        timeseries("Resident memory by group", "Resident memory (RSS) of each selected group, "
                   "stacked: pages in RAM, shared pages counted once per process.", "bytes",
                   [target(group_sum(g("memory_bytes", 'memtype="resident"')), legend)],
                   w=8, stack=True),
        timeseries("Memory by type", "Each selected group's memory by type: resident (in RAM), "
                   "virtual (address space mapped, mostly never touched), swapped (in swap), and "
                   "with smaps reading on, proportionalResident and proportionalSwapped (shared "
                   "pages divided among the processes sharing them).", "bytes",
                   [target(group_sum(g("memory_bytes"), "instance, groupname, memtype"),
                           "{{instance}} {{groupname}} {{memtype}}")], w=8),
        timeseries("Steady resident memory growth", "The exporter's trend of each selected "
                   "group's resident memory over its growth window "
                   "(sysmon_process_memory_growth_bytes_per_second): a least-squares slope, 0 "
                   "unless the memory rises steadily (spikes and sawtooths read 0). The "
                   "process_memory_growth rule fires when it stays above its threshold (10 MiB "
                   "per hour by default). sysmon-exporter only.", "Bps",
                   [target(group_sum(m("sysmon_process_memory_growth_bytes_per_second", GROUP)),
                           legend)], w=8),
        row("Disk I/O"),
        timeseries("Bytes read by group", "Bytes per second each selected group read from "
                   "storage (read_bytes of /proc/<pid>/io: what had to come from the block "
                   "device, page-cache hits excluded). Needs permission to read other users' "
                   "/proc/<pid>/io (root or CAP_SYS_PTRACE).", "Bps",
                   [target(group_sum(g_rate("read_bytes_total")), legend)]),
        timeseries("Bytes written by group", "Bytes per second each selected group caused to "
                   "be written to storage (write_bytes of /proc/<pid>/io, counted when the "
                   "dirty pages are sent, not when write() returns).", "Bps",
                   [target(group_sum(g_rate("write_bytes_total")), legend)]),
        row("File descriptors"),
        timeseries("Open file descriptors by group", "File descriptors open in each selected "
                   "group (files, sockets, pipes, eventfds), summed over its processes. A "
                   "steady climb without more processes is a leak.", "none",
                   [target(group_sum(g("open_filedesc")), legend)], decimals=0),
        timeseries("Worst fd ratio by group", "The highest share of its own file descriptor "
                   "limit (soft RLIMIT_NOFILE) any process of each selected group uses. The "
                   "alerts fire above 80 % (warning) and 95 % (critical).", "percentunit",
                   [target("max by (instance, groupname) (%s)" % g("worst_fd_ratio"), legend)],
                   maximum=1),
        row("Processes, threads and states"),
        timeseries("Processes by group", "Processes in each selected group. Groups of short-lived "
                   "processes (compilers, cron jobs) come and go between scans.", "none",
                   [target(group_sum(g("num_procs")), legend)], w=8, decimals=0),
        timeseries("Threads by group", "Threads of each selected group, summed over its "
                   "processes.", "none",
                   [target(group_sum(g("num_threads")), legend)], w=8, decimals=0),
        timeseries("Process states", "The selected groups' processes (and their threads) by "
                   "scheduler state: Running (R), Sleeping (S, interruptible), Waiting (D, "
                   "uninterruptible, usually disk or NFS I/O), Zombie (Z) and Other (stopped, "
                   "traced, idle kernel threads). Many in Waiting means stalled I/O.", "none",
                   [target(group_sum(g("states"), "instance, groupname, state"),
                           "{{instance}} {{groupname}} {{state}}")], w=8, stack=True,
                   decimals=0),
        row("Scheduling and page faults"),
        timeseries("Context switches", "Context switches per second of each selected group: "
                   "voluntary (the task waited for I/O, a lock or a timer) and nonvoluntary "
                   "(the scheduler took the CPU away: more runnable tasks than CPUs).", "ops",
                   [target(group_sum(g_rate("context_switches_total"),
                                     "instance, groupname, ctxswitchtype"),
                           "{{instance}} {{groupname}} {{ctxswitchtype}}")], w=8),
        timeseries("Major page faults", "Page faults per second of each selected group that had "
                   "to read from disk (a file's pages not cached, or swapped-out memory). "
                   "Sustained major faults make a program slow.", "ops",
                   [target(group_sum(g_rate("major_page_faults_total")), legend)], w=8),
        timeseries("Minor page faults", "Page faults per second of each selected group served "
                   "without I/O (first touch of allocated memory, copy-on-write, pages already "
                   "in the page cache).", "ops",
                   [target(group_sum(g_rate("minor_page_faults_total")), legend)], w=8),
        row("Collection"),
        timeseries("Unreadable processes", "Per second, processes whose files the scan could not "
                   "read: entirely (procread: stat vanished or unreadable) or in part (partial: "
                   "usually /proc/<pid>/io or fd/ of another user's process without root or "
                   "CAP_SYS_PTRACE; the group then lacks that process's I/O and fds).", "ops",
                   [target(either_name_rate("namedprocess_scrape_procread_errors"),
                           "{{instance}} procread"),
                    target(either_name_rate("namedprocess_scrape_partial_errors"),
                           "{{instance}} partial")]),
        timeseries("Tasks hidden from the scan", "Threads the kernel counts (/proc/loadavg) that "
                   "the last scan did not see: /proc mounted with hidepid for the exporter's "
                   "user, or threads started during the scan. Their groups are incomplete. "
                   "sysmon-exporter only.", "none",
                   [target(m("sysmon_process_hidden_threads"), "{{instance}}")], decimals=0),
    ]
    return dashboard(
        "sysmon-processes",
        "sysmon / Processes",
        "Process groups of the selected hosts (sysmon-exporter's process collector, "
        "--collector.process, or process-exporter: the same namedprocess_namegroup_* series): "
        "CPU, memory by type, disk I/O, file descriptors against their limits, threads and "
        "states, context switches and page faults. Pick groups in the Process group variable.",
        panels,
        extra_variables=[GROUP_VARIABLE],
    )


# ---------------------------------------------------------------------------------------------
# Anomalies page


def anomalies():
    anomaly_cols = [
        ("Active", "%s == 1" % m("sysmon_anomaly_active")),
        ("Value", "%s and on (job, instance, rule, subject) (%s == 1)"
         % (m("sysmon_anomaly_value"), m("sysmon_anomaly_active"))),
        ("Threshold", "%s and on (job, instance, rule, subject) (%s == 1)"
         % (m("sysmon_anomaly_threshold"), m("sysmon_anomaly_active"))),
    ]
    alerts = table(
        "Firing alerts",
        "Prometheus alerts firing now for the selected jobs and hosts (ALERTS{alertstate="
        "\"firing\"}), from alert-rules/sysmon.rules.yml: SysmonAnomaly carries the exporter "
        "rule's severity, category and subject. Alertmanager routes them; empty when nothing "
        "fires.",
        "none",
        [target('ALERTS{alertstate="firing",%s}' % SEL)],
        [("alertname", "Alert"), ("instance", "Instance"), ("severity", "Severity"),
         ("category", "Category"), ("subject", "Subject"), ("rule", "Rule")],
        ["Alert", "Instance", "Severity", "Category", "Subject", "Rule"],
        w=24, h=8,
        sort=("Severity", False),
        overrides=[
            column("Severity", cell=TEXT_CELL, mappings=[{"type": "value", "options": {
                "critical": {"color": "red", "index": 0},
                "warning": {"color": "orange", "index": 1},
                "info": {"color": "blue", "index": 2}}}]),
        ],
    )
    panels = [
        row("Now"),
        stat("Anomalies now", "sysmon-exporter anomaly rules firing now over the selected "
             "hosts.", "none", [target("sum(%s)" % m("sysmon_anomaly_active"))],
             steps=ANY_IS_BAD, color_mode="background"),
        stat("Hosts with anomalies", "Selected hosts with at least one active anomaly.", "none",
             [target("count(sum by (instance) (%s) > 0) or vector(0)"
                     % m("sysmon_anomaly_active"))],
             steps=ANY_IS_BAD, color_mode="background"),
        stat("By severity", "Active anomalies by the severity of their rule.", "none",
             [target("sum by (severity) (%s)" % m("sysmon_anomaly_active"), "{{severity}}")],
             w=8, steps=ANY_IS_BAD, text_mode="value_and_name"),
        stat("Alerts firing", "Prometheus alerts firing now for the selected jobs and hosts.",
             "none", [target('count(ALERTS{alertstate="firing",%s}) or vector(0)' % SEL)],
             w=8, steps=ANY_IS_BAD, color_mode="background"),
        state_timeline("Anomaly timeline", "When each anomaly rule was active on each host "
                       "(red), for the rules and subjects that were active at some time in the "
                       "shown range.",
                       [target(active_in_range(), "{{instance}} {{rule}} {{subject}}")], h=10),
        active_anomalies_table(anomaly_cols),
        alerts,
        row("Top offenders over the shown range"),
        bargauge("Most activations", "The ten rule and subject pairs that started firing most "
                 "often in the shown time range (increase of sysmon_anomaly_activations_total "
                 "over the range).", "none",
                 [target("topk(10, sum by (instance, rule, subject) (increase(%s[$__range])))"
                         % m("sysmon_anomaly_activations_total"),
                         "{{instance}} {{rule}} {{subject}}")],
                 steps=thresholds("green", 1, "orange", 5, "red")),
        bargauge("Longest active", "The ten rule and subject pairs that were active for the "
                 "largest share of the shown time range.", "percentunit",
                 [target("topk(10, avg_over_time(%s[$__range]) > 0)"
                         % m("sysmon_anomaly_active"),
                         "{{instance}} {{rule}} {{subject}}")],
                 steps=thresholds("green", 0.1, "orange", 0.5, "red"), maximum=1),
        bargauge("Most anomalous signals", "The ten signals the adaptive detectors found most "
                 "unusual over the shown range: the mean of sysmon_anomaly_score, the detector's "
                 "score of the signal (1 is its threshold), whether or not an anomaly fired. The "
                 "exporter's GET /api/v1/anomalies/rank ranks one host's signals from every "
                 "sample rather than every scrape.", "none",
                 [target("topk(10, avg_over_time(%s[$__range]))" % m("sysmon_anomaly_score"),
                         "{{instance}} {{rule}} {{subject}}")],
                 steps=thresholds("green", 0.5, "orange", 1, "red")),
        bargauge("Highest scores", "The ten signals with the highest adaptive score in the "
                 "shown range (max_over_time of sysmon_anomaly_score; 1 is the detector's "
                 "threshold): short spikes that the mean hides.", "none",
                 [target("topk(10, max_over_time(%s[$__range]))" % m("sysmon_anomaly_score"),
                         "{{instance}} {{rule}} {{subject}}")],
                 steps=thresholds("green", 1, "orange", 2, "red")),
        timeseries("Active anomalies by category", "How many anomaly rules were firing, by "
                   "category (cpu, memory, temperature, filesystem, usb).", "none",
                   [target("sum by (category) (%s)" % m("sysmon_anomaly_active"),
                           "{{category}}")], stack=True, bars=True, decimals=0,
                   legend=LEGEND_LIST),
        timeseries("Activations by rule", "How many times each anomaly rule started firing, "
                   "per interval, over the selected hosts.", "none",
                   [target("sum by (rule) (increase(%s[%s]))"
                           % (m("sysmon_anomaly_activations_total"), RATE), "{{rule}}")],
                   stack=True, bars=True, legend=LEGEND_LIST),
    ]
    return dashboard(
        "sysmon-anomalies",
        "sysmon / Anomalies",
        "What sysmon-exporter's anomaly rules saw: when each was active, what is active and "
        "firing now, and the rules and subjects that fire most.",
        panels,
    )


DASHBOARDS = {"fleet.json": fleet, "host.json": host, "anomalies.json": anomalies,
              "processes.json": processes}


def render(build):
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main():
    here = pathlib.Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=pathlib.Path, default=here / "dashboards",
                        help="folder to write the dashboards to (default: %(default)s)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, build in DASHBOARDS.items():
        (args.out / name).write_text(render(build), encoding="utf-8")


if __name__ == "__main__":
    main()
