// The executor's precise semantics (API.md "Executor" and "Precise semantics", issue 3).
#include "helpers.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <cmath>
#include <future>
#include <limits>
#include <thread>

using namespace exec_test;

namespace {

// Fails its first call at once, then waits an hour (until cancelled) on every later call.
jobs::body fail_then_hang(std::shared_ptr<probe> p) {
  return [p](jobs::context& ctx) -> asio::awaitable<void> {
    probe::scope s(*p);
    if (p->calls == 1) throw test_error("first");
    asio::steady_timer t(ctx.get_executor(), 1h);
    co_await t.async_wait(asio::use_awaitable);
  };
}

struct custom_error : std::exception {
  int code;
  explicit custom_error(int c) : code(c) {}
  const char* what() const noexcept override { return "custom"; }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(executor_admission)

BOOST_AUTO_TEST_CASE(still_pending_when_the_job_runs_on_its_own) {
  asio::io_context io;
  auto p = std::make_shared<probe>();
  jobs::job j(io, "own-run", sleeper(p, 20ms));
  int completes = 0;
  jobs::executor exec(j, jobs::on_complete([&](const jobs::job&) { ++completes; }));
  BOOST_TEST_REQUIRE(j.run());
  outcome out;
  exec.async_start(out.handler());
  run_all(io);
  BOOST_TEST(has_errc(out.error, jobs::errc::still_pending), what_of(out.error));
  BOOST_TEST(completes == 0);
  BOOST_TEST(exec.stats().starts == 0u);
  BOOST_TEST(p->calls == 1);
}

BOOST_AUTO_TEST_CASE(order_pending_then_once_then_cooldown) {
  asio::io_context io;
  auto p = std::make_shared<probe>();
  jobs::job j(io, "order", sleeper(p, 1ms));
  jobs::executor exec(j, jobs::once(), jobs::with_cooldown(1h));
  outcome first, second, third;
  exec.async_start(first.handler());
  run_all(io);
  BOOST_TEST_REQUIRE(!first.error);
  // Both once and cooldown apply: once wins.
  io.restart();
  exec.async_start(second.handler());
  run_all(io);
  BOOST_TEST(has_errc(second.error, jobs::errc::once), what_of(second.error));
  // A pending run beats both.
  io.restart();
  BOOST_TEST_REQUIRE(j.run());
  exec.async_start(third.handler());
  run_all(io);
  BOOST_TEST(has_errc(third.error, jobs::errc::still_pending), what_of(third.error));
}

BOOST_AUTO_TEST_CASE(pending_beats_cooldown) {
  asio::io_context io;
  auto p = std::make_shared<probe>();
  jobs::job j(io, "pending-cooldown", sleeper(p, 1ms));
  jobs::executor exec(j, jobs::with_cooldown(1h));
  outcome first, second;
  exec.async_start(first.handler());
  run_all(io);
  io.restart();
  BOOST_TEST_REQUIRE(j.run());
  exec.async_start(second.handler());
  run_all(io);
  BOOST_TEST(has_errc(second.error, jobs::errc::still_pending), what_of(second.error));
}

BOOST_AUTO_TEST_CASE(once_counts_only_successful_starts) {
  asio::io_context io;
  auto p = std::make_shared<probe>();
  jobs::job j(io, "once-stop", fail_then_hang(p));
  jobs::executor exec(j, jobs::once());
  outcome failed, stopped, succeeded_after;
  exec.async_start(failed.handler());
  run_all(io);
  BOOST_TEST(what_of(failed.error) == "first");
  io.restart();
  exec.async_start(stopped.handler());
  BOOST_TEST_REQUIRE(run_until(io, [&] { return p->running > 0; }));
  exec.stop();
  run_all(io);
  BOOST_TEST(has_errc(stopped.error, jobs::errc::canceled), what_of(stopped.error));
  // Neither a failed nor a stopped start used up once(): a third start is admitted.
  io.restart();
  exec.async_start(succeeded_after.handler());
  BOOST_TEST_REQUIRE(run_until(io, [&] { return p->running > 0; }));
  BOOST_TEST(exec.stats().in_progress);
  exec.stop();
  run_all(io);
  BOOST_TEST(exec.stats().starts == 3u);
}

BOOST_AUTO_TEST_CASE(refused_starts_touch_nothing) {
  asio::io_context io;
  auto p = std::make_shared<probe>();
  jobs::job j(io, "refused", flaky(p, 2));
  int completes = 0;
  jobs::executor exec(j, jobs::with_retry(3, 1ms), jobs::with_cooldown(1h),
                      jobs::on_complete([&](const jobs::job&) { ++completes; }));
  outcome first;
  exec.async_start(first.handler());
  run_all(io);
  BOOST_TEST_REQUIRE(!first.error);
  const auto before = exec.stats();
  for (int i = 0; i < 3; ++i) {
    io.restart();
    outcome refused;
    exec.async_start(refused.handler());
    run_all(io);
    BOOST_TEST(has_errc(refused.error, jobs::errc::cooldown), what_of(refused.error));
  }
  const auto after = exec.stats();
  BOOST_TEST(after.retries == before.retries);
  BOOST_TEST(after.attempts.size() == before.attempts.size());
  BOOST_TEST(after.starts == before.starts);
  BOOST_TEST(after.successes == before.successes);
  BOOST_TEST(after.failures == before.failures);
  BOOST_TEST(after.cooldown <= before.cooldown);  // the window was not reopened
  BOOST_TEST(completes == 1);
  BOOST_TEST(p->calls == 3);
}

BOOST_AUTO_TEST_CASE(cooldown_opens_whatever_the_outcome) {
  // failed
  {
    asio::io_context io;
    auto p = std::make_shared<probe>();
    jobs::job j(io, "cool-failed", always_fail(p));
    jobs::executor exec(j, jobs::with_cooldown(1h));
    outcome a, b;
    exec.async_start(a.handler());
    run_all(io);
    io.restart();
    exec.async_start(b.handler());
    run_all(io);
    BOOST_TEST(what_of(a.error) == "failure 1");
    BOOST_TEST(has_errc(b.error, jobs::errc::cooldown), what_of(b.error));
  }
  // stopped
  {
    asio::io_context io;
    auto p = std::make_shared<probe>();
    jobs::job j(io, "cool-stopped", sleeper(p, 1h));
    jobs::executor exec(j, jobs::with_cooldown(1h));
    outcome a, b;
    exec.async_start(a.handler());
    BOOST_TEST_REQUIRE(run_until(io, [&] { return p->running > 0; }));
    exec.stop();
    run_all(io);
    io.restart();
    exec.async_start(b.handler());
    run_all(io);
    BOOST_TEST(has_errc(a.error, jobs::errc::canceled), what_of(a.error));
    BOOST_TEST(has_errc(b.error, jobs::errc::cooldown), what_of(b.error));
  }
}

BOOST_AUTO_TEST_CASE(cooldown_expires) {
  asio::io_context io;
  auto p = std::make_shared<probe>();
  jobs::job j(io, "cool-expires", succeed(p));
  jobs::executor exec(j, jobs::with_cooldown(50ms));
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await exec.start();
        const auto left = exec.stats().cooldown;
        BOOST_TEST(left > 0ms);
        BOOST_TEST(left <= 50ms);
        // Waiting at least the cooldown is enough, however slow the machine.
        asio::steady_timer t(co_await asio::this_coro::executor, 60ms);
        co_await t.async_wait(asio::use_awaitable);
        BOOST_TEST(exec.stats().cooldown.count() == 0);
        co_await exec.start();
      },
      rethrow);
  run_all(io);
  BOOST_TEST(p->calls == 2);
}

