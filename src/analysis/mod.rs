//! The one analyzer of lookout, shared by the index, the query language and the matcher:
//! split on anything that is not a letter or a digit, lowercase, fold accents to ASCII.
//!
//! It reproduces the reference (Lucene's `CharTokenizer` on `Character.isLetterOrDigit`,
//! `LowerCaseFilter`, `ASCIIFoldingFilter`) so that `Nigérien` matches `nigerien` in both, and a
//! token is at most 255 UTF-16 units long, as in Lucene. One deliberate difference: letters
//! are lowercased again after folding, because the folding table maps a few letters (small
//! capitals like `ᴀ`, and `ǧ`) to uppercase ASCII; Lucene keeps `AND` for `ᴀɴᴅ`, lookout gives
//! `and`, so every term is lowercase and a query prints back as itself.

use tantivy::tokenizer::{
    AsciiFoldingFilter, LowerCaser, TextAnalyzer, Token, TokenStream, Tokenizer,
};
use unicode_general_category::{get_general_category, GeneralCategory};

/// The name under which the analyzer is registered in the tantivy index.
pub const ANALYZER_NAME: &str = "lookout";

/// Lucene's `CharTokenizer.DEFAULT_MAX_WORD_LEN`, counted in UTF-16 code units.
const MAX_TOKEN_UTF16_LEN: usize = 255;

/// Java's `Character.isLetterOrDigit`: general category L* or Nd.
pub fn is_letter_or_digit(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric();
    }
    matches!(
        get_general_category(c),
        GeneralCategory::UppercaseLetter
            | GeneralCategory::LowercaseLetter
            | GeneralCategory::TitlecaseLetter
            | GeneralCategory::ModifierLetter
            | GeneralCategory::OtherLetter
            | GeneralCategory::DecimalNumber
    )
}

/// Java's `Character.toLowerCase(int)`: one code point to one code point.
fn to_lower(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(single), None) => single,
        // Only U+0130 (İ) lowercases to two chars in Rust; Java maps it to 'i'.
        (Some(first), Some(_)) => first,
        (None, _) => c,
    }
}

/// Splits text into lowercase runs of letters and digits.
#[derive(Clone, Default)]
pub struct LetterDigitTokenizer {
    token: Token,
}

pub struct LetterDigitTokenStream<'a> {
    text: &'a str,
    cursor: usize,
    token: &'a mut Token,
}

impl Tokenizer for LetterDigitTokenizer {
    type TokenStream<'a> = LetterDigitTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> LetterDigitTokenStream<'a> {
        self.token.reset();
        LetterDigitTokenStream {
            text,
            cursor: 0,
            token: &mut self.token,
        }
    }
}

impl TokenStream for LetterDigitTokenStream<'_> {
    fn advance(&mut self) -> bool {
        self.token.text.clear();
        let rest = &self.text[self.cursor..];
        let mut start = None;
        let mut utf16_len = 0;
        let mut end = self.text.len();
        for (offset, c) in rest.char_indices() {
            let at = self.cursor + offset;
            if is_letter_or_digit(c) {
                if start.is_none() {
                    start = Some(at);
                }
                self.token.text.push(to_lower(c));
                utf16_len += c.len_utf16();
                if utf16_len >= MAX_TOKEN_UTF16_LEN {
                    end = at + c.len_utf8();
                    break;
                }
            } else if start.is_some() {
                end = at;
                break;
            }
        }
        match start {
            Some(from) => {
                self.token.offset_from = from;
                self.token.offset_to = end;
                self.token.position = self.token.position.wrapping_add(1);
                self.cursor = end;
                true
            }
            None => {
                self.cursor = self.text.len();
                false
            }
        }
    }

    fn token(&self) -> &Token {
        self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        self.token
    }
}

/// The analyzer: letter/digit tokenizer with lowercasing, then ASCII folding.
pub fn text_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(LetterDigitTokenizer::default())
        .filter(AsciiFoldingFilter)
        .filter(LowerCaser)
        .build()
}

