//! A small client of the Prometheus HTTP API (`/api/v1/...`).
//!
//! It knows only the endpoints sysmon-top needs (instant and range queries, series and label values)
//! and turns every way a server can fail into a [`PromError`] a person can read: a refused
//! connection, a timeout, Prometheus' own error JSON (a PromQL syntax error comes back with its
//! message), an HTML page (a login page, Grafana, a proxy) and anything else that is not the API.
//! It works against any server with the Prometheus HTTP API (Prometheus, Thanos, Mimir,
//! VictoriaMetrics), with basic auth, a bearer token and a custom CA.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::Url;
use serde_json::Value;

/// A series' labels, sorted by name (so printing is stable).
pub type Labels = BTreeMap<String, String>;

/// One sample of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: Labels,
    /// Unix time in seconds.
    pub t: f64,
    pub v: f64,
}

/// One series of a range vector (matrix).
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub labels: Labels,
    /// `(unix seconds, value)` in time order.
    pub points: Vec<(f64, f64)>,
}

/// The `data.result` of a query, by `resultType`.
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    Vector(Vec<Sample>),
    Matrix(Vec<Series>),
    /// `(time, value)`
    Scalar(f64, f64),
    /// `(time, value)`
    Str(f64, String),
}

/// A successful answer: the data plus what Prometheus said about it. A non-empty `warnings`
/// means the result may be partial (e.g. a Thanos store that did not answer).
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    pub data: Data,
    pub warnings: Vec<String>,
    pub infos: Vec<String>,
}

impl QueryResult {
    /// The samples of an instant vector; a scalar becomes one sample without labels; anything
    /// else is an error naming what came back.
    pub fn into_vector(self) -> Result<Vec<Sample>, PromError> {
        match self.data {
            Data::Vector(v) => Ok(v),
            Data::Scalar(t, v) => Ok(vec![Sample {
                labels: Labels::new(),
                t,
                v,
            }]),
            Data::Matrix(_) => Err(PromError::Decode {
                url: String::new(),
                reason: "expected an instant vector, got a range vector (matrix)".into(),
            }),
            Data::Str(_, _) => Err(PromError::Decode {
                url: String::new(),
                reason: "expected an instant vector, got a string".into(),
            }),
        }
    }

    /// The series of a range query.
    pub fn into_matrix(self) -> Result<Vec<Series>, PromError> {
        match self.data {
            Data::Matrix(m) => Ok(m),
            Data::Vector(v) => Ok(v
                .into_iter()
                .map(|s| Series {
                    labels: s.labels,
                    points: vec![(s.t, s.v)],
                })
                .collect()),
            _ => Err(PromError::Decode {
                url: String::new(),
                reason: "expected a range vector".into(),
            }),
        }
    }
}

/// Everything that can go wrong talking to Prometheus, worded for the person at the terminal.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PromError {
    #[error("invalid Prometheus URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("cannot connect to Prometheus at {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("Prometheus at {url} did not answer within {secs:.1} s")]
    Timeout { url: String, secs: f64 },
    /// Prometheus' own `{"status":"error","errorType":...,"error":...}`.
    #[error("Prometheus error ({error_type}): {message}")]
    Api {
        status: u16,
        error_type: String,
        message: String,
    },
    #[error("{url} answered with an HTML page (HTTP {status}), not the Prometheus HTTP API: is --prometheus the URL of Prometheus itself? Page starts: {snippet:?}")]
    Html {
        url: String,
        status: u16,
        snippet: String,
    },
    #[error(
        "{url} answered HTTP {status} with a body that is not Prometheus API JSON: {snippet:?}"
    )]
    NotJson {
        url: String,
        status: u16,
        snippet: String,
    },
    #[error("Prometheus at {url} refused the credentials (HTTP {status}): check --user/--password or --bearer-token")]
    Auth { url: String, status: u16 },
    #[error("unexpected answer from {url}: {reason}")]
    Decode { url: String, reason: String },
    #[error("cannot set up the HTTP client: {0}")]
    Setup(String),
}