BOOST_AUTO_TEST_CASE(cooldown_message_is_human) {
  asio::io_context io;
  jobs::job j(io, "cool-msg", succeed());
  jobs::executor exec(j, jobs::with_cooldown(std::chrono::hours(2) + std::chrono::minutes(3)));
  outcome a, b;
  exec.async_start(a.handler());
  run_all(io);
  io.restart();
  exec.async_start(b.handler());
  run_all(io);
  const auto w = what_of(b.error);
  BOOST_TEST(w.rfind("job is still in cooldown, 2h2m59.", 0) == 0, w);
  BOOST_TEST(w.substr(w.size() - 6) == "s left", w);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(executor_attempts)

BOOST_AUTO_TEST_CASE(fast_failure_does_not_wait_for_the_timeout) {
  // make_parallel_group + wait_for_one, not awaitable_operators' ||: a body that fails at once
  // ends the attempt at once, whatever the timeout.
  asio::io_context io;
  auto p = std::make_shared<probe>();
  jobs::job j(io, "fast-fail", always_fail(p));
  jobs::executor exec(j, jobs::with_timeout(1h), jobs::with_retry(2, 1ms));
  outcome out;
  const auto t0 = steady_clock::now();
  exec.async_start(out.handler());
  run_all(io);
  BOOST_TEST((steady_clock::now() - t0 < 30s));
  BOOST_TEST(what_of(out.error) == "failure 2");
  BOOST_TEST(exec.stats().attempts[0].outcome == jobs::attempt_outcome::failed);
}

BOOST_AUTO_TEST_CASE(timeout_ends_the_run_failed_with_timeout_not_canceled) {
  asio::io_context io;
  boost::system::error_code reason;
  jobs::job j(io, "timeout-reason", [&](jobs::context& ctx) -> asio::awaitable<void> {
    asio::steady_timer t(ctx.get_executor(), 1h);
    try {
      co_await t.async_wait(asio::use_awaitable);
    } catch (...) {
      reason = ctx.cancel_reason();
      throw;
    }
  });
  jobs::executor exec(j, jobs::with_timeout(10ms));
  outcome out;
  exec.async_start(out.handler());
  run_all(io);
  BOOST_TEST((reason == jobs::errc::timeout), reason.message());
  BOOST_TEST(j.is_state(jobs::state::failed));
  BOOST_TEST(has_errc(j.error(), jobs::errc::timeout), what_of(j.error()));
  BOOST_TEST(has_errc(out.error, jobs::errc::timeout), what_of(out.error));
  BOOST_TEST((out.error == j.error()));
  BOOST_TEST(exec.stats().attempts.at(0).outcome == jobs::attempt_outcome::timed_out);
  // errc::timeout compares equal to the portable condition.
  try {
    std::rethrow_exception(out.error);
  } catch (const boost::system::system_error& e) {
    BOOST_TEST((e.code() == boost::system::errc::timed_out));
  }
}

BOOST_AUTO_TEST_CASE(timeout_is_cooperative) {
  // A body that returns normally after the timeout succeeded.
  asio::io_context io;
  jobs::job j(io, "cooperative", [](jobs::context& ctx) -> asio::awaitable<void> {
    asio::steady_timer t(ctx.get_executor(), 1h);
    auto [ec] = co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    BOOST_TEST(ec == asio::error::operation_aborted);
  });
  jobs::executor exec(j, jobs::with_timeout(10ms), jobs::with_retry(3, 1ms));
  outcome out;
  exec.async_start(out.handler());
  run_all(io);
  BOOST_TEST(!out.error);
  BOOST_TEST(j.is_state(jobs::state::succeeded));
  BOOST_TEST(exec.stats().retries == 0u);
}

BOOST_AUTO_TEST_CASE(next_attempt_only_after_the_previous_run_ended) {
  // The body ignores the timeout for a while: the executor waits for it, never overlapping runs.
  asio::io_context io;
  auto p = std::make_shared<probe>();
  jobs::job j(io, "no-overlap", [p](jobs::context& ctx) -> asio::awaitable<void> {
    probe::scope s(*p);
    asio::steady_timer t(ctx.get_executor(), 1h);
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));  // ended by the timeout
    co_await asio::this_coro::reset_cancellation_state();
    t.expires_after(30ms);  // keeps running after the timeout
    co_await t.async_wait(asio::use_awaitable);
    throw test_error("late");
  });
  jobs::executor exec(j, jobs::with_timeout(5ms), jobs::with_retry(3, 0ms));
  outcome out;
  exec.async_start(out.handler());
  run_all(io);
  BOOST_TEST(p->calls == 3);
  BOOST_TEST(p->max_running == 1);
  for (std::size_t i = 1; i < p->spans.size(); ++i) BOOST_TEST((p->spans[i - 1].second <= p->spans[i].first));
  BOOST_TEST(what_of(out.error) == "late");  // a body that throws its own error keeps it
  BOOST_TEST(exec.stats().retries == 3u);
  BOOST_TEST(exec.stats().attempts.at(0).outcome == jobs::attempt_outcome::timed_out);
  BOOST_TEST(exec.stats().attempts.at(0).error == "late");
}

