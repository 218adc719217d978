//! `bonding`: configured and active slaves of each Linux bonding interface, as node_exporter's
//! `bonding_linux.go` (enabled by default) exports them (Documentation/networking/bonding.rst):
//!
//! * the bonds are the names in `<sysfs>/class/net/bonding_masters`;
//! * a bond's slaves are the names in `<sysfs>/class/net/<bond>/bonding/slaves`;
//! * a slave is active when `<bond>/lower_<slave>/bonding_slave/mii_status` (`slave_<slave>/...`
//!   on kernels before 4.x) reads `up`.
//!
//! `node_bonding_slaves{master}` counts the slaves, `node_bonding_active{master}` those whose MII
//! status is up. A bond with a slave down has `active < slaves`, which is what an alert on a degraded
//! bond compares (the server fixture's `bond0` has lost `eno2`).
//!
//! No `bonding_masters` (the bonding module is not loaded) is no data. A bond or slave whose files
//! vanished or cannot be read fails the collector; unlike node_exporter, which then publishes no
//! bond at all, sysmon publishes the bonds it read completely.

use std::io::ErrorKind;
use std::path::Path;

use super::{BuildContext, CollectError, Collector, Registration, Roots};
use crate::metrics::MetricSet;

pub const REGISTRATION: Registration = Registration {
    name: "bonding",
    default_enabled: true,
    help: "bonding interfaces' slaves from /sys/class/net/*/bonding",
    flags: super::no_flags,
    cadence: super::Cadence::Slow,
    isolation: super::Isolation::Inline,
    build,
};

fn build(ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    Ok(Box::new(BondingCollector {
        roots: ctx.roots.clone(),
    }))
}

pub struct BondingCollector {
    roots: Roots,
}

/// Whether a slave's `mii_status` says the link is up (node_exporter compares the trimmed text
/// with `up`; the kernel writes `up` or `down`).
pub fn mii_up(text: &str) -> bool {
    text.trim() == "up"
}

/// Counts the slaves listed in a bond's `slaves` text and those whose MII status is up, reading
/// each slave's status with `status`. Returns (slaves, active), or the first error of `status`.
pub fn count_slaves<E>(
    slaves: &str,
    mut status: impl FnMut(&str) -> Result<String, E>,
) -> Result<(u64, u64), E> {
    let mut counts = (0, 0);
    for slave in slaves.split_whitespace() {
        let text = status(slave)?;
        counts.0 += 1;
        if mii_up(&text) {
            counts.1 += 1;
        }
    }
    Ok(counts)
}

/// Reads a slave's MII status below the bond's directory: `lower_<slave>`, else `slave_<slave>`.
fn slave_status(bond: &Path, slave: &str) -> Result<String, CollectError> {
    let lower = bond.join(format!("lower_{slave}/bonding_slave/mii_status"));
    match crate::collector::read_text(&lower) {
        Ok(text) => Ok(text),
        Err(e) if e.kind() == ErrorKind::NotFound => {
            let older = bond.join(format!("slave_{slave}/bonding_slave/mii_status"));
            crate::collector::read_text(&older).map_err(|e| CollectError::io(&older, e))
        }
        Err(e) => Err(CollectError::io(&lower, e)),
    }
}

/// (slaves, active) of the bond `master`.
fn read_bond(net: &Path, master: &str) -> Result<(u64, u64), CollectError> {
    let bond = net.join(master);
    let slaves_path = bond.join("bonding/slaves");
    let slaves =
        crate::collector::read_text(&slaves_path).map_err(|e| CollectError::io(&slaves_path, e))?;
    count_slaves(&slaves, |slave| slave_status(&bond, slave))
}

