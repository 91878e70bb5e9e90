//! Owns the ignore rules: which names are hidden or temporary and must never be emitted
//! (nor descended into, for folders), and which paths are lookout's own files (`OwnFiles`),
//! never articles even when a watch folder holds them (`watch = "."`).

use std::ffi::{OsStr, OsString};
use std::path::{Component, Path, PathBuf};

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

/// lookout's own files and folders: the index and state folders (and everything below them),
/// the alert log and every file beside it whose name starts with the log's name (rotations such
/// as `alerts.jsonl.1` or `alerts.jsonl-20250101`), the configuration file and its queries
/// files. None of them is ever read as an article, wherever files are found.
///
/// Paths are compared component by component as written (absolute, `.` ignored); use
/// [`OwnFiles::for_root`] for a folder that may reach them through another path (a symlink).
#[derive(Debug, Clone, Default)]
pub struct OwnFiles {
    folders: Vec<PathBuf>,
    files: Vec<PathBuf>,
    /// (folder, name prefix): files in `folder` whose name starts with the prefix.
    name_prefixes: Vec<(PathBuf, OsString)>,
}

impl OwnFiles {
    /// A folder and everything below it.
    pub fn add_folder(&mut self, folder: &Path) {
        push_unique(&mut self.folders, folder.to_path_buf());
    }

    /// One file.
    pub fn add_file(&mut self, file: &Path) {
        push_unique(&mut self.files, file.to_path_buf());
    }

    /// A file and the files beside it whose name starts with its name.
    pub fn add_file_and_siblings(&mut self, file: &Path) {
        if let (Some(folder), Some(name)) = (file.parent(), file.file_name()) {
            let entry = (folder.to_path_buf(), name.to_os_string());
            if !self.name_prefixes.contains(&entry) {
                self.name_prefixes.push(entry);
            }
        }
        self.add_file(file);
    }

    /// Whether `path` is one of lookout's own files (or inside one of its folders).
    pub fn contains(&self, path: &Path) -> bool {
        self.folders.iter().any(|folder| path.starts_with(folder))
            || self.files.iter().any(|file| path == file)
            || self.name_prefixes.iter().any(|(folder, prefix)| {
                path.parent().is_some_and(|parent| parent == folder)
                    && path.file_name().is_some_and(|name| {
                        name.as_encoded_bytes()
                            .starts_with(prefix.as_encoded_bytes())
                    })
            })
    }

    /// These files, plus each of them again as seen through `root` when `root` reaches it by
    /// another path (a root that is a symlink, or names the folder some other way): what lies
    /// below the root's real location is added below `root` as written.
    pub fn for_root(&self, root: &Path) -> OwnFiles {
        let mut own = self.clone();
        let Ok(real_root) = std::fs::canonicalize(root) else {
            return own;
        };
        let through_root = |path: &Path| -> Option<PathBuf> {
            let real = real_path(path)?;
            let below = real.strip_prefix(&real_root).ok()?;
            Some(root.join(below))
        };
        for folder in &self.folders {
            if let Some(seen) = through_root(folder) {
                own.add_folder(&seen);
            }
        }
        for file in &self.files {
            if let Some(seen) = through_root(file) {
                own.add_file(&seen);
            }
        }
        for (folder, prefix) in &self.name_prefixes {
            if let Some(seen) = through_root(folder) {
                let entry = (seen, prefix.clone());
                if !own.name_prefixes.contains(&entry) {
                    own.name_prefixes.push(entry);
                }
            }
        }
        own
    }

    /// The union of [`OwnFiles::for_root`] over several roots.
    pub fn for_roots(&self, roots: &[PathBuf]) -> OwnFiles {
        let mut own = self.clone();
        for root in roots {
            let seen = self.for_root(root);
            for folder in &seen.folders {
                own.add_folder(folder);
            }
            for file in &seen.files {
                own.add_file(file);
            }
            for entry in seen.name_prefixes {
                if !own.name_prefixes.contains(&entry) {
                    own.name_prefixes.push(entry);
                }
            }
        }
        own
    }
}

fn push_unique(list: &mut Vec<PathBuf>, path: PathBuf) {
    if !list.iter().any(|p| p == &path) {
        list.push(path);
    }
}

/// `path` with symlinks resolved; for a path that does not exist yet, its parent resolved.
fn real_path(path: &Path) -> Option<PathBuf> {
    std::fs::canonicalize(path).ok().or_else(|| {
        let parent = std::fs::canonicalize(path.parent()?).ok()?;
        Some(parent.join(path.file_name()?))
    })
}

#[cfg(test)]
mod tests {
    use super::{is_ignored, OwnFiles};
    use std::path::Path;

    fn own_home(home: &Path) -> OwnFiles {
        let mut own = OwnFiles::default();
        own.add_folder(&home.join("index"));
        own.add_folder(&home.join("state"));
        own.add_file_and_siblings(&home.join("alerts.jsonl"));
        own.add_file(&home.join("config.toml"));
        own.add_file(&home.join("queries.tsv"));
        own
    }

    #[test]
    fn own_files_are_the_index_state_alert_log_beside_it_and_config() {
        let home = Path::new("/srv/lookout");
        let own = own_home(home);
        for path in [
            "index/meta.json",
            "index/sub/x.json",
            "state/dead-letter.jsonl",
            "state/webhooks/a.cursor",
            "alerts.jsonl",
            "alerts.jsonl.1",
            "alerts.jsonl-20250101.gz",
            "config.toml",
            "queries.tsv",
            "./index/meta.json",
        ] {
            assert!(own.contains(&home.join(path)), "{path} is lookout's");
        }
        for path in [
            "article.json",
            "indexes.json",
            "index.json",
            "sub/alerts.jsonl",
            "my-alerts.jsonl",
            "sub/config.toml",
            "statement.txt",
        ] {
            assert!(!own.contains(&home.join(path)), "{path} is an article");
        }
    }

    #[test]
    fn own_files_are_recognized_through_a_symlinked_root() {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = dir.path().join("home");
        std::fs::create_dir_all(home.join("index")).expect("mkdir");
        std::fs::write(home.join("alerts.jsonl"), "").expect("write");
        let link = dir.path().join("inbox");
        std::os::unix::fs::symlink(&home, &link).expect("symlink");
        let own = own_home(&home).for_roots(std::slice::from_ref(&link));
        assert!(own.contains(&link.join("index/meta.json")));
        assert!(own.contains(&link.join("alerts.jsonl.1")));
        assert!(own.contains(&link.join("config.toml")));
        assert!(!own.contains(&link.join("article.txt")));
    }

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

    /// How `engine::collect_files` uses it: `filter_entry` with absolute paths, under a
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
