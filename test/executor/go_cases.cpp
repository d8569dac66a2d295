// The Go package's executor tests, one case each, translated (with our README semantics where
// the issue says so: once() blocks only after a *successful* start, and stop() ends the start).
#include "helpers.hpp"

#include <boost/json/value_from.hpp>

using namespace exec_test;

BOOST_AUTO_TEST_SUITE(executor_go_cases)

BOOST_AUTO_TEST_CASE(retry) {
  asio::io_context io;
  auto p = std::make_shared<probe>();
  jobs::job j(io, "retry", always_fail(p));
  jobs::executor exec(j, jobs::with_retry(3, 1ms));
  outcome out;
  exec.async_start(out.handler());
  run_all(io);
  BOOST_TEST(out.done);
  BOOST_TEST(what_of(out.error) == "failure 3");  // the last attempt's failure
  BOOST_TEST(p->calls == 3);
  BOOST_TEST(exec.stats().retries == 3u);
  BOOST_TEST(j.is_state(jobs::state::failed));
}

BOOST_AUTO_TEST_CASE(timed_out) {
  asio::io_context io;
  auto p = std::make_shared<probe>();
  jobs::job j(io, "timed-out", sleeper(p, 1h));
  jobs::executor exec(j, jobs::with_timeout(20ms));
  outcome out;
  exec.async_start(out.handler());
  run_all(io);  // would take an hour without the timeout
  BOOST_TEST(has_errc(out.error, jobs::errc::timeout), what_of(out.error));
  BOOST_TEST(what_of(out.error).find("timed out") != std::string::npos);
  BOOST_TEST(j.is_state(jobs::state::failed));
  BOOST_TEST(exec.stats().retries == 1u);
}

BOOST_AUTO_TEST_CASE(canceled) {
  // Go: the start's context is canceled. Here: the caller's cancellation of async_start.
  asio::io_context io;
  auto p = std::make_shared<probe>();
  jobs::job j(io, "canceled", sleeper(p, 1h));
  jobs::executor exec(j, jobs::with_retry(3, 1ms));
  asio::cancellation_signal sig;
  outcome out;
  exec.async_start(asio::bind_cancellation_slot(sig.slot(), out.handler()));
  BOOST_TEST_REQUIRE(run_until(io, [&] { return p->running > 0; }));
  sig.emit(asio::cancellation_type::terminal);
  run_all(io);
  BOOST_TEST(has_errc(out.error, jobs::errc::canceled), what_of(out.error));
  BOOST_TEST(p->calls == 1);  // no further attempt
  BOOST_TEST(j.is_state(jobs::state::canceled));
  BOOST_TEST(exec.stats().retries == 0u);
}

BOOST_AUTO_TEST_CASE(success) {
  asio::io_context io;
  auto p = std::make_shared<probe>();
  jobs::job j(io, "success", succeed(p));
  jobs::executor exec(j);
  outcome out;
  exec.async_start(out.handler());
  run_all(io);
  BOOST_TEST(out.done);
  BOOST_TEST(!out.error);
  BOOST_TEST(p->calls == 1);
  BOOST_TEST(j.is_state(jobs::state::succeeded));
  BOOST_TEST(exec.stats().retries == 0u);
}

BOOST_AUTO_TEST_CASE(success_with_timeout) {
  asio::io_context io;
  auto p = std::make_shared<probe>();
  jobs::job j(io, "success-timeout", sleeper(p, 1ms));
  jobs::executor exec(j, jobs::with_timeout(1h));
  outcome out;
  exec.async_start(out.handler());
  run_all(io);  // the 1 h timer was cancelled and awaited, not left behind
  BOOST_TEST(out.done);
  BOOST_TEST(!out.error);
  BOOST_TEST(j.is_state(jobs::state::succeeded));
}

BOOST_AUTO_TEST_CASE(stop) {
  asio::io_context io;
  auto p = std::make_shared<probe>();
  jobs::job j(io, "stop", sleeper(p, 1h));
  jobs::executor exec(j, jobs::with_retry(3, 1ms));
  outcome out;
  exec.async_start(out.handler());
  BOOST_TEST_REQUIRE(run_until(io, [&] { return p->running > 0; }));
  std::thread t([&] { exec.stop(true); });  // blocks until stopped: io must keep running
  run_all(io);
  t.join();
  BOOST_TEST(has_errc(out.error, jobs::errc::canceled), what_of(out.error));
  BOOST_TEST(p->calls == 1);
  BOOST_TEST(!j.is_executing());
  BOOST_TEST(!exec.stats().in_progress);
}

