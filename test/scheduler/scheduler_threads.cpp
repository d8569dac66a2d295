// jobs::scheduler (issue 12) from many threads, for ThreadSanitizer: eight threads add, remove,
// pause, resume, trigger and read schedules while the test clock fires them on a two-thread
// io_context and registry.stats() reads them. Afterwards every count is consistent.
#include "sched_helpers.hpp"

#include <atomic>
#include <random>
#include <thread>

using namespace sched_test;

BOOST_AUTO_TEST_SUITE(scheduler_threads)

BOOST_AUTO_TEST_CASE(add_remove_pause_trigger_from_eight_threads_while_schedules_fire) {
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  jobs::registry reg(io);
  auto clock = std::make_shared<jobs::test_clock>(io.get_executor());
  jobs::scheduler sched(reg, jobs::with_clock(clock), jobs::with_max_concurrent(4));

  constexpr int ids = 16;
  auto runs = std::make_shared<std::atomic<int>>(0);
  std::vector<jobs::executor> execs;
  for (int i = 0; i < ids; ++i) {
    jobs::job j(io, "s" + std::to_string(i), [runs](jobs::context&) -> asio::awaitable<void> {
      ++*runs;
      co_return;
    });
    execs.emplace_back(j);
  }
  const jobs::overlap policies[] = {jobs::overlap::skip, jobs::overlap::buffer_one,
                                    jobs::overlap::cancel_previous};

  std::vector<std::thread> loop;
  for (int i = 0; i < 2; ++i) loop.emplace_back([&] { io.run(); });
  std::atomic<bool> done{false};
  std::thread ticker([&] {
    while (!done) {
      clock->advance(1s);
      std::this_thread::yield();
    }
  });

  std::atomic<int> ops{0}, refused{0}, unexpected{0};  // (Boost.Test is not thread-safe)
  std::vector<std::thread> users;
  for (int t = 0; t < 8; ++t) {
    users.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t) * 7919u + 1u);
      for (int n = 0; n < 300; ++n) {
        const int i = static_cast<int>(rng() % ids);
        const std::string id = "s" + std::to_string(i);
        try {
          switch (rng() % 8) {
            case 0:
            case 1:
              sched.add(execs[static_cast<std::size_t>(i)], (i % 2) ? "@every 1s" : "@every 3s",
                        jobs::with_overlap(policies[i % 3]), jobs::with_priority(i % 4));
              break;
            case 2: sched.remove(id); break;
            case 3: sched.pause(id); break;
            case 4: sched.resume(id); break;
            case 5: sched.trigger(id); break;
            case 6:
              (void)sched.next(id);
              (void)sched.stats(id);
              break;
            default: (void)reg.stats(); break;
          }
          ++ops;
        } catch (const std::out_of_range&) {
          ++refused;
        } catch (const jobs::error& e) {
          if (e.code() == jobs::errc::duplicate_id)
            ++refused;
          else
            ++unexpected;
        } catch (...) {
          ++unexpected;
        }
      }
    });
  }
  for (auto& u : users) u.join();
  // Let the remaining schedules fire a few more ticks, then stop ticking and let starts end.
  BOOST_TEST_REQUIRE(jobs_test::spin_until([&] { return runs->load() > 0; }));
  done = true;
  ticker.join();
  sched.stop();
  BOOST_TEST_REQUIRE(jobs_test::spin_until([&] { return sched.running() == 0; }));
  work.reset();
  for (auto& l : loop) l.join();

  BOOST_TEST(unexpected == 0);
  BOOST_TEST(ops + refused == 8 * 300);
  BOOST_TEST(sched.running() == 0u);
  // Every schedule is in the registry, with its "schedule" object, and nothing else is.
  BOOST_TEST(reg.size() == sched.size());
  for (const auto& v : reg.stats()) {
    const auto& o = v.as_object();
    BOOST_TEST_REQUIRE(o.contains("schedule"));
    const auto& s = o.at("schedule").as_object();
    BOOST_TEST(s.at("running").as_bool() == false);
    BOOST_TEST(s.at("queued").as_bool() == false);
  }
}

BOOST_AUTO_TEST_SUITE_END()
