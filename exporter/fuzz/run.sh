#!/usr/bin/env bash
# Runs every cargo-fuzz target of sysmon-exporter (or the ones named) for a given time each, with a
# seed corpus built from the fixture machines plus the hand-written seeds in seeds/<target>/, and
# prints executions and crashes per target.
#
#   exporter/fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]     (default: 60 seconds, every target)
#
# Environment:
#   FUZZ_SANITIZER  address (default) or none. With "address", a target whose AddressSanitizer
#                   build fails is rebuilt and run with --sanitizer none.
#   FUZZ_JOBS       build jobs (default: cargo's).
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and a C++ compiler (libfuzzer-sys builds libFuzzer).
# cargo-fuzz passes nightly-only flags to rustc; on a stable toolchain RUSTC_BOOTSTRAP=1 lets them
# through, which is what this script sets.
#
# The corpus grows in corpus/<target>/ (gitignored), crash inputs land in target/artifacts/<target>/.
# Exit status: 0 if no target crashed, 1 if one did, 2 on a usage or build error.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
exporter=$(dirname "$here")
fixtures="$exporter/tests/fixtures"
seconds=${1:-60}
shift || true
if ! [[ $seconds =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
    echo "usage: $0 [SECONDS_PER_TARGET] [TARGET...]" >&2
    exit 2
fi
if ! command -v cargo-fuzz >/dev/null; then
    echo "cargo-fuzz is not installed: cargo install cargo-fuzz" >&2
    exit 2
fi
export RUSTC_BOOTSTRAP=1
sanitizer=${FUZZ_SANITIZER:-address}
cd "$exporter" || exit 2

if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

# seed FILE...: copies fixture files into the current target's corpus, named after their path so
# the same file of two machines does not collide.
seed() {
    local f
    for f in "$@"; do
        [ -f "$f" ] || continue
        cp "$f" "$corpus/fixture-$(echo "${f#"$fixtures"/}" | tr '/' '_')"
    done
}

# seed_lines FILE...: one seed per line (the kernel log: the parsers take one record at a time).
seed_lines() {
    local f n
    for f in "$@"; do
        [ -f "$f" ] || continue
        n=0
        while IFS= read -r line; do
            n=$((n + 1))
            printf '%s\n' "$line" >"$corpus/fixture-$(echo "${f#"$fixtures"/}" | tr '/' '_')-$n"
        done <"$f"
    done
}

build_corpus() {
    local t=$1 f
    case $t in
    proc_stat) seed "$fixtures"/*/proc/stat ;;
    meminfo) seed "$fixtures"/*/proc/meminfo ;;
    diskstats)
        seed "$fixtures"/*/proc/diskstats
        seed_lines "$fixtures"/*/proc/diskstats
        mapfile -t files < <(find "$fixtures" \( -path '*/run/udev/data/*' -o -name rotational \) -type f)
        seed "${files[@]}"
        ;;
    netdev) seed "$fixtures"/*/proc/net/dev ;;
    netstat) seed "$fixtures"/*/proc/net/netstat "$fixtures"/*/proc/net/snmp "$fixtures"/*/proc/net/snmp6 ;;
    sockstat) seed "$fixtures"/*/proc/net/sockstat "$fixtures"/*/proc/net/sockstat6 ;;
    softnet) seed "$fixtures"/*/proc/net/softnet_stat ;;
    udp_queues) seed "$fixtures"/*/proc/net/udp "$fixtures"/*/proc/net/udp6 ;;
    if_inet6)
        seed "$fixtures"/*/proc/net/if_inet6
        mapfile -t files < <(find "$fixtures" -path '*/statistics/*' -type f | head -n 100)
        seed "${files[@]}"
        ;;
    arp) seed "$fixtures"/*/proc/net/arp ;;
    conntrack) seed "$fixtures"/*/proc/net/stat/nf_conntrack "$fixtures"/*/proc/sys/net/netfilter/* ;;
    mountinfo) mapfile -t files < <(find "$fixtures" -name mountinfo -type f) && seed "${files[@]}" ;;
    hwmon)
        # "<attribute file name>\n<its content>": the target reads the first line as a file name.
        while IFS= read -r f; do
            { basename "$f"; head -c 256 "$f"; } >"$corpus/fixture-$(echo "${f#"$fixtures"/}" | tr '/' '_')"
        done < <(find "$fixtures" -path '*/hwmon/hwmon*/*' -type f | head -n 400)
        ;;
    thermal)
        mapfile -t files < <(find "$fixtures" \( -path '*thermal_zone*/temp' -o -name cur_state -o -name max_state \) -type f)
        seed "${files[@]}"
        ;;
    netclass)
        mapfile -t files < <(find "$fixtures" -path '*/net/*' -type f \( -name flags -o -name mtu -o -name carrier -o -name dev_id -o -name ifindex -o -name type -o -name speed -o -name addr_assign_type \))
        seed "${files[@]}"
        ;;
    cpu_list)
        mapfile -t files < <(find "$fixtures" -maxdepth 6 -path '*/devices/system/cpu/*' -type f \( -name isolated -o -name online -o -name offline -o -name possible -o -name present \))
        seed "${files[@]}"
        ;;
    cpuinfo) seed "$fixtures"/*/proc/cpuinfo ;;
    cpufreq)
        # "<scaling_governor>\n<scaling_available_governors>", and each frequency attribute alone.
        for d in "$fixtures"/*/sys/devices/system/cpu/cpufreq/policy0 "$fixtures"/broken/sys/devices/system/cpu/cpu0/cpufreq; do
            [ -d "$d" ] || continue
            cat "$d/scaling_governor" "$d/scaling_available_governors" >"$corpus/fixture-$(echo "${d#"$fixtures"/}" | tr '/' '_')-governors"
        done
        mapfile -t files < <(find "$fixtures" -path '*/cpufreq/*' -type f -name '*_freq')
        seed "${files[@]}"
        ;;
    os_release) mapfile -t files < <(find "$fixtures" -name os-release -type f) && seed "${files[@]}" ;;
    kmsg | usb_classify)
        seed_lines "$fixtures"/*/kmsg
        if [ "$t" = usb_classify ]; then
            # The classifier sees the message after the record header.
            for f in "$corpus"/fixture-*; do
                sed -i 's/^[^;]*;//' "$f"
            done
        fi
        ;;
    usb_sysfs)
        mapfile -t files < <(find "$fixtures" -path '*usb*' -type f \( -name busnum -o -name devnum -o -name idVendor -o -name idProduct -o -name bDeviceClass -o -name speed -o -name version -o -name product -o -name manufacturer -o -name serial \))
        seed "${files[@]}"
        ;;
    loadavg) seed "$fixtures"/*/proc/loadavg ;;
    nfs) seed "$fixtures"/*/proc/net/rpc/nfs ;;
    nfsd) seed "$fixtures"/*/proc/net/rpc/nfsd ;;
    bcache)
        mapfile -t files < <(find -L "$fixtures" -path '*/fs/bcache/*' -type f)
        seed "${files[@]}"
        ;;
    dmmultipath)
        mapfile -t files < <(find -L "$fixtures"/server/sys/block/dm-10 -maxdepth 2 \( -name suspended -o -name size \) -type f; find -L "$fixtures"/server/sys/block/sd[wx]/device -maxdepth 1 -name state -type f)
        seed "${files[@]}"
        ;;
    mdadm)
        mapfile -t files < <(find "$fixtures" \( -path '*/proc/mdstat' -o -path '*/md/raid_disks' \) -type f)
        seed "${files[@]}"
        ;;
    pressure) seed "$fixtures"/*/proc/pressure/* ;;
    vmstat) seed "$fixtures"/*/proc/vmstat ;;
    filefd) seed "$fixtures"/*/proc/sys/fs/file-nr ;;
    entropy) seed "$fixtures"/*/proc/sys/kernel/random/entropy_avail "$fixtures"/*/proc/sys/kernel/random/poolsize ;;
    schedstat) seed "$fixtures"/*/proc/schedstat ;;
    kernel_hung) seed "$fixtures"/*/proc/sys/kernel/hung_task_detect_count "$fixtures"/*/proc/sys/kernel/pid_max ;;
    watchdog)
        mapfile -t files < <(find -L "$fixtures" -path '*/class/watchdog/*' -type f)
        seed "${files[@]}"
        ;;
    bonding)
        # "<slaves>\n<mii_status of each slave>..."
        for d in "$fixtures"/*/sys/class/net/bond*; do
            [ -f "$d/bonding/slaves" ] || continue
            { cat "$d/bonding/slaves"; for s in $(cat "$d/bonding/slaves"); do cat "$d/lower_$s/bonding_slave/mii_status" 2>/dev/null; done; } \
                >"$corpus/fixture-$(echo "${d#"$fixtures"/}" | tr '/' '_')"
        done
        ;;
    infiniband)
        mapfile -t files < <(find -L "$fixtures" -path '*/class/infiniband/*/ports/*' -type f \( -name state -o -name phys_state -o -name rate -o -path '*/counters/*' \))
        seed "${files[@]}"
        ;;
    fibrechannel)
        mapfile -t files < <(find -L "$fixtures" -path '*/class/fc_host/*' -type f)
        seed "${files[@]}"
        ;;
    ipvs) seed "$fixtures"/*/proc/net/ip_vs "$fixtures"/*/proc/net/ip_vs_stats ;;
    selinux)
        mapfile -t files < <(find "$fixtures" \( -path '*/fs/selinux/enforce' -o -path '*/etc/selinux/config' -o -name mountinfo \) -type f)
        seed "${files[@]}"
        ;;
    proc_pid_stat)
        mapfile -t files < <(find "$fixtures" -path '*/proc/[0-9]*' -name stat -type f)
        seed "${files[@]}"
        ;;
    btrfs_commit_stats)
        mapfile -t files < <(find "$fixtures" -path '*/fs/btrfs/*' -name commit_stats -type f)
        seed "${files[@]}"
        ;;
    xfs_stats)
        mapfile -t files < <(find "$fixtures" \( -path '*/fs/xfs/*/stats' -o -path '*/proc/fs/xfs/stat' \) -type f)
        seed "${files[@]}"
        ;;
    zfs_kstat)
        mapfile -t files < <(find "$fixtures" -path '*/spl/kstat/zfs/*' -type f)
        seed "${files[@]}"
        ;;
    nvme)
        mapfile -t files < <(find -L "$fixtures" -path '*/class/nvme/*' -type f \( -name model -o -name serial -o -name firmware_rev -o -name state \) 2>/dev/null)
        seed "${files[@]}"
        ;;
    dmi) mapfile -t files < <(find -L "$fixtures" -path '*/class/dmi/id/*' -type f 2>/dev/null) && seed "${files[@]}" ;;
    edac)
        mapfile -t files < <(find "$fixtures" -path '*/edac/mc/*' -name '*_dimm_label' -type f)
        seed "${files[@]}"
        find "$fixtures" -path '*/edac/mc/*' -printf '%f\n' | sort -u | head -50 | while IFS= read -r name; do
            printf '%s' "$name" >"$corpus/fixture-edac-name-$name"
        done
        ;;
    rapl) mapfile -t files < <(find -L "$fixtures" -path '*/class/powercap/*' -name name -type f 2>/dev/null) && seed "${files[@]}" ;;
    power_supply | tapestats)
        # "<file name>\n<contents>", as the target splits its input.
        if [ "$t" = power_supply ]; then class=power_supply; else class=scsi_tape; fi
        find -L "$fixtures" -path "*/class/$class/*" -type f -size -4k 2>/dev/null | while IFS= read -r f; do
            { printf '%s\n' "${f##*/}"; cat "$f"; } >"$corpus/fixture-$(echo "${f#"$fixtures"/}" | tr '/' '_')"
        done
        ;;
    textfile) mapfile -t files < <(find "$fixtures" -path '*/textfile/*' -name '*.prom' -type f) && seed "${files[@]}" ;;
    config_toml) cp "$exporter/sysmon.toml" "$corpus/shipped-sysmon.toml" ;;
    process)
        mapfile -t files < <(find "$fixtures/server/proc/1" "$fixtures/server/proc/2201" -type f -size -16k)
        seed "${files[@]}" "$fixtures/process_groups.yml"
        ;;
    esac
    return 0
}

