// The replaceable global operator new/delete of the stress_tests binary (see alloc_hook.hpp).
// The array and nothrow forms of libstdc++ forward to operator new(std::size_t), so replacing it
// covers them; the aligned forms are not used by the library. Under ASan/LSan, malloc and free
// are still intercepted, so leak detection sees every block.
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

void* operator new(std::size_t n) {
  if (state.m != mode::off) {
    const std::size_t i = state.count++;
    if (state.m == mode::failing && i == state.target) {
      state.fired = true;
      throw std::bad_alloc();
    }
  }
  if (n == 0) n = 1;
  if (void* p = std::malloc(n)) return p;
  throw std::bad_alloc();
}

void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
