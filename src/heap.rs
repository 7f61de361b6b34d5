//! Giving freed heap memory back to the kernel.
//!
//! glibc keeps freed small chunks mapped: after a burst of short-lived allocations (a whole
//! zone parsed, a snapshot decoded for a backup, a snapshot encoded, read and sent) the
//! process stays at its peak RSS even though the memory is free. At a million hosts a
//! backup left the leader ~300 MiB above its working set (1,046 MiB; 747 MiB after a
//! `malloc_trim` run from a debugger). Some of those buffers are freed only after the
//! call that made them returned (the response body, openraft's snapshot copies, sled's
//! cache), so the callers ask for a trim a little later with [`release_soon`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How long [`release_soon`] waits, so the buffers of the operation that asked are gone.
const DELAY: Duration = Duration::from_secs(2);

static PENDING: AtomicBool = AtomicBool::new(false);

/// Returns the free pages of every malloc arena to the kernel now (glibc's `malloc_trim`).
/// Milliseconds; never on the query path.
fn release_free_memory() {
    let _span = tracing::debug_span!("heap_trim").entered();
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap pages to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
    crate::metrics::HEAP_TRIMS_TOTAL.inc();
}

/// Runs [`release_free_memory`] on a helper thread after [`DELAY`]; requests made while one
/// is pending are served by it.
pub(crate) fn release_soon() {
    if PENDING.swap(true, Ordering::AcqRel) {
        return;
    }
    let spawned = std::thread::Builder::new().name("heap-trim".into()).spawn(|| {
        std::thread::sleep(DELAY);
        PENDING.store(false, Ordering::Release);
        release_free_memory();
    });
    if spawned.is_err() {
        PENDING.store(false, Ordering::Release);
    }
}
