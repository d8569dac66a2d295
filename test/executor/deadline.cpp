// The per-attempt timeout armed lazily (libexecutor/src/deadline.hpp): one timer per executor,
// left armed between attempts, which must neither hold up its io_context nor time out the wrong
// attempt.
#include "helpers.hpp"

#include <boost/asio/thread_pool.hpp>

using namespace exec_test;

BOOST_AUTO_TEST_SUITE(lazy_deadline)

// The timer stays armed 1 h ahead after each start, but it is not work: run() returns as soon as
// the start has ended, every time (a plain steady_timer left armed would hold it for an hour).
BOOST_AUTO_TEST_CASE(a_long_timeout_left_armed_never_holds_up_run) {
  asio::io_context io;
  auto p = std::make_shared<probe>();
  jobs::job j(io, "lazy", succeed(p));
  jobs::executor exec(j, jobs::with_timeout(1h));
  for (int i = 0; i < 50; ++i) {
    bool done = false;
    exec.async_start([&](std::exception_ptr e) {
      done = true;
      BOOST_TEST(!e);
    });
    const auto t0 = steady_clock::now();
    io.restart();
    run_all(io);  // fails (after the hang limit) if the armed timer still counted as work
    BOOST_TEST_REQUIRE(done);
    BOOST_TEST((steady_clock::now() - t0 < 30s));
  }
  BOOST_TEST(p->calls.load() == 50);
}

// The pending wait belongs to an earlier attempt and expires before this attempt's deadline:
// it is re-armed for this one, and the attempt times out at its own deadline, not the earlier.
BOOST_AUTO_TEST_CASE(an_expiry_meant_for_an_earlier_attempt_rearms_for_the_live_one) {
  asio::io_context io;
  bool block = false;
  jobs::job j(io, "rearm", [&block](jobs::context& ctx) -> asio::awaitable<void> {
    if (!block) co_return;
    asio::steady_timer t(ctx.get_executor(), 1h);
    co_await t.async_wait(asio::use_awaitable);
  });
  constexpr auto timeout = 600ms;
  jobs::executor exec(j, jobs::with_timeout(timeout));
  std::exception_ptr first = std::make_exception_ptr(0);
  exec.async_start([&](std::exception_ptr e) { first = e; });
  io.restart();
  run_all(io);
  BOOST_TEST_REQUIRE(!first);
  // The timer now waits for the first attempt's deadline (about `timeout` from its start). Start
  // the second attempt well before then: its own deadline is later.
  asio::steady_timer pause(io, timeout / 2);
  pause.wait();
  block = true;
  std::exception_ptr second;
  bool done = false;
  const auto started = steady_clock::now();
  exec.async_start([&](std::exception_ptr e) {
    second = e;
    done = true;
  });
  io.restart();
  run_all(io);
  const auto took = steady_clock::now() - started;
  BOOST_TEST_REQUIRE(done);
  BOOST_TEST(has_errc(second, jobs::errc::timeout), what_of(second));
  // Never before its own deadline (the earlier one came after about timeout / 2).
  BOOST_TEST((took >= timeout - 20ms), std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                                           << " ms");
  BOOST_TEST(exec.stats().attempts.at(0).outcome == jobs::attempt_outcome::timed_out);
}

