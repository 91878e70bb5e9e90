//! The API's HTTP/1.1 server: hyper driven directly (axum's `serve` has no timeouts nor
//! limits), so that no client can take the daemon's connections or file descriptors.
//!
//! - **Timeouts.** A request head must arrive within `head_timeout` (hyper's header timer,
//!   which also runs while a keep-alive connection waits for its next request, so an idle
//!   connection closes after the same time); a head cut off midway is answered 408. A request
//!   body must arrive within `body_timeout` of its head (the API's body extractors read the
//!   [`BodyDeadline`] set here, and answer 408). A write the client does not read for
//!   `write_stall_timeout` closes the connection.
//! - **A connection cap.** At most `max_connections` are open. When a newcomer finds them all
//!   taken, the connection that has waited longest on its client (idle between requests,
//!   sending its head or body, or not reading its answer) is closed for it; a connection whose
//!   request the daemon is answering is never closed so. When every connection has a request
//!   being answered, the newcomer gets a 503 and is closed. An evicted connection holds its
//!   descriptor until its task ends: past a few of those, newcomers wait in the listen backlog. So a flood of slow or idle
//!   connections cannot keep `/healthz` or a real client out.
//! - **Every answer is JSON.** hyper answers a request it cannot parse (400), a head over the
//!   size limit (431) and an over-long target (414) by itself, with an empty body, before any
//!   service runs: the connection's writer ([`TrackedIo`]) replaces those answers with the
//!   same status and a JSON error body.
//! - **Graceful shutdown.** On the stop signal the listener closes, connections without a
//!   request in flight close, requests in flight are answered (keep-alive off; alert streams
//!   end), then the server ends.
//!
//! Only HTTP/1.x is spoken: no HTTP/2 (neither prior knowledge nor `Upgrade: h2c`, which is
//! served as HTTP/1.1).

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::response::Response;
use axum::Router;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::error::{Code, ErrorBody, ErrorDetail};

/// The longest request head (request line and headers) read, in bytes; beyond it hyper answers
/// 431 (as JSON, see [`TrackedIo`]).
pub const MAX_HEAD_BYTES: usize = 32 * 1024;
/// The most header fields a request may have (hyper's default, stated); beyond it, 431.
pub const MAX_HEADERS: usize = 100;
/// A connection's read and write buffers are each at most this large.
const MAX_BUFFER_BYTES: usize = 64 * 1024;
/// How long closing a connection (a last answer, the TCP shutdown) may take.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// What the server allows its clients.
#[derive(Debug, Clone)]
pub struct ServerLimits {
    pub max_connections: usize,
    /// A request head must arrive within this; also how long an idle keep-alive connection
    /// stays open.
    pub head_timeout: Duration,
    /// A request body must arrive within this after its head.
    pub body_timeout: Duration,
    /// A write the client does not take for this long closes the connection.
    pub write_stall_timeout: Duration,
}

impl ServerLimits {
    pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
    pub const BODY_TIMEOUT: Duration = Duration::from_secs(30);
    pub const WRITE_STALL_TIMEOUT: Duration = Duration::from_secs(30);

    /// The documented timeouts and `max_connections`.
    pub fn with_max_connections(max_connections: usize) -> ServerLimits {
        ServerLimits {
            max_connections,
            head_timeout: Self::HEAD_TIMEOUT,
            body_timeout: Self::BODY_TIMEOUT,
            write_stall_timeout: Self::WRITE_STALL_TIMEOUT,
        }
    }
}

/// When the request's body must have arrived (a request extension the body extractors read).
#[derive(Debug, Clone, Copy)]
pub struct BodyDeadline(pub tokio::time::Instant);

/// Milliseconds since the server started: the clock of every connection's timestamps.
#[derive(Debug, Clone, Copy)]
struct Clock(Instant);

impl Clock {
    /// Now, never 0 (0 stands for "not waiting").
    fn now(self) -> u64 {
        u64::try_from(self.0.elapsed().as_millis())
            .unwrap_or(u64::MAX)
            .max(1)
    }
}

/// What the server knows of one connection, shared by its task, its requests and its writer.
#[derive(Debug)]
struct Tracked {
    /// Requests whose answer is not finished.
    in_flight: AtomicUsize,
    /// When it last had no request in flight (accepted, or its last answer finished).
    idle_since: AtomicU64,
    /// Since when a request body read has been waiting for the client's bytes (0: not).
    body_wait_since: AtomicU64,
    /// Since when a write has been waiting for the client to read (0: not).
    write_blocked_since: AtomicU64,
    /// Chosen to make room; its task closes it.
    evicted: AtomicBool,
    evict: Notify,
}

