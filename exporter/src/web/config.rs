//! `--web.config.file`: the Prometheus exporter-toolkit's YAML format, so one file serves
//! node_exporter and sysmon-exporter alike. Only the toolkit's keys are accepted; what rustls
//! cannot honour is refused with a message naming the key, never silently ignored.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// A web configuration file that cannot be used: names the file, the line when the YAML parser
/// gives one, and what was expected.
#[derive(Debug)]
pub struct WebConfigError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for WebConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file.display(), self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

impl std::error::Error for WebConfigError {}

/// The file as written (the toolkit's `Config`), every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub tls_server_config: Option<TlsServerConfig>,
    pub http_server_config: Option<HttpServerConfig>,
    pub basic_auth_users: Option<BTreeMap<String, String>>,
    pub rate_limit: Option<RateLimitConfig>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsServerConfig {
    /// Inline PEM certificate (instead of `cert_file`).
    pub cert: Option<String>,
    /// Inline PEM key (instead of `key_file`).
    pub key: Option<String>,
    /// Inline PEM client CA (instead of `client_ca_file`).
    pub client_ca: Option<String>,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub client_auth_type: Option<String>,
    pub client_ca_file: Option<PathBuf>,
    pub client_allowed_sans: Option<Vec<String>>,
    pub min_version: Option<String>,
    pub max_version: Option<String>,
    pub cipher_suites: Option<Vec<String>>,
    pub prefer_server_cipher_suites: Option<bool>,
    pub curve_preferences: Option<Vec<String>>,
}

impl TlsServerConfig {
    /// As the toolkit's `IsEnabled`: any TLS key set means TLS is wanted (and must be complete).
    fn is_enabled(&self) -> bool {
        let set = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.is_empty());
        let set_path =
            |p: &Option<PathBuf>| p.as_deref().is_some_and(|p| !p.as_os_str().is_empty());
        set(&self.cert)
            || set(&self.key)
            || set(&self.client_ca)
            || set_path(&self.cert_file)
            || set_path(&self.key_file)
            || set_path(&self.client_ca_file)
            || set(&self.client_auth_type)
    }
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpServerConfig {
    pub http2: Option<bool>,
    pub headers: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    pub interval: Option<String>,
    pub burst: Option<u32>,
}

/// The headers the toolkit lets a file add, with the values it accepts (empty: any value).
const ALLOWED_HEADERS: &[(&str, &[&str])] = &[
    ("Strict-Transport-Security", &[]),
    ("X-Content-Type-Options", &["nosniff"]),
    ("X-Frame-Options", &["deny", "sameorigin"]),
    ("X-XSS-Protection", &[]),
    ("Content-Security-Policy", &[]),
];

/// A checked web configuration: what the server needs, with paths resolved.
#[derive(Debug, Clone)]
pub struct WebConfig {
    pub file: PathBuf,
    /// TLS settings when the file enables TLS (paths made absolute against the file's folder).
    pub tls: Option<TlsServerConfig>,
    /// User name → bcrypt hash; empty: no authentication.
    pub users: BTreeMap<String, String>,
    /// Extra response headers, blank values dropped.
    pub headers: Vec<(String, String)>,
    pub http2: bool,
    /// Token bucket: one request per `interval`, bursts of `burst`.
    pub rate_limit: Option<(Duration, u32)>,
}

impl WebConfig {
    /// Reads and checks `file`. TLS certificates and keys are loaded by [`super::tls`].
    pub fn load(file: &Path) -> Result<WebConfig, WebConfigError> {
        let err = |line: Option<usize>, message: String| WebConfigError {
            file: file.to_path_buf(),
            line,
            message,
        };
        let text = std::fs::read_to_string(file)
            .map_err(|e| err(None, format!("cannot read the web configuration: {e}")))?;
        Self::parse(file, &text)
    }