BOOST_AUTO_TEST_CASE(last_failure_is_the_same_exception_object) {
  asio::io_context io;
  int n = 0;
  jobs::job j(io, "same-object", [&](jobs::context&) -> asio::awaitable<void> {
    ++n;
    throw custom_error(n);
    co_return;
  });
  jobs::executor exec(j, jobs::with_retry(2, 0ms));
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        try {
          co_await exec.start();
          BOOST_FAIL("start succeeded");
        } catch (const custom_error& e) {
          BOOST_TEST(e.code == 2);
          try {
            std::rethrow_exception(j.error());
          } catch (const custom_error& same) {
            BOOST_TEST(&same == &e);
          }
        }
      },
      rethrow);
  run_all(io);
}

BOOST_AUTO_TEST_CASE(retries_count_timeouts_but_not_the_stopped_attempt) {
  {
    asio::io_context io;
    auto p = std::make_shared<probe>();
    jobs::job j(io, "retries-timeouts", sleeper(p, 1h));
    jobs::executor exec(j, jobs::with_timeout(5ms), jobs::with_retry(2, 0ms));
    outcome out;
    exec.async_start(out.handler());
    run_all(io);
    BOOST_TEST(exec.stats().retries == 2u);
    BOOST_TEST(has_errc(out.error, jobs::errc::timeout), what_of(out.error));
  }
  {
    asio::io_context io;
    auto p = std::make_shared<probe>();
    jobs::job j(io, "retries-stop", fail_then_hang(p));
    jobs::executor exec(j, jobs::with_retry(5, 0ms));
    outcome out;
    exec.async_start(out.handler());
    BOOST_TEST_REQUIRE(run_until(io, [&] { return p->running > 0; }));  // the second attempt
    exec.stop();
    run_all(io);
    BOOST_TEST(has_errc(out.error, jobs::errc::canceled), what_of(out.error));
    const auto s = exec.stats();
    BOOST_TEST(s.retries == 1u);
    BOOST_TEST_REQUIRE(s.attempts.size() == 2u);
    BOOST_TEST(s.attempts[0].outcome == jobs::attempt_outcome::failed);
    BOOST_TEST(s.attempts[1].outcome == jobs::attempt_outcome::canceled);
    BOOST_TEST(s.canceled == 1u);
    BOOST_TEST(p->calls == 2);
    // The body's own exception (the cancellation) stays in job.error().
    BOOST_TEST(j.is_state(jobs::state::canceled));
    BOOST_TEST((j.error() != nullptr));
  }
}

BOOST_AUTO_TEST_CASE(retries_restart_with_each_admitted_start) {
  asio::io_context io;
  auto p = std::make_shared<probe>();
  jobs::job j(io, "retries-restart", flaky(p, 3));
  jobs::executor exec(j, jobs::with_retry(3, 0ms));
  outcome a, b;
  exec.async_start(a.handler());
  run_all(io);
  BOOST_TEST(exec.stats().retries == 3u);
  io.restart();
  exec.async_start(b.handler());
  run_all(io);
  BOOST_TEST(!b.error);
  BOOST_TEST(exec.stats().retries == 0u);
  BOOST_TEST(exec.stats().attempts.size() == 1u);
  BOOST_TEST(exec.stats().starts == 2u);
  BOOST_TEST(exec.stats().successes == 1u);
  BOOST_TEST(exec.stats().failures == 1u);
  // Each later start's history is its own (the history's buffers are reused from start to start).
  for (unsigned k = 3; k <= 5; ++k) {
    io.restart();
    outcome c;
    exec.async_start(c.handler());
    run_all(io);
    BOOST_TEST(!c.error);
    const auto st = exec.stats();
    BOOST_TEST(st.starts == k);
    BOOST_TEST_REQUIRE(st.attempts.size() == 1u);
    BOOST_TEST(st.attempts[0].outcome == jobs::attempt_outcome::succeeded);
    BOOST_TEST(st.attempts[0].error.empty());
    BOOST_TEST(!st.attempts[0].exception);
  }
}

