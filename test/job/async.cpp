// async_run and async_wait with every kind of completion token, handler executors, work counting
// and initiation.
#include <jobs/job.hpp>

#include "test_util.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using boost::system::error_code;
using jobs::state;

namespace {

struct my_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A body that reports its params (as "none" or the int) and fails with my_error for -1.
struct recording_body {
  std::string* seen;
  asio::awaitable<void> operator()(jobs::context& ctx) const {
    if (!ctx.params().has_value()) {
      *seen = "none";
    } else {
      const int v = ctx.params<int>();
      *seen = std::to_string(v);
      if (v == -1) throw my_error("asked to fail");
    }
    co_return;
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(async)

BOOST_AUTO_TEST_CASE(callback_token) {
  asio::io_context io;
  std::string seen;
  jobs::job j(io, "cb", recording_body{&seen});
  int calls = 0;
  std::exception_ptr got = std::make_exception_ptr(1);
  j.async_run(5, [&](std::exception_ptr e) {
    ++calls;
    got = e;
  });
  BOOST_TEST(j.is_state(state::running));  // reset and started before async_run returns
  BOOST_TEST(j.progress() == -1.0);
  BOOST_TEST((j.started_at() != std::chrono::system_clock::time_point{}));
  BOOST_TEST(calls == 0);  // never inside the initiating call
  io.run();
  BOOST_TEST(calls == 1);
  BOOST_TEST(!got);
  BOOST_TEST(seen == "5");
  BOOST_TEST(j.state() == state::succeeded);
}

BOOST_AUTO_TEST_CASE(callback_token_receives_the_bodys_own_exception) {
  asio::io_context io;
  std::string seen;
  jobs::job j(io, "cb", recording_body{&seen});
  std::exception_ptr got;
  j.async_run(-1, [&](std::exception_ptr e) { got = e; });
  io.run();
  BOOST_TEST_REQUIRE(bool(got));
  BOOST_TEST((got == j.error()));
  BOOST_CHECK_THROW(std::rethrow_exception(got), my_error);
  BOOST_TEST(jobs_test::what_of(got) == "asked to fail");
}

BOOST_AUTO_TEST_CASE(use_awaitable_token) {
  asio::io_context io;
  std::string seen;
  jobs::job j(io, "aw", recording_body{&seen});
  bool ok = false;
  std::string caught;
  bool caught_type = false;
  state before_await = state::running;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto op = j.async_run(7, asio::use_awaitable);
        before_await = j.state();  // an awaitable does nothing until awaited
        co_await std::move(op);
        ok = seen == "7" && j.is_state(state::succeeded);
        try {
          co_await j.async_run(-1, asio::use_awaitable);
        } catch (const my_error& e) {
          caught_type = true;
          caught = e.what();
        }
      },
      asio::detached);
  io.run();
  BOOST_TEST(before_await == state::created);
  BOOST_TEST(ok);
  BOOST_TEST(caught_type);
  BOOST_TEST(caught == "asked to fail");
  BOOST_TEST(j.state() == state::failed);
}

BOOST_AUTO_TEST_CASE(deferred_is_the_default_and_acts_when_initiated) {
  asio::io_context io;
  std::string seen;
  jobs::job j(io, "def", recording_body{&seen});
  static_assert(asio::is_deferred<decltype(j.async_run())>::value);
  static_assert(asio::is_deferred<decltype(j.async_run(3))>::value);
  static_assert(asio::is_deferred<decltype(j.async_wait())>::value);

  auto op = j.async_run(3);
  BOOST_TEST(j.state() == state::created);
  BOOST_TEST(seen.empty());
  bool called = false;
  std::move(op)([&](std::exception_ptr e) { called = !e; });
  BOOST_TEST(j.state() == state::running);
  io.run();
  BOOST_TEST(called);
  BOOST_TEST(seen == "3");

  // co_await of the default token inside a coroutine.
  io.restart();
  std::string caught;
  bool second_ok = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await j.async_run();
        second_ok = seen == "none";
        try {
          co_await j.async_run(-1);
        } catch (const my_error& e) {
          caught = e.what();
        }
      },
      asio::detached);
  io.run();
  BOOST_TEST(second_ok);
  BOOST_TEST(caught == "asked to fail");
}

