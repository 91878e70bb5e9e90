//! `lookout search QUERY`: ranked hits with title, path, date and a highlighted snippet.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;

use crate::api::SearchHit;
use crate::config::Config;
use crate::index::{Hit, LookoutIndex};
use crate::query::{self, Query};

#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    /// The query, in lookout's query language (quote it for the shell).
    pub query: String,
    /// Print one JSON object per hit.
    #[arg(long)]
    pub json: bool,
    /// At most this many hits.
    #[arg(long, short = 'n', default_value_t = 10)]
    pub limit: usize,
    /// Skip this many hits first.
    #[arg(long, default_value_t = 0)]
    pub offset: usize,
}

pub fn run(config: &Config, args: SearchArgs) -> anyhow::Result<ExitCode> {
    let parsed = match query::parse_with_limits(&args.query, config.query_limits) {
        Ok(parsed) => parsed,
        Err(error) => {
            super::print_query_error(&args.query, &error);
            return Ok(ExitCode::from(1));
        }
    };
    for lint in &parsed.lints {
        eprintln!("warning: {lint}");
    }
    print_results(config, &parsed.query, args.json, args.limit, args.offset)
}

/// Shared with `lookout queries run`.
pub fn print_results(
    config: &Config,
    query: &Query,
    json: bool,
    limit: usize,
    offset: usize,
) -> anyhow::Result<ExitCode> {
    let index = LookoutIndex::open_read_only(&config.index)?;
    let results = index
        .search(query, limit, offset)
        .context("search failed")?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let terminal = super::stdout_is_terminal();
    for (rank, hit) in results.hits.iter().enumerate() {
        let written = if json {
            writeln!(out, "{}", hit_json(hit))
        } else {
            write_hit(&mut out, offset + rank + 1, hit, terminal)
        };
        if let Err(e) = written {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                return Ok(ExitCode::SUCCESS);
            }
            return Err(e.into());
        }
    }
    if !json {
        let shown = results.hits.len();
        let _ = writeln!(
            out,
            "{} of {} matching document{}",
            shown,
            results.total,
            if results.total == 1 { "" } else { "s" }
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn hit_json(hit: &Hit) -> String {
    serde_json::to_string(&SearchHit::from(hit)).unwrap_or_default()
}

fn write_hit(out: &mut impl Write, rank: usize, hit: &Hit, terminal: bool) -> std::io::Result<()> {
    let doc = &hit.document;
    let title = if doc.title.is_empty() {
        "(untitled)"
    } else {
        doc.title.as_str()
    };
    let date = doc
        .date
        .map(|d| d.to_string())
        .unwrap_or_else(|| "-".into());
    let (bold, reset) = if terminal {
        ("\x1b[1m", "\x1b[0m")
    } else {
        ("", "")
    };
    writeln!(out, "{rank:>3}. {bold}{title}{reset}")?;
    writeln!(out, "     {date}  {}", doc.location())?;
    writeln!(
        out,
        "     {}",
        super::render_snippet(&hit.summary.snippet, terminal)
    )?;
    writeln!(out)
}
