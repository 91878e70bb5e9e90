//! The alert log: a JSON Lines file, one `Alert` per line, the source of truth for alerts.
//! Owns appending (`AlertLog`, which repairs a torn last line on open), reading back
//! (`read_alerts`, `AlertLogReader`) and tailing (`follow`, `AlertFollower`, used by
//! `lookout alerts --follow`).
//!
//! The log assumes one writer process at a time (the daemon); readers and followers may run
//! alongside it and simply ignore a final line that is still being written. The writer checks
//! before every append that its path still names the file it holds open: a log renamed away
//! (rotation by rename) or deleted is made durable and a new file is started at the path, so
//! readers of the path (`lookout alerts`, `GET /alerts`) never lose sight of new alerts.

use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::alerts::error::AlertLogError;
use crate::alerts::record::Alert;

/// A torn last line up to this size is checked on open: if it is a complete alert that only
/// lacks its newline, the newline is added instead of the line being dropped.
const SALVAGE_MAX_BYTES: u64 = 64 * 1024;

/// The alert log opened for appending.
#[derive(Debug)]
pub struct AlertLog {
    path: PathBuf,
    file: File,
    /// Length of the file after the last successful append (the writer is the only one).
    len: u64,
    /// Device and inode of the open file, to notice that the path names another file.
    id: Option<(u64, u64)>,
    /// The lines of a batch, kept between batches (a fresh buffer each time costs page
    /// faults).
    lines: Vec<u8>,
}

impl AlertLog {
    /// Open (creating it and its parent folders if needed) the log at `path` for appending.
    /// A torn last line (no trailing newline, e.g. after a crash mid-write) is removed, with a
    /// warning, so every line in the file is complete; if that line is in fact a whole alert
    /// missing only its newline, the newline is added instead.
    pub fn open(path: &Path) -> Result<AlertLog, AlertLogError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent)
                .map_err(|e| AlertLogError::io(path, "create its parent folder", e))?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(|e| AlertLogError::io(path, "open", e))?;
        let len = repair_torn_tail(path, &mut file)?;
        let id = file.metadata().ok().as_ref().and_then(file_id);
        Ok(AlertLog {
            path: path.to_path_buf(),
            file,
            len,
            id,
            lines: Vec::new(),
        })
    }

    /// If the path no longer names the open file (renamed away or deleted), make what was
    /// written to the old file durable and start a new file at the path. A failed look at the
    /// path keeps the open file (the next append looks again).
    fn follow_path(&mut self) -> Result<(), AlertLogError> {
        let current = match fs::metadata(&self.path) {
            Ok(meta) => file_id(&meta),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(_) => return Ok(()),
        };
        if self.id.is_none() || current == self.id {
            return Ok(());
        }
        self.sync()?;
        let reopened = AlertLog::open(&self.path)?;
        tracing::warn!(
            path = %self.path.display(),
            "the alert log was moved away or deleted while lookout wrote to it: the alerts \
             written so far stay in the old file; new alerts go to a new file at this path"
        );
        *self = reopened;
        Ok(())
    }

    /// The file this log writes to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append one alert as a line: the line and its newline go out in one `write_all` on the
    /// append-mode file, then `flush`. Not durable until [`AlertLog::sync`].
    /// If the write fails part-way, the partial line is cut off again (best effort).
    pub fn append(&mut self, alert: &Alert) -> Result<(), AlertLogError> {
        self.append_all(std::slice::from_ref(alert))
    }

    /// Append alerts as lines, in order: the path is checked once, then every line and its
    /// newline go out in one `write_all` (the alerts of one document cost one write, not one
    /// each). Not durable until [`AlertLog::sync`]. If the write fails part-way, what it
    /// wrote is cut off again (best effort), so none of these alerts is in the log.
    pub fn append_all(&mut self, alerts: &[Alert]) -> Result<(), AlertLogError> {
        if alerts.is_empty() {
            return Ok(());
        }
        self.follow_path()?;
        let mut lines = std::mem::take(&mut self.lines);
        lines.clear();
        super::record::write_json_lines(alerts, &mut lines);
        let written = self.file.write_all(&lines).and_then(|()| self.file.flush());
        let length = lines.len() as u64;
        // A batch far larger than usual does not keep its memory.
        if lines.capacity() <= 1 << 20 {
            self.lines = lines;
        }
        if let Err(err) = written {
            if let Err(undo) = self.file.set_len(self.len) {
                tracing::warn!(
                    path = %self.path.display(),
                    error = %undo,
                    "cannot remove a partly written alert line; it is repaired on next open"
                );
            }
            return Err(AlertLogError::io(&self.path, "append to", err));
        }
        self.len += length;
        Ok(())
    }

    /// Make the appended lines durable (`sync_data`). Call after a batch of appends.
    pub fn sync(&mut self) -> Result<(), AlertLogError> {
        self.file
            .sync_data()
            .map_err(|e| AlertLogError::io(&self.path, "sync", e))
    }

    /// A handle that makes what was appended so far durable, from another thread (a commit's):
    /// the open file, shared.
    pub fn sync_handle(&self) -> Result<AlertLogSync, AlertLogError> {
        Ok(AlertLogSync {
            file: self
                .file
                .try_clone()
                .map_err(|e| AlertLogError::io(&self.path, "share", e))?,
            path: self.path.clone(),
        })
    }
}

