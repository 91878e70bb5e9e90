//! Snippets: a short window of a field's text around the first match, with the matched words
//! in `<b>…</b>` and the rest HTML-escaped. Alerts and search results use the same code.

use super::analysis::FieldTerms;

/// Characters of context kept before the first highlight.
const LEAD: usize = 80;
/// Length of the window, in characters.
const WINDOW: usize = 240;

/// Build a snippet of `text` (analyzed as `terms`) highlighting the token ranges `ranges`
/// (sorted, as `explain` gives them). Without ranges, the start of the text. The work is
/// bounded by the window, not by the text or the number of ranges before its end.
pub fn snippet(text: &str, terms: &FieldTerms, ranges: &[(u32, u32)]) -> String {
    let span = |&(from, to): &(u32, u32)| {
        let start = terms.span(from)?.0;
        let end = terms.span(to)?.1;
        (start <= end && end <= text.len()).then_some((start, end))
    };
    let first = ranges.iter().find_map(span).map_or(0, |s| s.0);
    let start = window_start(text, first);
    let end = window_end(text, start);
    let mut out = String::with_capacity(end.saturating_sub(start) + 64);
    if start > 0 {
        out.push('…');
    }
    let mut cursor = start;
    for (s, e) in ranges.iter().filter_map(span) {
        if s >= end {
            break;
        }
        if s < cursor || e > end {
            continue;
        }
        push_escaped(&mut out, text.get(cursor..s).unwrap_or(""));
        out.push_str("<b>");
        push_escaped(&mut out, text.get(s..e).unwrap_or(""));
        out.push_str("</b>");
        cursor = e;
    }
    push_escaped(&mut out, text.get(cursor..end).unwrap_or(""));
    if end < text.len() {
        out.push('…');
    }
    // Trimmed in place.
    out.truncate(out.trim_end().len());
    let lead = out.len() - out.trim_start().len();
    out.drain(..lead);
    out
}

/// Start the window about `LEAD` characters before `first`, at a word boundary (reads only
/// those characters).
fn window_start(text: &str, first: usize) -> usize {
    let Some(before) = text.get(..first) else {
        return 0;
    };
    // The LEAD-th character before `first`; the window starts at the start of the text when
    // there are no more than LEAD.
    let from = match before.char_indices().rev().nth(LEAD - 1) {
        Some((from, _)) if from > 0 => from,
        _ => return 0,
    };
    before[from..]
        .char_indices()
        .find(|(_, c)| c.is_whitespace())
        .map_or(from, |(i, c)| from + i + c.len_utf8())
}

/// End the window about `WINDOW` characters after `start`, at a word boundary.
fn window_end(text: &str, start: usize) -> usize {
    let rest = &text[start..];
    let Some((limit, _)) = rest.char_indices().nth(WINDOW) else {
        return text.len();
    };
    let cut = rest[..limit]
        .char_indices()
        .rev()
        .find(|(_, c)| c.is_whitespace())
        .map_or(limit, |(i, _)| i);
    start + cut
}

/// Append `text` HTML-escaped, each run of whitespace as one space (none after a space `out`
/// ends with). Plain runs are copied whole.
fn push_escaped(out: &mut String, text: &str) {
    let mut last_space = out.ends_with(' ');
    let mut plain_from = 0;
    for (i, c) in text.char_indices() {
        let special = match c {
            '<' => "&lt;",
            '>' => "&gt;",
            '&' => "&amp;",
            c if c.is_whitespace() => " ",
            _ => continue,
        };
        if plain_from < i {
            out.push_str(&text[plain_from..i]);
            last_space = false;
        }
        plain_from = i + c.len_utf8();
        if special == " " {
            if !last_space {
                out.push(' ');
            }
            last_space = true;
        } else {
            out.push_str(special);
            last_space = false;
        }
    }
    if plain_from < text.len() {
        out.push_str(&text[plain_from..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain definition, one character at a time: the oracle of `push_escaped`.
    fn push_escaped_reference(out: &mut String, text: &str) {
        let mut last_space = out.ends_with(' ');
        for c in text.chars() {
            if c.is_whitespace() {
                if !last_space {
                    out.push(' ');
                }
                last_space = true;
                continue;
            }
            last_space = false;
            match c {
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                '&' => out.push_str("&amp;"),
                _ => out.push(c),
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn escaping_copies_runs_as_the_definition_does_char_by_char(
            before in "[a <&\u{a0}]{0,3}",
            text in "[a-zé <>&\t\n\u{a0}\u{2028}]{0,40}",
        ) {
            let (mut fast, mut slow) = (before.clone(), before);
            push_escaped(&mut fast, &text);
            push_escaped_reference(&mut slow, &text);
            proptest::prop_assert_eq!(fast, slow);
        }
    }
}