impl Tracked {
    fn new(now: u64) -> Tracked {
        Tracked {
            in_flight: AtomicUsize::new(0),
            idle_since: AtomicU64::new(now),
            body_wait_since: AtomicU64::new(0),
            write_blocked_since: AtomicU64::new(0),
            evicted: AtomicBool::new(false),
            evict: Notify::new(),
        }
    }

    /// Since when it has been waiting on its client, if it is: idle or reading a head (no
    /// request in flight), or a request whose body or answer waits on the client. `None`: the
    /// daemon is working on its request.
    fn waiting_on_client_since(&self) -> Option<u64> {
        if self.in_flight.load(Ordering::SeqCst) == 0 {
            return Some(self.idle_since.load(Ordering::SeqCst));
        }
        [
            self.body_wait_since.load(Ordering::SeqCst),
            self.write_blocked_since.load(Ordering::SeqCst),
        ]
        .into_iter()
        .filter(|&since| since != 0)
        .min()
    }
}

/// The open connections.
#[derive(Debug)]
struct Registry {
    clock: Clock,
    connections: Mutex<HashMap<u64, Arc<Tracked>>>,
    next_id: AtomicU64,
    /// Open and not evicted.
    live: AtomicUsize,
    /// Open, evicted or not: the descriptors the connections hold until their tasks end.
    open: AtomicUsize,
}

