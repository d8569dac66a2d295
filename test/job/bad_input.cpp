// Bad input gets a clear error, never a crash or a hang.
#include <jobs/job.hpp>

#include "test_util.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/test/unit_test.hpp>

#include <any>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using jobs::state;

BOOST_AUTO_TEST_SUITE(bad_input)

BOOST_AUTO_TEST_CASE(an_empty_body_is_rejected_at_construction) {
  asio::io_context io;
  BOOST_CHECK_THROW(jobs::job(io, "empty", jobs::body{}), std::invalid_argument);
  BOOST_CHECK_THROW(jobs::job(io.get_executor(), "empty", jobs::body{}), std::invalid_argument);
  BOOST_CHECK_THROW(jobs::job(io, "empty", nullptr), std::invalid_argument);
  BOOST_CHECK_THROW(jobs::job(io, "empty", jobs::body{}, jobs::with_label("a", "b")), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(wrap_rejects_an_empty_function) {
  BOOST_CHECK_THROW(jobs::wrap({}), std::invalid_argument);
  BOOST_CHECK_THROW(jobs::wrap(nullptr), std::invalid_argument);
  BOOST_CHECK_THROW(jobs::wrap(std::function<asio::awaitable<void>()>{}), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(wrap_makes_a_body_that_ignores_its_context) {
  asio::io_context io;
  int calls = 0;
  jobs::job j(io, "wrapped", jobs::wrap([&]() -> asio::awaitable<void> {
                ++calls;
                co_return;
              }));
  BOOST_TEST(j.run());
  io.run();
  BOOST_TEST(calls == 1);
  BOOST_TEST(j.state() == state::succeeded);
}

BOOST_AUTO_TEST_CASE(a_null_executor_is_rejected) {
  const jobs::body noop = [](jobs::context&) -> asio::awaitable<void> { co_return; };
  BOOST_CHECK_THROW(jobs::job(asio::any_io_executor{}, "null", noop), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(nan_progress_is_ignored) {
  asio::io_context io;
  double after_valid = 0;
  jobs::job j(io, "nan", [&](jobs::context& ctx) -> asio::awaitable<void> {
    ctx.set_progress(std::numeric_limits<double>::quiet_NaN());
    co_return;
  });
  BOOST_TEST(j.run());
  io.run();
  BOOST_TEST(j.progress() == -1.0);  // NaN as the first value: still "none yet"

  jobs::job k(io, "nan2", [&](jobs::context& ctx) -> asio::awaitable<void> {
    ctx.set_progress(0.3);
    ctx.set_progress(std::nan(""));
    ctx.set_progress(-std::numeric_limits<double>::quiet_NaN());
    after_valid = 1;
    co_return;
  });
  BOOST_TEST(k.run());
  io.restart();
  io.run();
  BOOST_TEST(after_valid == 1.0);
  BOOST_TEST(k.progress() == 0.3);
  BOOST_TEST(!std::isnan(k.stats().progress));
}

BOOST_AUTO_TEST_CASE(out_of_range_progress_is_clamped) {
  const std::pair<double, double> cases[] = {
      {1.5, 1.0},
      {-0.5, 0.0},
      {std::numeric_limits<double>::infinity(), 1.0},
      {-std::numeric_limits<double>::infinity(), 0.0},
      {1.0, 1.0},
      {0.0, 0.0},
      {std::numeric_limits<double>::max(), 1.0},
      {-std::numeric_limits<double>::denorm_min(), 0.0},
  };
  for (auto [in, want] : cases) {
    BOOST_TEST_CONTEXT("set_progress(" << in << ")") {
      asio::io_context io;
      jobs::job j(io, "clamp", [in = in](jobs::context& ctx) -> asio::awaitable<void> {
        ctx.set_progress(0.5);
        ctx.set_progress(in);
        co_return;
      });
      BOOST_TEST(j.run());
      io.run();
      BOOST_TEST(j.progress() == want);
      BOOST_TEST(j.stats().progress == want);
    }
  }
}

BOOST_AUTO_TEST_CASE(wait_from_inside_the_body_throws_logic_error) {
  asio::io_context io;
  jobs::job* self = nullptr;
  bool threw_logic_error = false;
  jobs::job j(io, "self-wait", [&](jobs::context&) -> asio::awaitable<void> {
    try {
      self->wait();
    } catch (const std::logic_error&) {
      threw_logic_error = true;
    }
    co_return;
  });
  self = &j;
  BOOST_TEST(j.run());
  io.run();
  BOOST_TEST(threw_logic_error);
  BOOST_TEST(j.state() == state::succeeded);
}

BOOST_AUTO_TEST_CASE(wait_from_inside_the_body_uncaught_fails_the_run) {
  asio::io_context io;
  jobs::job* self = nullptr;
  jobs::job j(io, "self-wait", [&](jobs::context& ctx) -> asio::awaitable<void> {
    asio::steady_timer t(ctx.get_executor(), 1ms);
    co_await t.async_wait(asio::use_awaitable);
    self->wait();
  });
  self = &j;
  BOOST_TEST(j.run());
  BOOST_CHECK_NO_THROW(io.run());
  BOOST_TEST(j.state() == state::failed);
  BOOST_CHECK_THROW(std::rethrow_exception(j.error()), std::logic_error);
}

BOOST_AUTO_TEST_CASE(wait_from_a_handler_on_the_jobs_strand_throws_logic_error) {
  asio::io_context io;
  jobs_test::gate g(io.get_executor());
  jobs::job* self = nullptr;
  bool threw_logic_error = false, ran = false;
  jobs::job j(io, "strand-wait", [&](jobs::context& ctx) -> asio::awaitable<void> {
    asio::post(ctx.get_executor(), [&] {
      ran = true;
      try {
        self->wait();
      } catch (const std::logic_error&) {
        threw_logic_error = true;
      }
      g.open();
    });
    co_await g.wait();
  });
  self = &j;
  BOOST_TEST(j.run());
  BOOST_TEST_REQUIRE(jobs_test::poll_until(io, [&] { return j.is_done(); }));
  BOOST_TEST(ran);
  BOOST_TEST(threw_logic_error);
  BOOST_TEST(j.state() == state::succeeded);
}

BOOST_AUTO_TEST_CASE(result_of_the_wrong_type_throws_bad_any_cast) {
  asio::io_context io;
  jobs::job j(io, "cast", [](jobs::context& ctx) -> asio::awaitable<void> {
    ctx.set_result(std::string("text"));
    co_return;
  });
  BOOST_CHECK_THROW(j.result<int>(), std::bad_any_cast);  // no result yet
  BOOST_TEST(j.run());
  io.run();
  BOOST_CHECK_THROW(j.result<int>(), std::bad_any_cast);
  BOOST_CHECK_THROW(j.result<const char*>(), std::bad_any_cast);
  BOOST_TEST(j.result<std::string>() == "text");
}

BOOST_AUTO_TEST_CASE(params_of_the_wrong_type_throw_bad_any_cast) {
  asio::io_context io;
  int bad_casts = 0;
  std::string good;
  jobs::job j(io, "params", [&](jobs::context& ctx) -> asio::awaitable<void> {
    try {
      (void)ctx.params<int>();
    } catch (const std::bad_any_cast&) {
      ++bad_casts;
    }
    if (ctx.params().has_value()) good = ctx.params<std::string>();
    co_return;
  });
  BOOST_TEST(j.run(std::string("p")));
  io.run();
  BOOST_TEST(j.run());  // no params at all
  io.restart();
  io.run();
  BOOST_TEST(bad_casts == 2);
  BOOST_TEST(good == "p");
}

BOOST_AUTO_TEST_CASE(an_empty_result_can_be_set) {
  asio::io_context io;
  jobs::job j(io, "empty-result", [](jobs::context& ctx) -> asio::awaitable<void> {
    ctx.set_result(1);
    ctx.set_result(std::any{});
    co_return;
  });
  BOOST_TEST(j.run());
  io.run();
  BOOST_TEST(!j.result().has_value());
}

// A moved-from handle holds no job: every member throws std::logic_error naming the problem
// (the two noexcept ones give an empty id and a null executor), and the job the handle moved to
// is untouched.
BOOST_AUTO_TEST_CASE(a_moved_from_handle_is_a_clear_error) {
  asio::io_context io;
  jobs::job j(io, "moved", [](jobs::context&) -> asio::awaitable<void> { co_return; });
  jobs::job k = std::move(j);
  auto is_moved_from = [](const std::logic_error& e) {
    return std::string(e.what()).find("moved from") != std::string::npos;
  };
  BOOST_CHECK_EXCEPTION(j.run(), std::logic_error, is_moved_from);  // NOLINT(bugprone-use-after-move)
  BOOST_CHECK_EXCEPTION(j.cancel(), std::logic_error, is_moved_from);
  BOOST_CHECK_EXCEPTION(j.wait(), std::logic_error, is_moved_from);
  BOOST_CHECK_EXCEPTION(j.state(), std::logic_error, is_moved_from);
  BOOST_CHECK_EXCEPTION(j.stats(), std::logic_error, is_moved_from);
  BOOST_CHECK_EXCEPTION(j.progress(), std::logic_error, is_moved_from);
  BOOST_CHECK_EXCEPTION(j.result(), std::logic_error, is_moved_from);
  BOOST_CHECK_EXCEPTION(j.execution_time(), std::logic_error, is_moved_from);
  bool called = false;
  BOOST_CHECK_EXCEPTION(j.async_run([&](std::exception_ptr) { called = true; }), std::logic_error,
                        is_moved_from);
  BOOST_CHECK_EXCEPTION(j.async_wait([&](boost::system::error_code) { called = true; }), std::logic_error,
                        is_moved_from);
  BOOST_CHECK_EXCEPTION(j.async_watch(0, [&](boost::system::error_code, jobs::stats) { called = true; }),
                        std::logic_error, is_moved_from);
  BOOST_TEST(j.id().empty());
  BOOST_TEST(!j.get_executor());
  io.run();
  BOOST_TEST(!called);
  // The job itself lives on in `k`.
  BOOST_TEST(k.id() == "moved");
  BOOST_TEST(k.run());
  io.restart();
  io.run();
  BOOST_TEST(k.is_state(jobs::state::succeeded));
}

BOOST_AUTO_TEST_SUITE_END()
