// std::bad_alloc injected into the library's own allocations (issue #4, point 4). For each entry
// point: count the allocations one call makes on the calling thread, then make the i-th of them
// throw, for every i. The call must fail cleanly (bad_alloc out of the call, or through the
// handler as a refused start), leave the job and executor exactly as they were, and a later
// call must work. LSan (asan preset) checks that nothing leaks on any of these paths.
#include "../executor/helpers.hpp"
#include "alloc_hook.hpp"

#include <new>
#include <sstream>

using namespace exec_test;

namespace {

// What must not change when a call fails.
struct job_view {
  jobs::state st;
  double progress;
  bool has_result;
  std::exception_ptr error;
  std::chrono::system_clock::time_point started, ended;
  friend bool operator==(const job_view&, const job_view&) = default;
};

job_view view(const jobs::job& j) {
  return {j.state(), j.progress(), j.result().has_value(), j.error(), j.started_at(), j.ended_at()};
}

std::string describe(const job_view& v) {
  std::ostringstream os;
  os << v.st << " progress " << v.progress << " result " << v.has_result << " error " << what_of(v.error);
  return os.str();
}

jobs::body stepping_body() {
  return [](jobs::context& ctx) -> asio::awaitable<void> {
    asio::steady_timer t(ctx.get_executor(), 0ms);
    co_await t.async_wait(asio::use_awaitable);
    ctx.set_progress(0.5);
    ctx.set_result(std::string(64, 'r'));
    co_return;
  };
}

std::any big_params() { return std::any(std::string(256, 'p')); }

// Tallies over one sweep, reported in the log.
struct sweep {
  std::size_t count = 0, threw = 0, via_handler = 0, absorbed = 0, dropped = 0;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(fault_alloc)

BOOST_AUTO_TEST_CASE(the_hook_is_inert_unless_armed) {
  // Counting is per thread and off by default: nothing else in the suite is affected.
  BOOST_TEST(alloc_hook::stop() == 0u);
  alloc_hook::start_counting();
  auto p = std::make_unique<int>(1);
  BOOST_TEST(alloc_hook::stop() == 1u);
  alloc_hook::fail_at(0);
  BOOST_CHECK_THROW((void)std::make_unique<int>(2), std::bad_alloc);
  BOOST_TEST(alloc_hook::fired());
  BOOST_CHECK_NO_THROW((void)std::make_unique<int>(3));  // only the armed one fails
  alloc_hook::stop();
}

namespace {

// run() at every allocation; with `watched`, a watcher is waiting for the job's next change at
// each call (so the run's start has watchers to complete).
void run_sweep(bool watched) {
  asio::io_context io;
  jobs::job j(io, "alloc-run", stepping_body());
  int watches_armed = 0, watches_done = 0;
  auto arm_watch = [&] {
    if (!watched) return;
    ++watches_armed;
    j.async_watch(j.stats().version, [&](boost::system::error_code, jobs::stats) { ++watches_done; });
  };
  // Warm up (lazy statics such as loggers), then count one run().
  BOOST_TEST_REQUIRE(j.run(big_params()));
  run_all(io);
  io.restart();
  std::size_t n;
  arm_watch();
  {
    alloc_hook::scope armed;
    alloc_hook::start_counting();
    const bool ok = j.run(big_params());
    n = alloc_hook::stop();
    BOOST_TEST_REQUIRE(ok);
  }
  run_all(io);
  io.restart();
  BOOST_TEST_REQUIRE(n > 0u);
  sweep s{n};
  for (std::size_t i = 0; i <= n + 1; ++i) {
    BOOST_TEST_CONTEXT("allocation " << i << " of " << n) {
      arm_watch();
      const job_view before = view(j);
      bool threw = false, started = false, fired;
      std::string other;
      {
        alloc_hook::scope armed;
        alloc_hook::fail_at(i);
        try {
          started = j.run(big_params());
        } catch (const std::bad_alloc&) {
          threw = true;
        } catch (const std::exception& e) {
          other = e.what();
        }
        fired = alloc_hook::fired();
        alloc_hook::stop();
      }
      BOOST_TEST(other.empty(), other);  // bad_alloc itself, never something else
      if (i >= n) BOOST_TEST(!fired);
      if (threw) {
        ++s.threw;
        const job_view after = view(j);
        BOOST_TEST((after == before), describe(before) << " became " << describe(after));
        BOOST_TEST(!j.is_executing());
      } else {
        if (fired) ++s.absorbed;
        BOOST_TEST(started);  // a run() that returns must have started the run
      }
      if (threw && watched) {
        io.poll();  // the watcher still waits for a change (it holds work): nothing else to run
      } else {
        run_all(io);
      }
      io.restart();
      BOOST_TEST(j.state() == (started ? jobs::state::succeeded : before.st));
      // A later run works.
      BOOST_TEST(j.run(big_params()));
      run_all(io);
      io.restart();
      BOOST_TEST(j.state() == jobs::state::succeeded);
      BOOST_TEST(j.result<std::string>() == std::string(64, 'r'));
      // No watcher lost, unless the injected failure hit the post of its completion (then it
      // is dropped, its work released: the library documents this).
      if (fired && !threw && watches_done != watches_armed) {
        ++s.dropped;
        watches_done = watches_armed;
      }
      BOOST_TEST(watches_done == watches_armed);
    }
  }
  BOOST_TEST_MESSAGE("run()" << (watched ? " watched" : "") << ": " << s.count << " allocations, " << s.threw
                             << " failed with bad_alloc, " << s.absorbed << " absorbed by the library, "
                             << s.dropped << " watchers dropped");
}

}  // namespace

BOOST_AUTO_TEST_CASE(run_fails_cleanly_at_every_allocation) { run_sweep(false); }

BOOST_AUTO_TEST_CASE(watched_run_fails_cleanly_at_every_allocation) { run_sweep(true); }

BOOST_AUTO_TEST_CASE(async_run_fails_cleanly_at_every_allocation) {
  asio::io_context io;
  jobs::job j(io, "alloc-async-run", stepping_body());
  auto initiate = [&](outcome& o) { j.async_run(big_params(), o.handler()); };
  {
    outcome warm;
    initiate(warm);
    run_all(io);
    io.restart();
  }
  std::size_t n;
  {
    outcome o;
    alloc_hook::scope armed;
    alloc_hook::start_counting();
    initiate(o);
    n = alloc_hook::stop();
    run_all(io);
    io.restart();
    BOOST_TEST_REQUIRE((o.done && !o.error));
  }
  sweep s{n};
  for (std::size_t i = 0; i <= n + 1; ++i) {
    BOOST_TEST_CONTEXT("allocation " << i << " of " << n) {
      const job_view before = view(j);
      outcome o;
      bool threw = false, fired;
      {
        alloc_hook::scope armed;
        alloc_hook::fail_at(i);
        try {
          initiate(o);
        } catch (const std::bad_alloc&) {
          threw = true;
        }
        fired = alloc_hook::fired();
        alloc_hook::stop();
      }
      BOOST_TEST(!o.done);  // never inside the initiating call
      if (threw) {
        ++s.threw;
        BOOST_TEST((view(j) == before));
      } else if (fired) {
        ++s.absorbed;
      }
      run_all(io);
      io.restart();
      if (threw) {
        BOOST_TEST(!o.done);  // the handler was destroyed, never invoked
        BOOST_TEST((view(j) == before));
      } else {
        BOOST_TEST_REQUIRE(o.done);
        BOOST_TEST(!o.error, what_of(o.error));
        BOOST_TEST(j.state() == jobs::state::succeeded);
      }
      outcome later;
      initiate(later);
      run_all(io);
      io.restart();
      BOOST_TEST((later.done && !later.error));
    }
  }
  BOOST_TEST_MESSAGE("async_run(): " << s.count << " allocations, " << s.threw << " failed with bad_alloc, "
                                     << s.absorbed << " absorbed by the library");
}

// async_start's initiation, with retries and a cancellation slot (so the start installs its
// cancellation handler). Not with a timeout: the race timer's async_wait on the job's strand
// makes Asio 1.81 allocate inside a noexcept constructor (handler_work preferring
// outstanding_work.tracked on a type-erased strand, too big for any_executor's small buffer),
// where bad_alloc is std::terminate — an Asio limitation no caller can handle, like every async
// operation a body starts on ctx.get_executor().
BOOST_AUTO_TEST_CASE(async_start_fails_cleanly_at_every_allocation) {
  asio::io_context io;
  jobs::job j(io, "alloc-start", stepping_body());
  int completes = 0;
  jobs::executor exec(j, jobs::with_retry(2, 1ms), jobs::on_complete([&](const jobs::job&) { ++completes; }));
  asio::cancellation_signal sig;
  auto initiate = [&](outcome& o) {
    exec.async_start(big_params(), asio::bind_cancellation_slot(sig.slot(), o.handler()));
  };
  {
    outcome warm;
    initiate(warm);
    run_all(io);
    io.restart();
    BOOST_TEST_REQUIRE((warm.done && !warm.error));
  }
  std::size_t n;
  {
    outcome o;
    alloc_hook::scope armed;
    alloc_hook::start_counting();
    initiate(o);
    n = alloc_hook::stop();
    run_all(io);
    io.restart();
    BOOST_TEST_REQUIRE((o.done && !o.error));
  }
  BOOST_TEST_REQUIRE(n > 0u);
  sweep s{n};
  for (std::size_t i = 0; i <= n + 1; ++i) {
    BOOST_TEST_CONTEXT("allocation " << i << " of " << n) {
      const job_view before = view(j);
      const auto stats_before = exec.stats();
      const int completes_before = completes;
      outcome o;
      bool threw = false, fired;
      std::string other;
      {
        alloc_hook::scope armed;
        alloc_hook::fail_at(i);
        try {
          initiate(o);
        } catch (const std::bad_alloc&) {
          threw = true;
        } catch (const std::exception& e) {
          other = e.what();
        }
        fired = alloc_hook::fired();
        alloc_hook::stop();
      }
      BOOST_TEST(other.empty(), other);
      BOOST_TEST(!o.done);                        // never inside the initiating call
      BOOST_TEST(completes == completes_before);  // nor on_complete
      run_all(io);
      io.restart();
      const auto stats_after = exec.stats();
      BOOST_TEST(!stats_after.in_progress);
      BOOST_TEST(!j.is_executing());
      bool refused = threw;
      if (threw) {
        ++s.threw;
        BOOST_TEST(!o.done);  // the handler was destroyed, never invoked
      } else {
        BOOST_TEST_REQUIRE(o.done);
        if (o.error) {
          // Failed to launch the first attempt: a refused start, with bad_alloc itself.
          ++s.via_handler;
          bool is_bad_alloc = false;
          try {
            std::rethrow_exception(o.error);
          } catch (const std::bad_alloc&) {
            is_bad_alloc = true;
          } catch (...) {
          }
          BOOST_TEST(is_bad_alloc, what_of(o.error));
          refused = true;
        } else if (fired) {
          ++s.absorbed;
        }
      }
      if (refused) {
        BOOST_TEST((view(j) == before), describe(before) << " became " << describe(view(j)));
        BOOST_TEST(stats_after.starts == stats_before.starts);
        BOOST_TEST(stats_after.failures == stats_before.failures);
        BOOST_TEST(stats_after.attempts.size() == stats_before.attempts.size());
        BOOST_TEST(completes == completes_before);
      } else {
        BOOST_TEST(stats_after.starts == stats_before.starts + 1);
        BOOST_TEST(stats_after.successes == stats_before.successes + 1);
        BOOST_TEST(completes == completes_before + 1);
      }
      outcome later;  // a later start works
      initiate(later);
      run_all(io);
      io.restart();
      BOOST_TEST((later.done && !later.error), what_of(later.error));
    }
  }
  BOOST_TEST_MESSAGE("async_start(): " << s.count << " allocations, " << s.threw << " failed with bad_alloc, "
                                       << s.via_handler << " refused through the handler, " << s.absorbed
                                       << " absorbed by the library");
}

BOOST_AUTO_TEST_SUITE_END()