# Build every target once, then run the binaries directly: `cargo fuzz run` would rebuild the
# library whenever a source file changes during a long run.
log_dir="$here/target/logs"
mkdir -p "$log_dir"
san=$sanitizer
build_log="$log_dir/build.log"
echo "building the fuzz targets (sanitizer $san)..." >&2
if ! cargo fuzz build -O --sanitizer "$san" >"$build_log" 2>&1; then
    if [ "$san" != none ]; then
        echo "build with --sanitizer $san failed (see $build_log), retrying with --sanitizer none" >&2
        san=none
        cargo fuzz build -O --sanitizer none >"$build_log" 2>&1 || { tail -20 "$build_log" >&2; exit 2; }
    else
        tail -20 "$build_log" >&2
        exit 2
    fi
fi
triple=$(rustc -vV | sed -n 's/^host: //p')
bin_dir="$here/target/$triple/release"

declare -A execs=() status=()
crashed=0
for t in "${targets[@]}"; do
    corpus="$here/corpus/$t"
    artifacts="$here/target/artifacts/$t"
    mkdir -p "$corpus" "$artifacts"
    build_corpus "$t"
    seeds=()
    [ -d "$here/seeds/$t" ] && seeds=("$here/seeds/$t")
    log="$log_dir/$t.log"
    if [ ! -x "$bin_dir/$t" ]; then
        echo "no such target: $t" >&2
        exit 2
    fi

    echo "== $t: ${seconds}s, sanitizer $san, $(find "$corpus" "${seeds[@]}" -type f | wc -l) corpus+seed files" >&2
    before=$(find "$artifacts" -type f | wc -l)
    "$bin_dir/$t" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 \
        -rss_limit_mb=2048 -max_len=8192 -artifact_prefix="$artifacts/" \
        "$corpus" "${seeds[@]}" >"$log" 2>&1
    rc=$?
    after=$(find "$artifacts" -type f | wc -l)
    execs[$t]=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
    if [ $rc -ne 0 ] || [ "$after" -gt "$before" ]; then
        status[$t]="CRASH (exit $rc; see $log and $artifacts)"
        crashed=1
    else
        status[$t]="ok"
    fi
    echo "   ${execs[$t]:-?} executions: ${status[$t]}" >&2
done

echo
printf '%-14s %14s  %s\n' target executions result
for t in "${targets[@]}"; do
    printf '%-14s %14s  %s\n' "$t" "${execs[$t]:-?}" "${status[$t]}"
done
exit $crashed