/// See [`AlertLog::sync_handle`].
pub struct AlertLogSync {
    file: File,
    path: PathBuf,
}

impl AlertLogSync {
    pub fn sync(self) -> Result<(), AlertLogError> {
        self.file
            .sync_data()
            .map_err(|e| AlertLogError::io(&self.path, "sync", e))
    }
}

/// Make the file end in a newline (or be empty); returns its new length.
fn repair_torn_tail(path: &Path, file: &mut File) -> Result<u64, AlertLogError> {
    let io_err = |e| AlertLogError::io(path, "repair the last line of", e);
    let len = file.metadata().map_err(io_err)?.len();
    let keep = match last_newline(file, len).map_err(io_err)? {
        Some(pos) => pos + 1,
        None => 0,
    };
    if keep == len {
        return Ok(len);
    }
    let torn = len - keep;
    if torn <= SALVAGE_MAX_BYTES {
        let mut tail = Vec::with_capacity(torn as usize);
        file.seek(SeekFrom::Start(keep)).map_err(io_err)?;
        Read::take(&mut *file, torn)
            .read_to_end(&mut tail)
            .map_err(io_err)?;
        if serde_json::from_slice::<Alert>(&tail).is_ok() {
            file.write_all(b"\n").map_err(io_err)?;
            tracing::warn!(
                path = %path.display(),
                "alert log's last alert lacked its newline (crash during a write?); completed it"
            );
            return Ok(len + 1);
        }
    }
    file.set_len(keep).map_err(io_err)?;
    tracing::warn!(
        path = %path.display(),
        removed_bytes = torn,
        "alert log ended in a torn line (crash during a write?); removed it"
    );
    Ok(keep)
}

/// Position of the last `\n` among the first `len` bytes of `file`, scanning backwards.
fn last_newline(file: &mut File, len: u64) -> io::Result<Option<u64>> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut end = len;
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let chunk = &mut buf[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(chunk)?;
        if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
            return Ok(Some(start + i as u64));
        }
        end = start;
    }
    Ok(None)
}

/// A time filter for reading the log: RFC 3339 (`2026-11-29T10:00:00Z`) or a date (midnight
/// UTC).
pub fn parse_since(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&chrono::Utc));
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|dt| dt.and_utc())
        .ok_or_else(|| {
            format!(
                "expected a time like 2026-11-29T10:00:00Z or a date like 2026-11-29, got '{text}'"
            )
        })
}

/// Every alert in the log at `path`, in order. A missing file reads as empty; a torn final line
/// is skipped; the first corrupt line is an error naming its line number.
pub fn read_alerts(path: &Path) -> Result<Vec<Alert>, AlertLogError> {
    AlertLogReader::open(path)?.collect()
}

