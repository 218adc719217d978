//! The JSON anomaly feed: the events of the [`Store`] over HTTP, and a live stream of their
//! starts and ends as Server-Sent Events. `docs/api.md` documents every endpoint.
//!
//! * `GET /api/v1/anomalies`: events, newest first, filtered by the query parameters.
//! * `GET /api/v1/anomalies/{id}`: one event.
//! * `GET /api/v1/anomalies/stream`: `event: started|resolved`, `id: <event id>`, `data: <event>`.
//! * `GET /api/v1/anomalies/rank`: the adaptive signals ranked by how anomalous they were over a
//!   time range, from the [`super::rank::ScoreHistory`].
//!
//! Successful responses are `{"status":"success","data":...}`; errors use the server's format
//! `{"status":"error","error":"..."}` and name the parameter and what was expected.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::sse::{self, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, TimeDelta, Utc};
use futures_util::stream::Stream;
use serde::Serialize;
use tokio::sync::broadcast::error::RecvError;

use super::event::{Severity, Transition};
use super::rank::RankedSignal;
use super::rules;
use super::store::{Query, StateFilter, Store};
use crate::json_response::{bad_request, json_error, json_success as success};

/// `limit` when the request gives none.
pub const DEFAULT_LIMIT: usize = 100;
/// The largest `limit` accepted.
pub const MAX_LIMIT: usize = 1000;
/// How often the stream sends a comment line, so proxies and clients see a live connection.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The feed's routes, with the store as their own state, to merge into the server's router.
pub fn routes<S>(store: Arc<Store>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/api/v1/anomalies", get(list))
        // A literal segment wins over `{id}` in axum's router, whatever the order.
        .route("/api/v1/anomalies/stream", get(stream))
        .route("/api/v1/anomalies/rank", get(rank))
        .route("/api/v1/anomalies/{id}", get(one))
        .with_state(store)
}

async fn list(State(store): State<Arc<Store>>, RawQuery(raw): RawQuery) -> Response {
    match parse_query(raw.as_deref()).and_then(|q| known_names(&store, q)) {
        Ok(q) => success(store.query(&q)),
        Err(message) => bad_request(message),
    }
}

/// Checks the `rule` and `category` filters against the registered rules (and the events held,
/// which may come from rules a newer version no longer has), so that a misspelt name is a 400
/// naming the known ones rather than an empty answer.
fn known_names(store: &Store, q: Query) -> Result<Query, String> {
    let unknown = |param: &str, name: &String, known: Vec<&'static str>| {
        let mut known = known;
        known.sort_unstable();
        known.dedup();
        format!(
            "{param}: unknown {param} {name:?}; expected one of {}",
            known.join(", ")
        )
    };
    for rule in &q.rules {
        if !rules::all_specs().any(|s| s.name == rule) && !store.holds_rule(rule) {
            return Err(unknown(
                "rule",
                rule,
                rules::all_specs().map(|s| s.name).collect(),
            ));
        }
    }
    for category in &q.categories {
        if !rules::all_specs().any(|s| s.category == category) && !store.holds_category(category) {
            return Err(unknown(
                "category",
                category,
                rules::all_specs().map(|s| s.category).collect(),
            ));
        }
    }
    Ok(q)
}

async fn one(
    State(store): State<Arc<Store>>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Err(message) = no_parameters(raw.as_deref()) {
        return bad_request(message);
    }
    let Ok(id) = id.parse::<u64>() else {
        return bad_request(format!(
            "id: expected an event id (a non-negative integer), found {id:?}"
        ));
    };
    match store.get(id) {
        Some(e) => success(e),
        None => json_error(
            StatusCode::NOT_FOUND,
            format!("no anomaly event with id {id}"),
        ),
    }
}

async fn stream(State(store): State<Arc<Store>>, RawQuery(raw): RawQuery) -> Response {
    if let Err(message) = no_parameters(raw.as_deref()) {
        return bad_request(message);
    }
    // Subscribed before the response is returned: nothing recorded after this is missed.
    let rx = store.subscribe();
    Sse::new(transitions(rx))
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE).text("keep-alive"))
        .into_response()
}