BOOST_AUTO_TEST_CASE(stop_without_wait) {
  asio::io_context io;
  auto p = std::make_shared<probe>();
  jobs::job j(io, "stop-nowait", sleeper(p, 1h));
  jobs::executor exec(j, jobs::with_retry(3, 1ms));
  outcome out;
  exec.async_start(out.handler());
  BOOST_TEST_REQUIRE(run_until(io, [&] { return p->running > 0; }));
  exec.stop();  // returns at once (the io_context is not running: a wait would deadlock)
  BOOST_TEST(!out.done);
  BOOST_TEST(j.is_state(jobs::state::canceling));
  run_all(io);
  BOOST_TEST(has_errc(out.error, jobs::errc::canceled), what_of(out.error));
  BOOST_TEST(p->calls == 1);
  BOOST_TEST(j.is_state(jobs::state::canceled));
}

BOOST_AUTO_TEST_CASE(stats) {
  asio::io_context io;
  auto p = std::make_shared<probe>();
  jobs::job j(io, "stats", always_fail(p));
  jobs::executor exec(j, jobs::with_retry(3, 1ms), jobs::with_cooldown(1h));
  BOOST_TEST(exec.stats().retries == 0u);
  BOOST_TEST(exec.stats().cooldown.count() == 0);
  outcome out;
  exec.async_start(out.handler());
  run_all(io);
  const auto s = exec.stats();
  BOOST_TEST(s.retries == 3u);
  BOOST_TEST(s.cooldown > 59min);
  BOOST_TEST(s.cooldown <= 1h);
  BOOST_TEST_REQUIRE(s.attempts.size() == 3u);
  for (int i = 0; i < 3; ++i) {
    BOOST_TEST(s.attempts[i].outcome == jobs::attempt_outcome::failed);
    BOOST_TEST(s.attempts[i].error == "failure " + std::to_string(i + 1));
    BOOST_TEST(s.attempts[i].duration.count() >= 0);
  }
  BOOST_TEST(s.starts == 1u);
  BOOST_TEST(s.failures == 1u);
  BOOST_TEST(s.successes == 0u);
  const auto v = boost::json::value_from(s);
  BOOST_TEST(v.at("retries").to_number<unsigned>() == 3u);
  BOOST_TEST(v.at("cooldown").is_int64());
  BOOST_TEST(v.at("cooldown").as_int64() > 0);
  BOOST_TEST(v.at("attempts").as_array().size() == 3u);
  BOOST_TEST(v.at("attempts").as_array()[0].at("outcome").as_string() == "failed");
  BOOST_TEST(v.at("attempts").as_array()[0].at("error").as_string() == "failure 1");
}

BOOST_AUTO_TEST_CASE(stats_without_retry) {
  asio::io_context io;
  auto p = std::make_shared<probe>();
  jobs::job j(io, "stats-noretry", always_fail(p));
  jobs::executor exec(j);
  outcome out;
  exec.async_start(out.handler());
  run_all(io);
  BOOST_TEST(what_of(out.error) == "failure 1");
  BOOST_TEST(exec.stats().retries == 1u);  // one failed attempt -> 1
  BOOST_TEST(exec.stats().cooldown.count() == 0);
  const auto v = boost::json::value_from(exec.stats());
  BOOST_TEST(v.at("retries").to_number<unsigned>() == 1u);
  BOOST_TEST(v.at("cooldown").as_int64() == 0);
}

BOOST_AUTO_TEST_CASE(cooldown) {
  asio::io_context io;
  auto p = std::make_shared<probe>();
  jobs::job j(io, "cooldown", succeed(p));
  jobs::executor exec(j, jobs::with_cooldown(1h));
  outcome first, second;
  exec.async_start(first.handler());
  run_all(io);
  BOOST_TEST(!first.error);
  io.restart();
  exec.async_start(second.handler());
  run_all(io);
  BOOST_TEST(has_errc(second.error, jobs::errc::cooldown), what_of(second.error));
  const std::string w = what_of(second.error);
  BOOST_TEST(w.rfind("job is still in cooldown, 59m", 0) == 0, w);
  BOOST_TEST(w.size() > 6);
  BOOST_TEST(w.substr(w.size() - 6) == "s left", w);
  BOOST_TEST(p->calls == 1);
}

