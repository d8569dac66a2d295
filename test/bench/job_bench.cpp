// jobs::job against bare asio::co_spawn, side by side in one binary (issue 2, "Performance").
//
//   BM_run_*     trivial body (co_return at once), run + completion on a one-thread io_context;
//                1000 runs chained from the completion handlers per iteration. ns/run, ratio
//                to bare in the README; allocs/op, throws/op (__cxa_throw), raises/op (every
//                exception raised, std::rethrow_exception included), aligned_allocs/op (Asio's
//                recycling allocator's own heap blocks), log_records/op (reached the sink).
//   BM_live      bytes per live run: 10^5 bodies blocked on a far-away steady_timer, RSS and heap
//                delta / N, each side measured in a fresh child process (this binary, re-executed
//                with --live-child), so that neither inherits the other's freed heap; also an
//                idle job (constructed, never run).
//   BM_cancel_*  10^5 blocked bodies, cancel all, run until every completion: ns per body
//                (thread CPU time of that phase only; set-up and tear-down are not timed).
//   BM_pool_*    two independent chains of runs (two jobs, or two bare strands) on an
//                asio::thread_pool of 1 thread, then of 2, in each iteration: the same work on
//                both pools; speedup = wall(1 thread) / wall(2 threads) (goal >= 1.6x for the
//                job), and the process's CPU time per run at 2 threads over that at 1 (1.0 when
//                the threads share nothing; above it, they contend). work:0 is the trivial body,
//                work:2000 a body of ~1 us of arithmetic (the same on both sides).
//   BM_context_per_thread_*  the same two chains with one io_context per thread (on 2 threads,
//                each chain on its own context): what the library itself shares between two
//                independent jobs, with no Asio scheduler shared.
//
// Times are the main thread's CPU time (Google Benchmark's default, and manual CPU time for
// BM_cancel_*): everything runs on that one thread, and CPU time is what a shared, loaded
// machine disturbs least. Compare ratios within one run, not absolute times across machines.
//
// Logging: main() installs a core filter (severity >= info) and one sink that discards (and
// counts) what reaches it, as a production application would have: the library's debug records
// are rejected at the filter; records at info and above are formatted and consumed. The
// */log:0 variants disable the core (set_logging_enabled(false)) to price the library's records.
//
// --profile=<side> N runs one scenario outside Google Benchmark for callgrind (see profile()).
#include "counters.hpp"

#include <jobs/job.hpp>

#include <benchmark/benchmark.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/log/core.hpp>
#include <boost/log/expressions.hpp>
#include <boost/log/sinks/basic_sink_backend.hpp>
#include <boost/log/sinks/unlocked_frontend.hpp>
#include <boost/log/trivial.hpp>
#include <boost/smart_ptr/make_shared_object.hpp>

#include <malloc.h>
#include <sys/resource.h>
#include <time.h>
#include <unwind.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <latch>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

// ---- every exception raised: __cxa_throw (counted in counters.hpp) calls this, and so do
// std::rethrow_exception and the library's describe()/threw_cancellation() fallbacks. ----
namespace bench {
inline std::atomic<std::size_t> raises{0};
inline sharded_counter aligned_allocs;
}  // namespace bench
extern "C" _Unwind_Reason_Code _Unwind_RaiseException(_Unwind_Exception* e) {
  bench::raises.fetch_add(1, std::memory_order_relaxed);
  using real_t = _Unwind_Reason_Code (*)(_Unwind_Exception*);
  static const real_t real = reinterpret_cast<real_t>(dlsym(RTLD_NEXT, "_Unwind_RaiseException"));
  return real(e);
}

// ---- Asio's own heap blocks: its recycling allocator (coroutine frames, operations, executor
// functions, cancellation handlers) takes them from std::aligned_alloc when its thread-local
// cache misses, not from operator new. Counted here as aligned_allocs/op; allocs/op
// (counters.hpp) is operator new. Both together are the heap allocations of an operation. ----
extern "C" void* aligned_alloc(std::size_t alignment, std::size_t size) noexcept {
  bench::aligned_allocs.fetch_add(1, std::memory_order_relaxed);
  using real_t = void* (*)(std::size_t, std::size_t);
  static const real_t real = reinterpret_cast<real_t>(dlsym(RTLD_NEXT, "aligned_alloc"));
  return real(alignment, size);
}

namespace {

namespace asio = boost::asio;
namespace logging = boost::log;
using namespace std::chrono_literals;

constexpr std::size_t chain_length = 1000;  // runs per benchmark iteration in BM_run_*
constexpr std::size_t blocked_n = 100000;   // bodies in BM_live and BM_cancel_*

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "job_bench: check failed: %s\n", what);
    std::abort();
  }
}

