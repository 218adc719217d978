//! Running many queries at once: the instant or range queries of one view concurrently, their
//! failures and Prometheus' warnings collected, and one ad-hoc query.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::task::JoinSet;

use crate::fmt::now_unix;
use crate::prom::{PromClient, PromError, QueryResult, Sample, Series};
use crate::queries::step_for;

/// Runs instant queries concurrently; returns results, failures and warnings.
pub async fn run_instants<K>(
    client: &PromClient,
    queries: Vec<(K, String, String)>,
) -> (
    BTreeMap<K, Vec<Sample>>,
    Vec<(String, PromError)>,
    Vec<String>,
)
where
    K: Ord + Copy + Send + 'static,
{
    run_instants_early(client, queries, None, |_, _| {}).await
}

/// [`run_instants`], calling `early(results so far, names still running)` once if the queries
/// are not all done after `early_after`.
pub async fn run_instants_early<K>(
    client: &PromClient,
    queries: Vec<(K, String, String)>,
    early_after: Option<Duration>,
    mut early: impl FnMut(&BTreeMap<K, Vec<Sample>>, Vec<String>),
) -> (
    BTreeMap<K, Vec<Sample>>,
    Vec<(String, PromError)>,
    Vec<String>,
)
where
    K: Ord + Copy + Send + 'static,
{
    let mut set = JoinSet::new();
    let mut running: Vec<String> = Vec::new();
    for (k, name, expr) in queries {
        let c = client.clone();
        running.push(name.clone());
        set.spawn(async move {
            let r = c.query(&expr, None).await.and_then(|r| {
                let w = r.warnings.clone();
                r.into_vector().map(|v| (v, w))
            });
            (k, name, r)
        });
    }
    let mut out = BTreeMap::new();
    let mut failed = Vec::new();
    let mut warnings = Vec::new();
    let deadline = early_after.map(|d| tokio::time::Instant::now() + d);
    let mut fired = deadline.is_none();
    loop {
        let j = tokio::select! {
            j = set.join_next() => j,
            _ = async { tokio::time::sleep_until(deadline.unwrap_or_else(tokio::time::Instant::now)).await }, if !fired => {
                fired = true;
                if !set.is_empty() {
                    early(&out, running.clone());
                }
                continue;
            }
        };
        let Some(j) = j else { break };
        let Ok((k, name, r)) = j else { continue };
        running.retain(|n| *n != name);
        match r {
            Ok((v, w)) => {
                out.insert(k, v);
                for x in w {
                    if !warnings.contains(&x) {
                        warnings.push(x);
                    }
                }
            }
            Err(e) => failed.push((name, e)),
        }
    }
    failed.sort_by(|a, b| a.0.cmp(&b.0));
    (out, failed, warnings)
}

/// Runs range queries concurrently from `start` to `end` every `step`.
pub async fn run_ranges<K>(
    client: &PromClient,
    queries: Vec<(K, String, String)>,
    start: f64,
    end: f64,
    step: f64,
) -> (
    BTreeMap<K, Vec<Series>>,
    Vec<(String, PromError)>,
    Vec<String>,
)
where
    K: Ord + Copy + Send + 'static,
{
    let mut set = JoinSet::new();
    for (k, name, expr) in queries {
        let c = client.clone();
        set.spawn(async move {
            let r = c.query_range(&expr, start, end, step).await.and_then(|r| {
                let w = r.warnings.clone();
                r.into_matrix().map(|m| (m, w))
            });
            (k, name, r)
        });
    }
    let mut out = BTreeMap::new();
    let mut failed = Vec::new();
    let mut warnings = Vec::new();
    while let Some(j) = set.join_next().await {
        let Ok((k, name, r)) = j else { continue };
        match r {
            Ok((m, w)) => {
                out.insert(k, m);
                for x in w {
                    if !warnings.contains(&x) {
                        warnings.push(x);
                    }
                }
            }
            Err(e) => failed.push((name, e)),
        }
    }
    failed.sort_by(|a, b| a.0.cmp(&b.0));
    (out, failed, warnings)
}

/// Runs one ad-hoc query: instant, or a range ending now with about 240 points.
pub async fn run_query(
    client: &PromClient,
    expr: &str,
    range: Option<Duration>,
    step: Option<Duration>,
) -> (Result<QueryResult, PromError>, Option<Duration>) {
    match range {
        None => (client.query(expr, None).await, None),
        Some(r) => {
            let step = step.unwrap_or_else(|| step_for(r, 240));
            let end = now_unix();
            let res = client
                .query_range(expr, end - r.as_secs_f64(), end, step.as_secs_f64())
                .await;
            (res, Some(step))
        }
    }
}
