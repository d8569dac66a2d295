// The level of the library's record about a run's end: a cancellation was asked for, so it is
// not a warning; its duration is written for people.
#include <jobs/job.hpp>

#include "test_util.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>

namespace asio = boost::asio;
using sev = boost::log::trivial::severity_level;

BOOST_AUTO_TEST_SUITE(logging_levels)

BOOST_AUTO_TEST_CASE(a_canceled_run_is_logged_at_warning_with_a_readable_duration) {
  jobs_test::log_capture cap;
  asio::io_context io;
  jobs::job j(io, "lib-canceled", [](jobs::context& ctx) -> asio::awaitable<void> {
    co_await jobs_test::forever(ctx.get_executor());
  });
  BOOST_TEST(j.run());
  io.poll();
  BOOST_TEST(j.cancel());
  io.run();
  BOOST_TEST(j.is_state(jobs::state::canceled));
  const auto rs = cap.for_job("lib-canceled");
  const auto end = std::find_if(rs.begin(), rs.end(), [](const jobs_test::captured_record& r) {
    return r.message.find("canceled after") != std::string::npos;
  });
  BOOST_TEST_REQUIRE((end != rs.end()));
  BOOST_TEST((end->severity == sev::warning));                // API.md: failed or cancelled runs at warning
  BOOST_TEST(end->message.find(" ns") == std::string::npos);  // "1.2ms", not "1234567 ns"
  const auto warnings = std::count_if(
      rs.begin(), rs.end(), [](const jobs_test::captured_record& r) { return r.severity == sev::warning; });
  BOOST_TEST(warnings == 1);  // the end only: the cancel request itself is at debug
  for (const auto& r : rs) BOOST_TEST((r.severity != sev::error));
}

BOOST_AUTO_TEST_SUITE_END()