// ---- Boost.Log: a sink that discards (and counts) what reaches it ----
std::atomic<std::size_t> log_records{0};
struct counting_backend : logging::sinks::basic_sink_backend<logging::sinks::concurrent_feeding> {
  void consume(const logging::record_view&) { log_records.fetch_add(1, std::memory_order_relaxed); }
};

void setup_logging() {
  auto core = logging::core::get();
  core->set_filter(logging::trivial::severity >= logging::trivial::info);
  core->add_sink(boost::make_shared<logging::sinks::unlocked_sink<counting_backend>>());
}

// Logging enabled or disabled for the scope of one benchmark.
struct logging_scope {
  explicit logging_scope(bool on) { logging::core::get()->set_logging_enabled(on); }
  ~logging_scope() { logging::core::get()->set_logging_enabled(true); }
  logging_scope(const logging_scope&) = delete;
  logging_scope& operator=(const logging_scope&) = delete;
};

// ---- counters per operation ----
struct counts {
  std::size_t allocs = 0, aligned = 0, throws = 0, raises = 0, records = 0;

  static counts now() {
    return {bench::allocations.load(), bench::aligned_allocs.load(), bench::throws.load(),
            bench::raises.load(), log_records.load()};
  }
  counts& operator+=(const counts& o) {
    allocs += o.allocs;
    aligned += o.aligned;
    throws += o.throws;
    raises += o.raises;
    records += o.records;
    return *this;
  }
  friend counts operator-(const counts& a, const counts& b) {
    return {a.allocs - b.allocs, a.aligned - b.aligned, a.throws - b.throws, a.raises - b.raises,
            a.records - b.records};
  }
};

