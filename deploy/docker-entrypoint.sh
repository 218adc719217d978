#!/bin/sh
# Entrypoint of the sysmon-exporter image (deploy/Dockerfile).
#
#   sysmon-entrypoint [FLAGS...]     runs sysmon-exporter with FLAGS
#   sysmon-entrypoint healthcheck    exit 0 when the exporter on :10101 answers /health with 200
#
# CAP_SYSLOG (capability 34) in the bounding set, i.e. the container was started with
# --cap-add=SYSLOG: run the copy of the binary that carries the file capability cap_syslog, so
# that /dev/kmsg can be read under kernel.dmesg_restrict=1. Otherwise the plain binary (the copy
# with the file capability would fail to exec).
set -eu

if [ "${1:-}" = healthcheck ]; then
    port=${SYSMON_HEALTHCHECK_PORT:-10101}
    exec bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$0" && printf "GET /health HTTP/1.0\r\n\r\n" >&3 && head -n1 <&3 | grep -q " 200 "' "$port"
fi

bounding=$(sed -n 's/^CapBnd:[[:space:]]*//p' /proc/self/status)
if [ -n "$bounding" ] && [ $(((0x$bounding >> 34) & 1)) -eq 1 ]; then
    exec /usr/local/libexec/sysmon/sysmon-exporter-syslog "$@"
fi
exec /usr/local/bin/sysmon-exporter "$@"
