//! Tests of delivery from the alert log with real parts: a real alert log written with
//! `AlertLog::append`, real HTTP listeners on 127.0.0.1 (`test_support::TestServer`), real
//! cursor, marker and dead-letter files in a temp folder. Retries are fast (`quick()`).

use std::collections::HashSet;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::source::{LogIdentity, LogSource};
use super::*;
use crate::alerts::log::AlertLog;
use crate::alerts::record::{alert_id, Alert};
use crate::alerts::test_support::alert;
use crate::metrics::test_support::{count, value};
use crate::webhooks::send::verify;
use crate::webhooks::test_support::{hook, quick, SECRET};
use crate::webhooks::test_support::{Recorded, Reply, TestServer};

/// Alert `n` of saved query `query`.
fn route(query: &str, destinations: Option<Vec<String>>) -> QueryRoute {
    QueryRoute {
        query: query.into(),
        destinations,
        policy: PolicyOverride::default(),
    }
}

fn alert_of(query: &str, n: usize) -> Alert {
    let mut a = alert(n);
    a.query.name = query.into();
    a.alert_id = alert_id(query, &a.doc.id);
    a
}

/// A temp folder with an alert log and a state folder, and the metrics deliveries count in.
struct Home {
    _dir: tempfile::TempDir,
    log_path: PathBuf,
    state: PathBuf,
    log: AlertLog,
    metrics: Metrics,
}

impl Home {
    fn new() -> Home {
        let dir = tempfile::tempdir().unwrap();
        let log_path = dir.path().join("alerts.jsonl");
        let state = dir.path().join("state");
        let log = AlertLog::open(&log_path).unwrap();
        Home {
            _dir: dir,
            log_path,
            state,
            log,
            metrics: Metrics::new(),
        }
    }

    fn append(&mut self, alerts: impl IntoIterator<Item = Alert>) {
        for a in alerts {
            self.log.append(&a).unwrap();
        }
    }

    fn start(&self, webhooks: Vec<WebhookConfig>, routes: Routes) -> LogDelivery {
        LogDelivery::start(
            self.log_path.clone(),
            self.state.clone(),
            webhooks.into(),
            routes,
            quick(),
            self.metrics.clone(),
        )
        .unwrap()
    }

    fn cursor(&self, name: &str) -> Option<u64> {
        state::read_cursor(&cursor_path(&self.state, name))
            .unwrap()
            .map(|c| c.offset)
    }

    fn log_len(&self) -> u64 {
        fs::metadata(&self.log_path).unwrap().len()
    }

    fn dead_letters(&self) -> Vec<DeadLetter> {
        match fs::read_to_string(dead_letter_path(&self.state)) {
            Ok(text) => text
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect(),
            Err(_) => Vec::new(),
        }
    }
}

/// Every webhook gets every query's alerts.
fn everyone(names: &[&str]) -> Routes {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    Routes::new(&[], &names)
}

fn ids(requests: &[Recorded]) -> Vec<String> {
    requests
        .iter()
        .map(|r| r.header("webhook-id").unwrap().to_owned())
        .collect()
}

fn ids_of(alerts: &[Alert]) -> Vec<String> {
    alerts.iter().map(|a| a.alert_id.clone()).collect()
}

async fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + timeout;
    while Instant::now() < until {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    done()
}

/// The request is a signed POST whose body is exactly the alert's line in the log.
fn assert_signed_line(req: &Recorded, expected: &Alert) {
    assert_eq!(req.method, "POST");
    let id = req.header("webhook-id").unwrap();
    assert_eq!(id, expected.alert_id);
    let ts = req.header("webhook-timestamp").unwrap();
    let sig = req.header("webhook-signature").unwrap();
    assert!(verify(SECRET, id, ts, &req.body, sig), "signature {sig}");
    assert_eq!(
        std::str::from_utf8(&req.body).unwrap(),
        expected.to_json_line()
    );
}

#[test]
fn routes_table() {
    let hooks: Vec<String> = vec!["a".into(), "b".into()];
    let routes = Routes::new(
        &[
            route("only-a", Some(vec!["a".into()])),
            route("both", None),
            route("none", Some(vec![])),
        ],
        &hooks,
    );
    assert!(routes.wants("a", "only-a"));
    assert!(!routes.wants("b", "only-a"));
    assert!(routes.wants("a", "both") && routes.wants("b", "both"));
    assert!(!routes.wants("a", "none") && !routes.wants("b", "none"));
    // A query removed since still goes to every webhook.
    assert!(routes.wants("a", "removed") && routes.wants("b", "removed"));
    assert!(!routes.has_policies());
}

