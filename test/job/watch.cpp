// async_watch (libjob's event-driven watch, as documented in jobs/job.hpp): snapshots on change,
// coalescing, no missed run ends, cancellation of the watch only.
#include <jobs/job.hpp>

#include "test_util.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/test/unit_test.hpp>

#include <optional>
#include <vector>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using boost::system::error_code;
using jobs::state;

namespace {

struct watch_result {
  int calls = 0;
  error_code ec = asio::error::eof;
  jobs::stats snap;
  auto handler() {
    return [this](error_code e, jobs::stats s) {
      ++calls;
      ec = e;
      snap = std::move(s);
    };
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(watch)

BOOST_AUTO_TEST_CASE(a_version_older_than_the_jobs_completes_at_once_but_not_inline) {
  asio::io_context io;
  jobs::job j(io, "w", [](jobs::context&) -> asio::awaitable<void> { co_return; });
  BOOST_TEST(j.run());
  io.run();
  const auto now = j.stats();
  BOOST_TEST(now.version > 0u);
  watch_result r;
  j.async_watch(0, r.handler());
  BOOST_TEST(r.calls == 0);
  io.restart();
  io.run();
  BOOST_TEST(r.calls == 1);
  BOOST_TEST(!r.ec);
  BOOST_TEST(r.snap.state == state::succeeded);
  BOOST_TEST(r.snap.version == now.version);
  BOOST_TEST(r.snap.id == "w");
}

BOOST_AUTO_TEST_CASE(a_watch_at_the_current_version_waits_for_the_next_change) {
  asio::io_context io;
  jobs_test::gate g(io.get_executor());
  jobs::job j(io, "w", [&](jobs::context& ctx) -> asio::awaitable<void> {
    co_await g.wait();
    ctx.set_progress(0.5);
    co_await g.wait();
  });
  BOOST_TEST(j.run());
  BOOST_TEST_REQUIRE(jobs_test::poll_until(io, [&] { return g.waiting() == 1; }));
  const auto v = j.stats().version;
  watch_result r;
  j.async_watch(v, r.handler());
  io.poll();
  BOOST_TEST(r.calls == 0);
  g.open();  // the body sets progress 0.5 and then returns
  BOOST_TEST_REQUIRE(jobs_test::poll_until(io, [&] { return r.calls == 1; }));
  BOOST_TEST(!r.ec);
  BOOST_TEST(r.snap.version > v);
  io.run();
  BOOST_TEST(j.state() == state::succeeded);
}

// jobs/job.hpp: "0 (or any version older than the job's) gets the current snapshot at once."
BOOST_AUTO_TEST_CASE(a_fresh_job_watched_from_zero_completes_at_once) {
  asio::io_context io;
  jobs::job j(io, "fresh", [](jobs::context&) -> asio::awaitable<void> { co_return; });
  watch_result r;
  j.async_watch(0, r.handler());
  io.poll();
  BOOST_TEST(r.calls == 1);
  BOOST_TEST(!r.ec);
  BOOST_TEST(r.snap.state == state::created);
  BOOST_TEST(r.snap.id == "fresh");
}

BOOST_AUTO_TEST_CASE(following_a_job_sees_its_run_begin_and_end) {
  asio::io_context io;
  jobs::job j(io, "follow", [](jobs::context& ctx) -> asio::awaitable<void> {
    for (int i = 1; i <= 3; ++i) {
      asio::steady_timer t(ctx.get_executor(), 1ms);
      co_await t.async_wait(asio::use_awaitable);
      ctx.set_progress(i / 3.0);
    }
  });
  std::vector<jobs::stats> seen;
  bool done = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        std::uint64_t v = j.stats().version;
        for (;;) {
          auto s = co_await j.async_watch(v);  // deferred: throws on error
          v = s.version;
          seen.push_back(s);
          if (jobs::is_done(s.state)) break;
        }
        done = true;
      },
      asio::detached);
  io.poll();
  BOOST_TEST(j.run());
  BOOST_TEST_REQUIRE(jobs_test::poll_until(io, [&] { return done; }));
  BOOST_TEST_REQUIRE(!seen.empty());
  BOOST_TEST(seen.front().state == state::running);
  BOOST_TEST(seen.back().state == state::succeeded);
  BOOST_TEST(seen.back().progress == 1.0);
  for (std::size_t i = 1; i < seen.size(); ++i) BOOST_TEST(seen[i].version > seen[i - 1].version);
}

BOOST_AUTO_TEST_CASE(no_run_end_is_missed_by_a_watcher_that_rearms_late) {
  asio::io_context io;
  jobs::job j(io, "ends", [](jobs::context& ctx) -> asio::awaitable<void> {
    ctx.set_progress(ctx.params<int>() / 10.0);
    co_return;
  });
  // Start watching (the job keeps run ends once it has been watched).
  watch_result first;
  j.async_watch(0, first.handler());
  io.poll();
  std::uint64_t v = first.calls ? first.snap.version : 0;
  for (int i = 1; i <= 3; ++i) {
    BOOST_TEST(j.run(i));
    io.restart();
    io.run();
  }
  // Three runs ended while nobody was watching: re-arming with the last version seen gets
  // each end, oldest first.
  std::vector<double> ends;
  for (int k = 0; k < 10 && ends.size() < 3; ++k) {
    watch_result r;
    j.async_watch(v, r.handler());
    io.restart();
    io.poll();
    if (r.calls != 1) break;
    v = r.snap.version;
    if (jobs::is_done(r.snap.state)) ends.push_back(r.snap.progress);
  }
  BOOST_TEST(ends == (std::vector<double>{0.1, 0.2, 0.3}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(cancelling_a_watch_cancels_only_the_watch) {
  for (auto type : {asio::cancellation_type::terminal, asio::cancellation_type::partial,
                    asio::cancellation_type::total}) {
    BOOST_TEST_CONTEXT("type " << int(type)) {
      asio::io_context io;
      jobs_test::gate g(io.get_executor());
      jobs::job j(io, "cw", [&](jobs::context&) -> asio::awaitable<void> { co_await g.wait(); });
      BOOST_TEST(j.run());
      BOOST_TEST_REQUIRE(jobs_test::poll_until(io, [&] { return g.waiting() == 1; }));
      asio::cancellation_signal sig;
      watch_result r;
      j.async_watch(j.stats().version, asio::bind_cancellation_slot(sig.slot(), r.handler()));
      io.poll();
      BOOST_TEST(r.calls == 0);
      sig.emit(type);
      BOOST_TEST_REQUIRE(jobs_test::poll_until(io, [&] { return r.calls == 1; }));
      BOOST_TEST(r.ec == asio::error::operation_aborted);
      BOOST_TEST(j.state() == state::running);
      g.open();
      io.run();
      BOOST_TEST(r.calls == 1);
      BOOST_TEST(j.state() == state::succeeded);
    }
  }
}

BOOST_AUTO_TEST_CASE(version_zero_gets_the_current_state_never_an_old_runs_end) {
  // The repro of the review: once watched, the job keeps its run ends; a later watch from 0 must
  // still see the job as it is (running), not the end of an earlier run.
  asio::io_context io;
  jobs::job j(io, "stale", [](jobs::context& ctx) -> asio::awaitable<void> {
    asio::steady_timer t(ctx.get_executor(), 50ms);
    co_await t.async_wait(asio::use_awaitable);
  });
  std::optional<jobs::stats> late;
  bool done = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        (void)co_await j.async_watch(0);  // from here on the job keeps its run ends
        co_await j.async_run();
        co_await j.async_run();
        BOOST_TEST(j.run());
        late = co_await j.async_watch(0);
        // The README's loop, from 0: it must follow the third run to its end, not stop at once.
        std::vector<jobs::stats> seen;
        for (std::uint64_t v = 0;;) {
          auto s = co_await j.async_watch(v);
          v = s.version;
          seen.push_back(s);
          if (jobs::is_done(s.state)) break;
        }
        BOOST_TEST(seen.front().state == state::running);
        BOOST_TEST(seen.back().state == state::succeeded);
        done = true;
      },
      asio::detached);
  io.run();
  BOOST_TEST(done);
  BOOST_TEST_REQUIRE(late.has_value());
  BOOST_TEST(late->state == state::running);
}

BOOST_AUTO_TEST_CASE(a_version_older_than_the_kept_run_ends_gets_the_current_state) {
  // 64 run ends are kept; a watcher 70 runs behind cannot be shown each one it missed, so it
  // gets the job as it is now, not the oldest end still kept.
  asio::io_context io;
  jobs::job j(io, "behind", [](jobs::context&) -> asio::awaitable<void> { co_return; });
  watch_result first;
  j.async_watch(0, first.handler());
  io.poll();
  BOOST_TEST_REQUIRE(first.calls == 1);
  const std::uint64_t v = first.snap.version;
  for (int i = 0; i < 70; ++i) {
    BOOST_TEST(j.run());
    io.restart();
    io.run();
  }
  BOOST_TEST(j.run());  // running now
  const std::uint64_t now = j.stats().version;
  watch_result r;
  j.async_watch(v, r.handler());  // the snapshot is taken here
  io.restart();
  io.run();
  BOOST_TEST_REQUIRE(r.calls == 1);
  BOOST_TEST(r.snap.state == state::running);
  BOOST_TEST(r.snap.version == now);
}

BOOST_AUTO_TEST_SUITE_END()
