//! The `[rules.*]` sections of the configuration file. Each section is keyed by a rule's name
//! (`[rules.cpu_high]`) or by a family's shared section (`[rules.adaptive]`), both checked against
//! [`FAMILIES`]: an unknown name is an error naming the known ones. Every value is checked against
//! the rule's valid range, with the file's line in every error.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::adaptive::Params;
use super::event::Severity;
pub use super::rules::RulesConfig;
use super::rules::{adaptive, Family, RuleSpec, ThresholdRule, FAMILIES};
use crate::config_error::{parse_duration_value, ConfigError};

/// `[rules]` as written in the file: sections by name, every one and every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(transparent)]
pub struct RulesSection(BTreeMap<Spanned<String>, RuleSection>);

/// `[rules.<name>]`: the keys any section may have; which ones a section takes depends on what
/// it names (a threshold rule, a rule that decides itself, a family's shared section).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSection {
    enabled: Option<Spanned<bool>>,
    threshold: Option<Spanned<f64>>,
    severity: Option<Spanned<String>>,
    #[serde(rename = "for")]
    hold: Option<Spanned<String>>,
    clear_margin: Option<Spanned<f64>>,
    clear_for: Option<Spanned<String>>,
    /// `[rules.adaptive.detector]`: the adaptive detectors' parameters.
    detector: Option<Spanned<Params>>,
}

/// What a section's name refers to.
enum Target {
    /// `[rules.<rule>]`.
    Rule(&'static Family, &'static RuleSpec),
    /// `[rules.<family section>]`: every rule of the family.
    Family(&'static Family),
}

fn target(name: &str) -> Option<Target> {
    FAMILIES.iter().find_map(|f| {
        if f.section == Some(name) {
            return Some(Target::Family(f));
        }
        f.rules
            .iter()
            .find(|r| r.name == name)
            .map(|r| Target::Rule(f, r))
    })
}

/// The section names the file may use, for the error about an unknown one.
fn known_sections() -> String {
    let mut names: Vec<String> = Vec::new();
    for f in FAMILIES {
        names.extend(f.rules.iter().map(|r| r.name.to_string()));
        if let Some(section) = f.section {
            names.push(format!("{section} (every {section}_* rule)"));
        }
    }
    names.join(", ")
}

/// Where in the file, for errors.
struct Source<'a> {
    file: &'a Path,
    text: &'a str,
}

impl Source<'_> {
    fn error<T>(&self, at: &Spanned<T>, message: String) -> ConfigError {
        ConfigError::at(self.file, self.text, at.span().start, message)
    }
}

impl RulesSection {
    /// Applies the file's values over the defaults and checks them. Shared family sections apply
    /// first, so a rule's own section overrides its family's whatever their order in the file.
    pub fn resolve(&self, file: &Path, source: &str) -> Result<RulesConfig, ConfigError> {
        let src = Source { file, text: source };
        let mut config = RulesConfig::default();
        let mut families = Vec::new();
        let mut rules = Vec::new();
        for (name, section) in &self.0 {
            match target(name.get_ref()) {
                Some(Target::Family(f)) => families.push((name, f, section)),
                Some(Target::Rule(f, r)) => rules.push((name, f, r, section)),
                None => {
                    return Err(src.error(
                        name,
                        format!(
                            "rules.{}: unknown rule; expected one of {}",
                            name.get_ref(),
                            known_sections()
                        ),
                    ))
                }
            }
        }
        for (name, family, section) in families {
            let key = format!("rules.{}", name.get_ref());
            section.only(&src, &key, &["enabled", "clear_for", "detector"])?;
            for spec in family.rules {
                let rule = config
                    .threshold
                    .get_mut(spec.name)
                    .expect("defaults hold every rule");
                section.apply_enabled_and_clear(&src, &key, rule)?;
            }
            if let Some(p) = &section.detector {
                if family.section != Some(adaptive::SECTION) {
                    return Err(src.error(
                        p,
                        format!(
                            "{key}.detector: only [rules.{}] takes detector parameters",
                            adaptive::SECTION
                        ),
                    ));
                }
                p.get_ref()
                    .validate()
                    .map_err(|message| src.error(p, message))?;
                config.adaptive = p.get_ref().clone();
            }
        }
        for (name, family, spec, section) in rules {
            let key = format!("rules.{}", name.get_ref());
            let rule = config
                .threshold
                .get_mut(spec.name)
                .expect("defaults hold every rule");
            if family.decides {
                section.only(&src, &key, &["enabled", "clear_for"])?;
            } else {
                section.only(
                    &src,
                    &key,
                    &[
                        "enabled",
                        "threshold",
                        "severity",
                        "for",
                        "clear_margin",
                        "clear_for",
                    ],
                )?;
            }
            section.apply_enabled_and_clear(&src, &key, rule)?;
            section.apply_threshold_keys(&src, &key, spec, rule)?;
        }
        Ok(config)
    }
}