BOOST_AUTO_TEST_CASE(once) {
  asio::io_context io;
  auto p = std::make_shared<probe>();
  jobs::job j(io, "once", succeed(p));
  jobs::executor exec(j, jobs::once());
  outcome first, second;
  exec.async_start(first.handler());
  run_all(io);
  BOOST_TEST(!first.error);
  io.restart();
  exec.async_start(second.handler());
  run_all(io);
  BOOST_TEST(has_errc(second.error, jobs::errc::once), what_of(second.error));
  BOOST_TEST(what_of(second.error).find("only start once") != std::string::npos);
  BOOST_TEST(p->calls == 1);
}

BOOST_AUTO_TEST_CASE(reset) {
  asio::io_context io;
  auto p = std::make_shared<probe>();
  jobs::job j(io, "reset", flaky(p, 2));
  jobs::executor exec(j, jobs::with_retry(2, 1ms), jobs::with_cooldown(1h));
  outcome first, second;
  exec.async_start(first.handler());
  run_all(io);
  BOOST_TEST(what_of(first.error) == "failure 2");
  BOOST_TEST(exec.stats().retries == 2u);
  BOOST_TEST(exec.stats().cooldown > 0s);
  exec.reset();
  BOOST_TEST(exec.stats().retries == 0u);
  BOOST_TEST(exec.stats().cooldown.count() == 0);
  BOOST_TEST(exec.stats().attempts.empty());
  io.restart();
  exec.async_start(second.handler());  // admitted: no cooldown any more
  run_all(io);
  BOOST_TEST(!second.error);
  BOOST_TEST(p->calls == 3);
}

BOOST_AUTO_TEST_CASE(invalid_retry) {
  // attempts <= 0: ignored (one attempt, as by default).
  for (int attempts : {0, -1}) {
    asio::io_context io;
    auto p = std::make_shared<probe>();
    jobs::job j(io, "invalid-retry", always_fail(p));
    jobs::executor exec(j, jobs::with_retry(attempts, 1ms));
    outcome out;
    exec.async_start(out.handler());
    run_all(io);
    BOOST_TEST(p->calls == 1);
    BOOST_TEST(exec.stats().retries == 1u);
  }
  // ... and it does not undo an earlier valid one.
  asio::io_context io;
  auto p = std::make_shared<probe>();
  jobs::job j(io, "invalid-retry-2", always_fail(p));
  jobs::executor exec(j, jobs::with_retry(2, 1ms), jobs::with_retry(0, 1h));
  outcome out;
  exec.async_start(out.handler());
  run_all(io);
  BOOST_TEST(p->calls == 2);
}

BOOST_AUTO_TEST_CASE(invalid_timeout) {
  for (auto d : {0ms, -5ms}) {
    asio::io_context io;
    auto p = std::make_shared<probe>();
    jobs::job j(io, "invalid-timeout", sleeper(p, 30ms));
    jobs::executor exec(j, jobs::with_timeout(d));
    outcome out;
    exec.async_start(out.handler());
    run_all(io);
    BOOST_TEST(out.done);
    BOOST_TEST(!out.error);  // no timeout applied
  }
}

BOOST_AUTO_TEST_CASE(invalid_cooldown) {
  for (auto d : {0ms, -1000ms}) {
    asio::io_context io;
    auto p = std::make_shared<probe>();
    jobs::job j(io, "invalid-cooldown", succeed(p));
    jobs::executor exec(j, jobs::with_cooldown(d));
    outcome first, second;
    exec.async_start(first.handler());
    run_all(io);
    io.restart();
    exec.async_start(second.handler());
    run_all(io);
    BOOST_TEST(!first.error);
    BOOST_TEST(!second.error);
    BOOST_TEST(exec.stats().cooldown.count() == 0);
  }
}

