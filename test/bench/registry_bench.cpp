// jobs::registry (issue 11, "Performance"): select over 10^5 registered jobs with a two-term
// selector, add and remove, and the memory of an entry.
//
//   BM_select/<state>      reg.select("tier=batch,env!=prod") over 10^5 jobs of which 18.75 %
//                          match; <state> "never_run" (every start time the epoch: the order
//                          falls to the ids) or "ran" (each job ran once: distinct start times).
//                          per_match = CPU time per job matched; per_job = per job registered.
//   BM_match_only          the same selector's matches() over the same 10^5 label maps, without
//                          the registry (the floor: matching alone).
//   BM_add, BM_remove      10^4 adds (or removes) into a registry that holds 10^5 jobs; per item.
//   BM_entry_bytes         heap bytes (glibc mallinfo2) of 10^5 entries added to an empty
//                          registry, the jobs themselves already made: bytes per entry, and the
//                          bytes of a job for comparison.
//
// Everything runs on the main thread; times are its CPU time. Allocations are counted by a
// replaced operator new (counters.hpp).
#include "counters.hpp"

#include <jobs/job.hpp>
#include <jobs/registry.hpp>

#include <benchmark/benchmark.h>
#include <boost/asio/io_context.hpp>

#include <malloc.h>

#include <cstdio>
#include <string>
#include <vector>

namespace {

namespace asio = boost::asio;

constexpr std::size_t registered = 100'000;
const char* const tiers[] = {"batch", "web", "api", "cron"};    // tier=batch: 1/4
const char* const envs[] = {"prod", "dev", "staging", "test"};  // env!=prod: 3/4
constexpr const char* two_terms = "tier=batch,env!=prod";       // 18.75 % of the jobs

jobs::body trivial() {
  return [](jobs::context&) -> asio::awaitable<void> { co_return; };
}

jobs::job make_job(asio::io_context& io, std::size_t i, const char* prefix = "job-") {
  return jobs::job(
      io, prefix + std::to_string(i), trivial(),
      jobs::with_labels(
          {{"tier", tiers[i % 4]}, {"env", envs[(i / 4) % 4]}, {"app", "app-" + std::to_string(i % 100)}}));
}

struct fixture {
  asio::io_context io;
  jobs::registry reg{io};
  std::vector<jobs::job> all;
  explicit fixture(bool run) {
    all.reserve(registered);
    for (std::size_t i = 0; i < registered; ++i) {
      all.push_back(make_job(io, i));
      reg.add(all.back());
      if (run) {  // one at a time: distinct start times, and no 10^5 runs alive at once
        all.back().run();
        io.run();
        io.restart();
      }
    }
  }
};

std::size_t mallinfo_bytes() { return mallinfo2().uordblks; }

void BM_select(benchmark::State& state) {
  fixture f(state.range(0) != 0);
  const auto sel = jobs::selector::parse(two_terms);
  std::size_t matched = 0;
  const std::size_t allocs_before = bench::allocations.load();
  for (auto _ : state) {
    auto v = f.reg.select(sel);
    matched = v.size();
    benchmark::DoNotOptimize(v.data());
  }
  const double n = static_cast<double>(state.iterations());
  state.counters["matched"] = static_cast<double>(matched);
  state.counters["per_match"] = benchmark::Counter(static_cast<double>(matched) * n,
                                                   benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["per_job"] = benchmark::Counter(static_cast<double>(registered) * n,
                                                 benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["allocs/select"] = static_cast<double>(bench::allocations.load() - allocs_before) / n;
}
BENCHMARK(BM_select)->Arg(0)->Arg(1)->ArgName("ran")->Unit(benchmark::kMillisecond);

void BM_match_only(benchmark::State& state) {
  std::vector<jobs::labels> labels;
  labels.reserve(registered);
  for (std::size_t i = 0; i < registered; ++i)
    labels.push_back(
        {{"tier", tiers[i % 4]}, {"env", envs[(i / 4) % 4]}, {"app", "app-" + std::to_string(i % 100)}});
  const auto sel = jobs::selector::parse(two_terms);
  std::size_t matched = 0;
  for (auto _ : state) {
    matched = 0;
    for (const auto& l : labels) matched += sel.matches(l) ? 1 : 0;
    benchmark::DoNotOptimize(matched);
  }
  state.counters["matched"] = static_cast<double>(matched);
  state.counters["per_job"] =
      benchmark::Counter(static_cast<double>(registered) * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_match_only)->Unit(benchmark::kMillisecond);

constexpr std::size_t batch = 10'000;

void BM_add(benchmark::State& state) {
  fixture f(false);
  std::vector<jobs::job> more;
  for (std::size_t i = 0; i < batch; ++i) more.push_back(make_job(f.io, i, "more-"));
  std::size_t allocs = 0;
  for (auto _ : state) {
    const std::size_t before = bench::allocations.load();
    for (const auto& j : more) f.reg.add(j);
    allocs += bench::allocations.load() - before;
    state.PauseTiming();
    for (const auto& j : more) f.reg.remove(j.id());
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * batch));
  state.counters["allocs/add"] =
      static_cast<double>(allocs) / static_cast<double>(state.iterations() * batch);
}
BENCHMARK(BM_add)->Unit(benchmark::kMillisecond);

void BM_remove(benchmark::State& state) {
  fixture f(false);
  std::vector<jobs::job> more;
  for (std::size_t i = 0; i < batch; ++i) more.push_back(make_job(f.io, i, "more-"));
  std::size_t allocs = 0;
  for (auto _ : state) {
    state.PauseTiming();
    for (const auto& j : more) f.reg.add(j);
    state.ResumeTiming();
    const std::size_t before = bench::allocations.load();
    for (const auto& j : more) f.reg.remove(j.id());
    allocs += bench::allocations.load() - before;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * batch));
  state.counters["allocs/remove"] =
      static_cast<double>(allocs) / static_cast<double>(state.iterations() * batch);
}
BENCHMARK(BM_remove)->Unit(benchmark::kMillisecond);

void BM_entry_bytes(benchmark::State& state) {
  for (auto _ : state) {
    asio::io_context io;
    const std::size_t before_jobs = mallinfo_bytes();
    std::vector<jobs::job> all;
    all.reserve(registered);
    for (std::size_t i = 0; i < registered; ++i) all.push_back(make_job(io, i));
    const std::size_t jobs_bytes = mallinfo_bytes() - before_jobs;
    const std::size_t before = mallinfo_bytes();
    const std::size_t allocs_before = bench::allocations.load();
    {
      jobs::registry reg(io);
      for (const auto& j : all) reg.add(j);
      state.counters["bytes/entry"] = static_cast<double>(mallinfo_bytes() - before) / registered;
      state.counters["allocs/entry"] =
          static_cast<double>(bench::allocations.load() - allocs_before) / registered;
    }
    state.counters["bytes/job"] = static_cast<double>(jobs_bytes) / registered;
  }
}
BENCHMARK(BM_entry_bytes)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
