//! `lookout ingest PATH...`: index and match files or folders once, through the engine the
//! daemon drives (the same commands), then exit (with a progress bar on a terminal for large folders). Saved queries
//! that do not parse are reported and left out; they do not make the ingest fail.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::daemon::alert_sinks::{start_delivery, SharedDelivery, WebhookNudge};
use crate::engine::{Command, Engine, EngineOptions, FileOutcome, Reply};

use super::Outcome;

/// How long `ingest` waits for its alerts to reach the webhooks before exiting.
const WEBHOOK_WAIT: Duration = Duration::from_secs(30);

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Exit status: 0 when every file was read (new, already indexed or unchanged), 1 when the paths
hold no file, 2 when a path is missing, a file was skipped (unreadable, too large, bad
content, or named on the command line but of a type lookout does not read; in a folder such
files are passed over) or on another error (index in use, ...). Invalid saved queries are reported but do
not change it (see: lookout queries check).")]
pub struct IngestArgs {
    /// Files or folders (walked recursively).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

pub fn run(config: &Config, args: IngestArgs) -> anyhow::Result<Outcome> {
    let inputs = super::inputs::collect(&args.paths);
    for problem in &inputs.problems {
        eprintln!("lookout: {problem}");
    }
    // A folder holding lookout's own files (its home: the index, the state, the alert log,
    // the configuration) is ingested without them.
    let own = config.own_files().for_roots(&args.paths);
    let (files, own_named): (Vec<PathBuf>, Vec<PathBuf>) =
        inputs.files.into_iter().partition(|f| !own.contains(f));
    for path in own_named.iter().filter(|p| args.paths.contains(p)) {
        eprintln!(
            "lookout: {}: one of lookout's own files, not an article",
            path.display()
        );
    }
    if files.is_empty() {
        if inputs.problems.is_empty() {
            eprintln!("no files to ingest under the paths given");
            return Ok(Outcome::NothingFound);
        }
        return Ok(Outcome::Errors);
    }
    let runtime = tokio::runtime::Runtime::new()?;
    let _guard = runtime.enter();
    let mut engine = Engine::open(config, config.queries.clone(), EngineOptions::default())?;
    // The index writer lock is taken first: one process at a time delivers from the log.
    let delivery = SharedDelivery::default();
    if !config.destinations().names().is_empty() {
        let metrics = crate::metrics::Metrics::default();
        delivery.replace(Some(start_delivery(config, engine.queries(), metrics)?));
        engine.add_sink(Box::new(WebhookNudge(delivery.clone())));
    }
    let bar = (files.len() >= 100 && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(files.len() as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} files  {per_sec}  eta {eta}",
        ) {
            bar.set_style(style);
        }
        bar
    });
    let started = Instant::now();
    // A file of a type lookout does not read is passed over quietly in a folder; named on the
    // command line, it is an error.
    let mut named_unsupported = 0;
    // Files are taken in order (taking waits for room) and prepared by the engine's workers in
    // parallel; what they found is applied in the order taken.
    for file in &files {
        let taken = engine
            .execute(Command::TakeFile { path: file.clone() })
            .and_then(Reply::taken)?;
        if let Some(outcome) = taken {
            if matches!(outcome, FileOutcome::Ignored) && args.paths.contains(file) {
                eprintln!(
                    "skipped {}: lookout does not read this type of file (it reads {})",
                    file.display(),
                    crate::extract::SUPPORTED_EXTENSIONS
                );
                named_unsupported += 1;
            }
            if let Some(bar) = &bar {
                bar.inc(1);
            }
        }
        let done = engine
            .execute(Command::StepFiles {
                budget: Duration::from_millis(20),
                wait: None,
            })
            .and_then(Reply::files_done)?;
        if let Some(bar) = &bar {
            bar.inc(done.len() as u64);
        }
        engine.execute(Command::Tick)?;
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let stats = engine.finish()?;
    if let Some(webhooks) = delivery.replace(None) {
        // Give the webhooks the time to deliver what this run wrote; what they have not
        // delivered by then stays behind their cursor for the next run.
        let log_length = std::fs::metadata(&config.alert_log).map_or(0, |m| m.len());
        let deadline = Instant::now() + WEBHOOK_WAIT;
        while Instant::now() < deadline
            && webhooks
                .stats()
                .webhooks
                .iter()
                .any(|w| w.disabled.is_none() && w.cursor < log_length)
        {
            std::thread::sleep(Duration::from_millis(50));
        }
        runtime.block_on(webhooks.shutdown(Duration::from_secs(2)));
    }
    let ignored = match stats.ignored_files {
        0 => String::new(),
        n => format!(
            ", {n} file{} of other types ignored",
            if n == 1 { "" } else { "s" }
        ),
    };
    // Copy records only when there are some (`duplicates = "suppress"`).
    let copies = match stats.copies {
        0 => String::new(),
        n => format!(
            " ({n} cop{} of stories that alerted: copy records)",
            if n == 1 { "y" } else { "ies" }
        ),
    };
    eprintln!(
        "ingested {} file{} in {:.1}s: {} new document{}, {} already indexed, {} file{} unchanged, {} alert{}{copies}, {} file{} skipped{ignored}",
        stats.files,
        if stats.files == 1 { "" } else { "s" },
        started.elapsed().as_secs_f64(),
        stats.new_documents,
        if stats.new_documents == 1 { "" } else { "s" },
        stats.known_documents,
        stats.unchanged_files,
        if stats.unchanged_files == 1 { "" } else { "s" },
        stats.alerts,
        if stats.alerts == 1 { "" } else { "s" },
        stats.skipped_files,
        if stats.skipped_files == 1 { "" } else { "s" },
    );
    Ok(Outcome::Found.unless_errors(
        stats.skipped_files > 0 || named_unsupported > 0 || !inputs.problems.is_empty(),
    ))
}
