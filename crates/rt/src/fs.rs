//! Files on the worker pool.
//!
//! **Invariant: no file syscall runs on the loop thread.** Every function here
//! sends the std call to the pool and awaits its completion, the way libuv
//! runs `uv_fs_*` on its threadpool (regular files are always "ready" to
//! epoll, so the pool is the only way not to block).

use std::fs::{Metadata, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::pool::spawn_blocking;

/// Runs a fallible blocking function on the pool; a cancelled or panicked
/// job becomes an `io::Error`.
pub(crate) async fn blocking<T, F>(f: F) -> io::Result<T>
where
    F: FnOnce() -> io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    match spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => Err(io::Error::other(e.to_string())),
    }
}

/// Whether `e` says the path names no file: missing, a non-directory on
/// the way, a name too long (`ENAMETOOLONG`), or too many symbolic links
/// (`ELOOP`, a loop). What a server answers with 404, as for a missing
/// file, rather than as its own failure.
pub fn is_no_such_file(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory | io::ErrorKind::InvalidFilename
    ) || e.raw_os_error() == Some(libc::ELOOP)
}

fn owned(p: impl AsRef<Path>) -> PathBuf {
    p.as_ref().to_path_buf()
}

/// Reads a whole file.
pub async fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    let p = owned(path);
    blocking(move || std::fs::read(p)).await
}

/// Reads a whole file as UTF-8.
pub async fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    let p = owned(path);
    blocking(move || std::fs::read_to_string(p)).await
}

/// Creates or truncates a file and writes `data` to it.
pub async fn write(path: impl AsRef<Path>, data: impl Into<Vec<u8>>) -> io::Result<()> {
    let (p, d) = (owned(path), data.into());
    blocking(move || std::fs::write(p, d)).await
}

/// Appends `data` to a file, creating it if needed.
pub async fn append(path: impl AsRef<Path>, data: impl Into<Vec<u8>>) -> io::Result<()> {
    let (p, d) = (owned(path), data.into());
    blocking(move || {
        OpenOptions::new()
            .append(true)
            .create(true)
            .open(p)?
            .write_all(&d)
    })
    .await
}

/// Metadata, following symlinks (`stat`).
pub async fn metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    let p = owned(path);
    blocking(move || std::fs::metadata(p)).await
}

/// Metadata of the link itself (`lstat`).
pub async fn symlink_metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    let p = owned(path);
    blocking(move || std::fs::symlink_metadata(p)).await
}

/// The canonical, absolute form of a path, with symlinks resolved.
pub async fn canonicalize(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    let p = owned(path);
    blocking(move || std::fs::canonicalize(p)).await
}

/// One entry of [`read_dir`].
#[derive(Clone, Debug)]
pub struct DirEntry {
    /// The entry's full path.
    pub path: PathBuf,
    /// The file name.
    pub name: std::ffi::OsString,
    /// The entry's type (not following symlinks).
    pub file_type: std::fs::FileType,
}

/// Lists a directory, in the order the OS returns.
pub async fn read_dir(path: impl AsRef<Path>) -> io::Result<Vec<DirEntry>> {
    let p = owned(path);
    blocking(move || {
        std::fs::read_dir(p)?
            .map(|e| {
                let e = e?;
                Ok(DirEntry {
                    path: e.path(),
                    name: e.file_name(),
                    file_type: e.file_type()?,
                })
            })
            .collect()
    })
    .await
}

/// Removes a file.
pub async fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    let p = owned(path);
    blocking(move || std::fs::remove_file(p)).await
}

/// Removes an empty directory.
pub async fn remove_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let p = owned(path);
    blocking(move || std::fs::remove_dir(p)).await
}

/// Removes a directory and everything in it.
pub async fn remove_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let p = owned(path);
    blocking(move || std::fs::remove_dir_all(p)).await
}

/// Creates a directory and its missing parents.
pub async fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let p = owned(path);
    blocking(move || std::fs::create_dir_all(p)).await
}

/// Renames a file or directory.
pub async fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    let (a, b) = (owned(from), owned(to));
    blocking(move || std::fs::rename(a, b)).await
}

/// Copies a file; returns the bytes copied.
pub async fn copy(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<u64> {
    let (a, b) = (owned(from), owned(to));
    blocking(move || std::fs::copy(a, b)).await
}

/// An open file whose reads and writes run on the pool.
///
/// Reads come in chunks ([`read_chunk`](Self::read_chunk)), so a large file
/// streams through bounded memory.
#[derive(Debug, Clone)]
pub struct File {
    /// Shared with the job in flight; `&std::fs::File` implements `Read`,
    /// `Write` and `Seek`, so no job needs the file exclusively.
    file: Arc<std::fs::File>,
}

impl File {
    /// Opens a file for reading.
    pub async fn open(path: impl AsRef<Path>) -> io::Result<File> {
        let p = owned(path);
        Self::with_options(p, OpenOptions::new().read(true).clone()).await
    }

    /// Creates or truncates a file for writing.
    pub async fn create(path: impl AsRef<Path>) -> io::Result<File> {
        let p = owned(path);
        let mut o = OpenOptions::new();
        o.write(true).create(true).truncate(true);
        Self::with_options(p, o).await
    }

    /// Opens a file with the given options.
    pub async fn with_options(path: impl AsRef<Path>, options: OpenOptions) -> io::Result<File> {
        let p = owned(path);
        let f = blocking(move || options.open(p)).await?;
        Ok(File { file: Arc::new(f) })
    }

    /// Reads up to `max` bytes from the current position; an empty vector
    /// means end of file.
    pub async fn read_chunk(&self, max: usize) -> io::Result<Vec<u8>> {
        let f = self.file.clone();
        blocking(move || {
            let mut buf = vec![0; max];
            let n = loop {
                match (&*f).read(&mut buf) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    r => break r?,
                }
            };
            buf.truncate(n);
            Ok(buf)
        })
        .await
    }

    /// Reads up to `len` bytes at `offset`, without moving the position.
    pub async fn read_at(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        use std::os::unix::fs::FileExt;
        let f = self.file.clone();
        blocking(move || {
            let mut buf = vec![0; len];
            let n = f.read_at(&mut buf, offset)?;
            buf.truncate(n);
            Ok(buf)
        })
        .await
    }

    /// Writes all of `data` at the current position.
    pub async fn write_all(&self, data: impl Into<Vec<u8>>) -> io::Result<()> {
        let (f, d) = (self.file.clone(), data.into());
        blocking(move || (&*f).write_all(&d)).await
    }

    /// Moves the position.
    pub async fn seek(&self, pos: SeekFrom) -> io::Result<u64> {
        let f = self.file.clone();
        blocking(move || (&*f).seek(pos)).await
    }

    /// The file's metadata.
    pub async fn metadata(&self) -> io::Result<Metadata> {
        let f = self.file.clone();
        blocking(move || f.metadata()).await
    }

    /// Flushes data and metadata to the device (`fsync`).
    pub async fn sync_all(&self) -> io::Result<()> {
        let f = self.file.clone();
        blocking(move || f.sync_all()).await
    }

    /// Truncates or extends the file.
    pub async fn set_len(&self, len: u64) -> io::Result<()> {
        let f = self.file.clone();
        blocking(move || f.set_len(len)).await
    }
}

/// The descriptor, for calls that take one without blocking on it, such as
/// [`TcpStream::sendfile`](crate::net::TcpStream::sendfile). Reading or
/// writing through it on the loop thread would block: use the methods above.
impl std::os::fd::AsFd for File {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.file.as_fd()
    }
}
