// jobs::scheduler (issue 12): add/remove/pause/resume/trigger/next, the registry entry and its
// "schedule" stats, one persistent executor per schedule, errors that name the problem, one
// wake-up armed at the earliest due time, the system clock, and the drain.
#include "sched_helpers.hpp"

using namespace sched_test;

BOOST_AUTO_TEST_SUITE(scheduler_api)

BOOST_AUTO_TEST_CASE(add_registers_the_executor_and_runs_it_on_each_tick) {
  asio::io_context io;
  jobs::registry reg(io);
  auto clock = std::make_shared<jobs::test_clock>(io.get_executor());
  jobs::scheduler sched(reg, jobs::with_clock(clock));
  auto r = std::make_shared<recorder>();
  auto e = exec_of(io, "minutely", r);
  sched.add(e, "CRON_TZ=UTC 0 * * * * *");
  BOOST_TEST_REQUIRE(reg.find("minutely").has_value());
  BOOST_TEST((*reg.find("minutely")->executor == e));
  BOOST_TEST((sched.next("minutely") == t0 + 1min));
  BOOST_TEST((clock->armed() == t0 + 1min));

  clock->advance(1min);
  run_until(io, [&] { return sched.stats("minutely").ticks_run == 1 && !sched.stats("minutely").running; });
  BOOST_TEST(r->count("minutely") == 1);
  BOOST_TEST((sched.next("minutely") == t0 + 2min));
  clock->advance(1min);
  run_until(io, [&] { return r->count("minutely") == 2; });
  settle(io);
  const auto s = sched.stats("minutely");
  BOOST_TEST(s.ticks_run == 2u);
  BOOST_TEST(s.last_outcome == "succeeded");
  BOOST_TEST((s.last_start == t0 + 2min));
  BOOST_TEST(s.ticks_skipped == 0u);
  BOOST_TEST(s.ticks_caught_up == 0u);
  // One persistent executor: its own counts span the ticks.
  BOOST_TEST(e.stats().starts == 2u);
}

BOOST_AUTO_TEST_CASE(an_executor_already_in_the_registry_is_not_added_again_and_stays_on_remove) {
  asio::io_context io;
  jobs::registry reg(io);
  auto clock = std::make_shared<jobs::test_clock>(io.get_executor());
  jobs::scheduler sched(reg, jobs::with_clock(clock));
  auto r = std::make_shared<recorder>();
  auto mine = exec_of(io, "mine", r);
  reg.add(mine);
  sched.add(mine, "@hourly");
  BOOST_TEST(reg.size() == 1u);
  sched.remove("mine");
  BOOST_TEST(!sched.contains("mine"));
  BOOST_TEST(reg.find("mine").has_value());  // the scheduler did not put it there

  auto theirs = exec_of(io, "theirs", r);
  sched.add(theirs, "@hourly");
  BOOST_TEST(reg.find("theirs").has_value());
  sched.remove("theirs");
  BOOST_TEST(!reg.find("theirs").has_value());  // it did
  BOOST_TEST(!clock->armed().has_value());      // nothing scheduled, nothing armed
}

