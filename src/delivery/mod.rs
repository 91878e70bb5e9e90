//! Delivery fed from the alert log, the source of truth for alerts, to every destination: the
//! webhooks (`webhooks`: signed HTTP requests in a format) and the e-mail destinations (`email`:
//! SMTP). Which destinations want which saved query's alerts (`Routes`); one tokio task per
//! destination reading the log from its persisted cursor and delivering in log order
//! (`LogDelivery`), each alert alone, in digests on a schedule, or alone up to a rate with the
//! rest in digests (`digest`, `schedule`); and redelivery on demand (`replay`). A crash
//! re-delivers at most the alerts after the last persisted cursor, with the same ids
//! (at-least-once, deduplicable by id); a destination that is down only delays its own
//! deliveries. Every attempt, failure, delivery and dead letter is also counted in the
//! process's `Metrics`, with each destination's backlog and whether it is disabled.
//!
//! Files under the state folder (see `state.rs`): `webhooks/<name>.cursor` (the cursor, and
//! the destination's open digests and throttle with it, replaced atomically as one),
//! `webhooks/<name>.disabled` (410 Gone), `dead-letter.jsonl`.

pub mod digest;
pub mod schedule;
mod source;
mod state;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::alerts::record::Alert;
use crate::alerts::AlertLogError;
use crate::email::{self, EmailConfig, EmailError, Mailer, SendFailure};
use crate::lock::lock;
use crate::metrics::{webhook_sink, Metrics, WebhookFailure};
use crate::webhooks::error::WebhookError;
use crate::webhooks::format::Item;
use crate::webhooks::send::{
    deliver_with_retries, http_client, with_retries, Attempt, Endpoint, Message, Outcome,
    RetryPolicy, Tally, Target, WebhookConfig, XorShift64,
};

use digest::{DigestBook, Policy, PolicyOverride, Route};

use source::{Batch, Line, LogIdentity, LogSource};
use state::{CursorFile, DeadLetterFile};

pub use state::{cursor_path, dead_letter_path, disabled_path, disabled_reason, DeadLetter};

/// Each task looks at the log this often even without [`LogDelivery::notify`].
pub const POLL_INTERVAL: Duration = Duration::from_millis(250);
/// After every settled line the cursor file is replaced (write, rename: it survives a crash of
/// the process); it is made durable on disk (fsync) at most this often...
const PERSIST_INTERVAL: Duration = Duration::from_millis(100);
/// ...unless this many lines were settled since it last was.
const PERSIST_LINES: u64 = 100;
/// Lines (and bytes) read from the log at a time.
const BATCH_LINES: usize = 256;
const BATCH_BYTES: usize = 1 << 20;
/// A persisting problem (unreadable log, unwritable cursor) is logged again at most this often.
const ERROR_REPEAT: Duration = Duration::from_secs(60);

/// Every destination delivery sends to: the webhooks and the e-mail destinations, whose names
/// are unique together.
#[derive(Debug, Clone, Default)]
pub struct Destinations {
    pub webhooks: Vec<WebhookConfig>,
    pub emails: Vec<EmailConfig>,
}

impl From<Vec<WebhookConfig>> for Destinations {
    fn from(webhooks: Vec<WebhookConfig>) -> Destinations {
        Destinations {
            webhooks,
            emails: Vec::new(),
        }
    }
}

impl Destinations {
    /// Every destination's name, webhooks first, in configuration order.
    pub fn names(&self) -> Vec<String> {
        self.webhooks
            .iter()
            .map(|w| w.name.clone())
            .chain(self.emails.iter().map(|e| e.name.clone()))
            .collect()
    }

    /// The destination named `name`.
    pub fn find(&self, name: &str) -> Option<Destination> {
        if let Some(w) = self.webhooks.iter().find(|w| w.name == name) {
            return Some(Destination::Webhook(w.clone()));
        }
        self.emails
            .iter()
            .find(|e| e.name == name)
            .map(|e| Destination::Email(e.clone()))
    }
}

/// One destination's configuration.
#[derive(Debug, Clone)]
pub enum Destination {
    Webhook(WebhookConfig),
    Email(EmailConfig),
}

impl From<WebhookConfig> for Destination {
    fn from(webhook: WebhookConfig) -> Destination {
        Destination::Webhook(webhook)
    }
}

impl Destination {
    pub fn name(&self) -> &str {
        match self {
            Destination::Webhook(w) => &w.name,
            Destination::Email(e) => &e.name,
        }
    }

    /// How it delivers (`digest`, `at_most`), parsed.
    pub fn policy(&self) -> Result<Policy, WebhookError> {
        let (digest, at_most) = match self {
            Destination::Webhook(w) => (&w.digest, &w.at_most),
            Destination::Email(e) => (&e.digest, &e.at_most),
        };
        policy_of(self.name(), digest.as_deref(), at_most.as_deref())
    }

    /// Check everything that can be checked before starting (not the environment).
    pub fn validate(&self) -> Result<(), WebhookError> {
        match self {
            Destination::Webhook(w) => w.validate()?,
            Destination::Email(e) => e.validate().map_err(email_error)?,
        }
        self.policy().map(|_| ())
    }
}

/// An e-mail destination's error as delivery reports it.
fn email_error(error: EmailError) -> WebhookError {
    let EmailError::Invalid { name, reason } = error;
    WebhookError::InvalidEmail { name, reason }
}

/// The delivery policy of destination `name` from its `digest` and `at_most` settings.
pub fn policy_of<'a>(
    name: &str,
    digest: Option<&'a str>,
    at_most: Option<&'a str>,
) -> Result<Policy, WebhookError> {
    let invalid = |reason: String| WebhookError::InvalidWebhook {
        name: name.to_owned(),
        reason,
    };
    // "off" says what leaving the setting out says, as it does on a saved query.
    let set = |value: Option<&'a str>| {
        value.filter(|v| !v.trim().eq_ignore_ascii_case(self::digest::OFF))
    };
    let (digest, at_most) = (set(digest), set(at_most));
    Ok(Policy {
        digest: digest
            .map(str::parse)
            .transpose()
            .map_err(|e: schedule::ScheduleError| invalid(format!("digest: {e}")))?,
        at_most: at_most
            .map(str::parse)
            .transpose()
            .map_err(|e: schedule::ScheduleError| invalid(format!("at_most: {e}")))?,
    })
}

