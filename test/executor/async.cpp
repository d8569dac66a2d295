// Completion tokens, handler executors, lifetimes and threads.
#include "helpers.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <future>
#include <thread>
#include <typeinfo>

#include <cxxabi.h>
#include <dlfcn.h>

using namespace exec_test;

// ---- C++ exceptions thrown, counted (not under the sanitizers, which intercept __cxa_throw) ----
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#define JOBS_COUNT_THROWS 1
namespace {
std::atomic<std::size_t> throws{0};
}
namespace __cxxabiv1 {
extern "C" [[noreturn]] void __cxa_throw(void* obj, std::type_info* type, void (*destroy)(void*)) {
  throws.fetch_add(1, std::memory_order_relaxed);
  using real_t = void (*)(void*, std::type_info*, void (*)(void*));
  static const real_t real = reinterpret_cast<real_t>(dlsym(RTLD_NEXT, "__cxa_throw"));
  real(obj, type, destroy);
  __builtin_unreachable();
}
}  // namespace __cxxabiv1
#endif

BOOST_AUTO_TEST_SUITE(executor_tokens)

BOOST_AUTO_TEST_CASE(every_kind_of_token) {
  asio::io_context io;
  auto p = std::make_shared<probe>();
  std::vector<bool> had_params;
  int fail_next = 0;
  jobs::job j(io, "tokens", [&, p](jobs::context& ctx) -> asio::awaitable<void> {
    probe::scope s(*p);
    had_params.push_back(ctx.params().has_value());
    if (fail_next > 0) {
      --fail_next;
      throw test_error("token failure");
    }
    co_return;
  });
  jobs::executor exec(j);
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        // use_awaitable, through start()
        co_await exec.start(1);
        fail_next = 1;
        try {
          co_await exec.start();
          BOOST_FAIL("no exception");
        } catch (const test_error& e) {
          BOOST_TEST(e.what() == std::string("token failure"));
        }
        // deferred, the default token: awaiting rethrows the failure as well
        co_await exec.async_start(2);
        co_await exec.async_start();
        fail_next = 1;
        try {
          co_await exec.async_start(asio::deferred);
          BOOST_FAIL("no exception");
        } catch (const test_error&) {
        }
        // as_tuple: the exception_ptr as a value, nothing thrown
        fail_next = 1;
        auto [e1] = co_await exec.async_start(3, asio::as_tuple(asio::use_awaitable));
        BOOST_TEST(what_of(e1) == "token failure");
        auto [e2] = co_await exec.async_start(asio::as_tuple(asio::deferred));
        BOOST_TEST(!e2);
        // use_awaitable as the only argument: a token is never taken for params
        co_await exec.async_start(asio::use_awaitable);
      },
      rethrow);
  run_all(io);
  BOOST_TEST(p->calls == 8);
  const std::vector<bool> expected{true, false, true, false, false, true, false, false};
  BOOST_TEST(had_params == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(use_future_and_callback_without_params) {
  asio::io_context io;
  auto guard = asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  std::atomic<int> params_seen{-1};
  int n = 0;
  jobs::job j(io, "future", [&](jobs::context& ctx) -> asio::awaitable<void> {
    params_seen = ctx.params().has_value() ? ctx.params<int>() : 0;
    if (++n == 2) throw test_error("future failure");
    co_return;
  });
  jobs::executor exec(j);
  auto f = exec.async_start(42, asio::use_future);
  BOOST_CHECK_NO_THROW(f.get());
  BOOST_TEST(params_seen == 42);
  auto g = exec.async_start(asio::use_future);
  BOOST_CHECK_THROW(g.get(), test_error);
  BOOST_TEST(params_seen == 0);
  std::promise<std::exception_ptr> cb;
  exec.async_start([&](std::exception_ptr e) { cb.set_value(e); });  // callback alone
  BOOST_TEST(!cb.get_future().get());
  BOOST_TEST(params_seen == 0);
  guard.reset();
  runner.join();
}

BOOST_AUTO_TEST_CASE(deferred_acts_when_awaited) {
  asio::io_context io;
  auto p = std::make_shared<probe>();
  jobs::job j(io, "lazy", succeed(p));
  jobs::executor exec(j);
  auto op = exec.async_start(5);  // nothing happens yet
  io.poll();
  BOOST_TEST(p->calls == 0);
  BOOST_TEST(j.is_state(jobs::state::created));
  BOOST_TEST(exec.stats().starts == 0u);
  io.restart();
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { co_await std::move(op); }, rethrow);
  run_all(io);
  BOOST_TEST(p->calls == 1);
  BOOST_TEST(exec.stats().starts == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(executor_handlers)

BOOST_AUTO_TEST_CASE(never_inside_the_initiating_call) {
  asio::io_context io;
  auto p = std::make_shared<probe>();
  jobs::job j(io, "not-inline", succeed(p));
  jobs::executor exec(j, jobs::once(), jobs::with_cooldown(1h));
  auto check = [&](auto&& start) {
    bool initiating = true, called = false;
    start([&](std::exception_ptr) {
      called = true;
      BOOST_TEST(!initiating);
    });
    initiating = false;
    BOOST_TEST(!called);
    io.restart();
    run_all(io);
    BOOST_TEST(called);
  };
  check([&](auto h) { exec.async_start(h); });  // admitted
  check([&](auto h) { exec.async_start(h); });  // refused: once
  BOOST_TEST_REQUIRE(j.run());
  check([&](auto h) { exec.async_start(h); });  // refused: still pending
  jobs::executor cool(jobs::job(io, "cool", succeed()), jobs::with_cooldown(1h));
  check([&](auto h) { cool.async_start(h); });
  check([&](auto h) { cool.async_start(h); });  // refused: cooldown
  // From inside a handler running on the job's executor, too.
  jobs::executor again(jobs::job(io, "again", succeed()));
  check([&](auto h) {
    asio::post(io, [&, h] {
      auto inside = std::make_shared<bool>(true);
      again.async_start([inside, h](std::exception_ptr e) {
        BOOST_TEST(!*inside);
        h(e);
      });
      *inside = false;
    });
  });
}

BOOST_AUTO_TEST_CASE(on_the_associated_executor) {
  asio::io_context io;
  auto strand = asio::make_strand(io);
  jobs::job j(io, "strand", succeed());
  jobs::executor exec(j, jobs::with_timeout(1h));
  bool on_strand = false;
  exec.async_start(
      asio::bind_executor(strand, [&](std::exception_ptr) { on_strand = strand.running_in_this_thread(); }));
  run_all(io);
  BOOST_TEST(on_strand);

  // Another io_context: the handler runs there, and that context's work is counted while the
  // start is pending (io2.run() does not return before the handler ran).
  asio::io_context io2;
  io.restart();
  auto guard = asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  jobs::job slow(io, "slow", sleeper(std::make_shared<probe>(), 50ms));
  jobs::executor exec2(slow, jobs::with_retry(2, 0ms));
  std::thread::id ran_on;
  bool called = false;
  exec2.async_start(asio::bind_executor(io2, [&](std::exception_ptr e) {
    called = !e;
    ran_on = std::this_thread::get_id();
  }));
  io2.run_for(hang_limit);
  BOOST_TEST(called);
  BOOST_TEST((ran_on == std::this_thread::get_id()));
  // async_stop too.
  bool stopped = false;
  io2.restart();
  exec2.async_stop(asio::bind_executor(io2, [&] { stopped = true; }));
  io2.run_for(hang_limit);
  BOOST_TEST(stopped);
  guard.reset();
  runner.join();
}

BOOST_AUTO_TEST_CASE(copies_share_one_executor) {
  asio::io_context io;
  jobs::job j(io, "copies", always_fail(std::make_shared<probe>()));
  jobs::executor a(j, jobs::with_retry(2, 0ms));
  jobs::executor b = a;
  BOOST_TEST((a == b));
  BOOST_TEST((b.get_job() == j));
  std::vector<jobs::executor> many{a, b};
  outcome out;
  many[1].async_start(out.handler());
  run_all(io);
  BOOST_TEST(a.stats().retries == 2u);
  a.reset();
  BOOST_TEST(b.stats().retries == 0u);
  BOOST_TEST((jobs::executor(j) != a));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(executor_lifetimes)

BOOST_AUTO_TEST_CASE(handles_destroyed_while_a_start_is_in_flight) {
  asio::io_context io;
  auto p = std::make_shared<probe>();
  outcome out;
  int completes = 0;
  {
    jobs::job j(io, "gone", flaky(p, 1));
    jobs::executor exec(j, jobs::with_retry(2, 5ms), jobs::with_timeout(1h),
                        jobs::on_complete([&](const jobs::job&) { ++completes; }));
    exec.async_start(out.handler());
  }
  run_all(io);
  BOOST_TEST(out.done);
  BOOST_TEST(!out.error);
  BOOST_TEST(p->calls == 2);
  BOOST_TEST(completes == 1);
}

BOOST_AUTO_TEST_CASE(context_destroyed_with_starts_pending) {
  // A start in a retry delay, one in a running attempt raced against a timer, one in a
  // cooldown, an async_stop waiting and a coroutine awaiting a start: destroying the context
  // frees everything (the sanitizer builds check for leaks and use after free).
  auto io = std::make_unique<asio::io_context>();
  auto p1 = std::make_shared<probe>();
  auto p2 = std::make_shared<probe>();
  bool any_called = false;
  {
    jobs::job delayed(*io, "delayed", always_fail(p1));
    jobs::executor e1(delayed, jobs::with_retry(3, 1h));
    e1.async_start([&](std::exception_ptr) { any_called = true; });

    jobs::job running(*io, "running", sleeper(p2, 1h));
    jobs::executor e2(running, jobs::with_timeout(1h), jobs::with_retry(2, 0ms), jobs::with_cooldown(1h));
    asio::co_spawn(
        *io, [e2]() mutable -> asio::awaitable<void> { co_await e2.start(); },
        [&](std::exception_ptr) { any_called = true; });

    jobs::job cooled(*io, "cooled", succeed());
    jobs::executor e3(cooled, jobs::with_cooldown(1h));
    e3.async_start([](std::exception_ptr) {});

    // A body that ignores the stop: the async_stop below is still waiting at the end.
    auto p4 = std::make_shared<probe>();
    jobs::job stubborn(*io, "stubborn", [p4](jobs::context& ctx) -> asio::awaitable<void> {
      probe::scope s(*p4);
      asio::steady_timer t(ctx.get_executor(), 1h);
      co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
      co_await asio::this_coro::reset_cancellation_state();
      t.expires_after(1h);
      co_await t.async_wait(asio::use_awaitable);
    });
    jobs::executor e4(stubborn);
    e4.async_start([&](std::exception_ptr) { any_called = true; });

    BOOST_TEST_REQUIRE(run_until(
        *io, [&] { return p1->calls == 1 && p2->running == 1 && p4->running == 1 && cooled.is_done(); }));
    BOOST_TEST_REQUIRE(run_until(*io, [&] { return e1.stats().retries == 1u; }));  // in the delay
    e4.async_stop([&] { any_called = true; });
    io->poll();
    BOOST_TEST(e4.stats().in_progress);
    BOOST_TEST(e1.stats().in_progress);
  }
  io.reset();
  BOOST_TEST(!any_called);
}

BOOST_AUTO_TEST_CASE(executor_state_outlives_its_abandoned_start) {
  // The context is destroyed while the executor (and its job) are still held; the start in its
  // retry delay is abandoned with the context's handlers, so nothing is in progress any more and
  // stop(true) does not block. (Only the executor's own state is used after the context is gone;
  // libjob releases a job's strand when its context shuts down.)
  auto io = std::make_unique<asio::io_context>();
  auto p = std::make_shared<probe>();
  auto exec =
      std::make_unique<jobs::executor>(jobs::job(*io, "abandoned", always_fail(p)), jobs::with_retry(3, 1h));
  bool called = false;
  exec->async_start([&](std::exception_ptr) { called = true; });
  BOOST_TEST_REQUIRE(run_until(*io, [&] { return exec->stats().retries == 1u; }));  // in the delay
  BOOST_TEST(exec->stats().in_progress);
  io.reset();
  BOOST_TEST(!called);
  BOOST_TEST(!exec->stats().in_progress);
  BOOST_TEST(exec->stats().retries == 1u);
  exec->stop(true);  // returns: no start in progress, no run pending
  exec.reset();
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(executor_threads)

BOOST_AUTO_TEST_CASE(concurrent_starts_stops_and_stats) {
  asio::io_context io;
  auto guard = asio::make_work_guard(io);
  std::vector<std::thread> runners;
  for (int i = 0; i < 2; ++i) runners.emplace_back([&] { io.run(); });

  std::atomic<int> bodies{0};
  jobs::job j(asio::make_strand(io), "threads", [&](jobs::context& ctx) -> asio::awaitable<void> {
    ++bodies;
    if (bodies % 3 == 0) throw test_error("sometimes");
    asio::steady_timer t(ctx.get_executor(), std::chrono::microseconds(200));
    co_await t.async_wait(asio::use_awaitable);
  });
  std::atomic<int> completes{0};
  jobs::executor exec(j, jobs::with_retry(2, 0ms), jobs::with_timeout(1h),
                      jobs::on_complete([&](const jobs::job&) { ++completes; }));

  std::atomic<int> ok{0}, refused{0}, failed{0}, canceled{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 3; ++t) {
    callers.emplace_back([&, t] {
      for (int i = 0; i < 60; ++i) {
        auto f = exec.async_start(i, asio::use_future);
        try {
          f.get();
          ++ok;
        } catch (const boost::system::system_error& e) {
          if (e.code() == jobs::errc::still_pending)
            ++refused;
          else if (e.code() == jobs::errc::canceled)
            ++canceled;
          else
            ++failed;
        } catch (const test_error&) {
          ++failed;
        }
        if (t == 0 && i % 10 == 5) exec.stop(i % 20 == 5);
        if (t == 1 && i % 7 == 0) (void)exec.stats();
        if (t == 2 && i % 11 == 0) j.run();  // the job on its own, racing the starts
        if (t == 2 && i % 13 == 0) exec.reset();
      }
    });
  }
  for (auto& c : callers) c.join();
  exec.stop(true);
  guard.reset();
  for (auto& r : runners) r.join();

  const auto s = exec.stats();
  BOOST_TEST(!s.in_progress);
  BOOST_TEST(ok + refused + failed + canceled == 180);
  // A refusal by the job of a *later* attempt (job.run() won the race during a retry) is a
  // failed attempt of an admitted start, which then completes with errc::still_pending too.
  BOOST_TEST(s.starts >= static_cast<std::uint64_t>(ok + failed + canceled));
  BOOST_TEST(s.starts <= static_cast<std::uint64_t>(ok + failed + canceled + refused));
  BOOST_TEST(s.starts == s.successes + s.failures + s.canceled);
  BOOST_TEST(s.successes == static_cast<std::uint64_t>(ok.load()));
  BOOST_TEST(completes == static_cast<int>(s.starts));
  BOOST_TEST(ok > 0);
}

BOOST_AUTO_TEST_SUITE_END()

#ifdef JOBS_COUNT_THROWS
BOOST_AUTO_TEST_CASE(no_exception_on_a_successful_start) {
  asio::io_context io;
  int completes = 0;
  jobs::job j(io, "no-throw", succeed());
  jobs::executor exec(j, jobs::with_timeout(30s), jobs::with_retry(3, 0ms),
                      jobs::with_backoff(1ms, 2.0, 1s, 0.5), jobs::with_cooldown(1ns),
                      jobs::on_complete([&](const jobs::job&) { ++completes; }));
  std::exception_ptr e1 = std::make_exception_ptr(1), e2 = e1;
  std::size_t before = 0, after = 0;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        // Warm up (static error objects, service creation), then count.
        co_await exec.start();
        asio::steady_timer t(io, 1ms);  // past the 1 ns cooldown
        co_await t.async_wait(asio::use_awaitable);
        before = throws.load();
        co_await exec.start();
        auto [e] = co_await exec.async_start(asio::as_tuple(asio::deferred));
        e1 = e;
        after = throws.load();
      },
      rethrow);
  run_all(io);
  io.restart();
  const std::size_t cb_before = throws.load();
  exec.async_start([&](std::exception_ptr e) { e2 = e; });
  run_all(io);
  const std::size_t cb_after = throws.load();
  BOOST_TEST(!e1);
  BOOST_TEST(!e2);
  BOOST_TEST(after - before == 0u);
  BOOST_TEST(cb_after - cb_before == 0u);
  BOOST_TEST(completes == 4);
}
#endif
