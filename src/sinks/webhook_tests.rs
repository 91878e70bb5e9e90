//! Tests of webhook signing and delivery against a real HTTP listener on 127.0.0.1 (see
//! `test_support::TestServer`): signatures, headers, retries, `Retry-After`, timeouts,
//! permanent errors, the full-queue and shutdown paths, and configuration checks.

use std::time::{Duration, Instant};

use crate::sinks::record::Alert;
use crate::sinks::test_support::{alert, Recorded, Reply, TestServer};
use crate::sinks::webhook::{
    sign, verify, RetryPolicy, WebhookConfig, WebhookDispatcher, QUEUE_CAPACITY, USER_AGENT,
};
use crate::sinks::SinkError;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// Fast retries for tests.
fn quick() -> RetryPolicy {
    RetryPolicy::new(Duration::from_millis(10), Duration::from_millis(50))
}

fn hook(name: &str, url: &str) -> WebhookConfig {
    WebhookConfig {
        secret: Some(SECRET.into()),
        ..WebhookConfig::new(name, url)
    }
}

/// Check a recorded request is a correctly signed POST of `expected`.
fn assert_signed_delivery(req: &Recorded, expected: &Alert) {
    assert_eq!(req.method, "POST");
    assert_eq!(req.url, "/hook");
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert_eq!(req.header("user-agent"), Some(USER_AGENT));
    assert!(USER_AGENT.starts_with("lookout/"));
    let id = req.header("webhook-id").expect("webhook-id");
    assert_eq!(id, expected.alert_id);
    let ts = req.header("webhook-timestamp").expect("webhook-timestamp");
    let now = chrono::Utc::now().timestamp();
    assert!(
        (ts.parse::<i64>().unwrap() - now).abs() < 60,
        "timestamp {ts}"
    );
    let sig = req.header("webhook-signature").expect("webhook-signature");
    assert!(verify(SECRET, id, ts, &req.body, sig), "signature {sig}");
    let body = std::str::from_utf8(&req.body).unwrap();
    assert_eq!(&Alert::from_json_line(body).unwrap(), expected);
}

#[test]
fn standard_webhooks_test_vector() {
    let msg_id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    let body = br#"{"test": 2432232314}"#;
    let expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    assert_eq!(sign(SECRET, msg_id, 1614265330, body).unwrap(), expected);
    assert!(verify(SECRET, msg_id, "1614265330", body, expected));
    // Any entry of a space-separated list may match.
    let list = format!("v1,bm90IGl0 v2,abc {expected}");
    assert!(verify(SECRET, msg_id, "1614265330", body, &list));
    // Anything changed fails.
    assert!(!verify(SECRET, msg_id, "1614265331", body, expected));
    assert!(!verify(SECRET, "msg_other", "1614265330", body, expected));
    assert!(!verify(SECRET, msg_id, "1614265330", b"{}", expected));
    assert!(!verify("whsec_AAAA", msg_id, "1614265330", body, expected));
    assert!(!verify(
        SECRET,
        msg_id,
        "1614265330",
        body,
        &expected.replace("v1", "v2")
    ));
    assert!(!verify(SECRET, msg_id, "soon", body, expected));
    assert!(!verify(SECRET, msg_id, "1614265330", body, ""));
}

#[test]
fn raw_and_bad_secrets() {
    let sig = sign("plain secret", "id", 5, b"body").unwrap();
    assert!(sig.starts_with("v1,"));
    assert!(verify("plain secret", "id", "5", b"body", &sig));
    assert!(!verify("plain secreT", "id", "5", b"body", &sig));
    // Unpadded and padded base64 keys are the same key.
    assert_eq!(
        sign("whsec_AAE", "id", 5, b"b").unwrap(),
        sign("whsec_AAE=", "id", 5, b"b").unwrap()
    );
    assert!(matches!(
        sign("whsec_not base64!", "id", 5, b""),
        Err(SinkError::InvalidSecret { .. })
    ));
    assert!(sign("", "id", 5, b"").is_err());
    assert!(sign("whsec_", "id", 5, b"").is_err());
}

#[test]
fn config_defaults_and_unknown_fields() {
    let config: WebhookConfig =
        serde_json::from_str(r#"{"name":"ops","url":"https://example.com/h"}"#).unwrap();
    assert_eq!(config, WebhookConfig::new("ops", "https://example.com/h"));
    assert_eq!(config.timeout_ms, 5000);
    assert_eq!(config.max_attempts, 5);
    assert_eq!(config.secret, None);
    let typo = serde_json::from_str::<WebhookConfig>(
        r#"{"name":"ops","url":"https://example.com/h","secrets":"x"}"#,
    );
    assert!(typo.is_err());
}

#[test]
fn config_validation() {
    assert!(WebhookConfig::new("ok", "http://127.0.0.1:9/x")
        .validate()
        .is_ok());
    for (config, needle) in [
        (WebhookConfig::new("a", "ftp://example.com/"), "http"),
        (WebhookConfig::new("a", "not a url"), "not a valid URL"),
        (WebhookConfig::new(" ", "https://example.com/"), "name"),
        (
            WebhookConfig {
                max_attempts: 0,
                ..WebhookConfig::new("a", "https://example.com/")
            },
            "max_attempts",
        ),
        (
            WebhookConfig {
                timeout_ms: 0,
                ..WebhookConfig::new("a", "https://example.com/")
            },
            "timeout_ms",
        ),
        (
            WebhookConfig {
                secret: Some("whsec_%%%".into()),
                ..WebhookConfig::new("a", "https://example.com/")
            },
            "base64",
        ),
    ] {
        let err = config.validate().unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, SinkError::InvalidWebhook { .. }), "{msg}");
        assert!(msg.contains(needle), "{msg:?} should mention {needle:?}");
    }
}

