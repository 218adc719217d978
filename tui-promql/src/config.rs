//! The config file, `$XDG_CONFIG_HOME/sysmon-top/config.toml` (`~/.config/...` without
//! XDG_CONFIG_HOME, or `--config FILE`): named contexts (a Prometheus, its job, credentials by file
//! or environment variable, refresh) and saved queries for the query view. A file that does not
//! exist is no file; a file that does not parse, or names an unknown key, is an error naming the
//! file and the line.
//!
//! ```toml
//! context = "prod"            # the context used without --context
//!
//! [contexts.prod]
//! prometheus = "https://prom.example.com/prometheus"
//! job = "node"
//! refresh = "5s"
//! user = "ops"
//! password_file = "/home/ops/.config/sysmon-top/prod.pass"   # or password_env = "PROD_PASS"
//!
//! [contexts.lab]
//! prometheus = "http://lab:9090"
//! bearer_token_env = "LAB_TOKEN"
//!
//! [[queries]]
//! name = "busiest CPUs"
//! expr = "topk(5, instance:node_cpu_utilisation:rate5m)"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::fmt::parse_duration;

/// One named Prometheus to look at.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Context {
    pub prometheus: Option<String>,
    pub job: Option<String>,
    /// A duration (`2s`, `500ms`).
    pub refresh: Option<String>,
    pub timeout: Option<String>,
    pub user: Option<String>,
    pub password_file: Option<PathBuf>,
    /// Name of an environment variable holding the password.
    pub password_env: Option<String>,
    pub bearer_token_file: Option<PathBuf>,
    pub bearer_token_env: Option<String>,
    pub ca_file: Option<PathBuf>,
    pub insecure_skip_verify: Option<bool>,
}

/// A query kept for the query view.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedQuery {
    pub name: String,
    pub expr: String,
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The context used when `--context` is not given.
    pub context: Option<String>,
    #[serde(default)]
    pub contexts: BTreeMap<String, Context>,
    #[serde(default)]
    pub queries: Vec<SavedQuery>,
    /// Where it was read from (for messages).
    #[serde(skip)]
    pub path: Option<PathBuf>,
}

/// The default place of the file: `$XDG_CONFIG_HOME/sysmon-top/config.toml`, or
/// `$HOME/.config/sysmon-top/config.toml`.
pub fn default_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".config"))
        })?;
    Some(base.join("sysmon-top").join("config.toml"))
}

/// 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

impl Config {
    /// Parses the file's text; errors are `path:line: what`.
    pub fn parse(text: &str, path: &Path) -> Result<Config, String> {
        let mut cfg: Config = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(1);
            format!("{}:{line}: {}", path.display(), e.message())
        })?;
        cfg.path = Some(path.to_path_buf());
        cfg.check(text)?;
        Ok(cfg)
    }

    /// Reads the file at `path`; `Ok(None)` when it does not exist and was not asked for.
    pub fn load(path: &Path, explicit: bool) -> Result<Option<Config>, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => Config::parse(&text, path).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => Ok(None),
            Err(e) => Err(format!(
                "cannot read the config file {}: {e}",
                path.display()
            )),
        }
    }

    /// The number of the first line of `text` whose trimmed start satisfies `pred` (for errors
    /// found after parsing, which have no position of their own).
    fn line_with(text: &str, pred: impl Fn(&str) -> bool) -> usize {
        text.lines()
            .position(|l| pred(l.trim_start()))
            .map(|i| i + 1)
            .unwrap_or(1)
    }

    /// What serde cannot check: durations, the default context, saved queries, one password
    /// and one token source per context.
    fn check(&self, text: &str) -> Result<(), String> {
        let p = self.path.as_deref().unwrap_or(Path::new("config.toml"));
        let err = |line: usize, what: String| Err(format!("{}:{line}: {what}", p.display()));
        let section_line = |name: &str| {
            Self::line_with(text, |l| {
                l.starts_with("[contexts.")
                    && l.trim_start_matches("[contexts.")
                        .trim_start_matches('"')
                        .starts_with(name)
            })
        };
        for (name, c) in &self.contexts {
            let key_line = |key: &str| {
                let start = section_line(name);
                text.lines()
                    .enumerate()
                    .skip(start)
                    .take_while(|(_, l)| !l.trim_start().starts_with('['))
                    .find(|(_, l)| l.trim_start().starts_with(key))
                    .map(|(i, _)| i + 1)
                    .unwrap_or(start)
            };
            for (key, v) in [("refresh", &c.refresh), ("timeout", &c.timeout)] {
                if let Some(v) = v {
                    match parse_duration(v) {
                        Ok(d) if !d.is_zero() => {}
                        Ok(_) => {
                            return err(
                                key_line(key),
                                format!("context {name:?}: {key} must be more than 0"),
                            )
                        }
                        Err(e) => {
                            return err(
                                key_line(key),
                                format!(
                                    "context {name:?}: {key} {v:?} is not a duration ({e}); e.g. \"2s\""
                                ),
                            )
                        }
                    }
                }
            }
            if c.password_file.is_some() && c.password_env.is_some() {
                return err(
                    key_line("password_"),
                    format!(
                        "context {name:?}: give either password_file or password_env, not both"
                    ),
                );
            }
            if c.bearer_token_file.is_some() && c.bearer_token_env.is_some() {
                return err(
                    key_line("bearer_token_"),
                    format!("context {name:?}: give either bearer_token_file or bearer_token_env, not both"),
                );
            }
        }
        if let Some(d) = &self.context {
            if !self.contexts.contains_key(d) {
                return err(
                    Self::line_with(text, |l| l.starts_with("context")),
                    format!(
                        "the default context {d:?} is not defined (contexts: {})",
                        self.context_names().join(", ")
                    ),
                );
            }
        }
        for (i, q) in self.queries.iter().enumerate() {
            if q.expr.trim().is_empty() {
                let line = text
                    .lines()
                    .enumerate()
                    .filter(|(_, l)| l.trim_start().starts_with("[[queries]]"))
                    .nth(i)
                    .map(|(n, _)| n + 1)
                    .unwrap_or(1);
                return err(line, format!("saved query {:?} has an empty expr", q.name));
            }
        }
        Ok(())
    }

    pub fn context_names(&self) -> Vec<String> {
        self.contexts.keys().cloned().collect()
    }
}

