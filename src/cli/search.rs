//! `lookout search QUERY`: ranked hits with title, path, date and a highlighted snippet, a page
//! at a time (`--limit`, `--offset`); a page past the last hit says so and how many there are.

use std::io::Write;

use anyhow::Context;

use super::{Outcome, Palettes};
use crate::api::SearchHit;
use crate::config::Config;
use crate::index::{Hit, LookoutIndex};
use crate::query::{self, Query};

/// The most hits one page may ask for.
pub const MAX_LIMIT: u64 = 1_000_000;
/// The furthest a page may start.
pub const MAX_OFFSET: u64 = 1_000_000;

pub const SEARCH_EXIT_STATUS: &str = "\
Exit status: 0 when hits are printed, 1 when there is none (nothing matches, or --offset is
past the last hit), 2 on an error (invalid query, no index, unreadable index).";

#[derive(Debug, clap::Args)]
#[command(after_help = SEARCH_EXIT_STATUS)]
pub struct SearchArgs {
    /// The query, in lookout's query language (quote it for the shell).
    pub query: String,
    #[command(flatten)]
    pub page: PageArgs,
}

/// Which page of hits, and how it is printed (shared with `queries run`).
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct PageArgs {
    /// Print one JSON object per hit.
    #[arg(long)]
    pub json: bool,
    /// At most this many hits (1 to 1,000,000).
    #[arg(
        long,
        short = 'n',
        default_value_t = 10,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=MAX_LIMIT)
    )]
    pub limit: usize,
    /// Skip this many hits first (at most 1,000,000).
    #[arg(
        long,
        default_value_t = 0,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(0..=MAX_OFFSET)
    )]
    pub offset: usize,
}

pub fn run(config: &Config, args: SearchArgs, palettes: &Palettes) -> anyhow::Result<Outcome> {
    let parsed = match query::parse_with_limits(&args.query, config.query_limits) {
        Ok(parsed) => parsed,
        Err(error) => {
            super::print_query_error(&args.query, &error, &palettes.err);
            return Ok(Outcome::Errors);
        }
    };
    for lint in &parsed.lints {
        eprintln!("warning: {lint}");
    }
    print_results(config, &parsed.query, args.page, palettes)
}

/// Shared with `lookout queries run`.
pub fn print_results(
    config: &Config,
    query: &Query,
    page: PageArgs,
    palettes: &Palettes,
) -> anyhow::Result<Outcome> {
    let index = LookoutIndex::open_read_only(&config.index)?;
    let results = index
        .search(query, page.limit, page.offset)
        .context("search failed")?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let found = Outcome::found_if(!results.hits.is_empty());
    for (rank, hit) in results.hits.iter().enumerate() {
        let written = if page.json {
            writeln!(out, "{}", hit_json(hit))
        } else {
            write_hit(&mut out, page.offset + rank + 1, hit, palettes)
        };
        if let Err(e) = written {
            if super::is_broken_pipe(&e) {
                return Ok(found);
            }
            return Err(e.into());
        }
    }
    let summary = summary(results.total, results.hits.len(), page.offset);
    let written = if page.json {
        // Stdout holds only hits; a page past the end is worth a word on stderr.
        if results.hits.is_empty() && results.total > 0 {
            eprintln!("lookout: {summary}");
        }
        Ok(())
    } else {
        writeln!(out, "{summary}")
    };
    match written {
        Err(e) if !super::is_broken_pipe(&e) => Err(e.into()),
        _ => Ok(found),
    }
}

/// The line under the hits: how many are shown of how many, or why none is.
fn summary(total: usize, shown: usize, offset: usize) -> String {
    let documents = |n: usize| format!("{n} matching document{}", if n == 1 { "" } else { "s" });
    match (total, shown) {
        (0, _) => "no matching document".to_string(),
        (_, 0) => format!(
            "--offset {offset} is past the last hit: there {} {} (use an --offset below {total})",
            if total == 1 { "is" } else { "are" },
            documents(total)
        ),
        _ if offset == 0 => format!("{shown} of {}", documents(total)),
        _ => format!(
            "{shown} of {} (hits {} to {})",
            documents(total),
            offset + 1,
            offset + shown
        ),
    }
}

fn hit_json(hit: &Hit) -> String {
    serde_json::to_string(&SearchHit::from(hit)).unwrap_or_default()
}

fn write_hit(
    out: &mut impl Write,
    rank: usize,
    hit: &Hit,
    palettes: &Palettes,
) -> std::io::Result<()> {
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
    let palette = &palettes.out;
    writeln!(out, "{rank:>3}. {}", palette.bold(title))?;
    writeln!(out, "     {date}  {}", palette.dim(doc.location()))?;
    writeln!(
        out,
        "     {}",
        super::render_snippet(&hit.summary.snippet, palette)
    )?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::summary;

    #[test]
    fn the_summary_says_what_the_page_shows() {
        assert_eq!(summary(0, 0, 0), "no matching document");
        assert_eq!(summary(0, 0, 30), "no matching document");
        assert_eq!(summary(1, 1, 0), "1 of 1 matching document");
        assert_eq!(summary(25, 10, 0), "10 of 25 matching documents");
        assert_eq!(
            summary(25, 5, 20),
            "5 of 25 matching documents (hits 21 to 25)"
        );
        assert_eq!(
            summary(1, 0, 5),
            "--offset 5 is past the last hit: there is 1 matching document (use an --offset below 1)"
        );
        assert_eq!(
            summary(2, 0, 2),
            "--offset 2 is past the last hit: there are 2 matching documents (use an --offset below 2)"
        );
    }
}
