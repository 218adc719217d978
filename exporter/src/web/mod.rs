//! The exporter's HTTP(S) front: `--web.config.file` (TLS, basic auth, headers; the
//! exporter-toolkit's format) and the limits that keep a reachable port from being exhausted.
//!
//! * [`config`]: the YAML file, checked at start.
//! * [`tls`]: the rustls server configuration it describes.
//! * [`auth`]: bcrypt basic authentication on every route.
//! * [`limits`]: per-request limits (concurrent requests and streams, rate, bodies).
//! * This module: the accept loop, with the connection cap, the TLS handshake, and the header
//!   read and idle timeouts of each connection.
//!
//! A connection cap that only refused would let a thousand idle connections lock out the scraper,
//! so at the cap the connection idle for longest is closed to make room (as nginx reuses keep-alive
//! connections), and only when every connection is busy answering a request is a new one refused.

pub mod activation;
pub mod auth;
pub mod config;
pub mod limits;
pub mod tls;

use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify, Semaphore};
use tokio_rustls::TlsAcceptor;

pub use config::{WebConfig, WebConfigError};

/// Largest request head (request line and headers) accepted; larger gets 431.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Most header fields in one request.
const MAX_HEADERS: usize = 64;
/// How long a connection that is closed while answering may take to finish its response.
const CLOSE_GRACE_BUSY: Duration = Duration::from_secs(5);
/// How long a connection closed while idle may take to flush what it last wrote.
const CLOSE_GRACE_IDLE: Duration = Duration::from_millis(100);

/// The limits set by flags.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_requests: usize,
    pub max_connections: usize,
    pub max_streams: usize,
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
}

/// Everything the server needs, checked before the exporter starts.
pub struct Web {
    tls: Option<TlsAcceptor>,
    auth: Option<Arc<auth::BasicAuth>>,
    headers: Vec<(HeaderName, HeaderValue)>,
    limits: Limits,
    rate_limit: Option<(Duration, u32)>,
}

impl Web {
    /// Loads `--web.config.file` (none: plain HTTP, no authentication). The error names the file.
    pub fn new(file: Option<&std::path::Path>, limits: Limits) -> Result<Web, WebConfigError> {
        let Some(file) = file else {
            return Ok(Web {
                tls: None,
                auth: None,
                headers: Vec::new(),
                limits,
                rate_limit: None,
            });
        };
        let cfg = WebConfig::load(file)?;
        let tls = match &cfg.tls {
            None => None,
            Some(t) => {
                let server =
                    tls::server_config(t, cfg.http2).map_err(|message| WebConfigError {
                        file: file.to_path_buf(),
                        line: None,
                        message,
                    })?;
                Some(TlsAcceptor::from(Arc::new(server)))
            }
        };
        let headers = cfg
            .headers
            .iter()
            .filter_map(|(k, v)| {
                Some((
                    HeaderName::from_bytes(k.as_bytes()).ok()?,
                    HeaderValue::from_str(v).ok()?,
                ))
            })
            .collect();
        Ok(Web {
            tls,
            auth: auth::BasicAuth::new(cfg.users),
            headers,
            limits,
            rate_limit: cfg.rate_limit,
        })
    }

    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }

    pub fn basic_auth(&self) -> bool {
        self.auth.is_some()
    }

    /// Wraps the application in the layers, outermost first: configured headers, limits,
    /// authentication.
    pub fn wrap(&self, app: Router) -> Router {
        let mut app = app;
        if let Some(a) = &self.auth {
            app = app.layer(axum::middleware::from_fn_with_state(
                Arc::clone(a),
                auth::require,
            ));
        }
        let l = &self.limits;
        app = app.layer(axum::middleware::from_fn_with_state(
            limits::Limits::new(l.max_requests, l.max_streams, self.rate_limit),
            limits::enforce,
        ));
        if !self.headers.is_empty() {
            let headers = Arc::new(self.headers.clone());
            app = app.layer(axum::middleware::map_response(move |mut r: Response| {
                let headers = Arc::clone(&headers);
                async move {
                    for (k, v) in headers.iter() {
                        r.headers_mut().insert(k.clone(), v.clone());
                    }
                    r
                }
            }));
        }
        app
    }

    /// Serves `app` on every listener (each `--web.listen-address`, or the sockets systemd
    /// passed) until `stop` turns true, then closes every connection (open streams must be ended
    /// by their owner) and waits for them a few seconds at most. The connection cap and limits are
    /// shared by all listeners.
    pub async fn serve(
        self,
        listeners: Vec<TcpListener>,
        app: Router,
        mut stop: watch::Receiver<bool>,
    ) -> io::Result<()> {
        let app = self.wrap(app);
        let conns = Arc::new(Registry::new(self.limits.max_connections));
        let ctx = Arc::new(ConnContext {
            app,
            tls: self.tls,
            limits: self.limits,
        });
        let mut next = 0usize;
        loop {
            let accepted = tokio::select! {
                _ = stop.changed() => break,
                a = accept_any(&listeners, &mut next) => a,
            };
            let (tcp, _peer) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Some(permit) = conns.admit().await else {
                tracing::debug!("connection refused: every connection is busy");
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let conn = conns.register();
            let ctx = Arc::clone(&ctx);
            let conns = Arc::clone(&conns);
            tokio::spawn(async move {
                let id = conn.id;
                handle(tcp, conn, ctx).await;
                conns.deregister(id);
                drop(permit);
            });
        }
        drop(listeners);
        conns.close_all();
        // Busy connections finish their response (bounded by their grace period).
        let deadline = Instant::now() + CLOSE_GRACE_BUSY + Duration::from_secs(1);
        while !conns.lock().is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }
}

