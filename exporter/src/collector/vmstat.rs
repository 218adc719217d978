//! `vmstat`: virtual memory statistics from `<procfs>/vmstat` ("name value" per line,
//! Documentation/admin-guide/mm and proc(5)), as node_exporter's `vmstat_linux.go` exports them:
//! one untyped series `node_vmstat_<name>` per field whose name matches
//! `--collector.vmstat.fields` (an unanchored regexp search, as Go's `MatchString`).
//!
//! The fields are a mix of counters (`pgfault`) and gauges (`nr_free_pages`) that the kernel does
//! not tell apart, which is why node_exporter leaves them untyped; so does sysmon.
//!
//! Where node_exporter stops at the first line whose value is not a number (publishing the lines
//! before it), sysmon publishes every well-formed matching line and then fails the collector,
//! naming the first malformed line.

use super::filter::NameMatcher;

use super::{malformed_lines, read_string, BuildContext, Collector, Registration, Roots};
use crate::collector::CollectError;
use crate::metrics::{MetricSet, MetricType};

pub const REGISTRATION: Registration = Registration {
    name: "vmstat",
    default_enabled: true,
    help: "virtual memory statistics from /proc/vmstat",
    flags: <Args as clap::Args>::augment_args,
    cadence: super::Cadence::Slow,
    isolation: super::Isolation::Inline,
    build,
};

/// node_exporter 1.12's default for `--collector.vmstat.fields`: OOM kills, paging in and out,
/// swapping in and out, and page faults.
pub const DEFAULT_FIELDS: &str = r"^(oom_kill|pgpg|pswp|pg.*fault).*";

// Flags of the `vmstat` collector (a plain comment: a doc comment here would become the
// command's about text through clap's derive).
#[derive(Debug, Clone, clap::Args)]
#[group(id = "vmstat_flags")]
#[command(next_help_heading = "Collector vmstat")]
pub struct Args {
    /// Regexp of /proc/vmstat fields to export (searched in the name, not anchored unless the
    /// pattern is).
    #[arg(long = "collector.vmstat.fields",
        id = "vmstat_fields", value_name = "REGEX", default_value = DEFAULT_FIELDS)]
    pub fields: String,
}

fn build(ctx: &BuildContext) -> Result<Box<dyn Collector>, String> {
    let args: Args = ctx.args()?;
    let fields = NameMatcher::new(&args.fields)
        .map_err(|e| format!("--collector.vmstat.fields: invalid regular expression: {e}"))?;
    Ok(Box::new(VmstatCollector {
        roots: ctx.roots.clone(),
        fields,
    }))
}

pub struct VmstatCollector {
    roots: Roots,
    fields: NameMatcher,
}

/// Whether `name` can follow `node_vmstat_` in a metric name.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

/// Parses one line of /proc/vmstat ("pgfault 123456").
pub fn parse_line(line: &str) -> Result<(&str, f64), String> {
    let mut fields = line.split_whitespace();
    let (Some(name), Some(value)) = (fields.next(), fields.next()) else {
        return Err(format!("expected \"name value\", found {line:?}"));
    };
    if !valid_name(name) {
        return Err(format!("{name:?} is not a valid metric name part"));
    }
    let value = value
        .parse::<f64>()
        .map_err(|_| format!("{name}: expected a number, found {value:?}"))?;
    Ok((name, value))
}

/// Parses the whole file: the well-formed `(name, value)` lines, and a description of each
/// malformed line (blank lines are ignored).
pub fn parse(text: &str) -> (Vec<(&str, f64)>, Vec<String>) {
    let mut good = Vec::with_capacity(200);
    let mut bad = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match parse_line(line) {
            Ok(field) => good.push(field),
            Err(e) => bad.push(format!("line {}: {e}", i + 1)),
        }
    }
    (good, bad)
}