/// What a destination's task sends with.
enum Sender {
    Webhook {
        endpoint: Box<Endpoint>,
        client: reqwest::Client,
    },
    Email(Box<Mailer>),
}

impl Sender {
    fn new(destination: Destination, client: &reqwest::Client) -> Result<Sender, WebhookError> {
        match destination {
            Destination::Webhook(config) => Ok(Sender::Webhook {
                endpoint: Box::new(Endpoint::new(config)?),
                client: client.clone(),
            }),
            Destination::Email(config) => Ok(Sender::Email(Box::new(
                Mailer::new(config).map_err(email_error)?,
            ))),
        }
    }

    fn name(&self) -> &str {
        match self {
            Sender::Webhook { endpoint, .. } => endpoint.name(),
            Sender::Email(mailer) => mailer.name(),
        }
    }

    /// Where it sends, for messages about it.
    fn address(&self) -> String {
        match self {
            Sender::Webhook { endpoint, .. } => endpoint.config.url.clone(),
            Sender::Email(mailer) => format!("smtp://{}", mailer.config.smtp_host),
        }
    }

    /// Send `item` (whose id is `id`) until it is settled.
    async fn send(
        &self,
        item: Item<'_>,
        id: &str,
        policy: &RetryPolicy,
        rng: &mut XorShift64,
        stop: Option<&CancellationToken>,
        tally: &Tally<'_>,
    ) -> Outcome {
        match self {
            Sender::Webhook { endpoint, client } => {
                let body = match endpoint.formatter.render(item) {
                    Ok(body) => body,
                    Err(err) => {
                        return Outcome::Failed {
                            attempts: 0,
                            last_error: format!("cannot format the message: {err}"),
                            permanent: true,
                        }
                    }
                };
                let message = Message::from_line(id, body);
                deliver_with_retries(client, endpoint, policy, &message, rng, stop, tally).await
            }
            Sender::Email(mailer) => {
                let mail = match item {
                    Item::Alert { alert, .. } => email::alert_mail(alert),
                    Item::Digest(digest) => email::digest_mail(digest),
                };
                let target = Target {
                    name: mailer.name(),
                    max_attempts: mailer.config.max_attempts,
                };
                let (mailer, mail) = (&**mailer, &mail);
                with_retries(&target, policy, id, rng, stop, tally, move || async move {
                    match mailer.send(mail).await {
                        Ok(()) => Attempt::Delivered(None),
                        Err(SendFailure::Permanent(problem)) => Attempt::Permanent(problem),
                        Err(SendFailure::Unreachable(problem)) => Attempt::Unreachable(problem),
                        Err(SendFailure::Transient { problem, timeout }) => Attempt::Retry {
                            problem,
                            retry_after: None,
                            reason: if timeout {
                                WebhookFailure::Timeout
                            } else {
                                WebhookFailure::Other
                            },
                        },
                    }
                })
                .await
            }
        }
    }
}

/// Where one saved query's alerts go and how: what [`Routes`] is built from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryRoute {
    pub query: String,
    /// The destinations it names; `None`: every destination.
    pub destinations: Option<Vec<String>>,
    /// Its own `digest` and `at_most` over each destination's.
    pub policy: PolicyOverride,
}

/// Which destinations get the alerts of which saved query, and the saved queries' own
/// delivery settings.
#[derive(Debug, Clone, Default)]
pub struct Routes {
    /// Query name → `Some(destination names)`, or `None` for every destination.
    queries: HashMap<String, Option<HashSet<String>>>,
    /// The queries with their own `digest` or `at_most`.
    policies: HashMap<String, PolicyOverride>,
    webhooks: HashSet<String>,
}

impl Routes {
    /// `queries`: each saved query's route; `webhooks`: all configured destination names.
    /// Alerts of a query not in the table (e.g. removed since) go to every destination, under
    /// its own policy. A name listed twice keeps its last entry; a route to a destination that
    /// is not configured is warned about and can never match.
    pub fn new(queries: &[QueryRoute], webhooks: &[String]) -> Routes {
        let webhooks: HashSet<String> = webhooks.iter().cloned().collect();
        let mut table = HashMap::with_capacity(queries.len());
        let mut policies = HashMap::new();
        for route in queries {
            if let Some(targets) = &route.destinations {
                for target in targets.iter().filter(|t| !webhooks.contains(*t)) {
                    tracing::warn!(
                        query = %route.query,
                        webhook = %target,
                        "query routes alerts to a webhook that is not configured"
                    );
                }
            }
            let targets = route
                .destinations
                .as_ref()
                .map(|t| t.iter().cloned().collect());
            table.insert(route.query.clone(), targets);
            if route.policy.is_empty() {
                policies.remove(&route.query);
            } else {
                policies.insert(route.query.clone(), route.policy.clone());
            }
        }
        Routes {
            queries: table,
            policies,
            webhooks,
        }
    }

    /// True if webhook `webhook` (a configured one) gets the alerts of query `query`.
    pub fn wants(&self, webhook: &str, query: &str) -> bool {
        if !self.webhooks.contains(webhook) {
            return false;
        }
        match self.queries.get(query) {
            Some(Some(targets)) => targets.contains(webhook),
            Some(None) | None => true,
        }
    }

    /// How a destination whose policy is `base` delivers the alerts of `query`.
    pub fn policy<'a>(&self, query: &str, base: &'a Policy) -> Cow<'a, Policy> {
        match self.policies.get(query) {
            Some(own) => Cow::Owned(own.over(base)),
            None => Cow::Borrowed(base),
        }
    }

    /// True if some saved query has its own `digest` or `at_most`.
    pub fn has_policies(&self) -> bool {
        !self.policies.is_empty()
    }
}

