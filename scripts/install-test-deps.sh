#!/usr/bin/env bash
# Installs what the tests need beyond the Rust toolchain, from Debian's packages, when missing:
#   promtool        (package prometheus)              - `promtool check metrics` on the exporter's output
#   node_exporter   (package prometheus-node-exporter) - the oracle the exporter's values are compared with
#   process-exporter (package prometheus-process-exporter) - the oracle of the `process` collector
#                   (tests/process_oracle.rs), the baseline of deploy/bench/process_bench.py, and
#                   real namedprocess_namegroup_* series for sysmon-top's processes view
#   textfile collector scripts (prometheus-node-exporter-collectors, smartmontools for smartmon.py)
#                   - real *.prom output for tests/textfile_collectors.rs
#   prometheus, alertmanager, amtool (packages prometheus, prometheus-alertmanager) - the stack's tests
#   victoria-metrics, vmagent, vmalert (package victoria-metrics) - the second backend's tests
#                   (stack-tests/tests/victoriametrics.rs, alerting_e2e.rs, dashboards.rs on both)
#   docker-compose  (package docker-compose)            - `docker-compose config` validates the compose file
#   systemd-analyze (package systemd)                   - `systemd-analyze security` checks the unit
#   python3         (package python3)                   - grafana/generate.py, checked against the dashboards
#   mkfs.ext4, losetup, mount (e2fsprogs, util-linux, mount) - the fault tests' small journal disks
#   lintian         (package lintian)                   - stack-tests/tests/package.rs lints the .deb packages
#   man             (package man-db)                    - the man page tests render the pages as lintian does
#   zsh, fish       (packages zsh, fish)                - `zsh -n`/`fish -n` and completion runs on the generated scripts
#   nginx, openssl  (packages nginx, openssl)           - stack-tests/tests/reverse_proxy.rs runs deploy/nginx/sysmon.conf
#   cargo-deb       (crates.io, `cargo install`)        - scripts/build-deb.sh builds the packages with it
# Safe to run again: it does nothing when everything is there.
set -euo pipefail

need=()
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
[ -x /usr/bin/prometheus-node-exporter ] || command -v node_exporter >/dev/null 2>&1 || need+=(prometheus-node-exporter)
[ -d /usr/share/prometheus-node-exporter-collectors ] || need+=(prometheus-node-exporter-collectors)
[ -x /usr/bin/prometheus-process-exporter ] || need+=(prometheus-process-exporter)
[ -x /usr/sbin/smartctl ] || need+=(smartmontools)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v python3 >/dev/null 2>&1 || need+=(python3)
command -v mkfs.ext4 >/dev/null 2>&1 || need+=(e2fsprogs)
command -v losetup >/dev/null 2>&1 || need+=(util-linux)
command -v mount >/dev/null 2>&1 || need+=(mount)
command -v amtool >/dev/null 2>&1 || need+=(prometheus-alertmanager)
{ command -v victoria-metrics && command -v vmagent && command -v vmalert; } >/dev/null 2>&1 || need+=(victoria-metrics)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
command -v lintian >/dev/null 2>&1 || need+=(lintian)
command -v man >/dev/null 2>&1 || need+=(man-db)
command -v zsh >/dev/null 2>&1 || need+=(zsh)
command -v fish >/dev/null 2>&1 || need+=(fish)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
[ -x /usr/sbin/nginx ] || need+=(nginx)

if [ ${#need[@]} -gt 0 ]; then
    echo "install-test-deps: installing ${need[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    # The packages' services must not start (and hold ports) on a test machine: a policy-rc.d
    # that refuses service starts, unless the machine already has one.
    made_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
        $sudo chmod +x /usr/sbin/policy-rc.d
        made_policy=1
    fi
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
    [ -z "$made_policy" ] || $sudo rm -f /usr/sbin/policy-rc.d
fi

# Debian's packages start their services when installed outside a container; stop them so they
# do not hold the ports the tests use.
for svc in prometheus prometheus-node-exporter prometheus-process-exporter prometheus-alertmanager victoria-metrics nginx; do
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
        systemctl stop "$svc" || true
    fi
done

# The package test builds .deb files with cargo-deb (3.8: it still packages the dev profile's
# binaries the test uses); scripts/build-deb.sh would install it too, but not inside a test's time.
if ! cargo deb --version >/dev/null 2>&1; then
    echo "install-test-deps: installing cargo-deb from crates.io"
    cargo install cargo-deb --version '~3.8' --locked
fi

promtool --version 2>&1 | head -1
amtool --version 2>&1 | head -1
docker-compose version --short 2>&1 | head -1
systemd-analyze --version 2>&1 | head -1
(/usr/bin/prometheus-node-exporter --version 2>&1 || node_exporter --version 2>&1) | head -1
