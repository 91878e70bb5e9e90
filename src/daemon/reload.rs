//! Hot reload: when `config.toml` or a queries file it names changes, the daemon reads it
//! again and applies what can change while it runs (saved queries, webhooks, `on_delete`,
//! `max_file_size`). An edit that does not load is refused with one error and the running
//! configuration stays; a saved query whose new text does not parse keeps its running version.
//! Keys that need a restart (folders, paths, the API) are reported, not applied.

use std::collections::HashSet;
use std::path::PathBuf;

use super::Daemon;
use crate::config::{reload, Config};
use crate::pipeline::PipelineError;
use crate::query;

/// The configuration files' contents as last read or written by the daemon: a change signal
/// for files that still hold exactly this (the daemon's own writes, a `touch`) is ignored.
pub(super) fn fingerprint(files: &[PathBuf]) -> Vec<(PathBuf, Option<blake3::Hash>)> {
    files
        .iter()
        .map(|f| (f.clone(), std::fs::read(f).ok().map(|b| blake3::hash(&b))))
        .collect()
}

impl Daemon {
    /// Read the configuration again and apply what changed.
    pub(super) fn reload(&mut self) -> Result<(), PipelineError> {
        let files = fingerprint(&self.config.watched_files());
        if files == self.config_files {
            tracing::debug!("configuration files unchanged");
            return Ok(());
        }
        self.config_files = files;
        let path = self.config.path.clone();
        let mut next = match Config::load(&path) {
            Ok(next) => next,
            Err(error) => {
                tracing::error!(
                    "configuration change refused: {error}; lookout keeps running on the configuration it had"
                );
                return Ok(());
            }
        };
        let diff = reload::diff(&self.config, &next);
        for key in &diff.needs_restart {
            tracing::warn!(
                config = %path.display(),
                "'{key}' changed; restart lookout to apply it (the running value stays until then)"
            );
        }
        // What needs a restart keeps its running value, so that the configuration in force
        // says what is in force.
        let running = &self.config;
        next.watch = running.watch.clone();
        next.index = running.index.clone();
        next.alert_log = running.alert_log.clone();
        next.state_dir = running.state_dir.clone();
        next.api = running.api.clone();
        next.poll_interval = running.poll_interval;
        next.rescan_interval = running.rescan_interval;
        next.commit_interval = running.commit_interval;
        next.query_limits = running.query_limits;

        // A running query whose new text does not parse keeps running as it was.
        let running_now: HashSet<&str> = self
            .pipeline
            .queries()
            .iter()
            .map(|q| q.name.as_str())
            .collect();
        let changed: HashSet<&str> = diff.changed.iter().map(|q| q.name.as_str()).collect();
        for spec in next.queries.iter_mut() {
            if !changed.contains(spec.name.as_str()) || !running_now.contains(spec.name.as_str()) {
                continue;
            }
            let Err(error) = query::parse_with_limits(&spec.text, running.query_limits) else {
                continue;
            };
            if let Some(before) = running.queries.iter().find(|q| q.name == spec.name) {
                tracing::error!(
                    "{}: saved query '{}': {error}; the edit is refused and the running version stays: {}",
                    spec.origin,
                    spec.name,
                    before.text
                );
                *spec = before.clone();
            }
        }
        let webhooks_changed = next.webhooks != running.webhooks;
        let queries_changed = diff.queries_changed();
        for spec in &diff.added {
            tracing::info!(query = %spec.name, origin = %spec.origin, "saved query added");
        }
        for spec in &diff.changed {
            tracing::info!(query = %spec.name, origin = %spec.origin, "saved query changed");
        }
        for name in &diff.removed {
            tracing::info!(query = %name, "saved query removed");
        }
        if next.on_delete != running.on_delete || next.max_file_size != running.max_file_size {
            self.pipeline
                .set_file_rules(next.on_delete, next.max_file_size);
            tracing::info!(on_delete = ?next.on_delete, max_file_size = next.max_file_size, "file rules changed");
        }
        let specs = next.queries.clone();
        self.config = next;
        if queries_changed {
            self.apply_queries(specs);
            for problem in &self.problems {
                tracing::error!("{problem} (left out; fix it and save again)");
            }
        }
        if webhooks_changed {
            tracing::info!("webhooks changed");
            self.restart_delivery = true;
        }
        if queries_changed || webhooks_changed {
            tracing::info!(
                config = %path.display(),
                queries = self.pipeline.query_count(),
                invalid_queries = self.problems.len(),
                "configuration reloaded"
            );
        }
        Ok(())
    }
}
