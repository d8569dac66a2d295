// scale: libjob at scale, side by side with bare Asio coroutines (issue 4, "Scale").
//
//   scale [N] [S] [R]   N jobs at once (default 10^6), S sequential executor starts (default
//                       10^6), each variant of part 1 run R times (default 1; the best wall time
//                       and the lowest peak are kept: a shared machine only ever slows a run)
//
// 1. N runs at once, each body awaiting a 100 ms steady_timer, on one thread (io_context) and on
//    a 2-thread asio::thread_pool: jobs (job + async_run with a completion handler; the handle
//    is dropped at once, the run keeps its job alive) against the same number of bare
//    co_spawned coroutines (each on its own strand, with a completion handler, same body).
//    On one thread also bare coroutines each bound to a cancellation_signal (as a job can be
//    cancelled, so can they: BM_live's bare side).
//    On the pool both threads are held until every launch is queued, so that all N are
//    pending at once there too. Each variant runs in a fresh child process (this program re-executed with
//    --child), so that its peak RSS (VmHWM) is its own. Reported: wall time from the first launch to the last
//    completion, peak RSS minus RSS before the launches, bytes per run, and the ratios job/bare against the
//    goals (<= 1.5x wall, <= 1.3x memory); also the process's CPU time (user + system), which a loaded
//    machine disturbs less than wall time. The ratios are reported, not enforced (they are the performance
//    work's target).
// 2. S sequential starts of one executor with_timeout(1s), with_retry(2, 0ms), whose body fails
//    the first attempt of every start and succeeds the second. RSS is sampled after S/100
//    starts and every S/10 after; growth after the first sample must stay under 1 MiB, else
//    the program exits 1.
//
// Logging as a production application has it: a core filter (severity >= info) and one sink
// that discards what reaches it (the failed first attempts log a warning each).
#include "proc_status.hpp"

#include <jobs/executor.hpp>
#include <jobs/job.hpp>

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

#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace logging = boost::log;
using namespace std::chrono_literals;
using clk = std::chrono::steady_clock;

namespace {

constexpr auto body_wait = 100ms;

std::size_t rss() { return bench::rss_bytes("VmRSS:"); }
std::size_t peak_rss() { return bench::rss_bytes("VmHWM:"); }

struct discard_backend : logging::sinks::basic_sink_backend<logging::sinks::concurrent_feeding> {
  void consume(const logging::record_view&) {}
};

void setup_logging() {
  auto core = logging::core::get();
  core->set_filter(logging::trivial::severity >= logging::trivial::info);
  core->add_sink(boost::make_shared<logging::sinks::unlocked_sink<discard_backend>>());
}

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "scale: %s\n", what);
  std::exit(2);
}

// ---- 1. N at once -----------------------------------------------------------------------------

asio::awaitable<void> bare_body() {
  asio::steady_timer t(co_await asio::this_coro::executor, body_wait);
  co_await t.async_wait(asio::use_awaitable);
}

asio::awaitable<void> job_body(jobs::context& ctx) {
  asio::steady_timer t(ctx.get_executor(), body_wait);
  co_await t.async_wait(asio::use_awaitable);
}

struct result {
  double wall_s = 0;
  double cpu_s = 0;  // user + system time of the process (every thread)
  std::size_t peak_delta = 0;
};

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return s(u.ru_utime) + s(u.ru_stime);
}

// signals: null, or one cancellation_signal per bare coroutine, bound to its completion.
template <class Executor>
void launch(Executor ex, bool job, std::size_t n, std::atomic<std::size_t>& done,
            asio::cancellation_signal* signals = nullptr) {
  if (job) {
    const jobs::body fn = job_body;
    for (std::size_t i = 0; i < n; ++i) {
      jobs::job j(ex, std::to_string(i), fn);
      j.async_run([&done](std::exception_ptr e) {
        if (e) die("a job failed");
        done.fetch_add(1, std::memory_order_relaxed);
      });
    }
  } else {
    auto completion = [&done](std::exception_ptr e) {
      if (e) die("a coroutine failed");
      done.fetch_add(1, std::memory_order_relaxed);
    };
    for (std::size_t i = 0; i < n; ++i) {
      if (signals)
        asio::co_spawn(asio::make_strand(ex), bare_body(),
                       asio::bind_cancellation_slot(signals[i].slot(), completion));
      else
        asio::co_spawn(asio::make_strand(ex), bare_body(), completion);
    }
  }
}

