//! `usb`: the USB devices attached (from sysfs), devices coming and going between samples, and the
//! USB failures the kernel logs (timeouts, protocol errors, failed enumerations, over-current...).
//!
//! node_exporter has no USB collector, so every name here is ours, under `sysmon_`:
//!
//! * `sysmon_usb_device_info{bus,port,devnum,vendor_id,product_id,manufacturer,product,speed,class,version}` = 1
//!   for every device in `<sysfs>/bus/usb/devices` (Documentation/ABI/stable/sysfs-bus-usb and
//!   testing/sysfs-bus-usb), root hubs included. `port` is the device's sysfs name, its place in
//!   the tree: `<bus>-<port>[.<port>...]` (`1-2.3` is port 3 of the hub on port 2 of bus 1), or
//!   `usb<bus>` for a root hub. `speed` is in Mbit/s as the kernel writes it (1.5, 12, 480, 5000,
//!   10000, 20000), `class` is bDeviceClass in hex (`09` hub, `00` per interface, `ef` misc, `e0`
//!   wireless), `version` the USB version the device declares (`2.00`, `3.20`). Strings the device
//!   supplies (manufacturer, product) are empty when it has none. Interfaces (`1-2:1.0`) are not
//!   devices and are skipped.
//! * `sysmon_usb_devices{bus}`: how many devices each bus has, its root hub included.
//! * `sysmon_usb_device_events_total{action="connect"|"disconnect"}`: devices that appeared or went
//!   away between two samples. A device is one attachment: port, device number, vendor and product
//!   id and serial. The kernel gives a device a new number each time it is enumerated, so unplugging
//!   and replugging within one interval still counts as a disconnect and a connect. The first
//!   sample only takes the inventory.
//! * `sysmon_usb_errors_total{port,kind}`: USB failures in the kernel log; see [`classify`] for the
//!   messages, the `kind` values and how `port` is found, and [`kmsg`] for how the log is read and
//!   where the position is saved. A `port,kind` series appears with its first failure. At most
//!   [`MAX_ERROR_PORTS`] ports are tracked; failures on further ports count under `port="other"`.
//! * `sysmon_usb_kmsg_readable`: 1 if the kernel log could be read this sample, else 0.
//!
//! A kernel log that cannot be read (no CAP_SYSLOG, a container without /dev/kmsg) does not fail
//! the collector: the inventory is still worth having, the reason is logged once, and
//! `sysmon_usb_kmsg_readable` is 0 so dashboards and alerts can tell "no failures" from "cannot
//! see failures". A device whose attributes are missing or malformed fails the collector, naming
//! the file, after every readable device has been published. A machine without USB (no
//! `bus/usb/devices`) is not a failure.

pub mod classify;
pub mod kmsg;
pub mod sysfs;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Mutex;

use super::{BuildContext, CollectError, Collector, Registration, Roots};
use crate::anomaly::signals::Readings;
use crate::metrics::MetricSet;
use classify::Kind;
use kmsg::KmsgReader;
use sysfs::{inventory, Device, DeviceKey};

pub const REGISTRATION: Registration = Registration {
    name: "usb",
    default_enabled: true,
    help: "USB devices from /sys/bus/usb and USB failures from the kernel log",
    flags: <Args as clap::Args>::augment_args,
    // The kernel log is read every sample by `signals` (the anomaly rules count timeouts per
    // sample); the device inventory runs on the slow interval.
    cadence: super::Cadence::Slow,
    isolation: super::Isolation::Inline,
    build,
};

/// Flags of the `usb` collector.
#[derive(Debug, Clone, clap::Args)]
#[group(id = "usb_flags")]
#[command(next_help_heading = "Collector usb")]
pub struct Args {
    /// Kernel log to read USB failures from (a file in /dev/kmsg's record format works too).
    #[arg(long = "path.kmsg", default_value = "/dev/kmsg", value_name = "FILE")]
    pub kmsg: std::path::PathBuf,
}

fn build(ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    let args: Args = ctx.args()?;
    Ok(Box::new(UsbCollector::new(
        ctx.roots.clone(),
        args.kmsg,
        ctx.settings.storage_path.join(kmsg::STATE_FILE),
    )))
}

