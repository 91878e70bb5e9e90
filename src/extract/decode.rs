//! Bytes to text, the checks every format shares: empty, binary, and the encoding. Text is
//! UTF-8 unless it says otherwise: a byte-order mark (UTF-8, UTF-16LE, UTF-16BE; UTF-32 is
//! refused by name), or, for an HTML page that is not valid UTF-8, the charset the page
//! declares (`<meta charset>` or `<meta http-equiv="Content-Type">`). Decoding is Mozilla's
//! `encoding_rs` (the WHATWG Encoding Standard); text that is not UTF-8 and does not say what
//! it is, is refused with the offset of the first bad byte.

use std::borrow::Cow;

use encoding_rs::{DecoderResult, Encoding, UTF_16BE, UTF_16LE, UTF_8};

use super::{ExtractError, Format};

/// How many leading bytes are searched for a NUL byte to recognise a binary file.
const BINARY_SNIFF_LEN: usize = 8 * 1024;

/// How much of an HTML page is read for a charset declaration.
pub(crate) const CHARSET_SNIFF_LEN: usize = 64 * 1024;

/// Where the encoding of a text was learnt, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodingSource {
    ByteOrderMark,
    /// The page's `<meta charset>` or `<meta http-equiv="Content-Type">`.
    DeclaredCharset,
}

impl std::fmt::Display for EncodingSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EncodingSource::ByteOrderMark => "as its byte-order mark says",
            EncodingSource::DeclaredCharset => "the charset the page declares",
        })
    }
}

/// The text of a file, decoded. Offsets in errors are offsets in the file, byte-order mark
/// included.
pub(super) fn decode(bytes: &[u8], format: Format) -> Result<Cow<'_, str>, ExtractError> {
    if let Some(endianness) = utf32_bom(bytes) {
        return Err(ExtractError::Utf32 { endianness });
    }
    let text = match Encoding::for_bom(bytes) {
        Some((encoding, bom_len)) if encoding == UTF_16LE || encoding == UTF_16BE => {
            let units = &bytes[bom_len..];
            if let Some(unit) = units
                .chunks_exact(2)
                .take(BINARY_SNIFF_LEN / 2)
                .position(|unit| unit == [0, 0])
            {
                return Err(ExtractError::Binary {
                    offset: bom_len + 2 * unit,
                });
            }
            Cow::Owned(decode_strictly(encoding, units).map_err(|offset| {
                ExtractError::InvalidText {
                    encoding: encoding.name(),
                    offset: bom_len + offset,
                    learnt_from: EncodingSource::ByteOrderMark,
                }
            })?)
        }
        Some((_, bom_len)) => {
            sniff_binary(bytes)?;
            let rest = &bytes[bom_len..];
            Cow::Borrowed(
                std::str::from_utf8(rest).map_err(|e| ExtractError::InvalidUtf8 {
                    offset: bom_len + e.valid_up_to(),
                })?,
            )
        }
        None => {
            sniff_binary(bytes)?;
            match std::str::from_utf8(bytes) {
                Ok(text) => Cow::Borrowed(text),
                Err(e) if format == Format::Html => {
                    Cow::Owned(decode_declared(bytes, e.valid_up_to())?)
                }
                Err(e) => {
                    return Err(ExtractError::InvalidUtf8 {
                        offset: e.valid_up_to(),
                    })
                }
            }
        }
    };
    if text.trim().is_empty() {
        return Err(ExtractError::Empty);
    }
    Ok(text)
}

/// `Some("LE")`/`Some("BE")` when the bytes open with a UTF-32 byte-order mark.
fn utf32_bom(bytes: &[u8]) -> Option<&'static str> {
    match bytes.get(..4)? {
        [0xFF, 0xFE, 0, 0] => Some("LE"),
        [0, 0, 0xFE, 0xFF] => Some("BE"),
        _ => None,
    }
}

/// A NUL byte in the first 8 KiB is a binary file, or UTF-16 text without a byte-order mark
/// (then every NUL sits on the same side of its byte pair).
fn sniff_binary(bytes: &[u8]) -> Result<(), ExtractError> {
    let head = &bytes[..bytes.len().min(BINARY_SNIFF_LEN)];
    let Some(offset) = head.iter().position(|&b| b == 0) else {
        return Ok(());
    };
    if looks_like_unmarked_utf16(head) {
        return Err(ExtractError::UnmarkedUtf16 { offset });
    }
    Err(ExtractError::Binary { offset })
}

