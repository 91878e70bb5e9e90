//! The server (`server.rs`) with the API's own outer layers (`guarded`: panic catcher, request
//! log, host guard) on a real socket, driven by raw HTTP/1.1 bytes the way a hostile or broken
//! client sends them: panics, unparsable requests, oversized heads, slow heads and bodies,
//! clients that do not read, floods of idle connections, the cap, graceful shutdown.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::routing::{get, post};
use axum::Router;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::error::ApiBytes;
use super::guard::HostGuard;
use super::server::{serve, ServerLimits};

/// A served test app, and how to stop it.
struct Served {
    addr: std::net::SocketAddr,
    stop: CancellationToken,
    server: tokio::task::JoinHandle<()>,
    /// Releases the requests waiting in `/slow`.
    release: Arc<Notify>,
}

fn limits(max_connections: usize) -> ServerLimits {
    ServerLimits {
        max_connections,
        head_timeout: Duration::from_millis(500),
        body_timeout: Duration::from_millis(500),
        write_stall_timeout: Duration::from_millis(500),
    }
}

async fn start(limits: ServerLimits) -> Served {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let release = Arc::new(Notify::new());
    let waiting = Arc::clone(&release);
    let routes = Router::new()
        .route(
            "/healthz",
            get(|| async { axum::Json(serde_json::json!({"status": "ok"})) }),
        )
        .route(
            "/panic",
            get(|| async {
                if std::hint::black_box(true) {
                    panic!("a handler bug");
                }
                "unreachable"
            }),
        )
        .route(
            "/slow",
            get(move || {
                let waiting = Arc::clone(&waiting);
                async move {
                    waiting.notified().await;
                    "done"
                }
            }),
        )
        .route(
            "/big",
            get(|| async {
                let chunk = axum::body::Bytes::from(vec![b'x'; 64 * 1024]);
                let chunks = futures_util::stream::iter(
                    (0..1024).map(move |_| Ok::<_, std::io::Error>(chunk.clone())),
                );
                Body::from_stream(chunks)
            }),
        )
        .route(
            "/echo",
            post(|ApiBytes(body): ApiBytes| async move { format!("{}", body.len()) }),
        );
    let app = super::guarded(routes, HostGuard::new(addr, Vec::new()));
    let stop = CancellationToken::new();
    let server = tokio::spawn(serve(listener, app, limits, stop.clone()));
    Served {
        addr,
        stop,
        server,
        release,
    }
}

/// An answer read off the wire.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: String,
    body: String,
}

impl Answer {
    fn json(&self) -> serde_json::Value {
        assert!(
            self.headers
                .to_ascii_lowercase()
                .contains("content-type: application/json"),
            "not JSON: {self:?}"
        );
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {self:?}"))
    }

    fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or("")
            .to_string()
    }
}

/// Read one answer (head, then the body by its content-length) within `timeout`.
async fn read_answer(stream: &mut TcpStream, timeout: Duration) -> Option<Answer> {
    let mut buf = Vec::new();
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(end) = find(&buf, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let length = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                let status = head.get(9..12)?.parse().ok()?;
                let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + length]).to_string();
                return Some(Answer {
                    status,
                    headers: head,
                    body,
                });
            }
        }
        let mut chunk = [0u8; 4096];
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return None,
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Send `request` on a new connection; its answer.
async fn exchange(served: &Served, request: &[u8]) -> Option<Answer> {
    let mut stream = TcpStream::connect(served.addr).await.unwrap();
    stream.write_all(request).await.ok()?;
    read_answer(&mut stream, Duration::from_secs(5)).await
}