// Per-op counters, and the time per op (printed with an SI prefix: "312n" is 312 ns) over the
// benchmark's time (CPU time, or the manual time).
void report(benchmark::State& state, const counts& total, double ops) {
  state.counters["allocs/op"] = static_cast<double>(total.allocs) / ops;
  state.counters["aligned_allocs/op"] = static_cast<double>(total.aligned) / ops;
  state.counters["throws/op"] = static_cast<double>(total.throws) / ops;
  state.counters["raises/op"] = static_cast<double>(total.raises) / ops;
  state.counters["log_records/op"] = static_cast<double>(total.records) / ops;
  state.counters["time/op"] =
      benchmark::Counter(ops, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// ---- the bodies: the same coroutine on both sides ----
asio::awaitable<void> trivial() { co_return; }

struct blocked_counts {
  std::size_t waiting = 0;  // bodies that reached their timer
  std::size_t aborted = 0;  // timers that completed with operation_aborted
};

// Awaits a timer that expires in a day; returns normally (no exception) when it is cancelled.
asio::awaitable<void> block_on_timer(blocked_counts& c) {
  asio::steady_timer t(co_await asio::this_coro::executor, 24h);
  ++c.waiting;
  auto [ec] = co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
  if (ec == asio::error::operation_aborted) ++c.aborted;
}

// =============================================================================================
// 1 + 2. Trivial body, run + completion.
// =============================================================================================

struct chain_counts {
  std::size_t left = 0, done = 0, failed = 0;
};

// jobs::job::async_run with a plain callback; the next run starts from the completion handler.
struct job_run_chain {
  jobs::job* j;
  chain_counts* c;
  void start() {
    --c->left;
    j->async_run(std::any{}, *this);
  }
  void operator()(std::exception_ptr e) {
    ++c->done;
    if (e) ++c->failed;
    if (c->left) start();
  }
};

// jobs::job::run() + async_wait.
struct job_wait_chain {
  jobs::job* j;
  chain_counts* c;
  void start() {
    --c->left;
    if (!j->run()) ++c->failed;
    j->async_wait(*this);
  }
  void operator()(boost::system::error_code ec) {
    ++c->done;
    if (ec) ++c->failed;
    if (c->left) start();
  }
};

template <class Chain>
void job_run_bench(benchmark::State& state) {
  const logging_scope log(state.range(0) != 0);
  asio::io_context io(1);
  jobs::job j(io, "bench", [](jobs::context&) { return trivial(); });
  chain_counts c;
  Chain chain{&j, &c};
  const counts before = counts::now();
  for (auto _ : state) {
    c.left = chain_length;
    chain.start();
    io.run();
    io.restart();
  }
  const double ops = static_cast<double>(state.iterations() * chain_length);
  report(state, counts::now() - before, ops);
  check(c.done == state.iterations() * chain_length, "every run completed");
  check(c.failed == 0, "no run failed");
  check(j.is_state(jobs::state::succeeded) && !j.error(), "the job ended succeeded");
}

// Bare co_spawn of the same body with a completion handler (it runs on the strand).
//   Strand = S: one strand reused for every run (as a job reuses its own), or
//   fresh_strand: asio::make_strand(io) for every run.
//   Signal: bind a cancellation_signal's slot, as a job does for every run.
enum class strand_kind { reused, fresh, reused_any_io };

template <strand_kind Kind, bool Signal>
struct bare_chain {
  asio::io_context* io;
  asio::strand<asio::io_context::executor_type>* strand;
  asio::strand<asio::any_io_executor>* any_strand;
  asio::cancellation_signal* signal;
  chain_counts* c;

  void start() {
    --c->left;
    auto spawn = [&](const auto& ex) {
      if constexpr (Signal)
        asio::co_spawn(
            ex, [] { return trivial(); }, asio::bind_cancellation_slot(signal->slot(), *this));
      else
        asio::co_spawn(
            ex, [] { return trivial(); }, *this);
    };
    if constexpr (Kind == strand_kind::reused) spawn(*strand);
    if constexpr (Kind == strand_kind::reused_any_io) spawn(*any_strand);
    if constexpr (Kind == strand_kind::fresh) spawn(asio::make_strand(*io));
  }
  void operator()(std::exception_ptr e) {
    ++c->done;
    if (e) ++c->failed;
    if (c->left) start();
  }
};

template <strand_kind Kind, bool Signal>
void bare_run_bench(benchmark::State& state) {
  asio::io_context io(1);
  auto strand = asio::make_strand(io);
  auto any_strand = asio::make_strand(asio::any_io_executor(io.get_executor()));
  asio::cancellation_signal signal;
  chain_counts c;
  bare_chain<Kind, Signal> chain{&io, &strand, &any_strand, &signal, &c};
  const counts before = counts::now();
  for (auto _ : state) {
    c.left = chain_length;
    chain.start();
    io.run();
    io.restart();
  }
  const double ops = static_cast<double>(state.iterations() * chain_length);
  report(state, counts::now() - before, ops);
  check(c.done == state.iterations() * chain_length, "every run completed");
  check(c.failed == 0, "no run failed");
}

void BM_run_bare_strand_reused(benchmark::State& s) { bare_run_bench<strand_kind::reused, false>(s); }
void BM_run_bare_strand_per_run(benchmark::State& s) { bare_run_bench<strand_kind::fresh, false>(s); }
void BM_run_bare_strand_reused_signal(benchmark::State& s) { bare_run_bench<strand_kind::reused, true>(s); }
void BM_run_bare_any_io_strand_signal(benchmark::State& s) {
  bare_run_bench<strand_kind::reused_any_io, true>(s);
}
void BM_run_job_async_run(benchmark::State& s) { job_run_bench<job_run_chain>(s); }
void BM_run_job_run_async_wait(benchmark::State& s) { job_run_bench<job_wait_chain>(s); }

BENCHMARK(BM_run_bare_strand_reused);
BENCHMARK(BM_run_bare_strand_per_run);
BENCHMARK(BM_run_bare_strand_reused_signal);
BENCHMARK(BM_run_bare_any_io_strand_signal);
BENCHMARK(BM_run_job_async_run)->ArgName("log")->Arg(1)->Arg(0);
BENCHMARK(BM_run_job_run_async_wait)->ArgName("log")->Arg(1)->Arg(0);

// =============================================================================================
// 3. Bytes per live run: 10^5 bodies blocked on a timer, in a fresh child process per side.
// =============================================================================================

struct live_result {
  double rss = 0, hwm = 0, heap = 0, allocs = 0, aligned = 0;  // per body
};

std::size_t heap_in_use() {
  const struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

enum class live_side { bare, job, job_idle };

// One side's whole scenario: n bodies blocked, measure, cancel all, run to completion, tear
// down. Returns the deltas measured while all n were blocked. job_idle only constructs the n
// jobs (what a job costs before its first run).
live_result live_scenario(live_side side, std::size_t n) {
  asio::io_context io(1);
  blocked_counts b;
  std::size_t done = 0, canceled = 0;
  const std::size_t rss0 = bench::rss_bytes(), heap0 = heap_in_use();
  const counts c0 = counts::now();
  live_result r;
  auto measure = [&] {
    const counts c = counts::now() - c0;
    r = {static_cast<double>(bench::rss_bytes() - rss0),
         static_cast<double>(bench::rss_bytes("VmHWM:") - rss0), static_cast<double>(heap_in_use() - heap0),
         static_cast<double>(c.allocs), static_cast<double>(c.aligned)};
  };
  if (side != live_side::bare) {
    std::vector<jobs::job> js;
    js.reserve(n);
    for (std::size_t i = 0; i < n; ++i)
      js.emplace_back(io, "job-" + std::to_string(i), [&b](jobs::context&) { return block_on_timer(b); });
    if (side == live_side::job_idle) {
      measure();
      done = canceled = b.aborted = n;
    } else {
      for (auto& j : js)
        j.async_run(std::any{}, [&](std::exception_ptr e) {
          ++done;
          if (e) ++canceled;
        });
      io.poll();
      check(b.waiting == n, "every job body is blocked on its timer");
      measure();
      for (auto& j : js) check(j.cancel(), "cancel() of a running job");
      io.run();
      for (auto& j : js) check(j.is_state(jobs::state::canceled), "every job ended canceled");
    }
  } else {
    std::unique_ptr<asio::cancellation_signal[]> signals(new asio::cancellation_signal[n]);
    for (std::size_t i = 0; i < n; ++i)
      asio::co_spawn(
          asio::make_strand(io), [&b] { return block_on_timer(b); },
          asio::bind_cancellation_slot(signals[i].slot(), [&](std::exception_ptr e) {
            ++done;
            if (!e) ++canceled;  // returned normally after operation_aborted
          }));
    io.poll();
    check(b.waiting == n, "every bare body is blocked on its timer");
    measure();
    for (std::size_t i = 0; i < n; ++i) signals[i].emit(asio::cancellation_type::terminal);
    io.run();
  }
  check(done == n && canceled == n && b.aborted == n, "every body was cancelled and completed");
  const double dn = static_cast<double>(n);
  return {r.rss / dn, r.hwm / dn, r.heap / dn, r.allocs / dn, r.aligned / dn};
}

// The child: a small warm-up of the same scenario (one-time allocations: services, the logging
// core, thread-local caches), then the measured one. Prints one line.
int live_child(std::string_view side, std::size_t n) {
  setup_logging();
  const live_side s = side == "job"        ? live_side::job
                      : side == "job_idle" ? live_side::job_idle
                                           : live_side::bare;
  (void)live_scenario(s, 8);
  const live_result r = live_scenario(s, n);
  std::printf("%.1f %.1f %.1f %.3f %.3f\n", r.rss, r.hwm, r.heap, r.allocs, r.aligned);
  return 0;
}

live_result run_live_child(const char* side) {
  // popen runs a shell, whose /proc/self/exe would be the shell: resolve ours first.
  const std::string cmd = std::filesystem::read_symlink("/proc/self/exe").string() + " --live-child=" + side +
                          " " + std::to_string(blocked_n);
  std::FILE* p = popen(cmd.c_str(), "r");
  check(p != nullptr, "popen of the live child");
  live_result r;
  const int got = std::fscanf(p, "%lf %lf %lf %lf %lf", &r.rss, &r.hwm, &r.heap, &r.allocs, &r.aligned);
  check(pclose(p) == 0 && got == 5, "the live child succeeded");
  return r;
}

// Bytes per live body (VmRSS delta / N; hwm: VmHWM delta / N; heap: malloc's bytes in use
// delta / N), heap allocations per body, and job / bare ratios. One child process per side.
void BM_live(benchmark::State& state) {
  live_result bare, job, idle;
  for (auto _ : state) {
    bare = run_live_child("bare");
    job = run_live_child("job");
    idle = run_live_child("job_idle");
  }
  auto put = [&](const char* side, const live_result& r) {
    const std::string p(side);
    state.counters[p + "_rss_B"] = r.rss;
    state.counters[p + "_hwm_B"] = r.hwm;
    state.counters[p + "_heap_B"] = r.heap;
    state.counters[p + "_allocs"] = r.allocs + r.aligned;
  };
  put("bare", bare);
  put("job", job);
  put("idle_job", idle);
  state.counters["rss_ratio"] = job.rss / bare.rss;
  state.counters["heap_ratio"] = job.heap / bare.heap;
}
BENCHMARK(BM_live)->Iterations(1)->Unit(benchmark::kMillisecond);

// =============================================================================================
// 4. Cancel: 10^5 blocked bodies, cancel all, until every completion.
// =============================================================================================

// The timed phase: the main thread's CPU time and the counters around `phase`.
template <class Phase>
void timed_phase(benchmark::State& state, counts& total, Phase&& phase) {
  const counts before = counts::now();
  const double t0 = thread_cpu_seconds();
  phase();
  const double t1 = thread_cpu_seconds();
  total += counts::now() - before;
  state.SetIterationTime(t1 - t0);
}

// n jobs (created once, run again for every round).
class job_cancel_scenario {
 public:
  job_cancel_scenario(asio::io_context& io, std::size_t n) : io_(io) {
    js_.reserve(n);
    for (std::size_t i = 0; i < n; ++i)
      js_.emplace_back(io, "job-" + std::to_string(i), [this](jobs::context&) { return block_on_timer(b_); });
  }
  // Not timed: every job running, its body blocked on its timer.
  void block() {
    b_ = {};
    done_ = with_error_ = 0;
    for (auto& j : js_)
      j.async_run(std::any{}, [this](std::exception_ptr e) {
        ++done_;
        if (e) ++with_error_;
      });
    io_.poll();
    check(b_.waiting == js_.size(), "every job body is blocked on its timer");
  }
  // Timed: cancel() on every job, until every completion.
  void cancel_all() {
    for (auto& j : js_)
      if (!j.cancel()) std::abort();
    io_.run();
  }
  // Not timed.
  void verify() {
    io_.restart();
    const std::size_t n = js_.size();
    check(done_ == n && with_error_ == n && b_.aborted == n, "every job completed canceled");
    for (auto& j : js_) check(j.is_state(jobs::state::canceled), "every job ended canceled");
  }

 private:
  asio::io_context& io_;
  blocked_counts b_;
  std::size_t done_ = 0, with_error_ = 0;
  std::vector<jobs::job> js_;
};

// n bare coroutines, each on its own strand (created once) with its own cancellation_signal
// (created for every round, freed inside the timed phase as a job's are). direct: emit from the
// (idle) io thread, as that one thread may; via_strand: post the emit to the coroutine's strand,
// as any other thread must (what job::cancel() does).
template <bool ViaStrand>
class bare_cancel_scenario {
 public:
  bare_cancel_scenario(asio::io_context& io, std::size_t n) : io_(io), n_(n) {
    strands_.reserve(n);
    for (std::size_t i = 0; i < n; ++i) strands_.push_back(asio::make_strand(io));
  }
  void block() {
    b_ = {};
    done_ = returned_ = 0;
    signals_.reset(new asio::cancellation_signal[n_]);
    for (std::size_t i = 0; i < n_; ++i)
      asio::co_spawn(
          strands_[i], [this] { return block_on_timer(b_); },
          asio::bind_cancellation_slot(signals_[i].slot(), [this](std::exception_ptr e) {
            ++done_;
            if (!e) ++returned_;
          }));
    io_.poll();
    check(b_.waiting == n_, "every bare body is blocked on its timer");
  }
  void cancel_all() {
    for (std::size_t i = 0; i < n_; ++i) {
      if constexpr (ViaStrand)
        asio::post(strands_[i], [s = &signals_[i]] { s->emit(asio::cancellation_type::terminal); });
      else
        signals_[i].emit(asio::cancellation_type::terminal);
    }
    io_.run();
    signals_.reset();
  }
  void verify() {
    io_.restart();
    check(done_ == n_ && returned_ == n_ && b_.aborted == n_, "every body completed");
  }

 private:
  asio::io_context& io_;
  std::size_t n_;
  blocked_counts b_;
  std::size_t done_ = 0, returned_ = 0;
  std::vector<asio::strand<asio::io_context::executor_type>> strands_;
  std::unique_ptr<asio::cancellation_signal[]> signals_;
};

template <class Scenario>
void cancel_bench(benchmark::State& state) {
  asio::io_context io(1);
  Scenario sc(io, blocked_n);
  counts total;
  for (auto _ : state) {
    sc.block();
    timed_phase(state, total, [&] { sc.cancel_all(); });
    sc.verify();
  }
  report(state, total, static_cast<double>(state.iterations() * blocked_n));
}

void BM_cancel_bare_direct(benchmark::State& s) { cancel_bench<bare_cancel_scenario<false>>(s); }
void BM_cancel_bare_via_strand(benchmark::State& s) { cancel_bench<bare_cancel_scenario<true>>(s); }
void BM_cancel_job(benchmark::State& s) {
  const logging_scope log(s.range(0) != 0);
  cancel_bench<job_cancel_scenario>(s);
}

BENCHMARK(BM_cancel_bare_direct)->UseManualTime()->Iterations(3)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_cancel_bare_via_strand)->UseManualTime()->Iterations(3)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_cancel_job)
    ->ArgName("log")
    ->Arg(1)
    ->Arg(0)
    ->UseManualTime()
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond);

