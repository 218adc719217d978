//! The process groups' configuration: the `[process]` section of sysmon's TOML file, and
//! process-exporter's own YAML (`process_names:`) read with `--collector.process.config`, so an
//! existing process-exporter configuration moves over unchanged.
//!
//! A group rule has up to three matchers, all of which must match: `comm` (the command name, one
//! of a list), `exe` (the base name of the first argument, or its full path when the entry holds
//! a `/`), `cmdline` (regexes that must all match the arguments joined by spaces; their named
//! captures feed `{{.Matches.<name>}}`), and a `name` template (default `{{.ExeBase}}`). The first
//! rule that matches names the process; with no rules, every process is grouped by its command
//! name.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Duration;

use regex_lite::Regex;
use serde::Deserialize;
use toml::Spanned;

use super::template::{Fields, Template};
use crate::config_error::{line_col, parse_duration_value, ConfigError};

/// How many groups keep their own name unless the configuration says otherwise.
pub const DEFAULT_TOP_N: usize = 20;
/// How long a group that left the top N keeps its name.
pub const DEFAULT_HOLD: Duration = Duration::from_secs(300);
/// Resident memory must grow steadily over this long to count as a leak.
pub const DEFAULT_GROWTH_WINDOW: Duration = Duration::from_secs(3600);
pub const DEFAULT_GROWTH_MIN_R2: f64 = 0.9;

/// The resolved `[process]` settings (regexes and templates checked, kept as text so the settings
/// stay comparable; [`Namer::new`] compiles them).
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessSettings {
    /// Groups that keep their own name; the rest are summed into `other`. 0: no bound.
    pub top_n: usize,
    pub hold: Duration,
    /// The scan's own interval when longer than the slow interval (zero: every slow run).
    pub interval: Duration,
    /// Whether an unmatched process joins the group of its closest matched ancestor.
    pub children: bool,
    /// Whether a multi-threaded process's context switches and states are summed over its
    /// threads (`task/<tid>/status`), as process-exporter does.
    pub threads: bool,
    /// Whether `smaps_rollup` is read for the proportional memory types.
    pub smaps: bool,
    /// The window over which a group's resident memory must grow steadily for the
    /// `process_memory_growth` rule, and the least R² of that growth's straight-line fit.
    pub growth_window: Duration,
    pub growth_min_r2: f64,
    pub groups: Vec<GroupRule>,
}

impl Default for ProcessSettings {
    fn default() -> Self {
        ProcessSettings {
            top_n: DEFAULT_TOP_N,
            hold: DEFAULT_HOLD,
            interval: Duration::ZERO,
            children: true,
            threads: true,
            smaps: false,
            growth_window: DEFAULT_GROWTH_WINDOW,
            growth_min_r2: DEFAULT_GROWTH_MIN_R2,
            groups: Vec::new(),
        }
    }
}

/// One group rule, as written in either format. A matcher that is absent matches everything; an
/// empty list matches nothing (as in process-exporter).
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupRule {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub comm: Option<Vec<String>>,
    #[serde(default)]
    pub exe: Option<Vec<String>>,
    #[serde(default)]
    pub cmdline: Option<Vec<String>>,
}

/// The `[process]` section as written in the TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessSection {
    top_n: Option<Spanned<i64>>,
    hold: Option<Spanned<String>>,
    interval: Option<Spanned<String>>,
    children: Option<bool>,
    threads: Option<bool>,
    smaps: Option<bool>,
    growth_window: Option<Spanned<String>>,
    growth_min_r2: Option<Spanned<f64>>,
    #[serde(default)]
    groups: Vec<Spanned<GroupRule>>,
}

