//! Hot reload: when `config.toml` or a queries file it names changes, the daemon reads it
//! again and applies what can change while it runs (saved queries, webhooks, `on_delete`,
//! `max_file_size`, `[json]`). An edit that does not load is refused with one error and the running
//! configuration stays; the refused configuration is tried again at the next signal (a
//! `touch`, or a file it names appearing: those files are watched too, missing ones through
//! their folders). A saved query whose new text does not parse keeps its running version; a
//! new one that does not parse is not added. Each saved query's change is one log line, at
//! its level. Keys that need a restart (folders, paths, the API) are reported, not applied.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use super::Daemon;
use crate::config::{reload, Config};
use crate::engine::{Command, CommandError, EngineError};
use crate::query;

/// The configuration files' contents, as last read or written by the daemon.
pub type Fingerprint = Vec<(PathBuf, Option<blake3::Hash>)>;

/// The contents of `files` now (`None`: missing or unreadable).
pub(super) fn fingerprint(files: &[PathBuf]) -> Fingerprint {
    files
        .iter()
        .map(|f| (f.clone(), std::fs::read(f).ok().map(|b| blake3::hash(&b))))
        .collect()
}

/// The contents of the configuration file at `config` and of the files it names, taken before
/// the daemon first reads them: the daemon's first reload (once its config watcher runs) then
/// reads them again only if one changed meanwhile.
pub fn startup_fingerprint(config: &std::path::Path) -> Fingerprint {
    let config = std::path::absolute(config).unwrap_or_else(|_| config.to_path_buf());
    fingerprint(&reload::files_named(&config))
}

/// Whether every file of `now` holds what `before` recorded for it (a file `before` does not
/// know is a change): then a change signal (the daemon's own writes, a `touch`) is not a
/// reason to reload.
fn unchanged(before: &Fingerprint, now: &Fingerprint) -> bool {
    let known: HashMap<&PathBuf, &Option<blake3::Hash>> =
        before.iter().map(|(file, hash)| (file, hash)).collect();
    now.iter()
        .all(|(file, hash)| known.get(file).is_some_and(|known| *known == hash))
}

/// The union of two file lists, in order, each file once.
fn union(mut files: Vec<PathBuf>, more: Vec<PathBuf>) -> Vec<PathBuf> {
    for file in more {
        if !files.contains(&file) {
            files.push(file);
        }
    }
    files
}

impl Daemon {
    /// The files whose change calls for a reload: those of the running configuration, and
    /// those that the configuration file names now (a refused edit may name files that are
    /// missing yet).
    pub(super) fn config_files_to_watch(&self) -> Vec<PathBuf> {
        union(self.watched_files(), self.config_named.clone())
    }

