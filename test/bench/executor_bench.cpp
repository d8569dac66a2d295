// The executor's overhead, side by side with what it is built from: `start` of a trivial job with
// no policy, with with_timeout(30s), and with timeout + with_retry(3, 0), against job.async_run
// alone and against a hand-written parallel_group race of the same body and a 30 s timer.
// Reports ns/op, heap allocations per op and C++ exceptions thrown (must stay 0).
//
//   cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DJOBS_BUILD_BENCH=ON
//   cmake --build build/release --target executor_bench && build/release/test/bench/executor_bench
// counters.hpp's __cxa_throw takes a std::type_info*, which GCC 12 rejects against its own
// implicit declaration (void*): as in job_bench.cpp, its counting function is compiled under
// another name and the interposer, with GCC's signature, forwards to it. Its replaced operator
// new/delete are malloc/free, which -Wmismatched-new-delete wrongly flags once inlined.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#include <typeinfo>
#define __cxa_throw bench_counted_cxa_throw
#include "counters.hpp"
#undef __cxa_throw
extern "C" [[noreturn]] void __cxa_throw(void* obj, void* type, void (*destroy)(void*)) {
  bench_counted_cxa_throw(obj, static_cast<std::type_info*>(type), destroy);
}

#include <jobs/executor.hpp>
#include <jobs/job.hpp>

#include <benchmark/benchmark.h>
#include <boost/asio.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/log/core.hpp>
#include <boost/log/expressions.hpp>
#include <boost/log/trivial.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

asio::awaitable<void> trivial_body(jobs::context&) { co_return; }

// Counts allocations and throws over the measured loop.
struct counted {
  benchmark::State& state;
  std::size_t allocs0 = bench::allocations.load();
  std::size_t throws0 = bench::throws.load();
  std::size_t failures = 0;
  ~counted() {
    state.counters["allocs/op"] = benchmark::Counter(static_cast<double>(bench::allocations.load() - allocs0),
                                                     benchmark::Counter::kAvgIterations);
    state.counters["throws"] = static_cast<double>(bench::throws.load() - throws0);
    if (failures) state.SkipWithError("an operation failed");
  }
};

void quiet_logs() {
  static bool once = [] {
    boost::log::core::get()->set_filter(boost::log::trivial::severity >= boost::log::trivial::info);
    return true;
  }();
  (void)once;
}

// ---- callbacks: one operation per iteration, the io_context run until it completes ------------

void BM_job_async_run(benchmark::State& state) {
  quiet_logs();
  asio::io_context io;
  jobs::job j(io, "bench", trivial_body);
  counted c{state};
  for (auto _ : state) {
    j.async_run([&](std::exception_ptr e) { c.failures += e != nullptr; });
    io.restart();
    io.run();
  }
}
BENCHMARK(BM_job_async_run);

// The bare baselines of the fast-path goals: the body co_spawned on a strand, alone; and raced
// by hand against a 30 s steady_timer on that strand whose handler emits a cancellation_signal
// bound to the body (no ||, no parallel_group): what an application writes without the library.
asio::awaitable<void> bare_body() { co_return; }

void BM_bare_co_spawn_strand(benchmark::State& state) {
  asio::io_context io;
  auto strand = asio::make_strand(io);
  counted c{state};
  for (auto _ : state) {
    asio::co_spawn(strand, bare_body(), [&](std::exception_ptr e) { c.failures += e != nullptr; });
    io.restart();
    io.run();
  }
}
BENCHMARK(BM_bare_co_spawn_strand);

void BM_bare_timer_race_30s(benchmark::State& state) {
  asio::io_context io;
  auto strand = asio::make_strand(io);
  asio::steady_timer timer(strand);
  counted c{state};
  for (auto _ : state) {
    asio::cancellation_signal signal;
    timer.expires_after(30s);
    timer.async_wait([&](boost::system::error_code ec) {
      if (!ec) signal.emit(asio::cancellation_type::terminal);
    });
    asio::co_spawn(strand, bare_body(),
                   asio::bind_cancellation_slot(signal.slot(), [&](std::exception_ptr e) {
                     timer.cancel();
                     c.failures += e != nullptr;
                   }));
    io.restart();
    io.run();
  }
}
BENCHMARK(BM_bare_timer_race_30s);