// =============================================================================================
// 5. Scaling on a thread pool: two independent chains of runs, on 1 thread and on 2.
// =============================================================================================

constexpr std::size_t pool_chains = 2;
constexpr std::size_t pool_chain_runs = 50000;  // runs per chain per measurement

double process_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6;
  };
  return s(u.ru_utime) + s(u.ru_stime);
}

// One chain: the next run starts from the previous one's completion handler, on a pool thread.
// The body of a pool run: `work` rounds of arithmetic the compiler cannot drop (0: trivial()).
asio::awaitable<void> busy(std::size_t work) {
  std::uint64_t x = work;
  for (std::size_t i = 0; i < work; ++i) {
    x = x * 6364136223846793005u + 1442695040888963407u;
    benchmark::DoNotOptimize(x);
  }
  co_return;
}

// One chain's counts, on a cache line of its own: two chains that shared one would contend on it
// in every run, which is the benchmark's cost, not the library's.
struct alignas(64) pool_counts {
  std::atomic<std::size_t> done{0}, failed{0};
};
using chain_counts_array = std::array<pool_counts, pool_chains>;

// Every chain's runs completed, none failed.
void check_chains(const chain_counts_array& c, const char* done_what, const char* failed_what) {
  for (const auto& k : c) {
    check(k.done.load() == pool_chain_runs, done_what);
    check(k.failed.load() == 0, failed_what);
  }
}