impl RuleSection {
    /// The keys present, with where each is.
    fn present(&self) -> Vec<(&'static str, usize)> {
        let mut out = Vec::new();
        let mut add = |key, span: Option<std::ops::Range<usize>>| {
            if let Some(s) = span {
                out.push((key, s.start));
            }
        };
        add("enabled", self.enabled.as_ref().map(Spanned::span));
        add("threshold", self.threshold.as_ref().map(Spanned::span));
        add("severity", self.severity.as_ref().map(Spanned::span));
        add("for", self.hold.as_ref().map(Spanned::span));
        add(
            "clear_margin",
            self.clear_margin.as_ref().map(Spanned::span),
        );
        add("clear_for", self.clear_for.as_ref().map(Spanned::span));
        add("detector", self.detector.as_ref().map(Spanned::span));
        out
    }

    /// Rejects a key this section does not take, naming those it does.
    fn only(&self, src: &Source, key: &str, allowed: &[&str]) -> Result<(), ConfigError> {
        match self
            .present()
            .into_iter()
            .find(|(k, _)| !allowed.contains(k))
        {
            None => Ok(()),
            Some((k, at)) => Err(ConfigError::at(
                src.file,
                src.text,
                at,
                format!("{key}.{k}: this section takes only {}", allowed.join(", ")),
            )),
        }
    }

    fn apply_enabled_and_clear(
        &self,
        src: &Source,
        key: &str,
        rule: &mut ThresholdRule,
    ) -> Result<(), ConfigError> {
        if let Some(e) = &self.enabled {
            rule.enabled = *e.get_ref();
        }
        if let Some(d) = &self.clear_for {
            rule.clear_hold = duration(src, d, &format!("{key}.clear_for"))?;
        }
        Ok(())
    }

    fn apply_threshold_keys(
        &self,
        src: &Source,
        key: &str,
        spec: &RuleSpec,
        rule: &mut ThresholdRule,
    ) -> Result<(), ConfigError> {
        if let Some(t) = &self.threshold {
            let (lo, hi) = spec.range;
            let v = *t.get_ref();
            if !(lo..=hi).contains(&v) {
                return Err(src.error(
                    t,
                    format!("{key}.threshold: expected a number between {lo} and {hi}, found {v}"),
                ));
            }
            rule.threshold = v;
        }
        if let Some(s) = &self.severity {
            rule.severity = Severity::parse(s.get_ref()).ok_or_else(|| {
                src.error(
                    s,
                    format!(
                        "{key}.severity: expected \"info\", \"warning\" or \"critical\", found {:?}",
                        s.get_ref()
                    ),
                )
            })?;
        }
        if let Some(m) = &self.clear_margin {
            let v = *m.get_ref();
            if !v.is_finite() || v < 0.0 {
                return Err(src.error(
                    m,
                    format!("{key}.clear_margin: expected a number of at least 0, found {v}"),
                ));
            }
            rule.clear_margin = v;
        }
        if let Some(d) = &self.hold {
            rule.hold = duration(src, d, &format!("{key}.for"))?;
        }
        Ok(())
    }
}

const MAX_HOLD: Duration = Duration::from_secs(24 * 3600);