/// What delivery has done since [`LogDelivery::start`], all webhooks together and per webhook.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryStats {
    /// Alerts answered with a 2xx.
    pub delivered: u64,
    /// Attempts that did not get a 2xx (each retry counts).
    pub failed_attempts: u64,
    /// Alerts given up on and written to the dead-letter file.
    pub dead_lettered: u64,
    /// Log lines that are not alerts (skipped; counted once per webhook that met them).
    pub malformed: u64,
    /// One entry per configured webhook, in configuration order.
    pub webhooks: Vec<WebhookStats>,
}

impl DeliveryStats {
    /// The counts of the webhook named `name`.
    pub fn webhook(&self, name: &str) -> Option<&WebhookStats> {
        self.webhooks.iter().find(|w| w.name == name)
    }
}

/// What delivery has done for one webhook.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookStats {
    pub name: String,
    pub delivered: u64,
    pub failed_attempts: u64,
    pub dead_lettered: u64,
    pub malformed: u64,
    /// Digests sent (each counted once, however many alerts it held).
    pub digests: u64,
    /// Alerts waiting in open digests.
    pub digest_pending: u64,
    /// Byte offset in the alert log of the next line to settle (it may be ahead of the one on
    /// disk by up to 100 ms / 100 lines, until shutdown).
    pub cursor: u64,
    /// Why it is disabled (410 Gone, now or in an earlier run), if it is.
    pub disabled: Option<String>,
    /// `shutdown`'s deadline passed while an attempt was in flight; that alert is delivered
    /// again at the next start.
    pub cut_off: bool,
}

/// The shared state of one webhook: its counters and cursor, seen by its task and by
/// `LogDelivery` (stats, shutdown).
#[derive(Debug)]
struct Hook {
    name: String,
    cursor_path: PathBuf,
    disabled_path: PathBuf,
    delivered: AtomicU64,
    failed_attempts: AtomicU64,
    dead_lettered: AtomicU64,
    malformed: AtomicU64,
    digests: AtomicU64,
    /// The open digests and the throttle, saved with the cursor (see `digest`).
    book: Mutex<DigestBook>,
    disabled: Mutex<Option<String>>,
    cut_off: AtomicBool,
    /// Where the webhook is: every line before it is settled.
    position: Mutex<Position>,
    /// `position.generation` last made durable in the cursor file.
    persisted: AtomicU64,
    /// `position.generation` last written to the cursor file (durable or not).
    written: AtomicU64,
    /// Held while the cursor file is written (the task and `shutdown` may both write it).
    writing: Mutex<()>,
    notify: Notify,
}

#[derive(Debug, Clone)]
struct Position {
    offset: u64,
    log: LogIdentity,
    /// Bumped on every change.
    generation: u64,
}

impl Hook {
    fn settle_to(&self, offset: u64, log: &LogIdentity) {
        let mut position = lock(&self.position);
        if position.offset != offset || position.log != *log {
            position.offset = offset;
            position.log = log.clone();
            position.generation += 1;
        }
    }

    /// The book changed without the cursor moving (a digest was sent).
    fn touch(&self) {
        lock(&self.position).generation += 1;
    }

    fn dirty(&self) -> bool {
        lock(&self.position).generation != self.persisted.load(Ordering::SeqCst)
    }

    /// Write the cursor file if the position changed since it was last written; `durable`
    /// also fsyncs it (else it survives a process crash, not a power loss). Blocking.
    fn persist(&self, durable: bool) -> Result<(), WebhookError> {
        let _writing = lock(&self.writing);
        let position = lock(&self.position).clone();
        let last = if durable {
            &self.persisted
        } else {
            &self.written
        };
        if position.generation == last.load(Ordering::SeqCst) {
            return Ok(());
        }
        let digests = lock(&self.book).clone();
        state::write_cursor(
            &self.cursor_path,
            &CursorFile {
                webhook: self.name.clone(),
                offset: position.offset,
                log: position.log,
                written: state::rfc3339_now(),
                digests,
            },
            durable,
        )?;
        self.written.store(position.generation, Ordering::SeqCst);
        if durable {
            self.persisted.store(position.generation, Ordering::SeqCst);
        }
        Ok(())
    }

    fn stats(&self) -> WebhookStats {
        WebhookStats {
            name: self.name.clone(),
            delivered: self.delivered.load(Ordering::SeqCst),
            failed_attempts: self.failed_attempts.load(Ordering::SeqCst),
            dead_lettered: self.dead_lettered.load(Ordering::SeqCst),
            malformed: self.malformed.load(Ordering::SeqCst),
            digests: self.digests.load(Ordering::SeqCst),
            digest_pending: lock(&self.book).open().iter().map(|d| d.count).sum(),
            cursor: lock(&self.position).offset,
            disabled: lock(&self.disabled).clone(),
            cut_off: self.cut_off.load(Ordering::SeqCst),
        }
    }
}

/// Persist `hook`'s cursor off the async threads (durably or not); problems are returned.
async fn persist_hook(hook: &Arc<Hook>, durable: bool) -> Result<(), WebhookError> {
    let hook = Arc::clone(hook);
    let path = hook.cursor_path.clone();
    tokio::task::spawn_blocking(move || hook.persist(durable))
        .await
        .unwrap_or_else(|e| Err(state::state_error(path, "write", std::io::Error::other(e))))
}