/// How many distinct ports `sysmon_usb_errors_total` tracks. A busy machine has a few dozen
/// ports; past this bound (a flapping hub that keeps renumbering, or forged names) failures are
/// counted under `port="other"`, so the number of series stays bounded whatever the log says.
pub const MAX_ERROR_PORTS: usize = 256;

/// Connects and disconnects between two inventories.
pub fn diff(before: &BTreeSet<DeviceKey>, after: &BTreeSet<DeviceKey>) -> (u64, u64) {
    (
        after.difference(before).count() as u64,
        before.difference(after).count() as u64,
    )
}

/// `sysmon_usb_errors_total`, with the number of ports bounded by [`MAX_ERROR_PORTS`].
#[derive(Debug, Default)]
pub struct ErrorCounts {
    counts: BTreeMap<(String, Kind), u64>,
    ports: BTreeSet<String>,
}

impl ErrorCounts {
    pub fn add(&mut self, port: &str, kind: Kind) {
        let port = if self.ports.contains(port) {
            port
        } else if self.ports.len() < MAX_ERROR_PORTS {
            self.ports.insert(port.to_string());
            port
        } else {
            "other"
        };
        *self.counts.entry((port.to_string(), kind)).or_insert(0) += 1;
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, Kind, u64)> {
        self.counts.iter().map(|((p, k), n)| (p.as_str(), *k, *n))
    }
}

/// What the collector remembers between samples.
struct State {
    /// The previous inventory, `None` before the first one.
    previous: Option<BTreeSet<DeviceKey>>,
    connects: u64,
    disconnects: u64,
    errors: ErrorCounts,
    kmsg: KmsgReader,
    /// Whether the latest poll of the kernel log could read it.
    kmsg_readable: bool,
}

impl State {
    /// Reads what is new in the kernel log into the error counts.
    fn poll_kmsg(&mut self) {
        let poll = self.kmsg.poll();
        for f in &poll.failures {
            self.errors.add(&f.port, f.kind);
        }
        self.kmsg_readable = poll.readable;
    }
}

pub struct UsbCollector {
    roots: Roots,
    state: Mutex<State>,
}

impl UsbCollector {
    /// A collector reading devices through `roots` and failures from `kmsg`, saving its log
    /// position in `state_path`.
    pub fn new(roots: Roots, kmsg: PathBuf, state_path: PathBuf) -> UsbCollector {
        let reader = KmsgReader::new(kmsg, roots.proc("sys/kernel/random/boot_id"), state_path);
        UsbCollector {
            roots,
            state: Mutex::new(State {
                previous: None,
                connects: 0,
                disconnects: 0,
                errors: ErrorCounts::default(),
                kmsg: reader,
                kmsg_readable: false,
            }),
        }
    }
}

impl Collector for UsbCollector {
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        // A panic in an earlier sample cannot leave the counters half-updated in a way that
        // matters more than losing them, so a poisoned lock is simply taken over.
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let state = &mut *state;

        let (devices, mut error, listed) = match inventory(&self.roots) {
            Ok((devices, error)) => (devices, error, true),
            Err(e) => (Vec::new(), Some(e), false),
        };
        let mut per_bus: BTreeMap<u32, u64> = BTreeMap::new();
        for d in &devices {
            out.gauge(
                "sysmon_usb_device_info",
                "USB devices attached, root hubs included; always 1. port is the device's place in \
                 the tree (bus-port.port..., usbN for a root hub), speed is in Mbit/s, class is \
                 bDeviceClass in hex.",
            )
            .sample(
                &[
                    ("bus", &d.bus),
                    ("port", &d.port),
                    ("devnum", &d.devnum),
                    ("vendor_id", &d.vendor_id),
                    ("product_id", &d.product_id),
                    ("manufacturer", &d.manufacturer),
                    ("product", &d.product),
                    ("speed", &d.speed),
                    ("class", &d.class),
                    ("version", &d.version),
                ],
                1.0,
            );
            if let Some(bus) = d.bus_number() {
                *per_bus.entry(bus).or_insert(0) += 1;
            }
        }
        for (bus, n) in &per_bus {
            out.gauge(
                "sysmon_usb_devices",
                "Number of USB devices attached to a bus, its root hub included.",
            )
            .sample(&[("bus", &bus.to_string())], *n as f64);
        }

