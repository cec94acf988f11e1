//! The guest's allocator: a bump arena for what one call allocates, in
//! front of the standard allocator (dlmalloc on `wasm32`).
//!
//! Nearly everything a transform allocates dies with the call: the input
//! batch the host lowered, the strings of the rows, the outcome list, which
//! the host reads and then frees through `cabi_post_transform`. dlmalloc's
//! `malloc` and `free` were a quarter of flatten's time in the guest
//! (docs/benchmarks.md). Here an allocation moves a pointer and a free
//! lowers a count; when the count of live arena blocks is back to zero (at
//! the latest when the host has freed a call's results) the arena starts
//! again from its base.
//!
//! What outlives calls must not hold the arena: [`persistent`] runs a closure
//! (the plugin's `new`, the panic hook's installation) with every allocation
//! going to the standard allocator. A block that does outlive its call
//! anyway (a cache a transform fills) is still safe: the arena cannot reset
//! while it lives, fills up, and from then on allocations go to the standard
//! allocator, as without the arena. Large blocks and blocks that do not fit
//! go there too. Guests are single-threaded; the state is in atomics only
//! so that the allocator can be a `static`.

#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// The arena's size, taken from the standard allocator at the first
/// allocation outside [`persistent`]: a call of 64 randomuser records
/// allocates ~150 KiB in flatten.
pub const ARENA_BYTES: usize = 512 << 10;

/// A bump arena over [`System`]. See the module documentation.
pub struct Arena {
    /// Start of the region; 0 until taken, 1 if it could not be.
    base: AtomicUsize,
    /// The next free byte.
    top: AtomicUsize,
    /// One past the region's last byte.
    end: AtomicUsize,
    /// Arena blocks allocated and not yet freed.
    live: AtomicUsize,
    /// Nesting depth of [`persistent`] sections: above zero, only `System`.
    persistent: AtomicUsize,
    size: usize,
}

const NOT_TAKEN: usize = 0;
const UNAVAILABLE: usize = 1;

impl Arena {
    /// An arena of `size` bytes (taken on first use).
    pub const fn new(size: usize) -> Self {
        Arena {
            base: AtomicUsize::new(NOT_TAKEN),
            top: AtomicUsize::new(0),
            end: AtomicUsize::new(0),
            live: AtomicUsize::new(0),
            persistent: AtomicUsize::new(0),
            size,
        }
    }

    /// True when `ptr` is inside the arena's region.
    fn owns(&self, ptr: *mut u8) -> bool {
        let base = self.base.load(Relaxed);
        let addr = ptr as usize;
        base > UNAVAILABLE && addr >= base && addr < self.end.load(Relaxed)
    }

    /// Takes the region from `System`, once.
    fn take_region(&self) -> bool {
        match self.base.load(Relaxed) {
            UNAVAILABLE => false,
            NOT_TAKEN => {
                let Ok(layout) = Layout::from_size_align(self.size, 16) else {
                    self.base.store(UNAVAILABLE, Relaxed);
                    return false;
                };
                // SAFETY: a non-zero size (the constant is); the region is
                // never given back, so no layout has to be remembered.
                let region = unsafe { System.alloc(layout) } as usize;
                if region <= UNAVAILABLE {
                    self.base.store(UNAVAILABLE, Relaxed);
                    return false;
                }
                self.base.store(region, Relaxed);
                self.top.store(region, Relaxed);
                self.end.store(region + self.size, Relaxed);
                true
            }
            _ => true,
        }
    }

    /// A block from the arena, if it has room and is in use.
    fn bump(&self, layout: Layout) -> Option<*mut u8> {
        if self.persistent.load(Relaxed) > 0 || !self.take_region() {
            return None;
        }
        let top = self.top.load(Relaxed);
        let start = top.checked_add(layout.align() - 1)? & !(layout.align() - 1);
        let next = start.checked_add(layout.size())?;
        if next > self.end.load(Relaxed) {
            return None;
        }
        self.top.store(next, Relaxed);
        self.live.fetch_add(1, Relaxed);
        Some(start as *mut u8)
    }

    /// Frees an arena block: only the count goes down, and the whole arena
    /// is free again when it reaches zero.
    fn release(&self) {
        if self.live.fetch_sub(1, Relaxed) == 1 {
            self.top.store(self.base.load(Relaxed), Relaxed);
        }
    }

    /// Arena blocks not yet freed.
    #[cfg(test)]
    fn live(&self) -> usize {
        self.live.load(Relaxed)
    }

    /// Bytes of the arena in use.
    #[cfg(test)]
    fn used(&self) -> usize {
        match self.base.load(Relaxed) {
            NOT_TAKEN | UNAVAILABLE => 0,
            base => self.top.load(Relaxed) - base,
        }
    }

    /// Runs `f` with every allocation going to `System`: for what outlives
    /// the call (the plugin's state).
    pub fn persistent<R>(&self, f: impl FnOnce() -> R) -> R {
        struct Leave<'a>(&'a AtomicUsize);
        impl Drop for Leave<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Relaxed);
            }
        }
        self.persistent.fetch_add(1, Relaxed);
        let _leave = Leave(&self.persistent);
        f()
    }
}

