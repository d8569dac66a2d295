// jobs::registry::async_drain (issue 11): jobs that end within the grace period are not
// cancelled; a job that ignores cancellation is reported, not waited for; a second drain waits
// for the first; entries added or removed during a drain; bad grace periods. Admission is in
// drain_admission.cpp, cancellation and handler placement in drain_cancel.cpp.
#include "registry_helpers.hpp"

using namespace reg_test;

BOOST_AUTO_TEST_SUITE(registry_drain)

BOOST_AUTO_TEST_CASE(jobs_that_end_within_the_grace_period_are_not_canceled) {
  asio::io_context io;
  jobs::registry reg(io);
  auto g = std::make_shared<jobs_test::gate>(io.get_executor());
  std::vector<jobs::job> jobs;
  for (int i = 0; i < 3; ++i) jobs.emplace_back(io, "gated-" + std::to_string(i), gated(g));
  jobs::job attempt(io, "attempt", gated(g));
  jobs::executor exec(attempt, jobs::with_retry(3, 0ms));
  jobs::job idle(io, "idle", quick());
  for (auto& j : jobs) reg.add(j);
  reg.add(exec);
  reg.add(idle);
  for (auto& j : jobs) BOOST_TEST_REQUIRE(j.run());
  finished start;
  exec.async_start(start.handler());
  run_until(io, [&] { return g->waiting() == 4; });

  drained d;
  reg.async_drain(cap, d.handler());
  BOOST_TEST(reg.is_closed());
  BOOST_TEST(!d.done());
  io.poll();  // the drain begins: it finds four entries running
  BOOST_TEST(!d.done());
  g->open();
  run_until(io, [&] { return d.done(); });
  BOOST_TEST(!d.ec);
  BOOST_TEST(d.report.ended == 4u);
  BOOST_TEST(d.report.canceled == 0u);
  BOOST_TEST(d.report.still_running.empty());
  BOOST_TEST(d.report.duration < cap / 2);  // it completed on the events, not on a timer
  for (auto& j : jobs) BOOST_TEST(j.is_state(jobs::state::succeeded));
  BOOST_TEST(!start.error);
  BOOST_TEST(idle.is_state(jobs::state::created));
  run_all(io);
  BOOST_TEST(d.calls == 1);
}

BOOST_AUTO_TEST_CASE(an_empty_or_idle_registry_drains_at_once) {
  asio::io_context io;
  jobs::registry reg(io);
  drained d;
  reg.async_drain(1h, d.handler());
  run_all(io);
  BOOST_TEST(d.calls == 1);
  BOOST_TEST(!d.ec);
  BOOST_TEST((d.report == jobs::drain_report{0, 0, {}, d.report.duration}));
  BOOST_TEST(d.report.duration < 1h);
}

BOOST_AUTO_TEST_CASE(a_job_that_ignores_cancellation_is_reported_not_waited_for) {
  asio::io_context io;
  jobs::registry reg(io);
  auto release = std::make_shared<std::atomic<bool>>(false);
  auto entered = std::make_shared<std::atomic<int>>(0);
  jobs::job stubborn_job(io, "stubborn", stubborn(release, entered));
  jobs::job polite(io, "polite", until_canceled());
  reg.add(stubborn_job);
  reg.add(polite);
  BOOST_TEST_REQUIRE(stubborn_job.run());
  BOOST_TEST_REQUIRE(polite.run());
  run_until(io, [&] { return entered->load() == 1; });

  constexpr auto grace = 100ms;
  drained d;
  reg.async_drain(grace, d.handler());
  run_until(io, [&] { return d.done(); });
  BOOST_TEST(!d.ec);
  BOOST_TEST(d.report.ended == 0u);
  BOOST_TEST(d.report.canceled == 2u);
  BOOST_TEST(d.report.still_running == std::vector<std::string>{"stubborn"},
             boost::test_tools::per_element());
  BOOST_TEST(d.report.duration >= 2 * grace);  // both bounds passed
  BOOST_TEST(d.report.duration < cap);
  BOOST_TEST(polite.is_state(jobs::state::canceled));
  BOOST_TEST(stubborn_job.is_state(jobs::state::canceling));
  release->store(true);
  run_all(io);
  BOOST_TEST(stubborn_job.is_state(jobs::state::canceled));  // a cancelled run ends canceled
}

BOOST_AUTO_TEST_CASE(a_zero_grace_cancels_at_once) {
  asio::io_context io;
  jobs::registry reg(io);
  jobs::job a(io, "a", until_canceled());
  jobs::job b(io, "b", until_canceled());
  reg.add(a);
  reg.add(b);
  BOOST_TEST_REQUIRE(a.run());
  BOOST_TEST_REQUIRE(b.run());
  drained d;
  reg.async_drain(0s, d.handler());
  run_all(io);
  BOOST_TEST(d.calls == 1);
  BOOST_TEST(d.report.canceled == 2u);
  BOOST_TEST(d.report.ended == 0u);
  BOOST_TEST(a.is_state(jobs::state::canceled));
  BOOST_TEST(b.is_state(jobs::state::canceled));
}