impl PromError {
    /// True when the server could not be reached or did not speak the API at all, as opposed to
    /// rejecting one query. The collection task backs off on these.
    pub fn is_transport(&self) -> bool {
        !matches!(self, PromError::Api { .. } | PromError::Decode { .. })
    }
}

/// How to reach Prometheus.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub url: String,
    pub basic_auth: Option<(String, String)>,
    pub bearer_token: Option<String>,
    /// PEM bundle of extra root certificates.
    pub ca_pem: Option<Vec<u8>>,
    pub insecure_skip_verify: bool,
    /// Bound on one request, connection included.
    pub timeout: Duration,
}

impl ClientConfig {
    pub fn new(url: impl Into<String>) -> Self {
        ClientConfig {
            url: url.into(),
            basic_auth: None,
            bearer_token: None,
            ca_pem: None,
            insecure_skip_verify: false,
            timeout: Duration::from_secs(10),
        }
    }
}

/// Checks a Prometheus base URL: http or https, with a host. `localhost:9090` (no scheme) is the
/// common mistake and gets its own hint.
pub fn parse_base_url(url: &str) -> Result<Url, PromError> {
    let bad = |reason: &str| PromError::InvalidUrl {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    let trimmed = url.trim();
    if trimmed.is_empty() {
        return Err(bad("it is empty"));
    }
    let parsed = Url::parse(trimmed).map_err(|e| {
        if !trimmed.contains("://") {
            bad(&format!("{e}; it needs a scheme, e.g. http://{trimmed}"))
        } else {
            bad(&e.to_string())
        }
    })?;
    match parsed.scheme() {
        "http" | "https" => {}
        other => {
            return Err(bad(&format!(
                "the scheme must be http or https, not {other:?} (e.g. http://{trimmed})"
            )))
        }
    }
    if parsed.host_str().map(str::is_empty).unwrap_or(true) {
        return Err(bad("it has no host"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(bad("it must not have a query string or fragment"));
    }
    let mut base = parsed;
    // A path prefix (`http://host/prometheus`) is kept: join() needs the trailing slash.
    if !base.path().ends_with('/') {
        let p = format!("{}/", base.path());
        base.set_path(&p);
    }
    Ok(base)
}

/// A Prometheus HTTP API client. Cheap to clone (the connection pool is shared).
#[derive(Debug, Clone)]
pub struct PromClient {
    http: reqwest::Client,
    base: Url,
    basic_auth: Option<(String, String)>,
    bearer_token: Option<String>,
    timeout: Duration,
}

impl PromClient {
    pub fn new(cfg: &ClientConfig) -> Result<Self, PromError> {
        let base = parse_base_url(&cfg.url)?;
        let mut builder = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("sysmon-top/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(16);
        if let Some(pem) = &cfg.ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| PromError::Setup(format!("cannot read the CA file: {e}")))?;
            if certs.is_empty() {
                return Err(PromError::Setup(
                    "the CA file holds no PEM certificate".into(),
                ));
            }
            for c in certs {
                builder = builder.add_root_certificate(c);
            }
        }
        if cfg.insecure_skip_verify {
            builder = builder.danger_accept_invalid_certs(true);
        }
        let http = builder
            .build()
            .map_err(|e| PromError::Setup(error_chain(&e)))?;
        Ok(PromClient {
            http,
            base,
            basic_auth: cfg.basic_auth.clone(),
            bearer_token: cfg.bearer_token.clone(),
            timeout: cfg.timeout,
        })
    }

    /// The base URL, with a trailing slash.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// `GET /api/v1/query`: evaluates `expr` at `time` (now when `None`).
    pub async fn query(&self, expr: &str, time: Option<f64>) -> Result<QueryResult, PromError> {
        let mut params = vec![("query", expr.to_string())];
        if let Some(t) = time {
            params.push(("time", fmt_time(t)));
        }
        let v = self.get("api/v1/query", &params).await?;
        parse_query_answer(&v.0, v.1)
    }

    /// `GET /api/v1/query_range` from `start` to `end` (unix seconds) every `step` seconds.
    pub async fn query_range(
        &self,
        expr: &str,
        start: f64,
        end: f64,
        step: f64,
    ) -> Result<QueryResult, PromError> {
        let params = vec![
            ("query", expr.to_string()),
            ("start", fmt_time(start)),
            ("end", fmt_time(end)),
            ("step", fmt_time(step.max(0.001))),
        ];
        let v = self.get("api/v1/query_range", &params).await?;
        parse_query_answer(&v.0, v.1)
    }

    /// `GET /api/v1/series`: the label sets of the series matching `matcher`.
    pub async fn series(
        &self,
        matcher: &str,
        start: Option<f64>,
        end: Option<f64>,
    ) -> Result<(Vec<Labels>, Vec<String>), PromError> {
        let mut params = vec![("match[]", matcher.to_string())];
        if let Some(s) = start {
            params.push(("start", fmt_time(s)));
        }
        if let Some(e) = end {
            params.push(("end", fmt_time(e)));
        }
        let (v, url) = self.get("api/v1/series", &params).await?;
        let warnings = string_list(v.get("warnings"));
        let data = v
            .get("data")
            .and_then(Value::as_array)
            .ok_or_else(|| PromError::Decode {
                url: url.clone(),
                reason: "series answer without a data array".into(),
            })?;
        let mut out = Vec::with_capacity(data.len());
        for item in data {
            out.push(parse_labels(item).ok_or_else(|| PromError::Decode {
                url: url.clone(),
                reason: "a series is not a label object".into(),
            })?);
        }
        Ok((out, warnings))
    }

    /// `GET /api/v1/label/<name>/values`, optionally restricted to series matching `matcher`.
    pub async fn label_values(
        &self,
        name: &str,
        matcher: Option<&str>,
    ) -> Result<(Vec<String>, Vec<String>), PromError> {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(PromError::Decode {
                url: self.base.to_string(),
                reason: format!("{name:?} is not a valid label name"),
            });
        }
        let mut params = Vec::new();
        if let Some(m) = matcher {
            params.push(("match[]", m.to_string()));
        }
        let path = format!("api/v1/label/{name}/values");
        let (v, url) = self.get(&path, &params).await?;
        let warnings = string_list(v.get("warnings"));
        let data = v
            .get("data")
            .and_then(Value::as_array)
            .ok_or_else(|| PromError::Decode {
                url,
                reason: "label values answer without a data array".into(),
            })?;
        Ok((
            data.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect(),
            warnings,
        ))
    }

    /// `GET /api/v1/labels`: every label name the server knows.
    pub async fn label_names(&self) -> Result<(Vec<String>, Vec<String>), PromError> {
        let (v, url) = self.get("api/v1/labels", &[]).await?;
        let warnings = string_list(v.get("warnings"));
        let data = v
            .get("data")
            .and_then(Value::as_array)
            .ok_or_else(|| PromError::Decode {
                url,
                reason: "label names answer without a data array".into(),
            })?;
        Ok((
            data.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect(),
            warnings,
        ))
    }

    /// Sends one GET and returns the decoded success envelope (and the URL, for messages).
    async fn get(
        &self,
        path: &str,
        params: &[(&str, String)],
    ) -> Result<(Value, String), PromError> {
        let url = self.base.join(path).map_err(|e| PromError::InvalidUrl {
            url: self.base.to_string(),
            reason: e.to_string(),
        })?;
        let shown = url.to_string();
        let mut req = self.http.get(url).query(params);
        if let Some((user, pass)) = &self.basic_auth {
            req = req.basic_auth(user, Some(pass));
        }
        if let Some(token) = &self.bearer_token {
            req = req.bearer_auth(token);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| self.transport_error(&shown, &e))?;
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let body = resp
            .bytes()
            .await
            .map_err(|e| self.transport_error(&shown, &e))?;
        let value = decode_envelope(&shown, status, &content_type, &body)?;
        Ok((value, shown))
    }

    fn transport_error(&self, url: &str, e: &reqwest::Error) -> PromError {
        if e.is_timeout() {
            PromError::Timeout {
                url: url.to_string(),
                secs: self.timeout.as_secs_f64(),
            }
        } else {
            PromError::Connect {
                url: url.to_string(),
                reason: error_chain(e),
            }
        }
    }
}

/// The innermost causes of an error, joined: reqwest's top-level message ("error sending
/// request") says little, the OS error at the bottom ("Connection refused") says what happened.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let msg = s.to_string();
        if !parts.iter().any(|p| p.contains(&msg)) {
            parts.push(msg);
        }
        cur = s.source();
    }
    // Keep the most specific two.
    let n = parts.len();
    if n > 2 {
        parts[n - 2..].join(": ")
    } else {
        parts.join(": ")
    }
}