// SAFETY: every block handed out is either `System`'s (and goes back to it)
// or a range of the arena's region that no other live block overlaps: the
// bump pointer only moves back to the base when no arena block is live, and
// a block grows in place only when it is the last one.
unsafe impl GlobalAlloc for Arena {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match self.bump(layout) {
            Some(ptr) => ptr,
            // SAFETY: the caller's layout, passed on.
            None => unsafe { System.alloc(layout) },
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if self.owns(ptr) {
            self.release();
        } else {
            // SAFETY: not the arena's, so `System` allocated it with `layout`.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !self.owns(ptr) {
            // SAFETY: `System`'s block, with the caller's arguments.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        // The last block grows (or shrinks) where it is.
        let addr = ptr as usize;
        if addr + layout.size() == self.top.load(Relaxed) {
            if let Some(next) = addr.checked_add(new_size) {
                if next <= self.end.load(Relaxed) && self.persistent.load(Relaxed) == 0 {
                    self.top.store(next, Relaxed);
                    return ptr;
                }
            }
        }
        // SAFETY: `new_size` is non-zero and fits `isize` after rounding
        // (GlobalAlloc::realloc's contract), so the layout is valid.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: as `alloc`.
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            // SAFETY: both blocks are live and distinct (the old one is
            // still counted, so the arena did not reset under it), and each
            // holds at least the bytes copied.
            unsafe { std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size)) };
            self.release();
        }
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    #[test]
    fn blocks_come_from_the_arena_and_it_starts_again_when_all_are_freed() {
        let arena = Arena::new(4096);
        unsafe {
            let a = arena.alloc(layout(10, 1));
            let b = arena.alloc(layout(8, 8));
            assert!(arena.owns(a) && arena.owns(b));
            assert_eq!(b as usize % 8, 0, "aligned");
            assert!(b as usize >= a as usize + 10, "no overlap");
            a.write_bytes(0xAA, 10);
            b.write_bytes(0xBB, 8);
            assert_eq!(*a.add(9), 0xAA, "b did not overwrite a");
            assert_eq!(arena.live(), 2);
            arena.dealloc(a, layout(10, 1));
            assert!(arena.used() > 0, "b still lives: no reset yet");
            arena.dealloc(b, layout(8, 8));
            assert_eq!(
                (arena.live(), arena.used()),
                (0, 0),
                "all freed: back to the base"
            );
            let c = arena.alloc(layout(10, 1));
            assert_eq!(c, a, "the next call reuses the same bytes");
            arena.dealloc(c, layout(10, 1));
        }
    }

    #[test]
    fn what_does_not_fit_and_what_is_persistent_goes_to_the_system_allocator() {
        let arena = Arena::new(64);
        unsafe {
            let big = arena.alloc(layout(100, 1));
            assert!(!big.is_null() && !arena.owns(big));
            let kept = arena.persistent(|| arena.alloc(layout(8, 1)));
            assert!(!arena.owns(kept), "plugin state never pins the arena");
            let small = arena.alloc(layout(48, 1));
            assert!(arena.owns(small));
            let spill = arena.alloc(layout(32, 1));
            assert!(!arena.owns(spill), "the arena is full");
            for (p, size) in [(big, 100), (kept, 8), (small, 48), (spill, 32)] {
                arena.dealloc(p, layout(size, 1));
            }
            assert_eq!(arena.live(), 0);
        }
    }

    #[test]
    fn the_last_block_grows_in_place_and_others_move_with_their_bytes() {
        let arena = Arena::new(4096);
        unsafe {
            let a = arena.alloc(layout(4, 1));
            a.copy_from_nonoverlapping(b"abcd".as_ptr(), 4);
            let grown = arena.realloc(a, layout(4, 1), 16);
            assert_eq!(grown, a, "the last block grows where it is");
            let b = arena.alloc(layout(4, 1));
            let moved = arena.realloc(a, layout(16, 1), 64);
            assert_ne!(moved, a, "a is no longer last: it moves");
            assert_eq!(std::slice::from_raw_parts(moved, 4), b"abcd");
            assert_eq!(arena.live(), 2, "the old block was released");
            arena.dealloc(b, layout(4, 1));
            arena.dealloc(moved, layout(64, 1));
            assert_eq!((arena.live(), arena.used()), (0, 0));
            // A block of the system allocator reallocates there.
            let sys = arena.persistent(|| arena.alloc(layout(8, 1)));
            let sys2 = arena.realloc(sys, layout(8, 1), 4000);
            assert!(!arena.owns(sys2));
            arena.dealloc(sys2, layout(4000, 1));
        }
    }

    #[test]
    fn a_block_that_outlives_its_call_keeps_the_arena_from_resetting_under_it() {
        let arena = Arena::new(256);
        unsafe {
            let cache = arena.alloc(layout(16, 1));
            cache.write_bytes(7, 16);
            for _ in 0..100 {
                let t = arena.alloc(layout(16, 1));
                if !t.is_null() {
                    t.write_bytes(9, 16);
                    arena.dealloc(t, layout(16, 1));
                }
            }
            assert!(
                std::slice::from_raw_parts(cache, 16)
                    .iter()
                    .all(|&b| b == 7),
                "the cache's bytes were never handed out again"
            );
            arena.dealloc(cache, layout(16, 1));
            assert_eq!((arena.live(), arena.used()), (0, 0));
        }
    }
}