// Many quick attempts, then one that runs long: the lazily armed timer still times it out, and
// a late expiry never cancels a later attempt (retries with a timeout, each attempt its own).
BOOST_AUTO_TEST_CASE(after_many_quick_starts_a_long_attempt_still_times_out) {
  asio::io_context io;
  int run = 0;
  jobs::job j(io, "late", [&run](jobs::context& ctx) -> asio::awaitable<void> {
    if (++run <= 200) co_return;
    asio::steady_timer t(ctx.get_executor(), 1h);
    co_await t.async_wait(asio::use_awaitable);
  });
  jobs::executor exec(j, jobs::with_timeout(100ms), jobs::with_retry(3, 0s));
  for (int i = 0; i < 200; ++i) {
    exec.async_start([](std::exception_ptr e) { BOOST_TEST(!e); });
    io.restart();
    run_all(io);
  }
  std::exception_ptr e;
  bool done = false;
  exec.async_start([&](std::exception_ptr x) {
    e = x;
    done = true;
  });
  io.restart();
  run_all(io);
  BOOST_TEST_REQUIRE(done);
  BOOST_TEST(has_errc(e, jobs::errc::timeout), what_of(e));
  const auto st = exec.stats();
  BOOST_TEST_REQUIRE(st.attempts.size() == 3u);
  for (const auto& a : st.attempts) BOOST_TEST(a.outcome == jobs::attempt_outcome::timed_out);
  BOOST_TEST(st.retries == 3u);
}

// An executor destroyed while its timer waits (1 h ahead): the wait is cancelled, run() returns,
// nothing is left behind (ASan checks the rest).
BOOST_AUTO_TEST_CASE(an_executor_destroyed_with_its_timer_armed) {
  asio::io_context io;
  jobs::job j(io, "gone", succeed());
  {
    jobs::executor exec(j, jobs::with_timeout(1h));
    exec.async_start([](std::exception_ptr e) { BOOST_TEST(!e); });
    io.restart();
    run_all(io);
  }
  io.restart();
  run_all(io);
  jobs::executor again(j, jobs::with_timeout(1h));
  bool done = false;
  again.async_start([&](std::exception_ptr e) { done = !e; });
  io.restart();
  run_all(io);
  BOOST_TEST(done);
}

// On a thread_pool the timer is set per attempt and cancelled when it ends: join() returns.
BOOST_AUTO_TEST_CASE(on_a_thread_pool_join_returns_after_a_start_with_a_long_timeout) {
  asio::thread_pool pool(2);
  jobs::job j(pool.get_executor(), "pool", succeed());
  jobs::executor exec(j, jobs::with_timeout(1h));
  auto f = exec.async_start(asio::use_future);
  BOOST_TEST_REQUIRE((f.wait_for(hang_limit) == std::future_status::ready));
  BOOST_TEST(!outcome_of(f));
  auto joined = std::async(std::launch::async, [&] { pool.join(); });
  BOOST_TEST((joined.wait_for(hang_limit) == std::future_status::ready));
}

// A context destroyed with a start in progress, on a job whose executor is a strand (of an
// io_context, of a thread_pool): the timer was made on the context's own executor, so the
// strand's implementation goes with the job and the executor. A timer on the strand itself would
// keep it forever: ASan's leak check fails the test then (found by job_fuzz).
BOOST_AUTO_TEST_CASE(a_context_destroyed_with_a_start_in_progress_on_a_strand) {
  {
    std::optional<asio::io_context> io(std::in_place);
    std::optional<jobs::job> j(std::in_place, asio::make_strand(*io), "strand", succeed());
    std::optional<jobs::executor> exec(std::in_place, *j, jobs::with_timeout(1h));
    bool called = false;
    exec->async_start([&](std::exception_ptr) { called = true; });
    exec.reset();
    j.reset();
    io.reset();  // the start's handler is destroyed, never called
    BOOST_TEST(!called);
  }
  {
    std::optional<asio::thread_pool> pool(std::in_place, 1);
    std::optional<jobs::job> j(std::in_place, asio::make_strand(pool->get_executor()), "pool strand",
                               [](jobs::context&) -> asio::awaitable<void> {
                                 asio::steady_timer t(co_await asio::this_coro::executor, 1h);
                                 co_await t.async_wait(asio::use_awaitable);
                               });
    std::optional<jobs::executor> exec(std::in_place, *j, jobs::with_timeout(1h));
    exec->async_start([](std::exception_ptr) {});
    exec.reset();
    j.reset();
    pool->stop();
    pool->join();
    pool.reset();
  }
}

BOOST_AUTO_TEST_SUITE_END()