/// The next connection on any of `listeners`, polling them round-robin from `next` so a busy one
/// cannot starve the others. With no listeners, waits forever (until the caller's stop).
async fn accept_any(
    listeners: &[TcpListener],
    next: &mut usize,
) -> io::Result<(tokio::net::TcpStream, std::net::SocketAddr)> {
    std::future::poll_fn(|cx| {
        let n = listeners.len();
        for i in 0..n {
            let k = (*next + i) % n;
            if let Poll::Ready(r) = listeners[k].poll_accept(cx) {
                *next = (k + 1) % n;
                return Poll::Ready(r);
            }
        }
        Poll::Pending
    })
    .await
}

struct ConnContext {
    app: Router,
    tls: Option<TlsAcceptor>,
    limits: Limits,
}

/// The state of one connection that the accept loop and its watchdog look at.
struct Conn {
    id: u64,
    /// Requests being answered (until the response body is sent).
    in_flight: AtomicUsize,
    /// Requests started on this connection.
    started: AtomicUsize,
    /// Milliseconds since `born` of the last request end (or the connection start).
    last_done_ms: AtomicU64,
    /// Milliseconds since `born` + 1 of the first byte received while idle (0: none yet).
    first_byte_ms: AtomicU64,
    born: Instant,
    /// `born` in milliseconds since the registry started (to order connections by last activity).
    born_ms: u64,
    /// Speaks HTTP/2, whose control frames (pings, window updates) arrive while idle and are not
    /// the start of a request head.
    h2: std::sync::atomic::AtomicBool,
    /// Told to close to make room for a new connection.
    evicted: std::sync::atomic::AtomicBool,
    close: Notify,
}

impl Conn {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.born.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn idle(&self) -> bool {
        self.in_flight.load(Ordering::SeqCst) == 0
    }

    /// When this connection, if it stays as it is, must be closed: the first request head is due
    /// within the header timeout of the connection start (TLS handshake included); after that an
    /// idle connection may wait `idle_timeout` for its next request, whose head is due within the
    /// header timeout of its first byte.
    fn deadline(&self, limits: &Limits) -> Option<Instant> {
        if !self.idle() {
            return None;
        }
        let at = |ms: u64, d: Duration| self.born + Duration::from_millis(ms) + d;
        let first = self.first_byte_ms.load(Ordering::SeqCst);
        Some(if self.started.load(Ordering::SeqCst) == 0 {
            at(0, limits.header_read_timeout)
        } else if first > 0 {
            at(first - 1, limits.header_read_timeout)
        } else {
            at(
                self.last_done_ms.load(Ordering::SeqCst),
                limits.idle_timeout,
            )
        })
    }
}

