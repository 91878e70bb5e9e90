//! Markdown articles (`.md`, `.markdown`): optional YAML (`---`) or TOML (`+++`) front matter
//! for the metadata, then the Markdown rendered to plain text with pulldown-cmark. Without a
//! front-matter title, a leading `# Heading` is the title.

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};

use super::plain::{parse_date, Break, PlainText};
use super::warning::{Excerpt, ExtractWarning, Problem, Warnings};
use super::{html, one_line, ExtractError, MAX_JSON_DEPTH};
use crate::document::DocumentFields;

/// Split a Markdown article. `text` has LF line endings and no byte-order mark. A front-matter
/// date lookout cannot read is left out with a warning.
pub(super) fn extract(text: &str, warnings: &mut Warnings) -> Result<DocumentFields, ExtractError> {
    let (meta, content) = match split_front_matter(text) {
        Some(front) => (front.parse()?, front.rest),
        None => (Meta::default(), text),
    };
    if let Some(value) = &meta.unreadable_date {
        warnings.push(ExtractWarning {
            record: None,
            problem: Problem::UnreadableDate {
                field: "front matter date".into(),
                value: Excerpt::of(value),
            },
        });
    }
    let rendered = render(content, meta.title.is_none())?;
    Ok(DocumentFields {
        title: meta.title.or(rendered.title).unwrap_or_default(),
        body: rendered.body,
        date: meta.date,
        source: meta.source,
        url: meta.url,
        tags: meta.tags,
    })
}

// ---------------------------------------------------------------------------------------------
// Front matter

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Syntax {
    Yaml,
    Toml,
}

/// Front matter found at the very start of the file.
#[derive(Debug)]
struct FrontMatter<'a> {
    syntax: Syntax,
    /// The lines between the delimiters. They start on line 2 of the file.
    source: &'a str,
    /// The Markdown after the closing delimiter.
    rest: &'a str,
}

/// `---` … `---` (or `...`) is YAML, `+++` … `+++` is TOML; the opening delimiter must be the
/// first line. Without a closing delimiter there is no front matter (a leading `---` is then a
/// thematic break).
fn split_front_matter(text: &str) -> Option<FrontMatter<'_>> {
    let mut lines = text.split_inclusive('\n');
    let first = lines.next()?;
    let syntax = match first.trim_end() {
        "---" => Syntax::Yaml,
        "+++" => Syntax::Toml,
        _ => return None,
    };
    let start = first.len();
    let mut offset = start;
    for line in lines {
        let closes = matches!(
            (syntax, line.trim_end()),
            (Syntax::Yaml, "---" | "...") | (Syntax::Toml, "+++")
        );
        if closes {
            return Some(FrontMatter {
                syntax,
                source: &text[start..offset],
                rest: &text[offset + line.len()..],
            });
        }
        offset += line.len();
    }
    None
}

/// The keys lookout reads from front matter.
#[derive(Debug, Default, PartialEq, Eq)]
struct Meta {
    title: Option<String>,
    date: Option<chrono::NaiveDate>,
    source: Option<String>,
    url: Option<String>,
    tags: Vec<String>,
    /// A `date` that is not a date lookout reads.
    unreadable_date: Option<String>,
}

/// A front-matter value, reduced to what lookout can use.
enum Field {
    Text(String),
    List(Vec<String>),
    Other,
}

