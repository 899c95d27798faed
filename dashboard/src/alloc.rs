//! The allocator's policy for freed memory. mimalloc returns freed pages to the system after a
//! delay, which keeps the peak of reading a period low (its decode frees as much as it keeps);
//! but a click on a kept period allocates and frees the same few hundred MB each time, and
//! faulting them in again, cleared by the kernel, was ~11% of a median click's CPU. So freed
//! memory is kept for reuse while periods are counted from memory, and returned as mimalloc
//! was set up to (its default, or `MIMALLOC_PURGE_DELAY`) while one is read
//! ([`analyzer::report::cache::Cache::on_reading`]).

use std::ffi::c_long;
use std::sync::OnceLock;

/// `mi_option_purge_delay`: its place in mimalloc's `mi_option_t` (v2 and v3 alike; the
/// crate names no constant for it).
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// The purge delay mimalloc started with, in milliseconds.
fn started_with() -> c_long {
    static DELAY: OnceLock<c_long> = OnceLock::new();
    // SAFETY: reads one of mimalloc's options.
    *DELAY.get_or_init(|| unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) })
}

/// Told `true` when a period starts to be read, `false` when it has been.
pub fn reading(reading: bool) {
    // Learned before the first change, whichever call makes it.
    let started = started_with();
    let delay = if reading {
        started
    } else {
        // What the read freed and the delay has not returned yet would never be: returned now.
        // SAFETY: asks mimalloc to free and purge what it holds unused; any thread may.
        unsafe { libmimalloc_sys::mi_collect(true) };
        -1
    };
    // SAFETY: sets one of mimalloc's options, a plain store that any thread may make at any
    // time; without mimalloc as the allocator (tests) it changes nothing that is used.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, delay) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freed_memory_is_kept_between_reads_and_returned_while_reading() {
        // SAFETY: reads one of mimalloc's options.
        let delay = || unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) };
        let before = delay();
        reading(false);
        assert_eq!(delay(), -1, "never purged");
        reading(true);
        assert_eq!(delay(), before, "back to where it started");
        assert!(before >= 0);
    }
}