impl Registry {
    fn new() -> Registry {
        Registry {
            clock: Clock(Instant::now()),
            connections: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            live: AtomicUsize::new(0),
            open: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Tracked>>> {
        crate::lock::lock(&self.connections)
    }

    fn register(&self) -> (u64, Arc<Tracked>) {
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let tracked = Arc::new(Tracked::new(self.clock.now()));
        self.lock().insert(id, Arc::clone(&tracked));
        self.live.fetch_add(1, Ordering::SeqCst);
        self.open.fetch_add(1, Ordering::SeqCst);
        (id, tracked)
    }

    fn unregister(&self, id: u64) {
        if let Some(tracked) = self.lock().remove(&id) {
            if !tracked.evicted.load(Ordering::SeqCst) {
                self.live.fetch_sub(1, Ordering::SeqCst);
            }
            self.open.fetch_sub(1, Ordering::SeqCst);
        }
    }

    fn live(&self) -> usize {
        self.live.load(Ordering::SeqCst)
    }

    fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// Close the connection that has waited longest on its client, if one does. False when
    /// every connection has a request the daemon is answering.
    fn evict_one(&self) -> bool {
        let connections = self.lock();
        let victim = connections
            .values()
            .filter(|t| !t.evicted.load(Ordering::SeqCst))
            .filter_map(|t| t.waiting_on_client_since().map(|since| (since, t)))
            .min_by_key(|(since, _)| *since)
            .map(|(_, t)| Arc::clone(t));
        drop(connections);
        let Some(victim) = victim else {
            return false;
        };
        if victim.evicted.swap(true, Ordering::SeqCst) {
            return true;
        }
        self.live.fetch_sub(1, Ordering::SeqCst);
        victim.evict.notify_one();
        true
    }
}

/// Serve `router` on `listener` until `stop` is cancelled, then drain.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServerLimits,
    stop: CancellationToken,
) {
    let stopped = stop.clone();
    let stopping = async move {
        stopped.cancelled().await;
    };
    tokio::pin!(stopping);
    let registry = Arc::new(Registry::new());
    let mut tasks = JoinSet::new();
    let mut last_accept_warning: Option<Instant> = None;
    loop {
        tokio::select! {
            biased;
            () = &mut stopping => break,
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                if let Err(e) = done {
                    if e.is_panic() {
                        tracing::error!("an API connection panicked: {e}");
                    }
                }
            }
            // An evicted connection holds its descriptor until its task ends: past a few
            // of those, newcomers wait in the listen backlog until one has closed (a task
            // ending wakes this loop), so a flood cannot run the process out of descriptors.
            accepted = listener.accept(), if registry.open() < limits.max_connections + closing_allowance(limits.max_connections) => match accepted {
                Ok((stream, _peer)) => {
                    if registry.live() >= limits.max_connections && !registry.evict_one() {
                        refuse(stream);
                        continue;
                    }
                    let _ = stream.set_nodelay(true);
                    let (id, tracked) = registry.register();
                    let connection = Connection {
                        registry: Arc::clone(&registry),
                        id,
                        tracked,
                        router: router.clone(),
                        limits: limits.clone(),
                        stop: stop.clone(),
                    };
                    tasks.spawn(connection.serve(stream));
                }
                Err(e) if out_of_resources(&e) => {
                    // Out of descriptors (or memory): make room, and do not spin.
                    if last_accept_warning.is_none_or(|at| at.elapsed() > Duration::from_secs(10)) {
                        tracing::warn!(open = registry.live(), "the API cannot accept a connection: {e}");
                        last_accept_warning = Some(Instant::now());
                    }
                    registry.evict_one();
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Err(e) => {
                    // One connection's trouble (reset before it was accepted, ...).
                    tracing::debug!("the API did not accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            },
        }
    }
    drop(listener);
    // Each connection sees the stop signal: idle ones close, requests in flight are answered.
    while let Some(done) = tasks.join_next().await {
        if let Err(e) = done {
            if e.is_panic() {
                tracing::error!("an API connection panicked: {e}");
            }
        }
    }
}

/// Whether accepting failed for want of descriptors or memory (not because of one client).
fn out_of_resources(error: &io::Error) -> bool {
    #[cfg(unix)]
    {
        use rustix::io::Errno;
        let code = error.raw_os_error();
        [Errno::MFILE, Errno::NFILE, Errno::NOBUFS, Errno::NOMEM]
            .iter()
            .any(|errno| code == Some(errno.raw_os_error()))
    }
    #[cfg(not(unix))]
    {
        let _ = error;
        false
    }
}

/// Evicted connections still closing, beyond `max_connections`, before the accept loop waits
/// for them: a sixteenth of the cap, 4 to 64. With [`MAX_LINGERING`] refused ones, the API's
/// descriptors stay within `max_connections + 128` (816 + 64 at the 1,024-descriptor limit,
/// whose quarter beyond the 768 connections is kept for the rest: `open_files`).
fn closing_allowance(max_connections: usize) -> usize {
    (max_connections / 16).clamp(4, 64)
}

/// Refused connections that are being closed gently, at most [`MAX_LINGERING`] at once.
static LINGERING: AtomicUsize = AtomicUsize::new(0);
const MAX_LINGERING: usize = 64;
/// How long a refused connection may take to read its 503.
const LINGER: Duration = Duration::from_millis(500);

/// No room: a 503, then close. A few at a time are closed gently (their request read and
/// dropped first, so that the close does not reset the answer away); past that, at once.
fn refuse(stream: TcpStream) {
    let answer = json_answer(
        Code::TooManyConnections,
        "every connection of the API is answering a request; try again shortly",
    );
    if LINGERING.fetch_add(1, Ordering::SeqCst) >= MAX_LINGERING {
        LINGERING.fetch_sub(1, Ordering::SeqCst);
        // A new socket's buffer takes the answer in one write.
        let _ = stream.try_write(&answer);
        return;
    }
    tokio::spawn(async move {
        let mut stream = stream;
        let linger = async {
            stream.write_all(&answer).await?;
            stream.shutdown().await?;
            let mut sink = [0u8; 4096];
            while tokio::io::AsyncReadExt::read(&mut stream, &mut sink).await? > 0 {}
            Ok::<(), io::Error>(())
        };
        let _ = tokio::time::timeout(LINGER, linger).await;
        LINGERING.fetch_sub(1, Ordering::SeqCst);
    });
}

/// An HTTP/1.1 answer with a JSON error body, closing the connection.
fn json_answer(code: Code, message: &str) -> Vec<u8> {
    let status = code.status();
    let body = serde_json::to_vec(&ErrorBody {
        error: ErrorDetail {
            code: code.name().to_string(),
            message: message.to_string(),
            column: None,
        },
    })
    .unwrap_or_default();
    let mut answer = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        body.len()
    )
    .into_bytes();
    answer.extend_from_slice(&body);
    answer
}

/// The JSON answer that replaces hyper's own empty one, if `written` is one: a whole head and
/// nothing else, status 400, 414 or 431, `content-length: 0`.
fn automatic_answer(written: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(written).ok()?;
    let head = text.strip_suffix("\r\n\r\n")?;
    if head.contains("\r\n\r\n") {
        return None;
    }
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| status_line.strip_prefix("HTTP/1.0 "))?
        .get(..3)?;
    if !lines.any(|line| line.eq_ignore_ascii_case("content-length: 0")) {
        return None;
    }
    let (code, message) = match status {
        "400" => (
            Code::BadRequest,
            "the request is not valid HTTP/1.1: its request line or a header cannot be read",
        ),
        "414" => (
            Code::UriTooLong,
            "the request target is too long",
        ),
        "431" => (
            Code::HeadersTooLarge,
            "the request line and headers are larger than 32 KiB, or there are more than 100 header fields",
        ),
        _ => return None,
    };
    Some(json_answer(code, message))
}

/// One accepted connection.
struct Connection {
    registry: Arc<Registry>,
    id: u64,
    tracked: Arc<Tracked>,
    router: Router,
    limits: ServerLimits,
    stop: CancellationToken,
}

type ServiceFuture =
    Pin<Box<dyn Future<Output = Result<Response<GuardedBody>, Infallible>> + Send>>;

impl Connection {
    async fn serve(self, stream: TcpStream) {
        let io = TrackedIo::new(
            stream,
            Arc::clone(&self.tracked),
            self.registry.clock,
            self.limits.write_stall_timeout,
        );
        let service = {
            let tracked = Arc::clone(&self.tracked);
            let clock = self.registry.clock;
            let router = self.router.clone();
            let body_timeout = self.limits.body_timeout;
            hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                let guard = InFlight::start(Arc::clone(&tracked), clock);
                let (mut parts, body) = request.into_parts();
                parts
                    .extensions
                    .insert(BodyDeadline(tokio::time::Instant::now() + body_timeout));
                let body = Body::new(TrackedBody {
                    inner: body,
                    tracked: Arc::clone(&tracked),
                    clock,
                });
                let request = Request::from_parts(parts, body);
                let router = router.clone();
                Box::pin(async move {
                    let response = match router.oneshot(request).await {
                        Ok(response) => response,
                        Err(never) => match never {},
                    };
                    Ok(response.map(|inner| GuardedBody {
                        inner,
                        _guard: guard,
                    }))
                }) as ServiceFuture
            })
        };
        let mut connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(self.limits.head_timeout)
            .max_buf_size(MAX_BUFFER_BYTES)
            .max_header_size(MAX_HEAD_BYTES)
            .max_headers(MAX_HEADERS)
            .serve_connection(TokioIo::new(io), service);
        let mut draining = false;
        let served = loop {
            tokio::select! {
                served = std::future::poll_fn(|cx| connection.poll_without_shutdown(cx)) => break served,
                () = self.stop.cancelled(), if !draining => {
                    if self.tracked.in_flight.load(Ordering::SeqCst) == 0 {
                        // Idle, or still sending a head: nothing to finish.
                        self.registry.unregister(self.id);
                        return;
                    }
                    // Its request is answered, then the connection closes.
                    Pin::new(&mut connection).graceful_shutdown();
                    draining = true;
                }
                _ = self.tracked.evict.notified(), if !draining => {
                    if self.tracked.waiting_on_client_since().is_some() {
                        // Idle, or sending its request or taking its answer too slowly:
                        // closed at once.
                        self.registry.unregister(self.id);
                        return;
                    }
                    // It got a request to answer since it was chosen: that one is answered,
                    // then the connection closes.
                    Pin::new(&mut connection).graceful_shutdown();
                    draining = true;
                }
            }
        };
        let parts = connection.into_parts();
        let mut io = parts.io.into_inner();
        let close = async {
            if let Err(e) = &served {
                // A head cut off midway gets an answer; an idle connection just closes.
                if e.is_timeout() && !parts.read_buf.is_empty() {
                    let answer = json_answer(
                        Code::RequestTimeout,
                        "the request head did not arrive in time",
                    );
                    let _ = io.write_all(&answer).await;
                }
            }
            let _ = io.flush().await;
            let _ = io.shutdown().await;
            if served.is_err() {
                // What the client still sends is read and dropped, so that closing does not
                // reset the connection before it has read the answer.
                let mut sink = [0u8; 4096];
                while matches!(tokio::io::AsyncReadExt::read(&mut io, &mut sink).await, Ok(n) if n > 0)
                {
                }
            }
        };
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, close).await;
        self.registry.unregister(self.id);
    }
}

