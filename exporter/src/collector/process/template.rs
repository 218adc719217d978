//! Group name templates, in the subset of Go's text/template that process-exporter's configs use:
//! literal text and `{{.Field}}` actions, where the field is one of `Comm`, `ExeBase`, `ExeFull`,
//! `Username`, `PID` or `Matches.<capture>` (a named group of a `cmdline` regex). Anything else in
//! `{{ }}` is refused when the configuration is read, not when a process is named.

use std::collections::HashMap;

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Comm,
    ExeBase,
    ExeFull,
    Username,
    Pid,
    Match(String),
}

/// A parsed name template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

/// What a template can refer to, for one process.
pub struct Fields<'a> {
    pub comm: &'a str,
    pub cmdline: &'a [String],
    pub username: &'a dyn Fn() -> String,
    pub pid: u32,
    pub matches: &'a HashMap<String, String>,
}

impl Fields<'_> {
    /// The executable's full path and base name as process-exporter takes them: the first
    /// argument of the command line, or the command name for a process without one.
    pub fn exe(&self) -> (&str, &str) {
        match self.cmdline.first() {
            Some(full) => (full.as_str(), base_name(full)),
            None => (self.comm, self.comm),
        }
    }
}

/// The last element of a path, as Go's `filepath.Base`: trailing slashes are dropped, an empty
/// path is `.` and a path of slashes is `/`.
pub fn base_name(path: &str) -> &str {
    if path.is_empty() {
        return ".";
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/";
    }
    match trimmed.rfind('/') {
        Some(i) => &trimmed[i + 1..],
        None => trimmed,
    }
}

impl Template {
    /// Parses `source`; the error says which action is not understood.
    pub fn parse(source: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = source;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_string()));
            }
            let after = &rest[open + 2..];
            let close = after
                .find("}}")
                .ok_or_else(|| format!("unclosed action in name template {source:?}"))?;
            let action = after[..close].trim();
            let part = match action {
                ".Comm" => Part::Comm,
                ".ExeBase" => Part::ExeBase,
                ".ExeFull" => Part::ExeFull,
                ".Username" => Part::Username,
                ".PID" => Part::Pid,
                _ => match action.strip_prefix(".Matches.") {
                    Some(name)
                        if !name.is_empty()
                            && name.chars().all(|c| c.is_alphanumeric() || c == '_') =>
                    {
                        Part::Match(name.to_string())
                    }
                    _ => {
                        return Err(format!(
                            "name template {source:?}: {{{{{action}}}}} is not supported (expected .Comm, .ExeBase, .ExeFull, .Username, .PID or .Matches.<name>)"
                        ))
                    }
                },
            };
            parts.push(part);
            rest = &after[close + 2..];
        }
        if rest.contains("}}") {
            return Err(format!(
                "name template {source:?}: \"}}}}\" without \"{{{{\""
            ));
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Template { parts })
    }

    /// Whether rendering needs the process's user name (looked up only then).
    pub fn uses_username(&self) -> bool {
        self.parts.contains(&Part::Username)
    }

    /// The group name of one process. A capture the regexes did not define renders as Go's
    /// templates render a missing map key, `<no value>`.
    pub fn render(&self, f: &Fields) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Comm => out.push_str(f.comm),
                Part::ExeBase => out.push_str(f.exe().1),
                Part::ExeFull => out.push_str(f.exe().0),
                Part::Username => out.push_str(&(f.username)()),
                Part::Pid => out.push_str(&f.pid.to_string()),
                Part::Match(name) => match f.matches.get(name) {
                    Some(v) => out.push_str(v),
                    None => out.push_str("<no value>"),
                },
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(t: &str, comm: &str, cmdline: &[&str], matches: &[(&str, &str)]) -> String {
        let cmdline: Vec<String> = cmdline.iter().map(|s| s.to_string()).collect();
        let matches: HashMap<String, String> = matches
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let user = || "postgres".to_string();
        Template::parse(t).unwrap().render(&Fields {
            comm,
            cmdline: &cmdline,
            username: &user,
            pid: 42,
            matches: &matches,
        })
    }

    #[test]
    fn renders_fields() {
        assert_eq!(render("{{.Comm}}", "bash", &["/bin/bash"], &[]), "bash");
        assert_eq!(
            render(
                "{{ .ExeBase }}:{{.ExeFull}}",
                "x",
                &["/usr/sbin/nginx", "-g"],
                &[]
            ),
            "nginx:/usr/sbin/nginx"
        );
        // A kernel thread has no command line: the executable is its command name.
        assert_eq!(render("{{.ExeBase}}", "kthreadd", &[], &[]), "kthreadd");
        assert_eq!(
            render(
                "pg-{{.Matches.db}}-{{.Username}}-{{.PID}}",
                "postgres",
                &[],
                &[("db", "main")]
            ),
            "pg-main-postgres-42"
        );
        assert_eq!(render("{{.Matches.none}}", "x", &[], &[]), "<no value>");
        assert_eq!(render("static", "x", &[], &[]), "static");
    }

    #[test]
    fn refuses_unknown_actions() {
        assert!(Template::parse("{{.Cwd}}")
            .unwrap_err()
            .contains("not supported"));
        assert!(Template::parse("{{.Comm").unwrap_err().contains("unclosed"));
        assert!(Template::parse("a}}").is_err());
        assert!(Template::parse("{{.Matches.}}").is_err());
        assert!(Template::parse("{{.Username}}").unwrap().uses_username());
    }

    #[test]
    fn base_name_as_go() {
        assert_eq!(base_name("/usr/bin/python3"), "python3");
        assert_eq!(base_name("python3"), "python3");
        assert_eq!(base_name("/usr/bin/"), "bin");
        assert_eq!(base_name(""), ".");
        assert_eq!(base_name("///"), "/");
    }
}
