//! HTML articles (`.html`, `.htm`), read with `scraper`: the metadata from `<meta>`, `<title>`,
//! `<link rel=canonical>` and `<time>`, and the visible text of the `<article>` (else `<main>`,
//! else `<body>`) with the page chrome (scripts, navigation, headers, footers…) dropped. Also
//! the visible text of HTML fragments embedded in Markdown. Trees are walked iteratively, so
//! nesting depth cannot overflow the stack.

use scraper::{ElementRef, Html, Node};

use super::plain::{parse_date, Break, PlainText};
use super::warning::{Excerpt, ExtractWarning, Problem, Warnings};
use super::{ExtractError, MAX_HTML_DEPTH};
use crate::document::DocumentFields;

/// A node of scraper's tree (ego_tree's `NodeRef<Node>`, named through scraper).
type NodeRef<'a> = <ElementRef<'a> as std::ops::Deref>::Target;

const HTML_NAMESPACE: &str = "http://www.w3.org/1999/xhtml";

/// Elements whose content is never visible article text.
const SKIPPED: &[&str] = &[
    "script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form", "svg",
    "iframe", "head", "math", "object", "select", "button", "dialog",
];

/// Elements that start a paragraph: a blank line before and after.
const PARAGRAPHS: &[&str] = &[
    "p",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "pre",
    "ul",
    "ol",
    "dl",
    "table",
    "figure",
    "hr",
    "section",
    "article",
    "address",
    "details",
    "fieldset",
    "main",
    "listing",
    "xmp",
    "menu",
];

/// Elements that start a line.
const LINES: &[&str] = &[
    "div",
    "li",
    "dt",
    "dd",
    "tr",
    "caption",
    "figcaption",
    "summary",
    "legend",
    "center",
    "hgroup",
    "body",
    "html",
    "option",
    "search",
];

/// Elements whose neighbours are separated by a space.
const CELLS: &[&str] = &["td", "th", "img", "input", "textarea"];

/// Read an HTML page. `text` has LF line endings and no byte-order mark. When the page gives
/// dates and none is one lookout reads, that is said in a warning.
pub(super) fn extract(text: &str, warnings: &mut Warnings) -> Result<DocumentFields, ExtractError> {
    check_depth(text)?;
    let document = Html::parse_document(text);
    let meta = PageMeta::collect(&document);
    if let (None, Some((field, value))) = (meta.date, &meta.unreadable_date) {
        warnings.push(ExtractWarning {
            record: None,
            problem: Problem::UnreadableDate {
                field: field.clone(),
                value: Excerpt::of(value),
            },
        });
    }
    let mut body = page_body(&document);
    if body.is_empty() {
        body = meta.description.clone().unwrap_or_default();
    }
    Ok(DocumentFields {
        title: meta.title().unwrap_or_default(),
        body,
        date: meta.date,
        source: meta.site_name,
        url: meta.url,
        tags: Vec::new(),
    })
}

/// The charset a page declares: the first `<meta charset>`, or `<meta http-equiv=
/// "Content-Type" content="text/html; charset=…">`, as the HTML parser reads it (`head` is
/// the start of the page, lossily decoded: the markup is ASCII in every encoding this reads).
pub(super) fn declared_charset(head: &str) -> Option<String> {
    if estimated_depth_exceeds(head, MAX_HTML_DEPTH) {
        return None;
    }
    let document = Html::parse_document(head);
    let charset = elements(&document).find_map(|element| {
        let value = element.value();
        if !is_html(value) || value.name() != "meta" {
            return None;
        }
        if let Some(charset) = value.attr("charset").map(str::trim) {
            return (!charset.is_empty()).then(|| charset.to_string());
        }
        let content_type = value
            .attr("http-equiv")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("content-type"));
        if !content_type {
            return None;
        }
        let media_type: mime::Mime = value.attr("content")?.trim().parse().ok()?;
        Some(media_type.get_param(mime::CHARSET)?.as_str().to_string())
    });
    charset
}