/// Give every webhook that has no cursor yet (a webhook new to this install) a cursor at the
/// current end of the alert log, written durably, so that it receives the alerts raised from now
/// on rather than the whole history (`replay` sends history on request). Returns the names of
/// the webhooks it started. Call before [`LogDelivery::start`]; blocking.
pub fn start_new_webhooks_at_log_end(
    alert_log: &Path,
    state_dir: &Path,
    destinations: &Destinations,
) -> Result<Vec<String>, WebhookError> {
    state::ensure_webhooks_dir(state_dir)?;
    let end = std::fs::metadata(alert_log).map(|m| m.len()).unwrap_or(0);
    let mut started = Vec::new();
    for name in destinations.names() {
        let path = cursor_path(state_dir, &name);
        // A corrupt cursor is not a new destination's: starting delivery reports it, and the
        // other new destinations start here all the same (at this point of the log, whenever
        // delivery manages to start).
        if !matches!(state::read_cursor(&path), Ok(None)) {
            continue;
        }
        // The end of the log is the start of its next line (the writer repairs a torn last
        // line when it opens the log); if it is not, the webhook gets the log from its start.
        let (source, restarted) = LogSource::resume(alert_log, end, LogIdentity::default())?;
        let (offset, log) = source.position();
        if let Some(reason) = restarted {
            tracing::warn!(webhook = %name, "a new webhook gets the alert log from its start: {reason}");
        }
        let cursor = CursorFile {
            webhook: name.clone(),
            offset,
            log: log.clone(),
            written: state::rfc3339_now(),
            digests: DigestBook::default(),
        };
        state::write_cursor(&path, &cursor, true)?;
        tracing::info!(webhook = %name, offset, "new webhook: it gets the alerts raised from now on (lookout alerts replay sends earlier ones)");
        started.push(name.clone());
    }
    Ok(started)
}

/// Webhook delivery from the alert log: one task per webhook, each with a persisted cursor.
///
/// Dropping it without [`LogDelivery::shutdown`] stops the tasks at once, like a crash: cursors
/// keep their last persisted value and the alerts after it are delivered again next time.
#[derive(Debug)]
pub struct LogDelivery {
    hooks: Vec<Arc<Hook>>,
    tasks: Vec<(Arc<Hook>, JoinHandle<()>)>,
    /// Stops every task; cancelled when this is dropped too.
    stop: CancellationToken,
}

/// Each destination's sender and policy, built: the names distinct, the credentials read from
/// the environment, the TLS settings made.
fn senders(destinations: Destinations) -> Result<Vec<(Sender, Policy)>, WebhookError> {
    let client = http_client()?;
    let mut senders = Vec::new();
    let mut names = HashSet::new();
    let all = destinations
        .webhooks
        .into_iter()
        .map(Destination::Webhook)
        .chain(destinations.emails.into_iter().map(Destination::Email));
    for destination in all {
        if !names.insert(destination.name().to_owned()) {
            return Err(WebhookError::InvalidWebhook {
                name: destination.name().to_owned(),
                reason: "the name is used by another destination too".into(),
            });
        }
        let delivery_policy = destination.policy()?;
        senders.push((Sender::new(destination, &client)?, delivery_policy));
    }
    Ok(senders)
}

/// Check that every destination of `destinations` can be delivered to as configured (what
/// [`LogDelivery::start`] would refuse in them: a setting, an unset environment variable named
/// by credentials, a certificate TLS cannot use), without starting anything.
pub fn check_destinations(destinations: &Destinations) -> Result<(), WebhookError> {
    senders(destinations.clone()).map(drop)
}