struct pool_job_chain {
  jobs::job* j;
  pool_counts* c;
  std::latch* all;
  std::size_t left;
  void start() {
    --left;
    j->async_run(std::any{}, std::move(*this));
  }
  void operator()(std::exception_ptr e) {
    c->done.fetch_add(1, std::memory_order_relaxed);
    if (e) c->failed.fetch_add(1, std::memory_order_relaxed);
    if (left)
      start();
    else
      all->count_down();
  }
};

using pool_strand = asio::strand<asio::thread_pool::executor_type>;
using io_strand = asio::strand<asio::io_context::executor_type>;

// Bare: co_spawn of the same body on the chain's own strand, a cancellation signal bound (as a
// job binds one for every run); the completion handler runs on the strand.
template <class Strand>
struct pool_bare_chain {
  Strand* strand;
  asio::cancellation_signal* signal;
  std::size_t work;
  pool_counts* c;
  std::latch* all;
  std::size_t left;
  void start() {
    --left;
    asio::co_spawn(
        *strand, [w = work] { return busy(w); },
        asio::bind_cancellation_slot(signal->slot(), std::move(*this)));
  }
  void operator()(std::exception_ptr e) {
    c->done.fetch_add(1, std::memory_order_relaxed);
    if (e) c->failed.fetch_add(1, std::memory_order_relaxed);
    if (left)
      start();
    else
      all->count_down();
  }
};

