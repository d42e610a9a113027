//! A global allocator that counts live bytes, for INFO's `used_memory`.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicU64, Ordering};

use mimalloc::MiMalloc;

static ALLOCATED: AtomicU64 = AtomicU64::new(0);
static PEAK: AtomicU64 = AtomicU64::new(0);

pub struct CountingAllocator;

// SAFETY: every call is forwarded unchanged to mimalloc; the counters do not affect memory.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let ptr = unsafe { MiMalloc.alloc(layout) };
        if !ptr.is_null() {
            // The peak is sampled by the cron (`note_peak`), as Redis does, to keep a load
            // and a compare out of every allocation.
            ALLOCATED.fetch_add(layout.size() as u64, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        ALLOCATED.fetch_sub(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { MiMalloc.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let ptr = unsafe { MiMalloc.alloc_zeroed(layout) };
        if !ptr.is_null() {
            ALLOCATED.fetch_add(layout.size() as u64, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let new_ptr = unsafe { MiMalloc.realloc(ptr, layout, new_size) };
        if !new_ptr.is_null() {
            ALLOCATED.fetch_add(new_size as u64, Ordering::Relaxed);
            ALLOCATED.fetch_sub(layout.size() as u64, Ordering::Relaxed);
        }
        new_ptr
    }
}

/// Live bytes, or 0 when the counting allocator is not installed (tests, benches).
pub fn allocated_bytes() -> u64 {
    ALLOCATED.load(Ordering::Relaxed)
}

/// The highest `allocated_bytes` seen by `note_peak`, or now.
pub fn peak_bytes() -> u64 {
    note_peak();
    PEAK.load(Ordering::Relaxed)
}

/// Raises the recorded peak to what is allocated now; the server cron calls it each tick.
pub fn note_peak() {
    PEAK.fetch_max(ALLOCATED.load(Ordering::Relaxed), Ordering::Relaxed);
}

/// `mi_option_arena_purge_mult` in mimalloc.h (the same index in mimalloc 2 and 3).
const MI_OPTION_ARENA_PURGE_MULT: i32 = 24;

unsafe extern "C" {
    fn mi_option_set(option: i32, value: std::ffi::c_long);
    fn mi_process_info(
        elapsed_msecs: *mut usize,
        user_msecs: *mut usize,
        system_msecs: *mut usize,
        current_rss: *mut usize,
        peak_rss: *mut usize,
        current_commit: *mut usize,
        peak_commit: *mut usize,
        page_faults: *mut usize,
    );
}

/// What the allocator holds from the system: (committed bytes, resident bytes), as
/// mimalloc measures them; INFO's `allocator_active` and `allocator_resident`.
pub fn allocator_footprint() -> (u64, u64) {
    let (mut elapsed, mut user, mut system, mut faults) = (0usize, 0usize, 0usize, 0usize);
    let (mut rss, mut peak_rss, mut commit, mut peak_commit) = (0usize, 0usize, 0usize, 0usize);
    // SAFETY: mi_process_info writes one size_t through each pointer, all valid here.
    unsafe {
        mi_process_info(
            &mut elapsed,
            &mut user,
            &mut system,
            &mut rss,
            &mut peak_rss,
            &mut commit,
            &mut peak_commit,
            &mut faults,
        )
    };
    (commit as u64, rss as u64)
}

/// Freed memory goes back to the kernel after about a second of disuse instead of 100 ms.
/// The durable log's writer (and sled under it) allocate and free a megabyte-sized buffer
/// per chunk, dozens of times a second: returned at once, each came back as fresh pages the
/// kernel zeroed, ~5,000 page faults per 2M SETs (one in ten of the writer's cycles);
/// kept for a second, ~160.
pub fn keep_freed_memory_briefly() {
    // SAFETY: mi_option_set only stores the value; any option index is accepted.
    unsafe { mi_option_set(MI_OPTION_ARENA_PURGE_MULT, 100) }
}