fn duration(src: &Source, v: &Spanned<String>, key: &str) -> Result<Duration, ConfigError> {
    let d = parse_duration_value(src.file, src.text, v, key)?;
    if d > MAX_HOLD {
        return Err(src.error(
            v,
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
        assert_eq!(c.threshold.len(), super::super::rules::all_specs().count());
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
            "[rules.adaptive]\nclear_for = \"2m\"\n[rules.adaptive.detector]\nbaseline_window = \"3d\"\nlevel_z = 6.0\nhost_signals = 3\n",
        )
        .unwrap();
        assert_eq!(c.adaptive.baseline_window, Duration::from_secs(3 * 86_400));
        assert_eq!(c.adaptive.level_z, 6.0);
        assert_eq!(c.adaptive.host_signals, 3);
        assert_eq!(c.adaptive.persistence, Params::default().persistence);
        assert_eq!(
            c.threshold["adaptive_memory"].clear_hold,
            Duration::from_secs(120)
        );
        let c = resolve("[rules.adaptive]\nenabled = false\n").unwrap();
        assert!(!c.threshold["adaptive_temperature"].enabled);
        assert!(c.threshold["cpu_high"].enabled);
        let e = resolve("[rules.adaptive]\n\n[rules.adaptive.detector]\nperiod = \"1s\"\n")
            .unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert!(e.message.contains("period"), "{e}");
        assert!(resolve("[rules.adaptive.detector]\nperiod = \"soon\"\n").is_err());
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
        assert!(resolve("[rules.cpu_high]\ntreshold = 1.0\n").is_err());
    }

    #[test]
    fn unknown_rule_names_line_and_every_known_name() {
        let e = resolve("[rules.cpu_high]\nthreshold = 80.0\n\n[rules.cpu_hgh]\nthreshold = 1.0\n")
            .unwrap_err();
        assert_eq!(e.line, 4, "{e}");
        assert!(
            e.message
                .starts_with("rules.cpu_hgh: unknown rule; expected one of "),
            "{e}"
        );
        for spec in crate::anomaly::rules::all_specs() {
            assert!(
                e.message.contains(spec.name),
                "{} missing from {e}",
                spec.name
            );
        }
        assert!(
            e.message.contains("adaptive (every adaptive_* rule)"),
            "{e}"
        );
        // Dotted keys are sections too.
        let e = resolve("[rules]\nmemory_hihg.enabled = false\n").unwrap_err();
        assert_eq!(e.line, 2, "{e}");
    }

    #[test]
    fn every_registered_rule_is_a_section() {
        for spec in crate::anomaly::rules::all_specs() {
            let c = resolve(&format!("[rules.{}]\nenabled = false\n", spec.name)).unwrap();
            assert!(!c.threshold[spec.name].enabled, "{}", spec.name);
            let others_on = c
                .threshold
                .iter()
                .filter(|(n, _)| **n != spec.name)
                .all(|(_, r)| r.enabled);
            assert!(others_on, "{} disabled others", spec.name);
        }
    }

    #[test]
    fn an_adaptive_rule_alone_takes_enabled_and_clear_for() {
        // The rule's own section overrides the family's, whatever the order in the file.
        let c = resolve(
            "[rules.adaptive_network]\nenabled = true\nclear_for = \"5m\"\n[rules.adaptive]\nenabled = false\n",
        )
        .unwrap();
        assert!(c.threshold["adaptive_network"].enabled);
        assert_eq!(
            c.threshold["adaptive_network"].clear_hold,
            Duration::from_secs(300)
        );
        assert!(!c.threshold["adaptive_cpu"].enabled);
        let e = resolve("[rules.adaptive_cpu]\n\nthreshold = 2.0\n").unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert!(
            e.message.contains(
                "rules.adaptive_cpu.threshold: this section takes only enabled, clear_for"
            ),
            "{e}"
        );
        let e = resolve("[rules.cpu_high.detector]\nlevel_z = 4.0\n").unwrap_err();
        assert!(e.message.contains("rules.cpu_high.detector"), "{e}");
        let e = resolve("[rules.adaptive]\nthreshold = 3.0\n").unwrap_err();
        assert!(
            e.message
                .contains("takes only enabled, clear_for, detector"),
            "{e}"
        );
    }
}
