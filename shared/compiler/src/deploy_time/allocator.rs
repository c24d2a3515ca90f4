//! The sandbox's memory count. monty checks its memory limit against
//! `monty_types::LIVE_MEMORY` (minus `BASELINE_MEMORY`) at every VM checkpoint, and
//! leaves it to the executable's global allocator to keep that count. This module's
//! allocator does, for the one thread running a sandbox: every byte allocated (less
//! every byte freed) on that thread while [`SandboxMemory`] is held is counted, so
//! many small allocations (`[[i] for i in range(10**9)]`) hit the limit as one large
//! one does. Other threads are never counted; evaluations take turns, because the
//! count monty reads is one per process.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use monty_types::{BASELINE_MEMORY, LIVE_MEMORY};

/// The system allocator, counting the sandbox thread's allocations.
pub struct CountingAllocator;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

thread_local! {
    /// Whether this thread runs a sandbox now.
    static COUNTED: Cell<bool> = const { Cell::new(false) };
}

/// Net bytes allocated by the sandbox thread since its evaluation began (negative when
/// it freed memory allocated before).
static NET_BYTES: AtomicIsize = AtomicIsize::new(0);

/// One evaluation at a time (the count monty reads is per process).
static TURN: Mutex<()> = Mutex::new(());

fn counted() -> bool {
    COUNTED.try_with(Cell::get).unwrap_or(false)
}

fn record(delta: isize) {
    let net = NET_BYTES.fetch_add(delta, Ordering::Relaxed) + delta;
    LIVE_MEMORY.store(net.max(0).unsigned_abs(), Ordering::Relaxed);
}

fn signed(size: usize) -> isize {
    isize::try_from(size).unwrap_or(isize::MAX)
}

// SAFETY: every call is forwarded unchanged to `System`; the bookkeeping allocates nothing.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let pointer = unsafe { System.alloc(layout) };
        if !pointer.is_null() && counted() {
            record(signed(layout.size()));
        }
        pointer
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let pointer = unsafe { System.alloc_zeroed(layout) };
        if !pointer.is_null() && counted() {
            record(signed(layout.size()));
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(pointer, layout) };
        if counted() {
            record(-signed(layout.size()));
        }
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let moved = unsafe { System.realloc(pointer, layout, new_size) };
        if !moved.is_null() && counted() {
            record(signed(new_size) - signed(layout.size()));
        }
        moved
    }
}

/// Held while a sandbox runs on this thread: its allocations count toward monty's
/// memory limit. Dropping it stops the count.
pub(super) struct SandboxMemory {
    _turn: MutexGuard<'static, ()>,
}

impl SandboxMemory {
    /// Waits for the other evaluations, then counts this thread's allocations from zero.
    pub(super) fn count() -> Self {
        let turn = TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        NET_BYTES.store(0, Ordering::Relaxed);
        LIVE_MEMORY.store(0, Ordering::Relaxed);
        BASELINE_MEMORY.store(0, Ordering::Relaxed);
        COUNTED.with(|c| c.set(true));
        SandboxMemory { _turn: turn }
    }
}

impl Drop for SandboxMemory {
    fn drop(&mut self) {
        COUNTED.with(|c| c.set(false));
        NET_BYTES.store(0, Ordering::Relaxed);
        LIVE_MEMORY.store(0, Ordering::Relaxed);
    }
}
