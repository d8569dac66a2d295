// job::run(): admission, per-run reset, params, results, progress, timing and the getters.
#include <jobs/job.hpp>

#include "test_util.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cctype>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using jobs::state;
using sys_clock = std::chrono::system_clock;

namespace {

// 8-4-4-4-12 hex digits.
bool looks_like_uuid(const std::string& s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return false;
    } else if (!std::isxdigit(static_cast<unsigned char>(s[i]))) {
      return false;
    }
  }
  return true;
}

jobs::body noop() {
  return [](jobs::context&) -> asio::awaitable<void> { co_return; };
}

}  // namespace

BOOST_AUTO_TEST_SUITE(run)

BOOST_AUTO_TEST_CASE(a_new_job_is_created_and_idle) {
  asio::io_context io;
  const auto before = sys_clock::now();
  jobs::job j(io, "fresh", noop());
  const auto after = sys_clock::now();
  BOOST_TEST(j.state() == state::created);
  BOOST_TEST(j.is_state(state::created));
  BOOST_TEST(!j.is_done());
  BOOST_TEST(!j.is_executing());
  BOOST_TEST(j.progress() == -1.0);
  BOOST_TEST(!j.result().has_value());
  BOOST_TEST(!j.error());
  BOOST_TEST((j.started_at() == sys_clock::time_point{}));
  BOOST_TEST((j.ended_at() == sys_clock::time_point{}));
  BOOST_TEST(j.execution_time().count() == 0);
  BOOST_TEST((j.created_at() >= before && j.created_at() <= after));
  BOOST_TEST(j.id() == "fresh");
  BOOST_TEST(j.labels().empty());
}

BOOST_AUTO_TEST_CASE(run_returns_true_with_the_state_running_and_the_body_not_yet_started) {
  asio::io_context io;
  int calls = 0;
  jobs::job j(io, "r", [&](jobs::context&) -> asio::awaitable<void> {
    ++calls;
    co_return;
  });
  BOOST_TEST(j.run());
  BOOST_TEST(j.state() == state::running);
  BOOST_TEST(j.is_executing());
  BOOST_TEST(!j.is_done());
  BOOST_TEST(calls == 0);  // never inside run()
  io.run();
  BOOST_TEST(calls == 1);
  BOOST_TEST(j.state() == state::succeeded);
  BOOST_TEST(j.is_done());
  BOOST_TEST(!j.is_executing());
  BOOST_TEST(!j.error());
}

// Also when run() is called on a thread that is running the job's executor (where a dispatch
// could run the body inline): from a handler, and from another job's body.
BOOST_AUTO_TEST_CASE(the_body_never_starts_inside_run_even_from_the_executors_thread) {
  asio::io_context io;
  int calls = 0;
  jobs::job j(io, "inner", [&](jobs::context&) -> asio::awaitable<void> {
    ++calls;
    co_return;
  });
  int seen_in_handler = -1, seen_in_body = -1;
  asio::post(io, [&] {
    BOOST_TEST(j.run());
    seen_in_handler = calls;
  });
  io.run();
  BOOST_TEST(seen_in_handler == 0);
  BOOST_TEST(calls == 1);

  jobs::job outer(io, "outer", [&](jobs::context&) -> asio::awaitable<void> {
    BOOST_TEST(j.run());
    seen_in_body = calls;
    co_return;
  });
  BOOST_TEST(outer.run());
  io.restart();
  io.run();
  BOOST_TEST(seen_in_body == 1);
  BOOST_TEST(calls == 2);
}

BOOST_AUTO_TEST_CASE(run_is_refused_while_a_run_is_pending) {
  asio::io_context io;
  jobs_test::gate g(io.get_executor());
  int calls = 0;
  jobs::job j(io, "r", [&](jobs::context&) -> asio::awaitable<void> {
    ++calls;
    co_await g.wait();
  });
  BOOST_TEST(j.run(1));
  BOOST_TEST(!j.run(2));
  BOOST_TEST_REQUIRE(jobs_test::poll_until(io, [&] { return g.waiting() == 1; }));
  BOOST_TEST(!j.run(3));
  BOOST_TEST(j.state() == state::running);
  BOOST_TEST(j.cancel());
  BOOST_TEST(!j.run(4));  // canceling is pending too
  BOOST_TEST(j.state() == state::canceling);
  BOOST_TEST_REQUIRE(jobs_test::poll_until(io, [&] { return j.is_done(); }));
  io.run();
  BOOST_TEST(calls == 1);
}