impl LogDelivery {
    /// Spawns one tokio task per webhook on the current runtime. Each task reads the alert log
    /// from its persisted cursor (a byte offset of the start of the next line; start of the
    /// file if none), delivers every alert its route wants, and persists the cursor after each
    /// alert is settled (delivered, or dead-lettered), at most every 100 ms or 100 lines.
    ///
    /// A cursor that no longer fits the log (another file, shorter, not at a line start) is
    /// warned about and the log is delivered from its start. A webhook with a `.disabled`
    /// marker is not started (logged as an ERROR). Fails on an invalid or duplicate webhook, an
    /// unreadable or corrupt cursor, a state folder that cannot be created, or outside a runtime.
    ///
    /// `metrics` gets every webhook's series at start (at zero), then its attempts, failures,
    /// deliveries, dead letters, backlog and disabled state.
    pub fn start(
        alert_log: PathBuf,
        state_dir: PathBuf,
        destinations: Destinations,
        routes: Routes,
        policy: RetryPolicy,
        metrics: Metrics,
    ) -> Result<LogDelivery, WebhookError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| WebhookError::NoRuntime)?;
        let senders = senders(destinations)?;
        state::ensure_webhooks_dir(&state_dir)?;

        // Read every cursor before starting anything: a bad one fails the start as a whole.
        let mut prepared = Vec::with_capacity(senders.len());
        for (endpoint, delivery_policy) in senders {
            let name = endpoint.name().to_owned();
            let cursor_path = cursor_path(&state_dir, &name);
            let cursor = state::read_cursor(&cursor_path)?;
            let disabled = disabled_reason(&state_dir, &name)?;
            let (offset, log) = cursor
                .as_ref()
                .map_or((0, LogIdentity::default()), |c| (c.offset, c.log.clone()));
            let book = cursor
                .as_ref()
                .map(|c| c.digests.clone())
                .unwrap_or_default();
            let mut position = Position {
                offset,
                log,
                generation: 0,
            };
            let source = if let Some(reason) = &disabled {
                tracing::error!(
                    webhook = %name,
                    reason = %reason,
                    marker = %disabled_path(&state_dir, &name).display(),
                    "webhook is disabled and is sent nothing; remove the marker file and restart to deliver to it again"
                );
                None
            } else {
                let (source, restarted) =
                    LogSource::resume(&alert_log, position.offset, position.log.clone())?;
                if let Some(reason) = restarted {
                    tracing::warn!(
                        webhook = %name,
                        cursor = position.offset,
                        "the webhook's cursor does not fit the alert log ({reason}); delivering the log from its start (receivers may see webhook-ids again)"
                    );
                    position.generation = 1;
                } else if cursor.is_some() {
                    tracing::info!(webhook = %name, offset = position.offset, "resuming webhook delivery from its cursor");
                }
                let (offset, log) = source.position();
                position.offset = offset;
                position.log = log.clone();
                Some(source)
            };
            let hook = Arc::new(Hook {
                disabled_path: disabled_path(&state_dir, &name),
                name,
                cursor_path,
                delivered: AtomicU64::new(0),
                failed_attempts: AtomicU64::new(0),
                dead_lettered: AtomicU64::new(0),
                malformed: AtomicU64::new(0),
                digests: AtomicU64::new(0),
                book: Mutex::new(book),
                disabled: Mutex::new(disabled),
                cut_off: AtomicBool::new(false),
                position: Mutex::new(position),
                persisted: AtomicU64::new(0),
                written: AtomicU64::new(0),
                writing: Mutex::new(()),
                notify: Notify::new(),
            });
            prepared.push((hook, endpoint, delivery_policy, source));
        }

        let routes = Arc::new(routes);
        let dead_letters = Arc::new(DeadLetterFile::new(&state_dir));
        let stop = CancellationToken::new();
        let mut hooks = Vec::with_capacity(prepared.len());
        let mut tasks = Vec::new();
        for (hook, endpoint, delivery_policy, source) in prepared {
            hooks.push(Arc::clone(&hook));
            metrics.init_webhook(&hook.name);
            metrics.set_webhook_disabled(&hook.name, source.is_none());
            let Some(source) = source else { continue };
            let worker = Worker {
                sink: webhook_sink(&hook.name),
                metrics: metrics.clone(),
                rng: XorShift64::seeded(&hook.name),
                hook: Arc::clone(&hook),
                endpoint,
                delivery_policy,
                policy,
                routes: Arc::clone(&routes),
                log_path: alert_log.clone(),
                source: Arc::new(Mutex::new(source)),
                dead_letters: Arc::clone(&dead_letters),
                stop: stop.clone(),
                since_persist: 0,
                last_persist: Instant::now(),
                read_problem: Throttle::default(),
                persist_problem: Throttle::default(),
            };
            tasks.push((hook, runtime.spawn(worker.run())));
        }
        Ok(LogDelivery { hooks, tasks, stop })
    }

    /// New lines were appended to the log: wake the tasks now (they also poll every 250 ms).
    /// Never blocks.
    pub fn notify(&self) {
        for hook in &self.hooks {
            hook.notify.notify_one();
        }
    }

    /// The webhooks whose delivery task ended although it was neither stopped nor disabled (a
    /// bug: a panic). Their alerts wait in the log behind their cursor; restarting delivery
    /// resumes them.
    pub fn crashed(&self) -> Vec<String> {
        if self.stop.is_cancelled() {
            return Vec::new();
        }
        self.tasks
            .iter()
            .filter(|(hook, task)| task.is_finished() && lock(&hook.disabled).is_none())
            .map(|(hook, _)| hook.name.clone())
            .collect()
    }

    /// What has happened so far.
    pub fn stats(&self) -> DeliveryStats {
        let webhooks: Vec<WebhookStats> = self.hooks.iter().map(|h| h.stats()).collect();
        DeliveryStats {
            delivered: webhooks.iter().map(|w| w.delivered).sum(),
            failed_attempts: webhooks.iter().map(|w| w.failed_attempts).sum(),
            dead_lettered: webhooks.iter().map(|w| w.dead_lettered).sum(),
            malformed: webhooks.iter().map(|w| w.malformed).sum(),
            webhooks,
        }
    }

    /// Stop: no new alert is taken; attempts in flight may finish until `deadline` (a task
    /// waiting to retry stops at once, its alert unsettled); then the rest are aborted (their
    /// alert is delivered again next time), every cursor is persisted, and the counts returned.
    pub async fn shutdown(mut self, deadline: Duration) -> DeliveryStats {
        // Receivers only see `true` or a dropped sender; either stops them.
        self.stop.cancel();
        let until = Instant::now() + deadline;
        for (hook, mut task) in std::mem::take(&mut self.tasks) {
            if tokio::time::timeout_at(until, &mut task).await.is_err() {
                task.abort();
                // An aborted task ends with a cancellation error; nothing to report.
                let _ = task.await;
                hook.cut_off.store(true, Ordering::SeqCst);
                tracing::warn!(
                    webhook = %hook.name,
                    "webhook shutdown deadline of {deadline:?} passed with a delivery in flight; it is delivered again at the next start"
                );
            }
        }
        for hook in &self.hooks {
            if hook.dirty() {
                if let Err(err) = persist_hook(hook, true).await {
                    tracing::error!(webhook = %hook.name, error = %err, "cannot persist the webhook's cursor at shutdown; alerts after the last persisted cursor will be delivered again");
                }
            }
        }
        let stats = self.stats();
        tracing::info!(
            delivered = stats.delivered,
            failed_attempts = stats.failed_attempts,
            dead_lettered = stats.dead_lettered,
            "webhook delivery stopped"
        );
        stats
    }
}

impl Drop for LogDelivery {
    fn drop(&mut self) {
        self.stop.cancel();
        for (_, task) in &self.tasks {
            task.abort();
        }
    }
}

/// Logs a lasting problem once, then at most every `ERROR_REPEAT`.
#[derive(Debug, Default)]
struct Throttle {
    /// When the ongoing problem was last logged; `None` when there is none.
    last_logged: Option<Instant>,
}

impl Throttle {
    /// The problem happened (again): true if this occurrence should be logged.
    fn hit(&mut self) -> bool {
        let now = Instant::now();
        let due = self
            .last_logged
            .is_none_or(|t| now.duration_since(t) >= ERROR_REPEAT);
        if due {
            self.last_logged = Some(now);
        }
        due
    }

    /// The problem is gone; true if there was one.
    fn clear(&mut self) -> bool {
        self.last_logged.take().is_some()
    }
}

/// What became of one line.
enum Step {
    /// Settled: move the cursor past it.
    Next,
    /// Put into a digest: move the cursor past it (saved with the digest on the interval).
    Digested,
    /// Stop asked for before it was settled: the cursor stays before it.
    Stop,
    /// The webhook answered 410 Gone: disabled, the cursor stays before it.
    Disabled,
}

