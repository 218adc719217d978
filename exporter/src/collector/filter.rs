//! node_exporter's include/exclude filter on names: devices (diskstats, netdev, netclass), mount
//! points and filesystem types (filesystem), hwmon chips and sensors. One type for all of them, as
//! node_exporter has one `deviceFilter`.
//!
//! A name is ignored when it matches the exclusion, or when an inclusion is set and the name does
//! not match it. Patterns are unanchored, as Go's `MatchString`; an empty flag value means "no
//! pattern" (an empty regex would match every name), as in node_exporter.
//!
//! The patterns run on `regex-lite` (a backtracking engine a few dozen KiB of code, where the
//! `regex` crate's automata are some 500 KiB resident in every exporter). A name's verdict is
//! remembered, because the signal readings ask it for the same few devices every 2 s.

use std::collections::HashMap;
use std::sync::Mutex;

use regex_lite::Regex;

/// Verdicts remembered at most; past it the memo starts again (hosts whose interface names churn,
/// such as container hosts with a veth per container).
const MEMO_LIMIT: usize = 1024;

/// Names already judged, with their verdict. A clone starts empty.
#[derive(Debug, Default)]
struct Memo(Mutex<HashMap<String, bool>>);

impl Clone for Memo {
    fn clone(&self) -> Memo {
        Memo::default()
    }
}