BOOST_AUTO_TEST_CASE(params_reach_every_attempt) {
  asio::io_context io;
  std::vector<int> seen;
  jobs::job j(io, "params", [&](jobs::context& ctx) -> asio::awaitable<void> {
    seen.push_back(ctx.params<int>());
    if (seen.size() < 3) throw test_error("again");
    co_return;
  });
  jobs::executor exec(j, jobs::with_retry(3, 0ms));
  outcome out;
  exec.async_start(42, out.handler());
  run_all(io);
  BOOST_TEST(!out.error);
  BOOST_TEST(seen == (std::vector<int>{42, 42, 42}), boost::test_tools::per_element());
}

// Params whose copy throws on the `fail_at`-th copy (moves never throw, and are not counted).
struct copy_bomb {
  std::shared_ptr<int> copies;
  int fail_at;
  std::string payload = std::string(64, 'x');  // kept out of std::any's local buffer
  copy_bomb(std::shared_ptr<int> c, int f) : copies(std::move(c)), fail_at(f) {}
  copy_bomb(const copy_bomb& o) : copies(o.copies), fail_at(o.fail_at), payload(o.payload) {
    if (++*copies == fail_at) throw test_error("params copy " + std::to_string(fail_at));
  }
  copy_bomb(copy_bomb&&) noexcept = default;
};

BOOST_AUTO_TEST_CASE(a_params_copy_that_throws_fails_its_attempt) {
  // Attempt 2's copy throws: a failed attempt like one that cannot launch, counted, and the
  // start ends failed with that error through the handler, after on_complete.
  asio::io_context io;
  auto p = std::make_shared<probe>();
  jobs::job j(io, "copy", always_fail(p));
  int completes = 0;
  jobs::executor exec(j, jobs::with_retry(3, 0ms), jobs::on_complete([&](const jobs::job&) { ++completes; }));
  auto copies = std::make_shared<int>(0);
  outcome out;
  exec.async_start(copy_bomb(copies, 2), out.handler());
  run_all(io);
  BOOST_TEST_REQUIRE(out.done);
  BOOST_TEST(what_of(out.error) == "params copy 2");
  BOOST_TEST(completes == 1);
  BOOST_TEST(p->calls == 1);  // attempt 2 never ran
  const auto st = exec.stats();
  BOOST_TEST(st.starts == 1u);
  BOOST_TEST(st.failures == 1u);
  BOOST_TEST(st.retries == 2u);
  BOOST_TEST(!st.in_progress);
  BOOST_TEST_REQUIRE(st.attempts.size() == 2u);
  BOOST_TEST(st.attempts[0].error == "failure 1");
  BOOST_TEST(st.attempts[1].outcome == jobs::attempt_outcome::failed);
  BOOST_TEST(st.attempts[1].error == "params copy 2");
}

BOOST_AUTO_TEST_CASE(the_admission_refuses_before_a_params_copy_fails) {
  // A start made while another is in progress is refused with still_pending, even when its
  // params' copy throws: the admission's refusals come before a launch that cannot be made.
  asio::io_context io;
  auto p = std::make_shared<probe>();
  jobs::job j(io, "copy", sleeper(p, 50ms));
  jobs::executor exec(j, jobs::with_retry(2, 0ms));
  outcome first;
  exec.async_start(first.handler());
  BOOST_TEST_REQUIRE(exec.stats().in_progress);
  auto copies = std::make_shared<int>(0);
  outcome refused;
  exec.async_start(copy_bomb(copies, 1), refused.handler());
  run_all(io);
  BOOST_TEST_REQUIRE(refused.done);
  BOOST_TEST(has_errc(refused.error, jobs::errc::still_pending), what_of(refused.error));
  BOOST_TEST(first.done);
  BOOST_TEST(!first.error);
  BOOST_TEST(exec.stats().starts == 1u);
}

