//! The `[rules.*]` sections of the configuration file: each threshold rule's settings, checked
//! against the rule's valid range, with the file's line in every error.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::adaptive::Params;
use super::event::Severity;
use super::rules::{adaptive, all_specs, ThresholdRule};
use crate::config::{parse_duration_value, ConfigError};

/// `[rules]` as written in the file. Every rule and every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesSection {
    cpu_high: Option<ThresholdSection>,
    cpu_jump: Option<ThresholdSection>,
    memory_high: Option<ThresholdSection>,
    memory_jump: Option<ThresholdSection>,
    temperature_high: Option<ThresholdSection>,
    filesystem_full: Option<ThresholdSection>,
    usb_timeout: Option<ThresholdSection>,
    process_memory_growth: Option<ThresholdSection>,
    adaptive: Option<AdaptiveSection>,
}

/// `[rules.adaptive]`: the adaptive rules (`adaptive_cpu`, `adaptive_memory`, ...) share it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdaptiveSection {
    enabled: Option<bool>,
    clear_for: Option<Spanned<String>>,
    /// `[rules.adaptive.detector]`: the detector's parameters.
    detector: Option<Spanned<Params>>,
}

/// `[rules.<name>]` of a threshold rule.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ThresholdSection {
    enabled: Option<bool>,
    threshold: Option<Spanned<f64>>,
    severity: Option<Spanned<String>>,
    #[serde(rename = "for")]
    hold: Option<Spanned<String>>,
    clear_margin: Option<Spanned<f64>>,
    clear_for: Option<Spanned<String>>,
}

/// The effective rule settings.
#[derive(Debug, Clone, PartialEq)]
pub struct RulesConfig {
    /// Every rule's settings by name; for the adaptive rules only `enabled` and `clear_hold`
    /// apply (their detectors decide when they fire).
    pub threshold: BTreeMap<&'static str, ThresholdRule>,
    /// The adaptive detectors' parameters.
    pub adaptive: Params,
}

impl Default for RulesConfig {
    fn default() -> Self {
        RulesConfig {
            threshold: all_specs()
                .into_iter()
                .map(|s| (s.name, s.defaults.clone()))
                .collect(),
            adaptive: Params::default(),
        }
    }
}