/// The SSE events for a subscription. A subscriber that falls more than the channel's capacity
/// behind (a slow client) gets one `error` event and the stream ends: the recorder never waits
/// for a client, and a client that reconnects can catch up from `/api/v1/anomalies`.
fn transitions(
    rx: tokio::sync::broadcast::Receiver<Transition>,
) -> impl Stream<Item = Result<sse::Event, Infallible>> {
    futures_util::stream::unfold(Some(rx), |rx| async move {
        let mut rx = rx?;
        match rx.recv().await {
            Ok(t) => Some((Ok(sse_event(&t)), Some(rx))),
            Err(RecvError::Lagged(missed)) => {
                let data = serde_json::json!({
                    "error": "lagged",
                    "missed": missed,
                    "message": format!("this client fell {missed} events behind and is disconnected; reconnect and read /api/v1/anomalies for what was missed"),
                });
                Some((
                    Ok(sse::Event::default().event("error").data(data.to_string())),
                    None,
                ))
            }
            // The store closed the stream (shutdown).
            Err(RecvError::Closed) => None,
        }
    })
}

fn sse_event(t: &Transition) -> sse::Event {
    let (kind, e) = match t {
        Transition::Started(e) => ("started", e),
        Transition::Resolved(e) => ("resolved", e),
    };
    match serde_json::to_string(e) {
        Ok(data) => sse::Event::default()
            .event(kind)
            .id(e.id.to_string())
            .data(data),
        // Unreachable with an `Event` (string keys only), but never a panic.
        Err(err) => sse::Event::default()
            .event("error")
            .data(serde_json::json!({ "error": err.to_string() }).to_string()),
    }
}

/// The range `GET /api/v1/anomalies/rank` covers when `since` is not given: the hour before `until`.
pub const DEFAULT_RANK_RANGE: TimeDelta = TimeDelta::hours(1);

/// What `GET /api/v1/anomalies/rank` asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct RankQuery {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub limit: usize,
}

/// The body of `GET /api/v1/anomalies/rank`: the range ranked (after defaults) and the signals.
#[derive(Serialize)]
struct Ranking {
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    /// The history's resolution: the range is widened to whole minutes.
    resolution_seconds: u32,
    signals: Vec<RankedSignal>,
}

async fn rank(State(store): State<Arc<Store>>, RawQuery(raw): RawQuery) -> Response {
    match parse_rank_query(raw.as_deref(), Utc::now()) {
        Ok(q) => success(Ranking {
            since: q.since,
            until: q.until,
            resolution_seconds: 60,
            signals: store.scores().rank(q.since, q.until, q.limit),
        }),
        Err(message) => bad_request(message),
    }
}

/// Parses the query string of `GET /api/v1/anomalies/rank`: `since` and `until` as RFC 3339
/// times (default: the hour before now), `limit` 1 to 1000 (default 100). Each may appear once.
pub fn parse_rank_query(raw: Option<&str>, now: DateTime<Utc>) -> Result<RankQuery, String> {
    let mut since = None;
    let mut until = None;
    let mut limit = DEFAULT_LIMIT;
    let mut seen = BTreeSet::new();
    for (key, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        if !seen.insert(key.to_string()) {
            return Err(format!("parameter {key:?} is given more than once"));
        }
        match key.as_ref() {
            "since" => since = Some(time("since", &value)?),
            "until" => until = Some(time("until", &value)?),
            "limit" => limit = parse_limit(&value)?,
            other => {
                return Err(format!(
                    "unknown parameter {other:?}; expected since, until or limit"
                ))
            }
        }
    }
    let until = until.unwrap_or(now);
    let since = since.unwrap_or(until - DEFAULT_RANK_RANGE);
    if since > until {
        return Err(format!(
            "since: expected a time at or before until ({}), found {}",
            until.to_rfc3339(),
            since.to_rfc3339()
        ));
    }
    Ok(RankQuery {
        since,
        until,
        limit,
    })
}

fn parse_limit(value: &str) -> Result<usize, String> {
    value
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=MAX_LIMIT).contains(n))
        .ok_or_else(|| format!("limit: expected an integer from 1 to {MAX_LIMIT}, found {value:?}"))
}

/// Endpoints without parameters still reject them, so a typo is not silently ignored.
fn no_parameters(raw: Option<&str>) -> Result<(), String> {
    match form_urlencoded::parse(raw.unwrap_or("").as_bytes()).next() {
        None => Ok(()),
        Some((key, _)) => Err(format!(
            "unknown parameter {key:?}; this endpoint takes no parameters"
        )),
    }
}