BOOST_AUTO_TEST_CASE(run_starts_again_after_each_kind_of_end) {
  asio::io_context io;
  int calls = 0;
  jobs::job j(io, "again", [&](jobs::context& ctx) -> asio::awaitable<void> {
    ++calls;
    const auto mode = ctx.params<int>();
    if (mode == 1) throw std::runtime_error("fail");
    if (mode == 2) co_await jobs_test::forever(ctx.get_executor());
  });
  BOOST_TEST(j.run(0));
  io.run();
  BOOST_TEST(j.state() == state::succeeded);
  BOOST_TEST(j.run(1));
  io.restart();
  io.run();
  BOOST_TEST(j.state() == state::failed);
  BOOST_TEST(j.run(2));
  io.restart();
  io.poll();
  BOOST_TEST(j.cancel());
  io.run();
  BOOST_TEST(j.state() == state::canceled);
  BOOST_TEST(j.run(0));
  io.restart();
  io.run();
  BOOST_TEST(j.state() == state::succeeded);
  BOOST_TEST(calls == 4);
}

BOOST_AUTO_TEST_CASE(params_reach_the_body) {
  asio::io_context io;
  std::vector<std::string> seen;
  bool had_value = true;
  jobs::job j(io, "p", [&](jobs::context& ctx) -> asio::awaitable<void> {
    if (!ctx.params().has_value()) {
      had_value = false;
      co_return;
    }
    seen = ctx.params<std::vector<std::string>>();
    co_return;
  });
  BOOST_TEST(j.run(std::vector<std::string>{"a", "b"}));
  io.run();
  BOOST_TEST(seen == (std::vector<std::string>{"a", "b"}));
  BOOST_TEST(had_value);

  BOOST_TEST(j.run());  // default: no params
  io.restart();
  io.run();
  BOOST_TEST(!had_value);
}

BOOST_AUTO_TEST_CASE(params_are_per_run) {
  asio::io_context io;
  std::vector<int> seen;
  jobs::job j(io, "p", [&](jobs::context& ctx) -> asio::awaitable<void> {
    seen.push_back(ctx.params<int>());
    co_return;
  });
  for (int i = 1; i <= 3; ++i) {
    BOOST_TEST(j.run(i * 10));
    io.restart();
    io.run();
  }
  BOOST_TEST(seen == (std::vector<int>{10, 20, 30}));
}

BOOST_AUTO_TEST_CASE(result_is_the_last_value_set) {
  asio::io_context io;
  jobs_test::gate g(io.get_executor());
  jobs::job j(io, "res", [&](jobs::context& ctx) -> asio::awaitable<void> {
    ctx.set_result(std::string("first"));
    co_await g.wait();
    ctx.set_result(std::string("second"));
  });
  BOOST_TEST(!j.result().has_value());
  BOOST_TEST(j.run());
  BOOST_TEST_REQUIRE(jobs_test::poll_until(io, [&] { return g.waiting() == 1; }));
  BOOST_TEST(j.result<std::string>() == "first");  // visible while running
  g.open();
  io.run();
  BOOST_TEST(j.result<std::string>() == "second");
  BOOST_TEST(std::any_cast<std::string>(j.result()) == "second");
}

BOOST_AUTO_TEST_CASE(progress_is_visible_while_running_and_kept_after) {
  asio::io_context io;
  jobs_test::gate g(io.get_executor());
  jobs::job j(io, "prog", [&](jobs::context& ctx) -> asio::awaitable<void> {
    ctx.set_progress(0.25);
    co_await g.wait();
    ctx.set_progress(0.75);
  });
  BOOST_TEST(j.progress() == -1.0);
  BOOST_TEST(j.run());
  BOOST_TEST(j.progress() == -1.0);
  BOOST_TEST_REQUIRE(jobs_test::poll_until(io, [&] { return g.waiting() == 1; }));
  BOOST_TEST(j.progress() == 0.25);
  g.open();
  io.run();
  BOOST_TEST(j.progress() == 0.75);
}