struct pool_round {
  double wall = 0, cpu = 0;
};

// pool_chains chains of pool_chain_runs runs each on a pool of `threads`; the wall and process
// CPU time from the first start to the last completion. Every run is checked to have completed.
template <bool Job>
pool_round pool_measure(std::size_t threads, std::size_t work) {
  asio::thread_pool tp(threads);
  chain_counts_array c;
  std::latch all(pool_chains);
  std::vector<jobs::job> js;
  std::vector<pool_strand> strands;
  std::unique_ptr<asio::cancellation_signal[]> signals(new asio::cancellation_signal[pool_chains]);
  for (std::size_t k = 0; k < pool_chains; ++k) {
    if constexpr (Job)
      js.emplace_back(tp.get_executor(), "pool-" + std::to_string(k),
                      [work](jobs::context&) { return busy(work); });
    else
      strands.push_back(asio::make_strand(tp.get_executor()));
  }
  const double c0 = process_cpu_seconds();
  const auto t0 = std::chrono::steady_clock::now();
  for (std::size_t k = 0; k < pool_chains; ++k) {
    // Each chain's first start is made on the pool, as every later one is.
    asio::post(tp, [&, k] {
      if constexpr (Job)
        pool_job_chain{&js[k], &c[k], &all, pool_chain_runs}.start();
      else
        pool_bare_chain<pool_strand>{&strands[k], &signals[k], work, &c[k], &all, pool_chain_runs}.start();
    });
  }
  all.wait();
  const pool_round r{std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
                     process_cpu_seconds() - c0};
  tp.join();
  check_chains(c, "every run on the pool completed", "no run on the pool failed");
  if constexpr (Job)
    for (auto& j : js)
      check(j.is_state(jobs::state::succeeded) && !j.error(), "every pool job ended succeeded");
  return r;
}