BOOST_AUTO_TEST_CASE(a_first_params_copy_that_throws_refuses_the_start) {
  // The first attempt's copy throws: nothing ran, so the start is refused with that error,
  // through the handler and never inside async_start; the stats and on_complete are untouched.
  asio::io_context io;
  auto p = std::make_shared<probe>();
  jobs::job j(io, "copy", succeed(p));
  int completes = 0;
  jobs::executor exec(j, jobs::with_retry(2, 0ms), jobs::on_complete([&](const jobs::job&) { ++completes; }));
  auto copies = std::make_shared<int>(0);
  outcome out;
  exec.async_start(copy_bomb(copies, 1), out.handler());
  BOOST_TEST(!out.done);
  BOOST_TEST(!exec.stats().in_progress);
  run_all(io);
  BOOST_TEST_REQUIRE(out.done);
  BOOST_TEST(what_of(out.error) == "params copy 1");
  BOOST_TEST(completes == 0);
  BOOST_TEST(p->calls == 0);
  const auto st = exec.stats();
  BOOST_TEST(st.starts == 0u);
  BOOST_TEST(st.attempts.empty());
  // The executor is usable: the next start (copy 2 and on) succeeds.
  io.restart();
  outcome next;
  exec.async_start(copy_bomb(copies, 0), next.handler());
  run_all(io);
  BOOST_TEST(next.done);
  BOOST_TEST(!next.error);
  BOOST_TEST(p->calls == 1);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(executor_stop)

BOOST_AUTO_TEST_CASE(stop_cuts_a_retry_delay_short) {
  asio::io_context io;
  auto p = std::make_shared<probe>();
  jobs::job j(io, "stop-delay", always_fail(p));
  jobs::executor exec(j, jobs::with_retry(3, 1h), jobs::on_retry([&](unsigned, std::exception_ptr, auto) {
                        asio::post(io, [&] { exec.stop(); });
                      }));
  outcome out;
  exec.async_start(out.handler());
  run_all(io);  // an hour without the stop
  BOOST_TEST(has_errc(out.error, jobs::errc::canceled), what_of(out.error));
  BOOST_TEST(p->calls == 1);
  BOOST_TEST(exec.stats().retries == 1u);
}

BOOST_AUTO_TEST_CASE(caller_cancellation_cuts_a_retry_delay_short) {
  for (auto type : {asio::cancellation_type::terminal, asio::cancellation_type::partial}) {
    asio::io_context io;
    auto p = std::make_shared<probe>();
    asio::cancellation_signal sig;
    jobs::job j(io, "caller-delay", always_fail(p));
    jobs::executor exec(j, jobs::with_retry(3, 1h), jobs::on_retry([&](unsigned, std::exception_ptr, auto) {
                          asio::post(io, [&, type] { sig.emit(type); });
                        }));
    outcome out;
    exec.async_start(asio::bind_cancellation_slot(sig.slot(), out.handler()));
    run_all(io);
    BOOST_TEST(has_errc(out.error, jobs::errc::canceled), what_of(out.error));
    BOOST_TEST(p->calls == 1);
  }
}

BOOST_AUTO_TEST_CASE(total_cancellation_is_ignored) {
  asio::io_context io;
  auto p = std::make_shared<probe>();
  asio::cancellation_signal sig;
  jobs::job j(io, "total", always_fail(p));
  jobs::executor exec(j, jobs::with_retry(2, 10ms), jobs::on_retry([&](unsigned, std::exception_ptr, auto) {
                        asio::post(io, [&] { sig.emit(asio::cancellation_type::total); });
                      }));
  outcome out;
  exec.async_start(asio::bind_cancellation_slot(sig.slot(), out.handler()));
  run_all(io);
  BOOST_TEST(what_of(out.error) == "failure 2");
  BOOST_TEST(p->calls == 2);
}

BOOST_AUTO_TEST_CASE(caller_cancellation_of_a_running_attempt) {
  // partial, through the handler's slot; terminal through an enclosing coroutine.
  {
    asio::io_context io;
    auto p = std::make_shared<probe>();
    asio::cancellation_signal sig;
    jobs::job j(io, "caller-partial", sleeper(p, 1h));
    jobs::executor exec(j, jobs::with_retry(3, 0ms), jobs::with_timeout(1h));
    outcome out;
    exec.async_start(asio::bind_cancellation_slot(sig.slot(), out.handler()));
    BOOST_TEST_REQUIRE(run_until(io, [&] { return p->running > 0; }));
    sig.emit(asio::cancellation_type::partial);
    run_all(io);
    BOOST_TEST(has_errc(out.error, jobs::errc::canceled), what_of(out.error));
    BOOST_TEST(p->calls == 1);
    BOOST_TEST(j.is_state(jobs::state::canceled));  // canceled, not failed with a timeout
  }
  {
    asio::io_context io;
    auto p = std::make_shared<probe>();
    asio::cancellation_signal sig;
    jobs::job j(io, "caller-coroutine", sleeper(p, 1h));
    jobs::executor exec(j, jobs::with_retry(3, 0ms));
    bool caught = false;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          try {
            co_await exec.start();
          } catch (const boost::system::system_error& e) {
            caught = e.code() == jobs::errc::canceled;
            BOOST_TEST((e.code() == boost::system::errc::operation_canceled));
          }
        },
        asio::bind_cancellation_slot(sig.slot(), rethrow));
    BOOST_TEST_REQUIRE(run_until(io, [&] { return p->running > 0; }));
    sig.emit(asio::cancellation_type::terminal);
    run_all(io);
    BOOST_TEST(caught);
    BOOST_TEST(p->calls == 1);
  }
}

BOOST_AUTO_TEST_CASE(awaitable_operator_cancels_the_start) {
  // A typical server deadline around a start: the loser of || is cancelled (terminal).
  using namespace asio::experimental::awaitable_operators;
  asio::io_context io;
  auto p = std::make_shared<probe>();
  jobs::job j(io, "deadline", sleeper(p, 1h));
  jobs::executor exec(j, jobs::with_retry(3, 0ms));
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        asio::steady_timer deadline(co_await asio::this_coro::executor, 20ms);
        auto r = co_await (exec.start() || deadline.async_wait(asio::use_awaitable));
        BOOST_TEST(r.index() == 1u);
      },
      rethrow);
  run_all(io);
  BOOST_TEST(p->calls == 1);
  BOOST_TEST(j.is_state(jobs::state::canceled));
  BOOST_TEST(exec.stats().canceled == 1u);
}

