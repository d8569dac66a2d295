// Lifetimes: runs keep their job alive, handles may go away mid-operation, destroying the
// execution context with runs and waiters pending releases everything, late reports from a
// finished run's context are ignored.
#include <jobs/job.hpp>

#include "test_util.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/test/unit_test.hpp>

#include <memory>
#include <optional>
#include <thread>
#include <vector>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using boost::system::error_code;
using jobs::state;

BOOST_AUTO_TEST_SUITE(lifetime)

BOOST_AUTO_TEST_CASE(an_idle_job_is_freed_with_its_last_handle) {
  asio::io_context io;
  auto sentinel = std::make_shared<int>(0);
  std::weak_ptr<int> w = sentinel;
  {
    jobs::job j(io, "idle",
                [s = std::move(sentinel)](jobs::context&) -> asio::awaitable<void> { co_return; });
    jobs::job copy = j;
    BOOST_TEST(!w.expired());
  }
  BOOST_TEST(w.expired());
}

BOOST_AUTO_TEST_CASE(a_running_job_keeps_itself_alive) {
  asio::io_context io;
  auto sentinel = std::make_shared<int>(0);
  std::weak_ptr<int> w = sentinel;
  bool finished = false;
  {
    jobs::job j(io, "orphan", [&, s = std::move(sentinel)](jobs::context& ctx) -> asio::awaitable<void> {
      asio::steady_timer t(ctx.get_executor(), 2ms);
      co_await t.async_wait(asio::use_awaitable);
      ctx.set_result(1);
      finished = true;
    });
    BOOST_TEST(j.run());
  }
  BOOST_TEST(!w.expired());  // no handle left, the run holds the job
  io.run();
  BOOST_TEST(finished);
  BOOST_TEST(w.expired());  // and lets it go when it ends
}

BOOST_AUTO_TEST_CASE(an_operation_completes_after_its_handle_is_gone) {
  asio::io_context io;
  auto sentinel = std::make_shared<int>(0);
  std::weak_ptr<int> w = sentinel;
  bool run_called = false, wait_called = false;
  state seen = state::created;
  {
    jobs::job j(io, "gone", [s = std::move(sentinel)](jobs::context& ctx) -> asio::awaitable<void> {
      asio::steady_timer t(ctx.get_executor(), 1ms);
      co_await t.async_wait(asio::use_awaitable);
    });
    // The handler itself holds a handle: no cycle may remain once it has run.
    j.async_run([&, j](std::exception_ptr e) {
      run_called = !e;
      seen = j.state();
    });
    j.async_wait([&](error_code ec) { wait_called = !ec; });
  }
  io.run();
  BOOST_TEST(run_called);
  BOOST_TEST(wait_called);
  BOOST_TEST(seen == state::succeeded);
  BOOST_TEST(w.expired());
}

BOOST_AUTO_TEST_CASE(the_last_handle_may_be_dropped_inside_a_completion_handler) {
  asio::io_context io;
  auto sentinel = std::make_shared<int>(0);
  std::weak_ptr<int> w = sentinel;
  std::optional<jobs::job> j;
  j.emplace(io, "drop", [s = std::move(sentinel)](jobs::context&) -> asio::awaitable<void> { co_return; });
  bool called = false;
  j->async_run([&](std::exception_ptr) {
    called = true;
    j.reset();
  });
  io.run();
  BOOST_TEST(called);
  BOOST_TEST(!j.has_value());
  BOOST_TEST(w.expired());
}

BOOST_AUTO_TEST_CASE(destroying_the_context_with_runs_and_async_waiters_pending) {
  auto io = std::make_unique<asio::io_context>();
  std::vector<std::weak_ptr<int>> bodies, handlers;
  {
    std::vector<jobs::job> all;
    for (int i = 0; i < 8; ++i) {
      auto body_sentinel = std::make_shared<int>(i);
      bodies.push_back(body_sentinel);
      all.emplace_back(*io, "pending" + std::to_string(i),
                       [s = std::move(body_sentinel)](jobs::context& ctx) -> asio::awaitable<void> {
                         co_await jobs_test::forever(ctx.get_executor());
                       });
    }
    for (std::size_t i = 0; i < all.size(); ++i) {
      auto& j = all[i];
      auto run_sentinel = std::make_shared<int>(0), wait_sentinel = std::make_shared<int>(0);
      handlers.push_back(run_sentinel);
      handlers.push_back(wait_sentinel);
      if (i % 2)
        j.async_run([s = std::move(run_sentinel)](std::exception_ptr) {});
      else
        BOOST_TEST(j.run());
      j.async_wait([s = std::move(wait_sentinel)](error_code) {});
    }
    io->poll();  // every body is now suspended
    for (auto& j : all) BOOST_TEST(j.is_executing());
  }  // every handle is gone; the runs keep their jobs
  for (auto& w : bodies) BOOST_TEST(!w.expired());
  io.reset();  // destroys the frames and releases every waiter
  for (auto& w : bodies) BOOST_TEST(w.expired());
  for (auto& w : handlers) BOOST_TEST(w.expired());
}

