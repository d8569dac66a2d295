// Faults in a run's course and in the lifetime of its context (issue #4, point 4): a body that
// throws at each of its await points, the io_context stopped mid-run and restarted, the
// io_context destroyed with everything pending, and a job handle destroyed from inside its body.
#include "../executor/helpers.hpp"

#include <thread>

using namespace exec_test;

namespace {

constexpr int awaits = 5;

// Owned by a body's frame: counts the frames alive, so a frame that is never destroyed (a leak)
// shows up even without LSan.
struct frame_token {
  std::shared_ptr<std::atomic<int>> n;
  explicit frame_token(std::shared_ptr<std::atomic<int>> c) : n(std::move(c)) { ++*n; }
  ~frame_token() { --*n; }
  frame_token(const frame_token&) = delete;
  frame_token& operator=(const frame_token&) = delete;
};

using frame_count = std::shared_ptr<std::atomic<int>>;
frame_count make_count() { return std::make_shared<std::atomic<int>>(0); }

// Never completes unless cancelled; the timer lives in the frame.
asio::awaitable<void> jobs_forever(asio::any_io_executor ex) {
  asio::steady_timer t(std::move(ex), asio::steady_timer::time_point::max());
  co_await t.async_wait(asio::use_awaitable);
}

struct thrown_at : std::runtime_error {
  int k;
  explicit thrown_at(int at) : std::runtime_error("thrown at await " + std::to_string(at)), k(at) {}
};

// An awaitable that throws instead of suspending when `k == at`.
asio::awaitable<void> step(asio::any_io_executor ex, int k, int at) {
  if (k == at) throw thrown_at(k);
  asio::steady_timer t(std::move(ex), 0ms);
  co_await t.async_wait(asio::use_awaitable);
}

// A body with `awaits` awaits; it throws at the `at`-th (at == awaits: it returns normally).
jobs::body throwing_at(int at, frame_count alive, std::shared_ptr<std::atomic<int>> reached) {
  return [at, alive, reached](jobs::context& ctx) -> asio::awaitable<void> {
    frame_token token(alive);
    for (int k = 0; k < awaits; ++k) {
      *reached = k;
      ctx.set_progress(static_cast<double>(k) / awaits);
      co_await step(ctx.get_executor(), k, at);
    }
    ctx.set_result(at);
  };
}

}  // namespace

BOOST_AUTO_TEST_SUITE(fault_lifetime)

BOOST_AUTO_TEST_CASE(a_throw_at_each_await_point) {
  for (int at = 0; at <= awaits; ++at) {
    for (int via_executor = 0; via_executor < 2; ++via_executor) {
      BOOST_TEST_CONTEXT("throw at await " << at << (via_executor ? " under an executor" : " with run()")) {
        asio::io_context io;
        auto alive = make_count();
        auto reached = std::make_shared<std::atomic<int>>(-1);
        jobs::job j(io, "thrower", throwing_at(at, alive, reached));
        std::optional<jobs::executor> exec;
        outcome o;
        if (via_executor) {
          exec.emplace(j, jobs::with_retry(2, 0ms));
          exec->async_start(o.handler());
        } else {
          BOOST_TEST_REQUIRE(j.run());
        }
        run_all(io);
        BOOST_TEST(alive->load() == 0);  // every frame is gone
        BOOST_TEST(reached->load() == std::min(at, awaits - 1));
        if (at == awaits) {
          BOOST_TEST(j.state() == jobs::state::succeeded);
          BOOST_TEST(!j.error());
          BOOST_TEST(j.result<int>() == at);
          if (via_executor) BOOST_TEST((o.done && !o.error));
        } else {
          BOOST_TEST(j.state() == jobs::state::failed);
          BOOST_TEST(what_of(j.error()) == "thrown at await " + std::to_string(at));
          BOOST_TEST(j.stats().error == "thrown at await " + std::to_string(at));
          BOOST_TEST(!j.result().has_value());
          if (via_executor) {
            BOOST_TEST_REQUIRE(o.done);
            BOOST_TEST((o.error == j.error()));  // the same exception object, not a copy
            BOOST_TEST(exec->stats().retries == 2u);
            BOOST_TEST(exec->stats().failures == 1u);
          }
        }
      }
    }
  }
}

