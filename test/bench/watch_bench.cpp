// What watching costs a body that reports progress: context::set_progress with no watcher and
// with 10 armed watchers (each call then completes all 10 with a snapshot).
//
//   build/release/test/bench/watch_bench --benchmark_repetitions=3
#include "counters.hpp"

#include <jobs/job.hpp>

#include <benchmark/benchmark.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/log/core.hpp>
#include <boost/log/expressions.hpp>
#include <boost/log/trivial.hpp>

#include <optional>

namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

// A job whose body hands its context out and then waits until cancelled.
struct running_job {
  asio::io_context io;
  std::optional<jobs::context> ctx;
  jobs::job j{io, "progress", [this](jobs::context& c) -> asio::awaitable<void> {
                ctx.emplace(c);
                asio::steady_timer t(c.get_executor(), std::chrono::hours(24));
                co_await t.async_wait(asio::use_awaitable);
              }};
  running_job() {
    j.run();
    while (!ctx) io.run_one();
  }
  ~running_job() {
    j.cancel();
    io.run();
  }
};

// `n` watchers that re-arm forever on the io_context; `deliveries` counts their completions.
void spawn_watchers(running_job& r, int n, std::size_t& deliveries) {
  for (int i = 0; i < n; ++i) {
    asio::co_spawn(
        r.io,
        [&r, &deliveries]() -> asio::awaitable<void> {
          std::uint64_t v = r.j.stats().version;
          for (;;) {
            auto s = co_await r.j.async_watch(v, asio::use_awaitable);
            v = s.version;
            ++deliveries;
            if (jobs::is_done(s.state)) co_return;
          }
        },
        asio::detached);
  }
  r.io.poll();  // every watcher armed
}

void set_progress(benchmark::State& state) {
  const int watchers = static_cast<int>(state.range(0));
  running_job r;
  std::size_t deliveries = 0;
  spawn_watchers(r, watchers, deliveries);
  const std::size_t a0 = bench::allocations.load();
  std::int64_t calls = 0;
  double p = 0.25;
  for (auto _ : state) {
    r.ctx->set_progress(p);  // a change every call
    p = p == 0.25 ? 0.75 : 0.25;
    ++calls;
    if (watchers) {
      state.PauseTiming();
      r.io.poll();  // the watchers take their snapshot and re-arm
      state.ResumeTiming();
    }
  }
  if (r.j.progress() != (p == 0.25 ? 0.75 : 0.25)) state.SkipWithError("progress not recorded");
  if (watchers && deliveries != static_cast<std::size_t>(calls * watchers))
    state.SkipWithError("a watcher missed a change");
  state.counters["allocs/cycle"] = benchmark::Counter(double(bench::allocations.load() - a0) / double(calls));
  state.counters["deliveries/call"] = benchmark::Counter(double(deliveries) / double(calls));
}
BENCHMARK(set_progress)->Arg(0)->Arg(10)->ArgName("watchers");

}  // namespace

int main(int argc, char** argv) {
  boost::log::core::get()->set_filter(boost::log::trivial::severity >= boost::log::trivial::info);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
