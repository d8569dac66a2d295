// wait() and async_wait(): blocking and asynchronous waits for the end of a run.
#include <jobs/job.hpp>

#include "test_util.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using boost::system::error_code;
using jobs::state;

namespace {

// A job on a thread pool whose body blocks (a pool thread) until `release` is set.
struct held_job {
  asio::thread_pool pool{2};
  jobs_test::event started, release;
  jobs::job j{pool, "held", [this](jobs::context&) -> asio::awaitable<void> {
                started.set();
                release.wait();
                co_return;
              }};
  ~held_job() {
    release.set();
    j.wait();
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(wait)

BOOST_AUTO_TEST_CASE(wait_returns_at_once_without_a_pending_run) {
  asio::io_context io;
  jobs::job j(io, "idle", [](jobs::context&) -> asio::awaitable<void> { co_return; });
  j.wait();  // created
  BOOST_TEST(j.state() == state::created);
  BOOST_TEST(j.run());
  io.run();
  j.wait();  // done
  BOOST_TEST(j.state() == state::succeeded);
}

BOOST_AUTO_TEST_CASE(wait_blocks_until_the_run_ends) {
  held_job h;
  BOOST_TEST(h.j.run());
  BOOST_TEST_REQUIRE(h.started.wait());
  std::atomic<bool> returned{false};
  std::atomic<state> at_return{state::created};
  std::thread waiter([&] {
    h.j.wait();
    at_return = h.j.state();
    returned = true;
  });
  BOOST_TEST(!returned.load());  // the body is still blocked
  BOOST_TEST(h.j.is_state(state::running));
  h.release.set();
  waiter.join();
  BOOST_TEST(returned.load());
  BOOST_TEST(at_return.load() == state::succeeded);
}

BOOST_AUTO_TEST_CASE(every_blocking_waiter_is_released) {
  held_job h;
  BOOST_TEST(h.j.run());
  BOOST_TEST_REQUIRE(h.started.wait());
  std::atomic<int> done_seen{0};
  std::vector<std::thread> waiters;
  for (int i = 0; i < 4; ++i)
    waiters.emplace_back([&] {
      h.j.wait();
      if (h.j.is_done()) ++done_seen;
    });
  h.release.set();
  for (auto& t : waiters) t.join();
  BOOST_TEST(done_seen.load() == 4);
}

BOOST_AUTO_TEST_CASE(wait_while_an_io_context_runs_on_another_thread) {
  asio::io_context io;
  auto guard = asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  jobs::job j(io, "bg", [](jobs::context& ctx) -> asio::awaitable<void> {
    asio::steady_timer t(ctx.get_executor(), 5ms);
    co_await t.async_wait(asio::use_awaitable);
    ctx.set_result(1);
  });
  BOOST_TEST(j.run());
  j.wait();
  BOOST_TEST(j.state() == state::succeeded);
  BOOST_TEST(j.result<int>() == 1);
  guard.reset();
  runner.join();
}

BOOST_AUTO_TEST_CASE(wait_covers_the_canceling_state) {
  asio::io_context io;
  auto guard = asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  jobs_test::event started;
  jobs::job j(io, "cancel-wait", [&](jobs::context& ctx) -> asio::awaitable<void> {
    started.set();
    co_await jobs_test::forever_ec(ctx.get_executor());
    asio::steady_timer t(ctx.get_executor(), 5ms);  // a slow cleanup, still canceling
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
  });
  BOOST_TEST(j.run());
  BOOST_TEST_REQUIRE(started.wait());
  BOOST_TEST(j.cancel());
  j.wait();
  BOOST_TEST(j.state() == state::canceled);
  guard.reset();
  runner.join();
}

BOOST_AUTO_TEST_CASE(async_wait_without_a_pending_run_completes_but_not_inside_the_call) {
  asio::io_context io;
  jobs::job j(io, "idle", [](jobs::context&) -> asio::awaitable<void> { co_return; });
  int calls = 0;
  error_code got = asio::error::eof;
  j.async_wait([&](error_code ec) {
    ++calls;
    got = ec;
  });
  BOOST_TEST(calls == 0);
  io.run();
  BOOST_TEST(calls == 1);
  BOOST_TEST(!got);

  // Also when initiated from a handler already running on the handler's executor.
  io.restart();
  bool inline_call = true;
  asio::post(io, [&] {
    j.async_wait([&](error_code) { ++calls; });
    inline_call = calls != 1;
  });
  io.run();
  BOOST_TEST(!inline_call);
  BOOST_TEST(calls == 2);
}

BOOST_AUTO_TEST_CASE(async_wait_completes_when_the_run_ends_whatever_its_outcome) {
  for (int outcome = 0; outcome < 3; ++outcome) {
    BOOST_TEST_CONTEXT("outcome " << outcome) {
      asio::io_context io;
      jobs_test::gate g(io.get_executor());
      jobs::job j(io, "aw", [&](jobs::context&) -> asio::awaitable<void> {
        co_await g.wait();
        if (outcome == 1) throw std::runtime_error("boom");
      });
      BOOST_TEST(j.run());
      int calls = 0;
      error_code got = asio::error::eof;
      state at_call = state::created;
      j.async_wait([&](error_code ec) {
        ++calls;
        got = ec;
        at_call = j.state();
      });
      BOOST_TEST_REQUIRE(jobs_test::poll_until(io, [&] { return g.waiting() == 1; }));
      io.poll();
      BOOST_TEST(calls == 0);
      if (outcome == 2)
        BOOST_TEST(j.cancel());
      else
        g.open();
      io.run();
      BOOST_TEST(calls == 1);
      BOOST_TEST(!got);
      BOOST_TEST(jobs::is_done(at_call));
    }
  }
}

BOOST_AUTO_TEST_CASE(cancelling_async_wait_cancels_only_the_wait) {
  for (auto type : {asio::cancellation_type::terminal, asio::cancellation_type::partial,
                    asio::cancellation_type::total}) {
    BOOST_TEST_CONTEXT("type " << int(type)) {
      asio::io_context io;
      jobs_test::gate g(io.get_executor());
      jobs::job j(io, "aw", [&](jobs::context&) -> asio::awaitable<void> { co_await g.wait(); });
      BOOST_TEST(j.run());
      asio::cancellation_signal sig;
      int calls = 0;
      error_code got;
      j.async_wait(asio::bind_cancellation_slot(sig.slot(), [&](error_code ec) {
        ++calls;
        got = ec;
      }));
      int other_calls = 0;
      j.async_wait([&](error_code) { ++other_calls; });  // an unrelated waiter
      BOOST_TEST_REQUIRE(jobs_test::poll_until(io, [&] { return g.waiting() == 1; }));
      sig.emit(type);
      BOOST_TEST_REQUIRE(jobs_test::poll_until(io, [&] { return calls == 1; }));
      BOOST_TEST(got == asio::error::operation_aborted);
      BOOST_TEST(j.state() == state::running);
      BOOST_TEST(other_calls == 0);
      g.open();
      io.run();
      BOOST_TEST(j.state() == state::succeeded);
      BOOST_TEST(calls == 1);  // exactly once
      BOOST_TEST(other_calls == 1);
    }
  }
}

BOOST_AUTO_TEST_CASE(async_wait_from_a_coroutine_and_with_as_tuple) {
  asio::io_context io;
  jobs_test::gate g(io.get_executor());
  jobs::job j(io, "co", [&](jobs::context&) -> asio::awaitable<void> { co_await g.wait(); });
  BOOST_TEST(j.run());
  bool default_token_done = false, tuple_done = false;
  error_code tuple_ec = asio::error::eof;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await j.async_wait();  // asio::deferred by default
        default_token_done = j.is_done();
        auto [ec] = co_await j.async_wait(asio::as_tuple(asio::use_awaitable));
        tuple_ec = ec;
        tuple_done = true;
      },
      asio::detached);
  BOOST_TEST_REQUIRE(jobs_test::poll_until(io, [&] { return g.waiting() == 1; }));
  BOOST_TEST(!default_token_done);
  g.open();
  io.run();
  BOOST_TEST(default_token_done);
  BOOST_TEST(tuple_done);
  BOOST_TEST(!tuple_ec);
}

BOOST_AUTO_TEST_CASE(async_wait_with_use_future) {
  held_job h;
  BOOST_TEST(h.j.run());
  std::future<void> f = h.j.async_wait(asio::use_future);
  BOOST_TEST_REQUIRE(h.started.wait());
  BOOST_TEST((f.wait_for(0s) == std::future_status::timeout));
  h.release.set();
  BOOST_TEST_REQUIRE((f.wait_for(jobs_test::cap) == std::future_status::ready));
  BOOST_CHECK_NO_THROW(f.get());
  BOOST_TEST(h.j.is_done());
}

BOOST_AUTO_TEST_CASE(async_wait_from_the_body_completes_after_the_run) {
  asio::io_context io;
  jobs::job* self = nullptr;
  int calls = 0;
  state at_call = state::created;
  jobs::job j(io, "self", [&](jobs::context& ctx) -> asio::awaitable<void> {
    self->async_wait([&](error_code) {
      ++calls;
      at_call = self->state();
    });
    asio::steady_timer t(ctx.get_executor(), 1ms);
    co_await t.async_wait(asio::use_awaitable);
    BOOST_TEST(calls == 0);
  });
  self = &j;
  BOOST_TEST(j.run());
  io.run();
  BOOST_TEST(calls == 1);
  BOOST_TEST(at_call == state::succeeded);
}

BOOST_AUTO_TEST_CASE(a_wait_is_for_the_run_pending_when_it_began) {
  // Two runs back to back: a waiter registered during the first completes when it ends.
  asio::io_context io;
  jobs_test::gate g1(io.get_executor()), g2(io.get_executor());
  jobs::job j(io, "seq", [&](jobs::context& ctx) -> asio::awaitable<void> {
    if (ctx.params<int>() == 1)
      co_await g1.wait();
    else
      co_await g2.wait();
  });
  BOOST_TEST(j.run(1));
  int calls = 0;
  j.async_wait([&](error_code) { ++calls; });
  BOOST_TEST_REQUIRE(jobs_test::poll_until(io, [&] { return g1.waiting() == 1; }));
  g1.open();
  BOOST_TEST_REQUIRE(jobs_test::poll_until(io, [&] { return j.is_done(); }));
  BOOST_TEST(j.run(2));  // before the waiter's handler has had a chance to run
  BOOST_TEST_REQUIRE(jobs_test::poll_until(io, [&] { return calls == 1; }));
  BOOST_TEST(j.is_state(state::running));
  g2.open();
  io.run();
  BOOST_TEST(calls == 1);
}

BOOST_AUTO_TEST_SUITE_END()
