// std::bad_alloc injected into cancel() and into the end of a run (README, "Exception safety"):
//  - cancel() that fails leaves the job exactly as it was (still running, its body not
//    cancelled), and a later cancel() works;
//  - the end of a run always releases every waiter and watcher: blocking wait() returns, an
//    async waiter or watcher completes, or (when the failure hit the post of its own completion)
//    is destroyed unrun with its work; nothing escapes io_context::run();
//  - an attempt after the first that cannot be launched is a failed attempt in the stats.
#include "../executor/helpers.hpp"
#include "alloc_hook.hpp"
#include "test_util.hpp"

#include <future>
#include <new>
#include <thread>

using namespace exec_test;

namespace {

// A completion handler that records whether it was invoked, and whose destruction unrun can be
// seen (the token's use count drops).
struct tracked_handler {
  std::shared_ptr<int> token;
  int* calls;
  template <class... Args>
  void operator()(Args&&...) {
    ++*calls;
  }
};

struct sweep_counts {
  std::size_t allocations = 0, threw = 0, absorbed = 0, dropped = 0;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(fault_alloc_end)

BOOST_AUTO_TEST_CASE(cancel_fails_cleanly_at_every_allocation) {
  asio::io_context io;
  jobs::job j(io, "alloc-cancel", [](jobs::context& ctx) -> asio::awaitable<void> {
    co_await jobs_test::forever(ctx.get_executor());
  });
  int watch_calls = 0;
  auto token = std::make_shared<int>(0);
  auto arm_watch = [&] { j.async_watch(j.stats().version, tracked_handler{token, &watch_calls}); };
  auto start = [&] {
    BOOST_TEST_REQUIRE(j.run());
    io.restart();
    io.poll();  // the body waits
  };
  // Warm up, then count one cancel() with a watcher waiting.
  start();
  BOOST_TEST(j.cancel());
  run_all(io);
  start();
  arm_watch();
  // cancel() runs on a fresh thread each time: Asio recycles the memory of its posts in a
  // per-thread cache, and a thread that has posted before would not allocate them again.
  auto on_fresh_thread = [](auto f) { std::async(std::launch::async, f).get(); };
  std::size_t n;
  on_fresh_thread([&] {
    alloc_hook::scope armed;
    alloc_hook::start_counting();
    BOOST_TEST_REQUIRE(j.cancel());
    n = alloc_hook::stop();
  });
  io.restart();
  run_all(io);
  BOOST_TEST_REQUIRE(n > 0u);
  sweep_counts s{n};
  for (std::size_t i = 0; i <= n + 1; ++i) {
    BOOST_TEST_CONTEXT("allocation " << i << " of " << n) {
      start();
      watch_calls = 0;
      arm_watch();
      const auto version = j.stats().version;
      bool threw = false, ok = false, fired = false;
      on_fresh_thread([&] {
        alloc_hook::scope armed;
        alloc_hook::fail_at(i);
        try {
          ok = j.cancel();
        } catch (const std::bad_alloc&) {
          threw = true;
        }
        fired = alloc_hook::fired();
        alloc_hook::stop();
      });
      if (i >= n) BOOST_TEST(!fired);
      if (threw) {
        ++s.threw;
        // As it was: running, not cancelled, nothing changed, the body still waiting.
        BOOST_TEST(j.state() == jobs::state::running);
        BOOST_TEST(j.stats().version == version);
        io.poll();
        BOOST_TEST(j.state() == jobs::state::running);
        BOOST_TEST(j.cancel());  // a later cancel() works
      } else {
        BOOST_TEST(ok);
        if (fired) ++s.absorbed;
      }
      io.restart();
      run_all(io);
      BOOST_TEST(j.state() == jobs::state::canceled);
      // The watcher saw the change, or was dropped (its completion could not be posted).
      if (watch_calls == 0) {
        BOOST_TEST(fired);
        BOOST_TEST(token.use_count() == 1);  // destroyed, not left waiting
        ++s.dropped;
      }
    }
  }
  BOOST_TEST_MESSAGE("cancel(): " << s.allocations << " allocations, " << s.threw
                                  << " failed with bad_alloc, " << s.absorbed << " absorbed, " << s.dropped
                                  << " watchers dropped");
}

BOOST_AUTO_TEST_CASE(the_end_of_a_run_releases_every_waiter_at_every_allocation) {
  asio::io_context io;
  // The body waits on a timer that the test cancels, with as_tuple: Asio's use_awaitable would
  // build a system_error for the cancellation (an allocation of Asio's own, in the sweep's window).
  std::optional<asio::steady_timer> gate;
  int waiting = 0;
  jobs::job j(io, "alloc-end", [&](jobs::context& ctx) -> asio::awaitable<void> {
    ++waiting;
    (void)co_await gate->async_wait(asio::as_tuple(asio::use_awaitable));
    --waiting;
    ctx.set_result(std::string(64, 'r'));
  });
  struct round {
    int waits = 0, watches = 0;
    std::shared_ptr<int> wait_token = std::make_shared<int>(0), watch_token = std::make_shared<int>(0);
    std::future<void> blocked;
  };
  // Starts a run whose body waits at the gate, with a blocking waiter (another thread), an
  // async waiter and a watcher all waiting for its end.
  auto prepare = [&](round& r) {
    gate.emplace(io.get_executor(), asio::steady_timer::time_point::max());
    BOOST_TEST_REQUIRE(j.run());
    io.restart();
    BOOST_TEST_REQUIRE(jobs_test::poll_until(io, [&] { return waiting == 1; }));
    std::promise<void> waiting;
    r.blocked = std::async(std::launch::async, [&] {
      waiting.set_value();
      j.wait();
    });
    waiting.get_future().wait();  // (it may still be on its way into wait(): then it returns at once)
    j.async_wait(tracked_handler{r.wait_token, &r.waits});
    j.async_watch(j.stats().version, tracked_handler{r.watch_token, &r.watches});
    gate->cancel();
  };
  // Warm up, then count the allocations of the end of a run on this thread.
  {
    round warm;
    prepare(warm);
    run_all(io);
    warm.blocked.get();
  }
  std::size_t n;
  {
    round r;
    prepare(r);
    alloc_hook::scope armed;
    alloc_hook::start_counting();
    run_all(io);
    n = alloc_hook::stop();
    r.blocked.get();
    BOOST_TEST_REQUIRE((r.waits == 1 && r.watches == 1));
  }
  BOOST_TEST_REQUIRE(n > 0u);
  sweep_counts s{n};
  for (std::size_t i = 0; i <= n + 1; ++i) {
    BOOST_TEST_CONTEXT("allocation " << i << " of " << n) {
      round r;
      prepare(r);
      bool escaped = false, fired;
      {
        alloc_hook::scope armed;
        alloc_hook::fail_at(i);
        try {
          io.run_for(hang_limit);
        } catch (const std::exception& e) {
          escaped = true;
          BOOST_TEST_MESSAGE("escaped: " << e.what());
        } catch (...) {
          escaped = true;
        }
        fired = alloc_hook::fired();
        alloc_hook::stop();
      }
      if (!escaped) BOOST_TEST(io.stopped(), "a waiter or watcher was left holding work");
      BOOST_TEST(!escaped, "an exception left io_context::run()");
      io.restart();
      run_all(io);  // (after an escape: whatever was left)
      // The blocking waiter always returns.
      BOOST_TEST_REQUIRE((r.blocked.wait_for(hang_limit) == std::future_status::ready));
      // The run ended, whatever failed (the body's own set_result may be what failed).
      BOOST_TEST(jobs::is_done(j.state()));
      // Each async waiter completed, or was destroyed unrun: never left waiting.
      if (r.waits == 0) {
        BOOST_TEST(fired);
        BOOST_TEST(r.wait_token.use_count() == 1);
        ++s.dropped;
      }
      if (r.watches == 0) {
        BOOST_TEST(fired);
        BOOST_TEST(r.watch_token.use_count() == 1);
        ++s.dropped;
      }
      if (fired) ++s.absorbed;
    }
  }
  BOOST_TEST_MESSAGE("the end of a run: " << s.allocations << " allocations, " << s.absorbed << " absorbed, "
                                          << s.dropped << " handlers dropped");
}

BOOST_AUTO_TEST_CASE(an_attempt_that_cannot_be_launched_is_a_failed_attempt) {
  // Attempt 2 is launched right after on_retry returns (no delay): its first allocation fails.
  asio::io_context io;
  auto p = std::make_shared<probe>();
  jobs::job j(io, "alloc-attempt-2", always_fail(p));
  jobs::executor exec(j, jobs::with_retry(3, 0ms),
                      jobs::on_retry([](unsigned attempt, std::exception_ptr, auto) {
                        if (attempt == 1) alloc_hook::fail_at(0);
                      }));
  outcome o;
  exec.async_start(o.handler());
  {
    alloc_hook::scope armed;
    run_all(io);
    BOOST_TEST_REQUIRE(alloc_hook::fired());
  }
  BOOST_TEST_REQUIRE(o.done);
  bool is_bad_alloc = false;
  try {
    std::rethrow_exception(o.error);
  } catch (const std::bad_alloc&) {
    is_bad_alloc = true;
  } catch (...) {
  }
  BOOST_TEST(is_bad_alloc, what_of(o.error));
  const auto st = exec.stats();
  BOOST_TEST(p->calls == 1);
  BOOST_TEST(st.retries == 2u);  // the first attempt's failure, and the second's
  BOOST_TEST_REQUIRE(st.attempts.size() == 2u);
  BOOST_TEST(st.attempts[1].outcome == jobs::attempt_outcome::failed);
  BOOST_TEST(st.failures == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
