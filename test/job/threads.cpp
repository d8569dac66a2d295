// Jobs on an asio::thread_pool with 4 threads: races on run() and cancel(), every member from
// any thread, a context used from offloaded threads. Meant to be clean under ThreadSanitizer.
#include <jobs/job.hpp>

#include "test_util.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/log/sources/record_ostream.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <latch>
#include <set>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using boost::system::error_code;
using jobs::state;

BOOST_AUTO_TEST_SUITE(threads)

BOOST_AUTO_TEST_CASE(many_threads_racing_run_start_exactly_one_run) {
  asio::thread_pool pool(4);
  constexpr int racers = 8;
  for (int round = 0; round < 20; ++round) {
    BOOST_TEST_CONTEXT("round " << round) {
      std::atomic<int> invocations{0};
      jobs_test::event release;
      jobs::job j(pool, "race", [&](jobs::context&) -> asio::awaitable<void> {
        ++invocations;
        release.wait();  // keeps the run pending while the racers race
        co_return;
      });
      std::latch go(racers);
      std::atomic<int> admitted{0}, refused_async{0}, admitted_async{0};
      std::atomic<int> async_done{0};
      std::vector<std::thread> ts;
      for (int i = 0; i < racers; ++i)
        ts.emplace_back([&, i] {
          go.arrive_and_wait();
          if (i % 2 == 0) {
            if (j.run(i)) ++admitted;
          } else {
            j.async_run(i, [&](std::exception_ptr e) {
              if (jobs_test::code_of(e) == jobs::errc::still_pending)
                ++refused_async;
              else
                ++admitted_async;
              ++async_done;
            });
          }
        });
      for (auto& t : ts) t.join();
      BOOST_TEST(j.is_executing());
      release.set();
      j.wait();
      BOOST_TEST_REQUIRE(jobs_test::spin_until([&] { return async_done == racers / 2; }));
      BOOST_TEST(admitted + admitted_async == 1);
      BOOST_TEST(refused_async + admitted_async == racers / 2);
      BOOST_TEST(invocations == 1);
      BOOST_TEST(j.state() == state::succeeded);
    }
  }
  pool.join();
}

BOOST_AUTO_TEST_CASE(many_threads_racing_cancel_exactly_one_succeeds) {
  asio::thread_pool pool(4);
  for (int round = 0; round < 20; ++round) {
    jobs_test::event started;
    jobs::job j(pool, "cancel-race", [&](jobs::context& ctx) -> asio::awaitable<void> {
      started.set();
      co_await jobs_test::forever(ctx.get_executor());
    });
    BOOST_TEST(j.run());
    BOOST_TEST_REQUIRE(started.wait());
    std::latch go(8);
    std::atomic<int> accepted{0};
    std::vector<std::thread> ts;
    for (int i = 0; i < 8; ++i)
      ts.emplace_back([&] {
        go.arrive_and_wait();
        if (j.cancel()) ++accepted;
      });
    for (auto& t : ts) t.join();
    j.wait();
    BOOST_TEST(accepted == 1);
    BOOST_TEST(j.state() == state::canceled);
  }
  pool.join();
}

BOOST_AUTO_TEST_CASE(every_member_is_safe_from_any_thread) {
  asio::thread_pool pool(4);
  std::atomic<int> invocations{0};
  jobs::job j(
      pool, "busy",
      [&](jobs::context& ctx) -> asio::awaitable<void> {
        ++invocations;
        for (int i = 1; i <= 4; ++i) {
          asio::steady_timer t(ctx.get_executor(), 100us);
          co_await t.async_wait(asio::use_awaitable);
          ctx.set_progress(i / 4.0);
          ctx.set_result(i);
        }
        if (ctx.params<int>() % 5 == 0) throw std::runtime_error("every fifth run fails");
      },
      jobs::with_label("k", "v"));

  std::atomic<bool> stop{false};
  std::atomic<int> admitted{0}, waits_issued{0}, waits_done{0}, bad{0};
  std::vector<std::thread> ts;
  // Readers.
  for (int r = 0; r < 3; ++r)
    ts.emplace_back([&] {
      while (!stop) {
        const double p = j.progress();
        if (!(p == -1.0 || (p >= 0.0 && p <= 1.0))) ++bad;
        const auto s = j.stats();
        if (s.id != "busy" || s.labels.size() != 1) ++bad;
        if (s.execution_time.count() < 0) ++bad;
        (void)j.state();
        (void)j.is_done();
        (void)j.is_executing();
        (void)j.is_state(state::running);
        (void)j.result();
        (void)j.error();
        (void)j.started_at();
        (void)j.ended_at();
        (void)j.execution_time();
        (void)j.labels();
        (void)j.get_executor();
        if (j.id() != "busy") ++bad;
      }
    });
  // Cancelers and async waiters.
  ts.emplace_back([&] {
    while (!stop) {
      (void)j.cancel();
      ++waits_issued;
      j.async_wait([&](error_code) { ++waits_done; });
      std::this_thread::yield();
    }
  });
  // Runners: run() and wait() from two threads.
  for (int r = 0; r < 2; ++r)
    ts.emplace_back([&, r] {
      for (int i = 0; i < 60; ++i) {
        if (j.run(i * 2 + r)) ++admitted;
        j.wait();
      }
    });
  ts[ts.size() - 1].join();
  ts[ts.size() - 2].join();
  stop = true;
  for (std::size_t i = 0; i + 2 < ts.size(); ++i) ts[i].join();
  j.wait();
  pool.join();  // every handler has run
  BOOST_TEST(bad == 0);
  BOOST_TEST(admitted >= 1);
  BOOST_TEST(invocations <= admitted);  // a run canceled before its body began may skip it
  BOOST_TEST(waits_done == waits_issued);
  BOOST_TEST(j.is_done());
}