fn fmt_time(t: f64) -> String {
    let s = format!("{t:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut s: String = one_line.chars().take(120).collect();
    if one_line.chars().count() > 120 {
        s.push('…');
    }
    s
}

/// Turns an HTTP answer into the API's success envelope or the matching error.
pub fn decode_envelope(
    url: &str,
    status: u16,
    content_type: &str,
    body: &[u8],
) -> Result<Value, PromError> {
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .map(|i| body[i])
        .unwrap_or(b' ');
    let parsed: Option<Value> = if start == b'{' {
        serde_json::from_slice(body).ok()
    } else {
        None
    };
    let Some(v) = parsed.filter(|v| v.get("status").and_then(Value::as_str).is_some()) else {
        if status == 401 || status == 403 {
            return Err(PromError::Auth {
                url: url.to_string(),
                status,
            });
        }
        if content_type.contains("html") || start == b'<' {
            return Err(PromError::Html {
                url: url.to_string(),
                status,
                snippet: snippet(body),
            });
        }
        return Err(PromError::NotJson {
            url: url.to_string(),
            status,
            snippet: snippet(body),
        });
    };
    match v.get("status").and_then(Value::as_str) {
        Some("success") => Ok(v),
        Some("error") => Err(PromError::Api {
            status,
            error_type: v
                .get("errorType")
                .and_then(Value::as_str)
                .unwrap_or("unknown")
                .to_string(),
            message: v
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("(no message)")
                .to_string(),
        }),
        Some(other) => Err(PromError::Decode {
            url: url.to_string(),
            reason: format!("unknown status {other:?}"),
        }),
        None => unreachable!("filtered above"),
    }
}

fn string_list(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn parse_labels(v: &Value) -> Option<Labels> {
    let obj = v.as_object()?;
    Some(
        obj.iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
            .collect(),
    )
}

/// `[ <unix time>, "<value>" ]`; a native histogram sample (`"histogram": [t, {...}]`) is read
/// as its count so it is not lost silently.
fn parse_point(v: &Value) -> Option<(f64, f64)> {
    let a = v.as_array()?;
    let t = a.first()?.as_f64()?;
    let raw = a.get(1)?;
    let val = if let Some(s) = raw.as_str() {
        parse_float(s)?
    } else if let Some(obj) = raw.as_object() {
        obj.get("count")
            .and_then(Value::as_str)
            .and_then(parse_float)?
    } else {
        raw.as_f64()?
    };
    Some((t, val))
}

/// Prometheus writes `NaN`, `+Inf`, `-Inf` and Go floats.
pub fn parse_float(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

/// Reads the `data` of a query answer.
pub fn parse_query_answer(v: &Value, url: String) -> Result<QueryResult, PromError> {
    let bad = |reason: &str| PromError::Decode {
        url: url.clone(),
        reason: reason.to_string(),
    };
    let data = v.get("data").ok_or_else(|| bad("no data in the answer"))?;
    let rtype = data
        .get("resultType")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("no data.resultType"))?;
    let result = data.get("result").ok_or_else(|| bad("no data.result"))?;
    let parsed = match rtype {
        "vector" => {
            let items = result
                .as_array()
                .ok_or_else(|| bad("vector result is not an array"))?;
            let mut out = Vec::with_capacity(items.len());
            for it in items {
                let labels = it.get("metric").and_then(parse_labels).unwrap_or_default();
                let point = it
                    .get("value")
                    .or_else(|| it.get("histogram"))
                    .and_then(parse_point)
                    .ok_or_else(|| bad("a vector sample has no readable value"))?;
                out.push(Sample {
                    labels,
                    t: point.0,
                    v: point.1,
                });
            }
            Data::Vector(out)
        }
        "matrix" => {
            let items = result
                .as_array()
                .ok_or_else(|| bad("matrix result is not an array"))?;
            let mut out = Vec::with_capacity(items.len());
            for it in items {
                let labels = it.get("metric").and_then(parse_labels).unwrap_or_default();
                let mut points = Vec::new();
                for key in ["values", "histograms"] {
                    if let Some(arr) = it.get(key).and_then(Value::as_array) {
                        for p in arr {
                            points.push(
                                parse_point(p)
                                    .ok_or_else(|| bad("a matrix point is not readable"))?,
                            );
                        }
                    }
                }
                points.sort_by(|a, b| a.0.total_cmp(&b.0));
                out.push(Series { labels, points });
            }
            Data::Matrix(out)
        }
        "scalar" => {
            let (t, v) = parse_point(result).ok_or_else(|| bad("scalar result is not readable"))?;
            Data::Scalar(t, v)
        }
        "string" => {
            let a = result
                .as_array()
                .ok_or_else(|| bad("string result is not an array"))?;
            let t = a.first().and_then(Value::as_f64).unwrap_or(0.0);
            let s = a.get(1).and_then(Value::as_str).unwrap_or_default();
            Data::Str(t, s.to_string())
        }
        other => return Err(bad(&format!("unknown resultType {other:?}"))),
    };
    Ok(QueryResult {
        data: parsed,
        warnings: string_list(v.get("warnings")),
        infos: string_list(v.get("infos")),
    })
}

/// Formats labels the way Prometheus prints a series: `name{a="b", c="d"}`.
pub fn series_name(labels: &Labels) -> String {
    let name = labels.get("__name__").cloned().unwrap_or_default();
    let rest: Vec<String> = labels
        .iter()
        .filter(|(k, _)| k.as_str() != "__name__")
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect();
    if rest.is_empty() && !name.is_empty() {
        name
    } else {
        format!("{name}{{{}}}", rest.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(body: &str) -> Result<QueryResult, PromError> {
        let v = decode_envelope(
            "http://x/api/v1/query",
            200,
            "application/json",
            body.as_bytes(),
        )?;
        parse_query_answer(&v, "http://x/api/v1/query".into())
    }

    #[test]
    fn parses_a_vector_with_special_floats() {
        let r = answer(
            r#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"__name__":"up","instance":"a:1","job":"sysmon"},"value":[1700000000.5,"1"]},
            {"metric":{"instance":"b:1"},"value":[1700000000.5,"NaN"]},
            {"metric":{"instance":"c:1"},"value":[1700000000.5,"+Inf"]}]}}"#,
        )
        .unwrap();
        let Data::Vector(v) = r.data else {
            panic!("not a vector")
        };
        assert_eq!(v.len(), 3);
        assert_eq!(v[0].labels["instance"], "a:1");
        assert_eq!(v[0].v, 1.0);
        assert_eq!(v[0].t, 1700000000.5);
        assert!(v[1].v.is_nan());
        assert_eq!(v[2].v, f64::INFINITY);
        assert_eq!(
            series_name(&v[0].labels),
            r#"up{instance="a:1", job="sysmon"}"#
        );
    }

    #[test]
    fn parses_matrix_scalar_string_and_warnings() {
        let r = answer(
            r#"{"status":"success","warnings":["store x unavailable"],"data":{"resultType":"matrix","result":[
            {"metric":{"instance":"a"},"values":[[2,"3"],[1,"2.5"]]}]}}"#,
        )
        .unwrap();
        assert_eq!(r.warnings, vec!["store x unavailable".to_string()]);
        let m = r.into_matrix().unwrap();
        assert_eq!(m[0].points, vec![(1.0, 2.5), (2.0, 3.0)]);

        let r = answer(r#"{"status":"success","data":{"resultType":"scalar","result":[5,"42"]}}"#)
            .unwrap();
        assert_eq!(r.data, Data::Scalar(5.0, 42.0));
        let r = answer(r#"{"status":"success","data":{"resultType":"string","result":[5,"hi"]}}"#)
            .unwrap();
        assert_eq!(r.data, Data::Str(5.0, "hi".into()));
    }

    #[test]
    fn prometheus_error_json_is_an_api_error_with_its_message() {
        let body = r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:5: parse error: unexpected \")\""}"#;
        let e = decode_envelope("u", 400, "application/json", body.as_bytes()).unwrap_err();
        assert_eq!(
            e,
            PromError::Api {
                status: 400,
                error_type: "bad_data".into(),
                message: "invalid parameter \"query\": 1:5: parse error: unexpected \")\"".into()
            }
        );
        assert!(!e.is_transport());
        assert!(e.to_string().contains("parse error: unexpected"));
    }

    #[test]
    fn html_and_garbage_are_clear_errors() {
        let e = decode_envelope(
            "http://h/api/v1/query",
            200,
            "text/html; charset=utf-8",
            b"<!doctype html><html><title>Grafana</title>",
        )
        .unwrap_err();
        assert!(matches!(e, PromError::Html { status: 200, .. }));
        assert!(e.to_string().contains("HTML page"), "{e}");
        assert!(e.is_transport());
        let e = decode_envelope("u", 502, "text/plain", b"Bad Gateway").unwrap_err();
        assert!(matches!(e, PromError::NotJson { status: 502, .. }));
        let e = decode_envelope("u", 200, "application/json", b"{\"a\":1}").unwrap_err();
        assert!(matches!(e, PromError::NotJson { .. }));
        let e = decode_envelope("u", 401, "text/plain", b"Unauthorized").unwrap_err();
        assert!(matches!(e, PromError::Auth { status: 401, .. }));
    }

    #[test]
    fn base_urls_are_checked() {
        assert_eq!(
            parse_base_url("http://localhost:9090").unwrap().as_str(),
            "http://localhost:9090/"
        );
        assert_eq!(
            parse_base_url("https://h/prometheus").unwrap().as_str(),
            "https://h/prometheus/"
        );
        for bad in [
            "",
            "localhost:9090",
            "ftp://h",
            "http://",
            "not a url",
            "http://h/?q=1",
        ] {
            let e = parse_base_url(bad).unwrap_err();
            assert!(matches!(e, PromError::InvalidUrl { .. }), "{bad}: {e:?}");
        }
        let e = parse_base_url("localhost:9090").unwrap_err().to_string();
        assert!(e.contains("http://localhost:9090"), "{e}");
    }

    #[test]
    fn times_are_formatted_without_noise() {
        assert_eq!(fmt_time(1700000000.0), "1700000000");
        assert_eq!(fmt_time(1.5), "1.5");
        assert_eq!(fmt_time(0.25), "0.25");
    }
}
