//! The host's allocators and the defaults it changes in them.
//!
//! Records are many small trees, strings and rows: mimalloc's thread-local
//! free lists cost a fraction of glibc's malloc there (the stage profile in
//! docs/benchmarks.md).
//!
//! The change: arenas commit memory on demand instead of up front. An arena
//! committed up front (mimalloc's default on Linux) purges freed memory with
//! `MADV_FREE`, whose pages the kernel goes on counting in the RSS until it
//! needs them: a backlog drain showed ~25 MB more than it used, and an idle
//! host 25 MB of anonymous memory instead of 8
//! (bench/results/2026-12-02-allocator.md). On demand, a purge gives the
//! pages back at once; faulting them in again when they are reused costs
//! CPU within the run-to-run noise there (+7% per record on average).
//! `MIMALLOC_ARENA_EAGER_COMMIT` in the environment still decides, as
//! mimalloc documents.
//!
//! The C libraries (librdkafka above all) allocate with glibc's malloc, and
//! [`fixed_mmap_threshold`] changes one of its defaults: see there. And the
//! binary's own code: [`release_startup_code`] unmaps what start-up ran.

pub use mimalloc::MiMalloc;

/// mimalloc v3's `arena_eager_commit` (its index in `mi_option_e`).
const ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;

/// The default has to be in place before mimalloc reads its options from
/// the environment and before the first allocation reserves an arena; both
/// happen before `main`. mimalloc's constructor is a plain `.init_array`
/// entry, and the numbered ones run first.
#[used]
#[allow(unsafe_code)]
#[cfg_attr(target_os = "linux", link_section = ".init_array.00200")]
static COMMIT_ON_DEMAND: extern "C" fn() = commit_on_demand;

extern "C" fn commit_on_demand() {
    // SAFETY: sets a default in mimalloc's static option table before any
    // thread but the loader's exists; it allocates nothing.
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_option_set_default(ARENA_EAGER_COMMIT, 0)
    }
}

/// Whether arenas commit on demand. A binary that calls this keeps the
/// constructor above linked in.
pub fn commits_on_demand() -> bool {
    std::hint::black_box(&COMMIT_ON_DEMAND);
    // SAFETY: reads an option mimalloc initialised at load.
    #[allow(unsafe_code)]
    let value = unsafe { libmimalloc_sys::mi_option_get(ARENA_EAGER_COMMIT) };
    value == 0
}

/// The size from which glibc's malloc serves a block with its own `mmap`
/// and gives it back to the kernel when it is freed: glibc's initial value.
const MMAP_THRESHOLD: i32 = 128 * 1024;

