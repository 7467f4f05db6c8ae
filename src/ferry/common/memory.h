#pragma once
// Giving freed heap memory back to the operating system.
//
// glibc's malloc keeps what a large request freed (a 100,000-point metric
// history is tens of MB of JSON nodes) in its per-thread arenas, so the
// process's RSS stays at its high-water mark long after the memory is free.
// ReleaseFreeMemory returns the free pages of every arena (malloc_trim(0)).
// It costs time proportional to the heap, a few ms for a few hundred MB, so
// callers run it off latency-sensitive threads and only after large work.
//
// Thread-safety: thread-safe.
#include <cstddef>

namespace ferry {

// Returns free heap pages to the OS; a no-op where the C library has no way.
void ReleaseFreeMemory();

}  // namespace ferry
