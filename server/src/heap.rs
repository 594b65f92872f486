//! Live heap bytes: a counting wrapper around the process's allocator, for finding out whether
//! memory that the process holds is in use or only kept by the allocator.
//!
//! Counting costs two atomic operations per allocation, so it is installed only where asked:
//! `arena-server` built with the `heap-stats` feature (what `scripts/soak.sh` does), and the
//! leak test. Then `/metrics` has `arena_heap_live_bytes` and `/stats` has `heap_live_bytes`.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Bytes allocated and not yet freed, by anyone in this process (0 while not installed).
static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);

/// An allocator (`System`, jemalloc…) counting live bytes. Install it with `#[global_allocator]`:
/// `static A: CountingAlloc<System> = CountingAlloc(System);`.
pub struct CountingAlloc<A>(pub A);

#[allow(unsafe_code)]
// SAFETY: every call is passed unchanged to the inner allocator, which upholds `GlobalAlloc`'s
// contract; the wrapper only adds and subtracts the sizes of the blocks it handed out or took back.
unsafe impl<A: GlobalAlloc> GlobalAlloc for CountingAlloc<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc`, passed on.
        let p = unsafe { self.0.alloc(layout) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc_zeroed`, passed on.
        let p = unsafe { self.0.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract for `dealloc`, passed on.
        unsafe { self.0.dealloc(ptr, layout) };
        LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract for `realloc`, passed on.
        let p = unsafe { self.0.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(new_size, Ordering::Relaxed);
            LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        p
    }
}

/// Bytes on the heap in use now, or `None` if [`CountingAlloc`] is not the global allocator
/// (a running program has always allocated something by the time it asks).
#[must_use]
pub fn live_bytes() -> Option<u64> {
    match LIVE_BYTES.load(Ordering::Relaxed) {
        0 => None,
        n => Some(n as u64),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn without_the_counting_allocator_there_is_no_figure() {
        // The unit tests run on the plain system allocator: nothing is counted, nothing invented.
        assert_eq!(super::live_bytes(), None);
    }
}