BOOST_AUTO_TEST_CASE(destroying_the_context_before_a_body_began) {
  auto io = std::make_unique<asio::io_context>();
  auto sentinel = std::make_shared<int>(0);
  std::weak_ptr<int> w = sentinel;
  bool began = false;
  {
    jobs::job j(*io, "never", [&, s = std::move(sentinel)](jobs::context&) -> asio::awaitable<void> {
      began = true;
      co_return;
    });
    BOOST_TEST(j.run());
  }
  io.reset();
  BOOST_TEST(!began);
  BOOST_TEST(w.expired());
}

// A thread blocked in wait() is released when the context is destroyed under the run.
BOOST_AUTO_TEST_CASE(destroying_the_context_releases_blocking_waiters) {
  auto io = std::make_unique<asio::io_context>();
  // Shared with the waiters, so that a waiter that is never released (a failure) does not
  // leave them with a dangling reference.
  auto j = std::make_shared<std::optional<jobs::job>>();
  j->emplace(*io, "blocked", [](jobs::context& ctx) -> asio::awaitable<void> {
    co_await jobs_test::forever(ctx.get_executor());
  });
  BOOST_TEST((*j)->run());
  io->poll();
  auto released = std::make_shared<jobs_test::event>();
  auto pending_at_release = std::make_shared<std::atomic<int>>(0);
  std::vector<std::thread> waiters;
  for (int i = 0; i < 2; ++i)
    waiters.emplace_back([j, released, pending_at_release] {
      (*j)->wait();
      if ((*j)->is_executing()) ++*pending_at_release;
      released->set();
    });
  // Nothing says the threads are blocked in wait() yet; the run is pending, so they cannot
  // have returned.
  BOOST_TEST(!released->is_set());
  io.reset();
  if (!released->wait()) {
    BOOST_ERROR("a blocking waiter was not released when the context was destroyed");
    for (auto& t : waiters) t.detach();
    return;
  }
  for (auto& t : waiters) t.join();
  BOOST_TEST(pending_at_release->load() == 0);
  // The handle necessarily outlives the context here: it is what the waiters blocked on.
  j->reset();
}

BOOST_AUTO_TEST_CASE(a_finished_runs_context_is_ignored) {
  asio::io_context io;
  jobs_test::gate g(io.get_executor());
  std::optional<jobs::context> kept;  // "offloaded work" that outlives its run
  std::vector<bool> canceled;
  jobs::job j(io, "late", [&](jobs::context& ctx) -> asio::awaitable<void> {
    if (ctx.params<int>() == 1) {
      kept.emplace(ctx);
      ctx.set_progress(0.5);
      ctx.set_result(1);
      co_return;
    }
    co_await g.wait();
  });
  BOOST_TEST(j.run(1));
  io.run();
  BOOST_TEST_REQUIRE(kept.has_value());
  BOOST_TEST_REQUIRE(j.state() == state::succeeded);
  kept->set_progress(0.9);
  kept->set_result(99);
  BOOST_TEST(j.progress() == 0.5);
  BOOST_TEST(j.result<int>() == 1);

  BOOST_TEST(j.run(2));
  BOOST_TEST_REQUIRE(jobs_test::poll_until(io, [&] { return g.waiting() == 1; }));
  kept->set_progress(0.8);
  kept->set_result(98);
  BOOST_TEST(j.progress() == -1.0);  // never leaks into the next run
  BOOST_TEST(!j.result().has_value());
  BOOST_TEST(j.cancel());
  BOOST_TEST(!kept->is_canceled());  // the old run's context is not this run's
  BOOST_TEST(!kept->cancel_reason());
  BOOST_TEST(kept->id() == "late");
  BOOST_TEST(kept->params<int>() == 1);
  io.restart();
  io.run();
  BOOST_TEST(j.state() == state::canceled);
  BOOST_TEST(j.progress() == -1.0);
  BOOST_TEST(!j.result().has_value());
  kept.reset();
}

