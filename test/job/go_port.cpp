// The Go package's job tests (pkg/utils/job/job_test.go), one case each, translated: goroutines
// become an asio::thread_pool, time.Sleep inside bodies becomes a steady_timer (scaled to
// milliseconds), and the test's own sleeps become waits on real events.
#include <jobs/job.hpp>

#include "test_util.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/log/attributes/constant.hpp>
#include <boost/log/sources/record_ostream.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <map>
#include <stdexcept>
#include <string>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using jobs::state;

namespace {

// Go: select { case <-ctx.Done(): return errors.New("job canceled"); case <-time.After(d): ... }
asio::awaitable<void> sleep_or_cancel(asio::any_io_executor ex, std::chrono::milliseconds d) {
  asio::steady_timer t(std::move(ex), d);
  auto [ec] = co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
  if (ec) throw std::runtime_error("job canceled");
}

// A body that records that it started, then sleeps `d` (or until canceled).
struct sleeper {
  jobs_test::event* started;
  std::chrono::milliseconds d;
  asio::awaitable<void> operator()(jobs::context& ctx) const {
    started->set();
    co_await sleep_or_cancel(ctx.get_executor(), d);
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(go_port)

// TestJobCompleted
BOOST_AUTO_TEST_CASE(completed) {
  asio::thread_pool pool(2);
  jobs::job j(pool, "", jobs::wrap([&]() -> asio::awaitable<void> {
                asio::steady_timer t(co_await asio::this_coro::executor, 20ms);
                co_await t.async_wait(asio::use_awaitable);
              }));
  BOOST_TEST(!j.id().empty());
  BOOST_TEST(j.run());
  j.wait();
  BOOST_TEST(!j.error(), "completed job failed with error: " << jobs_test::what_of(j.error()));
  BOOST_TEST(j.state() == state::succeeded);
}

// TestJobPanicked
BOOST_AUTO_TEST_CASE(panicked) {
  asio::thread_pool pool(2);
  jobs::job j(pool, "", [](jobs::context& ctx) -> asio::awaitable<void> {
    co_await sleep_or_cancel(ctx.get_executor(), 20ms);
    throw std::runtime_error("?!");
  });
  BOOST_TEST(j.run());
  j.wait();
  BOOST_TEST_REQUIRE(bool(j.error()));
  BOOST_TEST(jobs_test::what_of(j.error()) == "?!");
  BOOST_TEST(j.state() == state::failed);
}

// TestJobPanicWithNonError
BOOST_AUTO_TEST_CASE(panicked_with_a_non_error) {
  asio::thread_pool pool(2);
  jobs::job j(pool, "", [](jobs::context&) -> asio::awaitable<void> {
    throw std::string("string panic");
    co_return;
  });
  BOOST_TEST(j.run());
  j.wait();
  BOOST_TEST(bool(j.error()));
  BOOST_TEST(j.state() == state::failed);
  BOOST_CHECK_THROW(std::rethrow_exception(j.error()), std::string);
  BOOST_TEST(j.stats().error == "unknown exception");
}

// TestJobCanceled
BOOST_AUTO_TEST_CASE(canceled) {
  asio::thread_pool pool(2);
  jobs_test::event started;
  jobs::job j(pool, "", sleeper{&started, 4000ms});
  BOOST_TEST(j.run());
  BOOST_TEST_REQUIRE(started.wait());  // Go: time.After(2s) then Cancel()
  BOOST_TEST(j.cancel());
  j.wait();
  BOOST_TEST(bool(j.error()));
  BOOST_TEST(j.is_state(state::canceled));
  BOOST_TEST(jobs_test::what_of(j.error()) == "job canceled");  // the body's own error
  BOOST_TEST(j.execution_time() < 4000ms);
}

// TestJobFailed
BOOST_AUTO_TEST_CASE(failed) {
  asio::thread_pool pool(2);
  jobs::job j(pool, "", jobs::wrap([]() -> asio::awaitable<void> {
                throw std::runtime_error("job failed");
                co_return;
              }));
  BOOST_TEST(j.run());
  j.wait();
  BOOST_TEST(bool(j.error()));
  BOOST_TEST(j.is_state(state::failed));
}

// TestJobGetters
BOOST_AUTO_TEST_CASE(getters) {
  asio::thread_pool pool(2);
  const std::string id = "test-job-123";
  const std::map<std::string, std::string> params{{"key", "value"}};
  jobs::job j(pool, id, jobs::wrap([]() -> asio::awaitable<void> { co_return; }));
  BOOST_TEST(j.id() == id);
  BOOST_TEST((j.created_at() != std::chrono::system_clock::time_point{}));
  BOOST_TEST(j.run(params));
  j.wait();
  BOOST_TEST((j.started_at() != std::chrono::system_clock::time_point{}));
  BOOST_TEST((j.ended_at() != std::chrono::system_clock::time_point{}));
  BOOST_TEST(j.execution_time().count() >= 0);
  BOOST_TEST((j.ended_at() - j.started_at() >= std::chrono::nanoseconds(0)));
}

// TestJobProgress
BOOST_AUTO_TEST_CASE(progress) {
  asio::thread_pool pool(2);
  jobs::job j(pool, "", [](jobs::context& ctx) -> asio::awaitable<void> {
    ctx.set_progress(0.5);
    asio::steady_timer t(ctx.get_executor(), 10ms);
    co_await t.async_wait(asio::use_awaitable);
    ctx.set_progress(1.0);
  });
  BOOST_TEST(j.run());
  j.wait();
  BOOST_TEST(j.progress() == 1.0);
}

// TestJobResultAndParams
BOOST_AUTO_TEST_CASE(result_and_params) {
  asio::thread_pool pool(2);
  const std::map<std::string, std::string> params{{"key", "value"}};
  jobs::job j(pool, "", [](jobs::context& ctx) -> asio::awaitable<void> {
    if (!ctx.params().has_value()) throw std::runtime_error("params should not be empty");
    if (ctx.params<std::map<std::string, std::string>>().at("key") != "value")
      throw std::runtime_error("wrong params");
    ctx.set_result(std::string("test result"));
    co_return;
  });
  BOOST_TEST(j.run(params));
  j.wait();
  BOOST_TEST(!j.error(), jobs_test::what_of(j.error()));
  BOOST_TEST(j.result<std::string>() == "test result");
}

// TestJobStats
BOOST_AUTO_TEST_CASE(stats) {
  asio::thread_pool pool(2);
  jobs::job j(pool, "stats-job", jobs::wrap([]() -> asio::awaitable<void> {
                asio::steady_timer t(co_await asio::this_coro::executor, 20ms);
                co_await t.async_wait(asio::use_awaitable);
              }));
  BOOST_TEST(j.run());
  j.wait();
  const auto s = j.stats();
  BOOST_TEST(s.id == "stats-job");
  BOOST_TEST(s.state == state::succeeded);
  BOOST_TEST(s.execution_time >= 20ms);
}

// TestJobStatsWithError
BOOST_AUTO_TEST_CASE(stats_with_error) {
  asio::thread_pool pool(2);
  jobs::job j(pool, "", jobs::wrap([]() -> asio::awaitable<void> {
                throw std::runtime_error("stats error");
                co_return;
              }));
  BOOST_TEST(j.run());
  j.wait();
  BOOST_TEST(j.stats().error == "stats error");
}

// TestJobIsDone
BOOST_AUTO_TEST_CASE(is_done) {
  asio::thread_pool pool(2);
  jobs_test::event started;
  jobs::job j(pool, "", sleeper{&started, 20ms});
  BOOST_TEST(!j.is_done());
  BOOST_TEST(j.run());
  BOOST_TEST(!j.is_done());  // run() returns with the run pending: no "give it time to start"
  BOOST_TEST_REQUIRE(started.wait());
  j.wait();
  BOOST_TEST(j.is_done());
}

// TestJobIsExecuting
BOOST_AUTO_TEST_CASE(is_executing) {
  asio::thread_pool pool(2);
  jobs_test::event started;
  jobs::job j(pool, "", sleeper{&started, 20ms});
  BOOST_TEST(!j.is_executing());
  BOOST_TEST(j.run());
  BOOST_TEST(j.is_executing());
  BOOST_TEST_REQUIRE(started.wait());
  j.wait();
  BOOST_TEST(!j.is_executing());
}

// TestJobOptions, plus left-to-right application
BOOST_AUTO_TEST_CASE(options) {
  asio::thread_pool pool(1);
  auto noop = jobs::wrap([]() -> asio::awaitable<void> { co_return; });

  jobs::job j1(pool, "", noop, jobs::with_label("env", "test"));
  BOOST_TEST(j1.labels().at("env") == "test");

  const jobs::labels all{{"team", "platform"}, {"service", "api"}};
  jobs::job j2(pool, "", noop, jobs::with_labels(all));
  BOOST_TEST((j2.labels() == all));

  // with_labels replaces what with_label added before it...
  jobs::job j3(pool, "", noop, jobs::with_label("env", "test"), jobs::with_labels(all));
  BOOST_TEST((j3.labels() == all));
  // ...and with_label after it adds to it.
  jobs::job j4(pool, "", noop, jobs::with_labels(all), jobs::with_label("env", "test"));
  BOOST_TEST((j4.labels() == jobs::labels{{"team", "platform"}, {"service", "api"}, {"env", "test"}}));
  // A later with_label for the same key wins.
  jobs::job j5(pool, "", noop, jobs::with_label("env", "a"), jobs::with_label("env", "b"));
  BOOST_TEST((j5.labels() == jobs::labels{{"env", "b"}}));
  // A later with_labels replaces an earlier one.
  jobs::job j6(pool, "", noop, jobs::with_labels(all), jobs::with_labels({{"only", "this"}}));
  BOOST_TEST((j6.labels() == jobs::labels{{"only", "this"}}));
}

// TestJobMultipleRuns
BOOST_AUTO_TEST_CASE(multiple_runs) {
  asio::thread_pool pool(2);
  std::atomic<int> counter{0};
  jobs_test::event started;
  jobs::job j(pool, "", [&](jobs::context& ctx) -> asio::awaitable<void> {
    ++counter;
    started.set();
    ctx.set_progress(counter / 2.0);
    ctx.set_result(counter.load());
    co_await sleep_or_cancel(ctx.get_executor(), 20ms);
  });
  BOOST_TEST(j.run());
  BOOST_TEST(!j.run());  // while still executing
  BOOST_TEST_REQUIRE(started.wait());
  BOOST_TEST(!j.run());
  j.wait();
  const auto first_start = j.started_at();
  const auto first_end = j.ended_at();
  BOOST_TEST(j.result<int>() == 1);

  BOOST_TEST(j.run());  // after completion
  // The per-run data is reset when run() returns.
  BOOST_TEST((j.ended_at() == std::chrono::system_clock::time_point{}));
  BOOST_TEST((j.started_at() >= first_end));
  BOOST_TEST((j.started_at() > first_start));
  j.wait();
  BOOST_TEST(counter == 2);
  BOOST_TEST(j.progress() == 1.0);
  BOOST_TEST(j.result<int>() == 2);
  BOOST_TEST(!j.error());
}

// TestJobCancelNotRunning
BOOST_AUTO_TEST_CASE(cancel_when_not_running) {
  asio::thread_pool pool(2);
  jobs::job j(pool, "", jobs::wrap([]() -> asio::awaitable<void> { co_return; }));
  BOOST_TEST(!j.cancel());
  BOOST_TEST(j.run());
  j.wait();
  BOOST_TEST(!j.cancel());
  BOOST_TEST(j.state() == state::succeeded);
}

// TestJobContextInterface
BOOST_AUTO_TEST_CASE(context_interface) {
  asio::thread_pool pool(2);
  jobs::job j(
      pool, "context-test",
      [](jobs::context& ctx) -> asio::awaitable<void> {
        if (ctx.id() != "context-test") throw std::runtime_error("ID mismatch");
        if (!ctx.get_executor()) throw std::runtime_error("executor should not be null");
        if (ctx.is_canceled()) throw std::runtime_error("should not be canceled");
        BOOST_LOG_SEV(ctx.logger(), boost::log::trivial::info) << "logger works";
        if (ctx.labels().at("a") != "b") throw std::runtime_error("labels mismatch");
        co_return;
      },
      jobs::with_label("a", "b"));
  BOOST_TEST(j.run());
  j.wait();
  BOOST_TEST(!j.error(), "context interface test failed: " << jobs_test::what_of(j.error()));
}

// TestJobExecutionTimeWhileRunning
BOOST_AUTO_TEST_CASE(execution_time_while_running) {
  asio::thread_pool pool(2);
  jobs_test::event midway;
  jobs::job j(pool, "", [&](jobs::context& ctx) -> asio::awaitable<void> {
    asio::steady_timer t(ctx.get_executor(), 20ms);
    co_await t.async_wait(asio::use_awaitable);
    midway.set();
    co_await jobs_test::forever(ctx.get_executor());
  });
  const auto t0 = std::chrono::steady_clock::now();
  BOOST_TEST(j.run());
  BOOST_TEST_REQUIRE(midway.wait());
  const auto et = j.execution_time();
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  BOOST_TEST(j.is_executing());
  BOOST_TEST(et >= 20ms);  // at least the timer the body has waited for
  BOOST_TEST(et <= elapsed);
  BOOST_TEST(j.cancel());
  j.wait();
}

// TestJobStatsWithRunningJob
BOOST_AUTO_TEST_CASE(stats_of_a_running_job) {
  asio::thread_pool pool(2);
  jobs_test::event midway;
  jobs::job j(pool, "", [&](jobs::context& ctx) -> asio::awaitable<void> {
    asio::steady_timer t(ctx.get_executor(), 20ms);
    co_await t.async_wait(asio::use_awaitable);
    midway.set();
    co_await jobs_test::forever(ctx.get_executor());
  });
  BOOST_TEST(j.run());
  BOOST_TEST_REQUIRE(midway.wait());
  const auto s = j.stats();
  BOOST_TEST(s.state == state::running);
  BOOST_TEST(s.execution_time >= 20ms);
  BOOST_TEST(j.cancel());
  j.wait();
}

// TestUtilIsDone
BOOST_AUTO_TEST_CASE(util_is_done) {
  const std::pair<state, bool> tests[] = {
      {state::created, false},  {state::running, false}, {state::canceling, false},
      {state::succeeded, true}, {state::failed, true},   {state::canceled, true},
  };
  for (auto [s, want] : tests) BOOST_TEST(jobs::is_done(s) == want, "is_done(" << s << ")");
}

// TestUtilIsPending
BOOST_AUTO_TEST_CASE(util_is_pending) {
  const std::pair<state, bool> tests[] = {
      {state::created, false},   {state::running, true}, {state::canceling, true},
      {state::succeeded, false}, {state::failed, false}, {state::canceled, false},
  };
  for (auto [s, want] : tests) BOOST_TEST(jobs::is_pending(s) == want, "is_pending(" << s << ")");
}

// TestJobWithCustomLogger
BOOST_AUTO_TEST_CASE(custom_logger) {
  jobs_test::log_capture cap;
  asio::thread_pool pool(2);
  jobs::logger custom(boost::log::keywords::channel = "custom");
  custom.add_attribute("Origin", boost::log::attributes::constant<std::string>("go-port"));
  jobs::job j(
      pool, "custom-logger-job",
      [](jobs::context& ctx) -> asio::awaitable<void> {
        BOOST_LOG_SEV(ctx.logger(), boost::log::trivial::info) << "custom";
        co_return;
      },
      jobs::with_logger(custom));
  BOOST_TEST(j.run());
  j.wait();
  BOOST_TEST(!j.error(), "job with custom logger failed: " << jobs_test::what_of(j.error()));
  bool found = false;
  for (const auto& r : cap.for_job("custom-logger-job"))
    if (r.message == "custom" && r.get("Origin").value_or("<none>") == "go-port") found = true;
  BOOST_TEST(found);
}

BOOST_AUTO_TEST_SUITE_END()
