//! The allocator's policy for freed memory: kept for reuse, never returned to the system
//! (unless `MIMALLOC_PURGE_DELAY` is set, which mimalloc then follows).
//!
//! mimalloc returns freed pages after 10 ms by default. A period's read frees about as much as
//! it keeps (a file's bytes, its decoded columns, a bucket's room before it is laid out) and a
//! click allocates and frees a few hundred MB; each time, the pages came back from the kernel
//! cleared again, on this project's VMs at 1-2 s of CPU a GiB (the host backs fresh guest
//! memory anew). Kept, they are reused: a cold month 15-25% faster, clicks ~10%. The price is
//! that the server's RSS stays at its high-water mark, which the cache bounds: it makes room
//! for a period before reading it ([`analyzer::report::cache::Cache`]), so the mark is the
//! cache's budget and one read's working memory (3.4 GB over seven periods with a 3 GiB budget,
//! where returning freed memory peaked at 3.0 GB).

use std::ffi::{c_long, OsString};

/// `mi_option_purge_delay`: its place in mimalloc's `mi_option_t` (v2 and v3 alike; the
/// crate names no constant for it).
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// The purge delay to set given the environment's `MIMALLOC_PURGE_DELAY`: never (-1) unless
/// the operator chose one.
fn delay(env: Option<OsString>) -> Option<c_long> {
    env.is_none().then_some(-1)
}

/// Sets the policy; called first thing in `main`.
pub fn keep_freed_memory() {
    if let Some(delay) = delay(std::env::var_os("MIMALLOC_PURGE_DELAY")) {
        // SAFETY: sets one of mimalloc's options, a plain store that any thread may make at
        // any time; without mimalloc as the allocator (tests) it changes nothing that is used.
        unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, delay) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freed_memory_is_kept_unless_the_operator_says_otherwise() {
        assert_eq!(delay(None), Some(-1));
        assert_eq!(delay(Some("100".into())), None, "mimalloc read it already");
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            keep_freed_memory();
            // SAFETY: reads one of mimalloc's options.
            assert_eq!(unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) }, -1);
        }
    }
}
