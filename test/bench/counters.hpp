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
inline std::atomic<std::size_t> allocations{0};
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