// One variant, in this (child) process: "job1", "job2", "bare1", "bare1c" (with signals),
// "bare2".
result run_variant(std::string_view variant, std::size_t n) {
  const bool job = variant.starts_with("job");
  const bool pool = variant.ends_with("2");
  const bool signals = variant == "bare1c";
  std::atomic<std::size_t> done{0};
  result r;
  if (pool) {
    asio::thread_pool tp(2);
    // Both threads are held until every launch is queued, as on one thread (where nothing runs
    // before io.run()): else the first runs end while the last are launched, and the peak is
    // not N runs at once.
    std::promise<void> gate;
    std::shared_future<void> open = gate.get_future().share();
    std::atomic<int> held{0};
    for (int k = 0; k < 2; ++k)
      asio::post(tp, [open, &held] {
        held.fetch_add(1);
        open.wait();
      });
    while (held.load() < 2) std::this_thread::yield();
    const std::size_t before = rss();
    const double c0 = cpu_seconds();
    const auto t0 = clk::now();
    launch(tp.get_executor(), job, n, done);
    gate.set_value();
    tp.join();  // returns once the pool has no more work
    r.wall_s = std::chrono::duration<double>(clk::now() - t0).count();
    r.cpu_s = cpu_seconds() - c0;
    r.peak_delta = peak_rss() - before;
  } else {
    asio::io_context io(1);
    const std::size_t before = rss();
    const double c0 = cpu_seconds();
    const auto t0 = clk::now();
    // Made after `before`: the signals are part of what the bare side needs to be cancellable.
    std::unique_ptr<asio::cancellation_signal[]> sigs(signals ? new asio::cancellation_signal[n] : nullptr);
    launch(io.get_executor(), job, n, done, sigs.get());
    io.run();
    r.wall_s = std::chrono::duration<double>(clk::now() - t0).count();
    r.cpu_s = cpu_seconds() - c0;
    r.peak_delta = peak_rss() - before;
  }
  if (done.load() != n) die("not every run completed");
  return r;
}

std::string self_exe() {
  char buf[4096];
  const ssize_t k = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (k <= 0) die("cannot read /proc/self/exe");
  return std::string(buf, static_cast<std::size_t>(k));
}

// Runs one variant in a fresh child process and reads its result line.
result run_child(const std::string& exe, const char* variant, std::size_t n) {
  const std::string cmd = "'" + exe + "' --child " + variant + " " + std::to_string(n);
  std::FILE* p = popen(cmd.c_str(), "r");
  if (!p) die("popen failed");
  result r;
  int got = std::fscanf(p, "%lf %lf %zu", &r.wall_s, &r.cpu_s, &r.peak_delta);
  if (pclose(p) != 0 || got != 3) die("a child failed");
  return r;
}

// ---- 2. S sequential starts -------------------------------------------------------------------

int sequential_starts(std::size_t s) {
  asio::io_context io(1);
  std::size_t attempts = 0;
  jobs::job j(io, "seq", [&attempts](jobs::context&) -> asio::awaitable<void> {
    if (attempts++ % 2 == 0) throw std::runtime_error("first attempt fails");
    co_return;
  });
  jobs::executor ex(j, jobs::with_timeout(1s), jobs::with_retry(2, 0ms));

  const std::size_t first = std::max<std::size_t>(s / 100, 1);
  const std::size_t every = std::max<std::size_t>(s / 10, 1);
  std::vector<std::pair<std::size_t, std::size_t>> samples;  // (starts, rss)
  std::size_t failed = 0;
  const auto t0 = clk::now();
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        for (std::size_t i = 1; i <= s; ++i) {
          try {
            co_await ex.start();
          } catch (...) {
            ++failed;
          }
          if (i == first || (i > first && i % every == 0) || i == s) samples.emplace_back(i, rss());
        }
      },
      [](std::exception_ptr e) {
        if (e) die("the start loop failed");
      });
  io.run();
  const double wall = std::chrono::duration<double>(clk::now() - t0).count();

  const auto st = ex.stats();
  std::printf(
      "\n%zu sequential starts, with_timeout(1s), with_retry(2, 0ms), first attempt fails: %.2f s "
      "(%.2f us/start), %zu failed starts, stats: starts %llu, successes %llu\n",
      s, wall, wall * 1e6 / static_cast<double>(s), failed, static_cast<unsigned long long>(st.starts),
      static_cast<unsigned long long>(st.successes));
  std::printf("  %12s %12s %14s\n", "starts", "RSS (KiB)", "growth (KiB)");
  const std::size_t base = samples.front().second;
  std::size_t max_growth = 0;
  for (const auto& [i, b] : samples) {
    const long long g = static_cast<long long>(b) - static_cast<long long>(base);
    if (g > 0) max_growth = std::max(max_growth, static_cast<std::size_t>(g));
    std::printf("  %12zu %12zu %14lld\n", i, b / 1024, g / 1024);
  }
  const bool ok = failed == 0 && st.successes == s && max_growth < (1u << 20);
  std::printf("  growth after %zu starts: %zu KiB (limit 1024 KiB): %s\n", first, max_growth / 1024,
              ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}

