// jobs::scheduler (issue 12) on the test clock: overlap policies (skip, buffer_one,
// cancel_previous), catch-up of missed ticks once and catch_up(false), wall-clock jumps forward
// and back, priority order under with_max_concurrent, exclusive schedules, and a persistent
// executor's cooldown and once across ticks.
#include "sched_helpers.hpp"

using namespace sched_test;

namespace {

struct world {
  asio::io_context io;
  jobs::registry reg{io};
  std::shared_ptr<jobs::test_clock> clock = std::make_shared<jobs::test_clock>(io.get_executor());
  std::shared_ptr<recorder> r = std::make_shared<recorder>();
  std::shared_ptr<jobs_test::gate> gate() { return std::make_shared<jobs_test::gate>(io.get_executor()); }
};

constexpr const char* every_minute = "CRON_TZ=UTC 0 * * * * *";

}  // namespace

BOOST_AUTO_TEST_SUITE(scheduler_policies)

BOOST_AUTO_TEST_CASE(skip_counts_ticks_while_the_previous_start_runs) {
  world w;
  jobs::scheduler sched(w.reg, jobs::with_clock(w.clock));
  auto g = w.gate();
  sched.add(exec_of(w.io, "s", w.r, g), every_minute);  // skip is the default
  BOOST_TEST((sched.stats("s").overlap == jobs::overlap::skip));
  w.clock->advance(1min);
  run_until(w.io, [&] { return g->waiting() == 1; });
  w.clock->advance(1min);
  settle(w.io);
  w.clock->advance(1min);
  settle(w.io);
  BOOST_TEST(sched.stats("s").ticks_skipped == 2u);
  BOOST_TEST(w.r->count("s") == 1);
  g->open();
  run_until(w.io, [&] { return !sched.stats("s").running; });
  settle(w.io);
  BOOST_TEST(w.r->count("s") == 1);  // nothing buffered
  BOOST_TEST(sched.stats("s").ticks_run == 1u);
}

BOOST_AUTO_TEST_CASE(buffer_one_runs_one_more_start_right_after) {
  world w;
  jobs::scheduler sched(w.reg, jobs::with_clock(w.clock));
  auto g = w.gate();
  sched.add(exec_of(w.io, "b", w.r, g), every_minute, jobs::with_overlap(jobs::overlap::buffer_one));
  w.clock->advance(1min);
  run_until(w.io, [&] { return g->waiting() == 1; });
  w.clock->advance(1min);  // buffered
  settle(w.io);
  w.clock->advance(1min);  // skipped: one is buffered already
  settle(w.io);
  BOOST_TEST(sched.stats("b").ticks_skipped == 1u);
  BOOST_TEST(w.r->count("b") == 1);
  g->open();  // the first ends; the buffered one starts at once (and passes the open gate)
  run_until(w.io, [&] { return w.r->count("b") == 2 && !sched.stats("b").running; });
  settle(w.io);
  BOOST_TEST(w.r->count("b") == 2);
  BOOST_TEST(sched.stats("b").ticks_run == 2u);
  BOOST_TEST(sched.stats("b").last_outcome == "succeeded");
}

BOOST_AUTO_TEST_CASE(cancel_previous_stops_the_running_start_then_starts_again) {
  world w;
  jobs::scheduler sched(w.reg, jobs::with_clock(w.clock));
  auto g = w.gate();
  auto e = exec_of(w.io, "c", w.r, g);
  sched.add(e, every_minute, jobs::with_overlap(jobs::overlap::cancel_previous));
  w.clock->advance(1min);
  run_until(w.io, [&] { return g->waiting() == 1; });
  w.clock->advance(1min);
  // The first start is stopped (its body's wait is cancelled), then the second begins.
  run_until(w.io, [&] { return w.r->count("c") == 2 && g->waiting() == 1; });
  BOOST_TEST(e.stats().canceled == 1u);
  BOOST_TEST(sched.stats("c").last_outcome == "canceled");
  BOOST_TEST(sched.stats("c").ticks_run == 2u);
  g->open();
  run_until(w.io, [&] { return !sched.stats("c").running; });
  BOOST_TEST(sched.stats("c").last_outcome == "succeeded");
}