    /// Read the configuration again and apply what changed.
    pub(super) fn reload(&mut self) -> Result<(), EngineError> {
        let path = self.config.path.clone();
        let named = reload::files_named(&path);
        // Taken before reading, so that an edit landing while the files are read is seen by
        // the next signal.
        let files = fingerprint(&union(self.watched_files(), named.clone()));
        self.config_named = named;
        if !self.config_refused && unchanged(&self.config_files, &files) {
            tracing::debug!("configuration files unchanged");
            return Ok(());
        }
        let mut next = match Config::load(&path) {
            Ok(next) => next,
            Err(error) => {
                self.config_refused = true;
                self.config_files = files;
                tracing::error!(
                    "configuration change refused: {error}; lookout keeps running on the configuration it had, and tries again when the files change"
                );
                return Ok(());
            }
        };
        // Destinations that could not be started (an unset credentials variable, a certificate
        // TLS cannot use) refuse the change as a whole: delivery goes on with the ones it has.
        let destinations_changed =
            next.webhooks != self.config.webhooks || next.emails != self.config.emails;
        if destinations_changed {
            if let Err(error) = crate::delivery::check_destinations(&next.destinations()) {
                self.config_refused = true;
                self.config_files = files;
                tracing::error!(
                    "configuration change refused: {}: {error}; lookout keeps running on the configuration it had (delivery included), and tries again when the files change",
                    path.display()
                );
                return Ok(());
            }
        }
        if std::mem::take(&mut self.config_refused) {
            tracing::info!(config = %path.display(), "the configuration loads again");
        }
        self.config_files = files;
        // The saved queries that run are the engine's; the diff is against them.
        let running = self.running_config();
        let diff = reload::diff(&running, &next);
        for key in &diff.needs_restart {
            tracing::warn!(
                config = %path.display(),
                "'{key}' changed; restart lookout to apply it (the running value stays until then)"
            );
        }
        // What needs a restart keeps its running value, so that the configuration in force
        // says what is in force.
        let running = &running;
        next.watch = running.watch.clone();
        next.index = running.index.clone();
        next.alert_log = running.alert_log.clone();
        next.state_dir = running.state_dir.clone();
        next.api = running.api.clone();
        next.poll_interval = running.poll_interval;
        next.rescan_interval = running.rescan_interval;
        next.commit_interval = running.commit_interval;
        next.query_limits = running.query_limits;
        next.workers = running.workers;

        let running_now: HashSet<&str> = self
            .engine
            .queries()
            .compiled()
            .filter_map(|(id, _)| self.engine.queries().get(id))
            .map(|entry| entry.name())
            .collect();
        let added: HashSet<&str> = diff.added.iter().map(|q| &*q.name).collect();
        let changed: HashSet<&str> = diff.changed.iter().map(|q| &*q.name).collect();
        // One line per saved query that changed, saying what became of it.
        for spec in next.queries.iter_mut() {
            let name = &*spec.name;
            let is_added = added.contains(name);
            if !is_added && !changed.contains(name) {
                continue;
            }
            let error = match query::parse_with_limits(&spec.text, running.query_limits) {
                Ok(_) if is_added => {
                    tracing::info!(query = %spec.name, origin = %spec.origin(), "saved query added");
                    continue;
                }
                Ok(_) => {
                    tracing::info!(query = %spec.name, origin = %spec.origin(), "saved query changed");
                    continue;
                }
                Err(error) => error,
            };
            let before = running.queries.iter().find(|q| q.name == spec.name);
            match before {
                // A running query whose new text does not parse keeps running as it was.
                Some(before) if running_now.contains(name) => {
                    tracing::error!(
                        "{}: saved query '{}': {error}; the edit is refused and the running version stays: {}",
                        spec.origin(),
                        spec.name,
                        before.text
                    );
                    *spec = before.clone();
                }
                Some(_) => tracing::error!(
                    "{}: saved query '{}': {error}; it still does not run (fix it and save again)",
                    spec.origin(),
                    spec.name
                ),
                None => tracing::error!(
                    "{}: saved query '{}': {error}; it is not added (fix it and save again)",
                    spec.origin(),
                    spec.name
                ),
            }
        }
        for name in &diff.removed {
            tracing::info!(query = %name, "saved query removed");
        }
        let webhooks_changed = destinations_changed;
        let queries_changed = diff.queries_changed();
        if next.on_delete != running.on_delete || next.max_file_size != running.max_file_size {
            self.engine
                .execute(Command::SetFileRules {
                    on_delete: next.on_delete,
                    max_file_size: next.max_file_size,
                })
                .and_then(|reply| reply.done())
                .map_err(CommandError::into_engine_error)?;
            tracing::info!(on_delete = ?next.on_delete, max_file_size = next.max_file_size, "file rules changed");
            if next.max_file_size != running.max_file_size {
                // A file refused as too large may fit now (and one refused otherwise is judged
                // by the same rules again; the same refusal is not reported twice).
                let checked = self
                    .engine
                    .execute(Command::RecheckQuarantine)
                    .and_then(|reply| reply.count())
                    .map_err(CommandError::into_engine_error)?;
                tracing::debug!(files = checked, "quarantined files checked again");
            }
        }
        if next.json != running.json {
            self.engine
                .execute(Command::SetExtractor {
                    extractor: crate::extract::Extractor {
                        json_keys: next.json.clone(),
                    },
                })
                .and_then(|reply| reply.done())
                .map_err(CommandError::into_engine_error)?;
            tracing::info!("[json] keys changed: files read from now on are read with them");
        }
        let specs = std::mem::take(&mut next.queries);
        self.engine
            .execute(Command::SetQueryTargets {
                webhooks: next.destinations().names(),
                new_queries_file: next.file_for_new_queries().to_path_buf(),
            })
            .and_then(|reply| reply.done())
            .map_err(CommandError::into_engine_error)?;
        self.config = next;
        if queries_changed {
            let changes = self
                .engine
                .execute(Command::ReplaceQueries { specs })
                .and_then(|reply| reply.queries_replaced())
                .map_err(CommandError::into_engine_error)?;
            self.queries_changed(&changes);
        }
        if webhooks_changed {
            tracing::info!("webhooks changed");
            self.restart_delivery = true;
        }
        if queries_changed || webhooks_changed {
            tracing::info!(
                config = %path.display(),
                queries = self.engine.queries().active(),
                invalid_queries = self.engine.queries().invalid(),
                "configuration reloaded"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_not_known_before_is_a_change() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, "x").unwrap();
        let before = fingerprint(&[a.clone(), b.clone()]);
        assert!(unchanged(&before, &fingerprint(std::slice::from_ref(&a))));
        assert!(unchanged(&before, &fingerprint(&[a.clone(), b.clone()])));
        std::fs::write(&b, "now here").unwrap();
        assert!(!unchanged(&before, &fingerprint(&[a.clone(), b.clone()])));
        let c = dir.path().join("c");
        assert!(!unchanged(&before, &fingerprint(&[a, c])));
    }
}
