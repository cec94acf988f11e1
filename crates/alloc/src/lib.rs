//! The host's allocator and its one changed default.
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

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(target_os = "linux")]
    fn arenas_commit_on_demand_unless_the_environment_says_otherwise() {
        match std::env::var("MIMALLOC_ARENA_EAGER_COMMIT") {
            Err(_) => assert!(super::commits_on_demand()),
            Ok(v) => assert_eq!(super::commits_on_demand(), v.trim() == "0"),
        }
    }
}