/// Fixes glibc malloc's mmap threshold at 128 KiB, unless the environment
/// sets one (`MALLOC_MMAP_THRESHOLD_`, or `mmap_threshold` in
/// `GLIBC_TUNABLES`); true if it did. Call it first thing in `main`.
///
/// By default the threshold follows the largest block freed, up to 32 MiB:
/// librdkafka's fetch buffers (about a megabyte each) then come from malloc's
/// arenas, one per librdkafka thread, which keep the freed memory. Fixed, a
/// drain of 50,000 users left the host 5-7 MiB smaller after it and 1-3 MiB
/// smaller during it (bench/results/2026-12-03-mmap-threshold.md), at the
/// same drain rate.
pub fn fixed_mmap_threshold() -> bool {
    if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_some()
        || std::env::var("GLIBC_TUNABLES").is_ok_and(|t| t.contains("mmap_threshold"))
    {
        return false;
    }
    set_mmap_threshold(MMAP_THRESHOLD)
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn set_mmap_threshold(bytes: i32) -> bool {
    // SAFETY: mallopt only sets a parameter of glibc's allocator; setting
    // this one also turns off its dynamic adjustment, which is the point.
    #[allow(unsafe_code)]
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, bytes) == 1
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn set_mmap_threshold(_bytes: i32) -> bool {
    false
}

/// Unmaps the executable's code from this process, so that only what runs
/// from now on is mapped again (page faults from the page cache, the file's
/// pages being where they were). Call it once start-up is over: the host
/// binary is ~40 MB of code, and start-up runs much that a running pipeline
/// never does again (the CLI and config parsing, loading and checking the
/// plugin, connecting, creating tables), which stayed resident: 20 of the
/// 65 MiB of a backlog drain's RSS were the binary's code and read-only data
/// (bench/results/2026-12-07-guest-arena.md). Returns the bytes unmapped;
/// `SLUICE_KEEP_STARTUP_CODE=1` in the environment keeps them.
///
/// Only the code mapping (`r-xp`) is touched: it is never written (no text
/// relocations), so dropping its pages loses nothing. The read-only data
/// after it was written by the loader (RELRO) before it was made read-only,
/// and dropping those pages would bring back the file's unrelocated bytes.
pub fn release_startup_code() -> usize {
    if std::env::var_os("SLUICE_KEEP_STARTUP_CODE").is_some_and(|v| v == "1") {
        return 0;
    }
    let (Ok(exe), Ok(maps)) = (
        std::fs::read_link("/proc/self/exe"),
        std::fs::read_to_string("/proc/self/maps"),
    ) else {
        return 0;
    };
    let exe = exe.to_string_lossy();
    code_mappings(&maps, &exe)
        .filter(|&(start, len)| drop_pages(start, len))
        .map(|(_, len)| len)
        .sum()
}

/// The private, read-only, executable mappings of `exe` in a
/// /proc/PID/maps text: start address and length.
fn code_mappings<'a>(maps: &'a str, exe: &'a str) -> impl Iterator<Item = (usize, usize)> + 'a {
    maps.lines().filter_map(move |line| {
        // "start-end perms offset dev inode path"
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [range, "r-xp", _, _, _, path] = fields[..] else {
            return None;
        };
        if path != exe {
            return None;
        }
        let (start, end) = range.split_once('-')?;
        let start = usize::from_str_radix(start, 16).ok()?;
        let end = usize::from_str_radix(end, 16).ok()?;
        Some((start, end.checked_sub(start)?))
    })
}

#[cfg(target_os = "linux")]
fn drop_pages(start: usize, len: usize) -> bool {
    // SAFETY: the range is one whole read-only, executable, private mapping
    // of this process's executable (code_mappings), whose pages are never
    // written: MADV_DONTNEED only unmaps them, and the next instruction
    // fetched from one maps the same bytes again from the file.
    #[allow(unsafe_code)]
    unsafe {
        libc::madvise(start as *mut libc::c_void, len, libc::MADV_DONTNEED) == 0
    }
}

#[cfg(not(target_os = "linux"))]
fn drop_pages(_start: usize, _len: usize) -> bool {
    false
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    fn a_large_c_block_is_still_mapped_after_one_was_freed() {
        if !super::fixed_mmap_threshold() {
            return; // the environment sets the threshold
        }
        // SAFETY: plain malloc/free pairs and glibc's statistics.
        unsafe {
            let first = libc::malloc(1 << 20);
            assert!(!first.is_null());
            libc::free(first); // would raise a dynamic threshold past 1 MiB
            let second = libc::malloc(1 << 20);
            assert!(!second.is_null());
            // With the threshold fixed the block has its own mapping;
            // otherwise it would come from the arena (no mapped blocks).
            assert!(libc::mallinfo2().hblks >= 1);
            libc::free(second);
        }
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn arenas_commit_on_demand_unless_the_environment_says_otherwise() {
        match std::env::var("MIMALLOC_ARENA_EAGER_COMMIT") {
            Err(_) => assert!(super::commits_on_demand()),
            Ok(v) => assert_eq!(super::commits_on_demand(), v.trim() == "0"),
        }
    }

    #[test]
    fn only_the_executables_code_mapping_is_released() {
        let maps = "\
55d0c0000000-55d0c1000000 r--p 00000000 08:01 42 /usr/bin/host
55d0c1000000-55d0c3000000 r-xp 01000000 08:01 42 /usr/bin/host
55d0c3000000-55d0c3100000 r--p 03000000 08:01 42 /usr/bin/host
55d0c3100000-55d0c3200000 rw-p 03100000 08:01 42 /usr/bin/host
7f0000000000-7f0000100000 r-xp 00000000 08:01 43 /usr/lib/libc.so.6
7f0000200000-7f0000300000 rw-p 00000000 00:00 0
";
        let found: Vec<_> = super::code_mappings(maps, "/usr/bin/host").collect();
        assert_eq!(found, [(0x55d0c1000000, 0x2000000)]);
    }

    #[test]
    fn the_process_runs_on_after_its_code_was_released() {
        let released = super::release_startup_code();
        assert!(released > 0, "the test binary has a code mapping");
        // Code runs again from pages mapped anew: formatting, allocation, threads.
        let joined = std::thread::spawn(|| format!("{:?}", (1..100).collect::<Vec<_>>()))
            .join()
            .unwrap();
        assert!(joined.starts_with("[1, 2"));
    }
}