impl Memo {
    fn verdict(&self, name: &str, judge: impl FnOnce() -> bool) -> bool {
        let mut verdicts = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(&verdict) = verdicts.get(name) {
            return verdict;
        }
        let verdict = judge();
        if verdicts.len() >= MEMO_LIMIT {
            verdicts.clear();
        }
        verdicts.insert(name.to_string(), verdict);
        verdict
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

/// A regular expression over a fixed vocabulary of names (the fields of /proc/net/netstat or
/// /proc/vmstat), each name's match remembered.
#[derive(Debug, Clone)]
pub struct NameMatcher {
    regex: Regex,
    memo: Memo,
}

impl NameMatcher {
    pub fn new(pattern: &str) -> Result<NameMatcher, regex_lite::Error> {
        Ok(NameMatcher {
            regex: Regex::new(pattern)?,
            memo: Memo::default(),
        })
    }

    pub fn is_match(&self, name: &str) -> bool {
        self.memo.verdict(name, || self.regex.is_match(name))
    }
}

#[derive(Debug, Clone, Default)]
pub struct DeviceFilter {
    include: Option<Regex>,
    exclude: Option<Regex>,
    memo: Memo,
}

impl DeviceFilter {
    /// A filter that keeps every name.
    pub fn keep_all() -> DeviceFilter {
        DeviceFilter::default()
    }

    /// Compiles the two flags' patterns. Each comes with its flag name (`--collector.x.y`), which
    /// the error for an invalid regular expression names.
    pub fn new(
        include: (&str, Option<&str>),
        exclude: (&str, Option<&str>),
    ) -> Result<DeviceFilter, String> {
        Ok(DeviceFilter {
            include: compile(include)?,
            exclude: compile(exclude)?,
            memo: Memo::default(),
        })
    }

    /// As [`DeviceFilter::new`], for collectors whose exclusion has a default that an inclusion
    /// replaces (diskstats, filesystem): when an inclusion is given, the exclusion is dropped.
    pub fn include_replaces_exclude(
        include: (&str, Option<&str>),
        exclude: (&str, Option<&str>),
    ) -> Result<DeviceFilter, String> {
        let include = compile(include)?;
        let exclude = if include.is_some() {
            None
        } else {
            compile(exclude)?
        };
        Ok(DeviceFilter {
            include,
            exclude,
            memo: Memo::default(),
        })
    }

    /// As [`DeviceFilter::new`], for collectors where giving both flags is a usage error (netdev).
    pub fn exclusive(
        include: (&str, Option<&str>),
        exclude: (&str, Option<&str>),
    ) -> Result<DeviceFilter, String> {
        let filter = DeviceFilter::new(include, exclude)?;
        if filter.include.is_some() && filter.exclude.is_some() {
            return Err(format!(
                "{} and {} are mutually exclusive",
                include.0, exclude.0
            ));
        }
        Ok(filter)
    }

    pub fn ignored(&self, name: &str) -> bool {
        if self.include.is_none() && self.exclude.is_none() {
            return false;
        }
        self.memo.verdict(name, || {
            self.exclude.as_ref().is_some_and(|re| re.is_match(name))
                || self.include.as_ref().is_some_and(|re| !re.is_match(name))
        })
    }
}

fn compile((flag, pattern): (&str, Option<&str>)) -> Result<Option<Regex>, String> {
    match pattern {
        None | Some("") => Ok(None),
        Some(p) => Regex::new(p)
            .map(Some)
            .map_err(|e| format!("{flag}: invalid regular expression {p:?}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const I: &str = "--collector.x.include";
    const E: &str = "--collector.x.exclude";

    #[test]
    fn exclude_and_include() {
        let f = DeviceFilter::new((I, None), (E, Some("^(lo|veth.*)$"))).unwrap();
        assert!(f.ignored("lo") && f.ignored("veth0"));
        assert!(!f.ignored("eth0"));
        let f = DeviceFilter::new((I, Some("eth")), (E, None)).unwrap();
        assert!(!f.ignored("eth0") && f.ignored("wlan0"));
        let both = DeviceFilter::new((I, Some("coretemp")), (E, Some("_1$"))).unwrap();
        assert!(!both.ignored("coretemp_0"));
        assert!(both.ignored("coretemp_1"));
        assert!(both.ignored("acpitz"));
    }

    #[test]
    fn remembered_verdicts_stay_right_past_the_memo_limit() {
        let f = DeviceFilter::new((I, None), (E, Some("^veth"))).unwrap();
        for round in 0..2 {
            for i in 0..MEMO_LIMIT + 10 {
                assert!(f.ignored(&format!("veth{i}")), "round {round}");
                assert!(!f.ignored(&format!("eth{i}")), "round {round}");
            }
        }
        assert!(f.memo.len() <= MEMO_LIMIT);
        let m = NameMatcher::new("^Tcp_").unwrap();
        assert!(m.is_match("Tcp_InSegs") && m.is_match("Tcp_InSegs"));
        assert!(!m.is_match("Udp_InErrors") && !m.clone().is_match("Udp_InErrors"));
        assert!(f.clone().ignored("veth0") && !f.clone().ignored("eth0"));
    }

    #[test]
    fn empty_patterns_mean_no_filter() {
        let f = DeviceFilter::new((I, Some("")), (E, Some(""))).unwrap();
        assert!(!f.ignored("anything"));
        assert!(!DeviceFilter::keep_all().ignored("x"));
    }

    #[test]
    fn inclusion_replaces_default_exclusion() {
        let f =
            DeviceFilter::include_replaces_exclude((I, Some("^sd")), (E, Some("^sda$"))).unwrap();
        assert!(!f.ignored("sda"));
        assert!(f.ignored("nvme0n1"));
        let f = DeviceFilter::include_replaces_exclude((I, None), (E, Some("^sda$"))).unwrap();
        assert!(f.ignored("sda") && !f.ignored("sdb"));
    }

    #[test]
    fn bad_patterns_name_the_flag() {
        let err = DeviceFilter::new((I, Some("(")), (E, None)).unwrap_err();
        assert!(
            err.starts_with("--collector.x.include: invalid regular expression"),
            "{err}"
        );
        // regex-lite has no Unicode classes: refused, not silently matched differently.
        let err = DeviceFilter::new((I, Some(r"\pL")), (E, None)).unwrap_err();
        assert!(err.starts_with("--collector.x.include"), "{err}");
        let err = DeviceFilter::exclusive((I, Some("a")), (E, Some("b"))).unwrap_err();
        assert!(err.contains("mutually exclusive"), "{err}");
    }
}
