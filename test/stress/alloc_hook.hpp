// A counting, throwing global operator new for the stress tests. Inert unless a test arms it,
// and then only on the arming thread (thread_local state): other tests of the suite, and the
// other threads of an armed test, allocate normally.
#pragma once

#include <cstddef>

namespace alloc_hook {

/// Starts counting the calling thread's allocations through operator new.
void start_counting() noexcept;
/// Stops counting or failing on the calling thread; returns the allocations counted since
/// start_counting() or fail_at() (those before the failure, and the failed one, for fail_at).
std::size_t stop() noexcept;
/// The calling thread's allocation number `n` (0-based, counted from now) throws std::bad_alloc;
/// every later one succeeds.
void fail_at(std::size_t n) noexcept;
/// True if the failure armed by fail_at() has been injected.
bool fired() noexcept;

/// RAII: stop() on scope exit (a test that throws never leaves the hook armed).
struct scope {
  scope() = default;
  scope(const scope&) = delete;
  scope& operator=(const scope&) = delete;
  ~scope() { stop(); }
};

}  // namespace alloc_hook
