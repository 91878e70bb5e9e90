//! Every metric moved once or more, encoded in both text formats, and read back with
//! prometheus-parse (a Prometheus 0.0.4 text parser) by name, labels and value.

use std::time::{Duration, UNIX_EPOCH};

use prometheus_parse::{Sample, Scrape, Value};

use super::test_support::{find, parse, scrape};
use super::*;

/// Every metric moved: counters by known amounts, two observations per histogram, gauges set.
fn busy() -> Metrics {
    let metrics = Metrics::new();
    for _ in 0..3 {
        metrics.document_ingested();
    }
    metrics.document_known();
    metrics.file_failed();
    metrics.file_failed();
    metrics.file_unchanged();
    metrics.api_documents_rejected();
    metrics.file_read_failed();
    metrics.file_read_failed();
    metrics.file_read_retried();
    metrics.set_files_awaiting_retry(1);
    metrics.alert("rust-news", AlertKind::Live);
    metrics.alert("rust-news", AlertKind::Live);
    metrics.alert("rust-news", AlertKind::Backfill);
    metrics.alert("elections", AlertKind::Live);
    metrics.sink_delivered(ALERT_LOG_SINK);
    metrics.sink_delivered(&webhook_sink("ops"));
    metrics.webhook_attempt("ops");
    metrics.webhook_attempt("ops");
    metrics.webhook_attempt("ops");
    metrics.webhook_failure("ops", WebhookFailure::Status);
    metrics.webhook_failure("ops", WebhookFailure::Timeout);
    metrics.dead_letter("ops");
    metrics.observe_ingest(Duration::from_micros(300));
    metrics.observe_ingest(Duration::from_millis(40));
    metrics.observe_drop_to_alert(Duration::from_millis(800));
    metrics.observe_drop_to_alert(Duration::from_secs(45));
    metrics.set_queue_depth("files", 7);
    metrics.set_index_size_bytes(123_456_789);
    metrics.set_documents(42);
    metrics.set_saved_queries(100_000);
    metrics.set_quarantined_files(2);
    metrics.set_last_commit(UNIX_EPOCH + Duration::from_millis(1_767_225_600_500));
    metrics.set_webhook_backlog("ops", 4096);
    metrics.set_webhook_disabled("ops", true);
    metrics
}

fn number(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> (f64, &'static str) {
    let sample = find(scrape, name, labels)
        .unwrap_or_else(|| panic!("{name}{labels:?} not found in {:#?}", scrape.samples));
    match sample.value {
        Value::Counter(v) => (v, "counter"),
        Value::Gauge(v) => (v, "gauge"),
        Value::Untyped(v) => (v, "untyped"),
        _ => panic!("{name} is not a number: {sample:?}"),
    }
}

fn counter(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    let (value, kind) = number(scrape, name, labels);
    assert_eq!(kind, "counter", "{name}");
    value
}

fn gauge(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    let (value, kind) = number(scrape, name, labels);
    assert_eq!(kind, "gauge", "{name}");
    value
}

/// The cumulative bucket counts of histogram `name`, as (le, count).
fn buckets<'a>(scrape: &'a Scrape, name: &str) -> Vec<(f64, f64)> {
    let sample: &'a Sample = find(scrape, name, &[]).unwrap_or_else(|| panic!("{name}"));
    let Value::Histogram(buckets) = &sample.value else {
        panic!("{name} is not a histogram: {sample:?}");
    };
    buckets.iter().map(|b| (b.less_than, b.count)).collect()
}

fn bucket(buckets: &[(f64, f64)], le: f64) -> f64 {
    buckets
        .iter()
        .find(|(bound, _)| *bound == le)
        .unwrap_or_else(|| panic!("no bucket le={le} in {buckets:?}"))
        .1
}