// A body that throws something that is not a std::exception, at an await point, mid-run.
BOOST_AUTO_TEST_CASE(a_throw_of_a_non_exception_type) {
  asio::io_context io;
  jobs::job j(io, "int-thrower", [](jobs::context& ctx) -> asio::awaitable<void> {
    asio::steady_timer t(ctx.get_executor(), 0ms);
    co_await t.async_wait(asio::use_awaitable);
    throw 7;
  });
  jobs::executor exec(j);
  outcome o;
  exec.async_start(o.handler());
  run_all(io);
  BOOST_TEST(j.state() == jobs::state::failed);
  BOOST_TEST(j.stats().error == "unknown exception");
  BOOST_TEST_REQUIRE(o.done);
  int got = 0;
  try {
    std::rethrow_exception(o.error);
  } catch (int x) {
    got = x;
  } catch (...) {
  }
  BOOST_TEST(got == 7);
  BOOST_TEST(exec.stats().attempts.at(0).error == "unknown exception");
}

// io.stop() mid-run (from a handler, and from outside between handlers), then io.restart() and
// io.run(): runs, a retry delay, a timeout race, waiters and watchers resume and finish.
BOOST_AUTO_TEST_CASE(io_context_stopped_mid_run_and_restarted) {
  asio::io_context io;
  auto alive = make_count();
  auto reached = std::make_shared<std::atomic<int>>(-1);
  jobs::job plain(io, "plain", throwing_at(awaits, alive, reached));
  auto p = std::make_shared<probe>();
  jobs::job flaky_job(io, "flaky", flaky(p, 1));
  jobs::executor retrying(flaky_job, jobs::with_retry(3, 20ms), jobs::with_timeout(10s));
  auto q = std::make_shared<probe>();
  jobs::job slow(io, "slow", sleeper(q, 30ms));
  jobs::executor timed(slow, jobs::with_timeout(10s));

  BOOST_TEST_REQUIRE(plain.run());
  outcome r, t;
  retrying.async_start(r.handler());
  timed.async_start(t.handler());
  bool waited = false;
  plain.async_wait([&](boost::system::error_code ec) { waited = !ec; });
  bool watched = false;
  plain.async_watch(0, [&](boost::system::error_code ec, jobs::stats) { watched = !ec; });

  // Stop from inside a handler, a few handlers in.
  asio::post(io, [&] { io.stop(); });
  io.run();
  BOOST_TEST(io.stopped());
  int stops = 1;
  // Then stop from outside, one handler at a time, until everything is done.
  while (!(r.done && t.done && plain.is_done() && waited) && stops < 10000) {
    io.restart();
    io.run_one_for(100ms);
    io.stop();
    ++stops;
  }
  io.restart();
  run_all(io);
  BOOST_TEST_MESSAGE("stopped and restarted " << stops << " times");
  BOOST_TEST(plain.state() == jobs::state::succeeded);
  BOOST_TEST(alive->load() == 0);
  BOOST_TEST((r.done && !r.error), what_of(r.error));
  BOOST_TEST(retrying.stats().retries == 1u);
  BOOST_TEST((t.done && !t.error), what_of(t.error));
  BOOST_TEST(waited);
  BOOST_TEST(watched);
}