impl Meta {
    fn from_fields(get: impl Fn(&str) -> Option<Field>) -> Meta {
        let text = |key: &str| match get(key) {
            Some(Field::Text(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
            _ => None,
        };
        let tags = match get("tags") {
            Some(Field::List(items)) => items,
            Some(Field::Text(s)) => s.split(',').map(str::to_string).collect(),
            _ => Vec::new(),
        };
        let date_text = text("date");
        let date = date_text.as_deref().and_then(parse_date);
        Meta {
            title: text("title"),
            unreadable_date: date_text.filter(|_| date.is_none()),
            date,
            source: text("source"),
            url: text("url").or_else(|| text("link")),
            tags: tags
                .into_iter()
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .collect(),
        }
    }
}

impl FrontMatter<'_> {
    fn parse(&self) -> Result<Meta, ExtractError> {
        if bracket_depth_exceeds(self.source, MAX_JSON_DEPTH) {
            return Err(ExtractError::TooDeep {
                limit: MAX_JSON_DEPTH,
            });
        }
        match self.syntax {
            Syntax::Yaml => parse_yaml(self.source),
            Syntax::Toml => parse_toml(self.source),
        }
    }
}

/// Whether `[`/`{` nest more than `limit` deep, counting every bracket (quoted or not). A cheap
/// guard that runs before the YAML/TOML parsers, which slow down badly on deep flow nesting.
fn bracket_depth_exceeds(source: &str, limit: usize) -> bool {
    let mut depth = 0usize;
    for byte in source.bytes() {
        match byte {
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

fn parse_yaml(source: &str) -> Result<Meta, ExtractError> {
    use serde_yaml::Value;
    // One leading newline so that the parser's line numbers are the file's (the front matter
    // starts on line 2).
    let padded = format!("\n{source}");
    let value: Value = serde_yaml::from_str(&padded).map_err(|e| {
        ExtractError::FrontMatter(format!("invalid YAML: {}", one_line(&e.to_string())))
    })?;
    let mapping = match value {
        Value::Mapping(mapping) => mapping,
        Value::Null => return Ok(Meta::default()),
        other => {
            return Err(ExtractError::FrontMatter(format!(
                "expected `key: value` lines, found {}",
                yaml_kind(&other)
            )))
        }
    };
    fn scalar(value: &Value) -> Option<String> {
        match value {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
    Ok(Meta::from_fields(|key| {
        let value = mapping.get(key)?;
        Some(match value {
            Value::Sequence(items) => Field::List(items.iter().filter_map(scalar).collect()),
            other => scalar(other).map_or(Field::Other, Field::Text),
        })
    }))
}

fn yaml_kind(value: &serde_yaml::Value) -> &'static str {
    use serde_yaml::Value;
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

fn parse_toml(source: &str) -> Result<Meta, ExtractError> {
    use toml::Value;
    let table: toml::Table = toml::from_str(source).map_err(|e| {
        let location = e
            .span()
            .map(|span| {
                let (line, column) = line_column(source, span.start);
                // The front matter starts on line 2 of the file.
                format!(" at line {}, column {column}", line + 1)
            })
            .unwrap_or_default();
        ExtractError::FrontMatter(format!("invalid TOML{location}: {}", one_line(e.message())))
    })?;
    fn scalar(value: &Value) -> Option<String> {
        match value {
            Value::String(s) => Some(s.clone()),
            Value::Integer(n) => Some(n.to_string()),
            Value::Float(n) => Some(n.to_string()),
            Value::Boolean(b) => Some(b.to_string()),
            Value::Datetime(d) => Some(d.to_string()),
            Value::Array(_) | Value::Table(_) => None,
        }
    }
    Ok(Meta::from_fields(|key| {
        let value = table.get(key)?;
        Some(match value {
            Value::Array(items) => Field::List(items.iter().filter_map(scalar).collect()),
            other => scalar(other).map_or(Field::Other, Field::Text),
        })
    }))
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

// ---------------------------------------------------------------------------------------------
// Rendering

struct Rendered {
    /// The text of a leading `# Heading`, when one was asked for and found.
    title: Option<String>,
    body: String,
}

/// Render Markdown to plain text: text and code kept, markup dropped, blocks separated by
/// newlines or blank lines. With `take_title`, a first-level heading that opens the document is
/// returned as the title instead of being part of the body.
fn render(content: &str, take_title: bool) -> Result<Rendered, ExtractError> {
    let options = Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS;
    let mut body = PlainText::new();
    let mut title: Option<String> = None;
    // While the opening heading is being read.
    let mut heading: Option<PlainText> = None;
    // While a block of raw HTML is being read.
    let mut html_block: Option<String> = None;
    let mut list_depth = 0usize;

    for (index, event) in Parser::new_ext(content, options).enumerate() {
        if index == 0 && take_title {
            if let Event::Start(Tag::Heading {
                level: HeadingLevel::H1,
                ..
            }) = event
            {
                heading = Some(PlainText::new());
                continue;
            }
        }
        if let Some(text) = heading.as_mut() {
            match event {
                Event::End(TagEnd::Heading(_)) => {
                    title = heading.take().map(PlainText::finish);
                }
                Event::Text(t) | Event::Code(t) | Event::InlineMath(t) => text.push_raw(&t),
                Event::SoftBreak | Event::HardBreak => text.brk(Break::Space),
                _ => {}
            }
            continue;
        }
        match event {
            Event::Start(tag) => match tag {
                Tag::HtmlBlock => {
                    body.brk(Break::Paragraph);
                    html_block = Some(String::new());
                }
                Tag::List(_) => {
                    body.brk(if list_depth > 0 {
                        Break::Line
                    } else {
                        Break::Paragraph
                    });
                    list_depth += 1;
                }
                Tag::Paragraph
                | Tag::Heading { .. }
                | Tag::BlockQuote(_)
                | Tag::CodeBlock(_)
                | Tag::FootnoteDefinition(_)
                | Tag::Table(_)
                | Tag::DefinitionList
                | Tag::MetadataBlock(_) => body.brk(Break::Paragraph),
                Tag::Item
                | Tag::TableHead
                | Tag::TableRow
                | Tag::DefinitionListTitle
                | Tag::DefinitionListDefinition => body.brk(Break::Line),
                Tag::TableCell => body.brk(Break::Space),
                _ => {}
            },
            Event::End(tag) => match tag {
                TagEnd::HtmlBlock => {
                    if let Some(source) = html_block.take() {
                        body.push_raw(&html::fragment_text(&source)?);
                    }
                    body.brk(Break::Paragraph);
                }
                TagEnd::List(_) => {
                    list_depth = list_depth.saturating_sub(1);
                    body.brk(if list_depth > 0 {
                        Break::Line
                    } else {
                        Break::Paragraph
                    });
                }
                TagEnd::Paragraph
                | TagEnd::Heading(_)
                | TagEnd::BlockQuote(_)
                | TagEnd::CodeBlock
                | TagEnd::FootnoteDefinition
                | TagEnd::Table
                | TagEnd::DefinitionList
                | TagEnd::MetadataBlock(_) => body.brk(Break::Paragraph),
                TagEnd::Item
                | TagEnd::TableHead
                | TagEnd::TableRow
                | TagEnd::DefinitionListTitle
                | TagEnd::DefinitionListDefinition => body.brk(Break::Line),
                TagEnd::TableCell => body.brk(Break::Space),
                _ => {}
            },
            Event::Html(t) => match html_block.as_mut() {
                Some(source) => source.push_str(&t),
                None => body.push_raw(&html::fragment_text(&t)?),
            },
            Event::Text(t) => match html_block.as_mut() {
                Some(source) => source.push_str(&t),
                None => body.push_raw(&t),
            },
            Event::Code(t) | Event::InlineMath(t) | Event::DisplayMath(t) => body.push_raw(&t),
            Event::SoftBreak | Event::HardBreak => body.brk(Break::Line),
            Event::Rule => body.brk(Break::Paragraph),
            Event::InlineHtml(tag) => body.brk(html::tag_break(&tag)),
            Event::FootnoteReference(_) | Event::TaskListMarker(_) => {}
        }
    }
    // A document that is only an unterminated heading still has its title.
    if let Some(text) = heading.take() {
        title = Some(text.finish());
    }
    Ok(Rendered {
        title,
        body: body.finish(),
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use chrono::NaiveDate;

    use super::super::documents_of as extract_file;
    use super::*;

    fn md(text: &str) -> DocumentFields {
        extract(text, &mut Warnings::default()).expect("extracts")
    }

    fn md_err(text: &str) -> String {
        match extract_file(Path::new("a.md"), text.as_bytes()) {
            Ok(docs) => panic!("expected an error, got {docs:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn date(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(y, m, d)
    }

    #[test]
    fn yaml_front_matter() {
        let doc = md("---\n\
             title: \"Niger ends US pact\"\n\
             date: 2024-03-28\n\
             source: Reuters\n\
             link: https://example.com/niger\n\
             tags: [sahel, security]\n\
             description: ignored\n\
             author: also ignored\n\
             ---\n\
             In a move that has sent **ripples**…\n");
        assert_eq!(doc.title, "Niger ends US pact");
        assert_eq!(doc.date, date(2024, 3, 28));
        assert_eq!(doc.source.as_deref(), Some("Reuters"));
        assert_eq!(doc.url.as_deref(), Some("https://example.com/niger"));
        assert_eq!(doc.tags, ["sahel", "security"]);
        assert_eq!(doc.body, "In a move that has sent ripples…");
    }

    #[test]
    fn yaml_front_matter_variants() {
        let doc = md("---\n\
             title: 1984\n\
             date: 1987-02-26T15:01:01Z\n\
             url: https://a.example/\n\
             link: https://b.example/\n\
             tags: \"one, two ,, three\"\n\
             ...\n\
             Body\n");
        assert_eq!(doc.title, "1984");
        assert_eq!(doc.date, date(1987, 2, 26));
        assert_eq!(doc.url.as_deref(), Some("https://a.example/"));
        assert_eq!(doc.tags, ["one", "two", "three"]);
        assert_eq!(doc.body, "Body");

        let doc = md("---\n\
             tags:\n  - a\n  - 2\n  - {x: 1}\n\
             date: not a date\n\
             ---\n\
             Body\n");
        assert_eq!(doc.tags, ["a", "2"]);
        assert_eq!(doc.date, None);

        // Empty front matter, and front matter that is only a comment.
        assert_eq!(md("---\n---\nBody").body, "Body");
        assert_eq!(md("---\n# just a comment\n---\nBody").body, "Body");
    }

    #[test]
    fn toml_front_matter() {
        let doc = md("+++\n\
             title = \"Niger ends US pact\"\n\
             date = 2024-03-28\n\
             source = \"Reuters\"\n\
             url = \"https://example.com/niger\"\n\
             tags = [\"sahel\", \"security\"]\n\
             description = \"ignored\"\n\
             [extra]\n\
             x = 1\n\
             +++\n\
             \n\
             Body text.\n");
        assert_eq!(doc.title, "Niger ends US pact");
        assert_eq!(doc.date, date(2024, 3, 28));
        assert_eq!(doc.source.as_deref(), Some("Reuters"));
        assert_eq!(doc.url.as_deref(), Some("https://example.com/niger"));
        assert_eq!(doc.tags, ["sahel", "security"]);
        assert_eq!(doc.body, "Body text.");

        let doc = md("+++\ndate = 1987-02-26T15:01:01-08:00\n+++\nBody");
        assert_eq!(doc.date, date(1987, 2, 26));
        let doc = md("+++\ndate = \"2020-01-02\"\ntags = \"a,b\"\n+++\nBody");
        assert_eq!(doc.date, date(2020, 1, 2));
        assert_eq!(doc.tags, ["a", "b"]);
    }

    #[test]
    fn front_matter_with_crlf() {
        let docs = extract_file(
            Path::new("a.md"),
            b"---\r\ntitle: T\r\ndate: 2024-03-28\r\n---\r\nLine one\r\nline two\r\n\r\nPara\r\n",
        )
        .expect("extracts");
        assert_eq!(docs[0].title, "T");
        assert_eq!(docs[0].date, date(2024, 3, 28));
        assert_eq!(docs[0].body, "Line one\nline two\n\nPara");
    }

    #[test]
    fn invalid_front_matter() {
        let message = md_err("---\ntitle: [unclosed\n---\nBody");
        assert!(
            message.starts_with("front matter: invalid YAML: "),
            "{message}"
        );
        // Line numbers are the file's: the front matter starts on line 2.
        assert!(message.contains("line 3"), "{message}");

        let message = md_err("+++\ntitle = \"ok\"\ntitle = \n+++\nBody");
        assert!(
            message.starts_with("front matter: invalid TOML at line 3, column "),
            "{message}"
        );

        assert_eq!(
            md_err("---\n- a\n- b\n---\nBody"),
            "front matter: expected `key: value` lines, found a list"
        );
        assert_eq!(
            md_err("---\njust words\n---\nBody"),
            "front matter: expected `key: value` lines, found a string"
        );
    }

    #[test]
    fn deep_front_matter_is_refused() {
        for deep in [
            format!("---\na: {}\n---\nBody", "[".repeat(100_000)),
            format!("+++\na = {}\n+++\nBody", "[".repeat(100_000)),
            format!("---\na: {}{}\n---\nBody", "[".repeat(65), "]".repeat(65)),
        ] {
            assert_eq!(md_err(&deep), "nested too deeply (more than 64 levels)");
        }
        let ok = format!("---\na: {}{}\n---\nBody", "[".repeat(64), "]".repeat(64));
        assert_eq!(md(&ok).body, "Body");
    }

    #[test]
    fn unterminated_front_matter_is_markdown() {
        let doc = md("---\ntitle: nope\n\nBody");
        assert_eq!(doc.title, "");
        assert_eq!(doc.body, "title: nope\n\nBody");
    }

    #[test]
    fn heading_title() {
        let doc = md("# The *junta* ends `pact`\n\nFirst paragraph.\n\n## Background\n\nMore.\n");
        assert_eq!(doc.title, "The junta ends pact");
        assert_eq!(doc.body, "First paragraph.\n\nBackground\n\nMore.");

        // Setext first-level headings count too.
        let doc = md("The title\n=========\nBody");
        assert_eq!(doc.title, "The title");
        assert_eq!(doc.body, "Body");

        // Leading blank lines are not content.
        assert_eq!(md("\n\n# T\nBody").title, "T");
        // A heading alone.
        let doc = md("# Only a title");
        assert_eq!(doc.title, "Only a title");
        assert_eq!(doc.body, "");
    }

    #[test]
    fn heading_is_not_a_title_unless_it_opens_the_document() {
        let doc = md("Intro.\n\n# Heading\n\nBody");
        assert_eq!(doc.title, "");
        assert_eq!(doc.body, "Intro.\n\nHeading\n\nBody");

        let doc = md("## Second level\n\nBody");
        assert_eq!(doc.title, "");
        assert_eq!(doc.body, "Second level\n\nBody");
    }

    #[test]
    fn front_matter_title_wins_over_heading() {
        let doc = md("---\ntitle: From front matter\n---\n# From heading\n\nBody\n");
        assert_eq!(doc.title, "From front matter");
        assert_eq!(doc.body, "From heading\n\nBody");

        // Front matter without a title lets the heading be the title.
        let doc = md("---\ndate: 2024-03-28\n---\n# From heading\n\nBody\n");
        assert_eq!(doc.title, "From heading");
        assert_eq!(doc.body, "Body");
    }

    #[test]
    fn markup_is_dropped_and_words_never_glue() {
        let doc = md(
            "Para with [a link](https://x.example) and ![alt text](i.png).\n\
             \n\
             - item one\n\
             - item two\n  - nested\n\
             \n\
             1. first\n\
             2. second\n\
             \n\
             > quoted\n\
             > text\n\
             \n\
             ```rust\n\
             fn main() {\n    println!(\"hi\");\n}\n\
             ```\n\
             \n\
             | a | b |\n\
             |---|---|\n\
             | c | d |\n\
             \n\
             ---\n\
             Ends with ~~strike~~ and <span>inline html</span>.[^1]\n\
             \n\
             - [x] done\n\
             \n\
             [^1]: The footnote.\n",
        );
        let expected = "Para with a link and alt text.\n\
             \n\
             item one\n\
             item two\n\
             nested\n\
             \n\
             first\n\
             second\n\
             \n\
             quoted\n\
             text\n\
             \n\
             fn main() {\n    println!(\"hi\");\n}\n\
             \n\
             a b\n\
             c d\n\
             \n\
             Ends with strike and inline html.\n\
             \n\
             done\n\
             \n\
             The footnote.";
        assert_eq!(doc.body, expected);
    }

    #[test]
    fn inline_block_tags_separate_words() {
        assert_eq!(md("one<br>two<br/>three").body, "one\ntwo\nthree");
        assert_eq!(md("one<span>two</span> three").body, "onetwo three");
    }

    #[test]
    fn html_blocks_keep_their_visible_text() {
        let doc = md("Before.\n\n<div class=\"x\">\n<p>Inside <b>html</b></p>\n<script>alert(1)</script>\n</div>\n\nAfter.\n");
        assert_eq!(doc.body, "Before.\n\nInside html\n\nAfter.");
    }

    #[test]
    fn deep_markdown_does_not_overflow() {
        let quotes = format!("{}deep", "> ".repeat(100_000));
        assert_eq!(md(&quotes).body, "deep");
        let brackets = format!("{}deep", "[".repeat(100_000));
        assert!(md(&brackets).body.ends_with("deep"));
        let emphasis = format!("{}deep{}", "*".repeat(50_000), "*".repeat(50_000));
        assert!(md(&emphasis).body.contains("deep"));
    }

    #[test]
    fn no_text_is_an_error() {
        assert_eq!(md_err("---\ntitle: \"\"\n---\n"), "no article text found");
        assert_eq!(md_err("<!-- only a comment -->\n"), "no article text found");
    }

    #[test]
    fn line_column_of_offsets() {
        assert_eq!(line_column("ab\ncd", 0), (1, 1));
        assert_eq!(line_column("ab\ncd", 4), (2, 2));
        assert_eq!(line_column("é\nx", 1), (1, 1));
        assert_eq!(line_column("ab", 99), (1, 3));
    }
}
