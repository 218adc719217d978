#!/usr/bin/env python3
"""Writes a synthetic large host (proc/, sys/, rootfs/) for the benchmark.

The tree describes a big container host: 128 logical CPUs on two sockets, 2,000 network
interfaces (four NICs, a bond with VLANs, the rest container veths), 500 mounts (local disks,
NFS, container volumes, plus the usual virtual filesystems that the filesystem collector filters
out), 200 block devices that survive the diskstats collector's default device filter (NVMe, SAS,
device-mapper; partitions and loop devices are in /proc/diskstats too, and get filtered out), two
hwmon chips per socket plus NVMe sensors, an ACPI thermal zone with a cooling device per CPU, 48
md RAID arrays (raid1, raid10, raid5, raid6; a few degraded, rebuilding, checking or inactive),
four ZFS pools with 400 datasets between them (one pool DEGRADED), and an NFS client (the 24 NFS
mounts' /proc/net/rpc/nfs).

Formats follow the kernel's documentation: Documentation/filesystems/proc.rst (stat, meminfo,
loadavg, net/dev, mountinfo), Documentation/admin-guide/iostats.rst (diskstats, 17 counters as
since Linux 5.5), Documentation/accounting/psi.rst (pressure), Documentation/ABI/testing/
sysfs-class-net, sysfs-devices-system-cpu, sysfs-class-thermal and
Documentation/hwmon/sysfs-interface.rst, Documentation/admin-guide/md.rst (/proc/mdstat and
/sys/block/mdN/md/), the OpenZFS kstat files (/proc/spl/kstat/zfs: arcstats and the other named
kstats in "name type data" form, per pool `state`, `io` and one `objset-0x<id>` per dataset) and
nfsstat(8) for /proc/net/rpc/nfs. Counter values are random but internally consistent
(the `cpu` line of /proc/stat is the sum of the per-CPU lines, read sectors match read bytes,
etc.), and deterministic for a given --seed.

Usage: gen_large_host.py OUTDIR [--cpus 128] [--interfaces 2000] [--mounts 500] [--disks 200]
                         [--md-arrays 48] [--zfs-pools 4] [--zfs-datasets 400]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from pathlib import Path

USER_HZ = 100
BOOT_TIME = 1_767_000_000  # btime: boot time, seconds since the epoch
UPTIME_S = 3_456_789.12


class Tree:
    """Creates files, directories and symlinks under one root."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, rel: str, text: str) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def mkdir(self, rel: str) -> None:
        (self.root / rel).mkdir(parents=True, exist_ok=True)

    def symlink(self, rel: str, target: str) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink() or path.exists():
            path.unlink()
        os.symlink(target, path)


# --- CPUs -------------------------------------------------------------------------------------