/// Reads the alert log line by line, yielding one `Result<Alert, _>` per line.
///
/// A corrupt line yields a `AlertLogError::CorruptLine` naming its 1-based line number, and reading
/// goes on with the next line. Blank lines are skipped. A final line without its newline (torn,
/// or still being written) is skipped silently and ends the iteration.
#[derive(Debug)]
pub struct AlertLogReader {
    path: PathBuf,
    reader: Option<BufReader<File>>,
    line: u64,
    offset: u64,
    buf: Vec<u8>,
}

impl AlertLogReader {
    /// Open the log at `path`; a missing file gives a reader that yields nothing.
    pub fn open(path: &Path) -> Result<AlertLogReader, AlertLogError> {
        let reader = match File::open(path) {
            Ok(file) => Some(BufReader::new(file)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(AlertLogError::io(path, "open", e)),
        };
        Ok(AlertLogReader {
            path: path.to_path_buf(),
            reader,
            line: 0,
            offset: 0,
            buf: Vec::new(),
        })
    }

    /// Byte offset just past the last complete line read so far: pass it to [`follow`] to tail
    /// the log from where this reader stopped.
    pub fn offset(&self) -> u64 {
        self.offset
    }
}

impl Iterator for AlertLogReader {
    type Item = Result<Alert, AlertLogError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let reader = self.reader.as_mut()?;
            self.buf.clear();
            match reader.read_until(b'\n', &mut self.buf) {
                Err(e) => {
                    self.reader = None;
                    return Some(Err(AlertLogError::io(&self.path, "read", e)));
                }
                Ok(0) => {
                    self.reader = None;
                    return None;
                }
                Ok(n) => {
                    if self.buf.last() != Some(&b'\n') {
                        tracing::debug!(
                            path = %self.path.display(),
                            bytes = n,
                            "skipping the torn or unfinished last line of the alert log"
                        );
                        self.reader = None;
                        return None;
                    }
                    self.line += 1;
                    self.offset += n as u64;
                    let text = self.buf.trim_ascii();
                    if text.is_empty() {
                        continue;
                    }
                    return Some(serde_json::from_slice(text).map_err(|source| {
                        AlertLogError::CorruptLine {
                            path: self.path.clone(),
                            line: self.line,
                            source,
                        }
                    }));
                }
            }
        }
    }
}

/// Read the alert log at `path` backwards, newest first, from byte `before` (the whole log
/// when `None`): each alert with the byte offset where its line starts (pass it as `before` to
/// go on with older alerts). Reads in chunks from the end, so the cost is that of the alerts
/// read, not of the log's size. A final line without its newline is skipped; corrupt lines are
/// logged and skipped. A missing file reads as empty.
pub fn read_backwards(path: &Path, before: Option<u64>) -> Result<AlertsBackwards, AlertLogError> {
    let file = match File::open(path) {
        Ok(file) => Some(file),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(AlertLogError::io(path, "open", e)),
    };
    let len = match &file {
        Some(file) => file
            .metadata()
            .map_err(|e| AlertLogError::io(path, "inspect", e))?
            .len(),
        None => 0,
    };
    Ok(AlertsBackwards {
        path: path.to_path_buf(),
        file,
        pos: before.map_or(len, |b| b.min(len)),
        carry: Vec::new(),
        at_end: true,
        ready: Vec::new(),
    })
}

/// See [`read_backwards`].
#[derive(Debug)]
pub struct AlertsBackwards {
    path: PathBuf,
    file: Option<File>,
    /// Bytes before this offset are not read yet.
    pos: u64,
    /// The start of a line whose beginning lies before `pos`.
    carry: Vec<u8>,
    /// True until the first chunk: what follows the last newline there is an unfinished line.
    at_end: bool,
    /// Complete lines read, oldest first (popped from the back): (start offset, bytes).
    ready: Vec<(u64, Vec<u8>)>,
}

/// Bytes read at a time, backwards.
const BACKWARDS_CHUNK: u64 = 64 * 1024;