/// A line of the log, understood.
enum Parsed {
    Blank,
    Malformed,
    /// The alert and its line (the request body).
    Alert(Box<Alert>, String),
}

/// Parse one log line; a malformed one is warned about (naming `who` and its byte offset).
fn parse_line(line: &Line, log: &Path, who: &str) -> Parsed {
    let text = match std::str::from_utf8(&line.bytes) {
        Ok(text) => text.trim(),
        Err(err) => {
            tracing::warn!(webhook = who, path = %log.display(), byte_offset = line.start, error = %err, "skipping a line of the alert log that is not UTF-8");
            return Parsed::Malformed;
        }
    };
    if text.is_empty() {
        return Parsed::Blank;
    }
    match Alert::from_json_line(text) {
        Ok(alert) => Parsed::Alert(Box::new(alert), text.to_owned()),
        Err(err) => {
            tracing::warn!(webhook = who, path = %log.display(), byte_offset = line.start, error = %err, "skipping a line of the alert log that is not an alert");
            Parsed::Malformed
        }
    }
}

/// Read the next batch off the async threads.
async fn read_batch(source: &Arc<Mutex<LogSource>>) -> Result<Batch, WebhookError> {
    let path = lock(source).path().to_path_buf();
    let source = Arc::clone(source);
    tokio::task::spawn_blocking(move || lock(&source).next_batch(BATCH_LINES, BATCH_BYTES))
        .await
        .unwrap_or_else(|e| Err(AlertLogError::io(path, "read", std::io::Error::other(e))))
        .map_err(WebhookError::from)
}

/// The task of one webhook.
struct Worker {
    hook: Arc<Hook>,
    endpoint: Sender,
    /// Each alert, digests, or a throttle.
    delivery_policy: Policy,
    policy: RetryPolicy,
    routes: Arc<Routes>,
    log_path: PathBuf,
    source: Arc<Mutex<LogSource>>,
    dead_letters: Arc<DeadLetterFile>,
    stop: CancellationToken,
    rng: XorShift64,
    /// Lines settled since the cursor was last persisted.
    since_persist: u64,
    last_persist: Instant,
    read_problem: Throttle,
    persist_problem: Throttle,
    metrics: Metrics,
    /// This webhook's `sink` label in the metrics.
    sink: String,
}