/// Parses the query string of `GET /api/v1/anomalies`. Each parameter may appear once.
///
/// * `state`: `active`, `resolved` or `all` (default).
/// * `severity`: the least severe level wanted, `info`, `warning` or `critical`: `warning`
///   returns warning and critical events. One value, not a list.
/// * `category`, `rule`: exact names; a comma-separated list matches any of them.
/// * `since`, `until`: RFC 3339 times; an event matches when its span (start to end, or to now
///   while active) overlaps the range.
/// * `limit`: 1 to 1000, default 100.
pub fn parse_query(raw: Option<&str>) -> Result<Query, String> {
    let mut q = Query {
        limit: DEFAULT_LIMIT,
        ..Query::default()
    };
    let mut seen = BTreeSet::new();
    for (key, value) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        if !seen.insert(key.to_string()) {
            return Err(format!("parameter {key:?} is given more than once"));
        }
        let value = value.as_ref();
        match key.as_ref() {
            "state" => {
                q.state = match value {
                    "all" => StateFilter::All,
                    "active" => StateFilter::Active,
                    "resolved" => StateFilter::Resolved,
                    other => {
                        return Err(format!(
                            "state: expected active, resolved or all, found {other:?}"
                        ))
                    }
                }
            }
            "severity" => {
                q.min_severity = Some(Severity::parse(value).ok_or_else(|| {
                    format!("severity: expected one of info, warning or critical (the least severe level wanted), found {value:?}")
                })?)
            }
            "category" => q.categories = names("category", value)?,
            "rule" => q.rules = names("rule", value)?,
            "since" => q.since = Some(time("since", value)?),
            "until" => q.until = Some(time("until", value)?),
            "limit" => q.limit = parse_limit(value)?,
            other => {
                return Err(format!(
                    "unknown parameter {other:?}; expected state, severity, category, rule, since, until or limit"
                ))
            }
        }
    }
    if let (Some(since), Some(until)) = (q.since, q.until) {
        if since > until {
            return Err(format!(
                "since: expected a time at or before until ({}), found {}",
                until.to_rfc3339(),
                since.to_rfc3339()
            ));
        }
    }
    Ok(q)
}

fn names(param: &str, value: &str) -> Result<Vec<String>, String> {
    let list: Vec<String> = value.split(',').map(|s| s.trim().to_string()).collect();
    if list.iter().any(String::is_empty) {
        return Err(format!(
            "{param}: expected a name or a comma-separated list of names, found {value:?}"
        ));
    }
    Ok(list)
}