#[test]
fn every_metric_reads_back_from_the_prometheus_text_format() {
    let metrics = busy();
    let s = scrape(&metrics);

    assert_eq!(counter(&s, "lookout_documents_ingested_total", &[]), 3.0);
    assert_eq!(counter(&s, "lookout_documents_known_total", &[]), 1.0);
    assert_eq!(counter(&s, "lookout_files_failed_total", &[]), 2.0);
    assert_eq!(counter(&s, "lookout_file_read_errors_total", &[]), 2.0);
    assert_eq!(counter(&s, "lookout_file_read_retries_total", &[]), 1.0);
    assert_eq!(gauge(&s, "lookout_files_awaiting_retry", &[]), 1.0);
    assert_eq!(counter(&s, "lookout_files_unchanged_total", &[]), 1.0);
    assert_eq!(
        counter(&s, "lookout_api_documents_rejected_total", &[]),
        1.0
    );

    let alerts = "lookout_alerts_total";
    let live = [("query", "rust-news"), ("kind", "live")];
    assert_eq!(counter(&s, alerts, &live), 2.0);
    let backfill = [("query", "rust-news"), ("kind", "backfill")];
    assert_eq!(counter(&s, alerts, &backfill), 1.0);
    assert_eq!(
        counter(&s, alerts, &[("query", "elections"), ("kind", "live")]),
        1.0
    );
    assert!(find(&s, alerts, &[("query", "elections"), ("kind", "backfill")]).is_none());

    let sinks = "lookout_sink_alerts_total";
    assert_eq!(counter(&s, sinks, &[("sink", "alert_log")]), 1.0);
    assert_eq!(counter(&s, sinks, &[("sink", "webhook:ops")]), 1.0);
    let ops = [("webhook", "ops")];
    assert_eq!(counter(&s, "lookout_webhook_attempts_total", &ops), 3.0);
    let failures = "lookout_webhook_failures_total";
    for (reason, expected) in [("status", 1.0), ("timeout", 1.0)] {
        let labels = [("webhook", "ops"), ("reason", reason)];
        assert_eq!(counter(&s, failures, &labels), expected, "{reason}");
    }
    assert_eq!(counter(&s, "lookout_webhook_dead_letters_total", &ops), 1.0);

    let ingest = buckets(&s, "lookout_ingest_seconds");
    assert_eq!(ingest.len(), INGEST_BUCKETS.len() + 1, "{ingest:?}");
    assert_eq!(bucket(&ingest, 0.0005), 1.0);
    assert_eq!(bucket(&ingest, 0.025), 1.0);
    assert_eq!(bucket(&ingest, 0.05), 2.0);
    assert_eq!(bucket(&ingest, 10.0), 2.0);
    assert_eq!(bucket(&ingest, f64::INFINITY), 2.0);
    assert_eq!(number(&s, "lookout_ingest_seconds_count", &[]).0, 2.0);
    let sum = number(&s, "lookout_ingest_seconds_sum", &[]).0;
    assert!((sum - 0.0403).abs() < 1e-9, "{sum}");

    let drop = buckets(&s, "lookout_drop_to_alert_seconds");
    assert_eq!(drop.len(), DROP_TO_ALERT_BUCKETS.len() + 1, "{drop:?}");
    assert_eq!(bucket(&drop, 0.5), 0.0);
    assert_eq!(bucket(&drop, 1.0), 1.0);
    assert_eq!(bucket(&drop, 30.0), 1.0);
    assert_eq!(bucket(&drop, 60.0), 2.0);
    assert_eq!(
        number(&s, "lookout_drop_to_alert_seconds_count", &[]).0,
        2.0
    );

    assert_eq!(gauge(&s, "lookout_queue_depth", &[("queue", "files")]), 7.0);
    assert_eq!(gauge(&s, "lookout_index_size_bytes", &[]), 123_456_789.0);
    assert_eq!(gauge(&s, "lookout_index_documents", &[]), 42.0);
    assert_eq!(gauge(&s, "lookout_saved_queries", &[]), 100_000.0);
    assert_eq!(gauge(&s, "lookout_quarantined_files", &[]), 2.0);
    assert_eq!(
        gauge(&s, "lookout_last_commit_timestamp_seconds", &[]),
        1_767_225_600.5
    );
    assert_eq!(gauge(&s, "lookout_webhook_backlog_bytes", &ops), 4096.0);
    assert_eq!(gauge(&s, "lookout_webhook_disabled", &ops), 1.0);
}