        // Compare only complete listings: a failed one would look like every device leaving.
        if listed {
            let now: BTreeSet<DeviceKey> = devices.iter().map(Device::key).collect();
            if let Some(before) = &state.previous {
                let (connects, disconnects) = diff(before, &now);
                state.connects += connects;
                state.disconnects += disconnects;
            }
            state.previous = Some(now);
        }
        let events = out.counter(
            "sysmon_usb_device_events_total",
            "USB devices that appeared (connect) or went away (disconnect) between two runs of the \
             collector (a device plugged again is a new device: the kernel gives it a new number).",
        );
        events.sample(&[("action", "connect")], state.connects as f64);
        events.sample(&[("action", "disconnect")], state.disconnects as f64);

        state.poll_kmsg();
        for (port, kind, n) in state.errors.iter() {
            out.counter(
                "sysmon_usb_errors_total",
                "USB failures reported in the kernel log, by port and kind (timeout, protocol, \
                 address, enumeration, reset, over_current, disconnect, other).",
            )
            .sample(&[("port", port), ("kind", kind.as_str())], n as f64);
        }
        out.gauge(
            "sysmon_usb_kmsg_readable",
            "Whether the kernel log could be read for USB failures (1) or not (0).",
        )
        .sample(&[], if state.kmsg_readable { 1.0 } else { 0.0 });

        match error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn reads_signals(&self) -> bool {
        true
    }