/// Whether most byte pairs hold one NUL, always on the same side, and never two: ASCII-range
/// text in UTF-16 without its byte-order mark.
fn looks_like_unmarked_utf16(head: &[u8]) -> bool {
    let pairs = head.len() / 2;
    if pairs < 2 {
        return false;
    }
    let (mut nul_first, mut nul_second) = (0usize, 0usize);
    for pair in head.chunks_exact(2) {
        match (pair[0], pair[1]) {
            (0, 0) => return false,
            (0, _) => nul_first += 1,
            (_, 0) => nul_second += 1,
            _ => {}
        }
    }
    let one_side = (nul_first == 0) != (nul_second == 0);
    one_side && (nul_first + nul_second) * 4 >= pairs * 3
}

/// Decode an HTML page that is not valid UTF-8 in the charset it declares. `utf8_error_at` is
/// where UTF-8 failed, for the error when the page declares nothing usable.
fn decode_declared(bytes: &[u8], utf8_error_at: usize) -> Result<String, ExtractError> {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(CHARSET_SNIFF_LEN)]);
    let Some(label) = super::html::declared_charset(&head) else {
        return Err(ExtractError::InvalidUtf8 {
            offset: utf8_error_at,
        });
    };
    // The standard's rule: a page cannot declare itself UTF-16 (its markup would not be
    // readable to find the declaration), so that means UTF-8; and the "replacement" encoding
    // (ISO-2022-KR and the like) decodes nothing.
    let encoding =
        Encoding::for_label_no_replacement(label.as_bytes()).map(Encoding::output_encoding);
    let Some(encoding) = encoding else {
        return Err(ExtractError::UnknownCharset {
            label: super::warning::Excerpt::of(&label),
            offset: utf8_error_at,
        });
    };
    if encoding == UTF_8 {
        return Err(ExtractError::InvalidUtf8 {
            offset: utf8_error_at,
        });
    }
    decode_strictly(encoding, bytes).map_err(|offset| ExtractError::InvalidText {
        encoding: encoding.name(),
        offset,
        learnt_from: EncodingSource::DeclaredCharset,
    })
}

