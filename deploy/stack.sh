#!/usr/bin/env bash
# Runs the whole sysmon stack from native binaries on this machine, without Docker:
# sysmon-exporter, Prometheus (or VictoriaMetrics), Alertmanager and, when installed, Grafana.
#
#   deploy/stack.sh up [--backend B]  start what is not running, wait until each answers, print the URLs
#   deploy/stack.sh status            each component's state; exit status 1 if any of them is down
#   deploy/stack.sh down              stop everything `up` started (safe to run again)
#
#   --backend prometheus       Prometheus scrapes, stores, evaluates the rules (the default)
#   --backend victoriametrics  vmagent scrapes and remote-writes to victoria-metrics, vmalert
#                              evaluates the same rules against it (docs/scale.md)
#   --backend remote-write     Prometheus as by default, and also remote-writes every sample to
#                              victoria-metrics (the usual migration path)
#
# Binaries: sysmon-exporter ($SYSMON_EXPORTER_BIN, else target/release, else target/debug, else
# built with cargo), prometheus, prometheus-alertmanager (Debian's name) or alertmanager, and
# grafana-server when installed (Grafana is not packaged by Debian: see docs/deploy.md);
# victoria-metrics, vmagent and vmalert (Debian package victoria-metrics) for the other backends.
#
# Settings (environment; `up` records them in the state directory, `status` and `down` reuse them):
#   SYSMON_STACK_DIR                   state: pid files, logs, data  [$XDG_STATE_HOME/sysmon-stack or ~/.local/state/sysmon-stack]
#   SYSMON_STACK_ADDRESS               address every component listens on           [127.0.0.1]
#   SYSMON_STACK_EXPORTER_PORT         [10101]     SYSMON_STACK_PROMETHEUS_PORT    [9090]
#   SYSMON_STACK_ALERTMANAGER_PORT     [9093]      SYSMON_STACK_GRAFANA_PORT       [3000]
#   SYSMON_STACK_VICTORIAMETRICS_PORT  [8428]      SYSMON_STACK_VMAGENT_PORT       [8429]
#   SYSMON_STACK_VMALERT_PORT          [8880]
#   SYSMON_STACK_BACKEND               prometheus, victoriametrics or remote-write (--backend) [prometheus]
#   SYSMON_STACK_SCRAPE_INTERVAL       Prometheus scrape interval                   [15s]
#   SYSMON_STACK_EVALUATION_INTERVAL   Prometheus rule evaluation interval          [the scrape interval]
#   SYSMON_STACK_RETENTION             retention of the store (Prometheus or VictoriaMetrics) [30d]
#   SYSMON_STACK_LOCAL_RETENTION       Prometheus' own retention with --backend remote-write [2d]
#   SYSMON_STACK_RULE_FILES            rule files (a glob) Prometheus loads         [<repo>/alert-rules/*.rules.yml]
#   SYSMON_STACK_TARGETS               more exporters to scrape, "host:port host:port ..." (a fleet;
#                                      written to a file_sd file next to the generated prometheus.yml)
#   SYSMON_STACK_EXPORTER              "no": do not start an exporter (one already runs, e.g. the
#                                      systemd unit, on SYSMON_STACK_EXPORTER_PORT)  [yes]
#   SYSMON_STACK_EXPORTER_ARGS         extra sysmon-exporter flags, split on spaces (e.g. --config.file=...)
#   SYSMON_STACK_ALERTMANAGER_CONFIG   Alertmanager's config file                   [<repo>/alert-rules/alertmanager.yml]
#   SYSMON_STACK_GRAFANA               "no": do not start Grafana even if installed [yes]
#   SYSMON_STACK_GRAFANA_BIN           grafana-server binary   [grafana-server on PATH, /usr/sbin/grafana-server]
#   SYSMON_STACK_GRAFANA_HOME          Grafana's home path (its static files)       [/usr/share/grafana]
#   SYSMON_STACK_TIMEOUT               seconds `up` waits for each component         [60]
#
# Prometheus runs on a generated copy of the repository's prometheus/prometheus.yml (in the state
# directory) with this stack's addresses, intervals and rule files put in; its file_sd reads the
# generated targets file and the repository's prometheus/targets/*.yml. vmagent reads that same
# generated file (it ignores the rule and alerting sections, which vmalert's flags carry); the
# remote-write backend's file is generated from prometheus/remote-write.example.yml the same way.
set -euo pipefail

