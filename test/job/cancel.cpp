// cancel(), the body's view of cancellation, and per-operation cancellation of async_run.
#include <jobs/job.hpp>

#include "test_util.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <stdexcept>
#include <string>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using jobs::state;

namespace {

struct cancel_test_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A job whose body waits until it is cancelled, then does what `after` says.
enum class after_cancel { rethrow, return_normally, throw_own };

}  // namespace

BOOST_AUTO_TEST_SUITE(cancel)

BOOST_AUTO_TEST_CASE(cancel_is_refused_when_not_running) {
  asio::io_context io;
  jobs::job j(io, "c", [](jobs::context&) -> asio::awaitable<void> { co_return; });
  BOOST_TEST(!j.cancel());
  BOOST_TEST(j.state() == state::created);
  BOOST_TEST(j.run());
  io.run();
  BOOST_TEST(j.state() == state::succeeded);
  BOOST_TEST(!j.cancel());
  BOOST_TEST(j.state() == state::succeeded);
  BOOST_TEST(!j.error());
}

BOOST_AUTO_TEST_CASE(cancel_moves_to_canceling_once) {
  asio::io_context io;
  jobs::job j(io, "c", [](jobs::context& ctx) -> asio::awaitable<void> {
    co_await jobs_test::forever(ctx.get_executor());
  });
  BOOST_TEST(j.run());
  io.poll();
  BOOST_TEST(j.cancel());
  BOOST_TEST(j.state() == state::canceling);
  BOOST_TEST(j.is_executing());
  BOOST_TEST(!j.is_done());
  BOOST_TEST(!j.cancel());  // already canceling
  BOOST_TEST(j.state() == state::canceling);
  io.run();
  BOOST_TEST(j.state() == state::canceled);
  BOOST_TEST(!j.cancel());
}

