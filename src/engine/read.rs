//! Reading one file from disk, and what can go wrong while doing it (`ReadError`), kept apart
//! from what a file's bytes say (`extract::ExtractError`): a file that cannot be read *now*
//! (permissions, too many open files, an I/O error on a flaky share, a folder on its path that
//! cannot be searched for a moment) may well be read later, so it is retried, never
//! quarantined; only a definite "not found" of the file itself means it is gone.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use crate::extract::{self, ExtractError, Extraction};

/// Why a file's bytes could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file is not there (deleted or renamed away before it was read, or a folder on its
    /// path is gone).
    #[error("not found")]
    NotFound,
    /// The path names a folder, a fifo, a device...: lookout reads regular files only.
    #[error("not a regular file")]
    NotAFile,
    /// Larger than `max_file_size`: judged again when the limit changes.
    #[error("too large: {size} bytes (max_file_size is {limit} bytes)")]
    TooLarge { size: u64, limit: u64 },
    /// The operating system refused or failed the read; the cause may go away while the file
    /// stays the same, so the read is retried.
    #[error("cannot read: {0}")]
    Io(#[source] io::Error),
}

impl ReadError {
    /// An I/O error as it concerns the file being read: "not found" (`ENOENT`, `ENOTDIR`)
    /// means it is gone; anything else is a failure to read it now.
    fn from_io(error: io::Error) -> ReadError {
        match error.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => ReadError::NotFound,
            _ => ReadError::Io(error),
        }
    }

    /// True when trying again later may succeed with the same bytes on disk: an I/O error.
    /// (A file too large waits for the limit to change instead; see `Command::SetFileRules`.)
    pub fn is_transient(&self) -> bool {
        matches!(self, ReadError::Io(_))
    }
}

/// Why a file yielded no documents: it could not be read, or its bytes are not an article, or
/// processing it met a bug. A skipped file is quarantined with this reason (its text is what
/// `lookout status` shows) and reported once per content and reason.
#[derive(Debug, thiserror::Error)]
pub enum SkipReason {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Extract(#[from] ExtractError),
    /// Processing it met a bug (a panic the caller contained); `panic` says which.
    #[error("internal error (a bug in lookout): {panic}")]
    Bug { panic: String },
}

/// The name `read_documents`' callers know the reason by.
pub type FileError = SkipReason;

/// Read a regular file of at most `max_file_size` bytes. The size is checked on the open file
/// and the read stops one byte past the limit, so a file that grows meanwhile never makes this
/// read more than the limit.
pub fn read_bytes(path: &Path, max_file_size: u64) -> Result<Vec<u8>, ReadError> {
    let mut file = File::open(path).map_err(ReadError::from_io)?;
    let metadata = file.metadata().map_err(ReadError::from_io)?;
    if !metadata.is_file() {
        return Err(ReadError::NotAFile);
    }
    if metadata.len() > max_file_size {
        return Err(ReadError::TooLarge {
            size: metadata.len(),
            limit: max_file_size,
        });
    }
    let capacity = usize::try_from(metadata.len()).unwrap_or(0);
    let mut bytes = Vec::with_capacity(capacity);
    (&mut file)
        .take(max_file_size.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(ReadError::from_io)?;
    let read = bytes.len() as u64;
    if read > max_file_size {
        return Err(ReadError::TooLarge {
            size: read,
            limit: max_file_size,
        });
    }
    Ok(bytes)
}

/// Read and extract a file with the default reading options.
pub fn read_documents(path: &Path, max_file_size: u64) -> Result<Extraction, FileError> {
    let bytes = read_bytes(path, max_file_size)?;
    Ok(extract::extract(path, &bytes)?)
}

/// Whether `path` is definitely gone: `lstat` says "not found". Any other failure (a folder on
/// the path that cannot be searched, an I/O error) is not proof that the file is gone.
pub fn is_gone(path: &Path) -> bool {
    match std::fs::symlink_metadata(path) {
        Ok(_) => false,
        Err(error) => matches!(
            error.kind(),
            io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn only_not_found_means_gone_every_other_io_error_is_retried() {
        for errno in [libc_errno::ENOENT, libc_errno::ENOTDIR] {
            let error = ReadError::from_io(io::Error::from_raw_os_error(errno));
            assert!(matches!(error, ReadError::NotFound), "{errno}: {error:?}");
            assert!(!error.is_transient());
        }
        for errno in [
            libc_errno::EACCES,
            libc_errno::EPERM,
            libc_errno::EMFILE,
            libc_errno::ENFILE,
            libc_errno::EIO,
            libc_errno::ESTALE,
            libc_errno::ENOMEM,
            libc_errno::EAGAIN,
            libc_errno::EINTR,
            libc_errno::ENOTCONN,
        ] {
            let error = ReadError::from_io(io::Error::from_raw_os_error(errno));
            assert!(error.is_transient(), "{errno}: {error:?}");
            assert!(error.to_string().starts_with("cannot read: "), "{error}");
        }
        assert!(!ReadError::TooLarge { size: 2, limit: 1 }.is_transient());
        assert!(!ReadError::NotAFile.is_transient());
    }

    #[test]
    fn reads_whole_files_and_refuses_what_is_too_large_or_not_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        std::fs::write(&path, b"12345").unwrap();
        assert_eq!(read_bytes(&path, 5).unwrap(), b"12345");
        let error = read_bytes(&path, 4).unwrap_err();
        assert_eq!(
            error.to_string(),
            "too large: 5 bytes (max_file_size is 4 bytes)"
        );
        assert!(matches!(
            read_bytes(dir.path(), 100),
            Err(ReadError::NotAFile)
        ));
        assert!(matches!(
            read_bytes(&dir.path().join("missing.txt"), 100),
            Err(ReadError::NotFound)
        ));
        assert!(matches!(
            read_bytes(&path.join("below-a-file.txt"), 100),
            Err(ReadError::NotFound)
        ));
        assert!(is_gone(&dir.path().join("missing.txt")));
        assert!(is_gone(&path.join("below-a-file.txt")));
        assert!(!is_gone(&path));
    }
}

/// The errno values the tests name (Linux numbering; the tests only build errors from them).
#[cfg(all(test, target_os = "linux"))]
mod libc_errno {
    pub const EPERM: i32 = 1;
    pub const ENOENT: i32 = 2;
    pub const EINTR: i32 = 4;
    pub const EIO: i32 = 5;
    pub const EAGAIN: i32 = 11;
    pub const ENOMEM: i32 = 12;
    pub const EACCES: i32 = 13;
    pub const ENOTDIR: i32 = 20;
    pub const ENFILE: i32 = 23;
    pub const EMFILE: i32 = 24;
    pub const ENOTCONN: i32 = 107;
    pub const ESTALE: i32 = 116;
}