impl Worker {
    async fn run(mut self) {
        'lines: loop {
            if self.stopped() {
                break;
            }
            let batch = match read_batch(&self.source).await {
                Ok(batch) => {
                    if self.read_problem.clear() {
                        tracing::info!(webhook = %self.hook.name, "the alert log is readable again");
                    }
                    batch
                }
                Err(err) => {
                    if self.read_problem.hit() {
                        tracing::error!(webhook = %self.hook.name, error = %err, "cannot read the alert log; trying again");
                    }
                    self.idle().await;
                    continue;
                }
            };
            if batch.reset {
                // Another file (rotation), or the same one truncated: the open digests keep
                // the alerts read before; nothing of them is lost.
                self.hook.settle_to(0, &batch.identity);
            }
            self.report_backlog(batch.len);
            if batch.lines.is_empty() {
                // Caught up with the log: every digest whose window has ended is complete.
                if let Step::Stop | Step::Disabled = self.send_due_digests(true).await {
                    break;
                }
                self.idle().await;
                continue;
            }
            for line in &batch.lines {
                // Tests inject a bug into delivery here (FAILPOINTS=delivery::line=1*panic).
                fail::fail_point!("delivery::line");
                if let Step::Stop | Step::Disabled = self.send_due_digests(false).await {
                    break 'lines;
                }
                match self.settle(line).await {
                    Step::Digested => {
                        self.hook.settle_to(line.end, &batch.identity);
                        self.report_backlog(batch.len);
                        self.since_persist += 1;
                        if self.since_persist >= PERSIST_LINES
                            || self.last_persist.elapsed() >= PERSIST_INTERVAL
                        {
                            self.persist().await;
                        }
                    }
                    Step::Next => {
                        self.hook.settle_to(line.end, &batch.identity);
                        self.report_backlog(batch.len);
                        self.since_persist += 1;
                        if self.since_persist >= PERSIST_LINES
                            || self.last_persist.elapsed() >= PERSIST_INTERVAL
                        {
                            self.persist().await;
                        } else if let Err(err) = persist_hook(&self.hook, false).await {
                            if self.persist_problem.hit() {
                                tracing::error!(webhook = %self.hook.name, error = %err, "cannot write the webhook's cursor");
                            }
                        }
                    }
                    Step::Stop | Step::Disabled => break 'lines,
                }
            }
        }
        self.persist().await;
    }

    /// The bytes of the log (`len` long when last read) that this webhook has not settled.
    fn report_backlog(&self, len: u64) {
        let offset = lock(&self.hook.position).offset;
        self.metrics
            .set_webhook_backlog(&self.hook.name, len.saturating_sub(offset));
    }

    fn stopped(&self) -> bool {
        self.stop.is_cancelled()
    }

    /// Wait for a notification, the poll interval or stop; persist a lagging cursor when due.
    async fn idle(&mut self) {
        let mut wait = POLL_INTERVAL;
        if self.hook.dirty() {
            let due_in = PERSIST_INTERVAL.saturating_sub(self.last_persist.elapsed());
            if due_in.is_zero() {
                self.persist().await;
            } else {
                wait = wait.min(due_in);
            }
        }
        tokio::select! {
            () = self.hook.notify.notified() => {}
            () = tokio::time::sleep(wait) => {}
            () = self.stop.cancelled() => {}
        }
    }

    async fn persist(&mut self) {
        self.since_persist = 0;
        self.last_persist = Instant::now();
        match persist_hook(&self.hook, true).await {
            Ok(()) => {
                if self.persist_problem.clear() {
                    tracing::info!(webhook = %self.hook.name, "the webhook's cursor is persisted again");
                }
            }
            Err(err) => {
                if self.persist_problem.hit() {
                    tracing::error!(webhook = %self.hook.name, error = %err, "cannot persist the webhook's cursor; delivery goes on, but a restart would deliver again what was sent since the last persisted cursor");
                }
            }
        }
    }

    /// Deliver one line (if it is an alert this webhook wants) until it is settled.
    async fn settle(&mut self, line: &Line) -> Step {
        let (alert, text) = match parse_line(line, &self.log_path, &self.hook.name) {
            Parsed::Blank => return Step::Next,
            Parsed::Malformed => {
                self.hook.malformed.fetch_add(1, Ordering::SeqCst);
                return Step::Next;
            }
            Parsed::Alert(alert, text) => (alert, text),
        };
        if !self.routes.wants(&self.hook.name, &alert.query.name) {
            return Step::Next;
        }
        // A copy record is no alert: the first alert of its story was delivered, or waits in
        // a digest, which counts it ("also in N sources").
        let policy = self.routes.policy(&alert.query.name, &self.delivery_policy);
        if alert.is_copy() {
            if policy.is_each() || !lock(&self.hook.book).copy(&alert) {
                return Step::Next;
            }
            return Step::Digested;
        }
        if !policy.is_each() {
            let route = lock(&self.hook.book).route(&alert, &policy, Utc::now());
            if route == Route::Digested {
                return Step::Digested;
            }
        }
        let item = Item::Alert {
            alert: &alert,
            line: &text,
        };
        let outcome = self.send(item, &alert.alert_id).await;
        match outcome {
            Outcome::Delivered => {
                self.hook.delivered.fetch_add(1, Ordering::SeqCst);
                self.metrics.sink_delivered(&self.sink);
                Step::Next
            }
            Outcome::Failed {
                attempts,
                last_error,
                permanent,
            } => {
                let record = DeadLetter::new(
                    &self.hook.name,
                    &alert.alert_id,
                    &alert.query.name,
                    alert.at,
                    attempts,
                    &last_error,
                );
                self.dead_letter(record, permanent).await;
                Step::Next
            }
            Outcome::Gone { last_error, .. } => {
                self.disable(&alert.alert_id, &last_error).await;
                Step::Disabled
            }
            Outcome::Interrupted { attempts } => {
                tracing::info!(
                    webhook = %self.hook.name,
                    alert_id = %alert.alert_id,
                    attempts,
                    "stopping before this alert was delivered; it is delivered at the next start"
                );
                Step::Stop
            }
        }
    }

    /// Send one message (`id` names it) until it is settled, counting in this destination's
    /// tally, stopping at the stop signal.
    async fn send(&mut self, item: Item<'_>, id: &str) -> Outcome {
        self.rng.mix(id);
        let tally = Tally {
            failed_attempts: &self.hook.failed_attempts,
            metrics: &self.metrics,
        };
        self.endpoint
            .send(
                item,
                id,
                &self.policy,
                &mut self.rng,
                Some(&self.stop),
                &tally,
            )
            .await
    }

    /// Send every digest that is due (`caught_up`: the whole log has been read), oldest first;
    /// each is closed, and the book saved durably, once it is settled (sent, or given up on and
    /// dead-lettered). Stops at a stop signal or a 410 Gone.
    async fn send_due_digests(&mut self, caught_up: bool) -> Step {
        if self.delivery_policy.is_each()
            && !self.routes.has_policies()
            && lock(&self.hook.book).open().is_empty()
        {
            return Step::Next;
        }
        loop {
            let now = Utc::now();
            let due = {
                let book = lock(&self.hook.book);
                book.due(now, caught_up)
                    .and_then(|i| book.digest(i).cloned().map(|d| (i, d)))
            };
            let Some((index, digest)) = due else {
                return Step::Next;
            };
            let outcome = self.send(Item::Digest(&digest), &digest.digest_id).await;
            match outcome {
                Outcome::Delivered => {
                    self.hook.digests.fetch_add(1, Ordering::SeqCst);
                    self.metrics.sink_delivered(&self.sink);
                    tracing::info!(
                        webhook = %self.hook.name,
                        digest_id = %digest.digest_id,
                        alerts = digest.count,
                        "digest delivered"
                    );
                }
                Outcome::Failed {
                    attempts,
                    last_error,
                    permanent,
                } => {
                    let record = DeadLetter::new(
                        &self.hook.name,
                        &digest.digest_id,
                        &digest.query,
                        digest.window.start,
                        attempts,
                        &last_error,
                    );
                    self.dead_letter(record, permanent).await;
                }
                Outcome::Gone { last_error } => {
                    self.disable(&digest.digest_id, &last_error).await;
                    return Step::Disabled;
                }
                Outcome::Interrupted { .. } => return Step::Stop,
            }
            {
                let mut book = lock(&self.hook.book);
                book.sent(index, now);
                let (routes, base) = (&self.routes, &self.delivery_policy);
                book.expire_sends(now, |query| {
                    routes.policy(query, base).at_most.map(|rate| rate.per)
                });
            }
            self.hook.touch();
            self.persist().await;
        }
    }

    /// Give up on one message: its record goes to the dead-letter file (and the logs).
    async fn dead_letter(&mut self, record: DeadLetter, permanent: bool) {
        let (id, attempts, last_error) = (
            record.alert_id.clone(),
            record.attempts,
            record.last_error.clone(),
        );
        self.hook.dead_lettered.fetch_add(1, Ordering::SeqCst);
        self.metrics.dead_letter(&self.hook.name);
        let why = if permanent {
            "permanent error, not retried"
        } else {
            "attempts exhausted"
        };
        let file = Arc::clone(&self.dead_letters);
        let path = file.path().to_path_buf();
        let written = {
            let record = record.clone();
            tokio::task::spawn_blocking(move || file.append(&record))
                .await
                .unwrap_or_else(|e| {
                    Err(state::state_error(
                        path.clone(),
                        "append to",
                        std::io::Error::other(e),
                    ))
                })
        };
        match written {
            Ok(()) => tracing::error!(
                webhook = %self.hook.name,
                alert_id = %id,
                attempts,
                error = %last_error,
                dead_letter = %path.display(),
                "webhook delivery failed ({why}); alert written to the dead-letter file"
            ),
            Err(err) => tracing::error!(
                webhook = %self.hook.name,
                alert_id = %id,
                attempts,
                error = %last_error,
                record = %serde_json::to_string(&record).unwrap_or_default(),
                "webhook delivery failed ({why}), and the dead-letter record cannot be written: {err}"
            ),
        }
    }

    async fn disable(&mut self, id: &str, last_error: &str) {
        let reason = format!(
            "{last_error} from {} at {} (message {id})",
            self.endpoint.address(),
            state::rfc3339_now(),
        );
        *lock(&self.hook.disabled) = Some(reason.clone());
        self.metrics.set_webhook_disabled(&self.hook.name, true);
        let marker = self.hook.disabled_path.clone();
        let written = {
            let marker = marker.clone();
            let reason = reason.clone();
            tokio::task::spawn_blocking(move || state::write_disabled(&marker, &reason))
                .await
                .unwrap_or_else(|e| {
                    Err(state::state_error(
                        self.hook.disabled_path.clone(),
                        "write",
                        std::io::Error::other(e),
                    ))
                })
        };
        match written {
            Ok(()) => tracing::error!(
                webhook = %self.hook.name,
                reason = %reason,
                marker = %marker.display(),
                "webhook answered 410 Gone: disabled; it is sent nothing until the marker file is removed (its cursor stays at this alert)"
            ),
            Err(err) => tracing::error!(
                webhook = %self.hook.name,
                reason = %reason,
                "webhook answered 410 Gone: disabled until restart; the marker cannot be written: {err}"
            ),
        }
    }
}

