// What a start counts and where its callbacks run (the review of API.md's "Executor retries",
// "once and a throwing on_complete", "Completion placement" and the option rules).
#include "helpers.hpp"

#include <boost/asio/thread_pool.hpp>

#include <cmath>
#include <thread>

using namespace exec_test;

BOOST_AUTO_TEST_SUITE(counts_and_placement)

BOOST_AUTO_TEST_CASE(a_stop_after_an_attempt_failed_on_its_own_counts_that_attempt) {
  // The run has ended `failed` (the job is no longer running) but the executor has not seen it
  // yet when stop() arrives: the attempt failed, it was not cancelled, so it is in `retries`.
  asio::io_context io;
  auto p = std::make_shared<probe>();
  jobs::job j(io, "fail-then-stop", always_fail(p));
  jobs::executor exec(j, jobs::with_retry(3, 1h));
  outcome o;
  exec.async_start(o.handler());
  BOOST_TEST_REQUIRE(run_until(io, [&] { return j.state() == jobs::state::failed; }));
  BOOST_TEST_REQUIRE(!o.done);
  exec.stop();
  run_all(io);
  BOOST_TEST(o.done);
  BOOST_TEST(has_errc(o.error, jobs::errc::canceled), what_of(o.error));
  const auto st = exec.stats();
  BOOST_TEST(st.retries == 1u);
  BOOST_TEST_REQUIRE(st.attempts.size() == 1u);
  BOOST_TEST(st.attempts[0].outcome == jobs::attempt_outcome::failed);
  BOOST_TEST(st.canceled == 1u);
  BOOST_TEST(p->calls == 1);  // no second attempt
}

BOOST_AUTO_TEST_CASE(a_stop_during_the_run_is_still_not_a_failed_attempt) {
  asio::io_context io;
  auto p = std::make_shared<probe>();
  jobs::job j(io, "stop-running", sleeper(p, 1h));
  jobs::executor exec(j, jobs::with_retry(3, 0ms));
  outcome o;
  exec.async_start(o.handler());
  BOOST_TEST_REQUIRE(run_until(io, [&] { return p->running == 1; }));
  exec.stop();
  run_all(io);
  BOOST_TEST(has_errc(o.error, jobs::errc::canceled), what_of(o.error));
  BOOST_TEST(exec.stats().retries == 0u);
  BOOST_TEST_REQUIRE(exec.stats().attempts.size() == 1u);
  BOOST_TEST(exec.stats().attempts[0].outcome == jobs::attempt_outcome::canceled);
}

BOOST_AUTO_TEST_CASE(with_retry_of_no_attempts_is_ignored_whatever_the_delay) {
  // API.md: attempts <= 0 ignores the option; the delay is not even looked at.
  BOOST_CHECK_NO_THROW((void)jobs::with_retry(0, -1s));
  BOOST_CHECK_NO_THROW((void)jobs::with_retry(-3, std::chrono::duration<double>(std::nan(""))));
  asio::io_context io;
  auto p = std::make_shared<probe>();
  jobs::job j(io, "ignored-retry", always_fail(p));
  jobs::executor exec(j, jobs::with_retry(0, -1s));
  outcome o;
  exec.async_start(o.handler());
  run_all(io);
  BOOST_TEST(p->calls == 1);  // one attempt, as without the option
  BOOST_TEST(exec.stats().retries == 1u);
}

BOOST_AUTO_TEST_CASE(once_keeps_its_latch_when_on_complete_throws_after_a_success) {
  asio::io_context io;
  auto p = std::make_shared<probe>();
  jobs::job j(io, "once-throwing-complete", succeed(p));
  jobs::executor exec(j, jobs::once(),
                      jobs::on_complete([](const jobs::job&) { throw test_error("callback"); }));
  outcome first, second;
  exec.async_start(first.handler());
  run_all(io);
  BOOST_TEST(what_of(first.error) == "callback");  // the start reports the callback's failure
  io.restart();
  exec.async_start(second.handler());
  run_all(io);
  BOOST_TEST(has_errc(second.error, jobs::errc::once), what_of(second.error));  // the work was done
  BOOST_TEST(p->calls == 1);
}

BOOST_AUTO_TEST_CASE(on_complete_never_runs_inside_async_start_when_stop_races_the_launch) {
  // stop() from another thread lands anywhere around async_start (the admission and the first
  // launch share one critical section, so it comes before, or after the launch); the start then
  // ends canceled, but on_complete and the handler must never run on the thread that is still
  // inside async_start.
  asio::thread_pool pool(2);
  jobs::job j(pool.get_executor(), "race-launch", succeed());
  thread_local bool inside_async_start = false;
  std::atomic<int> inside{0}, completes{0};
  jobs::executor exec(j, jobs::on_complete([&](const jobs::job&) {
                        ++completes;
                        if (inside_async_start) ++inside;
                      }));
  std::atomic<bool> racing{true};
  std::thread stopper([&] {
    while (racing.load()) exec.stop();
  });
  int canceled = 0;
  for (int i = 0; i < 3000; ++i) {
    std::promise<std::exception_ptr> done;
    inside_async_start = true;
    exec.async_start([&](std::exception_ptr e) {
      if (inside_async_start) ++inside;
      done.set_value(e);
    });
    inside_async_start = false;
    auto f = done.get_future();
    BOOST_TEST_REQUIRE((f.wait_for(hang_limit) == std::future_status::ready));
    if (has_errc(f.get(), jobs::errc::canceled)) ++canceled;
  }
  racing = false;
  stopper.join();
  pool.join();
  BOOST_TEST(inside == 0);
  BOOST_TEST_MESSAGE("starts stopped by the race: " << canceled << " of 3000, on_complete " << completes);
}

namespace {
struct shutdownable_io : asio::io_context {
  using asio::io_context::shutdown;
};
}  // namespace

BOOST_AUTO_TEST_CASE(a_start_initiated_on_the_handlers_own_thread_never_completes_inside_it) {
  // The job's context has shut down, so the first attempt cannot launch: a refused start. The
  // handler is bound to another io_context, and async_start is called from a handler of that
  // very context: its completion must still not run inside async_start.
  shutdownable_io io;
  asio::io_context handler_io;
  jobs::job j(io, "dead-context", succeed());
  jobs::executor exec(j);
  io.shutdown();
  bool inside = false, done = false;
  std::exception_ptr error;
  asio::post(handler_io, [&] {
    inside = true;
    exec.async_start(asio::bind_executor(handler_io, [&](std::exception_ptr e) {
      BOOST_TEST(!inside);
      done = true;
      error = e;
    }));
    inside = false;
  });
  run_all(handler_io);
  BOOST_TEST_REQUIRE(done);
  BOOST_TEST(what_of(error).find("shut down") != std::string::npos, what_of(error));
}

BOOST_AUTO_TEST_CASE(a_refusal_reaches_a_handler_bound_elsewhere_after_the_jobs_context_shut_down) {
  shutdownable_io io;
  asio::io_context handler_io;
  jobs::job j(io, "refused-dead-context", succeed());
  jobs::executor exec(j, jobs::once());
  outcome first;
  exec.async_start(first.handler());
  run_all(io);
  BOOST_TEST_REQUIRE((first.done && !first.error));
  io.shutdown();
  outcome refused;
  exec.async_start(asio::bind_executor(handler_io, refused.handler()));
  run_all(handler_io);  // the refusal is delivered there, and handler_io's work released
  BOOST_TEST_REQUIRE(refused.done);
  BOOST_TEST(has_errc(refused.error, jobs::errc::once), what_of(refused.error));
}

BOOST_AUTO_TEST_SUITE_END()