// Each iteration measures 1 thread, then 2 threads (`measure(threads, work)`): the ratios compare
// the two within one iteration's conditions. Time reported: wall per run at 2 threads.
template <class Measure>
void scaling_bench(benchmark::State& state, Measure measure) {
  const logging_scope log(false);
  pool_round one, two;
  for (auto _ : state) {
    const auto work = static_cast<std::size_t>(state.range(0));
    const pool_round a = measure(1, work), b = measure(2, work);
    one.wall += a.wall;
    one.cpu += a.cpu;
    two.wall += b.wall;
    two.cpu += b.cpu;
    state.SetIterationTime(b.wall);
  }
  const double runs = static_cast<double>(state.iterations() * pool_chains * pool_chain_runs);
  state.counters["ns/run_1t"] = one.wall / runs * 1e9;
  state.counters["ns/run_2t"] = two.wall / runs * 1e9;
  state.counters["speedup"] = one.wall / two.wall;
  state.counters["cpu/run_2t_over_1t"] = two.cpu / one.cpu;
}

// The same two chains with one io_context per thread instead of a shared pool: on 1 thread both
// chains share one io_context; on 2, each chain has its own, run by its own thread. Nothing of
// Asio's is shared then, so this shows whether the library itself shares anything between two
// independent jobs on the run path (a lock, a cache line): if it did, it would not scale here
// either.
template <bool Job>
pool_round context_measure(std::size_t threads, std::size_t work) {
  std::vector<std::unique_ptr<asio::io_context>> ios;
  for (std::size_t t = 0; t < threads; ++t) ios.push_back(std::make_unique<asio::io_context>(1));
  // Each chain's objects on cache lines of their own, and made by the thread that runs the chain:
  // two strands (or jobs) made one after the other by one thread sit side by side on the heap,
  // and their reference counts would then share a cache line between the two threads.
  struct alignas(64) chain_objects {
    std::optional<jobs::job> job;
    std::optional<io_strand> strand;
    asio::cancellation_signal signal;
  };
  std::array<chain_objects, pool_chains> chains;
  chain_counts_array c;
  std::latch all(pool_chains);
  const double c0 = process_cpu_seconds();
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> runners;
  for (std::size_t t = 0; t < threads; ++t) {
    runners.emplace_back([&, t] {
      auto& io = *ios[t];
      for (std::size_t k = t; k < pool_chains; k += threads) {
        auto& o = chains[k];
        if constexpr (Job)
          o.job.emplace(io.get_executor(), "ctx-" + std::to_string(k),
                        [work](jobs::context&) { return busy(work); });
        else
          o.strand.emplace(asio::make_strand(io.get_executor()));
        asio::post(io, [&, k] {
          if constexpr (Job)
            pool_job_chain{&*chains[k].job, &c[k], &all, pool_chain_runs}.start();
          else
            pool_bare_chain<io_strand>{&*chains[k].strand, &chains[k].signal, work, &c[k], &all,
                                       pool_chain_runs}
                .start();
        });
      }
      io.run();  // returns once its chains have completed
    });
  }
  for (auto& t : runners) t.join();
  const pool_round r{std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
                     process_cpu_seconds() - c0};
  check(all.try_wait(), "every chain finished");
  check_chains(c, "every run on the contexts completed", "no run on the contexts failed");
  if constexpr (Job)
    for (auto& o : chains)
      check(o.job->is_state(jobs::state::succeeded) && !o.job->error(), "every context job ended succeeded");
  return r;
}

// The trivial body and ~1 us of work; each iteration is both thread counts (manual time).
void scaling_args(benchmark::internal::Benchmark* b) {
  b->ArgName("work")->Arg(0)->Arg(2000)->UseManualTime()->Iterations(5)->Unit(benchmark::kMillisecond);
}

void BM_pool_bare_co_spawn_strand(benchmark::State& s) { scaling_bench(s, pool_measure<false>); }
void BM_pool_job_async_run(benchmark::State& s) { scaling_bench(s, pool_measure<true>); }
void BM_context_per_thread_bare_co_spawn_strand(benchmark::State& s) {
  scaling_bench(s, context_measure<false>);
}
void BM_context_per_thread_job_async_run(benchmark::State& s) { scaling_bench(s, context_measure<true>); }

BENCHMARK(BM_pool_bare_co_spawn_strand)->Apply(scaling_args);
BENCHMARK(BM_pool_job_async_run)->Apply(scaling_args);
BENCHMARK(BM_context_per_thread_bare_co_spawn_strand)->Apply(scaling_args);
BENCHMARK(BM_context_per_thread_job_async_run)->Apply(scaling_args);