    /// Checks the text of `file` (exposed for tests and fuzzing).
    pub fn parse(file: &Path, text: &str) -> Result<WebConfig, WebConfigError> {
        let err = |line: Option<usize>, message: String| WebConfigError {
            file: file.to_path_buf(),
            line,
            message,
        };
        // An empty file (or one of comments) is the toolkit's defaults: plain HTTP, no auth.
        let parsed: Option<FileConfig> = serde_yaml_ng::from_str(text)
            .map_err(|e| err(e.location().map(|l| l.line()), e.to_string()))?;
        let parsed = parsed.unwrap_or_default();
        let dir = file
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));

        let tls = match parsed.tls_server_config {
            Some(mut t) if t.is_enabled() => {
                for p in [&mut t.cert_file, &mut t.key_file, &mut t.client_ca_file] {
                    if let Some(path) = p.as_mut() {
                        if path.as_os_str().is_empty() {
                            *p = None;
                        } else if path.is_relative() {
                            *path = dir.join(&*path);
                        }
                    }
                }
                Some(t)
            }
            _ => None,
        };

        let mut users = BTreeMap::new();
        for (user, hash) in parsed.basic_auth_users.unwrap_or_default() {
            if let Err(e) = hash.parse::<bcrypt::HashParts>() {
                return Err(err(
                    None,
                    format!(
                        "basic_auth_users: the password of user {user:?} is not a bcrypt hash ({e}); \
                         make one with `htpasswd -nBC 10 \"\" | tr -d ':\\n'`"
                    ),
                ));
            }
            users.insert(user, hash);
        }

        let http = parsed.http_server_config.unwrap_or_default();
        let mut headers = Vec::new();
        for (name, value) in http.headers.unwrap_or_default() {
            let Some((_, allowed)) = ALLOWED_HEADERS.iter().find(|(n, _)| *n == name) else {
                return Err(err(
                    None,
                    format!(
                        "http_server_config.headers: HTTP header {name:?} can not be configured; \
                         expected one of {}",
                        ALLOWED_HEADERS
                            .iter()
                            .map(|(n, _)| *n)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            };
            if value.is_empty() {
                continue;
            }
            if !allowed.is_empty() && !allowed.contains(&value.as_str()) {
                return Err(err(
                    None,
                    format!(
                        "http_server_config.headers: invalid value for {name}: expected one of {allowed:?}, found {value:?}"
                    ),
                ));
            }
            if axum::http::HeaderValue::from_str(&value).is_err() {
                return Err(err(
                    None,
                    format!(
                        "http_server_config.headers: {name}: {value:?} is not a valid header value"
                    ),
                ));
            }
            headers.push((name, value));
        }

        let rate_limit = match parsed.rate_limit {
            None => None,
            Some(r) => {
                let interval = match r.interval.as_deref() {
                    None | Some("0") | Some("") => Duration::ZERO,
                    Some(s) => humantime::parse_duration(s).map_err(|e| {
                        err(None, format!("rate_limit.interval: expected a duration such as 1s, found {s:?} ({e})"))
                    })?,
                };
                if interval.is_zero() {
                    None
                } else {
                    Some((interval, r.burst.unwrap_or(0).max(1)))
                }
            }
        };

        Ok(WebConfig {
            file: file.to_path_buf(),
            tls,
            users,
            headers,
            http2: http.http2.unwrap_or(true),
            rate_limit,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<WebConfig, WebConfigError> {
        WebConfig::parse(Path::new("/etc/sysmon/web.yml"), text)
    }

    #[test]
    fn empty_file_is_plain_http_without_auth() {
        let c = parse("# nothing\n").unwrap();
        assert!(c.tls.is_none() && c.users.is_empty() && c.http2);
        let c = parse("tls_server_config:\nbasic_auth_users:\n").unwrap();
        assert!(c.tls.is_none() && c.users.is_empty());
    }

    #[test]
    fn relative_paths_resolve_against_the_file() {
        let c =
            parse("tls_server_config:\n  cert_file: tls/c.pem\n  key_file: /abs/k.pem\n").unwrap();
        let t = c.tls.unwrap();
        assert_eq!(t.cert_file.unwrap(), Path::new("/etc/sysmon/tls/c.pem"));
        assert_eq!(t.key_file.unwrap(), Path::new("/abs/k.pem"));
    }

    #[test]
    fn unknown_keys_are_errors_with_a_line() {
        let e = parse("tls_server_config:\n  cert_file: a\n  key_fil: b\n").unwrap_err();
        assert_eq!(e.line, Some(3), "{e}");
        assert!(e.to_string().starts_with("/etc/sysmon/web.yml:3: "), "{e}");
        assert!(e.message.contains("key_fil"), "{e}");
        assert!(parse("listen: x\n").is_err());
        assert!(parse("tls_server_config: [\n").is_err());
    }

    #[test]
    fn hashes_and_headers_are_checked() {
        let e = parse("basic_auth_users:\n  alice: secret\n").unwrap_err();
        assert!(
            e.message.contains("alice") && e.message.contains("bcrypt"),
            "{e}"
        );
        let ok = parse(
            "basic_auth_users:\n  alice: $2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi\n",
        )
        .unwrap();
        assert_eq!(ok.users.len(), 1);
        assert!(parse("http_server_config:\n  headers:\n    X-Frame-Options: allow\n").is_err());
        assert!(parse("http_server_config:\n  headers:\n    X-Powered-By: me\n").is_err());
        let h = parse("http_server_config:\n  http2: false\n  headers:\n    X-Frame-Options: deny\n    Content-Security-Policy: \"\"\n").unwrap();
        assert_eq!(
            h.headers,
            vec![("X-Frame-Options".to_string(), "deny".to_string())]
        );
        assert!(!h.http2);
    }

    #[test]
    fn rate_limit() {
        let c = parse("rate_limit:\n  interval: 1s\n  burst: 5\n").unwrap();
        assert_eq!(c.rate_limit, Some((Duration::from_secs(1), 5)));
        assert!(parse("rate_limit:\n  interval: 0\n")
            .unwrap()
            .rate_limit
            .is_none());
        assert!(parse("rate_limit:\n  interval: soon\n").is_err());
    }
}