impl RulesSection {
    fn sections(&self) -> [(&'static str, Option<&ThresholdSection>); 8] {
        [
            ("cpu_high", self.cpu_high.as_ref()),
            ("cpu_jump", self.cpu_jump.as_ref()),
            ("memory_high", self.memory_high.as_ref()),
            ("memory_jump", self.memory_jump.as_ref()),
            ("temperature_high", self.temperature_high.as_ref()),
            ("filesystem_full", self.filesystem_full.as_ref()),
            ("usb_timeout", self.usb_timeout.as_ref()),
            ("process_memory_growth", self.process_memory_growth.as_ref()),
        ]
    }

    /// Applies the file's values over the defaults and checks them.
    pub fn resolve(&self, file: &Path, source: &str) -> Result<RulesConfig, ConfigError> {
        let mut config = RulesConfig::default();
        let specs = all_specs();
        for (name, section) in self.sections() {
            let Some(section) = section else { continue };
            let spec = specs
                .iter()
                .find(|s| s.name == name)
                .expect("every section names a registered rule");
            let rule = config
                .threshold
                .get_mut(name)
                .expect("defaults hold every rule");
            if let Some(e) = section.enabled {
                rule.enabled = e;
            }
            if let Some(t) = &section.threshold {
                let (lo, hi) = spec.range;
                let v = *t.get_ref();
                if !(lo..=hi).contains(&v) {
                    return Err(ConfigError::at(
                        file,
                        source,
                        t.span().start,
                        format!("rules.{name}.threshold: expected a number between {lo} and {hi}, found {v}"),
                    ));
                }
                rule.threshold = v;
            }
            if let Some(s) = &section.severity {
                rule.severity = Severity::parse(s.get_ref()).ok_or_else(|| {
                    ConfigError::at(
                        file,
                        source,
                        s.span().start,
                        format!(
                            "rules.{name}.severity: expected \"info\", \"warning\" or \"critical\", found {:?}",
                            s.get_ref()
                        ),
                    )
                })?;
            }
            if let Some(m) = &section.clear_margin {
                let v = *m.get_ref();
                if !v.is_finite() || v < 0.0 {
                    return Err(ConfigError::at(
                        file,
                        source,
                        m.span().start,
                        format!(
                            "rules.{name}.clear_margin: expected a number of at least 0, found {v}"
                        ),
                    ));
                }
                rule.clear_margin = v;
            }
            if let Some(d) = &section.hold {
                rule.hold = duration(file, source, d, &format!("rules.{name}.for"))?;
            }
            if let Some(d) = &section.clear_for {
                rule.clear_hold = duration(file, source, d, &format!("rules.{name}.clear_for"))?;
            }
        }
        if let Some(section) = &self.adaptive {
            for spec in adaptive::SPECS {
                let rule = config
                    .threshold
                    .get_mut(spec.name)
                    .expect("defaults hold every rule");
                if let Some(e) = section.enabled {
                    rule.enabled = e;
                }
                if let Some(d) = &section.clear_for {
                    rule.clear_hold = duration(file, source, d, "rules.adaptive.clear_for")?;
                }
            }
            if let Some(p) = &section.detector {
                p.get_ref()
                    .validate()
                    .map_err(|message| ConfigError::at(file, source, p.span().start, message))?;
                config.adaptive = p.get_ref().clone();
            }
        }
        Ok(config)
    }
}

const MAX_HOLD: Duration = Duration::from_secs(24 * 3600);

fn duration(
    file: &Path,
    source: &str,
    v: &Spanned<String>,
    key: &str,
) -> Result<Duration, ConfigError> {
    let d = parse_duration_value(file, source, v, key)?;
    if d > MAX_HOLD {
        return Err(ConfigError::at(
            file,
            source,
            v.span().start,
            format!(
                "{key}: expected a duration of at most 24h, found {:?}",
                v.get_ref()
            ),
        ));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(text: &str) -> Result<RulesConfig, ConfigError> {
        #[derive(Deserialize)]
        struct File {
            rules: RulesSection,
        }
        let f: File = toml::from_str(text).map_err(|e| ConfigError {
            file: "t.toml".into(),
            line: 0,
            column: 0,
            message: e.to_string(),
        })?;
        f.rules.resolve(Path::new("t.toml"), text)
    }

    #[test]
    fn defaults_cover_every_rule() {
        let c = RulesConfig::default();
        assert_eq!(c.threshold.len(), 8 + adaptive::SPECS.len());
        assert!(c.threshold["adaptive_cpu"].enabled);
        assert_eq!(c.threshold["cpu_high"].threshold, 90.0);
        assert_eq!(c.threshold["cpu_high"].severity, Severity::Critical);
        assert_eq!(c.threshold["memory_high"].threshold, 95.0);
        assert_eq!(c.threshold["filesystem_full"].severity, Severity::Warning);
        assert_eq!(c.threshold["temperature_high"].threshold, 85.0);
    }

    #[test]
    fn file_values_override_defaults() {
        let c = resolve(
            "[rules.cpu_high]\nthreshold = 80.0\nfor = \"1m\"\nseverity = \"warning\"\n[rules.usb_timeout]\nenabled = false\n",
        )
        .unwrap();
        let r = &c.threshold["cpu_high"];
        assert_eq!(
            (r.threshold, r.hold, r.severity),
            (80.0, Duration::from_secs(60), Severity::Warning)
        );
        assert!(!c.threshold["usb_timeout"].enabled);
        assert!(c.threshold["cpu_jump"].enabled);
    }

    #[test]
    fn adaptive_section() {
        let c = resolve(
            "[rules.adaptive]\nclear_for = \"2m\"\n[rules.adaptive.detector]\nwindow = 256\nlevel_z = 5.0\n",
        )
        .unwrap();
        assert_eq!(c.adaptive.window, 256);
        assert_eq!(c.adaptive.level_z, 5.0);
        assert_eq!(c.adaptive.persistence, Params::default().persistence);
        assert_eq!(
            c.threshold["adaptive_memory"].clear_hold,
            Duration::from_secs(120)
        );
        let c = resolve("[rules.adaptive]\nenabled = false\n").unwrap();
        assert!(!c.threshold["adaptive_temperature"].enabled);
        assert!(c.threshold["cpu_high"].enabled);
        let e = resolve("[rules.adaptive]\n\n[rules.adaptive.detector]\nwindow = 2\n").unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert!(resolve("[rules.adaptive.detector]\nwindoww = 2\n").is_err());
    }

    #[test]
    fn bad_values_name_line_and_expectation() {
        let e = resolve("[rules.cpu_high]\n\nthreshold = 150.0\n").unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert!(e.message.contains("between 0 and 100"), "{e}");
        let e = resolve("[rules.memory_high]\nseverity = \"loud\"\n").unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        assert!(e.message.contains("\"critical\""), "{e}");
        let e = resolve("[rules.filesystem_full]\nclear_for = \"48h\"\n").unwrap_err();
        assert!(e.message.contains("at most 24h"), "{e}");
        let e = resolve("[rules.temperature_high]\nclear_margin = -1.0\n").unwrap_err();
        assert!(e.message.contains("at least 0"), "{e}");
        assert!(resolve("[rules.cpu_hgh]\nthreshold = 1.0\n").is_err());
        assert!(resolve("[rules.cpu_high]\ntreshold = 1.0\n").is_err());
    }
}
