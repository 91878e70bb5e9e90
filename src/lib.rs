//! lookout: a full-text search and alerting daemon.
//!
//! The modules, in the order an article meets them:
//! - [`watcher`]: turns a watched folder into a stream of complete files, losing none;
//! - [`extract`]: reads a file (txt, md, html, json, jsonl) into [`document::Document`]s;
//! - [`analysis`]: the one analyzer (letters/digits, lowercase, ASCII folding);
//! - [`query`]: the query language (parser, AST, phrase semantics);
//! - [`matcher`]: percolation, which saved queries a new document matches, and why;
//! - [`index`]: the tantivy index, batched commits and search;
//! - [`alerts`]: the alert record and the JSON Lines alert log (writing, reading, tailing);
//! - [`delivery`]: delivery from the alert log to every destination (each alert, digests,
//!   throttles), dead letters, replay;
//! - [`webhooks`], [`email`]: the senders: signed webhook requests in a format, and SMTP;
//! - [`config`]: `config.toml` and saved-query files;
//! - [`engine`]: the one owner of the state, driven by commands: files and posted articles in,
//!   documents indexed and alerts pushed into sinks (daemon, `ingest` and tests alike);
//! - [`daemon`]: the long-running service wiring it all together;
//! - [`api`]: the HTTP API the daemon serves;
//! - [`web`]: the desk's web page at `/` (embedded files, a client of the API);
//! - [`client`]: the CLI's HTTP client for a running daemon's API;
//! - [`atomic_file`], [`lock`]: the one atomic file writer and the one poison-tolerant lock;
//! - [`metrics`]: the Prometheus metrics registry and its text exposition (`GET /metrics`).

pub mod alerts;
pub mod analysis;
pub mod api;
pub mod atomic_file;
pub mod background;
pub mod cli;
pub mod client;
pub mod config;
pub mod contain;
pub mod daemon;
pub mod delivery;
pub mod document;
pub mod email;
pub mod engine;
pub mod extract;
pub mod index;
pub mod ledger;
pub mod lock;
pub mod matcher;
pub mod metrics;
pub mod query;
pub mod stories;
pub mod watcher;
pub mod web;
pub mod webhooks;
