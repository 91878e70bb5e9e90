//! Owns the ignore rule: which names are hidden or temporary and must never be emitted
//! (nor descended into, for folders).

use std::ffi::OsStr;
use std::path::{Component, Path};

/// Name suffixes of temporary / partial files (compared ASCII case-insensitively).
const TEMP_SUFFIXES: [&[u8]; 5] = [b".tmp", b".part", b".swp", b".crdownload", b"~"];

/// vim writes and deletes this probe file to test whether a folder is writable.
const VIM_PROBE: &[u8] = b"4913";

/// True when `path` names something hidden or temporary: a name that starts with `.`, ends
/// with `~`, `.tmp`, `.part`, `.swp` or `.crdownload` (suffixes compared ASCII
/// case-insensitively), or is exactly `4913` (vim's probe file).
///
/// Which names are judged depends on the path, because only components *below the watched
/// root* may count:
/// - a **relative** path is taken as relative to the root, and every component counts
///   (`sub/.cache/x.txt` is ignored); the watcher always calls it this way;
/// - an **absolute** path carries no root, so only its final name is judged
///   (`/home/me/.local/inbox/a.txt` is kept, `/srv/inbox/.x` is not). That suits walkers
///   that prune ignored folders themselves (`walkdir`'s `filter_entry`), and a root that
///   lives under a hidden folder such as `~/.local/share/inbox` still works.
pub fn is_ignored(path: &Path) -> bool {
    if path.is_absolute() {
        return path.file_name().is_some_and(is_ignored_name);
    }
    path.components().any(|component| match component {
        Component::Normal(name) => is_ignored_name(name),
        _ => false,
    })
}

/// The rule for one file or folder name.
pub(super) fn is_ignored_name(name: &OsStr) -> bool {
    let bytes = name.as_encoded_bytes();
    bytes.starts_with(b".")
        || bytes == VIM_PROBE
        || TEMP_SUFFIXES
            .iter()
            .any(|suffix| ends_with_ignore_ascii_case(bytes, suffix))
}

fn ends_with_ignore_ascii_case(bytes: &[u8], suffix: &[u8]) -> bool {
    bytes.len() >= suffix.len() && bytes[bytes.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
}

#[cfg(test)]
mod tests {
    use super::is_ignored;
    use std::path::Path;

    #[test]
    fn hidden_and_temporary_names_are_ignored() {
        for name in [
            ".hidden",
            ".git/config",
            "sub/.cache/x.txt",
            "notes.txt~",
            "a.tmp",
            "A.TMP",
            "movie.part",
            "x.swp",
            "big.iso.crdownload",
            "4913",
            "sub/4913",
            "tmp.d~/inner.txt",
        ] {
            assert!(is_ignored(Path::new(name)), "{name} should be ignored");
        }
    }

    #[test]
    fn ordinary_names_are_kept() {
        for name in [
            "article.md",
            "sub/deeper/a.html",
            "tmp",
            "part",
            "file.tmpl",
            "49130",
            "x4913",
            "a.txt.bak",
            "",
        ] {
            assert!(!is_ignored(Path::new(name)), "{name} should be kept");
        }
    }

    #[test]
    fn only_normal_components_count() {
        assert!(!is_ignored(Path::new("./a.txt")));
        assert!(!is_ignored(Path::new("../a.txt")));
    }

    #[test]
    fn absolute_paths_are_judged_by_their_final_name() {
        assert!(!is_ignored(Path::new("/srv/inbox/a.txt")));
        assert!(!is_ignored(Path::new("/home/me/.local/inbox/a.txt")));
        assert!(is_ignored(Path::new("/srv/inbox/.hidden")));
        assert!(is_ignored(Path::new("/srv/inbox/a.part")));
        assert!(!is_ignored(Path::new("/")));
    }

    /// How `pipeline::collect_files` uses it: `filter_entry` with absolute paths, under a
    /// root that itself lives in a hidden folder.
    #[test]
    fn a_pruning_walker_under_a_hidden_root_works() {
        let dir = tempfile::tempdir().expect("tempdir"); // named /tmp/.tmpXXXX
        let root = dir.path().join(".hidden-parent/inbox");
        std::fs::create_dir_all(root.join(".git")).expect("mkdir");
        std::fs::create_dir_all(root.join("sub")).expect("mkdir");
        for name in ["a.txt", "sub/b.txt", ".git/config", "sub/c.tmp"] {
            std::fs::write(root.join(name), "x").expect("write");
        }
        let mut found: Vec<_> = walkdir::WalkDir::new(&root)
            .follow_links(false)
            .into_iter()
            .filter_entry(|e| e.depth() == 0 || !is_ignored(e.path()))
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .map(|e| e.into_path())
            .collect();
        found.sort();
        assert_eq!(found, vec![root.join("a.txt"), root.join("sub/b.txt")]);
    }
}
