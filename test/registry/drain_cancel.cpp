// jobs::registry::async_drain, cancellation and completion (issue 11): per-operation
// cancellation cuts the drain short for every caller, total is ignored; awaited in a coroutine
// and raced with a timer; the handler runs on its associated executor, never inside the call;
// nothing (work count, thread) is left behind.
#include "registry_helpers.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <filesystem>
#include <thread>

using namespace reg_test;

namespace {

std::size_t threads_in_process() {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& t : std::filesystem::directory_iterator("/proc/self/task")) ++n;
  return n;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(registry_drain_cancel)

BOOST_AUTO_TEST_CASE(cancelling_the_drain_cancels_everything_at_once) {
  for (const auto type : {asio::cancellation_type::terminal, asio::cancellation_type::partial}) {
    BOOST_TEST_CONTEXT("cancellation type " << static_cast<int>(type)) {
      asio::io_context io;
      jobs::registry reg(io);
      auto release = std::make_shared<std::atomic<bool>>(false);
      auto entered = std::make_shared<std::atomic<int>>(0);
      jobs::job a(io, "a", until_canceled());
      jobs::job b(io, "b", until_canceled());
      jobs::job s(io, "s", stubborn(release, entered));
      reg.add(a);
      reg.add(b);
      reg.add(s);
      for (auto* j : {&a, &b, &s}) BOOST_TEST_REQUIRE(j->run());
      run_until(io, [&] { return entered->load() == 1; });

      asio::cancellation_signal sig;
      drained d, other;
      reg.async_drain(1h, asio::bind_cancellation_slot(sig.slot(), d.handler()));
      reg.async_drain(1h, other.handler());  // waits for the same drain
      io.poll();                             // the drain begins
      sig.emit(type);
      run_until(io, [&] { return d.done() && other.done(); });
      BOOST_TEST(d.ec == asio::error::operation_aborted);
      BOOST_TEST(other.ec == asio::error::operation_aborted);
      BOOST_TEST(d.report == other.report);
      BOOST_TEST(d.report.canceled == 3u);
      BOOST_TEST(d.report.ended == 0u);
      // Completed without waiting: what had not ended when the cancellation arrived is listed.
      const auto& still = d.report.still_running;
      BOOST_TEST((std::find(still.begin(), still.end(), "s") != still.end()));
      BOOST_TEST(d.report.duration < cap);
      run_until(io, [&] { return a.is_done() && b.is_done(); });
      BOOST_TEST(a.is_state(jobs::state::canceled));
      BOOST_TEST(b.is_state(jobs::state::canceled));
      BOOST_TEST(s.is_state(jobs::state::canceling));
      release->store(true);
      run_all(io);
      BOOST_TEST(d.calls == 1);
      BOOST_TEST(other.calls == 1);
    }
  }
}

BOOST_AUTO_TEST_CASE(total_cancellation_is_ignored) {
  asio::io_context io;
  jobs::registry reg(io);
  auto g = std::make_shared<jobs_test::gate>(io.get_executor());
  jobs::job j(io, "j", gated(g));
  reg.add(j);
  BOOST_TEST_REQUIRE(j.run());
  run_until(io, [&] { return g->waiting() == 1; });
  asio::cancellation_signal sig;
  drained d;
  reg.async_drain(cap, asio::bind_cancellation_slot(sig.slot(), d.handler()));
  io.poll();
  sig.emit(asio::cancellation_type::total);
  io.poll();
  BOOST_TEST(!d.done());
  BOOST_TEST(j.is_state(jobs::state::running));
  g->open();
  run_until(io, [&] { return d.done(); });
  BOOST_TEST(!d.ec);
  BOOST_TEST(d.report.ended == 1u);
}

BOOST_AUTO_TEST_CASE(awaited_in_a_coroutine_and_raced_with_a_timer) {
  using namespace asio::experimental::awaitable_operators;
  asio::io_context io;
  jobs::registry reg(io);
  auto g = std::make_shared<jobs_test::gate>(io.get_executor());
  jobs::job quick_one(io, "quick", gated(g));
  jobs::job slow_one(io, "slow", until_canceled());
  reg.add(quick_one);
  reg.add(slow_one);
  BOOST_TEST_REQUIRE(quick_one.run());
  BOOST_TEST_REQUIRE(slow_one.run());
  std::optional<jobs::drain_report> report;
  bool timer_won = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        // The default token (deferred), awaited: the first drain ends on the events.
        g->open();
        jobs::registry other(io);
        report = co_await other.async_drain(1h);  // nothing in it
        // The timer wins: the drain is cancelled (terminal), cancelling everything at once.
        asio::steady_timer t(io, 50ms);
        auto r = co_await (reg.async_drain(1h, asio::use_awaitable) || t.async_wait(asio::use_awaitable));
        timer_won = r.index() == 1;
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  run_all(io);
  BOOST_TEST(report.has_value());
  BOOST_TEST(timer_won);
  BOOST_TEST(quick_one.is_state(jobs::state::succeeded));
  BOOST_TEST(slow_one.is_state(jobs::state::canceled));
}

BOOST_AUTO_TEST_CASE(the_handler_runs_on_its_associated_executor_never_inside_the_call) {
  asio::io_context io;
  jobs::registry reg(io);
  auto strand = asio::make_strand(io);
  bool inside_call = true;
  bool on_strand = false;
  int calls = 0;
  asio::post(io, [&] {
    reg.async_drain(1h, asio::bind_executor(strand, [&](error_code, jobs::drain_report) {
                      ++calls;
                      on_strand = strand.running_in_this_thread();
                    }));
    BOOST_TEST(calls == 0);  // not inside the call, even from the executor's own thread
    inside_call = false;
  });
  run_all(io);
  BOOST_TEST(!inside_call);
  BOOST_TEST(calls == 1);
  BOOST_TEST(on_strand);

  // A registry on a thread pool; a handler bound to an io_context of its own.
  asio::thread_pool pool(2);
  jobs::registry pooled(pool);
  asio::io_context mine;
  std::thread::id ran_on;
  pooled.async_drain(1h, asio::bind_executor(mine, [&](error_code, jobs::drain_report) {
                       ran_on = std::this_thread::get_id();
                     }));
  run_all(mine);  // its work count kept `mine` running until the drain completed
  BOOST_TEST((ran_on == std::this_thread::get_id()));
  pool.join();
}

BOOST_AUTO_TEST_CASE(no_work_or_thread_is_left_behind) {
  const std::size_t threads_before = threads_in_process();
  // The jobs on an io_context run by a thread of their own; the registry on another.
  asio::io_context jobs_io, reg_io;
  auto guard = asio::make_work_guard(jobs_io);
  std::thread runner([&] { jobs_io.run(); });
  auto release = std::make_shared<std::atomic<bool>>(false);
  auto entered = std::make_shared<std::atomic<int>>(0);
  jobs::job s(jobs_io, "s", stubborn(release, entered));
  jobs::registry reg(reg_io);
  reg.add(s);
  BOOST_TEST_REQUIRE(s.run());
  BOOST_TEST_REQUIRE(jobs_test::spin_until([&] { return entered->load() == 1; }));
  drained d;
  reg.async_drain(20ms, d.handler());
  // reg_io runs out of work once the drain has completed, although s still runs: the drain's
  // waits on it were released.
  run_all(reg_io);
  BOOST_TEST(d.calls == 1);
  BOOST_TEST(d.report.still_running == std::vector<std::string>{"s"}, boost::test_tools::per_element());
  BOOST_TEST(s.is_executing());
  release->store(true);
  guard.reset();
  runner.join();
  BOOST_TEST(s.is_state(jobs::state::canceled));
  // No thread was started for any of it (asio::system_executor unused).
  BOOST_TEST(threads_in_process() == threads_before);
}

BOOST_AUTO_TEST_SUITE_END()