BOOST_AUTO_TEST_CASE(the_awaited_operation_completes_with_operation_aborted) {
  for (auto mode : {after_cancel::rethrow, after_cancel::return_normally, after_cancel::throw_own}) {
    BOOST_TEST_CONTEXT("mode " << int(mode)) {
      asio::io_context io;
      boost::system::error_code seen;
      std::exception_ptr own;
      jobs::job j(io, "c", [&](jobs::context& ctx) -> asio::awaitable<void> {
        seen = co_await jobs_test::forever_ec(ctx.get_executor());
        switch (mode) {
          case after_cancel::rethrow: throw boost::system::system_error(seen);
          case after_cancel::return_normally: co_return;
          case after_cancel::throw_own: try { throw cancel_test_error("cleanup failed");
            } catch (...) {
              own = std::current_exception();
              throw;
            }
        }
      });
      BOOST_TEST(j.run());
      io.poll();
      BOOST_TEST(j.cancel());
      io.run();
      BOOST_TEST(seen == asio::error::operation_aborted);
      BOOST_TEST(j.state() == state::canceled);
      BOOST_TEST_REQUIRE(bool(j.error()));  // a canceled run always has an error
      if (mode == after_cancel::throw_own) {
        BOOST_TEST((j.error() == own));
        BOOST_CHECK_THROW(std::rethrow_exception(j.error()), cancel_test_error);
        BOOST_TEST(j.stats().error == "cleanup failed");
      } else {
        BOOST_TEST(jobs_test::code_of(j.error()) == jobs::errc::canceled);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(a_body_that_does_not_catch_ends_canceled_with_errc_canceled) {
  asio::io_context io;
  jobs::job j(io, "c", [&](jobs::context& ctx) -> asio::awaitable<void> {
    asio::steady_timer t(ctx.get_executor(), 1h);
    co_await t.async_wait(asio::use_awaitable);
  });
  BOOST_TEST(j.run());
  io.poll();
  BOOST_TEST(j.cancel());
  io.run();
  BOOST_TEST(j.state() == state::canceled);
  BOOST_TEST(jobs_test::code_of(j.error()) == jobs::errc::canceled);
}

BOOST_AUTO_TEST_CASE(a_body_that_finishes_its_work_anyway_still_ends_canceled) {
  asio::io_context io;
  jobs::job j(io, "c", [&](jobs::context& ctx) -> asio::awaitable<void> {
    co_await jobs_test::forever_ec(ctx.get_executor());
    ctx.set_result(std::string("done anyway"));
    ctx.set_progress(1.0);
  });
  BOOST_TEST(j.run());
  io.poll();
  BOOST_TEST(j.cancel());
  io.run();
  BOOST_TEST(j.state() == state::canceled);
  BOOST_TEST(jobs_test::code_of(j.error()) == jobs::errc::canceled);
  BOOST_TEST(j.result<std::string>() == "done anyway");
  BOOST_TEST(j.progress() == 1.0);
}

BOOST_AUTO_TEST_CASE(every_later_co_await_throws_operation_aborted) {
  asio::io_context io;
  boost::system::error_code second;
  jobs::job j(io, "c", [&](jobs::context& ctx) -> asio::awaitable<void> {
    co_await jobs_test::forever_ec(ctx.get_executor());
    try {
      asio::steady_timer t(ctx.get_executor(), 0ms);
      co_await t.async_wait(asio::use_awaitable);
    } catch (const boost::system::system_error& e) {
      second = e.code();
    }
  });
  BOOST_TEST(j.run());
  io.poll();
  BOOST_TEST(j.cancel());
  io.run();
  BOOST_TEST(second == asio::error::operation_aborted);
  BOOST_TEST(j.state() == state::canceled);
}

BOOST_AUTO_TEST_CASE(is_canceled_is_true_as_soon_as_cancel_returns_even_inside_the_body) {
  asio::io_context io;
  jobs::job* self = nullptr;
  bool before = true, returned = false, after = false, canceling = false;
  boost::system::error_code reason_before = jobs::errc::once, reason_after;
  jobs::job j(io, "self", [&](jobs::context& ctx) -> asio::awaitable<void> {
    before = ctx.is_canceled();
    reason_before = ctx.cancel_reason();
    returned = self->cancel();  // no co_await since the body began
    after = ctx.is_canceled();
    reason_after = ctx.cancel_reason();
    canceling = self->is_state(state::canceling);
    // Keeps this test about the flags: see a_body_that_cancels_itself_and_returns_at_once.
    co_await asio::this_coro::throw_if_cancelled(false);
  });
  self = &j;
  BOOST_TEST(j.run());
  io.run();
  BOOST_TEST(!before);
  BOOST_TEST(!reason_before);
  BOOST_TEST(returned);
  BOOST_TEST(after);
  BOOST_TEST(reason_after == jobs::errc::canceled);
  BOOST_TEST(canceling);
  BOOST_TEST(j.state() == state::canceled);
  BOOST_TEST(jobs_test::code_of(j.error()) == jobs::errc::canceled);
}

// cancel() from inside the body emits at once (the body runs on the strand); a body that then
// returns without suspending again must still end `canceled`, and nothing may escape io.run().
BOOST_AUTO_TEST_CASE(a_body_that_cancels_itself_and_returns_at_once) {
  asio::io_context io;
  jobs::job* self = nullptr;
  jobs::job j(io, "self", [&](jobs::context&) -> asio::awaitable<void> {
    self->cancel();
    co_return;
  });
  self = &j;
  BOOST_TEST(j.run());
  std::string escaped;
  try {
    io.run();
  } catch (const std::exception& e) {
    escaped = e.what();
  }
  BOOST_TEST(escaped.empty(), "escaped io.run(): " << escaped);
  BOOST_TEST(j.state() == state::canceled);
  BOOST_TEST(jobs_test::code_of(j.error()) == jobs::errc::canceled);
}

// A CPU-bound body that never yields sees the flag from another thread's cancel().
BOOST_AUTO_TEST_CASE(a_body_that_never_yields_sees_is_canceled) {
  asio::thread_pool pool(2);
  jobs_test::event started;
  std::atomic<bool> saw_cancel{false};
  std::atomic<bool> reason_ok{false};
  jobs::job j(pool, "spin", [&](jobs::context& ctx) -> asio::awaitable<void> {
    started.set();
    const auto deadline = std::chrono::steady_clock::now() + jobs_test::cap;
    while (!ctx.is_canceled() && std::chrono::steady_clock::now() < deadline) {
    }
    saw_cancel = ctx.is_canceled();
    reason_ok = ctx.cancel_reason() == jobs::errc::canceled;
    co_return;
  });
  BOOST_TEST(j.run());
  BOOST_TEST_REQUIRE(started.wait());
  BOOST_TEST(j.cancel());
  j.wait();
  BOOST_TEST(saw_cancel.load());
  BOOST_TEST(reason_ok.load());
  BOOST_TEST(j.state() == state::canceled);
  BOOST_TEST(jobs_test::code_of(j.error()) == jobs::errc::canceled);
}

BOOST_AUTO_TEST_CASE(cancel_before_the_body_began) {
  asio::io_context io;
  int calls = 0;
  bool canceled_at_entry = false;
  jobs::job j(io, "early", [&](jobs::context& ctx) -> asio::awaitable<void> {
    ++calls;
    canceled_at_entry = ctx.is_canceled();
    co_return;
  });
  BOOST_TEST(j.run());
  BOOST_TEST(j.cancel());  // io has not run: the body has not begun
  io.run();
  BOOST_TEST(j.state() == state::canceled);
  BOOST_TEST(jobs_test::code_of(j.error()) == jobs::errc::canceled);
  BOOST_TEST(calls <= 1);
  if (calls == 1) BOOST_TEST(canceled_at_entry);
}

// A run started on the job's strand (from the previous run's completion, inline at its end) and
// cancelled there at once: its launch is deferred, and the emit that cancel() posts to the strand
// may run before it. The emit is then made by the launch, once the body has suspended: the body's
// first await is cancelled and the run ends canceled (else it would wait forever).
BOOST_AUTO_TEST_CASE(a_run_started_and_cancelled_on_the_strand_is_cancelled_at_its_first_await) {
  asio::io_context io;
  int bodies = 0;
  bool aborted = false;
  jobs::job j(io, "restarted", [&](jobs::context& ctx) -> asio::awaitable<void> {
    if (++bodies == 1) co_return;
    const auto ec = co_await jobs_test::forever_ec(ctx.get_executor());
    aborted = ec == asio::error::operation_aborted;
  });
  std::exception_ptr second_error;
  bool second_done = false, cancel_ok = false;
  j.async_run([&](std::exception_ptr e) {
    BOOST_TEST(!e);
    j.async_run([&](std::exception_ptr e2) {
      second_error = e2;
      second_done = true;
    });
    cancel_ok = j.cancel();
  });
  io.run_for(10s);  // (returns at once when every run has ended)
  BOOST_TEST(cancel_ok);
  BOOST_TEST_REQUIRE(second_done);
  BOOST_TEST(bodies == 2);
  BOOST_TEST(aborted);
  BOOST_TEST(jobs_test::code_of(second_error) == jobs::errc::canceled);
  BOOST_TEST(j.state() == state::canceled);
}

BOOST_AUTO_TEST_CASE(cancellation_belongs_to_one_run) {
  asio::io_context io;
  std::vector<bool> canceled_at_entry;
  std::vector<boost::system::error_code> reason_at_end;
  jobs::job j(io, "runs", [&](jobs::context& ctx) -> asio::awaitable<void> {
    canceled_at_entry.push_back(ctx.is_canceled());
    if (ctx.params<bool>()) co_await jobs_test::forever_ec(ctx.get_executor());
    reason_at_end.push_back(ctx.cancel_reason());
  });
  BOOST_TEST(j.run(true));
  io.poll();
  BOOST_TEST(j.cancel());
  io.run();
  BOOST_TEST(j.state() == state::canceled);
  BOOST_TEST(j.run(false));
  io.restart();
  io.run();
  BOOST_TEST(j.state() == state::succeeded);
  BOOST_TEST(!j.error());
  BOOST_TEST_REQUIRE(canceled_at_entry.size() == 2u);
  BOOST_TEST(!canceled_at_entry[1]);
  BOOST_TEST_REQUIRE(reason_at_end.size() == 2u);
  BOOST_TEST(reason_at_end[0] == jobs::errc::canceled);
  BOOST_TEST(!reason_at_end[1]);
}

// ---- per-operation cancellation of async_run ----

BOOST_AUTO_TEST_CASE(terminal_and_partial_cancellation_of_async_run_cancel_the_job) {
  for (auto type : {asio::cancellation_type::terminal, asio::cancellation_type::partial}) {
    BOOST_TEST_CONTEXT("type " << int(type)) {
      asio::io_context io;
      asio::cancellation_signal sig;
      boost::system::error_code seen;
      jobs::job j(io, "op", [&](jobs::context& ctx) -> asio::awaitable<void> {
        seen = co_await jobs_test::forever_ec(ctx.get_executor());
      });
      bool called = false;
      std::exception_ptr got;
      j.async_run(std::any{}, asio::bind_cancellation_slot(sig.slot(), [&](std::exception_ptr e) {
                    called = true;
                    got = e;
                  }));
      BOOST_TEST(j.is_state(state::running));
      io.poll();
      sig.emit(type);
      BOOST_TEST(j.is_state(state::canceling));
      BOOST_TEST_REQUIRE(jobs_test::poll_until(io, [&] { return called; }));
      BOOST_TEST(seen == asio::error::operation_aborted);
      BOOST_TEST(j.state() == state::canceled);
      BOOST_TEST(jobs_test::code_of(got) == jobs::errc::canceled);
      BOOST_TEST((got == j.error()));
    }
  }
}

BOOST_AUTO_TEST_CASE(total_cancellation_of_async_run_is_ignored) {
  asio::io_context io;
  jobs_test::gate g(io.get_executor());
  asio::cancellation_signal sig;
  bool canceled_in_body = true;
  jobs::job j(io, "total", [&](jobs::context& ctx) -> asio::awaitable<void> {
    co_await g.wait();
    canceled_in_body = ctx.is_canceled();
  });
  bool called = false;
  std::exception_ptr got;
  j.async_run(std::any{}, asio::bind_cancellation_slot(sig.slot(), [&](std::exception_ptr e) {
                called = true;
                got = e;
              }));
  BOOST_TEST_REQUIRE(jobs_test::poll_until(io, [&] { return g.waiting() == 1; }));
  sig.emit(asio::cancellation_type::total);
  io.poll();
  BOOST_TEST(j.is_state(state::running));
  BOOST_TEST(!called);
  g.open();
  BOOST_TEST_REQUIRE(jobs_test::poll_until(io, [&] { return called; }));
  BOOST_TEST(!canceled_in_body);
  BOOST_TEST(j.state() == state::succeeded);
  BOOST_TEST(!got);
}

BOOST_AUTO_TEST_CASE(a_parallel_group_cancels_the_losing_run) {
  asio::io_context io;
  jobs::job j(io, "group", [&](jobs::context& ctx) -> asio::awaitable<void> {
    co_await jobs_test::forever(ctx.get_executor());
  });
  bool done = false;
  std::size_t first = 99;
  std::exception_ptr run_error;
  asio::experimental::make_parallel_group(j.async_run(asio::deferred), asio::post(io, asio::deferred))
      .async_wait(asio::experimental::wait_for_one(),
                  [&](std::array<std::size_t, 2> order, std::exception_ptr e) {
                    first = order[0];
                    run_error = e;
                    done = true;
                  });
  BOOST_TEST_REQUIRE(jobs_test::poll_until(io, [&] { return done; }));
  BOOST_TEST(first == 1u);  // the post won
  BOOST_TEST(j.state() == state::canceled);
  BOOST_TEST(jobs_test::code_of(run_error) == jobs::errc::canceled);
  BOOST_TEST(jobs_test::code_of(j.error()) == jobs::errc::canceled);
}

BOOST_AUTO_TEST_CASE(a_stale_slot_never_cancels_a_later_run) {
  asio::io_context io;
  jobs_test::gate g(io.get_executor());
  asio::cancellation_signal sig;
  jobs::job j(io, "stale", [&](jobs::context& ctx) -> asio::awaitable<void> {
    if (ctx.params().has_value()) co_await g.wait();
  });
  bool first_done = false;
  j.async_run(std::any{},
              asio::bind_cancellation_slot(sig.slot(), [&](std::exception_ptr) { first_done = true; }));
  BOOST_TEST_REQUIRE(jobs_test::poll_until(io, [&] { return first_done; }));
  BOOST_TEST(j.state() == state::succeeded);

  BOOST_TEST(j.run(1));
  BOOST_TEST_REQUIRE(jobs_test::poll_until(io, [&] { return g.waiting() == 1; }));
  sig.emit(asio::cancellation_type::terminal);  // the first run's slot
  io.poll();
  BOOST_TEST(j.state() == state::running);
  g.open();
  BOOST_TEST_REQUIRE(jobs_test::poll_until(io, [&] { return j.is_done(); }));
  BOOST_TEST(j.state() == state::succeeded);
}

BOOST_AUTO_TEST_CASE(cancelling_the_awaiting_coroutine_cancels_the_job) {
  asio::io_context io;
  jobs::job j(io, "co", [&](jobs::context& ctx) -> asio::awaitable<void> {
    co_await jobs_test::forever(ctx.get_executor());
  });
  asio::cancellation_signal sig;
  std::exception_ptr caught;
  bool finished = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        try {
          co_await j.async_run();
        } catch (...) {
          caught = std::current_exception();
        }
        finished = true;
      },
      asio::bind_cancellation_slot(sig.slot(), asio::detached));
  BOOST_TEST_REQUIRE(jobs_test::poll_until(io, [&] { return j.is_executing(); }));
  io.poll();
  sig.emit(asio::cancellation_type::terminal);
  BOOST_TEST_REQUIRE(jobs_test::poll_until(io, [&] { return finished; }));
  BOOST_TEST(j.state() == state::canceled);
  BOOST_TEST(jobs_test::code_of(caught) == jobs::errc::canceled);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(cancellation_itself)

// Only asio::error::operation_aborted is "the cancellation itself". An exception whose code is
// merely equivalent to operation_canceled — here a nested job's errc::canceled — is the body's
// own exception: a canceled run keeps it as error(), not the library's errc::canceled.
BOOST_AUTO_TEST_CASE(a_nested_jobs_canceled_error_is_the_bodys_own_exception) {
  asio::io_context io;
  jobs::job j(io, "nested-canceled", [](jobs::context& ctx) -> asio::awaitable<void> {
    try {
      co_await jobs_test::forever(ctx.get_executor());
    } catch (const boost::system::system_error&) {
    }
    throw boost::system::system_error(jobs::make_error_code(jobs::errc::canceled), "inner job");
  });
  BOOST_TEST(j.run());
  io.poll();
  BOOST_TEST(j.cancel());
  io.run();
  BOOST_TEST(j.is_state(state::canceled));
  std::string what;
  try {
    std::rethrow_exception(j.error());
  } catch (const boost::system::system_error& e) {
    what = e.what();
    BOOST_TEST((e.code() == jobs::errc::canceled));
  }
  BOOST_TEST(what.find("inner job") != std::string::npos, "error() is the body's exception: " << what);
}

// operation_aborted rethrown by the body is the cancellation itself: error() is errc::canceled.
BOOST_AUTO_TEST_CASE(operation_aborted_is_the_cancellation_itself) {
  asio::io_context io;
  jobs::job j(io, "aborted", [](jobs::context& ctx) -> asio::awaitable<void> {
    co_await jobs_test::forever(ctx.get_executor());
  });
  BOOST_TEST(j.run());
  io.poll();
  BOOST_TEST(j.cancel());
  io.run();
  BOOST_TEST(j.is_state(state::canceled));
  try {
    std::rethrow_exception(j.error());
  } catch (const jobs::error& e) {
    BOOST_TEST((e.code() == jobs::errc::canceled));
  } catch (...) {
    BOOST_FAIL("error() is not jobs::error(errc::canceled)");
  }
}

BOOST_AUTO_TEST_SUITE_END()