async fn healthz(served: &Served) -> Option<Answer> {
    exchange(served, b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n").await
}

/// True when the peer closed the connection (a read gives EOF or a reset) within `timeout`.
async fn closed_within(stream: &mut TcpStream, timeout: Duration) -> bool {
    let mut byte = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut byte)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_answers_json_500_and_the_server_goes_on() {
    let served = start(limits(16)).await;
    for _ in 0..3 {
        let answer = exchange(&served, b"GET /panic HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .expect("an answer");
        assert_eq!(answer.status, 500, "{answer:?}");
        assert_eq!(answer.code(), "internal");
        assert!(!answer.body.contains("a handler bug"), "{answer:?}");
        assert_eq!(healthz(&served).await.map(|a| a.status), Some(200));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_hyper_gives_by_itself_is_json() {
    let served = start(limits(16)).await;
    let long_header = format!(
        "GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: {}\r\n\r\n",
        "a".repeat(40 * 1024)
    );
    let many_headers = format!(
        "GET /healthz HTTP/1.1\r\nHost: localhost\r\n{}\r\n",
        (0..150)
            .map(|i| format!("X-{i}: v\r\n"))
            .collect::<String>()
    );
    let long_target = format!(
        "GET /healthz?q={} HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "a".repeat(20 * 1024)
    );
    let huge_target = format!(
        "GET /healthz?q={} HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "a".repeat(70 * 1024)
    );
    let cases: Vec<(&[u8], u16, &str)> = vec![
        (b"GET / HTTP/1.1\r\nHost: localhost\r\nno colon here\r\n\r\n", 400, "bad_request"),
        (b"G\x01T / HTTP/1.1\r\nHost: localhost\r\n\r\n", 400, "bad_request"),
        (b"GET / HTTP/9.9\r\nHost: localhost\r\n\r\n", 400, "bad_request"),
        (b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400, "bad_request"),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not TLS\r\n\r\n", 400, "bad_request"),
        (long_header.as_bytes(), 431, "headers_too_large"),
        (many_headers.as_bytes(), 431, "headers_too_large"),
        (huge_target.as_bytes(), 431, "headers_too_large"),
        (long_target.as_bytes(), 414, "uri_too_long"),
        (b"GET /nope HTTP/1.1\r\n\r\n", 400, "invalid_host"),
        (b"GET /healthz HTTP/1.1\r\nHost: attacker.example\r\n\r\n", 421, "host_not_allowed"),
    ];
    for (request, status, code) in cases {
        let shown = String::from_utf8_lossy(&request[..request.len().min(60)]).to_string();
        let answer = exchange(&served, request)
            .await
            .unwrap_or_else(|| panic!("no answer to {shown:?}"));
        assert_eq!(answer.status, status, "{shown:?}: {answer:?}");
        assert_eq!(answer.code(), code, "{shown:?}");
    }
    // HTTP/2 with prior knowledge is not spoken: the connection closes unanswered.
    let answer = exchange(&served, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await;
    assert!(answer.is_none(), "{answer:?}");
    // `Upgrade: h2c` is served as HTTP/1.1.
    let answer = exchange(
        &served,
        b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n",
    )
    .await
    .unwrap();
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(healthz(&served).await.map(|a| a.status), Some(200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_gets_a_json_answer_or_none_never_an_empty_body() {
    let served = start(limits(16)).await;
    // A fixed pseudo-random sequence: reproducible, bounded.
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let pieces: [&[u8]; 12] = [
        b"GET ",
        b"POST ",
        b"/healthz",
        b" HTTP/1.1",
        b"\r\n",
        b"Host: localhost",
        b":",
        b"\0",
        b"\xff",
        b" ",
        b"Content-Length: 5",
        b"Transfer-Encoding: chunked",
    ];
    for _ in 0..60 {
        let mut request = Vec::new();
        for _ in 0..(next() % 12) {
            request.extend_from_slice(pieces[(next() % 12) as usize]);
        }
        request.extend_from_slice(b"\r\n\r\n");
        let mut stream = TcpStream::connect(served.addr).await.unwrap();
        let _ = stream.write_all(&request).await;
        let _ = stream.shutdown().await;
        let mut all = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(3), stream.read_to_end(&mut all)).await;
        if all.is_empty() {
            continue;
        }
        let text = String::from_utf8_lossy(&all);
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status: u16 = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
        if status >= 400 {
            assert!(
                head.to_ascii_lowercase().contains("application/json")
                    && serde_json::from_str::<serde_json::Value>(body.trim()).is_ok(),
                "{request:?} -> {text}"
            );
        }
    }
    assert_eq!(healthz(&served).await.map(|a| a.status), Some(200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_cut_off_gets_408_and_an_idle_connection_closes_silently() {
    let served = start(limits(16)).await;
    let mut partial = TcpStream::connect(served.addr).await.unwrap();
    partial
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: loc")
        .await
        .unwrap();
    let answer = read_answer(&mut partial, Duration::from_secs(5))
        .await
        .expect("a 408");
    assert_eq!(answer.status, 408);
    assert_eq!(answer.code(), "request_timeout");

    let mut idle = TcpStream::connect(served.addr).await.unwrap();
    let started = Instant::now();
    let mut all = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), idle.read_to_end(&mut all)).await;
    assert!(all.is_empty(), "{}", String::from_utf8_lossy(&all));
    assert!(started.elapsed() < Duration::from_secs(4));

    // Keep-alive: after an answer, the same connection idles for the head timeout, then closes.
    let mut kept = TcpStream::connect(served.addr).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(
        read_answer(&mut kept, Duration::from_secs(5))
            .await
            .map(|a| a.status),
        Some(200)
    );
    assert!(closed_within(&mut kept, Duration::from_secs(4)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_does_not_arrive_gets_408() {
    let served = start(limits(16)).await;
    let mut stream = TcpStream::connect(served.addr).await.unwrap();
    stream
        .write_all(b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\nabc")
        .await
        .unwrap();
    let answer = read_answer(&mut stream, Duration::from_secs(5))
        .await
        .expect("a 408");
    assert_eq!(answer.status, 408, "{answer:?}");
    assert_eq!(answer.code(), "request_timeout");
    let whole = exchange(
        &served,
        b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\n\r\nabc",
    )
    .await
    .unwrap();
    assert_eq!((whole.status, whole.body.as_str()), (200, "3"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_does_not_read_its_answer_is_cut_off() {
    let served = start(limits(16)).await;
    let mut stream = TcpStream::connect(served.addr).await.unwrap();
    stream
        .write_all(b"GET /big HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    // Not reading while the server's writes stall past the timeout.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut all = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut all)).await;
    assert!(
        all.len() < 64 * 1024 * 1024,
        "the whole answer came: {} bytes",
        all.len()
    );
    assert_eq!(healthz(&served).await.map(|a| a.status), Some(200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_the_connection_waiting_longest_makes_room() {
    let served = start(ServerLimits {
        head_timeout: Duration::from_secs(30),
        ..limits(8)
    })
    .await;
    let mut idle = Vec::new();
    for _ in 0..8 {
        let mut stream = TcpStream::connect(served.addr).await.unwrap();
        // Half of them drip a head, half say nothing: all wait on their client.
        if idle.len() % 2 == 0 {
            stream
                .write_all(b"GET /healthz HTTP/1.1\r\n")
                .await
                .unwrap();
        }
        idle.push(stream);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let answer = healthz(&served).await.expect("the newcomer is answered");
    assert_eq!(answer.status, 200);
    // The oldest made room.
    assert!(closed_within(&mut idle[0], Duration::from_secs(2)).await);
    assert!(!closed_within(&mut idle[7], Duration::from_millis(200)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_with_every_request_being_answered_a_newcomer_gets_503() {
    let served = start(limits(8)).await;
    let mut busy = Vec::new();
    for _ in 0..8 {
        let mut stream = TcpStream::connect(served.addr).await.unwrap();
        stream
            .write_all(b"GET /slow HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        busy.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let answer = healthz(&served).await.expect("a 503");
    assert_eq!(answer.status, 503, "{answer:?}");
    assert_eq!(answer.code(), "too_many_connections");
    // The requests being answered were not cut.
    served.release.notify_waiters();
    for stream in &mut busy {
        let answer = read_answer(stream, Duration::from_secs(5)).await.unwrap();
        assert_eq!((answer.status, answer.body.as_str()), (200, "done"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_slow_connections_does_not_keep_a_client_out() {
    let served = start(ServerLimits {
        head_timeout: Duration::from_secs(2),
        ..limits(64)
    })
    .await;
    let addr = served.addr;
    let until = Instant::now() + Duration::from_secs(4);
    // 3 attackers each keep 48 connections dripping a header line every 200 ms (over twice the
    // cap), reconnecting whatever is closed.
    let attackers: Vec<_> = (0..3)
        .map(|_| {
            tokio::spawn(async move {
                let mut held: Vec<Option<TcpStream>> = (0..48).map(|_| None).collect();
                let mut opened = 0usize;
                while Instant::now() < until && opened < 5_000 {
                    for slot in held.iter_mut() {
                        let alive = match slot {
                            Some(stream) => stream.write_all(b"X-Drip: 1\r\n").await.is_ok(),
                            None => false,
                        };
                        if !alive {
                            if let Ok(mut stream) = TcpStream::connect(addr).await {
                                let _ = stream.write_all(b"GET /healthz HTTP/1.1\r\n").await;
                                *slot = Some(stream);
                                opened += 1;
                            }
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut checks = 0;
    while Instant::now() < until {
        let started = Instant::now();
        let answer = healthz(&served).await;
        assert_eq!(answer.map(|a| a.status), Some(200), "after {checks} checks");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        checks += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for attacker in attackers {
        attacker.await.unwrap();
    }
    assert!(checks >= 10, "{checks}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_answers_the_requests_in_flight_then_ends() {
    let served = start(ServerLimits {
        head_timeout: Duration::from_secs(30),
        ..limits(16)
    })
    .await;
    let mut in_flight = TcpStream::connect(served.addr).await.unwrap();
    in_flight
        .write_all(b"GET /slow HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut idle = TcpStream::connect(served.addr).await.unwrap();
    let mut half = TcpStream::connect(served.addr).await.unwrap();
    half.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    served.stop.cancel();
    // Nothing to finish on these: closed at once (not after the head timeout).
    assert!(closed_within(&mut idle, Duration::from_secs(2)).await);
    assert!(closed_within(&mut half, Duration::from_secs(2)).await);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(TcpStream::connect(served.addr).await.is_err());
    served.release.notify_waiters();
    let answer = read_answer(&mut in_flight, Duration::from_secs(5))
        .await
        .expect("the request in flight is answered");
    assert_eq!((answer.status, answer.body.as_str()), (200, "done"));
    tokio::time::timeout(Duration::from_secs(5), served.server)
        .await
        .expect("the server ends")
        .unwrap();
}