// The io_context destroyed with runs, waiters (async and blocking), watchers, retry delays, a
// timeout race and a cooldown pending: nothing is invoked, nothing crashes, blocking waits
// return, the handles can still be queried and destroyed, and nothing leaks (LSan).
BOOST_AUTO_TEST_CASE(io_context_destroyed_with_everything_pending) {
  auto alive = make_count();
  std::atomic<int> invoked{0};
  std::optional<jobs::job> running, delayed_job, raced_job, cooled_job;
  std::optional<jobs::executor> delayed, raced, cooled;
  std::thread blocking_waiter;
  std::atomic<bool> blocking_returned{false};
  {
    auto io = std::make_unique<asio::io_context>();
    running.emplace(*io, "forever", [alive](jobs::context& ctx) -> asio::awaitable<void> {
      frame_token token(alive);
      co_await jobs_forever(ctx.get_executor());
    });
    auto p = std::make_shared<probe>();
    delayed_job.emplace(*io, "delayed", always_fail(p));
    delayed.emplace(*delayed_job, jobs::with_retry(3, 1h));
    raced_job.emplace(*io, "raced", [alive](jobs::context& ctx) -> asio::awaitable<void> {
      frame_token token(alive);
      co_await jobs_forever(ctx.get_executor());
    });
    raced.emplace(*raced_job, jobs::with_timeout(1h));
    cooled_job.emplace(*io, "cooled", succeed());
    cooled.emplace(*cooled_job, jobs::with_cooldown(1h));

    BOOST_TEST_REQUIRE(running->run());
    running->async_wait([&](boost::system::error_code) { ++invoked; });
    running->async_watch(0, [&](boost::system::error_code, jobs::stats) { ++invoked; });
    delayed->async_start([&](std::exception_ptr) { ++invoked; });
    raced->async_start([&](std::exception_ptr) { ++invoked; });
    outcome cooled_first;
    cooled->async_start(cooled_first.handler());
    BOOST_TEST_REQUIRE(run_until(*io, [&] {
      return delayed->stats().retries == 1u && raced_job->is_executing() && cooled_first.done &&
             alive->load() == 2;
    }));
    invoked = 0;  // the watcher may have fired once with the first snapshot
    cooled->async_start([&](std::exception_ptr) { ++invoked; });  // refused (cooldown), posted
    delayed->async_stop([&] { ++invoked; });                      // stop waiting for the delay
    running->async_watch(running->stats().version,
                         [&](boost::system::error_code, jobs::stats) { ++invoked; });
    blocking_waiter = std::thread([&] {
      running->wait();
      blocking_returned = true;
    });
    // Destroyed here, with all of that pending.
  }
  blocking_waiter.join();  // released by the context's destruction
  BOOST_TEST(blocking_returned.load());
  BOOST_TEST(invoked.load() == 0);
  BOOST_TEST(alive->load() == 0);  // the frames were destroyed
  BOOST_TEST(!running->is_executing());
  BOOST_TEST(!delayed->stats().in_progress);
  BOOST_TEST(!raced->stats().in_progress);
  BOOST_TEST(cooled->stats().cooldown > 0ns);
  BOOST_CHECK_NO_THROW(delayed->stop(true));
  BOOST_CHECK_NO_THROW(raced->stop(true));
  BOOST_CHECK_NO_THROW(running->wait());
  // Further use of a job whose context is gone is a clear error, never a crash.
  BOOST_CHECK_THROW(running->run(), std::logic_error);
}

// A job handle destroyed from inside its own body (the last handle), and an executor handle
// destroyed from inside the body it runs: the run keeps what it needs alive and ends normally.
BOOST_AUTO_TEST_CASE(handles_destroyed_from_inside_the_body) {
  asio::io_context io;
  std::weak_ptr<std::atomic<int>> frame_alive;
  bool finished_body = false;
  auto holder = std::make_shared<std::optional<jobs::job>>();
  auto exec_holder = std::make_shared<std::optional<jobs::executor>>();
  auto alive = make_count();
  frame_alive = alive;
  holder->emplace(io, "self-destroying",
                  [holder, exec_holder, &finished_body,
                   alive = std::move(alive)](jobs::context& ctx) -> asio::awaitable<void> {
                    frame_token token(alive);
                    holder->reset();       // the last job handle
                    exec_holder->reset();  // the last executor handle
                    asio::steady_timer t(ctx.get_executor(), 1ms);
                    co_await t.async_wait(asio::use_awaitable);
                    ctx.set_progress(1);
                    finished_body = true;
                  });
  exec_holder->emplace(**holder, jobs::with_timeout(10s));
  outcome o;
  (*exec_holder)->async_start(o.handler());
  // The body owns `holder` (through the job's body function): break that cycle once done.
  run_all(io);
  BOOST_TEST(finished_body);
  BOOST_TEST((o.done && !o.error), what_of(o.error));
  BOOST_TEST(!holder->has_value());
  BOOST_TEST(!exec_holder->has_value());
  BOOST_TEST(frame_alive.expired());
}

BOOST_AUTO_TEST_SUITE_END()