/// A request in flight on a connection, from its head to the end of its answer's body.
struct InFlight {
    tracked: Arc<Tracked>,
    clock: Clock,
}

impl InFlight {
    fn start(tracked: Arc<Tracked>, clock: Clock) -> InFlight {
        tracked.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight { tracked, clock }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.tracked.body_wait_since.store(0, Ordering::SeqCst);
        if self.tracked.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.tracked
                .idle_since
                .store(self.clock.now(), Ordering::SeqCst);
        }
    }
}

/// A request body that records when it waits for the client.
struct TrackedBody {
    inner: Incoming,
    tracked: Arc<Tracked>,
    clock: Clock,
}

impl http_body::Body for TrackedBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        let waiting = &self.tracked.body_wait_since;
        match polled {
            Poll::Pending => {
                let _ = waiting.compare_exchange(
                    0,
                    self.clock.now(),
                    Ordering::SeqCst,
                    Ordering::SeqCst,
                );
            }
            Poll::Ready(_) => waiting.store(0, Ordering::SeqCst),
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// An answer's body that keeps its request in flight until it is done (or dropped).
struct GuardedBody {
    inner: Body,
    _guard: InFlight,
}

impl http_body::Body for GuardedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The connection's socket: records when writes wait for the client, fails a write the client
/// has not taken for the stall timeout, and replaces hyper's empty automatic answers with JSON.
struct TrackedIo {
    stream: TcpStream,
    tracked: Arc<Tracked>,
    clock: Clock,
    stall_timeout: Duration,
    stall: Option<Pin<Box<tokio::time::Sleep>>>,
    replacement: Replacement,
}

/// hyper's automatic answer, replaced by a JSON one.
enum Replacement {
    /// Nothing replaced (yet).
    None,
    /// The JSON answer, and how much of it is out.
    Writing(Vec<u8>, usize),
    /// Written: whatever else hyper writes for its answer is dropped.
    Done,
}

impl TrackedIo {
    fn new(
        stream: TcpStream,
        tracked: Arc<Tracked>,
        clock: Clock,
        stall_timeout: Duration,
    ) -> TrackedIo {
        TrackedIo {
            stream,
            tracked,
            clock,
            stall_timeout,
            stall: None,
            replacement: Replacement::None,
        }
    }

    /// Write to the socket, timing a write the client does not take.
    fn write_socket(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.stream).poll_write(cx, buf) {
            Poll::Ready(result) => {
                self.stall = None;
                self.tracked.write_blocked_since.store(0, Ordering::SeqCst);
                Poll::Ready(result)
            }
            Poll::Pending => {
                let timeout = self.stall_timeout;
                let stall = self
                    .stall
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                if stall.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client did not read the answer",
                    )));
                }
                let _ = self.tracked.write_blocked_since.compare_exchange(
                    0,
                    self.clock.now(),
                    Ordering::SeqCst,
                    Ordering::SeqCst,
                );
                Poll::Pending
            }
        }
    }

    /// Write out what is left of a replacement answer.
    fn drain_replacement(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            let (answer, written) =
                match std::mem::replace(&mut self.replacement, Replacement::Done) {
                    Replacement::Writing(answer, written) if written < answer.len() => {
                        (answer, written)
                    }
                    Replacement::None => {
                        self.replacement = Replacement::None;
                        return Poll::Ready(Ok(()));
                    }
                    Replacement::Writing(..) | Replacement::Done => return Poll::Ready(Ok(())),
                };
            match self.write_socket(cx, &answer[written..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => self.replacement = Replacement::Writing(answer, written + n),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    self.replacement = Replacement::Writing(answer, written);
                    return Poll::Pending;
                }
            }
        }
    }
}

impl AsyncRead for TrackedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for TrackedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        match this.replacement {
            Replacement::None => {}
            Replacement::Writing(..) | Replacement::Done => {
                ready!(this.drain_replacement(cx))?;
                // hyper's answer is replaced whole: nothing of it goes out.
                return Poll::Ready(Ok(buf.len()));
            }
        }
        if this.tracked.in_flight.load(Ordering::SeqCst) == 0 {
            if let Some(answer) = automatic_answer(buf) {
                this.replacement = Replacement::Writing(answer, 0);
                // What the socket does not take now goes on the next write, flush or shutdown.
                if let Poll::Ready(Err(e)) = this.drain_replacement(cx) {
                    return Poll::Ready(Err(e));
                }
                return Poll::Ready(Ok(buf.len()));
            }
        }
        this.write_socket(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain_replacement(cx))?;
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain_replacement(cx))?;
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        // One buffer per write, so that hyper's automatic answer arrives whole.
        false
    }
}
