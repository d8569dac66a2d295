// jobs::registry::async_drain, admission (issue 11): nothing is admitted once the drain starts —
// job.run(), async_run, executor starts, entries added during the drain — through the job and
// executor hooks behind it (tested directly too); a start in progress ends without further
// retries; reopen().
#include "registry_helpers.hpp"

#include <jobs/detail/executor_access.hpp>
#include <jobs/detail/job_access.hpp>

#include <time.h>

using namespace reg_test;

namespace {

/// Checks that `f` throws jobs::error with errc::shutting_down.
template <class F>
void refuses(F f, const char* what) {
  try {
    f();
    BOOST_ERROR(what << ": no exception");
  } catch (const jobs::error& e) {
    BOOST_TEST(e.code() == jobs::errc::shutting_down, what << ": " << e.what());
    BOOST_TEST(std::string(e.what()).find("shutting down") != std::string::npos, e.what());
  }
}

/// CPU time of the calling thread.
std::chrono::nanoseconds thread_cpu() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(registry_drain_admission)

BOOST_AUTO_TEST_CASE(nothing_is_admitted_after_the_drain_starts) {
  asio::io_context io;
  jobs::registry reg(io);
  auto g = std::make_shared<jobs_test::gate>(io.get_executor());
  auto calls = std::make_shared<std::atomic<int>>(0);
  jobs::job busy(io, "busy", gated(g));
  jobs::job idle(io, "idle", quick(calls));
  jobs::job cool(io, "cool", quick(calls));
  jobs::executor cool_exec(cool, jobs::with_cooldown(1h), jobs::once());
  reg.add(busy);
  reg.add(idle);
  reg.add(cool_exec);
  finished first;
  cool_exec.async_start(first.handler());
  run_all(io);
  BOOST_TEST_REQUIRE(!first.error);  // now both once() and the cooldown would refuse
  BOOST_TEST_REQUIRE(busy.run());
  run_until(io, [&] { return g->waiting() == 1; });
  BOOST_TEST(!reg.is_closed());

  drained d;
  reg.async_drain(cap, d.handler());
  // Closed as soon as async_drain has been called, before any handler ran.
  refuses([&] { idle.run(); }, "idle.run()");
  refuses([&] { cool.run(); }, "the executor's job's run()");
  finished run_refused, start_refused;
  idle.async_run(run_refused.handler());
  cool_exec.async_start(start_refused.handler());  // shutting_down before once and cooldown
  BOOST_TEST(!run_refused.done());                 // never inside the call
  BOOST_TEST(!start_refused.done());
  // Added during the drain: closed at once.
  jobs::job late(io, "late", quick(calls));
  jobs::job late_exec_job(io, "late-exec", quick(calls));
  jobs::executor late_exec(late_exec_job);
  reg.add(late);
  reg.add(late_exec);
  refuses([&] { late.run(); }, "late.run()");
  finished late_start;
  late_exec.async_start(late_start.handler());
  run_until(io, [&] { return run_refused.done() && start_refused.done() && late_start.done(); });
  BOOST_TEST(has_errc(run_refused.error, jobs::errc::shutting_down), what_of(run_refused.error));
  BOOST_TEST(has_errc(start_refused.error, jobs::errc::shutting_down), what_of(start_refused.error));
  BOOST_TEST(has_errc(late_start.error, jobs::errc::shutting_down), what_of(late_start.error));
  BOOST_TEST(cool_exec.stats().starts == 1u);  // a refused start changes nothing
  BOOST_TEST(late_exec.stats().starts == 0u);

  g->open();
  run_until(io, [&] { return d.done(); });
  BOOST_TEST(d.report.ended == 1u);
  // Still closed once the drain has completed.
  BOOST_TEST(reg.is_closed());
  refuses([&] { idle.run(); }, "idle.run() after the drain");
  BOOST_TEST(calls->load() == 1);  // only cool's first start ran a body

  // Removed: open again.
  BOOST_TEST(reg.remove("idle"));
  BOOST_TEST(idle.run());
  run_all(io);
  BOOST_TEST(calls->load() == 2);

  // reopen(): everything admits again.
  reg.reopen();
  BOOST_TEST(!reg.is_closed());
  BOOST_TEST(late.run());
  finished late_start2, cool_start2;
  late_exec.async_start(late_start2.handler());
  cool_exec.async_start(cool_start2.handler());
  run_all(io);
  BOOST_TEST(!late_start2.error);
  BOOST_TEST(has_errc(cool_start2.error, jobs::errc::once),
             what_of(cool_start2.error));  // its own rules again
  BOOST_TEST(calls->load() == 4);
}

BOOST_AUTO_TEST_CASE(the_hooks_directly) {
  // detail::set_closed on a job and an executor, without a registry.
  asio::io_context io;
  auto calls = std::make_shared<std::atomic<int>>(0);
  jobs::job j(io, "hooked", quick(calls));
  jobs::executor e(j, jobs::with_cooldown(1h));
  auto& impl = *jobs::detail::job_access::impl(j);
  auto& state = *jobs::detail::executor_access::state(e);
  BOOST_TEST((jobs::detail::job_of(state) == j));

  jobs::detail::set_closed(impl, true);
  refuses([&] { j.run(); }, "run() on a closed job");
  finished run, start;
  j.async_run(run.handler());
  e.async_start(start.handler());  // the executor is open: the job refuses its first attempt
  run_all(io);
  BOOST_TEST(has_errc(run.error, jobs::errc::shutting_down), what_of(run.error));
  BOOST_TEST(has_errc(start.error, jobs::errc::shutting_down), what_of(start.error));
  BOOST_TEST(calls->load() == 0);
  BOOST_TEST(j.is_state(jobs::state::created));  // a refused run changes nothing
  // A first attempt that cannot be launched makes a refused start: nothing changed.
  BOOST_TEST(e.stats().starts == 0u);
  BOOST_TEST(e.stats().cooldown == std::chrono::nanoseconds(0));

  jobs::detail::set_closed(impl, false);
  finished ok;
  e.async_start(ok.handler());
  run_all(io);
  BOOST_TEST(!ok.error);
  BOOST_TEST(calls->load() == 1);

  // A closed executor refuses before every other check (here: the cooldown).
  jobs::detail::set_closed(state, true);
  finished closed;
  e.async_start(closed.handler());
  run_all(io);
  BOOST_TEST(has_errc(closed.error, jobs::errc::shutting_down), what_of(closed.error));
  jobs::detail::set_closed(state, false);
  finished cooling;
  e.async_start(cooling.handler());
  run_all(io);
  BOOST_TEST(has_errc(cooling.error, jobs::errc::cooldown), what_of(cooling.error));
}

BOOST_AUTO_TEST_CASE(a_start_in_progress_ends_without_further_retries) {
  asio::io_context io;
  jobs::registry reg(io);
  auto g = std::make_shared<jobs_test::gate>(io.get_executor());
  auto calls = std::make_shared<std::atomic<int>>(0);
  jobs::job j(io, "retrying", [g, calls](jobs::context&) -> asio::awaitable<void> {
    ++*calls;
    co_await g->wait();
    throw test_error("attempt failed");
  });
  int retries_announced = 0;
  jobs::executor exec(j, jobs::with_retry(5, 1ms),
                      jobs::on_retry([&](unsigned, std::exception_ptr, auto) { ++retries_announced; }));
  reg.add(exec);
  finished start;
  exec.async_start(start.handler());
  run_until(io, [&] { return g->waiting() == 1; });

  drained d;
  reg.async_drain(cap, d.handler());
  g->open();  // attempt 1 fails; attempt 2 is refused by the closed job; no attempt 3
  run_until(io, [&] { return d.done(); });
  BOOST_TEST(start.done());
  BOOST_TEST(has_errc(start.error, jobs::errc::shutting_down), what_of(start.error));
  BOOST_TEST(calls->load() == 1);
  BOOST_TEST(retries_announced == 1);
  BOOST_TEST(d.report.ended == 1u);
  BOOST_TEST(d.report.canceled == 0u);
  const auto s = exec.stats();
  BOOST_TEST(s.failures == 1u);
  BOOST_TEST(!s.in_progress);
  BOOST_TEST(d.report.duration < cap / 2);
}

BOOST_AUTO_TEST_CASE(a_start_in_a_short_retry_delay_ends_on_its_own) {
  asio::io_context io;
  jobs::registry reg(io);
  auto calls = std::make_shared<std::atomic<int>>(0);
  jobs::job j(io, "short-delay", failing(calls));
  jobs::executor exec(j, jobs::with_retry(3, 30ms));
  reg.add(exec);
  finished start;
  exec.async_start(start.handler());
  run_until(io, [&] { return calls->load() == 1; });  // now in its retry delay: the job is idle

  drained d;
  reg.async_drain(cap, d.handler());
  run_until(io, [&] { return d.done(); });
  BOOST_TEST(has_errc(start.error, jobs::errc::shutting_down), what_of(start.error));
  BOOST_TEST(calls->load() == 1);
  BOOST_TEST(d.report.ended == 1u);
  BOOST_TEST(d.report.canceled == 0u);
  BOOST_TEST(d.report.duration < cap / 2);
}

BOOST_AUTO_TEST_CASE(a_start_in_a_long_retry_delay_is_stopped_after_the_grace) {
  asio::io_context io;
  jobs::registry reg(io);
  auto calls = std::make_shared<std::atomic<int>>(0);
  jobs::job j(io, "long-delay", failing(calls));
  jobs::executor exec(j, jobs::with_retry(3, 1h));
  reg.add(exec);
  finished start;
  exec.async_start(start.handler());
  run_until(io, [&] { return calls->load() == 1; });

  // The drain polls the executor (its start ends with no event to wait for): without spinning.
  drained d;
  const auto wall0 = steady_clock::now();
  const auto cpu0 = thread_cpu();
  reg.async_drain(300ms, d.handler());
  run_until(io, [&] { return d.done(); });
  const auto cpu = thread_cpu() - cpu0;
  const auto wall = steady_clock::now() - wall0;
  BOOST_TEST(wall >= 300ms);
  BOOST_TEST(cpu < wall / 2, "the drain spun: " << cpu.count() << " ns of CPU in " << wall.count() << " ns");
  BOOST_TEST(!d.ec);
  BOOST_TEST(d.report.ended == 0u);
  BOOST_TEST(d.report.canceled == 1u);
  BOOST_TEST(d.report.still_running.empty());
  run_until(io, [&] { return start.done(); });
  BOOST_TEST(has_errc(start.error, jobs::errc::canceled), what_of(start.error));
  BOOST_TEST(calls->load() == 1);
}

BOOST_AUTO_TEST_CASE(reopen_during_a_drain_is_a_logic_error) {
  asio::io_context io;
  jobs::registry reg(io);
  auto g = std::make_shared<jobs_test::gate>(io.get_executor());
  jobs::job j(io, "j", gated(g));
  reg.add(j);
  BOOST_TEST_REQUIRE(j.run());
  run_until(io, [&] { return g->waiting() == 1; });
  drained d;
  reg.async_drain(cap, d.handler());
  try {
    reg.reopen();
    BOOST_FAIL("no exception");
  } catch (const std::logic_error& e) {
    BOOST_TEST(std::string(e.what()).find("a drain is in progress") != std::string::npos, e.what());
  }
  BOOST_TEST(reg.is_closed());
  g->open();
  run_until(io, [&] { return d.done(); });
  reg.reopen();
  BOOST_TEST(!reg.is_closed());
  BOOST_TEST(j.run());
  run_all(io);
}

BOOST_AUTO_TEST_SUITE_END()