BOOST_AUTO_TEST_CASE(no_timeout) {
  asio::io_context io;
  auto p = std::make_shared<probe>();
  jobs::job j(io, "no-timeout", sleeper(p, 100ms));
  jobs::executor exec(j, jobs::with_timeout(1ms), jobs::no_timeout());
  outcome out;
  exec.async_start(out.handler());
  run_all(io);
  BOOST_TEST(!out.error);
  BOOST_TEST(j.is_state(jobs::state::succeeded));
}

BOOST_AUTO_TEST_CASE(already_running) {
  asio::io_context io;
  auto p = std::make_shared<probe>();
  jobs::job j(io, "already-running", sleeper(p, 20ms));
  jobs::executor exec(j);
  outcome first, second;
  exec.async_start(first.handler());
  exec.async_start(second.handler());
  run_all(io);
  BOOST_TEST(!first.error);
  BOOST_TEST(has_errc(second.error, jobs::errc::still_pending), what_of(second.error));
  BOOST_TEST(what_of(second.error).find("still pending") != std::string::npos);
  BOOST_TEST(p->calls == 1);
  BOOST_TEST(exec.stats().starts == 1u);
}

BOOST_AUTO_TEST_CASE(retry_with_success) {
  asio::io_context io;
  auto p = std::make_shared<probe>();
  jobs::job j(io, "retry-success", flaky(p, 2));
  jobs::executor exec(j, jobs::with_retry(3, 1ms));
  outcome out;
  exec.async_start(out.handler());
  run_all(io);
  BOOST_TEST(!out.error);
  BOOST_TEST(p->calls == 3);
  BOOST_TEST(exec.stats().retries == 2u);
  BOOST_TEST_REQUIRE(exec.stats().attempts.size() == 3u);
  BOOST_TEST(exec.stats().attempts[2].outcome == jobs::attempt_outcome::succeeded);
  BOOST_TEST(exec.stats().attempts[2].error == "");
  BOOST_TEST(j.is_state(jobs::state::succeeded));
}

BOOST_AUTO_TEST_CASE(once_with_retry) {
  // Our README semantics: once() counts only a successful start, so a start whose every
  // attempt failed does not use it up.
  asio::io_context io;
  auto p = std::make_shared<probe>();
  jobs::job j(io, "once-retry", flaky(p, 3));
  jobs::executor exec(j, jobs::once(), jobs::with_retry(3, 1ms));
  outcome first, second, third;
  exec.async_start(first.handler());
  run_all(io);
  BOOST_TEST(what_of(first.error) == "failure 3");
  io.restart();
  exec.async_start(second.handler());
  run_all(io);
  BOOST_TEST(!second.error);
  io.restart();
  exec.async_start(third.handler());
  run_all(io);
  BOOST_TEST(has_errc(third.error, jobs::errc::once), what_of(third.error));
  BOOST_TEST(p->calls == 4);
}

BOOST_AUTO_TEST_CASE(once_with_retry_succeeds) {
  asio::io_context io;
  auto p = std::make_shared<probe>();
  jobs::job j(io, "once-retry-ok", flaky(p, 2));
  jobs::executor exec(j, jobs::once(), jobs::with_retry(5, 1ms));
  outcome first, second;
  exec.async_start(first.handler());
  run_all(io);
  BOOST_TEST(!first.error);
  BOOST_TEST(exec.stats().retries == 2u);
  io.restart();
  exec.async_start(second.handler());
  run_all(io);
  BOOST_TEST(has_errc(second.error, jobs::errc::once), what_of(second.error));
  BOOST_TEST(exec.stats().retries == 2u);  // the refused start touched nothing
  BOOST_TEST(p->calls == 3);
}

BOOST_AUTO_TEST_CASE(cooldown_with_retry) {
  asio::io_context io;
  auto p = std::make_shared<probe>();
  jobs::job j(io, "cooldown-retry", flaky(p, 2));
  jobs::executor exec(j, jobs::with_retry(3, 1ms), jobs::with_cooldown(1h));
  outcome first, second;
  exec.async_start(first.handler());
  run_all(io);
  BOOST_TEST(!first.error);  // the retries happen inside one start, not held by the cooldown
  BOOST_TEST(p->calls == 3);
  io.restart();
  exec.async_start(second.handler());
  run_all(io);
  BOOST_TEST(has_errc(second.error, jobs::errc::cooldown), what_of(second.error));
  BOOST_TEST(exec.stats().retries == 2u);
}

BOOST_AUTO_TEST_SUITE_END()