/// What [`replay`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayStats {
    /// Alerts the webhook's route wants at or after `since`: the ones sent.
    pub selected: u64,
    /// Of those, answered with a 2xx.
    pub delivered: u64,
    /// Of those, given up on (attempts exhausted or a permanent error; logged as ERRORs).
    pub failed: u64,
    /// Attempts that did not get a 2xx (each retry counts).
    pub failed_attempts: u64,
    /// Alerts passed over: another route, or before `since`.
    pub skipped: u64,
    /// Lines that are not alerts.
    pub malformed: u64,
    /// The webhook answered 410 Gone: replay stopped there. Nothing is written about it.
    pub gone: Option<String>,
}

/// Redeliver alerts from the log to one destination (for `lookout alerts replay --to NAME
/// [--since T]`): every alert its route wants with `at >= since` (all if None), in log order,
/// each alone in the destination's format (a digest destination too), with the same retries;
/// returns counts. Reads the log as it is when replay starts (a
/// missing log is empty). Does not touch the cursor, the dead-letter file or `.disabled`
/// markers (a 410 stops the replay and is reported in [`ReplayStats::gone`]). Attempts,
/// failures and deliveries are counted in `metrics` too.
pub async fn replay(
    alert_log: &Path,
    destination: &Destination,
    routes: &Routes,
    since: Option<DateTime<Utc>>,
    policy: RetryPolicy,
    metrics: &Metrics,
) -> Result<ReplayStats, WebhookError> {
    let client = http_client()?;
    let endpoint = Sender::new(destination.clone(), &client)?;
    let name = destination.name();
    let end = match std::fs::metadata(alert_log) {
        Ok(meta) => meta.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => return Err(AlertLogError::io(alert_log, "inspect", e).into()),
    };
    let source = Arc::new(Mutex::new(LogSource::new(alert_log, false)));
    let failed_attempts = AtomicU64::new(0);
    let tally = Tally {
        failed_attempts: &failed_attempts,
        metrics,
    };
    let sink = webhook_sink(name);
    let mut rng = XorShift64::seeded(name);
    let mut stats = ReplayStats::default();
    'lines: loop {
        let batch = read_batch(&source).await?;
        if batch.lines.is_empty() {
            break;
        }
        for line in &batch.lines {
            if line.start >= end {
                break 'lines;
            }
            let (alert, text) = match parse_line(line, alert_log, name) {
                Parsed::Blank => continue,
                Parsed::Malformed => {
                    stats.malformed += 1;
                    continue;
                }
                Parsed::Alert(alert, text) => (alert, text),
            };
            if alert.is_copy()
                || !routes.wants(name, &alert.query.name)
                || since.is_some_and(|since| alert.at < since)
            {
                stats.skipped += 1;
                continue;
            }
            stats.selected += 1;
            rng.mix(&alert.alert_id);
            let item = Item::Alert {
                alert: &alert,
                line: &text,
            };
            let outcome = endpoint
                .send(item, &alert.alert_id, &policy, &mut rng, None, &tally)
                .await;
            match outcome {
                Outcome::Delivered => {
                    stats.delivered += 1;
                    metrics.sink_delivered(&sink);
                }
                Outcome::Failed {
                    attempts,
                    last_error,
                    ..
                } => {
                    stats.failed += 1;
                    tracing::error!(
                        webhook = %name,
                        alert_id = %alert.alert_id,
                        attempts,
                        error = %last_error,
                        "replay: webhook delivery failed"
                    );
                }
                Outcome::Gone { last_error, .. } => {
                    stats.failed += 1;
                    tracing::error!(
                        webhook = %name,
                        alert_id = %alert.alert_id,
                        error = %last_error,
                        "replay: webhook answered 410 Gone; replay stopped"
                    );
                    stats.gone = Some(last_error);
                    break 'lines;
                }
                // No stop signal: never happens.
                Outcome::Interrupted { .. } => stats.failed += 1,
            }
        }
    }
    stats.failed_attempts = failed_attempts.load(Ordering::SeqCst);
    Ok(stats)
}
