//! The one place that memory-maps files: index files as writable maps.
//!
//! Why this is sound enough: the maps cover files inside the log directory, which this process
//! owns; another process editing them is outside the contract (as for Kafka). Within the process
//! a [`MappedFile`] is the only handle that changes the file's length, and it drops its map
//! before shrinking the file, so no live slice ever covers bytes past the end of the file.
//! Shared access goes through `&self`/`&mut self`, so Rust's borrow rules (and the segment's
//! lock around each index) keep writers and readers of the bytes apart.

#![allow(unsafe_code)]

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use memmap2::{MmapMut, MmapOptions};

use crate::error::{io_err, IoError};

/// A file mapped read-write in full, resizable.
#[derive(Debug)]
pub(crate) struct MappedFile {
    path: PathBuf,
    file: File,
    /// `None` when the file is empty: zero-length maps are not portable.
    map: Option<MmapMut>,
}

impl MappedFile {
    /// Opens (creating if missing) `path`; when `len` is given, sets the file to that length first.
    pub(crate) fn open(path: &Path, len: Option<u64>) -> Result<Self, IoError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io_err("open index", path))?;
        if let Some(len) = len {
            file.set_len(len).map_err(io_err("resize index", path))?;
        }
        let mut this = Self {
            path: path.to_path_buf(),
            file,
            map: None,
        };
        this.remap()?;
        Ok(this)
    }

    fn remap(&mut self) -> Result<(), IoError> {
        let len = self
            .file
            .metadata()
            .map_err(io_err("stat index", &self.path))?
            .len();
        self.map = if len == 0 {
            None
        } else {
            // SAFETY: the file is ours (see the module note) and stays at least `len` bytes long
            // while this map lives: only `resize` shrinks it, and it drops the map first.
            let map = unsafe { MmapOptions::new().map_mut(&self.file) }
                .map_err(io_err("mmap index", &self.path))?;
            Some(map)
        };
        Ok(())
    }

    /// Length of the mapped file in bytes.
    pub(crate) fn len(&self) -> usize {
        self.map.as_ref().map_or(0, |m| m.len())
    }

    /// The file's bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }

    /// The file's bytes, writable.
    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        self.map.as_deref_mut().unwrap_or(&mut [])
    }

    /// Changes the file's length and maps it again.
    pub(crate) fn resize(&mut self, len: u64) -> Result<(), IoError> {
        self.flush()?;
        // Drop the map before shrinking so no mapped page lies past the end of the file.
        self.map = None;
        self.file
            .set_len(len)
            .map_err(io_err("resize index", &self.path))?;
        self.remap()
    }

    /// Writes zeros to bytes `from..to` of the file through the descriptor, so the file system
    /// allocates them now and reports a full disk as an error. A page of a sparse file that is
    /// first touched through the map when the disk is full raises SIGBUS instead, killing the
    /// process. The caller guarantees no entry was written there yet (they are zeros already).
    pub(crate) fn allocate(&self, from: u64, to: u64) -> Result<(), IoError> {
        const CHUNK: u64 = 64 * 1024;
        let zeros = vec![0u8; CHUNK.min(to.saturating_sub(from)) as usize];
        let mut at = from;
        while at < to {
            let n = (to - at).min(CHUNK);
            self.file
                .write_all_at(zeros.get(..n as usize).unwrap_or(&zeros), at)
                .map_err(io_err("allocate index", &self.path))?;
            at += n;
        }
        Ok(())
    }

    /// Writes dirty pages back to the file.
    pub(crate) fn flush(&self) -> Result<(), IoError> {
        if let Some(map) = &self.map {
            map.flush().map_err(io_err("msync index", &self.path))?;
        }
        Ok(())
    }
}
