//! Tests of webhook signing, configuration checks, and the shared request and retry loop
//! (`deliver_with_retries`) against a real HTTP listener on 127.0.0.1 (see
//! `test_support::TestServer`): signatures, headers, ids, and which answers are retried. What
//! the loop does inside `LogDelivery` and `replay` (order, 5xx retries, `Retry-After`, timeouts,
//! attempts exhausted, 404 and 410) is tested in `delivery::tests`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::alerts::record::Alert;
use crate::alerts::test_support::alert;
use crate::metrics::test_support::count;
use crate::metrics::Metrics;
use crate::webhooks::send::{
    deliver_with_retries, endpoints, http_client, sign, verify, Endpoint, Message, Outcome, Tally,
    WebhookConfig, XorShift64, USER_AGENT,
};
use crate::webhooks::test_support::{hook, quick, SECRET};
use crate::webhooks::test_support::{Recorded, Reply, TestServer};
use crate::webhooks::WebhookError;

/// The message of `alert`: its line as the alert log writes it.
fn message_of(alert: &Alert) -> Message {
    Message::from_line(&alert.alert_id, alert.to_json_line())
}

/// Send `message` to `config` through the shared retry loop as `replay` does (no stop
/// signal), with fast retries. Returns the outcome and the number of failed attempts.
async fn deliver(config: WebhookConfig, message: &Message) -> (Outcome, u64) {
    deliver_counted(config, message, &Metrics::new()).await
}

/// [`deliver`], counting in `metrics`.
async fn deliver_counted(
    config: WebhookConfig,
    message: &Message,
    metrics: &Metrics,
) -> (Outcome, u64) {
    let hook = Endpoint::new(config).unwrap();
    let client = http_client().unwrap();
    let mut rng = XorShift64::seeded(hook.name());
    let failed_attempts = AtomicU64::new(0);
    let outcome = deliver_with_retries(
        &client,
        &hook,
        &quick(),
        message,
        &mut rng,
        None,
        &Tally {
            failed_attempts: &failed_attempts,
            metrics,
        },
    )
    .await;
    (outcome, failed_attempts.load(Ordering::SeqCst))
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
        Err(WebhookError::InvalidSecret { .. })
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
        assert!(matches!(err, WebhookError::InvalidWebhook { .. }), "{msg}");
        assert!(msg.contains(needle), "{msg:?} should mention {needle:?}");
    }
}

