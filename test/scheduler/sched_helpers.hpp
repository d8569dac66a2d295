// Helpers shared by the scheduler tests: virtual time (jobs::test_clock), bodies that count their
// runs and wait on a gate, and a loop runner. Every wait is on a real event bounded by
// jobs_test::cap; the scheduler's time is virtual, so nothing waits for a real minute.
#pragma once

#include <jobs/scheduler.hpp>

#include "test_util.hpp"

#include <boost/asio.hpp>
#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace sched_test {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using jobs_test::cap;
using time_point = std::chrono::system_clock::time_point;

/// 2026-01-01T00:00:00Z, the test clock's start.
inline const time_point t0 = jobs::test_clock::default_start();

/// Runs every handler that is ready, until none is (timers at max never fire).
inline void settle(asio::io_context& io) {
  io.restart();
  while (io.poll() > 0) io.restart();
}

template <class Pred>
void run_until(asio::io_context& io, Pred pred) {
  BOOST_TEST_REQUIRE(jobs_test::poll_until(io, pred), "the awaited event did not come within the cap");
}

/// What the bodies of one test record: how many runs began, in which order (by job id).
struct recorder {
  std::vector<std::string> order;
  int count(const std::string& id) const {
    int n = 0;
    for (const auto& o : order) n += o == id;
    return n;
  }
};

/// A body that records its start, then waits for `g` (if any) to open. Single-threaded
/// io_context only.
inline jobs::body recording(std::shared_ptr<recorder> r, std::shared_ptr<jobs_test::gate> g = nullptr) {
  return [r, g](jobs::context& ctx) -> asio::awaitable<void> {
    r->order.push_back(ctx.id());
    if (g) co_await g->wait();
  };
}

/// An executor around a recording job (options go to the executor).
template <class... Options>
jobs::executor exec_of(asio::io_context& io, const std::string& id, std::shared_ptr<recorder> r,
                       std::shared_ptr<jobs_test::gate> g = nullptr, Options&&... options) {
  return jobs::executor(jobs::job(io, id, recording(std::move(r), std::move(g))),
                        std::forward<Options>(options)...);
}

/// The "schedule" object of `id` in registry.stats().
inline boost::json::object schedule_json(const jobs::registry& reg, const std::string& id) {
  for (const auto& v : reg.stats()) {
    const auto& o = v.as_object();
    if (o.at("id").as_string() == id) return o.at("schedule").as_object();
  }
  BOOST_FAIL("no entry " << id << " in registry.stats()");
  return {};
}

}  // namespace sched_test