BOOST_AUTO_TEST_CASE(use_future_token) {
  asio::io_context io;
  auto guard = asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  std::string seen;
  jobs::job j(io, "fut", recording_body{&seen});
  std::future<void> ok = j.async_run(9, asio::use_future);
  BOOST_TEST_REQUIRE((ok.wait_for(jobs_test::cap) == std::future_status::ready));
  BOOST_CHECK_NO_THROW(ok.get());
  BOOST_TEST(seen == "9");
  std::future<void> bad = j.async_run(-1, asio::use_future);
  BOOST_TEST_REQUIRE((bad.wait_for(jobs_test::cap) == std::future_status::ready));
  BOOST_CHECK_THROW(bad.get(), my_error);
  guard.reset();
  runner.join();
}

BOOST_AUTO_TEST_CASE(as_tuple_token) {
  asio::io_context io;
  jobs::job j(io, "tuple", [](jobs::context& ctx) -> asio::awaitable<void> {
    if (ctx.params().has_value()) co_await jobs_test::forever(ctx.get_executor());
  });
  std::exception_ptr first = std::make_exception_ptr(1), second;
  error_code wait_ec = asio::error::eof;
  bool done = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto [e1] = co_await j.async_run(asio::as_tuple(asio::use_awaitable));
        first = e1;
        auto [e2] = co_await j.async_run(1, asio::as_tuple(asio::deferred));  // canceled below
        second = e2;
        auto [ec] = co_await j.async_wait(asio::as_tuple(asio::deferred));
        wait_ec = ec;
        done = true;
      },
      asio::detached);
  BOOST_TEST_REQUIRE(jobs_test::poll_until(io, [&] { return !first && j.is_executing(); }));
  io.poll();
  BOOST_TEST(j.cancel());
  BOOST_TEST_REQUIRE(jobs_test::poll_until(io, [&] { return done; }));
  BOOST_TEST(!first);
  BOOST_TEST(jobs_test::code_of(second) == jobs::errc::canceled);
  BOOST_TEST(!wait_ec);
}

// "Tokens are never params": a token alone means ({}, token).
BOOST_AUTO_TEST_CASE(a_token_alone_is_never_taken_for_the_params) {
  asio::io_context io;
  std::string seen;
  jobs::job j(io, "tok", recording_body{&seen});

  bool cb = false;
  j.async_run([&](std::exception_ptr e) { cb = !e; });
  io.run();
  BOOST_TEST(cb);
  BOOST_TEST(seen == "none");

  seen.clear();
  bool deferred_done = false;
  j.async_run(asio::deferred)([&](std::exception_ptr e) { deferred_done = !e; });
  io.restart();
  io.run();
  BOOST_TEST(deferred_done);
  BOOST_TEST(seen == "none");

  seen.clear();
  bool aw = false, tup = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await j.async_run(asio::use_awaitable);
        aw = seen == "none";
        seen.clear();
        auto [e] = co_await j.async_run(asio::as_tuple(asio::use_awaitable));
        tup = !e && seen == "none";
      },
      asio::detached);
  io.restart();
  io.run();
  BOOST_TEST(aw);
  BOOST_TEST(tup);

  // A value that is not a token is the params, with the default token.
  seen.clear();
  bool value_done = false;
  j.async_run(42)([&](std::exception_ptr e) { value_done = !e; });
  io.restart();
  io.run();
  BOOST_TEST(value_done);
  BOOST_TEST(seen == "42");
}

BOOST_AUTO_TEST_CASE(a_token_alone_with_use_future) {
  asio::io_context io;
  auto guard = asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  std::string seen;
  jobs::job j(io, "tokf", recording_body{&seen});
  std::future<void> f = j.async_run(asio::use_future);
  BOOST_TEST_REQUIRE((f.wait_for(jobs_test::cap) == std::future_status::ready));
  BOOST_CHECK_NO_THROW(f.get());
  BOOST_TEST(seen == "none");
  guard.reset();
  runner.join();
}

