//! Reading the alert log for delivery: complete lines from a byte offset, each with the offset
//! just past its newline; which file is being read (`LogIdentity`), so that a cursor is never
//! applied to another file; rotation by rename and truncation in place while following.

use std::fs::{File, Metadata};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::alerts::log::{file_id, rotated};
use crate::alerts::AlertLogError;

/// Which file a byte offset belongs to: the device and inode (where the platform has them) and a
/// hash of the file's first line. A log replaced by another file (rotation, a restore, `rm` and a
/// fresh start) has another inode or another first line, so an old offset is not applied to it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LogIdentity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ino: Option<u64>,
    /// blake3 (hex, 128 bits) of the first line, newline included; `None` while the file has no
    /// complete line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_line: Option<String>,
}

impl LogIdentity {
    fn of(meta: &Metadata) -> LogIdentity {
        let (dev, ino) = match file_id(meta) {
            Some((dev, ino)) => (Some(dev), Some(ino)),
            None => (None, None),
        };
        LogIdentity {
            dev,
            ino,
            first_line: None,
        }
    }

    fn same_file(&self, other: &LogIdentity) -> bool {
        match (self.dev, self.ino, other.dev, other.ino) {
            (Some(d1), Some(i1), Some(d2), Some(i2)) => (d1, i1) == (d2, i2),
            _ => true,
        }
    }
}

/// The hash recorded in [`LogIdentity::first_line`].
fn first_line_hash(line: &[u8]) -> String {
    let hash = blake3::hash(line);
    hash.to_hex()[..32].to_owned()
}

/// One complete line of the log.
#[derive(Debug, Clone)]
pub(crate) struct Line {
    /// Offset of its first byte.
    pub start: u64,
    /// Offset just past its newline: the cursor once this line is settled.
    pub end: u64,
    /// The line without its newline.
    pub bytes: Vec<u8>,
}

/// What one read gave.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    /// The source moved to another file (rotation) or back to the start of a truncated one:
    /// the lines below are at offsets of `identity`'s file, from 0.
    pub reset: bool,
    /// The file the lines are from.
    pub identity: LogIdentity,
    /// That file's length when the lines were read (0 when there is no log).
    pub len: u64,
    pub lines: Vec<Line>,
}

/// A reader of the alert log that keeps its file open across reads, so that after a rotation
/// by rename it finishes the old file before it moves to the new one.
#[derive(Debug)]
pub(crate) struct LogSource {
    path: PathBuf,
    file: Option<File>,
    identity: LogIdentity,
    /// Start of the next line to read.
    offset: u64,
    /// Follow a rotation or a truncation (delivery) or stop at them (replay).
    follow: bool,
}

impl LogSource {
    /// A source reading `path` from its start; the file is opened on the first read.
    pub(crate) fn new(path: &Path, follow: bool) -> LogSource {
        LogSource {
            path: path.to_path_buf(),
            file: None,
            identity: LogIdentity::default(),
            offset: 0,
            follow,
        }
    }