BOOST_AUTO_TEST_CASE(a_second_drain_waits_for_the_first) {
  asio::io_context io;
  jobs::registry reg(io);
  auto g = std::make_shared<jobs_test::gate>(io.get_executor());
  jobs::job j(io, "slow", gated(g));
  reg.add(j);
  BOOST_TEST_REQUIRE(j.run());
  run_until(io, [&] { return g->waiting() == 1; });

  drained first, second;
  reg.async_drain(cap, first.handler());
  reg.async_drain(0s, second.handler());  // alone, it would cancel the job at once
  asio::steady_timer t(io, 100ms);        // time for a zero grace to have fired, had it been used
  bool waited = false;
  t.async_wait([&](error_code) { waited = true; });
  run_until(io, [&] { return waited; });
  BOOST_TEST(j.is_state(jobs::state::running));
  BOOST_TEST(!first.done());
  BOOST_TEST(!second.done());
  g->open();
  run_until(io, [&] { return first.done() && second.done(); });
  BOOST_TEST(!first.ec);
  BOOST_TEST(!second.ec);
  BOOST_TEST(first.report == second.report);
  BOOST_TEST(first.report.ended == 1u);
  BOOST_TEST(first.report.canceled == 0u);
  BOOST_TEST(j.is_state(jobs::state::succeeded));

  // Once complete, a new drain is a new one (and finds nothing running).
  drained third;
  reg.async_drain(0s, third.handler());
  run_all(io);
  BOOST_TEST(third.calls == 1);
  BOOST_TEST(third.report.ended == 0u);
  BOOST_TEST(first.calls == 1);
  BOOST_TEST(second.calls == 1);
}

BOOST_AUTO_TEST_CASE(entries_added_during_the_drain_are_waited_for) {
  asio::io_context io;
  jobs::registry reg(io);
  auto ga = std::make_shared<jobs_test::gate>(io.get_executor());
  auto gb = std::make_shared<jobs_test::gate>(io.get_executor());
  jobs::job a(io, "a", gated(ga));
  jobs::job b(io, "b", gated(gb));
  reg.add(a);
  BOOST_TEST_REQUIRE(a.run());
  BOOST_TEST_REQUIRE(b.run());  // running before it is added
  run_until(io, [&] { return ga->waiting() == 1 && gb->waiting() == 1; });
  drained d;
  reg.async_drain(cap, d.handler());
  io.poll();
  reg.add(b);
  ga->open();
  run_until(io, [&] { return a.is_done(); });
  io.poll();
  BOOST_TEST(!d.done());  // b is still running
  gb->open();
  run_until(io, [&] { return d.done(); });
  BOOST_TEST(d.report.ended == 2u);
  BOOST_TEST(b.is_state(jobs::state::succeeded));
}

BOOST_AUTO_TEST_CASE(entries_added_once_the_drain_cancels_are_cancelled) {
  asio::io_context io;
  jobs::registry reg(io);
  auto release = std::make_shared<std::atomic<bool>>(false);
  auto entered = std::make_shared<std::atomic<int>>(0);
  jobs::job s(io, "s", stubborn(release, entered));
  jobs::job late(io, "late", until_canceled());
  reg.add(s);
  BOOST_TEST_REQUIRE(s.run());
  BOOST_TEST_REQUIRE(late.run());
  run_until(io, [&] { return entered->load() == 1; });
  drained d;
  reg.async_drain(50ms, d.handler());
  run_until(io, [&] { return s.is_state(jobs::state::canceling); });  // the first grace is over
  reg.add(late);
  run_until(io, [&] { return d.done(); });
  BOOST_TEST(late.is_state(jobs::state::canceled));
  BOOST_TEST(d.report.canceled == 2u);
  BOOST_TEST(d.report.still_running == std::vector<std::string>{"s"}, boost::test_tools::per_element());
  release->store(true);
  run_all(io);
}

BOOST_AUTO_TEST_CASE(an_entry_removed_during_the_drain_is_no_longer_waited_for) {
  asio::io_context io;
  jobs::registry reg(io);
  auto g = std::make_shared<jobs_test::gate>(io.get_executor());
  jobs::job j(io, "j", gated(g));
  reg.add(j);
  BOOST_TEST_REQUIRE(j.run());
  run_until(io, [&] { return g->waiting() == 1; });
  drained d;
  reg.async_drain(cap, d.handler());
  io.poll();
  BOOST_TEST(reg.remove("j"));
  run_until(io, [&] { return d.done(); });
  BOOST_TEST(d.report.ended == 0u);
  BOOST_TEST(d.report.canceled == 0u);
  BOOST_TEST(d.report.still_running.empty());
  BOOST_TEST(j.is_state(jobs::state::running));
  g->open();
  run_all(io);
  BOOST_TEST(j.is_state(jobs::state::succeeded));
  BOOST_TEST(j.run());  // open again
  run_all(io);
}

BOOST_AUTO_TEST_CASE(bad_grace_periods) {
  asio::io_context io;
  jobs::registry reg(io);
  const auto ignore = [](error_code, jobs::drain_report) {};
  try {
    reg.async_drain(-1ms, ignore);
    BOOST_FAIL("no exception");
  } catch (const std::invalid_argument& e) {
    BOOST_TEST(std::string(e.what()) == "jobs::registry::async_drain: the grace period is negative");
  }
  try {
    reg.async_drain(std::chrono::duration<double>(std::nan("")), ignore);
    BOOST_FAIL("no exception");
  } catch (const std::invalid_argument& e) {
    BOOST_TEST(std::string(e.what()).find("grace period is not a number") != std::string::npos, e.what());
  }
  BOOST_TEST(!reg.is_closed());  // a refused drain changes nothing
  // Huge ones saturate: the drain still completes on its events.
  drained d;
  reg.async_drain(std::chrono::hours::max(), d.handler());
  reg.async_drain(std::chrono::duration<double>(1e300), d.handler());
  run_all(io);
  BOOST_TEST(d.calls == 2);
}

BOOST_AUTO_TEST_SUITE_END()