prog=$(basename "$0")
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

die() {
    echo "$prog: $*" >&2
    exit 1
}

# A bad argument or setting: exit status 2.
bad_usage() {
    echo "$prog: $*" >&2
    exit 2
}

usage() {
    sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
}

state_dir=${SYSMON_STACK_DIR:-${XDG_STATE_HOME:-${HOME:?HOME is not set; set SYSMON_STACK_DIR}/.local/state}/sysmon-stack}
case "$state_dir" in
/*) ;;
*) state_dir=$PWD/$state_dir ;;
esac
state_dir=${state_dir%/}

# The components of each backend, in the order they start; `down` stops them in reverse.
components_of() {
    case "$1" in
    prometheus) echo exporter alertmanager prometheus grafana ;;
    victoriametrics) echo exporter alertmanager victoriametrics vmagent vmalert grafana ;;
    remote-write) echo exporter alertmanager victoriametrics prometheus grafana ;;
    esac
}

# Loads the settings `up` recorded, so that `status` and `down` look where `up` started things.
load_recorded() {
    if [ -f "$state_dir/stack.env" ]; then
        # shellcheck disable=SC1091
        . "$state_dir/stack.env"
    fi
}

settings() {
    address=${SYSMON_STACK_ADDRESS:-127.0.0.1}
    exporter_port=${SYSMON_STACK_EXPORTER_PORT:-10101}
    prometheus_port=${SYSMON_STACK_PROMETHEUS_PORT:-9090}
    alertmanager_port=${SYSMON_STACK_ALERTMANAGER_PORT:-9093}
    grafana_port=${SYSMON_STACK_GRAFANA_PORT:-3000}
    victoriametrics_port=${SYSMON_STACK_VICTORIAMETRICS_PORT:-8428}
    vmagent_port=${SYSMON_STACK_VMAGENT_PORT:-8429}
    vmalert_port=${SYSMON_STACK_VMALERT_PORT:-8880}
    backend=${backend_flag:-${SYSMON_STACK_BACKEND:-prometheus}}
    scrape_interval=${SYSMON_STACK_SCRAPE_INTERVAL:-15s}
    evaluation_interval=${SYSMON_STACK_EVALUATION_INTERVAL:-$scrape_interval}
    retention=${SYSMON_STACK_RETENTION:-30d}
    local_retention=${SYSMON_STACK_LOCAL_RETENTION:-2d}
    rule_files=${SYSMON_STACK_RULE_FILES:-$repo/alert-rules/*.rules.yml}
    targets=${SYSMON_STACK_TARGETS:-}
    run_exporter=${SYSMON_STACK_EXPORTER:-yes}
    exporter_args=${SYSMON_STACK_EXPORTER_ARGS:-}
    alertmanager_config=${SYSMON_STACK_ALERTMANAGER_CONFIG:-$repo/alert-rules/alertmanager.yml}
    run_grafana=${SYSMON_STACK_GRAFANA:-yes}
    grafana_home=${SYSMON_STACK_GRAFANA_HOME:-/usr/share/grafana}
    timeout=${SYSMON_STACK_TIMEOUT:-60}
    local number
    for number in "$exporter_port" "$prometheus_port" "$alertmanager_port" "$grafana_port" \
        "$victoriametrics_port" "$vmagent_port" "$vmalert_port" "$timeout"; do
        [[ $number =~ ^[0-9]+$ ]] || die "expected a number, found '$number' (ports and SYSMON_STACK_TIMEOUT)"
    done
    case "$run_exporter" in yes | no) ;; *) die "SYSMON_STACK_EXPORTER: expected yes or no, found '$run_exporter'" ;; esac
    case "$run_grafana" in yes | no) ;; *) die "SYSMON_STACK_GRAFANA: expected yes or no, found '$run_grafana'" ;; esac
    case "$backend" in
    prometheus | victoriametrics | remote-write) ;;
    *) bad_usage "--backend / SYSMON_STACK_BACKEND: expected prometheus, victoriametrics or remote-write, found '$backend'" ;;
    esac
    components=()
    read -r -a components <<<"$(components_of "$backend")"
}

# "host:port" for URLs (IPv6 addresses in brackets).
hostport() {
    case "$address" in
    *:*) echo "[$address]:$1" ;;
    *) echo "$address:$1" ;;
    esac
}

url_of() {
    case "$1" in
    exporter) echo "http://$(hostport "$exporter_port")" ;;
    prometheus) echo "http://$(hostport "$prometheus_port")" ;;
    alertmanager) echo "http://$(hostport "$alertmanager_port")" ;;
    grafana) echo "http://$(hostport "$grafana_port")" ;;
    victoriametrics) echo "http://$(hostport "$victoriametrics_port")" ;;
    vmagent) echo "http://$(hostport "$vmagent_port")" ;;
    vmalert) echo "http://$(hostport "$vmalert_port")" ;;
    esac
}

# Where Grafana and sysmon-top query: the store that has the whole history.
query_url() {
    case "$backend" in
    victoriametrics) url_of victoriametrics ;;
    *) url_of prometheus ;;
    esac
}

# The endpoint that answers 200 once the component is ready.
ready_path() {
    case "$1" in
    exporter) echo /health ;;
    prometheus | alertmanager) echo /-/ready ;;
    grafana) echo /api/health ;;
    victoriametrics | vmagent | vmalert) echo /health ;;
    esac
}

# Duration such as 15s, 500ms, 1m -> milliseconds.
duration_ms() {
    local d=$1
    case "$d" in
    *ms) echo "${d%ms}" ;;
    *s) echo $((${d%s} * 1000)) ;;
    *m) echo $((${d%m} * 60000)) ;;
    *h) echo $((${d%h} * 3600000)) ;;
    *) return 1 ;;
    esac
}

# HTTP status of GET url (000 when nothing answers).
http_status() {
    local url=$1
    if command -v curl >/dev/null 2>&1; then
        curl -s -o /dev/null -m 2 -w '%{http_code}' "$url" 2>/dev/null || true
        return
    fi
    # Without curl: a plain HTTP/1.0 request through bash's /dev/tcp.
    local rest=${url#http://} host port path line
    path=/${rest#*/}
    rest=${rest%%/*}
    port=${rest##*:}
    host=${rest%:*}
    host=${host#[}
    host=${host%]}
    # shellcheck disable=SC2016 # expanded by the inner bash
    line=$(timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1" && printf "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n" "$2" "$0" >&3 && head -n1 <&3' \
        "$host" "$port" "$path" 2>/dev/null) || true
    line=${line#HTTP/* }
    echo "${line:0:3}" | grep -E '^[0-9]{3}$' || echo 000
}

pid_file() { echo "$state_dir/run/$1.pid"; }

# The pid of a running component this stack started, or nothing. A pid is only trusted while
# that process's command line still names this state directory (pids are reused).
running_pid() {
    local f pid
    f=$(pid_file "$1")
    [ -f "$f" ] || return 0
    pid=$(cat "$f" 2>/dev/null) || return 0
    [[ $pid =~ ^[0-9]+$ ]] || return 0
    [ -r "/proc/$pid/cmdline" ] || return 0
    if tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$state_dir/"; then
        echo "$pid"
    fi
}

find_exporter() {
    if [ -n "${SYSMON_EXPORTER_BIN:-}" ]; then
        [ -x "$SYSMON_EXPORTER_BIN" ] || die "SYSMON_EXPORTER_BIN=$SYSMON_EXPORTER_BIN is not an executable file"
        echo "$SYSMON_EXPORTER_BIN"
        return
    fi
    local target=${CARGO_TARGET_DIR:-$repo/target}
    for b in "$target/release/sysmon-exporter" "$target/debug/sysmon-exporter"; do
        if [ -x "$b" ]; then
            echo "$b"
            return
        fi
    done
    command -v cargo >/dev/null 2>&1 || die "no sysmon-exporter binary under $target and no cargo to build one: set SYSMON_EXPORTER_BIN"
    echo "$prog: building sysmon-exporter (cargo build --release -p sysmon-exporter)" >&2
    (cd "$repo" && cargo build --release -p sysmon-exporter >&2) || die "cargo build failed"
    echo "$target/release/sysmon-exporter"
}

find_prometheus() {
    command -v prometheus 2>/dev/null || { [ -x /usr/bin/prometheus ] && echo /usr/bin/prometheus; } ||
        die "prometheus is not installed (Debian: apt-get install prometheus)"
}

# A VictoriaMetrics binary (victoria-metrics, vmagent, vmalert: all in Debian's victoria-metrics).
find_vm_tool() {
    command -v "$1" 2>/dev/null || { [ -x "/usr/bin/$1" ] && echo "/usr/bin/$1"; } ||
        die "$1 is not installed (Debian: apt-get install victoria-metrics), needed by --backend $backend"
}

find_alertmanager() {
    command -v prometheus-alertmanager 2>/dev/null || command -v alertmanager 2>/dev/null ||
        die "Alertmanager is not installed (Debian: apt-get install prometheus-alertmanager)"
}

# grafana-server's path, or nothing when it is not installed.
find_grafana() {
    if [ -n "${SYSMON_STACK_GRAFANA_BIN:-}" ]; then
        if [ -x "$SYSMON_STACK_GRAFANA_BIN" ]; then echo "$SYSMON_STACK_GRAFANA_BIN"; fi
        return 0
    fi
    command -v grafana-server 2>/dev/null && return 0
    for b in /usr/sbin/grafana-server /usr/share/grafana/bin/grafana-server; do
        if [ -x "$b" ]; then
            echo "$b"
            return 0
        fi
    done
    return 0
}

# Replaces exactly one line of the Prometheus config copy, failing loudly when the repository's
# file no longer has it (so a change there is noticed here, not silently ignored).
replace_line() {
    local file=$1 old=$2 new=$3 count
    count=$(grep -cxF -- "$old" "$file" || true)
    [ "$count" = 1 ] || die "${config_source#"$repo/"}: expected exactly one line '$old' to adapt for the native stack, found $count; update deploy/stack.sh"
    OLD=$old NEW=$new awk '$0 == ENVIRON["OLD"] { print ENVIRON["NEW"]; next } { print }' "$file" >"$file.tmp"
    mv "$file.tmp" "$file"
}

# The scrape configuration, for Prometheus and vmagent alike (both read Prometheus' format).
# With --backend remote-write its source is prometheus/remote-write.example.yml (the same file plus
# external labels and remote_write, checked to stay in step by stack-tests/tests/rules.rs).
write_prometheus_config() {
    local dir=$state_dir/prometheus src=$repo/prometheus/prometheus.yml out
    if [ "$backend" = remote-write ]; then src=$repo/prometheus/remote-write.example.yml; fi
    config_source=$src
    out=$dir/prometheus.yml
    [ -f "$src" ] || die "$src is missing"
    mkdir -p "$dir/targets" "$dir/data"
    local interval_ms timeout
    interval_ms=$(duration_ms "$scrape_interval") || die "SYSMON_STACK_SCRAPE_INTERVAL: expected a duration such as 15s, 500ms or 1m, found '$scrape_interval'"
    duration_ms "$evaluation_interval" >/dev/null || die "SYSMON_STACK_EVALUATION_INTERVAL: expected a duration such as 15s, found '$evaluation_interval'"
    # The scrape timeout may not exceed the interval.
    timeout=10s
    if [ "$interval_ms" -lt 10000 ]; then timeout=$scrape_interval; fi

    {
        echo "# Generated by deploy/stack.sh from $src; edits here are overwritten by the next 'up'."
        cat "$src"
    } >"$out.new"
    replace_line "$out.new" "  scrape_interval: 15s" "  scrape_interval: $scrape_interval"
    replace_line "$out.new" "  evaluation_interval: 15s" "  evaluation_interval: $evaluation_interval"
    replace_line "$out.new" "  scrape_timeout: 10s" "  scrape_timeout: $timeout"
    replace_line "$out.new" "  - ../alert-rules/*.rules.yml" "  - $rule_files"
    replace_line "$out.new" "            - localhost:9093" "            - $(hostport "$alertmanager_port")"
    replace_line "$out.new" "          - localhost:10101" "          - $(hostport "$exporter_port")"
    replace_line "$out.new" "          - targets/*.yml" "          - $dir/targets/*.yml
          - $repo/prometheus/targets/*.yml"
    if [ "$backend" = remote-write ]; then
        replace_line "$out.new" "    url: http://localhost:8428/api/v1/write" "    url: $(url_of victoriametrics)/api/v1/write"
        # Who sends: this host and port, so that several stacks writing to one store stay apart.
        replace_line "$out.new" "    cluster: example-site" "    cluster: $(hostname)"
        replace_line "$out.new" "    prometheus: prometheus-01" "    prometheus: $(hostport "$prometheus_port")"
    fi
    mv "$out.new" "$out"

    # The fleet from SYSMON_STACK_TARGETS, as a file_sd file (Prometheus re-reads it on change).
    {
        echo "# Generated by deploy/stack.sh from SYSMON_STACK_TARGETS."
        if [ -z "$targets" ]; then
            echo "[]"
        else
            echo "- targets:"
            for t in $targets; do
                [[ $t =~ ^[^[:space:]]+:[0-9]+$ ]] || die "SYSMON_STACK_TARGETS: expected host:port, found '$t'"
                echo "    - \"$t\""
            done
        fi
    } >"$dir/targets/stack.yml.new"
    mv "$dir/targets/stack.yml.new" "$dir/targets/stack.yml"

    if command -v promtool >/dev/null 2>&1; then
        promtool check config "$out" >"$state_dir/logs/promtool.log" 2>&1 ||
            die "the generated $out is not valid: $(cat "$state_dir/logs/promtool.log")"
    fi
}

record_settings() {
    {
        echo "# Settings of the last 'deploy/stack.sh up' (read by status and down)."
        for v in address exporter_port prometheus_port alertmanager_port grafana_port \
            victoriametrics_port vmagent_port vmalert_port backend run_exporter run_grafana; do
            printf '%s=%q\n' "$v" "${!v}"
        done
    } >"$state_dir/stack.env"
}

# start NAME COMMAND... [with environment from the caller]: background, logs, pid file.
start() {
    local name=$1
    shift
    local log=$state_dir/logs/$name.log
    echo "--- $(date -u +%FT%TZ) $prog up: $*" >>"$log"
    nohup "$@" >>"$log" 2>&1 </dev/null &
    echo $! >"$(pid_file "$name")"
}

# Waits until NAME answers its ready endpoint; fails with the end of its log if it exits or the
# time runs out.
wait_ready() {
    local name=$1 url deadline pid
    url=$(url_of "$name")$(ready_path "$name")
    deadline=$((SECONDS + timeout))
    while :; do
        if [ "$(http_status "$url")" = 200 ]; then
            return 0
        fi
        pid=$(running_pid "$name")
        if [ "$name" != exporter ] || [ "$run_exporter" = yes ]; then
            if [ -z "$pid" ]; then
                echo "$prog: $name exited; the end of $state_dir/logs/$name.log:" >&2
                tail -n 20 "$state_dir/logs/$name.log" >&2 || true
                return 1
            fi
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "$prog: $name did not answer $url within ${timeout}s; the end of $state_dir/logs/$name.log:" >&2
            tail -n 20 "$state_dir/logs/$name.log" >&2 || true
            return 1
        fi
        sleep 0.2
    done
}

cmd_up() {
    # `up` again on a running stack, without --backend: the backend it runs, not the default.
    if [ -z "$backend_flag" ] && [ -z "${SYSMON_STACK_BACKEND:-}" ] && [ -f "$state_dir/stack.env" ]; then
        local recorded c
        recorded=$(sed -n 's/^backend=//p' "$state_dir/stack.env")
        for c in $(components_of "$recorded"); do
            if [ -n "$(running_pid "$c")" ]; then
                backend_flag=$recorded
                break
            fi
        done
    fi
    settings
    mkdir -p "$state_dir/run" "$state_dir/logs" "$state_dir/exporter" "$state_dir/alertmanager"
    # A stack already running in this state directory keeps its recorded addresses.
    for c in "${components[@]}"; do
        if [ -n "$(running_pid "$c")" ]; then
            echo "$prog: $c is already running (pid $(running_pid "$c")); 'down' first to change settings" >&2
        fi
    done

    # Every binary first, so that a missing one stops `up` before anything starts.
    local exporter_bin="" prometheus_bin="" alertmanager_bin grafana_bin="" vm_bin="" vmagent_bin="" vmalert_bin=""
    if [ "$backend" != victoriametrics ]; then prometheus_bin=$(find_prometheus); fi
    if [ "$backend" != prometheus ]; then vm_bin=$(find_vm_tool victoria-metrics); fi
    if [ "$backend" = victoriametrics ]; then
        vmagent_bin=$(find_vm_tool vmagent)
        vmalert_bin=$(find_vm_tool vmalert)
    fi
    alertmanager_bin=$(find_alertmanager)
    if [ "$run_exporter" = yes ] && [ -z "$(running_pid exporter)" ]; then
        exporter_bin=$(find_exporter)
    fi
    if [ "$run_grafana" = yes ]; then
        grafana_bin=$(find_grafana)
    fi
    [ -f "$alertmanager_config" ] || die "SYSMON_STACK_ALERTMANAGER_CONFIG: $alertmanager_config is missing"
    write_prometheus_config
    record_settings

    local started=()
    if [ -n "$exporter_bin" ]; then
        # The exporter refreshes its series once per slow interval: make that the scrape interval,
        # so every scrape finds fresh values (unless the extra flags set it, or the scrape is
        # faster than the exporter's 2 s sampling, where its default applies).
        local slow=()
        case " $exporter_args " in
            *" --sampler.slow-interval"*) ;;
            *) if [ "$(duration_ms "$scrape_interval")" -ge 2000 ]; then slow=("--sampler.slow-interval=$scrape_interval"); fi ;;
        esac
        # shellcheck disable=SC2086 # the extra flags are split on spaces on purpose
        start exporter "$exporter_bin" \
            "--web.listen-address=$(hostport "$exporter_port")" \
            "--storage.path=$state_dir/exporter" \
            "${slow[@]}" \
            $exporter_args
        started+=(exporter)
    fi
    if [ -z "$(running_pid alertmanager)" ]; then
        start alertmanager "$alertmanager_bin" \
            "--config.file=$alertmanager_config" \
            "--storage.path=$state_dir/alertmanager" \
            "--web.listen-address=$(hostport "$alertmanager_port")" \
            "--web.external-url=$(url_of alertmanager)" \
            "--cluster.listen-address="
        started+=(alertmanager)
    fi
    if [ -n "$vm_bin" ] && [ -z "$(running_pid victoriametrics)" ]; then
        mkdir -p "$state_dir/victoriametrics"
        # Queries see samples once they are this old (VictoriaMetrics' default is 30 s, for
        # remote writers that batch): two scrape intervals, which is 30 s at the default 15 s.
        local latency_ms
        latency_ms=$(($(duration_ms "$scrape_interval") * 2))
        if [ "$latency_ms" -lt 1000 ]; then latency_ms=1000; fi
        # With vmalert: its alerting API (/api/v1/rules, /api/v1/alerts) through the store's URL,
        # where Grafana looks for it.
        local proxy=()
        if [ "$backend" = victoriametrics ]; then proxy=("-vmalert.proxyURL=$(url_of vmalert)"); fi
        start victoriametrics "$vm_bin" \
            "-storageDataPath=$state_dir/victoriametrics/data" \
            "${proxy[@]}" \
            "-retentionPeriod=$retention" \
            "-httpListenAddr=$(hostport "$victoriametrics_port")" \
            "-search.latencyOffset=${latency_ms}ms"
        started+=(victoriametrics)
    fi
    if [ -n "$vmagent_bin" ] && [ -z "$(running_pid vmagent)" ]; then
        # The same generated prometheus.yml as Prometheus would read; its rule_files and alerting
        # sections are Prometheus' own (vmalert's flags carry them here), hence strictParse=false.
        # Samples wait in the on-disk queue (-remoteWrite.tmpDataPath) while the store is down.
        mkdir -p "$state_dir/vmagent"
        start vmagent "$vmagent_bin" \
            "-promscrape.config=$state_dir/prometheus/prometheus.yml" \
            "-promscrape.config.strictParse=false" \
            "-remoteWrite.url=$(url_of victoriametrics)/api/v1/write" \
            "-remoteWrite.tmpDataPath=$state_dir/vmagent/queue" \
            "-httpListenAddr=$(hostport "$vmagent_port")"
        started+=(vmagent)
    fi
    if [ -n "$vmalert_bin" ] && [ -z "$(running_pid vmalert)" ]; then
        # The same rule files as Prometheus'. Recording results and the ALERTS series go back into
        # the store (-remoteWrite.url), alert state is restored from it after a restart
        # (-remoteRead.url), alerts go to the same Alertmanager.
        # Alert templates of your own go in vmalert/templates/ of the state directory (none by
        # default; the path also marks the process as this stack's for status and down).
        local rule_args=() f
        for f in $rule_files; do rule_args+=("-rule=$f"); done
        mkdir -p "$state_dir/vmalert/templates"
        start vmalert "$vmalert_bin" \
            "${rule_args[@]}" \
            "-rule.templates=$state_dir/vmalert/templates/*.tpl" \
            "-datasource.url=$(url_of victoriametrics)" \
            "-remoteWrite.url=$(url_of victoriametrics)" \
            "-remoteRead.url=$(url_of victoriametrics)" \
            "-notifier.url=$(url_of alertmanager)" \
            "-evaluationInterval=$evaluation_interval" \
            "-external.url=$(url_of vmalert)" \
            "-httpListenAddr=$(hostport "$vmalert_port")"
        started+=(vmalert)
    fi
    if [ -n "$prometheus_bin" ] && [ -z "$(running_pid prometheus)" ]; then
        local keep=$retention
        if [ "$backend" = remote-write ]; then keep=$local_retention; fi
        start prometheus "$prometheus_bin" \
            "--config.file=$state_dir/prometheus/prometheus.yml" \
            "--storage.tsdb.path=$state_dir/prometheus/data" \
            "--storage.tsdb.retention.time=$keep" \
            "--web.listen-address=$(hostport "$prometheus_port")" \
            "--web.external-url=$(url_of prometheus)"
        started+=(prometheus)
    fi
    if [ -n "$grafana_bin" ] && [ -z "$(running_pid grafana)" ]; then
        mkdir -p "$state_dir/grafana/data" "$state_dir/grafana/logs" "$state_dir/grafana/plugins"
        SYSMON_PROMETHEUS_URL=$(query_url) \
            SYSMON_GRAFANA_DASHBOARDS=$repo/grafana/dashboards \
            start grafana "$grafana_bin" \
            "--homepath=$grafana_home" \
            "cfg:default.paths.data=$state_dir/grafana/data" \
            "cfg:default.paths.logs=$state_dir/grafana/logs" \
            "cfg:default.paths.plugins=$state_dir/grafana/plugins" \
            "cfg:default.paths.provisioning=$repo/grafana/provisioning" \
            "cfg:default.server.http_addr=$address" \
            "cfg:default.server.http_port=$grafana_port"
        started+=(grafana)
    fi

    local failed=0
    for c in "${components[@]}"; do
        if [ "$c" = grafana ] && [ -z "$grafana_bin" ]; then continue; fi
        wait_ready "$c" || failed=1
    done
    if [ "$failed" = 1 ]; then
        echo "$prog: the stack did not come up; '$prog down' stops what did" >&2
        exit 1
    fi

    echo "sysmon stack is up (backend $backend, state in $state_dir):"
    printf '  %-15s %s%s\n' exporter "$(url_of exporter)" "$( [ "$run_exporter" = yes ] || echo '  (not started here: SYSMON_STACK_EXPORTER=no)')"
    for c in "${components[@]}"; do
        case "$c" in exporter | grafana) continue ;; esac
        printf '  %-15s %s\n' "$c" "$(url_of "$c")"
    done
    if [ -n "$grafana_bin" ]; then
        printf '  %-15s %s\n' grafana "$(url_of grafana)"
    elif [ "$run_grafana" = no ]; then
        printf '  %-15s %s\n' grafana "not started (SYSMON_STACK_GRAFANA=no)"
    else
        printf '  %-15s %s\n' grafana "not installed: grafana-server was not found (set SYSMON_STACK_GRAFANA_BIN, or see docs/deploy.md); the rest of the stack runs without it"
    fi
    if [ -n "$targets" ]; then
        echo "  also scraping: $targets"
    fi
    echo "  query (Grafana, sysmon-top --prometheus): $(query_url)"
}

cmd_status() {
    load_recorded
    settings_from_record
    local down=0 pid code
    for c in "${components[@]}"; do
        pid=$(running_pid "$c")
        if [ "$c" = grafana ] && [ -z "$pid" ] && [ ! -f "$(pid_file grafana)" ]; then
            printf '%-13s %s\n' "$c" "not running (not installed or not started; not part of this stack)"
            continue
        fi
        code=$(http_status "$(url_of "$c")$(ready_path "$c")")
        if [ "$c" = exporter ] && [ "${run_exporter:-yes}" = no ]; then
            if [ "$code" = 200 ]; then
                printf '%-13s %s\n' "$c" "up (not managed here) $(url_of "$c")"
            else
                printf '%-13s %s\n' "$c" "down (not managed here): $(url_of "$c")$(ready_path "$c") answered ${code/#000/nothing}"
                down=1
            fi
            continue
        fi
        if [ -z "$pid" ]; then
            printf '%-13s %s\n' "$c" "down (not running)"
            down=1
        elif [ "$code" = 200 ]; then
            printf '%-13s %s\n' "$c" "up (pid $pid) $(url_of "$c")"
        else
            printf '%-13s %s\n' "$c" "down (pid $pid running, but $(url_of "$c")$(ready_path "$c") answered ${code/#000/nothing})"
            down=1
        fi
    done
    return $down
}

# status and down use the recorded addresses; without a record, the defaults and environment.
settings_from_record() {
    local rec_address=${address-} rec_exporter_port=${exporter_port-} rec_prometheus_port=${prometheus_port-} \
        rec_alertmanager_port=${alertmanager_port-} rec_grafana_port=${grafana_port-} \
        rec_run_exporter=${run_exporter-} rec_run_grafana=${run_grafana-} \
        rec_victoriametrics_port=${victoriametrics_port-} rec_vmagent_port=${vmagent_port-} \
        rec_vmalert_port=${vmalert_port-}
    backend_flag=${backend_flag:-${backend-}}
    settings
    victoriametrics_port=${rec_victoriametrics_port:-$victoriametrics_port}
    vmagent_port=${rec_vmagent_port:-$vmagent_port}
    vmalert_port=${rec_vmalert_port:-$vmalert_port}
    address=${rec_address:-$address}
    exporter_port=${rec_exporter_port:-$exporter_port}
    prometheus_port=${rec_prometheus_port:-$prometheus_port}
    alertmanager_port=${rec_alertmanager_port:-$alertmanager_port}
    grafana_port=${rec_grafana_port:-$grafana_port}
    run_exporter=${rec_run_exporter:-$run_exporter}
    run_grafana=${rec_run_grafana:-$run_grafana}
}

cmd_down() {
    local any=0 pid
    # Reverse order: nothing alerts about the exporter going away while Prometheus still runs;
    # vmagent stops before victoria-metrics, so that it can hand what it holds to the store (or
    # keep it in its on-disk queue). Every backend's components: whatever `up` started here.
    for c in grafana vmalert prometheus vmagent victoriametrics alertmanager exporter; do
        pid=$(running_pid "$c")
        if [ -n "$pid" ]; then
            any=1
            kill -TERM "$pid" 2>/dev/null || true
            local deadline=$((SECONDS + 20))
            while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
            if kill -0 "$pid" 2>/dev/null; then
                echo "$prog: $c (pid $pid) did not stop within 20s; killing it" >&2
                kill -KILL "$pid" 2>/dev/null || true
            fi
            echo "stopped $c (pid $pid)"
        fi
        rm -f "$(pid_file "$c")"
    done
    if [ "$any" = 0 ]; then
        echo "nothing running (state in $state_dir)"
    fi
}

backend_flag=""
command=${1:-}
[ $# -gt 0 ] && shift
while [ $# -gt 0 ]; do
    case "$1" in
    --backend) [ $# -ge 2 ] || bad_usage "--backend needs a value: prometheus, victoriametrics or remote-write"
        backend_flag=$2
        shift 2 ;;
    --backend=*) backend_flag=${1#--backend=}
        shift ;;
    *) echo "$prog: unknown argument '$1'" >&2
        usage ;;
    esac
done
[ -z "$backend_flag" ] || [ "$command" = up ] || bad_usage "--backend is given to 'up'; status and down use the recorded backend"

case "$command" in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
-h | --help | help) usage ;;
*) usage ;;
esac
