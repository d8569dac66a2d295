// An application that never configures Boost.Log (API.md, "Library logging is silent by
// default"; "Completion placement"):
//
//   quiet_app             runs 10^4 jobs, some failing, cancelled or timed out, and executor
//                         starts on a thread pool racing stop(); it must print nothing (ctest
//                         fails the test on any output), and must not have started Asio's
//                         system thread pool (no thread is left once its own pool has joined).
//   quiet_app --verbose   the same application after jobs::set_log_level(debug) with a sink:
//                         prints the library's records and checks their levels.
#include <jobs/jobs.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/log/attributes/value_extraction.hpp>
#include <boost/log/core/core.hpp>
#include <boost/log/expressions/message.hpp>
#include <boost/log/sinks/basic_sink_backend.hpp>
#include <boost/log/sinks/sync_frontend.hpp>
#include <boost/make_shared.hpp>

#include <dirent.h>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <future>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using sev = boost::log::trivial::severity_level;

namespace {

int failures = 0;
void check(bool ok, const char* what) {
  if (ok) return;
  ++failures;
  std::fprintf(stderr, "quiet_app: check failed: %s\n", what);
}

int threads_in_process() {
  int n = 0;
  if (DIR* d = opendir("/proc/self/task")) {
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') ++n;
    closedir(d);
  }
  return n;
}

struct record {
  sev level;
  std::string job, message;
};

class collect : public boost::log::sinks::basic_sink_backend<boost::log::sinks::synchronized_feeding> {
 public:
  void consume(const boost::log::record_view& r) {
    record out{boost::log::extract_or_default<sev>("Severity", r, sev::fatal),
               boost::log::extract_or_default<std::string>("Job", r, std::string()),
               boost::log::extract_or_default<std::string>("Message", r, std::string())};
    std::lock_guard lk(mu);
    records.push_back(std::move(out));
  }
  std::mutex mu;
  std::vector<record> records;
};

// 10^4 runs, a few failing, a few cancelled, and executor starts that time out and retry.
void many_jobs() {
  asio::io_context io;
  int ok = 0;
  jobs::job quick(io, "quick", [&](jobs::context&) -> asio::awaitable<void> {
    ++ok;
    co_return;
  });
  for (int i = 0; i < 10'000; ++i) {
    quick.run();
    io.restart();
    io.run();
  }
  check(ok == 10'000, "10^4 runs");

  jobs::job bad(io, "bad", [](jobs::context&) -> asio::awaitable<void> {
    throw std::runtime_error("kaboom");
    co_return;
  });
  jobs::job stuck(io, "stuck", [](jobs::context& ctx) -> asio::awaitable<void> {
    asio::steady_timer t(ctx.get_executor(), 1h);
    co_await t.async_wait(asio::use_awaitable);
  });
  jobs::executor timed(stuck, jobs::with_timeout(5ms), jobs::with_retry(2, 1ms));
  for (int i = 0; i < 3; ++i) {
    bad.run();
    stuck.run();
    io.restart();
    io.poll();
    stuck.cancel();
    io.run();
    check(bad.state() == jobs::state::failed, "a failing run");
    check(stuck.state() == jobs::state::canceled, "a cancelled run");
  }
  std::exception_ptr timed_out;
  timed.async_start([&](std::exception_ptr e) { timed_out = e; });
  io.restart();
  io.run();
  check(timed_out != nullptr, "a start that timed out");
  check(timed.stats().retries == 2, "two timed-out attempts");
}

// Executor starts on a thread pool whose runs may end before async_start has returned, and
// stop() racing admission and launch: nothing may go through asio::system_executor.
void pool_starts() {
  asio::thread_pool pool(2);
  jobs::job j(pool.get_executor(), "pooled", [](jobs::context&) -> asio::awaitable<void> { co_return; });
  jobs::executor exec(j, jobs::on_complete([](const jobs::job&) {}));
  std::atomic<bool> stopping{true};
  std::thread stopper([&] {
    while (stopping.load()) exec.stop();
  });
  for (int i = 0; i < 2'000; ++i) {
    std::promise<void> done;
    exec.async_start([&](std::exception_ptr) { done.set_value(); });
    done.get_future().wait();
  }
  stopping = false;
  stopper.join();
  pool.join();
}

}  // namespace

int main(int argc, char** argv) {
  const bool verbose = argc > 1 && std::strcmp(argv[1], "--verbose") == 0;
  boost::shared_ptr<boost::log::sinks::synchronous_sink<collect>> sink;
  if (verbose) {
    sink = boost::make_shared<boost::log::sinks::synchronous_sink<collect>>();
    boost::log::core::get()->add_sink(sink);
    jobs::set_log_level(sev::debug);
  }
  // A thread made and joined first: a sanitizer's runtime starts a helper thread of its own at
  // the first thread creation (TSan does), which must not count as one left behind.
  std::thread([] {}).join();
  const int threads_before = threads_in_process();
  many_jobs();
  pool_starts();
  // Asio's system thread pool, once started, keeps its threads until exit.
  check(threads_in_process() == threads_before, "no thread left behind (asio::system_executor unused)");

  if (verbose) {
    auto& recs = sink->locked_backend()->records;
    auto count = [&](const std::string& job, sev level, const char* part) {
      int n = 0;
      for (const auto& r : recs)
        if (r.job == job && r.level == level && r.message.find(part) != std::string::npos) ++n;
      return n;
    };
    for (const auto& r : recs)
      if (r.job != "quick" && r.job != "pooled")
        std::printf("[%s] %s\n", boost::log::trivial::to_string(r.level), r.message.c_str());
    check(count("quick", sev::debug, "started") == 10'000, "10^4 start records at debug");
    check(count("quick", sev::debug, "succeeded") == 10'000, "10^4 end records at debug");
    check(count("bad", sev::warning, "failed") == 3, "failures at warning");
    check(count("stuck", sev::info, "canceled after") == 3, "cancellations at info");
    check(count("stuck", sev::warning, "timed out: cancel requested") == 2, "each timeout at warning");
    check(count("stuck", sev::warning, "job timed out") == 2, "the timed-out runs failed, at warning");
    check(count("stuck", sev::info, "retrying") == 1, "the retry at info");
    std::printf("quiet_app --verbose: %zu records, %d failed checks\n", recs.size(), failures);
  }
  return failures == 0 ? 0 : 1;
}