#[test]
fn start_needs_a_runtime() {
    let result = WebhookDispatcher::start(vec![]);
    assert!(matches!(result, Err(SinkError::NoRuntime)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_rejects_bad_and_duplicate_webhooks() {
    let bad = WebhookDispatcher::start(vec![WebhookConfig::new("a", "file:///etc/passwd")]);
    assert!(matches!(bad, Err(SinkError::InvalidWebhook { .. })));
    let dup = WebhookDispatcher::start(vec![
        WebhookConfig::new("a", "http://127.0.0.1:9/"),
        WebhookConfig::new("a", "http://127.0.0.1:10/"),
    ]);
    let err = dup.unwrap_err().to_string();
    assert!(err.contains("\"a\""), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivers_signed_alerts_in_order() {
    let server = TestServer::start(vec![Reply::status(200)]);
    let dispatcher = WebhookDispatcher::start(vec![hook("ops", &server.url)]).unwrap();
    let alerts: Vec<Alert> = (0..5).map(alert).collect();
    for a in &alerts {
        dispatcher.send("ops", a);
    }
    let stats = dispatcher.shutdown(Duration::from_secs(10)).await;
    assert_eq!(stats.enqueued, 5);
    assert_eq!(stats.delivered, 5);
    assert_eq!(stats.failed + stats.dropped + stats.abandoned, 0);
    let requests = server.requests();
    assert_eq!(requests.len(), 5);
    for (req, expected) in requests.iter().zip(&alerts) {
        assert_signed_delivery(req, expected);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_means_no_signature() {
    let server = TestServer::start(vec![Reply::status(204)]);
    let dispatcher =
        WebhookDispatcher::start(vec![WebhookConfig::new("plain", &server.url)]).unwrap();
    dispatcher.send("plain", &alert(1));
    let stats = dispatcher.shutdown(Duration::from_secs(10)).await;
    assert_eq!(stats.delivered, 1);
    let req = &server.requests()[0];
    assert!(req.header("webhook-signature").is_none());
    assert!(req.header("webhook-id").is_some());
    assert!(req.header("webhook-timestamp").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_ascii_ids_are_header_safe_and_still_verify() {
    let server = TestServer::start(vec![Reply::status(200)]);
    let dispatcher = WebhookDispatcher::start(vec![hook("ops", &server.url)]).unwrap();
    let mut a = alert(1);
    a.query.name = "café news".into();
    a.alert_id = crate::sinks::alert_id(&a.query.name, &a.doc.id);
    dispatcher.send("ops", &a);
    assert_eq!(
        dispatcher.shutdown(Duration::from_secs(10)).await.delivered,
        1
    );
    let req = &server.requests()[0];
    let id = req.header("webhook-id").unwrap();
    assert!(id.starts_with("q:caf%C3%A9%20news/d:"), "{id}");
    let ts = req.header("webhook-timestamp").unwrap();
    let sig = req.header("webhook-signature").unwrap();
    assert!(verify(SECRET, id, ts, &req.body, sig));
    let body = std::str::from_utf8(&req.body).unwrap();
    assert_eq!(Alert::from_json_line(body).unwrap(), a);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_server_errors_until_delivered() {
    let server = TestServer::start(vec![
        Reply::status(500),
        Reply::status(500),
        Reply::status(200),
    ]);
    let dispatcher =
        WebhookDispatcher::start_with_policy(vec![hook("ops", &server.url)], quick()).unwrap();
    dispatcher.send("ops", &alert(7));
    let stats = dispatcher.shutdown(Duration::from_secs(10)).await;
    assert_eq!((stats.delivered, stats.failed), (1, 0));
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    for req in &requests {
        assert_signed_delivery(req, &alert(7));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gives_up_after_max_attempts() {
    let server = TestServer::start(vec![Reply::status(503)]);
    let config = WebhookConfig {
        max_attempts: 3,
        ..hook("ops", &server.url)
    };
    let dispatcher = WebhookDispatcher::start_with_policy(vec![config], quick()).unwrap();
    dispatcher.send("ops", &alert(1));
    let stats = dispatcher.shutdown(Duration::from_secs(10)).await;
    assert_eq!((stats.delivered, stats.failed), (0, 1));
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honours_retry_after_on_429() {
    let server = TestServer::start(vec![
        Reply::status(429).header("Retry-After", "1"),
        Reply::status(200),
    ]);
    let dispatcher =
        WebhookDispatcher::start_with_policy(vec![hook("ops", &server.url)], quick()).unwrap();
    dispatcher.send("ops", &alert(1));
    let stats = dispatcher.shutdown(Duration::from_secs(10)).await;
    assert_eq!(stats.delivered, 1);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    let gap = requests[1].at - requests[0].at;
    assert!(gap >= Duration::from_millis(950), "waited only {gap:?}");
    assert!(gap < Duration::from_secs(3), "waited {gap:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_after_a_timeout() {
    let server = TestServer::start(vec![
        Reply::status(200).delay(Duration::from_secs(3)),
        Reply::status(200),
    ]);
    let config = WebhookConfig {
        timeout_ms: 300,
        ..hook("ops", &server.url)
    };
    let dispatcher = WebhookDispatcher::start_with_policy(vec![config], quick()).unwrap();
    let started = Instant::now();
    dispatcher.send("ops", &alert(1));
    let stats = dispatcher.shutdown(Duration::from_secs(10)).await;
    assert_eq!((stats.delivered, stats.failed), (1, 0));
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    let gap = requests[1].at - requests[0].at;
    assert!(
        gap >= Duration::from_millis(290),
        "retried after only {gap:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "did not time out"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_errors_are_permanent_except_the_retryable_ones() {
    let not_found = TestServer::start(vec![Reply::status(404), Reply::status(200)]);
    let timeout = TestServer::start(vec![Reply::status(408), Reply::status(200)]);
    let moved = TestServer::start(vec![
        Reply::status(301).header("Location", "http://127.0.0.1:9/"),
        Reply::status(200),
    ]);
    let dispatcher = WebhookDispatcher::start_with_policy(
        vec![
            hook("404", &not_found.url),
            hook("408", &timeout.url),
            hook("301", &moved.url),
        ],
        quick(),
    )
    .unwrap();
    dispatcher.send("404", &alert(1));
    dispatcher.send("408", &alert(2));
    dispatcher.send("301", &alert(3));
    let stats = dispatcher.shutdown(Duration::from_secs(10)).await;
    assert_eq!((stats.delivered, stats.failed), (1, 2));
    assert_eq!(not_found.requests().len(), 1, "404 must not be retried");
    assert_eq!(timeout.requests().len(), 2, "408 is retried");
    assert_eq!(
        moved.requests().len(),
        1,
        "redirects are not followed or retried"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_webhook_gets_its_own_alerts() {
    let a = TestServer::start(vec![Reply::status(200)]);
    let b = TestServer::start(vec![Reply::status(200)]);
    let dispatcher = WebhookDispatcher::start(vec![hook("a", &a.url), hook("b", &b.url)]).unwrap();
    dispatcher.send("a", &alert(1));
    dispatcher.send("b", &alert(2));
    dispatcher.send("a", &alert(3));
    dispatcher.send("nobody", &alert(4));
    dispatcher.send("nobody", &alert(5));
    let stats = dispatcher.shutdown(Duration::from_secs(10)).await;
    assert_eq!((stats.enqueued, stats.delivered, stats.dropped), (3, 3, 2));
    assert_eq!(a.requests().len(), 2);
    assert_eq!(b.requests().len(), 1);
    assert_signed_delivery(&a.requests()[1], &alert(3));
    assert_signed_delivery(&b.requests()[0], &alert(2));
    // After shutdown nothing more is accepted.
    dispatcher.send("a", &alert(6));
    assert_eq!(dispatcher.stats().dropped, 3);
    assert_eq!(a.requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_queue_drops_and_shutdown_deadline_abandons() {
    // A listener that never accepts: connections sit in the backlog, requests hang.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", silent.local_addr().unwrap());
    let dispatcher = WebhookDispatcher::start(vec![WebhookConfig::new("slow", url)]).unwrap();
    let started = Instant::now();
    let extra = 50;
    for n in 0..QUEUE_CAPACITY + extra {
        dispatcher.send("slow", &alert(n));
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "send must not block"
    );
    let stats = dispatcher.stats();
    assert_eq!(
        stats.enqueued + stats.dropped,
        (QUEUE_CAPACITY + extra) as u64
    );
    // The task may have taken one alert off the queue already.
    assert!((extra as u64 - 1..=extra as u64).contains(&stats.dropped));

    let shutting = Instant::now();
    let stats = dispatcher.shutdown(Duration::from_millis(300)).await;
    assert!(shutting.elapsed() < Duration::from_secs(3));
    assert_eq!(stats.delivered, 0);
    assert_eq!(stats.abandoned, stats.enqueued - stats.failed);
    assert!(stats.abandoned >= QUEUE_CAPACITY as u64);
}
