// The library's own records (API.md, "Library logging is silent by default"): none unless the
// job has a logger of its own or jobs::set_log_level turned them on; then a run's start and end
// at debug, a cancellation at info, a failure at warning, durations written for people.
#include <jobs/job.hpp>

#include "test_util.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <stdexcept>

namespace asio = boost::asio;
using sev = boost::log::trivial::severity_level;
using jobs_test::captured_record;

namespace {

bool has(const std::vector<captured_record>& rs, sev level, const std::string& part) {
  return std::any_of(rs.begin(), rs.end(), [&](const captured_record& r) {
    return r.severity == level && r.message.find(part) != std::string::npos;
  });
}

// Runs three jobs on one io_context: one that succeeds, one that fails, one that is cancelled.
void run_three(const std::string& prefix, std::optional<jobs::logger> own = std::nullopt) {
  asio::io_context io;
  auto make = [&](const std::string& id, jobs::body b) {
    return own ? jobs::job(io, prefix + id, std::move(b), jobs::with_logger(*own))
               : jobs::job(io, prefix + id, std::move(b));
  };
  auto ok = make("ok", [](jobs::context& ctx) -> asio::awaitable<void> {
    BOOST_LOG_SEV(ctx.logger(), sev::info) << "the body's own record";
    co_return;
  });
  auto bad = make("bad", [](jobs::context&) -> asio::awaitable<void> {
    throw std::runtime_error("kaboom");
    co_return;
  });
  auto stuck = make("stuck", [](jobs::context& ctx) -> asio::awaitable<void> {
    co_await jobs_test::forever(ctx.get_executor());
  });
  BOOST_TEST(ok.run());
  BOOST_TEST(bad.run());
  BOOST_TEST(stuck.run());
  io.poll();
  BOOST_TEST(stuck.cancel());
  io.run();
  BOOST_TEST(ok.state() == jobs::state::succeeded);
  BOOST_TEST(bad.state() == jobs::state::failed);
  BOOST_TEST(stuck.state() == jobs::state::canceled);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(logging_levels)

BOOST_AUTO_TEST_CASE(silent_by_default_but_the_bodys_own_records_pass) {
  BOOST_TEST_REQUIRE(!jobs::log_level().has_value());  // off until the application turns it on
  jobs_test::log_capture cap(std::nullopt);            // a sink, but library logging left off
  run_three("quiet-");
  const auto rs = cap.records();
  for (const auto& r : rs) BOOST_TEST(r.message == "the body's own record");  // nothing of the library's
  BOOST_TEST(rs.size() == 1u);
}

BOOST_AUTO_TEST_CASE(set_log_level_turns_on_the_levels_of_the_contract) {
  jobs_test::log_capture cap(sev::debug);
  run_three("loud-");
  BOOST_TEST(has(cap.for_job("loud-ok"), sev::debug, "started"));
  BOOST_TEST(has(cap.for_job("loud-ok"), sev::debug, "succeeded"));
  BOOST_TEST(has(cap.for_job("loud-bad"), sev::warning, "failed"));
  BOOST_TEST(has(cap.for_job("loud-bad"), sev::warning, "kaboom"));
  const auto canceled = cap.for_job("loud-stuck");
  BOOST_TEST(has(canceled, sev::info, "canceled after"));  // asked for: info, not a warning
  BOOST_TEST(has(canceled, sev::debug, "cancel requested"));
  for (const auto& r : canceled) BOOST_TEST((r.severity != sev::warning && r.severity != sev::error));
  for (const auto& r : canceled) BOOST_TEST(r.message.find(" ns") == std::string::npos);  // "1.2ms"
}

BOOST_AUTO_TEST_CASE(the_threshold_filters_before_a_record_is_opened) {
  jobs_test::log_capture cap(sev::warning);
  run_three("warn-");
  const auto rs = cap.records();
  BOOST_TEST(has(rs, sev::warning, "failed"));
  for (const auto& r : rs)
    if (r.message != "the body's own record") BOOST_TEST((r.severity >= sev::warning));
}

BOOST_AUTO_TEST_CASE(set_log_level_nullopt_turns_it_off_again) {
  jobs::set_log_level(sev::trace);
  BOOST_TEST((jobs::log_level() == sev::trace));
  jobs::set_log_level(std::nullopt);
  BOOST_TEST(!jobs::log_level().has_value());
  jobs_test::log_capture cap(std::nullopt);
  run_three("off-");
  BOOST_TEST(cap.records().size() == 1u);  // the body's own record only
}

BOOST_AUTO_TEST_CASE(a_job_with_its_own_logger_logs_through_it_without_set_log_level) {
  jobs_test::log_capture cap(std::nullopt);
  jobs::logger own(boost::log::keywords::channel = "mine");
  run_three("own-", own);
  const auto rs = cap.for_job("own-bad");
  BOOST_TEST(has(rs, sev::warning, "failed"));
  for (const auto& r : rs) BOOST_TEST(r.channel.value_or("") == "mine");
  BOOST_TEST(has(cap.for_job("own-stuck"), sev::info, "canceled after"));
}

BOOST_AUTO_TEST_SUITE_END()
