//! Test helpers: read metrics back the way a scraper does, by parsing the Prometheus text
//! exposition with `prometheus-parse`.

use prometheus_parse::{Sample, Scrape, Value};

use super::Metrics;

/// The exposition in the Prometheus 0.0.4 text format, parsed.
pub(crate) fn scrape(metrics: &Metrics) -> Scrape {
    parse(&metrics.encode_prometheus_text())
}

/// Parse an exposition (either text format; prometheus-parse skips `# EOF` and `# UNIT`).
pub(crate) fn parse(text: &str) -> Scrape {
    Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("parse the exposition")
}

/// The sample named `name` whose labels are exactly `labels`.
pub(crate) fn find<'a>(
    scrape: &'a Scrape,
    name: &str,
    labels: &[(&str, &str)],
) -> Option<&'a Sample> {
    scrape.samples.iter().find(|s| {
        s.metric == name
            && s.labels.len() == labels.len()
            && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v))
    })
}

/// The value of counter, gauge or untyped sample `name{labels}`, if it is exported.
pub(crate) fn value(metrics: &Metrics, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let scrape = scrape(metrics);
    match &find(&scrape, name, labels)?.value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => Some(*v),
        Value::Histogram(_) | Value::Summary(_) => None,
    }
}

/// The value of `name{labels}`, 0 when it is not exported (yet).
pub(crate) fn count(metrics: &Metrics, name: &str, labels: &[(&str, &str)]) -> f64 {
    value(metrics, name, labels).unwrap_or(0.0)
}