impl Collector for BondingCollector {
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        let net = self.roots.sys("class/net");
        let masters_path = net.join("bonding_masters");
        let masters = match crate::collector::read_text(&masters_path) {
            Ok(text) => text,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(CollectError::io(&masters_path, e)),
        };
        let mut errors = Vec::new();
        for master in masters.split_whitespace() {
            match read_bond(&net, master) {
                Ok((slaves, active)) => {
                    out.gauge(
                        "node_bonding_slaves",
                        "Number of configured slaves per bonding interface.",
                    )
                    .sample(&[("master", master)], slaves as f64);
                    out.gauge(
                        "node_bonding_active",
                        "Number of active slaves per bonding interface.",
                    )
                    .sample(&[("master", master)], active as f64);
                }
                Err(e) => errors.push(e),
            }
        }
        super::first_error(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::fixture_roots;
    use proptest::prelude::*;

    fn collect(machine: &str) -> (MetricSet, Result<(), CollectError>) {
        let mut out = MetricSet::new();
        let r = BondingCollector {
            roots: fixture_roots(machine),
        }
        .collect(&mut out);
        (out, r)
    }

    fn value(out: &MetricSet, name: &str, master: &str) -> Option<f64> {
        out.get(name)?
            .samples
            .iter()
            .find(|s| s.labels.iter().any(|(_, v)| v == master))
            .map(|s| s.value)
    }

    #[test]
    fn server_bond_is_degraded() {
        let (out, r) = collect("server");
        r.unwrap();
        assert_eq!(value(&out, "node_bonding_slaves", "bond0"), Some(2.0));
        assert_eq!(value(&out, "node_bonding_active", "bond0"), Some(1.0));
    }

    #[test]
    fn no_bonding_module_is_no_data() {
        for machine in ["laptop", "vm"] {
            let (out, r) = collect(machine);
            r.unwrap();
            assert_eq!(out.sample_count(), 0, "{machine}");
        }
    }

    #[test]
    fn broken_names_the_vanished_bond() {
        let (out, r) = collect("broken");
        let err = r.unwrap_err().to_string();
        assert!(err.contains("bond9/bonding/slaves"), "{err}");
        assert_eq!(out.sample_count(), 0);
    }

    /// A slave: its name and its `mii_status` content, `None` when the file is missing.
    type Slave<'a> = (&'a str, Option<&'a str>);

    /// A sysfs tree of bonds, each with its slaves.
    fn tree(bonds: &[(&str, &[Slave])]) -> tempfile::TempDir {
        let tmp = tempfile::tempdir().unwrap();
        let net = tmp.path().join("class/net");
        std::fs::create_dir_all(&net).unwrap();
        let names: Vec<&str> = bonds.iter().map(|(b, _)| *b).collect();
        std::fs::write(net.join("bonding_masters"), names.join(" ") + "\n").unwrap();
        for (bond, slaves) in bonds {
            std::fs::create_dir_all(net.join(bond).join("bonding")).unwrap();
            let list: Vec<&str> = slaves.iter().map(|(s, _)| *s).collect();
            std::fs::write(net.join(bond).join("bonding/slaves"), list.join(" ") + "\n").unwrap();
            for (slave, status) in *slaves {
                if let Some(status) = status {
                    let dir = net.join(bond).join(format!("lower_{slave}/bonding_slave"));
                    std::fs::create_dir_all(&dir).unwrap();
                    std::fs::write(dir.join("mii_status"), status).unwrap();
                }
            }
        }
        tmp
    }

    fn collect_tree(tmp: &tempfile::TempDir) -> (MetricSet, Result<(), CollectError>) {
        let roots = Roots {
            sysfs: tmp.path().to_path_buf(),
            ..Roots::default()
        };
        let mut out = MetricSet::new();
        let r = BondingCollector { roots }.collect(&mut out);
        (out, r)
    }

    #[test]
    fn a_bad_bond_fails_alone() {
        let tmp = tree(&[
            ("bond0", &[("eth0", Some("up\n")), ("eth1", Some("down\n"))]),
            ("bond1", &[("eth2", Some("up\n")), ("eth3", None)]),
        ]);
        let (out, r) = collect_tree(&tmp);
        let err = r.unwrap_err().to_string();
        assert!(err.contains("slave_eth3"), "{err}");
        assert_eq!(value(&out, "node_bonding_slaves", "bond0"), Some(2.0));
        assert_eq!(value(&out, "node_bonding_active", "bond0"), Some(1.0));
        assert_eq!(value(&out, "node_bonding_slaves", "bond1"), None);
    }

    #[test]
    fn older_kernels_slave_prefix() {
        let tmp = tempfile::tempdir().unwrap();
        let net = tmp.path().join("class/net");
        std::fs::create_dir_all(net.join("bond7/bonding")).unwrap();
        std::fs::create_dir_all(net.join("bond7/slave_eth0/bonding_slave")).unwrap();
        std::fs::write(net.join("bonding_masters"), "bond7\n").unwrap();
        std::fs::write(net.join("bond7/bonding/slaves"), "eth0\n").unwrap();
        std::fs::write(
            net.join("bond7/slave_eth0/bonding_slave/mii_status"),
            "up\n",
        )
        .unwrap();
        let roots = Roots {
            sysfs: tmp.path().to_path_buf(),
            ..Roots::default()
        };
        let mut out = MetricSet::new();
        BondingCollector { roots }.collect(&mut out).unwrap();
        assert_eq!(value(&out, "node_bonding_active", "bond7"), Some(1.0));
    }

    #[test]
    fn counts() {
        let statuses = |s: &str| -> Result<String, ()> {
            Ok(if s == "eth1" { "down\n" } else { "up\n" }.to_string())
        };
        assert_eq!(count_slaves("eth0 eth1 eth2\n", statuses), Ok((3, 2)));
        assert_eq!(count_slaves("\n", statuses), Ok((0, 0)));
        assert_eq!(
            count_slaves("eth0", |_| Err::<String, _>("gone")),
            Err("gone")
        );
        assert!(!mii_up("going back\n"));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_text_never_panics(slaves in "\\PC{0,40}", status in "\\PC{0,10}") {
            let _ = count_slaves(&slaves, |_| Ok::<_, ()>(status.clone()));
        }

        #[test]
        fn generated_bonds_count_back(states in proptest::collection::vec(any::<bool>(), 0..8)) {
            let names: Vec<String> = (0..states.len()).map(|i| format!("eth{i}")).collect();
            let text = names.join(" ") + "\n";
            let counted = count_slaves(&text, |s| {
                let i: usize = s[3..].parse().unwrap();
                Ok::<_, ()>(if states[i] { "up\n" } else { "down\n" }.to_string())
            });
            let active = states.iter().filter(|s| **s).count() as u64;
            prop_assert_eq!(counted, Ok((states.len() as u64, active)));
        }
    }
}