BOOST_AUTO_TEST_CASE(still_pending_is_delivered_through_every_token) {
  asio::io_context io;
  jobs_test::gate g(io.get_executor());
  int calls = 0;
  jobs::job j(io, "busy", [&](jobs::context&) -> asio::awaitable<void> {
    ++calls;
    co_await g.wait();
  });
  BOOST_TEST(j.run());

  std::exception_ptr cb;
  bool cb_called = false;
  j.async_run(1, [&](std::exception_ptr e) {
    cb_called = true;
    cb = e;
  });
  BOOST_TEST(!cb_called);  // a refusal is not delivered inside the call either

  error_code aw_code, tuple_code;
  bool co_done = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        try {
          co_await j.async_run(asio::use_awaitable);
        } catch (const boost::system::system_error& e) {
          aw_code = e.code();
        }
        auto [e] = co_await j.async_run(asio::as_tuple(asio::deferred));
        tuple_code = jobs_test::code_of(e);
        co_done = true;
      },
      asio::detached);
  BOOST_TEST_REQUIRE(jobs_test::poll_until(io, [&] { return cb_called && co_done; }));
  BOOST_TEST(jobs_test::code_of(cb) == jobs::errc::still_pending);
  BOOST_TEST(aw_code == jobs::errc::still_pending);
  BOOST_TEST(tuple_code == jobs::errc::still_pending);
  BOOST_TEST(j.is_state(state::running));  // the pending run is untouched
  g.open();
  io.run();
  BOOST_TEST(j.state() == state::succeeded);
  BOOST_TEST(calls == 1);
}

BOOST_AUTO_TEST_CASE(a_refusal_from_a_handler_on_the_same_executor_is_not_inline) {
  asio::io_context io;
  jobs_test::gate g(io.get_executor());
  jobs::job j(io, "busy", [&](jobs::context&) -> asio::awaitable<void> { co_await g.wait(); });
  BOOST_TEST(j.run());
  bool called = false, inline_call = true;
  asio::post(io, [&] {
    j.async_run([&](std::exception_ptr) { called = true; });
    inline_call = called;
  });
  BOOST_TEST_REQUIRE(jobs_test::poll_until(io, [&] { return called; }));
  BOOST_TEST(!inline_call);
  g.open();
  io.run();
}

BOOST_AUTO_TEST_CASE(async_run_from_inside_the_body_is_refused) {
  asio::io_context io;
  jobs::job* self = nullptr;
  std::exception_ptr refused;
  bool called = false;
  jobs::job j(io, "self", [&](jobs::context& ctx) -> asio::awaitable<void> {
    BOOST_TEST(!self->run());
    self->async_run([&](std::exception_ptr e) {
      called = true;
      refused = e;
    });
    asio::steady_timer t(ctx.get_executor(), 1ms);
    co_await t.async_wait(asio::use_awaitable);
  });
  self = &j;
  BOOST_TEST(j.run());
  io.run();
  BOOST_TEST(called);
  BOOST_TEST(jobs_test::code_of(refused) == jobs::errc::still_pending);
  BOOST_TEST(j.state() == state::succeeded);
}

// ---- handler executors ----

BOOST_AUTO_TEST_CASE(handlers_default_to_the_jobs_executor) {
  asio::thread_pool pool(2);
  jobs::job j(pool, "pool", [](jobs::context&) -> asio::awaitable<void> { co_return; });
  jobs_test::event run_done, wait_done;
  std::atomic<bool> run_on_pool{false}, wait_on_pool{false};
  j.async_run([&](std::exception_ptr) {
    run_on_pool = pool.get_executor().running_in_this_thread();
    run_done.set();
  });
  j.async_wait([&](error_code) {
    wait_on_pool = pool.get_executor().running_in_this_thread();
    wait_done.set();
  });
  BOOST_TEST_REQUIRE(run_done.wait());
  BOOST_TEST_REQUIRE(wait_done.wait());
  BOOST_TEST(run_on_pool.load());
  BOOST_TEST(wait_on_pool.load());
  pool.join();
}