std::size_t parse_count(const char* s) {
  const double v = std::strtod(s, nullptr);  // accepts 1e6
  if (!(v >= 1)) die("a count must be >= 1");
  return static_cast<std::size_t>(v);
}

}  // namespace

int main(int argc, char** argv) {
  setup_logging();
  if (argc == 4 && std::string_view(argv[1]) == "--child") {
    const result r = run_variant(argv[2], parse_count(argv[3]));
    std::printf("%.6f %.6f %zu\n", r.wall_s, r.cpu_s, r.peak_delta);
    return 0;
  }
  const std::size_t n = argc > 1 ? parse_count(argv[1]) : 1'000'000;
  const std::size_t s = argc > 2 ? parse_count(argv[2]) : 1'000'000;
  const std::size_t reps = argc > 3 ? parse_count(argv[3]) : 1;
  const std::string exe = self_exe();

  std::printf(
      "%zu runs at once, each awaiting a %lld ms steady_timer (each variant in its own process, "
      "best of %zu)\n",
      n, static_cast<long long>(body_wait.count()), reps);
  std::printf("  %-26s %10s %10s %16s %12s\n", "variant", "wall (s)", "CPU (s)", "peak RSS (MiB)",
              "bytes/run");
  struct row {
    const char* name;
    const char* variant;
    result r;
  };
  row rows[] = {{"bare co_spawn, 1 thread", "bare1", {}},
                {"jobs::job, 1 thread", "job1", {}},
                {"bare co_spawn, 2 threads", "bare2", {}},
                {"jobs::job, 2 threads", "job2", {}},
                {"bare + signal, 1 thread", "bare1c", {}}};
  for (auto& rw : rows) {
    for (std::size_t k = 0; k < reps; ++k) {
      const result r = run_child(exe, rw.variant, n);
      if (k == 0 || r.wall_s < rw.r.wall_s) rw.r.wall_s = r.wall_s;
      if (k == 0 || r.cpu_s < rw.r.cpu_s) rw.r.cpu_s = r.cpu_s;
      if (k == 0 || r.peak_delta < rw.r.peak_delta) rw.r.peak_delta = r.peak_delta;
    }
    std::printf("  %-26s %10.3f %10.3f %16.1f %12.0f\n", rw.name, rw.r.wall_s, rw.r.cpu_s,
                static_cast<double>(rw.r.peak_delta) / (1 << 20),
                static_cast<double>(rw.r.peak_delta) / static_cast<double>(n));
    std::fflush(stdout);
  }
  for (int k = 0; k < 2; ++k) {
    const auto& bare = rows[2 * k].r;
    const auto& job = rows[2 * k + 1].r;
    const double wr = job.wall_s / bare.wall_s;
    const double cr = job.cpu_s / bare.cpu_s;
    const double mr = static_cast<double>(job.peak_delta) / static_cast<double>(bare.peak_delta);
    std::printf("  job/bare, %s: wall %.2fx (goal <= 1.5x: %s; CPU %.2fx), memory %.2fx (goal <= 1.3x: %s)\n",
                k == 0 ? "1 thread " : "2 threads", wr, wr <= 1.5 ? "met" : "not met", cr, mr,
                mr <= 1.3 ? "met" : "not met");
  }
  {
    // The same on one thread against bare coroutines that can be cancelled too.
    const auto& bare = rows[4].r;
    const auto& job = rows[1].r;
    std::printf("  job/(bare + signal), 1 thread: wall %.2fx (CPU %.2fx), memory %.2fx\n",
                job.wall_s / bare.wall_s, job.cpu_s / bare.cpu_s,
                static_cast<double>(job.peak_delta) / static_cast<double>(bare.peak_delta));
  }
  std::fflush(stdout);
  return sequential_starts(s);
}
