//! lookout: a full-text search and alerting daemon.
//!
//! The pipeline, module by module:
//! - [`watcher`]: turns a watched folder into a stream of complete files, losing none;
//! - [`extract`]: reads a file (txt, md, html, json, jsonl) into [`document::Document`]s;
//! - [`analysis`]: the one analyzer (letters/digits, lowercase, ASCII folding);
//! - [`query`]: the query language (parser, AST, phrase semantics);
//! - [`matcher`]: percolation, which saved queries a new document matches, and why;
//! - [`index`]: the tantivy index, batched commits and search;
//! - [`alerts`]: the alert record and the JSON Lines alert log (writing, reading, tailing);
//! - [`webhooks`]: signed webhooks, delivery from the alert log, dead letters, replay;
//! - [`config`]: `config.toml` and saved-query files;
//! - [`pipeline`]: one file in, documents indexed and alerts raised (daemon and `ingest` alike);
//! - [`daemon`]: the long-running service wiring it all together;
//! - [`api`]: the HTTP API the daemon serves;
//! - [`client`]: the CLI's HTTP client for a running daemon's API;
//! - [`atomic_file`], [`lock`]: the one atomic file writer and the one poison-tolerant lock;
//! - [`metrics`]: the Prometheus metrics registry and its text exposition (`GET /metrics`).

pub mod alerts;
pub mod analysis;
pub mod api;
pub mod atomic_file;
pub mod cli;
pub mod client;
pub mod config;
pub mod daemon;
pub mod document;
pub mod extract;
pub mod index;
pub mod ledger;
pub mod lock;
pub mod matcher;
pub mod metrics;
pub mod pipeline;
pub mod query;
pub mod watcher;
pub mod webhooks;
