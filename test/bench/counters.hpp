// Counters for honest benchmarks: heap allocations (a replaced global operator new) and C++
// exceptions thrown (an interposed __cxa_throw), plus the process's resident set size
// (proc_status.hpp).
// Include in exactly one translation unit per executable (each *_bench.cpp is one).
#pragma once

// The replaced operator new/delete are malloc/free: once GCC inlines a new/delete pair it warns
// (-Wmismatched-new-delete) about freeing memory from operator new, a false positive in a
// program that replaces both.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include "proc_status.hpp"

#include <dlfcn.h>

#include <atomic>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <typeinfo>

namespace bench {

// A counter that threads bump without sharing a cache line: each thread adds to a shard of its
// own (up to 64 threads; more share), and load() sums them. One std::atomic bumped by every
// allocation of two threads would be a cache line both write on every run, a cost of the
// benchmark that a multi-threaded measurement (BM_pool_*, BM_context_per_thread_*) would then
// charge to the code measured.
class sharded_counter {
 public:
  void fetch_add(std::size_t n, std::memory_order order) noexcept { shards_[shard()].n.fetch_add(n, order); }
  std::size_t load() const noexcept {
    std::size_t sum = 0;
    for (const auto& s : shards_) sum += s.n.load(std::memory_order_relaxed);
    return sum;
  }

 private:
  static constexpr unsigned shard_count = 64;
  struct alignas(64) shard_t {
    std::atomic<std::size_t> n{0};
  };
  static unsigned shard() noexcept {
    static std::atomic<unsigned> next{0};
    thread_local const unsigned mine = next.fetch_add(1, std::memory_order_relaxed) % shard_count;
    return mine;
  }
  shard_t shards_[shard_count];
};

inline sharded_counter allocations;
inline std::atomic<std::size_t> throws{0};
}  // namespace bench

void* operator new(std::size_t n) {
  bench::allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return ::operator new(n); }
void* operator new(std::size_t n, std::align_val_t a) {
  bench::allocations.fetch_add(1, std::memory_order_relaxed);
  const std::size_t al = static_cast<std::size_t>(a);
  if (void* p = std::aligned_alloc(al, (n + al - 1) / al * al)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t a) { return ::operator new(n, a); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

// GCC declares __cxa_throw implicitly as (void*, void*, void (*)(void*)): the same here.
extern "C" [[noreturn]] void __cxa_throw(void* obj, void* type, void (*destroy)(void*)) {
  bench::throws.fetch_add(1, std::memory_order_relaxed);
  using real_t = void (*)(void*, void*, void (*)(void*));
  static const real_t real = reinterpret_cast<real_t>(dlsym(RTLD_NEXT, "__cxa_throw"));
  real(obj, type, destroy);
  __builtin_unreachable();
}