/// Marks a request as answered when dropped (with the response body).
struct InFlight(Arc<Conn>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.last_done_ms.store(self.0.now_ms(), Ordering::SeqCst);
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Every open connection, for the cap and for shutdown.
struct Registry {
    slots: Arc<Semaphore>,
    next_id: AtomicU64,
    started: Instant,
    open: Mutex<HashMap<u64, Arc<Conn>>>,
}

impl Registry {
    fn new(max: usize) -> Self {
        let max = if max == 0 {
            Semaphore::MAX_PERMITS
        } else {
            max
        };
        Registry {
            slots: Arc::new(Semaphore::new(max)),
            next_id: AtomicU64::new(0),
            started: Instant::now(),
            open: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Conn>>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A slot for a new connection: a free one, or the one of the connection idle for longest
    /// (one that never sent a request first), which is told to close. None when every
    /// connection is busy answering requests.
    async fn admit(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        if let Ok(p) = Arc::clone(&self.slots).try_acquire_owned() {
            return Some(p);
        }
        let deadline = Instant::now() + CLOSE_GRACE_IDLE * 10;
        while Instant::now() < deadline {
            let closing = {
                let open = self.lock();
                let victim = open
                    .values()
                    .filter(|c| c.idle() && !c.evicted.load(Ordering::SeqCst))
                    .min_by_key(|c| {
                        (
                            c.started.load(Ordering::SeqCst) > 0,
                            c.last_done_ms.load(Ordering::SeqCst) + c.born_ms,
                        )
                    });
                if let Some(v) = victim {
                    v.evicted.store(true, Ordering::SeqCst);
                    v.close.notify_one();
                }
                open.values().any(|c| c.evicted.load(Ordering::SeqCst))
            };
            if !closing {
                return None;
            }
            let wait = Arc::clone(&self.slots).acquire_owned();
            if let Ok(Ok(p)) = tokio::time::timeout(Duration::from_millis(20), wait).await {
                return Some(p);
            }
        }
        None
    }

    fn register(&self) -> Arc<Conn> {
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let conn = Arc::new(Conn {
            id,
            in_flight: AtomicUsize::new(0),
            started: AtomicUsize::new(0),
            last_done_ms: AtomicU64::new(0),
            first_byte_ms: AtomicU64::new(0),
            born: Instant::now(),
            born_ms: u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            evicted: std::sync::atomic::AtomicBool::new(false),
            h2: std::sync::atomic::AtomicBool::new(false),
            close: Notify::new(),
        });
        self.lock().insert(id, Arc::clone(&conn));
        conn
    }

    fn deregister(&self, id: u64) {
        self.lock().remove(&id);
    }

    fn close_all(&self) {
        for c in self.lock().values() {
            c.close.notify_one();
        }
    }
}

async fn handle(tcp: tokio::net::TcpStream, conn: Arc<Conn>, ctx: Arc<ConnContext>) {
    let io = Watched {
        inner: tcp,
        conn: Arc::clone(&conn),
    };
    match &ctx.tls {
        None => serve_connection(io, false, conn, &ctx).await,
        Some(acceptor) => {
            let handshake =
                tokio::time::timeout(ctx.limits.header_read_timeout, acceptor.accept(io));
            let stream = tokio::select! {
                r = handshake => r,
                _ = conn.close.notified() => return,
            };
            match stream {
                Ok(Ok(stream)) => {
                    let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
                    conn.h2.store(h2, Ordering::SeqCst);
                    serve_connection(stream, h2, conn, &ctx).await
                }
                Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!("TLS handshake timed out"),
            }
        }
    }
}

async fn serve_connection<I>(io: I, h2: bool, conn: Arc<Conn>, ctx: &ConnContext)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let app = ctx.app.clone();
    let tracked = Arc::clone(&conn);
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let mut app = app.clone();
        tracked.started.fetch_add(1, Ordering::SeqCst);
        tracked.in_flight.fetch_add(1, Ordering::SeqCst);
        tracked.first_byte_ms.store(0, Ordering::SeqCst);
        let guard = InFlight(Arc::clone(&tracked));
        async move {
            let resp = tower_service::Service::call(&mut app, req.map(axum::body::Body::new)).await;
            Ok::<_, Infallible>(match resp {
                Ok(r) => limits::hold_until_sent(r, guard),
                Err(never) => match never {},
            })
        }
    });
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        // Our watchdog applies the header and idle timeouts (hyper's would also end idle
        // keep-alive connections after the header timeout).
        .header_read_timeout(None)
        .max_buf_size(MAX_HEADER_BYTES.max(8192))
        .max_headers(MAX_HEADERS);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(MAX_HEADER_BYTES).unwrap_or(u32::MAX))
        .max_concurrent_streams(32);
    let builder = if h2 {
        builder.http2_only()
    } else {
        builder.http1_only()
    };
    let connection = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    // When the connection was told to close, and by when it must be done.
    let mut closing: Option<Instant> = None;
    let grace = |conn: &Conn| {
        Instant::now()
            + if conn.idle() {
                CLOSE_GRACE_IDLE
            } else {
                CLOSE_GRACE_BUSY
            }
    };
    loop {
        let wake = closing.or_else(|| conn.deadline(&ctx.limits));
        let timer = async {
            match wake {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                // Busy: look again when the request ends (polled at least every second).
                None => tokio::time::sleep(Duration::from_secs(1)).await,
            }
        };
        tokio::select! {
            _ = connection.as_mut() => return,
            _ = conn.close.notified(), if closing.is_none() => {
                if conn.started.load(Ordering::SeqCst) == 0 {
                    // Never sent a request: nothing is owed to it.
                    return;
                }
                connection.as_mut().graceful_shutdown();
                closing = Some(grace(&conn));
            }
            _ = timer => {
                if closing.is_some() {
                    // The grace period is over: drop the connection.
                    return;
                }
                if conn.deadline(&ctx.limits).is_some_and(|d| d <= Instant::now()) {
                    connection.as_mut().graceful_shutdown();
                    closing = Some(grace(&conn));
                }
            }
        }
    }
}

/// The TCP stream, noting the first byte a client sends while it has no request in flight (the
/// start of the next request head, for the header read timeout).
struct Watched {
    inner: tokio::net::TcpStream,
    conn: Arc<Conn>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before
            && self.conn.idle()
            && !self.conn.h2.load(Ordering::SeqCst)
            && self.conn.first_byte_ms.load(Ordering::SeqCst) == 0
        {
            let now = self.conn.now_ms() + 1;
            self.conn.first_byte_ms.store(now, Ordering::SeqCst);
        }
        r
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
