// Logging through Boost.Log: the context's logger carries the job id; the library logs lifecycle
// transitions at debug and failures at warning.
#include <jobs/job.hpp>

#include "test_util.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/log/attributes/constant.hpp>
#include <boost/log/sources/record_ostream.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <stdexcept>
#include <string>

namespace asio = boost::asio;
namespace logging = boost::log;
using sev = boost::log::trivial::severity_level;
using jobs::state;
using jobs_test::captured_record;

namespace {

using jobs_test::contains;

std::size_t index_of_message(const std::vector<captured_record>& rs, const std::string& text) {
  for (std::size_t i = 0; i < rs.size(); ++i)
    if (rs[i].message == text) return i;
  return rs.size();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(logging_)

BOOST_AUTO_TEST_CASE(the_context_logger_carries_the_job_id) {
  jobs_test::log_capture cap;
  asio::io_context io;
  jobs::job j(io, "log-job", [](jobs::context& ctx) -> asio::awaitable<void> {
    BOOST_LOG_SEV(ctx.logger(), sev::info) << "hello from the body";
    co_return;
  });
  BOOST_TEST(j.run());
  io.run();
  const auto rs = cap.records();
  const auto i = index_of_message(rs, "hello from the body");
  BOOST_TEST_REQUIRE(i < rs.size());
  BOOST_TEST(rs[i].get("Job").value_or("<none>") == "log-job");  // as a std::string
  BOOST_TEST_REQUIRE(rs[i].severity.has_value());
  BOOST_TEST(*rs[i].severity == sev::info);
}

BOOST_AUTO_TEST_CASE(each_job_tags_its_own_records) {
  jobs_test::log_capture cap;
  asio::io_context io;
  auto body = [](jobs::context& ctx) -> asio::awaitable<void> {
    BOOST_LOG_SEV(ctx.logger(), sev::info) << "from " << ctx.id();
    co_return;
  };
  jobs::job a(io, "job-a", body), b(io, "job-b", body);
  BOOST_TEST(a.run());
  BOOST_TEST(b.run());
  io.run();
  const auto rs = cap.records();
  const auto ia = index_of_message(rs, "from job-a"), ib = index_of_message(rs, "from job-b");
  BOOST_TEST_REQUIRE(ia < rs.size());
  BOOST_TEST_REQUIRE(ib < rs.size());
  BOOST_TEST(rs[ia].get("Job").value_or("<none>") == "job-a");
  BOOST_TEST(rs[ib].get("Job").value_or("<none>") == "job-b");
}

BOOST_AUTO_TEST_CASE(a_custom_logger_keeps_its_attributes_and_gains_the_job_id) {
  jobs_test::log_capture cap;
  asio::io_context io;
  jobs::logger custom(logging::keywords::channel = "custom-channel");
  custom.add_attribute("Tag", logging::attributes::constant<std::string>("mine"));
  jobs::job j(
      io, "custom-log",
      [](jobs::context& ctx) -> asio::awaitable<void> {
        BOOST_LOG_SEV(ctx.logger(), sev::error) << "through the custom logger";
        co_return;
      },
      jobs::with_logger(custom));
  BOOST_TEST(j.run());
  io.run();
  BOOST_TEST(j.state() == state::succeeded);
  const auto rs = cap.records();
  const auto i = index_of_message(rs, "through the custom logger");
  BOOST_TEST_REQUIRE(i < rs.size());
  BOOST_TEST(rs[i].get("Job").value_or("<none>") == "custom-log");
  BOOST_TEST(rs[i].get("Tag").value_or("<none>") == "mine");
  BOOST_TEST(rs[i].channel.value_or("<none>") == "custom-channel");
  BOOST_TEST_REQUIRE(rs[i].severity.has_value());
  BOOST_TEST(*rs[i].severity == sev::error);
}

BOOST_AUTO_TEST_CASE(a_later_with_logger_replaces_an_earlier_one) {
  jobs_test::log_capture cap;
  asio::io_context io;
  jobs::logger first(logging::keywords::channel = "first"), second(logging::keywords::channel = "second");
  first.add_attribute("Which", logging::attributes::constant<std::string>("first"));
  second.add_attribute("Which", logging::attributes::constant<std::string>("second"));
  jobs::job j(
      io, "two-loggers",
      [](jobs::context& ctx) -> asio::awaitable<void> {
        BOOST_LOG_SEV(ctx.logger(), sev::info) << "which one";
        co_return;
      },
      jobs::with_logger(first), jobs::with_logger(second));
  BOOST_TEST(j.run());
  io.run();
  const auto rs = cap.records();
  const auto i = index_of_message(rs, "which one");
  BOOST_TEST_REQUIRE(i < rs.size());
  BOOST_TEST(rs[i].get("Which").value_or("<none>") == "second");
  BOOST_TEST(rs[i].channel.value_or("<none>") == "second");
  BOOST_TEST(rs[i].get("Job").value_or("<none>") == "two-loggers");
}

BOOST_AUTO_TEST_CASE(the_library_logs_start_and_end_at_debug) {
  jobs_test::log_capture cap;
  asio::io_context io;
  jobs::job j(io, "lib-ok", [](jobs::context& ctx) -> asio::awaitable<void> {
    BOOST_LOG_SEV(ctx.logger(), sev::info) << "body";
    co_return;
  });
  BOOST_TEST(j.run());
  io.run();
  const auto rs = cap.for_job("lib-ok");
  const auto body = index_of_message(rs, "body");
  BOOST_TEST_REQUIRE(body < rs.size());
  // A debug record before the body ran (the start) and one after it (the end, with its state).
  bool start = false, end = false;
  for (std::size_t i = 0; i < rs.size(); ++i) {
    if (i == body || rs[i].severity != sev::debug) continue;
    if (i < body) start = true;
    if (i > body && contains(rs[i].message, "succeeded")) end = true;
  }
  BOOST_TEST(start);
  BOOST_TEST(end);
  for (const auto& r : rs) BOOST_TEST((r.severity != sev::warning && r.severity != sev::error));
}

BOOST_AUTO_TEST_CASE(the_library_logs_a_failure_at_warning) {
  jobs_test::log_capture cap;
  asio::io_context io;
  jobs::job j(io, "lib-fail", [](jobs::context&) -> asio::awaitable<void> {
    throw std::runtime_error("kaboom");
    co_return;
  });
  BOOST_TEST(j.run());
  io.run();
  BOOST_TEST(j.state() == state::failed);
  const auto rs = cap.for_job("lib-fail");
  const bool warned = std::any_of(rs.begin(), rs.end(), [](const captured_record& r) {
    return r.severity == sev::warning && contains(r.message, "failed");
  });
  BOOST_TEST(warned);
}

BOOST_AUTO_TEST_CASE(the_library_logs_a_cancel_request_at_debug) {
  jobs_test::log_capture cap;
  asio::io_context io;
  jobs::job j(io, "lib-cancel", [](jobs::context& ctx) -> asio::awaitable<void> {
    co_await jobs_test::forever(ctx.get_executor());
  });
  BOOST_TEST(j.run());
  io.poll();
  const auto before = cap.for_job("lib-cancel").size();
  BOOST_TEST(j.cancel());
  const auto rs = cap.for_job("lib-cancel");
  BOOST_TEST_REQUIRE(rs.size() > before);  // logged by cancel() itself
  BOOST_TEST((rs[before].severity == sev::debug));
  BOOST_TEST(contains(rs[before].message, "cancel"));
  io.run();
}

BOOST_AUTO_TEST_SUITE_END()