fn time(param: &str, value: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(value)
        .map(Into::into)
        .map_err(|_| {
            format!(
                "{param}: expected an RFC 3339 time such as 2026-11-25T10:00:00Z, found {value:?}"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anomaly::journal::Retention;
    use crate::anomaly::store::tests::{event, sample_store};
    use axum::body::Body;
    use axum::http::header::CONTENT_TYPE;
    use axum::http::Request;
    use chrono::TimeDelta;
    use futures_util::StreamExt as _;
    use tower::ServiceExt as _;

    async fn get(store: &Arc<Store>, uri: &str) -> (StatusCode, String, serde_json::Value) {
        let response = routes::<()>(Arc::clone(store))
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
        (status, content_type, json)
    }

    fn ids(json: &serde_json::Value) -> Vec<u64> {
        json["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_u64().unwrap())
            .collect()
    }

    fn store() -> (tempfile::TempDir, Arc<Store>, DateTime<Utc>) {
        let tmp = tempfile::tempdir().unwrap();
        let (store, base) = sample_store(tmp.path());
        (tmp, Arc::new(store), base)
    }

    /// Percent-encodes a time for a query string (`+` would read as a space).
    fn enc(t: DateTime<Utc>) -> String {
        t.to_rfc3339().replace('+', "%2B")
    }

    #[tokio::test]
    async fn list_with_every_filter() {
        let (_tmp, store, base) = store();
        let h = |n: i64| base + TimeDelta::hours(n);
        let (status, content_type, json) = get(&store, "/api/v1/anomalies").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(content_type, "application/json");
        assert_eq!(json["status"], "success");
        assert_eq!(ids(&json), [5, 4, 3, 2, 1]);
        let first = &json["data"][0];
        assert_eq!(first["rule"], "disk_full");
        assert_eq!(first["severity"], "warning");
        assert_eq!(first["subject"], "host");
        assert!(first["resolved_at"].is_string());
        assert!(json["data"][1]["resolved_at"].is_null());

        let cases: Vec<(String, Vec<u64>)> = vec![
            ("state=all".into(), vec![5, 4, 3, 2, 1]),
            ("state=active".into(), vec![4, 2]),
            ("state=resolved".into(), vec![5, 3, 1]),
            ("severity=info".into(), vec![5, 4, 3, 2, 1]),
            ("severity=warning".into(), vec![5, 4, 2, 1]),
            ("severity=critical".into(), vec![4, 2]),
            ("category=cpu".into(), vec![4, 1]),
            ("category=cpu,filesystem".into(), vec![5, 4, 1]),
            ("category=usb".into(), vec![]),
            ("rule=cpu_high".into(), vec![4, 1]),
            ("rule=temp_high%2Cmemory_high".into(), vec![3, 2]),
            (
                format!("since={}", enc(h(4) + TimeDelta::minutes(30))),
                vec![5, 4, 2],
            ),
            (format!("until={}", enc(h(3))), vec![3, 2, 1]),
            (
                format!(
                    "since={}&until={}",
                    enc(h(1) + TimeDelta::minutes(1)),
                    enc(h(2) + TimeDelta::minutes(1))
                ),
                vec![2],
            ),
            ("limit=2".into(), vec![5, 4]),
            ("limit=1000".into(), vec![5, 4, 3, 2, 1]),
            (
                "state=active&severity=critical&category=cpu&limit=1".into(),
                vec![4],
            ),
        ];
        for (query, want) in cases {
            let (status, _, json) = get(&store, &format!("/api/v1/anomalies?{query}")).await;
            assert_eq!(status, StatusCode::OK, "{query}: {json}");
            assert_eq!(ids(&json), want, "{query}");
        }
        // An offset other than Z is understood.
        let (status, _, json) = get(
            &store,
            "/api/v1/anomalies?until=2000-01-01T01:00:00%2B01:00",
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{json}");
        assert_eq!(ids(&json), Vec::<u64>::new());
    }

    #[test]
    fn rank_query_defaults_to_the_last_hour() {
        let now = DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
            .unwrap()
            .to_utc();
        let q = parse_rank_query(None, now).unwrap();
        assert_eq!(
            (q.since, q.until, q.limit),
            (now - TimeDelta::hours(1), now, DEFAULT_LIMIT)
        );
        let q = parse_rank_query(Some("until=2026-11-25T09:00:00%2B01:00&limit=3"), now).unwrap();
        assert_eq!(q.until, now - TimeDelta::hours(2));
        assert_eq!(q.since, now - TimeDelta::hours(3));
        assert_eq!(q.limit, 3);
        let q = parse_rank_query(Some("since=2026-11-25T09:59:00Z"), now).unwrap();
        assert_eq!((q.since, q.until), (now - TimeDelta::minutes(1), now));
        assert!(parse_rank_query(Some("since=2026-11-25T10:00:01Z"), now)
            .unwrap_err()
            .contains("at or before until"));
    }

    #[tokio::test]
    async fn rank_serves_the_score_history() {
        let (_tmp, store, base) = store();
        // On a minute boundary: the history keeps peaks to the millisecond.
        let base = DateTime::from_timestamp(base.timestamp() / 60 * 60, 0).unwrap();
        let scores = store.scores();
        for i in 0..60 {
            let at = base + TimeDelta::seconds(i * 2);
            scores.record("adaptive_disk", "disk", "host", 0.5, false, at);
            let s = if i == 30 { 4.0 } else { 0.2 };
            scores.record("adaptive_load", "load", "host", s, s > 1.0, at);
        }
        let (status, content_type, json) = get(
            &store,
            &format!(
                "/api/v1/anomalies/rank?since={}&until={}",
                enc(base),
                enc(base + TimeDelta::minutes(2))
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{json}");
        assert_eq!(content_type, "application/json");
        let signals = json["data"]["signals"].as_array().unwrap();
        assert_eq!(signals.len(), 2, "{json}");
        assert_eq!(signals[0]["rule"], "adaptive_load");
        assert_eq!(signals[0]["max_score"], 4.0);
        assert_eq!(
            signals[0]["peak_at"],
            serde_json::to_value(base + TimeDelta::seconds(60)).unwrap()
        );
        assert_eq!(signals[1]["anomalous_ratio"], 0.0);
        assert_eq!(json["data"]["since"], serde_json::to_value(base).unwrap());
        let (status, _, json) = get(&store, "/api/v1/anomalies/rank?limit=abc").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{json}");
        assert_eq!(json["status"], "error");
    }

    #[tokio::test]
    async fn every_bad_parameter_is_a_400_naming_it() {
        let (_tmp, store, _) = store();
        let cases = [
            (
                "/api/v1/anomalies?status=active",
                "unknown parameter \"status\"",
            ),
            (
                "/api/v1/anomalies?state=open",
                "state: expected active, resolved or all, found \"open\"",
            ),
            ("/api/v1/anomalies?state=", "state: expected"),
            (
                "/api/v1/anomalies?severity=high",
                "severity: expected one of info, warning or critical",
            ),
            (
                "/api/v1/anomalies?severity=warning,critical",
                "severity: expected",
            ),
            ("/api/v1/anomalies?category=", "category: expected a name"),
            (
                "/api/v1/anomalies?rule=cpu_high,cpu_hgh",
                "rule: unknown rule \"cpu_hgh\"; expected one of adaptive_cpu, ",
            ),
            (
                "/api/v1/anomalies?category=memroy",
                "category: unknown category \"memroy\"; expected one of cpu, disk, ",
            ),
            (
                "/api/v1/anomalies?rule=cpu_high,,x",
                "rule: expected a name",
            ),
            (
                "/api/v1/anomalies?since=yesterday",
                "since: expected an RFC 3339 time",
            ),
            (
                "/api/v1/anomalies?until=2026-13-01T00:00:00Z",
                "until: expected an RFC 3339 time",
            ),
            (
                "/api/v1/anomalies?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z",
                "since: expected a time at or before until",
            ),
            (
                "/api/v1/anomalies?limit=0",
                "limit: expected an integer from 1 to 1000, found \"0\"",
            ),
            (
                "/api/v1/anomalies?limit=1001",
                "limit: expected an integer from 1 to 1000",
            ),
            ("/api/v1/anomalies?limit=-5", "limit: expected an integer"),
            ("/api/v1/anomalies?limit=ten", "limit: expected an integer"),
            (
                "/api/v1/anomalies?limit=5&limit=6",
                "parameter \"limit\" is given more than once",
            ),
            ("/api/v1/anomalies/abc", "id: expected an event id"),
            ("/api/v1/anomalies/-1", "id: expected an event id"),
            (
                "/api/v1/anomalies/1?verbose=1",
                "unknown parameter \"verbose\"",
            ),
            (
                "/api/v1/anomalies/stream?state=active",
                "unknown parameter \"state\"",
            ),
        ];
        for (uri, want) in cases {
            let (status, content_type, json) = get(&store, uri).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {json}");
            assert_eq!(content_type, "application/json", "{uri}");
            assert_eq!(json["status"], "error", "{uri}");
            let error = json["error"].as_str().unwrap();
            assert!(error.contains(want), "{uri}: {error}");
        }
    }

    #[tokio::test]
    async fn one_event_and_404() {
        let (_tmp, store, _) = store();
        let (status, _, json) = get(&store, "/api/v1/anomalies/2").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(json["status"], "success");
        assert_eq!(json["data"]["id"], 2);
        assert_eq!(json["data"]["rule"], "memory_high");
        assert_eq!(json["data"]["severity"], "critical");
        let back: crate::anomaly::Event = serde_json::from_value(json["data"].clone()).unwrap();
        assert_eq!(Some(back), store.get(2));

        // Fields in their declared order, as in the journal and the stream.
        let response = routes::<()>(Arc::clone(&store))
            .oneshot(
                Request::get("/api/v1/anomalies/2")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        let raw = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let raw = std::str::from_utf8(&raw).unwrap();
        assert!(
            raw.starts_with("{\"status\":\"success\",\"data\":{\"id\":2,\"rule\":\"memory_high\","),
            "{raw}"
        );

        let (status, content_type, json) = get(&store, "/api/v1/anomalies/42").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(content_type, "application/json");
        assert_eq!(json["status"], "error");
        assert_eq!(json["error"], "no anomaly event with id 42");
    }

    /// Reads the SSE body until `want` complete events (blank-line terminated) have arrived,
    /// or the stream ends.
    async fn read_events(body: &mut axum::body::BodyDataStream, want: usize) -> (String, bool) {
        let mut text = String::new();
        while text.matches("\n\n").count() < want {
            let next = tokio::time::timeout(Duration::from_secs(5), body.next())
                .await
                .expect("the stream sends within 5 s");
            match next {
                Some(chunk) => text.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap()),
                None => return (text, true),
            }
        }
        (text, false)
    }

    #[tokio::test]
    async fn stream_sends_each_transition_then_ends_on_close() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(tmp.path(), Retention::default()).unwrap());
        let response = routes::<()>(Arc::clone(&store))
            .oneshot(
                Request::get("/api/v1/anomalies/stream")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers().get(CONTENT_TYPE).unwrap(),
            "text/event-stream"
        );
        let mut body = response.into_body().into_data_stream();

        let now = Utc::now();
        let e = event(7, "cpu_high", "cpu", Severity::Critical, now, None);
        store.record(Transition::Started(e.clone())).unwrap();
        let mut resolved = e.clone();
        resolved.resolved_at = Some(now + TimeDelta::seconds(30));
        store
            .record(Transition::Resolved(resolved.clone()))
            .unwrap();

        let (text, ended) = read_events(&mut body, 2).await;
        assert!(!ended);
        let blocks: Vec<&str> = text.split("\n\n").filter(|b| !b.is_empty()).collect();
        assert_eq!(blocks.len(), 2, "{text}");
        for (block, (kind, want)) in blocks
            .iter()
            .zip([("started", &e), ("resolved", &resolved)])
        {
            let lines: Vec<&str> = block.lines().collect();
            assert!(
                lines.contains(&format!("event: {kind}").as_str()),
                "{block}"
            );
            assert!(lines.contains(&"id: 7"), "{block}");
            let data = lines.iter().find_map(|l| l.strip_prefix("data: ")).unwrap();
            let got: crate::anomaly::Event = serde_json::from_str(data).unwrap();
            assert_eq!(&got, want);
        }

        store.close_stream();
        let (_, ended) = read_events(&mut body, 1).await;
        assert!(ended, "the stream ends when the store closes it");
    }

    #[tokio::test]
    async fn a_lagging_client_gets_an_error_event_and_is_disconnected() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Arc::new(
            Store::open(tmp.path(), Retention::default())
                .unwrap()
                .with_stream_capacity(4),
        );
        let response = routes::<()>(Arc::clone(&store))
            .oneshot(
                Request::get("/api/v1/anomalies/stream")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        let mut body = response.into_body().into_data_stream();
        // The client reads nothing while ten transitions are recorded; recording never waits.
        let now = Utc::now();
        for id in 1..=10 {
            let e = event(id, "cpu_high", "cpu", Severity::Info, now, None);
            store.record(Transition::Started(e)).unwrap();
        }
        let (text, _) = read_events(&mut body, 1).await;
        assert!(text.starts_with("event: error\n"), "{text}");
        let data = text.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
        let json: serde_json::Value = serde_json::from_str(data).unwrap();
        assert_eq!(json["error"], "lagged");
        assert_eq!(json["missed"], 6);
        let (_, ended) = read_events(&mut body, 1).await;
        assert!(ended, "disconnected after the error event");
    }

    #[tokio::test]
    async fn server_router_serves_the_feed_when_a_store_is_given() {
        use crate::sampler::Snapshot;
        use crate::server::{router, AppState};
        let (_tmp, store, _) = store();
        let (_tx, rx) = tokio::sync::watch::channel(Arc::new(Snapshot::empty()));
        let state = AppState {
            snapshots: rx,
            interval: Duration::from_secs(2),
            telemetry_path: "/metrics".into(),
            known_collectors: vec![],
            anomalies: Some(store),
        };
        let request = || {
            Request::get("/api/v1/anomalies?limit=1")
                .body(Body::empty())
                .unwrap()
        };
        let response = router(state.clone()).oneshot(request()).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let response = router(AppState {
            anomalies: None,
            ..state
        })
        .oneshot(request())
        .await
        .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
}