BOOST_AUTO_TEST_CASE(errors_name_the_problem_and_change_nothing) {
  asio::io_context io;
  jobs::registry reg(io);
  auto clock = std::make_shared<jobs::test_clock>(io.get_executor());
  jobs::scheduler sched(reg, jobs::with_clock(clock));
  auto r = std::make_shared<recorder>();
  auto e = exec_of(io, "a", r);

  // Bad spec: std::invalid_argument naming the field and position; nothing added.
  try {
    sched.add(e, "0 25 * * *");
    BOOST_FAIL("a bad spec was accepted");
  } catch (const std::invalid_argument& x) {
    BOOST_TEST(std::string(x.what()).find("field 2 (hour)") != std::string::npos, x.what());
    BOOST_TEST(std::string(x.what()).find("at byte 2") != std::string::npos, x.what());
  }
  BOOST_TEST(sched.size() == 0u);
  BOOST_TEST(reg.size() == 0u);

  // Unknown ids: std::out_of_range naming the id.
  for (auto op :
       {+[](jobs::scheduler& s) { s.remove("nope"); }, +[](jobs::scheduler& s) { s.pause("nope"); },
        +[](jobs::scheduler& s) { s.resume("nope"); }, +[](jobs::scheduler& s) { s.trigger("nope"); },
        +[](jobs::scheduler& s) { (void)s.next("nope"); },
        +[](jobs::scheduler& s) { (void)s.stats("nope"); }}) {
    try {
      op(sched);
      BOOST_FAIL("an unknown id was accepted");
    } catch (const std::out_of_range& x) {
      BOOST_TEST(std::string(x.what()).find("\"nope\"") != std::string::npos, x.what());
    }
  }

  // Duplicates: jobs::error with errc::duplicate_id naming the id.
  sched.add(e, "@daily");
  try {
    sched.add(e, "@hourly");
    BOOST_FAIL("a duplicate schedule was accepted");
  } catch (const jobs::error& x) {
    BOOST_TEST((x.code() == jobs::errc::duplicate_id));
    BOOST_TEST(std::string(x.what()).find("\"a\"") != std::string::npos, x.what());
  }
  BOOST_TEST(sched.stats("a").spec == "@daily");
  reg.add(jobs::job(io, "plain", recording(r)));  // a job without this executor under the id
  try {
    sched.add(exec_of(io, "plain", r), "@daily");
    BOOST_FAIL("a job id held by another registry entry was accepted");
  } catch (const jobs::error& x) {
    BOOST_TEST((x.code() == jobs::errc::duplicate_id));
  }
  BOOST_TEST(!sched.contains("plain"));

  // Bad options.
  BOOST_CHECK_THROW(jobs::scheduler(reg, jobs::with_clock(nullptr)), std::invalid_argument);
  BOOST_CHECK_THROW(jobs::scheduler(reg, jobs::with_misfire_grace(-1s)), std::invalid_argument);
  BOOST_CHECK_THROW(clock->advance(-1s), std::invalid_argument);
  jobs::executor moved = exec_of(io, "moved", r);
  jobs::executor taken = std::move(moved);
  BOOST_CHECK_THROW(sched.add(moved, "@daily"), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(pause_resume_trigger_and_next) {
  asio::io_context io;
  jobs::registry reg(io);
  auto clock = std::make_shared<jobs::test_clock>(io.get_executor());
  jobs::scheduler sched(reg, jobs::with_clock(clock));
  auto r = std::make_shared<recorder>();
  sched.add(exec_of(io, "p", r), "CRON_TZ=UTC 0 * * * * *");
  sched.pause("p");
  BOOST_TEST(!sched.next("p").has_value());
  BOOST_TEST(sched.stats("p").paused);
  BOOST_TEST(!clock->armed().has_value());
  clock->advance(10min);
  settle(io);
  BOOST_TEST(r->count("p") == 0);

  sched.trigger("p");  // runs now, also while paused
  run_until(io, [&] { return r->count("p") == 1; });
  settle(io);
  BOOST_TEST(sched.stats("p").ticks_run == 1u);
  BOOST_TEST(!sched.next("p").has_value());

  clock->advance(30s);  // 00:10:30
  sched.resume("p");    // from now: no catch-up of the paused ticks
  BOOST_TEST((sched.next("p") == t0 + 11min));
  settle(io);
  BOOST_TEST(r->count("p") == 1);
  BOOST_TEST(sched.stats("p").ticks_caught_up == 0u);
  clock->advance(30s);
  run_until(io, [&] { return r->count("p") == 2; });

  // start_paused(): added without a due time.
  sched.add(exec_of(io, "q", r), "@hourly", jobs::start_paused());
  BOOST_TEST(!sched.next("q").has_value());
}

BOOST_AUTO_TEST_CASE(stats_appear_in_the_registry_json_under_schedule) {
  asio::io_context io;
  jobs::registry reg(io);
  auto clock = std::make_shared<jobs::test_clock>(io.get_executor());
  jobs::scheduler sched(reg, jobs::with_clock(clock));
  auto r = std::make_shared<recorder>();
  sched.add(exec_of(io, "s", r), "CRON_TZ=UTC 0 * * * * *", jobs::with_priority(3));
  reg.add(jobs::job(io, "unscheduled", recording(r)));

  auto o = schedule_json(reg, "s");
  BOOST_TEST(o.at("spec").as_string() == "CRON_TZ=UTC 0 * * * * *");
  BOOST_TEST(o.at("next_due").as_string() == "2026-01-01T00:01:00.000000000Z");
  BOOST_TEST(o.at("paused").as_bool() == false);
  BOOST_TEST(o.at("last_start").is_null());
  BOOST_TEST(o.at("last_outcome").is_null());
  BOOST_TEST(o.at("ticks_run").to_number<int>() == 0);
  BOOST_TEST(o.at("ticks_skipped").to_number<int>() == 0);
  BOOST_TEST(o.at("ticks_caught_up").to_number<int>() == 0);
  BOOST_TEST(o.at("priority").to_number<int>() == 3);

  clock->advance(1min);
  run_until(io, [&] { return sched.stats("s").last_outcome == "succeeded"; });
  o = schedule_json(reg, "s");
  BOOST_TEST(o.at("last_start").as_string() == "2026-01-01T00:01:00.000000000Z");
  BOOST_TEST(o.at("last_outcome").as_string() == "succeeded");
  BOOST_TEST(o.at("ticks_run").to_number<int>() == 1);
  BOOST_TEST(o.at("next_due").as_string() == "2026-01-01T00:02:00.000000000Z");
  sched.pause("s");
  BOOST_TEST(schedule_json(reg, "s").at("next_due").is_null());
  BOOST_TEST(schedule_json(reg, "s").at("paused").as_bool());

  for (const auto& v : reg.stats())
    if (v.as_object().at("id").as_string() == "unscheduled") BOOST_TEST(!v.as_object().contains("schedule"));
}

BOOST_AUTO_TEST_CASE(one_wake_up_is_armed_at_the_earliest_due_time) {
  asio::io_context io;
  jobs::registry reg(io);
  auto clock = std::make_shared<jobs::test_clock>(io.get_executor());
  jobs::scheduler sched(reg, jobs::with_clock(clock));
  auto r = std::make_shared<recorder>();
  for (int i = 1000; i >= 1; --i)
    sched.add(exec_of(io, "e" + std::to_string(i), r), "@every " + std::to_string(i) + "m");
  BOOST_TEST((clock->armed() == t0 + 1min));
  // Re-armed only when the earliest changed (each add was earlier than the last): at most one
  // arm per add, and none for adds that are later.
  const auto arms = clock->arms();
  sched.add(exec_of(io, "late", r), "@every 5000m");
  BOOST_TEST(clock->arms() == arms);
  sched.remove("e1");
  BOOST_TEST((clock->armed() == t0 + 2min));
}

BOOST_AUTO_TEST_CASE(the_system_clock_fires_a_real_tick) {
  asio::io_context io;
  jobs::registry reg(io);
  jobs::scheduler sched(reg);  // the real clock: one timerfd
  auto r = std::make_shared<recorder>();
  sched.add(exec_of(io, "real", r), "@every 1s");
  const auto due = sched.next("real");
  BOOST_TEST_REQUIRE(due.has_value());
  run_until(io, [&] { return r->count("real") == 1; });
  BOOST_TEST((std::chrono::system_clock::now() >= *due));
  sched.remove("real");
}

BOOST_AUTO_TEST_CASE(drain_stops_ticking_first_then_the_registry_drains) {
  asio::io_context io;
  jobs::registry reg(io);
  auto clock = std::make_shared<jobs::test_clock>(io.get_executor());
  jobs::scheduler sched(reg, jobs::with_clock(clock), jobs::with_max_concurrent(1));
  auto r = std::make_shared<recorder>();
  auto g = std::make_shared<jobs_test::gate>(io.get_executor());
  sched.add(exec_of(io, "long", r, g), "CRON_TZ=UTC 0 * * * * *");
  sched.add(exec_of(io, "queued", r), "CRON_TZ=UTC 0 * * * * *", jobs::with_priority(-1));
  clock->advance(1min);
  run_until(io, [&] { return g->waiting() == 1; });
  BOOST_TEST(sched.stats("queued").queued);

  bool done = false;
  jobs::drain_report report;
  reg.async_drain(std::chrono::hours(1), [&](boost::system::error_code, jobs::drain_report rep) {
    report = rep;
    done = true;
  });
  // Ticking stopped before the drain began: nothing armed, the queued start dropped.
  BOOST_TEST(!clock->armed().has_value());
  BOOST_TEST(!sched.stats("queued").queued);
  BOOST_TEST(sched.stats("queued").ticks_skipped == 1u);
  clock->advance(5min);
  settle(io);
  BOOST_TEST(r->count("queued") == 0);
  BOOST_TEST(!done);  // waits for the running start
  g->open();
  run_until(io, [&] { return done; });
  BOOST_TEST(report.ended == 1u);
  BOOST_TEST(report.canceled == 0u);
  BOOST_TEST(sched.stats("long").last_outcome == "succeeded");

  reg.reopen();  // ticking resumes, planned from now
  BOOST_TEST((sched.next("long") == t0 + 7min));
  clock->advance(1min);
  run_until(io, [&] { return r->count("queued") == 1; });
}

BOOST_AUTO_TEST_CASE(stop_and_start_and_destruction) {
  asio::io_context io;
  jobs::registry reg(io);
  auto clock = std::make_shared<jobs::test_clock>(io.get_executor());
  auto r = std::make_shared<recorder>();
  {
    jobs::scheduler sched(reg, jobs::with_clock(clock));
    sched.add(exec_of(io, "x", r), "@every 1m");
    sched.stop();
    BOOST_TEST(!clock->armed().has_value());
    sched.start();
    BOOST_TEST(clock->armed().has_value());
  }
  // Destroyed: nothing armed is delivered to it, and the registry's stats no longer ask it.
  clock->advance(5min);
  settle(io);
  BOOST_TEST(r->count("x") == 0);
  BOOST_TEST(!reg.stats().at(0).as_object().contains("schedule"));
}

BOOST_AUTO_TEST_SUITE_END()