BOOST_AUTO_TEST_CASE(late_reports_from_offloaded_threads_are_ignored) {
  asio::thread_pool pool(4);
  jobs_test::event run_over, reported;
  std::thread late;
  jobs::job j(pool, "late-thread", [&](jobs::context& ctx) -> asio::awaitable<void> {
    ctx.set_progress(0.25);
    late = std::thread([ctx, &run_over, &reported]() mutable {
      run_over.wait();
      ctx.set_progress(1.0);
      ctx.set_result(std::string("too late"));
      reported.set();
    });
    co_return;
  });
  BOOST_TEST(j.run());
  j.wait();
  run_over.set();
  BOOST_TEST_REQUIRE(reported.wait());
  late.join();
  BOOST_TEST(j.state() == state::succeeded);
  BOOST_TEST(j.progress() == 0.25);
  BOOST_TEST(!j.result().has_value());
}

BOOST_AUTO_TEST_CASE(a_kept_context_keeps_the_job_alive) {
  asio::io_context io;
  auto sentinel = std::make_shared<int>(0);
  std::weak_ptr<int> w = sentinel;
  std::optional<jobs::context> kept;
  {
    jobs::job j(io, "kept", [&, s = std::move(sentinel)](jobs::context& ctx) -> asio::awaitable<void> {
      kept.emplace(ctx);
      co_return;
    });
    BOOST_TEST(j.run());
    io.run();
  }
  BOOST_TEST_REQUIRE(kept.has_value());
  BOOST_TEST(!w.expired());
  BOOST_TEST(kept->id() == "kept");
  kept->set_progress(0.5);  // ignored, and safe
  kept.reset();
  BOOST_TEST(w.expired());
}

// The context's shutdown releases the job's strand before it destroys the suspended bodies'
// frames when the application made its I/O (here a timer) before its first job, as servers do:
// a body's destructor that asks for its executor then still gets one it can post to (an empty
// executor would throw from inside the frame's destruction). What it posts never runs.
BOOST_AUTO_TEST_CASE(a_body_destroyed_at_shutdown_can_still_post_to_its_executor) {
  auto io = std::make_unique<asio::io_context>();
  { asio::steady_timer early(*io); }  // the context's timer service exists before the job's
  bool destroyed = false, had_executor = false, posted = false, ran = false;
  struct on_destroy {
    jobs::context& ctx;
    bool &destroyed, &had_executor, &posted, &ran;
    ~on_destroy() {
      destroyed = true;
      const auto ex = ctx.get_executor();
      had_executor = static_cast<bool>(ex);
      try {
        asio::post(ex, [&r = ran] { r = true; });
        posted = true;
      } catch (...) {
      }
    }
  };
  {
    jobs::job j(*io, "destroyed", [&](jobs::context& ctx) -> asio::awaitable<void> {
      on_destroy guard{ctx, destroyed, had_executor, posted, ran};
      co_await jobs_test::forever(ctx.get_executor());
    });
    BOOST_TEST(j.run());
    io->poll();
    BOOST_TEST(j.is_executing());
  }
  io.reset();
  BOOST_TEST(destroyed);
  BOOST_TEST(had_executor);
  BOOST_TEST(posted);
  BOOST_TEST(!ran);
}

// A context copied out of a body may outlive the execution context itself: dropping it then
// frees the run and the job without touching the context's (destroyed) strand service.
BOOST_AUTO_TEST_CASE(a_kept_context_may_outlive_the_execution_context) {
  auto io = std::make_unique<asio::io_context>();
  auto sentinel = std::make_shared<int>(0);
  std::weak_ptr<int> w = sentinel;
  std::optional<jobs::context> kept;
  {
    jobs::job j(*io, "outlived", [&, s = std::move(sentinel)](jobs::context& ctx) -> asio::awaitable<void> {
      kept.emplace(ctx);
      co_return;
    });
    BOOST_TEST(j.run());
    io->run();
    BOOST_TEST(j.is_state(state::succeeded));
  }
  io.reset();
  BOOST_TEST_REQUIRE(kept.has_value());
  BOOST_TEST(kept->id() == "outlived");
  kept.reset();  // the last owner of the run and its job
  BOOST_TEST(w.expired());
}

BOOST_AUTO_TEST_SUITE_END()