#[test]
fn a_query_overrides_its_destinations_policy_setting_by_setting() {
    let hourly: Policy = Policy {
        digest: Some("1h".parse().unwrap()),
        at_most: Some("10/h".parse().unwrap()),
    };
    let own = |digest: Option<&str>, at_most: Option<&str>| QueryRoute {
        policy: PolicyOverride::parse(digest, at_most).unwrap(),
        ..route("q", None)
    };
    let policy_of = |route: QueryRoute| {
        Routes::new(&[route], &["a".to_string()])
            .policy("q", &hourly)
            .into_owned()
    };
    assert_eq!(policy_of(route("q", None)), hourly);
    assert_eq!(
        policy_of(own(Some("daily at 08:00 Europe/Berlin"), None)),
        Policy {
            digest: Some("daily at 08:00 Europe/Berlin".parse().unwrap()),
            at_most: hourly.at_most,
        }
    );
    assert_eq!(
        policy_of(own(None, Some("off"))),
        Policy {
            digest: hourly.digest.clone(),
            at_most: None,
        }
    );
    assert!(policy_of(own(Some("OFF"), Some(" off "))).is_each());
    // Another query keeps the destination's.
    let routes = Routes::new(&[own(Some("off"), None)], &["a".to_string()]);
    assert!(routes.has_policies());
    assert_eq!(*routes.policy("other", &hourly), hourly);
    // Bad settings are named.
    assert_eq!(
        PolicyOverride::parse(Some("soon"), None).unwrap_err().0,
        "digest"
    );
    assert_eq!(
        PolicyOverride::parse(None, Some("0/h")).unwrap_err().0,
        "at_most"
    );
    // A webhook that is not configured gets nothing.
    assert!(!routes.wants("c", "both"));
}

