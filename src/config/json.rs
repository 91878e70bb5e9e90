//! The `[json]` section: which keys of a JSON article hold each field, for `.json` and
//! `.jsonl`/`.ndjson` files and `POST /documents`. Checked here (no empty lists or keys, no key
//! read for two fields) and turned into the extractor's `JsonKeys`.

use serde::Deserialize;

use crate::extract::{JsonField, JsonKeys};

/// `[json]`: the keys each field of a JSON article is read from, in order of preference (the
/// first key with a value wins), e.g. `title = ["headline", "title"]`. A field listed here is
/// read from exactly these keys. A field not listed keeps lookout's keys: its main keys, and
/// its common aliases for a record that has no title and no text under the main keys.
/// Changing these applies live, to the files read from then on; a document's id is a hash of
/// what was read, so a file read again with other keys can become a new document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonSection {
    /// Keys of the title. Default: `title` (alias `headline`).
    pub title: Option<Vec<String>>,
    /// Keys of the text. Default: `body`, `text`, `content` (aliases `articleBody`,
    /// `content_text`, `description`, `summary`).
    pub body: Option<Vec<String>>,
    /// Keys of the date (`YYYY-MM-DD`, RFC 3339 or RFC 2822). Default: `date` (aliases
    /// `published_at`, `publishedAt`, `datePublished`, `date_published`, `pubDate`,
    /// `published`).
    pub date: Option<Vec<String>>,
    /// Keys of the source. Default: `source` (aliases `publisher`, `site_name`).
    pub source: Option<Vec<String>>,
    /// Keys of the URL. Default: `url` (alias `link`).
    pub url: Option<Vec<String>>,
    /// Keys of the tags (a list, or one comma-separated string). Default: `tags` (aliases
    /// `keywords`, `categories`).
    pub tags: Option<Vec<String>>,
}

impl JsonSection {
    /// The keys to read, or the setting that is wrong (`json.title`) and why.
    pub(crate) fn keys(&self) -> Result<JsonKeys, (String, String)> {
        let mut keys = JsonKeys::default();
        let listed = [
            (JsonField::Title, &self.title),
            (JsonField::Body, &self.body),
            (JsonField::Date, &self.date),
            (JsonField::Source, &self.source),
            (JsonField::Url, &self.url),
            (JsonField::Tags, &self.tags),
        ];
        for (field, list) in listed {
            let Some(list) = list else { continue };
            let setting = format!("json.{}", field.name());
            if list.is_empty() {
                return Err((setting, "name at least one key".into()));
            }
            let mut seen = Vec::new();
            for key in list {
                if key.trim().is_empty() {
                    return Err((setting, "a key cannot be empty".into()));
                }
                if seen.contains(&key) {
                    return Err((setting, format!("the key \"{key}\" is listed twice")));
                }
                seen.push(key);
            }
            keys.set(field, list.clone());
        }
        // One key, one field: the same text read as two fields would be indexed twice.
        for (i, field) in JsonField::ALL.iter().enumerate() {
            for other in &JsonField::ALL[i + 1..] {
                let mine: Vec<&str> = keys.main_keys(*field).collect();
                if let Some(key) = keys.main_keys(*other).find(|k| mine.contains(k)) {
                    return Err((
                        "json".into(),
                        format!(
                            "the key \"{key}\" is read for both {} and {}",
                            field.name(),
                            other.name()
                        ),
                    ));
                }
            }
        }
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::Config;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(Path::new("/c/config.toml"), text).map_err(|e| e.to_string())
    }

    #[test]
    fn keys_in_order_of_preference() {
        let config =
            parse("[json]\ntitle = ['headline', 'title']\ndate = ['published_at']\n").unwrap();
        let title: Vec<&str> = config.json.keys(crate::extract::JsonField::Title).collect();
        assert_eq!(title, ["headline", "title"]);
        let body: Vec<&str> = config.json.keys(crate::extract::JsonField::Body).collect();
        assert_eq!(body[..3], ["body", "text", "content"]);
        assert_eq!(parse("").unwrap().json, crate::extract::JsonKeys::default());
    }

    #[test]
    fn bad_settings_are_refused_with_their_name() {
        let err = parse("[json]\ntitel = ['x']\n").unwrap_err();
        assert!(err.contains("unknown field `titel`"), "{err}");
        assert_eq!(
            parse("[json]\ntitle = []\n").unwrap_err(),
            "/c/config.toml: json.title: name at least one key"
        );
        assert_eq!(
            parse("[json]\nbody = ['a', ' ']\n").unwrap_err(),
            "/c/config.toml: json.body: a key cannot be empty"
        );
        assert_eq!(
            parse("[json]\nbody = ['a', 'a']\n").unwrap_err(),
            "/c/config.toml: json.body: the key \"a\" is listed twice"
        );
        assert_eq!(
            parse("[json]\ntitle = ['text']\n").unwrap_err(),
            "/c/config.toml: json: the key \"text\" is read for both title and body"
        );
        let err = parse("[json]\ntitle = 'headline'\n").unwrap_err();
        assert!(err.contains("invalid type"), "{err}");
    }
}