BOOST_AUTO_TEST_CASE(handlers_default_to_a_strand_given_as_the_executor) {
  asio::io_context io;
  auto s = asio::make_strand(io);
  jobs::job j(s, "strand", [](jobs::context&) -> asio::awaitable<void> { co_return; });
  bool run_on_strand = false, wait_on_strand = false, idle_wait_on_strand = false;
  j.async_wait([&](error_code) { idle_wait_on_strand = s.running_in_this_thread(); });
  j.async_run([&](std::exception_ptr) { run_on_strand = s.running_in_this_thread(); });
  j.async_wait([&](error_code) { wait_on_strand = s.running_in_this_thread(); });
  io.run();
  BOOST_TEST(run_on_strand);
  BOOST_TEST(wait_on_strand);
  BOOST_TEST(idle_wait_on_strand);
}

BOOST_AUTO_TEST_CASE(handlers_run_on_their_associated_executor) {
  asio::io_context io, other;
  jobs::job j(io, "assoc", [](jobs::context&) -> asio::awaitable<void> { co_return; });
  bool run_called = false, run_on_other = false, wait_called = false, wait_on_other = false;
  j.async_run(asio::bind_executor(other, [&](std::exception_ptr) {
    run_called = true;
    run_on_other = other.get_executor().running_in_this_thread();
  }));
  j.async_wait(asio::bind_executor(other, [&](error_code) {
    wait_called = true;
    wait_on_other = other.get_executor().running_in_this_thread();
  }));
  io.run();
  BOOST_TEST(j.state() == state::succeeded);
  BOOST_TEST(!run_called);  // not until `other` runs
  BOOST_TEST(!wait_called);
  other.run();
  BOOST_TEST(run_called);
  BOOST_TEST(run_on_other);
  BOOST_TEST(wait_called);
  BOOST_TEST(wait_on_other);
}

// A pending operation keeps its handler executor's work count up, so that run() on that context
// does not return before the handler has run; and releases it afterwards.
BOOST_AUTO_TEST_CASE(a_pending_operation_counts_as_work_on_the_handlers_executor) {
  for (int which = 0; which < 2; ++which) {
    BOOST_TEST_CONTEXT((which == 0 ? "async_run" : "async_wait")) {
      asio::io_context io, other;
      jobs_test::gate g(io.get_executor());
      jobs::job j(io, "work", [&](jobs::context&) -> asio::awaitable<void> { co_await g.wait(); });
      bool called = false;
      if (which == 0) {
        j.async_run(asio::bind_executor(other, [&](std::exception_ptr) { called = true; }));
      } else {
        BOOST_TEST(j.run());
        j.async_wait(asio::bind_executor(other, [&](error_code) { called = true; }));
      }
      BOOST_TEST(other.poll() == 0u);
      BOOST_TEST(!other.stopped());  // it has outstanding work: run() would not return
      BOOST_TEST_REQUIRE(jobs_test::poll_until(io, [&] { return g.waiting() == 1; }));
      g.open();
      io.run();
      BOOST_TEST(!called);
      other.run_for(jobs_test::cap);
      BOOST_TEST(called);
      BOOST_TEST(other.stopped());  // and the work was released
    }
  }
}

BOOST_AUTO_TEST_CASE(io_run_does_not_return_before_the_completion_on_another_thread) {
  // The job's context and the handler's context run on two threads; `other` has nothing else to
  // do, so without the work count its run() would return at once and the handler never run.
  asio::io_context io, other;
  jobs_test::event release;
  jobs::job j(io, "work", [&](jobs::context&) -> asio::awaitable<void> {
    release.wait();
    co_return;
  });
  std::atomic<bool> called{false};
  j.async_run(asio::bind_executor(other, [&](std::exception_ptr) { called = true; }));
  std::thread other_runner([&] { other.run(); });
  std::thread io_runner([&] { io.run(); });
  release.set();
  io_runner.join();
  other_runner.join();
  BOOST_TEST(called.load());
}

BOOST_AUTO_TEST_SUITE_END()