impl ProcessSection {
    pub fn resolve(&self, path: &Path, source: &str) -> Result<ProcessSettings, ConfigError> {
        let mut s = ProcessSettings::default();
        if let Some(v) = &self.top_n {
            let n = *v.get_ref();
            if !(0..=10_000).contains(&n) {
                return Err(ConfigError::at(
                    path,
                    source,
                    v.span().start,
                    format!("process.top_n: expected a number of groups between 0 (no bound) and 10000, found {n}"),
                ));
            }
            s.top_n = n as usize;
        }
        if let Some(v) = &self.hold {
            s.hold = parse_duration_value(path, source, v, "process.hold")?;
        }
        if let Some(v) = &self.interval {
            s.interval = parse_duration_value(path, source, v, "process.interval")?;
        }
        if let Some(v) = &self.growth_window {
            s.growth_window = parse_duration_value(path, source, v, "process.growth_window")?;
            if s.growth_window < Duration::from_secs(1) {
                return Err(ConfigError::at(
                    path,
                    source,
                    v.span().start,
                    "process.growth_window: expected a duration of at least 1s".to_string(),
                ));
            }
        }
        if let Some(v) = &self.growth_min_r2 {
            let r2 = *v.get_ref();
            if !(0.0..=1.0).contains(&r2) {
                return Err(ConfigError::at(
                    path,
                    source,
                    v.span().start,
                    format!("process.growth_min_r2: expected a number between 0 and 1, found {r2}"),
                ));
            }
            s.growth_min_r2 = r2;
        }
        s.children = self.children.unwrap_or(s.children);
        s.threads = self.threads.unwrap_or(s.threads);
        s.smaps = self.smaps.unwrap_or(s.smaps);
        for (i, group) in self.groups.iter().enumerate() {
            check_rule(group.get_ref()).map_err(|message| {
                ConfigError::at(
                    path,
                    source,
                    group.span().start,
                    format!("process.groups[{i}]: {message}"),
                )
            })?;
            s.groups.push(group.get_ref().clone());
        }
        Ok(s)
    }
}

/// process-exporter's YAML file.
#[derive(Deserialize)]
struct YamlFile {
    process_names: Vec<GroupRule>,
}

/// Reads process-exporter's YAML configuration; errors name the file and line.
pub fn load_yaml(path: &Path) -> Result<Vec<GroupRule>, ConfigError> {
    let source = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: path.to_path_buf(),
        line: 0,
        column: 0,
        message: format!("cannot read the process groups file: {e}"),
    })?;
    parse_yaml(path, &source)
}

/// [`load_yaml`] for text already in memory (`path` only names the file in errors).
pub fn parse_yaml(path: &Path, source: &str) -> Result<Vec<GroupRule>, ConfigError> {
    let file: YamlFile = serde_yaml_ng::from_str(source).map_err(|e| {
        let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
        ConfigError {
            file: path.to_path_buf(),
            line,
            column,
            message: format!(
                "expected process-exporter's format (process_names: a list of name, comm, exe, cmdline): {e}"
            ),
        }
    })?;
    for (i, rule) in file.process_names.iter().enumerate() {
        if let Err(message) = check_rule(rule) {
            // serde_yaml_ng keeps no spans: point at the first line that holds the offending
            // entry's regex or name, else at the list itself.
            let needle = rule
                .cmdline
                .iter()
                .flatten()
                .find(|c| Regex::new(c).is_err())
                .or(rule.name.as_ref())
                .map(String::as_str)
                .unwrap_or("process_names");
            let offset = source.find(needle).unwrap_or(0);
            let (line, column) = line_col(source, offset);
            return Err(ConfigError {
                file: path.to_path_buf(),
                line,
                column,
                message: format!("process_names[{i}]: {message}"),
            });
        }
    }
    Ok(file.process_names)
}

/// Checks what compiling a rule would check: at least one matcher, valid regexes and template.
fn check_rule(rule: &GroupRule) -> Result<(), String> {
    Rule::compile(rule).map(|_| ())
}

/// A compiled group rule.
#[derive(Debug)]
struct Rule {
    comm: Option<HashSet<String>>,
    /// Base name → the full path required, if the entry gave one.
    exe: Option<HashMap<String, Option<String>>>,
    cmdline: Option<Vec<Regex>>,
    template: Template,
}