// =============================================================================================
// --profile=<side> N, outside Google Benchmark, for callgrind (deterministic):
//   valgrind --tool=callgrind --toggle-collect='*profiled_*' job_bench --profile=job 20000
// collects N chained runs (after 1000 not collected) or the cancel phase of N blocked bodies;
// Ir / N is then the instruction count of one. Sides: bare (one strand reused, a signal bound),
// job (async_run), job_wait (run() + async_wait), job_log_off (async_run, logging disabled),
// cancel_bare (direct emit), cancel_bare_strand (emit posted to the strand), cancel_job,
// cancel_job_log_off; pool_job, pool_bare: one round of BM_pool_* on the 2-thread pool (N is
// ignored), e.g. under a lock profiler.
// =============================================================================================

template <class Chain>
void chained_runs(asio::io_context& io, Chain& chain, chain_counts& c, std::size_t n) {
  c.left = n;
  chain.start();
  io.run();
  io.restart();
}
template <class Chain>
[[gnu::noipa]] void warm_up_runs(asio::io_context& io, Chain& chain, chain_counts& c, std::size_t n) {
  chained_runs(io, chain, c, n);
}
template <class Chain>
[[gnu::noipa]] void profiled_runs(asio::io_context& io, Chain& chain, chain_counts& c, std::size_t n) {
  chained_runs(io, chain, c, n);
}
template <class Scenario>
[[gnu::noipa]] void profiled_cancel(Scenario& sc) {
  sc.cancel_all();
}

template <class Scenario>
void profile_cancel(std::size_t n) {
  asio::io_context io(1);
  Scenario sc(io, n);
  sc.block();
  profiled_cancel(sc);
  sc.verify();
}

int profile(std::string_view side, std::size_t n) {
  setup_logging();
  const logging_scope log(!side.ends_with("_log_off"));
  if (side.starts_with("pool_")) {
    // pool_job / pool_bare: one measurement on the 2-thread pool (for a lock profiler).
    const pool_round r = side == "pool_job" ? pool_measure<true>(2, 0) : pool_measure<false>(2, 0);
    std::printf("%zu runs on 2 threads: %.3f s wall, %.3f s CPU\n", pool_chains * pool_chain_runs, r.wall,
                r.cpu);
    return 0;
  }
  if (side.starts_with("cancel_")) {
    if (side == "cancel_bare")
      profile_cancel<bare_cancel_scenario<false>>(n);
    else if (side == "cancel_bare_strand")
      profile_cancel<bare_cancel_scenario<true>>(n);
    else
      profile_cancel<job_cancel_scenario>(n);
    std::printf("%zu cancelled\n", n);
    return 0;
  }
  asio::io_context io(1);
  chain_counts c;
  counts during;
  auto go = [&](auto chain) {
    warm_up_runs(io, chain, c, 1000);
    const counts before = counts::now();
    profiled_runs(io, chain, c, n);
    during = counts::now() - before;
  };
  auto strand = asio::make_strand(io);
  auto any_strand = asio::make_strand(asio::any_io_executor(io.get_executor()));
  asio::cancellation_signal signal;
  jobs::job j(io, "bench", [](jobs::context&) { return trivial(); });
  if (side == "bare")
    go(bare_chain<strand_kind::reused, true>{&io, &strand, &any_strand, &signal, &c});
  else if (side == "job_wait")
    go(job_wait_chain{&j, &c});
  else
    go(job_run_chain{&j, &c});
  check(c.done == n + 1000 && c.failed == 0, "every profiled run completed");
  const double dn = static_cast<double>(n);
  std::printf("%zu runs: allocs/run %.3f aligned_allocs/run %.3f raises/run %.3f log_records/run %.3f\n", n,
              static_cast<double>(during.allocs) / dn, static_cast<double>(during.aligned) / dn,
              static_cast<double>(during.raises) / dn, static_cast<double>(during.records) / dn);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  constexpr std::string_view live_flag = "--live-child=";
  if (argc == 3 && std::string_view(argv[1]).starts_with(live_flag))
    return live_child(std::string_view(argv[1]).substr(live_flag.size()), std::stoul(argv[2]));
  constexpr std::string_view profile_flag = "--profile=";
  if (argc == 3 && std::string_view(argv[1]).starts_with(profile_flag))
    return profile(std::string_view(argv[1]).substr(profile_flag.size()), std::stoul(argv[2]));

  setup_logging();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
