//! node_exporter's include/exclude filter on names: devices (diskstats, netdev, netclass), mount
//! points and filesystem types (filesystem), hwmon chips and sensors. One type for all of them, as
//! node_exporter has one `deviceFilter`.
//!
//! A name is ignored when it matches the exclusion, or when an inclusion is set and the name does
//! not match it. Patterns are unanchored, as Go's `MatchString`; an empty flag value means "no
//! pattern" (an empty regex would match every name), as in node_exporter.

use regex::Regex;

#[derive(Debug, Clone, Default)]
pub struct DeviceFilter {
    include: Option<Regex>,
    exclude: Option<Regex>,
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
        Ok(DeviceFilter { include, exclude })
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
        self.exclude.as_ref().is_some_and(|re| re.is_match(name))
            || self.include.as_ref().is_some_and(|re| !re.is_match(name))
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
        let err = DeviceFilter::exclusive((I, Some("a")), (E, Some("b"))).unwrap_err();
        assert!(err.contains("mutually exclusive"), "{err}");
    }
}