BOOST_AUTO_TEST_CASE(stop_cancels_a_run_started_on_its_own) {
  asio::io_context io;
  auto p = std::make_shared<probe>();
  jobs::job j(io, "stop-own", sleeper(p, 1h));
  jobs::executor exec(j);
  BOOST_TEST_REQUIRE(j.run());
  exec.stop();
  BOOST_TEST(j.is_state(jobs::state::canceling));
  run_all(io);
  BOOST_TEST(j.is_state(jobs::state::canceled));
}

BOOST_AUTO_TEST_CASE(stop_wait_returns_once_nothing_is_pending) {
  asio::io_context io;
  auto guard = asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  auto p = std::make_shared<probe>();
  jobs::job j(io, "stop-wait", [p](jobs::context& ctx) -> asio::awaitable<void> {
    probe::scope s(*p);
    asio::steady_timer t(ctx.get_executor(), 1h);
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    co_await asio::this_coro::reset_cancellation_state();
    t.expires_after(20ms);  // responds to the stop only after a while
    co_await t.async_wait(asio::use_awaitable);
  });
  jobs::executor exec(j, jobs::with_retry(3, 0ms));
  std::promise<std::exception_ptr> done;
  exec.async_start([&](std::exception_ptr e) { done.set_value(e); });
  while (p->running == 0) std::this_thread::yield();
  exec.stop(true);
  BOOST_TEST(!j.is_executing());
  BOOST_TEST(!exec.stats().in_progress);
  BOOST_TEST(has_errc(done.get_future().get(), jobs::errc::canceled));
  // A run started on its own, too.
  BOOST_TEST_REQUIRE(j.run());
  exec.stop(true);
  BOOST_TEST(!j.is_executing());
  // Usable after a stop.
  std::promise<std::exception_ptr> again;
  jobs::executor quick(jobs::job(io, "quick", succeed()));
  quick.async_start([&](std::exception_ptr e) { again.set_value(e); });
  BOOST_TEST(!again.get_future().get());
  guard.reset();
  runner.join();
}

BOOST_AUTO_TEST_CASE(async_stop_completes_once_stopped) {
  asio::io_context io;
  auto p = std::make_shared<probe>();
  jobs::job j(io, "async-stop", sleeper(p, 1h));
  jobs::executor exec(j, jobs::with_retry(3, 0ms));
  outcome out;
  bool stopped = false;
  exec.async_start(out.handler());
  BOOST_TEST_REQUIRE(run_until(io, [&] { return p->running > 0; }));
  exec.async_stop([&] {
    stopped = true;
    BOOST_TEST(!j.is_executing());
    BOOST_TEST(!exec.stats().in_progress);
  });
  BOOST_TEST(!stopped);
  run_all(io);
  BOOST_TEST(stopped);
  BOOST_TEST(has_errc(out.error, jobs::errc::canceled), what_of(out.error));
  // When idle: completes, but never inside the call.
  io.restart();
  bool idle_stopped = false;
  exec.async_stop([&] { idle_stopped = true; });
  BOOST_TEST(!idle_stopped);
  run_all(io);
  BOOST_TEST(idle_stopped);
  // As an awaitable (the default token, deferred).
  io.restart();
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        BOOST_TEST_REQUIRE(j.run());
        co_await exec.async_stop();
        BOOST_TEST(j.is_state(jobs::state::canceled));
      },
      rethrow);
  run_all(io);
}

