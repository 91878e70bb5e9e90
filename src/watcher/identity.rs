//! Owns `FolderIdentity`: which folder a path names right now (its device and inode), so that a
//! watch folder replaced by another one (renamed away and re-created, or a share unmounted from
//! its mount point) is told apart from the folder that was watched.

use std::fs;
use std::io;
use std::path::Path;

/// A folder's device and inode number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FolderIdentity {
    pub device: u64,
    pub inode: u64,
}

impl FolderIdentity {
    /// The identity in `meta` (where the platform has none, every folder looks the same).
    pub fn of(meta: &fs::Metadata) -> FolderIdentity {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            FolderIdentity {
                device: meta.dev(),
                inode: meta.ino(),
            }
        }
        #[cfg(not(unix))]
        {
            let _ = meta;
            FolderIdentity {
                device: 0,
                inode: 0,
            }
        }
    }

    /// The identity of the folder `path` names (symlinks followed). `Ok(None)` when nothing
    /// is there or it is not a folder.
    pub fn of_folder(path: &Path) -> io::Result<Option<FolderIdentity>> {
        match fs::metadata(path) {
            Ok(meta) if meta.is_dir() => Ok(Some(FolderIdentity::of(&meta))),
            Ok(_) => Ok(None),
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                ) =>
            {
                Ok(None)
            }
            Err(error) => Err(error),
        }
    }

    /// `device:inode`, as the ledger stores it.
    pub fn to_text(self) -> String {
        format!("{}:{}", self.device, self.inode)
    }

    /// The inverse of [`FolderIdentity::to_text`].
    pub fn parse(text: &str) -> Option<FolderIdentity> {
        let (device, inode) = text.split_once(':')?;
        Some(FolderIdentity {
            device: device.parse().ok()?,
            inode: inode.parse().ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recreated_folder_has_another_identity() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("inbox");
        fs::create_dir(&folder).unwrap();
        let first = FolderIdentity::of_folder(&folder).unwrap().unwrap();
        assert_eq!(FolderIdentity::parse(&first.to_text()), Some(first));
        fs::rename(&folder, dir.path().join("away")).unwrap();
        assert_eq!(FolderIdentity::of_folder(&folder).unwrap(), None);
        fs::create_dir(&folder).unwrap();
        let second = FolderIdentity::of_folder(&folder).unwrap().unwrap();
        assert_ne!(first, second);
        fs::write(folder.join("f"), "x").unwrap();
        assert_eq!(FolderIdentity::of_folder(&folder.join("f")).unwrap(), None);
        assert_eq!(FolderIdentity::parse("nope"), None);
    }
}