/// Decode all of `bytes` (no byte-order mark) with `encoding`, failing at the first malformed
/// sequence with its byte offset.
fn decode_strictly(encoding: &'static Encoding, bytes: &[u8]) -> Result<String, usize> {
    let mut decoder = encoding.new_decoder_without_bom_handling();
    let capacity = decoder
        .max_utf8_buffer_length_without_replacement(bytes.len())
        .unwrap_or(bytes.len().saturating_mul(3));
    let mut out = String::with_capacity(capacity);
    let mut consumed = 0;
    loop {
        let (result, read) =
            decoder.decode_to_string_without_replacement(&bytes[consumed..], &mut out, true);
        consumed += read;
        match result {
            DecoderResult::InputEmpty => return Ok(out),
            DecoderResult::Malformed(bad, after) => {
                return Err(consumed.saturating_sub(usize::from(bad) + usize::from(after)))
            }
            DecoderResult::OutputFull => out.reserve(bytes.len() - consumed + 16),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16le(text: &str) -> Vec<u8> {
        let mut bytes = vec![0xFF, 0xFE];
        bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        bytes
    }

    fn utf16be(text: &str) -> Vec<u8> {
        let mut bytes = vec![0xFE, 0xFF];
        bytes.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
        bytes
    }

    fn text(bytes: &[u8], format: Format) -> Result<String, String> {
        decode(bytes, format)
            .map(|t| t.into_owned())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn utf16_with_a_byte_order_mark_is_decoded() {
        let sample = "Nigérien junta — 安全 😀\nline two";
        assert_eq!(text(&utf16le(sample), Format::Text).unwrap(), sample);
        assert_eq!(text(&utf16be(sample), Format::Json).unwrap(), sample);
    }

    #[test]
    fn broken_utf16_names_the_offset() {
        // A lone high surrogate (D800) at code unit 1, i.e. byte 4 of the file.
        let mut bytes = utf16le("a");
        bytes.extend_from_slice(&[0x00, 0xD8, b'b', 0]);
        assert_eq!(
            text(&bytes, Format::Text).unwrap_err(),
            "not valid UTF-16LE at byte 4 (as its byte-order mark says)"
        );
        // An odd number of bytes.
        let mut odd = utf16be("ab");
        odd.push(b'c');
        assert!(text(&odd, Format::Text)
            .unwrap_err()
            .starts_with("not valid UTF-16BE at byte 6"));
    }

    #[test]
    fn utf32_is_refused_by_name() {
        let mut le = vec![0xFF, 0xFE, 0, 0];
        le.extend_from_slice(&[b'a', 0, 0, 0]);
        assert_eq!(
            text(&le, Format::Text).unwrap_err(),
            "UTF-32LE text is not supported: save it as UTF-8 (or UTF-16)"
        );
        assert!(text(&[0, 0, 0xFE, 0xFF, 0, 0, 0, b'a'], Format::Markdown)
            .unwrap_err()
            .starts_with("UTF-32BE text"));
    }

    #[test]
    fn nul_in_utf16_is_binary() {
        let mut bytes = utf16le("ab");
        bytes.extend_from_slice(&[0, 0]);
        assert_eq!(
            text(&bytes, Format::Text).unwrap_err(),
            "binary file (NUL byte at offset 6)"
        );
    }

    #[test]
    fn utf16_without_a_mark_is_named() {
        let bytes: Vec<u8> = "Niger news"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let message = text(&bytes, Format::Text).unwrap_err();
        assert!(
            message.contains("UTF-16 text without a byte-order mark"),
            "{message}"
        );
        // A real binary stays binary.
        assert!(text(
            b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x03\0>\0",
            Format::Text
        )
        .unwrap_err()
        .starts_with("binary file (NUL byte at offset 7)"));
    }

    #[test]
    fn html_in_its_declared_charset() {
        let page = b"<html><head><meta charset=\"windows-1252\"><title>Caf\xe9</title></head><body><p>Na\xefve \x93quotes\x94</p></body></html>";
        assert!(text(page, Format::Html).unwrap().contains("Café"));
        assert!(text(page, Format::Html).unwrap().contains("Naïve “quotes”"));
        let equiv = b"<meta http-equiv=\"Content-Type\" content=\"text/html; charset=ISO-8859-1\"><p>Caf\xe9</p>";
        assert!(text(equiv, Format::Html).unwrap().contains("Café"));
        let sjis = b"<meta charset=shift_jis><p>\x93\xfa\x96\x7b</p>";
        assert!(text(sjis, Format::Html).unwrap().contains("日本"));
        // Broken in the declared charset: its name and the offset.
        let bad = b"<meta charset=shift_jis><p>\x93</p>";
        assert_eq!(
            text(bad, Format::Html).unwrap_err(),
            "not valid Shift_JIS at byte 27 (the charset the page declares)"
        );
    }

    #[test]
    fn valid_utf8_wins_over_a_declared_charset() {
        // What extracts today keeps extracting the same.
        let page = "<meta charset=\"iso-8859-1\"><p>Café</p>";
        assert_eq!(text(page.as_bytes(), Format::Html).unwrap(), page);
    }

    #[test]
    fn undeclared_or_unknown_charsets_are_refused() {
        assert!(text(b"<p>Caf\xe9</p>", Format::Html)
            .unwrap_err()
            .starts_with("not valid UTF-8 at byte 6"));
        assert_eq!(
            text(b"<meta charset=klingon><p>Caf\xe9</p>", Format::Html).unwrap_err(),
            "not valid UTF-8 at byte 28, and the page declares the charset `klingon`, which lookout does not know"
        );
        // UTF-16 declared inside the page means UTF-8 (the standard's rule).
        assert!(text(b"<meta charset=utf-16><p>Caf\xe9</p>", Format::Html)
            .unwrap_err()
            .starts_with("not valid UTF-8 at byte 27"));
        // Other formats do not read a charset declaration.
        assert!(text(b"<meta charset=windows-1252>Caf\xe9", Format::Text)
            .unwrap_err()
            .starts_with("not valid UTF-8 at byte 30"));
    }
}