BOOST_AUTO_TEST_CASE(blocking_calls_throw_where_they_would_deadlock) {
  asio::io_context io;
  bool in_on_complete = false, in_on_retry = false, job_wait = false;
  std::optional<jobs::executor> exec;
  jobs::job j(io, "deadlock", always_fail(std::make_shared<probe>()));
  exec.emplace(j, jobs::with_retry(2, 0ms), jobs::on_retry([&](unsigned, std::exception_ptr, auto) {
                 try {
                   exec->stop(true);
                 } catch (const std::logic_error&) {
                   in_on_retry = true;
                 }
               }),
               jobs::on_complete([&](const jobs::job& jj) {
                 try {
                   exec->stop(true);
                 } catch (const std::logic_error&) {
                   in_on_complete = true;
                 }
                 try {
                   const_cast<jobs::job&>(jj).wait();
                 } catch (const std::logic_error&) {
                   job_wait = true;
                 }
               }));
  outcome out;
  exec->async_start(out.handler());
  run_all(io);
  BOOST_TEST(in_on_retry);
  BOOST_TEST(in_on_complete);
  BOOST_TEST(job_wait);
  BOOST_TEST(what_of(out.error) == "failure 2");  // the caught logic_errors changed nothing

  // From the body, on the job's strand.
  io.restart();
  bool in_body = false;
  std::optional<jobs::executor> e2;
  jobs::job j2(io, "deadlock-body", [&](jobs::context&) -> asio::awaitable<void> {
    try {
      e2->stop(true);
    } catch (const std::logic_error&) {
      in_body = true;
    }
    co_return;
  });
  e2.emplace(j2);
  e2->async_start(out.handler());
  run_all(io);
  BOOST_TEST(in_body);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(executor_callbacks)

BOOST_AUTO_TEST_CASE(on_complete_once_per_admitted_start_before_the_handler) {
  asio::io_context io;
  std::vector<std::string> events;
  std::optional<jobs::executor> exec;
  jobs::job j(io, "on-complete", flaky(std::make_shared<probe>(), 1));
  exec.emplace(j, jobs::with_retry(2, 0ms), jobs::with_cooldown(1h),
               jobs::on_complete([&](const jobs::job& jj) {
                 events.push_back("on_complete");
                 BOOST_TEST((jj == j));
                 BOOST_TEST(jj.is_done());
                 BOOST_TEST(exec->stats().in_progress);      // still in progress until it returns
                 BOOST_TEST(exec->stats().successes == 1u);  // the outcome is known
                 BOOST_TEST(exec->stats().cooldown > 0s);    // and the window open
                 // A start from here is refused: the start is still in progress.
                 exec->async_start([&](std::exception_ptr e) {
                   events.push_back(has_errc(e, jobs::errc::still_pending) ? "nested refused" : "nested?");
                 });
               }));
  exec->async_start([&](std::exception_ptr e) {
    events.push_back(e ? "handler failed" : "handler");
    BOOST_TEST(!exec->stats().in_progress);
  });
  run_all(io);
  io.restart();
  exec->async_start([&](std::exception_ptr e) {  // refused by the cooldown: no on_complete
    events.push_back(has_errc(e, jobs::errc::cooldown) ? "refused" : "refused?");
  });
  run_all(io);
  BOOST_TEST(events == (std::vector<std::string>{"on_complete", "handler", "nested refused", "refused"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(throwing_on_complete) {
  asio::io_context io;
  int calls = 0;
  jobs::job j(io, "throwing-complete", succeed());
  jobs::executor exec(j, jobs::on_complete([&](const jobs::job&) {
                        if (++calls == 1) throw custom_error(7);
                      }));
  outcome a, b;
  exec.async_start(a.handler());
  run_all(io);
  BOOST_TEST(what_of(a.error) == "custom");
  io.restart();
  exec.async_start(b.handler());  // still usable
  run_all(io);
  BOOST_TEST(!b.error);
  BOOST_TEST(calls == 2);
}

BOOST_AUTO_TEST_CASE(throwing_on_retry_and_retry_if) {
  for (int which = 0; which < 2; ++which) {
    asio::io_context io;
    auto p = std::make_shared<probe>();
    jobs::job j(io, "throwing-retry", always_fail(p));
    auto thrower = [](auto&&...) -> bool { throw custom_error(3); };
    std::optional<jobs::executor> exec;
    if (which == 0)
      exec.emplace(j, jobs::with_retry(3, 0ms),
                   jobs::on_retry([&](unsigned a, std::exception_ptr e, auto d) { thrower(a, e, d); }));
    else
      exec.emplace(j, jobs::with_retry(3, 0ms), jobs::retry_if(thrower));
    outcome a, b;
    exec->async_start(a.handler());
    run_all(io);
    BOOST_TEST(what_of(a.error) == "custom");
    BOOST_TEST(p->calls == 1);  // no further attempt
    io.restart();
    exec->async_start(b.handler());  // usable
    run_all(io);
    BOOST_TEST(what_of(b.error) == "custom");
    BOOST_TEST(p->calls == 2);
  }
}

BOOST_AUTO_TEST_CASE(retry_if_selects_failures) {
  asio::io_context io;
  int n = 0, asked = 0;
  jobs::job j(io, "retry-if", [&](jobs::context&) -> asio::awaitable<void> {
    ++n;
    if (n < 3) throw test_error("transient");
    throw custom_error(n);
    co_return;
  });
  std::exception_ptr seen;
  jobs::executor exec(j, jobs::with_retry(10, 0ms), jobs::retry_if([&](std::exception_ptr e) {
                        ++asked;
                        seen = e;
                        return what_of(e) == "transient";
                      }));
  outcome out;
  exec.async_start(out.handler());
  run_all(io);
  BOOST_TEST(n == 3);
  BOOST_TEST(asked == 3);
  BOOST_TEST(what_of(out.error) == "custom");
  BOOST_TEST((out.error == seen));  // the predicate saw the very failure that ends the start
  BOOST_TEST(exec.stats().retries == 3u);
}

BOOST_AUTO_TEST_CASE(retry_if_is_not_asked_about_the_last_attempt) {
  asio::io_context io;
  int asked = 0;
  jobs::job j(io, "retry-if-last", always_fail(std::make_shared<probe>()));
  jobs::executor exec(j, jobs::with_retry(3, 0ms), jobs::retry_if([&](std::exception_ptr) {
                        ++asked;
                        return true;
                      }));
  outcome out;
  exec.async_start(out.handler());
  run_all(io);
  BOOST_TEST(asked == 2);
  BOOST_TEST(what_of(out.error) == "failure 3");
}

BOOST_AUTO_TEST_CASE(on_retry_reports_each_retry) {
  asio::io_context io;
  std::vector<unsigned> attempts;
  std::vector<std::string> errors;
  std::vector<std::chrono::nanoseconds> delays;
  jobs::job j(io, "on-retry", always_fail(std::make_shared<probe>()));
  jobs::executor exec(j, jobs::with_retry(3, 2ms),
                      jobs::on_retry([&](unsigned a, std::exception_ptr e, auto d) {
                        attempts.push_back(a);
                        errors.push_back(what_of(e));
                        delays.push_back(d);
                      }));
  outcome out;
  exec.async_start(out.handler());
  run_all(io);
  BOOST_TEST(attempts == (std::vector<unsigned>{1, 2}), boost::test_tools::per_element());
  BOOST_TEST(errors == (std::vector<std::string>{"failure 1", "failure 2"}),
             boost::test_tools::per_element());
  BOOST_TEST_REQUIRE(delays.size() == 2u);
  BOOST_TEST((delays[0] == 2ms && delays[1] == 2ms));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(executor_backoff)

namespace {
std::vector<std::chrono::nanoseconds> delays_of(auto... options) {
  asio::io_context io;
  auto p = std::make_shared<probe>();
  std::vector<std::chrono::nanoseconds> delays;
  jobs::job j(io, "backoff", always_fail(p));
  jobs::executor exec(j, options...,
                      jobs::on_retry([&](unsigned, std::exception_ptr, auto d) { delays.push_back(d); }));
  outcome out;
  exec.async_start(out.handler());
  run_all(io);
  // The delays were waited (a timer never fires early).
  for (std::size_t i = 1; i < p->spans.size(); ++i)
    BOOST_TEST((p->spans[i].first - p->spans[i - 1].second >= delays.at(i - 1)));
  return delays;
}
}  // namespace

BOOST_AUTO_TEST_CASE(exponential_with_a_cap) {
  using ns = std::chrono::nanoseconds;
  const std::vector<ns> expected{1ms, 2ms, 4ms, 5ms, 5ms};
  // with_backoff replaces with_retry's fixed delay in either order.
  auto a = delays_of(jobs::with_retry(6, 1h), jobs::with_backoff(1ms, 2.0, 5ms));
  auto b = delays_of(jobs::with_backoff(1ms, 2.0, 5ms, 0.0), jobs::with_retry(6, 1h));
  BOOST_TEST(a == expected, boost::test_tools::per_element());
  BOOST_TEST(b == expected, boost::test_tools::per_element());
  // multiplier 1: constant
  auto c = delays_of(jobs::with_retry(3, 0ms), jobs::with_backoff(std::chrono::microseconds(1500), 1.0, 1s));
  BOOST_TEST(c == (std::vector<ns>{1500us, 1500us}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(jitter_stays_in_range) {
  using ns = std::chrono::nanoseconds;
  const std::vector<ns> nominal{2ms, 4ms, 8ms, 8ms, 8ms, 8ms, 8ms};
  for (double jitter : {0.5, 1.0}) {
    auto d = delays_of(jobs::with_retry(8, 0ms), jobs::with_backoff(2ms, 2.0, 8ms, jitter));
    BOOST_TEST_REQUIRE(d.size() == nominal.size());
    bool varied = false;
    for (std::size_t i = 0; i < d.size(); ++i) {
      BOOST_TEST(d[i] <= nominal[i]);
      BOOST_TEST(d[i].count() >= std::floor(static_cast<double>(nominal[i].count()) * (1 - jitter)));
      varied = varied || d[i] != nominal[i];
    }
    BOOST_TEST(varied);  // 7 uniform draws all landing on the bound: practically impossible
  }
}

BOOST_AUTO_TEST_CASE(invalid_arguments) {
  auto message = [](auto make) -> std::string {
    try {
      make();
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "no exception";
  };
  auto has = [](const std::string& s, const char* what) { return s.find(what) != std::string::npos; };
  BOOST_TEST(has(message([] { jobs::with_backoff(1ms, 0.5, 1s); }), "multiplier"));
  BOOST_TEST(has(message([] { jobs::with_backoff(1ms, std::nan(""), 1s); }), "multiplier"));
  BOOST_TEST(has(message([] { jobs::with_backoff(-1ms, 2.0, 1s); }), "initial delay is negative"));
  BOOST_TEST(has(message([] { jobs::with_backoff(1ms, 2.0, -1s); }), "maximum delay is negative"));
  BOOST_TEST(has(message([] { jobs::with_backoff(1ms, 2.0, 1s, -0.1); }), "jitter"));
  BOOST_TEST(has(message([] { jobs::with_backoff(1ms, 2.0, 1s, 1.5); }), "jitter"));
  BOOST_TEST(has(message([] { jobs::with_backoff(1ms, 2.0, 1s, std::nan("")); }), "jitter"));
  BOOST_TEST(has(message([] { jobs::with_retry(3, -1ms); }), "delay is negative"));
  BOOST_TEST(
      has(message([] { jobs::with_timeout(std::chrono::duration<double>(std::nan(""))); }), "timeout"));
  BOOST_TEST(message([] { jobs::with_backoff(0ms, 1.0, 0ms, 0.0); }) == "no exception");
  BOOST_TEST(message([] { jobs::with_backoff(1ms, 2.0, 1s, 1.0); }) == "no exception");
}

BOOST_AUTO_TEST_CASE(huge_durations_saturate) {
  asio::io_context io;
  jobs::job j(io, "huge", succeed());
  jobs::executor exec(j, jobs::with_timeout(std::chrono::hours::max()),
                      jobs::with_cooldown(std::chrono::hours::max()),
                      jobs::with_retry(2, std::chrono::duration<double>(1e300)));
  outcome a, b;
  exec.async_start(a.handler());
  run_all(io);
  BOOST_TEST(!a.error);
  BOOST_TEST(exec.stats().cooldown > std::chrono::hours(24 * 365 * 100));
  io.restart();
  exec.async_start(b.handler());
  run_all(io);
  BOOST_TEST(has_errc(b.error, jobs::errc::cooldown), what_of(b.error));
  BOOST_TEST(what_of(b.error).find("h") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