BOOST_AUTO_TEST_CASE(progress_may_go_down) {
  asio::io_context io;
  jobs::job j(io, "down", [&](jobs::context& ctx) -> asio::awaitable<void> {
    ctx.set_progress(0.9);
    ctx.set_progress(0.1);
    co_return;
  });
  BOOST_TEST(j.run());
  io.run();
  BOOST_TEST(j.progress() == 0.1);
}

BOOST_AUTO_TEST_CASE(each_run_resets_the_per_run_data_before_run_returns) {
  asio::io_context io;
  jobs_test::gate g(io.get_executor());
  jobs::job j(io, "reset", [&](jobs::context& ctx) -> asio::awaitable<void> {
    if (ctx.params<int>() == 1) {
      ctx.set_progress(0.5);
      ctx.set_result(7);
      throw std::runtime_error("first run fails");
    }
    co_await g.wait();
  });
  BOOST_TEST(j.run(1));
  io.run();
  BOOST_TEST_REQUIRE(j.state() == state::failed);
  BOOST_TEST(j.progress() == 0.5);
  BOOST_TEST(j.result<int>() == 7);
  BOOST_TEST(bool(j.error()));
  const auto first_start = j.started_at();
  BOOST_TEST((j.ended_at() != sys_clock::time_point{}));

  const auto before = sys_clock::now();
  BOOST_TEST(j.run(2));
  const auto after = sys_clock::now();
  // Everything is reset when run() returns, before the body has had a chance to run.
  BOOST_TEST(j.progress() == -1.0);
  BOOST_TEST(!j.result().has_value());
  BOOST_TEST(!j.error());
  BOOST_TEST((j.ended_at() == sys_clock::time_point{}));
  BOOST_TEST((j.started_at() >= before && j.started_at() <= after));
  BOOST_TEST((j.started_at() >= first_start));
  BOOST_TEST(j.stats().error.empty());
  g.open();
  io.restart();
  io.run();
  BOOST_TEST(j.state() == state::succeeded);
}

BOOST_AUTO_TEST_CASE(timestamps_are_ordered) {
  asio::io_context io;
  jobs::job j(io, "ts", [&](jobs::context& ctx) -> asio::awaitable<void> {
    asio::steady_timer t(ctx.get_executor(), 5ms);
    co_await t.async_wait(asio::use_awaitable);
  });
  const auto before = sys_clock::now();
  BOOST_TEST(j.run());
  io.run();
  const auto after = sys_clock::now();
  BOOST_TEST((j.created_at() <= j.started_at()));
  BOOST_TEST((j.started_at() >= before));
  BOOST_TEST((j.started_at() <= j.ended_at()));
  BOOST_TEST((j.ended_at() <= after));
}

BOOST_AUTO_TEST_CASE(execution_time_covers_the_body_and_then_stays_fixed) {
  asio::io_context io;
  jobs::job j(io, "et", [&](jobs::context& ctx) -> asio::awaitable<void> {
    asio::steady_timer t(ctx.get_executor(), 20ms);
    co_await t.async_wait(asio::use_awaitable);
  });
  BOOST_TEST(j.execution_time().count() == 0);
  const auto t0 = std::chrono::steady_clock::now();
  BOOST_TEST(j.run());
  io.run();
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  const auto et = j.execution_time();
  BOOST_TEST(et >= 20ms);
  BOOST_TEST(et <= elapsed);
  // Not "so far" any more: it stays the last run's.
  asio::steady_timer pause(io, 5ms);
  pause.wait();
  BOOST_TEST(j.execution_time() == et);
}

