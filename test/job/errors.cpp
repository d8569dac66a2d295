// jobs::errc, its category "jobs", and the framework's own exceptions.
#include <jobs/job.hpp>

#include "test_util.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/system/error_code.hpp>
#include <boost/test/unit_test.hpp>

#include <array>
#include <string>
#include <type_traits>

namespace asio = boost::asio;
namespace sys = boost::system;
using jobs::errc;

namespace {

constexpr std::array all_errc{errc::still_pending, errc::once,     errc::cooldown,
                              errc::timeout,       errc::canceled, errc::lease_lost};

using jobs_test::contains;

}  // namespace

BOOST_AUTO_TEST_SUITE(errors)

BOOST_AUTO_TEST_CASE(errc_is_an_error_code_enum) {
  static_assert(sys::is_error_code_enum<jobs::errc>::value);
  // Implicit conversion and comparison compile (the point of is_error_code_enum).
  sys::error_code ec = errc::cooldown;
  BOOST_TEST(ec == errc::cooldown);
  BOOST_TEST(ec != errc::once);
  BOOST_TEST(bool(ec));
}

BOOST_AUTO_TEST_CASE(category_is_named_jobs) {
  BOOST_TEST(std::string(jobs::jobs_category().name()) == "jobs");
  for (errc e : all_errc) {
    const sys::error_code ec = jobs::make_error_code(e);
    BOOST_TEST(&ec.category() == &jobs::jobs_category());
    BOOST_TEST(std::string(ec.category().name()) == "jobs");
    BOOST_TEST(ec.value() == static_cast<int>(e));
    BOOST_TEST(ec.failed());
  }
}

BOOST_AUTO_TEST_CASE(codes_are_distinct) {
  for (errc a : all_errc)
    for (errc b : all_errc) BOOST_TEST((sys::error_code(a) == sys::error_code(b)) == (a == b));
}

BOOST_AUTO_TEST_CASE(canceled_is_the_portable_operation_canceled) {
  const sys::error_code ec = errc::canceled;
  BOOST_TEST(ec == sys::errc::operation_canceled);
  BOOST_TEST(ec != sys::errc::timed_out);
  // ...and so compares equal to Asio's own cancellation by condition.
  BOOST_TEST(sys::error_code(asio::error::operation_aborted) == sys::errc::operation_canceled);
}

BOOST_AUTO_TEST_CASE(timeout_is_the_portable_timed_out) {
  const sys::error_code ec = errc::timeout;
  BOOST_TEST(ec == sys::errc::timed_out);
  BOOST_TEST(ec != sys::errc::operation_canceled);
}

BOOST_AUTO_TEST_CASE(other_codes_match_no_portable_condition_of_the_two) {
  for (errc e : {errc::still_pending, errc::once, errc::cooldown}) {
    const sys::error_code ec = e;
    BOOST_TEST(ec != sys::errc::operation_canceled);
    BOOST_TEST(ec != sys::errc::timed_out);
  }
}

BOOST_AUTO_TEST_CASE(messages_name_the_failure) {
  BOOST_TEST(contains(sys::error_code(errc::still_pending).message(), "still pending"));
  BOOST_TEST(contains(sys::error_code(errc::once).message(), "only start once"));
  BOOST_TEST(contains(sys::error_code(errc::cooldown).message(), "cooldown"));
  BOOST_TEST(contains(sys::error_code(errc::timeout).message(), "timed out"));
  BOOST_TEST(contains(sys::error_code(errc::canceled).message(), "canceled"));
  BOOST_TEST(contains(sys::error_code(errc::lease_lost).message(), "lease lost"));
  // A lost lease is a cancellation of the run, for code that tests the portable condition.
  BOOST_TEST(sys::error_code(errc::lease_lost) == sys::errc::operation_canceled);
}

BOOST_AUTO_TEST_CASE(error_is_a_system_error_with_its_own_text) {
  static_assert(std::is_base_of_v<sys::system_error, jobs::error>);
  const jobs::error e(errc::cooldown, "job is still in cooldown, 3s left");
  BOOST_TEST(e.code() == errc::cooldown);
  BOOST_TEST(std::string(e.what()) == "job is still in cooldown, 3s left");
  try {
    throw e;
  } catch (const sys::system_error& se) {
    BOOST_TEST(se.code() == errc::cooldown);
    BOOST_TEST(std::string(se.what()) == "job is still in cooldown, 3s left");
  }
}

// The framework's own failures as users see them.
BOOST_AUTO_TEST_CASE(still_pending_reaches_the_async_run_caller) {
  asio::io_context io;
  jobs::job j(io, "pending", [](jobs::context& ctx) -> asio::awaitable<void> {
    co_await jobs_test::forever(ctx.get_executor());
  });
  BOOST_TEST_REQUIRE(j.run());
  std::exception_ptr got;
  bool called = false;
  j.async_run([&](std::exception_ptr e) {
    called = true;
    got = e;
  });
  BOOST_TEST_REQUIRE(jobs_test::poll_until(io, [&] { return called; }));
  BOOST_TEST(jobs_test::code_of(got) == errc::still_pending);
  BOOST_TEST(contains(jobs_test::what_of(got), "still pending"));
  try {
    std::rethrow_exception(got);
  } catch (const sys::system_error&) {
    BOOST_TEST(true);
  } catch (...) {
    BOOST_FAIL("still_pending is not a boost::system::system_error");
  }
  BOOST_TEST(j.is_state(jobs::state::running));
  BOOST_TEST(j.cancel());
  BOOST_TEST(jobs_test::poll_until(io, [&] { return j.is_done(); }));
}

BOOST_AUTO_TEST_CASE(a_canceled_run_reports_errc_canceled) {
  asio::io_context io;
  jobs::job j(io, "canceled", [](jobs::context& ctx) -> asio::awaitable<void> {
    co_await jobs_test::forever(ctx.get_executor());
  });
  BOOST_TEST_REQUIRE(j.run());
  io.poll();
  BOOST_TEST(j.cancel());
  BOOST_TEST_REQUIRE(jobs_test::poll_until(io, [&] { return j.is_done(); }));
  const auto e = j.error();
  BOOST_TEST(jobs_test::code_of(e) == errc::canceled);
  BOOST_TEST(jobs_test::code_of(e) == sys::errc::operation_canceled);
  BOOST_TEST(contains(jobs_test::what_of(e), "canceled"));
  BOOST_TEST(contains(j.stats().error, "canceled"));
}

BOOST_AUTO_TEST_SUITE_END()
