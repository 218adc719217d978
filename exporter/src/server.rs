//! HTTP: `/metrics` (configurable) serves the latest snapshot, `/` is a landing page, `/health`
//! says whether the sampler is keeping up.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::{RawQuery, State};
use axum::http::header::{ACCEPT, ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_TYPE, VARY};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use tokio::sync::watch;

use crate::anomaly::{self, store::Store};
use crate::json_response::json_error;
use crate::metrics::Format;
use crate::sampler::{self, Snapshot};
use crate::self_metrics::VERSION;

#[derive(Clone)]
pub struct AppState {
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    pub interval: Duration,
    pub telemetry_path: String,
    /// Every collector the exporter knows (to tell "unknown" from "not enabled" in `collect[]`).
    pub known_collectors: Vec<&'static str>,
    /// The anomaly event store behind `/api/v1/anomalies` (none: those paths answer 404).
    pub anomalies: Option<Arc<Store>>,
}

impl AppState {
    fn latest(&self) -> Arc<Snapshot> {
        self.snapshots.borrow().clone()
    }

    /// The latest snapshot, but a scrape that arrives before the first sample is published
    /// waits for it (up to `wait`): a scrape of a starting exporter then carries every collector,
    /// as node_exporter's do, instead of an empty body that looks like a host without metrics.
    async fn first_sample(&self, wait: Duration) -> Arc<Snapshot> {
        let latest = self.latest();
        if !latest.is_initial() {
            return latest; // every scrape but those of the first seconds
        }
        let mut rx = self.snapshots.clone();
        let published = rx.wait_for(|snap| !snap.is_initial());
        let first = match tokio::time::timeout(wait, published).await {
            Ok(Ok(snap)) => Some(snap.clone()),
            // The sampler stopped, or the wait ran out: serve what there is.
            _ => None,
        };
        first.unwrap_or_else(|| self.latest())
    }
}

/// How long a scrape waits for the first sample: most of the scrape timeout Prometheus sends
/// (`X-Prometheus-Scrape-Timeout-Seconds`), or Prometheus' default 10 s without one.
fn first_sample_wait(headers: &HeaderMap) -> Duration {
    headers
        .get("x-prometheus-scrape-timeout-seconds")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|secs| secs.is_finite() && *secs > 0.0)
        .map(|secs| Duration::from_secs_f64((secs * 0.9).min(60.0)))
        .unwrap_or(Duration::from_secs(10))
}

pub fn router(state: AppState) -> Router {
    let mut router = Router::new()
        .route("/", get(landing))
        .route("/health", get(health))
        .route(&state.telemetry_path.clone(), get(metrics));
    if let Some(store) = &state.anomalies {
        router = router.merge(anomaly::api::routes(Arc::clone(store)));
    }
    router.fallback(not_found).with_state(state)
}

async fn not_found() -> Response {
    json_error(StatusCode::NOT_FOUND, "no such endpoint".to_string())
}

/// Picks the exposition format from `Accept`: OpenMetrics when the client lists it (Prometheus
/// does, with a higher preference than text), text 0.0.4 otherwise.
pub fn negotiate(accept: Option<&HeaderValue>) -> Format {
    let Some(accept) = accept.and_then(|v| v.to_str().ok()) else {
        return Format::Text;
    };
    let mut best = (Format::Text, -1.0_f32);
    for part in accept.split(',') {
        let mut params = part.split(';').map(str::trim);
        let media = params.next().unwrap_or("");
        let q = params
            .find_map(|p| p.strip_prefix("q="))
            .and_then(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        let format = match media {
            "application/openmetrics-text" => Format::OpenMetrics,
            "text/plain" | "*/*" | "text/*" => Format::Text,
            _ => continue,
        };
        if q > 0.0 && q > best.1 {
            best = (format, q);
        }
    }
    best.0
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|enc| {
            let mut parts = enc.split(';').map(str::trim);
            parts.next() == Some("gzip") && !parts.any(|p| p == "q=0" || p == "q=0.0")
        })
}

/// Which collectors a request wants, from node_exporter's `collect[]` / `exclude[]` parameters.
#[derive(Debug, PartialEq)]
enum Filter {
    All,
    Only(Vec<String>),
    Except(Vec<String>),
}