BOOST_AUTO_TEST_CASE(execution_time_grows_while_running) {
  asio::io_context io;
  jobs::job j(io, "grow", [&](jobs::context& ctx) -> asio::awaitable<void> {
    co_await jobs_test::forever(ctx.get_executor());
  });
  const auto t0 = std::chrono::steady_clock::now();
  BOOST_TEST(j.run());
  const auto first = j.execution_time();
  asio::steady_timer pause(io, 10ms);
  pause.wait();
  const auto second = j.execution_time();
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  BOOST_TEST(first >= std::chrono::nanoseconds(0));
  BOOST_TEST(second >= first + 10ms);
  BOOST_TEST(second <= elapsed);
  BOOST_TEST(j.cancel());
  io.run();
}

BOOST_AUTO_TEST_CASE(an_empty_id_gets_a_random_uuid) {
  asio::io_context io;
  jobs::job a(io, "", noop());
  jobs::job b(io, "", noop());
  BOOST_TEST(looks_like_uuid(a.id()), a.id());
  BOOST_TEST(looks_like_uuid(b.id()), b.id());
  BOOST_TEST(!looks_like_uuid("0123456789abcdef0123456789abcdef0123"));
  BOOST_TEST(a.id() != b.id());
}

BOOST_AUTO_TEST_CASE(labels_come_from_the_options) {
  asio::io_context io;
  jobs::labels seen;
  jobs::job j(
      io, "l",
      [&](jobs::context& ctx) -> asio::awaitable<void> {
        seen = ctx.labels();
        co_return;
      },
      jobs::with_label("env", "prod"), jobs::with_label("team", "core"));
  const jobs::labels want{{"env", "prod"}, {"team", "core"}};
  BOOST_TEST((j.labels() == want));
  BOOST_TEST(j.run());
  io.run();
  BOOST_TEST((seen == want));
  BOOST_TEST((j.stats().labels == want));
}

BOOST_AUTO_TEST_CASE(a_job_without_labels_has_none_everywhere) {
  asio::io_context io;
  jobs::labels seen{{"not", "yet"}};
  jobs::job j(io, "nl", [&](jobs::context& ctx) -> asio::awaitable<void> {
    seen = ctx.labels();
    co_return;
  });
  BOOST_TEST(j.run());
  io.run();
  BOOST_TEST(seen.empty());
  BOOST_TEST(j.labels().empty());
  BOOST_TEST(j.stats().labels.empty());
}

BOOST_AUTO_TEST_CASE(copies_refer_to_the_same_job) {
  asio::io_context io;
  int calls = 0;
  jobs::job j(io, "copy", [&](jobs::context&) -> asio::awaitable<void> {
    ++calls;
    co_return;
  });
  jobs::job k = j;
  BOOST_TEST((k == j));
  BOOST_TEST(k.run());
  BOOST_TEST(j.is_state(state::running));
  BOOST_TEST(!j.run());
  io.run();
  BOOST_TEST(j.is_state(state::succeeded));
  BOOST_TEST(calls == 1);
  jobs::job other(io, "copy", noop());
  BOOST_TEST(!(other == j));  // same id, another job
}

BOOST_AUTO_TEST_CASE(get_executor_is_the_one_given) {
  asio::io_context io;
  jobs::job a(io, "a", noop());
  BOOST_TEST((a.get_executor() == asio::any_io_executor(io.get_executor())));
  auto s = asio::make_strand(io);
  jobs::job b(s, "b", noop());
  BOOST_TEST((b.get_executor() == asio::any_io_executor(s)));
  asio::thread_pool pool(1);
  jobs::job c(pool.get_executor(), "c", noop());
  BOOST_TEST((c.get_executor() == asio::any_io_executor(pool.get_executor())));
}