    /// Timeouts per port counted so far, after reading what is new in the kernel log: the
    /// `usb_timeout` rule fires within a sample of the failure.
    fn signals(&self, readings: &mut Readings) -> Result<(), CollectError> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.poll_kmsg();
        for (port, kind, n) in state.errors.iter() {
            if kind == Kind::Timeout {
                *readings.usb_timeouts.entry(port.to_string()).or_insert(0.0) += n as f64;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::path::Path;

    fn fixture(machine: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(machine)
    }

    fn roots_at(base: &Path) -> Roots {
        Roots {
            procfs: base.join("proc"),
            sysfs: base.join("sys"),
            rootfs: base.join("rootfs"),
        }
    }

    /// A collector on a fixture machine whose log is `kmsg`, with its state in `storage`.
    fn collector(base: &Path, kmsg: &Path, storage: &Path) -> UsbCollector {
        UsbCollector::new(
            roots_at(base),
            kmsg.to_path_buf(),
            storage.join(kmsg::STATE_FILE),
        )
    }

    fn collect(c: &UsbCollector) -> (MetricSet, Result<(), CollectError>) {
        let mut out = MetricSet::new();
        let r = c.collect(&mut out);
        (out, r)
    }

    /// Every sample of a family as (labels joined "k=v,...", value).
    fn series(set: &MetricSet, name: &str) -> Vec<(String, f64)> {
        set.get(name)
            .map(|f| {
                f.samples
                    .iter()
                    .map(|s| {
                        let labels: Vec<String> =
                            s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                        (labels.join(","), s.value)
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    fn errors(set: &MetricSet) -> Vec<(String, f64)> {
        series(set, "sysmon_usb_errors_total")
    }

    fn events(set: &MetricSet) -> (f64, f64) {
        let s = series(set, "sysmon_usb_device_events_total");
        assert_eq!(s[0].0, "action=connect");
        assert_eq!(s[1].0, "action=disconnect");
        (s[0].1, s[1].1)
    }
    #[test]
    fn diff_counts_attachments() {
        let key = |port: &str, devnum: &str| -> DeviceKey {
            (
                port.into(),
                devnum.into(),
                "046d".into(),
                "c31c".into(),
                String::new(),
            )
        };
        let before: BTreeSet<_> = [key("usb1", "1"), key("1-1", "5"), key("1-2", "6")].into();
        let after: BTreeSet<_> = [key("usb1", "1"), key("1-1", "9"), key("1-3", "10")].into();
        // 1-1 was replugged (new device number), 1-2 left, 1-3 arrived.
        assert_eq!(diff(&before, &after), (2, 2));
        assert_eq!(diff(&after, &after), (0, 0));
        assert_eq!(diff(&BTreeSet::new(), &after), (3, 0));
    }

    #[test]
    fn error_ports_are_bounded() {
        let mut counts = ErrorCounts::default();
        for i in 0..MAX_ERROR_PORTS + 10 {
            counts.add(&format!("1-{}", i + 1), Kind::Timeout);
        }
        // Ports already tracked keep counting under their own name.
        counts.add("1-1", Kind::Timeout);
        let all: Vec<_> = counts.iter().collect();
        assert_eq!(all.len(), MAX_ERROR_PORTS + 1);
        assert!(all.contains(&("other", Kind::Timeout, 10)));
        assert!(all.contains(&("1-1", Kind::Timeout, 2)));
    }

    #[test]
    fn laptop_inventory() {
        let dir = tempfile::tempdir().unwrap();
        let base = fixture("laptop");
        let c = collector(&base, &base.join("kmsg"), dir.path());
        let (out, result) = collect(&c);
        result.unwrap();
        let info = series(&out, "sysmon_usb_device_info");
        let ports: Vec<&str> = info
            .iter()
            .map(|(l, _)| l.split(',').nth(1).unwrap())
            .collect();
        assert_eq!(
            ports,
            [
                "port=1-1",
                "port=1-1.1",
                "port=1-1.2",
                "port=1-10",
                "port=1-6",
                "port=usb1",
                "port=usb2"
            ]
        );
        assert!(info.iter().all(|(_, v)| *v == 1.0));
        assert_eq!(
            info[1].0,
            "bus=1,port=1-1.1,devnum=9,vendor_id=046d,product_id=c31c,manufacturer=Logitech,\
             product=USB Keyboard,speed=1.5,class=00,version=1.10"
        );
        // The Bluetooth adapter has no strings.
        assert_eq!(
            info[3].0,
            "bus=1,port=1-10,devnum=4,vendor_id=8087,product_id=0026,manufacturer=,product=,\
             speed=12,class=e0,version=2.01"
        );
        assert_eq!(
            info[6].0,
            "bus=2,port=usb2,devnum=1,vendor_id=1d6b,product_id=0003,\
             manufacturer=Linux 6.8.0-45-generic xhci-hcd,product=xHCI Host Controller,\
             speed=10000,class=09,version=3.10"
        );
        assert_eq!(
            series(&out, "sysmon_usb_devices"),
            vec![("bus=1".to_string(), 6.0), ("bus=2".to_string(), 1.0)]
        );
        assert_eq!(events(&out), (0.0, 0.0));
        // First start: the log's backlog is not counted.
        assert!(errors(&out).is_empty());
        assert_eq!(
            series(&out, "sysmon_usb_kmsg_readable"),
            vec![(String::new(), 1.0)]
        );
    }

    #[test]
    fn server_and_vm_inventories() {
        let dir = tempfile::tempdir().unwrap();
        let base = fixture("server");
        let (out, result) = collect(&collector(&base, &base.join("kmsg"), dir.path()));
        result.unwrap();
        let info = series(&out, "sysmon_usb_device_info");
        assert_eq!(info.len(), 5);
        assert_eq!(
            info[2].0,
            "bus=2,port=2-3,devnum=2,vendor_id=0781,product_id=5583,manufacturer=USB,\
             product=SanDisk 3.2Gen1,speed=5000,class=00,version=3.20"
        );
        assert_eq!(
            series(&out, "sysmon_usb_devices"),
            vec![("bus=1".to_string(), 3.0), ("bus=2".to_string(), 2.0)]
        );

        let dir = tempfile::tempdir().unwrap();
        let base = fixture("vm");
        let (out, result) = collect(&collector(&base, &base.join("kmsg"), dir.path()));
        result.unwrap();
        let info = series(&out, "sysmon_usb_device_info");
        assert_eq!(info.len(), 3);
        assert_eq!(
            info[0].0,
            "bus=1,port=1-1,devnum=2,vendor_id=0627,product_id=0001,manufacturer=QEMU,\
             product=QEMU USB Tablet,speed=480,class=00,version=2.00"
        );
    }

    #[test]
    fn broken_machine_publishes_what_it_can_and_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let base = fixture("broken");
        let c = collector(&base, &base.join("kmsg"), dir.path());
        let (out, result) = collect(&c);
        let err = result.unwrap_err().to_string();
        assert!(err.contains("/1-1/devnum"), "{err}");
        assert!(err.contains("\"abc\""), "{err}");
        let info = series(&out, "sysmon_usb_device_info");
        // 1-3 vanished (a dangling link), 1-2 has only a product (being enumerated) and
        // "not-a-device" is not a device: all skipped.
        assert_eq!(info.len(), 2);
        assert_eq!(
            info[0].0,
            "bus=1,port=1-1,devnum=,vendor_id=,product_id=,\
             manufacturer=\u{fffd}\u{fffd}ACME Corp\u{fffd}(,product=BrokenGadget[31m,speed=,class=,version="
        );
        assert_eq!(
            series(&out, "sysmon_usb_devices"),
            vec![("bus=1".to_string(), 2.0)]
        );
        assert_eq!(
            series(&out, "sysmon_usb_kmsg_readable"),
            vec![(String::new(), 1.0)]
        );
    }

    #[test]
    fn machine_without_usb_is_not_a_failure() {
        let dir = tempfile::tempdir().unwrap();
        let c = collector(dir.path(), &dir.path().join("no-kmsg"), dir.path());
        let (out, result) = collect(&c);
        result.unwrap();
        assert!(out.get("sysmon_usb_device_info").is_none());
        assert_eq!(events(&out), (0.0, 0.0));
        // No kernel log either: not a failure, but visible.
        assert_eq!(
            series(&out, "sysmon_usb_kmsg_readable"),
            vec![(String::new(), 0.0)]
        );
    }

    /// Writes a device directory with its required attributes into a temporary sysfs.
    fn plug(sys: &Path, name: &str, devnum: u32, serial: &str) {
        let dir = sys.join("bus/usb/devices").join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for (attr, value) in [
            ("busnum", "1"),
            ("devnum", &devnum.to_string()),
            ("idVendor", "0781"),
            ("idProduct", "5583"),
            ("speed", "480"),
            ("bDeviceClass", "00"),
            ("version", " 2.00"),
            ("serial", serial),
        ] {
            std::fs::write(dir.join(attr), format!("{value}\n")).unwrap();
        }
    }

    fn unplug(sys: &Path, name: &str) {
        std::fs::remove_dir_all(sys.join("bus/usb/devices").join(name)).unwrap();
    }

    #[test]
    fn connects_and_disconnects_between_samples() {
        let dir = tempfile::tempdir().unwrap();
        let sys = dir.path().join("sys");
        plug(&sys, "usb1", 1, "0000:00:14.0");
        plug(&sys, "1-1", 2, "AAA");
        let c = collector(dir.path(), &dir.path().join("kmsg"), dir.path());
        assert_eq!(
            events(&collect(&c).0),
            (0.0, 0.0),
            "the first sample counts nothing"
        );

        plug(&sys, "1-2", 3, "BBB");
        assert_eq!(events(&collect(&c).0), (1.0, 0.0));

        // Replugged between two samples: new device number, so out and in again.
        unplug(&sys, "1-1");
        plug(&sys, "1-1", 4, "AAA");
        assert_eq!(events(&collect(&c).0), (2.0, 1.0));

        // Another stick with another serial on the same port, same number by chance.
        unplug(&sys, "1-2");
        plug(&sys, "1-2", 3, "CCC");
        assert_eq!(events(&collect(&c).0), (3.0, 2.0));

        unplug(&sys, "1-2");
        let (out, _) = collect(&c);
        assert_eq!(events(&out), (3.0, 3.0));
        assert_eq!(
            series(&out, "sysmon_usb_devices"),
            vec![("bus=1".to_string(), 2.0)]
        );
    }

    fn append(path: &Path, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    #[test]
    fn kernel_log_counts_grow_and_survive_a_restart_without_recounting() {
        let dir = tempfile::tempdir().unwrap();
        let base = fixture("vm");
        let storage = dir.path().join("state");
        let log = dir.path().join("kmsg");
        std::fs::copy(base.join("kmsg"), &log).unwrap();

        let c = collector(&base, &log, &storage);
        assert!(errors(&collect(&c).0).is_empty());
        append(
            &log,
            "3,500,2000000,-;usb 1-1: device descriptor read/64, error -110\n\
             3,501,2000100,-;usb 1-1: device descriptor read/64, error -110\n\
             6,502,2000200,-;usb 1-1: new high-speed USB device number 3 using xhci_hcd\n",
        );
        assert_eq!(
            errors(&collect(&c).0),
            vec![("port=1-1,kind=timeout".to_string(), 2.0)]
        );
        append(
            &log,
            "3,503,2000300,-;usb usb1-port1: Cannot enable. Maybe the USB cable is bad?\n",
        );
        let (out, _) = collect(&c);
        assert_eq!(
            errors(&out),
            vec![
                ("port=1-1,kind=timeout".to_string(), 2.0),
                ("port=1-1,kind=enumeration".to_string(), 1.0),
            ]
        );
        assert!(storage.join(kmsg::STATE_FILE).exists());

        // Restart: the counters start again from zero, and nothing already read is counted again;
        // what arrived while the exporter was down is.
        append(
            &log,
            "3,504,2000400,-;usb 1-1: device not accepting address 4, error -71\n",
        );
        let c = collector(&base, &log, &storage);
        assert_eq!(
            errors(&collect(&c).0),
            vec![("port=1-1,kind=protocol".to_string(), 1.0)]
        );
        let c = collector(&base, &log, &storage);
        assert!(errors(&collect(&c).0).is_empty());
    }

    /// Replays each fixture's whole log, as after a reboot the exporter was running before.
    fn replay(machine: &str) -> Vec<(String, f64)> {
        let dir = tempfile::tempdir().unwrap();
        let base = fixture(machine);
        let log = base.join("kmsg");
        let position = kmsg::Position {
            source: log.to_string_lossy().into_owned(),
            boot_id: Some("00000000-0000-0000-0000-000000000000".into()),
            seq: 0,
        };
        std::fs::write(
            dir.path().join(kmsg::STATE_FILE),
            kmsg::format_position(&position),
        )
        .unwrap();
        let (out, _) = collect(&collector(&base, &log, dir.path()));
        errors(&out)
    }

    #[test]
    fn fixture_logs_replayed_after_a_reboot() {
        let owned = |v: &[(&str, f64)]| -> Vec<(String, f64)> {
            v.iter().map(|(l, n)| (l.to_string(), *n)).collect()
        };
        assert_eq!(
            replay("laptop"),
            owned(&[
                ("port=1-1.1,kind=timeout", 3.0),
                ("port=1-1.1,kind=disconnect", 1.0),
                ("port=1-1.2,kind=protocol", 2.0),
                ("port=1-6,kind=timeout", 1.0),
                ("port=1-6,kind=reset", 1.0),
            ])
        );
        assert_eq!(
            replay("server"),
            owned(&[
                ("port=1-4.1,kind=disconnect", 1.0),
                ("port=2-3,kind=timeout", 1.0),
                ("port=2-3,kind=reset", 2.0),
                ("port=2-4,kind=enumeration", 2.0),
                ("port=2-4,kind=over_current", 1.0),
            ])
        );
        assert!(replay("vm").is_empty());
        // The broken machine's boot id is garbage, so only the numbering can tell a reboot: the
        // saved position (0) is not past the log, so it is read after seq 0 (seq 0 itself is
        // not a USB message). Junk, a huge line, a record out of order and an unfinished last
        // line are skipped.
        assert_eq!(
            replay("broken"),
            owned(&[
                ("port=1-1,kind=timeout", 1.0),
                ("port=1-2,kind=protocol", 1.0),
                ("port=usb1,kind=over_current", 1.0),
            ])
        );
    }
}