impl AlertsBackwards {
    /// Read the chunk before `pos` into `ready`. False when the start of the file was reached
    /// and nothing is left.
    fn fill(&mut self) -> Result<bool, AlertLogError> {
        let Some(file) = self.file.as_mut() else {
            return Ok(false);
        };
        if self.pos == 0 {
            return Ok(false);
        }
        let start = self.pos.saturating_sub(BACKWARDS_CHUNK);
        let mut chunk = vec![0; (self.pos - start) as usize];
        file.seek(SeekFrom::Start(start))
            .and_then(|_| file.read_exact(&mut chunk))
            .map_err(|e| AlertLogError::io(&self.path, "read", e))?;
        chunk.append(&mut self.carry);
        let mut data = chunk;
        if self.at_end {
            // Whatever follows the last newline is still being written (or torn).
            match data.iter().rposition(|&b| b == b'\n') {
                Some(last) => data.truncate(last + 1),
                None if start > 0 => {
                    self.pos = start;
                    self.carry = data;
                    return Ok(true);
                }
                None => return Ok(false),
            }
            self.at_end = false;
        }
        // data = [the end of a line that starts before `start`] (complete line \n)*; that first
        // part is carried to the next chunk (at the start of the file there is none).
        let carry_len = match data.iter().position(|&b| b == b'\n') {
            _ if start == 0 => 0,
            Some(i) => i + 1,
            None => data.len(),
        };
        let mut lines = Vec::new();
        let mut line_start = carry_len;
        for (i, &b) in data.iter().enumerate().skip(carry_len) {
            if b == b'\n' {
                lines.push((start + line_start as u64, data[line_start..=i].to_vec()));
                line_start = i + 1;
            }
        }
        self.carry = data[..carry_len].to_vec();
        self.pos = start;
        self.ready.extend(lines);
        Ok(true)
    }
}

impl Iterator for AlertsBackwards {
    type Item = Result<(u64, Alert), AlertLogError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            while let Some((offset, line)) = self.ready.pop() {
                let text = line.trim_ascii();
                if text.is_empty() {
                    continue;
                }
                match serde_json::from_slice::<Alert>(text) {
                    Ok(alert) => return Some(Ok((offset, alert))),
                    Err(err) => tracing::warn!(
                        path = %self.path.display(),
                        byte_offset = offset,
                        error = %err,
                        "skipping a corrupt line of the alert log"
                    ),
                }
            }
            match self.fill() {
                Ok(true) => continue,
                Ok(false) => return None,
                Err(e) => {
                    self.file = None;
                    return Some(Err(e));
                }
            }
        }
    }
}

/// Tail the alert log at `path` from byte `from_offset` (0 for the whole file, or
/// [`AlertLogReader::offset`] / the file's length to see only new alerts). `from_offset` should
/// be at a line boundary. Touches nothing until the first [`AlertFollower::poll`].
pub fn follow(path: &Path, from_offset: u64) -> AlertFollower {
    AlertFollower {
        path: path.to_path_buf(),
        file: None,
        offset: from_offset,
        pending: Vec::new(),
    }
}

/// A polling tail of the alert log; see [`follow`].
///
/// Copes with the file not existing yet, with truncation in place (the file shrinks below what
/// was read: start again from 0), and with rotation by rename (the path names a new file: the
/// old file is read to its end first, then the new one from 0). A partial last line stays
/// buffered until its newline arrives. Corrupt lines are logged (WARN, with their byte offset)
/// and skipped rather than ending the tail.
#[derive(Debug)]
pub struct AlertFollower {
    path: PathBuf,
    file: Option<File>,
    /// Bytes of the current file consumed into `pending` so far.
    offset: u64,
    /// Read bytes after the last complete line.
    pending: Vec<u8>,
}

impl AlertFollower {
    /// Alerts from the complete lines written since the last poll (possibly none).
    pub fn poll(&mut self) -> Result<Vec<Alert>, AlertLogError> {
        Ok(self
            .poll_positioned()?
            .into_iter()
            .map(|(_, alert)| alert)
            .collect())
    }