def gen_cpus(t: Tree, rng: random.Random, cpus: int) -> None:
    sockets = 2 if cpus >= 4 else 1
    cores_per_socket = max(1, cpus // (2 * sockets))  # two hardware threads per core

    # /proc/stat: per-CPU times in USER_HZ ticks; the aggregate line is their sum.
    fields = ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal", "guest", "guest_nice"]
    total = [0] * len(fields)
    per_cpu_lines = []
    budget = int(UPTIME_S * USER_HZ)
    for cpu in range(cpus):
        user = rng.randint(budget // 20, budget // 5)
        nice = rng.randint(0, budget // 200)
        system = rng.randint(budget // 50, budget // 12)
        iowait = rng.randint(0, budget // 100)
        irq = rng.randint(0, budget // 500)
        softirq = rng.randint(0, budget // 200)
        steal = 0
        guest = rng.randint(0, user // 10)  # guest time is also counted in user
        guest_nice = 0
        idle = budget - (user + nice + system + iowait + irq + softirq + steal)
        row = [user, nice, system, idle, iowait, irq, softirq, steal, guest, guest_nice]
        total = [a + b for a, b in zip(total, row)]
        per_cpu_lines.append(f"cpu{cpu} " + " ".join(map(str, row)))
    intr_counts = [rng.randint(0, 10**8) if i % 3 else 0 for i in range(512)]
    softirqs = [rng.randint(10**6, 10**9) for _ in range(10)]
    stat = ["cpu  " + " ".join(map(str, total)), *per_cpu_lines]
    stat.append(f"intr {sum(intr_counts)} " + " ".join(map(str, intr_counts)))
    stat.append(f"ctxt {rng.randint(10**10, 10**11)}")
    stat.append(f"btime {BOOT_TIME}")
    stat.append(f"processes {rng.randint(10**6, 10**8)}")
    stat.append(f"procs_running {rng.randint(1, 40)}")
    stat.append(f"procs_blocked {rng.randint(0, 4)}")
    stat.append(f"softirq {sum(softirqs)} " + " ".join(map(str, softirqs)))
    t.write("proc/stat", "\n".join(stat) + "\n")

    # /proc/cpuinfo (read by node_exporter only with --collector.cpu.info, cheap to provide).
    info = []
    for cpu in range(cpus):
        core = cpu % (sockets * cores_per_socket)
        socket = core // cores_per_socket
        info.append(
            f"processor\t: {cpu}\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 1\n"
            f"model name\t: AMD EPYC 7543 32-Core Processor\nstepping\t: 1\nmicrocode\t: 0xa0011d1\n"
            f"cpu MHz\t\t: 2800.000\ncache size\t: 512 KB\nphysical id\t: {socket}\n"
            f"siblings\t: {cpus // sockets}\ncore id\t\t: {core % cores_per_socket}\n"
            f"cpu cores\t: {cores_per_socket}\napicid\t\t: {cpu}\nfpu\t\t: yes\n"
            f"flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 "
            f"clflush mmx fxsr sse sse2 ht syscall nx mmxext fxsr_opt pdpe1gb rdtscp lm constant_tsc "
            f"rep_good nopl nonstop_tsc cpuid extd_apicid aperfmperf pni pclmulqdq monitor ssse3 fma "
            f"cx16 pcid sse4_1 sse4_2 x2apic movbe popcnt aes xsave avx f16c rdrand lahf_lm svm\n"
            f"bugs\t\t: sysret_ss_attrs spectre_v1 spectre_v2 spec_store_bypass srso\n"
            f"bogomips\t: 5600.00\n"
        )
    t.write("proc/cpuinfo", "\n".join(info))

    # sysfs: topology, cpufreq and thermal throttle counters per CPU.
    base = "sys/devices/system/cpu"
    cpu_range = f"0-{cpus - 1}"
    for name in ("online", "possible", "present"):
        t.write(f"{base}/{name}", cpu_range + "\n")
    t.write(f"{base}/offline", "\n")
    t.write(f"{base}/isolated", "\n")
    t.write(f"{base}/kernel_max", "8191\n")
    half = sockets * cores_per_socket
    for cpu in range(cpus):
        d = f"{base}/cpu{cpu}"
        core = cpu % half
        socket = core // cores_per_socket
        sibling = cpu + half if cpu < half else cpu - half
        pair = f"{min(cpu, sibling)},{max(cpu, sibling)}"
        if cpu != 0:  # cpu0 cannot be taken offline and has no `online` file
            t.write(f"{d}/online", "1\n")
        t.write(f"{d}/topology/physical_package_id", f"{socket}\n")
        t.write(f"{d}/topology/die_id", f"{socket}\n")
        t.write(f"{d}/topology/core_id", f"{core % cores_per_socket}\n")
        t.write(f"{d}/topology/core_cpus_list", pair + "\n")
        t.write(f"{d}/topology/thread_siblings_list", pair + "\n")
        t.write(f"{d}/thermal_throttle/core_throttle_count", f"{rng.choice([0, 0, 0, 3, 17])}\n")
        t.write(f"{d}/thermal_throttle/package_throttle_count", f"{rng.choice([0, 0, 5])}\n")
        t.write(f"{d}/cpufreq/scaling_cur_freq", f"{rng.choice([1500000, 2800000, 3700000])}\n")
        t.write(f"{d}/cpufreq/scaling_min_freq", "1500000\n")
        t.write(f"{d}/cpufreq/scaling_max_freq", "3700000\n")
        t.write(f"{d}/cpufreq/cpuinfo_min_freq", "1500000\n")
        t.write(f"{d}/cpufreq/cpuinfo_max_freq", "3700000\n")
        t.write(f"{d}/cpufreq/scaling_governor", "performance\n")
        t.write(f"{d}/cpufreq/scaling_driver", "acpi-cpufreq\n")


# --- memory, load, pressure, kernel identity, time ------------------------------------------


def gen_misc(t: Tree, rng: random.Random, cpus: int) -> None:
    total_kb = 1056 * 1024 * 1024  # ~1 TiB
    free = total_kb // 7
    cached = total_kb // 3
    buffers = 12 * 1024 * 1024
    anon = total_kb // 4
    meminfo = [
        ("MemTotal", total_kb), ("MemFree", free), ("MemAvailable", free + cached + buffers),
        ("Buffers", buffers), ("Cached", cached), ("SwapCached", 0),
        ("Active", anon + cached // 2), ("Inactive", cached // 2),
        ("Active(anon)", anon), ("Inactive(anon)", 1024 * 1024),
        ("Active(file)", cached // 2), ("Inactive(file)", cached // 2 - 1024 * 1024),
        ("Unevictable", 65536), ("Mlocked", 65536), ("SwapTotal", 8 * 1024 * 1024),
        ("SwapFree", 8 * 1024 * 1024), ("Zswap", 0), ("Zswapped", 0),
        ("Dirty", 53248), ("Writeback", 0), ("AnonPages", anon), ("Mapped", 6 * 1024 * 1024),
        ("Shmem", 9 * 1024 * 1024), ("KReclaimable", 40 * 1024 * 1024), ("Slab", 52 * 1024 * 1024),
        ("SReclaimable", 40 * 1024 * 1024), ("SUnreclaim", 12 * 1024 * 1024),
        ("KernelStack", 180000), ("PageTables", 3 * 1024 * 1024), ("SecPageTables", 0),
        ("NFS_Unstable", 0), ("Bounce", 0), ("WritebackTmp", 0),
        ("CommitLimit", total_kb // 2 + 8 * 1024 * 1024), ("Committed_AS", total_kb // 3),
        ("VmallocTotal", 34359738367), ("VmallocUsed", 900000), ("VmallocChunk", 0),
        ("Percpu", cpus * 2048), ("HardwareCorrupted", 0), ("AnonHugePages", 80 * 1024 * 1024),
        ("ShmemHugePages", 0), ("ShmemPmdMapped", 0), ("FileHugePages", 0), ("FilePmdMapped", 0),
        ("CmaTotal", 0), ("CmaFree", 0), ("Unaccepted", 0), ("HugePages_Total", 0),
        ("HugePages_Free", 0), ("HugePages_Rsvd", 0), ("HugePages_Surp", 0),
        ("Hugepagesize", 2048), ("Hugetlb", 0), ("DirectMap4k", 2 * 1024 * 1024),
        ("DirectMap2M", 200 * 1024 * 1024), ("DirectMap1G", total_kb - 202 * 1024 * 1024),
    ]
    lines = []
    for key, kb in meminfo:
        if key.startswith("HugePages_"):
            lines.append(f"{key + ':':<16}{kb:>8}")  # page counts, no unit
        else:
            lines.append(f"{key + ':':<16}{kb:>8} kB")
    t.write("proc/meminfo", "\n".join(lines) + "\n")

    t.write("proc/loadavg", f"{cpus * 0.31:.2f} {cpus * 0.28:.2f} {cpus * 0.25:.2f} 37/41823 3141592\n")
    t.write("proc/uptime", f"{UPTIME_S:.2f} {UPTIME_S * cpus * 0.7:.2f}\n")
    # PSI: cpu, io and memory have "some" and "full" lines; irq (Linux 6.1+) has only "full".
    for res in ("cpu", "io", "memory", "irq"):
        some = f"some avg10=1.53 avg60=1.20 avg300=0.97 total={rng.randint(10**9, 10**11)}\n"
        full = f"full avg10=0.12 avg60=0.08 avg300=0.05 total={rng.randint(10**8, 10**9)}\n"
        t.write(f"proc/pressure/{res}", full if res == "irq" else some + full)

    kernel = "proc/sys/kernel"
    t.write(f"{kernel}/ostype", "Linux\n")
    t.write(f"{kernel}/osrelease", "6.1.0-28-amd64\n")
    t.write(f"{kernel}/version", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1 (2024-11-22)\n")
    t.write(f"{kernel}/hostname", "bench-large-host\n")
    t.write(f"{kernel}/domainname", "(none)\n")
    t.write("rootfs/etc/hostname", "bench-large-host\n")

    os_release = (
        'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\n'
        'VERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\n'
        'HOME_URL="https://www.debian.org/"\n'
    )
    t.write("rootfs/usr/lib/os-release", os_release)
    t.symlink("rootfs/etc/os-release", "../usr/lib/os-release")

    cs = "sys/devices/system/clocksource/clocksource0"
    t.write(f"{cs}/available_clocksource", "tsc hpet acpi_pm \n")
    t.write(f"{cs}/current_clocksource", "tsc\n")


# --- network ------------------------------------------------------------------------------------


def interface_names(count: int, rng: random.Random) -> list[tuple[str, str]]:
    """(name, kind) for `count` interfaces: lo, 4 NICs, a bond, VLANs on it, then veths."""
    names = [("lo", "loopback")]
    names += [(f"eno{i}", "nic") for i in range(1, 5)]
    names.append(("bond0", "bond"))
    names.append(("docker0", "bridge"))
    names += [(f"bond0.{vlan}", "vlan") for vlan in range(100, 196)]
    seen = {n for n, _ in names}
    while len(names) < count:
        name = f"veth{rng.getrandbits(28):07x}"
        if name not in seen:
            seen.add(name)
            names.append((name, "veth"))
    return names[:count]


def gen_network(t: Tree, rng: random.Random, count: int) -> None:
    ifaces = interface_names(count, rng)
    dev = [
        "Inter-|   Receive                                                |  Transmit",
        " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed",
    ]
    nic_dirs = {}
    for index, (name, kind) in enumerate(ifaces, start=1):
        rx_packets = rng.randint(10**3, 10**9)
        tx_packets = rng.randint(10**3, 10**9)
        rx = [rx_packets * rng.randint(60, 1500), rx_packets, rng.randint(0, 9), rng.randint(0, 99), 0, 0, 0,
              rng.randint(0, 10**4)]
        tx = [tx_packets * rng.randint(60, 1500), tx_packets, 0, rng.randint(0, 9), 0, 0, 0, 0]
        dev.append(f"{name:>16}: " + " ".join(f"{v:>8}" for v in rx + tx))

        # sysfs: physical NICs live under their PCI device, the rest under devices/virtual/net.
        if kind == "nic":
            devdir = f"sys/devices/pci0000:00/0000:00:1c.{index}/0000:0{index}:00.0/net/{name}"
            t.symlink(f"{devdir}/device", f"../../../0000:0{index}:00.0")
            t.mkdir(f"sys/devices/pci0000:00/0000:00:1c.{index}/0000:0{index}:00.0/driver")
            nic_dirs[name] = devdir
        else:
            devdir = f"sys/devices/virtual/net/{name}"
        t.symlink(f"sys/class/net/{name}", "../../" + devdir[len("sys/"):])
        mac = "00:00:00:00:00:00" if kind == "loopback" else "02:42:%02x:%02x:%02x:%02x" % tuple(
            rng.getrandbits(8) for _ in range(4))
        attrs = {
            "addr_assign_type": "0" if kind in ("nic", "loopback") else "3",
            "addr_len": "6",
            "address": mac,
            "broadcast": "00:00:00:00:00:00" if kind == "loopback" else "ff:ff:ff:ff:ff:ff",
            "carrier": "1",
            "carrier_changes": str(rng.randint(0, 12)),
            "carrier_down_count": "1",
            "carrier_up_count": "2",
            "dev_id": "0x0",
            "dev_port": "0",
            "dormant": "0",
            "flags": "0x9" if kind == "loopback" else "0x1003",
            "ifalias": "",
            "ifindex": str(index),
            "iflink": str(6 if kind == "vlan" else index),
            "link_mode": "0",
            "mtu": "65536" if kind == "loopback" else ("9000" if kind in ("nic", "bond", "vlan") else "1500"),
            "name_assign_type": "4" if kind == "nic" else "3" if kind == "veth" else "2",
            "netdev_group": "0",
            "operstate": "unknown" if kind == "loopback" else "up",
            "proto_down": "0",
            "testing": "0",
            "tx_queue_len": "1000" if kind != "loopback" else "1000",
            "type": "772" if kind == "loopback" else "1",
        }
        # Speed and duplex: the kernel answers EINVAL for devices without a link speed
        # (loopback, bridges); such attributes are left out here, as readers must skip them.
        if kind in ("nic", "bond", "vlan"):
            attrs["speed"] = "25000" if kind == "nic" else "50000"
            attrs["duplex"] = "full"
        elif kind == "veth":
            attrs["speed"] = "10000"
            attrs["duplex"] = "full"
        if kind == "nic":
            attrs["phys_port_name"] = ""
        # bond0 bonds eno1 and eno2 (Documentation/networking/bonding.rst), both up.
        if name in ("eno1", "eno2"):
            attrs["bonding_slave/mii_status"] = "up"
        if kind == "bond":
            attrs["bonding/slaves"] = "eno1 eno2"
            attrs["bonding/mii_status"] = "up"
            for slave in ("eno1", "eno2"):
                t.symlink(f"{devdir}/lower_{slave}", os.path.relpath(nic_dirs[slave], devdir))
        for attr, value in attrs.items():
            t.write(f"{devdir}/{attr}", value + "\n")
        stats = {"rx_bytes": rx[0], "rx_packets": rx[1], "rx_errors": rx[2], "rx_dropped": rx[3],
                 "tx_bytes": tx[0], "tx_packets": tx[1], "tx_errors": tx[2], "tx_dropped": tx[3],
                 "multicast": rx[7], "collisions": 0}
        for stat, value in stats.items():
            t.write(f"{devdir}/statistics/{stat}", f"{value}\n")
    # bonding_masters is a regular file among the symlinks of /sys/class/net.
    t.write("sys/class/net/bonding_masters", "bond0\n")
    t.write("proc/net/dev", "\n".join(dev) + "\n")


# --- block devices ------------------------------------------------------------------------------


def sd_name(i: int) -> str:
    """sda..sdz, sdaa..sdzz: the kernel's naming of SCSI disks."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    if i < 26:
        return "sd" + letters[i]
    i -= 26
    return "sd" + letters[i // 26] + letters[i % 26]


def sd_dev(i: int) -> tuple[int, int]:
    """Major/minor of the i-th SCSI disk (16 disks per major: 8, 65..71, 128..135)."""
    majors = [8, 65, 66, 67, 68, 69, 70, 71, 128, 129, 130, 131, 132, 133, 134, 135]
    return majors[i // 16], (i % 16) * 16


def gen_disks(t: Tree, rng: random.Random, count: int) -> list[tuple[str, int, int, str]]:
    """Writes /proc/diskstats, /sys/block and udev data; returns (name, major, minor, kind) of the
    devices that carry filesystems, for the mount table."""
    nvme = min(8, count)
    dm = min(12, max(0, count - nvme))
    sd = max(0, count - nvme - dm)
    # (name, major, minor, kind); partitions and loop devices are listed too but filtered out
    # by the default --collector.diskstats.device-exclude of both exporters.
    devices: list[tuple[str, int, int, str]] = []
    for i in range(nvme):
        devices.append((f"nvme{i}n1", 259, i * 2, "nvme"))
        devices.append((f"nvme{i}n1p1", 259, i * 2 + 1, "part"))
    for i in range(sd):
        major, minor = sd_dev(i)
        devices.append((sd_name(i), major, minor, "sd"))
    for i in range(dm):
        devices.append((f"dm-{i}", 253, i, "dm"))
    for i in range(8):
        devices.append((f"loop{i}", 7, i, "loop"))

    lines = []
    for name, major, minor, kind in devices:
        if kind == "loop":
            lines.append(f"{major:>4} {minor:>7} {name} " + " ".join(["0"] * 17))
            continue
        reads = rng.randint(10**4, 10**9)
        writes = rng.randint(10**4, 10**9)
        discards = rng.randint(0, 10**5) if kind == "nvme" else 0
        flushes = rng.randint(0, 10**6) if kind != "dm" else 0
        row = [
            reads, reads // 9, reads * 16, reads // 3,  # reads, merged, sectors, ms
            writes, writes // 5, writes * 24, writes // 2,  # writes, merged, sectors, ms
            rng.randint(0, 8), rng.randint(10**5, 10**9), rng.randint(10**6, 10**10),  # in flight, io ms, weighted
            discards, 0, discards * 2048, discards // 10,  # discards, merged, sectors, ms
            flushes, flushes // 4,  # flushes, ms
        ]
        lines.append(f"{major:>4} {minor:>7} {name} " + " ".join(map(str, row)))

        # sysfs attributes and udev data for the device.
        if kind == "part":
            continue
        devdir = f"sys/devices/platform/bench/block/{name}"
        t.symlink(f"sys/block/{name}", f"../devices/platform/bench/block/{name}")
        size = {"nvme": 7501476528, "sd": 15628053168, "dm": 2147483648}[kind]
        t.write(f"{devdir}/dev", f"{major}:{minor}\n")
        t.write(f"{devdir}/size", f"{size}\n")
        t.write(f"{devdir}/ro", "0\n")
        t.write(f"{devdir}/removable", "0\n")
        t.write(f"{devdir}/queue/rotational", "1\n" if kind == "sd" else "0\n")
        t.write(f"{devdir}/queue/logical_block_size", "512\n")
        t.write(f"{devdir}/queue/physical_block_size", "4096\n")
        if kind == "dm":
            t.write(f"{devdir}/dm/name", f"vg0-lv{minor}\n")
            t.write(f"{devdir}/dm/uuid", f"LVM-bench{minor:04d}\n")
        t.write(f"rootfs/run/udev/data/b{major}:{minor}", udev_record(name, kind, minor, rng))
    t.write("proc/diskstats", "\n".join(lines) + "\n")
    return [d for d in devices if d[3] in ("sd", "part", "dm")]


def udev_record(name: str, kind: str, minor: int, rng: random.Random) -> str:
    """The udev database entry (/run/udev/data/b<major>:<minor>) of a disk."""
    serial = "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(8))
    wwn = f"0x5000c500{rng.getrandbits(32):08x}"
    if kind == "nvme":
        env = {"ID_TYPE": "disk", "ID_BUS": "nvme", "ID_MODEL": "SAMSUNG MZQL27T6HBLA-00A07",
               "ID_REVISION": "GDC5602Q", "ID_SERIAL": f"SAMSUNG_MZQL27T6HBLA-00A07_S6CKNT0W{serial}",
               "ID_SERIAL_SHORT": f"S6CKNT0W{serial}", "ID_WWN": f"eui.36434b30{rng.getrandbits(32):08x}",
               "ID_PATH": f"pci-0000:8{minor // 2}:00.0-nvme-1"}
    elif kind == "sd":
        env = {"ID_TYPE": "disk", "ID_BUS": "ata", "ID_ATA": "1", "ID_MODEL": "ST8000NM0055-1RM112",
               "ID_REVISION": "SN05", "ID_SERIAL": f"ST8000NM0055-1RM112_ZA{serial}",
               "ID_SERIAL_SHORT": f"ZA{serial}", "ID_WWN": wwn,
               "ID_PATH": f"pci-0000:3b:00.0-sas-phy{minor // 16}-lun-0",
               "ID_ATA_ROTATION_RATE_RPM": "7200", "ID_ATA_WRITE_CACHE": "1",
               "ID_ATA_WRITE_CACHE_ENABLED": "1", "ID_FS_TYPE": "xfs", "ID_FS_USAGE": "filesystem",
               "ID_FS_UUID": "%08x-%04x-4%03x-8%03x-%012x" % (
                   rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(12), rng.getrandbits(12),
                   rng.getrandbits(48)),
               "ID_FS_VERSION": "1.0"}
    else:
        env = {"DM_NAME": f"vg0-lv{minor}", "DM_UUID": f"LVM-bench{minor:04d}", "DM_LV_NAME": f"lv{minor}",
               "DM_VG_NAME": "vg0", "DM_LV_LAYER": "", "DM_SUSPENDED": "0", "DM_UDEV_RULES_VSN": "2",
               "ID_FS_TYPE": "ext4", "ID_FS_USAGE": "filesystem", "ID_FS_VERSION": "1.0"}
    out = [f"S:disk/by-id/{env.get('ID_BUS', 'dm')}-{env.get('ID_SERIAL', env.get('DM_NAME'))}",
           f"W:{rng.randint(1, 400)}", f"I:{rng.randint(10**6, 10**7)}"]
    out += [f"E:{k}={v}" for k, v in env.items()]
    out += ["G:systemd", "Q:systemd", "V:1"]
    return "\n".join(out) + "\n"


# --- mounts -------------------------------------------------------------------------------------


def gen_mounts(t: Tree, rng: random.Random, count: int, disks: list[tuple[str, int, int, str]]) -> None:
    """/proc/1/mountinfo (and the older /proc/1/mounts) with `count` mounts, and every mount point
    as a directory under rootfs/ so that statfs() succeeds on it."""
    # (mount point, fs type, source, options, major:minor)
    mounts: list[tuple[str, str, str, str, str]] = [
        ("/", "ext4", "/dev/nvme0n1p1", "rw,relatime", "259:1"),
        ("/proc", "proc", "proc", "rw,nosuid,nodev,noexec,relatime", "0:22"),
        ("/sys", "sysfs", "sysfs", "rw,nosuid,nodev,noexec,relatime", "0:21"),
        ("/dev", "devtmpfs", "udev", "rw,nosuid,relatime", "0:5"),
        ("/dev/pts", "devpts", "devpts", "rw,nosuid,noexec,relatime", "0:23"),
        ("/dev/shm", "tmpfs", "tmpfs", "rw,nosuid,nodev", "0:24"),
        ("/run", "tmpfs", "tmpfs", "rw,nosuid,nodev,noexec,relatime", "0:25"),
        ("/sys/fs/cgroup", "cgroup2", "cgroup2", "rw,nosuid,nodev,noexec,relatime", "0:26"),
        ("/sys/kernel/debug", "debugfs", "debugfs", "rw,nosuid,nodev,noexec,relatime", "0:7"),
        ("/sys/fs/bpf", "bpf", "bpf", "rw,nosuid,nodev,noexec,relatime", "0:27"),
        ("/boot/efi", "vfat", "/dev/nvme1n1p1", "rw,relatime", "259:3"),
        ("/tmp", "tmpfs", "tmpfs", "rw,nosuid,nodev", "0:28"),
    ]
    nvme_parts = [d[:3] for d in disks if d[3] == "part"]
    sds = [d[:3] for d in disks if d[3] == "sd"]
    dms = [d[:3] for d in disks if d[3] == "dm"]
    for name, major, minor in nvme_parts[2:]:
        mounts.append((f"/var/lib/nvme/{name}", "xfs", f"/dev/{name}", "rw,noatime", f"{major}:{minor}"))
    for name, major, minor in sds:
        mounts.append((f"/srv/disks/{name}", "xfs", f"/dev/{name}", "rw,noatime", f"{major}:{minor}"))
    for name, major, minor in dms:
        mounts.append((f"/srv/lvm/lv{minor}", "ext4", f"/dev/mapper/vg0-lv{minor}",
                       "ro,relatime" if minor % 5 == 4 else "rw,relatime", f"{major}:{minor}"))
    for i in range(24):
        mounts.append((f"/home/team{i:02d}", "nfs4", f"nas1.example.internal:/export/home/team{i:02d}",
                       "rw,relatime,vers=4.2,rsize=1048576,wsize=1048576", f"0:{100 + i}"))
    minor = 200
    while len(mounts) < count:
        pod = "%08x-%04x-%04x-%04x-%012x" % (rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(16),
                                              rng.getrandbits(16), rng.getrandbits(48))
        kind = rng.choice(["empty-dir", "projected", "secret"])
        volume = {"empty-dir": "cache", "projected": "kube-api-access", "secret": "tls"}[kind]
        mounts.append((f"/var/lib/kubelet/pods/{pod}/volumes/kubernetes.io~{kind}/{volume}", "tmpfs", "tmpfs",
                       "rw,relatime,size=65536k" if kind == "empty-dir" else "ro,relatime,size=4096k",
                       f"0:{minor}"))
        minor += 1
    mounts = mounts[:count]

    info_lines = []
    mounts_lines = []
    for mount_id, (point, fstype, source, options, devno) in enumerate(mounts, start=21):
        parent = 1 if point == "/" else 21
        info_lines.append(f"{mount_id} {parent} {devno} / {point} {options} shared:{mount_id} - {fstype} {source} "
                          f"{options.split(',')[0]}")
        mounts_lines.append(f"{source} {point} {fstype} {options} 0 0")
        t.mkdir("rootfs" + point)
    t.write("proc/1/mountinfo", "\n".join(info_lines) + "\n")
    t.write("proc/1/mounts", "\n".join(mounts_lines) + "\n")
    t.symlink("proc/self", "1")
    t.symlink("proc/mounts", "self/mounts")


# --- sensors ------------------------------------------------------------------------------------


def gen_sensors(t: Tree, rng: random.Random, cpus: int, nvme: int) -> None:
    hwmon = 0
    # k10temp, one per socket: Tctl plus one Tccd per core complex.
    for socket in range(2 if cpus >= 4 else 1):
        dev = f"sys/devices/pci0000:{socket * 0x40:02x}/0000:{socket * 0x40:02x}:18.3"
        d = f"{dev}/hwmon/hwmon{hwmon}"
        t.write(f"{d}/name", "k10temp\n")
        t.symlink(f"{d}/device", "../../../" + dev.split("/")[-1])
        t.write(f"{d}/temp1_input", f"{rng.randint(45000, 70000)}\n")
        t.write(f"{d}/temp1_label", "Tctl\n")
        for ccd in range(1, 9):
            t.write(f"{d}/temp{ccd + 2}_input", f"{rng.randint(40000, 68000)}\n")
            t.write(f"{d}/temp{ccd + 2}_label", f"Tccd{ccd}\n")
        t.symlink(f"sys/class/hwmon/hwmon{hwmon}", "../../" + d[len("sys/"):])
        hwmon += 1
    # NVMe drives report a composite temperature with limits.
    for i in range(nvme):
        dev = f"sys/devices/pci0000:80/0000:80:0{i}.1/0000:8{i}:00.0/nvme/nvme{i}"
        d = f"{dev}/hwmon{hwmon}"
        t.write(f"{d}/name", "nvme\n")
        t.symlink(f"{d}/device", "../../nvme" + str(i))
        t.write(f"{d}/temp1_input", f"{rng.randint(30000, 55000)}\n")
        t.write(f"{d}/temp1_label", "Composite\n")
        t.write(f"{d}/temp1_max", "82850\n")
        t.write(f"{d}/temp1_min", "-273150\n")
        t.write(f"{d}/temp1_crit", "84850\n")
        t.write(f"{d}/temp1_alarm", "0\n")
        t.symlink(f"sys/class/hwmon/hwmon{hwmon}", "../../" + d[len("sys/"):])
        hwmon += 1

    # One ACPI thermal zone, and a processor cooling device per CPU (as ACPI servers expose).
    tz = "sys/devices/virtual/thermal/thermal_zone0"
    t.write(f"{tz}/type", "acpitz\n")
    t.write(f"{tz}/temp", "27800\n")
    t.write(f"{tz}/policy", "step_wise\n")
    t.write(f"{tz}/mode", "enabled\n")
    t.symlink("sys/class/thermal/thermal_zone0", "../../devices/virtual/thermal/thermal_zone0")
    for cpu in range(cpus):
        cd = f"sys/devices/virtual/thermal/cooling_device{cpu}"
        t.write(f"{cd}/type", "Processor\n")
        t.write(f"{cd}/cur_state", "0\n")
        t.write(f"{cd}/max_state", "3\n")
        t.symlink(f"sys/class/thermal/cooling_device{cpu}", f"../../devices/virtual/thermal/cooling_device{cpu}")


# --- md RAID ------------------------------------------------------------------------------------


def gen_md(t: Tree, rng: random.Random, count: int, members: list[str]) -> None:
    """/proc/mdstat and /sys/block/mdN/md/ for `count` arrays built from partitions of the SCSI
    disks (Documentation/admin-guide/md.rst). Most arrays are whole; every 12th is degraded with a
    faulty member, every 16th rebuilds onto a new disk, one runs a check, one resyncs, and the last
    is inactive (found at boot with a member missing). The arrays are not in /proc/diskstats (the
    diskstats figures of the benchmark stay those of the 200 disks)."""
    if count <= 0:
        return
    layouts = [("raid1", 2), ("raid10", 4), ("raid5", 4), ("raid6", 6)]
    lines = ["Personalities : [raid1] [raid10] [raid6] [raid5] [raid4] [linear] [multipath] [raid0] "]
    part = 1
    pool = members or ["sda"]
    cursor = 0
    for n in range(count):
        level, disks = layouts[n % len(layouts)]
        names = []
        for _ in range(disks):
            names.append(f"{pool[cursor % len(pool)]}{part}")
            cursor += 1
            if cursor % len(pool) == 0:
                part += 1
        dev = f"md{n}"
        component = rng.choice([976630464, 1953382400, 3906885632])  # KiB per member
        data_disks = {"raid1": 1, "raid10": disks // 2, "raid5": disks - 1, "raid6": disks - 2}[level]
        blocks = component * data_disks
        inactive = n == count - 1 and count > 1
        degraded = not inactive and n % 12 == 5
        recovering = not inactive and not degraded and n % 16 == 9
        checking = not inactive and n == 3 % count
        resyncing = not inactive and n == 7 % count and not recovering and not degraded
        md_sys = f"sys/block/{dev}/md"
        if inactive:
            found = names[:-1]
            lines.append(f"{dev} : inactive " + " ".join(f"{m}[{i}](S)" for i, m in enumerate(found)))
            lines.append(f"      {component * len(found)} blocks super 1.2")
            lines.append("")
            t.write(f"{md_sys}/array_state", "inactive\n")
            t.write(f"{md_sys}/level", "\n")
            t.write(f"{md_sys}/raid_disks", f"{disks}\n")
            t.write(f"{md_sys}/metadata_version", "1.2\n")
            continue
        slots = []
        for i, m in enumerate(names):
            flag = ""
            if degraded and i == disks - 1:
                flag = "(F)"
            slots.append(f"{m}[{i if not (recovering and i == disks - 1) else disks}]{flag}")
        spare = ""
        if n % 10 == 0:
            spare_name = f"{pool[(cursor + 7) % len(pool)]}9"
            spare = f" {spare_name}[{disks + 1}](S)"
        lines.append(f"{dev} : active {level} " + " ".join(reversed(slots)) + spare)
        up = disks - 1 if (degraded or recovering) else disks
        bitmap = "U" * up + "_" * (disks - up)
        detail = {"raid1": "", "raid10": " 512K chunks 2 near-copies",
                  "raid5": " level 5, 512k chunk, algorithm 2", "raid6": " level 6, 512k chunk, algorithm 2"}[level]
        lines.append(f"      {blocks} blocks super 1.2{detail} [{disks}/{up}] [{bitmap}]")
        action = "idle"
        done = component
        if recovering or checking or resyncing:
            done = rng.randint(component // 20, component * 19 // 20)
            pct = done * 100 / component
            filled = int(pct / 5)
            kind = "recovery" if recovering else ("check" if checking else "resync")
            action = {"recovery": "recover", "check": "check", "resync": "resync"}[kind]
            speed = rng.randint(90000, 210000)
            finish = (component - done) / speed / 60
            lines.append(f"      [{'=' * filled}>{'.' * (19 - filled)}]  {kind} = {pct:.1f}% ({done}/{component}) "
                         f"finish={finish:.1f}min speed={speed}K/sec")
        lines.append(f"      bitmap: {rng.randint(0, 8)}/{max(1, component // 65536 // 1024)} pages "
                     f"[{rng.randint(0, 32)}KB], 65536KB chunk")
        lines.append("")
        t.write(f"{md_sys}/array_state", "clean\n" if n % 3 else "active\n")
        t.write(f"{md_sys}/level", f"{level}\n")
        t.write(f"{md_sys}/raid_disks", f"{disks}\n")
        t.write(f"{md_sys}/degraded", f"{disks - up}\n")
        t.write(f"{md_sys}/metadata_version", "1.2\n")
        t.write(f"{md_sys}/component_size", f"{component}\n")
        t.write(f"{md_sys}/chunk_size", "0\n" if level == "raid1" else "524288\n")
        t.write(f"{md_sys}/sync_action", f"{action}\n")
        t.write(f"{md_sys}/sync_completed", f"{done * 2} / {component * 2}\n" if action != "idle" else "none\n")
        t.write(f"{md_sys}/sync_speed", f"{rng.randint(90000, 210000) if action != 'idle' else 0}\n")
        t.write(f"{md_sys}/mismatch_cnt", "0\n")
        for i, m in enumerate(names):
            state = "in_sync"
            if degraded and i == disks - 1:
                state = "faulty"
            elif recovering and i == disks - 1:
                state = "spare"
            t.write(f"{md_sys}/dev-{m}/state", f"{state}\n")
            t.write(f"{md_sys}/dev-{m}/slot", f"{i}\n" if state == "in_sync" else "none\n")
            t.write(f"{md_sys}/dev-{m}/errors", f"{rng.randint(0, 3) if state == 'faulty' else 0}\n")
    lines.append("unused devices: <none>")
    t.write("proc/mdstat", "\n".join(lines) + "\n")


# --- ZFS ----------------------------------------------------------------------------------------


def kstat_named(rng: random.Random, kid: int, rows: list[tuple[str, int, int]]) -> str:
    """A named kstat as /proc/spl/kstat shows it: the header line (id, type 1 = named, flags,
    number of entries, data size, creation and snapshot times in ns), the column names, then one
    `name type data` row per entry (type 4 = uint64, 3 = int64, 7 = string)."""
    crtime = rng.randint(10**10, 10**11)
    out = [f"{kid} 1 0x01 {len(rows)} {len(rows) * 40} {crtime} {crtime + rng.randint(10**12, 10**13)}",
           "name                            type data"]
    out += [f"{name:<32}{kind:<5}{value}" for name, kind, value in rows]
    return "\n".join(out) + "\n"


ARCSTATS = [
    "hits", "iohits", "misses", "demand_data_hits", "demand_data_iohits", "demand_data_misses",
    "demand_metadata_hits", "demand_metadata_iohits", "demand_metadata_misses",
    "prefetch_data_hits", "prefetch_data_iohits", "prefetch_data_misses",
    "prefetch_metadata_hits", "prefetch_metadata_iohits", "prefetch_metadata_misses",
    "mru_hits", "mru_ghost_hits", "mfu_hits", "mfu_ghost_hits", "uncached_hits", "deleted",
    "mutex_miss", "access_skip", "evict_skip", "evict_not_enough", "evict_l2_cached",
    "evict_l2_eligible", "evict_l2_eligible_mfu", "evict_l2_eligible_mru", "evict_l2_ineligible",
    "evict_l2_skip", "hash_elements", "hash_elements_max", "hash_collisions", "hash_chains",
    "hash_chain_max", "meta", "pd", "pm", "c", "c_min", "c_max", "size", "compressed_size",
    "uncompressed_size", "overhead_size", "hdr_size", "data_size", "metadata_size", "dbuf_size",
    "dnode_size", "bonus_size", "anon_size", "anon_data", "anon_metadata", "anon_evictable_data",
    "anon_evictable_metadata", "mru_size", "mru_data", "mru_metadata", "mru_evictable_data",
    "mru_evictable_metadata", "mru_ghost_size", "mfu_size", "mfu_data", "mfu_metadata",
    "mfu_evictable_data", "mfu_evictable_metadata", "mfu_ghost_size", "l2_hits", "l2_misses",
    "l2_size", "l2_asize", "l2_hdr_size", "memory_throttle_count", "memory_direct_count",
    "memory_indirect_count", "memory_all_bytes", "memory_free_bytes", "memory_available_bytes",
    "arc_no_grow", "arc_tempreserve", "arc_loaned_bytes", "arc_prune", "arc_meta_used",
    "arc_dnode_limit", "async_upgrade_sync", "predictive_prefetch", "demand_hit_predictive_prefetch",
    "demand_iohit_predictive_prefetch", "prescient_prefetch", "demand_hit_prescient_prefetch",
    "demand_iohit_prescient_prefetch", "arc_need_free", "arc_sys_free", "arc_raw_size",
    "cached_only_in_progress", "abd_chunk_waste_size",
]


def gen_zfs(t: Tree, rng: random.Random, pools: int, datasets: int) -> None:
    """/proc/spl/kstat/zfs: the module-wide kstats and, per pool, `state`, `io` and one
    `objset-0x<id>` per dataset (OpenZFS 2.x layout). The second pool is DEGRADED."""
    if pools <= 0:
        return
    base = "proc/spl/kstat/zfs"
    kid = 1
    rows = []
    for name in ARCSTATS:
        if name in ("c", "c_max", "size", "memory_all_bytes"):
            value = rng.randint(2**36, 2**38)
        elif name in ("c_min",):
            value = 2**32
        elif name.endswith("_size") or name.startswith("memory_") or name.startswith("arc_"):
            value = rng.randint(0, 2**34)
        else:
            value = rng.randint(0, 10**9)
        rows.append((name, 3 if name in ("arc_need_free", "arc_sys_free") else 4, value))
    t.write(f"{base}/arcstats", kstat_named(rng, kid, rows))
    simple = {
        "abdstats": ["struct_size", "linear_cnt", "linear_data_size", "scatter_cnt", "scatter_data_size",
                     "scatter_chunk_waste", "scatter_order_0", "scatter_page_multi_chunk",
                     "scatter_page_multi_zone", "scatter_page_alloc_retry", "scatter_sg_table_retry"],
        "dbufstats": ["cache_count", "cache_size_bytes", "cache_size_bytes_max", "cache_target_bytes",
                      "cache_lowater_bytes", "cache_hiwater_bytes", "cache_total_evicts", "hash_hits",
                      "hash_misses", "hash_collisions", "hash_elements", "hash_elements_max",
                      "hash_chains", "hash_chain_max", "hash_insert_race", "metadata_cache_count",
                      "metadata_cache_size_bytes", "metadata_cache_size_bytes_max",
                      "metadata_cache_overflow"],
        "dmu_tx": ["dmu_tx_assigned", "dmu_tx_delay", "dmu_tx_error", "dmu_tx_suspended", "dmu_tx_group",
                   "dmu_tx_memory_reserve", "dmu_tx_memory_reclaim", "dmu_tx_dirty_throttle",
                   "dmu_tx_dirty_delay", "dmu_tx_dirty_over_max", "dmu_tx_dirty_frees_delay",
                   "dmu_tx_wrlog_delay", "dmu_tx_quota"],
        "dnodestats": ["dnode_hold_dbuf_hold", "dnode_hold_dbuf_read", "dnode_hold_alloc_hits",
                       "dnode_hold_alloc_misses", "dnode_hold_alloc_interior", "dnode_hold_alloc_lock_retry",
                       "dnode_hold_alloc_lock_misses", "dnode_hold_alloc_type_none", "dnode_hold_free_hits",
                       "dnode_hold_free_misses", "dnode_allocate", "dnode_reallocate", "dnode_buf_evict",
                       "dnode_alloc_next_chunk", "dnode_alloc_race", "dnode_alloc_next_block",
                       "dnode_move_invalid", "dnode_move_recheck1", "dnode_move_recheck2",
                       "dnode_move_special", "dnode_move_handle", "dnode_move_rwlock", "dnode_move_active"],
        "fm": ["erpt-dropped", "erpt-set-failed", "fmri-set-failed", "payload-set-failed"],
        "vdev_mirror_stats": ["rotating_linear", "rotating_offset", "rotating_seek", "non_rotating_linear",
                              "non_rotating_seek", "preferred_found", "preferred_not_found"],
        "zfetchstats": ["hits", "future", "stride", "past", "misses", "max_streams", "io_issued",
                        "io_active"],
        "zil": ["zil_commit_count", "zil_commit_writer_count", "zil_itx_count", "zil_itx_indirect_count",
                "zil_itx_indirect_bytes", "zil_itx_copied_count", "zil_itx_copied_bytes",
                "zil_itx_needcopy_count", "zil_itx_needcopy_bytes", "zil_itx_metaslab_normal_count",
                "zil_itx_metaslab_normal_bytes", "zil_itx_metaslab_slog_count",
                "zil_itx_metaslab_slog_bytes"],
    }
    for name, fields in simple.items():
        kid += 1
        t.write(f"{base}/{name}", kstat_named(rng, kid, [(f, 4, rng.randint(0, 10**8)) for f in fields]))

    names = ["rpool", "tank", "backup", "scratch"] + [f"pool{i}" for i in range(4, pools)]
    per_pool = [datasets // pools + (1 if i < datasets % pools else 0) for i in range(pools)]
    objset = 0x36
    for i, pool in enumerate(names[:pools]):
        d = f"{base}/{pool}"
        t.write(f"{d}/state", "DEGRADED\n" if i == 1 else "ONLINE\n")
        kid += 1
        crtime = rng.randint(10**10, 10**11)
        io = [rng.randint(10**9, 10**13), rng.randint(10**9, 10**13), rng.randint(10**6, 10**9),
              rng.randint(10**6, 10**9), rng.randint(10**9, 10**12), rng.randint(10**9, 10**13),
              crtime + 10**12, rng.randint(10**9, 10**12), rng.randint(10**9, 10**13), crtime + 10**12,
              0, 0]
        t.write(f"{d}/io", f"{kid} 3 0x00 1 80 {crtime} {crtime + 10**12}\n"
                "nread    nwritten reads    writes   wtime    wlentime wupdate  rtime    rlentime rupdate  "
                "wcnt     rcnt    \n" + " ".join(str(v) for v in io) + "\n")
        for n in range(per_pool[i]):
            kid += 1
            if n == 0:
                ds = pool
            elif n < 4:
                ds = f"{pool}/{['ROOT', 'home', 'var'][n - 1]}"
            else:
                ds = f"{pool}/{['home', 'var', 'srv'][n % 3]}/{['user', 'vm', 'db', 'ct'][n % 4]}{n:03d}"
            writes = rng.randint(0, 10**7)
            reads = rng.randint(0, 10**7)
            unlinks = rng.randint(0, 10**5)
            rows = [("dataset_name", 7, ds), ("writes", 4, writes), ("nwritten", 4, writes * rng.randint(512, 131072)),
                    ("reads", 4, reads), ("nread", 4, reads * rng.randint(512, 131072)),
                    ("nunlinks", 4, unlinks), ("nunlinked", 4, unlinks)]
            t.write(f"{d}/objset-0x{objset:x}", kstat_named(rng, kid, rows))
            objset += rng.randint(1, 40)


# --- NFS client ---------------------------------------------------------------------------------


def gen_nfs(t: Tree, rng: random.Random) -> None:
    """/proc/net/rpc/nfs of a host with NFSv4.2 mounts (nfsstat(8) reads it): network and RPC
    counts, then per NFS version the number of procedures followed by each one's call count
    (v2: 18, v3: 22, v4 client operations: 69 as Linux 6.x counts them)."""
    v4 = [rng.randint(0, 10**8) if i in (1, 2, 3, 5, 6, 9, 17, 18, 19, 20, 21, 35, 37, 38, 40, 49) else
          rng.randint(0, 1000) for i in range(69)]
    v3 = [0] * 22
    calls = sum(v4) + sum(v3)
    retrans = rng.randint(0, calls // 10000)
    tcp = rng.randint(10**3, 10**5)
    lines = [
        f"net {tcp} 0 {tcp} {rng.randint(24, 200)}",
        f"rpc {calls} {retrans} {rng.randint(calls, calls + 1000)}",
        "proc2 18 " + " ".join(["0"] * 18),
        "proc3 22 " + " ".join(map(str, v3)),
        "proc4 69 " + " ".join(map(str, v4)),
    ]
    t.write("proc/net/rpc/nfs", "\n".join(lines) + "\n")


def generate(out: Path, cpus: int, interfaces: int, mounts: int, disks: int, seed: int,
             md_arrays: int = 48, zfs_pools: int = 4, zfs_datasets: int = 400) -> None:
    rng = random.Random(seed)
    t = Tree(out)
    for top in ("proc", "sys", "rootfs"):
        t.mkdir(top)
    gen_cpus(t, rng, cpus)
    gen_misc(t, rng, cpus)
    gen_network(t, rng, interfaces)
    disk_list = gen_disks(t, rng, disks)
    gen_mounts(t, rng, mounts, disk_list)
    gen_sensors(t, rng, cpus, nvme=min(8, disks))
    # Storage health; a separate random stream, so the trees above stay what they were for a seed.
    srng = random.Random(seed * 7919 + 1)
    gen_md(t, srng, md_arrays, [d[0] for d in disk_list if d[3] == "sd"])
    gen_zfs(t, srng, zfs_pools, zfs_datasets)
    gen_nfs(t, srng)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("outdir", type=Path, help="directory to create proc/, sys/ and rootfs/ in (must not exist or be empty)")
    p.add_argument("--cpus", type=int, default=128)
    p.add_argument("--interfaces", type=int, default=2000, help="network interfaces, loopback included")
    p.add_argument("--mounts", type=int, default=500)
    p.add_argument("--disks", type=int, default=200, help="block devices that pass the default diskstats filter")
    p.add_argument("--md-arrays", type=int, default=48, help="md RAID arrays in /proc/mdstat")
    p.add_argument("--zfs-pools", type=int, default=4)
    p.add_argument("--zfs-datasets", type=int, default=400, help="datasets over all pools (objset kstats)")
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    if a.outdir.exists() and any(a.outdir.iterdir()):
        print(f"gen_large_host.py: {a.outdir} is not empty", file=sys.stderr)
        return 2
    if a.cpus < 1 or a.interfaces < 8 or a.mounts < 12 or a.disks < 1:
        print("gen_large_host.py: need at least 1 CPU, 8 interfaces, 12 mounts and 1 disk", file=sys.stderr)
        return 2
    if a.md_arrays < 0 or a.zfs_pools < 0 or a.zfs_datasets < a.zfs_pools:
        print("gen_large_host.py: need --md-arrays >= 0 and --zfs-datasets >= --zfs-pools", file=sys.stderr)
        return 2
    generate(a.outdir, a.cpus, a.interfaces, a.mounts, a.disks, a.seed, a.md_arrays, a.zfs_pools,
             a.zfs_datasets)
    return 0


if __name__ == "__main__":
    sys.exit(main())
