//! The files named on the command line (`ingest`, `match`): files as given, folders walked
//! recursively in name order, hidden and temporary names skipped (as the watcher does). Each
//! file's path is the folder argument joined with the path below it, as grep prints it. A path
//! that does not exist, or a folder that cannot be read, is a problem reported by name; the
//! other files are still taken.

use std::path::{Path, PathBuf};

/// A path of the command line that could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{}: {source}", path.display())]
    Missing {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: cannot read: {source}", path.display())]
    Walk {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The files under the paths, and what could not be read.
#[derive(Debug, Default)]
pub struct Inputs {
    pub files: Vec<PathBuf>,
    pub problems: Vec<InputError>,
}

pub fn collect(paths: &[PathBuf]) -> Inputs {
    let mut inputs = Inputs::default();
    for path in paths {
        match std::fs::metadata(path) {
            Err(source) => inputs.problems.push(InputError::Missing {
                path: path.clone(),
                source,
            }),
            Ok(meta) if meta.is_dir() => walk(path, &mut inputs),
            Ok(_) => inputs.files.push(path.clone()),
        }
    }
    inputs
}

fn walk(root: &Path, inputs: &mut Inputs) {
    let entries = walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !crate::watcher::is_ignored(Path::new(e.file_name())));
    for entry in entries {
        match entry {
            Ok(entry) if entry.file_type().is_file() => inputs.files.push(entry.into_path()),
            Ok(_) => {}
            Err(error) => {
                let path = error
                    .path()
                    .map_or_else(|| root.to_path_buf(), Path::to_path_buf);
                let text = error.to_string();
                let source = error
                    .into_io_error()
                    .unwrap_or_else(|| std::io::Error::other(text));
                inputs.problems.push(InputError::Walk { path, source });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_are_walked_and_paths_keep_the_argument() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("in");
        std::fs::create_dir_all(root.join("b/.git")).unwrap();
        std::fs::create_dir_all(root.join("a")).unwrap();
        for name in ["a/x.txt", "b/x.txt", "b/.git/config", "b/y.part", "top.md"] {
            std::fs::write(root.join(name), "x").unwrap();
        }
        let inputs = collect(&[root.clone(), dir.path().join("nope.txt")]);
        assert_eq!(
            inputs.files,
            vec![
                root.join("a/x.txt"),
                root.join("b/x.txt"),
                root.join("top.md")
            ]
        );
        assert_eq!(inputs.problems.len(), 1);
        let problem = inputs.problems[0].to_string();
        assert!(
            problem.contains("nope.txt") && problem.contains("No such file"),
            "{problem}"
        );
    }
}