/// The visible text of an HTML fragment (a raw HTML block in Markdown).
pub(super) fn fragment_text(text: &str) -> Result<String, ExtractError> {
    check_depth(text)?;
    let fragment = Html::parse_fragment(text);
    let mut out = PlainText::new();
    visible_text(fragment.tree.root(), &mut out);
    Ok(out.finish())
}

fn is_html(element: &scraper::node::Element) -> bool {
    &*element.name.ns == HTML_NAMESPACE
}

fn elements<'a>(document: &'a Html) -> impl Iterator<Item = ElementRef<'a>> + 'a {
    document
        .tree
        .root()
        .descendants()
        .filter_map(ElementRef::wrap)
}

/// The metadata a page declares, first occurrence of each kind.
#[derive(Debug, Default)]
struct PageMeta {
    og_title: Option<String>,
    title_element: Option<String>,
    first_h1: Option<String>,
    date: Option<chrono::NaiveDate>,
    site_name: Option<String>,
    url: Option<String>,
    description: Option<String>,
    /// The first date the page gives (where, and the value), kept to say so when no date
    /// could be read.
    unreadable_date: Option<(String, String)>,
}

impl PageMeta {
    fn collect(document: &Html) -> PageMeta {
        let mut meta = PageMeta::default();
        let mut og_url = None;
        let mut canonical = None;
        let mut og_description = None;
        // Date candidates, most trusted first.
        let mut published = None;
        let mut name_date = None;
        let mut pubdate = None;
        let mut time_in_article = None;

        for element in elements(document) {
            let value = element.value();
            if !is_html(value) {
                continue;
            }
            match value.name() {
                "meta" => {
                    let Some(content) = value.attr("content").and_then(non_empty) else {
                        continue;
                    };
                    let key = value
                        .attr("property")
                        .or_else(|| value.attr("name"))
                        .unwrap_or_default()
                        .trim()
                        .to_ascii_lowercase();
                    if matches!(key.as_str(), "article:published_time" | "date" | "pubdate")
                        && meta.unreadable_date.is_none()
                    {
                        meta.unreadable_date = Some((
                            format!(
                                "<meta {}=\"{key}\">",
                                if value.attr("property").is_some() {
                                    "property"
                                } else {
                                    "name"
                                }
                            ),
                            content.clone(),
                        ));
                    }
                    let slot = match key.as_str() {
                        "og:title" => &mut meta.og_title,
                        "og:site_name" => &mut meta.site_name,
                        "og:url" => &mut og_url,
                        "description" => &mut meta.description,
                        "og:description" => &mut og_description,
                        "article:published_time" => &mut published,
                        "date" => &mut name_date,
                        "pubdate" => &mut pubdate,
                        _ => continue,
                    };
                    if slot.is_none() {
                        *slot = Some(content);
                    }
                }
                "link" => {
                    let is_canonical = value.attr("rel").is_some_and(|rel| {
                        rel.split_ascii_whitespace()
                            .any(|token| token.eq_ignore_ascii_case("canonical"))
                    });
                    if is_canonical && canonical.is_none() {
                        canonical = value.attr("href").and_then(non_empty);
                    }
                }
                "title" if meta.title_element.is_none() => {
                    meta.title_element = non_empty(&text_of(*element));
                }
                "h1" if meta.first_h1.is_none() => {
                    meta.first_h1 = non_empty(&text_of(*element));
                }
                "time" if time_in_article.is_none() => {
                    let in_article = element.ancestors().any(|node| {
                        ElementRef::wrap(node).is_some_and(|e| e.value().name() == "article")
                    });
                    if let Some(datetime) = value.attr("datetime").filter(|_| in_article) {
                        time_in_article = parse_date(datetime);
                        if meta.unreadable_date.is_none() {
                            meta.unreadable_date = Some((
                                "<time datetime> in the article".into(),
                                datetime.to_string(),
                            ));
                        }
                    }
                }
                _ => {}
            }
        }

        meta.url = og_url.or(canonical);
        meta.description = meta.description.or(og_description);
        meta.date = [published, name_date, pubdate]
            .into_iter()
            .flatten()
            .find_map(|candidate| parse_date(&candidate))
            .or(time_in_article);
        meta
    }

