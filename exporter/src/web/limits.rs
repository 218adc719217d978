//! Request limits, applied before authentication so that refused work stays cheap:
//!
//! * `--web.max-requests`: requests being answered at once (a response counts until its body is
//!   sent); beyond it 503 at once, as node_exporter, rather than a queue.
//! * `--web.max-streams`: open `/api/v1/anomalies/stream` event streams; beyond it 503.
//! * `rate_limit` of the web configuration file: a token bucket; beyond it 429, as the toolkit.
//! * Requests with a body: every route is a GET, so a body is refused with 413.
//!
//! Connection-level limits (count, header and idle timeouts, header size) are in [`super`].

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_LENGTH, RETRY_AFTER, TRANSFER_ENCODING};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use tokio::sync::Semaphore;

use crate::json_response::json_error;

/// The path of the event stream, limited by `max_streams` instead of `max_requests`.
pub const STREAM_PATH: &str = "/api/v1/anomalies/stream";

pub struct Limits {
    max_requests: usize,
    requests: Option<Arc<Semaphore>>,
    max_streams: usize,
    streams: Option<Arc<Semaphore>>,
    bucket: Option<Mutex<Bucket>>,
}

impl Limits {
    /// 0 means unlimited for both counts.
    pub fn new(
        max_requests: usize,
        max_streams: usize,
        rate: Option<(Duration, u32)>,
    ) -> Arc<Limits> {
        let sem = |n: usize| (n > 0).then(|| Arc::new(Semaphore::new(n)));
        Arc::new(Limits {
            max_requests,
            requests: sem(max_requests),
            max_streams,
            streams: sem(max_streams),
            bucket: rate.map(|(interval, burst)| {
                Mutex::new(Bucket {
                    interval,
                    burst: f64::from(burst),
                    tokens: f64::from(burst),
                    last: Instant::now(),
                })
            }),
        })
    }
}

/// The toolkit's rate limiter: one token per `interval`, at most `burst` saved up.
struct Bucket {
    interval: Duration,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn allow(&mut self) -> bool {
        let now = Instant::now();
        let earned = now.duration_since(self.last).as_secs_f64() / self.interval.as_secs_f64();
        self.tokens = (self.tokens + earned).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

fn busy(message: String) -> Response {
    let mut r = json_error(StatusCode::SERVICE_UNAVAILABLE, message);
    r.headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from_static("1"));
    r
}

fn has_body(req: &Request) -> bool {
    let h = req.headers();
    h.contains_key(TRANSFER_ENCODING)
        || h.get(CONTENT_LENGTH)
            .is_some_and(|v| v.to_str().map(|s| s.trim() != "0").unwrap_or(true))
}

/// The middleware.
pub async fn enforce(State(limits): State<Arc<Limits>>, req: Request, next: Next) -> Response {
    if has_body(&req) {
        return json_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request bodies are not accepted: every endpoint is a GET".to_string(),
        );
    }
    if let Some(bucket) = &limits.bucket {
        let allowed = bucket.lock().unwrap_or_else(|e| e.into_inner()).allow();
        if !allowed {
            return json_error(
                StatusCode::TOO_MANY_REQUESTS,
                "too many requests (rate_limit of the web configuration)".to_string(),
            );
        }
    }
    let permit = if req.uri().path() == STREAM_PATH {
        match &limits.streams {
            None => None,
            Some(s) => match Arc::clone(s).try_acquire_owned() {
                Ok(p) => Some(p),
                Err(_) => {
                    return busy(format!(
                        "too many open event streams (--web.max-streams={}); try again later",
                        limits.max_streams
                    ))
                }
            },
        }
    } else {
        match &limits.requests {
            None => None,
            Some(s) => match Arc::clone(s).try_acquire_owned() {
                Ok(p) => Some(p),
                Err(_) => {
                    return busy(format!(
                        "too many concurrent requests (--web.max-requests={}); try again later",
                        limits.max_requests
                    ))
                }
            },
        }
    };
    let resp = next.run(req).await;
    match permit {
        None => resp,
        Some(p) => hold_until_sent(resp, p),
    }
}

/// Keeps `guard` alive until the response body has been sent (or dropped).
pub fn hold_until_sent<G: Send + 'static>(resp: Response, guard: G) -> Response {
    resp.map(|body| {
        Body::new(Guarded {
            inner: body,
            _guard: guard,
        })
    })
}

struct Guarded<G> {
    inner: Body,
    _guard: G,
}

impl<G: Send + 'static> http_body::Body for Guarded<G> {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

// `Guarded` is Unpin whenever its guard is (Body is).
impl<G> Unpin for Guarded<G> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_a_burst_then_refills() {
        let mut b = Bucket {
            interval: Duration::from_secs(3600),
            burst: 2.0,
            tokens: 2.0,
            last: Instant::now(),
        };
        assert!(b.allow() && b.allow());
        assert!(!b.allow());
        b.last -= Duration::from_secs(3600);
        assert!(b.allow());
    }
}