    /// A source for resuming at `offset` of the file `identity` describes, if the log at `path`
    /// is still that file and `offset` is the start of one of its lines; otherwise, from the
    /// start of the current log, with the reason why. Blocking.
    pub(crate) fn resume(
        path: &Path,
        offset: u64,
        identity: LogIdentity,
    ) -> Result<(LogSource, Option<String>), AlertLogError> {
        if offset == 0 {
            return Ok((LogSource::new(path, true), None));
        }
        let restart = |reason: String| Ok((LogSource::new(path, true), Some(reason)));
        let mut file = match File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return restart("the alert log does not exist (any more)".into())
            }
            Err(e) => return Err(AlertLogError::io(path, "open", e)),
        };
        let io_err = |e| AlertLogError::io(path, "read", e);
        let meta = file.metadata().map_err(io_err)?;
        let mut current = LogIdentity::of(&meta);
        if !identity.same_file(&current) {
            return restart("the alert log is another file now (other inode)".into());
        }
        if meta.len() < offset {
            return restart(format!(
                "the alert log is shorter ({} bytes) than the cursor ({offset})",
                meta.len()
            ));
        }
        let mut first = Vec::new();
        BufReader::new(&mut file)
            .take(offset)
            .read_until(b'\n', &mut first)
            .map_err(io_err)?;
        if first.last() != Some(&b'\n') {
            return restart("the alert log's first line does not end before the cursor".into());
        }
        current.first_line = Some(first_line_hash(&first));
        if identity.first_line.is_some() && identity.first_line != current.first_line {
            return restart("the alert log starts with another line now".into());
        }
        let mut before = [0u8; 1];
        file.seek(SeekFrom::Start(offset - 1)).map_err(io_err)?;
        file.read_exact(&mut before).map_err(io_err)?;
        if before[0] != b'\n' {
            return restart(format!(
                "the cursor ({offset}) is not at the start of a line"
            ));
        }
        Ok((
            LogSource {
                path: path.to_path_buf(),
                file: Some(file),
                identity: current,
                offset,
                follow: true,
            },
            None,
        ))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The file being read and the offset of its next line.
    pub(crate) fn position(&self) -> (u64, &LogIdentity) {
        (self.offset, &self.identity)
    }

    /// Up to `max_lines` complete lines (and about `max_bytes`) from the current offset. A final
    /// line without its newline is left for a later read. When the open file has nothing new and
    /// `path` now names another file (rotation by rename), moves to it (when following). Blocking.
    pub(crate) fn next_batch(
        &mut self,
        max_lines: usize,
        max_bytes: usize,
    ) -> Result<Batch, AlertLogError> {
        let mut batch = Batch::default();
        if self.file.is_none() && !self.open_current()? {
            batch.identity = self.identity.clone();
            return Ok(batch);
        }
        let len = self.open_len()?;
        batch.len = len;
        if len < self.offset {
            if !self.follow {
                batch.identity = self.identity.clone();
                return Ok(batch);
            }
            tracing::warn!(
                path = %self.path.display(),
                offset = self.offset,
                len,
                "alert log is shorter than the delivery cursor (truncated?); delivering it from the start"
            );
            self.offset = 0;
            self.identity.first_line = None;
            batch.reset = true;
        }
        self.read_lines(&mut batch, max_lines, max_bytes)?;
        if batch.lines.is_empty() && self.follow && self.rotated()? {
            tracing::info!(
                path = %self.path.display(),
                "alert log was rotated; delivering from the start of the new file"
            );
            if self.open_len()? > self.offset {
                tracing::warn!(
                    path = %self.path.display(),
                    "the rotated alert log ended in an unfinished line; it is not delivered"
                );
            }
            self.file = None;
            self.offset = 0;
            if self.open_current()? {
                batch.reset = true;
                self.read_lines(&mut batch, max_lines, max_bytes)?;
            }
        }
        batch.identity = self.identity.clone();
        Ok(batch)
    }

    fn open_len(&self) -> Result<u64, AlertLogError> {
        match &self.file {
            None => Ok(0),
            Some(file) => file
                .metadata()
                .map(|m| m.len())
                .map_err(|e| AlertLogError::io(&self.path, "read", e)),
        }
    }

    /// Open the file at `path` if it exists; true if it is now open. A newly opened file is read
    /// from its start.
    fn open_current(&mut self) -> Result<bool, AlertLogError> {
        match File::open(&self.path) {
            Ok(file) => {
                let meta = file
                    .metadata()
                    .map_err(|e| AlertLogError::io(&self.path, "read", e))?;
                self.identity = LogIdentity::of(&meta);
                self.offset = 0;
                self.file = Some(file);
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(AlertLogError::io(&self.path, "open", e)),
        }
    }

    fn read_lines(
        &mut self,
        batch: &mut Batch,
        max_lines: usize,
        max_bytes: usize,
    ) -> Result<(), AlertLogError> {
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        let io_err = |e| AlertLogError::io(&self.path, "read", e);
        let len = file.metadata().map_err(io_err)?.len();
        batch.len = len;
        if len <= self.offset {
            return Ok(());
        }
        file.seek(SeekFrom::Start(self.offset)).map_err(io_err)?;
        let mut reader = BufReader::new(Read::take(&mut *file, len - self.offset));
        let mut bytes_read = 0;
        while batch.lines.len() < max_lines && bytes_read < max_bytes {
            let mut buf = Vec::new();
            let n = reader.read_until(b'\n', &mut buf).map_err(io_err)?;
            if n == 0 || buf.last() != Some(&b'\n') {
                // End of file, or a line still being written.
                break;
            }
            if self.offset == 0 {
                self.identity.first_line = Some(first_line_hash(&buf));
            }
            let start = self.offset;
            self.offset += n as u64;
            bytes_read += n;
            buf.pop();
            batch.lines.push(Line {
                start,
                end: self.offset,
                bytes: buf,
            });
        }
        Ok(())
    }

    /// True when `path` now names a different file than the one open.
    fn rotated(&self) -> Result<bool, AlertLogError> {
        match self.file.as_ref() {
            Some(file) => rotated(&self.path, file, self.offset),
            None => Ok(false),
        }
    }
}