#[test]
fn endpoints_reject_bad_and_duplicate_webhooks() {
    let bad = endpoints(vec![WebhookConfig::new("a", "file:///etc/passwd")]);
    assert!(matches!(bad, Err(WebhookError::InvalidWebhook { .. })));
    let dup = endpoints(vec![
        WebhookConfig::new("a", "http://127.0.0.1:9/"),
        WebhookConfig::new("a", "http://127.0.0.1:10/"),
    ]);
    let err = dup.err().expect("duplicate names are refused");
    assert!(matches!(err, WebhookError::InvalidWebhook { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("\"a\"") && msg.contains("another webhook"),
        "{msg}"
    );
    let two = endpoints(vec![
        WebhookConfig::new("a", "http://127.0.0.1:9/"),
        WebhookConfig::new("b", "http://127.0.0.1:9/"),
    ]);
    assert_eq!(two.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_attempt_is_a_signed_post_with_the_standard_headers() {
    let server = TestServer::start(vec![Reply::status(500), Reply::status(200)]);
    let (outcome, failed) = deliver(hook("ops", &server.url), &message_of(&alert(7))).await;
    assert!(matches!(outcome, Outcome::Delivered), "{outcome:?}");
    assert_eq!(failed, 1);
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    // The retry is signed afresh, like the first attempt.
    for req in &requests {
        assert_signed_delivery(req, &alert(7));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_means_no_signature() {
    let server = TestServer::start(vec![Reply::status(204)]);
    let config = WebhookConfig::new("plain", &server.url);
    let (outcome, _) = deliver(config, &message_of(&alert(1))).await;
    assert!(matches!(outcome, Outcome::Delivered), "{outcome:?}");
    let req = &server.requests()[0];
    assert!(req.header("webhook-signature").is_none());
    assert!(req.header("webhook-id").is_some());
    assert!(req.header("webhook-timestamp").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_ascii_ids_are_header_safe_and_still_verify() {
    let server = TestServer::start(vec![Reply::status(200)]);
    let mut a = alert(1);
    a.query.name = "café news".into();
    a.alert_id = crate::alerts::alert_id(&a.query.name, &a.doc.id);
    let (outcome, _) = deliver(hook("ops", &server.url), &message_of(&a)).await;
    assert!(matches!(outcome, Outcome::Delivered), "{outcome:?}");
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
async fn retryable_client_errors_are_retried_and_redirects_are_not_followed() {
    let timeout = TestServer::start(vec![Reply::status(408), Reply::status(200)]);
    let (outcome, failed) = deliver(hook("408", &timeout.url), &message_of(&alert(1))).await;
    assert!(matches!(outcome, Outcome::Delivered), "{outcome:?}");
    assert_eq!(failed, 1);
    assert_eq!(timeout.requests().len(), 2, "408 is retried");

    let target = TestServer::start(vec![Reply::status(200)]);
    let moved = TestServer::start(vec![
        Reply::status(301).header("Location", &target.url),
        Reply::status(200),
    ]);
    let (outcome, failed) = deliver(hook("301", &moved.url), &message_of(&alert(2))).await;
    match &outcome {
        Outcome::Failed {
            attempts: 1,
            last_error,
            permanent: true,
        } => assert!(
            last_error.contains("301") && last_error.contains("redirects are not followed"),
            "{last_error}"
        ),
        other => panic!("a redirect must fail permanently at once: {other:?}"),
    }
    assert_eq!(failed, 1);
    assert_eq!(moved.requests().len(), 1, "redirects are not retried");
    assert!(target.requests().is_empty(), "redirects are not followed");
}

/// A listener that accepts connections and closes them without answering.
fn hang_up_listener() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            drop(stream);
        }
    });
    format!("http://127.0.0.1:{port}/hook")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_attempt_and_failure_is_counted_by_reason() {
    let metrics = Metrics::new();
    let attempts = |name: &str| {
        count(
            &metrics,
            "lookout_webhook_attempts_total",
            &[("webhook", name)],
        )
    };
    let failures = |name: &str, reason: &str| {
        let labels = [("webhook", name), ("reason", reason)];
        count(&metrics, "lookout_webhook_failures_total", &labels)
    };

    // An answer that is not a 2xx, then a 2xx.
    let status = TestServer::start(vec![Reply::status(503), Reply::status(200)]);
    let (outcome, failed) = deliver_counted(
        hook("status", &status.url),
        &message_of(&alert(1)),
        &metrics,
    )
    .await;
    assert!(matches!(outcome, Outcome::Delivered), "{outcome:?}");
    assert_eq!(failed, 1);
    assert_eq!(
        (attempts("status"), failures("status", "status")),
        (2.0, 1.0)
    );

    // No answer within the timeout, then an answer in time.
    let slow = TestServer::start(vec![
        Reply::status(200).delay(Duration::from_secs(1)),
        Reply::status(200),
    ]);
    let config = WebhookConfig {
        timeout_ms: 200,
        ..hook("slow", &slow.url)
    };
    let (outcome, _) = deliver_counted(config, &message_of(&alert(2)), &metrics).await;
    assert!(matches!(outcome, Outcome::Delivered), "{outcome:?}");
    assert_eq!((attempts("slow"), failures("slow", "timeout")), (2.0, 1.0));

    // Nobody listening: without a stop signal (replay) these attempts count, and run out.
    let closed = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let config = WebhookConfig {
        max_attempts: 2,
        ..hook("down", &format!("http://127.0.0.1:{closed}/hook"))
    };
    let (outcome, _) = deliver_counted(config, &message_of(&alert(3)), &metrics).await;
    assert!(
        matches!(outcome, Outcome::Failed { attempts: 2, .. }),
        "{outcome:?}"
    );
    assert_eq!((attempts("down"), failures("down", "connect")), (2.0, 2.0));

    // Connected, then hung up on without an answer.
    let config = WebhookConfig {
        max_attempts: 2,
        ..hook("rude", &hang_up_listener())
    };
    let (outcome, _) = deliver_counted(config, &message_of(&alert(4)), &metrics).await;
    assert!(
        matches!(outcome, Outcome::Failed { attempts: 2, .. }),
        "{outcome:?}"
    );
    assert_eq!((attempts("rude"), failures("rude", "other")), (2.0, 2.0));

    // Each failure has exactly one reason.
    for name in ["status", "slow", "down", "rude"] {
        let all: f64 = ["status", "timeout", "connect", "other"]
            .iter()
            .map(|reason| failures(name, reason))
            .sum();
        let delivered = if matches!(name, "status" | "slow") {
            1.0
        } else {
            0.0
        };
        assert_eq!(all + delivered, attempts(name), "{name}");
    }
}