#[test]
fn every_family_has_help_text_once() {
    let text = busy().encode_prometheus_text();
    let s = parse(&text);
    let families = [
        "lookout_documents_ingested_total",
        "lookout_documents_known_total",
        "lookout_files_failed_total",
        "lookout_files_unchanged_total",
        "lookout_api_documents_rejected_total",
        "lookout_file_read_errors_total",
        "lookout_file_read_retries_total",
        "lookout_files_awaiting_retry",
        "lookout_alerts_total",
        "lookout_copies_total",
        "lookout_sink_alerts_total",
        "lookout_webhook_attempts_total",
        "lookout_webhook_failures_total",
        "lookout_webhook_dead_letters_total",
        "lookout_ingest_seconds",
        "lookout_drop_to_alert_seconds",
        "lookout_queue_depth",
        "lookout_index_size_bytes",
        "lookout_index_documents",
        "lookout_saved_queries",
        "lookout_quarantined_files",
        "lookout_last_commit_timestamp_seconds",
        "lookout_webhook_backlog_bytes",
        "lookout_webhook_disabled",
    ];
    for family in families {
        let help = s.docs.get(family).map(String::as_str).unwrap_or_default();
        assert!(!help.trim().is_empty(), "{family} has no HELP in\n{text}");
        let lines = format!("# HELP {family} ");
        assert_eq!(text.matches(&lines).count(), 1, "{family}");
    }
    assert_eq!(s.docs.len(), families.len(), "{:?}", s.docs.keys());
}

#[test]
fn openmetrics_output_is_complete_and_parses() {
    let metrics = busy();
    let text = metrics.encode();
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert!(text.contains("# TYPE lookout_alerts counter"), "{text}");
    assert!(
        text.contains("# UNIT lookout_ingest_seconds seconds"),
        "{text}"
    );
    // prometheus-parse reads OpenMetrics as far as it goes: it skips `# EOF` and `# UNIT`, and
    // does not tie `TYPE lookout_alerts counter` to `lookout_alerts_total` (untyped there),
    // but every sample comes through with its labels and value.
    let s = parse(&text);
    let live = [("query", "rust-news"), ("kind", "live")];
    assert_eq!(number(&s, "lookout_alerts_total", &live).0, 2.0);
    assert_eq!(
        number(&s, "lookout_webhook_attempts_total", &[("webhook", "ops")]).0,
        3.0
    );
    assert_eq!(bucket(&buckets(&s, "lookout_ingest_seconds"), 0.05), 2.0);
    assert_eq!(gauge(&s, "lookout_index_documents", &[]), 42.0);
    // Both formats carry the same samples.
    let classic = scrape(&metrics);
    assert_eq!(s.samples.len(), classic.samples.len());
}

#[test]
fn a_fresh_registry_exports_every_unlabelled_metric_at_zero() {
    let s = scrape(&Metrics::new());
    assert_eq!(counter(&s, "lookout_documents_ingested_total", &[]), 0.0);
    assert_eq!(gauge(&s, "lookout_index_documents", &[]), 0.0);
    assert_eq!(counter(&s, "lookout_file_read_retries_total", &[]), 0.0);
    assert_eq!(gauge(&s, "lookout_files_awaiting_retry", &[]), 0.0);
    assert_eq!(
        buckets(&s, "lookout_ingest_seconds").last(),
        Some(&(f64::INFINITY, 0.0))
    );
    assert!(find(&s, "lookout_webhook_attempts_total", &[("webhook", "ops")]).is_none());
}

