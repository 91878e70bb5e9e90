//! Fuzz the decoders: text that says its encoding. The first byte picks what the bytes claim
//! (a UTF-16LE or UTF-16BE byte-order mark, for any format, or an HTML page's declared charset)
//! and the rest is the text, most often not valid in it. Any panic (or a very slow input) is a
//! bug; errors are fine, but every message is one line.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

const FORMATS: [&str; 5] = ["txt", "md", "html", "json", "jsonl"];
const CHARSETS: [&str; 12] = [
    "windows-1252",
    "iso-8859-1",
    "shift_jis",
    "euc-jp",
    "iso-2022-jp",
    "euc-kr",
    "gb18030",
    "big5",
    "koi8-r",
    "utf-16le",
    "x-user-defined",
    "not-a-charset",
];

fuzz_target!(|data: &[u8]| {
    let Some((&choice, text)) = data.split_first() else {
        return;
    };
    let pick = usize::from(choice / 3);
    let (format, mut bytes) = match choice % 3 {
        0 => (FORMATS[pick % FORMATS.len()], vec![0xFF, 0xFE]),
        1 => (FORMATS[pick % FORMATS.len()], vec![0xFE, 0xFF]),
        _ => (
            "html",
            format!("<meta charset=\"{}\">", CHARSETS[pick % CHARSETS.len()]).into_bytes(),
        ),
    };
    bytes.extend_from_slice(text);
    match lookout::extract::extract(Path::new(&format!("fuzz.{format}")), &bytes) {
        Ok(found) => assert!(!found.documents.is_empty()),
        Err(e) => assert!(!e.to_string().contains('\n'), "{e}"),
    }
});