    fn title(&self) -> Option<String> {
        self.og_title
            .clone()
            .or_else(|| self.title_element.clone())
            .or_else(|| self.first_h1.clone())
    }
}

fn non_empty(value: &str) -> Option<String> {
    let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
    (!value.is_empty()).then_some(value)
}

/// The visible text of the first `<article>` that has any, else of the first `<main>`, else of
/// the `<body>`, else of the whole document.
fn page_body(document: &Html) -> String {
    fn named<'a>(document: &'a Html, name: &'static str) -> impl Iterator<Item = ElementRef<'a>> {
        elements(document).filter(move |e| is_html(e.value()) && e.value().name() == name)
    }
    named(document, "article")
        .chain(named(document, "main").take(1))
        .chain(named(document, "body").take(1))
        .map(|container| text_of(*container))
        .find(|text| !text.is_empty())
        .unwrap_or_else(|| text_of(document.tree.root()))
}

fn text_of(node: NodeRef<'_>) -> String {
    let mut out = PlainText::new();
    visible_text(node, &mut out);
    out.finish()
}

fn is_skipped(element: &scraper::node::Element) -> bool {
    SKIPPED.contains(&element.name()) || element.attr("hidden").is_some()
}

/// Append the visible text under `root` to `out`, in document order. Iterative: a depth-first
/// walk along first-child / next-sibling / parent links, so deep trees cannot overflow the
/// stack.
fn visible_text(root: NodeRef<'_>, out: &mut PlainText) {
    // How many `<pre>` elements enclose the current node.
    let mut pre_depth = 0usize;
    let mut node = root;
    loop {
        // Open `node`; descend into it when it has children worth reading.
        let descend = match node.value() {
            Node::Text(text) => {
                if pre_depth > 0 {
                    for (i, line) in text.split('\n').enumerate() {
                        if i > 0 {
                            out.line_break();
                        }
                        out.push_collapsed(line);
                    }
                } else {
                    out.push_collapsed(text);
                }
                false
            }
            Node::Element(element) if node != root && is_skipped(element) => false,
            Node::Element(element) => {
                open_element(element, out, &mut pre_depth);
                true
            }
            Node::Document | Node::Fragment => true,
            _ => false,
        };
        if descend {
            if let Some(child) = node.first_child() {
                node = child;
                continue;
            }
        }
        // Close `node`, then every ancestor whose last child it was, until a sibling is found.
        loop {
            if let Node::Element(element) = node.value() {
                if was_opened(node, root, element) {
                    close_element(element, out, &mut pre_depth);
                }
            }
            if node == root {
                return;
            }
            if let Some(sibling) = node.next_sibling() {
                node = sibling;
                break;
            }
            match node.parent() {
                Some(parent) => node = parent,
                None => return,
            }
        }
    }
}

/// Whether `node` was opened (and so must be closed): elements are opened unless skipped; the
/// root is always opened.
fn was_opened(node: NodeRef<'_>, root: NodeRef<'_>, element: &scraper::node::Element) -> bool {
    node == root || !is_skipped(element)
}

fn open_element(element: &scraper::node::Element, out: &mut PlainText, pre_depth: &mut usize) {
    let name = element.name();
    if name == "br" {
        out.line_break();
        return;
    }
    if name == "pre" || name == "listing" || name == "textarea" {
        *pre_depth += 1;
    }
    block_break(name, out);
}

fn close_element(element: &scraper::node::Element, out: &mut PlainText, pre_depth: &mut usize) {
    let name = element.name();
    if name == "br" {
        return;
    }
    if name == "pre" || name == "listing" || name == "textarea" {
        *pre_depth = pre_depth.saturating_sub(1);
    }
    block_break(name, out);
}

fn block_break(name: &str, out: &mut PlainText) {
    out.brk(break_for(name));
}