BOOST_AUTO_TEST_CASE(the_body_runs_on_a_strand_of_the_executor) {
  asio::io_context io;
  bool on_strand = false;
  bool on_io = false;
  bool is_a_strand = false;
  asio::any_io_executor ctx_ex;
  jobs::job j(io, "strand", [&](jobs::context& ctx) -> asio::awaitable<void> {
    ctx_ex = ctx.get_executor();
    // A strand of the io_context's executor itself (or, for other executors, of the type-erased
    // one). Looked up in ctx_ex, not in a temporary: the strand may live in the executor's own
    // small buffer.
    if (auto* s = ctx_ex.target<asio::strand<asio::io_context::executor_type>>()) {
      is_a_strand = true;
      on_strand = s->running_in_this_thread();
    } else if (auto* s = ctx_ex.target<asio::strand<asio::any_io_executor>>()) {
      is_a_strand = true;
      on_strand = s->running_in_this_thread();
    }
    on_io = io.get_executor().running_in_this_thread();
    co_return;
  });
  BOOST_TEST(j.run());
  io.run();
  BOOST_TEST(is_a_strand);
  BOOST_TEST(on_strand);
  BOOST_TEST(on_io);
  BOOST_TEST(!(ctx_ex == j.get_executor()));
}

BOOST_AUTO_TEST_CASE(construction_from_contexts_and_executors) {
  asio::io_context io;
  asio::thread_pool pool(2);
  int calls = 0;
  auto body = [&](jobs::context&) -> asio::awaitable<void> {
    ++calls;
    co_return;
  };
  jobs::job from_io(io, "io", body);
  jobs::job from_io_ex(io.get_executor(), "io-ex", body);
  jobs::job from_strand(asio::make_strand(io), "strand", body);
  BOOST_TEST(from_io.run());
  BOOST_TEST(from_io_ex.run());
  BOOST_TEST(from_strand.run());
  io.run();
  BOOST_TEST(calls == 3);

  std::atomic<int> pool_calls{0};
  jobs::job from_pool(pool, "pool", [&](jobs::context&) -> asio::awaitable<void> {
    ++pool_calls;
    co_return;
  });
  BOOST_TEST(from_pool.run());
  from_pool.wait();
  BOOST_TEST(pool_calls == 1);
  BOOST_TEST(from_pool.is_state(state::succeeded));

  // The ExecutionContext& constructor is only for execution contexts.
  static_assert(std::is_constructible_v<jobs::job, asio::io_context&, std::string, jobs::body>);
  static_assert(std::is_constructible_v<jobs::job, asio::thread_pool&, std::string, jobs::body>);
  static_assert(!std::is_constructible_v<jobs::job, int&, std::string, jobs::body>);
  static_assert(!std::is_constructible_v<jobs::job, std::string&, std::string, jobs::body>);
}

BOOST_AUTO_TEST_CASE(context_sees_the_job) {
  asio::io_context io;
  std::string id;
  jobs::labels labels;
  bool canceled = true;
  boost::system::error_code reason = jobs::errc::once;
  jobs::job j(
      io, "ctx",
      [&](jobs::context& ctx) -> asio::awaitable<void> {
        id = ctx.id();
        labels = ctx.labels();
        canceled = ctx.is_canceled();
        reason = ctx.cancel_reason();
        co_return;
      },
      jobs::with_label("k", "v"));
  BOOST_TEST(j.run());
  io.run();
  BOOST_TEST(id == "ctx");
  BOOST_TEST((labels == jobs::labels{{"k", "v"}}));
  BOOST_TEST(!canceled);
  BOOST_TEST(!reason);
}

BOOST_AUTO_TEST_CASE(many_jobs_on_one_context_run_independently) {
  asio::io_context io;
  std::vector<jobs::job> all;
  std::set<std::string> ran;
  for (int i = 0; i < 20; ++i) {
    all.emplace_back(io, "j" + std::to_string(i), [&](jobs::context& ctx) -> asio::awaitable<void> {
      asio::steady_timer t(ctx.get_executor(), 1ms);
      co_await t.async_wait(asio::use_awaitable);
      ran.insert(ctx.id());
      ctx.set_result(ctx.id());
    });
  }
  for (auto& j : all) BOOST_TEST(j.run());
  io.run();
  BOOST_TEST(ran.size() == all.size());
  for (auto& j : all) {
    BOOST_TEST(j.is_state(state::succeeded));
    BOOST_TEST(j.result<std::string>() == j.id());
  }
}

BOOST_AUTO_TEST_SUITE_END()
