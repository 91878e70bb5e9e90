//! Saving queries back where they live: the `[[queries]]` tables of a TOML file (the config
//! itself or a queries file), edited in place so that comments, other keys and their order
//! survive, or the lines of a TSV file. Every write replaces the file atomically and durably
//! (temporary file in the same folder, fsync, rename, fsync of the folder), and what it writes
//! is read back first: a file this module leaves behind always loads.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use toml_edit::{Array, DocumentMut, InlineTable, Item, RawString, Table, TableLike, Value};

use super::{queries, ConfigError, ConfigFile};
use crate::atomic_file::{self, Durability};
use crate::lock::lock;

/// What `save_query` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveOutcome {
    /// The file had no query of that name: it was appended (the file created if need be).
    Added,
    /// The query was replaced where it stood.
    Updated,
    /// The file already held this exact query: nothing was written.
    Unchanged,
}

/// One read-modify-write at a time in this process (two API requests editing the same file
/// would otherwise lose one of the edits).
static EDIT_LOCK: Mutex<()> = Mutex::new(());

/// Save the query `name` in `file`: replace it in place if the file has it, else append it;
/// create the file if it does not exist. `.toml` files hold `[[queries]]` tables; any other
/// extension is TSV (`NAME<TAB>QUERY` lines), which cannot hold `webhooks` nor a newline.
/// `webhooks: None` is every webhook (the key is left out).
///
/// Only this file is looked at: that the name is unique across the config's files and that the
/// webhooks exist is the caller's to check (`Config::query_spec`, `Config::webhooks`), or the
/// next `Config::load` refuses the config.
pub fn save_query(
    file: &Path,
    name: &str,
    text: &str,
    webhooks: Option<&[String]>,
) -> Result<SaveOutcome, ConfigError> {
    let format = Format::of(file);
    check_name(file, name)?;
    check_text(file, format, text, webhooks)?;
    let _guard = lock(&EDIT_LOCK);
    let target = resolve_symlink(file);
    let old = read_if_exists(&target)?;
    let edit = Edit::Save { text, webhooks };
    let (new, outcome) = match format {
        Format::Toml => edit_toml(&target, old.as_deref().unwrap_or(""), name, edit)?,
        Format::Tsv => edit_tsv(&target, old.as_deref().unwrap_or(""), name, edit)?,
    };
    if outcome != Outcome::Unchanged {
        write_atomic(&target, new.as_bytes())?;
    }
    Ok(match outcome {
        Outcome::Unchanged => SaveOutcome::Unchanged,
        Outcome::Added => SaveOutcome::Added,
        // (A save never removes.)
        Outcome::Updated | Outcome::Removed => SaveOutcome::Updated,
    })
}

/// Remove the query `name` from `file` (its table or its line, nothing else). `false`: the
/// file does not hold it (or does not exist), and was left alone.
pub fn remove_query(file: &Path, name: &str) -> Result<bool, ConfigError> {
    let format = Format::of(file);
    let _guard = lock(&EDIT_LOCK);
    let target = resolve_symlink(file);
    let Some(old) = read_if_exists(&target)? else {
        return Ok(false);
    };
    let (new, outcome) = match format {
        Format::Toml => edit_toml(&target, &old, name, Edit::Remove)?,
        Format::Tsv => edit_tsv(&target, &old, name, Edit::Remove)?,
    };
    if outcome != Outcome::Removed {
        return Ok(false);
    }
    write_atomic(&target, new.as_bytes())?;
    Ok(true)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Toml,
    Tsv,
}