void BM_handwritten_race_30s(benchmark::State& state) {
  quiet_logs();
  asio::io_context io;
  jobs::job j(io, "bench", trivial_body);
  counted c{state};
  for (auto _ : state) {
    asio::steady_timer timer(io, 30s);
    asio::experimental::make_parallel_group(j.async_run(asio::deferred), timer.async_wait(asio::deferred))
        .async_wait(asio::experimental::wait_for_one(),
                    [&](std::array<std::size_t, 2>, std::exception_ptr e, boost::system::error_code) {
                      c.failures += e != nullptr;
                    });
    io.restart();
    io.run();
  }
}
BENCHMARK(BM_handwritten_race_30s);

template <class... Options>
void start_loop(benchmark::State& state, Options... options) {
  quiet_logs();
  asio::io_context io;
  jobs::job j(io, "bench", trivial_body);
  jobs::executor exec(j, options...);
  counted c{state};
  for (auto _ : state) {
    exec.async_start([&](std::exception_ptr e) { c.failures += e != nullptr; });
    io.restart();
    io.run();
  }
}

void BM_executor_start(benchmark::State& state) { start_loop(state); }
BENCHMARK(BM_executor_start);

void BM_executor_start_timeout_30s(benchmark::State& state) { start_loop(state, jobs::with_timeout(30s)); }
BENCHMARK(BM_executor_start_timeout_30s);

void BM_executor_start_timeout_retry3(benchmark::State& state) {
  start_loop(state, jobs::with_timeout(30s), jobs::with_retry(3, 0s));
}
BENCHMARK(BM_executor_start_timeout_retry3);

// ---- coroutines: the loop runs inside one coroutine, as a server's request handler would -------

void BM_coro_job_async_run(benchmark::State& state) {
  quiet_logs();
  asio::io_context io;
  jobs::job j(io, "bench", trivial_body);
  counted c{state};
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        for (auto _ : state) co_await j.async_run(asio::deferred);
      },
      [&](std::exception_ptr e) { c.failures += e != nullptr; });
  io.run();
}
BENCHMARK(BM_coro_job_async_run);

void BM_coro_bare_timer_race_30s(benchmark::State& state) {
  asio::io_context io;
  auto strand = asio::make_strand(io);
  counted c{state};
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        asio::steady_timer timer(strand);
        for (auto _ : state) {
          asio::cancellation_signal signal;
          timer.expires_after(30s);
          timer.async_wait([&](boost::system::error_code ec) {
            if (!ec) signal.emit(asio::cancellation_type::terminal);
          });
          auto [e] = co_await asio::co_spawn(
              strand, bare_body(),
              asio::bind_cancellation_slot(signal.slot(), asio::as_tuple(asio::use_awaitable)));
          timer.cancel();
          c.failures += e != nullptr;
        }
      },
      [&](std::exception_ptr e) { c.failures += e != nullptr; });
  io.run();
}
BENCHMARK(BM_coro_bare_timer_race_30s);

void BM_coro_handwritten_race_30s(benchmark::State& state) {
  quiet_logs();
  asio::io_context io;
  jobs::job j(io, "bench", trivial_body);
  counted c{state};
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        for (auto _ : state) {
          asio::steady_timer timer(io, 30s);
          auto [order, e, ec] = co_await asio::experimental::make_parallel_group(
                                    j.async_run(asio::deferred), timer.async_wait(asio::deferred))
                                    .async_wait(asio::experimental::wait_for_one(), asio::deferred);
          c.failures += e != nullptr;
        }
      },
      [&](std::exception_ptr e) { c.failures += e != nullptr; });
  io.run();
}
BENCHMARK(BM_coro_handwritten_race_30s);

