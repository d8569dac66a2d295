// async_watch at scale: coalescing, 10^4 fast runs, many watchers on a pool, shutdown.
#include <jobs/job.hpp>

#include "test_util.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using jobs_test::poll_until;

namespace {

jobs::body instant() {
  return [](jobs::context&) -> asio::awaitable<void> { co_return; };
}

}  // namespace

BOOST_AUTO_TEST_SUITE(watch_scale)

BOOST_AUTO_TEST_CASE(fast_progress_is_coalesced) {
  asio::io_context io;
  constexpr int steps = 10000;
  jobs::job j(io, "w", [](jobs::context& ctx) -> asio::awaitable<void> {
    for (int i = 1; i <= steps; ++i) ctx.set_progress(double(i) / steps);  // no yield in between
    co_return;
  });
  int deliveries = 0;
  jobs::stats last;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        std::uint64_t v = j.stats().version;
        do {
          last = co_await j.async_watch(v, asio::use_awaitable);
          v = last.version;
          ++deliveries;
        } while (!jobs::is_done(last.state));
      },
      asio::detached);
  io.poll();
  j.run();
  io.run();
  BOOST_TEST(last.state == jobs::state::succeeded);
  BOOST_TEST(last.progress == 1.0);
  BOOST_TEST(deliveries < 10);  // 10000 changes, a handful of deliveries
}

BOOST_AUTO_TEST_CASE(every_run_end_is_seen_across_many_fast_runs) {
  asio::io_context io;
  constexpr int runs = 10000;
  jobs::job j(io, "w", instant());
  int ends_seen = 0;
  bool runner_done = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        std::uint64_t v = j.stats().version;
        while (ends_seen < runs) {
          auto s = co_await j.async_watch(v, asio::use_awaitable);
          v = s.version;
          if (jobs::is_done(s.state)) ++ends_seen;
        }
      },
      asio::detached);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        for (int i = 0; i < runs; ++i) co_await j.async_run(asio::use_awaitable);
        runner_done = true;
      },
      asio::detached);
  BOOST_TEST(poll_until(io, [&] { return runner_done && ends_seen == runs; }));
  BOOST_TEST(ends_seen == runs);
}

BOOST_AUTO_TEST_CASE(many_watchers_on_a_thread_pool) {
  asio::thread_pool pool(4);
  // Fewer runs than the job keeps ends of (64): however far a slow watcher falls behind (the
  // runner is not held back by the watchers), it can still collect every end.
  constexpr int runs = 60;
  constexpr int watchers = 10;
  jobs::job j(pool, "w", [](jobs::context& ctx) -> asio::awaitable<void> {
    for (int i = 1; i <= 4; ++i) ctx.set_progress(i / 4.0);
    co_return;
  });
  // Boost.Test's assertions are not thread-safe: the pool threads only count, the test thread
  // asserts.
  std::atomic<int> finished_watchers{0};
  std::atomic<int> stale_versions{0};
  std::atomic<int> last_progress_wrong{0};
  // Every watcher has its first snapshot (the job's state before any run) before the first run
  // starts: a watcher that begins after a run has ended never sees that end (watch version 0
  // is the current state), and the runner, which ends each run inline, is fast.
  std::atomic<int> first_snapshots{0};
  std::vector<std::future<int>> results;
  for (int w = 0; w < watchers; ++w) {
    results.push_back(asio::co_spawn(
        pool,
        [&]() -> asio::awaitable<int> {
          std::uint64_t v = 0;
          int ends = 0;
          double last_progress = -1;
          while (ends < runs) {
            auto s = co_await j.async_watch(v, asio::use_awaitable);
            if (v == 0) ++first_snapshots;
            if (s.version <= v) ++stale_versions;
            v = s.version;
            if (s.progress >= 0) last_progress = s.progress;
            if (jobs::is_done(s.state)) ++ends;
          }
          if (last_progress != 1.0) ++last_progress_wrong;
          ++finished_watchers;
          co_return ends;
        },
        asio::use_future));
  }
  const auto limit = std::chrono::steady_clock::now() + jobs_test::cap;
  while (first_snapshots.load() < watchers && std::chrono::steady_clock::now() < limit)
    std::this_thread::yield();
  BOOST_REQUIRE(first_snapshots.load() == watchers);
  auto runner = asio::co_spawn(
      pool,
      [&]() -> asio::awaitable<void> {
        for (int i = 0; i < runs; ++i) co_await j.async_run(asio::use_awaitable);
      },
      asio::use_future);
  BOOST_REQUIRE(runner.wait_for(jobs_test::cap) == std::future_status::ready);
  runner.get();
  for (auto& r : results) {
    BOOST_REQUIRE(r.wait_for(jobs_test::cap) == std::future_status::ready);
    BOOST_TEST(r.get() == runs);
  }
  BOOST_TEST(finished_watchers == watchers);
  BOOST_TEST(stale_versions == 0);
  BOOST_TEST(last_progress_wrong == 0);
  pool.join();
}

BOOST_AUTO_TEST_CASE(destroying_the_context_releases_a_watcher_of_an_idle_job) {
  // The watcher's handler holds the job: without the context's shutdown releasing it, the two
  // would keep each other alive (ASan's leak check fails the test then).
  auto alive = std::make_shared<int>(0);
  std::weak_ptr<int> watch_alive = alive;
  {
    asio::io_context io;
    jobs::job j(io, "idle", instant());
    const auto v = j.stats().version;
    j.async_watch(v, [j, alive = std::move(alive)](boost::system::error_code, jobs::stats) {
      BOOST_FAIL("a watcher of an idle job must not complete");
    });
    io.poll();
  }
  BOOST_TEST(watch_alive.expired());
}

BOOST_AUTO_TEST_SUITE_END()