#[test]
fn start_needs_a_runtime() {
    let home = Home::new();
    let result = LogDelivery::start(
        home.log_path.clone(),
        home.state.clone(),
        Destinations::default(),
        Routes::default(),
        quick(),
        Metrics::new(),
    );
    assert!(matches!(result, Err(WebhookError::NoRuntime)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivers_signed_log_lines_in_order_and_persists_the_cursor() {
    let server = TestServer::start(vec![Reply::status(200)]);
    let mut home = Home::new();
    let alerts: Vec<Alert> = (0..5).map(alert).collect();
    home.append(alerts[..2].to_vec());
    let delivery = home.start(vec![hook("ops", &server.url)], everyone(&["ops"]));
    assert!(wait_until(Duration::from_secs(5), || server.requests().len() == 2).await);
    home.append(alerts[2..].to_vec());
    delivery.notify();
    assert!(wait_until(Duration::from_secs(5), || server.requests().len() == 5).await);
    let stats = delivery.shutdown(Duration::from_secs(5)).await;
    assert_eq!((stats.delivered, stats.failed_attempts), (5, 0));
    let requests = server.requests();
    assert_eq!(requests.len(), 5);
    for (req, expected) in requests.iter().zip(&alerts) {
        assert_signed_line(req, expected);
    }
    assert_eq!(home.cursor("ops"), Some(home.log_len()));
    assert_eq!(stats.webhook("ops").unwrap().cursor, home.log_len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_500s_then_delivers_once() {
    let server = TestServer::start(vec![
        Reply::status(500),
        Reply::status(500),
        Reply::status(200),
    ]);
    let mut home = Home::new();
    home.append([alert(7), alert(8)]);
    let delivery = home.start(vec![hook("ops", &server.url)], everyone(&["ops"]));
    assert!(wait_until(Duration::from_secs(5), || server.requests().len() == 4).await);
    let stats = delivery.shutdown(Duration::from_secs(5)).await;
    assert_eq!(
        (stats.delivered, stats.failed_attempts, stats.dead_lettered),
        (2, 2, 0)
    );
    let requests = server.requests();
    assert_eq!(
        ids(&requests),
        vec![
            alert(7).alert_id,
            alert(7).alert_id,
            alert(7).alert_id,
            alert(8).alert_id
        ]
    );
    assert!(home.dead_letters().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honours_retry_after_on_429() {
    let server = TestServer::start(vec![
        Reply::status(429).header("Retry-After", "1"),
        Reply::status(200),
    ]);
    let mut home = Home::new();
    home.append([alert(1)]);
    let delivery = home.start(vec![hook("ops", &server.url)], everyone(&["ops"]));
    assert!(wait_until(Duration::from_secs(5), || server.requests().len() == 2).await);
    let stats = delivery.shutdown(Duration::from_secs(5)).await;
    assert_eq!((stats.delivered, stats.failed_attempts), (1, 1));
    let requests = server.requests();
    let gap = requests[1].at - requests[0].at;
    assert!(gap >= Duration::from_millis(950), "waited only {gap:?}");
    assert!(gap < Duration::from_secs(3), "waited {gap:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hang_past_the_timeout_is_retried() {
    let server = TestServer::start(vec![
        Reply::status(200).delay(Duration::from_secs(3)),
        Reply::status(200),
    ]);
    let mut home = Home::new();
    home.append([alert(1)]);
    let config = WebhookConfig {
        timeout_ms: 300,
        ..hook("ops", &server.url)
    };
    let started = Instant::now();
    let delivery = home.start(vec![config], everyone(&["ops"]));
    assert!(
        wait_until(Duration::from_secs(5), || delivery.stats().delivered == 1).await,
        "{:?}",
        delivery.stats()
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "did not time out"
    );
    let stats = delivery.shutdown(Duration::from_secs(5)).await;
    assert_eq!((stats.delivered, stats.failed_attempts), (1, 1));
    let requests = server.requests();
    // The first attempt failed (the server would have said 200 after 3 s) well before 3 s:
    // the per-request timeout cut it short.
    assert_eq!(requests.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_found_is_dead_lettered_at_once_and_delivery_moves_on() {
    let server = TestServer::start(vec![Reply::status(404), Reply::status(200)]);
    let mut home = Home::new();
    home.append([alert(1), alert(2)]);
    let delivery = home.start(vec![hook("ops", &server.url)], everyone(&["ops"]));
    assert!(wait_until(Duration::from_secs(5), || server.requests().len() == 2).await);
    let stats = delivery.shutdown(Duration::from_secs(5)).await;
    assert_eq!(
        (stats.delivered, stats.failed_attempts, stats.dead_lettered),
        (1, 1, 1)
    );
    assert_eq!(
        ids(&server.requests()),
        vec![alert(1).alert_id, alert(2).alert_id],
        "404 must not be retried"
    );
    let dead = home.dead_letters();
    assert_eq!(dead.len(), 1);
    let record = &dead[0];
    assert_eq!(record.webhook, "ops");
    assert_eq!(record.alert_id, alert(1).alert_id);
    assert_eq!(record.query, "rust-news");
    assert_eq!(record.attempts, 1);
    assert!(record.last_error.contains("404"), "{record:?}");
    assert_eq!(record.alert_at, "2026-11-29T10:02:03.001Z");
    assert!(chrono::DateTime::parse_from_rfc3339(&record.at).is_ok());
    assert_eq!(home.cursor("ops"), Some(home.log_len()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempts_exhausted_are_dead_lettered() {
    let server = TestServer::start(vec![Reply::status(503)]);
    let mut home = Home::new();
    home.append([alert(1)]);
    let config = WebhookConfig {
        max_attempts: 3,
        ..hook("ops", &server.url)
    };
    let delivery = home.start(vec![config], everyone(&["ops"]));
    assert!(
        wait_until(Duration::from_secs(5), || delivery.stats().dead_lettered
            == 1)
        .await
    );
    let stats = delivery.shutdown(Duration::from_secs(5)).await;
    assert_eq!(stats.failed_attempts, 3);
    assert_eq!(server.requests().len(), 3);
    assert_eq!(home.dead_letters()[0].attempts, 3);
    assert_eq!(home.cursor("ops"), Some(home.log_len()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_disables_the_webhook_across_restarts() {
    let server = TestServer::start(vec![Reply::status(410), Reply::status(200)]);
    let mut home = Home::new();
    let alerts: Vec<Alert> = (0..3).map(alert).collect();
    home.append(alerts.clone());
    let marker = disabled_path(&home.state, "ops");

    let delivery = home.start(vec![hook("ops", &server.url)], everyone(&["ops"]));
    assert!(wait_until(Duration::from_secs(5), || marker.exists()).await);
    home.append([alert(3)]);
    delivery.notify();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(server.requests().len(), 1, "nothing is sent after a 410");
    let stats = delivery.shutdown(Duration::from_secs(5)).await;
    let ops = stats.webhook("ops").unwrap();
    assert!(ops.disabled.as_deref().unwrap().contains("410"), "{ops:?}");
    assert_eq!(ops.delivered, 0);
    assert_eq!(ops.dead_lettered, 0);
    // The cursor did not move past the refused alert.
    assert_eq!(home.cursor("ops").unwrap_or(0), 0);
    let text = fs::read_to_string(&marker).unwrap();
    assert!(text.contains("410") && text.contains(&server.url), "{text}");
    assert_eq!(
        disabled_reason(&home.state, "ops").unwrap().unwrap(),
        text.lines().next().unwrap()
    );

    // A restart keeps it disabled.
    let delivery = home.start(vec![hook("ops", &server.url)], everyone(&["ops"]));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(server.requests().len(), 1);
    let stats = delivery.shutdown(Duration::from_secs(5)).await;
    assert!(stats.webhook("ops").unwrap().disabled.is_some());

    // Removing the marker re-enables it, from the alert that was refused.
    fs::remove_file(&marker).unwrap();
    let delivery = home.start(vec![hook("ops", &server.url)], everyone(&["ops"]));
    assert!(wait_until(Duration::from_secs(5), || server.requests().len() == 5).await);
    let stats = delivery.shutdown(Duration::from_secs(5)).await;
    assert_eq!(stats.delivered, 4);
    let mut expected = ids_of(&alerts);
    expected.insert(0, alerts[0].alert_id.clone());
    expected.push(alert(3).alert_id);
    assert_eq!(ids(&server.requests()), expected);
}

/// `metric{webhook="name"}` in `metrics`, if it is exported.
fn per_webhook(metrics: &Metrics, metric: &str, name: &str) -> Option<f64> {
    value(metrics, metric, &[("webhook", name)])
}

/// `lookout_webhook_failures_total{webhook="name", reason}` (0 if not exported).
fn failures(metrics: &Metrics, name: &str, reason: &str) -> f64 {
    let labels = [("webhook", name), ("reason", reason)];
    count(metrics, "lookout_webhook_failures_total", &labels)
}

/// `lookout_sink_alerts_total{sink="webhook:name"}`, if it is exported.
fn delivered(metrics: &Metrics, name: &str) -> Option<f64> {
    let sink = format!("webhook:{name}");
    value(metrics, "lookout_sink_alerts_total", &[("sink", &sink)])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_attempts_failures_deliveries_dead_letters_and_backlog() {
    const ATTEMPTS: &str = "lookout_webhook_attempts_total";
    const DEAD: &str = "lookout_webhook_dead_letters_total";
    const BACKLOG: &str = "lookout_webhook_backlog_bytes";
    const DISABLED: &str = "lookout_webhook_disabled";
    // ops: alert 0 gets a 503 then a 200, alert 1 a 404 (dead letter), alerts 2 and 3 a 200.
    let ops = TestServer::start(vec![
        Reply::status(503),
        Reply::status(200),
        Reply::status(404),
        Reply::status(200),
    ]);
    let gone = TestServer::start(vec![Reply::status(410)]);
    // Nobody listens there: delivery keeps retrying, and the whole log is its backlog.
    let down = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = probe.local_addr().unwrap().port();
        format!("http://127.0.0.1:{port}/hook")
    };
    let mut home = Home::new();
    home.append((0..4).map(alert));
    let log_len = home.log_len() as f64;
    let m = home.metrics.clone();
    let webhooks = vec![
        hook("ops", &ops.url),
        hook("gone", &gone.url),
        hook("down", &down),
    ];
    let routes = everyone(&["ops", "gone", "down"]);
    let delivery = home.start(webhooks.clone(), routes.clone());
    // The backlog is reported after each settled line, so ops's reaching 0 means it is done.
    let settled = || {
        delivered(&m, "ops") == Some(3.0)
            && per_webhook(&m, DEAD, "ops") == Some(1.0)
            && per_webhook(&m, BACKLOG, "ops") == Some(0.0)
            && per_webhook(&m, DISABLED, "gone") == Some(1.0)
            && per_webhook(&m, BACKLOG, "down") == Some(log_len)
    };
    assert!(
        wait_until(Duration::from_secs(5), settled).await,
        "{:?}\n{}",
        delivery.stats(),
        m.encode_prometheus_text()
    );

    assert_eq!(per_webhook(&m, ATTEMPTS, "ops"), Some(5.0));
    assert_eq!(failures(&m, "ops", "status"), 2.0);
    assert_eq!(per_webhook(&m, DISABLED, "ops"), Some(0.0));
    // The metrics and the delivery's own stats agree.
    let stats = delivery.stats();
    let ops_stats = stats.webhook("ops").unwrap();
    assert_eq!((ops_stats.delivered, ops_stats.failed_attempts), (3, 2));

    assert_eq!(per_webhook(&m, ATTEMPTS, "gone"), Some(1.0));
    assert_eq!(failures(&m, "gone", "status"), 1.0);
    // Its other series exist from the start, at zero.
    assert_eq!(delivered(&m, "gone"), Some(0.0));
    assert_eq!(per_webhook(&m, DEAD, "gone"), Some(0.0));

    // Still retrying: read the failures first, then the attempts (which only grow).
    let refused = failures(&m, "down", "connect");
    assert!(refused >= 1.0);
    assert!(per_webhook(&m, ATTEMPTS, "down").unwrap() >= refused);
    assert_eq!(delivered(&m, "down"), Some(0.0));
    assert_eq!(failures(&m, "down", "status"), 0.0);
    delivery.shutdown(Duration::from_secs(5)).await;

    // A restart reports the disabled webhook at once (its marker), in a fresh registry too.
    let fresh = Metrics::new();
    let delivery = LogDelivery::start(
        home.log_path.clone(),
        home.state.clone(),
        webhooks.into(),
        routes,
        quick(),
        fresh.clone(),
    )
    .unwrap();
    assert_eq!(per_webhook(&fresh, DISABLED, "gone"), Some(1.0));
    assert_eq!(per_webhook(&fresh, ATTEMPTS, "gone"), Some(0.0));
    delivery.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_that_is_down_then_up_gets_everything_once_in_order() {
    // Reserve a port, then close it: connections are refused until the server starts there.
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/hook");
    let mut home = Home::new();
    let alerts: Vec<Alert> = (0..6).map(alert).collect();
    home.append(alerts[..3].to_vec());
    let config = WebhookConfig {
        max_attempts: 1_000,
        ..hook("ops", &url)
    };
    let delivery = home.start(vec![config], everyone(&["ops"]));
    home.append(alerts[3..].to_vec());
    delivery.notify();
    assert!(
        wait_until(Duration::from_secs(3), || delivery.stats().failed_attempts
            >= 5)
        .await,
        "{:?}",
        delivery.stats()
    );
    assert_eq!(delivery.stats().delivered, 0);

    let server = TestServer::start_on(&format!("127.0.0.1:{port}"), vec![Reply::status(200)]);
    assert!(wait_until(Duration::from_secs(5), || server.requests().len() == 6).await);
    let stats = delivery.shutdown(Duration::from_secs(5)).await;
    assert_eq!((stats.delivered, stats.dead_lettered), (6, 0));
    let requests = server.requests();
    assert_eq!(ids(&requests), ids_of(&alerts), "in order, none twice");
    assert!(home.dead_letters().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_shutdown_a_restart_sends_only_new_alerts() {
    let server = TestServer::start(vec![Reply::status(200)]);
    let mut home = Home::new();
    let alerts: Vec<Alert> = (0..8).map(alert).collect();
    home.append(alerts[..5].to_vec());
    let delivery = home.start(vec![hook("ops", &server.url)], everyone(&["ops"]));
    assert!(wait_until(Duration::from_secs(5), || server.requests().len() == 5).await);
    delivery.shutdown(Duration::from_secs(5)).await;
    assert_eq!(home.cursor("ops"), Some(home.log_len()));

    // Written while the delivery was down (the log reopened, as by a restarted daemon).
    drop(std::mem::replace(
        &mut home.log,
        AlertLog::open(&home.log_path).unwrap(),
    ));
    home.append(alerts[5..].to_vec());
    let delivery = home.start(vec![hook("ops", &server.url)], everyone(&["ops"]));
    assert!(wait_until(Duration::from_secs(5), || server.requests().len() == 8).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stats = delivery.shutdown(Duration::from_secs(5)).await;
    assert_eq!(stats.delivered, 3);
    assert_eq!(ids(&server.requests()), ids_of(&alerts), "ids never twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_delivery_resends_at_most_what_follows_its_persisted_cursor() {
    let server = TestServer::start(vec![Reply::status(200)]);
    let mut home = Home::new();
    let alerts: Vec<Alert> = (0..400).map(alert).collect();
    home.append(alerts.clone());
    let delivery = home.start(vec![hook("ops", &server.url)], everyone(&["ops"]));
    assert!(wait_until(Duration::from_secs(8), || server.requests().len() >= 250).await);
    // A crash: no shutdown, the tasks are aborted mid-way.
    drop(delivery);
    // Let a cursor write already handed to the blocking pool land.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let first_run = ids(&server.requests());
    let cursor = home
        .cursor("ops")
        .expect("a cursor was persisted on the way");

    // The alerts at or after the cursor.
    let mut offset = 0u64;
    let mut after_cursor = Vec::new();
    for a in &alerts {
        if offset >= cursor {
            after_cursor.push(a.alert_id.clone());
        }
        offset += a.to_json_line().len() as u64 + 1;
    }
    assert!(
        after_cursor.len() <= alerts.len() - first_run.len() + 100,
        "the cursor lags by at most 100 alerts: {} after it, {} sent",
        after_cursor.len(),
        first_run.len()
    );

    let delivery = home.start(vec![hook("ops", &server.url)], everyone(&["ops"]));
    let total = first_run.len() + after_cursor.len();
    assert!(wait_until(Duration::from_secs(8), || server.requests().len() >= total).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    delivery.shutdown(Duration::from_secs(5)).await;
    let all = ids(&server.requests());
    assert_eq!(all.len(), total);
    assert_eq!(all[first_run.len()..], after_cursor[..]);
    let seen: HashSet<&String> = all.iter().collect();
    assert_eq!(seen.len(), alerts.len(), "every alert delivered");
    assert_eq!(home.cursor("ops"), Some(home.log_len()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_webhook_receives_only_its_routed_queries() {
    let a = TestServer::start(vec![Reply::status(200)]);
    let b = TestServer::start(vec![Reply::status(200)]);
    let mut home = Home::new();
    let names = vec!["a".to_string(), "b".to_string()];
    let routes = Routes::new(
        &[
            route("to-a", Some(vec!["a".into()])),
            route("to-b", Some(vec!["b".into()])),
            route("to-all", None),
        ],
        &names,
    );
    let alerts = vec![
        alert_of("to-a", 1),
        alert_of("to-b", 2),
        alert_of("to-all", 3),
        alert_of("removed-since", 4),
        alert_of("to-a", 5),
    ];
    home.append(alerts.clone());
    let delivery = home.start(vec![hook("a", &a.url), hook("b", &b.url)], routes);
    assert!(
        wait_until(Duration::from_secs(5), || a.requests().len() == 4
            && b.requests().len() == 3)
        .await
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stats = delivery.shutdown(Duration::from_secs(5)).await;
    let pick = |idx: &[usize]| {
        idx.iter()
            .map(|&i| alerts[i].alert_id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&a.requests()), pick(&[0, 2, 3, 4]));
    assert_eq!(ids(&b.requests()), pick(&[1, 2, 3]));
    assert_eq!(stats.webhook("a").unwrap().delivered, 4);
    assert_eq!(stats.webhook("b").unwrap().delivered, 3);
    // Both cursors are at the end: alerts of other routes are passed over, not waited for.
    assert_eq!(home.cursor("a"), Some(home.log_len()));
    assert_eq!(home.cursor("b"), Some(home.log_len()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_webhook_does_not_delay_another() {
    // A listener that never accepts: requests to it hang until their timeout.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hang_url = format!("http://{}/hook", silent.local_addr().unwrap());
    let fast = TestServer::start(vec![Reply::status(200)]);
    let mut home = Home::new();
    let alerts: Vec<Alert> = (0..5).map(alert).collect();
    let slow = WebhookConfig {
        timeout_ms: 30_000,
        ..hook("slow", &hang_url)
    };
    let delivery = home.start(
        vec![slow, hook("fast", &fast.url)],
        everyone(&["slow", "fast"]),
    );
    let started = Instant::now();
    home.append(alerts.clone());
    delivery.notify();
    assert!(wait_until(Duration::from_secs(2), || fast.requests().len() == 5).await);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(ids(&fast.requests()), ids_of(&alerts));

    let shutting = Instant::now();
    let stats = delivery.shutdown(Duration::from_millis(200)).await;
    assert!(shutting.elapsed() < Duration::from_secs(2));
    let slow_stats = stats.webhook("slow").unwrap();
    assert!(slow_stats.cut_off, "{slow_stats:?}");
    assert_eq!(slow_stats.delivered, 0);
    assert!(!stats.webhook("fast").unwrap().cut_off);
    // The slow webhook's cursor stays before the alert it could not deliver.
    assert_eq!(home.cursor("slow").unwrap_or(0), 0);
    assert_eq!(home.cursor("fast"), Some(home.log_len()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_lines_wait_and_malformed_lines_are_skipped() {
    let server = TestServer::start(vec![Reply::status(200)]);
    let mut home = Home::new();
    home.append([alert(1)]);
    let delivery = home.start(vec![hook("ops", &server.url)], everyone(&["ops"]));
    assert!(wait_until(Duration::from_secs(5), || server.requests().len() == 1).await);

    let mut raw = OpenOptions::new()
        .append(true)
        .open(&home.log_path)
        .unwrap();
    raw.write_all(b"not an alert\n\n").unwrap();
    let line = format!("{}\n", alert(2).to_json_line());
    let (head, tail) = line.as_bytes().split_at(40);
    raw.write_all(head).unwrap();
    delivery.notify();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        server.requests().len(),
        1,
        "a partial line is not delivered"
    );
    let partial_start = home.log_len() - head.len() as u64;
    assert!(
        wait_until(Duration::from_secs(2), || home.cursor("ops")
            == Some(partial_start))
        .await
    );

    raw.write_all(tail).unwrap();
    delivery.notify();
    assert!(wait_until(Duration::from_secs(5), || server.requests().len() == 2).await);
    let stats = delivery.shutdown(Duration::from_secs(5)).await;
    assert_eq!((stats.delivered, stats.malformed), (2, 1));
    assert_signed_line(&server.requests()[1], &alert(2));
    assert_eq!(home.cursor("ops"), Some(home.log_len()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_log_is_delivered_from_its_start() {
    let server = TestServer::start(vec![Reply::status(200)]);
    let mut home = Home::new();
    home.append((0..4).map(alert));
    let delivery = home.start(vec![hook("ops", &server.url)], everyone(&["ops"]));
    assert!(wait_until(Duration::from_secs(5), || server.requests().len() == 4).await);
    delivery.shutdown(Duration::from_secs(5)).await;

    // Another, longer log in its place: the old offset would land mid-line or skip alerts.
    fs::remove_file(&home.log_path).unwrap();
    home.log = AlertLog::open(&home.log_path).unwrap();
    home.append((10..16).map(alert));
    let delivery = home.start(vec![hook("ops", &server.url)], everyone(&["ops"]));
    assert!(wait_until(Duration::from_secs(5), || server.requests().len() == 10).await);
    delivery.shutdown(Duration::from_secs(5)).await;
    let expected: Vec<String> = (0..4).chain(10..16).map(|n| alert(n).alert_id).collect();
    assert_eq!(ids(&server.requests()), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_log_is_finished_then_the_new_one_followed() {
    let server = TestServer::start(vec![Reply::status(200)]);
    let mut home = Home::new();
    home.append([alert(0), alert(1)]);
    let delivery = home.start(vec![hook("ops", &server.url)], everyone(&["ops"]));
    assert!(wait_until(Duration::from_secs(5), || server.requests().len() == 2).await);
    // The writer adds a line, then the log is rotated by rename and a new one started.
    home.append([alert(2)]);
    fs::rename(&home.log_path, home.log_path.with_extension("jsonl.1")).unwrap();
    home.log = AlertLog::open(&home.log_path).unwrap();
    home.append([alert(3), alert(4)]);
    delivery.notify();
    assert!(wait_until(Duration::from_secs(5), || server.requests().len() == 5).await);
    delivery.shutdown(Duration::from_secs(5)).await;
    assert_eq!(
        ids(&server.requests()),
        (0..5).map(|n| alert(n).alert_id).collect::<Vec<_>>()
    );
    assert_eq!(home.cursor("ops"), Some(home.log_len()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_all_or_since_a_time_without_touching_the_cursor() {
    let server = TestServer::start(vec![Reply::status(200)]);
    let mut home = Home::new();
    let names = vec!["ops".to_string(), "other".to_string()];
    let routes = Routes::new(&[route("elsewhere", Some(vec!["other".into()]))], &names);
    let mut alerts: Vec<Alert> = (0..5).map(alert).collect();
    alerts.insert(2, alert_of("elsewhere", 9));
    home.append(alerts.clone());
    let config = hook("ops", &server.url);

    let all = replay(
        &home.log_path,
        &config.clone().into(),
        &routes,
        None,
        quick(),
        &home.metrics,
    )
    .await
    .unwrap();
    assert_eq!((all.selected, all.delivered, all.skipped), (5, 5, 1));
    let mine: Vec<String> = (0..5).map(|n| alert(n).alert_id).collect();
    assert_eq!(ids(&server.requests()), mine);
    for (req, n) in server.requests().iter().zip(0..) {
        assert_signed_line(req, &alert(n));
    }

    let since = alert(3).at;
    let recent = replay(
        &home.log_path,
        &config.clone().into(),
        &routes,
        Some(since),
        quick(),
        &home.metrics,
    )
    .await
    .unwrap();
    assert_eq!(
        (recent.selected, recent.delivered, recent.skipped),
        (2, 2, 4)
    );
    assert_eq!(ids(&server.requests()[5..]), mine[3..]);
    assert!(!cursor_path(&home.state, "ops").exists());
    assert!(!home.state.exists(), "replay writes no state");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_counts_failures_and_stops_at_gone() {
    let failing = TestServer::start(vec![Reply::status(404), Reply::status(200)]);
    let gone = TestServer::start(vec![Reply::status(200), Reply::status(410)]);
    let mut home = Home::new();
    home.append((0..3).map(alert));
    let routes = everyone(&["f", "g"]);
    let stats = replay(
        &home.log_path,
        &hook("f", &failing.url).into(),
        &routes,
        None,
        quick(),
        &home.metrics,
    )
    .await
    .unwrap();
    assert_eq!(
        (stats.delivered, stats.failed, stats.failed_attempts),
        (2, 1, 1)
    );
    let f = [("webhook", "f")];
    assert_eq!(
        count(&home.metrics, "lookout_webhook_attempts_total", &f),
        3.0
    );
    let status = [("webhook", "f"), ("reason", "status")];
    assert_eq!(
        count(&home.metrics, "lookout_webhook_failures_total", &status),
        1.0
    );
    let sink = [("sink", "webhook:f")];
    assert_eq!(
        count(&home.metrics, "lookout_sink_alerts_total", &sink),
        2.0
    );
    let stats = replay(
        &home.log_path,
        &hook("g", &gone.url).into(),
        &routes,
        None,
        quick(),
        &home.metrics,
    )
    .await
    .unwrap();
    assert_eq!((stats.delivered, stats.failed), (1, 1));
    assert!(stats.gone.as_deref().unwrap().contains("410"));
    assert_eq!(gone.requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_refuses_a_corrupt_cursor_and_bad_webhooks() {
    let home = Home::new();
    fs::create_dir_all(home.state.join("webhooks")).unwrap();
    fs::write(cursor_path(&home.state, "ops"), "garbage").unwrap();
    let err = LogDelivery::start(
        home.log_path.clone(),
        home.state.clone(),
        vec![hook("ops", "http://127.0.0.1:9/")].into(),
        everyone(&["ops"]),
        quick(),
        Metrics::new(),
    )
    .unwrap_err();
    assert!(matches!(err, WebhookError::CorruptCursor { .. }), "{err}");
    let dup = LogDelivery::start(
        home.log_path.clone(),
        home.state.clone(),
        vec![
            hook("a", "http://127.0.0.1:9/"),
            hook("a", "http://127.0.0.1:10/"),
        ]
        .into(),
        everyone(&["a"]),
        quick(),
        Metrics::new(),
    );
    assert!(matches!(dup, Err(WebhookError::InvalidWebhook { .. })));
}

#[test]
fn resume_checks_the_cursor_against_the_log() {
    let mut home = Home::new();
    home.append((0..3).map(alert));
    let first = alert(0).to_json_line().len() as u64 + 1;
    // Read one line to learn the log's identity.
    let mut source = LogSource::new(&home.log_path, true);
    let batch = source.next_batch(1, 1 << 20).unwrap();
    assert_eq!(batch.lines.len(), 1);
    assert_eq!(batch.lines[0].end, first);
    let identity = batch.identity.clone();
    assert!(identity.first_line.is_some());

    let (source, why) = LogSource::resume(&home.log_path, first, identity.clone()).unwrap();
    assert_eq!(why, None);
    assert_eq!(source.position().0, first);
    // Not at a line start.
    let (_, why) = LogSource::resume(&home.log_path, first + 3, identity.clone()).unwrap();
    assert!(why.unwrap().contains("start of a line"));
    // Past the end.
    let (_, why) = LogSource::resume(&home.log_path, 1 << 30, identity.clone()).unwrap();
    assert!(why.unwrap().contains("shorter"));
    // Another first line.
    let other = LogIdentity {
        first_line: Some("0".repeat(32)),
        ..identity.clone()
    };
    let (source, why) = LogSource::resume(&home.log_path, first, other).unwrap();
    assert!(why.unwrap().contains("another line"));
    assert_eq!(source.position().0, 0);
    // Another file.
    #[cfg(unix)]
    {
        let other = LogIdentity {
            ino: identity.ino.map(|i| i + 1),
            ..identity.clone()
        };
        let (_, why) = LogSource::resume(&home.log_path, first, other).unwrap();
        assert!(why.unwrap().contains("inode"));
    }
    // No log at all.
    let (_, why) =
        LogSource::resume(&home.log_path.with_extension("gone"), first, identity).unwrap();
    assert!(why.unwrap().contains("does not exist"));
}

/// A rotated log (and a truncated one, read again from its start) keeps the open digests: every
/// alert read before is still in them, none counted twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_digests_survive_a_rotated_and_a_truncated_log() {
    let server = TestServer::start(vec![Reply::status(200)]);
    let mut home = Home::new();
    let now = |n: usize| {
        let mut a = alert(n);
        a.at = chrono::Utc::now();
        a
    };
    home.append([now(0), now(1)]);
    let mut config = hook("ops", &server.url);
    // A window that does not end during the test: the digest stays open.
    config.digest = Some("30days".into());
    let open_count = |home: &Home| {
        state::read_cursor(&cursor_path(&home.state, "ops"))
            .unwrap()
            .map_or(0, |c| c.digests.open().iter().map(|d| d.count).sum::<u64>())
    };
    let delivery = home.start(vec![config.clone()], everyone(&["ops"]));
    assert!(wait_until(Duration::from_secs(5), || open_count(&home) == 2).await);
    fs::rename(&home.log_path, home.log_path.with_extension("jsonl.1")).unwrap();
    home.log = AlertLog::open(&home.log_path).unwrap();
    home.append([now(2), now(3), now(4)]);
    delivery.notify();
    assert!(wait_until(Duration::from_secs(5), || open_count(&home) == 5).await);
    delivery.shutdown(Duration::from_secs(5)).await;
    // The new log truncated and written again with alerts read already: read again from its
    // start, they are not counted twice.
    fs::write(&home.log_path, "").unwrap();
    home.log = AlertLog::open(&home.log_path).unwrap();
    home.append([now(2), now(3), now(5)]);
    let delivery = home.start(vec![config], everyone(&["ops"]));
    assert!(wait_until(Duration::from_secs(5), || open_count(&home) == 6).await);
    delivery.shutdown(Duration::from_secs(5)).await;
    assert_eq!(open_count(&home), 6);
    assert!(server.requests().is_empty(), "nothing due yet");
}

/// A saved query's own `digest` and `at_most` change how a destination delivers its alerts, and
/// only its alerts: the destination sends each alert of other queries alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_with_its_own_policy_is_delivered_by_it_and_others_by_the_destinations() {
    let server = TestServer::start(vec![Reply::status(200)]);
    let mut home = Home::new();
    let now = |query: &str, n: usize| {
        let mut a = alert_of(query, n);
        a.at = chrono::Utc::now();
        a
    };
    let alerts = vec![
        now("quiet", 0),
        now("loud", 1),
        now("throttled", 2),
        now("quiet", 3),
        now("throttled", 4),
        now("loud", 5),
        now("throttled", 6),
    ];
    home.append(alerts.clone());
    let own = |query: &str, digest: Option<&str>, at_most: Option<&str>| QueryRoute {
        policy: PolicyOverride::parse(digest, at_most).unwrap(),
        ..route(query, None)
    };
    let routes = Routes::new(
        &[
            // A window that does not end during the test: the digest stays open.
            own("quiet", Some("30days"), None),
            route("loud", None),
            own("throttled", None, Some("1/30days")),
        ],
        &["ops".to_string()],
    );
    let open_count = |home: &Home| {
        state::read_cursor(&cursor_path(&home.state, "ops"))
            .unwrap()
            .map_or(0, |c| c.digests.open().iter().map(|d| d.count).sum::<u64>())
    };
    let delivery = home.start(vec![hook("ops", &server.url)], routes);
    assert!(
        wait_until(Duration::from_secs(5), || server.requests().len() == 3
            && open_count(&home) == 4)
        .await
    );
    delivery.shutdown(Duration::from_secs(5)).await;
    let sent: Vec<&Alert> = [1, 2, 5].iter().map(|&i| &alerts[i]).collect();
    assert_eq!(
        ids(&server.requests()),
        sent.iter().map(|a| a.alert_id.clone()).collect::<Vec<_>>(),
        "loud's two alerts and throttled's first go alone"
    );
    assert_eq!(
        open_count(&home),
        4,
        "quiet's two and throttled's last two wait"
    );
}
