// The replaceable global operator new/delete of the stress_tests binary (see alloc_hook.hpp).
// The plain, array and nothrow forms are all counted; the aligned forms are left alone (the
// library does not use them). Under ASan/LSan, malloc and free are still intercepted, so leak
// detection sees every block.
#include "alloc_hook.hpp"

#include <cstdlib>
#include <new>

namespace {

enum class mode : unsigned char { off, counting, failing };

struct hook_state {
  mode m;
  bool fired;
  std::size_t count;
  std::size_t target;
};

constinit thread_local hook_state state{mode::off, false, 0, 0};

}  // namespace

namespace alloc_hook {

void start_counting() noexcept { state = {mode::counting, false, 0, 0}; }

std::size_t stop() noexcept {
  const std::size_t n = state.count;
  state.m = mode::off;
  return n;
}

void fail_at(std::size_t n) noexcept { state = {mode::failing, false, 0, n}; }

bool fired() noexcept { return state.fired; }

}  // namespace alloc_hook

namespace {

// True if the calling thread's armed failure is this allocation.
bool inject() noexcept {
  if (state.m == mode::off) return false;
  const std::size_t i = state.count++;
  if (state.m == mode::failing && i == state.target) {
    state.fired = true;
    return true;
  }
  return false;
}

void* allocate(std::size_t n) noexcept { return std::malloc(n == 0 ? 1 : n); }

}  // namespace

// Every non-aligned form is replaced, so that none of them is paired with a sanitizer's own
// operator new (ASan reports a mismatch between its operator new and our free()).
void* operator new(std::size_t n) {
  if (inject()) throw std::bad_alloc();
  if (void* p = allocate(n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  if (inject()) throw std::bad_alloc();
  if (void* p = allocate(n)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return inject() ? nullptr : allocate(n); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  return inject() ? nullptr : allocate(n);
}

void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