impl Collector for VmstatCollector {
    fn collect(&self, out: &mut MetricSet) -> Result<(), CollectError> {
        let path = self.roots.proc("vmstat");
        let text = read_string(&path)?;
        let (fields, bad) = parse(&text);
        let mut name = String::with_capacity(64);
        let mut help = String::with_capacity(64);
        for (field, value) in fields {
            if !self.fields.is_match(field) {
                continue;
            }
            name.clear();
            name.push_str("node_vmstat_");
            name.push_str(field);
            help.clear();
            help.push_str("Field ");
            help.push_str(field);
            help.push_str(" of /proc/vmstat.");
            out.family(&name, &help, MetricType::Untyped)
                .sample(&[], value);
        }
        malformed_lines(&path, &bad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::fixture_roots;
    use proptest::prelude::*;

    fn collector(machine: &str, fields: &str) -> VmstatCollector {
        VmstatCollector {
            roots: fixture_roots(machine),
            fields: NameMatcher::new(fields).unwrap(),
        }
    }

    #[test]
    fn parses_lines() {
        assert_eq!(parse_line("pgfault 123456"), Ok(("pgfault", 123456.0)));
        assert_eq!(parse_line("nr_free_pages 0"), Ok(("nr_free_pages", 0.0)));
        assert!(parse_line("pgfault").is_err());
        assert!(parse_line("pgfault x").is_err());
        assert!(parse_line("pg-fault 1").is_err());
        let (good, bad) = parse("a 1\n\nb two\nc 3\n");
        assert_eq!(good, vec![("a", 1.0), ("c", 3.0)]);
        assert_eq!(bad.len(), 1);
        assert!(bad[0].starts_with("line 3"), "{bad:?}");
    }

    #[test]
    fn default_fields_select_what_node_exporter_selects() {
        let re = NameMatcher::new(DEFAULT_FIELDS).unwrap();
        for yes in [
            "oom_kill",
            "pgpgin",
            "pgpgout",
            "pswpin",
            "pswpout",
            "pgfault",
            "pgmajfault",
            "pgsteal_kswapd_fault_x",
        ] {
            assert!(re.is_match(yes), "{yes}");
        }
        for no in [
            "nr_free_pages",
            "pgfree",
            "thp_fault_alloc",
            "workingset_refault_anon",
        ] {
            assert!(!re.is_match(no), "{no}");
        }
    }

    #[test]
    fn laptop_exports_default_fields_untyped() {
        let mut out = MetricSet::new();
        collector("laptop", DEFAULT_FIELDS)
            .collect(&mut out)
            .unwrap();
        let fault = out.get("node_vmstat_pgfault").unwrap();
        assert_eq!(fault.kind, MetricType::Untyped);
        assert!(out.get("node_vmstat_oom_kill").is_some());
        assert!(out.get("node_vmstat_pgmajfault").is_some());
        assert!(out.get("node_vmstat_pswpin").is_some());
        assert!(out.get("node_vmstat_nr_free_pages").is_none());
        assert!(out.families.iter().all(|f| f.samples.len() == 1));
    }

    #[test]
    fn fields_flag_selects() {
        let mut out = MetricSet::new();
        collector("server", "^nr_free_pages$")
            .collect(&mut out)
            .unwrap();
        assert_eq!(out.families.len(), 1);
        assert!(out.get("node_vmstat_nr_free_pages").is_some());
    }

    #[test]
    fn broken_publishes_good_lines_and_fails() {
        let mut out = MetricSet::new();
        let err = collector("broken", ".*").collect(&mut out).unwrap_err();
        assert!(err.to_string().contains("vmstat"), "{err}");
        assert!(out.sample_count() > 0);
    }

    #[test]
    fn missing_file_is_an_error() {
        let mut out = MetricSet::new();
        let c = VmstatCollector {
            roots: fixture_roots("does-not-exist"),
            fields: NameMatcher::new(".*").unwrap(),
        };
        assert!(c.collect(&mut out).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_text_never_panics(text in "[a-z_0-9 \\t\\n.eE+-]{0,400}") {
            let (good, _) = parse(&text);
            for (name, _) in good {
                prop_assert!(valid_name(name));
            }
        }

        #[test]
        fn well_formed_lines_parse_back(fields in proptest::collection::vec(("[a-z][a-z0-9_]{0,20}", any::<u64>()), 0..40)) {
            let text: String = fields.iter().map(|(n, v)| format!("{n} {v}\n")).collect();
            let (good, bad) = parse(&text);
            prop_assert!(bad.is_empty());
            prop_assert_eq!(good.len(), fields.len());
            for ((name, value), (n, v)) in good.iter().zip(&fields) {
                prop_assert_eq!(*name, n.as_str());
                prop_assert_eq!(*value, *v as f64);
            }
        }
    }
}
