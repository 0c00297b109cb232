//! `sys::trim_heap` gives freed heap pages back to the OS, also those below
//! a live allocation (which returning only the heap's top would not).
//! Its own test binary: nothing else allocates on its threads meanwhile.

use waiter_rt::sys::{current_rss, trim_heap};

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn freed_small_blocks_under_a_live_one_leave_the_resident_set() {
    const BLOCKS: usize = 64 * 1024;
    // 64 MiB in 1 KiB blocks, each touched, with a live block after them
    // so the heap's top cannot simply shrink.
    let mut blocks: Vec<Box<[u8; 1024]>> = (0..BLOCKS).map(|_| Box::new([1u8; 1024])).collect();
    let pin_top = Box::new([2u8; 1024]);
    let full = current_rss().unwrap();
    blocks.clear();
    blocks.shrink_to_fit();
    let freed = current_rss().unwrap();
    trim_heap();
    let trimmed = current_rss().unwrap();
    assert_eq!(pin_top[0], 2);
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    assert!(
        freed + (32 << 20) > full,
        "free alone already released the memory (full {:.1} MiB, freed {:.1}): nothing to test",
        mib(full),
        mib(freed)
    );
    assert!(
        trimmed + (48 << 20) < full,
        "trim released too little: full {:.1} MiB, after free {:.1}, after trim {:.1}",
        mib(full),
        mib(freed),
        mib(trimmed)
    );
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
#[test]
fn without_glibc_trimming_is_a_no_op() {
    assert!(!trim_heap());
    let _ = current_rss();
}