/// The separator an element puts around its content.
fn break_for(name: &str) -> Break {
    if PARAGRAPHS.contains(&name) {
        Break::Paragraph
    } else if LINES.contains(&name) || name == "br" {
        Break::Line
    } else if CELLS.contains(&name) {
        Break::Space
    } else {
        Break::None
    }
}

/// The separator owed for one inline HTML tag in Markdown (`<br>`, `</p>`, `<span>`…), so that
/// words on either side of a block tag do not glue together.
pub(super) fn tag_break(tag: &str) -> Break {
    let Some(rest) = tag.strip_prefix('<') else {
        return Break::None;
    };
    let rest = rest.strip_prefix('/').unwrap_or(rest);
    let (name, _) = tag_name(rest.as_bytes(), 0);
    break_for(&name).min(Break::Line)
}

// ---------------------------------------------------------------------------------------------
// Depth guard

/// Elements that never nest: void elements, the document's frame, `p` (a `p` closes an open
/// one), and table parts (the parser drops them outside a table and closes them inside one).
const NON_NESTING: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
    "wbr", "param", "keygen", "basefont", "bgsound", "frame", "image", "html", "head", "body", "p",
    "tr", "td", "th", "thead", "tbody", "tfoot", "colgroup", "caption",
];

/// The HTML standard's "special" elements: they stop the search for an `li`/`dd`/`dt` to close.
const SPECIAL: &[&str] = &[
    "applet",
    "area",
    "article",
    "aside",
    "base",
    "basefont",
    "bgsound",
    "blockquote",
    "body",
    "br",
    "button",
    "caption",
    "center",
    "col",
    "colgroup",
    "dd",
    "details",
    "dir",
    "dl",
    "dt",
    "embed",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "frame",
    "frameset",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "head",
    "header",
    "hgroup",
    "hr",
    "html",
    "iframe",
    "img",
    "input",
    "keygen",
    "li",
    "link",
    "listing",
    "main",
    "marquee",
    "menu",
    "meta",
    "nav",
    "noembed",
    "noframes",
    "noscript",
    "object",
    "ol",
    "param",
    "plaintext",
    "pre",
    "script",
    "search",
    "section",
    "select",
    "source",
    "style",
    "summary",
    "table",
    "tbody",
    "td",
    "template",
    "textarea",
    "tfoot",
    "th",
    "thead",
    "title",
    "tr",
    "track",
    "ul",
    "wbr",
    "xmp",
];

/// Elements closed implicitly by a sibling, the way the HTML parser does it: an `li` (or
/// `dd`/`dt`) start closes an open one unless a special element lies between; ruby parts close
/// each other only inside a `ruby`; options only inside a `select`. Elsewhere they nest, and
/// count (the parser nests them too, and its cost grows with the square of the depth).
fn close_implied(open: &mut Vec<String>, name: &str) {
    let closes = |n: &str| match name {
        "li" => n == "li",
        "dd" | "dt" => n == "dd" || n == "dt",
        _ => false,
    };
    match name {
        "li" | "dd" | "dt" => {
            for at in (0..open.len()).rev() {
                let n = open[at].as_str();
                if closes(n) {
                    open.truncate(at);
                    return;
                }
                if SPECIAL.contains(&n) && !matches!(n, "address" | "div" | "p") {
                    return;
                }
            }
        }
        "rb" | "rt" | "rtc" | "rp"
            if open.iter().any(|n| n == "ruby")
                && open
                    .last()
                    .is_some_and(|n| matches!(n.as_str(), "rb" | "rt" | "rtc" | "rp")) =>
        {
            open.pop();
        }
        "option" | "optgroup" if open.iter().any(|n| n == "select") => {
            if open.last().is_some_and(|n| n == "option") {
                open.pop();
            }
            if name == "optgroup" && open.last().is_some_and(|n| n == "optgroup") {
                open.pop();
            }
        }
        _ => {}
    }
}

/// Elements whose content is text up to their end tag.
const RAW_TEXT: &[&str] = &[
    "script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes", "noscript",
];

