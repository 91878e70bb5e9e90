//! The one way lookout replaces a file atomically: a hidden temporary file in the same folder
//! (tempfile's `NamedTempFile`, so the rename never crosses filesystems), written whole, fsynced,
//! renamed over the file (`persist`), then the folder fsynced so that the rename itself survives
//! a power loss. A reader of the path sees the old content or the new, never a part. Used for
//! saved-query files, webhook cursors and disabled markers, and the API's address file.

use std::fs::{self, File, Permissions};
use std::io::{self, Write};
use std::path::Path;

/// How much of a crash a replaced file must survive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// A power loss: the file and its folder are fsynced.
    PowerLoss,
    /// A crash of the process only: the rename is atomic but nothing is fsynced (for files
    /// rewritten very often whose loss costs little, such as a webhook cursor between flushes).
    ProcessCrash,
}

/// Replace `path` with `contents`, atomically (see the module's comment). An existing file's
/// permissions (and, where allowed, owner) carry over; a new file gets the process's default
/// permissions (umask applied), as `File::create` would give it.
pub fn write(path: &Path, contents: &[u8], durability: Durability) -> io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?;
    let existing = fs::metadata(path).ok();
    let prefix = format!(".{}.", name.to_string_lossy());
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // As `File::create`: the mode is masked by the umask when the file is created
        // (tempfile's own default is private, 0600).
        builder.permissions(Permissions::from_mode(0o666));
    }
    let mut temp = builder.tempfile_in(dir)?;
    if let Some(meta) = &existing {
        // Before any byte is written: a private file stays private.
        temp.as_file().set_permissions(meta.permissions())?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            // Best effort: only root may give a file away.
            let _ = std::os::unix::fs::fchown(temp.as_file(), Some(meta.uid()), Some(meta.gid()));
        }
    }
    temp.write_all(contents)?;
    if durability == Durability::PowerLoss {
        temp.as_file().sync_all()?;
    }
    // On failure the temporary file is removed when the error's `NamedTempFile` drops.
    temp.persist(path).map_err(|e| e.error)?;
    if durability == Durability::PowerLoss {
        sync_dir(dir)?;
    }
    Ok(())
}

/// Make a rename in `dir` durable.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leftovers(dir: &Path) -> Vec<String> {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect()
    }

    #[test]
    fn replaces_whole_files_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cursor");
        write(&path, b"one\n", Durability::PowerLoss).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"one\n");
        write(&path, b"two\n", Durability::ProcessCrash).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two\n");
        assert!(leftovers(dir.path()).is_empty());
    }

    #[cfg(unix)]
    #[test]
    fn permissions_carry_over_and_new_files_get_the_default() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let private = dir.path().join("private.toml");
        fs::write(&private, "a").unwrap();
        fs::set_permissions(&private, Permissions::from_mode(0o600)).unwrap();
        write(&private, b"b", Durability::PowerLoss).unwrap();
        let mode = fs::metadata(&private).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);

        let created = dir.path().join("new.toml");
        write(&created, b"c", Durability::PowerLoss).unwrap();
        let reference = dir.path().join("reference");
        File::create(&reference).unwrap();
        let want = fs::metadata(&reference).unwrap().permissions().mode() & 0o777;
        let got = fs::metadata(&created).unwrap().permissions().mode() & 0o777;
        assert_eq!(got, want, "as File::create would make it");
    }

    #[test]
    fn a_missing_folder_is_an_error_and_nothing_is_left() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent").join("file");
        assert!(write(&path, b"x", Durability::PowerLoss).is_err());
        assert!(!path.exists());
    }
}