impl Format {
    /// As `load_queries_file` decides: `.toml` (any case) is TOML, anything else TSV.
    fn of(file: &Path) -> Format {
        if file
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("toml"))
        {
            Format::Toml
        } else {
            Format::Tsv
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Edit<'a> {
    Save {
        text: &'a str,
        webhooks: Option<&'a [String]>,
    },
    Remove,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Added,
    Updated,
    /// Nothing to write (for a removal: the file does not hold the query).
    Unchanged,
    Removed,
}

fn invalid(file: &Path, key: &str, problem: String) -> ConfigError {
    ConfigError::Invalid {
        path: file.to_path_buf(),
        key: key.to_string(),
        problem,
    }
}

/// A name by the rules of every saved query ([`queries::check_query_name`]), which also keeps
/// TSV lines and TOML keys unambiguous.
fn check_name(file: &Path, name: &str) -> Result<(), ConfigError> {
    queries::check_query_name(name).map_err(|error| {
        invalid(
            file,
            "name",
            format!(
                "the query name {} is refused: {error}",
                queries::shown_name(name)
            ),
        )
    })
}

/// A TSV line holds one line of text and no webhooks.
fn check_text(
    file: &Path,
    format: Format,
    text: &str,
    webhooks: Option<&[String]>,
) -> Result<(), ConfigError> {
    if format == Format::Toml {
        return Ok(());
    }
    if text.contains(['\n', '\r']) {
        return Err(invalid(
            file,
            "query",
            "a query saved in a TSV file must fit on one line (no line break)".into(),
        ));
    }
    if webhooks.is_some() {
        return Err(invalid(
            file,
            "webhooks",
            "a TSV queries file cannot name webhooks: save the query in a TOML file \
             ([[queries]] tables) instead"
                .into(),
        ));
    }
    Ok(())
}

/// Edit the `[[queries]]` of a TOML document (`queries = [{...}]` inline arrays too).
fn edit_toml(
    file: &Path,
    old: &str,
    name: &str,
    edit: Edit<'_>,
) -> Result<(String, Outcome), ConfigError> {
    let mut doc: DocumentMut =
        old.parse()
            .map_err(|e: toml_edit::TomlError| ConfigError::Syntax {
                path: file.to_path_buf(),
                message: e.to_string().trim_end().to_string(),
            })?;
    let not_a_list = || {
        invalid(
            file,
            "queries",
            "is neither [[queries]] tables nor an array of tables, so it cannot be edited".into(),
        )
    };
    let is_it = |t: &dyn TableLike| t.get("name").and_then(Item::as_str) == Some(name);
    let (mut removed_table, mut added_table) = (None, None);
    let outcome = match doc.get_mut("queries") {
        None => match edit {
            Edit::Remove => Outcome::Unchanged,
            Edit::Save { text, webhooks } => {
                let mut table = Table::new();
                fill(&mut table, name, text, webhooks);
                added_table = Some(table);
                Outcome::Added
            }
        },
        Some(Item::ArrayOfTables(tables)) => {
            let found = tables.iter().position(|t| is_it(t));
            match (found, edit) {
                (None, Edit::Remove) => Outcome::Unchanged,
                (Some(i), Edit::Remove) => {
                    removed_table = Some(tables.remove(i));
                    Outcome::Removed
                }
                (Some(i), Edit::Save { text, webhooks }) => {
                    let table = tables.get_mut(i).ok_or_else(not_a_list)?;
                    update(table, text, webhooks)
                }
                (None, Edit::Save { text, webhooks }) => {
                    let mut table = Table::new();
                    fill(&mut table, name, text, webhooks);
                    added_table = Some(table);
                    Outcome::Added
                }
            }
        }
        Some(Item::Value(Value::Array(array))) => {
            let found = array
                .iter()
                .position(|v| v.as_inline_table().is_some_and(|t| is_it(t)));
            match (found, edit) {
                (None, Edit::Remove) => Outcome::Unchanged,
                (Some(i), Edit::Remove) => {
                    remove_from_array(array, i);
                    Outcome::Removed
                }
                (Some(i), Edit::Save { text, webhooks }) => {
                    let table = array
                        .get_mut(i)
                        .and_then(Value::as_inline_table_mut)
                        .ok_or_else(not_a_list)?;
                    update(table, text, webhooks)
                }
                (None, Edit::Save { text, webhooks }) => {
                    let mut table = InlineTable::new();
                    fill(&mut table, name, text, webhooks);
                    push_to_array(array, Value::InlineTable(table));
                    Outcome::Added
                }
            }
        }
        Some(_) => return Err(not_a_list()),
    };
    if let Some(removed) = removed_table {
        keep_comments_above(&mut doc, &removed);
    }
    if let Some(added) = added_table {
        append_table(&mut doc, added);
    }
    let new = doc.to_string();
    if matches!(
        outcome,
        Outcome::Added | Outcome::Updated | Outcome::Removed
    ) {
        check_toml(file, &new, name, edit)?;
    }
    Ok((new, outcome))
}

/// Append a new `[[queries]]` table: just after the last one, or at the end of the file if
/// there is none. At the end of the file it goes after the comments that end the file too:
/// toml_edit keeps them apart and prints them after every table, but they follow the last
/// section's keys and are often commented-out keys of that section (`# token = ...` under
/// `[api]` in the shipped config.toml), which must not end up in a query's table.
fn append_table(doc: &mut DocumentMut, mut table: Table) {
    let mut last_header = None;
    visit_headers(doc.as_table(), &mut |t| {
        last_header = last_header.max(t.position())
    });
    let last_query = doc
        .get("queries")
        .and_then(Item::as_array_of_tables)
        .and_then(|tables| tables.iter().filter_map(Table::position).max());
    // Tables print in the order of their positions: the new one goes right after this one.
    let after = last_query.or(last_header);
    table.set_position(after);
    let trailing = raw(Some(doc.trailing())).to_string();
    if after == last_header && trailing.contains('#') {
        table.decor_mut().set_prefix(format!("{trailing}\n"));
        doc.set_trailing("");
    }
    match doc.get_mut("queries") {
        Some(Item::ArrayOfTables(tables)) => tables.push(table),
        _ => {
            let mut tables = toml_edit::ArrayOfTables::new();
            tables.push(table);
            doc.insert("queries", Item::ArrayOfTables(tables));
        }
    }
}

/// The comment lines above a removed table's header, which toml_edit counts as the table's
/// (its decor), stay where they were: just before what followed the table (the next header, or
/// the end of the file). They are often about the whole section, as in the shipped config.toml
/// ("# Saved queries: ..." above the first `[[queries]]`), and a TSV file keeps the comment
/// lines around a removed line too. Blank lines alone are not kept (they would pile up).
fn keep_comments_above(doc: &mut DocumentMut, removed: &Table) {
    let comments = raw(removed.decor().prefix());
    let Some(position) = removed.position() else {
        return;
    };
    if !comments.contains('#') {
        return;
    }
    let mut next = None;
    visit_headers(doc.as_table(), &mut |t| {
        if let Some(p) = t.position().filter(|&p| p > position) {
            next = Some(next.map_or(p, |n: isize| n.min(p)));
        }
    });
    match next.and_then(|p| header_at(doc.as_table_mut(), p)) {
        Some(table) => {
            let prefix = format!("{comments}{}", raw(table.decor().prefix()));
            table.decor_mut().set_prefix(prefix);
        }
        None => {
            // At the end of the file, the blank line that set the header apart goes.
            let comments = comments
                .strip_suffix('\n')
                .filter(|c| c.ends_with('\n'))
                .unwrap_or(comments);
            let trailing = format!("{comments}{}", raw(Some(doc.trailing())));
            doc.set_trailing(trailing);
        }
    }
}

/// Every table written with a header (`[x]`, `[[x]]`) under `table`.
fn visit_headers(table: &Table, visit: &mut dyn FnMut(&Table)) {
    for (_, item) in table.iter() {
        let children: Vec<&Table> = match item {
            Item::Table(t) => vec![t],
            Item::ArrayOfTables(tables) => tables.iter().collect(),
            _ => continue,
        };
        for child in children {
            if !child.is_implicit() && !child.is_dotted() {
                visit(child);
            }
            visit_headers(child, visit);
        }
    }
}

/// The table whose header is at `position` (see `visit_headers`).
fn header_at(table: &mut Table, position: isize) -> Option<&mut Table> {
    for (_, item) in table.iter_mut() {
        let children: Vec<&mut Table> = match item {
            Item::Table(t) => vec![t],
            Item::ArrayOfTables(tables) => tables.iter_mut().collect(),
            _ => continue,
        };
        for child in children {
            if child.position() == Some(position) && !child.is_implicit() && !child.is_dotted() {
                return Some(child);
            }
            if let Some(found) = header_at(child, position) {
                return Some(found);
            }
        }
    }
    None
}

/// The text of a decor's prefix or suffix, or of a trailing part (empty for the default).
fn raw(part: Option<&RawString>) -> &str {
    part.and_then(RawString::as_str).unwrap_or("")
}

/// The part of `s` up to and including its first line break, and the rest; `None` if `s` has
/// no line break.
fn split_line(s: &str) -> Option<(&str, &str)> {
    s.find('\n').map(|n| s.split_at(n + 1))
}

/// Remove element `i` of an inline array laid out one element a line. toml_edit keeps what
/// follows an element's comma, up to the next element, as that next element's prefix (or as
/// the array's trailing part): the end of the element's line, its comment, belongs to the
/// element before. So the removed element's prefix gives the line end of its predecessor, and
/// the line end in the next element's prefix (the removed element's own comment) goes with it.
fn remove_from_array(array: &mut Array, i: usize) {
    let removed = array.remove(i);
    let Some((previous_line_end, _)) = split_line(raw(removed.decor().prefix())) else {
        return; // All on one line: nothing to move.
    };
    let rejoin = |next: &str| match split_line(next) {
        Some((_, rest)) => format!("{previous_line_end}{rest}"),
        None => format!("{previous_line_end}{next}"),
    };
    if let Some(next) = array.get_mut(i) {
        let prefix = rejoin(raw(next.decor().prefix()));
        next.decor_mut().set_prefix(prefix);
    } else if array.trailing_comma() || array.is_empty() {
        let trailing = rejoin(raw(Some(array.trailing())));
        array.set_trailing(trailing);
    } else if let Some(last) = array.get_mut(i - 1) {
        // No comma after the removed last element: its line end was its suffix.
        last.decor_mut()
            .set_suffix(rejoin(raw(removed.decor().suffix())));
    }
}

/// Append `value` to an inline array laid out like its last element (one element a line stays
/// one element a line, with the same indentation). Only white space is copied, not the
/// comments around the last element, and the end of the last element's line (its comment)
/// stays on that line, before the new element.
fn push_to_array(array: &mut Array, mut value: Value) {
    let Some(last) = array.iter().last() else {
        array.push_formatted(value);
        return;
    };
    let last_prefix = raw(last.decor().prefix());
    let Some(indent) = last_prefix.rfind('\n').map(|n| &last_prefix[n + 1..]) else {
        // All on one line (a prefix without a line break holds no comment).
        value.decor_mut().set_prefix(last_prefix.to_string());
        array.push_formatted(value);
        return;
    };
    let indent = indent.to_string();
    // The last element's line end: after its comma, or, without a trailing comma, its suffix.
    let comma = array.trailing_comma();
    let line_end = if comma {
        raw(Some(array.trailing())).to_string()
    } else {
        raw(last.decor().suffix()).to_string()
    };
    match split_line(&line_end) {
        Some((head, rest)) => {
            value.decor_mut().set_prefix(format!("{head}{indent}"));
            if comma {
                array.set_trailing(format!("\n{rest}"));
            } else {
                if let Some(last) = array.iter_mut().last() {
                    last.decor_mut().set_suffix("");
                }
                value.decor_mut().set_suffix(format!("\n{rest}"));
            }
        }
        // The closing bracket is on the last element's line: it stays on the new one's.
        None => value.decor_mut().set_prefix(format!("\n{indent}")),
    }
    array.push_formatted(value);
}

/// A new query's keys.
fn fill(table: &mut dyn TableLike, name: &str, text: &str, webhooks: Option<&[String]>) {
    table.insert("name", toml_edit::value(name));
    table.insert("query", toml_edit::value(text));
    if let Some(hooks) = webhooks {
        table.insert("webhooks", toml_edit::value(webhook_array(hooks)));
    }
}

/// Replace the query's text and webhooks, keeping the comments beside the values.
fn update(table: &mut dyn TableLike, text: &str, webhooks: Option<&[String]>) -> Outcome {
    let same_text = table.get("query").and_then(Item::as_str) == Some(text);
    let old_hooks: Option<Option<Vec<&str>>> = table.get("webhooks").map(|item| {
        item.as_array()
            .and_then(|a| a.iter().map(Value::as_str).collect())
    });
    let same_hooks = match (old_hooks, webhooks) {
        (None, None) => true,
        (Some(Some(old)), Some(new)) => old.iter().copied().eq(new.iter().map(String::as_str)),
        _ => false,
    };
    if same_text && same_hooks {
        return Outcome::Unchanged;
    }
    if !same_text {
        set_value(table, "query", Value::from(text));
    }
    if !same_hooks {
        match webhooks {
            Some(hooks) => set_value(table, "webhooks", Value::Array(webhook_array(hooks))),
            None => {
                table.remove("webhooks");
            }
        }
    }
    Outcome::Updated
}

fn webhook_array(hooks: &[String]) -> Array {
    hooks.iter().map(String::as_str).collect()
}

/// Set `key` to `value`, keeping the key as written and the old value's surrounding white
/// space and comment.
fn set_value(table: &mut dyn TableLike, key: &str, mut value: Value) {
    match table.get_mut(key) {
        Some(item) => {
            if let Some(old) = item.as_value() {
                *value.decor_mut() = old.decor().clone();
            }
            *item = Item::Value(value);
        }
        None => {
            table.insert(key, Item::Value(value));
        }
    }
}

/// What was written must load as a config file and hold the query as saved (or not at all).
fn check_toml(file: &Path, new: &str, name: &str, edit: Edit<'_>) -> Result<(), ConfigError> {
    let parsed: ConfigFile = toml::from_str(new).map_err(|e| ConfigError::Syntax {
        path: file.to_path_buf(),
        message: e.to_string().trim_end().to_string(),
    })?;
    let specs = queries::from_entries(parsed.queries, file)?;
    let ours: Vec<&queries::QuerySpec> = specs.iter().filter(|s| &*s.name == name).collect();
    let as_expected = match edit {
        Edit::Remove => ours.is_empty(),
        Edit::Save { text, webhooks } => {
            ours.len() == 1 && &*ours[0].text == text && ours[0].webhooks.as_deref() == webhooks
        }
    };
    check_read_back(file, as_expected, &specs)
}

/// Edit the lines of a TSV file: the query's line is replaced or removed, a new one appended;
/// every other line (comments, blank lines, line endings) is kept as it was.
fn edit_tsv(
    file: &Path,
    old: &str,
    name: &str,
    edit: Edit<'_>,
) -> Result<(String, Outcome), ConfigError> {
    let newline = if old.contains("\r\n") { "\r\n" } else { "\n" };
    let mut new = String::with_capacity(old.len() + 64);
    let mut outcome = None;
    for line in old.split_inclusive('\n') {
        let content = line.trim_end_matches('\n').trim_end_matches('\r');
        let ending = &line[content.len()..];
        let ours = outcome.is_none()
            && !content.trim().is_empty()
            && !content.starts_with('#')
            && content
                .split_once('\t')
                .is_some_and(|(n, _)| n.trim() == name);
        if !ours {
            new.push_str(line);
            continue;
        }
        let (_, old_text) = content.split_once('\t').unwrap_or_default();
        let done = match edit {
            Edit::Remove => Outcome::Removed,
            Edit::Save { text, .. } if text == old_text => Outcome::Unchanged,
            Edit::Save { .. } => Outcome::Updated,
        };
        match (done, edit) {
            (Outcome::Updated, Edit::Save { text, .. }) => {
                new.push_str(&format!("{name}\t{text}{ending}"));
            }
            (Outcome::Unchanged, _) => new.push_str(line),
            _ => {}
        }
        outcome = Some(done);
    }
    let outcome = match (outcome, edit) {
        (Some(outcome), _) => outcome,
        (None, Edit::Remove) => Outcome::Unchanged,
        (None, Edit::Save { text, .. }) => {
            if !new.is_empty() && !new.ends_with('\n') {
                new.push_str(newline);
            }
            new.push_str(&format!("{name}\t{text}{newline}"));
            Outcome::Added
        }
    };
    if matches!(
        outcome,
        Outcome::Added | Outcome::Updated | Outcome::Removed
    ) {
        let specs = queries::parse_tsv(file, &new)?;
        let ours: Vec<_> = specs.iter().filter(|s| &*s.name == name).collect();
        let as_expected = match edit {
            Edit::Remove => ours.is_empty(),
            Edit::Save { text, .. } => ours.len() == 1 && &*ours[0].text == text,
        };
        check_read_back(file, as_expected, &specs)?;
    }
    Ok((new, outcome))
}

/// The edited file, read back, must hold the query as intended and unique names.
fn check_read_back(
    file: &Path,
    as_expected: bool,
    specs: &[queries::QuerySpec],
) -> Result<(), ConfigError> {
    let problem = if !as_expected {
        "the edited file would not read back as saved; it was left unchanged".to_string()
    } else if let Err(problem) = queries::check_names(specs) {
        format!("{problem}; the file was left unchanged")
    } else {
        return Ok(());
    };
    Err(invalid(file, "queries", problem))
}

/// A symbolic link is followed, so that the file it points to is replaced, not the link.
fn resolve_symlink(file: &Path) -> PathBuf {
    match fs::symlink_metadata(file) {
        Ok(meta) if meta.file_type().is_symlink() => {
            fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf())
        }
        _ => file.to_path_buf(),
    }
}