/// Refuse HTML that nests elements more than `MAX_HTML_DEPTH` deep, before parsing it: the HTML
/// parser's cost grows with the square of the depth (100,000 nested `<div>`s take minutes).
/// This is an estimate from a light scan of the tags — an upper bound for well-formed pages,
/// which nest a few dozen levels.
fn check_depth(text: &str) -> Result<(), ExtractError> {
    if estimated_depth_exceeds(text, MAX_HTML_DEPTH) {
        Err(ExtractError::TooDeep {
            limit: MAX_HTML_DEPTH,
        })
    } else {
        Ok(())
    }
}

fn estimated_depth_exceeds(text: &str, limit: usize) -> bool {
    let bytes = text.as_bytes();
    let mut open: Vec<String> = Vec::new();
    let mut i = 0;
    while let Some(offset) = bytes[i..].iter().position(|&b| b == b'<') {
        i += offset + 1;
        let rest = &bytes[i..];
        if rest.starts_with(b"!--") {
            i = find(bytes, i + 3, b"-->").map_or(bytes.len(), |end| end + 3);
        } else if rest.first() == Some(&b'/') && rest.get(1).is_some_and(u8::is_ascii_alphabetic) {
            let (name, after) = tag_name(bytes, i + 1);
            i = tag_end(bytes, after).0;
            if let Some(position) = open.iter().rposition(|n| *n == name) {
                open.truncate(position);
            }
        } else if rest.first().is_some_and(u8::is_ascii_alphabetic) {
            let (name, after) = tag_name(bytes, i);
            let (end, self_closing) = tag_end(bytes, after);
            i = end;
            if name == "plaintext" {
                return false;
            }
            if RAW_TEXT.contains(&name.as_str()) {
                let closing = format!("</{name}");
                i = find_ignore_case(bytes, i, closing.as_bytes()).unwrap_or(bytes.len());
                continue;
            }
            let foreign = open.iter().any(|n| n == "svg" || n == "math");
            if NON_NESTING.contains(&name.as_str()) || (self_closing && foreign) {
                continue;
            }
            close_implied(&mut open, &name);
            open.push(name);
            if open.len() > limit {
                return true;
            }
        } else if matches!(rest.first(), Some(b'!' | b'?')) {
            i = tag_end(bytes, i).0;
        }
    }
    false
}

/// The lowercased tag name starting at `start`, and where it ends.
fn tag_name(bytes: &[u8], start: usize) -> (String, usize) {
    let end = bytes[start..]
        .iter()
        .position(|b| b.is_ascii_whitespace() || *b == b'/' || *b == b'>')
        .map_or(bytes.len(), |n| start + n);
    (
        String::from_utf8_lossy(&bytes[start..end]).to_ascii_lowercase(),
        end,
    )
}

/// The index just past the `>` that ends a tag (skipping quoted attribute values), and whether
/// the tag was self-closing (`/>`).
fn tag_end(bytes: &[u8], start: usize) -> (usize, bool) {
    let mut i = start;
    let mut after_equals = false;
    let mut previous = 0u8;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'>' => return (i + 1, previous == b'/'),
            b'"' | b'\'' if after_equals => {
                i = bytes[i + 1..]
                    .iter()
                    .position(|&c| c == b)
                    .map_or(bytes.len(), |n| i + 1 + n);
                after_equals = false;
                previous = b;
            }
            _ if b.is_ascii_whitespace() => {}
            _ => {
                after_equals = b == b'=';
                previous = b;
            }
        }
        i += 1;
    }
    (bytes.len(), false)
}

fn find(haystack: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|n| from + n)
}

fn find_ignore_case(haystack: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
        .map(|n| from + n)
}

#[cfg(test)]
mod depth_guard_tests {
    use super::*;