template <class... Options>
void coro_start_loop(benchmark::State& state, Options... options) {
  quiet_logs();
  asio::io_context io;
  jobs::job j(io, "bench", trivial_body);
  jobs::executor exec(j, options...);
  counted c{state};
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        for (auto _ : state) co_await exec.start();
      },
      [&](std::exception_ptr e) { c.failures += e != nullptr; });
  io.run();
}

void BM_coro_executor_start(benchmark::State& state) { coro_start_loop(state); }
BENCHMARK(BM_coro_executor_start);

void BM_coro_executor_start_timeout_30s(benchmark::State& state) {
  coro_start_loop(state, jobs::with_timeout(30s));
}
BENCHMARK(BM_coro_executor_start_timeout_30s);

void BM_coro_executor_start_timeout_retry3(benchmark::State& state) {
  coro_start_loop(state, jobs::with_timeout(30s), jobs::with_retry(3, 0s));
}
BENCHMARK(BM_coro_executor_start_timeout_retry3);

// ---- --profile=<side> N: N operations outside Google Benchmark, for callgrind -----------------
//   valgrind --tool=callgrind --toggle-collect='*profiled_*' executor_bench --profile=start 20000
// Sides: bare (co_spawn on a strand), bare_race (the hand-written timer race), run
// (job.async_run), start, start_timeout (with_timeout(30s)). Each op runs the io_context until it
// completes, as the benchmarks above do; 1000 uncollected ops first.
template <class Op>
[[gnu::noipa]] std::size_t profiled_ops(Op& op, std::size_t n) {
  std::size_t ok = 0;
  for (std::size_t i = 0; i < n; ++i) ok += op();
  return ok;
}

int profile(std::string_view side, std::size_t n) {
  asio::io_context io;
  auto strand = asio::make_strand(io);
  asio::steady_timer timer(strand);
  jobs::job j(io, "bench", trivial_body);
  std::optional<jobs::executor> exec;
  if (side == "start") exec.emplace(j);
  if (side == "start_timeout") exec.emplace(j, jobs::with_timeout(30s));
  std::size_t failures = 0;
  auto run_once = [&] {
    io.restart();
    io.run();
    return failures == 0 ? 1 : 0;
  };
  auto go = [&](auto op) {
    profiled_ops(op, 1000);
    return profiled_ops(op, n);
  };
  std::size_t ok = 0;
  if (side == "bare") {
    ok = go([&] {
      asio::co_spawn(strand, bare_body(), [&](std::exception_ptr e) { failures += e != nullptr; });
      return run_once();
    });
  } else if (side == "bare_race") {
    ok = go([&] {
      asio::cancellation_signal signal;
      timer.expires_after(30s);
      timer.async_wait([&](boost::system::error_code ec) {
        if (!ec) signal.emit(asio::cancellation_type::terminal);
      });
      asio::co_spawn(strand, bare_body(),
                     asio::bind_cancellation_slot(signal.slot(), [&](std::exception_ptr e) {
                       timer.cancel();
                       failures += e != nullptr;
                     }));
      return run_once();
    });
  } else if (side == "run") {
    ok = go([&] {
      j.async_run([&](std::exception_ptr e) { failures += e != nullptr; });
      return run_once();
    });
  } else if (exec) {
    ok = go([&] {
      exec->async_start([&](std::exception_ptr e) { failures += e != nullptr; });
      return run_once();
    });
  } else {
    std::fprintf(stderr, "unknown side %.*s\n", static_cast<int>(side.size()), side.data());
    return 2;
  }
  std::printf("%zu of %zu %.*s ops completed without error\n", ok, n, static_cast<int>(side.size()),
              side.data());
  return ok == n ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  constexpr std::string_view profile_flag = "--profile=";
  if (argc == 3 && std::string_view(argv[1]).starts_with(profile_flag))
    return profile(std::string_view(argv[1]).substr(profile_flag.size()), std::stoul(argv[2]));
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
