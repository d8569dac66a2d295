// Helpers shared by the registry tests: bodies (blocked on a gate, stubborn about cancellation),
// error inspection, and a drain's recorded outcome. Every wait is on a real event, bounded by
// jobs_test::cap; nothing depends on how fast a loaded machine is.
#pragma once

#include <jobs/executor.hpp>
#include <jobs/job.hpp>
#include <jobs/registry.hpp>

#include "test_util.hpp"

#include <boost/asio.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace reg_test {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using boost::system::error_code;
using jobs_test::cap;
using jobs_test::code_of;
using jobs_test::what_of;
using std::chrono::steady_clock;

struct test_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Runs `io` until it has no more work; fails the test instead of hanging.
inline void run_all(asio::io_context& io) {
  io.restart();
  io.run_for(cap);
  BOOST_TEST_REQUIRE(io.stopped(), "the io_context still had work after " << cap.count() << " s");
}

/// Runs `io` one handler at a time until `pred()`; fails the test if it never holds.
template <class Pred>
void run_until(asio::io_context& io, Pred pred) {
  BOOST_TEST_REQUIRE(jobs_test::poll_until(io, pred), "the awaited event did not come within the cap");
}

/// A job's code, for a framework error; empty otherwise.
inline bool has_errc(const std::exception_ptr& e, jobs::errc x) {
  return code_of(e) == jobs::make_error_code(x);
}

/// Ends when `g` opens (operation_aborted if cancelled first). Single-threaded io_context only.
inline jobs::body gated(std::shared_ptr<jobs_test::gate> g) {
  return [g](jobs::context&) -> asio::awaitable<void> { co_await g->wait(); };
}

/// Waits until cancelled (then throws operation_aborted, so the run ends canceled).
inline jobs::body until_canceled() {
  return [](jobs::context& ctx) -> asio::awaitable<void> { co_await jobs_test::forever(ctx.get_executor()); };
}

/// Ignores cancellation: polls `release` every 5 ms, whatever happens, and returns once it is set.
inline jobs::body stubborn(std::shared_ptr<std::atomic<bool>> release,
                           std::shared_ptr<std::atomic<int>> entered = nullptr) {
  return [release, entered](jobs::context& ctx) -> asio::awaitable<void> {
    if (entered) ++*entered;
    co_await asio::this_coro::throw_if_cancelled(false);
    asio::steady_timer t(ctx.get_executor());
    while (!*release) {
      t.expires_after(5ms);
      co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  };
}

/// Succeeds at once, counting its calls.
inline jobs::body quick(std::shared_ptr<std::atomic<int>> calls = std::make_shared<std::atomic<int>>()) {
  return [calls](jobs::context&) -> asio::awaitable<void> {
    ++*calls;
    co_return;
  };
}

/// Fails at once with test_error, counting its calls.
inline jobs::body failing(std::shared_ptr<std::atomic<int>> calls) {
  return [calls](jobs::context&) -> asio::awaitable<void> {
    ++*calls;
    throw test_error("failure " + std::to_string(calls->load()));
    co_return;
  };
}

/// Records a drain's completion (callback token).
struct drained {
  int calls = 0;
  error_code ec;
  jobs::drain_report report;
  auto handler() {
    return [this](error_code e, jobs::drain_report r) {
      ++calls;
      ec = e;
      report = std::move(r);
    };
  }
  bool done() const { return calls > 0; }
};

/// Records an async_run's or async_start's completion (callback token).
struct finished {
  int calls = 0;
  std::exception_ptr error;
  auto handler() {
    return [this](std::exception_ptr e) {
      ++calls;
      error = std::move(e);
    };
  }
  bool done() const { return calls > 0; }
};

/// The ids of a selection, in order.
inline std::vector<std::string> ids_of(const std::vector<jobs::registry::entry>& v) {
  std::vector<std::string> out;
  for (const auto& e : v) out.push_back(e.id());
  return out;
}

/// Waits (spinning, no io_context) until the system clock has moved past `t`, so that the next
/// start time differs from `t`.
inline void after(std::chrono::system_clock::time_point t) {
  BOOST_TEST_REQUIRE(jobs_test::spin_until([&] { return std::chrono::system_clock::now() > t; }));
}

}  // namespace reg_test

namespace jobs {
inline std::ostream& boost_test_print_type(std::ostream& os, const drain_report& r) {
  os << "{ended " << r.ended << ", canceled " << r.canceled << ", still_running [";
  for (const auto& id : r.still_running) os << id << ' ';
  return os << "], " << r.duration.count() << " ns}";
}
}  // namespace jobs
