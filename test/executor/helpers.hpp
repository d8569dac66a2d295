// Helpers shared by the executor tests: bodies that count themselves, a guarded io_context run,
// and error inspection. Durations are short but every check has a wide margin: nothing here
// depends on how fast a loaded machine is, only on the order of events.
#pragma once

#include <jobs/executor.hpp>
#include <jobs/job.hpp>

#include <boost/asio.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <exception>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace exec_test {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using std::chrono::steady_clock;

/// The longest any test may take to reach an event that should come "at once": a limit for
/// hangs, never a timing assertion.
inline constexpr auto hang_limit = std::chrono::seconds(60);

/// What a body throws on purpose.
struct test_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Counts a body's calls and how many of them run at the same time.
struct probe {
  std::atomic<int> calls{0};
  std::atomic<int> running{0};
  std::atomic<int> max_running{0};
  std::mutex mu;
  std::vector<std::pair<steady_clock::time_point, steady_clock::time_point>> spans;  // [begin, end)

  struct scope {
    probe& p;
    steady_clock::time_point begin = steady_clock::now();
    explicit scope(probe& pr) : p(pr) {
      ++p.calls;
      const int now = ++p.running;
      int seen = p.max_running.load();
      while (now > seen && !p.max_running.compare_exchange_weak(seen, now)) {
      }
    }
    ~scope() {
      --p.running;
      std::lock_guard lk(p.mu);
      p.spans.emplace_back(begin, steady_clock::now());
    }
  };
};

/// Succeeds at once.
inline jobs::body succeed(std::shared_ptr<probe> p = std::make_shared<probe>()) {
  return [p](jobs::context&) -> asio::awaitable<void> {
    probe::scope s(*p);
    co_return;
  };
}

/// Fails its first `failures` calls with test_error("failure <n>") at once, then succeeds.
inline jobs::body flaky(std::shared_ptr<probe> p, int failures) {
  return [p, failures](jobs::context&) -> asio::awaitable<void> {
    probe::scope s(*p);
    const int n = p->calls.load();
    if (n <= failures) throw test_error("failure " + std::to_string(n));
    co_return;
  };
}

/// Always fails at once with test_error("failure <n>").
inline jobs::body always_fail(std::shared_ptr<probe> p) { return flaky(std::move(p), 1 << 30); }

/// Waits `d` on a timer (ends early, throwing operation_aborted, when the run is cancelled).
inline jobs::body sleeper(std::shared_ptr<probe> p, steady_clock::duration d) {
  return [p, d](jobs::context& ctx) -> asio::awaitable<void> {
    probe::scope s(*p);
    asio::steady_timer t(ctx.get_executor(), d);
    co_await t.async_wait(asio::use_awaitable);
  };
}

/// Runs `io` until it has no more work; fails the test instead of hanging.
inline void run_all(asio::io_context& io, std::chrono::seconds limit = hang_limit) {
  io.run_for(limit);
  BOOST_TEST_REQUIRE(io.stopped(), "the io_context still had work after " << limit.count() << " s");
}

/// Runs `io` one handler at a time until `pred()`; false if `io` ran out of work or the limit passed.
template <class Pred>
bool run_until(asio::io_context& io, Pred pred, std::chrono::seconds limit = hang_limit) {
  const auto deadline = steady_clock::now() + limit;
  while (!pred()) {
    if (io.stopped() || steady_clock::now() > deadline) return pred();
    io.run_one_for(50ms);
  }
  return true;
}

/// The jobs::errc of a framework error, or nullopt for anything else.
inline std::optional<jobs::errc> errc_of(const std::exception_ptr& e) {
  if (!e) return std::nullopt;
  try {
    std::rethrow_exception(e);
  } catch (const boost::system::system_error& se) {
    if (se.code().category() == jobs::jobs_category()) return static_cast<jobs::errc>(se.code().value());
  } catch (...) {
  }
  return std::nullopt;
}

inline std::string what_of(const std::exception_ptr& e);

/// True if `e` is a framework error with code `x`.
inline bool has_errc(const std::exception_ptr& e, jobs::errc x) { return errc_of(e) == x; }

inline std::string what_of(const std::exception_ptr& e) {
  if (!e) return {};
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (...) {
    return "unknown exception";
  }
}

/// Records the completion of an async_start with a callback.
struct outcome {
  bool done = false;
  std::exception_ptr error;
  auto handler() {
    return [this](std::exception_ptr e) {
      done = true;
      error = std::move(e);
    };
  }
};

/// The outcome of a ready std::future<void> (from asio::use_future): null, or what get() throws.
inline std::exception_ptr outcome_of(std::future<void>& f) {
  try {
    f.get();
    return nullptr;
  } catch (...) {
    return std::current_exception();
  }
}

/// Rethrows a coroutine's exception out of io.run(), failing the test.
inline void rethrow(std::exception_ptr e) {
  if (e) std::rethrow_exception(e);
}

}  // namespace exec_test
