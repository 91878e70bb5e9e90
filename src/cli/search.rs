//! `lookout search QUERY`: ranked hits with title, path, date and a highlighted snippet, a page
//! at a time (`--limit`, `--offset`); a page past the last hit says so and how many there are.
//! `--collapse` shows one hit per story ("+3 copies"), paging over stories. It reads the index
//! (read-only) and, to collapse, the ledger (a read-only connection), itself, beside a running
//! daemon or without one: it does not go through the daemon's API.

use std::io::Write;

use anyhow::Context;

use super::{Outcome, Palettes};
use crate::api::SearchHit;
use crate::config::Config;
use crate::engine::{search_collapsed, CollapsedResults};
use crate::index::{Hit, LookoutIndex};
use crate::ledger::{Ledger, LedgerError};
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
    /// One hit per story: copies of an article are folded into its best-ranked one, shown
    /// with their count ("+3 copies": the story's other documents among the best 10,000
    /// hits); --limit and --offset count stories.
    #[arg(long)]
    pub collapse: bool,
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
    if args.collapse {
        return print_collapsed(config, &parsed.query, args.page, palettes);
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
    let hits: Vec<(&Hit, Option<usize>, SearchHit)> = results
        .hits
        .iter()
        .map(|hit| (hit, None, SearchHit::from(hit)))
        .collect();
    let summary = summary(results.total, results.hits.len(), page.offset);
    let past_the_end = results.hits.is_empty() && results.total > 0;
    print_page(&hits, &summary, past_the_end, page, palettes)
}

/// `lookout search --collapse`: the stories of the page, each by its best-ranked hit.
fn print_collapsed(
    config: &Config,
    query: &Query,
    page: PageArgs,
    palettes: &Palettes,
) -> anyhow::Result<Outcome> {
    let index = LookoutIndex::open_read_only(&config.index)?;
    let ledger = match Ledger::open_read_only(&config.state_dir) {
        Ok(ledger) => Some(ledger),
        Err(LedgerError::Missing(path)) => {
            eprintln!(
                "warning: no ledger at {}: no story is known, every hit is its own story",
                path.display()
            );
            None
        }
        Err(e) => return Err(e.into()),
    };
    let results = search_collapsed(&index, ledger.as_ref(), query, page.limit, page.offset)
        .context("search failed")?;
    let hits: Vec<(&Hit, Option<usize>, SearchHit)> = results
        .hits
        .iter()
        .map(|c| (&c.hit, Some(c.copies), SearchHit::from(c)))
        .collect();
    let summary = collapsed_summary(&results, page.offset);
    let past_the_end = results.hits.is_empty() && results.total > 0;
    print_page(&hits, &summary, past_the_end, page, palettes)
}

/// Print a page's hits (each with its copies when collapsed, and its JSON shape), then the
/// summary line (on stderr with `--json`, and only for a page past the end).
fn print_page(
    hits: &[(&Hit, Option<usize>, SearchHit)],
    summary: &str,
    past_the_end: bool,
    page: PageArgs,
    palettes: &Palettes,
) -> anyhow::Result<Outcome> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let found = Outcome::found_if(!hits.is_empty());
    for (rank, (hit, copies, json)) in hits.iter().enumerate() {
        let written = if page.json {
            writeln!(out, "{}", serde_json::to_string(json).unwrap_or_default())
        } else {
            write_hit(&mut out, page.offset + rank + 1, hit, *copies, palettes)
        };
        if let Err(e) = written {
            if super::is_broken_pipe(&e) {
                return Ok(found);
            }
            return Err(e.into());
        }
    }
    let written = if page.json {
        // Stdout holds only hits; a page past the end is worth a word on stderr.
        if past_the_end {
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

/// The line under a collapsed page: how many stories are shown of how many, in how many
/// matching documents (the best 10,000 only, when the query matched more), or why none is.
fn collapsed_summary(results: &CollapsedResults, offset: usize) -> String {
    stories_summary(
        results.total,
        results.grouped,
        results.stories,
        results.hits.len(),
        offset,
    )
}

fn stories_summary(
    total: usize,
    grouped: usize,
    stories: usize,
    shown: usize,
    offset: usize,
) -> String {
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let documents = if total > grouped {
        format!("among the best {grouped} of {total} matching documents")
    } else {
        format!(
            "in {}",
            plural(total, "matching document", "matching documents")
        )
    };
    let of_stories = plural(stories, "story", "stories");
    match (total, shown) {
        (0, _) => "no matching document".to_string(),
        (_, 0) => format!(
            "--offset {offset} is past the last story: there {} {of_stories} {documents} (use an --offset below {stories})",
            if stories == 1 { "is" } else { "are" },
        ),
        _ if offset == 0 => format!("{shown} of {of_stories} {documents}"),
        _ => format!(
            "{shown} of {of_stories} {documents} (stories {} to {})",
            offset + 1,
            offset + shown
        ),
    }
}

fn write_hit(
    out: &mut impl Write,
    rank: usize,
    hit: &Hit,
    copies: Option<usize>,
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
    match copies {
        Some(n @ 1..) => writeln!(
            out,
            "{rank:>3}. {}  {}",
            palette.bold(title),
            palette.dim(format!("+{n} {}", if n == 1 { "copy" } else { "copies" }))
        )?,
        _ => writeln!(out, "{rank:>3}. {}", palette.bold(title))?,
    }
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
    use super::{stories_summary, summary};

    fn collapsed(total: usize, stories: usize, shown: usize, offset: usize) -> String {
        let grouped = total.min(crate::engine::COLLAPSE_HITS);
        stories_summary(total, grouped, stories, shown, offset)
    }

    #[test]
    fn the_collapsed_summary_counts_stories() {
        assert_eq!(collapsed(0, 0, 0, 0), "no matching document");
        assert_eq!(collapsed(1, 1, 1, 0), "1 of 1 story in 1 matching document");
        assert_eq!(
            collapsed(5, 2, 2, 0),
            "2 of 2 stories in 5 matching documents"
        );
        assert_eq!(
            collapsed(5, 3, 1, 2),
            "1 of 3 stories in 5 matching documents (stories 3 to 3)"
        );
        assert_eq!(
            collapsed(5, 2, 0, 2),
            "--offset 2 is past the last story: there are 2 stories in 5 matching documents (use an --offset below 2)"
        );
        assert_eq!(
            collapsed(4, 1, 0, 9),
            "--offset 9 is past the last story: there is 1 story in 4 matching documents (use an --offset below 1)"
        );
        assert_eq!(
            collapsed(25_000, 7_000, 10, 0),
            "10 of 7000 stories among the best 10000 of 25000 matching documents"
        );
    }

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