/// One token of analyzed text: its normalized form, its position (0-based, one per token) and
/// the byte range it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalyzedToken {
    pub text: String,
    pub position: u32,
    pub start: usize,
    pub end: usize,
}

/// A reusable analyzer handle (tantivy's `TextAnalyzer` needs `&mut` to run).
pub struct Analyzer {
    inner: TextAnalyzer,
}

impl Default for Analyzer {
    fn default() -> Self {
        Analyzer {
            inner: text_analyzer(),
        }
    }
}

impl Analyzer {
    /// Every token of `text`, in order.
    pub fn tokens(&mut self, text: &str) -> Vec<AnalyzedToken> {
        let mut out = Vec::new();
        self.for_each_token(text, |token| out.push(token.clone()));
        out
    }

    /// Just the normalized terms of `text`.
    pub fn terms(&mut self, text: &str) -> Vec<String> {
        self.tokens(text).into_iter().map(|t| t.text).collect()
    }

    /// The normalized terms of `text` when there are at most `max`; `None` (having read no
    /// further than the term past `max`) when there are more.
    pub fn terms_at_most(&mut self, text: &str, max: usize) -> Option<Vec<String>> {
        let mut stream = self.inner.token_stream(text);
        let mut terms = Vec::new();
        while stream.advance() {
            if terms.len() == max {
                return None;
            }
            terms.push(stream.token().text.clone());
        }
        Some(terms)
    }

    /// Calls `f` for every token without collecting them.
    pub fn for_each_token(&mut self, text: &str, mut f: impl FnMut(&AnalyzedToken)) {
        let mut stream = self.inner.token_stream(text);
        let mut token = AnalyzedToken {
            text: String::new(),
            position: 0,
            start: 0,
            end: 0,
        };
        while stream.advance() {
            let t = stream.token();
            token.text.clear();
            token.text.push_str(&t.text);
            token.position = u32::try_from(t.position).unwrap_or(u32::MAX);
            token.start = t.offset_from;
            token.end = t.offset_to;
            f(&token);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(text: &str) -> Vec<String> {
        Analyzer::default().terms(text)
    }

    #[test]
    fn splits_on_non_letters_lowercases_and_folds() {
        assert_eq!(
            terms("Niger's junta: Nigérien CÔTE d'Ivoire, U.S. $100-million"),
            vec![
                "niger", "s", "junta", "nigerien", "cote", "d", "ivoire", "u", "s", "100",
                "million"
            ]
        );
    }

    #[test]
    fn positions_and_offsets_follow_the_text() {
        let tokens = Analyzer::default().tokens("  Über alles, écoute ");
        let got: Vec<_> = tokens
            .iter()
            .map(|t| (t.text.as_str(), t.position, t.start, t.end))
            .collect();
        assert_eq!(
            got,
            vec![
                ("uber", 0, 2, 7),
                ("alles", 1, 8, 13),
                ("ecoute", 2, 15, 22)
            ]
        );
    }

    #[test]
    fn underscores_and_symbols_split_like_lucene() {
        // '_' is a connector punctuation, not a letter: Java splits on it.
        assert_eq!(terms("snake_case x²y"), vec!["snake", "case", "x", "y"]);
        assert_eq!(terms("İstanbul ǅemal"), vec!["istanbul", "dzemal"]);
        // Folding maps small capitals to uppercase ASCII: lowercased again.
        assert_eq!(terms("ᴀɴᴅ ǧ"), vec!["and", "g"]);
    }

    #[test]
    fn long_runs_split_at_255_utf16_units() {
        let word = "a".repeat(300);
        let got = terms(&word);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].len(), 255);
        assert_eq!(got[1].len(), 45);
    }

    #[test]
    fn empty_and_punctuation_only_give_no_tokens() {
        assert!(terms("").is_empty());
        assert!(terms(" --- ... !!! ").is_empty());
    }
}