    #[test]
    fn implied_closes_do_not_add_depth_but_real_nesting_does() {
        let list: String = "<ul>".to_string() + &"<li><b>item</b>".repeat(5_000) + "</ul>";
        assert!(!estimated_depth_exceeds(&list, MAX_HTML_DEPTH));
        let dl = "<dl>".to_string() + &"<dt>term<dd>definition".repeat(5_000) + "</dl>";
        assert!(!estimated_depth_exceeds(&dl, MAX_HTML_DEPTH));
        let ruby = "<ruby>".to_string() + &"漢<rt>kan".repeat(5_000) + "</ruby>";
        assert!(!estimated_depth_exceeds(&ruby, MAX_HTML_DEPTH));
        // What the HTML parser nests (found by fuzzing: quadratic parse times).
        for nested in [
            "<rb>",
            "<rt>",
            "<optgroup>",
            "<li><dd>",
            "<li><dt>",
            "<dt><li>",
        ] {
            let text = nested.repeat(5_000) + "text";
            assert!(estimated_depth_exceeds(&text, MAX_HTML_DEPTH), "{nested}");
        }
    }

    #[test]
    fn ruby_bombs_are_refused_fast() {
        let text = "<rb>".repeat(100_000) + "text";
        let started = std::time::Instant::now();
        assert!(matches!(
            extract(&text, &mut Warnings::default()),
            Err(ExtractError::TooDeep { .. })
        ));
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use chrono::NaiveDate;

    use super::super::documents_of as extract_file;
    use super::*;

    fn html(text: &str) -> DocumentFields {
        extract(text, &mut Warnings::default()).expect("extracts")
    }

    fn html_err(text: &str) -> String {
        match extract_file(Path::new("a.html"), text.as_bytes()) {
            Ok(docs) => panic!("expected an error, got {docs:?}"),
            Err(e) => e.to_string(),
        }
    }

    const NOISY_PAGE: &str = r#"<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Niger ends pact | Example News</title>
  <meta property="og:title" content="Niger's junta ends US security pact">
  <meta property="og:site_name" content="Example News">
  <meta property="og:url" content="https://news.example/niger">
  <link rel="canonical" href="https://news.example/canonical">
  <meta property="article:published_time" content="2024-03-28T09:15:00+01:00">
  <meta name="description" content="A summary.">
  <style>body { color: red; }</style>
  <script>var tracking = "do not index";</script>
</head>
<body>
  <header><a href="/">Example News</a> <nav><a>World</a><a>Sport</a></nav></header>
  <nav>Home | World</nav>
  <main>
    <article>
      <header><h1>Niger's junta ends pact</h1><time datetime="2020-01-01">old</time></header>
      <p>In a move that has sent <b>ripples</b> through the Sahel,
         Niger's military junta has   officially terminated its agreement.</p>
      <script>alert("nope")</script>
      <p>Second<br>line after break.</p>
      <aside>Related: other story</aside>
      <ul><li>One</li><li>Two</li></ul>
      <form><input value="x"> Subscribe now</form>
      <noscript>Enable JavaScript</noscript>
      <p hidden>Hidden text</p>
      <div>Cell<div>Nested</div></div><span>a</span><span>b</span>
      <!-- a comment -->
    </article>
    <aside>Sidebar</aside>
  </main>
  <footer>Copyright Example</footer>
</body>
</html>
"#;

    #[test]
    fn noisy_page() {
        let doc = html(NOISY_PAGE);
        assert_eq!(doc.title, "Niger's junta ends US security pact");
        assert_eq!(doc.date, NaiveDate::from_ymd_opt(2024, 3, 28));
        assert_eq!(doc.source.as_deref(), Some("Example News"));
        assert_eq!(doc.url.as_deref(), Some("https://news.example/niger"));
        assert_eq!(
            doc.body,
            "In a move that has sent ripples through the Sahel, Niger's military junta has \
             officially terminated its agreement.\n\
             \n\
             Second\n\
             line after break.\n\
             \n\
             One\n\
             Two\n\
             \n\
             Cell\n\
             Nested\n\
             ab"
        );
        for noise in [
            "tracking",
            "nope",
            "Related",
            "Subscribe",
            "JavaScript",
            "Hidden",
            "Copyright",
            "Sidebar",
            "World",
            "comment",
            "color",
        ] {
            assert!(!doc.body.contains(noise), "{noise} in {:?}", doc.body);
        }
    }

    #[test]
    fn title_fallbacks() {
        assert_eq!(
            html("<title> The  title </title><h1>Heading</h1><p>x</p>").title,
            "The title"
        );
        assert_eq!(
            html("<h1>The <em>heading</em></h1><p>x</p>").title,
            "The heading"
        );
        assert_eq!(html("<p>Only a body</p>").title, "");
        // An SVG <title> is not the page title.
        let doc = html("<body><svg><title>icon</title></svg><h1>Real</h1><p>x</p></body>");
        assert_eq!(doc.title, "Real");
    }

    #[test]
    fn date_fallbacks() {
        let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d);
        assert_eq!(
            html(r#"<meta name="date" content="2021-05-06"><p>x</p>"#).date,
            date(2021, 5, 6)
        );
        assert_eq!(
            html(r#"<meta name="pubdate" content="2021-05-07T00:00:00Z"><p>x</p>"#).date,
            date(2021, 5, 7)
        );
        assert_eq!(
            html(r#"<article><p>x</p><time datetime="1987-02-26T15:01:01Z">then</time></article>"#)
                .date,
            date(1987, 2, 26)
        );
        // A <time> outside the article does not date it.
        assert_eq!(
            html(r#"<time datetime="1987-02-26">x</time><article><p>x</p></article>"#).date,
            None
        );
        // An unparseable published_time falls through to the next candidate.
        assert_eq!(
            html(
                r#"<meta property="article:published_time" content="soon">
                   <meta name="date" content="2021-05-06"><p>x</p>"#
            )
            .date,
            date(2021, 5, 6)
        );
    }

    #[test]
    fn canonical_link_is_the_url_without_og_url() {
        let doc = html(r#"<link rel="alternate canonical" href="https://a.example/x"><p>x</p>"#);
        assert_eq!(doc.url.as_deref(), Some("https://a.example/x"));
    }

    #[test]
    fn body_container_fallbacks() {
        assert_eq!(
            html("<body><nav>n</nav><main><p>Main text</p></main><p>outside</p></body>").body,
            "Main text"
        );
        assert_eq!(html("<body><p>Body text</p></body>").body, "Body text");
        // An empty <article> does not hide the rest of the page.
        assert_eq!(
            html("<body><article><script>x</script></article><p>Text</p></body>").body,
            "Text"
        );
        // Without any text, the description is the body.
        let doc = html(
            r#"<head><meta property="og:description" content="From og."></head><body></body>"#,
        );
        assert_eq!(doc.body, "From og.");
        let doc = html(
            r#"<meta property="og:description" content="From og.">
               <meta name="description" content="From name."><body> </body>"#,
        );
        assert_eq!(doc.body, "From name.");
    }

    #[test]
    fn words_never_glue_and_whitespace_collapses() {
        let doc = html(
            "<body><h2>Head</h2><p>one</p><p>two\n\n   three</p><table><tr><td>a</td><td>b</td></tr>\
             <tr><th>c</th><td>d</td></tr></table><div>x</div><div>y</div>\
             <p>non&nbsp;&nbsp;breaking &amp; entities</p></body>",
        );
        assert_eq!(
            doc.body,
            "Head\n\none\n\ntwo three\n\na b\nc d\n\nx\ny\n\nnon breaking & entities"
        );
    }

    #[test]
    fn pre_keeps_its_lines() {
        let doc = html("<pre>fn main() {\n    x  =  1;\n\n}</pre><p>after</p>");
        assert_eq!(doc.body, "fn main() {\nx = 1;\n\n}\n\nafter");
    }

    #[test]
    fn crlf_page() {
        let docs = extract_file(
            Path::new("a.htm"),
            b"<html>\r\n<head><title>T</title></head>\r\n<body><p>a\r\nb</p></body></html>\r\n",
        )
        .expect("extracts");
        assert_eq!(docs[0].title, "T");
        assert_eq!(docs[0].body, "a b");
    }

    #[test]
    fn only_noise_is_no_text() {
        assert_eq!(
            html_err("<html><head><script>x()</script></head><body><nav>n</nav></body></html>"),
            "no article text found"
        );
    }

    #[test]
    fn hundred_thousand_nested_divs_are_refused_not_a_crash() {
        let deep = format!(
            "<html><body>{}deep{}</body></html>",
            "<div>".repeat(100_000),
            "</div>".repeat(100_000)
        );
        assert_eq!(html_err(&deep), "nested too deeply (more than 1000 levels)");
        let unclosed = format!("<body>{}deep", "<div/>".repeat(100_000));
        assert_eq!(
            html_err(&unclosed),
            "nested too deeply (more than 1000 levels)"
        );
    }

    #[test]
    fn nesting_up_to_the_limit_is_read() {
        let n = MAX_HTML_DEPTH - 5;
        let deep = format!(
            "<html><body>{}deep{}</body></html>",
            "<div>".repeat(n),
            "</div>".repeat(n)
        );
        assert_eq!(html(&deep).body, "deep");
    }

    #[test]
    fn the_walk_is_iterative_on_a_100k_deep_tree() {
        // <span>s nest without slowing the parser down; call the walker directly (past the
        // depth guard) to prove it handles a tree 100,000 levels deep.
        let n = 100_000;
        let source = format!(
            "<body><p>{}deep{}</p><p>after</p></body>",
            "<span>".repeat(n),
            "</span>".repeat(n)
        );
        let document = Html::parse_document(&source);
        let deepest = document
            .tree
            .root()
            .descendants()
            .find(|node| matches!(node.value(), Node::Text(t) if &**t == "deep"))
            .map_or(0, |node| node.ancestors().count());
        assert!(deepest > n, "tree is only {deepest} deep");
        assert_eq!(page_body(&document), "deep\n\nafter");
    }

    #[test]
    fn depth_estimate() {
        let exceeds = |text: &str| estimated_depth_exceeds(text, 3);
        assert!(!exceeds("<div><div><div>x</div></div></div>"));
        assert!(exceeds("<div><div><div><div>x"));
        assert!(exceeds("<DIV><Div><div><div>x"));
        // Implicitly closed and void elements do not nest.
        assert!(!exceeds("<p>a<p>b<p>c<p>d<li>e<li>f<br><br><img><hr>"));
        // Closed elements do not count; an end tag closes what it closes.
        assert!(!exceeds("<div></div><div></div><div></div><div></div>"));
        assert!(!exceeds("<div><span><b></div><div><span><b>"));
        assert!(exceeds("<div><span><b><i></div>"));
        // Tags inside comments, scripts and attribute values are not tags.
        assert!(!exceeds(
            "<!-- <div><div><div><div> --><script><div><div><div><div></script>"
        ));
        assert!(!exceeds(r#"<a title="<div><div><div><div>">x</a>"#));
        // Self-closing only counts in foreign content.
        assert!(exceeds("<div/><div/><div/><div/>"));
        assert!(!exceeds("<svg><path/><path/><path/><path/></svg>"));
        // Unterminated constructs end the scan.
        assert!(!exceeds("<div><!-- never closed <div><div><div>"));
        assert!(!exceeds("<div title=\"never closed <div><div><div>"));
        assert!(!exceeds("<plaintext><div><div><div><div>"));
    }

    #[test]
    fn inline_tag_breaks() {
        assert_eq!(tag_break("<br>"), Break::Line);
        assert_eq!(tag_break("<BR/>"), Break::Line);
        assert_eq!(tag_break("</p>"), Break::Line);
        assert_eq!(tag_break("<td class=x>"), Break::Space);
        assert_eq!(tag_break("<span>"), Break::None);
        assert_eq!(tag_break("<!-- c -->"), Break::None);
        assert_eq!(tag_break(""), Break::None);
    }

    #[test]
    fn fragments() {
        assert_eq!(
            fragment_text("<div><p>One</p><style>x</style><p>Two</p></div>").expect("text"),
            "One\n\nTwo"
        );
        assert_eq!(fragment_text("<!-- c -->").expect("text"), "");
    }
}