#[test]
fn init_webhook_exports_its_series_at_zero() {
    let metrics = Metrics::new();
    metrics.init_webhook("ops");
    let s = scrape(&metrics);
    let ops = [("webhook", "ops")];
    assert_eq!(counter(&s, "lookout_webhook_attempts_total", &ops), 0.0);
    assert_eq!(counter(&s, "lookout_webhook_dead_letters_total", &ops), 0.0);
    for reason in WebhookFailure::ALL {
        let labels = [("webhook", "ops"), ("reason", reason.as_str())];
        assert_eq!(counter(&s, "lookout_webhook_failures_total", &labels), 0.0);
    }
    let sink = [("sink", "webhook:ops")];
    assert_eq!(counter(&s, "lookout_sink_alerts_total", &sink), 0.0);
    assert_eq!(gauge(&s, "lookout_webhook_backlog_bytes", &ops), 0.0);
    assert_eq!(gauge(&s, "lookout_webhook_disabled", &ops), 0.0);
}

#[test]
fn label_values_are_escaped() {
    let metrics = Metrics::new();
    metrics.alert("say \"hi\"\\now\nplease", AlertKind::Live);
    let text = metrics.encode_prometheus_text();
    assert!(
        text.contains(r#"lookout_alerts_total{query="say \"hi\"\\now\nplease",kind="live"} 1"#),
        "{text}"
    );
    // One line per sample: the newline in the query name did not break the line.
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("lookout_alerts_total"))
            .count(),
        1
    );
}

#[test]
fn clones_share_their_metrics_across_threads() {
    fn send_sync<T: Send + Sync + Clone + 'static>() {}
    send_sync::<Metrics>();
    let metrics = Metrics::new();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let metrics = metrics.clone();
            std::thread::spawn(move || {
                for _ in 0..1000 {
                    metrics.document_ingested();
                    metrics.webhook_attempt("ops");
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let s = scrape(&metrics);
    assert_eq!(counter(&s, "lookout_documents_ingested_total", &[]), 4000.0);
    let ops = [("webhook", "ops")];
    assert_eq!(counter(&s, "lookout_webhook_attempts_total", &ops), 4000.0);
}

#[test]
fn content_negotiation() {
    let prometheus = "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
    assert_eq!(Format::from_accept(Some(prometheus)), Format::OpenMetrics);
    assert_eq!(Format::from_accept(Some("*/*")), Format::PrometheusText);
    assert_eq!(Format::from_accept(None), Format::PrometheusText);
    let metrics = Metrics::new();
    let (content_type, body) = metrics.scrape(Some(prometheus));
    assert_eq!(content_type, CONTENT_TYPE);
    assert!(body.ends_with("# EOF\n"));
    let (content_type, body) = metrics.scrape(None);
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    assert!(!body.contains("# EOF"));
}

#[test]
fn webhook_counts_read_the_exported_counters() {
    let metrics = busy();
    let s = scrape(&metrics);
    let ops = metrics.webhook_counts("ops");
    let exported = |name: &str, labels: &[(&str, &str)]| {
        s.samples
            .iter()
            .filter(|x| x.metric == name)
            .filter(|x| labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
            .map(|x| match x.value {
                Value::Counter(v) => v as u64,
                _ => 0,
            })
            .sum::<u64>()
    };
    assert_eq!(
        ops,
        WebhookCounts {
            delivered: exported("lookout_sink_alerts_total", &[("sink", "webhook:ops")]),
            failed_attempts: exported("lookout_webhook_failures_total", &[("webhook", "ops")]),
            dead_lettered: exported("lookout_webhook_dead_letters_total", &[("webhook", "ops")]),
        }
    );
    assert_eq!(
        ops,
        WebhookCounts {
            delivered: 1,
            failed_attempts: 2,
            dead_lettered: 1
        }
    );
    assert_eq!(metrics.webhook_counts("never"), WebhookCounts::default());
}