impl Rule {
    fn compile(rule: &GroupRule) -> Result<Rule, String> {
        if rule.comm.is_none() && rule.exe.is_none() && rule.cmdline.is_none() {
            return Err("expected at least one of comm, exe or cmdline".to_string());
        }
        let cmdline = match &rule.cmdline {
            None => None,
            Some(patterns) => Some(
                patterns
                    .iter()
                    .map(|p| Regex::new(p).map_err(|e| format!("cmdline regex {p:?}: {e}")))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        let template = Template::parse(rule.name.as_deref().unwrap_or("{{.ExeBase}}"))?;
        Ok(Rule {
            comm: rule.comm.as_ref().map(|c| c.iter().cloned().collect()),
            exe: rule.exe.as_ref().map(|exes| {
                exes.iter()
                    .map(|e| match e.contains('/') {
                        true => (super::template::base_name(e).to_string(), Some(e.clone())),
                        false => (e.clone(), None),
                    })
                    .collect()
            }),
            cmdline,
            template,
        })
    }
}

/// What the namer looks at in one process.
pub struct Candidate<'a> {
    pub comm: &'a str,
    pub cmdline: &'a [String],
    pub pid: u32,
    /// The user name of the effective uid (looked up only when a template asks).
    pub username: &'a dyn Fn() -> String,
}

/// Names processes: the first matching rule's template, or the command name with no rules.
#[derive(Debug)]
pub struct Namer {
    rules: Vec<Rule>,
}

impl Namer {
    /// Compiles the rules (already checked when the configuration was read).
    pub fn new(rules: &[GroupRule]) -> Result<Namer, String> {
        Ok(Namer {
            rules: rules
                .iter()
                .enumerate()
                .map(|(i, r)| Rule::compile(r).map_err(|e| format!("process group {i}: {e}")))
                .collect::<Result<_, _>>()?,
        })
    }

    /// Whether every process gets a group of its own command name (no rules).
    pub fn by_comm(&self) -> bool {
        self.rules.is_empty()
    }

    /// The group of a process, or `None` when no rule matches it.
    pub fn name(&self, p: &Candidate) -> Option<String> {
        if self.rules.is_empty() {
            return Some(p.comm.to_string());
        }
        let mut joined: Option<String> = None;
        'rules: for rule in &self.rules {
            if let Some(comms) = &rule.comm {
                if !comms.contains(p.comm) {
                    continue;
                }
            }
            if let Some(exes) = &rule.exe {
                let Some(first) = p.cmdline.first() else {
                    continue;
                };
                match exes.get(super::template::base_name(first)) {
                    None => continue,
                    Some(Some(full)) if full != first => continue,
                    Some(_) => {}
                }
            }
            let mut matches = HashMap::new();
            if let Some(regexes) = &rule.cmdline {
                let text = joined.get_or_insert_with(|| p.cmdline.join(" "));
                for regex in regexes {
                    let Some(caps) = regex.captures(text) else {
                        continue 'rules;
                    };
                    for name in regex.capture_names().flatten() {
                        let value = caps.name(name).map_or("", |m| m.as_str());
                        matches.insert(name.to_string(), value.to_string());
                    }
                }
            }
            return Some(rule.template.render(&Fields {
                comm: p.comm,
                cmdline: p.cmdline,
                username: p.username,
                pid: p.pid,
                matches: &matches,
            }));
        }
        None
    }