BOOST_AUTO_TEST_CASE(missed_ticks_run_once_on_catch_up) {
  world w;
  jobs::scheduler sched(w.reg, jobs::with_clock(w.clock));
  sched.add(exec_of(w.io, "m", w.r), every_minute);
  sched.add(exec_of(w.io, "daily", w.r), "CRON_TZ=UTC @daily");
  w.clock->advance(10min + 30s);  // suspended or busy: ten minutely ticks missed
  run_until(w.io, [&] { return w.r->count("m") == 1; });
  settle(w.io);
  BOOST_TEST(w.r->count("m") == 1);  // once, not ten times
  auto s = sched.stats("m");
  BOOST_TEST(s.ticks_caught_up == 1u);
  BOOST_TEST(s.ticks_missed == 1u);
  BOOST_TEST(s.ticks_run == 1u);
  BOOST_TEST((s.next_due == t0 + 11min));  // planned from now
  BOOST_TEST(w.r->count("daily") == 0);

  // A daily tick seen 2 h late (beyond the misfire grace) is a catch-up too.
  w.clock->advance(std::chrono::hours(26));
  run_until(w.io, [&] { return w.r->count("daily") == 1; });
  BOOST_TEST(sched.stats("daily").ticks_caught_up == 1u);
  // A tick seen within the grace is on time.
  w.clock->set(t0 + std::chrono::hours(48) - 1min);  // (a jump: re-plans)
  settle(w.io);
  w.clock->advance(1min + 500ms);
  run_until(w.io, [&] { return w.r->count("daily") == 2; });
  BOOST_TEST(sched.stats("daily").ticks_caught_up == 1u);
}

BOOST_AUTO_TEST_CASE(catch_up_false_skips_missed_ticks) {
  world w;
  jobs::scheduler sched(w.reg, jobs::with_clock(w.clock));
  sched.add(exec_of(w.io, "n", w.r), every_minute, jobs::catch_up(false));
  w.clock->advance(10min + 30s);
  settle(w.io);
  BOOST_TEST(w.r->count("n") == 0);
  auto s = sched.stats("n");
  BOOST_TEST(s.ticks_skipped == 1u);
  BOOST_TEST(s.ticks_missed == 1u);
  BOOST_TEST(s.ticks_caught_up == 0u);
  BOOST_TEST((s.next_due == t0 + 11min));
  w.clock->advance(30s);  // on time again
  run_until(w.io, [&] { return w.r->count("n") == 1; });
}

BOOST_AUTO_TEST_CASE(a_wall_clock_jump_re_plans_every_schedule) {
  world w;
  jobs::scheduler sched(w.reg, jobs::with_clock(w.clock));
  sched.add(exec_of(w.io, "minutely", w.r), every_minute);
  sched.add(exec_of(w.io, "daily", w.r), "CRON_TZ=UTC @daily");
  sched.add(exec_of(w.io, "every", w.r), "@every 1h");

  // Forward three days: nothing jumped over runs; every schedule is planned from the new time.
  w.clock->jump(std::chrono::hours(72) + 30s);
  settle(w.io);
  BOOST_TEST(w.r->order.empty());
  BOOST_TEST((sched.next("minutely") == t0 + std::chrono::hours(72) + 1min));
  BOOST_TEST((sched.next("daily") == t0 + std::chrono::hours(96)));
  BOOST_TEST((sched.next("every") == t0 + std::chrono::hours(73) + 30s));
  BOOST_TEST(sched.stats("minutely").ticks_missed == 0u);

  // A tick runs, then the clock goes back 40 s: it is not run again.
  w.clock->advance(30s);
  run_until(w.io, [&] { return w.r->count("minutely") == 1; });
  w.clock->jump(-40s);
  settle(w.io);
  BOOST_TEST((sched.next("minutely") == t0 + std::chrono::hours(72) + 2min));
  w.clock->advance(40s + 1min);
  run_until(w.io, [&] { return w.r->count("minutely") == 2; });

  // Back by a day (a clock that was wrong): the schedules follow the new time.
  w.clock->jump(-std::chrono::hours(24));
  settle(w.io);
  const auto now = w.clock->now();
  BOOST_TEST((sched.next("daily") == t0 + std::chrono::hours(72)));
  BOOST_TEST((*sched.next("minutely") - now <= 1min));
}

