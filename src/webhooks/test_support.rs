//! Test helpers shared by the webhooks' tests: a signed test webhook, fast retries, and a real
//! HTTP listener on 127.0.0.1 (tiny_http) that answers from a script and records every request
//! it gets. Sample alerts are `alerts::test_support`'s.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::webhooks::send::{RetryPolicy, WebhookConfig};

/// The Standard Webhooks test secret.
pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// Fast retries for tests.
pub fn quick() -> RetryPolicy {
    RetryPolicy::new(Duration::from_millis(10), Duration::from_millis(50))
}

/// A webhook signed with [`SECRET`] and a 2 s timeout.
pub fn hook(name: &str, url: &str) -> WebhookConfig {
    WebhookConfig {
        secret: Some(SECRET.into()),
        timeout_ms: 2_000,
        ..WebhookConfig::new(name, url)
    }
}

/// How the test server answers one request.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// Wait this long before answering (to provoke client timeouts).
    pub delay: Duration,
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            delay: Duration::ZERO,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn delay(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

/// One request the test server received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Recorded {
    /// The value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A real HTTP/1.1 server on 127.0.0.1:0. Request `i` gets `script[i]`; once the script runs
/// out, its last reply repeats. Each request is answered on its own thread, so a delayed reply
/// does not hold up the next request.
pub struct TestServer {
    pub url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    pub fn start(script: Vec<Reply>) -> TestServer {
        TestServer::start_on("127.0.0.1:0", script)
    }

    /// A server on a given address, e.g. a port reserved earlier (to be down, then up).
    pub fn start_on(addr: &str, script: Vec<Reply>) -> TestServer {
        assert!(!script.is_empty());
        let server = Arc::new(tiny_http::Server::http(addr).unwrap());
        let port = server.server_addr().to_ip().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let server = Arc::clone(&server);
            let requests = Arc::clone(&requests);
            std::thread::spawn(move || {
                for mut request in server.incoming_requests() {
                    let mut body = Vec::new();
                    request.as_reader().read_to_end(&mut body).unwrap();
                    let recorded = Recorded {
                        method: request.method().to_string(),
                        url: request.url().to_string(),
                        headers: request
                            .headers()
                            .iter()
                            .map(|h| (h.field.to_string(), h.value.to_string()))
                            .collect(),
                        body,
                        at: Instant::now(),
                    };
                    let index = {
                        let mut all = requests.lock().unwrap();
                        all.push(recorded);
                        all.len() - 1
                    };
                    let reply = script[index.min(script.len() - 1)].clone();
                    std::thread::spawn(move || {
                        std::thread::sleep(reply.delay);
                        let mut response = tiny_http::Response::from_string("reply")
                            .with_status_code(reply.status);
                        for (name, value) in &reply.headers {
                            response.add_header(
                                tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes())
                                    .unwrap(),
                            );
                        }
                        // The client may have given up already.
                        let _ = request.respond(response);
                    });
                }
            })
        };
        TestServer {
            url: format!("http://127.0.0.1:{port}/hook"),
            requests,
            server,
            thread: Some(thread),
        }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