    /// Whether some rule's template needs user names.
    pub fn uses_username(&self) -> bool {
        self.rules.iter().any(|r| r.template.uses_username())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(namer: &Namer, comm: &str, cmdline: &[&str]) -> Option<String> {
        let cmdline: Vec<String> = cmdline.iter().map(|s| s.to_string()).collect();
        namer.name(&Candidate {
            comm,
            cmdline: &cmdline,
            pid: 7,
            username: &|| "root".to_string(),
        })
    }

    const YAML: &str = r#"
process_names:
  - comm: [postgres]
  - name: "{{.Matches.app}}"
    cmdline:
      - 'java .*-jar (?P<app>[a-z]+)\.jar'
  - exe: [/usr/sbin/nginx]
    name: "web:{{.ExeBase}}"
  - exe: [sshd]
  - name: "{{.Comm}}"
    cmdline: ['.+']
"#;

    #[test]
    fn first_match_wins_with_each_matcher() {
        let rules = parse_yaml(Path::new("pe.yml"), YAML).unwrap();
        assert_eq!(rules.len(), 5);
        let namer = Namer::new(&rules).unwrap();
        assert_eq!(
            name(&namer, "postgres", &["postgres: checkpointer"]).as_deref(),
            Some("postgres: checkpointer")
        );
        assert_eq!(
            name(
                &namer,
                "java",
                &["/usr/bin/java", "-Xmx1g", "-jar", "billing.jar"]
            )
            .as_deref(),
            Some("billing")
        );
        assert_eq!(
            name(&namer, "nginx", &["/usr/sbin/nginx", "-g"]).as_deref(),
            Some("web:nginx")
        );
        // exe with a path requires that path; the catch-all names it by comm.
        assert_eq!(
            name(&namer, "nginx", &["/opt/nginx", "-g"]).as_deref(),
            Some("nginx")
        );
        assert_eq!(
            name(&namer, "sshd", &["/usr/sbin/sshd", "-D"]).as_deref(),
            Some("sshd")
        );
        // A kernel thread has no command line: only comm can match it.
        assert_eq!(name(&namer, "kworker/0:1", &[]), None);
        assert!(Namer::new(&[]).unwrap().by_comm());
        assert_eq!(
            name(&Namer::new(&[]).unwrap(), "kworker/0:1", &[]).as_deref(),
            Some("kworker/0:1")
        );
    }

    #[test]
    fn yaml_errors_name_the_line() {
        let bad = "process_names:\n  - name: x\n    cmdline: ['(unclosed']\n";
        let e = parse_yaml(Path::new("pe.yml"), bad).unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert!(e.message.contains("cmdline regex"), "{e}");
        let none = "process_names:\n  - name: x\n";
        let e = parse_yaml(Path::new("pe.yml"), none).unwrap_err();
        assert!(e.message.contains("at least one of"), "{e}");
        let typo = "process_names:\n  - comm: [a]\n    cmdlines: [b]\n";
        let e = parse_yaml(Path::new("pe.yml"), typo).unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        let tmpl = "process_names:\n  - comm: [a]\n    name: '{{.Cwd}}'\n";
        let e = parse_yaml(Path::new("pe.yml"), tmpl).unwrap_err();
        assert!(e.message.contains("not supported"), "{e}");
    }

    #[test]
    fn toml_section_and_errors_with_lines() {
        use crate::config::{parse_str, Overrides};
        let path = Path::new("sysmon.toml");
        let text = "[process]\ntop_n = 5\nhold = \"1m\"\ninterval = \"1m\"\nchildren = false\n\n[[process.groups]]\nname = \"db-{{.Matches.db}}\"\ncmdline = ['postgres: \\w+ (?P<db>\\w+)']\n\n[[process.groups]]\ncomm = [\"nginx\"]\n";
        let s = parse_str(path, text, &Overrides::default())
            .unwrap()
            .process;
        assert_eq!(
            (s.top_n, s.hold, s.interval, s.children),
            (5, Duration::from_secs(60), Duration::from_secs(60), false)
        );
        assert_eq!(s.groups.len(), 2);
        assert!(Namer::new(&s.groups).is_ok());
        let bad = "[process]\n\n[[process.groups]]\nname = \"x\"\ncmdline = ['(']\n";
        let e = parse_str(path, bad, &Overrides::default()).unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert!(e.message.contains("cmdline regex"), "{e}");
        let e = parse_str(path, "[process]\ntop_n = -1\n", &Overrides::default()).unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        let e = parse_str(path, "[process]\ntopn = 1\n", &Overrides::default()).unwrap_err();
        assert!(e.message.contains("unknown field"), "{e}");
    }
}