    /// Like [`AlertFollower::poll`], each alert with the byte offset just past its line in the
    /// file it was read from (where a follower resumes to see only the alerts after it).
    pub fn poll_positioned(&mut self) -> Result<Vec<(u64, Alert)>, AlertLogError> {
        let mut out = Vec::new();
        if self.file.is_none() && !self.open_current()? {
            return Ok(out);
        }
        self.drain(&mut out)?;
        if self.rotated()? {
            if !self.pending.is_empty() {
                tracing::warn!(
                    path = %self.path.display(),
                    bytes = self.pending.len(),
                    "alert log was rotated with an unfinished last line; dropping it"
                );
            }
            tracing::info!(path = %self.path.display(), "alert log was rotated; following the new file");
            self.file = None;
            self.offset = 0;
            self.pending.clear();
            if self.open_current()? {
                self.drain(&mut out)?;
            }
        }
        Ok(out)
    }

    /// Bytes of the current file consumed so far (complete lines plus the buffered partial one).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Open the file at `path` if it exists; true if it is now open.
    fn open_current(&mut self) -> Result<bool, AlertLogError> {
        match File::open(&self.path) {
            Ok(file) => {
                self.file = Some(file);
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(AlertLogError::io(&self.path, "open", e)),
        }
    }

    /// Read what the open file has past `offset` and turn complete lines into alerts.
    fn drain(&mut self, out: &mut Vec<(u64, Alert)>) -> Result<(), AlertLogError> {
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        let io_err = |e| AlertLogError::io(&self.path, "read", e);
        let len = file.metadata().map_err(io_err)?.len();
        if len < self.offset {
            tracing::info!(
                path = %self.path.display(),
                "alert log is shorter than what was read (truncated?); reading from the start"
            );
            self.offset = 0;
            self.pending.clear();
        }
        if len == self.offset {
            return Ok(());
        }
        file.seek(SeekFrom::Start(self.offset)).map_err(io_err)?;
        let read = Read::take(&mut *file, len - self.offset)
            .read_to_end(&mut self.pending)
            .map_err(io_err)?;
        self.offset += read as u64;

        // File offset of pending[0].
        let base = self.offset - self.pending.len() as u64;
        let mut start = 0;
        while let Some(i) = self.pending[start..].iter().position(|&b| b == b'\n') {
            let text = self.pending[start..start + i].trim_ascii();
            if !text.is_empty() {
                match serde_json::from_slice::<Alert>(text) {
                    Ok(alert) => out.push((base + (start + i + 1) as u64, alert)),
                    Err(err) => tracing::warn!(
                        path = %self.path.display(),
                        byte_offset = base + start as u64,
                        error = %err,
                        "skipping a corrupt line of the alert log"
                    ),
                }
            }
            start += i + 1;
        }
        self.pending.drain(..start);
        Ok(())
    }

    fn rotated(&self) -> Result<bool, AlertLogError> {
        match self.file.as_ref() {
            Some(file) => rotated(&self.path, file, self.offset),
            None => Ok(false),
        }
    }
}

/// True when `path` now names a different file than `open` (rotation by rename). A missing path
/// is not (yet) a rotation: the writer may still be writing the old file. Without inode
/// numbers, only a file shorter than what was read (`read_to`) shows a new file.
pub(crate) fn rotated(path: &Path, open: &File, read_to: u64) -> Result<bool, AlertLogError> {
    let current = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(AlertLogError::io(path, "inspect", e)),
    };
    let open = open
        .metadata()
        .map_err(|e| AlertLogError::io(path, "inspect", e))?;
    Ok(match (file_id(&open), file_id(&current)) {
        (Some(a), Some(b)) => a != b,
        _ => current.len() < read_to,
    })
}