fn read_if_exists(file: &Path) -> Result<Option<String>, ConfigError> {
    match fs::read_to_string(file) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ConfigError::Read {
            path: file.to_path_buf(),
            source,
        }),
    }
}

/// Replace `file` with `contents`, atomically and durably (`crate::atomic_file`: an existing
/// file's permissions, and where allowed its owner, carry over).
pub(crate) fn write_atomic(file: &Path, contents: &[u8]) -> Result<(), ConfigError> {
    atomic_file::write(file, contents, Durability::PowerLoss).map_err(|source| ConfigError::Write {
        path: file.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::super::{load_queries_file, Config};
    use super::*;

    const CONFIG: &str = "\
# lookout config
watch = 'watch'   # the drop folder

# Saved queries
[[queries]]
name = 'first'
query='alpha'   # keep this comment

[[queries]]
# the second one
name = 'second'
query = 'beta'
webhooks = ['slack']

[[webhooks]]
name = 'slack'
url = 'http://127.0.0.1:9/'
";

    fn names(config: &Config) -> Vec<&str> {
        config.queries.iter().map(|q| &*q.name).collect()
    }

    fn leftovers(dir: &Path) -> Vec<String> {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect()
    }

    #[test]
    fn toml_save_adds_updates_and_keeps_everything_else() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        fs::write(&path, CONFIG).unwrap();

        let hooks = ["slack".to_string()];
        let outcome = save_query(&path, "third", "gamma \"quoted\" 'too'", Some(&hooks));
        assert_eq!(outcome.unwrap(), SaveOutcome::Added);
        let config = Config::load(&path).unwrap();
        assert_eq!(names(&config), ["first", "second", "third"]);
        let third = config.query_spec("third").unwrap();
        assert_eq!(&*third.text, "gamma \"quoted\" 'too'");
        assert_eq!(third.webhooks.as_deref(), Some(&hooks[..]));
        assert_eq!(*third.file, *path);

        let outcome = save_query(&path, "first", "alpha OR delta", None).unwrap();
        assert_eq!(outcome, SaveOutcome::Updated);
        let outcome = save_query(&path, "second", "beta", None).unwrap();
        assert_eq!(outcome, SaveOutcome::Updated);
        let text = fs::read_to_string(&path).unwrap();
        for kept in [
            "# lookout config\n",
            "watch = 'watch'   # the drop folder\n",
            "# Saved queries\n",
            "query=\"alpha OR delta\"   # keep this comment\n",
            "# the second one\n",
            "[[webhooks]]\nname = 'slack'\nurl = 'http://127.0.0.1:9/'\n",
        ] {
            assert!(text.contains(kept), "lost {kept:?} in:\n{text}");
        }
        let config = Config::load(&path).unwrap();
        assert_eq!(names(&config), ["first", "second", "third"]);
        assert_eq!(&*config.query_spec("first").unwrap().text, "alpha OR delta");
        assert_eq!(config.query_spec("second").unwrap().webhooks, None);

        let before = fs::read_to_string(&path).unwrap();
        let outcome = save_query(&path, "first", "alpha OR delta", None).unwrap();
        assert_eq!(outcome, SaveOutcome::Unchanged);
        assert_eq!(fs::read_to_string(&path).unwrap(), before);
        // A third table went after the last query, before the webhooks.
        assert!(
            before.find("name = \"third\"") < before.find("[[webhooks]]"),
            "{before}"
        );
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn toml_remove_takes_only_that_table() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        fs::write(&path, CONFIG).unwrap();
        assert!(remove_query(&path, "second").unwrap());
        let text = fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains("beta") && !text.contains("the second one"),
            "{text}"
        );
        assert!(
            text.contains("query='alpha'   # keep this comment\n"),
            "{text}"
        );
        assert!(text.contains("[[webhooks]]"), "{text}");
        assert_eq!(names(&Config::load(&path).unwrap()), ["first"]);

        assert!(!remove_query(&path, "second").unwrap());
        assert_eq!(fs::read_to_string(&path).unwrap(), text);
        assert!(remove_query(&path, "first").unwrap());
        assert!(Config::load(&path).unwrap().queries.is_empty());
        assert!(!remove_query(&dir.path().join("absent.toml"), "first").unwrap());
        assert!(!dir.path().join("absent.toml").exists());
    }

    #[test]
    fn toml_queries_file_is_created_and_read_through_the_config() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let hook = "[[webhooks]]\nname = 'slack'\nurl = 'http://127.0.0.1:9/'\n";
        fs::write(&path, format!("queries_files = ['saved.toml']\n{hook}")).unwrap();
        let saved = dir.path().join("saved.toml");
        let hooks = ["slack".to_string()];
        assert_eq!(
            save_query(&saved, "q", "x\ny", Some(&hooks)).unwrap(),
            SaveOutcome::Added
        );
        let config = Config::load(&path).unwrap();
        let q = config.query_spec("q").unwrap();
        assert_eq!((&*q.text, &*q.file), ("x\ny", saved.as_path()));
        assert_eq!(q.webhooks.as_deref(), Some(&hooks[..]));
        assert_eq!(load_queries_file(&saved).unwrap().len(), 1);
    }

    #[test]
    fn toml_inline_array_of_queries_is_edited_too() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.toml");
        fs::write(
            &path,
            "queries = [\n  { name = 'a', query = 'x' },\n  { name = 'b', query = 'y' },\n]\n",
        )
        .unwrap();
        assert_eq!(
            save_query(&path, "c", "z", None).unwrap(),
            SaveOutcome::Added
        );
        assert_eq!(
            save_query(&path, "a", "x2", None).unwrap(),
            SaveOutcome::Updated
        );
        assert!(remove_query(&path, "b").unwrap());
        let text = fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("\n  { name = \"c\", query = \"z\" },\n]"),
            "{text}"
        );
        let specs = load_queries_file(&path).unwrap();
        let got: Vec<(&str, &str)> = specs.iter().map(|s| (&*s.name, &*s.text)).collect();
        assert_eq!(got, [("a", "x2"), ("c", "z")]);
    }

    #[test]
    fn comments_above_a_removed_table_stay() {
        // As in the shipped config.toml: the section's documentation sits just above the
        // first [[queries]] header, where toml_edit counts it as part of that table, so
        // removing the query used to delete it.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let section = "# Saved queries: an alert for every new article a query matches.\n\
                       # `lookout queries add|rm` write here too.\n";
        fs::write(
            &path,
            format!(
                "watch = 'w'\n\n{section}[[queries]]\nname = \"niger\"\n\
                 # webhooks = [\"newsroom\"]\nquery = 'Niger'\n\n# The HTTP API.\n[api]\n\
                 listen = \"127.0.0.1:7700\"\n"
            ),
        )
        .unwrap();
        assert!(remove_query(&path, "niger").unwrap());
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            format!(
                "watch = 'w'\n\n{section}\n# The HTTP API.\n[api]\nlisten = \"127.0.0.1:7700\"\n"
            )
        );
        save_query(&path, "niger", "Niger", None).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text.matches(section).count(), 1, "{text}");
        assert_eq!(names(&Config::load(&path).unwrap()), ["niger"]);

        // Above the last table: they go to the end of the file (a TSV file also keeps the
        // comment lines around a removed line).
        let last = "[[queries]]\nname = 'a'\nquery = 'x'\n\n# b is the last one\n\
                    [[queries]]\nname = 'b'\nquery = 'y'\n# inside b\n";
        fs::write(&path, last).unwrap();
        assert!(remove_query(&path, "b").unwrap());
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "[[queries]]\nname = 'a'\nquery = 'x'\n\n# b is the last one\n# inside b\n"
        );
    }

    #[test]
    fn a_table_added_at_the_end_goes_after_the_closing_comments() {
        // As in the shipped config.toml once its query is removed: the file ends with [api]
        // and its commented-out keys. The new table used to go between the keys and those
        // comments, so that uncommenting `token` put it in the query's table.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        let api = "[api]\nlisten = \"127.0.0.1:7700\"\n# token = \"change-me\"\n";
        fs::write(&path, api).unwrap();
        save_query(&path, "a", "x", None).unwrap();
        let added = format!("{api}\n[[queries]]\nname = \"a\"\nquery = \"x\"\n");
        assert_eq!(fs::read_to_string(&path).unwrap(), added);
        assert!(remove_query(&path, "a").unwrap());
        assert_eq!(fs::read_to_string(&path).unwrap(), api);

        // After the last query, when it ends the file.
        let last = "[[queries]]\nname = 'a'\nquery = 'x'\n# webhooks = ['slack']\n";
        fs::write(&path, last).unwrap();
        save_query(&path, "b", "y", None).unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            format!("{last}\n[[queries]]\nname = \"b\"\nquery = \"y\"\n")
        );
        // Elsewhere, right after the last query: before the comments above the next header
        // (toml_edit counts them as that table's).
        let a = "[[queries]]\nname = 'a'\nquery = 'x'\n";
        fs::write(&path, format!("{a}\n# The API.\n{api}")).unwrap();
        save_query(&path, "b", "y", None).unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            format!("{a}\n[[queries]]\nname = \"b\"\nquery = \"y\"\n\n# The API.\n{api}")
        );
    }

    #[test]
    fn inline_array_comments_stay_on_their_lines() {
        // toml_edit keeps what follows an element's comma (the comment ending its line) as the
        // next element's prefix. Removing an element used to take its predecessor's comment
        // and leave its own to the predecessor; appending one copied the last one's comments.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.toml");
        let (a, b, c) = (
            "{ name = 'a', query = 'x' }",
            "{ name = 'b', query = 'y' }",
            "{ name = 'c', query = 'z' }",
        );
        let d = "{ name = \"d\", query = \"w\" }";
        let edit = |original: &str, edits: &[(&str, Option<&str>)], expected: &str| {
            fs::write(&path, original).unwrap();
            for &(name, text) in edits {
                match text {
                    Some(text) => assert!(save_query(&path, name, text, None).is_ok()),
                    None => assert!(remove_query(&path, name).unwrap()),
                }
            }
            assert_eq!(fs::read_to_string(&path).unwrap(), expected, "{original}");
            load_queries_file(&path).unwrap();
        };
        // A comment at the end of each line, a comma after the last element.
        let end_of_line =
            format!("queries = [\n  {a},   # about a\n  {b},   # about b\n  {c},   # about c\n]\n");
        edit(
            &end_of_line,
            &[("b", None)],
            &format!("queries = [\n  {a},   # about a\n  {c},   # about c\n]\n"),
        );
        edit(
            &end_of_line,
            &[("b", None), ("c", None), ("d", Some("w"))],
            &format!("queries = [\n  {a},   # about a\n  {d},\n]\n"),
        );
        edit(
            &end_of_line,
            &[("a", None), ("b", None), ("c", None)],
            "queries = [\n]\n",
        );
        // No comma after the last element.
        let no_comma = format!("queries = [\n  {a},   # about a\n  {b}   # about b\n]\n");
        edit(
            &no_comma,
            &[("d", Some("w"))],
            &format!("queries = [\n  {a},   # about a\n  {b},   # about b\n  {d}\n]\n"),
        );
        edit(
            &no_comma,
            &[("d", Some("w")), ("d", None)],
            &format!("queries = [\n  {a},   # about a\n  {b}   # about b\n]\n"),
        );
        edit(
            &no_comma,
            &[("b", None)],
            &format!("queries = [\n  {a}   # about a\n]\n"),
        );
        // Comments on lines of their own, above each element.
        let above = format!("queries = [\n  # about a\n  {a},\n  # about b\n  {b},\n]\n");
        edit(
            &above,
            &[("d", Some("w")), ("a", None)],
            &format!("queries = [\n  # about b\n  {b},\n  {d},\n]\n"),
        );
        // The closing bracket on the last element's line.
        edit(
            &format!("queries = [\n  {a},\n  {b}]\n"),
            &[("d", Some("w"))],
            &format!("queries = [\n  {a},\n  {b},\n  {d}]\n"),
        );
        // All on one line.
        edit(
            &format!("queries = [{a}, {b}, {c}]\n"),
            &[("b", None), ("d", Some("w"))],
            &format!("queries = [{a}, {c}, {d}]\n"),
        );
    }

    #[test]
    fn a_file_that_does_not_load_is_not_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        for broken in ["indx = 'i'\n", "queries = 'x'\n", "[[queries]\n"] {
            fs::write(&path, broken).unwrap();
            assert!(save_query(&path, "a", "x", None).is_err(), "{broken}");
            let _ = remove_query(&path, "a");
            assert_eq!(fs::read_to_string(&path).unwrap(), broken);
        }
        let tsv = dir.path().join("q.tsv");
        fs::write(&tsv, "no tab here\n").unwrap();
        assert!(save_query(&tsv, "a", "x", None).is_err());
        assert_eq!(fs::read_to_string(&tsv).unwrap(), "no tab here\n");
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn tsv_round_trip_keeps_comments_blank_lines_and_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("queries.tsv");
        let original = "# saved queries\n\nfirst\talpha\n# about second\nsecond\tbeta gamma\n";
        fs::write(&path, original).unwrap();

        assert_eq!(
            save_query(&path, "second", "beta gamma", None).unwrap(),
            SaveOutcome::Unchanged
        );
        assert_eq!(
            save_query(&path, "first", "\"a b\" OR c", None).unwrap(),
            SaveOutcome::Updated
        );
        assert_eq!(
            save_query(&path, "third", "d\twith a tab", None).unwrap(),
            SaveOutcome::Added
        );
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "# saved queries\n\nfirst\t\"a b\" OR c\n# about second\nsecond\tbeta gamma\nthird\td\twith a tab\n"
        );
        let specs = load_queries_file(&path).unwrap();
        let got: Vec<(&str, &str)> = specs.iter().map(|s| (&*s.name, &*s.text)).collect();
        assert_eq!(
            got,
            [
                ("first", "\"a b\" OR c"),
                ("second", "beta gamma"),
                ("third", "d\twith a tab")
            ]
        );

        assert!(remove_query(&path, "second").unwrap());
        assert!(!remove_query(&path, "second").unwrap());
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "# saved queries\n\nfirst\t\"a b\" OR c\n# about second\nthird\td\twith a tab\n"
        );
    }

    #[test]
    fn tsv_files_are_created_and_keep_their_line_endings() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.tsv");
        assert_eq!(
            save_query(&path, "a", "x", None).unwrap(),
            SaveOutcome::Added
        );
        assert_eq!(fs::read_to_string(&path).unwrap(), "a\tx\n");

        let crlf = dir.path().join("crlf.txt");
        fs::write(&crlf, "a\tx\r\nb\ty").unwrap();
        assert_eq!(
            save_query(&crlf, "a", "x2", None).unwrap(),
            SaveOutcome::Updated
        );
        assert_eq!(
            save_query(&crlf, "c", "z", None).unwrap(),
            SaveOutcome::Added
        );
        assert_eq!(
            fs::read_to_string(&crlf).unwrap(),
            "a\tx2\r\nb\ty\r\nc\tz\r\n"
        );
        assert_eq!(&*load_queries_file(&crlf).unwrap()[0].text, "x2");
    }

    #[test]
    fn invalid_names_and_texts_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let tsv = dir.path().join("q.tsv");
        let toml = dir.path().join("q.toml");
        for file in [&tsv, &toml] {
            for name in [
                "", "   ", " a", "a ", "a\tb", "a\nb", "a\u{7}b", "#a", "a/b", "check",
            ] {
                let err = save_query(file, name, "x", None).unwrap_err();
                assert!(
                    matches!(&err, ConfigError::Invalid { key, .. } if key == "name"),
                    "{err}"
                );
            }
        }
        let err = save_query(&tsv, "#a", "x", None).unwrap_err().to_string();
        assert!(err.contains("'#' (character 1)"), "{err}");
        let err = save_query(&tsv, "a", "x\ny", None).unwrap_err().to_string();
        assert!(err.contains("one line"), "{err}");
        let err = save_query(&tsv, "a", "x\r", None).unwrap_err().to_string();
        assert!(err.contains("one line"), "{err}");
        let err = save_query(&tsv, "a", "x", Some(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("webhooks"), "{err}");
        assert!(!tsv.exists() && !toml.exists());
        // TOML holds what TSV cannot.
        assert_eq!(
            save_query(&toml, "a", "x\ny", Some(&[])).unwrap(),
            SaveOutcome::Added
        );
        let specs = load_queries_file(&toml).unwrap();
        assert_eq!(specs[0].webhooks, Some(vec![]));
    }

    #[cfg(unix)]
    #[test]
    fn permissions_survive_and_symlinks_are_followed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.tsv");
        fs::write(&real, "a\tx\n").unwrap();
        fs::set_permissions(&real, fs::Permissions::from_mode(0o600)).unwrap();
        let link = dir.path().join("link.tsv");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert_eq!(
            save_query(&link, "b", "y", None).unwrap(),
            SaveOutcome::Added
        );
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read_to_string(&real).unwrap(), "a\tx\nb\ty\n");
        let mode = fs::metadata(&real).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(leftovers(dir.path()).is_empty());
    }
}
