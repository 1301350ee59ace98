//! How the process holds memory. An instance should stay within 64 MB (many run side by side):
//! glibc's malloc, left to itself, gives each busy thread an arena of its own and keeps freed
//! memory in them, so a few bursts of requests would leave every arena holding its peak.

/// At startup: at most two arenas (the machine's work, not its threads, sets how many are
/// needed; each request's allocations are short-lived), and blocks of 1 MiB and more mapped on
/// their own and given back when freed. glibc raises its mmap threshold to the largest block
/// freed, so Argon2's 19 MiB blocks (one per login) would otherwise come from the arenas and
/// stay there: 500 concurrent logins left the process holding 4 to 9 GiB even with two checks
/// at a time (`cargo bench --bench floods`).
pub fn settle() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; it is thread-safe in glibc and takes no
    // pointers.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

/// Gives freed memory back to the system: after startup (building the server frees what
/// reading the configuration, templates and catalogues needed) and after each housekeeping
/// round.
pub fn give_back() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory at the top of the heap and free pages
    // inside it; it takes no pointers and is thread-safe in glibc.
    unsafe {
        libc::malloc_trim(0);
    }
}