/// A file's device and inode, where the platform has them.
#[cfg(unix)]
pub(crate) fn file_id(meta: &Metadata) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
pub(crate) fn file_id(_meta: &Metadata) -> Option<(u64, u64)> {
    None
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::test_support::alert;

    #[test]
    fn backwards_reads_newest_first_with_offsets_across_chunks_and_pages() {
        let dir = tempfile::tempdir().unwrap();
        let path = log_path(&dir);
        let mut log = AlertLog::open(&path).unwrap();
        let mut alerts: Vec<Alert> = (0..400).map(alert).collect();
        // A long title makes some lines span chunk boundaries.
        std::sync::Arc::make_mut(&mut alerts[123].doc).title = "x".repeat(400);
        for (i, a) in alerts.iter().enumerate() {
            if i == 200 {
                // A corrupt line longer than a chunk is skipped.
                let mut raw = std::fs::OpenOptions::new()
                    .append(true)
                    .open(&path)
                    .unwrap();
                raw.write_all(&[b'x'; 150_000]).unwrap();
                raw.write_all(b"\n").unwrap();
                log = AlertLog::open(&path).unwrap();
            }
            log.append(a).unwrap();
        }
        // A torn last line is not an alert yet.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"alert_id\":\"torn")
            .unwrap();
        let back: Vec<(u64, Alert)> = read_backwards(&path, None)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let mut expected = alerts.clone();
        expected.reverse();
        assert_eq!(
            back.iter().map(|(_, a)| a.clone()).collect::<Vec<_>>(),
            expected
        );
        // Offsets are line starts: reading forward from one starts with that alert.
        let text = std::fs::read(&path).unwrap();
        for (offset, alert) in back.iter().step_by(37) {
            let line_end = text[*offset as usize..]
                .iter()
                .position(|&b| b == b'\n')
                .unwrap();
            let line = &text[*offset as usize..*offset as usize + line_end];
            assert_eq!(
                &Alert::from_json_line(std::str::from_utf8(line).unwrap()).unwrap(),
                alert
            );
        }
        // Paging: before = the oldest offset of the previous page.
        let page: Vec<(u64, Alert)> = read_backwards(&path, Some(back[9].0))
            .unwrap()
            .take(5)
            .map(Result::unwrap)
            .collect();
        assert_eq!(page[0].1, back[10].1);
        assert_eq!(page[4].1, back[14].1);
        assert_eq!(read_backwards(&path, Some(0)).unwrap().count(), 0);
        assert_eq!(
            read_backwards(&dir.path().join("none.jsonl"), None)
                .unwrap()
                .count(),
            0
        );
    }

    fn log_path(dir: &tempfile::TempDir) -> PathBuf {
        dir.path().join("state/deep/alerts.jsonl")
    }

    #[test]
    fn append_1000_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = log_path(&dir);
        let alerts: Vec<Alert> = (0..1000).map(alert).collect();
        let mut log = AlertLog::open(&path).unwrap();
        assert_eq!(log.path(), path);
        for a in &alerts {
            log.append(a).unwrap();
        }
        log.sync().unwrap();
        drop(log);
        assert_eq!(read_alerts(&path).unwrap(), alerts);

        // Reopening appends after what is there.
        let mut log = AlertLog::open(&path).unwrap();
        log.append(&alert(1000)).unwrap();
        let back = read_alerts(&path).unwrap();
        assert_eq!(back.len(), 1001);
        assert_eq!(back[1000], alert(1000));

        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 1001);
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn a_batch_is_the_same_lines_as_one_append_each_and_follows_a_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let one_by_one = dir.path().join("one.jsonl");
        let batched = log_path(&dir);
        let mut alerts: Vec<Alert> = (0..50).map(alert).collect();
        // One alert over the limits takes the cutting path inside the batch.
        alerts[7].matched.snippet = "é".repeat(5_000);
        let mut log = AlertLog::open(&one_by_one).unwrap();
        for a in &alerts {
            log.append(a).unwrap();
        }
        let mut log = AlertLog::open(&batched).unwrap();
        log.append_all(&alerts[..30]).unwrap();
        log.append_all(&[]).unwrap();
        let rotated = dir.path().join("alerts.jsonl.1");
        fs::rename(&batched, &rotated).unwrap();
        log.append_all(&alerts[30..]).unwrap();
        let whole = fs::read_to_string(&one_by_one).unwrap();
        let parts = fs::read_to_string(&rotated).unwrap() + &fs::read_to_string(&batched).unwrap();
        assert_eq!(parts, whole);
        assert_eq!(whole.lines().count(), 50);
        assert_eq!(read_alerts(&batched).unwrap(), alerts[30..].to_vec());
    }

    #[test]
    fn a_log_moved_away_or_deleted_is_started_again_at_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = log_path(&dir);
        let mut log = AlertLog::open(&path).unwrap();
        log.append(&alert(0)).unwrap();
        log.append(&alert(1)).unwrap();
        // Rotation by rename: the old file keeps its lines, new ones go to a new file.
        let rotated = dir.path().join("alerts.jsonl.1");
        fs::rename(&path, &rotated).unwrap();
        log.append(&alert(2)).unwrap();
        assert_eq!(read_alerts(&rotated).unwrap(), vec![alert(0), alert(1)]);
        assert_eq!(read_alerts(&path).unwrap(), vec![alert(2)]);
        // Deleted: a new file again.
        fs::remove_file(&path).unwrap();
        log.append(&alert(3)).unwrap();
        log.sync().unwrap();
        assert_eq!(read_alerts(&path).unwrap(), vec![alert(3)]);
        // Untouched: appends stay in the same file.
        log.append(&alert(4)).unwrap();
        assert_eq!(read_alerts(&path).unwrap(), vec![alert(3), alert(4)]);
    }

    #[test]
    fn missing_file_reads_as_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_alerts(&dir.path().join("nope.jsonl"))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn torn_last_line_is_repaired_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = log_path(&dir);
        let mut log = AlertLog::open(&path).unwrap();
        log.append(&alert(1)).unwrap();
        log.append(&alert(2)).unwrap();
        drop(log);
        // Simulate a crash half-way through writing a third line.
        let third = alert(3).to_json_line();
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&third.as_bytes()[..third.len() / 2]).unwrap();
        drop(f);

        // Readers skip the torn line.
        assert_eq!(read_alerts(&path).unwrap(), vec![alert(1), alert(2)]);

        let mut log = AlertLog::open(&path).unwrap();
        log.append(&alert(4)).unwrap();
        drop(log);
        assert_eq!(
            read_alerts(&path).unwrap(),
            vec![alert(1), alert(2), alert(4)]
        );
        let text = fs::read_to_string(&path).unwrap();
        assert!(text
            .lines()
            .all(|l| serde_json::from_str::<Alert>(l).is_ok()));
    }

    #[test]
    fn torn_only_line_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alerts.jsonl");
        fs::write(&path, b"{\"alert_id\":\"q:a/d").unwrap();
        let log = AlertLog::open(&path).unwrap();
        drop(log);
        assert_eq!(fs::metadata(&path).unwrap().len(), 0);
    }

    #[test]
    fn whole_alert_missing_only_its_newline_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alerts.jsonl");
        let text = format!("{}\n{}", alert(1).to_json_line(), alert(2).to_json_line());
        fs::write(&path, text).unwrap();
        let mut log = AlertLog::open(&path).unwrap();
        log.append(&alert(3)).unwrap();
        drop(log);
        assert_eq!(
            read_alerts(&path).unwrap(),
            vec![alert(1), alert(2), alert(3)]
        );
    }

    #[test]
    fn corrupt_middle_line_names_its_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alerts.jsonl");
        let text = format!(
            "{}\n\n{{not json}}\n{}\n",
            alert(1).to_json_line(),
            alert(2).to_json_line()
        );
        fs::write(&path, text).unwrap();
        let err = read_alerts(&path).unwrap_err();
        match &err {
            AlertLogError::CorruptLine { line, path: p, .. } => {
                assert_eq!(*line, 3);
                assert_eq!(p, &path);
            }
            other => panic!("unexpected error {other:?}"),
        }
        let msg = err.to_string();
        assert!(msg.contains("line 3"), "{msg}");
        assert!(msg.contains("alerts.jsonl"), "{msg}");

        // The iterator reports the bad line and goes on.
        let items: Vec<_> = AlertLogReader::open(&path).unwrap().collect();
        assert_eq!(items.len(), 3);
        assert!(items[1].is_err());
        assert_eq!(items[2].as_ref().unwrap(), &alert(2));
    }

    #[test]
    fn reader_offset_hands_over_to_follow() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alerts.jsonl");
        let mut log = AlertLog::open(&path).unwrap();
        log.append(&alert(1)).unwrap();
        let mut reader = AlertLogReader::open(&path).unwrap();
        assert_eq!(reader.next().unwrap().unwrap(), alert(1));
        assert!(reader.next().is_none());
        let mut tail = follow(&path, reader.offset());
        assert!(tail.poll().unwrap().is_empty());
        log.append(&alert(2)).unwrap();
        assert_eq!(tail.poll().unwrap(), vec![alert(2)]);
    }

    #[test]
    fn follow_sees_new_lines_and_buffers_partial_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("later/alerts.jsonl");
        let mut tail = follow(&path, 0);
        // The file does not exist yet.
        assert!(tail.poll().unwrap().is_empty());

        let mut log = AlertLog::open(&path).unwrap();
        log.append(&alert(1)).unwrap();
        log.append(&alert(2)).unwrap();
        assert_eq!(tail.poll().unwrap(), vec![alert(1), alert(2)]);
        assert!(tail.poll().unwrap().is_empty());

        // A line written in two pieces comes out once it is complete.
        let line = format!("{}\n", alert(3).to_json_line());
        let (a, b) = line.as_bytes().split_at(40);
        let mut raw = OpenOptions::new().append(true).open(&path).unwrap();
        raw.write_all(a).unwrap();
        assert!(tail.poll().unwrap().is_empty());
        raw.write_all(b).unwrap();
        assert_eq!(tail.poll().unwrap(), vec![alert(3)]);

        // A corrupt line is skipped, not fatal.
        raw.write_all(b"garbage\n").unwrap();
        log.append(&alert(4)).unwrap();
        assert_eq!(tail.poll().unwrap(), vec![alert(4)]);
    }

    #[test]
    fn follow_survives_rotation_by_rename() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alerts.jsonl");
        let mut log = AlertLog::open(&path).unwrap();
        log.append(&alert(1)).unwrap();
        let mut tail = follow(&path, 0);
        assert_eq!(tail.poll().unwrap(), vec![alert(1)]);

        // The writer adds one more line, then the file is renamed away.
        log.append(&alert(2)).unwrap();
        fs::rename(&path, dir.path().join("alerts.jsonl.1")).unwrap();
        // Before the new file exists, the old one is still followed.
        log.append(&alert(3)).unwrap();
        assert_eq!(tail.poll().unwrap(), vec![alert(2), alert(3)]);
        drop(log);

        // A new, larger file appears: old file drained, then the new one read from 0.
        let mut log = AlertLog::open(&path).unwrap();
        for n in 10..15 {
            log.append(&alert(n)).unwrap();
        }
        let got = tail.poll().unwrap();
        assert_eq!(got, (10..15).map(alert).collect::<Vec<_>>());
        log.append(&alert(15)).unwrap();
        assert_eq!(tail.poll().unwrap(), vec![alert(15)]);
    }

    #[test]
    fn follow_restarts_when_the_file_shrinks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alerts.jsonl");
        let mut log = AlertLog::open(&path).unwrap();
        for n in 0..3 {
            log.append(&alert(n)).unwrap();
        }
        drop(log);
        // Starting past the end (e.g. a stale offset) reads from the start.
        let mut tail = follow(&path, 1 << 40);
        assert_eq!(tail.poll().unwrap().len(), 3);

        // Truncated in place (copytruncate), then written again.
        let f = OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(0).unwrap();
        drop(f);
        let mut log = AlertLog::open(&path).unwrap();
        log.append(&alert(7)).unwrap();
        assert_eq!(tail.poll().unwrap(), vec![alert(7)]);
    }
}