BOOST_AUTO_TEST_CASE(under_the_cap_due_starts_wait_by_priority_then_due_time) {
  world w;
  jobs::scheduler sched(w.reg, jobs::with_clock(w.clock), jobs::with_max_concurrent(1));
  auto g = w.gate();
  sched.add(exec_of(w.io, "blocker", w.r, g), "CRON_TZ=UTC 0 1 0 * * *");  // 00:01
  sched.add(exec_of(w.io, "early-low", w.r), "CRON_TZ=UTC 0 2 0 * * *");   // 00:02, prio 0
  sched.add(exec_of(w.io, "late-low", w.r), "CRON_TZ=UTC 0 3 0 * * *");    // 00:03, prio 0
  sched.add(exec_of(w.io, "late-high", w.r), "CRON_TZ=UTC 0 3 0 * * *", jobs::with_priority(9));
  sched.add(exec_of(w.io, "late-mid", w.r), "CRON_TZ=UTC 0 3 0 * * *", jobs::with_priority(5));
  w.clock->advance(1min);
  run_until(w.io, [&] { return g->waiting() == 1; });
  w.clock->advance(1min);
  settle(w.io);
  w.clock->advance(1min);
  settle(w.io);
  BOOST_TEST(sched.running() == 1u);
  BOOST_TEST(sched.stats("late-high").queued);
  BOOST_TEST(w.r->order.size() == 1u);
  g->open();
  run_until(w.io, [&] { return w.r->order.size() == 5 && sched.running() == 0; });
  const std::vector<std::string> expected{"blocker", "late-high", "late-mid", "early-low", "late-low"};
  BOOST_TEST(w.r->order == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(an_exclusive_schedule_runs_alone) {
  world w;
  jobs::scheduler sched(w.reg, jobs::with_clock(w.clock));
  auto ga = w.gate(), gx = w.gate();
  sched.add(exec_of(w.io, "a", w.r, ga), "CRON_TZ=UTC 0 1 0 * * *");
  sched.add(exec_of(w.io, "b", w.r, ga), "CRON_TZ=UTC 0 1 0 * * *");
  sched.add(exec_of(w.io, "x", w.r, gx), "CRON_TZ=UTC 0 2 0 * * *", jobs::exclusive());
  sched.add(exec_of(w.io, "c", w.r), "CRON_TZ=UTC 0 3 0 * * *", jobs::with_priority(100));
  w.clock->advance(1min);
  run_until(w.io, [&] { return ga->waiting() == 2; });
  w.clock->advance(1min);  // x waits for a and b
  settle(w.io);
  BOOST_TEST(sched.stats("x").queued);
  w.clock->advance(1min);  // c is held back while x waits, whatever its priority
  settle(w.io);
  BOOST_TEST(w.r->count("x") == 0);
  BOOST_TEST(w.r->count("c") == 0);
  ga->open();
  run_until(w.io, [&] { return gx->waiting() == 1; });
  BOOST_TEST(sched.running() == 1u);  // x alone
  BOOST_TEST(w.r->count("c") == 0);   // and c still held back while x runs
  gx->open();
  run_until(w.io, [&] { return w.r->count("c") == 1 && sched.running() == 0; });
  const std::vector<std::string> expected{"a", "b", "x", "c"};
  BOOST_TEST(w.r->order == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(cooldown_and_once_hold_across_ticks) {
  world w;
  jobs::scheduler sched(w.reg, jobs::with_clock(w.clock));
  // The executor's cooldown is real (steady) time: an hour outlasts the test.
  sched.add(exec_of(w.io, "cool", w.r, nullptr, jobs::with_cooldown(std::chrono::hours(1))), every_minute);
  sched.add(exec_of(w.io, "once", w.r, nullptr, jobs::once()), every_minute);
  w.clock->advance(1min);
  run_until(w.io, [&] { return w.r->order.size() == 2 && sched.running() == 0; });
  w.clock->advance(1min);
  run_until(w.io, [&] {
    return sched.stats("cool").last_outcome == "refused" && sched.stats("once").last_outcome == "refused";
  });
  settle(w.io);
  BOOST_TEST(w.r->order.size() == 2u);
  for (const char* id : {"cool", "once"}) {
    const auto s = sched.stats(id);
    BOOST_TEST(s.ticks_run == 1u);
    BOOST_TEST(s.ticks_skipped == 1u);
  }
  BOOST_TEST(sched.stats("cool").last_error.find("cooldown") != std::string::npos);
  BOOST_TEST(sched.stats("once").last_error.find("only start once") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(scheduler_trigger)

BOOST_AUTO_TEST_CASE(trigger_goes_through_the_overlap_policy_and_the_cap) {
  world w;
  jobs::scheduler sched(w.reg, jobs::with_clock(w.clock), jobs::with_max_concurrent(1));
  auto g = w.gate();
  sched.add(exec_of(w.io, "skip", w.r, g), "@daily");
  sched.add(exec_of(w.io, "buffered", w.r, g), "@daily", jobs::with_overlap(jobs::overlap::buffer_one));
  const auto due = sched.next("skip");
  sched.trigger("skip");
  run_until(w.io, [&] { return g->waiting() == 1; });
  sched.trigger("skip");  // running: skipped
  BOOST_TEST(sched.stats("skip").ticks_skipped == 1u);
  sched.trigger("buffered");  // waits for the slot
  BOOST_TEST(sched.stats("buffered").queued);
  sched.trigger("buffered");  // covered by the queued start
  BOOST_TEST(sched.stats("buffered").ticks_skipped == 1u);
  g->open();
  run_until(w.io, [&] { return w.r->count("buffered") == 1 && sched.running() == 0; });
  settle(w.io);
  BOOST_TEST(w.r->count("skip") == 1);
  BOOST_TEST(w.r->count("buffered") == 1);
  BOOST_TEST((sched.next("skip") == due));  // a trigger does not move the due time
}

BOOST_AUTO_TEST_SUITE_END()