BOOST_AUTO_TEST_CASE(the_context_is_usable_from_offloaded_threads) {
  asio::thread_pool pool(4);
  std::atomic<int> param_ok{0}, id_ok{0}, label_ok{0}, not_canceled{0};
  jobs::job j(
      pool, "offload",
      [&](jobs::context& ctx) -> asio::awaitable<void> {
        std::vector<std::thread> workers;
        for (int w = 0; w < 4; ++w)
          workers.emplace_back([ctx, w, &param_ok, &id_ok, &label_ok, &not_canceled]() mutable {
            for (int k = 0; k <= 50; ++k) {
              ctx.set_progress(k / 50.0);
              ctx.set_result(w);
            }
            BOOST_LOG_SEV(ctx.logger(), boost::log::trivial::info) << "worker " << w;
            if (ctx.params<int>() == 77) ++param_ok;
            if (ctx.id() == "offload") ++id_ok;
            if (ctx.labels().count("team") == 1) ++label_ok;
            if (!ctx.is_canceled() && !ctx.cancel_reason()) ++not_canceled;
            (void)ctx.get_executor();
          });
        for (auto& t : workers) t.join();
        co_return;
      },
      jobs::with_label("team", "core"));
  BOOST_TEST(j.run(77));
  j.wait();
  BOOST_TEST(j.state() == state::succeeded);
  BOOST_TEST(j.progress() == 1.0);
  const int r = j.result<int>();
  BOOST_TEST((r >= 0 && r < 4));
  BOOST_TEST(param_ok == 4);
  BOOST_TEST(id_ok == 4);
  BOOST_TEST(label_ok == 4);
  BOOST_TEST(not_canceled == 4);
}

BOOST_AUTO_TEST_CASE(cancel_from_another_thread_reaches_offloaded_work) {
  asio::thread_pool pool(4);
  jobs_test::event started;
  std::atomic<bool> worker_saw_cancel{false};
  jobs::job j(pool, "offload-cancel", [&](jobs::context& ctx) -> asio::awaitable<void> {
    std::thread worker([ctx, &started, &worker_saw_cancel] {
      started.set();
      worker_saw_cancel = jobs_test::spin_until([&] { return ctx.is_canceled(); });
    });
    worker.join();
    co_return;
  });
  BOOST_TEST(j.run());
  BOOST_TEST_REQUIRE(started.wait());
  BOOST_TEST(j.cancel());
  j.wait();
  BOOST_TEST(worker_saw_cancel.load());
  BOOST_TEST(j.state() == state::canceled);
}

BOOST_AUTO_TEST_CASE(work_a_body_starts_on_its_strand_is_serialized) {
  asio::thread_pool pool(4);
  int counter = 0;  // deliberately not atomic: only the strand touches it
  jobs::job j(pool, "strand", [&](jobs::context& ctx) -> asio::awaitable<void> {
    std::atomic<int> children{0};
    auto child = [&]() -> asio::awaitable<void> {
      for (int i = 0; i < 100; ++i) {
        ++counter;
        co_await asio::post(ctx.get_executor(), asio::use_awaitable);
      }
      ++children;
    };
    for (int c = 0; c < 4; ++c) asio::co_spawn(ctx.get_executor(), child(), asio::detached);
    while (children < 4) {
      asio::steady_timer t(ctx.get_executor(), 100us);
      co_await t.async_wait(asio::use_awaitable);
    }
  });
  BOOST_TEST(j.run());
  j.wait();
  BOOST_TEST(j.state() == state::succeeded);
  BOOST_TEST(counter == 400);
}

// A run started from a pool handler that then blocks until the body has begun: the launch goes
// to the job's strand at once, where another pool thread runs it (a launch kept back until the
// starting handler returns would never run: that handler waits for it).
BOOST_AUTO_TEST_CASE(a_run_started_off_its_strand_begins_while_the_starter_blocks) {
  asio::thread_pool pool(4);
  jobs_test::event began;
  jobs::job j(pool, "blocked starter", [&](jobs::context&) -> asio::awaitable<void> {
    began.set();
    co_return;
  });
  std::atomic<bool> seen{false};
  jobs_test::event done;
  asio::post(pool, [&] {
    j.async_run([](std::exception_ptr) {});
    seen = began.wait();  // blocks this pool thread
    done.set();
  });
  BOOST_TEST_REQUIRE(done.wait());
  BOOST_TEST(seen.load());
  pool.join();
}

BOOST_AUTO_TEST_CASE(many_jobs_on_one_pool) {
  asio::thread_pool pool(4);
  std::vector<jobs::job> all;
  for (int i = 0; i < 64; ++i)
    all.emplace_back(pool, "j" + std::to_string(i), [](jobs::context& ctx) -> asio::awaitable<void> {
      asio::steady_timer t(ctx.get_executor(), 1ms);
      co_await t.async_wait(asio::use_awaitable);
      ctx.set_result(ctx.id());
    });
  for (auto& j : all) BOOST_TEST(j.run());
  for (auto& j : all) j.wait();
  for (auto& j : all) {
    BOOST_TEST(j.state() == state::succeeded);
    BOOST_TEST(j.result<std::string>() == j.id());
  }
}

BOOST_AUTO_TEST_SUITE_END()