impl Context {
    pub fn refresh(&self) -> Option<Duration> {
        self.refresh.as_deref().and_then(|s| parse_duration(s).ok())
    }

    pub fn timeout(&self) -> Option<Duration> {
        self.timeout.as_deref().and_then(|s| parse_duration(s).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
context = "prod"

[contexts.prod]
prometheus = "https://prom.example.com/prometheus"
job = "node"
refresh = "5s"
user = "ops"
password_env = "PROD_PASS"

[contexts.lab]
prometheus = "http://lab:9090"

[[queries]]
name = "busiest CPUs"
expr = "topk(5, instance:node_cpu_utilisation:rate5m)"
"#;

    #[test]
    fn a_good_file() {
        let c = Config::parse(GOOD, Path::new("/c.toml")).unwrap();
        assert_eq!(c.context.as_deref(), Some("prod"));
        assert_eq!(c.context_names(), ["lab", "prod"]);
        let p = &c.contexts["prod"];
        assert_eq!(p.refresh(), Some(Duration::from_secs(5)));
        assert_eq!(p.job.as_deref(), Some("node"));
        assert_eq!(c.queries[0].name, "busiest CPUs");
        assert_eq!(
            Config::parse("", Path::new("/c.toml"))
                .unwrap()
                .contexts
                .len(),
            0
        );
    }

    #[test]
    fn errors_name_the_file_and_the_line() {
        let bad = |text: &str| Config::parse(text, Path::new("/c.toml")).unwrap_err();
        let e = bad("[contexts.prod]\nprometheus = \"http://x\"\nprometeus = \"y\"\n");
        assert!(e.starts_with("/c.toml:3: unknown field `prometeus`"), "{e}");
        let e = bad("context = \"prod\"\n[contexts.lab]\nprometheus = \"http://x\"\n");
        assert!(
            e.starts_with("/c.toml:1: the default context \"prod\" is not defined"),
            "{e}"
        );
        let e = bad("[contexts.lab]\nprometheus = \"http://x\"\n\nrefresh = \"fast\"\n");
        assert!(
            e.starts_with("/c.toml:4: context \"lab\": refresh \"fast\" is not a duration"),
            "{e}"
        );
        let e = bad("[contexts.lab]\nprometheus = http://x\n");
        assert!(e.starts_with("/c.toml:2: "), "{e}");
        let e = bad("[contexts.a]\n[contexts.b]\npassword_file = \"/p\"\npassword_env = \"P\"\n");
        assert!(
            e.starts_with("/c.toml:3: context \"b\": give either"),
            "{e}"
        );
        let e = bad(
            "[[queries]]\nname = \"a\"\nexpr = \"up\"\n[[queries]]\nname = \"b\"\nexpr = \" \"\n",
        );
        assert!(
            e.starts_with("/c.toml:4: saved query \"b\" has an empty expr"),
            "{e}"
        );
        let e = bad("[[queries]]\nname = \"a\"\n");
        assert!(e.starts_with("/c.toml:1: missing field `expr`"), "{e}");
    }
}