fn parse_filter(query: Option<&str>, state: &AppState, enabled: &[&str]) -> Result<Filter, String> {
    let mut collect = Vec::new();
    let mut exclude = Vec::new();
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "collect[]" => collect.push(value.into_owned()),
            "exclude[]" => exclude.push(value.into_owned()),
            other => {
                return Err(format!(
                    "unknown query parameter {other:?}; expected collect[] or exclude[]"
                ))
            }
        }
    }
    if !collect.is_empty() && !exclude.is_empty() {
        return Err("collect[] and exclude[] cannot be combined in one request".to_string());
    }
    for name in collect.iter().chain(&exclude) {
        if !state.known_collectors.contains(&name.as_str()) {
            return Err(format!(
                "unknown collector {name:?}; known collectors: {}",
                state.known_collectors.join(", ")
            ));
        }
        if !enabled.contains(&name.as_str()) {
            return Err(format!(
                "collector {name:?} is not enabled on this exporter"
            ));
        }
    }
    Ok(if !collect.is_empty() {
        Filter::Only(collect)
    } else if !exclude.is_empty() {
        Filter::Except(exclude)
    } else {
        Filter::All
    })
}

async fn metrics(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let snap = state.first_sample(first_sample_wait(&headers)).await;
    let enabled: Vec<&str> = snap.collectors.iter().map(|c| c.name).collect();
    let filter = match parse_filter(query.as_deref(), &state, &enabled) {
        Ok(f) => f,
        Err(message) => return json_error(StatusCode::BAD_REQUEST, message),
    };
    let format = negotiate(headers.get(ACCEPT));
    let gzip = accepts_gzip(&headers);
    let body: Bytes = match (&filter, gzip) {
        (Filter::All, false) => snap.body(format),
        (Filter::All, true) => snap.body_gzip(format),
        (filter, gz) => {
            let text = snap
                .render(format, |name| match filter {
                    Filter::Only(names) => names.iter().any(|n| n == name),
                    Filter::Except(names) => !names.iter().any(|n| n == name),
                    Filter::All => true,
                })
                .into_bytes();
            if gz {
                Bytes::from(sampler::gzip(&text))
            } else {
                Bytes::from(text)
            }
        }
    };
    let mut response = (StatusCode::OK, body).into_response();
    let h = response.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    h.insert(VARY, HeaderValue::from_static("Accept, Accept-Encoding"));
    if gzip {
        h.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response
}

/// 200 while the sampler publishes on time; 503 once it has missed three intervals.
async fn health(State(state): State<AppState>) -> Response {
    let snap = state.latest();
    let age = snap.published.elapsed();
    let fresh = age <= state.interval * 3;
    let failed: Vec<&str> = snap
        .collectors
        .iter()
        .filter(|c| !c.success)
        .map(|c| c.name)
        .collect();
    let body = serde_json::json!({
        "status": if fresh { "ok" } else { "stale" },
        "version": VERSION,
        "last_sample": humantime::format_rfc3339_millis(snap.taken_at).to_string(),
        "last_sample_age_seconds": age.as_secs_f64(),
        "interval_seconds": state.interval.as_secs_f64(),
        "sample_duration_seconds": snap.cycle_duration.as_secs_f64(),
        "collectors": snap.collectors.len(),
        "failed_collectors": failed,
    });
    let status = if fresh {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        [(CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn landing(State(state): State<AppState>) -> Html<String> {
    let snap = state.latest();
    let mut rows = String::new();
    for c in &snap.collectors {
        let last = match c.last_success {
            Some(t) => html_escape(&httpdate::fmt_http_date(t)),
            None => "never".to_string(),
        };
        let status = match &c.error {
            None => "ok".to_string(),
            Some(e) => format!("failed: {}", html_escape(e)),
        };
        let cpu = snap
            .cpu
            .collectors
            .iter()
            .find(|(name, _)| *name == c.name)
            .map_or(0.0, |(_, spent)| spent.as_secs_f64());
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{last}</td><td>{:.3} ms</td><td>{cpu:.3} s</td></tr>\n",
            c.name,
            status,
            c.duration.as_secs_f64() * 1000.0
        ));
    }
    let path = html_escape(&state.telemetry_path);
    let sampled = match snap.taken_at.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(_) if !snap.collectors.is_empty() => httpdate::fmt_http_date(snap.taken_at),
        _ => "not yet".to_string(),
    };
    Html(format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>sysmon-exporter</title>\n\
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:left}}</style></head>\n\
<body><h1>sysmon-exporter</h1>\n<p>Version {VERSION}. Sampling every {interval}; last sample {sampled} took {cycle:.3} ms.</p>\n\
<p><a href=\"{path}\">Metrics</a> · <a href=\"/health\">Health</a> · <a href=\"/api/v1/anomalies?state=active\">Active anomalies</a> · <a href=\"/api/v1/anomalies/rank\">Most anomalous signals (last hour)</a></p>\n\
<table><thead><tr><th>Collector</th><th>Status</th><th>Last success</th><th>Duration</th><th>CPU since start</th></tr></thead><tbody>\n{rows}</tbody></table>\n</body></html>\n",
        interval = humantime::format_duration(state.interval),
        cycle = snap.cycle_duration.as_secs_f64() * 1000.0,
    ))
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> AppState {
        let (_tx, rx) = watch::channel(Arc::new(Snapshot::empty()));
        AppState {
            snapshots: rx,
            interval: Duration::from_secs(2),
            telemetry_path: "/metrics".into(),
            known_collectors: vec!["cpu", "meminfo", "hwmon"],
            anomalies: None,
        }
    }

    #[tokio::test]
    async fn health_turns_503_after_three_missed_intervals() {
        let mut s = state();
        s.interval = Duration::from_millis(20);
        let fresh = health(State(s.clone())).await;
        assert_eq!(fresh.status(), StatusCode::OK);
        tokio::time::sleep(Duration::from_millis(80)).await;
        let stale = health(State(s)).await;
        assert_eq!(stale.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            stale.headers().get(CONTENT_TYPE).unwrap(),
            HeaderValue::from_static("application/json")
        );
    }

    #[tokio::test]
    async fn a_scrape_before_the_first_sample_waits_for_it() {
        let (tx, rx) = watch::channel(Arc::new(Snapshot::empty()));
        let mut s = state();
        s.snapshots = rx;
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let mut first = Snapshot::empty();
            first.taken_at = SystemTime::now();
            tx.send(Arc::new(first)).unwrap();
            // Keep the sender until the scrape has seen the sample.
            tokio::time::sleep(Duration::from_secs(5)).await;
        });
        let snap = s.first_sample(Duration::from_secs(5)).await;
        assert!(!snap.is_initial(), "served the pre-sample snapshot");
    }

    #[tokio::test]
    async fn the_wait_for_the_first_sample_is_bounded() {
        let (_tx, rx) = watch::channel(Arc::new(Snapshot::empty()));
        let mut s = state();
        s.snapshots = rx;
        let snap = s.first_sample(Duration::from_millis(20)).await;
        assert!(snap.is_initial());
    }

    #[test]
    fn first_sample_wait_follows_the_scrape_timeout() {
        let mut h = HeaderMap::new();
        assert_eq!(first_sample_wait(&h), Duration::from_secs(10));
        h.insert(
            "X-Prometheus-Scrape-Timeout-Seconds",
            HeaderValue::from_static("5"),
        );
        assert_eq!(first_sample_wait(&h), Duration::from_millis(4500));
        for junk in ["-1", "NaN", "soon", "0"] {
            h.insert(
                "X-Prometheus-Scrape-Timeout-Seconds",
                HeaderValue::from_static(junk),
            );
            assert_eq!(first_sample_wait(&h), Duration::from_secs(10), "{junk}");
        }
    }

    #[test]
    fn accept_negotiation() {
        let h = |s: &'static str| HeaderValue::from_static(s);
        assert_eq!(negotiate(None), Format::Text);
        assert_eq!(negotiate(Some(&h("text/plain"))), Format::Text);
        assert_eq!(
            negotiate(Some(&h("application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4,*/*;q=0.1"))),
            Format::OpenMetrics
        );
        assert_eq!(
            negotiate(Some(&h(
                "application/openmetrics-text;q=0.2,text/plain;q=0.9"
            ))),
            Format::Text
        );
        assert_eq!(negotiate(Some(&h("application/json"))), Format::Text);
    }

    #[test]
    fn gzip_detection() {
        let mut h = HeaderMap::new();
        assert!(!accepts_gzip(&h));
        h.insert(
            ACCEPT_ENCODING,
            HeaderValue::from_static("deflate, gzip;q=1.0"),
        );
        assert!(accepts_gzip(&h));
        h.insert(ACCEPT_ENCODING, HeaderValue::from_static("gzip;q=0"));
        assert!(!accepts_gzip(&h));
    }

    #[test]
    fn collect_and_exclude_parameters() {
        let s = state();
        let enabled = ["cpu", "meminfo"];
        assert_eq!(parse_filter(None, &s, &enabled), Ok(Filter::All));
        assert_eq!(
            parse_filter(Some("collect[]=cpu&collect%5B%5D=meminfo"), &s, &enabled),
            Ok(Filter::Only(vec!["cpu".into(), "meminfo".into()]))
        );
        assert_eq!(
            parse_filter(Some("exclude[]=cpu"), &s, &enabled),
            Ok(Filter::Except(vec!["cpu".into()]))
        );
        assert!(parse_filter(Some("collect[]=nosuch"), &s, &enabled)
            .unwrap_err()
            .contains("unknown collector \"nosuch\""));
        assert!(parse_filter(Some("collect[]=hwmon"), &s, &enabled)
            .unwrap_err()
            .contains("not enabled"));
        assert!(parse_filter(Some("collect[]=cpu&exclude[]=meminfo"), &s, &enabled).is_err());
        assert!(parse_filter(Some("foo=bar"), &s, &enabled).is_err());
    }
}
