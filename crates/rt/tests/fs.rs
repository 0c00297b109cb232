//! Files on the worker pool, on a real temporary directory: the whole-file
//! functions, streaming reads, positioned reads, errors, and a loop that
//! keeps running while file operations block.

use std::cell::Cell;
use std::io::{ErrorKind, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use waiter_rt::fs::{self, File};
use waiter_rt::Loop;

/// A fresh directory under the system's temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("waiter-fs-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    fn join(&self, p: impl AsRef<Path>) -> PathBuf {
        self.0.join(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `len` bytes of a fixed pseudo-random pattern, so a misplaced or repeated
/// chunk cannot go unnoticed.
fn pattern(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x2545_f491;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

#[test]
fn whole_file_functions_work_on_a_real_directory() {
    let dir = TempDir::new("whole");
    waiter_rt::run(async {
        let nested = dir.join("a/b/c");
        fs::create_dir_all(&nested).await.unwrap();
        assert!(fs::metadata(&nested).await.unwrap().is_dir());
        // Creating what already exists is fine.
        fs::create_dir_all(&nested).await.unwrap();

        let f = nested.join("greeting.txt");
        fs::write(&f, "hello").await.unwrap();
        fs::append(&f, b", world".to_vec()).await.unwrap();
        fs::append(nested.join("new.log"), "created by append")
            .await
            .unwrap();
        assert_eq!(fs::read(&f).await.unwrap(), b"hello, world");
        assert_eq!(fs::read_to_string(&f).await.unwrap(), "hello, world");
        let md = fs::metadata(&f).await.unwrap();
        assert!(md.is_file());
        assert_eq!(md.len(), 12);

        // write truncates.
        fs::write(&f, "hi").await.unwrap();
        assert_eq!(fs::read(&f).await.unwrap(), b"hi");

        let copy = nested.join("copy.txt");
        assert_eq!(fs::copy(&f, &copy).await.unwrap(), 2);
        let moved = dir.join("moved.txt");
        fs::rename(&copy, &moved).await.unwrap();
        assert_eq!(fs::read(&moved).await.unwrap(), b"hi");
        assert!(fs::metadata(&copy).await.is_err());

        let mut names: Vec<String> = fs::read_dir(&nested)
            .await
            .unwrap()
            .into_iter()
            .map(|e| {
                assert!(e.file_type.is_file());
                assert_eq!(e.path, nested.join(&e.name));
                e.name.into_string().unwrap()
            })
            .collect();
        names.sort();
        assert_eq!(names, ["greeting.txt", "new.log"]);

        let canon = fs::canonicalize(nested.join("../c/./greeting.txt"))
            .await
            .unwrap();
        assert_eq!(canon, std::fs::canonicalize(&f).unwrap());
        assert!(fs::symlink_metadata(&f).await.unwrap().is_file());

        fs::remove_file(&moved).await.unwrap();
        assert_eq!(
            fs::metadata(&moved).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
        fs::remove_dir_all(dir.join("a/b")).await.unwrap();
        fs::remove_dir(dir.join("a")).await.unwrap();
        assert!(fs::read_dir(&dir.0).await.unwrap().is_empty());
    });
}

#[test]
fn streaming_a_multi_mebibyte_file_in_64_kib_chunks_reproduces_it() {
    const CHUNK: usize = 64 * 1024;
    let dir = TempDir::new("stream");
    // Not a multiple of the chunk size, so the last chunk is short.
    let want = pattern(5 * 1024 * 1024 + 12_345);
    let path = dir.join("big.bin");
    std::fs::write(&path, &want).unwrap();
    let (got, chunks) = waiter_rt::run(async {
        let f = File::open(&path).await.unwrap();
        let mut got = Vec::new();
        let mut chunks = 0;
        loop {
            let c = f.read_chunk(CHUNK).await.unwrap();
            if c.is_empty() {
                break;
            }
            assert!(c.len() <= CHUNK);
            chunks += 1;
            got.extend_from_slice(&c);
        }
        // End of file stays end of file.
        assert!(f.read_chunk(CHUNK).await.unwrap().is_empty());
        (got, chunks)
    });
    assert_eq!(got.len(), want.len());
    assert!(got == want, "the streamed bytes differ from the file");
    assert!(chunks >= want.len().div_ceil(CHUNK), "{chunks} chunks");
}

#[test]
fn read_at_reads_at_an_offset_without_moving_the_position() {
    let dir = TempDir::new("read-at");
    let data = pattern(200_000);
    let path = dir.join("data.bin");
    std::fs::write(&path, &data).unwrap();
    waiter_rt::run(async {
        let f = File::open(&path).await.unwrap();
        assert_eq!(f.read_at(0, 10).await.unwrap(), &data[..10]);
        assert_eq!(
            f.read_at(123_456, 1000).await.unwrap(),
            &data[123_456..124_456]
        );
        // Past the end: short, then empty.
        assert_eq!(f.read_at(199_990, 100).await.unwrap(), &data[199_990..]);
        assert!(f.read_at(300_000, 10).await.unwrap().is_empty());
        // None of that moved the position.
        assert_eq!(f.read_chunk(5).await.unwrap(), &data[..5]);
        // Clones share the file, and its position.
        let g = f.clone();
        assert_eq!(g.read_chunk(5).await.unwrap(), &data[5..10]);
        assert_eq!(f.seek(SeekFrom::Current(0)).await.unwrap(), 10);
    });
}

#[test]
fn an_open_file_writes_seeks_truncates_and_syncs() {
    let dir = TempDir::new("file");
    let path = dir.join("out.txt");
    waiter_rt::run(async {
        let f = File::create(&path).await.unwrap();
        f.write_all("0123456789").await.unwrap();
        assert_eq!(f.seek(SeekFrom::Start(2)).await.unwrap(), 2);
        f.write_all("ab").await.unwrap();
        f.sync_all().await.unwrap();
        assert_eq!(f.metadata().await.unwrap().len(), 10);
        f.set_len(6).await.unwrap();
        assert_eq!(f.metadata().await.unwrap().len(), 6);

        let mut o = std::fs::OpenOptions::new();
        o.read(true).write(true);
        let rw = File::with_options(&path, o).await.unwrap();
        assert_eq!(rw.read_chunk(100).await.unwrap(), b"01ab45");
        rw.write_all("!").await.unwrap();
    });
    assert_eq!(std::fs::read(&path).unwrap(), b"01ab45!");
}

/// The kind of the error `r` must be.
fn kind<T: std::fmt::Debug>(r: std::io::Result<T>) -> ErrorKind {
    r.unwrap_err().kind()
}

#[test]
fn errors_surface_as_io_errors() {
    let dir = TempDir::new("errors");
    let missing = dir.join("missing");
    let file = dir.join("file");
    std::fs::write(&file, "x").unwrap();
    waiter_rt::run(async {
        assert_eq!(kind(fs::read(&missing).await), ErrorKind::NotFound);
        assert_eq!(
            kind(fs::read_to_string(&missing).await),
            ErrorKind::NotFound
        );
        assert_eq!(kind(fs::metadata(&missing).await), ErrorKind::NotFound);
        assert_eq!(kind(fs::read_dir(&missing).await), ErrorKind::NotFound);
        assert_eq!(kind(fs::remove_file(&missing).await), ErrorKind::NotFound);
        assert_eq!(kind(fs::remove_dir(&missing).await), ErrorKind::NotFound);
        assert_eq!(
            kind(fs::rename(&missing, dir.join("x")).await),
            ErrorKind::NotFound
        );
        assert_eq!(
            kind(fs::copy(&missing, dir.join("x")).await),
            ErrorKind::NotFound
        );
        assert_eq!(kind(File::open(&missing).await), ErrorKind::NotFound);
        // A write into a directory that does not exist.
        assert_eq!(
            kind(fs::write(missing.join("f"), "x").await),
            ErrorKind::NotFound
        );
        // Errors other than NotFound come through with their OS code.
        let e = fs::read_dir(&file).await.unwrap_err();
        assert_eq!(e.raw_os_error(), Some(20), "ENOTDIR: {e}");
        let e = fs::create_dir_all(file.join("sub")).await.unwrap_err();
        assert_eq!(e.raw_os_error(), Some(20), "ENOTDIR: {e}");
        // Reading a file opened for writing fails (EBADF).
        let w = File::create(dir.join("w")).await.unwrap();
        assert_eq!(w.read_chunk(10).await.unwrap_err().raw_os_error(), Some(9));
    });
    assert!(!missing.exists());
}

#[test]
fn timers_keep_firing_while_file_operations_block_on_the_pool() {
    // Opening a FIFO for reading blocks until a writer opens it: a file
    // operation that is slow for real. Twenty of them run (four at a time
    // on the pool) while a 50 ms interval must keep ticking. Were any of
    // them run on the loop thread, the interval would stall until the
    // writer came.
    const FILES: usize = 20;
    let dir = TempDir::new("fifo");
    let fifos: Vec<PathBuf> = (0..FILES).map(|i| dir.join(format!("fifo{i}"))).collect();
    let st = std::process::Command::new("mkfifo")
        .args(&fifos)
        .status()
        .unwrap();
    assert!(st.success());
    // The writer starts late, then feeds the FIFOs in order; each open
    // blocks until the reader's open on a worker is there.
    let writer = {
        let fifos = fifos.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            for (i, p) in fifos.iter().enumerate() {
                let mut w = std::fs::OpenOptions::new().write(true).open(p).unwrap();
                w.write_all(format!("file {i}").as_bytes()).unwrap();
                drop(w);
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let lp = Loop::builder().pool_size(4).build().unwrap();
    let ticks = Rc::new(Cell::new(0u32));
    let longest_gap = Rc::new(Cell::new(Duration::ZERO));
    let start = Instant::now();
    let contents = lp.block_on(async {
        let (t, g) = (ticks.clone(), longest_gap.clone());
        let mut last = Instant::now();
        let interval = waiter_rt::set_interval(Duration::from_millis(50), move || {
            t.set(t.get() + 1);
            g.set(g.get().max(last.elapsed()));
            last = Instant::now();
        });
        let reads: Vec<_> = fifos
            .iter()
            .map(|p| waiter_rt::spawn_local(fs::read_to_string(p.clone())))
            .collect();
        let mut contents = vec![];
        for r in reads {
            contents.push(r.await.unwrap().unwrap());
        }
        interval.clear();
        contents
    });
    writer.join().unwrap();
    let elapsed = start.elapsed();
    let want: Vec<String> = (0..FILES).map(|i| format!("file {i}")).collect();
    assert_eq!(contents, want);
    assert!(elapsed >= Duration::from_millis(300));
    // At least the 300 ms before the writer came are covered by ticks.
    assert!(
        ticks.get() >= 5,
        "{} ticks in {elapsed:?}: the loop was blocked",
        ticks.get()
    );
    assert!(
        longest_gap.get() < Duration::from_millis(250),
        "the interval stalled for {:?}",
        longest_gap.get()
    );
}
